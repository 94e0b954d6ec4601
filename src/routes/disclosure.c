/*
 * GET /security/disclosure: the vulnerability disclosure policy that
 * security.txt's Policy names, a small HTML page rendered from
 * configuration: the product's name, the security contacts, languages and
 * encryption key, the scope, and the safe-harbour terms
 * (security.disclosure_terms, or the built-in ones of
 * data/disclosure-terms.txt). Every configured value is HTML-escaped.
 */
#include "config.h"

#include <string.h>

#include "core/buf.h"
#include "routes/routes.h"

#include "routes/disclosure_terms.inc"

/* Its own stylesheet (served by the web server from www/) and nothing
 * else: no script, no frame, no form. */
#define PAGE_CSP \
	"default-src 'none'; style-src 'self'; frame-ancestors 'none'; " \
	"base-uri 'none'; form-action 'none'"

static int	 esc(struct apx_buf *, const char *);
static int	 anchor(struct apx_buf *, const char *, const char *);
static int	 contacts(struct apx_buf *, const struct apx_conf *);
static int	 blank(char);
static int	 paragraphs(struct apx_buf *, const char *, size_t);

static int
blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static int
esc(struct apx_buf *b, const char *s)
{
	return apx_buf_html(b, s, strlen(s));
}

/* <a href="URL">TEXT</a> */
static int
anchor(struct apx_buf *b, const char *url, const char *text)
{
	int rc;

	if ((rc = apx_buf_adds(b, "<a href=\"")) != 0 ||
	    (rc = esc(b, url)) != 0 || (rc = apx_buf_adds(b, "\">")) != 0 ||
	    (rc = esc(b, text)) != 0)
		return rc;
	return apx_buf_adds(b, "</a>");
}

/* Each security.contact (mailto:, tel: or https:) as a link. */
static int
contacts(struct apx_buf *b, const struct apx_conf *cf)
{
	const char *u, *shown;
	size_t i;
	int rc;

	if ((rc = apx_buf_adds(b, "<ul class=\"contacts\">\n")) != 0)
		return rc;
	for (i = 0; i < cf->sec_contact.n; i++) {
		u = cf->sec_contact.v[i];
		shown = strncmp(u, "mailto:", 7) == 0 ? u + 7 :
		    strncmp(u, "tel:", 4) == 0 ? u + 4 : u;
		if ((rc = apx_buf_adds(b, "<li>")) != 0 ||
		    (rc = anchor(b, u, shown)) != 0 ||
		    (rc = apx_buf_adds(b, "</li>\n")) != 0)
			return rc;
	}
	return apx_buf_adds(b, "</ul>\n");
}

/*
 * TEXT (LEN bytes) as <p> paragraphs: blank lines separate them; blanks
 * around a paragraph are left out.
 */
static int
paragraphs(struct apx_buf *b, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *eol, *first, *last;
	const char *start = NULL, *stop = NULL;
	int rc;

	for (;; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		for (first = p; first < eol && blank(*first); first++)
			;
		for (last = eol; last > first && blank(last[-1]); last--)
			;
		if (first < eol) {
			if (start == NULL)
				start = first;
			stop = last;
		}
		if ((first == eol || eol == end) && start != NULL) {
			if ((rc = apx_buf_adds(b, "<p>")) != 0 ||
			    (rc = apx_buf_html(b, start,
			    (size_t)(stop - start))) != 0 ||
			    (rc = apx_buf_adds(b, "</p>\n")) != 0)
				return rc;
			start = NULL;
		}
		if (eol == end)
			return 0;
	}
}

int
apx_disclosure_render(const struct apx_conf *cf, struct apx_buf *b)
{
	const char *product = cf->product_name != NULL ? cf->product_name :
	    "This service";
	int rc;

#define ADD(s) do {						\
	if ((rc = apx_buf_adds(b, (s))) != 0)				\
		return rc;						\
} while (0)
#define ESC(s) do {						\
	if ((rc = esc(b, (s))) != 0)					\
		return rc;						\
} while (0)
	ADD("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>Vulnerability disclosure policy: ");
	ESC(product);
	ADD("</title>\n<link rel=\"stylesheet\" href=\"/assets/app.css\">\n"
	    "</head>\n<body>\n<main class=\"disclosure\">\n"
	    "<h1>Vulnerability disclosure policy</h1>\n<p>");
	ESC(product);
	ADD(" welcomes reports of security vulnerabilities. This page says "
	    "how to report one and what we promise in return.</p>\n"
	    "<h2 id=\"report\">How to report</h2>\n"
	    "<p>Report privately to:</p>\n");
	if ((rc = contacts(b, cf)) != 0)
		return rc;
	if (cf->sec_languages != NULL) {
		ADD("<p>Languages we read: ");
		ESC(cf->sec_languages);
		ADD(".</p>\n");
	}
	if (cf->sec_encryption != NULL) {
		ADD("<p>Encrypt your report with ");
		if ((rc = anchor(b, cf->sec_encryption, "our public key")) != 0)
			return rc;
		ADD(".</p>\n");
	}
	ADD("<h2 id=\"scope\">Scope</h2>\n<p>This policy covers ");
	ESC(product);
	if (cf->public_origin != NULL) {
		ADD(" at ");
		if ((rc = anchor(b, cf->public_origin, cf->public_origin)) != 0)
			return rc;
	}
	ADD(": its web pages, its API and its sign-in.</p>\n"
	    "<h2 id=\"terms\">Safe harbour and terms</h2>\n");
	rc = cf->sec_disclosure_terms != NULL ? paragraphs(b,
	    cf->sec_disclosure_terms, strlen(cf->sec_disclosure_terms)) :
	    paragraphs(b, (const char *)disclosure_terms,
	    sizeof(disclosure_terms));
	if (rc != 0)
		return rc;
	if (cf->sec_acknowledgments != NULL) {
		ADD("<p>");
		if ((rc = anchor(b, cf->sec_acknowledgments,
		    "Those who reported before")) != 0)
			return rc;
		ADD(" have our thanks.</p>\n");
	}
	ADD("<footer>\n<p>For programs: "
	    "<a href=\"/.well-known/security.txt\">security.txt</a> "
	    "(RFC 9116).</p>\n"
	    "</footer>\n</main>\n</body>\n</html>\n");
#undef ESC
#undef ADD
	return 0;
}

int
apx_route_security_disclosure(struct apx_ctx *c)
{
	struct apx_buf b = { 0 };
	int rc;

	if ((rc = apx_disclosure_render(c->conf, &b)) == 0)
		rc = apx_resp_text(c->resp, 200, "text/html; charset=utf-8",
		    b.data, b.len);
	apx_buf_free(&b);
	if (rc != 0)
		return rc;
	c->resp->csp = PAGE_CSP;
	return apx_resp_header(c->resp, "Cache-Control",
	    "public, max-age=3600");
}
