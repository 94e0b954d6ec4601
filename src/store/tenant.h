/*
 * Tenant databases: each org has its own PostgreSQL database
 * accupredix_t_<slug> on the server of its region, owned by a role of
 * the same name that may connect to nothing else. Its password is random,
 * known only sealed by the vault (owner org:<id>, purpose tenant_db) and as
 * a SCRAM verifier on the server.
 *
 * Creating one (apx_tenant_create) runs outside any control-plane
 * transaction, so an org is made in three steps: reserve the slug and id
 * (a committed tenant_provisioning row), create role + database and run
 * the tenant migrations, then write the org and delete the reservation in
 * one transaction. A failure after the first step drops what was made
 * (apx_tenant_drop); a process that died in between leaves its
 * reservation, which apx_tenant_cleanup finishes.
 */
#ifndef APX_STORE_TENANT_H
#define APX_STORE_TENANT_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"

struct apx_db;
struct apx_vault;

#define APX_TENANT_DB_PREFIX	"accupredix_t_"
#define APX_TENANT_NAME_MAX	63		/* a PostgreSQL identifier */
#define APX_TENANT_PURPOSE	"tenant_db"
/* A reservation older than this belongs to a process that died. */
#define APX_TENANT_STALE_S	600

/* "accupredix_t_<slug>" into OUT (APX_TENANT_NAME_MAX + 1); APX_EINVAL
 * for a slug that is not one. */
int	 apx_tenant_name(const char *, char *, size_t);
/* "org:<id>" into OUT. */
void	 apx_tenant_owner(int64_t, char *, size_t);

/*
 * Take SLUG and a new org id for an org in REGION (committed at once).
 * APX_ECONFLICT when an org or another creation has the slug.
 */
int	 apx_tenant_reserve(struct apx_db *, const char *, const char *,
	    int64_t *);
/* Give the reservation of SLUG back (after apx_tenant_drop). */
int	 apx_tenant_release(struct apx_db *, const char *);
/*
 * Create role and database of org ORG (SLUG) on the server of REGION and
 * migrate it. *SEALED (malloc'd) is the role's password for
 * orgs.tenant_secret. APX_EDBUNAVAIL when the region's server cannot be
 * reached, APX_ENOKEY when the vault cannot seal, APX_ECONFLICT when the
 * role or database already exists there (never dropped by this call).
 * What it made before failing it drops again.
 */
int	 apx_tenant_create(const struct apx_conf *, struct apx_db *,
	    struct apx_vault *, const char *, const char *, int64_t,
	    unsigned char **, size_t *);
/*
 * Drop database and role of SLUG on REGION's server (connections to it
 * are ended) and the vault's keys of org ORG. Idempotent.
 */
int	 apx_tenant_drop(const struct apx_conf *, struct apx_db *,
	    struct apx_vault *, const char *, const char *, int64_t);
/*
 * Finish reservations older than OLDER seconds: drop what they made,
 * release them. *DONE counts them.
 */
int	 apx_tenant_cleanup(const struct apx_conf *, struct apx_db *,
	    struct apx_vault *, int, int *);
/*
 * Migrate every org's database, creating those that do not exist yet
 * (orgs made before tenant databases). Counts in *OK and *FAILED; a
 * failure is logged and the others go on.
 */
int	 apx_tenant_migrate_all(const struct apx_conf *, struct apx_db *,
	    struct apx_vault *, int *, int *);

/*
 * A worker's connections to tenant databases: at most MAX, the least
 * recently used one closed for a new one. A connection is opened only
 * when asked for, i.e. after authorisation.
 */
struct apx_tenants;

struct apx_tenants *apx_tenants_new(const struct apx_conf *, struct apx_db *,
	    size_t);
void	 apx_tenants_free(struct apx_tenants *);
/*
 * The database of org ORG (connected lazily by its first query).
 * APX_ENOTFOUND for no such org, APX_ENOKEY / APX_ECRYPTO when its
 * password does not open, APX_EDBUNAVAIL for the control plane.
 */
int	 apx_tenants_db(struct apx_tenants *, int64_t, struct apx_db **);
/* Close the connection of ORG, if any (before its database is dropped). */
void	 apx_tenants_forget(struct apx_tenants *, int64_t);

#endif
