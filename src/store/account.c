/*
 * The account lifecycle's rows (see account.h; migration 0017).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/account.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/identity.h"

int
apx_acct_token_put(struct apx_db *db, int64_t uid, const char *purpose,
    const unsigned char *hash, long long ttl)
{
	char us[APX_DB_ID_LEN], ts[APX_DB_ID_LEN];
	char hx[2 + 2 * APX_TOKEN_HASH_LEN + 1];
	const char *p[4] = { apx_db_id(uid, us), purpose, hx,
	    apx_db_id(ttl, ts) };

	apx_db_hex(hash, APX_TOKEN_HASH_LEN, hx);
	return apx_db_do(db, 0, "WITH old AS (UPDATE account_tokens SET"
	    " expires_at = least(expires_at, now()) WHERE user_id = $1::bigint"
	    " AND purpose = $2 AND used_at IS NULL AND expires_at > now())"
	    " INSERT INTO account_tokens (user_id, purpose, token_hash,"
	    " expires_at) VALUES ($1::bigint, $2, $3::bytea, now() +"
	    " make_interval(secs => $4::bigint))", 4, p);
}

int
apx_acct_token_owner(struct apx_db *db, const char *purpose,
    const unsigned char *hash, int64_t *uid)
{
	char hx[2 + 2 * APX_TOKEN_HASH_LEN + 1];
	const char *p[2] = { purpose, hx };
	PGresult *res;
	long long v;
	int rc;

	apx_db_hex(hash, APX_TOKEN_HASH_LEN, hx);
	*uid = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT user_id FROM"
	    " account_tokens WHERE token_hash = $2::bytea AND purpose = $1 AND"
	    " used_at IS NULL AND expires_at > now()", 2, p)) != 0)
		return rc;
	rc = PQntuples(res) != 1 ? APX_ENOTFOUND :
	    apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0 ?
	    APX_EDB : 0;
	PQclear(res);
	if (rc == 0)
		*uid = v;
	return rc;
}

int
apx_account_verify(struct apx_db *db, const char *en,
    const unsigned char *hash, struct apx_audit_entry *e, int64_t *uid)
{
	char hx[2 + 2 * APX_TOKEN_HASH_LEN + 1], us[APX_DB_ID_LEN], target[48];
	const char *p[2] = { en, NULL };
	const char *actor = e->actor_id;
	PGresult *res;
	long long v;
	int rc;

	*uid = 0;
	if (hash != NULL) {
		apx_db_hex(hash, APX_TOKEN_HASH_LEN, hx);
		p[1] = hx;
	}
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/* The address, or the owner of a live verification token (spent
	 * here): one statement. */
	if ((rc = apx_db_query(db, 0, &res, "WITH t AS (UPDATE account_tokens"
	    " SET used_at = now() WHERE token_hash = $2::bytea AND purpose ="
	    " '" APX_ACCT_VERIFY "' AND used_at IS NULL AND expires_at > now()"
	    " RETURNING user_id) UPDATE users SET email_verified_at ="
	    " coalesce(email_verified_at, now()) WHERE email_norm = $1 OR id IN"
	    " (SELECT user_id FROM t) RETURNING id", 2, p)) != 0)
		goto fail;
	rc = PQntuples(res) != 1 ? APX_ENOTFOUND :
	    apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0 ?
	    APX_EDB : 0;
	PQclear(res);
	if (rc != 0)
		goto fail;
	*uid = v;
	snprintf(target, sizeof(target), "user:%lld", v);
	e->target = target;
	if (e->actor_id == NULL)
		e->actor_id = apx_db_id(v, us);		/* the owner */
	rc = apx_audit_commit(db, e, NULL, NULL);
	e->target = NULL;
	e->actor_id = actor;
	return rc;
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_known_note(struct apx_db *db, int64_t uid, const char *net,
    const char *agent, int *news)
{
	char us[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(uid, us), net, agent };
	PGresult *res;
	int rc;

	*news = 0;
	if ((rc = apx_db_query(db, 0, &res, "WITH prior AS (SELECT count(*)"
	    " AS n, coalesce(bool_or(kind = 'net' AND value = $2), false) AS"
	    " net, coalesce(bool_or(kind = 'agent' AND value = $3), false) AS"
	    " agent FROM user_known WHERE user_id = $1::bigint),"
	    " ins AS (INSERT INTO user_known (user_id, kind, value) VALUES"
	    " ($1::bigint, 'net', $2), ($1::bigint, 'agent', $3) ON CONFLICT"
	    " (user_id, kind, value) DO UPDATE SET last_at = now())"
	    " SELECT n, net, agent FROM prior", 3, p)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
			*news |= APX_KNOWN_FIRST;
		if (PQgetvalue(res, 0, 1)[0] != 't')
			*news |= APX_KNOWN_NEW_NET;
		if (PQgetvalue(res, 0, 2)[0] != 't')
			*news |= APX_KNOWN_NEW_AGENT;
	}
	PQclear(res);
	return 0;
}

int
apx_login_delay(struct apx_db *db, const char *key, int64_t uid,
    const char *net, int after, int *retry)
{
	char us[APX_DB_ID_LEN], as[APX_DB_ID_LEN], ws[APX_DB_ID_LEN];
	const char *p[5] = { key, apx_db_id(uid, us), net,
	    apx_db_id(after, as), apx_db_id(APX_ACCOUNT_WINDOW, ws) };
	PGresult *res;
	long long v;
	int rc;

	*retry = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT ceil(extract("
	    "epoch FROM t.last_at + make_interval(secs => least(900,"
	    " power(2, t.failures - $4::int))) - now()))::bigint"
	    " FROM auth_throttle t WHERE t.scope = '" APX_THROTTLE_ACCOUNT "'"
	    " AND t.key = $1 AND t.failures >= $4::int AND t.window_start +"
	    " make_interval(secs => $5::int) > now() AND NOT EXISTS (SELECT 1"
	    " FROM user_known k WHERE k.user_id = $2::bigint AND k.kind ="
	    " 'net' AND k.value = $3)", 5, p)) != 0)
		return rc;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    apx_parse_ll(PQgetvalue(res, 0, 0), -86400, 86400, &v) == 0 &&
	    v > 0)
		*retry = (int)v;
	PQclear(res);
	return 0;
}
