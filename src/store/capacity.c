/*
 * The connection-capacity check of store/capacity.h: once per process at
 * start (and by --check-config), never per request.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/capacity.h"

static int	 server_check(const char *, const struct apx_secret *,
		    long long, long long);

/* WHAT's server (reached with CONNINFO) against NEED connections. */
static int
server_check(const char *what, const struct apx_secret *conninfo,
    long long need, long long per)
{
	static const char *const kw[] = { "dbname", "connect_timeout",
	    "application_name", NULL };
	const char *val[] = { apx_secret_str(conninfo), "3",
	    "accupredix-capacity", NULL };
	PGconn *c;
	PGresult *res = NULL;
	long long max = 0, reserved = 0;
	int short_of = 0;

	c = PQconnectdbParams(kw, val, 1);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		apx_log_info("connection check: %s not reachable now; "
		    "max_connections not checked", what);
		goto out;
	}
	res = PQexec(c, "SELECT current_setting('max_connections'),"
	    " current_setting('superuser_reserved_connections')");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1 ||
	    apx_parse_ll(PQgetvalue(res, 0, 0), 0, 1000000, &max) != 0 ||
	    apx_parse_ll(PQgetvalue(res, 0, 1), 0, 1000000, &reserved) != 0) {
		apx_log_info("connection check: cannot read max_connections "
		    "of %s", what);
		goto out;
	}
	if (max - reserved < need) {
		apx_log_warn("%s (%s:%s) has max_connections = %lld "
		    "(%lld reserved for superusers) but the app may open "
		    "%lld: %lld processes (capacity.processes or --workers) "
		    "x %lld connections (1 control + tenant.max_connections); "
		    "raise max_connections or lower the process count",
		    what, PQhost(c), PQport(c), max, reserved, need,
		    need / per, per);
		short_of = 1;
	}
out:
	PQclear(res);
	PQfinish(c);
	return short_of;
}

int
apx_capacity_check(const struct apx_conf *conf, long long processes)
{
	char what[APX_REGION_NAME_MAX + 64];
	long long per = 1 + conf->tenant_max_conns, need;
	size_t i;
	int n = 0;

	need = processes * per;
	n += server_check("the control-plane PostgreSQL server",
	    conf->db_conninfo, need, per);
	for (i = 0; i < conf->nregions; i++) {
		snprintf(what, sizeof(what), "the PostgreSQL server of region "
		    "%s", conf->regions[i].name);
		n += server_check(what, conf->regions[i].conninfo, need, per);
	}
	return n;
}
