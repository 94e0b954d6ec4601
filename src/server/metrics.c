#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/apx.h"
#include "core/log.h"
#include "server/metrics.h"
#include "auth/mail.h"
#include "store/jobs.h"
#include "store/mail.h"
#include "store/db.h"
#include "store/metrics_store.h"

#define MAX_COUNTERS	4096
#define FLUSH_EVERY_US	(5u * 1000 * 1000)
#define FLUSH_MAX_US	(60u * 1000 * 1000)	/* the database down a while */

struct counter {
	char	 name[64];
	char	 labels[160];
	char	 grp[128];
	int	 ord;
	double	 delta;
	int	 used;
	int	 flushed;	/* exists in the database */
};

static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10 };

static struct counter	 table[MAX_COUNTERS];
static size_t		 ncounters;
static uint64_t		 last_flush_us;
static int		 pending;	/* a count not yet in the database */
static unsigned		 failed;	/* flushes refused in a row */
static int		 full_warned;

/* Per-route histogram slots, found once per route pattern. */
struct route_slots {
	const char	*route;
	struct counter	*bucket[APX_NELEM(buckets) + 1];
	struct counter	*sum, *count;
};
#define MAX_ROUTE_SLOTS	128
static struct route_slots	 rslots[MAX_ROUTE_SLOTS];
static size_t			 nrslots;

static uint32_t	 hash(const char *, const char *);
static struct counter *slot(const char *, const char *, const char *, int);
static void	 add(const char *, const char *, const char *, int, double);
static struct route_slots *route_slots(const char *);
static void	 connector_gauges(struct apx_db *, struct apx_buf *);
static uint64_t	 interval_us(void);

static uint32_t
hash(const char *a, const char *b)
{
	static const unsigned char sep = 0xff;
	uint32_t h = apx_fnv1a(APX_FNV_BASIS, a, strlen(a));

	h = apx_fnv1a(h, &sep, 1);
	return apx_fnv1a(h, b, strlen(b));
}

/*
 * Find or create a counter. Open addressing; the table only grows (label
 * sets are bounded: route patterns, methods, statuses). NULL when full.
 */
static struct counter *
slot(const char *name, const char *labels, const char *grp, int ord)
{
	size_t i, n;
	struct counter *c;

	i = hash(name, labels) % MAX_COUNTERS;
	for (n = 0; n < MAX_COUNTERS; n++, i = (i + 1) % MAX_COUNTERS) {
		c = &table[i];
		if (!c->used) {
			if (ncounters >= MAX_COUNTERS * 3 / 4) {
				if (!full_warned++)
					apx_log_warn("metric table full: new "
					    "label sets are not counted");
				return NULL;
			}
			c->used = 1;
			snprintf(c->name, sizeof(c->name), "%s", name);
			snprintf(c->labels, sizeof(c->labels), "%s", labels);
			snprintf(c->grp, sizeof(c->grp), "%s", grp);
			c->ord = ord;
			ncounters++;
			return c;
		}
		if (strcmp(c->name, name) == 0 && strcmp(c->labels, labels) == 0)
			return c;
	}
	return NULL;
}

static void
add(const char *name, const char *labels, const char *grp, int ord, double v)
{
	struct counter *c = slot(name, labels, grp, ord);

	if (c != NULL) {
		c->delta += v;
		pending = 1;
	}
}

/* ROUTE is a pattern of the static route table or "unmatched". */
static struct route_slots *
route_slots(const char *route)
{
	struct route_slots *rs;
	char l[160], g[128];
	size_t i;

	for (i = 0; i < nrslots; i++)
		if (rslots[i].route == route || strcmp(rslots[i].route, route) == 0)
			return &rslots[i];
	if (nrslots >= MAX_ROUTE_SLOTS)
		return NULL;
	rs = &rslots[nrslots];
	snprintf(g, sizeof(g), "route=\"%s\"", route);
	for (i = 0; i < APX_NELEM(buckets); i++) {
		snprintf(l, sizeof(l), "route=\"%s\",le=\"%g\"", route,
		    buckets[i]);
		rs->bucket[i] = slot("apx_http_request_duration_seconds_bucket",
		    l, g, (int)i);
	}
	snprintf(l, sizeof(l), "route=\"%s\",le=\"+Inf\"", route);
	rs->bucket[i] = slot("apx_http_request_duration_seconds_bucket", l, g,
	    (int)i);
	rs->sum = slot("apx_http_request_duration_seconds_sum", g, g, 0);
	rs->count = slot("apx_http_request_duration_seconds_count", g, g, 0);
	rs->route = route;
	nrslots++;
	return rs;
}

void
apx_metrics_inc(const char *name, double v)
{
	add(name, "", "", 0, v);
}

void
apx_metrics_add(const char *name, const char *labels, double v)
{
	add(name, labels, labels, 0, v);
}

void
apx_metrics_request(const char *route, const char *method, int status,
    uint64_t dur_us)
{
	struct route_slots *rs;
	char l[160];
	double secs = (double)dur_us / 1e6;
	size_t i;

	/* ROUTE is a pattern from the route table or "unmatched": bounded. */
	snprintf(l, sizeof(l), "route=\"%s\",method=\"%s\",status=\"%d\"",
	    route, method, status);
	add("apx_http_requests_total", l, l, 0, 1);
	if ((rs = route_slots(route)) == NULL)
		return;
	/* Buckets are cumulative: every bucket at or above the time counts. */
	for (i = 0; i < APX_NELEM(buckets); i++)
		if (secs <= buckets[i] && rs->bucket[i] != NULL)
			rs->bucket[i]->delta += 1;
	if (rs->bucket[i] != NULL)
		rs->bucket[i]->delta += 1;
	if (rs->sum != NULL)
		rs->sum->delta += secs;
	if (rs->count != NULL)
		rs->count->delta += 1;
	pending = 1;
}

/*
 * How long after the last flush the next is due: FLUSH_EVERY_US, doubled
 * with each refused flush after the first, up to FLUSH_MAX_US, so that
 * idle workers waiting out a database outage (each trying when its counts
 * are due) do not fill the log with a warning each every few seconds.
 */
static uint64_t
interval_us(void)
{
	uint64_t us = FLUSH_EVERY_US;
	unsigned i;

	for (i = 1; i < failed && us < FLUSH_MAX_US; i++)
		us *= 2;
	return us < FLUSH_MAX_US ? us : FLUSH_MAX_US;
}

long
apx_metrics_due_ms(void)
{
	uint64_t now, due;

	if (!pending)
		return -1;
	now = apx_now_us();
	due = last_flush_us + interval_us();
	return now >= due ? 0 : (long)((due - now + 999) / 1000);
}

void
apx_metrics_flush(struct apx_db *db, int force)
{
	uint64_t now = apx_now_us();
	unsigned long dberr;
	json_t *arr;
	char *s;
	size_t i;
	int rc;

	if (!force && now - last_flush_us < interval_us())
		return;
	last_flush_us = now;
	if ((dberr = apx_db_take_errors(db)) > 0)
		apx_metrics_inc("apx_db_errors_total", (double)dberr);
	if ((arr = json_array()) == NULL)
		return;
	for (i = 0; i < MAX_COUNTERS; i++) {
		struct counter *c = &table[i];

		if (!c->used || (c->delta == 0 && c->flushed))
			continue;
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:i,s:f}",
		    "n", c->name, "l", c->labels, "g", c->grp, "o", c->ord,
		    "v", c->delta));
	}
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		pending = 0;
		return;
	}
	s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	if (s == NULL)
		return;
	rc = apx_metrics_store_add(db, s);
	free(s);
	if (rc != 0) {
		/* Keep the deltas; count the failure for the next flush. */
		apx_metrics_inc("apx_db_errors_total",
		    (double)apx_db_take_errors(db));
		failed++;
		return;
	}
	/* Only the slots in use are written: the table is 1.5 MB of
	 * zero pages, and a page written is a page of this worker's own. */
	for (i = 0; i < MAX_COUNTERS; i++)
		if (table[i].used) {
			table[i].delta = 0;
			table[i].flushed = 1;
		}
	pending = 0;
	failed = 0;
}

static const char *
family_of(const char *name, char *buf, size_t len)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	size_t i, n = strlen(name), m;

	snprintf(buf, len, "%s", name);
	if (strncmp(name, "apx_http_request_duration_seconds", 33) != 0)
		return buf;
	for (i = 0; i < APX_NELEM(sfx); i++) {
		m = strlen(sfx[i]);
		if (n > m && strcmp(name + n - m, sfx[i]) == 0 && n - m < len) {
			buf[n - m] = '\0';
			break;
		}
	}
	return buf;
}

int
apx_metrics_render(struct apx_db *db, struct apx_buf *out)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{ "apx_db_errors_total", "counter",
		    "Database connection losses and refused statements." },
		{ "apx_http_request_duration_seconds", "histogram",
		    "Time from request start to response, by route." },
		{ "apx_http_requests_total", "counter",
		    "Requests answered, by route, method and status." },
		{ "apx_webhook_deliveries_total", "counter",
		    "Webhook deliveries answered, by connector and outcome." },
		{ "apx_worker_restarts_total", "counter",
		    "Workers restarted after dying unexpectedly." },
	};
	char cur[64] = "", f[64];
	int seen[APX_NELEM(fam)] = { 0 };
	PGresult *res;
	size_t i;
	int r, rc;

	apx_metrics_flush(db, 1);
	if ((rc = apx_metrics_store_read(db, &res)) != 0) {
		apx_buf_adds(out, "# HELP apx_database_up Control-plane "
		    "database reachable.\n# TYPE apx_database_up gauge\n"
		    "apx_database_up 0\n");
		return 0;
	}
	for (r = 0; r < PQntuples(res); r++) {
		const char *name = PQgetvalue(res, r, 0);
		const char *labels = PQgetvalue(res, r, 1);

		family_of(name, f, sizeof(f));
		if (strcmp(f, cur) != 0) {
			snprintf(cur, sizeof(cur), "%s", f);
			for (i = 0; i < APX_NELEM(fam); i++) {
				if (strcmp(fam[i].name, f) == 0) {
					seen[i] = 1;
					apx_buf_printf(out, "# HELP %s %s\n"
					    "# TYPE %s %s\n", f, fam[i].help,
					    f, fam[i].type);
				}
			}
		}
		if (*labels != '\0')
			apx_buf_printf(out, "%s{%s} %s\n", name, labels,
			    PQgetvalue(res, r, 2));
		else
			apx_buf_printf(out, "%s %s\n", name,
			    PQgetvalue(res, r, 2));
	}
	PQclear(res);
	for (i = 0; i < APX_NELEM(fam); i++) {
		if (seen[i] || strcmp(fam[i].type, "counter") != 0 ||
		    strcmp(fam[i].name, "apx_http_requests_total") == 0)
			continue;
		apx_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s 0\n",
		    fam[i].name, fam[i].help, fam[i].name, fam[i].name);
	}
	connector_gauges(db, out);
	apx_buf_adds(out, "# HELP apx_database_up Control-plane database "
	    "reachable.\n# TYPE apx_database_up gauge\napx_database_up 1\n");
	return 0;
}

/* Job queue depth and sync lag, read from the database when rendered. */
static void
connector_gauges(struct apx_db *db, struct apx_buf *out)
{
	json_t *depth = NULL, *lag = NULL, *v, *n;
	const char *k, *st;

	if (apx_job_depth(db, APX_JOB_MAX_ATTEMPTS, &depth) == 0) {
		apx_buf_adds(out, "# HELP apx_job_queue_depth Jobs queued, by "
		    "kind and state (due, running, dead).\n"
		    "# TYPE apx_job_queue_depth gauge\n");
		json_object_foreach(depth, k, v)
			json_object_foreach(v, st, n)
				apx_buf_printf(out, "apx_job_queue_depth{kind="
				    "\"%s\",state=\"%s\"} %lld\n", k, st,
				    (long long)json_integer_value(n));
	}
	if (apx_conn_sync_lag(db, &lag) == 0) {
		apx_buf_adds(out, "# HELP apx_sync_lag_seconds Seconds since the "
		    "least recently synced active connection of a connector "
		    "last synced.\n# TYPE apx_sync_lag_seconds gauge\n");
		json_object_foreach(lag, k, v)
			apx_buf_printf(out, "apx_sync_lag_seconds{connector="
			    "\"%s\"} %lld\n", k, (long long)json_integer_value(v));
	}
	json_decref(depth);
	json_decref(lag);
	depth = NULL;
	if (apx_outbox_depth(db, APX_MAIL_MAX_ATTEMPTS, &depth) == 0) {
		apx_buf_adds(out, "# HELP apx_mail_outbox Mails of the outbox, "
		    "by state (due, failed: tried too often; sent_24h).\n"
		    "# TYPE apx_mail_outbox gauge\n");
		json_object_foreach(depth, st, n)
			apx_buf_printf(out, "apx_mail_outbox{state=\"%s\"} "
			    "%lld\n", st, (long long)json_integer_value(n));
	}
	json_decref(depth);
}
