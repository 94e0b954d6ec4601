#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/apx.h"
#include "core/secret.h"

struct apx_secret *
apx_secret_new(const void *data, size_t len)
{
	struct apx_secret *s;

	if (len == SIZE_MAX || (s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->data = malloc(len + 1)) == NULL) {
		free(s);
		return NULL;
	}
	if (len > 0)
		memcpy(s->data, data, len);
	s->data[len] = '\0';
	s->len = len;
	return s;
}

struct apx_secret *
apx_secret_dup(const struct apx_secret *s)
{
	return s == NULL ? NULL : apx_secret_new(s->data, s->len);
}

void
apx_secret_free(struct apx_secret *s)
{
	if (s == NULL)
		return;
	apx_wipe(s->data, s->len + 1);
	free(s->data);
	apx_wipe(s, sizeof(*s));
	free(s);
}

int
apx_secret_equal(const struct apx_secret *s, const void *cand, size_t len)
{
	if (s == NULL || cand == NULL)
		return 0;
	return apx_ct_equal(s->data, s->len, cand, len);
}

const char *
apx_secret_str(const struct apx_secret *s)
{
	return s == NULL ? NULL : (const char *)s->data;
}
