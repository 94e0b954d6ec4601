/*
 * What an authenticated request reads of the control database -- the
 * session and its user, the org, membership and workspace an org route
 * names, an API key, an org's member list -- kept per worker, so that a
 * client that keeps calling costs no round trip at all.
 *
 * PostgreSQL invalidates it: triggers on every table these answers come
 * from (migration 0020) NOTIFY apx_auth when a row that matters changes
 * (a logout, a revoked or rotated key, a membership, a role, a plan, an
 * org's settings or status, a workspace, an allowlist, a user), and each
 * request first reads what its connection received (apx_db_changed, no
 * round trip): any notification, a new connection or none at all empties
 * the cache; the workers of a host also share an epoch (authcache.c), so
 * the request after a revoking answer is refused whichever worker takes it. An entry also lives at most APX_AUTHCACHE_TTL_US, so what no
 * notification reached is still felt within a second. Only answers that
 * let a request in are kept (a refusal is read again every time), and the
 * times that end them (a session's or key's expiry, a key's rotation
 * grace) are compared with the clock at each use.
 */
#ifndef APX_AUTH_AUTHCACHE_H
#define APX_AUTH_AUTHCACHE_H

#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "store/apikeys.h"
#include "store/identity.h"
#include "store/orgs.h"

struct apx_db;

#define APX_AUTHCACHE_TTL_US	(1000 * 1000)
#define APX_AUTHCACHE_CHANNEL	"apx_auth"

/*
 * The epoch shared by the workers of configuration KEY (its path) on this
 * host, in /dev/shm; APX_EIO when it cannot be had (then only the
 * notifications and the TTL empty the cache).
 */
int	 apx_authcache_init(const char *);
/* At the start of each authenticated request: drop everything if the
 * database said something changed (or cannot say), or another worker of
 * this host did. */
void	 apx_authcache_sync(struct apx_db *);
/* At the end of each request, before its answer goes: when it changed such
 * a row (its notification came back with its commit), drop everything and
 * tell the other workers of this host. */
void	 apx_authcache_after(struct apx_db *);
/* Drop everything (tests, and a worker that wrote such a row). */
void	 apx_authcache_flush(void);

/*
 * Session SID of UID with its user and, when SLUG is not NULL, the access
 * to org SLUG and workspace WS (apx_session_user_org's answer). 0 with U
 * (and ACC) filled, strings in A; APX_ENOTFOUND when not held.
 */
int	 apx_authcache_session(int64_t, int64_t, const char *, int64_t,
	    struct apx_arena *, struct apx_user *, struct apx_org_access *);
/* Keep that answer; EXPIRES is the session's expiry (seconds). */
void	 apx_authcache_session_put(int64_t, int64_t, const char *, int64_t,
	    const struct apx_user *, const struct apx_org_access *, int64_t);

/*
 * The key of PREFIX (apx_apikey_lookup's answer, LIVE and PREVIOUS_OK
 * computed now), or APX_ENOTFOUND. *TOUCH is 1 when its last use should
 * be recorded (at most once a minute per key and worker).
 */
int	 apx_authcache_apikey(const char *, struct apx_arena *,
	    struct apx_apikey_auth *, int *);
void	 apx_authcache_apikey_put(const char *, const struct apx_apikey_auth *,
	    const struct apx_apikey_times *);

/* apx_org_access's answer for (SLUG, UID, WS, ALLOW_WS). */
int	 apx_authcache_org(const char *, int64_t, int64_t, int64_t,
	    struct apx_arena *, struct apx_org_access *);
void	 apx_authcache_org_put(const char *, int64_t, int64_t, int64_t,
	    const struct apx_org_access *);

/*
 * The member list of org ORG, as its route answers it (a JSON body): the
 * memberships and their users' names and emails are rows whose change
 * empties the cache, so it is held like the caller's own membership. An
 * org's list over APX_AUTHCACHE_MEMBERS_MAX bytes is not held. 0 with the
 * body appended to B; APX_ENOTFOUND when not held.
 */
#define APX_AUTHCACHE_MEMBERS_MAX	(32 * 1024)
int	 apx_authcache_members(int64_t, struct apx_buf *);
void	 apx_authcache_members_put(int64_t, const char *, size_t);

/* Hits and misses since the start (for tests and bench/profile.py). */
void	 apx_authcache_stats(uint64_t *, uint64_t *);

#endif
