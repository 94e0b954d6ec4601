/*
 * Sealed vault records: the binary form a secret value takes in the
 * database, with no knowledge of where its key comes from.
 *
 *	offset 0   3 bytes  magic "AXV"
 *	       3   1 byte   format: 1 = AES-256-GCM, 0 = plaintext
 *	                    (development mode only, no crypto)
 *	       4   4 bytes  KEK version that wrapped the data key at sealing
 *	                    time (big-endian)
 *	       8   8 bytes  data key id (big-endian, > 0)
 *	      16  12 bytes  nonce       (format 1 only)
 *	      28   n bytes  ciphertext  (format 1; format 0: the plaintext
 *	                    from offset 16)
 *	    28+n  16 bytes  tag         (format 1 only)
 *
 * Format 1 authenticates the 16-byte header as well as the caller's
 * associated data: the data given to GCM is the header followed by the
 * AAD from apx_vault_aad(), so that no header byte (the KEK version
 * included) can change without the record failing to open.
 */
#ifndef APX_VAULT_RECORD_H
#define APX_VAULT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define APX_VAULT_KEY_LEN	32
#define APX_VAULT_NONCE_LEN	12
#define APX_VAULT_TAG_LEN	16
#define APX_VAULT_HDR_LEN	16
#define APX_VAULT_MAX_PLAIN	(1024 * 1024)	/* largest value sealed */
#define APX_VAULT_RECORD_MAX	(APX_VAULT_HDR_LEN + APX_VAULT_NONCE_LEN + \
	APX_VAULT_MAX_PLAIN + APX_VAULT_TAG_LEN)
#define APX_VAULT_AAD_PART_MAX	200	/* owner, purpose, record id */
/* "accupredix-vault" + 5 separators + format + 3 parts + 20 digits. */
#define APX_VAULT_AAD_MAX	(16 + 5 + 1 + 3 * APX_VAULT_AAD_PART_MAX + 20)

/* A parsed record; the pointers borrow the input. */
struct apx_vault_record {
	int			 format;	/* 0 or 1 */
	uint32_t		 kek_version;
	uint64_t		 dek_id;
	const unsigned char	*nonce;		/* NULL for format 0 */
	const unsigned char	*body;		/* ciphertext (format 0: plain) */
	size_t			 body_len;
	const unsigned char	*tag;		/* NULL for format 0 */
};

/*
 * Strict, bounded parse of LEN bytes: the magic, a known format, a data
 * key id > 0, a length that holds the fixed parts and a body of at most
 * APX_VAULT_MAX_PLAIN bytes (so never more than APX_VAULT_RECORD_MAX).
 * APX_EINVAL otherwise, and *REC is left untouched. No allocation.
 */
int	 apx_vault_record_parse(const unsigned char *, size_t,
	    struct apx_vault_record *);
/*
 * Associated data binding a sealed value to its owner:
 * "accupredix-vault" 0x1f FORMAT 0x1f OWNER 0x1f PURPOSE 0x1f RECORD 0x1f
 * DEK_ID, FORMAT and DEK_ID in decimal, into OUT (LEN bytes; at most
 * APX_VAULT_AAD_MAX are needed), *N its length. OWNER ("org:12",
 * "platform"), PURPOSE ("connector", "jwt", "pii", "dek") and RECORD (the
 * row's own id text) must be non-empty printable ASCII (so without 0x1f),
 * each at most APX_VAULT_AAD_PART_MAX bytes; FORMAT is 0 or 1 and DEK_ID
 * > 0: APX_EINVAL otherwise. APX_ETOOBIG when OUT is short. On failure
 * OUT is not written and *N is 0.
 */
int	 apx_vault_aad(unsigned char *out, size_t len, size_t *n, int format,
	    const char *owner, const char *purpose, const char *record,
	    uint64_t dek_id);
/*
 * Seal PLAIN (LEN <= APX_VAULT_MAX_PLAIN, APX_ETOOBIG otherwise) with KEY
 * (APX_VAULT_KEY_LEN bytes) under format 1 with a fresh random nonce. A
 * NULL KEY makes a format 0 (plaintext) record and AAD is ignored: only
 * development mode may ask for that. For format 1 the AAD must be the
 * non-empty one apx_vault_aad() built for the same format and DEK_ID.
 * *OUT is malloc'd, *OUTLEN its size; nothing is returned on failure.
 */
int	 apx_vault_seal_raw(const unsigned char *key, uint32_t kek_version,
	    uint64_t dek_id, const unsigned char *aad, size_t aadlen,
	    const unsigned char *plain, size_t len, unsigned char **out,
	    size_t *outlen);
/*
 * Open a parsed record with KEY. A format 1 record needs a key and a
 * format 0 record must come without one (no downgrade): APX_EINVAL
 * otherwise. APX_ECRYPTO when the tag does not verify (wrong key, wrong
 * AAD, any changed byte). *PLAIN is malloc'd (LEN + 1 bytes, NUL-terminated
 * for convenience), *LEN its length; the caller wipes and frees it. On
 * failure *PLAIN is NULL, *LEN 0 and any partial plaintext is wiped.
 */
int	 apx_vault_open_raw(const unsigned char *key,
	    const struct apx_vault_record *, const unsigned char *aad,
	    size_t aadlen, unsigned char **plain, size_t *len);

#endif
