/* The second factor's rows: keys, recovery codes, challenges (mfa.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/mfa.h"

#define SEALED_MAX	1024
#define CODES_MAX	16
#define HEX(n)		(2 + 2 * (n) + 1)

static int	 put_codes(struct apx_db *, const char *, const unsigned char *,
		    int);
static int	 one_row(struct apx_db *, const char *, int,
		    const char *const *);

/* Run SQL (a change answering a row when done): APX_ENOTFOUND for none. */
static int
one_row(struct apx_db *db, const char *sql, int n, const char *const *p)
{
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, 0, &res, sql, n, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1 ? 0 : APX_ENOTFOUND;
	PQclear(res);
	return rc;
}

/* Replace the recovery codes of user US by HASHES (N), in the caller's
 * transaction: one statement, the hashes as one hex text. */
static int
put_codes(struct apx_db *db, const char *us, const unsigned char *hashes,
    int n)
{
	static const char hex[] = "0123456789abcdef";
	char all[CODES_MAX * APX_MFA_HASH_LEN * 2 + 1];
	const char *p[2] = { us, all };
	size_t i;
	int rc;

	if (n < 1 || n > CODES_MAX)
		return APX_EINVAL;
	for (i = 0; i < (size_t)n * APX_MFA_HASH_LEN; i++) {
		all[2 * i] = hex[hashes[i] >> 4];
		all[2 * i + 1] = hex[hashes[i] & 15];
	}
	all[2 * i] = '\0';
	if ((rc = apx_db_do(db, 0, "DELETE FROM mfa_recovery_codes WHERE "
	    "user_id = $1::bigint", 1, p)) != 0)
		return rc;
	return apx_db_do(db, 0, "INSERT INTO mfa_recovery_codes (user_id, "
	    "code_hash) SELECT $1::bigint, decode(substr($2, i * 64 + 1, 64), "
	    "'hex') FROM generate_series(0, length($2) / 64 - 1) AS i", 2, p);
}

int
apx_mfa_status(struct apx_db *db, int64_t uid, json_t **out)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT json_build_object("
	    "'enabled', m.confirmed_at IS NOT NULL, 'confirmed_at', "
	    "apx_ts(m.confirmed_at), 'recovery_codes_left', CASE WHEN "
	    "m.confirmed_at IS NULL THEN 0 ELSE (SELECT count(*) FROM "
	    "mfa_recovery_codes r WHERE r.user_id = u.id AND r.used_at IS "
	    "NULL) END) FROM users u LEFT JOIN user_mfa m ON m.user_id = "
	    "u.id WHERE u.id = $1::bigint", 1, p);
}

int
apx_mfa_session_strong(struct apx_db *db, int64_t sid, int64_t org)
{
	char ss[APX_DB_ID_LEN], os[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(sid, ss), apx_db_id(org, os) };
	int rc;

	rc = one_row(db, "SELECT 1 FROM sessions s WHERE s.id = $1::bigint "
	    "AND" APX_MFA_STRONG("s", "$2::bigint"), 2, p);
	return rc == APX_ENOTFOUND ? 0 : rc == 0 ? 1 : rc;
}

int
apx_mfa_enabled(struct apx_db *db, int64_t uid)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT 1 FROM "
	    "user_mfa WHERE user_id = $1::bigint AND confirmed_at IS NOT NULL",
	    1, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}

int
apx_mfa_get(struct apx_db *db, int64_t uid, struct apx_mfa_row *row)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };
	PGresult *res;
	long long v;
	int rc;

	memset(row, 0, sizeof(*row));
	row->last_step = -1;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT secret_sealed, "
	    "confirmed_at IS NOT NULL, last_step FROM user_mfa WHERE "
	    "user_id = $1::bigint", 1, p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	rc = apx_db_unhex(PQgetvalue(res, 0, 0), SEALED_MAX, &row->sealed,
	    &row->sealed_len);
	row->confirmed = PQgetvalue(res, 0, 1)[0] == 't';
	if (rc == 0 && !PQgetisnull(res, 0, 2)) {
		if (apx_parse_ll(PQgetvalue(res, 0, 2), 0, INT64_MAX, &v) == 0)
			row->last_step = v;
		else
			rc = APX_EDB;
	}
	PQclear(res);
	if (rc != 0)
		apx_mfa_row_clear(row);
	return rc;
}

void
apx_mfa_row_clear(struct apx_mfa_row *row)
{
	free(row->sealed);
	memset(row, 0, sizeof(*row));
}

int
apx_mfa_begin(struct apx_db *db, int64_t uid, const unsigned char *sealed,
    size_t len)
{
	char us[APX_DB_ID_LEN], *hx;
	const char *p[2];
	int rc;

	if (len > SEALED_MAX)
		return APX_ETOOBIG;
	if ((hx = apx_db_hexdup(sealed, len)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(uid, us);
	p[1] = hx;
	/* A confirmed key is never replaced here: disabling comes first. */
	rc = one_row(db, "INSERT INTO user_mfa (user_id, secret_sealed) "
	    "VALUES ($1::bigint, $2::bytea) ON CONFLICT (user_id) DO UPDATE "
	    "SET secret_sealed = EXCLUDED.secret_sealed, created_at = now(), "
	    "last_step = NULL WHERE user_mfa.confirmed_at IS NULL RETURNING 1",
	    2, p);
	free(hx);
	return rc == APX_ENOTFOUND ? APX_ECONFLICT : rc;
}

int
apx_mfa_spend_step(struct apx_db *db, int64_t uid, int64_t step)
{
	char us[APX_DB_ID_LEN], ss[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(uid, us), apx_db_id(step, ss) };
	int rc;

	/* The check and the write in one statement: two requests with the
	 * same code cannot both pass. */
	rc = one_row(db, "UPDATE user_mfa SET last_step = $2::bigint WHERE "
	    "user_id = $1::bigint AND confirmed_at IS NOT NULL AND "
	    "coalesce(last_step, -1) < $2::bigint RETURNING 1", 2, p);
	return rc == APX_ENOTFOUND ? APX_ECONFLICT : rc;
}

int
apx_mfa_confirm_key(struct apx_db *db, int64_t uid,
    const unsigned char *sealed, size_t len, int64_t step,
    const unsigned char *hashes, int n, const struct apx_audit_entry *audit)
{
	char us[APX_DB_ID_LEN], ss[APX_DB_ID_LEN], *hx;
	const char *p[3];
	int rc;

	if (len > SEALED_MAX)
		return APX_ETOOBIG;
	if ((hx = apx_db_hexdup(sealed, len)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(uid, us);
	p[1] = apx_db_id(step, ss);
	p[2] = hx;
	if ((rc = apx_db_begin(db)) != 0)
		goto out;
	rc = one_row(db, "UPDATE user_mfa SET confirmed_at = now(), "
	    "last_step = $2::bigint WHERE user_id = $1::bigint AND "
	    "confirmed_at IS NULL AND secret_sealed = $3::bytea AND "
	    "coalesce(last_step, -1) < $2::bigint RETURNING 1", 3, p);
	if (rc == APX_ENOTFOUND)
		rc = APX_ECONFLICT;
	if (rc != 0 || (rc = put_codes(db, us, hashes, n)) != 0 ||
	    (rc = apx_audit_append(db, audit)) != 0 ||
	    (rc = apx_db_commit(db)) != 0)
		apx_db_rollback(db);
out:
	free(hx);
	return rc;
}

int
apx_mfa_recovery_replace(struct apx_db *db, int64_t uid,
    const unsigned char *hashes, int n, const struct apx_audit_entry *audit)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = one_row(db, "SELECT 1 FROM user_mfa WHERE user_id = "
	    "$1::bigint AND confirmed_at IS NOT NULL FOR UPDATE", 1, p)) != 0 ||
	    (rc = put_codes(db, us, hashes, n)) != 0 ||
	    (rc = apx_audit_append(db, audit)) != 0 ||
	    (rc = apx_db_commit(db)) != 0)
		apx_db_rollback(db);
	return rc;
}

int
apx_mfa_recovery_spend(struct apx_db *db, int64_t uid,
    const unsigned char *hash, const struct apx_audit_entry *audit,
    int *left)
{
	char us[APX_DB_ID_LEN], hx[HEX(APX_MFA_HASH_LEN)];
	const char *p[2] = { apx_db_id(uid, us), hx };
	PGresult *res;
	long long v = 0;
	int rc;

	*left = 0;
	apx_db_hex(hash, APX_MFA_HASH_LEN, hx);
	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/* Found by its hash (the index), spent at most once. */
	if ((rc = one_row(db, "UPDATE mfa_recovery_codes r SET used_at = "
	    "now() FROM user_mfa m WHERE r.user_id = $1::bigint AND "
	    "r.code_hash = $2::bytea AND r.used_at IS NULL AND m.user_id = "
	    "r.user_id AND m.confirmed_at IS NOT NULL RETURNING 1", 2, p)) != 0)
		goto fail;
	if ((rc = apx_db_query(db, 0, &res, "SELECT count(*) FROM "
	    "mfa_recovery_codes WHERE user_id = $1::bigint AND used_at IS NULL",
	    1, p)) != 0)
		goto fail;
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 0, CODES_MAX, &v) != 0)
		rc = APX_EDB;
	PQclear(res);
	if (rc != 0 || (rc = apx_audit_append(db, audit)) != 0 ||
	    (rc = apx_db_commit(db)) != 0)
		goto fail;
	*left = (int)v;
	return 0;
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_mfa_disable(struct apx_db *db, int64_t uid,
    const struct apx_audit_entry *audit)
{
	char us[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(uid, us) };
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	if ((rc = one_row(db, "DELETE FROM user_mfa WHERE user_id = "
	    "$1::bigint RETURNING 1", 1, p)) != 0 ||
	    (rc = apx_db_do(db, 0, "DELETE FROM mfa_recovery_codes WHERE "
	    "user_id = $1::bigint", 1, p)) != 0 ||
	    (rc = apx_db_do(db, 0, "DELETE FROM mfa_challenges WHERE "
	    "user_id = $1::bigint", 1, p)) != 0 ||
	    (rc = apx_audit_append(db, audit)) != 0 ||
	    (rc = apx_db_commit(db)) != 0)
		apx_db_rollback(db);
	return rc;
}

int
apx_mfa_challenge_create(struct apx_db *db, int64_t uid,
    const unsigned char *hash, const char *amr, const char *ua,
    const char *addr, int ttl)
{
	char us[APX_DB_ID_LEN], ts[16], hx[HEX(APX_MFA_HASH_LEN)];
	const char *p[6] = { apx_db_id(uid, us), hx, amr, ua, addr, ts };

	apx_db_hex(hash, APX_MFA_HASH_LEN, hx);
	snprintf(ts, sizeof(ts), "%d", ttl);
	/* Dead challenges go as new ones come (an index on expires_at). */
	(void)apx_db_do(db, 0, "DELETE FROM mfa_challenges WHERE expires_at < "
	    "now() - interval '1 hour'", 0, NULL);
	return apx_db_do(db, 0, "INSERT INTO mfa_challenges (user_id, "
	    "token_hash, amr, user_agent, client_addr, expires_at) VALUES "
	    "($1::bigint, $2::bytea, $3, left($4, 256), $5, now() + "
	    "make_interval(secs => $6::int))", 6, p);
}

int
apx_mfa_challenge_find(struct apx_db *db, struct apx_arena *a,
    const unsigned char *hash, int tries, struct apx_mfa_challenge *ch)
{
	char hx[HEX(APX_MFA_HASH_LEN)], ts[16];
	const char *p[2] = { hx, ts };
	PGresult *res;
	long long id, uid;
	int rc;

	memset(ch, 0, sizeof(*ch));
	apx_db_hex(hash, APX_MFA_HASH_LEN, hx);
	snprintf(ts, sizeof(ts), "%d", tries);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT c.id, "
	    "c.user_id, c.amr, u.email_norm FROM mfa_challenges c JOIN users u "
	    "ON u.id = c.user_id WHERE c.token_hash = $1::bytea AND "
	    "c.used_at IS NULL AND c.expires_at > now() AND c.attempts < "
	    "$2::int", 2, p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &id) != 0 ||
	    apx_parse_ll(PQgetvalue(res, 0, 1), 1, INT64_MAX, &uid) != 0)
		rc = APX_EDB;
	else {
		ch->id = id;
		ch->uid = uid;
		ch->amr = apx_arena_strdup(a, PQgetvalue(res, 0, 2));
		ch->email_norm = apx_arena_strdup(a, PQgetvalue(res, 0, 3));
		if (ch->amr == NULL || ch->email_norm == NULL)
			rc = APX_ENOMEM;
	}
	PQclear(res);
	return rc;
}

int
apx_mfa_challenge_fail(struct apx_db *db, int64_t id)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };

	return apx_db_do(db, 0, "UPDATE mfa_challenges SET attempts = "
	    "attempts + 1 WHERE id = $1::bigint", 1, p);
}

int
apx_mfa_challenge_spend(struct apx_db *db, int64_t id, int tries)
{
	char is[APX_DB_ID_LEN], ts[16];
	const char *p[2] = { apx_db_id(id, is), ts };

	snprintf(ts, sizeof(ts), "%d", tries);
	return one_row(db, "UPDATE mfa_challenges SET used_at = now() WHERE "
	    "id = $1::bigint AND used_at IS NULL AND expires_at > now() AND "
	    "attempts < $2::int RETURNING 1", 2, p);
}
