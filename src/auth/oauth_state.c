/* The OAuth state store (oauth_state.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/oauth_state.h"
#include "core/apx.h"
#include "core/arena.h"
#include "core/log.h"
#include "http/ctx.h"
#include "store/connect.h"
#include "vault/vault.h"

#define BROWSER_BYTES	32
#define STATE_BYTES	32
#define STATE_OWNER	"platform"
#define STATE_PURPOSE	"oauth-state"

static void	 b64url(const unsigned char *, size_t, char *, size_t);
static int	 well_formed(const char *, size_t);
static void	 record_of(const unsigned char *, char *);

static void
b64url(const unsigned char *b, size_t n, char *out, size_t outlen)
{
	sodium_bin2base64(out, outlen, b, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* LEN characters of the base64url alphabet and nothing else. */
static int
well_formed(const char *s, size_t len)
{
	size_t i;

	if (s == NULL || strlen(s) != len)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* The vault record id of a state's data: the first 16 bytes of its hash
 * in hex (the state itself is never stored). */
static void
record_of(const unsigned char *hash, char *out)
{
	sodium_bin2hex(out, 33, hash, 16);
}

int
apx_oauth_browser(struct apx_ctx *c, int with_new, const char **value)
{
	return apx_oauth_browser_as(c, APX_OAUTH_COOKIE, APX_SAMESITE_LAX,
	    with_new, value);
}

int
apx_oauth_browser_as(struct apx_ctx *c, const char *cookie, int same_site,
    int with_new, const char **value)
{
	struct apx_cookie_opts o = { "/", APX_OAUTH_TTL_MAX, 1, same_site };
	unsigned char raw[BROWSER_BYTES];
	char buf[APX_OAUTH_STATE_LEN + 1];
	const char *v;
	int rc;

	*value = NULL;
	v = apx_req_cookie(c->req, cookie);
	if (v != NULL && well_formed(v, APX_OAUTH_STATE_LEN)) {
		*value = v;
		return 0;
	}
	if (!with_new)
		return APX_EUNAUTH;
	apx_random(raw, sizeof(raw));
	b64url(raw, sizeof(raw), buf, sizeof(buf));
	apx_wipe(raw, sizeof(raw));
	if ((*value = apx_arena_strdup(c->req->arena, buf)) == NULL)
		return APX_ENOMEM;
	rc = apx_resp_cookie(c->resp, cookie, buf, &o);
	apx_wipe(buf, sizeof(buf));
	return rc;
}

int
apx_oauth_state_create(struct apx_db *db, struct apx_vault *v,
    const char *browser, const char *purpose, int64_t org, int64_t user,
    const char *data, int ttl, char *out)
{
	unsigned char raw[STATE_BYTES], sh[32], bh[32], *sealed = NULL;
	char rec[33];
	size_t slen = 0;
	int rc;

	out[0] = '\0';
	if (!well_formed(browser, APX_OAUTH_STATE_LEN) || purpose == NULL ||
	    strlen(purpose) > APX_OAUTH_PURPOSE_MAX || ttl < 1 ||
	    ttl > APX_OAUTH_TTL_MAX)
		return APX_EINVAL;
	apx_random(raw, sizeof(raw));
	b64url(raw, sizeof(raw), out, APX_OAUTH_STATE_LEN + 1);
	apx_wipe(raw, sizeof(raw));
	crypto_hash_sha256(sh, (const unsigned char *)out, strlen(out));
	crypto_hash_sha256(bh, (const unsigned char *)browser,
	    strlen(browser));
	if (data != NULL) {
		record_of(sh, rec);
		if ((rc = apx_vault_seal(v, db, STATE_OWNER, STATE_PURPOSE, rec,
		    data, strlen(data), &sealed, &slen)) != 0)
			goto out;
	}
	rc = apx_state_insert(db, sh, bh, purpose, org, user, sealed, slen,
	    ttl);
out:
	free(sealed);
	if (rc != 0)
		apx_wipe(out, APX_OAUTH_STATE_LEN + 1);
	return rc;
}

int
apx_oauth_state_consume(struct apx_db *db, struct apx_vault *v,
    const char *browser, const char *purpose, const char *state,
    struct apx_oauth_state *out)
{
	unsigned char sh[32], bh[32], *sealed = NULL, *plain = NULL;
	char rec[33];
	const char *why = NULL;
	size_t slen = 0, plen = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!well_formed(state, APX_OAUTH_STATE_LEN)) {
		apx_log_info("oauth state refused: malformed");
		return APX_EUNAUTH;
	}
	if (!well_formed(browser, APX_OAUTH_STATE_LEN)) {
		apx_log_info("oauth state refused: no browser binding cookie");
		return APX_EUNAUTH;
	}
	crypto_hash_sha256(sh, (const unsigned char *)state, strlen(state));
	crypto_hash_sha256(bh, (const unsigned char *)browser,
	    strlen(browser));
	rc = apx_state_take(db, sh, bh, purpose, &out->org, &out->user,
	    &sealed, &slen, &why);
	if (rc == APX_EUNAUTH) {
		apx_log_info("oauth state refused for %s: %s", purpose, why);
		return rc;
	}
	if (rc != 0 || sealed == NULL)
		goto out;
	record_of(sh, rec);
	if ((rc = apx_vault_open(v, db, STATE_OWNER, STATE_PURPOSE, rec,
	    sealed, slen, &plain, &plen)) != 0)
		goto out;
	out->data = (char *)plain;
	plain = NULL;
out:
	free(sealed);
	if (rc != 0)
		apx_oauth_state_clear(out);
	return rc;
}

void
apx_oauth_state_clear(struct apx_oauth_state *s)
{
	if (s->data != NULL) {
		apx_wipe(s->data, strlen(s->data));
		free(s->data);
	}
	memset(s, 0, sizeof(*s));
}

void
apx_oauth_pkce(char *verifier, char *challenge)
{
	unsigned char raw[32], h[32];

	apx_random(raw, sizeof(raw));
	b64url(raw, sizeof(raw), verifier, 44);
	apx_wipe(raw, sizeof(raw));
	crypto_hash_sha256(h, (const unsigned char *)verifier,
	    strlen(verifier));
	b64url(h, sizeof(h), challenge, 44);
}
