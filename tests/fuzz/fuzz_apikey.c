/*
 * Fuzz the API key parser: apx_apikey_parse on the raw bytes; what it
 * accepts must be exactly 69 bytes of the documented shape, hash to a
 * stable value, and keep its prefix when rotated.
 */
#include "config.h"

#include <string.h>

#include "auth/apikey.h"
#include "core/apx.h"
#include "fuzz.h"

static int	 in_alphabet(const char *, size_t);

static int
in_alphabet(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' &&
		    s[i] <= '7')))
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char prefix[APX_APIKEY_PREFIX_LEN + 1], p2[APX_APIKEY_PREFIX_LEN + 1];
	char key[APX_APIKEY_LEN + 1];
	unsigned char h1[APX_APIKEY_HASH_LEN], h2[APX_APIKEY_HASH_LEN];
	int looks = apx_apikey_looks_like(s, size);

	if (looks != (size >= 4 && memcmp(s, "apx_", 4) == 0))
		__builtin_trap();
	memset(prefix, '#', sizeof(prefix));
	if (apx_apikey_parse(s, size, prefix) != 0) {
		if (memcmp(prefix, "#############", sizeof(prefix)) != 0)
			__builtin_trap();	/* refusals write nothing */
		return 0;
	}
	/* Accepted: the shape, and nothing but it. */
	if (!looks || size != APX_APIKEY_LEN || s[16] != '_' ||
	    memchr(s, '\0', size) != NULL ||
	    !in_alphabet(s + 4, APX_APIKEY_PREFIX_LEN) ||
	    !in_alphabet(s + 17, APX_APIKEY_SECRET_LEN) ||
	    (s[68] != 'a' && s[68] != 'q') ||
	    strlen(prefix) != APX_APIKEY_PREFIX_LEN ||
	    memcmp(prefix, s + 4, APX_APIKEY_PREFIX_LEN) != 0)
		__builtin_trap();
	apx_apikey_hash(s, size, h1);
	apx_apikey_hash(s, size, h2);
	if (!apx_apikey_hash_equal(h1, h2))
		__builtin_trap();
	/* Rotation keeps the prefix and changes the secret. */
	if (apx_apikey_generate(prefix, key, p2, h2) != 0 ||
	    strcmp(p2, prefix) != 0 || memcmp(key, s, 17) != 0 ||
	    apx_apikey_parse(key, strlen(key), NULL) != 0 ||
	    memcmp(key + 17, s + 17, APX_APIKEY_SECRET_LEN) == 0 ||
	    apx_apikey_hash_equal(h1, h2))
		__builtin_trap();
	apx_wipe(key, sizeof(key));
	return 0;
}
