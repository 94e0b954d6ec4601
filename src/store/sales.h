/*
 * SQL of connector data in a tenant database (tenant migration 0003):
 * webhook events, sales records, where a connection's sync stands, the
 * daily series it feeds, and providers' privacy requests.
 */
#ifndef APX_STORE_SALES_H
#define APX_STORE_SALES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct apx_db;

/*
 * Store an event once per (connector, connection, event id): *ID its row,
 * *FRESH 1 when this call stored it, *PENDING 1 while it is unprocessed.
 */
int	 apx_whevent_store(struct apx_db *, const char *, int64_t, const char *,
	    const char *, const char *, const char *, int64_t *, int *, int *);
/* {connector, connection_id, event_id, type, account_id, payload (text),
 * processed} of event ID; APX_ENOTFOUND. */
int	 apx_whevent_get(struct apx_db *, int64_t, json_t **);
int	 apx_whevent_done(struct apx_db *, int64_t, const char *);

/*
 * Upsert SALES ([{id, kind, date, amount, currency, voided}]) of
 * connection CONN and, when CURSOR is not NULL, set its sync cursor
 * (DONE: the run finished) in the same transaction.
 */
int	 apx_sales_put(struct apx_db *, int64_t, json_t *, const char *, int);
/* The cursor of connection CONN (*CURSOR malloc'd, NULL when none) and
 * whether the last run finished. */
int	 apx_sales_cursor(struct apx_db *, int64_t, char **, int *);
/*
 * Rebuild the daily series of connection CONN as upload NAME in workspace
 * WS (columns date, orders, sales; every day from the first to the last,
 * zero when nothing sold): *UPLOAD its id, *DAYS its rows.
 */
int	 apx_sales_series(struct apx_db *, int64_t, int64_t, const char *,
	    int64_t *, long long *);
/* Erase everything of connection CONN here: records, events, cursor,
 * series; *RECORDS counts the records. */
int	 apx_sales_forget(struct apx_db *, int64_t, long long *);
/* Record a provider's privacy request KIND with SUBJECT and RESULT. */
int	 apx_privacy_request_add(struct apx_db *, const char *, const char *,
	    json_t *, json_t *);

#endif
