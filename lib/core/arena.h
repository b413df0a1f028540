/* arena.h - per-request bump allocator: created once per thread, reset after each
 * request, so nothing allocated for a request outlives it. */
#ifndef FARM_ARENA_H
#define FARM_ARENA_H

#include <stddef.h>

struct farm_arena;

/* Returns new arena with a first block of `block` bytes; free with farm_arena_free. */
struct farm_arena *farm_arena_new(size_t block);
/* NULL-safe; wipes (requests may have held secrets) and frees every block. */
void farm_arena_free(struct farm_arena *a);
/* Wipes and forgets every allocation, keeping the first block for reuse. */
void farm_arena_reset(struct farm_arena *a);
/* Borrowed until the next reset; 16-byte aligned; NULL when out of memory. */
void *farm_arena_alloc(struct farm_arena *a, size_t n);
char *farm_arena_strdup(struct farm_arena *a, const char *s);
char *farm_arena_strndup(struct farm_arena *a, const char *s, size_t n);
char *farm_arena_printf(struct farm_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
