/*
 * Signing in through an OpenID provider: Google, Microsoft, or an Agency
 * org's own IdP. One flow behind three entry points: the state store
 * carries the PKCE verifier, the nonce and where to go back; the callback
 * checks everything oidc_rp.c checks, then the account rules (identities
 * keyed by issuer and subject, never by email; a first sign-in makes an
 * account only for a verified email; linking needs a signed-in session;
 * an org IdP signs in only its verified domains; SSO enforcement), and
 * issues a session exactly as a password login does.
 */
#ifndef APX_AUTH_SIGNIN_H
#define APX_AUTH_SIGNIN_H

#include <stdint.h>

#include <jansson.h>

#include "auth/oidc_rp.h"

struct apx_ctx;
struct apx_user;

#define APX_SIGNIN_RETURN_MAX	512

struct apx_signin {
	const char		*provider;	/* google, microsoft, oidc */
	struct apx_oidc_rp	 rp;
	const char		*redirect_uri;
	char			 purpose[48];
	/* an org's IdP */
	int64_t			 org;
	const char		*slug;
	int			 jit;
	const char		*default_role;
	json_t			*cfg;		/* owns the strings above */
	char			*secret;	/* opened client secret */
	const char		*algs[3];
	/* an org's SAML IdP (protocol "saml") */
	int			 saml;
	const char		*idp_entity_id;
	const char		*idp_sso_url;
	const char		*certs[2];
	size_t			 ncerts;
	const char		*attr_email;
	const char		*attr_name;
	const char		*sp_entity_id;
	const char		*acs_url;
};

/*
 * The sign-in of provider NAME ("google", "microsoft"): 0, or 404
 * provider-not-configured / 503 set in the answer and APX_EINVAL.
 */
int	 apx_signin_provider(struct apx_ctx *, const char *,
	    struct apx_signin *);
/* The sign-in of org SLUG's IdP (404 sso-not-configured otherwise). */
int	 apx_signin_org(struct apx_ctx *, const char *, struct apx_signin *);
void	 apx_signin_clear(struct apx_signin *);

/*
 * A new state (bound to this browser) and the provider's URL in *URL.
 * LINK_USER: the signed-in user who links this provider (0: a sign-in).
 * RETURN_TO: one of our own paths (apx_signin_return_ok) or NULL.
 * 0, or the problem is set and APX_EINVAL returned.
 */
int	 apx_signin_begin(struct apx_ctx *, struct apx_signin *, int64_t,
	    const char *, const char *, const char **);
/* The provider's redirect back: always answered with a 303. */
int	 apx_signin_callback(struct apx_ctx *, struct apx_signin *);

/*
 * SAML (S from apx_signin_org with s->saml set): an AuthnRequest for the
 * HTTP-Redirect binding (its ID in the state store, bound to this browser
 * by the SameSite=None cookie APX_SAML_COOKIE; the state is the
 * RelayState) in *URL; the ACS (HTTP-POST binding, always a 303); the SP
 * metadata document. LINK_USER: the signed-in user who links the org's
 * SAML IdP (0: a sign-in).
 */
int	 apx_signin_saml_begin(struct apx_ctx *, struct apx_signin *,
	    int64_t, const char *, const char **);
int	 apx_signin_saml_acs(struct apx_ctx *, struct apx_signin *);
int	 apx_signin_saml_metadata(struct apx_ctx *, struct apx_signin *);

/* A path of ours to go back to: "/" then [A-Za-z0-9/._~?=&%-], not "//". */
int	 apx_signin_return_ok(const char *);

/*
 * May USER sign in with a password? SSO enforcement: a user of a verified
 * domain of an org that enforces its SSO must use it; an owner of that
 * org keeps a break-glass password login, audited in the org's log.
 * 0 allowed; otherwise the 403 sso-required problem is set and
 * APX_EUNAUTH returned.
 */
int	 apx_signin_password_allowed(struct apx_ctx *,
	    const struct apx_user *);

#endif
