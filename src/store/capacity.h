/*
 * Does each PostgreSQL server hold the connections the app may open?
 * Every app process keeps one control-plane connection and up to
 * tenant.max_connections tenant connections; a server must have that many
 * non-reserved connections for every process.
 */
#ifndef APX_STORE_CAPACITY_H
#define APX_STORE_CAPACITY_H

#include "core/conf.h"

/*
 * Check the control server (db.conninfo) and every region's server for
 * PROCESSES app processes; each server that is short gets one warn line
 * naming it and the numbers. Servers that cannot be reached are skipped
 * (info line). Returns the number of servers found short.
 */
int	 apx_capacity_check(const struct apx_conf *, long long);

#endif
