/*
 * The mail outbox (control database, migration 0017). A mail is taken for
 * a lease like a job (store/jobs.c): two senders never take one mail, and
 * a sender that dies leaves it to the next one when the lease ends.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/db.h"
#include "store/mail.h"

#define SEALED_MAX	(256 * 1024)

int
apx_outbox_put(struct apx_db *db, const char *kind, int64_t uid,
    const char *to, const char *msgid, const unsigned char *sealed,
    size_t len)
{
	char us[APX_DB_ID_LEN], *hx;
	const char *p[5];
	int rc;

	if (len > SEALED_MAX)
		return APX_ETOOBIG;
	if ((hx = apx_db_hexdup(sealed, len)) == NULL)
		return APX_ENOMEM;
	p[0] = kind;
	p[1] = uid > 0 ? apx_db_id(uid, us) : NULL;
	p[2] = to;
	p[3] = msgid;
	p[4] = hx;
	rc = apx_db_do(db, 0, "WITH m AS (INSERT INTO mail_outbox (kind,"
	    " user_id, to_addr, message_id, sealed) VALUES ($1, $2::bigint,"
	    " $3, $4, $5::bytea) RETURNING id)"
	    " SELECT pg_notify('apx_mail', m.id::text) FROM m", 5, p);
	free(hx);
	return rc;
}

void
apx_outbox_row_clear(struct apx_outbox_row *r)
{
	if (r->sealed != NULL) {
		apx_wipe(r->sealed, r->sealed_len);
		free(r->sealed);
	}
	memset(r, 0, sizeof(*r));
}

int
apx_outbox_take(struct apx_db *db, int lease, int max,
    struct apx_outbox_row *r)
{
	char ls[APX_DB_ID_LEN], ms[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(lease, ls), apx_db_id(max, ms) };
	long long v;
	PGresult *res;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = apx_db_query(db, 0, &res, "UPDATE mail_outbox SET"
	    " locked_until = now() + make_interval(secs => $1::int),"
	    " attempts = attempts + 1 WHERE id = (SELECT id FROM mail_outbox"
	    " WHERE sent_at IS NULL AND send_after <= now() AND"
	    " (locked_until IS NULL OR locked_until < now()) AND attempts <"
	    " $2::int ORDER BY send_after, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
	    " RETURNING id, kind, to_addr, message_id, sealed, attempts", 2,
	    p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	rc = APX_EDB;
	if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v) != 0)
		goto out;
	r->id = v;
	if (apx_strlcpy_chk(r->kind, PQgetvalue(res, 0, 1),
	    sizeof(r->kind)) != 0 ||
	    apx_strlcpy_chk(r->to_addr, PQgetvalue(res, 0, 2),
	    sizeof(r->to_addr)) != 0 ||
	    apx_strlcpy_chk(r->message_id, PQgetvalue(res, 0, 3),
	    sizeof(r->message_id)) != 0)
		goto out;
	if (!PQgetisnull(res, 0, 4) && apx_db_unhex(PQgetvalue(res, 0, 4),
	    SEALED_MAX, &r->sealed, &r->sealed_len) != 0)
		goto out;
	if (apx_parse_ll(PQgetvalue(res, 0, 5), 0, 1000000, &v) != 0)
		goto out;
	r->attempts = (int)v;
	rc = 0;
out:
	PQclear(res);
	if (rc != 0)
		apx_outbox_row_clear(r);
	return rc;
}

int
apx_outbox_sent(struct apx_db *db, int64_t id)
{
	char is[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(id, is) };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE mail_outbox SET sent_at ="
	    " now(), sealed = NULL, locked_until = NULL, last_error = NULL"
	    " WHERE id = $1::bigint", 1, p);
}

int
apx_outbox_retry(struct apx_db *db, int64_t id, int delay, const char *why)
{
	char is[APX_DB_ID_LEN], ds[APX_DB_ID_LEN];
	const char *p[3] = { apx_db_id(id, is), apx_db_id(delay, ds), why };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE mail_outbox SET"
	    " locked_until = NULL, send_after = now() + make_interval(secs =>"
	    " $2::int), last_error = left($3, 200) WHERE id = $1::bigint", 3,
	    p);
}

int
apx_outbox_purge(struct apx_db *db, int keep_days, long long ttl,
    long long *accounts)
{
	char ks[APX_DB_ID_LEN], ts[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(keep_days, ks), apx_db_id(ttl, ts) };
	long long v;
	PGresult *res;
	int rc;

	*accounts = 0;
	if ((rc = apx_db_do(db, APX_DB_RETRY, "DELETE FROM mail_outbox WHERE"
	    " sent_at < now() - make_interval(days => $1::int)", 1, p)) != 0 ||
	    (rc = apx_db_do(db, APX_DB_RETRY, "DELETE FROM account_tokens"
	    " WHERE expires_at < now() - interval '1 day'", 0, NULL)) != 0)
		return rc;
	/* Unverified, never a member of anything, older than TTL. */
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "WITH d AS (DELETE"
	    " FROM users u WHERE u.email_verified_at IS NULL AND"
	    " NOT u.is_superuser AND u.created_at < now() - make_interval(secs"
	    " => $2::bigint) AND NOT EXISTS (SELECT 1 FROM memberships m"
	    " WHERE m.user_id = u.id) RETURNING 1) SELECT count(*) FROM d"
	    " WHERE $1::int IS NOT NULL", 2, p)) != 0)
		return rc;
	if (PQntuples(res) == 1 &&
	    apx_parse_ll(PQgetvalue(res, 0, 0), 0, INT64_MAX, &v) == 0)
		*accounts = v;
	PQclear(res);
	return 0;
}

int
apx_outbox_depth(struct apx_db *db, int max, json_t **out)
{
	char ms[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(max, ms) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT json_build_object("
	    "'due', count(*) FILTER (WHERE sent_at IS NULL AND attempts <"
	    " $1::int), 'failed', count(*) FILTER (WHERE sent_at IS NULL AND"
	    " attempts >= $1::int), 'sent_24h', count(*) FILTER (WHERE"
	    " sent_at > now() - interval '1 day')) FROM mail_outbox", 1, p);
}
