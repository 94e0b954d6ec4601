/*
 * Outgoing URLs: which ones a configured base URL allows, and which base
 * URLs a configuration may name. Pure functions (unit-tested, fuzzed).
 */
#ifndef APX_CORE_URL_H
#define APX_CORE_URL_H

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

#endif
