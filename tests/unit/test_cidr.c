/*
 * Unit tests for authz/cidr.c: strict address and network parsing,
 * canonical text (checked against inet_ntop(3) as an independent oracle),
 * matching edges, lists, and the client address behind trusted proxies.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/cidr.h"
#include "core/apx.h"

#define TRUSTED	"10.0.0.0/8 192.168.0.0/16 2001:db8:ffff::/48 127.0.0.1"

static struct apx_cidr	 cidr_of(const char *);
static int		 match(const char *, const char *);
static const char	*client(const char *, const char *);
static uint32_t		 prng(uint32_t *);

static struct apx_cidr_list	 trusted;

static struct apx_cidr
cidr_of(const char *s)
{
	struct apx_cidr c;

	if (apx_cidr_parse(s, &c) != 0)
		fail_msg("cannot parse \"%s\"", s);
	return c;
}

static int
match(const char *net, const char *addr)
{
	struct apx_cidr n = cidr_of(net), a;

	assert_int_equal(apx_ip_parse(addr, &a), 0);
	return apx_cidr_match(&n, &a);
}

/* The client address with the TRUSTED list; never fails. */
static const char *
client(const char *remote, const char *xff)
{
	static char out[APX_IP_STRLEN];

	memset(out, 'X', sizeof(out));
	assert_int_equal(apx_client_addr(&trusted, remote, xff, out,
	    sizeof(out)), 0);
	return out;
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

static int
group_setup(void **state)
{
	(void)state;
	return apx_cidr_list_parse(TRUSTED, &trusted, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	apx_cidr_list_free(&trusted);
	return 0;
}

/* --- parsing ------------------------------------------------------------- */

static void
test_parse_accepted(void **state)
{
	static const struct {
		const char	*in;
		int		 family, bits;
		const char	*canon;
	} t[] = {
		{ "192.0.2.1", 4, 32, "192.0.2.1/32" },
		{ "0.0.0.0", 4, 32, "0.0.0.0/32" },
		{ "0.0.0.0/0", 4, 0, "0.0.0.0/0" },
		{ "10.0.0.0/8", 4, 8, "10.0.0.0/8" },
		{ "192.0.2.128/25", 4, 25, "192.0.2.128/25" },
		{ "255.255.255.255/32", 4, 32, "255.255.255.255/32" },
		{ "100.64.0.0/10", 4, 10, "100.64.0.0/10" },
		{ "::", 6, 128, "::/128" },
		{ "::/0", 6, 0, "::/0" },
		{ "::1", 6, 128, "::1/128" },
		{ "1::", 6, 128, "1::/128" },
		{ "2001:db8::/32", 6, 32, "2001:db8::/32" },
		{ "2001:DB8::1", 6, 128, "2001:db8::1/128" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", 6, 128,
		    "2001:db8::1/128" },
		{ "2001:db8:0:0:1:0:0:1", 6, 128, "2001:db8::1:0:0:1/128" },
		{ "2001:db8:0:1:1:1:1:1", 6, 128, "2001:db8:0:1:1:1:1:1/128" },
		{ "1:0:0:2:0:0:0:3", 6, 128, "1:0:0:2::3/128" },
		{ "fe80::/10", 6, 10, "fe80::/10" },
		{ "2001:db8::/127", 6, 127, "2001:db8::/127" },
		{ "::ffff:1.2.3.4", 6, 128, "::ffff:1.2.3.4/128" },
		{ "::FFFF:0102:0304", 6, 128, "::ffff:1.2.3.4/128" },
		{ "::ffff:0.0.0.0/96", 6, 96, "::ffff:0.0.0.0/96" },
		{ "::1.2.3.4", 6, 128, "::102:304/128" },
		{ "64:ff9b::192.0.2.33", 6, 128, "64:ff9b::c000:221/128" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6, 128,
		    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128" },
	};
	struct apx_cidr c, again;
	char buf[APX_CIDR_STRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(t); i++) {
		memset(&c, 0xaa, sizeof(c));
		if (apx_cidr_parse(t[i].in, &c) != 0)
			fail_msg("refused \"%s\"", t[i].in);
		assert_int_equal(c.family, t[i].family);
		assert_int_equal(c.bits, t[i].bits);
		assert_int_equal(apx_cidr_format(&c, buf, sizeof(buf)), 0);
		assert_string_equal(buf, t[i].canon);
		/* The canonical text reads back to the same network. */
		assert_int_equal(apx_cidr_parse(buf, &again), 0);
		assert_memory_equal(&c, &again, sizeof(c));
	}
	/* Bytes in network order, IPv4 in the first four, the rest zero. */
	c = cidr_of("192.0.2.1");
	assert_memory_equal(c.addr, "\xc0\x00\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0",
	    16);
	c = cidr_of("2001:db8::1");
	assert_memory_equal(c.addr,
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
}

static void
test_parse_refused(void **state)
{
	static const char *const bad[] = {
		"", "/", "/8", "1.2.3.4/", "::/", "1.2.3.4//8",
		/* leading zeros, octal and hex forms, wrong shapes */
		"010.0.0.1", "1.2.3.04", "1.2.3.00", "0x1.2.3.4", "1.2.3",
		"1.2.3.4.5", "1.2.3.", ".1.2.3", "1..2.3", "256.0.0.0",
		"1.2.3.1000", "4294967295", "1.2.3.4a", "a.b.c.d",
		"::ffff:01.2.3.4", "::ffff:1.2.3", "::1.2.3.4:1",
		":::", "1::2::3", "12345::", ":1::", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7", "g::1",
		/* prefix lengths */
		"1.2.3.4/33", "0.0.0.0/33", "::/129", "::/1280",
		"10.0.0.0/08", "0.0.0.0/00", "10.0.0.0/+8", "10.0.0.0/-8",
		"10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/0x8", "::/0128",
		/* host bits set */
		"10.0.0.1/8", "1.2.3.4/8", "192.0.2.129/25", "2001:db8::1/32",
		"::1/127", "::ffff:1.2.3.4/96", "0.0.0.1/0", "::1/0",
		/* zone ids, brackets, ports, blanks, NUL games */
		"fe80::1%eth0", "fe80::1%1", "[2001:db8::1]", "[::1]:80",
		"192.0.2.1:80", "[192.0.2.1]", " 10.0.0.1", "10.0.0.1 ",
		"10.0.0.0 /8", "10.0.0.0/ 8", "10. 0.0.1", "1.2.3.4\n",
		"\t::1", "10.0.0.1,", "1.2.3.4/32/32", "-1.2.3.4", "+1.2.3.4",
	};
	struct apx_cidr c, keep;
	char big[10000];
	size_t i;

	(void)state;
	memset(&keep, 0x5a, sizeof(keep));
	for (i = 0; i < APX_NELEM(bad); i++) {
		c = keep;
		if (apx_cidr_parse(bad[i], &c) != APX_EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		/* A refusal leaves the output alone. */
		assert_memory_equal(&c, &keep, sizeof(c));
	}
	assert_int_equal(apx_cidr_parse(NULL, &c), APX_EINVAL);
	assert_int_equal(apx_cidr_parse("::1", NULL), APX_EINVAL);

	/* Items over 64 bytes are refused before any parsing. */
	memset(big, '0', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(apx_cidr_parse(big, &c), APX_EINVAL);
	assert_int_equal(apx_ip_parse(big, &c), APX_EINVAL);
	memset(big, ' ', 65);
	memcpy(big + 65 - 7, "1.2.3.4", 7);
	big[65] = '\0';
	assert_int_equal(apx_ip_parse(big, &c), APX_EINVAL);
	assert_int_equal(apx_ip_parse(big + 1, &c), APX_EINVAL); /* blanks */
}

static void
test_ip_parse(void **state)
{
	struct apx_cidr c;

	(void)state;
	assert_int_equal(apx_ip_parse("192.0.2.1", &c), 0);
	assert_int_equal(c.family, 4);
	assert_int_equal(c.bits, 32);
	assert_int_equal(apx_ip_parse("::ffff:1.2.3.4", &c), 0);
	assert_int_equal(c.family, 6);
	assert_int_equal(c.bits, 128);
	assert_int_equal(apx_ip_parse("::", &c), 0);
	/* An address, never a network. */
	assert_int_equal(apx_ip_parse("10.0.0.0/8", &c), APX_EINVAL);
	assert_int_equal(apx_ip_parse("192.0.2.1/32", &c), APX_EINVAL);
	assert_int_equal(apx_ip_parse("::/0", &c), APX_EINVAL);
	assert_int_equal(apx_ip_parse("010.0.0.1", &c), APX_EINVAL);
	assert_int_equal(apx_ip_parse("", &c), APX_EINVAL);
	assert_int_equal(apx_ip_parse(NULL, &c), APX_EINVAL);
}

/* --- text ---------------------------------------------------------------- */

static void
test_format(void **state)
{
	struct apx_cidr c;
	char buf[APX_CIDR_STRLEN];

	(void)state;
	/* The longest texts fit APX_CIDR_STRLEN. */
	c = cidr_of("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	assert_int_equal(apx_cidr_format(&c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128");
	c = cidr_of("::ffff:255.255.255.255");
	assert_int_equal(apx_cidr_format(&c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "::ffff:255.255.255.255/128");

	/* Exact fit and one byte short. */
	c = cidr_of("10.0.0.0/8");
	assert_int_equal(apx_cidr_format(&c, buf, 11), 0);
	assert_string_equal(buf, "10.0.0.0/8");
	assert_int_equal(apx_cidr_format(&c, buf, 10), APX_ETOOBIG);
	assert_string_equal(buf, "");
	assert_int_equal(apx_cidr_format(&c, buf, 0), APX_ETOOBIG);

	/* Structures no parse makes. */
	c.family = 5;
	assert_int_equal(apx_cidr_format(&c, buf, sizeof(buf)), APX_EINVAL);
	c = cidr_of("10.0.0.0/8");
	c.bits = 33;
	assert_int_equal(apx_cidr_format(&c, buf, sizeof(buf)), APX_EINVAL);
	c.bits = -1;
	assert_int_equal(apx_cidr_format(&c, buf, sizeof(buf)), APX_EINVAL);
	assert_int_equal(apx_cidr_format(NULL, buf, sizeof(buf)), APX_EINVAL);
}

/*
 * Random addresses (with runs of zero groups) against glibc's inet_ntop,
 * which follows RFC 5952 too but for ::a.b.c.d (the deprecated
 * IPv4-compatible form), so addresses with 96 leading zero bits are left
 * out of the comparison; they still have to read back.
 */
static void
test_format_oracle(void **state)
{
	struct apx_cidr c, again;
	char buf[APX_CIDR_STRLEN], want[INET6_ADDRSTRLEN + 8];
	uint32_t seed = 0x9e3779b9, r;
	int i, j;

	(void)state;
	for (i = 0; i < 20000; i++) {
		memset(&c, 0, sizeof(c));
		c.family = i % 4 == 0 ? 4 : 6;
		c.bits = c.family == 4 ? 32 : 128;
		for (j = 0; j < (c.family == 4 ? 4 : 16); j += 2) {
			r = prng(&seed);
			if (c.family == 6 && r % 2 == 0)
				continue;	/* a zero group */
			c.addr[j] = (unsigned char)(r >> 8);
			c.addr[j + 1] = (unsigned char)(r >> 16);
			if (r % 7 == 0)
				c.addr[j] = 0;	/* short groups */
		}
		if (i % 50 == 1)	/* some IPv4-mapped ones */
			memcpy(c.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
		assert_int_equal(apx_cidr_format(&c, buf, sizeof(buf)), 0);
		assert_int_equal(apx_cidr_parse(buf, &again), 0);
		assert_memory_equal(&c, &again, sizeof(c));
		if (c.family == 6 && memcmp(c.addr, "\0\0\0\0\0\0\0\0\0\0\0\0",
		    12) == 0)
			continue;
		assert_non_null(inet_ntop(c.family == 4 ? AF_INET : AF_INET6,
		    c.addr, want, INET6_ADDRSTRLEN));
		strcat(want, c.family == 4 ? "/32" : "/128");
		assert_string_equal(buf, want);
	}
}

/* --- matching ------------------------------------------------------------ */

static void
test_match(void **state)
{
	struct apx_cidr n, a;

	(void)state;
	/* First and last address of a net, and one either side. */
	assert_true(match("192.0.2.0/24", "192.0.2.0"));
	assert_true(match("192.0.2.0/24", "192.0.2.255"));
	assert_false(match("192.0.2.0/24", "192.0.1.255"));
	assert_false(match("192.0.2.0/24", "192.0.3.0"));
	assert_true(match("192.0.2.128/25", "192.0.2.128"));
	assert_true(match("192.0.2.128/25", "192.0.2.255"));
	assert_false(match("192.0.2.128/25", "192.0.2.127"));
	assert_true(match("10.0.0.0/8", "10.255.255.255"));
	assert_false(match("10.0.0.0/8", "11.0.0.0"));
	assert_false(match("10.0.0.0/8", "9.255.255.255"));
	assert_true(match("2001:db8::/32", "2001:db8::"));
	assert_true(match("2001:db8::/32",
	    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(match("2001:db8::/32", "2001:db9::"));
	assert_false(match("2001:db8::/32",
	    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(match("fe80::/10", "febf:ffff::1"));
	assert_false(match("fe80::/10", "fec0::"));

	/* /0, /32, /128, /127. */
	assert_true(match("0.0.0.0/0", "0.0.0.0"));
	assert_true(match("0.0.0.0/0", "255.255.255.255"));
	assert_true(match("::/0", "::"));
	assert_true(match("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(match("192.0.2.1/32", "192.0.2.1"));
	assert_true(match("192.0.2.1", "192.0.2.1"));
	assert_false(match("192.0.2.1/32", "192.0.2.0"));
	assert_false(match("192.0.2.1/32", "192.0.2.2"));
	assert_true(match("2001:db8::1/128", "2001:db8::1"));
	assert_false(match("2001:db8::1/128", "2001:db8::"));
	assert_false(match("2001:db8::1/128", "2001:db8::2"));
	assert_true(match("2001:db8::/127", "2001:db8::"));
	assert_true(match("2001:db8::/127", "2001:db8::1"));
	assert_false(match("2001:db8::/127", "2001:db8::2"));
	assert_false(match("2001:db8::/127",
	    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));

	/* IPv4-mapped addresses match IPv4 networks as IPv4. */
	assert_true(match("10.0.0.0/8", "::ffff:10.1.2.3"));
	assert_false(match("10.0.0.0/8", "::ffff:11.0.0.0"));
	assert_true(match("0.0.0.0/0", "::ffff:1.2.3.4"));
	assert_true(match("192.0.2.7/32", "::ffff:192.0.2.7"));
	/* ...and IPv6 networks as IPv6. */
	assert_true(match("::/0", "::ffff:1.2.3.4"));
	assert_true(match("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"));
	/* Other embeddings are not IPv4. */
	assert_false(match("0.0.0.0/0", "::1.2.3.4"));
	assert_false(match("1.2.3.4/32", "::1.2.3.4"));
	assert_false(match("192.0.2.0/24", "64:ff9b::192.0.2.33"));
	assert_false(match("0.0.0.0/0", "::1"));
	assert_false(match("0.0.0.0/0", "::"));
	/* IPv4 and IPv6 never meet otherwise. */
	assert_false(match("::/0", "0.0.0.0"));
	assert_false(match("::/0", "1.2.3.4"));
	assert_false(match("::ffff:0.0.0.0/96", "1.2.3.4"));
	assert_false(match("::ffff:10.0.0.0/104", "10.1.2.3"));

	/* ADDR's prefix length is not looked at. */
	n = cidr_of("10.0.0.0/8");
	a = cidr_of("10.1.0.0/16");
	assert_true(apx_cidr_match(&n, &a));
	/* Broken structures never match. */
	assert_false(apx_cidr_match(NULL, &a));
	assert_false(apx_cidr_match(&n, NULL));
	n.bits = 33;
	assert_false(apx_cidr_match(&n, &a));
	n = cidr_of("0.0.0.0/0");
	a.family = 0;
	assert_false(apx_cidr_match(&n, &a));
	n.family = 5;
	a = cidr_of("10.0.0.1");
	assert_false(apx_cidr_match(&n, &a));
}

/* --- lists --------------------------------------------------------------- */

static void
test_list_parse(void **state)
{
	struct apx_cidr_list l;
	struct apx_cidr a;
	char buf[APX_CIDR_STRLEN], *big;
	size_t bad, i, off;

	(void)state;
	memset(&l, 0x5a, sizeof(l));
	assert_int_equal(apx_cidr_list_parse(NULL, &l, NULL), 0);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	assert_int_equal(apx_cidr_list_parse("", &l, NULL), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(apx_cidr_list_parse(" \t , ", &l, NULL), 0);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	a = cidr_of("10.0.0.1");
	assert_false(apx_cidr_list_match(&l, &a));
	assert_false(apx_cidr_list_match(NULL, &a));

	assert_int_equal(apx_cidr_list_parse(
	    "  10.0.0.0/8 192.168.0.0/16\t::1,fe80::/10 ", &l, &bad), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(apx_cidr_format(&l.v[2], buf, sizeof(buf)), 0);
	assert_string_equal(buf, "::1/128");
	assert_int_equal(apx_cidr_format(&l.v[3], buf, sizeof(buf)), 0);
	assert_string_equal(buf, "fe80::/10");
	assert_true(apx_cidr_list_match(&l, &a));
	a = cidr_of("fe80::1");
	assert_true(apx_cidr_list_match(&l, &a));
	a = cidr_of("::2");
	assert_false(apx_cidr_list_match(&l, &a));
	a = cidr_of("::ffff:192.168.4.4");
	assert_true(apx_cidr_list_match(&l, &a));
	apx_cidr_list_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	apx_cidr_list_free(&l);
	apx_cidr_list_free(NULL);

	/* The index of the first bad item; the list is left empty. */
	bad = 99;
	assert_int_equal(apx_cidr_list_parse("10.0.0.0/8 10.0.0.1/8 junk", &l,
	    &bad), APX_EINVAL);
	assert_int_equal(bad, 1);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	assert_int_equal(apx_cidr_list_parse("junk", &l, &bad), APX_EINVAL);
	assert_int_equal(bad, 0);
	assert_int_equal(apx_cidr_list_parse("::1 ::2 fe80::1%eth0", &l, &bad),
	    APX_EINVAL);
	assert_int_equal(bad, 2);
	assert_int_equal(apx_cidr_list_parse("1.2.3.4 [::1]", &l, NULL),
	    APX_EINVAL);
	assert_int_equal(apx_cidr_list_parse("::1", NULL, NULL), APX_EINVAL);

	/* 1024 items fit, 1025 do not. */
	assert_non_null(big = malloc(1025 * 16 + 1));
	for (i = 0, off = 0; i < 1025; i++)
		off += (size_t)sprintf(big + off, "10.%zu.%zu.0/24 ", i / 256,
		    i % 256);
	big[off - 1 - strlen("10.4.0.0/24")] = '\0';
	assert_int_equal(apx_cidr_list_parse(big, &l, &bad), 0);
	assert_int_equal(l.n, APX_CIDR_LIST_MAX);
	a = cidr_of("10.3.255.9");
	assert_true(apx_cidr_list_match(&l, &a));
	a = cidr_of("10.4.0.9");
	assert_false(apx_cidr_list_match(&l, &a));
	apx_cidr_list_free(&l);
	big[off - 1 - strlen("10.4.0.0/24")] = '1';
	bad = 0;
	assert_int_equal(apx_cidr_list_parse(big, &l, &bad), APX_ETOOBIG);
	assert_int_equal(bad, APX_CIDR_LIST_MAX);
	assert_null(l.v);
	free(big);
}

static void
test_list_from(void **state)
{
	const char *good[] = { "10.0.0.0/8", "::1", "2001:db8::/32" };
	const char *withnull[] = { "10.0.0.0/8", NULL };
	const char *withbad[] = { "10.0.0.0/8", "::1", "10.0.0.0/08" };
	struct apx_cidr_list l;
	struct apx_cidr a;
	size_t bad = 99;

	(void)state;
	assert_int_equal(apx_cidr_list_from(good, 3, &l, &bad), 0);
	assert_int_equal(l.n, 3);
	a = cidr_of("2001:db8::7");
	assert_true(apx_cidr_list_match(&l, &a));
	apx_cidr_list_free(&l);
	assert_int_equal(apx_cidr_list_from(NULL, 0, &l, &bad), 0);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	assert_int_equal(apx_cidr_list_from(withnull, 2, &l, &bad),
	    APX_EINVAL);
	assert_int_equal(bad, 1);
	assert_null(l.v);
	assert_int_equal(apx_cidr_list_from(withbad, 3, &l, &bad), APX_EINVAL);
	assert_int_equal(bad, 2);
	assert_int_equal(l.n, 0);
	assert_int_equal(apx_cidr_list_from(NULL, 1, &l, &bad), APX_EINVAL);
	assert_int_equal(apx_cidr_list_from(good, APX_CIDR_LIST_MAX + 1, &l,
	    &bad), APX_ETOOBIG);
	assert_int_equal(bad, APX_CIDR_LIST_MAX);
}

/* --- the client address -------------------------------------------------- */

static void
test_client_untrusted_remote(void **state)
{
	(void)state;
	/* XFF from an untrusted peer is never read. */
	assert_string_equal(client("203.0.113.5", "198.51.100.1"),
	    "203.0.113.5");
	assert_string_equal(client("203.0.113.5", "10.0.0.2"), "203.0.113.5");
	assert_string_equal(client("2001:db8::5", "198.51.100.1"),
	    "2001:db8::5");
	/* Just outside the trusted networks. */
	assert_string_equal(client("11.0.0.0", "198.51.100.1"), "11.0.0.0");
	assert_string_equal(client("127.0.0.2", "198.51.100.1"), "127.0.0.2");
	assert_string_equal(client("2001:db8:fffe::1", "198.51.100.1"),
	    "2001:db8:fffe::1");
}

static void
test_client_walk(void **state)
{
	(void)state;
	/* The right-most untrusted entry. */
	assert_string_equal(client("10.0.0.1", "198.51.100.1"),
	    "198.51.100.1");
	assert_string_equal(client("10.0.0.1",
	    "198.51.100.1, 203.0.113.7, 192.168.1.1"), "203.0.113.7");
	/* A chain of trusted proxies. */
	assert_string_equal(client("127.0.0.1",
	    "198.51.100.1, 10.1.1.1, 192.168.0.2,10.9.9.9"), "198.51.100.1");
	/* All trusted: the left-most. */
	assert_string_equal(client("10.0.0.1", "10.0.0.5, 10.0.0.6"),
	    "10.0.0.5");
	assert_string_equal(client("10.0.0.1", "10.0.0.5"), "10.0.0.5");
	/* Spoofed entries on the left never win. */
	assert_string_equal(client("10.0.0.1", "10.0.0.1, 127.0.0.1, "
	    "198.51.100.1, 203.0.113.7, 10.0.0.9"), "203.0.113.7");
	assert_string_equal(client("10.0.0.1", "1.1.1.1, garbage, "
	    "203.0.113.7"), "203.0.113.7");
	/* Spaces and tabs around entries. */
	assert_string_equal(client("10.0.0.1", "\t198.51.100.1 \t,10.0.0.2 "),
	    "198.51.100.1");
}

static void
test_client_stops(void **state)
{
	static const char *const garbage[] = {
		"garbage", "203.0.113.7:8080", "[2001:db8::1]",
		"[2001:db8::1]:443", "fe80::1%eth0", "", "  ", "unknown",
		"010.0.0.1", "10.0.0.0/8", "1.2.3.4 5.6.7.8", "_hidden",
	};
	char xff[200];
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(garbage); i++) {
		/* Between two trusted hops: the nearer one is the client. */
		snprintf(xff, sizeof(xff), "198.51.100.1, %s, 10.0.0.7",
		    garbage[i]);
		assert_string_equal(client("10.0.0.1", xff), "10.0.0.7");
		/* Right-most: the remote peer is. */
		snprintf(xff, sizeof(xff), "198.51.100.1,%s", garbage[i]);
		assert_string_equal(client("10.0.0.1", xff), "10.0.0.1");
	}
	assert_string_equal(client("10.0.0.1", "198.51.100.1,"), "10.0.0.1");
	assert_string_equal(client("10.0.0.1", ",198.51.100.1"),
	    "198.51.100.1");
	assert_string_equal(client("10.0.0.1", ",10.0.0.3"), "10.0.0.3");
}

static void
test_client_ipv6(void **state)
{
	(void)state;
	assert_string_equal(client("2001:db8:ffff::1",
	    "2001:db8:1::5, 2001:db8:ffff::9"), "2001:db8:1::5");
	/* Canonical output whatever the input's spelling. */
	assert_string_equal(client("2001:db8:ffff::1",
	    "2001:0DB8:0001:0000:0000:0000:0000:0005"), "2001:db8:1::5");
	assert_string_equal(client("2001:DB8::0001", NULL), "2001:db8::1");
	/* Mixed families in one chain. */
	assert_string_equal(client("10.0.0.1",
	    "2001:db8:1::5, 2001:db8:ffff::2, 192.168.0.1"), "2001:db8:1::5");
	/* IPv4-mapped: trusted as IPv4, written as IPv4. */
	assert_string_equal(client("::ffff:10.0.0.1", "::ffff:198.51.100.9"),
	    "198.51.100.9");
	assert_string_equal(client("::ffff:203.0.113.1", "198.51.100.9"),
	    "203.0.113.1");
	assert_string_equal(client("10.0.0.1", "198.51.100.9, ::ffff:10.2.2.2"),
	    "198.51.100.9");
	assert_string_equal(client("::1", "198.51.100.9"), "::1");
}

static void
test_client_no_xff(void **state)
{
	(void)state;
	assert_string_equal(client("10.0.0.1", NULL), "10.0.0.1");
	assert_string_equal(client("10.0.0.1", ""), "10.0.0.1");
	assert_string_equal(client("10.0.0.1", " \t "), "10.0.0.1");
	assert_string_equal(client("10.0.0.1", ","), "10.0.0.1");
}

static void
test_client_limits(void **state)
{
	char *xff, out[APX_IP_STRLEN];
	size_t n, i, off;

	(void)state;
	/* 8192 bytes are walked, 8193 ignored. */
	assert_non_null(xff = malloc(8194));
	n = 8192;
	memset(xff, ' ', n);
	memcpy(xff + n - 12, "198.51.100.1", 12);
	xff[n] = '\0';
	assert_string_equal(client("10.0.0.1", xff), "198.51.100.1");
	memset(xff, ' ', n + 1);
	memcpy(xff + n + 1 - 12, "198.51.100.1", 12);
	xff[n + 1] = '\0';
	assert_string_equal(client("10.0.0.1", xff), "10.0.0.1");

	/* 64 entries are examined: an untrusted 64th is found... */
	off = (size_t)sprintf(xff, "198.51.100.1");
	for (i = 1; i < 64; i++)
		off += (size_t)sprintf(xff + off, ",10.0.%zu.%zu", i / 200,
		    i % 200 + 1);
	assert_string_equal(client("10.0.0.1", xff), "198.51.100.1");
	/* ...a 65th is not: the 64th hop (trusted) is the answer. */
	off = (size_t)sprintf(xff, "198.51.100.1,10.9.9.9");
	for (i = 1; i < 64; i++)
		off += (size_t)sprintf(xff + off, ",10.0.%zu.%zu", i / 200,
		    i % 200 + 1);
	assert_string_equal(client("10.0.0.1", xff), "10.9.9.9");
	free(xff);

	/* Nothing trusted. */
	assert_int_equal(apx_client_addr(NULL, "10.0.0.1", "198.51.100.1", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.1");
}

static void
test_client_remote_unparsed(void **state)
{
	struct apx_cidr_list all;
	char big[100], out[APX_IP_STRLEN];

	(void)state;
	assert_int_equal(apx_cidr_list_parse("0.0.0.0/0 ::/0", &all, NULL), 0);
	assert_int_equal(apx_client_addr(&all, "unix:", "198.51.100.1", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "unix:");
	assert_int_equal(apx_client_addr(&all, "10.0.0.1:80", "198.51.100.1",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.1:80");
	assert_int_equal(apx_client_addr(&all, NULL, "198.51.100.1", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "");
	/* Truncated to fit, still 0. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(apx_client_addr(&all, big, NULL, out, sizeof(out)),
	    0);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_memory_equal(out, big, sizeof(out) - 1);
	/* Trust everything: the left-most entry. */
	assert_int_equal(apx_client_addr(&all, "10.0.0.1",
	    "198.51.100.1, 2001:db8::1, 10.0.0.2", out, sizeof(out)), 0);
	assert_string_equal(out, "198.51.100.1");
	apx_cidr_list_free(&all);
}

static void
test_client_small_buffer(void **state)
{
	char out[APX_IP_STRLEN];

	(void)state;
	assert_int_equal(apx_client_addr(&trusted, "1.2.3.4", NULL, out, 8),
	    0);
	assert_string_equal(out, "1.2.3.4");
	memset(out, 'X', sizeof(out));
	assert_int_equal(apx_client_addr(&trusted, "1.2.3.4", NULL, out, 7),
	    APX_ETOOBIG);
	assert_string_equal(out, "");	/* never a shortened address */
	memset(out, 'X', sizeof(out));
	assert_int_equal(apx_client_addr(&trusted, "10.0.0.1",
	    "198.51.100.100", out, 12), APX_ETOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(apx_client_addr(&trusted, "10.0.0.1", NULL, out, 0),
	    APX_ETOOBIG);
	assert_int_equal(apx_client_addr(&trusted, "10.0.0.1", NULL, NULL,
	    46), APX_EINVAL);
	/* The longest address fits APX_IP_STRLEN. */
	assert_int_equal(apx_client_addr(&trusted,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepted),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_ip_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_oracle),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_list_from),
		cmocka_unit_test(test_client_untrusted_remote),
		cmocka_unit_test(test_client_walk),
		cmocka_unit_test(test_client_stops),
		cmocka_unit_test(test_client_ipv6),
		cmocka_unit_test(test_client_no_xff),
		cmocka_unit_test(test_client_limits),
		cmocka_unit_test(test_client_remote_unparsed),
		cmocka_unit_test(test_client_small_buffer),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
