/* OpenID Connect relying party, the pure part (oidc.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "auth/jwt.h"
#include "auth/oidc.h"
#include "core/apx.h"
#include "core/url.h"

#define KID_MAX		256
#define RSA_N_MAX	1024	/* bytes: 8192-bit moduli */
#define RSA_BITS_MIN	2048
#define SUB_MAX		255
#define TID_MAX		64
#define TEMPLATE	"{tenantid}"

enum ktype { K_RSA = 1, K_EC };

struct key {
	char		 kid[KID_MAX + 1];
	enum ktype	 type;
	EVP_PKEY	*pkey;
};

struct apx_oidc_jwks {
	struct key	 keys[APX_OIDC_KEYS_MAX];
	size_t		 n;
};

static json_t	*load_object(const char *, size_t);
static int	 url_member(json_t *, const char *, int, char **,
		    const char **);
static int	 b64_member(json_t *, const char *, unsigned char *, size_t,
		    size_t *);
static EVP_PKEY	*rsa_key(const unsigned char *, size_t,
		    const unsigned char *, size_t);
static EVP_PKEY	*ec_key(const unsigned char *, const unsigned char *);
static int	 parse_key(json_t *, struct key *, int *);
static int	 verify_sig(const struct key *, const char *, const char *,
		    size_t, const unsigned char *, size_t);
static const struct key *find_key(const struct apx_oidc_jwks *, const char *,
		    enum ktype);
static enum apx_oidc_reason check_claims(json_t *,
		    const struct apx_oidc_expect *);
static int	 iss_ok(const char *, json_t *, const struct apx_oidc_expect *,
		    enum apx_oidc_reason *);

/* A JSON object of at most APX_OIDC_DOC_MAX bytes, no duplicate keys. */
static json_t *
load_object(const char *s, size_t n)
{
	json_t *v;

	if (s == NULL || n == 0 || n > APX_OIDC_DOC_MAX ||
	    memchr(s, '\0', n) != NULL)
		return NULL;
	v = json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* Member NAME of O as an https (or loopback http) URL copy. */
static int
url_member(json_t *o, const char *name, int required, char **out,
    const char **why)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	*out = NULL;
	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v) || (s = json_string_value(v)) == NULL ||
	    json_string_length(v) > APX_OIDC_URL_MAX ||
	    strlen(s) != json_string_length(v) || !apx_url_base_ok(s) ||
	    !apx_url_allowed(s, s)) {
		*why = name;
		return APX_EINVAL;
	}
	return (*out = strdup(s)) != NULL ? 0 : APX_ENOMEM;
}

int
apx_oidc_discovery_parse(const char *doc, size_t len,
    struct apx_oidc_discovery *d, const char **why)
{
	json_t *o, *m, *x;
	size_t i;
	int rc = APX_EINVAL, s256 = 0;

	memset(d, 0, sizeof(*d));
	*why = "not a JSON object";
	if ((o = load_object(doc, len)) == NULL)
		return APX_EINVAL;
	if ((rc = url_member(o, "issuer", 1, &d->issuer, why)) != 0 ||
	    (rc = url_member(o, "authorization_endpoint", 1,
	    &d->authorization_endpoint, why)) != 0 ||
	    (rc = url_member(o, "token_endpoint", 1, &d->token_endpoint,
	    why)) != 0 ||
	    (rc = url_member(o, "userinfo_endpoint", 0, &d->userinfo_endpoint,
	    why)) != 0 ||
	    (rc = url_member(o, "jwks_uri", 1, &d->jwks_uri, why)) != 0)
		goto out;
	if ((m = json_object_get(o, "code_challenge_methods_supported")) !=
	    NULL) {
		json_array_foreach(m, i, x)
			s256 |= json_is_string(x) &&
			    strcmp(json_string_value(x), "S256") == 0;
		if (!s256) {
			*why = "code_challenge_methods_supported without S256";
			rc = APX_EINVAL;
			goto out;
		}
	}
	*why = NULL;
	rc = 0;
out:
	json_decref(o);
	if (rc != 0)
		apx_oidc_discovery_clear(d);
	return rc;
}

void
apx_oidc_discovery_clear(struct apx_oidc_discovery *d)
{
	free(d->issuer);
	free(d->authorization_endpoint);
	free(d->token_endpoint);
	free(d->userinfo_endpoint);
	free(d->jwks_uri);
	memset(d, 0, sizeof(*d));
}

/* A base64url member of O into OUT (at most MAX bytes, at least one). */
static int
b64_member(json_t *o, const char *name, unsigned char *out, size_t max,
    size_t *len)
{
	json_t *v = json_object_get(o, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return APX_EINVAL;
	if (apx_jwt_b64url_decode(json_string_value(v), json_string_length(v),
	    out, max, len) != 0 || *len == 0)
		return APX_EINVAL;
	return 0;
}

static EVP_PKEY *
rsa_key(const unsigned char *n, size_t nl, const unsigned char *e, size_t el)
{
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	if ((bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)el, NULL)) == NULL ||
	    (b = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	if (pk != NULL && EVP_PKEY_get_bits(pk) < RSA_BITS_MIN) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	return pk;
}

static EVP_PKEY *
ec_key(const unsigned char *x, const unsigned char *y)
{
	unsigned char pub[65];
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = NULL, *chk = NULL;
	EVP_PKEY *pk = NULL;

	pub[0] = 0x04;
	memcpy(pub + 1, x, 32);
	memcpy(pub + 33, y, 32);
	if ((b = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub,
	    sizeof(pub)) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	/* The point must be on the curve. */
	if (pk != NULL && ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) ==
	    NULL || EVP_PKEY_public_check(chk) != 1)) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	EVP_PKEY_CTX_free(chk);
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	return pk;
}

/* One JWK: 0 (a key, or *SKIP set), APX_EINVAL, APX_ENOMEM. */
static int
parse_key(json_t *k, struct key *out, int *skip)
{
	unsigned char n[RSA_N_MAX], e[8], x[32], y[32];
	size_t nl, el, xl, yl;
	const char *kty, *kid, *use, *crv;

	*skip = 0;
	memset(out, 0, sizeof(*out));
	if (!json_is_object(k))
		return APX_EINVAL;
	kty = json_string_value(json_object_get(k, "kty"));
	use = json_string_value(json_object_get(k, "use"));
	kid = json_string_value(json_object_get(k, "kid"));
	if (kty == NULL)
		return APX_EINVAL;
	/* Keys for something else are no business of ours. */
	if ((strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0) ||
	    (use != NULL && strcmp(use, "sig") != 0)) {
		*skip = 1;
		return 0;
	}
	if (kid == NULL || kid[0] == '\0' || strlen(kid) > KID_MAX)
		return APX_EINVAL;
	snprintf(out->kid, sizeof(out->kid), "%s", kid);
	if (strcmp(kty, "RSA") == 0) {
		if (b64_member(k, "n", n, sizeof(n), &nl) != 0 ||
		    b64_member(k, "e", e, sizeof(e), &el) != 0)
			return APX_EINVAL;
		out->type = K_RSA;
		out->pkey = rsa_key(n, nl, e, el);
	} else {
		crv = json_string_value(json_object_get(k, "crv"));
		if (crv == NULL || strcmp(crv, "P-256") != 0) {
			*skip = 1;
			return 0;
		}
		if (b64_member(k, "x", x, sizeof(x), &xl) != 0 || xl != 32 ||
		    b64_member(k, "y", y, sizeof(y), &yl) != 0 || yl != 32)
			return APX_EINVAL;
		out->type = K_EC;
		out->pkey = ec_key(x, y);
	}
	return out->pkey != NULL ? 0 : APX_EINVAL;
}

int
apx_oidc_jwks_parse(const char *doc, size_t len, struct apx_oidc_jwks **out,
    size_t *skipped)
{
	struct apx_oidc_jwks *j = NULL;
	json_t *o, *keys, *k;
	size_t i;
	int rc = APX_EINVAL, skip;

	*out = NULL;
	*skipped = 0;
	if ((o = load_object(doc, len)) == NULL)
		return APX_EINVAL;
	keys = json_object_get(o, "keys");
	if (!json_is_array(keys) || json_array_size(keys) > 4 *
	    APX_OIDC_KEYS_MAX)
		goto out;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	json_array_foreach(keys, i, k) {
		if (j->n == APX_OIDC_KEYS_MAX) {
			rc = APX_EINVAL;
			goto out;
		}
		if ((rc = parse_key(k, &j->keys[j->n], &skip)) != 0)
			goto out;
		if (skip)
			(*skipped)++;
		else
			j->n++;
	}
	*out = j;
	j = NULL;
	rc = 0;
out:
	apx_oidc_jwks_free(j);
	json_decref(o);
	return rc;
}

void
apx_oidc_jwks_free(struct apx_oidc_jwks *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->n; i++)
		EVP_PKEY_free(j->keys[i].pkey);
	free(j);
}

size_t
apx_oidc_jwks_count(const struct apx_oidc_jwks *j)
{
	return j != NULL ? j->n : 0;
}

static const struct key *
find_key(const struct apx_oidc_jwks *j, const char *kid, enum ktype type)
{
	size_t i;

	for (i = 0; j != NULL && i < j->n; i++)
		if (j->keys[i].type == type && strcmp(j->keys[i].kid, kid) == 0)
			return &j->keys[i];
	return NULL;
}

/* 1 when SIG over the first LEN bytes of INPUT verifies for ALG. */
static int
verify_sig(const struct key *k, const char *alg, const char *input,
    size_t len, const unsigned char *sig, size_t siglen)
{
	unsigned char der[80], *p = der;
	const unsigned char *vsig = sig;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	size_t vlen = siglen;
	int ok = 0, dl;

	if (strcmp(alg, "ES256") == 0) {
		/* JWS: r || s, 32 bytes each; OpenSSL wants DER. */
		if (siglen != 64 || (es = ECDSA_SIG_new()) == NULL ||
		    (r = BN_bin2bn(sig, 32, NULL)) == NULL ||
		    (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL ||
		    ECDSA_SIG_set0(es, r, s) != 1)
			goto out;
		r = s = NULL;
		if ((dl = i2d_ECDSA_SIG(es, NULL)) <= 0 ||
		    (size_t)dl > sizeof(der) || i2d_ECDSA_SIG(es, &p) != dl)
			goto out;
		vsig = der;
		vlen = (size_t)dl;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, k->pkey,
	    NULL) != 1)
		goto out;
	if (strcmp(alg, "PS256") == 0 && (EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) != 1 || EVP_PKEY_CTX_set_rsa_pss_saltlen(
	    pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	ok = EVP_DigestVerify(md, vsig, vlen, (const unsigned char *)input,
	    len) == 1;
out:
	EVP_MD_CTX_free(md);
	ECDSA_SIG_free(es);
	BN_free(r);
	BN_free(s);
	return ok;
}

/* iss of the token against the expected issuer (or its template). */
static int
iss_ok(const char *iss, json_t *c, const struct apx_oidc_expect *ex,
    enum apx_oidc_reason *why)
{
	const char *at, *tid;
	size_t i, n, pre;
	char want[APX_OIDC_URL_MAX + TID_MAX + 1];

	*why = APX_OIDC_ISS;
	if (iss == NULL)
		return 0;
	if (!ex->template)
		return strcmp(iss, ex->issuer) == 0 || (ex->alt_issuer != NULL &&
		    strcmp(iss, ex->alt_issuer) == 0);
	/* Microsoft: the tenant of the token, in the template's place. */
	*why = APX_OIDC_TID;
	tid = json_string_value(json_object_get(c, "tid"));
	if (tid == NULL || (n = strlen(tid)) == 0 || n > TID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((tid[i] >= '0' && tid[i] <= '9') || (tid[i] >= 'a' &&
		    tid[i] <= 'f') || (tid[i] >= 'A' && tid[i] <= 'F') ||
		    tid[i] == '-'))
			return 0;
	if ((at = strstr(ex->issuer, TEMPLATE)) == NULL ||
	    strlen(ex->issuer) > APX_OIDC_URL_MAX)
		return 0;
	pre = (size_t)(at - ex->issuer);
	snprintf(want, sizeof(want), "%.*s%s%s", (int)pre, ex->issuer, tid,
	    at + strlen(TEMPLATE));
	return strcmp(iss, want) == 0;
}

static enum apx_oidc_reason
check_claims(json_t *c, const struct apx_oidc_expect *ex)
{
	enum apx_oidc_reason why;
	json_t *aud, *v;
	const char *azp, *sub, *nonce;
	size_t i, naud = 0;
	int found = 0;
	json_int_t exp, iat;

	if (!iss_ok(json_string_value(json_object_get(c, "iss")), c, ex, &why))
		return why;
	aud = json_object_get(c, "aud");
	if (json_is_string(aud)) {
		naud = 1;
		found = strcmp(json_string_value(aud), ex->client_id) == 0;
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, v) {
			if (!json_is_string(v))
				return APX_OIDC_AUD;
			naud++;
			found |= strcmp(json_string_value(v), ex->client_id) == 0;
		}
	}
	if (!found)
		return APX_OIDC_AUD;
	v = json_object_get(c, "azp");
	azp = json_string_value(v);
	if ((v != NULL && (azp == NULL || strcmp(azp, ex->client_id) != 0)) ||
	    (naud > 1 && azp == NULL))
		return APX_OIDC_AZP;
	v = json_object_get(c, "exp");
	if (!json_is_integer(v) || (exp = json_integer_value(v)) +
	    APX_OIDC_LEEWAY <= ex->now)
		return APX_OIDC_EXP;
	v = json_object_get(c, "iat");
	if (!json_is_integer(v) || (iat = json_integer_value(v)) >
	    ex->now + APX_OIDC_LEEWAY || iat < ex->now - APX_OIDC_IAT_WINDOW)
		return APX_OIDC_IAT;
	nonce = json_string_value(json_object_get(c, "nonce"));
	if (ex->nonce == NULL || nonce == NULL ||
	    !apx_ct_equal(nonce, strlen(nonce), ex->nonce, strlen(ex->nonce)))
		return APX_OIDC_NONCE;
	sub = json_string_value(json_object_get(c, "sub"));
	if (sub == NULL || sub[0] == '\0' || strlen(sub) > SUB_MAX)
		return APX_OIDC_SUB;
	return APX_OIDC_OK;
}

int
apx_oidc_id_token_verify(const struct apx_oidc_jwks *j, const char *tok,
    size_t len, const struct apx_oidc_expect *ex, json_t **claims,
    enum apx_oidc_reason *why, char **kidp)
{
	json_t *hdr = NULL, *c = NULL;
	unsigned char *sig = NULL;
	const struct key *k;
	const char *alg, *kid;
	size_t siglen, inlen, i;
	int rc = APX_EUNAUTH, allowed = 0;

	*claims = NULL;
	*why = APX_OIDC_MALFORMED;
	if (kidp != NULL)
		*kidp = NULL;
	if (ex == NULL || ex->issuer == NULL || ex->client_id == NULL)
		return APX_EINVAL;
	if ((rc = apx_jwt_parts(tok, len, &hdr, &c, &sig, &siglen, &inlen)) !=
	    0) {
		rc = rc == APX_ENOMEM ? rc : APX_EUNAUTH;
		goto out;
	}
	rc = APX_EUNAUTH;
	/* The algorithm first: none, HS* and anything unlisted go here. */
	*why = APX_OIDC_ALG;
	alg = json_string_value(json_object_get(hdr, "alg"));
	for (i = 0; alg != NULL && i < ex->nalgs; i++)
		allowed |= strcmp(alg, ex->algs[i]) == 0;
	if (!allowed || json_object_get(hdr, "crit") != NULL ||
	    (strcmp(alg, "RS256") != 0 && strcmp(alg, "PS256") != 0 &&
	    strcmp(alg, "ES256") != 0))
		goto out;
	*why = APX_OIDC_KID;
	kid = json_string_value(json_object_get(hdr, "kid"));
	if (kid == NULL || strlen(kid) > KID_MAX)
		goto out;
	if (kidp != NULL && (*kidp = strdup(kid)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if ((k = find_key(j, kid, alg[0] == 'E' ? K_EC : K_RSA)) == NULL)
		goto out;
	*why = APX_OIDC_SIGNATURE;
	if (!verify_sig(k, alg, tok, inlen, sig, siglen))
		goto out;
	if ((*why = check_claims(c, ex)) != APX_OIDC_OK)
		goto out;
	*claims = c;
	c = NULL;
	rc = 0;
out:
	json_decref(hdr);
	json_decref(c);
	free(sig);
	return rc;
}

const char *
apx_oidc_reason_str(enum apx_oidc_reason r)
{
	static const char *const s[] = {
		"ok", "malformed", "alg", "kid", "signature", "iss",
		"aud", "azp", "exp", "iat", "nonce", "sub", "tid",
	};

	return (size_t)r < APX_NELEM(s) ? s[r] : "unknown";
}
