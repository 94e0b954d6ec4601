/*
 * Inside the vault: the keyring shared by vault.c (KEKs, the public calls)
 * and dek.c (data keys: the per-process cache, generations, seal budgets).
 * Nothing outside src/vault/ includes this.
 */
#ifndef APX_VAULT_VAULT_INT_H
#define APX_VAULT_VAULT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

#define APX_VAULT_DEK_CACHE	32
#define APX_VAULT_DEK_PURPOSE	"dek"	/* AAD purpose of a wrapped key */

struct apx_vault_kek {
	uint32_t	 version;
	unsigned char	*key;		/* sodium_malloc: locked, guarded */
};

/* A data key this process has unwrapped. */
struct apx_vault_dek {
	uint64_t	 id;
	char		 owner[32];
	char		 purpose[40];
	unsigned char	*key;		/* sodium_malloc */
	int		 mac;		/* an HMAC key: no nonce, no budget */
	int		 current;	/* the one that seals (as of CHECKED) */
	uint64_t	 checked;	/* apx_now_us() when last confirmed */
	uint32_t	 left;		/* seals reserved and not yet used */
	uint32_t	 block;		/* size of the last reservation */
	int		 warned;	/* budget warning logged */
};

struct apx_vault {
	struct apx_vault_kek	 keks[APX_VAULT_MAX_KEKS];
	size_t			 nkeks;
	uint32_t		 current;
	int			 plaintext;
	struct apx_vault_dek	 deks[APX_VAULT_DEK_CACHE];
	size_t			 ndeks, next;
};

/* The KEK of VERSION, or NULL. */
const unsigned char *apx_vault_kek(const struct apx_vault *, uint32_t);
/* Wrap / unwrap KEY (APX_VAULT_KEY_LEN bytes) of data key ID of OWNER
 * and PURPOSE: a sealed record of its own under the current KEK. */
int	 apx_vault_dek_wrap(struct apx_vault *, uint64_t, const char *,
	    const char *, const unsigned char *, unsigned char **, size_t *);
int	 apx_vault_dek_unwrap(struct apx_vault *, uint64_t, const char *,
	    const char *, const unsigned char *, size_t, unsigned char *);
/*
 * The current data key of OWNER/PURPOSE, made (an HMAC key when MAC) if
 * there is none. A cached one is trusted for APX_VAULT_RECHECK_US, then
 * looked up again, so a rotation reaches every process within that time.
 */
int	 apx_vault_dek_current(struct apx_vault *, struct apx_db *,
	    const char *, const char *, int, struct apx_vault_dek **);
/* Data key ID of OWNER/PURPOSE (current or not), for opening. */
int	 apx_vault_dek_by_id(struct apx_vault *, struct apx_db *, uint64_t,
	    const char *, const char *, struct apx_vault_dek **);
/*
 * Take one seal from the budget of the current key *D (reserving a block
 * in its row when the one reserved is used up). *D becomes the new
 * current key when its row says another process replaced it, or when its
 * budget is spent: then this process replaces it (logged).
 */
int	 apx_vault_dek_spend(struct apx_vault *, struct apx_db *, const char *,
	    const char *, struct apx_vault_dek **);
/* Forget every cached key of OWNER (wiped). */
void	 apx_vault_dek_forget(struct apx_vault *, const char *);

#endif
