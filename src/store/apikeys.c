/* API keys: lookup for authentication, and their management. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/perm.h"
#include "core/apx.h"
#include "store/apikeys.h"
#include "store/orgs.h"
#include "store/audit.h"
#include "store/db.h"

#define HEXLEN	(2 + 2 * 32 + 1)

/* $1 is always the org's max age in days (for rotation_due). */
#define KEY_JSON \
	"json_build_object('id', k.id, 'prefix', k.prefix, 'name', k.name," \
	" 'role', k.role, 'workspace_id', k.workspace_id, 'created_by'," \
	" k.created_by, 'created_at', apx_ts(k.created_at), 'rotated_at'," \
	" apx_ts(k.rotated_at), 'rotated_by', k.rotated_by, 'expires_at'," \
	" apx_ts(k.expires_at)," \
	" 'last_used_at', apx_ts(k.last_used_at), 'revoked_at'," \
	" apx_ts(k.revoked_at), 'rotation_due', k.revoked_at IS NULL AND" \
	" coalesce(k.rotated_at, k.created_at) < now() -" \
	" make_interval(days => $1::int), 'previous_valid_until', CASE WHEN" \
	" k.previous_valid_until > now() THEN apx_ts(k.previous_valid_until)" \
	" END)"

static int	 unhex(const char *, unsigned char *);

/* A 32-byte bytea column into OUT. */
static int
unhex(const char *s, unsigned char *out)
{
	unsigned char *b;
	size_t n;
	int rc;

	if ((rc = apx_db_unhex(s, 32, &b, &n)) != 0)
		return rc;
	if (n == 32)
		memcpy(out, b, 32);
	free(b);
	return n == 32 ? 0 : APX_EDB;
}

/* The key's columns (0-13) of apx_apikey_lookup's statements. */
#define KEY_COLS \
	"SELECT k.id, k.org_id, coalesce(k.workspace_id, 0), k.role," \
	" k.secret_hash, coalesce(k.previous_hash, k.secret_hash)," \
	" coalesce(floor(extract(epoch FROM k.previous_valid_until)), 0)" \
	"::bigint," \
	" k.revoked_at IS NOT NULL," \
	" u.id, u.email, u.name, k.created_by, coalesce((SELECT m.role" \
	" FROM memberships m WHERE m.org_id = k.org_id AND" \
	" m.user_id = k.created_by), '')" \
	", coalesce(floor(extract(epoch FROM k.expires_at)), 0)::bigint"
#define KEY_FROM \
	" FROM api_keys k JOIN users u ON" \
	" u.id = coalesce(k.rotated_by, k.created_by)"

int
apx_apikey_lookup(struct apx_db *db, struct apx_arena *a, const char *prefix,
    const char *slug, int64_t ws, struct apx_apikey_auth *k,
    struct apx_apikey_times *out, struct apx_org_access *acc)
{
	char wss[APX_DB_ID_LEN];
	const char *p[3] = { prefix, slug, apx_db_id(ws, wss) };
	struct apx_apikey_times t;
	PGresult *res;
	long long v, prev, exp;
	int rc;

	memset(k, 0, sizeof(*k));
	if (slug != NULL)
		/* an org route: the org as the key's holder reaches it, in
		 * the same round trip (the allowlist of the asked workspace,
		 * else of the key's own) */
		rc = apx_db_query(db, APX_DB_RETRY, &res, KEY_COLS ","
		    APX_ORG_ACCESS_COLS("u.id", "$3::bigint",
		    "CASE WHEN $3::bigint > 0 THEN $3::bigint ELSE"
		    " coalesce(k.workspace_id, 0) END") KEY_FROM
		    " LEFT JOIN orgs o ON o.slug = $2 WHERE k.prefix = $1", 3,
		    p);
	else
		rc = apx_db_query(db, APX_DB_RETRY, &res, KEY_COLS KEY_FROM
		    " WHERE k.prefix = $1", 1, p);
	if (rc != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	rc = APX_EDB;
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0)
		goto out;
	k->id = v;
	if (apx_parse_ll(PQgetvalue(res, 0, 1), 1, INT64_MAX, &v) != 0)
		goto out;
	k->org_id = v;
	if (apx_parse_ll(PQgetvalue(res, 0, 2), 0, INT64_MAX, &v) != 0)
		goto out;
	k->workspace_id = v;
	k->role = apx_role_parse(PQgetvalue(res, 0, 3));
	if (unhex(PQgetvalue(res, 0, 4), k->hash) != 0 ||
	    unhex(PQgetvalue(res, 0, 5), k->previous_hash) != 0)
		goto out;
	if (apx_parse_ll(PQgetvalue(res, 0, 6), 0, INT64_MAX, &prev) != 0 ||
	    apx_parse_ll(PQgetvalue(res, 0, 13), 0, INT64_MAX, &exp) != 0)
		goto out;
	t.revoked = PQgetvalue(res, 0, 7)[0] == 't';
	t.expires_at = exp;
	t.previous_until = prev;
	apx_apikey_judge(k, &t, apx_unix_now());
	if (out != NULL)
		*out = t;
	if (apx_parse_ll(PQgetvalue(res, 0, 8), 1, INT64_MAX, &v) != 0)
		goto out;
	k->holder.id = v;
	if (apx_parse_ll(PQgetvalue(res, 0, 11), 1, INT64_MAX, &v) != 0)
		goto out;
	k->creator_id = v;
	k->creator_role = apx_role_parse(PQgetvalue(res, 0, 12));
	k->holder.email = apx_arena_strdup(a, PQgetvalue(res, 0, 9));
	k->holder.name = apx_arena_strdup(a, PQgetvalue(res, 0, 10));
	rc = k->holder.email == NULL || k->holder.name == NULL ?
	    APX_ENOMEM : 0;
	if (rc == 0 && slug != NULL) {
		rc = apx_org_access_from(res, 14, a, acc);
		if (rc == APX_ENOTFOUND)
			rc = 0;		/* acc->id 0: no such org */
	}
out:
	PQclear(res);
	return rc;
}

void
apx_apikey_judge(struct apx_apikey_auth *k, const struct apx_apikey_times *t,
    int64_t now)
{
	k->live = !t->revoked && (t->expires_at == 0 || t->expires_at > now);
	k->previous_ok = t->previous_until > now;
}

int
apx_apikey_touch(struct apx_db *db, int64_t id)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "UPDATE api_keys SET"
	    " last_used_at = now() WHERE id = $1::bigint AND (last_used_at IS"
	    " NULL OR last_used_at < now() - interval '60 seconds')", 1, p))
	    != 0)
		return rc;
	PQclear(res);
	return 0;
}

int
apx_apikey_list(struct apx_db *db, int64_t org, long long max_age,
    PGresult **out)
{
	char ms[APX_DB_ID_LEN], os[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(max_age, ms), apx_db_id(org, os) };

	return apx_db_json_res(db, APX_DB_RETRY, out,
	    "SELECT json_build_object('api_keys', coalesce(json_agg(" KEY_JSON
	    " ORDER BY k.id), '[]')) FROM api_keys k"
	    " WHERE k.org_id = $2::bigint", 2, p);
}

int
apx_apikey_get(struct apx_db *db, int64_t org, int64_t id, long long max_age,
    json_t **out)
{
	char ms[APX_DB_ID_LEN], os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(max_age, ms), apx_db_id(org, os),
	    apx_db_id(id, is) };
	int rc;

	if ((rc = apx_db_json(db, APX_DB_RETRY, out, "SELECT " KEY_JSON
	    " FROM api_keys k WHERE k.org_id = $2::bigint AND"
	    " k.id = $3::bigint", 3, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

int
apx_apikey_create(struct apx_db *db, int64_t org, const char *name, int role,
    int64_t ws, int64_t creator, const char *expires, const char *prefix,
    const unsigned char *hash, struct apx_audit_entry *e, json_t **out)
{
	char os[APX_DB_ID_LEN], wss[APX_DB_ID_LEN], cs[APX_DB_ID_LEN];
	char hx[HEXLEN];
	const char *p[8] = { "3650", apx_db_id(org, os), name,
	    apx_role_name(role), ws > 0 ? apx_db_id(ws, wss) : NULL,
	    apx_db_id(creator, cs), expires, prefix };
	const char *q[9];

	apx_db_hex(hash, 32, hx);
	memcpy(q, p, sizeof(p));
	q[8] = hx;
	/* A workspace of another org is simply not found. */
	return apx_audit_change(db, e, 0, out, "INSERT INTO api_keys AS k"
	    " (org_id, name, role, workspace_id, created_by, expires_at, prefix,"
	    " secret_hash) SELECT $2::bigint, $3, $4, $5::bigint, $6::bigint,"
	    " $7::timestamptz, $8, $9::bytea WHERE $5::bigint IS NULL OR"
	    " EXISTS (SELECT 1 FROM workspaces w WHERE w.id = $5::bigint AND"
	    " w.org_id = $2::bigint) RETURNING " KEY_JSON, 9, q);
}

int
apx_apikey_revoke(struct apx_db *db, int64_t org, int64_t id,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[3] = { "3650", apx_db_id(org, os), apx_db_id(id, is) };

	return apx_audit_change(db, e, 0, NULL, "UPDATE api_keys AS k SET"
	    " revoked_at = now(), previous_valid_until = NULL WHERE"
	    " k.org_id = $2::bigint AND k.id = $3::bigint AND k.revoked_at IS"
	    " NULL RETURNING " KEY_JSON, 3, p);
}

int
apx_apikey_rotate(struct apx_db *db, int64_t org, int64_t id, int64_t by,
    int by_owner, const unsigned char *hash, long long grace,
    long long max_age, struct apx_audit_entry *e, json_t **out)
{
	char ms[APX_DB_ID_LEN], os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	char gs[APX_DB_ID_LEN], bs[APX_DB_ID_LEN], hx[HEXLEN];
	const char *p[7] = { apx_db_id(max_age, ms), apx_db_id(org, os),
	    apx_db_id(id, is), hx, apx_db_id(grace, gs), apx_db_id(by, bs),
	    by_owner ? "t" : "f" };
	json_t *k = NULL;
	int rc;

	apx_db_hex(hash, 32, hx);
	/*
	 * Only a live key rotates (an expired one stays dead), and only for
	 * its creator or an owner (apx_authz_key_rotator decides; repeated
	 * here so that no other caller can skip it). The rotator holds the
	 * new secret, so the key acts as them from now on (rotated_by).
	 */
	rc = apx_audit_change(db, e, 0, &k, "UPDATE api_keys AS k SET"
	    " previous_hash = k.secret_hash, previous_valid_until = now() +"
	    " make_interval(secs => $5::bigint), secret_hash = $4::bytea,"
	    " rotated_at = now(), rotated_by = $6::bigint WHERE"
	    " k.org_id = $2::bigint AND k.id = $3::bigint AND"
	    " (k.created_by = $6::bigint OR $7::boolean) AND k.revoked_at IS"
	    " NULL AND (k.expires_at IS NULL OR k.expires_at > now())"
	    " RETURNING " KEY_JSON, 7, p);
	if (rc == 0 && out != NULL)
		*out = k;
	else
		json_decref(k);
	return rc;
}
