/*
 * Unit tests for auth/mail.c's composer: headers a user's name cannot
 * break, the templates' variables, HTML escaping, and refusals; and for
 * the client-network key of throttles (authz/cidr.c).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "auth/mail.h"
#include "authz/cidr.h"
#include "core/apx.h"

static struct apx_conf conf;

static void
setup_conf(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.public_origin = "https://app.example.test";
	conf.mail_from = "no-reply@example.test";
	conf.mail_from_name = "AccuPredix";
	conf.product_name = "AccuPredix";
}

/* The header block (up to the first empty line), NUL-terminated. */
static char *
headers_of(const struct apx_buf *b)
{
	const char *end = NULL;
	char *h;
	size_t i;

	for (i = 0; i + 3 < b->len; i++)
		if (memcmp(b->data + i, "\r\n\r\n", 4) == 0) {
			end = b->data + i + 2;
			break;
		}
	assert_non_null(end);
	h = strndup(b->data, (size_t)(end - b->data));
	assert_non_null(h);
	return h;
}

/* Every line ends in CRLF; a continuation line starts with a blank. */
static void
assert_header_lines(const char *h)
{
	const char *p = h, *nl;
	int names = 0;

	while (*p != '\0') {
		nl = strstr(p, "\r\n");
		assert_non_null(nl);
		assert_null(memchr(p, '\n', (size_t)(nl - p)));
		assert_null(memchr(p, '\r', (size_t)(nl - p)));
		if (*p != ' ')
			names++;
		p = nl + 2;
	}
	/* From To Subject Date Message-ID MIME-Version Auto-Submitted
	 * Content-Type: never one more */
	assert_int_equal(names, 8);
}

static void
test_hostile_name_stays_in_to(void **state)
{
	struct apx_buf b = { 0 };
	json_t *v;
	char *h;

	(void)state;
	setup_conf();
	v = json_pack("{s:s,s:s,s:s}", "name",
	    "Eve\r\nBcc: victim@example.test\n\"x\" <y@z>", "link",
	    "https://app.example.test/verify-email#token=abc", "hours", "24");
	assert_int_equal(apx_mail_compose(&conf, "verify", "eve@example.test",
	    v, "abc@app.example.test", 1700000000, &b), 0);
	h = headers_of(&b);
	assert_header_lines(h);
	assert_null(strstr(h, "Bcc:"));
	assert_null(strstr(h, "victim"));
	assert_non_null(strstr(h, "<eve@example.test>\r\n"));
	assert_non_null(strstr(h, "Message-ID: <abc@app.example.test>\r\n"));
	assert_non_null(strstr(h, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	free(h);
	json_decref(v);
	apx_buf_free(&b);
}

static void
test_long_subject_is_folded(void **state)
{
	struct apx_buf b = { 0 };
	char name[600];
	json_t *v;
	char *h, *line, *save = NULL;

	(void)state;
	setup_conf();
	memset(name, 'A', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memcpy(name, "\xc3\xa9\xc3\xa9", 4);	/* multibyte at the front */
	v = json_pack("{s:s,s:s,s:s,s:s,s:s}", "inviter", name, "org", name,
	    "role", "viewer", "link", "https://x.test/i#token=t", "days", "7");
	assert_int_equal(apx_mail_compose(&conf, "invite", "g@example.test",
	    v, "m@x", 0, &b), 0);
	h = headers_of(&b);
	assert_header_lines(h);
	for (line = strtok_r(h, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save))
		assert_true(strlen(line) <= 78);
	free(h);
	json_decref(v);
	apx_buf_free(&b);
}

static void
test_refusals(void **state)
{
	struct apx_buf b = { 0 };
	json_t *v, *bad;

	(void)state;
	setup_conf();
	v = json_pack("{s:s,s:s,s:s}", "name", "N", "link", "l", "hours", "1");
	assert_int_equal(apx_mail_compose(&conf, "no_such", "a@b.test", v,
	    "m@x", 0, &b), APX_EINVAL);
	assert_int_equal(apx_mail_compose(&conf, "verify", "a\r\n@b.test", v,
	    "m@x", 0, &b), APX_EINVAL);
	assert_int_equal(apx_mail_compose(&conf, "verify", "<a@b.test>", v,
	    "m@x", 0, &b), APX_EINVAL);
	assert_int_equal(apx_mail_compose(&conf, "verify", "a@b.test", v,
	    "m\r\nX: y@x", 0, &b), APX_EINVAL);
	/* a variable the template names is missing, or not a string */
	bad = json_pack("{s:s,s:s}", "name", "N", "link", "l");
	assert_int_equal(apx_mail_compose(&conf, "verify", "a@b.test", bad,
	    "m@x", 0, &b), APX_EINVAL);
	json_decref(bad);
	bad = json_pack("{s:s,s:s,s:i}", "name", "N", "link", "l", "hours", 1);
	assert_int_equal(apx_mail_compose(&conf, "verify", "a@b.test", bad,
	    "m@x", 0, &b), APX_EINVAL);
	json_decref(bad);
	assert_false(apx_mail_kind_ok("no_such"));
	assert_true(apx_mail_kind_ok("reset"));
	json_decref(v);
	apx_buf_free(&b);
}

/* The HTML part, decoded: names are escaped there. */
static void
test_html_escapes_names(void **state)
{
	struct apx_buf b = { 0 };
	unsigned char out[8192];
	const char *p, *end;
	char b64[8192];
	size_t n = 0, olen = 0;
	json_t *v;

	(void)state;
	setup_conf();
	v = json_pack("{s:s,s:s,s:s}", "name", "<script>alert(1)</script>",
	    "link", "https://app.example.test/verify-email#token=a\"b",
	    "hours", "24");
	assert_int_equal(apx_mail_compose(&conf, "verify", "a@b.test", v,
	    "m@x", 0, &b), 0);
	assert_int_equal(apx_buf_add(&b, "", 1), 0);
	p = strstr(b.data, "text/html; charset=utf-8\r\n");
	assert_non_null(p);
	p = strstr(p, "\r\n\r\n") + 4;
	end = strstr(p, "\r\n--");
	assert_non_null(end);
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			b64[n++] = *p;
	b64[n] = '\0';
	assert_int_equal(sodium_base642bin(out, sizeof(out) - 1, b64, n, NULL,
	    &olen, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	out[olen] = '\0';
	assert_null(strstr((char *)out, "<script>"));
	assert_non_null(strstr((char *)out, "&lt;script&gt;"));
	assert_non_null(strstr((char *)out, "token=a&quot;b"));
	json_decref(v);
	apx_buf_free(&b);
}

static void
test_net_key(void **state)
{
	char k[APX_CIDR_STRLEN];

	(void)state;
	assert_int_equal(apx_ip_net_key("192.0.2.7", k, sizeof(k)), 0);
	assert_string_equal(k, "192.0.2.7/32");
	assert_int_equal(apx_ip_net_key("2001:db8:1:2:3:4:5:6", k, sizeof(k)),
	    0);
	assert_string_equal(k, "2001:db8:1:2::/64");
	assert_int_equal(apx_ip_net_key("2001:db8:1:2::ffff", k, sizeof(k)),
	    0);
	assert_string_equal(k, "2001:db8:1:2::/64");
	assert_int_equal(apx_ip_net_key("::ffff:198.51.100.1", k, sizeof(k)),
	    0);
	assert_string_equal(k, "198.51.100.1/32");
	assert_int_equal(apx_ip_net_key("not-an-ip", k, sizeof(k)),
	    APX_EINVAL);
	assert_int_equal(apx_ip_net_key("10.0.0.0/8", k, sizeof(k)),
	    APX_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_name_stays_in_to),
		cmocka_unit_test(test_long_subject_is_folded),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_html_escapes_names),
		cmocka_unit_test(test_net_key),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
