/* Signing in through an OpenID provider (signin.h). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <zlib.h>

#include "auth/account.h"
#include "auth/mfa.h"
#include "auth/oauth_state.h"
#include "auth/saml.h"
#include "auth/session.h"
#include "auth/signin.h"
#include "store/orgs.h"
#include "core/apx.h"
#include "core/log.h"
#include "core/url.h"
#include "http/ctx.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/identity.h"
#include "store/sso.h"
#include "vault/vault.h"

#define SCOPE_DEFAULT	"openid email profile"
#define NONCE_BYTES	24

static const char *const google_algs[] = { "RS256" };
static const char *const microsoft_algs[] = { "RS256" };

/* What one sign-in is failing with: a code for the page, a reason for
 * the log and the audit entry. */
struct failure {
	const char	*code;		/* /login?error=CODE */
	const char	*reason;
};

static int	 fail(struct apx_ctx *, struct apx_signin *, int64_t, int,
		    const struct failure *, int);
static void	 audit_entry(struct apx_ctx *, struct apx_audit_entry *,
		    int64_t, int64_t, const char *, const char *);
static int	 account(struct apx_ctx *, struct apx_signin *,
		    const struct apx_oidc_identity *, int64_t, int64_t *,
		    struct failure *);
static int	 enforced(struct apx_ctx *, const char *, json_t **);
static int	 take_state(struct apx_ctx *, struct apx_signin *,
		    const char *, int, const char *, struct apx_oauth_state *,
		    json_t **, const char **, int64_t *, int *);
static int	 finish(struct apx_ctx *, struct apx_signin *,
		    const struct apx_oidc_identity *, int64_t, int,
		    const char *);
static const char *domain_of(const char *);
static int	 saml_of(struct apx_ctx *, struct apx_signin *);

int
apx_signin_return_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || s[0] != '/' || s[1] == '/' || s[1] == '\\' ||
	    (n = strlen(s)) > APX_SIGNIN_RETURN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("/._~?=&%-", s[i]) != NULL))
			return 0;
	return 1;
}

static const char *
domain_of(const char *email)
{
	const char *at = email != NULL ? strrchr(email, '@') : NULL;

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

int
apx_signin_provider(struct apx_ctx *c, const char *name, struct apx_signin *s)
{
	const struct apx_conf_oidc *o;
	int i;

	memset(s, 0, sizeof(*s));
	if (strcmp(name, "google") == 0)
		i = APX_OIDC_GOOGLE;
	else if (strcmp(name, "microsoft") == 0)
		i = APX_OIDC_MICROSOFT;
	else
		i = -1;
	o = i >= 0 ? &c->conf->oidc[i] : NULL;
	if (o == NULL || o->client_id == NULL || o->client_secret == NULL) {
		(void)apx_resp_problem(c->resp, 404, "provider-not-configured",
		    "This server does not offer that sign-in provider.", NULL);
		return APX_EINVAL;
	}
	if (c->conf->public_origin == NULL) {
		(void)apx_resp_problem(c->resp, 503, "public-origin-missing",
		    "This server has no http.public_origin: no redirect URI "
		    "can be made.", NULL);
		return APX_EINVAL;
	}
	s->provider = i == APX_OIDC_GOOGLE ? "google" : "microsoft";
	s->rp.kind = i == APX_OIDC_GOOGLE ? APX_OIDC_KIND_GOOGLE :
	    APX_OIDC_KIND_MICROSOFT;
	s->rp.key = s->provider;
	s->rp.discovery_url = o->discovery_url;
	s->rp.issuer = o->issuer;
	s->rp.client_id = o->client_id;
	s->rp.client_secret = apx_secret_str(o->client_secret);
	s->rp.scope = SCOPE_DEFAULT;
	s->rp.algs = i == APX_OIDC_GOOGLE ? google_algs : microsoft_algs;
	s->rp.nalgs = 1;
	s->rp.loopback_ok = 1;	/* the operator's own configuration */
	s->rp.tenants = i == APX_OIDC_MICROSOFT ? c->conf->oidc_ms_tenants :
	    NULL;
	s->rp.ttl = c->conf->oidc_cache_ttl;
	s->rp.refetch_interval = c->conf->oidc_kid_refetch;
	s->redirect_uri = apx_arena_printf(c->req->arena,
	    "%s/api/v1/auth/oauth/%s/callback", c->conf->public_origin,
	    s->provider);
	snprintf(s->purpose, sizeof(s->purpose), "signin:%s", s->provider);
	return s->redirect_uri != NULL ? 0 : APX_ENOMEM;
}

/* The SAML half of apx_signin_org: S->cfg is the org's row. */
static int
saml_of(struct apx_ctx *c, struct apx_signin *s)
{
	json_t *cfg = s->cfg, *a;
	size_t i;

	s->saml = 1;
	s->provider = "saml";
	s->idp_entity_id = json_string_value(json_object_get(cfg,
	    "idp_entity_id"));
	s->idp_sso_url = json_string_value(json_object_get(cfg,
	    "idp_sso_url"));
	a = json_object_get(cfg, "idp_certificates");
	for (i = 0; i < json_array_size(a) && s->ncerts < 2; i++)
		if (json_is_string(json_array_get(a, i)))
			s->certs[s->ncerts++] = json_string_value(
			    json_array_get(a, i));
	s->attr_email = json_string_value(json_object_get(cfg,
	    "attribute_email"));
	s->attr_name = json_string_value(json_object_get(cfg,
	    "attribute_name"));
	s->rp.key = apx_arena_printf(c->req->arena, "saml:%s", s->slug);
	s->sp_entity_id = apx_arena_printf(c->req->arena,
	    "%s/api/v1/auth/sso/%s/saml/metadata", c->conf->public_origin,
	    s->slug);
	s->acs_url = apx_arena_printf(c->req->arena,
	    "%s/api/v1/auth/sso/%s/saml/acs", c->conf->public_origin, s->slug);
	s->redirect_uri = s->acs_url;
	snprintf(s->purpose, sizeof(s->purpose), "signin:saml");
	if (s->idp_entity_id == NULL || s->idp_sso_url == NULL ||
	    s->ncerts == 0 || s->rp.key == NULL || s->sp_entity_id == NULL ||
	    s->acs_url == NULL || s->default_role == NULL) {
		apx_signin_clear(s);
		return APX_ENOMEM;
	}
	return 0;
}

int
apx_signin_org(struct apx_ctx *c, const char *slug, struct apx_signin *s)
{
	struct apx_vault *v;
	unsigned char *sealed = NULL, *plain = NULL;
	char owner[32], *scope;
	const char *hex, *st;
	json_t *cfg = NULL, *a;
	size_t slen = 0, plen = 0, i, n;
	int rc;

	memset(s, 0, sizeof(*s));
	if (apx_org_slug_valid(slug) && (rc = apx_sso_load(c->db, slug, &cfg))
	    != 0)
		return rc;
	st = json_string_value(json_object_get(cfg, "status"));
	if (cfg == NULL || !json_is_true(json_object_get(cfg, "enabled")) ||
	    strcmp(json_string_value(json_object_get(cfg, "plan")) ?
	    json_string_value(json_object_get(cfg, "plan")) : "", "agency")
	    != 0 || st == NULL || strcmp(st, "active") != 0 ||
	    c->conf->public_origin == NULL) {
		json_decref(cfg);
		(void)apx_resp_problem(c->resp, 404, "sso-not-configured",
		    "This organisation does not sign in through SSO.", NULL);
		return APX_EINVAL;
	}
	s->cfg = cfg;
	s->provider = "oidc";
	s->org = json_integer_value(json_object_get(cfg, "org_id"));
	s->slug = json_string_value(json_object_get(cfg, "slug"));
	s->jit = json_is_true(json_object_get(cfg, "jit"));
	s->default_role = json_string_value(json_object_get(cfg,
	    "default_role"));
	st = json_string_value(json_object_get(cfg, "protocol"));
	if (st != NULL && strcmp(st, "saml") == 0)
		return saml_of(c, s);
	hex = json_string_value(json_object_get(cfg, "secret_hex"));
	if (hex == NULL || (rc = apx_vault_keyed(c->conf, &v)) != 0 ||
	    (rc = apx_db_unhex(hex, strlen(hex), &sealed, &slen)) != 0) {
		apx_log_error("rid=%s sso %s: the client secret cannot be "
		    "opened (vault.keys?)", c->req->request_id, slug);
		free(sealed);
		apx_signin_clear(s);
		(void)apx_resp_problem(c->resp, 503, "sso-unavailable",
		    "Single sign-on is not available right now.", NULL);
		return APX_EINVAL;
	}
	snprintf(owner, sizeof(owner), "org:%lld", (long long)s->org);
	rc = apx_vault_open(v, c->db, owner, APX_SSO_PURPOSE, APX_SSO_RECORD, sealed,
	    slen, &plain, &plen);
	free(sealed);
	if (rc != 0) {
		apx_log_error("rid=%s sso %s: the client secret does not open "
		    "(%s)", c->req->request_id, slug, apx_strerror(rc));
		apx_signin_clear(s);
		(void)apx_resp_problem(c->resp, 503, "sso-unavailable",
		    "Single sign-on is not available right now.", NULL);
		return APX_EINVAL;
	}
	s->secret = (char *)plain;
	a = json_object_get(cfg, "algorithms");
	for (i = 0, n = 0; i < json_array_size(a) && n < 3; i++)
		if (json_is_string(json_array_get(a, i)))
			s->algs[n++] = json_string_value(json_array_get(a, i));
	a = json_object_get(cfg, "scopes");
	scope = apx_arena_alloc(c->req->arena, 11 * 65 + 1);
	if (scope == NULL) {
		apx_signin_clear(s);
		return APX_ENOMEM;
	}
	scope[0] = '\0';
	for (i = 0; i < json_array_size(a) && i < 10; i++) {
		if (i > 0)
			strcat(scope, " ");
		strncat(scope, json_string_value(json_array_get(a, i)) ?
		    json_string_value(json_array_get(a, i)) : "", 64);
	}
	s->rp.kind = APX_OIDC_KIND_ORG;
	s->rp.key = apx_arena_printf(c->req->arena, "org:%lld",
	    (long long)s->org);
	s->rp.discovery_url = json_string_value(json_object_get(cfg,
	    "discovery_url"));
	s->rp.issuer = json_string_value(json_object_get(cfg, "issuer"));
	s->rp.client_id = json_string_value(json_object_get(cfg,
	    "client_id"));
	s->rp.client_secret = s->secret;
	s->rp.scope = scope;
	s->rp.algs = s->algs;
	s->rp.nalgs = n;
	s->rp.loopback_ok = c->conf->sso_loopback_http;
	s->rp.ttl = c->conf->oidc_cache_ttl;
	s->rp.refetch_interval = c->conf->oidc_kid_refetch;
	s->redirect_uri = apx_arena_printf(c->req->arena,
	    "%s/api/v1/auth/sso/%s/oidc/callback", c->conf->public_origin,
	    s->slug);
	snprintf(s->purpose, sizeof(s->purpose), "signin:sso");
	if (s->rp.key == NULL || s->redirect_uri == NULL ||
	    s->rp.discovery_url == NULL || s->rp.issuer == NULL ||
	    s->rp.client_id == NULL || s->default_role == NULL) {
		apx_signin_clear(s);
		return APX_ENOMEM;
	}
	return 0;
}

void
apx_signin_clear(struct apx_signin *s)
{
	if (s->secret != NULL) {
		apx_wipe(s->secret, strlen(s->secret));
		free(s->secret);
	}
	json_decref(s->cfg);
	memset(s, 0, sizeof(*s));
}

int
apx_signin_begin(struct apx_ctx *c, struct apx_signin *s, int64_t link_user,
    const char *return_to, const char *login_hint, const char **url)
{
	struct apx_vault *v;
	unsigned char raw[NONCE_BYTES];
	char state[APX_OAUTH_STATE_LEN + 1], verifier[44], challenge[44];
	char nonce[64], *data = NULL;
	const char *browser, *why = NULL;
	json_t *d;
	int rc;

	*url = NULL;
	if (return_to != NULL && !apx_signin_return_ok(return_to)) {
		(void)apx_resp_problem(c->resp, 422, "invalid-field", "Only a "
		    "path of this site may be returned to.", "return_to");
		return APX_EINVAL;
	}
	if (login_hint != NULL && (strlen(login_hint) > APX_EMAIL_MAX ||
	    apx_account_email_norm(c->req->arena, login_hint) == NULL)) {
		(void)apx_resp_problem(c->resp, 422, "invalid-field",
		    "login_hint must be an email address.", "login_hint");
		return APX_EINVAL;
	}
	if (apx_vault_keyed(c->conf, &v) != 0) {
		(void)apx_resp_problem(c->resp, 503, "vault-unavailable",
		    "Sign-in through a provider needs the vault (vault.keys).",
		    NULL);
		return APX_EINVAL;
	}
	if ((rc = apx_oauth_browser(c, 1, &browser)) != 0)
		return rc;
	apx_oauth_pkce(verifier, challenge);
	apx_random(raw, sizeof(raw));
	sodium_bin2base64(nonce, sizeof(nonce), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((d = json_pack("{s:s,s:s,s:s,s:b}", "v", verifier, "n", nonce,
	    "r", return_to != NULL ? return_to : (link_user > 0 ?
	    "/app/account" : "/app"), "l", link_user > 0)) == NULL ||
	    (data = json_dumps(d, JSON_COMPACT)) == NULL) {
		json_decref(d);
		rc = APX_ENOMEM;
		goto out;
	}
	json_decref(d);
	if ((rc = apx_oauth_state_create(c->db, v, browser, s->purpose,
	    s->org, link_user, data, APX_OAUTH_TTL_DEFAULT, state)) != 0)
		goto out;
	rc = apx_oidc_rp_authorize_url(&s->rp, c->req->arena, s->redirect_uri,
	    state, nonce, challenge, login_hint, url, &why);
	if (rc == APX_EIO || rc == APX_EUNAUTH) {
		apx_log_warn("rid=%s sign-in %s: the provider is not usable "
		    "(%s)", c->req->request_id, s->rp.key, why != NULL ? why :
		    "?");
		(void)apx_resp_header_set(c->resp, "Retry-After", "30");
		(void)apx_resp_problem(c->resp, 503, "provider-unavailable",
		    "The sign-in provider cannot be reached or is "
		    "misconfigured; try again shortly.", NULL);
		rc = APX_EINVAL;
	}
out:
	if (data != NULL) {
		apx_wipe(data, strlen(data));
		free(data);
	}
	apx_wipe(verifier, sizeof(verifier));
	apx_wipe(state, sizeof(state));
	return rc;
}

static void
audit_entry(struct apx_ctx *c, struct apx_audit_entry *e, int64_t org,
    int64_t uid, const char *action, const char *target)
{
	memset(e, 0, sizeof(*e));
	e->log = org > 0 ? apx_arena_printf(c->req->arena, "org:%lld",
	    (long long)org) : APX_AUDIT_PLATFORM;
	e->actor_type = "user";
	e->actor_id = apx_arena_printf(c->req->arena, "%lld", (long long)uid);
	e->action = action;
	e->target = target != NULL ? target : "";
	e->client_addr = c->req->remote_addr;
	e->request_id = c->req->request_id;
}

/*
 * A refused sign-in: the reason in the log and, when the flow was a real
 * one (its state was ours: AUDITED), in the audit log (the org's for its
 * IdP); the browser goes back to the login page (or account settings for
 * a link) with a code that says what to do, never why in detail.
 */
static int
fail(struct apx_ctx *c, struct apx_signin *s, int64_t uid, int link,
    const struct failure *f, int audited)
{
	struct apx_audit_entry e;
	const char *origin = c->conf->public_origin;
	json_t *after;

	apx_log_warn("rid=%s sign-in through %s refused: %s (%s)",
	    c->req->request_id, s->rp.key != NULL ? s->rp.key : "?", f->code,
	    f->reason);
	if (audited) {
		audit_entry(c, &e, s->org, uid, s->org > 0 ?
		    "sso.login_failed" : "auth.signin_failed", s->provider);
		after = json_pack("{s:s,s:s,s:s}", "provider", s->provider,
		    "code", f->code, "reason", f->reason);
		e.after = after;
		if (apx_audit_append(c->db, &e) != 0)
			apx_log_error("rid=%s the failed sign-in could not be "
			    "audited", c->req->request_id);
		json_decref(after);
	}
	(void)apx_resp_header_set(c->resp, "Location", apx_arena_printf(
	    c->req->arena, "%s%s?error=%s%s%s", origin, link ? "/app/account" :
	    "/login", f->code, strcmp(f->code, "sso-required") == 0 &&
	    f->reason != NULL && strncmp(f->reason, "org:", 4) == 0 ?
	    "&org=" : "", strcmp(f->code, "sso-required") == 0 &&
	    f->reason != NULL && strncmp(f->reason, "org:", 4) == 0 ?
	    f->reason + 4 : ""));
	c->resp->no_store = 1;
	c->resp->status = 303;
	return 0;
}

/* The org that enforces SSO for EMAIL's domain ({org_id, slug, ...}), or
 * *OUT NULL. */
static int
enforced(struct apx_ctx *c, const char *email, json_t **out)
{
	const char *dom = domain_of(email);
	int rc;

	*out = NULL;
	if (dom == NULL)
		return 0;
	if ((rc = apx_sso_for_domain(c->db, dom, out)) != 0)
		return rc;
	if (*out != NULL && !json_is_true(json_object_get(*out, "enforce"))) {
		json_decref(*out);
		*out = NULL;
	}
	return 0;
}

/*
 * The account rules. *UID gets the user to sign in; F is filled (and 0
 * returned with *UID 0) when the sign-in is refused.
 */
static int
account(struct apx_ctx *c, struct apx_signin *s,
    const struct apx_oidc_identity *id, int64_t link_user, int64_t *uid,
    struct failure *f)
{
	struct apx_audit_entry e;
	struct apx_user u;
	const char *en = NULL, *dom;
	int64_t owner = 0, iid = 0;
	int rc;

	*uid = 0;
	if (id->email != NULL)
		en = apx_account_email_norm(c->req->arena, id->email);
	/* An org's IdP speaks only for the org's verified domains. */
	if (s->org > 0) {
		if (en == NULL || !id->email_verified) {
			f->code = "email-unverified";
			f->reason = en == NULL ? "no-email" : "email-unverified";
			return 0;
		}
		dom = domain_of(en);
		if ((rc = apx_sso_domain_of(c->db, s->org, dom)) < 0)
			return rc;
		if (rc == 0) {
			f->code = "domain-not-allowed";
			f->reason = "domain-not-verified";
			return 0;
		}
	}
	rc = apx_identity_find(c->db, s->org, id->issuer, id->subject, &owner,
	    &iid);
	if (rc != 0 && rc != APX_ENOTFOUND)
		return rc;
	if (rc == 0) {
		if (link_user > 0 && owner != link_user) {
			f->code = "identity-taken";
			f->reason = "identity-of-another-account";
			return 0;
		}
		(void)apx_identity_touch(c->db, iid);
		*uid = owner;
		return 0;
	}
	if (link_user > 0) {
		audit_entry(c, &e, 0, link_user, "identity.link", apx_arena_printf(
		    c->req->arena, "user:%lld", (long long)link_user));
		rc = apx_identity_link(c->db, link_user, s->provider, s->org,
		    id->issuer, id->subject, &e, &iid);
		if (rc == APX_ECONFLICT) {
			f->code = "identity-taken";
			f->reason = "identity-of-another-account";
			return 0;
		}
		if (rc != 0)
			return rc;
		*uid = link_user;
		return 0;
	}
	/* A new account only for an email the provider has verified. */
	if (en == NULL || !id->email_verified) {
		f->code = "email-unverified";
		f->reason = en == NULL ? "no-email" : "email-unverified";
		return 0;
	}
	rc = apx_user_by_email(c->db, c->req->arena, en, &u);
	if (rc == 0) {
		/* never linked on an email match alone */
		f->code = "account-exists";
		f->reason = "email-of-existing-account";
		return 0;
	}
	if (rc != APX_ENOTFOUND)
		return rc;
	/* An org's IdP without just-in-time provisioning signs in only its
	 * members: a new account could not be one. */
	if (s->org > 0 && !s->jit) {
		f->code = "not-a-member";
		f->reason = "not-a-member-jit-off";
		return 0;
	}
	audit_entry(c, &e, 0, 0, "account.create_sso", apx_arena_printf(
	    c->req->arena, "provider:%s", s->provider));
	rc = apx_identity_create_user(c->db, en, id->email, id->name != NULL ?
	    id->name : en, s->provider, s->org, id->issuer, id->subject, &e,
	    uid);
	if (rc == APX_ECONFLICT) {
		f->code = "account-exists";
		f->reason = "created-meanwhile";
		*uid = 0;
		return 0;
	}
	if (rc == 0)
		apx_log_info("rid=%s user %lld created by a sign-in through %s",
		    c->req->request_id, (long long)*uid, s->rp.key);
	return rc;
}

/*
 * Who the provider said signed in (ID), after every protocol check: the
 * account rules, SSO enforcement, just-in-time membership, and the
 * session (or the link), answered with a 303. LINK: the user who links
 * (ISLINK); RET: where to go back.
 */
static int
finish(struct apx_ctx *c, struct apx_signin *s,
    const struct apx_oidc_identity *id, int64_t link, int islink,
    const char *ret)
{
	struct apx_audit_entry e;
	struct apx_user u;
	struct failure f = { "signin-failed", NULL };
	const char *role = NULL;
	char refresh[64];
	unsigned char rhash[APX_TOKEN_HASH_LEN];
	json_t *enf = NULL;
	int64_t uid = 0, sid;
	int rc, joined = 0, gated = 0;

	refresh[0] = '\0';
	if ((rc = account(c, s, id, link, &uid, &f)) != 0)
		goto out;
	if (uid == 0) {
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	if ((rc = apx_user_by_id(c->db, c->req->arena, uid, &u)) != 0)
		goto out;
	/* Google or Microsoft for a user whose org enforces its own SSO. */
	if (s->org == 0 && !islink) {
		if ((rc = enforced(c, u.email, &enf)) != 0)
			goto out;
		if (enf != NULL) {
			f.code = "sso-required";
			f.reason = apx_arena_printf(c->req->arena, "org:%s",
			    json_string_value(json_object_get(enf, "slug")));
			rc = fail(c, s, uid, 0, &f, 1);
			goto out;
		}
	}
	if (s->org > 0) {
		audit_entry(c, &e, s->org, uid, "sso.jit_join", apx_arena_printf(
		    c->req->arena, "user:%lld", (long long)uid));
		if ((rc = apx_sso_jit_join(c->db, s->org, uid, s->default_role,
		    s->jit, &e, &joined, &role)) != 0)
			goto out;
		if (role == NULL && !islink) {
			f.code = "not-a-member";
			f.reason = "not-a-member-jit-off";
			rc = fail(c, s, uid, 0, &f, 1);
			goto out;
		}
	}
	if (islink) {
		apx_log_info("rid=%s user %lld linked a sign-in through %s",
		    c->req->request_id, (long long)uid, s->rp.key);
		(void)apx_resp_header_set(c->resp, "Location", apx_arena_printf(
		    c->req->arena, "%s%s%clinked=%s", c->conf->public_origin,
		    ret, strchr(ret, '?') != NULL ? '&' : '?', s->provider));
		c->resp->no_store = 1;
		c->resp->status = 303;
		rc = 0;
		goto out;
	}
	audit_entry(c, &e, s->org, uid, s->org > 0 ? "sso.login" :
	    "auth.signin", s->provider);
	e.after = json_pack("{s:s,s:b}", "provider", s->provider, "joined",
	    joined);
	rc = apx_audit_append(c->db, &e);
	json_decref(e.after);
	if (rc != 0)
		goto out;
	/*
	 * Google or Microsoft for an account with a second factor: the
	 * login page asks for the code. An org's own IdP is the org's
	 * policy and stands for it.
	 */
	if (s->org == 0 && ((rc = apx_mfa_gate(c, &u, APX_MFA_VIA_PROVIDER,
	    &gated)) != 0 || gated))
		goto out;
	if ((rc = apx_session_new_token(refresh, sizeof(refresh), rhash))
	    != 0 || (rc = apx_session_create(c->db, u.id,
	    apx_req_header(c->req, "user-agent") != NULL ?
	    apx_req_header(c->req, "user-agent") : "", c->req->remote_addr,
	    s->org > 0 ? apx_arena_printf(c->req->arena, "sso:%lld",
	    (long long)s->org) : "oidc", c->conf->refresh_lifetime, rhash,
	    &sid)) != 0)
		goto out;
	apx_log_info("rid=%s user %lld signed in through %s",
	    c->req->request_id, (long long)uid, s->rp.key);
	apx_route_signed_in(c, &u, s->rp.key);
	rc = apx_session_redirect(c, &u, sid, refresh, apx_arena_printf(
	    c->req->arena, "%s%s", c->conf->public_origin, ret));
out:
	apx_wipe(refresh, sizeof(refresh));
	json_decref(enf);
	return rc;
}

/*
 * The state VALUE of this browser (its binding cookie COOKIE, SAME_SITE)
 * for S, consumed (single use): its data in *D, where to go back in *RET,
 * who links in *LINK / *ISLINK. 0; otherwise the refusal is answered
 * (audited once the state was ours) and 1 returned. The caller clears ST
 * and *D either way.
 */
static int
take_state(struct apx_ctx *c, struct apx_signin *s, const char *cookie,
    int same_site, const char *value, struct apx_oauth_state *st, json_t **d,
    const char **ret, int64_t *link, int *islink)
{
	struct failure f = { "signin-failed", NULL };
	struct apx_vault *v;
	const char *browser = NULL;

	*d = NULL;
	*ret = NULL;
	*link = 0;
	*islink = 0;
	if (apx_vault_keyed(c->conf, &v) != 0) {
		f.reason = "vault";
		(void)fail(c, s, 0, 0, &f, 0);
		return 1;
	}
	if (apx_oauth_browser_as(c, cookie, same_site, 0, &browser) != 0) {
		f.reason = "state-no-browser-cookie";
		(void)fail(c, s, 0, 0, &f, 0);
		return 1;
	}
	if (value == NULL || apx_oauth_state_consume(c->db, v, browser,
	    s->purpose, value, st) != 0) {
		f.reason = "state";
		(void)fail(c, s, 0, 0, &f, 0);
		return 1;
	}
	/* From here on the flow is a real one of this browser. */
	if (st->org != s->org || st->data == NULL ||
	    (*d = json_loads(st->data, 0, NULL)) == NULL ||
	    (*ret = json_string_value(json_object_get(*d, "r"))) == NULL ||
	    !apx_signin_return_ok(*ret)) {
		f.reason = "state-data";
		(void)fail(c, s, 0, 0, &f, 1);
		return 1;
	}
	*islink = json_is_true(json_object_get(*d, "l"));
	*link = *islink ? st->user : 0;
	if (*islink && *link <= 0) {
		f.reason = "state-data";
		(void)fail(c, s, 0, 1, &f, 1);
		return 1;
	}
	return 0;
}

int
apx_signin_callback(struct apx_ctx *c, struct apx_signin *s)
{
	struct apx_oauth_state st;
	struct apx_oidc_identity id;
	struct failure f = { "signin-failed", NULL };
	const char *err, *verifier, *nonce, *ret;
	const char *why = NULL;
	json_t *d = NULL;
	int64_t link = 0;
	int rc, islink = 0;

	memset(&st, 0, sizeof(st));
	memset(&id, 0, sizeof(id));
	if (take_state(c, s, APX_OAUTH_COOKIE, APX_SAMESITE_LAX,
	    apx_req_query(c->req, "state"), &st, &d, &ret, &link, &islink) !=
	    0) {
		rc = 0;		/* answered */
		goto out;
	}
	if ((verifier = json_string_value(json_object_get(d, "v"))) == NULL ||
	    (nonce = json_string_value(json_object_get(d, "n"))) == NULL) {
		f.reason = "state-data";
		rc = fail(c, s, 0, islink, &f, 1);
		goto out;
	}
	if ((err = apx_req_query(c->req, "error")) != NULL) {
		f.code = strcmp(err, "access_denied") == 0 ?
		    "signin-cancelled" : "signin-failed";
		f.reason = "provider-error";
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	rc = apx_oidc_rp_finish(&s->rp, apx_req_query(c->req, "code"),
	    s->redirect_uri, verifier, nonce, &id, &why);
	if (rc == APX_EUNAUTH || rc == APX_EIO) {
		f.reason = why != NULL ? why : "provider";
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	if (rc != 0)
		goto out;
	rc = finish(c, s, &id, link, islink, ret);
out:
	json_decref(d);
	apx_oidc_identity_clear(&id);
	apx_oauth_state_clear(&st);
	return rc;
}

int
apx_signin_password_allowed(struct apx_ctx *c, const struct apx_user *u)
{
	struct apx_audit_entry e;
	json_t *enf = NULL;
	int64_t org;
	int rc;

	if ((rc = enforced(c, u->email, &enf)) != 0 || enf == NULL)
		return rc;
	org = json_integer_value(json_object_get(enf, "org_id"));
	if ((rc = apx_sso_is_owner(c->db, org, u->id)) < 0)
		goto out;
	if (rc == 1) {
		/* break-glass: an owner may still use the password */
		audit_entry(c, &e, org, u->id, "sso.break_glass",
		    apx_arena_printf(c->req->arena, "user:%lld",
		    (long long)u->id));
		if ((rc = apx_audit_append(c->db, &e)) == 0)
			apx_log_warn("rid=%s user %lld: break-glass password "
			    "sign-in to an org that enforces SSO",
			    c->req->request_id, (long long)u->id);
		goto out;
	}
	(void)apx_resp_problem(c->resp, 403, "sso-required", apx_arena_printf(
	    c->req->arena, "Your organisation signs you in through its SSO: "
	    "use /api/v1/auth/sso/%s/start.", json_string_value(
	    json_object_get(enf, "slug"))), NULL);
	rc = APX_EUNAUTH;
out:
	json_decref(enf);
	return rc;
}

/* ------------------------------------------------------------------ SAML */

#define SAML_ID_BYTES	16
#define SAML_SKEW	60
#define SAML_REQ_MAX	4096

/* S with &, <, > and " escaped for an XML attribute or text, in A. */
static const char *
xml_escape(struct apx_arena *a, const char *s)
{
	size_t n = 0, i, o = 0;
	char *d;

	for (i = 0; s[i] != '\0'; i++)
		n += strchr("&<>\"", s[i]) != NULL ? 6 : 1;
	if ((d = apx_arena_alloc(a, n + 1)) == NULL)
		return NULL;
	for (i = 0; s[i] != '\0'; i++) {
		const char *e = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" :
		    s[i] == '>' ? "&gt;" : s[i] == '"' ? "&quot;" : NULL;

		if (e != NULL) {
			memcpy(d + o, e, strlen(e));
			o += strlen(e);
		} else
			d[o++] = s[i];
	}
	d[o] = '\0';
	return d;
}

/* Raw DEFLATE (RFC 1951) of IN, base64, URL-encoded: HTTP-Redirect. */
static const char *
redirect_encode(struct apx_arena *a, const char *in)
{
	unsigned char z[SAML_REQ_MAX];
	char b64[sodium_base64_ENCODED_LEN(SAML_REQ_MAX,
	    sodium_base64_VARIANT_ORIGINAL)], *enc;
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		return NULL;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)strlen(in);
	zs.next_out = z;
	zs.avail_out = sizeof(z);
	rc = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (rc != Z_STREAM_END)
		return NULL;
	sodium_bin2base64(b64, sizeof(b64), z, sizeof(z) - zs.avail_out,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((enc = apx_arena_alloc(a, 3 * strlen(b64) + 1)) == NULL)
		return NULL;
	apx_url_encode(b64, enc);
	return enc;
}

int
apx_signin_saml_begin(struct apx_ctx *c, struct apx_signin *s,
    int64_t link_user, const char *return_to, const char **url)
{
	struct apx_vault *v;
	unsigned char raw[SAML_ID_BYTES];
	char rid[2 * SAML_ID_BYTES + 2], state[APX_OAUTH_STATE_LEN + 1];
	char instant[32], *data = NULL;
	const char *browser, *req, *enc;
	json_t *d;
	int rc;

	*url = NULL;
	if (return_to != NULL && !apx_signin_return_ok(return_to)) {
		(void)apx_resp_problem(c->resp, 422, "invalid-field", "Only a "
		    "path of this site may be returned to.", "return_to");
		return APX_EINVAL;
	}
	if (apx_vault_keyed(c->conf, &v) != 0) {
		(void)apx_resp_problem(c->resp, 503, "vault-unavailable",
		    "Sign-in through a provider needs the vault (vault.keys).",
		    NULL);
		return APX_EINVAL;
	}
	/* the answer comes back as a cross-site POST: SameSite=None */
	if ((rc = apx_oauth_browser_as(c, APX_SAML_COOKIE, APX_SAMESITE_NONE,
	    1, &browser)) != 0)
		return rc;
	apx_random(raw, sizeof(raw));
	rid[0] = '_';
	sodium_bin2hex(rid + 1, sizeof(rid) - 1, raw, sizeof(raw));
	apx_rfc3339_format(apx_unix_now(), instant, sizeof(instant));
	if ((d = json_pack("{s:s,s:s,s:b}", "rid", rid, "r", return_to != NULL ?
	    return_to : (link_user > 0 ? "/app/account" : "/app"), "l",
	    link_user > 0)) == NULL || (data = json_dumps(d, JSON_COMPACT)) ==
	    NULL) {
		json_decref(d);
		return APX_ENOMEM;
	}
	json_decref(d);
	rc = apx_oauth_state_create(c->db, v, browser, s->purpose, s->org,
	    link_user, data, APX_OAUTH_TTL_DEFAULT, state);
	free(data);
	if (rc != 0)
		return rc;
	req = apx_arena_printf(c->req->arena,
	    "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
	    "protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" "
	    "ID=\"%s\" Version=\"2.0\" IssueInstant=\"%s\" Destination=\"%s\" "
	    "AssertionConsumerServiceURL=\"%s\" ProtocolBinding=\"urn:oasis:"
	    "names:tc:SAML:2.0:bindings:HTTP-POST\"><saml:Issuer>%s"
	    "</saml:Issuer><samlp:NameIDPolicy AllowCreate=\"true\"/>"
	    "</samlp:AuthnRequest>", rid, instant, xml_escape(c->req->arena,
	    s->idp_sso_url), xml_escape(c->req->arena, s->acs_url),
	    xml_escape(c->req->arena, s->sp_entity_id));
	if (req == NULL || strlen(req) >= SAML_REQ_MAX ||
	    (enc = redirect_encode(c->req->arena, req)) == NULL) {
		apx_wipe(state, sizeof(state));
		return APX_ENOMEM;
	}
	/* the state is the RelayState: base64url, nothing to encode */
	*url = apx_arena_printf(c->req->arena, "%s%cSAMLRequest=%s&RelayState=%s",
	    s->idp_sso_url, strchr(s->idp_sso_url, '?') != NULL ? '&' : '?', enc,
	    state);
	apx_wipe(state, sizeof(state));
	apx_log_info("rid=%s sso %s: SAML AuthnRequest %s", c->req->request_id,
	    s->slug, rid);
	return *url != NULL ? 0 : APX_ENOMEM;
}

int
apx_signin_saml_acs(struct apx_ctx *c, struct apx_signin *s)
{
	static const char *const email_default[] = { "email",
	    "urn:oid:0.9.2342.19200300.100.1.3",
	    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress" };
	static const char *const name_default[] = { "displayName",
	    "urn:oid:2.16.840.1.113730.3.1.241",
	    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name" };
	struct apx_saml_expect ex;
	struct apx_saml_result res;
	struct apx_oauth_state st;
	struct apx_oidc_identity id;
	struct apx_kvlist form;
	struct failure f = { "signin-failed", NULL };
	const struct apx_kv *resp, *relay;
	const char *rid, *ret, *why = NULL;
	const char *emails[1], *names[1];
	unsigned char *xml = NULL;
	size_t xlen = 0;
	json_t *d = NULL;
	int64_t link = 0;
	int rc, islink = 0;

	memset(&st, 0, sizeof(st));
	memset(&res, 0, sizeof(res));
	memset(&id, 0, sizeof(id));
	if (apx_http_form(c->req, c->resp, &form) != 0)
		return 0;	/* 415 or 400 answered */
	resp = apx_kv_find(&form, "SAMLResponse");
	relay = apx_kv_find(&form, "RelayState");
	/* Unsolicited (IdP-initiated) answers are refused: no state. */
	if (relay == NULL || resp == NULL) {
		f.reason = relay == NULL ? "unsolicited" : "no-response";
		return fail(c, s, 0, 0, &f, 0);
	}
	if (take_state(c, s, APX_SAML_COOKIE, APX_SAMESITE_NONE, relay->value,
	    &st, &d, &ret, &link, &islink) != 0) {
		rc = 0;		/* answered */
		goto out;
	}
	if ((rid = json_string_value(json_object_get(d, "rid"))) == NULL) {
		f.reason = "state-data";
		rc = fail(c, s, 0, islink, &f, 1);
		goto out;
	}
	if (resp->vlen > 2 * APX_SAML_MAX || (xml = malloc(resp->vlen)) ==
	    NULL || sodium_base642bin(xml, resp->vlen, resp->value, resp->vlen,
	    " \t\r\n", &xlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		f.reason = resp->vlen > 2 * APX_SAML_MAX ? "too-big" :
		    "base64";
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	memset(&ex, 0, sizeof(ex));
	ex.idp_entity_id = s->idp_entity_id;
	ex.sp_entity_id = s->sp_entity_id;
	ex.acs_url = s->acs_url;
	ex.certs_pem = s->certs;
	ex.ncerts = s->ncerts;
	if (s->attr_email != NULL) {
		emails[0] = s->attr_email;
		ex.email_attrs = emails;
		ex.nemail_attrs = 1;
	} else {
		ex.email_attrs = email_default;
		ex.nemail_attrs = APX_NELEM(email_default);
	}
	if (s->attr_name != NULL) {
		names[0] = s->attr_name;
		ex.name_attrs = names;
		ex.nname_attrs = 1;
	} else {
		ex.name_attrs = name_default;
		ex.nname_attrs = APX_NELEM(name_default);
	}
	ex.now = apx_unix_now();
	ex.skew = SAML_SKEW;
	rc = apx_saml_response_verify((const char *)xml, xlen, &ex, &res,
	    &why);
	if (rc == APX_EUNAUTH || rc == APX_ETOOBIG) {
		f.reason = why != NULL ? why : "saml";
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	if (rc != 0)
		goto out;
	/* The answer to this browser's own request, once. */
	if (res.in_response_to == NULL || strcmp(res.in_response_to, rid) !=
	    0) {
		f.reason = res.in_response_to == NULL ? "unsolicited" :
		    "in-response-to";
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	if ((rc = apx_saml_assertion_once(c->db, s->org, res.assertion_id,
	    res.not_on_or_after)) == APX_ECONFLICT) {
		f.reason = "replay";
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	if (rc != 0)
		goto out;
	/* (IdP entity id, NameID); the email from its attribute, or the
	 * NameID when that is an email address */
	if (strlen(res.name_id) > 255) {
		f.reason = "subject";
		rc = fail(c, s, link, islink, &f, 1);
		goto out;
	}
	rc = APX_ENOMEM;
	if ((id.issuer = strdup(s->idp_entity_id)) == NULL ||
	    (id.subject = strdup(res.name_id)) == NULL)
		goto out;
	if (res.email != NULL)
		id.email = strdup(res.email);
	else if (res.name_id_format != NULL && strcmp(res.name_id_format,
	    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress") == 0)
		id.email = strdup(res.name_id);
	id.email_verified = id.email != NULL;	/* the org's IdP says so */
	if (res.name != NULL)
		id.name = strdup(res.name);
	rc = finish(c, s, &id, link, islink, ret);
out:
	if (xml != NULL) {
		apx_wipe(xml, xlen);
		free(xml);
	}
	json_decref(d);
	apx_saml_result_clear(&res);
	apx_oidc_identity_clear(&id);
	apx_oauth_state_clear(&st);
	return rc;
}

/* The base64 body of a PEM certificate, without its armour and line
 * breaks, in A; NULL when PEM is not one. */
static const char *
cert_b64(struct apx_arena *a, const char *pem)
{
	const char *p = strstr(pem, "-----BEGIN CERTIFICATE-----"), *e;
	char *o;
	size_t n = 0;

	if (p == NULL || (e = strstr(p, "-----END CERTIFICATE-----")) == NULL)
		return NULL;
	p += strlen("-----BEGIN CERTIFICATE-----");
	if ((o = apx_arena_alloc(a, (size_t)(e - p) + 1)) == NULL)
		return NULL;
	for (; p < e; p++)
		if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t')
			o[n++] = *p;
	o[n] = '\0';
	return o;
}

int
apx_signin_saml_metadata(struct apx_ctx *c, struct apx_signin *s)
{
	const char *doc, *kd = "", *b64;
	char *signed_doc = NULL;
	unsigned char raw[SAML_ID_BYTES];
	char id[2 * SAML_ID_BYTES + 2];
	int rc;

	/* with an SP key: its certificate listed, the document signed */
	if (c->conf->saml_sp_cert != NULL) {
		if ((b64 = cert_b64(c->req->arena,
		    apx_secret_str(c->conf->saml_sp_cert))) == NULL) {
			apx_log_error("saml.sp_cert is not a PEM certificate");
			return APX_ECONFIG;
		}
		kd = apx_arena_printf(c->req->arena,
		    "  <md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds="
		    "\"http://www.w3.org/2000/09/xmldsig#\"><ds:X509Data>"
		    "<ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data>"
		    "</ds:KeyInfo></md:KeyDescriptor>\n", b64);
	}
	apx_random_id(raw, sizeof(raw));
	id[0] = '_';
	sodium_bin2hex(id + 1, sizeof(id) - 1, raw, sizeof(raw));
	doc = apx_arena_printf(c->req->arena,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:"
	    "metadata\" ID=\"%s\" entityID=\"%s\">\n"
	    " <md:SPSSODescriptor AuthnRequestsSigned=\"false\" "
	    "WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:"
	    "oasis:names:tc:SAML:2.0:protocol\">\n%s"
	    "  <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:"
	    "emailAddress</md:NameIDFormat>\n"
	    "  <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:"
	    "persistent</md:NameIDFormat>\n"
	    "  <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:"
	    "2.0:bindings:HTTP-POST\" Location=\"%s\" index=\"0\" "
	    "isDefault=\"true\"/>\n"
	    " </md:SPSSODescriptor>\n"
	    "</md:EntityDescriptor>\n", id, xml_escape(c->req->arena,
	    s->sp_entity_id), kd, xml_escape(c->req->arena, s->acs_url));
	if (doc == NULL)
		return APX_ENOMEM;
	if (c->conf->saml_sp_key != NULL) {
		if ((rc = apx_saml_sign_root(doc, apx_secret_str(
		    c->conf->saml_sp_key), &signed_doc)) != 0) {
			apx_log_error("rid=%s the SP metadata could not be signed "
			    "with saml.sp_key (%s)", c->req->request_id,
			    apx_strerror(rc));
			return rc;
		}
		rc = apx_resp_text(c->resp, 200, "application/samlmetadata+xml",
		    signed_doc, strlen(signed_doc));
		free(signed_doc);
		return rc;
	}
	return apx_resp_text(c->resp, 200, "application/samlmetadata+xml",
	    doc, strlen(doc));
}
