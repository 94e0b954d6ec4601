/*
 * A mock of the connector host's service table (struct apx_host in
 * include/accupredix/connector.h), for fuzz targets that compile a plugin
 * into the fuzz binary and drive its callbacks directly.
 *
 * Everything is deterministic: a fixed clock, a static configuration
 * table set by the target, a canned HTTP answer (no network), and the
 * vault and OAuth state services always refuse (APX_C_EDENIED).
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
 * alloc, dup, fmt, base64, urlencode and json_get) lives until
 * mock_cx_reset, which frees it all. Each allocation is its own malloc()
 * so that ASan sees an overflow of any single buffer a plugin writes.
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

#endif
