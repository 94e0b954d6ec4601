/* Fuzz the JSON body path: media type check, parse, object check. */
#include "config.h"

#include "fuzz.h"
#include "http/http.h"
#include "http/response.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_arena *a = apx_arena_new();
	struct apx_request req = { 0 };
	struct apx_response resp;
	json_t *v = NULL;

	if (a == NULL)
		return 0;
	apx_resp_init(&resp, a);
	req.arena = a;
	req.content_type = "application/json";
	req.body = (unsigned char *)(uintptr_t)data;
	req.body_len = size;
	if (apx_http_json_object(&req, &resp, &v) == 0) {
		if (!json_is_object(v))
			__builtin_trap();
		json_decref(v);
	} else if (resp.status != 400)
		__builtin_trap();
	apx_resp_free(&resp);
	apx_arena_free(a);
	return 0;
}
