/*
 * Retention: GET|PUT /api/v1/orgs/{org}/retention {upload_days,
 * workspaces: [{workspace_id, upload_days}]} and the purge behind
 * POST /internal/retention/run.
 */
#include "config.h"

#include <string.h>

#include "authz/authz.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/retention.h"

#define WS_POLICIES_MAX		1000

static int	 bad(struct apx_ctx *, const char *, const char *);
static int	 days_ok(json_t *);
static int	 check(struct apx_ctx *, json_t *);

static int
bad(struct apx_ctx *c, const char *field, const char *detail)
{
	(void)apx_resp_problem(c->resp, 422, "invalid-field", detail, field);
	return APX_EINVAL;
}

static int
days_ok(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 1 &&
	    json_integer_value(v) <= APX_RETENTION_DAYS_MAX;
}

static int
check(struct apx_ctx *c, json_t *body)
{
	json_t *v, *ws, *w;
	const char *k;
	size_t i, j;

	json_object_foreach(body, k, v) {
		if (strcmp(k, "upload_days") != 0 && strcmp(k, "workspaces") != 0)
			return bad(c, k, "Unknown field.");
	}
	v = json_object_get(body, "upload_days");
	if (v != NULL && !json_is_null(v) && !days_ok(v))
		return bad(c, "upload_days", "upload_days is 1 to 3650 days, "
		    "or null to keep uploads until deleted.");
	ws = json_object_get(body, "workspaces");
	if (ws == NULL)
		return 0;
	if (!json_is_array(ws) || json_array_size(ws) > WS_POLICIES_MAX)
		return bad(c, "workspaces", "workspaces is a list of "
		    "{workspace_id, upload_days}.");
	json_array_foreach(ws, i, w) {
		json_t *id = json_object_get(w, "workspace_id");

		if (!json_is_object(w) || json_object_size(w) != 2 ||
		    !json_is_integer(id) || json_integer_value(id) < 1 ||
		    !days_ok(json_object_get(w, "upload_days")))
			return bad(c, "workspaces", "Each entry is "
			    "{workspace_id, upload_days: 1 to 3650}.");
		for (j = 0; j < i; j++)
			if (json_integer_value(json_object_get(json_array_get(
			    ws, j), "workspace_id")) == json_integer_value(id))
				return bad(c, "workspaces", "A workspace is "
				    "listed twice.");
	}
	return 0;
}

int
apx_route_retention_get(struct apx_ctx *c)
{
	json_t *pol;
	int rc;

	if ((rc = apx_retention_get(c->db, c->org->id, &pol)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, pol);
}

int
apx_route_retention_put(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	json_t *body, *pol = NULL;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (check(c, body) != 0)
		goto out;
	apx_authz_audit(c, &e, "retention.update", "retention");
	rc = apx_retention_put(c->db, c->org->id, body, &e);
	if (rc == APX_ENOTFOUND) {
		(void)bad(c, "workspaces", "A workspace_id is not a workspace "
		    "of this organisation.");
		rc = 0;
		goto out;
	}
	if (rc == 0 && (rc = apx_retention_get(c->db, c->org->id, &pol)) == 0)
		rc = apx_resp_json(c->resp, 200, pol);
out:
	json_decref(body);
	return rc;
}

int
apx_route_internal_retention_run(struct apx_ctx *c)
{
	struct apx_retention_report r;
	int rc;

	if ((rc = apx_retention_purge(c->db, c->tenants, c->req->request_id,
	    &r)) != 0) {
		json_decref(r.failed);
		return rc;
	}
	return apx_resp_json(c->resp, 200, json_pack("{s:I,s:I,s:I,s:o}",
	    "orgs", (json_int_t)r.orgs, "uploads_deleted",
	    (json_int_t)r.uploads, "forecasts_deleted",
	    (json_int_t)r.forecasts, "failed_orgs", r.failed));
}
