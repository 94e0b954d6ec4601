/*
 * Numbered SQL migrations, embedded in the binary at build time. Applied
 * in order, each in its own transaction, recorded in schema_migrations,
 * under an advisory lock so two runs never interleave.
 */
#ifndef APX_STORE_MIGRATE_H
#define APX_STORE_MIGRATE_H

#include <libpq-fe.h>

struct apx_migration {
	int		 version;
	const char	*name;
	const char	*sql;
};

/* Highest version this binary carries. */
int	 apx_migrate_latest(void);
/*
 * Apply what is missing. APP_ROLE (may be NULL) gets DML rights on the
 * tables. *APPLIED counts what this run applied.
 */
int	 apx_migrate_run(PGconn *, const char *, int *, char *, size_t);
/* The same for a tenant database (sql/tenant/), as its owner. */
int	 apx_migrate_tenant(PGconn *, int *, char *, size_t);
int	 apx_migrate_tenant_latest(void);
/* Highest applied version (0 if none, APX_EDB on error). */
int	 apx_migrate_current(PGconn *, int *);

struct apx_db;
/* The same through a worker's connection (reconnects; APX_EDBUNAVAIL). */
int	 apx_migrate_version(struct apx_db *, int *);

#endif
