/* Uploads and forecasts in a tenant database (see uploads.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/db.h"
#include "store/tenant.h"
#include "store/uploads.h"
#include "vault/pii.h"

/* The API shape of an upload row U (tenant side: ids only). */
#define UPLOAD_JSON(u) \
	"json_build_object('id', " u ".id, 'workspace_id', " u \
	".workspace_id, 'name', " u ".name, 'filename', " u ".filename," \
	" 'size_bytes', " u ".size_bytes, 'row_count', " u ".row_count," \
	" 'columns', " u ".columns, 'personal_columns', to_json(" u \
	".personal_columns), 'uploaded_by', CASE WHEN " u \
	".uploaded_by_key IS NOT NULL THEN json_build_object('type'," \
	" 'api_key', 'id', " u ".uploaded_by_key, 'user_id', " u \
	".uploaded_by) ELSE json_build_object('type', 'user', 'id', " u \
	".uploaded_by) END, 'created_at', apx_ts(" u ".created_at))"

#define FORECAST_JSON(f) \
	"json_build_object('id', " f ".id, 'workspace_id', " f \
	".workspace_id, 'upload_id', " f ".upload_id, 'name', " f ".name," \
	" 'parameters', " f ".parameters, 'created_by', CASE WHEN " f \
	".created_by_key IS NOT NULL THEN json_build_object('type'," \
	" 'api_key', 'id', " f ".created_by_key, 'user_id', " f \
	".created_by) ELSE json_build_object('type', 'user', 'id', " f \
	".created_by) END, 'created_at', apx_ts(" f ".created_at))"

/*
 * The columns of an upload and of a forecast in a list, as
 * apx_upload_cols and apx_forecast_cols say: the members UPLOAD_JSON and
 * FORECAST_JSON build in SQL, in the same order.
 */
#define UPLOAD_COLS(u) \
	u ".id, " u ".workspace_id, " u ".name, " u ".filename, " u \
	".size_bytes, " u ".row_count, " u ".columns, to_json(" u \
	".personal_columns), " u ".uploaded_by, " u ".uploaded_by_key," \
	" apx_ts(" u ".created_at)"

#define FORECAST_COLS(f) \
	f ".id, " f ".workspace_id, " f ".upload_id, " f ".name, " f \
	".parameters, " f ".created_by, " f ".created_by_key, apx_ts(" f \
	".created_at)"

const struct apx_jcol apx_upload_cols[APX_UPLOAD_NCOLS] = {
	{ "id", APX_JNUM }, { "workspace_id", APX_JNUM }, { "name", APX_JSTR },
	{ "filename", APX_JSTR }, { "size_bytes", APX_JNUM },
	{ "row_count", APX_JNUM }, { "columns", APX_JRAW },
	{ "personal_columns", APX_JRAW }, { "uploaded_by", APX_JACTOR },
	{ "created_at", APX_JSTR },
};

const struct apx_jcol apx_forecast_cols[APX_FORECAST_NCOLS] = {
	{ "id", APX_JNUM }, { "workspace_id", APX_JNUM },
	{ "upload_id", APX_JNUM }, { "name", APX_JSTR },
	{ "parameters", APX_JRAW }, { "created_by", APX_JACTOR },
	{ "created_at", APX_JSTR },
};

static char	*dump(json_t *);
static const char *id_or_null(int64_t, char *);

static char *
dump(json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static const char *
id_or_null(int64_t id, char *buf)
{
	return id == 0 ? NULL : apx_db_id(id, buf);
}

int
apx_upload_insert(struct apx_db *db, const struct apx_upload_new *u,
    json_t **out)
{
	char ws[APX_DB_ID_LEN], size[APX_DB_ID_LEN], n[APX_DB_ID_LEN];
	char by[APX_DB_ID_LEN], key[APX_DB_ID_LEN];
	char *cols = NULL, *pers = NULL;
	char ids[APX_DB_ID_LEN];
	const char *p[10];
	int rc;

	*out = NULL;
	if ((cols = dump(u->columns)) == NULL ||
	    (pers = dump(u->personal)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	p[0] = apx_db_id(u->ws, ws);
	p[1] = u->name;
	p[2] = u->filename;
	p[3] = apx_db_id((int64_t)u->size, size);
	p[4] = apx_db_id((int64_t)u->nrows, n);
	p[5] = cols;
	p[6] = pers;
	p[7] = id_or_null(u->by.user, by);
	p[8] = id_or_null(u->by.key, key);
	p[9] = u->rows;
	/* Rows and fields go as two JSON documents: one round trip. */
	{
		const char *q[12];

		memcpy(q, p, sizeof(p));
		q[10] = u->fields;
		q[11] = id_or_null(u->id, ids);
		rc = apx_db_json(db, 0, out,
		    "WITH u AS (INSERT INTO uploads (id, workspace_id, name,"
		    " filename, size_bytes, row_count, columns,"
		    " personal_columns, uploaded_by, uploaded_by_key) VALUES"
		    " (coalesce($12::bigint, nextval('uploads_id_seq')),"
		    " $1::bigint, $2, $3, $4::int, $5::int, $6::jsonb,"
		    " ARRAY(SELECT jsonb_array_elements_text($7::jsonb)),"
		    " $8::bigint, $9::bigint) RETURNING *),"
		    " r AS (INSERT INTO upload_rows (upload_id, row_no, cells)"
		    " SELECT u.id, x.ord::int, x.cells FROM u,"
		    " jsonb_array_elements($10::jsonb) WITH ORDINALITY"
		    " AS x(cells, ord)),"
		    " f AS (INSERT INTO upload_personal (upload_id, row_no,"
		    " column_name, value, sealed, blind) SELECT u.id,"
		    " (e->>0)::int, e->>1, e->>2, decode(e->>3, 'hex'),"
		    " decode(e->>4, 'hex') FROM u, jsonb_array_elements("
		    "$11::jsonb) e)"
		    " SELECT " UPLOAD_JSON("u") " FROM u", 12, q);
	}
out:
	free(cols);
	free(pers);
	return rc;
}

int
apx_upload_list(struct apx_db *db, int64_t ws, const char *column,
    const char *value, const char *blind, int64_t before, int limit,
    PGresult **out)
{
	char wss[APX_DB_ID_LEN], bs[APX_DB_ID_LEN], ls[16];
	const char *p[6] = { apx_db_id(ws, wss), apx_db_id(before > 0 ?
	    before : INT64_MAX, bs), ls, column, value, blind };

	snprintf(ls, sizeof(ls), "%d", limit);
	/*
	 * One more than asked tells whether there is a next page. Two
	 * statements, so that the plain page is a backward walk of
	 * uploads_ws that stops after LIMIT + 1 rows: a filter a page
	 * does not use still costs its plan's start-up in every execution.
	 */
	if (column == NULL)
		return apx_db_query(db, APX_DB_RETRY, out, "SELECT "
		    UPLOAD_COLS("u") " FROM uploads u WHERE u.workspace_id ="
		    " $1::bigint AND u.id < $2::bigint ORDER BY"
		    " u.workspace_id DESC, u.id DESC LIMIT $3::int + 1", 3, p);
	return apx_db_query(db, APX_DB_RETRY, out, "SELECT " UPLOAD_COLS("u")
	    " FROM uploads u WHERE u.workspace_id = $1::bigint AND"
	    " u.id < $2::bigint AND EXISTS (SELECT 1 FROM upload_personal p"
	    " WHERE p.upload_id = u.id AND p.column_name = $4 AND"
	    " (p.value = $5 OR p.blind = decode($6, 'hex')))"
	    " ORDER BY u.workspace_id DESC, u.id DESC LIMIT $3::int + 1", 6, p);
}

int
apx_upload_get(struct apx_db *db, int64_t ws, int64_t id, json_t **out)
{
	char wss[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(ws, wss), apx_db_id(id, is) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT " UPLOAD_JSON("u")
	    " FROM uploads u WHERE u.workspace_id = $1::bigint AND u.id ="
	    " $2::bigint", 2, p);
}

int
apx_upload_rows(struct apx_db *db, int64_t ws, int64_t id, PGresult **out)
{
	char wss[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(ws, wss), apx_db_id(id, is) };
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, out, "SELECT r.row_no,"
	    " r.cells, coalesce((SELECT json_object_agg(f.column_name,"
	    " CASE WHEN f.sealed IS NULL THEN to_json(f.value) ELSE"
	    " json_build_array(encode(f.sealed, 'hex')) END) FROM"
	    " upload_personal f WHERE f.upload_id = r.upload_id AND"
	    " f.row_no = r.row_no), '{}') FROM upload_rows r JOIN uploads u"
	    " ON u.id = r.upload_id WHERE u.workspace_id = $1::bigint AND"
	    " u.id = $2::bigint ORDER BY r.row_no", 2, p)) != 0)
		return rc;
	return 0;
}

int
apx_upload_delete(struct apx_db *db, int64_t ws, int64_t id, json_t **out)
{
	char wss[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(ws, wss), apx_db_id(id, is) };

	return apx_db_json(db, 0, out,
	    "WITH f AS (DELETE FROM forecasts WHERE upload_id = $2::bigint"
	    " AND workspace_id = $1::bigint RETURNING id),"
	    " u AS (DELETE FROM uploads WHERE workspace_id = $1::bigint AND"
	    " id = $2::bigint RETURNING *)"
	    " SELECT json_build_object('upload', " UPLOAD_JSON("u") ","
	    " 'forecasts_deleted', (SELECT count(*) FROM f)) FROM u", 2, p);
}

int
apx_forecast_insert(struct apx_db *db, const struct apx_forecast_new *f,
    json_t **out)
{
	char ws[APX_DB_ID_LEN], up[APX_DB_ID_LEN], by[APX_DB_ID_LEN];
	char key[APX_DB_ID_LEN], *params = NULL, *result = NULL;
	const char *p[7];
	int rc;

	*out = NULL;
	if ((params = dump(f->parameters)) == NULL ||
	    (result = dump(f->result)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	p[0] = apx_db_id(f->ws, ws);
	p[1] = apx_db_id(f->upload, up);
	p[2] = f->name;
	p[3] = params;
	p[4] = result;
	p[5] = id_or_null(f->by.user, by);
	p[6] = id_or_null(f->by.key, key);
	rc = apx_db_json(db, 0, out,
	    "WITH f AS (INSERT INTO forecasts (workspace_id, upload_id, name,"
	    " parameters, result, created_by, created_by_key) SELECT"
	    " $1::bigint, u.id, $3, $4::jsonb, $5::jsonb, $6::bigint,"
	    " $7::bigint FROM uploads u WHERE u.id = $2::bigint AND"
	    " u.workspace_id = $1::bigint RETURNING *)"
	    " SELECT json_build_object('forecast', " FORECAST_JSON("f") ","
	    " 'result', f.result) FROM f", 7, p);
out:
	free(params);
	free(result);
	return rc;
}

int
apx_forecast_list(struct apx_db *db, int64_t ws, int64_t before, int limit,
    PGresult **out)
{
	char wss[APX_DB_ID_LEN], bs[APX_DB_ID_LEN], ls[16];
	const char *p[3] = { apx_db_id(ws, wss), apx_db_id(before > 0 ?
	    before : INT64_MAX, bs), ls };

	snprintf(ls, sizeof(ls), "%d", limit);
	/* a backward walk of forecasts_ws, as the uploads' */
	return apx_db_query(db, APX_DB_RETRY, out, "SELECT "
	    FORECAST_COLS("f") " FROM forecasts f WHERE f.workspace_id ="
	    " $1::bigint AND f.id < $2::bigint ORDER BY f.workspace_id DESC,"
	    " f.id DESC LIMIT $3::int + 1", 3, p);
}

int
apx_forecast_get(struct apx_db *db, int64_t ws, int64_t id, json_t **out)
{
	char wss[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(ws, wss), apx_db_id(id, is) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT json_build_object("
	    "'forecast', " FORECAST_JSON("f") ", 'result', f.result) FROM"
	    " forecasts f WHERE f.workspace_id = $1::bigint AND f.id ="
	    " $2::bigint", 2, p);
}

int
apx_forecast_delete(struct apx_db *db, int64_t ws, int64_t id, json_t **out)
{
	char wss[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(ws, wss), apx_db_id(id, is) };

	return apx_db_json(db, 0, out, "WITH f AS (DELETE FROM forecasts"
	    " WHERE workspace_id = $1::bigint AND id = $2::bigint RETURNING *)"
	    " SELECT " FORECAST_JSON("f") " FROM f", 2, p);
}

int
apx_upload_is_personal(json_t *up, const char *name)
{
	json_t *pcols = json_object_get(up, "personal_columns"), *v;
	size_t i;

	json_array_foreach(pcols, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return 1;
	}
	return 0;
}

long
apx_upload_cell_index(json_t *up, const char *name)
{
	json_t *v;
	size_t i;
	long idx = 0;

	if (apx_upload_is_personal(up, name))
		return -2;
	json_array_foreach(json_object_get(up, "columns"), i, v) {
		if (!json_is_string(v))
			continue;
		if (strcmp(json_string_value(v), name) == 0)
			return idx;
		if (!apx_upload_is_personal(up, json_string_value(v)))
			idx++;
	}
	return -1;
}

int
apx_upload_delete_workspace(struct apx_db *db, int64_t ws)
{
	char wss[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(ws, wss) };
	int rc;

	if ((rc = apx_db_do(db, 0, "DELETE FROM forecasts WHERE workspace_id ="
	    " $1::bigint", 1, p)) != 0)
		return rc;
	return apx_db_do(db, 0, "DELETE FROM uploads WHERE workspace_id ="
	    " $1::bigint", 1, p);
}

int
apx_upload_next_id(struct apx_db *db, int64_t *id)
{
	PGresult *res;
	long long v;
	int rc;

	if ((rc = apx_db_query(db, 0, &res, "SELECT nextval('uploads_id_seq')",
	    0, NULL)) != 0)
		return rc;
	rc = apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) == 0 ? 0 :
	    APX_EDB;
	PQclear(res);
	if (rc == 0)
		*id = v;
	return rc;
}

#define SEAL_BATCH	500

int
apx_upload_seal_personal(struct apx_db *t, struct apx_db *ctl,
    struct apx_vault *v, int64_t org, long long max, long long *done,
    long long *left)
{
	char lim[24], sh[2 * 8192 + 3], blind[APX_PII_BLIND_HEX];
	const char *p[1] = { lim };
	unsigned char *sealed = NULL;
	PGresult *res = NULL;
	long long up, row;
	size_t n;
	int i, rc = 0, got;

	*done = *left = 0;
	while (*done < max) {
		snprintf(lim, sizeof(lim), "%lld", max - *done < SEAL_BATCH ?
		    max - *done : SEAL_BATCH);
		if ((rc = apx_db_begin(t)) != 0)
			return rc;
		if ((rc = apx_db_query(t, 0, &res, "SELECT upload_id, row_no,"
		    " column_name, value FROM upload_personal WHERE value IS"
		    " NOT NULL ORDER BY upload_id, row_no, column_name LIMIT"
		    " $1::int FOR UPDATE SKIP LOCKED", 1, p)) != 0)
			goto fail;
		got = PQntuples(res);
		for (i = 0; i < got; i++) {
			const char *col = PQgetvalue(res, i, 2);
			const char *val = PQgetvalue(res, i, 3);
			size_t vlen = (size_t)PQgetlength(res, i, 3);
			const char *q[5];

			if (apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX,
			    &up) != 0 || apx_parse_ll(PQgetvalue(res, i, 1), 1,
			    INT32_MAX, &row) != 0) {
				rc = APX_EDB;
				goto fail;
			}
			if ((rc = apx_pii_seal(v, ctl, org, up, row, col, val,
			    vlen, &sealed, &n)) != 0 ||
			    (rc = apx_pii_blind(v, ctl, org, col, val, vlen,
			    blind)) != 0)
				goto fail;
			if (2 * n + 3 > sizeof(sh)) {
				rc = APX_ETOOBIG;
				goto fail;
			}
			apx_db_hex(sealed, n, sh);
			free(sealed);
			sealed = NULL;
			q[0] = PQgetvalue(res, i, 0);
			q[1] = PQgetvalue(res, i, 1);
			q[2] = col;
			q[3] = sh;
			q[4] = blind;
			if ((rc = apx_db_do(t, 0, "UPDATE upload_personal SET"
			    " value = NULL, sealed = $4::bytea, blind ="
			    " decode($5, 'hex') WHERE upload_id = $1::bigint AND"
			    " row_no = $2::int AND column_name = $3", 5, q)) != 0)
				goto fail;
		}
		PQclear(res);
		res = NULL;
		if ((rc = apx_db_commit(t)) != 0)
			return rc;
		*done += got;
		if (got == 0 || got < SEAL_BATCH)
			break;
	}
	if ((rc = apx_db_query(t, APX_DB_RETRY, &res, "SELECT count(*) FROM"
	    " upload_personal WHERE value IS NOT NULL", 0, NULL)) != 0)
		return rc;
	(void)apx_parse_ll(PQgetvalue(res, 0, 0), 0, INT64_MAX, left);
	PQclear(res);
	return 0;
fail:
	free(sealed);
	PQclear(res);
	apx_db_rollback(t);
	return rc;
}

int
apx_upload_seal_all(struct apx_db *ctl, struct apx_tenants *tenants,
    struct apx_vault *v, long long max, struct apx_seal_report *r)
{
	PGresult *res;
	struct apx_db *t;
	long long org, done, left;
	int i, rc;

	memset(r, 0, sizeof(*r));
	if ((r->failed = json_array()) == NULL)
		return APX_ENOMEM;
	if ((rc = apx_db_query(ctl, APX_DB_RETRY, &res, "SELECT id, slug FROM"
	    " orgs WHERE (settings->>'pii_encryption') = '1' AND plan IN"
	    " ('growth', 'agency') ORDER BY id", 0, NULL)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		if (apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX, &org) != 0)
			continue;
		r->orgs++;
		done = left = 0;
		if ((rc = apx_tenants_db(tenants, org, &t)) != 0 ||
		    (rc = apx_upload_seal_personal(t, ctl, v, org,
		    max - r->sealed, &done, &left)) != 0) {
			apx_log_error("org %s: sealing personal fields failed: "
			    "%s", PQgetvalue(res, i, 1), apx_strerror(rc));
			json_array_append_new(r->failed,
			    json_string(PQgetvalue(res, i, 1)));
		}
		r->sealed += done;
		r->left += left;
	}
	PQclear(res);
	return 0;
}
