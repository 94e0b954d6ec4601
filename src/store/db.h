/*
 * Control-plane database access for one worker: a lazily opened libpq
 * connection that is re-opened when lost. Every statement goes through
 * apx_db_query() with parameters; a dead server becomes APX_EDBUNAVAIL
 * (503 for the client), never a crash.
 */
#ifndef APX_STORE_DB_H
#define APX_STORE_DB_H

#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/buf.h"
#include "core/secret.h"

struct apx_db;

#define APX_DB_RETRY	0x1	/* idempotent: retry once on a fresh connection */

struct apx_db *apx_db_new(const struct apx_secret *, const char *);
/*
 * The same server as CONNINFO, but database DBNAME as USER with PASSWORD
 * (a tenant database): these win over what CONNINFO says.
 */
struct apx_db *apx_db_new_as(const struct apx_secret *, const char *,
	    const char *, const char *, const struct apx_secret *);
void	 apx_db_free(struct apx_db *);
/* Connected (reconnecting if needed)? 0 or APX_EDBUNAVAIL. */
int	 apx_db_conn(struct apx_db *, PGconn **);
/*
 * Run SQL with text parameters. On success *RES holds a result the caller
 * clears. APX_EDBUNAVAIL when the server cannot be reached, APX_EDB when
 * it refused the statement (SQLSTATE in *SQLSTATE if not NULL).
 */
int	 apx_db_query(struct apx_db *, int, PGresult **, const char *, int,
	    const char *const *);
int	 apx_db_exec(struct apx_db *, const char *);	/* no params, no rows */
/* apx_db_query for a statement whose rows, if any, are not wanted. */
int	 apx_db_do(struct apx_db *, int, const char *, int, const char *const *);
/*
 * Run SQL whose answer is at most one row of one json/jsonb column (build
 * API shapes with json_build_object / json_agg in SQL). *OUT: the parsed
 * value, or NULL for no row or SQL NULL. Errors as apx_db_query.
 */
int	 apx_db_json(struct apx_db *, int, json_t **, const char *, int,
	    const char *const *);
/*
 * The same for an answer passed on as it is (apx_resp_json_text), without
 * a parse: *OUT the result, its JSON text PQgetvalue(*OUT, 0, 0); the
 * caller PQclears it. APX_ENOTFOUND for no row or SQL NULL.
 */
int	 apx_db_json_res(struct apx_db *, int, PGresult **, const char *, int,
	    const char *const *);
/*
 * How apx_db_rows_json writes a column of a row: SQL NULL is null in
 * every kind.
 */
enum apx_jkind {
	APX_JNUM,	/* an integer or numeric column, as a JSON number */
	APX_JSTR,	/* text: a JSON string (ASCII, as apx_buf_json_ascii) */
	APX_JRAW,	/* json or jsonb: its text, compacted (apx_buf_json_compact) */
	APX_JBOOL,	/* boolean: true or false */
	/*
	 * Two columns, a user id and an API key id: who did something,
	 * {"type":"user","id":U} or {"type":"api_key","id":K,"user_id":U}.
	 */
	APX_JACTOR
};

/* One member of the objects apx_db_rows_json writes. */
struct apx_jcol {
	const char	*key;	/* its name (a literal: written as it is) */
	enum apx_jkind	 kind;
};

/*
 * Rows FIRST .. FIRST + N - 1 of RES as a JSON array of objects into OUT,
 * one member per entry of COLS (NCOLS), which take RES's columns in order
 * (APX_JACTOR two of them), in the app's compact ASCII form: the answer of
 * a list without building JSON in SQL, where json_build_object and
 * json_agg cost the server several times the query itself. APX_EDB (OUT as
 * it was) when RES's columns do not match COLS or a value is not what its
 * kind says; APX_ENOMEM.
 */
int	 apx_db_rows_json(struct apx_buf *, const PGresult *, int, int,
	    const struct apx_jcol *, size_t);
/* A bytea parameter in hex text form ("\\x0a1b..."): OUT holds 2N + 3. */
void	 apx_db_hex(const unsigned char *, size_t, char *);
/* The same, malloc'd (NULL when out of memory). */
char	*apx_db_hexdup(const unsigned char *, size_t);
/* A bytea column's hex text ("\\x0a1b...") into malloc'd bytes (at most
 * MAX). APX_EDB when malformed. */
int	 apx_db_unhex(const char *, size_t, unsigned char **, size_t *);
/* "%lld" of an id into a buffer of APX_DB_ID_LEN, returned. */
#define APX_DB_ID_LEN	24
const char *apx_db_id(int64_t, char *);
int	 apx_db_begin(struct apx_db *);
int	 apx_db_commit(struct apx_db *);
void	 apx_db_rollback(struct apx_db *);
const char *apx_db_last_sqlstate(const struct apx_db *);
/*
 * LISTEN on CHANNEL (an identifier) and wait until a NOTIFY on it, SECS
 * seconds, or *STOP (checked every 100 ms). Without a connection it just
 * sleeps, so a loop around it never spins.
 */
void	 apx_db_wait_notify(struct apx_db *, const char *, int,
	    volatile int *);
/*
 * Keep a LISTEN on CHANNEL (an identifier) on this connection: issued now
 * if connected and again on every reconnection.
 */
void	 apx_db_listen(struct apx_db *, const char *);
/*
 * Without waiting: 0 when the connection that holds the LISTEN is the one
 * of the last call (*SEEN, 0 at first) and no notification came since; 1
 * when some came (all are consumed), the connection changed or is gone, or
 * the LISTEN is not in place. A cache that PostgreSQL invalidates trusts
 * what it holds only on 0.
 */
int	 apx_db_changed(struct apx_db *, uint64_t *);
/* Notifications libpq already holds (read along with results), consumed
 * without reading the socket: their count. */
int	 apx_db_notified(struct apx_db *);
/* Count of connection losses and refused statements since the last call. */
unsigned long apx_db_take_errors(struct apx_db *);

#endif
