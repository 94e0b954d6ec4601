#include "config.h"

#include <stdio.h>

#include "authz/perm.h"
#include "routes/routes.h"

#define GH	(APX_M_GET | APX_M_HEAD)
#define GET	APX_M_GET
#define POST	APX_M_POST
#define PUT	APX_M_PUT
#define PATCH	APX_M_PATCH
#define DEL	APX_M_DELETE
#define INT	APX_ROUTE_INTERNAL
#define DB	APX_ROUTE_DB
#define AUTH	(APX_ROUTE_AUTH | APX_ROUTE_DB)
#define ORGS	"/api/v1/orgs/{org}"
#define ADMIN	"/admin/api"

/*
 * The whole API surface of this binary. The last column names the row of
 * the permission table (src/authz/perm.c) that the router applies before
 * the handler runs.
 */
static const struct apx_route routes[] = {
	{ "/healthz", GH, apx_route_healthz, 0, "public" },
	{ "/readyz", GH, apx_route_readyz, DB, "public" },
	{ "/.well-known/security.txt", GH, apx_route_security_txt, 0,
	    "public" },
	{ "/.well-known/jwks.json", GH, apx_route_jwks, DB, "public" },
	{ "/api/v1/openapi.json", GH, apx_route_openapi, 0, "public" },
	{ "/internal/metrics", GET, apx_route_internal_metrics, INT,
	    "internal" },
	{ "/internal/settings", GET, apx_route_internal_settings_get,
	    INT | DB, "internal" },
	{ "/internal/settings", PATCH, apx_route_internal_settings_patch,
	    INT | DB, "internal" },
	{ "/internal/retention/run", POST, apx_route_internal_retention_run,
	    INT | DB, "internal" },
	{ "/internal/pii/run", POST, apx_route_internal_pii_run, INT | DB,
	    "internal" },
	{ "/api/v1/auth/register", POST, apx_route_auth_register, DB,
	    "public" },
	{ "/api/v1/auth/login", POST, apx_route_auth_login, DB, "public" },
	{ "/api/v1/auth/refresh", POST, apx_route_auth_refresh, DB, "public" },
	{ "/api/v1/auth/logout", POST, apx_route_auth_logout, AUTH, "user" },
	{ "/api/v1/auth/oauth/{provider}/start", GET, apx_route_oauth_start,
	    DB, "public" },
	{ "/api/v1/auth/oauth/{provider}/callback", GET,
	    apx_route_oauth_callback, DB, "public" },
	{ "/api/v1/auth/sso/lookup", POST, apx_route_sso_lookup, DB,
	    "public" },
	{ "/api/v1/auth/sso/{org}/start", GET, apx_route_sso_start, DB,
	    "public" },
	{ "/api/v1/auth/sso/{org}/oidc/callback", GET, apx_route_sso_callback,
	    DB, "public" },
	{ "/api/v1/auth/sso/{org}/saml/metadata", GET, apx_route_saml_metadata,
	    DB, "public" },
	{ "/api/v1/auth/sso/{org}/saml/acs", POST, apx_route_saml_acs, DB,
	    "public" },
	{ "/api/v1/me", GH, apx_route_me, AUTH, "user" },
	{ "/api/v1/me/identities", GH, apx_route_me_identities, AUTH, "user" },
	{ "/api/v1/me/identities", POST, apx_route_me_identity_link, AUTH,
	    "user" },
	{ "/api/v1/me/identities/{id}", DEL, apx_route_me_identity_delete,
	    AUTH, "user" },
	{ "/api/v1/me", DEL, apx_route_me_delete, AUTH, "user" },
	{ "/api/v1/me/export", GH, apx_route_me_export, AUTH, "user" },
	{ "/api/v1/me/sessions", GH, apx_route_me_sessions, AUTH, "user" },
	{ "/api/v1/me/password", POST, apx_route_me_password, AUTH, "user" },
	{ "/api/v1/me/sessions/{id}", DEL, apx_route_me_session_delete, AUTH,
	    "user" },
	{ "/api/v1/orgs", GH, apx_route_orgs_list, AUTH, "user" },
	{ "/api/v1/orgs", POST, apx_route_orgs_create, AUTH, "user" },
	{ "/api/v1/invitations/accept", POST, apx_route_invitation_accept,
	    AUTH, "user" },
	{ "/api/v1/connectors", GH, apx_route_connectors_list, AUTH, "user" },
	{ "/webhooks/{connector}", POST, apx_route_webhook, DB, "public" },
	{ "/api/v1/connectors/{name}/callback", GET,
	    apx_route_connector_callback, DB, "public" },

	{ ORGS, GH, apx_route_org_get, AUTH, "org.read" },
	{ ORGS, PATCH, apx_route_org_patch, AUTH, "org.write" },
	{ ORGS "/settings", GH, apx_route_org_settings_get, AUTH,
	    "settings.read" },
	{ ORGS "/settings", PATCH, apx_route_org_settings_patch, AUTH,
	    "settings.write" },
	{ ORGS "/members", GH, apx_route_members_list, AUTH, "members.read" },
	{ ORGS "/members/{user}", PATCH, apx_route_member_patch, AUTH,
	    "members.write" },
	{ ORGS "/members/{user}", DEL, apx_route_member_delete, AUTH,
	    "members.write" },
	{ ORGS "/membership", DEL, apx_route_membership_leave, AUTH,
	    "membership.leave" },
	{ ORGS "/invitations", GH, apx_route_invitations_list, AUTH,
	    "invitations.read" },
	{ ORGS "/invitations", POST, apx_route_invitations_create, AUTH,
	    "invitations.write" },
	{ ORGS "/invitations/{id}", DEL, apx_route_invitation_revoke, AUTH,
	    "invitations.write" },
	{ ORGS "/workspaces", GH, apx_route_workspaces_list, AUTH,
	    "workspaces.read" },
	{ ORGS "/workspaces", POST, apx_route_workspaces_create, AUTH,
	    "workspaces.write" },
	{ ORGS "/workspaces/{ws}", GH, apx_route_workspace_get, AUTH,
	    "workspaces.read" },
	{ ORGS "/workspaces/{ws}", PATCH, apx_route_workspace_patch, AUTH,
	    "workspaces.write" },
	{ ORGS "/workspaces/{ws}", DEL, apx_route_workspace_delete, AUTH,
	    "workspaces.write" },
	{ ORGS "/workspaces/{ws}/ip-allowlist", GH, apx_route_ipallow_get,
	    AUTH, "ipallow.read" },
	{ ORGS "/workspaces/{ws}/ip-allowlist", PUT, apx_route_ipallow_put,
	    AUTH, "ipallow.write" },
	{ ORGS "/api-keys", GH, apx_route_apikeys_list, AUTH, "apikeys.read" },
	{ ORGS "/api-keys", POST, apx_route_apikeys_create, AUTH,
	    "apikeys.write" },
	{ ORGS "/api-keys/{id}", GH, apx_route_apikey_get, AUTH,
	    "apikeys.read" },
	{ ORGS "/api-keys/{id}", DEL, apx_route_apikey_revoke, AUTH,
	    "apikeys.write" },
	{ ORGS "/api-keys/{id}/rotate", POST, apx_route_apikey_rotate, AUTH,
	    "apikeys.write" },
	{ ORGS "/audit-log", GH, apx_route_org_audit_log, AUTH, "audit.read" },
	{ ORGS "/privacy/export", POST, apx_route_privacy_export, AUTH,
	    "privacy.export" },
	{ ORGS "/privacy/erasure", POST, apx_route_privacy_erasure, AUTH,
	    "privacy.erase" },
	{ ORGS "/retention", GH, apx_route_retention_get, AUTH,
	    "retention.read" },
	{ ORGS "/retention", PUT, apx_route_retention_put, AUTH,
	    "retention.write" },
	{ ORGS "/domains", GH, apx_route_domains_list, AUTH, "domains.read" },
	{ ORGS "/domains", POST, apx_route_domains_create, AUTH,
	    "domains.write" },
	{ ORGS "/domains/{id}/verify", POST, apx_route_domain_verify, AUTH,
	    "domains.write" },
	{ ORGS "/domains/{id}", DEL, apx_route_domain_delete, AUTH,
	    "domains.write" },
	{ ORGS "/sso", GH, apx_route_sso_get, AUTH, "sso.read" },
	{ ORGS "/sso", PUT, apx_route_sso_put, AUTH, "sso.write" },
	{ ORGS "/sso", DEL, apx_route_sso_delete, AUTH, "sso.write" },
	{ ORGS "/connectors/{name}/config", GH, apx_route_connector_config_get,
	    AUTH, "connectors.read" },
	{ ORGS "/connectors/{name}/config", PUT,
	    apx_route_connector_config_put, AUTH, "connectors.write" },
	{ ORGS "/connectors/{name}/connect", POST, apx_route_connector_connect,
	    AUTH, "connectors.connect" },
	{ ORGS "/connections", GH, apx_route_connections_list, AUTH,
	    "connectors.read" },
	{ ORGS "/connections/{id}", GH, apx_route_connection_get, AUTH,
	    "connectors.read" },
	{ ORGS "/connections/{id}", DEL, apx_route_connection_delete, AUTH,
	    "connectors.write" },
	{ ORGS "/connections/{id}", PATCH, apx_route_connection_patch, AUTH,
	    "connectors.write" },
	{ ORGS "/connections/{id}/sync", POST, apx_route_connection_sync,
	    AUTH, "connectors.write" },
	{ ORGS "/connections/{id}/check", POST, apx_route_connection_check,
	    AUTH, "connectors.write" },
	{ ORGS "/workspaces/{ws}/uploads", GH, apx_route_uploads_list, AUTH,
	    "uploads.read" },
	{ ORGS "/workspaces/{ws}/uploads", POST, apx_route_uploads_create,
	    AUTH, "uploads.write" },
	{ ORGS "/workspaces/{ws}/uploads/{id}", GH, apx_route_upload_get,
	    AUTH, "uploads.read" },
	{ ORGS "/workspaces/{ws}/uploads/{id}", DEL, apx_route_upload_delete,
	    AUTH, "uploads.write" },
	{ ORGS "/workspaces/{ws}/uploads/{id}/content", GH,
	    apx_route_upload_content, AUTH, "uploads.read" },
	{ ORGS "/workspaces/{ws}/forecasts", GH, apx_route_forecasts_list,
	    AUTH, "forecasts.read" },
	{ ORGS "/workspaces/{ws}/forecasts", POST, apx_route_forecasts_create,
	    AUTH, "forecasts.write" },
	{ ORGS "/workspaces/{ws}/forecasts/{id}", GH, apx_route_forecast_get,
	    AUTH, "forecasts.read" },
	{ ORGS "/workspaces/{ws}/forecasts/{id}", DEL,
	    apx_route_forecast_delete, AUTH, "forecasts.write" },

	{ ADMIN "/orgs", GH, apx_route_admin_orgs, AUTH, "superuser" },
	{ ADMIN "/orgs/{org}", GH, apx_route_admin_org_get, AUTH,
	    "superuser" },
	{ ADMIN "/orgs/{org}", PATCH, apx_route_admin_org_patch, AUTH,
	    "superuser" },
	{ ADMIN "/users", GH, apx_route_admin_users, AUTH, "superuser" },
	{ ADMIN "/settings", GH, apx_route_admin_settings_get, AUTH,
	    "superuser" },
	{ ADMIN "/settings", PATCH, apx_route_admin_settings_patch, AUTH,
	    "superuser" },
	{ ADMIN "/impersonate", POST, apx_route_admin_impersonate, AUTH,
	    "superuser" },
	{ ADMIN "/impersonate/{id}", DEL, apx_route_admin_impersonate_end,
	    AUTH, "superuser" },
	{ ADMIN "/audit-log", GH, apx_route_admin_audit_log, AUTH,
	    "superuser" },
};

const struct apx_route *
apx_routes(size_t *n)
{
	*n = APX_NELEM(routes);
	return routes;
}

int
apx_routes_check(char *err, size_t len)
{
	int rc;

	if ((rc = apx_router_check(routes, APX_NELEM(routes), err, len)) != 0)
		return rc;
	return apx_perm_check_routes(routes, APX_NELEM(routes), err, len);
}
