/*
 * The job runner: webhook events acted on by their plugin after the
 * delivery was answered, and syncs. A job is taken for a lease (FOR
 * UPDATE SKIP LOCKED), so runners on several hosts share the queue and a
 * runner killed mid-job leaves it to the next one once the lease ends.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"
#include "store/connect.h"
#include "store/db.h"
#include "store/jobs.h"
#include "store/sales.h"
#include "store/tenant.h"

#define BACKOFF_BASE_S	5
#define BACKOFF_MAX_S	3600
#define BUSY_RETRY_S	30

static int	 run_webhook(const struct apx_connect_env *, struct apx_job *,
		    const char **);
static int	 run_sync(const struct apx_connect_env *, struct apx_job *,
		    const char **);

/*
 * One webhook event: the plugin acts on it (records sales, asks for a
 * sync, runs a privacy request). *WHY: a short code when it failed.
 */
static int
run_webhook(const struct apx_connect_env *env, struct apx_job *j,
    const char **why)
{
	struct apx_webhook_event ev;
	struct apx_conn_row row;
	const struct apx_plugin *pl;
	struct apx_cx cx;
	struct apx_db *t;
	json_t *e = NULL;
	const char *outcome;
	int64_t id = (int64_t)json_integer_value(json_object_get(j->payload,
	    "event"));
	int rc, prc, queued;
	size_t nsales;

	*why = NULL;
	memset(&cx, 0, sizeof(cx));
	if ((rc = apx_conn_read(env->db, j->org, j->conn, 0, &row)) != 0) {
		*why = "connection_gone";
		return rc == APX_ENOTFOUND ? 0 : rc;	/* nothing left to do */
	}
	pl = apx_connect_find(row.connector);
	apx_conn_row_clear(&row);
	if (pl == NULL) {
		*why = "connector_not_installed";
		return APX_ENOTFOUND;
	}
	if ((rc = apx_tenants_db(env->tenants, j->org, &t)) != 0)
		return rc;
	if ((rc = apx_whevent_get(t, id, &e)) != 0) {
		*why = "event_gone";
		return rc == APX_ENOTFOUND ? 0 : rc;
	}
	if (json_is_true(json_object_get(e, "processed"))) {
		json_decref(e);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.account_id = json_string_value(json_object_get(e, "account_id"));
	ev.event_id = json_string_value(json_object_get(e, "event_id"));
	ev.type = json_string_value(json_object_get(e, "type"));
	ev.payload = json_string_value(json_object_get(e, "payload"));
	apx_cx_job(&cx, pl, env->conf, env->db, env->tenants, env->v, j->org,
	    j->conn);
	cx.account = ev.account_id;
	if ((cx.sales = json_array()) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	prc = pl->d->webhook_handle != NULL && pl->d->abi_minor >= 1 ?
	    pl->d->webhook_handle(&cx, &ev) : APX_C_ENOTFOUND;
	if (prc < 0 && prc != APX_C_ENOTFOUND) {
		*why = "handler_failed";
		apx_log_warn("webhook job %lld: %s could not handle a %s event "
		    "(%d)", (long long)j->id, pl->d->name, ev.type, prc);
		rc = APX_EIO;
		goto out;
	}
	nsales = json_array_size(cx.sales);
	if (nsales > 0 && (rc = apx_sales_put(t, j->conn, cx.sales, NULL,
	    0)) != 0)
		goto out;
	outcome = prc == APX_C_ENOTFOUND ? "ignored" : cx.privacy_calls > 0 ?
	    "privacy" : prc == APX_C_MORE ? "sync_queued" : nsales > 0 ?
	    "recorded" : "handled";
	if (prc == APX_C_MORE || nsales > 0) {
		/* A sync follows; it also rebuilds the daily series. */
		if ((rc = apx_job_enqueue_sync(env->db, j->org, j->conn,
		    &queued)) != 0)
			goto out;
	}
	/* Gone with its connection when the account asked to be forgotten. */
	(void)apx_whevent_done(t, id, outcome);
	apx_log_info("webhook job %lld: %s %s event of org %lld: %s",
	    (long long)j->id, pl->d->name, ev.type, (long long)j->org, outcome);
	rc = 0;
out:
	apx_cx_end(&cx);
	json_decref(e);
	return rc;
}

static int
run_sync(const struct apx_connect_env *env, struct apx_job *j,
    const char **why)
{
	struct apx_sync_report r;
	int rc;

	*why = NULL;
	rc = apx_connect_sync(env, j->org, j->conn, j->id, &r);
	if (rc == 0 && r.busy) {
		*why = "busy";
		return APX_ECONFLICT;
	}
	if (rc != 0)
		*why = r.error != NULL ? r.error : "sync_failed";
	/* Consent is gone: the connection says so; retrying changes
	 * nothing until someone connects again. */
	if (rc != 0 && r.error != NULL && strcmp(r.error, "needs_reauth") == 0)
		rc = 0;
	return rc;
}

int
apx_connect_jobs_run(const struct apx_connect_env *env, int once, int secs,
    volatile int *stop, long long *done)
{
	struct apx_job j;
	const char *why;
	int rc, delay;

	*done = 0;
	while (stop == NULL || !*stop) {
		rc = apx_job_take(env->db, env->lease, env->max_attempts, &j);
		if (rc == APX_ENOTFOUND) {
			if (once)
				return 0;
			apx_db_wait_notify(env->db, "apx_jobs", secs, stop);
			continue;
		}
		if (rc != 0) {
			apx_log_warn("jobs: the queue could not be read: %s",
			    apx_strerror(rc));
			if (once)
				return rc;
			apx_db_wait_notify(env->db, "apx_jobs", secs, stop);
			continue;
		}
		why = NULL;
		if (strcmp(j.kind, APX_JOB_WEBHOOK) == 0)
			rc = run_webhook(env, &j, &why);
		else if (strcmp(j.kind, APX_JOB_SYNC) == 0)
			rc = run_sync(env, &j, &why);
		else {
			why = "unknown_kind";
			rc = APX_EINVAL;
		}
		if (rc == 0)
			rc = apx_job_done(env->db, j.id);
		else {
			delay = rc == APX_ECONFLICT ? BUSY_RETRY_S :
			    BACKOFF_BASE_S << (j.attempts < 10 ? j.attempts : 10);
			if (delay > BACKOFF_MAX_S)
				delay = BACKOFF_MAX_S;
			apx_log_warn("jobs: %s job %lld of org %lld failed "
			    "(attempt %d: %s); again in %d s", j.kind,
			    (long long)j.id, (long long)j.org, j.attempts,
			    why != NULL ? why : apx_strerror(rc), delay);
			rc = apx_job_retry(env->db, j.id, delay, why != NULL ?
			    why : apx_strerror(rc));
		}
		(*done)++;
		apx_job_clear(&j);
		if (rc != 0 && once)
			return rc;
	}
	return 0;
}
