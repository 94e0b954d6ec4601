/* Fuzz the configuration parser (environment not consulted). */
#include "config.h"

#include "core/conf.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_conf *c = NULL;
	char err[512];

	if (apx_conf_parse("fuzz.conf", (const char *)data, size, 0, &c, err,
	    sizeof(err)) == 0) {
		if (c->db_conninfo == NULL || c->sec_contact.n == 0)
			__builtin_trap();	/* required keys */
		apx_conf_free(c);
	} else if (err[0] == '\0')
		__builtin_trap();		/* every refusal says why */
	return 0;
}
