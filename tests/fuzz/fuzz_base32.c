/*
 * Fuzz the base32 decoder of auth/totp.c (and, with the same bytes, the
 * encoder, the TOTP code check and the otpauth:// URI builder): the
 * decoder never writes past its buffer, refuses without leaving output,
 * and what it accepts encodes back to the input as an encoder writes it
 * (upper case, no separators or padding); any bytes encode and decode
 * back to themselves.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth/totp.h"
#include "core/apx.h"
#include "fuzz.h"

#define SMALL	8
#define BIG	4096

static size_t	 canonical(const uint8_t *, size_t, char *);

/* The input without spaces, hyphens and '=', upper-cased, into OUT. */
static size_t
canonical(const uint8_t *in, size_t len, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (in[i] == ' ' || in[i] == '-' || in[i] == '=')
			continue;
		out[o++] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 :
		    in[i]);
	}
	out[o] = '\0';
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char small[SMALL + 1], *big = NULL, *back = NULL;
	char *txt = NULL, *canon = NULL, *account = NULL, uri[256];
	size_t n = 0, n2 = 0, tlen;
	int64_t step;
	int rc, rc2;

	if (size > BIG)
		return 0;
	if ((big = malloc(BIG)) == NULL || (back = malloc(BIG)) == NULL ||
	    (txt = malloc(2 * BIG)) == NULL || (canon = malloc(BIG + 1)) ==
	    NULL || (account = malloc(size + 1)) == NULL)
		goto out;

	/* A small buffer: bounded, and the guard byte after it untouched. */
	small[SMALL] = 0xa5;
	rc = apx_base32_decode((const char *)data, size, small, SMALL, &n);
	if (small[SMALL] != 0xa5 || (rc != 0 && rc != APX_EINVAL &&
	    rc != APX_ETOOBIG) || (rc != 0 && n != 0) || n > SMALL)
		__builtin_trap();
	rc2 = apx_base32_decode((const char *)data, size, big, BIG, &n2);
	if (rc2 == APX_ETOOBIG || (rc == 0 && (rc2 != 0 || n2 != n ||
	    memcmp(small, big, n) != 0)) || (rc == APX_EINVAL &&
	    rc2 != APX_EINVAL))
		__builtin_trap();
	if (rc2 == 0) {
		/* Accepted: exactly what the encoder writes for it. */
		if (apx_base32_encode(big, n2, txt, 2 * BIG) != 0)
			__builtin_trap();
		tlen = canonical(data, size, canon);
		if (strlen(txt) != tlen || memcmp(txt, canon, tlen) != 0)
			__builtin_trap();
	}

	/* Any bytes: encoded, then decoded back. */
	if (apx_base32_encode(data, size, txt, 2 * BIG) != 0 ||
	    strlen(txt) != (size * 8 + 4) / 5 ||
	    apx_base32_decode(txt, strlen(txt), back, BIG, &n) != 0 ||
	    n != size || memcmp(back, data, size) != 0)
		__builtin_trap();

	/* The bytes as a code: a 6-digit shape at most, never a crash. */
	memcpy(account, data, size);
	account[size] = '\0';
	rc = apx_totp_verify(data, size, account, 1700000000, -1, &step);
	if (rc == 0 && (strlen(account) != APX_TOTP_DIGITS || step <
	    1700000000 / APX_TOTP_PERIOD - APX_TOTP_WINDOW || step >
	    1700000000 / APX_TOTP_PERIOD + APX_TOTP_WINDOW))
		__builtin_trap();
	/* ... and as an account name: only unreserved characters, '%', and
	 * the separators the builder itself writes. */
	if (apx_totp_uri("AccuPredix", account, "MY", uri, sizeof(uri)) == 0 &&
	    (strncmp(uri, "otpauth://totp/AccuPredix:", 26) != 0 ||
	    strspn(uri, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~%:/?&=") != strlen(uri)))
		__builtin_trap();
out:
	free(big);
	free(back);
	free(txt);
	free(canon);
	free(account);
	return 0;
}
