/*
 * The account lifecycle: email verification, password reset, and the
 * mails that tell a user what happened to the account.
 *
 * POST /api/v1/auth/verify-email {token}
 * POST /api/v1/me/verify-email                   (a new link)
 * POST /api/v1/auth/password-reset {email}        (202 for any address)
 * POST /api/v1/auth/password-reset/confirm {token, password}
 *
 * Tokens are 32 random bytes (base64url), single-use; the database keeps
 * only their SHA-256. Links carry them after '#', so they stay out of web
 * server logs and Referer headers; the page posts them here.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/account.h"
#include "auth/mail.h"
#include "auth/password.h"
#include "auth/session.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/account.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/identity.h"
#include "store/orgs.h"
#include "store/settings.h"

#define LIMIT_RESET_EMAIL	3	/* reset mails to one address an hour */
#define LIMIT_RESET_NET		20
#define LIMIT_RESEND		3	/* new verification links an hour */

static int	 bad_token(struct apx_ctx *);
static void	 when_now(char *, size_t);
static int	 token_of(struct apx_ctx *, json_t *, unsigned char *);

int
apx_route_mail_user(struct apx_ctx *c, const struct apx_user *u,
    const char *kind, json_t *vars)
{
	json_t *v = vars != NULL ? json_incref(vars) : json_object();
	int rc;

	if (v == NULL)
		return APX_ENOMEM;
	if (json_object_get(v, "name") == NULL &&
	    json_object_set_new(v, "name", json_string(u->name != NULL &&
	    *u->name != '\0' ? u->name : u->email)) != 0) {
		json_decref(v);
		return APX_ENOMEM;
	}
	rc = apx_mail_queue(c->db, c->conf, kind, u->id, u->email, v);
	json_decref(v);
	return rc;
}

int
apx_route_mail_verify(struct apx_ctx *c, const struct apx_user *u)
{
	unsigned char hash[APX_TOKEN_HASH_LEN];
	char tok[64], hours[24];
	json_t *v;
	int rc;

	if ((rc = apx_session_new_token(tok, sizeof(tok), hash)) != 0)
		return rc;
	snprintf(hours, sizeof(hours), "%lld", c->conf->verify_ttl / 3600);
	if ((v = json_pack("{s:s,s:s}", "link", apx_arena_printf(c->req->arena,
	    "%s/verify-email#token=%s", c->conf->public_origin, tok),
	    "hours", hours)) == NULL) {
		apx_wipe(tok, sizeof(tok));
		return APX_ENOMEM;
	}
	if ((rc = apx_acct_token_put(c->db, u->id, APX_ACCT_VERIFY, hash,
	    c->conf->verify_ttl)) == 0)
		rc = apx_route_mail_user(c, u, "verify", v);
	json_decref(v);
	apx_wipe(tok, sizeof(tok));
	return rc;
}

/* Now as "YYYY-MM-DD HH:MM:SS" (UTC), for a mail. */
static void
when_now(char *buf, size_t len)
{
	char *t;

	apx_rfc3339_format(apx_unix_now(), buf, len);
	if ((t = strchr(buf, 'T')) != NULL)
		*t = ' ';
	buf[strcspn(buf, "Z")] = '\0';
}

void
apx_route_notify(struct apx_ctx *c, const struct apx_user *u,
    const char *kind, json_t *vars)
{
	char when[32];
	int rc = APX_ENOMEM;

	when_now(when, sizeof(when));
	if (vars == NULL)
		vars = json_object();
	if (vars != NULL && json_object_set_new(vars, "when",
	    json_string(when)) == 0 && json_object_set_new(vars, "addr",
	    json_string(c->req->remote_addr)) == 0)
		rc = apx_route_mail_user(c, u, kind, vars);
	json_decref(vars);
	/* A notice that cannot be queued never undoes what happened. */
	if (rc != 0)
		apx_log_warn("rid=%s user %lld: the %s mail could not be queued:"
		    " %s", c->req->request_id, (long long)u->id, kind,
		    apx_strerror(rc));
}

void
apx_route_notify_owners(struct apx_ctx *c, int64_t org, const char *kind,
    json_t *vars)
{
	struct apx_user u;
	PGresult *res;
	long long id;
	int r;

	if (apx_member_list(c->db, org, &res) == 0) {
		/* columns as apx_member_cols: user_id, email, name, role */
		for (r = 0; r < PQntuples(res); r++) {
			if (strcmp(PQgetvalue(res, r, 3), "owner") != 0 ||
			    PQgetisnull(res, r, 1))
				continue;
			if (apx_parse_ll(PQgetvalue(res, r, 0), 1, INT64_MAX,
			    &id) != 0)
				continue;
			memset(&u, 0, sizeof(u));
			u.id = id;
			u.email = PQgetvalue(res, r, 1);
			u.name = PQgetisnull(res, r, 2) ? NULL :
			    PQgetvalue(res, r, 2);
			apx_route_notify(c, &u, kind, json_deep_copy(vars));
		}
		PQclear(res);
	}
	json_decref(vars);
}

void
apx_route_signed_in(struct apx_ctx *c, const struct apx_user *u,
    const char *method)
{
	unsigned char dig[crypto_hash_sha256_BYTES];
	const char *ua = apx_req_header(c->req, "user-agent");
	char agent[2 * sizeof(dig) + 1];
	int news = 0, rc;

	if (ua == NULL)
		ua = "";
	crypto_hash_sha256(dig, (const unsigned char *)ua, strlen(ua));
	sodium_bin2hex(agent, sizeof(agent), dig, sizeof(dig));
	if ((rc = apx_known_note(c->db, u->id, apx_route_client_net(c), agent,
	    &news)) != 0) {
		apx_log_warn("rid=%s user %lld: sign-in not noted: %s",
		    c->req->request_id, (long long)u->id, apx_strerror(rc));
		return;
	}
	/* The first sign-in of an account is no news to its owner. */
	if ((news & APX_KNOWN_FIRST) ||
	    !(news & (APX_KNOWN_NEW_NET | APX_KNOWN_NEW_AGENT)))
		return;
	apx_route_notify(c, u, "new_signin", json_pack("{s:s%,s:s}", "agent",
	    *ua != '\0' ? ua : "(unnamed)", strlen(ua) > 200 ? (size_t)200 :
	    (*ua != '\0' ? strlen(ua) : 9), "method", method));
}

static int
bad_token(struct apx_ctx *c)
{
	return apx_resp_problem(c->resp, 400, "invalid-token", "This link is "
	    "not valid: it has expired, was used already, or was replaced by "
	    "a newer one.", "token");
}

/* The "token" field's hash: 0, or the answer is set (APX_EINVAL). */
static int
token_of(struct apx_ctx *c, json_t *body, unsigned char *hash)
{
	const char *tok;
	size_t len;

	if (apx_route_string(c, body, "token", 128, 1, &tok, &len) != 0)
		return APX_EINVAL;
	apx_session_hash_token(tok, len, hash);
	return 0;
}

int
apx_route_verify_email(struct apx_ctx *c)
{
	struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "user", NULL,
	    "user.email_verified", NULL, c->req->remote_addr,
	    c->req->request_id, NULL, NULL };
	unsigned char hash[APX_TOKEN_HASH_LEN];
	json_t *body;
	int64_t uid;
	int rc;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	rc = token_of(c, body, hash);
	json_decref(body);
	if (rc != 0)
		return 0;
	if ((rc = apx_account_verify(c->db, NULL, hash, &e, &uid)) != 0)
		return rc == APX_ENOTFOUND ? bad_token(c) : rc;
	apx_log_info("rid=%s user %lld verified the address",
	    c->req->request_id, (long long)uid);
	return apx_resp_json(c->resp, 200, json_pack("{s:b}", "verified", 1));
}

int
apx_route_me_verify_email(struct apx_ctx *c)
{
	const struct apx_user *u = &c->auth->user;
	const char *en;
	int rc, hit;

	if (u->email_verified)
		return apx_resp_problem(c->resp, 409, "already-verified",
		    "This address is verified already.", NULL);
	en = apx_account_email_norm(c->req->arena, u->email);
	if ((rc = apx_route_attempt(c, "verify", en != NULL ? en : u->email,
	    LIMIT_RESEND, LIMIT_RESEND * 5, &hit)) != 0 || hit)
		return rc;
	if ((rc = apx_route_mail_verify(c, u)) != 0)
		return rc;
	return apx_resp_json(c->resp, 202, json_pack("{s:s}", "status",
	    "pending"));
}

int
apx_route_password_reset(struct apx_ctx *c)
{
	unsigned char hash[APX_TOKEN_HASH_LEN];
	char tok[64], minutes[24];
	struct apx_user u;
	const char *email, *en;
	json_t *body, *v;
	int rc, hit;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "email", APX_EMAIL_MAX, 1, &email,
	    NULL) != 0) {
		json_decref(body);
		return 0;
	}
	if ((en = apx_account_email_norm(c->req->arena, email)) == NULL) {
		json_decref(body);
		return apx_resp_problem(c->resp, 422, "invalid-field",
		    "This is not an email address.", "email");
	}
	json_decref(body);
	if ((rc = apx_route_attempt(c, "reset", en, LIMIT_RESET_EMAIL,
	    LIMIT_RESET_NET, &hit)) != 0 || hit)
		return rc;
	rc = apx_user_by_email(c->db, c->req->arena, en, &u);
	if (rc != 0 && rc != APX_ENOTFOUND)
		return rc;
	if (rc == 0) {
		if ((rc = apx_session_new_token(tok, sizeof(tok), hash)) != 0)
			return rc;
		snprintf(minutes, sizeof(minutes), "%lld",
		    c->conf->reset_ttl / 60);
		v = json_pack("{s:s,s:s}", "link", apx_arena_printf(
		    c->req->arena, "%s/reset-password#token=%s",
		    c->conf->public_origin, tok), "minutes", minutes);
		apx_wipe(tok, sizeof(tok));
		if (v == NULL)
			return APX_ENOMEM;
		if ((rc = apx_db_begin(c->db)) == 0) {
			if ((rc = apx_acct_token_put(c->db, u.id,
			    APX_ACCT_RESET, hash, c->conf->reset_ttl)) == 0 &&
			    (rc = apx_route_mail_user(c, &u, "reset", v)) == 0)
				rc = apx_db_commit(c->db);
			if (rc != 0)
				apx_db_rollback(c->db);
		}
		json_decref(v);
		if (rc != 0)
			return rc;
		apx_log_info("rid=%s password reset mailed to user %lld",
		    c->req->request_id, (long long)u.id);
	}
	return apx_resp_json(c->resp, 202, json_pack("{s:s,s:s}", "status",
	    "pending", "detail", "If an account has this address, a mail "
	    "with a link to choose a new password is on its way to it."));
}

int
apx_route_password_reset_confirm(struct apx_ctx *c)
{
	struct apx_pwparams pp;
	struct apx_user u;
	unsigned char th[APX_TOKEN_HASH_LEN];
	char hash[APX_PASSWORD_HASH_MAX], us[APX_DB_ID_LEN], target[48];
	const char *pw, *reason, *en, *tok;
	json_t *body;
	size_t pwlen, tlen;
	int64_t uid;
	int rc, n = 0;

	if (apx_http_json_object(c->req, c->resp, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "token", 128, 1, &tok, &tlen) != 0 ||
	    apx_route_string(c, body, "password", 1024, 1, &pw, &pwlen) != 0) {
		json_decref(body);
		return 0;
	}
	apx_session_hash_token(tok, tlen, th);
	/* Whose link is it? (Spent only with the change, below.) */
	if ((rc = apx_acct_token_owner(c->db, APX_ACCT_RESET, th, &uid)) == 0)
		rc = apx_user_by_id(c->db, c->req->arena, uid, &u);
	if (rc == APX_ENOTFOUND) {
		rc = bad_token(c);
		goto out;
	}
	if (rc != 0)
		goto out;
	if (apx_password_check(pw, pwlen, u.email, u.name, &reason) != 0) {
		rc = apx_resp_problem(c->resp, 422, "weak-password", reason,
		    "password");
		goto out;
	}
	if ((rc = apx_settings_pwparams(c->db, &pp)) != 0 ||
	    (rc = apx_password_hash(&pp, pw, pwlen, hash)) != 0)
		goto out;
	{
		struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "user",
		    apx_db_id(u.id, us), "user.password_reset", target,
		    c->req->remote_addr, c->req->request_id, NULL, NULL };

		snprintf(target, sizeof(target), "user:%lld", (long long)u.id);
		rc = apx_user_change_password(c->db, u.id, hash, 0, th, &e, &n);
		apx_wipe(hash, sizeof(hash));
	}
	if (rc == APX_ENOTFOUND) {	/* spent meanwhile */
		rc = bad_token(c);
		goto out;
	}
	if (rc != 0)
		goto out;
	/* Whoever ran the account into its login delay is done with it. */
	if ((en = apx_account_email_norm(c->req->arena, u.email)) != NULL)
		(void)apx_throttle_clear(c->db, APX_THROTTLE_ACCOUNT, en);
	apx_log_info("rid=%s user %lld reset the password; %d sessions "
	    "revoked", c->req->request_id, (long long)u.id, n);
	apx_route_notify(c, &u, "password_changed", json_pack("{s:s}", "how",
	    "reset"));
	c->resp->status = 204;
	rc = 0;
out:
	json_decref(body);
	return rc;
}
