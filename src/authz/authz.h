/*
 * Authorisation: at the edge CORS for configured origins and the
 * shared-secret guard of /internal/... (edge.c); for every authenticated
 * route the permission table (perm.c) applied by apx_authz_route (authz.c).
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

struct apx_ctx;
struct apx_org;
struct apx_audit_entry;

/*
 * Apply the route's permission row to the authenticated caller. 0 when
 * allowed (for organisation routes ORG is filled and c->org set); else the
 * problem answer (401/402/403/404) is set and APX_EUNAUTH returned; other
 * negative codes are server trouble.
 */
int	 apx_authz_route(struct apx_ctx *, struct apx_org *);
/*
 * May the caller of an org route rotate the API key made by CREATOR (and
 * so receive its secret)? 1 for its creator or an owner, else 0.
 */
int	 apx_authz_key_rotator(const struct apx_ctx *, int64_t);
/*
 * An audit entry for ACTION on TARGET by the caller of C, in the log of
 * the request's org (or the platform log when there is none).
 */
void	 apx_authz_audit(const struct apx_ctx *, struct apx_audit_entry *,
	    const char *, const char *);
/* The client address: REMOTE_ADDR or, behind trusted proxies, the
 * right-most untrusted X-Forwarded-For entry. Replaces req->remote_addr. */
void	 apx_authz_client_addr(const struct apx_conf *, struct apx_request *);

#endif
