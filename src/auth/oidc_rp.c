/* OpenID Connect relying party, the part that talks (oidc_rp.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "auth/oidc.h"
#include "auth/oidc_rp.h"
#include "core/apx.h"
#include "core/arena.h"
#include "core/fetch.h"
#include "core/log.h"
#include "core/url.h"

#define CACHE_MAX	32
#define KEY_MAX		63
#define TIMEOUT_S	10L
#define CODE_MAX	2048
#define UA		"AccuPredix-signin/1"

/* One provider's documents, as this worker last fetched them. */
struct entry {
	char			 key[KEY_MAX + 1];
	char			*discovery_url;
	char			*issuer;
	struct apx_oidc_discovery d;
	int			 have_d;
	int64_t			 d_at;
	struct apx_oidc_jwks	*jwks;
	int64_t			 jwks_at;
	int64_t			 kid_refetch_at;
	uint64_t		 used;
};

static struct entry	 cache[CACHE_MAX];
static uint64_t		 tick;

static void	 entry_clear(struct entry *);
static struct entry *entry_of(const struct apx_oidc_rp *);
static int	 endpoint_ok(const struct apx_oidc_rp *, const char *);
static int	 get_json(const struct apx_oidc_rp *, const char *,
		    const char *, struct apx_fetch_answer *);
static int	 discovery(const struct apx_oidc_rp *, struct entry **,
		    const char **);
static int	 fetch_jwks(const struct apx_oidc_rp *, struct entry *);
static int	 exchange(const struct apx_oidc_rp *, const struct entry *,
		    const char *, const char *, const char *, char **,
		    char **, const char **);
static int	 verify(const struct apx_oidc_rp *, struct entry *,
		    const char *, const char *, json_t **, const char **);
static int	 userinfo(const struct apx_oidc_rp *, const struct entry *,
		    const char *, const char *, json_t **, const char **);
static int	 tenant_allowed(const char *, const char *);
static char	*claim_str(json_t *, json_t *, const char *, size_t);
static int	 claim_true(json_t *);

static void
entry_clear(struct entry *e)
{
	free(e->discovery_url);
	free(e->issuer);
	apx_oidc_discovery_clear(&e->d);
	apx_oidc_jwks_free(e->jwks);
	memset(e, 0, sizeof(*e));
}

void
apx_oidc_rp_cache_clear(void)
{
	size_t i;

	for (i = 0; i < CACHE_MAX; i++)
		entry_clear(&cache[i]);
}

/* The entry of RP's provider (same key, discovery URL and issuer), or a
 * fresh one in place of the least recently used. */
static struct entry *
entry_of(const struct apx_oidc_rp *rp)
{
	struct entry *e, *lru = &cache[0];
	size_t i;

	for (i = 0; i < CACHE_MAX; i++) {
		e = &cache[i];
		if (e->key[0] != '\0' && strcmp(e->key, rp->key) == 0) {
			if (strcmp(e->discovery_url, rp->discovery_url) == 0 &&
			    strcmp(e->issuer, rp->issuer) == 0) {
				e->used = ++tick;
				return e;
			}
			lru = e;	/* reconfigured: start again */
			break;
		}
		if (e->used < lru->used)
			lru = e;
	}
	entry_clear(lru);
	if (strlen(rp->key) > KEY_MAX ||
	    (lru->discovery_url = strdup(rp->discovery_url)) == NULL ||
	    (lru->issuer = strdup(rp->issuer)) == NULL) {
		entry_clear(lru);
		return NULL;
	}
	snprintf(lru->key, sizeof(lru->key), "%s", rp->key);
	lru->used = ++tick;
	return lru;
}

/* A URL this provider may make us fetch: https or loopback http for the
 * operator's own providers; for an org's IdP, which its admins configure,
 * no loopback host unless sso.allow_loopback_http says so. */
static int
endpoint_ok(const struct apx_oidc_rp *rp, const char *url)
{
	if (rp->kind != APX_OIDC_KIND_ORG)
		return url != NULL && apx_url_base_ok(url);
	return apx_url_remote_ok(url, rp->loopback_ok);
}

static int
get_json(const struct apx_oidc_rp *rp, const char *url, const char *bearer,
    struct apx_fetch_answer *ans)
{
	struct apx_fetch f;
	const char *why = NULL;
	const char *accept[1] = { "Accept: application/json" };
	int rc;

	memset(&f, 0, sizeof(f));
	f.method = "GET";
	f.url = url;
	f.headers = accept;
	f.nheaders = 1;
	f.bearer = bearer;
	f.user_agent = UA;
	f.max = APX_OIDC_DOC_MAX;
	f.timeout = TIMEOUT_S;
	if ((rc = apx_fetch(&f, ans, &why)) != 0) {
		apx_log_warn("oidc %s: GET of a provider document failed: %s",
		    rp->key, why != NULL ? why : apx_strerror(rc));
		return rc;
	}
	if (ans->status != 200) {
		apx_log_warn("oidc %s: a provider document answered %ld",
		    rp->key, ans->status);
		apx_fetch_answer_clear(ans);
		return APX_EIO;
	}
	return 0;
}

/* The discovery document (cached for rp->ttl; a stale one is kept when
 * the provider cannot be reached). */
static int
discovery(const struct apx_oidc_rp *rp, struct entry **out, const char **why)
{
	struct apx_oidc_discovery d;
	struct apx_fetch_answer ans;
	struct entry *e;
	const char *w = NULL;
	int64_t now = apx_unix_now();
	int rc;

	*out = NULL;
	if ((e = entry_of(rp)) == NULL)
		return APX_ENOMEM;
	if (e->have_d && now - e->d_at < rp->ttl) {
		*out = e;
		return 0;
	}
	if (!endpoint_ok(rp, rp->discovery_url)) {
		*why = "discovery-url";
		return APX_EIO;
	}
	if ((rc = get_json(rp, rp->discovery_url, NULL, &ans)) != 0) {
		if (e->have_d) {
			apx_log_warn("oidc %s: keeping the discovery document "
			    "of %lld s ago", rp->key, (long long)(now - e->d_at));
			*out = e;
			return 0;
		}
		*why = "discovery";
		return APX_EIO;
	}
	memset(&d, 0, sizeof(d));
	rc = apx_oidc_discovery_parse(ans.body, ans.len, &d, &w);
	apx_fetch_answer_clear(&ans);
	if (rc != 0) {
		apx_log_warn("oidc %s: discovery document refused: %s",
		    rp->key, w != NULL ? w : apx_strerror(rc));
		*why = "discovery";
		return APX_EIO;
	}
	/* The issuer in discovery is the configured one, exactly. */
	if (strcmp(d.issuer, rp->issuer) != 0) {
		apx_log_warn("oidc %s: discovery names issuer '%.200s', the "
		    "configuration '%.200s'", rp->key, d.issuer, rp->issuer);
		apx_oidc_discovery_clear(&d);
		*why = "discovery-issuer";
		return APX_EUNAUTH;
	}
	if (!endpoint_ok(rp, d.authorization_endpoint) ||
	    !endpoint_ok(rp, d.token_endpoint) || !endpoint_ok(rp, d.jwks_uri)
	    || (d.userinfo_endpoint != NULL &&
	    !endpoint_ok(rp, d.userinfo_endpoint))) {
		apx_log_warn("oidc %s: discovery names an endpoint this "
		    "provider may not use (https only, no loopback host)",
		    rp->key);
		apx_oidc_discovery_clear(&d);
		*why = "discovery-endpoint";
		return APX_EUNAUTH;
	}
	apx_oidc_discovery_clear(&e->d);
	e->d = d;
	e->have_d = 1;
	e->d_at = now;
	*out = e;
	return 0;
}

static int
fetch_jwks(const struct apx_oidc_rp *rp, struct entry *e)
{
	struct apx_fetch_answer ans;
	struct apx_oidc_jwks *j = NULL;
	size_t skipped = 0;
	int rc;

	if ((rc = get_json(rp, e->d.jwks_uri, NULL, &ans)) != 0)
		return rc;
	rc = apx_oidc_jwks_parse(ans.body, ans.len, &j, &skipped);
	apx_fetch_answer_clear(&ans);
	if (rc != 0) {
		apx_log_warn("oidc %s: JWKS refused (%s)", rp->key,
		    apx_strerror(rc));
		return APX_EIO;
	}
	if (skipped > 0)
		apx_log_info("oidc %s: JWKS: %zu key(s) of a type not used "
		    "here skipped", rp->key, skipped);
	apx_oidc_jwks_free(e->jwks);
	e->jwks = j;
	e->jwks_at = apx_unix_now();
	return 0;
}

int
apx_oidc_rp_probe(const struct apx_oidc_rp *rp, const char **why)
{
	struct entry *e;

	*why = NULL;
	return discovery(rp, &e, why);
}

int
apx_oidc_rp_authorize_url(const struct apx_oidc_rp *rp, struct apx_arena *a,
    const char *redirect_uri, const char *state, const char *nonce,
    const char *challenge, const char *login_hint, const char **url,
    const char **why)
{
	struct entry *e;
	char *cid, *ru, *sc, *lh = NULL;
	int rc;

	*url = NULL;
	*why = NULL;
	if ((rc = discovery(rp, &e, why)) != 0)
		return rc;
	cid = apx_arena_alloc(a, 3 * strlen(rp->client_id) + 1);
	ru = apx_arena_alloc(a, 3 * strlen(redirect_uri) + 1);
	sc = apx_arena_alloc(a, 3 * strlen(rp->scope) + 1);
	if (login_hint != NULL)
		lh = apx_arena_alloc(a, 3 * strlen(login_hint) + 1);
	if (cid == NULL || ru == NULL || sc == NULL || (login_hint != NULL &&
	    lh == NULL))
		return APX_ENOMEM;
	apx_url_encode(rp->client_id, cid);
	apx_url_encode(redirect_uri, ru);
	apx_url_encode(rp->scope, sc);
	if (lh != NULL)
		apx_url_encode(login_hint, lh);
	/* state, nonce and challenge are base64url: nothing to encode */
	*url = apx_arena_printf(a, "%s%cresponse_type=code&client_id=%s"
	    "&redirect_uri=%s&scope=%s&state=%s&nonce=%s&code_challenge=%s"
	    "&code_challenge_method=S256%s%s", e->d.authorization_endpoint,
	    strchr(e->d.authorization_endpoint, '?') != NULL ? '&' : '?', cid,
	    ru, sc, state, nonce, challenge, lh != NULL ? "&login_hint=" : "",
	    lh != NULL ? lh : "");
	return *url != NULL ? 0 : APX_ENOMEM;
}

/* POST the code to the token endpoint (client_secret_basic, the id and
 * secret form-encoded first as RFC 6749 2.3.1 asks). */
static int
exchange(const struct apx_oidc_rp *rp, const struct entry *e,
    const char *code, const char *redirect_uri, const char *verifier,
    char **id_token, char **access_token, const char **why)
{
	struct apx_fetch f;
	struct apx_fetch_answer ans;
	const char *w = NULL, *accept[1] = { "Accept: application/json" };
	char *body = NULL, *user = NULL, *pass = NULL, *p;
	json_t *j = NULL, *it, *at, *tt;
	size_t n;
	int rc;

	*id_token = *access_token = NULL;
	n = strlen(code) * 3 + strlen(redirect_uri) * 3 + strlen(verifier) * 3
	    + 96;
	if ((body = malloc(n)) == NULL ||
	    (user = malloc(3 * strlen(rp->client_id) + 1)) == NULL ||
	    (pass = malloc(3 * strlen(rp->client_secret) + 1)) == NULL) {
		rc = APX_ENOMEM;
		goto out;
	}
	p = body;
	p += sprintf(p, "grant_type=authorization_code&code=");
	p += apx_url_encode(code, p);
	p += sprintf(p, "&redirect_uri=");
	p += apx_url_encode(redirect_uri, p);
	p += sprintf(p, "&code_verifier=");
	p += apx_url_encode(verifier, p);
	apx_url_encode(rp->client_id, user);
	apx_url_encode(rp->client_secret, pass);
	memset(&f, 0, sizeof(f));
	f.method = "POST";
	f.url = e->d.token_endpoint;
	f.headers = accept;
	f.nheaders = 1;
	f.body = body;
	f.body_len = (size_t)(p - body);
	f.content_type = "application/x-www-form-urlencoded";
	f.basic_user = user;
	f.basic_password = pass;
	f.user_agent = UA;
	f.max = APX_OIDC_DOC_MAX;
	f.timeout = TIMEOUT_S;
	if ((rc = apx_fetch(&f, &ans, &w)) != 0) {
		apx_log_warn("oidc %s: token endpoint: %s", rp->key,
		    w != NULL ? w : apx_strerror(rc));
		*why = "token-endpoint";
		rc = APX_EIO;
		goto out;
	}
	if (ans.status != 200) {
		/* The error code only (invalid_grant...), never the body. */
		j = json_loadb(ans.body, ans.len, 0, NULL);
		w = json_string_value(json_object_get(j, "error"));
		apx_log_warn("oidc %s: token endpoint answered %ld (%.40s)",
		    rp->key, ans.status, w != NULL ? w : "no error code");
		apx_fetch_answer_clear(&ans);
		*why = "token-endpoint";
		rc = APX_EUNAUTH;
		goto out;
	}
	j = json_loadb(ans.body, ans.len, JSON_REJECT_DUPLICATES, NULL);
	apx_fetch_answer_clear(&ans);
	it = json_object_get(j, "id_token");
	at = json_object_get(j, "access_token");
	tt = json_object_get(j, "token_type");
	if (!json_is_object(j) || !json_is_string(it) ||
	    json_string_length(it) == 0 || (at != NULL && !json_is_string(at))
	    || (tt != NULL && (!json_is_string(tt) ||
	    strcasecmp(json_string_value(tt), "Bearer") != 0))) {
		apx_log_warn("oidc %s: token answer without an id_token or of "
		    "another token type", rp->key);
		*why = "token-answer";
		rc = APX_EUNAUTH;
		goto out;
	}
	if ((*id_token = strdup(json_string_value(it))) == NULL ||
	    (at != NULL && (*access_token = strdup(json_string_value(at))) ==
	    NULL)) {
		rc = APX_ENOMEM;
		goto out;
	}
	rc = 0;
out:
	if (j != NULL) {
		/* the tokens are in J's strings too: gone with it */
		json_decref(j);
	}
	if (body != NULL) {
		apx_wipe(body, n);
		free(body);
	}
	if (pass != NULL) {
		apx_wipe(pass, strlen(pass));
		free(pass);
	}
	free(user);
	if (rc != 0) {
		if (*id_token != NULL) {
			apx_wipe(*id_token, strlen(*id_token));
			free(*id_token);
		}
		free(*access_token);
		*id_token = *access_token = NULL;
	}
	return rc;
}

/* The ID token against the cached JWKS; an unknown kid refetches it once
 * (at most every refetch_interval). */
static int
verify(const struct apx_oidc_rp *rp, struct entry *e, const char *tok,
    const char *nonce, json_t **claims, const char **why)
{
	struct apx_oidc_expect ex;
	enum apx_oidc_reason r = APX_OIDC_OK;
	char alt[APX_OIDC_URL_MAX], *kid = NULL;
	int64_t now = apx_unix_now();
	int rc, tries;

	memset(&ex, 0, sizeof(ex));
	ex.issuer = rp->issuer;
	ex.template = rp->kind == APX_OIDC_KIND_MICROSOFT &&
	    strstr(rp->issuer, "{tenantid}") != NULL;
	/* Google's tokens may say the issuer without its scheme */
	if (rp->kind == APX_OIDC_KIND_GOOGLE &&
	    strncmp(rp->issuer, "https://", 8) == 0) {
		snprintf(alt, sizeof(alt), "%s", rp->issuer + 8);
		ex.alt_issuer = alt;
	}
	ex.client_id = rp->client_id;
	ex.nonce = nonce;
	ex.algs = rp->algs;
	ex.nalgs = rp->nalgs;
	ex.now = now;
	if (e->jwks == NULL || now - e->jwks_at >= rp->ttl) {
		if ((rc = fetch_jwks(rp, e)) != 0 && e->jwks == NULL) {
			*why = "jwks";
			return APX_EIO;
		}
	}
	for (tries = 0; tries < 2; tries++) {
		free(kid);
		kid = NULL;
		rc = apx_oidc_id_token_verify(e->jwks, tok, strlen(tok), &ex,
		    claims, &r, &kid);
		if (rc != APX_EUNAUTH || r != APX_OIDC_KID || tries > 0)
			break;
		if (now - e->kid_refetch_at < rp->refetch_interval) {
			apx_log_warn("oidc %s: unknown kid; JWKS refetched %lld "
			    "s ago, not again yet", rp->key,
			    (long long)(now - e->kid_refetch_at));
			break;
		}
		e->kid_refetch_at = now;
		apx_log_info("oidc %s: unknown kid: refetching the JWKS",
		    rp->key);
		if (fetch_jwks(rp, e) != 0)
			break;
	}
	free(kid);
	if (rc == APX_EUNAUTH)
		*why = apx_oidc_reason_str(r);
	else if (rc != 0)
		*why = "id-token";
	return rc;
}

static int
userinfo(const struct apx_oidc_rp *rp, const struct entry *e,
    const char *access, const char *sub, json_t **out, const char **why)
{
	struct apx_fetch_answer ans;
	json_t *j;
	const char *us;
	int rc;

	*out = NULL;
	if ((rc = get_json(rp, e->d.userinfo_endpoint, access, &ans)) != 0) {
		*why = "userinfo";
		return APX_EIO;
	}
	j = json_loadb(ans.body, ans.len, JSON_REJECT_DUPLICATES, NULL);
	apx_fetch_answer_clear(&ans);
	if (!json_is_object(j)) {
		json_decref(j);
		apx_log_warn("oidc %s: UserInfo is not a JSON object", rp->key);
		*why = "userinfo";
		return APX_EUNAUTH;
	}
	us = json_string_value(json_object_get(j, "sub"));
	if (us == NULL || strcmp(us, sub) != 0) {
		json_decref(j);
		*why = "userinfo-sub";
		return APX_EUNAUTH;
	}
	*out = j;
	return 0;
}

/* TID is in the comma/space list LIST (NULL: any). */
static int
tenant_allowed(const char *list, const char *tid)
{
	const char *p = list;
	size_t n = strlen(tid);

	if (list == NULL)
		return 1;
	while (*p != '\0') {
		size_t l = strcspn(p, ", ");

		if (l == n && strncasecmp(p, tid, n) == 0)
			return 1;
		p += l;
		p += strspn(p, ", ");
	}
	return 0;
}

/* Claim NAME from UserInfo U (preferred) or the ID token T: a string of
 * 1..MAX bytes, copied; NULL otherwise. */
static char *
claim_str(json_t *u, json_t *t, const char *name, size_t max)
{
	json_t *v = u != NULL ? json_object_get(u, name) : NULL;

	if (!json_is_string(v))
		v = json_object_get(t, name);
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return strdup(json_string_value(v));
}

/* email_verified: true, or the string "true" (some providers). */
static int
claim_true(json_t *v)
{
	return json_is_true(v) || (json_is_string(v) &&
	    strcmp(json_string_value(v), "true") == 0);
}

int
apx_oidc_rp_finish(const struct apx_oidc_rp *rp, const char *code,
    const char *redirect_uri, const char *verifier, const char *nonce,
    struct apx_oidc_identity *id, const char **reason)
{
	struct entry *e;
	char *tok = NULL, *access = NULL;
	json_t *claims = NULL, *ui = NULL, *ev;
	const char *sub;
	int rc;

	memset(id, 0, sizeof(*id));
	*reason = NULL;
	if (code == NULL || *code == '\0' || strlen(code) > CODE_MAX) {
		*reason = "code";
		return APX_EUNAUTH;
	}
	if ((rc = discovery(rp, &e, reason)) != 0)
		return rc;
	if ((rc = exchange(rp, e, code, redirect_uri, verifier, &tok, &access,
	    reason)) != 0)
		return rc;
	rc = verify(rp, e, tok, nonce, &claims, reason);
	apx_wipe(tok, strlen(tok));
	free(tok);
	if (rc != 0)
		goto out;
	sub = json_string_value(json_object_get(claims, "sub"));
	if (e->d.userinfo_endpoint != NULL && access != NULL &&
	    (rc = userinfo(rp, e, access, sub, &ui, reason)) != 0)
		goto out;
	rc = APX_ENOMEM;
	if ((id->issuer = strdup(json_string_value(json_object_get(claims,
	    "iss")))) == NULL)
		goto out;
	if (rp->kind == APX_OIDC_KIND_MICROSOFT) {
		/* (tid, oid): the tid was checked against iss by verify */
		id->tid = claim_str(NULL, claims, "tid", 64);
		id->subject = claim_str(NULL, claims, "oid", 64);
		if (id->tid == NULL || id->subject == NULL ||
		    !apx_guid_ok(id->subject)) {
			*reason = "oid";
			rc = APX_EUNAUTH;
			goto out;
		}
		if (!tenant_allowed(rp->tenants, id->tid)) {
			*reason = "tenant";
			rc = APX_EUNAUTH;
			goto out;
		}
	} else if ((id->subject = strdup(sub)) == NULL)
		goto out;
	id->email = claim_str(ui, claims, "email", 254);
	ev = ui != NULL ? json_object_get(ui, "email_verified") : NULL;
	if (ev == NULL)
		ev = json_object_get(claims, "email_verified");
	id->email_verified = id->email != NULL && claim_true(ev);
	id->name = claim_str(ui, claims, "name", 200);
	id->hd = claim_str(ui, claims, "hd", 253);
	rc = 0;
out:
	if (access != NULL) {
		apx_wipe(access, strlen(access));
		free(access);
	}
	json_decref(claims);
	json_decref(ui);
	if (rc != 0)
		apx_oidc_identity_clear(id);
	return rc;
}

void
apx_oidc_identity_clear(struct apx_oidc_identity *id)
{
	free(id->issuer);
	free(id->subject);
	free(id->tid);
	free(id->email);
	free(id->name);
	free(id->hd);
	memset(id, 0, sizeof(*id));
}
