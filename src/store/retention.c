/* Upload retention: policies in the control plane, purges in tenants. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/log.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/retention.h"
#include "store/tenant.h"

#define POLICY_JSON \
	"json_build_object('retention', json_build_object('upload_days'," \
	" (SELECT upload_days FROM retention_policies WHERE org_id =" \
	" $1::bigint AND workspace_id IS NULL), 'workspaces', coalesce(" \
	"(SELECT json_agg(json_build_object('workspace_id', workspace_id," \
	" 'upload_days', upload_days) ORDER BY workspace_id) FROM" \
	" retention_policies WHERE org_id = $1::bigint AND workspace_id IS" \
	" NOT NULL), '[]')))"

static int	 purge_org(struct apx_db *, struct apx_tenants *, int64_t,
		    const char *, const char *, struct apx_retention_report *);

int
apx_retention_get(struct apx_db *db, int64_t org, json_t **out)
{
	char os[APX_DB_ID_LEN];
	const char *p[1] = { apx_db_id(org, os) };

	return apx_db_json(db, APX_DB_RETRY, out, "SELECT " POLICY_JSON, 1, p);
}

int
apx_retention_put(struct apx_db *db, int64_t org, json_t *policy,
    struct apx_audit_entry *e)
{
	char os[APX_DB_ID_LEN], *pol;
	const char *p[2];
	json_t *before = NULL, *after = NULL, *bad = NULL;
	int rc;

	if ((pol = json_dumps(policy, JSON_COMPACT)) == NULL)
		return APX_ENOMEM;
	p[0] = apx_db_id(org, os);
	p[1] = pol;
	if ((rc = apx_db_begin(db)) != 0)
		goto out;
	/* Serialise changes of one org's policy. */
	if ((rc = apx_db_json(db, 0, &before, "SELECT " POLICY_JSON " FROM"
	    " orgs WHERE id = $1::bigint FOR UPDATE", 1, p)) != 0)
		goto fail;
	if ((rc = apx_db_json(db, 0, &bad, "SELECT to_json(w.id) FROM"
	    " jsonb_array_elements($2::jsonb->'workspaces') x(v),"
	    " LATERAL (SELECT (x.v->>'workspace_id')::bigint AS id) w"
	    " WHERE NOT EXISTS (SELECT 1 FROM workspaces k WHERE k.id = w.id"
	    " AND k.org_id = $1::bigint) LIMIT 1", 2, p)) != 0)
		goto fail;
	if (bad != NULL) {
		rc = APX_ENOTFOUND;
		goto fail;
	}
	if ((rc = apx_db_do(db, 0, "DELETE FROM retention_policies WHERE"
	    " org_id = $1::bigint", 1, p)) != 0 ||
	    (rc = apx_db_do(db, 0, "INSERT INTO retention_policies (org_id,"
	    " workspace_id, upload_days) SELECT $1::bigint, NULL,"
	    " ($2::jsonb->>'upload_days')::int WHERE jsonb_typeof($2::jsonb->"
	    "'upload_days') = 'number' UNION ALL SELECT $1::bigint,"
	    " (v->>'workspace_id')::bigint, (v->>'upload_days')::int FROM"
	    " jsonb_array_elements($2::jsonb->'workspaces') v", 2, p)) != 0 ||
	    (rc = apx_db_json(db, 0, &after, "SELECT " POLICY_JSON, 1, p)) != 0)
		goto fail;
	rc = apx_audit_commit(db, e, json_object_get(before, "retention"),
	    json_object_get(after, "retention"));
	goto out;
fail:
	apx_db_rollback(db);
out:
	json_decref(before);
	json_decref(after);
	json_decref(bad);
	free(pol);
	return rc;
}

/* Delete the uploads IDS ({...} text) and their forecasts: idempotent. */
#define DELETE_BATCH \
	"WITH f AS (DELETE FROM forecasts WHERE upload_id = ANY ($1::bigint[])" \
	" RETURNING 1), d AS (DELETE FROM uploads WHERE id = ANY" \
	" ($1::bigint[]) RETURNING 1) SELECT json_build_array((SELECT" \
	" count(*) FROM d), (SELECT count(*) FROM f))"

static int
delete_batch(struct apx_db *t, const char *ids,
    struct apx_retention_report *r)
{
	const char *p[1] = { ids };
	json_t *got = NULL;
	int rc;

	if ((rc = apx_db_json(t, 0, &got, DELETE_BATCH, 1, p)) != 0)
		return rc;
	r->uploads += json_integer_value(json_array_get(got, 0));
	r->forecasts += json_integer_value(json_array_get(got, 1));
	json_decref(got);
	return 0;
}

/*
 * Batches of ORG that an earlier purge recorded and audited but did not
 * finish (its tenant delete failed, or it died): delete them now. A batch
 * in progress elsewhere is locked and skipped.
 */
static int
finish_batches(struct apx_db *ctl, struct apx_db *t, const char *org,
    struct apx_retention_report *r)
{
	const char *p[1] = { org };
	PGresult *res;
	int rc, n;

	for (;;) {
		if ((rc = apx_db_begin(ctl)) != 0)
			return rc;
		if ((rc = apx_db_query(ctl, 0, &res, "SELECT id, upload_ids"
		    " FROM retention_batches WHERE org_id = $1::bigint ORDER BY"
		    " id LIMIT 1 FOR UPDATE SKIP LOCKED", 1, p)) != 0)
			goto fail;
		if ((n = PQntuples(res)) == 1) {
			const char *q[1] = { PQgetvalue(res, 0, 0) };

			if ((rc = delete_batch(t, PQgetvalue(res, 0, 1), r)) !=
			    0 || (rc = apx_db_do(ctl, 0, "DELETE FROM"
			    " retention_batches WHERE id = $1::bigint", 1, q))
			    != 0) {
				PQclear(res);
				goto fail;
			}
		}
		PQclear(res);
		if ((rc = apx_db_commit(ctl)) != 0 || n == 0)
			return rc;
	}
fail:
	apx_db_rollback(ctl);
	return rc;
}

/*
 * Purge one org, batch by batch until a short one. A batch is deleted
 * only once it is on record: its exact upload ids are locked in the
 * tenant database, then written with its `retention.purge` audit entry in
 * one control-plane transaction (retention_batches), then deleted in the
 * tenant database, then struck from retention_batches. When the audit
 * entry fails nothing is deleted; when the tenant delete fails the batch
 * stays recorded and the next purge finishes it (finish_batches).
 */
static int
purge_org(struct apx_db *ctl, struct apx_tenants *tenants, int64_t org,
    const char *policy, const char *rid, struct apx_retention_report *r)
{
	char bs[16], os[APX_DB_ID_LEN], log[32];
	const char *p[2] = { policy, bs }, *q[2];
	struct apx_audit_entry e;
	struct apx_db *t;
	json_t *got = NULL, *batch = NULL, *after;
	const char *ids;
	long long n;
	int rc;

	snprintf(bs, sizeof(bs), "%d", APX_RETENTION_BATCH);
	apx_db_id(org, os);
	if ((rc = apx_tenants_db(tenants, org, &t)) != 0)
		return rc;
	if ((rc = finish_batches(ctl, t, os, r)) != 0)
		return rc;
	memset(&e, 0, sizeof(e));
	snprintf(log, sizeof(log), "org:%s", os);
	do {
		if ((rc = apx_db_begin(t)) != 0)
			return rc;
		/* Expired rows, locked; rows another purge holds are its.
		 * The lock also keeps new forecasts off these uploads. */
		if ((rc = apx_db_json(t, 0, &got,
		    "WITH p AS (SELECT * FROM jsonb_to_recordset($1::jsonb)"
		    " AS x(ws bigint, days int)),"
		    " v AS (SELECT u.id FROM uploads u WHERE u.created_at <"
		    " now() - make_interval(days => coalesce((SELECT days FROM p"
		    " WHERE p.ws = u.workspace_id), (SELECT days FROM p WHERE"
		    " p.ws IS NULL))) ORDER BY u.id LIMIT $2::int FOR UPDATE"
		    " SKIP LOCKED)"
		    " SELECT json_build_object('ids', (SELECT array_agg(id ORDER"
		    " BY id)::text FROM v), 'list', (SELECT coalesce(json_agg(id"
		    " ORDER BY id), '[]') FROM v), 'n', (SELECT count(*) FROM v),"
		    " 'forecasts', (SELECT count(*) FROM forecasts WHERE"
		    " upload_id IN (SELECT id FROM v)))", 2, p)) != 0)
			goto fail_t;
		n = json_integer_value(json_object_get(got, "n"));
		if (n == 0) {
			apx_db_rollback(t);
			json_decref(got);
			break;
		}
		ids = json_string_value(json_object_get(got, "ids"));
		/* On record first: the batch and its audit entry. */
		q[0] = os;
		q[1] = ids;
		e.log = log;
		e.actor_type = "system";
		e.actor_id = "retention";
		e.action = "retention.purge";
		e.target = "uploads";
		e.client_addr = "";
		e.request_id = rid != NULL ? rid : "";
		after = json_pack("{s:I,s:O,s:O}", "uploads_deleted",
		    (json_int_t)n, "forecasts_deleted", json_object_get(got,
		    "forecasts"), "upload_ids", json_object_get(got, "list"));
		if (after == NULL) {
			rc = APX_ENOMEM;
			goto fail_t;
		}
		if ((rc = apx_db_begin(ctl)) == 0 &&
		    (rc = apx_db_json(ctl, 0, &batch, "INSERT INTO"
		    " retention_batches (org_id, upload_ids) VALUES"
		    " ($1::bigint, $2::bigint[]) RETURNING to_json(id::text)",
		    2, q)) != 0)
			apx_db_rollback(ctl);
		if (rc == 0)
			rc = apx_audit_commit(ctl, &e, NULL, after);
		json_decref(after);
		if (rc != 0)
			goto fail_t;
		/* Held while the tenant deletes, so no other purge
		 * "finishes" it meanwhile; struck once they are gone. */
		q[0] = json_string_value(batch);
		if ((rc = apx_db_begin(ctl)) != 0 ||
		    (rc = apx_db_do(ctl, 0, "SELECT 1 FROM retention_batches"
		    " WHERE id = $1::bigint FOR UPDATE", 1, q)) != 0)
			goto fail_both;
		if ((rc = delete_batch(t, ids, r)) != 0 ||
		    (rc = apx_db_commit(t)) != 0)
			goto fail_both;
		if (apx_db_do(ctl, 0, "DELETE FROM retention_batches WHERE"
		    " id = $1::bigint", 1, q) != 0 || apx_db_commit(ctl) != 0) {
			/* Deleted and audited; the next purge strikes it. */
			apx_log_warn("org %s: retention batch %s deleted but "
			    "still recorded", os, q[0]);
			apx_db_rollback(ctl);
		}
		json_decref(batch);
		json_decref(got);
		batch = got = NULL;
	} while (n == APX_RETENTION_BATCH);
	return 0;
fail_both:
	apx_db_rollback(ctl);
fail_t:
	apx_db_rollback(t);
	json_decref(batch);
	json_decref(got);
	return rc;
}

int
apx_retention_purge(struct apx_db *ctl, struct apx_tenants *tenants,
    const char *rid, struct apx_retention_report *r)
{
	PGresult *res;
	long long org;
	int i, rc;

	memset(r, 0, sizeof(*r));
	if ((r->failed = json_array()) == NULL)
		return APX_ENOMEM;
	if ((rc = apx_db_query(ctl, APX_DB_RETRY, &res, "SELECT o.id, o.slug,"
	    " json_agg(json_build_object('ws', p.workspace_id, 'days',"
	    " p.upload_days)) FROM retention_policies p JOIN orgs o ON o.id ="
	    " p.org_id GROUP BY o.id, o.slug ORDER BY o.id", 0, NULL)) != 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		if (apx_parse_ll(PQgetvalue(res, i, 0), 1, INT64_MAX, &org) != 0)
			continue;
		r->orgs++;
		if ((rc = purge_org(ctl, tenants, org, PQgetvalue(res, i, 2), rid,
		    r)) != 0) {
			apx_log_error("org %s: retention purge failed: %s",
			    PQgetvalue(res, i, 1), apx_strerror(rc));
			json_array_append_new(r->failed,
			    json_string(PQgetvalue(res, i, 1)));
		}
	}
	PQclear(res);
	return 0;
}
