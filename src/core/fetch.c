/* Outgoing HTTP on libcurl (fetch.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/apx.h"
#include "core/fetch.h"

#define BODY_DEFAULT	(1024 * 1024)
#define TIMEOUT_DEFAULT	10L
#define CONNECT_S	5L
#define HEADER_MAX	4096

struct sink {
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
	int	 over;
	int	 nomem;
};

static size_t	 on_data(char *, size_t, size_t, void *);
static size_t	 on_header(char *, size_t, size_t, void *);
static int	 line_ok(const char *);
static int	 append(struct curl_slist **, const char *);

static int
line_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

static int
append(struct curl_slist **l, const char *line)
{
	struct curl_slist *t;

	if ((t = curl_slist_append(*l, line)) == NULL)
		return APX_ENOMEM;
	*l = t;
	return 0;
}

/*
 * Retry-After of an answer: delay-seconds (an HTTP-date counts as unknown:
 * the caller's default applies). Other headers are not kept.
 */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	long *ra = arg;
	size_t len = size * n, i;
	long v = 0;

	if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		for (i = 12; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		if (i < len && p[i] >= '0' && p[i] <= '9') {
			for (; i < len && p[i] >= '0' && p[i] <= '9' &&
			    v < 1000000; i++)
				v = v * 10 + (p[i] - '0');
			*ra = v;
		}
	}
	return len;
}

/* Grow by doubling; an old block is wiped before it is freed (it may hold
 * a token). */
static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n, ncap;
	char *nb;

	if (s->len + len > s->max) {
		s->over = 1;
		return 0;
	}
	if (s->len + len + 1 > s->cap) {
		ncap = s->cap == 0 ? 4096 : s->cap;
		while (ncap < s->len + len + 1)
			ncap *= 2;
		if ((nb = malloc(ncap)) == NULL) {
			s->nomem = 1;
			return 0;
		}
		if (s->len > 0)
			memcpy(nb, s->buf, s->len);
		if (s->buf != NULL) {
			apx_wipe(s->buf, s->cap);
			free(s->buf);
		}
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, p, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

int
apx_fetch(const struct apx_fetch *rq, struct apx_fetch_answer *ans,
    const char **why)
{
	static const char *const methods[] = { "GET", "POST", "PUT",
	    "DELETE" };
	struct curl_slist *hl = NULL;
	struct sink sink;
	char line[HEADER_MAX] = "", *ct = NULL;
	CURL *h = NULL;
	CURLcode cc;
	size_t i;
	int rc;

	memset(ans, 0, sizeof(*ans));
	if (why != NULL)
		*why = NULL;
	memset(&sink, 0, sizeof(sink));
	sink.max = rq->max > 0 ? rq->max : BODY_DEFAULT;
	if (rq->url == NULL || rq->method == NULL || !line_ok(rq->url))
		return APX_EINVAL;
	for (i = 0; i < APX_NELEM(methods); i++)
		if (strcmp(rq->method, methods[i]) == 0)
			break;
	if (i == APX_NELEM(methods))
		return APX_EINVAL;
	for (i = 0; i < rq->nheaders; i++) {
		if (rq->headers[i] == NULL || !line_ok(rq->headers[i])) {
			rc = APX_EINVAL;
			goto out;
		}
		if ((rc = append(&hl, rq->headers[i])) != 0)
			goto out;
	}
	if (rq->content_type != NULL) {
		if (!line_ok(rq->content_type)) {
			rc = APX_EINVAL;
			goto out;
		}
		snprintf(line, sizeof(line), "Content-Type: %s",
		    rq->content_type);
		if ((rc = append(&hl, line)) != 0)
			goto out;
	}
	if (rq->bearer != NULL) {
		if (!line_ok(rq->bearer) || (size_t)snprintf(line, sizeof(line),
		    "Authorization: Bearer %s", rq->bearer) >= sizeof(line)) {
			rc = APX_EINVAL;
			goto out;
		}
		rc = append(&hl, line);
		apx_wipe(line, sizeof(line));
		if (rc != 0)
			goto out;
	}
	if ((rc = append(&hl, "Expect:")) != 0)
		goto out;
	if ((h = curl_easy_init()) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, rq->timeout > 0 ? rq->timeout :
	    TIMEOUT_DEFAULT);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_S);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sink.max);
	curl_easy_setopt(h, CURLOPT_USERAGENT, rq->user_agent != NULL ?
	    rq->user_agent : "AccuPredix/1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	ans->retry_after = -1;
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &ans->retry_after);
	if (rq->basic_user != NULL) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, rq->basic_user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, rq->basic_password !=
		    NULL ? rq->basic_password : "");
	}
	if (strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") ==
	    0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body != NULL ?
		    (const char *)rq->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(rq->body != NULL ? rq->body_len : 0));
	}
	if (strcmp(rq->method, "POST") != 0 && strcmp(rq->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	cc = curl_easy_perform(h);
	if (sink.over || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = APX_ETOOBIG;
		goto out;
	}
	if (sink.nomem) {
		rc = APX_ENOMEM;
		goto out;
	}
	if (cc != CURLE_OK) {
		if (why != NULL)
			*why = curl_easy_strerror(cc);
		rc = APX_EIO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ans->status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL)
		snprintf(ans->content_type, sizeof(ans->content_type), "%s",
		    ct);
	if (sink.buf == NULL && (sink.buf = calloc(1, 1)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	ans->body = sink.buf;
	ans->len = sink.len;
	sink.buf = NULL;
	rc = 0;
out:
	if (sink.buf != NULL) {
		apx_wipe(sink.buf, sink.cap);
		free(sink.buf);
	}
	apx_wipe(line, sizeof(line));
	curl_slist_free_all(hl);
	if (h != NULL)
		curl_easy_cleanup(h);
	return rc;
}

void
apx_fetch_answer_clear(struct apx_fetch_answer *a)
{
	if (a->body != NULL) {
		apx_wipe(a->body, a->len);
		free(a->body);
	}
	a->body = NULL;
	a->len = 0;
}
