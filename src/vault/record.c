/*
 * Sealed vault records (see record.h): the binary layout, the associated
 * data that ties a value to its owner, and AES-256-GCM through OpenSSL
 * EVP. Pure: no database, no configuration, no logging. Plaintext copies
 * are wiped on every failure path; keys only ever live in the caller's
 * buffer and in the cipher context, which OpenSSL cleanses when freed.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/apx.h"
#include "vault/record.h"

#define MAGIC		"AXV"
#define MAGIC_LEN	3
#define FORMAT_OFF	3
#define KEKV_OFF	4
#define DEK_OFF		8
#define NONCE_OFF	APX_VAULT_HDR_LEN
#define CT_OFF		(NONCE_OFF + APX_VAULT_NONCE_LEN)
#define GCM_OVERHEAD	(APX_VAULT_NONCE_LEN + APX_VAULT_TAG_LEN)
#define AAD_PREFIX	"accupredix-vault"
#define AAD_SEP		0x1f

static void	 put_be32(unsigned char *, uint32_t);
static void	 put_be64(unsigned char *, uint64_t);
static uint32_t	 get_be32(const unsigned char *);
static uint64_t	 get_be64(const unsigned char *);
static void	 put_header(unsigned char *, int, uint32_t, uint64_t);
static size_t	 aad_part_len(const char *);
static int	 aad_ok(const unsigned char *, size_t);
static int	 gcm_seal(const unsigned char *, const unsigned char *,
		    const unsigned char *, const unsigned char *, size_t,
		    const unsigned char *, size_t, unsigned char *,
		    unsigned char *);
static int	 gcm_open(const unsigned char *, const unsigned char *,
		    const unsigned char *, const unsigned char *, size_t,
		    const unsigned char *, size_t, const unsigned char *,
		    unsigned char *);

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
get_be64(const unsigned char *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void
put_header(unsigned char *p, int format, uint32_t kek_version,
    uint64_t dek_id)
{
	memcpy(p, MAGIC, MAGIC_LEN);
	p[FORMAT_OFF] = (unsigned char)format;
	put_be32(p + KEKV_OFF, kek_version);
	put_be64(p + DEK_OFF, dek_id);
}

/*
 * Length of one AAD part: 1..APX_VAULT_AAD_PART_MAX printable ASCII
 * bytes (0x20-0x7e, which leaves out the 0x1f separator), or 0 when S
 * is anything else. Never reads past the first byte over the cap.
 */
static size_t
aad_part_len(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i == APX_VAULT_AAD_PART_MAX ||
		    (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	}
	return i;
}

/* A format 1 AAD: present, non-empty and no longer than any we build. */
static int
aad_ok(const unsigned char *aad, size_t aadlen)
{
	return aad != NULL && aadlen > 0 && aadlen <= APX_VAULT_AAD_MAX;
}

/*
 * AES-256-GCM of PLAIN (LEN bytes) into CT (LEN bytes) and TAG, with the
 * record header HDR and then AAD as associated data. 0, APX_ENOMEM or
 * APX_ECRYPTO.
 */
static int
gcm_seal(const unsigned char *key, const unsigned char *nonce,
    const unsigned char *hdr, const unsigned char *aad, size_t aadlen,
    const unsigned char *plain, size_t len, unsigned char *ct,
    unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx;
	int n, rc = APX_ECRYPTO;

	ERR_set_mark();
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
	    APX_VAULT_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, hdr, APX_VAULT_HDR_LEN) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len > 0 && (EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) != 1 ||
	    n != (int)len))
		goto out;
	/* GCM is a stream mode: Final writes nothing. */
	if (EVP_EncryptFinal_ex(ctx, ct + len, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, APX_VAULT_TAG_LEN,
	    tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the key schedule */
	ERR_pop_to_mark();
	return rc;
}

/*
 * The inverse: CT (LEN bytes) into PLAIN (LEN bytes) when TAG verifies
 * over HDR, AAD and CT. 0, APX_ENOMEM or APX_ECRYPTO; on failure PLAIN
 * may hold unauthenticated bytes that the caller must wipe.
 */
static int
gcm_open(const unsigned char *key, const unsigned char *nonce,
    const unsigned char *hdr, const unsigned char *aad, size_t aadlen,
    const unsigned char *ct, size_t len, const unsigned char *tag,
    unsigned char *plain)
{
	EVP_CIPHER_CTX *ctx;
	unsigned char want[APX_VAULT_TAG_LEN];
	int n, rc = APX_ECRYPTO;

	/* The control call takes a non-const pointer: give it a copy. */
	memcpy(want, tag, sizeof(want));
	ERR_set_mark();
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
	    APX_VAULT_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, hdr, APX_VAULT_HDR_LEN) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto out;
	if (len > 0 && (EVP_DecryptUpdate(ctx, plain, &n, ct, (int)len) != 1 ||
	    n != (int)len))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, APX_VAULT_TAG_LEN,
	    want) != 1)
		goto out;
	/*
	 * The tag check: OpenSSL computes the expected tag and compares it
	 * with WANT in constant time (CRYPTO_memcmp) inside
	 * EVP_DecryptFinal_ex; anything but 1 is a refusal. No comparison
	 * of secrets happens here.
	 */
	if (EVP_DecryptFinal_ex(ctx, plain + len, &n) != 1 || n != 0)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);	/* cleanses the key schedule */
	ERR_pop_to_mark();
	return rc;
}

int
apx_vault_record_parse(const unsigned char *p, size_t len,
    struct apx_vault_record *rec)
{
	struct apx_vault_record r;

	if (p == NULL || rec == NULL || len < APX_VAULT_HDR_LEN ||
	    len > APX_VAULT_RECORD_MAX || memcmp(p, MAGIC, MAGIC_LEN) != 0)
		return APX_EINVAL;
	memset(&r, 0, sizeof(r));
	r.format = p[FORMAT_OFF];
	r.kek_version = get_be32(p + KEKV_OFF);
	r.dek_id = get_be64(p + DEK_OFF);
	if (r.dek_id == 0)
		return APX_EINVAL;
	switch (r.format) {
	case 0:
		r.body = p + APX_VAULT_HDR_LEN;
		r.body_len = len - APX_VAULT_HDR_LEN;
		break;
	case 1:
		if (len < APX_VAULT_HDR_LEN + GCM_OVERHEAD)
			return APX_EINVAL;
		r.nonce = p + NONCE_OFF;
		r.body = p + CT_OFF;
		r.body_len = len - APX_VAULT_HDR_LEN - GCM_OVERHEAD;
		r.tag = r.body + r.body_len;
		break;
	default:
		return APX_EINVAL;
	}
	/* Nothing sealed is longer; a format 0 body is held to it too. */
	if (r.body_len > APX_VAULT_MAX_PLAIN)
		return APX_EINVAL;
	*rec = r;
	return 0;
}

int
apx_vault_aad(unsigned char *out, size_t len, size_t *n, int format,
    const char *owner, const char *purpose, const char *record,
    uint64_t dek_id)
{
	const char *part[5];
	size_t plen[5], need, o, i;
	char num[24];
	int k;

	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL || (format != 0 && format != 1) ||
	    dek_id == 0)
		return APX_EINVAL;
	k = snprintf(num, sizeof(num), "%" PRIu64, dek_id);
	if (k <= 0 || (size_t)k >= sizeof(num))
		return APX_EINVAL;
	part[0] = format == 1 ? "1" : "0";
	part[1] = owner;
	part[2] = purpose;
	part[3] = record;
	part[4] = num;
	need = sizeof(AAD_PREFIX) - 1;
	for (i = 0; i < APX_NELEM(part); i++) {
		if (i >= 1 && i <= 3) {
			if ((plen[i] = aad_part_len(part[i])) == 0)
				return APX_EINVAL;
		} else
			plen[i] = strlen(part[i]);
		need += 1 + plen[i];
	}
	if (len < need)
		return APX_ETOOBIG;
	memcpy(out, AAD_PREFIX, sizeof(AAD_PREFIX) - 1);
	o = sizeof(AAD_PREFIX) - 1;
	for (i = 0; i < APX_NELEM(part); i++) {
		out[o++] = AAD_SEP;
		memcpy(out + o, part[i], plen[i]);
		o += plen[i];
	}
	*n = o;
	return 0;
}

int
apx_vault_seal_raw(const unsigned char *key, uint32_t kek_version,
    uint64_t dek_id, const unsigned char *aad, size_t aadlen,
    const unsigned char *plain, size_t len, unsigned char **out,
    size_t *outlen)
{
	unsigned char *buf;
	size_t total;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || outlen == NULL || dek_id == 0 ||
	    (plain == NULL && len > 0))
		return APX_EINVAL;
	if (len > APX_VAULT_MAX_PLAIN)
		return APX_ETOOBIG;
	if (key != NULL && !aad_ok(aad, aadlen))
		return APX_EINVAL;
	total = APX_VAULT_HDR_LEN + len + (key != NULL ? GCM_OVERHEAD : 0);
	if ((buf = malloc(total)) == NULL)
		return APX_ENOMEM;
	if (key == NULL) {
		put_header(buf, 0, kek_version, dek_id);
		if (len > 0)
			memcpy(buf + APX_VAULT_HDR_LEN, plain, len);
	} else {
		put_header(buf, 1, kek_version, dek_id);
		apx_random(buf + NONCE_OFF, APX_VAULT_NONCE_LEN);
		rc = gcm_seal(key, buf + NONCE_OFF, buf, aad, aadlen, plain,
		    len, buf + CT_OFF, buf + CT_OFF + len);
		if (rc != 0)
			goto fail;
	}
	*out = buf;
	*outlen = total;
	return 0;
fail:
	apx_wipe(buf, total);
	free(buf);
	return rc;
}

int
apx_vault_open_raw(const unsigned char *key,
    const struct apx_vault_record *rec, const unsigned char *aad,
    size_t aadlen, unsigned char **plain, size_t *len)
{
	unsigned char hdr[APX_VAULT_HDR_LEN], *buf;
	int rc;

	if (plain != NULL)
		*plain = NULL;
	if (len != NULL)
		*len = 0;
	if (rec == NULL || plain == NULL || len == NULL || rec->dek_id == 0 ||
	    rec->body_len > APX_VAULT_MAX_PLAIN ||
	    (rec->body == NULL && rec->body_len > 0))
		return APX_EINVAL;
	/* No downgrade either way: the key decides which format is wanted. */
	switch (rec->format) {
	case 0:
		if (key != NULL)
			return APX_EINVAL;
		break;
	case 1:
		if (key == NULL || rec->nonce == NULL || rec->tag == NULL ||
		    !aad_ok(aad, aadlen))
			return APX_EINVAL;
		break;
	default:
		return APX_EINVAL;
	}
	if ((buf = malloc(rec->body_len + 1)) == NULL)
		return APX_ENOMEM;
	if (rec->format == 0) {
		if (rec->body_len > 0)
			memcpy(buf, rec->body, rec->body_len);
	} else {
		/* The parse is strict: this is the header that was read. */
		put_header(hdr, 1, rec->kek_version, rec->dek_id);
		rc = gcm_open(key, rec->nonce, hdr, aad, aadlen, rec->body,
		    rec->body_len, rec->tag, buf);
		if (rc != 0)
			goto fail;
	}
	buf[rec->body_len] = '\0';
	*plain = buf;
	*len = rec->body_len;
	return 0;
fail:
	apx_wipe(buf, rec->body_len + 1);
	free(buf);
	return rc;
}
