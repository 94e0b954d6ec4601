/*
 * Fuzz the sealed vault record parser and opener: whatever
 * apx_vault_record_parse accepts must lie inside the input with its parts
 * adding up to the length; opening it with a fixed key and AAD must fail
 * cleanly (nobody but the key holder can forge a tag), and a format 0
 * record opens without a key to exactly its body.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "fuzz.h"
#include "vault/record.h"

static const unsigned char fixed_key[APX_VAULT_KEY_LEN] =
    "fuzz-vault-record-fixed-key-0123";
static const unsigned char fixed_aad[] =
    "accupredix-vault\x1f" "1\x1f" "org:1\x1f" "connector\x1f" "1\x1f" "1";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_vault_record rec, before;
	unsigned char *plain = NULL;
	size_t len = 1, fixed;
	int rc;

	memset(&before, 0xa5, sizeof(before));
	rec = before;
	if (apx_vault_record_parse(data, size, &rec) != 0) {
		if (memcmp(&rec, &before, sizeof(rec)) != 0)
			__builtin_trap();	/* refusals write nothing */
		return 0;
	}
	/* Accepted: the documented shape, and nothing but it. */
	if (size < APX_VAULT_HDR_LEN || size > APX_VAULT_RECORD_MAX ||
	    memcmp(data, "AXV", 3) != 0 || data[3] != rec.format ||
	    rec.dek_id == 0 || rec.body_len > APX_VAULT_MAX_PLAIN ||
	    rec.body < data || rec.body + rec.body_len > data + size)
		__builtin_trap();
	switch (rec.format) {
	case 0:
		if (rec.nonce != NULL || rec.tag != NULL ||
		    rec.body != data + APX_VAULT_HDR_LEN ||
		    APX_VAULT_HDR_LEN + rec.body_len != size)
			__builtin_trap();
		break;
	case 1:
		fixed = APX_VAULT_HDR_LEN + APX_VAULT_NONCE_LEN +
		    APX_VAULT_TAG_LEN;
		if (rec.nonce != data + APX_VAULT_HDR_LEN ||
		    rec.body != rec.nonce + APX_VAULT_NONCE_LEN ||
		    rec.tag != rec.body + rec.body_len ||
		    fixed + rec.body_len != size)
			__builtin_trap();
		break;
	default:
		__builtin_trap();
	}

	rc = apx_vault_open_raw(fixed_key, &rec, fixed_aad,
	    sizeof(fixed_aad) - 1, &plain, &len);
	if ((rec.format == 1 && rc != APX_ECRYPTO) ||
	    (rec.format == 0 && rc != APX_EINVAL) || plain != NULL || len != 0)
		__builtin_trap();
	len = 1;
	rc = apx_vault_open_raw(NULL, &rec, fixed_aad, sizeof(fixed_aad) - 1,
	    &plain, &len);
	if (rec.format == 1) {
		if (rc != APX_EINVAL || plain != NULL || len != 0)
			__builtin_trap();
		return 0;
	}
	if (rc != 0 || len != rec.body_len || plain[len] != '\0' ||
	    (len > 0 && memcmp(plain, rec.body, len) != 0))
		__builtin_trap();
	apx_wipe(plain, len + 1);
	free(plain);
	return 0;
}
