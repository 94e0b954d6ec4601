#include "config.h"

#include "core/apx.h"
#include "store/db.h"
#include "store/metrics_store.h"

int
apx_metrics_store_add(struct apx_db *db, const char *deltas)
{
	const char *params[1] = { deltas };
	PGresult *res;
	int rc;

	/* Not retried: a lost answer may hide a committed add. */
	rc = apx_db_query(db, 0, &res,
	    "INSERT INTO metric_counters (name, labels, grp, ord, value) "
	    "SELECT x.n, x.l, x.g, x.o, x.v "
	    "FROM jsonb_to_recordset($1::jsonb) AS x(n text, l text, g text, "
	    "o integer, v double precision) "
	    "ON CONFLICT (name, labels) DO UPDATE "
	    "SET value = metric_counters.value + EXCLUDED.value", 1, params);
	if (rc == 0)
		PQclear(res);
	return rc;
}

int
apx_metrics_store_read(struct apx_db *db, PGresult **out)
{
	return apx_db_query(db, APX_DB_RETRY, out,
	    "SELECT name, labels, value FROM metric_counters "
	    "ORDER BY name, grp, ord, labels", 0, NULL);
}
