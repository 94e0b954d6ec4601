/*
 * Passwords: argon2id through libsodium (PHC strings), the password policy
 * (12-256 bytes as received, common and personal passwords refused), and
 * timing equalisation for accounts that do not exist.
 */
#ifndef APX_AUTH_PASSWORD_H
#define APX_AUTH_PASSWORD_H

#include <stddef.h>

#define APX_PASSWORD_MIN	12
#define APX_PASSWORD_MAX	256
#define APX_PASSWORD_HASH_MAX	128	/* >= crypto_pwhash_STRBYTES */

struct apx_pwparams {
	unsigned long long	 t;	/* passes (opslimit), >= 2 */
	size_t			 m;	/* memory in bytes, >= 19 MiB */
};

/* OWASP minimum for argon2id: m = 19 MiB, t = 2, p = 1. */
void	 apx_password_params_default(struct apx_pwparams *);

/*
 * Policy check of a new password; EMAIL and NAME (may be NULL) are the
 * account's own, which the password must not be built from. On refusal
 * *REASON is a sentence for the client (never the password).
 */
int	 apx_password_check(const char *, size_t, const char *, const char *,
	    const char **);
/* Hash into OUT (NUL-terminated PHC string). */
int	 apx_password_hash(const struct apx_pwparams *, const char *, size_t,
	    char[APX_PASSWORD_HASH_MAX]);
/* 0 when PW matches HASH, APX_EUNAUTH otherwise (constant time inside). */
int	 apx_password_verify(const char *, const char *, size_t);
/* Does HASH use weaker parameters than P (or another algorithm)? */
int	 apx_password_needs_rehash(const char *, const struct apx_pwparams *);
/*
 * Spend the same work as a verification against a real hash: used when
 * the account is unknown so that both answers take the same time.
 */
void	 apx_password_dummy_verify(const struct apx_pwparams *, const char *,
	    size_t);
/*
 * The PHC string apx_password_dummy_verify verifies against: random bytes
 * with P's parameters, made without hashing (NULL only if P's figures do
 * not fit APX_PASSWORD_HASH_MAX).  Kept per process until P changes.
 */
const char	*apx_password_dummy(const struct apx_pwparams *);
/* Is the lower-cased word on the common-password list? */
int	 apx_password_is_common(const char *, size_t);

#endif
