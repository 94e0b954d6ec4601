/*
 * GET /api/v1/openapi.json: the OpenAPI 3.1 document of this API
 * (docs/openapi.json), embedded at build time and served as it is.
 */
#include "config.h"

#include "routes/routes.h"

#include "routes/openapi_json.inc"

int
apx_route_openapi(struct apx_ctx *c)
{
	int rc;

	if ((rc = apx_resp_text(c->resp, 200, "application/json",
		 (const char *)openapi_json, sizeof(openapi_json))) != 0)
		return rc;
	return apx_resp_header(
	    c->resp, "Cache-Control", "public, max-age=3600");
}
