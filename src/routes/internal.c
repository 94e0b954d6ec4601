/*
 * /internal/...: operators' endpoints, behind the shared secret (checked by
 * the dispatcher before any of these run).
 */
#include "config.h"

#include "routes/routes.h"
#include "server/metrics.h"
#include "store/audit.h"
#include "store/settings.h"

int
apx_route_internal_metrics(struct apx_ctx *c)
{
	struct apx_buf b = { 0 };
	int rc;

	if ((rc = apx_metrics_render(c->db, &b)) == 0)
		rc = apx_resp_text(c->resp, 200,
		    "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	c->resp->no_store = 1;
	apx_buf_free(&b);
	return rc;
}

int
apx_route_internal_settings_get(struct apx_ctx *c)
{
	json_t *s;
	int rc;

	if ((rc = apx_settings_get_all(c->db, &s)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "settings", s));
}

/* PATCH of the platform settings, audited as E (before/after filled). */
int
apx_route_settings_patch(struct apx_ctx *c, struct apx_audit_entry *e)
{
	const char *field, *reason;
	json_t *patch;
	int rc;

	if (apx_http_json_object(c->req, c->resp, &patch) != 0)
		return 0;	/* the problem answer is set */
	if (apx_settings_validate(patch, &field, &reason) != 0) {
		/* FIELD points into PATCH: answer before releasing it. */
		rc = apx_resp_problem(c->resp, 422, "invalid-setting", reason,
		    field);
		json_decref(patch);
		return rc;
	}
	rc = apx_settings_apply(c->db, patch, e);
	json_decref(patch);
	if (rc != 0)
		return rc;
	return apx_route_internal_settings_get(c);
}

int
apx_route_internal_settings_patch(struct apx_ctx *c)
{
	struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "operator",
	    "internal", "settings.update", "platform_settings",
	    c->req->remote_addr, c->req->request_id, NULL, NULL };

	return apx_route_settings_patch(c, &e);
}
