/*
 * URLs a configured base URL allows (core/url.h): the origin check behind
 * every outgoing request of a plugin or an OpenID provider.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/url.h"

static int	 split(const char *, const char **, size_t *, const char **,
		    size_t *);
static int	 label_ok(const char *, size_t);

/* URL = scheme "://" authority rest: the parts, or -1. */
static int
split(const char *url, const char **scheme, size_t *slen, const char **auth,
    size_t *alen)
{
	const char *p, *a;

	if ((p = strstr(url, "://")) == NULL)
		return -1;
	*scheme = url;
	*slen = (size_t)(p - url);
	a = p + 3;
	*auth = a;
	*alen = strcspn(a, "/?#");
	if (*alen == 0 || memchr(a, '@', *alen) != NULL)
		return -1;
	return 0;
}

static int
label_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int
apx_url_allowed(const char *url, const char *tpl)
{
	const char *us, *ua, *ts, *ta, *open, *close;
	size_t usl, ual, tsl, tal, pre, suf;
	const char *c;

	if (url == NULL || tpl == NULL)
		return 0;
	for (c = url; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f ||
		    *c == '\\')
			return 0;
	if (split(url, &us, &usl, &ua, &ual) != 0 ||
	    split(tpl, &ts, &tsl, &ta, &tal) != 0)
		return 0;
	if (usl != tsl || strncasecmp(us, ts, usl) != 0)
		return 0;
	if ((usl != 5 || strncasecmp(us, "https", 5) != 0) &&
	    (usl != 4 || strncasecmp(us, "http", 4) != 0))
		return 0;
	open = memchr(ta, '{', tal);
	if (open == NULL)
		return ual == tal && strncasecmp(ua, ta, ual) == 0;
	if ((close = memchr(open, '}', tal - (size_t)(open - ta))) == NULL)
		return 0;
	pre = (size_t)(open - ta);
	suf = tal - (size_t)(close + 1 - ta);
	if (ual <= pre + suf || strncasecmp(ua, ta, pre) != 0 ||
	    strncasecmp(ua + ual - suf, close + 1, suf) != 0)
		return 0;
	return label_ok(ua + pre, ual - pre - suf);
}

int
apx_url_base_ok(const char *v)
{
	const char *s, *a;
	size_t sl, al;

	if (v == NULL || split(v, &s, &sl, &a, &al) != 0)
		return 0;
	if (sl == 5 && strncmp(s, "https", 5) == 0)
		return 1;
	if (sl != 4 || strncmp(s, "http", 4) != 0)
		return 0;
	/* Plain http only to this machine (the test stand-ins). */
	return (al >= 9 && strncmp(a, "127.0.0.1", 9) == 0 &&
	    (al == 9 || a[9] == ':')) || (al >= 9 &&
	    strncmp(a, "localhost", 9) == 0 && (al == 9 || a[9] == ':')) ||
	    (al >= 5 && strncmp(a, "[::1]", 5) == 0 && (al == 5 ||
	    a[5] == ':'));
}


size_t
apx_url_encode(const char *s, char *d)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~')
			d[o++] = (char)ch;
		else {
			d[o++] = '%';
			d[o++] = hex[ch >> 4];
			d[o++] = hex[ch & 15];
		}
	}
	d[o] = '\0';
	return o;
}

int
apx_url_remote_ok(const char *url, int loopback_ok)
{
	char probe[2048 + 8];

	if (url == NULL || strlen(url) > 2048 || !apx_url_base_ok(url))
		return 0;
	if (loopback_ok)
		return 1;
	if (strncmp(url, "https://", 8) != 0)
		return 0;
	/* https to a loopback host: ask as if it were http */
	snprintf(probe, sizeof(probe), "http://%s", url + 8);
	return !apx_url_base_ok(probe);
}

int
apx_url_link_ok(const char *s, size_t max)
{
	const char *h = s + 8, *p;
	size_t hl, i;

	if (strncmp(s, "https://", 8) != 0 || strlen(s) > max)
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\"<>\\^`{|}", *p) != NULL)
			return 0;
	hl = strcspn(h, "/?#");
	if (hl == 0 || h[0] == ':' || h[0] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < hl && h[i] != ':'; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' &&
		    h[i] <= 'Z') || (h[i] >= '0' && h[i] <= '9') ||
		    h[i] == '.' || h[i] == '-'))
			return 0;
	if (i < hl) {
		/* a port: 1 to 5 digits */
		if (hl - i - 1 < 1 || hl - i - 1 > 5)
			return 0;
		for (i++; i < hl; i++)
			if (!(h[i] >= '0' && h[i] <= '9'))
				return 0;
	}
	return 1;
}
