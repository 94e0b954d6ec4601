/*
 * Outgoing HTTP on libcurl, one request at a time, for every area that
 * speaks to a peer (connector plugins, OpenID providers): http and https
 * only, certificates verified, no redirects followed, a timeout, a cap on
 * the answer. The caller decides which URLs are allowed before calling.
 */
#ifndef APX_CORE_FETCH_H
#define APX_CORE_FETCH_H

#include <stddef.h>

struct apx_fetch {
	const char		*method;	/* GET POST PUT DELETE */
	const char		*url;
	const char *const	*headers;	/* "Name: value" lines */
	size_t			 nheaders;
	const void		*body;
	size_t			 body_len;
	const char		*content_type;	/* of the body, or NULL */
	const char		*basic_user;	/* HTTP Basic, or NULL */
	const char		*basic_password;
	const char		*bearer;	/* Authorization: Bearer */
	const char		*user_agent;
	size_t			 max;		/* answer cap; 0: 1 MiB */
	long			 timeout;	/* seconds; 0: 10 */
};

struct apx_fetch_answer {
	long		 status;
	char		*body;		/* malloc'd, NUL-terminated */
	size_t		 len;
	char		 content_type[128];
	long		 retry_after;	/* Retry-After in seconds; -1: none */
};

/*
 * Perform the request. 0 with ANS filled (any status); APX_EINVAL for a
 * header with CR/LF or a bad method, APX_ETOOBIG for an answer over the
 * cap, APX_EIO when the peer could not be reached or timed out (*WHY, if
 * not NULL, gets curl's words), APX_ENOMEM.
 */
int	 apx_fetch(const struct apx_fetch *, struct apx_fetch_answer *,
	    const char **);
/* Wipe and free the body. */
void	 apx_fetch_answer_clear(struct apx_fetch_answer *);

#endif
