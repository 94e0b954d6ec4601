/*
 * The per-worker cache of what authentication reads (auth/authcache.h).
 * Three small direct-mapped tables; an entry's strings live in one
 * malloc'd block that is wiped and freed when the slot is used again.
 * Emptying the cache is a generation bump: an entry of an older generation
 * is empty.
 *
 * The workers of one configuration on one host also share an epoch, a
 * word in a file of /dev/shm (mode 0600, the workers' user): a worker whose
 * own request changed such a row (its own NOTIFY comes back with its
 * COMMIT) bumps it before it answers, and every worker compares it at the
 * start of each request, a memory read. So the next request after a
 * logout's answer, on any worker of the host, is refused, however late the
 * other workers' connections deliver the notification; workers on other
 * hosts rely on the notification (milliseconds) and on the TTL.
 */
#include "config.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/authcache.h"
#include "core/apx.h"
#include "store/db.h"

#define SLOTS		256
#define SLUG_MAX	48
#define PREFIX_MAX	16
#define TOUCH_US	(60ULL * 1000 * 1000)
#define MEMBER_SLOTS	32

/* Strings of an entry, one block: NUL-separated, in this order. */
struct strs {
	char	*block;
	size_t	 len;
};

struct session_entry {
	uint64_t		 gen;		/* 0: empty */
	uint64_t		 at_us;
	int64_t			 uid, sid, ws;
	char			 slug[SLUG_MAX];	/* "" : no org */
	int64_t			 expires;
	struct apx_user		 user;		/* strings in s */
	struct apx_org_access	 acc;		/* strings in s */
	struct strs		 s;
};

struct key_entry {
	uint64_t		 gen;
	uint64_t		 at_us;
	uint64_t		 touched_us;
	char			 prefix[PREFIX_MAX];
	struct apx_apikey_auth	 key;		/* holder strings in s */
	struct apx_apikey_times	 times;
	struct strs		 s;
};

/* An org's member list: the answer's body in s (s.len - 1 bytes and a
 * NUL). */
struct members_entry {
	uint64_t		 gen;
	uint64_t		 at_us;
	int64_t			 org;
	struct strs		 s;
};

struct org_entry {
	uint64_t		 gen;
	uint64_t		 at_us;
	int64_t			 uid, ws, allow_ws;
	char			 slug[SLUG_MAX];
	struct apx_org_access	 acc;
	struct strs		 s;
};

static struct session_entry	 sessions[SLOTS];
static struct key_entry		 keys[SLOTS];
static struct org_entry		 orgs[SLOTS];
/* At most MEMBER_SLOTS x APX_AUTHCACHE_MEMBERS_MAX bytes (1 MiB) */
static struct members_entry	 members[MEMBER_SLOTS];
static uint64_t			 generation = 1;
static uint64_t			 seen_connection;
static uint64_t			 hits, misses;
/* The epoch the workers of this configuration on this host share (NULL:
 * none), and the value this worker last acted on. */
static _Atomic uint64_t		*shared;
static uint64_t			 shared_seen;

static uint32_t
mix_id(uint32_t h, int64_t v)
{
	return apx_fnv1a(h, &v, sizeof(v));
}

static void
strs_free(struct strs *s)
{
	if (s->block != NULL) {
		apx_wipe(s->block, s->len);
		free(s->block);
	}
	s->block = NULL;
	s->len = 0;
}

/*
 * Copy the N strings V (NULL allowed: stays NULL) into one block of S;
 * OUT[i] point into it. 0, or APX_ENOMEM (S empty).
 */
static int
strs_set(struct strs *s, const char *const *v, const char **out, size_t n)
{
	size_t i, len = 0, at = 0, l;

	strs_free(s);
	for (i = 0; i < n; i++)
		len += v[i] != NULL ? strlen(v[i]) + 1 : 0;
	if (len == 0)
		len = 1;
	if ((s->block = malloc(len)) == NULL)
		return APX_ENOMEM;
	s->len = len;
	for (i = 0; i < n; i++) {
		if (v[i] == NULL) {
			out[i] = NULL;
			continue;
		}
		l = strlen(v[i]) + 1;
		memcpy(s->block + at, v[i], l);
		out[i] = s->block + at;
		at += l;
	}
	return 0;
}

/* STR copied into A; NULL stays NULL. 0 or APX_ENOMEM. */
static int
dup_into(struct apx_arena *a, const char **str)
{
	if (*str == NULL)
		return 0;
	return (*str = apx_arena_strdup(a, *str)) == NULL ? APX_ENOMEM : 0;
}

static int
fresh(uint64_t gen, uint64_t at_us, uint64_t now)
{
	return gen == generation && now - at_us < APX_AUTHCACHE_TTL_US;
}

static int
slug_fits(const char *slug)
{
	return slug == NULL || strlen(slug) < SLUG_MAX;
}

/* Everything held is void at once; an entry's block goes when its slot is
 * used again (only the slots ever used are touched). */
void
apx_authcache_flush(void)
{
	generation++;
}

int
apx_authcache_init(const char *key)
{
	char path[96];
	struct stat st;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/accupredix-auth-%lu-%08x",
	    (unsigned long)geteuid(),
	    (unsigned)apx_fnv1a(APX_FNV_BASIS, key, strlen(key)));
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) < 0)
		return APX_EIO;
	/* ours alone: another user's file of that name is not trusted */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
	    (st.st_size < (off_t)sizeof(uint64_t) &&
	    ftruncate(fd, (off_t)sizeof(uint64_t)) != 0)) {
		close(fd);
		return APX_EIO;
	}
	p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return APX_EIO;
	shared = p;
	shared_seen = atomic_load(shared);
	return 0;
}

void
apx_authcache_sync(struct apx_db *db)
{
	uint64_t e;

	if (shared != NULL && (e = atomic_load(shared)) != shared_seen) {
		shared_seen = e;
		apx_authcache_flush();
	}
	if (db == NULL || apx_db_changed(db, &seen_connection))
		apx_authcache_flush();
}

void
apx_authcache_after(struct apx_db *db)
{
	if (db == NULL || apx_db_notified(db) == 0)
		return;
	apx_authcache_flush();
	if (shared != NULL)
		shared_seen = atomic_fetch_add(shared, 1) + 1;
}

void
apx_authcache_stats(uint64_t *h, uint64_t *m)
{
	*h = hits;
	*m = misses;
}

static struct session_entry *
session_slot(int64_t uid, int64_t sid, const char *slug, int64_t ws)
{
	uint32_t h = APX_FNV_BASIS;

	h = mix_id(mix_id(mix_id(h, uid), sid), ws);
	if (slug != NULL)
		h = apx_fnv1a(h, slug, strlen(slug));
	return &sessions[h % SLOTS];
}

int
apx_authcache_session(int64_t uid, int64_t sid, const char *slug, int64_t ws,
    struct apx_arena *a, struct apx_user *u, struct apx_org_access *acc)
{
	struct session_entry *e;
	uint64_t now = apx_now_us();

	if (!slug_fits(slug))
		return APX_ENOTFOUND;
	e = session_slot(uid, sid, slug, ws);
	if (!fresh(e->gen, e->at_us, now) || e->uid != uid || e->sid != sid ||
	    e->ws != ws || strcmp(e->slug, slug != NULL ? slug : "") != 0 ||
	    e->expires <= apx_unix_now()) {
		misses++;
		return APX_ENOTFOUND;
	}
	*u = e->user;
	if (dup_into(a, &u->email) != 0 || dup_into(a, &u->name) != 0 ||
	    dup_into(a, &u->password_hash) != 0)
		return APX_ENOMEM;
	if (slug != NULL) {
		*acc = e->acc;
		if (dup_into(a, &acc->name) != 0 ||
		    dup_into(a, &acc->region) != 0 ||
		    dup_into(a, &acc->allowlist) != 0)
			return APX_ENOMEM;
	}
	hits++;
	return 0;
}

void
apx_authcache_session_put(int64_t uid, int64_t sid, const char *slug,
    int64_t ws, const struct apx_user *u, const struct apx_org_access *acc,
    int64_t expires)
{
	struct session_entry *e;
	const char *in[6], *out[6];

	if (!slug_fits(slug))
		return;
	e = session_slot(uid, sid, slug, ws);
	e->gen = 0;
	in[0] = u->email;
	in[1] = u->name;
	in[2] = slug != NULL ? acc->name : NULL;
	in[3] = slug != NULL ? acc->region : NULL;
	in[4] = slug != NULL ? acc->allowlist : NULL;
	/* routes that ask for the password again check it against this
	 * (a hash; wiped with the block) */
	in[5] = u->password_hash;
	if (strs_set(&e->s, in, out, 6) != 0)
		return;
	e->uid = uid;
	e->sid = sid;
	e->ws = ws;
	snprintf(e->slug, sizeof(e->slug), "%s", slug != NULL ? slug : "");
	e->expires = expires;
	e->user = *u;
	e->user.email = out[0];
	e->user.name = out[1];
	e->user.password_hash = out[5];
	memset(&e->acc, 0, sizeof(e->acc));
	if (slug != NULL) {
		e->acc = *acc;
		e->acc.name = out[2];
		e->acc.region = out[3];
		e->acc.allowlist = out[4];
	}
	e->at_us = apx_now_us();
	e->gen = generation;
}

static struct key_entry *
key_slot(const char *prefix)
{
	return &keys[apx_fnv1a(APX_FNV_BASIS, prefix, strlen(prefix)) % SLOTS];
}

int
apx_authcache_apikey(const char *prefix, struct apx_arena *a,
    struct apx_apikey_auth *k, int *touch)
{
	struct key_entry *e = key_slot(prefix);
	uint64_t now = apx_now_us();

	*touch = 1;
	if (strlen(prefix) >= PREFIX_MAX || !fresh(e->gen, e->at_us, now) ||
	    strcmp(e->prefix, prefix) != 0) {
		misses++;
		return APX_ENOTFOUND;
	}
	*k = e->key;
	apx_apikey_judge(k, &e->times, apx_unix_now());
	if (dup_into(a, &k->holder.email) != 0 ||
	    dup_into(a, &k->holder.name) != 0)
		return APX_ENOMEM;
	if (now - e->touched_us < TOUCH_US)
		*touch = 0;
	else
		e->touched_us = now;
	hits++;
	return 0;
}

void
apx_authcache_apikey_put(const char *prefix, const struct apx_apikey_auth *k,
    const struct apx_apikey_times *t)
{
	struct key_entry *e;
	const char *in[2], *out[2];

	if (strlen(prefix) >= PREFIX_MAX)
		return;
	e = key_slot(prefix);
	e->gen = 0;
	in[0] = k->holder.email;
	in[1] = k->holder.name;
	if (strs_set(&e->s, in, out, 2) != 0)
		return;
	snprintf(e->prefix, sizeof(e->prefix), "%s", prefix);
	e->key = *k;
	e->key.holder.password_hash = NULL;
	e->key.holder.email = out[0];
	e->key.holder.name = out[1];
	e->times = *t;
	e->at_us = e->touched_us = apx_now_us();
	e->gen = generation;
}

static struct org_entry *
org_slot(const char *slug, int64_t uid, int64_t ws, int64_t allow_ws)
{
	uint32_t h = apx_fnv1a(APX_FNV_BASIS, slug, strlen(slug));

	return &orgs[mix_id(mix_id(mix_id(h, uid), ws), allow_ws) % SLOTS];
}

int
apx_authcache_org(const char *slug, int64_t uid, int64_t ws, int64_t allow_ws,
    struct apx_arena *a, struct apx_org_access *acc)
{
	struct org_entry *e;

	if (!slug_fits(slug)) {
		misses++;
		return APX_ENOTFOUND;
	}
	e = org_slot(slug, uid, ws, allow_ws);
	if (!fresh(e->gen, e->at_us, apx_now_us()) || e->uid != uid ||
	    e->ws != ws || e->allow_ws != allow_ws ||
	    strcmp(e->slug, slug) != 0) {
		misses++;
		return APX_ENOTFOUND;
	}
	*acc = e->acc;
	if (dup_into(a, &acc->name) != 0 || dup_into(a, &acc->region) != 0 ||
	    dup_into(a, &acc->allowlist) != 0)
		return APX_ENOMEM;
	hits++;
	return 0;
}

void
apx_authcache_org_put(const char *slug, int64_t uid, int64_t ws,
    int64_t allow_ws, const struct apx_org_access *acc)
{
	struct org_entry *e;
	const char *in[3], *out[3];

	if (!slug_fits(slug))
		return;
	e = org_slot(slug, uid, ws, allow_ws);
	e->gen = 0;
	in[0] = acc->name;
	in[1] = acc->region;
	in[2] = acc->allowlist;
	if (strs_set(&e->s, in, out, 3) != 0)
		return;
	snprintf(e->slug, sizeof(e->slug), "%s", slug);
	e->uid = uid;
	e->ws = ws;
	e->allow_ws = allow_ws;
	e->acc = *acc;
	e->acc.name = out[0];
	e->acc.region = out[1];
	e->acc.allowlist = out[2];
	e->at_us = apx_now_us();
	e->gen = generation;
}

static struct members_entry *
members_slot(int64_t org)
{
	return &members[mix_id(APX_FNV_BASIS, org) % MEMBER_SLOTS];
}

int
apx_authcache_members(int64_t org, struct apx_buf *b)
{
	struct members_entry *e = members_slot(org);

	if (!fresh(e->gen, e->at_us, apx_now_us()) || e->org != org) {
		misses++;
		return APX_ENOTFOUND;
	}
	hits++;
	return apx_buf_add(b, e->s.block, e->s.len - 1);
}

void
apx_authcache_members_put(int64_t org, const char *body, size_t len)
{
	struct members_entry *e;

	if (len > APX_AUTHCACHE_MEMBERS_MAX)
		return;
	e = members_slot(org);
	e->gen = 0;
	strs_free(&e->s);
	if ((e->s.block = malloc(len + 1)) == NULL)
		return;
	memcpy(e->s.block, body, len);
	e->s.block[len] = '\0';
	e->s.len = len + 1;
	e->org = org;
	e->at_us = apx_now_us();
	e->gen = generation;
}
