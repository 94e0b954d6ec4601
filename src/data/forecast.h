/*
 * The forecasts a tenant can make from an uploaded series: simple,
 * deterministic methods, enough to give uploads a use (the product's real
 * models live elsewhere). Pure functions, no allocation.
 */
#ifndef APX_DATA_FORECAST_H
#define APX_DATA_FORECAST_H

#include <stddef.h>

enum apx_forecast_method {
	APX_FC_NONE = -1,
	APX_FC_NAIVE,		/* the last value */
	APX_FC_MEAN,		/* the mean of all values */
	APX_FC_MOVING_AVERAGE,	/* the mean of the last WINDOW values */
	APX_FC_LINEAR,		/* least-squares line through the values */
};

#define APX_FC_HORIZON_MAX	366
#define APX_FC_WINDOW_MAX	366

struct apx_forecast_params {
	int	 method;	/* enum apx_forecast_method */
	int	 horizon;	/* 1..APX_FC_HORIZON_MAX points */
	int	 window;	/* moving average: 1..APX_FC_WINDOW_MAX */
};

int	 apx_forecast_method(const char *);	/* APX_FC_NONE if unknown */
const char *apx_forecast_method_name(int);
/*
 * A strict decimal number: [+-]digits[.digits][(e|E)[+-]digits] or with
 * a leading '.', at most 64 bytes, finite. 0 or APX_EINVAL.
 */
int	 apx_forecast_number(const char *, double *);
/*
 * HORIZON points after the N values Y into OUT. APX_EINVAL when the
 * parameters do not fit the series (no values; linear needs two; a window
 * longer than the series).
 */
int	 apx_forecast_compute(const double *, size_t,
	    const struct apx_forecast_params *, double *);

#endif
