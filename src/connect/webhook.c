/*
 * POST /webhooks/{connector}: the raw body is handed to the connector's
 * plugin to verify (HMAC-SHA256 in constant time) before anything parses
 * it; a verified delivery is split into events, each routed to the
 * org(s) whose connection reaches its account, stored once in that org's
 * own database and queued for the job runner. The answer comes as soon
 * as everything is stored: the work is done after it (jobs.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "connect/connect.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"
#include "http/ctx.h"
#include "store/db.h"
#include "store/jobs.h"
#include "store/sales.h"
#include "store/tenant.h"

#define HEADERS_MAX	64
#define EVENTS_MAX	1000
#define EVENT_ID_MAX	256

static int	 silent(struct apx_ctx *, int, const char **, const char *);
static int	 event_ok(const struct apx_webhook_event *);
static int	 store_event(struct apx_ctx *, const struct apx_plugin *,
		    const struct apx_webhook_event *, int64_t, int64_t, int *);

/* An answer without a body (what Xero and Shopify expect). */
static int
silent(struct apx_ctx *c, int status, const char **outcome, const char *o)
{
	*outcome = o;
	c->resp->status = status;
	c->resp->no_store = 1;
	return 0;
}

static int
event_ok(const struct apx_webhook_event *ev)
{
	return ev->account_id != NULL && *ev->account_id != '\0' &&
	    strlen(ev->account_id) <= 255 && ev->event_id != NULL &&
	    *ev->event_id != '\0' && strlen(ev->event_id) <= EVENT_ID_MAX &&
	    ev->type != NULL && *ev->type != '\0' && strlen(ev->type) <= 128 &&
	    ev->payload != NULL;
}

/* EV for connection CONN of ORG: stored once, queued while unprocessed. */
static int
store_event(struct apx_ctx *c, const struct apx_plugin *pl,
    const struct apx_webhook_event *ev, int64_t org, int64_t conn,
    int *fresh)
{
	unsigned char h[crypto_generichash_BYTES];
	char dedup[2 * crypto_generichash_BYTES + 48], payload[64];
	struct apx_db *t;
	const char *body;
	int64_t id;
	int pending, queued, rc;
	json_t *j;

	*fresh = 0;
	/* A payload that is not a JSON document is kept as a string. */
	if ((j = json_loads(ev->payload, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, NULL)) != NULL) {
		json_decref(j);
		body = ev->payload;
	} else {
		j = json_string(ev->payload);
		body = j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
		json_decref(j);
		if (body == NULL)
			return APX_EINVAL;
	}
	if ((rc = apx_tenants_db(c->tenants, org, &t)) != 0)
		goto out;
	if ((rc = apx_whevent_store(t, pl->d->name, conn, ev->event_id,
	    ev->type, ev->account_id, body, &id, fresh, &pending)) != 0 ||
	    !pending)
		goto out;
	/* The key of the pending job: the event, hashed to a fixed size. */
	crypto_generichash(h, sizeof(h), (const unsigned char *)ev->event_id,
	    strlen(ev->event_id), NULL, 0);
	snprintf(dedup, sizeof(dedup), "%s:%lld:", pl->d->name,
	    (long long)conn);
	sodium_bin2hex(dedup + strlen(dedup), sizeof(dedup) - strlen(dedup),
	    h, sizeof(h));
	snprintf(payload, sizeof(payload), "{\"event\": %lld}", (long long)id);
	rc = apx_job_enqueue(c->db, APX_JOB_WEBHOOK, org, conn, dedup, payload,
	    0, &queued);
out:
	if (body != ev->payload)
		free((void *)(uintptr_t)body);
	return rc;
}

int
apx_connect_webhook(struct apx_ctx *c, const char *name, const char **outcome)
{
	struct apx_param hdrs[HEADERS_MAX];
	const struct apx_webhook_event *evs = NULL;
	const struct apx_plugin *pl;
	struct apx_webhook wh;
	struct apx_cx cx;
	json_t *targets = NULL, *tg;
	size_t i, j, n = 0, nevs = 0, routed = 0, stored = 0, unknown = 0;
	int rc = 0, prc, fresh;

	*outcome = "error";
	if ((pl = apx_connect_find(name)) == NULL ||
	    pl->d->webhook_verify == NULL || pl->d->webhook_route == NULL) {
		*outcome = "no_connector";
		return apx_resp_problem(c->resp, 404, "connector-not-found",
		    "No connector of that name takes webhooks here.", NULL);
	}
	for (i = 0; i < c->req->headers.n && n < HEADERS_MAX; i++) {
		hdrs[n].name = c->req->headers.v[i].key;
		hdrs[n].value = c->req->headers.v[i].value;
		n++;
	}
	memset(&wh, 0, sizeof(wh));
	wh.body = c->req->body != NULL ? c->req->body :
	    (const unsigned char *)"";
	wh.len = c->req->body_len;
	wh.headers = hdrs;
	wh.nheaders = n;
	apx_cx_init(&cx, pl, c, 0, 0, 0);
	/* Nothing reads the body before the signature is checked. */
	if ((prc = pl->d->webhook_verify(&cx, &wh)) != 0) {
		apx_log_warn("rid=%s webhook %s: signature refused (%d)",
		    c->req->request_id, name, prc);
		rc = silent(c, 401, outcome, "unauthorized");
		goto out;
	}
	if ((prc = pl->d->webhook_route(&cx, &wh, &evs, &nevs)) != 0 ||
	    nevs > EVENTS_MAX) {
		apx_log_warn("rid=%s webhook %s: a signed delivery the "
		    "connector could not read (%d)", c->req->request_id, name,
		    prc);
		*outcome = "invalid";
		rc = apx_resp_problem(c->resp, 400, "webhook-invalid", "The "
		    "delivery is signed but its content is not what the "
		    "connector reads.", NULL);
		goto out;
	}
	if (nevs == 0) {	/* Xero's intent to receive, or nothing to do */
		rc = silent(c, 200, outcome, "empty");
		goto out;
	}
	for (i = 0; i < nevs; i++) {
		if (!event_ok(&evs[i])) {
			apx_log_warn("rid=%s webhook %s: event %zu lacks an "
			    "account, id or type; skipped", c->req->request_id,
			    name, i);
			continue;
		}
		json_decref(targets);
		if ((rc = apx_conn_route(c->db, name, evs[i].account_id,
		    &targets)) != 0)
			goto out;
		if (json_array_size(targets) == 0) {
			/* The provider keeps retrying an error: answer 200. */
			apx_log_info("rid=%s webhook %s: no connection reaches "
			    "the account of event %zu; dropped",
			    c->req->request_id, name, i);
			unknown++;
			continue;
		}
		json_array_foreach(targets, j, tg) {
			if ((rc = store_event(c, pl, &evs[i],
			    (int64_t)json_integer_value(json_object_get(tg,
			    "org")), (int64_t)json_integer_value(
			    json_object_get(tg, "conn")), &fresh)) != 0)
				goto out;
			routed++;
			stored += fresh;
		}
	}
	apx_log_info("rid=%s webhook %s: %zu events, %zu deliveries to "
	    "connections (%zu new), %zu for unknown accounts",
	    c->req->request_id, name, nevs, routed, stored, unknown);
	rc = silent(c, 200, outcome, routed == 0 ? "unknown_account" :
	    stored == 0 ? "duplicate" : "stored");
out:
	json_decref(targets);
	apx_cx_end(&cx);
	return rc;
}
