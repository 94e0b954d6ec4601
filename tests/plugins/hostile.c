/*
 * Test plugin "hostile": a connector that tries, through the host's
 * service table, to reach what is not its own: other connectors' vault
 * slots and configuration, the server's own settings, origins outside its
 * URL fields, and OAuth state it did not create. Its authorize() answers
 *
 *   http://127.0.0.1:9/hostile?found=N&own=ok|bad&leak=VALUES
 *
 * where N counts the attempts that the host let through, own tells whether
 * its own vault slot works, and VALUES is the urlencoded concatenation of
 * whatever it obtained. The integration test asserts found=0, own=ok and
 * an empty leak.
 */
#include <stddef.h>
#include <string.h>

#include <accupredix/connector.h>

#define OWN_SLOT	"mine"
#define OWN_VALUE	"hostile-own-value"

static const struct apx_host *host;

static int	 hostile_init(const struct apx_host *, struct apx_cx *);
static void	 hostile_fini(void);
static int	 hostile_authorize(struct apx_cx *,
		    const struct apx_authorize *, const char **);
static int	 hostile_exchange(struct apx_cx *, const struct apx_callback *,
		    struct apx_exchange *);
static int	 hostile_refresh(struct apx_cx *, const char *,
		    struct apx_tokens *);
static int	 hostile_revoke(struct apx_cx *, const struct apx_tokens *);
static int	 hostile_check(struct apx_cx *, const char *, const char *);
static int	 hostile_webhook_verify(struct apx_cx *,
		    const struct apx_webhook *);
static int	 hostile_webhook_route(struct apx_cx *,
		    const struct apx_webhook *,
		    const struct apx_webhook_event **, size_t *);
static int	 hostile_webhook_handle(struct apx_cx *,
		    const struct apx_webhook_event *);
static int	 hostile_sync(struct apx_cx *, const struct apx_sync *,
		    const char **);
static int	 take(struct apx_cx *, char **, int *, const char *, size_t);

static const struct apx_connector_field fields[] = {
	{ "api_base", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "http://127.0.0.1:9/", "the only origin this connector may reach",
	    0 },
	{ "note", APX_FIELD_STRING, APX_FIELD_ORG, 0, NULL,
	    "anything", 0 },
	{ "api_key", APX_FIELD_SECRET, APX_FIELD_SERVER, 0, NULL,
	    "its own secret, which it tries to log", 0 },
};

static const struct apx_connector hostile = {
	.magic = APX_CONNECTOR_MAGIC,
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.size = sizeof(struct apx_connector),
	.name = "hostile",
	.version = "0.0.1",
	.display_name = "Hostile (test)",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
	.scopes = NULL,
	.nscopes = 0,
	.pkce = 0,
	.init = hostile_init,
	.fini = hostile_fini,
	.authorize = hostile_authorize,
	.exchange = hostile_exchange,
	.refresh = hostile_refresh,
	.revoke = hostile_revoke,
	.check = hostile_check,
	.webhook_verify = hostile_webhook_verify,
	.webhook_route = hostile_webhook_route,
	.webhook_handle = hostile_webhook_handle,
	.sync = hostile_sync,
};

const struct apx_connector *
apx_connector_entry(void)
{
	return &hostile;
}

/* Count a value the host let through and append it to *LEAK. */
static int
take(struct apx_cx *cx, char **leak, int *found, const char *v, size_t n)
{
	char	*copy;

	(*found)++;
	if (v == NULL)
		return 0;
	if ((copy = host->dup(cx, v, n)) == NULL ||
	    (*leak = host->fmt(cx, "%s%s", *leak, copy)) == NULL)
		return APX_C_ENOMEM;
	return 0;
}

static int
hostile_init(const struct apx_host *h, struct apx_cx *cx)
{
	(void)cx;
	if (h == NULL || h->size < sizeof(*h))
		return -1;
	host = h;
	return 0;
}

static void
hostile_fini(void)
{
	host = NULL;
}

static int
hostile_authorize(struct apx_cx *cx, const struct apx_authorize *az,
    const char **url)
{
	static const char *const slots[] = {
		"tokens", "../shopify/tokens", "shopify", "org:1",
		"connection:1:tokens", ""
	};
	static const char *const keys[] = {
		"client_secret", "../shopify/client_secret",
		"connectors.shopify.client_secret", "shopify.client_secret",
		"db.conninfo", "vault.keys", "internal.secret"
	};
	static const char *const urls[] = {
		"http://127.0.0.1:1/", "https://example.com/",
		"file:///etc/passwd"
	};
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	const char			*v, *own;
	char				 longslot[301], *leak, *enc, *u;
	size_t				 i, n;
	int				 found = 0, own_ok = 0, rc;

	(void)az;
	*url = NULL;
	if ((leak = host->dup(cx, "", 1)) == NULL)
		return APX_C_ENOMEM;

	/* Vault slots of other connectors, orgs and connections. */
	memset(longslot, 'a', sizeof(longslot) - 1);
	longslot[sizeof(longslot) - 1] = '\0';
	for (i = 0; i <= sizeof(slots) / sizeof(slots[0]); i++) {
		v = NULL;
		n = 0;
		if (host->vault_get(cx, i < sizeof(slots) / sizeof(slots[0]) ?
		    slots[i] : longslot, &v, &n) == 0 &&
		    (rc = take(cx, &leak, &found, v, n)) != 0)
			return rc;
	}

	/* Configuration that is not one of its declared fields. */
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((v = host->config(cx, keys[i])) != NULL &&
		    (rc = take(cx, &leak, &found, v, strlen(v))) != 0)
			return rc;

	/* Origins outside its URL fields. */
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		memset(&req, 0, sizeof(req));
		memset(&resp, 0, sizeof(resp));
		req.method = "GET";
		req.url = urls[i];
		if (host->http(cx, &req, &resp) == 0 &&
		    (rc = take(cx, &leak, &found, resp.body != NULL ?
		    resp.body : "", resp.body_len)) != 0)
			return rc;
	}

	/* OAuth state it never created. */
	v = NULL;
	if (host->state_consume(cx, "connect",
	    "Zm9yZ2VkLXN0YXRlLW9mLWFub3RoZXItdXNlcg", &v) == 0 &&
	    (rc = take(cx, &leak, &found, v, v != NULL ? strlen(v) : 0)) != 0)
		return rc;

	/* Its own slot must work. */
	own = NULL;
	n = 0;
	if (host->vault_put(cx, OWN_SLOT, OWN_VALUE, strlen(OWN_VALUE)) == 0 &&
	    host->vault_get(cx, OWN_SLOT, &own, &n) == 0 && own != NULL &&
	    n == strlen(OWN_VALUE) && memcmp(own, OWN_VALUE, n) == 0)
		own_ok = 1;

	/* Its own secret into the log (the host redacts it), and an event
	 * into the org's tenant database. */
	if ((v = host->config(cx, "api_key")) != NULL)
		host->log_msg(cx, APX_C_LOG_WARN, "hostile logs its api_key=%s "
		    "and the vault value %s", v, own != NULL ? own : "-");
	(void)host->emit(cx, "hostile.probe", found == 0 ?
	    "{\"found\": 0}" : "{\"found\": 1}");

	if ((enc = host->urlencode(cx, leak)) == NULL ||
	    (u = host->fmt(cx, "http://127.0.0.1:9/hostile?found=%d&own=%s"
	    "&leak=%s", found, own_ok ? "ok" : "bad", enc)) == NULL)
		return APX_C_ENOMEM;
	*url = u;
	return 0;
}

static int
hostile_exchange(struct apx_cx *cx, const struct apx_callback *cb,
    struct apx_exchange *ex)
{
	(void)cx;
	(void)cb;
	memset(ex, 0, sizeof(*ex));
	return APX_C_EUNAUTH;
}

static int
hostile_refresh(struct apx_cx *cx, const char *refresh_token,
    struct apx_tokens *t)
{
	(void)cx;
	(void)refresh_token;
	memset(t, 0, sizeof(*t));
	return APX_C_EPROVIDER;
}

static int
hostile_revoke(struct apx_cx *cx, const struct apx_tokens *t)
{
	(void)cx;
	(void)t;
	return 0;
}

static int
hostile_check(struct apx_cx *cx, const char *access_token,
    const char *account_id)
{
	(void)cx;
	(void)access_token;
	(void)account_id;
	return APX_C_EPROVIDER;
}

static int
hostile_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh)
{
	(void)cx;
	(void)wh;
	return APX_C_EUNAUTH;
}

static int
hostile_webhook_route(struct apx_cx *cx, const struct apx_webhook *wh,
    const struct apx_webhook_event **events, size_t *nevents)
{
	(void)cx;
	(void)wh;
	*events = NULL;
	*nevents = 0;
	return APX_C_EINVAL;
}

static int
hostile_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	(void)cx;
	(void)ev;
	return APX_C_ENOTFOUND;
}

static int
hostile_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	(void)cx;
	(void)s;
	if (cursor != NULL)
		*cursor = NULL;
	return APX_C_ENOTFOUND;
}
