/* GET /api/v1/me, GET /api/v1/me/sessions, DELETE /api/v1/me/sessions/{id} */
#include "config.h"

#include <string.h>

#include "auth/session.h"
#include "routes/routes.h"
#include "store/identity.h"

int
apx_route_me(struct apx_ctx *c)
{
	const struct apx_user *u = &c->auth->user;
	struct apx_buf *b = &c->resp->body;
	int rc;

	/* written as apx_resp_json writes it (compact, ASCII), without
	 * building a JSON object for it */
	if (u->email == NULL || u->name == NULL)
		return APX_EDB;
	apx_buf_reset(b);
	if ((rc = apx_buf_printf(b, "{\"user\":{\"id\":%lld,\"email\":",
	    (long long)u->id)) != 0 ||
	    (rc = apx_buf_json_ascii(b, u->email, strlen(u->email))) != 0 ||
	    (rc = apx_buf_adds(b, ",\"name\":")) != 0 ||
	    (rc = apx_buf_json_ascii(b, u->name, strlen(u->name))) != 0 ||
	    (rc = apx_buf_printf(b, ",\"is_superuser\":%s,"
	    "\"email_verified\":%s}}", u->is_superuser ? "true" : "false",
	    u->email_verified ? "true" : "false")) != 0) {
		apx_buf_reset(b);
		return rc == APX_EINVAL ? APX_EDB : rc;
	}
	return apx_resp_json_body(c->resp, 200);
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
