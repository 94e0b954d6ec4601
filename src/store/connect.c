/* SQL of the connector platform: states, settings, connections, slots. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "store/audit.h"
#include "store/connect.h"
#include "store/db.h"

#define SEALED_MAX	(64 * 1024)
#define STATE_PURGE	100

static int	 unhex_col(PGresult *, int, int, unsigned char **, size_t *);

#define CONN_JSON \
	"json_build_object('id', c.id, 'connector', c.connector, 'status'," \
	" c.status, 'scopes', coalesce(to_json(regexp_split_to_array(" \
	" nullif(c.scopes, ''), '[ ,]+')), '[]'), 'accounts', (SELECT" \
	" coalesce(json_agg(json_build_object('id', a.external_id, 'name'," \
	" a.name) ORDER BY a.external_id), '[]') FROM connection_accounts a" \
	" WHERE a.connection_id = c.id), 'access_expires_at'," \
	" apx_ts(c.access_expires_at), 'last_refresh_at'," \
	" apx_ts(c.last_refresh_at), 'last_error', c.last_error," \
	" 'created_by', c.created_by, 'created_at', apx_ts(c.created_at)," \
	" 'updated_at', apx_ts(c.updated_at), 'workspace_id', c.workspace_id," \
	" 'sync', json_build_object('state', c.sync_state, 'started_at'," \
	" apx_ts(c.sync_started_at), 'records', c.sync_records, 'pages'," \
	" c.sync_pages, 'last_success_at', apx_ts(c.last_sync_at)," \
	" 'last_error', c.last_sync_error))"

static int
unhex_col(PGresult *res, int r, int col, unsigned char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (PQgetisnull(res, r, col))
		return 0;
	return apx_db_unhex(PQgetvalue(res, r, col), SEALED_MAX, out, len);
}

int
apx_state_insert(struct apx_db *db, const unsigned char *sh,
    const unsigned char *bh, const char *purpose, int64_t org, int64_t user,
    const unsigned char *data, size_t dlen, int ttl)
{
	char shx[2 * APX_STATE_HASH_LEN + 3], bhx[2 * APX_STATE_HASH_LEN + 3];
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN], ts[16], *dhx = NULL;
	const char *p[7];
	long long purged;
	int rc;

	(void)apx_state_purge(db, STATE_PURGE, &purged);
	apx_db_hex(sh, APX_STATE_HASH_LEN, shx);
	apx_db_hex(bh, APX_STATE_HASH_LEN, bhx);
	if (data != NULL && (dhx = apx_db_hexdup(data, dlen)) == NULL)
		return APX_ENOMEM;
	snprintf(ts, sizeof(ts), "%d", ttl);
	p[0] = shx;
	p[1] = bhx;
	p[2] = purpose;
	p[3] = org > 0 ? apx_db_id(org, os) : NULL;
	p[4] = user > 0 ? apx_db_id(user, us) : NULL;
	p[5] = dhx;
	p[6] = ts;
	rc = apx_db_do(db, 0, "INSERT INTO oauth_states (state_hash,"
	    " browser_hash, purpose, org_id, user_id, data, expires_at) VALUES"
	    " ($1::bytea, $2::bytea, $3, $4::bigint, $5::bigint, $6::bytea,"
	    " now() + make_interval(secs => $7::int))", 7, p);
	free(dhx);
	return rc;
}

int
apx_state_take(struct apx_db *db, const unsigned char *sh,
    const unsigned char *bh, const char *purpose, int64_t *org, int64_t *user,
    unsigned char **data, size_t *dlen, const char **why)
{
	char shx[2 * APX_STATE_HASH_LEN + 3], bhx[2 * APX_STATE_HASH_LEN + 3];
	const char *p[3] = { shx, bhx, purpose };
	long long v;
	PGresult *res;
	int rc;

	*org = *user = 0;
	*data = NULL;
	*dlen = 0;
	*why = NULL;
	apx_db_hex(sh, APX_STATE_HASH_LEN, shx);
	apx_db_hex(bh, APX_STATE_HASH_LEN, bhx);
	/* One statement: two callbacks with one state cannot both win. */
	if ((rc = apx_db_query(db, 0, &res, "DELETE FROM oauth_states WHERE"
	    " state_hash = $1::bytea AND browser_hash = $2::bytea AND purpose"
	    " = $3 AND expires_at > now() RETURNING coalesce(org_id, 0),"
	    " coalesce(user_id, 0), data", 3, p)) != 0)
		return rc;
	if (PQntuples(res) == 1) {
		if (apx_parse_ll(PQgetvalue(res, 0, 0), 0, INT64_MAX, &v) == 0)
			*org = v;
		if (apx_parse_ll(PQgetvalue(res, 0, 1), 0, INT64_MAX, &v) == 0)
			*user = v;
		rc = unhex_col(res, 0, 2, data, dlen);
		PQclear(res);
		return rc;
	}
	PQclear(res);
	/* Why not: for the log line only; the state is left as it was,
	 * so a foreign browser cannot burn another's state. */
	if ((rc = apx_db_query(db, 0, &res, "SELECT browser_hash ="
	    " $2::bytea, purpose = $3, expires_at > now() FROM oauth_states"
	    " WHERE state_hash = $1::bytea", 3, p)) != 0)
		return rc;
	if (PQntuples(res) != 1)
		*why = "unknown or used";
	else if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
		*why = "expired";
	else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		*why = "another browser";
	else
		*why = "another purpose";
	PQclear(res);
	return APX_EUNAUTH;
}

int
apx_state_purge(struct apx_db *db, int n, long long *done)
{
	char ns[16];
	const char *p[1] = { ns };
	PGresult *res;
	int rc;

	*done = 0;
	snprintf(ns, sizeof(ns), "%d", n);
	if ((rc = apx_db_query(db, 0, &res, "DELETE FROM oauth_states WHERE"
	    " state_hash IN (SELECT state_hash FROM oauth_states WHERE"
	    " expires_at <= now() LIMIT $1::int FOR UPDATE SKIP LOCKED)", 1,
	    p)) != 0)
		return rc;
	(void)apx_parse_ll(PQcmdTuples(res), 0, INT64_MAX, done);
	PQclear(res);
	return 0;
}

int
apx_csettings_get(struct apx_db *db, int64_t org, const char *connector,
    json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), connector };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT coalesce("
	    "json_object_agg(field, CASE WHEN sealed IS NULL THEN"
	    " json_build_object('value', value) ELSE json_build_object("
	    "'sealed', '\\x' || encode(sealed, 'hex')) END), '{}') FROM"
	    " connector_settings WHERE org_id = $1::bigint AND connector = $2",
	    2, p);
}

int
apx_csettings_put(struct apx_db *db, int64_t org, const char *connector,
    json_t *changes, struct apx_audit_entry *e, json_t *before,
    json_t *after)
{
	char os[APX_DB_ID_LEN];
	const char *p[4];
	json_t *ch, *v;
	size_t i;
	int rc;

	if ((rc = apx_db_begin(db)) != 0)
		return rc;
	p[0] = apx_db_id(org, os);
	p[1] = connector;
	json_array_foreach(changes, i, ch) {
		p[2] = json_string_value(json_object_get(ch, "field"));
		if ((v = json_object_get(ch, "value")) != NULL &&
		    json_is_string(v)) {
			p[3] = json_string_value(v);
			rc = apx_db_do(db, 0, "INSERT INTO connector_settings"
			    " (org_id, connector, field, value) VALUES"
			    " ($1::bigint, $2, $3, $4) ON CONFLICT (org_id,"
			    " connector, field) DO UPDATE SET value ="
			    " excluded.value, sealed = NULL, updated_at = now()",
			    4, p);
		} else if ((v = json_object_get(ch, "sealed")) != NULL &&
		    json_is_string(v)) {
			p[3] = json_string_value(v);
			rc = apx_db_do(db, 0, "INSERT INTO connector_settings"
			    " (org_id, connector, field, sealed) VALUES"
			    " ($1::bigint, $2, $3, $4::bytea) ON CONFLICT (org_id,"
			    " connector, field) DO UPDATE SET sealed ="
			    " excluded.sealed, value = NULL, updated_at = now()",
			    4, p);
		} else
			rc = apx_db_do(db, 0, "DELETE FROM connector_settings"
			    " WHERE org_id = $1::bigint AND connector = $2 AND"
			    " field = $3", 3, p);
		if (rc != 0)
			goto fail;
	}
	return apx_audit_commit(db, e, before, after);
fail:
	apx_db_rollback(db);
	return rc;
}

int
apx_conn_list(struct apx_db *db, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT json_build_object("
	    "'connections', coalesce(json_agg(" CONN_JSON " ORDER BY c.id),"
	    " '[]')) FROM connections c WHERE c.org_id = $1::bigint", 1, p);
}

int
apx_conn_get(struct apx_db *db, int64_t org, int64_t id, json_t **out)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(id, is) };
	int rc;

	if ((rc = apx_db_json(db, APX_DB_RETRY, out, "SELECT " CONN_JSON
	    " FROM connections c WHERE c.org_id = $1::bigint AND c.id ="
	    " $2::bigint", 2, p)) != 0)
		return rc;
	return *out == NULL ? APX_ENOTFOUND : 0;
}

void
apx_conn_row_clear(struct apx_conn_row *r)
{
	if (r->tokens != NULL) {
		apx_wipe(r->tokens, r->tokens_len);
		free(r->tokens);
	}
	free(r->first_account);
	memset(r, 0, sizeof(*r));
}

int
apx_conn_read(struct apx_db *db, int64_t org, int64_t id, int for_update,
    struct apx_conn_row *out)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(id, is) };
	long long v;
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = apx_db_query(db, for_update ? 0 : APX_DB_RETRY, &res,
	    for_update ? "SELECT c.id, c.connector, c.status, c.tokens,"
	    " coalesce(extract(epoch FROM c.access_expires_at)::bigint, 0),"
	    " (SELECT min(a.external_id) FROM connection_accounts a WHERE"
	    " a.connection_id = c.id) FROM connections c WHERE c.org_id ="
	    " $1::bigint AND c.id = $2::bigint FOR UPDATE OF c" :
	    "SELECT c.id, c.connector, c.status, c.tokens,"
	    " coalesce(extract(epoch FROM c.access_expires_at)::bigint, 0),"
	    " (SELECT min(a.external_id) FROM connection_accounts a WHERE"
	    " a.connection_id = c.id) FROM connections c WHERE c.org_id ="
	    " $1::bigint AND c.id = $2::bigint", 2, p)) != 0)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return APX_ENOTFOUND;
	}
	out->id = id;
	out->org = org;
	snprintf(out->connector, sizeof(out->connector), "%s",
	    PQgetvalue(res, 0, 1));
	out->needs_reauth = strcmp(PQgetvalue(res, 0, 2), "needs_reauth") == 0;
	if (apx_parse_ll(PQgetvalue(res, 0, 4), 0, INT64_MAX, &v) == 0)
		out->access_expires = v;
	rc = unhex_col(res, 0, 3, &out->tokens, &out->tokens_len);
	if (rc == 0 && !PQgetisnull(res, 0, 5) &&
	    (out->first_account = strdup(PQgetvalue(res, 0, 5))) == NULL)
		rc = APX_ENOMEM;
	PQclear(res);
	if (rc != 0)
		apx_conn_row_clear(out);
	return rc;
}

int
apx_conn_claim(struct apx_db *db, int64_t org, const char *connector,
    json_t *accounts, int64_t user, int64_t *id, int *existed)
{
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN], *ids;
	const char *p[3];
	long long v;
	PGresult *res;
	int rc;

	*id = 0;
	*existed = 0;
	if ((ids = json_dumps(accounts, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(org, os);
	p[1] = connector;
	p[2] = ids;
	rc = apx_db_query(db, 0, &res, "SELECT c.id FROM connections c JOIN"
	    " connection_accounts a ON a.connection_id = c.id WHERE c.org_id ="
	    " $1::bigint AND c.connector = $2 AND a.external_id IN (SELECT"
	    " x->>'id' FROM jsonb_array_elements($3::jsonb) x) ORDER BY c.id"
	    " LIMIT 1 FOR UPDATE OF c", 3, p);
	free(ids);
	if (rc != 0)
		return rc;
	if (PQntuples(res) == 1) {
		rc = apx_parse_ll(PQgetvalue(res, 0, 0), 1, INT64_MAX, &v);
		PQclear(res);
		if (rc != 0)
			return APX_EDB;
		*id = v;
		*existed = 1;
		return 0;
	}
	PQclear(res);
	p[2] = user > 0 ? apx_db_id(user, us) : NULL;
	if ((rc = apx_db_query(db, 0, &res, "INSERT INTO connections (org_id,"
	    " connector, created_by) VALUES ($1::bigint, $2, $3::bigint)"
	    " RETURNING id", 3, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1 ? apx_parse_ll(PQgetvalue(res, 0, 0), 1,
	    INT64_MAX, &v) : APX_EDB;
	PQclear(res);
	if (rc != 0)
		return APX_EDB;
	*id = v;
	return 0;
}

int
apx_conn_set_tokens(struct apx_db *db, int64_t id, const unsigned char *tok,
    size_t toklen, int64_t expires_in, int64_t refresh_in, const char *scopes,
    json_t *accounts, int refreshed)
{
	char is[APX_DB_ID_LEN], es[24], rs[24], rf[2], *hx, *acc = NULL;
	const char *p[7];
	int rc;

	if ((hx = apx_db_hexdup(tok, toklen)) == NULL)
		return APX_ENOMEM;
	snprintf(es, sizeof(es), "%lld", (long long)expires_in);
	snprintf(rs, sizeof(rs), "%lld", (long long)refresh_in);
	snprintf(rf, sizeof(rf), "%d", refreshed ? 1 : 0);
	p[0] = apx_db_id(id, is);
	p[1] = hx;
	p[2] = es;
	p[3] = rs;
	p[4] = scopes;
	p[5] = rf;
	rc = apx_db_do(db, 0, "UPDATE connections SET tokens = $2::bytea,"
	    " access_expires_at = CASE WHEN $3::bigint > 0 THEN now() +"
	    " make_interval(secs => $3::bigint) END, refresh_expires_at ="
	    " CASE WHEN $4::bigint > 0 THEN now() + make_interval(secs =>"
	    " $4::bigint) END, scopes = coalesce($5, scopes), status ="
	    " 'active', last_error = NULL, last_refresh_at = CASE WHEN"
	    " $6::int = 1 THEN now() ELSE last_refresh_at END, updated_at ="
	    " now() WHERE id = $1::bigint", 6, p);
	apx_wipe(hx, strlen(hx));
	free(hx);
	if (rc != 0 || accounts == NULL)
		return rc;
	if ((acc = json_dumps(accounts, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[1] = acc;
	if ((rc = apx_db_do(db, 0, "DELETE FROM connection_accounts WHERE"
	    " connection_id = $1::bigint", 1, p)) == 0)
		rc = apx_db_do(db, 0, "INSERT INTO connection_accounts"
		    " (connection_id, org_id, connector, external_id, name)"
		    " SELECT c.id, c.org_id, c.connector, x->>'id', x->>'name'"
		    " FROM connections c, jsonb_array_elements($2::jsonb) x"
		    " WHERE c.id = $1::bigint ON CONFLICT DO NOTHING", 2, p);
	free(acc);
	return rc;
}

int
apx_conn_mark(struct apx_db *db, int64_t id, const char *reason)
{
	char is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(id, is), reason };

	return apx_db_do(db, 0, "UPDATE connections SET status ="
	    " 'needs_reauth', last_error = $2, updated_at = now() WHERE id ="
	    " $1::bigint", 2, p);
}

int
apx_conn_note(struct apx_db *db, int64_t id, const char *err)
{
	char is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(id, is), err };

	return apx_db_do(db, APX_DB_RETRY, "UPDATE connections SET last_error"
	    " = $2 WHERE id = $1::bigint AND last_error IS DISTINCT FROM $2",
	    2, p);
}

int
apx_conn_delete(struct apx_db *db, int64_t org, int64_t id)
{
	char os[APX_DB_ID_LEN], is[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(id, is) };
	int rc;

	if ((rc = apx_db_do(db, 0, "DELETE FROM connector_secrets WHERE"
	    " org_id = $1::bigint AND connection_id = $2::bigint", 2, p)) != 0)
		return rc;
	return apx_db_do(db, 0, "DELETE FROM connections WHERE org_id ="
	    " $1::bigint AND id = $2::bigint", 2, p);
}

int
apx_cslot_put(struct apx_db *db, int64_t org, const char *connector,
    int64_t conn, const char *slot, const unsigned char *sealed, size_t len)
{
	char os[APX_DB_ID_LEN], cs[APX_DB_ID_LEN], *hx;
	const char *p[5];
	int rc;

	if (len > SEALED_MAX)
		return APX_ETOOBIG;
	if ((hx = apx_db_hexdup(sealed, len)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(org, os);
	p[1] = connector;
	p[2] = apx_db_id(conn, cs);
	p[3] = slot;
	p[4] = hx;
	rc = apx_db_do(db, 0, "INSERT INTO connector_secrets (org_id,"
	    " connector, connection_id, slot, sealed) VALUES ($1::bigint, $2,"
	    " $3::bigint, $4, $5::bytea) ON CONFLICT (org_id, connector,"
	    " connection_id, slot) DO UPDATE SET sealed = excluded.sealed,"
	    " updated_at = now()", 5, p);
	free(hx);
	return rc;
}

int
apx_cslot_get(struct apx_db *db, int64_t org, const char *connector,
    int64_t conn, const char *slot, unsigned char **sealed, size_t *len)
{
	char os[APX_DB_ID_LEN], cs[APX_DB_ID_LEN];
	const char *p[4] = { apx_db_id(org, os), connector,
	    apx_db_id(conn, cs), slot };
	PGresult *res;
	int rc;

	*sealed = NULL;
	*len = 0;
	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT sealed FROM"
	    " connector_secrets WHERE org_id = $1::bigint AND connector = $2"
	    " AND connection_id = $3::bigint AND slot = $4", 4, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1 ? unhex_col(res, 0, 0, sealed, len) :
	    APX_ENOTFOUND;
	PQclear(res);
	return rc;
}

int
apx_cslot_delete(struct apx_db *db, int64_t org, const char *connector,
    int64_t conn, const char *slot)
{
	char os[APX_DB_ID_LEN], cs[APX_DB_ID_LEN];
	const char *p[4] = { apx_db_id(org, os), connector,
	    apx_db_id(conn, cs), slot };

	return apx_db_do(db, 0, "DELETE FROM connector_secrets WHERE org_id ="
	    " $1::bigint AND connector = $2 AND connection_id = $3::bigint AND"
	    " slot = $4", 4, p);
}

int
apx_cevent_insert(struct apx_db *t, const char *connector, int64_t conn,
    const char *type, const char *json)
{
	char cs[APX_DB_ID_LEN];
	const char *p[4] = { connector, conn > 0 ? apx_db_id(conn, cs) : NULL,
	    type, json };

	return apx_db_do(t, 0, "INSERT INTO connector_events (connector,"
	    " connection_id, type, payload) VALUES ($1, $2::bigint, $3,"
	    " $4::jsonb)", 4, p);
}

int
apx_conn_may_connect(struct apx_db *db, int64_t org, int64_t user)
{
	char os[APX_DB_ID_LEN], us[APX_DB_ID_LEN];
	const char *p[2] = { apx_db_id(org, os), apx_db_id(user, us) };
	PGresult *res;
	int rc;

	if ((rc = apx_db_query(db, APX_DB_RETRY, &res, "SELECT 1 FROM"
	    " memberships m JOIN orgs o ON o.id = m.org_id WHERE m.org_id ="
	    " $1::bigint AND m.user_id = $2::bigint AND m.role IN ('owner',"
	    " 'admin') AND o.status = 'active'", 2, p)) != 0)
		return rc;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
}
