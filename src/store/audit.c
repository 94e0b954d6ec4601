#include "config.h"

#include <limits.h>
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

int
apx_audit_erasure(struct apx_db *db, const char *kind, int64_t subject,
    const char *fields)
{
	char ss[APX_DB_ID_LEN];
	const char *p[3] = { kind, apx_db_id(subject, ss), fields };

	return apx_db_do(db, 0, "SELECT audit_erasure_apply("
	    "audit_erasure_record($1, $2::bigint, $3::text[]))", 3, p);
}

/* ------------------------------------------------------------- anchors */

static int	 valid_log(const char *, size_t);

int
apx_audit_anchor_format(const struct apx_audit_anchor *a, char *out,
    size_t len)
{
	char at[32];
	int n;

	apx_rfc3339_format(a->at, at, sizeof(at));
	n = snprintf(out, len, "%s %s %lld %s %s\n", APX_AUDIT_ANCHOR_TAG,
	    a->log, a->seq, a->hash, at);
	return n < 0 || (size_t)n >= len ? APX_ETOOBIG : 0;
}

/* "platform" or "org:" and 1 to 19 digits. */
static int
valid_log(const char *s, size_t n)
{
	size_t i;

	if (n == 8 && memcmp(s, "platform", 8) == 0)
		return 1;
	if (n < 5 || n > 4 + 19 || memcmp(s, "org:", 4) != 0)
		return 0;
	for (i = 4; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
apx_audit_anchor_parse(const char *line, size_t len,
    struct apx_audit_anchor *a, const char **why)
{
	const char *f[5], *end = line + len, *p = line;
	size_t fl[5], i, taglen = strlen(APX_AUDIT_ANCHOR_TAG);
	char num[24], at[24];

	memset(a, 0, sizeof(*a));
	*why = NULL;
	if (len > APX_AUDIT_ANCHOR_LINE_MAX) {
		*why = "line too long";
		return APX_EINVAL;
	}
	/* Exactly five fields, one space between two, none around. */
	for (i = 0; i < 5; i++) {
		const char *sp;

		f[i] = p;
		sp = i < 4 ? memchr(p, ' ', (size_t)(end - p)) : NULL;
		fl[i] = (size_t)((sp != NULL ? sp : end) - p);
		if (fl[i] == 0 || (i < 4 && sp == NULL)) {
			*why = "not five fields separated by single spaces";
			return APX_EINVAL;
		}
		if (i < 4)
			p = f[i] + fl[i] + 1;
	}
	if (fl[0] != taglen || memcmp(f[0], APX_AUDIT_ANCHOR_TAG, taglen) != 0) {
		*why = "not an " APX_AUDIT_ANCHOR_TAG " line";
		return APX_EINVAL;
	}
	if (!valid_log(f[1], fl[1])) {
		*why = "bad log name";
		return APX_EINVAL;
	}
	memcpy(a->log, f[1], fl[1]);
	a->log[fl[1]] = '\0';
	for (i = 0; i < fl[2]; i++)
		if (f[2][i] < '0' || f[2][i] > '9')
			break;
	if (i != fl[2] || fl[2] > 19 || f[2][0] == '0') {
		*why = "bad seq";
		return APX_EINVAL;
	}
	memcpy(num, f[2], fl[2]);
	num[fl[2]] = '\0';
	if (apx_parse_ll(num, 1, LLONG_MAX, &a->seq) != 0) {
		*why = "bad seq";
		return APX_EINVAL;
	}
	for (i = 0; i < fl[3]; i++)
		if (!((f[3][i] >= '0' && f[3][i] <= '9') ||
		    (f[3][i] >= 'a' && f[3][i] <= 'f')))
			break;
	if (fl[3] != APX_AUDIT_HASH_HEX || i != fl[3]) {
		*why = "bad digest (64 lower-case hex digits)";
		return APX_EINVAL;
	}
	memcpy(a->hash, f[3], fl[3]);
	a->hash[fl[3]] = '\0';
	if (fl[4] >= sizeof(at)) {
		*why = "bad time";
		return APX_EINVAL;
	}
	memcpy(at, f[4], fl[4]);
	at[fl[4]] = '\0';
	if (apx_rfc3339_parse(at, &a->at) != 0) {
		*why = "bad time (YYYY-MM-DDTHH:MM:SSZ)";
		return APX_EINVAL;
	}
	return 0;
}

int
apx_audit_anchor_next(struct apx_audit_anchor_reader *r,
    struct apx_audit_anchor *a, char *err, size_t errlen)
{
	char buf[APX_AUDIT_ANCHOR_LINE_MAX];
	const char *why;
	size_t n;
	int c;

	for (;;) {
		n = 0;
		why = NULL;
		while ((c = getc(r->f)) != EOF && c != '\n') {
			if (c == '\0')
				why = "NUL byte";
			else if (n == sizeof(buf))
				why = "line too long";
			else
				buf[n++] = (char)c;
			if (why != NULL)
				break;
		}
		if (c == EOF && ferror(r->f)) {
			snprintf(err, errlen, "%s:%lu: cannot read", r->name,
			    r->line + 1);
			return APX_EIO;
		}
		if (c == EOF && n == 0 && why == NULL)
			return 0;
		if (++r->line > (unsigned long)APX_AUDIT_ANCHOR_LINES_MAX)
			why = "too many lines";
		if (why == NULL && (n == 0 || buf[0] == '#'))
			continue;
		if (why == NULL &&
		    apx_audit_anchor_parse(buf, n, a, &why) == 0) {
			a->line = r->line;
			return 1;
		}
		snprintf(err, errlen, "%s:%lu: %s", r->name, r->line, why);
		return APX_EINVAL;
	}
}

/* The last entry of every log, found through the (log, seq) index. */
int
apx_audit_heads(struct apx_db *db, const char *log,
    struct apx_audit_anchor **out, size_t *nout)
{
	const char *p[1] = { log };
	struct apx_audit_anchor *v = NULL;
	int64_t now = apx_unix_now();
	PGresult *res;
	int rc, i, n;

	*out = NULL;
	*nout = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res,
	    "WITH RECURSIVE l(log) AS ("
	    " SELECT min(a.log) FROM audit_log a"
	    "  WHERE $1::text IS NULL OR a.log = $1"
	    " UNION ALL"
	    " SELECT (SELECT min(a.log) FROM audit_log a WHERE a.log > l.log"
	    "  AND ($1::text IS NULL OR a.log = $1)) FROM l"
	    "  WHERE l.log IS NOT NULL)"
	    " SELECT l.log, h.seq, encode(h.hash, 'hex') FROM l CROSS JOIN"
	    " LATERAL (SELECT a.seq, a.hash FROM audit_log a WHERE a.log ="
	    " l.log ORDER BY a.seq DESC LIMIT 1) h WHERE l.log IS NOT NULL"
	    " ORDER BY l.log", 1, p)) != 0)
		return rc;
	n = PQntuples(res);
	if (n > 0 && (v = calloc((size_t)n, sizeof(*v))) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (apx_strlcpy_chk(v[i].log, PQgetvalue(res, i, 0),
		    sizeof(v[i].log)) != 0 ||
		    apx_parse_ll(PQgetvalue(res, i, 1), 1, LLONG_MAX,
		    &v[i].seq) != 0 ||
		    apx_strlcpy_chk(v[i].hash, PQgetvalue(res, i, 2),
		    sizeof(v[i].hash)) != 0 ||
		    strlen(v[i].hash) != APX_AUDIT_HASH_HEX) {
			rc = APX_EDB;
			goto out;
		}
		v[i].at = now;
		v[i].head = v[i].seq;
	}
	*out = v;
	*nout = (size_t)n;
	v = NULL;
out:
	free(v);
	PQclear(res);
	return rc;
}

/*
 * One statement for the N anchors: their logs, seqs and digests go as
 * three arrays (their characters need no quoting: the parser let through
 * only [a-z0-9:]).
 */
int
apx_audit_anchor_check(struct apx_db *db, struct apx_audit_anchor *v,
    size_t n, size_t *bad)
{
	struct apx_buf logs = { 0 }, seqs = { 0 }, hashes = { 0 };
	const char *p[3];
	PGresult *res = NULL;
	long long idx, st, head;
	size_t i;
	int rc = 0, r;

	*bad = 0;
	if (n == 0)
		return 0;
	for (i = 0; i < n && rc == 0; i++) {
		const char *sep = i == 0 ? "{" : ",";

		if (!valid_log(v[i].log, strlen(v[i].log)) ||
		    strspn(v[i].hash, "0123456789abcdef") !=
		    APX_AUDIT_HASH_HEX || v[i].hash[APX_AUDIT_HASH_HEX] != '\0')
			rc = APX_EINVAL;
		else if ((rc = apx_buf_printf(&logs, "%s%s", sep,
		    v[i].log)) == 0 &&
		    (rc = apx_buf_printf(&seqs, "%s%lld", sep, v[i].seq)) == 0)
			rc = apx_buf_printf(&hashes, "%s%s", sep, v[i].hash);
	}
	if (rc != 0 || (rc = apx_buf_adds(&logs, "}")) != 0 ||
	    (rc = apx_buf_adds(&seqs, "}")) != 0 ||
	    (rc = apx_buf_adds(&hashes, "}")) != 0)
		goto out;
	p[0] = logs.data;
	p[1] = seqs.data;
	p[2] = hashes.data;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res,
	    "SELECT x.i, CASE WHEN coalesce(h.head, 0) < x.seq THEN 3"
	    " WHEN r.hash IS NULL THEN 2"
	    " WHEN r.hash <> decode(x.hash, 'hex') THEN 1 ELSE 0 END,"
	    " coalesce(h.head, 0)"
	    " FROM unnest($1::text[], $2::bigint[], $3::text[])"
	    "  WITH ORDINALITY AS x(log, seq, hash, i)"
	    " LEFT JOIN audit_log r ON r.log = x.log AND r.seq = x.seq"
	    " LEFT JOIN LATERAL (SELECT max(a.seq) AS head FROM audit_log a"
	    "  WHERE a.log = x.log) h ON true ORDER BY x.i", 3, p)) != 0)
		goto out;
	if ((size_t)PQntuples(res) != n) {
		rc = APX_EDB;
		goto out;
	}
	for (r = 0; r < PQntuples(res); r++) {
		if (apx_parse_ll(PQgetvalue(res, r, 0), 1, (long long)n,
		    &idx) != 0 ||
		    apx_parse_ll(PQgetvalue(res, r, 1), 0, 3, &st) != 0 ||
		    apx_parse_ll(PQgetvalue(res, r, 2), 0, LLONG_MAX,
		    &head) != 0) {
			rc = APX_EDB;
			goto out;
		}
		v[idx - 1].state = (enum apx_audit_anchor_state)st;
		v[idx - 1].head = head;
		if (st != APX_AUDIT_ANCHOR_OK)
			(*bad)++;
	}
out:
	PQclear(res);
	apx_buf_free(&logs);
	apx_buf_free(&seqs);
	apx_buf_free(&hashes);
	return rc;
}
