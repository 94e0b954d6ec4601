/*
 * Single sign-on rows of the control-plane database (migration 0014): an
 * org's IdP configuration, and the identities (issuer, subject) that sign
 * a user in besides a password. See docs/api.md.
 */
#ifndef APX_STORE_SSO_H
#define APX_STORE_SSO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct apx_db;
struct apx_audit_entry;

/* The vault coordinates of an org's client secret (owner "org:<id>"). */
#define APX_SSO_PURPOSE		"sso"
#define APX_SSO_RECORD		"oidc-client-secret"

/* ---- org SSO configuration */

/*
 * The public shape of ORG's configuration: {protocol, enabled, issuer,
 * discovery_url, client_id, client_secret: "set"|"unset", scopes,
 * algorithms, jit, default_role, enforce, updated_at}; *OUT NULL when
 * the org has none.
 */
int	 apx_sso_get(struct apx_db *, int64_t, json_t **);

/*
 * What a sign-in needs of the org called SLUG: the public shape plus
 * org_id, slug, name, plan, status and secret_hex (the sealed client
 * secret as bytea hex, or null). *OUT NULL when the org has no SSO.
 */
int	 apx_sso_load(struct apx_db *, const char *, json_t **);

struct apx_sso_put {
	const char	*issuer;
	const char	*discovery_url;
	const char	*client_id;
	const unsigned char *secret;	/* sealed; NULL: keep the stored one */
	size_t		 secret_len;
	const char	*scopes;	/* a SQL array literal {a,b} */
	const char	*algorithms;	/* a SQL array literal */
	int		 enabled;
	int		 jit;
	const char	*default_role;
	int		 enforce;
	int64_t		 user;		/* who changed it */
};
/*
 * Create or replace ORG's OIDC configuration, audited as E with the
 * public shape (never the secret). APX_EINVAL when no client secret is
 * given and none is stored.
 */
int	 apx_sso_put(struct apx_db *, int64_t, const struct apx_sso_put *,
	    struct apx_audit_entry *, json_t **);
struct apx_sso_saml_put {
	const char	*idp_entity_id;
	const char	*idp_sso_url;
	const char	*certs;		/* a SQL array literal of PEM */
	const char	*attr_email;
	const char	*attr_name;
	int		 enabled;
	int		 jit;
	const char	*default_role;
	int		 enforce;
	int64_t		 user;
};
/* Create or replace ORG's SAML configuration (an OIDC one goes, its
 * client secret with it), audited as E with the public shape. */
int	 apx_sso_put_saml(struct apx_db *, int64_t,
	    const struct apx_sso_saml_put *, struct apx_audit_entry *,
	    json_t **);
/*
 * Assertion ID of ORG consumed now (kept until EXPIRES, a Unix time, plus
 * a margin; expired ones purged): 0, or APX_ECONFLICT when it was seen.
 */
int	 apx_saml_assertion_once(struct apx_db *, int64_t, const char *,
	    int64_t);
/* Remove it, audited; APX_ENOTFOUND. */
int	 apx_sso_delete(struct apx_db *, int64_t, struct apx_audit_entry *);

/*
 * The org whose verified domain DOMAIN is and whose SSO is enabled:
 * {org_id, slug, name, protocol, enforce}; *OUT NULL when none.
 */
int	 apx_sso_for_domain(struct apx_db *, const char *, json_t **);
/* Is DOMAIN a verified domain of ORG? 1, 0, or an error. */
int	 apx_sso_domain_of(struct apx_db *, int64_t, const char *);

/* ---- identities */

/*
 * The user and identity id of (ISSUER, SUBJECT) made by ORG's IdP (0:
 * Google or Microsoft, global): an org's IdP never reaches another org's
 * identities. APX_ENOTFOUND.
 */
int	 apx_identity_find(struct apx_db *, int64_t, const char *,
	    const char *, int64_t *, int64_t *);
/*
 * Link (ISSUER, SUBJECT) of PROVIDER ("google", "microsoft", or "oidc" /
 * "saml" with ORG) to USER, audited as E. APX_ECONFLICT when it is
 * another user's.
 */
int	 apx_identity_link(struct apx_db *, int64_t, const char *, int64_t,
	    const char *, const char *, struct apx_audit_entry *, int64_t *);
/* Its last use, now. */
int	 apx_identity_touch(struct apx_db *, int64_t);
/* {identities: [{id, provider, org, issuer, created_at, last_used_at}],
 * password: bool} */
int	 apx_identity_list(struct apx_db *, int64_t, json_t **);
/*
 * Unlink identity ID of USER, audited: APX_ENOTFOUND, or APX_ECONFLICT
 * when it is the user's last way to sign in (no password, no other
 * identity); checked under the user's row lock.
 */
int	 apx_identity_unlink(struct apx_db *, int64_t, int64_t,
	    struct apx_audit_entry *);

/*
 * A new account for a verified EMAIL (normalised EN) without a password,
 * and its first identity, in one transaction audited as E.
 * APX_ECONFLICT when the email or the identity exists.
 */
int	 apx_identity_create_user(struct apx_db *, const char *, const char *,
	    const char *, const char *, int64_t, const char *, const char *,
	    struct apx_audit_entry *, int64_t *);

/*
 * Join ORG as ROLE when not a member yet (just-in-time provisioning),
 * audited as E only when it happened: *JOINED 1. The org's current role of
 * the user is in *ROLE (a name, static) either way.
 */
int	 apx_sso_jit_join(struct apx_db *, int64_t, int64_t, const char *, int,
	    struct apx_audit_entry *, int *, const char **);

/* Is USER an owner of ORG? 1, 0, or an error. */
int	 apx_sso_is_owner(struct apx_db *, int64_t, int64_t);

#endif
