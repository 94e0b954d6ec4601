/*
 * Responses. Errors become RFC 9457 problem documents here and nowhere
 * else; apx_resp_error() is the single mapping from APX_E* codes.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "http/response.h"

static const char *problem_base = "https://accupredix.test/problems/";

static const struct {
	int		 code;
	const char	*reason;
} reasons[] = {
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 204, "No Content" }, { 301, "Moved Permanently" }, { 302, "Found" },
	{ 303, "See Other" }, { 304, "Not Modified" },
	{ 400, "Bad Request" }, { 401, "Unauthorized" },
	{ 402, "Payment Required" }, { 403, "Forbidden" },
	{ 404, "Not Found" }, { 405, "Method Not Allowed" },
	{ 409, "Conflict" }, { 410, "Gone" }, { 413, "Content Too Large" },
	{ 414, "URI Too Long" }, { 415, "Unsupported Media Type" }, { 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
};

const char *
apx_http_reason(int code)
{
	size_t i;

	for (i = 0; i < APX_NELEM(reasons); i++)
		if (reasons[i].code == code)
			return reasons[i].reason;
	return "Unknown";
}

void
apx_resp_set_problem_base(const char *base)
{
	problem_base = base;
}

void
apx_resp_init(struct apx_response *r, struct apx_arena *a)
{
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->status = 200;
	r->body.max = 64u * 1024 * 1024;
}

void
apx_resp_reset(struct apx_response *r)
{
	struct apx_arena *a = r->arena;
	struct apx_buf body = r->body;

	apx_buf_reset(&body);
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->status = 200;
	r->body = body;
}

void
apx_resp_free(struct apx_response *r)
{
	apx_buf_free(&r->body);
}

/* Header values never carry CR or LF: that would split the response. */
static int
header_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n' || ((unsigned char)*s < 0x20 &&
		    *s != '\t'))
			return 0;
	return 1;
}

/* RFC 9110 token. */
static int
token_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?={}", *s) != NULL)
			return 0;
	return 1;
}

int
apx_resp_header(struct apx_response *r, const char *name, const char *value)
{
	if (!token_ok(name) || !header_ok(value))
		return APX_EINVAL;
	if (r->nheaders >= APX_RESP_MAX_HEADERS)
		return APX_ETOOBIG;
	r->headers[r->nheaders].key = name;
	r->headers[r->nheaders].value = value;
	r->headers[r->nheaders].vlen = strlen(value);
	r->nheaders++;
	return 0;
}

int
apx_resp_header_set(struct apx_response *r, const char *name,
    const char *value)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].key, name) == 0) {
			if (!header_ok(value))
				return APX_EINVAL;
			r->headers[i].value = value;
			r->headers[i].vlen = strlen(value);
			return 0;
		}
	}
	return apx_resp_header(r, name, value);
}

const char *
apx_resp_header_get(const struct apx_response *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].key, name) == 0)
			return r->headers[i].value;
	return NULL;
}

int
apx_resp_cookie(struct apx_response *r, const char *name, const char *value,
    const struct apx_cookie_opts *o)
{
	static const struct apx_cookie_opts defaults = { "/", -1, 1, 0 };
	const char *c;
	char *line;

	if (o == NULL)
		o = &defaults;
	if (!token_ok(name))
		return APX_EINVAL;
	if (o->path != NULL) {
		if (o->path[0] != '/')
			return APX_EINVAL;
		for (c = o->path; *c != '\0'; c++)
			if (*c < 0x21 || *c >= 0x7f || *c == ';')
				return APX_EINVAL;
	}
	for (c = value; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '"' || *c == ',' ||
		    *c == ';' || *c == '\\')
			return APX_EINVAL;
	/*
	 * __Host- cookies must be Secure, Path=/ and carry no Domain; every
	 * cookie we set gets Secure and SameSite.
	 */
	if (strncmp(name, "__Host-", 7) == 0 && o->path != NULL &&
	    strcmp(o->path, "/") != 0)
		return APX_EINVAL;
	line = apx_arena_printf(r->arena, "%s=%s; Path=%s; Secure%s; SameSite=%s%s",
	    name, value, o->path != NULL ? o->path : "/",
	    o->http_only ? "; HttpOnly" : "",
	    o->same_site == APX_SAMESITE_STRICT ? "Strict" :
	    o->same_site == APX_SAMESITE_NONE ? "None" : "Lax",
	    o->max_age == 0 ? "; Max-Age=0" : "");
	if (line == NULL)
		return APX_ENOMEM;
	if (o->max_age > 0) {
		line = apx_arena_printf(r->arena, "%s; Max-Age=%lld", line,
		    o->max_age);
		if (line == NULL)
			return APX_ENOMEM;
	}
	return apx_resp_header(r, "Set-Cookie", line);
}

int
apx_resp_text(struct apx_response *r, int status, const char *ctype,
    const char *body, size_t len)
{
	int rc;

	r->status = status;
	apx_buf_reset(&r->body);
	if ((rc = apx_buf_add(&r->body, body, len)) != 0)
		return rc;
	return apx_resp_header_set(r, "Content-Type", ctype);
}

int
apx_resp_json(struct apx_response *r, int status, json_t *v)
{
	char *s;
	int rc;

	if (v == NULL)
		return APX_ENOMEM;
	s = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(v);
	if (s == NULL)
		return APX_ENOMEM;
	r->no_store = 1;
	rc = apx_resp_text(r, status, "application/json", s, strlen(s));
	free(s);
	return rc;
}

int
apx_resp_json_text(struct apx_response *r, int status, const char *json,
    size_t len)
{
	int rc;

	apx_buf_reset(&r->body);
	if ((rc = apx_buf_json_compact(&r->body, json, len)) != 0) {
		apx_buf_reset(&r->body);
		return rc == APX_EINVAL ? APX_EDB : rc;
	}
	return apx_resp_json_body(r, status);
}

int
apx_resp_json_body(struct apx_response *r, int status)
{
	r->status = status;
	r->no_store = 1;
	return apx_resp_header_set(r, "Content-Type", "application/json");
}

int
apx_resp_problem(struct apx_response *r, int status, const char *slug,
    const char *detail, const char *field)
{
	const char *rid = apx_resp_header_get(r, "X-Request-Id");
	json_t *o;
	int rc;

	o = json_pack("{s:s+, s:s, s:i}", "type", problem_base, slug,
	    "title", apx_http_reason(status), "status", status);
	if (o == NULL)
		return APX_ENOMEM;
	if (detail != NULL)
		json_object_set_new(o, "detail", json_string(detail));
	if (field != NULL)
		json_object_set_new(o, "field", json_string(field));
	if (rid != NULL)
		json_object_set_new(o, "request_id", json_string(rid));
	if ((rc = apx_resp_json(r, status, o)) != 0)
		return rc;
	r->problem_type = slug;
	return apx_resp_header_set(r, "Content-Type",
	    "application/problem+json");
}

int
apx_resp_error(struct apx_response *r, int err)
{
	switch (err) {
	case APX_EDBUNAVAIL:
		(void)apx_resp_header_set(r, "Retry-After", "5");
		return apx_resp_problem(r, 503, "database-unavailable",
		    "The database is unreachable; try again shortly.", NULL);
	case APX_ETOOBIG:
		return apx_resp_problem(r, 413, "body-too-large",
		    "The request body is larger than this server accepts.",
		    NULL);
	case APX_EURITOOLONG:
		return apx_resp_problem(r, 414, "uri-too-long",
		    "The path or query string is longer than this server "
		    "accepts.", NULL);
	case APX_EHEADERS:
		return apx_resp_problem(r, 431, "header-fields-too-large",
		    "The request carries more header fields than this server "
		    "accepts.", NULL);
	case APX_EINVAL:
		return apx_resp_problem(r, 400, "bad-request",
		    "The request could not be parsed.", NULL);
	case APX_ENOKEY:
		return apx_resp_problem(r, 503, "vault-unavailable",
		    "Secrets cannot be stored or read: the vault has no key "
		    "configured.", NULL);
	case APX_ENOTFOUND:
		return apx_resp_problem(r, 404, "not-found",
		    "No such resource.", NULL);
	case APX_ECONFLICT:
		return apx_resp_problem(r, 409, "conflict",
		    "The request conflicts with the current state.", NULL);
	case APX_EMIGRATION:
		(void)apx_resp_header_set(r, "Retry-After", "30");
		return apx_resp_problem(r, 503, "migrations-pending",
		    "The database schema does not match this server.", NULL);
	default:
		return apx_resp_problem(r, 500, "internal-error",
		    "The server could not complete the request.", NULL);
	}
}

int
apx_resp_serialize(const struct apx_response *r, int head,
    struct apx_buf *out)
{
	size_t i;
	int rc;

	if ((rc = apx_buf_printf(out, "Status: %d %s\r\n", r->status,
	    apx_http_reason(r->status))) != 0)
		return rc;
	/* no format per header: a dozen of them go out with every answer */
	for (i = 0; i < r->nheaders; i++) {
		if ((rc = apx_buf_adds(out, r->headers[i].key)) != 0 ||
		    (rc = apx_buf_add(out, ": ", 2)) != 0 ||
		    (rc = apx_buf_add(out, r->headers[i].value,
		    r->headers[i].vlen)) != 0 ||
		    (rc = apx_buf_add(out, "\r\n", 2)) != 0)
			return rc;
	}
	if (r->no_store && apx_resp_header_get(r, "Cache-Control") == NULL &&
	    (rc = apx_buf_adds(out, "Cache-Control: no-store\r\n")) != 0)
		return rc;
	if (r->status != 204 && r->status != 304 &&
	    (rc = apx_buf_printf(out, "Content-Length: %zu\r\n",
	    r->body.len)) != 0)
		return rc;
	if ((rc = apx_buf_adds(out, "\r\n")) != 0)
		return rc;
	if (!head && r->status != 204 && r->status != 304)
		return apx_buf_add(out, r->body.data, r->body.len);
	return 0;
}
