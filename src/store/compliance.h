/*
 * The compliance sheet (migration 0019; docs/api.md "Platform admin"):
 * the platform's DPAs and subprocessors. Every change is audited in the
 * platform log inside its own transaction.
 *
 * An item is {id, kind, name, purpose, data_categories, region,
 * dpa_signed, review_due, document_url, overdue, created_at, created_by,
 * updated_at, updated_by}; dates are "YYYY-MM-DD", overdue is review_due
 * before today (UTC). The audit entries hold the item without overdue and
 * with the query and fragment of document_url left out (a signed link
 * carries its credential there).
 */
#ifndef APX_STORE_COMPLIANCE_H
#define APX_STORE_COMPLIANCE_H

#include <stdint.h>

#include <libpq-fe.h>

#include <jansson.h>

struct apx_db;
struct apx_audit_entry;

/* The list filters: KIND (NULL: both), OVERDUE (-1: all, 0 or 1). */
struct apx_compliance_filter {
	const char	*kind;
	int		 overdue;
};

/* {items: [...]}, overdue first, then by review_due and id. */
int	 apx_compliance_list(struct apx_db *, const struct apx_compliance_filter *,
	    PGresult **);
/* Item ID; APX_ENOTFOUND. */
int	 apx_compliance_get(struct apx_db *, int64_t, json_t **);
/*
 * A new item from FIELDS (checked by the caller: every field of an item
 * but the computed ones), created by user BY, audited as E (its target
 * set here to "compliance:<id>").
 */
int	 apx_compliance_create(struct apx_db *, json_t *, int64_t,
	    struct apx_audit_entry *, json_t **);
/* Item ID with the fields of PATCH (checked) changed by BY, audited as E
 * with before and after; APX_ENOTFOUND. */
int	 apx_compliance_update(struct apx_db *, int64_t, json_t *, int64_t,
	    struct apx_audit_entry *, json_t **);
/* Delete item ID, audited as E (the item as before); APX_ENOTFOUND. */
int	 apx_compliance_delete(struct apx_db *, int64_t,
	    struct apx_audit_entry *);

#endif
