/*
 * Helpers the connector plugins of this tree share (plugins/local.am
 * compiles this file into each of them: a plugin links no library, and
 * exports only its entry symbol). kit_init hands the host's table over.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <accupredix/connector.h>

#include "kit.h"

static const struct apx_host *host;

static int	 sig_ok(struct apx_cx *, const struct apx_webhook *,
		    const char *, const char *);

void
kit_init(const struct apx_host *h)
{
	host = h;
}


int
kit_lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int
kit_ieq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (kit_lc((unsigned char)*a) != kit_lc((unsigned char)*b))
			return 0;
	return *a == *b;
}

/* Append NAME=VALUE (VALUE urlencoded) to the form or query *FORM. */
int
kit_form_add(struct apx_cx *cx, char **form, const char *name,
    const char *value)
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

const char *
kit_param_get(const struct apx_param *p, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i].name != NULL && strcmp(p[i].name, name) == 0)
			return p[i].value != NULL ? p[i].value : "";
	return NULL;
}

/* At most 64 characters of a provider's error code, nothing odd in it. */
const char *
kit_safe_text(struct apx_cx *cx, const char *s)
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
void
kit_log_answer(struct apx_cx *cx, const char *what,
    const struct apx_http_response *r)
{
	const char	*err = NULL;

	if (r->body != NULL)
		err = host->json_get(cx, r->body, r->body_len, "error");
	host->log_msg(cx, APX_C_LOG_WARN, "%s: HTTP %ld, error %s", what,
	    r->status, kit_safe_text(cx, err));
}

const char *
kit_header_get(const struct apx_webhook *wh, const char *name)
{
	size_t	 i;

	for (i = 0; i < wh->nheaders; i++)
		if (wh->headers[i].name != NULL &&
		    kit_ieq(wh->headers[i].name, name))
			return wh->headers[i].value;
	return NULL;
}

/* S as a JSON string, quotes included. */
char *
kit_json_str(struct apx_cx *cx, const char *s)
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
const char *
kit_jget(struct jdoc *doc, const char *fmt, ...)
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

/* A copy of URL without its trailing '/'. */
char *
kit_url_trim(struct apx_cx *cx, const char *url)
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

/* 1 when S begins with PREFIX, ignoring case. */
int
kit_iprefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++)
		if (*s == '\0' ||
		    kit_lc((unsigned char)*s) != kit_lc((unsigned char)*prefix))
			return 0;
	return 1;
}

/* The date of day Z (days since 1970-01-01, Z >= 0). */
void
kit_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t	 era, doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/*
 * A JSON number's TEXT as json_text writes it ("12", "12.339999999999999",
 * "1.5e-07") or a decimal string, as the decimal text of a sales record:
 * rounded half up to AMOUNT_FRAC decimals, trailing zeros dropped,
 * -?[0-9]{1,15}(.[0-9]{1,6})?. NULL for anything else, or for a value of
 * 10^AMOUNT_INT or more. Worked on the digits: no floating point.
 */
char *
kit_amount_text(struct apx_cx *cx, const char *text)
{
	char		 sig[NUM_TEXT_MAX];	/* significant digits */
	char		 out[AMOUNT_INT + AMOUNT_FRAC + 4];
	int		 v[AMOUNT_INT + AMOUNT_FRAC + 1];
	const char	*p = text;
	size_t		 nd = 0, o = 0, j, last;
	int64_t		 dp = 0, e = 0, idx;
	int		 neg = 0, mant = 0, esign = 1, ed = 0, nonzero = 0;

	if (text == NULL || strlen(text) >= NUM_TEXT_MAX)
		return NULL;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	/* sig holds the value as 0.sig * 10^dp. */
	for (; *p >= '0' && *p <= '9'; p++) {
		mant = 1;
		if (nd == 0 && *p == '0')
			continue;
		sig[nd++] = *p;
		dp++;
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++) {
			mant = 1;
			if (nd == 0 && *p == '0')
				dp--;
			else
				sig[nd++] = *p;
		}
	if (!mant)
		return NULL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			esign = *p++ == '-' ? -1 : 1;
		for (; *p >= '0' && *p <= '9'; p++)
			if (++ed > 4)
				return NULL;
			else
				e = e * 10 + (*p - '0');
		if (ed == 0)
			return NULL;
		dp += esign * e;
	}
	if (*p != '\0')
		return NULL;
	if (nd > 0 && dp > AMOUNT_INT)
		return NULL;
	/* v[j]: the digit of 10^(AMOUNT_INT - 1 - j); the last one rounds. */
	for (j = 0; j < sizeof(v) / sizeof(v[0]); j++) {
		idx = dp - AMOUNT_INT + (int64_t)j;
		v[j] = (idx >= 0 && idx < (int64_t)nd) ? sig[idx] - '0' : 0;
	}
	last = sizeof(v) / sizeof(v[0]) - 1;
	if (v[last] >= 5)
		for (j = last; j-- > 0;) {
			if (++v[j] < 10)
				break;
			v[j] = 0;
			if (j == 0)
				return NULL;	/* rounded up to 10^15 */
		}
	for (j = 0; j < last; j++)
		nonzero |= v[j] != 0;
	if (neg && nonzero)
		out[o++] = '-';
	for (j = 0; j < AMOUNT_INT - 1 && v[j] == 0; j++)
		;
	for (; j < AMOUNT_INT; j++)
		out[o++] = (char)('0' + v[j]);
	for (last = AMOUNT_INT + AMOUNT_FRAC; last > AMOUNT_INT &&
	    v[last - 1] == 0; last--)
		;
	if (last > AMOUNT_INT) {
		out[o++] = '.';
		for (j = AMOUNT_INT; j < last; j++)
			out[o++] = (char)('0' + v[j]);
	}
	out[o] = '\0';
	return host->dup(cx, out, o);
}

/* 1 when S is three capitals (an ISO 4217 code). */
int
kit_currency_ok(const char *s)
{
	return s != NULL && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
	    s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z' && s[3] == '\0';
}

/* The value of "NAME=" at *P, up to ';' or the end, into BUF; *P past it. */
int
kit_kv_take(const char **p, const char *name, char *buf, size_t len)
{
	size_t	 n = strlen(name), i;

	if (strncmp(*p, name, n) != 0 || (*p)[n] != '=')
		return APX_C_EINVAL;
	*p += n + 1;
	for (i = 0; (*p)[i] != '\0' && (*p)[i] != ';'; i++) {
		if (i + 1 >= len)
			return APX_C_EINVAL;
		buf[i] = (*p)[i];
	}
	buf[i] = '\0';
	*p += i;
	if (**p == ';')
		(*p)++;
	return 0;
}

/* 1 when SIG is the base64 HMAC-SHA256 of the body with KEY. */
static int
sig_ok(struct apx_cx *cx, const struct apx_webhook *wh, const char *key,
    const char *sig)
{
	unsigned char	 mac[32];
	const void	*body = wh->body != NULL ? (const void *)wh->body : "";
	char		*b64;

	if (key == NULL || *key == '\0' ||
	    host->hmac_sha256(key, strlen(key), body, wh->len, mac) != 0 ||
	    (b64 = host->base64(cx, mac, sizeof(mac))) == NULL)
		return 0;
	return host->ct_equal(b64, strlen(b64), sig, strlen(sig)) == 1;
}

int
kit_webhook_verify(struct apx_cx *cx, const struct apx_webhook *wh,
    const char *header, const char *key_field, const char *previous_field)
{
	const char	*key, *sig;

	if ((key = host->config(cx, key_field)) == NULL || *key == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: %s is not set", __func__,
		    key_field);
		return APX_C_EUNAUTH;
	}
	if ((sig = kit_header_get(wh, header)) == NULL || *sig == '\0') {
		host->log_msg(cx, APX_C_LOG_WARN, "%s: no signature", __func__);
		return APX_C_EUNAUTH;
	}
	/* During a rotation, deliveries may be signed with the old secret. */
	if (sig_ok(cx, wh, key, sig) ||
	    sig_ok(cx, wh, host->config(cx, previous_field), sig))
		return 0;
	host->log_msg(cx, APX_C_LOG_WARN, "%s: signature is wrong", __func__);
	return APX_C_EUNAUTH;
}
