/*
 * accupredix-admin connectors sync [--org SLUG] [--connection ID]
 * accupredix-admin jobs run [--once] [--lease SECONDS] [--poll SECONDS]
 *
 * The connector data jobs next to the web server: the job runner (a
 * long-running process: webhook work and queued syncs) and the sync a
 * timer starts. Both run as the application's database role, with the
 * plugins of plugins.dir loaded as a worker loads them.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "connect/connect.h"
#include "core/apx.h"
#include "core/conf.h"
#include "core/log.h"
#include "store/db.h"
#include "store/jobs.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define LEASE_DEFAULT	120
#define POLL_DEFAULT	5

static volatile sig_atomic_t stop_flag;

static int	 env_open(struct apx_conf *, struct apx_connect_env *);
static void	 env_close(struct apx_connect_env *);
static void	 on_stop(int);

static void
on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int
env_open(struct apx_conf *conf, struct apx_connect_env *env)
{
	size_t loaded = 0, refused = 0;
	char err[256];

	memset(env, 0, sizeof(*env));
	env->conf = conf;
	env->lease = LEASE_DEFAULT;
	env->max_attempts = APX_JOB_MAX_ATTEMPTS;
	if (apx_vault_get(conf, &env->v, err, sizeof(err)) != 0) {
		fprintf(stderr, "accupredix-admin: %s\n", err);
		return 1;
	}
	if ((env->db = apx_db_new(conf->db_conninfo, "accupredix-jobs")) ==
	    NULL || (env->tenants = apx_tenants_new(conf, env->db,
	    (size_t)conf->tenant_max_conns)) == NULL) {
		env_close(env);
		fprintf(stderr, "accupredix-admin: out of memory\n");
		return 1;
	}
	if (apx_connect_load(conf, &loaded, &refused, NULL) != 0 ||
	    loaded == 0) {
		fprintf(stderr, "accupredix-admin: no connector plugin could be "
		    "loaded from plugins.dir (see the log)\n");
		env_close(env);
		return 1;
	}
	return 0;
}

static void
env_close(struct apx_connect_env *env)
{
	apx_connect_unload();
	apx_tenants_free(env->tenants);
	apx_db_free(env->db);
	memset(env, 0, sizeof(*env));
}

int
apx_admin_connectors(struct apx_conf *conf, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "org", required_argument, NULL, 'o' },
		{ "connection", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct apx_connect_env env;
	struct apx_sync_report r;
	const char *slug = NULL;
	long long conn = 0, failed = 0, busy = 0;
	json_t *list = NULL, *it;
	size_t i;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "sync") != 0) {
		fprintf(stderr, "usage: accupredix-admin connectors sync "
		    "[--org SLUG] [--connection ID]\n");
		return 1;
	}
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			slug = optarg;
			break;
		case 'c':
			if (apx_parse_ll(optarg, 1, INT64_MAX, &conn) != 0) {
				fprintf(stderr, "accupredix-admin: --connection "
				    "takes a connection id\n");
				return 1;
			}
			break;
		default:
			return 1;
		}
	}
	if (env_open(conf, &env) != 0)
		return 1;
	if ((rc = apx_conn_sync_list(env.db, 0, (int64_t)conn, &list)) != 0) {
		fprintf(stderr, "accupredix-admin: connections: %s\n",
		    apx_strerror(rc));
		env_close(&env);
		return 1;
	}
	json_array_foreach(list, i, it) {
		const char *s = json_string_value(json_object_get(it, "slug"));
		int64_t org = json_integer_value(json_object_get(it, "org"));
		int64_t id = json_integer_value(json_object_get(it, "conn"));

		if (slug != NULL && (s == NULL || strcmp(s, slug) != 0))
			continue;
		rc = apx_connect_sync(&env, org, id, 0, &r);
		if (rc == 0 && r.busy) {
			busy++;
			printf("sync %s connection %lld (%s): another run is "
			    "at it\n", s, (long long)id, json_string_value(
			    json_object_get(it, "connector")));
		} else if (rc == 0)
			printf("sync %s connection %lld (%s): %lld pages, %lld "
			    "records, %lld days in the series\n", s,
			    (long long)id, json_string_value(json_object_get(it,
			    "connector")), r.pages, r.records, r.days);
		else {
			failed++;
			printf("sync %s connection %lld (%s): failed after %lld "
			    "pages: %s\n", s, (long long)id, json_string_value(
			    json_object_get(it, "connector")), r.pages,
			    r.error != NULL ? r.error : apx_strerror(rc));
		}
		if (stop_flag)
			break;
	}
	json_decref(list);
	env_close(&env);
	return failed > 0 ? 1 : 0;
}

int
apx_admin_runner_opts(int argc, char **argv, struct apx_admin_runner *r)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, '1' },
		{ "lease", required_argument, NULL, 'l' },
		{ "poll", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (ch) {
		case '1':
			r->once = 1;
			break;
		case 'l':
			if (apx_parse_ll(optarg, 5, 86400, &r->lease) != 0)
				return 1;
			break;
		case 'p':
			if (apx_parse_ll(optarg, 1, 3600, &r->poll) != 0)
				return 1;
			break;
		default:
			return 1;
		}
	}
	if (optind != argc - 1)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	r->stop = (volatile int *)&stop_flag;
	return 0;
}

int
apx_admin_jobs(struct apx_conf *conf, int argc, char **argv)
{
	struct apx_admin_runner r = { 0, LEASE_DEFAULT, POLL_DEFAULT, NULL };
	struct apx_connect_env env;
	long long done = 0;
	int rc;

	if (argc < 2 || strcmp(argv[1], "run") != 0 ||
	    apx_admin_runner_opts(argc, argv, &r) != 0) {
		fprintf(stderr, "usage: accupredix-admin jobs run [--once] "
		    "[--lease SECONDS] [--poll SECONDS]\n");
		return 1;
	}
	if (env_open(conf, &env) != 0)
		return 1;
	env.lease = (int)r.lease;
	apx_log_info("jobs: runner started (lease %lld s)", r.lease);
	rc = apx_connect_jobs_run(&env, r.once, (int)r.poll, r.stop, &done);
	apx_log_info("jobs: runner stopped after %lld jobs", done);
	if (r.once)
		printf("jobs: %lld run\n", done);
	env_close(&env);
	return rc == 0 ? 0 : 1;
}
