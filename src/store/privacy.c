/* Privacy flows: exports, subject and org erasure, account deletion. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "core/apx.h"
#include "core/log.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/privacy.h"
#include "store/tenant.h"
#include "vault/pii.h"
#include "vault/vault.h"

#define ENTRY_JSON(a) \
	"json_build_object('seq', " a ".seq, 'at', apx_ts(" a ".at)," \
	" 'actor_type', " a ".actor_type, 'actor_id', " a ".actor_id," \
	" 'action', " a ".action, 'target', " a ".target, 'client_addr', " \
	a ".client_addr, 'request_id', " a ".request_id)"

static int	 personal_fields(struct apx_db *, struct apx_db *,
		    struct apx_vault *, int64_t, json_t *);
static int	 provider_requests(struct apx_db *, json_t *);

/* The uploads' personal fields, opened, into ARCHIVE's "uploads". */
static int
personal_fields(struct apx_db *t, struct apx_db *ctl, struct apx_vault *v,
    int64_t org, json_t *archive)
{
	PGresult *res = NULL;
	json_t *uploads = json_array(), *cur = NULL, *data = NULL;
	long long up, row, last = 0;
	int i, rc;

	if (uploads == NULL)
		return APX_ENOMEM;
	if ((rc = apx_db_query(t, APX_DB_RETRY, &res, "SELECT u.id,"
	    " u.workspace_id, u.name, to_json(u.personal_columns)::text,"
	    " f.row_no, f.column_name, f.value, encode(f.sealed, 'hex')"
	    " FROM uploads u JOIN upload_personal f ON f.upload_id = u.id"
	    " ORDER BY u.id, f.row_no, f.column_name", 0, NULL)) != 0)
		goto out;
	if (PQntuples(res) > APX_EXPORT_FIELDS_MAX) {
		rc = APX_ETOOBIG;
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *col = PQgetvalue(res, i, 5);
		char *plain = NULL;
		size_t plen = 0;

		if (apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX, &up) != 0 ||
		    apx_parse_ll(PQgetvalue(res, i, 4), 1, INT32_MAX, &row) !=
		    0) {
			rc = APX_EDB;
			goto out;
		}
		if (up != last) {
			last = up;
			data = json_array();
			cur = json_pack("{s:I,s:I,s:s,s:o,s:o}", "id",
			    (json_int_t)up, "workspace_id", (json_int_t)
			    strtoll(PQgetvalue(res, i, 1), NULL, 10), "name",
			    PQgetvalue(res, i, 2), "personal_columns",
			    json_loads(PQgetvalue(res, i, 3), 0, NULL),
			    "personal_data", data);
			if (cur == NULL || json_array_append_new(uploads,
			    cur) != 0) {
				rc = APX_ENOMEM;
				goto out;
			}
		}
		if (PQgetisnull(res, i, 7)) {
			json_array_append_new(data, json_pack("{s:I,s:s,s:s}",
			    "row", (json_int_t)row, "column", col, "value",
			    PQgetvalue(res, i, 6)));
			continue;
		}
		if ((rc = apx_pii_open_hex(v, ctl, org, up, row, col,
		    PQgetvalue(res, i, 7), &plain, &plen)) != 0)
			goto out;
		json_array_append_new(data, json_pack("{s:I,s:s,s:s%}", "row",
		    (json_int_t)row, "column", col, "value", plain, plen));
		apx_wipe(plain, plen);
		free(plain);
	}
	rc = json_object_set(archive, "uploads", uploads) == 0 ? 0 :
	    APX_ENOMEM;
out:
	PQclear(res);
	json_decref(uploads);
	return rc;
}

int
apx_privacy_org_export(struct apx_db *ctl, struct apx_db *t,
    struct apx_vault *v, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };
	int rc;

	*out = NULL;
	if ((rc = apx_db_json(ctl, APX_DB_RETRY, out,
	    "WITH m AS (SELECT u.id, u.email, u.email_norm, u.name, m.role,"
	    " m.created_at FROM memberships m JOIN users u ON u.id = m.user_id"
	    " WHERE m.org_id = $1::bigint),"
	    " i AS (SELECT * FROM invitations WHERE org_id = $1::bigint)"
	    " SELECT json_build_object('format', '" APX_EXPORT_FORMAT "',"
	    " 'generated_at', apx_ts(now()),"
	    " 'org', json_build_object('id', o.id, 'slug', o.slug, 'name',"
	    " o.name, 'region', o.region, 'plan', o.plan, 'created_at',"
	    " apx_ts(o.created_at)),"
	    " 'members', coalesce((SELECT json_agg(json_build_object("
	    "'user_id', m.id, 'email', m.email, 'name', m.name, 'role', m.role,"
	    " 'joined_at', apx_ts(m.created_at)) ORDER BY m.id) FROM m), '[]'),"
	    " 'invitations', coalesce((SELECT json_agg(json_build_object("
	    "'email', i.email_norm, 'role', i.role, 'created_at',"
	    " apx_ts(i.created_at), 'expires_at', apx_ts(i.expires_at),"
	    " 'accepted', i.accepted_at IS NOT NULL, 'revoked',"
	    " i.revoked_at IS NOT NULL) ORDER BY i.id) FROM i), '[]'),"
	    " 'audit_entries', coalesce((SELECT json_agg(" ENTRY_JSON("a")
	    " ORDER BY a.seq) FROM audit_log a WHERE a.log = 'org:' || o.id"
	    " AND ((a.actor_type = 'user' AND a.actor_id IN (SELECT id::text"
	    " FROM m)) OR a.target IN (SELECT 'user:' || id FROM m) OR"
	    " a.target IN (SELECT email_norm FROM m) OR a.target IN (SELECT"
	    " email_norm FROM i))), '[]'))"
	    " FROM orgs o WHERE o.id = $1::bigint", 1, p)) != 0)
		return rc;
	if (*out == NULL)
		return APX_ENOTFOUND;
	if ((rc = personal_fields(t, ctl, v, org, *out)) != 0 ||
	    (rc = provider_requests(t, *out)) != 0) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * What the providers of the org's connectors asked of its data
 * (Shopify's customers/data_request, customers/redact, shop/redact) and
 * what was done, into ARCHIVE's "provider_privacy_requests": the data a
 * subject asked for reaches the org's admins through this export.
 */
static int
provider_requests(struct apx_db *t, json_t *archive)
{
	json_t *reqs = NULL;
	int rc;

	if ((rc = apx_db_json(t, APX_DB_RETRY, &reqs, "SELECT"
	    " coalesce(json_agg(json_build_object('id', id, 'connector',"
	    " connector, 'kind', kind, 'subject', subject, 'result', result,"
	    " 'created_at', apx_ts(created_at)) ORDER BY id), '[]') FROM"
	    " privacy_requests", 0, NULL)) != 0)
		return rc;
	return json_object_set_new(archive, "provider_privacy_requests",
	    reqs) == 0 ? 0 : APX_ENOMEM;
}

int
apx_privacy_user_export(struct apx_db *ctl, int64_t uid, json_t **out)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };
	int rc;

	if ((rc = apx_db_json(ctl, APX_DB_RETRY, out,
	    "SELECT json_build_object('format', '" APX_EXPORT_FORMAT "',"
	    " 'generated_at', apx_ts(now()),"
	    " 'account', json_build_object('id', u.id, 'email', u.email,"
	    " 'name', u.name, 'created_at', apx_ts(u.created_at),"
	    " 'password_changed_at', apx_ts(u.password_changed_at),"
	    " 'is_superuser', u.is_superuser),"
	    " 'sessions', coalesce((SELECT json_agg(json_build_object('id',"
	    " s.id, 'created_at', apx_ts(s.created_at), 'last_used_at',"
	    " apx_ts(s.last_used_at), 'expires_at', apx_ts(s.expires_at),"
	    " 'revoked_at', apx_ts(s.revoked_at), 'user_agent', s.user_agent,"
	    " 'client_addr', s.client_addr) ORDER BY s.id) FROM sessions s"
	    " WHERE s.user_id = u.id), '[]'),"
	    " 'identities', coalesce((SELECT json_agg(json_build_object('id',"
	    " i.id, 'provider', i.provider, 'issuer', i.issuer, 'subject',"
	    " i.subject, 'created_at', apx_ts(i.created_at), 'last_used_at',"
	    " apx_ts(i.last_used_at)) ORDER BY i.id) FROM user_identities i"
	    " WHERE i.user_id = u.id), '[]'),"
	    " 'memberships', coalesce((SELECT json_agg(json_build_object("
	    "'org', o.slug, 'name', o.name, 'role', m.role, 'joined_at',"
	    " apx_ts(m.created_at)) ORDER BY o.slug) FROM memberships m JOIN"
	    " orgs o ON o.id = m.org_id WHERE m.user_id = u.id), '[]'),"
	    " 'api_keys', coalesce((SELECT json_agg(json_build_object('id',"
	    " k.id, 'org', o.slug, 'prefix', k.prefix, 'name', k.name,"
	    " 'created_at', apx_ts(k.created_at), 'revoked_at',"
	    " apx_ts(k.revoked_at)) ORDER BY k.id) FROM api_keys k JOIN orgs"
	    " o ON o.id = k.org_id WHERE k.created_by = u.id), '[]'),"
	    " 'audit_entries', coalesce((SELECT json_agg(json_build_object("
	    "'log', a.log, 'entry', " ENTRY_JSON("a") ") ORDER BY a.id) FROM"
	    " audit_log a WHERE a.actor_type = 'user' AND a.actor_id ="
	    " u.id::text), '[]'))"
	    " FROM users u WHERE u.id = $1::bigint", 1, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

int
apx_privacy_erase_subject(struct apx_db *t, struct apx_db *ctl,
    struct apx_vault *v, int64_t org, const char *column, const char *value,
    struct apx_erasure_report *r)
{
	char blind[APX_PII_BLIND_HEX];
	const char *p[3] = { column, value, NULL };
	json_t *got = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	/* Sealed fields are found by their blind index. */
	if (v != NULL && apx_vault_current(v) > 0) {
		if ((rc = apx_pii_blind(v, ctl, org, column, value,
		    strlen(value), blind)) != 0)
			return rc;
		p[2] = blind;
	}
	if ((rc = apx_db_json(t, 0, &got,
	    "WITH s AS (SELECT DISTINCT upload_id, row_no FROM upload_personal"
	    " WHERE column_name = $1 AND (value = $2 OR blind = decode($3,"
	    " 'hex'))),"
	    " d AS (DELETE FROM upload_personal f USING s WHERE f.upload_id ="
	    " s.upload_id AND f.row_no = s.row_no RETURNING 1)"
	    " SELECT json_build_array((SELECT count(DISTINCT upload_id) FROM"
	    " s), (SELECT count(*) FROM s), (SELECT count(*) FROM d))", 3,
	    p)) != 0)
		return rc;
	r->uploads = json_integer_value(json_array_get(got, 0));
	r->rows = json_integer_value(json_array_get(got, 1));
	r->fields = json_integer_value(json_array_get(got, 2));
	json_decref(got);
	return 0;
}

int
apx_privacy_erase_org(const struct apx_conf *conf, struct apx_db *ctl,
    struct apx_tenants *tenants, struct apx_vault *v, int64_t org,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], log[32];
	const char *p[1] = { apx_db_id(org, os) };
	PGresult *res = NULL;
	char slug[64], region[40];
	int rc;

	snprintf(log, sizeof(log), "org:%s", os);
	/* 1. From now on the org answers 404 to everything else. */
	if ((rc = apx_db_query(ctl, APX_DB_RETRY, &res, "UPDATE orgs SET"
	    " status = 'erasing' WHERE id = $1::bigint AND status <> 'erased'"
	    " RETURNING slug, region", 1, p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	snprintf(slug, sizeof(slug), "%s", PQgetvalue(res, 0, 0));
	snprintf(region, sizeof(region), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	/* 2. Its data: the database, and the keys of all it sealed. */
	apx_tenants_forget(tenants, org);
	if ((rc = apx_tenant_drop(conf, ctl, v, slug, region, org)) != 0)
		return rc;
	/* 3. The rest, with the personal fields of its log, at once. */
	if ((rc = apx_db_begin(ctl)) != 0)
		return rc;
	if ((rc = apx_db_do(ctl, 0, "DELETE FROM api_keys WHERE org_id ="
	    " $1::bigint", 1, p)) != 0 ||
	    (rc = apx_db_do(ctl, 0, "DELETE FROM invitations WHERE org_id ="
	    " $1::bigint", 1, p)) != 0 ||
	    (rc = apx_db_do(ctl, 0, "DELETE FROM retention_policies WHERE"
	    " org_id = $1::bigint", 1, p)) != 0 ||
	    (rc = apx_db_do(ctl, 0, "DELETE FROM workspaces WHERE org_id ="
	    " $1::bigint", 1, p)) != 0 ||
	    (rc = apx_db_do(ctl, 0, "DELETE FROM memberships WHERE org_id ="
	    " $1::bigint", 1, p)) != 0 ||
	    (rc = apx_audit_erasure(ctl, "org", org,
	    "{target,client_addr,before,after}")) != 0 ||
	    (rc = apx_db_do(ctl, 0, "UPDATE orgs SET status = 'erased', name ="
	    " '[erased]', settings = '{}', tenant_secret = NULL WHERE id ="
	    " $1::bigint", 1, p)) != 0) {
		apx_db_rollback(ctl);
		return rc;
	}
	e->log = log;
	return apx_audit_commit(ctl, e, NULL, NULL);
}

int
apx_privacy_delete_user(struct apx_db *db, int64_t uid,
    struct apx_audit_entry *e, char *org, size_t orglen)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };
	PGresult *res = NULL;
	int i, rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/*
	 * Every owner row of every org the user owns, locked before anyone
	 * is counted (as apx_member_change does, in the same order), so that
	 * two owners leaving at once cannot both pass; then counted afresh.
	 */
	if ((rc = apx_db_do(db, 0, "SELECT 1 FROM memberships m WHERE"
	    " m.role = 'owner' AND m.org_id IN (SELECT x.org_id FROM"
	    " memberships x WHERE x.user_id = $1::bigint AND x.role ="
	    " 'owner') ORDER BY m.org_id, m.user_id FOR UPDATE", 1, p)) != 0)
		goto fail;
	if ((rc = apx_db_query(db, 0, &res, "SELECT o.slug FROM memberships m"
	    " JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $1::bigint AND"
	    " m.role = 'owner' AND o.status = 'active' AND NOT EXISTS (SELECT"
	    " 1 FROM memberships x WHERE x.org_id = m.org_id AND x.role ="
	    " 'owner' AND x.user_id <> m.user_id) ORDER BY o.slug", 1, p)) != 0)
		goto fail;
	if (PQntuples(res) > 0) {
		snprintf(org, orglen, "%s", PQgetvalue(res, 0, 0));
		rc = APX_ECONFLICT;
		goto fail;
	}
	PQclear(res);
	res = NULL;
	/*
	 * Its entries in every log: the id stays (a pseudonym once the
	 * account is gone), addresses and e-mail mentions go. The request
	 * is recorded with the erasure and holds only if the account row
	 * goes in this transaction too (migration 0009).
	 */
	if ((rc = apx_audit_erasure(db, "account", uid,
	    "{client_addr,target,before,after}")) != 0)
		goto fail;
	/* Sessions, memberships, keys and grants go with the row. */
	if ((rc = apx_db_query(db, 0, &res, "SELECT org_id FROM memberships"
	    " WHERE user_id = $1::bigint ORDER BY org_id", 1, p)) != 0)
		goto fail;
	for (i = 0; i < PQntuples(res); i++) {
		struct apx_audit_entry m = *e;
		char log[32];

		/* Each org learns that a member is gone. */
		snprintf(log, sizeof(log), "org:%s", PQgetvalue(res, i, 0));
		m.log = log;
		m.action = "member.account_deleted";
		m.before = m.after = NULL;
		if ((rc = apx_audit_append(db, &m)) != 0)
			goto fail;
	}
	PQclear(res);
	res = NULL;
	if ((rc = apx_db_do(db, 0, "DELETE FROM auth_throttle WHERE strpos("
	    "key, (SELECT email_norm FROM users WHERE id = $1::bigint) || '|')"
	    " = 1", 1, p)) != 0 ||
	    (rc = apx_db_do(db, 0, "DELETE FROM users WHERE id = $1::bigint", 1,
	    p)) != 0)
		goto fail;
	return apx_audit_commit(db, e, NULL, NULL);
fail:
	PQclear(res);
	apx_db_rollback(db);
	return rc;
}
