#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/settings.h"
#include "auth/password.h"

static const struct apx_setting settings[] = {
	/* Lifetime of an access JWT, seconds. */
	{ "access_token_lifetime", 900, 60, 86400 },
	/* argon2id passes and memory (KiB) for new hashes; logins rehash
	 * weaker ones. Floors: OWASP's t=2, m=19 MiB. */
	{ "password_t", 2, 2, 10 },
	{ "password_m_kib", 19456, 19456, 1048576 },
};

const struct apx_setting *
apx_setting_find(const struct apx_setting *t, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].key, key) == 0)
			return &t[i];
	return NULL;
}

int
apx_setting_validate(const struct apx_setting *t, size_t n, json_t *patch,
    const char **field, const char **reason)
{
	const char *key;
	json_t *v;

	*field = NULL;
	*reason = NULL;
	if (!json_is_object(patch) || json_object_size(patch) == 0) {
		*reason = "the body names no setting";
		return APX_EINVAL;
	}
	json_object_foreach(patch, key, v) {
		const struct apx_setting *s = apx_setting_find(t, n, key);

		*field = key;
		if (s == NULL) {
			*reason = "unknown setting";
			return APX_EINVAL;
		}
		if (!json_is_integer(v)) {
			*reason = "must be an integer";
			return APX_EINVAL;
		}
		if (json_integer_value(v) < s->min ||
		    json_integer_value(v) > s->max) {
			*reason = "out of range";
			return APX_EINVAL;
		}
	}
	*field = NULL;
	return 0;
}

int
apx_settings_get_all(struct apx_db *db, json_t **out)
{
	PGresult *res;
	json_t *o;
	size_t i;
	int rc, r;

	if ((o = json_object()) == NULL)
		return APX_ENOMEM;
	for (i = 0; i < APX_NELEM(settings); i++)
		json_object_set_new(o, settings[i].key,
		    json_integer(settings[i].def));
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res,
	    "SELECT key, value::text FROM platform_settings", 0, NULL)) != 0) {
		json_decref(o);
		return rc;
	}
	for (r = 0; r < PQntuples(res); r++) {
		const struct apx_setting *s = apx_setting_find(settings,
		    APX_NELEM(settings), PQgetvalue(res, r, 0));
		long long v;

		/* Rows of settings this binary does not know are ignored. */
		if (s == NULL || apx_parse_ll(PQgetvalue(res, r, 1), s->min,
		    s->max, &v) != 0)
			continue;
		json_object_set_new(o, s->key, json_integer(v));
	}
	PQclear(res);
	*out = o;
	return 0;
}

int
apx_settings_get_int(struct apx_db *db, const char *key, long long *out)
{
	json_t *all, *v;
	int rc;

	if (apx_setting_find(settings, APX_NELEM(settings), key) == NULL)
		return APX_ENOTFOUND;
	if ((rc = apx_settings_get_all(db, &all)) != 0)
		return rc;
	v = json_object_get(all, key);
	*out = json_integer_value(v);
	json_decref(all);
	return 0;
}

int
apx_settings_validate(json_t *patch, const char **field, const char **reason)
{
	return apx_setting_validate(settings, APX_NELEM(settings), patch, field,
	    reason);
}

int
apx_settings_apply(struct apx_db *db, json_t *patch,
    struct apx_audit_entry *audit)
{
	const char *key, *params[2];
	char num[32];
	PGresult *res;
	json_t *v, *before = NULL, *after = NULL;
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	/* Serialise writers so that "before" is what this change replaced. */
	if ((rc = apx_db_query(db, 0, &res, "SELECT pg_advisory_xact_lock("
	    "hashtext('platform_settings'))", 0, NULL)) != 0)
		goto fail;
	PQclear(res);
	if ((rc = apx_settings_get_all(db, &before)) != 0)
		goto fail;
	json_object_foreach(patch, key, v) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(v));
		params[0] = key;
		params[1] = num;
		rc = apx_db_query(db, 0, &res,
		    "INSERT INTO platform_settings (key, value, updated_at) "
		    "VALUES ($1, to_jsonb($2::bigint), now()) "
		    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
		    "updated_at = now()", 2, params);
		if (rc != 0)
			goto fail;
		PQclear(res);
	}
	if ((rc = apx_settings_get_all(db, &after)) != 0)
		goto fail;
	audit->before = before;
	audit->after = after;
	if ((rc = apx_audit_append(db, audit)) != 0 ||
	    (rc = apx_db_commit(db)) != 0)
		goto fail;
	rc = 0;
	goto out;
fail:
	apx_db_rollback(db);
out:
	audit->before = audit->after = NULL;
	json_decref(before);
	json_decref(after);
	return rc;
}

int
apx_settings_pwparams(struct apx_db *db, struct apx_pwparams *pp)
{
	long long t, m;
	int rc;

	if ((rc = apx_settings_get_int(db, "password_t", &t)) != 0 ||
	    (rc = apx_settings_get_int(db, "password_m_kib", &m)) != 0)
		return rc;
	pp->t = (unsigned long long)t;
	pp->m = (size_t)m * 1024;
	return 0;
}
