/*
 * The HTTP client a plugin gets: libcurl, only to the origins of the
 * plugin's URL fields, certificates verified, no redirects, a timeout and
 * a cap on the answer. Credentials handed in are redacted from the log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect/connect.h"
#include "core/fetch.h"
#include "core/url.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"

#define BODY_MAX	(1024 * 1024)
#define TIMEOUT_S	10L
#define HEADERS_MAX	32
#define HEADER_MAX	4096
#define RETRIES_429	5	/* a job honours Retry-After this often */
#define RETRY_DEFAULT_S	2	/* a 429 without (readable) Retry-After */
#define RETRY_MAX_S	60

static int	 allowed(const struct apx_plugin *, const char *);

/* The URL is under an origin of one of the plugin's URL fields. */
static int
allowed(const struct apx_plugin *pl, const char *url)
{
	size_t i;

	for (i = 0; i < pl->d->nfields && i < APX_PLUGIN_FIELDS_MAX; i++)
		if (pl->d->fields[i].type == APX_FIELD_URL &&
		    pl->server[i] != NULL && apx_url_allowed(url,
		    apx_secret_str(pl->server[i])))
			return 1;
	return 0;
}

int
apx_connect_http(struct apx_cx *cx, const struct apx_http_request *rq,
    struct apx_http_response *rs)
{
	const char *lines[HEADERS_MAX], *why = NULL;
	struct apx_fetch f;
	struct apx_fetch_answer ans;
	char *buf = NULL;
	size_t i, n;
	long wait;
	int rc, tries;

	if (rs != NULL)
		memset(rs, 0, sizeof(*rs));
	if (cx == NULL || rq == NULL || rs == NULL || rq->url == NULL ||
	    rq->method == NULL)
		return APX_C_EINVAL;
	if (!allowed(cx->pl, rq->url)) {
		apx_log_warn("connector %s: request to an URL outside its "
		    "configured origins refused", cx->pl->d->name);
		return APX_C_EDENIED;
	}
	if (rq->nheaders > HEADERS_MAX)
		return APX_C_ETOOBIG;
	apx_cx_secret(cx, rq->basic_password);
	apx_cx_secret(cx, rq->bearer);
	for (i = 0; i < rq->nheaders; i++) {
		const struct apx_param *p = &rq->headers[i];

		/* CR and LF are refused by apx_fetch, a colon here */
		if (p->name == NULL || p->value == NULL ||
		    strchr(p->name, ':') != NULL ||
		    (n = strlen(p->name) + strlen(p->value) + 3) > HEADER_MAX)
			return APX_C_EINVAL;
		/* A credential in a header of its own (Shopify's). */
		if (strcasestr(p->name, "token") != NULL ||
		    strcasestr(p->name, "auth") != NULL ||
		    strcasestr(p->name, "key") != NULL)
			apx_cx_secret(cx, p->value);
		if ((buf = apx_cx_alloc(cx, n)) == NULL)
			return APX_C_ENOMEM;
		snprintf(buf, n, "%s: %s", p->name, p->value);
		lines[i] = buf;
	}
	memset(&f, 0, sizeof(f));
	f.method = rq->method;
	f.url = rq->url;
	f.headers = lines;
	f.nheaders = rq->nheaders;
	f.body = rq->body;
	f.body_len = rq->body_len;
	f.content_type = rq->content_type;
	f.basic_user = rq->basic_user;
	f.basic_password = rq->basic_password;
	f.bearer = rq->bearer;
	f.user_agent = "AccuPredix-connector/1";
	f.max = BODY_MAX;
	f.timeout = TIMEOUT_S;
	for (tries = 0;; tries++) {
		cx->http_calls++;
		rc = apx_fetch(&f, &ans, &why);
		/*
		 * A job honours the provider's 429 and its Retry-After itself,
		 * for every plugin alike; a request (someone waits) never
		 * sleeps: the plugin gets the 429.
		 */
		if (rc != 0 || ans.status != 429 || !cx->job ||
		    tries >= RETRIES_429)
			break;
		wait = ans.retry_after >= 0 ? ans.retry_after :
		    RETRY_DEFAULT_S;
		if (wait > RETRY_MAX_S)
			break;
		apx_log_info("connector %s: HTTP 429, retrying after %ld s",
		    cx->pl->d->name, wait < 1 ? 1 : wait);
		apx_fetch_answer_clear(&ans);
		(void)apx_hd_wait(cx, (wait < 1 ? 1 : wait) * 1000);
	}
	switch (rc) {
	case 0:
		break;
	case APX_ETOOBIG:
		apx_log_warn("connector %s: answer over %d bytes refused",
		    cx->pl->d->name, BODY_MAX);
		return APX_C_ETOOBIG;
	case APX_EINVAL:
		return APX_C_EINVAL;
	case APX_ENOMEM:
		return APX_C_ENOMEM;
	default:
		apx_log_warn("connector %s: %s %s: %s", cx->pl->d->name,
		    rq->method, "request failed", why != NULL ? why :
		    apx_strerror(rc));
		return APX_C_EIO;
	}
	rs->status = ans.status;
	if ((buf = apx_cx_alloc(cx, ans.len)) != NULL)
		memcpy(buf, ans.body, ans.len);		/* NUL added by alloc */
	rs->body = buf;
	rs->body_len = ans.len;
	rs->content_type = ans.content_type[0] != '\0' ?
	    apx_cx_dup(cx, ans.content_type, sizeof(ans.content_type)) : NULL;
	apx_fetch_answer_clear(&ans);
	return rs->body != NULL ? 0 : APX_C_ENOMEM;
}
