/*
 * The job queue and the connection rows connector data needs (control
 * database, migration 0016). Webhook work and syncs run here after the
 * request that caused them was answered.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/db.h"
#include "store/jobs.h"

int
apx_job_enqueue(struct apx_db *db, const char *kind, int64_t org,
    int64_t conn, const char *dedup, const char *payload, int delay,
    int *queued)
{
	char os[APX_DB_ID_LEN], cs[APX_DB_ID_LEN], ds[APX_DB_ID_LEN];
	const char *p[6] = { kind, apx_db_id(org, os),
	    conn > 0 ? apx_db_id(conn, cs) : NULL, dedup,
	    payload != NULL ? payload : "{}", apx_db_id(delay, ds) };
	PGresult *res;
	int rc;

	*queued = 0;
	if ((rc = apx_db_query(db, 0, &res, "WITH j AS (INSERT INTO jobs"
	    " (kind, org_id, connection_id, dedup, payload, run_at) VALUES"
	    " ($1, $2::bigint, $3::bigint, $4, $5::jsonb, now() +"
	    " make_interval(secs => $6::int)) ON CONFLICT (org_id, kind,"
	    " dedup) DO NOTHING RETURNING id)"
	    " SELECT id, pg_notify('apx_jobs', $1) FROM j", 6, p)) != 0)
		return rc;
	*queued = PQntuples(res) == 1;
	PQclear(res);
	return 0;
}

int
apx_job_enqueue_sync(struct apx_db *db, int64_t org, int64_t conn,
    int *queued)
{
	char dedup[48];

	snprintf(dedup, sizeof(dedup), "sync:%lld", (long long)conn);
	return apx_job_enqueue(db, APX_JOB_SYNC, org, conn, dedup, "{}", 0,
	    queued);
}

void
apx_job_clear(struct apx_job *j)
{
	json_decref(j->payload);
	memset(j, 0, sizeof(*j));
}

int
apx_job_take(struct apx_db *db, int lease, int max, struct apx_job *j)
{
	char ls[APX_DB_ID_LEN], ms[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(lease, ls), apx_db_id(max, ms) };
	long long v;
	PGresult *res;
	int rc;

	memset(j, 0, sizeof(*j));
	if ((rc = apx_db_query(db, 0, &res, "UPDATE jobs SET locked_until ="
	    " now() + make_interval(secs => $1::int), attempts = attempts + 1"
	    " WHERE id = (SELECT id FROM jobs WHERE run_at <= now() AND"
	    " (locked_until IS NULL OR locked_until < now()) AND attempts <"
	    " $2::int ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
	    " RETURNING id, kind, org_id, coalesce(connection_id, 0),"
	    " attempts, payload::text", 2, p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	rc = APX_EDB;
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0)
		goto out;
	j->id = v;
	if (apx_strlcpy_chk(j->kind, PQgetvalue(res, 0, 1), sizeof(j->kind)) != 0 ||
	    apx_parse_ll(PQgetvalue(res, 0, 2), 1, INT64_MAX, &v) != 0)
		goto out;
	j->org = v;
	if (apx_parse_ll(PQgetvalue(res, 0, 3), 0, INT64_MAX, &v) != 0)
		goto out;
	j->conn = v;
	if (apx_parse_ll(PQgetvalue(res, 0, 4), 0, 1000000, &v) != 0)
		goto out;
	j->attempts = (int)v;
	if ((j->payload = json_loads(PQgetvalue(res, 0, 5), 0, NULL)) == NULL)
		goto out;
	rc = 0;
out:
	PQclear(res);
	if (rc != 0)
		apx_job_clear(j);
	return rc;
}

int
apx_job_extend(struct apx_db *db, int64_t id, int lease)
{
	char is[APX_DB_ID_LEN], ls[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(id, is), apx_db_id(lease, ls) };

	return apx_db_do(db, 0, "UPDATE jobs SET locked_until = now() +"
	    " make_interval(secs => $2::int) WHERE id = $1::bigint", 2, p);
}

int
apx_job_done(struct apx_db *db, int64_t id)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };

	return apx_db_do(db, APX_DB_RETRY, "DELETE FROM jobs WHERE id ="
	    " $1::bigint", 1, p);
}

int
apx_job_retry(struct apx_db *db, int64_t id, int delay, const char *why)
{
	char is[APX_DB_ID_LEN], ds[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(id, is), apx_db_id(delay, ds), why };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE jobs SET locked_until ="
	    " NULL, run_at = now() + make_interval(secs => $2::int),"
	    " last_error = left($3, 200) WHERE id = $1::bigint", 3, p);
}

int
apx_job_depth(struct apx_db *db, int max, json_t **out)
{
	char ms[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(max, ms) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT"
	    " coalesce(json_object_agg(k.kind, json_build_object("
	    " 'due', (SELECT count(*) FROM jobs j WHERE j.kind = k.kind AND"
	    " j.attempts < $1::int AND (j.locked_until IS NULL OR"
	    " j.locked_until < now())),"
	    " 'running', (SELECT count(*) FROM jobs j WHERE j.kind = k.kind"
	    " AND j.locked_until >= now()),"
	    " 'dead', (SELECT count(*) FROM jobs j WHERE j.kind = k.kind AND"
	    " j.attempts >= $1::int AND (j.locked_until IS NULL OR"
	    " j.locked_until < now())))), '{}')"
	    " FROM (VALUES ('webhook'), ('sync')) k(kind)", 1, p);
}

int
apx_conn_route(struct apx_db *db, const char *connector, const char *account,
    json_t **out)
{
	const char *p[2] = { connector, account };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT coalesce(json_agg("
	    "json_build_object('org', a.org_id, 'conn', a.connection_id)"
	    " ORDER BY a.connection_id), '[]') FROM connection_accounts a"
	    " JOIN orgs o ON o.id = a.org_id WHERE a.connector = $1 AND"
	    " a.external_id = $2"
	    " AND o.status = 'active'", 2, p);
}

int
apx_conn_sync_list(struct apx_db *db, int64_t org, int64_t conn,
    json_t **out)
{
	char os[APX_DB_ID_LEN], cs[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(conn, cs) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT coalesce(json_agg("
	    "json_build_object('org', c.org_id, 'conn', c.id, 'connector',"
	    " c.connector, 'slug', o.slug) ORDER BY c.id), '[]') FROM"
	    " connections c JOIN orgs o ON o.id = c.org_id WHERE o.status ="
	    " 'active' AND c.status = 'active' AND ($1::bigint = 0 OR"
	    " c.org_id = $1::bigint) AND ($2::bigint = 0 OR c.id = $2::bigint)",
	    2, p);
}

int
apx_conn_workspace(struct apx_db *db, int64_t id, int64_t *ws)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };
	long long v;
	PGresult *res;
	int rc;

	*ws = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT"
	    " coalesce(c.workspace_id, (SELECT min(w.id) FROM workspaces w"
	    " WHERE w.org_id = c.org_id), 0) FROM connections c WHERE c.id ="
	    " $1::bigint", 1, p)) != 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = APX_ENOTFOUND;
	else if (apx_parse_ll(PQgetvalue(res, 0, 0), 0, INT64_MAX, &v) != 0)
		rc = APX_EDB;
	else
		*ws = v;
	PQclear(res);
	return rc;
}

int
apx_conn_set_workspace(struct apx_db *db, int64_t org, int64_t id,
    int64_t ws)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN], ws_[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(org, os), apx_db_id(id, is),
	    ws > 0 ? apx_db_id(ws, ws_) : NULL };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, 0, &res, "UPDATE connections c SET"
	    " workspace_id = $3::bigint, updated_at = now() WHERE c.id ="
	    " $2::bigint AND c.org_id = $1::bigint AND ($3::bigint IS NULL OR"
	    " EXISTS (SELECT 1 FROM workspaces w WHERE w.id = $3::bigint AND"
	    " w.org_id = $1::bigint)) RETURNING c.id", 3, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1 ? 0 : APX_ENOTFOUND;
	PQclear(res);
	return rc;
}

int
apx_conn_sync_started(struct apx_db *db, int64_t id)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE connections SET"
	    " sync_state = 'running', sync_started_at = now(), sync_records ="
	    " 0, sync_pages = 0 WHERE id = $1::bigint", 1, p);
}

int
apx_conn_sync_page(struct apx_db *db, int64_t id, long long records)
{
	char is[APX_DB_ID_LEN], rs[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(id, is), apx_db_id(records, rs) };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE connections SET"
	    " sync_records = sync_records + $2::bigint, sync_pages ="
	    " sync_pages + 1 WHERE id = $1::bigint", 2, p);
}

int
apx_conn_sync_finished(struct apx_db *db, int64_t id, const char *why)
{
	char is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(id, is), why };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE connections SET"
	    " sync_state = CASE WHEN $2::text IS NULL THEN 'ok' ELSE 'failed'"
	    " END, last_sync_at = CASE WHEN $2::text IS NULL THEN now() ELSE"
	    " last_sync_at END, last_sync_error = left($2, 200) WHERE id ="
	    " $1::bigint", 2, p);
}

int
apx_conn_sync_lag(struct apx_db *db, json_t **out)
{
	return apx_db_json(db, APX_DB_RETRY, out, "SELECT"
	    " coalesce(json_object_agg(connector, lag), '{}') FROM (SELECT"
	    " c.connector, max(extract(epoch FROM now() -"
	    " coalesce(c.last_sync_at, c.created_at)))::bigint AS lag FROM"
	    " connections c JOIN orgs o ON o.id = c.org_id WHERE o.status ="
	    " 'active' AND c.status = 'active' GROUP BY c.connector) s", 0,
	    NULL);
}
