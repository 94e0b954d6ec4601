/*
 * Router: a table of routes with path parameters ("/api/v1/orgs/{org}")
 * and per-route method sets. Matching works on decoded path segments, so
 * an encoded slash inside a segment never becomes a separator.
 */
#ifndef APX_HTTP_ROUTER_H
#define APX_HTTP_ROUTER_H

#include "http/http.h"
#include "http/response.h"

struct apx_ctx;
typedef int (*apx_handler)(struct apx_ctx *);

#define APX_ROUTE_INTERNAL	0x1	/* behind the internal shared secret */
#define APX_ROUTE_DB		0x2	/* needs the control-plane database */
#define APX_ROUTE_AUTH		0x4	/* a signed-in user (authenticated first) */

struct apx_route {
	const char	*pattern;
	int		 methods;	/* APX_M_* mask */
	apx_handler	 handler;
	int		 flags;
	const char	*perm;		/* row of the permission table */
};

enum apx_match {
	APX_MATCH_OK = 0,
	APX_MATCH_NOPATH = 1,
	APX_MATCH_NOMETHOD = 2,
};

/*
 * Find the route for REQ's segments and method. On APX_MATCH_OK the route
 * and its parameters are stored in REQ. *ALLOW gets the method set of the
 * route whose path matched (for 405 and CORS preflight).
 */
int	 apx_router_match(const struct apx_route *, size_t,
	    struct apx_request *, int, int *);
/* "GET, HEAD" for a method mask, arena-allocated. */
const char *apx_router_allow(struct apx_arena *, int);
/* Validate a route table at start-up: patterns well formed, no dups. */
int	 apx_router_check(const struct apx_route *, size_t, char *, size_t);

#endif
