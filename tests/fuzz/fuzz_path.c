/* Fuzz path splitting and routing against the real route table. */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "http/http.h"
#include "http/router.h"
#include "routes/routes.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_request req;
	const struct apx_route *routes;
	size_t i, n;
	int allow;

	if (a == NULL)
		return 0;
	memset(&req, 0, sizeof(req));
	req.arena = a;
	if (apx_http_split_path(a, (const char *)data, size, req.segs,
	    APX_HTTP_MAX_SEGMENTS, &req.nsegs) == 0) {
		for (i = 0; i < req.nsegs; i++)
			if (strcmp(req.segs[i], "..") == 0 ||
			    strchr(req.segs[i], '/') != NULL)
				__builtin_trap();
		routes = apx_routes(&n);
		(void)apx_router_match(routes, n, &req, APX_M_GET, &allow);
	}
	apx_arena_free(a);
	return 0;
}
