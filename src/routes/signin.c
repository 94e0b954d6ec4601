/*
 * Sign-in through OpenID providers (src/auth/signin.c does the work):
 *   GET  /api/v1/auth/oauth/{provider}/start | callback   Google, Microsoft
 *   GET  /api/v1/auth/sso/{org}/start, …/oidc/callback     an org's IdP
 *   POST /api/v1/auth/sso/lookup {email}                   which SSO serves it
 *   GET|POST /api/v1/me/identities, DELETE …/{id}           linked sign-ins
 */
#include "config.h"

#include <string.h>

#include "auth/account.h"
#include "auth/session.h"
#include "auth/signin.h"
#include "authz/authz.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/sso.h"

static int	 start(struct apx_ctx *, struct apx_signin *);

/* 303 to the provider, with the browser-binding cookie set. */
static int
start(struct apx_ctx *c, struct apx_signin *s)
{
	const char *url = NULL;
	int rc;

	rc = apx_signin_begin(c, s, 0, apx_req_query(c->req, "return_to"),
	    apx_req_query(c->req, "login_hint"), &url);
	if (rc == APX_EINVAL)
		return 0;	/* answered */
	if (rc != 0)
		return rc;
	if ((rc = apx_resp_header_set(c->resp, "Location", url)) != 0)
		return rc;
	c->resp->no_store = 1;
	c->resp->status = 303;
	return 0;
}

int
apx_route_oauth_start(struct apx_ctx *c)
{
	struct apx_signin s;
	int rc;

	if (apx_signin_provider(c, apx_req_param(c->req, "provider"), &s) != 0)
		return 0;
	rc = start(c, &s);
	apx_signin_clear(&s);
	return rc;
}

int
apx_route_oauth_callback(struct apx_ctx *c)
{
	struct apx_signin s;
	int rc;

	if (apx_signin_provider(c, apx_req_param(c->req, "provider"), &s) != 0)
		return 0;
	rc = apx_signin_callback(c, &s);
	apx_signin_clear(&s);
	return rc;
}

/* The org's SSO when it speaks PROTOCOL (-1: either): 0, or the 404 is
 * answered and APX_EINVAL returned. */
static int
org_sso(struct apx_ctx *c, int saml, struct apx_signin *s)
{
	int rc;

	if ((rc = apx_signin_org(c, apx_req_param(c->req, "org"), s)) != 0)
		return rc;
	if (saml >= 0 && s->saml != saml) {
		apx_signin_clear(s);
		(void)apx_resp_problem(c->resp, 404, "sso-not-configured",
		    "This organisation does not sign in through SSO of that "
		    "kind.", NULL);
		return APX_EINVAL;
	}
	return 0;
}

int
apx_route_sso_start(struct apx_ctx *c)
{
	struct apx_signin s;
	const char *url = NULL;
	int rc;

	if ((rc = org_sso(c, -1, &s)) != 0)
		return rc == APX_EINVAL ? 0 : rc;
	if (!s.saml) {
		rc = start(c, &s);
		apx_signin_clear(&s);
		return rc;
	}
	rc = apx_signin_saml_begin(c, &s, 0, apx_req_query(c->req,
	    "return_to"), &url);
	apx_signin_clear(&s);
	if (rc == APX_EINVAL)
		return 0;
	if (rc != 0)
		return rc;
	if ((rc = apx_resp_header_set(c->resp, "Location", url)) != 0)
		return rc;
	c->resp->no_store = 1;
	c->resp->status = 303;
	return 0;
}

int
apx_route_sso_callback(struct apx_ctx *c)
{
	struct apx_signin s;
	int rc;

	if ((rc = org_sso(c, 0, &s)) != 0)
		return rc == APX_EINVAL ? 0 : rc;
	rc = apx_signin_callback(c, &s);
	apx_signin_clear(&s);
	return rc;
}

int
apx_route_saml_acs(struct apx_ctx *c)
{
	struct apx_signin s;
	int rc;

	if ((rc = org_sso(c, 1, &s)) != 0)
		return rc == APX_EINVAL ? 0 : rc;
	rc = apx_signin_saml_acs(c, &s);
	apx_signin_clear(&s);
	return rc;
}

int
apx_route_saml_metadata(struct apx_ctx *c)
{
	struct apx_signin s;
	int rc;

	if ((rc = org_sso(c, 1, &s)) != 0)
		return rc == APX_EINVAL ? 0 : rc;
	rc = apx_signin_saml_metadata(c, &s);
	apx_signin_clear(&s);
	return rc;
}

/*
 * POST /api/v1/auth/sso/lookup {email}: the login page asks whether an
 * org's SSO serves this address (the org holding its domain verified,
 * with SSO on). It says nothing about accounts.
 */
int
apx_route_sso_lookup(struct apx_ctx *c)
{
	const char *email, *en, *at;
	json_t *body, *o = NULL;
	int rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "email", APX_EMAIL_MAX, 1, &email,
	    NULL) != 0) {
		json_decref(body);
		return 0;
	}
	en = apx_account_email_norm(c->req->arena, email);
	json_decref(body);
	if (en == NULL || (at = strrchr(en, '@')) == NULL)
		return apx_resp_problem(c->resp, 422, "invalid-field",
		    "This is not an email address.", "email");
	if ((rc = apx_sso_for_domain(c->db, at + 1, &o)) != 0)
		return rc;
	if (o == NULL)
		return apx_resp_json(c->resp, 200, json_pack("{s:b}", "sso",
		    0));
	rc = apx_resp_json(c->resp, 200, json_pack("{s:b,s:O,s:O,s:O,s:O,"
	    "s:s++}", "sso", 1, "org", json_object_get(o, "slug"), "name",
	    json_object_get(o, "name"), "protocol", json_object_get(o,
	    "protocol"), "enforced", json_object_get(o, "enforce"),
	    "start_url", "/api/v1/auth/sso/", json_string_value(
	    json_object_get(o, "slug")), "/start"));
	json_decref(o);
	return rc;
}

int
apx_route_me_identities(struct apx_ctx *c)
{
	json_t *l;
	int rc;

	if ((rc = apx_identity_list(c->db, c->auth->uid, &l)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, l);
}

/*
 * POST /api/v1/me/identities {provider: google|microsoft|sso, org?}: the
 * signed-in user links another way to sign in. Answers the provider's URL
 * (the page goes there); the callback links the identity to this user.
 */
int
apx_route_me_identity_link(struct apx_ctx *c)
{
	struct apx_signin s;
	const char *prov, *org = NULL, *url = NULL;
	json_t *body;
	int rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "provider", 16, 1, &prov, NULL) != 0 ||
	    (json_object_get(body, "org") != NULL && apx_route_string(c, body,
	    "org", 64, 1, &org, NULL) != 0)) {
		json_decref(body);
		return 0;
	}
	if (strcmp(prov, "sso") == 0) {
		if (org == NULL) {
			json_decref(body);
			return apx_resp_problem(c->resp, 422, "invalid-field",
			    "Name the org whose SSO to link.", "org");
		}
		rc = apx_signin_org(c, org, &s);
	} else if (strcmp(prov, "google") == 0 ||
	    strcmp(prov, "microsoft") == 0)
		rc = apx_signin_provider(c, prov, &s);
	else {
		json_decref(body);
		return apx_resp_problem(c->resp, 422, "invalid-field",
		    "provider is google, microsoft or sso.", "provider");
	}
	json_decref(body);
	if (rc != 0)
		return rc == APX_EINVAL ? 0 : rc;
	rc = s.saml ? apx_signin_saml_begin(c, &s, c->auth->uid, NULL, &url) :
	    apx_signin_begin(c, &s, c->auth->uid, NULL, NULL, &url);
	if (rc == 0) {
		rc = apx_resp_json(c->resp, 200, json_pack("{s:s,s:s,s:i}",
		    "provider", s.provider, "authorize_url", url, "expires_in",
		    600));
		c->resp->no_store = 1;
	} else if (rc == APX_EINVAL)
		rc = 0;
	apx_signin_clear(&s);
	return rc;
}

int
apx_route_me_identity_delete(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return apx_resp_problem(c->resp, 404, "identity-not-found",
		    "No such linked sign-in.", NULL);
	apx_authz_audit(c, &e, "identity.unlink", apx_arena_printf(
	    c->req->arena, "user:%lld", (long long)c->auth->uid));
	rc = apx_identity_unlink(c->db, c->auth->uid, id, &e);
	if (rc == APX_ENOTFOUND)
		return apx_resp_problem(c->resp, 404, "identity-not-found",
		    "No such linked sign-in.", NULL);
	if (rc == APX_ECONFLICT)
		return apx_resp_problem(c->resp, 409, "last-sign-in-method",
		    "This is your only way to sign in: set a password or link "
		    "another provider first.", NULL);
	if (rc != 0)
		return rc;
	apx_log_info("rid=%s user %lld unlinked identity %lld",
	    c->req->request_id, (long long)c->auth->uid, (long long)id);
	c->resp->status = 204;
	return 0;
}
