/*
 * Control-plane database access for one worker: a lazily opened libpq
 * connection that is re-opened when lost. Every statement goes through
 * apx_db_query() with parameters; a dead server becomes APX_EDBUNAVAIL
 * (503 for the client), never a crash.
 */
#ifndef APX_STORE_DB_H
#define APX_STORE_DB_H

#include <libpq-fe.h>

#include "core/secret.h"

struct apx_db;

#define APX_DB_RETRY	0x1	/* idempotent: retry once on a fresh connection */

struct apx_db *apx_db_new(const struct apx_secret *, const char *);
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
int	 apx_db_begin(struct apx_db *);
int	 apx_db_commit(struct apx_db *);
void	 apx_db_rollback(struct apx_db *);
const char *apx_db_last_sqlstate(const struct apx_db *);
/* Count of connection losses and refused statements since the last call. */
unsigned long apx_db_take_errors(struct apx_db *);

#endif
