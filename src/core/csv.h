/*
 * A bounded RFC 4180 CSV reader and writer for uploaded and downloaded
 * tables. Pure functions: no globals, no logging, no locale.
 *
 * The reader takes untrusted bytes: the whole input must be UTF-8 without
 * NUL bytes (an optional BOM at the very start is skipped); the first
 * record is a header of unique names; records end with LF or CRLF (the
 * last one may lack it, and one empty line at the very end is allowed);
 * a quoted field may hold commas, quotes ("") and line breaks. Every data
 * row has as many fields as the header. Any other shape is APX_EINVAL,
 * never guessed at; every limit holds before memory grows.
 */
#ifndef APX_CORE_CSV_H
#define APX_CORE_CSV_H

#include <stddef.h>

#include "core/buf.h"

#define APX_CSV_NAME_MAX	64	/* bytes of a header name */

/* Limits when none are given (NULL limits, or a zero below). */
#define APX_CSV_DEF_ROWS	1000000
#define APX_CSV_DEF_COLS	256
#define APX_CSV_DEF_FIELD	4096

/* Zero in max_rows, max_cols or max_field: the APX_CSV_DEF_ value. */
struct apx_csv_limits {
	size_t	max_bytes;	/* whole input; 0 = no limit beyond len */
	size_t	max_rows;	/* data rows, header not counted */
	size_t	max_cols;	/* fields of one record */
	size_t	max_field;	/* bytes of one field after unquoting */
};

struct apx_csv_error {
	size_t	line;	/* 1-based physical line (0 if n/a) */
	size_t	column;	/* 1-based field number (0 if n/a) */
	char	reason[128];	/* English, no input bytes echoed */
};

/*
 * Called once for the header (ROWNO 0) and once per data row (1..n).
 * FIELDS[i] is NUL-terminated (LENS[i] bytes, no NUL inside), valid until
 * the callback returns; header names come trimmed of spaces. A non-zero
 * return stops parsing and is returned by apx_csv_parse.
 */
typedef int (*apx_csv_row_fn)(void *arg, size_t rowno,
    const char *const *fields, const size_t *lens, size_t nfields);

/*
 * Parse LEN bytes of BUF (NULL limits: the defaults; FN may be NULL to
 * only validate). Returns 0, APX_EINVAL (malformed), APX_ETOOBIG (over a
 * limit), APX_ENOMEM, or the callback's non-zero value. ERR (may be NULL)
 * is cleared, then filled on every failure: the physical line (where a
 * record starts for a wrong field count, where its quote opened for an
 * unterminated field, where the callback's record starts for a stop) and
 * the field. Line breaks are LF, CRLF and, inside quotes, a lone CR.
 * Rows already handed to FN stay handed: a caller that stores them keeps
 * them in one transaction.
 */
int	 apx_csv_parse(const char *buf, size_t len,
	    const struct apx_csv_limits *, apx_csv_row_fn, void *arg,
	    struct apx_csv_error *err);

/*
 * Append one field to B, quoted when it holds , " CR or LF or starts or
 * ends with a space or tab; quotes are doubled. With APX_CSV_NEUTRALISE a
 * field that starts with = + - @ TAB or CR and is not a plain number
 * ("-12.5", "+3", "-1e5" stay) gets a leading ' (OWASP CSV injection).
 * Bytes are written as given. 0, APX_EINVAL, APX_ETOOBIG or APX_ENOMEM;
 * on failure B is as it was.
 */
#define APX_CSV_NEUTRALISE	0x1
int	 apx_csv_write_field(struct apx_buf *b, const char *s, size_t len,
	    int flags);
/*
 * A whole row of N >= 1 fields: separated by ',', ended by "\r\n". A row
 * of one empty field is written as "" so that it reads back as a row.
 * Same returns as apx_csv_write_field; on failure B is as it was.
 */
int	 apx_csv_write_row(struct apx_buf *b, const char *const *fields,
	    const size_t *lens, size_t n, int flags);

#endif
