/*
 * The HTTP layer over FastCGI: a request object built from CGI parameters
 * and the body, the pure parsers behind it (query strings, cookies, header
 * names, percent-decoding: all bounded, all fuzzed), and a response builder.
 */
#ifndef APX_HTTP_HTTP_H
#define APX_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/apx.h"
#include "core/arena.h"

#define APX_HTTP_MAX_PARAMS	128	/* query or form fields */
#define APX_HTTP_MAX_COOKIES	64
#define APX_HTTP_MAX_HEADERS	128
#define APX_HTTP_MAX_QUERY	8192
#define APX_HTTP_MAX_PATH	4096
#define APX_HTTP_MAX_SEGMENTS	32
#define APX_HTTP_MAX_ROUTE_PARAMS 8
#define APX_HTTP_RID_MAX	64

enum apx_method {
	APX_M_GET = 1 << 0,
	APX_M_HEAD = 1 << 1,
	APX_M_POST = 1 << 2,
	APX_M_PUT = 1 << 3,
	APX_M_PATCH = 1 << 4,
	APX_M_DELETE = 1 << 5,
	APX_M_OPTIONS = 1 << 6,
	APX_M_OTHER = 1 << 7,
};

struct apx_kv {
	const char	*key;
	const char	*value;
	size_t		 vlen;	/* value may hold NUL after decoding */
};

struct apx_kvlist {
	struct apx_kv	*v;
	size_t		 n;
};

struct apx_request {
	struct apx_arena	*arena;
	int			 method;	/* enum apx_method */
	const char		*method_str;
	const char		*raw_path;	/* as sent, before '?' */
	const char		*segs[APX_HTTP_MAX_SEGMENTS]; /* decoded */
	size_t			 nsegs;
	const char		*raw_query;
	struct apx_kvlist	 query;
	struct apx_kvlist	 headers;	/* lower-case names */
	struct apx_kvlist	 cookies;
	const char		*remote_addr;	/* the client (see authz.h) */
	const char		*peer_addr;	/* REMOTE_ADDR as received */
	const char		*content_type;	/* media type, lower-case */
	long long		 content_length; /* -1 when absent */
	unsigned char		*body;
	size_t			 body_len;
	/* Ours, always generated here: the answer's X-Request-Id, every
	 * log line and the audit log.  A client's own X-Request-Id (when
	 * well-formed) is only kept for the access line, to correlate. */
	char			 request_id[APX_HTTP_RID_MAX + 1];
	char			 client_request_id[APX_HTTP_RID_MAX + 1];
	uint64_t		 start_us;

	/* Filled by the router. */
	const struct apx_route	*route;
	const char		*params[APX_HTTP_MAX_ROUTE_PARAMS];
	size_t			 nparams;
};

/* --- pure parsers (no I/O; fuzz targets) ------------------------------ */

/*
 * Percent-decode LEN bytes of S into arena memory; '+' is a space when
 * PLUS is set. APX_EINVAL on a malformed escape.
 */
int	 apx_http_pct_decode(struct apx_arena *, const char *, size_t, int,
	    char **, size_t *);
/* "a=1&b=%20" -> list; APX_EINVAL, APX_ETOOBIG. */
int	 apx_http_parse_query(struct apx_arena *, const char *, size_t,
	    struct apx_kvlist *);
/* The same for a form body: no length cap beyond the body's own. */
int	 apx_http_parse_form(struct apx_arena *, const char *, size_t,
	    struct apx_kvlist *);
/* Cookie header -> list; malformed pairs are skipped, not fatal. */
int	 apx_http_parse_cookies(struct apx_arena *, const char *, size_t,
	    struct apx_kvlist *);
/* "HTTP_X_REQUEST_ID" -> "x-request-id"; APX_EINVAL if not a header. */
int	 apx_http_header_name(struct apx_arena *, const char *, char **);
/* Split a raw path into decoded segments; APX_EINVAL on '..' tricks, NUL. */
int	 apx_http_split_path(struct apx_arena *, const char *, size_t,
	    const char **, size_t, size_t *);
/* Media type of a Content-Type value, lower-cased, parameters dropped. */
const char *apx_http_media_type(struct apx_arena *, const char *);
int	 apx_http_method_parse(const char *);
const char *apx_http_method_name(int);
/* A client-sent request id is kept when it is [A-Za-z0-9._-]{1,64}. */
int	 apx_http_valid_request_id(const char *);

const char *apx_kv_get(const struct apx_kvlist *, const char *);
const struct apx_kv *apx_kv_find(const struct apx_kvlist *, const char *);
const char *apx_req_header(const struct apx_request *, const char *);
const char *apx_req_cookie(const struct apx_request *, const char *);
const char *apx_req_query(const struct apx_request *, const char *);
const char *apx_req_param(const struct apx_request *, const char *);

/*
 * Build a request from CGI-style parameters (NULL-terminated "K=V" array).
 * The body is read separately (apx_http_read_body in fcgi.c).
 */
int	 apx_http_request_init(struct apx_request *, struct apx_arena *,
	    char *const *);

/* JSON body: 415 if not application/json, 400 if malformed/not an object. */
struct apx_response;
int	 apx_http_json_object(struct apx_request *, struct apx_response *,
	    json_t **);
/*
 * Form body: 415 if not application/x-www-form-urlencoded, 400 if malformed
 * or over APX_HTTP_MAX_PARAMS fields. On failure the problem is set.
 */
int	 apx_http_form(struct apx_request *, struct apx_response *,
	    struct apx_kvlist *);

#endif
