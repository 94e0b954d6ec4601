#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/password.h"
#include "core/apx.h"

#include "auth/common_passwords.inc"

#define MIN_DISTINCT	5

static int	 cmp_word(const void *, const void *);
static int	 valid_utf8(const unsigned char *, size_t);
static void	 lower(char *, const char *, size_t);

void
apx_password_params_default(struct apx_pwparams *p)
{
	p->t = 2;
	p->m = 19u * 1024 * 1024;
}

static int
cmp_word(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(const char *const *)elem);
}

int
apx_password_is_common(const char *w, size_t len)
{
	char buf[APX_PASSWORD_MAX + 1];

	if (len == 0 || len > APX_PASSWORD_MAX)
		return 0;
	lower(buf, w, len);
	return bsearch(buf, common_passwords, APX_NELEM(common_passwords),
	    sizeof(common_passwords[0]), cmp_word) != NULL;
}

static void
lower(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[len] = '\0';
}

static int
valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned int cp;

	while (i < len) {
		if (s[i] < 0x80) {
			if (s[i] == 0)
				return 0;
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (i + n >= len)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
apx_password_check(const char *pw, size_t len, const char *email,
    const char *name, const char **reason)
{
	char low[APX_PASSWORD_MAX + 1], who[APX_PASSWORD_MAX + 1];
	unsigned char seen[256];
	const char *s, *e;
	size_t i, distinct = 0, n;
	int rc = APX_EINVAL;

	*reason = NULL;
	/* Bytes as received: no trimming, no normalisation. */
	if (len < APX_PASSWORD_MIN) {
		*reason = "The password must be at least 12 bytes long.";
		return APX_EINVAL;
	}
	if (len > APX_PASSWORD_MAX) {
		*reason = "The password must be at most 256 bytes long.";
		return APX_EINVAL;
	}
	if (!valid_utf8((const unsigned char *)pw, len)) {
		*reason = "The password must be valid UTF-8 without NUL bytes.";
		return APX_EINVAL;
	}
	lower(low, pw, len);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < len; i++) {
		if (!seen[(unsigned char)low[i]]++)
			distinct++;
	}
	if (distinct < MIN_DISTINCT) {
		*reason = "The password is too repetitive.";
		goto out;
	}
	/* A common password, alone or with digits and symbols around it. */
	for (s = low; *s != '\0' && !isalpha((unsigned char)*s); s++)
		;
	for (e = low + len; e > s && !isalpha((unsigned char)e[-1]); e--)
		;
	if (apx_password_is_common(low, len) ||
	    (e - s >= 4 && apx_password_is_common(s, (size_t)(e - s)))) {
		*reason = "The password is too common.";
		goto out;
	}
	/* The same short pattern over and over ("abcabcabcabc"). */
	for (n = 1; n <= len / 2; n++) {
		if (len % n != 0)
			continue;
		for (i = n; i < len && low[i] == low[i - n]; i++)
			;
		if (i == len) {
			*reason = "The password is too repetitive.";
			goto out;
		}
	}
	if (email != NULL && *email != '\0' && strlen(email) <= APX_PASSWORD_MAX) {
		const char *at = strchr(email, '@');
		size_t local = at != NULL ? (size_t)(at - email) : strlen(email);

		lower(who, email, strlen(email));
		if (strstr(low, who) != NULL) {
			*reason = "The password must not contain your email "
			    "address.";
			goto out;
		}
		who[local] = '\0';
		if (local >= 4 && strstr(low, who) != NULL) {
			*reason = "The password must not contain your email "
			    "address.";
			goto out;
		}
	}
	if (name != NULL && strlen(name) <= APX_PASSWORD_MAX) {
		size_t o = 0;

		/* The name without spaces: "Ada Lovelace" -> "adalovelace". */
		for (s = name; *s != '\0'; s++)
			if (!isspace((unsigned char)*s))
				who[o++] = (char)tolower((unsigned char)*s);
		who[o] = '\0';
		if (o >= 4 && strstr(low, who) != NULL) {
			*reason = "The password must not contain your name.";
			goto out;
		}
	}
	rc = 0;
out:
	apx_wipe(low, sizeof(low));
	apx_wipe(who, sizeof(who));
	return rc;
}

int
apx_password_hash(const struct apx_pwparams *p, const char *pw, size_t len,
    char out[APX_PASSWORD_HASH_MAX])
{
	if (crypto_pwhash_str_alg(out, pw, len, p->t, p->m,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return APX_ENOMEM;	/* libsodium fails only on memory */
	return 0;
}

int
apx_password_verify(const char *hash, const char *pw, size_t len)
{
	if (hash == NULL || strncmp(hash, "$argon2id$", 10) != 0)
		return APX_EUNAUTH;
	return crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : APX_EUNAUTH;
}

int
apx_password_needs_rehash(const char *hash, const struct apx_pwparams *p)
{
	return crypto_pwhash_str_needs_rehash(hash, p->t, p->m) != 0;
}

static char			 dummy[APX_PASSWORD_HASH_MAX];
static unsigned long long	 dummy_t;
static size_t			 dummy_m;

/*
 * The dummy is random bytes in the PHC form libsodium writes
 * ($argon2id$v=19$m=KiB,t=T,p=1$ 16-byte salt $ 32-byte hash, base64
 * without padding): its verification runs argon2id with exactly these
 * parameters, as a real hash's does, and matches no password.  Making it
 * costs no hash, so a worker starts without one.
 */
const char *
apx_password_dummy(const struct apx_pwparams *p)
{
	unsigned char salt[crypto_pwhash_SALTBYTES], h[32];
	char bsalt[sizeof(salt) * 4 / 3 + 4], bh[sizeof(h) * 4 / 3 + 4];
	int n;

	if (dummy[0] != '\0' && dummy_t == p->t && dummy_m == p->m)
		return dummy;
	apx_random(salt, sizeof(salt));
	apx_random(h, sizeof(h));
	sodium_bin2base64(bsalt, sizeof(bsalt), salt, sizeof(salt),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	sodium_bin2base64(bh, sizeof(bh), h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	/* v=19: argon2 1.3, the only version libsodium writes */
	n = snprintf(dummy, sizeof(dummy), "%sv=19$m=%zu,t=%llu,p=1$%s$%s",
	    crypto_pwhash_argon2id_STRPREFIX, p->m / 1024, p->t, bsalt, bh);
	if (n < 0 || (size_t)n >= sizeof(dummy)) {
		dummy[0] = '\0';
		return NULL;
	}
	dummy_t = p->t;
	dummy_m = p->m;
	return dummy;
}

void
apx_password_dummy_verify(const struct apx_pwparams *p, const char *pw,
    size_t len)
{
	const char *d;

	if ((d = apx_password_dummy(p)) != NULL)
		(void)apx_password_verify(d, pw, len);
}
