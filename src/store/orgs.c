/* Organisations: lookup for authz, create, rename, plan, org settings. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/perm.h"
#include "core/apx.h"
#include "core/log.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/orgs.h"
#include "store/settings.h"
#include "store/tenant.h"
#include "vault/vault.h"

#define ORG_JSON(o) \
	"json_build_object('id', " o ".id, 'slug', " o ".slug, 'name', " o \
	".name, 'plan', " o ".plan, 'region', " o ".region, 'created_at', " \
	"apx_ts(" o ".created_at)"

static const struct apx_setting org_settings[] = {
	/* Keys older than this are flagged rotation_due in the list. */
	{ "api_key_max_age_days", 90, 1, 3650 },
	/* How long a rotated key's previous secret keeps working. */
	{ "api_key_rotation_grace_seconds", 86400, 0, 604800 },
	/* Personal-data fields of uploads sealed by the vault (Growth+). */
	{ "pii_encryption", 0, 0, 1 },
	/* Members must sign in with a second factor or the org's SSO to
	 * reach its routes (store/mfa.h APX_MFA_REFUSED_COL). */
	{ "require_mfa", 0, 0, 1 },
};

static int	 set_log(struct apx_audit_entry *, int64_t, char *, size_t);

static int
set_log(struct apx_audit_entry *e, int64_t org, char *buf, size_t len)
{
	snprintf(buf, len, "org:%lld", (long long)org);
	e->log = buf;
	return 0;
}

int
apx_org_slug_valid(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) < 2 || n > APX_ORG_SLUG_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (ch == '_' && i > 0)))
			return 0;
	}
	return 1;
}

int
apx_org_access(struct apx_db *db, struct apx_arena *a, const char *slug,
    int64_t uid, int64_t ws, int64_t allow_ws, struct apx_org_access *out)
{
	char us[APX_DB_ID_LEN], wss[APX_DB_ID_LEN], as[APX_DB_ID_LEN];
	const char *p[4] = { slug, apx_db_id(uid, us), apx_db_id(ws, wss),
	    apx_db_id(allow_ws, as) };
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!apx_org_slug_valid(slug))
		return APX_ENOTFOUND;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res,
	    "SELECT" APX_ORG_ACCESS_COLS("$2::bigint", "$3::bigint",
	    "$4::bigint") " FROM orgs o WHERE o.slug = $1", 4, p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	rc = apx_org_access_from(res, 0, a, out);
	PQclear(res);
	return rc;
}

int
apx_org_access_from(PGresult *res, int col, struct apx_arena *a,
    struct apx_org_access *out)
{
	long long v;

	memset(out, 0, sizeof(*out));
	if (PQgetisnull(res, 0, col))
		return APX_ENOTFOUND;
	if (apx_parse_ll(PQgetvalue(res, 0, col), 1, INT64_MAX, &v) != 0)
		return APX_EDB;
	out->id = v;
	if (apx_parse_ll(PQgetvalue(res, 0, col + 5), 0, INT64_MAX, &v) != 0)
		return APX_EDB;
	out->ws = v;
	out->plan = apx_plan_parse(PQgetvalue(res, 0, col + 3));
	out->role = apx_role_parse(PQgetvalue(res, 0, col + 4));
	out->name = apx_arena_strdup(a, PQgetvalue(res, 0, col + 1));
	out->region = apx_arena_strdup(a, PQgetvalue(res, 0, col + 2));
	out->allowlist = apx_arena_strdup(a, PQgetvalue(res, 0, col + 6));
	out->status = strcmp(PQgetvalue(res, 0, col + 7), "active") == 0 ?
	    APX_ORG_ACTIVE : strcmp(PQgetvalue(res, 0, col + 7), "erasing") ==
	    0 ? APX_ORG_ERASING : APX_ORG_ERASED;
	return out->name == NULL || out->region == NULL ||
	    out->allowlist == NULL ? APX_ENOMEM : 0;
}

int
apx_org_list_for_user(struct apx_db *db, int64_t uid, json_t **out)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };

	return apx_db_json(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('orgs', coalesce(json_agg("
	    ORG_JSON("o") ", 'role', m.role) ORDER BY o.slug), '[]'))"
	    " FROM memberships m JOIN orgs o ON o.id = m.org_id"
	    " WHERE m.user_id = $1::bigint", 1, p);
}

int
apx_org_create(struct apx_db *db, const struct apx_conf *conf,
    const char *slug, const char *name, int plan, const char *region,
    int64_t owner, struct apx_audit_entry *e, json_t **out)
{
	char us[APX_DB_ID_LEN], os[APX_DB_ID_LEN], log[32], *hx = NULL;
	const char *p[7] = { slug, name, apx_plan_name(plan), region,
	    apx_db_id(owner, us), NULL, NULL };
	unsigned char *sealed = NULL;
	struct apx_vault *v;
	json_t *org = NULL;
	size_t n = 0;
	int64_t id;
	int rc;

	*out = NULL;
	{
		char verr[256];

		if (apx_vault_get(conf, &v, verr, sizeof(verr)) != 0)
			return APX_ENOKEY;
	}
	/* Slug and id first, then the database, then the org (tenant.h). */
	if ((rc = apx_tenant_reserve(db, slug, region, &id)) != 0)
		return rc;
	if ((rc = apx_tenant_create(conf, db, v, slug, region, id, &sealed,
	    &n)) != 0) {
		if (apx_tenant_release(db, slug) != 0)
			apx_log_warn("org %s: reservation left for cleanup",
			    slug);
		return rc;
	}
	if ((hx = malloc(2 * n + 3)) == NULL) {
		rc = APX_ENOMEM;
		goto undo;
	}
	apx_db_hex(sealed, n, hx);
	p[5] = apx_db_id(id, os);
	p[6] = hx;
	if ((rc = apx_db_begin(db)) != 0)
		goto undo;
	if ((rc = apx_db_json(db, 0, &org,
	    "WITH r AS (DELETE FROM tenant_provisioning WHERE slug = $1"
	    " AND org_id = $6::bigint RETURNING tenant_db),"
	    " o AS (INSERT INTO orgs (id, slug, name, plan, region, tenant_db,"
	    " tenant_secret) SELECT $6::bigint, $1, $2, $3, $4, r.tenant_db,"
	    " $7::bytea FROM r RETURNING *),"
	    " m AS (INSERT INTO memberships (org_id, user_id, role)"
	    " SELECT id, $5::bigint, 'owner' FROM o),"
	    " w AS (INSERT INTO workspaces (org_id, name)"
	    " SELECT id, 'default' FROM o)"
	    " SELECT " ORG_JSON("o") ", 'role', 'owner') FROM o", 7, p)) != 0) {
		apx_db_rollback(db);
		goto undo;
	}
	if (org == NULL) {
		/* The reservation went (a cleanup took it for dead). */
		apx_db_rollback(db);
		rc = APX_ECONFLICT;
		goto undo;
	}
	set_log(e, id, log, sizeof(log));
	e->target = slug;
	rc = apx_audit_commit(db, e, NULL, org);
	e->log = NULL;
	if (rc != 0) {
		json_decref(org);
		org = NULL;
		goto undo;
	}
	*out = org;
	free(sealed);
	free(hx);
	return 0;
undo:
	/* No org: its database goes again, then the reservation. */
	if (apx_tenant_drop(conf, db, v, slug, region, id) != 0 ||
	    apx_tenant_release(db, slug) != 0)
		apx_log_error("org %s: could not undo its tenant database "
		    "(accupredix-admin tenant cleanup will)", slug);
	free(sealed);
	free(hx);
	return rc;
}

int
apx_org_get(struct apx_db *db, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT " ORG_JSON("o")
	    ") FROM orgs o WHERE o.id = $1::bigint", 1, p);
}

int
apx_org_rename(struct apx_db *db, int64_t org, const char *name,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), name };
	json_t *ba = NULL;
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = apx_db_json(db, 0, &ba,
	    "WITH old AS (SELECT name FROM orgs WHERE id = $1::bigint"
	    " FOR UPDATE), u AS (UPDATE orgs SET name = $2"
	    " WHERE id = $1::bigint RETURNING name)"
	    " SELECT json_build_array(json_build_object('name', old.name),"
	    " json_build_object('name', u.name)) FROM old, u", 2, p)) != 0)
		goto fail;
	if (ba == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	rc = apx_audit_commit(db, e, json_array_get(ba, 0),
	    json_array_get(ba, 1));
	json_decref(ba);
	return rc;
fail:
	apx_db_rollback(db);
	json_decref(ba);
	return rc;
}

int
apx_org_set_plan(struct apx_db *db, int64_t org, int plan,
    struct apx_audit_entry *platform, struct apx_audit_entry *orglog)
{
	char os[APX_DB_ID_LEN], log[32];
	const char *p[2] = { apx_db_id(org, os), apx_plan_name(plan) };
	json_t *ba = NULL;
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = apx_db_json(db, 0, &ba,
	    "WITH old AS (SELECT plan FROM orgs WHERE id = $1::bigint"
	    " FOR UPDATE), u AS (UPDATE orgs SET plan = $2"
	    " WHERE id = $1::bigint RETURNING plan)"
	    " SELECT json_build_array(json_build_object('plan', old.plan),"
	    " json_build_object('plan', u.plan)) FROM old, u", 2, p)) != 0)
		goto fail;
	if (ba == NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	platform->before = orglog->before = json_array_get(ba, 0);
	platform->after = orglog->after = json_array_get(ba, 1);
	set_log(orglog, org, log, sizeof(log));
	if ((rc = apx_audit_append(db, platform)) != 0 ||
	    (rc = apx_audit_append(db, orglog)) != 0 ||
	    (rc = apx_db_commit(db)) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	apx_db_rollback(db);
out:
	platform->before = platform->after = NULL;
	orglog->before = orglog->after = NULL;
	orglog->log = NULL;
	json_decref(ba);
	return rc;
}

int
apx_org_settings_get(struct apx_db *db, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };
	json_t *stored = NULL, *o;
	long long v;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = apx_db_json(db, APX_DB_RETRY, &stored,
	    "SELECT settings FROM orgs WHERE id = $1::bigint", 1, p)) != 0)
		return rc;
	if (stored == NULL)
		return APX_ENOTFOUND;
	if ((o = json_object()) == NULL) {
		json_decref(stored);
		return APX_ENOMEM;
	}
	for (i = 0; i < APX_NELEM(org_settings); i++) {
		json_t *sv = json_object_get(stored, org_settings[i].key);

		v = org_settings[i].def;
		/* A stored value out of today's bounds falls back. */
		if (json_is_integer(sv) && json_integer_value(sv) >=
		    org_settings[i].min && json_integer_value(sv) <=
		    org_settings[i].max)
			v = json_integer_value(sv);
		json_object_set_new(o, org_settings[i].key, json_integer(v));
	}
	json_decref(stored);
	*out = o;
	return 0;
}

int
apx_org_settings_validate(json_t *patch, const char **field,
    const char **reason)
{
	return apx_setting_validate(org_settings, APX_NELEM(org_settings),
	    patch, field, reason);
}

int
apx_org_settings_apply(struct apx_db *db, int64_t org, json_t *patch,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], *ps = NULL;
	const char *p[2];
	json_t *before = NULL, *after = NULL;
	int rc;

	if ((ps = json_dumps(patch, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(org, os);
	p[1] = ps;
	if ((rc = apx_db_begin(db)) != 0)
		goto out;
	/* Lock the row, read the effective values, write, read again. */
	if ((rc = apx_db_exec(db, "SET LOCAL lock_timeout = '5s'")) != 0)
		goto fail;
	if ((rc = apx_db_do(db, 0, "SELECT 1 FROM orgs WHERE id = $1::bigint"
	    " FOR UPDATE", 1, p)) != 0 ||
	    (rc = apx_org_settings_get(db, org, &before)) != 0 ||
	    (rc = apx_db_do(db, 0, "UPDATE orgs SET settings = settings ||"
	    " $2::jsonb WHERE id = $1::bigint", 2, p)) != 0)
		goto fail;
	if ((rc = apx_org_settings_get(db, org, &after)) != 0)
		goto fail;
	rc = apx_audit_commit(db, e, before, after);
	goto out;
fail:
	apx_db_rollback(db);
out:
	json_decref(before);
	json_decref(after);
	free(ps);
	return rc;
}
