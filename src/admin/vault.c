/*
 * accupredix-admin vault rotate --data-keys: a new generation of data key
 * for every owner in scope (the platform and each active org, or one org),
 * then every value sealed with an older generation sealed again, in
 * batches, while the service runs. Audited: an entry in each org's log
 * as its keys are made (same transaction), one in the platform log for
 * the run. Prints counts, never a key or a value.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/apx.h"
#include "core/conf.h"
#include "core/log.h"
#include "admin/vault.h"
#include "store/audit.h"
#include "store/db.h"
#include "store/reseal.h"
#include "store/sso.h"
#include "store/tenant.h"
#include "vault/budget.h"
#include "vault/pii.h"
#include "vault/vault.h"

#define PASSES		3	/* walks over what is left (late commits) */
#define ACTION		"vault.rotate_data_keys"

struct run {
	struct apx_vault	*v;
	struct apx_db		*db;
	struct apx_tenants	*t;
	const char		*slug;		/* --org, or NULL: all */
	int			 batch;
	int			 resume;	/* no new keys */
	long long		 made, control, pii, left, retired;
	json_t			*failed;	/* slugs */
};

static int	 parse(int, char **, struct run *);
static void	 pause_us(uint64_t);
static int	 rotate_owner(struct run *, int64_t, const char *);
static int	 reseal_owner(struct run *, int64_t, const char *, int,
		    long long *);
static int	 retire_owner(struct run *, int64_t);
static int	 audit_run(struct run *, int);

static int
parse(int argc, char **argv, struct run *r)
{
	long long b;
	int i, dk = 0;

	r->batch = 100;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data-keys") == 0)
			dk = 1;
		else if (strcmp(argv[i], "--resume") == 0)
			r->resume = 1;
		else if (strcmp(argv[i], "--org") == 0 && i + 1 < argc &&
		    argv[i + 1][0] != '\0')
			r->slug = argv[++i];
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc &&
		    apx_parse_ll(argv[i + 1], 1, 10000, &b) == 0) {
			r->batch = (int)b;
			i++;
		} else
			return -1;
	}
	return dk ? 0 : -1;
}

static void
pause_us(uint64_t us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	while (nanosleep(&ts, &ts) == -1)
		;
}

/* New keys of OWNER (ORG 0: the platform) and, for an org, its audit
 * entry, in one transaction. */
static int
rotate_owner(struct run *r, int64_t org, const char *owner)
{
	struct apx_audit_entry e = { owner, "operator", "accupredix-admin",
	    ACTION, "vault_data_keys", "", "", NULL, NULL };
	json_t *made;
	int rc;

	if ((made = json_array()) == NULL)
		return APX_ENOMEM;
	if ((rc = apx_db_begin(r->db)) != 0)
		goto out;
	if ((rc = apx_vault_rotate_owner(r->v, r->db, owner, made)) != 0)
		goto fail;
	if (org != 0 && json_array_size(made) > 0) {
		e.after = json_pack("{s:O}", "data_keys", made);
		rc = e.after != NULL ? apx_audit_append(r->db, &e) : APX_ENOMEM;
		json_decref(e.after);
		if (rc != 0)
			goto fail;
	}
	if ((rc = apx_db_commit(r->db)) == 0)
		r->made += (long long)json_array_size(made);
	goto out;
fail:
	apx_db_rollback(r->db);
out:
	json_decref(made);
	return rc;
}

/* Re-seal what ORG (0: the platform) still has under an old key. */
static int
reseal_owner(struct run *r, int64_t org, const char *slug, int pii,
    long long *left)
{
	struct apx_reseal_count c = { 0, 0 }, p = { 0, 0 };
	struct apx_db *t;
	int rc;

	*left = 0;
	rc = apx_reseal_control(r->db, r->v, org, r->batch, &c);
	if (rc == 0 && pii && (rc = apx_tenants_db(r->t, org, &t)) == 0)
		rc = apx_reseal_pii(t, r->db, r->v, org, r->batch, &p);
	r->control += c.resealed;
	r->pii += p.resealed;
	*left = c.left + p.left;
	printf("%s%s: %lld values re-sealed (%lld personal fields), %lld "
	    "left%s%s\n", org == 0 ? "platform" : "org ", org == 0 ? "" : slug,
	    c.resealed + p.resealed, p.resealed, *left, rc != 0 ? ": " : "",
	    rc != 0 ? apx_strerror(rc) : "");
	fflush(stdout);
	return rc;
}

/* Nothing known refers to the old keys of ORG any more. */
static int
retire_owner(struct run *r, int64_t org)
{
	static const char *const org_purposes[] = { APX_TENANT_PURPOSE,
	    APX_PII_PURPOSE, APX_SSO_PURPOSE };
	char owner[32];
	long long n;
	size_t i;
	int rc;

	if (org == 0) {
		const char *pp[8];
		size_t np = apx_reseal_platform_purposes(pp, APX_NELEM(pp));

		for (i = 0; i < np; i++) {
			if ((rc = apx_vault_retire(r->db, "platform", pp[i],
			    &n)) != 0)
				return rc;
			r->retired += n;
		}
		return 0;
	}
	apx_tenant_owner(org, owner, sizeof(owner));
	for (i = 0; i < APX_NELEM(org_purposes); i++) {
		if ((rc = apx_vault_retire(r->db, owner, org_purposes[i], &n))
		    != 0)
			return rc;
		r->retired += n;
	}
	return 0;
}

static int
audit_run(struct run *r, int norgs)
{
	struct apx_audit_entry e = { APX_AUDIT_PLATFORM, "operator",
	    "accupredix-admin", ACTION, "vault_data_keys", "", "", NULL,
	    NULL };
	int rc;

	e.after = json_pack("{s:s,s:b,s:I,s:i,s:I,s:I,s:I,s:I,s:O}", "scope",
	    r->slug != NULL ? r->slug : "all", "resume", r->resume,
	    "new_data_keys", (json_int_t)r->made, "orgs", norgs,
	    "resealed_control", (json_int_t)r->control, "resealed_pii",
	    (json_int_t)r->pii, "left", (json_int_t)r->left, "retired",
	    (json_int_t)r->retired, "failed_orgs", r->failed);
	if (e.after == NULL)
		return APX_ENOMEM;
	rc = apx_audit_append(r->db, &e);
	json_decref(e.after);
	return rc;
}

int
apx_admin_rotate_data_keys(struct apx_conf *conf, int argc, char **argv)
{
	struct run r;
	PGresult *orgs = NULL;
	long long *left = NULL, platform_left = 0, total;
	char err[256], owner[32], *list;
	long long ll;
	int i, n = 0, pass, rc, broken = 0, status = 1;

	memset(&r, 0, sizeof(r));
	if (parse(argc, argv, &r) != 0) {
		fprintf(stderr, "usage: accupredix-admin vault rotate "
		    "--data-keys [--org SLUG] [--batch N] [--resume]\n");
		return 1;
	}
	if (apx_vault_get(conf, &r.v, err, sizeof(err)) != 0) {
		fprintf(stderr, "accupredix-admin: %s\n", err);
		return 1;
	}
	if (apx_vault_current(r.v) == 0) {
		fprintf(stderr, "accupredix-admin: data-key rotation needs a "
		    "vault key (vault.keys)\n");
		return 1;
	}
	if ((r.failed = json_array()) == NULL ||
	    (r.db = apx_db_new(conf->db_admin_conninfo, "accupredix-admin")) ==
	    NULL || (r.t = apx_tenants_new(conf, r.db,
	    (size_t)conf->tenant_max_conns)) == NULL) {
		fprintf(stderr, "accupredix-admin: out of memory\n");
		goto out;
	}
	if ((rc = apx_reseal_orgs(r.db, r.slug, &orgs)) != 0) {
		fprintf(stderr, "accupredix-admin: cannot list the orgs: %s\n",
		    apx_strerror(rc));
		goto out;
	}
	n = PQntuples(orgs);
	if (r.slug != NULL && n == 0) {
		fprintf(stderr, "accupredix-admin: no active org %s\n", r.slug);
		goto out;
	}
	if ((left = calloc((size_t)n + 1, sizeof(*left))) == NULL)
		goto out;

	/* 1. New keys: new seals use them at once. */
	if (!r.resume) {
		if (r.slug == NULL &&
		    (rc = rotate_owner(&r, 0, "platform")) != 0) {
			fprintf(stderr, "accupredix-admin: cannot make the "
			    "platform's new data keys: %s\n", apx_strerror(rc));
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (apx_parse_ll(PQgetvalue(orgs, i, 0), 1, INT64_MAX,
			    &ll) != 0)
				continue;
			apx_tenant_owner((int64_t)ll, owner, sizeof(owner));
			if ((rc = rotate_owner(&r, (int64_t)ll, owner)) != 0) {
				apx_log_error("org %s: new data keys: %s",
				    PQgetvalue(orgs, i, 1), apx_strerror(rc));
				json_array_append_new(r.failed,
				    json_string(PQgetvalue(orgs, i, 1)));
				left[i] = -1;
			}
		}
		printf("%lld new data keys (old ones kept for opening)\n",
		    r.made);
		fflush(stdout);
		/* Every worker looks its current key up again within
		 * APX_VAULT_RECHECK_US: after that nothing new is sealed
		 * with an old one. */
		if (r.made > 0)
			pause_us(APX_VAULT_RECHECK_US + 500 * 1000);
	}

	/* 2. Re-seal; later passes catch values sealed with an old key by a
	 * transaction that committed after the walk went by. */
	for (pass = 0; pass < PASSES; pass++) {
		total = 0;
		if (r.slug == NULL && (pass == 0 || platform_left > 0)) {
			if ((rc = reseal_owner(&r, 0, NULL, 0, &platform_left))
			    != 0) {
				fprintf(stderr, "accupredix-admin: platform: "
				    "%s\n", apx_strerror(rc));
				broken = 1;
				goto report;
			}
		}
		total += platform_left;
		for (i = 0; i < n; i++) {
			if (left[i] < 0 || (pass > 0 && left[i] == 0))
				continue;
			if (apx_parse_ll(PQgetvalue(orgs, i, 0), 1, INT64_MAX,
			    &ll) != 0)
				continue;
			if (reseal_owner(&r, (int64_t)ll, PQgetvalue(orgs, i, 1),
			    strcmp(PQgetvalue(orgs, i, 2), "t") == 0, &left[i])
			    != 0) {
				json_array_append_new(r.failed,
				    json_string(PQgetvalue(orgs, i, 1)));
				left[i] = -1;
				continue;
			}
			total += left[i];
		}
		if (total == 0)
			break;
		if (pass + 1 < PASSES)
			pause_us(1000 * 1000);
	}
	r.left = total;

	/* 3. Old keys nothing refers to any more: retired, still kept. */
	if (r.slug == NULL && platform_left == 0 && retire_owner(&r, 0) != 0)
		fprintf(stderr, "accupredix-admin: cannot mark the platform's "
		    "old keys retired\n");
	for (i = 0; i < n; i++) {
		if (left[i] != 0 || apx_parse_ll(PQgetvalue(orgs, i, 0), 1,
		    INT64_MAX, &ll) != 0)
			continue;
		if (retire_owner(&r, (int64_t)ll) != 0)
			fprintf(stderr, "accupredix-admin: org %s: cannot mark "
			    "old keys retired\n", PQgetvalue(orgs, i, 1));
	}
report:
	printf("data-key rotation: %lld new data keys; %lld values re-sealed "
	    "(%lld control plane, %lld personal fields); %lld still under an "
	    "old key; %lld old keys retired\n", r.made, r.control + r.pii,
	    r.control, r.pii, r.left, r.retired);
	if ((rc = audit_run(&r, n)) != 0)
		fprintf(stderr, "accupredix-admin: cannot write the audit "
		    "entry: %s\n", apx_strerror(rc));
	list = json_dumps(r.failed, JSON_COMPACT);
	if (json_array_size(r.failed) > 0)
		fprintf(stderr, "accupredix-admin: failed for %s (see the "
		    "log)\n", list != NULL ? list : "some orgs");
	free(list);
	if (rc == 0 && !broken && json_array_size(r.failed) == 0 &&
	    r.left == 0)
		status = 0;
	else
		fprintf(stderr, "accupredix-admin: not finished: run "
		    "accupredix-admin vault rotate --data-keys --resume%s%s "
		    "again (old keys stay readable meanwhile)\n",
		    r.slug != NULL ? " --org " : "", r.slug != NULL ? r.slug :
		    "");
out:
	free(left);
	PQclear(orgs);
	apx_tenants_free(r.t);
	apx_db_free(r.db);
	json_decref(r.failed);
	return status;
}
