/*
 * Unit tests for http/router.c: matching on a local table with path
 * parameters, 405 vs 404, parameters by name, the Allow string, the
 * start-up table check, and the real table of this binary.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "http/router.h"
#include "routes/routes.h"

static int	 setup_arena(void **);
static int	 teardown_arena(void **);
static int	 h_health(struct apx_ctx *);
static int	 h_org(struct apx_ctx *);
static int	 h_item(struct apx_ctx *);
static int	 h_item_del(struct apx_ctx *);
static int	 h_items_post(struct apx_ctx *);
static int	 h_root(struct apx_ctx *);
static void	 mkreq(struct apx_arena *, struct apx_request *,
		    const char *);

#define GH	(APX_M_GET | APX_M_HEAD)

static const struct apx_route table[] = {
	{ "/healthz", GH, h_health, 0, NULL },
	{ "/orgs/{org}", APX_M_GET, h_org, 0, NULL },
	{ "/orgs/{org}/items/{id}", GH, h_item, 0, NULL },
	{ "/orgs/{org}/items/{id}", APX_M_DELETE, h_item_del, 0, NULL },
	{ "/orgs/{org}/items", APX_M_POST, h_items_post, 0, NULL },
	{ "/", APX_M_GET, h_root, 0, NULL },
};

/* Distinct bodies so that the handlers are distinct functions. */
static int
h_health(struct apx_ctx *c)
{
	(void)c;
	return 1;
}

static int
h_org(struct apx_ctx *c)
{
	(void)c;
	return 2;
}

static int
h_item(struct apx_ctx *c)
{
	(void)c;
	return 3;
}

static int
h_item_del(struct apx_ctx *c)
{
	(void)c;
	return 4;
}

static int
h_items_post(struct apx_ctx *c)
{
	(void)c;
	return 5;
}

static int
h_root(struct apx_ctx *c)
{
	(void)c;
	return 6;
}

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

static void
mkreq(struct apx_arena *a, struct apx_request *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->arena = a;
	assert_int_equal(apx_http_split_path(a, path, strlen(path), r->segs,
	    APX_HTTP_MAX_SEGMENTS, &r->nsegs), 0);
}

/* --- apx_router_match -------------------------------------------------- */

static void
test_match_static(void **state)
{
	struct apx_request r;
	int allow = -1;

	mkreq(*state, &r, "/healthz");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_GET, &allow), APX_MATCH_OK);
	assert_ptr_equal(r.route, &table[0]);
	assert_int_equal(r.route->handler(NULL), 1);
	assert_int_equal(r.nparams, 0);
	assert_int_equal(allow, GH);

	mkreq(*state, &r, "/healthz/");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_HEAD, &allow), APX_MATCH_OK);
	assert_ptr_equal(r.route, &table[0]);
}

static void
test_match_root(void **state)
{
	struct apx_request r;
	int allow = 0;

	mkreq(*state, &r, "/");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_GET, &allow), APX_MATCH_OK);
	assert_ptr_equal(r.route, &table[5]);
	assert_int_equal(allow, APX_M_GET);
}

static void
test_match_params(void **state)
{
	struct apx_request r;
	int allow = 0;

	mkreq(*state, &r, "/orgs/acme/items/42");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_GET, &allow), APX_MATCH_OK);
	assert_ptr_equal(r.route, &table[2]);
	assert_int_equal(r.nparams, 2);
	assert_string_equal(r.params[0], "acme");
	assert_string_equal(r.params[1], "42");
	/* The mask covers every route on this path, not only the match. */
	assert_int_equal(allow, GH | APX_M_DELETE);

	mkreq(*state, &r, "/orgs/acme");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_GET, &allow), APX_MATCH_OK);
	assert_ptr_equal(r.route, &table[1]);
	assert_int_equal(r.nparams, 1);
	assert_string_equal(r.params[0], "acme");
}

static void
test_match_second_route_same_path(void **state)
{
	struct apx_request r;
	int allow = 0;

	mkreq(*state, &r, "/orgs/acme/items/42");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_DELETE, &allow), APX_MATCH_OK);
	assert_ptr_equal(r.route, &table[3]);
	assert_int_equal(r.route->handler(NULL), 4);
	assert_string_equal(apx_req_param(&r, "id"), "42");
	assert_int_equal(allow, GH | APX_M_DELETE);
}

static void
test_match_decoded_param(void **state)
{
	struct apx_request r;
	int allow = 0;

	mkreq(*state, &r, "/orgs/ac%20me%3F/items");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_POST, &allow), APX_MATCH_OK);
	assert_ptr_equal(r.route, &table[4]);
	assert_string_equal(apx_req_param(&r, "org"), "ac me?");
}

static void
test_match_nomethod(void **state)
{
	struct apx_request r;
	int allow = 0;

	mkreq(*state, &r, "/orgs/acme/items/42");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_POST, &allow), APX_MATCH_NOMETHOD);
	assert_null(r.route);
	assert_int_equal(r.nparams, 0);
	assert_int_equal(allow, GH | APX_M_DELETE);

	mkreq(*state, &r, "/healthz");
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_OTHER, &allow), APX_MATCH_NOMETHOD);
	assert_int_equal(allow, GH);
}

static void
test_match_nopath(void **state)
{
	static const char *const paths[] = {
		"/nope", "/health", "/healthzz", "/orgs", "/orgs/a/items/1/x",
		"/orgs/a/things/1", "/HEALTHZ", "/healthz/x",
	};
	struct apx_request r;
	size_t i;
	int allow;

	for (i = 0; i < APX_NELEM(paths); i++) {
		mkreq(*state, &r, paths[i]);
		allow = -1;
		if (apx_router_match(table, APX_NELEM(table), &r, APX_M_GET,
		    &allow) != APX_MATCH_NOPATH)
			fail_msg("%s matched", paths[i]);
		assert_null(r.route);
		assert_int_equal(allow, 0);
	}
}

static void
test_match_empty_table(void **state)
{
	struct apx_request r;
	int allow = -1;

	mkreq(*state, &r, "/healthz");
	assert_int_equal(apx_router_match(table, 0, &r, APX_M_GET, &allow),
	    APX_MATCH_NOPATH);
	assert_int_equal(allow, 0);
}

/* --- apx_req_param ----------------------------------------------------- */

static void
test_req_param(void **state)
{
	struct apx_request r;
	int allow;

	mkreq(*state, &r, "/orgs/acme/items/42");
	/* Nothing before a match. */
	assert_null(apx_req_param(&r, "org"));
	assert_int_equal(apx_router_match(table, APX_NELEM(table), &r,
	    APX_M_GET, &allow), APX_MATCH_OK);
	assert_string_equal(apx_req_param(&r, "org"), "acme");
	assert_string_equal(apx_req_param(&r, "id"), "42");
	assert_null(apx_req_param(&r, "nope"));
	/* Prefixes and extensions of a name are other names. */
	assert_null(apx_req_param(&r, "or"));
	assert_null(apx_req_param(&r, "orgs"));
	assert_null(apx_req_param(&r, "i"));
	assert_null(apx_req_param(&r, ""));
}

/* --- apx_router_allow -------------------------------------------------- */

static void
test_router_allow(void **state)
{
	assert_string_equal(apx_router_allow(*state, GH), "GET, HEAD");
	assert_string_equal(apx_router_allow(*state, APX_M_GET), "GET");
	/* Canonical order whatever the bit order asked. */
	assert_string_equal(apx_router_allow(*state, APX_M_PATCH | APX_M_GET),
	    "GET, PATCH");
	assert_string_equal(apx_router_allow(*state, APX_M_GET | APX_M_HEAD |
	    APX_M_POST | APX_M_PUT | APX_M_PATCH | APX_M_DELETE |
	    APX_M_OPTIONS), "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	assert_string_equal(apx_router_allow(*state, 0), "");
	/* OTHER is not a method one can allow. */
	assert_string_equal(apx_router_allow(*state, APX_M_OTHER | APX_M_PUT),
	    "PUT");
}

/* --- apx_router_check -------------------------------------------------- */

static void
test_check_good_table(void **state)
{
	char err[128] = "untouched";

	(void)state;
	assert_int_equal(apx_router_check(table, APX_NELEM(table), err,
	    sizeof(err)), 0);
	assert_string_equal(err, "untouched");
}

static void
test_check_malformed(void **state)
{
	const struct apx_route bad[][1] = {
		{ { "healthz", APX_M_GET, h_health, 0 } },
		{ { "", APX_M_GET, h_health, 0 } },
		{ { "/healthz", 0, h_health, 0, NULL } },
		{ { "/healthz", APX_M_GET, NULL, 0, NULL } },
		{ { "//healthz", APX_M_GET, h_health, 0, NULL } },
		{ { "/a//b", APX_M_GET, h_health, 0, NULL } },
	};
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(bad); i++) {
		err[0] = '\0';
		if (apx_router_check(bad[i], 1, err, sizeof(err)) !=
		    APX_EINVAL)
			fail_msg("route \"%s\" passed the check",
			    bad[i][0].pattern);
		assert_non_null(strstr(err, "malformed"));
		assert_non_null(strstr(err, bad[i][0].pattern));
	}
}

static void
test_check_duplicate(void **state)
{
	const struct apx_route dup[] = {
		{ "/healthz", GH, h_health, 0, NULL },
		{ "/other", APX_M_GET, h_org, 0, NULL },
		{ "/healthz", APX_M_HEAD, h_item, 0, NULL },
	};
	char err[128] = "";

	(void)state;
	assert_int_equal(apx_router_check(dup, APX_NELEM(dup), err,
	    sizeof(err)), APX_EINVAL);
	assert_string_equal(err, "route /healthz is declared twice");
}

static void
test_check_same_path_other_methods(void **state)
{
	const struct apx_route ok[] = {
		{ "/things/{id}", GH, h_health, 0, NULL },
		{ "/things/{id}", APX_M_PATCH, h_org, 0, NULL },
		{ "/things/{id}", APX_M_DELETE, h_item, 0, NULL },
	};
	char err[128] = "";

	(void)state;
	assert_int_equal(apx_router_check(ok, APX_NELEM(ok), err,
	    sizeof(err)), 0);
}

/*
 * Two patterns that differ only in their parameter names match exactly
 * the same requests: with overlapping methods the second is unreachable,
 * which is the "declared twice" the check exists to catch.
 */
static void
test_check_duplicate_param_names(void **state)
{
	const struct apx_route dup[] = {
		{ "/orgs/{org}/items/{id}", APX_M_GET, h_item, 0, NULL },
		{ "/orgs/{o}/items/{item}", GH, h_org, 0, NULL },
	};
	char err[128] = "";

	(void)state;
	assert_int_equal(apx_router_check(dup, APX_NELEM(dup), err,
	    sizeof(err)), APX_EINVAL);
	assert_non_null(strstr(err, "declared twice"));
}

/*
 * A parameter is "{name}" as a whole segment. An unbalanced or empty
 * brace is a typo that silently turns the segment into a literal (or into
 * a parameter apx_req_param can never name): "well formed" should refuse
 * it at start-up.
 */
static void
test_check_malformed_params(void **state)
{
	const struct apx_route bad[][1] = {
		{ { "/orgs/{org", APX_M_GET, h_org, 0, NULL } },
		{ { "/orgs/org}", APX_M_GET, h_org, 0, NULL } },
		{ { "/orgs/{}", APX_M_GET, h_org, 0, NULL } },
		{ { "/orgs/x{org}", APX_M_GET, h_org, 0, NULL } },
		{ { "/orgs/{o/rg}", APX_M_GET, h_org, 0, NULL } },
	};
	char err[128];
	size_t i, passed = 0;

	(void)state;
	for (i = 0; i < APX_NELEM(bad); i++) {
		err[0] = '\0';
		if (apx_router_check(bad[i], 1, err, sizeof(err)) !=
		    APX_EINVAL) {
			print_message("route \"%s\" passed the check\n",
			    bad[i][0].pattern);
			passed++;
		}
	}
	assert_int_equal(passed, 0);
}

/* --- the real route table ---------------------------------------------- */

static void
test_real_table_passes_check(void **state)
{
	const struct apx_route *rt;
	char err[256] = "";
	size_t n = 0;

	(void)state;
	rt = apx_routes(&n);
	assert_non_null(rt);
	assert_true(n > 0);
	if (apx_router_check(rt, n, err, sizeof(err)) != 0)
		fail_msg("real route table refused: %s", err);
}

static void
test_real_table_contents(void **state)
{
	const struct apx_route *rt;
	struct apx_request r;
	size_t n = 0;
	int allow = 0;

	rt = apx_routes(&n);
	mkreq(*state, &r, "/healthz");
	assert_int_equal(apx_router_match(rt, n, &r, APX_M_GET, &allow),
	    APX_MATCH_OK);
	assert_int_equal(r.route->flags, 0);
	assert_int_equal(allow, GH);

	/* Every /internal route is behind the shared secret. */
	mkreq(*state, &r, "/internal/settings");
	assert_int_equal(apx_router_match(rt, n, &r, APX_M_PATCH, &allow),
	    APX_MATCH_OK);
	assert_true(r.route->flags & APX_ROUTE_INTERNAL);
	assert_true(r.route->flags & APX_ROUTE_DB);
	assert_int_equal(allow, APX_M_GET | APX_M_PATCH);
	for (size_t i = 0; i < n; i++)
		if (strncmp(rt[i].pattern, "/internal/", 10) == 0 &&
		    !(rt[i].flags & APX_ROUTE_INTERNAL))
			fail_msg("%s lacks APX_ROUTE_INTERNAL", rt[i].pattern);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_arena, teardown_arena)
	const struct CMUnitTest tests[] = {
		T(test_match_static),
		T(test_match_root),
		T(test_match_params),
		T(test_match_second_route_same_path),
		T(test_match_decoded_param),
		T(test_match_nomethod),
		T(test_match_nopath),
		T(test_match_empty_table),
		T(test_req_param),
		T(test_router_allow),
		T(test_check_good_table),
		T(test_check_malformed),
		T(test_check_duplicate),
		T(test_check_same_path_other_methods),
		T(test_check_duplicate_param_names),
		T(test_check_malformed_params),
		T(test_real_table_passes_check),
		T(test_real_table_contents),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
