/*
 * Field-level encryption of personal data in tenant databases (Growth
 * plan and up, org setting pii_encryption). A value is sealed by the
 * vault with the org's "pii" data key (randomised AES-256-GCM; the
 * record id binds it to its upload, row and column), and gets a blind
 * index: HMAC-SHA256 under the org's "pii_index" data key of column and
 * value, so that an exact value can be found without decrypting anything.
 */
#ifndef APX_VAULT_PII_H
#define APX_VAULT_PII_H

#include <stddef.h>
#include <stdint.h>

struct apx_db;
struct apx_vault;

/* The org's data keys: sealing (rotated), blind index (HMAC, kept). */
#define APX_PII_PURPOSE		"pii"
#define APX_PII_INDEX_PURPOSE	"pii_index"

#define APX_PII_BLIND_LEN	32
/* Hex text of a blind index, NUL included. */
#define APX_PII_BLIND_HEX	(2 * APX_PII_BLIND_LEN + 1)

/* The blind index of VALUE in COLUMN for org ORG, as hex into OUT. */
int	 apx_pii_blind(struct apx_vault *, struct apx_db *, int64_t,
	    const char *, const char *, size_t, char *);
/* Seal VALUE of (UPLOAD, ROW, COLUMN) of org ORG; *OUT malloc'd. */
int	 apx_pii_seal(struct apx_vault *, struct apx_db *, int64_t, int64_t,
	    long long, const char *, const char *, size_t, unsigned char **,
	    size_t *);
/* Open what apx_pii_seal made; *OUT malloc'd, NUL-terminated. */
int	 apx_pii_open(struct apx_vault *, struct apx_db *, int64_t, int64_t,
	    long long, const char *, const unsigned char *, size_t, char **,
	    size_t *);

/* The same from the hex text of the sealed record (a bytea's encode()). */
int	 apx_pii_open_hex(struct apx_vault *, struct apx_db *, int64_t,
	    int64_t, long long, const char *, const char *, char **, size_t *);

#endif
