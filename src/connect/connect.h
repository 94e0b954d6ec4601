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

#endif
