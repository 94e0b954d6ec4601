/* Single sign-on rows (sso.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/sso.h"

#define SSO_JSON \
	"jsonb_strip_nulls(jsonb_build_object('protocol', s.protocol," \
	" 'enabled', s.enabled, 'issuer', s.issuer, 'discovery_url'," \
	" s.discovery_url, 'client_id', s.client_id, 'client_secret', CASE" \
	" WHEN s.protocol <> 'oidc' THEN NULL WHEN s.client_secret IS NULL" \
	" THEN 'unset' ELSE 'set' END, 'scopes', to_jsonb(s.scopes)," \
	" 'algorithms', to_jsonb(s.algorithms), 'idp_entity_id'," \
	" s.idp_entity_id, 'idp_sso_url', s.idp_sso_url, 'idp_certificates'," \
	" to_jsonb(s.idp_certs), 'attribute_email', s.attr_email," \
	" 'attribute_name', s.attr_name, 'jit', s.jit, 'default_role'," \
	" s.default_role, 'enforce', s.enforce, 'updated_at'," \
	" apx_ts(s.updated_at)))"

int
apx_sso_get(struct apx_db *db, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT " SSO_JSON
	    " FROM org_sso s WHERE s.org_id = $1::bigint", 1, p);
}

int
apx_sso_load(struct apx_db *db, const char *slug, json_t **out)
{
	const char *p[1] = { slug };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT jsonb_build_object("
	    "'org_id', o.id, 'slug', o.slug, 'name', o.name, 'plan', o.plan,"
	    " 'status', o.status, 'secret_hex', s.client_secret::text) || "
	    SSO_JSON " FROM org_sso s JOIN orgs o ON o.id = s.org_id"
	    " WHERE o.slug = $1", 1, p);
}

int
apx_sso_put(struct apx_db *db, int64_t org, const struct apx_sso_put *in,
    struct apx_audit_entry *e, json_t **out)
{
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN], *hex = NULL;
	const char *p[12];
	int rc;

	if (in->secret != NULL) {
		if ((hex = malloc(2 * in->secret_len + 3)) == NULL)
			return APX_ENOMEM;
		apx_db_hex(in->secret, in->secret_len, hex);
	}
	p[0] = apx_db_id(org, os);
	p[1] = in->issuer;
	p[2] = in->discovery_url;
	p[3] = in->client_id;
	p[4] = hex;
	p[5] = in->scopes;
	p[6] = in->algorithms;
	p[7] = in->enabled ? "t" : "f";
	p[8] = in->jit ? "t" : "f";
	p[9] = in->default_role;
	p[10] = in->enforce ? "t" : "f";
	p[11] = in->user > 0 ? apx_db_id(in->user, us) : NULL;
	/* A first configuration without a secret inserts nothing. */
	rc = apx_audit_change(db, e, 0, out, "INSERT INTO org_sso AS s (org_id,"
	    " protocol, issuer, discovery_url, client_id, client_secret, scopes,"
	    " algorithms, enabled, jit, default_role, enforce, updated_by)"
	    " SELECT $1::bigint, 'oidc', $2, $3, $4, $5::bytea, $6::text[],"
	    " $7::text[], $8::boolean, $9::boolean, $10, $11::boolean,"
	    " $12::bigint WHERE $5::bytea IS NOT NULL OR EXISTS (SELECT 1 FROM"
	    " org_sso x WHERE x.org_id = $1::bigint AND x.client_secret IS NOT"
	    " NULL) ON CONFLICT (org_id) DO UPDATE SET protocol = 'oidc',"
	    " issuer = EXCLUDED.issuer, discovery_url = EXCLUDED.discovery_url,"
	    " client_id = EXCLUDED.client_id, client_secret ="
	    " coalesce(EXCLUDED.client_secret, s.client_secret), scopes ="
	    " EXCLUDED.scopes, algorithms = EXCLUDED.algorithms, enabled ="
	    " EXCLUDED.enabled, jit = EXCLUDED.jit, default_role ="
	    " EXCLUDED.default_role, enforce = EXCLUDED.enforce, updated_at ="
	    " now(), updated_by = EXCLUDED.updated_by, idp_entity_id = NULL,"
	    " idp_sso_url = NULL, idp_certs = NULL, attr_email = NULL,"
	    " attr_name = NULL RETURNING " SSO_JSON, 12, p);
	if (hex != NULL) {
		apx_wipe(hex, strlen(hex));
		free(hex);
	}
	return rc == APX_ENOTFOUND ? APX_EINVAL : rc;
}

int
apx_sso_put_saml(struct apx_db *db, int64_t org,
    const struct apx_sso_saml_put *in, struct apx_audit_entry *e,
    json_t **out)
{
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN];
	const char *p[11];

	p[0] = apx_db_id(org, os);
	p[1] = in->idp_entity_id;
	p[2] = in->idp_sso_url;
	p[3] = in->certs;
	p[4] = in->attr_email;
	p[5] = in->attr_name;
	p[6] = in->enabled ? "t" : "f";
	p[7] = in->jit ? "t" : "f";
	p[8] = in->default_role;
	p[9] = in->enforce ? "t" : "f";
	p[10] = in->user > 0 ? apx_db_id(in->user, us) : NULL;
	return apx_audit_change(db, e, 0, out, "INSERT INTO org_sso AS s (org_id,"
	    " protocol, idp_entity_id, idp_sso_url, idp_certs, attr_email,"
	    " attr_name, enabled, jit, default_role, enforce, updated_by) VALUES"
	    " ($1::bigint, 'saml', $2, $3, $4::text[], $5, $6, $7::boolean,"
	    " $8::boolean, $9, $10::boolean, $11::bigint) ON CONFLICT (org_id)"
	    " DO UPDATE SET protocol = 'saml', idp_entity_id ="
	    " EXCLUDED.idp_entity_id, idp_sso_url = EXCLUDED.idp_sso_url,"
	    " idp_certs = EXCLUDED.idp_certs, attr_email = EXCLUDED.attr_email,"
	    " attr_name = EXCLUDED.attr_name, enabled = EXCLUDED.enabled, jit ="
	    " EXCLUDED.jit, default_role = EXCLUDED.default_role, enforce ="
	    " EXCLUDED.enforce, updated_at = now(), updated_by ="
	    " EXCLUDED.updated_by, issuer = NULL, discovery_url = NULL,"
	    " client_id = NULL, client_secret = NULL, scopes = NULL, algorithms"
	    " = NULL RETURNING " SSO_JSON, 11, p);
}

int
apx_saml_assertion_once(struct apx_db *db, int64_t org, const char *id,
    int64_t expires)
{
	char os[APX_DB_ID_LEN], es[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(org, os), id, es };
	PGresult *res;
	int rc;

	snprintf(es, sizeof(es), "%lld", (long long)expires);
	(void)apx_db_do(db, 0, "DELETE FROM saml_assertions WHERE expires_at <"
	    " now() - interval '5 minutes'", 0, NULL);
	if ((rc = apx_db_query(db, 0, &res, "INSERT INTO saml_assertions"
	    " (org_id, assertion_id, expires_at) VALUES ($1::bigint, $2,"
	    " greatest(to_timestamp($3::bigint), now()) + interval '2 minutes')"
	    " ON CONFLICT DO NOTHING RETURNING 1", 3, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1 ? 0 : APX_ECONFLICT;
	PQclear(res);
	return rc;
}

int
apx_sso_delete(struct apx_db *db, int64_t org, struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_audit_change(db, e, 1, NULL, "DELETE FROM org_sso s WHERE"
	    " s.org_id = $1::bigint RETURNING " SSO_JSON, 1, p);
}

int
apx_sso_for_domain(struct apx_db *db, const char *domain, json_t **out)
{
	const char *p[1] = { domain };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT json_build_object("
	    "'org_id', o.id, 'slug', o.slug, 'name', o.name, 'protocol',"
	    " s.protocol, 'enforce', s.enforce) FROM org_domains d JOIN orgs o"
	    " ON o.id = d.org_id JOIN org_sso s ON s.org_id = o.id WHERE"
	    " d.domain = $1 AND d.verified_at IS NOT NULL AND s.enabled AND"
	    " o.plan = 'agency' AND o.status = 'active'", 1, p);
}

int
apx_sso_domain_of(struct apx_db *db, int64_t org, const char *domain)
{
	char os[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), domain };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT 1 FROM"
	    " org_domains WHERE org_id = $1::bigint AND domain = $2 AND"
	    " verified_at IS NOT NULL", 2, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}

int
apx_identity_find(struct apx_db *db, int64_t org, const char *issuer,
    const char *subject, int64_t *user, int64_t *id)
{
	char os[APX_DB_ID_LEN];
	const char *p[3] = { issuer, subject, org > 0 ? apx_db_id(org, os) :
	    NULL };
	PGresult *res;
	long long u, i;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT user_id, id"
	    " FROM user_identities WHERE issuer = $1 AND subject = $2 AND"
	    " org_id IS NOT DISTINCT FROM $3::bigint", 3, p)) != 0)
		return rc;
	rc = APX_ENOTFOUND;
	if (PQntuples(res) == 1 && apx_parse_ll(PQgetvalue(res, 0, 0), 1,
	    INT64_MAX, &u) == 0 && apx_parse_ll(PQgetvalue(res, 0, 1), 1,
	    INT64_MAX, &i) == 0) {
		*user = u;
		*id = i;
		rc = 0;
	}
	PQclear(res);
	return rc;
}

#define IDENT_JSON \
	"json_build_object('id', i.id, 'provider', i.provider, 'org'," \
	" (SELECT slug FROM orgs WHERE id = i.org_id), 'issuer', i.issuer," \
	" 'created_at', apx_ts(i.created_at), 'last_used_at'," \
	" apx_ts(i.last_used_at))"

int
apx_identity_link(struct apx_db *db, int64_t user, const char *provider,
    int64_t org, const char *issuer, const char *subject,
    struct apx_audit_entry *e, int64_t *id)
{
	char us[APX_DB_ID_LEN], os[APX_DB_ID_LEN];
	const char *p[5] = { apx_db_id(user, us), provider, org > 0 ?
	    apx_db_id(org, os) : NULL, issuer, subject };
	json_t *v = NULL;
	long long n;
	int rc;

	rc = apx_audit_change(db, e, 0, &v, "INSERT INTO user_identities AS i"
	    " (user_id, provider, org_id, issuer, subject, last_used_at) VALUES"
	    " ($1::bigint, $2, $3::bigint, $4, $5, now()) ON CONFLICT DO"
	    " NOTHING RETURNING " IDENT_JSON, 5, p);
	if (rc == APX_ENOTFOUND)
		return APX_ECONFLICT;
	if (rc != 0)
		return rc;
	n = json_integer_value(json_object_get(v, "id"));
	json_decref(v);
	*id = n;
	return 0;
}

int
apx_identity_touch(struct apx_db *db, int64_t id)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE user_identities SET"
	    " last_used_at = now() WHERE id = $1::bigint", 1, p);
}

int
apx_identity_list(struct apx_db *db, int64_t user, json_t **out)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(user, us) };
	int rc;

	if ((rc = apx_db_json(db, APX_DB_RETRY, out, "SELECT json_build_object("
	    "'identities', coalesce((SELECT json_agg(" IDENT_JSON " ORDER BY"
	    " i.id) FROM user_identities i WHERE i.user_id = u.id), '[]'),"
	    " 'password', u.password_hash IS NOT NULL) FROM users u WHERE"
	    " u.id = $1::bigint", 1, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

int
apx_identity_unlink(struct apx_db *db, int64_t user, int64_t id,
    struct apx_audit_entry *e)
{
	char us[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(user, us), apx_db_id(id, is) };
	PGresult *res;
	json_t *v = NULL;
	int rc, last;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/* Under the user's lock: a second unlink waits and then counts. */
	if ((rc = apx_db_query(db, 0, &res, "SELECT u.password_hash IS NULL"
	    " AND (SELECT count(*) FROM user_identities x WHERE x.user_id ="
	    " u.id) <= 1 FROM users u WHERE u.id = $1::bigint FOR UPDATE", 1,
	    p)) != 0)
		goto fail;
	last = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") ==
	    0;
	PQclear(res);
	if ((rc = apx_db_json(db, 0, &v, "DELETE FROM user_identities i WHERE"
	    " i.user_id = $1::bigint AND i.id = $2::bigint RETURNING "
	    IDENT_JSON, 2, p)) != 0)
		goto fail;
	if (v == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	if (last) {
		rc = APX_ECONFLICT;
		goto fail;
	}
	rc = apx_audit_commit(db, e, v, NULL);
	json_decref(v);
	return rc;
fail:
	json_decref(v);
	apx_db_rollback(db);
	return rc;
}

int
apx_identity_create_user(struct apx_db *db, const char *en, const char *email,
    const char *name, const char *provider, int64_t org, const char *issuer,
    const char *subject, struct apx_audit_entry *e, int64_t *uid)
{
	char os[APX_DB_ID_LEN];
	const char *p[7] = { en, email, name, provider, org > 0 ?
	    apx_db_id(org, os) : NULL, issuer, subject };
	json_t *v = NULL;
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = apx_db_json(db, 0, &v, "WITH u AS (INSERT INTO users"
	    " (email_norm, email, name, email_verified_at) VALUES ($1, $2, $3,"
	    " now()) ON CONFLICT"
	    " (email_norm) DO NOTHING RETURNING id), i AS (INSERT INTO"
	    " user_identities (user_id, provider, org_id, issuer, subject,"
	    " last_used_at) SELECT id, $4, $5::bigint, $6, $7, now() FROM u ON"
	    " CONFLICT DO NOTHING RETURNING id, user_id)"
	    " SELECT json_build_object('user', i.user_id, 'identity', i.id,"
	    " 'provider', $4) FROM i", 7, p)) != 0 || v == NULL) {
		apx_db_rollback(db);
		return rc != 0 ? rc : APX_ECONFLICT;
	}
	*uid = json_integer_value(json_object_get(v, "user"));
	rc = apx_audit_commit(db, e, NULL, v);
	json_decref(v);
	return rc;
}

int
apx_sso_jit_join(struct apx_db *db, int64_t org, int64_t user,
    const char *role, int jit, struct apx_audit_entry *e, int *joined,
    const char **have)
{
	static const char *const roles[] = { "owner", "admin", "analyst",
	    "viewer" };
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(org, os), apx_db_id(user, us), role };
	PGresult *res;
	json_t *v = NULL;
	size_t i;
	int rc;

	*joined = 0;
	*have = NULL;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT role FROM"
	    " memberships WHERE org_id = $1::bigint AND user_id = $2::bigint",
	    2, p)) != 0)
		return rc;
	if (PQntuples(res) == 1)
		for (i = 0; i < APX_NELEM(roles); i++)
			if (strcmp(PQgetvalue(res, 0, 0), roles[i]) == 0)
				*have = roles[i];
	PQclear(res);
	if (*have != NULL || !jit)
		return 0;
	rc = apx_audit_change(db, e, 0, &v, "INSERT INTO memberships (org_id,"
	    " user_id, role) VALUES ($1::bigint, $2::bigint, $3) ON CONFLICT"
	    " (org_id, user_id) DO NOTHING RETURNING json_build_object('user',"
	    " user_id, 'role', role, 'via', 'sso')", 3, p);
	json_decref(v);
	if (rc == APX_ENOTFOUND)	/* joined meanwhile: ask again */
		return apx_sso_jit_join(db, org, user, role, 0, e, joined,
		    have);
	if (rc != 0)
		return rc;
	*joined = 1;
	for (i = 0; i < APX_NELEM(roles); i++)
		if (strcmp(role, roles[i]) == 0)
			*have = roles[i];
	return 0;
}

int
apx_sso_is_owner(struct apx_db *db, int64_t org, int64_t user)
{
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(user, us) };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT 1 FROM"
	    " memberships WHERE org_id = $1::bigint AND user_id = $2::bigint"
	    " AND role = 'owner'", 2, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}
