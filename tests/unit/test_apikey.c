/*
 * Unit tests for auth/apikey.c: generation, the strict text format, and
 * the stored hash. Expected values were made independently of this code,
 * with Python: base64.b32encode (lower-cased, padding removed) for the
 * secret parts and hashlib.sha256 for the hash; the test also decodes the
 * secret with its own base32 and hashes with OpenSSL.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "auth/apikey.h"
#include "core/apx.h"

/* base32(bytes 0..31) and base32(32 x 0xff). */
#define KNOWN_KEY \
	"apx_mzxw6ytboi2a_aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypq"
#define KNOWN_SHA256 \
	"\x3f\x58\x78\xdf\xe9\xdf\x6a\x2d\x5e\x38\xe7\xe2\x88\x45\xe2\x75" \
	"\x13\x40\xab\x5b\xcc\xb5\xaa\x8f\x32\x31\xf1\x65\xd5\x56\x46\xad"
#define ALL_ONES \
	"apx_777777777777_777777777777777777777777777777777777777777777777777q"
/* KNOWN_KEY's secret but for its last character. */
#define SECRET51	"aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dyp"
#define NKEYS	1000

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static int	 b32_decode(const char *, size_t, unsigned char *);
static void	 openssl_sha256(const char *, size_t, unsigned char *);
static void	 refused(int, const char *, size_t);
static void	 check_key(const char *, const char *, const unsigned char *);

#define REFUSED(s)	refused(__LINE__, (s), strlen(s))

/* The test's own RFC 4648 decoder: bytes written, -1 on a bad character. */
static int
b32_decode(const char *s, size_t n, unsigned char *out)
{
	unsigned int acc = 0, bits = 0;
	const char *p;
	size_t i;
	int o = 0;

	for (i = 0; i < n; i++) {
		if ((p = strchr(alphabet, s[i])) == NULL || s[i] == '\0')
			return -1;
		acc = acc << 5 | (unsigned int)(p - alphabet);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* What is left over must be zero bits. */
	if ((acc & ((1u << bits) - 1)) != 0)
		return -1;
	return o;
}

static void
openssl_sha256(const char *s, size_t n, unsigned char *md)
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(s, n, md, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
}

static void
refused(int line, const char *s, size_t n)
{
	char prefix[APX_APIKEY_PREFIX_LEN + 1] = "untouched";

	if (apx_apikey_parse(s, n, prefix) != APX_EINVAL)
		fail_msg("line %d: accepted %zu bytes \"%.*s\"", line, n,
		    (int)n, s);
	assert_string_equal(prefix, "untouched");
}

/* KEY is well formed, its prefix is PREFIX and its hash HASH. */
static void
check_key(const char *key, const char *prefix, const unsigned char *hash)
{
	char p[APX_APIKEY_PREFIX_LEN + 1];
	unsigned char raw[40], md[32];
	size_t i;

	assert_int_equal(strlen(key), APX_APIKEY_LEN);
	assert_memory_equal(key, "apx_", 4);
	assert_int_equal(key[16], '_');
	for (i = 4; i < APX_APIKEY_LEN; i++) {
		if (i != 16 && strchr(alphabet, key[i]) == NULL)
			fail_msg("bad character '%c' at %zu", key[i], i);
	}
	assert_int_equal(strlen(prefix), APX_APIKEY_PREFIX_LEN);
	assert_memory_equal(key + 4, prefix, APX_APIKEY_PREFIX_LEN);
	assert_int_equal(apx_apikey_parse(key, APX_APIKEY_LEN, p), 0);
	assert_string_equal(p, prefix);
	assert_true(apx_apikey_looks_like(key, APX_APIKEY_LEN));
	/* The secret is 32 bytes, canonically encoded. */
	assert_int_equal(b32_decode(key + 17, APX_APIKEY_SECRET_LEN, raw), 32);
	openssl_sha256(key, APX_APIKEY_LEN, md);
	assert_memory_equal(hash, md, 32);
}

static void
test_generate_round_trip(void **state)
{
	char key[APX_APIKEY_LEN + 1], prefix[APX_APIKEY_PREFIX_LEN + 1];
	unsigned char hash[APX_APIKEY_HASH_LEN], again[APX_APIKEY_HASH_LEN];

	(void)state;
	memset(key, 'X', sizeof(key));
	assert_int_equal(apx_apikey_generate(NULL, key, prefix, hash), 0);
	check_key(key, prefix, hash);
	apx_apikey_hash(key, strlen(key), again);
	assert_true(apx_apikey_hash_equal(hash, again));
	/* PREFIX may be left out. */
	assert_int_equal(apx_apikey_generate(NULL, key, NULL, hash), 0);
	assert_int_equal(apx_apikey_parse(key, APX_APIKEY_LEN, NULL), 0);
	assert_int_equal(apx_apikey_generate(NULL, NULL, prefix, hash),
	    APX_EINVAL);
	assert_int_equal(apx_apikey_generate(NULL, key, prefix, NULL),
	    APX_EINVAL);
}

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, APX_APIKEY_LEN + 1);
}

static void
test_many_distinct(void **state)
{
	char (*keys)[APX_APIKEY_LEN + 1];
	char prefix[APX_APIKEY_PREFIX_LEN + 1];
	unsigned char hash[APX_APIKEY_HASH_LEN];
	int seen[32][APX_APIKEY_LEN], lastq = 0, lasta = 0;
	size_t i, j;
	const char *c;

	(void)state;
	assert_non_null(keys = calloc(NKEYS, sizeof(*keys)));
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < NKEYS; i++) {
		assert_int_equal(apx_apikey_generate(NULL, keys[i], prefix,
		    hash), 0);
		check_key(keys[i], prefix, hash);
		for (j = 4; j < APX_APIKEY_LEN; j++) {
			if ((c = strchr(alphabet, keys[i][j])) != NULL &&
			    j != 16)
				seen[c - alphabet][j]++;
		}
		lastq += keys[i][APX_APIKEY_LEN - 1] == 'q';
		lasta += keys[i][APX_APIKEY_LEN - 1] == 'a';
	}
	/* All different, prefixes included. */
	qsort(keys, NKEYS, sizeof(*keys), cmp_key);
	for (i = 1; i < NKEYS; i++) {
		assert_memory_not_equal(keys[i - 1], keys[i], APX_APIKEY_LEN);
		assert_memory_not_equal(keys[i - 1] + 4, keys[i] + 4,
		    APX_APIKEY_PREFIX_LEN);
	}
	/*
	 * Every character can appear at every full position (31.25 expected
	 * of each in 1000 keys: missing one by chance is < 1e-12 a slot).
	 * The last one carries a single bit: 'a' or 'q'.
	 */
	for (j = 4; j < APX_APIKEY_LEN - 1; j++) {
		if (j == 16)
			continue;
		for (i = 0; i < 32; i++) {
			if (seen[i][j] == 0)
				fail_msg("'%c' never at %zu", alphabet[i], j);
		}
	}
	assert_int_equal(lastq + lasta, NKEYS);
	assert_true(lastq > 350 && lasta > 350);
	free(keys);
}

static void
test_rotation(void **state)
{
	char key[APX_APIKEY_LEN + 1], key2[APX_APIKEY_LEN + 1];
	char prefix[APX_APIKEY_PREFIX_LEN + 1], prefix2[APX_APIKEY_PREFIX_LEN + 1];
	unsigned char hash[APX_APIKEY_HASH_LEN], hash2[APX_APIKEY_HASH_LEN];

	(void)state;
	assert_int_equal(apx_apikey_generate(NULL, key, prefix, hash), 0);
	assert_int_equal(apx_apikey_generate(prefix, key2, prefix2, hash2), 0);
	check_key(key2, prefix2, hash2);
	assert_string_equal(prefix2, prefix);
	assert_memory_equal(key, key2, 17);
	assert_memory_not_equal(key + 17, key2 + 17, APX_APIKEY_SECRET_LEN);
	assert_false(apx_apikey_hash_equal(hash, hash2));
	/* The prefix given and the one returned may be the same buffer. */
	assert_int_equal(apx_apikey_generate(prefix, key2, prefix, hash2), 0);
	assert_string_equal(prefix, prefix2);
	/* A fixed prefix, even one no generation would draw. */
	assert_int_equal(apx_apikey_generate("777777777777", key2, prefix2,
	    hash2), 0);
	assert_memory_equal(key2, "apx_777777777777_", 17);
	check_key(key2, "777777777777", hash2);

	/* Invalid prefixes. */
	assert_int_equal(apx_apikey_generate("abcdefghijk", key2, prefix2,
	    hash2), APX_EINVAL);
	assert_int_equal(apx_apikey_generate("abcdefghijklm", key2, prefix2,
	    hash2), APX_EINVAL);
	assert_int_equal(apx_apikey_generate("ABCDEFGHIJKL", key2, prefix2,
	    hash2), APX_EINVAL);
	assert_int_equal(apx_apikey_generate("abcdefghijk1", key2, prefix2,
	    hash2), APX_EINVAL);
	assert_int_equal(apx_apikey_generate("abcdefghij_k", key2, prefix2,
	    hash2), APX_EINVAL);
	assert_int_equal(apx_apikey_generate("", key2, prefix2, hash2),
	    APX_EINVAL);
}

static void
test_known(void **state)
{
	char prefix[APX_APIKEY_PREFIX_LEN + 1];
	unsigned char hash[APX_APIKEY_HASH_LEN], raw[40];
	size_t i;

	(void)state;
	assert_int_equal(apx_apikey_parse(KNOWN_KEY, strlen(KNOWN_KEY),
	    prefix), 0);
	assert_string_equal(prefix, "mzxw6ytboi2a");
	assert_int_equal(b32_decode(&KNOWN_KEY[17], 52, raw), 32);
	for (i = 0; i < 32; i++)
		assert_int_equal(raw[i], i);
	apx_apikey_hash(KNOWN_KEY, strlen(KNOWN_KEY), hash);
	assert_memory_equal(hash, KNOWN_SHA256, 32);
	assert_int_equal(apx_apikey_parse(ALL_ONES, strlen(ALL_ONES), prefix),
	    0);
	assert_string_equal(prefix, "777777777777");
}

static void
test_refused(void **state)
{
	char buf[200];
	size_t i;

	(void)state;
	REFUSED("");
	REFUSED("apx_");
	REFUSED("apx_mzxw6ytboi2a_");
	/* Prefix of the key type. */
	memcpy(buf, KNOWN_KEY, sizeof(KNOWN_KEY));
	buf[0] = 'A';
	REFUSED(buf);
	memcpy(buf, "APX_", 4);
	REFUSED(buf);
	memcpy(buf, "apx-", 4);
	REFUSED(buf);
	memcpy(buf, "apy_", 4);
	REFUSED(buf);
	/* 11- and 13-character prefixes (total length kept and not). */
	REFUSED("apx_mzxw6ytboi2_" SECRET51 "q");
	REFUSED("apx_mzxw6ytboi2_" SECRET51 "qa");
	REFUSED("apx_mzxw6ytboi2aa_" SECRET51 "q");
	REFUSED("apx_mzxw6ytboi2aa_" SECRET51);
	/* 51- and 53-character secrets. */
	REFUSED("apx_mzxw6ytboi2a_" SECRET51);
	REFUSED("apx_mzxw6ytboi2a_" SECRET51 "qa");
	/* Missing or moved separators. */
	REFUSED("apxmzxw6ytboi2a_" SECRET51 "qa");
	REFUSED("apx_mzxw6ytboi2aa" SECRET51 "q");
	REFUSED("apx_mzxw6ytboi2a-" SECRET51 "q");
	REFUSED("apx__zxw6ytboi2a_" SECRET51 "q");
	/* Padding, a non-canonical last character. */
	REFUSED("apx_mzxw6ytboi2a_" SECRET51 "=");
	REFUSED("apx_mzxw6ytboi2a_" SECRET51 "r");
	REFUSED("apx_mzxw6ytboi2a_" SECRET51 "b");
	REFUSED("apx_mzxw6ytboi2a_" SECRET51 "7");
	/* The same with the right last character: accepted. */
	assert_int_equal(apx_apikey_parse("apx_mzxw6ytboi2a_" SECRET51 "q", 69,
	    NULL), 0);

	/* Characters outside a-z 2-7, anywhere in either part. */
	for (i = 4; i < APX_APIKEY_LEN; i++) {
		static const char badc[] = "8910AZ=+/-_ .\n\x80\xff";
		size_t k;

		if (i == 16)
			continue;
		for (k = 0; k < sizeof(badc) - 1; k++) {
			memcpy(buf, KNOWN_KEY, sizeof(KNOWN_KEY));
			buf[i] = badc[k];
			REFUSED(buf);
		}
		/* A NUL inside: same length, given explicitly. */
		memcpy(buf, KNOWN_KEY, sizeof(KNOWN_KEY));
		buf[i] = '\0';
		refused(__LINE__, buf, APX_APIKEY_LEN);
	}
	/* Upper case of a valid key. */
	for (i = 0; i < APX_APIKEY_LEN; i++)
		buf[i] = (char)(KNOWN_KEY[i] >= 'a' && KNOWN_KEY[i] <= 'z' ?
		    KNOWN_KEY[i] - 32 : KNOWN_KEY[i]);
	buf[APX_APIKEY_LEN] = '\0';
	REFUSED(buf);
	/* Trailing and leading bytes. */
	snprintf(buf, sizeof(buf), "%s\n", KNOWN_KEY);
	REFUSED(buf);
	snprintf(buf, sizeof(buf), "%s ", KNOWN_KEY);
	REFUSED(buf);
	snprintf(buf, sizeof(buf), " %s", KNOWN_KEY);
	REFUSED(buf);
	refused(__LINE__, KNOWN_KEY, sizeof(KNOWN_KEY));	/* with NUL */
	refused(__LINE__, KNOWN_KEY, APX_APIKEY_LEN - 1);
	/* Not NUL-terminated is fine when LEN is right. */
	memcpy(buf, KNOWN_KEY, APX_APIKEY_LEN);
	buf[APX_APIKEY_LEN] = 'a';
	assert_int_equal(apx_apikey_parse(buf, APX_APIKEY_LEN, NULL), 0);
	assert_int_equal(apx_apikey_parse(NULL, APX_APIKEY_LEN, NULL),
	    APX_EINVAL);
}

static void
test_looks_like(void **state)
{
	(void)state;
	assert_true(apx_apikey_looks_like("apx_", 4));
	assert_true(apx_apikey_looks_like(KNOWN_KEY, strlen(KNOWN_KEY)));
	assert_true(apx_apikey_looks_like("apx_junk", 8));
	assert_false(apx_apikey_looks_like("apx_", 3));
	assert_false(apx_apikey_looks_like("APX_abc", 7));
	assert_false(apx_apikey_looks_like("eyJhbGciOiJFUzI1NiJ9.e30.x", 26));
	assert_false(apx_apikey_looks_like("", 0));
	assert_false(apx_apikey_looks_like(NULL, 10));
}

static void
test_hash(void **state)
{
	unsigned char a[APX_APIKEY_HASH_LEN], b[APX_APIKEY_HASH_LEN];
	size_t i;

	(void)state;
	apx_apikey_hash(KNOWN_KEY, strlen(KNOWN_KEY), a);
	openssl_sha256(KNOWN_KEY, strlen(KNOWN_KEY), b);
	assert_memory_equal(a, b, 32);
	assert_true(apx_apikey_hash_equal(a, b));
	/* Any single differing bit, wherever it is. */
	for (i = 0; i < APX_APIKEY_HASH_LEN * 8; i++) {
		memcpy(b, a, sizeof(a));
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_false(apx_apikey_hash_equal(a, b));
	}
	/* SHA-256 of "" (FIPS 180-2 vector). */
	apx_apikey_hash("", 0, a);
	assert_memory_equal(a,
	    "\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24"
	    "\x27\xae\x41\xe4\x64\x9b\x93\x4c\xa4\x95\x99\x1b\x78\x52\xb8\x55",
	    32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_round_trip),
		cmocka_unit_test(test_many_distinct),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_hash),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
