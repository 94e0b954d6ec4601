/*
 * Forecasts of a workspace (tenant database), made from one of its
 * uploads: POST …/forecasts {name, upload_id, parameters: {method,
 * value_column, horizon[, window]}}.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "auth/session.h"
#include "data/forecast.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/uploads.h"

#define MAX_FORECAST_NAME	200

static int	 bad(struct apx_ctx *, const char *, const char *);
static int	 params_of(struct apx_ctx *, json_t *,
		    struct apx_forecast_params *, const char **);
static int	 series(struct apx_ctx *, json_t *, PGresult *, const char *,
		    double **, size_t *);

static int
bad(struct apx_ctx *c, const char *field, const char *detail)
{
	(void)apx_resp_problem(c->resp, 422, "invalid-field", detail, field);
	return APX_EINVAL;
}

static int
params_of(struct apx_ctx *c, json_t *p, struct apx_forecast_params *fp,
    const char **column)
{
	json_t *v;
	const char *k;

	if (!json_is_object(p))
		return bad(c, "parameters", "parameters is an object: method, "
		    "value_column, horizon and, for moving_average, window.");
	json_object_foreach(p, k, v) {
		if (strcmp(k, "method") != 0 && strcmp(k, "value_column") != 0 &&
		    strcmp(k, "horizon") != 0 && strcmp(k, "window") != 0)
			return bad(c, "parameters", "Unknown parameter.");
	}
	if ((fp->method = apx_forecast_method(json_string_value(
	    json_object_get(p, "method")))) == APX_FC_NONE)
		return bad(c, "parameters.method", "method is one of naive, "
		    "mean, moving_average, linear.");
	*column = json_string_value(json_object_get(p, "value_column"));
	if (*column == NULL || **column == '\0' || strlen(*column) > 64)
		return bad(c, "parameters.value_column", "value_column names "
		    "a column of the upload.");
	v = json_object_get(p, "horizon");
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > APX_FC_HORIZON_MAX)
		return bad(c, "parameters.horizon", "horizon is 1 to 366.");
	fp->horizon = (int)json_integer_value(v);
	fp->window = 0;
	v = json_object_get(p, "window");
	if (fp->method == APX_FC_MOVING_AVERAGE) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > APX_FC_WINDOW_MAX)
			return bad(c, "parameters.window", "window is 1 to 366 "
			    "for moving_average.");
		fp->window = (int)json_integer_value(v);
	} else if (v != NULL)
		return bad(c, "parameters.window", "window is only for "
		    "moving_average.");
	return 0;
}

/* The numbers of COLUMN of upload UP (rows RES); empty cells skipped. */
static int
series(struct apx_ctx *c, json_t *up, PGresult *res, const char *column,
    double **out, size_t *n)
{
	long idx = apx_upload_cell_index(up, column);
	size_t r;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (idx == -2)
		return bad(c, "parameters.value_column", "A personal-data "
		    "column is not a series.");
	if (idx < 0)
		return bad(c, "parameters.value_column", "The upload has no "
		    "such column.");
	if (PQntuples(res) > 0 &&
	    (*out = calloc((size_t)PQntuples(res), sizeof(**out))) == NULL)
		return APX_ENOMEM;
	for (r = 0; r < (size_t)PQntuples(res) && rc == 0; r++) {
		json_t *cells = json_loads(PQgetvalue(res, (int)r, 1), 0, NULL);
		const char *s = json_string_value(json_array_get(cells,
		    (size_t)idx));

		if (s == NULL)
			rc = APX_EDB;
		else if (*s != '\0' && apx_forecast_number(s, &(*out)[*n]) != 0)
			rc = bad(c, "parameters.value_column", apx_arena_printf(
			    c->req->arena, "Row %zu of the column is not a "
			    "number.", r + 1));
		else if (*s != '\0')
			(*n)++;
		json_decref(cells);
	}
	if (rc != 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int
apx_route_forecasts_create(struct apx_ctx *c)
{
	struct apx_forecast_params fp;
	struct apx_forecast_new f;
	struct apx_audit_entry e;
	struct apx_db *t;
	double *y = NULL, pts[APX_FC_HORIZON_MAX];
	const char *column;
	json_t *body, *up = NULL, *made = NULL, *v, *points = NULL;
	PGresult *res = NULL;
	size_t n = 0;
	int i, rc = 0;

	memset(&f, 0, sizeof(f));
	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_name(c, body, "name", MAX_FORECAST_NAME, &f.name) != 0)
		goto out;
	v = json_object_get(body, "upload_id");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		(void)bad(c, "upload_id", "upload_id is the id of an upload of "
		    "this workspace.");
		goto out;
	}
	f.upload = json_integer_value(v);
	f.parameters = json_object_get(body, "parameters");
	if (params_of(c, f.parameters, &fp, &column) != 0)
		goto out;
	if ((rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_upload_get(t, c->org->ws, f.upload, &up)) != 0)
		goto out;
	if (up == NULL) {
		(void)bad(c, "upload_id", "This workspace has no such upload.");
		goto out;
	}
	if ((rc = apx_upload_rows(t, c->org->ws, f.upload, &res)) != 0)
		goto out;
	if (series(c, up, res, column, &y, &n) != 0)
		goto out;
	if (apx_forecast_compute(y, n, &fp, pts) != 0) {
		(void)bad(c, "parameters", apx_arena_printf(c->req->arena,
		    "The column has %zu numbers: too few for these "
		    "parameters.", n));
		goto out;
	}
	if ((points = json_array()) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	for (i = 0; i < fp.horizon; i++)
		json_array_append_new(points, json_real(pts[i]));
	f.result = json_pack("{s:s,s:I,s:O}", "method",
	    apx_forecast_method_name(fp.method), "observations",
	    (json_int_t)n, "points", points);
	f.ws = c->org->ws;
	f.by.user = c->auth->uid;
	f.by.key = c->auth->kind == APX_AUTH_APIKEY ? c->auth->key_id : 0;
	if (f.result == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if ((rc = apx_db_begin(t)) != 0)
		goto out;
	if ((rc = apx_forecast_insert(t, &f, &made)) != 0 || made == NULL) {
		apx_db_rollback(t);
		if (rc == 0)
			(void)bad(c, "upload_id", "This workspace has no such "
			    "upload.");
		goto out;
	}
	apx_authz_audit(c, &e, "forecast.create", apx_arena_printf(
	    c->req->arena, "forecast:%lld", json_integer_value(json_object_get(
	    json_object_get(made, "forecast"), "id"))));
	if ((rc = apx_route_tenant_commit(c, t, &e, NULL,
	    json_object_get(made, "forecast"))) != 0)
		goto out;
	rc = apx_resp_json(c->resp, 201, json_incref(made));
out:
	PQclear(res);
	free(y);
	json_decref(points);
	json_decref(f.result);
	json_decref(made);
	json_decref(up);
	json_decref(body);
	return rc;
}

int
apx_route_forecasts_list(struct apx_ctx *c)
{
	struct apx_db *t;
	PGresult *list;
	int64_t cursor;
	int limit, rc;

	if (apx_route_page(c, APX_UPLOAD_LIST_MAX, &limit, &cursor) != 0)
		return 0;
	if ((rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_forecast_list(t, c->org->ws, cursor, limit, &list)) != 0)
		return rc;
	return apx_route_rows_res(c, "forecasts", list, apx_forecast_cols,
	    APX_FORECAST_NCOLS, limit);
}

int
apx_route_forecast_get(struct apx_ctx *c)
{
	struct apx_db *t;
	json_t *fc;
	int64_t id;
	int rc;

	if ((rc = apx_route_id(c, "id", &id)) != 0 ||
	    (rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_forecast_get(t, c->org->ws, id, &fc)) != 0)
		return rc;
	if (fc == NULL)
		return apx_route_tenant_missing(c, "forecast");
	return apx_resp_json(c->resp, 200, fc);
}

int
apx_route_forecast_delete(struct apx_ctx *c)
{
	return apx_route_tenant_delete(c, "forecast", apx_forecast_delete);
}
