/* Seal budgets of data keys (see budget.h). */
#include "config.h"

#include "vault/budget.h"

uint32_t
apx_vault_block_next(uint32_t prev)
{
	if (prev < APX_VAULT_BLOCK_MIN)
		return APX_VAULT_BLOCK_MIN;
	if (prev >= APX_VAULT_BLOCK_MAX / 2)
		return APX_VAULT_BLOCK_MAX;
	return prev * 2;
}

enum apx_vault_budget
apx_vault_budget_level(uint64_t seals)
{
	if (seals >= APX_VAULT_SEAL_LIMIT)
		return APX_VAULT_BUDGET_SPENT;
	if (seals >= APX_VAULT_SEAL_WARN)
		return APX_VAULT_BUDGET_WARN;
	return APX_VAULT_BUDGET_OK;
}

int
apx_vault_recheck_due(uint64_t now, uint64_t checked)
{
	/* A clock that went back (it should not) counts as due. */
	return checked == 0 || now < checked ||
	    now - checked >= APX_VAULT_RECHECK_US;
}
