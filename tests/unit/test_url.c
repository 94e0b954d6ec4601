/*
 * Unit tests for core/url.c, the origin checks of the connector host and
 * the OpenID relying party:
 * which URLs a plugin's HTTP client may reach for a configured base URL,
 * and which base URLs the configuration may name.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/url.h"

static void
test_exact_origin(void **state)
{
	const char *t = "https://identity.xero.com/connect/token";

	(void)state;
	assert_true(apx_url_allowed(
	    "https://identity.xero.com/connect/revocation", t));
	assert_true(apx_url_allowed("https://IDENTITY.xero.com/x", t));
	assert_true(apx_url_allowed("https://identity.xero.com", t));
	/* another scheme, port, host, or a host that only starts alike */
	assert_false(apx_url_allowed("http://identity.xero.com/", t));
	assert_false(apx_url_allowed(
	    "https://identity.xero.com:8443/", t));
	assert_false(apx_url_allowed(
	    "https://identity.xero.com.evil.example/", t));
	assert_false(apx_url_allowed("https://evil.example/", t));
	/* userinfo, whitespace, backslashes, non-ASCII */
	assert_false(apx_url_allowed(
	    "https://identity.xero.com@evil.example/", t));
	assert_false(apx_url_allowed(
	    "https://user@identity.xero.com/", t));
	assert_false(apx_url_allowed(
	    "https://identity.xero.com /x", t));
	assert_false(apx_url_allowed(
	    "https://identity.xero.com\\@evil.example/", t));
	assert_false(apx_url_allowed(
	    "https://identity.xero.com\xc3\xa9/", t));
	assert_false(apx_url_allowed("file:///etc/passwd", t));
	assert_false(apx_url_allowed("ftp://identity.xero.com/", t));
	assert_false(apx_url_allowed(NULL, t));
}

static void
test_label_placeholder(void **state)
{
	const char *t = "https://{shop}.myshopify.com";

	(void)state;
	assert_true(apx_url_allowed(
	    "https://demo-store.myshopify.com/admin/oauth/access_token", t));
	assert_true(apx_url_allowed("https://a.myshopify.com/", t));
	/* exactly one DNS label */
	assert_false(apx_url_allowed(
	    "https://evil.example.myshopify.com/", t));
	assert_false(apx_url_allowed("https://.myshopify.com/", t));
	assert_false(apx_url_allowed("https://-x.myshopify.com/", t));
	assert_false(apx_url_allowed(
	    "https://demo.myshopify.com.evil.example/", t));
	assert_false(apx_url_allowed("https://myshopify.com/", t));
	assert_false(apx_url_allowed("https://demo_x.myshopify.com/",
	    t));
	/* a placeholder in the path is plain text: the origin is fixed */
	t = "http://127.0.0.1:8080/shopify/{shop}";
	assert_true(apx_url_allowed(
	    "http://127.0.0.1:8080/shopify/demo/admin/oauth/authorize", t));
	assert_false(apx_url_allowed("http://127.0.0.1:8081/", t));
}

static void
test_base_ok(void **state)
{
	(void)state;
	assert_true(apx_url_base_ok("https://login.xero.com/identity"));
	assert_true(apx_url_base_ok("https://{shop}.myshopify.com"));
	assert_true(apx_url_base_ok("http://127.0.0.1:9000/intuit"));
	assert_true(apx_url_base_ok("http://localhost/x"));
	assert_true(apx_url_base_ok("http://[::1]:80/"));
	/* plain http leaves the machine: refused */
	assert_false(apx_url_base_ok("http://login.xero.com/"));
	assert_false(apx_url_base_ok("http://127.0.0.10/"));
	assert_false(apx_url_base_ok("http://localhost.evil.example/"));
	assert_false(apx_url_base_ok("http://127.0.0.1@evil.example/"));
	assert_false(apx_url_base_ok("ftp://127.0.0.1/"));
	assert_false(apx_url_base_ok("no scheme"));
	assert_false(apx_url_base_ok(NULL));
}

/* What an org's own IdP may make us fetch. */
static void
test_remote_ok(void **state)
{
	(void)state;
	assert_true(apx_url_remote_ok("https://idp.example.com/o", 0));
	assert_false(apx_url_remote_ok("http://idp.example.com/o", 0));
	assert_false(apx_url_remote_ok("http://127.0.0.1:4000/o", 0));
	assert_false(apx_url_remote_ok("https://127.0.0.1:4000/o", 0));
	assert_false(apx_url_remote_ok("https://localhost/o", 0));
	assert_false(apx_url_remote_ok("https://[::1]/o", 0));
	assert_false(apx_url_remote_ok("https://user@idp.example.com/", 0));
	/* test stacks: http on loopback */
	assert_true(apx_url_remote_ok("http://127.0.0.1:4000/o", 1));
	assert_true(apx_url_remote_ok("https://127.0.0.1:4000/o", 1));
	assert_false(apx_url_remote_ok("http://idp.example.com/o", 1));
	assert_false(apx_url_remote_ok(NULL, 1));
}

static void
test_link_ok(void **state)
{
	(void)state;
	assert_true(apx_url_link_ok("https://docs.example.com/dpa.pdf", 2048));
	assert_true(apx_url_link_ok("https://docs.example.com:8443/a?b=c#d",
	    2048));
	assert_false(apx_url_link_ok("http://docs.example.com/dpa.pdf", 2048));
	assert_false(apx_url_link_ok("https://", 2048));
	assert_false(apx_url_link_ok("https:///dpa.pdf", 2048));
	assert_false(apx_url_link_ok("https://user:pw@example.com/x", 2048));
	assert_false(apx_url_link_ok("https://exa mple.com/x", 2048));
	assert_false(apx_url_link_ok("https://example.com/<x>", 2048));
	assert_false(apx_url_link_ok("https://example.com:123456/", 2048));
	assert_false(apx_url_link_ok("https://example.com/\xc3\xa9", 2048));
	assert_false(apx_url_link_ok("https://example.com/abc", 20));
}

static void
test_encode(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(apx_url_encode("aZ09-._~", out), 8);
	assert_string_equal(out, "aZ09-._~");
	assert_int_equal(apx_url_encode("a b&c=d/e+f%", out), 24);
	assert_string_equal(out, "a%20b%26c%3Dd%2Fe%2Bf%25");
	apx_url_encode("\xc3\xa9\r\n", out);
	assert_string_equal(out, "%C3%A9%0D%0A");
	apx_url_encode("", out);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_origin),
		cmocka_unit_test(test_label_placeholder),
		cmocka_unit_test(test_base_ok),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_remote_ok),
		cmocka_unit_test(test_link_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
