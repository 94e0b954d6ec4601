#include "config.h"

#include <stdio.h>
#include <string.h>

#include "http/router.h"

static int	 match_path(const char *, const struct apx_request *,
		    const char **, size_t *);
static int	 pattern_shape(const char *, char *, size_t);

/*
 * Walk PATTERN's segments against the request's decoded segments. "{x}"
 * matches any one non-empty segment and records it.
 */
static int
match_path(const char *pattern, const struct apx_request *req,
    const char **params, size_t *nparams)
{
	const char *p = pattern, *s;
	size_t i = 0, np = 0, len;

	if (*p == '/')
		p++;
	while (*p != '\0') {
		if (i >= req->nsegs)
			return 0;
		if (*p == '{' && (len = strcspn(p, "/")) >= 2 &&
		    p[len - 1] == '}') {
			if (np >= APX_HTTP_MAX_ROUTE_PARAMS)
				return 0;
			params[np++] = req->segs[i];
			p += len;
		} else {
			/* a literal segment, compared as it is walked: most
			 * patterns differ from the path at a segment's first
			 * byte, and are left there */
			for (s = req->segs[i]; *p != '/' && *p != '\0' &&
			    *p == *s; p++, s++)
				;
			if ((*p != '/' && *p != '\0') || *s != '\0')
				return 0;
		}
		i++;
		if (*p == '/')
			p++;
	}
	if (i != req->nsegs)
		return 0;
	*nparams = np;
	return 1;
}

int
apx_router_match(const struct apx_route *routes, size_t n,
    struct apx_request *req, int method, int *allow)
{
	const char *params[APX_HTTP_MAX_ROUTE_PARAMS];
	size_t i, np;
	int path_matched = 0;

	*allow = 0;
	for (i = 0; i < n; i++) {
		if (!match_path(routes[i].pattern, req, params, &np))
			continue;
		path_matched = 1;
		*allow |= routes[i].methods;
		if ((routes[i].methods & method) && req->route == NULL) {
			req->route = &routes[i];
			memcpy(req->params, params, np * sizeof(params[0]));
			req->nparams = np;
		}
	}
	if (req->route != NULL)
		return APX_MATCH_OK;
	return path_matched ? APX_MATCH_NOMETHOD : APX_MATCH_NOPATH;
}

const char *
apx_req_param(const struct apx_request *req, const char *name)
{
	const char *p;
	size_t i = 0, len = strlen(name);

	if (req->route == NULL)
		return NULL;
	for (p = req->route->pattern; (p = strchr(p, '{')) != NULL; p++) {
		if (strncmp(p + 1, name, len) == 0 && p[len + 1] == '}')
			return i < req->nparams ? req->params[i] : NULL;
		i++;
	}
	return NULL;
}

const char *
apx_router_allow(struct apx_arena *a, int methods)
{
	static const int order[] = { APX_M_GET, APX_M_HEAD, APX_M_POST,
	    APX_M_PUT, APX_M_PATCH, APX_M_DELETE, APX_M_OPTIONS };
	char buf[128];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < APX_NELEM(order); i++) {
		if (!(methods & order[i]))
			continue;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    o ? ", " : "", apx_http_method_name(order[i]));
	}
	return apx_arena_strdup(a, buf);
}

/*
 * Reduce a pattern to its shape ("/orgs/{org}" -> "/orgs/{}") after
 * checking that every parameter is a whole segment "{name}" with a
 * lower-case name and that there are no more than the router can hold.
 */
static int
pattern_shape(const char *p, char *out, size_t outlen)
{
	const char *seg = p, *end;
	size_t o = 0, nparams = 0, len;

	if (p[0] != '/' || strlen(p) >= outlen)
		return -1;
	while (*seg == '/') {
		seg++;
		if ((end = strchr(seg, '/')) == NULL)
			end = seg + strlen(seg);
		len = (size_t)(end - seg);
		if (len == 0 && *end != '\0')
			return -1;		/* "//" */
		out[o++] = '/';
		if (memchr(seg, '{', len) != NULL ||
		    memchr(seg, '}', len) != NULL) {
			size_t k;

			if (len < 3 || seg[0] != '{' || seg[len - 1] != '}')
				return -1;
			for (k = 1; k < len - 1; k++)
				if (!((seg[k] >= 'a' && seg[k] <= 'z') ||
				    seg[k] == '_'))
					return -1;
			if (++nparams > APX_HTTP_MAX_ROUTE_PARAMS)
				return -1;
			out[o++] = '{';
			out[o++] = '}';
		} else {
			memcpy(out + o, seg, len);
			o += len;
		}
		seg = end;
	}
	out[o] = '\0';
	return 0;
}

int
apx_router_check(const struct apx_route *routes, size_t n, char *err,
    size_t errlen)
{
	char a[512], b[512];
	size_t i, j;
	const char *p;

	for (i = 0; i < n; i++) {
		p = routes[i].pattern;
		if (routes[i].methods == 0 || routes[i].handler == NULL ||
		    pattern_shape(p, a, sizeof(a)) != 0) {
			snprintf(err, errlen, "route %s is malformed", p);
			return APX_EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (pattern_shape(routes[j].pattern, b, sizeof(b)) == 0 &&
			    strcmp(a, b) == 0 &&
			    (routes[j].methods & routes[i].methods)) {
				snprintf(err, errlen,
				    "route %s is declared twice", p);
				return APX_EINVAL;
			}
		}
	}
	return 0;
}
