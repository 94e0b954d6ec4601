/*
 * Members and invitations of an organisation. Who may hand out which role
 * is decided by perm.c (apx_perm_member_change, apx_perm_may_grant).
 */
#include "config.h"

#include <string.h>

#include <stdio.h>

#include "auth/account.h"
#include "auth/authcache.h"
#include "auth/mail.h"
#include "auth/session.h"
#include "authz/authz.h"
#include "authz/perm.h"
#include "core/log.h"
#include "routes/routes.h"
#include "store/audit.h"
#include "store/orgs.h"

static int	 change(struct apx_ctx *, int64_t, int, const char *);
static int	 mail_invitation(struct apx_ctx *, json_t *, const char *, int);
static int	 member_not_found(struct apx_ctx *);

static int
member_not_found(struct apx_ctx *c)
{
	return apx_resp_problem(c->resp, 404, "member-not-found",
	    "This person is not a member of the organisation.", NULL);
}

/* Move TARGET to ROLE (NONE: remove) and answer. */
static int
change(struct apx_ctx *c, int64_t target, int role, const char *action)
{
	struct apx_audit_entry e;
	int verdict, rc;

	apx_authz_audit(c, &e, action, apx_arena_printf(c->req->arena,
	    "user:%lld", (long long)target));
	rc = apx_member_change(c->db, c->org->id, target, c->org->role, role,
	    target == c->auth->uid, &e, &verdict);
	if (rc == APX_ENOTFOUND)
		return member_not_found(c);
	if (rc != 0)
		return rc;
	if (verdict == APX_CHANGE_LAST_OWNER)
		return apx_resp_problem(c->resp, 409, "last-owner",
		    "An organisation keeps at least one owner; make someone "
		    "else owner first.", NULL);
	if (verdict != APX_CHANGE_OK)
		return apx_resp_problem(c->resp, 403, "forbidden",
		    "Your role does not allow this change.", NULL);
	c->resp->status = 204;
	return 0;
}

int
apx_route_members_list(struct apx_ctx *c)
{
	struct apx_buf *b = &c->resp->body;
	PGresult *res;
	int rc;

	/* Held and emptied with the caller's membership (auth/authcache.h):
	 * what changes a membership or a member's name or email is felt by
	 * the next request, on any worker of this host. */
	apx_buf_reset(b);
	if (apx_authcache_members(c->org->id, b) == 0)
		return apx_resp_json_body(c->resp, 200);
	if ((rc = apx_member_list(c->db, c->org->id, &res)) != 0)
		return rc;
	if ((rc = apx_route_rows_res(c, "members", res, apx_member_cols,
	    APX_MEMBER_NCOLS, 0)) == 0)
		apx_authcache_members_put(c->org->id, b->data, b->len);
	return rc;
}

int
apx_route_member_patch(struct apx_ctx *c)
{
	const char *rs;
	json_t *body;
	int64_t target;
	int role, rc = 0;

	if (apx_route_id(c, "user", &target) != 0)
		return member_not_found(c);
	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "role", 16, 1, &rs, NULL) != 0)
		goto out;
	if ((role = apx_role_parse(rs)) == APX_ROLE_NONE) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "The role is one of owner, admin, analyst, viewer.",
		    "role");
		goto out;
	}
	rc = change(c, target, role, "member.role_change");
out:
	json_decref(body);
	return rc;
}

int
apx_route_member_delete(struct apx_ctx *c)
{
	int64_t target;

	if (apx_route_id(c, "user", &target) != 0)
		return member_not_found(c);
	return change(c, target, APX_ROLE_NONE, "member.remove");
}

int
apx_route_membership_leave(struct apx_ctx *c)
{
	return change(c, c->auth->uid, APX_ROLE_NONE, "member.leave");
}

/* Mail invitation INV (as the store answered it) with its token TOK (and
 * COUNT it as mailed); a mail that cannot be queued is logged. */
static int
mail_invitation(struct apx_ctx *c, json_t *inv, const char *tok, int count)
{
	const char *to = json_string_value(json_object_get(inv, "email"));
	int64_t id = (int64_t)json_integer_value(json_object_get(inv, "id"));
	const char *inviter = c->auth->user.name;
	char days[24];
	json_t *v;
	int rc;

	snprintf(days, sizeof(days), "%lld", c->conf->invite_ttl / 86400 > 0 ?
	    c->conf->invite_ttl / 86400 : 1);
	if ((v = json_pack("{s:s,s:s,s:s,s:s,s:s}", "inviter", inviter != NULL &&
	    *inviter != '\0' ? inviter : c->auth->user.email, "org",
	    c->org->name != NULL ? c->org->name : c->org->slug, "role",
	    json_string_value(json_object_get(inv, "role")), "link",
	    apx_arena_printf(c->req->arena, "%s/invitations#token=%s",
	    c->conf->public_origin, tok), "days", days)) == NULL)
		return APX_ENOMEM;
	rc = apx_mail_queue(c->db, c->conf, "invite", 0, to, v);
	json_decref(v);
	if (rc == 0 && count)
		rc = apx_invitation_mailed(c->db, id);
	if (rc != 0)
		apx_log_warn("rid=%s invitation %lld: the mail could not be "
		    "queued: %s", c->req->request_id, (long long)id,
		    apx_strerror(rc));
	return rc;
}

int
apx_route_invitations_list(struct apx_ctx *c)
{
	PGresult *list;
	int rc;

	if ((rc = apx_invitation_list(c->db, c->org->id, &list)) != 0)
		return rc;
	return apx_route_json_res(c, 200, list);
}

int
apx_route_invitations_create(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	unsigned char hash[APX_TOKEN_HASH_LEN];
	char tok[64];
	const char *email, *rs, *en;
	json_t *body, *inv = NULL;
	int role, rc = 0;

	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_string(c, body, "email", APX_EMAIL_MAX, 1, &email,
	    NULL) != 0 || apx_route_string(c, body, "role", 16, 1, &rs,
	    NULL) != 0)
		goto out;
	if ((en = apx_account_email_norm(c->req->arena, email)) == NULL) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "This is not an email address.", "email");
		goto out;
	}
	if ((role = apx_role_parse(rs)) == APX_ROLE_NONE) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "The role is one of owner, admin, analyst, viewer.",
		    "role");
		goto out;
	}
	if (!apx_perm_may_grant(c->org->role, role)) {
		rc = apx_resp_problem(c->resp, 403, "forbidden",
		    "You cannot invite someone to a role above your own.",
		    "role");
		goto out;
	}
	/* The token is shown once; the database keeps its hash. */
	if ((rc = apx_session_new_token(tok, sizeof(tok), hash)) != 0)
		goto out;
	apx_authz_audit(c, &e, "invitation.create", en);
	if ((rc = apx_invitation_create(c->db, c->org->id, en, role,
	    c->auth->uid, hash, c->conf->invite_ttl, &e, &inv)) != 0)
		goto out;
	(void)mail_invitation(c, inv, tok, 1);
	c->resp->no_store = 1;
	rc = apx_resp_json(c->resp, 201, json_pack("{s:o,s:s}", "invitation",
	    inv, "token", tok));
out:
	apx_wipe(tok, sizeof(tok));
	json_decref(body);
	return rc;
}

int
apx_route_invitation_revoke(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) == 0) {
		apx_authz_audit(c, &e, "invitation.revoke", apx_arena_printf(
		    c->req->arena, "invitation:%lld", (long long)id));
		rc = apx_invitation_revoke(c->db, c->org->id, id, &e);
	} else
		rc = APX_ENOTFOUND;
	if (rc == APX_ENOTFOUND)
		return apx_resp_problem(c->resp, 404, "invitation-not-found",
		    "There is no open invitation with this id.", NULL);
	if (rc != 0)
		return rc;
	c->resp->status = 204;
	return 0;
}

/*
 * POST .../invitations/{id}/resend: a new token (the old link dies), a new
 * lifetime, mailed again.
 */
int
apx_route_invitation_resend(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	unsigned char hash[APX_TOKEN_HASH_LEN];
	char tok[64];
	json_t *inv = NULL;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		rc = APX_ENOTFOUND;
	else if ((rc = apx_session_new_token(tok, sizeof(tok), hash)) == 0) {
		apx_authz_audit(c, &e, "invitation.resend", apx_arena_printf(
		    c->req->arena, "invitation:%lld", (long long)id));
		rc = apx_invitation_resend(c->db, c->org->id, id, hash,
		    c->conf->invite_ttl, &e, &inv);
	}
	if (rc == APX_ENOTFOUND)
		return apx_resp_problem(c->resp, 404, "invitation-not-found",
		    "There is no open invitation with this id.", NULL);
	if (rc != 0)
		return rc;
	/* Counted as mailed by the resend itself. */
	rc = mail_invitation(c, inv, tok, 0);
	if (rc != 0) {
		apx_wipe(tok, sizeof(tok));
		json_decref(inv);
		return rc;
	}
	c->resp->no_store = 1;
	rc = apx_resp_json(c->resp, 200, json_pack("{s:o,s:s}", "invitation",
	    inv, "token", tok));
	apx_wipe(tok, sizeof(tok));
	return rc;
}
