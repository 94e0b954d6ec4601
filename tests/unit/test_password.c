/* Password policy, argon2id hashing, rehash detection. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "auth/password.h"
#include "core/apx.h"

static int
check(const char *pw, const char *email, const char *name)
{
	const char *reason = NULL;
	int rc = apx_password_check(pw, strlen(pw), email, name, &reason);

	/* A refusal always says why; an acceptance never does. */
	if (rc == 0)
		assert_null(reason);
	else
		assert_non_null(reason);
	return rc;
}

static void
test_length_edges(void **state)
{
	char buf[300];
	const char *reason;

	(void)state;
	/* 11 / 12 / 256 / 257 bytes as received. */
	memcpy(buf, "Tq7#vL2!pZx9wK4mBn8$rT5&yH3^jF6*cD1@sG0%aE7-", 44);
	assert_int_equal(apx_password_check(buf, 11, NULL, NULL, &reason),
	    APX_EINVAL);
	assert_int_equal(apx_password_check(buf, 12, NULL, NULL, &reason), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = "Tq7#vL2!pZx9wK4mBn8$rT5&yH3^jF6*cD1@sG0%aE7-"[i % 43];
	assert_int_equal(apx_password_check(buf, 256, NULL, NULL, &reason), 0);
	assert_int_equal(apx_password_check(buf, 257, NULL, NULL, &reason),
	    APX_EINVAL);
}

static void
test_multibyte_counts_bytes(void **state)
{
	/* Four 3-byte characters = 12 bytes; three = 9 bytes. */
	const char *four = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe5\xad\x97";
	const char *reason;

	(void)state;
	assert_int_equal(strlen(four), 12);
	/* 12 bytes but only 12 distinct bytes of 4 characters: fine. */
	assert_int_equal(apx_password_check(four, 12, NULL, NULL, &reason), 0);
	assert_int_equal(apx_password_check(four, 9, NULL, NULL, &reason),
	    APX_EINVAL);
	/* A character cut in half is not UTF-8. */
	assert_int_equal(apx_password_check("abcdefghijk\xe6\x97", 13, NULL,
	    NULL, &reason), APX_EINVAL);
	assert_int_equal(apx_password_check("abcdefghijk\xc0\xaf", 13, NULL,
	    NULL, &reason), APX_EINVAL);	/* overlong '/' */
	assert_int_equal(apx_password_check("abcdef\0hijklm", 13, NULL, NULL,
	    &reason), APX_EINVAL);
}

static void
test_common_and_variants(void **state)
{
	(void)state;
	assert_true(apx_password_is_common("password", 8));
	assert_true(apx_password_is_common("PassWord", 8));
	assert_false(apx_password_is_common("Tq7#vL2!pZx9", 12));
	assert_int_equal(check("password1234", NULL, NULL), APX_EINVAL);
	assert_int_equal(check("2024!Password!!", NULL, NULL), APX_EINVAL);
	assert_int_equal(check("qwertyuiop12", NULL, NULL), APX_EINVAL);
	assert_int_equal(check("correct horse battery staple", NULL, NULL), 0);
}

static void
test_repetitive(void **state)
{
	(void)state;
	assert_int_equal(check("aaaaaaaaaaaa", NULL, NULL), APX_EINVAL);
	assert_int_equal(check("abababababab", NULL, NULL), APX_EINVAL);
	assert_int_equal(check("xk3!xk3!xk3!xk3!", NULL, NULL), APX_EINVAL);
	assert_int_equal(check("xk3!xk3!xk3!xk3!z", NULL, NULL), 0);
}

static void
test_personal(void **state)
{
	(void)state;
	assert_int_equal(check("My-ada.lovelace@example.test!", 
	    "ada.lovelace@example.test", NULL), APX_EINVAL);
	assert_int_equal(check("Zz9!ada.lovelace#Qq", "ada.lovelace@example.test",
	    NULL), APX_EINVAL);
	assert_int_equal(check("Zz9!AdaLovelace#Qq", NULL, "Ada Lovelace"),
	    APX_EINVAL);
	assert_int_equal(check("Zz9!Babbage#Qq12", "ada.lovelace@example.test",
	    "Ada Lovelace"), 0);
	/* Short local parts and names are not held against anyone. */
	assert_int_equal(check("Zz9!bob-engine#Qq", "bob@example.test", "Bo"),
	    0);
}

static void
test_hash_verify(void **state)
{
	struct apx_pwparams p;
	char h[APX_PASSWORD_HASH_MAX];
	const char *pw = "correct horse battery staple";

	(void)state;
	apx_password_params_default(&p);
	assert_true(p.m >= 19u * 1024 * 1024 && p.t >= 2);
	assert_int_equal(apx_password_hash(&p, pw, strlen(pw), h), 0);
	assert_memory_equal(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31);
	assert_int_equal(apx_password_verify(h, pw, strlen(pw)), 0);
	assert_int_equal(apx_password_verify(h, pw, strlen(pw) - 1),
	    APX_EUNAUTH);
	assert_int_equal(apx_password_verify(h, "Correct horse battery staple",
	    strlen(pw)), APX_EUNAUTH);
	/* Only argon2id PHC strings are accepted. */
	assert_int_equal(apx_password_verify("$argon2i$v=19$m=19456,t=2,p=1$x$y",
	    pw, strlen(pw)), APX_EUNAUTH);
	assert_int_equal(apx_password_verify(NULL, pw, strlen(pw)), APX_EUNAUTH);
	assert_false(apx_password_needs_rehash(h, &p));
	p.t = 3;
	assert_true(apx_password_needs_rehash(h, &p));
	apx_password_dummy_verify(&p, pw, strlen(pw));
}

/*
 * The dummy is made without hashing, yet libsodium must take it for a hash
 * with exactly the platform's parameters (needs_rehash parses it: -1 for a
 * string it cannot read, 1 for other parameters), so that verifying it
 * costs what verifying a real hash costs, and it must match no password.
 */
static void
test_dummy(void **state)
{
	struct apx_pwparams p;
	const char *d, *pw = "correct horse battery staple";
	char first[APX_PASSWORD_HASH_MAX], h[APX_PASSWORD_HASH_MAX];

	(void)state;
	apx_password_params_default(&p);
	assert_non_null(d = apx_password_dummy(&p));
	assert_memory_equal(d, "$argon2id$v=19$m=19456,t=2,p=1$", 31);
	assert_int_equal(crypto_pwhash_str_needs_rehash(d, p.t, p.m), 0);
	assert_int_equal(crypto_pwhash_str_needs_rehash(d, p.t + 1, p.m), 1);
	/* as long as a real hash of the same parameters, salt and output */
	assert_int_equal(apx_password_hash(&p, pw, strlen(pw), h), 0);
	assert_int_equal(strlen(d), strlen(h));
	assert_int_equal(apx_password_verify(d, pw, strlen(pw)), APX_EUNAUTH);
	assert_int_equal(apx_password_verify(d, "", 0), APX_EUNAUTH);
	/* kept while the parameters stay, made again when they change */
	strcpy(first, d);
	assert_string_equal(apx_password_dummy(&p), first);
	p.t = 3;
	assert_non_null(d = apx_password_dummy(&p));
	assert_memory_equal(d, "$argon2id$v=19$m=19456,t=3,p=1$", 31);
	assert_int_equal(crypto_pwhash_str_needs_rehash(d, p.t, p.m), 0);
	assert_string_not_equal(d, first);
	p.m = 64u * 1024 * 1024;
	assert_non_null(d = apx_password_dummy(&p));
	assert_int_equal(crypto_pwhash_str_needs_rehash(d, p.t, p.m), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_edges),
		cmocka_unit_test(test_multibyte_counts_bytes),
		cmocka_unit_test(test_common_and_variants),
		cmocka_unit_test(test_repetitive),
		cmocka_unit_test(test_personal),
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_dummy),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
