/*
 * A bump allocator over a list of chunks. Large requests get a chunk of
 * their own. Reset keeps the first chunk so a worker reuses it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

#define CHUNK_SIZE	(32 * 1024)
#define ALIGN		16

struct chunk {
	struct chunk	*next;
	size_t		 size;
	size_t		 used;
	unsigned char	 data[];
};

struct apx_arena {
	struct chunk	*head;
	size_t		 total;
};

static struct chunk *chunk_new(size_t);

static struct chunk *
chunk_new(size_t size)
{
	struct chunk *c;

	if (size > SIZE_MAX - sizeof(*c))
		return NULL;
	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

struct apx_arena *
apx_arena_new(void)
{
	struct apx_arena *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((a->head = chunk_new(CHUNK_SIZE)) == NULL) {
		free(a);
		return NULL;
	}
	return a;
}

void
apx_arena_free(struct apx_arena *a)
{
	struct chunk *c, *n;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = n) {
		n = c->next;
		free(c);
	}
	free(a);
}

void
apx_arena_reset(struct apx_arena *a)
{
	struct chunk *c, *n, *keep = NULL;

	/* Keep the last chunk of the list: it is the original one. */
	for (c = a->head; c != NULL; c = n) {
		n = c->next;
		if (n == NULL && c->size == CHUNK_SIZE)
			keep = c;
		else
			free(c);
	}
	if (keep == NULL)
		keep = chunk_new(CHUNK_SIZE);
	if (keep != NULL) {
		keep->used = 0;
		keep->next = NULL;
	}
	a->head = keep;
	a->total = 0;
}

void *
apx_arena_alloc(struct apx_arena *a, size_t n)
{
	struct chunk *c;
	size_t need;
	void *p;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - ALIGN)
		return NULL;
	need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	c = a->head;
	if (c == NULL || c->size - c->used < need) {
		size_t sz = need > CHUNK_SIZE / 4 ? need : CHUNK_SIZE;

		if ((c = chunk_new(sz)) == NULL)
			return NULL;
		if (sz == need && a->head != NULL) {
			/* Dedicated chunk: put it behind the current one. */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = c->data + c->used;
	c->used += need;
	a->total += need;
	return p;
}

void *
apx_arena_zalloc(struct apx_arena *a, size_t n)
{
	void *p;

	if ((p = apx_arena_alloc(a, n)) != NULL)
		memset(p, 0, n);
	return p;
}

char *
apx_arena_strndup(struct apx_arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX || (p = apx_arena_alloc(a, n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
apx_arena_strdup(struct apx_arena *a, const char *s)
{
	return apx_arena_strndup(a, s, strlen(s));
}

char *
apx_arena_printf(struct apx_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = apx_arena_alloc(a, (size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

size_t
apx_arena_used(const struct apx_arena *a)
{
	return a->total;
}
