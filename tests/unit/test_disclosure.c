/*
 * Unit tests for the vulnerability disclosure page (routes/disclosure.c):
 * what it shows from configuration, the escaping of every configured
 * value (core/buf.c apx_buf_html), the terms' paragraphs; and the keys
 * behind it in core/conf.c: security.disclosure_terms read from a file
 * with "FILE:LINE" errors, security.policy derived from the origin.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/apx.h"
#include "core/buf.h"
#include "core/conf.h"
#include "routes/routes.h"

#define MINIMAL \
	"db.conninfo = dbname=apx\n" \
	"security.contact = mailto:security@example.test\n" \
	"security.expires = 2099-01-01T00:00:00Z\n" \
	"regions.eu.conninfo = dbname=postgres\n" \
	"http.public_origin = https://app.example.test\n"

static char	*contacts[4];
static struct apx_conf conf;

static int
setup(void **state)
{
	(void)state;
	memset(&conf, 0, sizeof(conf));
	contacts[0] = "mailto:security@example.test";
	contacts[1] = "tel:+44-20-7946-0000";
	contacts[2] = "https://example.test/report";
	conf.sec_contact.v = contacts;
	conf.sec_contact.n = 3;
	conf.product_name = "AccuPredix";
	conf.public_origin = "https://app.example.test";
	return 0;
}

static char *
render(void)
{
	struct apx_buf b = { 0 };

	assert_int_equal(apx_disclosure_render(&conf, &b), 0);
	assert_non_null(b.data);
	assert_int_equal(strlen(b.data), b.len);
	return b.data;
}

static void
has(const char *page, const char *want)
{
	if (strstr(page, want) == NULL)
		fail_msg("the page lacks \"%s\":\n%s", want, page);
}

static void
lacks(const char *page, const char *bad)
{
	if (strstr(page, bad) != NULL)
		fail_msg("the page holds \"%s\":\n%s", bad, page);
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

/* --- apx_buf_html ------------------------------------------------------- */

static void
test_html_escape(void **state)
{
	static const char in[] = "a<b>&\"c'\x01\n\x7f\xc3\xa9z";
	struct apx_buf b = { 0 };

	(void)state;
	assert_int_equal(apx_buf_html(&b, in, sizeof(in) - 1), 0);
	assert_string_equal(b.data,
	    "a&lt;b&gt;&amp;&quot;c&#39;   \xc3\xa9z");
	apx_buf_reset(&b);
	assert_int_equal(apx_buf_html(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(apx_buf_html(&b, "plain", 5), 0);
	assert_string_equal(b.data, "plain");
	/* over the cap: refused, nothing half-written */
	b.max = 8;
	assert_int_equal(apx_buf_html(&b, "<<<", 3), APX_ETOOBIG);
	assert_string_equal(b.data, "plain");
	apx_buf_free(&b);
}

/* --- the page ------------------------------------------------------------ */

static void
test_page_from_configuration(void **state)
{
	char *page;

	(void)state;
	page = render();
	assert_memory_equal(page, "<!DOCTYPE html>\n", 16);
	has(page, "<html lang=\"en\">");
	has(page, "<meta charset=\"utf-8\">");
	has(page, "<link rel=\"stylesheet\" href=\"/assets/app.css\">");
	has(page, "<title>Vulnerability disclosure policy: AccuPredix</title>");
	has(page, "<a href=\"mailto:security@example.test\">"
	    "security@example.test</a>");
	has(page, "<a href=\"tel:+44-20-7946-0000\">+44-20-7946-0000</a>");
	has(page, "<a href=\"https://example.test/report\">"
	    "https://example.test/report</a>");
	has(page, "<a href=\"https://app.example.test\">");
	/* the built-in terms */
	has(page, "good-faith");
	has(page, "denial-of-service");
	has(page, "social engineering");
	has(page, "other customers");
	has(page, "privately");
	assert_true(count(page, "<p>") >= 5 + 3);
	assert_int_equal(count(page, "<p>"), count(page, "</p>"));
	/* nothing that is not configured, nothing active */
	lacks(page, "Languages we read");
	lacks(page, "public key");
	lacks(page, "have our thanks");
	lacks(page, "<script");
	lacks(page, "style=");
	lacks(page, "<form");
	has(page, "</html>\n");
	free(page);

	conf.sec_languages = "en, de";
	conf.sec_encryption = "https://example.test/pgp.asc";
	conf.sec_acknowledgments = "https://example.test/thanks";
	conf.public_origin = NULL;
	page = render();
	has(page, "Languages we read: en, de.");
	has(page, "<a href=\"https://example.test/pgp.asc\">our public key</a>");
	has(page, "<a href=\"https://example.test/thanks\">");
	has(page, "This policy covers AccuPredix: its web pages");
	free(page);
}

static void
test_every_value_escaped(void **state)
{
	char *page;

	(void)state;
	contacts[0] = "mailto:x\"><script>alert(1)</script>@evil.test";
	conf.product_name = "Evil <script>alert(2)</script> & \"Co\" 'x'";
	conf.sec_languages = "en, <b>de</b>";
	conf.sec_encryption = "https://evil.test/k?a=1&b='2'";
	conf.sec_acknowledgments = "https://evil.test/\"onclick=\"x";
	conf.public_origin = "https://evil.test\"><img src=x>";
	conf.sec_disclosure_terms = "<script>alert(3)</script>\n\nA & B";
	page = render();
	lacks(page, "<script");
	lacks(page, "<b>");
	lacks(page, "<img");
	lacks(page, "\"><");
	lacks(page, "'2'");
	lacks(page, "\"onclick");
	has(page, "href=\"mailto:x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
	    "@evil.test\"");
	has(page, "Evil &lt;script&gt;alert(2)&lt;/script&gt; &amp; &quot;Co&quot;"
	    " &#39;x&#39;");
	has(page, "en, &lt;b&gt;de&lt;/b&gt;");
	has(page, "href=\"https://evil.test/k?a=1&amp;b=&#39;2&#39;\"");
	has(page, "<p>&lt;script&gt;alert(3)&lt;/script&gt;</p>\n<p>A &amp; B</p>");
	free(page);
}

static void
test_terms_paragraphs(void **state)
{
	char *page;

	(void)state;
	conf.sec_disclosure_terms = "\n\n  \nFirst line,\nsame paragraph.\r\n"
	    " \t\r\n\nSecond.\n\n\n\xc3\x89t\xc3\xa9 third\t\n  ";
	page = render();
	has(page, "<p>First line, same paragraph.</p>\n<p>Second.</p>\n"
	    "<p>\xc3\x89t\xc3\xa9 third</p>\n<footer>");
	/* the operator's terms replace the built-in ones */
	lacks(page, "denial-of-service");
	free(page);

	conf.sec_disclosure_terms = "One paragraph, no newline";
	page = render();
	has(page, "<p>One paragraph, no newline</p>\n");
	free(page);
}

/* --- the configuration keys ----------------------------------------------- */

static char *
write_temp(const char *data, size_t len)
{
	char *path = strdup("/tmp/apx-test-terms-XXXXXX");
	int fd;

	assert_non_null(path);
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static int
parse(const char *text, struct apx_conf **out, char *err, size_t errlen)
{
	*out = NULL;
	return apx_conf_parse("t.conf", text, strlen(text), 0, out, err,
	    errlen);
}

/* MINIMAL + security.disclosure_terms = VALUE, expected to fail with WANT
 * on line 6. */
static void
terms_error(const char *value, const char *want)
{
	struct apx_conf *c;
	char text[1024], err[512], full[600];

	snprintf(text, sizeof(text), MINIMAL
	    "security.disclosure_terms = %s\n", value);
	assert_int_equal(parse(text, &c, err, sizeof(err)), APX_ECONFIG);
	assert_null(c);
	snprintf(full, sizeof(full), "t.conf:6: key 'security.disclosure_terms'"
	    ": %s", want);
	if (strstr(err, full) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err, full);
}

/* A file holding LEN bytes of DATA, refused with "PATH WHY". */
static void
terms_file_error(const char *data, size_t len, const char *why)
{
	char value[128], want[160], *path = write_temp(data, len);

	snprintf(value, sizeof(value), "file:%s", path);
	snprintf(want, sizeof(want), "%s %s", path, why);
	terms_error(value, want);
	unlink(path);
	free(path);
}

static void
test_terms_key(void **state)
{
	static const char terms[] = "Be kind.\n\nReport to us.\n";
	struct apx_conf *c;
	char text[1024], err[512], *path, *big;

	(void)state;
	path = write_temp(terms, sizeof(terms) - 1);
	snprintf(text, sizeof(text), MINIMAL "security.disclosure_terms = "
	    "file:%s\n", path);
	assert_int_equal(parse(text, &c, err, sizeof(err)), 0);
	assert_string_equal(c->sec_disclosure_terms, terms);
	apx_conf_free(c);
	unlink(path);
	free(path);

	/* unset: the built-in terms */
	assert_int_equal(parse(MINIMAL, &c, err, sizeof(err)), 0);
	assert_null(c->sec_disclosure_terms);
	apx_conf_free(c);

	terms_error("/etc/terms.txt", "must be file:/PATH");
	terms_error("file:terms.txt", "must be file:/PATH");
	terms_error("file:/nonexistent/apx-terms.txt",
	    "cannot read /nonexistent/apx-terms.txt: not a readable regular "
	    "file");
	terms_error("file:/tmp", "cannot read /tmp: not a readable regular file");
	terms_file_error("\xff\xfe text", 7, "is not UTF-8");
	terms_file_error("a\x01" "b", 3, "holds a control character");
	terms_file_error("a\0b", 3, "holds a NUL byte");
	terms_file_error(" \n\t\r\n", 5, "is empty");
	terms_file_error("", 0, "is empty");
	assert_non_null(big = malloc(64 * 1024 + 1));
	memset(big, 'a', 64 * 1024 + 1);
	path = write_temp(big, 64 * 1024 + 1);
	free(big);
	snprintf(text, sizeof(text), "file:%s", path);
	{
		char want[160];

		snprintf(want, sizeof(want), "cannot read %s: larger than 64 KiB",
		    path);
		terms_error(text, want);
	}
	unlink(path);
	free(path);
}

static void
test_policy_default(void **state)
{
	struct apx_conf *c;
	char err[512];

	(void)state;
	/* security.txt names the page of the public origin... */
	assert_int_equal(parse(MINIMAL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->sec_policy,
	    "https://app.example.test/security/disclosure");
	apx_conf_free(c);
	/* ...unless a policy is configured */
	assert_int_equal(parse(MINIMAL "security.policy = "
	    "https://example.test/vdp\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c->sec_policy, "https://example.test/vdp");
	apx_conf_free(c);
	/* without an origin there is nothing to derive it from */
	assert_int_equal(parse("db.conninfo = dbname=apx\n"
	    "security.contact = mailto:security@example.test\n"
	    "security.expires = 2099-01-01T00:00:00Z\n"
	    "regions.eu.conninfo = dbname=postgres\n"
	    "jwt.issuer = https://id.example.test\n"
	    "http.problem_type_base = https://example.test/problems/\n", &c,
	    err, sizeof(err)), 0);
	assert_null(c->sec_policy);
	apx_conf_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test_setup(test_page_from_configuration, setup),
		cmocka_unit_test_setup(test_every_value_escaped, setup),
		cmocka_unit_test_setup(test_terms_paragraphs, setup),
		cmocka_unit_test(test_terms_key),
		cmocka_unit_test(test_policy_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
