/*
 * OpenID Connect relying party, the part that talks to providers: the
 * discovery document and JWKS of each provider cached per worker (TTL
 * oidc.cache_ttl, a JWKS refetched once on an unknown kid at most every
 * oidc.kid_refetch_interval), the authorization URL, the code exchange
 * (client_secret_basic), the ID token checks of oidc.h, and UserInfo (its
 * sub must be the ID token's). No token is ever logged or put in a URL.
 */
#ifndef APX_AUTH_OIDC_RP_H
#define APX_AUTH_OIDC_RP_H

#include <stddef.h>
#include <stdint.h>

struct apx_arena;
struct apx_conf;

enum apx_oidc_kind {
	APX_OIDC_KIND_GOOGLE = 1,
	APX_OIDC_KIND_MICROSOFT,
	APX_OIDC_KIND_ORG,	/* an organisation's own IdP */
};

struct apx_oidc_rp {
	int			 kind;		/* enum apx_oidc_kind */
	const char		*key;		/* cache key: "google", "org:7" */
	const char		*discovery_url;
	const char		*issuer;	/* the configured one */
	const char		*client_id;
	const char		*client_secret;
	const char		*scope;		/* "openid email profile" */
	const char *const	*algs;		/* allow-list */
	size_t			 nalgs;
	int			 loopback_ok;	/* http/loopback endpoints */
	const char		*tenants;	/* Microsoft tids allowed, or NULL */
	int64_t			 ttl;		/* cache, seconds */
	int64_t			 refetch_interval;
};

/* Who the provider says signed in (every string malloc'd). */
struct apx_oidc_identity {
	char	*issuer;	/* the token's iss (Microsoft: the tenant's) */
	char	*subject;	/* sub; Microsoft: oid */
	char	*tid;		/* Microsoft only */
	char	*email;		/* NULL when the provider gave none */
	int	 email_verified;
	char	*name;
	char	*hd;		/* Google Workspace domain */
};

/*
 * The provider's authorization URL for STATE, NONCE and the S256
 * CHALLENGE (LOGIN_HINT may be NULL), in arena A. 0; APX_EIO with *WHY (a
 * reason code) when the discovery document cannot be had or is refused.
 */
int	 apx_oidc_rp_authorize_url(const struct apx_oidc_rp *, struct apx_arena *,
	    const char *, const char *, const char *, const char *,
	    const char *, const char **, const char **);

/*
 * Exchange CODE (sent with REDIRECT_URI and VERIFIER), verify the ID token
 * against NONCE, and read UserInfo. 0 with *ID filled; APX_EUNAUTH or
 * APX_EIO with *REASON, a short code for logs and audit ("iss",
 * "token-endpoint", "userinfo-sub", ...), never a token.
 */
int	 apx_oidc_rp_finish(const struct apx_oidc_rp *, const char *,
	    const char *, const char *, const char *,
	    struct apx_oidc_identity *, const char **);
void	 apx_oidc_identity_clear(struct apx_oidc_identity *);

/*
 * Fetch (or take from the cache) RP's discovery document and check it:
 * for a configuration being saved. 0, or APX_EIO / APX_EUNAUTH with *WHY.
 */
int	 apx_oidc_rp_probe(const struct apx_oidc_rp *, const char **);

/* Forget every cached document (worker exit, tests). */
void	 apx_oidc_rp_cache_clear(void);

#endif
