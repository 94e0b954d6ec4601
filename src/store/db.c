/*
 * One libpq connection per worker. Connection strings are secrets (they
 * may carry a password) and are never logged; errors are logged with the
 * SQLSTATE and libpq's primary message only.
 */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/db.h"

#define RECONNECT_BACKOFF_US	(500 * 1000)
#define PREPARED_MAX		256	/* statements prepared per connection */

struct apx_db {
	struct apx_secret	*conninfo;
	char			*appname;
	/* Overrides of the conninfo (a tenant database): NULL if none. */
	char			*dbname;
	char			*user;
	struct apx_secret	*password;
	PGconn			*conn;
	uint64_t		 last_fail_us;
	unsigned long		 errors;
	int			 in_tx;		/* BEGIN sent, no COMMIT/ROLLBACK yet */
	int			 tx_lost;	/* the connection died inside it */
	char			 sqlstate[6];
	/* apx_db_listen's channel ("" for none), and the connection that
	 * holds it: a count of the connections made, 0 while none does. */
	char			 listen[64];
	uint64_t		 listening;
	uint64_t		 connections;
	/* Statements prepared on this connection, by their text. */
	char			*prepared[PREPARED_MAX];
	uint32_t		 prepared_hash[PREPARED_MAX];
	int			 nprepared;
};

static int	 connect_db(struct apx_db *);
static void	 start_listen(struct apx_db *);
static int	 conn_lost(struct apx_db *);
static void	 forget_prepared(struct apx_db *);
static PGresult	*run(struct apx_db *, const char *, int, const char *const *);

static void
forget_prepared(struct apx_db *db)
{
	int i;

	for (i = 0; i < db->nprepared; i++)
		free(db->prepared[i]);
	db->nprepared = 0;
}

/*
 * Every statement of this program is a fixed text: each is prepared once
 * per connection (parse and plan once) and then only executed. A statement
 * that does not prepare runs unprepared, so its error is the one reported.
 */
static PGresult *
run(struct apx_db *db, const char *sql, int n, const char *const *p)
{
	uint32_t h = apx_fnv1a(APX_FNV_BASIS, sql, strlen(sql));
	PGresult *res;
	char name[16];
	int i;

	for (i = 0; i < db->nprepared; i++)
		if (db->prepared_hash[i] == h &&
		    strcmp(db->prepared[i], sql) == 0)
			break;
	if (i == db->nprepared && i < PREPARED_MAX) {
		snprintf(name, sizeof(name), "apx_%d", i);
		res = PQprepare(db->conn, name, sql, n, NULL);
		if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK &&
		    (db->prepared[i] = strdup(sql)) != NULL) {
			db->prepared_hash[i] = h;
			db->nprepared++;
		} else
			i = PREPARED_MAX;
		PQclear(res);
		if (conn_lost(db))
			return NULL;
	}
	if (i >= db->nprepared)
		return PQexecParams(db->conn, sql, n, NULL, p, NULL, NULL, 0);
	snprintf(name, sizeof(name), "apx_%d", i);
	return PQexecPrepared(db->conn, name, n, p, NULL, NULL, 0);
}

struct apx_db *
apx_db_new(const struct apx_secret *conninfo, const char *appname)
{
	struct apx_db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	if ((db->conninfo = apx_secret_dup(conninfo)) == NULL ||
	    (db->appname = strdup(appname)) == NULL) {
		apx_db_free(db);
		return NULL;
	}
	return db;
}

struct apx_db *
apx_db_new_as(const struct apx_secret *conninfo, const char *appname,
    const char *dbname, const char *user, const struct apx_secret *password)
{
	struct apx_db *db;

	if ((db = apx_db_new(conninfo, appname)) == NULL)
		return NULL;
	if ((db->dbname = strdup(dbname)) == NULL ||
	    (db->user = strdup(user)) == NULL ||
	    (db->password = apx_secret_dup(password)) == NULL) {
		apx_db_free(db);
		return NULL;
	}
	return db;
}

void
apx_db_free(struct apx_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	forget_prepared(db);
	apx_secret_free(db->conninfo);
	apx_secret_free(db->password);
	free(db->appname);
	free(db->dbname);
	free(db->user);
	free(db);
}

static int
connect_db(struct apx_db *db)
{
	/*
	 * Our defaults come first: with expand_dbname the user's conninfo,
	 * expanded from "dbname", overrides them.
	 */
	const char *keys[] = { "connect_timeout", "application_name",
	    "options", "dbname", "dbname", "user", "password", "passfile",
	    NULL };
	const char *vals[] = { "3", db->appname,
	    "-c statement_timeout=15000 -c idle_in_transaction_session_timeout=30000",
	    apx_secret_str(db->conninfo), db->dbname, db->user,
	    db->password != NULL ? apx_secret_str(db->password) : NULL,
	    "/dev/null", NULL };
	uint64_t now = apx_now_us();

	/* Without overrides the list ends after the expanded conninfo;
	 * with them, they come last and so win over it. */
	if (db->dbname == NULL)
		keys[4] = NULL;

	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	forget_prepared(db);
	/* Do not hammer a server that just refused us. */
	if (db->last_fail_us != 0 && now - db->last_fail_us < RECONNECT_BACKOFF_US)
		return APX_EDBUNAVAIL;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		apx_log_warn("cannot connect to the database: %s",
		    db->conn != NULL ? PQerrorMessage(db->conn) : "out of memory");
		if (db->conn != NULL)
			PQfinish(db->conn);
		db->conn = NULL;
		db->last_fail_us = now;
		db->errors++;
		return APX_EDBUNAVAIL;
	}
	db->last_fail_us = 0;
	db->connections++;
	db->listening = 0;
	if (db->listen[0] != '\0')
		start_listen(db);
	return 0;
}

/* LISTEN on this connection; on failure the caches relying on it see
 * every request as a change (apx_db_changed). */
static void
start_listen(struct apx_db *db)
{
	char sql[96];
	PGresult *res;

	snprintf(sql, sizeof(sql), "LISTEN %s", db->listen);
	res = PQexec(db->conn, sql);
	if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK)
		db->listening = db->connections;
	else
		apx_log_warn("LISTEN %s failed: %s", db->listen,
		    PQerrorMessage(db->conn));
	PQclear(res);
}

void
apx_db_listen(struct apx_db *db, const char *channel)
{
	snprintf(db->listen, sizeof(db->listen), "%s", channel);
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK &&
	    !db->in_tx)
		start_listen(db);
}

int
apx_db_notified(struct apx_db *db)
{
	PGnotify *n;
	int count = 0;

	if (db->conn == NULL)
		return 0;
	while ((n = PQnotifies(db->conn)) != NULL) {
		PQfreemem(n);
		count++;
	}
	return count;
}

int
apx_db_changed(struct apx_db *db, uint64_t *seen)
{
	int changed;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK ||
	    db->listening == 0 || db->listening != db->connections) {
		*seen = 0;
		return 1;
	}
	/* Reads what the socket holds without blocking (libpq's socket is
	 * non-blocking); notifications read along with earlier results
	 * wait in libpq's list too. */
	if (PQconsumeInput(db->conn) == 0) {
		*seen = 0;
		return 1;
	}
	changed = apx_db_notified(db) > 0;
	if (*seen != db->listening) {
		*seen = db->listening;
		changed = 1;
	}
	return changed;
}

int
apx_db_conn(struct apx_db *db, PGconn **out)
{
	int rc;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		if ((rc = connect_db(db)) != 0)
			return rc;
	}
	if (out != NULL)
		*out = db->conn;
	return 0;
}

static int
conn_lost(struct apx_db *db)
{
	return db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK;
}

int
apx_db_query(struct apx_db *db, int flags, PGresult **out, const char *sql,
    int nparams, const char *const *params)
{
	PGresult *res;
	ExecStatusType st;
	const char *state;
	int attempt, rc;

	*out = NULL;
	db->sqlstate[0] = '\0';
	/*
	 * A transaction whose connection died is gone: every later statement
	 * of it fails until the caller rolls back, and nothing is retried on
	 * a new connection where it would run outside the transaction.
	 */
	if (db->in_tx && (db->tx_lost || conn_lost(db))) {
		db->tx_lost = 1;
		return APX_EDBUNAVAIL;
	}
	if (db->in_tx)
		flags &= ~APX_DB_RETRY;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = apx_db_conn(db, NULL)) != 0)
			return rc;
		res = run(db, sql, nparams, params);
		st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			*out = res;
			return 0;
		}
		if (conn_lost(db)) {
			/* The server went away: maybe a restart; retry once. */
			PQclear(res);
			apx_log_warn("database connection lost");
			db->errors++;
			PQfinish(db->conn);
			db->conn = NULL;
			if (db->in_tx)
				db->tx_lost = 1;
			if (!(flags & APX_DB_RETRY))
				return APX_EDBUNAVAIL;
			continue;
		}
		state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) :
		    NULL;
		if (state != NULL)
			(void)apx_strlcpy_chk(db->sqlstate, state,
			    sizeof(db->sqlstate));
		/* Primary message only: DETAIL may quote parameter values. */
		apx_log_error("statement failed: sqlstate=%s: %s",
		    state != NULL ? state : "?",
		    res != NULL && PQresultErrorField(res,
		    PG_DIAG_MESSAGE_PRIMARY) != NULL ? PQresultErrorField(res,
		    PG_DIAG_MESSAGE_PRIMARY) : "no message");
		db->errors++;
		PQclear(res);	/* STATE pointed into it: use the copy */
		/* SQLSTATE class 08 (connection exception), 57P (shutdown) */
		if (strncmp(db->sqlstate, "08", 2) == 0 ||
		    strncmp(db->sqlstate, "57P", 3) == 0)
			return APX_EDBUNAVAIL;
		return APX_EDB;
	}
	return APX_EDBUNAVAIL;
}

int
apx_db_exec(struct apx_db *db, const char *sql)
{
	return apx_db_do(db, 0, sql, 0, NULL);
}

int
apx_db_do(struct apx_db *db, int flags, const char *sql, int n,
    const char *const *p)
{
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, flags, &res, sql, n, p)) != 0)
		return rc;
	PQclear(res);
	return 0;
}

void
apx_db_hex(const unsigned char *h, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	out[0] = '\\';
	out[1] = 'x';
	for (i = 0; i < n; i++) {
		out[2 + 2 * i] = hex[h[i] >> 4];
		out[3 + 2 * i] = hex[h[i] & 15];
	}
	out[2 + 2 * n] = '\0';
}

char *
apx_db_hexdup(const unsigned char *b, size_t n)
{
	char *h;

	if ((h = malloc(2 * n + 3)) == NULL)
		return NULL;
	apx_db_hex(b, n, h);
	return h;
}

int
apx_db_unhex(const char *s, size_t max, unsigned char **out, size_t *len)
{
	size_t n = strlen(s), i;
	unsigned char *b;

	*out = NULL;
	*len = 0;
	if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2 != 0 ||
	    (n - 2) / 2 > max)
		return APX_EDB;
	if ((b = malloc((n - 2) / 2 + 1)) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < (n - 2) / 2; i++) {
		int hi = apx_hex_digit((unsigned char)s[2 + 2 * i]);
		int lo = apx_hex_digit((unsigned char)s[3 + 2 * i]);

		if (hi < 0 || lo < 0) {
			free(b);
			return APX_EDB;
		}
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	*out = b;
	*len = (n - 2) / 2;
	return 0;
}

const char *
apx_db_id(int64_t id, char *buf)
{
	snprintf(buf, APX_DB_ID_LEN, "%lld", (long long)id);
	return buf;
}

int
apx_db_json_res(struct apx_db *db, int flags, PGresult **out,
    const char *sql, int nparams, const char *const *params)
{
	int rc;

	*out = NULL;
	if ((rc = apx_db_query(db, flags, out, sql, nparams, params)) != 0)
		return rc;
	if (PQntuples(*out) > 1 || PQnfields(*out) != 1) {
		apx_log_error("query answered %d rows of %d columns, not one "
		    "JSON value", PQntuples(*out), PQnfields(*out));
		rc = APX_EDB;
	} else if (PQntuples(*out) == 0 || PQgetisnull(*out, 0, 0))
		rc = APX_ENOTFOUND;
	if (rc != 0) {
		PQclear(*out);
		*out = NULL;
	}
	return rc;
}

/* A JSON number as PostgreSQL writes an integer or numeric: digits, with
 * a sign, a point or an exponent (NaN and Infinity are not JSON). */
static int
json_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	return strspn(p, "0123456789.eE+-") == strlen(p);
}

static int
rows_value(struct apx_buf *out, const PGresult *res, int r, int f,
    enum apx_jkind kind)
{
	const char *v = PQgetvalue(res, r, f);
	size_t len = (size_t)PQgetlength(res, r, f);

	if (PQgetisnull(res, r, f))
		return apx_buf_add(out, "null", 4);
	switch (kind) {
	case APX_JNUM:
		if (!json_number(v))
			return APX_EDB;
		return apx_buf_add(out, v, len);
	case APX_JSTR:
		return apx_buf_json_ascii(out, v, len);
	case APX_JRAW:
		return apx_buf_json_compact(out, v, len);
	case APX_JBOOL:
		if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0)
			return APX_EDB;
		return apx_buf_adds(out, *v == 't' ? "true" : "false");
	default:
		return APX_EDB;
	}
}

/* Who: columns F (user id) and F + 1 (API key id) of row R. */
static int
rows_actor(struct apx_buf *out, const PGresult *res, int r, int f)
{
	int rc;

	if (PQgetisnull(res, r, f + 1)) {
		if ((rc = apx_buf_adds(out, "{\"type\":\"user\",\"id\":")) != 0)
			return rc;
	} else if ((rc = apx_buf_adds(out,
	    "{\"type\":\"api_key\",\"id\":")) != 0 ||
	    (rc = rows_value(out, res, r, f + 1, APX_JNUM)) != 0 ||
	    (rc = apx_buf_adds(out, ",\"user_id\":")) != 0)
		return rc;
	if ((rc = rows_value(out, res, r, f, APX_JNUM)) != 0)
		return rc;
	return apx_buf_add(out, "}", 1);
}

int
apx_db_rows_json(struct apx_buf *out, const PGresult *res, int first, int n,
    const struct apx_jcol *cols, size_t ncols)
{
	size_t old = out->len, c;
	int r, f, rc, want = 0;

	for (c = 0; c < ncols; c++)
		want += cols[c].kind == APX_JACTOR ? 2 : 1;
	if (want != PQnfields(res) || first < 0 || n < 0 ||
	    first + n > PQntuples(res)) {
		apx_log_error("a list of %d rows of %d columns, %d rows from %d "
		    "of %d columns asked", PQntuples(res), PQnfields(res), n,
		    first, want);
		return APX_EDB;
	}
	if ((rc = apx_buf_add(out, "[", 1)) != 0)
		goto fail;
	for (r = first; r < first + n; r++) {
		if ((rc = apx_buf_adds(out, r > first ? ",{" : "{")) != 0)
			goto fail;
		for (c = 0, f = 0; c < ncols; c++) {
			if ((c > 0 && (rc = apx_buf_add(out, ",", 1)) != 0) ||
			    (rc = apx_buf_add(out, "\"", 1)) != 0 ||
			    (rc = apx_buf_adds(out, cols[c].key)) != 0 ||
			    (rc = apx_buf_add(out, "\":", 2)) != 0)
				goto fail;
			if (cols[c].kind == APX_JACTOR) {
				rc = rows_actor(out, res, r, f);
				f += 2;
			} else
				rc = rows_value(out, res, r, f++, cols[c].kind);
			if (rc != 0)
				goto fail;
		}
		if ((rc = apx_buf_add(out, "}", 1)) != 0)
			goto fail;
	}
	if ((rc = apx_buf_add(out, "]", 1)) != 0)
		goto fail;
	return 0;
fail:
	out->len = old;
	if (out->data != NULL)
		out->data[old] = '\0';
	if (rc == APX_EINVAL || rc == APX_EDB) {
		apx_log_error("a list row is not what its columns say");
		return APX_EDB;
	}
	return rc;
}

int
apx_db_json(struct apx_db *db, int flags, json_t **out, const char *sql,
    int nparams, const char *const *params)
{
	json_error_t jerr;
	PGresult *res;
	int rc;

	*out = NULL;
	if ((rc = apx_db_query(db, flags, &res, sql, nparams, params)) != 0)
		return rc;
	if (PQntuples(res) > 1 || PQnfields(res) != 1) {
		apx_log_error("query answered %d rows of %d columns, not one "
		    "JSON value", PQntuples(res), PQnfields(res));
		rc = APX_EDB;
	} else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    (*out = json_loads(PQgetvalue(res, 0, 0),
	    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		apx_log_error("query answered JSON that does not parse: %s",
		    jerr.text);
		rc = APX_EDB;
	}
	PQclear(res);
	return rc;
}

int
apx_db_begin(struct apx_db *db)
{
	/* BEGIN on a fresh connection is safe to retry. */
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "BEGIN", 0, NULL)) != 0)
		return rc;
	PQclear(res);
	db->in_tx = 1;
	db->tx_lost = 0;
	return 0;
}

int
apx_db_commit(struct apx_db *db)
{
	int rc = apx_db_exec(db, "COMMIT");

	db->in_tx = db->tx_lost = 0;
	return rc;
}

void
apx_db_rollback(struct apx_db *db)
{
	int lost = db->tx_lost;

	db->in_tx = db->tx_lost = 0;
	if (!lost && db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK &&
	    PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		(void)apx_db_exec(db, "ROLLBACK");
}

const char *
apx_db_last_sqlstate(const struct apx_db *db)
{
	return db->sqlstate;
}

unsigned long
apx_db_take_errors(struct apx_db *db)
{
	unsigned long n = db->errors;

	db->errors = 0;
	return n;
}

void
apx_db_wait_notify(struct apx_db *db, const char *channel, int secs,
    volatile int *stop)
{
	struct pollfd pfd;
	char sql[96];
	PGconn *pg;
	int i;

	snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	if (apx_db_exec(db, sql) != 0 ||
	    apx_db_conn(db, &pg) != 0 || (pfd.fd = PQsocket(pg)) < 0) {
		for (i = 0; i < secs * 10 && (stop == NULL || !*stop); i++)
			(void)poll(NULL, 0, 100);
		return;
	}
	pfd.events = POLLIN;
	for (i = 0; i < secs * 10 && (stop == NULL || !*stop); i++) {
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) > 0) {
			if (PQconsumeInput(pg) == 0)
				return;
			/* Drain: one wake-up is enough. */
			if (apx_db_notified(db) > 0)
				return;
		}
	}
}
