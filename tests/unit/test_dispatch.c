/*
 * apx_dispatch end to end, without a database: requests are built from a
 * CGI environment with apx_http_request_init, answered by the real route
 * table, and checked on the serialised CGI output. Routes that need the
 * database (/readyz, /internal/settings, a successful /internal/metrics)
 * are not exercised here.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/conf.h"
#include "http/response.h"
#include "server/dispatch.h"

#define BASE		"https://accupredix.test/problems/"
#define ORIGIN		"https://app.example.test"
#define SECRET		"s3cret-value"
#define NO_RC		1	/* ex_run: use the rc of request_init */

#define CONF_COMMON \
	"db.conninfo = dbname=unused\n" \
	"regions.eu.conninfo = dbname=unused\n" \
	"security.contact = mailto:security@example.test " \
	"https://example.test/security\n" \
	"security.expires = 2099-01-01T00:00:00Z\n" \
	"security.policy = https://example.test/policy\n" \
	"http.cors_origins = " ORIGIN "\n" \
	"jwt.issuer = https://accupredix.test\n" \
	"http.problem_type_base = " BASE "\n"

static struct apx_conf	*conf_secret;	/* internal.secret set */
static struct apx_conf	*conf_nosecret;	/* internal.secret unset */
static struct apx_conf	*conf_nohsts;	/* http.hsts_max_age = 0 */

/* One request/response exchange. */
struct ex {
	struct apx_arena	*arena;
	struct apx_request	 req;
	struct apx_response	 resp;
	struct apx_buf		 wire;
	int			 init_rc;
};

static int	 group_setup(void **);
static int	 group_teardown(void **);
static int	 load(const char *, struct apx_conf **);
static void	 ex_run(struct ex *, const struct apx_conf *, char **, int);
static void	 ex_done(struct ex *);
static const char *hdr(const struct ex *, const char *);
static json_t	*body_json(const struct ex *);
static void	 expect_security_headers(const struct ex *);
static void	 expect_problem(const struct ex *, int, const char *);
static int	 is_cors_header(const char *);
static void	 expect_same_answer(const struct ex *, const struct ex *,
		    int, const char *);
static void	 expect_guarded(const struct apx_conf *, char **);
static int	 is_hex24(const char *);

static int
load(const char *text, struct apx_conf **out)
{
	char err[256];

	if (apx_conf_parse("dispatch.conf", text, strlen(text), 0, out, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "test configuration refused: %s\n", err);
		return -1;
	}
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	apx_resp_set_problem_base(BASE);
	if (load(CONF_COMMON "internal.secret = " SECRET "\n",
	    &conf_secret) != 0 ||
	    load(CONF_COMMON, &conf_nosecret) != 0 ||
	    load(CONF_COMMON "internal.secret = " SECRET "\n"
	    "http.hsts_max_age = 0\n", &conf_nohsts) != 0)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	apx_conf_free(conf_secret);
	apx_conf_free(conf_nosecret);
	apx_conf_free(conf_nohsts);
	return 0;
}

/* Build the request from ENV, dispatch, serialise. */
static void
ex_run(struct ex *e, const struct apx_conf *conf, char **env, int force_rc)
{
	struct apx_ctx ctx;
	int rc;

	memset(e, 0, sizeof(*e));
	e->arena = apx_arena_new();
	assert_non_null(e->arena);
	rc = apx_http_request_init(&e->req, e->arena, env);
	e->init_rc = rc;
	if (force_rc != NO_RC)
		rc = force_rc;
	apx_resp_init(&e->resp, e->arena);
	ctx.req = &e->req;
	ctx.resp = &e->resp;
	ctx.conf = conf;
	ctx.db = NULL;
	ctx.auth = NULL;
	ctx.org = NULL;
	ctx.perm = NULL;
	apx_dispatch(&ctx, rc);
	assert_int_equal(apx_resp_serialize(&e->resp,
	    e->req.method == APX_M_HEAD, &e->wire), 0);
}

static void
ex_done(struct ex *e)
{
	apx_resp_free(&e->resp);
	apx_buf_free(&e->wire);
	apx_arena_free(e->arena);
}

static const char *
hdr(const struct ex *e, const char *name)
{
	return apx_resp_header_get(&e->resp, name);
}

static json_t *
body_json(const struct ex *e)
{
	json_error_t jerr;
	json_t *v;

	assert_true(e->resp.body.len > 0);
	v = json_loadb(e->resp.body.data, e->resp.body.len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL || !json_is_object(v))
		fail_msg("body is not a JSON object: %.*s",
		    (int)e->resp.body.len, e->resp.body.data);
	return v;
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

static void
expect_security_headers(const struct ex *e)
{
	const char *csp = hdr(e, "Content-Security-Policy");

	assert_string_equal(hdr(e, "Strict-Transport-Security"),
	    "max-age=31536000; includeSubDomains");
	assert_string_equal(hdr(e, "X-Content-Type-Options"), "nosniff");
	assert_string_equal(hdr(e, "X-Frame-Options"), "DENY");
	assert_string_equal(hdr(e, "Referrer-Policy"), "no-referrer");
	assert_non_null(csp);
	assert_non_null(strstr(csp, "frame-ancestors 'none'"));
	assert_non_null(strstr(csp, "default-src 'none'"));
	/* Every answer carries the request id, once. */
	assert_non_null(hdr(e, "X-Request-Id"));
	assert_string_equal(hdr(e, "X-Request-Id"), e->req.request_id);
	assert_non_null(strstr(e->wire.data, "\r\nX-Request-Id: "));
}

static void
expect_problem(const struct ex *e, int status, const char *slug)
{
	char type[128];
	json_t *b;

	assert_int_equal(e->resp.status, status);
	assert_string_equal(hdr(e, "Content-Type"), "application/problem+json");
	assert_non_null(strstr(e->wire.data, "Cache-Control: no-store\r\n"));
	b = body_json(e);
	snprintf(type, sizeof(type), "%s%s", BASE, slug);
	assert_string_equal(json_string_value(json_object_get(b, "type")),
	    type);
	assert_int_equal(json_integer_value(json_object_get(b, "status")),
	    status);
	assert_string_equal(json_string_value(json_object_get(b, "title")),
	    apx_http_reason(status));
	assert_non_null(json_string_value(json_object_get(b, "detail")));
	assert_string_equal(json_string_value(json_object_get(b,
	    "request_id")), e->req.request_id);
	json_decref(b);
}

/* --- /healthz ---------------------------------------------------------- */

static void
test_healthz(void **state)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/healthz", NULL };
	struct ex e;
	char want[64];

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	assert_int_equal(e.init_rc, 0);
	assert_int_equal(e.resp.status, 200);
	assert_string_equal(hdr(&e, "Content-Type"), "application/json");
	assert_int_equal(e.resp.body.len, 15);
	assert_memory_equal(e.resp.body.data, "{\"status\":\"ok\"}", 15);
	expect_security_headers(&e);
	assert_true(is_hex24(hdr(&e, "X-Request-Id")));
	assert_memory_equal(e.wire.data, "Status: 200 OK\r\n", 16);
	assert_non_null(strstr(e.wire.data, "Cache-Control: no-store\r\n"));
	snprintf(want, sizeof(want), "\r\n\r\n{\"status\":\"ok\"}");
	assert_string_equal(e.wire.data + e.wire.len - strlen(want), want);
	/* No Origin: no CORS headers at all. */
	assert_null(hdr(&e, "Access-Control-Allow-Origin"));
	assert_string_equal(apx_dispatch_route_label(&e.req), "/healthz");
	ex_done(&e);
}

static void
test_healthz_head(void **state)
{
	char *env[] = { "REQUEST_METHOD=HEAD", "REQUEST_URI=/healthz", NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	assert_int_equal(e.resp.status, 200);
	expect_security_headers(&e);
	assert_non_null(strstr(e.wire.data, "Content-Length: 15\r\n"));
	assert_string_equal(e.wire.data + e.wire.len - 4, "\r\n\r\n");
	assert_null(strstr(e.wire.data, "\"ok\""));
	ex_done(&e);
}

/* The answer carries our id, never one the client chose. */
static void
test_client_request_id_not_taken(void **state)
{
	char *env[] = { "REQUEST_URI=/no/such/thing",
	    "HTTP_X_REQUEST_ID=trace-abc.1", NULL };
	char *bad[] = { "REQUEST_URI=/healthz",
	    "HTTP_X_REQUEST_ID=bad id\r\nX-Evil: 1", NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	assert_true(is_hex24(hdr(&e, "X-Request-Id")));
	assert_string_equal(e.req.client_request_id, "trace-abc.1");
	assert_null(strstr(e.wire.data, "trace-abc.1"));
	expect_problem(&e, 404, "not-found");
	ex_done(&e);
	/* An unusable id is replaced, never echoed. */
	ex_run(&e, conf_secret, bad, NO_RC);
	assert_true(is_hex24(hdr(&e, "X-Request-Id")));
	assert_null(strstr(e.wire.data, "X-Evil"));
	ex_done(&e);
}

static void
test_healthz_post_405(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/healthz",
	    "CONTENT_LENGTH=0", NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	expect_problem(&e, 405, "method-not-allowed");
	assert_string_equal(hdr(&e, "Allow"), "GET, HEAD");
	assert_non_null(strstr(e.wire.data, "\r\nAllow: GET, HEAD\r\n"));
	expect_security_headers(&e);
	assert_null(e.req.route);
	ex_done(&e);
}

static void
test_unknown_path_404(void **state)
{
	char *env[] = { "REQUEST_URI=/nope", NULL };
	struct ex e;
	json_t *b;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	expect_problem(&e, 404, "not-found");
	expect_security_headers(&e);
	assert_null(hdr(&e, "Allow"));
	b = body_json(&e);
	assert_int_equal(json_object_size(b), 5);
	json_decref(b);
	assert_string_equal(apx_dispatch_route_label(&e.req), "unmatched");
	ex_done(&e);
}

/* --- /internal guard ------------------------------------------------- */

static int
is_cors_header(const char *name)
{
	return strncasecmp(name, "Access-Control-", 15) == 0 ||
	    strcasecmp(name, "Vary") == 0;
}

/* The body of E with its own request id (24 hex digits) as "RID". */
static void
body_sans_rid(const struct ex *e, char *out, size_t outlen)
{
	const char *rid = e->req.request_id, *at;
	char b[4096];
	size_t n = strlen(rid);

	snprintf(b, sizeof(b), "%.*s", (int)e->resp.body.len,
	    e->resp.body.data != NULL ? e->resp.body.data : "");
	if (n > 0 && (at = strstr(b, rid)) != NULL)
		snprintf(out, outlen, "%.*sRID%s", (int)(at - b), b, at + n);
	else
		snprintf(out, outlen, "%s", b);
}

/*
 * Compare two answers: same status, same body byte for byte but for each
 * one's own request id, same headers in the same order with the same
 * values (but for X-Request-Id). With SKIP_CORS, the CORS headers of REF
 * are left out of the comparison.
 */
static void
expect_same_answer(const struct ex *e, const struct ex *ref, int skip_cors,
    const char *what)
{
	char eb[4096], rb[4096];
	size_t i, j;

	if (e->resp.status != ref->resp.status)
		fail_msg("%s: status %d, not %d", what, e->resp.status,
		    ref->resp.status);
	body_sans_rid(e, eb, sizeof(eb));
	body_sans_rid(ref, rb, sizeof(rb));
	if (strcmp(eb, rb) != 0)
		fail_msg("%s: body \"%s\" differs from \"%s\"", what, eb, rb);
	for (i = j = 0; j < ref->resp.nheaders; j++) {
		const struct apx_kv *r = &ref->resp.headers[j];

		if (skip_cors && is_cors_header(r->key))
			continue;
		if (i >= e->resp.nheaders || strcmp(e->resp.headers[i].key,
		    r->key) != 0)
			fail_msg("%s: header %s missing or out of place", what,
			    r->key);
		if (strcmp(r->key, "X-Request-Id") != 0 &&
		    strcmp(e->resp.headers[i].value, r->value) != 0)
			fail_msg("%s: %s: \"%s\", not \"%s\"", what, r->key,
			    e->resp.headers[i].value, r->value);
		i++;
	}
	if (i != e->resp.nheaders)
		fail_msg("%s: extra header %s", what, e->resp.headers[i].key);
}

/*
 * ENV, refused by the guard, must answer
 * (a) exactly as the same request to /internal/no-such-route does when it
 *     carries the right secret (nothing tells a guarded route from a
 *     missing one, nor a wrong secret from a right one), and
 * (b) as the same request to an unknown public path, but for the CORS
 *     headers that /internal answers never carry.
 */
static void
expect_guarded(const struct apx_conf *conf, char **env)
{
	char *pub[16], *priv[17];
	struct ex e, a, b;
	size_t i, k = 0;

	for (i = 0; env[i] != NULL; i++) {
		assert_true(i < APX_NELEM(pub) - 1);
		pub[i] = strncmp(env[i], "REQUEST_URI=", 12) == 0 ?
		    "REQUEST_URI=/no-such-path" : env[i];
		if (strncmp(env[i], "HTTP_X_INTERNAL_SECRET=", 23) == 0)
			continue;
		priv[k++] = strncmp(env[i], "REQUEST_URI=", 12) == 0 ?
		    "REQUEST_URI=/internal/no-such-route" : env[i];
	}
	pub[i] = NULL;
	priv[k++] = "HTTP_X_INTERNAL_SECRET=" SECRET;
	priv[k] = NULL;

	ex_run(&e, conf, env, NO_RC);
	ex_run(&a, conf_secret, priv, NO_RC);
	ex_run(&b, conf, pub, NO_RC);
	assert_int_equal(e.init_rc, 0);
	assert_int_equal(e.resp.status, 404);
	assert_null(e.req.route);
	expect_same_answer(&e, &a, 0, "vs a missing internal route");
	expect_same_answer(&e, &b, 1, "vs an unknown public path");
	ex_done(&e);
	ex_done(&a);
	ex_done(&b);
}

static void
test_internal_without_secret_header(void **state)
{
	char *env[] = { "REQUEST_URI=/internal/metrics",
	    "HTTP_X_REQUEST_ID=same-id", NULL };

	(void)state;
	expect_guarded(conf_secret, env);
}

static void
test_internal_wrong_secret(void **state)
{
	static const char *const wrong[] = {
		"HTTP_X_INTERNAL_SECRET=wrong",
		"HTTP_X_INTERNAL_SECRET=",
		"HTTP_X_INTERNAL_SECRET=s3cret",		/* prefix */
		"HTTP_X_INTERNAL_SECRET=s3cret-value2",	/* longer */
		"HTTP_X_INTERNAL_SECRET=S3CRET-VALUE",
		"HTTP_X_INTERNAL_SECRET= s3cret-value",
	};
	char *env[4];
	size_t i;

	(void)state;
	env[0] = "REQUEST_URI=/internal/metrics";
	env[1] = "HTTP_X_REQUEST_ID=same-id";
	env[3] = NULL;
	for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		env[2] = (char *)(uintptr_t)wrong[i];
		expect_guarded(conf_secret, env);
	}
}

static void
test_internal_guard_before_router(void **state)
{
	/* Neither 405 nor a preflight answer gives the route away. */
	char *patch[] = { "REQUEST_METHOD=PATCH",
	    "REQUEST_URI=/internal/settings", "HTTP_X_REQUEST_ID=same-id",
	    "HTTP_X_INTERNAL_SECRET=nope", NULL };
	char *post[] = { "REQUEST_METHOD=POST",
	    "REQUEST_URI=/internal/metrics", "HTTP_X_REQUEST_ID=same-id",
	    NULL };
	char *pre[] = { "REQUEST_METHOD=OPTIONS",
	    "REQUEST_URI=/internal/metrics", "HTTP_X_REQUEST_ID=same-id",
	    "HTTP_ORIGIN=" ORIGIN, "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET",
	    NULL };
	char *prewrong[] = { "REQUEST_METHOD=OPTIONS",
	    "REQUEST_URI=/internal/settings", "HTTP_X_REQUEST_ID=same-id",
	    "HTTP_ORIGIN=" ORIGIN, "HTTP_ACCESS_CONTROL_REQUEST_METHOD=PATCH",
	    "HTTP_X_INTERNAL_SECRET=wrong", NULL };
	char *origin[] = { "REQUEST_URI=/internal/metrics",
	    "HTTP_X_REQUEST_ID=same-id", "HTTP_ORIGIN=" ORIGIN, NULL };

	(void)state;
	expect_guarded(conf_nosecret, patch);
	expect_guarded(conf_secret, patch);
	expect_guarded(conf_secret, post);
	expect_guarded(conf_secret, pre);
	expect_guarded(conf_secret, prewrong);
	expect_guarded(conf_nosecret, pre);
	expect_guarded(conf_secret, origin);
}

/* /internal answers never carry CORS headers, whatever the secret says. */
static void
test_internal_no_cors(void **state)
{
	char *guarded[] = { "REQUEST_URI=/internal/metrics",
	    "HTTP_ORIGIN=" ORIGIN, NULL };
	char *missing[] = { "REQUEST_URI=/internal/no-such-route",
	    "HTTP_ORIGIN=" ORIGIN, "HTTP_X_INTERNAL_SECRET=" SECRET, NULL };
	char *badmethod[] = { "REQUEST_METHOD=DELETE",
	    "REQUEST_URI=/internal/metrics", "HTTP_ORIGIN=" ORIGIN,
	    "HTTP_X_INTERNAL_SECRET=" SECRET, NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, guarded, NO_RC);
	assert_int_equal(e.resp.status, 404);
	assert_null(strstr(e.wire.data, "Access-Control-"));
	ex_done(&e);
	ex_run(&e, conf_secret, missing, NO_RC);
	assert_int_equal(e.resp.status, 404);
	assert_null(strstr(e.wire.data, "Access-Control-"));
	ex_done(&e);
	/* Past the guard: 405 on a real internal route, still no CORS. */
	ex_run(&e, conf_secret, badmethod, NO_RC);
	expect_problem(&e, 405, "method-not-allowed");
	assert_string_equal(hdr(&e, "Allow"), "GET");
	assert_null(strstr(e.wire.data, "Access-Control-"));
	ex_done(&e);
}

/*
 * docs/contract.md: "/internal answers never carry CORS headers". A
 * preflight that carries the right secret gets past the guard and is
 * answered by apx_cors_preflight, which sets Access-Control-Allow-* itself
 * (the dispatcher only skips apx_cors_decorate for /internal).
 */
static void
test_internal_preflight_with_secret_no_cors(void **state)
{
	char *env[] = { "REQUEST_METHOD=OPTIONS",
	    "REQUEST_URI=/internal/metrics", "HTTP_ORIGIN=" ORIGIN,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET",
	    "HTTP_X_INTERNAL_SECRET=" SECRET, NULL };
	struct ex e;
	int cors;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	if ((cors = strstr(e.wire.data, "Access-Control-") != NULL))
		print_message("/internal preflight answered with CORS headers "
		    "(status %d):\n%s", e.resp.status, e.wire.data);
	ex_done(&e);
	assert_false(cors);
}

static void
test_internal_no_secret_configured(void **state)
{
	char *right[] = { "REQUEST_URI=/internal/metrics",
	    "HTTP_X_REQUEST_ID=same-id",
	    "HTTP_X_INTERNAL_SECRET=" SECRET, NULL };
	char *empty[] = { "REQUEST_URI=/internal/metrics",
	    "HTTP_X_REQUEST_ID=same-id", "HTTP_X_INTERNAL_SECRET=", NULL };
	char *other[] = { "REQUEST_URI=/internal/settings",
	    "HTTP_X_REQUEST_ID=same-id", "HTTP_X_INTERNAL_SECRET=x", NULL };

	(void)state;
	expect_guarded(conf_nosecret, right);
	expect_guarded(conf_nosecret, empty);
	expect_guarded(conf_nosecret, other);
}

static void
test_internal_right_secret_unknown_route(void **state)
{
	/* Past the guard, an unknown internal path is an ordinary 404. */
	char *env[] = { "REQUEST_URI=/internal/nothing-here",
	    "HTTP_X_REQUEST_ID=same-id", "HTTP_X_INTERNAL_SECRET=" SECRET,
	    NULL };

	(void)state;
	expect_guarded(conf_secret, env);
}

/* --- CORS -------------------------------------------------------------- */

static void
test_cors_allowed_origin(void **state)
{
	char *env[] = { "REQUEST_URI=/healthz", "HTTP_ORIGIN=" ORIGIN, NULL };
	char *nf[] = { "REQUEST_URI=/nope", "HTTP_ORIGIN=" ORIGIN, NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	assert_int_equal(e.resp.status, 200);
	assert_string_equal(hdr(&e, "Access-Control-Allow-Origin"), ORIGIN);
	assert_string_equal(hdr(&e, "Access-Control-Allow-Credentials"),
	    "true");
	assert_non_null(hdr(&e, "Vary"));
	assert_non_null(strstr(hdr(&e, "Vary"), "Origin"));
	expect_security_headers(&e);
	ex_done(&e);
	/* Error answers are readable by the allowed origin too. */
	ex_run(&e, conf_secret, nf, NO_RC);
	assert_int_equal(e.resp.status, 404);
	assert_string_equal(hdr(&e, "Access-Control-Allow-Origin"), ORIGIN);
	ex_done(&e);
}

static void
test_cors_foreign_origin(void **state)
{
	static const char *const foreign[] = {
		"HTTP_ORIGIN=https://evil.example.test",
		"HTTP_ORIGIN=https://app.example.test.evil.test",
		"HTTP_ORIGIN=http://app.example.test",
		"HTTP_ORIGIN=https://app.example.test:443",
		"HTTP_ORIGIN=HTTPS://APP.EXAMPLE.TEST",
		"HTTP_ORIGIN=null",
		"HTTP_ORIGIN=",
	};
	char *env[3];
	struct ex e;
	size_t i;

	(void)state;
	env[0] = "REQUEST_URI=/healthz";
	env[2] = NULL;
	for (i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		env[1] = (char *)(uintptr_t)foreign[i];
		ex_run(&e, conf_secret, env, NO_RC);
		assert_int_equal(e.resp.status, 200);
		if (hdr(&e, "Access-Control-Allow-Origin") != NULL ||
		    hdr(&e, "Access-Control-Allow-Credentials") != NULL)
			fail_msg("CORS granted to %s", foreign[i]);
		assert_null(strstr(e.wire.data, "Access-Control-"));
		ex_done(&e);
	}
}

static void
test_preflight_allowed(void **state)
{
	char *env[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/healthz",
	    "HTTP_ORIGIN=" ORIGIN, "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS=content-type", NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	assert_int_equal(e.resp.status, 204);
	assert_string_equal(hdr(&e, "Access-Control-Allow-Origin"), ORIGIN);
	assert_string_equal(hdr(&e, "Access-Control-Allow-Credentials"),
	    "true");
	assert_string_equal(hdr(&e, "Access-Control-Allow-Methods"),
	    "GET, HEAD");
	assert_non_null(hdr(&e, "Access-Control-Allow-Headers"));
	assert_non_null(strstr(hdr(&e, "Access-Control-Allow-Headers"),
	    "content-type"));
	assert_non_null(hdr(&e, "Access-Control-Max-Age"));
	assert_non_null(strstr(hdr(&e, "Vary"), "Origin"));
	expect_security_headers(&e);
	/* 204: no length, no body. */
	assert_memory_equal(e.wire.data, "Status: 204 No Content\r\n", 24);
	assert_null(strstr(e.wire.data, "Content-Length"));
	assert_string_equal(e.wire.data + e.wire.len - 4, "\r\n\r\n");
	ex_done(&e);
}

static void
test_preflight_foreign_origin(void **state)
{
	char *env[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/healthz",
	    "HTTP_ORIGIN=https://evil.example.test",
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET", NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	expect_problem(&e, 403, "cors-origin-refused");
	assert_null(hdr(&e, "Access-Control-Allow-Origin"));
	assert_null(hdr(&e, "Access-Control-Allow-Methods"));
	assert_null(hdr(&e, "Access-Control-Allow-Credentials"));
	expect_security_headers(&e);
	ex_done(&e);
}

static void
test_preflight_method_refused(void **state)
{
	char *env[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/healthz",
	    "HTTP_ORIGIN=" ORIGIN, "HTTP_ACCESS_CONTROL_REQUEST_METHOD=DELETE",
	    NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	expect_problem(&e, 403, "cors-method-refused");
	assert_null(hdr(&e, "Access-Control-Allow-Methods"));
	ex_done(&e);
}

static void
test_preflight_unknown_path(void **state)
{
	char *env[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/nope",
	    "HTTP_ORIGIN=" ORIGIN, "HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET",
	    NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	expect_problem(&e, 404, "not-found");
	assert_null(hdr(&e, "Access-Control-Allow-Methods"));
	ex_done(&e);
}

static void
test_options_not_preflight(void **state)
{
	char *env[] = { "REQUEST_METHOD=OPTIONS", "REQUEST_URI=/healthz",
	    "HTTP_ORIGIN=" ORIGIN, NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	expect_problem(&e, 405, "method-not-allowed");
	assert_string_equal(hdr(&e, "Allow"), "GET, HEAD");
	ex_done(&e);
}

/* --- security.txt ------------------------------------------------------ */

static void
test_security_txt(void **state)
{
	char *env[] = { "REQUEST_URI=/.well-known/security.txt", NULL };
	struct ex e;
	const char *b;

	(void)state;
	ex_run(&e, conf_secret, env, NO_RC);
	assert_int_equal(e.resp.status, 200);
	assert_non_null(hdr(&e, "Content-Type"));
	assert_memory_equal(hdr(&e, "Content-Type"), "text/plain", 10);
	b = e.resp.body.data;
	assert_non_null(b);
	assert_non_null(strstr(b, "Contact: mailto:security@example.test\n"));
	assert_non_null(strstr(b, "Contact: https://example.test/security\n"));
	assert_non_null(strstr(b, "Expires: 2099-01-01T00:00:00Z\n"));
	assert_non_null(strstr(b, "Policy: https://example.test/policy\n"));
	/* The first line is a Contact line; optional fields left out. */
	assert_memory_equal(b, "Contact: ", 9);
	assert_null(strstr(b, "Hiring:"));
	assert_null(strstr(b, "Encryption:"));
	/* Public and cacheable, not no-store. */
	assert_string_equal(hdr(&e, "Cache-Control"), "public, max-age=3600");
	assert_null(strstr(e.wire.data, "no-store"));
	expect_security_headers(&e);
	ex_done(&e);
}

/* --- request parse failures -------------------------------------------- */

static void
test_init_rc_forced(void **state)
{
	char *env[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/healthz", NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, env, APX_ETOOBIG);
	expect_problem(&e, 413, "body-too-large");
	expect_security_headers(&e);
	assert_null(e.req.route);
	ex_done(&e);

	ex_run(&e, conf_secret, env, APX_EINVAL);
	expect_problem(&e, 400, "bad-request");
	expect_security_headers(&e);
	assert_null(e.req.route);
	ex_done(&e);
}

static void
test_init_rc_real(void **state)
{
	char *badcl[] = { "REQUEST_URI=/healthz", "CONTENT_LENGTH=abc",
	    "HTTP_ORIGIN=" ORIGIN, NULL };
	char *dots[] = { "REQUEST_URI=/%2e%2e/internal/metrics", NULL };
	char query[APX_HTTP_MAX_QUERY + 64];
	char *big[] = { query, NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_secret, badcl, NO_RC);
	assert_int_equal(e.init_rc, APX_EINVAL);
	expect_problem(&e, 400, "bad-request");
	expect_security_headers(&e);
	/* CORS still applies, so the browser can read the problem. */
	assert_string_equal(hdr(&e, "Access-Control-Allow-Origin"), ORIGIN);
	ex_done(&e);

	ex_run(&e, conf_secret, dots, NO_RC);
	assert_int_equal(e.init_rc, APX_EINVAL);
	expect_problem(&e, 400, "bad-request");
	ex_done(&e);

	/* "a=" and APX_HTTP_MAX_QUERY bytes: two over the cap. */
	snprintf(query, sizeof(query), "REQUEST_URI=/healthz?a=");
	memset(query + 23, 'x', APX_HTTP_MAX_QUERY);
	query[23 + APX_HTTP_MAX_QUERY] = '\0';
	ex_run(&e, conf_secret, big, NO_RC);
	assert_int_equal(e.init_rc, APX_EURITOOLONG);
	expect_problem(&e, 414, "uri-too-long");
	ex_done(&e);
}

static void
test_hsts_off(void **state)
{
	char *env[] = { "REQUEST_URI=/healthz", NULL };
	struct ex e;

	(void)state;
	ex_run(&e, conf_nohsts, env, NO_RC);
	assert_int_equal(e.resp.status, 200);
	assert_null(hdr(&e, "Strict-Transport-Security"));
	assert_string_equal(hdr(&e, "X-Frame-Options"), "DENY");
	ex_done(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_healthz_head),
		cmocka_unit_test(test_client_request_id_not_taken),
		cmocka_unit_test(test_healthz_post_405),
		cmocka_unit_test(test_unknown_path_404),
		cmocka_unit_test(test_internal_without_secret_header),
		cmocka_unit_test(test_internal_wrong_secret),
		cmocka_unit_test(test_internal_guard_before_router),
		cmocka_unit_test(test_internal_no_secret_configured),
		cmocka_unit_test(test_internal_right_secret_unknown_route),
		cmocka_unit_test(test_internal_no_cors),
		cmocka_unit_test(test_internal_preflight_with_secret_no_cors),
		cmocka_unit_test(test_cors_allowed_origin),
		cmocka_unit_test(test_cors_foreign_origin),
		cmocka_unit_test(test_preflight_allowed),
		cmocka_unit_test(test_preflight_foreign_origin),
		cmocka_unit_test(test_preflight_method_refused),
		cmocka_unit_test(test_preflight_unknown_path),
		cmocka_unit_test(test_options_not_preflight),
		cmocka_unit_test(test_security_txt),
		cmocka_unit_test(test_init_rc_forced),
		cmocka_unit_test(test_init_rc_real),
		cmocka_unit_test(test_hsts_off),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
