/* The compliance sheet: DPAs and subprocessors (migration 0019). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"
#include "store/compliance.h"
#include "store/db.h"

/* Today's date in UTC: what "overdue" is measured against. */
#define TODAY	"(now() AT TIME ZONE 'UTC')::date"

/* The stored fields of item c, its document link as URL (an expression). */
#define FIELDS(url) \
	"'id', c.id, 'kind', c.kind, 'name', c.name, 'purpose', c.purpose," \
	" 'data_categories', to_json(c.data_categories), 'region', c.region," \
	" 'dpa_signed', to_char(c.dpa_signed, 'YYYY-MM-DD'), 'review_due'," \
	" to_char(c.review_due, 'YYYY-MM-DD'), 'document_url', " url "," \
	" 'created_at', apx_ts(c.created_at), 'created_by', c.created_by," \
	" 'updated_at', apx_ts(c.updated_at), 'updated_by', c.updated_by"

#define OVERDUE	"c.review_due < " TODAY
#define ITEM_JSON \
	"json_build_object(" FIELDS("c.document_url") ", 'overdue', " \
	OVERDUE ")"
/* For the audit log: no computed field, and a link's query and fragment
 * (where a signed link carries its credential) replaced by "[removed]". */
#define AUDIT_JSON \
	"json_build_object(" FIELDS("regexp_replace(c.document_url," \
	" '([?#]).*$', '\\1[removed]')") ")"
#define BOTH_JSON \
	"json_build_object('item', " ITEM_JSON ", 'audit', " AUDIT_JSON ")"

/* The categories of patch p, in their order. */
#define CATEGORIES \
	"ARRAY(SELECT e FROM jsonb_array_elements_text(p->'data_categories')" \
	" WITH ORDINALITY AS t(e, n) ORDER BY n)"

static int	 audited(struct apx_db *, json_t *, const char *,
		    struct apx_audit_entry *, json_t *, json_t **);

/*
 * End the caller's transaction with ROW ({item, audit}) audited as E
 * (BEFORE as before, may be NULL) under TARGET (NULL: E's own); *OUT
 * gets the item.
 */
static int
audited(struct apx_db *db, json_t *row, const char *target,
    struct apx_audit_entry *e, json_t *before, json_t **out)
{
	const char *saved = e->target;
	json_t *item = json_object_get(row, "item");
	int rc;

	if (target != NULL)
		e->target = target;
	rc = apx_audit_commit(db, e, before, json_object_get(row, "audit"));
	e->target = saved;
	if (rc == 0)
		*out = json_incref(item);
	return rc;
}

int
apx_compliance_list(struct apx_db *db, const struct apx_compliance_filter *f,
    PGresult **out)
{
	const char *p[2] = { f->kind, f->overdue < 0 ? NULL :
	    f->overdue ? "true" : "false" };

	return apx_db_json_res(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('items', coalesce(json_agg(" ITEM_JSON
	    " ORDER BY " OVERDUE " DESC, c.review_due, c.id), '[]'))"
	    " FROM compliance_items c WHERE ($1::text IS NULL OR"
	    " c.kind = $1) AND ($2::boolean IS NULL OR (" OVERDUE ") ="
	    " $2::boolean)", 2, p);
}

int
apx_compliance_get(struct apx_db *db, int64_t id, json_t **out)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };
	int rc;

	if ((rc = apx_db_json(db, APX_DB_RETRY, out, "SELECT " ITEM_JSON
	    " FROM compliance_items c WHERE c.id = $1::bigint", 1, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

int
apx_compliance_create(struct apx_db *db, json_t *fields, int64_t by,
    struct apx_audit_entry *e, json_t **out)
{
	char bs[APX_DB_ID_LEN], target[48], *text;
	const char *p[2];
	json_t *row = NULL;
	int rc;

	*out = NULL;
	if ((text = json_dumps(fields, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = text;
	p[1] = apx_db_id(by, bs);
	if ((rc = apx_db_begin(db)) != 0)
		goto out;
	if ((rc = apx_db_json(db, 0, &row, "INSERT INTO compliance_items AS c"
	    " (kind, name, purpose, data_categories, region, dpa_signed,"
	    " review_due, document_url, created_by, updated_by) SELECT"
	    " p->>'kind', p->>'name', p->>'purpose', " CATEGORIES ","
	    " p->>'region', (p->>'dpa_signed')::date, (p->>'review_due')::date,"
	    " p->>'document_url', $2::bigint, $2::bigint FROM (SELECT"
	    " $1::jsonb AS p) x RETURNING " BOTH_JSON, 2, p)) != 0 ||
	    row == NULL) {
		apx_db_rollback(db);
		if (rc == 0)
			rc = APX_EDB;
		goto out;
	}
	snprintf(target, sizeof(target), "compliance:%lld",
	    (long long)json_integer_value(json_object_get(json_object_get(row,
	    "item"), "id")));
	rc = audited(db, row, target, e, NULL, out);
out:
	json_decref(row);
	free(text);
	return rc;
}

int
apx_compliance_update(struct apx_db *db, int64_t id, json_t *patch,
    int64_t by, struct apx_audit_entry *e, json_t **out)
{
	char is[APX_DB_ID_LEN], bs[APX_DB_ID_LEN], *text;
	const char *p[3];
	json_t *before = NULL, *row = NULL;
	int rc;

	*out = NULL;
	if ((text = json_dumps(patch, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(id, is);
	p[1] = text;
	p[2] = apx_db_id(by, bs);
	if ((rc = apx_db_begin(db)) != 0)
		goto out;
	if ((rc = apx_db_json(db, 0, &before, "SELECT " AUDIT_JSON " FROM"
	    " compliance_items c WHERE c.id = $1::bigint FOR UPDATE", 1,
	    p)) != 0)
		goto fail;
	if (before == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
#define KEEP(col, val) \
	" " col " = CASE WHEN p ? '" col "' THEN " val " ELSE c." col " END,"
	if ((rc = apx_db_json(db, 0, &row, "UPDATE compliance_items AS c SET"
	    KEEP("kind", "p->>'kind'")
	    KEEP("name", "p->>'name'")
	    KEEP("purpose", "p->>'purpose'")
	    KEEP("data_categories", CATEGORIES)
	    KEEP("region", "p->>'region'")
	    KEEP("dpa_signed", "(p->>'dpa_signed')::date")
	    KEEP("review_due", "(p->>'review_due')::date")
	    KEEP("document_url", "p->>'document_url'")
	    " updated_at = now(), updated_by = $3::bigint FROM (SELECT"
	    " $2::jsonb AS p) x WHERE c.id = $1::bigint RETURNING " BOTH_JSON,
	    3, p)) != 0)
		goto fail;
#undef KEEP
	if (row == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	rc = audited(db, row, NULL, e, before, out);
	goto out;
fail:
	apx_db_rollback(db);
out:
	json_decref(before);
	json_decref(row);
	free(text);
	return rc;
}

int
apx_compliance_delete(struct apx_db *db, int64_t id,
    struct apx_audit_entry *e)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };

	return apx_audit_change(db, e, 1, NULL, "DELETE FROM compliance_items"
	    " c WHERE c.id = $1::bigint RETURNING " AUDIT_JSON, 1, p);
}
