/*
 * Xero connector: OAuth 2.0 authorization code grant with PKCE (client
 * credentials in HTTP Basic), the tenants of a grant from the connections
 * endpoint, the webhook signature and events, and the sync of sales
 * invoices (ACCREC) through the Accounting API, keyset-paginated on
 * UpdatedDateUTC.
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

#include "../common/kit.h"

#define TENANTS_MAX	1000	/* connections of one grant */
#define TENANT_ID_MAX	64	/* a tenantId is a UUID */
#define EVENTS_MAX	1000	/* events of one delivery */
#define JSON_BUDGET	8192	/* json_get calls for one delivery */
#define PAGE_SIZE	100	/* invoices of one page */
#define SKIP_MAX	100000000	/* records skipped at one instant */
#define RESTARTS_MAX	3	/* restarts of one instant's invoices */
#define TS_NONE		(-1)	/* no instant: no If-Modified-Since */
#define TS_MAX		INT64_C(253402300799)	/* 9999-12-31 23:59:59 */
#define TS_LEN		32	/* room for a formatted instant */


/*
 * Where a sync stands (the cursor, see cursor_get): the boundary T (whole
 * seconds: If-Modified-Since has no finer grain) with the K invoices
 * updated within T's second already seen (the K-th has InvoiceID LAST),
 * the restarts of T's invoices so far, and the newest UpdatedDateUTC seen
 * in the run (HW). Instants are seconds since the epoch, or TS_NONE.
 */
struct syncpos {
	int64_t		 t;
	int64_t		 k;
	char		 last[TENANT_ID_MAX + 1];	/* a UUID; "": none */
	int64_t		 restarts;
	int64_t		 hw;
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

static int	 tenant_ok(const char *);
static int	 parse_i64(const char *, int64_t *);
static int	 token_call(struct apx_cx *, const char *, struct apx_tokens *);
static int	 connections(struct apx_cx *, const char *, struct jdoc *);
static char	*event_id(struct apx_cx *, const char *const *, size_t);
static int	 ts_format(int64_t, char *, size_t);
static int	 msdate_parse(const char *, int64_t *, int64_t *);
static const char *invoice_day(struct apx_cx *, const struct apx_json *);
static int64_t	 invoice_key(struct apx_cx *, const struct apx_json *,
		    int64_t);
static int	 ts_field(const char *, int64_t *);
static int	 cursor_get(const char *, struct syncpos *);
static const char *cursor_put(struct apx_cx *, const struct syncpos *);
static int	 invoices_page(struct apx_cx *, const struct apx_sync *,
		    int64_t, int64_t, const struct apx_json **, size_t *);
static int	 record_sale(struct apx_cx *, const struct apx_json *);

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
	{ "webhook_key_previous", APX_FIELD_SECRET, APX_FIELD_SERVER, 0, NULL,
	    "previous webhook key during a rotation", 0 },
	{ "api_base", APX_FIELD_URL, APX_FIELD_SERVER, 0,
	    "https://api.xero.com", "Accounting API base URL", 0 },
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
	/* Xero states no refresh token life (60 days unused): unknown. */
	t->scope = host->json_get(cx, resp.body, resp.body_len, "scope");
	return 0;
 bad:
	host->log_msg(cx, APX_C_LOG_WARN, "%s: malformed expiry", __func__);
 fail:
	memset(t, 0, sizeof(*t));
	return rc;
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
		kit_log_answer(cx, __func__, &resp);
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

/* -------------------------------------------------------------- sync */




/* Instant T as RFC 3339 UTC, YYYY-MM-DDTHH:MM:SSZ. */
static int
ts_format(int64_t t, char *buf, size_t len)
{
	int	 y, m, d, n;

	if (t < 0 || t > TS_MAX)
		return APX_C_EINVAL;
	kit_civil_from_days(t / 86400, &y, &m, &d);
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
	    (int)(t % 86400 / 3600), (int)(t % 3600 / 60), (int)(t % 60));
	return (n < 0 || (size_t)n >= len) ? APX_C_EINVAL : 0;
}

/*
 * Xero's JSON date "/Date(1700000000123+0000)/", the offset optional:
 * *MS its milliseconds since the epoch (UTC, 0 to TS_MAX seconds), *OFF
 * the offset in seconds (+-HHMM), 0 when there is none.
 */
static int
msdate_parse(const char *s, int64_t *ms, int64_t *off)
{
	int64_t	 v = 0;
	size_t	 i, nd;
	int	 sign, k;

	*ms = *off = 0;
	if (s == NULL || strncmp(s, "/Date(", 6) != 0)
		return APX_C_EINVAL;
	for (i = 6, nd = 0; s[i] >= '0' && s[i] <= '9'; i++, nd++) {
		if (nd >= 15)			/* 10^15 ms: beyond TS_MAX */
			return APX_C_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (nd == 0 || v / 1000 > TS_MAX)
		return APX_C_EINVAL;
	if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		for (i++, k = 0; k < 4; i++, k++)
			if (s[i] < '0' || s[i] > '9')
				return APX_C_EINVAL;
		if ((s[i - 4] - '0') * 10 + (s[i - 3] - '0') > 23 ||
		    (s[i - 2] - '0') * 10 + (s[i - 1] - '0') > 59)
			return APX_C_EINVAL;
		*off = sign * (((s[i - 4] - '0') * 10 + (s[i - 3] - '0')) *
		    3600 + ((s[i - 2] - '0') * 10 + (s[i - 1] - '0')) * 60);
	}
	if (strcmp(s + i, ")/") != 0) {
		*off = 0;
		return APX_C_EINVAL;
	}
	*ms = v;
	return 0;
}

/*
 * The day an invoice counts for: DateString's YYYY-MM-DD (the org's
 * date), else Date's day (its milliseconds shifted by its offset). NULL
 * when neither is readable.
 */
static const char *
invoice_day(struct apx_cx *cx, const struct apx_json *inv)
{
	static const char	 shape[] = "dddd-dd-dd";
	const char		*ds;
	int64_t			 ms, off, t;
	int			 y, m, d;
	size_t			 i;

	if ((ds = host->json_text(cx, inv, "DateString")) != NULL) {
		for (i = 0; shape[i] != '\0'; i++)
			if (shape[i] == 'd' ? (ds[i] < '0' || ds[i] > '9') :
			    ds[i] != shape[i])
				break;
		if (shape[i] == '\0' && (ds[i] == '\0' || ds[i] == 'T'))
			return host->dup(cx, ds, 10);
	}
	if (msdate_parse(host->json_text(cx, inv, "Date"), &ms, &off) != 0 ||
	    (t = ms / 1000 + off) < 0 || t > TS_MAX)
		return NULL;
	kit_civil_from_days(t / 86400, &y, &m, &d);
	return host->fmt(cx, "%04d-%02d-%02d", y, m, d);
}



/*
 * The second INV counts at in the keyset: its UpdatedDateUTC's, or PREV
 * (its predecessor's) when that is unreadable or earlier. The answer is
 * sorted, so this keeps the count of invoices at the boundary right.
 */
static int64_t
invoice_key(struct apx_cx *cx, const struct apx_json *inv, int64_t prev)
{
	int64_t	 ms, off;

	if (msdate_parse(host->json_text(cx, inv, "UpdatedDateUTC"), &ms,
	    &off) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: invoice %s has no "
		    "readable UpdatedDateUTC", __func__,
		    kit_safe_text(cx, host->json_text(cx, inv, "InvoiceID")));
		return prev;
	}
	return ms / 1000 < prev ? prev : ms / 1000;
}


/* An instant of the cursor: "-" (none) or seconds since the epoch. */
static int
ts_field(const char *s, int64_t *t)
{
	if (strcmp(s, "-") == 0) {
		*t = TS_NONE;
		return 0;
	}
	if (parse_i64(s, t) != 0 || *t > TS_MAX) {
		*t = TS_NONE;
		return APX_C_EINVAL;
	}
	return 0;
}

/*
 * The sync cursor, printable ASCII, no secret:
 *
 *	v1;t=<T>;k=<K>;l=<L>;r=<R>;hw=<HW>
 *
 * T: the boundary, seconds since the epoch: the next page asks with
 * If-Modified-Since T (invoices updated at or after T); the first K
 * invoices of that set were seen already, the K-th has InvoiceID L.
 * Keyset paging: an invoice updated during the run moves behind the
 * boundary and is seen again. The next page starts AT position K (one
 * invoice of overlap: page (K-1)/100 + 1 without its first (K-1)%100)
 * and checks that it still holds L: if not, an invoice seen at T changed
 * and the others moved up, so T's invoices are fetched again from the
 * first (K=0) rather than one skipped; R counts those restarts (at most
 * RESTARTS_MAX for one T). HW: the newest UpdatedDateUTC seen in the run,
 * in seconds. T and HW are "-" for none (no If-Modified-Since; K then
 * counts from the first invoice); L is "-" when unknown (no check). A
 * finished run leaves t = hw = the run's HW, k=0: invoices of HW's
 * second are fetched again by the next run, which changes nothing.
 */
static int
cursor_get(const char *text, struct syncpos *pos)
{
	const char	*p;
	char		 buf[TS_LEN];

	memset(pos, 0, sizeof(*pos));
	if (text == NULL || strlen(text) > 1024 ||
	    strncmp(text, "v1;", 3) != 0)
		return APX_C_EINVAL;
	p = text + 3;
	if (kit_kv_take(&p, "t", buf, sizeof(buf)) != 0 ||
	    ts_field(buf, &pos->t) != 0 ||
	    kit_kv_take(&p, "k", buf, sizeof(buf)) != 0 ||
	    parse_i64(buf, &pos->k) != 0 || pos->k > SKIP_MAX ||
	    kit_kv_take(&p, "l", pos->last, sizeof(pos->last)) != 0 ||
	    (strcmp(pos->last, "-") != 0 && !tenant_ok(pos->last)) ||
	    kit_kv_take(&p, "r", buf, sizeof(buf)) != 0 ||
	    parse_i64(buf, &pos->restarts) != 0 ||
	    pos->restarts > RESTARTS_MAX ||
	    kit_kv_take(&p, "hw", buf, sizeof(buf)) != 0 ||
	    ts_field(buf, &pos->hw) != 0 || *p != '\0')
		return APX_C_EINVAL;
	if (strcmp(pos->last, "-") == 0)
		pos->last[0] = '\0';
	return 0;
}

static const char *
cursor_put(struct apx_cx *cx, const struct syncpos *pos)
{
	char	 t[TS_LEN] = "-", hw[TS_LEN] = "-";

	if (pos->t != TS_NONE)
		snprintf(t, sizeof(t), "%lld", (long long)pos->t);
	if (pos->hw != TS_NONE)
		snprintf(hw, sizeof(hw), "%lld", (long long)pos->hw);
	return host->fmt(cx, "v1;t=%s;k=%lld;l=%s;r=%lld;hw=%s", t,
	    (long long)pos->k, pos->last[0] != '\0' ? pos->last : "-",
	    (long long)pos->restarts, hw);
}

/*
 * GET page PAGE of the invoices updated at or after T (TS_NONE: all):
 * *RECS the array of its invoices, *N their number (at most PAGE_SIZE).
 */
static int
invoices_page(struct apx_cx *cx, const struct apx_sync *s, int64_t t,
    int64_t page, const struct apx_json **recs, size_t *n)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	struct apx_param		 hdr[3];
	const struct apx_json		*root, *arr;
	char				 ims[TS_LEN];
	char				*base, *url;
	int				 rc;

	*recs = NULL;
	*n = 0;
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	if ((base = kit_url_trim(cx, host->config(cx, "api_base"))) == NULL)
		return APX_C_EINVAL;
	if ((url = host->fmt(cx, "%s/api.xro/2.0/Invoices?page=%lld"
	    "&pageSize=%d&where=Type%%3D%%3D%%22ACCREC%%22"
	    "&order=UpdatedDateUTC%%20ASC", base, (long long)page,
	    PAGE_SIZE)) == NULL)
		return APX_C_ENOMEM;
	hdr[0] = accept_json;
	hdr[1].name = "xero-tenant-id";
	hdr[1].value = s->account_id;
	req.nheaders = 2;
	if (t != TS_NONE) {
		if (ts_format(t, ims, sizeof(ims)) != 0)
			return APX_C_EINVAL;
		hdr[2].name = "If-Modified-Since";
		hdr[2].value = ims;
		req.nheaders = 3;
	}
	req.method = "GET";
	req.url = url;
	req.headers = hdr;
	req.bearer = s->access_token;
	if ((rc = host->http(cx, &req, &resp)) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: Invoices: %d", __func__,
		    rc);
		return rc;
	}
	if (resp.status == 401) {
		host->log_msg(cx, APX_C_LOG_INFO, "%s: HTTP 401: access token "
		    "refused", __func__);
		return APX_C_EEXPIRED;
	}
	if (resp.status == 403) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: HTTP 403: the tenant "
		    "is not reachable with this grant", __func__);
		return APX_C_EPROVIDER;
	}
	if (resp.status != 200) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: Invoices: HTTP %ld",
		    __func__, resp.status);
		return APX_C_EPROVIDER;
	}
	if (resp.body == NULL || (root = host->json_parse(cx, resp.body,
	    resp.body_len)) == NULL ||
	    (arr = host->json_at(root, "Invoices")) == NULL ||
	    host->json_text(cx, arr, "") != NULL ||
	    host->json_size(arr) > PAGE_SIZE) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: Invoices: malformed "
		    "answer", __func__);
		return APX_C_EINVAL;
	}
	*recs = arr;
	*n = host->json_size(arr);
	return 0;
}

/*
 * An invoice as a sales record: 0 when recorded or skipped (not a sales
 * invoice, malformed, or refused by the host: logged by id), another code
 * when the host cannot take records at all.
 */
static int
record_sale(struct apx_cx *cx, const struct apx_json *inv)
{
	struct apx_sale	 sale;
	const char	*type, *amount, *status;
	int		 rc;

	memset(&sale, 0, sizeof(sale));
	sale.kind = "invoice";
	sale.id = host->json_text(cx, inv, "InvoiceID");
	if ((type = host->json_text(cx, inv, "Type")) != NULL &&
	    strcmp(type, "ACCREC") != 0)
		return 0;			/* a bill, not a sale */
	sale.date = invoice_day(cx, inv);
	if ((amount = host->json_text(cx, inv, "Total")) != NULL)
		sale.amount = kit_amount_text(cx, amount);
	sale.currency = host->json_text(cx, inv, "CurrencyCode");
	if (!kit_currency_ok(sale.currency))
		sale.currency = NULL;
	status = host->json_text(cx, inv, "Status");
	sale.voided = status != NULL && (strcmp(status, "VOIDED") == 0 ||
	    strcmp(status, "DELETED") == 0);
	if (sale.id == NULL || sale.date == NULL || sale.amount == NULL) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: invoice %s lacks an id, "
		    "a date or an amount; skipped", __func__,
		    kit_safe_text(cx, sale.id));
		return 0;
	}
	if ((rc = host->sale(cx, &sale)) == APX_C_EINVAL) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: invoice %s refused by "
		    "the host; skipped", __func__, kit_safe_text(cx, sale.id));
		return 0;
	}
	return rc;
}

/* ---------------------------------------------------------- callbacks */

static int
xero_init(const struct apx_host *h, struct apx_cx *cx)
{
	static const char *const required[] = {
		"client_id", "client_secret", "authorize_url", "token_url",
		"revoke_url", "connections_url", "api_base"
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
	if ((rc = kit_form_add(cx, &q, "response_type", "code")) != 0 ||
	    (rc = kit_form_add(cx, &q, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (rc = kit_form_add(cx, &q, "redirect_uri", az->redirect_uri)) != 0 ||
	    (rc = kit_form_add(cx, &q, "scope", az->scope != NULL ? az->scope :
	    scope)) != 0 ||
	    (rc = kit_form_add(cx, &q, "state", az->state)) != 0 ||
	    (rc = kit_form_add(cx, &q, "code_challenge",
	    az->code_challenge)) != 0 ||
	    (rc = kit_form_add(cx, &q, "code_challenge_method", "S256")) != 0)
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
	    kit_param_get(cb->params, cb->nparams, "code");
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
	if ((rc = kit_form_add(cx, &form, "grant_type",
	    "authorization_code")) != 0 ||
	    (rc = kit_form_add(cx, &form, "code", code)) != 0 ||
	    (rc = kit_form_add(cx, &form, "redirect_uri", cb->redirect_uri)) != 0 ||
	    (rc = kit_form_add(cx, &form, "code_verifier",
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
		if ((id = kit_jget(&doc, "%zu.tenantId", i)) == NULL)
			break;
		if (!tenant_ok(id)) {
			host->log_msg(cx, APX_C_LOG_WARN,
			    "%s: connection %zu has a malformed tenantId",
			    __func__, i);
			continue;
		}
		name = kit_jget(&doc, "%zu.tenantName", i);
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
	if ((rc = kit_form_add(cx, &form, "grant_type", "refresh_token")) != 0 ||
	    (rc = kit_form_add(cx, &form, "refresh_token", refresh_token)) != 0)
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
	if ((rc = kit_form_add(cx, &form, "token", t->refresh_token)) != 0)
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
		kit_log_answer(cx, __func__, &resp);
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
		if ((id = kit_jget(&doc, "%zu.tenantId", i)) == NULL)
			break;
		if (kit_ieq(id, account_id)) {
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
	return kit_webhook_verify(cx, wh, "x-xero-signature", "webhook_key", "webhook_key_previous");
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
			if ((v[k] = kit_jget(&doc, "events.%zu.%s", i,
			    keys[k])) == NULL)
				continue;
			nv++;
			rc = APX_C_ENOMEM;
			if ((js = kit_json_str(cx, v[k])) == NULL ||
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
		    (ev->type = host->fmt(cx, "%.64s.%.63s", v[2], v[3])) ==
		    NULL ||
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

/*
 * An invoice changed (the event type is "<eventCategory>.<eventType>",
 * see xero_webhook_route): the sync of the connection fetches what
 * changed since its cursor.
 */
static int
xero_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	(void)cx;
	if (ev == NULL || ev->type == NULL)
		return APX_C_ENOTFOUND;
	return kit_iprefix(ev->type, "INVOICE.") ? APX_C_MORE : APX_C_ENOTFOUND;
}

/*
 * One page of sales invoices (cursor_get tells the cursor's form). After
 * a page: L is the second of its last invoice's UpdatedDateUTC; L == T
 * makes K the position of that invoice, else T becomes L and K the
 * invoices of the page in L's second. A short page ends the run with the
 * next run's cursor at HW.
 */
static int
xero_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	const struct apx_json	*recs, *rec, *lastrec = NULL;
	const char		*id;
	char			 path[24];
	struct syncpos		 pos;
	size_t			 i, n, first, run = 0;
	int64_t			 from, page, key, prev, last = TS_NONE;
	int			 rc, restart = 0;

	if (cursor == NULL)
		return APX_C_EINVAL;
	*cursor = NULL;
	if (host->abi_minor < 1 || s == NULL || !tenant_ok(s->account_id) ||
	    s->access_token == NULL || *s->access_token == '\0') {
		rc = APX_C_EINVAL;
		goto fail;
	}
	if (s->cursor == NULL || cursor_get(s->cursor, &pos) != 0) {
		if (s->cursor != NULL)
			host->log_msg(cx, APX_C_LOG_WARN, "%s: unreadable "
			    "cursor; starting again", __func__);
		memset(&pos, 0, sizeof(pos));
		pos.t = (s->since > 0 && s->since <= TS_MAX) ? s->since :
		    TS_NONE;
		pos.hw = TS_NONE;
	}
	/* From the last invoice seen (checked below), or after K. */
	from = (pos.k > 0 && pos.last[0] != '\0') ? pos.k : pos.k + 1;
	page = (from - 1) / PAGE_SIZE + 1;
	first = (size_t)((from - 1) % PAGE_SIZE);
	if ((rc = invoices_page(cx, s, pos.t, page, &recs, &n)) != 0)
		goto fail;
	if (from == pos.k) {
		snprintf(path, sizeof(path), "%zu", first);
		rec = n > first ? host->json_at(recs, path) : NULL;
		if (rec != NULL && (id = host->json_text(cx, rec,
		    "InvoiceID")) != NULL && kit_ieq(id, pos.last) &&
		    invoice_key(cx, rec, pos.t) == pos.t)
			first++;
		else if (pos.restarts < RESTARTS_MAX)
			restart = 1;
		else
			host->log_msg(cx, APX_C_LOG_WARN, "%s: the invoices at "
			    "the boundary keep moving; going on", __func__);
	}
	/* The invoice checked ended its page: the new ones are on the next. */
	if (!restart && first == n && n == PAGE_SIZE) {
		page++;
		first = 0;
		if ((rc = invoices_page(cx, s, pos.t, page, &recs, &n)) != 0)
			goto fail;
	}
	prev = pos.t;
	for (i = first; i < n; i++) {
		snprintf(path, sizeof(path), "%zu", i);
		if ((rec = host->json_at(recs, path)) == NULL) {
			rc = APX_C_EINVAL;
			goto fail;
		}
		lastrec = rec;
		key = prev = invoice_key(cx, rec, prev);
		if (i > first && key == last)
			run++;
		else {
			last = key;
			run = 1;
		}
		if (key > pos.hw)
			pos.hw = key;
		if ((rc = record_sale(cx, rec)) != 0)
			goto fail;
	}
	host->log_msg(cx, APX_C_LOG_DEBUG, "%s: page %lld: %zu invoices, %zu "
	    "new", __func__, (long long)page, n, n > first ? n - first : 0);
	rc = APX_C_MORE;
	if (restart) {
		/* An invoice seen at T changed: T's invoices again, from the
		 * first (what this page held is recorded all the same). */
		host->log_msg(cx, APX_C_LOG_INFO, "%s: the invoices at the "
		    "boundary moved; fetching them again", __func__);
		pos.k = 0;
		pos.last[0] = '\0';
		pos.restarts++;
	} else if (lastrec != NULL) {
		if (last == pos.t)
			pos.k = (page - 1) * PAGE_SIZE + (int64_t)n;
		else {
			pos.t = last;
			pos.k = (int64_t)run;
			pos.restarts = 0;
		}
		id = host->json_text(cx, lastrec, "InvoiceID");
		if (tenant_ok(id))
			memcpy(pos.last, id, strlen(id) + 1);
		else
			pos.last[0] = '\0';
		if (pos.k > SKIP_MAX) {
			host->log_msg(cx, APX_C_LOG_WARN, "%s: over %d "
			    "invoices at one instant", __func__, SKIP_MAX);
			rc = APX_C_ETOOBIG;
			goto fail;
		}
	}
	if (!restart && n < PAGE_SIZE) {
		/* Done: the next run starts from the newest change. */
		if (pos.hw < pos.t)
			pos.hw = pos.t;
		pos.t = pos.hw;
		pos.k = 0;
		pos.last[0] = '\0';
		pos.restarts = 0;
		rc = 0;
	}
	if ((*cursor = cursor_put(cx, &pos)) == NULL)
		return APX_C_ENOMEM;
	return rc;
 fail:
	if (rc != APX_C_EEXPIRED)
		host->log_msg(cx, APX_C_LOG_WARN, "%s: page not synced: %d",
		    __func__, rc);
	return rc;
}
