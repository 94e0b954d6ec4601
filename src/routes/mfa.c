/*
 * The second factor: GET|POST|DELETE /api/v1/me/mfa, POST
 * /api/v1/me/mfa/confirm and /api/v1/me/mfa/recovery-codes for the
 * signed-in user; POST /api/v1/auth/mfa, the second step of a sign-in
 * that answered {mfa_required, challenge}.
 *
 * Every wrong code counts as a failed login of the account from this
 * address (auth.c's throttle), so a stolen password buys no more guesses
 * at the code than at the password; a challenge also dies after
 * APX_MFA_TRIES wrong codes.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "auth/account.h"
#include "auth/mfa.h"
#include "auth/session.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/account.h"
#include "store/audit.h"
#include "store/identity.h"
#include "store/mfa.h"

#define MAX_CODE	64	/* a recovery code as typed, with spaces */
#define MAX_CHALLENGE	128

static void	 entry(struct apx_ctx *, struct apx_audit_entry *, int64_t,
		    const char *);
static const char *email_norm(struct apx_ctx *);
static const char *acct_key(struct apx_ctx *, const char *);
static int	 codes_answer(struct apx_ctx *,
		    char[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1]);
static int	 user_code(struct apx_ctx *, json_t *, const char **);
static int	 check_user_code(struct apx_ctx *, const char *);

/* A platform audit entry about user UID, by UID. */
static void
entry(struct apx_ctx *c, struct apx_audit_entry *e, int64_t uid,
    const char *action)
{
	memset(e, 0, sizeof(*e));
	e->log = APX_AUDIT_PLATFORM;
	e->actor_type = "user";
	e->actor_id = apx_arena_printf(c->req->arena, "%lld", (long long)uid);
	e->action = action;
	e->target = apx_arena_printf(c->req->arena, "user:%lld",
	    (long long)uid);
	e->client_addr = c->req->remote_addr;
	e->request_id = c->req->request_id;
}

/* The signed-in user's normalised address. */
static const char *
email_norm(struct apx_ctx *c)
{
	const char *en = apx_account_email_norm(c->req->arena,
	    c->auth->user.email);

	return en != NULL ? en : "";
}

/* The login throttle's key of account EN from this network (auth.c). */
static const char *
acct_key(struct apx_ctx *c, const char *en)
{
	return apx_arena_printf(c->req->arena, "%s|%s", en,
	    apx_route_client_net(c));
}

static int
codes_answer(struct apx_ctx *c,
    char codes[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1])
{
	json_t *a;
	int i, rc;

	if ((a = json_array()) == NULL)
		rc = APX_ENOMEM;
	else {
		for (i = 0; i < APX_MFA_RECOVERY_CODES; i++)
			json_array_append_new(a, json_string(codes[i]));
		rc = apx_resp_json(c->resp, 200, json_pack("{s:b,s:o}",
		    "enabled", 1, "recovery_codes", a));
	}
	apx_wipe(codes, sizeof(codes[0]) * APX_MFA_RECOVERY_CODES);
	return rc;
}

/* The "code" field of BODY: 0, or the 422 is set. */
static int
user_code(struct apx_ctx *c, json_t *body, const char **code)
{
	size_t len;

	if (apx_route_string(c, body, "code", MAX_CODE, 1, code, &len) != 0)
		return APX_EINVAL;
	if (strlen(*code) != len) {
		(void)apx_resp_problem(c->resp, 422, "invalid-field",
		    "This field is not a code.", "code");
		return APX_EINVAL;
	}
	return 0;
}

/*
 * The signed-in user's second factor CODE (TOTP or recovery code),
 * throttled like the password: 0, or the answer (409, 422, 429) is set
 * and APX_EINVAL returned, or another error.
 */
static int
check_user_code(struct apx_ctx *c, const char *code)
{
	struct apx_audit_entry e;
	const char *en = email_norm(c), *key = acct_key(c, en);
	int rc, hit;

	if ((rc = apx_route_throttled(c, key, &hit)) != 0)
		return rc;
	if (hit)
		return APX_EINVAL;
	entry(c, &e, c->auth->uid, "mfa.recovery_code_used");
	rc = apx_mfa_check(c, c->auth->uid, code, &e);
	if (rc == APX_ENOTFOUND) {
		(void)apx_resp_problem(c->resp, 409, "mfa-not-enabled",
		    "This account has no second factor.", NULL);
		return APX_EINVAL;
	}
	if (rc != APX_EUNAUTH)
		return rc;
	if ((rc = apx_route_login_failed(c, key, en)) != 0)
		return rc;
	(void)apx_resp_problem(c->resp, 422, "invalid-code",
	    "The code is wrong, was used already, or has expired.", "code");
	return APX_EINVAL;
}

/* GET /api/v1/me/mfa -> {enabled, confirmed_at, recovery_codes_left} */
int
apx_route_me_mfa_get(struct apx_ctx *c)
{
	json_t *o = NULL;
	int rc;

	if ((rc = apx_mfa_status(c->db, c->auth->uid, &o)) != 0)
		return rc;
	if (o == NULL)
		return APX_ENOTFOUND;
	return apx_resp_json(c->resp, 200, o);
}

/*
 * POST /api/v1/me/mfa {password}: a new key for the authenticator app,
 * shown once as {secret, otpauth_uri}; unconfirmed until its first code.
 * A second start replaces an unconfirmed key; a confirmed one -> 409.
 */
int
apx_route_me_mfa_start(struct apx_ctx *c)
{
	const struct apx_user *u = &c->auth->user;
	char secret[APX_TOTP_SECRET_B32];
	const char *pw = NULL, *uri = NULL;
	json_t *body;
	size_t len = 0;
	int rc;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "password", 1024,
	    u->password_hash != NULL, &pw, &len) != 0) {
		json_decref(body);
		return 0;
	}
	rc = apx_route_confirm_password(c, pw, len, "password");
	json_decref(body);
	if (rc != 0)
		return rc == APX_EINVAL ? 0 : rc;
	rc = apx_mfa_enrol(c, u, secret, &uri);
	if (rc == APX_ECONFLICT)
		return apx_resp_problem(c->resp, 409, "mfa-enabled",
		    "A second factor is set up already; remove it first.",
		    NULL);
	if (rc != 0)
		return rc;
	apx_log_info("rid=%s user %lld started setting up a second factor",
	    c->req->request_id, (long long)u->id);
	rc = apx_resp_json(c->resp, 200, json_pack("{s:s,s:s}", "secret",
	    secret, "otpauth_uri", uri));
	apx_wipe(secret, sizeof(secret));
	return rc;
}

/* POST /api/v1/me/mfa/confirm {code} -> the ten recovery codes, once. */
int
apx_route_me_mfa_confirm(struct apx_ctx *c)
{
	char codes[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1];
	struct apx_audit_entry e;
	const char *code, *en = email_norm(c), *key = acct_key(c, en);
	json_t *body;
	int rc, hit;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (user_code(c, body, &code) != 0) {
		json_decref(body);
		return 0;
	}
	if ((rc = apx_route_throttled(c, key, &hit)) != 0 || hit)
		goto out;
	entry(c, &e, c->auth->uid, "mfa.enabled");
	rc = apx_mfa_confirm(c, c->auth->uid, code, &e, codes);
	if (rc == APX_ENOTFOUND) {
		rc = apx_resp_problem(c->resp, 409, "mfa-not-started",
		    "Start the set-up first: POST /api/v1/me/mfa.", NULL);
		goto out;
	}
	if (rc == APX_ECONFLICT) {
		rc = apx_resp_problem(c->resp, 409, "mfa-enabled",
		    "A second factor is set up already.", NULL);
		goto out;
	}
	if (rc == APX_EUNAUTH) {
		if ((rc = apx_route_login_failed(c, key, en)) == 0)
			rc = apx_resp_problem(c->resp, 422, "invalid-code",
			    "The code is wrong or has expired: check the "
			    "clock of the device.", "code");
		goto out;
	}
	if (rc != 0)
		goto out;
	apx_log_info("rid=%s user %lld set up a second factor",
	    c->req->request_id, (long long)c->auth->uid);
	apx_route_notify(c, &c->auth->user, "mfa_added", NULL);
	rc = codes_answer(c, codes);
out:
	json_decref(body);
	return rc;
}

/*
 * DELETE /api/v1/me/mfa {password, code}: the second factor and its
 * recovery codes go. CODE is a TOTP code or a recovery code.
 */
int
apx_route_me_mfa_delete(struct apx_ctx *c)
{
	const struct apx_user *u = &c->auth->user;
	struct apx_audit_entry e;
	const char *pw = NULL, *code;
	json_t *body;
	size_t len = 0;
	int rc;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "password", 1024,
	    u->password_hash != NULL, &pw, &len) != 0 ||
	    user_code(c, body, &code) != 0) {
		json_decref(body);
		return 0;
	}
	if ((rc = apx_route_confirm_password(c, pw, len, "password")) != 0 ||
	    (rc = check_user_code(c, code)) != 0)
		goto out;
	entry(c, &e, u->id, "mfa.disabled");
	rc = apx_mfa_disable(c->db, u->id, &e);
	if (rc == APX_ENOTFOUND) {
		rc = apx_resp_problem(c->resp, 409, "mfa-not-enabled",
		    "This account has no second factor.", NULL);
		goto out;
	}
	if (rc != 0)
		goto out;
	apx_log_info("rid=%s user %lld removed the second factor",
	    c->req->request_id, (long long)u->id);
	apx_route_notify(c, u, "mfa_removed", NULL);
	c->resp->status = 204;
out:
	json_decref(body);
	return rc == APX_EINVAL ? 0 : rc;
}

/* POST /api/v1/me/mfa/recovery-codes {code}: ten new codes, the old void. */
int
apx_route_me_mfa_recovery(struct apx_ctx *c)
{
	char codes[APX_MFA_RECOVERY_CODES][APX_MFA_RECOVERY_LEN + 1];
	struct apx_audit_entry e;
	const char *code;
	json_t *body;
	int rc;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (user_code(c, body, &code) != 0) {
		json_decref(body);
		return 0;
	}
	if ((rc = check_user_code(c, code)) != 0)
		goto out;
	entry(c, &e, c->auth->uid, "mfa.recovery_codes_regenerated");
	rc = apx_mfa_recovery_renew(c, c->auth->uid, &e, codes);
	if (rc == APX_ENOTFOUND) {
		rc = apx_resp_problem(c->resp, 409, "mfa-not-enabled",
		    "This account has no second factor.", NULL);
		goto out;
	}
	if (rc == 0)
		rc = codes_answer(c, codes);
out:
	json_decref(body);
	return rc == APX_EINVAL ? 0 : rc;
}

/*
 * POST /api/v1/auth/mfa {challenge, code} or {challenge, recovery_code}:
 * the session, exactly as a login makes it (tokens in the body, cookies
 * for browsers), remembered as signed in with a second factor.
 */
int
apx_route_auth_mfa(struct apx_ctx *c)
{
	struct apx_mfa_challenge ch;
	struct apx_audit_entry e;
	struct apx_user u;
	unsigned char hash[APX_TOKEN_HASH_LEN], rhash[APX_TOKEN_HASH_LEN];
	const char *tok, *code = NULL, *rec = NULL, *key, *ua;
	char refresh[64];
	json_t *body;
	size_t tlen, clen = 0, rlen = 0;
	int64_t sid;
	int rc, hit;

	refresh[0] = '\0';
	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "challenge", MAX_CHALLENGE, 1, &tok,
	    &tlen) != 0 ||
	    apx_route_string(c, body, "code", MAX_CODE, 0, &code, &clen) != 0 ||
	    apx_route_string(c, body, "recovery_code", MAX_CODE, 0, &rec,
	    &rlen) != 0) {
		rc = 0;
		goto out;
	}
	if ((code == NULL) == (rec == NULL) || (code != NULL ? strlen(code) !=
	    clen : strlen(rec) != rlen)) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "Send either a code or a recovery_code.", rec != NULL &&
		    code == NULL ? "recovery_code" : "code");
		goto out;
	}
	apx_session_hash_token(tok, tlen, hash);
	rc = apx_mfa_challenge_find(c->db, c->req->arena, hash, APX_MFA_TRIES,
	    &ch);
	if (rc == APX_ENOTFOUND)
		goto expired;
	if (rc != 0)
		goto out;
	key = acct_key(c, ch.email_norm);
	if ((rc = apx_route_throttled(c, key, &hit)) != 0 || hit)
		goto out;
	entry(c, &e, ch.uid, "mfa.recovery_code_used");
	rc = apx_mfa_check(c, ch.uid, code != NULL ? code : rec, &e);
	if (rc == APX_ENOTFOUND)
		goto expired;	/* the second factor went meanwhile */
	if (rc == APX_EUNAUTH) {
		entry(c, &e, ch.uid, "mfa.challenge_failed");
		if ((rc = apx_mfa_challenge_fail(c->db, ch.id)) != 0 ||
		    (rc = apx_route_login_failed(c, key, ch.email_norm)) != 0 ||
		    (rc = apx_audit_append(c->db, &e)) != 0)
			goto out;
		apx_log_info("rid=%s user %lld: wrong second factor",
		    c->req->request_id, (long long)ch.uid);
		(void)apx_resp_header_set(c->resp, "WWW-Authenticate",
		    "Bearer realm=\"accupredix\"");
		rc = apx_resp_problem(c->resp, 401, "invalid-code",
		    "The code is wrong, was used already, or has expired.",
		    code != NULL ? "code" : "recovery_code");
		goto out;
	}
	if (rc != 0)
		goto out;
	/* Spent once: a second request with the same challenge loses. */
	if ((rc = apx_mfa_challenge_spend(c->db, ch.id, APX_MFA_TRIES)) ==
	    APX_ENOTFOUND)
		goto expired;
	if (rc != 0 ||
	    (rc = apx_user_by_id(c->db, c->req->arena, ch.uid, &u)) != 0 ||
	    (rc = apx_throttle_clear(c->db, "acct_addr", key)) != 0 ||
	    (rc = apx_throttle_clear(c->db, APX_THROTTLE_ACCOUNT,
	    ch.email_norm)) != 0 ||
	    (rc = apx_session_new_token(refresh, sizeof(refresh), rhash)) != 0)
		goto out;
	ua = apx_req_header(c->req, "user-agent");
	if ((rc = apx_session_create(c->db, u.id, ua != NULL ? ua : "",
	    c->req->remote_addr, apx_arena_printf(c->req->arena, "%s+otp",
	    ch.amr), c->conf->refresh_lifetime, rhash, &sid)) != 0)
		goto out;
	apx_log_info("rid=%s user %lld signed in with a second factor",
	    c->req->request_id, (long long)u.id);
	apx_route_signed_in(c, &u, strcmp(ch.amr, "oidc") == 0 ?
	    "sign-in provider and second factor" :
	    "password and second factor");
	rc = apx_session_answer_tokens(c, &u, sid, refresh);
	goto out;
expired:
	(void)apx_resp_header_set(c->resp, "WWW-Authenticate",
	    "Bearer realm=\"accupredix\"");
	rc = apx_resp_problem(c->resp, 401, "invalid-challenge",
	    "This sign-in has expired or was used; sign in again.",
	    "challenge");
out:
	apx_wipe(refresh, sizeof(refresh));
	json_decref(body);
	return rc;
}
