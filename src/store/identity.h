/*
 * Identity rows of the control-plane database: users, sessions with their
 * refresh tokens, login throttling, JWT public keys. Strings returned are
 * allocated in the request arena.
 */
#ifndef APX_STORE_IDENTITY_H
#define APX_STORE_IDENTITY_H

#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"

struct apx_db;

struct apx_user {
	int64_t		 id;
	const char	*email;
	const char	*name;
	const char	*password_hash;	/* may be NULL (SSO-only accounts) */
	int		 is_superuser;
	int64_t		 password_changed_at;
	int		 email_verified;	/* the owner proved the address */
};

#define APX_TOKEN_HASH_LEN	32	/* SHA-256 of a refresh token */

#define APX_USER_SUPERUSER	0x1
#define APX_USER_VERIFIED	0x2	/* the address is proven already */
/* A new account: EMAIL_NORM, EMAIL, NAME, HASH (may be NULL), FLAGS
 * (APX_USER_*). APX_ECONFLICT when the address has one. */
int	 apx_user_create(struct apx_db *, const char *, const char *,
	    const char *, const char *, int, int64_t *);
int	 apx_user_by_email(struct apx_db *, struct apx_arena *, const char *,
	    struct apx_user *);
int	 apx_user_by_id(struct apx_db *, struct apx_arena *, int64_t,
	    struct apx_user *);
/* Same hash, stronger parameters (rehash at login). */
int	 apx_user_set_password_hash(struct apx_db *, int64_t, const char *);
struct apx_audit_entry;
/*
 * A new password: hash and password_changed_at, every session of the user
 * but KEEP revoked (count in *N) and AUDIT written, in one transaction.
 * RESET (not NULL: the hash of a password-reset token of this user) is
 * spent in it, or nothing changes (APX_ENOTFOUND).
 */
int	 apx_user_change_password(struct apx_db *, int64_t, const char *,
	    int64_t, const unsigned char *, const struct apx_audit_entry *,
	    int *);

/*
 * A new session of UID from user agent UA and address ADDR, signed in as
 * AMR says (store/mfa.h: pwd, oidc, pwd+otp, oidc+otp, sso:<org id>),
 * and its first refresh token (hash), in one transaction.
 */
int	 apx_session_create(struct apx_db *, int64_t, const char *,
	    const char *, const char *, int64_t, const unsigned char *,
	    int64_t *);
/*
 * Spend refresh token OLD and store NEW for the same session. APX_EUNAUTH
 * when unknown, expired or revoked; APX_ECONFLICT when OLD was already
 * spent: the whole session is then revoked ("reuse"); SID/UID name it.
 */
/* On reuse, AUDIT (actor_id and target filled here) is written with the
 * revocation, in its transaction. NEXT (LEN bytes, may be NULL) is kept
 * with OLD when it is spent: the successor sealed for a second tab. OLD
 * spent less than GRACE seconds ago in a live session is no reuse: 0 with
 * *PREV (malloc'd) the NEXT kept then, and nothing changes. */
int	 apx_session_rotate(struct apx_db *, const unsigned char *,
	    const unsigned char *, const unsigned char *, size_t, int,
	    int64_t *, int64_t *, struct apx_audit_entry *, unsigned char **,
	    size_t *);
int	 apx_session_revoke(struct apx_db *, int64_t, int64_t, const char *);
/* Revoke every session of a user except KEEP (0: all). Count in *N. */
int	 apx_session_revoke_others(struct apx_db *, int64_t, int64_t,
	    const char *, int *);
/*
 * The user of session SID when the session is live and belongs to UID,
 * else APX_EUNAUTH: the check and the row in one round trip. *EXPIRES: the
 * session's expiry (seconds since the epoch).
 */
int	 apx_session_user(struct apx_db *, struct apx_arena *, int64_t,
	    int64_t, struct apx_user *, int64_t *);
/* Was session SID of UID made (signed in) less than SECONDS ago? 1, 0,
 * or an error. */
int	 apx_session_fresh(struct apx_db *, int64_t, int64_t, int);
struct apx_org_access;
/*
 * apx_session_user and, in the same round trip, what authz needs of org
 * SLUG (valid) for this user and workspace WS: ACC->id is 0 when there is
 * no such org; ACC->mfa_refused says whether the org requires a second
 * factor or its SSO that this session was not signed in with.
 */
int	 apx_session_user_org(struct apx_db *, struct apx_arena *, int64_t,
	    int64_t, const char *, int64_t, struct apx_user *,
	    struct apx_org_access *, int64_t *);
int	 apx_session_list(struct apx_db *, int64_t, int64_t, json_t **);

/*
 * Throttling in fixed windows. check: *RETRY > 0 (seconds) when SCOPE/KEY
 * has LIMIT or more failures in its window. fail: count one more.
 */
int	 apx_throttle_check(struct apx_db *, const char *, const char *, int,
	    int, int *);
int	 apx_throttle_fail(struct apx_db *, const char *, const char *, int);
int	 apx_throttle_clear(struct apx_db *, const char *, const char *);

#endif
