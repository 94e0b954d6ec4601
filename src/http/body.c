/*
 * Request bodies: JSON (jansson) and HTML form posts. The body is already
 * size-capped when it gets here; jansson refuses NUL in strings, duplicate
 * keys are refused.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "http/response.h"

int
apx_http_json_object(struct apx_request *req, struct apx_response *resp,
    json_t **out)
{
	json_error_t jerr;
	json_t *v;
	char detail[200];

	*out = NULL;
	if (req->content_type == NULL ||
	    (strcmp(req->content_type, "application/json") != 0 &&
	    strcmp(req->content_type, "application/merge-patch+json") != 0)) {
		apx_resp_problem(resp, 415, "unsupported-media-type",
		    "The body must be application/json.", NULL);
		return APX_EINVAL;
	}
	v = json_loadb((const char *)req->body, req->body_len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		/* jansson's text names a position and a reason, not input. */
		snprintf(detail, sizeof(detail),
		    "The body is not valid JSON (line %d, column %d).",
		    jerr.line, jerr.column);
		apx_resp_problem(resp, 400, "malformed-json", detail, NULL);
		return APX_EINVAL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		apx_resp_problem(resp, 400, "malformed-json",
		    "The body must be a JSON object.", NULL);
		return APX_EINVAL;
	}
	*out = v;
	return 0;
}

int
apx_http_form(struct apx_request *req, struct apx_response *resp,
    struct apx_kvlist *out)
{
	int rc;

	out->v = NULL;
	out->n = 0;
	if (req->content_type == NULL ||
	    strcmp(req->content_type, "application/x-www-form-urlencoded") != 0) {
		apx_resp_problem(resp, 415, "unsupported-media-type",
		    "The body must be application/x-www-form-urlencoded.", NULL);
		return APX_EINVAL;
	}
	if (memchr(req->body, '\0', req->body_len) != NULL)
		rc = APX_EINVAL;
	else
		rc = apx_http_parse_form(req->arena, (const char *)req->body,
		    req->body_len, out);
	if (rc == APX_ENOMEM)
		return rc;
	if (rc != 0) {
		apx_resp_problem(resp, 400, "malformed-form",
		    rc == APX_ETOOBIG ? "The form has too many fields." :
		    "The form body is not valid URL-encoded data.", NULL);
		return APX_EINVAL;
	}
	return 0;
}
