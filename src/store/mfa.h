/*
 * The second factor's rows (migration 0018): a user's sealed TOTP key and
 * the last step spent, the hashes of the recovery codes, and the
 * short-lived challenges a sign-in gets instead of a session. Only
 * hashes and sealed bytes come here; the crypto is auth/mfa.c's.
 */
#ifndef APX_STORE_MFA_H
#define APX_STORE_MFA_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"

struct apx_db;
struct apx_audit_entry;

#define APX_MFA_HASH_LEN	32	/* SHA-256 of a code or a token */

/*
 * SQL: true when org O (an alias) requires a second factor or its SSO
 * (org setting require_mfa) and session S (an alias) was signed in with
 * neither; false without an org.
 */
#define APX_MFA_REFUSED_COL(s, o)					\
	" coalesce(" o ".settings -> 'require_mfa' = '1'::jsonb"	\
	" AND NOT" APX_MFA_STRONG(s, o ".id") ", false)"
/* SQL: session S was signed in with a second factor or the SSO of org
 * ORG (an id expression). */
#define APX_MFA_STRONG(s, org)						\
	" (" s ".amr LIKE '%+otp' OR " s ".amr = 'sso:' || " org ")"
/* Session SID was signed in so (APX_MFA_STRONG): 1, 0, or an error. */
int	 apx_mfa_session_strong(struct apx_db *, int64_t, int64_t);

struct apx_mfa_row {
	unsigned char	*sealed;	/* malloc'd */
	size_t		 sealed_len;
	int		 confirmed;
	int64_t		 last_step;	/* -1: none spent */
};

/* {enabled, confirmed_at, recovery_codes_left} of user UID. */
int	 apx_mfa_status(struct apx_db *, int64_t, json_t **);
/* Has UID a confirmed second factor? 1, 0, or an error. */
int	 apx_mfa_enabled(struct apx_db *, int64_t);
/* UID's key row (APX_ENOTFOUND: none); apx_mfa_row_clear frees it. */
int	 apx_mfa_get(struct apx_db *, int64_t, struct apx_mfa_row *);
void	 apx_mfa_row_clear(struct apx_mfa_row *);
/*
 * A new, unconfirmed key SEALED (LEN bytes) for UID, in place of an
 * unconfirmed one: APX_ECONFLICT when UID's second factor is confirmed.
 */
int	 apx_mfa_begin(struct apx_db *, int64_t, const unsigned char *,
	    size_t);
/*
 * Spend time step STEP of UID's confirmed key: APX_ECONFLICT when that
 * step or a later one was spent meanwhile (a replay that raced).
 */
int	 apx_mfa_spend_step(struct apx_db *, int64_t, int64_t);
/*
 * Confirm UID's key with the code of step STEP and make HASHES (N of
 * APX_MFA_HASH_LEN bytes) its recovery codes, audited as AUDIT, in one
 * transaction: APX_ECONFLICT when the key was confirmed or replaced
 * meanwhile (SEALED, LEN: the key the code was checked against).
 */
int	 apx_mfa_confirm_key(struct apx_db *, int64_t, const unsigned char *,
	    size_t, int64_t, const unsigned char *, int,
	    const struct apx_audit_entry *);
/* Replace UID's recovery codes by HASHES (N), audited: APX_ENOTFOUND
 * without a confirmed second factor. */
int	 apx_mfa_recovery_replace(struct apx_db *, int64_t,
	    const unsigned char *, int, const struct apx_audit_entry *);
/* Spend UID's unused recovery code of hash HASH, audited (*LEFT: unused
 * codes left): APX_ENOTFOUND when there is no such code. */
int	 apx_mfa_recovery_spend(struct apx_db *, int64_t, const unsigned char *,
	    const struct apx_audit_entry *, int *);
/* Remove UID's key and recovery codes, audited: APX_ENOTFOUND when
 * there was none. */
int	 apx_mfa_disable(struct apx_db *, int64_t,
	    const struct apx_audit_entry *);

struct apx_mfa_challenge {
	int64_t		 id;
	int64_t		 uid;
	const char	*amr;		/* the first factor: pwd, oidc */
	const char	*email_norm;	/* the account's, for throttling */
};

/*
 * A challenge of token hash HASH for UID after first factor AMR, from
 * user agent UA and address ADDR, living TTL seconds. Expired challenges
 * of everyone are dropped on the way.
 */
int	 apx_mfa_challenge_create(struct apx_db *, int64_t,
	    const unsigned char *, const char *, const char *, const char *,
	    int);
/* The live challenge of hash HASH (unspent, unexpired, fewer than TRIES
 * wrong codes): APX_ENOTFOUND otherwise. */
int	 apx_mfa_challenge_find(struct apx_db *, struct apx_arena *,
	    const unsigned char *, int, struct apx_mfa_challenge *);
/* One more wrong code for challenge ID. */
int	 apx_mfa_challenge_fail(struct apx_db *, int64_t);
/* Spend challenge ID if it is still live (fewer than TRIES wrong codes):
 * APX_ENOTFOUND otherwise. */
int	 apx_mfa_challenge_spend(struct apx_db *, int64_t, int);

#endif
