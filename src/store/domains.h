/* Verified domains of an org (migration 0013; docs/api.md). */
#ifndef APX_STORE_DOMAINS_H
#define APX_STORE_DOMAINS_H

#include <stdint.h>

#include <jansson.h>

struct apx_db;
struct apx_audit_entry;

#define APX_DOMAIN_TXT_PREFIX	"_accupredix-challenge."
#define APX_DOMAIN_TXT_VALUE	"accupredix-domain-verification="

/* {domains: [{id, domain, verified, verified_at, txt_name, txt_value,
 * created_at, checked_at, last_error}]} */
int	 apx_domain_list(struct apx_db *, int64_t, json_t **);
/* One domain of ORG (same shape); APX_ENOTFOUND. */
int	 apx_domain_get(struct apx_db *, int64_t, int64_t, json_t **);
/* Claim DOMAIN with TOKEN, audited as E: APX_ECONFLICT when the org has
 * it already. */
int	 apx_domain_add(struct apx_db *, int64_t, const char *, const char *,
	    int64_t, struct apx_audit_entry *, json_t **);
/* Verified now, audited as E: APX_ECONFLICT when another org holds it
 * verified. */
int	 apx_domain_verified(struct apx_db *, int64_t, int64_t,
	    struct apx_audit_entry *, json_t **);
/* A failed check: its reason (a short code) and time. */
int	 apx_domain_failed(struct apx_db *, int64_t, int64_t, const char *);
/* Delete, audited as E (the row as before); APX_ENOTFOUND. */
int	 apx_domain_delete(struct apx_db *, int64_t, int64_t,
	    struct apx_audit_entry *);

#endif
