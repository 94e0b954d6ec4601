/*
 * Intuit QuickBooks Online connector: OAuth 2.0 authorization code grant
 * (client credentials in HTTP Basic), the realm of the callback, and both
 * webhook payloads (the legacy eventNotifications object and the
 * CloudEvents array).
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

#define REALM_MAX	32	/* digits of a realmId */
#define EVENTS_MAX	1000	/* events of one delivery */
#define ENTITIES_MAX	100	/* entities of one legacy notification */
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

static int	 intuit_init(const struct apx_host *, struct apx_cx *);
static void	 intuit_fini(void);
static int	 intuit_authorize(struct apx_cx *, const struct apx_authorize *,
		    const char **);
static int	 intuit_exchange(struct apx_cx *, const struct apx_callback *,
		    struct apx_exchange *);
static int	 intuit_refresh(struct apx_cx *, const char *,
		    struct apx_tokens *);
static int	 intuit_revoke(struct apx_cx *, const struct apx_tokens *);
static int	 intuit_check(struct apx_cx *, const char *, const char *);
static int	 intuit_webhook_verify(struct apx_cx *,
		    const struct apx_webhook *);
static int	 intuit_webhook_route(struct apx_cx *,
		    const struct apx_webhook *,
		    const struct apx_webhook_event **, size_t *);
static int	 intuit_webhook_handle(struct apx_cx *,
		    const struct apx_webhook_event *);
static int	 intuit_sync(struct apx_cx *, const struct apx_sync *,
		    const char **);

static int	 lc(int);
static int	 ieq(const char *, const char *);
static int	 realm_ok(const char *);
static char	*url_trim(struct apx_cx *, const char *);
static int	 form_add(struct apx_cx *, char **, const char *, const char *);
static const char *param_get(const struct apx_param *, size_t, const char *);
static int	 parse_i64(const char *, int64_t *);
static const char *safe_text(struct apx_cx *, const char *);
static void	 log_answer(struct apx_cx *, const char *,
		    const struct apx_http_response *);
static int	 token_call(struct apx_cx *, const char *, struct apx_tokens *);
static const char *header_get(const struct apx_webhook *, const char *);
static char	*json_str(struct apx_cx *, const char *);
static const char *jget(struct jdoc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static char	*lower_dup(struct apx_cx *, const char *);
static int	 route_legacy(struct jdoc *, struct apx_webhook_event *,
		    size_t *);
static int	 route_cloudevents(struct jdoc *, struct apx_webhook_event *,
		    size_t *);

static const struct apx_connector_field fields[] = {
	{ "client_id", APX_FIELD_STRING, APX_FIELD_SERVER, 1, NULL,
	    "client id of the Intuit app", 0 },
	{ "client_secret", APX_FIELD_SECRET, APX_FIELD_SERVER, 1, NULL,
	    "client secret of the Intuit app", 0 },
	{ "authorize_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://appcenter.intuit.com/connect/oauth2",
	    "authorization endpoint", 0 },
	{ "token_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
	    "token endpoint", 0 },
	{ "revoke_url", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
	    "revocation endpoint", 0 },
	{ "api_base", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://quickbooks.api.intuit.com",
	    "QuickBooks Online API base URL", 0 },
	{ "webhook_verifier", APX_FIELD_SECRET, APX_FIELD_SERVER, 0, NULL,
	    "verifier token of the app's webhooks", 0 },
};

static const char *const scopes[] = { "com.intuit.quickbooks.accounting" };

static const struct apx_connector intuit = {
	.magic = APX_CONNECTOR_MAGIC,
	.abi_major = APX_CONNECTOR_ABI_MAJOR,
	.abi_minor = APX_CONNECTOR_ABI_MINOR,
	.size = sizeof(struct apx_connector),
	.name = "intuit",
	.version = "1.0.0",
	.display_name = "QuickBooks Online",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
	.scopes = scopes,
	.nscopes = sizeof(scopes) / sizeof(scopes[0]),
	.pkce = 0,
	.init = intuit_init,
	.fini = intuit_fini,
	.authorize = intuit_authorize,
	.exchange = intuit_exchange,
	.refresh = intuit_refresh,
	.revoke = intuit_revoke,
	.check = intuit_check,
	.webhook_verify = intuit_webhook_verify,
	.webhook_route = intuit_webhook_route,
	.webhook_handle = intuit_webhook_handle,
	.sync = intuit_sync,
};

const struct apx_connector *
apx_connector_entry(void)
{
	return &intuit;
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

/* 1 when S is a realmId: 1 to REALM_MAX decimal digits. */
static int
realm_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9' || i >= REALM_MAX)
			return 0;
	return 1;
}

/* A copy of URL without its trailing '/'. */
static char *
url_trim(struct apx_cx *cx, const char *url)
{
	char	*u;
	size_t	 n;

	if (url == NULL || *url == '\0' ||
	    (u = host->dup(cx, url, strlen(url))) == NULL)
		return NULL;
	if ((n = strlen(u)) > 0 && u[n - 1] == '/')
		u[n - 1] = '\0';
	return u;
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
	if ((v = host->json_get(cx, resp.body, resp.body_len,
	    "x_refresh_token_expires_in")) != NULL &&
	    parse_i64(v, &t->refresh_expires_in) != 0)
		goto bad;
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

static char *
lower_dup(struct apx_cx *cx, const char *s)
{
	char	*d;
	size_t	 i;

	if ((d = host->dup(cx, s, strlen(s))) == NULL)
		return NULL;
	for (i = 0; d[i] != '\0'; i++)
		d[i] = (char)lc((unsigned char)d[i]);
	return d;
}

/*
 * {"eventNotifications":[{"realmId":..,"dataChangeEvent":{"entities":
 * [{"name","id","operation","lastUpdated"},..]}},..]}: one event per
 * notification, its payload rebuilt from that notification alone (a
 * delivery may cover several realms, and one org must not see another's).
 */
static int
route_legacy(struct jdoc *doc, struct apx_webhook_event *evs, size_t *n)
{
	static const char *const keys[] = {
		"name", "id", "operation", "lastUpdated", "deletedId"
	};
	struct apx_webhook_event	*ev;
	struct apx_cx			*cx = doc->cx;
	const char			*realm, *v, *first_id, *first_upd;
	const char			*first_name, *first_op;
	char				*ents, *ent, *js;
	size_t				 i, j, k;

	for (i = 0; i < EVENTS_MAX; i++) {
		if ((realm = jget(doc, "eventNotifications.%zu.realmId", i)) ==
		    NULL)
			break;
		if (!realm_ok(realm))
			return APX_C_EINVAL;
		first_id = first_upd = first_name = first_op = NULL;
		ents = NULL;
		for (j = 0; j < ENTITIES_MAX; j++) {
			ent = NULL;
			for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				if ((v = jget(doc, "eventNotifications.%zu."
				    "dataChangeEvent.entities.%zu.%s", i, j,
				    keys[k])) == NULL)
					continue;
				if ((js = json_str(cx, v)) == NULL ||
				    (ent = host->fmt(cx, "%s%s\"%s\":%s",
				    ent != NULL ? ent : "",
				    ent != NULL ? "," : "", keys[k], js)) ==
				    NULL)
					return APX_C_ENOMEM;
				if (j != 0)
					continue;
				if (k == 0)
					first_name = v;
				else if (k == 1)
					first_id = v;
				else if (k == 2)
					first_op = v;
				else if (k == 3)
					first_upd = v;
			}
			if (ent == NULL)
				break;
			if ((ents = host->fmt(cx, "%s%s{%s}",
			    ents != NULL ? ents : "", ents != NULL ? "," : "",
			    ent)) == NULL)
				return APX_C_ENOMEM;
		}
		ev = &evs[*n];
		if ((ev->account_id = host->dup(cx, realm, REALM_MAX)) == NULL)
			return APX_C_ENOMEM;
		if (first_id != NULL)
			ev->event_id = host->fmt(cx, "%s:%s%s%s", realm,
			    first_id, first_upd != NULL ? ":" : "",
			    first_upd != NULL ? first_upd : "");
		else
			ev->event_id = host->fmt(cx, "%s:%zu", realm, i);
		if (first_name == NULL || first_op == NULL)
			ev->type = "dataChangeEvent";
		else if ((js = host->fmt(cx, "%s.%s", first_name,
		    first_op)) == NULL ||
		    (ev->type = lower_dup(cx, js)) == NULL)
			return APX_C_ENOMEM;
		if (ev->event_id == NULL ||
		    (js = json_str(cx, realm)) == NULL ||
		    (ev->payload = host->fmt(cx, "{\"realmId\":%s,"
		    "\"dataChangeEvent\":{\"entities\":[%s]}}", js,
		    ents != NULL ? ents : "")) == NULL)
			return APX_C_ENOMEM;
		(*n)++;
	}
	return 0;
}

/*
 * [{"specversion","id","source","type","time","intuitentityid",
 * "intuitaccountid",..},..]: one event per element, its payload the
 * element's string attributes.
 */
static int
route_cloudevents(struct jdoc *doc, struct apx_webhook_event *evs, size_t *n)
{
	static const char *const keys[] = {
		"specversion", "id", "source", "type", "datacontenttype",
		"time", "intuitentityid", "intuitaccountid"
	};
	struct apx_webhook_event	*ev;
	struct apx_cx			*cx = doc->cx;
	const char			*id, *type, *acct, *v;
	char				*obj, *js;
	size_t				 i, k;

	for (i = 0; i < EVENTS_MAX; i++) {
		id = jget(doc, "%zu.id", i);
		type = jget(doc, "%zu.type", i);
		acct = jget(doc, "%zu.intuitaccountid", i);
		if (id == NULL && type == NULL && acct == NULL)
			break;
		if (id == NULL || *id == '\0' || type == NULL ||
		    *type == '\0' || !realm_ok(acct))
			return APX_C_EINVAL;
		obj = NULL;
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if ((v = jget(doc, "%zu.%s", i, keys[k])) == NULL)
				continue;
			if ((js = json_str(cx, v)) == NULL ||
			    (obj = host->fmt(cx, "%s%s\"%s\":%s",
			    obj != NULL ? obj : "", obj != NULL ? "," : "",
			    keys[k], js)) == NULL)
				return APX_C_ENOMEM;
		}
		ev = &evs[*n];
		if ((ev->account_id = host->dup(cx, acct, REALM_MAX)) == NULL ||
		    (ev->event_id = host->dup(cx, id, 256)) == NULL ||
		    (ev->type = host->dup(cx, type, 128)) == NULL ||
		    (ev->payload = host->fmt(cx, "{%s}", obj != NULL ? obj :
		    "")) == NULL)
			return APX_C_ENOMEM;
		(*n)++;
	}
	return 0;
}

/* ---------------------------------------------------------- callbacks */

static int
intuit_init(const struct apx_host *h, struct apx_cx *cx)
{
	static const char *const required[] = {
		"client_id", "client_secret", "authorize_url", "token_url",
		"revoke_url", "api_base"
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
			    "%s: connectors.intuit.%s is not set", __func__,
			    required[i]);
			host = NULL;
			return -1;
		}
	}
	return 0;
}

static void
intuit_fini(void)
{
	host = NULL;
}

static int
intuit_authorize(struct apx_cx *cx, const struct apx_authorize *az,
    const char **url)
{
	const char	*base;
	char		*q = NULL, *u;
	int		 rc;

	*url = NULL;
	if ((base = host->config(cx, "authorize_url")) == NULL) {
		rc = APX_C_EINVAL;
		goto fail;
	}
	if ((rc = form_add(cx, &q, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (rc = form_add(cx, &q, "response_type", "code")) != 0 ||
	    (rc = form_add(cx, &q, "scope", az->scope != NULL ? az->scope :
	    scopes[0])) != 0 ||
	    (rc = form_add(cx, &q, "redirect_uri", az->redirect_uri)) != 0 ||
	    (rc = form_add(cx, &q, "state", az->state)) != 0)
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
intuit_exchange(struct apx_cx *cx, const struct apx_callback *cb,
    struct apx_exchange *ex)
{
	struct apx_account	*acct;
	const char		*code, *realm;
	char			*form = NULL;
	int			 rc;

	memset(ex, 0, sizeof(*ex));
	code = cb->code != NULL ? cb->code :
	    param_get(cb->params, cb->nparams, "code");
	realm = param_get(cb->params, cb->nparams, "realmId");
	if (code == NULL || *code == '\0' || !realm_ok(realm)) {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: callback lacks code or a valid realmId", __func__);
		rc = APX_C_EUNAUTH;
		goto fail;
	}
	if ((rc = form_add(cx, &form, "grant_type",
	    "authorization_code")) != 0 ||
	    (rc = form_add(cx, &form, "code", code)) != 0 ||
	    (rc = form_add(cx, &form, "redirect_uri", cb->redirect_uri)) != 0)
		goto fail;
	if ((rc = token_call(cx, form, &ex->tokens)) != 0)
		goto fail;
	if ((acct = host->alloc(cx, sizeof(*acct))) == NULL ||
	    (acct->id = host->dup(cx, realm, REALM_MAX)) == NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	acct->name = NULL;
	ex->accounts = acct;
	ex->naccounts = 1;
	return 0;
 fail:
	memset(ex, 0, sizeof(*ex));
	return rc;
}

static int
intuit_refresh(struct apx_cx *cx, const char *refresh_token,
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

static int
intuit_revoke(struct apx_cx *cx, const struct apx_tokens *t)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	const char			*tok;
	char				*js, *body;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	rc = APX_C_EINVAL;
	if (t == NULL)
		goto out;
	tok = (t->refresh_token != NULL && *t->refresh_token != '\0') ?
	    t->refresh_token : t->access_token;
	if (tok == NULL || *tok == '\0')
		goto out;
	rc = APX_C_ENOMEM;
	if ((js = json_str(cx, tok)) == NULL ||
	    (body = host->fmt(cx, "{\"token\":%s}", js)) == NULL)
		goto out;
	req.method = "POST";
	req.url = host->config(cx, "revoke_url");
	req.headers = &accept_json;
	req.nheaders = 1;
	req.body = body;
	req.body_len = strlen(body);
	req.content_type = "application/json";
	req.basic_user = host->config(cx, "client_id");
	req.basic_password = host->config(cx, "client_secret");
	rc = APX_C_EINVAL;
	if (req.url == NULL || req.basic_user == NULL ||
	    req.basic_password == NULL)
		goto out;
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
intuit_check(struct apx_cx *cx, const char *access_token,
    const char *account_id)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	char				*base, *url;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	rc = APX_C_EINVAL;
	if (access_token == NULL || *access_token == '\0' ||
	    !realm_ok(account_id) ||
	    (base = url_trim(cx, host->config(cx, "api_base"))) == NULL)
		goto out;
	if ((url = host->fmt(cx, "%s/v3/company/%s/companyinfo/%s", base,
	    account_id, account_id)) == NULL) {
		rc = APX_C_ENOMEM;
		goto out;
	}
	req.method = "GET";
	req.url = url;
	req.headers = &accept_json;
	req.nheaders = 1;
	req.bearer = access_token;
	if ((rc = host->http(cx, &req, &resp)) != 0)
		goto out;
	if (resp.status == 200)
		rc = 0;
	else {
		log_answer(cx, __func__, &resp);
		rc = resp.status == 401 ? APX_C_EGRANT : APX_C_EPROVIDER;
	}
 out:
	return rc;
}

static int
intuit_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh)
{
	unsigned char	 mac[32];
	const void	*body = wh->body != NULL ? (const void *)wh->body : "";
	const char	*key, *sig;
	char		*b64;

	if ((key = host->config(cx, "webhook_verifier")) == NULL ||
	    *key == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: connectors.intuit.webhook_verifier is not set",
		    __func__);
		return APX_C_EUNAUTH;
	}
	if ((sig = header_get(wh, "intuit-signature")) == NULL ||
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

static int
intuit_webhook_route(struct apx_cx *cx, const struct apx_webhook *wh,
    const struct apx_webhook_event **events, size_t *nevents)
{
	struct apx_webhook_event	*evs;
	struct jdoc			 doc;
	size_t				 i, n = 0;
	int				 rc;

	*events = NULL;
	*nevents = 0;
	doc.cx = cx;
	doc.text = wh->body != NULL ? (const char *)wh->body : "";
	doc.len = wh->len;
	doc.budget = JSON_BUDGET;
	doc.over = 0;
	for (i = 0; i < wh->len && (doc.text[i] == ' ' ||
	    doc.text[i] == '\t' || doc.text[i] == '\r' || doc.text[i] == '\n');
	    i++)
		;
	if (i == wh->len || (doc.text[i] != '{' && doc.text[i] != '[')) {
		rc = APX_C_EINVAL;
		goto fail;
	}
	if ((evs = host->alloc(cx, EVENTS_MAX * sizeof(*evs))) == NULL) {
		rc = APX_C_ENOMEM;
		goto fail;
	}
	if (doc.text[i] == '{')
		rc = route_legacy(&doc, evs, &n);
	else
		rc = route_cloudevents(&doc, evs, &n);
	if (rc == 0 && doc.over)
		rc = APX_C_ETOOBIG;
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
intuit_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	(void)cx;
	(void)ev;
	return APX_C_ENOTFOUND;
}

static int
intuit_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	(void)cx;
	(void)s;
	if (cursor != NULL)
		*cursor = NULL;
	return APX_C_ENOTFOUND;
}
