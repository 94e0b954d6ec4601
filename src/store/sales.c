/*
 * Connector data in the tenant database: events, sales records, the sync
 * cursor and the daily series (tenant migration 0003).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/db.h"
#include "store/sales.h"

int
apx_whevent_store(struct apx_db *t, const char *connector, int64_t conn,
    const char *event_id, const char *type, const char *account,
    const char *payload, int64_t *id, int *fresh, int *pending)
{
	char cs[APX_DB_ID_LEN];
	const char *p[6] = { connector, apx_db_id(conn, cs), event_id, type,
	    account, payload };
	long long v;
	PGresult *res;
	int rc;

	*id = 0;
	*fresh = *pending = 0;
	/* One statement: the insert, or the row a replay finds. */
	if ((rc = apx_db_query(t, 0, &res, "WITH i AS (INSERT INTO"
	    " webhook_events (connector, connection_id, event_id, type,"
	    " account_id, payload) VALUES ($1, $2::bigint, $3, $4, $5,"
	    " $6::jsonb) ON CONFLICT (connector, connection_id, event_id) DO"
	    " NOTHING RETURNING id)"
	    " SELECT id, true, true FROM i UNION ALL SELECT e.id, false,"
	    " e.processed_at IS NULL FROM webhook_events e WHERE e.connector"
	    " = $1 AND e.connection_id = $2::bigint AND e.event_id = $3 AND"
	    " NOT EXISTS (SELECT 1 FROM i)", 6, p)) != 0)
		return rc;
	if (PQntuples(res) != 1 ||
	    apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0)
		rc = APX_EDB;
	else {
		*id = v;
		*fresh = PQgetvalue(res, 0, 1)[0] == 't';
		*pending = PQgetvalue(res, 0, 2)[0] == 't';
	}
	PQclear(res);
	return rc;
}

int
apx_whevent_get(struct apx_db *t, int64_t id, json_t **out)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };
	int rc;

	if ((rc = apx_db_json(t, APX_DB_RETRY, out, "SELECT"
	    " json_build_object('connector', connector, 'connection_id',"
	    " connection_id, 'event_id', event_id, 'type', type, 'account_id',"
	    " account_id, 'payload', payload::text, 'processed', processed_at"
	    " IS NOT NULL) FROM webhook_events WHERE id = $1::bigint", 1,
	    p)) != 0)
		return rc;
	if (json_is_null(*out)) {
		json_decref(*out);
		*out = NULL;
		return APX_ENOTFOUND;
	}
	return 0;
}

int
apx_whevent_done(struct apx_db *t, int64_t id, const char *outcome)
{
	char is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(id, is), outcome };

	return apx_db_do(t, APX_DB_RETRY, "UPDATE webhook_events SET"
	    " processed_at = now(), outcome = left($2, 64) WHERE id ="
	    " $1::bigint", 2, p);
}

int
apx_sales_put(struct apx_db *t, int64_t conn, json_t *sales,
    const char *cursor, int done)
{
	char cs[APX_DB_ID_LEN];
	char *js;
	const char *p[4];
	int rc;

	if ((js = json_dumps(sales, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(conn, cs);
	p[1] = js;
	p[2] = cursor;
	p[3] = done ? "t" : "f";
	/*
	 * One statement, so one transaction: the records of a page and the
	 * cursor after it are committed together. The last of two records
	 * with one key in a page wins; an unchanged record is not rewritten.
	 */
	rc = apx_db_do(t, 0, "WITH r AS (SELECT DISTINCT ON (x.kind, x.id)"
	    " x.* FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS"
	    " e(v, ord), jsonb_to_record(e.v) AS x(id text, kind text, date"
	    " text, amount text, currency text, voided boolean) ORDER BY"
	    " x.kind, x.id, e.ord DESC),"
	    " s AS (INSERT INTO sales_records (connection_id, kind,"
	    " external_id, day, amount, currency, voided) SELECT $1::bigint,"
	    " r.kind, r.id, r.date::date, r.amount::numeric, r.currency,"
	    " coalesce(r.voided, false) FROM r ON CONFLICT (connection_id,"
	    " kind, external_id) DO UPDATE SET day = EXCLUDED.day, amount ="
	    " EXCLUDED.amount, currency = EXCLUDED.currency, voided ="
	    " EXCLUDED.voided, updated_at = now() WHERE"
	    " (sales_records.day, sales_records.amount, sales_records.currency,"
	    " sales_records.voided) IS DISTINCT FROM (EXCLUDED.day,"
	    " EXCLUDED.amount, EXCLUDED.currency, EXCLUDED.voided))"
	    " INSERT INTO sync_state (connection_id, cursor, run_done)"
	    " SELECT $1::bigint, $3, $4::boolean WHERE $3::text IS NOT NULL"
	    " ON CONFLICT (connection_id) DO UPDATE SET cursor ="
	    " EXCLUDED.cursor, run_done = EXCLUDED.run_done, updated_at ="
	    " now()", 4, p);
	free(js);
	return rc;
}

int
apx_sales_cursor(struct apx_db *t, int64_t conn, char **cursor, int *done)
{
	char cs[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(conn, cs) };
	PGresult *res;
	int rc;

	*cursor = NULL;
	*done = 0;
	if ((rc = apx_db_query(t, APX_DB_RETRY, &res, "SELECT cursor,"
	    " run_done FROM sync_state WHERE connection_id = $1::bigint", 1,
	    p)) != 0)
		return rc;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    (*cursor = strdup(PQgetvalue(res, 0, 0))) == NULL)
		rc = APX_ENOMEM;
	if (PQntuples(res) == 1)
		*done = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	return rc;
}

int
apx_sales_series(struct apx_db *t, int64_t conn, int64_t ws,
    const char *name, int64_t *upload, long long *days)
{
	char cs[APX_DB_ID_LEN], wss[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(conn, cs), apx_db_id(ws, wss), name };
	long long u, d;
	PGresult *res;
	int rc;

	*upload = 0;
	*days = 0;
	if ((rc = apx_db_begin(t)) != 0)
		return rc;
	/*
	 * The connection's upload is kept while it stays in WS; one in
	 * another workspace (the connection was moved) goes. Its rows are
	 * rebuilt from the records, in the same transaction.
	 */
	if ((rc = apx_db_do(t, 0, "DELETE FROM uploads u USING sync_state s"
	    " WHERE s.connection_id = $1::bigint AND u.id = s.upload_id AND"
	    " u.workspace_id <> $2::bigint", 2, p)) != 0)
		goto fail;
	if ((rc = apx_db_query(t, 0, &res, "WITH old AS (SELECT u.id FROM"
	    " sync_state s JOIN uploads u ON u.id = s.upload_id WHERE"
	    " s.connection_id = $1::bigint),"
	    " new AS (INSERT INTO uploads (workspace_id, name, size_bytes,"
	    " row_count, columns) SELECT $2::bigint, $3, 0, 0,"
	    " '[\"date\", \"orders\", \"sales\"]' WHERE NOT EXISTS (SELECT 1"
	    " FROM old) RETURNING id),"
	    " id AS (SELECT id FROM old UNION ALL SELECT id FROM new),"
	    " st AS (INSERT INTO sync_state (connection_id, upload_id) SELECT"
	    " $1::bigint, id FROM id ON CONFLICT (connection_id) DO UPDATE"
	    " SET upload_id = EXCLUDED.upload_id)"
	    " SELECT id FROM id", 3, p)) != 0)
		goto fail;
	rc = PQntuples(res) == 1 && apx_parse_ll(PQgetvalue(res, 0, 0), 1,
	    INT64_MAX, &u) == 0 ? 0 : APX_EDB;
	PQclear(res);
	if (rc != 0)
		goto fail;
	{
		char us[APX_DB_ID_LEN];
		const char *q[2] = { apx_db_id(u, us), p[0] };

		if ((rc = apx_db_do(t, 0, "DELETE FROM upload_rows WHERE"
		    " upload_id = $1::bigint", 1, q)) != 0)
			goto fail;
		if ((rc = apx_db_query(t, 0, &res, "WITH d AS (SELECT day,"
		    " count(*) AS n, sum(amount) AS total FROM sales_records"
		    " WHERE connection_id = $2::bigint AND NOT voided GROUP BY"
		    " day),"
		    " g AS (SELECT g.day::date AS day FROM (SELECT min(day) lo,"
		    " max(day) hi FROM d) b, generate_series(b.lo, b.hi,"
		    " interval '1 day') g(day) WHERE b.lo IS NOT NULL),"
		    " r AS (INSERT INTO upload_rows (upload_id, row_no, cells)"
		    " SELECT $1::bigint, row_number() OVER (ORDER BY g.day),"
		    " jsonb_build_array(to_char(g.day, 'YYYY-MM-DD'),"
		    " coalesce(d.n, 0)::text, coalesce(d.total, 0)::numeric(24,"
		    " 2)::text) FROM g LEFT JOIN d ON d.day = g.day RETURNING"
		    " length(cells::text) AS len),"
		    " t AS (SELECT count(*) AS n, coalesce(sum(len), 0) AS len"
		    " FROM r)"
		    " UPDATE uploads u SET row_count = t.n, size_bytes = least(t.len,"
		    " 2147483647) FROM t WHERE u.id = $1::bigint RETURNING"
		    " u.row_count", 2, q)) != 0)
			goto fail;
		rc = PQntuples(res) == 1 && apx_parse_ll(PQgetvalue(res, 0, 0),
		    0, INT64_MAX, &d) == 0 ? 0 : APX_EDB;
		PQclear(res);
		if (rc != 0)
			goto fail;
	}
	if ((rc = apx_db_commit(t)) != 0)
		return rc;
	*upload = u;
	*days = d;
	return 0;
fail:
	apx_db_rollback(t);
	return rc;
}

int
apx_sales_forget(struct apx_db *t, int64_t conn, long long *records)
{
	char cs[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(conn, cs) };
	PGresult *res;
	long long n;
	int rc;

	*records = 0;
	if ((rc = apx_db_begin(t)) != 0)
		return rc;
	/* The series first: its row in sync_state goes next. */
	if ((rc = apx_db_do(t, 0, "DELETE FROM uploads WHERE id IN (SELECT"
	    " upload_id FROM sync_state WHERE connection_id = $1::bigint)", 1,
	    p)) != 0)
		goto fail;
	if ((rc = apx_db_query(t, 0, &res, "WITH s AS (DELETE FROM sync_state"
	    " WHERE connection_id = $1::bigint),"
	    " e AS (DELETE FROM webhook_events WHERE connection_id ="
	    " $1::bigint),"
	    " r AS (DELETE FROM sales_records WHERE connection_id = $1::bigint"
	    " RETURNING 1) SELECT count(*) FROM r", 1, p)) != 0)
		goto fail;
	if (PQntuples(res) == 1 && apx_parse_ll(PQgetvalue(res, 0, 0), 0,
	    INT64_MAX, &n) == 0)
		*records = n;
	PQclear(res);
	return apx_db_commit(t);
fail:
	apx_db_rollback(t);
	return rc;
}

int
apx_privacy_request_add(struct apx_db *t, const char *connector,
    const char *kind, json_t *subject, json_t *result)
{
	char *s = NULL, *r = NULL;
	const char *p[4];
	int rc = APX_ENOMEM;

	if ((subject != NULL && (s = json_dumps(subject, JSON_COMPACT)) ==
	    NULL) || (result != NULL && (r = json_dumps(result,
	    JSON_COMPACT)) == NULL))
		goto out;
	p[0] = connector;
	p[1] = kind;
	p[2] = s;
	p[3] = r;
	rc = apx_db_do(t, 0, "INSERT INTO privacy_requests (connector, kind,"
	    " subject, result) VALUES ($1, $2, $3::jsonb, $4::jsonb)", 4, p);
out:
	free(s);
	free(r);
	return rc;
}
