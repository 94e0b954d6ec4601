/*
 * Request parsing: everything here reads untrusted bytes, so every loop is
 * bounded by an explicit cap and every function is a fuzz target.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

static int	 kv_push(struct apx_arena *, struct apx_kvlist *, size_t,
		    const char *, const char *, size_t);

static const struct {
	const char	*name;
	int		 m;
} methods[] = {
	{ "GET", APX_M_GET }, { "HEAD", APX_M_HEAD }, { "POST", APX_M_POST },
	{ "PUT", APX_M_PUT }, { "PATCH", APX_M_PATCH },
	{ "DELETE", APX_M_DELETE }, { "OPTIONS", APX_M_OPTIONS },
};

int
apx_http_method_parse(const char *s)
{
	size_t i;

	for (i = 0; i < APX_NELEM(methods); i++)
		if (strcmp(s, methods[i].name) == 0)
			return methods[i].m;
	return APX_M_OTHER;
}

const char *
apx_http_method_name(int m)
{
	size_t i;

	for (i = 0; i < APX_NELEM(methods); i++)
		if (methods[i].m == m)
			return methods[i].name;
	return "OTHER";
}

int
apx_http_pct_decode(struct apx_arena *a, const char *s, size_t len, int plus,
    char **out, size_t *outlen)
{
	char *d;
	size_t i, o = 0;
	int hi, lo;

	if ((d = apx_arena_alloc(a, len + 1)) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (i + 2 >= len)
				return APX_EINVAL;
			if ((hi = apx_hex_digit((unsigned char)s[i + 1])) < 0 ||
			    (lo = apx_hex_digit((unsigned char)s[i + 2])) < 0)
				return APX_EINVAL;
			d[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus && s[i] == '+')
			d[o++] = ' ';
		else
			d[o++] = s[i];
	}
	d[o] = '\0';
	*out = d;
	if (outlen != NULL)
		*outlen = o;
	return 0;
}

static int
kv_push(struct apx_arena *a, struct apx_kvlist *l, size_t max,
    const char *k, const char *v, size_t vlen)
{
	struct apx_kv *nv;
	size_t cap;

	if (l->n >= max)
		return APX_ETOOBIG;
	/* Grow by powers of two inside the arena. */
	if (l->n == 0 || (l->n & (l->n - 1)) == 0) {
		cap = l->n == 0 ? 4 : l->n * 2;
		if ((nv = apx_arena_alloc(a, cap * sizeof(*nv))) == NULL)
			return APX_ENOMEM;
		if (l->n > 0)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
	}
	l->v[l->n].key = k;
	l->v[l->n].value = v;
	l->v[l->n].vlen = vlen;
	l->n++;
	return 0;
}

static int	 parse_urlencoded(struct apx_arena *, const char *, size_t,
		    struct apx_kvlist *);

int
apx_http_parse_query(struct apx_arena *a, const char *s, size_t len,
    struct apx_kvlist *out)
{
	out->v = NULL;
	out->n = 0;
	if (len > APX_HTTP_MAX_QUERY)
		return APX_ETOOBIG;
	return parse_urlencoded(a, s, len, out);
}

int
apx_http_parse_form(struct apx_arena *a, const char *s, size_t len,
    struct apx_kvlist *out)
{
	out->v = NULL;
	out->n = 0;
	return parse_urlencoded(a, s, len, out);
}

static int
parse_urlencoded(struct apx_arena *a, const char *s, size_t len,
    struct apx_kvlist *out)
{
	const char *p = s, *end = s + len, *amp, *eq;
	char *k, *v;
	size_t klen, vlen;
	int rc;

	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p) {		/* "a=1&&b=2" */
			p++;
			continue;
		}
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if ((rc = apx_http_pct_decode(a, p, (size_t)(eq - p), 1, &k,
		    &klen)) != 0)
			return rc;
		if (eq < amp)
			rc = apx_http_pct_decode(a, eq + 1,
			    (size_t)(amp - eq - 1), 1, &v, &vlen);
		else
			rc = apx_http_pct_decode(a, "", 0, 1, &v, &vlen);
		if (rc != 0)
			return rc;
		/* A name with a NUL in it can never match: refuse it. */
		if (klen == 0 || memchr(k, '\0', klen) != NULL)
			return APX_EINVAL;
		if ((rc = kv_push(a, out, APX_HTTP_MAX_PARAMS, k, v, vlen)) != 0)
			return rc;
		p = amp + 1;
	}
	return 0;
}

int
apx_http_parse_cookies(struct apx_arena *a, const char *s, size_t len,
    struct apx_kvlist *out)
{
	const char *p = s, *end = s + len, *semi, *eq, *k0, *k1, *v0, *v1;
	char *k, *v;
	int rc;

	out->v = NULL;
	out->n = 0;
	while (p < end) {
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		k0 = p;
		p = semi + 1;
		while (k0 < semi && (*k0 == ' ' || *k0 == '\t'))
			k0++;
		if ((eq = memchr(k0, '=', (size_t)(semi - k0))) == NULL)
			continue;
		k1 = eq;
		while (k1 > k0 && (k1[-1] == ' ' || k1[-1] == '\t'))
			k1--;
		v0 = eq + 1;
		v1 = semi;
		while (v0 < v1 && (*v0 == ' ' || *v0 == '\t'))
			v0++;
		while (v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t'))
			v1--;
		if (v1 - v0 >= 2 && *v0 == '"' && v1[-1] == '"') {
			v0++;
			v1--;
		}
		if (k1 == k0)
			continue;
		/* RFC 6265 token for the name; printable ASCII value. */
		{
			const char *c;
			int ok = 1;

			for (c = k0; c < k1 && ok; c++)
				ok = *c > 0x20 && *c < 0x7f &&
				    strchr("()<>@,;:\\\"/[]?={}", *c) == NULL;
			for (c = v0; c < v1 && ok; c++)
				ok = *c > 0x20 && *c < 0x7f && *c != '"' &&
				    *c != ',' && *c != ';' && *c != '\\';
			if (!ok)
				continue;
		}
		if ((k = apx_arena_strndup(a, k0, (size_t)(k1 - k0))) == NULL ||
		    (v = apx_arena_strndup(a, v0, (size_t)(v1 - v0))) == NULL)
			return APX_ENOMEM;
		rc = kv_push(a, out, APX_HTTP_MAX_COOKIES, k, v,
		    (size_t)(v1 - v0));
		if (rc == APX_ETOOBIG)
			return 0;	/* keep the first ones */
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
apx_http_header_name(struct apx_arena *a, const char *cgi, char **out)
{
	const char *s;
	char *d;
	size_t i, n;

	if (strncmp(cgi, "HTTP_", 5) != 0)
		return APX_EINVAL;
	s = cgi + 5;
	n = strlen(s);
	if (n == 0 || n > 256)
		return APX_EINVAL;
	if ((d = apx_arena_alloc(a, n + 1)) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '_')
			d[i] = '-';
		else if (isalnum(c) && c < 0x80)
			d[i] = (char)tolower(c);
		else if (c == '-')
			d[i] = '-';
		else
			return APX_EINVAL;
	}
	d[n] = '\0';
	*out = d;
	return 0;
}

int
apx_http_split_path(struct apx_arena *a, const char *raw, size_t len,
    const char **segs, size_t max, size_t *nsegs)
{
	const char *p = raw, *end = raw + len, *slash;
	char *seg;
	size_t n = 0, slen;
	int rc;

	if (len == 0 || raw[0] != '/')
		return APX_EINVAL;
	if (len > APX_HTTP_MAX_PATH)
		return APX_ETOOBIG;
	p++;
	while (p <= end) {
		if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
			slash = end;
		if (slash == end && p == end && n > 0)
			break;		/* trailing slash: ignored */
		if (slash == p && slash != end)
			return APX_EINVAL;	/* empty segment "//" */
		if ((rc = apx_http_pct_decode(a, p, (size_t)(slash - p), 0,
		    &seg, &slen)) != 0)
			return rc;
		if (memchr(seg, '\0', slen) != NULL || strchr(seg, '/') ||
		    strcmp(seg, "..") == 0 || strcmp(seg, ".") == 0)
			return APX_EINVAL;
		if (slen > 0) {
			if (n >= max)
				return APX_ETOOBIG;
			segs[n++] = seg;
		}
		if (slash == end)
			break;
		p = slash + 1;
	}
	*nsegs = n;
	return 0;
}

const char *
apx_http_media_type(struct apx_arena *a, const char *ct)
{
	const char *end;
	char *m;
	size_t i, n;

	if (ct == NULL)
		return NULL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	end = strchr(ct, ';');
	n = end != NULL ? (size_t)(end - ct) : strlen(ct);
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if ((m = apx_arena_strndup(a, ct, n)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		m[i] = (char)tolower((unsigned char)m[i]);
	return m;
}

int
apx_http_valid_request_id(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		if (n >= APX_HTTP_RID_MAX)
			return 0;
		if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '_' ||
		    *s == '-') || (unsigned char)*s >= 0x80)
			return 0;
	}
	return n > 0;
}

const struct apx_kv *
apx_kv_find(const struct apx_kvlist *l, const char *k)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key, k) == 0)
			return &l->v[i];
	return NULL;
}

const char *
apx_kv_get(const struct apx_kvlist *l, const char *k)
{
	const struct apx_kv *kv = apx_kv_find(l, k);

	return kv != NULL ? kv->value : NULL;
}

const char *
apx_req_header(const struct apx_request *r, const char *name)
{
	return apx_kv_get(&r->headers, name);
}

const char *
apx_req_cookie(const struct apx_request *r, const char *name)
{
	return apx_kv_get(&r->cookies, name);
}

const char *
apx_req_query(const struct apx_request *r, const char *name)
{
	return apx_kv_get(&r->query, name);
}

int
apx_http_request_init(struct apx_request *r, struct apx_arena *a,
    char *const *envp)
{
	const char *uri = NULL, *method = "GET", *ct = NULL, *cl = NULL,
	    *rid, *q, *cookie;
	char *const *e;
	long long len;
	int rc;

	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->content_length = -1;
	r->start_us = apx_now_us();
	r->remote_addr = "";

	for (e = envp; e != NULL && *e != NULL; e++) {
		const char *kv = *e, *eq = strchr(kv, '=');
		char *name, *value;
		int keep;

		if (eq == NULL)
			continue;
#define IS(k) ((size_t)(eq - kv) == sizeof(k) - 1 && \
    strncmp(kv, k, sizeof(k) - 1) == 0)
		/* Copy only what we keep: the server passes many more. */
		keep = strncmp(kv, "HTTP_", 5) == 0 || IS("REQUEST_METHOD") ||
		    IS("REQUEST_URI") || IS("CONTENT_TYPE") ||
		    IS("CONTENT_LENGTH") || IS("REMOTE_ADDR");
		if (!keep)
			continue;
		if ((value = apx_arena_strdup(a, eq + 1)) == NULL)
			return APX_ENOMEM;
		if (IS("REQUEST_METHOD"))
			method = value;
		else if (IS("REQUEST_URI"))
			uri = value;
		else if (IS("CONTENT_TYPE"))
			ct = value;
		else if (IS("CONTENT_LENGTH"))
			cl = value;
		else if (IS("REMOTE_ADDR"))
			r->remote_addr = value;
		else if (strncmp(kv, "HTTP_", 5) == 0) {
			char *cgi = apx_arena_strndup(a, kv, (size_t)(eq - kv));

			if (cgi == NULL)
				return APX_ENOMEM;
			if (apx_http_header_name(a, cgi, &name) != 0)
				continue;
			if (apx_kv_find(&r->headers, name) != NULL)
				continue;
			if ((rc = kv_push(a, &r->headers,
			    APX_HTTP_MAX_HEADERS, name, value,
			    strlen(value))) != 0)
				return rc == APX_ETOOBIG ? APX_EHEADERS : rc;
		}
#undef IS
	}

	r->method_str = method;
	r->method = apx_http_method_parse(method);

	rid = apx_req_header(r, "x-request-id");
	if (rid != NULL && apx_http_valid_request_id(rid))
		(void)apx_strlcpy_chk(r->client_request_id, rid,
		    sizeof(r->client_request_id));
	{
		unsigned char rnd[12];
		static const char hex[] = "0123456789abcdef";
		size_t i;

		apx_random_id(rnd, sizeof(rnd));
		for (i = 0; i < sizeof(rnd); i++) {
			r->request_id[2 * i] = hex[rnd[i] >> 4];
			r->request_id[2 * i + 1] = hex[rnd[i] & 15];
		}
		r->request_id[2 * sizeof(rnd)] = '\0';
	}

	if (ct != NULL && *ct != '\0') {
		if ((r->content_type = apx_http_media_type(a, ct)) == NULL)
			return APX_ENOMEM;
	}
	if (cl != NULL && *cl != '\0') {
		if (apx_parse_ll(cl, 0, (long long)1 << 50, &len) != 0)
			return APX_EINVAL;
		r->content_length = len;
	}

	if (uri == NULL || uri[0] != '/')
		return APX_EINVAL;
	if ((q = strchr(uri, '?')) != NULL) {
		r->raw_path = apx_arena_strndup(a, uri, (size_t)(q - uri));
		r->raw_query = q + 1;
	} else {
		r->raw_path = uri;
		r->raw_query = "";
	}
	if (r->raw_path == NULL)
		return APX_ENOMEM;
	if ((rc = apx_http_split_path(a, r->raw_path, strlen(r->raw_path),
	    r->segs, APX_HTTP_MAX_SEGMENTS, &r->nsegs)) != 0)
		return rc == APX_ETOOBIG ? APX_EURITOOLONG : rc;
	if ((rc = apx_http_parse_query(a, r->raw_query, strlen(r->raw_query),
	    &r->query)) != 0)
		return rc == APX_ETOOBIG ? APX_EURITOOLONG : rc;
	if ((cookie = apx_req_header(r, "cookie")) != NULL &&
	    (rc = apx_http_parse_cookies(a, cookie, strlen(cookie),
	    &r->cookies)) != 0)
		return rc;
	return 0;
}
