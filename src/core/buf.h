/* A growable byte buffer on the heap with a hard cap. */
#ifndef APX_CORE_BUF_H
#define APX_CORE_BUF_H

#include <stddef.h>

#include "core/apx.h"

struct apx_buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* 0 = 64 MiB */
};

int	 apx_buf_add(struct apx_buf *, const void *, size_t);
int	 apx_buf_adds(struct apx_buf *, const char *);
int	 apx_buf_printf(struct apx_buf *, const char *, ...) APX_PRINTF(2, 3);
/* A JSON string literal of the LEN bytes of S (UTF-8 as given; quotes,
 * backslashes and control characters escaped). */
int	 apx_buf_json_string(struct apx_buf *, const char *, size_t);
/*
 * The same as the app answers JSON: every character past ASCII as a \u
 * escape (a surrogate pair past U+FFFF), as apx_buf_json_compact writes
 * them; APX_EINVAL (and B as it was) when S is not UTF-8.
 */
int	 apx_buf_json_ascii(struct apx_buf *, const char *, size_t);
/*
 * The JSON text S (LEN bytes, made by PostgreSQL's JSON functions or a
 * serialiser) as the app answers JSON: the blanks between tokens dropped,
 * and every character past ASCII as a \u escape (a surrogate pair past
 * U+FFFF), like jansson's JSON_COMPACT | JSON_ENSURE_ASCII, without
 * parsing it into values. APX_EINVAL (and B as it was) for bytes that are
 * not UTF-8, a control character or a string left open; the structure is
 * otherwise taken as given.
 */
int	 apx_buf_json_compact(struct apx_buf *, const char *, size_t);
/*
 * The LEN bytes of S as HTML text: & < > " ' as character references and
 * control characters as blanks, so that the result is safe both between
 * tags and inside a quoted attribute value (UTF-8 as given).
 */
int	 apx_buf_html(struct apx_buf *, const char *, size_t);
void	 apx_buf_reset(struct apx_buf *);
void	 apx_buf_free(struct apx_buf *);

#endif
