/*
 * Edge authorisation: CORS for configured origins, the shared-secret guard
 * of /internal/.... (Roles and the permission table come with identity.)
 */
#ifndef APX_AUTHZ_AUTHZ_H
#define APX_AUTHZ_AUTHZ_H

#include "core/conf.h"
#include "http/http.h"
#include "http/response.h"

/* Is this a /internal/... path? */
int	 apx_authz_is_internal(const struct apx_request *);
/* Secret configured and the X-Internal-Secret header equal to it. */
int	 apx_authz_internal_ok(const struct apx_conf *,
	    const struct apx_request *);

/* A CORS preflight (OPTIONS + Origin + Access-Control-Request-Method)? */
int	 apx_cors_is_preflight(const struct apx_request *);
/* Answer a preflight for a route allowing METHODS. */
int	 apx_cors_preflight(const struct apx_conf *, const struct apx_request *,
	    struct apx_response *, int);
/* Add Access-Control-Allow-* to an ordinary response when allowed. */
int	 apx_cors_decorate(const struct apx_conf *, const struct apx_request *,
	    struct apx_response *);

#endif
