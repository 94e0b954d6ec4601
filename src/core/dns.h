/*
 * DNS, for domain verification: a domain name checked and normalised
 * (pure; fuzzable), and a TXT lookup through glibc's resolver, aimed at a
 * configured resolver (dns.resolver) or the system's.
 */
#ifndef APX_CORE_DNS_H
#define APX_CORE_DNS_H

#include <stddef.h>

#define APX_DNS_NAME_MAX	253
#define APX_DNS_TXT_MAX		16	/* TXT records read at most */

/*
 * A domain name an org may claim: ASCII letters, digits and hyphens in
 * labels of 1..63, at least two labels, a last label that starts with a
 * letter, 253 bytes at most, no trailing dot. OUT (APX_DNS_NAME_MAX + 1
 * bytes) gets it in lower case. 0 or APX_EINVAL.
 */
int	 apx_dns_name_norm(const char *, char *);
/* "IPv4[:port]" (port 1..65535, default 53): 0 or APX_EINVAL. */
int	 apx_dns_resolver_parse(const char *, unsigned char[4], unsigned *);
/*
 * Does a TXT record of NAME hold exactly WANT (the character-strings of a
 * record joined)? Through RESOLVER ("IPv4[:port]", NULL: the system's),
 * 3 s per try, 2 tries. 0: found; APX_ENOTFOUND: the name has no such
 * record (NXDOMAIN, no TXT, other values); APX_EIO when the resolver
 * fails or times out.
 */
int	 apx_dns_txt_has(const char *, const char *, const char *);

#endif
