/* GET /api/v1/me, GET /api/v1/me/sessions, DELETE /api/v1/me/sessions/{id} */
#include "config.h"

#include "auth/session.h"
#include "routes/routes.h"
#include "store/identity.h"

int
apx_route_me(struct apx_ctx *c)
{
	const struct apx_user *u = &c->auth->user;

	return apx_resp_json(c->resp, 200, json_pack("{s:{s:I,s:s,s:s,s:b,s:b}}",
	    "user", "id", (json_int_t)u->id, "email", u->email, "name",
	    u->name, "is_superuser", u->is_superuser, "email_verified",
	    u->email_verified));
}

int
apx_route_me_sessions(struct apx_ctx *c)
{
	json_t *list;
	int rc;

	if ((rc = apx_session_list(c->db, c->auth->uid, c->auth->sid, &list))
	    != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "sessions",
	    list));
}

int
apx_route_me_session_delete(struct apx_ctx *c)
{
	long long id;
	int rc;

	/* Another user's session id is simply not found. */
	if (apx_parse_ll(apx_req_param(c->req, "id"), 1, INT64_MAX, &id) != 0)
		return APX_ENOTFOUND;
	rc = apx_session_revoke(c->db, c->auth->uid, id, "revoked by user");
	if (rc != 0)
		return rc;
	if (id == c->auth->sid)
		apx_session_clear_cookies(c);
	c->resp->status = 204;
	return 0;
}
