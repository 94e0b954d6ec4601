/*
 * Sessions as the HTTP layer sees them: issuing an access JWT and a
 * refresh token (body for API clients, __Host- cookies for browsers),
 * and authenticating a request (Bearer header or cookie + CSRF + Origin).
 */
#ifndef APX_AUTH_SESSION_H
#define APX_AUTH_SESSION_H

#include <stdint.h>

#include "store/identity.h"
#include "store/orgs.h"

struct apx_ctx;

#define APX_COOKIE_ACCESS	"__Host-apx_access"
#define APX_COOKIE_REFRESH	"__Host-apx_refresh"
#define APX_COOKIE_CSRF		"__Host-apx_csrf"
#define APX_ACCESS_TYP		"at+jwt"

enum apx_auth_kind {
	APX_AUTH_USER = 1,		/* a person's access token */
	APX_AUTH_APIKEY,		/* an organisation's API key */
	APX_AUTH_IMPERSONATION,		/* an operator reading as a user */
};

struct apx_auth {
	int		 kind;		/* enum apx_auth_kind */
	int64_t		 uid;		/* the user (an API key: its holder) */
	int64_t		 sid;		/* session (user tokens only) */
	int		 via_cookie;
	struct apx_user	 user;
	/* API key */
	int64_t		 key_id;
	int64_t		 key_org;
	int64_t		 key_ws;	/* 0: every workspace of the org */
	int		 key_role;	/* role cap */
	int		 key_creator_role; /* the creator's role in key_org */
	/* impersonation */
	int64_t		 imp_id;
	int64_t		 operator_id;
	/* an organisation route of a user token: read with the session */
	int		 org_ready;
	struct apx_org_access org;
};

/*
 * Authenticate the request. 0 with *AUTH filled; otherwise the problem
 * (401, or 403 for a CSRF/Origin failure) is already set in the response
 * and a negative code is returned.
 */
int	 apx_session_authenticate(struct apx_ctx *, struct apx_auth *);
/*
 * A new opaque token (refresh tokens, invitations): 32 random bytes,
 * base64url (43 characters; OUT holds at least 44); *HASH gets SHA-256 of
 * the text, which is all the database ever sees.
 */
int	 apx_session_new_token(char *, size_t, unsigned char *);
void	 apx_session_hash_token(const char *, size_t, unsigned char *);
/*
 * The successor NEXT of refresh token OLD (OLDLEN bytes), sealed under a
 * key derived from OLD (secretbox), to be kept with OLD for a second tab;
 * and its opening (into NEXT, CAP bytes). APX_ECRYPTO when it does not
 * open.
 */
int	 apx_session_seal_successor(const char *, size_t, const char *,
	    unsigned char **, size_t *);
int	 apx_session_open_successor(const char *, size_t,
	    const unsigned char *, size_t, char *, size_t);
/* Answer 200 with a fresh access token for USER/SID plus REFRESH. */
int	 apx_session_answer_tokens(struct apx_ctx *, const struct apx_user *,
	    int64_t, const char *);
/*
 * The same session cookies as apx_session_answer_tokens, answered as a
 * 303 to LOCATION with no token in the body or the URL (a browser coming
 * back from a sign-in provider).
 */
int	 apx_session_redirect(struct apx_ctx *, const struct apx_user *,
	    int64_t, const char *, const char *);
/* Origin is the product's own or a configured CORS origin. */
int	 apx_session_origin_ok(const struct apx_ctx *);
/*
 * A read-only access token for an impersonation: sub = the user, act.sub =
 * the operator, imp = the grant's id. *OUT is malloc'd.
 */
int	 apx_session_impersonation_token(struct apx_ctx *, int64_t, int64_t,
	    int64_t, int64_t, char **);
/* Expire the session cookies in the response. */
void	 apx_session_clear_cookies(struct apx_ctx *);

#endif
