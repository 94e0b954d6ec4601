/* GET /healthz (process up) and GET /readyz (database and schema). */
#include "config.h"

#include "routes/routes.h"
#include "store/db.h"
#include "store/migrate.h"

int
apx_route_healthz(struct apx_ctx *c)
{
	int rc;

	/* a fixed answer, written as apx_resp_json would write it */
	apx_buf_reset(&c->resp->body);
	if ((rc = apx_buf_adds(&c->resp->body, "{\"status\":\"ok\"}")) != 0)
		return rc;
	return apx_resp_json_body(c->resp, 200);
}

int
apx_route_readyz(struct apx_ctx *c)
{
	int rc, cur;

	if ((rc = apx_migrate_version(c->db, &cur)) != 0)
		return rc == APX_EDB ? APX_EMIGRATION : rc;
	if (cur != apx_migrate_latest())
		return APX_EMIGRATION;
	return apx_resp_json(c->resp, 200, json_pack("{s:s,s:s,s:s}",
	    "status", "ready", "database", "ok", "migrations", "current"));
}
