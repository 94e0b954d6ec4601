/*
 * Connector flows: per-org settings, connect (the provider URL, state
 * bound to the browser), the callback (state, exchange, sealed tokens,
 * the connection and its accounts), token refresh under the connection's
 * row lock, the check call, disconnect. Each sets the answer itself.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/oauth_state.h"
#include "auth/session.h"
#include "authz/authz.h"
#include "connect/connect.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/url.h"
#include "http/ctx.h"
#include "store/audit.h"
#include "store/connect.h"
#include "store/db.h"
#include "store/jobs.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define REFRESH_MARGIN	60	/* refresh when expiring within (s) */
#define CODE_MAX	2048
#define ACCOUNTS_MAX	100
#define TOKEN_MAX	8192
#define PARAM_MAX	2048

static const struct apx_plugin *plugin_or_404(struct apx_ctx *,
		    const char *);
static struct apx_vault *vault_or_503(struct apx_ctx *);
static int	 problem(struct apx_ctx *, int, const char *, const char *);
static void	 audit_entry(struct apx_ctx *, struct apx_audit_entry *,
		    int64_t, int64_t, const char *, const char *);
static int	 text_ok(const char *, size_t);
static json_t	*settings_view(const struct apx_plugin *, json_t *);
static int	 seal_tokens(struct apx_cx *, int64_t, const char *,
		    const char *, unsigned char **, size_t *);
static int	 open_tokens(struct apx_cx *, const struct apx_conn_row *,
		    json_t **);
static int	 fresh_access(struct apx_ctx *, struct apx_cx *, int64_t,
		    const char **, const char **);
static int	 provider_problem(struct apx_ctx *, int);
static int	 needs_reauth(struct apx_cx *, int64_t, const char *);

static int
problem(struct apx_ctx *c, int status, const char *type, const char *detail)
{
	(void)apx_resp_problem(c->resp, status, type, detail, NULL);
	return 0;
}

static const struct apx_plugin *
plugin_or_404(struct apx_ctx *c, const char *name)
{
	const struct apx_plugin *pl;

	if ((pl = apx_connect_find(name)) == NULL)
		(void)problem(c, 404, "connector-not-found", "No connector of "
		    "that name is installed on this server.");
	return pl;
}

static struct apx_vault *
vault_or_503(struct apx_ctx *c)
{
	struct apx_vault *v = NULL;
	char err[256];

	if (apx_vault_get(c->conf, &v, err, sizeof(err)) != 0 || v == NULL ||
	    (apx_vault_current(v) == 0 && !apx_vault_plaintext(v))) {
		(void)apx_resp_error(c->resp, APX_ENOKEY);
		return NULL;
	}
	return v;
}

/* What a provider failure tells the caller (never the provider's body). */
static int
provider_problem(struct apx_ctx *c, int rc)
{
	switch (rc) {
	case APX_C_EUNAUTH:
		return problem(c, 400, "connector-callback-invalid", "The "
		    "provider's answer did not verify; start the connection "
		    "again.");
	case APX_C_EGRANT:
		return problem(c, 409, "connection-needs-reauth", "The "
		    "provider no longer honours this grant: connect again.");
	case APX_C_EDENIED:
	case APX_C_EINVAL:
		return problem(c, 502, "connector-provider-invalid", "The "
		    "provider answered in a way the connector does not "
		    "accept.");
	case APX_C_ETOOBIG:
		return problem(c, 502, "connector-provider-invalid", "The "
		    "provider's answer was too large.");
	default:
		(void)apx_resp_header_set(c->resp, "Retry-After", "30");
		return problem(c, 502, "connector-provider-unavailable", "The "
		    "provider could not be reached or answered an error; try "
		    "again later.");
	}
}

/* An org audit entry for a flow without c->org (the callback). */
static void
audit_entry(struct apx_ctx *c, struct apx_audit_entry *e, int64_t org,
    int64_t user, const char *action, const char *target)
{
	memset(e, 0, sizeof(*e));
	e->log = apx_arena_printf(c->req->arena, "org:%lld", (long long)org);
	e->actor_type = user > 0 ? "user" : "system";
	e->actor_id = apx_arena_printf(c->req->arena, "%lld",
	    (long long)user);
	e->action = action;
	e->target = target;
	e->client_addr = c->req->remote_addr;
	e->request_id = c->req->request_id;
}

/* 1..MAX bytes of printable text (UTF-8 allowed, no control bytes). */
static int
text_ok(const char *s, size_t max)
{
	size_t n, i, chars;

	if (s == NULL || (n = strlen(s)) == 0 || n > max * 4)
		return 0;
	if (apx_utf8_chars(s, n, &chars) != 0 || chars > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* {field: value} for plain ORG fields, {field: {set: bool}} for secret
 * ones, from the stored settings RAW. */
static json_t *
settings_view(const struct apx_plugin *pl, json_t *raw)
{
	json_t *o = json_object(), *v;
	size_t i;

	for (i = 0; o != NULL && i < pl->d->nfields; i++) {
		const struct apx_connector_field *f = &pl->d->fields[i];

		if (f->scope != APX_FIELD_ORG)
			continue;
		v = json_object_get(raw, f->name);
		if (f->type == APX_FIELD_SECRET)
			json_object_set_new(o, f->name, json_pack("{s:b}",
			    "set", v != NULL));
		else
			json_object_set_new(o, f->name, v != NULL ?
			    json_incref(json_object_get(v, "value")) :
			    json_null());
	}
	return o;
}

int
apx_connect_missing(struct apx_ctx *c)
{
	return problem(c, 404, "connection-not-found", "No such connection "
	    "in this organisation.");
}

int
apx_connect_config_get(struct apx_ctx *c, const char *name)
{
	const struct apx_plugin *pl;
	json_t *raw = NULL;
	int rc;

	if ((pl = plugin_or_404(c, name)) == NULL)
		return 0;
	if ((rc = apx_csettings_get(c->db, c->org->id, name, &raw)) != 0)
		return rc;
	rc = apx_resp_json(c->resp, 200, json_pack("{s:s, s:o}", "connector",
	    name, "config", settings_view(pl, raw)));
	json_decref(raw);
	return rc;
}

int
apx_connect_config_put(struct apx_ctx *c, const char *name, json_t *body)
{
	const struct apx_plugin *pl;
	struct apx_audit_entry e;
	struct apx_vault *v = NULL;
	json_t *raw = NULL, *changes = NULL, *before = NULL, *after = NULL;
	json_t *val, *next = NULL;
	const char *field;
	char owner[32], purpose[48], rec[48];
	int rc = 0, i, secrets = 0;

	if ((pl = plugin_or_404(c, name)) == NULL)
		return 0;
	if (!json_is_object(body))
		return problem(c, 422, "invalid-field", "The body is an "
		    "object of connector settings.");
	json_object_foreach(body, field, val) {
		const struct apx_connector_field *f;
		size_t max;

		if ((i = apx_plugin_field(pl, field)) < 0 ||
		    pl->d->fields[i].scope != APX_FIELD_ORG) {
			(void)apx_resp_problem(c->resp, 422, "invalid-field",
			    "This connector has no such setting.", field);
			return 0;
		}
		f = &pl->d->fields[i];
		max = f->max_len > 0 ? f->max_len : 256;
		if (!json_is_null(val) && (!json_is_string(val) ||
		    !text_ok(json_string_value(val), max))) {
			(void)apx_resp_problem(c->resp, 422, "invalid-field",
			    apx_arena_printf(c->req->arena, "A text of 1 to %zu "
			    "characters without control characters, or null to "
			    "clear it.", max), field);
			return 0;
		}
		secrets |= f->type == APX_FIELD_SECRET && json_is_string(val);
	}
	if (secrets && (v = vault_or_503(c)) == NULL)
		return 0;
	if ((rc = apx_csettings_get(c->db, c->org->id, name, &raw)) != 0)
		return rc;
	if ((changes = json_array()) == NULL || (next = json_deep_copy(raw))
	    == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	apx_tenant_owner(c->org->id, owner, sizeof(owner));
	snprintf(purpose, sizeof(purpose), "connector:%s", name);
	json_object_foreach(body, field, val) {
		const struct apx_connector_field *f =
		    &pl->d->fields[apx_plugin_field(pl, field)];
		unsigned char *sealed = NULL;
		size_t slen;
		char *hx;

		if (json_is_null(val)) {
			json_array_append_new(changes, json_pack("{s:s, s:n}",
			    "field", field, "value"));
			json_object_del(next, field);
			continue;
		}
		if (f->type != APX_FIELD_SECRET) {
			json_array_append_new(changes, json_pack("{s:s, s:O}",
			    "field", field, "value", val));
			json_object_set_new(next, field, json_pack("{s:O}",
			    "value", val));
			continue;
		}
		snprintf(rec, sizeof(rec), "setting:%s", field);
		if ((rc = apx_vault_seal(v, c->db, owner, purpose, rec,
		    json_string_value(val), json_string_length(val), &sealed,
		    &slen)) != 0)
			goto out;
		if ((hx = malloc(2 * slen + 3)) == NULL) {
			free(sealed);
			rc = APX_ENOMEM;
			goto out;
		}
		apx_db_hex(sealed, slen, hx);
		free(sealed);
		json_array_append_new(changes, json_pack("{s:s, s:s}", "field",
		    field, "sealed", hx));
		json_object_set_new(next, field, json_pack("{s:s}", "sealed",
		    "x"));
		free(hx);
	}
	/* PUT replaces the settings: a plain one left out is cleared. A
	 * secret one left out is kept (it is never shown, so a client
	 * cannot send it back); null clears it. */
	for (i = 0; i < (int)pl->d->nfields; i++) {
		const struct apx_connector_field *f = &pl->d->fields[i];

		if (f->scope != APX_FIELD_ORG || f->type == APX_FIELD_SECRET ||
		    json_object_get(body, f->name) != NULL ||
		    json_object_get(raw, f->name) == NULL)
			continue;
		json_array_append_new(changes, json_pack("{s:s, s:n}",
		    "field", f->name, "value"));
		json_object_del(next, f->name);
	}
	before = settings_view(pl, raw);
	after = settings_view(pl, next);
	apx_authz_audit(c, &e, "connector.config.update",
	    apx_arena_printf(c->req->arena, "connector:%s", name));
	if ((rc = apx_csettings_put(c->db, c->org->id, name, changes, &e,
	    before, after)) != 0)
		goto out;
	rc = apx_resp_json(c->resp, 200, json_pack("{s:s, s:O}", "connector",
	    name, "config", after));
out:
	json_decref(raw);
	json_decref(next);
	json_decref(changes);
	json_decref(before);
	json_decref(after);
	return rc;
}

int
apx_connect_start(struct apx_ctx *c, const char *name)
{
	const struct apx_plugin *pl;
	struct apx_authorize az;
	struct apx_vault *v;
	struct apx_cx cx;
	char state[APX_OAUTH_STATE_LEN + 1], verifier[44], challenge[44];
	char purpose[64], *data = NULL;
	const char *browser, *url = NULL;
	json_t *settings;
	size_t i;
	int rc;

	if ((pl = plugin_or_404(c, name)) == NULL)
		return 0;
	if ((v = vault_or_503(c)) == NULL)
		return 0;
	if (c->conf->public_origin == NULL)
		return problem(c, 503, "public-origin-missing", "This server "
		    "has no http.public_origin: no redirect URI can be made.");
	apx_cx_init(&cx, pl, c, c->org->id, c->auth != NULL ?
	    c->auth->uid : 0, 0);
	settings = apx_cx_settings(&cx);
	for (i = 0; i < pl->d->nfields; i++) {
		const struct apx_connector_field *f = &pl->d->fields[i];

		if (f->scope == APX_FIELD_ORG && f->required &&
		    json_object_get(settings, f->name) == NULL) {
			(void)apx_resp_problem(c->resp, 422,
			    "connector-not-configured", apx_arena_printf(
			    c->req->arena, "Set %s in this connector's "
			    "settings first.", f->name), f->name);
			rc = 0;
			goto out;
		}
	}
	if ((rc = apx_oauth_browser(c, 1, &browser)) != 0)
		goto out;
	cx.browser = browser;
	verifier[0] = challenge[0] = '\0';
	if (pl->d->pkce) {
		apx_oauth_pkce(verifier, challenge);
		data = verifier;
	}
	snprintf(purpose, sizeof(purpose), "connect:%s", name);
	if ((rc = apx_oauth_state_create(c->db, v, browser, purpose,
	    c->org->id, cx.user, data, APX_OAUTH_TTL_DEFAULT, state)) != 0)
		goto out;
	memset(&az, 0, sizeof(az));
	az.state = state;
	az.redirect_uri = apx_arena_printf(c->req->arena,
	    "%s/api/v1/connectors/%s/callback", c->conf->public_origin, name);
	az.code_challenge = pl->d->pkce ? challenge : NULL;
	az.scope = pl->scope;
	rc = pl->d->authorize(&cx, &az, &url);
	if (rc != 0 || url == NULL) {
		apx_log_warn("rid=%s connector %s: authorize failed (%d)",
		    c->req->request_id, name, rc);
		rc = rc == APX_C_EINVAL || rc == APX_C_EUNAUTH ?
		    problem(c, 422, "connector-not-configured", "The "
		    "connector refused this organisation's settings; check "
		    "them.") : provider_problem(c, rc);
		goto out;
	}
	/* A connector sends people only to its own configured provider. */
	for (i = 0; i < pl->d->nfields; i++)
		if (pl->d->fields[i].type == APX_FIELD_URL &&
		    pl->server[i] != NULL && apx_url_allowed(url,
		    apx_secret_str(pl->server[i])))
			break;
	if (i == pl->d->nfields) {
		apx_log_warn("rid=%s connector %s: authorize URL outside its "
		    "configured origins refused", c->req->request_id, name);
		rc = problem(c, 502, "connector-provider-invalid", "The "
		    "connector made an URL outside its configured provider.");
		goto out;
	}
	rc = apx_resp_json(c->resp, 200, json_pack("{s:s, s:s, s:i}",
	    "connector", name, "authorize_url", url, "expires_in",
	    APX_OAUTH_TTL_DEFAULT));
	c->resp->no_store = 1;
out:
	apx_wipe(verifier, sizeof(verifier));
	apx_wipe(state, sizeof(state));
	apx_cx_end(&cx);
	return rc;
}

static int
seal_tokens(struct apx_cx *cx, int64_t id, const char *access,
    const char *refresh, unsigned char **out, size_t *outlen)
{
	char owner[32], purpose[48], rec[64], *txt;
	json_t *j;
	int rc;

	if ((j = json_pack("{s:s, s:s?}", "access_token", access,
	    "refresh_token", refresh)) == NULL)
		return APX_ENOMEM;
	txt = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (txt == NULL)
		return APX_ENOMEM;
	apx_tenant_owner(cx->org, owner, sizeof(owner));
	snprintf(purpose, sizeof(purpose), "connector:%s", cx->pl->d->name);
	snprintf(rec, sizeof(rec), "connection:%lld:tokens", (long long)id);
	rc = apx_vault_seal(cx->v, cx->db, owner, purpose, rec, txt,
	    strlen(txt), out, outlen);
	apx_wipe(txt, strlen(txt));
	free(txt);
	return rc;
}

/* The opened tokens of R: {access_token, refresh_token?}. */
static int
open_tokens(struct apx_cx *cx, const struct apx_conn_row *r, json_t **out)
{
	char owner[32], purpose[48], rec[64];
	unsigned char *plain = NULL;
	size_t plen = 0;
	int rc;

	*out = NULL;
	if (r->tokens == NULL)
		return APX_ENOTFOUND;
	apx_tenant_owner(r->org, owner, sizeof(owner));
	snprintf(purpose, sizeof(purpose), "connector:%s", r->connector);
	snprintf(rec, sizeof(rec), "connection:%lld:tokens", (long long)r->id);
	if ((rc = apx_vault_open(cx->v, cx->db, owner, purpose, rec,
	    r->tokens, r->tokens_len, &plain, &plen)) != 0)
		return rc;
	*out = json_loadb((const char *)plain, plen, 0, NULL);
	apx_wipe(plain, plen);
	free(plain);
	if (*out == NULL || !json_is_string(json_object_get(*out,
	    "access_token"))) {
		json_decref(*out);
		*out = NULL;
		return APX_EINVAL;
	}
	apx_cx_secret(cx, json_string_value(json_object_get(*out,
	    "access_token")));
	apx_cx_secret(cx, json_string_value(json_object_get(*out,
	    "refresh_token")));
	return 0;
}

/* A well-formed token from a plugin: 1..TOKEN_MAX printable bytes. */
static int
token_ok(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= TOKEN_MAX || (unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static json_t *
accounts_json(const struct apx_exchange *x)
{
	json_t *a = json_array();
	size_t i, j;

	if (a == NULL || x->naccounts == 0 || x->naccounts > ACCOUNTS_MAX ||
	    x->accounts == NULL)
		goto bad;
	for (i = 0; i < x->naccounts; i++) {
		const struct apx_account *ac = &x->accounts[i];

		if (!text_ok(ac->id, 255) || (ac->name != NULL &&
		    !text_ok(ac->name, 255)))
			goto bad;
		for (j = 0; j < i; j++)
			if (strcmp(x->accounts[j].id, ac->id) == 0)
				break;
		if (j < i)
			continue;
		json_array_append_new(a, json_pack("{s:s, s:s?}", "id",
		    ac->id, "name", ac->name));
	}
	return a;
bad:
	json_decref(a);
	return NULL;
}

int
apx_connect_callback(struct apx_ctx *c, const char *name)
{
	const struct apx_plugin *pl;
	struct apx_oauth_state st;
	struct apx_audit_entry e;
	struct apx_callback cb;
	struct apx_exchange x;
	struct apx_vault *v;
	struct apx_param *params = NULL;
	struct apx_cx cx;
	unsigned char *sealed = NULL;
	char purpose[64];
	const char *browser, *state, *code, *err;
	json_t *accounts = NULL, *conn = NULL;
	int64_t id = 0;
	size_t i, slen = 0;
	int rc, existed = 0, may;

	memset(&st, 0, sizeof(st));
	memset(&cx, 0, sizeof(cx));
	c->resp->no_store = 1;
	if ((pl = plugin_or_404(c, name)) == NULL)
		return 0;
	if ((v = vault_or_503(c)) == NULL)
		return 0;
	if (c->conf->public_origin == NULL)
		return problem(c, 503, "public-origin-missing", "This server "
		    "has no http.public_origin: no redirect URI can be made.");
	state = apx_req_query(c->req, "state");
	if (apx_oauth_browser(c, 0, &browser) != 0 || state == NULL) {
		apx_log_info("rid=%s connector %s callback: %s",
		    c->req->request_id, name, state == NULL ? "no state" :
		    "no browser binding cookie");
		return problem(c, 400, "oauth-state-invalid", "This sign-in "
		    "link is not valid in this browser, was used already or "
		    "expired: start the connection again.");
	}
	snprintf(purpose, sizeof(purpose), "connect:%s", name);
	if ((rc = apx_oauth_state_consume(c->db, v, browser, purpose, state,
	    &st)) != 0) {
		if (rc != APX_EUNAUTH)
			return rc;
		return problem(c, 400, "oauth-state-invalid", "This sign-in "
		    "link is not valid in this browser, was used already or "
		    "expired: start the connection again.");
	}
	/* The person who started it must still be allowed to. */
	if ((may = apx_conn_may_connect(c->db, st.org, st.user)) != 1) {
		rc = may < 0 ? may : 0;
		if (may == 0) {
			apx_log_info("rid=%s connector %s callback: user %lld "
			    "may no longer connect org %lld",
			    c->req->request_id, name, (long long)st.user,
			    (long long)st.org);
			(void)problem(c, 403, "forbidden", "You may no longer "
			    "connect this organisation.");
		}
		goto out;
	}
	if ((err = apx_req_query(c->req, "error")) != NULL) {
		apx_log_info("rid=%s connector %s callback: the provider "
		    "answered an error", c->req->request_id, name);
		rc = problem(c, 400, "connector-denied", "The provider did not "
		    "grant access (consent refused or cancelled).");
		goto out;
	}
	code = apx_req_query(c->req, "code");
	if (code == NULL || !text_ok(code, CODE_MAX)) {
		rc = problem(c, 400, "connector-callback-invalid", "The "
		    "provider's answer has no valid code.");
		goto out;
	}
	apx_cx_init(&cx, pl, c, st.org, st.user, 0);
	cx.browser = browser;
	apx_cx_secret(&cx, code);
	if ((params = apx_cx_alloc(&cx, (c->req->query.n + 1) *
	    sizeof(*params))) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	for (i = 0; i < c->req->query.n; i++) {
		const struct apx_kv *kv = &c->req->query.v[i];

		if (kv->vlen != strlen(kv->value) || kv->vlen > PARAM_MAX) {
			rc = problem(c, 400, "connector-callback-invalid",
			    "The provider's answer is malformed.");
			goto out;
		}
		params[i].name = kv->key;
		params[i].value = kv->value;
	}
	memset(&cb, 0, sizeof(cb));
	cb.params = params;
	cb.nparams = c->req->query.n;
	cb.code = code;
	cb.redirect_uri = apx_arena_printf(c->req->arena,
	    "%s/api/v1/connectors/%s/callback", c->conf->public_origin, name);
	cb.code_verifier = st.data;
	cb.now = apx_unix_now();
	memset(&x, 0, sizeof(x));
	if ((rc = pl->d->exchange(&cx, &cb, &x)) != 0) {
		apx_log_warn("rid=%s connector %s: callback refused or code "
		    "exchange failed (%d)", c->req->request_id, name, rc);
		/* No connection yet: a refused code is a bad callback. */
		rc = provider_problem(c, rc == APX_C_EGRANT ? APX_C_EUNAUTH :
		    rc);
		goto out;
	}
	apx_cx_secret(&cx, x.tokens.access_token);
	apx_cx_secret(&cx, x.tokens.refresh_token);
	if (!token_ok(x.tokens.access_token) || (x.tokens.refresh_token !=
	    NULL && !token_ok(x.tokens.refresh_token)) ||
	    (accounts = accounts_json(&x)) == NULL ||
	    (x.tokens.scope != NULL && strlen(x.tokens.scope) > 2048)) {
		apx_log_warn("rid=%s connector %s: the exchange answered no "
		    "usable token or account", c->req->request_id, name);
		rc = provider_problem(c, APX_C_EINVAL);
		goto out;
	}
	if ((rc = apx_db_begin(c->db)) != 0)
		goto out;
	if ((rc = apx_conn_claim(c->db, st.org, name, accounts, st.user, &id,
	    &existed)) != 0 ||
	    (rc = seal_tokens(&cx, id, x.tokens.access_token,
	    x.tokens.refresh_token, &sealed, &slen)) != 0 ||
	    (rc = apx_conn_set_tokens(c->db, id, sealed, slen,
	    x.tokens.expires_in, x.tokens.refresh_expires_in,
	    x.tokens.scope != NULL ? x.tokens.scope : pl->scope, accounts, 0))
	    != 0 || (rc = apx_conn_get(c->db, st.org, id, &conn)) != 0) {
		apx_db_rollback(c->db);
		goto out;
	}
	audit_entry(c, &e, st.org, st.user, existed ? "connector.reauth" :
	    "connector.connect", apx_arena_printf(c->req->arena,
	    "connection:%lld", (long long)id));
	if ((rc = apx_audit_commit(c->db, &e, NULL, conn)) != 0)
		goto out;
	(void)apx_resp_header_set(c->resp, "Location", apx_arena_printf(
	    c->req->arena, "%s/app/connectors?connected=%s&connection=%lld",
	    c->conf->public_origin, name, (long long)id));
	rc = apx_resp_json(c->resp, 303, json_pack("{s:O}", "connection",
	    conn));
out:
	free(sealed);
	json_decref(accounts);
	json_decref(conn);
	apx_oauth_state_clear(&st);
	if (cx.pl != NULL)
		apx_cx_end(&cx);
	return rc;
}

/* Mark connection ID needs_reauth (REASON), audited as the system, in
 * the transaction the caller opened. */
static int
needs_reauth(struct apx_cx *cx, int64_t id, const char *reason)
{
	struct apx_audit_entry e;
	char log[32], target[48];
	json_t *after = NULL;
	int rc;

	if ((rc = apx_conn_mark(cx->db, id, reason)) != 0 ||
	    (rc = apx_conn_get(cx->db, cx->org, id, &after)) != 0) {
		apx_db_rollback(cx->db);
		return rc;
	}
	snprintf(log, sizeof(log), "org:%lld", (long long)cx->org);
	snprintf(target, sizeof(target), "connection:%lld", (long long)id);
	memset(&e, 0, sizeof(e));
	e.log = log;
	e.actor_type = "system";
	e.actor_id = "0";
	e.action = "connector.needs_reauth";
	e.target = target;
	e.client_addr = cx->c != NULL ? cx->c->req->remote_addr : "";
	e.request_id = cx->rid != NULL ? cx->rid : "";
	rc = apx_audit_commit(cx->db, &e, NULL, after);
	json_decref(after);
	return rc;
}

/*
 * The access token of connection ID, refreshed first when it expires
 * within REFRESH_MARGIN, or when REFUSED (not NULL: the provider refused
 * that token) is still the stored one: under the row's lock, so that one
 * refresh token is spent once however many workers need it; the new pair
 * committed before it is used. On invalid_grant the row is read again (a
 * pair another run committed is used) before it is marked needs_reauth.
 * APX_ECONFLICT: needs re-auth (marked, audited); APX_EIO: the refresh
 * failed (*PRC the plugin's code).
 */
int
apx_connect_access(struct apx_cx *cx, int64_t id, const char *refused,
    const char **access, const char **account, int *prc_out)
{
	struct apx_conn_row r;
	struct apx_tokens nt;
	unsigned char *sealed = NULL;
	const char *rt, *at, *spent = NULL;
	json_t *tok = NULL;
	size_t slen;
	int rc, again = 0, prc = 0;

	*access = *account = NULL;
	*prc_out = 0;
retry:
	memset(&r, 0, sizeof(r));
	if ((rc = apx_db_begin(cx->db)) != 0)
		return rc;
	if ((rc = apx_conn_read(cx->db, cx->org, id, 1, &r)) != 0)
		goto fail;
	if (r.needs_reauth) {
		apx_db_rollback(cx->db);
		apx_conn_row_clear(&r);
		*prc_out = APX_C_EGRANT;
		return APX_ECONFLICT;
	}
	if ((rc = open_tokens(cx, &r, &tok)) != 0)
		goto fail;
	*account = apx_cx_dup(cx, r.first_account, 255);
	rt = json_string_value(json_object_get(tok, "refresh_token"));
	at = json_string_value(json_object_get(tok, "access_token"));
	if ((refused == NULL || strcmp(refused, at) != 0) &&
	    (r.access_expires == 0 || r.access_expires > apx_unix_now() +
	    REFRESH_MARGIN)) {
		*access = apx_cx_dup(cx, at, TOKEN_MAX);
		rc = apx_db_commit(cx->db);
		goto out;
	}
	if (again && spent != NULL && rt != NULL && strcmp(spent, rt) == 0)
		goto grant;	/* nobody refreshed it since: consent is gone */
	if (rt == NULL || cx->pl->d->refresh == NULL)
		goto grant;
	spent = apx_cx_dup(cx, rt, TOKEN_MAX);
	memset(&nt, 0, sizeof(nt));
	prc = cx->pl->d->refresh(cx, rt, &nt);
	if (prc == APX_C_EGRANT && !again) {
		/* Re-read: a pair committed by another run is used. */
		apx_db_rollback(cx->db);
		apx_conn_row_clear(&r);
		json_decref(tok);
		tok = NULL;
		again = 1;
		refused = NULL;
		goto retry;
	}
	if (prc == APX_C_EGRANT)
		goto grant;
	apx_cx_secret(cx, nt.access_token);
	apx_cx_secret(cx, nt.refresh_token);
	if (prc != 0 || !token_ok(nt.access_token) ||
	    (nt.refresh_token != NULL && !token_ok(nt.refresh_token))) {
		apx_db_rollback(cx->db);
		apx_log_warn("rid=%s connector %s: refresh of connection %lld "
		    "failed (%d)", cx->rid != NULL ? cx->rid : "-",
		    cx->pl->d->name, (long long)id, prc);
		(void)apx_conn_note(cx->db, id, "refresh_failed");
		*prc_out = prc != 0 ? prc : APX_C_EINVAL;
		rc = APX_EIO;
		goto out;
	}
	/* The new pair (the old refresh token when none came) is committed
	 * before the new access token is used. */
	if ((rc = seal_tokens(cx, id, nt.access_token, nt.refresh_token !=
	    NULL ? nt.refresh_token : rt, &sealed, &slen)) != 0 ||
	    (rc = apx_conn_set_tokens(cx->db, id, sealed, slen, nt.expires_in,
	    nt.refresh_expires_in, nt.scope, NULL, 1)) != 0)
		goto fail;
	if ((rc = apx_db_commit(cx->db)) != 0)
		goto out;
	*access = nt.access_token;
	goto out;
grant:
	apx_log_info("rid=%s connector %s: connection %lld needs re-auth",
	    cx->rid != NULL ? cx->rid : "-", cx->pl->d->name, (long long)id);
	if ((rc = needs_reauth(cx, id, "invalid_grant")) == 0) {
		*prc_out = APX_C_EGRANT;
		rc = APX_ECONFLICT;
	}
	goto out;
fail:
	apx_db_rollback(cx->db);
out:
	free(sealed);
	json_decref(tok);
	apx_conn_row_clear(&r);
	return rc;
}

/* apx_connect_access for a request: a failure is answered. */
static int
fresh_access(struct apx_ctx *c, struct apx_cx *cx, int64_t id,
    const char **access, const char **account)
{
	int rc, prc;

	rc = apx_connect_access(cx, id, NULL, access, account, &prc);
	if (rc == APX_ECONFLICT || rc == APX_EIO)
		(void)provider_problem(c, prc);
	return rc;
}

int
apx_connect_check(struct apx_ctx *c, int64_t id)
{
	struct apx_conn_row r;
	const struct apx_plugin *pl;
	struct apx_cx cx;
	const char *access, *account;
	json_t *conn = NULL;
	int rc, prc;

	if ((rc = apx_conn_read(c->db, c->org->id, id, 0, &r)) != 0)
		return rc == APX_ENOTFOUND ?
		    apx_connect_missing(c) : rc;
	pl = apx_connect_find(r.connector);
	apx_conn_row_clear(&r);
	if (vault_or_503(c) == NULL)
		return 0;
	if (pl == NULL)
		return problem(c, 409, "connector-not-installed", "The "
		    "connector of this connection is not installed on this "
		    "server.");
	apx_cx_init(&cx, pl, c, c->org->id, c->auth != NULL ?
	    c->auth->uid : 0, id);
	if ((rc = fresh_access(c, &cx, id, &access, &account)) != 0) {
		if (rc == APX_ECONFLICT || rc == APX_EIO)
			rc = 0;		/* answered */
		goto out;
	}
	prc = pl->d->check != NULL ? pl->d->check(&cx, access, account) : 0;
	if (prc == APX_C_EGRANT) {
		if ((rc = apx_db_begin(c->db)) == 0 &&
		    (rc = needs_reauth(&cx, id, "invalid_grant")) == 0)
			(void)provider_problem(c, APX_C_EGRANT);
		goto out;
	}
	if (prc != 0) {
		(void)apx_conn_note(c->db, id, "check_failed");
		rc = provider_problem(c, prc);
		goto out;
	}
	(void)apx_conn_note(c->db, id, NULL);
	if ((rc = apx_conn_get(c->db, c->org->id, id, &conn)) == 0)
		rc = apx_resp_json(c->resp, 200, json_pack("{s:b, s:O}", "ok",
		    1, "connection", conn));
out:
	json_decref(conn);
	apx_cx_end(&cx);
	return rc;
}

int
apx_connect_disconnect(struct apx_ctx *c, int64_t id)
{
	struct apx_audit_entry e;
	struct apx_conn_row r;
	const struct apx_plugin *pl;
	struct apx_tokens t;
	struct apx_cx cx;
	json_t *tok = NULL, *before = NULL;
	int rc, prc = 0;

	memset(&cx, 0, sizeof(cx));
	memset(&r, 0, sizeof(r));
	if ((rc = apx_db_begin(c->db)) != 0)
		return rc;
	if ((rc = apx_conn_read(c->db, c->org->id, id, 1, &r)) != 0) {
		apx_db_rollback(c->db);
		return rc == APX_ENOTFOUND ?
		    apx_connect_missing(c) : rc;
	}
	if ((rc = apx_conn_get(c->db, c->org->id, id, &before)) != 0)
		goto fail;
	/* Revoked at the provider first (best effort: a provider that is
	 * down does not keep the secrets here), then erased. */
	if ((pl = apx_connect_find(r.connector)) != NULL &&
	    pl->d->revoke != NULL) {
		apx_cx_init(&cx, pl, c, c->org->id, c->auth->uid, id);
		if (cx.v != NULL && open_tokens(&cx, &r, &tok) == 0) {
			memset(&t, 0, sizeof(t));
			t.access_token = json_string_value(json_object_get(tok,
			    "access_token"));
			t.refresh_token = json_string_value(json_object_get(
			    tok, "refresh_token"));
			prc = pl->d->revoke(&cx, &t);
			if (prc != 0)
				apx_log_warn("rid=%s connector %s: revocation "
				    "of connection %lld failed (%d); its "
				    "secrets are erased here anyway",
				    c->req->request_id, r.connector,
				    (long long)id, prc);
		}
	}
	if ((rc = apx_conn_delete(c->db, c->org->id, id)) != 0)
		goto fail;
	json_object_set_new(before, "revoked_at_provider", json_boolean(
	    pl != NULL && pl->d->revoke != NULL && tok != NULL && prc == 0));
	apx_authz_audit(c, &e, "connector.disconnect",
	    apx_arena_printf(c->req->arena, "connection:%lld", (long long)id));
	if ((rc = apx_audit_commit(c->db, &e, before, NULL)) != 0)
		goto out;
	c->resp->status = 204;
	goto out;
fail:
	apx_db_rollback(c->db);
out:
	json_decref(tok);
	json_decref(before);
	apx_conn_row_clear(&r);
	if (cx.pl != NULL)
		apx_cx_end(&cx);
	return rc;
}

int
apx_connect_patch(struct apx_ctx *c, int64_t id, json_t *body)
{
	struct apx_audit_entry e;
	json_t *before = NULL, *after = NULL, *ws;
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach(body, k, v)
		if (strcmp(k, "workspace_id") != 0)
			return apx_resp_problem(c->resp, 422, "invalid-field",
			    "Only workspace_id can be changed.", k);
	ws = json_object_get(body, "workspace_id");
	if (ws == NULL || !(json_is_null(ws) || (json_is_integer(ws) &&
	    json_integer_value(ws) > 0)))
		return apx_resp_problem(c->resp, 422, "invalid-field",
		    "workspace_id is the id of one of the organisation's "
		    "workspaces, or null for its first.", "workspace_id");
	if ((rc = apx_conn_get(c->db, c->org->id, id, &before)) != 0)
		return rc == APX_ENOTFOUND ? apx_connect_missing(c) : rc;
	if ((rc = apx_db_begin(c->db)) != 0)
		goto out;
	rc = apx_conn_set_workspace(c->db, c->org->id, id, json_is_null(ws) ?
	    0 : (int64_t)json_integer_value(ws));
	if (rc == APX_ENOTFOUND) {
		apx_db_rollback(c->db);
		rc = apx_resp_problem(c->resp, 422, "invalid-field", "The "
		    "organisation has no such workspace.", "workspace_id");
		goto out;
	}
	if (rc != 0 || (rc = apx_conn_get(c->db, c->org->id, id, &after)) !=
	    0) {
		apx_db_rollback(c->db);
		goto out;
	}
	apx_authz_audit(c, &e, "connector.update", apx_arena_printf(
	    c->req->arena, "connection:%lld", (long long)id));
	if ((rc = apx_audit_commit(c->db, &e, before, after)) != 0)
		goto out;
	rc = apx_resp_json(c->resp, 200, json_incref(after));
out:
	json_decref(before);
	json_decref(after);
	return rc;
}

int
apx_connect_sync_request(struct apx_ctx *c, int64_t id)
{
	struct apx_audit_entry e;
	struct apx_conn_row r;
	const struct apx_plugin *pl;
	int rc, queued;

	if ((rc = apx_conn_read(c->db, c->org->id, id, 0, &r)) != 0)
		return rc == APX_ENOTFOUND ? apx_connect_missing(c) : rc;
	pl = apx_connect_find(r.connector);
	rc = r.needs_reauth;
	apx_conn_row_clear(&r);
	if (pl == NULL || pl->d->sync == NULL || pl->d->abi_minor < 1)
		return problem(c, 409, "connector-cannot-sync", "The connector "
		    "of this connection cannot sync on this server.");
	if (rc)
		return provider_problem(c, APX_C_EGRANT);
	if ((rc = apx_db_begin(c->db)) != 0)
		return rc;
	if ((rc = apx_job_enqueue_sync(c->db, c->org->id, id, &queued)) != 0) {
		apx_db_rollback(c->db);
		return rc;
	}
	apx_authz_audit(c, &e, "connector.sync", apx_arena_printf(
	    c->req->arena, "connection:%lld", (long long)id));
	if ((rc = apx_audit_commit(c->db, &e, NULL, NULL)) != 0)
		return rc;
	return apx_resp_json(c->resp, 202, json_pack("{s:b, s:I}", "queued",
	    queued, "connection_id", (json_int_t)id));
}
