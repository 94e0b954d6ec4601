/*
 * API key text (see apikey.h): generation, strict parsing and the hash
 * that is stored in place of the key. The random secret bytes are wiped
 * as soon as they are encoded; nothing here logs.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "auth/apikey.h"
#include "core/apx.h"

#define PFX		"apx_"
#define PFX_LEN		4
#define PREFIX_OFF	PFX_LEN
#define SEP_OFF		(PREFIX_OFF + APX_APIKEY_PREFIX_LEN)
#define SECRET_OFF	(SEP_OFF + 1)
#define SECRET_BYTES	32
#define PREFIX_BYTES	8	/* 60 of their 64 bits are used */

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static int	 b32_val(char);
static int	 b32_run(const char *, size_t);
static void	 b32_encode(const unsigned char *, size_t, char *);

static int
b32_val(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/* N characters of the alphabet. */
static int
b32_run(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (b32_val(s[i]) < 0)
			return 0;
	}
	return 1;
}

/*
 * RFC 4648 base32 of N bytes, most significant bit first, no padding:
 * writes ceil(8N / 5) characters and no NUL. The unused low bits of the
 * last character are zero.
 */
static void
b32_encode(const unsigned char *in, size_t n, char *out)
{
	unsigned int acc = 0, bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[acc >> bits & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32[acc << (5 - bits) & 31];
}

int
apx_apikey_looks_like(const char *s, size_t len)
{
	return s != NULL && len >= PFX_LEN && memcmp(s, PFX, PFX_LEN) == 0;
}

int
apx_apikey_parse(const char *s, size_t len,
    char prefix[APX_APIKEY_PREFIX_LEN + 1])
{
	int last;

	if (s == NULL || len != APX_APIKEY_LEN ||
	    memcmp(s, PFX, PFX_LEN) != 0 || s[SEP_OFF] != '_' ||
	    !b32_run(s + PREFIX_OFF, APX_APIKEY_PREFIX_LEN) ||
	    !b32_run(s + SECRET_OFF, APX_APIKEY_SECRET_LEN))
		return APX_EINVAL;
	/* 52 characters carry 260 bits: the last 4 must be zero. */
	last = b32_val(s[APX_APIKEY_LEN - 1]);
	if ((last & 15) != 0)
		return APX_EINVAL;
	if (prefix != NULL) {
		memcpy(prefix, s + PREFIX_OFF, APX_APIKEY_PREFIX_LEN);
		prefix[APX_APIKEY_PREFIX_LEN] = '\0';
	}
	return 0;
}

int
apx_apikey_generate(const char *prefix_in, char key[APX_APIKEY_LEN + 1],
    char prefix[APX_APIKEY_PREFIX_LEN + 1],
    unsigned char hash[APX_APIKEY_HASH_LEN])
{
	unsigned char raw[SECRET_BYTES], id[PREFIX_BYTES];
	char pfx[APX_APIKEY_PREFIX_LEN + 1];

	if (key == NULL || hash == NULL)
		return APX_EINVAL;
	if (prefix_in != NULL) {
		if (strnlen(prefix_in, APX_APIKEY_PREFIX_LEN + 1) !=
		    APX_APIKEY_PREFIX_LEN ||
		    !b32_run(prefix_in, APX_APIKEY_PREFIX_LEN))
			return APX_EINVAL;
		memcpy(pfx, prefix_in, APX_APIKEY_PREFIX_LEN);
	} else {
		/* Not a secret: identifier randomness will do. */
		apx_random_id(id, sizeof(id));
		b32_encode(id, sizeof(id), pfx);	/* 13 characters */
	}
	pfx[APX_APIKEY_PREFIX_LEN] = '\0';

	memcpy(key, PFX, PFX_LEN);
	memcpy(key + PREFIX_OFF, pfx, APX_APIKEY_PREFIX_LEN);
	key[SEP_OFF] = '_';
	apx_random(raw, sizeof(raw));
	b32_encode(raw, sizeof(raw), key + SECRET_OFF);
	apx_wipe(raw, sizeof(raw));
	key[APX_APIKEY_LEN] = '\0';
	apx_apikey_hash(key, APX_APIKEY_LEN, hash);
	if (prefix != NULL)
		memcpy(prefix, pfx, sizeof(pfx));
	return 0;
}

void
apx_apikey_hash(const char *s, size_t len,
    unsigned char hash[APX_APIKEY_HASH_LEN])
{
	crypto_hash_sha256(hash, (const unsigned char *)s, len);
}

int
apx_apikey_hash_equal(const unsigned char *a, const unsigned char *b)
{
	return apx_ct_equal(a, APX_APIKEY_HASH_LEN, b, APX_APIKEY_HASH_LEN);
}
