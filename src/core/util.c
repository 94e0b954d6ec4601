/*
 * Small helpers shared by every area: bounded number parsing, constant-time
 * comparison, wiping, randomness, clocks and RFC 3339 time stamps.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/apx.h"

static const char *const errstr[] = {
	"success",
	"out of memory",
	"invalid input",
	"input too large",
	"not found",
	"database unavailable",
	"database error",
	"input/output error",
	"configuration error",
	"cryptographic failure",
	"conflict",
	"schema version mismatch",
	"request target too long",
	"request header fields too large",
	"not authenticated",
	"no vault key",
};

const char *
apx_strerror(int err)
{
	size_t i = err < 0 ? (size_t)0 - (size_t)err : (size_t)err;

	if (i >= APX_NELEM(errstr))
		return "unknown error";
	return errstr[i];
}

int
apx_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return APX_EINVAL;
	/* No leading space or sign games: digits with an optional '-'. */
	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return APX_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return APX_EINVAL;
	*out = v;
	return 0;
}

int
apx_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	const unsigned char *x = a, *y = b;
	size_t i, n = alen > blen ? alen : blen;
	unsigned char d = (unsigned char)(alen != blen);

	/*
	 * Walk the longer length so that time does not depend on where the
	 * first difference is; reads past the shorter input use index 0.
	 */
	for (i = 0; i < n; i++) {
		unsigned char cx = alen ? x[i < alen ? i : 0] : 0;
		unsigned char cy = blen ? y[i < blen ? i : 0] : 0;
		d |= (unsigned char)(cx ^ cy);
	}
	return d == 0;
}

void
apx_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		sodium_memzero(p, n);
}

void
apx_random(void *p, size_t n)
{
	randombytes_buf(p, n);
}

/*
 * Request ids need no secrecy, only uniqueness: draw them from a pool so
 * that a request costs no getrandom(2). A forked child must call
 * apx_random_id_reset() so that it never repeats its parent's pool.
 */
static unsigned char	 id_pool[480];
static size_t		 id_used = sizeof(id_pool);

void
apx_random_id_reset(void)
{
	apx_wipe(id_pool, sizeof(id_pool));
	id_used = sizeof(id_pool);
}

void
apx_random_id(void *p, size_t n)
{
	if (n > sizeof(id_pool)) {
		randombytes_buf(p, n);
		return;
	}
	if (sizeof(id_pool) - id_used < n) {
		randombytes_buf(id_pool, sizeof(id_pool));
		id_used = 0;
	}
	memcpy(p, id_pool + id_used, n);
	id_used += n;
}

uint64_t
apx_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * The precise clock, not time(): glibc's time() reads the kernel's copy
 * of the second, which moves at the next tick, a few ms after the second
 * has begun. PostgreSQL's now() reads the precise one, so a time it wrote
 * (an expiry, a rotation's grace of 0 seconds) could still look ahead.
 */
int64_t
apx_unix_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (int64_t)time(NULL);
	return (int64_t)ts.tv_sec;
}

int
apx_rfc3339_parse(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	time_t t;

	static const char shape[] = "DDDD-DD-DDTDD:DD:DDZ";
	size_t i;

	if (s == NULL || strlen(s) != 20)
		return APX_EINVAL;
	/* sscanf alone would take signs and blanks: check the shape first. */
	for (i = 0; i < 20; i++) {
		if (shape[i] == 'D' ? !(s[i] >= '0' && s[i] <= '9') :
		    s[i] != shape[i])
			return APX_EINVAL;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi,
	    &sec, &n) != 6 || n != 20)
		return APX_EINVAL;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
	    h > 23 || mi > 59 || sec > 59 || h < 0 || mi < 0 || sec < 0)
		return APX_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return APX_EINVAL;
	/* timegm normalises 31 February into March: refuse such dates. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return APX_EINVAL;
	*out = (int64_t)t;
	return 0;
}

int
apx_rfc3339_parse_us(const char *s, int64_t *sec, int *usec)
{
	static const char shape[] = "DDDD-DD-DD_DD:DD:DD";
	char base[21];
	int64_t t;
	size_t i, len;
	int us = 0, digits = 0, off = 0;
	const char *p;

	if (s == NULL || (len = strlen(s)) < 20 || len > 64)
		return APX_EINVAL;
	for (i = 0; i < 19; i++) {
		if (shape[i] == 'D' ? !(s[i] >= '0' && s[i] <= '9') :
		    shape[i] == '_' ? (s[i] != 'T' && s[i] != 't') :
		    s[i] != shape[i])
			return APX_EINVAL;
	}
	p = s + 19;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 6)
				us = us * 10 + (*p - '0');
		if (digits == 0)
			return APX_EINVAL;
		for (i = (size_t)digits; i < 6; i++)
			us *= 10;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		off = 0;
	else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
	    p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	    p[3] == ':' && p[4] >= '0' && p[4] <= '5' && p[5] >= '0' &&
	    p[5] <= '9') {
		int hh = (p[1] - '0') * 10 + (p[2] - '0');

		if (hh > 23)
			return APX_EINVAL;
		off = (hh * 60 + (p[4] - '0') * 10 + (p[5] - '0')) * 60;
		if (*p == '-')
			off = -off;
	} else
		return APX_EINVAL;
	memcpy(base, s, 19);
	base[10] = 'T';
	base[19] = 'Z';
	base[20] = '\0';
	/* Before 1970 (an offset can get there) is not a time we use. */
	if (apx_rfc3339_parse(base, &t) != 0 || t - off < 0)
		return APX_EINVAL;
	*sec = t - off;
	*usec = us;
	return 0;
}

void
apx_rfc3339_format_us(int64_t t, int usec, char *out, size_t len)
{
	char base[32];

	apx_rfc3339_format(t, base, sizeof(base));
	/* "YYYY-MM-DDTHH:MM:SS" + ".uuuuuu" + "Z" */
	snprintf(out, len, "%.19s.%06dZ", base, usec);
}

void
apx_rfc3339_format(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (len > 0)
			buf[0] = '\0';
	}
}

int
apx_strlcpy_chk(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return APX_ETOOBIG;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return APX_ETOOBIG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

/*
 * Bytes of the UTF-8 sequence at S (at most N bytes there), or 0 when it
 * is not one: a stray continuation byte, an overlong form (C0, C1, E0 80-9F,
 * F0 80-8F), a surrogate (ED A0-BF), a code point over U+10FFFF (F4 90-BF,
 * F5-FF) or a sequence cut short.
 */
size_t
apx_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

int
apx_utf8_chars(const char *s, size_t len, size_t *chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, c = 0;

	while (i < len) {
		if ((n = apx_utf8_seq(p + i, len - i)) == 0)
			return APX_EINVAL;
		i += n;
		c++;
	}
	*chars = c;
	return 0;
}

int
apx_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
apx_guid_ok(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (apx_hex_digit((unsigned char)s[i]) < 0)
			return 0;
	}
	return 1;
}

uint32_t
apx_fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		h = (h ^ *b++) * 16777619u;
	return h;
}
