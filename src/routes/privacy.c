/*
 * Privacy (GDPR): POST /api/v1/orgs/{org}/privacy/export and .../erasure,
 * GET /api/v1/me/export. Account deletion (DELETE /api/v1/me) is in
 * auth.c, next to the other password checks.
 */
#include "config.h"

#include <string.h>

#include "authz/authz.h"
#include "authz/perm.h"
#include "auth/session.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/privacy.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define MAX_SUBJECT_VALUE	4096

static int	 attachment(struct apx_ctx *, json_t *, const char *);
static int	 erase_subject(struct apx_ctx *, json_t *);
static int	 erase_org(struct apx_ctx *, json_t *);

/* ARCHIVE as a JSON download named NAME. */
static int
attachment(struct apx_ctx *c, json_t *archive, const char *name)
{
	int rc;

	if ((rc = apx_resp_json(c->resp, 200, archive)) != 0)
		return rc;
	return apx_resp_header(c->resp, "Content-Disposition",
	    apx_arena_printf(c->req->arena, "attachment; filename=\"%s\"",
	    name));
}

int
apx_route_privacy_export(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	struct apx_vault *v = NULL;
	struct apx_db *t;
	json_t *archive = NULL;
	char err[256];
	int rc;

	(void)apx_vault_get(c->conf, &v, err, sizeof(err));
	if ((rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_privacy_org_export(c->db, t, v, c->org->id, &archive)) !=
	    0) {
		if (rc == APX_ETOOBIG)
			return apx_resp_problem(c->resp, 413, "export-too-large",
			    "The organisation holds too much personal data for "
			    "one export.", NULL);
		return rc;
	}
	/* Personal data leaving is on record before it leaves. */
	apx_authz_audit(c, &e, "privacy.export", c->org->slug);
	if ((rc = apx_audit_append(c->db, &e)) != 0) {
		json_decref(archive);
		return rc;
	}
	return attachment(c, archive, apx_arena_printf(c->req->arena,
	    "accupredix-export-%s.json", c->org->slug));
}

static int
erase_subject(struct apx_ctx *c, json_t *subject)
{
	struct apx_erasure_report r;
	struct apx_audit_entry e;
	struct apx_vault *v = NULL;
	struct apx_db *t;
	const char *column, *value;
	json_t *after;
	char err[256];
	int rc;

	if (apx_route_string(c, subject, "column", 64, 1, &column, NULL) != 0 ||
	    apx_route_string(c, subject, "value", MAX_SUBJECT_VALUE, 1, &value,
	    NULL) != 0)
		return 0;
	(void)apx_vault_get(c->conf, &v, err, sizeof(err));
	if ((rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_db_begin(t)) != 0)
		return rc;
	if ((rc = apx_privacy_erase_subject(t, c->db, v, c->org->id, column,
	    value, &r)) != 0) {
		apx_db_rollback(t);
		return rc;
	}
	/* The record names the column, never the subject. */
	after = json_pack("{s:I,s:I,s:I}", "uploads", (json_int_t)r.uploads,
	    "rows", (json_int_t)r.rows, "fields", (json_int_t)r.fields);
	apx_authz_audit(c, &e, "privacy.erasure.subject",
	    apx_arena_printf(c->req->arena, "column:%s", column));
	rc = apx_route_tenant_commit(c, t, &e, NULL, after);
	if (rc != 0) {
		json_decref(after);
		return rc;
	}
	return apx_resp_json(c->resp, 200, json_pack("{s:{s:s,s:o}}",
	    "erasure", "scope", "subject", "erased", after));
}

static int
erase_org(struct apx_ctx *c, json_t *body)
{
	struct apx_audit_entry e;
	struct apx_vault *v;
	const char *confirm;
	char err[256];
	int rc;

	if (c->org->role < APX_ROLE_OWNER)
		return apx_resp_problem(c->resp, 403, "forbidden",
		    "Only an owner can erase the organisation.", NULL);
	if (apx_route_string(c, body, "confirm", 64, 1, &confirm, NULL) != 0)
		return 0;
	if (strcmp(confirm, c->org->slug) != 0)
		return apx_resp_problem(c->resp, 422, "invalid-field",
		    "confirm must be the organisation's slug.", "confirm");
	if (apx_vault_get(c->conf, &v, err, sizeof(err)) != 0)
		return APX_ENOKEY;
	apx_authz_audit(c, &e, "privacy.erasure.org", c->org->slug);
	/* No address of the person in what stays. */
	e.client_addr = "";
	if ((rc = apx_privacy_erase_org(c->conf, c->db, c->tenants, v,
	    c->org->id, &e)) != 0)
		return rc;
	apx_log_info("rid=%s org %s erased", c->req->request_id,
	    c->org->slug);
	return apx_resp_json(c->resp, 200, json_pack("{s:{s:s,s:s}}",
	    "erasure", "scope", "org", "status", "erased"));
}

int
apx_route_privacy_erasure(struct apx_ctx *c)
{
	json_t *body, *subject, *scope;
	int rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	subject = json_object_get(body, "subject");
	scope = json_object_get(body, "scope");
	if (json_is_object(subject) && scope == NULL)
		rc = erase_subject(c, subject);
	else if (subject == NULL && json_is_string(scope) &&
	    strcmp(json_string_value(scope), "org") == 0)
		rc = erase_org(c, body);
	else
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "Either {subject: {column, value}} or {scope: \"org\", "
		    "confirm: \"<slug>\"}.", "subject");
	json_decref(body);
	return rc;
}

int
apx_route_me_export(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	json_t *archive = NULL;
	int rc;

	if ((rc = apx_privacy_user_export(c->db, c->auth->uid, &archive)) != 0)
		return rc;
	apx_authz_audit(c, &e, "account.export", apx_arena_printf(
	    c->req->arena, "user:%lld", (long long)c->auth->uid));
	if ((rc = apx_audit_append(c->db, &e)) != 0) {
		json_decref(archive);
		return rc;
	}
	return attachment(c, archive, "accupredix-account-export.json");
}
