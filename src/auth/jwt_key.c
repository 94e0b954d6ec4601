/*
 * ES256 keys (P-256, RFC 7638 thumbprints as kid, PEM in and out, JWK) and
 * the keyring with its JWKS. OpenSSL errors are popped to a mark, as in
 * jwt.c.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/jwt.h"
#include "auth/jwt_int.h"
#include "core/apx.h"
#include "core/secret.h"

#define MAX_PEM		16384

static int	 is_p256(const EVP_PKEY *);
static int	 key_new(EVP_PKEY *, int, struct apx_jwt_key **);

/* --- keys ----------------------------------------------------------------- */

static int
is_p256(const EVP_PKEY *pkey)
{
	char name[64];
	size_t n;

	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    name, sizeof(name), &n) != 1)
		return 0;
	return OBJ_sn2nid(name) == NID_X9_62_prime256v1 ||
	    EC_curve_nist2nid(name) == NID_X9_62_prime256v1;
}

/* Wrap PKEY (always consumed) with its coordinates and RFC 7638 kid. */
static int
key_new(EVP_PKEY *pkey, int has_priv, struct apx_jwt_key **out)
{
	struct apx_jwt_key *k = NULL;
	BIGNUM *x = NULL, *y = NULL;
	unsigned char xb[COORD_LEN], yb[COORD_LEN], md[EVP_MAX_MD_SIZE];
	char tp[128];
	size_t mdlen;
	int n, rc = APX_EINVAL;

	ERR_set_mark();
	if (!is_p256(pkey))
		goto out;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, xb, COORD_LEN) != COORD_LEN ||
	    BN_bn2binpad(y, yb, COORD_LEN) != COORD_LEN) {
		rc = APX_ECRYPTO;
		goto out;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	apx_jwt_b64url_encode(xb, COORD_LEN, k->x);
	apx_jwt_b64url_encode(yb, COORD_LEN, k->y);
	/* RFC 7638 §3.2: required members only, sorted, no whitespace. */
	n = snprintf(tp, sizeof(tp), "{\"crv\":\"P-256\",\"kty\":\"EC\","
	    "\"x\":\"%s\",\"y\":\"%s\"}", k->x, k->y);
	if (n < 0 || (size_t)n >= sizeof(tp) ||
	    EVP_Q_digest(NULL, "SHA256", NULL, tp, (size_t)n, md,
	    &mdlen) != 1 || mdlen != 32) {
		rc = APX_ECRYPTO;
		goto out;
	}
	apx_jwt_b64url_encode(md, mdlen, k->kid);
	k->pkey = pkey;
	k->has_priv = has_priv;
	pkey = NULL;
	*out = k;
	k = NULL;
	rc = 0;
out:
	free(k);
	BN_free(x);
	BN_free(y);
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return rc;
}

int
apx_jwt_key_generate(struct apx_jwt_key **out)
{
	EVP_PKEY *pkey;

	if (out == NULL)
		return APX_EINVAL;
	*out = NULL;
	ERR_set_mark();
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ERR_pop_to_mark();
	if (pkey == NULL)
		return APX_ECRYPTO;
	return key_new(pkey, 1, out);
}

int
apx_jwt_key_from_pem(const char *pem, size_t len, struct apx_jwt_key **out)
{
	BIO *bio = NULL;
	char *name = NULL, *header = NULL, c;
	unsigned char *der = NULL;
	const unsigned char *p;
	long dlen = 0;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int has_priv, rc = APX_EINVAL;

	if (out == NULL)
		return APX_EINVAL;
	*out = NULL;
	if (pem == NULL || len == 0 || len > MAX_PEM)
		return APX_EINVAL;
	ERR_set_mark();
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	/* Secure flag: key bytes in OpenSSL's wiped allocations. */
	if (PEM_read_bio_ex(bio, &name, &header, &der, &dlen,
	    PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE) != 1)
		goto out;
	/* One block, optional whitespace after it, no PEM headers. */
	while (BIO_read(bio, &c, 1) == 1)
		if (!isspace((unsigned char)c))
			goto out;
	if (header[0] != '\0' || dlen <= 0)
		goto out;
	p = der;
	if (strcmp(name, PEM_STRING_PKCS8INF) == 0) {	/* PRIVATE KEY */
		has_priv = 1;
		if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, dlen)) == NULL ||
		    p != der + dlen)
			goto out;
		pkey = EVP_PKCS82PKEY(p8);
	} else if (strcmp(name, PEM_STRING_PUBLIC) == 0) {	/* PUBLIC KEY */
		has_priv = 0;
		pkey = d2i_PUBKEY(NULL, &p, dlen);
		if (p != der + dlen)
			goto out;
	} else
		goto out;
	if (pkey == NULL || !is_p256(pkey))
		goto out;
	/* Point on the curve; with a private part, that it matches. */
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if ((has_priv ? EVP_PKEY_check(ctx) : EVP_PKEY_public_check(ctx)) != 1)
		goto out;
	rc = key_new(pkey, has_priv, out);
	pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (der != NULL)
		OPENSSL_secure_clear_free(der, (size_t)dlen);
	OPENSSL_secure_free(name);
	OPENSSL_secure_free(header);
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}

int
apx_jwt_key_private_pem(const struct apx_jwt_key *k, struct apx_secret **out)
{
	BIO *bio = NULL;
	char *data;
	long n;
	int rc = APX_ECRYPTO;

	if (out == NULL)
		return APX_EINVAL;
	*out = NULL;
	if (k == NULL || !k->has_priv)
		return APX_EINVAL;
	ERR_set_mark();
	/* A secure-memory BIO wipes its buffer when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if (PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL,
	    NULL) != 1 || (n = BIO_get_mem_data(bio, &data)) <= 0)
		goto out;
	if ((*out = apx_secret_new(data, (size_t)n)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	rc = 0;
out:
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}

int
apx_jwt_key_public_pem(const struct apx_jwt_key *k, char **out)
{
	BIO *bio = NULL;
	char *data;
	long n;
	int rc = APX_ECRYPTO;

	if (out == NULL)
		return APX_EINVAL;
	*out = NULL;
	if (k == NULL)
		return APX_EINVAL;
	ERR_set_mark();
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if (PEM_write_bio_PUBKEY(bio, k->pkey) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0)
		goto out;
	if ((*out = malloc((size_t)n + 1)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	memcpy(*out, data, (size_t)n);
	(*out)[n] = '\0';
	rc = 0;
out:
	BIO_free(bio);
	ERR_pop_to_mark();
	return rc;
}

const char *
apx_jwt_key_kid(const struct apx_jwt_key *k)
{
	return k == NULL ? NULL : k->kid;
}

int
apx_jwt_key_jwk(const struct apx_jwt_key *k, json_t **out)
{
	if (out == NULL)
		return APX_EINVAL;
	*out = NULL;
	if (k == NULL)
		return APX_EINVAL;
	/* Public members only: "d" is never written. */
	*out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC",
	    "crv", "P-256", "x", k->x, "y", k->y, "kid", k->kid, "use", "sig",
	    "alg", "ES256");
	return *out == NULL ? APX_ENOMEM : 0;
}

void
apx_jwt_key_free(struct apx_jwt_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	apx_wipe(k, sizeof(*k));
	free(k);
}

/* --- keyring -------------------------------------------------------------- */

struct apx_jwt_keyring *
apx_jwt_keyring_new(void)
{
	return calloc(1, sizeof(struct apx_jwt_keyring));
}

void
apx_jwt_keyring_free(struct apx_jwt_keyring *kr)
{
	size_t i;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->n; i++)
		apx_jwt_key_free(kr->keys[i]);
	free(kr->keys);
	free(kr);
}

const struct apx_jwt_key *
apx_jwt_ring_find(const struct apx_jwt_keyring *kr, const char *kid)
{
	size_t i;

	for (i = 0; i < kr->n; i++)
		if (strcmp(kr->keys[i]->kid, kid) == 0)
			return kr->keys[i];
	return NULL;
}

int
apx_jwt_keyring_add(struct apx_jwt_keyring *kr, struct apx_jwt_key *k,
    int current)
{
	struct apx_jwt_key **nk;
	size_t ncap;

	if (kr == NULL || k == NULL || (current && !k->has_priv))
		return APX_EINVAL;
	if (apx_jwt_ring_find(kr, k->kid) != NULL)
		return APX_ECONFLICT;
	if (kr->n == kr->cap) {
		ncap = kr->cap == 0 ? 4 : kr->cap * 2;
		if (ncap > SIZE_MAX / sizeof(*nk) ||
		    (nk = realloc(kr->keys, ncap * sizeof(*nk))) == NULL)
			return APX_ENOMEM;
		kr->keys = nk;
		kr->cap = ncap;
	}
	kr->keys[kr->n++] = k;
	if (current)
		kr->current = k;
	return 0;
}

const struct apx_jwt_key *
apx_jwt_keyring_current(const struct apx_jwt_keyring *kr)
{
	return kr == NULL ? NULL : kr->current;
}

int
apx_jwt_jwks(const struct apx_jwt_keyring *kr, json_t **out)
{
	json_t *doc = NULL, *keys, *jwk;
	size_t i;
	int rc = APX_ENOMEM;

	if (out == NULL)
		return APX_EINVAL;
	*out = NULL;
	if (kr == NULL)
		return APX_EINVAL;
	if ((doc = json_object()) == NULL || (keys = json_array()) == NULL ||
	    json_object_set_new(doc, "keys", keys) != 0)
		goto out;
	for (i = 0; i < kr->n; i++) {
		if ((rc = apx_jwt_key_jwk(kr->keys[i], &jwk)) != 0)
			goto out;
		if (json_array_append_new(keys, jwk) != 0) {
			rc = APX_ENOMEM;
			goto out;
		}
	}
	*out = doc;
	doc = NULL;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}
