/*
 * Unit tests for http/response.c: RFC 9457 problem documents, the single
 * APX_E* -> status mapping, header and cookie safety, and the CGI wire
 * form.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/buf.h"
#include "http/response.h"
#include "store/db.h"

#define BASE	"https://accupredix.test/problems/"

struct fix {
	struct apx_arena	*arena;
	struct apx_response	 resp;
	struct apx_buf		 wire;
};

static struct fix fixture;

static int	 setup(void **);
static int	 teardown(void **);
static json_t	*body_json(const struct apx_response *);
static size_t	 count_headers(const struct apx_response *, const char *);
static const char *serialize(struct fix *, int);
static void	 expect_error(struct fix *, int, int, const char *);

static int
setup(void **state)
{
	memset(&fixture, 0, sizeof(fixture));
	if ((fixture.arena = apx_arena_new()) == NULL)
		return -1;
	apx_resp_init(&fixture.resp, fixture.arena);
	apx_resp_set_problem_base(BASE);
	*state = &fixture;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	apx_resp_free(&f->resp);
	apx_buf_free(&f->wire);
	apx_arena_free(f->arena);
	return 0;
}

static json_t *
body_json(const struct apx_response *r)
{
	json_error_t jerr;
	json_t *v;

	assert_non_null(r->body.data);
	v = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (v == NULL)
		fail_msg("body is not JSON (%s): %.*s", jerr.text,
		    (int)r->body.len, r->body.data);
	assert_true(json_is_object(v));
	return v;
}

static size_t
count_headers(const struct apx_response *r, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].key, name) == 0)
			n++;
	return n;
}

static const char *
serialize(struct fix *f, int head)
{
	apx_buf_free(&f->wire);
	assert_int_equal(apx_resp_serialize(&f->resp, head, &f->wire), 0);
	assert_non_null(f->wire.data);
	return f->wire.data;
}

static void
expect_error(struct fix *f, int err, int status, const char *slug)
{
	char type[128];
	json_t *b;

	apx_resp_reset(&f->resp);
	assert_int_equal(apx_resp_error(&f->resp, err), 0);
	assert_int_equal(f->resp.status, status);
	assert_string_equal(apx_resp_header_get(&f->resp, "Content-Type"),
	    "application/problem+json");
	assert_string_equal(f->resp.problem_type, slug);
	b = body_json(&f->resp);
	snprintf(type, sizeof(type), "%s%s", BASE, slug);
	assert_string_equal(json_string_value(json_object_get(b, "type")),
	    type);
	assert_int_equal(json_integer_value(json_object_get(b, "status")),
	    status);
	assert_string_equal(json_string_value(json_object_get(b, "title")),
	    apx_http_reason(status));
	assert_non_null(json_string_value(json_object_get(b, "detail")));
	json_decref(b);
}

/* --- apx_resp_problem -------------------------------------------------- */

static void
test_problem_full(void **state)
{
	struct fix *f = *state;
	json_t *b;

	assert_int_equal(apx_resp_header(&f->resp, "X-Request-Id", "rid-123"),
	    0);
	assert_int_equal(apx_resp_problem(&f->resp, 422, "invalid-setting",
	    "The value is out of range.", "retention_days"), 0);
	assert_int_equal(f->resp.status, 422);
	assert_string_equal(apx_resp_header_get(&f->resp, "content-type"),
	    "application/problem+json");
	assert_int_equal(count_headers(&f->resp, "Content-Type"), 1);
	assert_string_equal(f->resp.problem_type, "invalid-setting");
	assert_true(f->resp.no_store);

	b = body_json(&f->resp);
	assert_string_equal(json_string_value(json_object_get(b, "type")),
	    BASE "invalid-setting");
	assert_string_equal(json_string_value(json_object_get(b, "title")),
	    "Unprocessable Content");
	assert_true(json_is_integer(json_object_get(b, "status")));
	assert_int_equal(json_integer_value(json_object_get(b, "status")), 422);
	assert_string_equal(json_string_value(json_object_get(b, "detail")),
	    "The value is out of range.");
	assert_string_equal(json_string_value(json_object_get(b, "field")),
	    "retention_days");
	assert_string_equal(json_string_value(json_object_get(b,
	    "request_id")), "rid-123");
	assert_int_equal(json_object_size(b), 6);
	json_decref(b);
}

static void
test_problem_minimal(void **state)
{
	struct fix *f = *state;
	json_t *b;

	/* No detail, no field, no request id: those keys are absent. */
	assert_int_equal(apx_resp_problem(&f->resp, 404, "not-found", NULL,
	    NULL), 0);
	b = body_json(&f->resp);
	assert_int_equal(json_object_size(b), 3);
	assert_null(json_object_get(b, "detail"));
	assert_null(json_object_get(b, "field"));
	assert_null(json_object_get(b, "request_id"));
	assert_string_equal(json_string_value(json_object_get(b, "title")),
	    "Not Found");
	json_decref(b);
}

static void
test_problem_escapes_detail(void **state)
{
	struct fix *f = *state;
	json_t *b;

	assert_int_equal(apx_resp_problem(&f->resp, 400, "bad-request",
	    "quote \" backslash \\ newline \n caf\xc3\xa9", NULL), 0);
	/* ASCII on the wire, and the text survives the round trip. */
	assert_null(strchr(f->resp.body.data, '\n'));
	assert_null(strchr(f->resp.body.data, '\xc3'));
	b = body_json(&f->resp);
	assert_string_equal(json_string_value(json_object_get(b, "detail")),
	    "quote \" backslash \\ newline \n caf\xc3\xa9");
	json_decref(b);
}

static void
test_problem_base(void **state)
{
	struct fix *f = *state;
	json_t *b;

	apx_resp_set_problem_base("https://errors.example.test/p/");
	assert_int_equal(apx_resp_problem(&f->resp, 409, "conflict", "x",
	    NULL), 0);
	apx_resp_set_problem_base(BASE);
	b = body_json(&f->resp);
	assert_string_equal(json_string_value(json_object_get(b, "type")),
	    "https://errors.example.test/p/conflict");
	json_decref(b);
}

/* --- apx_resp_error ---------------------------------------------------- */

static void
test_error_db_unavailable(void **state)
{
	struct fix *f = *state;

	expect_error(f, APX_EDBUNAVAIL, 503, "database-unavailable");
	assert_string_equal(apx_resp_header_get(&f->resp, "Retry-After"), "5");
}

static void
test_error_mapping(void **state)
{
	struct fix *f = *state;

	expect_error(f, APX_ETOOBIG, 413, "body-too-large");
	assert_null(apx_resp_header_get(&f->resp, "Retry-After"));
	expect_error(f, APX_EINVAL, 400, "bad-request");
	expect_error(f, APX_ENOTFOUND, 404, "not-found");
	expect_error(f, APX_ECONFLICT, 409, "conflict");
	expect_error(f, APX_EMIGRATION, 503, "migrations-pending");
	assert_string_equal(apx_resp_header_get(&f->resp, "Retry-After"), "30");
}

static void
test_error_unknown_is_500(void **state)
{
	static const int codes[] = {
		APX_EDB, APX_ENOMEM, APX_EIO, APX_ECONFIG, APX_ECRYPTO, -999,
		12345,
	};
	struct fix *f = *state;
	const char *detail;
	json_t *b;
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		expect_error(f, codes[i], 500, "internal-error");
		assert_null(apx_resp_header_get(&f->resp, "Retry-After"));
		b = body_json(&f->resp);
		/* type, title, status, detail: nothing else. */
		assert_int_equal(json_object_size(b), 4);
		detail = json_string_value(json_object_get(b, "detail"));
		/* No internals: not the error text, not the code. */
		if (strstr(detail, apx_strerror(codes[i])) != NULL ||
		    strstr(f->resp.body.data, "database") != NULL ||
		    strstr(f->resp.body.data, "-999") != NULL ||
		    strstr(f->resp.body.data, "12345") != NULL)
			fail_msg("500 body leaks internals: %s",
			    f->resp.body.data);
		json_decref(b);
	}
}

/* --- headers ----------------------------------------------------------- */

static void
test_header_refuses_crlf(void **state)
{
	static const char *const bad[] = {
		"a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "\r\n", "a\x01",
		"a\x1f",
	};
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_resp_header(&f->resp, "X-Test", bad[i]) != APX_EINVAL)
			fail_msg("value bad[%zu] accepted", i);
		if (apx_resp_header(&f->resp, bad[i], "v") != APX_EINVAL)
			fail_msg("name bad[%zu] accepted", i);
		if (apx_resp_header_set(&f->resp, "X-Test", bad[i]) !=
		    APX_EINVAL)
			fail_msg("header_set value bad[%zu] accepted", i);
	}
	assert_int_equal(f->resp.nheaders, 0);
	/* A tab is allowed inside a value. */
	assert_int_equal(apx_resp_header(&f->resp, "X-Test", "a\tb"), 0);
	/* An existing header cannot be overwritten with CR/LF either. */
	assert_int_equal(apx_resp_header_set(&f->resp, "x-test", "a\r\nb"),
	    APX_EINVAL);
	assert_string_equal(apx_resp_header_get(&f->resp, "X-Test"), "a\tb");
	assert_int_equal(f->resp.nheaders, 1);
}

static void
test_header_set_get(void **state)
{
	struct fix *f = *state;

	assert_int_equal(apx_resp_header(&f->resp, "Vary", "Origin"), 0);
	assert_int_equal(apx_resp_header(&f->resp, "Set-Cookie", "a=1"), 0);
	assert_int_equal(apx_resp_header(&f->resp, "Set-Cookie", "b=2"), 0);
	assert_int_equal(count_headers(&f->resp, "set-cookie"), 2);
	assert_int_equal(apx_resp_header_set(&f->resp, "VARY", "Accept"), 0);
	assert_int_equal(count_headers(&f->resp, "Vary"), 1);
	assert_string_equal(apx_resp_header_get(&f->resp, "vary"), "Accept");
	assert_null(apx_resp_header_get(&f->resp, "Varyx"));
	assert_int_equal(apx_resp_header_set(&f->resp, "X-New", "1"), 0);
	assert_int_equal(f->resp.nheaders, 4);
}

static void
test_header_cap(void **state)
{
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < APX_RESP_MAX_HEADERS; i++)
		assert_int_equal(apx_resp_header(&f->resp, "X-H", "v"), 0);
	assert_int_equal(apx_resp_header(&f->resp, "X-H", "v"), APX_ETOOBIG);
	assert_int_equal(f->resp.nheaders, APX_RESP_MAX_HEADERS);
}

/* --- cookies ----------------------------------------------------------- */

static void
test_cookie_defaults(void **state)
{
	struct fix *f = *state;
	const char *c;

	assert_int_equal(apx_resp_cookie(&f->resp, "__Host-sid", "abc123",
	    NULL), 0);
	c = apx_resp_header_get(&f->resp, "Set-Cookie");
	assert_non_null(c);
	assert_string_equal(c,
	    "__Host-sid=abc123; Path=/; Secure; HttpOnly; SameSite=Lax");
	assert_null(strstr(c, "Domain"));
	assert_null(strstr(c, "Max-Age"));
}

static void
test_cookie_options(void **state)
{
	struct fix *f = *state;
	struct apx_cookie_opts o = { "/", 3600, 0, 1 };
	const char *c;

	assert_int_equal(apx_resp_cookie(&f->resp, "csrf", "t0k", &o), 0);
	c = apx_resp_header_get(&f->resp, "Set-Cookie");
	assert_non_null(strstr(c, "csrf=t0k; "));
	assert_non_null(strstr(c, "; Secure"));
	assert_non_null(strstr(c, "; SameSite=Strict"));
	assert_non_null(strstr(c, "; Max-Age=3600"));
	assert_null(strstr(c, "HttpOnly"));

	/* Delete: Max-Age=0, empty value allowed. */
	apx_resp_reset(&f->resp);
	o.max_age = 0;
	o.http_only = 1;
	assert_int_equal(apx_resp_cookie(&f->resp, "sid", "", &o), 0);
	c = apx_resp_header_get(&f->resp, "Set-Cookie");
	assert_non_null(strstr(c, "sid=; Path=/; Secure; HttpOnly"));
	assert_non_null(strstr(c, "; Max-Age=0"));

	/* An ordinary cookie may have another path. */
	apx_resp_reset(&f->resp);
	o.path = "/api";
	o.max_age = -1;
	assert_int_equal(apx_resp_cookie(&f->resp, "pref", "1", &o), 0);
	assert_non_null(strstr(apx_resp_header_get(&f->resp, "Set-Cookie"),
	    "; Path=/api; Secure"));
}

static void
test_cookie_bad_values(void **state)
{
	static const char *const bad[] = {
		"a;b", "a b", "a,b", "a\"b", "a\\b", "a\r\nb", "a\tb", "a\x7f",
		"caf\xc3\xa9", "\"quoted\"",
	};
	struct fix *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_resp_cookie(&f->resp, "sid", bad[i], NULL) !=
		    APX_EINVAL)
			fail_msg("cookie value bad[%zu] accepted", i);
	}
	assert_int_equal(f->resp.nheaders, 0);
}

static void
test_cookie_host_prefix_path(void **state)
{
	struct fix *f = *state;
	struct apx_cookie_opts o = { "/app", -1, 1, 0 };

	assert_int_equal(apx_resp_cookie(&f->resp, "__Host-sid", "v", &o),
	    APX_EINVAL);
	assert_int_equal(f->resp.nheaders, 0);
	o.path = "/";
	assert_int_equal(apx_resp_cookie(&f->resp, "__Host-sid", "v", &o), 0);
	o.path = NULL;
	assert_int_equal(apx_resp_cookie(&f->resp, "__Host-sid", "v", &o), 0);
	assert_non_null(strstr(f->resp.headers[1].value, "; Path=/;"));
	assert_int_equal(f->resp.nheaders, 2);
}

/* --- serialisation ----------------------------------------------------- */

static void
test_serialize_json(void **state)
{
	struct fix *f = *state;
	const char *w;
	char want[256];

	assert_int_equal(apx_resp_header(&f->resp, "X-Request-Id", "r1"), 0);
	assert_int_equal(apx_resp_json(&f->resp, 200, json_pack("{s:s}",
	    "status", "ok")), 0);
	w = serialize(f, 0);
	snprintf(want, sizeof(want), "Status: 200 OK\r\n"
	    "X-Request-Id: r1\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Length: 15\r\n"
	    "\r\n"
	    "{\"status\":\"ok\"}");
	assert_string_equal(w, want);
	assert_int_equal(f->wire.len, strlen(want));
}

static void
test_serialize_head(void **state)
{
	struct fix *f = *state;
	const char *w;

	assert_int_equal(apx_resp_json(&f->resp, 200, json_pack("{s:s}",
	    "status", "ok")), 0);
	w = serialize(f, 1);
	/* Same length announced, no body sent. */
	assert_non_null(strstr(w, "Content-Length: 15\r\n"));
	assert_true(f->wire.len >= 4);
	assert_string_equal(w + f->wire.len - 4, "\r\n\r\n");
	assert_null(strstr(w, "status\""));
}

static void
test_serialize_204_304(void **state)
{
	struct fix *f = *state;
	const char *w;

	f->resp.status = 204;
	assert_int_equal(apx_buf_adds(&f->resp.body, "stray"), 0);
	w = serialize(f, 0);
	assert_string_equal(w, "Status: 204 No Content\r\n\r\n");
	f->resp.status = 304;
	w = serialize(f, 0);
	assert_string_equal(w, "Status: 304 Not Modified\r\n\r\n");
}

static void
test_serialize_cache_control(void **state)
{
	struct fix *f = *state;
	const char *w;

	/* Text: no no-store added. */
	assert_int_equal(apx_resp_text(&f->resp, 200, "text/plain", "hi", 2),
	    0);
	w = serialize(f, 0);
	assert_null(strstr(w, "Cache-Control"));
	assert_non_null(strstr(w, "Content-Type: text/plain\r\n"));
	assert_non_null(strstr(w, "Content-Length: 2\r\n\r\nhi"));
	/* A handler's own Cache-Control is not doubled. */
	f->resp.no_store = 1;
	assert_int_equal(apx_resp_header(&f->resp, "Cache-Control",
	    "public, max-age=3600"), 0);
	w = serialize(f, 0);
	assert_non_null(strstr(w, "Cache-Control: public, max-age=3600\r\n"));
	assert_null(strstr(w, "no-store"));
}

static void
test_serialize_problem_status_line(void **state)
{
	struct fix *f = *state;
	const char *w;
	char cl[64];

	assert_int_equal(apx_resp_error(&f->resp, APX_ETOOBIG), 0);
	w = serialize(f, 0);
	assert_memory_equal(w, "Status: 413 Content Too Large\r\n", 31);
	assert_non_null(strstr(w,
	    "Content-Type: application/problem+json\r\n"));
	assert_non_null(strstr(w, "Cache-Control: no-store\r\n"));
	snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", f->resp.body.len);
	assert_non_null(strstr(w, cl));
	f->resp.status = 599;
	w = serialize(f, 0);
	assert_memory_equal(w, "Status: 599 Unknown\r\n", 21);
}

static void
test_reset(void **state)
{
	struct fix *f = *state;

	assert_int_equal(apx_resp_header(&f->resp, "X-A", "1"), 0);
	assert_int_equal(apx_resp_json(&f->resp, 201, json_pack("{s:i}", "a",
	    1)), 0);
	apx_resp_reset(&f->resp);
	assert_int_equal(f->resp.status, 200);
	assert_int_equal(f->resp.nheaders, 0);
	assert_int_equal(f->resp.body.len, 0);
	assert_false(f->resp.no_store);
	assert_ptr_equal(f->resp.arena, f->arena);
	/* A NULL JSON value (json_pack failed) is ENOMEM, not a crash. */
	assert_int_equal(apx_resp_json(&f->resp, 200, NULL), APX_ENOMEM);
}

/*
 * apx_resp_json_text: JSON text passed on (a PostgreSQL answer) comes out
 * as jansson would write the parsed value: compact, ASCII only.
 */
static void
check_compact(struct fix *f, const char *in, int same_bytes)
{
	json_t *want, *got;
	char *w;
	size_t i;

	assert_int_equal(apx_resp_json_text(&f->resp, 200, in, strlen(in)), 0);
	assert_true(f->resp.no_store);
	assert_string_equal(apx_resp_header_get(&f->resp, "Content-Type"),
	    "application/json");
	want = json_loads(in, JSON_DECODE_ANY, NULL);
	assert_non_null(want);
	w = json_dumps(want, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
	assert_non_null(w);
	/* the same bytes as jansson's (but for the case of hex digits),
	 * unless the text had escapes of its own, which pass as they are */
	if (same_bytes) {
		assert_int_equal(f->resp.body.len, strlen(w));
		assert_int_equal(strncasecmp(f->resp.body.data, w, strlen(w)),
		    0);
	}
	for (i = 0; i < f->resp.body.len; i++)
		assert_true((unsigned char)f->resp.body.data[i] < 0x80);
	got = json_loadb(f->resp.body.data, f->resp.body.len, JSON_DECODE_ANY,
	    NULL);
	assert_non_null(got);
	assert_true(json_equal(want, got));
	json_decref(want);
	json_decref(got);
	free(w);
}

static void
test_json_text_compact(void **state)
{
	struct fix *f = *state;

	check_compact(f, "{\"members\" : [{\"user_id\" : 1, \"email\" : "
	    "\"a@b.test\", \"name\" : \"Ada \\\"A\\\" L\", \"role\" : "
	    "\"owner\"}]}", 1);
	check_compact(f, " {\n\t\"a\" : [ 1 , 2.5 , true , false , null ] ,"
	    " \"b c\" : \"  spaced  \" }\r\n", 1);
	check_compact(f, "[]", 1);
	check_compact(f, "\"x\"", 1);
	/* past ASCII: \u escapes, a surrogate pair past U+FFFF */
	check_compact(f, "{\"n\" : \"Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80\"}", 1);
	/* escapes pass as they are */
	check_compact(f, "{\"e\" : \"\\\\ \\/ \\n \\u00e9 \\ud83d\\ude00\"}", 0);
}

static void
test_json_text_refused(void **state)
{
	struct fix *f = *state;
	static const char *bad[] = {
		"{\"a\" : \"open",		/* string left open */
		"{\"a\" : \"x\\",		/* escape at the end */
		"{\"a\" : \"\x01\"}",		/* control character */
		"{\"a\" : \"\xc3\"}",		/* cut UTF-8 */
		"{\"a\" : \"\xc0\xaf\"}",	/* overlong */
		"{\"a\" : \"\xed\xa0\x80\"}",	/* a surrogate in UTF-8 */
		"{\"a\" : \"\xf4\x90\x80\x80\"}",	/* past U+10FFFF */
		"{\"a\" : 1}\xc3\xa9",		/* non-ASCII outside a string */
		"{\"a\" : \"\\\xc3\xa9\"}",	/* an escape of non-ASCII */
		"{\"a\" : \"\\x\"}",		/* no such escape */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(apx_resp_json_text(&f->resp, 200, bad[i],
		    strlen(bad[i])), APX_EDB);
		assert_int_equal(f->resp.body.len, 0);
	}
}

/* apx_buf_json_ascii: the same bytes as jansson's ASCII dump of the string
 * (but for the case of hex digits); not UTF-8 is refused, B as it was. */
static void
test_json_ascii(void **state)
{
	static const char *good[] = {
		"", "plain", "Zo\xc3\xab \"q\" \\ \xe2\x82\xac \xf0\x9f\x98\x80",
		"\n\t\r\b\f\x01\x1f\x7f end", "a/b",
	};
	static const char *bad[] = {
		"\xc3", "x\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
	};
	struct apx_buf b = { 0 };
	json_t *j;
	char *w;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		apx_buf_reset(&b);
		assert_int_equal(apx_buf_json_ascii(&b, good[i],
		    strlen(good[i])), 0);
		j = json_string(good[i]);
		w = json_dumps(j, JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
		assert_int_equal(b.len, strlen(w));
		assert_int_equal(strncasecmp(b.data, w, b.len), 0);
		free(w);
		json_decref(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		apx_buf_reset(&b);
		assert_int_equal(apx_buf_add(&b, "[", 1), 0);
		assert_int_equal(apx_buf_json_ascii(&b, bad[i], strlen(bad[i])),
		    APX_EINVAL);
		assert_int_equal(b.len, 1);
	}
	apx_buf_free(&b);
}

/* A result of COLS text columns and the rows of VALS (NULL: SQL NULL). */
static PGresult *
result_of(int ncols, int nrows, const char *const *vals)
{
	static char cname[] = "c";
	PGresAttDesc att[8];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	char v[64];
	int r, c;

	assert_non_null(res);
	memset(att, 0, sizeof(att));
	for (c = 0; c < ncols; c++) {
		att[c].name = cname;
		att[c].typid = 25;
		att[c].typlen = -1;
		att[c].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(res, ncols, att));
	for (r = 0; r < nrows; r++)
		for (c = 0; c < ncols; c++) {
			const char *val = vals[r * ncols + c];

			if (val != NULL)
				snprintf(v, sizeof(v), "%s", val);
			assert_true(PQsetvalue(res, r, c, v,
			    val == NULL ? -1 : (int)strlen(v)));
		}
	return res;
}

/* apx_db_rows_json: rows as the app answers JSON, by kind of column. */
static void
test_rows_json(void **state)
{
	static const struct apx_jcol cols[] = {
		{ "id", APX_JNUM }, { "name", APX_JSTR }, { "columns", APX_JRAW },
		{ "ok", APX_JBOOL }, { "by", APX_JACTOR },
	};
	static const char *const rows[] = {
		"7", "Zo\xc3\xab \"q\"", "[\"a\", \"b\"]", "t", "3", NULL,
		"-12", NULL, "{\"k\" : [1, 2.5]}", "f", "3", "44",
		"0", "", NULL, NULL, NULL, NULL,
	};
	static const char want[] =
	    "[{\"id\":7,\"name\":\"Zo\\u00eb \\\"q\\\"\",\"columns\":[\"a\",\"b\"],"
	    "\"ok\":true,\"by\":{\"type\":\"user\",\"id\":3}},"
	    "{\"id\":-12,\"name\":null,\"columns\":{\"k\":[1,2.5]},\"ok\":false,"
	    "\"by\":{\"type\":\"api_key\",\"id\":44,\"user_id\":3}},"
	    "{\"id\":0,\"name\":\"\",\"columns\":null,\"ok\":null,"
	    "\"by\":{\"type\":\"user\",\"id\":null}}]";
	static const char *const bad[][6] = {
		{ "NaN", "x", "1", "t", "1", NULL },		/* not a number */
		{ "1", "\xc3", "1", "t", "1", NULL },		/* not UTF-8 */
		{ "1", "x", "[\"\x01\"]", "t", "1", NULL },	/* control char */
		{ "1", "x", "1", "true", "1", NULL },		/* not t or f */
		{ "1", "x", "1", "t", "1", "k" },		/* a key id "k" */
	};
	struct apx_buf b = { 0 };
	PGresult *res;
	size_t i;

	(void)state;
	res = result_of(6, 3, rows);
	assert_int_equal(apx_db_rows_json(&b, res, 0, 3, cols, 5), 0);
	assert_string_equal(b.data, want);
	apx_buf_reset(&b);
	assert_int_equal(apx_db_rows_json(&b, res, 1, 0, cols, 5), 0);
	assert_string_equal(b.data, "[]");
	/* rows or columns that are not there */
	apx_buf_reset(&b);
	assert_int_equal(apx_db_rows_json(&b, res, 2, 2, cols, 5), APX_EDB);
	assert_int_equal(apx_db_rows_json(&b, res, 0, 1, cols, 4), APX_EDB);
	assert_int_equal(b.len, 0);
	PQclear(res);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		res = result_of(6, 1, bad[i]);
		apx_buf_reset(&b);
		assert_int_equal(apx_buf_add(&b, "{", 1), 0);
		assert_int_equal(apx_db_rows_json(&b, res, 0, 1, cols, 5),
		    APX_EDB);
		assert_int_equal(b.len, 1);
		PQclear(res);
	}
	apx_buf_free(&b);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_problem_full),
		T(test_problem_minimal),
		T(test_problem_escapes_detail),
		T(test_problem_base),
		T(test_error_db_unavailable),
		T(test_error_mapping),
		T(test_error_unknown_is_500),
		T(test_header_refuses_crlf),
		T(test_header_set_get),
		T(test_header_cap),
		T(test_cookie_defaults),
		T(test_cookie_options),
		T(test_cookie_bad_values),
		T(test_cookie_host_prefix_path),
		T(test_serialize_json),
		T(test_serialize_head),
		T(test_serialize_204_304),
		T(test_serialize_cache_control),
		T(test_serialize_problem_status_line),
		T(test_reset),
		T(test_json_text_compact),
		T(test_json_text_refused),
		T(test_json_ascii),
		T(test_rows_json),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
