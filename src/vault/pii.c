/* Personal-data fields: sealing and blind indexes (see pii.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/apx.h"
#include "core/buf.h"
#include "vault/pii.h"
#include "vault/vault.h"

#define PURPOSE_SEAL	APX_PII_PURPOSE
#define PURPOSE_INDEX	APX_PII_INDEX_PURPOSE

static void	 owner_of(int64_t, char *, size_t);
static int	 record_of(int64_t, long long, const char *, char *, size_t);

static void
owner_of(int64_t org, char *buf, size_t len)
{
	snprintf(buf, len, "org:%lld", (long long)org);
}

static int
record_of(int64_t upload, long long row, const char *column, char *buf,
    size_t len)
{
	if ((size_t)snprintf(buf, len, "upload:%lld:%lld:%s",
	    (long long)upload, row, column) >= len)
		return APX_EINVAL;
	return 0;
}

int
apx_pii_blind(struct apx_vault *v, struct apx_db *ctl, int64_t org,
    const char *column, const char *value, size_t len, char *hex)
{
	unsigned char mac[APX_VAULT_MAC_LEN];
	struct apx_buf msg = { 0 };
	char owner[32];
	int rc;

	owner_of(org, owner, sizeof(owner));
	/* column NUL value: no two pairs give the same message. */
	if ((rc = apx_buf_add(&msg, column, strlen(column) + 1)) == 0 &&
	    (rc = apx_buf_add(&msg, value, len)) == 0 &&
	    (rc = apx_vault_mac(v, ctl, owner, PURPOSE_INDEX, msg.data,
	    msg.len, mac)) == 0)
		sodium_bin2hex(hex, APX_PII_BLIND_HEX, mac, sizeof(mac));
	apx_wipe(msg.data, msg.len);
	apx_buf_free(&msg);
	return rc;
}

int
apx_pii_seal(struct apx_vault *v, struct apx_db *ctl, int64_t org,
    int64_t upload, long long row, const char *column, const char *value,
    size_t len, unsigned char **out, size_t *outlen)
{
	char owner[32], rec[128];
	int rc;

	owner_of(org, owner, sizeof(owner));
	if ((rc = record_of(upload, row, column, rec, sizeof(rec))) != 0)
		return rc;
	/* Never the unsealed format for personal data. */
	if (apx_vault_current(v) == 0)
		return APX_ENOKEY;
	return apx_vault_seal(v, ctl, owner, PURPOSE_SEAL, rec, value, len,
	    out, outlen);
}

int
apx_pii_open(struct apx_vault *v, struct apx_db *ctl, int64_t org,
    int64_t upload, long long row, const char *column,
    const unsigned char *sealed, size_t len, char **out, size_t *outlen)
{
	unsigned char *plain = NULL;
	char owner[32], rec[128];
	int rc;

	*out = NULL;
	owner_of(org, owner, sizeof(owner));
	if ((rc = record_of(upload, row, column, rec, sizeof(rec))) != 0)
		return rc;
	if ((rc = apx_vault_open(v, ctl, owner, PURPOSE_SEAL, rec, sealed, len,
	    &plain, outlen)) != 0)
		return rc;
	*out = (char *)plain;
	return 0;
}

int
apx_pii_open_hex(struct apx_vault *v, struct apx_db *ctl, int64_t org,
    int64_t upload, long long row, const char *column, const char *hex,
    char **out, size_t *outlen)
{
	size_t hlen = strlen(hex), n = 0;
	unsigned char *sealed;
	int rc;

	*out = NULL;
	if ((sealed = malloc(hlen / 2 + 1)) == NULL)
		return APX_ENOMEM;
	rc = sodium_hex2bin(sealed, hlen / 2 + 1, hex, hlen, NULL, &n, NULL) ==
	    0 ? apx_pii_open(v, ctl, org, upload, row, column, sealed, n, out,
	    outlen) : APX_ECRYPTO;
	free(sealed);
	return rc;
}
