/* Account helpers shared by the API and accupredix-admin. */
#ifndef APX_AUTH_ACCOUNT_H
#define APX_AUTH_ACCOUNT_H

#include "core/arena.h"

#define APX_EMAIL_MAX	254

/*
 * The lower-cased form of an email address used as the account key, or
 * NULL when S is not an address (no local part, no dotted domain, blanks,
 * control bytes, quotes or more than one '@').
 */
const char *apx_account_email_norm(struct apx_arena *, const char *);
/* Would apx_account_email_norm accept S? (An address that is safe in an
 * SMTP envelope and a header: no blank, control byte, quote or bracket.) */
int	 apx_account_email_ok(const char *);

#endif
