/*
 * Unit tests for auth/totp.c: RFC 6238 Appendix B (SHA-1, 8 digits, and
 * the same values cut to 6), RFC 4226 Appendix D (HOTP, 6 digits), the
 * verification window and the spent step, RFC 4648's base32 vectors and
 * the decoder's refusals, and the otpauth:// URI.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/totp.h"
#include "core/apx.h"

/* RFC 6238 Appendix B's SHA-1 seed: ASCII "12345678901234567890". */
#define SEED		"12345678901234567890"
#define SEED_B32	"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static const unsigned char *seed = (const unsigned char *)SEED;

static void	 code_text(int64_t, char *, size_t);

/* The 6-digit code of step STEP of SEED as text. */
static void
code_text(int64_t step, char *out, size_t len)
{
	uint32_t c;

	assert_int_equal(apx_totp_code(seed, 20, (uint64_t)step, 6, &c), 0);
	snprintf(out, len, "%06u", (unsigned int)c);
}

static void
test_rfc6238_sha1(void **state)
{
	static const struct {
		int64_t		 t;
		uint32_t	 code8;
	} v[] = {
		{ 59, 94287082 },
		{ 1111111109, 7081804 },
		{ 1111111111, 14050471 },
		{ 1234567890, 89005924 },
		{ 2000000000, 69279037 },
		{ 20000000000LL, 65353130 },
	};
	uint32_t c;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(v); i++) {
		int64_t step = apx_totp_step(v[i].t);

		assert_int_equal(apx_totp_code(seed, 20, (uint64_t)step, 8,
		    &c), 0);
		assert_int_equal(c, v[i].code8);
		/* 6 digits: the same truncation, modulo 10^6. */
		assert_int_equal(apx_totp_code(seed, 20, (uint64_t)step, 6,
		    &c), 0);
		assert_int_equal(c, v[i].code8 % 1000000);
	}
	/* the step numbers of the appendix's table (T column, in hex) */
	assert_int_equal(apx_totp_step(59), 1);
	assert_int_equal(apx_totp_step(1111111109), 0x23523EC);
	assert_int_equal(apx_totp_step(20000000000LL), 0x27BC86AA);
}

static void
test_rfc4226_hotp(void **state)
{
	static const uint32_t want[] = { 755224, 287082, 359152, 969429,
	    338314, 254676, 287922, 162583, 399871, 520489 };
	uint32_t c;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(want); i++) {
		assert_int_equal(apx_totp_code(seed, 20, i, 6, &c), 0);
		assert_int_equal(c, want[i]);
	}
	assert_int_equal(apx_totp_code(seed, 20, 0, 5, &c), APX_EINVAL);
	assert_int_equal(apx_totp_code(seed, 20, 0, 9, &c), APX_EINVAL);
}

static void
test_verify_window(void **state)
{
	const int64_t now = 1234567890, cur = now / 30;
	char code[8];
	int64_t step, d;

	(void)state;
	/* now, one step either side: the matched step comes back */
	for (d = -1; d <= 1; d++) {
		code_text(cur + d, code, sizeof(code));
		assert_int_equal(apx_totp_verify(seed, 20, code, now, -1,
		    &step), 0);
		assert_int_equal(step, cur + d);
	}
	/* two steps away: refused */
	code_text(cur - 2, code, sizeof(code));
	assert_int_equal(apx_totp_verify(seed, 20, code, now, -1, &step),
	    APX_EUNAUTH);
	assert_int_equal(step, -1);
	code_text(cur + 2, code, sizeof(code));
	assert_int_equal(apx_totp_verify(seed, 20, code, now, -1, &step),
	    APX_EUNAUTH);
	/* the first and last second of a step belong to it */
	code_text(cur, code, sizeof(code));
	assert_int_equal(apx_totp_verify(seed, 20, code, cur * 30, -1,
	    &step), 0);
	assert_int_equal(step, cur);
	assert_int_equal(apx_totp_verify(seed, 20, code, cur * 30 + 29, -1,
	    &step), 0);
	/* another key's code */
	assert_int_equal(apx_totp_verify((const unsigned char *)
	    "12345678901234567891", 20, code, now, -1, &step), APX_EUNAUTH);
}

static void
test_verify_spent(void **state)
{
	const int64_t now = 2000000000, cur = now / 30;
	char code[8];
	int64_t step;

	(void)state;
	/* the step just spent, and any before it, never again */
	code_text(cur, code, sizeof(code));
	assert_int_equal(apx_totp_verify(seed, 20, code, now, cur, &step),
	    APX_EUNAUTH);
	assert_int_equal(apx_totp_verify(seed, 20, code, now, cur + 1,
	    &step), APX_EUNAUTH);
	code_text(cur - 1, code, sizeof(code));
	assert_int_equal(apx_totp_verify(seed, 20, code, now, cur - 1,
	    &step), APX_EUNAUTH);
	/* a later one of the window still works */
	code_text(cur + 1, code, sizeof(code));
	assert_int_equal(apx_totp_verify(seed, 20, code, now, cur, &step), 0);
	assert_int_equal(step, cur + 1);
}

static void
test_verify_shape(void **state)
{
	const int64_t now = 1111111111, cur = now / 30;
	static const char *const bad[] = { "", "12345", "1234567", "12345a",
	    " 12345", "12345 ", "-12345", "+12345", "１２３４５６" };
	char code[8], longer[16];
	int64_t step;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(bad); i++)
		assert_int_equal(apx_totp_verify(seed, 20, bad[i], now, -1,
		    &step), APX_EUNAUTH);
	assert_int_equal(apx_totp_verify(seed, 20, NULL, now, -1, &step),
	    APX_EUNAUTH);
	/* the right code with anything after it */
	code_text(cur, code, sizeof(code));
	snprintf(longer, sizeof(longer), "%s0", code);
	assert_int_equal(apx_totp_verify(seed, 20, longer, now, -1, &step),
	    APX_EUNAUTH);
	/* before the epoch's second step there is no window */
	assert_int_equal(apx_totp_verify(seed, 20, "755224", 10, -1, &step),
	    APX_EUNAUTH);
}

static void
test_base32_rfc4648(void **state)
{
	static const struct {
		const char	*in, *out;
	} v[] = {
		{ "", "" },
		{ "f", "MY" },
		{ "fo", "MZXQ" },
		{ "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" },
		{ "fooba", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI" },
		{ SEED, SEED_B32 },
	};
	static const char *const padded[] = { "", "MY======", "MZXQ====",
	    "MZXW6===", "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======" };
	unsigned char bin[64];
	char txt[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < APX_NELEM(v); i++) {
		assert_int_equal(apx_base32_encode((const unsigned char *)
		    v[i].in, strlen(v[i].in), txt, sizeof(txt)), 0);
		assert_string_equal(txt, v[i].out);
		assert_int_equal(apx_base32_decode(v[i].out, strlen(v[i].out),
		    bin, sizeof(bin), &n), 0);
		assert_int_equal(n, strlen(v[i].in));
		assert_memory_equal(bin, v[i].in, n);
	}
	for (i = 0; i < APX_NELEM(padded); i++) {
		assert_int_equal(apx_base32_decode(padded[i],
		    strlen(padded[i]), bin, sizeof(bin), &n), 0);
		assert_int_equal(n, strlen(v[i].in));
		assert_memory_equal(bin, v[i].in, n);
	}
	/* what an app shows: lower case, groups of four */
	snprintf(txt, sizeof(txt), "gezd gnbv gy3t qojq-gezd gnbv gy3t qojq");
	assert_int_equal(apx_base32_decode(txt, strlen(txt), bin, sizeof(bin),
	    &n), 0);
	assert_int_equal(n, 20);
	assert_memory_equal(bin, SEED, 20);
}

static void
test_base32_refused(void **state)
{
	static const char *const bad[] = {
		"M",		/* a lone character carries no byte */
		"MZX",		/* 3 and 6: no encoder writes these */
		"MZXW6Y",
		"MZ",		/* leftover bits not zero (MY is "f") */
		"MZXW6YTBOJ",	/* idem, "foobar" is ...OI */
		"MY=A",		/* data after padding */
		"MZ0Q",		/* 0, 1, 8, 9 are not in the alphabet */
		"MZ1Q",
		"MZXW8",
		"MZ\nQ",
		"MZ_Q",
	};
	unsigned char bin[64], small[3];
	char txt[64];
	size_t i, n = 99;

	(void)state;
	for (i = 0; i < APX_NELEM(bad); i++) {
		assert_int_equal(apx_base32_decode(bad[i], strlen(bad[i]), bin,
		    sizeof(bin), &n), APX_EINVAL);
		assert_int_equal(n, 0);
	}
	/* an embedded NUL is a character like any other */
	assert_int_equal(apx_base32_decode("MZ\0Q", 4, bin, sizeof(bin), &n),
	    APX_EINVAL);
	/* bounded: never past OUTLEN */
	assert_int_equal(apx_base32_decode("MZXW6YTB", 8, small,
	    sizeof(small), &n), APX_ETOOBIG);
	assert_int_equal(apx_base32_decode("MZXW6", 5, small, sizeof(small),
	    &n), 0);
	assert_int_equal(n, 3);
	/* the encoder needs room for every character and the NUL */
	assert_int_equal(apx_base32_encode((const unsigned char *)"foo", 3,
	    txt, 5), APX_ETOOBIG);
	assert_int_equal(apx_base32_encode((const unsigned char *)"foo", 3,
	    txt, 6), 0);
	assert_string_equal(txt, "MZXW6");
	assert_int_equal(APX_TOTP_SECRET_B32, 33);
}

static void
test_uri(void **state)
{
	char uri[512];
	size_t need;

	(void)state;
	assert_int_equal(apx_totp_uri("AccuPredix", "ann@example.test",
	    SEED_B32, uri, sizeof(uri)), 0);
	assert_string_equal(uri, "otpauth://totp/AccuPredix:ann%40example.test"
	    "?secret=" SEED_B32 "&issuer=AccuPredix&algorithm=SHA1&digits=6"
	    "&period=30");
	/* label parts and the issuer parameter percent-encoded */
	assert_int_equal(apx_totp_uri("Accu Predix:&", "a b+c?@x.test",
	    "MY", uri, sizeof(uri)), 0);
	assert_string_equal(uri, "otpauth://totp/Accu%20Predix%3A%26:"
	    "a%20b%2Bc%3F%40x.test?secret=MY&issuer=Accu%20Predix%3A%26"
	    "&algorithm=SHA1&digits=6&period=30");
	/* UTF-8 byte by byte */
	assert_int_equal(apx_totp_uri("X", "\xc3\xa9@x.test", "MY", uri,
	    sizeof(uri)), 0);
	assert_string_equal(uri, "otpauth://totp/X:%C3%A9%40x.test?secret=MY"
	    "&issuer=X&algorithm=SHA1&digits=6&period=30");
	/* too small by one, then just enough */
	need = strlen(uri) + 1;
	assert_int_equal(apx_totp_uri("X", "\xc3\xa9@x.test", "MY", uri,
	    need - 1), APX_ETOOBIG);
	assert_string_equal(uri, "");
	assert_int_equal(apx_totp_uri("X", "\xc3\xa9@x.test", "MY", uri,
	    need), 0);
	assert_int_equal(strlen(uri), need - 1);
	assert_int_equal(apx_totp_uri("X", "y", "MY", uri, 0), APX_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_sha1),
		cmocka_unit_test(test_rfc4226_hotp),
		cmocka_unit_test(test_verify_window),
		cmocka_unit_test(test_verify_spent),
		cmocka_unit_test(test_verify_shape),
		cmocka_unit_test(test_base32_rfc4648),
		cmocka_unit_test(test_base32_refused),
		cmocka_unit_test(test_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
