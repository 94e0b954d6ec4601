/*
 * One request from parsed input to finished response: guard, route,
 * handler, problem mapping, security headers, CORS.
 */
#ifndef APX_SERVER_DISPATCH_H
#define APX_SERVER_DISPATCH_H

#include "routes/routes.h"

/* INIT_RC: result of parsing the request (0, APX_EINVAL, APX_ETOOBIG). */
void	 apx_dispatch(struct apx_ctx *, int);
/* Route label for metrics and the access log. */
const char *apx_dispatch_route_label(const struct apx_request *);

#endif
