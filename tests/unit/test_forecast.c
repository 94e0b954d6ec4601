/*
 * Unit tests for data/forecast.c: the strict number grammar and each
 * method against values worked out by hand.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/apx.h"
#include "data/forecast.h"

static void	 near(double, double);

static void
near(double got, double want)
{
	if (fabs(got - want) > 1e-9 * (1 + fabs(want)))
		fail_msg("got %.12g, want %.12g", got, want);
}

static void
test_numbers(void **state)
{
	static const char *const good[] = { "0", "-1", "+2", "3.25", ".5",
	    "5.", "1e3", "-1.5E-2", "12345678901234567890" };
	static const char *const bad[] = { "", "-", "+", ".", "e5", "1e",
	    "1e+", "0x10", "inf", "-inf", "nan", "NaN", "1,5", " 1", "1 ",
	    "1e999", "--1", "1.2.3", "١" };
	double v;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(good); i++)
		if (apx_forecast_number(good[i], &v) != 0)
			fail_msg("refused \"%s\"", good[i]);
	for (i = 0; i < APX_NELEM(bad); i++)
		if (apx_forecast_number(bad[i], &v) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(apx_forecast_number("-1.5E-2", &v), 0);
	near(v, -0.015);
	/* 65 characters: over the cap. */
	assert_int_equal(apx_forecast_number(
	    "11111111111111111111111111111111111111111111111111111111111111111",
	    &v), APX_EINVAL);
}

static void
test_methods(void **state)
{
	static const double y[] = { 2, 4, 6, 8, 10 };
	struct apx_forecast_params p = { APX_FC_NAIVE, 3, 0 };
	double out[APX_FC_HORIZON_MAX];

	(void)state;
	assert_int_equal(apx_forecast_compute(y, 5, &p, out), 0);
	near(out[0], 10);
	near(out[2], 10);
	p.method = APX_FC_MEAN;
	assert_int_equal(apx_forecast_compute(y, 5, &p, out), 0);
	near(out[1], 6);
	p.method = APX_FC_MOVING_AVERAGE;
	p.window = 2;
	assert_int_equal(apx_forecast_compute(y, 5, &p, out), 0);
	near(out[0], 9);
	p.window = 5;
	assert_int_equal(apx_forecast_compute(y, 5, &p, out), 0);
	near(out[0], 6);
	p.window = 6;
	assert_int_equal(apx_forecast_compute(y, 5, &p, out), APX_EINVAL);
	p.window = 0;
	assert_int_equal(apx_forecast_compute(y, 5, &p, out), APX_EINVAL);
	/* A line through 2,4,...,10 goes on 12, 14, 16. */
	p.method = APX_FC_LINEAR;
	assert_int_equal(apx_forecast_compute(y, 5, &p, out), 0);
	near(out[0], 12);
	near(out[1], 14);
	near(out[2], 16);
}

static void
test_linear_noisy(void **state)
{
	/* Least squares of (0,1) (1,3) (2,2) (3,5): slope 1.1, mean 2.75,
	 * next x = 4: 2.75 + 1.1 * 2.5 = 5.5. */
	static const double y[] = { 1, 3, 2, 5 };
	struct apx_forecast_params p = { APX_FC_LINEAR, 2, 0 };
	double out[2];

	(void)state;
	assert_int_equal(apx_forecast_compute(y, 4, &p, out), 0);
	near(out[0], 5.5);
	near(out[1], 6.6);
}

static void
test_refusals(void **state)
{
	static const double one[] = { 7 };
	static const double big[] = { 1e308, -1e308 };
	struct apx_forecast_params p = { APX_FC_LINEAR, 1, 0 };
	double out[APX_FC_HORIZON_MAX];

	(void)state;
	assert_int_equal(apx_forecast_compute(one, 1, &p, out), APX_EINVAL);
	assert_int_equal(apx_forecast_compute(one, 0, &p, out), APX_EINVAL);
	p.method = APX_FC_NAIVE;
	assert_int_equal(apx_forecast_compute(one, 1, &p, out), 0);
	near(out[0], 7);
	p.horizon = 0;
	assert_int_equal(apx_forecast_compute(one, 1, &p, out), APX_EINVAL);
	p.horizon = APX_FC_HORIZON_MAX + 1;
	assert_int_equal(apx_forecast_compute(one, 1, &p, out), APX_EINVAL);
	p.horizon = APX_FC_HORIZON_MAX;
	assert_int_equal(apx_forecast_compute(one, 1, &p, out), 0);
	/* An overflowing line is refused, not answered with inf. */
	p.method = APX_FC_LINEAR;
	p.horizon = 3;
	assert_int_equal(apx_forecast_compute(big, 2, &p, out), APX_EINVAL);
	p.method = 99;
	assert_int_equal(apx_forecast_compute(one, 1, &p, out), APX_EINVAL);
	assert_int_equal(apx_forecast_method("linear"), APX_FC_LINEAR);
	assert_int_equal(apx_forecast_method("Linear"), APX_FC_NONE);
	assert_int_equal(apx_forecast_method(NULL), APX_FC_NONE);
	assert_string_equal(apx_forecast_method_name(APX_FC_MOVING_AVERAGE),
	    "moving_average");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_linear_noisy),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
