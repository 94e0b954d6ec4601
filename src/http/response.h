/*
 * Response builder: status, headers, cookies with secure defaults, JSON and
 * RFC 9457 problem details. Serialised to CGI form by apx_resp_serialize.
 */
#ifndef APX_HTTP_RESPONSE_H
#define APX_HTTP_RESPONSE_H

#include <jansson.h>

#include "core/buf.h"
#include "http/http.h"

#define APX_RESP_MAX_HEADERS	48

struct apx_response {
	struct apx_arena	*arena;
	int			 status;
	struct apx_kv		 headers[APX_RESP_MAX_HEADERS];
	size_t			 nheaders;
	struct apx_buf		 body;
	int			 no_store;	/* Cache-Control: no-store */
	const char		*problem_type;	/* slug, when an error */
	/*
	 * The Content-Security-Policy of a page the app serves itself
	 * (static text); NULL, as for every JSON answer and every answer
	 * reset after an error: the strictest, which allows nothing.
	 */
	const char		*csp;
};

#define APX_CSP_DEFAULT \
	"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; " \
	"form-action 'none'"

struct apx_cookie_opts {
	const char	*path;		/* default "/" */
	long long	 max_age;	/* -1: session cookie; 0: delete */
	int		 http_only;	/* default on: use APX_COOKIE_* */
	int		 same_site;	/* APX_SAMESITE_*, default Lax */
};

#define APX_SAMESITE_LAX	0
#define APX_SAMESITE_STRICT	1
#define APX_SAMESITE_NONE	2	/* a cross-site POST (SAML's ACS) */

void	 apx_resp_init(struct apx_response *, struct apx_arena *);
void	 apx_resp_free(struct apx_response *);
void	 apx_resp_reset(struct apx_response *);
int	 apx_resp_header(struct apx_response *, const char *, const char *);
int	 apx_resp_header_set(struct apx_response *, const char *, const char *);
const char *apx_resp_header_get(const struct apx_response *, const char *);
/* __Host- cookies: Secure, Path=/, no Domain; HttpOnly unless asked. */
int	 apx_resp_cookie(struct apx_response *, const char *, const char *,
	    const struct apx_cookie_opts *);
int	 apx_resp_text(struct apx_response *, int, const char *, const char *,
	    size_t);
/* Takes a reference to the JSON value (json_decref is done here). */
int	 apx_resp_json(struct apx_response *, int, json_t *);
/*
 * JSON text made elsewhere (a PostgreSQL answer) as the body, in the same
 * compact ASCII form (apx_buf_json_compact), without parsing it: APX_EDB
 * when it is not UTF-8 JSON text.
 */
int	 apx_resp_json_text(struct apx_response *, int, const char *, size_t);
/* The body already holds JSON in that form: answer it with STATUS. */
int	 apx_resp_json_body(struct apx_response *, int);
/* RFC 9457 problem; FIELD may be NULL. DETAIL must hold no secret. */
int	 apx_resp_problem(struct apx_response *, int, const char *,
	    const char *, const char *);
void	 apx_resp_set_problem_base(const char *);
/* Map an APX_E* code to a problem answer (the one place that does). */
int	 apx_resp_error(struct apx_response *, int);
const char *apx_http_reason(int);

/* CGI form: "Status: ..\r\nHeader: ..\r\n\r\nbody" (body omitted for HEAD). */
int	 apx_resp_serialize(const struct apx_response *, int, struct apx_buf *);

#endif
