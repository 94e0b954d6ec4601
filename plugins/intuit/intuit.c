/*
 * Intuit QuickBooks Online connector: OAuth 2.0 authorization code grant
 * (client credentials in HTTP Basic), the realm of the callback, both
 * webhook payloads (the legacy eventNotifications object and the
 * CloudEvents array), and the sync of Invoices and SalesReceipts through
 * the query API, keyset-paginated on MetaData.LastUpdatedTime.
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

#define REALM_MAX	32	/* digits of a realmId */
#define TYPE_MAX	128	/* bytes of an event type */
#define EVENTS_MAX	1000	/* events of one delivery */
#define ENTITIES_MAX	100	/* entities of one legacy notification */
#define JSON_BUDGET	8192	/* json_get calls for one delivery */
#define PAGE_SIZE	200	/* MAXRESULTS of one query page */
#define SKIP_MAX	100000000	/* records skipped at one instant */
#define RESTARTS_MAX	3	/* restarts of one instant's records */
#define ID_MAX		64	/* an entity Id kept in the cursor */
#define CLOCK_MARGIN	300	/* seconds: the API's servers' clocks */
#define TS_NONE		(-1)	/* no instant: a query without WHERE */
#define TS_MAX		INT64_C(253402300799)	/* 9999-12-31 23:59:59 */
#define TS_LEN		32	/* room for a formatted instant */


/*
 * Where a sync stands (the cursor, see cursor_get): the entity being
 * fetched, the instant the run started from, the page boundary T with
 * the K records at exactly T already seen (the K-th has Id LAST), the
 * restarts of T's records so far, the newest LastUpdatedTime seen of
 * the entity (HW), and where the next run starts so that the entities
 * done are covered (NEXT). Instants are seconds since the epoch, or
 * TS_NONE.
 */
struct syncpos {
	size_t		 entity;	/* index into entities[] */
	int64_t		 start;
	int64_t		 t;
	int64_t		 k;
	char		 last[ID_MAX + 1];	/* "": unknown */
	int64_t		 restarts;
	int64_t		 hw;
	int64_t		 next;
};

/* What the sync fetches, in this order. */
static const struct {
	const char	*tag;		/* in the cursor */
	const char	*name;		/* in the query and its answer */
	const char	*kind;		/* of the sales record */
} entities[] = {
	{ "inv", "Invoice", "invoice" },
	{ "sr", "SalesReceipt", "sales_receipt" },
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

static int	 realm_ok(const char *);
static int	 parse_i64(const char *, int64_t *);
static int	 token_call(struct apx_cx *, const char *, struct apx_tokens *);
static char	*lower_dup(struct apx_cx *, const char *);
static char	*digest_id(struct apx_cx *, const char *, const char *);
static int	 route_legacy(struct jdoc *, struct apx_webhook_event *,
		    size_t *);
static int	 route_cloudevents(struct jdoc *, struct apx_webhook_event *,
		    size_t *);
static int	 sales_type(const char *);
static int	 days_in_month(int, int);
static int64_t	 days_from_civil(int64_t, int, int);
static int	 num2(const char *, int *);
static int	 ts_parse(const char *, int64_t *);
static int	 ts_format(int64_t, const char *, char *, size_t);
static int	 id_ok(const char *);
static int64_t	 record_key(struct apx_cx *, const struct apx_json *,
		    int64_t);
static int	 ts_field(const char *, int64_t *);
static int	 cursor_get(const char *, struct syncpos *);
static const char *cursor_put(struct apx_cx *, const struct syncpos *);
static int	 query_page(struct apx_cx *, const struct apx_sync *,
		    const struct syncpos *, int64_t, const struct apx_json **,
		    size_t *, int64_t *);
static int	 record_sale(struct apx_cx *, const struct apx_json *,
		    const char *);

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
	{ "webhook_verifier_previous", APX_FIELD_SECRET, APX_FIELD_SERVER, 0, NULL,
	    "previous verifier token during a rotation", 0 },
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




static char *
lower_dup(struct apx_cx *cx, const char *s)
{
	char	*d;
	size_t	 i;

	if ((d = host->dup(cx, s, strlen(s))) == NULL)
		return NULL;
	for (i = 0; d[i] != '\0'; i++)
		d[i] = (char)kit_lc((unsigned char)d[i]);
	return d;
}

/* PREFIX ":" and the hex HMAC-SHA256 of TEXT under a fixed key. */
static char *
digest_id(struct apx_cx *cx, const char *prefix, const char *text)
{
	static const char	 hexd[] = "0123456789abcdef";
	static const char	 key[] = "intuit-event";
	unsigned char		 mac[32];
	char			 hex[2 * sizeof(mac) + 1];
	size_t			 i;

	if (host->hmac_sha256(key, sizeof(key) - 1, text, strlen(text),
	    mac) != 0)
		return NULL;
	for (i = 0; i < sizeof(mac); i++) {
		hex[2 * i] = hexd[mac[i] >> 4];
		hex[2 * i + 1] = hexd[mac[i] & 0x0f];
	}
	hex[2 * sizeof(mac)] = '\0';
	return host->fmt(cx, "%s:%s", prefix, hex);
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
	const char			*realm, *v, *first_name, *first_op;
	char				*ents, *ent, *js;
	size_t				 i, j, k;

	for (i = 0; i < EVENTS_MAX; i++) {
		if ((realm = kit_jget(doc, "eventNotifications.%zu.realmId", i)) ==
		    NULL)
			break;
		if (!realm_ok(realm))
			return APX_C_EINVAL;
		first_name = first_op = NULL;
		ents = NULL;
		for (j = 0; j < ENTITIES_MAX; j++) {
			ent = NULL;
			for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				if ((v = kit_jget(doc, "eventNotifications.%zu."
				    "dataChangeEvent.entities.%zu.%s", i, j,
				    keys[k])) == NULL)
					continue;
				if ((js = kit_json_str(cx, v)) == NULL ||
				    (ent = host->fmt(cx, "%s%s\"%s\":%s",
				    ent != NULL ? ent : "",
				    ent != NULL ? "," : "", keys[k], js)) ==
				    NULL)
					return APX_C_ENOMEM;
				if (j != 0)
					continue;
				if (k == 0)
					first_name = v;
				else if (k == 2)
					first_op = v;
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
		if (first_name == NULL || first_op == NULL)
			ev->type = "dataChangeEvent";
		else if ((js = host->fmt(cx, "%s.%s", first_name,
		    first_op)) == NULL ||
		    (ev->type = lower_dup(cx, js)) == NULL)
			return APX_C_ENOMEM;
		if (strlen(ev->type) > TYPE_MAX)
			((char *)(uintptr_t)ev->type)[TYPE_MAX] = '\0';
		if ((js = kit_json_str(cx, realm)) == NULL ||
		    (ev->payload = host->fmt(cx, "{\"realmId\":%s,"
		    "\"dataChangeEvent\":{\"entities\":[%s]}}", js,
		    ents != NULL ? ents : "")) == NULL)
			return APX_C_ENOMEM;
		/* A legacy notification has no id: the realm and a digest of
		 * what it says (a redelivery says the same), of fixed size. */
		if ((ev->event_id = digest_id(cx, realm, ev->payload)) == NULL)
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
		id = kit_jget(doc, "%zu.id", i);
		type = kit_jget(doc, "%zu.type", i);
		acct = kit_jget(doc, "%zu.intuitaccountid", i);
		if (id == NULL && type == NULL && acct == NULL)
			break;
		if (id == NULL || *id == '\0' || type == NULL ||
		    *type == '\0' || !realm_ok(acct))
			return APX_C_EINVAL;
		obj = NULL;
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if ((v = kit_jget(doc, "%zu.%s", i, keys[k])) == NULL)
				continue;
			if ((js = kit_json_str(cx, v)) == NULL ||
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

/* -------------------------------------------------------------- sync */


/*
 * 1 when an event TYPE is about an Invoice or a SalesReceipt: the legacy
 * "<entity>.<operation>" (lower-cased by route_legacy) or the CloudEvents
 * "qbo.<entity>.<operation>.v1".
 */
static int
sales_type(const char *type)
{
	static const char *const prefixes[] = {
		"invoice.", "salesreceipt.", "qbo.invoice.", "qbo.salesreceipt."
	};
	size_t	 i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (kit_iprefix(type, prefixes[i]))
			return 1;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int	 mdays[] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* Days from 1970-01-01 to Y-M-D (proleptic Gregorian, Y >= 0). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	 era, yoe, doy, doe;

	y -= m <= 2;
	era = y / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}


/* Two decimal digits at S (0 when they are not). */
static int
num2(const char *s, int *v)
{
	*v = 0;
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return APX_C_EINVAL;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

/*
 * An instant as QuickBooks writes it, YYYY-MM-DDTHH:MM:SS, an optional
 * fraction (dropped: a second holds it), then Z or an offset +-HH:MM, as
 * seconds since the epoch, UTC. Years 1970 to 9999.
 */
static int
ts_parse(const char *s, int64_t *t)
{
	static const char	 shape[] = "dddd-dd-ddTdd:dd:dd";
	int			 cy, y, mo, d, h, mi, sec, oh = 0, om = 0;
	int			 sign = 0;
	size_t			 i, f;

	*t = TS_NONE;
	if (s == NULL)
		return APX_C_EINVAL;
	/* The shape first: no character is read past a NUL. */
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') :
		    s[i] != shape[i])
			return APX_C_EINVAL;
	if (s[i] == '.') {
		for (i++, f = 0; s[i] >= '0' && s[i] <= '9'; i++)
			f++;
		if (f == 0 || f > 9)
			return APX_C_EINVAL;
	}
	if (s[i] == 'Z')
		i++;
	else if (s[i] == '+' || s[i] == '-') {
		sign = s[i] == '+' ? 1 : -1;
		if (num2(s + i + 1, &oh) != 0 || s[i + 3] != ':' ||
		    num2(s + i + 4, &om) != 0)
			return APX_C_EINVAL;
		i += 6;
	} else
		return APX_C_EINVAL;
	if (s[i] != '\0')
		return APX_C_EINVAL;
	if (num2(s, &cy) != 0 || num2(s + 2, &y) != 0 ||
	    num2(s + 5, &mo) != 0 || num2(s + 8, &d) != 0 ||
	    num2(s + 11, &h) != 0 || num2(s + 14, &mi) != 0 ||
	    num2(s + 17, &sec) != 0)
		return APX_C_EINVAL;
	y += cy * 100;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return APX_C_EINVAL;
	*t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	if (*t < 0 || *t > TS_MAX) {
		*t = TS_NONE;
		return APX_C_EINVAL;
	}
	return 0;
}

/* Instant T as YYYY-MM-DDTHH:MM:SS followed by ZONE ("Z", "-00:00"). */
static int
ts_format(int64_t t, const char *zone, char *buf, size_t len)
{
	int	 y, m, d, n;

	if (t < 0 || t > TS_MAX)
		return APX_C_EINVAL;
	kit_civil_from_days(t / 86400, &y, &m, &d);
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, m, d,
	    (int)(t % 86400 / 3600), (int)(t % 3600 / 60), (int)(t % 60),
	    zone);
	return (n < 0 || (size_t)n >= len) ? APX_C_EINVAL : 0;
}



/* 1 when S may stand in the cursor as an Id: [A-Za-z0-9_.-]{1,ID_MAX}. */
static int
id_ok(const char *s)
{
	size_t	 i;

	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= ID_MAX || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/*
 * The instant REC counts at in the keyset: its LastUpdatedTime, or PREV
 * (its predecessor's) when that is unreadable or earlier. The answer is
 * sorted, so this keeps the count of records at the boundary right.
 */
static int64_t
record_key(struct apx_cx *cx, const struct apx_json *rec, int64_t prev)
{
	const char	*upd;
	int64_t		 key;

	upd = host->json_text(cx, rec, "MetaData.LastUpdatedTime");
	if (upd == NULL || ts_parse(upd, &key) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: record %s has no "
		    "readable LastUpdatedTime", __func__,
		    kit_safe_text(cx, host->json_text(cx, rec, "Id")));
		return prev;
	}
	return key < prev ? prev : key;
}


/* An instant of the cursor: "-" (none) or YYYY-MM-DDTHH:MM:SSZ. */
static int
ts_field(const char *s, int64_t *t)
{
	if (strcmp(s, "-") == 0) {
		*t = TS_NONE;
		return 0;
	}
	return ts_parse(s, t);
}

/*
 * The sync cursor, printable ASCII, no secret:
 *
 *	v1;e=<inv|sr>;s=<S>;t=<T>;k=<K>;l=<L>;r=<R>;hw=<HW>;nx=<NX>
 *
 * E: the entity being fetched (Invoice, then SalesReceipt). S: the
 * instant the run started from (both entities start from it). T: the
 * page boundary: the next page asks for LastUpdatedTime >= T; the first
 * K records of that set were seen already, the K-th has Id L. Keyset
 * paging: a record updated during the run moves behind the boundary and
 * is seen again. The next page starts AT position K (one record of
 * overlap) and checks that it still holds Id L at T: if not, a record
 * seen at T changed and the others moved up, so the records at T are
 * fetched again from the first (K=0) rather than one skipped; R counts
 * those restarts (at most RESTARTS_MAX for one T). HW: the newest
 * LastUpdatedTime seen of the entity: what changes after its last page
 * is updated at or after it. NX: the least HW of the entities done (an
 * Invoice updated while SalesReceipts are fetched may be older than the
 * newest SalesReceipt). Instants are UTC, YYYY-MM-DDTHH:MM:SSZ, or "-"
 * for none (no WHERE; K then counts from the first record); L is "-"
 * when unknown (no check). A finished run leaves e=inv and s = t = NX,
 * k=0: records at exactly NX are fetched again by the next run, which
 * changes nothing.
 */
static int
cursor_get(const char *text, struct syncpos *pos)
{
	const char	*p;
	char		 buf[ID_MAX + 1];
	size_t		 i;

	memset(pos, 0, sizeof(*pos));
	if (text == NULL || strlen(text) > 1024 ||
	    strncmp(text, "v1;", 3) != 0)
		return APX_C_EINVAL;
	p = text + 3;
	if (kit_kv_take(&p, "e", buf, sizeof(buf)) != 0)
		return APX_C_EINVAL;
	for (i = 0; i < sizeof(entities) / sizeof(entities[0]); i++)
		if (strcmp(buf, entities[i].tag) == 0)
			break;
	if (i == sizeof(entities) / sizeof(entities[0]))
		return APX_C_EINVAL;
	pos->entity = i;
	if (kit_kv_take(&p, "s", buf, sizeof(buf)) != 0 ||
	    ts_field(buf, &pos->start) != 0 ||
	    kit_kv_take(&p, "t", buf, sizeof(buf)) != 0 ||
	    ts_field(buf, &pos->t) != 0 ||
	    kit_kv_take(&p, "k", buf, sizeof(buf)) != 0 ||
	    parse_i64(buf, &pos->k) != 0 || pos->k > SKIP_MAX ||
	    kit_kv_take(&p, "l", pos->last, sizeof(pos->last)) != 0 ||
	    (strcmp(pos->last, "-") != 0 && !id_ok(pos->last)) ||
	    kit_kv_take(&p, "r", buf, sizeof(buf)) != 0 ||
	    parse_i64(buf, &pos->restarts) != 0 ||
	    pos->restarts > RESTARTS_MAX ||
	    kit_kv_take(&p, "hw", buf, sizeof(buf)) != 0 ||
	    ts_field(buf, &pos->hw) != 0 ||
	    kit_kv_take(&p, "nx", buf, sizeof(buf)) != 0 ||
	    ts_field(buf, &pos->next) != 0 || *p != '\0')
		return APX_C_EINVAL;
	if (strcmp(pos->last, "-") == 0)
		pos->last[0] = '\0';
	return 0;
}

static const char *
cursor_put(struct apx_cx *cx, const struct syncpos *pos)
{
	char	 s[TS_LEN] = "-", t[TS_LEN] = "-", hw[TS_LEN] = "-";
	char	 nx[TS_LEN] = "-";

	if ((pos->start != TS_NONE &&
	    ts_format(pos->start, "Z", s, sizeof(s)) != 0) ||
	    (pos->t != TS_NONE && ts_format(pos->t, "Z", t, sizeof(t)) != 0) ||
	    (pos->hw != TS_NONE && ts_format(pos->hw, "Z", hw,
	    sizeof(hw)) != 0) ||
	    (pos->next != TS_NONE && ts_format(pos->next, "Z", nx,
	    sizeof(nx)) != 0))
		return NULL;
	return host->fmt(cx, "v1;e=%s;s=%s;t=%s;k=%lld;l=%s;r=%lld;hw=%s;"
	    "nx=%s", entities[pos->entity].tag, s, t, (long long)pos->k,
	    pos->last[0] != '\0' ? pos->last : "-", (long long)pos->restarts,
	    hw, nx);
}

/*
 * GET the query page of POS's entity and boundary from position FROM
 * (1-based): *RECS the array of its records (NULL when the page is
 * empty), *N their number (at most PAGE_SIZE), *NOW the answer's "time"
 * (the API's clock), TS_NONE when unreadable.
 */
static int
query_page(struct apx_cx *cx, const struct apx_sync *s,
    const struct syncpos *pos, int64_t from, const struct apx_json **recs,
    size_t *n, int64_t *now)
{
	struct apx_http_request		 req;
	struct apx_http_response	 resp;
	const struct apx_json		*root, *qr, *arr;
	const char			*name = entities[pos->entity].name;
	char				 ts[TS_LEN];
	char				*base, *where = "", *sql, *enc;
	char				*url;
	int				 rc;

	*recs = NULL;
	*n = 0;
	*now = TS_NONE;
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	if ((base = kit_url_trim(cx, host->config(cx, "api_base"))) == NULL)
		return APX_C_EINVAL;
	/* Only values made here go into the SQL: our instant, numbers. */
	if (pos->t != TS_NONE) {
		if (ts_format(pos->t, "-00:00", ts, sizeof(ts)) != 0)
			return APX_C_EINVAL;
		if ((where = host->fmt(cx, " WHERE MetaData.LastUpdatedTime "
		    ">= '%s'", ts)) == NULL)
			return APX_C_ENOMEM;
	}
	if ((sql = host->fmt(cx, "SELECT * FROM %s%s ORDERBY "
	    "MetaData.LastUpdatedTime STARTPOSITION %lld MAXRESULTS %d", name,
	    where, (long long)from, PAGE_SIZE)) == NULL ||
	    (enc = host->urlencode(cx, sql)) == NULL ||
	    (url = host->fmt(cx, "%s/v3/company/%s/query?query=%s"
	    "&minorversion=75", base, s->account_id, enc)) == NULL)
		return APX_C_ENOMEM;
	req.method = "GET";
	req.url = url;
	req.headers = &accept_json;
	req.nheaders = 1;
	req.bearer = s->access_token;
	if ((rc = host->http(cx, &req, &resp)) != 0) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: %s query: %d", __func__,
		    name, rc);
		return rc;
	}
	if (resp.status == 401) {
		host->log_msg(cx, APX_C_LOG_INFO, "%s: HTTP 401: access token "
		    "refused", __func__);
		return APX_C_EEXPIRED;
	}
	if (resp.status != 200) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: %s query: HTTP %ld",
		    __func__, name, resp.status);
		return APX_C_EPROVIDER;
	}
	if (resp.body == NULL || (root = host->json_parse(cx, resp.body,
	    resp.body_len)) == NULL ||
	    (qr = host->json_at(root, "QueryResponse")) == NULL ||
	    host->json_text(cx, qr, "") != NULL) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: %s query: no "
		    "QueryResponse in the answer", __func__, name);
		return APX_C_EINVAL;
	}
	(void)ts_parse(host->json_text(cx, root, "time"), now);
	if ((arr = host->json_at(qr, name)) == NULL)
		return 0;			/* an empty page */
	if (host->json_text(cx, arr, "") != NULL ||
	    host->json_size(arr) > PAGE_SIZE) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: %s query: malformed "
		    "page (%zu records)", __func__, name, host->json_size(arr));
		return APX_C_EINVAL;
	}
	*recs = arr;
	*n = host->json_size(arr);
	return 0;
}

/*
 * REC as a sales record of KIND: 0 when recorded or skipped (malformed,
 * or refused by the host: logged by id), another code when the host
 * cannot take records at all.
 */
static int
record_sale(struct apx_cx *cx, const struct apx_json *rec, const char *kind)
{
	struct apx_sale	 sale;
	const char	*amount, *note;
	int		 rc;

	memset(&sale, 0, sizeof(sale));
	sale.kind = kind;
	sale.id = host->json_text(cx, rec, "Id");
	sale.date = host->json_text(cx, rec, "TxnDate");
	if ((amount = host->json_text(cx, rec, "TotalAmt")) != NULL)
		sale.amount = kit_amount_text(cx, amount);
	sale.currency = host->json_text(cx, rec, "CurrencyRef.value");
	if (!kit_currency_ok(sale.currency))
		sale.currency = NULL;
	/* QuickBooks' void zeroes the amounts and notes "Voided". */
	note = host->json_text(cx, rec, "PrivateNote");
	sale.voided = note != NULL && strncmp(note, "Voided", 6) == 0;
	if (sale.id == NULL || sale.date == NULL || sale.amount == NULL) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: %s %s lacks an id, a "
		    "date or an amount; skipped", __func__, kind,
		    kit_safe_text(cx, sale.id));
		return 0;
	}
	if ((rc = host->sale(cx, &sale)) == APX_C_EINVAL) {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: %s %s refused by the "
		    "host; skipped", __func__, kind, kit_safe_text(cx, sale.id));
		return 0;
	}
	return rc;
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
	kit_init(h);
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
	if ((rc = kit_form_add(cx, &q, "client_id",
	    host->config(cx, "client_id"))) != 0 ||
	    (rc = kit_form_add(cx, &q, "response_type", "code")) != 0 ||
	    (rc = kit_form_add(cx, &q, "scope", az->scope != NULL ? az->scope :
	    scopes[0])) != 0 ||
	    (rc = kit_form_add(cx, &q, "redirect_uri", az->redirect_uri)) != 0 ||
	    (rc = kit_form_add(cx, &q, "state", az->state)) != 0)
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
	    kit_param_get(cb->params, cb->nparams, "code");
	realm = kit_param_get(cb->params, cb->nparams, "realmId");
	if (code == NULL || *code == '\0' || !realm_ok(realm)) {
		host->log_msg(cx, APX_C_LOG_WARN,
		    "%s: callback lacks code or a valid realmId", __func__);
		rc = APX_C_EUNAUTH;
		goto fail;
	}
	if ((rc = kit_form_add(cx, &form, "grant_type",
	    "authorization_code")) != 0 ||
	    (rc = kit_form_add(cx, &form, "code", code)) != 0 ||
	    (rc = kit_form_add(cx, &form, "redirect_uri", cb->redirect_uri)) != 0)
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
	if ((rc = kit_form_add(cx, &form, "grant_type", "refresh_token")) != 0 ||
	    (rc = kit_form_add(cx, &form, "refresh_token", refresh_token)) != 0)
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
	if ((js = kit_json_str(cx, tok)) == NULL ||
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
		kit_log_answer(cx, __func__, &resp);
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
	    (base = kit_url_trim(cx, host->config(cx, "api_base"))) == NULL)
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
		kit_log_answer(cx, __func__, &resp);
		rc = resp.status == 401 ? APX_C_EGRANT : APX_C_EPROVIDER;
	}
 out:
	return rc;
}


static int
intuit_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh)
{
	return kit_webhook_verify(cx, wh, "intuit-signature", "webhook_verifier", "webhook_verifier_previous");
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

/*
 * An Invoice or a SalesReceipt changed: the sync of the connection
 * fetches what changed since its cursor. A legacy notification is typed
 * by its first entity only: its other entities are looked at too.
 */
static int
intuit_webhook_handle(struct apx_cx *cx, const struct apx_webhook_event *ev)
{
	const struct apx_json	*doc, *ents;
	const char		*name;
	char			 path[32];
	size_t			 i, n;

	if (host->abi_minor < 1 || ev == NULL || ev->type == NULL)
		return APX_C_ENOTFOUND;
	if (sales_type(ev->type))
		return APX_C_MORE;
	if (ev->payload == NULL || (doc = host->json_parse(cx, ev->payload,
	    strlen(ev->payload))) == NULL ||
	    (ents = host->json_at(doc, "dataChangeEvent.entities")) == NULL)
		return APX_C_ENOTFOUND;
	n = host->json_size(ents);
	for (i = 0; i < n && i < ENTITIES_MAX; i++) {
		snprintf(path, sizeof(path), "%zu.name", i);
		if ((name = host->json_text(cx, ents, path)) != NULL &&
		    (kit_ieq(name, "Invoice") || kit_ieq(name, "SalesReceipt")))
			return APX_C_MORE;
	}
	return APX_C_ENOTFOUND;
}

/*
 * One query page of the entity the cursor names (cursor_get tells the
 * cursor's form). After a page: L is the LastUpdatedTime of its last
 * record; L == T adds the page to K, else T becomes L and K the records
 * of the page at L. A short page ends the entity: SalesReceipt starts
 * from the run's start, and after it the run ends with the next run's
 * cursor at HW.
 */
static int
intuit_sync(struct apx_cx *cx, const struct apx_sync *s, const char **cursor)
{
	const struct apx_json	*recs, *rec, *lastrec = NULL;
	const char		*kind, *id;
	char			 path[24];
	struct syncpos		 pos;
	size_t			 i, n, first = 0, run = 0;
	int64_t			 from, key, prev, last = TS_NONE, now;
	int			 rc, restart = 0;

	if (cursor == NULL)
		return APX_C_EINVAL;
	*cursor = NULL;
	if (host->abi_minor < 1 || s == NULL || !realm_ok(s->account_id) ||
	    s->access_token == NULL || *s->access_token == '\0') {
		rc = APX_C_EINVAL;
		goto fail;
	}
	if (s->cursor == NULL || cursor_get(s->cursor, &pos) != 0) {
		if (s->cursor != NULL)
			host->log_msg(cx, APX_C_LOG_WARN, "%s: unreadable "
			    "cursor; starting again", __func__);
		memset(&pos, 0, sizeof(pos));
		pos.start = (s->since > 0 && s->since <= TS_MAX) ? s->since :
		    TS_NONE;
		pos.t = pos.start;
		pos.hw = pos.next = TS_NONE;
	}
	kind = entities[pos.entity].kind;
	/* From the last record seen (checked below), or after K. */
	from = (pos.k > 0 && pos.last[0] != '\0') ? pos.k : pos.k + 1;
	if ((rc = query_page(cx, s, &pos, from, &recs, &n, &now)) != 0)
		goto fail;
	if (from == pos.k) {
		rec = n > 0 ? host->json_at(recs, "0") : NULL;
		if (rec != NULL && (id = host->json_text(cx, rec, "Id")) !=
		    NULL && strcmp(id, pos.last) == 0 &&
		    record_key(cx, rec, pos.t) == pos.t)
			first = 1;
		else if (pos.restarts < RESTARTS_MAX)
			restart = 1;
		else
			host->log_msg(cx, APX_C_LOG_WARN, "%s: the records at "
			    "the boundary keep moving; going on", __func__);
	}
	prev = pos.t;
	for (i = first; i < n; i++) {
		snprintf(path, sizeof(path), "%zu", i);
		if ((rec = host->json_at(recs, path)) == NULL) {
			rc = APX_C_EINVAL;
			goto fail;
		}
		lastrec = rec;
		key = prev = record_key(cx, rec, prev);
		if (i > first && key == last)
			run++;
		else {
			last = key;
			run = 1;
		}
		if (key > pos.hw)
			pos.hw = key;
		if ((rc = record_sale(cx, rec, kind)) != 0)
			goto fail;
	}
	host->log_msg(cx, APX_C_LOG_DEBUG, "%s: %s page: %zu records from "
	    "%lld", __func__, entities[pos.entity].name, n, (long long)from);
	rc = APX_C_MORE;
	if (restart) {
		/* A record seen at T changed: T's records again, from the
		 * first (what this page held is recorded all the same). */
		host->log_msg(cx, APX_C_LOG_INFO, "%s: the records at the "
		    "boundary moved; fetching them again", __func__);
		pos.k = 0;
		pos.last[0] = '\0';
		pos.restarts++;
	} else if (lastrec != NULL) {
		if (last == pos.t)
			pos.k = from - 1 + (int64_t)n;
		else {
			pos.t = last;
			pos.k = (int64_t)run;
			pos.restarts = 0;
		}
		id = host->json_text(cx, lastrec, "Id");
		if (id_ok(id))
			memcpy(pos.last, id, strlen(id) + 1);
		else
			pos.last[0] = '\0';
		if (pos.k > SKIP_MAX) {
			host->log_msg(cx, APX_C_LOG_WARN, "%s: over %d "
			    "records at one instant", __func__, SKIP_MAX);
			rc = APX_C_ETOOBIG;
			goto fail;
		}
	}
	if (!restart && n < PAGE_SIZE) {
		/*
		 * The entity is done: the next run covers it from its HW.
		 * None seen: from the API's clock now (less a margin), so
		 * that a realm without this entity is not read whole again.
		 */
		if (pos.hw == TS_NONE && now != TS_NONE &&
		    now > CLOCK_MARGIN)
			pos.hw = now - CLOCK_MARGIN;
		if (pos.hw < pos.start)
			pos.hw = pos.start;
		if (pos.entity == 0 || pos.hw < pos.next)
			pos.next = pos.hw;
		pos.k = 0;
		pos.last[0] = '\0';
		pos.restarts = 0;
		pos.hw = TS_NONE;
		if (pos.entity + 1 < sizeof(entities) / sizeof(entities[0])) {
			/* The next entity, from where the run started. */
			pos.entity++;
			pos.t = pos.start;
		} else {
			/* Done: the next run starts where both are covered. */
			pos.entity = 0;
			pos.start = pos.t = pos.next;
			pos.next = TS_NONE;
			rc = 0;
		}
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
