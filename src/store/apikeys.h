/*
 * API keys of an organisation (migration 0004): the database holds the
 * prefix and the SHA-256 of the key, never the key. See auth/apikey.h for
 * the text format.
 */
#ifndef APX_STORE_APIKEYS_H
#define APX_STORE_APIKEYS_H

#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "core/arena.h"
#include "store/identity.h"

struct apx_db;
struct apx_audit_entry;
struct apx_org_access;

struct apx_apikey_auth {
	int64_t		 id;
	int64_t		 org_id;
	int64_t		 workspace_id;	/* 0: unscoped */
	int		 role;		/* role cap */
	unsigned char	 hash[32];
	unsigned char	 previous_hash[32];
	int		 previous_ok;	/* within the rotation grace period */
	int		 live;		/* not revoked, not expired */
	/*
	 * The person the key acts as: its creator, or whoever last rotated
	 * it (and so received its secret). CREATOR_ROLE is the creator's
	 * current role in the key's org (APX_ROLE_NONE once gone): the key
	 * is honoured only while both keep it (authz.c).
	 */
	struct apx_user	 holder;
	int64_t		 creator_id;
	int		 creator_role;
};

/* The times that end a key (seconds since the epoch; 0: none). */
struct apx_apikey_times {
	int		 revoked;
	int64_t		 expires_at;
	int64_t		 previous_until;	/* the rotation grace */
};

/*
 * The key of PREFIX with its holder, LIVE and PREVIOUS_OK as of now; its
 * times in *T (may be NULL). With SLUG (an org route, valid), in the same
 * round trip what authz needs of that org and workspace WS for the key's
 * holder (apx_org_access's answer, the allowlist of WS or else of the
 * key's workspace; ACC->id 0: no such org). APX_ENOTFOUND if no such key.
 */
int	 apx_apikey_lookup(struct apx_db *, struct apx_arena *, const char *,
	    const char *, int64_t, struct apx_apikey_auth *,
	    struct apx_apikey_times *, struct apx_org_access *);
/* K's LIVE and PREVIOUS_OK from T at NOW (seconds since the epoch). */
void	 apx_apikey_judge(struct apx_apikey_auth *,
	    const struct apx_apikey_times *, int64_t);
/* Record a use (at most once a minute per key). */
int	 apx_apikey_touch(struct apx_db *, int64_t);

/* List/get with rotation_due computed against MAX_AGE days. */
int	 apx_apikey_list(struct apx_db *, int64_t, long long, PGresult **);
int	 apx_apikey_get(struct apx_db *, int64_t, int64_t, long long,
	    json_t **);
/*
 * A new key of ORG. WS 0 = unscoped (else it must be the org's:
 * APX_ENOTFOUND); EXPIRES NULL or RFC 3339.
 */
int	 apx_apikey_create(struct apx_db *, int64_t, const char *, int,
	    int64_t, int64_t, const char *, const char *,
	    const unsigned char *, struct apx_audit_entry *, json_t **);
int	 apx_apikey_revoke(struct apx_db *, int64_t, int64_t,
	    struct apx_audit_entry *);
/*
 * New secret HASH for key ID of ORG, handed to user BY, who becomes the
 * key's holder; the old secret stays valid GRACE seconds. Only the key's
 * creator or an owner of the org may rotate it (BY_OWNER: BY is one):
 * APX_EFORBIDDEN otherwise, checked in the same statement as the change.
 */
int	 apx_apikey_rotate(struct apx_db *, int64_t, int64_t, int64_t, int,
	    const unsigned char *, long long, long long,
	    struct apx_audit_entry *, json_t **);

#endif
