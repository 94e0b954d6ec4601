/* Small shared steps of the handlers: body fields and path ids. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "authz/authz.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/tenant.h"

static int	 no_controls(const char *);

static int
no_controls(const char *str)
{
	const unsigned char *s;

	for (s = (const unsigned char *)str; *s != '\0'; s++)
		if (*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
apx_route_string(struct apx_ctx *c, json_t *body, const char *name,
    size_t max, int required, const char **out, size_t *len)
{
	json_t *v = json_object_get(body, name);

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0) {
		(void)apx_resp_problem(c->resp, 422, "invalid-field",
		    "This field is required and must be a string.", name);
		return APX_EINVAL;
	}
	if (json_string_length(v) > max) {
		(void)apx_resp_problem(c->resp, 422, "invalid-field",
		    "This field is too long.", name);
		return APX_EINVAL;
	}
	*out = json_string_value(v);
	if (len != NULL)
		*len = json_string_length(v);
	return 0;
}

int
apx_route_name(struct apx_ctx *c, json_t *body, const char *field,
    size_t max, const char **out)
{
	const unsigned char *s;
	size_t chars = 0;
	int rc;

	/* MAX characters: at most 4 bytes each in UTF-8 (which jansson
	 * has checked). */
	if ((rc = apx_route_string(c, body, field, max * 4, 1, out, NULL)) != 0)
		return rc;
	for (s = (const unsigned char *)*out; *s != '\0'; s++)
		if ((*s & 0xc0) != 0x80)
			chars++;
	if (chars > max) {
		*out = NULL;
		(void)apx_resp_problem(c->resp, 422, "invalid-field",
		    "This field is too long.", field);
		return APX_EINVAL;
	}
	/* Names are shown to others: no control characters, no NUL. */
	if (strlen(*out) != json_string_length(json_object_get(body, field)) ||
	    !no_controls(*out))
		goto bad;
	return 0;
bad:
	(void)apx_resp_problem(c->resp, 422, "invalid-field",
	    "This field may not hold control characters.", field);
	return APX_EINVAL;
}

int
apx_route_id(struct apx_ctx *c, const char *param, int64_t *id)
{
	long long v;

	if (apx_parse_ll(apx_req_param(c->req, param), 1, INT64_MAX, &v) != 0)
		return APX_ENOTFOUND;
	*id = v;
	return 0;
}

int
apx_route_json_body(struct apx_ctx *c, json_t **body)
{
	return apx_http_json_object(c->req, c->resp, body) != 0 ?
	    APX_EINVAL : 0;
}

int
apx_route_page(struct apx_ctx *c, int max, int *limit, int64_t *cursor)
{
	const char *v;
	long long n;

	*limit = max < 50 ? max : 50;
	*cursor = 0;
	if ((v = apx_req_query(c->req, "limit")) != NULL) {
		if (apx_parse_ll(v, 1, max, &n) != 0) {
			(void)apx_resp_problem(c->resp, 422, "invalid-field",
			    apx_arena_printf(c->req->arena, "limit is 1 to %d.",
			    max), "limit");
			return APX_EINVAL;
		}
		*limit = (int)n;
	}
	if ((v = apx_req_query(c->req, "cursor")) != NULL) {
		if (apx_parse_ll(v, 1, INT64_MAX, &n) != 0) {
			(void)apx_resp_problem(c->resp, 422, "invalid-field",
			    "cursor is a next_cursor value of an earlier page.",
			    "cursor");
			return APX_EINVAL;
		}
		*cursor = n;
	}
	return 0;
}

int
apx_route_tenant_db(struct apx_ctx *c, struct apx_db **out)
{
	/* Only after authz: c->org is the caller's org. */
	if (c->org == NULL || c->tenants == NULL)
		return APX_ENOTFOUND;
	return apx_tenants_db(c->tenants, c->org->id, out);
}

int
apx_route_json_res(struct apx_ctx *c, int status, PGresult *res)
{
	int rc;

	rc = apx_resp_json_text(c->resp, status, PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	return rc;
}

int
apx_route_rows_res(struct apx_ctx *c, const char *key, PGresult *res,
    const struct apx_jcol *cols, size_t ncols, int page)
{
	struct apx_buf *b = &c->resp->body;
	int n = PQntuples(res), more = page > 0 && n > page, rc;

	if (more)
		n = page;
	apx_buf_reset(b);
	if ((rc = apx_buf_add(b, "{\"", 2)) == 0 &&
	    (rc = apx_buf_adds(b, key)) == 0 &&
	    (rc = apx_buf_add(b, "\":", 2)) == 0 &&
	    (rc = apx_db_rows_json(b, res, 0, n, cols, ncols)) == 0 &&
	    page > 0 &&
	    (rc = apx_buf_adds(b, ",\"next_cursor\":")) == 0)
		rc = more ? apx_buf_json_ascii(b, PQgetvalue(res, n - 1, 0),
		    (size_t)PQgetlength(res, n - 1, 0)) :
		    apx_buf_add(b, "null", 4);
	if (rc == 0)
		rc = apx_buf_add(b, "}", 1);
	PQclear(res);
	if (rc != 0) {
		apx_buf_reset(b);
		return rc == APX_EINVAL ? APX_EDB : rc;
	}
	return apx_resp_json_body(c->resp, 200);
}

int
apx_route_tenant_commit(struct apx_ctx *c, struct apx_db *t,
    struct apx_audit_entry *e, json_t *before, json_t *after)
{
	int rc;

	/* The entry first: an action it cannot record does not happen. */
	e->before = before;
	e->after = after;
	rc = apx_audit_append(c->db, e);
	e->before = e->after = NULL;
	if (rc != 0) {
		apx_db_rollback(t);
		return rc;
	}
	if ((rc = apx_db_commit(t)) != 0)
		apx_log_error("rid=%s %s %s: audited, but the tenant database "
		    "did not commit: %s", c->req->request_id, e->action,
		    e->target, apx_strerror(rc));
	return rc;
}

int
apx_route_query_text(struct apx_ctx *c, const char *name, size_t max,
    int required, const char **out)
{
	size_t chars;

	*out = apx_req_query(c->req, name);
	if (*out == NULL && !required)
		return 0;
	/* Characters, not bytes, like the database's length(). */
	if (*out != NULL && **out != '\0' && apx_utf8_chars(*out,
	    strlen(*out), &chars) == 0 && chars <= max && no_controls(*out))
		return 0;
	(void)apx_resp_problem(c->resp, 422, "invalid-field",
	    apx_arena_printf(c->req->arena, "%s is required: 1 to %zu "
	    "characters of UTF-8, no control characters.", name, max), name);
	return APX_EINVAL;
}

int
apx_route_tenant_missing(struct apx_ctx *c, const char *kind)
{
	return apx_resp_problem(c->resp, 404, apx_arena_printf(c->req->arena,
	    "%s-not-found", kind), apx_arena_printf(c->req->arena, "This "
	    "workspace has no such %s.", kind), NULL);
}

int
apx_route_tenant_delete(struct apx_ctx *c, const char *kind,
    int (*del)(struct apx_db *, int64_t, int64_t, json_t **))
{
	struct apx_audit_entry e;
	struct apx_db *t;
	json_t *gone = NULL;
	int64_t id;
	int rc;

	if ((rc = apx_route_id(c, "id", &id)) != 0 ||
	    (rc = apx_route_tenant_db(c, &t)) != 0 ||
	    (rc = apx_db_begin(t)) != 0)
		return rc;
	if ((rc = del(t, c->org->ws, id, &gone)) != 0 || gone == NULL) {
		apx_db_rollback(t);
		return rc != 0 ? rc : apx_route_tenant_missing(c, kind);
	}
	apx_authz_audit(c, &e, apx_arena_printf(c->req->arena, "%s.delete",
	    kind), apx_arena_printf(c->req->arena, "%s:%lld", kind,
	    (long long)id));
	rc = apx_route_tenant_commit(c, t, &e, gone, NULL);
	json_decref(gone);
	if (rc != 0)
		return rc;
	c->resp->status = 204;
	return 0;
}
