/* Inside the connector platform: plugins as loaded, and the call context. */
#ifndef APX_CONNECT_HOST_INT_H
#define APX_CONNECT_HOST_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "accupredix/connector.h"
#include "core/secret.h"

struct apx_ctx;
struct apx_db;
struct apx_vault;
struct apx_conf;

#define APX_PLUGIN_FIELDS_MAX	32
#define APX_PLUGIN_SCOPES_MAX	32
#define APX_CX_SECRETS_MAX	64

struct apx_plugin {
	char			 file[256];
	void			*dl;
	const struct apx_connector *d;
	/* SERVER field values (configuration or default); NULL unset. */
	struct apx_secret	*server[APX_PLUGIN_FIELDS_MAX];
	char			 scope[1024];	/* the scopes, space-joined */
	int			 initialised;
};

struct apx_cx_blk;

struct apx_cx {
	const struct apx_plugin	*pl;
	struct apx_ctx		*c;	/* NULL outside a request */
	struct apx_db		*db;
	struct apx_vault	*v;
	const struct apx_conf	*conf;
	int64_t			 org;
	int64_t			 user;
	int64_t			 conn;	/* 0: none */
	const char		*browser;
	const char		*rid;
	struct apx_cx_blk	*mem;
	size_t			 used;
	const char		*secrets[APX_CX_SECRETS_MAX];
	size_t			 nsecrets;
	json_t			*settings;	/* opened org settings */
	int			 settings_loaded;
	int			 http_calls;
	/* Jobs (c == NULL): the tenant databases; a job may wait. */
	struct apx_tenants	*tenants;
	int			 job;
	/* host->sale collects here (NULL: not allowed in this call). */
	json_t			*sales;
	const char		*account;	/* the provider account */
	json_t			*roots;	/* host->json_parse results */
	int			 privacy_calls;
};

extern const struct apx_host apx_host_table;

/* A context for plugin PL; C may be NULL (a job). */
void	 apx_cx_init(struct apx_cx *, const struct apx_plugin *,
	    struct apx_ctx *, int64_t, int64_t, int64_t);
/* A context for a job of plugin PL (no request): ORG, connection CONN. */
void	 apx_cx_job(struct apx_cx *, const struct apx_plugin *,
	    const struct apx_conf *, struct apx_db *, struct apx_tenants *,
	    struct apx_vault *, int64_t, int64_t);
/* Every block wiped and freed. */
void	 apx_cx_end(struct apx_cx *);
/* A value to redact from every log line of this context. */
void	 apx_cx_secret(struct apx_cx *, const char *);
void	*apx_cx_alloc(struct apx_cx *, size_t);
char	*apx_cx_dup(struct apx_cx *, const char *, size_t);
/* Index of field NAME of the plugin, or -1. */
int	 apx_plugin_field(const struct apx_plugin *, const char *);
/* The opened org settings of the context ({field: text}); NULL on a
 * failure (logged). */
json_t	*apx_cx_settings(struct apx_cx *);
/* [a-z][a-z0-9_]{0,31} */
int	 apx_connect_name_ok(const char *);

/* flows.c: the access token of connection ID (see there). */
int	 apx_connect_access(struct apx_cx *, int64_t, const char *,
	    const char **, const char **, int *);

/* data.c: the services of ABI minor 1. */
const struct apx_json *apx_hd_json_parse(struct apx_cx *, const char *,
	    size_t);
const struct apx_json *apx_hd_json_at(const struct apx_json *,
	    const char *);
const char *apx_hd_json_text(struct apx_cx *, const struct apx_json *,
	    const char *);
size_t	 apx_hd_json_size(const struct apx_json *);
int	 apx_hd_sale(struct apx_cx *, const struct apx_sale *);
int	 apx_hd_wait(struct apx_cx *, int64_t);
int	 apx_hd_privacy(struct apx_cx *, int, const char *);

/* http.c */
int	 apx_connect_http(struct apx_cx *, const struct apx_http_request *,
	    struct apx_http_response *);
/* loader.c: the loaded plugins. */
size_t	 apx_connect_count(void);
const struct apx_plugin *apx_connect_at(size_t);

#endif
