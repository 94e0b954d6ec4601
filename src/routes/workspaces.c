/* Workspaces of an organisation and their IP allowlists. */
#include "config.h"

#include <string.h>

#include "authz/authz.h"
#include "authz/cidr.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/orgs.h"
#include "store/uploads.h"

#define MAX_WS_NAME	100

static int	 exists(struct apx_ctx *);
static const char *ws_target(struct apx_ctx *);

static int
exists(struct apx_ctx *c)
{
	return apx_resp_problem(c->resp, 409, "workspace-exists",
	    "The organisation has a workspace of this name.", "name");
}

static const char *
ws_target(struct apx_ctx *c)
{
	return apx_arena_printf(c->req->arena, "workspace:%lld",
	    (long long)c->org->ws);
}

int
apx_route_workspaces_list(struct apx_ctx *c)
{
	PGresult *list;
	int rc;

	if ((rc = apx_workspace_list(c->db, c->org->id, &list)) != 0)
		return rc;
	return apx_route_json_res(c, 200, list);
}

int
apx_route_workspaces_create(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *name;
	json_t *body, *ws;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_name(c, body, "name", MAX_WS_NAME, &name) != 0)
		goto out;
	apx_authz_audit(c, &e, "workspace.create", name);
	rc = apx_workspace_create(c->db, c->org->id, name, &e, &ws);
	if (rc == APX_ECONFLICT)
		rc = exists(c);
	else if (rc == 0)
		rc = apx_resp_json(c->resp, 201, json_pack("{s:o}",
		    "workspace", ws));
out:
	json_decref(body);
	return rc;
}

int
apx_route_workspace_get(struct apx_ctx *c)
{
	json_t *ws;
	int rc;

	if ((rc = apx_workspace_get(c->db, c->org->id, c->org->ws, &ws)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "workspace",
	    ws));
}

int
apx_route_workspace_patch(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *name;
	json_t *body, *ws;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_name(c, body, "name", MAX_WS_NAME, &name) != 0)
		goto out;
	apx_authz_audit(c, &e, "workspace.update", ws_target(c));
	rc = apx_workspace_rename(c->db, c->org->id, c->org->ws, name, &e,
	    &ws);
	if (rc == APX_ECONFLICT)
		rc = exists(c);
	else if (rc == 0)
		rc = apx_resp_json(c->resp, 200, json_pack("{s:o}",
		    "workspace", ws));
out:
	json_decref(body);
	return rc;
}

int
apx_route_workspace_delete(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	struct apx_db *t;
	int rc;

	/* Its uploads and forecasts go with it: the tenant's delete commits
	 * only once the workspace (and the audit entry) is gone. */
	if ((rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_db_begin(t)) != 0)
		return rc;
	if ((rc = apx_upload_delete_workspace(t, c->org->ws)) != 0) {
		apx_db_rollback(t);
		return rc;
	}
	apx_authz_audit(c, &e, "workspace.delete", ws_target(c));
	if ((rc = apx_workspace_delete(c->db, c->org->id, c->org->ws, &e)) !=
	    0) {
		apx_db_rollback(t);
		return rc;
	}
	if ((rc = apx_db_commit(t)) != 0)
		apx_log_error("rid=%s workspace %lld deleted, but its uploads "
		    "were not: %s", c->req->request_id, (long long)c->org->ws,
		    apx_strerror(rc));
	c->resp->status = 204;
	return 0;
}

int
apx_route_ipallow_get(struct apx_ctx *c)
{
	json_t *list;
	int rc;

	if ((rc = apx_ipallow_get(c->db, c->org->ws, &list)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, list);
}

int
apx_route_ipallow_put(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	struct apx_cidr net;
	char text[APX_CIDR_STRLEN];
	json_t *body, *in, *v, *canon = NULL;
	size_t i;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	in = json_object_get(body, "cidrs");
	if (!json_is_array(in) || json_array_size(in) > APX_IPALLOW_MAX) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "cidrs is a list of at most 100 networks.", "cidrs");
		goto out;
	}
	if ((canon = json_array()) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	json_array_foreach(in, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) !=
		    json_string_length(v) ||
		    apx_cidr_parse(json_string_value(v), &net) != 0 ||
		    apx_cidr_format(&net, text, sizeof(text)) != 0) {
			rc = apx_resp_problem(c->resp, 422, "invalid-field",
			    apx_arena_printf(c->req->arena, "Entry %zu is not "
			    "an IPv4 or IPv6 network without host bits, such "
			    "as 203.0.113.0/24 or 2001:db8::/32.", i + 1),
			    "cidrs");
			goto out;
		}
		json_array_append_new(canon, json_string(text));
	}
	apx_authz_audit(c, &e, "ip_allowlist.update", apx_arena_printf(
	    c->req->arena, "workspace:%lld", (long long)c->org->ws));
	if ((rc = apx_ipallow_put(c->db, c->org->ws, canon, &e)) != 0)
		goto out;
	rc = apx_route_ipallow_get(c);
out:
	json_decref(canon);
	json_decref(body);
	return rc;
}
