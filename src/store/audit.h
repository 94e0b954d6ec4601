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
 * The end of an audited change: append E with BEFORE and AFTER (borrowed;
 * either may be NULL) and commit the caller's transaction, or roll it back
 * when either fails. E's before/after are left NULL.
 */
int	 apx_audit_commit(struct apx_db *, struct apx_audit_entry *, json_t *,
	    json_t *);
/*
 * One statement that changes a row and answers its state as one JSON value
 * (apx_db_json), audited as E in the same transaction with that value as
 * "after" (AS_BEFORE: as "before", for a deletion). APX_ENOTFOUND when no
 * row answered (nothing changed). *OUT (if OUT is not NULL) gets the value.
 */
int	 apx_audit_change(struct apx_db *, struct apx_audit_entry *, int,
	    json_t **, const char *, int, const char *const *);
/* What GET .../audit-log asks for; NULL / 0 members do not filter. */
struct apx_audit_filter {
	const char	*actor;		/* actor_id */
	const char	*action;	/* exact, or a prefix ending in '.' */
	const char	*since;		/* RFC 3339, inclusive */
	const char	*until;		/* RFC 3339, exclusive */
	long long	 before_seq;	/* cursor: entries older than this */
	int		 limit;
};

#define APX_AUDIT_EXPORT_MAX	100000

/* One page of LOG, newest first: {entries: [...], next_cursor}. */
int	 apx_audit_query(struct apx_db *, const char *,
	    const struct apx_audit_filter *, json_t **);
struct apx_buf;
/* Every matching entry of LOG (at most APX_AUDIT_EXPORT_MAX), newest
 * first, as JSON Lines appended to OUT. */
int	 apx_audit_export(struct apx_db *, const char *,
	    const struct apx_audit_filter *, struct apx_buf *);
/*
 * Walk every chain (or only LOG). 0 when intact; APX_ECONFLICT when a row
 * was changed, removed or re-linked: REPORT names the first broken row of
 * each damaged log. *ROWS counts the rows checked.
 */
int	 apx_audit_verify(struct apx_db *, const char *, long long *, char *,
	    size_t);

#endif
