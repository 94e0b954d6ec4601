/*
 * Outgoing URLs: which ones a configured base URL allows, and which base
 * URLs a configuration may name. Pure functions (unit-tested, fuzzed).
 */
#ifndef APX_CORE_URL_H
#define APX_CORE_URL_H

#include <stddef.h>

/*
 * Does URL start with the origin of TEMPLATE (scheme://host[:port], where
 * the host may hold one "{x}" placeholder standing for exactly one DNS
 * label)? No userinfo, whitespace, backslash or non-ASCII byte; http or
 * https only. 1 yes, 0 no.
 */
int	 apx_url_allowed(const char *, const char *);
/* A base URL a configuration may name: https, or http on a loopback host
 * (127.0.0.1, localhost, [::1]). 1 yes, 0 no. */
int	 apx_url_base_ok(const char *);

/*
 * A URL a peer configured by a tenant may make us fetch (an org's own
 * IdP): https to a host that is not loopback; with LOOPBACK_OK, also what
 * apx_url_base_ok allows (http on a loopback host, for test stacks).
 * At most 2048 bytes. 1 yes, 0 no.
 */
int	 apx_url_remote_ok(const char *, int);
/*
 * A link a person gave to show to others (a document): https://HOST[:PORT]
 * [/...], at most MAX bytes of printable ASCII without blanks, quotes,
 * angle brackets or backslashes, no user:password@ (a link is never a
 * credential), a port of 1 to 5 digits. 1 yes, 0 no.
 */
int	 apx_url_link_ok(const char *, size_t);
/*
 * Percent-encode S as a form or query value (RFC 3986 unreserved bytes
 * kept): OUT holds 3 * strlen(S) + 1 bytes. The length written.
 */
size_t	 apx_url_encode(const char *, char *);

#endif
