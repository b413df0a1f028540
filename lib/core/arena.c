/* arena.c - a chain of blocks; big requests get their own block. */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

struct arena_block {
	struct arena_block *next;
	size_t size, used;
	unsigned char data[];
};

struct farm_arena {
	struct arena_block *head; /* current block; the first block is the last in chain */
	struct arena_block *first;
	size_t block;
};

static struct arena_block *block_new(size_t size)
{
	struct arena_block *b = malloc(sizeof(*b) + size);

	if (!b)
		return NULL;
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct farm_arena *farm_arena_new(size_t block)
{
	struct farm_arena *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->block = block ? block : 16384;
	a->first = a->head = block_new(a->block);
	if (!a->first) {
		free(a);
		return NULL;
	}
	return a;
}

void farm_arena_reset(struct farm_arena *a)
{
	struct arena_block *b, *next;

	if (!a)
		return;
	for (b = a->head; b && b != a->first; b = next) {
		next = b->next;
		explicit_bzero(b->data, b->used);
		free(b);
	}
	explicit_bzero(a->first->data, a->first->used);
	a->first->used = 0;
	a->head = a->first;
}

void farm_arena_free(struct farm_arena *a)
{
	if (!a)
		return;
	farm_arena_reset(a);
	free(a->first);
	free(a);
}

void *farm_arena_alloc(struct farm_arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t off = (b->used + 15) & ~(size_t)15;

	if (n > ((size_t)-1) / 2)
		return NULL;
	if (off + n > b->size) {
		size_t sz = n > a->block ? n : a->block;
		struct arena_block *nb = block_new(sz);
		if (!nb)
			return NULL;
		nb->next = a->head;
		a->head = nb;
		b = nb;
		off = 0;
	}
	b->used = off + n;
	return b->data + off;
}

char *farm_arena_strndup(struct farm_arena *a, const char *s, size_t n)
{
	char *p = farm_arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *farm_arena_strdup(struct farm_arena *a, const char *s)
{
	return farm_arena_strndup(a, s, strlen(s));
}

char *farm_arena_printf(struct farm_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = farm_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
