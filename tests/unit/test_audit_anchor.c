/*
 * Unit tests for the audit anchor lines of store/audit.c: the format and
 * the strict parser (every field at and past its limits), and the file
 * reader (comments, blank lines, FILE:LINE in every error, NUL bytes,
 * over-long lines, a last line without '\n').
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"

#define TAG	APX_AUDIT_ANCHOR_TAG
#define H64	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"
#define AT	"2027-01-31T12:00:00Z"
#define GOOD	TAG " platform 42 " H64 " " AT
#define BAD(line, why)	bad((line), strlen(line), (why))

static void	 ok(const char *, const char *, long long);
static void	 bad(const char *, size_t, const char *);
static int	 read_all(const char *, size_t, struct apx_audit_anchor *,
		    size_t, size_t *, char *, size_t);

static void
ok(const char *line, const char *log, long long seq)
{
	struct apx_audit_anchor a;
	const char *why = "unset";

	assert_int_equal(apx_audit_anchor_parse(line, strlen(line), &a, &why),
	    0);
	assert_null(why);
	assert_string_equal(a.log, log);
	assert_true(a.seq == seq);
	assert_int_equal(strlen(a.hash), APX_AUDIT_HASH_HEX);
}

/* LINE (LEN bytes) is refused, and WHY says something with NEEDLE. */
static void
bad(const char *line, size_t len, const char *needle)
{
	struct apx_audit_anchor a;
	const char *why = NULL;

	assert_int_equal(apx_audit_anchor_parse(line, len, &a, &why),
	    APX_EINVAL);
	assert_non_null(why);
	if (needle != NULL && strstr(why, needle) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", line, why, needle);
}

static void
test_parse_good(void **state)
{
	struct apx_audit_anchor a;
	const char *why;
	int64_t t;

	(void)state;
	ok(GOOD, "platform", 42);
	ok(TAG " org:1 1 " H64 " " AT, "org:1", 1);
	ok(TAG " org:9223372036854775807 9223372036854775807 " H64 " " AT,
	    "org:9223372036854775807", LLONG_MAX);
	assert_int_equal(apx_audit_anchor_parse(GOOD, strlen(GOOD), &a, &why),
	    0);
	assert_string_equal(a.hash, H64);
	assert_int_equal(apx_rfc3339_parse(AT, &t), 0);
	assert_true(a.at == t);
	assert_int_equal(a.line, 0);
}

static void
test_parse_fields(void **state)
{
	(void)state;
	/* the tag */
	BAD("apx-audit-anchor/2 platform 42 " H64 " " AT, "not an");
	BAD("x platform 42 " H64 " " AT, "not an");
	/* field separators: exactly one space, none around */
	BAD(TAG "  platform 42 " H64 " " AT, "five fields");
	BAD(" " GOOD, "five fields");
	BAD(GOOD " ", "time");
	BAD(TAG "\tplatform 42 " H64 " " AT, NULL);
	BAD(TAG " platform 42 " H64, "five fields");
	BAD(GOOD " extra", "time");
	BAD("", "five fields");
	/* the log */
	BAD(TAG " Platform 42 " H64 " " AT, "log");
	BAD(TAG " org: 42 " H64 " " AT, "log");
	BAD(TAG " org:1x 42 " H64 " " AT, "log");
	BAD(TAG " org:-1 42 " H64 " " AT, "log");
	BAD(TAG " org:12345678901234567890 42 " H64 " " AT, "log");
	BAD(TAG " platform' 42 " H64 " " AT, "log");
	BAD(TAG " org:1,org:2 42 " H64 " " AT, "log");
	/* the seq */
	BAD(TAG " platform 0 " H64 " " AT, "seq");
	BAD(TAG " platform 042 " H64 " " AT, "seq");
	BAD(TAG " platform -1 " H64 " " AT, "seq");
	BAD(TAG " platform +1 " H64 " " AT, "seq");
	BAD(TAG " platform 1e3 " H64 " " AT, "seq");
	BAD(TAG " platform 9223372036854775808 " H64 " " AT, "seq");
	BAD(TAG " platform 12345678901234567890 " H64 " " AT, "seq");
	/* the digest: 64 lower-case hex digits */
	BAD(TAG " platform 42 " H64 "0 " AT, "digest");
	BAD(TAG " platform 42 0123456789abcdef " AT, "digest");
	BAD(TAG " platform 42 0123456789ABCDEF0123456789abcdef"
	    "0123456789abcdef0123456789abcdef " AT, "digest");
	BAD(TAG " platform 42 g123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef " AT, "digest");
	/* the time */
	BAD(TAG " platform 42 " H64 " 2027-02-30T12:00:00Z", "time");
	BAD(TAG " platform 42 " H64 " 2027-01-31T12:00:00z", "time");
	BAD(TAG " platform 42 " H64 " 2027-01-31T12:00:00", "time");
	BAD(TAG " platform 42 " H64 " 2027-01-31T12:00:00.5Z", "time");
	BAD(TAG " platform 42 " H64 " 2027-01-31T12:00:00Z\r", "time");
	BAD(TAG " platform 42 " H64 " 2027-01-31 12:00:00Z", NULL);
}

/* Lengths: a NUL inside, bytes past the length, the line limit. */
static void
test_parse_lengths(void **state)
{
	char line[APX_AUDIT_ANCHOR_LINE_MAX + 64];
	struct apx_audit_anchor a;
	const char *why;

	(void)state;
	/* a NUL inside the given length is no field character */
	memcpy(line, GOOD, sizeof(GOOD));
	line[strlen(TAG) + 3] = '\0';
	bad(line, strlen(GOOD), NULL);
	/* the length given counts, not a terminator */
	assert_int_equal(apx_audit_anchor_parse(GOOD "junk", strlen(GOOD), &a,
	    &why), 0);
	/* over the line limit */
	memset(line, 'a', sizeof(line));
	bad(line, APX_AUDIT_ANCHOR_LINE_MAX + 1, "too long");
}

static void
test_format_round_trip(void **state)
{
	struct apx_audit_anchor a, b;
	char line[APX_AUDIT_ANCHOR_LINE_MAX + 2];
	const char *why;

	(void)state;
	memset(&a, 0, sizeof(a));
	strcpy(a.log, "org:9223372036854775807");
	a.seq = LLONG_MAX;
	strcpy(a.hash, H64);
	assert_int_equal(apx_rfc3339_parse("9999-12-31T23:59:59Z", &a.at), 0);
	assert_int_equal(apx_audit_anchor_format(&a, line, sizeof(line)), 0);
	assert_true(strlen(line) <= APX_AUDIT_ANCHOR_LINE_MAX + 1);
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_int_equal(apx_audit_anchor_parse(line, strlen(line) - 1, &b,
	    &why), 0);
	assert_string_equal(b.log, a.log);
	assert_true(b.seq == a.seq);
	assert_string_equal(b.hash, a.hash);
	assert_true(b.at == a.at);
	/* too small a buffer */
	assert_int_equal(apx_audit_anchor_format(&a, line, 40), APX_ETOOBIG);
}

/* Every anchor of the LEN bytes of TEXT: the count, or the error. */
static int
read_all(const char *text, size_t len, struct apx_audit_anchor *v,
    size_t max, size_t *n, char *err, size_t errlen)
{
	struct apx_audit_anchor_reader r;
	int rc;

	if (len > 0)
		r.f = fmemopen((void *)(uintptr_t)text, len, "r");
	else
		r.f = tmpfile();
	assert_non_null(r.f);
	r.name = "anchors";
	r.line = 0;
	*n = 0;
	err[0] = '\0';
	while ((rc = apx_audit_anchor_next(&r, &v[*n], err, errlen)) == 1)
		if (++*n == max)
			break;
	fclose(r.f);
	return rc;
}

static void
test_reader(void **state)
{
	static const char text[] =
	    "# anchors of the audit logs\n"
	    "\n"
	    GOOD "\n"
	    TAG " org:7 3 " H64 " " AT "\n"
	    "#\n"
	    TAG " org:7 5 " H64 " " AT;		/* no final newline */
	struct apx_audit_anchor v[8];
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(read_all(text, sizeof(text) - 1, v, 8, &n, err,
	    sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].log, "platform");
	assert_int_equal(v[0].line, 3);
	assert_string_equal(v[1].log, "org:7");
	assert_int_equal(v[1].line, 4);
	assert_true(v[2].seq == 5);
	assert_int_equal(v[2].line, 6);
	/* an empty file has no anchor and no error */
	assert_int_equal(read_all("", 0, v, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
}

static void
test_reader_errors(void **state)
{
	static const char nul[] = GOOD "\n" TAG " platform\0 43 " H64 " " AT
	    "\n";
	static const char crlf[] = GOOD "\r\n";
	static const char malformed[] = GOOD "\n\n" TAG " platform 0 " H64
	    " " AT "\n" GOOD "\n";
	char longline[APX_AUDIT_ANCHOR_LINE_MAX + 16];
	struct apx_audit_anchor v[4];
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(read_all(nul, sizeof(nul) - 1, v, 4, &n, err,
	    sizeof(err)), APX_EINVAL);
	assert_int_equal(n, 1);
	assert_string_equal(err, "anchors:2: NUL byte");
	assert_int_equal(read_all(crlf, sizeof(crlf) - 1, v, 4, &n, err,
	    sizeof(err)), APX_EINVAL);
	assert_non_null(strstr(err, "anchors:1: bad time"));
	assert_int_equal(read_all(malformed, sizeof(malformed) - 1, v, 4, &n,
	    err, sizeof(err)), APX_EINVAL);
	assert_int_equal(n, 1);
	assert_string_equal(err, "anchors:3: bad seq");
	/* a line one past the limit, and one at it */
	memset(longline, '#', sizeof(longline));
	longline[APX_AUDIT_ANCHOR_LINE_MAX + 1] = '\n';
	assert_int_equal(read_all(longline, APX_AUDIT_ANCHOR_LINE_MAX + 2, v,
	    4, &n, err, sizeof(err)), APX_EINVAL);
	assert_string_equal(err, "anchors:1: line too long");
	longline[APX_AUDIT_ANCHOR_LINE_MAX] = '\n';
	assert_int_equal(read_all(longline, APX_AUDIT_ANCHOR_LINE_MAX + 1, v,
	    4, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_reader_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
