/*
 * Fuzz the CSV reader and writer (uploaded forecast data, downloads). The
 * input is parsed with small limits and with large ones. Every row handed
 * over is checked (call order, field count, lengths against strlen, no
 * NUL, UTF-8 by a second decoder, header names, limits) and written back
 * with apx_csv_write_row; that text must parse to the same rows (compared
 * by hash) and write back to the same bytes. What the small limits accept,
 * or refuse as malformed, the large ones must see the same way, at the
 * same line and column. Each data row also goes through the neutralising
 * writer and back. Last, the raw input is written as one field and must
 * read back unchanged whenever it is UTF-8 without NUL.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/buf.h"
#include "core/csv.h"
#include "fuzz.h"

#define STOP_RC		7
#define NEVER		((size_t)-1)

struct run {
	const struct apx_csv_limits *lim;
	size_t		 rows;		/* calls so far */
	size_t		 ncols;
	size_t		 maxfield;	/* longest field of a data row */
	size_t		 stop_at;
	int		 deep;		/* also through the neutraliser */
	uint64_t	 hash;
	int		 write_rc;
	struct apx_buf	 out;		/* the rows written back */
};

/* One row, to compare with what the neutralising writer gives back. */
struct row {
	const char *const *f;
	const size_t	*l;
	size_t		 n;
	int		 neutral;	/* written with APX_CSV_NEUTRALISE */
	int		 seen;
};

static const struct apx_csv_limits small = { 1024, 8, 6, 24 };
static const struct apx_csv_limits large = { 1 << 20, 100000, 1024, 65536 };

static uint64_t	 fnv(uint64_t, const void *, size_t);
static int	 utf8_ok(const unsigned char *, size_t);
static int	 name_ok(const char *, size_t);
static int	 same_name(const char *, size_t, const char *, size_t);
static int	 numeric(const char *, size_t);
static int	 check_row(void *, size_t, const char *const *, const size_t *,
		    size_t);
static int	 check_neutral(void *, size_t, const char *const *,
		    const size_t *, size_t);
static void	 neutralise(const char *const *, const size_t *, size_t);
static int	 parse(const uint8_t *, size_t, const struct apx_csv_limits *,
		    size_t, int, struct run *, struct apx_csv_error *);
static void	 check_error(const uint8_t *, size_t, int,
		    const struct apx_csv_limits *,
		    const struct apx_csv_error *);
static void	 rewrite(const struct run *);
static void	 one_field(const uint8_t *, size_t);

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* UTF-8 by decoding to code points: no overlongs, surrogates, > U+10FFFF. */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static int
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > APX_CSV_NAME_MAX || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ .-", s[i]) == NULL)
			return 0;
	return 1;
}

static int
same_name(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if ((a[i] | 0x20) != (b[i] | 0x20))
			return 0;
	return 1;
}

/* Only what a number may hold, and a digit: the writer may leave it. */
static int
numeric(const char *s, size_t n)
{
	size_t i;
	int digit = 0;

	for (i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digit = 1;
		else if (strchr("+-.eE", s[i]) == NULL || s[i] == '\0')
			return 0;
	}
	return digit;
}

static int
check_row(void *arg, size_t rowno, const char *const *f, const size_t *l,
    size_t n)
{
	struct run *r = arg;
	size_t i, j;

	if (rowno != r->rows || rowno > r->lim->max_rows || n == 0 ||
	    n > r->lim->max_cols || f == NULL || l == NULL)
		__builtin_trap();
	if (rowno == 0) {
		r->ncols = n;
		for (i = 0; i < n; i++) {
			if (!name_ok(f[i], l[i]))
				__builtin_trap();
			for (j = 0; j < i && n <= 128; j++)
				if (same_name(f[i], l[i], f[j], l[j]))
					__builtin_trap();
		}
	} else if (n != r->ncols)
		__builtin_trap();
	r->hash = fnv(r->hash, &rowno, sizeof(rowno));
	r->hash = fnv(r->hash, &n, sizeof(n));
	for (i = 0; i < n; i++) {
		if (l[i] > r->lim->max_field || f[i] == NULL ||
		    f[i][l[i]] != '\0' || memchr(f[i], '\0', l[i]) != NULL ||
		    !utf8_ok((const unsigned char *)f[i], l[i]))
			__builtin_trap();
		if (rowno > 0 && l[i] > r->maxfield)
			r->maxfield = l[i];
		r->hash = fnv(r->hash, &l[i], sizeof(l[i]));
		r->hash = fnv(r->hash, f[i], l[i]);
	}
	if (r->write_rc == 0)
		r->write_rc = apx_csv_write_row(&r->out, f, l, n, 0);
	if (rowno > 0 && r->deep)
		neutralise(f, l, n);
	r->rows++;
	return rowno == r->stop_at ? STOP_RC : 0;
}

/* The neutralised row read back: each field as it was or behind a '. */
static int
check_neutral(void *arg, size_t rowno, const char *const *f, const size_t *l,
    size_t n)
{
	struct row *o = arg;
	size_t i;
	int trigger;

	if (rowno == 0)
		return 0;
	if (rowno != 1 || n != o->n || o->seen)
		__builtin_trap();
	o->seen = 1;
	for (i = 0; i < n; i++) {
		trigger = o->l[i] > 0 && strchr("=+-@\t\r", o->f[i][0]) !=
		    NULL;
		if (l[i] == o->l[i] && memcmp(f[i], o->f[i], l[i]) == 0) {
			/* Left alone: harmless, or a plain number. */
			if (o->neutral && trigger && !numeric(o->f[i], o->l[i]))
				__builtin_trap();
		} else if (o->neutral && l[i] == o->l[i] + 1 &&
		    f[i][0] == '\'' &&
		    memcmp(f[i] + 1, o->f[i], o->l[i]) == 0) {
			if (!trigger)
				__builtin_trap();
		} else
			__builtin_trap();
	}
	return 0;
}

static void
neutralise(const char *const *f, const size_t *l, size_t n)
{
	struct apx_csv_limits lim = { 0, 1, 0, 0 };
	struct apx_buf b = { NULL, 0, 0, 0 };
	struct row o = { f, l, n, 1, 0 };
	size_t i, max = 0;

	for (i = 0; i < n; i++) {
		if (apx_buf_printf(&b, "%sc%zu", i ? "," : "", i) != 0)
			__builtin_trap();
		if (l[i] > max)
			max = l[i];
	}
	lim.max_cols = n;
	lim.max_field = max + 8;	/* the ' and the names "c1023" */
	if (apx_buf_add(&b, "\n", 1) != 0 ||
	    apx_csv_write_row(&b, f, l, n, APX_CSV_NEUTRALISE) != 0 ||
	    apx_csv_parse(b.data, b.len, &lim, check_neutral, &o, NULL) != 0 ||
	    !o.seen)
		__builtin_trap();
	apx_buf_free(&b);
}

static int
parse(const uint8_t *data, size_t size, const struct apx_csv_limits *lim,
    size_t stop_at, int deep, struct run *r, struct apx_csv_error *err)
{
	memset(r, 0, sizeof(*r));
	r->lim = lim;
	r->stop_at = stop_at;
	r->deep = deep;
	r->hash = 0xcbf29ce484222325ULL;
	return apx_csv_parse((const char *)data, size, lim, check_row, r, err);
}

static void
check_error(const uint8_t *data, size_t size, int rc,
    const struct apx_csv_limits *lim, const struct apx_csv_error *err)
{
	size_t i, lines = 1;

	if (memchr(err->reason, '\0', sizeof(err->reason)) == NULL)
		__builtin_trap();
	for (i = 0; i < size; i++)
		if (data[i] == '\n' || data[i] == '\r')
			lines++;
	switch (rc) {
	case 0:
		if (err->line != 0 || err->column != 0 ||
		    err->reason[0] != '\0')
			__builtin_trap();
		/* Nothing the reader took may be other than UTF-8. */
		if (memchr(data, '\0', size) != NULL || !utf8_ok(data, size))
			__builtin_trap();
		break;
	case APX_EINVAL:
	case APX_ETOOBIG:
	case STOP_RC:
		if (err->reason[0] == '\0' || err->line > lines ||
		    err->column > lim->max_cols + 1)
			__builtin_trap();
		break;
	case APX_ENOMEM:
		break;
	default:
		__builtin_trap();
	}
}

/* What was handed over, written back, reads back the same. */
static void
rewrite(const struct run *r)
{
	struct apx_csv_limits lim = *r->lim;
	struct run again;

	if (r->rows == 0 || r->write_rc != 0)
		return;
	lim.max_bytes = 0;	/* quoting may make it longer */
	if (parse((const uint8_t *)r->out.data, r->out.len, &lim, NEVER, 0,
	    &again, NULL) != 0 || again.rows != r->rows ||
	    again.hash != r->hash || again.write_rc != 0 ||
	    again.out.len != r->out.len ||
	    memcmp(again.out.data, r->out.data, r->out.len) != 0)
		__builtin_trap();
	apx_buf_free(&again.out);
}

/* The whole input as one field (after a first one), written and read. */
static void
one_field(const uint8_t *data, size_t size)
{
	struct apx_buf b = { NULL, 0, 0, 0 };
	struct apx_csv_limits lim = { 0, 1, 2, 0 };
	struct row o;
	const char *f[2] = { "x", (const char *)data };
	size_t l[2] = { 1, size };

	if (memchr(data, '\0', size) != NULL || !utf8_ok(data, size))
		return;
	lim.max_field = size + 1;
	o.f = f;
	o.l = l;
	o.n = 2;
	o.neutral = 0;
	o.seen = 0;
	/* Plain: the same bytes back. */
	if (apx_buf_add(&b, "a,b\r\n", 5) != 0 ||
	    apx_csv_write_row(&b, f, l, 2, 0) != 0 ||
	    apx_csv_parse(b.data, b.len, &lim, check_neutral, &o, NULL) != 0 ||
	    !o.seen)
		__builtin_trap();
	apx_buf_free(&b);
	neutralise(f, l, 2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_csv_error es, el, ex;
	struct run s, l, x;
	int rs, rl, rx;

	rs = parse(data, size, &small, NEVER, 0, &s, &es);
	check_error(data, size, rs, &small, &es);
	rewrite(&s);
	rl = parse(data, size, &large, NEVER, 1, &l, &el);
	check_error(data, size, rl, &large, &el);
	rewrite(&l);

	/* Within the small limits both agree. */
	if ((rs == 0 || rs == APX_EINVAL) && (rl != rs || s.rows != l.rows ||
	    s.hash != l.hash || es.line != el.line || es.column != el.column ||
	    strcmp(es.reason, el.reason) != 0))
		__builtin_trap();
	/* A limit the small run hit past the header shows in the large one. */
	if (rl == 0 && rs != 0 && (rs != APX_ETOOBIG || (es.line != 1 &&
	    !(size > small.max_bytes || l.rows - 1 > small.max_rows ||
	    l.maxfield > small.max_field))))
		__builtin_trap();

	/* A stop value comes back as it is, after exactly its row. */
	rx = parse(data, size, &large, size % 4, 0, &x, &ex);
	check_error(data, size, rx, &large, &ex);
	if (rl == 0 && l.rows > size % 4 &&
	    (rx != STOP_RC || x.rows != size % 4 + 1 || ex.column != 0))
		__builtin_trap();
	if (rl == 0 && l.rows <= size % 4 && (rx != 0 || x.rows != l.rows))
		__builtin_trap();
	if (rl != 0 && x.rows > l.rows)
		__builtin_trap();

	apx_buf_free(&s.out);
	apx_buf_free(&l.out);
	apx_buf_free(&x.out);
	if (size <= 4096)
		one_field(data, size);
	return 0;
}
