/*
 * Unit tests for vault/record.c: sealed record layout, the associated
 * data, AES-256-GCM sealing and opening, and every refusal.
 *
 * Known answers: the record in test_known_answer reuses the key, nonce
 * and plaintext of the published McGrew-Viega GCM test case 16 (AES-256,
 * 96-bit IV), so its ciphertext is that test case's ciphertext byte for
 * byte; its tag (over the record header followed by our AAD) was computed
 * independently of this code, with Python: the "cryptography" package's
 * AESGCM and a separate pure-Python GHASH, which agreed. The test's own
 * EVP decryption (evp_gcm_open) is checked against test case 16 as
 * published and then used to open what apx_vault_seal_raw made.
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

#include "core/apx.h"
#include "vault/record.h"

#define DEK	42
#define KEKV	7
#define OWNER	"org:12"
#define PURPOSE	"connector"
#define RECID	"conn-1"
#define AAD42	"accupredix-vault\x1f" "1\x1f" "org:12\x1f" "connector\x1f" \
	"conn-1\x1f" "42"

/* McGrew-Viega test case 16 (AES-256, 96-bit IV, with AAD). */
static const unsigned char tc16_key[32] =
    "\xfe\xff\xe9\x92\x86\x65\x73\x1c\x6d\x6a\x8f\x94\x67\x30\x83\x08"
    "\xfe\xff\xe9\x92\x86\x65\x73\x1c\x6d\x6a\x8f\x94\x67\x30\x83\x08";
static const unsigned char tc16_iv[12] =
    "\xca\xfe\xba\xbe\xfa\xce\xdb\xad\xde\xca\xf8\x88";
static const unsigned char tc16_pt[60] =
    "\xd9\x31\x32\x25\xf8\x84\x06\xe5\xa5\x59\x09\xc5\xaf\xf5\x26\x9a"
    "\x86\xa7\xa9\x53\x15\x34\xf7\xda\x2e\x4c\x30\x3d\x8a\x31\x8a\x72"
    "\x1c\x3c\x0c\x95\x95\x68\x09\x53\x2f\xcf\x0e\x24\x49\xa6\xb5\x25"
    "\xb1\x6a\xed\xf5\xaa\x0d\xe6\x57\xba\x63\x7b\x39";
static const unsigned char tc16_aad[20] =
    "\xfe\xed\xfa\xce\xde\xad\xbe\xef\xfe\xed\xfa\xce\xde\xad\xbe\xef"
    "\xab\xad\xda\xd2";
static const unsigned char tc16_ct[60] =
    "\x52\x2d\xc1\xf0\x99\x56\x7d\x07\xf4\x7f\x37\xa3\x2a\x84\x42\x7d"
    "\x64\x3a\x8c\xdc\xbf\xe5\xc0\xc9\x75\x98\xa2\xbd\x25\x55\xd1\xaa"
    "\x8c\xb0\x8e\x48\x59\x0d\xbb\x3d\xa7\xb0\x8b\x10\x56\x82\x88\x38"
    "\xc5\xf6\x1e\x63\x93\xba\x7a\x0a\xbc\xc9\xf6\x62";
static const unsigned char tc16_tag[16] =
    "\x76\xfc\x6e\xce\x0f\x4e\x17\x68\xcd\xdf\x88\x53\xbb\x2d\x55\x1b";
/* The tag of a record (kek 7, dek 42) over the same ciphertext, AAD42. */
static const unsigned char rec_tag[16] =
    "\xa3\x3e\x6f\x46\x2b\x19\xd2\x03\x39\x91\x2f\x03\xc0\x24\x0e\x33";

static unsigned char	 key[APX_VAULT_KEY_LEN];

static void	 make_aad(unsigned char *, size_t *, int, const char *,
		    const char *, const char *, uint64_t);
static void	 seal(const unsigned char *, const void *, size_t,
		    unsigned char **, size_t *);
static int	 open_bytes(const unsigned char *, const unsigned char *,
		    size_t, const unsigned char *, size_t, unsigned char **,
		    size_t *);
static int	 evp_gcm_open(const unsigned char *, const unsigned char *,
		    const unsigned char *, size_t, const unsigned char *,
		    size_t, const unsigned char *, unsigned char *);
static void	 round_trip(const unsigned char *, size_t);
static void	 aad_refused(int, int, const char *, const char *,
		    const char *, uint64_t);

#define AAD_REFUSED(f, o, p, r, d)	aad_refused(__LINE__, (f), (o), (p), \
	(r), (d))

static void
make_aad(unsigned char *aad, size_t *n, int format, const char *owner,
    const char *purpose, const char *record, uint64_t dek_id)
{
	assert_int_equal(apx_vault_aad(aad, APX_VAULT_AAD_MAX, n, format,
	    owner, purpose, record, dek_id), 0);
}

/* Seal with the test key, owner/purpose/record of the defaults. */
static void
seal(const unsigned char *k, const void *plain, size_t len,
    unsigned char **out, size_t *outlen)
{
	unsigned char aad[APX_VAULT_AAD_MAX];
	size_t n;

	make_aad(aad, &n, k != NULL, OWNER, PURPOSE, RECID, DEK);
	assert_int_equal(apx_vault_seal_raw(k, KEKV, DEK, aad, n, plain, len,
	    out, outlen), 0);
	assert_non_null(*out);
}

/* Parse and open LEN bytes; the first error, or 0. */
static int
open_bytes(const unsigned char *k, const unsigned char *p, size_t len,
    const unsigned char *aad, size_t aadlen, unsigned char **plain,
    size_t *plen)
{
	struct apx_vault_record rec;
	int rc;

	if ((rc = apx_vault_record_parse(p, len, &rec)) != 0)
		return rc;
	return apx_vault_open_raw(k, &rec, aad, aadlen, plain, plen);
}

/*
 * The test's own AES-256-GCM decryption, straight from EVP with the data
 * given to it as one AAD: 1 when TAG verifies.
 */
static int
evp_gcm_open(const unsigned char *k, const unsigned char *iv,
    const unsigned char *aad, size_t aadlen, const unsigned char *ct,
    size_t len, const unsigned char *tag, unsigned char *pt)
{
	EVP_CIPHER_CTX *ctx;
	unsigned char t[16];
	int n, ok;

	memcpy(t, tag, sizeof(t));
	assert_non_null(ctx = EVP_CIPHER_CTX_new());
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, iv) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) == 1 &&
	    EVP_DecryptUpdate(ctx, pt, &n, ct, (int)len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, t) == 1 &&
	    EVP_DecryptFinal_ex(ctx, pt + len, &n) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

/* Both formats of LEN bytes of P: layout, parse and open. */
static void
round_trip(const unsigned char *p, size_t len)
{
	struct apx_vault_record rec;
	unsigned char aad[APX_VAULT_AAD_MAX], *rec_buf, *out;
	size_t n, reclen, outlen;
	int f;

	for (f = 0; f <= 1; f++) {
		seal(f ? key : NULL, p, len, &rec_buf, &reclen);
		assert_int_equal(reclen, APX_VAULT_HDR_LEN + len +
		    (f ? APX_VAULT_NONCE_LEN + APX_VAULT_TAG_LEN : 0));
		assert_memory_equal(rec_buf, "AXV", 3);
		assert_int_equal(rec_buf[3], f);
		assert_memory_equal(rec_buf + 4, "\0\0\0\7", 4);
		assert_memory_equal(rec_buf + 8, "\0\0\0\0\0\0\0\52", 8);
		if (f == 0 && len > 0)
			assert_memory_equal(rec_buf + 16, p, len);
		if (f == 1 && len >= 16)
			assert_memory_not_equal(rec_buf + 28, p, 16);

		assert_int_equal(apx_vault_record_parse(rec_buf, reclen, &rec),
		    0);
		assert_int_equal(rec.format, f);
		assert_int_equal(rec.kek_version, KEKV);
		assert_int_equal(rec.dek_id, DEK);
		assert_int_equal(rec.body_len, len);
		if (f == 1) {
			assert_ptr_equal(rec.nonce, rec_buf + 16);
			assert_ptr_equal(rec.body, rec_buf + 28);
			assert_ptr_equal(rec.tag, rec_buf + 28 + len);
		} else {
			assert_null(rec.nonce);
			assert_null(rec.tag);
			assert_ptr_equal(rec.body, rec_buf + 16);
		}

		make_aad(aad, &n, f, OWNER, PURPOSE, RECID, DEK);
		assert_int_equal(apx_vault_open_raw(f ? key : NULL, &rec, aad,
		    n, &out, &outlen), 0);
		assert_int_equal(outlen, len);
		if (len > 0)
			assert_memory_equal(out, p, len);
		assert_int_equal(out[len], '\0');
		apx_wipe(out, outlen);
		free(out);
		free(rec_buf);
	}
}

static void
test_round_trip(void **state)
{
	unsigned char *p;
	size_t i;

	(void)state;
	assert_non_null(p = malloc(APX_VAULT_MAX_PLAIN));
	for (i = 0; i < APX_VAULT_MAX_PLAIN; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 9));
	round_trip(p, 0);
	round_trip((const unsigned char *)"x", 1);
	round_trip(p, 64 * 1024);
	round_trip(p, APX_VAULT_MAX_PLAIN);
	/* A NULL plaintext of length 0 is an empty value. */
	round_trip(NULL, 0);
	free(p);
}

/*
 * Every byte of a small format 1 record changed three ways: the parse
 * refuses it (magic, format, a zero dek_id) or the open does, with the
 * AAD rebuilt from what was parsed, as the vault does.
 */
static void
test_every_byte(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x80, 0xff };
	struct apx_vault_record rec;
	unsigned char aad[APX_VAULT_AAD_MAX], *r, *m, *out = NULL;
	size_t rlen, n, i, k, outlen = 0;
	int rc;

	(void)state;
	seal(key, "a small secret value", 20, &r, &rlen);
	assert_int_equal(rlen, 64);
	assert_non_null(m = malloc(rlen));
	for (i = 0; i < rlen; i++) {
		for (k = 0; k < sizeof(masks); k++) {
			memcpy(m, r, rlen);
			m[i] ^= masks[k];
			if (apx_vault_record_parse(m, rlen, &rec) != 0) {
				/* Only the magic and the format refuse. */
				assert_true(i < 4);
				continue;
			}
			assert_true(i >= 3);
			make_aad(aad, &n, rec.format, OWNER, PURPOSE, RECID,
			    rec.dek_id);
			rc = apx_vault_open_raw(key, &rec, aad, n, &out,
			    &outlen);
			if (i == 3)	/* now format 0: refused with a key */
				assert_int_equal(rc, APX_EINVAL);
			else
				assert_int_equal(rc, APX_ECRYPTO);
			assert_null(out);
			assert_int_equal(outlen, 0);
			/* The AAD the record was sealed with fails too. */
			if (i >= 4) {
				make_aad(aad, &n, 1, OWNER, PURPOSE, RECID,
				    DEK);
				assert_int_equal(apx_vault_open_raw(key, &rec,
				    aad, n, &out, &outlen), APX_ECRYPTO);
			}
		}
	}

	/* dek_id 42 -> 0: not a record. */
	memcpy(m, r, rlen);
	m[15] = 0;
	assert_int_equal(apx_vault_record_parse(m, rlen, &rec), APX_EINVAL);
	/* dek_id 42 -> 43, AAD rebuilt from 43. */
	m[15] = 43;
	assert_int_equal(apx_vault_record_parse(m, rlen, &rec), 0);
	assert_int_equal(rec.dek_id, 43);
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, rec.dek_id);
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, &outlen),
	    APX_ECRYPTO);
	/* A KEK version moved to another one: the header is bound. */
	memcpy(m, r, rlen);
	m[7] = KEKV + 1;
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, DEK);
	assert_int_equal(open_bytes(key, m, rlen, aad, n, &out, &outlen),
	    APX_ECRYPTO);
	/* And the untouched record still opens. */
	assert_int_equal(open_bytes(key, r, rlen, aad, n, &out, &outlen), 0);
	assert_memory_equal(out, "a small secret value", 21);
	apx_wipe(out, outlen);
	free(out);
	free(m);
	free(r);
}

static void
test_wrong_key(void **state)
{
	unsigned char aad[APX_VAULT_AAD_MAX], k2[APX_VAULT_KEY_LEN];
	unsigned char *r, *out = (unsigned char *)"x";
	size_t rlen, n, i, outlen = 5;

	(void)state;
	seal(key, "secret", 6, &r, &rlen);
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, DEK);
	/* Any single bit of the key. */
	for (i = 0; i < APX_VAULT_KEY_LEN * 8; i++) {
		memcpy(k2, key, sizeof(k2));
		k2[i / 8] ^= (unsigned char)(1u << (i % 8));
		assert_int_equal(open_bytes(k2, r, rlen, aad, n, &out,
		    &outlen), APX_ECRYPTO);
		assert_null(out);
		assert_int_equal(outlen, 0);
	}
	apx_random(k2, sizeof(k2));
	assert_int_equal(open_bytes(k2, r, rlen, aad, n, &out, &outlen),
	    APX_ECRYPTO);
	memset(k2, 0, sizeof(k2));
	assert_int_equal(open_bytes(k2, r, rlen, aad, n, &out, &outlen),
	    APX_ECRYPTO);
	free(r);
}

/* A value copied to another owner's, purpose's or record's row. */
static void
test_aad_binding(void **state)
{
	static const struct {
		int		 format;
		const char	*owner, *purpose, *record;
		uint64_t	 dek;
	} other[] = {
		{ 1, "org:13", PURPOSE, RECID, DEK },
		{ 1, "org:1", PURPOSE, RECID, DEK },
		{ 1, "platform", PURPOSE, RECID, DEK },
		{ 1, OWNER, "jwt", RECID, DEK },
		{ 1, OWNER, "pii", RECID, DEK },
		{ 1, OWNER, PURPOSE, "conn-2", DEK },
		{ 1, OWNER, PURPOSE, "conn-10", DEK },
		{ 1, OWNER, PURPOSE, RECID, 43 },
		{ 0, OWNER, PURPOSE, RECID, DEK },
		/* The separators keep the parts apart. */
		{ 1, "org:12", "connectorconn-1", "x", DEK },
	};
	unsigned char aad[APX_VAULT_AAD_MAX], *r, *out = NULL;
	size_t rlen, n, i, outlen = 0;

	(void)state;
	seal(key, "token", 5, &r, &rlen);
	for (i = 0; i < APX_NELEM(other); i++) {
		make_aad(aad, &n, other[i].format, other[i].owner,
		    other[i].purpose, other[i].record, other[i].dek);
		if (open_bytes(key, r, rlen, aad, n, &out, &outlen) !=
		    APX_ECRYPTO)
			fail_msg("opened with AAD %zu", i);
		assert_null(out);
	}
	/* An AAD one byte short or long. */
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, DEK);
	assert_int_equal(open_bytes(key, r, rlen, aad, n - 1, &out, &outlen),
	    APX_ECRYPTO);
	aad[n] = '0';
	assert_int_equal(open_bytes(key, r, rlen, aad, n + 1, &out, &outlen),
	    APX_ECRYPTO);
	/* No AAD, or an over-long one, is not a format 1 AAD at all. */
	assert_int_equal(open_bytes(key, r, rlen, aad, 0, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(open_bytes(key, r, rlen, NULL, n, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(open_bytes(key, r, rlen, aad, APX_VAULT_AAD_MAX + 1,
	    &out, &outlen), APX_EINVAL);
	assert_int_equal(apx_vault_seal_raw(key, KEKV, DEK, aad, 0, r, 1,
	    &out, &outlen), APX_EINVAL);
	assert_int_equal(apx_vault_seal_raw(key, KEKV, DEK, NULL, n, r, 1,
	    &out, &outlen), APX_EINVAL);
	assert_null(out);
	free(r);
}

static void
test_downgrade(void **state)
{
	struct apx_vault_record rec;
	unsigned char aad[APX_VAULT_AAD_MAX], *r0, *r1, *out = NULL;
	size_t l0, l1, n, outlen = 0;

	(void)state;
	seal(NULL, "plain", 5, &r0, &l0);
	seal(key, "plain", 5, &r1, &l1);
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, DEK);
	/* A plaintext record where a key is in use. */
	assert_int_equal(open_bytes(key, r0, l0, aad, n, &out, &outlen),
	    APX_EINVAL);
	/* A sealed record without a key. */
	assert_int_equal(open_bytes(NULL, r1, l1, aad, n, &out, &outlen),
	    APX_EINVAL);
	assert_null(out);
	/* Hand-made records that no parse would give. */
	assert_int_equal(apx_vault_record_parse(r1, l1, &rec), 0);
	rec.format = 2;
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, &outlen),
	    APX_EINVAL);
	rec.format = 1;
	rec.tag = NULL;
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(r1, l1, &rec), 0);
	rec.nonce = NULL;
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(r1, l1, &rec), 0);
	rec.dek_id = 0;
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(r1, l1, &rec), 0);
	rec.body = NULL;
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(r1, l1, &rec), 0);
	rec.body_len = APX_VAULT_MAX_PLAIN + 1;
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(apx_vault_open_raw(key, NULL, aad, n, &out, &outlen),
	    APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(r1, l1, &rec), 0);
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, NULL, &outlen),
	    APX_EINVAL);
	assert_int_equal(apx_vault_open_raw(key, &rec, aad, n, &out, NULL),
	    APX_EINVAL);
	assert_null(out);
	free(r0);
	free(r1);
}

/* Every prefix of a record, and a byte more. */
static void
test_truncated(void **state)
{
	struct apx_vault_record rec;
	unsigned char aad[APX_VAULT_AAD_MAX], *r, *m, *out = NULL;
	size_t rlen, n, i, outlen = 0;
	int rc;

	(void)state;
	seal(key, "0123456789abcdef0123456789", 26, &r, &rlen);
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, DEK);
	for (i = 0; i <= rlen; i++) {
		/* A copy of exactly I bytes, so that ASan sees any overread. */
		assert_non_null(m = malloc(i + 1));
		memcpy(m, r, i);
		rc = open_bytes(key, m, i, aad, n, &out, &outlen);
		if (i < APX_VAULT_HDR_LEN + APX_VAULT_NONCE_LEN +
		    APX_VAULT_TAG_LEN)
			assert_int_equal(rc, APX_EINVAL);
		else if (i < rlen)
			assert_int_equal(rc, APX_ECRYPTO);
		else
			assert_int_equal(rc, 0);
		if (rc != 0)
			assert_null(out);
		free(out);
		out = NULL;
		free(m);
	}
	/* An empty ciphertext parses; cut into the tag, it does not open. */
	assert_int_equal(apx_vault_record_parse(r, 44, &rec), 0);
	assert_int_equal(rec.body_len, 0);
	assert_ptr_equal(rec.tag, r + 28);
	assert_int_equal(apx_vault_record_parse(r, 43, &rec), APX_EINVAL);
	/* A byte more. */
	assert_non_null(m = malloc(rlen + 1));
	memcpy(m, r, rlen);
	m[rlen] = 0;
	assert_int_equal(open_bytes(key, m, rlen + 1, aad, n, &out, &outlen),
	    APX_ECRYPTO);
	free(m);
	free(r);

	/* Format 0: the header alone is an empty value, less is nothing. */
	seal(NULL, "abc", 3, &r, &rlen);
	for (i = 0; i < APX_VAULT_HDR_LEN; i++)
		assert_int_equal(apx_vault_record_parse(r, i, &rec),
		    APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(r, APX_VAULT_HDR_LEN, &rec), 0);
	assert_int_equal(rec.body_len, 0);
	free(r);
}

static void
test_parse(void **state)
{
	struct apx_vault_record rec, before;
	unsigned char *r, *big;
	size_t rlen;

	(void)state;
	seal(key, "v", 1, &r, &rlen);
	memset(&before, 0x5a, sizeof(before));
	rec = before;
	/* Magic. */
	r[0] = 'a';
	assert_int_equal(apx_vault_record_parse(r, rlen, &rec), APX_EINVAL);
	r[0] = 'A';
	r[2] = 'W';
	assert_int_equal(apx_vault_record_parse(r, rlen, &rec), APX_EINVAL);
	r[2] = 'V';
	/* Formats. */
	r[3] = 2;
	assert_int_equal(apx_vault_record_parse(r, rlen, &rec), APX_EINVAL);
	r[3] = 0xff;
	assert_int_equal(apx_vault_record_parse(r, rlen, &rec), APX_EINVAL);
	r[3] = '1';
	assert_int_equal(apx_vault_record_parse(r, rlen, &rec), APX_EINVAL);
	r[3] = 1;
	/* A zero dek_id, whatever the KEK version. */
	memset(r + 8, 0, 8);
	assert_int_equal(apx_vault_record_parse(r, rlen, &rec), APX_EINVAL);
	assert_memory_equal(&rec, &before, sizeof(rec));	/* untouched */
	/* The largest ids are fine. */
	memset(r + 4, 0xff, 12);
	assert_int_equal(apx_vault_record_parse(r, rlen, &rec), 0);
	assert_int_equal(rec.kek_version, UINT32_MAX);
	assert_true(rec.dek_id == UINT64_MAX);
	assert_int_equal(apx_vault_record_parse(NULL, rlen, &rec), APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(r, rlen, NULL), APX_EINVAL);
	free(r);

	/* The size cap: format 1 at and over it; format 0 over MAX_PLAIN. */
	assert_non_null(big = calloc(1, APX_VAULT_RECORD_MAX + 1));
	memcpy(big, "AXV\1\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	assert_int_equal(apx_vault_record_parse(big, APX_VAULT_RECORD_MAX,
	    &rec), 0);
	assert_int_equal(rec.body_len, APX_VAULT_MAX_PLAIN);
	assert_int_equal(apx_vault_record_parse(big, APX_VAULT_RECORD_MAX + 1,
	    &rec), APX_EINVAL);
	big[3] = 0;
	assert_int_equal(apx_vault_record_parse(big, APX_VAULT_HDR_LEN +
	    APX_VAULT_MAX_PLAIN, &rec), 0);
	assert_int_equal(apx_vault_record_parse(big, APX_VAULT_HDR_LEN +
	    APX_VAULT_MAX_PLAIN + 1, &rec), APX_EINVAL);
	assert_int_equal(apx_vault_record_parse(big, APX_VAULT_RECORD_MAX,
	    &rec), APX_EINVAL);
	free(big);
}

static void
test_too_big(void **state)
{
	unsigned char aad[APX_VAULT_AAD_MAX], *p, *out = (unsigned char *)"x";
	size_t n, outlen = 9;

	(void)state;
	assert_non_null(p = calloc(1, APX_VAULT_MAX_PLAIN + 1));
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, DEK);
	assert_int_equal(apx_vault_seal_raw(key, KEKV, DEK, aad, n, p,
	    APX_VAULT_MAX_PLAIN + 1, &out, &outlen), APX_ETOOBIG);
	assert_null(out);
	assert_int_equal(outlen, 0);
	assert_int_equal(apx_vault_seal_raw(NULL, KEKV, DEK, NULL, 0, p,
	    APX_VAULT_MAX_PLAIN + 1, &out, &outlen), APX_ETOOBIG);
	assert_int_equal(apx_vault_seal_raw(key, KEKV, DEK, aad, n, p,
	    SIZE_MAX, &out, &outlen), APX_ETOOBIG);
	/* Other refusals of the sealer. */
	assert_int_equal(apx_vault_seal_raw(key, KEKV, 0, aad, n, p, 1, &out,
	    &outlen), APX_EINVAL);
	assert_int_equal(apx_vault_seal_raw(key, KEKV, DEK, aad, n, NULL, 1,
	    &out, &outlen), APX_EINVAL);
	assert_int_equal(apx_vault_seal_raw(key, KEKV, DEK, aad, n, p, 1,
	    NULL, &outlen), APX_EINVAL);
	assert_int_equal(apx_vault_seal_raw(key, KEKV, DEK, aad, n, p, 1,
	    &out, NULL), APX_EINVAL);
	assert_null(out);
	free(p);
}

static void
test_nonce_random(void **state)
{
	unsigned char *r[64];
	size_t len[64], i, j;

	(void)state;
	for (i = 0; i < APX_NELEM(r); i++) {
		seal(key, "same value", 10, &r[i], &len[i]);
		assert_int_equal(len[i], 10 + 44);
	}
	for (i = 0; i < APX_NELEM(r); i++) {
		for (j = 0; j < i; j++) {
			assert_memory_equal(r[i], r[j], 16);
			assert_memory_not_equal(r[i] + 16, r[j] + 16, 12);
			assert_memory_not_equal(r[i] + 28, r[j] + 28, 10);
			assert_memory_not_equal(r[i] + 38, r[j] + 38, 16);
		}
	}
	for (i = 0; i < APX_NELEM(r); i++)
		free(r[i]);
}

static void
test_known_answer(void **state)
{
	unsigned char rec_buf[16 + 12 + 60 + 16], pt[64];
	unsigned char aad[APX_VAULT_AAD_MAX];
	unsigned char gcm_aad[16 + APX_VAULT_AAD_MAX], *r, *out = NULL;
	size_t n, rlen, outlen = 0;

	(void)state;
	/* The test's decryption on the published test case 16. */
	assert_true(evp_gcm_open(tc16_key, tc16_iv, tc16_aad, 20, tc16_ct, 60,
	    tc16_tag, pt));
	assert_memory_equal(pt, tc16_pt, 60);

	/* A record built by hand: kek 7, dek 42, test case 16's IV and CT. */
	memcpy(rec_buf, "AXV\1\0\0\0\7\0\0\0\0\0\0\0\52", 16);
	memcpy(rec_buf + 16, tc16_iv, 12);
	memcpy(rec_buf + 28, tc16_ct, 60);
	memcpy(rec_buf + 88, rec_tag, 16);
	make_aad(aad, &n, 1, OWNER, PURPOSE, RECID, DEK);
	assert_int_equal(n, sizeof(AAD42) - 1);
	assert_memory_equal(aad, AAD42, n);
	assert_int_equal(open_bytes(tc16_key, rec_buf, sizeof(rec_buf), aad, n,
	    &out, &outlen), 0);
	assert_int_equal(outlen, 60);
	assert_memory_equal(out, tc16_pt, 60);
	free(out);
	/* With test case 16's own tag (its AAD, not ours): refused. */
	memcpy(rec_buf + 88, tc16_tag, 16);
	assert_int_equal(open_bytes(tc16_key, rec_buf, sizeof(rec_buf), aad, n,
	    &out, &outlen), APX_ECRYPTO);

	/* The other way: what we seal, plain EVP opens as documented. */
	seal(tc16_key, tc16_pt, 60, &r, &rlen);
	memcpy(gcm_aad, r, 16);
	memcpy(gcm_aad + 16, AAD42, n);
	assert_true(evp_gcm_open(tc16_key, r + 16, gcm_aad, 16 + n, r + 28, 60,
	    r + 88, pt));
	assert_memory_equal(pt, tc16_pt, 60);
	/* The caller's AAD alone does not verify: the header is bound. */
	assert_false(evp_gcm_open(tc16_key, r + 16, aad, n, r + 28, 60,
	    r + 88, pt));
	free(r);

	/* Format 0 by hand. */
	memcpy(rec_buf, "AXV\0\0\0\0\0\0\0\0\0\0\0\0\1hello", 21);
	assert_int_equal(open_bytes(NULL, rec_buf, 21, NULL, 0, &out, &outlen),
	    0);
	assert_int_equal(outlen, 5);
	assert_string_equal((char *)out, "hello");
	free(out);
}

static void
aad_refused(int line, int format, const char *owner, const char *purpose,
    const char *record, uint64_t dek_id)
{
	unsigned char buf[APX_VAULT_AAD_MAX];
	size_t n = 77;
	int rc;

	memset(buf, '#', sizeof(buf));
	rc = apx_vault_aad(buf, sizeof(buf), &n, format, owner, purpose,
	    record, dek_id);
	if (rc != APX_EINVAL)
		fail_msg("line %d: %d", line, rc);
	assert_int_equal(n, 0);
	assert_int_equal(buf[0], '#');
}

static void
test_aad(void **state)
{
	unsigned char buf[APX_VAULT_AAD_MAX + 8];
	char p200[201], p201[202], bad[8];
	size_t n, need;
	int c;

	(void)state;
	assert_int_equal(apx_vault_aad(buf, sizeof(buf), &n, 1, OWNER, PURPOSE,
	    RECID, DEK), 0);
	assert_int_equal(n, sizeof(AAD42) - 1);
	assert_memory_equal(buf, AAD42, n);
	assert_int_equal(apx_vault_aad(buf, sizeof(buf), &n, 0, "platform",
	    "jwt", "7", 1), 0);
	assert_int_equal(n, 35);
	assert_memory_equal(buf, "accupredix-vault\x1f" "0\x1f" "platform\x1f"
	    "jwt\x1f" "7\x1f" "1", 35);
	/* Spaces and every printable character are fine. */
	assert_int_equal(apx_vault_aad(buf, sizeof(buf), &n, 1, " ", "~!",
	    "a b \"c\" \\ {}", 9), 0);

	/* The longest: three 200-byte parts and a 20-digit id. */
	memset(p200, 'z', 200);
	p200[200] = '\0';
	memset(p201, 'z', 201);
	p201[201] = '\0';
	assert_int_equal(apx_vault_aad(buf, sizeof(buf), &n, 1, p200, p200,
	    p200, UINT64_MAX), 0);
	assert_int_equal(n, APX_VAULT_AAD_MAX);
	assert_memory_equal(buf + n - 21, "\x1f" "18446744073709551615", 21);
	need = n;
	/* Short buffers. */
	memset(buf, '#', sizeof(buf));
	assert_int_equal(apx_vault_aad(buf, need - 1, &n, 1, p200, p200, p200,
	    UINT64_MAX), APX_ETOOBIG);
	assert_int_equal(n, 0);
	assert_int_equal(buf[0], '#');
	assert_int_equal(apx_vault_aad(buf, sizeof(AAD42) - 2, &n, 1, OWNER,
	    PURPOSE, RECID, DEK), APX_ETOOBIG);
	assert_int_equal(apx_vault_aad(buf, 0, &n, 1, OWNER, PURPOSE, RECID,
	    DEK), APX_ETOOBIG);
	assert_int_equal(apx_vault_aad(buf, sizeof(AAD42) - 1, &n, 1, OWNER,
	    PURPOSE, RECID, DEK), 0);

	/* Refusals. */
	AAD_REFUSED(1, "", PURPOSE, RECID, DEK);
	AAD_REFUSED(1, OWNER, "", RECID, DEK);
	AAD_REFUSED(1, OWNER, PURPOSE, "", DEK);
	AAD_REFUSED(1, NULL, PURPOSE, RECID, DEK);
	AAD_REFUSED(1, OWNER, NULL, RECID, DEK);
	AAD_REFUSED(1, OWNER, PURPOSE, NULL, DEK);
	AAD_REFUSED(1, p201, PURPOSE, RECID, DEK);
	AAD_REFUSED(1, OWNER, p201, RECID, DEK);
	AAD_REFUSED(1, OWNER, PURPOSE, p201, DEK);
	AAD_REFUSED(1, "org:1\x1f" "2", PURPOSE, RECID, DEK);
	AAD_REFUSED(1, OWNER, "conn\x1f", RECID, DEK);
	AAD_REFUSED(1, OWNER, PURPOSE, "\x1f" "x", DEK);
	AAD_REFUSED(2, OWNER, PURPOSE, RECID, DEK);
	AAD_REFUSED(-1, OWNER, PURPOSE, RECID, DEK);
	AAD_REFUSED(1, OWNER, PURPOSE, RECID, 0);
	/* Every byte outside 0x20-0x7e, in each part. */
	for (c = 1; c < 256; c++) {
		if (c >= 0x20 && c <= 0x7e)
			continue;
		bad[0] = 'a';
		bad[1] = (char)c;
		bad[2] = 'b';
		bad[3] = '\0';
		AAD_REFUSED(1, bad, PURPOSE, RECID, DEK);
		AAD_REFUSED(1, OWNER, bad, RECID, DEK);
		AAD_REFUSED(1, OWNER, PURPOSE, bad, DEK);
	}
	assert_int_equal(apx_vault_aad(NULL, 100, &n, 1, OWNER, PURPOSE, RECID,
	    DEK), APX_EINVAL);
	assert_int_equal(apx_vault_aad(buf, sizeof(buf), NULL, 1, OWNER,
	    PURPOSE, RECID, DEK), APX_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_aad_binding),
		cmocka_unit_test(test_downgrade),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_nonce_random),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_aad),
	};

	if (sodium_init() < 0)
		return 1;
	apx_random(key, sizeof(key));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
