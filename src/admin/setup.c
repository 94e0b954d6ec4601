/*
 * accupredix-admin setup: a fresh host, from the PostgreSQL superuser
 * connections of the control server and of each region's server, to a
 * migrated control database with a first signing key:
 *
 *   control server: roles apx_owner (owns database accupredix) and apx_app
 *     (CONNECT, TEMPORARY on it), both LOGIN without CREATEROLE/CREATEDB;
 *   each region's server: apx_provision (LOGIN CREATEDB CREATEROLE), which
 *     must not share the control server (PostgreSQL 15: a CREATEROLE role
 *     can take over the other roles of its server) unless told that this
 *     is a single-host trial;
 *   ETC/secrets: the roles' passwords (conninfo files root:GROUP 0640 for
 *     the app, a root-only passfile for the owner), the vault key, the
 *     internal secret; ETC/accupredix.conf (root:GROUP 0640);
 *   then the control migrations and, when no signing key exists, a first
 *     `jwt rotate`, with the same functions as those commands.
 *
 * Idempotent: a role or file that exists is kept (a password is made only
 * where no file knows it); a second run reports nothing to change. Role
 * passwords reach the server only as SCRAM verifiers; no secret is
 * printed.
 */
#include "config.h"

#ifndef APX_PLUGINDIR
#define APX_PLUGINDIR	"/usr/local/lib/accupredix/plugins"
#endif

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "admin/admin.h"
#include "auth/keys.h"
#include "core/apx.h"
#include "core/conf.h"
#include "store/db.h"
#include "store/migrate.h"
#include "vault/vault.h"

#define ETC_DEFAULT	"/etc/accupredix"
#define DB_NAME		"accupredix"
#define OWNER_ROLE	"apx_owner"
#define APP_ROLE	"apx_app"
#define PROVISION_ROLE	"apx_provision"
#define PW_BYTES	24		/* 48 hex characters */
#define PW_LEN		(2 * PW_BYTES + 1)
#define MAX_SECRET	4096

struct server {
	char		 name[APX_REGION_NAME_MAX + 1];	/* "control" or
							 * a region */
	char		 label[APX_REGION_NAME_MAX + 40];
	const char	*conninfo;	/* a superuser's */
	PGconn		*c;
	char		 sysid[32];
	char		 host[1024];
	char		 port[16];
	char		 pw[PW_LEN];	/* apx_provision's (regions) */
};

struct setup {
	const char	*etc;
	const char	*conf_path;
	const char	*origin;
	const char	*contact;
	const char	*app_user;
	int		 trial;
	char		 secrets[1024];
	char		 confbuf[1024];
	uid_t		 uid;
	gid_t		 gid;
	struct server	 control;
	struct server	 regions[APX_REGIONS_MAX];
	size_t		 nregions;
	int		 changes;
};

static void	 change(struct setup *, const char *, ...) APX_PRINTF(2, 3);
static int	 fail(const char *, ...) APX_PRINTF(1, 2);
static int	 parse_args(struct setup *, int, char **);
static int	 valid_origin(const char *);
static int	 server_open(struct server *);
static int	 sql(PGconn *, const char *, const char *);
static int	 role_ensure(struct setup *, struct server *, const char *,
		    int, char *);
static int	 database_ensure(struct setup *);
static int	 secret_read(const char *, char *, size_t, int *);
static int	 secret_password(const char *, int, char *);
static int	 file_put(struct setup *, const char *, const char *, mode_t,
		    gid_t);
static void	 cq(char *, size_t, const char *);
static int	 write_files(struct setup *, const char *, const char *);
static int	 login_check(const char *, const char *, const char *);
static int	 migrate_and_key(struct setup *, struct apx_conf *);
static void	 print_left(struct setup *, const struct apx_conf *);

static void
change(struct setup *s, const char *fmt, ...)
{
	va_list ap;

	printf("  - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	s->changes++;
}

static int
fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "accupredix-admin: setup: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return -1;
}

/* https://host[:port], nothing after. */
static int
valid_origin(const char *o)
{
	const char *h = o + 8;

	if (strncmp(o, "https://", 8) != 0 || *h == '\0')
		return 0;
	return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-:[]") == strlen(h);
}

static int
parse_args(struct setup *s, int argc, char **argv)
{
	struct passwd *pw;
	char *eq;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--single-host-trial") == 0) {
			s->trial = 1;
			continue;
		}
		if (v == NULL)
			return fail("%s needs a value (see --help)", a);
		i++;
		if (strcmp(a, "--control") == 0)
			s->control.conninfo = v;
		else if (strcmp(a, "--etc") == 0)
			s->etc = v;
		else if (strcmp(a, "--public-origin") == 0)
			s->origin = v;
		else if (strcmp(a, "--security-contact") == 0)
			s->contact = v;
		else if (strcmp(a, "--app-user") == 0)
			s->app_user = v;
		else if (strcmp(a, "--region") == 0) {
			struct server *r = &s->regions[s->nregions];
			size_t n, k;

			if (s->nregions == APX_REGIONS_MAX)
				return fail("more than %d regions",
				    APX_REGIONS_MAX);
			if ((eq = strchr(v, '=')) == NULL)
				return fail("--region wants NAME=CONNINFO");
			n = (size_t)(eq - v);
			/* [a-z][a-z0-9-]{0,31}, as conf.c's region names */
			if (n == 0 || n > APX_REGION_NAME_MAX ||
			    v[0] < 'a' || v[0] > 'z' ||
			    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-")
			    < n)
				return fail("region name '%.*s' is not "
				    "[a-z][a-z0-9-]{0,31}", (int)n, v);
			memcpy(r->name, v, n);
			r->name[n] = '\0';
			snprintf(r->label, sizeof(r->label), "the server of "
			    "region %.*s", (int)n, v);
			for (k = 0; k < s->nregions; k++)
				if (strcmp(s->regions[k].name, r->name) == 0)
					return fail("region '%s' given twice",
					    r->name);
			r->conninfo = eq + 1;
			s->nregions++;
		} else
			return fail("unknown argument '%s'", a);
	}
	if (s->control.conninfo == NULL || s->nregions == 0 ||
	    s->origin == NULL)
		return fail("--control, at least one --region and "
		    "--public-origin are required");
	if (!valid_origin(s->origin))
		return fail("--public-origin must be https://HOST[:PORT], not "
		    "'%s'", s->origin);
	if (s->etc[0] != '/')
		return fail("--etc must be an absolute path");
	if ((pw = getpwnam(s->app_user)) == NULL)
		return fail("no user '%s' (--app-user: the user the web "
		    "server runs the app as)", s->app_user);
	s->gid = pw->pw_gid;
	s->uid = geteuid();
	snprintf(s->control.name, sizeof(s->control.name), "control");
	snprintf(s->control.label, sizeof(s->control.label),
	    "the control server");
	if (s->conf_path == NULL) {
		if (strlen(s->etc) + sizeof("/accupredix.conf") >
		    sizeof(s->confbuf))
			return fail("--etc is too long");
		memcpy(s->confbuf, s->etc, strlen(s->etc) + 1);
		strcat(s->confbuf, "/accupredix.conf");
		s->conf_path = s->confbuf;
	}
	if ((size_t)snprintf(s->secrets, sizeof(s->secrets), "%s/secrets",
	    s->etc) >= sizeof(s->secrets) - 64)
		return fail("--etc is too long");
	return 0;
}

/* Connected as a superuser; the server's identity read; statements of
 * this session never logged (a verifier is not a password, but still). */
static int
server_open(struct server *sv)
{
	PGresult *res;
	int ok;

	sv->c = PQconnectdb(sv->conninfo);
	if (sv->c == NULL || PQstatus(sv->c) != CONNECTION_OK)
		return fail("cannot connect to %s: %s", sv->label,
		    sv->c ? PQerrorMessage(sv->c) : "out of memory");
	res = PQexec(sv->c, "SELECT r.rolsuper, s.system_identifier::text"
	    " FROM pg_roles r, pg_control_system() s"
	    " WHERE r.rolname = current_user");
	ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	if (ok)
		snprintf(sv->sysid, sizeof(sv->sysid), "%s",
		    PQgetvalue(res, 0, 1));
	PQclear(res);
	if (!ok)
		return fail("the connection to %s must be a PostgreSQL "
		    "superuser's", sv->label);
	snprintf(sv->host, sizeof(sv->host), "%s", PQhost(sv->c));
	snprintf(sv->port, sizeof(sv->port), "%s", PQport(sv->c));
	if (sql(sv->c, "SET log_statement = 'none'", "session") != 0 ||
	    sql(sv->c, "SET log_min_error_statement = panic", "session") != 0)
		return -1;
	return 0;
}

/* Trusted SQL of this file, identifiers and literals already quoted. */
static int
sql(PGconn *c, const char *q, const char *what)
{
	PGresult *res = PQexec(c, q);
	int ok = res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK);

	if (!ok)
		fail("%s: %s", what, PQerrorMessage(c));
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * Role NAME on SV: LOGIN, never superuser; CREATEDB CREATEROLE only when
 * PROVISION. PW: its password when known (kept), else empty and filled
 * with a new one that the role gets (its verifier only).
 */
static int
role_ensure(struct setup *s, struct server *sv, const char *name,
    int provision, char *pw)
{
	static const char *attrs[2] = {
	    "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
	    "NOBYPASSRLS",
	    "LOGIN NOSUPERUSER CREATEDB CREATEROLE NOREPLICATION NOBYPASSRLS" };
	const char *p[2] = { name, provision ? "t" : "f" };
	char *q = NULL, *lit = NULL, *ver = NULL, stmt[1024];
	unsigned char raw[PW_BYTES];
	PGresult *res;
	int exists = 0, right = 0, rc = -1, fresh = 0;

	res = PQexecParams(sv->c, "SELECT rolcanlogin AND NOT rolsuper AND"
	    " NOT rolreplication AND NOT rolbypassrls AND rolcreatedb ="
	    " $2::bool AND rolcreaterole = $2::bool FROM pg_roles WHERE"
	    " rolname = $1", 2, NULL, p, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return fail("cannot read role %s: %s", name,
		    PQerrorMessage(sv->c));
	}
	if ((exists = PQntuples(res) == 1))
		right = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (pw[0] == '\0') {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(pw, PW_LEN, raw, sizeof(raw));
		apx_wipe(raw, sizeof(raw));
		fresh = 1;
	}
	if ((q = PQescapeIdentifier(sv->c, name, strlen(name))) == NULL)
		goto out;
	if (!exists || fresh) {
		if ((ver = PQencryptPasswordConn(sv->c, pw, name,
		    "scram-sha-256")) == NULL ||
		    (lit = PQescapeLiteral(sv->c, ver, strlen(ver))) == NULL) {
			fail("cannot make a SCRAM verifier: %s",
			    PQerrorMessage(sv->c));
			goto out;
		}
	}
	if (!exists) {
		snprintf(stmt, sizeof(stmt), "CREATE ROLE %s %s PASSWORD %s",
		    q, attrs[provision], lit);
		if (sql(sv->c, stmt, "create role") != 0)
			goto out;
		change(s, "created role %s (%s) on %s", name,
		    attrs[provision], sv->label);
	} else {
		if (!right) {
			snprintf(stmt, sizeof(stmt), "ALTER ROLE %s %s", q,
			    attrs[provision]);
			if (sql(sv->c, stmt, "alter role") != 0)
				goto out;
			change(s, "role %s on %s: attributes set to %s", name,
			    sv->label, attrs[provision]);
		}
		if (fresh) {
			snprintf(stmt, sizeof(stmt), "ALTER ROLE %s PASSWORD %s",
			    q, lit);
			if (sql(sv->c, stmt, "set password") != 0)
				goto out;
			change(s, "role %s on %s: new password (no secret "
			    "file held it)", name, sv->label);
		}
	}
	rc = 0;
out:
	apx_wipe(stmt, sizeof(stmt));
	if (ver != NULL) {
		apx_wipe(ver, strlen(ver));
		PQfreemem(ver);
	}
	PQfreemem(lit);
	PQfreemem(q);
	return rc;
}

/* Database accupredix owned by apx_owner; CONNECT only for apx_app. */
static int
database_ensure(struct setup *s)
{
	PGconn *c = s->control.c;
	const char *p[1] = { DB_NAME };
	PGresult *res;
	int exists, owner_ok = 0, acl_ok = 0;

	res = PQexecParams(c, "SELECT d.datdba::regrole::text = '" OWNER_ROLE
	    "', NOT EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl,"
	    " acldefault('d', d.datdba))) a WHERE a.grantee = 0) AND"
	    " has_database_privilege('" APP_ROLE "', d.oid, 'CONNECT') AND"
	    " has_database_privilege('" APP_ROLE "', d.oid, 'TEMPORARY')"
	    " FROM pg_database d WHERE d.datname = $1", 1, NULL, p, NULL,
	    NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return fail("cannot read database %s: %s", DB_NAME,
		    PQerrorMessage(c));
	}
	if ((exists = PQntuples(res) == 1)) {
		owner_ok = PQgetvalue(res, 0, 0)[0] == 't';
		acl_ok = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	if (exists && !owner_ok)
		return fail("database %s exists with another owner than %s: "
		    "not touching it", DB_NAME, OWNER_ROLE);
	if (!exists) {
		if (sql(c, "CREATE DATABASE " DB_NAME " OWNER " OWNER_ROLE
		    " TEMPLATE template0 ENCODING 'UTF8'", "create database")
		    != 0)
			return -1;
		change(s, "created database %s owned by %s", DB_NAME,
		    OWNER_ROLE);
	}
	if (!acl_ok) {
		if (sql(c, "REVOKE ALL ON DATABASE " DB_NAME " FROM PUBLIC",
		    "revoke") != 0 || sql(c, "GRANT CONNECT, TEMPORARY ON "
		    "DATABASE " DB_NAME " TO " APP_ROLE, "grant") != 0)
			return -1;
		change(s, "database %s: CONNECT, TEMPORARY for %s only "
		    "(revoked from PUBLIC)", DB_NAME, APP_ROLE);
	}
	return 0;
}

/* PATH's content into BUF (NUL-terminated); *EXISTS 0 when missing. */
static int
secret_read(const char *path, char *buf, size_t len, int *exists)
{
	struct stat st;
	ssize_t n;
	int fd;

	*exists = 0;
	buf[0] = '\0';
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : fail("%s: %s", path,
		    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail("%s is not a regular file", path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return fail("%s: %s", path, strerror(errno));
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return fail("%s: %s", path, strerror(errno));
	buf[n] = '\0';
	*exists = 1;
	return 0;
}

/* The password kept in PATH: a conninfo's password=, or (PGPASS) the last
 * field of a passfile line. PW stays empty when there is no such file. */
static int
secret_password(const char *path, int pgpass, char *pw)
{
	PQconninfoOption *opts, *o;
	char buf[MAX_SECRET], *f;
	int exists, rc = 0;

	pw[0] = '\0';
	if (secret_read(path, buf, sizeof(buf), &exists) != 0)
		return -1;
	if (!exists)
		return 0;
	buf[strcspn(buf, "\r\n")] = '\0';
	if (pgpass) {
		if ((f = strrchr(buf, ':')) == NULL || strlen(f + 1) >= PW_LEN)
			rc = fail("%s is not a passfile line of this tool",
			    path);
		else
			snprintf(pw, PW_LEN, "%s", f + 1);
	} else if ((opts = PQconninfoParse(buf, NULL)) == NULL)
		rc = fail("%s holds no conninfo", path);
	else {
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, "password") == 0 &&
			    o->val != NULL && strlen(o->val) < PW_LEN)
				snprintf(pw, PW_LEN, "%s", o->val);
		if (pw[0] == '\0')
			rc = fail("%s has no password (of this tool)", path);
		PQconninfoFree(opts);
	}
	apx_wipe(buf, sizeof(buf));
	return rc;
}

/*
 * PATH holds DATA with MODE, owned by us and GID: written (atomically)
 * when missing, else kept, its owner and mode put right.
 */
static int
file_put(struct setup *s, const char *path, const char *data, mode_t mode,
    gid_t gid)
{
	char tmp[1100];
	struct stat st;
	size_t len = strlen(data);
	int fd, ok;

	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			return fail("%s is not a regular file", path);
		if ((st.st_mode & 07777) == mode && st.st_uid == s->uid &&
		    st.st_gid == gid)
			return 0;
		if (chown(path, s->uid, gid) != 0 || chmod(path, mode) != 0)
			return fail("%s: %s", path, strerror(errno));
		change(s, "%s: owner and mode set to %u:%u %04o", path,
		    (unsigned)s->uid, (unsigned)gid, (unsigned)mode);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return fail("%s: %s", tmp, strerror(errno));
	ok = write(fd, data, len) == (ssize_t)len &&
	    fchown(fd, s->uid, gid) == 0 && fchmod(fd, mode) == 0 &&
	    fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return fail("cannot write %s: %s", path, strerror(errno));
	}
	change(s, "wrote %s (%04o, %u:%u)", path, (unsigned)mode,
	    (unsigned)s->uid, (unsigned)gid);
	return 0;
}

/* V as a conninfo value: bare when plain, else single-quoted. */
static void
cq(char *out, size_t len, const char *v)
{
	size_t o = 0;

	if (*v != '\0' && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"
	    "NOPQRSTUVWXYZ0123456789/._-:") == strlen(v)) {
		snprintf(out, len, "%s", v);
		return;
	}
	if (len < 3)
		return;
	out[o++] = '\'';
	for (; *v != '\0' && o + 3 < len; v++) {
		if (*v == '\'' || *v == '\\')
			out[o++] = '\\';
		out[o++] = *v;
	}
	out[o++] = '\'';
	out[o] = '\0';
}

static int
write_files(struct setup *s, const char *app_pw, const char *owner_pw)
{
	char path[1100], data[4096], h[1100], conf[8192], regions[4096];
	char names[APX_REGIONS_MAX * (APX_REGION_NAME_MAX + 1)];
	unsigned char raw[32];
	char b64[64], expires[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;
	int rc = -1, exists;

	/* The app's connection to the control database. */
	cq(h, sizeof(h), s->control.host);
	snprintf(path, sizeof(path), "%s/db_conninfo", s->secrets);
	snprintf(data, sizeof(data), "host=%s port=%s dbname=%s user=%s "
	    "password=%s connect_timeout=5\n", h, s->control.port, DB_NAME,
	    APP_ROLE, app_pw);
	if (file_put(s, path, data, 0640, s->gid) != 0)
		goto out;
	/* The owner's password: for root (accupredix-admin) only. */
	snprintf(path, sizeof(path), "%s/pgpass_owner", s->secrets);
	snprintf(data, sizeof(data), "*:*:*:%s:%s\n", OWNER_ROLE, owner_pw);
	if (file_put(s, path, data, 0600, 0) != 0)
		goto out;
	regions[0] = names[0] = '\0';
	for (i = 0; i < s->nregions; i++) {
		struct server *r = &s->regions[i];

		cq(h, sizeof(h), r->host);
		snprintf(path, sizeof(path), "%s/region_%s_conninfo",
		    s->secrets, r->name);
		snprintf(data, sizeof(data), "host=%s port=%s dbname=postgres "
		    "user=%s password=%s connect_timeout=5\n", h, r->port,
		    PROVISION_ROLE, r->pw);
		if (file_put(s, path, data, 0640, s->gid) != 0)
			goto out;
		snprintf(regions + strlen(regions), sizeof(regions) -
		    strlen(regions), "regions.%s.conninfo = file:%s\n",
		    r->name, path);
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		    "%s%s", i > 0 ? " " : "", r->name);
	}
	/* The vault's key-encryption key, version 1. */
	snprintf(path, sizeof(path), "%s/vault_keys", s->secrets);
	if (secret_read(path, data, sizeof(data), &exists) != 0)
		goto out;
	if (!exists) {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(data, sizeof(data), "1:%s\n", b64);
	}
	if (file_put(s, path, data, 0640, s->gid) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/internal_secret", s->secrets);
	if (secret_read(path, data, sizeof(data), &exists) != 0)
		goto out;
	if (!exists) {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2hex(data, sizeof(data), raw, sizeof(raw));
		strcat(data, "\n");
	}
	if (file_put(s, path, data, 0640, s->gid) != 0)
		goto out;

	gmtime_r(&now, &tm);
	tm.tm_year += 1;
	strftime(expires, sizeof(expires), "%Y-%m-%dT00:00:00Z", &tm);
	cq(h, sizeof(h), s->control.host);
	if ((size_t)snprintf(conf, sizeof(conf),
	    "# AccuPredix configuration, written by accupredix-admin setup\n"
	    "# (docs/contract.md lists every key).\n"
	    "db.conninfo = file:%s/db_conninfo\n"
	    "db.admin_conninfo = host=%s port=%s dbname=%s user=%s "
	    "passfile=%s/pgpass_owner connect_timeout=10\n"
	    "db.app_role = %s\n"
	    "internal.secret = file:%s/internal_secret\n"
	    "vault.keys = file:%s/vault_keys\n"
	    "http.public_origin = %s\n"
	    "jwt.issuer = %s\n"
	    "http.problem_type_base = %s/problems/\n"
	    "security.contact = %s\n"
	    "# RFC 9116: renew before it passes (the app refuses to start "
	    "after it)\n"
	    "security.expires = %s\n"
	    "# = FcgidMaxProcessesPerClass (Apache) or max-procs "
	    "(lighttpd); processes x (1 + tenant.max_connections)\n"
	    "# must fit max_connections of every server (README "
	    "\"Capacity\")\n"
	    "capacity.processes = 16\n"
	    "tenant.max_connections = 4\n"
	    "# connector plugins; each is offered once its "
	    "connectors.<name>.* keys are set\n"
	    "plugins.dir = %s\n"
	    "%s"
	    "org.regions = %s\n",
	    s->secrets, h, s->control.port, DB_NAME, OWNER_ROLE, s->secrets,
	    APP_ROLE, s->secrets, s->secrets, s->origin, s->origin, s->origin,
	    s->contact, expires, APX_PLUGINDIR, regions, names) >=
	    sizeof(conf)) {
		fail("configuration too long");
		goto out;
	}
	if (file_put(s, s->conf_path, conf, 0640, s->gid) != 0)
		goto out;
	rc = 0;
out:
	apx_wipe(raw, sizeof(raw));
	apx_wipe(b64, sizeof(b64));
	apx_wipe(data, sizeof(data));
	return rc;
}

/* Can ROLE log in with CONNINFO? Names the usual reason when not. */
static int
login_check(const char *what, const char *role, const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	int ok = c != NULL && PQstatus(c) == CONNECTION_OK;

	if (!ok)
		fail("%s cannot log in as %s: %s(pg_hba.conf must let %s in "
		    "with scram-sha-256 before any 'peer' line: Debian's "
		    "default 'local all all peer' refuses it over the socket; "
		    "add e.g. 'local all %s,%s,%s scram-sha-256' above it and "
		    "reload, or pass a --control/--region conninfo with "
		    "host=127.0.0.1)", what, role,
		    c ? PQerrorMessage(c) : "out of memory\n", role, OWNER_ROLE,
		    APP_ROLE, PROVISION_ROLE);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* `migrate` (control database) and, without a key, `jwt rotate`. */
static int
migrate_and_key(struct setup *s, struct apx_conf *conf)
{
	struct apx_db *db = NULL;
	PGresult *res = NULL;
	PGconn *c;
	char err[1024], kid[128];
	int applied = 0, cur = 0, rc = -1;

	c = PQconnectdb(apx_secret_str(conf->db_admin_conninfo));
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		fail("cannot connect as %s: %s", OWNER_ROLE,
		    c ? PQerrorMessage(c) : "out of memory");
		goto out;
	}
	if (apx_migrate_run(c, conf->db_app_role, &applied, err,
	    sizeof(err)) != 0) {
		fail("migrate: %s", err);
		goto out;
	}
	(void)apx_migrate_current(c, &cur);
	if (applied > 0)
		change(s, "applied %d migrations to database %s (schema "
		    "version %d)", applied, DB_NAME, cur);
	if ((db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin")) ==
	    NULL || apx_db_query(db, APX_DB_RETRY, &res, "SELECT count(*)"
	    " FROM jwt_keys WHERE retired_at IS NULL", 0, NULL) != 0) {
		fail("cannot read jwt_keys");
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
		if (apx_keys_rotate(db, conf, kid, sizeof(kid), err,
		    sizeof(err)) != 0) {
			fail("jwt rotate: %s", err);
			goto out;
		}
		change(s, "made the first access-token signing key %s "
		    "(sealed by the vault)", kid);
	}
	rc = 0;
out:
	PQclear(res);
	apx_db_free(db);
	PQfinish(c);
	return rc;
}

static void
print_left(struct setup *s, const struct apx_conf *conf)
{
	char when[32];
	struct tm tm;
	time_t t = (time_t)conf->sec_expires;
	size_t i;
	int n = 0;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	printf("left to do:\n");
	for (i = 0; i < s->nregions; i++)
		if (apx_conf_region(conf, s->regions[i].name) == NULL)
			printf("  %d. %s was kept and has no region %s: add "
			    "'regions.%s.conninfo = file:%s/region_%s_conninfo'"
			    " (and the name to org.regions)\n", ++n,
			    s->conf_path, s->regions[i].name,
			    s->regions[i].name, s->secrets, s->regions[i].name);
	if (conf->public_origin == NULL ||
	    strcmp(conf->public_origin, s->origin) != 0)
		printf("  %d. %s was kept and says http.public_origin = %s, "
		    "not %s\n", ++n, s->conf_path, conf->public_origin ?
		    conf->public_origin : "(none)", s->origin);
	printf("  %d. a TLS certificate for %s (e.g. certbot; the site's "
	    "APX_TLS_CERT / var.apx_tls_cert)\n", ++n, s->origin + 8);
	printf("  %d. the web server site: httpd-conf/apache/accupredix.conf "
	    "or httpd-conf/lighttpd/accupredix.conf, with its config path "
	    "%s and server name %s\n", ++n, s->conf_path, s->origin + 8);
	printf("  %d. the web server's error pages for this origin: "
	    "accupredix-admin --config %s render-errors --from "
	    "httpd-conf/errors --out /usr/local/share/accupredix/errors\n",
	    ++n, s->conf_path);
	printf("  %d. capacity.processes = the site's FcgidMaxProcessesPerClass"
	    " (or max-procs), now %lld; the app warns when a server's "
	    "max_connections cannot hold them\n", ++n,
	    conf->capacity_processes);
	printf("  %d. a platform operator: accupredix-admin --config %s "
	    "create-superuser --email E --password-stdin\n", ++n,
	    s->conf_path);
	printf("  %d. renew security.expires (%s) before it passes\n", ++n,
	    when);
}

int
apx_admin_setup(const char *conf_path, int argc, char **argv)
{
	struct setup s;
	struct apx_conf *conf = NULL;
	struct server *r;
	char app_pw[PW_LEN], owner_pw[PW_LEN], path[1100], err[1024];
	char contact[600];
	size_t i, k;
	int rc = 1;

	memset(&s, 0, sizeof(s));
	app_pw[0] = owner_pw[0] = '\0';
	s.etc = ETC_DEFAULT;
	s.app_user = "www-data";
	s.conf_path = conf_path;
	if (parse_args(&s, argc, argv) != 0)
		goto out;
	if (s.contact == NULL) {
		snprintf(contact, sizeof(contact), "mailto:security@%s",
		    s.origin + 8);
		contact[strcspn(contact + 7, ":") + 7] = '\0';
		s.contact = contact;
	}

	/* Every server reached and checked before anything changes. */
	if (server_open(&s.control) != 0)
		goto out;
	for (i = 0; i < s.nregions; i++) {
		r = &s.regions[i];
		if (server_open(r) != 0)
			goto out;
		if (strcmp(r->sysid, s.control.sysid) != 0)
			continue;
		if (!s.trial) {
			fail("region '%s' is on the control server (system "
			    "identifier %s): in PostgreSQL 15 its provisioning "
			    "role (CREATEROLE) could take over %s and %s. Give "
			    "the region a server of its own, or pass "
			    "--single-host-trial for a trial", r->name,
			    r->sysid, OWNER_ROLE, APP_ROLE);
			goto out;
		}
		fprintf(stderr, "accupredix-admin: setup: warning: region '%s' "
		    "is on the control server (single-host trial): its %s "
		    "(CREATEROLE) can take over %s and %s there; not for "
		    "production\n", r->name, PROVISION_ROLE, OWNER_ROLE,
		    APP_ROLE);
	}
	/*
	 * A superuser password given as PGPASSWORD would win over the
	 * passfile of the roles made here when they are checked and used.
	 */
	(void)unsetenv("PGPASSWORD");

	printf("accupredix-admin setup: %s\n", s.conf_path);
	if (mkdir(s.etc, 0755) == 0)
		change(&s, "created %s", s.etc);
	else if (errno != EEXIST) {
		fail("%s: %s", s.etc, strerror(errno));
		goto out;
	}
	if (mkdir(s.secrets, 0750) == 0)
		change(&s, "created %s", s.secrets);
	else if (errno != EEXIST) {
		fail("%s: %s", s.secrets, strerror(errno));
		goto out;
	}
	if (chown(s.secrets, s.uid, s.gid) != 0 || chmod(s.secrets, 0750) !=
	    0) {
		fail("%s: %s", s.secrets, strerror(errno));
		goto out;
	}

	/* Control server: owner and app roles, the database. */
	snprintf(path, sizeof(path), "%s/db_conninfo", s.secrets);
	if (secret_password(path, 0, app_pw) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/pgpass_owner", s.secrets);
	if (secret_password(path, 1, owner_pw) != 0)
		goto out;
	if (role_ensure(&s, &s.control, OWNER_ROLE, 0, owner_pw) != 0 ||
	    role_ensure(&s, &s.control, APP_ROLE, 0, app_pw) != 0 ||
	    database_ensure(&s) != 0)
		goto out;

	/* Each region's server: the provisioning role (one per server). */
	for (i = 0; i < s.nregions; i++) {
		r = &s.regions[i];
		snprintf(path, sizeof(path), "%s/region_%s_conninfo",
		    s.secrets, r->name);
		if (secret_password(path, 0, r->pw) != 0)
			goto out;
		for (k = 0; k < i && r->pw[0] == '\0'; k++)
			if (strcmp(s.regions[k].sysid, r->sysid) == 0)
				memcpy(r->pw, s.regions[k].pw, PW_LEN);
		if (role_ensure(&s, r, PROVISION_ROLE, 1, r->pw) != 0)
			goto out;
	}

	if (write_files(&s, app_pw, owner_pw) != 0)
		goto out;
	if (apx_conf_load(s.conf_path, &conf, err, sizeof(err)) != 0) {
		fail("%s", err);
		goto out;
	}
	/* Every role logs in as the app and this tool will. */
	if (login_check("the app", APP_ROLE,
	    apx_secret_str(conf->db_conninfo)) != 0 ||
	    login_check("accupredix-admin", OWNER_ROLE,
	    apx_secret_str(conf->db_admin_conninfo)) != 0)
		goto out;
	for (i = 0; i < conf->nregions; i++)
		if (login_check(conf->regions[i].name, PROVISION_ROLE,
		    apx_secret_str(conf->regions[i].conninfo)) != 0)
			goto out;
	if (migrate_and_key(&s, conf) != 0)
		goto out;
	if (s.changes == 0)
		printf("  nothing to change\n");
	print_left(&s, conf);
	rc = 0;
out:
	apx_wipe(app_pw, sizeof(app_pw));
	apx_wipe(owner_pw, sizeof(owner_pw));
	PQfinish(s.control.c);
	for (i = 0; i < s.nregions; i++) {
		apx_wipe(s.regions[i].pw, sizeof(s.regions[i].pw));
		PQfinish(s.regions[i].c);
	}
	apx_vault_release();
	apx_conf_free(conf);
	return rc;
}
