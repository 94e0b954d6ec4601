/*
 * OpenID Connect relying party, the pure part: discovery documents, JWKS
 * and ID tokens parsed and checked exactly as REFERENCE.md's OIDC list
 * asks (OpenID Connect Core 3.1.3.7, RFC 8725), without any I/O, so that
 * every parser is bounded, unit-tested and fuzzed. liboauth2 checks none
 * of iss, aud or nonce: these checks are ours.
 */
#ifndef APX_AUTH_OIDC_H
#define APX_AUTH_OIDC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define APX_OIDC_DOC_MAX	(64 * 1024)	/* discovery, JWKS, UserInfo */
#define APX_OIDC_KEYS_MAX	32
#define APX_OIDC_URL_MAX	2048
#define APX_OIDC_IAT_WINDOW	600	/* seconds an iat may lie back */
#define APX_OIDC_LEEWAY		60	/* clock skew allowed */

/* ---- discovery */

struct apx_oidc_discovery {
	char	*issuer;
	char	*authorization_endpoint;
	char	*token_endpoint;
	char	*userinfo_endpoint;	/* NULL when the provider has none */
	char	*jwks_uri;
};
/*
 * Parse a discovery document: a JSON object of at most APX_OIDC_DOC_MAX
 * bytes whose endpoints are https URLs (http only on a loopback host), of
 * at most APX_OIDC_URL_MAX bytes; "S256" in code_challenge_methods_supported
 * when that member is present. 0, APX_EINVAL (with *WHY) or APX_ENOMEM.
 */
int	 apx_oidc_discovery_parse(const char *, size_t,
	    struct apx_oidc_discovery *, const char **);
void	 apx_oidc_discovery_clear(struct apx_oidc_discovery *);

/* ---- JWKS */

struct apx_oidc_jwks;
/*
 * Parse {"keys": [...]}: RSA (2048 bits or more) and EC P-256 signing keys
 * with a kid; a key of another kty, curve, or use "enc" is skipped (*SKIPPED
 * counts them), a malformed RSA or EC key refuses the whole set. At most
 * APX_OIDC_KEYS_MAX keys. 0, APX_EINVAL or APX_ENOMEM.
 */
int	 apx_oidc_jwks_parse(const char *, size_t, struct apx_oidc_jwks **,
	    size_t *);
void	 apx_oidc_jwks_free(struct apx_oidc_jwks *);
size_t	 apx_oidc_jwks_count(const struct apx_oidc_jwks *);

/* ---- ID tokens */

enum apx_oidc_reason {
	APX_OIDC_OK = 0,
	APX_OIDC_MALFORMED,	/* not a compact JWS of JSON objects */
	APX_OIDC_ALG,		/* alg not allowed (none, HS*, unknown) */
	APX_OIDC_KID,		/* no key of that kid and type: refetch */
	APX_OIDC_SIGNATURE,	/* does not verify */
	APX_OIDC_ISS,
	APX_OIDC_AUD,
	APX_OIDC_AZP,
	APX_OIDC_EXP,
	APX_OIDC_IAT,
	APX_OIDC_NONCE,
	APX_OIDC_SUB,
	APX_OIDC_TID,		/* Microsoft: tid missing or not the issuer's */
};

struct apx_oidc_expect {
	/*
	 * The issuer: exact. With TEMPLATE set it holds "{tenantid}"
	 * (Microsoft's multi-tenant issuer): the token's tid is put in its
	 * place and the result must equal iss. ALT_ISSUER (may be NULL) is
	 * a second accepted spelling (Google: "accounts.google.com").
	 */
	const char		 *issuer;
	int			  template;
	const char		 *alt_issuer;
	const char		 *client_id;
	const char		 *nonce;
	const char *const	 *algs;		/* allow-list, e.g. RS256 ES256 */
	size_t			  nalgs;
	int64_t			  now;
};

/*
 * Verify ID token TOK (LEN bytes) with a key of JWKS: the header's alg in
 * the allow-list (before any key is touched), a kid naming a key of the
 * matching type, the signature, then iss, aud (holds client_id), azp
 * (= client_id when present or when there are several audiences), exp
 * (required, future, leeway), iat (required, not in the future beyond
 * the leeway, not older than APX_OIDC_IAT_WINDOW), nonce (exact), sub
 * (required, 1..255 bytes). 0 with *CLAIMS (a new reference); APX_EUNAUTH
 * with *WHY; APX_EINVAL for a bad call; APX_ENOMEM. *KID (may be NULL)
 * gets the header's kid (malloc'd) whatever the outcome, for a refetch.
 */
int	 apx_oidc_id_token_verify(const struct apx_oidc_jwks *, const char *,
	    size_t, const struct apx_oidc_expect *, json_t **,
	    enum apx_oidc_reason *, char **);
const char *apx_oidc_reason_str(enum apx_oidc_reason);

#endif
