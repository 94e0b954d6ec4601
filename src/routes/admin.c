/*
 * /admin/api/...: the platform console (superusers only: the router has
 * checked). Every change is in the platform audit log.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth/session.h"
#include "authz/authz.h"
#include "authz/perm.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/admin.h"
#include "store/audit.h"
#include "store/orgs.h"
#include "store/settings.h"

#define IMPERSONATION_TTL	600
#define MAX_REASON		500

static int	 page_args(struct apx_ctx *, const char **, int *, long long *);
static int	 search(struct apx_ctx *, int (*)(struct apx_db *, const char *,
		    int, long long, json_t **));

/* ?q=&limit=&cursor= ; on refusal the 422 is set and -1 returned. */
static int
page_args(struct apx_ctx *c, const char **q, int *limit, long long *after)
{
	const char *v;
	long long n;

	*q = apx_req_query(c->req, "q");
	*limit = 50;
	*after = 0;
	if (*q != NULL && (**q == '\0' || strlen(*q) > 200))
		*q = NULL;
	if ((v = apx_req_query(c->req, "limit")) != NULL) {
		if (apx_parse_ll(v, 1, 500, &n) != 0) {
			(void)apx_resp_problem(c->resp, 422, "invalid-field",
			    "limit is 1 to 500.", "limit");
			return -1;
		}
		*limit = (int)n;
	}
	if ((v = apx_req_query(c->req, "cursor")) != NULL &&
	    apx_parse_ll(v, 0, INT64_MAX, after) != 0) {
		(void)apx_resp_problem(c->resp, 422, "invalid-field",
		    "cursor is a next_cursor value of an earlier page.",
		    "cursor");
		return -1;
	}
	return 0;
}

/* A search page of orgs or users. */
static int
search(struct apx_ctx *c, int (*fn)(struct apx_db *, const char *, int,
    long long, json_t **))
{
	const char *q;
	long long after;
	json_t *page;
	int limit, rc;

	if (page_args(c, &q, &limit, &after) != 0)
		return 0;
	if ((rc = fn(c->db, q, limit, after, &page)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, page);
}

int
apx_route_admin_orgs(struct apx_ctx *c)
{
	return search(c, apx_admin_orgs);
}

int
apx_route_admin_users(struct apx_ctx *c)
{
	return search(c, apx_admin_users);
}

int
apx_route_admin_org_get(struct apx_ctx *c)
{
	const char *slug = apx_req_param(c->req, "org");
	json_t *org;
	int rc;

	if (!apx_org_slug_valid(slug))
		return APX_ENOTFOUND;
	if ((rc = apx_admin_org(c->db, slug, &org)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "org", org));
}

int
apx_route_admin_org_patch(struct apx_ctx *c)
{
	struct apx_audit_entry pe, oe;
	const char *slug = apx_req_param(c->req, "org"), *ps;
	json_t *body, *org;
	int plan, rc = 0;

	if (!apx_org_slug_valid(slug))
		return APX_ENOTFOUND;
	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "plan", 16, 1, &ps, NULL) != 0)
		goto out;
	if ((plan = apx_plan_parse(ps)) == APX_PLAN_NONE) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "The plan is one of free, growth, agency.", "plan");
		goto out;
	}
	if ((rc = apx_admin_org(c->db, slug, &org)) != 0)
		goto out;
	apx_authz_audit(c, &pe, "org.plan_change", slug);
	oe = pe;
	rc = apx_org_set_plan(c->db, json_integer_value(json_object_get(org,
	    "id")), plan, &pe, &oe);
	json_decref(org);
	if (rc != 0)
		goto out;
	apx_log_info("rid=%s operator %lld set the plan of %s to %s",
	    c->req->request_id, (long long)c->auth->uid, slug,
	    apx_plan_name(plan));
	json_decref(body);
	return apx_route_admin_org_get(c);
out:
	json_decref(body);
	return rc;
}

int
apx_route_admin_settings_get(struct apx_ctx *c)
{
	return apx_route_internal_settings_get(c);
}

int
apx_route_admin_settings_patch(struct apx_ctx *c)
{
	struct apx_audit_entry e;

	apx_authz_audit(c, &e, "settings.update", "platform_settings");
	return apx_route_settings_patch(c, &e);
}

int
apx_route_admin_impersonate(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *reason;
	char *tok = NULL;
	json_t *body, *uv;
	int64_t id;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	uv = json_object_get(body, "user_id");
	if (!json_is_integer(uv) || json_integer_value(uv) <= 0) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "user_id is the id of a user.", "user_id");
		goto out;
	}
	/* Operators say why; the reason goes into the audit logs. */
	if (apx_route_name(c, body, "reason", MAX_REASON, &reason) != 0)
		goto out;
	apx_authz_audit(c, &e, "impersonation.start", apx_arena_printf(
	    c->req->arena, "user:%lld", (long long)json_integer_value(uv)));
	rc = apx_impersonation_start(c->db, c->auth->uid,
	    json_integer_value(uv), reason, IMPERSONATION_TTL, &e, &id);
	if (rc == APX_ENOTFOUND) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "There is no user with this id.", "user_id");
		goto out;
	}
	if (rc == APX_EINVAL) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "Platform operators cannot be impersonated.", "user_id");
		goto out;
	}
	if (rc != 0 || (rc = apx_session_impersonation_token(c,
	    json_integer_value(uv), c->auth->uid, id, IMPERSONATION_TTL,
	    &tok)) != 0)
		goto out;
	apx_log_info("rid=%s operator %lld impersonates user %lld (grant "
	    "%lld)", c->req->request_id, (long long)c->auth->uid,
	    (long long)json_integer_value(uv), (long long)id);
	c->resp->no_store = 1;
	rc = apx_resp_json(c->resp, 201, json_pack("{s:I,s:s,s:s,s:I}",
	    "impersonation_id", (json_int_t)id, "access_token", tok,
	    "token_type", "Bearer", "expires_in",
	    (json_int_t)IMPERSONATION_TTL));
	apx_wipe(tok, strlen(tok));
	free(tok);
out:
	json_decref(body);
	return rc;
}

int
apx_route_admin_impersonate_end(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	int64_t id;
	int rc;

	if ((rc = apx_route_id(c, "id", &id)) != 0)
		return rc;
	apx_authz_audit(c, &e, "impersonation.end", apx_arena_printf(
	    c->req->arena, "impersonation:%lld", (long long)id));
	if ((rc = apx_impersonation_end(c->db, id, &e)) != 0)
		return rc;
	c->resp->status = 204;
	return 0;
}
