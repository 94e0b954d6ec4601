/*
 * Seal budgets of data keys. AES-256-GCM with random 96-bit nonces stays
 * within a collision chance of 2^-32 for about 2^32 seals under one key
 * (NIST SP 800-38D, 8.3); the vault counts seals per data key and keeps
 * well below that. Counting costs no write per seal: a worker reserves a
 * block of seals in the key's row before it seals with them (a block that
 * grows from APX_VAULT_BLOCK_MIN to APX_VAULT_BLOCK_MAX as the worker keeps
 * sealing), so the count is an over-count by at most the unused rest of
 * each worker's last block, never an under-count. Pure: no database.
 */
#ifndef APX_VAULT_BUDGET_H
#define APX_VAULT_BUDGET_H

#include <stdint.h>

/* Warn from here: "rotate the data keys" (log, vault status). */
#define APX_VAULT_SEAL_WARN	(UINT64_C(1) << 28)
/* Never seal past this: a key that reaches it is replaced at once. */
#define APX_VAULT_SEAL_LIMIT	(UINT64_C(1) << 31)
#define APX_VAULT_BLOCK_MIN	16
#define APX_VAULT_BLOCK_MAX	4096
/* How long a worker trusts that its current data key is still current. */
#define APX_VAULT_RECHECK_US	(UINT64_C(1000) * 1000)

enum apx_vault_budget {
	APX_VAULT_BUDGET_OK = 0,
	APX_VAULT_BUDGET_WARN,		/* past APX_VAULT_SEAL_WARN */
	APX_VAULT_BUDGET_SPENT		/* at APX_VAULT_SEAL_LIMIT */
};

/* The block to reserve after one of PREV seals (0: the first). */
uint32_t apx_vault_block_next(uint32_t);
/* Where a key with SEALS counted stands. */
enum apx_vault_budget apx_vault_budget_level(uint64_t);
/*
 * Whether a current key last confirmed at CHECKED (monotonic
 * microseconds, 0: never) must be looked up again at NOW.
 */
int	 apx_vault_recheck_due(uint64_t, uint64_t);

#endif
