/* The platform console's queries and impersonation grants. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/apx.h"
#include "store/admin.h"
#include "store/audit.h"
#include "store/db.h"

static int	 to_all_logs(struct apx_db *, int64_t, struct apx_audit_entry *,
		    json_t *);

/*
 * Write E (with AFTER) into the log of every org USER is a member of and
 * into its own log, then commit; roll back on any failure.
 */
static int
to_all_logs(struct apx_db *db, int64_t user, struct apx_audit_entry *e,
    json_t *after)
{
	char us[APX_DB_ID_LEN], log[32];
	const char *p[1] = { apx_db_id(user, us) };
	const char *saved = e->log;
	PGresult *res;
	int rc = 0, r;

	if ((rc = apx_db_query(db, 0, &res, "SELECT org_id FROM memberships"
	    " WHERE user_id = $1::bigint ORDER BY org_id", 1, p)) != 0) {
		apx_db_rollback(db);
		return rc;
	}
	e->after = after;
	for (r = 0; r < PQntuples(res) && rc == 0; r++) {
		snprintf(log, sizeof(log), "org:%s", PQgetvalue(res, r, 0));
		e->log = log;
		rc = apx_audit_append(db, e);
	}
	e->log = saved;
	e->after = NULL;
	PQclear(res);
	if (rc != 0) {
		apx_db_rollback(db);
		return rc;
	}
	return apx_audit_commit(db, e, NULL, after);
}

int
apx_admin_orgs(struct apx_db *db, const char *q, int limit, long long after,
    json_t **out)
{
	char ls[APX_DB_ID_LEN], as[APX_DB_ID_LEN];
	const char *p[3] = { q, apx_db_id(limit, ls), apx_db_id(after, as) };

	return apx_db_json(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('orgs', coalesce(json_agg("
	    "json_build_object('id', o.id, 'slug', o.slug, 'name', o.name,"
	    " 'plan', o.plan, 'region', o.region, 'created_at',"
	    " apx_ts(o.created_at), 'members', (SELECT count(*) FROM"
	    " memberships m WHERE m.org_id = o.id)) ORDER BY o.id), '[]'),"
	    " 'next_cursor', CASE WHEN count(*) = $2::int THEN max(o.id)::text"
	    " END) FROM (SELECT * FROM orgs WHERE id > $3::bigint AND ($1::text"
	    " IS NULL OR position(lower($1) IN lower(slug || ' ' || name)) > 0)"
	    " ORDER BY id LIMIT $2::int) o", 3, p);
}

int
apx_admin_org(struct apx_db *db, const char *slug, json_t **out)
{
	const char *p[1] = { slug };
	int rc;

	if ((rc = apx_db_json(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('id', o.id, 'slug', o.slug, 'name',"
	    " o.name, 'plan', o.plan, 'region', o.region, 'tenant_db',"
	    " o.tenant_db, 'created_at', apx_ts(o.created_at), 'members',"
	    " (SELECT coalesce(json_agg(json_build_object('user_id', u.id,"
	    " 'email', u.email, 'role', m.role) ORDER BY u.id), '[]') FROM"
	    " memberships m JOIN users u ON u.id = m.user_id WHERE"
	    " m.org_id = o.id)) FROM orgs o WHERE o.slug = $1", 1, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

int
apx_admin_users(struct apx_db *db, const char *q, int limit, long long after,
    json_t **out)
{
	char ls[APX_DB_ID_LEN], as[APX_DB_ID_LEN];
	const char *p[3] = { q, apx_db_id(limit, ls), apx_db_id(after, as) };

	return apx_db_json(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('users', coalesce(json_agg("
	    "json_build_object('id', u.id, 'email', u.email, 'name', u.name,"
	    " 'is_superuser', u.is_superuser, 'created_at',"
	    " apx_ts(u.created_at)) ORDER BY u.id), '[]'), 'next_cursor',"
	    " CASE WHEN count(*) = $2::int THEN max(u.id)::text END) FROM"
	    " (SELECT * FROM users WHERE id > $3::bigint AND ($1::text IS NULL"
	    " OR position(lower($1) IN lower(email || ' ' || name)) > 0)"
	    " ORDER BY id LIMIT $2::int) u", 3, p);
}

int
apx_impersonation_start(struct apx_db *db, int64_t operator_id, int64_t user,
    const char *reason, long long ttl, struct apx_audit_entry *e,
    int64_t *id)
{
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN], ts[APX_DB_ID_LEN];
	const char *p[4] = { apx_db_id(operator_id, os), apx_db_id(user, us),
	    reason, apx_db_id(ttl, ts) };
	json_t *row = NULL;
	int rc;

	*id = 0;
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = apx_db_json(db, 0, &row, "SELECT json_build_object("
	    "'superuser', is_superuser) FROM users WHERE id = $1::bigint",
	    1, p + 1)) != 0)
		goto fail;
	if (row == NULL || json_is_true(json_object_get(row, "superuser"))) {
		rc = row == NULL ? APX_ENOTFOUND : APX_EINVAL;
		goto fail;
	}
	json_decref(row);
	row = NULL;
	if ((rc = apx_db_json(db, 0, &row, "INSERT INTO impersonations"
	    " (operator_id, user_id, reason, expires_at) VALUES ($1::bigint,"
	    " $2::bigint, $3, now() + make_interval(secs => $4::bigint))"
	    " RETURNING json_build_object('impersonation', id, 'user', user_id,"
	    " 'reason', reason, 'expires_at', apx_ts(expires_at))", 4, p)) != 0)
		goto fail;
	*id = json_integer_value(json_object_get(row, "impersonation"));
	if ((rc = to_all_logs(db, user, e, row)) != 0)
		*id = 0;
	json_decref(row);
	return rc;
fail:
	apx_db_rollback(db);
	json_decref(row);
	*id = 0;
	return rc;
}

int
apx_impersonation_user(struct apx_db *db, struct apx_arena *a, int64_t imp,
    int64_t uid, int64_t operator_id, struct apx_user *u)
{
	char is[APX_DB_ID_LEN], us[APX_DB_ID_LEN], os[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(imp, is), apx_db_id(uid, us),
	    apx_db_id(operator_id, os) };
	json_t *row;
	int rc;

	memset(u, 0, sizeof(*u));
	/* The operator must still be one: demotion ends every grant. */
	if ((rc = apx_db_json(db, APX_DB_RETRY, &row,
	    "SELECT json_build_object('email', u.email, 'name', u.name)"
	    " FROM impersonations i JOIN users u ON u.id = i.user_id"
	    " JOIN users op ON op.id = i.operator_id WHERE i.id = $1::bigint"
	    " AND i.user_id = $2::bigint AND i.operator_id = $3::bigint AND"
	    " i.ended_at IS NULL AND i.expires_at > now() AND op.is_superuser"
	    " AND NOT u.is_superuser", 3, p)) != 0)
		return rc;
	if (row == NULL)
		return APX_EUNAUTH;
	u->id = uid;
	u->email = apx_arena_strdup(a, json_string_value(json_object_get(row,
	    "email")));
	u->name = apx_arena_strdup(a, json_string_value(json_object_get(row,
	    "name")));
	json_decref(row);
	return u->email == NULL || u->name == NULL ? APX_ENOMEM : 0;
}

int
apx_impersonation_end(struct apx_db *db, int64_t id,
    struct apx_audit_entry *e)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };
	json_t *row = NULL;
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = apx_db_json(db, 0, &row, "UPDATE impersonations SET"
	    " ended_at = now() WHERE id = $1::bigint AND ended_at IS NULL"
	    " RETURNING json_build_object('impersonation', id, 'user',"
	    " user_id, 'operator', operator_id)", 1, p)) != 0)
		goto fail;
	if (row == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	rc = to_all_logs(db, json_integer_value(json_object_get(row, "user")),
	    e, row);
	json_decref(row);
	return rc;
fail:
	apx_db_rollback(db);
	json_decref(row);
	return rc;
}

int
apx_impersonation_use(struct apx_db *db, int64_t org,
    struct apx_audit_entry *e)
{
	char log[32];
	const char *saved = e->log;
	json_t *after = e->after;
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if (org > 0) {
		snprintf(log, sizeof(log), "org:%lld", (long long)org);
		e->log = log;
		rc = apx_audit_append(db, e);
		e->log = saved;
		if (rc != 0) {
			apx_db_rollback(db);
			return rc;
		}
	}
	rc = apx_audit_commit(db, e, NULL, after);
	e->after = after;
	return rc;
}
