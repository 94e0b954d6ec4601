/*
 * IP addresses, CIDR networks and the client address behind trusted proxies
 * (see cidr.h). inet_pton(3) makes the bytes; the checks around it refuse
 * what it would let through or what other parsers read differently: octets
 * with leading zeros (octal to some), blanks, signs, zone ids, brackets,
 * ports and over-long items. Text is written here rather than through
 * inet_ntop(3) so that the canonical form does not depend on the libc.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/cidr.h"
#include "core/apx.h"

#define XFF_MAX_LEN	8192	/* bytes of X-Forwarded-For looked at */
#define XFF_MAX_HOPS	64	/* entries examined from the right */

static int	 is_digit(char);
static int	 is_sep(char);
static int	 v4_shape(const char *, size_t);
static int	 v6_shape(const char *, size_t);
static int	 addr_parse(const char *, size_t, struct apx_cidr *);
static int	 bits_parse(const char *, size_t, int, int *);
static int	 cidr_parse(const char *, size_t, struct apx_cidr *);
static int	 valid(const struct apx_cidr *);
static int	 is_mapped(const struct apx_cidr *);
static int	 host_bits_clear(const struct apx_cidr *);
static int	 prefix_match(const unsigned char *, const unsigned char *, int);
static size_t	 addr_text(const struct apx_cidr *, int, char *);
static int	 addr_out(const struct apx_cidr *, char *, size_t);
static int	 xff_entry(const char *, size_t, struct apx_cidr *);

/* --- parsing ------------------------------------------------------------- */

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',';
}

/* Dotted quad: four decimal octets 0-255, no leading zeros. */
static int
v4_shape(const char *s, size_t n)
{
	size_t i = 0, start;
	int part, v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		start = i;
		v = 0;
		while (i < n && i - start < 3 && is_digit(s[i]))
			v = v * 10 + (s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return -1;
	}
	return i == n ? 0 : -1;
}

/* Hex digits, colons and an embedded dotted quad at the end only. */
static int
v6_shape(const char *s, size_t n)
{
	size_t i, tail = 0;
	int dot = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == ':')
			tail = i + 1;
		else if (s[i] == '.')
			dot = 1;
		else if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f') &&
		    !(s[i] >= 'A' && s[i] <= 'F'))
			return -1;
	}
	if (dot && v4_shape(s + tail, n - tail) != 0)
		return -1;
	return 0;
}

/* One address of N bytes; *A is written on success only. */
static int
addr_parse(const char *s, size_t n, struct apx_cidr *a)
{
	char buf[APX_CIDR_ITEM_MAX + 1];
	struct apx_cidr t;

	if (n == 0 || n > APX_CIDR_ITEM_MAX)
		return APX_EINVAL;
	memset(&t, 0, sizeof(t));
	if (memchr(s, ':', n) == NULL) {
		if (v4_shape(s, n) != 0)
			return APX_EINVAL;
		t.family = 4;
		t.bits = 32;
	} else {
		if (v6_shape(s, n) != 0)
			return APX_EINVAL;
		t.family = 6;
		t.bits = 128;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(t.family == 4 ? AF_INET : AF_INET6, buf, t.addr) != 1)
		return APX_EINVAL;
	*a = t;
	return 0;
}

/* A prefix length: 1-3 digits, no sign, no leading zero, at most MAX. */
static int
bits_parse(const char *s, size_t n, int max, int *bits)
{
	size_t i;
	int v = 0;

	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return APX_EINVAL;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return APX_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return APX_EINVAL;
	*bits = v;
	return 0;
}

/* "addr" or "addr/len" of N bytes; *C is written on success only. */
static int
cidr_parse(const char *s, size_t n, struct apx_cidr *c)
{
	struct apx_cidr t;
	const char *slash;
	size_t al;

	if (n == 0 || n > APX_CIDR_ITEM_MAX)
		return APX_EINVAL;
	if ((slash = memchr(s, '/', n)) == NULL)
		return addr_parse(s, n, c);
	al = (size_t)(slash - s);
	if (addr_parse(s, al, &t) != 0 ||
	    bits_parse(slash + 1, n - al - 1, t.family == 4 ? 32 : 128,
	    &t.bits) != 0 || !host_bits_clear(&t))
		return APX_EINVAL;
	*c = t;
	return 0;
}

int
apx_ip_parse(const char *s, struct apx_cidr *a)
{
	if (s == NULL || a == NULL)
		return APX_EINVAL;
	return addr_parse(s, strnlen(s, APX_CIDR_ITEM_MAX + 1), a);
}

int
apx_cidr_parse(const char *s, struct apx_cidr *c)
{
	if (s == NULL || c == NULL)
		return APX_EINVAL;
	return cidr_parse(s, strnlen(s, APX_CIDR_ITEM_MAX + 1), c);
}

/* --- matching ------------------------------------------------------------ */

static int
valid(const struct apx_cidr *c)
{
	return (c->family == 4 && c->bits >= 0 && c->bits <= 32) ||
	    (c->family == 6 && c->bits >= 0 && c->bits <= 128);
}

/* ::ffff:0:0/96 */
static int
is_mapped(const struct apx_cidr *c)
{
	static const unsigned char pfx[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return c->family == 6 && memcmp(c->addr, pfx, sizeof(pfx)) == 0;
}

static int
host_bits_clear(const struct apx_cidr *c)
{
	int width = c->family == 4 ? 4 : 16, i = c->bits / 8;

	if (c->bits % 8 != 0 &&
	    (c->addr[i++] & (0xff >> (c->bits % 8))) != 0)
		return 0;
	for (; i < width; i++) {
		if (c->addr[i] != 0)
			return 0;
	}
	return 1;
}

/* The first BITS bits of A and B are equal. */
static int
prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rem = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rem == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rem));
	return ((a[full] ^ b[full]) & mask) == 0;
}

int
apx_cidr_match(const struct apx_cidr *net, const struct apx_cidr *addr)
{
	if (net == NULL || addr == NULL || !valid(net) ||
	    (addr->family != 4 && addr->family != 6))
		return 0;
	if (net->family == 4 && is_mapped(addr))
		return prefix_match(net->addr, addr->addr + 12, net->bits);
	if (net->family != addr->family)
		return 0;
	return prefix_match(net->addr, addr->addr, net->bits);
}

/* --- text ---------------------------------------------------------------- */

/*
 * RFC 5952: lower-case hex without leading zeros, the longest run of two
 * or more zero groups (the first of equal runs) as "::", IPv4-mapped
 * addresses as ::ffff:a.b.c.d. UNMAP writes those as plain IPv4 instead.
 * BUF holds APX_IP_STRLEN bytes; returns the length.
 */
static size_t
addr_text(const struct apx_cidr *c, int unmap, char *buf)
{
	const unsigned char *a = c->addr;
	unsigned int w[8];
	int i, j, best = -1, bestlen = 0, o = 0;

	if (c->family == 4 || (unmap && is_mapped(c))) {
		if (c->family == 6)
			a += 12;
		return (size_t)snprintf(buf, APX_IP_STRLEN, "%u.%u.%u.%u",
		    a[0], a[1], a[2], a[3]);
	}
	if (is_mapped(c))
		return (size_t)snprintf(buf, APX_IP_STRLEN,
		    "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
	for (i = 0; i < 8; i++)
		w[i] = (unsigned int)a[2 * i] << 8 | a[2 * i + 1];
	for (i = 0; i < 8; i = j + 1) {
		for (j = i; j < 8 && w[j] == 0; j++)
			;
		if (j - i > bestlen) {
			best = i;
			bestlen = j - i;
		}
	}
	if (bestlen < 2) {
		best = -1;
		bestlen = 0;
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			buf[o++] = ':';
			buf[o++] = ':';
			i += bestlen - 1;
			continue;
		}
		if (i > 0 && i != best + bestlen)
			buf[o++] = ':';
		o += snprintf(buf + o, (size_t)(APX_IP_STRLEN - o), "%x", w[i]);
	}
	buf[o] = '\0';
	return (size_t)o;
}

int
apx_cidr_format(const struct apx_cidr *c, char *out, size_t outlen)
{
	char a[APX_IP_STRLEN];
	int n;

	if (out == NULL || outlen == 0)
		return APX_ETOOBIG;
	out[0] = '\0';
	if (c == NULL || !valid(c))
		return APX_EINVAL;
	addr_text(c, 0, a);
	n = snprintf(out, outlen, "%s/%d", a, c->bits);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return APX_ETOOBIG;
	}
	return 0;
}

/* The address alone, IPv4-mapped as IPv4; never a truncated address. */
static int
addr_out(const struct apx_cidr *a, char *out, size_t outlen)
{
	char buf[APX_IP_STRLEN];
	size_t n = addr_text(a, 1, buf);

	if (n >= outlen) {
		out[0] = '\0';
		return APX_ETOOBIG;
	}
	memcpy(out, buf, n + 1);
	return 0;
}

/* --- lists --------------------------------------------------------------- */

int
apx_cidr_list_parse(const char *s, struct apx_cidr_list *l, size_t *badidx)
{
	const char *p, *start;
	size_t n = 0, i;

	if (l == NULL)
		return APX_EINVAL;
	l->v = NULL;
	l->n = 0;
	if (s == NULL)
		return 0;
	for (p = s;;) {
		while (is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		if (n == APX_CIDR_LIST_MAX) {
			if (badidx != NULL)
				*badidx = n;
			return APX_ETOOBIG;
		}
		n++;
		while (*p != '\0' && !is_sep(*p))
			p++;
	}
	if (n == 0)
		return 0;
	if ((l->v = calloc(n, sizeof(*l->v))) == NULL)
		return APX_ENOMEM;
	for (p = s, i = 0; i < n; i++) {
		while (is_sep(*p))
			p++;
		start = p;
		while (*p != '\0' && !is_sep(*p))
			p++;
		if (cidr_parse(start, (size_t)(p - start), &l->v[i]) != 0) {
			if (badidx != NULL)
				*badidx = i;
			apx_cidr_list_free(l);
			return APX_EINVAL;
		}
	}
	l->n = n;
	return 0;
}

int
apx_cidr_list_from(const char *const *v, size_t n, struct apx_cidr_list *l,
    size_t *badidx)
{
	size_t i;

	if (l == NULL)
		return APX_EINVAL;
	l->v = NULL;
	l->n = 0;
	if (n == 0)
		return 0;
	if (v == NULL)
		return APX_EINVAL;
	if (n > APX_CIDR_LIST_MAX) {
		if (badidx != NULL)
			*badidx = APX_CIDR_LIST_MAX;
		return APX_ETOOBIG;
	}
	if ((l->v = calloc(n, sizeof(*l->v))) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < n; i++) {
		if (apx_cidr_parse(v[i], &l->v[i]) != 0) {
			if (badidx != NULL)
				*badidx = i;
			apx_cidr_list_free(l);
			return APX_EINVAL;
		}
	}
	l->n = n;
	return 0;
}

void
apx_cidr_list_free(struct apx_cidr_list *l)
{
	if (l == NULL)
		return;
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
apx_cidr_list_match(const struct apx_cidr_list *l, const struct apx_cidr *a)
{
	size_t i;

	if (l == NULL)
		return 0;
	for (i = 0; i < l->n; i++) {
		if (apx_cidr_match(&l->v[i], a))
			return 1;
	}
	return 0;
}

/* --- the client address -------------------------------------------------- */

/* One X-Forwarded-For entry of N bytes, trimmed of spaces and tabs. */
static int
xff_entry(const char *s, size_t n, struct apx_cidr *a)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return addr_parse(s, n, a);
}

int
apx_client_addr(const struct apx_cidr_list *trusted, const char *remote,
    const char *xff, char *out, size_t outlen)
{
	struct apx_cidr hop, a;
	const char *end, *p;
	size_t xlen;
	int i;

	if (out == NULL)
		return APX_EINVAL;
	if (outlen == 0)
		return APX_ETOOBIG;
	if (remote == NULL)
		remote = "";
	if (apx_ip_parse(remote, &hop) != 0) {
		(void)apx_strlcpy_chk(out, remote, outlen);
		return 0;
	}
	if (xff == NULL || !apx_cidr_list_match(trusted, &hop) ||
	    (xlen = strnlen(xff, XFF_MAX_LEN + 1)) > XFF_MAX_LEN)
		return addr_out(&hop, out, outlen);
	/* HOP is the nearest address that parsed; walk leftwards from it. */
	end = xff + xlen;
	for (i = 0; i < XFF_MAX_HOPS; i++) {
		for (p = end; p > xff && p[-1] != ','; p--)
			;
		if (xff_entry(p, (size_t)(end - p), &a) != 0)
			break;
		hop = a;
		if (!apx_cidr_list_match(trusted, &a) || p == xff)
			break;
		end = p - 1;
	}
	return addr_out(&hop, out, outlen);
}

int
apx_ip_net_key(const char *addr, char *out, size_t len)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	struct apx_cidr c;

	if (len > 0)
		out[0] = '\0';
	if (addr == NULL || apx_ip_parse(addr, &c) != 0)
		return APX_EINVAL;
	if (c.family == 6 && memcmp(c.addr, mapped, sizeof(mapped)) == 0) {
		memmove(c.addr, c.addr + 12, 4);
		memset(c.addr + 4, 0, 12);
		c.family = 4;
		c.bits = 32;
	} else if (c.family == 6) {
		memset(c.addr + 8, 0, 8);
		c.bits = 64;
	}
	return apx_cidr_format(&c, out, len);
}
