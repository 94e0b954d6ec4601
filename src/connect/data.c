/*
 * The services of ABI minor 1 (include/accupredix/connector.h): JSON
 * parsed once and walked, sales records, waiting in a job, and a
 * provider's privacy requests run through the privacy flows.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"
#include "store/audit.h"
#include "store/connect.h"
#include "store/db.h"
#include "store/privacy.h"
#include "store/sales.h"
#include "store/tenant.h"

#define JSON_MAX	(2 * 1024 * 1024)
#define ROOTS_MAX	64		/* parsed texts per context */
#define SALES_MAX	10000		/* records per context */
#define WAIT_MAX_MS	60000
#define SUBJECT_MAX	4096

static int	 sale_ok(const struct apx_sale *);
static int	 decimal_ok(const char *);
static int	 date_ok(const char *);
static int	 printable(const char *, size_t);
static void	 audit_system(struct apx_cx *, struct apx_audit_entry *, char *,
		    size_t, const char *, const char *);
static int	 privacy_export(struct apx_cx *, struct apx_db *, json_t *,
		    json_t **);
static int	 privacy_erase(struct apx_cx *, struct apx_db *, json_t *,
		    json_t **);
static int	 privacy_forget(struct apx_cx *, struct apx_db *, json_t **);
static int	 subject_value(json_t *, const char *);

const struct apx_json *
apx_hd_json_parse(struct apx_cx *cx, const char *text, size_t len)
{
	json_t *root;

	if (cx == NULL || text == NULL || len > JSON_MAX)
		return NULL;
	if (cx->roots == NULL && (cx->roots = json_array()) == NULL)
		return NULL;
	if (json_array_size(cx->roots) >= ROOTS_MAX) {
		apx_log_warn("connector %s: over %d JSON texts in one call",
		    cx->pl->d->name, ROOTS_MAX);
		return NULL;
	}
	if ((root = json_loadb(text, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, NULL)) == NULL)
		return NULL;
	if (json_array_append_new(cx->roots, root) != 0)
		return NULL;
	return (const struct apx_json *)root;
}

const struct apx_json *
apx_hd_json_at(const struct apx_json *node, const char *path)
{
	char seg[128];
	const char *p, *e;
	json_t *v = (json_t *)(uintptr_t)node;
	long long idx;
	size_t n;

	if (node == NULL || path == NULL)
		return NULL;
	for (p = path; v != NULL && *p != '\0'; p = *e == '.' ? e + 1 : e) {
		if ((e = strchr(p, '.')) == NULL)
			e = p + strlen(p);
		if ((n = (size_t)(e - p)) == 0 || n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (json_is_array(v) && apx_parse_ll(seg, 0, 1000000, &idx) == 0)
			v = json_array_get(v, (size_t)idx);
		else if (json_is_object(v))
			v = json_object_get(v, seg);
		else
			v = NULL;
	}
	return (const struct apx_json *)v;
}

const char *
apx_hd_json_text(struct apx_cx *cx, const struct apx_json *node,
    const char *path)
{
	const json_t *v = (const json_t *)apx_hd_json_at(node, path);
	char num[64];

	if (cx == NULL || v == NULL)
		return NULL;
	if (json_is_string(v))
		return apx_cx_dup(cx, json_string_value(v),
		    json_string_length(v));
	if (json_is_integer(v))
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_real(v))
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" :
		    "false");
	else
		return NULL;
	return apx_cx_dup(cx, num, sizeof(num));
}

size_t
apx_hd_json_size(const struct apx_json *node)
{
	const json_t *v = (const json_t *)node;

	if (json_is_array(v))
		return json_array_size(v);
	if (json_is_object(v))
		return json_object_size(v);
	return 0;
}

static int
printable(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* -?[0-9]{1,15}(.[0-9]{1,6})? */
static int
decimal_ok(const char *s)
{
	size_t i = 0, d = 0, f = 0;

	if (s == NULL)
		return 0;
	if (s[i] == '-')
		i++;
	for (; s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (s[i] == '.')
		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			f++;
	return s[i] == '\0' && d >= 1 && d <= 15 && f <= 6 &&
	    (strchr(s, '.') == NULL || f >= 1);
}

/* YYYY-MM-DD, a real day. */
static int
date_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, m, d, i;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1970 || y > 2200 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) ||
	    y % 400 == 0))
		return 0;
	return 1;
}

static int
sale_ok(const struct apx_sale *s)
{
	size_t i;

	if (s == NULL || !printable(s->id, 128) || s->kind == NULL ||
	    !date_ok(s->date) || !decimal_ok(s->amount))
		return 0;
	for (i = 0; s->kind[i] != '\0'; i++)
		if (i >= 32 || !((s->kind[i] >= 'a' && s->kind[i] <= 'z') ||
		    s->kind[i] == '_'))
			return 0;
	if (i == 0)
		return 0;
	if (s->currency != NULL && !(strlen(s->currency) == 3 &&
	    s->currency[0] >= 'A' && s->currency[0] <= 'Z' &&
	    s->currency[1] >= 'A' && s->currency[1] <= 'Z' &&
	    s->currency[2] >= 'A' && s->currency[2] <= 'Z'))
		return 0;
	return 1;
}

int
apx_hd_sale(struct apx_cx *cx, const struct apx_sale *s)
{
	json_t *r;

	if (cx == NULL || cx->sales == NULL || cx->conn <= 0)
		return APX_C_EDENIED;
	if (!sale_ok(s)) {
		apx_log_warn("connector %s: a malformed sales record refused",
		    cx->pl->d->name);
		return APX_C_EINVAL;
	}
	if (json_array_size(cx->sales) >= SALES_MAX)
		return APX_C_ETOOBIG;
	if ((r = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b}", "id", s->id,
	    "kind", s->kind, "date", s->date, "amount", s->amount, "currency",
	    s->currency, "voided", s->voided != 0)) == NULL ||
	    json_array_append_new(cx->sales, r) != 0)
		return APX_C_ENOMEM;
	return 0;
}

int
apx_hd_wait(struct apx_cx *cx, int64_t ms)
{
	struct timespec ts;

	if (cx == NULL || !cx->job)
		return APX_C_EDENIED;
	if (ms < 0 || ms > WAIT_MAX_MS)
		return APX_C_EINVAL;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return 0;
}

/* An org audit entry made by the system for the context's connector. */
static void
audit_system(struct apx_cx *cx, struct apx_audit_entry *e, char *log,
    size_t loglen, const char *action, const char *target)
{
	snprintf(log, loglen, "org:%lld", (long long)cx->org);
	memset(e, 0, sizeof(*e));
	e->log = log;
	e->actor_type = "system";
	e->actor_id = "0";
	e->action = action;
	e->target = target;
	e->client_addr = "";
	e->request_id = cx->rid != NULL ? cx->rid : "";
}

/* 1 when V is one of the subject's values (emails case-insensitively). */
static int
subject_value(json_t *subject, const char *v)
{
	const char *email = json_string_value(json_object_get(subject,
	    "email"));
	const char *phone = json_string_value(json_object_get(subject,
	    "phone"));

	if (v == NULL)
		return 0;
	return (email != NULL && *email != '\0' && strcasecmp(v, email) == 0) ||
	    (phone != NULL && *phone != '\0' && strcmp(v, phone) == 0);
}

/*
 * The subject's data: the org's privacy export, kept to the rows of its
 * uploads where one personal field is the subject's email or phone.
 */
static int
privacy_export(struct apx_cx *cx, struct apx_db *t, json_t *subject,
    json_t **result)
{
	json_t *archive = NULL, *up, *pd, *f, *rows, *fields, *out;
	char key[32];
	size_t i, j;
	int rc;

	*result = NULL;
	if ((rc = apx_privacy_org_export(cx->db, t, cx->v, cx->org,
	    &archive)) != 0)
		return rc;
	if ((out = json_array()) == NULL) {
		json_decref(archive);
		return APX_ENOMEM;
	}
	json_array_foreach(json_object_get(archive, "uploads"), i, up) {
		pd = json_object_get(up, "personal_data");
		if ((rows = json_object()) == NULL ||
		    (fields = json_array()) == NULL) {
			json_decref(rows);
			rc = APX_ENOMEM;
			break;
		}
		/* The rows that name the subject, then all their fields. */
		json_array_foreach(pd, j, f) {
			if (!subject_value(subject, json_string_value(
			    json_object_get(f, "value"))))
				continue;
			snprintf(key, sizeof(key), "%lld", (long long)
			    json_integer_value(json_object_get(f, "row")));
			json_object_set_new(rows, key, json_true());
		}
		json_array_foreach(pd, j, f) {
			snprintf(key, sizeof(key), "%lld", (long long)
			    json_integer_value(json_object_get(f, "row")));
			if (json_object_get(rows, key) != NULL)
				json_array_append(fields, f);
		}
		if (json_array_size(fields) > 0)
			json_array_append_new(out, json_pack("{s:O, s:O, s:o}",
			    "upload_id", json_object_get(up, "id"), "name",
			    json_object_get(up, "name"), "fields", fields));
		else
			json_decref(fields);
		json_decref(rows);
	}
	json_decref(archive);
	if (rc != 0) {
		json_decref(out);
		return rc;
	}
	*result = json_pack("{s:o}", "uploads", out);
	return *result != NULL ? 0 : APX_ENOMEM;
}

/* Erase the subject from the org's uploads, by email and by phone. */
static int
privacy_erase(struct apx_cx *cx, struct apx_db *t, json_t *subject,
    json_t **result)
{
	static const char *const cols[] = { "email", "phone" };
	struct apx_erasure_report r;
	long long uploads = 0, rows = 0, fields = 0;
	const char *v;
	size_t i;
	int rc;

	*result = NULL;
	for (i = 0; i < APX_NELEM(cols); i++) {
		v = json_string_value(json_object_get(subject, cols[i]));
		if (v == NULL || *v == '\0')
			continue;
		memset(&r, 0, sizeof(r));
		if ((rc = apx_db_begin(t)) != 0)
			return rc;
		if ((rc = apx_privacy_erase_subject(t, cx->db, cx->v, cx->org,
		    cols[i], v, &r)) != 0) {
			apx_db_rollback(t);
			return rc;
		}
		if ((rc = apx_db_commit(t)) != 0)
			return rc;
		uploads += r.uploads;
		rows += r.rows;
		fields += r.fields;
	}
	*result = json_pack("{s:I, s:I, s:I}", "uploads", (json_int_t)uploads,
	    "rows", (json_int_t)rows, "fields", (json_int_t)fields);
	return *result != NULL ? 0 : APX_ENOMEM;
}

/* The account left: its records, events and series here, and the
 * connection with its sealed tokens and slots. */
static int
privacy_forget(struct apx_cx *cx, struct apx_db *t, json_t **result)
{
	long long n = 0;
	int rc;

	*result = NULL;
	if (cx->conn <= 0)
		return APX_EINVAL;
	if ((rc = apx_sales_forget(t, cx->conn, &n)) != 0)
		return rc;
	if ((rc = apx_db_begin(cx->db)) != 0)
		return rc;
	if ((rc = apx_conn_delete(cx->db, cx->org, cx->conn)) != 0 &&
	    rc != APX_ENOTFOUND) {
		apx_db_rollback(cx->db);
		return rc;
	}
	if ((rc = apx_db_commit(cx->db)) != 0)
		return rc;
	*result = json_pack("{s:I, s:b}", "records", (json_int_t)n,
	    "connection_deleted", 1);
	return *result != NULL ? 0 : APX_ENOMEM;
}

int
apx_hd_privacy(struct apx_cx *cx, int what, const char *subject_text)
{
	static const char *const kinds[] = { "", "export", "erase", "forget" };
	static const char *const actions[] = { "", "privacy.subject_export",
	    "privacy.erasure.subject", "connector.forget" };
	struct apx_audit_entry e;
	struct apx_db *t;
	json_t *subject = NULL, *result = NULL, *kept = NULL, *after;
	char log[32], target[96];
	int rc;

	if (cx == NULL || !cx->job || cx->tenants == NULL || cx->org <= 0 ||
	    cx->v == NULL)
		return APX_C_EDENIED;
	if (what < APX_C_PRIVACY_EXPORT || what > APX_C_PRIVACY_FORGET)
		return APX_C_EINVAL;
	if (what != APX_C_PRIVACY_FORGET) {
		if (subject_text == NULL || strlen(subject_text) > SUBJECT_MAX ||
		    (subject = json_loads(subject_text, JSON_REJECT_DUPLICATES,
		    NULL)) == NULL || !json_is_object(subject)) {
			json_decref(subject);
			return APX_C_EINVAL;
		}
	}
	if ((rc = apx_tenants_db(cx->tenants, cx->org, &t)) != 0)
		goto out;
	switch (what) {
	case APX_C_PRIVACY_EXPORT:
		rc = privacy_export(cx, t, subject, &result);
		kept = json_incref(subject);
		break;
	case APX_C_PRIVACY_ERASE:
		rc = privacy_erase(cx, t, subject, &result);
		/* What stays names the provider's customer id, never the
		 * erased address. */
		kept = json_pack("{s:O?}", "customer_id", json_object_get(
		    subject, "customer_id"));
		break;
	default:
		rc = privacy_forget(cx, t, &result);
		kept = json_pack("{s:s?}", "account", cx->account);
		break;
	}
	if (rc != 0)
		goto out;
	if ((rc = apx_privacy_request_add(t, cx->pl->d->name, kinds[what],
	    kept, result)) != 0)
		goto out;
	snprintf(target, sizeof(target), "connector:%s", cx->pl->d->name);
	audit_system(cx, &e, log, sizeof(log), actions[what], target);
	/* The log entry says what was done, never whom it was about. */
	after = what == APX_C_PRIVACY_EXPORT ? json_pack("{s:I}", "uploads",
	    (json_int_t)json_array_size(json_object_get(result, "uploads"))) :
	    json_deep_copy(result);
	e.after = after;
	rc = apx_audit_append(cx->db, &e);
	json_decref(after);
	if (rc == 0)
		apx_log_info("connector %s: %s request of org %lld done",
		    cx->pl->d->name, kinds[what], (long long)cx->org);
	cx->privacy_calls++;
out:
	json_decref(subject);
	json_decref(kept);
	json_decref(result);
	return rc == 0 ? 0 : rc == APX_ENOMEM ? APX_C_ENOMEM : APX_C_EIO;
}
