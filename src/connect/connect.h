/*
 * The connector platform: the plugin host (loader.c), the services a
 * plugin gets (host.c, http.c), and the flows built on them (flows.c):
 * connect, callback, token refresh under a row lock, disconnect, per-org
 * settings. The ABI is include/accupredix/connector.h.
 */
#ifndef APX_CONNECT_CONNECT_H
#define APX_CONNECT_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/conf.h"

struct apx_ctx;
struct apx_plugin;

/*
 * Load every .so of plugins.dir (at worker start): each refusal is one log
 * line saying what was found and what was needed, and never stops the
 * others. *LOADED / *REFUSED count them. REPORT (may be NULL) gets one
 * {file, name, status: loaded|refused, reason} per file.
 */
int	 apx_connect_load(const struct apx_conf *, size_t *, size_t *,
	    json_t *);
/* Call every plugin's fini and dlclose it (worker exit, reload). */
void	 apx_connect_unload(void);
/* The loaded plugin NAME, or NULL. */
const struct apx_plugin *apx_connect_find(const char *);
/* {connectors: [{name, display_name, version, scopes, config: [...]}]} */
json_t	*apx_connect_describe(void);

/* Flows behind the routes; each sets the answer (or a problem). */
/* 404 connection-not-found, the one answer for a connection that is not
 * the org's. */
int	 apx_connect_missing(struct apx_ctx *);
int	 apx_connect_config_get(struct apx_ctx *, const char *);
int	 apx_connect_config_put(struct apx_ctx *, const char *, json_t *);
int	 apx_connect_start(struct apx_ctx *, const char *);
int	 apx_connect_callback(struct apx_ctx *, const char *);
int	 apx_connect_check(struct apx_ctx *, int64_t);
int	 apx_connect_disconnect(struct apx_ctx *, int64_t);
/* PATCH of a connection: {workspace_id} (null: the org's first). */
int	 apx_connect_patch(struct apx_ctx *, int64_t, json_t *);
/* POST .../connections/{id}/sync: a sync job queued (202). */
int	 apx_connect_sync_request(struct apx_ctx *, int64_t);

/*
 * POST /webhooks/{NAME}: verified, routed, stored, queued, answered
 * (401 without a body for a bad signature). *OUTCOME names what happened
 * (stored, duplicate, unknown_account, empty, unauthorized, invalid,
 * no_connector, error) for the metrics.
 */
int	 apx_connect_webhook(struct apx_ctx *, const char *, const char **);

/* What a job runner or the sync command needs. */
struct apx_db;
struct apx_tenants;
struct apx_vault;
struct apx_connect_env {
	const struct apx_conf	*conf;
	struct apx_db		*db;
	struct apx_tenants	*tenants;
	struct apx_vault	*v;
	int			 lease;		/* seconds a job is held */
	int			 max_attempts;
};
struct apx_sync_report {
	long long	 pages;
	long long	 records;
	long long	 days;		/* rows of the daily series */
	int		 busy;		/* another run held the connection */
	const char	*error;		/* why it failed (a short code), or NULL */
};
/*
 * Sync connection CONN of ORG page by page from its cursor (one run at a
 * time per connection: a second one finds it busy). JOB (0: none) has
 * its lease extended after each page. 0, or a negative code with
 * R->error set.
 */
int	 apx_connect_sync(const struct apx_connect_env *, int64_t, int64_t,
	    int64_t, struct apx_sync_report *);
/*
 * Take and run due jobs until none is left (ONCE) or for ever, waiting
 * for NOTIFY apx_jobs or POLL seconds between; STOP (may be NULL) set by
 * a signal ends the loop after the job at hand. *DONE counts jobs run.
 */
int	 apx_connect_jobs_run(const struct apx_connect_env *, int, int,
	    volatile int *, long long *);

#endif
