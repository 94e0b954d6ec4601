/*
 * The vault: KEKs from the configuration, data keys wrapped in
 * vault_data_keys, values sealed with record.c. See vault.h.
 */
#include "config.h"

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

static struct apx_vault		*cached;
static const struct apx_conf	*cached_for;

static int	 parse_keys(struct apx_vault *, const char *, char *, size_t);

const unsigned char *
apx_vault_kek(const struct apx_vault *v, uint32_t version)
{
	size_t i;

	for (i = 0; i < v->nkeks; i++)
		if (v->keks[i].version == version)
			return v->keks[i].key;
	return NULL;
}

/* "1:BASE64 2:BASE64", separated by blanks or commas. */
static int
parse_keys(struct apx_vault *v, const char *s, char *err, size_t len)
{
	const char *p = s, *start, *colon;
	unsigned char raw[64];
	char num[16], b64[128];
	size_t n, rawlen;
	long long ver;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != ',' &&
		    *p != '\n')
			p++;
		n = (size_t)(p - start);
		colon = memchr(start, ':', n);
		if (v->nkeks == APX_VAULT_MAX_KEKS) {
			snprintf(err, len, "vault.keys: more than %d keys",
			    APX_VAULT_MAX_KEKS);
			return APX_EINVAL;
		}
		/* Errors name the position, never the key text. */
		if (colon == NULL || (size_t)(colon - start) >= sizeof(num) ||
		    n - (size_t)(colon - start) - 1 >= sizeof(b64)) {
			snprintf(err, len, "vault.keys: entry %zu is not "
			    "VERSION:BASE64", v->nkeks + 1);
			return APX_EINVAL;
		}
		memcpy(num, start, (size_t)(colon - start));
		num[colon - start] = '\0';
		memcpy(b64, colon + 1, n - (size_t)(colon - start) - 1);
		b64[n - (size_t)(colon - start) - 1] = '\0';
		if (apx_parse_ll(num, 1, 2147483647, &ver) != 0 ||
		    apx_vault_kek(v, (uint32_t)ver) != NULL) {
			apx_wipe(b64, sizeof(b64));
			snprintf(err, len, "vault.keys: entry %zu: the version "
			    "must be a unique number from 1", v->nkeks + 1);
			return APX_EINVAL;
		}
		if (sodium_base642bin(raw, sizeof(raw), b64, strlen(b64), NULL,
		    &rawlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
		    rawlen != APX_VAULT_KEY_LEN) {
			apx_wipe(b64, sizeof(b64));
			apx_wipe(raw, sizeof(raw));
			snprintf(err, len, "vault.keys: key version %lld is "
			    "not 32 bytes of base64", ver);
			return APX_EINVAL;
		}
		apx_wipe(b64, sizeof(b64));
		if ((v->keks[v->nkeks].key = sodium_malloc(APX_VAULT_KEY_LEN))
		    == NULL) {
			apx_wipe(raw, sizeof(raw));
			snprintf(err, len, "vault.keys: out of memory");
			return APX_ENOMEM;
		}
		memcpy(v->keks[v->nkeks].key, raw, APX_VAULT_KEY_LEN);
		apx_wipe(raw, sizeof(raw));
		(void)sodium_mprotect_readonly(v->keks[v->nkeks].key);
		v->keks[v->nkeks].version = (uint32_t)ver;
		v->nkeks++;
	}
	return 0;
}

int
apx_vault_new(const char *keys, long long current, int plaintext,
    struct apx_vault **out, char *err, size_t len)
{
	struct apx_vault *v;
	size_t i;
	int rc;

	*out = NULL;
	if ((v = calloc(1, sizeof(*v))) == NULL)
		return APX_ENOMEM;
	v->plaintext = plaintext;
	if (keys != NULL && (rc = parse_keys(v, keys, err, len)) != 0) {
		apx_vault_free(v);
		return rc;
	}
	for (i = 0; i < v->nkeks; i++)
		if (v->keks[i].version > v->current)
			v->current = v->keks[i].version;
	if (current > 0) {
		if (apx_vault_kek(v, (uint32_t)current) == NULL) {
			snprintf(err, len, "vault.current_version %lld is not "
			    "a version in vault.keys", current);
			apx_vault_free(v);
			return APX_EINVAL;
		}
		v->current = (uint32_t)current;
	}
	*out = v;
	return 0;
}

void
apx_vault_free(struct apx_vault *v)
{
	size_t i;

	if (v == NULL)
		return;
	/* sodium_free zeroes before it unmaps. */
	for (i = 0; i < v->nkeks; i++)
		sodium_free(v->keks[i].key);
	for (i = 0; i < v->ndeks; i++)
		sodium_free(v->deks[i].key);
	free(v);
}

int
apx_vault_get(const struct apx_conf *conf, struct apx_vault **out,
    char *err, size_t len)
{
	int rc;

	if (cached != NULL && cached_for == conf) {
		*out = cached;
		return 0;
	}
	apx_vault_release();
	if ((rc = apx_vault_new(conf->vault_keys != NULL ?
	    apx_secret_str(conf->vault_keys) : NULL, conf->vault_current,
	    conf->vault_allow_plaintext, &cached, err, len)) != 0)
		return rc == APX_ENOMEM ? rc : APX_ECONFIG;
	cached_for = conf;
	if (cached->nkeks == 0 && cached->plaintext)
		apx_log_warn("vault.allow_plaintext is on and vault.keys is "
		    "not set: secrets are stored UNENCRYPTED (development "
		    "only)");
	*out = cached;
	return 0;
}

void
apx_vault_release(void)
{
	apx_vault_free(cached);
	cached = NULL;
	cached_for = NULL;
}

uint32_t
apx_vault_current(const struct apx_vault *v)
{
	return v->nkeks > 0 ? v->current : 0;
}

int
apx_vault_plaintext(const struct apx_vault *v)
{
	return v->nkeks == 0 && v->plaintext;
}

int
apx_vault_seal(struct apx_vault *v, struct apx_db *db, const char *owner,
    const char *purpose, const char *record, const void *plain, size_t len,
    unsigned char **out, size_t *outlen)
{
	unsigned char aad[AAD_MAX];
	struct apx_vault_dek *d;
	size_t alen;
	int rc;

	*out = NULL;
	if (v->nkeks == 0) {
		if (!v->plaintext)
			return APX_ENOKEY;
		if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 0, owner,
		    purpose, record, 1)) != 0)
			return rc;
		return apx_vault_seal_raw(NULL, 0, 1, aad, alen, plain, len,
		    out, outlen);
	}
	/* The current key, and one seal of its budget. */
	if ((rc = apx_vault_dek_current(v, db, owner, purpose, 0, &d)) != 0 ||
	    (rc = apx_vault_dek_spend(v, db, owner, purpose, &d)) != 0)
		return rc;
	if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 1, owner, purpose,
	    record, d->id)) != 0)
		return rc;
	return apx_vault_seal_raw(d->key, v->current, d->id, aad, alen, plain,
	    len, out, outlen);
}

int
apx_vault_open(struct apx_vault *v, struct apx_db *db, const char *owner,
    const char *purpose, const char *record, const unsigned char *sealed,
    size_t len, unsigned char **plain, size_t *plen)
{
	struct apx_vault_record r;
	unsigned char aad[AAD_MAX];
	struct apx_vault_dek *d;
	size_t alen;
	int rc;

	*plain = NULL;
	if (apx_vault_record_parse(sealed, len, &r) != 0)
		return APX_ECRYPTO;
	if (r.format == 0) {
		/* Never a way to slip a chosen value past a keyed vault. */
		if (!apx_vault_plaintext(v))
			return APX_ECRYPTO;
		if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 0, owner,
		    purpose, record, r.dek_id)) != 0)
			return rc;
		return apx_vault_open_raw(NULL, &r, aad, alen, plain, plen);
	}
	if (v->nkeks == 0)
		return APX_ENOKEY;
	/* Whichever generation sealed it: the record names it. */
	if ((rc = apx_vault_dek_by_id(v, db, r.dek_id, owner, purpose, &d)) !=
	    0)
		return rc;
	if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 1, owner, purpose,
	    record, d->id)) != 0)
		return rc;
	return apx_vault_open_raw(d->key, &r, aad, alen, plain, plen);
}

int
apx_vault_keyed(const struct apx_conf *conf, struct apx_vault **out)
{
	char err[256];

	if (apx_vault_get(conf, out, err, sizeof(err)) != 0 ||
	    apx_vault_current(*out) == 0) {
		*out = NULL;
		return APX_ENOKEY;
	}
	return 0;
}

int
apx_vault_mac(struct apx_vault *v, struct apx_db *db, const char *owner,
    const char *purpose, const void *msg, size_t len,
    unsigned char *out)
{
	struct apx_vault_dek *d;
	int rc;

	if (v->nkeks == 0)
		return APX_ENOKEY;
	/* HMAC has no nonce: no budget to count, never rotated. */
	if ((rc = apx_vault_dek_current(v, db, owner, purpose, 1, &d)) != 0)
		return rc;
	if (crypto_auth_hmacsha256(out, msg, len, d->key) != 0)
		return APX_ECRYPTO;
	return 0;
}

int
apx_vault_forget_owner(struct apx_vault *v, struct apx_db *db,
    const char *owner)
{
	const char *p[1] = { owner };

	/* Cached copies go too (a later org may not reuse them anyway:
	 * ids are never reused). */
	apx_vault_dek_forget(v, owner);
	return apx_db_do(db, APX_DB_RETRY, "DELETE FROM vault_data_keys"
	    " WHERE owner = $1", 1, p);
}

int
apx_vault_rotate(struct apx_vault *v, struct apx_db *db, int batch,
    long long *done)
{
	char cur[16], lim[16];
	const char *p[2] = { cur, lim };
	unsigned char key[APX_VAULT_KEY_LEN], *w, *nw;
	PGresult *res;
	size_t wlen, nwlen;
	int rc, r, n;

	*done = 0;
	if (v->nkeks == 0)
		return APX_ENOKEY;
	snprintf(cur, sizeof(cur), "%u", (unsigned)v->current);
	snprintf(lim, sizeof(lim), "%d", batch);
	do {
		if ((rc = apx_db_begin(db)) != 0)
			return rc;
		/* Rows another run holds are skipped: runs may overlap. */
		if ((rc = apx_db_query(db, 0, &res, "SELECT id, owner, purpose,"
		    " wrapped FROM vault_data_keys WHERE kek_version <> $1::int"
		    " ORDER BY id LIMIT $2::int FOR UPDATE SKIP LOCKED", 2, p))
		    != 0)
			goto fail;
		n = PQntuples(res);
		for (r = 0; r < n && rc == 0; r++) {
			long long id;
			char hx[2 * 256 + 3];
			const char *q[3];

			w = nw = NULL;
			if (apx_parse_ll(PQgetvalue(res, r, 0), 1, INT64_MAX,
			    &id) != 0) {
				rc = APX_EDB;
				break;
			}
			if ((rc = apx_db_unhex(PQgetvalue(res, r, 3),
			    APX_VAULT_RECORD_MAX, &w, &wlen)) == 0 &&
			    (rc = apx_vault_dek_unwrap(v, (uint64_t)id,
			    PQgetvalue(res, r, 1), PQgetvalue(res, r, 2), w,
			    wlen, key)) == 0)
				rc = apx_vault_dek_wrap(v, (uint64_t)id,
				    PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
				    key, &nw, &nwlen);
			apx_wipe(key, sizeof(key));
			free(w);
			if (rc == 0 && nwlen * 2 + 3 > sizeof(hx))
				rc = APX_ECRYPTO;
			if (rc == 0) {
				apx_db_hex(nw, nwlen, hx);
				q[0] = PQgetvalue(res, r, 0);
				q[1] = hx;
				q[2] = cur;
				rc = apx_db_do(db, 0, "UPDATE vault_data_keys SET"
				    " wrapped = $2::bytea, kek_version = $3::int,"
				    " rotated_at = now() WHERE id = $1::bigint",
				    3, q);
			}
			free(nw);
			if (rc == 0)
				(*done)++;
		}
		PQclear(res);
		if (rc != 0 || (rc = apx_db_commit(db)) != 0)
			goto fail;
	} while (n == batch);
	return 0;
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_vault_status(struct apx_vault *v, struct apx_db *db, json_t **out)
{
	char warn[24], lim[24];
	const char *p[2] = { warn, lim };
	json_t *vers = NULL, *counts = NULL, *gens = NULL, *over;
	size_t i;
	int rc;

	*out = NULL;
	snprintf(warn, sizeof(warn), "%llu",
	    (unsigned long long)APX_VAULT_SEAL_WARN);
	snprintf(lim, sizeof(lim), "%llu",
	    (unsigned long long)APX_VAULT_SEAL_LIMIT);
	if ((rc = apx_db_json(db, APX_DB_RETRY, &counts, "SELECT coalesce("
	    "json_object_agg(kek_version::text, n), '{}') FROM (SELECT"
	    " kek_version, count(*) AS n FROM vault_data_keys GROUP BY 1) c",
	    0, NULL)) != 0)
		goto fail;
	/* Generations, and the sealing keys nearest their budget. */
	if ((rc = apx_db_json(db, APX_DB_RETRY, &gens, "SELECT"
	    " json_build_object('generations', json_build_object('current',"
	    " count(*) FILTER (WHERE superseded_at IS NULL), 'superseded',"
	    " count(*) FILTER (WHERE superseded_at IS NOT NULL AND retired_at"
	    " IS NULL), 'retired', count(*) FILTER (WHERE retired_at IS NOT"
	    " NULL)), 'seal_budget', json_build_object('warn_at', $1::bigint,"
	    " 'limit', $2::bigint, 'most_seals', coalesce(max(seals) FILTER"
	    " (WHERE superseded_at IS NULL AND NOT mac), 0), 'over_warn',"
	    " (SELECT coalesce(json_agg(w ORDER BY w.seals DESC), '[]') FROM"
	    " (SELECT k.owner, (SELECT o.slug FROM orgs o WHERE 'org:' || o.id"
	    " = k.owner) AS org, k.purpose, k.id, k.generation, k.seals FROM"
	    " vault_data_keys k WHERE k.superseded_at IS NULL AND NOT k.mac AND"
	    " k.seals >= $1::bigint ORDER BY k.seals DESC LIMIT 100) w)))"
	    " FROM vault_data_keys", 2, p)) != 0)
		goto fail;
	if (counts == NULL)
		counts = json_object();
	if (gens == NULL || counts == NULL || (vers = json_array()) == NULL) {
		rc = APX_ENOMEM;
		goto fail;
	}
	for (i = 0; i < v->nkeks; i++)
		json_array_append_new(vers, json_integer(v->keks[i].version));
	over = json_object_get(json_object_get(gens, "seal_budget"),
	    "over_warn");
	if (json_array_size(over) > 0)
		json_object_set_new(json_object_get(gens, "seal_budget"),
		    "warning", json_string("sealing data keys past the warning "
		    "mark (over_warn): run accupredix-admin vault rotate "
		    "--data-keys (--org SLUG for one org)"));
	*out = json_pack("{s:o,s:I,s:b,s:o,s:O,s:O}", "versions", vers,
	    "current", (json_int_t)apx_vault_current(v), "plaintext",
	    apx_vault_plaintext(v), "data_keys", counts, "generations",
	    json_object_get(gens, "generations"), "seal_budget",
	    json_object_get(gens, "seal_budget"));
	vers = counts = NULL;
	rc = *out != NULL ? 0 : APX_ENOMEM;
fail:
	json_decref(vers);
	json_decref(counts);
	json_decref(gens);
	return rc;
}
