/*
 * A mock of the connector host's service table (struct apx_host in
 * include/accupredix/connector.h, ABI minor 1), for fuzz targets that
 * compile a plugin into the fuzz binary and drive its callbacks directly.
 *
 * Everything is deterministic: a fixed clock, a static configuration
 * table set by the target, a canned HTTP answer (no network), and the
 * vault and OAuth state services always refuse (APX_C_EDENIED). The
 * services of minor 1 check their arguments as the host does
 * (src/connect/data.c) and count what they were asked: sale, wait and
 * privacy answer only in a job (mock_job_set), wait never sleeps.
 */
#ifndef APX_TESTS_FUZZ_MOCK_HOST_H
#define APX_TESTS_FUZZ_MOCK_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <accupredix/connector.h>

/* What host->now answers (2023-11-14T22:13:20Z). */
#define MOCK_NOW		((int64_t)1700000000)
/* What host->http answers to every request it lets through. */
#define MOCK_HTTP_BODY		"{\"access_token\":\"tok\",\"scope\":\"read_orders\"}"
#define MOCK_URL_MAX		1024

/* The table a plugin's init is handed; valid for the whole process. */
const struct apx_host *mock_host(void);

/*
 * The one context of the mock. Its memory (everything handed out by
 * alloc, dup, fmt, base64, urlencode, json_get, json_parse and
 * json_text) lives until mock_cx_reset, which frees it all. Each
 * allocation is its own malloc() so that ASan sees an overflow of any
 * single buffer a plugin writes. The reset leaves the job mode and the
 * counters alone.
 */
struct apx_cx *mock_cx(void);
void	 mock_cx_reset(struct apx_cx *);

/* host->config answers VALUE for NAME (a copy is kept; NULL unsets). */
void	 mock_config_set(const char *, const char *);
void	 mock_config_clear(void);

/* Calls of host->http since mock_http_reset, and the last URL asked for
 * (truncated to MOCK_URL_MAX - 1 bytes; "" before the first call). */
void	 mock_http_reset(void);
unsigned mock_http_calls(void);
const char *mock_http_last_url(void);
const char *mock_http_last_method(void);

/*
 * 1: the context is a job's (webhook_handle, sync): sale, wait and
 * privacy are allowed; 0 (the default): a request's, they answer
 * APX_C_EDENIED, as the host's do.
 */
void	 mock_job_set(int);

/* What the services of ABI minor 1 were asked since mock_counts_reset. */
struct mock_counts {
	unsigned	 sales;		/* host->sale calls */
	unsigned	 sales_bad;	/* ... with a record the host refuses */
	unsigned	 waits;		/* host->wait calls */
	unsigned	 waits_bad;	/* ... with ms outside 0..60000 */
	int64_t		 wait_ms;	/* their sum (never slept) */
	unsigned	 privacy;	/* host->privacy calls */
	unsigned	 privacy_bad;	/* ... WHAT or SUBJECT not as the ABI
					   says (a subject too long for the
					   host is refused, not bad) */
	int		 privacy_what;	/* WHAT of the last call, or 0 */
	unsigned	 denied;	/* sale, wait, privacy outside a job */
	unsigned	 json_parses;	/* host->json_parse calls */
};
void	 mock_counts_reset(void);
const struct mock_counts *mock_counts(void);
/* SUBJECT of the last privacy call (a copy, until mock_counts_reset),
 * or NULL. */
const char *mock_privacy_subject(void);
/* 1 when S is a sales record the host takes (data.c sale_ok). */
int	 mock_sale_ok(const struct apx_sale *);

#endif
