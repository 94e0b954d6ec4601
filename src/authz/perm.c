/*
 * The one permission table. A route names its row in routes.c; authz.c
 * applies the row; the value rules (who may hand out which role) are here
 * too, so that role logic lives in this file only.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "authz/perm.h"
#include "core/apx.h"
#include "http/router.h"

#define PUB	APX_SCOPE_PUBLIC
#define INT	APX_SCOPE_INTERNAL
#define USR	APX_SCOPE_USER
#define ORG	APX_SCOPE_ORG
#define SU	APX_SCOPE_SUPERUSER
#define V	APX_ROLE_VIEWER
#define AN	APX_ROLE_ANALYST
#define A	APX_ROLE_ADMIN
#define FREE	APX_PLAN_FREE
#define GROWTH	APX_PLAN_GROWTH
#define AGENCY	APX_PLAN_AGENCY

static const struct apx_perm perms[] = {
	/* name			scope	role	plan	user_only verified */
	{ "public",		PUB,	0,	0,	0 },
	{ "internal",		INT,	0,	0,	0 },
	{ "user",		USR,	0,	0,	1 },
	/* what an account may do once its address is proven: create
	 * and join organisations */
	{ "user.verified",	USR,	0,	0,	1,	1 },
	{ "superuser",		SU,	0,	0,	1 },
	{ "org.read",		ORG,	V,	FREE,	0 },
	{ "org.write",		ORG,	A,	FREE,	0 },
	{ "settings.read",	ORG,	A,	FREE,	0 },
	{ "settings.write",	ORG,	A,	FREE,	0 },
	{ "members.read",	ORG,	V,	FREE,	0 },
	{ "members.write",	ORG,	A,	FREE,	1 },
	{ "membership.leave",	ORG,	V,	FREE,	1 },
	{ "invitations.read",	ORG,	A,	FREE,	1 },
	{ "invitations.write",	ORG,	A,	FREE,	1 },
	{ "workspaces.read",	ORG,	V,	FREE,	0 },
	{ "workspaces.write",	ORG,	A,	GROWTH,	0 },
	{ "ipallow.read",	ORG,	A,	GROWTH,	1 },
	{ "ipallow.write",	ORG,	A,	GROWTH,	1 },
	{ "apikeys.read",	ORG,	A,	GROWTH,	1 },
	{ "apikeys.write",	ORG,	A,	GROWTH,	1 },
	{ "audit.read",		ORG,	A,	FREE,	0 },
	{ "privacy.export",	ORG,	A,	FREE,	1 },
	{ "privacy.erase",	ORG,	A,	FREE,	1 },
	{ "retention.read",	ORG,	A,	GROWTH,	0 },
	{ "retention.write",	ORG,	A,	GROWTH,	0 },
	{ "uploads.read",	ORG,	V,	FREE,	0 },
	{ "uploads.write",	ORG,	AN,	FREE,	0 },
	{ "forecasts.read",	ORG,	V,	FREE,	0 },
	{ "forecasts.write",	ORG,	AN,	FREE,	0 },
	{ "connectors.read",	ORG,	A,	FREE,	0 },
	{ "connectors.write",	ORG,	A,	FREE,	0 },
	{ "connectors.connect",	ORG,	A,	FREE,	1 },
	{ "domains.read",	ORG,	A,	AGENCY,	0 },
	{ "domains.write",	ORG,	A,	AGENCY,	0 },
	{ "sso.read",		ORG,	A,	AGENCY,	0 },
	{ "sso.write",		ORG,	A,	AGENCY,	1 },
};

static const char *const roles[] = { "none", "viewer", "analyst", "admin",
    "owner" };
static const char *const plans[] = { "none", "free", "growth", "agency" };
static const char *const scopes[] = { "public", "internal", "user", "org",
    "superuser" };

static int	 has_prefix(const char *, const char *);

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

const struct apx_perm *
apx_perm_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < APX_NELEM(perms); i++)
		if (strcmp(perms[i].name, name) == 0)
			return &perms[i];
	return NULL;
}

const struct apx_perm *
apx_perm_table(size_t *n)
{
	*n = APX_NELEM(perms);
	return perms;
}

const char *
apx_role_name(int r)
{
	return r >= 0 && (size_t)r < APX_NELEM(roles) ? roles[r] : "none";
}

int
apx_role_parse(const char *s)
{
	size_t i;

	for (i = 1; s != NULL && i < APX_NELEM(roles); i++)
		if (strcmp(roles[i], s) == 0)
			return (int)i;
	return APX_ROLE_NONE;
}

const char *
apx_plan_name(int p)
{
	return p >= 0 && (size_t)p < APX_NELEM(plans) ? plans[p] : "none";
}

int
apx_plan_parse(const char *s)
{
	size_t i;

	for (i = 1; s != NULL && i < APX_NELEM(plans); i++)
		if (strcmp(plans[i], s) == 0)
			return (int)i;
	return APX_PLAN_NONE;
}

const char *
apx_scope_name(int s)
{
	return s >= 0 && (size_t)s < APX_NELEM(scopes) ? scopes[s] : "?";
}

int
apx_perm_check_routes(const struct apx_route *rt, size_t n, char *err,
    size_t len)
{
	const struct apx_perm *p;
	const char *pat, *why = NULL;
	size_t i;
	int org, admin, internal;

	for (i = 0; i < n; i++) {
		pat = rt[i].pattern;
		org = has_prefix(pat, "/api/v1/orgs/{org}");
		admin = has_prefix(pat, "/admin/api/");
		internal = (rt[i].flags & APX_ROUTE_INTERNAL) != 0;
		if ((p = apx_perm_find(rt[i].perm)) == NULL)
			why = "names no row of the permission table";
		else if (org != (p->scope == APX_SCOPE_ORG))
			why = "organisation routes and only they have an "
			    "organisation permission";
		else if (admin != (p->scope == APX_SCOPE_SUPERUSER))
			why = "/admin/api routes and only they are superuser";
		else if (internal != (p->scope == APX_SCOPE_INTERNAL) ||
		    internal != has_prefix(pat, "/internal/"))
			why = "/internal routes and only they are internal";
		else if ((p->scope == APX_SCOPE_PUBLIC ||
		    p->scope == APX_SCOPE_INTERNAL) !=
		    !(rt[i].flags & APX_ROUTE_AUTH))
			why = "exactly the non-public routes authenticate";
		if (why != NULL) {
			snprintf(err, len, "route %s (perm %s): %s", pat,
			    rt[i].perm != NULL ? rt[i].perm : "none", why);
			return APX_ECONFIG;
		}
	}
	return 0;
}

int
apx_perm_may_grant(int actor, int role)
{
	return role > APX_ROLE_NONE && role <= actor && actor >= APX_ROLE_ADMIN;
}

int
apx_perm_member_change(int actor, int old, int new_role, int owners, int self)
{
	int loses_owner = old == APX_ROLE_OWNER && new_role != APX_ROLE_OWNER;

	if (!(self && new_role == APX_ROLE_NONE)) {
		/* Changing somebody: admin at least, never above oneself,
		 * and owners are an owner's business. */
		if (actor < APX_ROLE_ADMIN || new_role > actor ||
		    old > actor)
			return APX_CHANGE_FORBIDDEN;
		if ((old == APX_ROLE_OWNER || new_role == APX_ROLE_OWNER) &&
		    actor != APX_ROLE_OWNER)
			return APX_CHANGE_FORBIDDEN;
	}
	if (loses_owner && owners <= 1)
		return APX_CHANGE_LAST_OWNER;
	return APX_CHANGE_OK;
}
