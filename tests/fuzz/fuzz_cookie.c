/* Fuzz the Cookie header parser. */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "http/http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_kvlist l;
	size_t i;

	if (a == NULL)
		return 0;
	if (apx_http_parse_cookies(a, (const char *)data, size, &l) == 0) {
		if (l.n > APX_HTTP_MAX_COOKIES)
			__builtin_trap();
		for (i = 0; i < l.n; i++)
			if (strpbrk(l.v[i].key, ";= \t") != NULL ||
			    strpbrk(l.v[i].value, ";") != NULL)
				__builtin_trap();
	}
	apx_arena_free(a);
	return 0;
}
