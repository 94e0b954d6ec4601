/*
 * Unit tests for connect/data.c, the services of connector ABI minor 1
 * that need no database: JSON parsed once and walked, the checks of a
 * sales record before the host keeps it, and waiting only in a job.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "connect/host_int.h"

static const struct apx_connector desc = { .name = "unit" };
static const struct apx_plugin plugin = { .d = &desc };

static void
cx_job(struct apx_cx *cx)
{
	memset(cx, 0, sizeof(*cx));
	cx->pl = &plugin;
	cx->org = 1;
	cx->conn = 7;
	cx->job = 1;
}

static struct apx_sale
good_sale(void)
{
	struct apx_sale s;

	memset(&s, 0, sizeof(s));
	s.id = "1001";
	s.kind = "order";
	s.date = "2024-02-29";
	s.amount = "12.50";
	s.currency = "EUR";
	return s;
}

static void
test_json_walk(void **state)
{
	const char *text = "{\"a\":{\"b\":[1,\"x\",true,2.5,null]},\"s\":\"t\"}";
	const struct apx_json *root, *arr;
	struct apx_cx cx;

	(void)state;
	cx_job(&cx);
	assert_non_null(root = apx_hd_json_parse(&cx, text, strlen(text)));
	assert_non_null(arr = apx_hd_json_at(root, "a.b"));
	assert_int_equal(apx_hd_json_size(arr), 5);
	assert_string_equal(apx_hd_json_text(&cx, arr, "0"), "1");
	assert_string_equal(apx_hd_json_text(&cx, arr, "1"), "x");
	assert_string_equal(apx_hd_json_text(&cx, arr, "2"), "true");
	assert_string_equal(apx_hd_json_text(&cx, arr, "3"), "2.5");
	assert_null(apx_hd_json_text(&cx, arr, "4"));	/* null */
	assert_null(apx_hd_json_text(&cx, arr, "5"));	/* past the end */
	assert_null(apx_hd_json_text(&cx, root, "a"));	/* an object */
	assert_string_equal(apx_hd_json_text(&cx, root, "s"), "t");
	assert_true(apx_hd_json_at(root, "") == root);
	assert_null(apx_hd_json_at(root, "a..b"));
	assert_null(apx_hd_json_at(root, "s.x"));
	assert_int_equal(apx_hd_json_size(root), 2);
	assert_int_equal(apx_hd_json_size(apx_hd_json_at(root, "s")), 0);
	/* not JSON, duplicate keys */
	assert_null(apx_hd_json_parse(&cx, "{", 1));
	assert_null(apx_hd_json_parse(&cx, "{\"k\":1,\"k\":2}", 13));
	apx_cx_end(&cx);
}

static void
test_sale_checks(void **state)
{
	static const char *const bad_amounts[] = { "", "-", ".5", "1.", "1e3",
	    "1,5", "+1", "1234567890123456", "1.1234567", " 1", "0x10",
	    "NaN" };
	static const char *const bad_dates[] = { "2023-02-29", "2024-13-01",
	    "2024-00-10", "2024-04-31", "24-01-01", "2024-1-01",
	    "2024-01-01T00", "1969-12-31", "2024-01-0a" };
	struct apx_sale s;
	struct apx_cx cx;
	size_t i;

	(void)state;
	cx_job(&cx);
	s = good_sale();
	/* nowhere to put it: not in a sync or a webhook job */
	assert_int_equal(apx_hd_sale(&cx, &s), APX_C_EDENIED);
	assert_non_null(cx.sales = json_array());
	assert_int_equal(apx_hd_sale(&cx, &s), 0);
	s.amount = "-3";
	s.currency = NULL;
	s.voided = 1;
	assert_int_equal(apx_hd_sale(&cx, &s), 0);
	assert_int_equal(json_array_size(cx.sales), 2);
	for (i = 0; i < sizeof(bad_amounts) / sizeof(bad_amounts[0]); i++) {
		s = good_sale();
		s.amount = bad_amounts[i];
		assert_int_equal(apx_hd_sale(&cx, &s), APX_C_EINVAL);
	}
	for (i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		s = good_sale();
		s.date = bad_dates[i];
		assert_int_equal(apx_hd_sale(&cx, &s), APX_C_EINVAL);
	}
	s = good_sale();
	s.currency = "eur";
	assert_int_equal(apx_hd_sale(&cx, &s), APX_C_EINVAL);
	s = good_sale();
	s.kind = "Order";
	assert_int_equal(apx_hd_sale(&cx, &s), APX_C_EINVAL);
	s = good_sale();
	s.id = "a\nb";
	assert_int_equal(apx_hd_sale(&cx, &s), APX_C_EINVAL);
	s = good_sale();
	s.id = NULL;
	assert_int_equal(apx_hd_sale(&cx, &s), APX_C_EINVAL);
	assert_int_equal(json_array_size(cx.sales), 2);
	apx_cx_end(&cx);
}

static void
test_wait_only_in_a_job(void **state)
{
	struct apx_cx cx;

	(void)state;
	cx_job(&cx);
	assert_int_equal(apx_hd_wait(&cx, 1), 0);
	assert_int_equal(apx_hd_wait(&cx, -1), APX_C_EINVAL);
	assert_int_equal(apx_hd_wait(&cx, 60001), APX_C_EINVAL);
	cx.job = 0;		/* someone waits for the answer */
	assert_int_equal(apx_hd_wait(&cx, 1), APX_C_EDENIED);
	/* and no privacy flow outside a job with an org's databases */
	assert_int_equal(apx_hd_privacy(&cx, APX_C_PRIVACY_FORGET, NULL),
	    APX_C_EDENIED);
	apx_cx_end(&cx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_walk),
		cmocka_unit_test(test_sale_checks),
		cmocka_unit_test(test_wait_only_in_a_job),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
