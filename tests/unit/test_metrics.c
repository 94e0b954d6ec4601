/*
 * When a worker's counts are due (apx_metrics_due_ms): what the worker's
 * wait for the next request is bounded by, so that an idle worker's counts
 * reach the database. The flush itself is exercised against a database
 * that cannot be reached: the counts are kept and due again a full
 * interval later, twice as long with each further refusal, up to a
 * minute (the successful flush is in tests/integration).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/log.h"
#include "core/secret.h"
#include "server/metrics.h"
#include "store/db.h"

#define INTERVAL_MS	5000	/* FLUSH_EVERY_US of server/metrics.c */
#define MAX_MS		60000	/* FLUSH_MAX_US */

static void
test_nothing_held_is_never_due(void **state)
{
	(void)state;
	assert_int_equal(apx_metrics_due_ms(), -1);
}

static void
test_held_counts_are_due_then_kept_when_the_database_is_down(void **state)
{
	/* a socket directory that does not exist: the connection fails at
	 * once, without a timeout */
	static const char ci[] = "host=/nonexistent/apx-test dbname=none";
	struct apx_secret *conninfo;
	struct apx_db *db;
	long ms;

	(void)state;
	conninfo = apx_secret_new(ci, strlen(ci));
	assert_non_null(conninfo);
	db = apx_db_new(conninfo, "test_metrics");
	assert_non_null(db);

	/* never flushed: due at once, for a request as for a counter */
	apx_metrics_request("/healthz", "GET", 200, 1200);
	assert_int_equal(apx_metrics_due_ms(), 0);

	/* the add fails: the counts are kept, due again an interval later */
	apx_metrics_flush(db, 1);
	ms = apx_metrics_due_ms();
	assert_true(ms > INTERVAL_MS - 1000 && ms <= INTERVAL_MS);

	/* not due yet: a flush that is not forced does nothing */
	apx_metrics_flush(db, 0);
	ms = apx_metrics_due_ms();
	assert_true(ms > INTERVAL_MS - 1000 && ms <= INTERVAL_MS);

	/* refused again and again: 10 s, 20 s, 40 s, then a minute at most */
	apx_metrics_flush(db, 1);
	ms = apx_metrics_due_ms();
	assert_true(ms > 2 * INTERVAL_MS - 1000 && ms <= 2 * INTERVAL_MS);
	apx_metrics_flush(db, 1);
	apx_metrics_flush(db, 1);
	ms = apx_metrics_due_ms();
	assert_true(ms > 8 * INTERVAL_MS - 1000 && ms <= 8 * INTERVAL_MS);
	apx_metrics_flush(db, 1);
	apx_metrics_flush(db, 1);
	ms = apx_metrics_due_ms();
	assert_true(ms > MAX_MS - 1000 && ms <= MAX_MS);

	apx_db_free(db);
	apx_secret_free(conninfo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_held_is_never_due),
		cmocka_unit_test(
		    test_held_counts_are_due_then_kept_when_the_database_is_down),
	};

	apx_log_set_level(APX_LOG_ERROR);	/* the refused connection is a warning */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
