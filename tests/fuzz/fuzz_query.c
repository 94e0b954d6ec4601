/* Fuzz the query-string parser and percent-decoding. */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "http/http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_kvlist l;
	char *out;
	size_t n, i;

	if (a == NULL)
		return 0;
	if (apx_http_parse_query(a, (const char *)data, size, &l) == 0) {
		for (i = 0; i < l.n; i++)
			if (l.v[i].key[0] == '\0' || strlen(l.v[i].key) == 0)
				__builtin_trap();	/* keys are non-empty */
	}
	if (apx_http_pct_decode(a, (const char *)data, size, 1, &out, &n) == 0 &&
	    n > size)
		__builtin_trap();	/* decoding never grows */
	apx_arena_free(a);
	return 0;
}
