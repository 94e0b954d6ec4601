#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth/jwt.h"
#include "auth/keys.h"
#include "auth/session.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/settings.h"

#define LEEWAY		30
#define TOKEN_BYTES	32

static int	 unauthorized(struct apx_ctx *, const char *);

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
apx_session_hash_refresh(const char *tok, size_t len, unsigned char *hash)
{
	crypto_hash_sha256(hash, (const unsigned char *)tok, len);
}

int
apx_session_new_refresh(char *out, size_t outlen, unsigned char *hash)
{
	unsigned char raw[TOKEN_BYTES];

	if (outlen < sodium_base64_ENCODED_LEN(TOKEN_BYTES,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return APX_ETOOBIG;
	apx_random(raw, sizeof(raw));
	sodium_bin2base64(out, outlen, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	apx_wipe(raw, sizeof(raw));
	apx_session_hash_refresh(out, strlen(out), hash);
	return 0;
}

int
apx_session_authenticate(struct apx_ctx *c, struct apx_auth *a)
{
	const struct apx_jwt_keyring *kr;
	struct apx_jwt_expect ex;
	enum apx_jwt_reason why;
	const char *h, *tok = NULL;
	json_t *claims = NULL;
	long long uid, sid;
	int rc;

	memset(a, 0, sizeof(*a));
	if ((h = apx_req_header(c->req, "authorization")) != NULL) {
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return unauthorized(c, "Use a Bearer token.");
		tok = h + 7;
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

	if ((rc = apx_keys_get(c->db, c->conf, 0, &kr)) != 0)
		return rc;
	memset(&ex, 0, sizeof(ex));
	ex.typ = APX_ACCESS_TYP;
	ex.iss = c->conf->jwt_issuer;
	ex.aud = c->conf->jwt_audience;
	ex.now = apx_unix_now();
	ex.leeway = LEEWAY;
	ex.max_lifetime = 86400;
	rc = apx_jwt_verify(kr, tok, strlen(tok), &ex, &claims, &why);
	if (rc != 0 && why == APX_JWT_KID &&
	    apx_keys_get(c->db, c->conf, 1, &kr) == 0)
		rc = apx_jwt_verify(kr, tok, strlen(tok), &ex, &claims, &why);
	if (rc != 0) {
		apx_log_info("rid=%s token refused: %s", c->req->request_id,
		    apx_jwt_reason_str(why));
		return unauthorized(c, why == APX_JWT_EXPIRED ?
		    "The access token has expired." :
		    "The access token is not valid.");
	}
	if (apx_parse_ll(json_string_value(json_object_get(claims, "sub")) ?
	    json_string_value(json_object_get(claims, "sub")) : "", 1,
	    INT64_MAX, &uid) != 0 ||
	    !json_is_integer(json_object_get(claims, "sid")) ||
	    (sid = json_integer_value(json_object_get(claims, "sid"))) <= 0) {
		json_decref(claims);
		return unauthorized(c, "The access token is not valid.");
	}
	json_decref(claims);
	/* Logout and revocation take effect at once, not at expiry. */
	if ((rc = apx_session_user(c->db, c->req->arena, uid, sid, &a->user))
	    != 0)
		return rc == APX_EUNAUTH ? unauthorized(c,
		    "The session has ended.") : rc;
	a->uid = uid;
	a->sid = sid;
	return 0;
}

int
apx_session_answer_tokens(struct apx_ctx *c, const struct apx_user *u,
    int64_t sid, const char *refresh)
{
	const struct apx_jwt_keyring *kr;
	const struct apx_jwt_key *key;
	struct apx_cookie_opts co = { "/", 0, 1, 0 };
	unsigned char jti[16], csrf_raw[24];
	char jtis[33], csrf[48], uid[24], *access = NULL;
	long long life;
	int64_t now = apx_unix_now();
	json_t *claims;
	int rc;

	if ((rc = apx_keys_get(c->db, c->conf, 0, &kr)) != 0)
		return rc;
	if ((key = apx_jwt_keyring_current(kr)) == NULL &&
	    (apx_keys_get(c->db, c->conf, 1, &kr) != 0 ||
	    (key = apx_jwt_keyring_current(kr)) == NULL)) {
		apx_log_error("no signing key: run accupredix-admin jwt rotate");
		(void)apx_resp_header_set(c->resp, "Retry-After", "30");
		return apx_resp_problem(c->resp, 503, "signing-key-missing",
		    "Sign-in is not available right now.", NULL);
	}
	if ((rc = apx_settings_get_int(c->db, "access_token_lifetime", &life))
	    != 0)
		return rc;
	apx_random_id(jti, sizeof(jti));
	sodium_bin2hex(jtis, sizeof(jtis), jti, sizeof(jti));
	snprintf(uid, sizeof(uid), "%lld", (long long)u->id);
	claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:s}",
	    "iss", c->conf->jwt_issuer, "aud", c->conf->jwt_audience,
	    "sub", uid, "sid", (json_int_t)sid, "iat", (json_int_t)now,
	    "nbf", (json_int_t)now, "exp", (json_int_t)(now + life),
	    "jti", jtis);
	if (claims == NULL)
		return APX_ENOMEM;
	rc = apx_jwt_sign(key, APX_ACCESS_TYP, claims, &access);
	json_decref(claims);
	if (rc != 0)
		return rc;

	apx_random(csrf_raw, sizeof(csrf_raw));
	sodium_bin2base64(csrf, sizeof(csrf), csrf_raw, sizeof(csrf_raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	co.max_age = life;
	rc = apx_resp_cookie(c->resp, APX_COOKIE_ACCESS, access, &co);
	co.max_age = c->conf->refresh_lifetime;
	if (rc == 0)
		rc = apx_resp_cookie(c->resp, APX_COOKIE_REFRESH, refresh, &co);
	co.http_only = 0;	/* the page reads it to send X-CSRF-Token */
	if (rc == 0)
		rc = apx_resp_cookie(c->resp, APX_COOKIE_CSRF, csrf, &co);
	if (rc == 0)
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
