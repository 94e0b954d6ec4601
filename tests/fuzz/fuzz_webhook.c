/*
 * Fuzz the webhook side of a connector plugin as the host drives it:
 * webhook_verify and webhook_route as POST /webhooks/{connector} calls
 * them (src/connect/webhook.c apx_connect_webhook), then webhook_handle
 * on every routed event as the job runner does (src/connect/jobs.c
 * run_webhook). The plugin is compiled into the binary (its
 * apx_connector_entry an ordinary function) and runs against the mock
 * host (mock_host.c). This file is built once per plugin:
 *
 *   -DFUZZ_WEBHOOK_SHOPIFY	plugins/shopify/shopify.c	webhook_shopify
 *   -DFUZZ_WEBHOOK_INTUIT	plugins/intuit/intuit.c		webhook_intuit
 *   -DFUZZ_WEBHOOK_XERO	plugins/xero/xero.c		webhook_xero
 *
 * Input: header lines "name: value" ending in '\n', an empty line, then
 * the raw body (every byte after the empty line; no empty line: an empty
 * body). Names are lower-cased, as the host hands them; spaces and tabs
 * after the colon and a '\r' before the '\n' are dropped; a line without
 * a colon is skipped; at most 64 headers are taken (the host's cap).
 * Names and values are C strings: a NUL ends them here as it would in
 * the host's parser. A header value SIGN_MARK is replaced by the base64
 * HMAC-SHA256 of the body with the current secret, SIGN_PREV_MARK with
 * the previous one (the plugin's SECRET field whose name holds
 * "previous", if it declares one; else a key that is never configured),
 * so that the paths behind the signature are reached.
 *
 * Invariants (each violation is __builtin_trap), with what a correct
 * verification accepts computed here with OpenSSL (the mock host's HMAC
 * is libsodium's):
 *   - webhook_verify answers 0 or a negative APX_C_* code, and 0 exactly
 *     when the first signature header is the base64 HMAC-SHA256 of the
 *     exact body with the current or the previous secret (both when
 *     configured and not empty): a forged delivery is refused and a
 *     genuine one accepted. It is asked again with the current secret
 *     unset: then it may refuse everything (a plugin may take an unset
 *     key as webhooks switched off), but accept nothing but a delivery
 *     signed with the previous secret;
 *   - webhook_route is called only after verify answered 0, answers 0 or
 *     a negative APX_C_* code, and on 0 at most 1000 events, each with
 *     an account_id of 1..255 bytes, an event_id of 1..256, a type and a
 *     payload (not NULL, a type not empty); the account id has
 *     the plugin's form (Shopify: the shop domain header, lower-cased;
 *     Intuit: a realmId, 1..32 digits; Xero: a tenantId, 1..64 hex
 *     digits and dashes) and a rebuilt payload names no other account
 *     (Intuit's realmId and intuitaccountid, Xero's tenantId); no event
 *     carries a configured secret, in any case (unless the input itself
 *     does); and each event is one the host's event_ok takes (a type
 *     of at most 128 bytes, an id of at most 256): the host would skip
 *     any other and the provider would never send it again;
 *   - verify and route call neither sale, wait nor privacy (the host
 *     refuses them outside a job);
 *   - webhook_handle, in a job context of its own per event, answers 0,
 *     APX_C_MORE or a negative APX_C_* code; it calls privacy only for
 *     Shopify's privacy topics (customers/data_request: EXPORT,
 *     customers/redact: ERASE, with a JSON object of customer_id, email
 *     and phone strings; shop/redact: FORGET, no subject), and for those
 *     a 0 means the request was made; sale only with a record the host
 *     takes; wait only with 0..60000 ms;
 *   - memory: everything through the mock's context, freed by
 *     mock_cx_reset; run under ASan and UBSan by --enable-fuzzing. The
 *     body is handed in a buffer of exactly its length, not terminated.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <accupredix/connector.h>

#include "fuzz.h"
#include "mock_host.h"

#if defined(FUZZ_WEBHOOK_SHOPIFY)
#define SIG_HEADER	"x-shopify-hmac-sha256"
#define SECRET_FIELD	"client_secret"
#define SECRET		"fuzz-shopify-client-secret"
#define ORG_SHOP	"demo-store.myshopify.com"
static const char *const config[] = {
	"client_id", "fuzz-client-id",
	SECRET_FIELD, SECRET,
	"shop_base", "https://{shop}.myshopify.com",
	"api_version", "2024-10",
	"shop", ORG_SHOP,
	NULL
};
#elif defined(FUZZ_WEBHOOK_INTUIT)
#define SIG_HEADER	"intuit-signature"
#define SECRET_FIELD	"webhook_verifier"
#define SECRET		"fuzz-intuit-webhook-verifier"
static const char *const config[] = {
	"client_id", "fuzz-client-id",
	"client_secret", "fuzz-intuit-client-secret",
	"authorize_url", "https://appcenter.intuit.com/connect/oauth2",
	"token_url",
	"https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
	"revoke_url",
	"https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
	"api_base", "https://quickbooks.api.intuit.com",
	SECRET_FIELD, SECRET,
	NULL
};
#elif defined(FUZZ_WEBHOOK_XERO)
#define SIG_HEADER	"x-xero-signature"
#define SECRET_FIELD	"webhook_key"
#define SECRET		"fuzz-xero-webhook-key"
static const char *const config[] = {
	"client_id", "fuzz-client-id",
	"client_secret", "fuzz-xero-client-secret",
	"authorize_url", "https://login.xero.com/identity/connect/authorize",
	"token_url", "https://identity.xero.com/connect/token",
	"revoke_url", "https://identity.xero.com/connect/revocation",
	"connections_url", "https://api.xero.com/connections",
	"api_base", "https://api.xero.com",
	SECRET_FIELD, SECRET,
	NULL
};
#else
#error "define FUZZ_WEBHOOK_SHOPIFY, FUZZ_WEBHOOK_INTUIT or FUZZ_WEBHOOK_XERO"
#endif

#define PREV_SECRET	"fuzz-previous-webhook-secret"
#define SIGN_MARK	"SIGN"
#define SIGN_PREV_MARK	"SIGN_PREV"
#define HEADERS_MAX	64	/* webhook.c */
#define EVENTS_MAX	1000	/* webhook.c */
#define ACCOUNT_MAX	255	/* webhook.c event_ok */
#define EVENT_ID_MAX	256
#define TYPE_MAX	128
#define B64_LEN		44	/* base64 of 32 bytes, padded */

/* An event copied out of the request's context, for its job. */
struct evcopy {
	char	*account_id;
	char	*event_id;
	char	*type;
	char	*payload;
};

#define SECRETS_MAX	8

static const struct apx_connector *plugin;
static const char *prev_field;	/* the previous-secret field, or NULL */
/* The values of the SECRET fields configured, lower-cased. */
static char *secrets[SECRETS_MAX];
static size_t nsecrets;

static int	 declared(const char *);
static void	 add_secret(const char *);
static char	*lower(const char *, size_t);
static void	 setup(void);
static void	 sign(const char *, const unsigned char *, size_t,
		    char[B64_LEN + 1]);
static const char *header(const struct apx_param *, size_t, const char *);
static int	 code_ok(int);
static int	 sig_expected(const struct apx_webhook *);
static int	 verify(const struct apx_webhook *, int);
static int	 account_ok(const struct apx_webhook *, const char *);
static int	 payload_ok(const char *, const char *);
static int	 event_ok(const struct apx_webhook_event *);
static int	 host_takes(const struct apx_webhook_event *);
static int	 has_secret(const char *, const char *);
static void	 handle(const struct evcopy *);
static void	 run(const struct apx_webhook *, const char *);
static size_t	 parse_headers(const char *, size_t, struct apx_param *,
		    size_t *);

/* The type of the plugin's field NAME, or 0 when it declares none. */
static int
declared(const char *name)
{
	size_t i;

	for (i = 0; i < plugin->nfields; i++)
		if (strcmp(plugin->fields[i].name, name) == 0)
			return plugin->fields[i].type;
	return 0;
}

/* A copy of the N bytes at S, lower-cased (NUL bytes kept as 0x01). */
static char *
lower(const char *s, size_t n)
{
	char *d;
	size_t i;

	if ((d = malloc(n + 1)) == NULL)
		abort();
	for (i = 0; i < n; i++)
		d[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') :
		    s[i] == '\0' ? '\1' : s[i];
	d[n] = '\0';
	return d;
}

static void
add_secret(const char *v)
{
	if (nsecrets == SECRETS_MAX)
		abort();
	secrets[nsecrets++] = lower(v, strlen(v));
}

static void
setup(void)
{
	size_t i;

	plugin = apx_connector_entry();
	if (plugin == NULL || plugin->magic != APX_CONNECTOR_MAGIC ||
	    plugin->abi_major != APX_CONNECTOR_ABI_MAJOR ||
	    plugin->abi_minor < 1 || plugin->init == NULL ||
	    plugin->webhook_verify == NULL || plugin->webhook_route == NULL ||
	    plugin->webhook_handle == NULL)
		abort();
	mock_config_clear();
	for (i = 0; config[i] != NULL; i += 2) {
		switch (declared(config[i])) {
		case 0:		/* the host hands only declared fields */
			abort();
		case APX_FIELD_SECRET:
			add_secret(config[i + 1]);
			break;
		}
		mock_config_set(config[i], config[i + 1]);
	}
	for (i = 0; i < plugin->nfields; i++)
		if (plugin->fields[i].type == APX_FIELD_SECRET &&
		    strstr(plugin->fields[i].name, "previous") != NULL) {
			prev_field = plugin->fields[i].name;
			mock_config_set(prev_field, PREV_SECRET);
			add_secret(PREV_SECRET);
		}
	if (declared(SECRET_FIELD) != APX_FIELD_SECRET)
		abort();
	if (plugin->init(mock_host(), mock_cx()) != 0)
		abort();
	mock_cx_reset(mock_cx());
}

/* The base64 HMAC-SHA256 of BODY with KEY, computed with OpenSSL. */
static void
sign(const char *key, const unsigned char *body, size_t len,
    char out[B64_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (HMAC(EVP_sha256(), key, (int)strlen(key), len > 0 ? body :
	    (const unsigned char *)"", len, mac, &maclen) == NULL ||
	    maclen != 32 ||
	    EVP_EncodeBlock((unsigned char *)out, mac, 32) != B64_LEN)
		abort();
	out[B64_LEN] = '\0';
}

static const char *
header(const struct apx_param *h, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(h[i].name, name) == 0)
			return h[i].value;
	return NULL;
}

/* 0 or one of the negative codes of connector.h. */
static int
code_ok(int rc)
{
	switch (rc) {
	case APX_C_OK:
	case APX_C_ENOMEM:
	case APX_C_EINVAL:
	case APX_C_ETOOBIG:
	case APX_C_ENOTFOUND:
	case APX_C_EIO:
	case APX_C_EUNAUTH:
	case APX_C_EDENIED:
	case APX_C_EPROVIDER:
	case APX_C_EGRANT:
	case APX_C_EEXPIRED:
		return 1;
	default:
		return 0;
	}
}

/* 1 when a correct verification accepts WH with the configured keys. */
static int
sig_expected(const struct apx_webhook *wh)
{
	const char *given, *keys[2];
	char want[B64_LEN + 1];
	size_t i;

	if ((given = header(wh->headers, wh->nheaders, SIG_HEADER)) == NULL)
		return 0;
	keys[0] = mock_host()->config(mock_cx(), SECRET_FIELD);
	keys[1] = prev_field != NULL ?
	    mock_host()->config(mock_cx(), prev_field) : NULL;
	for (i = 0; i < 2; i++) {
		if (keys[i] == NULL || *keys[i] == '\0')
			continue;
		sign(keys[i], wh->body, wh->len, want);
		if (strcmp(given, want) == 0)
			return 1;
	}
	return 0;
}

/*
 * Verify as the host does; the answer checked against sig_expected: a
 * forged delivery refused and, when COMPLETE, a genuine one accepted.
 */
static int
verify(const struct apx_webhook *wh, int complete)
{
	int rc, want = sig_expected(wh);

	rc = plugin->webhook_verify(mock_cx(), wh);
#ifdef FUZZ_WEBHOOK_VERBOSE
	fprintf(stderr, "verify=%d expected=%d\n", rc, want);
#endif
	if (!code_ok(rc))
		__builtin_trap();	/* 0 or a negative code only */
	if (rc == 0 && !want)
		__builtin_trap();	/* accepted a forged delivery */
	if (rc != 0 && want && complete)
		__builtin_trap();	/* refused a genuine delivery */
	return rc;
}

/* The account id of an event has the form the plugin routes by. */
static int
account_ok(const struct apx_webhook *wh, const char *id)
{
	size_t i, n = strlen(id);
#if defined(FUZZ_WEBHOOK_SHOPIFY)
	static const char suffix[] = ".myshopify.com";
	const char *shop = header(wh->headers, wh->nheaders,
	    "x-shopify-shop-domain");

	if (shop == NULL || strlen(shop) != n ||
	    n <= sizeof(suffix) - 1 ||
	    strcmp(id + n - (sizeof(suffix) - 1), suffix) != 0)
		return 0;
	for (i = 0; i < n; i++)
		if (id[i] != (shop[i] >= 'A' && shop[i] <= 'Z' ?
		    shop[i] - 'A' + 'a' : shop[i]))
			return 0;
	return 1;
#elif defined(FUZZ_WEBHOOK_INTUIT)
	(void)wh;
	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (id[i] < '0' || id[i] > '9')
			return 0;
	return 1;
#else
	(void)wh;
	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f') ||
		    (id[i] >= 'A' && id[i] <= 'F') || id[i] == '-'))
			return 0;
	return 1;
#endif
}

/*
 * Intuit and Xero rebuild each event's payload from its own part of the
 * delivery: a JSON object that names no account but the event's.
 * Shopify's payload is the body as it came.
 */
static int
payload_ok(const char *payload, const char *account)
{
#if defined(FUZZ_WEBHOOK_SHOPIFY)
	(void)payload;
	(void)account;
	return 1;
#else
#if defined(FUZZ_WEBHOOK_INTUIT)
	static const char *const keys[] = { "realmId", "intuitaccountid" };
#else
	static const char *const keys[] = { "tenantId" };
#endif
	const char *v;
	json_t *j;
	size_t i;
	int ok;

	if ((j = json_loads(payload, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return 0;
	ok = json_is_object(j);
	for (i = 0; ok && i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = json_string_value(json_object_get(j, keys[i]))) !=
		    NULL && strcmp(v, account) != 0)
			ok = 0;
	json_decref(j);
	return ok;
#endif
}

/* What every routed event must have. */
static int
event_ok(const struct apx_webhook_event *ev)
{
	return ev->account_id != NULL && *ev->account_id != '\0' &&
	    strlen(ev->account_id) <= ACCOUNT_MAX && ev->event_id != NULL &&
	    *ev->event_id != '\0' && strlen(ev->event_id) <= EVENT_ID_MAX &&
	    ev->type != NULL && *ev->type != '\0' && ev->payload != NULL;
}

/* What the host's event_ok (webhook.c) takes: a type <= 128 bytes, too. */
static int
host_takes(const struct apx_webhook_event *ev)
{
	return event_ok(ev) && strlen(ev->type) <= TYPE_MAX;
}

/* 1 when S holds a configured secret (in any case) that the input,
 * lower-cased as INPUT, does not. */
static int
has_secret(const char *s, const char *input)
{
	char *ls = lower(s, strlen(s));
	size_t i;
	int found = 0;

	for (i = 0; i < nsecrets && !found; i++)
		found = strstr(ls, secrets[i]) != NULL &&
		    strstr(input, secrets[i]) == NULL;
	free(ls);
	return found;
}

/* One event's job: its own context, sale, wait and privacy allowed. */
static void
handle(const struct evcopy *c)
{
	const struct mock_counts *k = mock_counts();
	struct apx_webhook_event ev;
	const char *subject, *key;
	json_t *j, *v;
	int rc, want = 0;

	ev.account_id = c->account_id;
	ev.event_id = c->event_id;
	ev.type = c->type;
	ev.payload = c->payload;
	mock_counts_reset();
	mock_job_set(1);
	rc = plugin->webhook_handle(mock_cx(), &ev);
	mock_job_set(0);
#ifdef FUZZ_WEBHOOK_VERBOSE
	fprintf(stderr, "handle %s=%d privacy=%u sales=%u\n", ev.type, rc,
	    k->privacy, k->sales);
#endif
	if (rc != APX_C_MORE && !code_ok(rc))
		__builtin_trap();
	if (k->sales_bad > 0 || k->waits_bad > 0 || k->denied > 0)
		__builtin_trap();
#if defined(FUZZ_WEBHOOK_SHOPIFY)
	if (strcmp(ev.type, "customers/data_request") == 0)
		want = APX_C_PRIVACY_EXPORT;
	else if (strcmp(ev.type, "customers/redact") == 0)
		want = APX_C_PRIVACY_ERASE;
	else if (strcmp(ev.type, "shop/redact") == 0)
		want = APX_C_PRIVACY_FORGET;
#endif
	if (k->privacy > 0 && want == 0)
		__builtin_trap();	/* privacy for another topic */
	if (k->privacy > 1 || k->privacy_bad > 0 ||
	    (k->privacy == 1 && k->privacy_what != want))
		__builtin_trap();
	if (want != 0 && rc == 0 && k->privacy != 1)
		__builtin_trap();	/* a privacy topic done without it */
	if (k->privacy == 1 && want != APX_C_PRIVACY_FORGET) {
		/* {"customer_id", "email", "phone"}, strings only. */
		subject = mock_privacy_subject();
		if (subject == NULL || (j = json_loads(subject,
		    JSON_REJECT_DUPLICATES, NULL)) == NULL)
			__builtin_trap();
		json_object_foreach(j, key, v)
			if ((strcmp(key, "customer_id") != 0 &&
			    strcmp(key, "email") != 0 &&
			    strcmp(key, "phone") != 0) || !json_is_string(v))
				__builtin_trap();
		json_decref(j);
	}
	mock_counts_reset();
	mock_cx_reset(mock_cx());
}

static void
run(const struct apx_webhook *wh, const char *input)
{
	const struct apx_webhook_event *evs = NULL;
	const struct mock_counts *k = mock_counts();
	struct evcopy *copies;
	size_t i, n, nevs = 0;
	int rc;

	mock_counts_reset();
	mock_job_set(0);
	if (verify(wh, 1) != 0)
		goto out;
	rc = plugin->webhook_route(mock_cx(), wh, &evs, &nevs);
#ifdef FUZZ_WEBHOOK_VERBOSE
	fprintf(stderr, "route=%d nevents=%zu\n", rc, nevs);
#endif
	if (!code_ok(rc) || k->sales > 0 || k->waits > 0 || k->privacy > 0)
		__builtin_trap();
	if (rc != 0)
		goto out;
	if (nevs > EVENTS_MAX || (nevs > 0 && evs == NULL))
		__builtin_trap();
	for (i = 0; i < nevs; i++) {
#ifdef FUZZ_WEBHOOK_VERBOSE
		fprintf(stderr, "  [%zu] account=%s id=%s type=%s\n", i,
		    evs[i].account_id, evs[i].event_id, evs[i].type);
#endif
		if (!event_ok(&evs[i]) || !account_ok(wh, evs[i].account_id) ||
		    !payload_ok(evs[i].payload, evs[i].account_id))
			__builtin_trap();
		if (has_secret(evs[i].account_id, input) ||
		    has_secret(evs[i].event_id, input) ||
		    has_secret(evs[i].type, input) ||
		    has_secret(evs[i].payload, input))
			__builtin_trap();
		if (!host_takes(&evs[i]))
			__builtin_trap();	/* the host would skip it */
	}
	if (nevs == 0)
		goto out;
	/* The host stores the events it takes and answers; jobs handle
	 * them later, each in a context of its own. */
	if ((copies = calloc(nevs, sizeof(*copies))) == NULL)
		abort();
	for (i = n = 0; i < nevs; i++) {
		if (!host_takes(&evs[i]))
			continue;
		if ((copies[n].account_id = strdup(evs[i].account_id)) ==
		    NULL || (copies[n].event_id = strdup(evs[i].event_id)) ==
		    NULL || (copies[n].type = strdup(evs[i].type)) == NULL ||
		    (copies[n].payload = strdup(evs[i].payload)) == NULL)
			abort();
		n++;
	}
	mock_cx_reset(mock_cx());
	for (i = 0; i < n; i++) {
		handle(&copies[i]);
		free(copies[i].account_id);
		free(copies[i].event_id);
		free(copies[i].type);
		free(copies[i].payload);
	}
	free(copies);
 out:
	mock_counts_reset();
	mock_cx_reset(mock_cx());
}

/*
 * The header lines of S (LEN bytes) into H (names and values malloc'd);
 * *BODY_OFF where the body starts. Answers the number of headers.
 */
static size_t
parse_headers(const char *s, size_t len, struct apx_param *h,
    size_t *body_off)
{
	const char *line = s, *end = s + len, *nl, *colon, *v, *ve;
	char *name, *value;
	size_t n = 0, i, ll;

	*body_off = len;
	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		ll = (size_t)((nl != NULL ? nl : end) - line);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0) {			/* the empty line */
			*body_off = nl != NULL ? (size_t)(nl + 1 - s) : len;
			break;
		}
		colon = memchr(line, ':', ll);
		if (colon != NULL && n < HEADERS_MAX) {
			for (v = colon + 1, ve = line + ll; v < ve &&
			    (*v == ' ' || *v == '\t'); v++)
				;
			if ((name = strndup(line, (size_t)(colon - line))) ==
			    NULL || (value = strndup(v, (size_t)(ve - v))) ==
			    NULL)
				abort();
			for (i = 0; name[i] != '\0'; i++)
				if (name[i] >= 'A' && name[i] <= 'Z')
					name[i] = (char)(name[i] - 'A' + 'a');
			h[n].name = name;
			h[n].value = value;
			n++;
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct apx_param h[HEADERS_MAX];
	struct apx_webhook wh;
	char sig[B64_LEN + 1], psig[B64_LEN + 1];
	unsigned char *body = NULL;
	char *input;
	size_t i, n, off, blen;

	if (!ready) {
		setup();
		ready = 1;
	}
	n = parse_headers((const char *)data, size, h, &off);
	blen = size - off;
	/* Exactly the body's bytes, so that ASan sees a read past them. */
	if (blen > 0) {
		if ((body = malloc(blen)) == NULL)
			abort();
		memcpy(body, data + off, blen);
	}
	memset(&wh, 0, sizeof(wh));
	wh.body = body != NULL ? body : (const unsigned char *)"";
	wh.len = blen;
	wh.headers = h;
	wh.nheaders = n;
	sign(SECRET, wh.body, wh.len, sig);
	sign(PREV_SECRET, wh.body, wh.len, psig);
	for (i = 0; i < n; i++) {
		if (strcmp(h[i].value, SIGN_MARK) == 0) {
			free((void *)(uintptr_t)h[i].value);
			if ((h[i].value = strdup(sig)) == NULL)
				abort();
		} else if (strcmp(h[i].value, SIGN_PREV_MARK) == 0) {
			free((void *)(uintptr_t)h[i].value);
			if ((h[i].value = strdup(psig)) == NULL)
				abort();
		}
	}

	input = lower((const char *)data, size);
	run(&wh, input);
	free(input);

	/* Again without the current secret: only the previous one (if the
	 * plugin has one) may be accepted. Verify alone. */
	mock_config_set(SECRET_FIELD, NULL);
	mock_counts_reset();
	(void)verify(&wh, 0);
	mock_cx_reset(mock_cx());
	mock_config_set(SECRET_FIELD, SECRET);

	for (i = 0; i < n; i++) {
		free((void *)(uintptr_t)h[i].name);
		free((void *)(uintptr_t)h[i].value);
	}
	free(body);
	return 0;
}
