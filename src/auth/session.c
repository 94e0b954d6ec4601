#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/apikey.h"
#include "auth/authcache.h"
#include "auth/jwt.h"
#include "auth/keys.h"
#include "auth/session.h"
#include "authz/perm.h"
#include "core/log.h"
#include "http/ctx.h"
#include "store/admin.h"
#include "store/apikeys.h"
#include "store/settings.h"

#define LEEWAY		30
#define TOKEN_BYTES	32

static int	 unauthorized(struct apx_ctx *, const char *);
static int	 apikey_auth(struct apx_ctx *, const char *, struct apx_auth *);
static int	 claims_id(json_t *, const char *, int64_t *);

/*
 * Verified access tokens, per worker. The ES256 check is the costliest
 * step of an authenticated request and a client sends the same token until
 * it expires, so a verified token's identities are kept by the token's
 * SHA-256: an entry counts only for the keyring generation that verified
 * it (a reload or rotation forgets it) and only until the token's exp.
 * The session or impersonation grant is still read from the database on
 * every request.
 */
#define VERIFIED_SLOTS	256

struct verified {
	unsigned char	 hash[32];
	uint64_t	 gen;		/* 0: empty */
	int64_t		 exp;
	int64_t		 uid;
	int64_t		 sid;		/* user tokens */
	int64_t		 imp;		/* impersonation grant, or 0 */
	int64_t		 op;		/* its operator */
};

static struct verified verified[VERIFIED_SLOTS];

static int	 token_ids(struct apx_ctx *, const char *, struct verified *);
static int	 org_route(const struct apx_ctx *, const char **, int64_t *);

/* An organisation route with a well-formed {org} (and {ws}, if any)? */
static int
org_route(const struct apx_ctx *c, const char **slug, int64_t *ws)
{
	const struct apx_perm *p = c->perm;
	const char *w = apx_req_param(c->req, "ws");
	long long v = 0;

	*slug = NULL;
	*ws = 0;
	if (p == NULL || p->scope != APX_SCOPE_ORG ||
	    !apx_org_slug_valid(apx_req_param(c->req, "org")) ||
	    (w != NULL && apx_parse_ll(w, 1, INT64_MAX, &v) != 0))
		return 0;
	*slug = apx_req_param(c->req, "org");
	*ws = v;
	return 1;
}
static int	 token_claims(json_t *, struct verified *);

/* The identities an access token carries; APX_EINVAL if malformed. */
static int
token_claims(json_t *claims, struct verified *t)
{
	json_t *exp = json_object_get(claims, "exp");

	if (claims_id(claims, "sub", &t->uid) != 0 || !json_is_integer(exp))
		return APX_EINVAL;
	t->exp = json_integer_value(exp);
	if (json_object_get(claims, "imp") != NULL)
		return claims_id(claims, "imp", &t->imp) != 0 ||
		    claims_id(json_object_get(claims, "act"), "sub", &t->op) !=
		    0 ? APX_EINVAL : 0;
	return claims_id(claims, "sid", &t->sid);
}

/* Verify TOK (or find it verified); on refusal the 401 is set. */
static int
token_ids(struct apx_ctx *c, const char *tok, struct verified *t)
{
	const struct apx_jwt_keyring *kr;
	struct apx_jwt_expect ex;
	enum apx_jwt_reason why;
	struct verified *slot;
	json_t *claims = NULL;
	unsigned char h[32];
	uint64_t gen;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = apx_keys_get(c->db, c->conf, 0, &kr)) != 0)
		return rc;
	gen = apx_keys_generation();
	apx_session_hash_token(tok, strlen(tok), h);
	slot = &verified[(h[0] | (unsigned)h[1] << 8) % VERIFIED_SLOTS];
	ex.now = apx_unix_now();
	if (slot->gen == gen && apx_ct_equal(slot->hash, 32, h, 32) &&
	    ex.now <= slot->exp + LEEWAY) {
		*t = *slot;
		return 0;
	}
	ex.typ = APX_ACCESS_TYP;
	ex.iss = c->conf->jwt_issuer;
	ex.aud = c->conf->jwt_audience;
	ex.leeway = LEEWAY;
	ex.max_lifetime = 86400;
	rc = apx_jwt_verify(kr, tok, strlen(tok), &ex, &claims, &why);
	if (rc != 0 && why == APX_JWT_KID &&
	    apx_keys_get(c->db, c->conf, 1, &kr) == 0) {
		gen = apx_keys_generation();
		rc = apx_jwt_verify(kr, tok, strlen(tok), &ex, &claims, &why);
	}
	if (rc != 0) {
		apx_log_info("rid=%s token refused: %s", c->req->request_id,
		    apx_jwt_reason_str(why));
		return unauthorized(c, why == APX_JWT_EXPIRED ?
		    "The access token has expired." :
		    "The access token is not valid.");
	}
	rc = token_claims(claims, t);
	json_decref(claims);
	if (rc != 0)
		return unauthorized(c, "The access token is not valid.");
	memcpy(t->hash, h, sizeof(h));
	t->gen = gen;
	*slot = *t;
	return 0;
}

/* A positive integer claim, or a decimal string of one ("sub"). */
static int
claims_id(json_t *claims, const char *name, int64_t *out)
{
	json_t *v = json_object_get(claims, name);
	long long n;

	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && apx_parse_ll(json_string_value(v), 1,
	    INT64_MAX, &n) == 0) {
		*out = n;
		return 0;
	}
	return APX_EINVAL;
}

/*
 * An API key: found by its prefix, the hash of the whole key compared in
 * constant time with the current secret's and, during a rotation's grace
 * period, the previous one's.
 */
static int
apikey_auth(struct apx_ctx *c, const char *tok, struct apx_auth *a)
{
	static const unsigned char nohash[APX_APIKEY_HASH_LEN];
	unsigned char h[APX_APIKEY_HASH_LEN];
	char prefix[APX_APIKEY_PREFIX_LEN + 1];
	struct apx_apikey_auth k;
	struct apx_apikey_times t;
	const char *slug = NULL;
	int64_t ws = 0;
	int rc, ok, touch = 1, with_org = 0;

	if (apx_apikey_parse(tok, strlen(tok), prefix) != 0)
		return unauthorized(c, "The API key is not valid.");
	apx_apikey_hash(tok, strlen(tok), h);
	rc = apx_authcache_apikey(prefix, c->req->arena, &k, &touch);
	if (rc == APX_ENOTFOUND) {
		/* on an org route the org comes in the same round trip */
		(void)org_route(c, &slug, &ws);
		rc = apx_apikey_lookup(c->db, c->req->arena, prefix, slug, ws,
		    &k, &t, &a->org);
		if (rc == 0 && k.live)
			apx_authcache_apikey_put(prefix, &k, &t);
		with_org = rc == 0 && slug != NULL;
		if (with_org && a->org.id > 0 && a->org.role != APX_ROLE_NONE)
			apx_authcache_org_put(slug, k.holder.id, ws, ws > 0 ? ws :
			    k.workspace_id, &a->org);
	}
	if (rc == APX_ENOTFOUND) {
		/* The same comparison work as for a known prefix. */
		(void)apx_apikey_hash_equal(h, nohash);
		apx_wipe(h, sizeof(h));
		return unauthorized(c, "The API key is not valid.");
	}
	if (rc != 0) {
		apx_wipe(h, sizeof(h));
		return rc;
	}
	ok = apx_apikey_hash_equal(h, k.hash);
	ok |= apx_apikey_hash_equal(h, k.previous_hash) & k.previous_ok;
	apx_wipe(h, sizeof(h));
	if (!ok || !k.live) {
		apx_log_info("rid=%s API key %s refused: %s",
		    c->req->request_id, prefix, !ok ? "wrong secret" :
		    "revoked or expired");
		return unauthorized(c, "The API key is not valid.");
	}
	a->kind = APX_AUTH_APIKEY;
	a->key_id = k.id;
	a->key_org = k.org_id;
	a->key_ws = k.workspace_id;
	a->key_role = k.role;
	a->key_creator_role = k.creator_role;
	a->uid = k.holder.id;
	a->user = k.holder;
	a->org_ready = with_org;
	/* its last use is written after the answer (worker.c) */
	if (touch)
		c->touch_key = k.id;
	return 0;
}

static int
unauthorized(struct apx_ctx *c, const char *detail)
{
	(void)apx_resp_header_set(c->resp, "WWW-Authenticate",
	    "Bearer realm=\"accupredix\"");
	(void)apx_resp_problem(c->resp, 401, "unauthenticated", detail, NULL);
	return APX_EUNAUTH;
}

/* Cookie-authenticated writes must come from our own pages. */
int
apx_session_origin_ok(const struct apx_ctx *c)
{
	const char *o = apx_req_header(c->req, "origin");

	if (o == NULL)
		return 0;
	if (c->conf->public_origin != NULL &&
	    strcmp(o, c->conf->public_origin) == 0)
		return 1;
	return apx_strlist_has(&c->conf->cors_origins, o);
}

void
apx_session_hash_token(const char *tok, size_t len, unsigned char *hash)
{
	crypto_hash_sha256(hash, (const unsigned char *)tok, len);
}

/* The key of a successor kept for a second tab: only a holder of OLD
 * can make it. */
static void
successor_key(const char *old, size_t len,
    unsigned char key[crypto_secretbox_KEYBYTES])
{
	static const char label[] = "accupredix refresh successor";
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)label,
	    sizeof(label));
	crypto_hash_sha256_update(&st, (const unsigned char *)old, len);
	crypto_hash_sha256_final(&st, key);
}

int
apx_session_seal_successor(const char *old, size_t oldlen, const char *next,
    unsigned char **out, size_t *outlen)
{
	unsigned char key[crypto_secretbox_KEYBYTES], *b;
	size_t n = strlen(next);

	*out = NULL;
	*outlen = 0;
	if (n > 128)
		return APX_ETOOBIG;
	if ((b = malloc(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES
	    + n)) == NULL)
		return APX_ENOMEM;
	successor_key(old, oldlen, key);
	apx_random(b, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES,
	    (const unsigned char *)next, n, b, key);
	apx_wipe(key, sizeof(key));
	*out = b;
	*outlen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	return 0;
}

int
apx_session_open_successor(const char *old, size_t oldlen,
    const unsigned char *in, size_t len, char *next, size_t cap)
{
	unsigned char key[crypto_secretbox_KEYBYTES];
	size_t n;
	int rc;

	if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES ||
	    (n = len - crypto_secretbox_NONCEBYTES -
	    crypto_secretbox_MACBYTES) >= cap)
		return APX_EINVAL;
	successor_key(old, oldlen, key);
	rc = crypto_secretbox_open_easy((unsigned char *)next,
	    in + crypto_secretbox_NONCEBYTES, len - crypto_secretbox_NONCEBYTES,
	    in, key) == 0 ? 0 : APX_ECRYPTO;
	apx_wipe(key, sizeof(key));
	next[rc == 0 ? n : 0] = '\0';
	return rc;
}

int
apx_session_new_token(char *out, size_t outlen, unsigned char *hash)
{
	unsigned char raw[TOKEN_BYTES];

	if (outlen < sodium_base64_ENCODED_LEN(TOKEN_BYTES,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return APX_ETOOBIG;
	apx_random(raw, sizeof(raw));
	sodium_bin2base64(out, outlen, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	apx_wipe(raw, sizeof(raw));
	apx_session_hash_token(out, strlen(out), hash);
	return 0;
}

int
apx_session_authenticate(struct apx_ctx *c, struct apx_auth *a)
{
	struct verified t;
	const char *h, *tok = NULL, *slug = NULL;
	int64_t ws = 0, expires = 0;
	int rc;

	memset(a, 0, sizeof(*a));
	apx_authcache_sync(c->db);
	if ((h = apx_req_header(c->req, "authorization")) != NULL) {
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return unauthorized(c, "Use a Bearer token.");
		tok = h + 7;
		if (apx_apikey_looks_like(tok, strlen(tok)))
			return apikey_auth(c, tok, a);
	} else if ((tok = apx_req_cookie(c->req, APX_COOKIE_ACCESS)) != NULL)
		a->via_cookie = 1;
	if (tok == NULL || *tok == '\0')
		return unauthorized(c, "Sign in first.");

	if (a->via_cookie && !(c->req->method & (APX_M_GET | APX_M_HEAD |
	    APX_M_OPTIONS))) {
		const char *want = apx_req_cookie(c->req, APX_COOKIE_CSRF);
		const char *got = apx_req_header(c->req, "x-csrf-token");

		if (want == NULL || got == NULL || strlen(want) < 16 ||
		    !apx_ct_equal(want, strlen(want), got, strlen(got))) {
			(void)apx_resp_problem(c->resp, 403, "csrf-failed",
			    "The X-CSRF-Token header must match the CSRF "
			    "cookie.", NULL);
			return APX_EUNAUTH;
		}
		if (!apx_session_origin_ok(c)) {
			(void)apx_resp_problem(c->resp, 403, "origin-refused",
			    "This origin may not change anything here.", NULL);
			return APX_EUNAUTH;
		}
	}

	if ((rc = token_ids(c, tok, &t)) != 0)
		return rc;
	if (t.imp > 0) {
		/* An impersonation: its grant must still be open. */
		rc = a->via_cookie ? APX_EUNAUTH : apx_impersonation_user(c->db,
		    c->req->arena, t.imp, t.uid, t.op, &a->user);
		if (rc != 0)
			return rc == APX_EUNAUTH ? unauthorized(c,
			    "The impersonation has ended.") : rc;
		a->kind = APX_AUTH_IMPERSONATION;
		a->uid = t.uid;
		a->imp_id = t.imp;
		a->operator_id = t.op;
		return 0;
	}
	/*
	 * Logout and revocation take effect at once, not at expiry: the
	 * session is read from the database, or from the worker's cache that
	 * the database empties on any such change (auth/authcache.h). On an
	 * organisation route the org and the membership come with it, in
	 * the same round trip (authz applies them).
	 */
	(void)org_route(c, &slug, &ws);
	rc = apx_authcache_session(t.uid, t.sid, slug, ws, c->req->arena,
	    &a->user, &a->org);
	if (rc == APX_ENOTFOUND) {
		if (slug != NULL)
			rc = apx_session_user_org(c->db, c->req->arena, t.uid,
			    t.sid, slug, ws, &a->user, &a->org, &expires);
		else
			rc = apx_session_user(c->db, c->req->arena, t.uid,
			    t.sid, &a->user, &expires);
		/* only what lets the request in is kept */
		if (rc == 0 && (slug == NULL || (a->org.id > 0 &&
		    a->org.role != APX_ROLE_NONE && !a->org.mfa_refused)))
			apx_authcache_session_put(t.uid, t.sid, slug, ws,
			    &a->user, &a->org, expires);
	}
	if (rc != 0)
		return rc == APX_EUNAUTH ? unauthorized(c,
		    "The session has ended.") : rc;
	a->org_ready = slug != NULL;
	a->kind = APX_AUTH_USER;
	a->uid = t.uid;
	a->sid = t.sid;
	return 0;
}

/*
 * Sign an access token for USER/SID and set the three cookies (access,
 * refresh, CSRF). *ACCESS (malloc'd; the caller wipes it), CSRF and *LIFE
 * for an answer that also carries them. A problem is set when the signing
 * key is missing.
 */
static int	 answer(struct apx_ctx *, const struct apx_user *, int64_t,
		    const char *, const char *);

static int
issue(struct apx_ctx *c, const struct apx_user *u, int64_t sid,
    const char *refresh, char **access, char *csrf, size_t csrflen,
    long long *life)
{
	const struct apx_jwt_keyring *kr;
	const struct apx_jwt_key *key;
	struct apx_cookie_opts co = { "/", 0, 1, 0 };
	unsigned char jti[16], csrf_raw[24];
	char jtis[33], uid[24];
	int64_t now = apx_unix_now();
	json_t *claims;
	int rc;

	*access = NULL;
	if ((rc = apx_keys_get(c->db, c->conf, 0, &kr)) != 0)
		return rc;
	if ((key = apx_jwt_keyring_current(kr)) == NULL &&
	    (apx_keys_get(c->db, c->conf, 1, &kr) != 0 ||
	    (key = apx_jwt_keyring_current(kr)) == NULL)) {
		apx_log_error("no signing key: run accupredix-admin jwt rotate");
		(void)apx_resp_header_set(c->resp, "Retry-After", "30");
		(void)apx_resp_problem(c->resp, 503, "signing-key-missing",
		    "Sign-in is not available right now.", NULL);
		return APX_ENOKEY;
	}
	if ((rc = apx_settings_get_int(c->db, "access_token_lifetime", life))
	    != 0)
		return rc;
	apx_random_id(jti, sizeof(jti));
	sodium_bin2hex(jtis, sizeof(jtis), jti, sizeof(jti));
	snprintf(uid, sizeof(uid), "%lld", (long long)u->id);
	claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}",
	    "iss", c->conf->jwt_issuer, "aud", c->conf->jwt_audience,
	    "sub", uid, "sid", (json_int_t)sid, "iat", (json_int_t)now,
	    "nbf", (json_int_t)now, "exp", (json_int_t)(now + *life),
	    "jti", jtis);
	if (claims == NULL)
		return APX_ENOMEM;
	rc = apx_jwt_sign(key, APX_ACCESS_TYP, claims, access);
	json_decref(claims);
	if (rc != 0)
		return rc;

	apx_random(csrf_raw, sizeof(csrf_raw));
	sodium_bin2base64(csrf, csrflen, csrf_raw, sizeof(csrf_raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	co.max_age = *life;
	rc = apx_resp_cookie(c->resp, APX_COOKIE_ACCESS, *access, &co);
	co.max_age = c->conf->refresh_lifetime;
	if (rc == 0)
		rc = apx_resp_cookie(c->resp, APX_COOKIE_REFRESH, refresh, &co);
	co.http_only = 0;	/* the page reads it to send X-CSRF-Token */
	if (rc == 0)
		rc = apx_resp_cookie(c->resp, APX_COOKIE_CSRF, csrf, &co);
	if (rc != 0) {
		apx_wipe(*access, strlen(*access));
		free(*access);
		*access = NULL;
	}
	return rc;
}

int
apx_session_answer_tokens(struct apx_ctx *c, const struct apx_user *u,
    int64_t sid, const char *refresh)
{
	return answer(c, u, sid, refresh, NULL);
}

int
apx_session_redirect(struct apx_ctx *c, const struct apx_user *u,
    int64_t sid, const char *refresh, const char *location)
{
	return answer(c, u, sid, refresh, location);
}

/* The tokens as JSON (LOCATION NULL), or a 303 to LOCATION with the
 * cookies only. */
static int
answer(struct apx_ctx *c, const struct apx_user *u, int64_t sid,
    const char *refresh, const char *location)
{
	char csrf[48], *access = NULL;
	long long life;
	int rc;

	if ((rc = issue(c, u, sid, refresh, &access, csrf, sizeof(csrf),
	    &life)) != 0)
		return rc == APX_ENOKEY ? 0 : rc;
	if (location != NULL) {
		if ((rc = apx_resp_header_set(c->resp, "Location", location))
		    == 0) {
			c->resp->no_store = 1;
			c->resp->status = 303;
		}
	} else
		rc = apx_resp_json(c->resp, 200, json_pack(
		    "{s:s,s:s,s:I,s:s,s:s,s:{s:I,s:s,s:s}}",
		    "access_token", access, "token_type", "Bearer",
		    "expires_in", (json_int_t)life, "refresh_token", refresh,
		    "csrf_token", csrf, "user", "id", (json_int_t)u->id,
		    "email", u->email, "name", u->name));
	apx_wipe(access, strlen(access));
	free(access);
	return rc;
}

void
apx_session_clear_cookies(struct apx_ctx *c)
{
	struct apx_cookie_opts co = { "/", 0, 1, 0 };

	(void)apx_resp_cookie(c->resp, APX_COOKIE_ACCESS, "", &co);
	(void)apx_resp_cookie(c->resp, APX_COOKIE_REFRESH, "", &co);
	co.http_only = 0;
	(void)apx_resp_cookie(c->resp, APX_COOKIE_CSRF, "", &co);
}

int
apx_session_impersonation_token(struct apx_ctx *c, int64_t uid,
    int64_t operator_id, int64_t imp_id, int64_t life, char **out)
{
	const struct apx_jwt_keyring *kr;
	const struct apx_jwt_key *key;
	unsigned char jti[16];
	char jtis[33], sub[24], op[24];
	int64_t now = apx_unix_now();
	json_t *claims;
	int rc;

	*out = NULL;
	if ((rc = apx_keys_get(c->db, c->conf, 0, &kr)) != 0)
		return rc;
	if ((key = apx_jwt_keyring_current(kr)) == NULL)
		return APX_ECONFIG;
	apx_random_id(jti, sizeof(jti));
	sodium_bin2hex(jtis, sizeof(jtis), jti, sizeof(jti));
	snprintf(sub, sizeof(sub), "%lld", (long long)uid);
	snprintf(op, sizeof(op), "%lld", (long long)operator_id);
	/* RFC 8693 "act": the party acting on the subject's behalf. */
	claims = json_pack("{s:s,s:s,s:s,s:{s:s},s:I,s:I,s:I,s:I,s:s}",
	    "iss", c->conf->jwt_issuer, "aud", c->conf->jwt_audience,
	    "sub", sub, "act", "sub", op, "imp", (json_int_t)imp_id,
	    "iat", (json_int_t)now, "nbf", (json_int_t)now,
	    "exp", (json_int_t)(now + life), "jti", jtis);
	if (claims == NULL)
		return APX_ENOMEM;
	rc = apx_jwt_sign(key, APX_ACCESS_TYP, claims, out);
	json_decref(claims);
	return rc;
}
