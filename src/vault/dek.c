/*
 * Data keys (see vault_int.h): unwrapped into a small per-process cache,
 * several generations per owner and purpose (one current), a seal budget
 * counted in blocks (budget.h), new generations made by rotation or when
 * a budget is spent.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/db.h"
#include "vault/budget.h"
#include "vault/record.h"
#include "vault/vault_int.h"

#define AAD_MAX		1024
/* Hex text of a wrapped data key, "\x" and NUL included. */
#define WRAPPED_HEX	(2 * (APX_VAULT_HDR_LEN + APX_VAULT_NONCE_LEN + \
	APX_VAULT_KEY_LEN + APX_VAULT_TAG_LEN) + 3)

static struct apx_vault_dek *dek_find(struct apx_vault *, uint64_t,
		    const char *, const char *);
static struct apx_vault_dek *dek_find_current(struct apx_vault *,
		    const char *, const char *);
static int	 dek_keep(struct apx_vault *, uint64_t, const char *,
		    const char *, const unsigned char *, struct apx_vault_dek **);
static int	 dek_take(struct apx_vault *, const char *, const char *,
		    const char *, const char *, struct apx_vault_dek **);
static int	 dek_new(struct apx_vault *, struct apx_db *, const char *,
		    const char *, char *, char *);
static int	 dek_create(struct apx_vault *, struct apx_db *, const char *,
		    const char *, int);
static int	 dek_supersede(struct apx_vault *, struct apx_db *, uint64_t,
		    const char *, const char *, json_t *);
static int	 dek_spent(struct apx_vault *, struct apx_db *, struct apx_vault_dek *);
static void	 dek_warn(struct apx_vault_dek *, uint64_t);

static struct apx_vault_dek *
dek_find(struct apx_vault *v, uint64_t id, const char *owner,
    const char *purpose)
{
	size_t i;

	for (i = 0; i < v->ndeks; i++) {
		struct apx_vault_dek *d = &v->deks[i];

		if (d->id == id && strcmp(d->owner, owner) == 0 &&
		    strcmp(d->purpose, purpose) == 0)
			return d;
	}
	return NULL;
}

static struct apx_vault_dek *
dek_find_current(struct apx_vault *v, const char *owner, const char *purpose)
{
	size_t i;

	for (i = 0; i < v->ndeks; i++) {
		struct apx_vault_dek *d = &v->deks[i];

		if (d->current && d->id != 0 && strcmp(d->owner, owner) == 0 &&
		    strcmp(d->purpose, purpose) == 0)
			return d;
	}
	return NULL;
}

/* Cache KEY as data key ID (the oldest entry goes when full). */
static int
dek_keep(struct apx_vault *v, uint64_t id, const char *owner,
    const char *purpose, const unsigned char *key, struct apx_vault_dek **out)
{
	struct apx_vault_dek *d;

	*out = NULL;
	if (strlen(owner) >= sizeof(d->owner) ||
	    strlen(purpose) >= sizeof(d->purpose))
		return APX_EINVAL;
	if (v->ndeks < APX_VAULT_DEK_CACHE)
		d = &v->deks[v->ndeks++];
	else {
		/* What it had reserved is lost: an over-count, harmless. */
		d = &v->deks[v->next];
		v->next = (v->next + 1) % APX_VAULT_DEK_CACHE;
		sodium_free(d->key);
	}
	memset(d, 0, sizeof(*d));
	if ((d->key = sodium_malloc(APX_VAULT_KEY_LEN)) == NULL)
		return APX_ENOMEM;
	memcpy(d->key, key, APX_VAULT_KEY_LEN);
	d->id = id;
	snprintf(d->owner, sizeof(d->owner), "%s", owner);
	snprintf(d->purpose, sizeof(d->purpose), "%s", purpose);
	*out = d;
	return 0;
}

/* Unwrap data key IDS (text) of OWNER/PURPOSE from WRAPPED (a bytea's
 * hex text) into the cache. */
static int
dek_take(struct apx_vault *v, const char *ids, const char *owner,
    const char *purpose, const char *wrapped, struct apx_vault_dek **out)
{
	unsigned char key[APX_VAULT_KEY_LEN], *w = NULL;
	long long id;
	size_t wlen;
	int rc;

	*out = NULL;
	if (apx_parse_ll(ids, 1, INT64_MAX, &id) != 0)
		return APX_EDB;
	if ((*out = dek_find(v, (uint64_t)id, owner, purpose)) != NULL)
		return 0;
	if ((rc = apx_db_unhex(wrapped, APX_VAULT_RECORD_MAX, &w, &wlen)) == 0
	    && (rc = apx_vault_dek_unwrap(v, (uint64_t)id, owner, purpose, w,
	    wlen, key)) == 0)
		rc = dek_keep(v, (uint64_t)id, owner, purpose, key, out);
	apx_wipe(key, sizeof(key));
	free(w);
	return rc;
}

/* A data key is itself a sealed record: owner, purpose "dek", its id. */
int
apx_vault_dek_unwrap(struct apx_vault *v, uint64_t id, const char *owner,
    const char *purpose, const unsigned char *w, size_t wlen,
    unsigned char *key)
{
	struct apx_vault_record r;
	unsigned char aad[AAD_MAX], *plain = NULL;
	const unsigned char *kek;
	size_t alen, plen;
	int rc;

	if (apx_vault_record_parse(w, wlen, &r) != 0 || r.format != 1 ||
	    r.dek_id != id)
		return APX_ECRYPTO;
	if ((kek = apx_vault_kek(v, r.kek_version)) == NULL) {
		apx_log_error("data key %llu is wrapped by KEK version %u, "
		    "which vault.keys does not hold", (unsigned long long)id,
		    (unsigned)r.kek_version);
		return APX_ENOKEY;
	}
	if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 1, owner,
	    APX_VAULT_DEK_PURPOSE, purpose, id)) != 0)
		return rc;
	if ((rc = apx_vault_open_raw(kek, &r, aad, alen, &plain, &plen)) != 0)
		return rc;
	if (plen != APX_VAULT_KEY_LEN)
		rc = APX_ECRYPTO;
	else
		memcpy(key, plain, APX_VAULT_KEY_LEN);
	apx_wipe(plain, plen);
	free(plain);
	return rc;
}

int
apx_vault_dek_wrap(struct apx_vault *v, uint64_t id, const char *owner,
    const char *purpose, const unsigned char *key, unsigned char **out,
    size_t *outlen)
{
	unsigned char aad[AAD_MAX];
	size_t alen;
	int rc;

	if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 1, owner,
	    APX_VAULT_DEK_PURPOSE, purpose, id)) != 0)
		return rc;
	return apx_vault_seal_raw(apx_vault_kek(v, v->current), v->current, id,
	    aad, alen, key, APX_VAULT_KEY_LEN, out, outlen);
}

/*
 * A fresh random data key of OWNER/PURPOSE, wrapped under the current KEK
 * with a new id from the sequence (its wrapping names it): IDS gets the
 * id (APX_DB_ID_LEN), HX the wrapped key as bytea hex (WRAPPED_HEX).
 */
static int
dek_new(struct apx_vault *v, struct apx_db *db, const char *owner,
    const char *purpose, char *ids, char *hx)
{
	unsigned char key[APX_VAULT_KEY_LEN], *w = NULL;
	PGresult *res;
	long long id;
	size_t wlen;
	int rc;

	if ((rc = apx_db_query(db, 0, &res, "SELECT nextval("
	    "'vault_data_keys_id_seq')", 0, NULL)) != 0)
		return rc;
	rc = apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &id);
	PQclear(res);
	if (rc != 0)
		return APX_EDB;
	apx_random(key, sizeof(key));
	rc = apx_vault_dek_wrap(v, (uint64_t)id, owner, purpose, key, &w,
	    &wlen);
	apx_wipe(key, sizeof(key));
	if (rc != 0)
		return rc;
	if (2 * wlen + 3 > WRAPPED_HEX)
		rc = APX_ECRYPTO;
	else {
		apx_db_hex(w, wlen, hx);
		snprintf(ids, APX_DB_ID_LEN, "%lld", id);
	}
	free(w);
	return rc;
}

/* The first data key of OWNER/PURPOSE. Two processes may race: the
 * first row wins and both use it (the caller reads it back). */
static int
dek_create(struct apx_vault *v, struct apx_db *db, const char *owner,
    const char *purpose, int mac)
{
	char ids[APX_DB_ID_LEN], hx[WRAPPED_HEX], cur[16];
	const char *p[6] = { owner, purpose, ids, hx, cur, mac ? "t" : "f" };
	int rc;

	if ((rc = dek_new(v, db, owner, purpose, ids, hx)) != 0)
		return rc;
	snprintf(cur, sizeof(cur), "%u", (unsigned)v->current);
	return apx_db_do(db, 0, "INSERT INTO vault_data_keys (id, owner,"
	    " purpose, wrapped, kek_version, mac, generation) SELECT"
	    " $3::bigint, $1, $2, $4::bytea, $5::int, $6::boolean, coalesce("
	    "max(generation), 0) + 1 FROM vault_data_keys WHERE owner = $1 AND"
	    " purpose = $2 ON CONFLICT (owner, purpose) WHERE superseded_at IS"
	    " NULL DO NOTHING", 6, p);
}

int
apx_vault_dek_current(struct apx_vault *v, struct apx_db *db,
    const char *owner, const char *purpose, int mac, struct apx_vault_dek **out)
{
	const char *p[2] = { owner, purpose };
	uint64_t now = apx_now_us();
	PGresult *res;
	struct apx_vault_dek *was, *d;
	int rc, attempt, ismac;

	*out = NULL;
	was = dek_find_current(v, owner, purpose);
	if (was != NULL && !apx_vault_recheck_due(now, was->checked)) {
		*out = was;
		return 0;
	}
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT id,"
		    " wrapped, mac FROM vault_data_keys WHERE owner = $1 AND"
		    " purpose = $2 AND superseded_at IS NULL", 2, p)) != 0) {
			/* Unconfirmed is still usable: an older generation
			 * opens, and a re-seal moves what it sealed. */
			if (was == NULL)
				return rc;
			*out = was;
			return 0;
		}
		if (PQntuples(res) == 1) {
			ismac = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
			if (ismac != (mac != 0)) {
				PQclear(res);
				apx_log_error("data key of %s/%s: %s key asked "
				    "for, the table holds the other kind", owner,
				    purpose, mac ? "an HMAC" : "a sealing");
				return APX_ECRYPTO;
			}
			/* Replaced: the old one stays cached for opening. */
			if (was != NULL)
				was->current = 0;
			rc = dek_take(v, PQgetvalue(res, 0, 0), owner, purpose,
			    PQgetvalue(res, 0, 1), &d);
			PQclear(res);
			if (rc != 0)
				return rc;
			d->mac = ismac;
			d->current = 1;
			d->checked = now;
			*out = d;
			return 0;
		}
		PQclear(res);
		if ((rc = dek_create(v, db, owner, purpose, mac)) != 0)
			return rc;
	}
	return APX_ECRYPTO;
}

int
apx_vault_dek_by_id(struct apx_vault *v, struct apx_db *db, uint64_t id,
    const char *owner, const char *purpose, struct apx_vault_dek **out)
{
	char ids[APX_DB_ID_LEN];
	const char *p[3] = { ids, owner, purpose };
	PGresult *res;
	int rc;

	if ((*out = dek_find(v, id, owner, purpose)) != NULL)
		return 0;
	snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT wrapped FROM"
	    " vault_data_keys WHERE id = $1::bigint AND owner = $2 AND"
	    " purpose = $3", 3, p)) != 0)
		return rc;
	/* No such key (another owner's, or forgotten): does not open. */
	rc = PQntuples(res) == 1 ? dek_take(v, ids, owner, purpose,
	    PQgetvalue(res, 0, 0), out) : APX_ECRYPTO;
	PQclear(res);
	return rc;
}

/*
 * Replace data key OLD of OWNER/PURPOSE by a new generation, in one
 * statement, if it is still the current one (another process may have
 * done it first: then nothing happens). MADE, if not NULL, gets
 * {purpose, id, generation, replaces} of a key made.
 */
static int
dek_supersede(struct apx_vault *v, struct apx_db *db, uint64_t old,
    const char *owner, const char *purpose, json_t *made)
{
	char ids[APX_DB_ID_LEN], olds[APX_DB_ID_LEN], hx[WRAPPED_HEX], cur[16];
	const char *p[6] = { olds, owner, purpose, ids, hx, cur };
	PGresult *res;
	struct apx_vault_dek *d;
	long long gen, id;
	int rc;

	if ((rc = dek_new(v, db, owner, purpose, ids, hx)) != 0)
		return rc;
	snprintf(olds, sizeof(olds), "%llu", (unsigned long long)old);
	snprintf(cur, sizeof(cur), "%u", (unsigned)v->current);
	if ((rc = apx_db_query(db, 0, &res, "WITH old AS (UPDATE"
	    " vault_data_keys SET superseded_at = now() WHERE id = $1::bigint"
	    " AND owner = $2 AND purpose = $3 AND superseded_at IS NULL"
	    " RETURNING generation, mac) INSERT INTO vault_data_keys (id,"
	    " owner, purpose, wrapped, kek_version, mac, generation) SELECT"
	    " $4::bigint, $2, $3, $5::bytea, $6::int, mac, generation + 1"
	    " FROM old RETURNING generation", 6, p)) != 0)
		return rc;
	if (PQntuples(res) == 1 && made != NULL &&
	    apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT32_MAX, &gen) == 0 &&
	    apx_parse_ll(ids, 1, INT64_MAX, &id) == 0)
		rc = json_array_append_new(made, json_pack("{s:s,s:I,s:I,s:I}",
		    "purpose", purpose, "id", (json_int_t)id, "generation",
		    (json_int_t)gen, "replaces", (json_int_t)old)) == 0 ? 0 :
		    APX_ENOMEM;
	PQclear(res);
	/* This process seals with the new one from its next seal on. */
	if ((d = dek_find(v, old, owner, purpose)) != NULL)
		d->current = 0;
	return rc;
}

/* Current key D could not reserve: replaced elsewhere, or its budget is
 * spent (then it is replaced here). */
static int
dek_spent(struct apx_vault *v, struct apx_db *db, struct apx_vault_dek *d)
{
	char ids[APX_DB_ID_LEN];
	const char *p[1] = { ids };
	char owner[sizeof(d->owner)], purpose[sizeof(d->purpose)];
	PGresult *res;
	long long seals = 0;
	uint64_t id = d->id;
	int rc, current;

	snprintf(ids, sizeof(ids), "%llu", (unsigned long long)id);
	snprintf(owner, sizeof(owner), "%s", d->owner);
	snprintf(purpose, sizeof(purpose), "%s", d->purpose);
	d->current = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT superseded_at"
	    " IS NULL, seals FROM vault_data_keys WHERE id = $1::bigint", 1,
	    p)) != 0)
		return rc;
	current = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") ==
	    0;
	if (current)
		(void)apx_parse_ll(PQgetvalue(res, 0, 1), 0, INT64_MAX, &seals);
	PQclear(res);
	if (!current)
		return 0;
	apx_log_warn("data key %llu of %s/%s has used its seal budget (%lld "
	    "seals counted, limit %llu): a new generation takes over now; "
	    "run accupredix-admin vault rotate --data-keys --resume to "
	    "re-seal what the old one sealed", (unsigned long long)id, owner,
	    purpose, seals, (unsigned long long)APX_VAULT_SEAL_LIMIT);
	return dek_supersede(v, db, id, owner, purpose, NULL);
}

static void
dek_warn(struct apx_vault_dek *d, uint64_t seals)
{
	if (d->warned || apx_vault_budget_level(seals) == APX_VAULT_BUDGET_OK)
		return;
	d->warned = 1;
	apx_log_warn("data key %llu of %s/%s has %llu seals counted, past "
	    "the warning mark of %llu (random 96-bit nonces allow about 2^32 "
	    "under one key; at %llu a new key takes over): run "
	    "accupredix-admin vault rotate --data-keys",
	    (unsigned long long)d->id, d->owner, d->purpose,
	    (unsigned long long)seals,
	    (unsigned long long)APX_VAULT_SEAL_WARN,
	    (unsigned long long)APX_VAULT_SEAL_LIMIT);
}

int
apx_vault_dek_spend(struct apx_vault *v, struct apx_db *db, const char *owner,
    const char *purpose, struct apx_vault_dek **dp)
{
	char ids[APX_DB_ID_LEN], blk[16], lim[24];
	const char *p[3] = { ids, blk, lim };
	PGresult *res;
	struct apx_vault_dek *d = *dp;
	uint32_t block;
	long long seals;
	int rc, attempt, got;

	for (attempt = 0; attempt < 4; attempt++) {
		if (d->left > 0) {
			d->left--;
			*dp = d;
			return 0;
		}
		block = apx_vault_block_next(d->block);
		snprintf(ids, sizeof(ids), "%llu", (unsigned long long)d->id);
		snprintf(blk, sizeof(blk), "%u", (unsigned)block);
		snprintf(lim, sizeof(lim), "%llu",
		    (unsigned long long)APX_VAULT_SEAL_LIMIT);
		/* Counted before use; never past the limit; only while it
		 * is the current key. */
		if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "UPDATE"
		    " vault_data_keys SET seals = seals + $2::bigint WHERE id ="
		    " $1::bigint AND superseded_at IS NULL AND seals <="
		    " $3::bigint - $2::bigint RETURNING seals", 3, p)) != 0)
			return rc;
		got = PQntuples(res) == 1 && apx_parse_ll(PQgetvalue(res, 0, 0),
		    0, INT64_MAX, &seals) == 0;
		PQclear(res);
		if (got) {
			d->block = block;
			d->left = block;
			dek_warn(d, (uint64_t)seals);
			continue;
		}
		if ((rc = dek_spent(v, db, d)) != 0 ||
		    (rc = apx_vault_dek_current(v, db, owner, purpose, 0, &d))
		    != 0)
			return rc;
	}
	apx_log_error("no seal budget for a data key of %s/%s", owner, purpose);
	return APX_ECRYPTO;
}

void
apx_vault_dek_forget(struct apx_vault *v, const char *owner)
{
	size_t i;

	for (i = 0; v != NULL && i < v->ndeks; i++) {
		if (strcmp(v->deks[i].owner, owner) != 0)
			continue;
		sodium_memzero(v->deks[i].key, APX_VAULT_KEY_LEN);
		v->deks[i].owner[0] = '\0';
		v->deks[i].id = 0;
		v->deks[i].current = 0;
		v->deks[i].left = 0;
	}
}

int
apx_vault_rotate_owner(struct apx_vault *v, struct apx_db *db,
    const char *owner, json_t *made)
{
	const char *p[1] = { owner };
	PGresult *res;
	long long id;
	int i, rc = 0;

	if (v->nkeks == 0)
		return APX_ENOKEY;
	if ((rc = apx_db_query(db, 0, &res, "SELECT id, purpose FROM"
	    " vault_data_keys WHERE owner = $1 AND superseded_at IS NULL AND"
	    " NOT mac ORDER BY purpose", 1, p)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res) && rc == 0; i++)
		rc = apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX, &id) != 0 ?
		    APX_EDB : dek_supersede(v, db, (uint64_t)id, owner,
		    PQgetvalue(res, i, 1), made);
	PQclear(res);
	return rc;
}

int
apx_vault_current_id(struct apx_db *db, const char *owner,
    const char *purpose, uint64_t *id)
{
	const char *p[2] = { owner, purpose };
	PGresult *res;
	long long got;
	int rc;

	*id = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT id FROM"
	    " vault_data_keys WHERE owner = $1 AND purpose = $2 AND"
	    " superseded_at IS NULL", 2, p)) != 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = APX_ENOTFOUND;
	else if (apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &got) != 0)
		rc = APX_EDB;
	else
		*id = (uint64_t)got;
	PQclear(res);
	return rc;
}

int
apx_vault_retire(struct apx_db *db, const char *owner, const char *purpose,
    long long *n)
{
	const char *p[2] = { owner, purpose };
	PGresult *res;
	int rc;

	*n = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "UPDATE vault_data_keys"
	    " SET retired_at = now() WHERE owner = $1 AND purpose = $2 AND"
	    " superseded_at IS NOT NULL AND retired_at IS NULL", 2, p)) != 0)
		return rc;
	(void)apx_parse_ll(PQcmdTuples(res), 0, INT64_MAX, n);
	PQclear(res);
	return 0;
}
