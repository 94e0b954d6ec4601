/*
 * The OAuth state store, one module for connector connections and for
 * sign-in: a state is 256 random bits (base64url), stored only as its
 * SHA-256, bound to the browser (the hash of a __Host- cookie it carries),
 * to an org, a user and a purpose, may carry data (a PKCE verifier, a
 * nonce: sealed in the vault), is consumed by one atomic DELETE (single
 * use) and expires after minutes; expired states are purged as new ones
 * are made.
 */
#ifndef APX_AUTH_OAUTH_STATE_H
#define APX_AUTH_OAUTH_STATE_H

#include <stddef.h>
#include <stdint.h>

struct apx_ctx;
struct apx_db;
struct apx_vault;

#define APX_OAUTH_COOKIE	"__Host-apx_oauth"
#define APX_OAUTH_STATE_LEN	43	/* base64url of 32 bytes */
#define APX_OAUTH_TTL_DEFAULT	600
#define APX_OAUTH_TTL_MAX	900
#define APX_OAUTH_PURPOSE_MAX	95

/*
 * The browser binding of this request: the cookie's value when it
 * carries a well-formed one, else a new random value, set as a cookie on
 * the answer (HttpOnly, Secure, SameSite=Lax: it must travel on the
 * provider's top-level redirect back). *VALUE borrows the request arena.
 * WITH_NEW 0: do not make one (a callback): APX_EUNAUTH when absent.
 */
int	 apx_oauth_browser(struct apx_ctx *, int, const char **);
/*
 * The same with cookie COOKIE and SAME_SITE (APX_SAMESITE_*): SAML's
 * answer comes back as a cross-site POST, which a Lax cookie does not
 * ride (APX_SAML_COOKIE, SameSite=None, still HttpOnly and Secure).
 */
#define APX_SAML_COOKIE		"__Host-apx_saml"
int	 apx_oauth_browser_as(struct apx_ctx *, const char *, int, int,
	    const char **);

/*
 * A new state for browser BROWSER, PURPOSE, ORG and USER (0: none),
 * carrying DATA (NUL-terminated or NULL), living TTL seconds. OUT gets
 * the state (APX_OAUTH_STATE_LEN + 1 bytes).
 */
int	 apx_oauth_state_create(struct apx_db *, struct apx_vault *,
	    const char *, const char *, int64_t, int64_t, const char *, int,
	    char *);

struct apx_oauth_state {
	int64_t		 org;
	int64_t		 user;
	char		*data;		/* malloc'd, NULL when none */
};
/*
 * Consume STATE for BROWSER and PURPOSE: 0 with *OUT, or APX_EUNAUTH
 * (unknown, used, expired, another browser or purpose: the reason is
 * logged, never answered) and the state is left as it was.
 */
int	 apx_oauth_state_consume(struct apx_db *, struct apx_vault *,
	    const char *, const char *, const char *, struct apx_oauth_state *);
void	 apx_oauth_state_clear(struct apx_oauth_state *);

/* base64url without padding of 32 random bytes, for a PKCE verifier;
 * OUT has 44 bytes. CHALLENGE (44 bytes): its S256 code challenge. */
void	 apx_oauth_pkce(char *, char *);

#endif
