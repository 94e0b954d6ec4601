/*
 * The vault: envelope encryption of secrets at rest. Key-encryption keys
 * (KEKs, 32 bytes, several versions, one current) come from the
 * configuration (vault.keys, a secret: file: or APX_VAULT_KEYS) and live
 * in locked, guarded memory; data keys (per owner and purpose one
 * current generation, which seals, and older ones, which only open) are
 * random, stored wrapped by a KEK in vault_data_keys; values are sealed
 * with their data key and associated data naming owner, purpose and
 * record (record.h), so a value copied to another owner's row does not
 * open. Without a key the vault refuses (APX_ENOKEY) unless
 * vault.allow_plaintext is on, for development only.
 */
#ifndef APX_VAULT_VAULT_H
#define APX_VAULT_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/conf.h"

struct apx_db;
struct apx_vault;

#define APX_VAULT_MAX_KEKS	16

/*
 * The vault of CONF (built at the first call for this configuration,
 * then kept): 0 or APX_ECONFIG with ERR (a malformed vault.keys).
 */
int	 apx_vault_get(const struct apx_conf *, struct apx_vault **, char *,
	    size_t);
/* The vault of CONF if it has a key (never plaintext mode): 0, or
 * APX_ENOKEY (the reason of a malformed vault.keys is logged at start). */
int	 apx_vault_keyed(const struct apx_conf *, struct apx_vault **);
/* Forget the cached vault (its keys wiped); at exit and on reload. */
void	 apx_vault_release(void);
/* Parse "V:BASE64 V:BASE64" (for tests): 0 or APX_EINVAL with ERR. */
int	 apx_vault_new(const char *, long long, int, struct apx_vault **,
	    char *, size_t);
void	 apx_vault_free(struct apx_vault *);
/* Current KEK version, 0 without keys. */
uint32_t apx_vault_current(const struct apx_vault *);
int	 apx_vault_plaintext(const struct apx_vault *);

/*
 * Seal LEN bytes for OWNER ("platform", "org:<id>"), PURPOSE and RECORD
 * (the row's id). *OUT is malloc'd. APX_ENOKEY without a key (and no
 * plaintext mode).
 */
int	 apx_vault_seal(struct apx_vault *, struct apx_db *, const char *,
	    const char *, const char *, const void *, size_t, unsigned char **,
	    size_t *);
/*
 * Open what apx_vault_seal made for the same OWNER, PURPOSE and RECORD.
 * *PLAIN is malloc'd, NUL-terminated; the caller wipes and frees it.
 * APX_ECRYPTO when it does not open (another owner's value, a changed
 * byte), APX_ENOKEY when its KEK version is not configured.
 */
int	 apx_vault_open(struct apx_vault *, struct apx_db *, const char *,
	    const char *, const char *, const unsigned char *, size_t,
	    unsigned char **, size_t *);
/*
 * HMAC-SHA256 of MSG under the data key of OWNER and PURPOSE (made at the
 * first use): a blind index, equal for equal inputs, useless without the
 * key. APX_ENOKEY without a key (never in plaintext mode: an unkeyed
 * index would be a plain hash of the value).
 */
#define APX_VAULT_MAC_LEN	32
int	 apx_vault_mac(struct apx_vault *, struct apx_db *, const char *,
	    const char *, const void *, size_t, unsigned char *);
/*
 * Delete every data key of OWNER: what they sealed can never be opened
 * again (crypto-shredding of an erased org).
 */
int	 apx_vault_forget_owner(struct apx_vault *, struct apx_db *,
	    const char *);
/*
 * Re-wrap every data key not under the current KEK, BATCH rows per
 * transaction (rows locked by another run are skipped, so runs may
 * overlap; a stopped run resumes). *DONE counts rows re-wrapped.
 */
int	 apx_vault_rotate(struct apx_vault *, struct apx_db *, int,
	    long long *);
/*
 * Data-key rotation (budget.h says why). Make a new generation of every
 * current sealing data key of OWNER (HMAC keys stay: no nonce, no budget,
 * and a new one would change every blind index): new seals use it at once
 * in this process and within APX_VAULT_RECHECK_US in every other; the old
 * ones still open what they sealed. MADE (a JSON array) gets {purpose,
 * id, generation, replaces} for each key made.
 */
int	 apx_vault_rotate_owner(struct apx_vault *, struct apx_db *,
	    const char *, json_t *);
/* The id of the current data key of OWNER/PURPOSE, without making one:
 * APX_ENOTFOUND when there is none. */
int	 apx_vault_current_id(struct apx_db *, const char *, const char *,
	    uint64_t *);
/* Mark the superseded keys of OWNER/PURPOSE retired (the caller found
 * nothing that refers to them); they are kept and still open. *N: how
 * many. */
int	 apx_vault_retire(struct apx_db *, const char *, const char *,
	    long long *);
/*
 * {versions: [...], current, plaintext, data_keys: {"<kek version>": n},
 *  generations: {current, superseded, retired}, seal_budget: {warn_at,
 *  limit, most_seals, over_warn: [{owner, org, purpose, id, generation,
 *  seals}], warning (only when over_warn is not empty)}}
 */
int	 apx_vault_status(struct apx_vault *, struct apx_db *, json_t **);

#endif
