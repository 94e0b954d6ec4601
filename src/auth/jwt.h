/*
 * Access tokens: compact JWS, ES256 (P-256 + SHA-256) only, after RFC 8725.
 * Keys are identified by their RFC 7638 JWK thumbprint; a keyring holds the
 * verification keys by kid and the one current signing key.
 *
 * Verification order: size cap, three strict base64url parts, header JSON,
 * alg == "ES256" (before any key is touched), no "crit", typ, kid, the
 * signature, and only then the payload and its claims. Header members that
 * carry keys or key locations (jku, jwk, x5u, x5c) are never read.
 */
#ifndef APX_AUTH_JWT_H
#define APX_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define APX_JWT_MAX_LEN	8192	/* bytes of a compact token, both ways */
#define APX_JWT_KID_LEN	43	/* base64url of a SHA-256 thumbprint */

struct apx_secret;
struct apx_jwt_key;		/* P-256 key, private part optional, kid */
struct apx_jwt_keyring;		/* verification keys + current signing key */

/* A new P-256 private key. */
int	 apx_jwt_key_generate(struct apx_jwt_key **);
/*
 * A key from PEM: PKCS#8 "PRIVATE KEY" or SPKI "PUBLIC KEY", P-256 only.
 * Any other label (SEC1 "EC PRIVATE KEY", encrypted PKCS#8), key type or
 * curve, or a key that fails OpenSSL's consistency check: APX_EINVAL.
 */
int	 apx_jwt_key_from_pem(const char *, size_t, struct apx_jwt_key **);
/* PKCS#8 PEM of the private key in a secret; APX_EINVAL if public only. */
int	 apx_jwt_key_private_pem(const struct apx_jwt_key *,
	    struct apx_secret **);
/* SPKI PEM of the public key, NUL-terminated, malloc'd. */
int	 apx_jwt_key_public_pem(const struct apx_jwt_key *, char **);
/* RFC 7638 thumbprint (SHA-256, base64url, 43 characters). */
const char *apx_jwt_key_kid(const struct apx_jwt_key *);
/* Public JWK {kty, crv, x, y, kid, use: "sig", alg: "ES256"}. */
int	 apx_jwt_key_jwk(const struct apx_jwt_key *, json_t **);
/* Frees the key; NULL is fine. */
void	 apx_jwt_key_free(struct apx_jwt_key *);

struct apx_jwt_keyring *apx_jwt_keyring_new(void);
/* Frees the ring and every key it holds; NULL is fine. */
void	 apx_jwt_keyring_free(struct apx_jwt_keyring *);
/*
 * Add KEY; the ring owns it on success only. CURRENT makes it the signing
 * key (it must hold a private part: APX_EINVAL otherwise; a later current
 * key replaces an earlier one as signer, both still verify). A kid already
 * in the ring: APX_ECONFLICT.
 */
int	 apx_jwt_keyring_add(struct apx_jwt_keyring *, struct apx_jwt_key *,
	    int);
/* The signing key, or NULL. */
const struct apx_jwt_key *apx_jwt_keyring_current(
	    const struct apx_jwt_keyring *);
/* {"keys": [public JWK, ...]}. */
int	 apx_jwt_jwks(const struct apx_jwt_keyring *, json_t **);

/*
 * Sign CLAIMS (an object; not consumed) with header {"alg":"ES256",
 * "typ":TYP,"kid":kid}. *OUT: malloc'd compact JWS. APX_EINVAL for a
 * public-only key, APX_ETOOBIG if the token would exceed APX_JWT_MAX_LEN.
 */
int	 apx_jwt_sign(const struct apx_jwt_key *, const char *, json_t *,
	    char **);

struct apx_jwt_expect {
	const char	*typ;		/* required exact header typ */
	const char	*iss;		/* required exact iss */
	const char	*aud;		/* aud equals it or (array) holds it */
	int64_t		 now;		/* unix seconds */
	int64_t		 leeway;	/* clock skew for exp/nbf/iat, >= 0 */
	int64_t		 max_lifetime;	/* exp - iat <= this; 0: no check */
};

enum apx_jwt_reason {
	APX_JWT_OK,
	APX_JWT_MALFORMED,	/* size, parts, base64url, JSON, crit */
	APX_JWT_ALG,		/* alg is not exactly "ES256" */
	APX_JWT_TYP,		/* typ missing or not the expected one */
	APX_JWT_KID,		/* kid missing, not a string, not in the ring */
	APX_JWT_SIGNATURE,	/* not 64 bytes, or does not verify */
	APX_JWT_EXPIRED,	/* exp missing, not an integer, or past */
	APX_JWT_NOT_YET_VALID,	/* nbf not an integer, or in the future */
	APX_JWT_IAT,		/* iat missing, not an integer, or future */
	APX_JWT_ISS,		/* iss missing or different */
	APX_JWT_AUD,		/* aud missing or without ours */
	APX_JWT_CLAIMS,		/* sub missing/empty, lifetime over max */
};

/*
 * Verify TOKEN (LEN bytes, need not be NUL-terminated). 0 with *CLAIMS (a
 * new reference, if CLAIMS is not NULL); APX_EINVAL for a malformed token
 * or a bad call; APX_EUNAUTH when a check refuses it; APX_ENOMEM.
 * *CLAIMS is NULL on failure; *WHY (if WHY is not NULL) is always set.
 */
int	 apx_jwt_verify(const struct apx_jwt_keyring *, const char *, size_t,
	    const struct apx_jwt_expect *, json_t **, enum apx_jwt_reason *);
const char *apx_jwt_reason_str(enum apx_jwt_reason);

/*
 * Structural parse only, NO verification (fuzzing, diagnostics): the same
 * size, part and base64url rules; header and payload JSON objects. 0 or
 * APX_EINVAL (or APX_ENOMEM); outputs may be NULL, and are NULL on failure.
 */
int	 apx_jwt_decode(const char *, size_t, json_t **, json_t **);
/*
 * As apx_jwt_decode (HDR and CLAIMS required), plus the raw signature
 * (*SIG malloc'd, *SIGLEN bytes) and the length of the signing input
 * ("header.payload", the first *INPUTLEN bytes of the token). For
 * verifying tokens of other issuers (auth/oidc.c); no check is made here.
 */
int	 apx_jwt_parts(const char *, size_t, json_t **, json_t **,
	    unsigned char **, size_t *, size_t *);
/* Strict base64url (no padding, canonical) of N bytes into OUT (at most
 * OUTMAX bytes): 0, APX_EINVAL or APX_ETOOBIG. */
int	 apx_jwt_b64url_decode(const char *, size_t, unsigned char *, size_t,
	    size_t *);

#endif
