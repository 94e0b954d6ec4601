/*
 * The permission table: every route names one permission; a permission is
 * a scope (who may call at all), and for organisation routes the least
 * role, the least plan, and whether API keys may use it. The router applies
 * it (authz.c) before any handler runs; handlers never compare roles
 * themselves but ask the value rules below.
 */
#ifndef APX_AUTHZ_PERM_H
#define APX_AUTHZ_PERM_H

#include <stddef.h>

struct apx_route;

enum apx_role {
	APX_ROLE_NONE = 0,
	APX_ROLE_VIEWER,
	APX_ROLE_ANALYST,
	APX_ROLE_ADMIN,
	APX_ROLE_OWNER,
};

enum apx_plan {
	APX_PLAN_NONE = 0,
	APX_PLAN_FREE,
	APX_PLAN_GROWTH,
	APX_PLAN_AGENCY,
};

enum apx_scope {
	APX_SCOPE_PUBLIC,	/* anyone */
	APX_SCOPE_INTERNAL,	/* the internal shared secret */
	APX_SCOPE_USER,		/* a signed-in person (no API key) */
	APX_SCOPE_ORG,		/* a member of {org}, or its API key */
	APX_SCOPE_SUPERUSER,	/* a platform operator (/admin/api) */
};

struct apx_perm {
	const char	*name;		/* "members.write" */
	enum apx_scope	 scope;
	enum apx_role	 role;		/* least role (org scope) */
	enum apx_plan	 plan;		/* least plan (org scope) */
	int		 user_only;	/* API keys refused */
	int		 verified;	/* the person's address is verified */
};

const struct apx_perm *apx_perm_find(const char *);
const struct apx_perm *apx_perm_table(size_t *);
const char	*apx_role_name(int);
int		 apx_role_parse(const char *);	/* APX_ROLE_NONE if unknown */
const char	*apx_plan_name(int);
int		 apx_plan_parse(const char *);	/* APX_PLAN_NONE if unknown */
const char	*apx_scope_name(int);

/*
 * Start-up check of a route table against the permission table: every
 * route names a known permission, organisation routes live under
 * /api/v1/orgs/{org}/ and nothing else does, /admin/api is superuser-only,
 * /internal routes carry the internal flag. 0 or APX_ECONFIG with ERR.
 */
int	 apx_perm_check_routes(const struct apx_route *, size_t, char *,
	    size_t);

enum apx_change {
	APX_CHANGE_OK = 0,
	APX_CHANGE_FORBIDDEN,	/* the actor's role does not allow it */
	APX_CHANGE_LAST_OWNER,	/* it would leave the org without owner */
};

/*
 * May ACTOR (role) move a member from OLD to NEW (APX_ROLE_NONE: remove)?
 * OWNERS is the org's current owner count. SELF: the actor is the member
 * (leaving: always allowed but for the last owner).
 */
int	 apx_perm_member_change(int actor, int old, int new_role, int owners,
	    int self);
/* May ACTOR grant ROLE (invitation, API key role cap)? */
int	 apx_perm_may_grant(int actor, int role);

#endif
