/*
 * RFC 4180 CSV, read and written (see csv.h). The reader is one forward
 * pass over the input, no recursion: each record is unquoted into one
 * working buffer (the fields one after another, each ended by a NUL) with
 * two arrays for the fields' addresses and lengths, all three reused from
 * record to record and freed on every way out. Every limit is checked
 * before the buffer grows, so it never holds more than
 * max_cols * (max_field + 1) bytes. UTF-8 is checked here, byte by byte,
 * as the fields are read, so the first problem in the file is the one
 * reported, with its line.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/buf.h"
#include "core/csv.h"

#define DATA_MIN	256	/* first size of the working buffer */
#define COLS_MIN	16	/* first size of the field arrays */

struct csv {
	const unsigned char *in;
	size_t		 len;
	size_t		 pos;
	size_t		 line;		/* physical line at pos, 1-based */
	size_t		 max_rows;
	size_t		 max_cols;
	size_t		 max_field;
	size_t		 max_data;	/* max_cols * (max_field + 1) */
	char		*data;		/* this record's fields */
	size_t		 used;
	size_t		 cap;
	const char	**fields;
	size_t		*lens;
	size_t		 nf;		/* fields read in this record */
	size_t		 ncap;		/* room in fields and lens */
	size_t		 flen;		/* bytes of the field being read */
	struct apx_csv_error *err;
};

struct name {
	const char	*s;
	size_t		 n;
	size_t		 col;
};

static int	 fail(struct csv *, int, size_t, size_t, const char *, ...)
		    APX_PRINTF(5, 6);
static size_t	 mul_sat(size_t, size_t);
static int	 is_plain(unsigned char);
static size_t	 eol_len(const struct csv *);
static int	 data_reserve(struct csv *, size_t);
static int	 cols_reserve(struct csv *);
static int	 field_add(struct csv *, const unsigned char *, size_t);
static int	 field_char(struct csv *);
static int	 read_plain(struct csv *);
static int	 read_quoted(struct csv *);
static int	 read_record(struct csv *);
static int	 is_name_char(unsigned char);
static unsigned char lower(unsigned char);
static int	 name_key_cmp(const struct name *, const struct name *);
static int	 name_cmp(const void *, const void *);
static int	 check_names(struct csv *, size_t);
static int	 check_unique(struct csv *, size_t);
static int	 is_number(const char *, size_t);
static int	 needs_prefix(const char *, size_t);
static int	 needs_quotes(const char *, size_t);
static int	 put_field(struct apx_buf *, const char *, size_t, int);
static void	 restore(struct apx_buf *, size_t);

/* --- reading ------------------------------------------------------------- */

static int
fail(struct csv *cs, int rc, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	cs->err->line = line;
	cs->err->column = col;
	va_start(ap, fmt);
	vsnprintf(cs->err->reason, sizeof(cs->err->reason), fmt, ap);
	va_end(ap);
	return rc;
}

/* A * B, or SIZE_MAX when that does not fit. */
static size_t
mul_sat(size_t a, size_t b)
{
	if (a != 0 && b > SIZE_MAX / a)
		return SIZE_MAX;
	return a * b;
}

/* ASCII taken in runs: not NUL, ',', '"' or a line end (in quotes ',' too). */
static int
is_plain(unsigned char c)
{
	return c != '\0' && c < 0x80 && c != ',' && c != '"' && c != '\r' &&
	    c != '\n';
}

/* 1 for LF, 2 for CRLF at pos, else 0. */
static size_t
eol_len(const struct csv *cs)
{
	if (cs->pos >= cs->len)
		return 0;
	if (cs->in[cs->pos] == '\n')
		return 1;
	if (cs->in[cs->pos] == '\r' && cs->len - cs->pos >= 2 &&
	    cs->in[cs->pos + 1] == '\n')
		return 2;
	return 0;
}

/* Room for N more bytes; callers have checked the limits. */
static int
data_reserve(struct csv *cs, size_t n)
{
	size_t ncap;
	char *p;

	if (n > cs->max_data || cs->used > cs->max_data - n)
		return fail(cs, APX_ETOOBIG, cs->line, cs->nf + 1,
		    "record larger than its limits");
	if (cs->used + n <= cs->cap)
		return 0;
	ncap = cs->cap ? cs->cap : DATA_MIN;
	while (ncap < cs->used + n)
		ncap = ncap > cs->max_data / 2 ? cs->max_data : ncap * 2;
	if (ncap > cs->max_data)
		ncap = cs->max_data;
	if ((p = realloc(cs->data, ncap)) == NULL)
		return APX_ENOMEM;
	cs->data = p;
	cs->cap = ncap;
	return 0;
}

/* Room for one more field in the arrays, within max_cols. */
static int
cols_reserve(struct csv *cs)
{
	const char **f;
	size_t ncap, *l;

	if (cs->nf >= cs->max_cols)
		return fail(cs, APX_ETOOBIG, cs->line, cs->nf + 1,
		    "more than %zu fields", cs->max_cols);
	if (cs->nf < cs->ncap)
		return 0;
	ncap = cs->ncap ? cs->ncap : COLS_MIN;
	while (ncap <= cs->nf)
		ncap = ncap > cs->max_cols / 2 ? cs->max_cols : ncap * 2;
	if (ncap > cs->max_cols)
		ncap = cs->max_cols;
	if (ncap > SIZE_MAX / sizeof(*cs->lens))
		return APX_ENOMEM;
	if ((f = realloc(cs->fields, ncap * sizeof(*f))) == NULL)
		return APX_ENOMEM;
	cs->fields = f;
	if ((l = realloc(cs->lens, ncap * sizeof(*l))) == NULL)
		return APX_ENOMEM;
	cs->lens = l;
	cs->ncap = ncap;
	return 0;
}

static int
field_add(struct csv *cs, const unsigned char *p, size_t n)
{
	int rc;

	if (n > cs->max_field - cs->flen)
		return fail(cs, APX_ETOOBIG, cs->line, cs->nf + 1,
		    "field longer than %zu bytes", cs->max_field);
	if ((rc = data_reserve(cs, n)) != 0)
		return rc;
	memcpy(cs->data + cs->used, p, n);
	cs->used += n;
	cs->flen += n;
	return 0;
}

/* A NUL or a non-ASCII character at pos. */
static int
field_char(struct csv *cs)
{
	size_t n;
	int rc;

	if (cs->in[cs->pos] == '\0')
		return fail(cs, APX_EINVAL, cs->line, cs->nf + 1, "NUL byte");
	if ((n = apx_utf8_seq(cs->in + cs->pos, cs->len - cs->pos)) == 0)
		return fail(cs, APX_EINVAL, cs->line, cs->nf + 1,
		    "invalid UTF-8");
	if ((rc = field_add(cs, cs->in + cs->pos, n)) != 0)
		return rc;
	cs->pos += n;
	return 0;
}

/* An unquoted field, up to a ',', a line end or the end of input. */
static int
read_plain(struct csv *cs)
{
	size_t start;
	unsigned char c;
	int rc;

	for (;;) {
		start = cs->pos;
		while (cs->pos < cs->len && is_plain(cs->in[cs->pos]))
			cs->pos++;
		if (cs->pos > start &&
		    (rc = field_add(cs, cs->in + start, cs->pos - start)) != 0)
			return rc;
		if (cs->pos == cs->len)
			return 0;
		c = cs->in[cs->pos];
		if (c == ',' || c == '\r' || c == '\n')
			return 0;
		if (c == '"')
			return fail(cs, APX_EINVAL, cs->line, cs->nf + 1,
			    "quote inside an unquoted field");
		if ((rc = field_char(cs)) != 0)
			return rc;
	}
}

/* A quoted field, pos at its opening quote. */
static int
read_quoted(struct csv *cs)
{
	size_t start, qline = cs->line;
	unsigned char c;
	int rc;

	cs->pos++;
	for (;;) {
		start = cs->pos;
		while (cs->pos < cs->len && (is_plain(cs->in[cs->pos]) ||
		    cs->in[cs->pos] == ','))
			cs->pos++;
		if (cs->pos > start &&
		    (rc = field_add(cs, cs->in + start, cs->pos - start)) != 0)
			return rc;
		if (cs->pos == cs->len)
			return fail(cs, APX_EINVAL, qline, cs->nf + 1,
			    "quoted field not closed");
		c = cs->in[cs->pos];
		if (c == '"') {
			/* "" is one quote. */
			if (cs->len - cs->pos >= 2 &&
			    cs->in[cs->pos + 1] == '"') {
				if ((rc = field_add(cs, cs->in + cs->pos,
				    1)) != 0)
					return rc;
				cs->pos += 2;
				continue;
			}
			cs->pos++;
			if (cs->pos < cs->len && (c = cs->in[cs->pos]) != ',' &&
			    c != '\r' && c != '\n')
				return fail(cs, APX_EINVAL, cs->line,
				    cs->nf + 1, "text after a closing quote");
			return 0;
		}
		if (c == '\n' || c == '\r') {
			if ((rc = field_add(cs, cs->in + cs->pos, 1)) != 0)
				return rc;
			/* CRLF counts once, on its LF; a lone CR on its own. */
			if (c == '\n' || cs->pos + 1 == cs->len ||
			    cs->in[cs->pos + 1] != '\n')
				cs->line++;
			cs->pos++;
			continue;
		}
		if ((rc = field_char(cs)) != 0)
			return rc;
	}
}

/*
 * One record from pos (not at the end of input) through its line end:
 * nf fields in data, each ended by a NUL, fields[] and lens[] filled.
 */
static int
read_record(struct csv *cs)
{
	size_t i, n, off;
	int rc;

	cs->nf = 0;
	cs->used = 0;
	for (;;) {
		if ((rc = cols_reserve(cs)) != 0)
			return rc;
		cs->flen = 0;
		if (cs->pos < cs->len && cs->in[cs->pos] == '"')
			rc = read_quoted(cs);
		else
			rc = read_plain(cs);
		if (rc != 0 || (rc = data_reserve(cs, 1)) != 0)
			return rc;
		cs->data[cs->used++] = '\0';
		cs->lens[cs->nf++] = cs->flen;
		if (cs->pos == cs->len)
			break;
		if (cs->in[cs->pos] == ',') {
			cs->pos++;
			continue;
		}
		/* A line end: LF or CRLF, nothing else. */
		if ((n = eol_len(cs)) == 0)
			return fail(cs, APX_EINVAL, cs->line, cs->nf,
			    "carriage return without line feed");
		cs->pos += n;
		cs->line++;
		break;
	}
	/* The buffer has stopped moving: now the addresses. */
	for (i = 0, off = 0; i < cs->nf; i++) {
		cs->fields[i] = cs->data + off;
		off += cs->lens[i] + 1;
	}
	return 0;
}

static int
is_name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == ' ' || c == '.' ||
	    c == '-';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII) order of two names. */
static int
name_key_cmp(const struct name *a, const struct name *b)
{
	size_t i, n = a->n < b->n ? a->n : b->n;
	unsigned char ca, cb;

	for (i = 0; i < n; i++) {
		ca = lower((unsigned char)a->s[i]);
		cb = lower((unsigned char)b->s[i]);
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return 0;
}

/* Names, then columns: a total order, whatever qsort's stability. */
static int
name_cmp(const void *va, const void *vb)
{
	const struct name *a = va, *b = vb;
	int c;

	if ((c = name_key_cmp(a, b)) != 0)
		return c;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

/* Trims the header's names of spaces in place and checks their shape. */
static int
check_names(struct csv *cs, size_t line)
{
	size_t i, j, n;
	char *s;

	for (i = 0; i < cs->nf; i++) {
		s = cs->data + (cs->fields[i] - cs->data);
		n = cs->lens[i];
		while (n > 0 && s[0] == ' ') {
			s++;
			n--;
		}
		while (n > 0 && s[n - 1] == ' ')
			n--;
		if (n == 0)
			return fail(cs, APX_EINVAL, line, i + 1,
			    "header name is empty");
		if (n > APX_CSV_NAME_MAX)
			return fail(cs, APX_EINVAL, line, i + 1,
			    "header name longer than %d bytes",
			    APX_CSV_NAME_MAX);
		for (j = 0; j < n; j++)
			if (!is_name_char((unsigned char)s[j]))
				return fail(cs, APX_EINVAL, line, i + 1,
				    "header name has a character other than "
				    "A-Z a-z 0-9 _ . - or space");
		s[n] = '\0';
		cs->fields[i] = s;
		cs->lens[i] = n;
	}
	return check_unique(cs, line);
}

/*
 * Names sorted (O(n log n) for any max_cols): the first column, in reading
 * order, whose name was seen before is the one reported.
 */
static int
check_unique(struct csv *cs, size_t line)
{
	struct name *v;
	size_t i, dup = 0, first = 0;

	if (cs->nf < 2)
		return 0;
	if (cs->nf > SIZE_MAX / sizeof(*v) ||
	    (v = malloc(cs->nf * sizeof(*v))) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < cs->nf; i++) {
		v[i].s = cs->fields[i];
		v[i].n = cs->lens[i];
		v[i].col = i + 1;
	}
	qsort(v, cs->nf, sizeof(*v), name_cmp);
	/* Equal names sit together, by column: v[i - 1] came first. */
	for (i = 1; i < cs->nf; i++) {
		if (name_key_cmp(&v[i], &v[i - 1]) == 0 &&
		    (dup == 0 || v[i].col < dup)) {
			dup = v[i].col;
			first = v[i - 1].col;
		}
	}
	free(v);
	if (dup != 0)
		return fail(cs, APX_EINVAL, line, dup,
		    "header name repeats column %zu", first);
	return 0;
}

int
apx_csv_parse(const char *buf, size_t len, const struct apx_csv_limits *lim,
    apx_csv_row_fn fn, void *arg, struct apx_csv_error *err)
{
	struct apx_csv_error scratch;
	struct csv cs;
	size_t rowno = 0, ncols = 0, start, n;
	int rc = 0;

	if (err == NULL)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	memset(&cs, 0, sizeof(cs));
	cs.err = err;
	cs.max_rows = lim && lim->max_rows ? lim->max_rows : APX_CSV_DEF_ROWS;
	cs.max_cols = lim && lim->max_cols ? lim->max_cols : APX_CSV_DEF_COLS;
	cs.max_field = lim && lim->max_field ? lim->max_field :
	    APX_CSV_DEF_FIELD;
	cs.max_data = mul_sat(cs.max_cols, cs.max_field == SIZE_MAX ?
	    SIZE_MAX : cs.max_field + 1);
	if (buf == NULL && len > 0)
		return fail(&cs, APX_EINVAL, 0, 0, "no input");
	if (lim != NULL && lim->max_bytes != 0 && len > lim->max_bytes)
		return fail(&cs, APX_ETOOBIG, 0, 0,
		    "input larger than %zu bytes", lim->max_bytes);
	cs.in = (const unsigned char *)buf;
	cs.len = len;
	cs.line = 1;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		cs.pos = 3;

	while (cs.pos < cs.len) {
		if ((n = eol_len(&cs)) != 0) {
			if (cs.pos + n == cs.len)
				break;	/* a final empty line */
			rc = fail(&cs, APX_EINVAL, cs.line, 0, "empty line");
			goto out;
		}
		if (rowno > cs.max_rows) {
			rc = fail(&cs, APX_ETOOBIG, cs.line, 0,
			    "more than %zu data rows", cs.max_rows);
			goto out;
		}
		start = cs.line;
		if ((rc = read_record(&cs)) != 0)
			goto out;
		if (rowno == 0) {
			if ((rc = check_names(&cs, start)) != 0)
				goto out;
			ncols = cs.nf;
		} else if (cs.nf != ncols) {
			rc = fail(&cs, APX_EINVAL, start, cs.nf < ncols ?
			    cs.nf + 1 : ncols + 1,
			    "expected %zu fields, found %zu", ncols, cs.nf);
			goto out;
		}
		if (fn != NULL &&
		    (rc = fn(arg, rowno, cs.fields, cs.lens, cs.nf)) != 0) {
			fail(&cs, rc, start, 0, "stopped by the row handler");
			goto out;
		}
		rowno++;
	}
	if (rowno == 0)
		rc = fail(&cs, APX_EINVAL, 0, 0, "empty file");
out:
	free(cs.data);
	free(cs.fields);
	free(cs.lens);
	return rc;
}

/* --- writing ------------------------------------------------------------- */

/* [+-] digits [. digits] [e [+-] digits], with a digit before or after '.'. */
static int
is_number(const char *s, size_t n)
{
	size_t i = 0, digits = 0, exp;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (exp = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			exp++;
		if (exp == 0)
			return 0;
	}
	return i == n;
}

/* What a spreadsheet could take for a formula. */
static int
needs_prefix(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	switch (s[0]) {
	case '=':
	case '@':
	case '\t':
	case '\r':
		return 1;
	case '+':
	case '-':
		return !is_number(s, n);
	default:
		return 0;
	}
}

static int
needs_quotes(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')
		return 1;
	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

static int
put_field(struct apx_buf *b, const char *s, size_t n, int flags)
{
	const char *q;
	size_t i, j;
	int rc, quote;

	quote = needs_quotes(s, n);
	if (quote && (rc = apx_buf_add(b, "\"", 1)) != 0)
		return rc;
	if ((flags & APX_CSV_NEUTRALISE) && needs_prefix(s, n) &&
	    (rc = apx_buf_add(b, "'", 1)) != 0)
		return rc;
	if (!quote)
		return n > 0 ? apx_buf_add(b, s, n) : 0;
	for (i = 0; i < n; i = j + 1) {
		if ((q = memchr(s + i, '"', n - i)) == NULL) {
			if ((rc = apx_buf_add(b, s + i, n - i)) != 0)
				return rc;
			break;
		}
		/* Up to and with the quote, then the quote once more. */
		j = (size_t)(q - s);
		if ((rc = apx_buf_add(b, s + i, j + 1 - i)) != 0 ||
		    (rc = apx_buf_add(b, "\"", 1)) != 0)
			return rc;
	}
	return apx_buf_add(b, "\"", 1);
}

/* Undo a partial write. */
static void
restore(struct apx_buf *b, size_t len)
{
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

int
apx_csv_write_field(struct apx_buf *b, const char *s, size_t len, int flags)
{
	size_t save;
	int rc;

	if (b == NULL || (s == NULL && len > 0) ||
	    (flags & ~APX_CSV_NEUTRALISE) != 0)
		return APX_EINVAL;
	save = b->len;
	if ((rc = put_field(b, s, len, flags)) != 0)
		restore(b, save);
	return rc;
}

int
apx_csv_write_row(struct apx_buf *b, const char *const *fields,
    const size_t *lens, size_t n, int flags)
{
	size_t i, save;
	int rc = 0;

	if (b == NULL || fields == NULL || lens == NULL || n == 0 ||
	    (flags & ~APX_CSV_NEUTRALISE) != 0)
		return APX_EINVAL;
	for (i = 0; i < n; i++)
		if (fields[i] == NULL && lens[i] > 0)
			return APX_EINVAL;
	save = b->len;
	if (n == 1 && lens[0] == 0)
		rc = apx_buf_add(b, "\"\"", 2);
	else
		for (i = 0; i < n && rc == 0; i++)
			if (i == 0 || (rc = apx_buf_add(b, ",", 1)) == 0)
				rc = put_field(b, fields[i], lens[i], flags);
	if (rc == 0)
		rc = apx_buf_add(b, "\r\n", 2);
	if (rc != 0)
		restore(b, save);
	return rc;
}
