/*
 * POST /api/v1/auth/register | login | refresh | logout
 *
 * Login throttling happens before any hash is computed: per account and
 * client network (5 failures in 15 minutes) and per network (30), where a
 * network is an IPv4 address or an IPv6 /64 (one host holds a whole /64).
 * Past auth.login_delay_after failures of one account from anywhere, each
 * further attempt waits twice as long (429 with Retry-After), except from
 * a network the account has signed in from before: nobody can lock the
 * owner out from elsewhere.
 *
 * Registration answers 202 the same way for a new and a taken address
 * (the mailbox learns which), after a per-address and per-network
 * throttle and with the same hashing work on both paths.
 */
#include "config.h"

#include <string.h>

#include "auth/account.h"
#include "auth/mail.h"
#include "auth/mfa.h"
#include "auth/password.h"
#include "auth/session.h"
#include "auth/signin.h"
#include "authz/authz.h"
#include "authz/cidr.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/account.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/privacy.h"
#include "store/identity.h"
#include "store/settings.h"

#define WINDOW		900
#define LIMIT_ACCT_ADDR	5
#define LIMIT_ADDR	30
#define MAX_EMAIL	APX_EMAIL_MAX
#define MAX_NAME	200
#define REAUTH_WINDOW	600	/* a fresh sign-in stands for no password */
#define REG_WINDOW	3600
#define LIMIT_REG_EMAIL	3	/* registrations of one address an hour */
#define LIMIT_REG_NET	20	/* registrations from one network an hour */

/*
 * Check the failure windows of KEY (account|address) and, when LOGIN, of
 * the address alone. *HIT is set with a 429 answer ready when over a limit.
 */
int
apx_route_throttled(struct apx_ctx *c, const char *key, int *hit)
{
	int rc, r1 = 0, r2 = 0;

	*hit = 0;
	if ((rc = apx_throttle_check(c->db, "acct_addr", key, LIMIT_ACCT_ADDR,
	    WINDOW, &r1)) != 0 ||
	    (rc = apx_throttle_check(c->db, "addr", apx_route_client_net(c),
	    LIMIT_ADDR, WINDOW, &r2)) != 0)
		return rc;
	if (r1 == 0 && r2 == 0)
		return 0;
	*hit = 1;
	return apx_route_too_many(c, r1 > r2 ? r1 : r2);
}

/*
 * A failed login (or second factor) of account EN from this network, KEY
 * being EN|network: counted per account and network, per network, and
 * per account.
 */
int
apx_route_login_failed(struct apx_ctx *c, const char *key, const char *en)
{
	int rc;

	if ((rc = apx_throttle_fail(c->db, "acct_addr", key, WINDOW)) != 0 ||
	    (rc = apx_throttle_fail(c->db, "addr", apx_route_client_net(c),
	    WINDOW)) != 0)
		return rc;
	return apx_throttle_fail(c->db, APX_THROTTLE_ACCOUNT, en,
	    APX_ACCOUNT_WINDOW);
}

const char *
apx_route_client_net(struct apx_ctx *c)
{
	char net[APX_CIDR_STRLEN];

	if (apx_ip_net_key(c->req->remote_addr, net, sizeof(net)) != 0)
		return c->req->remote_addr;
	return apx_arena_strdup(c->req->arena, net);
}

int
apx_route_too_many(struct apx_ctx *c, int retry)
{
	char retry_s[16];

	snprintf(retry_s, sizeof(retry_s), "%d", retry > 0 ? retry : 1);
	(void)apx_resp_header_set(c->resp, "Retry-After",
	    apx_arena_strdup(c->req->arena, retry_s));
	return apx_resp_problem(c->resp, 429, "too-many-attempts",
	    "Too many attempts; wait and try again.", NULL);
}

/*
 * One more attempt of SCOPE_KEY's pair (per address and per network) when
 * under LIMIT_ONE and LIMIT_NET within REG_WINDOW; otherwise the 429 is
 * set and *HIT is 1. Every attempt counts, not only failures.
 */
int
apx_route_attempt(struct apx_ctx *c, const char *scope, const char *one,
    int limit_one, int limit_net, int *hit)
{
	char s1[32], s2[32];
	const char *net = apx_route_client_net(c);
	int rc, r1 = 0, r2 = 0;

	*hit = 0;
	snprintf(s1, sizeof(s1), "%s_email", scope);
	snprintf(s2, sizeof(s2), "%s_net", scope);
	if ((rc = apx_throttle_check(c->db, s1, one, limit_one, REG_WINDOW,
	    &r1)) != 0 || (rc = apx_throttle_check(c->db, s2, net, limit_net,
	    REG_WINDOW, &r2)) != 0)
		return rc;
	if (r1 > 0 || r2 > 0) {
		*hit = 1;
		return apx_route_too_many(c, r1 > r2 ? r1 : r2);
	}
	if ((rc = apx_throttle_fail(c->db, s1, one, REG_WINDOW)) != 0)
		return rc;
	return apx_throttle_fail(c->db, s2, net, REG_WINDOW);
}

int
apx_route_auth_register(struct apx_ctx *c)
{
	struct apx_pwparams pp;
	struct apx_user u;
	const char *email, *name, *pw, *en, *reason;
	char hash[APX_PASSWORD_HASH_MAX];
	json_t *body;
	size_t pwlen;
	int64_t id;
	int rc, hit;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "email", MAX_EMAIL, 1, &email,
	    NULL) != 0 ||
	    apx_route_name(c, body, "name", MAX_NAME, &name) != 0 ||
	    apx_route_string(c, body, "password", 1024, 1, &pw, &pwlen) != 0)
		goto out;
	if ((en = apx_account_email_norm(c->req->arena, email)) == NULL) {
		apx_resp_problem(c->resp, 422, "invalid-field",
		    "This is not an email address.", "email");
		goto out;
	}
	if (apx_password_check(pw, pwlen, en, name, &reason) != 0) {
		apx_resp_problem(c->resp, 422, "weak-password", reason,
		    "password");
		goto out;
	}
	/* Throttle first: a flood costs no hashing and sends few mails. */
	if ((rc = apx_route_attempt(c, "register", en, LIMIT_REG_EMAIL,
	    LIMIT_REG_NET, &hit)) != 0 || hit)
		goto done;
	if ((rc = apx_settings_pwparams(c->db, &pp)) != 0)
		goto done;
	rc = apx_user_by_email(c->db, c->req->arena, en, &u);
	if (rc != 0 && rc != APX_ENOTFOUND)
		goto done;
	if (rc == 0) {
		/* Taken: the same work as a new account, and the owner is
		 * told (an unverified one gets a new link instead). */
		apx_password_dummy_verify(&pp, pw, pwlen);
		rc = u.email_verified ?
		    apx_route_mail_user(c, &u, "exists", NULL) :
		    apx_route_mail_verify(c, &u);
		if (rc != 0)
			goto done;
		apx_log_info("rid=%s registration for the address of user "
		    "%lld: mailed its owner", c->req->request_id,
		    (long long)u.id);
		goto answer;
	}
	if ((rc = apx_password_hash(&pp, pw, pwlen, hash)) != 0)
		goto done;
	if ((rc = apx_db_begin(c->db)) != 0) {
		apx_wipe(hash, sizeof(hash));
		goto done;
	}
	rc = apx_user_create(c->db, en, email, name, hash, 0, &id);
	apx_wipe(hash, sizeof(hash));
	if (rc == APX_ECONFLICT) {	/* registered meanwhile */
		apx_db_rollback(c->db);
		goto answer;
	}
	if (rc == 0) {
		memset(&u, 0, sizeof(u));
		u.id = id;
		u.email = email;
		u.name = name;
		rc = apx_route_mail_verify(c, &u);
	}
	if (rc == 0)
		rc = apx_db_commit(c->db);
	if (rc != 0) {
		/* No account without its mail: the client may try again. */
		apx_db_rollback(c->db);
		goto done;
	}
	apx_log_info("rid=%s user %lld registered (unverified)",
	    c->req->request_id, (long long)id);
answer:
	rc = apx_resp_json(c->resp, 202, json_pack("{s:s,s:s}", "status",
	    "pending", "detail", "If this address can be registered, a mail "
	    "is on its way to it: follow the link in it."));
	goto done;
out:
	rc = 0;		/* the problem answer is set */
done:
	json_decref(body);
	return rc;
}

int
apx_route_auth_login(struct apx_ctx *c)
{
	struct apx_pwparams pp;
	struct apx_user u;
	const char *email, *pw, *en, *net;
	char refresh[64], key[320];
	unsigned char rhash[APX_TOKEN_HASH_LEN];
	json_t *body;
	size_t pwlen;
	int64_t sid;
	int rc, hit, found, retry;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "email", MAX_EMAIL, 1, &email,
	    NULL) != 0 ||
	    apx_route_string(c, body, "password", 1024, 1, &pw, &pwlen) != 0) {
		json_decref(body);
		return 0;
	}
	if ((en = apx_account_email_norm(c->req->arena, email)) == NULL)
		en = "";	/* never matches: same path as unknown */
	net = apx_route_client_net(c);
	snprintf(key, sizeof(key), "%s|%s", en, net);

	/* Throttle first: a flood costs no hashing. */
	if ((rc = apx_route_throttled(c, key, &hit)) != 0 || hit)
		goto out;

	if ((rc = apx_settings_pwparams(c->db, &pp)) != 0)
		goto out;
	rc = *en != '\0' ? apx_user_by_email(c->db, c->req->arena, en, &u) :
	    APX_ENOTFOUND;
	if (rc != 0 && rc != APX_ENOTFOUND)
		goto out;
	found = rc == 0 && u.password_hash != NULL;
	/* The account's own delay, unless this network is one it knows. */
	if ((rc = apx_login_delay(c->db, en, found ? u.id : 0, net,
	    (int)c->conf->login_delay_after, &retry)) != 0)
		goto out;
	if (retry > 0) {
		rc = apx_route_too_many(c, retry);
		goto out;
	}
	if (!found) {
		/* Same work and same answer as a wrong password. */
		apx_password_dummy_verify(&pp, pw, pwlen);
	}
	if (!found || apx_password_verify(u.password_hash, pw, pwlen) != 0) {
		if ((rc = apx_route_login_failed(c, key, en)) != 0)
			goto out;
		(void)apx_resp_header_set(c->resp, "WWW-Authenticate",
		    "Bearer realm=\"accupredix\"");
		rc = apx_resp_problem(c->resp, 401, "invalid-credentials",
		    "The email address or the password is wrong.", NULL);
		goto out;
	}
	/* An org that enforces its SSO: its users use it (owners may
	 * break the glass, audited). */
	if ((rc = apx_signin_password_allowed(c, &u)) != 0) {
		if (rc == APX_EUNAUTH)
			rc = 0;		/* answered 403 sso-required */
		goto out;
	}
	if (apx_password_needs_rehash(u.password_hash, &pp)) {
		char nh[APX_PASSWORD_HASH_MAX];

		if (apx_password_hash(&pp, pw, pwlen, nh) == 0 &&
		    apx_user_set_password_hash(c->db, u.id, nh) == 0)
			apx_log_info("rid=%s rehashed the password of user %lld",
			    c->req->request_id, (long long)u.id);
		apx_wipe(nh, sizeof(nh));
	}
	/* A second factor: a challenge instead of a session. */
	if ((rc = apx_mfa_gate(c, &u, APX_MFA_VIA_PASSWORD, &hit)) != 0 ||
	    hit)
		goto out;
	if ((rc = apx_throttle_clear(c->db, "acct_addr", key)) != 0 ||
	    (rc = apx_throttle_clear(c->db, APX_THROTTLE_ACCOUNT, en)) != 0 ||
	    (rc = apx_session_new_token(refresh, sizeof(refresh), rhash))
	    != 0 ||
	    (rc = apx_session_create(c->db, u.id,
	    apx_req_header(c->req, "user-agent") ?
	    apx_req_header(c->req, "user-agent") : "", c->req->remote_addr,
	    "pwd", c->conf->refresh_lifetime, rhash, &sid)) != 0)
		goto out;
	apx_route_signed_in(c, &u, "password");
	rc = apx_session_answer_tokens(c, &u, sid, refresh);
out:
	apx_wipe(refresh, sizeof(refresh));
	json_decref(body);
	return rc;
}

int
apx_route_auth_refresh(struct apx_ctx *c)
{
	unsigned char old[APX_TOKEN_HASH_LEN], nw[APX_TOKEN_HASH_LEN];
	unsigned char *next = NULL, *prev = NULL;
	char refresh[64];
	const char *tok = NULL;
	json_t *body = NULL;
	struct apx_user u;
	size_t nextlen = 0, prevlen = 0;
	int64_t sid, uid;
	int rc;

	/* API clients send it in the body, browsers in the cookie. */
	if (c->req->body_len > 0) {
		if (apx_http_json_object(c->req, c->resp, &body) != 0)
			return 0;
		tok = json_string_value(json_object_get(body,
		    "refresh_token"));
	} else {
		/* A browser's refresh: only from our own pages. */
		tok = apx_req_cookie(c->req, APX_COOKIE_REFRESH);
		if (tok != NULL && !apx_session_origin_ok(c))
			return apx_resp_problem(c->resp, 403, "origin-refused",
			    "This origin may not refresh a session.", NULL);
	}
	if (tok == NULL || *tok == '\0' || strlen(tok) > 128) {
		json_decref(body);
		return apx_resp_problem(c->resp, 401, "invalid-refresh-token",
		    "A refresh token is required.", NULL);
	}
	apx_session_hash_token(tok, strlen(tok), old);
	if ((rc = apx_session_new_token(refresh, sizeof(refresh), nw)) != 0 ||
	    (rc = apx_session_seal_successor(tok, strlen(tok), refresh, &next,
	    &nextlen)) != 0) {
		json_decref(body);
		return rc;
	}
	{
		struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "user", NULL,
		    "session.refresh_reuse", NULL, c->req->remote_addr,
		    c->req->request_id, NULL, NULL };

		rc = apx_session_rotate(c->db, old, nw, next, nextlen,
		    (int)c->conf->refresh_grace, &sid, &uid, &e, &prev,
		    &prevlen);
	}
	free(next);
	if (rc == 0 && prev != NULL) {
		/* A second tab: the successor the first one got. */
		rc = apx_session_open_successor(tok, strlen(tok), prev, prevlen,
		    refresh, sizeof(refresh));
		free(prev);
		if (rc != 0)
			rc = APX_EUNAUTH;
		else
			apx_log_info("rid=%s refresh within the grace of "
			    "session %lld: its successor again",
			    c->req->request_id, (long long)sid);
	}
	json_decref(body);
	if (rc == APX_ECONFLICT) {
		apx_log_warn("rid=%s refresh token reuse: session %lld of user "
		    "%lld revoked", c->req->request_id, (long long)sid,
		    (long long)uid);
		apx_session_clear_cookies(c);
		rc = apx_resp_problem(c->resp, 401, "refresh-token-reused",
		    "This refresh token was already used; the session has "
		    "been ended. Sign in again.", NULL);
		goto out;
	}
	if (rc == APX_EUNAUTH) {
		rc = apx_resp_problem(c->resp, 401, "invalid-refresh-token",
		    "The refresh token is not valid.", NULL);
		goto out;
	}
	if (rc != 0)
		goto out;
	if ((rc = apx_user_by_id(c->db, c->req->arena, uid, &u)) != 0)
		goto out;
	rc = apx_session_answer_tokens(c, &u, sid, refresh);
out:
	apx_wipe(refresh, sizeof(refresh));
	return rc;
}

int
apx_route_auth_logout(struct apx_ctx *c)
{
	int rc;

	rc = apx_session_revoke(c->db, c->auth->uid, c->auth->sid, "logout");
	if (rc != 0 && rc != APX_ENOTFOUND)
		return rc;
	apx_session_clear_cookies(c);
	c->resp->status = 204;
	return 0;
}

/*
 * POST /api/v1/me/password {current_password, new_password}: the current
 * password is checked (and throttled like a login); every other session of
 * the user is revoked.
 */
int
apx_route_me_password(struct apx_ctx *c)
{
	struct apx_pwparams pp;
	const struct apx_user *u = &c->auth->user;
	const char *cur, *nw, *reason;
	char hash[APX_PASSWORD_HASH_MAX];
	size_t curlen = 0, nwlen;
	json_t *body;
	int rc, n = 0;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "current_password", 1024,
	    u->password_hash != NULL, &cur, &curlen) != 0 ||
	    apx_route_string(c, body, "new_password", 1024, 1,
	    &nw, &nwlen) != 0) {
		json_decref(body);
		return 0;
	}
	if ((rc = apx_route_confirm_password(c, cur, curlen,
	    "current_password")) != 0) {
		if (rc == APX_EINVAL)
			rc = 0;		/* answered */
		goto out;
	}
	if (apx_password_check(nw, nwlen, u->email, u->name, &reason) != 0) {
		rc = apx_resp_problem(c->resp, 422, "weak-password", reason,
		    "new_password");
		goto out;
	}
	if ((rc = apx_settings_pwparams(c->db, &pp)) != 0 ||
	    (rc = apx_password_hash(&pp, nw, nwlen, hash)) != 0)
		goto out;
	{
		char us[24];
		struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "user", us,
		    "user.password_changed", us, c->req->remote_addr,
		    c->req->request_id, NULL, NULL };

		snprintf(us, sizeof(us), "%lld", (long long)u->id);
		rc = apx_user_change_password(c->db, u->id, hash, c->auth->sid,
		    NULL, &e, &n);
		apx_wipe(hash, sizeof(hash));
		if (rc != 0)
			goto out;
	}
	apx_log_info("rid=%s user %lld changed the password; %d other "
	    "sessions revoked", c->req->request_id, (long long)u->id, n);
	apx_route_notify(c, u, "password_changed", json_pack("{s:s}", "how",
	    "changed"));
	c->resp->status = 204;
	rc = 0;
out:
	json_decref(body);
	return rc;
}

/*
 * The signed-in user's password PW (field FIELD of the body), throttled
 * like a login: 0 when right; otherwise the answer (422 or 429) is set and
 * APX_EINVAL returned, or another error.
 */
int
apx_route_confirm_password(struct apx_ctx *c, const char *pw, size_t len,
    const char *field)
{
	const struct apx_user *u = &c->auth->user;
	const char *en;
	char key[320];
	int rc, hit;

	en = apx_account_email_norm(c->req->arena, u->email);
	snprintf(key, sizeof(key), "%s|%s", en != NULL ? en : "",
	    apx_route_client_net(c));
	if (u->password_hash == NULL) {
		/*
		 * An account a provider made has no password: a sign-in of
		 * the last REAUTH_WINDOW seconds stands for it.
		 */
		if ((rc = apx_session_fresh(c->db, u->id, c->auth->sid,
		    REAUTH_WINDOW)) < 0)
			return rc;
		if (rc == 1)
			return 0;
		(void)apx_resp_problem(c->resp, 422,
		    "reauthentication-required", "This account has no "
		    "password: sign in again through your provider, then "
		    "retry within 10 minutes.", field);
		return APX_EINVAL;
	}
	if ((rc = apx_route_throttled(c, key, &hit)) != 0)
		return rc;
	if (hit)
		return APX_EINVAL;
	if (pw != NULL && apx_password_verify(u->password_hash, pw, len) == 0)
		return 0;
	if ((rc = apx_throttle_fail(c->db, "acct_addr", key, WINDOW)) != 0)
		return rc;
	(void)apx_resp_problem(c->resp, 422, "invalid-field",
	    "The password is wrong.", field);
	return APX_EINVAL;
}

/*
 * DELETE /api/v1/me {password}: the account goes (refused with 409
 * last-owner while it is an org's last owner); see store/privacy.h for
 * what stays of it.
 */
int
apx_route_me_delete(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	const char *pw = NULL;
	char org[64] = "";
	size_t len = 0;
	json_t *body;
	int rc;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "password", 1024,
	    c->auth->user.password_hash != NULL, &pw, &len) != 0) {
		json_decref(body);
		return 0;
	}
	rc = apx_route_confirm_password(c, pw, len, "password");
	json_decref(body);
	if (rc == APX_EINVAL)
		return 0;
	if (rc != 0)
		return rc;
	apx_authz_audit(c, &e, "account.delete", apx_arena_printf(
	    c->req->arena, "user:%lld", (long long)c->auth->uid));
	e.client_addr = "";
	rc = apx_privacy_delete_user(c->db, c->auth->uid, &e, org,
	    sizeof(org));
	if (rc == APX_ECONFLICT)
		return apx_resp_problem(c->resp, 409, "last-owner",
		    apx_arena_printf(c->req->arena, "You are the last owner of "
		    "%s: hand it over or erase it first.", org), NULL);
	if (rc != 0)
		return rc;
	apx_log_info("rid=%s user %lld deleted the account",
	    c->req->request_id, (long long)c->auth->uid);
	c->resp->status = 204;
	return 0;
}
