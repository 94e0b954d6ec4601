#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define DEFAULT_MAX	(64u * 1024 * 1024)

static int grow(struct apx_buf *, size_t);

static int
grow(struct apx_buf *b, size_t need)
{
	size_t max = b->max ? b->max : DEFAULT_MAX, ncap;
	char *p;

	if (need > max || b->len > max - need)
		return APX_ETOOBIG;
	if (b->len + need + 1 <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 1024;
	while (ncap < b->len + need + 1)
		ncap *= 2;
	if ((p = realloc(b->data, ncap)) == NULL)
		return APX_ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
apx_buf_add(struct apx_buf *b, const void *p, size_t n)
{
	int rc;

	if ((rc = grow(b, n)) != 0)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
apx_buf_adds(struct apx_buf *b, const char *s)
{
	return apx_buf_add(b, s, strlen(s));
}

int
apx_buf_printf(struct apx_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return APX_EINVAL;
	if ((rc = grow(b, (size_t)n)) != 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
apx_buf_reset(struct apx_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
apx_buf_free(struct apx_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/*
 * One UTF-8 character of S (LEN bytes left, S[0] >= 0x80) into *CP;
 * returns its length, 0 when the bytes are not UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included).
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, unsigned long *cp)
{
	static const unsigned long min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n, i;
	unsigned long c;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* \u and the 4 hex digits of the UTF-16 unit U at O; returns 6. */
static int
u_escape(char *o, unsigned long u)
{
	static const char hex[] = "0123456789abcdef";

	o[0] = '\\';
	o[1] = 'u';
	o[2] = hex[(u >> 12) & 0xf];
	o[3] = hex[(u >> 8) & 0xf];
	o[4] = hex[(u >> 4) & 0xf];
	o[5] = hex[u & 0xf];
	return 6;
}

/* Code point CP as JSON escapes at O (a surrogate pair past U+FFFF);
 * returns their length, 6 or 12. */
static int
cp_escape(char *o, unsigned long cp)
{
	int k = 0;

	if (cp >= 0x10000) {
		cp -= 0x10000;
		k = u_escape(o, 0xd800 | (cp >> 10));
		cp = 0xdc00 | (cp & 0x3ff);
	}
	return k + u_escape(o + k, cp);
}

/*
 * A JSON string literal of the LEN bytes of S: quotes and backslashes
 * escaped, control characters as JSON's short escapes or \u00XX; past
 * ASCII, the bytes as they are or (ASCII) each character as a \u escape,
 * when they are UTF-8 (APX_EINVAL otherwise, B as it was).
 */
static int
json_str(struct apx_buf *b, const char *s, size_t len, int ascii)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, start, n, old = b->len;
	unsigned long cp;
	char esc[12];
	int rc, k;

	if ((rc = apx_buf_add(b, "\"", 1)) != 0)
		return rc;
	for (i = start = 0; i < len; i++) {
		unsigned char ch = u[i];

		if (ch >= 0x20 && ch != '"' && ch != '\\' &&
		    (ch < 0x80 || !ascii))
			continue;
		if ((rc = apx_buf_add(b, s + start, i - start)) != 0)
			goto fail;
		n = 1;
		k = 2;
		esc[0] = '\\';
		if (ch == '"' || ch == '\\')
			esc[1] = (char)ch;
		else if (ch == '\b')
			esc[1] = 'b';
		else if (ch == '\f')
			esc[1] = 'f';
		else if (ch == '\n')
			esc[1] = 'n';
		else if (ch == '\r')
			esc[1] = 'r';
		else if (ch == '\t')
			esc[1] = 't';
		else if (ch < 0x20)
			k = u_escape(esc, ch);
		else {
			if ((n = utf8_decode(u + i, len - i, &cp)) == 0) {
				rc = APX_EINVAL;
				goto fail;
			}
			k = cp_escape(esc, cp);
		}
		if ((rc = apx_buf_add(b, esc, (size_t)k)) != 0)
			goto fail;
		i += n - 1;
		start = i + 1;
	}
	if ((rc = apx_buf_add(b, s + start, len - start)) != 0 ||
	    (rc = apx_buf_add(b, "\"", 1)) != 0)
		goto fail;
	return 0;
fail:
	b->len = old;
	return rc;
}

int
apx_buf_json_string(struct apx_buf *b, const char *s, size_t len)
{
	return json_str(b, s, len, 0);
}

int
apx_buf_json_ascii(struct apx_buf *b, const char *s, size_t len)
{
	return json_str(b, s, len, 1);
}

int
apx_buf_json_compact(struct apx_buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, n, w, old = b->len;
	unsigned long cp;
	int rc, in_string = 0;

	/* Room for the text as it is; an escape past ASCII grows it. */
	if ((rc = grow(b, len)) != 0)
		return rc;
	for (i = 0, w = b->len; i < len; i++) {
		unsigned char ch = u[i];

		if (!in_string) {
			if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
				continue;
			if (ch == '"')
				in_string = 1;
			else if (ch < 0x20 || ch >= 0x80)
				goto bad;
		} else if (ch == '"')
			in_string = 0;
		else if (ch == '\\') {
			/* JSON's escapes only (after \u, its 4 hex digits follow) */
			if (i + 1 == len || u[i + 1] == '\0' ||
			    strchr("\"\\/bfnrtu", u[i + 1]) == NULL)
				goto bad;
			b->data[w++] = (char)ch;
			ch = u[++i];
		} else if (ch < 0x20)
			goto bad;
		else if (ch >= 0x80) {
			if ((n = utf8_decode(u + i, len - i, &cp)) == 0)
				goto bad;
			b->len = w;
			if ((rc = grow(b, len - i + 12)) != 0)
				goto fail;
			w += (size_t)cp_escape(b->data + w, cp);
			i += n - 1;
			continue;
		}
		b->data[w++] = (char)ch;
	}
	if (in_string)
		goto bad;
	b->len = w;
	b->data[w] = '\0';
	return 0;
bad:
	rc = APX_EINVAL;
fail:
	b->len = old;
	if (b->data != NULL)
		b->data[old] = '\0';
	return rc;
}

int
apx_buf_html(struct apx_buf *b, const char *s, size_t len)
{
	size_t i, start, old = b->len;
	const char *esc;
	int rc = 0;

	for (i = start = 0; i < len && rc == 0; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '&': esc = "&amp;"; break;
		case '<': esc = "&lt;"; break;
		case '>': esc = "&gt;"; break;
		case '"': esc = "&quot;"; break;
		case '\'': esc = "&#39;"; break;
		default:
			esc = ch < 0x20 || ch == 0x7f ? " " : NULL;
			break;
		}
		if (esc == NULL)
			continue;
		if ((rc = apx_buf_add(b, s + start, i - start)) == 0)
			rc = apx_buf_adds(b, esc);
		start = i + 1;
	}
	if (rc == 0)
		rc = apx_buf_add(b, s + start, len - start);
	if (rc != 0) {
		b->len = old;
		if (b->data != NULL)
			b->data[old] = '\0';
	}
	return rc;
}
