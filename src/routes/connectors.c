/*
 * Connectors: GET /api/v1/connectors (what this server has installed),
 * the per-provider callback, and per org: settings, connect, connections.
 * POST /webhooks/{connector}. The flows live in connect/; these handlers
 * only pick the parameters out.
 */
#include "config.h"

#include <stdio.h>

#include "connect/connect.h"
#include "routes/routes.h"
#include "server/metrics.h"
#include "store/connect.h"

int
apx_route_connectors_list(struct apx_ctx *c)
{
	json_t *d;

	if ((d = apx_connect_describe()) == NULL)
		return APX_ENOMEM;
	return apx_resp_json(c->resp, 200, d);
}

int
apx_route_connector_callback(struct apx_ctx *c)
{
	return apx_connect_callback(c, apx_req_param(c->req, "name"));
}

int
apx_route_connector_config_get(struct apx_ctx *c)
{
	return apx_connect_config_get(c, apx_req_param(c->req, "name"));
}

int
apx_route_connector_config_put(struct apx_ctx *c)
{
	json_t *body;
	int rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	rc = apx_connect_config_put(c, apx_req_param(c->req, "name"), body);
	json_decref(body);
	return rc;
}

int
apx_route_connector_connect(struct apx_ctx *c)
{
	return apx_connect_start(c, apx_req_param(c->req, "name"));
}

int
apx_route_connections_list(struct apx_ctx *c)
{
	json_t *l;
	int rc;

	if ((rc = apx_conn_list(c->db, c->org->id, &l)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, l);
}

int
apx_route_connection_get(struct apx_ctx *c)
{
	json_t *o;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return apx_connect_missing(c);
	if ((rc = apx_conn_get(c->db, c->org->id, id, &o)) == APX_ENOTFOUND)
		return apx_connect_missing(c);
	if (rc != 0)
		return rc;
	return apx_resp_json(c->resp, 200, o);
}

int
apx_route_connection_delete(struct apx_ctx *c)
{
	int64_t id;

	if (apx_route_id(c, "id", &id) != 0)
		return apx_connect_missing(c);
	return apx_connect_disconnect(c, id);
}

int
apx_route_connection_check(struct apx_ctx *c)
{
	int64_t id;

	if (apx_route_id(c, "id", &id) != 0)
		return apx_connect_missing(c);
	return apx_connect_check(c, id);
}

int
apx_route_connection_patch(struct apx_ctx *c)
{
	json_t *body;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return apx_connect_missing(c);
	if (apx_route_json_body(c, &body) != 0)
		return 0;
	rc = apx_connect_patch(c, id, body);
	json_decref(body);
	return rc;
}

int
apx_route_connection_sync(struct apx_ctx *c)
{
	int64_t id;

	if (apx_route_id(c, "id", &id) != 0)
		return apx_connect_missing(c);
	return apx_connect_sync_request(c, id);
}

/* POST /webhooks/{connector}: no session, no CSRF: the provider's
 * signature is the authentication, checked by the connector's plugin. */
int
apx_route_webhook(struct apx_ctx *c)
{
	const char *name = apx_req_param(c->req, "connector"), *outcome;
	char labels[128];
	int rc;

	rc = apx_connect_webhook(c, name, &outcome);
	/* NAME is an installed connector's, or counted as unknown. */
	snprintf(labels, sizeof(labels), "connector=\"%s\",outcome=\"%s\"",
	    apx_connect_find(name) != NULL ? name : "unknown", rc == 0 ?
	    outcome : "error");
	apx_metrics_add("apx_webhook_deliveries_total", labels, 1);
	return rc;
}
