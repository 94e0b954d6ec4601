/*
 * ES256 access tokens (see jwt.h): signing and verifying compact JWS after
 * RFC 8725. Keys and the keyring are in jwt_key.c.
 * OpenSSL 3.0 EVP interfaces only; JSON through jansson. Every function
 * that calls OpenSSL sets a mark in its error queue and pops back to it, so
 * that a refused key or token leaves no stale errors for other code.
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

/* A token cut at its dots, every part decoded into one allocation. */
struct parts {
	const char	*input;		/* "header.payload", what was signed */
	size_t		 inputlen;
	unsigned char	*buf;
	unsigned char	*hdr;
	size_t		 hdrlen;
	unsigned char	*pay;
	size_t		 paylen;
	unsigned char	*sig;
	size_t		 siglen;
};

static size_t	 b64url_len(size_t);
static int	 b64url_val(unsigned char);
static int	 b64url_decode(const char *, size_t, unsigned char *, size_t *);
static int	 split(const char *, size_t, struct parts *);
static void	 parts_free(struct parts *);
static json_t	*parse_object(const unsigned char *, size_t);
static int	 sign_raw(EVP_PKEY *, const char *, size_t, unsigned char *);
static int	 verify_raw(EVP_PKEY *, const char *, size_t,
		    const unsigned char *);
static int	 int_claim(const json_t *, const char *, int64_t *);
static enum apx_jwt_reason check_claims(const json_t *,
		    const struct apx_jwt_expect *);

/* --- base64url (RFC 4648 §5), no padding, canonical only ---------------- */

static size_t
b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

/* Writes b64url_len(N) characters and a NUL; returns the length. */
size_t
apx_jwt_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = tab[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Strict decode: alphabet A-Z a-z 0-9 - _ only (no '=', no whitespace, no
 * '+' or '/'), no impossible length, and the unused low bits of the last
 * character must be zero, so that every byte string has one encoding.
 */
static int
b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
	uint32_t acc = 0;
	unsigned int bits = 0;
	size_t i, o = 0;
	int v;

	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64url_val((unsigned char)in[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	*outlen = o;
	return 0;
}

/* --- structure ------------------------------------------------------------ */

static int
split(const char *tok, size_t len, struct parts *p)
{
	const char *d1, *d2, *s;
	size_t hl, pl, sl;

	memset(p, 0, sizeof(*p));
	if (tok == NULL || len == 0 || len > APX_JWT_MAX_LEN)
		return APX_EINVAL;
	if ((d1 = memchr(tok, '.', len)) == NULL)
		return APX_EINVAL;
	hl = (size_t)(d1 - tok);
	if ((d2 = memchr(d1 + 1, '.', len - hl - 1)) == NULL)
		return APX_EINVAL;
	pl = (size_t)(d2 - d1 - 1);
	s = d2 + 1;
	sl = len - hl - pl - 2;
	/* Exactly three parts; header and payload never empty. */
	if (memchr(s, '.', sl) != NULL || hl == 0 || pl == 0)
		return APX_EINVAL;
	/* Decoding shrinks: LEN bytes hold all three parts. */
	if ((p->buf = malloc(len)) == NULL)
		return APX_ENOMEM;
	p->hdr = p->buf;
	if (b64url_decode(tok, hl, p->hdr, &p->hdrlen) != 0)
		goto fail;
	p->pay = p->hdr + p->hdrlen;
	if (b64url_decode(d1 + 1, pl, p->pay, &p->paylen) != 0)
		goto fail;
	p->sig = p->pay + p->paylen;
	if (b64url_decode(s, sl, p->sig, &p->siglen) != 0)
		goto fail;
	p->input = tok;
	p->inputlen = (size_t)(d2 - tok);
	return 0;
fail:
	parts_free(p);
	return APX_EINVAL;
}

static void
parts_free(struct parts *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

/* A JSON object without duplicate keys or NULs, or NULL. */
static json_t *
parse_object(const unsigned char *s, size_t n)
{
	json_error_t err;
	json_t *v;

	if (n == 0 || memchr(s, '\0', n) != NULL)
		return NULL;
	v = json_loadb((const char *)s, n, JSON_REJECT_DUPLICATES, &err);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* --- signatures ----------------------------------------------------------- */

/* ECDSA P-256 / SHA-256 over IN; OUT gets r || s, 32 bytes each. */
static int
sign_raw(EVP_PKEY *pkey, const char *in, size_t inlen, unsigned char *out)
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	unsigned char der[DER_SIG_MAX];
	const unsigned char *p = der;
	size_t derlen = 0;
	int rc = APX_ECRYPTO;

	ERR_set_mark();
	if ((md = EVP_MD_CTX_new()) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if (EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pkey,
	    NULL) != 1 ||
	    EVP_DigestSign(md, NULL, &derlen, (const unsigned char *)in,
	    inlen) != 1 || derlen > sizeof(der) ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)in,
	    inlen) != 1)
		goto out;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, out, COORD_LEN) != COORD_LEN ||
	    BN_bn2binpad(s, out + COORD_LEN, COORD_LEN) != COORD_LEN)
		goto out;
	rc = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	ERR_pop_to_mark();
	return rc;
}

/* 0 when SIG (r || s) verifies over IN; APX_EUNAUTH or APX_ENOMEM. */
static int
verify_raw(EVP_PKEY *pkey, const char *in, size_t inlen,
    const unsigned char *sig)
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int derlen, rc = APX_ENOMEM;

	ERR_set_mark();
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig, COORD_LEN, NULL)) == NULL ||
	    (s = BN_bin2bn(sig + COORD_LEN, COORD_LEN, NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;		/* owned by es now */
	if ((derlen = i2d_ECDSA_SIG(es, &der)) <= 0 ||
	    (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	/* Anything but a clean 1 is a refusal (fail closed). */
	rc = APX_EUNAUTH;
	if (EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey,
	    NULL) == 1 && EVP_DigestVerify(md, der, (size_t)derlen,
	    (const unsigned char *)in, inlen) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	ERR_pop_to_mark();
	return rc;
}

int
apx_jwt_sign(const struct apx_jwt_key *k, const char *typ, json_t *claims,
    char **out)
{
	json_t *hdr = NULL;
	char *hs = NULL, *ps = NULL, *tok = NULL;
	unsigned char sig[SIG_LEN];
	size_t hl, pl, n, off;
	int rc = APX_EINVAL;

	if (out == NULL)
		return APX_EINVAL;
	*out = NULL;
	if (k == NULL || !k->has_priv || typ == NULL || !json_is_object(claims))
		return APX_EINVAL;
	if ((hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", typ,
	    "kid", k->kid)) == NULL)
		goto out;	/* typ is not valid UTF-8 */
	rc = APX_ENOMEM;
	if ((hs = json_dumps(hdr, JSON_COMPACT)) == NULL ||
	    (ps = json_dumps(claims, JSON_COMPACT)) == NULL)
		goto out;
	hl = strlen(hs);
	pl = strlen(ps);
	/* Never issue what verification would refuse for its size. */
	rc = APX_ETOOBIG;
	if (hl > APX_JWT_MAX_LEN || pl > APX_JWT_MAX_LEN ||
	    (n = b64url_len(hl) + 1 + b64url_len(pl) + 1 +
	    b64url_len(SIG_LEN)) > APX_JWT_MAX_LEN)
		goto out;
	if ((tok = malloc(n + 1)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	off = apx_jwt_b64url_encode((const unsigned char *)hs, hl, tok);
	tok[off++] = '.';
	off += apx_jwt_b64url_encode((const unsigned char *)ps, pl, tok + off);
	if ((rc = sign_raw(k->pkey, tok, off, sig)) != 0)
		goto out;
	tok[off++] = '.';
	apx_jwt_b64url_encode(sig, SIG_LEN, tok + off);
	*out = tok;
	tok = NULL;
	rc = 0;
out:
	free(tok);
	free(ps);
	free(hs);
	json_decref(hdr);
	return rc;
}

/* --- verification --------------------------------------------------------- */

static int
int_claim(const json_t *c, const char *name, int64_t *v)
{
	const json_t *j = json_object_get(c, name);

	if (!json_is_integer(j))
		return -1;
	*v = (int64_t)json_integer_value(j);
	return 0;
}

static enum apx_jwt_reason
check_claims(const json_t *c, const struct apx_jwt_expect *ex)
{
	const json_t *aud, *a;
	const char *s;
	int64_t exp, nbf, iat, t;
	size_t i;
	int found;

	/* Sums that overflow mean "far in the future": never a refusal. */
	if (int_claim(c, "exp", &exp) != 0 ||
	    (!__builtin_add_overflow(exp, ex->leeway, &t) && ex->now > t))
		return APX_JWT_EXPIRED;
	if (json_object_get(c, "nbf") != NULL && (int_claim(c, "nbf",
	    &nbf) != 0 || (!__builtin_add_overflow(ex->now, ex->leeway, &t) &&
	    nbf > t)))
		return APX_JWT_NOT_YET_VALID;
	if (int_claim(c, "iat", &iat) != 0 ||
	    (!__builtin_add_overflow(ex->now, ex->leeway, &t) && iat > t))
		return APX_JWT_IAT;
	if (ex->max_lifetime > 0 && (__builtin_sub_overflow(exp, iat, &t) ||
	    t > ex->max_lifetime))
		return APX_JWT_CLAIMS;
	if ((s = json_string_value(json_object_get(c, "iss"))) == NULL ||
	    strcmp(s, ex->iss) != 0)
		return APX_JWT_ISS;
	aud = json_object_get(c, "aud");
	if (json_is_string(aud)) {
		if (strcmp(json_string_value(aud), ex->aud) != 0)
			return APX_JWT_AUD;
	} else if (json_is_array(aud)) {
		found = 0;
		for (i = 0; i < json_array_size(aud); i++) {
			a = json_array_get(aud, i);
			if (!json_is_string(a))
				return APX_JWT_AUD;
			if (strcmp(json_string_value(a), ex->aud) == 0)
				found = 1;
		}
		if (!found)
			return APX_JWT_AUD;
	} else
		return APX_JWT_AUD;
	if ((s = json_string_value(json_object_get(c, "sub"))) == NULL ||
	    *s == '\0')
		return APX_JWT_CLAIMS;
	return APX_JWT_OK;
}

int
apx_jwt_verify(const struct apx_jwt_keyring *kr, const char *tok, size_t len,
    const struct apx_jwt_expect *ex, json_t **claimsp,
    enum apx_jwt_reason *whyp)
{
	struct parts p;
	const struct apx_jwt_key *key;
	enum apx_jwt_reason why = APX_JWT_MALFORMED;
	json_t *hdr = NULL, *claims = NULL;
	const char *s;
	int rc = APX_EINVAL;

	memset(&p, 0, sizeof(p));
	if (claimsp != NULL)
		*claimsp = NULL;
	if (kr == NULL || ex == NULL || ex->typ == NULL || ex->iss == NULL ||
	    ex->aud == NULL || ex->leeway < 0 || ex->max_lifetime < 0)
		goto out;
	if ((rc = split(tok, len, &p)) != 0)
		goto out;
	rc = APX_EINVAL;
	if ((hdr = parse_object(p.hdr, p.hdrlen)) == NULL)
		goto out;
	/* The algorithm is pinned before any key is looked at. */
	rc = APX_EUNAUTH;
	why = APX_JWT_ALG;
	if ((s = json_string_value(json_object_get(hdr, "alg"))) == NULL ||
	    strcmp(s, "ES256") != 0)
		goto out;
	/* We implement no extension: any "crit" is refused (7515 4.1.11). */
	if (json_object_get(hdr, "crit") != NULL) {
		rc = APX_EINVAL;
		why = APX_JWT_MALFORMED;
		goto out;
	}
	why = APX_JWT_TYP;
	if ((s = json_string_value(json_object_get(hdr, "typ"))) == NULL ||
	    strcmp(s, ex->typ) != 0)
		goto out;
	/* Only our own keys: jku, jwk, x5u and x5c are never read. */
	why = APX_JWT_KID;
	if ((s = json_string_value(json_object_get(hdr, "kid"))) == NULL ||
	    (key = apx_jwt_ring_find(kr, s)) == NULL)
		goto out;
	why = APX_JWT_SIGNATURE;
	if (p.siglen != SIG_LEN)
		goto out;
	if ((rc = verify_raw(key->pkey, p.input, p.inputlen, p.sig)) != 0)
		goto out;
	/* Authentic from here on: now read the payload. */
	rc = APX_EINVAL;
	why = APX_JWT_MALFORMED;
	if ((claims = parse_object(p.pay, p.paylen)) == NULL)
		goto out;
	rc = APX_EUNAUTH;
	if ((why = check_claims(claims, ex)) != APX_JWT_OK)
		goto out;
	rc = 0;
	if (claimsp != NULL) {
		*claimsp = claims;
		claims = NULL;
	}
out:
	json_decref(claims);
	json_decref(hdr);
	parts_free(&p);
	if (whyp != NULL)
		*whyp = rc == 0 ? APX_JWT_OK : why;
	return rc;
}

const char *
apx_jwt_reason_str(enum apx_jwt_reason why)
{
	switch (why) {
	case APX_JWT_OK:
		return "ok";
	case APX_JWT_MALFORMED:
		return "malformed token";
	case APX_JWT_ALG:
		return "algorithm not allowed";
	case APX_JWT_TYP:
		return "wrong token type";
	case APX_JWT_KID:
		return "unknown key id";
	case APX_JWT_SIGNATURE:
		return "bad signature";
	case APX_JWT_EXPIRED:
		return "expired or no exp";
	case APX_JWT_NOT_YET_VALID:
		return "not yet valid";
	case APX_JWT_IAT:
		return "iat missing or in the future";
	case APX_JWT_ISS:
		return "wrong or missing issuer";
	case APX_JWT_AUD:
		return "wrong or missing audience";
	case APX_JWT_CLAIMS:
		return "invalid claims";
	}
	return "unknown reason";
}

int
apx_jwt_decode(const char *tok, size_t len, json_t **hdrp, json_t **claimsp)
{
	struct parts p;
	json_t *hdr = NULL, *claims = NULL;
	int rc;

	if (hdrp != NULL)
		*hdrp = NULL;
	if (claimsp != NULL)
		*claimsp = NULL;
	if ((rc = split(tok, len, &p)) != 0)
		goto out;
	rc = APX_EINVAL;
	if ((hdr = parse_object(p.hdr, p.hdrlen)) == NULL ||
	    (claims = parse_object(p.pay, p.paylen)) == NULL)
		goto out;
	rc = 0;
	if (hdrp != NULL) {
		*hdrp = hdr;
		hdr = NULL;
	}
	if (claimsp != NULL) {
		*claimsp = claims;
		claims = NULL;
	}
out:
	json_decref(claims);
	json_decref(hdr);
	parts_free(&p);
	return rc;
}

int
apx_jwt_parts(const char *tok, size_t len, json_t **hdrp, json_t **claimsp,
    unsigned char **sig, size_t *siglen, size_t *inputlen)
{
	struct parts p;
	int rc;

	*sig = NULL;
	*siglen = *inputlen = 0;
	if ((rc = apx_jwt_decode(tok, len, hdrp, claimsp)) != 0)
		return rc;
	if ((rc = split(tok, len, &p)) != 0)
		goto fail;
	if ((*sig = malloc(p.siglen > 0 ? p.siglen : 1)) == NULL) {
		parts_free(&p);
		rc = APX_ENOMEM;
		goto fail;
	}
	memcpy(*sig, p.sig, p.siglen);
	*siglen = p.siglen;
	*inputlen = p.inputlen;
	parts_free(&p);
	return 0;
fail:
	json_decref(*hdrp);
	json_decref(*claimsp);
	*hdrp = *claimsp = NULL;
	return rc;
}

int
apx_jwt_b64url_decode(const char *in, size_t n, unsigned char *out,
    size_t outmax, size_t *outlen)
{
	/* N characters decode to N / 4 * 3 bytes, plus 1 or 2 for a last
	 * group of 2 or 3 characters (1 is no valid encoding). */
	if (in == NULL || n % 4 == 1)
		return APX_EINVAL;
	if (n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1) > outmax)
		return APX_ETOOBIG;
	return b64url_decode(in, n, out, outlen) == 0 ? 0 : APX_EINVAL;
}
