/*
 * Unit tests for core/util.c: bounded integer parsing, constant-time
 * comparison, RFC 3339 time stamps, checked string copy, error strings.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>
#include <time.h>

#include "core/apx.h"

/* --- apx_parse_ll ------------------------------------------------------ */

static void
test_parse_ll_valid(void **state)
{
	long long v = -1;

	(void)state;
	assert_int_equal(apx_parse_ll("42", 0, 100, &v), 0);
	assert_true(v == 42);
	assert_int_equal(apx_parse_ll("-7", -10, 10, &v), 0);
	assert_true(v == -7);
	assert_int_equal(apx_parse_ll("0", 0, 0, &v), 0);
	assert_true(v == 0);
	assert_int_equal(apx_parse_ll("007", 0, 10, &v), 0);
	assert_true(v == 7);
}

static void
test_parse_ll_bounds(void **state)
{
	long long v = 0;

	(void)state;
	/* Both ends of the range are inclusive. */
	assert_int_equal(apx_parse_ll("1024", 1024, 2048, &v), 0);
	assert_true(v == 1024);
	assert_int_equal(apx_parse_ll("2048", 1024, 2048, &v), 0);
	assert_true(v == 2048);
	/* One step outside is refused and leaves *out alone. */
	v = 555;
	assert_int_equal(apx_parse_ll("1023", 1024, 2048, &v), APX_EINVAL);
	assert_int_equal(apx_parse_ll("2049", 1024, 2048, &v), APX_EINVAL);
	assert_int_equal(apx_parse_ll("-1", 0, 10, &v), APX_EINVAL);
	assert_true(v == 555);
	/* The full long long range, and one past it (ERANGE). */
	assert_int_equal(apx_parse_ll("9223372036854775807", LLONG_MIN,
	    LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MAX);
	assert_int_equal(apx_parse_ll("-9223372036854775808", LLONG_MIN,
	    LLONG_MAX, &v), 0);
	assert_true(v == LLONG_MIN);
	v = 555;
	assert_int_equal(apx_parse_ll("9223372036854775808", LLONG_MIN,
	    LLONG_MAX, &v), APX_EINVAL);
	assert_int_equal(apx_parse_ll("-9223372036854775809", LLONG_MIN,
	    LLONG_MAX, &v), APX_EINVAL);
	assert_int_equal(apx_parse_ll("99999999999999999999999", LLONG_MIN,
	    LLONG_MAX, &v), APX_EINVAL);
	assert_true(v == 555);
}

static void
test_parse_ll_garbage(void **state)
{
	static const char *const bad[] = {
		"", " 1", "1 ", "+1", "1a", "a1", "abc", "0x10", "1e3", "1.0",
		"-", "--1", "\t5", "5\n", "1,000",
	};
	long long v = 555;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_parse_ll(bad[i], LLONG_MIN, LLONG_MAX, &v) !=
		    APX_EINVAL)
			fail_msg("apx_parse_ll accepted \"%s\"", bad[i]);
	}
	assert_int_equal(apx_parse_ll(NULL, 0, 10, &v), APX_EINVAL);
	assert_true(v == 555);
}

/* --- apx_ct_equal ------------------------------------------------------ */

static void
test_ct_equal_equal(void **state)
{
	(void)state;
	assert_int_equal(apx_ct_equal("s3cret", 6, "s3cret", 6), 1);
	/* Same bytes at different addresses, including a NUL inside. */
	assert_int_equal(apx_ct_equal("a\0b", 3, "xa\0b" + 1, 3), 1);
}

static void
test_ct_equal_different(void **state)
{
	(void)state;
	assert_int_equal(apx_ct_equal("s3cret", 6, "s3creT", 6), 0);
	assert_int_equal(apx_ct_equal("s3cret", 6, "t3cret", 6), 0);
	assert_int_equal(apx_ct_equal("a\0b", 3, "a\0c", 3), 0);
}

static void
test_ct_equal_lengths(void **state)
{
	(void)state;
	/* A prefix is not equal, in either order. */
	assert_int_equal(apx_ct_equal("s3cret", 6, "s3cret-value", 12), 0);
	assert_int_equal(apx_ct_equal("s3cret-value", 12, "s3cret", 6), 0);
	/* Repetition of the shorter one must not fool the index wrap. */
	assert_int_equal(apx_ct_equal("a", 1, "aa", 2), 0);
	assert_int_equal(apx_ct_equal("aaaa", 4, "a", 1), 0);
}

static void
test_ct_equal_empty(void **state)
{
	(void)state;
	assert_int_equal(apx_ct_equal("", 0, "", 0), 1);
	assert_int_equal(apx_ct_equal("", 0, "x", 1), 0);
	assert_int_equal(apx_ct_equal("x", 1, "", 0), 0);
	/* Lengths govern, not the NUL terminator. */
	assert_int_equal(apx_ct_equal("abc", 0, "xyz", 0), 1);
}

/* --- RFC 3339 ---------------------------------------------------------- */

/*
 * apx_unix_now is never behind the wall clock's second: time() reads a
 * copy of it that the kernel updates at its next tick, a few ms after the
 * second has begun, while PostgreSQL's now() (a rotation's grace, an
 * expiry) reads the precise clock. Checked across a second's start.
 */
static void
test_unix_now_not_behind(void **state)
{
	struct timespec start, ts;
	int64_t t;

	(void)state;
	assert_int_equal(clock_gettime(CLOCK_REALTIME, &start), 0);
	do {
		assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
		t = apx_unix_now();
		if (t < (int64_t)ts.tv_sec)
			fail_msg("apx_unix_now() %lld, the clock %lld.%09ld",
			    (long long)t, (long long)ts.tv_sec, ts.tv_nsec);
	} while (ts.tv_sec < start.tv_sec + 1 ||
	    (ts.tv_sec == start.tv_sec + 1 && ts.tv_nsec < 20000000));
}

static void
test_rfc3339_parse_valid(void **state)
{
	int64_t t = 0;

	(void)state;
	assert_int_equal(apx_rfc3339_parse("1970-01-01T00:00:00Z", &t), 0);
	assert_true(t == 0);
	assert_int_equal(apx_rfc3339_parse("2027-06-01T00:00:00Z", &t), 0);
	assert_true(t == 1811808000);
	/* 2028 is a leap year. */
	assert_int_equal(apx_rfc3339_parse("2028-02-29T12:34:56Z", &t), 0);
	assert_true(t == 1835440496);
	assert_int_equal(apx_rfc3339_parse("2099-01-01T00:00:00Z", &t), 0);
	assert_true(t == 4070908800LL);
}

static void
test_rfc3339_parse_bad_dates(void **state)
{
	static const char *const bad[] = {
		"2027-02-31T00:00:00Z",		/* Feb 31 */
		"2027-02-29T00:00:00Z",		/* not a leap year */
		"2027-04-31T00:00:00Z",		/* April has 30 days */
		"2027-00-10T00:00:00Z",
		"2027-13-10T00:00:00Z",
		"2027-06-00T00:00:00Z",
		"2027-06-32T00:00:00Z",
		"2027-06-01T24:00:00Z",
		"2027-06-01T00:60:00Z",
		"1969-12-31T23:59:59Z",		/* before the epoch */
	};
	int64_t t = 12345;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_rfc3339_parse(bad[i], &t) != APX_EINVAL)
			fail_msg("apx_rfc3339_parse accepted \"%s\"", bad[i]);
	}
	assert_true(t == 12345);
}

static void
test_rfc3339_parse_bad_form(void **state)
{
	static const char *const bad[] = {
		"",
		"2027-06-01",
		"2027-06-01T00:00Z",			/* too short */
		"2027-06-01T00:00:00",			/* no zone */
		"2027-06-01T00:00:00.5Z",		/* too long */
		"2027-06-01T00:00:00+00:00",		/* not Z */
		"2027-06-01T00:00:00+",		/* 20 bytes, not Z */
		"2027-06-01T00:00:00z",		/* lower-case z */
		"2027-06-01 00:00:00Z",		/* space, not T */
		"2027/06/01T00:00:00Z",
		"abcd-ef-ghTij:kl:mnZ",
		" 2027-06-01T00:00:00Z",
	};
	int64_t t = 12345;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (apx_rfc3339_parse(bad[i], &t) != APX_EINVAL)
			fail_msg("apx_rfc3339_parse accepted \"%s\"", bad[i]);
	}
	assert_int_equal(apx_rfc3339_parse(NULL, &t), APX_EINVAL);
	assert_true(t == 12345);
}

/* The full RFC 3339 grammar for API input: fractions, offsets, t/z. */
static void
test_rfc3339_parse_us(void **state)
{
	static const struct {
		const char	*in;
		int64_t		 sec;
		int		 us;
	} ok[] = {
		{ "2027-06-01T00:00:00Z", 1811808000, 0 },
		{ "2027-06-01t00:00:00z", 1811808000, 0 },
		{ "2027-06-01T00:00:00.5Z", 1811808000, 500000 },
		{ "2027-06-01T00:00:00.123456789Z", 1811808000, 123456 },
		{ "2027-06-01T02:00:00+02:00", 1811808000, 0 },
		{ "2027-05-31T18:30:00.000001-05:30", 1811808000, 1 },
	};
	static const char *const bad[] = {
		"2027-06-01T00:00:00", "2027-06-01T00:00:00.Z",
		"2027-06-01T00:00:00+2:00", "2027-06-01T00:00:00+24:00",
		"2027-06-01T00:00:00+02:60", "2027-06-01 00:00:00Z",
		"2027-02-30T00:00:00Z", "2027-06-01T00:00:00Zjunk",
		"2027-06-01T00:00:00.1234567890123456789012345678901234567890"
		"12345678901234567890Z", "",
	};
	char buf[40];
	int64_t t;
	size_t i;
	int us;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (apx_rfc3339_parse_us(ok[i].in, &t, &us) != 0)
			fail_msg("refused \"%s\"", ok[i].in);
		assert_true(t == ok[i].sec);
		assert_int_equal(us, ok[i].us);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (apx_rfc3339_parse_us(bad[i], &t, &us) != APX_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(apx_rfc3339_parse_us(NULL, &t, &us), APX_EINVAL);
	apx_rfc3339_format_us(1811808000, 42, buf, sizeof(buf));
	assert_string_equal(buf, "2027-06-01T00:00:00.000042Z");
}

/*
 * RFC 3339 date-time fields are fixed-width DIGITs. sscanf("%2d") also
 * takes a sign or skips a blank, so these 20-byte strings must still be
 * refused.
 */
static void
test_rfc3339_parse_non_digits(void **state)
{
	static const char *const bad[] = {
		"2027-06-+1T00:00:00Z",
		"2027-+6-01T00:00:00Z",
		"2027-06- 1T00:00:00Z",
		"2027-06-01T+0:00:00Z",
		"2027-06-01T00: 0:00Z",
		"2027-06-01T00:00:+0Z",
	};
	int64_t t;
	size_t i, accepted = 0;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 12345;
		if (apx_rfc3339_parse(bad[i], &t) != APX_EINVAL) {
			print_message("apx_rfc3339_parse accepted \"%s\" as "
			    "%lld\n", bad[i], (long long)t);
			accepted++;
		}
	}
	assert_int_equal(accepted, 0);
}

static void
test_rfc3339_format(void **state)
{
	char buf[32];
	int64_t t = 0;

	(void)state;
	apx_rfc3339_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	apx_rfc3339_format(1835440496, buf, sizeof(buf));
	assert_string_equal(buf, "2028-02-29T12:34:56Z");
	/* Round trip. */
	assert_int_equal(apx_rfc3339_parse(buf, &t), 0);
	assert_true(t == 1835440496);
}

static void
test_rfc3339_format_small_buffer(void **state)
{
	char buf[32];

	(void)state;
	/* 20 characters + NUL fit in 21 bytes ... */
	memset(buf, 'x', sizeof(buf));
	apx_rfc3339_format(1811808000, buf, 21);
	assert_string_equal(buf, "2027-06-01T00:00:00Z");
	/* ... and not in 20: an empty string, never a truncated time. */
	memset(buf, 'x', sizeof(buf));
	apx_rfc3339_format(1811808000, buf, 20);
	assert_string_equal(buf, "");
	memset(buf, 'x', sizeof(buf));
	apx_rfc3339_format(1811808000, buf, 1);
	assert_int_equal(buf[0], '\0');
	/* Zero length: nothing is written. */
	buf[0] = 'x';
	apx_rfc3339_format(1811808000, buf, 0);
	assert_int_equal(buf[0], 'x');
}

/* --- apx_strlcpy_chk --------------------------------------------------- */

static void
test_strlcpy_chk_fits(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(apx_strlcpy_chk(buf, "abc", sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	/* Exactly size - 1 characters still fit. */
	assert_int_equal(apx_strlcpy_chk(buf, "1234567", sizeof(buf)), 0);
	assert_string_equal(buf, "1234567");
	assert_int_equal(apx_strlcpy_chk(buf, "", sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void
test_strlcpy_chk_truncation(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(apx_strlcpy_chk(buf, "12345678", sizeof(buf)),
	    APX_ETOOBIG);
	assert_string_equal(buf, "1234567");	/* truncated, terminated */
	assert_int_equal(apx_strlcpy_chk(buf, "a much longer string",
	    sizeof(buf)), APX_ETOOBIG);
	assert_string_equal(buf, "a much ");
	assert_int_equal(apx_strlcpy_chk(buf, "ab", 1), APX_ETOOBIG);
	assert_int_equal(buf[0], '\0');
	/* Size 0: refused, nothing written. */
	buf[0] = 'q';
	assert_int_equal(apx_strlcpy_chk(buf, "ab", 0), APX_ETOOBIG);
	assert_int_equal(buf[0], 'q');
}

/* --- apx_strerror ------------------------------------------------------ */

static void
test_strerror(void **state)
{
	static const int codes[] = {
		APX_ENOMEM, APX_EINVAL, APX_ETOOBIG, APX_ENOTFOUND,
		APX_EDBUNAVAIL, APX_EDB, APX_EIO, APX_ECONFIG, APX_ECRYPTO,
		APX_ECONFLICT, APX_EMIGRATION, APX_EURITOOLONG, APX_EHEADERS, APX_EUNAUTH,
		APX_ENOKEY,
	};
	size_t i, j;

	(void)state;
	assert_string_equal(apx_strerror(APX_OK), "success");
	assert_string_equal(apx_strerror(APX_ENOMEM), "out of memory");
	assert_string_equal(apx_strerror(APX_EINVAL), "invalid input");
	assert_string_equal(apx_strerror(APX_ETOOBIG), "input too large");
	assert_string_equal(apx_strerror(APX_EDBUNAVAIL),
	    "database unavailable");
	assert_string_equal(apx_strerror(APX_EMIGRATION),
	    "schema version mismatch");
	/* Every code has its own text, none is the fallback. */
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_non_null(apx_strerror(codes[i]));
		assert_string_not_equal(apx_strerror(codes[i]),
		    "unknown error");
		for (j = 0; j < i; j++)
			assert_string_not_equal(apx_strerror(codes[i]),
			    apx_strerror(codes[j]));
	}
	assert_string_equal(apx_strerror(APX_ENOKEY - 1), "unknown error");
	assert_string_equal(apx_strerror(-1000), "unknown error");
	assert_string_equal(apx_strerror(INT_MIN + 1), "unknown error");
}

static void
test_guid(void **state)
{
	(void)state;
	assert_true(apx_guid_ok("11111111-1111-4111-8111-111111111111"));
	assert_true(apx_guid_ok("9188040d-6c67-4c5b-b112-36a304b66dad"));
	assert_true(apx_guid_ok("ABCDEF01-2345-6789-ABCD-EF0123456789"));
	assert_false(apx_guid_ok("11111111-1111-4111-8111-11111111111"));
	assert_false(apx_guid_ok("11111111-1111-4111-8111-1111111111111"));
	assert_false(apx_guid_ok("111111111111-4111-8111-1111111111111"));
	assert_false(apx_guid_ok("g1111111-1111-4111-8111-111111111111"));
	assert_false(apx_guid_ok("common"));
	assert_false(apx_guid_ok(""));
	assert_false(apx_guid_ok(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guid),
		cmocka_unit_test(test_parse_ll_valid),
		cmocka_unit_test(test_parse_ll_bounds),
		cmocka_unit_test(test_parse_ll_garbage),
		cmocka_unit_test(test_ct_equal_equal),
		cmocka_unit_test(test_ct_equal_different),
		cmocka_unit_test(test_ct_equal_lengths),
		cmocka_unit_test(test_ct_equal_empty),
		cmocka_unit_test(test_unix_now_not_behind),
		cmocka_unit_test(test_rfc3339_parse_valid),
		cmocka_unit_test(test_rfc3339_parse_bad_dates),
		cmocka_unit_test(test_rfc3339_parse_bad_form),
		cmocka_unit_test(test_rfc3339_parse_non_digits),
		cmocka_unit_test(test_rfc3339_parse_us),
		cmocka_unit_test(test_rfc3339_format),
		cmocka_unit_test(test_rfc3339_format_small_buffer),
		cmocka_unit_test(test_strlcpy_chk_fits),
		cmocka_unit_test(test_strlcpy_chk_truncation),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
