/*
 * Internals shared by jwt.c (tokens) and jwt_key.c (keys, keyring): not
 * for use outside src/auth/jwt*.c.
 */
#ifndef APX_AUTH_JWT_INT_H
#define APX_AUTH_JWT_INT_H

#include <openssl/evp.h>

#include "auth/jwt.h"

#define COORD_LEN	32	/* bytes of a P-256 coordinate */
#define SIG_LEN		64	/* JWS ES256 signature: r || s */
#define DER_SIG_MAX	80	/* DER ECDSA-Sig-Value for P-256: <= 72 */
#define B64_COORD_LEN	43	/* base64url of 32 bytes */

struct apx_jwt_key {
	EVP_PKEY	*pkey;
	int		 has_priv;
	char		 kid[APX_JWT_KID_LEN + 1];
	char		 x[B64_COORD_LEN + 1];
	char		 y[B64_COORD_LEN + 1];
};

struct apx_jwt_keyring {
	struct apx_jwt_key	 **keys;
	size_t			   n;
	size_t			   cap;
	const struct apx_jwt_key *current;
};

/* base64url without padding; OUT holds apx_jwt_b64url_len(N) + 1 bytes. */
size_t	 apx_jwt_b64url_encode(const unsigned char *, size_t, char *);
const struct apx_jwt_key *apx_jwt_ring_find(const struct apx_jwt_keyring *,
	    const char *);

#endif
