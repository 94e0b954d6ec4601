/*
 * /api/v1/orgs (list, create), /api/v1/orgs/{org} (read, rename) and its
 * settings, and accepting an invitation. The router has authorised the
 * caller (perm.c) before any of these run.
 */
#include "config.h"

#include <string.h>

#include "auth/account.h"
#include "auth/session.h"
#include "authz/authz.h"
#include "authz/perm.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/mfa.h"
#include "store/orgs.h"
#include "vault/vault.h"

#define MAX_ORG_NAME	200

int
apx_route_orgs_list(struct apx_ctx *c)
{
	json_t *list;
	int rc;

	if ((rc = apx_org_list_for_user(c->db, c->auth->uid, &list)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, list);
}

int
apx_route_orgs_create(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *name, *slug, *plan_s, *region;
	json_t *body, *org = NULL;
	int plan = APX_PLAN_FREE, rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	rc = 0;
	if (apx_route_name(c, body, "name", MAX_ORG_NAME, &name) != 0 ||
	    apx_route_string(c, body, "slug", APX_ORG_SLUG_MAX, 1, &slug,
	    NULL) != 0 || apx_route_string(c, body, "plan", 16, 0, &plan_s,
	    NULL) != 0 || apx_route_string(c, body, "region", 32, 0, &region,
	    NULL) != 0)
		goto out;
	if (!apx_org_slug_valid(slug)) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "A slug is 2-41 characters of a-z, 0-9 and _, starting "
		    "with a letter or digit.", "slug");
		goto out;
	}
	if (plan_s != NULL && (plan = apx_plan_parse(plan_s)) ==
	    APX_PLAN_NONE) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "The plan is one of free, growth, agency.", "plan");
		goto out;
	}
	if (region == NULL)
		region = c->conf->org_regions.v[0];
	if (!apx_strlist_has(&c->conf->org_regions, region)) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "There is no such data region.", "region");
		goto out;
	}
	apx_authz_audit(c, &e, "org.create", slug);
	rc = apx_org_create(c->db, c->conf, slug, name, plan, region, c->auth->uid, &e,
	    &org);
	if (rc == APX_ECONFLICT) {
		rc = apx_resp_problem(c->resp, 409, "slug-taken",
		    "This slug is taken; choose another.", "slug");
		goto out;
	}
	if (rc != 0)
		goto out;
	apx_log_info("rid=%s org %s created by user %lld", c->req->request_id,
	    slug, (long long)c->auth->uid);
	rc = apx_resp_json(c->resp, 201, json_pack("{s:o}", "org", org));
out:
	json_decref(body);
	return rc;
}

int
apx_route_org_get(struct apx_ctx *c)
{
	json_t *org;
	int rc;

	if ((rc = apx_org_get(c->db, c->org->id, &org)) != 0)
		return rc;
	if (org == NULL)
		return APX_ENOTFOUND;
	json_object_set_new(org, "role", json_string(apx_role_name(
	    c->org->role)));
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "org", org));
}

int
apx_route_org_patch(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *name;
	json_t *body;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_name(c, body, "name", MAX_ORG_NAME, &name) != 0)
		goto out;
	apx_authz_audit(c, &e, "org.update", c->org->slug);
	if ((rc = apx_org_rename(c->db, c->org->id, name, &e)) != 0)
		goto out;
	json_decref(body);
	return apx_route_org_get(c);
out:
	json_decref(body);
	return rc;
}

int
apx_route_org_settings_get(struct apx_ctx *c)
{
	json_t *s;
	int rc;

	if ((rc = apx_org_settings_get(c->db, c->org->id, &s)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "settings", s));
}

int
apx_route_org_settings_patch(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *field, *reason;
	json_t *body, *patch;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	/* {"settings": {...}} or the settings themselves. */
	patch = json_is_object(json_object_get(body, "settings")) ?
	    json_object_get(body, "settings") : body;
	if (apx_org_settings_validate(patch, &field, &reason) != 0) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field", reason,
		    field);
		goto out;
	}
	if (json_integer_value(json_object_get(patch, "pii_encryption")) == 1) {
		struct apx_vault *v;

		/* Field encryption is a Growth feature and needs a key. */
		if (c->org->plan < APX_PLAN_GROWTH) {
			rc = apx_resp_problem(c->resp, 402, "plan-required",
			    "Personal-data encryption needs the growth plan or "
			    "higher.", "pii_encryption");
			goto out;
		}
		if ((rc = apx_vault_keyed(c->conf, &v)) != 0)
			goto out;
	}
	/* Whoever requires a second factor has signed in with one (or the
	 * org's SSO): the change would shut them out at once otherwise. */
	if (json_integer_value(json_object_get(patch, "require_mfa")) == 1 &&
	    c->auth->kind == APX_AUTH_USER && (rc = apx_mfa_session_strong(
	    c->db, c->auth->sid, c->org->id)) <= 0) {
		if (rc == 0)
			rc = apx_resp_problem(c->resp, 403, "mfa-required",
			    "Sign in with a second factor or the "
			    "organisation's SSO before requiring one of its "
			    "members.", "require_mfa");
		goto out;
	}
	apx_authz_audit(c, &e, "settings.update", c->org->slug);
	if ((rc = apx_org_settings_apply(c->db, c->org->id, patch, &e)) != 0)
		goto out;
	json_decref(body);
	return apx_route_org_settings_get(c);
out:
	json_decref(body);
	return rc;
}

int
apx_route_invitation_accept(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	unsigned char hash[APX_TOKEN_HASH_LEN];
	const char *tok, *en;
	json_t *body, *org = NULL;
	size_t len;
	int rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "token", 128, 1, &tok, &len) != 0)
		goto out;
	apx_session_hash_token(tok, len, hash);
	if ((en = apx_account_email_norm(c->req->arena, c->auth->user.email))
	    == NULL)
		en = "";
	apx_authz_audit(c, &e, "member.join", apx_arena_printf(c->req->arena,
	    "user:%lld", (long long)c->auth->uid));
	rc = apx_invitation_accept(c->db, hash, c->auth->uid, en, &e, &org);
	if (rc == APX_ENOTFOUND) {
		/* Unknown, spent, expired or another person's: one answer. */
		rc = apx_resp_problem(c->resp, 404, "invitation-not-found",
		    "This invitation does not exist or is no longer valid.",
		    NULL);
		goto out;
	}
	if (rc == APX_ECONFLICT) {
		rc = apx_resp_problem(c->resp, 409, "already-member",
		    "You are a member of this organisation already.", NULL);
		goto out;
	}
	if (rc == 0)
		rc = apx_resp_json(c->resp, 200, json_pack("{s:o}", "org",
		    org));
out:
	json_decref(body);
	return rc;
}
