/*
 * GET .../audit-log for an org (admin+) and the platform (operators):
 * filters, cursor pages, and a JSON Lines export.
 */
#include "config.h"

#include <string.h>

#include "authz/authz.h"
#include "routes/routes.h"
#include "store/audit.h"

#define MAX_FILTER	200

static int	 bad(struct apx_ctx *, const char *, const char *);
static int	 wants_jsonl(const struct apx_ctx *);
static int	 time_arg(struct apx_ctx *, const char *, const char **);

/* An RFC 3339 time of the query, in the one form SQL is given. */
static int
time_arg(struct apx_ctx *c, const char *name, const char **out)
{
	const char *v = apx_req_query(c->req, name);
	char buf[40];
	int64_t t;
	int us;

	*out = NULL;
	if (v == NULL)
		return 0;
	if (apx_rfc3339_parse_us(v, &t, &us) != 0)
		return APX_EINVAL;
	apx_rfc3339_format_us(t, us, buf, sizeof(buf));
	return (*out = apx_arena_strdup(c->req->arena, buf)) != NULL ? 0 :
	    APX_ENOMEM;
}

static int
bad(struct apx_ctx *c, const char *field, const char *detail)
{
	/* The problem is the answer: the handler succeeded. */
	return apx_resp_problem(c->resp, 422, "invalid-field", detail, field);
}

static int
wants_jsonl(const struct apx_ctx *c)
{
	const char *f = apx_req_query(c->req, "format");
	const char *acc = apx_req_header(c->req, "accept");

	if (f != NULL)
		return strcmp(f, "jsonl") == 0;
	return acc != NULL && strstr(acc, "application/x-ndjson") != NULL;
}

int
apx_route_audit_log(struct apx_ctx *c, const char *log)
{
	struct apx_audit_filter f;
	const char *v, *fmt;
	long long n;
	json_t *page;
	int rc;

	memset(&f, 0, sizeof(f));
	f.limit = 100;
	f.actor = apx_req_query(c->req, "actor");
	f.action = apx_req_query(c->req, "action");
	if ((f.actor != NULL && (*f.actor == '\0' ||
	    strlen(f.actor) > MAX_FILTER)))
		return bad(c, "actor", "actor is an actor id.");
	if ((f.action != NULL && (*f.action == '\0' ||
	    strlen(f.action) > MAX_FILTER)))
		return bad(c, "action", "action is an action name or a prefix "
		    "ending in '.'.");
	if (time_arg(c, "since", &f.since) != 0)
		return bad(c, "since", "since is an RFC 3339 time.");
	if (time_arg(c, "until", &f.until) != 0)
		return bad(c, "until", "until is an RFC 3339 time.");
	if ((v = apx_req_query(c->req, "limit")) != NULL) {
		if (apx_parse_ll(v, 1, 500, &n) != 0)
			return bad(c, "limit", "limit is 1 to 500.");
		f.limit = (int)n;
	}
	if ((v = apx_req_query(c->req, "cursor")) != NULL) {
		if (apx_parse_ll(v, 1, INT64_MAX, &n) != 0)
			return bad(c, "cursor", "cursor is a next_cursor value "
			    "of an earlier page.");
		f.before_seq = n;
	}
	fmt = apx_req_query(c->req, "format");
	if (fmt != NULL && strcmp(fmt, "jsonl") != 0 && strcmp(fmt, "json")
	    != 0)
		return bad(c, "format", "format is json or jsonl.");
	c->resp->no_store = 1;
	if (wants_jsonl(c)) {
		if ((rc = apx_audit_export(c->db, log, &f, &c->resp->body)) !=
		    0)
			return rc;
		c->resp->status = 200;
		(void)apx_resp_header_set(c->resp, "Content-Type",
		    "application/x-ndjson");
		(void)apx_resp_header_set(c->resp, "Content-Disposition",
		    "attachment; filename=\"audit-log.jsonl\"");
		return 0;
	}
	if ((rc = apx_audit_query(c->db, log, &f, &page)) != 0)
		return rc;
	return apx_resp_json(c->resp, 200, page);
}

int
apx_route_org_audit_log(struct apx_ctx *c)
{
	return apx_route_audit_log(c, apx_arena_printf(c->req->arena,
	    "org:%lld", (long long)c->org->id));
}

int
apx_route_admin_audit_log(struct apx_ctx *c)
{
	return apx_route_audit_log(c, APX_AUDIT_PLATFORM);
}
