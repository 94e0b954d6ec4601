/*
 * Route handlers: thin. Parse, call the area's function, answer. The
 * table in routes.c is the whole API surface of this binary.
 */
#ifndef APX_ROUTES_ROUTES_H
#define APX_ROUTES_ROUTES_H

#include <stdint.h>

#include <libpq-fe.h>

#include "core/conf.h"
#include "http/http.h"
#include "http/response.h"
#include "http/router.h"

#include "http/ctx.h"
#include "store/identity.h"

const struct apx_route *apx_routes(size_t *);
/*
 * Body and path helpers (body.c). On refusal the problem answer (422
 * naming the field, or 400/415 for the body) is set and a negative code
 * returned; the handler then returns 0.
 */
int	 apx_route_json_body(struct apx_ctx *, json_t **);
/* A string field of at most MAX bytes; absent and !REQUIRED: *OUT NULL. */
int	 apx_route_string(struct apx_ctx *, json_t *, const char *, size_t,
	    int, const char **, size_t *);
/* A required display name of at most MAX characters (not bytes), with
 * no control characters. */
int	 apx_route_name(struct apx_ctx *, json_t *, const char *, size_t,
	    const char **);
/* A positive integer path parameter; APX_ENOTFOUND (404) otherwise. */
int	 apx_route_id(struct apx_ctx *, const char *, int64_t *);

/* ?limit= (1..MAX, default 50 or MAX) and ?cursor= (an id): 0, or the
 * 422 is set and APX_EINVAL returned. */
int	 apx_route_page(struct apx_ctx *, int, int *, int64_t *);
/* A query parameter of 1..MAX characters without control characters
 * (absent and !REQUIRED: *OUT NULL); else the 422 is set. */
int	 apx_route_query_text(struct apx_ctx *, const char *, size_t, int,
	    const char **);
/* The org's tenant database (after authz only). */
int	 apx_route_tenant_db(struct apx_ctx *, struct apx_db **);
/*
 * Answer STATUS with the JSON text of RES (a store's apx_db_json_res
 * answer) as it is, without a parse (apx_resp_json_text); RES is cleared.
 */
int	 apx_route_json_res(struct apx_ctx *, int, PGresult *);
struct apx_jcol;
/*
 * Answer 200 {"KEY":[...]} with the rows of RES (a store's list) as COLS
 * say (apx_db_rows_json); RES is cleared. With PAGE > 0, RES holds up to
 * PAGE + 1 rows, newest first: PAGE are shown, and "next_cursor" follows,
 * the first column (the id) of the last one shown as a string when there
 * was one more row, else null.
 */
int	 apx_route_rows_res(struct apx_ctx *, const char *, PGresult *,
	    const struct apx_jcol *, size_t, int);

struct apx_audit_entry;
/*
 * End a change in tenant database T (begun by the caller) audited as E
 * in the org's log: the entry is written first, and when it cannot be
 * the change is rolled back.
 */
int	 apx_route_tenant_commit(struct apx_ctx *, struct apx_db *,
	    struct apx_audit_entry *, json_t *, json_t *);
/* 404 "<KIND>-not-found" for a row of the tenant database. */
int	 apx_route_tenant_missing(struct apx_ctx *, const char *);
/* DELETE of row {id} of KIND ("upload", "forecast") of the workspace with
 * DEL, audited as "<KIND>.delete" with the row as before: 204. */
int	 apx_route_tenant_delete(struct apx_ctx *, const char *,
	    int (*)(struct apx_db *, int64_t, int64_t, json_t **));
/* PATCH of the platform settings audited as E (internal.c). */
int	 apx_route_settings_patch(struct apx_ctx *, struct apx_audit_entry *);
/* GET of audit log LOG with the query's filters, page or JSON Lines. */
int	 apx_route_audit_log(struct apx_ctx *, const char *);

/*
 * Accounts (auth.c, account.c). The client's network: its IPv4 address or
 * IPv6 /64 (throttles, known networks).
 */
const char *apx_route_client_net(struct apx_ctx *);
/* 429 too-many-attempts with Retry-After RETRY seconds. */
int	 apx_route_too_many(struct apx_ctx *, int);
/* Count one attempt of SCOPE for address ONE and the client's network,
 * within LIMIT_ONE / LIMIT_NET an hour; over: the 429 is set, *HIT 1. */
int	 apx_route_attempt(struct apx_ctx *, const char *, const char *, int,
	    int, int *);
/* Queue mail KIND to user U with VARS (borrowed, may be NULL; "name" is
 * added). */
int	 apx_route_mail_user(struct apx_ctx *, const struct apx_user *,
	    const char *, json_t *);
/* A new verification link for U, mailed. */
int	 apx_route_mail_verify(struct apx_ctx *, const struct apx_user *);
/* A security notice KIND to U with VARS (stolen, may be NULL; "when" and
 * "addr" are added); a notice that cannot be queued is logged, never
 * fatal. */
void	 apx_route_notify(struct apx_ctx *, const struct apx_user *,
	    const char *, json_t *);
/* The same notice to every owner of ORG (VARS stolen). */
void	 apx_route_notify_owners(struct apx_ctx *, int64_t, const char *,
	    json_t *);
/* U signed in by METHOD: the network and device are noted, and the owner
 * told when either is new (not on the account's first sign-in). */
void	 apx_route_signed_in(struct apx_ctx *, const struct apx_user *,
	    const char *);

/*
 * Login throttling (auth.c), KEY being "<normalised email>|<network>":
 * over a limit, the 429 is set and *HIT is 1. A failure of account EN
 * counts per account and network, per network and per account.
 */
int	 apx_route_throttled(struct apx_ctx *, const char *, int *);
int	 apx_route_login_failed(struct apx_ctx *, const char *, const char *);
/*
 * The signed-in user's password PW (LEN bytes; field FIELD of the body),
 * throttled like a login; an account without a password needs a sign-in
 * of the last 10 minutes instead. 0 when right; otherwise the answer
 * (422 or 429) is set and APX_EINVAL returned, or another error.
 */
int	 apx_route_confirm_password(struct apx_ctx *, const char *, size_t,
	    const char *);

/* The route table is well formed and every route has a permission. */
int	 apx_routes_check(char *, size_t);

int	 apx_route_privacy_export(struct apx_ctx *);
int	 apx_route_privacy_erasure(struct apx_ctx *);
int	 apx_route_me_export(struct apx_ctx *);
int	 apx_route_me_delete(struct apx_ctx *);
int	 apx_route_retention_get(struct apx_ctx *);
int	 apx_route_retention_put(struct apx_ctx *);
int	 apx_route_internal_retention_run(struct apx_ctx *);
int	 apx_route_internal_pii_run(struct apx_ctx *);
int	 apx_route_uploads_list(struct apx_ctx *);
int	 apx_route_uploads_create(struct apx_ctx *);
int	 apx_route_upload_get(struct apx_ctx *);
int	 apx_route_upload_delete(struct apx_ctx *);
int	 apx_route_upload_content(struct apx_ctx *);
int	 apx_route_forecasts_list(struct apx_ctx *);
int	 apx_route_forecasts_create(struct apx_ctx *);
int	 apx_route_forecast_get(struct apx_ctx *);
int	 apx_route_forecast_delete(struct apx_ctx *);
int	 apx_route_healthz(struct apx_ctx *);
int	 apx_route_readyz(struct apx_ctx *);
int	 apx_route_security_txt(struct apx_ctx *);
/* disclosure.c: the vulnerability disclosure page */
int	 apx_route_security_disclosure(struct apx_ctx *);
/* That page for configuration CF, appended to OUT (HTML, every configured
 * value escaped). */
int	 apx_disclosure_render(const struct apx_conf *, struct apx_buf *);
int	 apx_route_internal_metrics(struct apx_ctx *);
int	 apx_route_internal_settings_get(struct apx_ctx *);
int	 apx_route_internal_settings_patch(struct apx_ctx *);
int	 apx_route_jwks(struct apx_ctx *);
int	 apx_route_client_config(struct apx_ctx *);
int	 apx_route_openapi(struct apx_ctx *);
int	 apx_route_auth_register(struct apx_ctx *);
int	 apx_route_auth_login(struct apx_ctx *);
int	 apx_route_auth_refresh(struct apx_ctx *);
int	 apx_route_auth_logout(struct apx_ctx *);
int	 apx_route_me(struct apx_ctx *);
int	 apx_route_me_sessions(struct apx_ctx *);
int	 apx_route_me_session_delete(struct apx_ctx *);
int	 apx_route_me_password(struct apx_ctx *);
/* mfa.c */
int	 apx_route_me_mfa_get(struct apx_ctx *);
int	 apx_route_me_mfa_start(struct apx_ctx *);
int	 apx_route_me_mfa_confirm(struct apx_ctx *);
int	 apx_route_me_mfa_delete(struct apx_ctx *);
int	 apx_route_me_mfa_recovery(struct apx_ctx *);
int	 apx_route_auth_mfa(struct apx_ctx *);

int	 apx_route_orgs_list(struct apx_ctx *);
int	 apx_route_orgs_create(struct apx_ctx *);
int	 apx_route_invitation_accept(struct apx_ctx *);
int	 apx_route_org_get(struct apx_ctx *);
int	 apx_route_org_patch(struct apx_ctx *);
int	 apx_route_org_settings_get(struct apx_ctx *);
int	 apx_route_org_settings_patch(struct apx_ctx *);
int	 apx_route_members_list(struct apx_ctx *);
int	 apx_route_member_patch(struct apx_ctx *);
int	 apx_route_member_delete(struct apx_ctx *);
int	 apx_route_membership_leave(struct apx_ctx *);
int	 apx_route_invitations_list(struct apx_ctx *);
int	 apx_route_invitations_create(struct apx_ctx *);
int	 apx_route_invitation_revoke(struct apx_ctx *);
int	 apx_route_invitation_resend(struct apx_ctx *);
int	 apx_route_verify_email(struct apx_ctx *);
int	 apx_route_me_verify_email(struct apx_ctx *);
int	 apx_route_password_reset(struct apx_ctx *);
int	 apx_route_password_reset_confirm(struct apx_ctx *);
int	 apx_route_workspaces_list(struct apx_ctx *);
int	 apx_route_workspaces_create(struct apx_ctx *);
int	 apx_route_workspace_get(struct apx_ctx *);
int	 apx_route_workspace_patch(struct apx_ctx *);
int	 apx_route_workspace_delete(struct apx_ctx *);
int	 apx_route_ipallow_get(struct apx_ctx *);
int	 apx_route_ipallow_put(struct apx_ctx *);
int	 apx_route_apikeys_list(struct apx_ctx *);
int	 apx_route_apikeys_create(struct apx_ctx *);
int	 apx_route_apikey_get(struct apx_ctx *);
int	 apx_route_apikey_revoke(struct apx_ctx *);
int	 apx_route_apikey_rotate(struct apx_ctx *);
int	 apx_route_org_audit_log(struct apx_ctx *);
int	 apx_route_admin_orgs(struct apx_ctx *);
int	 apx_route_admin_org_get(struct apx_ctx *);
int	 apx_route_admin_org_patch(struct apx_ctx *);
int	 apx_route_admin_users(struct apx_ctx *);
int	 apx_route_admin_settings_get(struct apx_ctx *);
int	 apx_route_admin_settings_patch(struct apx_ctx *);
int	 apx_route_admin_impersonate(struct apx_ctx *);
int	 apx_route_admin_impersonate_end(struct apx_ctx *);
int	 apx_route_admin_audit_log(struct apx_ctx *);
/* compliance.c */
int	 apx_route_admin_compliance_list(struct apx_ctx *);
int	 apx_route_admin_compliance_create(struct apx_ctx *);
int	 apx_route_admin_compliance_get(struct apx_ctx *);
int	 apx_route_admin_compliance_patch(struct apx_ctx *);
int	 apx_route_admin_compliance_delete(struct apx_ctx *);
int	 apx_route_connectors_list(struct apx_ctx *);
int	 apx_route_domains_list(struct apx_ctx *);
int	 apx_route_domains_create(struct apx_ctx *);
int	 apx_route_domain_verify(struct apx_ctx *);
int	 apx_route_domain_delete(struct apx_ctx *);
/* signin.c */
int	 apx_route_oauth_start(struct apx_ctx *);
int	 apx_route_oauth_callback(struct apx_ctx *);
int	 apx_route_sso_start(struct apx_ctx *);
int	 apx_route_sso_callback(struct apx_ctx *);
int	 apx_route_sso_lookup(struct apx_ctx *);
int	 apx_route_saml_acs(struct apx_ctx *);
int	 apx_route_saml_metadata(struct apx_ctx *);
int	 apx_route_me_identities(struct apx_ctx *);
int	 apx_route_me_identity_link(struct apx_ctx *);
int	 apx_route_me_identity_delete(struct apx_ctx *);
/* sso.c */
int	 apx_route_sso_get(struct apx_ctx *);
int	 apx_route_sso_put(struct apx_ctx *);
int	 apx_route_sso_delete(struct apx_ctx *);
int	 apx_route_connector_callback(struct apx_ctx *);
int	 apx_route_connector_config_get(struct apx_ctx *);
int	 apx_route_connector_config_put(struct apx_ctx *);
int	 apx_route_connector_connect(struct apx_ctx *);
int	 apx_route_connection_patch(struct apx_ctx *);
int	 apx_route_connection_sync(struct apx_ctx *);
int	 apx_route_webhook(struct apx_ctx *);
int	 apx_route_connections_list(struct apx_ctx *);
int	 apx_route_connection_get(struct apx_ctx *);
int	 apx_route_connection_delete(struct apx_ctx *);
int	 apx_route_connection_check(struct apx_ctx *);

#endif
