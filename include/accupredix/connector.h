/*
 * AccuPredix connector plugin ABI.
 *
 * A connector is a shared object that exports exactly one symbol,
 * APX_CONNECTOR_ENTRY ("apx_connector_entry"), a function returning a
 * pointer to a const struct apx_connector. The host (the AccuPredix
 * FastCGI application) dlopen()s every .so of its plugin folder at worker
 * start, checks the descriptor and calls init. A plugin needs no symbol of
 * the host: everything it may do goes through the struct apx_host service
 * table it is handed, and that table only ever grows at its end.
 *
 * Versioning (Apache module magic numbers, SQLite's extension table):
 *   - APX_CONNECTOR_ABI_MAJOR changes when something here changes
 *     incompatibly; the host refuses a plugin of another major.
 *   - APX_CONNECTOR_ABI_MINOR grows when members are appended to
 *     struct apx_connector or struct apx_host; the host refuses a plugin
 *     built for a newer minor than its own. A plugin must check
 *     host->size (or host->abi_minor) before calling a member appended
 *     after the minor it was built for.
 *
 * Memory: everything a plugin obtains from the host, and everything it
 * hands back (URLs, tokens, account ids), is allocated with host->alloc or
 * host->dup on the context (struct apx_cx), belongs to the host and is
 * wiped and freed when the context ends (one request or one job). A
 * plugin keeps no pointer across calls and frees nothing itself.
 *
 * Secrets: the values of secret fields, vault values, tokens and the
 * credentials a plugin hands to host->http are known to the host and are
 * replaced by "[redacted]" in every line written through host->log_msg. Never
 * put a secret into an URL, an account id or an event.
 *
 * Build: cc -shared -fPIC -Wl,-z,defs `pkg-config --cflags
 * accupredix-connector` and export only the entry symbol (a version
 * script, or -fvisibility=hidden plus APX_CONNECTOR_EXPORT).
 */
#ifndef ACCUPREDIX_CONNECTOR_H
#define ACCUPREDIX_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define APX_CONNECTOR_MAGIC	0x41505843u	/* "APXC" */
#define APX_CONNECTOR_ABI_MAJOR	1
#define APX_CONNECTOR_ABI_MINOR	1
#define APX_CONNECTOR_ENTRY	"apx_connector_entry"
#define APX_CONNECTOR_EXPORT	__attribute__((visibility("default")))

/* Return codes of host services and plugin callbacks: 0 or negative. */
#define APX_C_OK		0
#define APX_C_ENOMEM		(-1)	/* out of memory */
#define APX_C_EINVAL		(-2)	/* invalid input or answer */
#define APX_C_ETOOBIG		(-3)	/* over a size cap */
#define APX_C_ENOTFOUND		(-4)	/* no such value */
#define APX_C_EIO		(-7)	/* transport failure, timeout */
#define APX_C_EUNAUTH		(-14)	/* a signature or hmac is wrong */
#define APX_C_EDENIED		(-16)	/* the host refused: out of scope */
#define APX_C_EPROVIDER		(-17)	/* the provider answered an error */
#define APX_C_EGRANT		(-18)	/* invalid_grant: consent is gone */
#define APX_C_EEXPIRED		(-19)	/* the provider refused the access
					   token: refresh it and try again */
/* sync: a page is done and more follow (call again with *CURSOR). */
#define APX_C_MORE		1

/* Log levels of host->log_msg. */
#define APX_C_LOG_ERROR		0
#define APX_C_LOG_WARN		1
#define APX_C_LOG_INFO		2
#define APX_C_LOG_DEBUG		3

/* The context of one call: org, connector, connection, memory. Opaque. */
struct apx_cx;

/* ------------------------------------------------------------ fields */

/* A configuration field the connector needs. */
#define APX_FIELD_STRING	1	/* printable text */
#define APX_FIELD_SECRET	2	/* sealed, never shown, never logged */
#define APX_FIELD_URL		3	/* a base URL (server scope only) */

/*
 * SERVER fields are set by the operator in the configuration file as
 * connectors.<name>.<field> (a secret may be "file:/path"). URL fields are
 * the only origins host->http will reach: an https URL (http only on a
 * loopback address), whose host may hold one "{label}" placeholder that
 * matches exactly one DNS label ("https://{shop}.myshopify.com"). The
 * plugin fills placeholders itself; one in the path is plain text to the
 * host (only the origin is checked).
 * ORG fields are set by an org's admins through
 * PUT /api/v1/orgs/{org}/connectors/{name}/config.
 */
#define APX_FIELD_SERVER	1
#define APX_FIELD_ORG		2

struct apx_connector_field {
	const char	*name;		/* [a-z][a-z0-9_]{0,31} */
	int		 type;		/* APX_FIELD_STRING ... */
	int		 scope;		/* APX_FIELD_SERVER or _ORG */
	int		 required;
	const char	*default_value;	/* SERVER fields: when unset */
	const char	*description;	/* one line, shown in the schema */
	size_t		 max_len;	/* ORG fields: 0 means 256 */
};

/* --------------------------------------------------------- data types */

struct apx_param {		/* a query parameter or an HTTP header */
	const char	*name;
	const char	*value;
};

struct apx_tokens {
	const char	*access_token;
	const char	*refresh_token;	/* NULL: the grant has none */
	int64_t		 expires_in;	/* seconds; 0: does not expire */
	int64_t		 refresh_expires_in;	/* seconds; 0: unknown */
	const char	*scope;		/* granted scopes, space separated */
};

struct apx_account {		/* an account at the provider */
	const char	*id;		/* shop domain, realmId, tenantId */
	const char	*name;		/* display name, may be NULL */
};

/* What host->authorize hands the plugin to build the provider URL. */
struct apx_authorize {
	const char	*state;		/* opaque, >= 128 bits */
	const char	*redirect_uri;	/* exact: .../connectors/{name}/callback */
	const char	*code_challenge;	/* PKCE S256 of the verifier */
	const char	*scope;		/* the descriptor's scopes, joined */
};

/* The provider's answer at the callback, after the host checked state. */
struct apx_callback {
	const struct apx_param *params;	/* every query parameter */
	size_t		 nparams;
	const char	*code;		/* params["code"] */
	const char	*redirect_uri;
	const char	*code_verifier;	/* PKCE, NULL when not used */
	int64_t		 now;		/* seconds since the epoch */
};

/* What the plugin answers for a code exchange. */
struct apx_exchange {
	struct apx_tokens	 tokens;
	const struct apx_account *accounts;	/* at least one */
	size_t			 naccounts;
};

/* A webhook delivery, its raw body unparsed. */
struct apx_webhook {
	const unsigned char	*body;
	size_t			 len;
	const struct apx_param	*headers;	/* names in lower case */
	size_t			 nheaders;
};

/* One event of a delivery, for one account. */
struct apx_webhook_event {
	const char	*account_id;	/* routes it to the org(s) */
	const char	*event_id;	/* de-duplication key */
	const char	*type;		/* topic, eventType, ... */
	const char	*payload;	/* JSON text */
};

/*
 * A sync request: one page of one account of a connection (ABI minor 1).
 * The host calls sync again and again: each call fetches one page from
 * CURSOR (NULL: the first run, from SINCE), records what it found with
 * host->sale, and answers
 *   APX_C_MORE with *CURSOR where the next page starts, or
 *   0 with *CURSOR the resume point of the next run (the run is done),
 *   APX_C_EEXPIRED when the provider refused the token (the host
 *   refreshes it under the connection's lock and asks for the same page
 *   again), or another negative code (the run stops; the last page's
 *   cursor stays).
 * The host commits a page's records with its cursor in one transaction,
 * so a run that dies resumes where it stopped and a page fetched twice
 * changes nothing. A cursor is opaque text (at most 1024 bytes) that only
 * the plugin reads; it must not hold a secret.
 */
struct apx_sync {
	const char	*account_id;
	const char	*access_token;
	int64_t		 since;		/* seconds since the epoch; 0: all */
	const char	*cursor;	/* where to start, or NULL */
};

/* A sales record found by sync or carried by a webhook (host->sale). */
struct apx_sale {
	const char	*id;		/* the provider's id: printable, <= 128 */
	const char	*kind;		/* "order", "invoice": [a-z_]{1,32} */
	const char	*date;		/* YYYY-MM-DD: the day it counts for */
	const char	*amount;	/* decimal text: -?[0-9]{1,15}(.[0-9]{1,6})? */
	const char	*currency;	/* ISO 4217 (3 capitals), or NULL */
	int		 voided;	/* 1: cancelled, voided or deleted */
};

/* What a provider's privacy request asks (host->privacy). */
#define APX_C_PRIVACY_EXPORT	1	/* a data subject wants their data */
#define APX_C_PRIVACY_ERASE	2	/* erase a data subject */
#define APX_C_PRIVACY_FORGET	3	/* the account left: erase its data */

/* A parsed JSON value, borrowed from the context (ABI minor 1). */
struct apx_json;

/* ------------------------------------------------------ HTTP client */

struct apx_http_request {
	const char		*method;	/* "GET", "POST", "DELETE" */
	const char		*url;		/* under a configured URL field */
	const struct apx_param	*headers;
	size_t			 nheaders;
	const void		*body;
	size_t			 body_len;
	const char		*content_type;	/* of the body */
	const char		*basic_user;	/* HTTP Basic, or NULL */
	const char		*basic_password;
	const char		*bearer;	/* Authorization: Bearer, or NULL */
};

struct apx_http_response {
	long		 status;
	const char	*body;		/* NUL-terminated, in the context */
	size_t		 body_len;
	const char	*content_type;	/* or NULL */
};

/* ----------------------------------------------------- host services */

struct apx_host {
	size_t		 size;		/* sizeof(struct apx_host) of the host */
	uint16_t	 abi_major;
	uint16_t	 abi_minor;

	/* Memory of the context, wiped and freed when it ends; dup copies
	 * at most N bytes (strndup). */
	void		*(*alloc)(struct apx_cx *, size_t);
	char		*(*dup)(struct apx_cx *, const char *, size_t);
	/* printf into the context's memory. */
	char		*(*fmt)(struct apx_cx *, const char *, ...)
			    __attribute__((format(printf, 2, 3)));

	/* One log line, tagged with the connector, request id and org;
	 * every secret the host knows of in this context is redacted. */
	void		 (*log_msg)(struct apx_cx *, int, const char *, ...)
			    __attribute__((format(printf, 3, 4)));

	/* The value of one of this connector's fields (SERVER: from the
	 * configuration; ORG: of the context's org, secrets opened), or
	 * NULL when unset. Only fields the descriptor declares. */
	const char	*(*config)(struct apx_cx *, const char *);

	/*
	 * The vault, scoped by the host to the context's org, this
	 * connector and (when there is one) the context's connection: a
	 * plugin names only a slot ([a-z][a-z0-9_]{0,31}), never an org or
	 * a connector. get answers APX_C_ENOTFOUND for an empty slot.
	 */
	int		 (*vault_put)(struct apx_cx *, const char *, const void *,
			    size_t);
	int		 (*vault_get)(struct apx_cx *, const char *,
			    const char **, size_t *);
	int		 (*vault_delete)(struct apx_cx *, const char *);

	/*
	 * OAuth state bound to the context's browser, org and user, for
	 * PURPOSE ([a-z][a-z0-9_]{0,31}, prefixed with the connector by the
	 * host), carrying DATA (may be NULL), single use, expiring after
	 * TTL seconds (at most 900). consume answers APX_C_EDENIED for an
	 * unknown, used, expired or foreign state.
	 */
	int		 (*state_create)(struct apx_cx *, const char *,
			    const char *, int, const char **);
	int		 (*state_consume)(struct apx_cx *, const char *,
			    const char *, const char **);

	/*
	 * HTTP(S) on libcurl: only to the origins of this connector's URL
	 * fields (certificates verified; no redirects followed; 10 s; the
	 * body capped at 1 MiB: APX_C_ETOOBIG). 0 with the status for any
	 * answer, APX_C_EDENIED for an URL outside the origins, APX_C_EIO
	 * for a transport failure.
	 */
	int		 (*http)(struct apx_cx *, const struct apx_http_request *,
			    struct apx_http_response *);

	/* An event (TYPE: [a-z][a-z0-9_./]{0,63}, JSON text) into the
	 * tenant database of the context's org. */
	int		 (*emit)(struct apx_cx *, const char *, const char *);

	/* Crypto a plugin needs without linking a crypto library:
	 * hmac_sha256(key, key_len, message, message_len, out). */
	int		 (*hmac_sha256)(const void *, size_t, const void *,
			    size_t, unsigned char[32]);
	/* 1 when equal, in time independent of the contents. */
	int		 (*ct_equal)(const void *, size_t, const void *,
			    size_t);
	/* Standard base64 with padding, into the context's memory. */
	char		*(*base64)(struct apx_cx *, const void *, size_t);
	/* application/x-www-form-urlencoded (RFC 3986 unreserved kept). */
	char		*(*urlencode)(struct apx_cx *, const char *);
	/*
	 * The string at PATH of a JSON text ("a.b", "a.0.b": members and
	 * array indexes), a number as its text, or NULL. The text is parsed
	 * with a depth and size cap.
	 */
	const char	*(*json_get)(struct apx_cx *, const char *, size_t,
			    const char *);
	/* Seconds since the epoch. */
	int64_t		 (*now)(void);

	/* ---- ABI minor 1: check host->abi_minor >= 1 before use. */

	/*
	 * Parse a JSON text once (size and depth capped) and walk it: the
	 * values live until the context ends. json_at: the value at PATH
	 * under NODE ("a.b.0"; "" is NODE), or NULL. json_text: a string,
	 * number or boolean at PATH as text, or NULL. json_size: elements
	 * of an array, members of an object, 0 otherwise.
	 */
	const struct apx_json *(*json_parse)(struct apx_cx *, const char *,
			    size_t);
	const struct apx_json *(*json_at)(const struct apx_json *,
			    const char *);
	const char	*(*json_text)(struct apx_cx *, const struct apx_json *,
			    const char *);
	size_t		 (*json_size)(const struct apx_json *);
	/*
	 * Record one sales record of the context's connection (sync and
	 * webhook_handle only: APX_C_EDENIED elsewhere). The same id and
	 * kind again replaces the record: a page fetched twice adds nothing.
	 */
	int		 (*sale)(struct apx_cx *, const struct apx_sale *);
	/* Sleep MS milliseconds, at most 60000, to honour a provider's
	 * throttling: in a job only (APX_C_EDENIED while a request waits). */
	int		 (*wait)(struct apx_cx *, int64_t);
	/*
	 * A provider's privacy request for the context's org
	 * (webhook_handle): WHAT is APX_C_PRIVACY_*, SUBJECT a JSON object
	 * {"email", "phone", "customer_id"} (EXPORT, ERASE) or NULL
	 * (FORGET: the context's account). The host runs its privacy flows
	 * and records the request in the org's audit log.
	 */
	int		 (*privacy)(struct apx_cx *, int, const char *);
};

/* ------------------------------------------------------- descriptor */

struct apx_connector {
	uint32_t	 magic;		/* APX_CONNECTOR_MAGIC */
	uint16_t	 abi_major;	/* APX_CONNECTOR_ABI_MAJOR */
	uint16_t	 abi_minor;	/* APX_CONNECTOR_ABI_MINOR */
	size_t		 size;		/* sizeof(struct apx_connector) */

	const char	*name;		/* [a-z][a-z0-9_]{0,31}, unique */
	const char	*version;
	const char	*display_name;

	const struct apx_connector_field *fields;
	size_t		 nfields;
	const char *const *scopes;	/* asked for at connect */
	size_t		 nscopes;
	int		 pkce;		/* 1: the flow uses PKCE S256 */

	/*
	 * Callbacks: authorize and exchange are required; every other may be
	 * NULL (no refresh: an expired token needs re-auth; no revoke: a
	 * disconnect only erases the tokens here; no check: the check call
	 * only refreshes).
	 *
	 * Once per process, after the checks; HOST stays valid until fini.
	 * Non-zero refuses the plugin.
	 */
	int		 (*init)(const struct apx_host *, struct apx_cx *);
	void		 (*fini)(void);

	/* The provider URL to send the browser to. */
	int		 (*authorize)(struct apx_cx *, const struct apx_authorize *,
			    const char **);
	/* Verify the callback (e.g. Shopify's hmac, shop, timestamp) and
	 * exchange the code. APX_C_EUNAUTH: the callback is forged. */
	int		 (*exchange)(struct apx_cx *, const struct apx_callback *,
			    struct apx_exchange *);
	/* Spend REFRESH_TOKEN for a new pair. APX_C_EGRANT: invalid_grant. */
	int		 (*refresh)(struct apx_cx *, const char *,
			    struct apx_tokens *);
	/* Revoke the grant at the provider (disconnect). */
	int		 (*revoke)(struct apx_cx *, const struct apx_tokens *);
	/* One authenticated call showing the grant works for ACCOUNT. */
	int		 (*check)(struct apx_cx *, const char *, const char *);

	/* Webhooks and sync (used by the connector data features). */
	/* 0: signed by the provider; APX_C_EUNAUTH: not. */
	int		 (*webhook_verify)(struct apx_cx *,
			    const struct apx_webhook *);
	/* Split a verified delivery into events. */
	int		 (*webhook_route)(struct apx_cx *,
			    const struct apx_webhook *,
			    const struct apx_webhook_event **, size_t *);
	/* Act on one event in the context of its org and connection (a
	 * job, after the delivery was answered): 0 done, APX_C_MORE: sync
	 * the connection. */
	int		 (*webhook_handle)(struct apx_cx *,
			    const struct apx_webhook_event *);
	/* One page of sales records (struct apx_sync above). */
	int		 (*sync)(struct apx_cx *, const struct apx_sync *,
			    const char **);
};

typedef const struct apx_connector *(*apx_connector_entry_fn)(void);

/* Declared here so that a plugin's definition is checked against it. */
APX_CONNECTOR_EXPORT const struct apx_connector *apx_connector_entry(void);

#ifdef __cplusplus
}
#endif

#endif
