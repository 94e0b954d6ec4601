/*
 * Retention of uploads (migration 0007): per org a number of days, and
 * per workspace an override. The purge deletes, in each tenant database,
 * the uploads older than their window together with their forecasts, in
 * batches of locked-and-skipped rows, so that purges may overlap and be
 * re-run. Each batch is audited (retention.purge, with its upload ids)
 * and recorded (retention_batches, migration 0011) before anything of it
 * is deleted; a batch whose tenant delete failed is finished by the next
 * purge.
 */
#ifndef APX_STORE_RETENTION_H
#define APX_STORE_RETENTION_H

#include <stdint.h>

#include <jansson.h>

struct apx_db;
struct apx_tenants;
struct apx_audit_entry;

#define APX_RETENTION_DAYS_MAX	3650
#define APX_RETENTION_BATCH	200

/* {retention: {upload_days: N|null, workspaces: [{workspace_id,
 * upload_days}]}} */
int	 apx_retention_get(struct apx_db *, int64_t, json_t **);
/*
 * Replace the org's policy with POLICY ({upload_days, workspaces}, as
 * checked by the caller; every workspace_id must be the org's, else
 * APX_ENOTFOUND), audited as E with before and after.
 */
int	 apx_retention_put(struct apx_db *, int64_t, json_t *,
	    struct apx_audit_entry *);

struct apx_retention_report {
	long long	 orgs;		/* orgs with a policy */
	long long	 uploads;	/* deleted */
	long long	 forecasts;	/* deleted */
	json_t		*failed;	/* slugs whose purge failed */
};

/*
 * Purge every org with a policy (through TENANTS, whose control-plane
 * connection is CTL). Failures of one org are logged and listed in the
 * report; the others go on. REQUEST_ID (may be NULL) goes into the audit
 * entries.
 */
int	 apx_retention_purge(struct apx_db *, struct apx_tenants *,
	    const char *, struct apx_retention_report *);

#endif
