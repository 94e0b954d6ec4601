#include "config.h"

#include "routes/routes.h"

#define GH	(APX_M_GET | APX_M_HEAD)
#define INT	APX_ROUTE_INTERNAL
#define DB	APX_ROUTE_DB

static const struct apx_route routes[] = {
	{ "/healthz", GH, apx_route_healthz, 0 },
	{ "/readyz", GH, apx_route_readyz, DB },
	{ "/.well-known/security.txt", GH, apx_route_security_txt, 0 },
	{ "/internal/metrics", APX_M_GET, apx_route_internal_metrics, INT },
	{ "/internal/settings", APX_M_GET, apx_route_internal_settings_get,
	    INT | DB },
	{ "/internal/settings", APX_M_PATCH,
	    apx_route_internal_settings_patch, INT | DB },
};

const struct apx_route *
apx_routes(size_t *n)
{
	*n = APX_NELEM(routes);
	return routes;
}
