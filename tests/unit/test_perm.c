/*
 * Unit tests for authz/perm.c: the permission table's shape, the start-up
 * check of route tables against it, and the member/role value rules
 * (exhaustively over every role combination).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "authz/perm.h"
#include "http/router.h"
#include "routes/routes.h"

static int	 h(struct apx_ctx *);
static int	 data_perm(const char *);

static int
h(struct apx_ctx *c)
{
	(void)c;
	return 0;
}

/* Rows of the org's forecast data, which analysts change. */
static int
data_perm(const char *name)
{
	return strcmp(name, "uploads.write") == 0 ||
	    strcmp(name, "forecasts.write") == 0;
}

static void
test_names(void **state)
{
	(void)state;
	assert_int_equal(apx_role_parse("owner"), APX_ROLE_OWNER);
	assert_int_equal(apx_role_parse("viewer"), APX_ROLE_VIEWER);
	assert_int_equal(apx_role_parse("none"), APX_ROLE_NONE);
	assert_int_equal(apx_role_parse("Owner"), APX_ROLE_NONE);
	assert_int_equal(apx_role_parse(""), APX_ROLE_NONE);
	assert_int_equal(apx_role_parse(NULL), APX_ROLE_NONE);
	assert_string_equal(apx_role_name(APX_ROLE_ANALYST), "analyst");
	assert_string_equal(apx_role_name(99), "none");
	assert_string_equal(apx_role_name(-1), "none");
	assert_int_equal(apx_plan_parse("growth"), APX_PLAN_GROWTH);
	assert_int_equal(apx_plan_parse("enterprise"), APX_PLAN_NONE);
	assert_string_equal(apx_plan_name(APX_PLAN_AGENCY), "agency");
	assert_true(APX_ROLE_VIEWER < APX_ROLE_ANALYST &&
	    APX_ROLE_ANALYST < APX_ROLE_ADMIN &&
	    APX_ROLE_ADMIN < APX_ROLE_OWNER);
	assert_true(APX_PLAN_FREE < APX_PLAN_GROWTH &&
	    APX_PLAN_GROWTH < APX_PLAN_AGENCY);
}

static void
test_table_shape(void **state)
{
	const struct apx_perm *t;
	size_t i, j, n;

	(void)state;
	t = apx_perm_table(&n);
	assert_true(n > 4);
	for (i = 0; i < n; i++) {
		assert_ptr_equal(apx_perm_find(t[i].name), &t[i]);
		for (j = i + 1; j < n; j++)
			assert_string_not_equal(t[i].name, t[j].name);
		if (t[i].scope == APX_SCOPE_ORG) {
			/* Every org row names a role and a plan. */
			assert_true(t[i].role >= APX_ROLE_VIEWER);
			assert_true(t[i].plan >= APX_PLAN_FREE);
			/* Writes need admin at least; the org's own data
			 * (uploads, forecasts) analyst. */
			if (strstr(t[i].name, ".write") != NULL)
				assert_true(t[i].role >= (data_perm(t[i].name) ?
				    APX_ROLE_ANALYST : APX_ROLE_ADMIN));
		}
	}
	assert_null(apx_perm_find("no.such"));
	assert_null(apx_perm_find(NULL));
	/* Managing people and credentials is never for API keys. */
	assert_true(apx_perm_find("members.write")->user_only);
	assert_true(apx_perm_find("apikeys.write")->user_only);
	assert_true(apx_perm_find("ipallow.write")->user_only);
	assert_true(apx_perm_find("invitations.write")->user_only);
	assert_int_equal(apx_perm_find("apikeys.read")->plan, APX_PLAN_GROWTH);
}

static void
check_one(const struct apx_route *r, int want_ok)
{
	char err[256];

	err[0] = '\0';
	assert_int_equal(apx_perm_check_routes(r, 1, err, sizeof(err)),
	    want_ok ? 0 : APX_ECONFIG);
	if (!want_ok)
		assert_non_null(strstr(err, r->pattern));
}

static void
test_route_check(void **state)
{
	const int A = APX_ROUTE_AUTH | APX_ROUTE_DB;
	const struct apx_route good[] = {
		{ "/healthz", APX_M_GET, h, 0, "public" },
		{ "/api/v1/orgs/{org}/members", APX_M_GET, h, A,
		    "members.read" },
		{ "/admin/api/orgs", APX_M_GET, h, A, "superuser" },
		{ "/internal/x", APX_M_GET, h, APX_ROUTE_INTERNAL,
		    "internal" },
		{ "/api/v1/me", APX_M_GET, h, A, "user" },
	};
	const struct apx_route bad[] = {
		/* a route added without a row */
		{ "/api/v1/orgs/{org}/new", APX_M_GET, h, A, NULL },
		{ "/api/v1/orgs/{org}/new", APX_M_GET, h, A, "new.read" },
		/* an org route with a user permission: no membership check */
		{ "/api/v1/orgs/{org}/x", APX_M_GET, h, A, "user" },
		/* an org permission outside /api/v1/orgs/{org} */
		{ "/api/v1/x", APX_M_GET, h, A, "org.read" },
		{ "/admin/api/x", APX_M_GET, h, A, "user" },
		{ "/api/v1/x", APX_M_GET, h, A, "superuser" },
		{ "/internal/x", APX_M_GET, h, 0, "public" },
		{ "/x", APX_M_GET, h, APX_ROUTE_INTERNAL, "internal" },
		/* a guarded route that does not authenticate */
		{ "/api/v1/me", APX_M_GET, h, APX_ROUTE_DB, "user" },
		/* a public route that does */
		{ "/healthz", APX_M_GET, h, A, "public" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(good); i++)
		check_one(&good[i], 1);
	for (i = 0; i < APX_NELEM(bad); i++)
		check_one(&bad[i], 0);
}

static void
test_real_routes(void **state)
{
	const struct apx_route *rt;
	char err[256];
	size_t i, n;

	(void)state;
	rt = apx_routes(&n);
	assert_int_equal(apx_routes_check(err, sizeof(err)), 0);
	for (i = 0; i < n; i++) {
		const struct apx_perm *p = apx_perm_find(rt[i].perm);

		assert_non_null(p);
		if (strncmp(rt[i].pattern, "/api/v1/orgs/{org}", 18) == 0)
			assert_int_equal(p->scope, APX_SCOPE_ORG);
		/* Anything that changes state needs more than viewer,
		 * except leaving an org oneself: admin, or analyst for the
		 * org's own data. */
		if (p->scope == APX_SCOPE_ORG && (rt[i].methods &
		    ~(APX_M_GET | APX_M_HEAD)) &&
		    strcmp(p->name, "membership.leave") != 0)
			assert_true(p->role >= (data_perm(p->name) ?
			    APX_ROLE_ANALYST : APX_ROLE_ADMIN));
	}
}

/* The model the rules must follow, written independently of perm.c. */
static int
expect_change(int actor, int old, int nw, int owners, int self)
{
	int loses = old == APX_ROLE_OWNER && nw != APX_ROLE_OWNER;

	if (self && nw == APX_ROLE_NONE)
		return loses && owners <= 1 ? APX_CHANGE_LAST_OWNER :
		    APX_CHANGE_OK;
	if (actor < APX_ROLE_ADMIN)
		return APX_CHANGE_FORBIDDEN;
	if (actor != APX_ROLE_OWNER && (old == APX_ROLE_OWNER ||
	    nw == APX_ROLE_OWNER || old > actor || nw > actor))
		return APX_CHANGE_FORBIDDEN;
	return loses && owners <= 1 ? APX_CHANGE_LAST_OWNER : APX_CHANGE_OK;
}

static void
test_member_change_exhaustive(void **state)
{
	int actor, old, nw, owners, self;

	(void)state;
	for (actor = APX_ROLE_VIEWER; actor <= APX_ROLE_OWNER; actor++)
	for (old = APX_ROLE_VIEWER; old <= APX_ROLE_OWNER; old++)
	for (nw = APX_ROLE_NONE; nw <= APX_ROLE_OWNER; nw++)
	for (owners = 1; owners <= 2; owners++)
	for (self = 0; self <= 1; self++) {
		if (self && old != actor)
			continue;	/* one's own role is one's role */
		assert_int_equal(apx_perm_member_change(actor, old, nw, owners,
		    self), expect_change(actor, old, nw, owners, self));
	}
}

static void
test_member_change_cases(void **state)
{
	(void)state;
	/* the last owner can neither leave nor be demoted */
	assert_int_equal(apx_perm_member_change(APX_ROLE_OWNER, APX_ROLE_OWNER,
	    APX_ROLE_NONE, 1, 1), APX_CHANGE_LAST_OWNER);
	assert_int_equal(apx_perm_member_change(APX_ROLE_OWNER, APX_ROLE_OWNER,
	    APX_ROLE_ADMIN, 1, 1), APX_CHANGE_LAST_OWNER);
	/* with a second owner, yes */
	assert_int_equal(apx_perm_member_change(APX_ROLE_OWNER, APX_ROLE_OWNER,
	    APX_ROLE_NONE, 2, 1), APX_CHANGE_OK);
	/* admins do not touch owners nor make them */
	assert_int_equal(apx_perm_member_change(APX_ROLE_ADMIN, APX_ROLE_OWNER,
	    APX_ROLE_NONE, 2, 0), APX_CHANGE_FORBIDDEN);
	assert_int_equal(apx_perm_member_change(APX_ROLE_ADMIN,
	    APX_ROLE_VIEWER, APX_ROLE_OWNER, 1, 0), APX_CHANGE_FORBIDDEN);
	assert_int_equal(apx_perm_member_change(APX_ROLE_ADMIN,
	    APX_ROLE_VIEWER, APX_ROLE_ADMIN, 1, 0), APX_CHANGE_OK);
	/* a viewer leaves; cannot remove others */
	assert_int_equal(apx_perm_member_change(APX_ROLE_VIEWER,
	    APX_ROLE_VIEWER, APX_ROLE_NONE, 1, 1), APX_CHANGE_OK);
	assert_int_equal(apx_perm_member_change(APX_ROLE_VIEWER,
	    APX_ROLE_ANALYST, APX_ROLE_NONE, 1, 0), APX_CHANGE_FORBIDDEN);
	/* grants */
	assert_true(apx_perm_may_grant(APX_ROLE_OWNER, APX_ROLE_OWNER));
	assert_true(apx_perm_may_grant(APX_ROLE_ADMIN, APX_ROLE_ADMIN));
	assert_false(apx_perm_may_grant(APX_ROLE_ADMIN, APX_ROLE_OWNER));
	assert_false(apx_perm_may_grant(APX_ROLE_ANALYST, APX_ROLE_VIEWER));
	assert_false(apx_perm_may_grant(APX_ROLE_OWNER, APX_ROLE_NONE));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_table_shape),
		cmocka_unit_test(test_route_check),
		cmocka_unit_test(test_real_routes),
		cmocka_unit_test(test_member_change_exhaustive),
		cmocka_unit_test(test_member_change_cases),
	};

	return cmocka_run_group_tests_name("perm", tests, NULL, NULL);
}
