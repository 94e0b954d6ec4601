/*
 * Uploads of a workspace (tenant database): CSV in, rows stored, CSV out.
 * POST …/uploads?name=N[&filename=F][&personal_data=c1,c2] with a text/csv
 * body. Personal-data columns are declared at upload; members below
 * analyst (and viewer-capped API keys) download them masked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "authz/authz.h"
#include "authz/perm.h"
#include "auth/session.h"
#include "core/buf.h"
#include "core/csv.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/orgs.h"
#include "store/uploads.h"
#include "vault/pii.h"
#include "vault/vault.h"

#define MAX_UPLOAD_NAME		200
#define MAX_FILENAME		255
#define MAX_COLS		256
#define MAX_FIELD		4096
#define PERSONAL_MAX		16
#define MASK			"***"
/* Who sees personal fields in clear. */
#define PERSONAL_ROLE		APX_ROLE_ANALYST

struct build {
	struct apx_buf	 rows;		/* JSON text of the rows */
	struct apx_buf	 fields;	/* JSON text of the personal fields */
	json_t		*columns;
	const char	*personal[PERSONAL_MAX];
	size_t		 npersonal;
	unsigned char	 is_personal[MAX_COLS];
	const char	*missing;	/* a declared column not in the header */
	size_t		 nrows;
	/* Sealing personal fields (pii_encryption): */
	struct apx_vault *vault;	/* NULL: stored in clear */
	struct apx_db	*ctl;
	int64_t		 org, upload;
	int		 err;		/* why sealing failed */
};

static int	 on_row(void *, size_t, const char *const *, const size_t *,
		    size_t);
static int	 personal_param(struct apx_ctx *, struct build *);
static void	 by_of(const struct apx_ctx *, struct apx_actor_ids *);
static int	 sees_personal(const struct apx_ctx *);
static int	 seals_personal(struct apx_ctx *, struct apx_vault **);
static int	 add_sealed(struct build *, size_t, const char *, const char *,
		    size_t);
static int	 open_field(struct apx_ctx *, int64_t, long long,
		    const char *, const char *, char **);
static int	 find_upload(struct apx_ctx *, struct apx_db **, int64_t *,
		    json_t **);
static int	 write_csv(struct apx_ctx *, json_t *, PGresult *,
		    struct apx_buf *);

static void
by_of(const struct apx_ctx *c, struct apx_actor_ids *by)
{
	by->user = c->auth->uid;
	by->key = c->auth->kind == APX_AUTH_APIKEY ? c->auth->key_id : 0;
}

static int
sees_personal(const struct apx_ctx *c)
{
	return c->org->role >= PERSONAL_ROLE;
}

/*
 * Does this org seal personal fields (Growth+ and pii_encryption on)?
 * 1 with *V, 0, or an error (no vault key: APX_ENOKEY).
 */
static int
seals_personal(struct apx_ctx *c, struct apx_vault **v)
{
	json_t *set = NULL;
	int on, rc;

	*v = NULL;
	if (c->org->plan < APX_PLAN_GROWTH)
		return 0;
	if ((rc = apx_org_settings_get(c->db, c->org->id, &set)) != 0)
		return rc;
	on = json_integer_value(json_object_get(json_object_get(set,
	    "settings"), "pii_encryption")) == 1 ||
	    json_integer_value(json_object_get(set, "pii_encryption")) == 1;
	json_decref(set);
	if (!on)
		return 0;
	if (apx_vault_keyed(c->conf, v) != 0)
		return APX_ENOKEY;
	return 1;
}

/* [row, column, null, sealed, blind] of a personal field, sealed. */
static int
add_sealed(struct build *b, size_t rowno, const char *col, const char *val,
    size_t len)
{
	char blind[APX_PII_BLIND_HEX], *hex = NULL;
	unsigned char *sealed = NULL;
	size_t n = 0;
	int rc;

	if ((rc = apx_pii_seal(b->vault, b->ctl, b->org, b->upload,
	    (long long)rowno, col, val, len, &sealed, &n)) != 0 ||
	    (rc = apx_pii_blind(b->vault, b->ctl, b->org, col, val, len,
	    blind)) != 0)
		goto out;
	if ((hex = malloc(2 * n + 1)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	sodium_bin2hex(hex, 2 * n + 1, sealed, n);
	rc = apx_buf_printf(&b->fields, "%s[%zu,", b->fields.len > 1 ? "," : "",
	    rowno);
	if (rc == 0)
		rc = apx_buf_json_string(&b->fields, col, strlen(col));
	if (rc == 0)
		rc = apx_buf_printf(&b->fields, ",null,\"%s\",\"%s\"]", hex,
		    blind);
out:
	if (rc != 0)
		b->err = rc;
	free(sealed);
	free(hex);
	return rc;
}

/* ?personal_data=a,b: names of columns holding personal data. */
static int
personal_param(struct apx_ctx *c, struct build *b)
{
	const char *v = apx_req_query(c->req, "personal_data");
	char *s, *tok, *save = NULL;
	size_t i;

	if (v == NULL || *v == '\0')
		return 0;
	if ((s = apx_arena_strdup(c->req->arena, v)) == NULL)
		return APX_ENOMEM;
	for (tok = strtok_r(s, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < b->npersonal; i++)
			if (strcmp(b->personal[i], tok) == 0)
				break;
		if (i < b->npersonal)
			continue;
		if (b->npersonal == PERSONAL_MAX || *tok == '\0' ||
		    strlen(tok) > APX_CSV_NAME_MAX) {
			(void)apx_resp_problem(c->resp, 422, "invalid-field",
			    "personal_data is a comma-separated list of at "
			    "most 16 column names.", "personal_data");
			return APX_EINVAL;
		}
		b->personal[b->npersonal++] = tok;
	}
	return 0;
}

static int
on_row(void *arg, size_t rowno, const char *const *f, const size_t *len,
    size_t n)
{
	struct build *b = arg;
	size_t i, j, cells = 0;
	char num[32];
	int rc;

	if (rowno == 0) {
		for (i = 0; i < n; i++)
			if (json_array_append_new(b->columns,
			    json_stringn(f[i], len[i])) != 0)
				return APX_ENOMEM;
		for (j = 0; j < b->npersonal; j++) {
			for (i = 0; i < n; i++)
				if (strcmp(f[i], b->personal[j]) == 0)
					break;
			if (i == n) {
				b->missing = b->personal[j];
				return APX_ENOTFOUND;
			}
			b->is_personal[i] = 1;
		}
		return 0;
	}
	b->nrows = rowno;
	if ((rc = apx_buf_adds(&b->rows, rowno == 1 ? "[" : ",[")) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		if (b->is_personal[i]) {
			if (len[i] == 0)
				continue;	/* nothing personal in it */
			if (b->vault != NULL) {
				if ((rc = add_sealed(b, rowno, json_string_value(
				    json_array_get(b->columns, i)), f[i],
				    len[i])) != 0)
					return rc;
				continue;
			}
			snprintf(num, sizeof(num), "[%zu,", rowno);
			if ((b->fields.len > 1 &&
			    (rc = apx_buf_add(&b->fields, ",", 1)) != 0) ||
			    (rc = apx_buf_adds(&b->fields, num)) != 0 ||
			    (rc = apx_buf_json_string(&b->fields,
			    json_string_value(json_array_get(b->columns, i)),
			    json_string_length(json_array_get(b->columns, i)))) !=
			    0 || (rc = apx_buf_add(&b->fields, ",", 1)) != 0 ||
			    (rc = apx_buf_json_string(&b->fields, f[i],
			    len[i])) != 0 ||
			    (rc = apx_buf_add(&b->fields, "]", 1)) != 0)
				return rc;
			continue;
		}
		if ((cells++ > 0 && (rc = apx_buf_add(&b->rows, ",", 1)) != 0) ||
		    (rc = apx_buf_json_string(&b->rows, f[i], len[i])) != 0)
			return rc;
	}
	return apx_buf_add(&b->rows, "]", 1);
}

int
apx_route_uploads_create(struct apx_ctx *c)
{
	struct apx_csv_limits lim = { 0, 0, MAX_COLS, MAX_FIELD };
	struct apx_csv_error cerr;
	struct apx_upload_new u;
	struct apx_audit_entry e;
	struct build b;
	struct apx_db *t = NULL;
	json_t *up = NULL, *pers = NULL;
	size_t i;
	int rc;

	memset(&b, 0, sizeof(b));
	memset(&u, 0, sizeof(u));
	if (c->req->content_type == NULL ||
	    strcmp(c->req->content_type, "text/csv") != 0)
		return apx_resp_problem(c->resp, 415, "unsupported-media-type",
		    "An upload is a text/csv body.", NULL);
	if (apx_route_query_text(c, "name", MAX_UPLOAD_NAME, 1, &u.name) != 0 ||
	    apx_route_query_text(c, "filename", MAX_FILENAME, 0, &u.filename) !=
	    0 ||
	    personal_param(c, &b) != 0)
		return 0;
	if ((long long)c->req->body_len > c->conf->upload_max_bytes)
		return apx_resp_problem(c->resp, 413, "upload-too-large",
		    apx_arena_printf(c->req->arena, "An upload is at most %lld "
		    "bytes.", c->conf->upload_max_bytes), NULL);
	lim.max_bytes = (size_t)c->conf->upload_max_bytes;
	lim.max_rows = (size_t)c->conf->upload_max_rows;
	b.rows.max = b.fields.max = 8 * lim.max_bytes + 1024;
	if ((b.columns = json_array()) == NULL ||
	    (pers = json_array()) == NULL ||
	    apx_buf_add(&b.rows, "[", 1) != 0 ||
	    apx_buf_add(&b.fields, "[", 1) != 0) {
		rc = APX_ENOMEM;
		goto out;
	}
	if ((rc = seals_personal(c, &b.vault)) < 0)
		goto out;
	if ((rc = apx_route_tenant_db(c, &t)) != 0)
		goto out;
	if (b.vault != NULL) {
		b.ctl = c->db;
		b.org = c->org->id;
		if ((rc = apx_upload_next_id(t, &b.upload)) != 0)
			goto out;
		u.id = b.upload;
	}
	rc = apx_csv_parse((const char *)c->req->body, c->req->body_len, &lim,
	    on_row, &b, &cerr);
	if (rc != 0 && b.err != 0) {
		rc = b.err;
		goto out;
	}
	if (rc == APX_ENOTFOUND) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    apx_arena_printf(c->req->arena, "personal_data names a "
		    "column the file does not have: %s.", b.missing),
		    "personal_data");
		goto out;
	}
	if (rc == APX_EINVAL || rc == APX_ETOOBIG) {
		rc = apx_resp_problem(c->resp, 422, "invalid-csv",
		    cerr.line == 0 ? apx_arena_printf(c->req->arena, "%s",
		    cerr.reason) : cerr.column == 0 ? apx_arena_printf(
		    c->req->arena, "line %zu: %s", cerr.line, cerr.reason) :
		    apx_arena_printf(c->req->arena, "line %zu, field %zu: %s",
		    cerr.line, cerr.column, cerr.reason), "file");
		goto out;
	}
	if (rc != 0)
		goto out;
	if (apx_buf_add(&b.rows, "]", 1) != 0 ||
	    apx_buf_add(&b.fields, "]", 1) != 0) {
		rc = APX_ENOMEM;
		goto out;
	}
	for (i = 0; i < b.npersonal; i++)
		json_array_append_new(pers, json_string(b.personal[i]));
	u.ws = c->org->ws;
	u.size = c->req->body_len;
	u.nrows = b.nrows;
	u.columns = b.columns;
	u.personal = pers;
	u.rows = b.rows.data;
	u.fields = b.fields.data;
	by_of(c, &u.by);
	if ((rc = apx_db_begin(t)) != 0)
		goto out;
	if ((rc = apx_upload_insert(t, &u, &up)) != 0 || up == NULL) {
		apx_db_rollback(t);
		rc = rc != 0 ? rc : APX_EDB;
		goto out;
	}
	apx_authz_audit(c, &e, "upload.create", apx_arena_printf(
	    c->req->arena, "upload:%lld", json_integer_value(json_object_get(
	    up, "id"))));
	if ((rc = apx_route_tenant_commit(c, t, &e, NULL, up)) != 0)
		goto out;
	rc = apx_resp_json(c->resp, 201, json_pack("{s:O}", "upload", up));
out:
	json_decref(up);
	json_decref(pers);
	json_decref(b.columns);
	apx_buf_free(&b.rows);
	apx_buf_free(&b.fields);
	return rc;
}

int
apx_route_uploads_list(struct apx_ctx *c)
{
	const struct apx_kvlist *q = &c->req->query;
	const char *column = NULL, *value = NULL, *bp = NULL;
	char blind[APX_PII_BLIND_HEX];
	struct apx_db *t;
	PGresult *list;
	int64_t cursor;
	size_t i;
	int limit, rc;

	if (apx_route_page(c, APX_UPLOAD_LIST_MAX, &limit, &cursor) != 0)
		return 0;
	/* ?<personal column>=<value>: uploads with that data subject. */
	for (i = 0; i < q->n; i++) {
		if (strcmp(q->v[i].key, "limit") == 0 ||
		    strcmp(q->v[i].key, "cursor") == 0)
			continue;
		if (column != NULL || *q->v[i].key == '\0' ||
		    strlen(q->v[i].key) > APX_CSV_NAME_MAX ||
		    *q->v[i].value == '\0')
			return apx_resp_problem(c->resp, 422, "invalid-field",
			    "Filter by one personal-data column: "
			    "?column_name=value.", q->v[i].key);
		column = q->v[i].key;
		value = q->v[i].value;
	}
	if (column != NULL && !sees_personal(c))
		return apx_resp_problem(c->resp, 403, "forbidden",
		    "Searching by personal data needs the analyst role.",
		    column);
	if (column != NULL) {
		struct apx_vault *v;

		/* Sealed fields are found by their blind index. */
		if (apx_vault_keyed(c->conf, &v) == 0) {
			if ((rc = apx_pii_blind(v, c->db, c->org->id, column,
			    value, strlen(value), blind)) != 0)
				return rc;
			bp = blind;
		}
	}
	if ((rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_upload_list(t, c->org->ws, column, value, bp, cursor,
	    limit, &list)) != 0)
		return rc;
	return apx_route_rows_res(c, "uploads", list, apx_upload_cols,
	    APX_UPLOAD_NCOLS, limit);
}

/*
 * Upload {id} of the workspace into *UP with its database *T; *UP NULL
 * when there is none (the 404 is answered, 0 returned).
 */
static int
find_upload(struct apx_ctx *c, struct apx_db **t, int64_t *id, json_t **up)
{
	int rc;

	*up = NULL;
	if ((rc = apx_route_id(c, "id", id)) != 0 ||
	    (rc = apx_route_tenant_db(c, t)) != 0 ||
	    (rc = apx_upload_get(*t, c->org->ws, *id, up)) != 0)
		return rc;
	return *up == NULL ? apx_route_tenant_missing(c, "upload") : 0;
}

int
apx_route_upload_get(struct apx_ctx *c)
{
	struct apx_db *t;
	json_t *up;
	int64_t id;
	int rc;

	if ((rc = find_upload(c, &t, &id, &up)) != 0 || up == NULL)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "upload", up));
}

/* Open the sealed field HEX of (UPLOAD, ROW, COLUMN) into *OUT. */
static int
open_field(struct apx_ctx *c, int64_t upload, long long row,
    const char *column, const char *hex, char **out)
{
	struct apx_vault *v;
	size_t plen;
	int rc;

	*out = NULL;
	if ((rc = apx_vault_keyed(c->conf, &v)) != 0 ||
	    (rc = apx_pii_open_hex(v, c->db, c->org->id, upload, row, column,
	    hex, out, &plen)) != 0)
		apx_log_error("rid=%s upload %lld row %lld: a personal field "
		    "does not open: %s", c->req->request_id, (long long)upload,
		    row, apx_strerror(rc));
	return rc;
}

/* The upload UP as CSV: its rows RES (apx_upload_rows) in file order. */
static int
write_csv(struct apx_ctx *c, json_t *up, PGresult *res, struct apx_buf *out)
{
	json_t *cols = json_object_get(up, "columns");
	int64_t upload = json_integer_value(json_object_get(up, "id"));
	size_t n = json_array_size(cols), i, k, r;
	const char *f[MAX_COLS];
	char *opened[MAX_COLS];
	size_t len[MAX_COLS];
	unsigned char personal[MAX_COLS];
	long long row;
	int clear = sees_personal(c), rc = 0;

	if (n == 0 || n > MAX_COLS)
		return APX_EDB;
	memset(personal, 0, sizeof(personal));
	memset(opened, 0, sizeof(opened));
	for (i = 0; i < n; i++) {
		f[i] = json_string_value(json_array_get(cols, i));
		if (f[i] == NULL)
			return APX_EDB;
		len[i] = strlen(f[i]);
		personal[i] = (unsigned char)apx_upload_is_personal(up, f[i]);
	}
	if ((rc = apx_csv_write_row(out, f, len, n, APX_CSV_NEUTRALISE)) != 0)
		return rc;
	for (r = 0; r < (size_t)PQntuples(res) && rc == 0; r++) {
		json_t *cells = json_loads(PQgetvalue(res, (int)r, 1), 0, NULL);
		json_t *pv = json_loads(PQgetvalue(res, (int)r, 2), 0, NULL);

		if (apx_parse_ll(PQgetvalue(res, (int)r, 0), 1, INT32_MAX,
		    &row) != 0)
			rc = APX_EDB;
		for (i = k = 0; rc == 0 && i < n; i++) {
			const char *col = json_string_value(json_array_get(cols,
			    i));
			json_t *v;

			if (!personal[i]) {
				f[i] = json_string_value(json_array_get(cells,
				    k++));
			} else if ((v = json_object_get(pv, col)) == NULL)
				f[i] = "";
			else if (!clear)
				f[i] = MASK;
			else if (json_is_array(v)) {
				rc = open_field(c, upload, row, col,
				    json_string_value(json_array_get(v, 0)) ?
				    json_string_value(json_array_get(v, 0)) : "",
				    &opened[i]);
				f[i] = opened[i];
			} else
				f[i] = json_string_value(v);
			if (rc == 0 && f[i] == NULL)
				rc = APX_EDB;
			if (rc == 0)
				len[i] = strlen(f[i]);
		}
		if (rc == 0)
			rc = apx_csv_write_row(out, f, len, n,
			    APX_CSV_NEUTRALISE);
		for (i = 0; i < n; i++) {
			if (opened[i] != NULL) {
				apx_wipe(opened[i], strlen(opened[i]));
				free(opened[i]);
				opened[i] = NULL;
			}
		}
		json_decref(cells);
		json_decref(pv);
	}
	return rc;
}

int
apx_route_upload_content(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	struct apx_db *t;
	PGresult *res = NULL;
	json_t *up = NULL;
	int64_t id;
	int rc;

	if ((rc = find_upload(c, &t, &id, &up)) != 0 || up == NULL)
		return rc;
	if ((rc = apx_upload_rows(t, c->org->ws, id, &res)) != 0)
		goto out;
	/* Personal data leaving in clear is on record. */
	if (sees_personal(c) && json_array_size(json_object_get(up,
	    "personal_columns")) > 0) {
		apx_authz_audit(c, &e, "upload.download", apx_arena_printf(
		    c->req->arena, "upload:%lld", (long long)id));
		if ((rc = apx_audit_append(c->db, &e)) != 0)
			goto out;
	}
	apx_buf_reset(&c->resp->body);
	if ((rc = write_csv(c, up, res, &c->resp->body)) != 0)
		goto out;
	c->resp->status = 200;
	c->resp->no_store = 1;
	if ((rc = apx_resp_header_set(c->resp, "Content-Type",
	    "text/csv; charset=utf-8")) == 0)
		rc = apx_resp_header(c->resp, "Content-Disposition",
		    apx_arena_printf(c->req->arena, "attachment; filename=\""
		    "upload-%lld.csv\"", (long long)id));
out:
	PQclear(res);
	json_decref(up);
	return rc;
}

int
apx_route_upload_delete(struct apx_ctx *c)
{
	return apx_route_tenant_delete(c, "upload", apx_upload_delete);
}

int
apx_route_internal_pii_run(struct apx_ctx *c)
{
	struct apx_seal_report r;
	struct apx_vault *v;
	const char *q = apx_req_query(c->req, "max_fields");
	long long max = 1000000;
	int rc;

	if (q != NULL && apx_parse_ll(q, 1, 100000000, &max) != 0)
		return apx_resp_problem(c->resp, 422, "invalid-field",
		    "max_fields is 1 to 100000000.", "max_fields");
	if (apx_vault_keyed(c->conf, &v) != 0)
		return APX_ENOKEY;
	if ((rc = apx_upload_seal_all(c->db, c->tenants, v, max, &r)) != 0) {
		json_decref(r.failed);
		return rc;
	}
	return apx_resp_json(c->resp, 200, json_pack("{s:I,s:I,s:I,s:o}",
	    "orgs", (json_int_t)r.orgs, "sealed", (json_int_t)r.sealed, "left",
	    (json_int_t)r.left, "failed_orgs", r.failed));
}
