/*
 * Unit tests for auth/authcache.c: what is kept is found only by its whole
 * key, comes back as copies in the request's arena, ends with the
 * session's expiry and with a flush; a key's liveness and rotation grace
 * are judged at each use; its last use is recorded at most once a minute;
 * an org's member list is held whole, up to its bound.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth/authcache.h"
#include "core/apx.h"
#include "core/arena.h"
#include "core/buf.h"

static struct apx_user
user(void)
{
	struct apx_user u;

	memset(&u, 0, sizeof(u));
	u.id = 7;
	u.email = "ada@example.test";
	u.name = "Ada";
	u.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
	u.email_verified = 1;
	return u;
}

static struct apx_org_access
access_of(void)
{
	struct apx_org_access acc;

	memset(&acc, 0, sizeof(acc));
	acc.id = 3;
	acc.name = "Acme";
	acc.region = "eu";
	acc.allowlist = "203.0.113.0/24";
	acc.role = 2;
	acc.plan = 1;
	acc.ws = 9;
	return acc;
}

static void
test_session_hit_and_keys(void **state)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_user u = user(), got;
	struct apx_org_access acc = access_of(), gacc;
	int64_t later = apx_unix_now() + 3600;

	(void)state;
	apx_authcache_flush();
	apx_authcache_session_put(7, 11, NULL, 0, &u, NULL, later);
	apx_authcache_session_put(7, 11, "acme", 9, &u, &acc, later);
	/* an account without a password stays without one */
	u.password_hash = NULL;
	apx_authcache_session_put(7, 13, NULL, 0, &u, NULL, later);
	assert_int_equal(apx_authcache_session(7, 13, NULL, 0, a, &got, &gacc), 0);
	assert_null(got.password_hash);
	u = user();

	assert_int_equal(apx_authcache_session(7, 11, NULL, 0, a, &got, &gacc), 0);
	assert_string_equal(got.email, "ada@example.test");
	assert_true(got.email != u.email);	/* a copy */
	/* the routes that ask for the password again need its hash */
	assert_string_equal(got.password_hash, u.password_hash);
	assert_int_equal(got.email_verified, 1);

	assert_int_equal(apx_authcache_session(7, 11, "acme", 9, a, &got, &gacc), 0);
	assert_int_equal(gacc.id, 3);
	assert_string_equal(gacc.allowlist, "203.0.113.0/24");
	assert_int_equal(gacc.role, 2);

	/* every part of the key counts */
	assert_int_equal(apx_authcache_session(7, 12, NULL, 0, a, &got, &gacc),
	    APX_ENOTFOUND);
	assert_int_equal(apx_authcache_session(8, 11, NULL, 0, a, &got, &gacc),
	    APX_ENOTFOUND);
	assert_int_equal(apx_authcache_session(7, 11, "acme", 8, a, &got, &gacc),
	    APX_ENOTFOUND);
	assert_int_equal(apx_authcache_session(7, 11, "acme2", 9, a, &got, &gacc),
	    APX_ENOTFOUND);

	apx_authcache_flush();
	assert_int_equal(apx_authcache_session(7, 11, NULL, 0, a, &got, &gacc),
	    APX_ENOTFOUND);
	apx_arena_free(a);
}

static void
test_session_ends_with_its_expiry(void **state)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_user u = user(), got;
	struct apx_org_access gacc;

	(void)state;
	apx_authcache_flush();
	apx_authcache_session_put(7, 21, NULL, 0, &u, NULL, apx_unix_now() - 1);
	assert_int_equal(apx_authcache_session(7, 21, NULL, 0, a, &got, &gacc),
	    APX_ENOTFOUND);
	apx_arena_free(a);
}

static void
test_overlong_slug_is_never_kept(void **state)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_user u = user(), got;
	struct apx_org_access acc = access_of(), gacc;
	char slug[200];

	(void)state;
	memset(slug, 'a', sizeof(slug) - 1);
	slug[sizeof(slug) - 1] = '\0';
	apx_authcache_flush();
	apx_authcache_session_put(7, 31, slug, 0, &u, &acc, apx_unix_now() + 60);
	assert_int_equal(apx_authcache_session(7, 31, slug, 0, a, &got, &gacc),
	    APX_ENOTFOUND);
	apx_arena_free(a);
}

static void
test_apikey_judged_at_each_use(void **state)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_apikey_auth k, got;
	struct apx_apikey_times t = { 0, 0, 0 };
	int64_t now = apx_unix_now();
	int touch;

	(void)state;
	apx_authcache_flush();
	memset(&k, 0, sizeof(k));
	k.id = 5;
	k.org_id = 3;
	k.holder = user();
	memset(k.hash, 0xab, sizeof(k.hash));

	t.expires_at = now + 3600;
	t.previous_until = now + 60;
	apx_authcache_apikey_put("abcdefghijkl", &k, &t);
	assert_int_equal(apx_authcache_apikey("abcdefghijkl", a, &got, &touch), 0);
	assert_true(got.live);
	assert_true(got.previous_ok);
	assert_memory_equal(got.hash, k.hash, sizeof(k.hash));
	assert_string_equal(got.holder.email, "ada@example.test");
	assert_null(got.holder.password_hash);
	/* just recorded (the lookup that filled it was followed by one) */
	assert_int_equal(touch, 0);
	assert_int_equal(apx_authcache_apikey("abcdefghijkm", a, &got, &touch),
	    APX_ENOTFOUND);
	assert_int_equal(touch, 1);

	/* the grace over, the key expired: judged now, not when kept */
	t.previous_until = now - 1;
	t.expires_at = now;
	apx_authcache_apikey_put("abcdefghijkl", &k, &t);
	assert_int_equal(apx_authcache_apikey("abcdefghijkl", a, &got, &touch), 0);
	assert_false(got.live);
	assert_false(got.previous_ok);
	apx_arena_free(a);
}

static void
test_judge(void **state)
{
	struct apx_apikey_auth k;
	struct apx_apikey_times t = { 0, 0, 0 };

	(void)state;
	memset(&k, 0, sizeof(k));
	apx_apikey_judge(&k, &t, 1000);
	assert_true(k.live);		/* no expiry */
	assert_false(k.previous_ok);	/* no rotation */
	t.revoked = 1;
	apx_apikey_judge(&k, &t, 1000);
	assert_false(k.live);
	t.revoked = 0;
	t.expires_at = 1001;
	t.previous_until = 1001;
	apx_apikey_judge(&k, &t, 1000);
	assert_true(k.live);
	assert_true(k.previous_ok);
	apx_apikey_judge(&k, &t, 1001);
	assert_false(k.live);
	assert_false(k.previous_ok);
}

static void
test_org_access(void **state)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_org_access acc = access_of(), got;

	(void)state;
	apx_authcache_flush();
	apx_authcache_org_put("acme", 7, 0, 9, &acc);
	assert_int_equal(apx_authcache_org("acme", 7, 0, 9, a, &got), 0);
	assert_string_equal(got.name, "Acme");
	assert_true(got.name != acc.name);
	assert_int_equal(apx_authcache_org("acme", 7, 0, 0, a, &got),
	    APX_ENOTFOUND);
	assert_int_equal(apx_authcache_org("acme", 8, 0, 9, a, &got),
	    APX_ENOTFOUND);
	apx_authcache_flush();
	assert_int_equal(apx_authcache_org("acme", 7, 0, 9, a, &got),
	    APX_ENOTFOUND);
	apx_arena_free(a);
}

static void
test_member_list(void **state)
{
	static char big[APX_AUTHCACHE_MEMBERS_MAX + 1];
	const char *body = "{\"members\":[{\"user_id\":7}]}";
	struct apx_buf b;

	(void)state;
	memset(&b, 0, sizeof(b));
	apx_authcache_flush();
	assert_int_equal(apx_authcache_members(3, &b), APX_ENOTFOUND);
	apx_authcache_members_put(3, body, strlen(body));
	/* the whole body, appended; another org is not it */
	assert_int_equal(apx_buf_add(&b, "x", 1), 0);
	assert_int_equal(apx_authcache_members(3, &b), 0);
	assert_int_equal(b.len, 1 + strlen(body));
	assert_memory_equal(b.data + 1, body, strlen(body));
	apx_buf_reset(&b);
	assert_int_equal(apx_authcache_members(3 + 32, &b), APX_ENOTFOUND);
	assert_int_equal(apx_authcache_members(4, &b), APX_ENOTFOUND);
	assert_int_equal(b.len, 0);
	/* a later answer replaces it; a flush ends it */
	apx_authcache_members_put(3, "{}", 2);
	assert_int_equal(apx_authcache_members(3, &b), 0);
	assert_int_equal(b.len, 2);
	apx_authcache_flush();
	apx_buf_reset(&b);
	assert_int_equal(apx_authcache_members(3, &b), APX_ENOTFOUND);
	/* the largest list held, and one byte more is not */
	memset(big, 'a', sizeof(big));
	apx_authcache_members_put(5, big, sizeof(big) - 1);
	assert_int_equal(apx_authcache_members(5, &b), 0);
	assert_int_equal(b.len, sizeof(big) - 1);
	apx_authcache_members_put(6, big, sizeof(big));
	apx_buf_reset(&b);
	assert_int_equal(apx_authcache_members(6, &b), APX_ENOTFOUND);
	apx_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_hit_and_keys),
		cmocka_unit_test(test_session_ends_with_its_expiry),
		cmocka_unit_test(test_overlong_slug_is_never_kept),
		cmocka_unit_test(test_apikey_judged_at_each_use),
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_org_access),
		cmocka_unit_test(test_member_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
