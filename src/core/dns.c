/* DNS for domain verification (dns.h). */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/dns.h"
#include "core/log.h"

#define ANSWER_MAX	65536
#define TXT_VALUE_MAX	4096

int
apx_dns_name_norm(const char *in, char *out)
{
	size_t n, i, label = 0, labels = 0, last = 0;

	if (in == NULL || (n = strlen(in)) < 3 || n > APX_DNS_NAME_MAX)
		return APX_EINVAL;
	for (i = 0; i <= n; i++) {
		char ch = in[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch == '.' || ch == '\0') {
			/* a label: 1..63, no hyphen at either end */
			if (label == 0 || label > 63 || out[i - 1] == '-' ||
			    out[i - label] == '-')
				return APX_EINVAL;
			labels++;
			last = i - label;
			label = 0;
			out[i] = ch;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-'))
			return APX_EINVAL;
		out[i] = ch;
		label++;
	}
	/* a host name, not an address: the last label starts with a letter */
	if (labels < 2 || !(out[last] >= 'a' && out[last] <= 'z'))
		return APX_EINVAL;
	return 0;
}

int
apx_dns_resolver_parse(const char *s, unsigned char addr[4], unsigned *port)
{
	char host[16];
	const char *colon;
	long long p = 53;
	size_t n;

	if (s == NULL)
		return APX_EINVAL;
	colon = strchr(s, ':');
	n = colon != NULL ? (size_t)(colon - s) : strlen(s);
	if (n == 0 || n >= sizeof(host))
		return APX_EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, addr) != 1)
		return APX_EINVAL;
	if (colon != NULL && apx_parse_ll(colon + 1, 1, 65535, &p) != 0)
		return APX_EINVAL;
	*port = (unsigned)p;
	return 0;
}

int
apx_dns_txt_has(const char *resolver, const char *name, const char *want)
{
	struct __res_state res;
	unsigned char *ans = NULL, addr[4];
	char value[TXT_VALUE_MAX + 1];
	unsigned port = 53;
	ns_msg msg;
	ns_rr rr;
	int n, i, rc = APX_ENOTFOUND, count;

	memset(&res, 0, sizeof(res));
	if (resolver != NULL && apx_dns_resolver_parse(resolver, addr, &port)
	    != 0)
		return APX_EINVAL;
	if (res_ninit(&res) != 0)
		return APX_EIO;
	if (resolver != NULL) {
		res.nscount = 1;
		res.nsaddr_list[0].sin_family = AF_INET;
		res.nsaddr_list[0].sin_port = htons((unsigned short)port);
		memcpy(&res.nsaddr_list[0].sin_addr.s_addr, addr, 4);
	}
	res.retrans = 3;
	res.retry = 2;
	if ((ans = malloc(ANSWER_MAX)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if ((n = res_nquery(&res, name, ns_c_in, ns_t_txt, ans, ANSWER_MAX)) <
	    0) {
		/* NXDOMAIN and "no such record" are answers; the rest is not. */
		rc = res.res_h_errno == HOST_NOT_FOUND ||
		    res.res_h_errno == NO_DATA ? APX_ENOTFOUND : APX_EIO;
		goto out;
	}
	if (ns_initparse(ans, n, &msg) < 0) {
		rc = APX_EIO;
		goto out;
	}
	count = ns_msg_count(msg, ns_s_an);
	for (i = 0; i < count && i < APX_DNS_TXT_MAX * 4; i++) {
		const unsigned char *p, *end;
		size_t len = 0;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			rc = APX_EIO;
			goto out;
		}
		if (ns_rr_type(rr) != ns_t_txt || ns_rr_class(rr) != ns_c_in)
			continue;
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		/* <character-string>s, joined; every length checked */
		while (p < end) {
			unsigned l = *p++;

			if (l > (unsigned)(end - p) || len + l > TXT_VALUE_MAX)
				break;
			memcpy(value + len, p, l);
			len += l;
			p += l;
		}
		if (p != end)
			continue;
		value[len] = '\0';
		if (len == strlen(want) && memchr(value, '\0', len) == NULL &&
		    strcmp(value, want) == 0) {
			rc = 0;
			break;
		}
	}
out:
	free(ans);
	res_nclose(&res);
	return rc;
}
