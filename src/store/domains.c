/* Verified domains of an org (domains.h). */
#include "config.h"

#include "core/apx.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/domains.h"

#define DOM_JSON \
	"json_build_object('id', d.id, 'domain', d.domain, 'verified'," \
	" d.verified_at IS NOT NULL, 'verified_at', apx_ts(d.verified_at)," \
	" 'txt_name', '" APX_DOMAIN_TXT_PREFIX "' || d.domain, 'txt_value'," \
	" '" APX_DOMAIN_TXT_VALUE "' || d.token, 'created_at'," \
	" apx_ts(d.created_at), 'checked_at', apx_ts(d.checked_at)," \
	" 'last_error', d.last_error)"

int
apx_domain_list(struct apx_db *db, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT json_build_object("
	    "'domains', coalesce(json_agg(" DOM_JSON " ORDER BY d.domain),"
	    " '[]')) FROM org_domains d WHERE d.org_id = $1::bigint", 1, p);
}

int
apx_domain_get(struct apx_db *db, int64_t org, int64_t id, json_t **out)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(id, is) };
	int rc;

	if ((rc = apx_db_json(db, APX_DB_RETRY, out, "SELECT " DOM_JSON
	    " FROM org_domains d WHERE d.org_id = $1::bigint AND d.id ="
	    " $2::bigint", 2, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

int
apx_domain_add(struct apx_db *db, int64_t org, const char *domain,
    const char *token, int64_t user, struct apx_audit_entry *e, json_t **out)
{
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN];
	const char *p[4] = { apx_db_id(org, os), domain, token,
	    user > 0 ? apx_db_id(user, us) : NULL };
	int rc;

	rc = apx_audit_change(db, e, 0, out, "INSERT INTO org_domains AS d"
	    " (org_id, domain, token, created_by) VALUES ($1::bigint, $2, $3,"
	    " $4::bigint) ON CONFLICT (org_id, domain) DO NOTHING RETURNING "
	    DOM_JSON, 4, p);
	return rc == APX_ENOTFOUND ? APX_ECONFLICT : rc;
}

int
apx_domain_verified(struct apx_db *db, int64_t org, int64_t id,
    struct apx_audit_entry *e, json_t **out)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(id, is) };
	PGresult *res;
	int rc, taken;

	/* Not while another org holds it verified (the unique index is the
	 * last word when two orgs verify at the same moment). */
	rc = apx_audit_change(db, e, 0, out, "UPDATE org_domains AS d SET"
	    " verified_at = coalesce(d.verified_at, now()), checked_at = now(),"
	    " last_error = NULL WHERE d.org_id = $1::bigint AND d.id ="
	    " $2::bigint AND NOT EXISTS (SELECT 1 FROM org_domains x WHERE"
	    " x.domain = d.domain AND x.org_id <> d.org_id AND x.verified_at IS"
	    " NOT NULL) RETURNING " DOM_JSON, 2, p);
	if (rc != APX_ENOTFOUND && rc != APX_EDB)
		return rc;
	if (apx_db_query(db, APX_DB_RETRY, &res, "SELECT 1 FROM org_domains d"
	    " JOIN org_domains x ON x.domain = d.domain AND x.org_id <>"
	    " d.org_id AND x.verified_at IS NOT NULL WHERE d.org_id ="
	    " $1::bigint AND d.id = $2::bigint", 2, p) != 0)
		return rc;
	taken = PQntuples(res) > 0;
	PQclear(res);
	return taken ? APX_ECONFLICT : rc;
}

int
apx_domain_failed(struct apx_db *db, int64_t org, int64_t id,
    const char *why)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(org, os), apx_db_id(id, is), why };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE org_domains SET checked_at"
	    " = now(), last_error = $3 WHERE org_id = $1::bigint AND id ="
	    " $2::bigint", 3, p);
}

int
apx_domain_delete(struct apx_db *db, int64_t org, int64_t id,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(id, is) };

	return apx_audit_change(db, e, 1, NULL, "DELETE FROM org_domains AS d"
	    " WHERE d.org_id = $1::bigint AND d.id = $2::bigint RETURNING "
	    DOM_JSON, 2, p);
}
