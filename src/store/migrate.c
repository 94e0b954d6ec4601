#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/db.h"
#include "store/migrate.h"

#include "store/migrations.inc"
#include "store/tenant_migrations.inc"

static int	 exec_simple(PGconn *, const char *, char *, size_t);
static int	 grant_app_role(PGconn *, const char *, char *, size_t);
static int	 run_set(PGconn *, const struct apx_migration *, size_t,
		    const char *, int *, char *, size_t);

int
apx_migrate_latest(void)
{
	return control_migrations[APX_NELEM(control_migrations) - 1].version;
}

/* Trusted SQL from this binary (no values); multi-statement allowed. */
static int
exec_simple(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "no memory");
		PQclear(res);
		return APX_EDB;
	}
	PQclear(res);
	return 0;
}

int
apx_migrate_current(PGconn *c, int *out)
{
	PGresult *res;
	long long v;

	res = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1 ||
	    apx_parse_ll(PQgetvalue(res, 0, 0), 0, 1000000, &v) != 0) {
		PQclear(res);
		return APX_EDB;
	}
	PQclear(res);
	*out = (int)v;
	return 0;
}

/*
 * The application role's rights, set again on every run (the GRANT on all
 * tables would give back what a REVOKE took). Audit entries are written
 * only by audit_append() and personal fields erased only through a
 * recorded request (migration 0009): no INSERT, UPDATE or DELETE on
 * audit_log or audit_erasures, nor their sequences.
 */
static int
grant_app_role(PGconn *c, const char *role, char *err, size_t errlen)
{
	char *q, sql[2048];
	int n, rc;

	if ((q = PQescapeIdentifier(c, role, strlen(role))) == NULL) {
		snprintf(err, errlen, "cannot quote role name");
		return APX_EINVAL;
	}
	n = snprintf(sql, sizeof(sql),
	    "GRANT USAGE ON SCHEMA public TO %s;"
	    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s;"
	    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %s;"
	    "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM %s;"
	    "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_log, audit_erasures"
	    " FROM %s;"
	    "REVOKE ALL ON SEQUENCE audit_log_id_seq, audit_erasures_id_seq"
	    " FROM %s;"
	    "GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text,"
	    " text, text, text, jsonb, jsonb),"
	    " audit_erasure_record(text, bigint, text[]),"
	    " audit_erasure_apply(bigint) TO %s;",
	    q, q, q, q, q, q, q);
	PQfreemem(q);
	if (n < 0 || (size_t)n >= sizeof(sql)) {
		snprintf(err, errlen, "role name too long");
		return APX_EINVAL;
	}
	rc = exec_simple(c, sql, err, errlen);
	return rc;
}

int
apx_migrate_tenant_latest(void)
{
	return tenant_migrations[APX_NELEM(tenant_migrations) - 1].version;
}

int
apx_migrate_run(PGconn *c, const char *app_role, int *applied, char *err,
    size_t errlen)
{
	return run_set(c, control_migrations, APX_NELEM(control_migrations),
	    app_role, applied, err, errlen);
}

int
apx_migrate_tenant(PGconn *c, int *applied, char *err, size_t errlen)
{
	return run_set(c, tenant_migrations, APX_NELEM(tenant_migrations),
	    NULL, applied, err, errlen);
}

/* Apply what is missing of the N migrations SET (ascending versions). */
static int
run_set(PGconn *c, const struct apx_migration *set, size_t n,
    const char *app_role, int *applied, char *err, size_t errlen)
{
	const char *params[2];
	char vbuf[16];
	PGresult *res;
	size_t i;
	int cur, rc;

	*applied = 0;
	/* No NOTICE of the IF NOT EXISTS below on every run. */
	if ((rc = exec_simple(c, "SET client_min_messages = warning", err,
	    errlen)) != 0)
		return rc;
	if ((rc = exec_simple(c,
	    "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version integer PRIMARY KEY,"
	    " name text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())", err, errlen)) != 0)
		return rc;
	/* Session lock: a second migrate waits, then finds nothing to do. */
	if ((rc = exec_simple(c,
	    "SELECT pg_advisory_lock(hashtext('accupredix-migrate'))", err,
	    errlen)) != 0)
		return rc;
	if ((rc = apx_migrate_current(c, &cur)) != 0) {
		snprintf(err, errlen, "cannot read schema_migrations");
		goto out;
	}
	if (cur > set[n - 1].version) {
		snprintf(err, errlen,
		    "the database has migration %d but this binary knows only "
		    "up to %d: refusing to run (upgrade the binary)", cur,
		    set[n - 1].version);
		rc = APX_EMIGRATION;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct apx_migration *m = &set[i];

		if (m->version <= cur)
			continue;
		if ((rc = exec_simple(c, "BEGIN", err, errlen)) != 0)
			goto out;
		if ((rc = exec_simple(c, m->sql, err, errlen)) != 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", err);
			snprintf(err, errlen, "migration %s failed: %s", m->name,
			    msg);
			PQclear(PQexec(c, "ROLLBACK"));
			goto out;
		}
		snprintf(vbuf, sizeof(vbuf), "%d", m->version);
		params[0] = vbuf;
		params[1] = m->name;
		res = PQexecParams(c, "INSERT INTO schema_migrations "
		    "(version, name) VALUES ($1::integer, $2)", 2, NULL,
		    params, NULL, NULL, 0);
		if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "cannot record migration %s: %s",
			    m->name, PQerrorMessage(c));
			PQclear(res);
			PQclear(PQexec(c, "ROLLBACK"));
			rc = APX_EDB;
			goto out;
		}
		PQclear(res);
		if ((rc = exec_simple(c, "COMMIT", err, errlen)) != 0)
			goto out;
		apx_log_info("applied migration %s", m->name);
		(*applied)++;
	}
	if (app_role != NULL &&
	    (rc = grant_app_role(c, app_role, err, errlen)) != 0)
		goto out;
	rc = 0;
out:
	{
		PGresult *u = PQexec(c,
		    "SELECT pg_advisory_unlock(hashtext('accupredix-migrate'))");

		PQclear(u);
	}
	return rc;
}

int
apx_migrate_version(struct apx_db *db, int *out)
{
	PGresult *res;
	long long v;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res,
	    "SELECT coalesce(max(version), 0) FROM schema_migrations", 0,
	    NULL)) != 0)
		return rc;
	rc = PQntuples(res) == 1 &&
	    apx_parse_ll(PQgetvalue(res, 0, 0), 0, 1000000, &v) == 0 ? 0 :
	    APX_EDB;
	PQclear(res);
	if (rc == 0)
		*out = (int)v;
	return rc;
}
