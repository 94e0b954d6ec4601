/*
 * Re-sealing after a data-key rotation: every value the vault sealed
 * with a data key that is no longer its owner's current one is opened
 * (with the key its record names) and sealed again with the current key,
 * under a row lock, BATCH rows per transaction. Rows another transaction
 * holds are skipped (runs may overlap with each other and with the app);
 * a reader sees the old or the new sealed value, and both open. What is
 * left is counted, so that a run can be repeated until nothing is.
 *
 * Where sealed values live (add a row to reseal.c's table for a new one):
 * jwt_keys.private_sealed (platform, "jwt"), orgs.tenant_secret (org,
 * "tenant_db"), org_sso.client_secret (org, "sso"), user_mfa.secret_sealed
 * (platform, "mfa"), mail_outbox.sealed (platform, "mail"), and in each
 * tenant database upload_personal.sealed (org, "pii"; its blind index is
 * left alone: see README "Data-key rotation").
 */
#ifndef APX_STORE_RESEAL_H
#define APX_STORE_RESEAL_H

#include <stdint.h>

#include <libpq-fe.h>

struct apx_db;
struct apx_vault;

struct apx_reseal_count {
	long long	 resealed;	/* values sealed again by this call */
	long long	 left;		/* values still under an old key */
};

/*
 * The control-plane values of ORG (0: the platform's) in CTL. Adds to
 * *N.
 */
int	 apx_reseal_control(struct apx_db *, struct apx_vault *, int64_t, int,
	    struct apx_reseal_count *);
/* The personal fields of org ORG in its database T. Adds to *N. */
int	 apx_reseal_pii(struct apx_db *, struct apx_db *, struct apx_vault *,
	    int64_t, int, struct apx_reseal_count *);
/*
 * The active orgs a rotation covers (only SLUG's when not NULL): rows of
 * (id, slug, has a "pii" data key as "t"/"f"), ordered by id; the caller
 * clears *RES.
 */
/* The purposes of the platform's sealed columns (OUT, at most MAX): what
 * `vault rotate --data-keys` may retire once nothing is under the old key. */
size_t	 apx_reseal_platform_purposes(const char **, size_t);
int	 apx_reseal_orgs(struct apx_db *, const char *, PGresult **);

#endif
