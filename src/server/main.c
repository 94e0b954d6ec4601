/*
 * accupredix-fcgi: the FastCGI application.
 *
 *   spawned by mod_fcgid or lighttpd: the listening socket is fd 0;
 *   standalone: --listen unix:/path|HOST:PORT --workers N (a supervisor).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "authz/perm.h"
#include "core/conf.h"
#include "store/capacity.h"
#include "connect/connect.h"
#include "core/log.h"
#include "http/response.h"
#include "http/router.h"
#include "routes/routes.h"
#include "server/supervisor.h"
#include "server/worker.h"
#include "vault/vault.h"

#include <sodium.h>

static void	 usage(FILE *);
static int	 print_routes(void);

/* One JSON line per route and method: the table joined with its perm. */
static int
print_routes(void)
{
	const struct apx_route *rt;
	const struct apx_perm *p;
	char err[512];
	size_t i, n;
	int m;

	rt = apx_routes(&n);
	if (apx_routes_check(err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (i = 0; i < n; i++) {
		p = apx_perm_find(rt[i].perm);
		for (m = APX_M_GET; m <= APX_M_DELETE; m <<= 1) {
			if (!(rt[i].methods & m))
				continue;
			printf("{\"method\":\"%s\",\"pattern\":\"%s\","
			    "\"perm\":\"%s\",\"scope\":\"%s\",\"role\":\"%s\","
			    "\"plan\":\"%s\",\"user_only\":%s}\n",
			    apx_http_method_name(m), rt[i].pattern, p->name,
			    apx_scope_name(p->scope), apx_role_name(p->role),
			    apx_plan_name(p->plan),
			    p->user_only ? "true" : "false");
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: accupredix-fcgi [--config FILE] [--check-config]\n"
	    "       accupredix-fcgi --routes\n"
	    "       accupredix-fcgi [--config FILE] --listen unix:/path|HOST:PORT\n"
	    "                       [--workers N] [--pidfile FILE] "
	    "[--socket-mode OCTAL]\n"
	    "Without --listen the program expects the listening socket on fd 0,\n"
	    "as mod_fcgid and lighttpd provide it. FILE defaults to $APX_CONFIG.\n");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "drain-seconds", required_argument, NULL, 'd' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "routes", no_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct apx_supervisor_opts so;
	struct apx_conf *conf = NULL;
	char err[512];
	long long n;
	int ch, check = 0, rc;

	memset(&so, 0, sizeof(so));
	so.workers = 2;
	so.socket_mode = 0660;
	so.drain_seconds = 30;
	so.config_path = getenv("APX_CONFIG");
	apx_log_set_ident("accupredix-fcgi");

	while ((ch = getopt_long(argc, argv, "c:l:w:p:m:d:krVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			so.config_path = optarg;
			break;
		case 'l':
			so.listen = optarg;
			break;
		case 'w':
			if (apx_parse_ll(optarg, 1, 256, &n) != 0) {
				fprintf(stderr, "--workers: 1 to 256\n");
				return 1;
			}
			so.workers = (int)n;
			break;
		case 'p':
			so.pidfile = optarg;
			break;
		case 'm': {
			char *end;
			long m = strtol(optarg, &end, 8);

			if (*end != '\0' || m < 0 || m > 0777) {
				fprintf(stderr, "--socket-mode: octal mode\n");
				return 1;
			}
			so.socket_mode = (int)m;
			break;
		}
		case 'd':
			if (apx_parse_ll(optarg, 1, 3600, &n) != 0) {
				fprintf(stderr, "--drain-seconds: 1 to 3600\n");
				return 1;
			}
			so.drain_seconds = (int)n;
			break;
		case 'k':
			check = 1;
			break;
		case 'r':
			return print_routes();
		case 'V':
			printf("accupredix-fcgi %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (sodium_init() < 0) {
		apx_log_error("libsodium failed to initialise");
		return 1;
	}
	if (so.config_path == NULL) {
		apx_log_error("no configuration: pass --config FILE or set "
		    "APX_CONFIG");
		return 1;
	}
	if (apx_conf_load(so.config_path, &conf, err, sizeof(err)) != 0) {
		apx_log_error("%s", err);
		return 1;
	}
	apx_log_set_level(conf->log_level);
	apx_resp_set_problem_base(conf->problem_base);
	if (apx_routes_check(err, sizeof(err)) != 0) {
		apx_log_error("%s", err);
		apx_conf_free(conf);
		return 1;
	}
	{
		struct apx_vault *v;

		if (apx_vault_get(conf, &v, err, sizeof(err)) != 0) {
			const char *key = strncmp(err, "vault.current_version",
			    21) == 0 ? "vault.current_version" : "vault.keys";
			const char *why = err;
			char where[512];

			/* FILE:LINE or the variable, as conf.c's errors. */
			apx_conf_where(conf, key, where, sizeof(where));
			if (strncmp(why, key, strlen(key)) == 0 &&
			    why[strlen(key)] == ':')
				why += strlen(key) + 1;
			while (*why == ' ')
				why++;
			apx_log_error("%s: key '%s': %s", where, key, why);
			apx_conf_free(conf);
			return 1;
		}
		apx_vault_release();
	}
	/* Once per process (not per request): can the servers hold us? */
	(void)apx_capacity_check(conf, so.listen != NULL ? so.workers :
	    conf->capacity_processes);
	if (check) {
		/* The connector plugins, as a worker will load them. */
		size_t loaded = 0, refused = 0, i;
		json_t *report = json_array(), *r;

		(void)apx_connect_load(conf, &loaded, &refused, report);
		json_array_foreach(report, i, r)
			printf("plugin %s: %s%s%s\n",
			    json_string_value(json_object_get(r, "file")),
			    json_string_value(json_object_get(r, "status")),
			    json_object_get(r, "reason") != NULL ? ": " : "",
			    json_object_get(r, "reason") != NULL ?
			    json_string_value(json_object_get(r, "reason")) : "");
		json_decref(report);
		apx_connect_unload();
		printf("%s: configuration OK\n", so.config_path);
		apx_conf_free(conf);
		return 0;
	}
	if (conf->internal_secret == NULL)
		apx_log_info("internal.secret not set: /internal/* answers 404");

	if (so.listen != NULL)
		return apx_supervisor_run(&so, conf);

	if (FCGX_IsCGI()) {
		apx_log_error("no FastCGI socket on fd 0: run under mod_fcgid or "
		    "lighttpd, or pass --listen");
		apx_conf_free(conf);
		return 1;
	}
	rc = apx_worker_run(conf, 0, 0);
	apx_conf_free(conf);
	return rc;
}
