/*
 * Privacy (GDPR) flows: exports of an org's personal data and of one
 * account's, erasure of a data subject from an org's uploads, erasure of a
 * whole org, deletion of an account. Audit entries are kept; their
 * personal fields are erased in place (migration 0008), which leaves every
 * hash chain verifiable. Every step is safe to repeat.
 */
#ifndef APX_STORE_PRIVACY_H
#define APX_STORE_PRIVACY_H

#include <stdint.h>

#include <jansson.h>

struct apx_conf;
struct apx_db;
struct apx_tenants;
struct apx_vault;
struct apx_audit_entry;

#define APX_EXPORT_FORMAT	"accupredix-privacy-export/1"
/* Personal fields an export carries at most (a bigger org: 413). */
#define APX_EXPORT_FIELDS_MAX	1000000

/*
 * {format, generated_at, org, members, invitations, audit_entries (those
 * whose actor or target is a member or an invited address), uploads: [{id,
 * workspace_id, name, personal_columns, personal_data: [{row, column,
 * value}]}]} of org ORG; sealed fields are opened.
 */
int	 apx_privacy_org_export(struct apx_db *, struct apx_db *,
	    struct apx_vault *, int64_t, json_t **);
/* {format, generated_at, account, sessions, memberships, api_keys,
 * audit_entries (made by the account)} of user UID. */
int	 apx_privacy_user_export(struct apx_db *, int64_t, json_t **);

struct apx_erasure_report {
	long long	 uploads;	/* uploads that held the subject */
	long long	 rows;		/* rows whose personal fields went */
	long long	 fields;	/* personal fields deleted */
};
/*
 * Delete every personal field of each row of org ORG's uploads where
 * COLUMN is VALUE (in clear, or by its blind index when sealed).
 */
int	 apx_privacy_erase_subject(struct apx_db *, struct apx_db *,
	    struct apx_vault *, int64_t, const char *, const char *,
	    struct apx_erasure_report *);
/*
 * Erase org ORG: marked erasing, tenant database dropped and its vault
 * keys destroyed, API keys, invitations, memberships, workspaces, policies
 * and settings deleted, the personal fields of its audit entries erased,
 * the org left as a tombstone. E (the org's log) records the end.
 * Resumes where an interrupted run stopped.
 */
int	 apx_privacy_erase_org(const struct apx_conf *, struct apx_db *,
	    struct apx_tenants *, struct apx_vault *, int64_t,
	    struct apx_audit_entry *);
/*
 * Delete account UID: APX_ECONFLICT (with the org's slug in *ORG, from
 * the arena-free static buffer of the caller, LEN bytes) while it is the
 * last owner of an org. Its audit entries keep their pseudonymous id, with
 * addresses, e-mail targets and before/after erased. E (the platform log)
 * records it.
 */
int	 apx_privacy_delete_user(struct apx_db *, int64_t,
	    struct apx_audit_entry *, char *, size_t);

#endif
