/* cache.h - a short-lived response cache shared by every process of the pool.
 *
 * The master creates the region (one anonymous MAP_SHARED mapping) before it forks
 * workers; every worker thread uses it through the same pointer.  Layout: a header
 * with a process-shared robust mutex, a fixed table of slots (8-way set associative
 * on the key's hash) and a pool of fixed-size data blocks chained per entry.
 *
 * Concurrent identical misses are collapsed: the first caller gets FARM_CACHE_FILL
 * and marks the slot "filling"; the others sleep on the slot (a futex-based
 * process-shared condition variable) until the filler stores its answer, gives up,
 * dies, or their wait time runs out — then they fetch for themselves.
 * A process killed while holding the lock is detected (EOWNERDEAD): the entries are
 * dropped, the lock made consistent, and service goes on.
 *
 * Keys are SHA-256 digests of (tag, request); the tag (a credential id) groups
 * entries for farm_cache_invalidate().  Nothing secret goes into a key or an entry.
 */
#ifndef FARM_CACHE_H
#define FARM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define FARM_CACHE_BLOCK 16384 /* bytes per data block */
#define FARM_CACHE_WAYS 8      /* slots probed per key */

struct farm_cache;

struct farm_cache_key {
	unsigned char h[32]; /* SHA-256(tag, 0, request) */
	uint64_t tag;        /* first 8 bytes of SHA-256(tag) */
};

/* Fills k from a tag (NUL-terminated) and request bytes. */
void farm_cache_key_make(struct farm_cache_key *k, const char *tag, const void *req, size_t len);

/* Maps a region holding about `size` bytes of entries (at least 4 blocks).
 * Returns new in *out; free with farm_cache_free (in the creator, once no process
 * uses it).  Children forked afterwards share it. */
int farm_cache_new(struct farm_cache **out, size_t size);
/* NULL-safe; unmaps the region. */
void farm_cache_free(struct farm_cache *c);

enum farm_cache_result {
	FARM_CACHE_HIT = 1,    /* *body, *len hold a copy of the entry */
	FARM_CACHE_FILL = 2,   /* the caller fetches, then calls farm_cache_fill() */
	FARM_CACHE_BYPASS = 3, /* fetch without storing (waited long enough, or no slot) */
};

struct farm_cache_ticket {
	int slot;      /* -1: nothing to fill */
	uint32_t gen;
};

/* Looks k up.  HIT: *body is new (malloc, NUL-terminated; free with free()).
 * FILL: *t names the slot now filling: the caller must call farm_cache_fill() with
 * it (also on failure, with body NULL), within fill_ms, or the slot is taken back.
 * Waits at most wait_ms for another caller's fill of the same key.
 * Returns a farm_cache_result, or FARM_E_NOMEM / FARM_E_INVAL. */
int farm_cache_get(struct farm_cache *c, const struct farm_cache_key *k, long wait_ms,
		   long fill_ms, char **body, size_t *len, struct farm_cache_ticket *t);

/* Ends a fill and wakes the waiters.  Stores body (len bytes) for ttl_ms when body is
 * not NULL, ttl_ms > 0, it fits, and the slot was not invalidated meanwhile. */
void farm_cache_fill(struct farm_cache *c, const struct farm_cache_ticket *t, const void *body,
		     size_t len, long ttl_ms);

/* Drops every entry made with `tag`; fills in progress for it will not be stored. */
void farm_cache_invalidate(struct farm_cache *c, const char *tag);

struct farm_cache_stats {
	uint64_t hits, misses, fills, stores, waits, wait_timeouts, evictions, invalidated,
		owner_dead, reclaimed;
	uint32_t slots, entries, blocks, free_blocks;
};
void farm_cache_stats(struct farm_cache *c, struct farm_cache_stats *st);

#endif
