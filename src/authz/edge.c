#include "config.h"

#include <string.h>
#include <strings.h>

#include "authz/authz.h"
#include "http/router.h"

#define CORS_ALLOW_HEADERS \
	"authorization, content-type, x-csrf-token, x-request-id"
#define CORS_MAX_AGE	"600"

int
apx_authz_is_internal(const struct apx_request *req)
{
	return req->nsegs > 0 && strcmp(req->segs[0], "internal") == 0;
}

int
apx_authz_internal_ok(const struct apx_conf *conf,
    const struct apx_request *req)
{
	const char *h;

	if (conf->internal_secret == NULL)
		return 0;
	if ((h = apx_req_header(req, "x-internal-secret")) == NULL)
		return 0;
	return apx_secret_equal(conf->internal_secret, h, strlen(h));
}

int
apx_cors_is_preflight(const struct apx_request *req)
{
	return req->method == APX_M_OPTIONS &&
	    apx_req_header(req, "origin") != NULL &&
	    apx_req_header(req, "access-control-request-method") != NULL;
}

static int
origin_allowed(const struct apx_conf *conf, const char *origin)
{
	return origin != NULL && apx_strlist_has(&conf->cors_origins, origin);
}

int
apx_cors_preflight(const struct apx_conf *conf, const struct apx_request *req,
    struct apx_response *resp, int methods)
{
	const char *origin = apx_req_header(req, "origin");
	const char *want = apx_req_header(req, "access-control-request-method");
	int rc;

	(void)apx_resp_header(resp, "Vary",
	    "Origin, Access-Control-Request-Method, "
	    "Access-Control-Request-Headers");
	if (!origin_allowed(conf, origin))
		return apx_resp_problem(resp, 403, "cors-origin-refused",
		    "This origin may not call the API from a browser.", NULL);
	if (!(apx_http_method_parse(want) & methods))
		return apx_resp_problem(resp, 403, "cors-method-refused",
		    "The requested method is not allowed on this resource.",
		    NULL);
	resp->status = 204;
	if ((rc = apx_resp_header(resp, "Access-Control-Allow-Origin",
	    origin)) != 0 ||
	    (rc = apx_resp_header(resp, "Access-Control-Allow-Credentials",
	    "true")) != 0 ||
	    (rc = apx_resp_header(resp, "Access-Control-Allow-Methods",
	    apx_router_allow(resp->arena, methods & ~APX_M_OPTIONS))) != 0 ||
	    (rc = apx_resp_header(resp, "Access-Control-Allow-Headers",
	    CORS_ALLOW_HEADERS)) != 0 ||
	    (rc = apx_resp_header(resp, "Access-Control-Max-Age",
	    CORS_MAX_AGE)) != 0)
		return rc;
	return 0;
}

int
apx_cors_decorate(const struct apx_conf *conf, const struct apx_request *req,
    struct apx_response *resp)
{
	const char *origin = apx_req_header(req, "origin");
	int rc;

	if (origin == NULL || conf->cors_origins.n == 0)
		return 0;
	if (apx_resp_header_get(resp, "Vary") == NULL &&
	    (rc = apx_resp_header(resp, "Vary", "Origin")) != 0)
		return rc;
	if (!origin_allowed(conf, origin) ||
	    apx_resp_header_get(resp, "Access-Control-Allow-Origin") != NULL)
		return 0;
	if ((rc = apx_resp_header(resp, "Access-Control-Allow-Origin",
	    origin)) != 0)
		return rc;
	return apx_resp_header(resp, "Access-Control-Allow-Credentials",
	    "true");
}
