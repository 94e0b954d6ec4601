/*
 * A mock connector host (see mock_host.h): simple, deterministic and
 * self-contained implementations of every member of struct apx_host.
 * Crypto is libsodium's and JSON is jansson's, on purpose not the code
 * the fuzz target uses to compute what it expects. JSON is read as the
 * host reads it (src/connect/host.c h_json_get, src/connect/data.c):
 * duplicate members refused, any value at the top, the same caps.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "mock_host.h"

#define CX_MAX		(16u * 1024 * 1024)	/* bytes a context may hold */
#define JSON_MAX	(1024u * 1024)		/* json_get: host.c's cap */
#define PARSE_MAX	(2u * 1024 * 1024)	/* json_parse: data.c's cap */
#define ROOTS_MAX	64			/* json_parse texts a context */
#define SEG_MAX		128			/* a path segment and NUL */
#define INDEX_MAX	1000000			/* an array index in a path */
#define SALES_MAX	10000			/* records per context */
#define WAIT_MAX_MS	60000
#define SUBJECT_MAX	4096
#define CONFIG_MAX	16

struct chunk {
	struct chunk	*next;
	size_t		 size;
	/* the caller's bytes follow at CHUNK_HDR, max_align_t aligned */
};
#define CHUNK_HDR	((sizeof(struct chunk) + _Alignof(max_align_t) - 1) / \
			    _Alignof(max_align_t) * _Alignof(max_align_t))

/* The ABI keeps this opaque: the mock's is a list of allocations and
 * the JSON documents of json_parse. */
struct apx_cx {
	struct chunk	*head;
	size_t		 used;
	json_t		*roots;
};

struct config_ent {
	char	*name;
	char	*value;
};

static struct apx_cx		 the_cx;
static struct config_ent	 config_tab[CONFIG_MAX];
static unsigned			 http_calls;
static char			 http_url[MOCK_URL_MAX];
static char			 http_method[16];
static int			 in_job;
static struct mock_counts	 counts;
static char			*privacy_subject;
/* json_get parses the same text again and again (a lookup budget of
 * thousands per delivery): the last text and its tree are kept. */
static char			*jg_text;
static size_t			 jg_len;
static json_t			*jg_root;

static void	*m_alloc(struct apx_cx *, size_t);
static char	*m_dup(struct apx_cx *, const char *, size_t);
static char	*m_fmt(struct apx_cx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 m_log_msg(struct apx_cx *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static const char *m_config(struct apx_cx *, const char *);
static int	 m_vault_put(struct apx_cx *, const char *, const void *,
		    size_t);
static int	 m_vault_get(struct apx_cx *, const char *, const char **,
		    size_t *);
static int	 m_vault_delete(struct apx_cx *, const char *);
static int	 m_state_create(struct apx_cx *, const char *, const char *,
		    int, const char **);
static int	 m_state_consume(struct apx_cx *, const char *, const char *,
		    const char **);
static int	 m_http(struct apx_cx *, const struct apx_http_request *,
		    struct apx_http_response *);
static int	 m_emit(struct apx_cx *, const char *, const char *);
static int	 m_hmac_sha256(const void *, size_t, const void *, size_t,
		    unsigned char[32]);
static int	 m_ct_equal(const void *, size_t, const void *, size_t);
static char	*m_base64(struct apx_cx *, const void *, size_t);
static char	*m_urlencode(struct apx_cx *, const char *);
static const char *m_json_get(struct apx_cx *, const char *, size_t,
		    const char *);
static int64_t	 m_now(void);
static const struct apx_json *m_json_parse(struct apx_cx *, const char *,
		    size_t);
static const struct apx_json *m_json_at(const struct apx_json *,
		    const char *);
static const char *m_json_text(struct apx_cx *, const struct apx_json *,
		    const char *);
static size_t	 m_json_size(const struct apx_json *);
static int	 m_sale(struct apx_cx *, const struct apx_sale *);
static int	 m_wait(struct apx_cx *, int64_t);
static int	 m_privacy(struct apx_cx *, int, const char *);

static json_t	*walk(json_t *, const char *);
static const char *scalar_text(struct apx_cx *, const json_t *);
static int	 printable(const char *, size_t);
static int	 decimal_ok(const char *);
static int	 date_ok(const char *);

static const struct apx_host host = {
	.size = sizeof(struct apx_host),
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.alloc = m_alloc,
	.dup = m_dup,
	.fmt = m_fmt,
	.log_msg = m_log_msg,
	.config = m_config,
	.vault_put = m_vault_put,
	.vault_get = m_vault_get,
	.vault_delete = m_vault_delete,
	.state_create = m_state_create,
	.state_consume = m_state_consume,
	.http = m_http,
	.emit = m_emit,
	.hmac_sha256 = m_hmac_sha256,
	.ct_equal = m_ct_equal,
	.base64 = m_base64,
	.urlencode = m_urlencode,
	.json_get = m_json_get,
	.now = m_now,
	.json_parse = m_json_parse,
	.json_at = m_json_at,
	.json_text = m_json_text,
	.json_size = m_json_size,
	.sale = m_sale,
	.wait = m_wait,
	.privacy = m_privacy,
};

const struct apx_host *
mock_host(void)
{
	static int done;

	if (!done) {
		if (sodium_init() < 0)
			abort();
		done = 1;
	}
	return &host;
}

struct apx_cx *
mock_cx(void)
{
	return &the_cx;
}

void
mock_cx_reset(struct apx_cx *cx)
{
	struct chunk *c, *next;

	for (c = cx->head; c != NULL; c = next) {
		next = c->next;
		/* as the host wipes */
		sodium_memzero((unsigned char *)c + CHUNK_HDR, c->size);
		free(c);
	}
	cx->head = NULL;
	cx->used = 0;
	json_decref(cx->roots);
	cx->roots = NULL;
	json_decref(jg_root);
	jg_root = NULL;
	free(jg_text);
	jg_text = NULL;
	jg_len = 0;
}

void
mock_config_set(const char *name, const char *value)
{
	size_t i, slot = CONFIG_MAX;

	for (i = 0; i < CONFIG_MAX; i++) {
		if (config_tab[i].name != NULL &&
		    strcmp(config_tab[i].name, name) == 0) {
			slot = i;
			break;
		}
		if (config_tab[i].name == NULL && slot == CONFIG_MAX)
			slot = i;
	}
	if (slot == CONFIG_MAX)
		abort();
	free(config_tab[slot].name);
	free(config_tab[slot].value);
	config_tab[slot].name = NULL;
	config_tab[slot].value = NULL;
	if (value == NULL)
		return;
	if ((config_tab[slot].name = strdup(name)) == NULL ||
	    (config_tab[slot].value = strdup(value)) == NULL)
		abort();
}

void
mock_config_clear(void)
{
	size_t i;

	for (i = 0; i < CONFIG_MAX; i++) {
		free(config_tab[i].name);
		free(config_tab[i].value);
		config_tab[i].name = NULL;
		config_tab[i].value = NULL;
	}
}

void
mock_http_reset(void)
{
	http_calls = 0;
	http_url[0] = '\0';
	http_method[0] = '\0';
}

unsigned
mock_http_calls(void)
{
	return http_calls;
}

const char *
mock_http_last_url(void)
{
	return http_url;
}

const char *
mock_http_last_method(void)
{
	return http_method;
}

void
mock_job_set(int job)
{
	in_job = job != 0;
}

void
mock_counts_reset(void)
{
	memset(&counts, 0, sizeof(counts));
	free(privacy_subject);
	privacy_subject = NULL;
}

const struct mock_counts *
mock_counts(void)
{
	return &counts;
}

const char *
mock_privacy_subject(void)
{
	return privacy_subject;
}

/* ------------------------------------------------------------ memory */

static void *
m_alloc(struct apx_cx *cx, size_t n)
{
	struct chunk *c;

	if (cx == NULL || n > CX_MAX || cx->used + n > CX_MAX)
		return NULL;
	if ((c = malloc(CHUNK_HDR + (n == 0 ? 1 : n))) == NULL)
		return NULL;
	c->size = n;
	c->next = cx->head;
	cx->head = c;
	cx->used += n;
	return (unsigned char *)c + CHUNK_HDR;
}

static char *
m_dup(struct apx_cx *cx, const char *s, size_t n)
{
	char *d;

	if (s == NULL)
		return NULL;
	n = strnlen(s, n);
	if ((d = m_alloc(cx, n + 1)) == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *
m_fmt(struct apx_cx *cx, const char *f, ...)
{
	va_list ap;
	char *d;
	int n;

	va_start(ap, f);
	n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	if (n < 0 || (d = m_alloc(cx, (size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, f);
	(void)vsnprintf(d, (size_t)n + 1, f, ap);
	va_end(ap);
	return d;
}

/* Formatted (so that a bad argument shows under ASan) and discarded. */
static void
m_log_msg(struct apx_cx *cx, int level, const char *f, ...)
{
	va_list ap;
	char line[512];

	(void)cx;
	(void)level;
	va_start(ap, f);
	(void)vsnprintf(line, sizeof(line), f, ap);
	va_end(ap);
}

static const char *
m_config(struct apx_cx *cx, const char *name)
{
	size_t i;

	(void)cx;
	if (name == NULL)
		return NULL;
	for (i = 0; i < CONFIG_MAX; i++)
		if (config_tab[i].name != NULL &&
		    strcmp(config_tab[i].name, name) == 0)
			return config_tab[i].value;
	return NULL;
}

/* ------------------------------------------------ vault and state */

static int
m_vault_put(struct apx_cx *cx, const char *slot, const void *v, size_t n)
{
	(void)cx;
	(void)slot;
	(void)v;
	(void)n;
	return APX_C_EDENIED;
}

static int
m_vault_get(struct apx_cx *cx, const char *slot, const char **v, size_t *n)
{
	(void)cx;
	(void)slot;
	if (v != NULL)
		*v = NULL;
	if (n != NULL)
		*n = 0;
	return APX_C_EDENIED;
}

static int
m_vault_delete(struct apx_cx *cx, const char *slot)
{
	(void)cx;
	(void)slot;
	return APX_C_EDENIED;
}

static int
m_state_create(struct apx_cx *cx, const char *purpose, const char *data,
    int ttl, const char **state)
{
	(void)cx;
	(void)purpose;
	(void)data;
	(void)ttl;
	if (state != NULL)
		*state = NULL;
	return APX_C_EDENIED;
}

static int
m_state_consume(struct apx_cx *cx, const char *purpose, const char *state,
    const char **data)
{
	(void)cx;
	(void)purpose;
	(void)state;
	if (data != NULL)
		*data = NULL;
	return APX_C_EDENIED;
}

/* ------------------------------------------------------- http, emit */

static int
m_http(struct apx_cx *cx, const struct apx_http_request *req,
    struct apx_http_response *resp)
{
	static const char body[] = MOCK_HTTP_BODY;
	char *b;

	http_calls++;
	memset(resp, 0, sizeof(*resp));
	if (req == NULL || req->url == NULL || req->method == NULL)
		return APX_C_EINVAL;
	snprintf(http_url, sizeof(http_url), "%s", req->url);
	snprintf(http_method, sizeof(http_method), "%s", req->method);
	if (req->body_len > 0 && req->body == NULL)
		return APX_C_EINVAL;
	if ((b = m_dup(cx, body, sizeof(body) - 1)) == NULL)
		return APX_C_ENOMEM;
	resp->status = 200;
	resp->body = b;
	resp->body_len = sizeof(body) - 1;
	resp->content_type = "application/json";
	return 0;
}

static int
m_emit(struct apx_cx *cx, const char *type, const char *json)
{
	(void)cx;
	(void)type;
	(void)json;
	return 0;
}

/* ------------------------------------------------------------ crypto */

static int
m_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
    unsigned char out[32])
{
	crypto_auth_hmacsha256_state st;

	if ((key == NULL && klen > 0) || (msg == NULL && mlen > 0))
		return APX_C_EINVAL;
	if (crypto_auth_hmacsha256_init(&st, key, klen) != 0 ||
	    crypto_auth_hmacsha256_update(&st, msg, mlen) != 0 ||
	    crypto_auth_hmacsha256_final(&st, out) != 0)
		return APX_C_EINVAL;
	sodium_memzero(&st, sizeof(st));
	return 0;
}

static int
m_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen || (alen > 0 && (a == NULL || b == NULL)))
		return 0;
	if (alen == 0)
		return 1;
	return sodium_memcmp(a, b, alen) == 0;
}

static char *
m_base64(struct apx_cx *cx, const void *p, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_ORIGINAL);
	char *d;

	if (p == NULL && n > 0)
		return NULL;
	if ((d = m_alloc(cx, len)) == NULL)
		return NULL;
	return sodium_bin2base64(d, len, p, n, sodium_base64_VARIANT_ORIGINAL);
}

static char *
m_urlencode(struct apx_cx *cx, const char *s)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t i, o = 0, n;
	char *d;
	unsigned char c;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	if (n > (CX_MAX - 1) / 3 || (d = m_alloc(cx, 3 * n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			d[o++] = (char)c;
		else {
			d[o++] = '%';
			d[o++] = hexd[c >> 4];
			d[o++] = hexd[c & 0x0f];
		}
	}
	d[o] = '\0';
	return d;
}

/* ------------------------------------------------------------- json */

/* The value at PATH under V ("a.b.0"; "" is V), as host.c walks it. */
static json_t *
walk(json_t *v, const char *path)
{
	const char *p, *e;
	char seg[SEG_MAX], *end;
	unsigned long idx;
	size_t n;

	if (path == NULL)
		return NULL;
	for (p = path; v != NULL && *p != '\0'; p = *e == '.' ? e + 1 : e) {
		if ((e = strchr(p, '.')) == NULL)
			e = p + strlen(p);
		if ((n = (size_t)(e - p)) == 0 || n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (json_is_array(v) && seg[0] >= '0' && seg[0] <= '9' &&
		    (idx = strtoul(seg, &end, 10)) <= INDEX_MAX && *end == '\0')
			v = json_array_get(v, idx);
		else if (json_is_object(v))
			v = json_object_get(v, seg);
		else
			v = NULL;
	}
	return v;
}

/* A string, number or boolean as text in the context, else NULL. */
static const char *
scalar_text(struct apx_cx *cx, const json_t *v)
{
	if (json_is_string(v))
		return m_dup(cx, json_string_value(v), json_string_length(v));
	if (json_is_integer(v))
		return m_fmt(cx, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	if (json_is_real(v))
		return m_fmt(cx, "%.17g", json_real_value(v));
	if (json_is_boolean(v))
		return m_dup(cx, json_is_true(v) ? "true" : "false", 5);
	return NULL;
}

static const char *
m_json_get(struct apx_cx *cx, const char *text, size_t len, const char *path)
{
	json_t *root;

	if (cx == NULL || text == NULL || path == NULL || len > JSON_MAX)
		return NULL;
	if (jg_root == NULL || jg_len != len ||
	    memcmp(jg_text, text, len) != 0) {
		json_decref(jg_root);
		free(jg_text);
		jg_root = NULL;
		jg_len = 0;
		if ((jg_text = malloc(len + 1)) == NULL)
			return NULL;
		memcpy(jg_text, text, len);
		if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES |
		    JSON_DECODE_ANY, NULL)) == NULL) {
			free(jg_text);
			jg_text = NULL;
			return NULL;
		}
		jg_root = root;
		jg_len = len;
	}
	return scalar_text(cx, walk(jg_root, path));
}

static const struct apx_json *
m_json_parse(struct apx_cx *cx, const char *text, size_t len)
{
	json_t *root;

	counts.json_parses++;
	if (cx == NULL || text == NULL || len > PARSE_MAX)
		return NULL;
	if (cx->roots == NULL && (cx->roots = json_array()) == NULL)
		return NULL;
	if (json_array_size(cx->roots) >= ROOTS_MAX)
		return NULL;
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, NULL)) == NULL)
		return NULL;
	if (json_array_append_new(cx->roots, root) != 0)
		return NULL;
	return (const struct apx_json *)root;
}

static const struct apx_json *
m_json_at(const struct apx_json *node, const char *path)
{
	if (node == NULL)
		return NULL;
	return (const struct apx_json *)walk((json_t *)(uintptr_t)node, path);
}

static const char *
m_json_text(struct apx_cx *cx, const struct apx_json *node, const char *path)
{
	if (cx == NULL || node == NULL)
		return NULL;
	return scalar_text(cx, walk((json_t *)(uintptr_t)node, path));
}

static size_t
m_json_size(const struct apx_json *node)
{
	const json_t *v = (const json_t *)node;

	if (json_is_array(v))
		return json_array_size(v);
	if (json_is_object(v))
		return json_object_size(v);
	return 0;
}

/* ----------------------------------------------- sale, wait, privacy */

static int
printable(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* -?[0-9]{1,15}(.[0-9]{1,6})? */
static int
decimal_ok(const char *s)
{
	size_t i = 0, d = 0, f = 0;
	int dot = 0;

	if (s == NULL)
		return 0;
	if (s[i] == '-')
		i++;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (s[i] == '.') {
		dot = 1;
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			f++;
	}
	return s[i] == '\0' && d >= 1 && d <= 15 && f <= 6 && (!dot || f >= 1);
}

/* YYYY-MM-DD, a real day of the years the host takes (1970..2200). */
static int
date_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y = 0, m, d, i;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	for (i = 0; i < 4; i++)
		y = y * 10 + (s[i] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || y > 2200 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return 0;
	return 1;
}

int
mock_sale_ok(const struct apx_sale *s)
{
	const char *c;
	size_t i;

	if (s == NULL || !printable(s->id, 128) || s->kind == NULL ||
	    !date_ok(s->date) || !decimal_ok(s->amount))
		return 0;
	for (i = 0; s->kind[i] != '\0'; i++)
		if (i >= 32 || !((s->kind[i] >= 'a' && s->kind[i] <= 'z') ||
		    s->kind[i] == '_'))
			return 0;
	if (i == 0)
		return 0;
	if ((c = s->currency) != NULL && !(strlen(c) == 3 &&
	    c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' &&
	    c[2] >= 'A' && c[2] <= 'Z'))
		return 0;
	return 1;
}

static int
m_sale(struct apx_cx *cx, const struct apx_sale *s)
{
	counts.sales++;
	if (cx == NULL || !in_job) {
		counts.denied++;
		return APX_C_EDENIED;
	}
	if (!mock_sale_ok(s)) {
		counts.sales_bad++;
		return APX_C_EINVAL;
	}
	if (counts.sales - counts.sales_bad > SALES_MAX)
		return APX_C_ETOOBIG;
	return 0;
}

/* Counted, never slept. */
static int
m_wait(struct apx_cx *cx, int64_t ms)
{
	counts.waits++;
	if (cx == NULL || !in_job) {
		counts.denied++;
		return APX_C_EDENIED;
	}
	if (ms < 0 || ms > WAIT_MAX_MS) {
		counts.waits_bad++;
		return APX_C_EINVAL;
	}
	counts.wait_ms += ms;
	return 0;
}

static int
m_privacy(struct apx_cx *cx, int what, const char *subject)
{
	json_t *j = NULL;
	int bad;

	counts.privacy++;
	counts.privacy_what = what;
	free(privacy_subject);
	privacy_subject = NULL;
	if (subject != NULL && (privacy_subject = strdup(subject)) == NULL)
		abort();
	if (cx == NULL || !in_job) {
		counts.denied++;
		return APX_C_EDENIED;
	}
	if (what == APX_C_PRIVACY_FORGET)
		bad = subject != NULL;
	else if (what == APX_C_PRIVACY_EXPORT || what == APX_C_PRIVACY_ERASE) {
		bad = subject == NULL || (j = json_loads(subject,
		    JSON_REJECT_DUPLICATES, NULL)) == NULL ||
		    !json_is_object(j);
		json_decref(j);
	} else
		bad = 1;
	if (bad) {
		counts.privacy_bad++;
		return APX_C_EINVAL;
	}
	if (subject != NULL && strlen(subject) > SUBJECT_MAX)
		return APX_C_EINVAL;	/* the host's cap */
	return 0;
}

static int64_t
m_now(void)
{
	return MOCK_NOW;
}
