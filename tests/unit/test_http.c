/*
 * Unit tests for http/request.c: percent-decoding, query strings, cookies,
 * CGI header names, path splitting, media types, request ids and building
 * a request from a CGI environment.
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

#include "http/http.h"
#include "http/response.h"

static int	 setup_arena(void **);
static int	 teardown_arena(void **);
static int	 is_hex24(const char *);

static int
setup_arena(void **state)
{
	struct apx_arena *a = apx_arena_new();

	if (a == NULL)
		return -1;
	*state = a;
	return 0;
}

static int
teardown_arena(void **state)
{
	apx_arena_free(*state);
	return 0;
}

static int
is_hex24(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' &&
		    s[i] <= 'f')))
			return 0;
	return i == 24;
}

/* --- apx_http_pct_decode ----------------------------------------------- */

static void
test_pct_decode_valid(void **state)
{
	struct apx_arena *a = *state;
	char *out = NULL;
	size_t len = 99;

	assert_int_equal(apx_http_pct_decode(a, "a%20b", 5, 0, &out, &len), 0);
	assert_string_equal(out, "a b");
	assert_int_equal(len, 3);
	assert_int_equal(apx_http_pct_decode(a, "%41%62%2f%2F", 12, 0, &out,
	    &len), 0);
	assert_string_equal(out, "Ab//");
	assert_int_equal(len, 4);
	/* Only LEN bytes are read. */
	assert_int_equal(apx_http_pct_decode(a, "abc%zz", 3, 0, &out, &len), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(apx_http_pct_decode(a, "", 0, 0, &out, &len), 0);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
	/* OUTLEN may be NULL. */
	assert_int_equal(apx_http_pct_decode(a, "x%41", 4, 0, &out, NULL), 0);
	assert_string_equal(out, "xA");
}

static void
test_pct_decode_nul(void **state)
{
	struct apx_arena *a = *state;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(apx_http_pct_decode(a, "a%00b", 5, 0, &out, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0b", 4);
}

static void
test_pct_decode_plus(void **state)
{
	struct apx_arena *a = *state;
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(apx_http_pct_decode(a, "a+b%2B", 6, 1, &out, &len), 0);
	assert_string_equal(out, "a b+");
	assert_int_equal(apx_http_pct_decode(a, "a+b%2B", 6, 0, &out, &len), 0);
	assert_string_equal(out, "a+b+");
}

static void
test_pct_decode_malformed(void **state)
{
	static const char *const bad[] = {
		"%", "%4", "a%4", "%zz", "%4g", "%g4", "%%41", "ab%", "% 41",
		"%-1", "%+1",
	};
	struct apx_arena *a = *state;
	char *out = NULL;
	size_t i, len = 77;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_http_pct_decode(a, bad[i], strlen(bad[i]), 1, &out,
		    &len) != APX_EINVAL)
			fail_msg("pct_decode accepted \"%s\"", bad[i]);
	}
	/* A truncated escape: "%4" of "%41" cut by LEN. */
	assert_int_equal(apx_http_pct_decode(a, "%41", 2, 0, &out, &len),
	    APX_EINVAL);
	assert_null(out);
	assert_int_equal(len, 77);
}

/* --- apx_http_parse_query ---------------------------------------------- */

static void
test_query_empty(void **state)
{
	struct apx_kvlist l;

	l.n = 99;
	assert_int_equal(apx_http_parse_query(*state, "", 0, &l), 0);
	assert_int_equal(l.n, 0);
	assert_null(apx_kv_get(&l, "a"));
}

static void
test_query_basic(void **state)
{
	static const char q[] = "a=1&b=%20x";
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_query(*state, q, strlen(q), &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].key, "a");
	assert_string_equal(l.v[0].value, "1");
	assert_int_equal(l.v[0].vlen, 1);
	assert_string_equal(l.v[1].key, "b");
	assert_string_equal(l.v[1].value, " x");
	assert_int_equal(l.v[1].vlen, 2);
	assert_string_equal(apx_kv_get(&l, "b"), " x");
	assert_null(apx_kv_get(&l, "c"));
}

static void
test_query_plus_and_repeats(void **state)
{
	static const char q[] = "a+b=c+d&a+b=second&e=";
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_query(*state, q, strlen(q), &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].key, "a b");
	/* The first of repeated names wins. */
	assert_string_equal(apx_kv_get(&l, "a b"), "c d");
	assert_string_equal(l.v[1].value, "second");
	assert_string_equal(apx_kv_get(&l, "e"), "");
}

static void
test_query_key_only(void **state)
{
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_query(*state, "a", 1, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].key, "a");
	assert_string_equal(l.v[0].value, "");
	assert_int_equal(l.v[0].vlen, 0);
}

static void
test_query_empty_pairs(void **state)
{
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_query(*state, "&&", 2, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(apx_http_parse_query(*state, "&a=1&&b=2&", 10, &l),
	    0);
	assert_int_equal(l.n, 2);
	assert_string_equal(apx_kv_get(&l, "a"), "1");
	assert_string_equal(apx_kv_get(&l, "b"), "2");
}

static void
test_query_nul_in_key_refused(void **state)
{
	static const char *const bad[] = {
		"%00=1", "a%00b=1", "x=1&a%00=2", "=1", "%zz=1", "a=%4",
	};
	struct apx_kvlist l;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_http_parse_query(*state, bad[i], strlen(bad[i]), &l) !=
		    APX_EINVAL)
			fail_msg("parse_query accepted \"%s\"", bad[i]);
	}
}

static void
test_query_nul_in_value_kept(void **state)
{
	struct apx_kvlist l;

	/* A value may hold NUL after decoding; vlen tells the truth. */
	assert_int_equal(apx_http_parse_query(*state, "a=x%00y", 7, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].vlen, 3);
	assert_memory_equal(l.v[0].value, "x\0y", 3);
}

static void
test_query_too_many_params(void **state)
{
	char q[APX_HTTP_MAX_QUERY];
	struct apx_kvlist l;
	size_t i, o = 0;

	for (i = 0; i < APX_HTTP_MAX_PARAMS; i++)
		o += (size_t)snprintf(q + o, sizeof(q) - o, "%sk%zu=%zu",
		    i ? "&" : "", i, i);
	assert_true(o < sizeof(q) - 16);
	assert_int_equal(apx_http_parse_query(*state, q, o, &l), 0);
	assert_int_equal(l.n, APX_HTTP_MAX_PARAMS);
	assert_string_equal(apx_kv_get(&l, "k0"), "0");
	assert_string_equal(apx_kv_get(&l, "k127"), "127");
	/* One more is over the cap. */
	o += (size_t)snprintf(q + o, sizeof(q) - o, "&x=1");
	assert_int_equal(apx_http_parse_query(*state, q, o, &l), APX_ETOOBIG);
}

static void
test_query_too_long(void **state)
{
	char *q = malloc(APX_HTTP_MAX_QUERY + 2);
	struct apx_kvlist l;

	assert_non_null(q);
	q[0] = 'a';
	q[1] = '=';
	memset(q + 2, 'x', APX_HTTP_MAX_QUERY);
	/* Exactly the cap is fine ... */
	assert_int_equal(apx_http_parse_query(*state, q, APX_HTTP_MAX_QUERY,
	    &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].vlen, APX_HTTP_MAX_QUERY - 2);
	/* ... one byte more is not. */
	assert_int_equal(apx_http_parse_query(*state, q,
	    APX_HTTP_MAX_QUERY + 1, &l), APX_ETOOBIG);
	assert_int_equal(l.n, 0);
	free(q);
}

/* --- apx_http_parse_cookies -------------------------------------------- */

static void
test_cookies_basic(void **state)
{
	static const char c[] = "sid=abc123; theme=dark";
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_cookies(*state, c, strlen(c), &l), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].key, "sid");
	assert_string_equal(l.v[0].value, "abc123");
	assert_int_equal(l.v[0].vlen, 6);
	assert_string_equal(apx_kv_get(&l, "theme"), "dark");
}

static void
test_cookies_spaces(void **state)
{
	static const char c[] = "  a = 1 ;b=2\t;\tc=3  ";
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_cookies(*state, c, strlen(c), &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].key, "a");
	assert_string_equal(l.v[0].value, "1");
	assert_string_equal(apx_kv_get(&l, "b"), "2");
	assert_string_equal(apx_kv_get(&l, "c"), "3");
}

static void
test_cookies_quoted(void **state)
{
	static const char c[] = "q=\"xyz\"; e=\"\"; plain=v";
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_cookies(*state, c, strlen(c), &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(apx_kv_get(&l, "q"), "xyz");
	assert_int_equal(l.v[0].vlen, 3);
	assert_string_equal(apx_kv_get(&l, "e"), "");
	assert_string_equal(apx_kv_get(&l, "plain"), "v");
}

static void
test_cookies_junk_skipped(void **state)
{
	static const char c[] =
	    "junk; a=1; =nokey; b c=2; d=\"q\"x; e/f=3; g=x,y; h=a\\b; "
	    "i=\"half; j=\x01; k\xc3\xa9=1; l=\xc3\xa9; z=9";
	struct apx_kvlist l;
	size_t i;

	assert_int_equal(apx_http_parse_cookies(*state, c, strlen(c), &l), 0);
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].key, "a") != 0 && strcmp(l.v[i].key, "z"))
			fail_msg("junk cookie kept: \"%s\"", l.v[i].key);
	assert_int_equal(l.n, 2);
	assert_string_equal(apx_kv_get(&l, "a"), "1");
	assert_string_equal(apx_kv_get(&l, "z"), "9");
}

static void
test_cookies_empty(void **state)
{
	struct apx_kvlist l;

	assert_int_equal(apx_http_parse_cookies(*state, "", 0, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(apx_http_parse_cookies(*state, ";;; ;", 5, &l), 0);
	assert_int_equal(l.n, 0);
}

static void
test_cookies_limit_keeps_first(void **state)
{
	char c[APX_HTTP_MAX_COOKIES * 2 * 16];
	char name[16];
	struct apx_kvlist l;
	size_t i, o = 0;

	for (i = 0; i < APX_HTTP_MAX_COOKIES + 10; i++)
		o += (size_t)snprintf(c + o, sizeof(c) - o, "%sc%zu=%zu",
		    i ? "; " : "", i, i);
	assert_true(o < sizeof(c) - 1);
	assert_int_equal(apx_http_parse_cookies(*state, c, o, &l), 0);
	assert_int_equal(l.n, APX_HTTP_MAX_COOKIES);
	for (i = 0; i < APX_HTTP_MAX_COOKIES; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		assert_string_equal(l.v[i].key, name);
	}
	snprintf(name, sizeof(name), "c%d", APX_HTTP_MAX_COOKIES);
	assert_null(apx_kv_get(&l, name));
}

/* --- apx_http_header_name ---------------------------------------------- */

static void
test_header_name_valid(void **state)
{
	char *out = NULL;

	assert_int_equal(apx_http_header_name(*state, "HTTP_X_REQUEST_ID",
	    &out), 0);
	assert_string_equal(out, "x-request-id");
	assert_int_equal(apx_http_header_name(*state, "HTTP_HOST", &out), 0);
	assert_string_equal(out, "host");
	assert_int_equal(apx_http_header_name(*state, "HTTP_X-Mixed_Case9",
	    &out), 0);
	assert_string_equal(out, "x-mixed-case9");
}

static void
test_header_name_not_http(void **state)
{
	static const char *const bad[] = {
		"CONTENT_TYPE", "REQUEST_METHOD", "HTTP", "HTTPX_HOST",
		"http_host", "HTTP_", "XHTTP_HOST",
	};
	char *out = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_http_header_name(*state, bad[i], &out) != APX_EINVAL)
			fail_msg("header_name accepted \"%s\"", bad[i]);
	}
	assert_null(out);
}

static void
test_header_name_bad_bytes(void **state)
{
	static const char *const bad[] = {
		"HTTP_X:Y", "HTTP_X Y", "HTTP_X\tY", "HTTP_X\rY", "HTTP_X.Y",
		"HTTP_X\xc3\xa9", "HTTP_X\x7f", "HTTP_X/Y",
	};
	char *out = NULL, longname[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_http_header_name(*state, bad[i], &out) != APX_EINVAL)
			fail_msg("header_name accepted bad[%zu]", i);
	}
	/* Names are capped at 256 bytes after HTTP_. */
	memcpy(longname, "HTTP_", 5);
	memset(longname + 5, 'A', 256);
	longname[5 + 256] = '\0';
	assert_int_equal(apx_http_header_name(*state, longname, &out), 0);
	assert_int_equal(strlen(out), 256);
	out = NULL;
	memset(longname + 5, 'A', 257);
	longname[5 + 257] = '\0';
	assert_int_equal(apx_http_header_name(*state, longname, &out),
	    APX_EINVAL);
	assert_null(out);
}

/* --- apx_http_split_path ----------------------------------------------- */

static void
test_split_root(void **state)
{
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t n = 99;

	assert_int_equal(apx_http_split_path(*state, "/", 1, segs,
	    APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_int_equal(n, 0);
}

static void
test_split_segments(void **state)
{
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t n = 0;

	assert_int_equal(apx_http_split_path(*state, "/a/b", 4, segs,
	    APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(segs[0], "a");
	assert_string_equal(segs[1], "b");
	assert_int_equal(apx_http_split_path(*state, "/api/v1/orgs/ac%20me",
	    20, segs, APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(segs[3], "ac me");
	/* '+' is not a space in a path. */
	assert_int_equal(apx_http_split_path(*state, "/a+b", 4, segs,
	    APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_string_equal(segs[0], "a+b");
	/* A dot inside a name is fine. */
	assert_int_equal(apx_http_split_path(*state, "/.well-known/x..y", 17,
	    segs, APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(segs[0], ".well-known");
	assert_string_equal(segs[1], "x..y");
}

static void
test_split_trailing_slash(void **state)
{
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t n = 0;

	assert_int_equal(apx_http_split_path(*state, "/a/b/", 5, segs,
	    APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(segs[0], "a");
	assert_string_equal(segs[1], "b");
}

static void
test_split_empty_segment_refused(void **state)
{
	static const char *const bad[] = { "//", "//a", "/a//b", "/a/b//" };
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t i, n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_http_split_path(*state, bad[i], strlen(bad[i]), segs,
		    APX_HTTP_MAX_SEGMENTS, &n) != APX_EINVAL)
			fail_msg("split_path accepted \"%s\"", bad[i]);
	}
}

/*
 * An encoded slash must never act as a separator: "/a%2Fb" must not come
 * out as the two segments "a" and "b". The code (and the fuzz target
 * fuzz_path.c, which traps on a segment holding '/') refuses it outright.
 */
static void
test_split_encoded_slash(void **state)
{
	static const char *const enc[] = {
		"/a%2Fb", "/a%2fb", "/internal%2Fmetrics", "/%2F", "/x/%2F/y",
	};
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t i, n = 0;

	for (i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
		n = 0;
		if (apx_http_split_path(*state, enc[i], strlen(enc[i]), segs,
		    APX_HTTP_MAX_SEGMENTS, &n) != APX_EINVAL)
			fail_msg("split_path accepted \"%s\" (%zu segments)",
			    enc[i], n);
	}
}

static void
test_split_dotdot_refused(void **state)
{
	static const char *const bad[] = {
		"/..", "/a/..", "/a/../b", "/%2e%2e", "/%2E%2E/x", "/.%2e",
		"/%2e.", "/.", "/a/./b", "/%2e",
	};
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t i, n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_http_split_path(*state, bad[i], strlen(bad[i]), segs,
		    APX_HTTP_MAX_SEGMENTS, &n) != APX_EINVAL)
			fail_msg("split_path accepted \"%s\"", bad[i]);
	}
}

static void
test_split_nul_and_garbage_refused(void **state)
{
	static const char *const bad[] = {
		"/a%00", "/%00/b", "/a%00b", "", "a/b", "/a%zz", "/a%4",
	};
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t i, n = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_http_split_path(*state, bad[i], strlen(bad[i]), segs,
		    APX_HTTP_MAX_SEGMENTS, &n) != APX_EINVAL)
			fail_msg("split_path accepted \"%s\"", bad[i]);
	}
	/* A raw NUL inside LEN. */
	assert_int_equal(apx_http_split_path(*state, "/a\0b", 4, segs,
	    APX_HTTP_MAX_SEGMENTS, &n), APX_EINVAL);
}

static void
test_split_too_many_segments(void **state)
{
	char path[APX_HTTP_MAX_SEGMENTS * 2 + 8];
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t i, n = 0;

	for (i = 0; i < APX_HTTP_MAX_SEGMENTS; i++) {
		path[2 * i] = '/';
		path[2 * i + 1] = 'x';
	}
	path[2 * APX_HTTP_MAX_SEGMENTS] = '\0';
	assert_int_equal(apx_http_split_path(*state, path, strlen(path), segs,
	    APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_int_equal(n, APX_HTTP_MAX_SEGMENTS);
	memcpy(path + 2 * APX_HTTP_MAX_SEGMENTS, "/x", 3);
	assert_int_equal(apx_http_split_path(*state, path, strlen(path), segs,
	    APX_HTTP_MAX_SEGMENTS, &n), APX_ETOOBIG);
	/* MAX is honoured, not just the constant. */
	assert_int_equal(apx_http_split_path(*state, "/a/b/c", 6, segs, 2,
	    &n), APX_ETOOBIG);
	assert_int_equal(apx_http_split_path(*state, "/a/b/", 5, segs, 2,
	    &n), 0);
	assert_int_equal(n, 2);
}

static void
test_split_too_long(void **state)
{
	char *path = malloc(APX_HTTP_MAX_PATH + 2);
	const char *segs[APX_HTTP_MAX_SEGMENTS];
	size_t n = 0;

	assert_non_null(path);
	path[0] = '/';
	memset(path + 1, 'p', APX_HTTP_MAX_PATH);
	assert_int_equal(apx_http_split_path(*state, path, APX_HTTP_MAX_PATH,
	    segs, APX_HTTP_MAX_SEGMENTS, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(apx_http_split_path(*state, path,
	    APX_HTTP_MAX_PATH + 1, segs, APX_HTTP_MAX_SEGMENTS, &n),
	    APX_ETOOBIG);
	free(path);
}

/* --- media type, request id, methods ----------------------------------- */

static void
test_media_type(void **state)
{
	assert_string_equal(apx_http_media_type(*state, "application/json"),
	    "application/json");
	assert_string_equal(apx_http_media_type(*state,
	    "Application/JSON; charset=UTF-8"), "application/json");
	assert_string_equal(apx_http_media_type(*state,
	    " \ttext/plain \t;q=1"), "text/plain");
	assert_string_equal(apx_http_media_type(*state, "TEXT/HTML"),
	    "text/html");
	assert_string_equal(apx_http_media_type(*state, ";charset=utf-8"), "");
	assert_null(apx_http_media_type(*state, NULL));
}

static void
test_valid_request_id(void **state)
{
	char id[APX_HTTP_RID_MAX + 2];

	(void)state;
	assert_true(apx_http_valid_request_id("abc"));
	assert_true(apx_http_valid_request_id("A-z_0.9"));
	assert_false(apx_http_valid_request_id(""));
	assert_false(apx_http_valid_request_id("a b"));
	assert_false(apx_http_valid_request_id("a/b"));
	assert_false(apx_http_valid_request_id("a\r\nX-Evil: 1"));
	assert_false(apx_http_valid_request_id("caf\xc3\xa9"));
	assert_false(apx_http_valid_request_id("a\"b"));
	memset(id, 'a', APX_HTTP_RID_MAX);
	id[APX_HTTP_RID_MAX] = '\0';
	assert_true(apx_http_valid_request_id(id));
	id[APX_HTTP_RID_MAX] = 'a';
	id[APX_HTTP_RID_MAX + 1] = '\0';
	assert_false(apx_http_valid_request_id(id));
}

static void
test_methods(void **state)
{
	(void)state;
	assert_int_equal(apx_http_method_parse("GET"), APX_M_GET);
	assert_int_equal(apx_http_method_parse("OPTIONS"), APX_M_OPTIONS);
	assert_int_equal(apx_http_method_parse("PATCH"), APX_M_PATCH);
	assert_int_equal(apx_http_method_parse("get"), APX_M_OTHER);
	assert_int_equal(apx_http_method_parse("BREW"), APX_M_OTHER);
	assert_string_equal(apx_http_method_name(APX_M_DELETE), "DELETE");
	assert_string_equal(apx_http_method_name(APX_M_OTHER), "OTHER");
}

/* --- apx_http_request_init --------------------------------------------- */

static void
test_request_init_full(void **state)
{
	char *env[] = {
		"REQUEST_METHOD=POST",
		"REQUEST_URI=/api/v1/orgs/ac%20me?x=1&y=%20z",
		"QUERY_STRING=ignored=1",
		"CONTENT_TYPE=Application/JSON; charset=utf-8",
		"CONTENT_LENGTH=17",
		"REMOTE_ADDR=192.0.2.7",
		"SERVER_NAME=api.example.test",
		"HTTP_X_REQUEST_ID=client-id.1",
		"HTTP_X_CUSTOM_THING=v=1",
		"HTTP_COOKIE=sid=abc; theme=\"dark\"",
		"NOEQUALSIGN",
		NULL,
	};
	struct apx_request r;
	size_t i;

	assert_int_equal(apx_http_request_init(&r, *state, env), 0);
	assert_ptr_equal(r.arena, *state);
	assert_int_equal(r.method, APX_M_POST);
	assert_string_equal(r.method_str, "POST");
	assert_string_equal(r.raw_path, "/api/v1/orgs/ac%20me");
	assert_int_equal(r.nsegs, 4);
	assert_string_equal(r.segs[0], "api");
	assert_string_equal(r.segs[3], "ac me");
	assert_string_equal(r.raw_query, "x=1&y=%20z");
	assert_int_equal(r.query.n, 2);
	assert_string_equal(apx_req_query(&r, "x"), "1");
	assert_string_equal(apx_req_query(&r, "y"), " z");
	assert_null(apx_req_query(&r, "ignored"));
	assert_string_equal(r.content_type, "application/json");
	assert_true(r.content_length == 17);
	assert_string_equal(r.remote_addr, "192.0.2.7");
	assert_true(is_hex24(r.request_id));
	assert_string_equal(r.client_request_id, "client-id.1");
	assert_string_equal(apx_req_header(&r, "x-custom-thing"), "v=1");
	assert_string_equal(apx_req_header(&r, "x-request-id"),
	    "client-id.1");
	assert_null(apx_req_header(&r, "X-Custom-Thing"));
	assert_null(apx_req_header(&r, "server-name"));
	assert_null(apx_req_header(&r, "content-type"));
	assert_int_equal(r.headers.n, 3);
	for (i = 0; i < r.headers.n; i++)
		if (strpbrk(r.headers.v[i].key, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"))
			fail_msg("header name not lower-cased: %s",
			    r.headers.v[i].key);
	assert_int_equal(r.cookies.n, 2);
	assert_string_equal(apx_req_cookie(&r, "sid"), "abc");
	assert_string_equal(apx_req_cookie(&r, "theme"), "dark");
	assert_null(r.route);
	assert_int_equal(r.nparams, 0);
	assert_null(r.body);
}

static void
test_request_init_defaults(void **state)
{
	char *env[] = { "REQUEST_URI=/healthz", NULL };
	struct apx_request r;

	assert_int_equal(apx_http_request_init(&r, *state, env), 0);
	assert_int_equal(r.method, APX_M_GET);
	assert_string_equal(r.method_str, "GET");
	assert_string_equal(r.raw_query, "");
	assert_int_equal(r.query.n, 0);
	assert_int_equal(r.headers.n, 0);
	assert_int_equal(r.cookies.n, 0);
	assert_null(r.content_type);
	assert_true(r.content_length == -1);
	assert_string_equal(r.remote_addr, "");
	assert_int_equal(r.nsegs, 1);
	assert_string_equal(r.segs[0], "healthz");
	assert_true(is_hex24(r.request_id));
}

static void
test_request_init_other_method(void **state)
{
	char *env[] = { "REQUEST_METHOD=BREW", "REQUEST_URI=/", NULL };
	struct apx_request r;

	assert_int_equal(apx_http_request_init(&r, *state, env), 0);
	assert_int_equal(r.method, APX_M_OTHER);
	assert_string_equal(r.method_str, "BREW");
	assert_int_equal(r.nsegs, 0);
}

static void
test_request_init_first_header_wins(void **state)
{
	char *env[] = {
		"REQUEST_URI=/", "HTTP_X_THING=first", "HTTP_X_THING=second",
		"HTTP_BAD.NAME=x", NULL,
	};
	struct apx_request r;

	assert_int_equal(apx_http_request_init(&r, *state, env), 0);
	assert_int_equal(r.headers.n, 1);
	assert_string_equal(apx_req_header(&r, "x-thing"), "first");
}

static void
test_request_init_bad_content_length(void **state)
{
	static const char *const bad[] = {
		"CONTENT_LENGTH=abc", "CONTENT_LENGTH=-1", "CONTENT_LENGTH=1e3",
		"CONTENT_LENGTH= 5", "CONTENT_LENGTH=5 ", "CONTENT_LENGTH=+5",
		"CONTENT_LENGTH=99999999999999999999",
		"CONTENT_LENGTH=1125899906842625",	/* 2^50 + 1 */
	};
	char *env[3];
	struct apx_request r;
	size_t i;

	env[0] = "REQUEST_URI=/healthz";
	env[2] = NULL;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env[1] = (char *)(uintptr_t)bad[i];
		if (apx_http_request_init(&r, *state, env) != APX_EINVAL)
			fail_msg("request_init accepted %s", bad[i]);
	}
	/* Empty means absent; 0 is a length. */
	env[1] = "CONTENT_LENGTH=";
	assert_int_equal(apx_http_request_init(&r, *state, env), 0);
	assert_true(r.content_length == -1);
	env[1] = "CONTENT_LENGTH=0";
	assert_int_equal(apx_http_request_init(&r, *state, env), 0);
	assert_true(r.content_length == 0);
}

static void
test_request_init_bad_uri(void **state)
{
	char *none[] = { "REQUEST_METHOD=GET", NULL };
	char *rel[] = { "REQUEST_URI=healthz", NULL };
	char *dots[] = { "REQUEST_URI=/a/%2e%2e/internal/metrics", NULL };
	char *badq[] = { "REQUEST_URI=/a?%00=1", NULL };
	struct apx_request r;

	assert_int_equal(apx_http_request_init(&r, *state, none), APX_EINVAL);
	assert_int_equal(apx_http_request_init(&r, *state, rel), APX_EINVAL);
	assert_int_equal(apx_http_request_init(&r, *state, dots), APX_EINVAL);
	assert_int_equal(apx_http_request_init(&r, *state, badq), APX_EINVAL);
	/* The request id is set even when parsing fails (for the answer). */
	assert_true(is_hex24(r.request_id));
}

static void
test_request_init_query_too_long(void **state)
{
	size_t n = APX_HTTP_MAX_QUERY + 1;
	char *uri = malloc(sizeof("REQUEST_URI=/x?a=") + n);
	char *env[2];
	struct apx_request r;

	assert_non_null(uri);
	memcpy(uri, "REQUEST_URI=/x?a=", 17);
	memset(uri + 17, 'q', n - 2);
	uri[17 + n - 2] = '\0';
	env[0] = uri;
	env[1] = NULL;
	assert_int_equal(apx_http_request_init(&r, *state, env), APX_EURITOOLONG);
	free(uri);
}

/* A client's id is kept aside (for the access line), never made ours. */
static void
test_request_id_kept_when_valid(void **state)
{
	char *env[] = { "REQUEST_URI=/", "HTTP_X_REQUEST_ID=Abc-123_x.y",
	    NULL };
	struct apx_request r;

	assert_int_equal(apx_http_request_init(&r, *state, env), 0);
	assert_string_equal(r.client_request_id, "Abc-123_x.y");
	assert_true(is_hex24(r.request_id));
}

static void
test_request_id_replaced_when_invalid(void **state)
{
	static const char *const bad[] = {
		"HTTP_X_REQUEST_ID=has space",
		"HTTP_X_REQUEST_ID=",
		"HTTP_X_REQUEST_ID=a;b",
		NULL,	/* 65 characters, filled in below */
	};
	char *env[3], first[APX_HTTP_RID_MAX + 1], toolong[96];
	struct apx_request r;
	size_t i;

	memcpy(toolong, "HTTP_X_REQUEST_ID=", 18);
	memset(toolong + 18, 'a', APX_HTTP_RID_MAX + 1);
	toolong[18 + APX_HTTP_RID_MAX + 1] = '\0';
	env[0] = "REQUEST_URI=/";
	env[2] = NULL;
	first[0] = '\0';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env[1] = bad[i] != NULL ? (char *)(uintptr_t)bad[i] : toolong;
		assert_int_equal(apx_http_request_init(&r, *state, env), 0);
		if (!is_hex24(r.request_id))
			fail_msg("%s: request id \"%s\" is not 24 hex", bad[i],
			    r.request_id);
		assert_string_equal(r.client_request_id, "");
		/* Fresh randomness every time. */
		assert_string_not_equal(r.request_id, first);
		memcpy(first, r.request_id, sizeof(first));
	}
}

static void
form_request(struct apx_request *r, struct apx_arena *a, const char *ctype,
    const char *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->arena = a;
	r->content_type = ctype;
	r->body = (unsigned char *)apx_arena_strndup(a, body, len);
	r->body_len = len;
}

static void
test_form_ok(void **state)
{
	struct apx_request r;
	struct apx_response resp;
	struct apx_kvlist l;

	apx_resp_init(&resp, *state);
	static const char body[] = "email=a%40b.test&password=p+q%26r&remember";

	form_request(&r, *state, "application/x-www-form-urlencoded", body,
	    sizeof(body) - 1);
	assert_int_equal(apx_http_form(&r, &resp, &l), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(apx_kv_get(&l, "email"), "a@b.test");
	assert_string_equal(apx_kv_get(&l, "password"), "p q&r");
	assert_string_equal(apx_kv_get(&l, "remember"), "");
	assert_int_equal(resp.status, 200);
	apx_resp_free(&resp);
}

static void
test_form_wrong_type_415(void **state)
{
	struct apx_request r;
	struct apx_response resp;
	struct apx_kvlist l;

	apx_resp_init(&resp, *state);
	form_request(&r, *state, "application/json", "a=1", 3);
	assert_int_equal(apx_http_form(&r, &resp, &l), APX_EINVAL);
	assert_int_equal(resp.status, 415);
	assert_string_equal(resp.problem_type, "unsupported-media-type");
	apx_resp_free(&resp);
}

static void
test_form_malformed_400(void **state)
{
	static const char *bad[] = { "a=%zz", "a=%4", "=x", "a=1&%00=2" };
	struct apx_request r;
	struct apx_response resp;
	struct apx_kvlist l;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		apx_resp_init(&resp, *state);
		form_request(&r, *state, "application/x-www-form-urlencoded",
		    bad[i], strlen(bad[i]));
		assert_int_equal(apx_http_form(&r, &resp, &l), APX_EINVAL);
		assert_int_equal(resp.status, 400);
		assert_string_equal(resp.problem_type, "malformed-form");
		apx_resp_free(&resp);
	}
	/* A raw NUL in the body is refused too. */
	apx_resp_init(&resp, *state);
	form_request(&r, *state, "application/x-www-form-urlencoded", "a=1\0b=2",
	    7);
	assert_int_equal(apx_http_form(&r, &resp, &l), APX_EINVAL);
	assert_int_equal(resp.status, 400);
	apx_resp_free(&resp);
}

static void
test_form_too_many_fields(void **state)
{
	char body[4096];
	size_t i, o = 0;
	struct apx_request r;
	struct apx_response resp;
	struct apx_kvlist l;

	for (i = 0; i <= APX_HTTP_MAX_PARAMS; i++)
		o += (size_t)snprintf(body + o, sizeof(body) - o, "%sk%zu=v",
		    i ? "&" : "", i);
	apx_resp_init(&resp, *state);
	form_request(&r, *state, "application/x-www-form-urlencoded", body, o);
	assert_int_equal(apx_http_form(&r, &resp, &l), APX_EINVAL);
	assert_int_equal(resp.status, 400);
	apx_resp_free(&resp);
	/* The parser itself reports the field cap. */
	assert_int_equal(apx_http_parse_form(*state, body, o, &l),
	    APX_ETOOBIG);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_arena, teardown_arena)
	const struct CMUnitTest tests[] = {
		T(test_pct_decode_valid),
		T(test_pct_decode_nul),
		T(test_pct_decode_plus),
		T(test_pct_decode_malformed),
		T(test_query_empty),
		T(test_query_basic),
		T(test_query_plus_and_repeats),
		T(test_query_key_only),
		T(test_query_empty_pairs),
		T(test_query_nul_in_key_refused),
		T(test_query_nul_in_value_kept),
		T(test_query_too_many_params),
		T(test_query_too_long),
		T(test_cookies_basic),
		T(test_cookies_spaces),
		T(test_cookies_quoted),
		T(test_cookies_junk_skipped),
		T(test_cookies_empty),
		T(test_cookies_limit_keeps_first),
		T(test_header_name_valid),
		T(test_header_name_not_http),
		T(test_header_name_bad_bytes),
		T(test_split_root),
		T(test_split_segments),
		T(test_split_trailing_slash),
		T(test_split_empty_segment_refused),
		T(test_split_encoded_slash),
		T(test_split_dotdot_refused),
		T(test_split_nul_and_garbage_refused),
		T(test_split_too_many_segments),
		T(test_split_too_long),
		T(test_media_type),
		T(test_valid_request_id),
		T(test_methods),
		T(test_request_init_full),
		T(test_request_init_defaults),
		T(test_request_init_other_method),
		T(test_request_init_first_header_wins),
		T(test_request_init_bad_content_length),
		T(test_request_init_bad_uri),
		T(test_request_init_query_too_long),
		T(test_request_id_kept_when_valid),
		T(test_request_id_replaced_when_invalid),
		T(test_form_ok),
		T(test_form_wrong_type_415),
		T(test_form_malformed_400),
		T(test_form_too_many_fields),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
