/*
 * SQL of the connector platform (migration 0012): OAuth states, per-org
 * connector settings, connections and their accounts, plugin vault slots.
 * Sealing and opening is the caller's (connect/, auth/): what is stored
 * here as "sealed" is a vault record, passed as bytes.
 */
#ifndef APX_STORE_CONNECT_H
#define APX_STORE_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct apx_db;
struct apx_audit_entry;

/* ---- OAuth states */

#define APX_STATE_HASH_LEN	32

/* Store a state; expired states are purged (a batch) on the way. */
int	 apx_state_insert(struct apx_db *, const unsigned char *,
	    const unsigned char *, const char *, int64_t, int64_t,
	    const unsigned char *, size_t, int);
/*
 * Take the state of hash H for browser B and PURPOSE (one atomic DELETE):
 * 0 with *ORG, *USER and the sealed *DATA (malloc'd, NULL when none), or
 * APX_EUNAUTH with *WHY ("unknown or used", "expired", "another browser",
 * "another purpose").
 */
int	 apx_state_take(struct apx_db *, const unsigned char *,
	    const unsigned char *, const char *, int64_t *, int64_t *,
	    unsigned char **, size_t *, const char **);
/* Delete up to N expired states; *DONE counts them. */
int	 apx_state_purge(struct apx_db *, int, long long *);

/* ---- per-org settings */

/*
 * The settings of ORG for CONNECTOR: {field: {"value": text} or
 * {"sealed": hex}}, an empty object when none.
 */
int	 apx_csettings_get(struct apx_db *, int64_t, const char *, json_t **);
/*
 * Apply CHANGES, an array of {field, value} (plain text), {field, sealed}
 * (the record as hex) or {field, null} (delete), in one transaction
 * audited as E (before/after: the caller's redacted views).
 */
int	 apx_csettings_put(struct apx_db *, int64_t, const char *, json_t *,
	    struct apx_audit_entry *, json_t *, json_t *);

/* ---- connections */

/* The connections of ORG (no secret): {"connections": [...]}. */
int	 apx_conn_list(struct apx_db *, int64_t, json_t **);
/* One connection of ORG, the same shape; APX_ENOTFOUND. */
int	 apx_conn_get(struct apx_db *, int64_t, int64_t, json_t **);

/* A connection's row as the host needs it (the sealed tokens). */
struct apx_conn_row {
	int64_t		 id;
	int64_t		 org;
	char		 connector[33];
	int		 needs_reauth;
	unsigned char	*tokens;	/* sealed, malloc'd, NULL when none */
	size_t		 tokens_len;
	int64_t		 access_expires;	/* 0: does not expire */
	char		*first_account;	/* malloc'd */
};
void	 apx_conn_row_clear(struct apx_conn_row *);
/*
 * Read connection ID of ORG; FOR_UPDATE locks the row (inside the
 * caller's transaction). APX_ENOTFOUND.
 */
int	 apx_conn_read(struct apx_db *, int64_t, int64_t, int, struct
	    apx_conn_row *);
/*
 * In the caller's transaction: the connection of ORG and CONNECTOR that
 * reaches one of ACCOUNTS (a JSON array of {id, name}) locked, or a new
 * one. *ID, *EXISTED.
 */
int	 apx_conn_claim(struct apx_db *, int64_t, const char *, json_t *,
	    int64_t, int64_t *, int *);
/*
 * In the caller's transaction: set the tokens (sealed) and their
 * expiries (seconds from now; 0 none), the scopes, status active, and
 * (ACCOUNTS not NULL) replace the accounts.
 */
int	 apx_conn_set_tokens(struct apx_db *, int64_t, const unsigned char *,
	    size_t, int64_t, int64_t, const char *, json_t *, int);
/* Mark needs_reauth with REASON (a short code), tokens kept. */
int	 apx_conn_mark(struct apx_db *, int64_t, const char *);
/* Record the last error (a short code) of a connection, or clear it. */
int	 apx_conn_note(struct apx_db *, int64_t, const char *);
/* Delete connection ID of ORG and its plugin slots (in the caller's
 * transaction). */
int	 apx_conn_delete(struct apx_db *, int64_t, int64_t);

/* ---- plugin vault slots */

int	 apx_cslot_put(struct apx_db *, int64_t, const char *, int64_t,
	    const char *, const unsigned char *, size_t);
/* *SEALED malloc'd; APX_ENOTFOUND. */
int	 apx_cslot_get(struct apx_db *, int64_t, const char *, int64_t,
	    const char *, unsigned char **, size_t *);
int	 apx_cslot_delete(struct apx_db *, int64_t, const char *, int64_t,
	    const char *);

/* Is USER (an active account) an owner or admin of ORG (active)? 1/0,
 * or a negative code. */
int	 apx_conn_may_connect(struct apx_db *, int64_t, int64_t);

/* ---- events (tenant database) */

int	 apx_cevent_insert(struct apx_db *, const char *, int64_t,
	    const char *, const char *);

#endif
