/*
 * accupredix-admin: operator commands that run next to the service.
 *
 *   migrate [--status]     apply (or list) control-plane migrations
 *   jwt rotate | list      access-token signing keys
 *   create-superuser       a platform operator account
 *   check-config           validate the configuration and exit
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "admin/admin.h"
#include "core/conf.h"
#include "core/log.h"
#include "auth/account.h"
#include "auth/keys.h"
#include "auth/password.h"
#include "store/audit.h"
#include "store/identity.h"
#include "store/settings.h"
#include "store/db.h"
#include "store/migrate.h"
#include "store/retention.h"
#include "store/tenant.h"
#include "store/uploads.h"
#include "vault/vault.h"
#include "admin/vault.h"

static void	 usage(FILE *);
static int	 cmd_migrate(struct apx_conf *, int, char **);
static int	 cmd_jwt(struct apx_conf *, int, char **);
static int	 cmd_create_superuser(struct apx_conf *, int, char **);
static int	 audit_superuser(struct apx_db *, int64_t);
static int	 cmd_vault(struct apx_conf *, int, char **);
static int	 cmd_tenant(struct apx_conf *, int, char **);
static int	 cmd_retention(struct apx_conf *, int, char **);
static int	 cmd_pii(struct apx_conf *, int, char **);
static int	 migrate_tenants(struct apx_conf *);

struct data {
	struct apx_vault	*v;
	struct apx_db		*db;
	struct apx_tenants	*t;
};

static int	 data_open(struct apx_conf *, int, struct data *);
static void	 data_close(struct data *);
static int	 data_done(const char *, int, json_t *);

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: accupredix-admin [--config FILE] COMMAND [ARGS]\n"
	    "commands:\n"
	    "  migrate [--status]   apply pending database migrations to the "
	    "control\n"
	    "                       database and every tenant database "
	    "(--status: only\n"
	    "                       report the control database)\n"
	    "  retention purge      delete uploads (and their forecasts) older "
	    "than their\n"
	    "                       org's retention, in every tenant database\n"
	    "  pii encrypt [--max N] seal the personal fields still in clear of "
	    "orgs with\n"
	    "                       pii_encryption on (resumable; at most N "
	    "fields)\n"
	    "  tenant cleanup [--older SECONDS]\n"
	    "                       finish org creations interrupted part-way "
	    "(drop their\n"
	    "                       databases; default: older than 600 s)\n"
	    "  jwt rotate           new access-token signing key (the previous "
	    "one stays valid)\n"
	    "  jwt list             list signing keys\n"
	    "  create-superuser --email E [--name N] --password-stdin\n"
	    "                       create a platform operator (is_superuser);\n"
	    "                       the password is read from standard input\n"
	    "  audit verify [--log L] [--anchor FILE]\n"
	    "                       check the audit hash chains, and the log "
	    "heads anchored\n"
	    "                       in FILE (exit 2: broken)\n"
	    "  audit anchor [--out FILE] [--syslog]\n"
	    "                       append the head of every audit log to "
	    "FILE / syslog\n"
	    "  vault status         KEK versions configured, data keys per "
	    "version, seal\n"
	    "                       counts of data keys (warns past 2^28)\n"
	    "  vault rotate [--batch N]\n"
	    "                       re-wrap every data key with the current "
	    "KEK (online,\n"
	    "                       resumable; add the new version to "
	    "vault.keys first)\n"
	    "  vault rotate --data-keys [--org SLUG] [--batch N] [--resume]\n"
	    "                       new data keys for new seals (old ones "
	    "still open), then\n"
	    "                       re-seal what old ones sealed (online, "
	    "resumable)\n"
	    "  connectors sync [--org SLUG] [--connection ID]\n"
	    "                       sync the sales data of active connections "
	    "(for a timer;\n"
	    "                       resumes an interrupted run, adds nothing "
	    "twice)\n"
	    "  jobs run [--once] [--lease S] [--poll S]\n"
	    "                       the job runner next to the web server: "
	    "webhook work\n"
	    "                       and queued syncs (--once: until none is "
	    "due)\n"
	    "  mail send [--once] [--lease S] [--poll S]\n"
	    "                       the mail sender next to the web server: "
	    "delivers the\n"
	    "                       outbox to mail.smtp_url (--once: until none "
	    "is due)\n"
	    "  mail status          mails due, failed and sent in the last day\n"
	    "  user verify --email ADDRESS\n"
	    "                       mark an account's address verified "
	    "(support; audited)\n"
	    "  check-config         validate the configuration\n"
	    "  setup --control CONNINFO --region NAME=CONNINFO [--region ...]\n"
	    "        --public-origin https://HOST [--etc DIR] [--app-user USER]\n"
	    "        [--security-contact URI] [--single-host-trial]\n"
	    "                       a fresh host: roles, secrets, configuration "
	    "(FILE,\n"
	    "                       default ETC/accupredix.conf), migrations, "
	    "first\n"
	    "                       signing key; idempotent; CONNINFOs are "
	    "superusers'\n"
	    "  render-errors --from TEMPLATE_DIR --out DIR\n"
	    "                       the web server's problem+json error pages "
	    "for\n"
	    "                       http.problem_type_base\n"
	    "FILE defaults to $APX_CONFIG.\n");
}

static int
cmd_migrate(struct apx_conf *conf, int argc, char **argv)
{
	PGconn *c;
	char err[1024];
	int status_only = 0, applied, cur, rc;

	if (argc == 2 && strcmp(argv[1], "--status") == 0)
		status_only = 1;
	else if (argc != 1) {
		usage(stderr);
		return 1;
	}
	c = PQconnectdb(apx_secret_str(conf->db_admin_conninfo));
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "accupredix-admin: cannot connect to the "
		    "database: %s", c ? PQerrorMessage(c) : "out of memory\n");
		PQfinish(c);
		return 1;
	}
	if (status_only) {
		if (apx_migrate_current(c, &cur) != 0)
			cur = 0;
		printf("applied: %d\nknown: %d\n%s\n", cur,
		    apx_migrate_latest(), cur == apx_migrate_latest() ?
		    "current" : cur < apx_migrate_latest() ? "pending" :
		    "database is newer than this binary");
		PQfinish(c);
		return cur == apx_migrate_latest() ? 0 : 3;
	}
	rc = apx_migrate_run(c, conf->db_app_role, &applied, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "accupredix-admin: migrate: %s\n", err);
		PQfinish(c);
		return 1;
	}
	(void)apx_migrate_current(c, &cur);
	printf("migrations: %d applied now, schema at version %d\n", applied,
	    cur);
	PQfinish(c);
	return migrate_tenants(conf);
}

/*
 * What the data-plane commands use: the vault (with a key when NEED_KEY),
 * the control database as the owner role, and tenant connections. 0, or 1
 * with the reason printed.
 */
static int
data_open(struct apx_conf *conf, int need_key, struct data *d)
{
	char err[256];

	memset(d, 0, sizeof(*d));
	if (apx_vault_get(conf, &d->v, err, sizeof(err)) != 0) {
		fprintf(stderr, "accupredix-admin: %s\n", err);
		return 1;
	}
	if (need_key && apx_vault_current(d->v) == 0) {
		fprintf(stderr, "accupredix-admin: this needs a vault key "
		    "(vault.keys)\n");
		return 1;
	}
	if ((d->db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin")) ==
	    NULL || (d->t = apx_tenants_new(conf, d->db,
	    (size_t)conf->tenant_max_conns)) == NULL) {
		data_close(d);
		fprintf(stderr, "accupredix-admin: out of memory\n");
		return 1;
	}
	return 0;
}

static void
data_close(struct data *d)
{
	apx_tenants_free(d->t);
	apx_db_free(d->db);
	memset(d, 0, sizeof(*d));
}

/* The end of a run over every org: RC of the run, FAILED (consumed) the
 * slugs that failed; SUMMARY already printed. */
static int
data_done(const char *what, int rc, json_t *failed)
{
	char *list = json_dumps(failed, JSON_COMPACT);

	if (rc != 0)
		fprintf(stderr, "accupredix-admin: %s: %s\n", what,
		    apx_strerror(rc));
	else if (json_array_size(failed) > 0)
		fprintf(stderr, "accupredix-admin: %s failed for %s (see the "
		    "log)\n", what, list != NULL ? list : "some orgs");
	free(list);
	rc = rc == 0 && json_array_size(failed) == 0 ? 0 : 1;
	json_decref(failed);
	return rc;
}

/* Every org's database: interrupted creations finished, then each one
 * created if missing and migrated. */
static int
migrate_tenants(struct apx_conf *conf)
{
	struct data d;
	int ok = 0, failed = 0, cleaned = 0, rc;

	if (data_open(conf, 0, &d) != 0)
		return 1;
	if (apx_tenant_cleanup(conf, d.db, d.v, APX_TENANT_STALE_S,
	    &cleaned) != 0)
		fprintf(stderr, "accupredix-admin: some interrupted org "
		    "creations could not be finished (see the log)\n");
	rc = apx_tenant_migrate_all(conf, d.db, d.v, &ok, &failed);
	data_close(&d);
	if (rc != 0) {
		fprintf(stderr, "accupredix-admin: cannot list the orgs: %s\n",
		    apx_strerror(rc));
		return 1;
	}
	printf("tenant databases: %d current, %d failed (schema version %d);"
	    " %d interrupted creations finished\n", ok, failed,
	    apx_migrate_tenant_latest(), cleaned);
	return failed == 0 ? 0 : 1;
}

static int
cmd_retention(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_retention_report r;
	struct data d;
	int rc;

	if (argc != 2 || strcmp(argv[1], "purge") != 0) {
		usage(stderr);
		return 1;
	}
	if (data_open(conf, 0, &d) != 0)
		return 1;
	rc = apx_retention_purge(d.db, d.t, NULL, &r);
	data_close(&d);
	if (rc == 0)
		printf("retention: %lld orgs with a policy, %lld uploads and "
		    "%lld forecasts deleted\n", r.orgs, r.uploads,
		    r.forecasts);
	return data_done("retention purge", rc, r.failed);
}

static int
cmd_pii(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_seal_report r;
	struct data d;
	long long max = 100000000;
	int rc;

	if (!((argc == 2 || argc == 4) && strcmp(argv[1], "encrypt") == 0) ||
	    (argc == 4 && (strcmp(argv[2], "--max") != 0 ||
	    apx_parse_ll(argv[3], 1, 100000000, &max) != 0))) {
		usage(stderr);
		return 1;
	}
	if (data_open(conf, 1, &d) != 0)
		return 1;
	rc = apx_upload_seal_all(d.db, d.t, d.v, max, &r);
	data_close(&d);
	if (rc == 0)
		printf("pii: %lld orgs with encryption on, %lld fields sealed, "
		    "%lld still in clear\n", r.orgs, r.sealed, r.left);
	return data_done("pii encrypt", rc, r.failed);
}

static int
cmd_tenant(struct apx_conf *conf, int argc, char **argv)
{
	struct data d;
	long long older = APX_TENANT_STALE_S;
	int done = 0, rc;

	if (!((argc == 2 || argc == 4) && strcmp(argv[1], "cleanup") == 0) ||
	    (argc == 4 && (strcmp(argv[2], "--older") != 0 ||
	    apx_parse_ll(argv[3], 0, 86400 * 365, &older) != 0))) {
		usage(stderr);
		return 1;
	}
	if (data_open(conf, 0, &d) != 0)
		return 1;
	rc = apx_tenant_cleanup(conf, d.db, d.v, (int)older, &done);
	data_close(&d);
	printf("%d interrupted org creations finished\n", done);
	if (rc != 0)
		fprintf(stderr, "accupredix-admin: tenant cleanup: %s\n",
		    apx_strerror(rc));
	return rc == 0 ? 0 : 1;
}

static int
cmd_jwt(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_db *db;
	char kid[128], err[512];
	PGresult *res;
	int rc = 1, r;

	if (argc != 2 || (strcmp(argv[1], "rotate") != 0 &&
	    strcmp(argv[1], "list") != 0)) {
		usage(stderr);
		return 1;
	}
	if ((db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin"))
	    == NULL)
		return 1;
	if (strcmp(argv[1], "rotate") == 0) {
		if (apx_keys_rotate(db, conf, kid, sizeof(kid), err,
		    sizeof(err)) != 0)
			fprintf(stderr, "accupredix-admin: jwt rotate: %s\n", err);
		else {
			printf("new signing key %s\n", kid);
			rc = 0;
		}
	} else if (apx_db_query(db, APX_DB_RETRY, &res, "SELECT kid, "
	    "created_at, coalesce(retired_at::text, 'active') FROM jwt_keys "
	    "ORDER BY created_at DESC", 0, NULL) == 0) {
		for (r = 0; r < PQntuples(res); r++)
			printf("%s  created %s  %s\n", PQgetvalue(res, r, 0),
			    PQgetvalue(res, r, 1), PQgetvalue(res, r, 2));
		PQclear(res);
		rc = 0;
	} else
		fprintf(stderr, "accupredix-admin: cannot read jwt_keys\n");
	apx_db_free(db);
	return rc;
}

static int
cmd_vault(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_vault *v;
	struct apx_db *db;
	json_t *st = NULL;
	const char *warn;
	char err[512], *text;
	long long batch = 100, done = 0;
	int i, rc = 1;

	for (i = 2; argc >= 3 && strcmp(argv[1], "rotate") == 0 && i < argc;
	    i++)
		if (strcmp(argv[i], "--data-keys") == 0)
			return apx_admin_rotate_data_keys(conf, argc - 1,
			    argv + 1);
	if (!((argc == 2 && (strcmp(argv[1], "status") == 0 ||
	    strcmp(argv[1], "rotate") == 0)) || (argc == 4 &&
	    strcmp(argv[1], "rotate") == 0 && strcmp(argv[2], "--batch") == 0 &&
	    apx_parse_ll(argv[3], 1, 10000, &batch) == 0))) {
		usage(stderr);
		return 1;
	}
	if (apx_vault_get(conf, &v, err, sizeof(err)) != 0) {
		fprintf(stderr, "accupredix-admin: %s\n", err);
		return 1;
	}
	if ((db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin"))
	    == NULL)
		return 1;
	if (strcmp(argv[1], "status") == 0) {
		if (apx_vault_status(v, db, &st) == 0 &&
		    (text = json_dumps(st, JSON_INDENT(2))) != NULL) {
			printf("%s\n", text);
			free(text);
			if ((warn = json_string_value(json_object_get(
			    json_object_get(st, "seal_budget"), "warning"))) !=
			    NULL)
				fprintf(stderr, "accupredix-admin: warning: %s\n",
				    warn);
			rc = 0;
		} else
			fprintf(stderr, "accupredix-admin: cannot read the "
			    "vault's data keys\n");
		json_decref(st);
	} else {
		rc = apx_vault_rotate(v, db, (int)batch, &done);
		if (rc == 0) {
			struct apx_audit_entry e = { APX_AUDIT_PLATFORM,
			    "operator", "accupredix-admin", "vault.rotate",
			    "vault_data_keys", "", "", NULL, NULL };

			e.after = json_pack("{s:I,s:I}", "kek_version",
			    (json_int_t)apx_vault_current(v), "rewrapped",
			    (json_int_t)done);
			rc = apx_audit_append(db, &e);
			json_decref(e.after);
		}
		if (rc != 0)
			fprintf(stderr, "accupredix-admin: vault rotate: %s "
			    "(%lld data keys re-wrapped before it; run it "
			    "again to resume)\n", apx_strerror(rc), done);
		else
			printf("%lld data keys re-wrapped with KEK version "
			    "%u\n", done, (unsigned)apx_vault_current(v));
		rc = rc != 0;
	}
	apx_db_free(db);
	apx_vault_release();
	return rc;
}

static int
audit_superuser(struct apx_db *db, int64_t id)
{
	char us[24];
	struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "operator",
	    "accupredix-admin", "user.superuser_created", us, "", "", NULL,
	    NULL };

	snprintf(us, sizeof(us), "user:%lld", (long long)id);
	return apx_audit_append(db, &e);
}

/* is_superuser is set here and nowhere else. */
static int
cmd_create_superuser(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_pwparams pp;
	struct apx_arena *a = NULL;
	struct apx_db *db = NULL;
	const char *email = NULL, *name = "Platform operator", *en, *reason;
	char pw[APX_PASSWORD_MAX + 2], hash[APX_PASSWORD_HASH_MAX];
	size_t len;
	int64_t id;
	int i, from_stdin = 0, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			email = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strcmp(argv[i], "--password-stdin") == 0)
			from_stdin = 1;
		else {
			usage(stderr);
			return 1;
		}
	}
	if (email == NULL || !from_stdin) {
		usage(stderr);
		return 1;
	}
	if ((a = apx_arena_new()) == NULL)
		return 1;
	if ((en = apx_account_email_norm(a, email)) == NULL) {
		fprintf(stderr, "accupredix-admin: %s is not an email address\n",
		    email);
		goto out;
	}
	if (fgets(pw, sizeof(pw), stdin) == NULL) {
		fprintf(stderr, "accupredix-admin: no password on stdin\n");
		goto out;
	}
	len = strcspn(pw, "\r\n");
	pw[len] = '\0';
	if (apx_password_check(pw, len, en, name, &reason) != 0) {
		fprintf(stderr, "accupredix-admin: %s\n", reason);
		goto out;
	}
	if ((db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin"))
	    == NULL)
		goto out;
	if (apx_settings_pwparams(db, &pp) != 0) {
		fprintf(stderr, "accupredix-admin: cannot read the password "
		    "settings (is the database migrated?)\n");
		goto out;
	}
	if (apx_password_hash(&pp, pw, len, hash) != 0)
		goto out;
	if (apx_db_begin(db) != 0) {
		fprintf(stderr, "accupredix-admin: cannot reach the database\n");
		goto out;
	}
	switch ((i = apx_user_create(db, en, email, name, hash,
	    APX_USER_SUPERUSER | APX_USER_VERIFIED, &id)) == 0 ?
	    audit_superuser(db, id) : i) {
	case 0:
		if (apx_db_commit(db) != 0) {
			fprintf(stderr, "accupredix-admin: commit failed\n");
			break;
		}
		printf("superuser %s created (user %lld)\n", email,
		    (long long)id);
		rc = 0;
		break;
	case APX_ECONFLICT:
		fprintf(stderr, "accupredix-admin: an account with this email "
		    "exists\n");
		break;
	default:
		fprintf(stderr, "accupredix-admin: cannot store the account\n");
		break;
	}
out:
	if (rc != 0 && db != NULL)
		apx_db_rollback(db);
	apx_wipe(pw, sizeof(pw));
	apx_wipe(hash, sizeof(hash));
	apx_db_free(db);
	apx_arena_free(a);
	return rc;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct apx_conf *conf = NULL;
	const char *path = getenv("APX_CONFIG");
	char err[512];
	int ch, rc;

	apx_log_set_ident("accupredix-admin");
	while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 1;
	}
	if (sodium_init() < 0)
		return 1;
	if (strcmp(argv[0], "setup") == 0)	/* before any configuration */
		return apx_admin_setup(path, argc, argv);
	if (path == NULL) {
		fprintf(stderr, "accupredix-admin: pass --config FILE or set "
		    "APX_CONFIG\n");
		return 1;
	}
	if (apx_conf_load(path, &conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "accupredix-admin: %s\n", err);
		return 1;
	}
	apx_log_set_level(conf->log_level);
	if (strcmp(argv[0], "migrate") == 0)
		rc = cmd_migrate(conf, argc, argv);
	else if (strcmp(argv[0], "create-superuser") == 0)
		rc = cmd_create_superuser(conf, argc, argv);
	else if (strcmp(argv[0], "audit") == 0)
		rc = apx_admin_audit(conf, argc, argv);
	else if (strcmp(argv[0], "jwt") == 0)
		rc = cmd_jwt(conf, argc, argv);
	else if (strcmp(argv[0], "vault") == 0)
		rc = cmd_vault(conf, argc, argv);
	else if (strcmp(argv[0], "tenant") == 0)
		rc = cmd_tenant(conf, argc, argv);
	else if (strcmp(argv[0], "retention") == 0)
		rc = cmd_retention(conf, argc, argv);
	else if (strcmp(argv[0], "pii") == 0)
		rc = cmd_pii(conf, argc, argv);
	else if (strcmp(argv[0], "connectors") == 0)
		rc = apx_admin_connectors(conf, argc, argv);
	else if (strcmp(argv[0], "jobs") == 0)
		rc = apx_admin_jobs(conf, argc, argv);
	else if (strcmp(argv[0], "mail") == 0)
		rc = apx_admin_mail(conf, argc, argv);
	else if (strcmp(argv[0], "user") == 0)
		rc = apx_admin_user(conf, argc, argv);
	else if (strcmp(argv[0], "render-errors") == 0)
		rc = apx_admin_render_errors(conf, argc, argv);
	else if (strcmp(argv[0], "check-config") == 0) {
		printf("%s: configuration OK\n", path);
		rc = 0;
	} else {
		usage(stderr);
		rc = 1;
	}
	apx_vault_release();	/* keys wiped */
	apx_conf_free(conf);
	return rc;
}
