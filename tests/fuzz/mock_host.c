/*
 * A mock connector host (see mock_host.h): simple, deterministic and
 * self-contained implementations of every member of struct apx_host.
 * Crypto is libsodium's and JSON is jansson's, on purpose not the code
 * the fuzz target uses to compute what it expects.
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
#define JSON_MAX	(1024u * 1024)		/* as the host's cap */
#define PATH_MAX_PARTS	16
#define CONFIG_MAX	16

struct chunk {
	struct chunk	*next;
	size_t		 size;
	/* the caller's bytes follow at CHUNK_HDR, max_align_t aligned */
};
#define CHUNK_HDR	((sizeof(struct chunk) + _Alignof(max_align_t) - 1) / \
			    _Alignof(max_align_t) * _Alignof(max_align_t))

/* The ABI keeps this opaque: the mock's is a list of allocations. */
struct apx_cx {
	struct chunk	*head;
	size_t		 used;
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

static const char *
m_json_get(struct apx_cx *cx, const char *text, size_t len, const char *path)
{
	json_error_t err;
	json_t *root, *j;
	const char *p, *dot, *out = NULL;
	char part[256], *end;
	size_t plen, nparts = 0;
	unsigned long idx;

	if (text == NULL || path == NULL || len > JSON_MAX)
		return NULL;
	if ((root = json_loadb(text, len, 0, &err)) == NULL)
		return NULL;
	j = root;
	for (p = path; j != NULL; p = dot + 1) {
		if (++nparts > PATH_MAX_PARTS) {
			j = NULL;
			break;
		}
		dot = strchr(p, '.');
		plen = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (plen == 0 || plen >= sizeof(part)) {
			j = NULL;
			break;
		}
		memcpy(part, p, plen);
		part[plen] = '\0';
		if (json_is_object(j))
			j = json_object_get(j, part);
		else if (json_is_array(j) && part[0] >= '0' && part[0] <= '9') {
			idx = strtoul(part, &end, 10);
			j = *end == '\0' ? json_array_get(j, idx) : NULL;
		} else
			j = NULL;
		if (dot == NULL)
			break;
	}
	if (j != NULL) {
		if (json_is_string(j))
			out = m_dup(cx, json_string_value(j),
			    json_string_length(j));
		else if (json_is_integer(j))
			out = m_fmt(cx, "%lld", (long long)json_integer_value(j));
		else if (json_is_real(j))
			out = m_fmt(cx, "%.17g", json_real_value(j));
	}
	json_decref(root);
	return out;
}

static int64_t
m_now(void)
{
	return MOCK_NOW;
}
