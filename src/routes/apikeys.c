/*
 * API keys of an organisation: the key text is made here, answered once
 * and never stored; the database gets its prefix and hash.
 */
#include "config.h"

#include <string.h>

#include "auth/apikey.h"
#include "auth/session.h"
#include "authz/authz.h"
#include "authz/perm.h"
#include "routes/routes.h"
#include "store/apikeys.h"
#include "store/audit.h"
#include "store/orgs.h"

#define MAX_KEY_NAME	100

static int	 not_found(struct apx_ctx *);
static int	 key_settings(struct apx_ctx *, long long *, long long *);
static int	 answer_key(struct apx_ctx *, int, json_t *, char *);

static int
not_found(struct apx_ctx *c)
{
	return apx_resp_problem(c->resp, 404, "api-key-not-found",
	    "The organisation has no API key with this id.", NULL);
}

/* The org's key policy: max age in days and rotation grace (GRACE may be
 * NULL), from one read of its settings. */
static int
key_settings(struct apx_ctx *c, long long *days, long long *grace)
{
	json_t *all;
	int rc;

	if ((rc = apx_org_settings_get(c->db, c->org->id, &all)) != 0)
		return rc;
	*days = json_integer_value(json_object_get(all,
	    "api_key_max_age_days"));
	if (grace != NULL)
		*grace = json_integer_value(json_object_get(all,
		    "api_key_rotation_grace_seconds"));
	json_decref(all);
	return 0;
}

/* {api_key, key}: the only answer that ever holds the key; wiped after. */
static int
answer_key(struct apx_ctx *c, int status, json_t *k, char *key)
{
	int rc;

	c->resp->no_store = 1;
	rc = apx_resp_json(c->resp, status, json_pack("{s:o,s:s}", "api_key",
	    k, "key", key));
	apx_wipe(key, strlen(key));
	return rc;
}

int
apx_route_apikeys_list(struct apx_ctx *c)
{
	long long days;
	PGresult *list;
	int rc;

	if ((rc = key_settings(c, &days, NULL)) != 0 ||
	    (rc = apx_apikey_list(c->db, c->org->id, days, &list)) != 0)
		return rc;
	return apx_route_json_res(c, 200, list);
}

int
apx_route_apikey_get(struct apx_ctx *c)
{
	long long days;
	json_t *k;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return not_found(c);
	if ((rc = key_settings(c, &days, NULL)) != 0)
		return rc;
	rc = apx_apikey_get(c->db, c->org->id, id, days, &k);
	if (rc == APX_ENOTFOUND)
		return not_found(c);
	if (rc != 0)
		return rc;
	return apx_resp_json(c->resp, 200, json_pack("{s:o}", "api_key", k));
}

int
apx_route_apikeys_create(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	unsigned char hash[APX_APIKEY_HASH_LEN];
	char key[APX_APIKEY_LEN + 1], prefix[APX_APIKEY_PREFIX_LEN + 1];
	char expbuf[40];
	const char *name, *rs, *exp;
	json_t *body, *wsv, *k = NULL;
	int64_t expires, ws = 0;
	int role, us, rc = 0;

	key[0] = '\0';
	if (apx_route_json_body(c, &body) != 0)
		return 0;
	if (apx_route_name(c, body, "name", MAX_KEY_NAME, &name) != 0 ||
	    apx_route_string(c, body, "role", 16, 1, &rs, NULL) != 0 ||
	    apx_route_string(c, body, "expires_at", 40, 0, &exp, NULL) != 0)
		goto out;
	role = apx_role_parse(rs);
	if (role == APX_ROLE_NONE || role == APX_ROLE_OWNER) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "An API key's role is viewer, analyst or admin.", "role");
		goto out;
	}
	if (!apx_perm_may_grant(c->org->role, role)) {
		rc = apx_resp_problem(c->resp, 403, "forbidden",
		    "A key cannot have a role above your own.", "role");
		goto out;
	}
	wsv = json_object_get(body, "workspace_id");
	if (wsv != NULL && !json_is_null(wsv)) {
		if (!json_is_integer(wsv) || json_integer_value(wsv) <= 0) {
			rc = apx_resp_problem(c->resp, 422, "invalid-field",
			    "workspace_id is the id of a workspace.",
			    "workspace_id");
			goto out;
		}
		ws = json_integer_value(wsv);
	}
	if (exp != NULL) {
		if (apx_rfc3339_parse_us(exp, &expires, &us) != 0 ||
		    expires < apx_unix_now()) {
			rc = apx_resp_problem(c->resp, 422, "invalid-field",
			    "expires_at is an RFC 3339 time in the future.",
			    "expires_at");
			goto out;
		}
		apx_rfc3339_format_us(expires, us, expbuf, sizeof(expbuf));
		exp = expbuf;
	}
	if ((rc = apx_apikey_generate(NULL, key, prefix, hash)) != 0)
		goto out;
	apx_authz_audit(c, &e, "api_key.create", prefix);
	rc = apx_apikey_create(c->db, c->org->id, name, role, ws, c->auth->uid,
	    exp, prefix, hash, &e, &k);
	if (rc == APX_ENOTFOUND) {
		rc = apx_resp_problem(c->resp, 422, "invalid-field",
		    "The organisation has no workspace with this id.",
		    "workspace_id");
		goto out;
	}
	if (rc == 0) {
		/* The owners hear of every new key of their org. */
		apx_route_notify_owners(c, c->org->id, "apikey_created",
		    json_pack("{s:s,s:s,s:s,s:s,s:s}", "org", c->org->name != NULL ?
		    c->org->name : c->org->slug, "key_name", name, "key_prefix",
		    prefix, "role", rs, "actor", c->auth->kind == APX_AUTH_USER &&
		    c->auth->user.name != NULL ? c->auth->user.name :
		    "An API key"));
		rc = answer_key(c, 201, k, key);
	}
out:
	apx_wipe(key, sizeof(key));
	json_decref(body);
	return rc;
}

int
apx_route_apikey_revoke(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return not_found(c);
	apx_authz_audit(c, &e, "api_key.revoke", apx_arena_printf(
	    c->req->arena, "api_key:%lld", (long long)id));
	rc = apx_apikey_revoke(c->db, c->org->id, id, &e);
	if (rc == APX_ENOTFOUND)
		return not_found(c);
	if (rc != 0)
		return rc;
	c->resp->status = 204;
	return 0;
}

int
apx_route_apikey_rotate(struct apx_ctx *c)
{
	struct apx_audit_entry e;
	unsigned char hash[APX_APIKEY_HASH_LEN];
	char key[APX_APIKEY_LEN + 1], prefix[APX_APIKEY_PREFIX_LEN + 1];
	long long grace, days;
	json_t *k = NULL, *cur;
	int64_t id;
	int rc;

	if (apx_route_id(c, "id", &id) != 0)
		return not_found(c);
	if ((rc = key_settings(c, &days, &grace)) != 0)
		return rc;
	/* Same prefix, new secret. */
	rc = apx_apikey_get(c->db, c->org->id, id, days, &cur);
	if (rc == APX_ENOTFOUND)
		return not_found(c);
	if (rc != 0)
		return rc;
	if (!apx_authz_key_rotator(c, json_integer_value(json_object_get(cur,
	    "created_by")))) {
		json_decref(cur);
		return apx_resp_problem(c->resp, 403, "forbidden", "Only the "
		    "key's creator or an owner of the organisation may rotate "
		    "it.", NULL);
	}
	rc = apx_apikey_generate(json_string_value(json_object_get(cur,
	    "prefix")), key, prefix, hash);
	json_decref(cur);
	if (rc != 0)
		return rc;
	apx_authz_audit(c, &e, "api_key.rotate", prefix);
	rc = apx_apikey_rotate(c->db, c->org->id, id, c->auth->uid,
	    c->org->role == APX_ROLE_OWNER, hash, grace, days, &e, &k);
	if (rc == APX_ENOTFOUND)
		rc = not_found(c);
	else if (rc == 0)
		rc = answer_key(c, 200, k, key);
	apx_wipe(key, sizeof(key));
	return rc;
}
