/*
 * API keys as text: "apx_<prefix>_<secret>", both parts in the lower-case
 * RFC 4648 base32 alphabet (a-z 2-7). The prefix (12 characters, 60 random
 * bits) names the key and may be shown and logged; the secret (52
 * characters, 32 random bytes without padding) is never stored: only the
 * SHA-256 of the whole key text is. The full key is a secret: never log it.
 */
#ifndef APX_AUTH_APIKEY_H
#define APX_AUTH_APIKEY_H

#include <stddef.h>

#define APX_APIKEY_PREFIX_LEN	12
#define APX_APIKEY_SECRET_LEN	52
#define APX_APIKEY_LEN		69	/* "apx_" + prefix + "_" + secret */
#define APX_APIKEY_HASH_LEN	32

/*
 * 1 when S (LEN bytes) starts with "apx_", so that the caller treats the
 * bearer token as an API key and not as a JWT.
 */
int	 apx_apikey_looks_like(const char *, size_t);
/*
 * Strict parse of exactly the format above: LEN bytes, not necessarily
 * NUL-terminated. Anything else (upper case, padding, a NUL, trailing
 * bytes, a secret that is not the canonical encoding of 32 bytes, i.e.
 * whose last character is not 'a' or 'q') is APX_EINVAL. PREFIX, if not
 * NULL, gets the NUL-terminated prefix.
 */
int	 apx_apikey_parse(const char *, size_t,
	    char prefix[APX_APIKEY_PREFIX_LEN + 1]);
/*
 * A new key: KEY (NUL-terminated), its PREFIX (may be NULL) and HASH, the
 * SHA-256 of the whole key text. If PREFIX_IN is not NULL (rotation) that
 * prefix is kept (it must be valid: APX_EINVAL otherwise) and only the
 * secret is new.
 */
int	 apx_apikey_generate(const char *prefix_in, char key[APX_APIKEY_LEN + 1],
	    char prefix[APX_APIKEY_PREFIX_LEN + 1],
	    unsigned char hash[APX_APIKEY_HASH_LEN]);
/* SHA-256 of the key text (LEN bytes). */
void	 apx_apikey_hash(const char *, size_t,
	    unsigned char hash[APX_APIKEY_HASH_LEN]);
/* Constant-time comparison of two hashes: 1 when equal. */
int	 apx_apikey_hash_equal(const unsigned char *, const unsigned char *);

#endif
