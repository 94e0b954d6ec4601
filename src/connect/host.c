/*
 * The services a plugin gets (struct apx_host) and the context of a call.
 * Everything a plugin names is scoped here: the org, the connector and
 * the connection come from the context, never from the plugin.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/oauth_state.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"
#include "core/url.h"
#include "http/ctx.h"
#include "store/connect.h"
#include "store/db.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define CX_MEM_MAX	(8u * 1024 * 1024)	/* per context */
#define LOG_LINE_MAX	1024
#define JSON_MAX	(1024 * 1024)
#define SLOT_VALUE_MAX	(16 * 1024)
#define EMIT_MAX	(256 * 1024)
#define REDACTED	"[redacted]"

struct apx_cx_blk {
	struct apx_cx_blk	*next;
	size_t			 len;
	unsigned char		 data[];
};

static void	*h_alloc(struct apx_cx *, size_t);
static char	*h_dup(struct apx_cx *, const char *, size_t);
static char	*h_fmt(struct apx_cx *, const char *, ...) APX_PRINTF(2, 3);
static void	 h_log(struct apx_cx *, int, const char *, ...)
		    APX_PRINTF(3, 4);
static const char *h_config(struct apx_cx *, const char *);
static int	 h_vault_put(struct apx_cx *, const char *, const void *,
		    size_t);
static int	 h_vault_get(struct apx_cx *, const char *, const char **,
		    size_t *);
static int	 h_vault_delete(struct apx_cx *, const char *);
static int	 h_state_create(struct apx_cx *, const char *, const char *,
		    int, const char **);
static int	 h_state_consume(struct apx_cx *, const char *, const char *,
		    const char **);
static int	 h_emit(struct apx_cx *, const char *, const char *);
static int	 h_hmac(const void *, size_t, const void *, size_t,
		    unsigned char[32]);
static int	 h_ct_equal(const void *, size_t, const void *, size_t);
static char	*h_base64(struct apx_cx *, const void *, size_t);
static char	*h_urlencode(struct apx_cx *, const char *);
static const char *h_json_get(struct apx_cx *, const char *, size_t,
		    const char *);
static int64_t	 h_now(void);
static void	 redact(const struct apx_cx *, char *);
static void	 clean_line(char *, size_t, const char *);
static int	 slot_ok(const char *);
static int	 slot_record(struct apx_cx *, const char *, char *, size_t,
		    char *, size_t);
static int	 err_c(int);

const struct apx_host apx_host_table = {
	.size = sizeof(struct apx_host),
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.alloc = h_alloc,
	.dup = h_dup,
	.fmt = h_fmt,
	.log_msg = h_log,
	.config = h_config,
	.vault_put = h_vault_put,
	.vault_get = h_vault_get,
	.vault_delete = h_vault_delete,
	.state_create = h_state_create,
	.state_consume = h_state_consume,
	.http = apx_connect_http,
	.emit = h_emit,
	.hmac_sha256 = h_hmac,
	.ct_equal = h_ct_equal,
	.base64 = h_base64,
	.urlencode = h_urlencode,
	.json_get = h_json_get,
	.now = h_now,
	.json_parse = apx_hd_json_parse,
	.json_at = apx_hd_json_at,
	.json_text = apx_hd_json_text,
	.json_size = apx_hd_json_size,
	.sale = apx_hd_sale,
	.wait = apx_hd_wait,
	.privacy = apx_hd_privacy,
};

/* The host's codes as the ABI's (the same numbers, named twice). */
static int
err_c(int rc)
{
	switch (rc) {
	case 0:
		return APX_C_OK;
	case APX_ENOMEM:
	case APX_EINVAL:
	case APX_ETOOBIG:
	case APX_ENOTFOUND:
	case APX_EIO:
	case APX_EUNAUTH:
		return rc;
	default:
		return APX_C_EIO;
	}
}

int
apx_connect_name_ok(const char *s)
{
	size_t i;

	if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

void
apx_cx_init(struct apx_cx *cx, const struct apx_plugin *pl,
    struct apx_ctx *c, int64_t org, int64_t user, int64_t conn)
{
	struct apx_vault *v = NULL;
	char err[256];

	memset(cx, 0, sizeof(*cx));
	cx->pl = pl;
	cx->c = c;
	cx->org = org;
	cx->user = user;
	cx->conn = conn;
	if (c != NULL) {
		cx->db = c->db;
		cx->conf = c->conf;
		cx->rid = c->req->request_id;
		if (apx_vault_get(c->conf, &v, err, sizeof(err)) != 0)
			v = NULL;
		cx->v = v;
		cx->tenants = c->tenants;
	}
}

void
apx_cx_job(struct apx_cx *cx, const struct apx_plugin *pl,
    const struct apx_conf *conf, struct apx_db *db, struct apx_tenants *t,
    struct apx_vault *v, int64_t org, int64_t conn)
{
	memset(cx, 0, sizeof(*cx));
	cx->pl = pl;
	cx->conf = conf;
	cx->db = db;
	cx->tenants = t;
	cx->v = v;
	cx->org = org;
	cx->conn = conn;
	cx->job = 1;
	cx->rid = "job";
}

void
apx_cx_end(struct apx_cx *cx)
{
	struct apx_cx_blk *b, *n;

	for (b = cx->mem; b != NULL; b = n) {
		n = b->next;
		apx_wipe(b->data, b->len);
		free(b);
	}
	json_decref(cx->settings);
	json_decref(cx->sales);
	json_decref(cx->roots);
	memset(cx, 0, sizeof(*cx));
}

void *
apx_cx_alloc(struct apx_cx *cx, size_t n)
{
	struct apx_cx_blk *b;

	if (cx == NULL || n > CX_MEM_MAX || cx->used + n > CX_MEM_MAX)
		return NULL;
	if ((b = calloc(1, sizeof(*b) + n + 1)) == NULL)
		return NULL;
	b->len = n + 1;
	b->next = cx->mem;
	cx->mem = b;
	cx->used += n;
	return b->data;
}

char *
apx_cx_dup(struct apx_cx *cx, const char *s, size_t n)
{
	size_t len;
	char *d;

	if (s == NULL)
		return NULL;
	for (len = 0; len < n && s[len] != '\0'; len++)
		;
	if ((d = apx_cx_alloc(cx, len)) == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

void
apx_cx_secret(struct apx_cx *cx, const char *s)
{
	size_t i;

	const char *copy;

	/* Short values would redact ordinary words: a secret has 8+. */
	if (s == NULL || strlen(s) < 8)
		return;
	for (i = 0; i < cx->nsecrets; i++)
		if (cx->secrets[i] == s || strcmp(cx->secrets[i], s) == 0)
			return;
	/* A copy in the context: the caller's string may go first. */
	if ((copy = apx_cx_dup(cx, s, strlen(s))) == NULL)
		return;
	if (cx->nsecrets < APX_CX_SECRETS_MAX)
		cx->secrets[cx->nsecrets++] = copy;
	else
		cx->secrets[APX_CX_SECRETS_MAX - 1] = copy;	/* the newest */
}

int
apx_plugin_field(const struct apx_plugin *pl, const char *name)
{
	size_t i;

	for (i = 0; i < pl->d->nfields; i++)
		if (strcmp(pl->d->fields[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void *
h_alloc(struct apx_cx *cx, size_t n)
{
	return apx_cx_alloc(cx, n);
}

static char *
h_dup(struct apx_cx *cx, const char *s, size_t n)
{
	return apx_cx_dup(cx, s, n);
}

static char *
h_fmt(struct apx_cx *cx, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = apx_cx_alloc(cx, (size_t)n)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Every known secret of CX (and every server secret of its plugin) in
 * LINE replaced by REDACTED, in place (LINE has LOG_LINE_MAX bytes). */
static void
redact(const struct apx_cx *cx, char *line)
{
	const char *list[APX_CX_SECRETS_MAX + APX_PLUGIN_FIELDS_MAX];
	char out[LOG_LINE_MAX], *hit;
	size_t n = 0, i, o, sl;

	for (i = 0; i < cx->nsecrets; i++)
		list[n++] = cx->secrets[i];
	for (i = 0; i < cx->pl->d->nfields && i < APX_PLUGIN_FIELDS_MAX; i++)
		if (cx->pl->d->fields[i].type == APX_FIELD_SECRET &&
		    cx->pl->server[i] != NULL)
			list[n++] = apx_secret_str(cx->pl->server[i]);
	for (i = 0; i < n; i++) {
		if ((sl = strlen(list[i])) < 8)
			continue;
		while ((hit = strstr(line, list[i])) != NULL) {
			o = (size_t)(hit - line);
			snprintf(out, sizeof(out), "%.*s%s%s", (int)o, line,
			    REDACTED, hit + sl);
			memcpy(line, out, strlen(out) + 1);
		}
	}
	apx_wipe(out, sizeof(out));
}

/* Printable ASCII and spaces kept, anything else as \xNN: one line that
 * a plugin's text cannot break or forge. */
static void
clean_line(char *out, size_t len, const char *in)
{
	size_t o = 0;

	for (; *in != '\0' && o + 5 < len; in++) {
		unsigned char ch = (unsigned char)*in;

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", ch);
	}
	out[o] = '\0';
}

static void
h_log(struct apx_cx *cx, int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], clean[LOG_LINE_MAX];
	va_list ap;

	if (cx == NULL || fmt == NULL)
		return;
	if (level < APX_C_LOG_ERROR || level > APX_C_LOG_DEBUG)
		level = APX_C_LOG_INFO;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	redact(cx, line);
	clean_line(clean, sizeof(clean), line);
	apx_log_func(level, "connector", "%s rid=%s org=%lld conn=%lld: %s",
	    cx->pl->d->name, cx->rid != NULL ? cx->rid : "-",
	    (long long)cx->org, (long long)cx->conn, clean);
	apx_wipe(line, sizeof(line));
	apx_wipe(clean, sizeof(clean));
}

json_t *
apx_cx_settings(struct apx_cx *cx)
{
	const char *field;
	json_t *raw = NULL, *v, *s;
	unsigned char *sealed, *plain;
	size_t slen, plen;
	char owner[32], purpose[48], rec[48];
	int rc;

	if (cx->settings_loaded)
		return cx->settings;
	cx->settings_loaded = 1;
	if (cx->db == NULL || cx->org <= 0 ||
	    (cx->settings = json_object()) == NULL)
		return NULL;
	if ((rc = apx_csettings_get(cx->db, cx->org, cx->pl->d->name, &raw))
	    != 0 || raw == NULL) {
		apx_log_warn("%s: org %lld settings: %s", cx->pl->d->name,
		    (long long)cx->org, apx_strerror(rc));
		return cx->settings;
	}
	apx_tenant_owner(cx->org, owner, sizeof(owner));
	snprintf(purpose, sizeof(purpose), "connector:%s", cx->pl->d->name);
	json_object_foreach(raw, field, v) {
		if ((s = json_object_get(v, "value")) != NULL) {
			json_object_set(cx->settings, field, s);
			continue;
		}
		s = json_object_get(v, "sealed");
		if (cx->v == NULL || !json_is_string(s) ||
		    apx_db_unhex(json_string_value(s), SLOT_VALUE_MAX, &sealed,
		    &slen) != 0)
			continue;
		snprintf(rec, sizeof(rec), "setting:%s", field);
		rc = apx_vault_open(cx->v, cx->db, owner, purpose, rec, sealed,
		    slen, &plain, &plen);
		free(sealed);
		if (rc != 0) {
			apx_log_warn("%s: org %lld setting %s does not open: %s",
			    cx->pl->d->name, (long long)cx->org, field,
			    apx_strerror(rc));
			continue;
		}
		json_object_set_new(cx->settings, field,
		    json_string((const char *)plain));
		apx_wipe(plain, plen);
		free(plain);
	}
	json_decref(raw);
	return cx->settings;
}

static const char *
h_config(struct apx_cx *cx, const char *name)
{
	const struct apx_connector_field *f;
	const char *s;
	char *d;
	int i;

	if (cx == NULL || name == NULL ||
	    (i = apx_plugin_field(cx->pl, name)) < 0)
		return NULL;
	f = &cx->pl->d->fields[i];
	if (f->scope == APX_FIELD_SERVER)
		return cx->pl->server[i] != NULL ?
		    apx_secret_str(cx->pl->server[i]) : NULL;
	if ((s = json_string_value(json_object_get(apx_cx_settings(cx),
	    name))) == NULL)
		return NULL;
	if ((d = apx_cx_dup(cx, s, strlen(s))) != NULL &&
	    f->type == APX_FIELD_SECRET)
		apx_cx_secret(cx, d);
	return d;
}

static int
slot_ok(const char *s)
{
	return apx_connect_name_ok(s);
}

/* The vault's owner and record of SLOT in the context; the purpose is
 * the connector's (set by the caller). */
static int
slot_record(struct apx_cx *cx, const char *slot, char *owner, size_t olen,
    char *rec, size_t rlen)
{
	if (cx == NULL || cx->db == NULL || cx->org <= 0 || !slot_ok(slot))
		return APX_C_EDENIED;
	if (cx->v == NULL)
		return APX_C_EDENIED;
	apx_tenant_owner(cx->org, owner, olen);
	snprintf(rec, rlen, "slot:%lld:%s", (long long)cx->conn, slot);
	return 0;
}

static int
h_vault_put(struct apx_cx *cx, const char *slot, const void *val, size_t len)
{
	char owner[32], purpose[48], rec[64];
	unsigned char *sealed = NULL;
	size_t slen;
	int rc;

	if ((rc = slot_record(cx, slot, owner, sizeof(owner), rec,
	    sizeof(rec))) != 0)
		return rc;
	if (val == NULL || len > SLOT_VALUE_MAX)
		return APX_C_ETOOBIG;
	snprintf(purpose, sizeof(purpose), "connector:%s", cx->pl->d->name);
	if ((rc = apx_vault_seal(cx->v, cx->db, owner, purpose, rec, val, len,
	    &sealed, &slen)) == 0)
		rc = apx_cslot_put(cx->db, cx->org, cx->pl->d->name, cx->conn,
		    slot, sealed, slen);
	free(sealed);
	return err_c(rc);
}

static int
h_vault_get(struct apx_cx *cx, const char *slot, const char **out,
    size_t *outlen)
{
	char owner[32], purpose[48], rec[64], *d;
	unsigned char *sealed = NULL, *plain = NULL;
	size_t slen, plen = 0;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || (rc = slot_record(cx, slot, owner, sizeof(owner),
	    rec, sizeof(rec))) != 0)
		return APX_C_EDENIED;
	snprintf(purpose, sizeof(purpose), "connector:%s", cx->pl->d->name);
	if ((rc = apx_cslot_get(cx->db, cx->org, cx->pl->d->name, cx->conn,
	    slot, &sealed, &slen)) != 0)
		return err_c(rc);
	rc = apx_vault_open(cx->v, cx->db, owner, purpose, rec, sealed, slen,
	    &plain, &plen);
	free(sealed);
	if (rc != 0)
		return err_c(rc);
	if ((d = apx_cx_alloc(cx, plen)) == NULL) {
		rc = APX_C_ENOMEM;
	} else {
		memcpy(d, plain, plen);
		d[plen] = '\0';
		apx_cx_secret(cx, d);
		*out = d;
		if (outlen != NULL)
			*outlen = plen;
	}
	apx_wipe(plain, plen);
	free(plain);
	return rc;
}

static int
h_vault_delete(struct apx_cx *cx, const char *slot)
{
	char owner[32], rec[64];
	int rc;

	if ((rc = slot_record(cx, slot, owner, sizeof(owner), rec,
	    sizeof(rec))) != 0)
		return rc;
	return err_c(apx_cslot_delete(cx->db, cx->org, cx->pl->d->name,
	    cx->conn, slot));
}

static int
h_state_create(struct apx_cx *cx, const char *purpose, const char *data,
    int ttl, const char **out)
{
	char p[APX_OAUTH_PURPOSE_MAX + 1], st[APX_OAUTH_STATE_LEN + 1];
	int rc;

	if (out == NULL)
		return APX_C_EINVAL;
	*out = NULL;
	if (cx == NULL || cx->db == NULL || cx->browser == NULL ||
	    !apx_connect_name_ok(purpose))
		return APX_C_EDENIED;
	if (ttl < 1 || ttl > APX_OAUTH_TTL_MAX)
		return APX_C_EINVAL;
	snprintf(p, sizeof(p), "connector:%s:%s", cx->pl->d->name, purpose);
	if ((rc = apx_oauth_state_create(cx->db, cx->v, cx->browser, p,
	    cx->org, cx->user, data, ttl, st)) != 0)
		return err_c(rc);
	*out = apx_cx_dup(cx, st, sizeof(st));
	apx_wipe(st, sizeof(st));
	return *out != NULL ? 0 : APX_C_ENOMEM;
}

static int
h_state_consume(struct apx_cx *cx, const char *purpose, const char *state,
    const char **data)
{
	char p[APX_OAUTH_PURPOSE_MAX + 1];
	struct apx_oauth_state s;
	int rc;

	if (data != NULL)
		*data = NULL;
	if (cx == NULL || cx->db == NULL || cx->browser == NULL ||
	    !apx_connect_name_ok(purpose) || state == NULL)
		return APX_C_EDENIED;
	snprintf(p, sizeof(p), "connector:%s:%s", cx->pl->d->name, purpose);
	if ((rc = apx_oauth_state_consume(cx->db, cx->v, cx->browser, p,
	    state, &s)) != 0)
		return rc == APX_EUNAUTH ? APX_C_EDENIED : err_c(rc);
	if (s.org != cx->org) {
		apx_oauth_state_clear(&s);
		return APX_C_EDENIED;
	}
	if (data != NULL && s.data != NULL)
		*data = apx_cx_dup(cx, s.data, strlen(s.data));
	apx_oauth_state_clear(&s);
	return 0;
}

static int
h_emit(struct apx_cx *cx, const char *type, const char *json)
{
	struct apx_db *t;
	json_t *j;
	size_t i;
	int rc;

	if (cx == NULL || cx->tenants == NULL || cx->org <= 0)
		return APX_C_EDENIED;
	if (type == NULL || !(type[0] >= 'a' && type[0] <= 'z') ||
	    strlen(type) > 64 || json == NULL || strlen(json) > EMIT_MAX)
		return APX_C_EINVAL;
	for (i = 1; type[i] != '\0'; i++)
		if (!((type[i] >= 'a' && type[i] <= 'z') || (type[i] >= '0' &&
		    type[i] <= '9') || strchr("_./", type[i]) != NULL))
			return APX_C_EINVAL;
	if ((j = json_loads(json, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return APX_C_EINVAL;
	json_decref(j);
	if ((rc = apx_tenants_db(cx->tenants, cx->org, &t)) != 0)
		return err_c(rc);
	return err_c(apx_cevent_insert(t, cx->pl->d->name, cx->conn, type,
	    json));
}

static int
h_hmac(const void *key, size_t klen, const void *msg, size_t mlen,
    unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;

	if (key == NULL || out == NULL || (msg == NULL && mlen > 0))
		return APX_C_EINVAL;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, msg, mlen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
	return 0;
}

static int
h_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (a == NULL || b == NULL)
		return 0;
	return apx_ct_equal(a, alen, b, blen);
}

static char *
h_base64(struct apx_cx *cx, const void *b, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_ORIGINAL);
	char *s;

	if (b == NULL || (s = apx_cx_alloc(cx, len)) == NULL)
		return NULL;
	sodium_bin2base64(s, len, b, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static char *
h_urlencode(struct apx_cx *cx, const char *s)
{
	size_t n;
	char *d;

	if (s == NULL || (n = strlen(s)) > CX_MEM_MAX / 3 ||
	    (d = apx_cx_alloc(cx, n * 3)) == NULL)
		return NULL;
	(void)apx_url_encode(s, d);
	return d;
}

static const char *
h_json_get(struct apx_cx *cx, const char *text, size_t len, const char *path)
{
	const char *r;
	json_t *root;

	if (cx == NULL || text == NULL || path == NULL || len > JSON_MAX)
		return NULL;
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, NULL)) == NULL)
		return NULL;
	/* The walk of ABI minor 1's json_at and json_text (data.c). */
	r = apx_hd_json_text(cx, (const struct apx_json *)root, path);
	json_decref(root);
	return r;
}

static int64_t
h_now(void)
{
	return apx_unix_now();
}
