/* Aggregated metric counters in the control-plane database. */
#ifndef APX_STORE_METRICS_STORE_H
#define APX_STORE_METRICS_STORE_H

#include <libpq-fe.h>

struct apx_db;

/* DELTAS_JSON: [{"n":name,"l":labels,"g":group,"o":order,"v":delta}, ...] */
int	 apx_metrics_store_add(struct apx_db *, const char *);
/* Rows (name, labels, value) ordered for exposition; caller clears. */
int	 apx_metrics_store_read(struct apx_db *, PGresult **);

#endif
