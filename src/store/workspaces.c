/* Workspaces of an organisation and their IP allowlists. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/orgs.h"

#define WS_JSON \
	"json_build_object('id', w.id, 'name', w.name, 'created_at'," \
	" apx_ts(w.created_at))"

int
apx_workspace_list(struct apx_db *db, int64_t org, PGresult **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json_res(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('workspaces', coalesce(json_agg("
	    WS_JSON " ORDER BY w.id), '[]')) FROM workspaces w"
	    " WHERE w.org_id = $1::bigint", 1, p);
}

int
apx_workspace_get(struct apx_db *db, int64_t org, int64_t ws, json_t **out)
{
	char os[APX_DB_ID_LEN], wss[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(ws, wss) };
	int rc;

	if ((rc = apx_db_json(db, APX_DB_RETRY, out, "SELECT " WS_JSON
	    " FROM workspaces w WHERE w.org_id = $1::bigint AND"
	    " w.id = $2::bigint", 2, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

int
apx_workspace_create(struct apx_db *db, int64_t org, const char *name,
    struct apx_audit_entry *e, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), name };
	int rc;

	rc = apx_audit_change(db, e, 0, out, "INSERT INTO workspaces AS w"
	    " (org_id, name) VALUES ($1::bigint, $2) ON CONFLICT DO NOTHING"
	    " RETURNING " WS_JSON, 2, p);
	return rc == APX_ENOTFOUND ? APX_ECONFLICT : rc;
}

int
apx_workspace_rename(struct apx_db *db, int64_t org, int64_t ws,
    const char *name, struct apx_audit_entry *e, json_t **out)
{
	char os[APX_DB_ID_LEN], wss[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(org, os), apx_db_id(ws, wss), name };
	json_t *before = NULL;
	int rc;

	*out = NULL;
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = apx_db_json(db, 0, &before, "SELECT " WS_JSON " FROM"
	    " workspaces w WHERE w.org_id = $1::bigint AND w.id = $2::bigint"
	    " FOR UPDATE", 2, p)) != 0)
		goto fail;
	if (before == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	if ((rc = apx_db_json(db, 0, out, "UPDATE workspaces AS w SET name"
	    " = $3 WHERE w.org_id = $1::bigint AND w.id = $2::bigint AND NOT"
	    " EXISTS (SELECT 1 FROM workspaces x WHERE x.org_id = $1::bigint"
	    " AND x.name = $3 AND x.id <> $2::bigint) RETURNING " WS_JSON, 3,
	    p)) != 0)
		goto fail;
	if (*out == NULL) {
		rc = APX_ECONFLICT;
		goto fail;
	}
	rc = apx_audit_commit(db, e, before, *out);
	json_decref(before);
	if (rc != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
fail:
	apx_db_rollback(db);
	json_decref(before);
	return rc;
}

int
apx_workspace_delete(struct apx_db *db, int64_t org, int64_t ws,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], wss[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(ws, wss) };

	return apx_audit_change(db, e, 1, NULL, "DELETE FROM workspaces w"
	    " WHERE w.org_id = $1::bigint AND w.id = $2::bigint RETURNING "
	    WS_JSON, 2, p);
}

int
apx_ipallow_get(struct apx_db *db, int64_t ws, json_t **out)
{
	char wss[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(ws, wss) };

	return apx_db_json(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('cidrs', coalesce(json_agg(cidr"
	    " ORDER BY cidr), '[]')) FROM workspace_ip_allowlists"
	    " WHERE workspace_id = $1::bigint", 1, p);
}

int
apx_ipallow_put(struct apx_db *db, int64_t ws, json_t *cidrs,
    struct apx_audit_entry *e)
{
	char wss[APX_DB_ID_LEN], *list = NULL;
	const char *p[2];
	json_t *before = NULL, *after = NULL;
	int rc;

	if ((list = json_dumps(cidrs, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(ws, wss);
	p[1] = list;
	if ((rc = apx_db_begin(db)) != 0)
		goto out;
	if ((rc = apx_db_do(db, 0, "SELECT 1 FROM workspaces WHERE"
	    " id = $1::bigint FOR UPDATE", 1, p)) != 0)
		goto fail;
	if ((rc = apx_ipallow_get(db, ws, &before)) != 0)
		goto fail;
	if ((rc = apx_db_do(db, 0, "DELETE FROM workspace_ip_allowlists"
	    " WHERE workspace_id = $1::bigint", 1, p)) != 0)
		goto fail;
	if ((rc = apx_db_do(db, 0, "INSERT INTO"
	    " workspace_ip_allowlists (workspace_id, cidr) SELECT $1::bigint,"
	    " c FROM json_array_elements_text($2::json) c ON CONFLICT DO"
	    " NOTHING", 2, p)) != 0)
		goto fail;
	if ((rc = apx_ipallow_get(db, ws, &after)) != 0)
		goto fail;
	rc = apx_audit_commit(db, e, before, after);
	goto out;
fail:
	apx_db_rollback(db);
out:
	json_decref(before);
	json_decref(after);
	free(list);
	return rc;
}
