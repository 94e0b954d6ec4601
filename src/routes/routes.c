#include "config.h"

#include "routes/routes.h"

#define GH	(APX_M_GET | APX_M_HEAD)
#define INT	APX_ROUTE_INTERNAL
#define DB	APX_ROUTE_DB
#define AUTH	(APX_ROUTE_AUTH | APX_ROUTE_DB)

static const struct apx_route routes[] = {
	{ "/healthz", GH, apx_route_healthz, 0 },
	{ "/readyz", GH, apx_route_readyz, DB },
	{ "/.well-known/security.txt", GH, apx_route_security_txt, 0 },
	{ "/internal/metrics", APX_M_GET, apx_route_internal_metrics, INT },
	{ "/internal/settings", APX_M_GET, apx_route_internal_settings_get,
	    INT | DB },
	{ "/internal/settings", APX_M_PATCH,
	    apx_route_internal_settings_patch, INT | DB },
	{ "/.well-known/jwks.json", GH, apx_route_jwks, DB },
	{ "/api/v1/auth/register", APX_M_POST, apx_route_auth_register, DB },
	{ "/api/v1/auth/login", APX_M_POST, apx_route_auth_login, DB },
	{ "/api/v1/auth/refresh", APX_M_POST, apx_route_auth_refresh, DB },
	{ "/api/v1/auth/logout", APX_M_POST, apx_route_auth_logout, AUTH },
	{ "/api/v1/me", GH, apx_route_me, AUTH },
	{ "/api/v1/me/sessions", GH, apx_route_me_sessions, AUTH },
	{ "/api/v1/me/password", APX_M_POST, apx_route_me_password, AUTH },
	{ "/api/v1/me/sessions/{id}", APX_M_DELETE,
	    apx_route_me_session_delete, AUTH },
};

const struct apx_route *
apx_routes(size_t *n)
{
	*n = APX_NELEM(routes);
	return routes;
}
