/*
 * The HTTP client a plugin gets: libcurl, only to the origins of the
 * plugin's URL fields, certificates verified, no redirects, a timeout and
 * a cap on the answer. Credentials handed in are redacted from the log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "connect/connect.h"
#include "core/url.h"
#include "connect/host_int.h"
#include "core/apx.h"
#include "core/log.h"

#define BODY_MAX	(1024 * 1024)
#define TIMEOUT_S	10L
#define CONNECT_S	5L
#define HEADERS_MAX	32
#define HEADER_MAX	4096

struct sink {
	struct apx_cx	*cx;
	char		*buf;
	size_t		 len;
	size_t		 cap;
	int		 over;
};

static size_t	 on_data(char *, size_t, size_t, void *);
static int	 header_ok(const char *);
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

static int
header_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n, ncap;
	char *nb;

	if (s->len + len > BODY_MAX) {
		s->over = 1;
		return 0;
	}
	if (s->len + len + 1 > s->cap) {
		ncap = s->cap == 0 ? 4096 : s->cap;
		while (ncap < s->len + len + 1)
			ncap *= 2;
		if ((nb = apx_cx_alloc(s->cx, ncap)) == NULL)
			return 0;
		if (s->len > 0)
			memcpy(nb, s->buf, s->len);
		s->buf = nb;	/* the old block is freed with the context */
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

int
apx_connect_http(struct apx_cx *cx, const struct apx_http_request *rq,
    struct apx_http_response *rs)
{
	struct curl_slist *hl = NULL, *t;
	struct sink sink;
	char line[HEADER_MAX], *ct = NULL;
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	size_t i;
	int rc = APX_C_EIO;

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
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0
	    && strcmp(rq->method, "PUT") != 0 &&
	    strcmp(rq->method, "DELETE") != 0)
		return APX_C_EINVAL;
	if (rq->nheaders > HEADERS_MAX)
		return APX_C_ETOOBIG;
	apx_cx_secret(cx, rq->basic_password);
	apx_cx_secret(cx, rq->bearer);
	memset(&sink, 0, sizeof(sink));
	sink.cx = cx;
	if ((h = curl_easy_init()) == NULL)
		return APX_C_ENOMEM;
	for (i = 0; i < rq->nheaders; i++) {
		const struct apx_param *p = &rq->headers[i];

		if (p->name == NULL || p->value == NULL || !header_ok(p->name)
		    || !header_ok(p->value) || strchr(p->name, ':') != NULL ||
		    (size_t)snprintf(line, sizeof(line), "%s: %s", p->name,
		    p->value) >= sizeof(line)) {
			rc = APX_C_EINVAL;
			goto out;
		}
		/* A credential in a header of its own (Shopify's). */
		if (strcasestr(p->name, "token") != NULL ||
		    strcasestr(p->name, "auth") != NULL ||
		    strcasestr(p->name, "key") != NULL)
			apx_cx_secret(cx, p->value);
		if ((t = curl_slist_append(hl, line)) == NULL)
			goto nomem;
		hl = t;
	}
	if (rq->content_type != NULL) {
		if (!header_ok(rq->content_type))
			goto bad;
		snprintf(line, sizeof(line), "Content-Type: %s",
		    rq->content_type);
		if ((t = curl_slist_append(hl, line)) == NULL)
			goto nomem;
		hl = t;
	}
	if (rq->bearer != NULL) {
		if (!header_ok(rq->bearer) || (size_t)snprintf(line,
		    sizeof(line), "Authorization: Bearer %s", rq->bearer) >=
		    sizeof(line))
			goto bad;
		t = curl_slist_append(hl, line);
		apx_wipe(line, sizeof(line));
		if (t == NULL)
			goto nomem;
		hl = t;
	}
	if ((t = curl_slist_append(hl, "Expect:")) == NULL)
		goto nomem;
	hl = t;
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_S);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)BODY_MAX);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "AccuPredix-connector/1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (rq->basic_user != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, rq->basic_user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, rq->basic_password != NULL
		    ? rq->basic_password : "");
	}
	if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body != NULL ?
		    rq->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(rq->body != NULL ? rq->body_len : 0));
	}
	if (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	cx->http_calls++;
	cc = curl_easy_perform(h);
	if (sink.over || cc == CURLE_FILESIZE_EXCEEDED) {
		apx_log_warn("connector %s: answer over %d bytes refused",
		    cx->pl->d->name, BODY_MAX);
		rc = APX_C_ETOOBIG;
		goto out;
	}
	if (cc != CURLE_OK) {
		apx_log_warn("connector %s: %s %s: %s", cx->pl->d->name,
		    rq->method, "request failed", curl_easy_strerror(cc));
		rc = APX_C_EIO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	rs->status = status;
	rs->body = sink.buf != NULL ? sink.buf : apx_cx_dup(cx, "", 0);
	rs->body_len = sink.len;
	rs->content_type = ct != NULL ? apx_cx_dup(cx, ct, 256) : NULL;
	rc = rs->body != NULL ? 0 : APX_C_ENOMEM;
	goto out;
bad:
	rc = APX_C_EINVAL;
	goto out;
nomem:
	rc = APX_C_ENOMEM;
out:
	apx_wipe(line, sizeof(line));
	curl_slist_free_all(hl);
	if (h != NULL)
		curl_easy_cleanup(h);
	return rc;
}
