/*
 * Fuzz the RFC 3339 parsers (API query and body times, config times):
 * whatever apx_rfc3339_parse_us accepts formats back to a canonical text
 * that parses to the same instant; the strict parser accepts a subset.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, canon[40];
	int64_t t, t2, t3;
	int us, us2;

	if (size > 256 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (apx_rfc3339_parse(s, &t3) == 0 &&
	    (apx_rfc3339_parse_us(s, &t, &us) != 0 || t != t3 || us != 0))
		__builtin_trap();
	if (apx_rfc3339_parse_us(s, &t, &us) == 0) {
		if (us < 0 || us > 999999)
			__builtin_trap();
		apx_rfc3339_format_us(t, us, canon, sizeof(canon));
		if (strlen(canon) != 27 ||
		    apx_rfc3339_parse_us(canon, &t2, &us2) != 0 || t2 != t ||
		    us2 != us)
			__builtin_trap();
	}
	free(s);
	return 0;
}
