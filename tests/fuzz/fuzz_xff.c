/*
 * Fuzz the client-address walk and the address/network parsers. The input
 * is "REMOTE\nXFF" (no newline: no X-Forwarded-For) for apx_client_addr
 * with a fixed list of trusted proxies, once with a full-size buffer and
 * once with a short one; then the whole input, NUL-terminated, goes to
 * apx_ip_parse, apx_cidr_parse and apx_cidr_list_parse.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "authz/cidr.h"
#include "core/apx.h"
#include "fuzz.h"

#define TRUSTED	"10.0.0.0/8 192.168.0.0/16 127.0.0.1 ::1 " \
		"2001:db8:ffff::/48 ::ffff:172.16.0.0/108"

static const unsigned char	 mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};
static struct apx_cidr_list	 trusted;
static int			 ready;

static void	 check_client(const char *, const char *, size_t);
static void	 check_parsers(const char *);

static void
check_client(const char *remote, const char *xff, size_t small)
{
	struct apx_cidr r, o;
	char out[APX_IP_STRLEN], out2[APX_IP_STRLEN], fmt[APX_CIDR_STRLEN];
	size_t n;
	int rc;

	memset(out, 'X', sizeof(out));
	if (apx_client_addr(&trusted, remote, xff, out, sizeof(out)) != 0 ||
	    memchr(out, '\0', sizeof(out)) == NULL)
		__builtin_trap();
	if (apx_ip_parse(remote, &r) != 0) {
		/* REMOTE itself, truncated. */
		n = strlen(remote);
		if (n > sizeof(out) - 1)
			n = sizeof(out) - 1;
		if (strlen(out) != n || memcmp(out, remote, n) != 0)
			__builtin_trap();
	} else {
		/* An address, in canonical text, never IPv4-mapped. */
		if (apx_ip_parse(out, &o) != 0 ||
		    apx_cidr_format(&o, fmt, sizeof(fmt)) != 0 ||
		    strncmp(fmt, out, strlen(out)) != 0 ||
		    strcmp(fmt + strlen(out), o.family == 4 ? "/32" : "/128") !=
		    0 || (o.family == 6 && memcmp(o.addr, mapped, 12) == 0))
			__builtin_trap();
		/* XFF only counts behind a trusted peer: else REMOTE. */
		if (!apx_cidr_list_match(&trusted, &r) || xff == NULL) {
			if (r.family == 6 && memcmp(r.addr, mapped, 12) == 0) {
				if (o.family != 4 ||
				    memcmp(o.addr, r.addr + 12, 4) != 0)
					__builtin_trap();
			} else if (memcmp(&o, &r, sizeof(o)) != 0)
				__builtin_trap();
		}
	}

	/* A short buffer: the same answer, or nothing at all. */
	memset(out2, 'X', sizeof(out2));
	rc = apx_client_addr(&trusted, remote, xff, out2, small);
	if (small == 0) {
		if (rc != APX_ETOOBIG || out2[0] != 'X')
			__builtin_trap();
	} else if (apx_ip_parse(remote, &r) != 0) {
		n = strlen(remote);
		if (n > small - 1)
			n = small - 1;
		if (rc != 0 || strlen(out2) != n || memcmp(out2, remote, n) != 0)
			__builtin_trap();
	} else if (strlen(out) < small) {
		if (rc != 0 || strcmp(out, out2) != 0)
			__builtin_trap();
	} else if (rc != APX_ETOOBIG || out2[0] != '\0')
		__builtin_trap();
}

static void
check_parsers(const char *s)
{
	struct apx_cidr c, again, a;
	struct apx_cidr_list l;
	char buf[APX_CIDR_STRLEN];
	size_t bad = (size_t)-1, i;
	int rc;

	if (apx_ip_parse(s, &a) == 0) {
		if ((a.family != 4 || a.bits != 32) &&
		    (a.family != 6 || a.bits != 128))
			__builtin_trap();
		if (apx_cidr_parse(s, &c) != 0 ||
		    memcmp(&a, &c, sizeof(a)) != 0)
			__builtin_trap();
	}
	if (apx_cidr_parse(s, &c) == 0) {
		/* Canonical text reads back the same; a net holds its base. */
		if (strlen(s) > APX_CIDR_ITEM_MAX ||
		    apx_cidr_format(&c, buf, sizeof(buf)) != 0 ||
		    apx_cidr_parse(buf, &again) != 0 ||
		    memcmp(&c, &again, sizeof(c)) != 0 ||
		    !apx_cidr_match(&c, &c))
			__builtin_trap();
	}
	rc = apx_cidr_list_parse(s, &l, &bad);
	if (rc == 0) {
		if (l.n > APX_CIDR_LIST_MAX || (l.n == 0) != (l.v == NULL))
			__builtin_trap();
		for (i = 0; i < l.n; i++) {
			if (!apx_cidr_list_match(&l, &l.v[i]) ||
			    apx_cidr_format(&l.v[i], buf, sizeof(buf)) != 0)
				__builtin_trap();
		}
		apx_cidr_list_free(&l);
	} else if (l.v != NULL || l.n != 0 || (rc == APX_EINVAL &&
	    bad >= APX_CIDR_LIST_MAX) || (rc == APX_ETOOBIG &&
	    bad != APX_CIDR_LIST_MAX) || (rc != APX_EINVAL &&
	    rc != APX_ETOOBIG && rc != APX_ENOMEM))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *nl;

	if (!ready) {
		if (apx_cidr_list_parse(TRUSTED, &trusted, NULL) != 0)
			__builtin_trap();
		ready = 1;
	}
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_parsers(s);
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		check_client(s, nl + 1, size % (APX_IP_STRLEN + 1));
	} else
		check_client(s, NULL, size % (APX_IP_STRLEN + 1));
	free(s);
	return 0;
}
