/*
 * What the platform console reads and does: search of orgs and users,
 * impersonation grants (read-only, short-lived, audited in the platform
 * log and in the log of every org of the user).
 */
#ifndef APX_STORE_ADMIN_H
#define APX_STORE_ADMIN_H

#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "store/identity.h"

struct apx_db;
struct apx_audit_entry;

/* Q (may be NULL) is a case-insensitive substring; AFTER the cursor. */
int	 apx_admin_orgs(struct apx_db *, const char *, int, long long,
	    json_t **);
int	 apx_admin_org(struct apx_db *, const char *, json_t **);
int	 apx_admin_users(struct apx_db *, const char *, int, long long,
	    json_t **);

/*
 * Open a grant for OPERATOR to read as USER for TTL seconds. APX_ENOTFOUND
 * for no such user, APX_EINVAL for a superuser. AUDIT (platform) is also
 * copied into the log of each of the user's orgs. *ID: the grant.
 */
int	 apx_impersonation_start(struct apx_db *, int64_t, int64_t,
	    const char *, long long, struct apx_audit_entry *, int64_t *);
/* The user of open grant IMP (for UID by OPERATOR), else APX_EUNAUTH. */
int	 apx_impersonation_user(struct apx_db *, struct apx_arena *, int64_t,
	    int64_t, int64_t, struct apx_user *);
/* Close grant ID (if open; else APX_ENOTFOUND), audited the same way. */
int	 apx_impersonation_end(struct apx_db *, int64_t,
	    struct apx_audit_entry *);
/*
 * Record one use of grant IMP: the platform entry and, for an org route,
 * the org's (ORG_ID > 0), in one transaction.
 */
int	 apx_impersonation_use(struct apx_db *, int64_t,
	    struct apx_audit_entry *);

#endif
