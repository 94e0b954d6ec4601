/*
 * Request arena: many small allocations freed together when the request
 * ends. What a function returns from an arena is borrowed until then.
 */
#ifndef APX_CORE_ARENA_H
#define APX_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "core/apx.h"

struct apx_arena;

struct apx_arena *apx_arena_new(void);
void	 apx_arena_free(struct apx_arena *);
void	 apx_arena_reset(struct apx_arena *);
void	*apx_arena_alloc(struct apx_arena *, size_t);
void	*apx_arena_zalloc(struct apx_arena *, size_t);
char	*apx_arena_strdup(struct apx_arena *, const char *);
char	*apx_arena_strndup(struct apx_arena *, const char *, size_t);
char	*apx_arena_printf(struct apx_arena *, const char *, ...) APX_PRINTF(2, 3);
size_t	 apx_arena_used(const struct apx_arena *);

#endif
