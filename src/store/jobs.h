/*
 * SQL of connector data in the control database (migration 0016): the
 * job queue, how a webhook's account finds its connections, and a
 * connection's sync status.
 */
#ifndef APX_STORE_JOBS_H
#define APX_STORE_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct apx_db;

#define APX_JOB_WEBHOOK	"webhook"
#define APX_JOB_SYNC	"sync"
/* A job tried this often is left alone (dead) for an operator. */
#define APX_JOB_MAX_ATTEMPTS	10

/*
 * Queue a job of KIND for ORG (and connection CONN, 0: none), unique by
 * DEDUP among the org's pending jobs of that kind (a second one is not
 * queued: *QUEUED 0), to run after DELAY seconds. PAYLOAD is JSON text.
 * Runners listening on apx_jobs are woken.
 */
int	 apx_job_enqueue(struct apx_db *, const char *, int64_t, int64_t,
	    const char *, const char *, int, int *);

/* Queue a sync of connection CONN of ORG, unless one is waiting already
 * (*QUEUED 0): the one key of a connection's pending sync. */
int	 apx_job_enqueue_sync(struct apx_db *, int64_t, int64_t, int *);

struct apx_job {
	int64_t		 id;
	char		 kind[16];
	int64_t		 org;
	int64_t		 conn;
	int		 attempts;
	json_t		*payload;
};
void	 apx_job_clear(struct apx_job *);
/*
 * Take the next due job for LEASE seconds (FOR UPDATE SKIP LOCKED: two
 * runners never take one job); jobs tried MAX times are left alone.
 * APX_ENOTFOUND when none is due.
 */
int	 apx_job_take(struct apx_db *, int, int, struct apx_job *);
/* Keep the lease of job ID for LEASE more seconds (a long sync). */
int	 apx_job_extend(struct apx_db *, int64_t, int);
int	 apx_job_done(struct apx_db *, int64_t);
/* Release job ID to run again after DELAY seconds, noting WHY. */
int	 apx_job_retry(struct apx_db *, int64_t, int, const char *);
/* {"webhook": {"due": n, "running": n, "dead": n}, "sync": {...}} with
 * DEAD = tried MAX times. */
int	 apx_job_depth(struct apx_db *, int, json_t **);

/*
 * The connections of CONNECTOR that reach provider account ACCOUNT:
 * [{"org": id, "conn": id}] (several orgs may have connected one shop).
 */
int	 apx_conn_route(struct apx_db *, const char *, const char *,
	    json_t **);
/*
 * Active connections to sync: of ORG (0: all), or only connection CONN
 * (0: all): [{"org", "conn", "connector", "account"}], active ones only.
 */
int	 apx_conn_sync_list(struct apx_db *, int64_t, int64_t, json_t **);
/* The workspace of connection ID's series (its own, or the org's first):
 * 0 when the org has none. */
int	 apx_conn_workspace(struct apx_db *, int64_t, int64_t *);
/* Set the workspace of connection ID of ORG (0: back to the default);
 * APX_ENOTFOUND for a workspace that is not the org's. */
int	 apx_conn_set_workspace(struct apx_db *, int64_t, int64_t, int64_t);
/* The sync status of connection ID: started (state running, counters
 * zeroed), a page done (+RECORDS), finished ok, failed (WHY). */
int	 apx_conn_sync_started(struct apx_db *, int64_t);
int	 apx_conn_sync_page(struct apx_db *, int64_t, long long);
int	 apx_conn_sync_finished(struct apx_db *, int64_t, const char *);
/* Sync lag per connector: {connector: seconds since the oldest last
 * success (or creation) of its active connections}. */
int	 apx_conn_sync_lag(struct apx_db *, json_t **);

#endif
