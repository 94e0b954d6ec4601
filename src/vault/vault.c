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
#include "vault/record.h"
#include "vault/vault.h"

#define DEK_CACHE	32
#define AAD_MAX		1024
#define DEK_PURPOSE	"dek"

struct kek {
	uint32_t	 version;
	unsigned char	*key;		/* sodium_malloc: locked, guarded */
};

struct dek {
	uint64_t	 id;
	char		 owner[32];
	char		 purpose[40];
	unsigned char	*key;		/* sodium_malloc */
};

struct apx_vault {
	struct kek	 keks[APX_VAULT_MAX_KEKS];
	size_t		 nkeks;
	uint32_t	 current;
	int		 plaintext;
	struct dek	 deks[DEK_CACHE];
	size_t		 ndeks, next;
};

static struct apx_vault		*cached;
static const struct apx_conf	*cached_for;

static const unsigned char *kek_of(const struct apx_vault *, uint32_t);
static int	 parse_keys(struct apx_vault *, const char *, char *, size_t);
static struct dek *dek_find(struct apx_vault *, uint64_t, const char *,
		    const char *);
static int	 dek_keep(struct apx_vault *, uint64_t, const char *,
		    const char *, const unsigned char *);
static int	 dek_load(struct apx_vault *, struct apx_db *, uint64_t,
		    const char *, const char *, int, struct dek **);
static int	 dek_unwrap(struct apx_vault *, uint64_t, const char *,
		    const char *, const unsigned char *, size_t,
		    unsigned char *);
static int	 dek_wrap(struct apx_vault *, uint64_t, const char *,
		    const char *, const unsigned char *, unsigned char **,
		    size_t *);

static const unsigned char *
kek_of(const struct apx_vault *v, uint32_t version)
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
		    kek_of(v, (uint32_t)ver) != NULL) {
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
		if (kek_of(v, (uint32_t)current) == NULL) {
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

static struct dek *
dek_find(struct apx_vault *v, uint64_t id, const char *owner,
    const char *purpose)
{
	size_t i;

	for (i = 0; i < v->ndeks; i++) {
		struct dek *d = &v->deks[i];

		if ((id == 0 || d->id == id) && strcmp(d->owner, owner) == 0 &&
		    strcmp(d->purpose, purpose) == 0)
			return d;
	}
	return NULL;
}

static int
dek_keep(struct apx_vault *v, uint64_t id, const char *owner,
    const char *purpose, const unsigned char *key)
{
	struct dek *d;

	if (strlen(owner) >= sizeof(d->owner) ||
	    strlen(purpose) >= sizeof(d->purpose))
		return APX_EINVAL;
	if (v->ndeks < DEK_CACHE)
		d = &v->deks[v->ndeks++];
	else {
		d = &v->deks[v->next];
		v->next = (v->next + 1) % DEK_CACHE;
		sodium_free(d->key);
	}
	if ((d->key = sodium_malloc(APX_VAULT_KEY_LEN)) == NULL) {
		memset(d, 0, sizeof(*d));
		return APX_ENOMEM;
	}
	memcpy(d->key, key, APX_VAULT_KEY_LEN);
	d->id = id;
	snprintf(d->owner, sizeof(d->owner), "%s", owner);
	snprintf(d->purpose, sizeof(d->purpose), "%s", purpose);
	return 0;
}

/* A data key is itself a sealed record: owner, purpose "dek", its id. */
static int
dek_unwrap(struct apx_vault *v, uint64_t id, const char *owner,
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
	if ((kek = kek_of(v, r.kek_version)) == NULL) {
		apx_log_error("data key %llu is wrapped by KEK version %u, "
		    "which vault.keys does not hold", (unsigned long long)id,
		    (unsigned)r.kek_version);
		return APX_ENOKEY;
	}
	if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 1, owner, DEK_PURPOSE,
	    purpose, id)) != 0)
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

static int
dek_wrap(struct apx_vault *v, uint64_t id, const char *owner,
    const char *purpose, const unsigned char *key, unsigned char **out,
    size_t *outlen)
{
	unsigned char aad[AAD_MAX];
	size_t alen;
	int rc;

	if ((rc = apx_vault_aad(aad, sizeof(aad), &alen, 1, owner, DEK_PURPOSE,
	    purpose, id)) != 0)
		return rc;
	return apx_vault_seal_raw(kek_of(v, v->current), v->current, id, aad,
	    alen, key, APX_VAULT_KEY_LEN, out, outlen);
}

/*
 * The data key of OWNER/PURPOSE (ID 0: whichever it is), from the cache
 * or the table; CREATE makes one under the current KEK when there is none.
 */
static int
dek_load(struct apx_vault *v, struct apx_db *db, uint64_t id,
    const char *owner, const char *purpose, int create, struct dek **out)
{
	unsigned char key[APX_VAULT_KEY_LEN], *w = NULL;
	char ids[24], hx[2 * (APX_VAULT_HDR_LEN + APX_VAULT_NONCE_LEN +
	    APX_VAULT_KEY_LEN + APX_VAULT_TAG_LEN) + 3];
	const char *p[2] = { owner, purpose };
	PGresult *res;
	long long got;
	size_t wlen;
	int rc, attempt;

	if ((*out = dek_find(v, id, owner, purpose)) != NULL)
		return 0;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT id,"
		    " wrapped FROM vault_data_keys WHERE owner = $1 AND"
		    " purpose = $2", 2, p)) != 0)
			return rc;
		if (PQntuples(res) == 1) {
			rc = apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX,
			    &got) != 0 || (id != 0 && (uint64_t)got != id) ?
			    APX_ECRYPTO : apx_db_unhex(PQgetvalue(res, 0, 1),
			    APX_VAULT_RECORD_MAX, &w, &wlen);
			PQclear(res);
			if (rc == 0)
				rc = dek_unwrap(v, (uint64_t)got, owner,
				    purpose, w, wlen, key);
			free(w);
			if (rc == 0)
				rc = dek_keep(v, (uint64_t)got, owner, purpose,
				    key);
			apx_wipe(key, sizeof(key));
			if (rc == 0)
				*out = dek_find(v, (uint64_t)got, owner,
				    purpose);
			return rc;
		}
		PQclear(res);
		if (!create || id != 0)
			return APX_ECRYPTO;
		/* A new data key: its id first, for the wrapping's AAD. */
		if ((rc = apx_db_query(db, 0, &res, "SELECT nextval("
		    "'vault_data_keys_id_seq')", 0, NULL)) != 0)
			return rc;
		rc = apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &got);
		PQclear(res);
		if (rc != 0)
			return APX_EDB;
		apx_random(key, sizeof(key));
		rc = dek_wrap(v, (uint64_t)got, owner, purpose, key, &w, &wlen);
		apx_wipe(key, sizeof(key));
		if (rc != 0)
			return rc;
		if (wlen * 2 + 3 > sizeof(hx)) {
			free(w);
			return APX_ECRYPTO;
		}
		apx_db_hex(w, wlen, hx);
		free(w);
		snprintf(ids, sizeof(ids), "%lld", got);
		{
			const char *q[5] = { owner, purpose, ids, hx, NULL };
			char cur[16];

			snprintf(cur, sizeof(cur), "%u", (unsigned)v->current);
			q[4] = cur;
			/* Two workers may race: the first row wins and both
			 * use it (the loop reads it back). */
			if ((rc = apx_db_do(db, 0, "INSERT INTO vault_data_keys"
			    " (id, owner, purpose, wrapped, kek_version) VALUES"
			    " ($3::bigint, $1, $2, $4::bytea, $5::int) ON"
			    " CONFLICT (owner, purpose) DO NOTHING", 5, q)) !=
			    0)
				return rc;
		}
	}
	return APX_ECRYPTO;
}

int
apx_vault_seal(struct apx_vault *v, struct apx_db *db, const char *owner,
    const char *purpose, const char *record, const void *plain, size_t len,
    unsigned char **out, size_t *outlen)
{
	unsigned char aad[AAD_MAX];
	struct dek *d;
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
	if ((rc = dek_load(v, db, 0, owner, purpose, 1, &d)) != 0)
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
	struct dek *d;
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
	if ((rc = dek_load(v, db, r.dek_id, owner, purpose, 0, &d)) != 0)
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
	struct dek *d;
	int rc;

	if (v->nkeks == 0)
		return APX_ENOKEY;
	if ((rc = dek_load(v, db, 0, owner, purpose, 1, &d)) != 0)
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
	size_t i;

	/* Cached copies go too (a later org may not reuse them anyway:
	 * ids are never reused). */
	for (i = 0; v != NULL && i < v->ndeks; i++) {
		if (strcmp(v->deks[i].owner, owner) != 0)
			continue;
		sodium_memzero(v->deks[i].key, APX_VAULT_KEY_LEN);
		v->deks[i].owner[0] = '\0';
		v->deks[i].id = 0;
	}
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
			    APX_VAULT_RECORD_MAX, &w, &wlen)) == 0 && (rc = dek_unwrap(v, (uint64_t)id,
			    PQgetvalue(res, r, 1), PQgetvalue(res, r, 2), w,
			    wlen, key)) == 0)
				rc = dek_wrap(v, (uint64_t)id,
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
	json_t *vers, *counts = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if ((rc = apx_db_json(db, APX_DB_RETRY, &counts, "SELECT coalesce("
	    "json_object_agg(kek_version::text, n), '{}') FROM (SELECT"
	    " kek_version, count(*) AS n FROM vault_data_keys GROUP BY 1) c",
	    0, NULL)) != 0)
		return rc;
	if ((vers = json_array()) == NULL) {
		json_decref(counts);
		return APX_ENOMEM;
	}
	for (i = 0; i < v->nkeks; i++)
		json_array_append_new(vers, json_integer(v->keks[i].version));
	*out = json_pack("{s:o,s:I,s:b,s:o}", "versions", vers, "current",
	    (json_int_t)apx_vault_current(v), "plaintext",
	    apx_vault_plaintext(v), "data_keys", counts != NULL ? counts :
	    json_object());
	return *out != NULL ? 0 : APX_ENOMEM;
}
