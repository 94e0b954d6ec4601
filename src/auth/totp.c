/*
 * TOTP codes, base32 and the otpauth:// URI (see totp.h). Nothing here
 * logs: keys and codes only pass through.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/totp.h"
#include "core/apx.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int	 b32_val(int);
static int	 pct_encode(const char *, char *, size_t, size_t *);

int
apx_totp_code(const unsigned char *key, size_t len, uint64_t counter,
    int digits, uint32_t *code)
{
	static const uint32_t mod[] = { 1000000, 10000000, 100000000 };
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	uint32_t bin;
	int i, off;

	*code = 0;
	if (digits < 6 || digits > 8 || len > INT32_MAX)
		return APX_EINVAL;
	for (i = 7; i >= 0; i--) {
		msg[i] = counter & 0xff;
		counter >>= 8;
	}
	if (HMAC(EVP_sha1(), key, (int)len, msg, sizeof(msg), mac, &maclen) ==
	    NULL || maclen != 20) {
		apx_wipe(mac, sizeof(mac));
		return APX_ECRYPTO;
	}
	/* RFC 4226 5.3: dynamic truncation. */
	off = mac[19] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	    (uint32_t)mac[off + 2] << 8 | mac[off + 3];
	apx_wipe(mac, sizeof(mac));
	*code = bin % mod[digits - 6];
	return 0;
}

int64_t
apx_totp_step(int64_t now)
{
	return now < 0 ? -1 : now / APX_TOTP_PERIOD;
}

int
apx_totp_verify(const unsigned char *key, size_t len, const char *text,
    int64_t now, int64_t last, int64_t *step)
{
	char want[APX_TOTP_DIGITS + 1];
	int64_t s, cur = apx_totp_step(now), hit = -1;
	uint32_t code;
	int i, ok;

	*step = -1;
	if (text == NULL || strlen(text) != APX_TOTP_DIGITS)
		return APX_EUNAUTH;
	for (i = 0; i < APX_TOTP_DIGITS; i++)
		if (text[i] < '0' || text[i] > '9')
			return APX_EUNAUTH;
	if (cur < APX_TOTP_WINDOW)
		return APX_EUNAUTH;
	/* Every step of the window costs the same, match or not. */
	for (s = cur - APX_TOTP_WINDOW; s <= cur + APX_TOTP_WINDOW; s++) {
		if (apx_totp_code(key, len, (uint64_t)s, APX_TOTP_DIGITS,
		    &code) != 0)
			return APX_ECRYPTO;
		snprintf(want, sizeof(want), "%0*u", APX_TOTP_DIGITS,
		    (unsigned int)code);
		ok = apx_ct_equal(want, APX_TOTP_DIGITS, text, APX_TOTP_DIGITS);
		/* A spent step (or one before it) is a replay. */
		if (ok && s > last && hit < 0)
			hit = s;
	}
	apx_wipe(want, sizeof(want));
	if (hit < 0)
		return APX_EUNAUTH;
	*step = hit;
	return 0;
}

int
apx_base32_encode(const unsigned char *in, size_t len, char *out,
    size_t outlen)
{
	unsigned int acc = 0, bits = 0;
	size_t i, o = 0;

	if (len > (SIZE_MAX - 5) / 8 || outlen < (len * 8 + 4) / 5 + 1) {
		if (outlen > 0)
			out[0] = '\0';
		return APX_ETOOBIG;
	}
	for (i = 0; i < len; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[acc >> bits & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32[acc << (5 - bits) & 31];
	out[o] = '\0';
	return 0;
}

static int
b32_val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int
apx_base32_decode(const char *in, size_t len, unsigned char *out,
    size_t outlen, size_t *n)
{
	unsigned int acc = 0, bits = 0;
	size_t i, o = 0, chars = 0;
	int v, pad = 0;

	*n = 0;
	for (i = 0; i < len; i++) {
		if (in[i] == ' ' || in[i] == '-')
			continue;
		if (in[i] == '=') {
			pad = 1;
			continue;
		}
		/* Nothing but padding after padding. */
		if (pad || (v = b32_val((unsigned char)in[i])) < 0)
			return APX_EINVAL;
		acc = (acc << 5 | (unsigned int)v) & 0xfff;
		bits += 5;
		chars++;
		if (bits >= 8) {
			bits -= 8;
			if (o == outlen) {
				apx_wipe(out, outlen);
				return APX_ETOOBIG;
			}
			out[o++] = acc >> bits & 0xff;
		}
	}
	/*
	 * A final group of 2, 4, 5 or 7 characters leaves 2, 4, 1 or 3 bits
	 * that an encoder sets to zero; 1, 3 or 6 characters no encoder
	 * writes.
	 */
	switch (chars % 8) {
	case 1:
	case 3:
	case 6:
		goto bad;
	default:
		break;
	}
	if ((acc & ((1u << bits) - 1)) != 0)
		goto bad;
	*n = o;
	return 0;
bad:
	apx_wipe(out, o);
	return APX_EINVAL;
}

/* S percent-encoded after OUT[*O] (RFC 3986 unreserved kept). */
static int
pct_encode(const char *s, char *out, size_t outlen, size_t *o)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			if (*o + 1 >= outlen)
				return APX_ETOOBIG;
			out[(*o)++] = (char)*p;
			continue;
		}
		if (*o + 3 >= outlen)
			return APX_ETOOBIG;
		out[(*o)++] = '%';
		out[(*o)++] = hex[*p >> 4];
		out[(*o)++] = hex[*p & 15];
	}
	out[*o] = '\0';
	return 0;
}

int
apx_totp_uri(const char *issuer, const char *account, const char *secret,
    char *out, size_t outlen)
{
	size_t o = 0;
	int rc, w;

	if (outlen == 0)
		return APX_ETOOBIG;
	out[0] = '\0';
	if ((w = snprintf(out, outlen, "otpauth://totp/")) < 0 ||
	    (size_t)w >= outlen)
		goto big;
	o = (size_t)w;
	if ((rc = pct_encode(issuer, out, outlen, &o)) != 0)
		goto big;
	if (o + 1 >= outlen)
		goto big;
	out[o++] = ':';
	if ((rc = pct_encode(account, out, outlen, &o)) != 0)
		goto big;
	/* The secret is base32: nothing in it needs encoding. */
	if ((w = snprintf(out + o, outlen - o, "?secret=%s&issuer=", secret))
	    < 0 || (size_t)w >= outlen - o)
		goto big;
	o += (size_t)w;
	if ((rc = pct_encode(issuer, out, outlen, &o)) != 0)
		goto big;
	if ((w = snprintf(out + o, outlen - o, "&algorithm=SHA1&digits=%d"
	    "&period=%d", APX_TOTP_DIGITS, APX_TOTP_PERIOD)) < 0 ||
	    (size_t)w >= outlen - o)
		goto big;
	return 0;
big:
	apx_wipe(out, outlen);
	out[0] = '\0';
	return APX_ETOOBIG;
}
