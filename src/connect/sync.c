/*
 * Sync: a connection's sales records fetched page by page by its plugin
 * (struct apx_sync in connector.h), each page committed with the cursor
 * after it in the org's own database, the access token refreshed under
 * the connection's lock when it expires or is refused, and the daily
 * series rebuilt in the connection's workspace at the end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"
#include "store/connect.h"
#include "store/db.h"
#include "store/jobs.h"
#include "store/sales.h"
#include "store/tenant.h"

#define PAGES_MAX	1000000	/* a run stops after this many pages */
#define CURSOR_MAX	1024
#define REFUSALS_MAX	2	/* refused tokens per page before giving up */
#define SYNC_LOCK	0x41505853	/* "APXS": advisory lock class */

static int	 lock_conn(struct apx_db *, int64_t, int);
static const char *why_of(int, int);
static void	 free_secret(char *);

static void
free_secret(char *s)
{
	if (s != NULL) {
		apx_wipe(s, strlen(s));
		free(s);
	}
}

/* The connection's session-level advisory lock: taken (TAKE) or let go.
 * 1 taken, 0 held by another run, or a negative code. The key is the id
 * modulo 2^31 - 1: two connections that share it only wait for each
 * other's runs. */
static int
lock_conn(struct apx_db *db, int64_t conn, int take)
{
	char ks[APX_DB_ID_LEN], cs[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(SYNC_LOCK, ks), apx_db_id(conn, cs) };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, 0, &res, take ?
	    "SELECT pg_try_advisory_lock($1::int,"
	    " ($2::bigint % 2147483647)::int)" :
	    "SELECT pg_advisory_unlock($1::int,"
	    " ($2::bigint % 2147483647)::int)", 2, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return rc;
}

/* A short code for the connection's last_sync_error. */
static const char *
why_of(int rc, int prc)
{
	if (rc == APX_ECONFLICT)
		return "needs_reauth";
	switch (prc) {
	case APX_C_EGRANT:
		return "needs_reauth";
	case APX_C_EEXPIRED:
	case APX_C_EUNAUTH:
		return "token_refused";
	case APX_C_EINVAL:
	case APX_C_EDENIED:
	case APX_C_ETOOBIG:
		return "provider_answer_invalid";
	case APX_C_EPROVIDER:
	case APX_C_EIO:
		return "provider_unavailable";
	default:
		break;
	}
	return rc == APX_EDBUNAVAIL ? "database_unavailable" : rc == APX_EDB ?
	    "database_error" : "sync_failed";
}

int
apx_connect_sync(const struct apx_connect_env *env, int64_t org, int64_t conn,
    int64_t job, struct apx_sync_report *r)
{
	struct apx_conn_row row;
	const struct apx_plugin *pl;
	struct apx_sync s;
	struct apx_cx cx;
	struct apx_db *t;
	const char *access, *account, *next, *refused;
	char *cursor = NULL, *name = NULL, *acct = NULL, *refused_copy = NULL;
	char connector[33];
	int64_t ws, upload;
	int rc, prc = 0, done, locked = 0, refusals;
	size_t nsales;

	memset(r, 0, sizeof(*r));
	memset(&cx, 0, sizeof(cx));
	if ((rc = apx_conn_read(env->db, org, conn, 0, &row)) != 0)
		return rc;
	snprintf(connector, sizeof(connector), "%s", row.connector);
	apx_conn_row_clear(&row);
	if ((pl = apx_connect_find(connector)) == NULL ||
	    pl->d->sync == NULL || pl->d->abi_minor < 1) {
		r->error = "connector_cannot_sync";
		return APX_ENOTFOUND;
	}
	if ((rc = lock_conn(env->db, conn, 1)) < 0)
		return rc;
	if (rc == 0) {
		r->busy = 1;
		return 0;
	}
	locked = 1;
	if ((rc = apx_tenants_db(env->tenants, org, &t)) != 0 ||
	    (rc = apx_conn_sync_started(env->db, conn)) != 0 ||
	    (rc = apx_sales_cursor(t, conn, &cursor, &done)) != 0)
		goto fail;
	apx_log_info("sync %s connection %lld: from %s", connector,
	    (long long)conn, cursor != NULL ? (done ? "the last run's end" :
	    "where an interrupted run stopped") : "the beginning");
	for (;;) {
		if (r->pages >= PAGES_MAX) {
			rc = APX_ETOOBIG;
			goto fail;
		}
		refused = NULL;
		for (refusals = 0;; refusals++) {
			/* A context per page: its memory ends with the page. */
			apx_cx_job(&cx, pl, env->conf, env->db, env->tenants,
			    env->v, org, conn);
			if ((rc = apx_connect_access(&cx, conn, refused, &access,
			    &account, &prc)) != 0)
				goto fail;
			cx.account = account;
			if ((cx.sales = json_array()) == NULL) {
				rc = APX_ENOMEM;
				goto fail;
			}
			memset(&s, 0, sizeof(s));
			s.account_id = account;
			s.access_token = access;
			s.cursor = cursor;
			next = NULL;
			prc = pl->d->sync(&cx, &s, &next);
			if (prc != APX_C_EEXPIRED || refusals >= REFUSALS_MAX)
				break;
			/* Refreshed under the lock, then the same page again. */
			apx_log_info("sync %s connection %lld: the provider "
			    "refused the access token; refreshing",
			    connector, (long long)conn);
			/* REFUSED outlives this context: a wiped copy. */
			free_secret(refused_copy);
			refused_copy = strdup(access != NULL ? access : "");
			apx_cx_end(&cx);
			if ((refused = refused_copy) == NULL) {
				rc = APX_ENOMEM;
				goto fail;
			}
		}
		if (prc < 0) {
			rc = APX_EIO;
			goto fail;
		}
		if (next != NULL && strlen(next) > CURSOR_MAX) {
			prc = APX_C_EINVAL;
			rc = APX_EINVAL;
			goto fail;
		}
		nsales = json_array_size(cx.sales);
		if ((rc = apx_sales_put(t, conn, cx.sales, next != NULL ? next :
		    "", prc == 0)) != 0)
			goto fail;
		r->pages++;
		r->records += (long long)nsales;
		(void)apx_conn_sync_page(env->db, conn, (long long)nsales);
		if (job > 0)
			(void)apx_job_extend(env->db, job, env->lease);
		free(cursor);
		cursor = strdup(next != NULL ? next : "");
		if (acct == NULL && account != NULL)
			acct = strdup(account);
		apx_cx_end(&cx);
		if (cursor == NULL) {
			rc = APX_ENOMEM;
			goto fail;
		}
		if (prc == 0)
			break;
	}
	/* The daily series in the connection's workspace. */
	if ((rc = apx_conn_workspace(env->db, conn, &ws)) != 0)
		goto fail;
	if (ws > 0) {
		if (asprintf(&name, "Sales from %s%s%s", pl->d->display_name,
		    acct != NULL ? ": " : "", acct != NULL ? acct : "") < 0) {
			name = NULL;
			rc = APX_ENOMEM;
			goto fail;
		}
		if (strlen(name) > 200)
			name[200] = '\0';
		if ((rc = apx_sales_series(t, conn, ws, name, &upload,
		    &r->days)) != 0)
			goto fail;
	}
	(void)apx_conn_sync_finished(env->db, conn, NULL);
	apx_log_info("sync %s connection %lld: done, %lld pages, %lld "
	    "records, %lld days in the series", connector, (long long)conn,
	    r->pages, r->records, r->days);
	rc = 0;
	goto out;
fail:
	r->error = why_of(rc, prc);
	apx_log_warn("sync %s connection %lld: stopped after %lld pages: %s",
	    connector, (long long)conn, r->pages, r->error);
	(void)apx_conn_sync_finished(env->db, conn, r->error);
out:
	if (cx.pl != NULL)
		apx_cx_end(&cx);
	if (locked)
		(void)lock_conn(env->db, conn, 0);
	free(cursor);
	free(name);
	free(acct);
	free_secret(refused_copy);
	return rc;
}
