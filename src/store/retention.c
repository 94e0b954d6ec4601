/* Upload retention: policies in the control plane, purges in tenants. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/retention.h"
#include "store/tenant.h"

#define POLICY_JSON \
	"json_build_object('retention', json_build_object('upload_days'," \
	" (SELECT upload_days FROM retention_policies WHERE org_id =" \
	" $1::bigint AND workspace_id IS NULL), 'workspaces', coalesce(" \
	"(SELECT json_agg(json_build_object('workspace_id', workspace_id," \
	" 'upload_days', upload_days) ORDER BY workspace_id) FROM" \
	" retention_policies WHERE org_id = $1::bigint AND workspace_id IS" \
	" NOT NULL), '[]')))"

static int	 purge_org(struct apx_db *, struct apx_tenants *, int64_t,
		    const char *, const char *, struct apx_retention_report *);

int
apx_retention_get(struct apx_db *db, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT " POLICY_JSON, 1, p);
}

int
apx_retention_put(struct apx_db *db, int64_t org, json_t *policy,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], *pol;
	const char *p[2];
	json_t *before = NULL, *after = NULL, *bad = NULL;
	int rc;

	if ((pol = json_dumps(policy, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(org, os);
	p[1] = pol;
	if ((rc = apx_db_begin(db)) != 0)
		goto out;
	/* Serialise changes of one org's policy. */
	if ((rc = apx_db_json(db, 0, &before, "SELECT " POLICY_JSON " FROM"
	    " orgs WHERE id = $1::bigint FOR UPDATE", 1, p)) != 0)
		goto fail;
	if ((rc = apx_db_json(db, 0, &bad, "SELECT to_json(w.id) FROM"
	    " jsonb_array_elements($2::jsonb->'workspaces') x(v),"
	    " LATERAL (SELECT (x.v->>'workspace_id')::bigint AS id) w"
	    " WHERE NOT EXISTS (SELECT 1 FROM workspaces k WHERE k.id = w.id"
	    " AND k.org_id = $1::bigint) LIMIT 1", 2, p)) != 0)
		goto fail;
	if (bad != NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	if ((rc = apx_db_do(db, 0, "DELETE FROM retention_policies WHERE"
	    " org_id = $1::bigint", 1, p)) != 0 ||
	    (rc = apx_db_do(db, 0, "INSERT INTO retention_policies (org_id,"
	    " workspace_id, upload_days) SELECT $1::bigint, NULL,"
	    " ($2::jsonb->>'upload_days')::int WHERE jsonb_typeof($2::jsonb->"
	    "'upload_days') = 'number' UNION ALL SELECT $1::bigint,"
	    " (v->>'workspace_id')::bigint, (v->>'upload_days')::int FROM"
	    " jsonb_array_elements($2::jsonb->'workspaces') v", 2, p)) != 0 ||
	    (rc = apx_db_json(db, 0, &after, "SELECT " POLICY_JSON, 1, p)) != 0)
		goto fail;
	rc = apx_audit_commit(db, e, json_object_get(before, "retention"),
	    json_object_get(after, "retention"));
	goto out;
fail:
	apx_db_rollback(db);
out:
	json_decref(before);
	json_decref(after);
	json_decref(bad);
	free(pol);
	return rc;
}

/* Purge one org: batches until a short one. */
static int
purge_org(struct apx_db *ctl, struct apx_tenants *tenants, int64_t org,
    const char *policy, const char *rid, struct apx_retention_report *r)
{
	char bs[16], os[APX_DB_ID_LEN], log[32], up[32], fc[32];
	const char *p[2] = { policy, bs };
	struct apx_audit_entry e;
	struct apx_db *t;
	json_t *got = NULL, *after;
	long long uploads = 0, forecasts = 0, n;
	int rc;

	snprintf(bs, sizeof(bs), "%d", APX_RETENTION_BATCH);
	if ((rc = apx_tenants_db(tenants, org, &t)) != 0)
		return rc;
	do {
		/* Expired rows, locked; rows another purge holds are its. */
		if ((rc = apx_db_json(t, APX_DB_RETRY, &got,
		    "WITH p AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
		    " AS x(ws bigint, days int)),"
		    " v AS (SELECT u.id FROM uploads u WHERE u.created_at <"
		    " now() - make_interval(days => coalesce((SELECT days FROM p"
		    " WHERE p.ws = u.workspace_id), (SELECT days FROM p WHERE"
		    " p.ws IS NULL))) ORDER BY u.id LIMIT $2::int FOR UPDATE"
		    " SKIP LOCKED),"
		    " f AS (DELETE FROM forecasts WHERE upload_id IN (SELECT id"
		    " FROM v) RETURNING 1),"
		    " d AS (DELETE FROM uploads WHERE id IN (SELECT id FROM v)"
		    " RETURNING 1)"
		    " SELECT json_build_array((SELECT count(*) FROM d),"
		    " (SELECT count(*) FROM f))", 2, p)) != 0)
			break;
		n = json_integer_value(json_array_get(got, 0));
		uploads += n;
		forecasts += json_integer_value(json_array_get(got, 1));
		json_decref(got);
		got = NULL;
	} while (n == APX_RETENTION_BATCH);
	r->uploads += uploads;
	r->forecasts += forecasts;
	if (uploads == 0)
		return rc;
	/* What went is on record, also when a later batch failed. */
	memset(&e, 0, sizeof(e));
	snprintf(log, sizeof(log), "org:%s", apx_db_id(org, os));
	snprintf(up, sizeof(up), "%lld", uploads);
	snprintf(fc, sizeof(fc), "%lld", forecasts);
	e.log = log;
	e.actor_type = "system";
	e.actor_id = "retention";
	e.action = "retention.purge";
	e.target = "uploads";
	e.client_addr = "";
	e.request_id = rid != NULL ? rid : "";
	after = json_pack("{s:I,s:I}", "uploads_deleted", (json_int_t)uploads,
	    "forecasts_deleted", (json_int_t)forecasts);
	e.after = after;
	if (apx_audit_append(ctl, &e) != 0)
		apx_log_error("org %lld: retention purged %s uploads and %s "
		    "forecasts but the audit entry failed", (long long)org, up,
		    fc);
	json_decref(after);
	return rc;
}

int
apx_retention_purge(struct apx_db *ctl, struct apx_tenants *tenants,
    const char *rid, struct apx_retention_report *r)
{
	PGresult *res;
	long long org;
	int i, rc;

	memset(r, 0, sizeof(*r));
	if ((r->failed = json_array()) == NULL)
		return APX_ENOMEM;
	if ((rc = apx_db_query(ctl, APX_DB_RETRY, &res, "SELECT o.id, o.slug,"
	    " json_agg(json_build_object('ws', p.workspace_id, 'days',"
	    " p.upload_days)) FROM retention_policies p JOIN orgs o ON o.id ="
	    " p.org_id GROUP BY o.id, o.slug ORDER BY o.id", 0, NULL)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		if (apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX, &org) != 0)
			continue;
		r->orgs++;
		if ((rc = purge_org(ctl, tenants, org, PQgetvalue(res, i, 2), rid,
		    r)) != 0) {
			apx_log_error("org %s: retention purge failed: %s",
			    PQgetvalue(res, i, 1), apx_strerror(rc));
			json_array_append_new(r->failed,
			    json_string(PQgetvalue(res, i, 1)));
		}
	}
	PQclear(res);
	return 0;
}
