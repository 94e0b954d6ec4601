/*
 * Fuzz request construction from CGI parameters: the input is split on
 * newlines into "NAME=value" entries, as FastCGI PARAMS would deliver.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/http.h"

#define MAX_ENV 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_arena *a;
	struct apx_request req;
	char *copy, *env[MAX_ENV + 1], *p, *nl;
	size_t n = 0, i;

	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = copy; n < MAX_ENV && *p != '\0'; p = nl + 1) {
		env[n++] = p;
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	env[n] = NULL;
	if ((a = apx_arena_new()) != NULL) {
		if (apx_http_request_init(&req, a, env) == 0) {
			if (!apx_http_valid_request_id(req.request_id))
				__builtin_trap();
			for (i = 0; i < req.headers.n; i++)
				if (strpbrk(req.headers.v[i].key,
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != NULL)
					__builtin_trap();
		}
		apx_arena_free(a);
	}
	free(copy);
	return 0;
}
