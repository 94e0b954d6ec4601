/*
 * The context of one request as every area sees it: the request and its
 * answer, the configuration, the databases, who is calling and, on an
 * organisation route, which organisation. It lives beneath auth/, authz/,
 * connect/ and routes/ so that no area reaches up into the handlers.
 */
#ifndef APX_HTTP_CTX_H
#define APX_HTTP_CTX_H

#include <stdint.h>

#include "core/conf.h"
#include "http/http.h"
#include "http/response.h"

struct apx_db;
struct apx_tenants;
struct apx_auth;
struct apx_perm;

/* The organisation of an /api/v1/orgs/{org} route, as authz resolved it. */
struct apx_org {
	int64_t		 id;
	const char	*slug;
	const char	*name;
	const char	*region;
	int		 plan;		/* enum apx_plan */
	int		 role;		/* the caller's effective role */
	int64_t		 ws;		/* {ws} of the path, 0 if none */
};

struct apx_ctx {
	struct apx_request	*req;
	struct apx_response	*resp;
	const struct apx_conf	*conf;
	struct apx_db		*db;
	struct apx_tenants	*tenants;	/* tenant databases (LRU) */
	struct apx_auth		*auth;	/* set for APX_ROUTE_AUTH routes */
	struct apx_org		*org;	/* set for organisation routes */
	const struct apx_perm	*perm;	/* the matched route's row */
	int64_t			 touch_key; /* an API key whose last use is
					       written after the answer */
};

#endif
