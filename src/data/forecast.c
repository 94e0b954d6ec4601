/* Forecast methods over a numeric series (see forecast.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "data/forecast.h"

static const char *const names[] = { "naive", "mean", "moving_average",
    "linear" };

int
apx_forecast_method(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < APX_NELEM(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return APX_FC_NONE;
}

const char *
apx_forecast_method_name(int m)
{
	return m >= 0 && (size_t)m < APX_NELEM(names) ? names[m] : "none";
}

int
apx_forecast_number(const char *s, double *out)
{
	const char *p = s;
	char *end;
	size_t digits = 0;
	double v;

	if (s == NULL || strlen(s) > 64)
		return APX_EINVAL;
	if (*p == '+' || *p == '-')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (digits == 0)
		return APX_EINVAL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return APX_EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return APX_EINVAL;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		return APX_EINVAL;
	*out = v;
	return 0;
}

int
apx_forecast_compute(const double *y, size_t n,
    const struct apx_forecast_params *fp, double *out)
{
	double sum = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, mx, my, slope, v;
	size_t i;
	int h;

	if (n == 0 || fp->horizon < 1 || fp->horizon > APX_FC_HORIZON_MAX)
		return APX_EINVAL;
	switch (fp->method) {
	case APX_FC_NAIVE:
		v = y[n - 1];
		break;
	case APX_FC_MEAN:
		for (i = 0; i < n; i++)
			sum += y[i];
		v = sum / (double)n;
		break;
	case APX_FC_MOVING_AVERAGE:
		if (fp->window < 1 || fp->window > APX_FC_WINDOW_MAX ||
		    (size_t)fp->window > n)
			return APX_EINVAL;
		for (i = n - (size_t)fp->window; i < n; i++)
			sum += y[i];
		v = sum / (double)fp->window;
		break;
	case APX_FC_LINEAR:
		if (n < 2)
			return APX_EINVAL;
		for (i = 0; i < n; i++) {
			sx += (double)i;
			sy += y[i];
		}
		mx = sx / (double)n;
		my = sy / (double)n;
		for (i = 0; i < n; i++) {
			sxx += ((double)i - mx) * ((double)i - mx);
			sxy += ((double)i - mx) * (y[i] - my);
		}
		slope = sxy / sxx;
		for (h = 0; h < fp->horizon; h++)
			out[h] = my + slope * ((double)(n + (size_t)h) - mx);
		goto check;
	default:
		return APX_EINVAL;
	}
	for (h = 0; h < fp->horizon; h++)
		out[h] = v;
check:
	for (h = 0; h < fp->horizon; h++)
		if (!isfinite(out[h]))
			return APX_EINVAL;
	return 0;
}
