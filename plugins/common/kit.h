/*
 * Helpers the connector plugins of this tree share (kit.c, compiled into
 * each plugin: a plugin links no library and exports only its entry
 * symbol). Everything goes through the host's service table handed to
 * kit_init, as in the plugins themselves. A connector built outside this
 * tree needs none of it: only <accupredix/connector.h>.
 */
#ifndef APX_PLUGINS_KIT_H
#define APX_PLUGINS_KIT_H

#include <stddef.h>
#include <stdint.h>

#include <accupredix/connector.h>

#define AMOUNT_INT	15	/* integer digits of an amount */
#define AMOUNT_FRAC	6	/* decimals of an amount */
#define NUM_TEXT_MAX	64	/* a number's text, from json_text */

/* A JSON text and how many more lookups (host->json_get) it may cost. */
struct jdoc {
	struct apx_cx	*cx;
	const char	*text;
	size_t		 len;
	int		 budget;
	int		 over;		/* a lookup was refused */
};

/* The host's table, from the plugin's init (NULL at fini). */
void	 kit_init(const struct apx_host *);

int	 kit_lc(int);
/* ASCII case-insensitive equality. */
int	 kit_ieq(const char *, const char *);
/* 1 when S begins with PREFIX, ignoring case. */
int	 kit_iprefix(const char *, const char *);
/* Append NAME=VALUE (VALUE urlencoded) to the form or query *FORM. */
int	 kit_form_add(struct apx_cx *, char **, const char *, const char *);
/* The value of parameter NAME, or NULL. */
const char *kit_param_get(const struct apx_param *, size_t, const char *);
/* At most 64 characters of a provider's error code, nothing odd in it. */
const char *kit_safe_text(struct apx_cx *, const char *);
/* A failed answer: its status and "error" code, never its body. */
void	 kit_log_answer(struct apx_cx *, const char *,
	    const struct apx_http_response *);
/* The value of header NAME (lower case) of a delivery, or NULL. */
const char *kit_header_get(const struct apx_webhook *, const char *);
/*
 * A delivery's signature: header HEADER holds the base64 HMAC-SHA256 of
 * the raw body with the connector's field KEY_FIELD, or (a rotation in
 * progress) with PREVIOUS_FIELD, compared in constant time. 0 or
 * APX_C_EUNAUTH (also when KEY_FIELD is not set).
 */
int	 kit_webhook_verify(struct apx_cx *, const struct apx_webhook *,
	    const char *, const char *, const char *);
/* S as a JSON string, quotes included. */
char	*kit_json_str(struct apx_cx *, const char *);
/* The value at the printf-made PATH of the document, within its budget. */
const char *kit_jget(struct jdoc *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* A copy of URL without its trailing '/'. */
char	*kit_url_trim(struct apx_cx *, const char *);
/* The date of day Z (days since 1970-01-01, Z >= 0). */
void	 kit_civil_from_days(int64_t, int *, int *, int *);
/*
 * A provider's number (json_text) as the decimal text a sales record
 * takes, at most AMOUNT_FRAC decimals, trailing zeros dropped; NULL for
 * anything else or 10^AMOUNT_INT or more. No floating point.
 */
char	*kit_amount_text(struct apx_cx *, const char *);
/* 1 when S is three capitals (an ISO 4217 code). */
int	 kit_currency_ok(const char *);
/* The value of "NAME=" at *P, up to ';' or the end, into BUF; *P past
 * it. */
int	 kit_kv_take(const char **, const char *, char *, size_t);

#endif
