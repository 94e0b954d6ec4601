/*
 * Shopify connector: OAuth 2.0 authorization code grant with expiring
 * offline tokens, the callback's hmac, the webhook signature, the
 * mandatory privacy topics, and the sync of orders through the GraphQL
 * Admin API with its cost-based throttling.
 *
 * Everything goes through the host's service table (connector.h): no
 * library but libc is linked, and every URL is built from the configured
 * shop_base, so tests point it at a local stand-in.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <accupredix/connector.h>

#include "../common/kit.h"

#define SHOP_SUFFIX	".myshopify.com"
#define SHOP_MAX	255
#define LABEL_MAX	63	/* one DNS label */
#define PARAMS_MAX	64	/* callback parameters taken into the hmac */
#define CLOCK_SKEW	90	/* seconds a callback timestamp may be off */

static const struct apx_host *host;

static int	 shopify_init(const struct apx_host *, struct apx_cx *);
static void	 shopify_fini(void);
static int	 shopify_authorize(struct apx_cx *,
		    const struct apx_authorize *, const char **);
static int	 shopify_exchange(struct apx_cx *, const struct apx_callback *,
		    struct apx_exchange *);
static int	 shopify_refresh(struct apx_cx *, const char *,
		    struct apx_tokens *);
static int	 shopify_revoke(struct apx_cx *, const struct apx_tokens *);
static int	 shopify_check(struct apx_cx *, const char *, const char *);
static int	 shopify_webhook_verify(struct apx_cx *,
		    const struct apx_webhook *);
static int	 shopify_webhook_route(struct apx_cx *,
		    const struct apx_webhook *,
		    const struct apx_webhook_event **, size_t *);
static int	 shopify_webhook_handle(struct apx_cx *,
		    const struct apx_webhook_event *);
static int	 shopify_sync(struct apx_cx *, const struct apx_sync *,
		    const char **);

static char	*lower_dup(struct apx_cx *, const char *, size_t);
static int	 shop_label(struct apx_cx *, const char *, char **);
static int	 shop_base(struct apx_cx *, const char *, char **);
static int	 org_base(struct apx_cx *, char **);
static int	 param_cmp(const void *, const void *);
static int	 callback_hmac_ok(struct apx_cx *, const struct apx_callback *,
		    const char *);
static int	 timestamp_ok(const char *, int64_t);
static int	 parse_i64(const char *, int64_t *);
static int	 token_call(struct apx_cx *, const char *, const char *,
		    struct apx_tokens *);
static int	 token_chars(const char *, size_t, const char *);
static char	*privacy_subject(struct apx_cx *, const struct apx_json *);
struct cursor;
static int	 instant_ok(const char *);
static int	 cursor_get(const char *, struct cursor *);
static const char *cursor_put(struct apx_cx *, const char *, const char *,
		    const char *);
static int64_t	 throttle_wait(struct apx_cx *, const struct apx_json *,
		    double);
static void	 order_sale(struct apx_cx *, const struct apx_json *, char *,
		    size_t);

static const struct apx_connector_field fields[] = {
	{ "client_id", APX_FIELD_STRING, APX_FIELD_SERVER, 1, NULL,
	    "API key of the Shopify app", 0 },
	{ "client_secret", APX_FIELD_SECRET, APX_FIELD_SERVER, 1, NULL,
	    "API secret key of the Shopify app", 0 },
	{ "shop_base", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://{shop}.myshopify.com",
	    "base URL of a shop; {shop} is the store label", 0 },
	{ "api_version", APX_FIELD_STRING, APX_FIELD_SERVER, 0, "2024-10",
	    "Admin API version", 0 },
	{ "webhook_secret_previous", APX_FIELD_SECRET, APX_FIELD_SERVER, 0,
	    NULL, "previous app secret during a rotation; used by webhooks",
	    0 },
	{ "shop", APX_FIELD_STRING, APX_FIELD_ORG, 1, NULL,
	    "your-store.myshopify.com", SHOP_MAX },
};

static const char *const scopes[] = { "read_orders", "read_products" };

static const struct apx_connector shopify = {
	.magic = APX_CONNECTOR_MAGIC,
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.size = sizeof(struct apx_connector),
	.name = "shopify",
	.version = "1.0.0",
	.display_name = "Shopify",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
	.scopes = scopes,
	.nscopes = sizeof(scopes) / sizeof(scopes[0]),
	.pkce = 0,
	.init = shopify_init,
	.fini = shopify_fini,
	.authorize = shopify_authorize,
	.exchange = shopify_exchange,
	.refresh = shopify_refresh,
	.revoke = shopify_revoke,
	.check = shopify_check,
	.webhook_verify = shopify_webhook_verify,
	.webhook_route = shopify_webhook_route,
	.webhook_handle = shopify_webhook_handle,
	.sync = shopify_sync,
};

const struct apx_connector *
apx_connector_entry(void)
{
	return &shopify;
}



static char *
lower_dup(struct apx_cx *cx, const char *s, size_t n)
{
	char	*d;
	size_t	 i;

	if ((d = host->dup(cx, s, n)) == NULL)
		return NULL;
	for (i = 0; d[i] != '\0'; i++)
		d[i] = (char)kit_lc((unsigned char)d[i]);
	return d;
}

/*
 * SHOP must match ^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$ (the label
 * at most one DNS label long); *LABEL is its store label, lower-cased.
 */
static int
shop_label(struct apx_cx *cx, const char *shop, char **label)
{
	size_t	 len, n, i, slen = sizeof(SHOP_SUFFIX) - 1;
	int	 c;

	*label = NULL;
	if (shop == NULL || (len = strlen(shop)) <= slen || len > SHOP_MAX)
		return APX_C_EINVAL;
	n = len - slen;
	if (n > LABEL_MAX || !kit_ieq(shop + n, SHOP_SUFFIX))
		return APX_C_EINVAL;
	for (i = 0; i < n; i++) {
		c = (unsigned char)shop[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			continue;
		if (c == '-' && i > 0)
			continue;
		return APX_C_EINVAL;
	}
	if ((*label = lower_dup(cx, shop, n)) == NULL)
		return APX_C_ENOMEM;
	return 0;
}

/* The base URL of SHOP: shop_base with "{shop}" replaced by its label. */
static int
shop_base(struct apx_cx *cx, const char *shop, char **base)
{
	const char	*tmpl, *p;
	char		*label, *b;
	size_t		 n;
	int		 rc;

	*base = NULL;
	if ((rc = shop_label(cx, shop, &label)) != 0)
		return rc;
	if ((tmpl = host->config(cx, "shop_base")) == NULL || *tmpl == '\0')
		return APX_C_EINVAL;
	if ((p = strstr(tmpl, "{shop}")) != NULL)
		b = host->fmt(cx, "%.*s%s%s", (int)(p - tmpl), tmpl, label,
		    p + sizeof("{shop}") - 1);
	else
		b = host->dup(cx, tmpl, strlen(tmpl));
	if (b == NULL)
		return APX_C_ENOMEM;
	if ((n = strlen(b)) > 0 && b[n - 1] == '/')
		b[n - 1] = '\0';
	*base = b;
	return 0;
}

/* The base URL of the shop the context's org configured. */
static int
org_base(struct apx_cx *cx, char **base)
{
	int	 rc;

	if ((rc = shop_base(cx, host->config(cx, "shop"), base)) != 0)
		host->log_msg(cx, APX_C_LOG_ERROR,
		    "%s: the org's shop is unset or not *.myshopify.com",
		    __func__);
	return rc;
}



/* By name in byte order, then by value, so that repeats sort stably. */
static int
param_cmp(const void *a, const void *b)
{
	const struct apx_param	*pa = *(const struct apx_param *const *)a;
	const struct apx_param	*pb = *(const struct apx_param *const *)b;
	int			 r;

	if ((r = strcmp(pa->name, pb->name)) != 0)
		return r;
	return strcmp(pa->value != NULL ? pa->value : "",
	    pb->value != NULL ? pb->value : "");
}

/*
 * Shopify's callback hmac: every parameter but hmac and signature, sorted
 * by name, joined as name=value with '&', HMAC-SHA256 with the client
 * secret, in lower-case hex. 1 when GIVEN is that hmac.
 */
static int
callback_hmac_ok(struct apx_cx *cx, const struct apx_callback *cb,
    const char *given)
{
	static const char		 hexd[] = "0123456789abcdef";
	const struct apx_param		**sorted;
	const char			*secret, *v;
	unsigned char			 mac[32];
	char				 hex[65], *msg, *want;
	size_t				 i, n = 0, len = 0, off = 0;
	int				 ok = 0;

	if ((secret = host->config(cx, "client_secret")) == NULL ||
	    cb->nparams == 0 || cb->nparams > PARAMS_MAX)
		goto out;
	if ((sorted = host->alloc(cx, cb->nparams * sizeof(*sorted))) == NULL)
		goto out;
	for (i = 0; i < cb->nparams; i++) {
		if (cb->params[i].name == NULL ||
		    strcmp(cb->params[i].name, "hmac") == 0 ||
		    strcmp(cb->params[i].name, "signature") == 0)
			continue;
		sorted[n++] = &cb->params[i];
		v = cb->params[i].value != NULL ? cb->params[i].value : "";
		len += strlen(cb->params[i].name) + 1 + strlen(v) + 1;
	}
	qsort(sorted, n, sizeof(*sorted), param_cmp);
	if ((msg = host->alloc(cx, len + 1)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		v = sorted[i]->value != NULL ? sorted[i]->value : "";
		if (i > 0)
			msg[off++] = '&';
		memcpy(msg + off, sorted[i]->name, strlen(sorted[i]->name));
		off += strlen(sorted[i]->name);
		msg[off++] = '=';
		memcpy(msg + off, v, strlen(v));
		off += strlen(v);
	}
	msg[off] = '\0';
	if (host->hmac_sha256(secret, strlen(secret), msg, off, mac) != 0)
		goto out;
	for (i = 0; i < sizeof(mac); i++) {
		hex[2 * i] = hexd[mac[i] >> 4];
		hex[2 * i + 1] = hexd[mac[i] & 0x0f];
	}
	hex[64] = '\0';
	if ((want = lower_dup(cx, given, strlen(given))) == NULL)
		goto out;
	ok = strlen(want) == 64 && host->ct_equal(hex, 64, want, 64) == 1;
 out:
	return ok;
}

/* 1 when TS is a decimal time within CLOCK_SKEW seconds of NOW. */
static int
timestamp_ok(const char *ts, int64_t now)
{
	int64_t	 t;

	if (parse_i64(ts, &t) != 0)
		return 0;
	return t - now <= CLOCK_SKEW && now - t <= CLOCK_SKEW;
}

/* A non-negative decimal of at most 15 digits. */
static int
parse_i64(const char *s, int64_t *v)
{
	size_t	 i;

	*v = 0;
	if (s == NULL || *s == '\0')
		return APX_C_EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 15)
			return APX_C_EINVAL;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}



/* POST FORM to the token URL at BASE and read the token answer. */
static int
token_call(struct apx_cx *cx, const char *base, const char *form,
    struct apx_tokens *t)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	const char			*err, *v;
	char				*url, *scope, *p;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(t, 0, sizeof(*t));
	if ((url = host->fmt(cx, "%s/admin/oauth/access_token", base)) ==
	    NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	req.method = "POST";
	req.url = url;
	req.body = form;
	req.body_len = strlen(form);
	req.content_type = "application/x-www-form-urlencoded";
	if ((rc = host->http(cx, &req, &resp)) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: token request: %d",
		    __func__, rc);
		goto fail;
	}
	if (resp.status != 200) {
		kit_log_answer(cx, __func__, &resp);
		err = resp.body == NULL ? NULL :
		    host->json_get(cx, resp.body, resp.body_len, "error");
		rc = APX_C_EPROVIDER;
		if ((resp.status == 400 || resp.status == 401) &&
		    err != NULL && strcmp(err, "invalid_grant") == 0)
			rc = APX_C_EGRANT;
		goto fail;
	}
	rc = APX_C_EINVAL;
	if (resp.body == NULL || (t->access_token = host->json_get(cx,
	    resp.body, resp.body_len, "access_token")) == NULL ||
	    *t->access_token == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: no access_token",
		    __func__);
		goto fail;
	}
	v = host->json_get(cx, resp.body, resp.body_len, "refresh_token");
	t->refresh_token = (v != NULL && *v != '\0') ? v : NULL;
	if ((v = host->json_get(cx, resp.body, resp.body_len,
	    "expires_in")) != NULL && parse_i64(v, &t->expires_in) != 0)
		goto bad;
	if ((v = host->json_get(cx, resp.body, resp.body_len,
	    "refresh_token_expires_in")) != NULL &&
	    parse_i64(v, &t->refresh_expires_in) != 0)
		goto bad;
	/* Shopify separates scopes with commas; the host wants spaces. */
	if ((v = host->json_get(cx, resp.body, resp.body_len, "scope")) !=
	    NULL) {
		if ((scope = host->dup(cx, v, strlen(v))) == NULL) {
			rc = APX_C_ENOMEM;
			goto fail;
		}
		for (p = scope; *p != '\0'; p++)
			if (*p == ',')
				*p = ' ';
		t->scope = scope;
	}
	return 0;
 bad:
	host->log_msg(cx, APX_C_LOG_WARN, "%s: malformed expiry", __func__);
 fail:
	memset(t, 0, sizeof(*t));
	return rc;
}



/* ---------------------------------------------------------- callbacks */

static int
shopify_init(const struct apx_host *h, struct apx_cx *cx)
{
	static const char *const required[] = {
		"client_id", "client_secret", "shop_base", "api_version"
	};
	const char	*v;
	size_t		 i;

	if (h == NULL || h->size < sizeof(*h) ||
	    h->abi_major != APX_CONNECTOR_ABI_MAJOR)
		return -1;
	host = h;
	kit_init(h);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if ((v = host->config(cx, required[i])) == NULL || *v == '\0') {
			host->log_msg(cx, APX_C_LOG_ERROR,
			    "%s: connectors.shopify.%s is not set", __func__,
			    required[i]);
			host = NULL;
			return -1;
		}
	}
	return 0;
}

static void
shopify_fini(void)
{
	host = NULL;
}

static int
shopify_authorize(struct apx_cx *cx, const struct apx_authorize *az,
    const char **url)
{
	char	*base, *q = NULL, *scope = NULL, *enc, *u;
	size_t	 i;
	int	 rc;

	*url = NULL;
	if ((rc = org_base(cx, &base)) != 0)
		goto fail;
	/* Shopify wants the scopes separated by commas. */
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		if ((enc = host->urlencode(cx, scopes[i])) == NULL ||
		    (scope = host->fmt(cx, "%s%s%s", scope != NULL ? scope : "",
		    scope != NULL ? "," : "", enc)) == NULL) {
			rc = APX_C_ENOMEM;
			goto fail;
		}
	}
	if ((rc = kit_form_add(cx, &q, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (q = host->fmt(cx, "%s&scope=%s", q, scope)) == NULL ||
	    (rc = kit_form_add(cx, &q, "redirect_uri", az->redirect_uri)) != 0 ||
	    (rc = kit_form_add(cx, &q, "state", az->state)) != 0) {
		if (rc == 0)
			rc = APX_C_ENOMEM;
		goto fail;
	}
	if ((u = host->fmt(cx, "%s/admin/oauth/authorize?%s", base, q)) ==
	    NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	*url = u;
	return 0;
 fail:
	return rc;
}

static int
shopify_exchange(struct apx_cx *cx, const struct apx_callback *cb,
    struct apx_exchange *ex)
{
	struct apx_account	*acct;
	const char		*shop, *hmac, *ts, *code, *conf;
	char			*base, *label, *form = NULL;
	int64_t			 now;
	int			 rc;

	memset(ex, 0, sizeof(*ex));
	shop = kit_param_get(cb->params, cb->nparams, "shop");
	hmac = kit_param_get(cb->params, cb->nparams, "hmac");
	ts = kit_param_get(cb->params, cb->nparams, "timestamp");
	code = cb->code != NULL ? cb->code :
	    kit_param_get(cb->params, cb->nparams, "code");
	rc = APX_C_EUNAUTH;
	if (shop == NULL || hmac == NULL || ts == NULL || code == NULL ||
	    *code == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: callback lacks shop, hmac, timestamp or code",
		    __func__);
		goto fail;
	}
	if (!callback_hmac_ok(cx, cb, hmac)) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: callback hmac is wrong",
		    __func__);
		goto fail;
	}
	now = cb->now != 0 ? cb->now : host->now();
	if (!timestamp_ok(ts, now)) {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: callback timestamp is more than %d s off", __func__,
		    CLOCK_SKEW);
		goto fail;
	}
	conf = host->config(cx, "shop");
	if (shop_label(cx, shop, &label) != 0 || conf == NULL ||
	    !kit_ieq(shop, conf)) {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: callback shop is not the org's shop", __func__);
		goto fail;
	}
	if ((rc = shop_base(cx, shop, &base)) != 0)
		goto fail;
	if ((rc = kit_form_add(cx, &form, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (rc = kit_form_add(cx, &form, "client_secret",
	    host->config(cx, "client_secret"))) != 0 ||
	    (rc = kit_form_add(cx, &form, "code", code)) != 0 ||
	    (rc = kit_form_add(cx, &form, "expiring", "1")) != 0)
		goto fail;
	if ((rc = token_call(cx, base, form, &ex->tokens)) != 0)
		goto fail;
	if ((acct = host->alloc(cx, sizeof(*acct))) == NULL ||
	    (acct->id = lower_dup(cx, shop, strlen(shop))) == NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	acct->name = acct->id;
	ex->accounts = acct;
	ex->naccounts = 1;
	return 0;
 fail:
	memset(ex, 0, sizeof(*ex));
	return rc;
}

static int
shopify_refresh(struct apx_cx *cx, const char *refresh_token,
    struct apx_tokens *t)
{
	char	*base, *form = NULL;
	int	 rc;

	memset(t, 0, sizeof(*t));
	if (refresh_token == NULL || *refresh_token == '\0') {
		rc = APX_C_EINVAL;
		goto fail;
	}
	if ((rc = org_base(cx, &base)) != 0)
		goto fail;
	if ((rc = kit_form_add(cx, &form, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (rc = kit_form_add(cx, &form, "client_secret",
	    host->config(cx, "client_secret"))) != 0 ||
	    (rc = kit_form_add(cx, &form, "grant_type", "refresh_token")) != 0 ||
	    (rc = kit_form_add(cx, &form, "refresh_token", refresh_token)) != 0)
		goto fail;
	rc = token_call(cx, base, form, t);
 fail:
	return rc;
}

static int
shopify_revoke(struct apx_cx *cx, const struct apx_tokens *t)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	struct apx_param		 hdr;
	char				*base, *url;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	if (t == NULL || t->access_token == NULL || *t->access_token == '\0') {
		rc = APX_C_EINVAL;
		goto out;
	}
	if ((rc = org_base(cx, &base)) != 0)
		goto out;
	if ((url = host->fmt(cx, "%s/admin/api_permissions/current.json",
	    base)) == NULL) {
		rc = APX_C_ENOMEM;
		goto out;
	}
	hdr.name = "X-Shopify-Access-Token";
	hdr.value = t->access_token;
	req.method = "DELETE";
	req.url = url;
	req.headers = &hdr;
	req.nheaders = 1;
	if ((rc = host->http(cx, &req, &resp)) != 0)
		goto out;
	switch (resp.status) {
	case 200:
	case 204:
		break;
	case 401:
	case 404:
		/* Already uninstalled or revoked. */
		host->log_msg(cx, APX_C_LOG_INFO,
		    "%s: HTTP %ld, the grant was already gone", __func__,
		    resp.status);
		break;
	default:
		kit_log_answer(cx, __func__, &resp);
		rc = APX_C_EPROVIDER;
		break;
	}
 out:
	return rc;
}

static int
shopify_check(struct apx_cx *cx, const char *access_token,
    const char *account_id)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	struct apx_param		 hdr;
	const char			*conf, *ver;
	char				*base, *url;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	rc = APX_C_EINVAL;
	if (access_token == NULL || *access_token == '\0')
		goto out;
	/* The token is for the shop it was granted by: the org's shop. */
	conf = host->config(cx, "shop");
	if (account_id != NULL && (conf == NULL || !kit_ieq(account_id, conf))) {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: the account is not the org's configured shop",
		    __func__);
		goto out;
	}
	if ((rc = org_base(cx, &base)) != 0)
		goto out;
	if ((ver = host->config(cx, "api_version")) == NULL) {
		rc = APX_C_EINVAL;
		goto out;
	}
	if ((url = host->fmt(cx, "%s/admin/api/%s/shop.json", base, ver)) ==
	    NULL) {
		rc = APX_C_ENOMEM;
		goto out;
	}
	hdr.name = "X-Shopify-Access-Token";
	hdr.value = access_token;
	req.method = "GET";
	req.url = url;
	req.headers = &hdr;
	req.nheaders = 1;
	if ((rc = host->http(cx, &req, &resp)) != 0)
		goto out;
	if (resp.status == 200)
		rc = 0;
	else {
		kit_log_answer(cx, __func__, &resp);
		rc = resp.status == 401 ? APX_C_EGRANT : APX_C_EPROVIDER;
	}
 out:
	return rc;
}

static int
shopify_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh)
{
	return kit_webhook_verify(cx, wh, "x-shopify-hmac-sha256", "client_secret", "webhook_secret_previous");
}

/* One delivery is one event of one shop. */
static int
shopify_webhook_route(struct apx_cx *cx, const struct apx_webhook *wh,
    const struct apx_webhook_event **events, size_t *nevents)
{
	struct apx_webhook_event	*ev;
	const char			*shop, *id, *topic;
	char				*label;
	int				 rc;

	*events = NULL;
	*nevents = 0;
	shop = kit_header_get(wh, "x-shopify-shop-domain");
	if ((id = kit_header_get(wh, "x-shopify-event-id")) == NULL || *id == '\0')
		id = kit_header_get(wh, "x-shopify-webhook-id");
	topic = kit_header_get(wh, "x-shopify-topic");
	if (shop_label(cx, shop, &label) != 0 || id == NULL || *id == '\0' ||
	    topic == NULL || *topic == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: shop domain, event id or topic missing or malformed",
		    __func__);
		rc = APX_C_EINVAL;
		goto fail;
	}
	rc = APX_C_ENOMEM;
	if ((ev = host->alloc(cx, sizeof(*ev))) == NULL ||
	    (ev->account_id = lower_dup(cx, shop, strlen(shop))) == NULL ||
	    (ev->event_id = host->dup(cx, id, 256)) == NULL ||
	    (ev->type = host->dup(cx, topic, 128)) == NULL ||
	    (ev->payload = host->dup(cx, wh->body != NULL ?
	    (const char *)wh->body : "", wh->len)) == NULL)
		goto fail;
	*events = ev;
	*nevents = 1;
	return 0;
 fail:
	return rc;
}

/* ---------------------------------------------------- connector data */

/* Text safe to put between JSON quotes: 1..MAX bytes of CHARS. */
static int
token_chars(const char *s, size_t max, const char *extra)
{
	size_t	 i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i]) != NULL))
			return 0;
	return 1;
}

/* The subject of a privacy topic: {"customer_id","email","phone"}. */
static char *
privacy_subject(struct apx_cx *cx, const struct apx_json *doc)
{
	static const char *const keys[] = { "id", "email", "phone" };
	static const char *const names[] = { "customer_id", "email", "phone" };
	const char	*v;
	char		*out = NULL, *js;
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if ((v = host->json_text(cx, host->json_at(doc, "customer"),
		    keys[i])) == NULL || *v == '\0')
			continue;
		if ((js = kit_json_str(cx, v)) == NULL ||
		    (out = host->fmt(cx, "%s%s\"%s\":%s", out != NULL ? out :
		    "", out != NULL ? "," : "", names[i], js)) == NULL)
			return NULL;
	}
	return host->fmt(cx, "{%s}", out != NULL ? out : "");
}

/*
 * Orders change: the sync of the connection fetches what changed since
 * its cursor (one code path for every way an order arrives). The
 * mandatory privacy topics run the host's privacy flows.
 */
static int
shopify_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	const struct apx_json	*doc;
	char			*subject;

	if (host->abi_minor < 1 || ev == NULL || ev->type == NULL)
		return APX_C_ENOTFOUND;
	if (strncmp(ev->type, "orders/", 7) == 0)
		return APX_C_MORE;
	if (strcmp(ev->type, "shop/redact") == 0)
		return host->privacy(cx, APX_C_PRIVACY_FORGET, NULL);
	if (strcmp(ev->type, "customers/redact") != 0 &&
	    strcmp(ev->type, "customers/data_request") != 0)
		return APX_C_ENOTFOUND;
	if ((doc = host->json_parse(cx, ev->payload, strlen(ev->payload))) ==
	    NULL || host->json_at(doc, "customer") == NULL) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: a %s event without a "
		    "customer", __func__, ev->type);
		return APX_C_EINVAL;
	}
	if ((subject = privacy_subject(cx, doc)) == NULL)
		return APX_C_ENOMEM;
	return host->privacy(cx, strcmp(ev->type, "customers/redact") == 0 ?
	    APX_C_PRIVACY_ERASE : APX_C_PRIVACY_EXPORT, subject);
}

/*
 * The sync cursor: "v1;s=<since>;h=<high water>;a=<after>", each value
 * or "-". SINCE: the run asks for orders updated at or after it; HIGH
 * WATER: the latest updatedAt seen; AFTER: the GraphQL cursor of the last
 * page committed (Shopify's cursors are keyset cursors: an order updated
 * during the run moves behind it and is seen again, never skipped). A
 * finished run leaves s = h for the next one.
 */
struct cursor {
	char	 since[40];
	char	 hw[40];
	char	 after[512];
};

static int
instant_ok(const char *s)
{
	return token_chars(s, 39, "-:.TZ+");
}

static int
cursor_get(const char *text, struct cursor *c)
{
	const char	*p, *e;
	char		*dst;
	size_t		 n, cap;

	memset(c, 0, sizeof(*c));
	if (text == NULL || *text == '\0')
		return 0;
	if (strncmp(text, "v1;", 3) != 0)
		return APX_C_EINVAL;
	for (p = text + 3; *p != '\0'; p = *e == ';' ? e + 1 : e) {
		if ((e = strchr(p, ';')) == NULL)
			e = p + strlen(p);
		if (e - p < 2 || p[1] != '=')
			return APX_C_EINVAL;
		switch (p[0]) {
		case 's':
			dst = c->since;
			cap = sizeof(c->since);
			break;
		case 'h':
			dst = c->hw;
			cap = sizeof(c->hw);
			break;
		case 'a':
			dst = c->after;
			cap = sizeof(c->after);
			break;
		default:
			return APX_C_EINVAL;
		}
		n = (size_t)(e - p) - 2;
		if (n >= cap)
			return APX_C_EINVAL;
		memcpy(dst, p + 2, n);
		dst[n] = '\0';
		if (strcmp(dst, "-") == 0)
			dst[0] = '\0';
	}
	if ((c->since[0] != '\0' && !instant_ok(c->since)) ||
	    (c->hw[0] != '\0' && !instant_ok(c->hw)) ||
	    (c->after[0] != '\0' && !token_chars(c->after, 511, "+/=_-")))
		return APX_C_EINVAL;
	return 0;
}

static const char *
cursor_put(struct apx_cx *cx, const char *since, const char *hw,
    const char *after)
{
	return host->fmt(cx, "v1;s=%s;h=%s;a=%s", since[0] != '\0' ? since :
	    "-", hw[0] != '\0' ? hw : "-", after[0] != '\0' ? after : "-");
}

#define ORDERS_QUERY \
	"query($first:Int!,$after:String,$query:String){orders(first:$first," \
	"after:$after,query:$query,sortKey:UPDATED_AT){edges{cursor node{id " \
	"legacyResourceId name processedAt createdAt updatedAt cancelledAt " \
	"test currentTotalPriceSet{shopMoney{amount currencyCode}}}}" \
	"pageInfo{hasNextPage endCursor}}}"
#define PAGE_SIZE	250
#define THROTTLE_TRIES	10

/* Milliseconds to wait for COST points to be back in the bucket. */
static int64_t
throttle_wait(struct apx_cx *cx, const struct apx_json *doc, double cost)
{
	const char	*av, *rr;
	double		 avail, rate, ms;

	av = host->json_text(cx, doc,
	    "extensions.cost.throttleStatus.currentlyAvailable");
	rr = host->json_text(cx, doc,
	    "extensions.cost.throttleStatus.restoreRate");
	if (av == NULL || rr == NULL)
		return 0;
	avail = strtod(av, NULL);
	rate = strtod(rr, NULL);
	if (!(rate > 0) || avail >= cost)
		return 0;
	ms = (cost - avail) / rate * 1000.0 + 50.0;
	return ms > 60000.0 ? 60000 : (int64_t)ms;
}

/* One order of a page as a sales record (a malformed one is skipped). */
static void
order_sale(struct apx_cx *cx, const struct apx_json *node, char *hw,
    size_t hwlen)
{
	struct apx_sale	 sale;
	const char	*upd, *when, *cancelled, *test;
	char		 day[11];

	memset(&sale, 0, sizeof(sale));
	sale.id = host->json_text(cx, node, "legacyResourceId");
	if (sale.id == NULL)
		sale.id = host->json_text(cx, node, "id");
	sale.kind = "order";
	when = host->json_text(cx, node, "processedAt");
	if (when == NULL)
		when = host->json_text(cx, node, "createdAt");
	upd = host->json_text(cx, node, "updatedAt");
	sale.amount = host->json_text(cx, node,
	    "currentTotalPriceSet.shopMoney.amount");
	sale.currency = host->json_text(cx, node,
	    "currentTotalPriceSet.shopMoney.currencyCode");
	cancelled = host->json_text(cx, node, "cancelledAt");
	test = host->json_text(cx, node, "test");
	if (upd != NULL && instant_ok(upd) && strcmp(upd, hw) > 0 &&
	    strlen(upd) < hwlen)
		memcpy(hw, upd, strlen(upd) + 1);
	if (when == NULL || strlen(when) < 10) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: order %s has no date; "
		    "skipped", __func__, sale.id != NULL ? kit_safe_text(cx,
		    sale.id) : "?");
		return;
	}
	/* processedAt is UTC ("...Z"): the day it counts for. */
	memcpy(day, when, 10);
	day[10] = '\0';
	sale.date = day;
	sale.voided = cancelled != NULL || (test != NULL &&
	    strcmp(test, "true") == 0);
	if (host->sale(cx, &sale) != 0)
		host->log_msg(cx, APX_C_LOG_WARN, "%s: order %s refused by the "
		    "host; skipped", __func__, sale.id != NULL ?
		    kit_safe_text(cx, sale.id) : "?");
}

static int
shopify_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	struct apx_param		 hdr[2];
	const struct apx_json		*doc, *edges;
	struct cursor			 c;
	const char			*ver, *code, *more, *end;
	char				*base, *url, *vars, *body, *q;
	char				 hw[40];
	size_t				 i, n;
	int64_t				 ms;
	int				 rc, tries;

	*cursor = NULL;
	if (host->abi_minor < 1 || s == NULL || s->access_token == NULL)
		return APX_C_EINVAL;
	if ((rc = cursor_get(s->cursor, &c)) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: unreadable cursor; "
		    "starting again", __func__);
		memset(&c, 0, sizeof(c));
	}
	if ((rc = shop_base(cx, s->account_id, &base)) != 0)
		return rc;
	if ((ver = host->config(cx, "api_version")) == NULL ||
	    !token_chars(ver, 32, "-_.") ||
	    (url = host->fmt(cx, "%s/admin/api/%s/graphql.json", base, ver)) ==
	    NULL)
		return APX_C_EINVAL;
	memcpy(hw, c.hw, sizeof(hw));
	if (c.since[0] != '\0')
		q = host->fmt(cx, "\"updated_at:>='%s'\"", c.since);
	else
		q = host->fmt(cx, "null");
	vars = host->fmt(cx, "{\"first\":%d,\"after\":%s%s%s,\"query\":%s}",
	    PAGE_SIZE, c.after[0] != '\0' ? "\"" : "", c.after[0] != '\0' ?
	    c.after : "null", c.after[0] != '\0' ? "\"" : "", q != NULL ? q :
	    "null");
	if (q == NULL || vars == NULL ||
	    (body = host->fmt(cx, "{\"query\":\"%s\",\"variables\":%s}",
	    ORDERS_QUERY, vars)) == NULL)
		return APX_C_ENOMEM;
	hdr[0].name = "X-Shopify-Access-Token";
	hdr[0].value = s->access_token;
	hdr[1].name = "Accept";
	hdr[1].value = "application/json";
	for (tries = 0;; tries++) {
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		req.method = "POST";
		req.url = url;
		req.headers = hdr;
		req.nheaders = 2;
		req.body = body;
		req.body_len = strlen(body);
		req.content_type = "application/json";
		if ((rc = host->http(cx, &req, &resp)) != 0)
			return rc;
		if (resp.status == 401)
			return APX_C_EEXPIRED;
		if (resp.status != 200) {
			kit_log_answer(cx, __func__, &resp);
			return APX_C_EPROVIDER;
		}
		if ((doc = host->json_parse(cx, resp.body, resp.body_len)) ==
		    NULL) {
			host->log_msg(cx, APX_C_LOG_WARN, "%s: the answer is "
			    "not JSON", __func__);
			return APX_C_EINVAL;
		}
		code = host->json_text(cx, doc, "errors.0.extensions.code");
		if (code == NULL && host->json_at(doc, "errors") != NULL &&
		    host->json_at(doc, "data.orders") == NULL) {
			host->log_msg(cx, APX_C_LOG_WARN, "%s: the API "
			    "answered errors", __func__);
			return APX_C_EPROVIDER;
		}
		if (code == NULL)
			break;
		if (strcmp(code, "THROTTLED") != 0 || tries >= THROTTLE_TRIES) {
			host->log_msg(cx, APX_C_LOG_WARN, "%s: the API answered "
			    "%s", __func__, kit_safe_text(cx, code));
			return APX_C_EPROVIDER;
		}
		/* Cost-based throttling: wait until the bucket holds the
		 * query's cost again, then ask for the same page. */
		ms = throttle_wait(cx, doc, 2.0 + PAGE_SIZE);
		host->log_msg(cx, APX_C_LOG_INFO, "%s: throttled; waiting "
		    "%lld ms", __func__, (long long)(ms > 0 ? ms : 1000));
		if ((rc = host->wait(cx, ms > 0 ? ms : 1000)) != 0)
			return rc;
	}
	edges = host->json_at(doc, "data.orders.edges");
	n = host->json_size(edges);
	for (i = 0; i < n && i < PAGE_SIZE; i++) {
		char path[32];

		snprintf(path, sizeof(path), "%zu.node", i);
		order_sale(cx, host->json_at(edges, path), hw, sizeof(hw));
	}
	more = host->json_text(cx, doc, "data.orders.pageInfo.hasNextPage");
	end = host->json_text(cx, doc, "data.orders.pageInfo.endCursor");
	/* Spare the next page a throttled answer. */
	if ((ms = throttle_wait(cx, doc, 2.0 + PAGE_SIZE)) > 0)
		(void)host->wait(cx, ms);
	if (more != NULL && strcmp(more, "true") == 0 && end != NULL &&
	    token_chars(end, 511, "+/=_-")) {
		*cursor = cursor_put(cx, c.since, hw, end);
		return *cursor != NULL ? APX_C_MORE : APX_C_ENOMEM;
	}
	/* Done: the next run asks from the latest change seen. */
	*cursor = cursor_put(cx, hw, hw, "");
	return *cursor != NULL ? 0 : APX_C_ENOMEM;
}
