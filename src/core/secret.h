/*
 * A secret (password, key, shared secret, conninfo with a password) lives
 * in its own heap allocation, outside any arena, is wiped on free and has
 * no formatting helper: it cannot end up in a log line by accident.
 */
#ifndef APX_CORE_SECRET_H
#define APX_CORE_SECRET_H

#include <stddef.h>

struct apx_secret {
	unsigned char	*data;	/* always NUL-terminated for C APIs */
	size_t		 len;
};

struct apx_secret *apx_secret_new(const void *, size_t);
struct apx_secret *apx_secret_dup(const struct apx_secret *);
void	 apx_secret_free(struct apx_secret *);
/* Constant-time comparison against candidate bytes. */
int	 apx_secret_equal(const struct apx_secret *, const void *, size_t);
const char *apx_secret_str(const struct apx_secret *);

#endif
