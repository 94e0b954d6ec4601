/*
 * Configuration file and environment. The table below is the only place
 * a key is declared: its type, default, bounds and whether it is a secret
 * (which allows "file:/path" and keeps it out of every log line).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz/cidr.h"
#include "core/apx.h"
#include "core/conf.h"
#include "core/dns.h"
#include "core/log.h"
#include "core/url.h"

#define MAX_FILE	(1024 * 1024)
#define MAX_LINE	8192
#define MAX_SECRET_FILE	(64 * 1024)
#define MAX_LIST	64
#define MAX_TEXT_FILE	(64 * 1024)

enum ktype {
	K_STRING,	/* free text, printable */
	K_SECRET,	/* secret, may be file: */
	K_INT,		/* bounded integer */
	K_TIME,		/* RFC 3339 UTC */
	K_LOGLEVEL,
	K_IDENT,	/* SQL identifier [a-z_][a-z0-9_]{0,62} */
	K_URL,		/* https:// URL */
	K_ORIGINS,	/* list of scheme://host[:port] */
	K_CONTACTS,	/* list of mailto:/https:/tel: URIs */
	K_PATH,		/* absolute path */
	K_ORIGIN,	/* one scheme://host[:port] */
	K_CIDRS,	/* list of IPv4/IPv6 networks */
	K_NAMES,	/* list of [a-z][a-z0-9-]{0,31} */
	K_BOOL,		/* yes/no, true/false, on/off, 1/0 */
	K_TEXTFILE,	/* file:/path of UTF-8 text, read at load */
};

#define F_REQUIRED	0x1

struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;
	int		 flags;
	const char	*def;
	long long	 min, max;
};

#define O(f) offsetof(struct apx_conf, f)

static const struct key keys[] = {
	{ "db.conninfo", K_SECRET, O(db_conninfo), F_REQUIRED, NULL, 0, 0 },
	{ "db.admin_conninfo", K_SECRET, O(db_admin_conninfo), 0, NULL, 0, 0 },
	{ "db.app_role", K_IDENT, O(db_app_role), 0, NULL, 0, 0 },
	{ "http.max_body_bytes", K_INT, O(http_max_body), 0, "1048576",
	    1024, 64LL * 1024 * 1024 },
	{ "http.cors_origins", K_ORIGINS, O(cors_origins), 0, NULL, 0, 0 },
	{ "http.hsts_max_age", K_INT, O(hsts_max_age), 0, "31536000",
	    0, 2LL * 31536000 },
	/* Default: http.public_origin + "/problems/" (see derive()). */
	{ "http.problem_type_base", K_URL, O(problem_base), 0, NULL, 0, 0 },
	{ "internal.secret", K_SECRET, O(internal_secret), 0, NULL, 0, 0 },
	{ "security.contact", K_CONTACTS, O(sec_contact), F_REQUIRED, NULL,
	    0, 0 },
	{ "security.expires", K_TIME, O(sec_expires), F_REQUIRED, NULL, 0, 0 },
	/* Default: http.public_origin + "/security/disclosure" (derive()). */
	{ "security.policy", K_URL, O(sec_policy), 0, NULL, 0, 0 },
	{ "security.preferred_languages", K_STRING, O(sec_languages), 0, NULL,
	    0, 0 },
	{ "security.canonical", K_URL, O(sec_canonical), 0, NULL, 0, 0 },
	{ "security.acknowledgments", K_URL, O(sec_acknowledgments), 0, NULL,
	    0, 0 },
	{ "security.hiring", K_URL, O(sec_hiring), 0, NULL, 0, 0 },
	{ "security.encryption", K_URL, O(sec_encryption), 0, NULL, 0, 0 },
	/* The safe-harbour terms of /security/disclosure; unset: built in. */
	{ "security.disclosure_terms", K_TEXTFILE, O(sec_disclosure_terms), 0,
	    NULL, 0, 0 },
	{ "worker.max_requests", K_INT, O(worker_max_requests), 0, "10000",
	    0, 100000000 },
	{ "log.level", K_LOGLEVEL, O(log_level), 0, "info", 0, 0 },
	{ "jwt.key_dir", K_PATH, O(jwt_key_dir), 0, NULL, 0, 0 },
	/* Default: http.public_origin (see derive()). */
	{ "jwt.issuer", K_URL, O(jwt_issuer), 0, NULL, 0, 0 },
	{ "jwt.audience", K_STRING, O(jwt_audience), 0, "accupredix-api", 0,
	    0 },
	{ "auth.refresh_lifetime", K_INT, O(refresh_lifetime), 0, "2592000",
	    300, 31536000 },
	{ "http.public_origin", K_ORIGIN, O(public_origin), 0, NULL, 0, 0 },
	{ "http.trusted_proxies", K_CIDRS, O(trusted_proxies), 0, NULL, 0, 0 },
	{ "org.regions", K_NAMES, O(org_regions), 0, "eu", 0, 0 },
	{ "vault.keys", K_SECRET, O(vault_keys), 0, NULL, 0, 0 },
	{ "vault.current_version", K_INT, O(vault_current), 0, "0", 0,
	    2147483647 },
	{ "vault.allow_plaintext", K_BOOL, O(vault_allow_plaintext), 0, "no",
	    0, 0 },
	{ "tenant.max_connections", K_INT, O(tenant_max_conns), 0, "8", 1,
	    64 },
	/* FcgidMaxProcessesPerClass / max-procs: for the connection check. */
	{ "capacity.processes", K_INT, O(capacity_processes), 0, "32", 1,
	    100000 },
	{ "uploads.max_bytes", K_INT, O(upload_max_bytes), 0, "1048576", 1024,
	    256LL * 1024 * 1024 },
	{ "uploads.max_rows", K_INT, O(upload_max_rows), 0, "50000", 1,
	    10000000 },
	/* Connector plugins (.so) loaded at worker start; unset: none. */
	{ "plugins.dir", K_PATH, O(plugins_dir), 0, NULL, 0, 0 },
	/* Domain verification's resolver, "IPv4[:port]"; unset: the system's. */
	{ "dns.resolver", K_STRING, O(dns_resolver), 0, NULL, 0, 0 },
	/* Sign-in with Google and Microsoft (OpenID Connect): a provider
	 * without a client_id is off. The discovery URLs and issuers are
	 * configuration so that tests point them at a local provider. */
	{ "oidc.google.client_id", K_STRING, O(oidc[0].client_id), 0, NULL,
	    0, 0 },
	{ "oidc.google.client_secret", K_SECRET, O(oidc[0].client_secret), 0,
	    NULL, 0, 0 },
	{ "oidc.google.discovery_url", K_STRING, O(oidc[0].discovery_url), 0,
	    "https://accounts.google.com/.well-known/openid-configuration",
	    0, 0 },
	{ "oidc.google.issuer", K_STRING, O(oidc[0].issuer), 0,
	    "https://accounts.google.com", 0, 0 },
	{ "oidc.microsoft.client_id", K_STRING, O(oidc[1].client_id), 0, NULL,
	    0, 0 },
	{ "oidc.microsoft.client_secret", K_SECRET, O(oidc[1].client_secret),
	    0, NULL, 0, 0 },
	{ "oidc.microsoft.discovery_url", K_STRING, O(oidc[1].discovery_url),
	    0, "https://login.microsoftonline.com/common/v2.0/"
	    ".well-known/openid-configuration", 0, 0 },
	{ "oidc.microsoft.issuer", K_STRING, O(oidc[1].issuer), 0,
	    "https://login.microsoftonline.com/{tenantid}/v2.0", 0, 0 },
	/* Microsoft tenants (tid) allowed to sign in; unset: any. */
	{ "oidc.microsoft.tenants", K_STRING, O(oidc_ms_tenants), 0, NULL, 0,
	    0 },
	/* Discovery documents and JWKS are kept per worker this long. */
	{ "oidc.cache_ttl", K_INT, O(oidc_cache_ttl), 0, "3600", 10, 86400 },
	/* An unknown kid refetches a JWKS at most once per this interval. */
	{ "oidc.kid_refetch_interval", K_INT, O(oidc_kid_refetch), 0, "60", 0,
	    3600 },
	/* May an org's IdP be http:// on a loopback host (tests only). */
	{ "sso.allow_loopback_http", K_BOOL, O(sso_loopback_http), 0, "no", 0,
	    0 },
	/* The SAML SP's signing key and certificate (PEM, file:): when set,
	 * the SP metadata is signed and lists the certificate. */
	{ "saml.sp_key", K_SECRET, O(saml_sp_key), 0, NULL, 0, 0 },
	{ "saml.sp_cert", K_SECRET, O(saml_sp_cert), 0, NULL, 0, 0 },
	/* Mail to users (src/auth/mail.c), sent by `accupredix-admin mail
	 * send` to this relay: smtp://host[:port] (STARTTLS unless
	 * mail.starttls is off) or smtps://host[:port] (TLS from the start).
	 * Unset: mails wait in the outbox. */
	{ "mail.smtp_url", K_STRING, O(mail_smtp_url), 0, NULL, 0, 0 },
	{ "mail.smtp_user", K_STRING, O(mail_smtp_user), 0, NULL, 0, 0 },
	{ "mail.smtp_password", K_SECRET, O(mail_smtp_password), 0, NULL, 0,
	    0 },
	{ "mail.starttls", K_BOOL, O(mail_starttls), 0, "yes", 0, 0 },
	/* CA bundle for the relay's certificate; unset: the system's. */
	{ "mail.ca_file", K_PATH, O(mail_ca_file), 0, NULL, 0, 0 },
	{ "mail.from", K_STRING, O(mail_from), 0, NULL, 0, 0 },
	{ "mail.from_name", K_STRING, O(mail_from_name), 0, "AccuPredix", 0,
	    0 },
	{ "mail.timeout", K_INT, O(mail_timeout), 0, "30", 1, 600 },
	/* The product's name in mails and second-factor apps. */
	{ "product.name", K_STRING, O(product_name), 0, "AccuPredix", 0, 0 },
	/* Lifetimes of the account lifecycle, in seconds. */
	{ "auth.verify_ttl", K_INT, O(verify_ttl), 0, "86400", 600,
	    30 * 86400 },
	{ "auth.reset_ttl", K_INT, O(reset_ttl), 0, "1800", 300, 86400 },
	/* An account whose address is not verified this long goes. */
	{ "auth.unverified_ttl", K_INT, O(unverified_ttl), 0, "604800", 3600,
	    365LL * 86400 },
	{ "auth.invitation_ttl", K_INT, O(invite_ttl), 0, "604800", 3600,
	    90LL * 86400 },
	/* A refresh token spent this recently answers with its successor
	 * (a second tab); later, its reuse ends the session. */
	{ "auth.refresh_grace", K_INT, O(refresh_grace), 0, "10", 0, 60 },
	/* Failed logins of one account (from anywhere) before each further
	 * attempt waits, twice as long each time (known networks exempt). */
	{ "auth.login_delay_after", K_INT, O(login_delay_after), 0, "10", 3,
	    1000 },
};

struct apx_conf_origin {
	size_t		 line[APX_NELEM(keys)];
	unsigned char	 env[APX_NELEM(keys)];
};

struct parse {
	const char	*file;
	char		*err;
	size_t		 errlen;
	unsigned char	 seen[APX_NELEM(keys)];
	size_t		 line[APX_NELEM(keys)];
	unsigned char	 from_env[APX_NELEM(keys)];
};

static int	 fail(struct parse *, const char *, size_t, const char *,
		    const char *, ...) APX_PRINTF(5, 6);
static const struct key *find_key(const char *, size_t *);
static int	 set_value(struct parse *, struct apx_conf *, const struct key *,
		    const char *, const char *, size_t);
static int	 read_file(const char *, size_t, char **, size_t *);
static int	 parse_list(const char *, struct apx_strlist *);
static void	 free_list(struct apx_strlist *);
static int	 valid_name(const char *);
static int	 region_name(const char *, char *);
static int	 set_region(struct parse *, struct apx_conf *, const char *,
		    const char *, const char *, size_t);
static int	 regions_env(struct parse *, struct apx_conf *);
static int	 connector_key(const char *);
static int	 set_connector(struct parse *, struct apx_conf *, const char *,
		    const char *, const char *, size_t);
static int	 regions_check(struct parse *, struct apx_conf *, int);
static int	 derive(struct parse *, struct apx_conf *);
static int	 derive_oidc(struct parse *, struct apx_conf *);
static int	 derive_mail(struct parse *, struct apx_conf *);
static void	 where_key(const struct parse *, const char *, char *, size_t);

static int
valid_name(const char *s)
{
	size_t i;

	if (!(s[0] >= 'a' && s[0] <= 'z') || strlen(s) > 32)
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}
/* "regions.NAME.conninfo" -> NAME (of valid_name) into OUT; 0 or -1. */
static int
region_name(const char *key, char *out)
{
	static const char pre[] = "regions.", suf[] = ".conninfo";
	size_t len = strlen(key), n;

	if (len <= sizeof(pre) - 1 + sizeof(suf) - 1 ||
	    strncmp(key, pre, sizeof(pre) - 1) != 0 ||
	    strcmp(key + len - (sizeof(suf) - 1), suf) != 0)
		return -1;
	n = len - (sizeof(pre) - 1) - (sizeof(suf) - 1);
	if (n > APX_REGION_NAME_MAX)
		return -1;
	memcpy(out, key + sizeof(pre) - 1, n);
	out[n] = '\0';
	return valid_name(out) ? 0 : -1;
}

/*
 * KEY = VALUE where KEY is regions.NAME.conninfo: APX_ENOTFOUND when KEY
 * is not of that form, else as set_value. A region named twice in the
 * file is an error; the environment overrides the file.
 */
static int
set_region(struct parse *p, struct apx_conf *c, const char *key,
    const char *value, const char *where, size_t line)
{
	char name[APX_REGION_NAME_MAX + 1];
	struct key k;
	size_t i;

	if (region_name(key, name) != 0)
		return APX_ENOTFOUND;
	for (i = 0; i < c->nregions; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			break;
	if (i < c->nregions && line > 0)
		return fail(p, where, line, key, "set twice");
	if (i == c->nregions) {
		if (c->nregions == APX_REGIONS_MAX)
			return fail(p, where, line, key,
			    "more than %d regions", APX_REGIONS_MAX);
		memcpy(c->regions[i].name, name, strlen(name) + 1);
		c->nregions++;
	}
	c->regions[i].line = line;
	memset(&k, 0, sizeof(k));
	k.name = key;
	k.type = K_SECRET;
	k.off = O(regions) + i * sizeof(struct apx_region) +
	    offsetof(struct apx_region, conninfo);
	return set_value(p, c, &k, where, value, line);
}

/* connectors.NAME.FIELD, both [a-z][a-z0-9_]{0,31}: 1, else 0. */
static int
connector_key(const char *key)
{
	static const char pre[] = "connectors.";
	const char *s;
	int part, n;

	if (strncmp(key, pre, sizeof(pre) - 1) != 0)
		return 0;
	s = key + sizeof(pre) - 1;
	for (part = 0; part < 2; part++) {
		if (!(*s >= 'a' && *s <= 'z'))
			return 0;
		for (n = 0; (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')
		    || *s == '_'; s++)
			if (++n > 32)
				return 0;
		if (part == 0 && *s++ != '.')
			return 0;
	}
	return *s == '\0';
}

/*
 * KEY = VALUE where KEY is connectors.NAME.FIELD (file only; a secret
 * field as "file:/path"): APX_ENOTFOUND when KEY is not of that form.
 */
static int
set_connector(struct parse *p, struct apx_conf *c, const char *key,
    const char *value, const char *where, size_t line)
{
	struct key k;
	size_t i;

	if (!connector_key(key))
		return APX_ENOTFOUND;
	for (i = 0; i < c->nconnector_keys; i++)
		if (strcmp(c->connector_keys[i].key, key) == 0)
			return fail(p, where, line, key, "set twice");
	if (i == APX_CONNECTOR_KEYS_MAX)
		return fail(p, where, line, key, "more than %d connector keys",
		    APX_CONNECTOR_KEYS_MAX);
	if (apx_strlcpy_chk(c->connector_keys[i].key, key,
	    sizeof(c->connector_keys[i].key)) != 0)
		return fail(p, where, line, key, "key too long");
	c->connector_keys[i].line = line;
	c->nconnector_keys++;
	memset(&k, 0, sizeof(k));
	k.name = key;
	k.type = K_SECRET;
	k.off = O(connector_keys) + i * sizeof(struct apx_conf_connector_key) +
	    offsetof(struct apx_conf_connector_key, value);
	return set_value(p, c, &k, where, value, line);
}

const struct apx_secret *
apx_conf_connector(const struct apx_conf *c, const char *name,
    const char *field, size_t *line)
{
	char key[APX_CONNECTOR_KEY_MAX + 16];
	size_t i;

	if ((size_t)snprintf(key, sizeof(key), "connectors.%s.%s", name,
	    field) >= sizeof(key))
		return NULL;
	for (i = 0; i < c->nconnector_keys; i++)
		if (strcmp(c->connector_keys[i].key, key) == 0) {
			if (line != NULL)
				*line = c->connector_keys[i].line;
			return c->connector_keys[i].value;
		}
	return NULL;
}

/* APX_REGIONS_<NAME>_CONNINFO for the regions named in the file or in
 * org.regions ('-' becomes '_'). */
static int
regions_env(struct parse *p, struct apx_conf *c)
{
	char names[APX_REGIONS_MAX * 2][APX_REGION_NAME_MAX + 1];
	char key[APX_REGION_NAME_MAX + 32], env[APX_REGION_NAME_MAX + 40];
	char where[96], *e;
	const char *v;
	size_t i, n = 0;
	int rc;

	for (i = 0; i < c->nregions; i++)
		memcpy(names[n++], c->regions[i].name,
		    APX_REGION_NAME_MAX + 1);
	for (i = 0; i < c->org_regions.n && n < APX_NELEM(names); i++)
		snprintf(names[n++], sizeof(names[0]), "%s",
		    c->org_regions.v[i]);
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(key, sizeof(key), "regions.%s.conninfo",
		    names[i]) >= sizeof(key) ||
		    apx_conf_env_name(key, env, sizeof(env)) != 0)
			continue;
		for (e = env; *e != '\0'; e++)
			if (*e == '-')
				*e = '_';
		if ((v = getenv(env)) == NULL)
			continue;
		snprintf(where, sizeof(where), "environment %s", env);
		if (*v == '\0')
			return fail(p, where, 0, key, "empty value");
		if ((rc = set_region(p, c, key, v, where, 0)) != 0)
			return rc;
	}
	return 0;
}

/*
 * Every region new orgs may go to needs its server. Without org.regions
 * (EXPLICIT 0) they are the configured regions, "eu" first if present.
 */
static int
regions_check(struct parse *p, struct apx_conf *c, int explicit)
{
	struct apx_strlist l;
	size_t i, n = 0;

	if (!explicit && c->nregions > 0) {
		l.n = c->nregions;
		if ((l.v = calloc(c->nregions, sizeof(*l.v))) == NULL)
			return fail(p, p->file, 0, "org.regions",
			    "out of memory");
		if (apx_conf_region(c, "eu") != NULL &&
		    (l.v[n++] = strdup("eu")) == NULL)
			goto nomem;
		for (i = 0; i < c->nregions; i++) {
			if (strcmp(c->regions[i].name, "eu") == 0)
				continue;
			if ((l.v[n++] = strdup(c->regions[i].name)) == NULL)
				goto nomem;
		}
		free_list(&c->org_regions);
		c->org_regions = l;
	}
	for (i = 0; i < c->org_regions.n; i++) {
		char where[512], key[APX_REGION_NAME_MAX + 32];
		char env[APX_REGION_NAME_MAX + 40], *e;
		const char *r = c->org_regions.v[i];

		if (apx_conf_region(c, r) != NULL)
			continue;
		snprintf(key, sizeof(key), "regions.%s.conninfo", r);
		if (apx_conf_env_name(key, env, sizeof(env)) != 0)
			snprintf(env, sizeof(env), "APX_REGIONS_..._CONNINFO");
		for (e = env; *e != '\0'; e++)
			if (*e == '-')
				*e = '_';
		/* FILE:LINE of org.regions, its variable, or (a default
		 * list) the file and the variable that would name it. */
		where_key(p, "org.regions", where, sizeof(where));
		return fail(p, where, 0, "org.regions", "region '%s'%s has no "
		    "regions.%s.conninfo (the PostgreSQL server of its tenant "
		    "databases): set it in %s or as %s", r, explicit ? "" :
		    " (the default)", r, p->file, env);
	}
	return 0;
nomem:
	l.n = n;
	free_list(&l);
	return fail(p, p->file, 0, "org.regions", "out of memory");
}

/*
 * A sign-in provider: its discovery URL and issuer are https (http only on
 * a loopback host, for tests), a client_id needs its client_secret, and
 * Microsoft's tenant list holds GUIDs.
 */
static int
derive_oidc(struct parse *p, struct apx_conf *c)
{
	static const char *const names[APX_OIDC_PROVIDERS] = { "google",
	    "microsoft" };
	char key[64], where[512], *t, *s, *save = NULL;
	size_t i;
	int ok;

	for (i = 0; i < APX_OIDC_PROVIDERS; i++) {
		const struct apx_conf_oidc *o = &c->oidc[i];

		snprintf(key, sizeof(key), "oidc.%s.discovery_url", names[i]);
		if (o->discovery_url == NULL ||
		    !apx_url_base_ok(o->discovery_url)) {
			where_key(p, key, where, sizeof(where));
			return fail(p, where, 0, key, "must be an https URL "
			    "(http only on a loopback host)");
		}
		snprintf(key, sizeof(key), "oidc.%s.issuer", names[i]);
		if (o->issuer == NULL || !apx_url_base_ok(o->issuer)) {
			where_key(p, key, where, sizeof(where));
			return fail(p, where, 0, key, "must be an https URL "
			    "(http only on a loopback host)");
		}
		if (o->client_id != NULL && o->client_secret == NULL) {
			snprintf(key, sizeof(key), "oidc.%s.client_secret",
			    names[i]);
			where_key(p, key, where, sizeof(where));
			return fail(p, where, 0, key, "required with "
			    "oidc.%s.client_id (use file:PATH)", names[i]);
		}
	}
	if ((c->saml_sp_key == NULL) != (c->saml_sp_cert == NULL)) {
		where_key(p, c->saml_sp_key == NULL ? "saml.sp_key" :
		    "saml.sp_cert", where, sizeof(where));
		return fail(p, where, 0, c->saml_sp_key == NULL ? "saml.sp_key" :
		    "saml.sp_cert", "saml.sp_key and saml.sp_cert go together");
	}
	if (c->oidc_ms_tenants == NULL)
		return 0;
	if ((s = strdup(c->oidc_ms_tenants)) == NULL)
		return fail(p, p->file, 0, "oidc.microsoft.tenants",
		    "out of memory");
	ok = 1;
	for (t = strtok_r(s, ", ", &save); t != NULL;
	    t = strtok_r(NULL, ", ", &save))
		if (!apx_guid_ok(t))
			ok = 0;
	free(s);
	if (!ok) {
		where_key(p, "oidc.microsoft.tenants", where, sizeof(where));
		return fail(p, where, 0, "oidc.microsoft.tenants", "a list of "
		    "tenant ids (GUIDs) separated by commas");
	}
	return 0;
}

/*
 * The product's own URLs come from its configuration: jwt.issuer,
 * http.problem_type_base and security.policy default to
 * http.public_origin (+ "/problems/", + "/security/disclosure"), never to
 * a built-in host name.
 */
static int
derive(struct parse *p, struct apx_conf *c)
{
	unsigned char a[4];
	unsigned port;
	char where[512];
	size_t len;

	if (c->dns_resolver != NULL &&
	    apx_dns_resolver_parse(c->dns_resolver, a, &port) != 0) {
		where_key(p, "dns.resolver", where, sizeof(where));
		return fail(p, where, 0, "dns.resolver", "must be an IPv4 "
		    "address with an optional :port, e.g. 127.0.0.1:5353");
	}

	if (derive_oidc(p, c) != 0)
		return APX_ECONFIG;
	if (derive_mail(p, c) != 0)
		return APX_ECONFIG;
	/* security.txt always names the disclosure page the app serves. */
	if (c->sec_policy == NULL && c->public_origin != NULL) {
		len = strlen(c->public_origin) + sizeof(APX_DISCLOSURE_PATH);
		if ((c->sec_policy = malloc(len)) == NULL)
			return fail(p, p->file, 0, "security.policy",
			    "out of memory");
		snprintf(c->sec_policy, len, "%s%s", c->public_origin,
		    APX_DISCLOSURE_PATH);
	}

	if ((c->jwt_issuer != NULL && c->problem_base != NULL))
		return 0;
	if (c->public_origin == NULL)
		return fail(p, p->file, 0, "http.public_origin", "required "
		    "unless jwt.issuer and http.problem_type_base are both set "
		    "(they derive from it): set it in %s or as "
		    "APX_HTTP_PUBLIC_ORIGIN, e.g. https://app.example.com",
		    p->file);
	if (c->jwt_issuer == NULL &&
	    (c->jwt_issuer = strdup(c->public_origin)) == NULL)
		return fail(p, p->file, 0, "jwt.issuer", "out of memory");
	if (c->problem_base == NULL) {
		len = strlen(c->public_origin) + sizeof("/problems/");
		if ((c->problem_base = malloc(len)) == NULL)
			return fail(p, p->file, 0, "http.problem_type_base",
			    "out of memory");
		snprintf(c->problem_base, len, "%s/problems/",
		    c->public_origin);
	}
	return 0;
}

/* The relay is smtp:// or smtps://; a relay needs a sender address. */
static int
derive_mail(struct parse *p, struct apx_conf *c)
{
	char where[512];
	const char *at;

	if (c->mail_smtp_url != NULL &&
	    strncmp(c->mail_smtp_url, "smtp://", 7) != 0 &&
	    strncmp(c->mail_smtp_url, "smtps://", 8) != 0) {
		where_key(p, "mail.smtp_url", where, sizeof(where));
		return fail(p, where, 0, "mail.smtp_url", "must be "
		    "smtp://HOST[:PORT] (STARTTLS) or smtps://HOST[:PORT]");
	}
	if (c->mail_from != NULL && ((at = strchr(c->mail_from, '@')) == NULL ||
	    at == c->mail_from || strchr(at, '.') == NULL ||
	    strpbrk(c->mail_from, " <>\"\\,;") != NULL)) {
		where_key(p, "mail.from", where, sizeof(where));
		return fail(p, where, 0, "mail.from", "must be a plain address, "
		    "e.g. no-reply@example.com (the name is mail.from_name)");
	}
	if (c->mail_smtp_url != NULL && c->mail_from == NULL) {
		where_key(p, "mail.from", where, sizeof(where));
		return fail(p, where, 0, "mail.from", "required with "
		    "mail.smtp_url: the address mails come from");
	}
	return 0;
}

/* Where KEY of the table was set, during the parse (see apx_conf_where). */
static void
where_key(const struct parse *p, const char *key, char *buf, size_t len)
{
	char env[64];
	size_t idx;

	if (apx_conf_env_name(key, env, sizeof(env)) != 0)
		env[0] = '\0';
	if (find_key(key, &idx) == NULL || !p->seen[idx])
		snprintf(buf, len, "%s", p->file);
	else if (p->from_env[idx])
		snprintf(buf, len, "environment %s", env);
	else
		snprintf(buf, len, "%s:%zu", p->file, p->line[idx]);
}

void
apx_conf_where(const struct apx_conf *c, const char *key, char *buf,
    size_t len)
{
	const struct apx_region *r;
	char env[APX_REGION_NAME_MAX + 64], name[APX_REGION_NAME_MAX + 1], *e;
	size_t idx;

	if (len == 0)
		return;
	if (apx_conf_env_name(key, env, sizeof(env)) != 0)
		env[0] = '\0';
	for (e = env; *e != '\0'; e++)
		if (*e == '-')
			*e = '_';
	if (region_name(key, name) == 0 && (r = apx_conf_region(c, name)) !=
	    NULL) {
		if (r->line > 0)
			snprintf(buf, len, "%s:%zu", c->path, r->line);
		else
			snprintf(buf, len, "environment %s", env);
		return;
	}
	if (c->origin != NULL && find_key(key, &idx) != NULL) {
		if (c->origin->env[idx]) {
			snprintf(buf, len, "environment %s", env);
			return;
		}
		if (c->origin->line[idx] > 0) {
			snprintf(buf, len, "%s:%zu", c->path,
			    c->origin->line[idx]);
			return;
		}
	}
	snprintf(buf, len, "%s (default; set %s there or as %s)", c->path,
	    key, env);
}

const struct apx_region *
apx_conf_region(const struct apx_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nregions; i++)
		if (strcmp(c->regions[i].name, name) == 0)
			return &c->regions[i];
	return NULL;
}
static int	 valid_origin(const char *);
static int	 valid_contact(const char *);
static int	 valid_url(const char *);
static int	 printable(const char *);
static const char *text_bad(const char *, size_t);

static int
fail(struct parse *p, const char *where, size_t line, const char *key,
    const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s:%zu: key '%s': %s", where,
		    line, key, reason);
	else
		snprintf(p->err, p->errlen, "%s: key '%s': %s", where, key,
		    reason);
	return APX_ECONFIG;
}

static const struct key *
find_key(const char *name, size_t *idx)
{
	size_t i;

	for (i = 0; i < APX_NELEM(keys); i++) {
		if (strcmp(keys[i].name, name) == 0) {
			*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

/* Why LEN bytes of S are not UTF-8 text of lines, or NULL when they are. */
static const char *
text_bad(const char *s, size_t len)
{
	size_t i, chars;
	int words = 0;

	if (apx_utf8_chars(s, len, &chars) != 0)
		return "is not UTF-8";
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t') ||
		    ch == 0x7f)
			return "holds a control character";
		if (ch > 0x20)
			words = 1;
	}
	return words ? NULL : "is empty";
}

static int
read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return APX_EIO;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return APX_EIO;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return APX_ETOOBIG;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return APX_ENOMEM;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

static void
free_list(struct apx_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
parse_list(const char *s, struct apx_strlist *l)
{
	const char *p = s, *start;
	char **nv;

	free_list(l);
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != ',')
			p++;
		if (l->n >= MAX_LIST)
			return APX_ETOOBIG;
		if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL)
			return APX_ENOMEM;
		l->v = nv;
		if ((l->v[l->n] = strndup(start, (size_t)(p - start))) == NULL)
			return APX_ENOMEM;
		l->n++;
	}
	return 0;
}

/* scheme://host[:port], no path, no trailing slash, lower-case scheme. */
static int
valid_origin(const char *s)
{
	const char *h;

	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		return 0;
	if (*h == '\0')
		return 0;
	for (; *h != '\0'; h++) {
		if (!(isalnum((unsigned char)*h) || *h == '.' || *h == '-' ||
		    *h == ':' || *h == '[' || *h == ']'))
			return 0;
	}
	return 1;
}

static int
valid_url(const char *s)
{
	return strncmp(s, "https://", 8) == 0 && strlen(s) > 8 &&
	    strpbrk(s, " \t\"<>") == NULL;
}

static int
valid_contact(const char *s)
{
	if (strncmp(s, "mailto:", 7) == 0)
		return strlen(s) > 7 && strchr(s + 7, '@') != NULL;
	if (strncmp(s, "tel:", 4) == 0)
		return strlen(s) > 4;
	return valid_url(s);
}

static int
set_value(struct parse *p, struct apx_conf *c, const struct key *k,
    const char *where, const char *value, size_t line)
{
	char *base = (char *)c;
	long long ll;
	int64_t t;
	int lvl, rc;
	size_t i;

	switch (k->type) {
	case K_SECRET: {
		struct apx_secret **sp = (struct apx_secret **)(base + k->off);
		char *buf = NULL;
		size_t len;

		if (strncmp(value, "file:", 5) == 0) {
			rc = read_file(value + 5, MAX_SECRET_FILE, &buf, &len);
			if (rc != 0)
				return fail(p, where, line, k->name,
				    "cannot read secret file %s: %s",
				    value + 5, apx_strerror(rc));
			while (len > 0 && (buf[len - 1] == '\n' ||
			    buf[len - 1] == '\r'))
				len--;
			apx_secret_free(*sp);
			*sp = apx_secret_new(buf, len);
			apx_wipe(buf, len);
			free(buf);
		} else {
			apx_secret_free(*sp);
			len = strlen(value);
			*sp = apx_secret_new(value, len);
		}
		if (*sp == NULL)
			return fail(p, where, line, k->name, "out of memory");
		if ((*sp)->len == 0 || memchr((*sp)->data, '\0', (*sp)->len))
			return fail(p, where, line, k->name,
			    "empty or contains a NUL byte");
		return 0;
	}
	case K_TEXTFILE: {
		char **sp = (char **)(base + k->off), *buf = NULL;
		const char *why;
		size_t len;

		if (strncmp(value, "file:/", 6) != 0)
			return fail(p, where, line, k->name,
			    "must be file:/PATH (an absolute path)");
		if ((rc = read_file(value + 5, MAX_TEXT_FILE, &buf, &len)) != 0)
			return fail(p, where, line, k->name,
			    "cannot read %s: %s", value + 5, rc == APX_ETOOBIG ?
			    "larger than 64 KiB" : rc == APX_EIO ?
			    "not a readable regular file" : apx_strerror(rc));
		why = memchr(buf, '\0', len) != NULL ? "holds a NUL byte" :
		    text_bad(buf, len);
		if (why != NULL) {
			free(buf);
			return fail(p, where, line, k->name, "%s %s", value + 5,
			    why);
		}
		free(*sp);
		*sp = buf;
		return 0;
	}
	case K_INT:
		if (apx_parse_ll(value, k->min, k->max, &ll) != 0)
			return fail(p, where, line, k->name,
			    "must be a whole number from %lld to %lld",
			    k->min, k->max);
		*(long long *)(base + k->off) = ll;
		return 0;
	case K_BOOL:
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
		    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
			*(int *)(base + k->off) = 1;
		else if (strcmp(value, "no") == 0 ||
		    strcmp(value, "false") == 0 || strcmp(value, "off") == 0 ||
		    strcmp(value, "0") == 0)
			*(int *)(base + k->off) = 0;
		else
			return fail(p, where, line, k->name,
			    "must be yes or no");
		return 0;
	case K_TIME:
		if (apx_rfc3339_parse(value, &t) != 0)
			return fail(p, where, line, k->name,
			    "must be an RFC 3339 UTC time such as "
			    "2027-06-01T00:00:00Z");
		*(int64_t *)(base + k->off) = t;
		return 0;
	case K_LOGLEVEL:
		if (apx_log_level_parse(value, &lvl) != 0)
			return fail(p, where, line, k->name,
			    "must be one of error, warn, info, debug");
		*(int *)(base + k->off) = lvl;
		return 0;
	case K_CIDRS: {
		struct apx_cidr_list **l = (struct apx_cidr_list **)(base +
		    k->off);
		size_t bad = 0;

		apx_cidr_list_free(*l);
		free(*l);
		if ((*l = calloc(1, sizeof(**l))) == NULL)
			return fail(p, where, line, k->name, "out of memory");
		if ((rc = apx_cidr_list_parse(value, *l, &bad)) != 0)
			return fail(p, where, line, k->name, "%s",
			    rc == APX_ETOOBIG ? "too many entries" :
			    rc == APX_ENOMEM ? "out of memory" :
			    "an entry is not an address or network "
			    "(192.0.2.0/24, 2001:db8::/32) without host bits");
		return 0;
	}
	case K_NAMES: {
		struct apx_strlist *l = (struct apx_strlist *)(base + k->off);

		free_list(l);
		if ((rc = parse_list(value, l)) != 0)
			return fail(p, where, line, k->name, "%s",
			    rc == APX_ETOOBIG ? "too many entries" :
			    "out of memory");
		for (i = 0; i < l->n; i++)
			if (!valid_name(l->v[i]))
				return fail(p, where, line, k->name,
				    "entry %zu is not a name ([a-z][a-z0-9-], "
				    "at most 32)", i + 1);
		if (l->n == 0)
			return fail(p, where, line, k->name,
			    "name at least one");
		return 0;
	}
	case K_ORIGINS:
	case K_CONTACTS: {
		struct apx_strlist *l = (struct apx_strlist *)(base + k->off);

		if ((rc = parse_list(value, l)) != 0)
			return fail(p, where, line, k->name, "%s",
			    rc == APX_ETOOBIG ? "too many entries" :
			    "out of memory");
		for (i = 0; i < l->n; i++) {
			if (k->type == K_ORIGINS && !valid_origin(l->v[i]))
				return fail(p, where, line, k->name,
				    "entry %zu is not an origin "
				    "(scheme://host[:port])", i + 1);
			if (k->type == K_CONTACTS && !valid_contact(l->v[i]))
				return fail(p, where, line, k->name,
				    "entry %zu is not a mailto:, tel: or "
				    "https: URI", i + 1);
		}
		return 0;
	}
	case K_IDENT: {
		const char *s;

		if (!((value[0] >= 'a' && value[0] <= 'z') || value[0] == '_') ||
		    strlen(value) > 63)
			return fail(p, where, line, k->name,
			    "must be a lower-case SQL identifier");
		for (s = value; *s != '\0'; s++)
			if (!((*s >= 'a' && *s <= 'z') || *s == '_' ||
			    (*s >= '0' && *s <= '9')))
				return fail(p, where, line, k->name,
				    "must be a lower-case SQL identifier");
		goto string;
	}
	case K_PATH:
		if (value[0] != '/')
			return fail(p, where, line, k->name,
			    "must be an absolute path");
		goto string;
	case K_ORIGIN:
		if (!valid_origin(value))
			return fail(p, where, line, k->name,
			    "must be an origin (scheme://host[:port])");
		goto string;
	case K_URL:
		if (!valid_url(value))
			return fail(p, where, line, k->name,
			    "must be an https:// URL");
		goto string;
	case K_STRING:
	string: {
		char **sp = (char **)(base + k->off);

		if (!printable(value))
			return fail(p, where, line, k->name,
			    "contains control characters");
		free(*sp);
		if ((*sp = strdup(value)) == NULL)
			return fail(p, where, line, k->name, "out of memory");
		return 0;
	}
	}
	return fail(p, where, line, k->name, "unknown type");
}

int
apx_conf_env_name(const char *key, char *buf, size_t len)
{
	size_t i, o;

	if (len < 5)
		return APX_ETOOBIG;
	memcpy(buf, "APX_", 4);
	for (i = 0, o = 4; key[i] != '\0'; i++, o++) {
		if (o + 1 >= len)
			return APX_ETOOBIG;
		buf[o] = key[i] == '.' ? '_' :
		    (char)toupper((unsigned char)key[i]);
	}
	buf[o] = '\0';
	return 0;
}

int
apx_conf_parse(const char *name, const char *text, size_t len, int use_env,
    struct apx_conf **out, char *err, size_t errlen)
{
	struct parse p;
	struct apx_conf *c;
	const char *line, *end, *eol;
	char buf[MAX_LINE + 1], envname[64];
	size_t lineno = 0, i, idx;
	int rc;

	memset(&p, 0, sizeof(p));
	p.file = name;
	p.err = err;
	p.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return APX_ENOMEM;
	if ((c->path = strdup(name)) == NULL) {
		rc = APX_ENOMEM;
		goto fail;
	}

	/* Defaults first. */
	for (i = 0; i < APX_NELEM(keys); i++) {
		if (keys[i].def == NULL)
			continue;
		if ((rc = set_value(&p, c, &keys[i], "default", keys[i].def,
		    0)) != 0)
			goto fail;
	}

	for (line = text, end = text + len; line < end; line = eol + 1) {
		const char *k0, *k1, *v0, *v1;
		const struct key *k;

		lineno++;
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		if ((size_t)(eol - line) > MAX_LINE) {
			rc = fail(&p, name, lineno, "?", "line too long");
			goto fail;
		}
		if (memchr(line, '\0', (size_t)(eol - line)) != NULL) {
			rc = fail(&p, name, lineno, "?", "NUL byte in line");
			goto fail;
		}
		k0 = line;
		v1 = eol;
		while (k0 < v1 && isspace((unsigned char)*k0))
			k0++;
		while (v1 > k0 && isspace((unsigned char)v1[-1]))
			v1--;
		if (k0 == v1 || *k0 == '#')
			continue;
		for (k1 = k0; k1 < v1 && *k1 != '=' && !isspace((unsigned char)*k1);
		    k1++)
			;
		memcpy(buf, k0, (size_t)(k1 - k0));
		buf[k1 - k0] = '\0';
		for (v0 = k1; v0 < v1 && isspace((unsigned char)*v0); v0++)
			;
		if (v0 == v1 || *v0 != '=') {
			rc = fail(&p, name, lineno, buf,
			    "expected 'key = value'");
			goto fail;
		}
		for (v0++; v0 < v1 && isspace((unsigned char)*v0); v0++)
			;
		if ((k = find_key(buf, &idx)) == NULL) {
			char key[MAX_LINE + 1];

			memcpy(key, buf, (size_t)(k1 - k0) + 1);
			memcpy(buf, v0, (size_t)(v1 - v0));
			buf[v1 - v0] = '\0';
			rc = buf[0] == '\0' ? fail(&p, name, lineno, key,
			    "empty value") : set_region(&p, c, key, buf, name,
			    lineno);
			if (rc == APX_ENOTFOUND)
				rc = set_connector(&p, c, key, buf, name,
				    lineno);
			apx_wipe(buf, sizeof(buf));
			if (rc == APX_ENOTFOUND)
				rc = fail(&p, name, lineno, key, "unknown key");
			if (rc != 0)
				goto fail;
			continue;
		}
		if (p.seen[idx]) {
			rc = fail(&p, name, lineno, buf, "set twice");
			goto fail;
		}
		p.seen[idx] = 1;
		p.line[idx] = lineno;
		memcpy(buf, v0, (size_t)(v1 - v0));
		buf[v1 - v0] = '\0';
		if (buf[0] == '\0') {
			rc = fail(&p, name, lineno, k->name, "empty value");
			goto fail;
		}
		rc = set_value(&p, c, k, name, buf, lineno);
		apx_wipe(buf, sizeof(buf));
		if (rc != 0)
			goto fail;
	}

	if (use_env) {
		for (i = 0; i < APX_NELEM(keys); i++) {
			const char *v;
			char where[96];

			if (apx_conf_env_name(keys[i].name, envname,
			    sizeof(envname)) != 0)
				continue;
			if ((v = getenv(envname)) == NULL)
				continue;
			snprintf(where, sizeof(where), "environment %s",
			    envname);
			if (*v == '\0') {
				rc = fail(&p, where, 0, keys[i].name,
				    "empty value");
				goto fail;
			}
			if ((rc = set_value(&p, c, &keys[i], where, v, 0)) != 0)
				goto fail;
			p.seen[i] = 1;
			p.from_env[i] = 1;
			p.line[i] = 0;
		}
	}

	for (i = 0; i < APX_NELEM(keys); i++) {
		if ((keys[i].flags & F_REQUIRED) && !p.seen[i]) {
			(void)apx_conf_env_name(keys[i].name, envname,
			    sizeof(envname));
			rc = fail(&p, name, 0, keys[i].name,
			    "required but not set (set it in %s or as %s)",
			    name, envname);
			goto fail;
		}
	}
	if (find_key("security.expires", &idx) != NULL &&
	    c->sec_expires <= apx_unix_now()) {
		char where[96];

		if (p.from_env[idx])
			snprintf(where, sizeof(where), "environment %s",
			    "APX_SECURITY_EXPIRES");
		else
			snprintf(where, sizeof(where), "%s", name);
		rc = fail(&p, where, p.from_env[idx] ? 0 : p.line[idx],
		    "security.expires",
		    "is in the past: security.txt must not be stale "
		    "(RFC 9116 section 2.5.5)");
		goto fail;
	}
	if (use_env && (rc = regions_env(&p, c)) != 0)
		goto fail;
	if (find_key("org.regions", &idx) != NULL &&
	    (rc = regions_check(&p, c, p.seen[idx])) != 0)
		goto fail;
	if ((rc = derive(&p, c)) != 0)
		goto fail;
	if (c->db_admin_conninfo == NULL &&
	    (c->db_admin_conninfo = apx_secret_dup(c->db_conninfo)) == NULL) {
		rc = APX_ENOMEM;
		goto fail;
	}
	if ((c->origin = calloc(1, sizeof(*c->origin))) == NULL) {
		rc = APX_ENOMEM;
		goto fail;
	}
	memcpy(c->origin->line, p.line, sizeof(p.line));
	memcpy(c->origin->env, p.from_env, sizeof(p.from_env));
	*out = c;
	return 0;
fail:
	apx_conf_free(c);
	return rc;
}

int
apx_conf_load(const char *path, struct apx_conf **out, char *err,
    size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (path == NULL)
		return apx_conf_parse("(no file)", "", 0, 1, out, err, errlen);
	if ((rc = read_file(path, MAX_FILE, &text, &len)) != 0) {
		snprintf(err, errlen, "%s: cannot read configuration: %s",
		    path, rc == APX_ETOOBIG ? "file too large" :
		    strerror(errno));
		return APX_ECONFIG;
	}
	rc = apx_conf_parse(path, text, len, 1, out, err, errlen);
	apx_wipe(text, len);
	free(text);
	return rc;
}

void
apx_conf_free(struct apx_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	apx_secret_free(c->db_conninfo);
	apx_secret_free(c->db_admin_conninfo);
	free(c->db_app_role);
	free_list(&c->cors_origins);
	free(c->problem_base);
	apx_secret_free(c->internal_secret);
	free_list(&c->sec_contact);
	free(c->sec_policy);
	free(c->sec_languages);
	free(c->sec_canonical);
	free(c->sec_acknowledgments);
	free(c->sec_hiring);
	free(c->sec_encryption);
	free(c->sec_disclosure_terms);
	free(c->jwt_key_dir);
	free(c->jwt_issuer);
	free(c->jwt_audience);
	free(c->public_origin);
	apx_secret_free(c->vault_keys);
	free(c->origin);
	apx_cidr_list_free(c->trusted_proxies);
	free(c->trusted_proxies);
	free_list(&c->org_regions);
	for (i = 0; i < c->nregions; i++)
		apx_secret_free(c->regions[i].conninfo);
	for (i = 0; i < c->nconnector_keys; i++)
		apx_secret_free(c->connector_keys[i].value);
	free(c->plugins_dir);
	free(c->dns_resolver);
	for (i = 0; i < APX_OIDC_PROVIDERS; i++) {
		free(c->oidc[i].client_id);
		apx_secret_free(c->oidc[i].client_secret);
		free(c->oidc[i].discovery_url);
		free(c->oidc[i].issuer);
	}
	free(c->oidc_ms_tenants);
	apx_secret_free(c->saml_sp_key);
	apx_secret_free(c->saml_sp_cert);
	free(c->mail_smtp_url);
	free(c->mail_smtp_user);
	apx_secret_free(c->mail_smtp_password);
	free(c->mail_ca_file);
	free(c->mail_from);
	free(c->mail_from_name);
	free(c->product_name);
	free(c);
}

int
apx_strlist_has(const struct apx_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}
