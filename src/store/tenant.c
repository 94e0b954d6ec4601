/*
 * Tenant databases: provisioning on a region's server, migrations, and a
 * worker's small LRU of connections. See tenant.h for the protocol that
 * keeps an org and its database together.
 *
 * Identifiers (role and database names) are built only from a slug that
 * apx_org_slug_valid accepted, and are quoted with PQescapeIdentifier
 * anyway. The role's password never reaches the server: it gets the SCRAM
 * verifier, made on our side by PQencryptPasswordConn.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "core/apx.h"
#include "core/log.h"
#include "core/secret.h"
#include "store/db.h"
#include "store/migrate.h"
#include "store/orgs.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define PASSWORD_BYTES	32	/* random, sent as 64 hex characters */
#define TENANTS_MAX	64

struct tenant_conn {
	int64_t		 org;
	uint64_t	 used;		/* LRU clock */
	struct apx_db	*db;
};

struct apx_tenants {
	const struct apx_conf	*conf;
	struct apx_db		*ctl;
	struct tenant_conn	 conns[TENANTS_MAX];
	size_t			 max;
	uint64_t		 clock;
};

static int	 ddl(PGconn *, const char *, const char *);
static int	 ddl_q(PGconn *, const char *, const char *, const char *,
		    const char *);
static int	 exists(PGconn *, const char *, const char *, int *);
static int	 provision_conn(const struct apx_conf *, const char *,
		    struct apx_db **);
static int	 make_objects(PGconn *, const char *, const char *);
static int	 drop_objects(PGconn *, const char *);
static int	 migrate_one(const struct apx_conf *, const char *,
		    const char *, const struct apx_secret *);
static int	 open_password(struct apx_vault *, struct apx_db *, int64_t,
		    const char *, struct apx_secret **);

int
apx_tenant_name(const char *slug, char *out, size_t len)
{
	if (!apx_org_slug_valid(slug) ||
	    (size_t)snprintf(out, len, "%s%s", APX_TENANT_DB_PREFIX, slug) >=
	    len)
		return APX_EINVAL;
	return 0;
}

void
apx_tenant_owner(int64_t org, char *out, size_t len)
{
	snprintf(out, len, "org:%lld", (long long)org);
}

/* Trusted DDL of this file (identifiers already quoted). */
static int
ddl(PGconn *c, const char *sql, const char *what)
{
	PGresult *res = PQexec(c, sql);
	const char *st, *msg;
	int rc = 0;

	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
		    NULL;
		apx_log_warn("tenant %s failed: %s (%s)", what,
		    msg ? msg : PQerrorMessage(c), st ? st : "no sqlstate");
		if (PQstatus(c) != CONNECTION_OK)
			rc = APX_EDBUNAVAIL;
		else if (st != NULL && (strcmp(st, "42710") == 0 ||
		    strcmp(st, "42P04") == 0))
			rc = APX_ECONFLICT;	/* role / database exists */
		else
			rc = APX_EDB;
	}
	PQclear(res);
	return rc;
}

/* PRE, the quoted identifier NAME, POST. */
static int
ddl_q(PGconn *c, const char *pre, const char *name, const char *post,
    const char *what)
{
	char *q, sql[512];
	int rc;

	if ((q = PQescapeIdentifier(c, name, strlen(name))) == NULL)
		return APX_ENOMEM;
	if ((size_t)snprintf(sql, sizeof(sql), "%s%s%s", pre, q, post) >=
	    sizeof(sql)) {
		PQfreemem(q);
		return APX_EINVAL;
	}
	PQfreemem(q);
	rc = ddl(c, sql, what);
	return rc;
}

/* Does role (KIND "role") or database ("database") NAME exist? */
static int
exists(PGconn *c, const char *kind, const char *name, int *out)
{
	const char *p[1] = { name };
	PGresult *res;
	int rc = 0;

	res = PQexecParams(c, strcmp(kind, "role") == 0 ?
	    "SELECT 1 FROM pg_roles WHERE rolname = $1" :
	    "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, p, NULL,
	    NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = PQstatus(c) != CONNECTION_OK ? APX_EDBUNAVAIL : APX_EDB;
	else
		*out = PQntuples(res) > 0;
	PQclear(res);
	return rc;
}

/* A connection to REGION's server as its provisioning role. */
static int
provision_conn(const struct apx_conf *conf, const char *region,
    struct apx_db **out)
{
	const struct apx_region *r = apx_conf_region(conf, region);
	int rc;

	*out = NULL;
	if (r == NULL) {
		apx_log_error("region '%s' has no regions.%s.conninfo", region,
		    region);
		return APX_ECONFIG;
	}
	if ((*out = apx_db_new(r->conninfo, "accupredix-provision")) == NULL)
		return APX_ENOMEM;
	if ((rc = apx_db_conn(*out, NULL)) != 0) {
		apx_db_free(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * Role NAME with the verifier VERIFIER, its database NAME, nobody else
 * allowed in. The provisioning role is a member of NAME only while it
 * makes the database (CREATE DATABASE … OWNER needs it).
 */
static int
make_objects(PGconn *c, const char *name, const char *verifier)
{
	char *q = NULL, *lit = NULL, sql[1024];
	int rc;

	if ((q = PQescapeIdentifier(c, name, strlen(name))) == NULL ||
	    (lit = PQescapeLiteral(c, verifier, strlen(verifier))) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN "
	    "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
	    "CONNECTION LIMIT 64 PASSWORD %s", q, lit);
	if ((rc = ddl(c, sql, "create role")) != 0)
		goto out;
	snprintf(sql, sizeof(sql), "GRANT %s TO CURRENT_USER", q);
	if ((rc = ddl(c, sql, "grant role")) != 0)
		goto out;
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER %s TEMPLATE "
	    "template0 ENCODING 'UTF8'", q, q);
	if ((rc = ddl(c, sql, "create database")) != 0)
		goto out;
	snprintf(sql, sizeof(sql), "REVOKE ALL ON DATABASE %s FROM PUBLIC",
	    q);
	if ((rc = ddl(c, sql, "revoke connect")) != 0)
		goto out;
	snprintf(sql, sizeof(sql), "REVOKE %s FROM CURRENT_USER", q);
	rc = ddl(c, sql, "revoke role");
out:
	PQfreemem(q);
	PQfreemem(lit);
	return rc;
}

/* Database and role NAME gone (sessions in it ended). Idempotent. */
static int
drop_objects(PGconn *c, const char *name)
{
	int rc, role = 0;

	if ((rc = exists(c, "role", name, &role)) != 0)
		return rc;
	/* Ownership (membership) is needed to drop the database. */
	if (role && (rc = ddl_q(c, "GRANT ", name, " TO CURRENT_USER",
	    "grant role")) != 0)
		return rc;
	/*
	 * End the sessions of its role ourselves: WITH (FORCE) would also try
	 * an autovacuum worker in it, which no role but a superuser may end,
	 * and fail. A plain DROP DATABASE waits for ended sessions to go and
	 * cancels autovacuum by itself.
	 */
	if (role) {
		const char *p[1] = { name };
		PGresult *res = PQexecParams(c, "SELECT pg_terminate_backend(pid)"
		    " FROM pg_stat_activity WHERE usename = $1 AND pid <>"
		    " pg_backend_pid()", 1, NULL, p, NULL, NULL, 0);

		if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
			apx_log_warn("tenant %s: cannot end its sessions: %s",
			    name, PQerrorMessage(c));
		PQclear(res);
	}
	if ((rc = ddl_q(c, "DROP DATABASE IF EXISTS ", name, "",
	    "drop database")) != 0)
		return rc;
	return ddl_q(c, "DROP ROLE IF EXISTS ", name, "", "drop role");
}

/* Run the tenant migrations in database NAME of REGION as its role. */
static int
migrate_one(const struct apx_conf *conf, const char *region,
    const char *name, const struct apx_secret *pw)
{
	const struct apx_region *r = apx_conf_region(conf, region);
	struct apx_db *db;
	PGconn *c;
	char err[512];
	int rc, applied = 0;

	if (r == NULL)
		return APX_ECONFIG;
	if ((db = apx_db_new_as(r->conninfo, "accupredix-migrate", name, name,
	    pw)) == NULL)
		return APX_ENOMEM;
	if ((rc = apx_db_conn(db, &c)) == 0 &&
	    (rc = apx_migrate_tenant(c, &applied, err, sizeof(err))) != 0)
		apx_log_error("tenant database %s: %s", name, err);
	apx_db_free(db);
	return rc;
}

int
apx_tenant_reserve(struct apx_db *ctl, const char *slug, const char *region,
    int64_t *org)
{
	char name[APX_TENANT_NAME_MAX + 1];
	const char *p[3] = { slug, region, name };
	PGresult *res;
	long long id;
	int rc;

	if ((rc = apx_tenant_name(slug, name, sizeof(name))) != 0)
		return rc;
	if ((rc = apx_db_query(ctl, 0, &res, "INSERT INTO tenant_provisioning"
	    " (slug, org_id, region, tenant_db) SELECT $1,"
	    " nextval('orgs_id_seq'), $2, $3 WHERE NOT EXISTS (SELECT 1 FROM"
	    " orgs WHERE slug = $1 OR tenant_db = $3) ON CONFLICT DO NOTHING"
	    " RETURNING org_id", 3, p)) != 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = APX_ECONFLICT;
	else if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &id) != 0)
		rc = APX_EDB;
	else
		*org = id;
	PQclear(res);
	return rc;
}

int
apx_tenant_release(struct apx_db *ctl, const char *slug)
{
	const char *p[1] = { slug };

	return apx_db_do(ctl, APX_DB_RETRY, "DELETE FROM tenant_provisioning"
	    " WHERE slug = $1", 1, p);
}

int
apx_tenant_create(const struct apx_conf *conf, struct apx_db *ctl,
    struct apx_vault *v, const char *slug, const char *region, int64_t org,
    unsigned char **sealed, size_t *sealed_len)
{
	unsigned char raw[PASSWORD_BYTES];
	char name[APX_TENANT_NAME_MAX + 1], pw[2 * PASSWORD_BYTES + 1];
	char owner[32], rec[APX_DB_ID_LEN], *verifier = NULL;
	struct apx_secret *sec = NULL;
	struct apx_db *prov = NULL;
	PGconn *c;
	int rc, made = 0, have = 0;

	*sealed = NULL;
	if ((rc = apx_tenant_name(slug, name, sizeof(name))) != 0)
		return rc;
	apx_random(raw, sizeof(raw));
	sodium_bin2hex(pw, sizeof(pw), raw, sizeof(raw));
	apx_wipe(raw, sizeof(raw));
	apx_tenant_owner(org, owner, sizeof(owner));
	/* Sealed first: without a vault there is nothing to create. */
	if ((rc = apx_vault_seal(v, ctl, owner, APX_TENANT_PURPOSE,
	    apx_db_id(org, rec), pw, strlen(pw), sealed, sealed_len)) != 0)
		goto out;
	if ((rc = provision_conn(conf, region, &prov)) != 0)
		goto out;
	(void)apx_db_conn(prov, &c);
	/* A leftover of the same name is not ours to drop. */
	if ((rc = exists(c, "role", name, &have)) != 0)
		goto out;
	if (!have && (rc = exists(c, "database", name, &have)) != 0)
		goto out;
	if (have) {
		apx_log_warn("tenant database or role %s already exists on "
		    "region %s", name, region);
		rc = APX_ECONFLICT;
		goto out;
	}
	if ((verifier = PQencryptPasswordConn(c, pw, name,
	    "scram-sha-256")) == NULL) {
		apx_log_warn("cannot make a SCRAM verifier: %s",
		    PQerrorMessage(c));
		rc = APX_EDBUNAVAIL;
		goto out;
	}
	made = 1;
	if ((rc = make_objects(c, name, verifier)) != 0)
		goto out;
	if ((sec = apx_secret_new(pw, strlen(pw))) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	rc = migrate_one(conf, region, name, sec);
out:
	if (rc != 0 && made && prov != NULL &&
	    apx_db_conn(prov, &c) == 0 && drop_objects(c, name) != 0)
		apx_log_error("tenant database %s: could not drop it again "
		    "(accupredix-admin tenant cleanup will)", name);
	if (rc != 0) {
		free(*sealed);
		*sealed = NULL;
		/* The org's id is new: its data key served nothing else. */
		if (apx_vault_forget_owner(v, ctl, owner) != 0)
			apx_log_warn("org %lld: its unused vault key stays",
			    (long long)org);
	}
	if (verifier != NULL) {
		apx_wipe(verifier, strlen(verifier));
		PQfreemem(verifier);
	}
	apx_secret_free(sec);
	apx_wipe(pw, sizeof(pw));
	apx_db_free(prov);
	return rc;
}

int
apx_tenant_drop(const struct apx_conf *conf, struct apx_db *ctl,
    struct apx_vault *v, const char *slug, const char *region, int64_t org)
{
	char name[APX_TENANT_NAME_MAX + 1], owner[32];
	struct apx_db *prov = NULL;
	PGconn *c;
	int rc;

	if ((rc = apx_tenant_name(slug, name, sizeof(name))) != 0)
		return rc;
	if ((rc = provision_conn(conf, region, &prov)) != 0)
		return rc;
	(void)apx_db_conn(prov, &c);
	rc = drop_objects(c, name);
	apx_db_free(prov);
	if (rc != 0)
		return rc;
	apx_tenant_owner(org, owner, sizeof(owner));
	return apx_vault_forget_owner(v, ctl, owner);
}

int
apx_tenant_cleanup(const struct apx_conf *conf, struct apx_db *ctl,
    struct apx_vault *v, int older, int *done)
{
	char os[APX_DB_ID_LEN];
	const char *p[1];
	PGresult *res;
	long long org;
	int i, rc, rc2 = 0;

	*done = 0;
	snprintf(os, sizeof(os), "%d", older);
	p[0] = os;
	/* An org that was written has no reservation left: these are
	 * creations that died part-way. */
	if ((rc = apx_db_query(ctl, APX_DB_RETRY, &res, "SELECT slug, region,"
	    " org_id FROM tenant_provisioning t WHERE started_at < now() -"
	    " make_interval(secs => $1::int) AND NOT EXISTS (SELECT 1 FROM"
	    " orgs o WHERE o.id = t.org_id) ORDER BY org_id", 1, p)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		const char *slug = PQgetvalue(res, i, 0);
		const char *region = PQgetvalue(res, i, 1);

		if (apx_parse_ll(PQgetvalue(res, i, 2), 1, INT64_MAX, &org) !=
		    0)
			continue;
		if ((rc = apx_tenant_drop(conf, ctl, v, slug, region, org)) ==
		    0 && (rc = apx_tenant_release(ctl, slug)) == 0) {
			apx_log_info("finished the interrupted creation of "
			    "org %s (region %s): its database is dropped",
			    slug, region);
			(*done)++;
		} else
			rc2 = rc;
	}
	PQclear(res);
	return rc2;
}

/* The password of org ORG's role, opened from SEALED (a bytea's hex). */
static int
open_password(struct apx_vault *v, struct apx_db *ctl, int64_t org,
    const char *hex, struct apx_secret **out)
{
	unsigned char *sealed = NULL, *plain = NULL;
	char owner[32], rec[APX_DB_ID_LEN];
	size_t n = 0, plen = 0;
	int rc;

	*out = NULL;
	if ((rc = apx_db_unhex(hex, 4096, &sealed, &n)) != 0)
		return APX_ECRYPTO;
	apx_tenant_owner(org, owner, sizeof(owner));
	rc = apx_vault_open(v, ctl, owner, APX_TENANT_PURPOSE,
	    apx_db_id(org, rec), sealed, n, &plain, &plen);
	free(sealed);
	if (rc != 0)
		return rc;
	if ((*out = apx_secret_new(plain, plen)) == NULL)
		rc = APX_ENOMEM;
	apx_wipe(plain, plen);
	free(plain);
	return rc;
}

int
apx_tenant_migrate_all(const struct apx_conf *conf, struct apx_db *ctl,
    struct apx_vault *v, int *ok, int *failed)
{
	char name[APX_TENANT_NAME_MAX + 1];
	struct apx_secret *pw = NULL;
	PGresult *res;
	long long org;
	int i, rc;

	*ok = *failed = 0;
	/* Erased orgs (and those being erased) keep no database. */
	if ((rc = apx_db_query(ctl, APX_DB_RETRY, &res, "SELECT id, slug,"
	    " region, tenant_secret FROM orgs WHERE status = 'active' ORDER"
	    " BY id", 0, NULL)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		const char *slug = PQgetvalue(res, i, 1);
		const char *region = PQgetvalue(res, i, 2);

		if (apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX, &org) !=
		    0 || apx_tenant_name(slug, name, sizeof(name)) != 0) {
			(*failed)++;
			continue;
		}
		if (PQgetisnull(res, i, 3)) {
			/* An org older than tenant databases: make its own. */
			unsigned char *sealed = NULL;
			size_t n = 0;
			char hx[2 * 4096 + 3], ids[APX_DB_ID_LEN];
			const char *p[2];

			rc = apx_tenant_create(conf, ctl, v, slug, region, org,
			    &sealed, &n);
			if (rc == 0 && 2 * n + 3 > sizeof(hx))
				rc = APX_ETOOBIG;
			if (rc == 0) {
				apx_db_hex(sealed, n, hx);
				p[0] = apx_db_id(org, ids);
				p[1] = hx;
				rc = apx_db_do(ctl, 0, "UPDATE orgs SET"
				    " tenant_secret = $2::bytea WHERE id ="
				    " $1::bigint", 2, p);
			}
			free(sealed);
			if (rc != 0) {
				apx_log_error("org %s: cannot create its tenant"
				    " database: %s", slug, apx_strerror(rc));
				(*failed)++;
			} else {
				apx_log_info("org %s: tenant database %s "
				    "created", slug, name);
				(*ok)++;
			}
			continue;
		}
		if ((rc = open_password(v, ctl, org, PQgetvalue(res, i, 3),
		    &pw)) == 0)
			rc = migrate_one(conf, region, name, pw);
		apx_secret_free(pw);
		pw = NULL;
		if (rc != 0) {
			apx_log_error("org %s: tenant migration failed: %s",
			    slug, apx_strerror(rc));
			(*failed)++;
		} else
			(*ok)++;
	}
	PQclear(res);
	return 0;
}

struct apx_tenants *
apx_tenants_new(const struct apx_conf *conf, struct apx_db *ctl, size_t max)
{
	struct apx_tenants *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->conf = conf;
	t->ctl = ctl;
	t->max = max == 0 ? 1 : max > TENANTS_MAX ? TENANTS_MAX : max;
	return t;
}

void
apx_tenants_free(struct apx_tenants *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->max; i++)
		apx_db_free(t->conns[i].db);
	free(t);
}

void
apx_tenants_forget(struct apx_tenants *t, int64_t org)
{
	size_t i;

	for (i = 0; t != NULL && i < t->max; i++) {
		if (t->conns[i].db == NULL || t->conns[i].org != org)
			continue;
		apx_db_free(t->conns[i].db);
		memset(&t->conns[i], 0, sizeof(t->conns[i]));
	}
}

int
apx_tenants_db(struct apx_tenants *t, int64_t org, struct apx_db **out)
{
	char name[APX_TENANT_NAME_MAX + 1], os[APX_DB_ID_LEN], verr[256];
	const char *p[1] = { apx_db_id(org, os) };
	const struct apx_region *r;
	struct tenant_conn *slot = NULL;
	struct apx_secret *pw = NULL;
	struct apx_vault *v;
	PGresult *res;
	size_t i;
	int rc;

	*out = NULL;
	for (i = 0; i < t->max; i++) {
		struct tenant_conn *e = &t->conns[i];

		if (e->db != NULL && e->org == org) {
			e->used = ++t->clock;
			*out = e->db;
			return 0;
		}
		if (slot == NULL || e->db == NULL ||
		    (slot->db != NULL && e->used < slot->used))
			slot = e;
	}
	if ((rc = apx_vault_get(t->conf, &v, verr, sizeof(verr))) != 0)
		return APX_ENOKEY;
	if ((rc = apx_db_query(t->ctl, APX_DB_RETRY, &res, "SELECT slug,"
	    " region, tenant_secret FROM orgs WHERE id = $1::bigint", 1, p)) !=
	    0)
		return rc;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 2)) {
		rc = APX_ENOTFOUND;
		goto out;
	}
	if ((rc = apx_tenant_name(PQgetvalue(res, 0, 0), name,
	    sizeof(name))) != 0)
		goto out;
	if ((r = apx_conf_region(t->conf, PQgetvalue(res, 0, 1))) == NULL) {
		apx_log_error("org %lld is in region '%s', which has no "
		    "regions.%s.conninfo", (long long)org, PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 1));
		rc = APX_EDBUNAVAIL;
		goto out;
	}
	if ((rc = open_password(v, t->ctl, org, PQgetvalue(res, 0, 2), &pw)) !=
	    0) {
		apx_log_error("org %lld: the password of its tenant database "
		    "does not open: %s", (long long)org, apx_strerror(rc));
		goto out;
	}
	apx_db_free(slot->db);
	memset(slot, 0, sizeof(*slot));
	if ((slot->db = apx_db_new_as(r->conninfo, "accupredix-fcgi", name,
	    name, pw)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	slot->org = org;
	slot->used = ++t->clock;
	*out = slot->db;
out:
	apx_secret_free(pw);
	PQclear(res);
	return rc;
}
