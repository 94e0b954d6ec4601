/* Signing in through an OpenID provider (signin.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "auth/account.h"
#include "auth/oauth_state.h"
#include "auth/session.h"
#include "auth/signin.h"
#include "store/orgs.h"
#include "core/apx.h"
#include "core/log.h"
#include "http/ctx.h"
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
static const char *domain_of(const char *);

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
	rc = apx_identity_find(c->db, id->issuer, id->subject, &owner, &iid);
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

int
apx_signin_callback(struct apx_ctx *c, struct apx_signin *s)
{
	struct apx_oauth_state st;
	struct apx_oidc_identity id;
	struct apx_audit_entry e;
	struct apx_vault *v;
	struct apx_user u;
	struct failure f = { "signin-failed", NULL };
	const char *browser = NULL, *state, *err, *verifier, *nonce, *ret;
	const char *why = NULL, *role = NULL;
	char refresh[64];
	unsigned char rhash[APX_TOKEN_HASH_LEN];
	json_t *d = NULL, *enf = NULL;
	int64_t uid = 0, link = 0, sid;
	int rc, joined = 0, islink = 0;

	memset(&st, 0, sizeof(st));
	memset(&id, 0, sizeof(id));
	refresh[0] = '\0';
	state = apx_req_query(c->req, "state");
	if (apx_vault_keyed(c->conf, &v) != 0) {
		f.reason = "vault";
		return fail(c, s, 0, 0, &f, 0);
	}
	if (apx_oauth_browser(c, 0, &browser) != 0) {
		f.reason = "state-no-browser-cookie";
		return fail(c, s, 0, 0, &f, 0);
	}
	if (state == NULL || apx_oauth_state_consume(c->db, v, browser,
	    s->purpose, state, &st) != 0) {
		f.reason = "state";
		return fail(c, s, 0, 0, &f, 0);
	}
	/* From here on the flow is a real one of this browser. */
	if (st.org != s->org || st.data == NULL ||
	    (d = json_loads(st.data, 0, NULL)) == NULL ||
	    (verifier = json_string_value(json_object_get(d, "v"))) == NULL ||
	    (nonce = json_string_value(json_object_get(d, "n"))) == NULL ||
	    (ret = json_string_value(json_object_get(d, "r"))) == NULL ||
	    !apx_signin_return_ok(ret)) {
		f.reason = "state-data";
		rc = fail(c, s, 0, 0, &f, 1);
		goto out;
	}
	islink = json_is_true(json_object_get(d, "l"));
	link = islink ? st.user : 0;
	if (islink && link <= 0) {
		f.reason = "state-data";
		rc = fail(c, s, 0, 1, &f, 1);
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
	if ((rc = account(c, s, &id, link, &uid, &f)) != 0)
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
	if ((rc = apx_session_new_token(refresh, sizeof(refresh), rhash))
	    != 0 || (rc = apx_session_create(c->db, u.id,
	    apx_req_header(c->req, "user-agent") != NULL ?
	    apx_req_header(c->req, "user-agent") : "", c->req->remote_addr,
	    c->conf->refresh_lifetime, rhash, &sid)) != 0)
		goto out;
	apx_log_info("rid=%s user %lld signed in through %s",
	    c->req->request_id, (long long)uid, s->rp.key);
	rc = apx_session_redirect(c, &u, sid, refresh, apx_arena_printf(
	    c->req->arena, "%s%s", c->conf->public_origin, ret));
out:
	apx_wipe(refresh, sizeof(refresh));
	json_decref(d);
	json_decref(enf);
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
