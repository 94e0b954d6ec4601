#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/buf.h"
#include "store/audit.h"
#include "store/db.h"

int
apx_audit_append(struct apx_db *db, const struct apx_audit_entry *e)
{
	char *before = NULL, *after = NULL;
	const char *p[9];
	PGresult *res;
	int rc;

	if (e->before != NULL &&
	    (before = json_dumps(e->before, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	if (e->after != NULL &&
	    (after = json_dumps(e->after, JSON_COMPACT)) == NULL) {
		free(before);
		return APX_ENOMEM;
	}
	p[0] = e->log;
	p[1] = e->actor_type;
	p[2] = e->actor_id;
	p[3] = e->action;
	p[4] = e->target != NULL ? e->target : "";
	p[5] = e->client_addr != NULL ? e->client_addr : "";
	p[6] = e->request_id != NULL ? e->request_id : "";
	p[7] = before;
	p[8] = after;
	rc = apx_db_query(db, 0, &res, "SELECT audit_append($1, $2, $3, $4, "
	    "$5, $6, $7, $8::jsonb, $9::jsonb)", 9, p);
	if (rc == 0)
		PQclear(res);
	free(before);
	free(after);
	return rc;
}

int
apx_audit_commit(struct apx_db *db, struct apx_audit_entry *e,
    json_t *before, json_t *after)
{
	int rc;

	e->before = before;
	e->after = after;
	rc = apx_audit_append(db, e);
	e->before = e->after = NULL;
	if (rc == 0)
		rc = apx_db_commit(db);
	if (rc != 0)
		apx_db_rollback(db);
	return rc;
}

int
apx_audit_change(struct apx_db *db, struct apx_audit_entry *e, int as_before,
    json_t **out, const char *sql, int n, const char *const *p)
{
	json_t *v = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = apx_db_json(db, 0, &v, sql, n, p)) != 0 || v == NULL) {
		apx_db_rollback(db);
		return rc != 0 ? rc : APX_ENOTFOUND;
	}
	if ((rc = apx_audit_commit(db, e, as_before ? v : NULL,
	    as_before ? NULL : v)) != 0 || out == NULL)
		json_decref(v);
	else
		*out = v;
	return rc;
}

#define ENTRY_JSON \
	"json_build_object('seq', a.seq, 'at', to_char(a.at AT TIME ZONE" \
	" 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'actor_type'," \
	" a.actor_type, 'actor_id', a.actor_id, 'action', a.action," \
	" 'target', a.target, 'client_addr', a.client_addr, 'request_id'," \
	" a.request_id, 'before', a.before, 'after', a.after)"

#define MATCHING \
	"SELECT * FROM audit_log a WHERE a.log = $1" \
	" AND ($2::text IS NULL OR a.actor_id = $2)" \
	" AND ($3::text IS NULL OR a.action = $3 OR (right($3, 1) = '.' AND" \
	"  starts_with(a.action, $3)))" \
	" AND ($4::timestamptz IS NULL OR a.at >= $4::timestamptz)" \
	" AND ($5::timestamptz IS NULL OR a.at < $5::timestamptz)" \
	" AND ($6::bigint IS NULL OR a.seq < $6::bigint)" \
	" ORDER BY a.seq DESC LIMIT $7::int"

static void	 filter_params(const char *, const struct apx_audit_filter *,
		    int, char *, char *, const char **);

static void
filter_params(const char *log, const struct apx_audit_filter *f, int limit,
    char *cur, char *lim, const char **p)
{
	p[0] = log;
	p[1] = f->actor;
	p[2] = f->action;
	p[3] = f->since;
	p[4] = f->until;
	p[5] = NULL;
	if (f->before_seq > 0) {
		snprintf(cur, 24, "%lld", f->before_seq);
		p[5] = cur;
	}
	snprintf(lim, 24, "%d", limit);
	p[6] = lim;
}

int
apx_audit_query(struct apx_db *db, const char *log,
    const struct apx_audit_filter *f, json_t **out)
{
	char cur[24], lim[24];
	const char *p[7];

	filter_params(log, f, f->limit, cur, lim, p);
	return apx_db_json(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('entries', coalesce(json_agg(" ENTRY_JSON
	    " ORDER BY a.seq DESC), '[]'), 'next_cursor', CASE WHEN count(*) ="
	    " $7::int THEN min(a.seq)::text END) FROM (" MATCHING ") a", 7, p);
}

int
apx_audit_export(struct apx_db *db, const char *log,
    const struct apx_audit_filter *f, struct apx_buf *out)
{
	char cur[24], lim[24];
	const char *p[7];
	PGresult *res;
	int rc, r;

	filter_params(log, f, APX_AUDIT_EXPORT_MAX, cur, lim, p);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT (" ENTRY_JSON
	    ")::jsonb::text FROM (" MATCHING ") a ORDER BY a.seq DESC", 7, p)) != 0)
		return rc;
	for (r = 0; r < PQntuples(res) && rc == 0; r++)
		if ((rc = apx_buf_add(out, PQgetvalue(res, r, 0),
		    (size_t)PQgetlength(res, r, 0))) == 0)
			rc = apx_buf_add(out, "\n", 1);
	PQclear(res);
	return rc;
}

int
apx_audit_verify(struct apx_db *db, const char *log, long long *rows,
    char *report, size_t len)
{
	const char *p[1] = { log };
	PGresult *res;
	size_t o = 0;
	int rc, r;

	report[0] = '\0';
	*rows = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT count(*) FROM "
	    "audit_log WHERE $1::text IS NULL OR log = $1", 1, p)) != 0)
		return rc;
	*rows = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	/*
	 * Each row must follow its predecessor (seq + 1, prev_hash = the
	 * predecessor's hash) and hash to what it records.
	 */
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res,
	    "SELECT DISTINCT ON (log) log, seq, id, gap, badlink, badhash FROM ("
	    " SELECT a.log, a.seq, a.id,"
	    "  a.seq <> coalesce(lag(a.seq) OVER w, 0) + 1 AS gap,"
	    "  a.prev_hash <> coalesce(lag(a.hash) OVER w, '\\x'::bytea) "
	    "   AS badlink,"
	    "  a.hash <> audit_digest(a.prev_hash, a) AS badhash"
	    " FROM audit_log a WHERE $1::text IS NULL OR a.log = $1"
	    " WINDOW w AS (PARTITION BY a.log ORDER BY a.seq)) x"
	    " WHERE gap OR badlink OR badhash ORDER BY log, seq", 1, p)) != 0)
		return rc;
	for (r = 0; r < PQntuples(res); r++) {
		int n = snprintf(report + o, len - o,
		    "%slog %s: first broken entry seq %s (id %s): %s",
		    r ? "\n" : "", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1),
		    PQgetvalue(res, r, 2),
		    PQgetvalue(res, r, 5)[0] == 't' ? "its content was changed" :
		    PQgetvalue(res, r, 3)[0] == 't' ?
		    "entries before it are missing" :
		    "it does not link to the entry before it");
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
	rc = PQntuples(res) > 0 ? APX_ECONFLICT : 0;
	PQclear(res);
	return rc;
}
