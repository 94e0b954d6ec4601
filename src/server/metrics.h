/*
 * Request metrics. Each worker counts in memory and adds its deltas to
 * Postgres (metric_counters) at most every few seconds, when they are due
 * while it waits for a request, and at exit, so /internal/metrics shows
 * the sum over every worker of every server within seconds.
 */
#ifndef APX_SERVER_METRICS_H
#define APX_SERVER_METRICS_H

#include <stdint.h>

#include "core/buf.h"

struct apx_db;

void	 apx_metrics_request(const char *, const char *, int, uint64_t);
void	 apx_metrics_inc(const char *, double);
/* A counter with LABELS ('k="v",...': bounded values only). */
void	 apx_metrics_add(const char *, const char *, double);
/* Flush when due (FORCE: now). Keeps deltas when the database is down. */
void	 apx_metrics_flush(struct apx_db *, int);
/* Milliseconds until the counts held are due to be flushed (0: now), or
 * -1 when every count is in the database. */
long	 apx_metrics_due_ms(void);
/* Prometheus text exposition of the aggregated counters. */
int	 apx_metrics_render(struct apx_db *, struct apx_buf *);

#endif
