#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/identity.h"
#include "store/mfa.h"
#include "store/orgs.h"

static int	 fill_user(PGresult *, struct apx_arena *, struct apx_user *);

#define USER_COLS \
	"id, email, name, password_hash, is_superuser, " \
	"extract(epoch FROM password_changed_at)::bigint, " \
	"email_verified_at IS NOT NULL"

static int
fill_user(PGresult *res, struct apx_arena *a, struct apx_user *u)
{
	long long v;

	memset(u, 0, sizeof(*u));
	if (PQntuples(res) != 1)
		return APX_ENOTFOUND;
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0)
		return APX_EDB;
	u->id = v;
	u->email = apx_arena_strdup(a, PQgetvalue(res, 0, 1));
	u->name = apx_arena_strdup(a, PQgetvalue(res, 0, 2));
	if (!PQgetisnull(res, 0, 3))
		u->password_hash = apx_arena_strdup(a, PQgetvalue(res, 0, 3));
	u->is_superuser = PQgetvalue(res, 0, 4)[0] == 't';
	if (apx_parse_ll(PQgetvalue(res, 0, 5), 0, INT64_MAX, &v) == 0)
		u->password_changed_at = v;
	u->email_verified = PQgetvalue(res, 0, 6)[0] == 't';
	if (u->email == NULL || u->name == NULL)
		return APX_ENOMEM;
	return 0;
}

int
apx_user_create(struct apx_db *db, const char *email_norm, const char *email,
    const char *name, const char *hash, int flags, int64_t *id)
{
	const char *p[6] = { email_norm, email, name, hash,
	    flags & APX_USER_SUPERUSER ? "t" : "f",
	    flags & APX_USER_VERIFIED ? "t" : "f" };
	PGresult *res;
	long long v;
	int rc;

	rc = apx_db_query(db, 0, &res,
	    "INSERT INTO users (email_norm, email, name, password_hash, "
	    "is_superuser, email_verified_at) VALUES ($1, $2, $3, $4, "
	    "$5::boolean, CASE WHEN $6::boolean THEN now() END) "
	    "ON CONFLICT (email_norm) DO NOTHING RETURNING id", 6, p);
	if (rc != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ECONFLICT;
	}
	rc = apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) == 0 ?
	    0 : APX_EDB;
	PQclear(res);
	if (rc == 0)
		*id = v;
	return rc;
}

int
apx_user_by_email(struct apx_db *db, struct apx_arena *a,
    const char *email_norm, struct apx_user *u)
{
	const char *p[1] = { email_norm };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT " USER_COLS
	    " FROM users WHERE email_norm = $1", 1, p)) != 0)
		return rc;
	rc = fill_user(res, a, u);
	PQclear(res);
	return rc;
}

int
apx_user_by_id(struct apx_db *db, struct apx_arena *a, int64_t id,
    struct apx_user *u)
{
	char ids[24];
	const char *p[1] = { ids };
	PGresult *res;
	int rc;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT " USER_COLS
	    " FROM users WHERE id = $1::bigint", 1, p)) != 0)
		return rc;
	rc = fill_user(res, a, u);
	PQclear(res);
	return rc;
}

int
apx_user_set_password_hash(struct apx_db *db, int64_t id, const char *hash)
{
	char ids[24];
	const char *p[2] = { ids, hash };
	PGresult *res;
	int rc;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	if ((rc = apx_db_query(db, 0, &res, "UPDATE users SET "
	    "password_hash = $2 WHERE id = $1::bigint", 2, p)) != 0)
		return rc;
	PQclear(res);
	return 0;
}

int
apx_user_change_password(struct apx_db *db, int64_t id, const char *hash,
    int64_t keep, const unsigned char *reset, const struct apx_audit_entry *audit,
    int *n)
{
	char ids[24], hx[2 + 2 * APX_TOKEN_HASH_LEN + 1];
	const char *p[3] = { ids, hash, hx };
	PGresult *res;
	int rc;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if (reset != NULL) {
		/* The reset link is spent here or the change does not
		 * happen; opening it also proved the address. */
		apx_db_hex(reset, APX_TOKEN_HASH_LEN, hx);
		if ((rc = apx_db_query(db, 0, &res, "UPDATE account_tokens SET"
		    " used_at = now() WHERE token_hash = $3::bytea AND purpose ="
		    " 'reset' AND user_id = $1::bigint AND used_at IS NULL AND"
		    " expires_at > now() AND $2::text IS NOT NULL RETURNING 1",
		    3, p)) != 0)
			goto fail;
		rc = PQntuples(res) == 1 ? 0 : APX_ENOTFOUND;
		PQclear(res);
		if (rc != 0)
			goto fail;
	}
	if ((rc = apx_db_query(db, 0, &res, "UPDATE users SET "
	    "password_hash = $2, password_changed_at = now(), "
	    "email_verified_at = CASE WHEN $3::text IS NOT NULL THEN "
	    "coalesce(email_verified_at, now()) ELSE email_verified_at END "
	    "WHERE id = $1::bigint", 3, (const char *const[]){ ids, hash,
	    reset != NULL ? hx : NULL })) != 0)
		goto fail;
	PQclear(res);
	if ((rc = apx_session_revoke_others(db, id, keep, "password changed",
	    n)) != 0 || (rc = apx_audit_append(db, audit)) != 0 ||
	    (rc = apx_db_commit(db)) != 0)
		goto fail;
	return 0;
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_session_create(struct apx_db *db, int64_t uid, const char *ua,
    const char *addr, const char *amr, int64_t lifetime,
    const unsigned char *hash, int64_t *sid)
{
	char ids[24], life[24], hx[2 + 2 * APX_TOKEN_HASH_LEN + 1];
	const char *p[5] = { ids, life, ua, addr, amr };
	PGresult *res;
	long long v;
	int rc;

	snprintf(ids, sizeof(ids), "%lld", (long long)uid);
	snprintf(life, sizeof(life), "%lld", (long long)lifetime);
	apx_db_hex(hash, APX_TOKEN_HASH_LEN, hx);
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	rc = apx_db_query(db, 0, &res, "INSERT INTO sessions (user_id, "
	    "expires_at, user_agent, client_addr, amr) VALUES ($1::bigint, "
	    "now() + make_interval(secs => $2::bigint), left($3, 256), $4, "
	    "$5) RETURNING id", 5, p);
	if (rc != 0)
		goto fail;
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0) {
		PQclear(res);
		rc = APX_EDB;
		goto fail;
	}
	PQclear(res);
	snprintf(ids, sizeof(ids), "%lld", v);
	p[1] = hx;
	if ((rc = apx_db_query(db, 0, &res, "INSERT INTO refresh_tokens "
	    "(session_id, token_hash) VALUES ($1::bigint, $2::bytea)", 2, p))
	    != 0)
		goto fail;
	PQclear(res);
	if ((rc = apx_db_commit(db)) != 0)
		goto fail;
	*sid = v;
	return 0;
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_session_rotate(struct apx_db *db, const unsigned char *old,
    const unsigned char *nw, const unsigned char *next, size_t nextlen,
    int grace, int64_t *sid, int64_t *uid, struct apx_audit_entry *audit,
    unsigned char **prev, size_t *prevlen)
{
	char us[24], target[40], gs[24], *nx = NULL;
	char ho[2 + 2 * APX_TOKEN_HASH_LEN + 1], hn[sizeof(ho)], ids[24];
	const char *p[3] = { ho, NULL, NULL };
	PGresult *res;
	long long s, u;
	int rc, spent, live, recent;

	*prev = NULL;
	*prevlen = 0;
	apx_db_hex(old, APX_TOKEN_HASH_LEN, ho);
	apx_db_hex(nw, APX_TOKEN_HASH_LEN, hn);
	snprintf(gs, sizeof(gs), "%d", grace);
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/* Lock the token row: two refreshes of one token serialise here. */
	p[1] = gs;
	rc = apx_db_query(db, 0, &res,
	    "SELECT t.session_id, s.user_id, t.spent_at IS NOT NULL, "
	    "s.revoked_at IS NULL AND s.expires_at > now(), "
	    "t.spent_at > now() - make_interval(secs => $2::int), "
	    "t.successor_sealed "
	    "FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id "
	    "WHERE t.token_hash = $1::bytea FOR UPDATE OF t, s", 2, p);
	if (rc != 0)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		rc = APX_EUNAUTH;
		goto fail;
	}
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &s) != 0 ||
	    apx_parse_ll(PQgetvalue(res, 0, 1), 1, INT64_MAX, &u) != 0) {
		PQclear(res);
		rc = APX_EDB;
		goto fail;
	}
	spent = PQgetvalue(res, 0, 2)[0] == 't';
	live = PQgetvalue(res, 0, 3)[0] == 't';
	recent = PQgetvalue(res, 0, 4)[0] == 't';
	*sid = s;
	*uid = u;
	snprintf(ids, sizeof(ids), "%lld", s);
	if (spent && recent && live && !PQgetisnull(res, 0, 5)) {
		/* Another tab spent it a moment ago: the same successor. */
		rc = apx_db_unhex(PQgetvalue(res, 0, 5), 4096, prev, prevlen);
		PQclear(res);
		if (rc != 0)
			goto fail;
		if ((rc = apx_db_commit(db)) != 0) {
			free(*prev);
			*prev = NULL;
			*prevlen = 0;
			goto fail;
		}
		return 0;
	}
	PQclear(res);
	if (spent) {
		/* Reuse of a spent token: someone holds a copy. */
		p[0] = ids;
		p[1] = "refresh token reuse";
		rc = apx_db_query(db, 0, &res, "UPDATE sessions SET "
		    "revoked_at = coalesce(revoked_at, now()), revoked_reason "
		    "= coalesce(revoked_reason, $2) WHERE id = $1::bigint", 2, p);
		if (rc != 0)
			goto fail;
		PQclear(res);
		snprintf(us, sizeof(us), "%lld", u);
		snprintf(target, sizeof(target), "session:%lld", s);
		audit->actor_id = us;
		audit->target = target;
		rc = apx_audit_append(db, audit);
		audit->actor_id = audit->target = NULL;
		if (rc != 0 || (rc = apx_db_commit(db)) != 0)
			goto fail;
		return live ? APX_ECONFLICT : APX_EUNAUTH;
	}
	if (!live) {
		rc = APX_EUNAUTH;
		goto fail;
	}
	if (next != NULL && (nx = apx_db_hexdup(next, nextlen)) == NULL) {
		rc = APX_ENOMEM;
		goto fail;
	}
	p[0] = ho;
	p[1] = nx;
	rc = apx_db_query(db, 0, &res, "UPDATE refresh_tokens SET "
	    "spent_at = now(), successor_sealed = $2::bytea "
	    "WHERE token_hash = $1::bytea", 2, p);
	free(nx);
	if (rc != 0)
		goto fail;
	PQclear(res);
	p[0] = ids;
	p[1] = hn;
	if ((rc = apx_db_query(db, 0, &res, "INSERT INTO refresh_tokens "
	    "(session_id, token_hash) VALUES ($1::bigint, $2::bytea)", 2, p))
	    != 0)
		goto fail;
	PQclear(res);
	/* What older tabs could still use is of no use past the grace. */
	p[1] = gs;
	if ((rc = apx_db_query(db, 0, &res, "WITH g AS (UPDATE refresh_tokens"
	    " SET successor_sealed = NULL WHERE session_id = $1::bigint AND"
	    " successor_sealed IS NOT NULL AND spent_at < now() -"
	    " make_interval(secs => $2::int)) UPDATE sessions SET"
	    " last_used_at = now() WHERE id = $1::bigint", 2, p)) != 0)
		goto fail;
	PQclear(res);
	if ((rc = apx_db_commit(db)) != 0)
		goto fail;
	return 0;
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_session_revoke(struct apx_db *db, int64_t uid, int64_t sid,
    const char *reason)
{
	char u[24], s[24];
	const char *p[3] = { u, s, reason };
	PGresult *res;
	int rc, n;

	snprintf(u, sizeof(u), "%lld", (long long)uid);
	snprintf(s, sizeof(s), "%lld", (long long)sid);
	if ((rc = apx_db_query(db, 0, &res, "UPDATE sessions SET revoked_at "
	    "= now(), revoked_reason = $3 WHERE id = $2::bigint AND user_id "
	    "= $1::bigint AND revoked_at IS NULL", 3, p)) != 0)
		return rc;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n == 1 ? 0 : APX_ENOTFOUND;
}

int
apx_session_revoke_others(struct apx_db *db, int64_t uid, int64_t keep,
    const char *reason, int *n)
{
	char u[24], s[24];
	const char *p[3] = { u, s, reason };
	PGresult *res;
	int rc;

	snprintf(u, sizeof(u), "%lld", (long long)uid);
	snprintf(s, sizeof(s), "%lld", (long long)keep);
	if ((rc = apx_db_query(db, 0, &res, "UPDATE sessions SET revoked_at "
	    "= now(), revoked_reason = $3 WHERE user_id = $1::bigint AND "
	    "id <> $2::bigint AND revoked_at IS NULL", 3, p)) != 0)
		return rc;
	if (n != NULL)
		*n = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

/* The last column of row 0 of RES: seconds since the epoch. */
static int
last_epoch(PGresult *res, int64_t *out)
{
	long long v;

	if (apx_parse_ll(PQgetvalue(res, 0, PQnfields(res) - 1), 0, INT64_MAX,
	    &v) != 0)
		return APX_EDB;
	*out = v;
	return 0;
}

int
apx_session_user(struct apx_db *db, struct apx_arena *a, int64_t uid,
    int64_t sid, struct apx_user *u, int64_t *expires)
{
	char us[24], ss[24];
	const char *p[2] = { us, ss };
	PGresult *res;
	int rc;

	snprintf(us, sizeof(us), "%lld", (long long)uid);
	snprintf(ss, sizeof(ss), "%lld", (long long)sid);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT u.id, u.email, "
	    "u.name, u.password_hash, u.is_superuser, "
	    "extract(epoch FROM u.password_changed_at)::bigint, "
	    "u.email_verified_at IS NOT NULL, "
	    "floor(extract(epoch FROM s.expires_at))::bigint "
	    "FROM sessions s JOIN users u ON u.id = s.user_id "
	    "WHERE s.id = $2::bigint AND s.user_id = $1::bigint AND "
	    "s.revoked_at IS NULL AND s.expires_at > now()", 2, p)) != 0)
		return rc;
	if ((rc = fill_user(res, a, u)) == 0)
		rc = last_epoch(res, expires);
	PQclear(res);
	return rc == APX_ENOTFOUND ? APX_EUNAUTH : rc;
}

int
apx_session_fresh(struct apx_db *db, int64_t uid, int64_t sid, int seconds)
{
	char us[24], ss[24], secs[16];
	const char *p[3] = { us, ss, secs };
	PGresult *res;
	int rc;

	snprintf(us, sizeof(us), "%lld", (long long)uid);
	snprintf(ss, sizeof(ss), "%lld", (long long)sid);
	snprintf(secs, sizeof(secs), "%d", seconds);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT 1 FROM sessions"
	    " WHERE id = $2::bigint AND user_id = $1::bigint AND revoked_at IS"
	    " NULL AND created_at > now() - make_interval(secs => $3::int)",
	    3, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}

int
apx_session_user_org(struct apx_db *db, struct apx_arena *a, int64_t uid,
    int64_t sid, const char *slug, int64_t ws, struct apx_user *u,
    struct apx_org_access *acc, int64_t *expires)
{
	char us[24], ss[24], wss[24];
	const char *p[4] = { us, ss, slug, wss };
	PGresult *res;
	int rc;

	snprintf(us, sizeof(us), "%lld", (long long)uid);
	snprintf(ss, sizeof(ss), "%lld", (long long)sid);
	snprintf(wss, sizeof(wss), "%lld", (long long)ws);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT u.id, u.email, "
	    "u.name, u.password_hash, u.is_superuser, "
	    "extract(epoch FROM u.password_changed_at)::bigint, "
	    "u.email_verified_at IS NOT NULL,"
	    APX_ORG_ACCESS_COLS("u.id", "$4::bigint", "0") ","
	    APX_MFA_REFUSED_COL("s", "o") ", "
	    "floor(extract(epoch FROM s.expires_at))::bigint "
	    "FROM sessions s JOIN users u ON u.id = s.user_id "
	    "LEFT JOIN orgs o ON o.slug = $3 "
	    "WHERE s.id = $2::bigint AND s.user_id = $1::bigint AND "
	    "s.revoked_at IS NULL AND s.expires_at > now()", 4, p)) != 0)
		return rc;
	if ((rc = fill_user(res, a, u)) == 0) {
		rc = apx_org_access_from(res, 7, a, acc);
		if (rc == APX_ENOTFOUND)
			rc = 0;		/* acc->id 0: no such org */
		/* the last two columns */
		acc->mfa_refused = PQgetvalue(res, 0, PQnfields(res) - 2)[0] ==
		    't';
		rc = last_epoch(res, expires);
	}
	PQclear(res);
	return rc == APX_ENOTFOUND ? APX_EUNAUTH : rc;
}

int
apx_session_list(struct apx_db *db, int64_t uid, int64_t current,
    json_t **out)
{
	char u[24];
	const char *p[1] = { u };
	PGresult *res;
	json_t *arr;
	long long id;
	int rc, r;

	snprintf(u, sizeof(u), "%lld", (long long)uid);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT id, "
	    "to_char(created_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	    "to_char(last_used_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), user_agent, client_addr "
	    "FROM sessions WHERE user_id = $1::bigint AND revoked_at IS NULL "
	    "AND expires_at > now() ORDER BY last_used_at DESC LIMIT 100", 1,
	    p)) != 0)
		return rc;
	if ((arr = json_array()) == NULL) {
		PQclear(res);
		return APX_ENOMEM;
	}
	for (r = 0; r < PQntuples(res); r++) {
		if (apx_parse_ll(PQgetvalue(res, r, 0), 1, INT64_MAX, &id) != 0)
			continue;
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}",
		    "id", PQgetvalue(res, r, 0), "created_at",
		    PQgetvalue(res, r, 1), "last_used_at", PQgetvalue(res, r, 2),
		    "user_agent", PQgetvalue(res, r, 3), "client_addr",
		    PQgetvalue(res, r, 4), "current", id == current));
	}
	PQclear(res);
	*out = arr;
	return 0;
}

int
apx_throttle_check(struct apx_db *db, const char *scope, const char *key,
    int limit, int window, int *retry)
{
	char lim[16], win[16];
	const char *p[4] = { scope, key, lim, win };
	PGresult *res;
	long long v = 0;
	int rc;

	snprintf(lim, sizeof(lim), "%d", limit);
	snprintf(win, sizeof(win), "%d", window);
	*retry = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT ceil(extract("
	    "epoch FROM window_start + make_interval(secs => $4::int) - now()"
	    "))::bigint FROM auth_throttle WHERE scope = $1 AND key = $2 AND "
	    "failures >= $3::int AND window_start + make_interval(secs => "
	    "$4::int) > now()", 4, p)) != 0)
		return rc;
	if (PQntuples(res) == 1 &&
	    apx_parse_ll(PQgetvalue(res, 0, 0), 0, 86400, &v) == 0)
		*retry = v > 0 ? (int)v : 1;
	PQclear(res);
	return 0;
}

int
apx_throttle_fail(struct apx_db *db, const char *scope, const char *key,
    int window)
{
	char win[16];
	const char *p[3] = { scope, key, win };
	PGresult *res;
	int rc;

	snprintf(win, sizeof(win), "%d", window);
	/* A window that has run out starts again at one failure. */
	if ((rc = apx_db_query(db, 0, &res, "INSERT INTO auth_throttle "
	    "(scope, key, window_start, failures, last_at) VALUES ($1, $2, now(), "
	    "1, now()) "
	    "ON CONFLICT (scope, key) DO UPDATE SET "
	    "failures = CASE WHEN auth_throttle.window_start + "
	    "make_interval(secs => $3::int) > now() THEN "
	    "auth_throttle.failures + 1 ELSE 1 END, last_at = now(), "
	    "window_start = CASE WHEN auth_throttle.window_start + "
	    "make_interval(secs => $3::int) > now() THEN "
	    "auth_throttle.window_start ELSE now() END", 3, p)) != 0)
		return rc;
	PQclear(res);
	return 0;
}

int
apx_throttle_clear(struct apx_db *db, const char *scope, const char *key)
{
	const char *p[2] = { scope, key };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, 0, &res, "DELETE FROM auth_throttle WHERE "
	    "scope = $1 AND key = $2", 2, p)) != 0)
		return rc;
	PQclear(res);
	return 0;
}
