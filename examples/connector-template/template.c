/*
 * template: an AccuPredix connector for a generic OAuth 2.0 provider
 * (authorization code grant with PKCE S256, RFC 6749 and RFC 7636; token
 * revocation, RFC 7009). Copy this file, rename the connector and adapt
 * the marked places to your provider.
 *
 * The rules of the plugin ABI (include/accupredix/connector.h):
 *   - Export one symbol, apx_connector_entry; the version script
 *     template.map hides everything else.
 *   - Link no library: JSON, HMAC, base64, URL encoding and HTTP are
 *     services of the host (struct apx_host), handed to init.
 *   - Allocate with host->alloc, host->dup or host->fmt only; the host
 *     frees (and wipes) all of it when the request or job ends. Keep no
 *     pointer across calls, free nothing.
 *   - Return 0 or a negative APX_C_* code.
 *   - Never log a token or a response body: log the status and the
 *     provider's "error" code. Never put a secret into a URL, an account
 *     id or an event.
 *
 * Configuration (see README.md): the SERVER fields are set by the
 * operator as connectors.template.<field>; the ORG field "tenant" is set
 * by an org's admins.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <accupredix/connector.h>

/* The host's service table, valid from init to fini. */
static const struct apx_host *host;

/* Every request asks for JSON. */
static const struct apx_param accept_json = { "Accept", "application/json" };

static int	 tpl_init(const struct apx_host *, struct apx_cx *);
static void	 tpl_fini(void);
static int	 tpl_authorize(struct apx_cx *, const struct apx_authorize *,
		    const char **);
static int	 tpl_exchange(struct apx_cx *, const struct apx_callback *,
		    struct apx_exchange *);
static int	 tpl_refresh(struct apx_cx *, const char *,
		    struct apx_tokens *);
static int	 tpl_revoke(struct apx_cx *, const struct apx_tokens *);
static int	 tpl_check(struct apx_cx *, const char *, const char *);
static int	 tpl_webhook_verify(struct apx_cx *,
		    const struct apx_webhook *);
static int	 tpl_webhook_route(struct apx_cx *, const struct apx_webhook *,
		    const struct apx_webhook_event **, size_t *);
static int	 tpl_webhook_handle(struct apx_cx *,
		    const struct apx_webhook_event *);
static int	 tpl_sync(struct apx_cx *, const struct apx_sync *,
		    const char **);

static int	 form_add(struct apx_cx *, char **, const char *, const char *);
static int	 parse_i64(const char *, int64_t *);
static const char *safe_text(struct apx_cx *, const char *);
static int	 token_call(struct apx_cx *, const char *, struct apx_tokens *);

/*
 * The fields. host->config answers only for names declared here; a URL
 * field is also the only origin host->http will reach (https, or http on
 * a loopback address for tests). Change the defaults to your provider's.
 */
static const struct apx_connector_field fields[] = {
	{ "client_id", APX_FIELD_STRING, APX_FIELD_SERVER, 1, NULL,
	    "client id of the app registered at the provider", 0 },
	{ "client_secret", APX_FIELD_SECRET, APX_FIELD_SERVER, 1, NULL,
	    "client secret of that app", 0 },
	{ "authorize_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://auth.example.com/oauth2/authorize",
	    "authorization endpoint", 0 },
	{ "token_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://auth.example.com/oauth2/token",
	    "token endpoint", 0 },
	{ "revoke_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://auth.example.com/oauth2/revoke",
	    "revocation endpoint (RFC 7009)", 0 },
	{ "tenant", APX_FIELD_STRING, APX_FIELD_ORG, 1, NULL,
	    "your account or workspace name at the provider", 64 },
};

/* Asked for at connect; the host joins them with spaces. */
static const char *const scopes[] = { "offline_access", "read" };

static const struct apx_connector template_connector = {
	.magic = APX_CONNECTOR_MAGIC,
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.size = sizeof(struct apx_connector),
	.name = "template",		/* [a-z][a-z0-9_]{0,31}, unique */
	.version = "0.1.0",
	.display_name = "Template provider",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
	.scopes = scopes,
	.nscopes = sizeof(scopes) / sizeof(scopes[0]),
	.pkce = 1,			/* the host makes the verifier */
	.init = tpl_init,
	.fini = tpl_fini,
	.authorize = tpl_authorize,
	.exchange = tpl_exchange,
	.refresh = tpl_refresh,
	.revoke = tpl_revoke,
	.check = tpl_check,
	.webhook_verify = tpl_webhook_verify,
	.webhook_route = tpl_webhook_route,
	.webhook_handle = tpl_webhook_handle,
	.sync = tpl_sync,
};

/* The one exported symbol. */
const struct apx_connector *
apx_connector_entry(void)
{
	return &template_connector;
}

/* ------------------------------------------------------------ helpers */

/* Append NAME=VALUE, VALUE urlencoded, to a form body or query string. */
static int
form_add(struct apx_cx *cx, char **form, const char *name, const char *value)
{
	char	*enc;

	if (value == NULL)
		return APX_C_EINVAL;
	if ((enc = host->urlencode(cx, value)) == NULL)
		return APX_C_ENOMEM;
	if (*form == NULL)
		*form = host->fmt(cx, "%s=%s", name, enc);
	else
		*form = host->fmt(cx, "%s&%s=%s", *form, name, enc);
	return *form == NULL ? APX_C_ENOMEM : 0;
}

/* A non-negative decimal (json_get gives numbers as their text). */
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

/* An error code fit for a log line: short, nothing but [A-Za-z0-9_.-]. */
static const char *
safe_text(struct apx_cx *cx, const char *s)
{
	char	*d;
	size_t	 i;

	if (s == NULL || (d = host->dup(cx, s, 64)) == NULL)
		return "-";
	for (i = 0; d[i] != '\0'; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') ||
		    (d[i] >= 'A' && d[i] <= 'Z') ||
		    (d[i] >= '0' && d[i] <= '9') ||
		    d[i] == '_' || d[i] == '-' || d[i] == '.'))
			d[i] = '?';
	return d;
}

/*
 * POST FORM to the token endpoint, the client authenticated with HTTP
 * Basic (client_secret_basic), and read the token answer into T.
 * 400/401 with "invalid_grant" is APX_C_EGRANT: the user must connect
 * again, and the host stops retrying.
 */
static int
token_call(struct apx_cx *cx, const char *form, struct apx_tokens *t)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	const char			*err, *v;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(t, 0, sizeof(*t));
	req.method = "POST";
	req.url = host->config(cx, "token_url");
	req.headers = &accept_json;
	req.nheaders = 1;
	req.body = form;
	req.body_len = strlen(form);
	req.content_type = "application/x-www-form-urlencoded";
	req.basic_user = host->config(cx, "client_id");
	req.basic_password = host->config(cx, "client_secret");
	if (req.url == NULL || req.basic_user == NULL ||
	    req.basic_password == NULL) {
		rc = APX_C_EINVAL;
		goto fail;
	}
	/* A transport failure (APX_C_EIO) is passed on as it is. */
	if ((rc = host->http(cx, &req, &resp)) != 0)
		goto fail;
	if (resp.status != 200) {
		err = host->json_get(cx, resp.body, resp.body_len, "error");
		host->log_msg(cx, APX_C_LOG_WARN, "%s: HTTP %ld, error %s",
		    __func__, resp.status, safe_text(cx, err));
		rc = APX_C_EPROVIDER;
		if ((resp.status == 400 || resp.status == 401) &&
		    err != NULL && strcmp(err, "invalid_grant") == 0)
			rc = APX_C_EGRANT;
		goto fail;
	}
	rc = APX_C_EINVAL;
	t->access_token = host->json_get(cx, resp.body, resp.body_len,
	    "access_token");
	if (t->access_token == NULL || *t->access_token == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: no access_token",
		    __func__);
		goto fail;
	}
	/* Optional members; a provider that rotates refresh tokens sends a
	 * new one with every answer, and the host stores it before use. */
	t->refresh_token = host->json_get(cx, resp.body, resp.body_len,
	    "refresh_token");
	t->scope = host->json_get(cx, resp.body, resp.body_len, "scope");
	if ((v = host->json_get(cx, resp.body, resp.body_len,
	    "expires_in")) != NULL && parse_i64(v, &t->expires_in) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: malformed expires_in",
		    __func__);
		goto fail;
	}
	return 0;
 fail:
	memset(t, 0, sizeof(*t));
	return rc;
}

/* ---------------------------------------------------------- callbacks */

/*
 * Once per worker. Keep the host table and refuse to start (non-zero)
 * when the operator left a required field unset: better one log line at
 * start than a failure at every connect.
 */
static int
tpl_init(const struct apx_host *h, struct apx_cx *cx)
{
	static const char *const required[] = {
		"client_id", "client_secret", "authorize_url", "token_url",
		"revoke_url"
	};
	const char	*v;
	size_t		 i;

	/* A host of an older minor has a shorter table: use only what the
	 * minor this plugin was built for guarantees. */
	if (h == NULL || h->size < sizeof(*h))
		return -1;
	host = h;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if ((v = host->config(cx, required[i])) == NULL || *v == '\0') {
			host->log_msg(cx, APX_C_LOG_ERROR,
			    "%s: connectors.template.%s is not set", __func__,
			    required[i]);
			host = NULL;
			return -1;
		}
	}
	return 0;
}

static void
tpl_fini(void)
{
	host = NULL;
}

/*
 * The URL the browser is sent to. The host made the state (bound to the
 * browser, org and user) and the PKCE challenge; it checks the state at
 * the callback before calling exchange.
 */
static int
tpl_authorize(struct apx_cx *cx, const struct apx_authorize *az,
    const char **url)
{
	const char	*base;
	char		*q = NULL, *u;
	int		 rc;

	*url = NULL;
	if ((base = host->config(cx, "authorize_url")) == NULL)
		return APX_C_EINVAL;
	if ((rc = form_add(cx, &q, "response_type", "code")) != 0 ||
	    (rc = form_add(cx, &q, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (rc = form_add(cx, &q, "redirect_uri", az->redirect_uri)) != 0 ||
	    (rc = form_add(cx, &q, "scope", az->scope)) != 0 ||
	    (rc = form_add(cx, &q, "state", az->state)) != 0 ||
	    (rc = form_add(cx, &q, "code_challenge",
	    az->code_challenge)) != 0 ||
	    (rc = form_add(cx, &q, "code_challenge_method", "S256")) != 0)
		return rc;
	if ((u = host->fmt(cx, "%s%c%s", base,
	    strchr(base, '?') != NULL ? '&' : '?', q)) == NULL)
		return APX_C_ENOMEM;
	*url = u;
	return 0;
}

/*
 * The callback, its state already checked by the host: exchange the code
 * (with the PKCE verifier) and name the account(s) the grant reaches. A
 * provider with an accounts endpoint (Xero's /connections) is asked here;
 * this generic one reaches the account the org configured.
 */
static int
tpl_exchange(struct apx_cx *cx, const struct apx_callback *cb,
    struct apx_exchange *ex)
{
	struct apx_account	*acct;
	const char		*tenant;
	char			*form = NULL;
	int			 rc;

	memset(ex, 0, sizeof(*ex));
	if (cb->code == NULL || *cb->code == '\0') {
		/* An error answer (error=access_denied) has no code. */
		rc = APX_C_EUNAUTH;
		goto fail;
	}
	if ((tenant = host->config(cx, "tenant")) == NULL || *tenant == '\0' ||
	    cb->code_verifier == NULL) {
		rc = APX_C_EINVAL;
		goto fail;
	}
	if ((rc = form_add(cx, &form, "grant_type",
	    "authorization_code")) != 0 ||
	    (rc = form_add(cx, &form, "code", cb->code)) != 0 ||
	    (rc = form_add(cx, &form, "redirect_uri", cb->redirect_uri)) != 0 ||
	    (rc = form_add(cx, &form, "code_verifier",
	    cb->code_verifier)) != 0)
		goto fail;
	if ((rc = token_call(cx, form, &ex->tokens)) != 0)
		goto fail;
	if ((acct = host->alloc(cx, sizeof(*acct))) == NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	acct->id = tenant;
	acct->name = tenant;
	ex->accounts = acct;
	ex->naccounts = 1;
	return 0;
 fail:
	memset(ex, 0, sizeof(*ex));
	return rc;
}

/* Spend a refresh token for a new pair. */
static int
tpl_refresh(struct apx_cx *cx, const char *refresh_token,
    struct apx_tokens *t)
{
	char	*form = NULL;
	int	 rc;

	memset(t, 0, sizeof(*t));
	if (refresh_token == NULL || *refresh_token == '\0')
		return APX_C_EINVAL;
	if ((rc = form_add(cx, &form, "grant_type", "refresh_token")) != 0 ||
	    (rc = form_add(cx, &form, "refresh_token", refresh_token)) != 0)
		return rc;
	return token_call(cx, form, t);
}

/* Disconnect: revoke the grant at the provider (RFC 7009). */
static int
tpl_revoke(struct apx_cx *cx, const struct apx_tokens *t)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	const char			*tok, *hint;
	char				*form = NULL;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	if (t == NULL)
		return APX_C_EINVAL;
	/* Revoking the refresh token ends the whole grant. */
	if (t->refresh_token != NULL && *t->refresh_token != '\0') {
		tok = t->refresh_token;
		hint = "refresh_token";
	} else {
		tok = t->access_token;
		hint = "access_token";
	}
	if (tok == NULL || *tok == '\0')
		return APX_C_EINVAL;
	if ((rc = form_add(cx, &form, "token", tok)) != 0 ||
	    (rc = form_add(cx, &form, "token_type_hint", hint)) != 0)
		return rc;
	req.method = "POST";
	req.url = host->config(cx, "revoke_url");
	req.body = form;
	req.body_len = strlen(form);
	req.content_type = "application/x-www-form-urlencoded";
	req.basic_user = host->config(cx, "client_id");
	req.basic_password = host->config(cx, "client_secret");
	if (req.url == NULL || req.basic_user == NULL ||
	    req.basic_password == NULL)
		return APX_C_EINVAL;
	if ((rc = host->http(cx, &req, &resp)) != 0)
		return rc;
	/* RFC 7009: 200 also for a token that was already invalid. */
	if (resp.status != 200) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: HTTP %ld", __func__,
		    resp.status);
		return APX_C_EPROVIDER;
	}
	return 0;
}

/*
 * Does the grant still work for ACCOUNT_ID? A real connector makes one
 * cheap authenticated call here and maps 401 to APX_C_EGRANT, e.g. with
 * an "api_base" URL field:
 *
 *	req.method = "GET";
 *	req.url = host->fmt(cx, "%s/me", host->config(cx, "api_base"));
 *	req.bearer = access_token;
 *	rc = host->http(cx, &req, &resp);
 *	... 200: 0, 401: APX_C_EGRANT, else APX_C_EPROVIDER
 *
 * This generic provider has no such endpoint: the grant is taken to work
 * while it holds an access token for the account the org configured.
 */
static int
tpl_check(struct apx_cx *cx, const char *access_token, const char *account_id)
{
	const char	*tenant;

	if (access_token == NULL || *access_token == '\0')
		return APX_C_EGRANT;
	if ((tenant = host->config(cx, "tenant")) == NULL ||
	    account_id == NULL || strcmp(tenant, account_id) != 0)
		return APX_C_EPROVIDER;
	return 0;
}

/*
 * Webhooks and sync. A provider that signs its webhooks is verified with
 * host->hmac_sha256 over the raw body and host->ct_equal (see the Shopify,
 * Intuit and Xero connectors); this one sends none, so every delivery is
 * refused and there is nothing to sync.
 */
static int
tpl_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh)
{
	(void)cx;
	(void)wh;
	return APX_C_EUNAUTH;
}

static int
tpl_webhook_route(struct apx_cx *cx, const struct apx_webhook *wh,
    const struct apx_webhook_event **events, size_t *nevents)
{
	(void)cx;
	(void)wh;
	*events = NULL;
	*nevents = 0;
	return APX_C_ENOTFOUND;
}

static int
tpl_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	(void)cx;
	(void)ev;
	return APX_C_ENOTFOUND;
}

static int
tpl_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	(void)cx;
	(void)s;
	if (cursor != NULL)
		*cursor = NULL;
	return APX_C_ENOTFOUND;
}
