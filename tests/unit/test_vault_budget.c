/*
 * Unit tests for vault/budget.c: the size of the blocks of seals a worker
 * reserves, where a key stands against its seal budget, and when a
 * worker looks its current data key up again.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "vault/budget.h"

static void
test_block_grows_and_is_capped(void **state)
{
	uint32_t b = 0, prev = 0;
	int steps = 0;

	(void)state;
	assert_int_equal(apx_vault_block_next(0), APX_VAULT_BLOCK_MIN);
	assert_int_equal(apx_vault_block_next(1), APX_VAULT_BLOCK_MIN);
	assert_int_equal(apx_vault_block_next(APX_VAULT_BLOCK_MIN),
	    2 * APX_VAULT_BLOCK_MIN);
	/* doubling up to the cap, in a handful of steps, never shrinking */
	while ((b = apx_vault_block_next(b)) != APX_VAULT_BLOCK_MAX) {
		assert_true(b > prev);
		assert_true(b <= APX_VAULT_BLOCK_MAX);
		prev = b;
		assert_true(++steps < 16);
	}
	assert_int_equal(apx_vault_block_next(APX_VAULT_BLOCK_MAX),
	    APX_VAULT_BLOCK_MAX);
	assert_int_equal(apx_vault_block_next(APX_VAULT_BLOCK_MAX - 1),
	    APX_VAULT_BLOCK_MAX);
	assert_int_equal(apx_vault_block_next(UINT32_MAX),
	    APX_VAULT_BLOCK_MAX);
}

/* A worker's over-count is at most what it reserved and did not use: with
 * growing blocks, the reserved total for S seals stays below 2 S plus the
 * first block, and a busy worker writes once per APX_VAULT_BLOCK_MAX. */
static void
test_reservations_bound_the_overcount(void **state)
{
	uint64_t seals, reserved, writes;
	uint32_t block;

	(void)state;
	for (seals = 1; seals <= 100000; seals = seals * 3 + 1) {
		reserved = writes = 0;
		block = 0;
		while (reserved < seals) {
			block = apx_vault_block_next(block);
			reserved += block;
			writes++;
		}
		assert_true(reserved - seals < APX_VAULT_BLOCK_MAX);
		assert_true(reserved <= 2 * seals + APX_VAULT_BLOCK_MIN);
		if (seals >= 10 * APX_VAULT_BLOCK_MAX)
			assert_true(writes <= seals / APX_VAULT_BLOCK_MAX + 10);
	}
}

static void
test_budget_levels(void **state)
{
	(void)state;
	/* well before the 2^32 of random 96-bit nonces */
	assert_true(APX_VAULT_SEAL_WARN <= (UINT64_C(1) << 32) / 8);
	assert_true(APX_VAULT_SEAL_WARN < APX_VAULT_SEAL_LIMIT);
	assert_true(APX_VAULT_SEAL_LIMIT + APX_VAULT_BLOCK_MAX <
	    (UINT64_C(1) << 32));
	assert_int_equal(apx_vault_budget_level(0), APX_VAULT_BUDGET_OK);
	assert_int_equal(apx_vault_budget_level(APX_VAULT_SEAL_WARN - 1),
	    APX_VAULT_BUDGET_OK);
	assert_int_equal(apx_vault_budget_level(APX_VAULT_SEAL_WARN),
	    APX_VAULT_BUDGET_WARN);
	assert_int_equal(apx_vault_budget_level(APX_VAULT_SEAL_LIMIT - 1),
	    APX_VAULT_BUDGET_WARN);
	assert_int_equal(apx_vault_budget_level(APX_VAULT_SEAL_LIMIT),
	    APX_VAULT_BUDGET_SPENT);
	assert_int_equal(apx_vault_budget_level(UINT64_MAX),
	    APX_VAULT_BUDGET_SPENT);
}

static void
test_recheck(void **state)
{
	uint64_t t = UINT64_C(5000000000);

	(void)state;
	assert_true(apx_vault_recheck_due(t, 0));		/* never */
	assert_false(apx_vault_recheck_due(t, t));
	assert_false(apx_vault_recheck_due(t + APX_VAULT_RECHECK_US - 1, t));
	assert_true(apx_vault_recheck_due(t + APX_VAULT_RECHECK_US, t));
	assert_true(apx_vault_recheck_due(t + 3600 * APX_VAULT_RECHECK_US, t));
	assert_true(apx_vault_recheck_due(t - 1, t));		/* clock back */
	/* a rotation reaches every worker within a couple of seconds */
	assert_true(APX_VAULT_RECHECK_US <= UINT64_C(2000000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_grows_and_is_capped),
		cmocka_unit_test(test_reservations_bound_the_overcount),
		cmocka_unit_test(test_budget_levels),
		cmocka_unit_test(test_recheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
