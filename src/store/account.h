/*
 * The account lifecycle's rows (control database, migration 0017):
 * single-use account tokens (email verification, password reset), the
 * verified flag, the networks and devices an account signed in from, and
 * the per-account login delay.
 */
#ifndef APX_STORE_ACCOUNT_H
#define APX_STORE_ACCOUNT_H

#include <stdint.h>

struct apx_db;
struct apx_audit_entry;

#define APX_ACCT_VERIFY	"verify"
#define APX_ACCT_RESET	"reset"

/*
 * A new token of PURPOSE for UID, HASH (SHA-256 of its text) kept, valid
 * TTL seconds; the user's earlier unspent tokens of that purpose die.
 */
int	 apx_acct_token_put(struct apx_db *, int64_t, const char *,
	    const unsigned char *, long long);
/*
 * The user of the live token of PURPOSE whose hash is HASH, without
 * spending it: APX_ENOTFOUND when unknown, spent, expired or of another
 * purpose (one answer for all).
 */
int	 apx_acct_token_owner(struct apx_db *, const char *,
	    const unsigned char *, int64_t *);
/*
 * Mark an address verified and audit it as AUDIT (its target filled
 * here; a NULL actor_id becomes the user), in one transaction: the
 * account of EMAIL_NORM (the support path, accupredix-admin user verify),
 * or the owner of the live verification token whose hash is HASH (spent).
 * APX_ENOTFOUND when there is no such account or token.
 */
int	 apx_account_verify(struct apx_db *, const char *,
	    const unsigned char *, struct apx_audit_entry *, int64_t *);

#define APX_KNOWN_NEW_NET	0x1
#define APX_KNOWN_NEW_AGENT	0x2
#define APX_KNOWN_FIRST		0x4	/* nothing was known: a first sign-in */
/*
 * UID signed in from network NET and device AGENT (a digest): remember
 * both; *NEWS gets the APX_KNOWN_* bits of what was not known before.
 */
int	 apx_known_note(struct apx_db *, int64_t, const char *, const char *,
	    int *);

/*
 * The per-account login delay of KEY (the normalised address): once it
 * has AFTER or more failures within the hour, each attempt waits 2^(n -
 * AFTER) seconds (at most 15 minutes) after the last failure, *RETRY the
 * seconds left (0: go on). Never for network NET when it is one UID has
 * signed in from (UID 0: unknown account, no network is known).
 */
int	 apx_login_delay(struct apx_db *, const char *, int64_t, const char *,
	    int, int *);

#define APX_THROTTLE_ACCOUNT	"acct"
#define APX_ACCOUNT_WINDOW	3600

#endif
