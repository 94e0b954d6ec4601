/*
 * /admin/api/compliance[/{id}]: the compliance sheet of the platform
 * console (superusers only: the router has checked), a register of the
 * DPAs and subprocessors for security reviewers and auditors. Every
 * field is checked here (422 naming it); every change is in the platform
 * audit log.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth/session.h"
#include "authz/authz.h"
#include "core/url.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/compliance.h"

#define CATEGORIES_MAX		32
#define CATEGORY_MAX		100	/* characters */
#define URL_MAX			2048

struct field {
	const char	*name;
	int		(*check)(struct apx_ctx *, const struct field *, json_t *,
			    json_t *);
	size_t		 max;		/* characters, for text */
	int		 required;	/* on creation */
	int		 nullable;
};

static int	 bad(struct apx_ctx *, const char *, const char *);
static int	 text_ok(struct apx_ctx *, const struct field *, json_t *,
		    json_t *);
static int	 kind_ok(struct apx_ctx *, const struct field *, json_t *,
		    json_t *);
static int	 categories_ok(struct apx_ctx *, const struct field *,
		    json_t *, json_t *);
static int	 date_ok(struct apx_ctx *, const struct field *, json_t *,
		    json_t *);
static int	 url_ok(struct apx_ctx *, const struct field *, json_t *,
		    json_t *);
static int	 valid_date(const char *);
static int	 check(struct apx_ctx *, json_t *, int, json_t **);
static int	 missing(struct apx_ctx *);
static int	 item_target(struct apx_ctx *, int64_t *, const char **);

static const struct field fields[] = {
	/* name			check		max	req	null */
	{ "kind",		kind_ok,	0,	1,	0 },
	{ "name",		text_ok,	200,	1,	0 },
	{ "purpose",		text_ok,	1000,	1,	0 },
	{ "data_categories",	categories_ok,	0,	1,	0 },
	{ "region",		text_ok,	100,	1,	0 },
	{ "dpa_signed",		date_ok,	0,	0,	1 },
	{ "review_due",		date_ok,	0,	1,	0 },
	{ "document_url",	url_ok,		URL_MAX, 0,	1 },
};

static int
bad(struct apx_ctx *c, const char *field, const char *detail)
{
	(void)apx_resp_problem(c->resp, 422, "invalid-field", detail, field);
	return APX_EINVAL;
}

/* A display text of F->max characters at most, no control characters. */
static int
text_ok(struct apx_ctx *c, const struct field *f, json_t *body, json_t *out)
{
	const char *s;
	int rc;

	if ((rc = apx_route_name(c, body, f->name, f->max, &s)) != 0)
		return rc;
	return json_object_set_new(out, f->name, json_string(s)) == 0 ? 0 :
	    APX_ENOMEM;
}

static int
kind_ok(struct apx_ctx *c, const struct field *f, json_t *body, json_t *out)
{
	const char *s = json_string_value(json_object_get(body, f->name));

	if (s == NULL || (strcmp(s, "dpa") != 0 &&
	    strcmp(s, "subprocessor") != 0))
		return bad(c, f->name, "kind is dpa (a data processing "
		    "agreement) or subprocessor.");
	return json_object_set_new(out, f->name, json_string(s)) == 0 ? 0 :
	    APX_ENOMEM;
}

/* 1 to 32 distinct names of 1 to 100 characters, no control characters. */
static int
categories_ok(struct apx_ctx *c, const struct field *f, json_t *body,
    json_t *out)
{
	json_t *in = json_object_get(body, f->name), *list, *v, *one;
	size_t i, j;
	int rc = 0;

	if (!json_is_array(in) || json_array_size(in) == 0 ||
	    json_array_size(in) > CATEGORIES_MAX)
		return bad(c, f->name, "data_categories is a list of 1 to 32 "
		    "categories of personal data, such as \"contact details\".");
	if ((list = json_array()) == NULL || (one = json_object()) == NULL) {
		json_decref(list);
		return APX_ENOMEM;
	}
	json_array_foreach(in, i, v) {
		const char *s;

		/* Each entry is checked as a field of its own. */
		if (json_object_set(one, f->name, v) != 0) {
			rc = APX_ENOMEM;
			break;
		}
		if ((rc = apx_route_name(c, one, f->name, CATEGORY_MAX,
		    &s)) != 0) {
			rc = bad(c, f->name, apx_arena_printf(c->req->arena,
			    "Entry %zu is not a category: 1 to %d characters, "
			    "no control characters.", i + 1, CATEGORY_MAX));
			break;
		}
		for (j = 0; j < i; j++)
			if (strcmp(json_string_value(json_array_get(in, j)),
			    s) == 0)
				break;
		if (j < i) {
			rc = bad(c, f->name, apx_arena_printf(c->req->arena,
			    "Entry %zu repeats entry %zu.", i + 1, j + 1));
			break;
		}
		if (json_array_append_new(list, json_string(s)) != 0) {
			rc = APX_ENOMEM;
			break;
		}
	}
	json_decref(one);
	if (rc == 0 && json_object_set_new(out, f->name, list) == 0)
		return 0;
	if (rc == 0)
		rc = APX_ENOMEM;
	else
		json_decref(list);
	return rc;
}

/* YYYY-MM-DD, a day of the calendar from 1900 to 9999. */
static int
valid_date(const char *s)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, m, d, leap;
	size_t i;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !(s[i] >= '0' && s[i] <= '9'))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= days[m - 1] + (m == 2 && leap);
}

static int
date_ok(struct apx_ctx *c, const struct field *f, json_t *body, json_t *out)
{
	json_t *v = json_object_get(body, f->name);

	if (f->nullable && json_is_null(v))
		return json_object_set_new(out, f->name, json_null()) == 0 ?
		    0 : APX_ENOMEM;
	if (!json_is_string(v) || !valid_date(json_string_value(v)))
		return bad(c, f->name, apx_arena_printf(c->req->arena,
		    "%s is a date as YYYY-MM-DD, such as 2027-06-30%s.",
		    f->name, f->nullable ? ", or null" : ""));
	return json_object_set(out, f->name, v) == 0 ? 0 : APX_ENOMEM;
}

static int
url_ok(struct apx_ctx *c, const struct field *f, json_t *body, json_t *out)
{
	json_t *v = json_object_get(body, f->name);

	if (json_is_null(v))
		return json_object_set_new(out, f->name, json_null()) == 0 ?
		    0 : APX_ENOMEM;
	if (!json_is_string(v) || strlen(json_string_value(v)) !=
	    json_string_length(v) ||
	    !apx_url_link_ok(json_string_value(v), URL_MAX))
		return bad(c, f->name, "document_url is an https:// link to "
		    "the document (https://host/path, at most 2048 characters "
		    "of ASCII, no user:password@), or null.");
	return json_object_set(out, f->name, v) == 0 ? 0 : APX_ENOMEM;
}

/*
 * The fields of BODY, each checked, into *OUT (every required field when
 * CREATE, else at least one); on refusal the 422 is set.
 */
static int
check(struct apx_ctx *c, json_t *body, int create, json_t **out)
{
	const char *k;
	json_t *v;
	size_t i;
	int rc = 0;

	*out = NULL;
	json_object_foreach(body, k, v) {
		for (i = 0; i < APX_NELEM(fields); i++)
			if (strcmp(k, fields[i].name) == 0)
				break;
		if (i == APX_NELEM(fields))
			return bad(c, k, "Not a field of a compliance item.");
	}
	if (!create && json_object_size(body) == 0)
		return bad(c, NULL, "Name at least one field to change.");
	if ((*out = json_object()) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < APX_NELEM(fields) && rc == 0; i++) {
		if (json_object_get(body, fields[i].name) == NULL) {
			if (create && fields[i].required)
				rc = bad(c, fields[i].name, "This field is "
				    "required.");
			continue;
		}
		rc = fields[i].check(c, &fields[i], body, *out);
	}
	if (rc != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static int
missing(struct apx_ctx *c)
{
	return apx_resp_problem(c->resp, 404, "compliance-item-not-found",
	    "The compliance sheet has no such item.", NULL);
}

/* The path's {id} and the audit target "compliance:<id>". */
static int
item_target(struct apx_ctx *c, int64_t *id, const char **target)
{
	int rc;

	if ((rc = apx_route_id(c, "id", id)) != 0)
		return rc;
	*target = apx_arena_printf(c->req->arena, "compliance:%lld",
	    (long long)*id);
	return *target == NULL ? APX_ENOMEM : 0;
}

int
apx_route_admin_compliance_list(struct apx_ctx *c)
{
	struct apx_compliance_filter f = { NULL, -1 };
	const char *v;
	PGresult *list;
	int rc;

	if ((f.kind = apx_req_query(c->req, "kind")) != NULL &&
	    strcmp(f.kind, "dpa") != 0 &&
	    strcmp(f.kind, "subprocessor") != 0) {
		(void)bad(c, "kind", "kind is dpa or subprocessor.");
		return 0;
	}
	if ((v = apx_req_query(c->req, "overdue")) != NULL) {
		if (strcmp(v, "true") == 0)
			f.overdue = 1;
		else if (strcmp(v, "false") == 0)
			f.overdue = 0;
		else {
			(void)bad(c, "overdue", "overdue is true or false.");
			return 0;
		}
	}
	if ((rc = apx_compliance_list(c->db, &f, &list)) != 0)
		return rc;
	return apx_route_json_res(c, 200, list);
}

int
apx_route_admin_compliance_create(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	json_t *body, *in = NULL, *item;
	const char *loc;
	int rc;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	rc = check(c, body, 1, &in);
	json_decref(body);
	if (rc != 0)
		return rc == APX_EINVAL ? 0 : rc;
	apx_authz_audit(c, &e, "compliance.created", NULL);
	rc = apx_compliance_create(c->db, in, c->auth->uid, &e, &item);
	json_decref(in);
	if (rc != 0)
		return rc;
	loc = apx_arena_printf(c->req->arena, "/admin/api/compliance/%lld",
	    (long long)json_integer_value(json_object_get(item, "id")));
	if ((rc = apx_resp_json(c->resp, 201, json_pack("{s:o}", "item",
	    item))) != 0)
		return rc;
	return loc == NULL ? APX_ENOMEM : apx_resp_header_set(c->resp,
	    "Location", loc);
}

int
apx_route_admin_compliance_get(struct apx_ctx *c)
{
	json_t *item;
	int64_t id;
	int rc;

	if ((rc = apx_route_id(c, "id", &id)) != 0)
		return rc;
	if ((rc = apx_compliance_get(c->db, id, &item)) == APX_ENOTFOUND)
		return missing(c);
	if (rc != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "item", item));
}

int
apx_route_admin_compliance_patch(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *target;
	json_t *body, *in = NULL, *item;
	int64_t id;
	int rc;

	if ((rc = item_target(c, &id, &target)) != 0)
		return rc;
	if (apx_route_json_body(c, &body) != 0)
		return 0;
	rc = check(c, body, 0, &in);
	json_decref(body);
	if (rc != 0)
		return rc == APX_EINVAL ? 0 : rc;
	apx_authz_audit(c, &e, "compliance.updated", target);
	rc = apx_compliance_update(c->db, id, in, c->auth->uid, &e, &item);
	json_decref(in);
	if (rc == APX_ENOTFOUND)
		return missing(c);
	if (rc != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "item", item));
}

int
apx_route_admin_compliance_delete(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *target;
	int64_t id;
	int rc;

	if ((rc = item_target(c, &id, &target)) != 0)
		return rc;
	apx_authz_audit(c, &e, "compliance.deleted", target);
	if ((rc = apx_compliance_delete(c->db, id, &e)) == APX_ENOTFOUND)
		return missing(c);
	if (rc != 0)
		return rc;
	c->resp->status = 204;
	return 0;
}
