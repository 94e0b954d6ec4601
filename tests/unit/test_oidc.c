/*
 * Unit tests for auth/oidc.c: discovery documents, JWKS and every check of
 * an ID token (REFERENCE.md's OIDC list), with keys made here and tokens
 * signed here: RS256, PS256, ES256 accepted; alg none, HS256 keyed with
 * the RSA public key, a foreign key, wrong iss/aud/azp/nonce, expired,
 * iat out of its window, no sub, Microsoft's tid template refused.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/oidc.h"
#include "core/apx.h"

#define NOW	1800000000LL
#define ISS	"https://idp.example.test"
#define CLIENT	"client-1"
#define NONCE	"n-0S6_WzA2Mj"

static EVP_PKEY *rsa, *rsa_other, *ec;
static char jwks[8192];

static void
b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

static void
bn_b64(const EVP_PKEY *k, const char *name, size_t pad, char *out)
{
	unsigned char buf[600];
	BIGNUM *bn = NULL;
	int n;

	assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
	n = pad > 0 ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
	assert_true(n > 0);
	b64url(buf, (size_t)n, out);
	BN_free(bn);
}

static int
setup(void **state)
{
	char n[400], e[16], x[64], y[64], n2[400];

	(void)state;
	rsa = EVP_RSA_gen(2048);
	rsa_other = EVP_RSA_gen(2048);
	ec = EVP_EC_gen("P-256");
	assert_non_null(rsa);
	assert_non_null(ec);
	bn_b64(rsa, OSSL_PKEY_PARAM_RSA_N, 0, n);
	bn_b64(rsa, OSSL_PKEY_PARAM_RSA_E, 0, e);
	bn_b64(rsa_other, OSSL_PKEY_PARAM_RSA_N, 0, n2);
	bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, x);
	bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y);
	snprintf(jwks, sizeof(jwks), "{\"keys\": ["
	    "{\"kty\":\"RSA\",\"kid\":\"r1\",\"use\":\"sig\",\"n\":\"%s\","
	    "\"e\":\"%s\"},"
	    "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\","
	    "\"y\":\"%s\"},"
	    "{\"kty\":\"OKP\",\"kid\":\"o1\",\"crv\":\"Ed25519\",\"x\":\"AA\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"enc1\",\"use\":\"enc\",\"n\":\"%s\","
	    "\"e\":\"%s\"}]}", n, e, x, y, n2, e);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec);
	return 0;
}

/* A compact JWS of HDR and PAYLOAD (JSON texts) signed with K for ALG
 * ("none": no signature; "HS256": HMAC with HMAC_KEY). */
static char *
sign(const char *alg, EVP_PKEY *k, const char *hdr, const char *payload,
    const char *hmac_key)
{
	char *tok = malloc(16384), *p;
	unsigned char sig[512], der[80];
	size_t siglen = sizeof(sig), dl;
	EVP_MD_CTX *md;
	EVP_PKEY_CTX *pctx = NULL;

	assert_non_null(tok);
	b64url((const unsigned char *)hdr, strlen(hdr), tok);
	p = tok + strlen(tok);
	*p++ = '.';
	b64url((const unsigned char *)payload, strlen(payload), p);
	p += strlen(p);
	if (strcmp(alg, "none") == 0) {
		strcpy(p, ".");
		return tok;
	}
	if (strcmp(alg, "HS256") == 0) {
		unsigned int hl = 0;

		HMAC(EVP_sha256(), hmac_key, (int)strlen(hmac_key),
		    (unsigned char *)tok, strlen(tok), sig, &hl);
		siglen = hl;
	} else {
		md = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestSignInit_ex(md, &pctx, "SHA256", NULL,
		    NULL, k, NULL), 1);
		if (strcmp(alg, "PS256") == 0) {
			EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
			    RSA_PSS_SALTLEN_DIGEST);
		}
		if (strcmp(alg, "ES256") == 0) {
			const unsigned char *dp = der;
			ECDSA_SIG *es;

			dl = sizeof(der);
			assert_int_equal(EVP_DigestSign(md, der, &dl,
			    (unsigned char *)tok, strlen(tok)), 1);
			es = d2i_ECDSA_SIG(NULL, &dp, (long)dl);
			assert_non_null(es);
			BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
			BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
			ECDSA_SIG_free(es);
			siglen = 64;
		} else
			assert_int_equal(EVP_DigestSign(md, sig, &siglen,
			    (unsigned char *)tok, strlen(tok)), 1);
		EVP_MD_CTX_free(md);
	}
	*p++ = '.';
	b64url(sig, siglen, p);
	return tok;
}

static char *
claims(const char *extra)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT
	    "\",\"sub\":\"user-1\",\"nonce\":\"" NONCE "\",\"iat\":%lld,"
	    "\"exp\":%lld%s}", NOW - 5, NOW + 600, extra);
	return buf;
}

static const char *const algs[] = { "RS256", "PS256", "ES256" };

static struct apx_oidc_expect
expect(void)
{
	struct apx_oidc_expect ex;

	memset(&ex, 0, sizeof(ex));
	ex.issuer = ISS;
	ex.client_id = CLIENT;
	ex.nonce = NONCE;
	ex.algs = algs;
	ex.nalgs = 3;
	ex.now = NOW;
	return ex;
}

/* Verify TOK against the test JWKS: the reason. */
static enum apx_oidc_reason
check(const char *tok, const struct apx_oidc_expect *ex)
{
	struct apx_oidc_jwks *j;
	enum apx_oidc_reason why;
	json_t *c = NULL;
	size_t skipped;
	char *kid = NULL;
	int rc;

	assert_int_equal(apx_oidc_jwks_parse(jwks, strlen(jwks), &j,
	    &skipped), 0);
	assert_int_equal(apx_oidc_jwks_count(j), 2);
	assert_int_equal(skipped, 2);
	rc = apx_oidc_id_token_verify(j, tok, strlen(tok), ex, &c, &why, &kid);
	assert_true(rc == 0 ? why == APX_OIDC_OK && c != NULL :
	    rc == APX_EUNAUTH && c == NULL);
	json_decref(c);
	free(kid);
	apx_oidc_jwks_free(j);
	return why;
}

#define RS_HDR	"{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JWT\"}"

static void
test_accepted(void **state)
{
	struct apx_oidc_expect ex = expect();
	char *t;

	(void)state;
	t = sign("RS256", rsa, RS_HDR, claims(""), NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_OK);
	free(t);
	t = sign("PS256", rsa, "{\"alg\":\"PS256\",\"kid\":\"r1\"}", claims(""),
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_OK);
	free(t);
	t = sign("ES256", ec, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", claims(""),
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_OK);
	free(t);
	/* a member twice: not a JSON object we accept */
	t = sign("RS256", rsa, RS_HDR, claims(",\"sub\":\"user-2\""), NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_MALFORMED);
	free(t);
}

static void
test_alg_and_key(void **state)
{
	struct apx_oidc_expect ex = expect();
	char pem[4096], *t;
	BIO *b;
	int n;

	(void)state;
	t = sign("none", NULL, "{\"alg\":\"none\",\"kid\":\"r1\"}", claims(""),
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_ALG);
	free(t);
	/* HS256 keyed with the RSA public key (the classic confusion) */
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PUBKEY(b, rsa);
	n = BIO_read(b, pem, sizeof(pem) - 1);
	pem[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	t = sign("HS256", NULL, "{\"alg\":\"HS256\",\"kid\":\"r1\"}", claims(""),
	    pem);
	assert_int_equal(check(t, &ex), APX_OIDC_ALG);
	free(t);
	/* an allowed alg, but not for this provider */
	ex.nalgs = 1;	/* RS256 only */
	t = sign("ES256", ec, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", claims(""),
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_ALG);
	free(t);
	ex = expect();
	/* signed by a key not in the set, under a kid that is */
	t = sign("RS256", rsa_other, RS_HDR, claims(""), NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_SIGNATURE);
	free(t);
	/* unknown kid: the caller refetches the JWKS once */
	t = sign("RS256", rsa, "{\"alg\":\"RS256\",\"kid\":\"r9\"}", claims(""),
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_KID);
	free(t);
	/* an RSA alg naming the EC key's kid */
	t = sign("RS256", rsa, "{\"alg\":\"RS256\",\"kid\":\"e1\"}", claims(""),
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_KID);
	free(t);
	/* the key marked "enc" is not used for signatures */
	t = sign("RS256", rsa_other, "{\"alg\":\"RS256\",\"kid\":\"enc1\"}",
	    claims(""), NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_KID);
	free(t);
}

static void
test_claims(void **state)
{
	struct apx_oidc_expect ex = expect();
	char buf[2048], *t;

	(void)state;
#define TOKEN(fmt, ...) (snprintf(buf, sizeof(buf), fmt, __VA_ARGS__), \
	t = sign("RS256", rsa, RS_HDR, buf, NULL))
	TOKEN("{\"iss\":\"https://evil.example\",\"aud\":\"%s\",\"sub\":\"u\","
	    "\"nonce\":\"%s\",\"iat\":%lld,\"exp\":%lld}", CLIENT, NONCE,
	    NOW, NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_ISS);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"sub\":\"u\",\"nonce\":\"%s\",\"iat\":%lld,"
	    "\"exp\":%lld}", ISS, NONCE, NOW, NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_AUD);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"other\",\"sub\":\"u\",\"nonce\":\"%s\","
	    "\"iat\":%lld,\"exp\":%lld}", ISS, NONCE, NOW, NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_AUD);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":[\"%s\",\"x\"],\"sub\":\"u\",\"nonce\":"
	    "\"%s\",\"iat\":%lld,\"exp\":%lld}", ISS, CLIENT, NONCE, NOW,
	    NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_AZP);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":[\"%s\",\"x\"],\"azp\":\"%s\",\"sub\":"
	    "\"u\",\"nonce\":\"%s\",\"iat\":%lld,\"exp\":%lld}", ISS, CLIENT,
	    CLIENT, NONCE, NOW, NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_OK);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"%s\",\"azp\":\"x\",\"sub\":\"u\","
	    "\"nonce\":\"%s\",\"iat\":%lld,\"exp\":%lld}", ISS, CLIENT, NONCE,
	    NOW, NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_AZP);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"nonce\":\"%s\","
	    "\"iat\":%lld,\"exp\":%lld}", ISS, CLIENT, NONCE, NOW - 200,
	    NOW - 100);
	assert_int_equal(check(t, &ex), APX_OIDC_EXP);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"nonce\":\"%s\","
	    "\"iat\":%lld}", ISS, CLIENT, NONCE, NOW);
	assert_int_equal(check(t, &ex), APX_OIDC_EXP);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"nonce\":\"%s\","
	    "\"iat\":%lld,\"exp\":%lld}", ISS, CLIENT, NONCE, NOW - 3600,
	    NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_IAT);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"nonce\":\"%s\","
	    "\"iat\":%lld,\"exp\":%lld}", ISS, CLIENT, NONCE, NOW + 3600,
	    NOW + 7200);
	assert_int_equal(check(t, &ex), APX_OIDC_IAT);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u\",\"nonce\":\"%s\","
	    "\"iat\":%lld,\"exp\":%lld}", ISS, CLIENT, "another", NOW,
	    NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_NONCE);
	free(t);
	TOKEN("{\"iss\":\"%s\",\"aud\":\"%s\",\"nonce\":\"%s\",\"iat\":%lld,"
	    "\"exp\":%lld}", ISS, CLIENT, NONCE, NOW, NOW + 60);
	assert_int_equal(check(t, &ex), APX_OIDC_SUB);
	free(t);
#undef TOKEN
}

static void
test_issuers(void **state)
{
	struct apx_oidc_expect ex = expect();
	char *t;

	(void)state;
	/* Google's second spelling */
	ex.issuer = "https://accounts.google.com";
	ex.alt_issuer = "accounts.google.com";
	t = sign("RS256", rsa, RS_HDR, "{\"iss\":\"accounts.google.com\","
	    "\"aud\":\"" CLIENT "\",\"sub\":\"u\",\"nonce\":\"" NONCE "\","
	    "\"iat\":1800000000,\"exp\":1800000600}", NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_OK);
	free(t);
	/* Microsoft's template, checked against the token's tid */
	ex = expect();
	ex.issuer = "https://login.example.test/{tenantid}/v2.0";
	ex.template = 1;
	t = sign("RS256", rsa, RS_HDR, "{\"iss\":\"https://login.example.test/"
	    "9188040d-6c67-4c5b-b112-36a304b66dad/v2.0\",\"tid\":\"9188040d-"
	    "6c67-4c5b-b112-36a304b66dad\",\"aud\":\"" CLIENT "\",\"sub\":\"u\","
	    "\"nonce\":\"" NONCE "\",\"iat\":1800000000,\"exp\":1800000600}",
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_OK);
	free(t);
	t = sign("RS256", rsa, RS_HDR, "{\"iss\":\"https://login.example.test/"
	    "9188040d-6c67-4c5b-b112-36a304b66dad/v2.0\",\"tid\":\"72f988bf-"
	    "86f1-41af-91ab-2d7cd011db47\",\"aud\":\"" CLIENT "\",\"sub\":\"u\","
	    "\"nonce\":\"" NONCE "\",\"iat\":1800000000,\"exp\":1800000600}",
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_TID);
	free(t);
	t = sign("RS256", rsa, RS_HDR, "{\"iss\":\"https://login.example.test/"
	    "{tenantid}/v2.0\",\"aud\":\"" CLIENT "\",\"sub\":\"u\","
	    "\"nonce\":\"" NONCE "\",\"iat\":1800000000,\"exp\":1800000600}",
	    NULL);
	assert_int_equal(check(t, &ex), APX_OIDC_TID);
	free(t);
}

static void
test_discovery(void **state)
{
	struct apx_oidc_discovery d;
	const char *why;
	static const char good[] = "{\"issuer\":\"https://idp.example.test\","
	    "\"authorization_endpoint\":\"https://idp.example.test/auth\","
	    "\"token_endpoint\":\"https://idp.example.test/token\","
	    "\"jwks_uri\":\"https://idp.example.test/jwks\","
	    "\"code_challenge_methods_supported\":[\"plain\",\"S256\"]}";

	(void)state;
	assert_int_equal(apx_oidc_discovery_parse(good, strlen(good), &d,
	    &why), 0);
	assert_string_equal(d.issuer, "https://idp.example.test");
	assert_null(d.userinfo_endpoint);
	apx_oidc_discovery_clear(&d);
	assert_int_equal(apx_oidc_discovery_parse("{\"issuer\":\"http://idp."
	    "example.test\"}", 31, &d, &why), APX_EINVAL);
	assert_int_equal(apx_oidc_discovery_parse("[]", 2, &d, &why),
	    APX_EINVAL);
	assert_int_equal(apx_oidc_discovery_parse("{\"issuer\":\"https://a\","
	    "\"issuer\":\"https://b\"}", 42, &d, &why), APX_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_alg_and_key),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_issuers),
		cmocka_unit_test(test_discovery),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
