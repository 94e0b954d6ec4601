/*
 * accupredix-admin mail send [--once] [--lease SECONDS] [--poll SECONDS]
 * accupredix-admin mail status
 * accupredix-admin user verify --email ADDRESS
 *
 * The mail sender next to the web server (a long-running process, like
 * the job runner): it delivers the outbox to mail.smtp_url and keeps it
 * tidy (src/auth/mail.c). It runs as the application's database role.
 * `user verify` is for support: it marks an account's address verified,
 * audited, as when its owner opens the mailed link.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "auth/account.h"
#include "auth/mail.h"
#include "core/apx.h"
#include "core/conf.h"
#include "core/log.h"
#include "store/account.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/mail.h"

#define LEASE_DEFAULT	120
#define POLL_DEFAULT	5

static int
mail_send(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_admin_runner r = { 0, LEASE_DEFAULT, POLL_DEFAULT, NULL };
	struct apx_db *db;
	long long sent = 0;
	int rc;

	if (apx_admin_runner_opts(argc, argv, &r) != 0)
		return 2;
	if (conf->mail_smtp_url == NULL || conf->mail_from == NULL) {
		fprintf(stderr, "accupredix-admin: mail send needs mail.smtp_url "
		    "and mail.from\n");
		return 1;
	}
	if ((db = apx_db_new(conf->db_conninfo, "accupredix-mail")) == NULL) {
		fprintf(stderr, "accupredix-admin: out of memory\n");
		return 1;
	}
	apx_log_info("mail: sender started (relay %.*s)",
	    (int)strcspn(conf->mail_smtp_url, "?"), conf->mail_smtp_url);
	rc = apx_mail_run(db, conf, r.once, (int)r.lease, (int)r.poll, r.stop,
	    &sent);
	apx_log_info("mail: sender stopped after %lld mails", sent);
	if (r.once)
		printf("mail: %lld sent\n", sent);
	apx_db_free(db);
	return rc == 0 ? 0 : 1;
}

static int
mail_status(struct apx_conf *conf)
{
	struct apx_db *db;
	json_t *out = NULL;
	char *s;
	int rc;

	if ((db = apx_db_new(conf->db_conninfo, "accupredix-admin")) == NULL)
		return 1;
	rc = apx_outbox_depth(db, APX_MAIL_MAX_ATTEMPTS, &out);
	apx_db_free(db);
	if (rc != 0 || out == NULL) {
		fprintf(stderr, "accupredix-admin: cannot read the outbox: %s\n",
		    apx_strerror(rc));
		json_decref(out);
		return 1;
	}
	s = json_dumps(out, JSON_INDENT(2));
	printf("%s\n", s != NULL ? s : "{}");
	free(s);
	json_decref(out);
	return 0;
}

int
apx_admin_mail(struct apx_conf *conf, int argc, char **argv)
{
	int rc = 2;

	if (argc >= 2 && strcmp(argv[1], "send") == 0 &&
	    (rc = mail_send(conf, argc, argv)) != 2)
		return rc;
	if (argc == 2 && strcmp(argv[1], "status") == 0)
		return mail_status(conf);
	fprintf(stderr, "usage: accupredix-admin mail send [--once] "
	    "[--lease SECONDS] [--poll SECONDS]\n"
	    "       accupredix-admin mail status\n");
	return 1;
}

int
apx_admin_user(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "operator",
	    "accupredix-admin", "user.email_verified", NULL, "", "", NULL,
	    NULL };
	struct apx_arena *a;
	struct apx_db *db;
	const char *en;
	int64_t uid = 0;
	int rc;

	if (argc != 4 || strcmp(argv[1], "verify") != 0 ||
	    strcmp(argv[2], "--email") != 0) {
		fprintf(stderr, "usage: accupredix-admin user verify --email "
		    "ADDRESS\n");
		return 1;
	}
	if ((a = apx_arena_new()) == NULL)
		return 1;
	if ((en = apx_account_email_norm(a, argv[3])) == NULL) {
		fprintf(stderr, "accupredix-admin: not an email address\n");
		apx_arena_free(a);
		return 1;
	}
	if ((db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin")) ==
	    NULL) {
		apx_arena_free(a);
		return 1;
	}
	rc = apx_account_verify(db, en, NULL, &e, &uid);
	apx_db_free(db);
	apx_arena_free(a);
	if (rc == APX_ENOTFOUND) {
		fprintf(stderr, "accupredix-admin: no account has this "
		    "address\n");
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "accupredix-admin: cannot verify: %s\n",
		    apx_strerror(rc));
		return 1;
	}
	printf("user %lld: address verified\n", (long long)uid);
	return 0;
}
