/*
 * The second factor of an account: a TOTP key (totp.h) sealed by the
 * vault for the user, confirmed by a first code; ten single-use recovery
 * codes kept as hashes; and the gate of every sign-in, which gives an
 * account with a confirmed second factor a five-minute challenge instead
 * of a session. Codes, keys and challenges never reach a log line.
 */
#ifndef APX_AUTH_MFA_H
#define APX_AUTH_MFA_H

#include <stdint.h>

#include "auth/totp.h"

struct apx_ctx;
struct apx_user;
struct apx_audit_entry;

#define APX_MFA_CHALLENGE_TTL	300	/* seconds */
#define APX_MFA_TRIES		5	/* wrong codes a challenge survives */
#define APX_MFA_RECOVERY_CODES	10
/* Four groups of four base32 characters joined by hyphens (19 bytes):
 * 80 random bits, lower case. */
#define APX_MFA_RECOVERY_LEN	19
#define APX_MFA_PURPOSE		"mfa"	/* the vault's, owner "platform" */

/* How the first factor was given, which says how the gate answers. */
enum apx_mfa_via {
	APX_MFA_VIA_PASSWORD,	/* amr pwd: 200 {mfa_required, challenge} */
	APX_MFA_VIA_PROVIDER,	/* amr oidc: 303 to /login?mfa=<challenge> */
};

/*
 * The sign-in of USER has passed its first factor. Without a confirmed
 * second factor: 0 and *ANSWERED 0 (the caller makes the session).
 * With one: a challenge is made, the answer set (no session, no cookie),
 * *ANSWERED 1.
 */
int	 apx_mfa_gate(struct apx_ctx *, const struct apx_user *,
	    enum apx_mfa_via, int *);

/*
 * Start (or start again) the enrolment of USER: a new key, unconfirmed,
 * its base32 in SECRET and the otpauth:// URI in *URI (request arena).
 * APX_ECONFLICT when USER's second factor is confirmed, APX_ENOKEY
 * without a vault key.
 */
int	 apx_mfa_enrol(struct apx_ctx *, const struct apx_user *,
	    char[APX_TOTP_SECRET_B32], const char **);
/*
 * Confirm UID's enrolment with CODE: the ten recovery codes into CODES
 * (shown once), audited as AUDIT. APX_EUNAUTH for a wrong code,
 * APX_ENOTFOUND when no enrolment was started, APX_ECONFLICT when it is
 * confirmed already.
 */
int	 apx_mfa_confirm(struct apx_ctx *, int64_t, const char *,
	    const struct apx_audit_entry *,
	    char[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1]);
/*
 * UID's second factor: CODE is a TOTP code (six digits; its time step
 * is spent) or a recovery code (spent, audited as RECOVERY with the
 * codes left). 0, APX_EUNAUTH for a wrong, spent or replayed code,
 * APX_ENOTFOUND without a confirmed second factor.
 */
int	 apx_mfa_check(struct apx_ctx *, int64_t, const char *,
	    struct apx_audit_entry *);
/* Ten new recovery codes for UID (the old ones void), audited as AUDIT:
 * APX_ENOTFOUND without a confirmed second factor. */
int	 apx_mfa_recovery_renew(struct apx_ctx *, int64_t,
	    const struct apx_audit_entry *,
	    char[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1]);

#endif
