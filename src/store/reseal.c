/*
 * Re-sealing values whose data key was rotated (see reseal.h). The
 * control-plane columns are rows of one table read by one walk; the
 * personal fields of a tenant database have their own walk, by the
 * coordinates their records are bound to.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/db.h"
#include "store/reseal.h"
#include "store/sso.h"
#include "store/tenant.h"
#include "vault/pii.h"
#include "vault/record.h"
#include "vault/vault.h"

/* Bytes 4 (format) and 9-16 (data key id) of a sealed record, 1-based. */
#define UNDER_OLD_KEY(col, keyid)					\
	" " col " IS NOT NULL AND substring(" col " FROM 4 FOR 1) ="	\
	" '\\x01'::bytea AND substring(" col " FROM 9 FOR 8) <>"	\
	" int8send(" keyid ")"

#define KEY_MAX		256	/* longest row key text (a kid, an id) */
#define SEALED_MAX	(64 * 1024)

/*
 * One control-plane column of sealed values. ROWS: $1 org (0: the
 * platform), $2 the key after which to go on, $3 the batch: (row key,
 * record, sealed). UPDATE: $1 row key, $2 new value, $3 the old one.
 * LEFT: $1 org: a count.
 */
struct sealed_col {
	const char	*name;
	const char	*purpose;
	int		 platform;	/* owned by the platform */
	const char	*start;		/* below every row key */
	const char	*rows;
	const char	*update;
	const char	*left;
};

#define JWT_OLD " FROM jwt_keys s JOIN vault_data_keys k ON k.owner ="	\
	" 'platform' AND k.purpose = 'jwt' AND k.superseded_at IS NULL"	\
	" WHERE $1::bigint = 0 AND" UNDER_OLD_KEY("s.private_sealed", "k.id")
#define ORG_OLD " FROM orgs s JOIN vault_data_keys k ON k.owner = 'org:'"	\
	" || s.id AND k.purpose = '" APX_TENANT_PURPOSE "' AND"		\
	" k.superseded_at IS NULL WHERE s.id = $1::bigint AND"		\
	UNDER_OLD_KEY("s.tenant_secret", "k.id")

#define SSO_OLD " FROM org_sso s JOIN vault_data_keys k ON k.owner = 'org:'"	\
	" || s.org_id AND k.purpose = '" APX_SSO_PURPOSE "' AND"	\
	" k.superseded_at IS NULL WHERE s.org_id = $1::bigint AND"	\
	UNDER_OLD_KEY("s.client_secret", "k.id")

/* Mails not sent yet (a sent mail's variables are gone). */
#define MAIL_OLD " FROM mail_outbox s JOIN vault_data_keys k ON k.owner ="	\
	" 'platform' AND k.purpose = 'mail' AND k.superseded_at IS NULL"	\
	" WHERE $1::bigint = 0 AND" UNDER_OLD_KEY("s.sealed", "k.id")

#define MFA_OLD " FROM user_mfa s JOIN vault_data_keys k ON k.owner ="	\
	" 'platform' AND k.purpose = 'mfa' AND k.superseded_at IS NULL"	\
	" WHERE $1::bigint = 0 AND" UNDER_OLD_KEY("s.secret_sealed", "k.id")

static const struct sealed_col cols[] = {
	{ "jwt_keys.private_sealed", "jwt", 1, "",
	  "SELECT s.kid, s.kid, s.private_sealed" JWT_OLD " AND s.kid > $2"
	  " ORDER BY s.kid LIMIT $3::int FOR NO KEY UPDATE OF s SKIP LOCKED",
	  "UPDATE jwt_keys SET private_sealed = $2::bytea WHERE kid = $1 AND"
	  " private_sealed = $3::bytea",
	  "SELECT count(*)" JWT_OLD },
	{ "orgs.tenant_secret", APX_TENANT_PURPOSE, 0, "0",
	  "SELECT s.id::text, s.id::text, s.tenant_secret" ORG_OLD " AND s.id"
	  " > $2::bigint ORDER BY s.id LIMIT $3::int FOR NO KEY UPDATE OF s"
	  " SKIP LOCKED",
	  "UPDATE orgs SET tenant_secret = $2::bytea WHERE id = $1::bigint AND"
	  " tenant_secret = $3::bytea",
	  "SELECT count(*)" ORG_OLD },
	{ "org_sso.client_secret", APX_SSO_PURPOSE, 0, "0",
	  "SELECT s.org_id::text, '" APX_SSO_RECORD "', s.client_secret" SSO_OLD
	  " AND s.org_id > $2::bigint ORDER BY s.org_id LIMIT $3::int FOR NO"
	  " KEY UPDATE OF s SKIP LOCKED",
	  "UPDATE org_sso SET client_secret = $2::bytea WHERE org_id ="
	  " $1::bigint AND client_secret = $3::bytea",
	  "SELECT count(*)" SSO_OLD },
	{ "user_mfa.secret_sealed", "mfa", 1, "0",
	  "SELECT s.user_id::text, s.user_id::text, s.secret_sealed" MFA_OLD
	  " AND s.user_id > $2::bigint ORDER BY s.user_id LIMIT $3::int FOR NO"
	  " KEY UPDATE OF s SKIP LOCKED",
	  "UPDATE user_mfa SET secret_sealed = $2::bytea WHERE user_id ="
	  " $1::bigint AND secret_sealed = $3::bytea",
	  "SELECT count(*)" MFA_OLD },
	{ "mail_outbox.sealed", "mail", 1, "0",
	  "SELECT s.id::text, split_part(s.message_id, '@', 1), s.sealed"
	  MAIL_OLD " AND s.id > $2::bigint ORDER BY s.id LIMIT $3::int FOR NO"
	  " KEY UPDATE OF s SKIP LOCKED",
	  "UPDATE mail_outbox SET sealed = $2::bytea WHERE id = $1::bigint AND"
	  " sealed = $3::bytea",
	  "SELECT count(*)" MAIL_OLD },
};

size_t
apx_reseal_platform_purposes(const char **out, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < APX_NELEM(cols) && n < max; i++)
		if (cols[i].platform)
			out[n++] = cols[i].purpose;
	return n;
}

static int	 count_left(struct apx_db *, const char *, int,
		    const char *const *, long long *);
static int	 reseal_value(struct apx_db *, struct apx_vault *,
		    const struct sealed_col *, const char *, const char *,
		    const char *, const char *);
static int	 reseal_col(struct apx_db *, struct apx_vault *,
		    const struct sealed_col *, int64_t, int,
		    struct apx_reseal_count *);
static int	 reseal_field(struct apx_db *, struct apx_db *,
		    struct apx_vault *, int64_t, PGresult *, int);

static int
count_left(struct apx_db *db, const char *sql, int n,
    const char *const *p, long long *left)
{
	PGresult *res;
	long long c;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, sql, n, p)) != 0)
		return rc;
	rc = apx_parse_ll(PQgetvalue(res, 0, 0), 0, INT64_MAX, &c) == 0 ? 0 :
	    APX_EDB;
	PQclear(res);
	if (rc == 0)
		*left += c;
	return rc;
}

/* Open OLD (hex) of row KEY with the key it names, seal it again with
 * the current one and store it, in the caller's transaction. */
static int
reseal_value(struct apx_db *ctl, struct apx_vault *v,
    const struct sealed_col *c, const char *owner, const char *key,
    const char *record, const char *old)
{
	unsigned char *sealed = NULL, *plain = NULL, *fresh = NULL;
	size_t n = 0, plen = 0, flen = 0;
	const char *q[3];
	char *hx = NULL;
	int rc;

	if ((rc = apx_db_unhex(old, SEALED_MAX, &sealed, &n)) != 0 ||
	    (rc = apx_vault_open(v, ctl, owner, c->purpose, record, sealed, n,
	    &plain, &plen)) != 0 ||
	    (rc = apx_vault_seal(v, ctl, owner, c->purpose, record, plain,
	    plen, &fresh, &flen)) != 0)
		goto out;
	if ((hx = malloc(2 * flen + 3)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	apx_db_hex(fresh, flen, hx);
	q[0] = key;
	q[1] = hx;
	q[2] = old;
	rc = apx_db_do(ctl, 0, c->update, 3, q);
out:
	if (rc != 0)
		apx_log_error("%s of %s, row %s: %s", c->name, owner, key,
		    apx_strerror(rc));
	if (plain != NULL)
		apx_wipe(plain, plen);
	free(plain);
	free(sealed);
	free(fresh);
	free(hx);
	return rc;
}

static int
reseal_col(struct apx_db *ctl, struct apx_vault *v,
    const struct sealed_col *c, int64_t org, int batch,
    struct apx_reseal_count *n)
{
	char orgs[APX_DB_ID_LEN], lim[16], after[KEY_MAX], owner[32];
	const char *p[3] = { orgs, after, lim };
	PGresult *res = NULL;
	int i, got, rc;

	if (c->platform != (org == 0))
		return 0;
	if (org == 0)
		snprintf(owner, sizeof(owner), "platform");
	else
		apx_tenant_owner(org, owner, sizeof(owner));
	apx_db_id(org, orgs);
	snprintf(lim, sizeof(lim), "%d", batch);
	snprintf(after, sizeof(after), "%s", c->start);
	do {
		if ((rc = apx_db_begin(ctl)) != 0)
			return rc;
		if ((rc = apx_db_query(ctl, 0, &res, c->rows, 3, p)) != 0)
			goto fail;
		got = PQntuples(res);
		for (i = 0; i < got; i++) {
			if ((rc = reseal_value(ctl, v, c, owner,
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 2))) != 0)
				goto fail;
			if ((rc = apx_strlcpy_chk(after, PQgetvalue(res, i, 0),
			    sizeof(after))) != 0)
				goto fail;
		}
		PQclear(res);
		res = NULL;
		if ((rc = apx_db_commit(ctl)) != 0)
			return rc;
		n->resealed += got;
	} while (got == batch);
	return count_left(ctl, c->left, 1, p, &n->left);
fail:
	PQclear(res);
	apx_db_rollback(ctl);
	return rc;
}

int
apx_reseal_control(struct apx_db *ctl, struct apx_vault *v, int64_t org,
    int batch, struct apx_reseal_count *n)
{
	size_t i;
	int rc;

	for (i = 0; i < APX_NELEM(cols); i++)
		if ((rc = reseal_col(ctl, v, &cols[i], org, batch, n)) != 0)
			return rc;
	return 0;
}

#define PII_OLD " FROM upload_personal WHERE" UNDER_OLD_KEY("sealed",	\
	"$1::bigint")

/* Row I of RES (upload_id, row_no, column_name, sealed) sealed again
 * with the current "pii" key of ORG, in T's transaction. */
static int
reseal_field(struct apx_db *t, struct apx_db *ctl, struct apx_vault *v,
    int64_t org, PGresult *res, int i)
{
	unsigned char *sealed = NULL, *fresh = NULL;
	char *plain = NULL, *hx = NULL;
	size_t n = 0, plen = 0, flen = 0;
	long long up, row;
	const char *q[4];
	int rc;

	if (apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX, &up) != 0 ||
	    apx_parse_ll(PQgetvalue(res, i, 1), 1, INT32_MAX, &row) != 0)
		return APX_EDB;
	if ((rc = apx_db_unhex(PQgetvalue(res, i, 3), SEALED_MAX, &sealed,
	    &n)) != 0 ||
	    (rc = apx_pii_open(v, ctl, org, up, row, PQgetvalue(res, i, 2),
	    sealed, n, &plain, &plen)) != 0 ||
	    (rc = apx_pii_seal(v, ctl, org, up, row, PQgetvalue(res, i, 2),
	    plain, plen, &fresh, &flen)) != 0)
		goto out;
	if ((hx = malloc(2 * flen + 3)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	apx_db_hex(fresh, flen, hx);
	q[0] = PQgetvalue(res, i, 0);
	q[1] = PQgetvalue(res, i, 1);
	q[2] = PQgetvalue(res, i, 2);
	q[3] = hx;
	rc = apx_db_do(t, 0, "UPDATE upload_personal SET sealed = $4::bytea"
	    " WHERE upload_id = $1::bigint AND row_no = $2::int AND"
	    " column_name = $3", 4, q);
out:
	/* Never the value, nor the column (a header may be personal). */
	if (rc != 0)
		apx_log_error("org %lld: a personal field of upload %lld: %s",
		    (long long)org, up, apx_strerror(rc));
	if (plain != NULL)
		apx_wipe(plain, plen);
	free(plain);
	free(sealed);
	free(fresh);
	free(hx);
	return rc;
}

int
apx_reseal_pii(struct apx_db *t, struct apx_db *ctl, struct apx_vault *v,
    int64_t org, int batch, struct apx_reseal_count *n)
{
	char owner[32], cur[APX_DB_ID_LEN], up[APX_DB_ID_LEN], row[16];
	char lim[16], col[KEY_MAX];
	const char *p[5] = { cur, up, row, col, lim };
	PGresult *res = NULL;
	uint64_t id;
	int i, got, rc;

	apx_tenant_owner(org, owner, sizeof(owner));
	if ((rc = apx_vault_current_id(ctl, owner, APX_PII_PURPOSE, &id)) ==
	    APX_ENOTFOUND)
		return 0;		/* it never sealed a field */
	if (rc != 0)
		return rc;
	snprintf(cur, sizeof(cur), "%llu", (unsigned long long)id);
	snprintf(lim, sizeof(lim), "%d", batch);
	snprintf(up, sizeof(up), "0");
	snprintf(row, sizeof(row), "0");
	col[0] = '\0';
	do {
		if ((rc = apx_db_begin(t)) != 0)
			return rc;
		if ((rc = apx_db_query(t, 0, &res, "SELECT upload_id, row_no,"
		    " column_name, sealed" PII_OLD " AND (upload_id, row_no,"
		    " column_name) > ($2::bigint, $3::int, $4) ORDER BY"
		    " upload_id, row_no, column_name LIMIT $5::int FOR UPDATE"
		    " SKIP LOCKED", 5, p)) != 0)
			goto fail;
		got = PQntuples(res);
		for (i = 0; i < got; i++) {
			if ((rc = reseal_field(t, ctl, v, org, res, i)) != 0)
				goto fail;
			if ((rc = apx_strlcpy_chk(up, PQgetvalue(res, i, 0),
			    sizeof(up))) != 0 || (rc = apx_strlcpy_chk(row,
			    PQgetvalue(res, i, 1), sizeof(row))) != 0 ||
			    (rc = apx_strlcpy_chk(col, PQgetvalue(res, i, 2),
			    sizeof(col))) != 0)
				goto fail;
		}
		PQclear(res);
		res = NULL;
		if ((rc = apx_db_commit(t)) != 0)
			return rc;
		n->resealed += got;
	} while (got == batch);
	return count_left(t, "SELECT count(*)" PII_OLD, 1, p, &n->left);
fail:
	PQclear(res);
	apx_db_rollback(t);
	return rc;
}

int
apx_reseal_orgs(struct apx_db *ctl, const char *slug, PGresult **res)
{
	const char *p[1] = { slug != NULL ? slug : "" };

	return apx_db_query(ctl, APX_DB_RETRY, res, "SELECT o.id, o.slug,"
	    " EXISTS (SELECT 1 FROM vault_data_keys k WHERE k.owner = 'org:' ||"
	    " o.id AND k.purpose = '" APX_PII_PURPOSE "') FROM orgs o WHERE"
	    " o.status = 'active' AND ($1 = '' OR o.slug = $1) ORDER BY o.id",
	    1, p);
}
