/*
 * Unit tests for core/csv.c: the reader's rules (records, quoting, line
 * ends, header names, UTF-8, NUL), its error lines and columns, every
 * limit at and one past its value, the callback's stop value, the writer's
 * quoting and CSV-injection neutralising, and a seeded random round trip
 * through the writer and back through the reader.
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

#include "core/apx.h"
#include "core/buf.h"
#include "core/csv.h"

#define NEVER	((size_t)-1)
/* A string literal and its length (NUL bytes inside included). */
#define S(lit)	(lit), (sizeof(lit) - 1)
#define BAD(lit, lim, rc, line, col) bad(S(lit), (lim), (rc), (line), (col))

/* What the callback saw: fields joined by '|', rows ended by ';'. */
struct rows {
	char	 text[8192];
	size_t	 n;		/* calls */
	size_t	 nfields;	/* of the last call */
	size_t	 stop_at;	/* rowno that returns stop_rc */
	int	 stop_rc;
};

/* The random round trip: the rows written, kept to compare. */
struct table {
	char	**cell;		/* nrows * ncols, malloc'd */
	size_t	*len;
	size_t	 nrows;
	size_t	 ncols;
	size_t	 seen;		/* rows that came back equal */
};

static int		 collect(void *, size_t, const char *const *,
			    const size_t *, size_t);
static int		 run(const char *, size_t,
			    const struct apx_csv_limits *, struct rows *,
			    struct apx_csv_error *);
static void		 ok(const char *, const char *);
static void		 ok_n(const char *, size_t, const char *);
static struct apx_csv_error bad(const char *, size_t,
			    const struct apx_csv_limits *, int, size_t, size_t);
static void		 rows_init(struct rows *);
static const char	*field_text(const char *, size_t, int);
static uint32_t		 prng(uint32_t *);
static int		 compare(void *, size_t, const char *const *,
			    const size_t *, size_t);
static void		 round_trip(uint32_t, size_t, size_t);

static void
rows_init(struct rows *r)
{
	memset(r, 0, sizeof(*r));
	r->stop_at = NEVER;
}

static int
collect(void *arg, size_t rowno, const char *const *f, const size_t *l,
    size_t n)
{
	struct rows *r = arg;
	size_t i, off;

	assert_int_equal(rowno, r->n);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		assert_non_null(f[i]);
		assert_int_equal(strlen(f[i]), l[i]);
		off = strlen(r->text);
		assert_true(off + l[i] + 2 < sizeof(r->text));
		memcpy(r->text + off, f[i], l[i] + 1);
		strcat(r->text, i + 1 < n ? "|" : ";");
	}
	r->n++;
	r->nfields = n;
	return rowno == r->stop_at ? r->stop_rc : 0;
}

static int
run(const char *in, size_t len, const struct apx_csv_limits *lim,
    struct rows *r, struct apx_csv_error *err)
{
	rows_init(r);
	return apx_csv_parse(in, len, lim, collect, r, err);
}

/* IN (a C string) parses, and the rows read as WANT. */
static void
ok(const char *in, const char *want)
{
	ok_n(in, strlen(in), want);
}

static void
ok_n(const char *in, size_t len, const char *want)
{
	struct apx_csv_error err;
	struct rows r;
	int rc;

	if ((rc = run(in, len, NULL, &r, &err)) != 0)
		fail_msg("rc %d line %zu column %zu: %s", rc, err.line,
		    err.column, err.reason);
	assert_string_equal(r.text, want);
	assert_int_equal(err.line, 0);
	assert_int_equal(err.column, 0);
	assert_string_equal(err.reason, "");
}

/* IN fails with RC at LINE, COLUMN; the error comes back for more checks. */
static struct apx_csv_error
bad(const char *in, size_t len, const struct apx_csv_limits *lim, int rc,
    size_t line, size_t col)
{
	struct apx_csv_error err;
	struct rows r;
	int got;

	got = run(in, len, lim, &r, &err);
	if (got != rc || err.line != line || err.column != col)
		fail_msg("want %d at %zu:%zu, got %d at %zu:%zu (%s)", rc, line,
		    col, got, err.line, err.column, err.reason);
	assert_true(err.reason[0] != '\0');
	assert_non_null(memchr(err.reason, '\0', sizeof(err.reason)));
	return err;
}

/* xorshift32: the same sequence on every run. */
static uint32_t
prng(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* One field written alone, as text. */
static const char *
field_text(const char *s, size_t n, int flags)
{
	static char out[256];
	struct apx_buf b = { NULL, 0, 0, 0 };

	assert_int_equal(apx_csv_write_field(&b, s, n, flags), 0);
	assert_true(b.len < sizeof(out));
	if (b.len > 0)
		memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	apx_buf_free(&b);
	return out;
}

/* --- records and line ends ----------------------------------------------- */

static void
test_lf(void **state)
{
	(void)state;
	ok("a,b\n1,2\n3,4\n", "a|b;1|2;3|4;");
	ok("a\nx\n", "a;x;");
}

static void
test_crlf(void **state)
{
	(void)state;
	ok("a,b\r\n1,2\r\n3,4\r\n", "a|b;1|2;3|4;");
	/* Both kinds in one file, record by record. */
	ok("a,b\r\n1,2\n3,4\r\n", "a|b;1|2;3|4;");
}

static void
test_last_record_unterminated(void **state)
{
	(void)state;
	ok("a,b\n1,2", "a|b;1|2;");
	ok("a,b\r\n1,2", "a|b;1|2;");
	ok("a,b\n1,\"2\"", "a|b;1|2;");
	ok("a,b\n1,", "a|b;1|;");
}

static void
test_final_empty_line(void **state)
{
	struct apx_csv_error e;

	(void)state;
	/* One empty line at the very end is not a record... */
	ok("a,b\n1,2\n\n", "a|b;1|2;");
	ok("a,b\r\n1,2\r\n\r\n", "a|b;1|2;");
	ok("a\n\n", "a;");
	/* ...two are an empty line in the middle. */
	e = BAD("a,b\n1,2\n\n\n", NULL, APX_EINVAL, 3, 0);
	assert_string_equal(e.reason, "empty line");
	BAD("a,b\n1,2\r\n\r\n\r\n", NULL, APX_EINVAL, 3, 0);
}

static void
test_empty_line_middle(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a,b\n\n1,2\n", NULL, APX_EINVAL, 2, 0);
	assert_string_equal(e.reason, "empty line");
	BAD("a,b\r\n1,2\r\n\r\n3,4\r\n", NULL, APX_EINVAL, 3, 0);
	BAD("\na,b\n", NULL, APX_EINVAL, 1, 0);
	/* An empty line is not a row of one empty field, even in one column. */
	BAD("a\n1\n\n2\n", NULL, APX_EINVAL, 3, 0);
	ok("a\n1\n\"\"\n2\n", "a;1;;2;");
}

static void
test_empty_file(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("", NULL, APX_EINVAL, 0, 0);
	assert_string_equal(e.reason, "empty file");
	bad(NULL, 0, NULL, APX_EINVAL, 0, 0);
	BAD("\xef\xbb\xbf", NULL, APX_EINVAL, 0, 0);
	BAD("\n", NULL, APX_EINVAL, 0, 0);
	BAD("\r\n", NULL, APX_EINVAL, 0, 0);
	BAD("\xef\xbb\xbf\r\n", NULL, APX_EINVAL, 0, 0);
	/* A NULL buffer with a length is a caller's error, not a crash. */
	bad(NULL, 5, NULL, APX_EINVAL, 0, 0);
}

static void
test_header_only(void **state)
{
	struct rows r;

	(void)state;
	ok("a,b", "a|b;");
	ok("a,b\n", "a|b;");
	ok("a,b\r\n", "a|b;");
	assert_int_equal(run(S("id,value\n"), NULL, &r, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.nfields, 2);
}

static void
test_bom(void **state)
{
	(void)state;
	ok("\xef\xbb\xbf" "a,b\n1,2\n", "a|b;1|2;");
	ok("\xef\xbb\xbf" "\"a\",b\n1,2\n", "a|b;1|2;");
	/* Only at the very start: later it is U+FEFF, data like any other. */
	ok("a,b\n\xef\xbb\xbf" "1,2\n", "a|b;\xef\xbb\xbf" "1|2;");
	/* ...and not a name character. */
	BAD("\xef\xbb\xbf\xef\xbb\xbf" "a\n", NULL, APX_EINVAL, 1, 1);
	/* Part of a BOM is invalid UTF-8. */
	BAD("\xef\xbb" "a\n", NULL, APX_EINVAL, 1, 1);
	BAD("\xef\xbb", NULL, APX_EINVAL, 1, 1);
}

static void
test_lone_cr(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a,b\r1,2\n", NULL, APX_EINVAL, 1, 2);
	assert_string_equal(e.reason, "carriage return without line feed");
	BAD("a,b\n1,2\r", NULL, APX_EINVAL, 2, 2);
	BAD("a,b\n1\r,2\n", NULL, APX_EINVAL, 2, 1);
	BAD("a,b\n1,\"2\"\r3\n", NULL, APX_EINVAL, 2, 2);
	BAD("a\n\r", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\r\r\n", NULL, APX_EINVAL, 2, 1);
	/* Inside quotes it is data (and a line break). */
	ok("a,b\n\"x\ry\",2\n", "a|b;x\ry|2;");
}

static void
test_fields_terminated(void **state)
{
	(void)state;
	/* Empty fields anywhere, each its own NUL-terminated string. */
	ok("a,b,c\n,,\n", "a|b|c;||;");
	ok("a,b,c\n1,,3\n", "a|b|c;1||3;");
	ok("a,b,c\n\"\",\"\",\"\"\n", "a|b|c;||;");
	/* Spaces in data are kept as they are. */
	ok("a,b\n 1 , 2\n", "a|b; 1 | 2;");
}

/* --- quoting ------------------------------------------------------------- */

static void
test_quoted(void **state)
{
	(void)state;
	ok("a,b\n\"x,y\",\"say \"\"hi\"\"\"\n", "a|b;x,y|say \"hi\";");
	ok("a\n\"\"\"\"\n", "a;\";");
	ok("a\n\"\"\"\"\"\"\n", "a;\"\";");
	ok("a,b\n\"\",\"\"\"\"\n", "a|b;|\";");
	/* Quoted header names. */
	ok("\"a\",\" b \"\n1,2\n", "a|b;1|2;");
}

static void
test_quoted_newlines(void **state)
{
	struct apx_csv_error e;

	(void)state;
	ok("a,b\n\"1\n2\",3\n", "a|b;1\n2|3;");
	ok("a,b\r\n\"1\r\n2\",3\r\n", "a|b;1\r\n2|3;");
	/* Line numbers count the breaks inside quotes. */
	e = BAD("a,b\n\"1\n2\n3\",4\n5,\"6\"x\n", NULL, APX_EINVAL, 5, 2);
	assert_string_equal(e.reason, "text after a closing quote");
	BAD("a,b\r\n\"1\r\n2\r\n3\",4\r\n5,6,7\r\n", NULL, APX_EINVAL, 5,
	    3);
	/* A lone CR inside quotes is a line too. */
	BAD("a,b\n\"1\r2\",3\n\n4,5\n", NULL, APX_EINVAL, 4, 0);
	/* A record over several lines is reported where it starts. */
	e = BAD("a,b\n\"1\n2\n3\"\n", NULL, APX_EINVAL, 2, 2);
	assert_string_equal(e.reason, "expected 2 fields, found 1");
}

static void
test_quote_in_unquoted(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a,b\n1,x\"y\n", NULL, APX_EINVAL, 2, 2);
	assert_string_equal(e.reason, "quote inside an unquoted field");
	BAD("a,b\n1,x\"\n", NULL, APX_EINVAL, 2, 2);
	BAD("a,b\n \"1\",2\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\"b\n", NULL, APX_EINVAL, 1, 1);
}

static void
test_after_closing_quote(void **state)
{
	(void)state;
	BAD("a,b\n\"1\"x,2\n", NULL, APX_EINVAL, 2, 1);
	BAD("a,b\n\"1\" ,2\n", NULL, APX_EINVAL, 2, 1);
	BAD("a,b\n1,\"2\" \n", NULL, APX_EINVAL, 2, 2);
	BAD("a,b\n1,\"2\"\"\"3\n", NULL, APX_EINVAL, 2, 2);
}

static void
test_unterminated_quote(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a,b\n1,\"2\n3\n4\n", NULL, APX_EINVAL, 2, 2);
	assert_string_equal(e.reason, "quoted field not closed");
	BAD("a,b\n1,\"", NULL, APX_EINVAL, 2, 2);
	BAD("a,b\n1,\"\"\"", NULL, APX_EINVAL, 2, 2);
	BAD("\"a", NULL, APX_EINVAL, 1, 1);
	BAD("a\n\"x\r\n\r\ny", NULL, APX_EINVAL, 2, 1);
}

static void
test_field_count(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a,b,c\n1,2\n", NULL, APX_EINVAL, 2, 3);
	assert_string_equal(e.reason, "expected 3 fields, found 2");
	e = BAD("a,b\n1,2\n1,2,3\n", NULL, APX_EINVAL, 3, 3);
	assert_string_equal(e.reason, "expected 2 fields, found 3");
	/* A trailing comma is one more (empty) field. */
	BAD("a,b\n1,2,\n", NULL, APX_EINVAL, 2, 3);
	BAD("a\n1,\n", NULL, APX_EINVAL, 2, 2);
}

/* --- header names -------------------------------------------------------- */

static void
test_header_names(void **state)
{
	struct apx_csv_error e;
	char in[200], want[200];

	(void)state;
	/* Trimmed of spaces; inner spaces, digits, _ . - allowed. */
	ok("  id , Forecast value ,x_1.2-b\n1,2,3\n",
	    "id|Forecast value|x_1.2-b;1|2|3;");
	ok("0,9\n1,2\n", "0|9;1|2;");
	ok("\" a\"\n1\n", "a;1;");
	/* 64 bytes fit, 65 do not. */
	memset(in, 'n', 64);
	strcpy(in + 64, "\n1\n");
	memset(want, 'n', 64);
	strcpy(want + 64, ";1;");
	ok(in, want);
	memset(in, 'n', 65);
	strcpy(in + 65, "\n1\n");
	e = bad(in, strlen(in), NULL, APX_EINVAL, 1, 1);
	assert_string_equal(e.reason, "header name longer than 64 bytes");
	/* 64 after trimming is fine. */
	memset(in, ' ', 3);
	memset(in + 3, 'n', 64);
	strcpy(in + 67, "  ,b\n1,2\n");
	memset(want, 'n', 64);
	strcpy(want + 64, "|b;1|2;");
	ok(in, want);
}

static void
test_header_names_bad(void **state)
{
	static const char *const names[] = {
		"", " ", "   ", "a\tb", "a/b", "a:b", "a;b",
		"\xc3\xa9t\xc3\xa9",
		"a'b", "a\\b", "(a)", "a+b", "a=b", "a\rb", "a\nb",
	};
	struct apx_csv_error e;
	char in[100];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < APX_NELEM(names); i++) {
		n = snprintf(in, sizeof(in), "ok,\"%s\",z\n1,2,3\n", names[i]);
		bad(in, (size_t)n, NULL, APX_EINVAL, 1, 2);
	}
	e = BAD("a,,b\n", NULL, APX_EINVAL, 1, 2);
	assert_string_equal(e.reason, "header name is empty");
	/* The reason never holds input bytes. */
	e = BAD("id,zzqq/zzqq\n", NULL, APX_EINVAL, 1, 2);
	assert_null(strstr(e.reason, "zzqq"));
	assert_string_equal(e.reason, "header name has a character other "
	    "than A-Z a-z 0-9 _ . - or space");
}

static void
test_header_duplicates(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a,b,A\n1,2,3\n", NULL, APX_EINVAL, 1, 3);
	assert_string_equal(e.reason, "header name repeats column 1");
	BAD("id,x,y, ID \n", NULL, APX_EINVAL, 1, 4);
	/* The first repeat in reading order is the one named. */
	e = BAD("q,b,c,C,d,B,Q\n", NULL, APX_EINVAL, 1, 4);
	assert_string_equal(e.reason, "header name repeats column 3");
	e = BAD("x,x,x\n", NULL, APX_EINVAL, 1, 2);
	assert_string_equal(e.reason, "header name repeats column 1");
	/* Prefixes and near misses are different names. */
	ok("a,ab,a b,a_b,a.b,a-b,aB_\n1,2,3,4,5,6,7\n",
	    "a|ab|a b|a_b|a.b|a-b|aB_;1|2|3|4|5|6|7;");
}

static void
test_header_many_unique(void **state)
{
	struct apx_csv_limits lim = { 0, 0, 6000, 0 };
	struct apx_csv_error e;
	char *in;
	size_t i, off = 0;

	(void)state;
	/* 5000 names (sorted, not compared pairwise), then one repeat. */
	assert_non_null(in = malloc(5000 * 8 + 16));
	for (i = 0; i < 5000; i++)
		off += (size_t)sprintf(in + off, "%sC%zu", i ? "," : "", i);
	assert_int_equal(apx_csv_parse(in, off, &lim, NULL, NULL, &e), 0);
	off += (size_t)sprintf(in + off, ",c4321");
	e = bad(in, off, &lim, APX_EINVAL, 1, 5001);
	assert_string_equal(e.reason, "header name repeats column 4322");
	free(in);
}

/* --- UTF-8 and NUL ------------------------------------------------------- */

static void
test_utf8_valid(void **state)
{
	(void)state;
	ok("a\n\xc2\x80\n", "a;\xc2\x80;");		/* U+0080 */
	ok("a\n\xdf\xbf\n", "a;\xdf\xbf;");		/* U+07FF */
	ok("a\n\xe0\xa0\x80\n", "a;\xe0\xa0\x80;");	/* U+0800 */
	ok("a\n\xed\x9f\xbf\n", "a;\xed\x9f\xbf;");	/* U+D7FF */
	ok("a\n\xee\x80\x80\n", "a;\xee\x80\x80;");	/* U+E000 */
	ok("a\n\xef\xbf\xbf\n", "a;\xef\xbf\xbf;");	/* U+FFFF */
	ok("a\n\xf0\x90\x80\x80\n", "a;\xf0\x90\x80\x80;"); /* U+10000 */
	ok("a\n\xf0\x9f\x98\x80\n", "a;\xf0\x9f\x98\x80;"); /* emoji */
	ok("a\n\xf4\x8f\xbf\xbf\n", "a;\xf4\x8f\xbf\xbf;"); /* U+10FFFF */
	ok("a\n\"\xe2\x82\xac,\xc3\xa9\"\n", "a;\xe2\x82\xac,\xc3\xa9;");
}

static void
test_utf8_overlong(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a\n\xc0\x80\n", NULL, APX_EINVAL, 2, 1);
	assert_string_equal(e.reason, "invalid UTF-8");
	BAD("a\n\xc1\xbf\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\xe0\x80\x80\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\xe0\x9f\xbf\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\xf0\x80\x80\x80\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\xf0\x8f\xbf\xbf\n", NULL, APX_EINVAL, 2, 1);
	/* An overlong quote or comma is not one. */
	BAD("a,b\n1,\"x\xc0\xa2\n", NULL, APX_EINVAL, 2, 2);
	BAD("a,b\n1\xc0\xac" "2\n", NULL, APX_EINVAL, 2, 1);
}

static void
test_utf8_surrogate(void **state)
{
	(void)state;
	BAD("a\n\xed\xa0\x80\n", NULL, APX_EINVAL, 2, 1);	/* D800 */
	BAD("a\n\xed\xbf\xbf\n", NULL, APX_EINVAL, 2, 1);	/* DFFF */
	BAD("a\n\"\xed\xb0\x80\"\n", NULL, APX_EINVAL, 2, 1);
	/* CESU-8 pair for U+10000. */
	BAD("a\n\xed\xa0\x80\xed\xb0\x80\n", NULL, APX_EINVAL, 2, 1);
}

static void
test_utf8_too_big(void **state)
{
	static const char *const bytes[] = {
		"\xf4\x90\x80\x80", "\xf4\xbf\xbf\xbf", "\xf5\x80\x80\x80",
		"\xf7\xbf\xbf\xbf", "\xf8\x88\x80\x80\x80",
		"\xfc\x84\x80\x80\x80\x80",
		"\xfe", "\xff",
	};
	char in[32];
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < APX_NELEM(bytes); i++) {
		n = snprintf(in, sizeof(in), "a,b\n1,x%s\n", bytes[i]);
		bad(in, (size_t)n, NULL, APX_EINVAL, 2, 2);
	}
}

static void
test_utf8_broken(void **state)
{
	(void)state;
	/* Stray continuation bytes. */
	BAD("a\n\x80\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\nx\xbf\n", NULL, APX_EINVAL, 2, 1);
	/* Cut short: by the end of input, a comma, a line end, a quote. */
	BAD("a\n\xe2\x82", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\xf0\x9f\x98", NULL, APX_EINVAL, 2, 1);
	BAD("a,b\n\xc3,1\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\xe2\x82\n", NULL, APX_EINVAL, 2, 1);
	BAD("a\n\"\xe2\"\n", NULL, APX_EINVAL, 2, 1);
	/* A lead byte followed by ASCII. */
	BAD("a\n\xc3(\n", NULL, APX_EINVAL, 2, 1);
	/* In the header too. */
	BAD("a,\xff\n", NULL, APX_EINVAL, 1, 2);
}

static void
test_nul_byte(void **state)
{
	struct apx_csv_error e;

	(void)state;
	e = BAD("a,b\n1,x\0y\n", NULL, APX_EINVAL, 2, 2);
	assert_string_equal(e.reason, "NUL byte");
	BAD("a,b\n1,\"x\0y\"\n", NULL, APX_EINVAL, 2, 2);
	BAD("a,b\n1,\"\n\0\"\n", NULL, APX_EINVAL, 3, 2);
	BAD("\0", NULL, APX_EINVAL, 1, 1);
	BAD("a\0,b\n", NULL, APX_EINVAL, 1, 1);
	BAD("a,b\n1,2\n\0", NULL, APX_EINVAL, 3, 1);
}

/* --- limits -------------------------------------------------------------- */

static void
test_limit_bytes(void **state)
{
	struct apx_csv_limits lim = { 8, 0, 0, 0 };
	struct apx_csv_error e;
	struct rows r;

	(void)state;
	assert_int_equal(run(S("a,b\n1,2\n"), &lim, &r, NULL), 0);
	assert_int_equal(r.n, 2);
	e = BAD("a,b\n1,2\n\n", &lim, APX_ETOOBIG, 0, 0);
	assert_string_equal(e.reason, "input larger than 8 bytes");
	/* Checked before anything is read: no row is handed over. */
	assert_int_equal(run(S("a,b\n1,2\n\n"), &lim, &r, NULL), APX_ETOOBIG);
	assert_int_equal(r.n, 0);
	/* The BOM counts. */
	assert_int_equal(run(S("\xef\xbb\xbf" "a,b\n1,2"), &lim, &r, NULL),
	    APX_ETOOBIG);
	lim.max_bytes = 0;
	assert_int_equal(run(S("a,b\n1,2\n\n"), &lim, &r, NULL), 0);
}

static void
test_limit_rows(void **state)
{
	struct apx_csv_limits lim = { 0, 3, 0, 0 };
	struct apx_csv_error e;
	struct rows r;

	(void)state;
	assert_int_equal(run(S("h\n1\n2\n3\n"), &lim, &r, NULL), 0);
	assert_int_equal(r.n, 4);
	assert_int_equal(run(S("h\n1\n2\n3\n\n"), &lim, &r, NULL), 0);
	assert_int_equal(run(S("h\n1\n2\n3"), &lim, &r, NULL), 0);
	e = BAD("h\n1\n2\n3\n4\n", &lim, APX_ETOOBIG, 5, 0);
	assert_string_equal(e.reason, "more than 3 data rows");
	BAD("h\n1\n2\n3\n4", &lim, APX_ETOOBIG, 5, 0);
	/* The rows before the limit were handed over. */
	assert_int_equal(run(S("h\n1\n2\n3\n4"), &lim, &r, NULL), APX_ETOOBIG);
	assert_int_equal(r.n, 4);
	/* The header does not count. */
	lim.max_rows = 1;
	assert_int_equal(run(S("h\nx\n"), &lim, &r, NULL), 0);
	BAD("h\nx\ny\n", &lim, APX_ETOOBIG, 3, 0);
}

static void
test_limit_cols(void **state)
{
	struct apx_csv_limits lim = { 0, 0, 3, 0 };
	struct apx_csv_error e;
	struct rows r;

	(void)state;
	assert_int_equal(run(S("a,b,c\n1,2,3\n"), &lim, &r, NULL), 0);
	e = BAD("a,b,c,d\n1,2,3,4\n", &lim, APX_ETOOBIG, 1, 4);
	assert_string_equal(e.reason, "more than 3 fields");
	/* In a data row the limit comes before the count check. */
	BAD("a,b,c\n1,2,3,4\n", &lim, APX_ETOOBIG, 2, 4);
	BAD("a,b,c\n1,2,3,\n", &lim, APX_ETOOBIG, 2, 4);
	lim.max_cols = 1;
	assert_int_equal(run(S("a\n1\n"), &lim, &r, NULL), 0);
	BAD("a,b\n", &lim, APX_ETOOBIG, 1, 2);
}

static void
test_limit_field(void **state)
{
	struct apx_csv_limits lim = { 0, 0, 0, 3 };
	struct apx_csv_error e;
	struct rows r;

	(void)state;
	assert_int_equal(run(S("a,b\nxyz,1\n"), &lim, &r, NULL), 0);
	e = BAD("a,b\nwxyz,1\n", &lim, APX_ETOOBIG, 2, 1);
	assert_string_equal(e.reason, "field longer than 3 bytes");
	/* Counted after unquoting: "" is one byte. */
	assert_int_equal(run(S("a\n\"x\"\"y\"\n"), &lim, &r, NULL), 0);
	assert_string_equal(r.text, "a;x\"y;");
	BAD("a\n\"x\"\"yz\"\n", &lim, APX_ETOOBIG, 2, 1);
	assert_int_equal(run(S("a\n\"\"\"\"\"\"\"\"\n"), &lim, &r, NULL), 0);
	assert_int_equal(run(S("a\n\"\"\"\"\"\"\"\"\"\"\n"), &lim, &r,
	    NULL), APX_ETOOBIG);
	/* Bytes, not characters; a line break inside quotes counts. */
	assert_int_equal(run(S("a\n\xe2\x82\xac\n"), &lim, &r, NULL), 0);
	BAD("a\nx\xe2\x82\xac\n", &lim, APX_ETOOBIG, 2, 1);
	BAD("a\n\"x\r\ny\"\n", &lim, APX_ETOOBIG, 3, 1);
	BAD("a\n\"xyz\nw\"\n", &lim, APX_ETOOBIG, 2, 1);	/* the LF */
	/* The header is a record like the others (before trimming). */
	BAD(" ab ,c\n", &lim, APX_ETOOBIG, 1, 1);
	/* Found in the middle of a long run, not after copying it. */
	BAD("a,b\n1,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", &lim,
	    APX_ETOOBIG, 2, 2);
}

static void
test_limit_defaults(void **state)
{
	char *in;
	size_t i, off = 0;
	struct rows r;

	(void)state;
	/* NULL limits and zero limits are the APX_CSV_DEF_ values. */
	assert_non_null(in = malloc(APX_CSV_DEF_FIELD + 64));
	memcpy(in, "a\n", 2);
	memset(in + 2, 'x', APX_CSV_DEF_FIELD);
	assert_int_equal(run(in, APX_CSV_DEF_FIELD + 2, NULL, &r, NULL), 0);
	in[APX_CSV_DEF_FIELD + 2] = 'x';
	bad(in, APX_CSV_DEF_FIELD + 3, NULL, APX_ETOOBIG, 2, 1);
	free(in);

	assert_non_null(in = malloc((APX_CSV_DEF_COLS + 1) * 6));
	for (i = 0; i < APX_CSV_DEF_COLS; i++)
		off += (size_t)sprintf(in + off, "%sc%zu", i ? "," : "", i);
	assert_int_equal(run(in, off, NULL, &r, NULL), 0);
	{
		struct apx_csv_limits zero = { 0, 0, 0, 0 };

		assert_int_equal(run(in, off, &zero, &r, NULL), 0);
		off += (size_t)sprintf(in + off, ",c%d", APX_CSV_DEF_COLS);
		bad(in, off, &zero, APX_ETOOBIG, 1, APX_CSV_DEF_COLS + 1);
		bad(in, off, NULL, APX_ETOOBIG, 1, APX_CSV_DEF_COLS + 1);
	}
	free(in);
}

static void
test_limit_huge(void **state)
{
	struct apx_csv_limits lim = { SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX };
	struct rows r;

	(void)state;
	/* Limits near SIZE_MAX do not overflow the buffer's bound. */
	assert_int_equal(run(S("a,b\n1,\"2\"\"\"\n"), &lim, &r, NULL), 0);
	assert_string_equal(r.text, "a|b;1|2\";");
	lim.max_cols = 2;
	assert_int_equal(run(S("a,b\n1,2\n"), &lim, &r, NULL), 0);
	lim.max_cols = SIZE_MAX / 2;
	lim.max_field = 3;
	assert_int_equal(run(S("a,b\n1,2\n"), &lim, &r, NULL), 0);
	lim.max_cols = 1;
	lim.max_field = 1;	/* a buffer of two bytes */
	assert_int_equal(run(S("a\n1\n2\n"), &lim, &r, NULL), 0);
	assert_string_equal(r.text, "a;1;2;");
}

static void
test_many_rows(void **state)
{
	struct apx_buf b = { NULL, 0, 0, 0 };
	struct apx_csv_error e;
	char x[300];
	size_t i;

	(void)state;
	/* The working buffer is reused: rows of every size, then a bad one. */
	memset(x, 'x', sizeof(x));
	assert_int_equal(apx_buf_adds(&b, "id,v\r\n"), 0);
	for (i = 1; i <= 20000; i++)
		assert_int_equal(apx_buf_printf(&b, "%zu,%.*s\r\n", i,
		    (int)(i % sizeof(x)), x), 0);
	assert_int_equal(apx_csv_parse(b.data, b.len, NULL, NULL, NULL, &e), 0);
	assert_int_equal(apx_buf_adds(&b, "20001,\"x\"y\r\n"), 0);
	assert_int_equal(apx_csv_parse(b.data, b.len, NULL, NULL, NULL, &e),
	    APX_EINVAL);
	assert_int_equal(e.line, 20002);
	assert_int_equal(e.column, 2);
	apx_buf_free(&b);
}

/* --- the callback -------------------------------------------------------- */

static void
test_callback_stop(void **state)
{
	struct apx_csv_error e;
	struct rows r;

	(void)state;
	rows_init(&r);
	r.stop_at = 2;
	r.stop_rc = 42;
	assert_int_equal(apx_csv_parse(S("a\n1\n\"2\n\"\n3\n"), NULL, collect,
	    &r, &e), 42);
	assert_int_equal(r.n, 3);	/* header, 1, 2: no 3 */
	assert_int_equal(e.line, 3);	/* where row 2 starts */
	assert_int_equal(e.column, 0);
	/* On the header; negative values too, even ours. */
	rows_init(&r);
	r.stop_at = 0;
	r.stop_rc = APX_ENOTFOUND;
	assert_int_equal(apx_csv_parse(S("a\n1\n"), NULL, collect, &r, &e),
	    APX_ENOTFOUND);
	assert_int_equal(r.n, 1);
	/* A later error is not reached. */
	rows_init(&r);
	r.stop_at = 1;
	r.stop_rc = -1000;
	assert_int_equal(apx_csv_parse(S("a\n1\n\""), NULL, collect, &r, &e),
	    -1000);
}

static void
test_callback_optional(void **state)
{
	struct apx_csv_error e;

	(void)state;
	/* No callback: validation only. No error record: fine too. */
	assert_int_equal(apx_csv_parse(S("a,b\n1,2\n"), NULL, NULL, NULL, &e),
	    0);
	assert_int_equal(apx_csv_parse(S("a,b\n1\n"), NULL, NULL, NULL, &e),
	    APX_EINVAL);
	assert_int_equal(e.line, 2);
	assert_int_equal(apx_csv_parse(S("a,b\n1\n"), NULL, NULL, NULL, NULL),
	    APX_EINVAL);
	assert_int_equal(apx_csv_parse(S("a,b\n1,2"), NULL, NULL, NULL, NULL),
	    0);
}

static void
test_error_reset(void **state)
{
	struct apx_csv_error e;

	(void)state;
	assert_int_equal(apx_csv_parse(S("a\n\""), NULL, NULL, NULL, &e),
	    APX_EINVAL);
	assert_int_not_equal(e.line, 0);
	/* A success clears the record. */
	assert_int_equal(apx_csv_parse(S("a\n1"), NULL, NULL, NULL, &e), 0);
	assert_int_equal(e.line, 0);
	assert_int_equal(e.column, 0);
	assert_string_equal(e.reason, "");
}

/* --- writing ------------------------------------------------------------- */

static void
test_write_plain(void **state)
{
	(void)state;
	assert_string_equal(field_text("abc", 3, 0), "abc");
	assert_string_equal(field_text("", 0, 0), "");
	assert_string_equal(field_text(NULL, 0, 0), "");
	assert_string_equal(field_text("a b", 3, 0), "a b");
	assert_string_equal(field_text("12.5", 4, 0), "12.5");
	assert_string_equal(field_text("\xc3\xa9t\xc3\xa9", 5, 0),
	    "\xc3\xa9t\xc3\xa9");
	assert_string_equal(field_text("it's", 4, 0), "it's");
	/* LEN bytes, not up to a NUL. */
	assert_string_equal(field_text("abcdef", 2, 0), "ab");
}

static void
test_write_quoting(void **state)
{
	(void)state;
	assert_string_equal(field_text("a,b", 3, 0), "\"a,b\"");
	assert_string_equal(field_text("say \"hi\"", 8, 0),
	    "\"say \"\"hi\"\"\"");
	assert_string_equal(field_text("\"", 1, 0), "\"\"\"\"");
	assert_string_equal(field_text("\"\"", 2, 0), "\"\"\"\"\"\"");
	assert_string_equal(field_text("a\nb", 3, 0), "\"a\nb\"");
	assert_string_equal(field_text("a\rb", 3, 0), "\"a\rb\"");
	assert_string_equal(field_text("a\r\n", 3, 0), "\"a\r\n\"");
	assert_string_equal(field_text(" a", 2, 0), "\" a\"");
	assert_string_equal(field_text("a ", 2, 0), "\"a \"");
	assert_string_equal(field_text(" ", 1, 0), "\" \"");
	assert_string_equal(field_text("\ta", 2, 0), "\"\ta\"");
	assert_string_equal(field_text("x\"", 2, 0), "\"x\"\"\"");
}

static void
test_write_neutralise(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} t[] = {
		{ "=1+2", "'=1+2" },
		{ "=HYPERLINK(\"http://x\")",
		    "\"'=HYPERLINK(\"\"http://x\"\")\"" },
		{ "+A1", "'+A1" },
		{ "-A1", "'-A1" },
		{ "-2+3", "'-2+3" },
		{ "@SUM(A1)", "'@SUM(A1)" },
		{ "\tx", "\"'\tx\"" },
		{ "\rx", "\"'\rx\"" },
		{ "=", "'=" },
		{ "-", "'-" },
		{ "+", "'+" },
		{ "-.", "'-." },
		{ "-1e", "'-1e" },
		{ "-1e+", "'-1e+" },
		{ "+-1", "'+-1" },
		{ "-1.2.3", "'-1.2.3" },
		{ "-0x10", "'-0x10" },
		{ "-inf", "'-inf" },
		{ "- 1", "'- 1" },
		{ "-1 ", "\"'-1 \"" },
		{ "=a,b", "\"'=a,b\"" },
		/* Not at the start: left alone. */
		{ "a=1", "a=1" },
		{ " =1", "\" =1\"" },
		{ "'=1", "'=1" },
		{ "", "" },
	};
	const char *plain;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(t); i++) {
		if (strcmp(field_text(t[i].in, strlen(t[i].in),
		    APX_CSV_NEUTRALISE), t[i].out) != 0)
			fail_msg("\"%s\": got \"%s\"", t[i].in,
			    field_text(t[i].in, strlen(t[i].in),
			    APX_CSV_NEUTRALISE));
		/* Without the flag nothing is added. */
		plain = field_text(t[i].in, strlen(t[i].in), 0);
		assert_true(plain[0] != '\'' || t[i].in[0] == '\'');
		assert_true(strncmp(plain, "\"'", 2) != 0);
	}
}

static void
test_write_numbers_kept(void **state)
{
	static const char *const nums[] = {
		"-12.5", "+3", "-3", "-0", "+0.0", "-.5", "+.5", "-5.", "-1e5",
		"+1E5", "-1e-3", "+2.5E+10", "-007", "1e5", "12", "0.25",
	};
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(nums); i++)
		assert_string_equal(field_text(nums[i], strlen(nums[i]),
		    APX_CSV_NEUTRALISE), nums[i]);
}

static void
test_write_row(void **state)
{
	const char *f[] = { "id", "a,b", "", "=x", "-1.5" };
	size_t l[] = { 2, 3, 0, 2, 4 };
	struct apx_buf b = { NULL, 0, 0, 0 };

	(void)state;
	assert_int_equal(apx_csv_write_row(&b, f, l, 5, 0), 0);
	assert_string_equal(b.data, "id,\"a,b\",,=x,-1.5\r\n");
	assert_int_equal(apx_csv_write_row(&b, f, l, 5, APX_CSV_NEUTRALISE),
	    0);
	assert_string_equal(b.data,
	    "id,\"a,b\",,=x,-1.5\r\nid,\"a,b\",,'=x,-1.5\r\n");
	apx_buf_reset(&b);
	/* One empty field is "" (else it would be an empty line). */
	assert_int_equal(apx_csv_write_row(&b, f + 2, l + 2, 1, 0), 0);
	assert_string_equal(b.data, "\"\"\r\n");
	apx_buf_reset(&b);
	assert_int_equal(apx_csv_write_row(&b, f + 1, l + 1, 2, 0), 0);
	assert_string_equal(b.data, "\"a,b\",\r\n");
	apx_buf_reset(&b);
	assert_int_equal(apx_csv_write_row(&b, f + 2, l + 2, 2, 0), 0);
	assert_string_equal(b.data, ",=x\r\n");
	apx_buf_free(&b);
}

static void
test_write_refused(void **state)
{
	const char *f[] = { "a", NULL };
	size_t l[] = { 1, 1 }, save;
	struct apx_buf b = { NULL, 0, 0, 16 };

	(void)state;
	assert_int_equal(apx_csv_write_field(NULL, "a", 1, 0), APX_EINVAL);
	assert_int_equal(apx_csv_write_field(&b, NULL, 1, 0), APX_EINVAL);
	assert_int_equal(apx_csv_write_field(&b, "a", 1, 0x2), APX_EINVAL);
	assert_int_equal(apx_csv_write_row(&b, f, l, 0, 0), APX_EINVAL);
	assert_int_equal(apx_csv_write_row(&b, f, l, 2, 0), APX_EINVAL);
	assert_int_equal(apx_csv_write_row(&b, NULL, l, 1, 0), APX_EINVAL);
	assert_int_equal(apx_csv_write_row(&b, f, NULL, 1, 0), APX_EINVAL);
	assert_int_equal(apx_csv_write_row(&b, f, l, 1, 4), APX_EINVAL);
	assert_int_equal(b.len, 0);

	/* Over the buffer's cap: nothing half-written is left. */
	assert_int_equal(apx_csv_write_field(&b, "0123456789", 10, 0), 0);
	save = b.len;
	assert_int_equal(apx_csv_write_field(&b, "a\"b\"c", 5, 0),
	    APX_ETOOBIG);
	assert_int_equal(b.len, save);
	assert_string_equal(b.data, "0123456789");
	f[1] = "bcd";
	l[1] = 3;
	assert_int_equal(apx_csv_write_row(&b, f, l, 2, 0), APX_ETOOBIG);
	assert_int_equal(b.len, save);
	assert_string_equal(b.data, "0123456789");
	assert_int_equal(apx_csv_write_row(&b, f, l, 1, 0), 0);
	assert_string_equal(b.data, "0123456789a\r\n");
	apx_buf_free(&b);
}

/* --- round trip ---------------------------------------------------------- */

static int
compare(void *arg, size_t rowno, const char *const *f, const size_t *l,
    size_t n)
{
	struct table *t = arg;
	char name[24];
	size_t i, k;

	assert_int_equal(n, t->ncols);
	if (rowno == 0) {
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "c%zu", i);
			assert_string_equal(f[i], name);
		}
		return 0;
	}
	assert_true(rowno <= t->nrows);
	for (i = 0; i < n; i++) {
		k = (rowno - 1) * t->ncols + i;
		assert_int_equal(l[i], t->len[k]);
		assert_memory_equal(f[i], t->cell[k], l[i] + 1);
	}
	t->seen++;
	return 0;
}

static void
round_trip(uint32_t seed, size_t nrows, size_t ncols)
{
	static const char *const piece[] = {
		"a", "Z", "0", "7", " ", ",", "\"", "\r", "\n", "\r\n", "'",
		"=", "-", "+", "@", "\t", ".", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9d\x84\x9e", "\xf4\x8f\xbf\xbf", "\xef\xbb\xbf", "\"\"",
	};
	struct apx_buf b = { NULL, 0, 0, 0 };
	struct apx_csv_error e;
	struct table t;
	const char **f;
	char name[24], *c;
	size_t i, j, k, np;
	int rc;

	t.nrows = nrows;
	t.ncols = ncols;
	t.seen = 0;
	assert_non_null(t.cell = calloc(nrows * ncols, sizeof(*t.cell)));
	assert_non_null(t.len = calloc(nrows * ncols, sizeof(*t.len)));
	assert_non_null(f = calloc(ncols, sizeof(*f)));

	for (j = 0; j < ncols; j++) {
		snprintf(name, sizeof(name), "c%zu", j);
		assert_int_equal(apx_csv_write_field(&b, name, strlen(name),
		    0), 0);
		assert_int_equal(apx_buf_adds(&b, j + 1 < ncols ? "," : "\n"),
		    0);
	}
	for (i = 0; i < nrows; i++) {
		for (j = 0; j < ncols; j++) {
			k = i * ncols + j;
			assert_non_null(c = t.cell[k] = calloc(1, 64));
			np = prng(&seed) % 9;
			while (np-- > 0)
				strcat(c, piece[prng(&seed) %
				    APX_NELEM(piece)]);
			t.len[k] = strlen(c);
			f[j] = c;
		}
		assert_int_equal(apx_csv_write_row(&b, f, t.len + i * ncols,
		    ncols, 0), 0);
	}
	rc = apx_csv_parse(b.data, b.len, NULL, compare, &t, &e);
	if (rc != 0)
		fail_msg("seed %u: rc %d at %zu:%zu: %s", seed, rc, e.line,
		    e.column, e.reason);
	assert_int_equal(t.seen, nrows);

	for (k = 0; k < nrows * ncols; k++)
		free(t.cell[k]);
	free(t.cell);
	free(t.len);
	free(f);
	apx_buf_free(&b);
}

static void
test_round_trip(void **state)
{
	(void)state;
	round_trip(0x9e3779b9, 400, 5);
	round_trip(12345, 300, 1);	/* one column: empty rows are "" */
	round_trip(777, 200, 2);
	round_trip(4242, 50, 40);
}

static void
test_round_trip_neutralised(void **state)
{
	static const char *const in[] = {
		"=1+2", "-12.5", "@x", "\tq", "\r", "-", "+3", "safe", "",
		"-1,5", "=\"a\"",
	};
	struct apx_buf b = { NULL, 0, 0, 0 };
	size_t l[APX_NELEM(in)], i;
	struct rows r;

	(void)state;
	for (i = 0; i < APX_NELEM(in); i++)
		l[i] = strlen(in[i]);
	assert_int_equal(apx_buf_adds(&b, "a,b,c,d,e,f,g,h,i,j,k\n"), 0);
	assert_int_equal(apx_csv_write_row(&b, in, l, APX_NELEM(in),
	    APX_CSV_NEUTRALISE), 0);
	assert_int_equal(run(b.data, b.len, NULL, &r, NULL), 0);
	assert_string_equal(r.text, "a|b|c|d|e|f|g|h|i|j|k;"
	    "'=1+2|-12.5|'@x|'\tq|'\r|'-|+3|safe||'-1,5|'=\"a\";");
	apx_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lf),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_last_record_unterminated),
		cmocka_unit_test(test_final_empty_line),
		cmocka_unit_test(test_empty_line_middle),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_header_only),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_lone_cr),
		cmocka_unit_test(test_fields_terminated),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_quoted_newlines),
		cmocka_unit_test(test_quote_in_unquoted),
		cmocka_unit_test(test_after_closing_quote),
		cmocka_unit_test(test_unterminated_quote),
		cmocka_unit_test(test_field_count),
		cmocka_unit_test(test_header_names),
		cmocka_unit_test(test_header_names_bad),
		cmocka_unit_test(test_header_duplicates),
		cmocka_unit_test(test_header_many_unique),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_overlong),
		cmocka_unit_test(test_utf8_surrogate),
		cmocka_unit_test(test_utf8_too_big),
		cmocka_unit_test(test_utf8_broken),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_limit_bytes),
		cmocka_unit_test(test_limit_rows),
		cmocka_unit_test(test_limit_cols),
		cmocka_unit_test(test_limit_field),
		cmocka_unit_test(test_limit_defaults),
		cmocka_unit_test(test_limit_huge),
		cmocka_unit_test(test_many_rows),
		cmocka_unit_test(test_callback_stop),
		cmocka_unit_test(test_callback_optional),
		cmocka_unit_test(test_error_reset),
		cmocka_unit_test(test_write_plain),
		cmocka_unit_test(test_write_quoting),
		cmocka_unit_test(test_write_neutralise),
		cmocka_unit_test(test_write_numbers_kept),
		cmocka_unit_test(test_write_row),
		cmocka_unit_test(test_write_refused),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_neutralised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
