/*
 * Configuration: one file of "key = value" lines plus APX_* environment
 * overrides. Every key is declared in one table in conf.c; unknown keys
 * and bad values are refused with "FILE:LINE: key 'k': reason".
 */
#ifndef APX_CORE_CONF_H
#define APX_CORE_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "core/secret.h"

struct apx_cidr_list;

struct apx_strlist {
	char	**v;
	size_t	  n;
};

/* regions.<name>.conninfo: the Postgres server of a data region, as a
 * role that may create roles and databases (tenant provisioning). */
#define APX_REGIONS_MAX	16
#define APX_REGION_NAME_MAX	32

struct apx_region {
	char			 name[APX_REGION_NAME_MAX + 1];
	struct apx_secret	*conninfo;
	size_t			 line;		/* 0: from the environment */
};

/* connectors.<name>.<field>: what a connector plugin's SERVER fields are
 * set to (every value is kept as a secret: which fields are secret is
 * known only once the plugins are loaded). */
#define APX_CONNECTOR_KEYS_MAX	128
#define APX_CONNECTOR_KEY_MAX	76	/* "connectors." + 32 + "." + 32 */

struct apx_conf_connector_key {
	char			 key[APX_CONNECTOR_KEY_MAX + 1];
	struct apx_secret	*value;
	size_t			 line;
};

/* oidc.<google|microsoft>.*: a sign-in provider (off without client_id). */
#define APX_OIDC_PROVIDERS	2
#define APX_OIDC_GOOGLE		0
#define APX_OIDC_MICROSOFT	1

struct apx_conf_oidc {
	char			*client_id;
	struct apx_secret	*client_secret;
	char			*discovery_url;
	char			*issuer;
};

struct apx_conf_origin;	/* where each key's value came from */

/* The vulnerability disclosure page, which security.policy names unless
 * it is set. */
#define APX_DISCLOSURE_PATH	"/security/disclosure"

struct apx_conf {
	char			*path;

	struct apx_secret	*db_conninfo;
	struct apx_secret	*db_admin_conninfo;
	char			*db_app_role;

	long long		 http_max_body;
	struct apx_strlist	 cors_origins;
	long long		 hsts_max_age;
	char			*problem_base;

	struct apx_secret	*internal_secret;

	struct apx_strlist	 sec_contact;
	int64_t			 sec_expires;
	char			*sec_policy;
	char			*sec_languages;
	char			*sec_canonical;
	char			*sec_acknowledgments;
	char			*sec_hiring;
	char			*sec_encryption;
	char			*sec_disclosure_terms;	/* NULL: built in */

	long long		 worker_max_requests;
	int			 log_level;

	char			*jwt_key_dir;
	char			*jwt_issuer;
	char			*jwt_audience;
	long long		 refresh_lifetime;
	char			*public_origin;
	struct apx_cidr_list	*trusted_proxies;	/* NULL: none */
	struct apx_strlist	 org_regions;	/* where new orgs may go */
	struct apx_region	 regions[APX_REGIONS_MAX];
	size_t			 nregions;

	struct apx_secret	*vault_keys;	/* "VERSION:BASE64 ..." */
	long long		 vault_current;	/* 0: the highest version */
	int			 vault_allow_plaintext;

	long long		 tenant_max_conns;	/* per worker */
	long long		 capacity_processes;	/* app processes at most */
	long long		 upload_max_bytes;
	long long		 upload_max_rows;

	char			*plugins_dir;	/* NULL: no connectors */
	char			*dns_resolver;	/* "IPv4[:port]"; NULL: system */
	struct apx_conf_oidc	 oidc[APX_OIDC_PROVIDERS]; /* google, microsoft */
	char			*oidc_ms_tenants; /* tids, comma-separated; NULL: any */
	long long		 oidc_cache_ttl;
	long long		 oidc_kid_refetch;
	int			 sso_loopback_http;
	struct apx_secret	*saml_sp_key;	/* PEM; NULL: metadata unsigned */
	struct apx_secret	*saml_sp_cert;
	struct apx_conf_connector_key connector_keys[APX_CONNECTOR_KEYS_MAX];
	/* mail (src/auth/mail.c) */
	char			*mail_smtp_url;	/* smtp:// or smtps://; NULL: off */
	char			*mail_smtp_user;
	struct apx_secret	*mail_smtp_password;
	int			 mail_starttls;	/* smtp://: STARTTLS required */
	char			*mail_ca_file;
	char			*mail_from;	/* the sender's address */
	char			*mail_from_name;
	char			*product_name;
	long long		 mail_timeout;
	/* the account lifecycle (src/routes/account.c) */
	long long		 verify_ttl;
	long long		 reset_ttl;
	long long		 unverified_ttl;
	long long		 invite_ttl;
	long long		 refresh_grace;
	long long		 login_delay_after;
	size_t			 nconnector_keys;

	struct apx_conf_origin	*origin;
};

/* Load PATH (may be NULL: defaults + environment only). */
int	 apx_conf_load(const char *, struct apx_conf **, char *, size_t);
void	 apx_conf_free(struct apx_conf *);

/* Parse a whole configuration text (for tests and fuzzing). */
int	 apx_conf_parse(const char *, const char *, size_t, int,
	    struct apx_conf **, char *, size_t);

/* Environment variable name of a key ("db.conninfo" -> "APX_DB_CONNINFO"). */
int	 apx_conf_env_name(const char *, char *, size_t);

/*
 * Where KEY (a key of the table or regions.NAME.conninfo) was set, for
 * error messages: "FILE:LINE", "environment APX_KEY", or "FILE (default;
 * set KEY there or APX_KEY)". Always a NUL-terminated string.
 */
void	 apx_conf_where(const struct apx_conf *, const char *, char *, size_t);

int	 apx_strlist_has(const struct apx_strlist *, const char *);

/* connectors.NAME.FIELD, or NULL when not set (*LINE: its line). */
const struct apx_secret *apx_conf_connector(const struct apx_conf *,
	    const char *, const char *, size_t *);

/* The region called NAME, or NULL when the configuration has none. */
const struct apx_region *apx_conf_region(const struct apx_conf *,
	    const char *);

#endif
