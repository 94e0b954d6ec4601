/*
 * The router's authorisation step: the permission row of the matched
 * route (perm.c) against the authenticated caller, the organisation of the
 * path and the caller's membership, read from the database on every
 * request. Order and answers are those of docs/api.md.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth/authcache.h"
#include "auth/session.h"
#include "authz/authz.h"
#include "authz/cidr.h"
#include "authz/perm.h"
#include "core/log.h"
#include "http/ctx.h"
#include "http/router.h"
#include "store/admin.h"
#include "store/audit.h"
#include "store/orgs.h"

static int	 deny(struct apx_ctx *, int, const char *, const char *);
static int	 org_route(struct apx_ctx *, const struct apx_perm *,
		    struct apx_org *);
static int	 address_allowed(struct apx_ctx *, const char *);
static int	 record_use(struct apx_ctx *);

static int
deny(struct apx_ctx *c, int status, const char *type, const char *detail)
{
	if (status == 404)
		(void)apx_resp_error(c->resp, APX_ENOTFOUND);
	else
		(void)apx_resp_problem(c->resp, status, type, detail, NULL);
	return APX_EUNAUTH;
}

static int
address_allowed(struct apx_ctx *c, const char *list)
{
	struct apx_cidr_list l = { NULL, 0 };
	struct apx_cidr addr;
	int ok;

	if (*list == '\0')
		return 1;
	if (apx_cidr_list_parse(list, &l, NULL) != 0) {
		/* Stored lists are canonical; refuse rather than open up. */
		apx_log_error("rid=%s unreadable IP allowlist",
		    c->req->request_id);
		return 0;
	}
	ok = apx_ip_parse(c->req->remote_addr, &addr) == 0 &&
	    apx_cidr_list_match(&l, &addr);
	apx_cidr_list_free(&l);
	return ok;
}

static int
org_route(struct apx_ctx *c, const struct apx_perm *p, struct apx_org *org)
{
	const struct apx_auth *a = c->auth;
	const char *wsp = apx_req_param(c->req, "ws");
	struct apx_org_access acc;
	long long ws = 0;
	int key = a->kind == APX_AUTH_APIKEY, role, rc;

	if (wsp != NULL && apx_parse_ll(wsp, 1, INT64_MAX, &ws) != 0)
		return deny(c, 404, NULL, NULL);
	if (a->org_ready) {
		/* Read with the session or the API key: same query shape. */
		acc = a->org;
		rc = acc.id > 0 ? 0 : APX_ENOTFOUND;
	} else {
		const char *slug = apx_req_param(c->req, "org");
		int64_t allow = key ? (ws > 0 ? ws : a->key_ws) : 0;

		/* API keys and impersonations: the worker's cache first
		 * (auth/authcache.h), kept only for an org that exists */
		rc = apx_authcache_org(slug, a->uid, ws, allow, c->req->arena,
		    &acc);
		if (rc == APX_ENOTFOUND) {
			rc = apx_org_access(c->db, c->req->arena, slug, a->uid,
			    ws, allow, &acc);
			if (rc == 0 && acc.role != APX_ROLE_NONE)
				apx_authcache_org_put(slug, a->uid, ws, allow,
				    &acc);
		}
	}
	if (rc == APX_ENOTFOUND)
		return deny(c, 404, NULL, NULL);
	if (rc != 0)
		return rc;
	/* An org being erased is gone for everything but finishing that. */
	if (acc.status == APX_ORG_ERASED || (acc.status == APX_ORG_ERASING &&
	    strcmp(p->name, "privacy.erase") != 0))
		return deny(c, 404, NULL, NULL);
	role = acc.role;
	if (key) {
		/* Another org's key, or a scoped key outside its workspace,
		 * sees nothing. */
		if (acc.id != a->key_org || (a->key_ws > 0 && ws != a->key_ws))
			return deny(c, 404, NULL, NULL);
		/*
		 * Never above the current role of its holder (acc: the
		 * creator, or the owner who rotated it) nor of its
		 * creator; dead once either has left the org.
		 */
		if (acc.role == APX_ROLE_NONE ||
		    a->key_creator_role == APX_ROLE_NONE) {
			(void)apx_resp_header_set(c->resp, "WWW-Authenticate",
			    "Bearer realm=\"accupredix\"");
			return deny(c, 401, "unauthenticated",
			    "The API key is no longer valid.");
		}
		role = a->key_role < acc.role ? a->key_role : acc.role;
		if (a->key_creator_role < role)
			role = a->key_creator_role;
	} else if (role == APX_ROLE_NONE)
		return deny(c, 404, NULL, NULL);
	if (ws > 0 && acc.ws != ws)
		return deny(c, 404, NULL, NULL);
	/*
	 * An org that requires a second factor or its SSO: a member signed
	 * in with neither may still set one up (user routes), not come in.
	 * API keys are not people.
	 */
	if (!key && acc.mfa_refused)
		return deny(c, 403, "mfa-required", "This organisation "
		    "requires a second factor or its SSO: set up a second "
		    "factor (/api/v1/me/mfa) and sign in again.");
	if (key && !address_allowed(c, acc.allowlist))
		return deny(c, 403, "address-not-allowed",
		    "This API key may not be used from this address for this "
		    "workspace.");
	if (key && p->user_only)
		return deny(c, 403, "api-key-not-allowed",
		    "API keys cannot do this; sign in as a person.");
	if (role < (int)p->role)
		return deny(c, 403, "forbidden",
		    "Your role in this organisation does not allow this.");
	if (acc.plan < (int)p->plan)
		return deny(c, 402, "plan-required",
		    apx_arena_printf(c->req->arena, "This needs the %s plan "
		    "or higher.", apx_plan_name(p->plan)));
	org->id = acc.id;
	org->slug = apx_req_param(c->req, "org");
	org->name = acc.name;
	org->region = acc.region;
	org->plan = acc.plan;
	org->role = role;
	org->ws = ws;
	c->org = org;
	return 0;
}

/* Each request made with an impersonation token is audited before it
 * runs; a failed write refuses the request. */
static int
record_use(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	json_t *after;
	int rc;

	apx_authz_audit(c, &e, "impersonation.use",
	    apx_arena_printf(c->req->arena, "user:%lld",
	    (long long)c->auth->uid));
	e.log = APX_AUDIT_PLATFORM;
	after = json_pack("{s:I,s:s,s:s}", "impersonation",
	    (json_int_t)c->auth->imp_id, "method", c->req->method_str,
	    "route", c->req->route->pattern);
	e.after = after;
	rc = apx_impersonation_use(c->db, c->org != NULL ? c->org->id : 0, &e);
	json_decref(after);
	return rc;
}

int
apx_authz_route(struct apx_ctx *c, struct apx_org *org)
{
	const struct apx_perm *p = c->perm;
	const struct apx_auth *a = c->auth;
	int rc = 0;

	c->org = NULL;
	if (p == NULL)		/* apx_routes_check refuses this at start */
		return deny(c, 404, NULL, NULL);
	if (a->kind == APX_AUTH_IMPERSONATION &&
	    !(c->req->method & (APX_M_GET | APX_M_HEAD)))
		return deny(c, 403, "impersonation-read-only",
		    "An impersonation token can only read.");
	switch (p->scope) {
	case APX_SCOPE_USER:
		if (a->kind == APX_AUTH_APIKEY)
			return deny(c, 403, "api-key-not-allowed",
			    "API keys cannot do this; sign in as a person.");
		if (p->verified && !a->user.email_verified)
			return deny(c, 403, "email-unverified", "Confirm your "
			    "email address first: follow the link we mailed "
			    "you (POST /api/v1/me/verify-email sends a new "
			    "one).");
		break;
	case APX_SCOPE_SUPERUSER:
		if (a->kind != APX_AUTH_USER || !a->user.is_superuser)
			return deny(c, 404, NULL, NULL);
		break;
	case APX_SCOPE_ORG:
		if ((rc = org_route(c, p, org)) != 0)
			return rc;
		break;
	default:
		break;
	}
	if (a->kind == APX_AUTH_IMPERSONATION)
		rc = record_use(c);
	return rc;
}

int
apx_authz_key_rotator(const struct apx_ctx *c, int64_t creator)
{
	/* A rotation hands the key's new secret to the caller. */
	return c->org != NULL && (c->org->role == APX_ROLE_OWNER ||
	    (c->auth->kind == APX_AUTH_USER && c->auth->uid == creator));
}

void
apx_authz_audit(const struct apx_ctx *c, struct apx_audit_entry *e,
    const char *action, const char *target)
{
	const struct apx_auth *a = c->auth;
	int64_t id = 0;

	memset(e, 0, sizeof(*e));
	e->log = c->org != NULL ? apx_arena_printf(c->req->arena, "org:%lld",
	    (long long)c->org->id) : APX_AUDIT_PLATFORM;
	e->actor_type = "user";
	if (a != NULL) {
		id = a->uid;
		if (a->kind == APX_AUTH_APIKEY) {
			e->actor_type = "api_key";
			id = a->key_id;
		} else if (a->kind == APX_AUTH_IMPERSONATION) {
			e->actor_type = "operator";
			id = a->operator_id;
		} else if (a->user.is_superuser && c->org == NULL)
			e->actor_type = "operator";
	}
	e->actor_id = apx_arena_printf(c->req->arena, "%lld", (long long)id);
	e->action = action;
	e->target = target != NULL ? target : "";
	e->client_addr = c->req->remote_addr;
	e->request_id = c->req->request_id;
}

void
apx_authz_client_addr(const struct apx_conf *conf, struct apx_request *req)
{
	char out[APX_IP_STRLEN];
	const char *s;

	req->peer_addr = req->remote_addr;
	if (conf->trusted_proxies == NULL || conf->trusted_proxies->n == 0)
		return;
	if (apx_client_addr(conf->trusted_proxies, req->remote_addr,
	    apx_req_header(req, "x-forwarded-for"), out, sizeof(out)) == 0 &&
	    (s = apx_arena_strdup(req->arena, out)) != NULL)
		req->remote_addr = s;
}
