/*
 * Access-token signing keys. Public halves live in jwt_keys (every server
 * sees every key); private halves are PEM files "<kid>.pem" (mode 0600) in
 * jwt.key_dir until the vault holds them. Workers cache the keyring and
 * re-read it every minute, or sooner when a token names an unknown kid.
 */
#ifndef APX_AUTH_KEYS_H
#define APX_AUTH_KEYS_H

#include <stdint.h>

#include "auth/jwt.h"
#include "core/conf.h"

struct apx_db;

/* The cached keyring (borrowed until the next call). FORCE: re-read now. */
int	 apx_keys_get(struct apx_db *, const struct apx_conf *, int,
	    const struct apx_jwt_keyring **);
/* Counts keyring loads: what was verified with another one is stale. */
uint64_t apx_keys_generation(void);
/*
 * accupredix-admin jwt rotate: a new key, its private PEM written to the
 * key directory (owned like the directory, 0600), its public half stored;
 * keys older than the previous one are retired. *KID gets the new kid.
 */
int	 apx_keys_rotate(struct apx_db *, const struct apx_conf *, char *,
	    size_t, char *, size_t);
/* Public keys as JWKS (keys not retired more than a day ago). */
int	 apx_keys_jwks(struct apx_db *, const struct apx_conf *, json_t **);

#endif
