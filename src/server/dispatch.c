#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth/authcache.h"
#include "auth/session.h"
#include "authz/authz.h"
#include "authz/perm.h"
#include "core/log.h"
#include "server/dispatch.h"

static void	 security_headers(struct apx_ctx *);
static void	 not_found(struct apx_ctx *);

/*
 * Every answer gets these; handlers never set them. The CSP is the
 * strictest one, unless the answer is a page of the app's own that named
 * its policy (resp->csp); a header a handler set itself is replaced.
 */
static void
security_headers(struct apx_ctx *c)
{
	struct apx_response *r = c->resp;
	char *hsts;

	if (c->conf->hsts_max_age > 0) {
		hsts = apx_arena_printf(r->arena, "max-age=%lld; includeSubDomains",
		    c->conf->hsts_max_age);
		if (hsts != NULL)
			(void)apx_resp_header_set(r,
			    "Strict-Transport-Security", hsts);
	}
	(void)apx_resp_header_set(r, "X-Content-Type-Options", "nosniff");
	(void)apx_resp_header_set(r, "X-Frame-Options", "DENY");
	(void)apx_resp_header_set(r, "Referrer-Policy", "no-referrer");
	(void)apx_resp_header_set(r, "Content-Security-Policy",
	    r->csp != NULL ? r->csp : APX_CSP_DEFAULT);
	(void)apx_resp_header_set(r, "Cross-Origin-Resource-Policy",
	    "same-origin");
}

static void
not_found(struct apx_ctx *c)
{
	/* The same answer whether the path is unknown or guarded. */
	(void)apx_resp_problem(c->resp, 404, "not-found", "No such resource.",
	    NULL);
}

const char *
apx_dispatch_route_label(const struct apx_request *req)
{
	return req->route != NULL ? req->route->pattern : "unmatched";
}

void
apx_dispatch(struct apx_ctx *c, int init_rc)
{
	struct apx_request *req = c->req;
	struct apx_response *resp = c->resp;
	const struct apx_route *routes;
	struct apx_auth auth;
	struct apx_org org;
	size_t n;
	int allow, m, rc;

	(void)apx_resp_header(resp, "X-Request-Id", req->request_id);

	if (init_rc != 0) {
		(void)apx_resp_error(resp, init_rc);
		goto done;
	}
	apx_authz_client_addr(c->conf, req);
	/* The guard comes first: an unknown /internal path and a wrong
	 * secret look the same, preflights included. */
	if (apx_authz_is_internal(req) &&
	    !apx_authz_internal_ok(c->conf, req)) {
		not_found(c);
		goto done;
	}
	routes = apx_routes(&n);
	m = apx_router_match(routes, n, req, req->method, &allow);
	if (apx_cors_is_preflight(req) && m != APX_MATCH_NOPATH &&
	    !apx_authz_is_internal(req)) {
		req->route = NULL;
		(void)apx_cors_preflight(c->conf, req, resp, allow);
		goto done;
	}
	if (m == APX_MATCH_NOPATH) {
		not_found(c);
		goto done;
	}
	if (m == APX_MATCH_NOMETHOD) {
		(void)apx_resp_problem(resp, 405, "method-not-allowed",
		    "This method is not allowed on this resource.", NULL);
		(void)apx_resp_header(resp, "Allow",
		    apx_router_allow(resp->arena, allow));
		goto done;
	}
	/* The route's permission row, looked up once for auth and authz. */
	c->perm = apx_perm_find(req->route->perm);
	if (req->route->flags & APX_ROUTE_AUTH) {
		/* Who is calling, then may they: the permission table. */
		c->auth = &auth;
		if ((rc = apx_session_authenticate(c, &auth)) != 0 ||
		    (rc = apx_authz_route(c, &org)) != 0) {
			/* 401-404 are set; other codes are server trouble. */
			if (rc != APX_EUNAUTH) {
				apx_resp_reset(resp);
				(void)apx_resp_header(resp, "X-Request-Id",
				    req->request_id);
				(void)apx_resp_error(resp, rc);
			}
			goto done;
		}
	}
	if ((rc = req->route->handler(c)) < 0) {
		/* Drop whatever the handler had set, keep the request id. */
		apx_resp_reset(resp);
		(void)apx_resp_header(resp, "X-Request-Id", req->request_id);
		if (rc != APX_EDBUNAVAIL && rc != APX_EMIGRATION)
			apx_log_error("rid=%s %s failed: %s", req->request_id,
			    req->route->pattern, apx_strerror(rc));
		(void)apx_resp_error(resp, rc);
	}
done:
	/* before the answer goes: what this request revoked is felt by the
	 * next request, on any worker of this host (auth/authcache.h) */
	apx_authcache_after(c->db);
	c->auth = NULL;
	c->org = NULL;
	c->perm = NULL;
	security_headers(c);
	if (!apx_authz_is_internal(req))
		(void)apx_cors_decorate(c->conf, req, resp);
}
