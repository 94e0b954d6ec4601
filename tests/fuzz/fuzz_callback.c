/*
 * Fuzz the OAuth callback of a connector plugin as the host drives it
 * (src/connect/flows.c apx_connect_callback): the Shopify plugin
 * (plugins/shopify/shopify.c, compiled into this binary, its
 * apx_connector_entry an ordinary function) against a mock host
 * (mock_host.c), and the host's origin checks of plugin HTTP
 * (apx_url_allowed, apx_url_base_ok in src/core/url.c).
 *
 * Input, lines separated by '\n':
 *   1. a callback query string ("code=...&hmac=...&shop=...&timestamp=..."),
 *      parsed with apx_http_parse_query and handed to exchange. A first
 *      "hmac" parameter whose value is SIGN_MARK is replaced by the
 *      correct hmac, so that the paths behind the hmac check are reached.
 *      Values are handed over as C strings: the host refuses a value with
 *      a NUL in it before exchange, here both sides see the same prefix;
 *   2. (optional) an URL field template, e.g. "https://{shop}.example";
 *   3. (optional) an URL checked against that template.
 *
 * Invariants (each violation is __builtin_trap):
 *   - exchange answers 0 only when params["hmac"] is the HMAC-SHA256 (hex,
 *     any case) with the client secret of every parameter but hmac and
 *     signature sorted by name (then value) and joined as name=value with
 *     '&', computed here with OpenSSL (the mock host uses libsodium);
 *     params["timestamp"] is within 90 s of now; params["shop"] is the
 *     org's configured shop; and code is not empty;
 *   - host->http is called only when all of that holds, at most once, and
 *     only to the token URL of the configured shop, which the host's own
 *     origin check (apx_url_allowed with shop_base) admits;
 *   - on success: one account, the configured shop, the canned token;
 *   - conversely a correctly signed, fresh callback for the configured shop
 *     with a code is accepted (within the plugin's documented caps: at most
 *     64 parameters, a timestamp of at most 15 digits);
 *   - apx_url_allowed(url, tpl) == 1 only when url is printable
 *     ASCII, has the template's scheme (http or https), an authority
 *     without userinfo, and the template's authority, its "{x}" standing
 *     for exactly one DNS label; apx_url_base_ok(v) == 1 only for
 *     https, or http to 127.0.0.1, localhost or [::1].
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <accupredix/connector.h>

#include "core/url.h"
#include "core/arena.h"
#include "fuzz.h"
#include "http/http.h"
#include "mock_host.h"

#define CLIENT_ID	"fuzz-client-id"
#define CLIENT_SECRET	"fuzz-shopify-client-secret"
#define SHOP_BASE	"https://{shop}.myshopify.com"
#define API_VERSION	"2024-10"
#define ORG_SHOP	"demo-store.myshopify.com"
#define TOKEN_URL	"https://demo-store.myshopify.com/admin/oauth/access_token"
#define SKEW		90
#define PLUGIN_PARAMS_MAX 64	/* shopify.c PARAMS_MAX */
#define PLUGIN_TS_DIGITS 15	/* shopify.c parse_i64 */
#define SIGN_MARK	"SIGN"

static const struct apx_connector *plugin;

static void	 setup(void);
static const char *first(const struct apx_param *, size_t, const char *);
static int	 expected_hmac(const struct apx_param *, size_t, char[65]);
static int	 pair_less(const struct apx_param *, const struct apx_param *);
static int	 hmac_matches(const char *, const char *);
static int	 ts_fresh(const char *, int64_t, size_t *);
static void	 fuzz_exchange(struct apx_arena *, const char *, size_t);
static void	 check_url(const char *, const char *);
static void	 check_base(const char *);
static int	 authority(const char *, const char **, size_t *,
		    const char **, size_t *);
static int	 is_label(const char *, size_t);

static void
setup(void)
{
	mock_config_clear();
	mock_config_set("client_id", CLIENT_ID);
	mock_config_set("client_secret", CLIENT_SECRET);
	mock_config_set("shop_base", SHOP_BASE);
	mock_config_set("api_version", API_VERSION);
	mock_config_set("shop", ORG_SHOP);	/* the org's field */
	plugin = apx_connector_entry();
	if (plugin == NULL || plugin->magic != APX_CONNECTOR_MAGIC ||
	    plugin->abi_major != APX_CONNECTOR_ABI_MAJOR ||
	    plugin->exchange == NULL || plugin->init == NULL ||
	    plugin->init(mock_host(), mock_cx()) != 0)
		abort();
	mock_cx_reset(mock_cx());
}

static const char *
first(const struct apx_param *p, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

/* By name, then by value, in byte order. */
static int
pair_less(const struct apx_param *a, const struct apx_param *b)
{
	int r = strcmp(a->name, b->name);

	return r < 0 || (r == 0 && strcmp(a->value, b->value) < 0);
}

/* Shopify's callback hmac of P, in lower-case hex; -1 on failure. */
static int
expected_hmac(const struct apx_param *p, size_t n, char hex[65])
{
	static const char hexd[] = "0123456789abcdef";
	const struct apx_param **v, *t;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t i, j, k = 0, len = 1, off = 0;
	char *msg;
	int rc = -1;

	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (strcmp(p[i].name, "hmac") == 0 ||
		    strcmp(p[i].name, "signature") == 0)
			continue;
		/* insertion sort: n is at most APX_HTTP_MAX_PARAMS */
		for (j = k++; j > 0 && pair_less(&p[i], v[j - 1]); j--)
			v[j] = v[j - 1];
		v[j] = &p[i];
		len += strlen(p[i].name) + strlen(p[i].value) + 2;
	}
	if ((msg = malloc(len)) == NULL)
		abort();
	for (i = 0; i < k; i++) {
		t = v[i];
		off += (size_t)snprintf(msg + off, len - off, "%s%s=%s",
		    i > 0 ? "&" : "", t->name, t->value);
	}
	if (off < len && HMAC(EVP_sha256(), CLIENT_SECRET,
	    (int)strlen(CLIENT_SECRET), (const unsigned char *)msg, off, mac,
	    &maclen) != NULL && maclen == 32) {
		for (i = 0; i < 32; i++) {
			hex[2 * i] = hexd[mac[i] >> 4];
			hex[2 * i + 1] = hexd[mac[i] & 0x0f];
		}
		hex[64] = '\0';
		rc = 0;
	}
	free(msg);
	free(v);
	return rc;
}

static int
hmac_matches(const char *given, const char *hex)
{
	return given != NULL && strlen(given) == 64 &&
	    strncasecmp(given, hex, 64) == 0;
}

/* TS is a decimal within SKEW seconds of NOW; *DIGITS its length. */
static int
ts_fresh(const char *ts, int64_t now, size_t *digits)
{
	int64_t t = 0;
	size_t i;

	*digits = 0;
	if (ts == NULL || *ts == '\0')
		return 0;
	for (i = 0; ts[i] != '\0'; i++) {
		if (ts[i] < '0' || ts[i] > '9')
			return 0;
		if (t < INT64_MAX / 100)	/* saturate: far off anyway */
			t = t * 10 + (ts[i] - '0');
	}
	*digits = i;
	return t >= now - SKEW && t <= now + SKEW;
}

static void
fuzz_exchange(struct apx_arena *a, const char *q, size_t qlen)
{
	struct apx_kvlist l;
	struct apx_param *p;
	struct apx_callback cb;
	struct apx_exchange ex;
	const char *code, *given, *shop;
	char hex[65];
	size_t i, digits;
	int rc, hmac_ok, ts_ok, shop_ok, code_ok, verified;
	unsigned calls;

	if (apx_http_parse_query(a, q, qlen, &l) != 0)
		return;
	if ((p = apx_arena_zalloc(a, (l.n + 1) * sizeof(*p))) == NULL)
		abort();
	for (i = 0; i < l.n; i++) {
		p[i].name = l.v[i].key;
		p[i].value = l.v[i].value;
	}
	/* Sign on request, so that the fuzzer gets past the hmac. */
	for (i = 0; i < l.n; i++)
		if (strcmp(p[i].name, "hmac") == 0) {
			if (strcmp(p[i].value, SIGN_MARK) == 0 &&
			    expected_hmac(p, l.n, hex) == 0 &&
			    (p[i].value = apx_arena_strdup(a, hex)) == NULL)
				abort();
			break;
		}

	memset(&cb, 0, sizeof(cb));
	cb.params = p;
	cb.nparams = l.n;
	cb.code = first(p, l.n, "code");
	cb.redirect_uri =
	    "https://app.example/api/v1/connectors/shopify/callback";
	cb.code_verifier = NULL;	/* Shopify: no PKCE */
	cb.now = MOCK_NOW;

	mock_http_reset();
	memset(&ex, 0xa5, sizeof(ex));
	rc = plugin->exchange(mock_cx(), &cb, &ex);
	calls = mock_http_calls();

	/* What a correct verification accepts, computed independently. */
	given = first(p, l.n, "hmac");
	shop = first(p, l.n, "shop");
	code = cb.code;
	hmac_ok = given != NULL && expected_hmac(p, l.n, hex) == 0 &&
	    hmac_matches(given, hex);
	ts_ok = ts_fresh(first(p, l.n, "timestamp"), MOCK_NOW, &digits);
	shop_ok = shop != NULL && strcasecmp(shop, ORG_SHOP) == 0;
	code_ok = code != NULL && *code != '\0';
	verified = hmac_ok && ts_ok && shop_ok && code_ok;

#ifdef FUZZ_CALLBACK_VERBOSE
	fprintf(stderr, "exchange=%d http=%u hmac=%d ts=%d shop=%d code=%d "
	    "nparams=%zu\n", rc, calls, hmac_ok, ts_ok, shop_ok, code_ok, l.n);
#endif
	if (rc > 0)
		__builtin_trap();	/* 0 or negative only */
	if (rc == 0 && !verified)
		__builtin_trap();	/* accepted a forged callback */
	if (calls > 0 && !verified)
		__builtin_trap();	/* HTTP before verification */
	if (calls > 1)
		__builtin_trap();
	if (calls > 0 && (strcmp(mock_http_last_url(), TOKEN_URL) != 0 ||
	    strcmp(mock_http_last_method(), "POST") != 0 ||
	    apx_url_allowed(mock_http_last_url(), SHOP_BASE) != 1))
		__builtin_trap();	/* not the configured shop's token URL */
	if (rc == 0) {
		if (calls != 1 || ex.naccounts != 1 || ex.accounts == NULL ||
		    ex.accounts[0].id == NULL ||
		    strcasecmp(ex.accounts[0].id, ORG_SHOP) != 0 ||
		    ex.tokens.access_token == NULL ||
		    strcmp(ex.tokens.access_token, "tok") != 0)
			__builtin_trap();
	}
	if (verified && l.n <= PLUGIN_PARAMS_MAX &&
	    digits <= PLUGIN_TS_DIGITS && rc != 0)
		__builtin_trap();	/* refused a genuine callback */

	mock_cx_reset(mock_cx());
}

/* The scheme and authority of URL (scheme "://" authority [/?#...]). */
static int
authority(const char *url, const char **s, size_t *sl, const char **a,
    size_t *al)
{
	const char *sep = strstr(url, "://");

	if (sep == NULL)
		return -1;
	*s = url;
	*sl = (size_t)(sep - url);
	*a = sep + 3;
	*al = strcspn(*a, "/?#");
	return 0;
}

static int
is_label(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static void
check_url(const char *url, const char *tpl)
{
	const char *us, *ua, *ts, *ta, *open, *close;
	size_t usl, ual, tsl, tal, pre, suf, i;

	if (apx_url_allowed(url, tpl) != 1)
		return;
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f || url[i] == '\\')
			__builtin_trap();
	if (authority(url, &us, &usl, &ua, &ual) != 0 ||
	    authority(tpl, &ts, &tsl, &ta, &tal) != 0)
		__builtin_trap();
	/* The template's scheme, and only http(s). */
	if (usl != tsl || strncasecmp(us, ts, usl) != 0 ||
	    !((usl == 5 && strncasecmp(us, "https", 5) == 0) ||
	    (usl == 4 && strncasecmp(us, "http", 4) == 0)))
		__builtin_trap();
	/* An authority, and no userinfo in it. */
	if (ual == 0 || memchr(ua, '@', ual) != NULL)
		__builtin_trap();
	if ((open = memchr(ta, '{', tal)) == NULL) {
		if (ual != tal || strncasecmp(ua, ta, ual) != 0)
			__builtin_trap();
		return;
	}
	if ((close = memchr(open, '}', tal - (size_t)(open - ta))) == NULL)
		__builtin_trap();
	pre = (size_t)(open - ta);
	suf = tal - (size_t)(close + 1 - ta);
	/* The placeholder stands for exactly one DNS label. */
	if (ual < pre + suf || strncasecmp(ua, ta, pre) != 0 ||
	    strncasecmp(ua + ual - suf, close + 1, suf) != 0 ||
	    !is_label(ua + pre, ual - pre - suf))
		__builtin_trap();
}

static void
check_base(const char *v)
{
	const char *s, *a;
	size_t sl, al;

	if (apx_url_base_ok(v) != 1)
		return;
	if (authority(v, &s, &sl, &a, &al) != 0 || al == 0 ||
	    memchr(a, '@', al) != NULL)
		__builtin_trap();
	if (strncmp(v, "https://", 8) == 0)
		return;
	if (strncmp(v, "http://", 7) != 0)
		__builtin_trap();	/* neither https nor http */
	/* Plain http: the host is a loopback one, a port may follow. */
	if (!((al >= 9 && strncmp(a, "127.0.0.1", 9) == 0 &&
	    (al == 9 || a[9] == ':')) ||
	    (al >= 9 && strncmp(a, "localhost", 9) == 0 &&
	    (al == 9 || a[9] == ':')) ||
	    (al >= 5 && strncmp(a, "[::1]", 5) == 0 &&
	    (al == 5 || a[5] == ':'))))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *s = (const char *)data, *nl, *end = s + size;
	const char *line2 = NULL, *line3 = NULL;
	size_t qlen, l2len = 0, l3len = 0;
	struct apx_arena *a;
	char *tpl, *url;

	if (!ready) {
		setup();
		ready = 1;
	}
	if ((a = apx_arena_new()) == NULL)
		return 0;
	nl = memchr(s, '\n', size);
	qlen = nl != NULL ? (size_t)(nl - s) : size;
	if (nl != NULL) {
		line2 = nl + 1;
		nl = memchr(line2, '\n', (size_t)(end - line2));
		l2len = (size_t)((nl != NULL ? nl : end) - line2);
		if (nl != NULL) {
			line3 = nl + 1;
			nl = memchr(line3, '\n', (size_t)(end - line3));
			l3len = (size_t)((nl != NULL ? nl : end) - line3);
		}
	}

	fuzz_exchange(a, s, qlen);

	if (line2 != NULL) {
		if ((tpl = apx_arena_strndup(a, line2, l2len)) == NULL)
			abort();
		check_base(tpl);
		check_url(tpl, SHOP_BASE);	/* line 2 as an URL, too */
		if (line3 != NULL) {
			if ((url = apx_arena_strndup(a, line3, l3len)) == NULL)
				abort();
			check_base(url);
			check_url(url, tpl);
		}
	}
	apx_arena_free(a);
	return 0;
}
