/*
 * ES256 access tokens: keys and kids, JWKS, PEM, sign/verify, and the
 * RFC 8725 attack list. Hostile tokens are built here with the test's own
 * base64url and ECDSA code (OpenSSL directly), not with the module's.
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

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth/jwt.h"
#include "core/apx.h"
#include "core/secret.h"

/*
 * A fixed P-256 key, made with
 *   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256
 * Its coordinates and RFC 7638 thumbprint were computed independently of
 * this code, in Python: python-cryptography's public_numbers() for x and
 * y, then hashlib.sha256 over
 *   {"crv":"P-256","kty":"EC","x":"<x>","y":"<y>"}
 * and base64url without padding.
 */
static const char fixed_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiMYVQtK0a8lfhm+d\n"
    "J1VaSgOplpANcf7hWuISfqHUMyuhRANCAAQqLU8aKygsxL56r11hHwgJFnb1u26/\n"
    "NOpc/yOkNxjgzJ9x7Of95vbixIC0ntPMgCQuXWm5OC88SxLvAfVhm99z\n"
    "-----END PRIVATE KEY-----\n";
#define FIXED_X		"Ki1PGisoLMS-eq9dYR8ICRZ29btuvzTqXP8jpDcY4Mw"
#define FIXED_Y		"n3Hs5_3m9uLEgLSe08yAJC5dabk4LzxLEu8B9WGb33M"
#define FIXED_KID	"2u6oERco1exCFIiWiiKjmbXG2-N-G26jJeSFWOYHLJY"

/*
 * Interoperability: a token signed with the fixed key by python-cryptography
 * (ECDSA/SHA-256, DER signature turned into r || s) with header
 * {"alg":"ES256","typ":"at+jwt","kid":FIXED_KID} and claims iss
 * https://id.example, aud accupredix, sub "42", iat 1700000000, exp
 * 1700000900, jti "interop". Also tests/fuzz/corpus/jwt/valid.
 */
static const char interop_token[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6IjJ1Nm9FUmNvMWV4Q0ZJaV"
    "dpaUtqbWJYRzItTi1HMjZqSmVTRldPWUhMSlkifQ.eyJpc3MiOiJodHRwczovL2lkLmV4YW"
    "1wbGUiLCJhdWQiOiJhY2N1cHJlZGl4Iiwic3ViIjoiNDIiLCJpYXQiOjE3MDAwMDAwMDAsI"
    "mV4cCI6MTcwMDAwMDkwMCwianRpIjoiaW50ZXJvcCJ9.-CfYPvk5qgXOhTj_kli_sAAr8mx_"
    "GT7X-CORCs4Q91ree0oRYUD09Egh6fIZlE4MRsQZYkF7lM92rhg5ILKfag";

#define NOW		1700000100
#define LEEWAY		60
#define ISS		"https://id.example"
#define AUD		"accupredix"
#define TYP		"at+jwt"

enum sigmode {
	SIG_RS,		/* proper JWS: r || s, 64 bytes */
	SIG_DER,	/* the DER ECDSA-Sig-Value instead */
	SIG_SHORT,	/* r || s minus its last byte (63) */
	SIG_LONG,	/* r || s plus a zero byte (65) */
	SIG_EMPTY,	/* "h.p." */
	SIG_ZERO,	/* 64 zero bytes */
};

static struct {
	struct apx_jwt_keyring	*ring;	/* A (fixed, current) and B */
	const struct apx_jwt_key *a, *b;
	EVP_PKEY		*apk, *bpk;	/* private halves, to craft */
	struct apx_jwt_expect	 ex;
} g;

static char	*b64u(const void *, size_t);
static unsigned char *unb64u(const char *, size_t, size_t *);
static char	*dup_printf(const char *, ...) APX_PRINTF(1, 2);
static char	*signing_input(const char *, const char *);
static char	*with_sig(const char *, const unsigned char *, size_t);
static size_t	 es256_der(EVP_PKEY *, const char *, unsigned char *);
static void	 der_to_rs(const unsigned char *, size_t, unsigned char *);
static char	*craft(EVP_PKEY *, const char *, const char *, enum sigmode);
static char	*craftj(EVP_PKEY *, json_t *, json_t *, enum sigmode);
static char	*std_header(const char *);
static json_t	*std_claims(void);
static char	*sign_claims(json_t *);
static EVP_PKEY	*pkey_of(const struct apx_jwt_key *);
static char	*pem_of(EVP_PKEY *, int);
static int	 independent_verify(EVP_PKEY *, const char *);
static void	 flip(char *);
static void	 refused(int, const struct apx_jwt_keyring *, const char *,
		    size_t, const struct apx_jwt_expect *, int,
		    enum apx_jwt_reason);
static json_t	*accepted(int, const struct apx_jwt_keyring *, const char *,
		    const struct apx_jwt_expect *);

#define REFUSED(tok, rc, why) \
	refused(__LINE__, g.ring, (tok), strlen(tok), &g.ex, (rc), (why))
/* Claims C (consumed) signed by A with the standard header. */
#define REFUSED_CLAIMS(c, why) do { \
	json_t *c_ = (c); \
	char *t_ = craftj(g.apk, NULL, c_, SIG_RS); \
	REFUSED(t_, APX_EUNAUTH, (why)); \
	free(t_); \
	json_decref(c_); \
} while (0)
#define ACCEPTED(tok)	accepted(__LINE__, g.ring, (tok), &g.ex)


/* --- the test's own encoding and signing --------------------------------- */

/* base64url without padding, through OpenSSL's plain base64. */
static char *
b64u(const void *in, size_t n)
{
	char *out = malloc(n / 3 * 4 + 5);
	int len, i;

	assert_non_null(out);
	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	for (i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
		else if (out[i] == '=') {
			out[i] = '\0';
			break;
		}
	}
	return out;
}

static unsigned char *
unb64u(const char *s, size_t n, size_t *outlen)
{
	size_t pad = (4 - n % 4) % 4, i;
	char *t = malloc(n + pad + 1);
	unsigned char *out = malloc(n + pad + 1);
	int len;

	assert_non_null(t);
	assert_non_null(out);
	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	for (; i < n + pad; i++)
		t[i] = '=';
	len = EVP_DecodeBlock(out, (unsigned char *)t, (int)(n + pad));
	assert_true(len >= (int)pad);
	*outlen = (size_t)len - pad;
	free(t);
	return out;
}

static char *
dup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* "b64u(H).b64u(P)" */
static char *
signing_input(const char *h, const char *p)
{
	char *hb = b64u(h, strlen(h)), *pb = b64u(p, strlen(p));
	char *s = dup_printf("%s.%s", hb, pb);

	free(hb);
	free(pb);
	return s;
}

static char *
with_sig(const char *in, const unsigned char *sig, size_t n)
{
	char *sb = b64u(sig, n), *s = dup_printf("%s.%s", in, sb);

	free(sb);
	return s;
}

static size_t
es256_der(EVP_PKEY *pk, const char *in, unsigned char *der)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = 80;

	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL,
	    pk, NULL), 1);
	assert_int_equal(EVP_DigestSign(md, der, &n,
	    (const unsigned char *)in, strlen(in)), 1);
	EVP_MD_CTX_free(md);
	return n;
}

static void
der_to_rs(const unsigned char *der, size_t n, unsigned char *rs)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
	const BIGNUM *r, *s;

	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &s);
	assert_int_equal(BN_bn2binpad(r, rs, 32), 32);
	assert_int_equal(BN_bn2binpad(s, rs + 32, 32), 32);
	ECDSA_SIG_free(es);
}

/* A token with header H and payload P signed by PK, signature per MODE. */
static char *
craft(EVP_PKEY *pk, const char *h, const char *p, enum sigmode mode)
{
	char *in = signing_input(h, p), *tok = NULL;
	unsigned char der[80], rs[65];
	size_t dl = es256_der(pk, in, der);

	der_to_rs(der, dl, rs);
	switch (mode) {
	case SIG_RS:
		tok = with_sig(in, rs, 64);
		break;
	case SIG_DER:
		tok = with_sig(in, der, dl);
		break;
	case SIG_SHORT:
		tok = with_sig(in, rs, 63);
		break;
	case SIG_LONG:
		rs[64] = 0;
		tok = with_sig(in, rs, 65);
		break;
	case SIG_EMPTY:
		tok = with_sig(in, rs, 0);
		break;
	case SIG_ZERO:
		memset(rs, 0, sizeof(rs));
		tok = with_sig(in, rs, 64);
		break;
	}
	free(in);
	assert_non_null(tok);
	return tok;
}

/* Same from JSON values; HDR NULL: the standard header of key A. */
static char *
craftj(EVP_PKEY *pk, json_t *hdr, json_t *claims, enum sigmode mode)
{
	char *h = hdr != NULL ? json_dumps(hdr, JSON_COMPACT) :
	    std_header(FIXED_KID);
	char *p = json_dumps(claims, JSON_COMPACT), *tok;

	assert_non_null(h);
	assert_non_null(p);
	tok = craft(pk, h, p, mode);
	free(h);
	free(p);
	return tok;
}

static char *
std_header(const char *kid)
{
	return dup_printf("{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":"
	    "\"%s\"}", kid);
}

static json_t *
std_claims(void)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", ISS,
	    "aud", AUD, "sub", "42", "iat", (json_int_t)(NOW - 100),
	    "exp", (json_int_t)(NOW + 800));

	assert_non_null(c);
	return c;
}

/* Signed by the module with key A. */
static char *
sign_claims(json_t *claims)
{
	char *tok = NULL;

	assert_int_equal(apx_jwt_sign(g.a, TYP, claims, &tok), 0);
	assert_non_null(tok);
	return tok;
}

static EVP_PKEY *
pkey_of(const struct apx_jwt_key *k)
{
	struct apx_secret *pem = NULL;
	EVP_PKEY *pk;
	BIO *bio;

	assert_int_equal(apx_jwt_key_private_pem(k, &pem), 0);
	bio = BIO_new_mem_buf(pem->data, (int)pem->len);
	assert_non_null(bio);
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	assert_non_null(pk);
	BIO_free(bio);
	apx_secret_free(pem);
	return pk;
}

/* 0: PKCS#8, 1: SPKI, 2: SEC1 "EC PRIVATE KEY", 3: encrypted PKCS#8. */
static char *
pem_of(EVP_PKEY *pk, int kind)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s;
	long n;
	int ok = 0;

	assert_non_null(bio);
	switch (kind) {
	case 0:
		ok = PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL,
		    NULL);
		break;
	case 1:
		ok = PEM_write_bio_PUBKEY(bio, pk);
		break;
	case 2:
		ok = PEM_write_bio_PrivateKey_traditional(bio, pk, NULL, NULL,
		    0, NULL, NULL);
		break;
	case 3:
		ok = PEM_write_bio_PKCS8PrivateKey(bio, pk, EVP_aes_256_cbc(),
		    NULL, 0, NULL, (void *)(uintptr_t)"passphrase");
		break;
	}
	assert_int_equal(ok, 1);
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

/* 1 when TOK's r || s signature verifies with PK (no module code used). */
static int
independent_verify(EVP_PKEY *pk, const char *tok)
{
	const char *dot = strrchr(tok, '.');
	unsigned char *sig, *der = NULL;
	ECDSA_SIG *es;
	EVP_MD_CTX *md;
	size_t n;
	int dl, ok;

	assert_non_null(dot);
	sig = unb64u(dot + 1, strlen(dot + 1), &n);
	assert_int_equal(n, 64);
	es = ECDSA_SIG_new();
	assert_non_null(es);
	assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
	    BN_bin2bn(sig + 32, 32, NULL)), 1);
	dl = i2d_ECDSA_SIG(es, &der);
	assert_true(dl > 0);
	md = EVP_MD_CTX_new();
	assert_non_null(md);
	assert_int_equal(EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL,
	    NULL, pk, NULL), 1);
	ok = EVP_DigestVerify(md, der, (size_t)dl, (const unsigned char *)tok,
	    (size_t)(dot - tok)) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	free(sig);
	return ok;
}

/* Verification must fail with exactly RC and WHY, and hand out no claims. */
static void
refused(int line, const struct apx_jwt_keyring *kr, const char *tok,
    size_t len, const struct apx_jwt_expect *ex, int want_rc,
    enum apx_jwt_reason want_why)
{
	json_t *claims = json_null();
	enum apx_jwt_reason why = APX_JWT_OK;
	int rc = apx_jwt_verify(kr, tok, len, ex, &claims, &why);

	if (rc != want_rc || why != want_why || claims != NULL)
		fail_msg("line %d: rc %d (want %d), why \"%s\" (want \"%s\"), "
		    "claims %s", line, rc, want_rc, apx_jwt_reason_str(why),
		    apx_jwt_reason_str(want_why), claims ? "set" : "NULL");
}

static json_t *
accepted(int line, const struct apx_jwt_keyring *kr, const char *tok,
    const struct apx_jwt_expect *ex)
{
	json_t *claims = NULL;
	enum apx_jwt_reason why = APX_JWT_MALFORMED;
	int rc = apx_jwt_verify(kr, tok, strlen(tok), ex, &claims, &why);

	if (rc != 0 || why != APX_JWT_OK || !json_is_object(claims))
		fail_msg("line %d: refused: rc %d, why \"%s\"", line, rc,
		    apx_jwt_reason_str(why));
	return claims;
}

/* --- fixture ------------------------------------------------------------- */

static int
group_setup(void **state)
{
	struct apx_jwt_key *a = NULL, *b = NULL;

	(void)state;
	if (apx_jwt_key_from_pem(fixed_pem, strlen(fixed_pem), &a) != 0 ||
	    apx_jwt_key_generate(&b) != 0 ||
	    (g.ring = apx_jwt_keyring_new()) == NULL ||
	    apx_jwt_keyring_add(g.ring, a, 1) != 0 ||
	    apx_jwt_keyring_add(g.ring, b, 0) != 0)
		return -1;
	g.a = a;
	g.b = b;
	g.apk = pkey_of(a);
	g.bpk = pkey_of(b);
	g.ex.typ = TYP;
	g.ex.iss = ISS;
	g.ex.aud = AUD;
	g.ex.now = NOW;
	g.ex.leeway = LEEWAY;
	g.ex.max_lifetime = 86400;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	apx_jwt_keyring_free(g.ring);
	EVP_PKEY_free(g.apk);
	EVP_PKEY_free(g.bpk);
	memset(&g, 0, sizeof(g));
	return 0;
}

/* --- keys, kids, JWKS, PEM ----------------------------------------------- */

static void
test_kid_is_rfc7638_thumbprint(void **state)
{
	json_t *jwk = NULL;

	(void)state;
	assert_string_equal(apx_jwt_key_kid(g.a), FIXED_KID);
	assert_int_equal(strlen(apx_jwt_key_kid(g.b)), APX_JWT_KID_LEN);
	assert_string_not_equal(apx_jwt_key_kid(g.b), FIXED_KID);
	assert_int_equal(apx_jwt_key_jwk(g.a, &jwk), 0);
	assert_string_equal(json_string_value(json_object_get(jwk, "x")),
	    FIXED_X);
	assert_string_equal(json_string_value(json_object_get(jwk, "y")),
	    FIXED_Y);
	assert_string_equal(json_string_value(json_object_get(jwk, "kid")),
	    FIXED_KID);
	json_decref(jwk);
	assert_null(apx_jwt_key_kid(NULL));
}

static void
test_jwks_public_only(void **state)
{
	static const char *const allowed[] = {
		"kty", "crv", "x", "y", "kid", "use", "alg",
	};
	json_t *jwks = NULL, *keys, *k, *v;
	const char *name;
	size_t i, j;
	int known;

	(void)state;
	assert_int_equal(apx_jwt_jwks(g.ring, &jwks), 0);
	assert_int_equal(json_object_size(jwks), 1);
	keys = json_object_get(jwks, "keys");
	assert_true(json_is_array(keys));
	assert_int_equal(json_array_size(keys), 2);
	json_array_foreach(keys, i, k) {
		assert_null(json_object_get(k, "d"));
		json_object_foreach(k, name, v) {
			known = 0;
			for (j = 0; j < APX_NELEM(allowed); j++)
				known |= strcmp(name, allowed[j]) == 0;
			if (!known)
				fail_msg("JWK member \"%s\"", name);
			assert_true(json_is_string(v));
		}
		assert_int_equal(json_object_size(k), 7);
		assert_string_equal(json_string_value(json_object_get(k,
		    "kty")), "EC");
		assert_string_equal(json_string_value(json_object_get(k,
		    "crv")), "P-256");
		assert_string_equal(json_string_value(json_object_get(k,
		    "use")), "sig");
		assert_string_equal(json_string_value(json_object_get(k,
		    "alg")), "ES256");
		assert_int_equal(json_string_length(json_object_get(k, "x")),
		    43);
		assert_int_equal(json_string_length(json_object_get(k, "y")),
		    43);
	}
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(keys, 0), "kid")), FIXED_KID);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(keys, 1), "kid")), apx_jwt_key_kid(g.b));
	json_decref(jwks);
}

static void
test_pem_round_trip(void **state)
{
	struct apx_secret *priv = NULL;
	struct apx_jwt_key *k1 = NULL, *k2 = NULL;
	struct apx_jwt_keyring *kr;
	json_t *c = std_claims(), *out;
	char *pub = NULL, *tok = NULL;

	(void)state;
	assert_int_equal(apx_jwt_key_private_pem(g.b, &priv), 0);
	assert_non_null(strstr(apx_secret_str(priv),
	    "-----BEGIN PRIVATE KEY-----\n"));
	assert_int_equal(apx_jwt_key_public_pem(g.b, &pub), 0);
	assert_non_null(strstr(pub, "-----BEGIN PUBLIC KEY-----\n"));
	assert_null(strstr(pub, "PRIVATE"));

	/* Private half back: same kid, signs. */
	assert_int_equal(apx_jwt_key_from_pem((const char *)priv->data,
	    priv->len, &k1), 0);
	assert_string_equal(apx_jwt_key_kid(k1), apx_jwt_key_kid(g.b));
	assert_int_equal(apx_jwt_sign(k1, TYP, c, &tok), 0);
	/* Public half back: same kid, verifies what the private half signed. */
	assert_int_equal(apx_jwt_key_from_pem(pub, strlen(pub), &k2), 0);
	assert_string_equal(apx_jwt_key_kid(k2), apx_jwt_key_kid(g.b));
	kr = apx_jwt_keyring_new();
	assert_non_null(kr);
	assert_int_equal(apx_jwt_keyring_add(kr, k2, 0), 0);
	out = accepted(__LINE__, kr, tok, &g.ex);
	assert_true(json_equal(out, c));
	json_decref(out);
	/* The module's PEM is plain PKCS#8: OpenSSL reads it as such. */
	EVP_PKEY_free(pkey_of(k1));

	apx_jwt_keyring_free(kr);
	apx_jwt_key_free(k1);
	apx_secret_free(priv);
	free(pub);
	free(tok);
	json_decref(c);
}

static void
test_public_only_cannot_sign(void **state)
{
	struct apx_jwt_key *k = NULL;
	struct apx_jwt_keyring *kr;
	struct apx_secret *priv = (struct apx_secret *)&priv;
	json_t *c = std_claims();
	char *pub = NULL, *tok = (char *)&tok;

	(void)state;
	assert_int_equal(apx_jwt_key_public_pem(g.a, &pub), 0);
	assert_int_equal(apx_jwt_key_from_pem(pub, strlen(pub), &k), 0);
	assert_string_equal(apx_jwt_key_kid(k), FIXED_KID);
	assert_int_equal(apx_jwt_sign(k, TYP, c, &tok), APX_EINVAL);
	assert_null(tok);
	assert_int_equal(apx_jwt_key_private_pem(k, &priv), APX_EINVAL);
	assert_null(priv);
	/* Nor can it be a ring's signing key (and stays ours then). */
	kr = apx_jwt_keyring_new();
	assert_non_null(kr);
	assert_int_equal(apx_jwt_keyring_add(kr, k, 1), APX_EINVAL);
	assert_null(apx_jwt_keyring_current(kr));
	assert_int_equal(apx_jwt_keyring_add(kr, k, 0), 0);
	assert_null(apx_jwt_keyring_current(kr));
	apx_jwt_keyring_free(kr);
	free(pub);
	json_decref(c);
}

static void
test_pem_refused(void **state)
{
	static const char *const kinds[] = {
		"P-384", "secp256k1", "RSA", "ED25519",
	};
	struct apx_jwt_key *k = (struct apx_jwt_key *)&k;
	EVP_PKEY *pk;
	char *pem, *p, *junk;
	size_t i;
	int w;
	/* SPKI of P-256 with the point (1, 1): not on the curve. */
	unsigned char spki[91] = {
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
		0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
		0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
	};
	unsigned char b64[200];

	(void)state;
	for (i = 0; i < APX_NELEM(kinds); i++) {
		if (strcmp(kinds[i], "RSA") == 0)
			pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		else if (strcmp(kinds[i], "ED25519") == 0)
			pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		else
			pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", kinds[i]);
		assert_non_null(pk);
		for (w = 0; w < 2; w++) {
			pem = pem_of(pk, w);
			if (apx_jwt_key_from_pem(pem, strlen(pem), &k) !=
			    APX_EINVAL || k != NULL)
				fail_msg("%s key (%s) accepted", kinds[i],
				    w ? "public" : "private");
			k = (struct apx_jwt_key *)&k;
			free(pem);
		}
		EVP_PKEY_free(pk);
	}

	/* P-256 but in SEC1 or encrypted PKCS#8: only the two plain forms. */
	pem = pem_of(g.apk, 2);
	assert_non_null(strstr(pem, "BEGIN EC PRIVATE KEY"));
	assert_int_equal(apx_jwt_key_from_pem(pem, strlen(pem), &k),
	    APX_EINVAL);
	assert_null(k);
	free(pem);
	pem = pem_of(g.apk, 3);
	assert_non_null(strstr(pem, "BEGIN ENCRYPTED PRIVATE KEY"));
	assert_int_equal(apx_jwt_key_from_pem(pem, strlen(pem), &k),
	    APX_EINVAL);
	free(pem);

	/* Point not on the curve. */
	spki[27 + 31] = 1;
	spki[59 + 31] = 1;
	EVP_EncodeBlock(b64, spki, sizeof(spki));
	pem = dup_printf("-----BEGIN PUBLIC KEY-----\n%.64s\n%s\n"
	    "-----END PUBLIC KEY-----\n", (char *)b64, (char *)b64 + 64);
	assert_int_equal(apx_jwt_key_from_pem(pem, strlen(pem), &k),
	    APX_EINVAL);
	free(pem);

	/* A private scalar that does not match the stored public point. */
	pem = strdup(fixed_pem);
	assert_non_null(pem);
	p = strstr(pem, "QQgiMYV");
	assert_non_null(p);
	p[3] = 'j';
	assert_int_equal(apx_jwt_key_from_pem(pem, strlen(pem), &k),
	    APX_EINVAL);
	free(pem);

	/* Damaged, truncated, trailed by another block, empty, absent. */
	pem = strdup(fixed_pem);
	assert_non_null(pem);
	p = strchr(pem, '\n') + 10;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(apx_jwt_key_from_pem(pem, strlen(pem), &k),
	    APX_EINVAL);
	free(pem);
	assert_int_equal(apx_jwt_key_from_pem(fixed_pem, strlen(fixed_pem) -
	    30, &k), APX_EINVAL);
	junk = dup_printf("%s%s", fixed_pem, fixed_pem);
	assert_int_equal(apx_jwt_key_from_pem(junk, strlen(junk), &k),
	    APX_EINVAL);
	free(junk);
	junk = dup_printf("%sjunk\n", fixed_pem);
	assert_int_equal(apx_jwt_key_from_pem(junk, strlen(junk), &k),
	    APX_EINVAL);
	free(junk);
	assert_int_equal(apx_jwt_key_from_pem("", 0, &k), APX_EINVAL);
	assert_int_equal(apx_jwt_key_from_pem("garbage", 7, &k), APX_EINVAL);
	assert_int_equal(apx_jwt_key_from_pem(NULL, 5, &k), APX_EINVAL);
	assert_null(k);
	assert_int_equal(ERR_peek_error(), 0);
	/* Trailing whitespace is fine; the input need not end in a NUL. */
	junk = dup_printf("%s\n\n  \n", fixed_pem);
	assert_int_equal(apx_jwt_key_from_pem(junk, strlen(junk), &k), 0);
	assert_string_equal(apx_jwt_key_kid(k), FIXED_KID);
	apx_jwt_key_free(k);
	free(junk);
	apx_jwt_key_free(NULL);
}

static void
test_keyring(void **state)
{
	struct apx_jwt_keyring *kr = apx_jwt_keyring_new();
	struct apx_jwt_key *k1 = NULL, *k2 = NULL, *k3 = NULL;
	json_t *jwks = NULL;

	(void)state;
	assert_non_null(kr);
	assert_null(apx_jwt_keyring_current(kr));
	assert_int_equal(apx_jwt_jwks(kr, &jwks), 0);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 0);
	json_decref(jwks);
	assert_int_equal(apx_jwt_key_from_pem(fixed_pem, strlen(fixed_pem),
	    &k1), 0);
	assert_int_equal(apx_jwt_key_from_pem(fixed_pem, strlen(fixed_pem),
	    &k2), 0);
	assert_int_equal(apx_jwt_key_generate(&k3), 0);
	assert_int_equal(apx_jwt_keyring_add(kr, k1, 1), 0);
	assert_ptr_equal(apx_jwt_keyring_current(kr), k1);
	/* Same kid again: refused, and the key is still the caller's. */
	assert_int_equal(apx_jwt_keyring_add(kr, k2, 0), APX_ECONFLICT);
	assert_int_equal(apx_jwt_keyring_add(kr, k1, 0), APX_ECONFLICT);
	apx_jwt_key_free(k2);
	/* A later current key takes over signing. */
	assert_int_equal(apx_jwt_keyring_add(kr, k3, 1), 0);
	assert_ptr_equal(apx_jwt_keyring_current(kr), k3);
	assert_int_equal(apx_jwt_keyring_add(NULL, k3, 0), APX_EINVAL);
	assert_int_equal(apx_jwt_keyring_add(kr, NULL, 0), APX_EINVAL);
	assert_null(apx_jwt_keyring_current(NULL));
	apx_jwt_keyring_free(kr);
	apx_jwt_keyring_free(NULL);
}

/* --- sign and verify ----------------------------------------------------- */

static void
test_round_trip(void **state)
{
	json_t *c = std_claims(), *out, *hdr = NULL, *pay = NULL;
	char *tok;

	(void)state;
	assert_int_equal(json_object_set_new(c, "scope", json_pack("[s, s]",
	    "read", "write")), 0);
	assert_int_equal(json_object_set_new(c, "org", json_pack("{s:I, s:s}",
	    "id", (json_int_t)7, "name", "Zoë & Co \"quoted\"")), 0);
	assert_int_equal(json_object_set_new(c, "sid", json_integer(99)), 0);
	tok = sign_claims(c);
	assert_int_equal(c->refcount, 1);	/* claims not consumed */
	out = ACCEPTED(tok);
	assert_true(json_equal(out, c));
	json_decref(out);
	/* The signature is a plain JWS r || s that OpenSSL checks by itself. */
	assert_true(independent_verify(g.apk, tok));
	/* Header: exactly alg, typ, kid. */
	assert_int_equal(apx_jwt_decode(tok, strlen(tok), &hdr, &pay), 0);
	assert_int_equal(json_object_size(hdr), 3);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")),
	    "ES256");
	assert_string_equal(json_string_value(json_object_get(hdr, "typ")),
	    TYP);
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")),
	    FIXED_KID);
	assert_true(json_equal(pay, c));
	json_decref(hdr);
	json_decref(pay);
	/* Output pointers are optional. */
	assert_int_equal(apx_jwt_verify(g.ring, tok, strlen(tok), &g.ex, NULL,
	    NULL), 0);
	free(tok);
	json_decref(c);
}

/* r or s below 2^248 must be left-padded to 32 bytes: find such a case. */
static void
test_sign_pads_short_r_s(void **state)
{
	json_t *c = std_claims();
	unsigned char *sig;
	char *tok;
	size_t n;
	int i, found = 0;

	(void)state;
	/* A leading zero byte has odds 1/128 per signature. */
	for (i = 0; i < 4096 && !found; i++) {
		tok = sign_claims(c);
		sig = unb64u(strrchr(tok, '.') + 1, 86, &n);
		assert_int_equal(n, 64);
		if (sig[0] == 0 || sig[32] == 0) {
			found = 1;
			json_decref(ACCEPTED(tok));
			assert_true(independent_verify(g.apk, tok));
		}
		free(sig);
		free(tok);
	}
	assert_true(found);
	json_decref(c);
}

static void
test_verify_with_any_ring_key(void **state)
{
	json_t *c = std_claims(), *out;
	char *h = std_header(apx_jwt_key_kid(g.b)), *p, *tok;

	(void)state;
	/* B is not the current key but still verifies. */
	p = json_dumps(c, JSON_COMPACT);
	tok = craft(g.bpk, h, p, SIG_RS);
	out = ACCEPTED(tok);
	json_decref(out);
	free(tok);
	free(h);
	free(p);
	json_decref(c);
}

static void
test_interop(void **state)
{
	json_t *out;
	json_t *c = std_claims();
	char *tok;

	(void)state;
	/* Signed by python-cryptography. */
	out = ACCEPTED(interop_token);
	assert_string_equal(json_string_value(json_object_get(out, "jti")),
	    "interop");
	assert_string_equal(json_string_value(json_object_get(out, "sub")),
	    "42");
	json_decref(out);
	/* Signed by this test's own DER -> r || s conversion. */
	tok = craftj(g.apk, NULL, c, SIG_RS);
	out = ACCEPTED(tok);
	json_decref(out);
	free(tok);
	json_decref(c);
}

static void
test_sign_refusals(void **state)
{
	json_t *c = std_claims(), *arr = json_array();
	char *tok = (char *)&tok;

	(void)state;
	assert_int_equal(apx_jwt_sign(NULL, TYP, c, &tok), APX_EINVAL);
	assert_null(tok);
	assert_int_equal(apx_jwt_sign(g.a, NULL, c, &tok), APX_EINVAL);
	assert_int_equal(apx_jwt_sign(g.a, TYP, arr, &tok), APX_EINVAL);
	assert_int_equal(apx_jwt_sign(g.a, TYP, NULL, &tok), APX_EINVAL);
	assert_int_equal(apx_jwt_sign(g.a, "\xff", c, &tok), APX_EINVAL);
	assert_int_equal(apx_jwt_sign(g.a, TYP, c, NULL), APX_EINVAL);
	assert_null(tok);
	json_decref(arr);
	json_decref(c);
}

/* --- algorithm ----------------------------------------------------------- */

static void
test_alg_none(void **state)
{
	json_t *c = std_claims();
	char *p = json_dumps(c, JSON_COMPACT), *in, *tok, *two;
	const char *h = "{\"alg\":\"none\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\"}";

	(void)state;
	/* "h.p." */
	tok = craft(g.apk, h, p, SIG_EMPTY);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_ALG);
	free(tok);
	/* "h.p.<a real ES256 signature over h.p>" */
	tok = craft(g.apk, h, p, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_ALG);
	free(tok);
	/* "h.p": not even three parts. */
	in = signing_input(h, p);
	REFUSED(in, APX_EINVAL, APX_JWT_MALFORMED);
	/* "None" / "NONE" and no alg at all. */
	two = craft(g.apk, "{\"alg\":\"NONE\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\"}", p, SIG_EMPTY);
	REFUSED(two, APX_EUNAUTH, APX_JWT_ALG);
	free(two);
	two = craft(g.apk, "{\"typ\":\"" TYP "\",\"kid\":\"" FIXED_KID "\"}",
	    p, SIG_RS);
	REFUSED(two, APX_EUNAUTH, APX_JWT_ALG);
	free(two);
	free(in);
	free(p);
	json_decref(c);
}

static void
test_alg_hs256_with_public_key(void **state)
{
	json_t *c = std_claims();
	char *p = json_dumps(c, JSON_COMPACT), *pub = NULL, *in, *tok;
	unsigned char mac[32];
	size_t n = 0;

	(void)state;
	/* The classic confusion: HMAC keyed with the verifier's public PEM. */
	assert_int_equal(apx_jwt_key_public_pem(g.a, &pub), 0);
	in = signing_input("{\"alg\":\"HS256\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\"}", p);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pub,
	    strlen(pub), (const unsigned char *)in, strlen(in), mac,
	    sizeof(mac), &n));
	assert_int_equal(n, 32);
	tok = with_sig(in, mac, n);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_ALG);
	free(tok);
	free(in);
	free(pub);
	free(p);
	json_decref(c);
}

static void
test_alg_near_misses(void **state)
{
	static const char *const algs[] = {
		"\"ES256 \"", "\"es256\"", "\" ES256\"", "\"ES384\"",
		"\"ES256K\"", "\"RS256\"", "\"PS256\"", "\"EdDSA\"",
		"\"ES25\"", "\"\"", "[\"ES256\"]", "null", "256",
		"\"ES256\\u0000\"",
	};
	json_t *c = std_claims();
	char *p = json_dumps(c, JSON_COMPACT), *h, *tok;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(algs); i++) {
		h = dup_printf("{\"alg\":%s,\"typ\":\"" TYP "\",\"kid\":\""
		    FIXED_KID "\"}", algs[i]);
		tok = craft(g.apk, h, p, SIG_RS);
		/* jansson refuses a \u0000 outright: malformed then. */
		if (strstr(algs[i], "u0000") != NULL)
			REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
		else
			REFUSED(tok, APX_EUNAUTH, APX_JWT_ALG);
		free(tok);
		free(h);
	}
	free(p);
	json_decref(c);
}

/* --- header: typ, kid, crit, jwk ----------------------------------------- */

static void
test_typ(void **state)
{
	static const char *const bad[] = {
		"\"JWT\"", "\"AT+JWT\"", "\"application/at+jwt\"",
		"\"at+jwt \"", "\"\"", "1", "null",
	};
	json_t *c = std_claims();
	char *p = json_dumps(c, JSON_COMPACT), *h, *tok;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(bad); i++) {
		h = dup_printf("{\"alg\":\"ES256\",\"typ\":%s,\"kid\":\""
		    FIXED_KID "\"}", bad[i]);
		tok = craft(g.apk, h, p, SIG_RS);
		REFUSED(tok, APX_EUNAUTH, APX_JWT_TYP);
		free(tok);
		free(h);
	}
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"kid\":\"" FIXED_KID "\"}", p,
	    SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_TYP);
	free(tok);
	free(p);
	json_decref(c);
}

static void
test_kid(void **state)
{
	struct apx_jwt_keyring *kr;
	struct apx_jwt_key *bcopy = NULL;
	struct apx_secret *priv = NULL;
	json_t *c = std_claims();
	char *p = json_dumps(c, JSON_COMPACT), *tok;

	(void)state;
	/* Unknown, missing, not a string, a prefix of ours. */
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":"
	    "\"no-such-key\"}", p, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_KID);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\"}", p,
	    SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_KID);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":"
	    "[\"" FIXED_KID "\"]}", p, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_KID);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":"
	    "\"2u6oERco1exCFIiWiiKjmbXG2\"}", p, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_KID);
	free(tok);

	/* A's key retired: a ring with B only no longer knows A's kid. */
	tok = sign_claims(c);
	kr = apx_jwt_keyring_new();
	assert_non_null(kr);
	assert_int_equal(apx_jwt_key_private_pem(g.b, &priv), 0);
	assert_int_equal(apx_jwt_key_from_pem((const char *)priv->data,
	    priv->len, &bcopy), 0);
	assert_int_equal(apx_jwt_keyring_add(kr, bcopy, 1), 0);
	refused(__LINE__, kr, tok, strlen(tok), &g.ex, APX_EUNAUTH,
	    APX_JWT_KID);
	apx_jwt_keyring_free(kr);
	/* An empty ring knows nothing. */
	kr = apx_jwt_keyring_new();
	refused(__LINE__, kr, tok, strlen(tok), &g.ex, APX_EUNAUTH,
	    APX_JWT_KID);
	apx_jwt_keyring_free(kr);
	apx_secret_free(priv);
	free(tok);
	free(p);
	json_decref(c);
}

static void
test_foreign_key_with_our_kid(void **state)
{
	EVP_PKEY *evil = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	json_t *c = std_claims();
	char *p = json_dumps(c, JSON_COMPACT), *h, *tok;

	(void)state;
	assert_non_null(evil);
	/* Another key, well formed, claiming our kid: the signature fails. */
	h = std_header(FIXED_KID);
	tok = craft(evil, h, p, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_SIGNATURE);
	free(tok);
	free(h);
	/* B's signature under A's kid: also no. */
	h = std_header(FIXED_KID);
	tok = craft(g.bpk, h, p, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_SIGNATURE);
	free(tok);
	free(h);
	EVP_PKEY_free(evil);
	free(p);
	json_decref(c);
}

static void
test_embedded_jwk_ignored(void **state)
{
	struct apx_jwt_key *evil = NULL;
	EVP_PKEY *epk;
	json_t *c = std_claims(), *jwk = NULL, *h;
	char *tok;

	(void)state;
	assert_int_equal(apx_jwt_key_generate(&evil), 0);
	epk = pkey_of(evil);
	assert_int_equal(apx_jwt_key_jwk(evil, &jwk), 0);
	/* Attacker's key inline and its own kid: unknown kid. */
	h = json_pack("{s:s, s:s, s:s, s:O}", "alg", "ES256", "typ", TYP,
	    "kid", apx_jwt_key_kid(evil), "jwk", jwk);
	tok = craftj(epk, h, c, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_KID);
	free(tok);
	json_decref(h);
	/* ...and with our kid: our key says the signature is wrong. */
	h = json_pack("{s:s, s:s, s:s, s:O, s:s, s:[s]}", "alg", "ES256",
	    "typ", TYP, "kid", FIXED_KID, "jwk", jwk, "jku",
	    "https://evil.example/jwks", "x5c", "MIIB");
	tok = craftj(epk, h, c, SIG_RS);
	REFUSED(tok, APX_EUNAUTH, APX_JWT_SIGNATURE);
	free(tok);
	/* Those members are ignored, not refused: signed by A, it passes. */
	tok = craftj(g.apk, h, c, SIG_RS);
	json_decref(ACCEPTED(tok));
	free(tok);
	json_decref(h);
	json_decref(jwk);
	EVP_PKEY_free(epk);
	apx_jwt_key_free(evil);
	json_decref(c);
}

static void
test_crit_and_header_json(void **state)
{
	json_t *c = std_claims();
	char *p = json_dumps(c, JSON_COMPACT), *tok;

	(void)state;
	/* Any crit, even empty or naming nothing we know. */
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\",\"crit\":[\"exp\"]}", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\",\"crit\":[]}", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	/* Duplicate members, either order. */
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"alg\":\"none\",\"typ\":\""
	    TYP "\",\"kid\":\"" FIXED_KID "\"}", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":\""
	    "no-such-key\",\"kid\":\"" FIXED_KID "\"}", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	/* Not an object, not JSON, trailing bytes, NUL escapes. */
	tok = craft(g.apk, "[\"ES256\"]", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\"", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\"}x", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	tok = craft(g.apk, "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\",\"x\":\"\\u0000\"}", p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	free(p);
	json_decref(c);
}

/* --- signature ------------------------------------------------------------ */

/* Another base64url character: the part still decodes, to other bytes. */
static void
flip(char *c)
{
	*c = *c == 'A' ? 'B' : 'A';
}

static void
test_tampering(void **state)
{
	json_t *c = std_claims();
	char *tok = sign_claims(c), *t, *d1, *d2;
	size_t n = strlen(tok);

	(void)state;
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	/* One character in the middle of the payload. */
	t = strdup(tok);
	assert_non_null(t);
	flip(&t[(size_t)(d1 - tok) + (size_t)(d2 - d1) / 2]);
	REFUSED(t, APX_EUNAUTH, APX_JWT_SIGNATURE);
	free(t);
	/* One character in the middle of the signature. */
	t = strdup(tok);
	assert_non_null(t);
	flip(&t[(size_t)(d2 - tok) + (n - (size_t)(d2 - tok)) / 2]);
	REFUSED(t, APX_EUNAUTH, APX_JWT_SIGNATURE);
	free(t);
	/* Last signature character made non-canonical (low bits set). */
	t = strdup(tok);
	assert_non_null(t);
	assert_int_equal(n - (size_t)(d2 - tok) - 1, 86);
	t[n - 1] = t[n - 1] == 'A' ? 'B' : t[n - 1] == 'Q' ? 'R' :
	    t[n - 1] == 'g' ? 'h' : 'x';
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	free(tok);
	json_decref(c);
}

static void
test_signature_shapes(void **state)
{
	static const enum sigmode modes[] = {
		SIG_DER, SIG_SHORT, SIG_LONG, SIG_EMPTY, SIG_ZERO,
	};
	json_t *c = std_claims();
	char *tok;
	size_t i;

	(void)state;
	for (i = 0; i < APX_NELEM(modes); i++) {
		tok = craftj(g.apk, NULL, c, modes[i]);
		REFUSED(tok, APX_EUNAUTH, APX_JWT_SIGNATURE);
		free(tok);
	}
	/* Refusals leave nothing in OpenSSL's error queue. */
	assert_int_equal(ERR_peek_error(), 0);
	json_decref(c);
}

/* --- encoding and structure ---------------------------------------------- */

static void
test_encoding(void **state)
{
	json_t *c = std_claims();
	char *tok = sign_claims(c), *t, *d1;
	size_t n = strlen(tok), i;
	static const char *const ins[] = { " ", "\n", "\t", "=", "+", "/",
	    "%", "\\" };

	(void)state;
	d1 = strchr(tok, '.');
	/* Padding at the end of each part, and characters inside one. */
	t = dup_printf("%s=", tok);
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%s==", tok);
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%.*s=%s", (int)(d1 - tok), tok, d1);
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	for (i = 0; i < APX_NELEM(ins); i++) {
		t = dup_printf("%.20s%s%s", tok, ins[i], tok + 20);
		REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
		free(t);
		t = dup_printf("%s%s", tok, ins[i]);
		REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
		free(t);
	}
	/* The standard alphabet's '+' and '/' for '-' and '_'. */
	t = strdup(tok);
	assert_non_null(t);
	for (i = 0; i < n; i++) {
		if (t[i] == '-')
			t[i] = '+';
		else if (t[i] == '_')
			t[i] = '/';
	}
	if (strcmp(t, tok) != 0)
		REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	/* Never seen in a part: replace one character by each. */
	t[5] = '+';
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	t[5] = '/';
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	/* A NUL inside, counted in LEN. */
	t = strdup(tok);
	assert_non_null(t);
	t[30] = '\0';
	refused(__LINE__, g.ring, t, n, &g.ex, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	/* A length of one mod four is impossible in base64. */
	t = dup_printf("eyJhb%s", d1);
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%sAAA", tok);	/* zero bits, still impossible */
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	/*
	 * The fixed token's signature has '-' and '_': spelt '+' and '/' it
	 * would decode to the same bytes and verify, were they accepted.
	 */
	t = strdup(interop_token);
	assert_non_null(t);
	d1 = strrchr(t, '.');
	assert_non_null(strchr(d1, '-'));
	assert_non_null(strchr(d1, '_'));
	for (i = 0; d1[i] != '\0'; i++) {
		if (d1[i] == '-')
			d1[i] = '+';
		else if (d1[i] == '_')
			d1[i] = '/';
	}
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	free(tok);
	json_decref(c);
}

static void
test_parts(void **state)
{
	json_t *c = std_claims();
	char *tok = sign_claims(c), *t, *d1, *d2;

	(void)state;
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	t = dup_printf("%s.%s", tok, d2 + 1);		/* four parts */
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%s.", tok);			/* empty fourth */
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%.*s", (int)(d2 - tok), tok);	/* two parts */
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%.*s", (int)(d1 - tok), tok);	/* one part */
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%s", d1);			/* empty header */
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	t = dup_printf("%.*s.%s", (int)(d1 - tok), tok, d2);	/* no payload */
	REFUSED(t, APX_EINVAL, APX_JWT_MALFORMED);
	free(t);
	REFUSED("..", APX_EINVAL, APX_JWT_MALFORMED);
	REFUSED(".", APX_EINVAL, APX_JWT_MALFORMED);
	REFUSED("", APX_EINVAL, APX_JWT_MALFORMED);
	REFUSED("...", APX_EINVAL, APX_JWT_MALFORMED);
	refused(__LINE__, g.ring, NULL, 0, &g.ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	/* LEN is honoured: the token cut one byte short is refused. */
	refused(__LINE__, g.ring, tok, strlen(tok) - 1, &g.ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	free(tok);
	json_decref(c);
}

static void
test_size_cap(void **state)
{
	json_t *c = std_claims();
	char *pad, *tok, *under = NULL, *over = NULL, *signed_tok = NULL;
	size_t n;

	(void)state;
	pad = malloc(APX_JWT_MAX_LEN);
	assert_non_null(pad);
	/* Grow a claim until the token passes the cap; keep both sides. */
	for (n = 5700; over == NULL; n++) {
		memset(pad, 'x', n);
		pad[n] = '\0';
		assert_int_equal(json_object_set_new(c, "pad",
		    json_string(pad)), 0);
		tok = craftj(g.apk, NULL, c, SIG_RS);
		if (strlen(tok) <= APX_JWT_MAX_LEN) {
			free(under);
			under = tok;
			free(signed_tok);
			assert_int_equal(apx_jwt_sign(g.a, TYP, c,
			    &signed_tok), 0);
		} else {
			over = tok;
			assert_int_equal(apx_jwt_sign(g.a, TYP, c, &tok),
			    APX_ETOOBIG);
			assert_null(tok);
		}
	}
	assert_non_null(under);
	assert_true(strlen(under) >= APX_JWT_MAX_LEN - 3);
	assert_int_equal(strlen(signed_tok), strlen(under));
	json_decref(ACCEPTED(under));
	json_decref(ACCEPTED(signed_tok));
	REFUSED(over, APX_EINVAL, APX_JWT_MALFORMED);
	free(under);
	free(over);
	free(signed_tok);
	free(pad);
	json_decref(c);
}

/* --- claims --------------------------------------------------------------- */

static json_t *
claims_with(const char *name, json_t *v)
{
	json_t *c = std_claims();

	if (v == NULL)
		assert_int_equal(json_object_del(c, name), 0);
	else
		assert_int_equal(json_object_set_new(c, name, v), 0);
	return c;
}

static void
test_exp(void **state)
{
	json_t *c, *out;
	char *tok;

	(void)state;
	REFUSED_CLAIMS(claims_with("exp", NULL), APX_JWT_EXPIRED);
	REFUSED_CLAIMS(claims_with("exp", json_string("1700000900")),
	    APX_JWT_EXPIRED);
	REFUSED_CLAIMS(claims_with("exp", json_real(1700000900.0)),
	    APX_JWT_EXPIRED);
	REFUSED_CLAIMS(claims_with("exp", json_integer(NOW - 3600)),
	    APX_JWT_EXPIRED);
	/* One second past the leeway: expired; exactly at it: still good. */
	REFUSED_CLAIMS(claims_with("exp", json_integer(NOW - LEEWAY - 1)),
	    APX_JWT_EXPIRED);
	c = claims_with("exp", json_integer(NOW - LEEWAY));
	tok = craftj(g.apk, NULL, c, SIG_RS);
	out = ACCEPTED(tok);
	json_decref(out);
	free(tok);
	json_decref(c);
	/* Leeway 0: exp == now is the last good second. */
	g.ex.leeway = 0;
	c = claims_with("exp", json_integer(NOW));
	tok = craftj(g.apk, NULL, c, SIG_RS);
	json_decref(ACCEPTED(tok));
	free(tok);
	json_decref(c);
	REFUSED_CLAIMS(claims_with("exp", json_integer(NOW - 1)),
	    APX_JWT_EXPIRED);
	g.ex.leeway = LEEWAY;
	/* An exp whose sum with the leeway overflows is far future. */
	g.ex.max_lifetime = 0;
	c = claims_with("exp", json_integer(INT64_MAX));
	tok = craftj(g.apk, NULL, c, SIG_RS);
	json_decref(ACCEPTED(tok));
	free(tok);
	json_decref(c);
	g.ex.max_lifetime = 86400;
}

static void
test_nbf_iat(void **state)
{
	json_t *c;
	char *tok;

	(void)state;
	REFUSED_CLAIMS(claims_with("nbf", json_integer(NOW + LEEWAY + 1)),
	    APX_JWT_NOT_YET_VALID);
	REFUSED_CLAIMS(claims_with("nbf", json_string("0")),
	    APX_JWT_NOT_YET_VALID);
	REFUSED_CLAIMS(claims_with("nbf", json_null()),
	    APX_JWT_NOT_YET_VALID);
	c = claims_with("nbf", json_integer(NOW + LEEWAY));
	tok = craftj(g.apk, NULL, c, SIG_RS);
	json_decref(ACCEPTED(tok));
	free(tok);
	json_decref(c);

	REFUSED_CLAIMS(claims_with("iat", NULL), APX_JWT_IAT);
	REFUSED_CLAIMS(claims_with("iat", json_real(1.0)), APX_JWT_IAT);
	REFUSED_CLAIMS(claims_with("iat", json_integer(NOW + LEEWAY + 1)),
	    APX_JWT_IAT);
	c = claims_with("iat", json_integer(NOW + LEEWAY));
	tok = craftj(g.apk, NULL, c, SIG_RS);
	json_decref(ACCEPTED(tok));
	free(tok);
	json_decref(c);
}

static void
test_lifetime(void **state)
{
	json_t *c;
	char *tok;

	(void)state;
	/* exp - iat == max is fine, one more is not. */
	c = std_claims();
	json_object_set_new(c, "iat", json_integer(NOW - 1000));
	json_object_set_new(c, "exp", json_integer(NOW - 1000 + 86400));
	tok = craftj(g.apk, NULL, c, SIG_RS);
	json_decref(ACCEPTED(tok));
	free(tok);
	json_object_set_new(c, "exp", json_integer(NOW - 1000 + 86401));
	REFUSED_CLAIMS(c, APX_JWT_CLAIMS);
	/* exp - iat overflowing int64 is over any maximum. */
	c = std_claims();
	json_object_set_new(c, "iat", json_integer(INT64_MIN));
	json_object_set_new(c, "exp", json_integer(INT64_MAX));
	REFUSED_CLAIMS(c, APX_JWT_CLAIMS);
}

static void
test_iss_aud_sub(void **state)
{
	json_t *c;
	char *tok;

	(void)state;
	REFUSED_CLAIMS(claims_with("iss", NULL), APX_JWT_ISS);
	REFUSED_CLAIMS(claims_with("iss", json_string("https://evil.example")),
	    APX_JWT_ISS);
	REFUSED_CLAIMS(claims_with("iss", json_string(ISS "/")), APX_JWT_ISS);
	REFUSED_CLAIMS(claims_with("iss", json_pack("[s]", ISS)),
	    APX_JWT_ISS);

	REFUSED_CLAIMS(claims_with("aud", NULL), APX_JWT_AUD);
	REFUSED_CLAIMS(claims_with("aud", json_string("other")), APX_JWT_AUD);
	REFUSED_CLAIMS(claims_with("aud", json_string(AUD "x")), APX_JWT_AUD);
	REFUSED_CLAIMS(claims_with("aud", json_pack("[s, s]", "a", "b")),
	    APX_JWT_AUD);
	REFUSED_CLAIMS(claims_with("aud", json_array()), APX_JWT_AUD);
	REFUSED_CLAIMS(claims_with("aud", json_pack("[s, i]", AUD, 1)),
	    APX_JWT_AUD);
	REFUSED_CLAIMS(claims_with("aud", json_pack("{s:s}", "aud", AUD)),
	    APX_JWT_AUD);
	c = claims_with("aud", json_pack("[s, s]", "other", AUD));
	tok = craftj(g.apk, NULL, c, SIG_RS);
	json_decref(ACCEPTED(tok));
	free(tok);
	json_decref(c);

	REFUSED_CLAIMS(claims_with("sub", NULL), APX_JWT_CLAIMS);
	REFUSED_CLAIMS(claims_with("sub", json_string("")), APX_JWT_CLAIMS);
	REFUSED_CLAIMS(claims_with("sub", json_integer(42)), APX_JWT_CLAIMS);
}

static void
test_payload_json(void **state)
{
	const char *h = "{\"alg\":\"ES256\",\"typ\":\"" TYP "\",\"kid\":\""
	    FIXED_KID "\"}";
	char *p, *tok;

	(void)state;
	/* Correctly signed, but the payload is not one clean object. */
	p = dup_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	    "\"sub\":\"42\",\"sub\":\"1\",\"iat\":%d,\"exp\":%d}", NOW,
	    NOW + 100);
	tok = craft(g.apk, h, p, SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	free(p);
	tok = craft(g.apk, h, "[1,2]", SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	tok = craft(g.apk, h, "{\"sub\":", SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
	/* Integers beyond int64 are not numbers we accept. */
	tok = craft(g.apk, h, "{\"exp\":99999999999999999999}", SIG_RS);
	REFUSED(tok, APX_EINVAL, APX_JWT_MALFORMED);
	free(tok);
}

/* --- API edges ------------------------------------------------------------ */

static void
test_bad_expectations(void **state)
{
	struct apx_jwt_expect ex = g.ex;
	json_t *c = std_claims();
	char *tok = sign_claims(c);

	(void)state;
	refused(__LINE__, NULL, tok, strlen(tok), &g.ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	refused(__LINE__, g.ring, tok, strlen(tok), NULL, APX_EINVAL,
	    APX_JWT_MALFORMED);
	ex.typ = NULL;
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	ex = g.ex;
	ex.iss = NULL;
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	ex = g.ex;
	ex.aud = NULL;
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	ex = g.ex;
	ex.leeway = -1;
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	ex = g.ex;
	ex.max_lifetime = -1;
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EINVAL,
	    APX_JWT_MALFORMED);
	/* Another issuer or audience configured: refused by that check. */
	ex = g.ex;
	ex.iss = "https://other.example";
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EUNAUTH,
	    APX_JWT_ISS);
	ex = g.ex;
	ex.aud = "other";
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EUNAUTH,
	    APX_JWT_AUD);
	ex = g.ex;
	ex.typ = "JWT";
	refused(__LINE__, g.ring, tok, strlen(tok), &ex, APX_EUNAUTH,
	    APX_JWT_TYP);
	free(tok);
	json_decref(c);
}

static void
test_decode(void **state)
{
	json_t *c = std_claims(), *h = NULL, *p = NULL;
	char *tok = craft(g.apk, "{\"alg\":\"none\"}", "{\"sub\":\"x\"}",
	    SIG_EMPTY);

	(void)state;
	/* Structure only: an unsigned alg none token decodes. */
	assert_int_equal(apx_jwt_decode(tok, strlen(tok), &h, &p), 0);
	assert_string_equal(json_string_value(json_object_get(h, "alg")),
	    "none");
	assert_string_equal(json_string_value(json_object_get(p, "sub")),
	    "x");
	json_decref(h);
	json_decref(p);
	assert_int_equal(apx_jwt_decode(tok, strlen(tok), NULL, NULL), 0);
	free(tok);
	/* But the same structural rules hold. */
	h = p = json_null();
	assert_int_equal(apx_jwt_decode("a.b", 3, &h, &p), APX_EINVAL);
	assert_null(h);
	assert_null(p);
	tok = craft(g.apk, "{\"a\":1,\"a\":2}", "{}", SIG_RS);
	assert_int_equal(apx_jwt_decode(tok, strlen(tok), &h, &p),
	    APX_EINVAL);
	free(tok);
	tok = craft(g.apk, "{\"a\":1}", "[]", SIG_RS);
	assert_int_equal(apx_jwt_decode(tok, strlen(tok), &h, &p),
	    APX_EINVAL);
	free(tok);
	assert_int_equal(apx_jwt_decode(interop_token, strlen(interop_token) +
	    1, &h, &p), APX_EINVAL);
	assert_int_equal(apx_jwt_decode(NULL, 0, &h, &p), APX_EINVAL);
	assert_null(h);
	assert_null(p);
	json_decref(c);
}

static void
test_reason_strings(void **state)
{
	enum apx_jwt_reason r, q;

	(void)state;
	for (r = APX_JWT_OK; r <= APX_JWT_CLAIMS; r++) {
		assert_non_null(apx_jwt_reason_str(r));
		for (q = APX_JWT_OK; q < r; q++)
			assert_string_not_equal(apx_jwt_reason_str(r),
			    apx_jwt_reason_str(q));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kid_is_rfc7638_thumbprint),
		cmocka_unit_test(test_jwks_public_only),
		cmocka_unit_test(test_pem_round_trip),
		cmocka_unit_test(test_public_only_cannot_sign),
		cmocka_unit_test(test_pem_refused),
		cmocka_unit_test(test_keyring),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_sign_pads_short_r_s),
		cmocka_unit_test(test_verify_with_any_ring_key),
		cmocka_unit_test(test_interop),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_hs256_with_public_key),
		cmocka_unit_test(test_alg_near_misses),
		cmocka_unit_test(test_typ),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_foreign_key_with_our_kid),
		cmocka_unit_test(test_embedded_jwk_ignored),
		cmocka_unit_test(test_crit_and_header_json),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_signature_shapes),
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_nbf_iat),
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_iss_aud_sub),
		cmocka_unit_test(test_payload_json),
		cmocka_unit_test(test_bad_expectations),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_reason_strings),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
