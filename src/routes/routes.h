/*
 * Route handlers: thin. Parse, call the area's function, answer. The
 * table in routes.c is the whole API surface of this binary.
 */
#ifndef APX_ROUTES_ROUTES_H
#define APX_ROUTES_ROUTES_H

#include "core/conf.h"
#include "http/http.h"
#include "http/response.h"
#include "http/router.h"

struct apx_db;
struct apx_auth;

struct apx_ctx {
	struct apx_request	*req;
	struct apx_response	*resp;
	const struct apx_conf	*conf;
	struct apx_db		*db;
	struct apx_auth		*auth;	/* set for APX_ROUTE_AUTH routes */
};

const struct apx_route *apx_routes(size_t *);

int	 apx_route_healthz(struct apx_ctx *);
int	 apx_route_readyz(struct apx_ctx *);
int	 apx_route_security_txt(struct apx_ctx *);
int	 apx_route_internal_metrics(struct apx_ctx *);
int	 apx_route_internal_settings_get(struct apx_ctx *);
int	 apx_route_internal_settings_patch(struct apx_ctx *);
int	 apx_route_jwks(struct apx_ctx *);
int	 apx_route_auth_register(struct apx_ctx *);
int	 apx_route_auth_login(struct apx_ctx *);
int	 apx_route_auth_refresh(struct apx_ctx *);
int	 apx_route_auth_logout(struct apx_ctx *);
int	 apx_route_me(struct apx_ctx *);
int	 apx_route_me_sessions(struct apx_ctx *);
int	 apx_route_me_session_delete(struct apx_ctx *);
int	 apx_route_me_password(struct apx_ctx *);

#endif
