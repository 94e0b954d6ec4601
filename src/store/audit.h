/*
 * Audit logs (append-only, hash-chained per log; migration 0003). An entry
 * is written inside the transaction of the action it records, so an action
 * whose audit entry cannot be written does not happen.
 */
#ifndef APX_STORE_AUDIT_H
#define APX_STORE_AUDIT_H

#include <stdint.h>
#include <stdio.h>

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

/*
 * Erase FIELDS (a SQL array literal of target, client_addr, before,
 * after) of the entries about KIND ("org" or "account") SUBJECT, as a
 * request recorded in the caller's transaction (migration 0009): the
 * database refuses any other field, a subject whose erasure is not under
 * way, and a commit that does not end the subject too.
 */
int	 apx_audit_erasure(struct apx_db *, const char *, int64_t,
	    const char *);

/*
 * Anchors: the head (seq and digest) of each log, written where the
 * database cannot change it (`accupredix-admin audit anchor`), one line
 * per log:
 *
 *	apx-audit-anchor/1 LOG SEQ DIGEST TIME
 *
 * LOG "platform" or "org:<id>", SEQ the head's seq, DIGEST its hash in 64
 * lower-case hex digits, TIME when it was taken (RFC 3339 UTC, seconds).
 */
#define APX_AUDIT_ANCHOR_TAG	"apx-audit-anchor/1"
#define APX_AUDIT_LOG_MAX	24	/* "org:" + 19 digits + NUL */
#define APX_AUDIT_HASH_HEX	64
#define APX_AUDIT_ANCHOR_LINE_MAX 160	/* bytes of a line, '\n' not counted */
#define APX_AUDIT_ANCHOR_LINES_MAX 10000000L

enum apx_audit_anchor_state {
	APX_AUDIT_ANCHOR_OK = 0,
	APX_AUDIT_ANCHOR_CHANGED,	/* the entry at SEQ has another digest */
	APX_AUDIT_ANCHOR_MISSING,	/* no entry at SEQ, later ones exist */
	APX_AUDIT_ANCHOR_SHORTER,	/* the chain ends before SEQ */
};

struct apx_audit_anchor {
	char		 log[APX_AUDIT_LOG_MAX];
	long long	 seq;
	char		 hash[APX_AUDIT_HASH_HEX + 1];
	int64_t		 at;
	unsigned long	 line;		/* in its file (0: none) */
	/* set by apx_audit_anchor_check() */
	enum apx_audit_anchor_state state;
	long long	 head;		/* the log's last seq (0: no entry) */
};

/* The line of A with its '\n' into OUT (LEN bytes): 0 or APX_ETOOBIG. */
int	 apx_audit_anchor_format(const struct apx_audit_anchor *, char *,
	    size_t);
/*
 * One line (LEN bytes, without its '\n') into *A: 0, or APX_EINVAL with
 * *WHY (a static string) saying what is wrong.
 */
int	 apx_audit_anchor_parse(const char *, size_t, struct apx_audit_anchor *,
	    const char **);

/* A file of anchor lines (operator input), read one line at a time. */
struct apx_audit_anchor_reader {
	FILE		*f;
	const char	*name;		/* for messages */
	unsigned long	 line;		/* lines read */
};
/*
 * The next anchor of R's file into *A: 1, 0 at the end of the file, or
 * APX_EINVAL (a malformed or over-long line, a NUL byte, more than
 * APX_AUDIT_ANCHOR_LINES_MAX lines) / APX_EIO with "NAME:LINE: why" in
 * ERR. Empty lines and lines starting with '#' are skipped.
 */
int	 apx_audit_anchor_next(struct apx_audit_anchor_reader *,
	    struct apx_audit_anchor *, char *, size_t);

/* The head of every log (or only LOG), in log order: *OUT (malloc'd, N). */
int	 apx_audit_heads(struct apx_db *, const char *,
	    struct apx_audit_anchor **, size_t *);
/*
 * Compare N anchors with the logs: each one's state and head are set;
 * *BAD counts those not APX_AUDIT_ANCHOR_OK.
 */
int	 apx_audit_anchor_check(struct apx_db *, struct apx_audit_anchor *,
	    size_t, size_t *);

#endif
