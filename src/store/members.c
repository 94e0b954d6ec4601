/* Memberships and invitations of an organisation. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "authz/perm.h"
#include "core/apx.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/orgs.h"

static int	 one_row(struct apx_db *, const char *, int, const char *const *,
		    PGresult **);

/* A statement that must hit exactly one row: APX_ENOTFOUND otherwise. */
static int
one_row(struct apx_db *db, const char *sql, int n, const char *const *p,
    PGresult **out)
{
	int rc;

	*out = NULL;
	if ((rc = apx_db_query(db, 0, out, sql, n, p)) != 0)
		return rc;
	if (PQntuples(*out) == 1 || (PQresultStatus(*out) ==
	    PGRES_COMMAND_OK && strcmp(PQcmdTuples(*out), "1") == 0))
		return 0;
	PQclear(*out);
	*out = NULL;
	return APX_ENOTFOUND;
}

const struct apx_jcol apx_member_cols[APX_MEMBER_NCOLS] = {
	{ "user_id", APX_JNUM }, { "email", APX_JSTR }, { "name", APX_JSTR },
	{ "role", APX_JSTR }, { "joined_at", APX_JSTR },
};

int
apx_member_list(struct apx_db *db, int64_t org, PGresult **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_query(db, APX_DB_RETRY, out, "SELECT u.id, u.email,"
	    " u.name, m.role, apx_ts(m.created_at) FROM memberships m"
	    " JOIN users u ON u.id = m.user_id WHERE m.org_id = $1::bigint"
	    " ORDER BY m.created_at, u.id", 1, p);
}

int
apx_member_change(struct apx_db *db, int64_t org, int64_t target, int actor,
    int role, int self, struct apx_audit_entry *e, int *verdict)
{
	char os[APX_DB_ID_LEN], ts[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(org, os), apx_db_id(target, ts),
	    apx_role_name(role) };
	PGresult *res = NULL;
	long long owners;
	int rc, old;

	*verdict = APX_CHANGE_FORBIDDEN;
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/* The owners are locked too: two demotions cannot both pass. */
	if ((rc = apx_db_query(db, 0, &res, "SELECT user_id, role FROM "
	    "memberships WHERE org_id = $1::bigint AND (role = 'owner' OR "
	    "user_id = $2::bigint) ORDER BY user_id FOR UPDATE", 2, p)) != 0)
		goto fail;
	old = APX_ROLE_NONE;
	owners = 0;
	for (int r = 0; r < PQntuples(res); r++) {
		if (strcmp(PQgetvalue(res, r, 0), ts) == 0)
			old = apx_role_parse(PQgetvalue(res, r, 1));
		if (strcmp(PQgetvalue(res, r, 1), "owner") == 0)
			owners++;
	}
	PQclear(res);
	if (old == APX_ROLE_NONE) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	*verdict = apx_perm_member_change(actor, old, role, (int)owners, self);
	if (*verdict != APX_CHANGE_OK) {
		apx_db_rollback(db);
		return 0;
	}
	if (role == APX_ROLE_NONE)
		rc = one_row(db, "DELETE FROM memberships WHERE org_id = "
		    "$1::bigint AND user_id = $2::bigint", 2, p, &res);
	else
		rc = one_row(db, "UPDATE memberships SET role = $3 WHERE "
		    "org_id = $1::bigint AND user_id = $2::bigint", 3, p, &res);
	if (rc != 0)
		goto fail;
	PQclear(res);
	{
		json_t *b = json_pack("{s:s}", "role", apx_role_name(old));
		json_t *a = role == APX_ROLE_NONE ? NULL : json_pack("{s:s}",
		    "role", apx_role_name(role));

		rc = apx_audit_commit(db, e, b, a);
		json_decref(b);
		json_decref(a);
		return rc;
	}
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_invitation_create(struct apx_db *db, int64_t org, const char *email,
    int role, int64_t inviter, const unsigned char *hash, long long lifetime,
    struct apx_audit_entry *e, json_t **out)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN], ttl[APX_DB_ID_LEN];
	char hx[2 + 2 * 32 + 1];
	const char *p[6] = { apx_db_id(org, os), email, apx_role_name(role),
	    apx_db_id(inviter, is), hx, apx_db_id(lifetime, ttl) };

	apx_db_hex(hash, 32, hx);
	return apx_audit_change(db, e, 0, out,
	    "INSERT INTO invitations (org_id, email_norm, role, invited_by,"
	    " token_hash, expires_at) VALUES ($1::bigint, $2, $3, $4::bigint,"
	    " $5::bytea, now() + make_interval(secs => $6::bigint))"
	    " RETURNING json_build_object('id', id, 'email', email_norm,"
	    " 'role', role, 'expires_at', apx_ts(expires_at))", 6, p);
}

int
apx_invitation_resend(struct apx_db *db, int64_t org, int64_t id,
    const unsigned char *hash, long long lifetime, struct apx_audit_entry *e,
    json_t **out)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN], ttl[APX_DB_ID_LEN];
	char hx[2 + 2 * 32 + 1];
	const char *p[4] = { apx_db_id(org, os), apx_db_id(id, is), hx,
	    apx_db_id(lifetime, ttl) };

	apx_db_hex(hash, 32, hx);
	return apx_audit_change(db, e, 0, out, "UPDATE invitations SET"
	    " token_hash = $3::bytea, expires_at = now() + make_interval(secs"
	    " => $4::bigint), mailed_at = now(), mail_count = mail_count + 1"
	    " WHERE org_id = $1::bigint AND id = $2::bigint AND accepted_at IS"
	    " NULL AND revoked_at IS NULL RETURNING json_build_object('id', id,"
	    " 'email', email_norm, 'role', role, 'expires_at',"
	    " apx_ts(expires_at), 'mail_count', mail_count)", 4, p);
}

int
apx_invitation_mailed(struct apx_db *db, int64_t id)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };

	return apx_db_do(db, 0, "UPDATE invitations SET mailed_at = now(),"
	    " mail_count = mail_count + 1 WHERE id = $1::bigint", 1, p);
}

int
apx_invitation_list(struct apx_db *db, int64_t org, PGresult **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json_res(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('invitations', coalesce(json_agg("
	    "json_build_object('id', id, 'email', email_norm, 'role', role,"
	    " 'invited_by', invited_by, 'created_at', apx_ts(created_at),"
	    " 'expires_at', apx_ts(expires_at), 'mailed_at', apx_ts(mailed_at),"
	    " 'mail_count', mail_count) ORDER BY id), '[]'))"
	    " FROM invitations WHERE org_id = $1::bigint AND accepted_at IS NULL"
	    " AND revoked_at IS NULL AND expires_at > now()", 1, p);
}

int
apx_invitation_revoke(struct apx_db *db, int64_t org, int64_t id,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(id, is) };

	return apx_audit_change(db, e, 0, NULL, "UPDATE invitations SET"
	    " revoked_at = now() WHERE org_id = $1::bigint AND id = $2::bigint"
	    " AND accepted_at IS NULL AND revoked_at IS NULL RETURNING"
	    " json_build_object('id', id, 'email', email_norm, 'role', role,"
	    " 'revoked_at', apx_ts(revoked_at))", 2, p);
}

int
apx_invitation_accept(struct apx_db *db, const unsigned char *hash,
    int64_t uid, const char *email, struct apx_audit_entry *e, json_t **out)
{
	char us[APX_DB_ID_LEN], hx[2 + 2 * 32 + 1], log[32];
	const char *p[3] = { hx, apx_db_id(uid, us), email };
	json_t *inv = NULL;
	int rc;

	*out = NULL;
	apx_db_hex(hash, 32, hx);
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/* Single use: the row is locked and ended in this transaction. */
	if ((rc = apx_db_json(db, 0, &inv, "SELECT json_build_object('id',"
	    " i.id, 'org_id', i.org_id, 'role', i.role, 'member', EXISTS ("
	    "SELECT 1 FROM memberships m WHERE m.org_id = i.org_id AND"
	    " m.user_id = $2::bigint)) FROM invitations i WHERE"
	    " i.token_hash = $1::bytea AND i.email_norm = $3 AND"
	    " i.accepted_at IS NULL AND i.revoked_at IS NULL AND"
	    " i.expires_at > now() FOR UPDATE", 3, p)) != 0)
		goto fail;
	if (inv == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	if (json_is_true(json_object_get(inv, "member"))) {
		rc = APX_ECONFLICT;
		goto fail;
	}
	{
		char is[APX_DB_ID_LEN], os[APX_DB_ID_LEN];
		const char *q[4] = { apx_db_id(json_integer_value(
		    json_object_get(inv, "id")), is), us, apx_db_id(
		    json_integer_value(json_object_get(inv, "org_id")), os),
		    json_string_value(json_object_get(inv, "role")) };

		if ((rc = apx_db_json(db, 0, out,
		    "WITH a AS (UPDATE invitations SET accepted_at = now(),"
		    " accepted_by = $2::bigint WHERE id = $1::bigint),"
		    " m AS (INSERT INTO memberships (org_id, user_id, role)"
		    " VALUES ($3::bigint, $2::bigint, $4))"
		    " SELECT json_build_object('id', o.id, 'slug', o.slug,"
		    " 'name', o.name, 'plan', o.plan, 'region', o.region,"
		    " 'role', $4::text) FROM orgs o WHERE o.id = $3::bigint", 4,
		    q)) != 0)
			goto fail;
		snprintf(log, sizeof(log), "org:%s", os);
	}
	e->log = log;
	{
		json_t *a = json_pack("{s:O,s:O}", "role", json_object_get(inv,
		    "role"), "invitation", json_object_get(inv, "id"));

		rc = apx_audit_commit(db, e, NULL, a);
		json_decref(a);
	}
	e->log = NULL;
	json_decref(inv);
	if (rc != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
fail:
	apx_db_rollback(db);
	json_decref(inv);
	json_decref(*out);
	*out = NULL;
	return rc;
}
