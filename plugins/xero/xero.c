/*
 * Xero connector: OAuth 2.0 authorization code grant with PKCE (client
 * credentials in HTTP Basic), the tenants of a grant from the connections
 * endpoint, and the webhook signature and events.
 *
 * Everything goes through the host's service table (connector.h): no
 * library but libc is linked, and every URL comes from a URL field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <accupredix/connector.h>

#define TENANTS_MAX	1000	/* connections of one grant */
#define TENANT_ID_MAX	64	/* a tenantId is a UUID */
#define EVENTS_MAX	1000	/* events of one delivery */
#define JSON_BUDGET	8192	/* json_get calls for one delivery */

/* A JSON text and how many more lookups it may cost. */
struct jdoc {
	struct apx_cx	*cx;
	const char	*text;
	size_t		 len;
	int		 budget;
	int		 over;		/* a lookup was refused */
};

static const struct apx_host *host;

/* Every request asks for JSON. */
static const struct apx_param accept_json = { "Accept", "application/json" };

static int	 xero_init(const struct apx_host *, struct apx_cx *);
static void	 xero_fini(void);
static int	 xero_authorize(struct apx_cx *, const struct apx_authorize *,
		    const char **);
static int	 xero_exchange(struct apx_cx *, const struct apx_callback *,
		    struct apx_exchange *);
static int	 xero_refresh(struct apx_cx *, const char *,
		    struct apx_tokens *);
static int	 xero_revoke(struct apx_cx *, const struct apx_tokens *);
static int	 xero_check(struct apx_cx *, const char *, const char *);
static int	 xero_webhook_verify(struct apx_cx *,
		    const struct apx_webhook *);
static int	 xero_webhook_route(struct apx_cx *,
		    const struct apx_webhook *,
		    const struct apx_webhook_event **, size_t *);
static int	 xero_webhook_handle(struct apx_cx *,
		    const struct apx_webhook_event *);
static int	 xero_sync(struct apx_cx *, const struct apx_sync *,
		    const char **);

static int	 lc(int);
static int	 ieq(const char *, const char *);
static int	 tenant_ok(const char *);
static int	 form_add(struct apx_cx *, char **, const char *, const char *);
static const char *param_get(const struct apx_param *, size_t, const char *);
static int	 parse_i64(const char *, int64_t *);
static const char *safe_text(struct apx_cx *, const char *);
static void	 log_answer(struct apx_cx *, const char *,
		    const struct apx_http_response *);
static int	 token_call(struct apx_cx *, const char *, struct apx_tokens *);
static int	 connections(struct apx_cx *, const char *, struct jdoc *);
static const char *header_get(const struct apx_webhook *, const char *);
static char	*json_str(struct apx_cx *, const char *);
static const char *jget(struct jdoc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static char	*event_id(struct apx_cx *, const char *const *, size_t);

static const struct apx_connector_field fields[] = {
	{ "client_id", APX_FIELD_STRING, APX_FIELD_SERVER, 1, NULL,
	    "client id of the Xero app", 0 },
	{ "client_secret", APX_FIELD_SECRET, APX_FIELD_SERVER, 1, NULL,
	    "client secret of the Xero app", 0 },
	{ "authorize_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://login.xero.com/identity/connect/authorize",
	    "authorization endpoint", 0 },
	{ "token_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://identity.xero.com/connect/token",
	    "token endpoint", 0 },
	{ "revoke_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://identity.xero.com/connect/revocation",
	    "revocation endpoint", 0 },
	{ "connections_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://api.xero.com/connections",
	    "the tenants a grant reaches", 0 },
	{ "webhook_key", APX_FIELD_SECRET, APX_FIELD_SERVER, 0, NULL,
	    "signing key of the app's webhooks", 0 },
};

static const char *const scopes[] = {
	"offline_access", "accounting.transactions.read",
	"accounting.settings.read"
};

static const struct apx_connector xero = {
	.magic = APX_CONNECTOR_MAGIC,
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.size = sizeof(struct apx_connector),
	.name = "xero",
	.version = "1.0.0",
	.display_name = "Xero",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
	.scopes = scopes,
	.nscopes = sizeof(scopes) / sizeof(scopes[0]),
	.pkce = 1,
	.init = xero_init,
	.fini = xero_fini,
	.authorize = xero_authorize,
	.exchange = xero_exchange,
	.refresh = xero_refresh,
	.revoke = xero_revoke,
	.check = xero_check,
	.webhook_verify = xero_webhook_verify,
	.webhook_route = xero_webhook_route,
	.webhook_handle = xero_webhook_handle,
	.sync = xero_sync,
};

const struct apx_connector *
apx_connector_entry(void)
{
	return &xero;
}

/* ------------------------------------------------------------ helpers */

static int
lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
ieq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lc((unsigned char)*a) != lc((unsigned char)*b))
			return 0;
	return *a == *b;
}

/* 1 when S looks like a tenantId: a UUID, hex digits and dashes. */
static int
tenant_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= TENANT_ID_MAX || !((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F') || s[i] == '-'))
			return 0;
	return 1;
}

/* Append NAME=VALUE (VALUE urlencoded) to the form or query *FORM. */
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

static const char *
param_get(const struct apx_param *p, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i].name != NULL && strcmp(p[i].name, name) == 0)
			return p[i].value != NULL ? p[i].value : "";
	return NULL;
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

/* At most 64 characters of a provider's error code, nothing odd in it. */
static const char *
safe_text(struct apx_cx *cx, const char *s)
{
	char	*d;
	size_t	 i;

	if (s == NULL)
		return "-";
	if ((d = host->dup(cx, s, 64)) == NULL)
		return "-";
	for (i = 0; d[i] != '\0'; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') ||
		    (d[i] >= 'A' && d[i] <= 'Z') ||
		    (d[i] >= '0' && d[i] <= '9') ||
		    d[i] == '_' || d[i] == '-' || d[i] == '.'))
			d[i] = '?';
	return d;
}

/* A failed answer: its status and "error" code, never its body. */
static void
log_answer(struct apx_cx *cx, const char *what,
    const struct apx_http_response *r)
{
	const char	*err = NULL;

	if (r->body != NULL)
		err = host->json_get(cx, r->body, r->body_len, "error");
	host->log_msg(cx, APX_C_LOG_WARN, "%s: HTTP %ld, error %s", what,
	    r->status, safe_text(cx, err));
}

/* POST FORM to token_url with the client in HTTP Basic; read the answer. */
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
	if ((rc = host->http(cx, &req, &resp)) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: token request: %d",
		    __func__, rc);
		goto fail;
	}
	if (resp.status != 200) {
		log_answer(cx, __func__, &resp);
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
	/* Xero states no refresh token life (60 days unused): unknown. */
	t->scope = host->json_get(cx, resp.body, resp.body_len, "scope");
	return 0;
 bad:
	host->log_msg(cx, APX_C_LOG_WARN, "%s: malformed expiry", __func__);
 fail:
	memset(t, 0, sizeof(*t));
	return rc;
}

static const char *
header_get(const struct apx_webhook *wh, const char *name)
{
	size_t	 i;

	for (i = 0; i < wh->nheaders; i++)
		if (wh->headers[i].name != NULL &&
		    ieq(wh->headers[i].name, name))
			return wh->headers[i].value;
	return NULL;
}

/* S as a JSON string, quotes included. */
static char *
json_str(struct apx_cx *cx, const char *s)
{
	static const char	 hexd[] = "0123456789abcdef";
	const unsigned char	*p;
	char			*d;
	size_t			 n = 3, o = 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		n += (*p == '"' || *p == '\\') ? 2 : (*p < 0x20 ? 6 : 1);
	if ((d = host->alloc(cx, n)) == NULL)
		return NULL;
	d[o++] = '"';
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			d[o++] = '\\';
			d[o++] = (char)*p;
		} else if (*p < 0x20) {
			memcpy(d + o, "\\u00", 4);
			d[o + 4] = hexd[*p >> 4];
			d[o + 5] = hexd[*p & 0x0f];
			o += 6;
		} else
			d[o++] = (char)*p;
	}
	d[o++] = '"';
	d[o] = '\0';
	return d;
}

/* The value at the printf-made PATH of the document, within its budget. */
static const char *
jget(struct jdoc *doc, const char *fmt, ...)
{
	char	 path[160];
	va_list	 ap;
	int	 n;

	if (doc->budget <= 0) {
		doc->over = 1;
		return NULL;
	}
	doc->budget--;
	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	return host->json_get(doc->cx, doc->text, doc->len, path);
}

/* GET the connections of ACCESS_TOKEN into DOC; its status into the rc. */
static int
connections(struct apx_cx *cx, const char *access_token, struct jdoc *doc)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(doc, 0, sizeof(*doc));
	req.method = "GET";
	req.url = host->config(cx, "connections_url");
	req.headers = &accept_json;
	req.nheaders = 1;
	req.bearer = access_token;
	if (req.url == NULL) {
		rc = APX_C_EINVAL;
		goto out;
	}
	if ((rc = host->http(cx, &req, &resp)) != 0)
		goto out;
	if (resp.status != 200) {
		log_answer(cx, __func__, &resp);
		rc = resp.status == 401 ? APX_C_EGRANT : APX_C_EPROVIDER;
		goto out;
	}
	doc->cx = cx;
	doc->text = resp.body != NULL ? resp.body : "";
	doc->len = resp.body != NULL ? resp.body_len : 0;
	doc->budget = JSON_BUDGET;
 out:
	return rc;
}

/*
 * Xero events carry no id: the lower-case hex HMAC-SHA256, keyed
 * "xero-event", of their identifying fields joined with '|'.
 */
static char *
event_id(struct apx_cx *cx, const char *const *v, size_t n)
{
	static const char	 hexd[] = "0123456789abcdef";
	static const char	 key[] = "xero-event";
	unsigned char		 mac[32];
	char			*msg = NULL, *hex;
	size_t			 i;

	for (i = 0; i < n; i++)
		if ((msg = host->fmt(cx, "%s%s%s", msg != NULL ? msg : "",
		    i > 0 ? "|" : "", v[i] != NULL ? v[i] : "")) == NULL)
			return NULL;
	if (msg == NULL || host->hmac_sha256(key, sizeof(key) - 1, msg,
	    strlen(msg), mac) != 0 ||
	    (hex = host->alloc(cx, 2 * sizeof(mac) + 1)) == NULL)
		return NULL;
	for (i = 0; i < sizeof(mac); i++) {
		hex[2 * i] = hexd[mac[i] >> 4];
		hex[2 * i + 1] = hexd[mac[i] & 0x0f];
	}
	hex[2 * sizeof(mac)] = '\0';
	return hex;
}

/* ---------------------------------------------------------- callbacks */

static int
xero_init(const struct apx_host *h, struct apx_cx *cx)
{
	static const char *const required[] = {
		"client_id", "client_secret", "authorize_url", "token_url",
		"revoke_url", "connections_url"
	};
	const char	*v;
	size_t		 i;

	if (h == NULL || h->size < sizeof(*h) ||
	    h->abi_major != APX_CONNECTOR_ABI_MAJOR)
		return -1;
	host = h;
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if ((v = host->config(cx, required[i])) == NULL || *v == '\0') {
			host->log_msg(cx, APX_C_LOG_ERROR,
			    "%s: connectors.xero.%s is not set", __func__,
			    required[i]);
			host = NULL;
			return -1;
		}
	}
	return 0;
}

static void
xero_fini(void)
{
	host = NULL;
}

static int
xero_authorize(struct apx_cx *cx, const struct apx_authorize *az,
    const char **url)
{
	const char	*base;
	char		*q = NULL, *scope = NULL, *u;
	size_t		 i;
	int		 rc;

	*url = NULL;
	if ((base = host->config(cx, "authorize_url")) == NULL ||
	    az->code_challenge == NULL) {
		rc = APX_C_EINVAL;
		goto fail;
	}
	if (az->scope == NULL) {
		for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
			if ((scope = host->fmt(cx, "%s%s%s",
			    scope != NULL ? scope : "",
			    scope != NULL ? " " : "", scopes[i])) == NULL) {
				rc = APX_C_ENOMEM;
				goto fail;
			}
	}
	if ((rc = form_add(cx, &q, "response_type", "code")) != 0 ||
	    (rc = form_add(cx, &q, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (rc = form_add(cx, &q, "redirect_uri", az->redirect_uri)) != 0 ||
	    (rc = form_add(cx, &q, "scope", az->scope != NULL ? az->scope :
	    scope)) != 0 ||
	    (rc = form_add(cx, &q, "state", az->state)) != 0 ||
	    (rc = form_add(cx, &q, "code_challenge",
	    az->code_challenge)) != 0 ||
	    (rc = form_add(cx, &q, "code_challenge_method", "S256")) != 0)
		goto fail;
	if ((u = host->fmt(cx, "%s%c%s", base,
	    strchr(base, '?') != NULL ? '&' : '?', q)) == NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	*url = u;
	return 0;
 fail:
	return rc;
}

static int
xero_exchange(struct apx_cx *cx, const struct apx_callback *cb,
    struct apx_exchange *ex)
{
	struct apx_account	*accts;
	struct jdoc		 doc;
	const char		*code, *id, *name;
	char			*form = NULL;
	size_t			 i, n = 0;
	int			 rc;

	memset(ex, 0, sizeof(*ex));
	code = cb->code != NULL ? cb->code :
	    param_get(cb->params, cb->nparams, "code");
	if (code == NULL || *code == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: callback lacks code",
		    __func__);
		rc = APX_C_EUNAUTH;
		goto fail;
	}
	if (cb->code_verifier == NULL) {
		host->log_msg(cx, APX_C_LOG_ERROR, "%s: no PKCE verifier",
		    __func__);
		rc = APX_C_EINVAL;
		goto fail;
	}
	if ((rc = form_add(cx, &form, "grant_type",
	    "authorization_code")) != 0 ||
	    (rc = form_add(cx, &form, "code", code)) != 0 ||
	    (rc = form_add(cx, &form, "redirect_uri", cb->redirect_uri)) != 0 ||
	    (rc = form_add(cx, &form, "code_verifier",
	    cb->code_verifier)) != 0)
		goto fail;
	if ((rc = token_call(cx, form, &ex->tokens)) != 0)
		goto fail;
	/* The grant reaches the tenants the user picked at Xero. */
	if ((rc = connections(cx, ex->tokens.access_token, &doc)) != 0) {
		if (rc == APX_C_EGRANT)
			rc = APX_C_EPROVIDER;
		goto fail;
	}
	if ((accts = host->alloc(cx, TENANTS_MAX * sizeof(*accts))) == NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	for (i = 0; i < TENANTS_MAX; i++) {
		if ((id = jget(&doc, "%zu.tenantId", i)) == NULL)
			break;
		if (!tenant_ok(id)) {
			host->log_msg(cx, APX_C_LOG_WARN,
			    "%s: connection %zu has a malformed tenantId",
			    __func__, i);
			continue;
		}
		name = jget(&doc, "%zu.tenantName", i);
		accts[n].id = id;
		accts[n].name = name != NULL ? host->dup(cx, name, 256) : NULL;
		n++;
	}
	if (n == 0) {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: the grant reaches no tenant", __func__);
		rc = APX_C_EPROVIDER;
		goto fail;
	}
	ex->accounts = accts;
	ex->naccounts = n;
	return 0;
 fail:
	memset(ex, 0, sizeof(*ex));
	return rc;
}

static int
xero_refresh(struct apx_cx *cx, const char *refresh_token,
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

/* Xero revokes a grant by its refresh token (RFC 7009). */
static int
xero_revoke(struct apx_cx *cx, const struct apx_tokens *t)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	char				*form = NULL;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	if (t == NULL || t->refresh_token == NULL ||
	    *t->refresh_token == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: no refresh token to revoke", __func__);
		rc = APX_C_EINVAL;
		goto out;
	}
	if ((rc = form_add(cx, &form, "token", t->refresh_token)) != 0)
		goto out;
	req.method = "POST";
	req.url = host->config(cx, "revoke_url");
	req.body = form;
	req.body_len = strlen(form);
	req.content_type = "application/x-www-form-urlencoded";
	req.basic_user = host->config(cx, "client_id");
	req.basic_password = host->config(cx, "client_secret");
	if (req.url == NULL || req.basic_user == NULL ||
	    req.basic_password == NULL) {
		rc = APX_C_EINVAL;
		goto out;
	}
	if ((rc = host->http(cx, &req, &resp)) != 0)
		goto out;
	if (resp.status != 200 && resp.status != 204) {
		log_answer(cx, __func__, &resp);
		rc = APX_C_EPROVIDER;
	}
 out:
	return rc;
}

static int
xero_check(struct apx_cx *cx, const char *access_token,
    const char *account_id)
{
	struct jdoc	 doc;
	const char	*id;
	size_t		 i;
	int		 rc;

	if (access_token == NULL || *access_token == '\0' ||
	    !tenant_ok(account_id)) {
		rc = APX_C_EINVAL;
		goto out;
	}
	if ((rc = connections(cx, access_token, &doc)) != 0)
		goto out;
	rc = APX_C_EPROVIDER;
	for (i = 0; i < TENANTS_MAX; i++) {
		if ((id = jget(&doc, "%zu.tenantId", i)) == NULL)
			break;
		if (ieq(id, account_id)) {
			rc = 0;
			break;
		}
	}
	if (rc != 0)
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: the grant no longer reaches the tenant", __func__);
 out:
	return rc;
}

static int
xero_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh)
{
	unsigned char	 mac[32];
	const void	*body = wh->body != NULL ? (const void *)wh->body : "";
	const char	*key, *sig;
	char		*b64;

	if ((key = host->config(cx, "webhook_key")) == NULL || *key == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: connectors.xero.webhook_key is not set", __func__);
		return APX_C_EUNAUTH;
	}
	if ((sig = header_get(wh, "x-xero-signature")) == NULL ||
	    *sig == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: no signature", __func__);
		return APX_C_EUNAUTH;
	}
	if (host->hmac_sha256(key, strlen(key), body, wh->len, mac) != 0 ||
	    (b64 = host->base64(cx, mac, sizeof(mac))) == NULL)
		return APX_C_ENOMEM;
	if (host->ct_equal(b64, strlen(b64), sig, strlen(sig)) != 1) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: signature is wrong",
		    __func__);
		return APX_C_EUNAUTH;
	}
	return 0;
}

/*
 * {"events":[{"tenantId","tenantType","resourceId","resourceUrl",
 * "eventCategory","eventType","eventDateUtc"},..],"firstEventSequence",
 * "lastEventSequence","entropy"}: one event per element, its payload
 * rebuilt from that element alone (a delivery may cover several tenants,
 * and one org must not see another's). No events: intent to receive.
 */
static int
xero_webhook_route(struct apx_cx *cx, const struct apx_webhook *wh,
    const struct apx_webhook_event **events, size_t *nevents)
{
	/* The first five identify an event (its id), in this order. */
	static const char *const keys[] = {
		"tenantId", "resourceId", "eventCategory", "eventType",
		"eventDateUtc", "tenantType", "resourceUrl"
	};
	struct apx_webhook_event	*evs, *ev;
	struct jdoc			 doc;
	const char			*v[sizeof(keys) / sizeof(keys[0])];
	char				*obj, *js;
	size_t				 i, k, n = 0, nv;
	int				 rc;

	*events = NULL;
	*nevents = 0;
	memset(&doc, 0, sizeof(doc));
	doc.cx = cx;
	doc.text = wh->body != NULL ? (const char *)wh->body : "";
	doc.len = wh->len;
	doc.budget = JSON_BUDGET;
	if ((evs = host->alloc(cx, EVENTS_MAX * sizeof(*evs))) == NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	for (i = 0; i < EVENTS_MAX; i++) {
		obj = NULL;
		for (k = nv = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if ((v[k] = jget(&doc, "events.%zu.%s", i,
			    keys[k])) == NULL)
				continue;
			nv++;
			rc = APX_C_ENOMEM;
			if ((js = json_str(cx, v[k])) == NULL ||
			    (obj = host->fmt(cx, "%s%s\"%s\":%s",
			    obj != NULL ? obj : "", obj != NULL ? "," : "",
			    keys[k], js)) == NULL)
				goto fail;
		}
		if (nv == 0)
			break;
		rc = APX_C_EINVAL;
		if (!tenant_ok(v[0]) || v[2] == NULL || v[3] == NULL)
			goto fail;
		ev = &evs[n];
		rc = APX_C_ENOMEM;
		if ((ev->account_id = host->dup(cx, v[0],
		    TENANT_ID_MAX)) == NULL ||
		    (ev->event_id = event_id(cx, v, 5)) == NULL ||
		    (ev->type = host->fmt(cx, "%s.%s", v[2], v[3])) == NULL ||
		    (ev->payload = host->fmt(cx, "{%s}", obj)) == NULL)
			goto fail;
		n++;
	}
	rc = doc.over ? APX_C_ETOOBIG : 0;
	if (rc != 0)
		goto fail;
	*events = evs;
	*nevents = n;
	return 0;
 fail:
	host->log_msg(cx, APX_C_LOG_WARN, "%s: delivery refused: %d",
	    __func__, rc);
	return rc;
}

/* Acting on events and syncing come with the data features. */
static int
xero_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	(void)cx;
	(void)ev;
	return APX_C_ENOTFOUND;
}

static int
xero_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	(void)cx;
	(void)s;
	if (cursor != NULL)
		*cursor = NULL;
	return APX_C_ENOTFOUND;
}
