/*
 * The plugin host: every .so of plugins.dir is checked and loaded at
 * worker start (a file dropped into the folder is used by the next
 * worker). Each refusal is one log line naming the file, what was found
 * and what was needed; a refused plugin never stops the others.
 */
#include "config.h"

#include <dirent.h>
#include <stddef.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "connect/connect.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"
#include "core/url.h"

#define PLUGINS_MAX	32
/*
 * The descriptor of ABI 1.0 ends with sync: a plugin built for 1.0 is
 * accepted by a host of a later minor; members appended after sync are
 * read only when the plugin's size says it has them.
 */
#define DESCRIPTOR_1_0	(offsetof(struct apx_connector, sync) + \
	sizeof(((struct apx_connector *)0)->sync))

static struct apx_plugin *plugins[PLUGINS_MAX];
static size_t nplugins;
static int curl_ready;

static int	 owner_ok(const struct stat *);
static int	 check_descriptor(const struct apx_connector *, char *, size_t);
static int	 configured(const struct apx_conf *, const char *);
static int	 check_config(const struct apx_conf *, struct apx_plugin *,
		    char *, size_t);
static int	 load_one(const struct apx_conf *, const char *, const char *,
		    char *, size_t, const char **);
static void	 plugin_free(struct apx_plugin *);
static int	 so_file(const struct dirent *);

static int
owner_ok(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) &&
	    (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

static int
so_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 3 &&
	    strcmp(d->d_name + n - 3, ".so") == 0;
}

static void
plugin_free(struct apx_plugin *pl)
{
	size_t i;

	if (pl == NULL)
		return;
	for (i = 0; i < APX_PLUGIN_FIELDS_MAX; i++)
		apx_secret_free(pl->server[i]);
	if (pl->dl != NULL)
		dlclose(pl->dl);
	free(pl);
}

static int
check_descriptor(const struct apx_connector *d, char *why, size_t len)
{
	size_t i, j;

	if (d->magic != APX_CONNECTOR_MAGIC) {
		snprintf(why, len, "magic 0x%08x, need 0x%08x (not an "
		    "AccuPredix connector)", (unsigned)d->magic,
		    (unsigned)APX_CONNECTOR_MAGIC);
		return -1;
	}
	if (d->abi_major != APX_CONNECTOR_ABI_MAJOR) {
		snprintf(why, len, "ABI %u.%u, need major %d (rebuild it "
		    "against this AccuPredix's connector.h)",
		    (unsigned)d->abi_major, (unsigned)d->abi_minor,
		    APX_CONNECTOR_ABI_MAJOR);
		return -1;
	}
	if (d->abi_minor > APX_CONNECTOR_ABI_MINOR) {
		snprintf(why, len, "ABI %u.%u, need %d.%d or older (built for "
		    "a newer AccuPredix)", (unsigned)d->abi_major,
		    (unsigned)d->abi_minor, APX_CONNECTOR_ABI_MAJOR,
		    APX_CONNECTOR_ABI_MINOR);
		return -1;
	}
	if (d->size < DESCRIPTOR_1_0) {
		snprintf(why, len, "descriptor of %zu bytes, need at least %zu "
		    "(ABI %d.0)", d->size, (size_t)DESCRIPTOR_1_0,
		    APX_CONNECTOR_ABI_MAJOR);
		return -1;
	}
	if (!apx_connect_name_ok(d->name)) {
		snprintf(why, len, "name is not [a-z][a-z0-9_]{0,31}");
		return -1;
	}
	if (d->display_name == NULL || d->version == NULL ||
	    d->authorize == NULL || d->exchange == NULL) {
		snprintf(why, len, "display_name, version, authorize and "
		    "exchange are required");
		return -1;
	}
	if (d->nfields > APX_PLUGIN_FIELDS_MAX ||
	    (d->nfields > 0 && d->fields == NULL) ||
	    d->nscopes > APX_PLUGIN_SCOPES_MAX ||
	    (d->nscopes > 0 && d->scopes == NULL)) {
		snprintf(why, len, "more than %d fields or %d scopes",
		    APX_PLUGIN_FIELDS_MAX, APX_PLUGIN_SCOPES_MAX);
		return -1;
	}
	for (i = 0; i < d->nfields; i++) {
		const struct apx_connector_field *f = &d->fields[i];

		if (!apx_connect_name_ok(f->name) || f->type < APX_FIELD_STRING
		    || f->type > APX_FIELD_URL || (f->scope != APX_FIELD_SERVER
		    && f->scope != APX_FIELD_ORG) || (f->type == APX_FIELD_URL
		    && f->scope != APX_FIELD_SERVER)) {
			snprintf(why, len, "field %zu is malformed", i);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(d->fields[j].name, f->name) == 0) {
				snprintf(why, len, "field %s twice", f->name);
				return -1;
			}
	}
	for (i = 0; i < d->nscopes; i++)
		if (d->scopes[i] == NULL || strlen(d->scopes[i]) > 200 ||
		    strpbrk(d->scopes[i], " \t\r\n\"&") != NULL) {
			snprintf(why, len, "scope %zu is malformed", i);
			return -1;
		}
	return 0;
}

/* Is any connectors.NAME.* key set? */
static int
configured(const struct apx_conf *conf, const char *name)
{
	size_t i, nl = strlen(name);

	for (i = 0; i < conf->nconnector_keys; i++)
		if (strncmp(conf->connector_keys[i].key + 11, name, nl) == 0 &&
		    conf->connector_keys[i].key[11 + nl] == '.')
			return 1;
	return 0;
}

/*
 * The SERVER fields' values: set, or defaulted, and well formed. 1: the
 * operator configured nothing for it and it needs something (not offered,
 * not an error).
 */
static int
check_config(const struct apx_conf *conf, struct apx_plugin *pl, char *why,
    size_t len)
{
	const struct apx_connector *d = pl->d;
	const struct apx_secret *s;
	const char *v;
	size_t i, n = 0, line = 0;

	if (!configured(conf, d->name))
		for (i = 0; i < d->nfields; i++)
			if (d->fields[i].scope == APX_FIELD_SERVER &&
			    d->fields[i].required &&
			    d->fields[i].default_value == NULL) {
				snprintf(why, len, "not configured (no "
				    "connectors.%s.* keys; %s is required)",
				    d->name, d->fields[i].name);
				return 1;
			}
	for (i = 0; i < d->nfields; i++) {
		const struct apx_connector_field *f = &d->fields[i];

		if (f->scope != APX_FIELD_SERVER)
			continue;
		if ((s = apx_conf_connector(conf, d->name, f->name, &line)) !=
		    NULL)
			pl->server[i] = apx_secret_dup(s);
		else if (f->default_value != NULL)
			pl->server[i] = apx_secret_new(f->default_value,
			    strlen(f->default_value));
		else if (f->required) {
			snprintf(why, len, "connectors.%s.%s is not set in %s "
			    "(%s)", d->name, f->name, conf->path != NULL ?
			    conf->path : "the configuration", f->description !=
			    NULL ? f->description : "required");
			return -1;
		} else
			continue;
		if (pl->server[i] == NULL) {
			snprintf(why, len, "out of memory");
			return -1;
		}
		v = apx_secret_str(pl->server[i]);
		if (f->type == APX_FIELD_URL && (!apx_url_base_ok(v) ||
		    strchr(v, '}') != strrchr(v, '}'))) {
			snprintf(why, len, "connectors.%s.%s%s%s must be an "
			    "https URL (http only on a loopback address)",
			    d->name, f->name, s != NULL ? " at line " : "",
			    s != NULL ? "" : "");
			return -1;
		}
	}
	/* A key for a field the connector does not have: a typo. */
	for (i = 0; i < conf->nconnector_keys; i++) {
		const char *k = conf->connector_keys[i].key + 11;
		size_t nl = strlen(d->name);

		if (strncmp(k, d->name, nl) != 0 || k[nl] != '.')
			continue;
		if (apx_plugin_field(pl, k + nl + 1) < 0 ||
		    d->fields[apx_plugin_field(pl, k + nl + 1)].scope !=
		    APX_FIELD_SERVER)
			apx_log_warn("%s:%zu: key '%s': connector %s has no "
			    "such server field (ignored)", conf->path,
			    conf->connector_keys[i].line,
			    conf->connector_keys[i].key, d->name);
		n++;
	}
	(void)n;
	for (i = 0; i < d->nscopes; i++) {
		size_t at = strlen(pl->scope);

		snprintf(pl->scope + at, sizeof(pl->scope) - at, "%s%s",
		    i > 0 ? " " : "", d->scopes[i]);
	}
	return 0;
}

/*
 * Load DIR/NAME: 0 loaded, -1 refused with WHY, 1 not configured (WHY);
 * *PNAME the connector's name when it got that far.
 */
static int
load_one(const struct apx_conf *conf, const char *dir, const char *name,
    char *why, size_t len, const char **pname)
{
	struct apx_plugin *pl = NULL;
	apx_connector_entry_fn entry;
	struct apx_cx cx;
	struct stat st;
	void *sym;
	size_t i;
	int rc, skip = 0;

	*pname = NULL;
	if (nplugins == PLUGINS_MAX) {
		snprintf(why, len, "more than %d plugins", PLUGINS_MAX);
		return -1;
	}
	if ((pl = calloc(1, sizeof(*pl))) == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if ((size_t)snprintf(pl->file, sizeof(pl->file), "%s/%s", dir, name)
	    >= sizeof(pl->file)) {
		snprintf(why, len, "path too long");
		goto refuse;
	}
	if (lstat(pl->file, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "not a regular file");
		goto refuse;
	}
	if (!owner_ok(&st)) {
		snprintf(why, len, "owned by uid %u with mode %04o, need owner "
		    "root or uid %u and not writable by group or others",
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		    (unsigned)geteuid());
		goto refuse;
	}
	if ((pl->dl = dlopen(pl->file, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		const char *e = dlerror();

		snprintf(why, len, "dlopen failed, need a shared object: %s",
		    e != NULL ? e : "?");
		goto refuse;
	}
	(void)dlerror();
	sym = dlsym(pl->dl, APX_CONNECTOR_ENTRY);
	if (sym == NULL) {
		snprintf(why, len, "no symbol %s, need it to return the "
		    "descriptor", APX_CONNECTOR_ENTRY);
		goto refuse;
	}
	/* POSIX: a data pointer from dlsym may be a function's. */
	memcpy(&entry, &sym, sizeof(entry));
	if ((pl->d = entry()) == NULL) {
		snprintf(why, len, "%s returned NULL", APX_CONNECTOR_ENTRY);
		goto refuse;
	}
	if (check_descriptor(pl->d, why, len) != 0)
		goto refuse;
	*pname = pl->d->name;
	for (i = 0; i < nplugins; i++)
		if (strcmp(plugins[i]->d->name, pl->d->name) == 0) {
			snprintf(why, len, "connector name '%s' is already "
			    "taken by %s, need a unique name", pl->d->name,
			    plugins[i]->file);
			goto refuse;
		}
	if ((rc = check_config(conf, pl, why, len)) != 0) {
		skip = rc > 0;
		goto refuse;
	}
	if (pl->d->init != NULL) {
		apx_cx_init(&cx, pl, NULL, 0, 0, 0);
		cx.conf = conf;
		rc = pl->d->init(&apx_host_table, &cx);
		apx_cx_end(&cx);
		if (rc != 0) {
			snprintf(why, len, "its init failed (%d), need 0", rc);
			goto refuse;
		}
	}
	pl->initialised = 1;
	plugins[nplugins++] = pl;
	return 0;
refuse:
	if (*pname != NULL) {
		static char keep[33];

		/* The name outlives the dlclose below. */
		snprintf(keep, sizeof(keep), "%s", *pname);
		*pname = keep;
	}
	plugin_free(pl);
	return skip ? 1 : -1;
}

int
apx_connect_load(const struct apx_conf *conf, size_t *loaded,
    size_t *refused, json_t *report)
{
	struct dirent **ents = NULL;
	struct stat st;
	char why[512];
	const char *name;
	int n, i;

	*loaded = *refused = 0;
	apx_connect_unload();
	if (conf->plugins_dir == NULL)
		return 0;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			apx_log_error("libcurl failed to initialise: no "
			    "connectors");
			return APX_EIO;
		}
		curl_ready = 1;
	}
	if (stat(conf->plugins_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		apx_log_error("plugins.dir %s: not a directory (%s): no "
		    "connectors", conf->plugins_dir, strerror(errno));
		return APX_EIO;
	}
	if (!owner_ok(&st)) {
		apx_log_error("plugins.dir %s: owned by uid %u with mode %04o, "
		    "need owner root or uid %u and not writable by group or "
		    "others: no connectors", conf->plugins_dir,
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		    (unsigned)geteuid());
		return APX_EIO;
	}
	if ((n = scandir(conf->plugins_dir, &ents, so_file, alphasort)) < 0) {
		apx_log_error("plugins.dir %s: %s", conf->plugins_dir,
		    strerror(errno));
		return APX_EIO;
	}
	for (i = 0; i < n; i++) {
		json_t *r = NULL;
		int rc;

		rc = load_one(conf, conf->plugins_dir, ents[i]->d_name, why,
		    sizeof(why), &name);
		if (rc > 0) {
			apx_log_info("plugin %s/%s not loaded: %s",
			    conf->plugins_dir, ents[i]->d_name, why);
			if (report != NULL)
				r = json_pack("{s:s, s:s?, s:s, s:s}", "file",
				    ents[i]->d_name, "name", name, "status",
				    "not configured", "reason", why);
		} else if (rc == 0) {
			(*loaded)++;
			apx_log_debug("connector %s %s loaded from %s/%s",
			    plugins[nplugins - 1]->d->name,
			    plugins[nplugins - 1]->d->version,
			    conf->plugins_dir, ents[i]->d_name);
			if (report != NULL)
				r = json_pack("{s:s, s:s, s:s}", "file",
				    ents[i]->d_name, "name",
				    plugins[nplugins - 1]->d->name, "status",
				    "loaded");
		} else {
			(*refused)++;
			apx_log_error("plugin %s/%s refused: %s",
			    conf->plugins_dir, ents[i]->d_name, why);
			if (report != NULL)
				r = json_pack("{s:s, s:s?, s:s, s:s}", "file",
				    ents[i]->d_name, "name", name, "status",
				    "refused", "reason", why);
		}
		if (r != NULL)
			json_array_append_new(report, r);
		free(ents[i]);
	}
	free(ents);
	return 0;
}

void
apx_connect_unload(void)
{
	size_t i;

	for (i = 0; i < nplugins; i++) {
		if (plugins[i]->initialised && plugins[i]->d->fini != NULL)
			plugins[i]->d->fini();
		plugin_free(plugins[i]);
		plugins[i] = NULL;
	}
	nplugins = 0;
}

size_t
apx_connect_count(void)
{
	return nplugins;
}

const struct apx_plugin *
apx_connect_at(size_t i)
{
	return i < nplugins ? plugins[i] : NULL;
}

const struct apx_plugin *
apx_connect_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < nplugins; i++)
		if (strcmp(plugins[i]->d->name, name) == 0)
			return plugins[i];
	return NULL;
}

json_t *
apx_connect_describe(void)
{
	static const char *const types[] = { "", "string", "secret", "url" };
	json_t *list, *fields, *scopes, *o;
	size_t i, j;

	if ((list = json_array()) == NULL)
		return NULL;
	for (i = 0; i < nplugins; i++) {
		const struct apx_connector *d = plugins[i]->d;

		fields = json_array();
		scopes = json_array();
		for (j = 0; j < d->nfields; j++) {
			const struct apx_connector_field *f = &d->fields[j];

			/* Only what an org sets: the server's are the
			 * operator's business. */
			if (f->scope != APX_FIELD_ORG)
				continue;
			json_array_append_new(fields, json_pack("{s:s, s:s, "
			    "s:b, s:b, s:s?, s:I}", "name", f->name, "type",
			    types[f->type], "required", f->required, "secret",
			    f->type == APX_FIELD_SECRET, "description",
			    f->description, "max_length", (json_int_t)(
			    f->max_len > 0 ? f->max_len : 256)));
		}
		for (j = 0; j < d->nscopes; j++)
			json_array_append_new(scopes, json_string(d->scopes[j]));
		o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "name",
		    d->name, "display_name", d->display_name, "version",
		    d->version, "scopes", scopes, "config", fields, "pkce",
		    d->pkce != 0);
		if (o != NULL)
			json_array_append_new(list, o);
	}
	return json_pack("{s:o}", "connectors", list);
}
