/*
 * Organisations and what hangs off them in the control-plane database:
 * memberships and invitations (members.c), workspaces and their IP
 * allowlists (workspaces.c), per-org settings. Answers are JSON built by
 * SQL in the shapes of docs/api.md. Every change is written with its audit
 * entry (AUDIT, whose before/after are filled here) in one transaction.
 */
#ifndef APX_STORE_ORGS_H
#define APX_STORE_ORGS_H

#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/arena.h"
#include "store/db.h"

struct apx_db;
struct apx_audit_entry;

#define APX_ORG_SLUG_MAX	41
#define APX_IPALLOW_MAX		100

/* What authz needs to know of {org} for one caller, in one query. */
struct apx_org_access {
	int64_t		 id;
	const char	*name;
	const char	*region;
	int		 plan;		/* enum apx_plan */
	int		 role;		/* the user's membership, or NONE */
	int64_t		 ws;		/* the asked workspace if it is the
					   org's, else 0 */
	const char	*allowlist;	/* CIDRs of workspace ALLOW_WS, "" */
	int		 status;	/* enum apx_org_status */
	/* the org requires a second factor or its SSO, and the session
	 * has neither (user tokens only: apx_session_user_org) */
	int		 mfa_refused;
};

enum apx_org_status {
	APX_ORG_ACTIVE,
	APX_ORG_ERASING,	/* whole-org erasure begun: 404 to all but it */
	APX_ORG_ERASED,		/* a tombstone: 404 to everyone */
};

/* ^[a-z0-9][a-z0-9_]{1,40}$, checked before any SQL sees it. */
int	 apx_org_slug_valid(const char *);
/*
 * Look up SLUG for user UID, workspace WS (0: none) and the allowlist of
 * workspace ALLOW_WS (0: none). APX_ENOTFOUND for no such org.
 */
int	 apx_org_access(struct apx_db *, struct apx_arena *, const char *,
	    int64_t, int64_t, int64_t, struct apx_org_access *);

/*
 * The columns apx_org_access_from reads, for org alias "o", the user id
 * expression U, the asked workspace W and the allowlist's workspace A
 * (SQL expressions), so that every query that authorises reads the same.
 */
#define APX_ORG_ACCESS_COLS(u, w, a) \
	" o.id, o.name, o.region, o.plan," \
	" coalesce((SELECT m.role FROM memberships m WHERE" \
	"  m.org_id = o.id AND m.user_id = " u "), '')," \
	" coalesce((SELECT w.id FROM workspaces w WHERE" \
	"  w.id = " w " AND w.org_id = o.id), 0)," \
	" coalesce((SELECT string_agg(l.cidr, ' ') FROM" \
	"  workspace_ip_allowlists l JOIN workspaces w ON" \
	"  w.id = l.workspace_id WHERE w.org_id = o.id AND" \
	"  l.workspace_id = " a "), ''), o.status"

/*
 * Fill OUT from row 0 of RES, columns COL.. (id, name, region, plan, role,
 * ws, allowlist, status); APX_ENOTFOUND when the id column is NULL (no such org).
 */
int	 apx_org_access_from(PGresult *, int, struct apx_arena *,
	    struct apx_org_access *);

int	 apx_org_list_for_user(struct apx_db *, int64_t, json_t **);
/*
 * A new org with OWNER as owner, a workspace "default" and its tenant
 * database on the server of its region (store/tenant.h): both or
 * neither. APX_ECONFLICT when the slug is taken, APX_EDBUNAVAIL when a
 * server is down, APX_ENOKEY without a vault. AUDIT's log is set to the
 * new org's.
 */
struct apx_conf;
int	 apx_org_create(struct apx_db *, const struct apx_conf *, const char *,
	    const char *, int, const char *, int64_t, struct apx_audit_entry *,
	    json_t **);
int	 apx_org_get(struct apx_db *, int64_t, json_t **);
int	 apx_org_rename(struct apx_db *, int64_t, const char *,
	    struct apx_audit_entry *);
/* Plan change by an operator: audited in the platform log (PLATFORM)
 * and the org's (ORG), one transaction. */
int	 apx_org_set_plan(struct apx_db *, int64_t, int,
	    struct apx_audit_entry *, struct apx_audit_entry *);

/* Org settings: declared with bounds in orgs.c, stored values over
 * defaults. */
int	 apx_org_settings_get(struct apx_db *, int64_t, json_t **);
int	 apx_org_settings_validate(json_t *, const char **, const char **);
int	 apx_org_settings_apply(struct apx_db *, int64_t, json_t *,
	    struct apx_audit_entry *);

/* Members (members.c). */
/*
 * The members of ORG, oldest first: one row each, in the columns of
 * apx_member_cols (user_id, email, name, role, joined_at); PQclear it.
 */
#define APX_MEMBER_NCOLS	5
extern const struct apx_jcol apx_member_cols[APX_MEMBER_NCOLS];
int	 apx_member_list(struct apx_db *, int64_t, PGresult **);
/*
 * Move member TARGET of ORG to ROLE (APX_ROLE_NONE: remove) on behalf of
 * an actor of role ACTOR (SELF: the actor is TARGET). Under row locks the
 * rule of perm.c decides: *VERDICT is its answer (nothing written unless
 * APX_CHANGE_OK). APX_ENOTFOUND when TARGET is not a member.
 */
int	 apx_member_change(struct apx_db *, int64_t, int64_t, int, int, int,
	    struct apx_audit_entry *, int *);

/* An invitation of ORG for EMAIL to ROLE by INVITER, token hash HASH,
 * valid LIFETIME seconds. */
int	 apx_invitation_create(struct apx_db *, int64_t, const char *, int,
	    int64_t, const unsigned char *, long long, struct apx_audit_entry *,
	    json_t **);
/* Open invitation ID of ORG with a new token HASH and LIFETIME (the old
 * token dies), counted as mailed again. APX_ENOTFOUND when not open. */
int	 apx_invitation_resend(struct apx_db *, int64_t, int64_t,
	    const unsigned char *, long long, struct apx_audit_entry *,
	    json_t **);
/* Invitation ID was mailed. */
int	 apx_invitation_mailed(struct apx_db *, int64_t);
int	 apx_invitation_list(struct apx_db *, int64_t, PGresult **);
int	 apx_invitation_revoke(struct apx_db *, int64_t, int64_t,
	    struct apx_audit_entry *);
/*
 * Spend the invitation of token hash HASH for user UID whose normalised
 * email is EMAIL: APX_ENOTFOUND unless open, unexpired and for EMAIL;
 * APX_ECONFLICT when UID is a member already. *ORG: the org joined.
 * AUDIT's log is set to the org's.
 */
int	 apx_invitation_accept(struct apx_db *, const unsigned char *, int64_t,
	    const char *, struct apx_audit_entry *, json_t **);

/* Workspaces and allowlists (workspaces.c). */
int	 apx_workspace_list(struct apx_db *, int64_t, PGresult **);
int	 apx_workspace_get(struct apx_db *, int64_t, int64_t, json_t **);
int	 apx_workspace_create(struct apx_db *, int64_t, const char *,
	    struct apx_audit_entry *, json_t **);
int	 apx_workspace_rename(struct apx_db *, int64_t, int64_t, const char *,
	    struct apx_audit_entry *, json_t **);
int	 apx_workspace_delete(struct apx_db *, int64_t, int64_t,
	    struct apx_audit_entry *);
int	 apx_ipallow_get(struct apx_db *, int64_t, json_t **);
/* Replace the list with CIDRS (canonical strings, validated). */
int	 apx_ipallow_put(struct apx_db *, int64_t, json_t *,
	    struct apx_audit_entry *);

#endif
