/*
 * Audit logs (append-only, hash-chained per log; migration 0003). An entry
 * is written inside the transaction of the action it records, so an action
 * whose audit entry cannot be written does not happen.
 */
#ifndef APX_STORE_AUDIT_H
#define APX_STORE_AUDIT_H

#include <jansson.h>

struct apx_db;

#define APX_AUDIT_PLATFORM	"platform"

struct apx_audit_entry {
	const char	*log;		/* "platform" or "org:<id>" */
	const char	*actor_type;	/* user, api_key, operator, system */
	const char	*actor_id;
	const char	*action;	/* e.g. "settings.update" */
	const char	*target;
	const char	*client_addr;
	const char	*request_id;
	json_t		*before;	/* borrowed; may be NULL */
	json_t		*after;		/* borrowed; may be NULL */
};

int	 apx_audit_append(struct apx_db *, const struct apx_audit_entry *);
/*
 * Walk every chain (or only LOG). 0 when intact; APX_ECONFLICT when a row
 * was changed, removed or re-linked: REPORT names the first broken row of
 * each damaged log. *ROWS counts the rows checked.
 */
int	 apx_audit_verify(struct apx_db *, const char *, long long *, char *,
	    size_t);

#endif
