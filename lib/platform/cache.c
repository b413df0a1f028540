/* cache.c - the pool-wide response cache (see cache.h).
 *
 * Why a futex and not a pthread_cond_t for the waits: with glibc's condition
 * variable (2.25 up to at least 2.36, Debian 12's), a waiter killed with SIGKILL
 * inside pthread_cond_wait leaves a group reference behind, and a later
 * pthread_cond_broadcast can wait for it forever — while holding our lock.  A
 * sequence word per slot (bumped under the lock, then FUTEX_WAKE) is a condition
 * variable with no per-waiter state, so a dead waiter costs nothing.  The mutex is
 * a robust pthread mutex: a process killed while holding it is reported to the next
 * locker as EOWNERDEAD.
 */
#include "cache.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "gate.h"
#include "banned.h"

enum { S_EMPTY = 0, S_FILLING = 1, S_READY = 2 };

struct slot {
	unsigned char key[32];
	uint64_t tag;
	uint32_t state;
	uint32_t seq;           /* futex word: bumped whenever a fill ends */
	uint32_t gen;           /* fill generation (tickets carry it) */
	uint32_t stale;         /* invalidated while filling: do not store */
	int32_t first;          /* first data block, -1 for none */
	int32_t filler;         /* pid of the filling process */
	uint64_t len;
	int64_t expires_ms;     /* READY: monotonic ms */
	int64_t fill_deadline;  /* FILLING: monotonic ms after which the fill is taken back */
	uint64_t used;          /* LRU tick */
};

struct farm_cache {
	pthread_mutex_t lock;
	size_t map_len;
	size_t slots_off, next_off, data_off;
	uint32_t nslots, nblocks;
	int32_t free_head;
	uint32_t free_count;
	uint32_t gen;
	uint64_t tick;
	struct farm_cache_stats st; /* counters only; sizes are filled in by _stats */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct slot *slots(struct farm_cache *c)
{
	return (struct slot *)((char *)c + c->slots_off);
}

static int32_t *next_of(struct farm_cache *c)
{
	return (int32_t *)((char *)c + c->next_off);
}

static char *block(struct farm_cache *c, int32_t i)
{
	return (char *)c + c->data_off + (size_t)i * FARM_CACHE_BLOCK;
}

static void futex_wait(uint32_t *word, uint32_t seen, long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	/* Not FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes. */
	syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static void futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Every entry dropped, every block free.  Under the lock. */
static void reset_all(struct farm_cache *c)
{
	struct slot *s = slots(c);
	int32_t *next = next_of(c);

	for (uint32_t i = 0; i < c->nslots; i++) {
		s[i].state = S_EMPTY;
		s[i].first = -1;
		s[i].len = 0;
		s[i].gen = ++c->gen;
		__atomic_add_fetch(&s[i].seq, 1, __ATOMIC_RELEASE);
	}
	for (uint32_t i = 0; i < c->nblocks; i++)
		next[i] = i + 1 < c->nblocks ? (int32_t)(i + 1) : -1;
	c->free_head = c->nblocks ? 0 : -1;
	c->free_count = c->nblocks;
}

static int lock(struct farm_cache *c)
{
	int rc = pthread_mutex_lock(&c->lock);

	if (rc == EOWNERDEAD) {
		/* The dead owner may have been half-way through an update: start clean. */
		reset_all(c);
		c->st.owner_dead++;
		pthread_mutex_consistent(&c->lock);
		for (uint32_t i = 0; i < c->nslots; i++)
			futex_wake(&slots(c)[i].seq);
		return 0;
	}
	return rc ? -1 : 0;
}

static void unlock(struct farm_cache *c)
{
	pthread_mutex_unlock(&c->lock);
}

void farm_cache_key_make(struct farm_cache_key *k, const char *tag, const void *req, size_t len)
{
	unsigned char t[32];
	size_t tl = strlen(tag);
	size_t n = tl + 1 + len;
	unsigned char stackbuf[1024];
	unsigned char *buf = n <= sizeof(stackbuf) ? stackbuf : malloc(n);

	memset(k, 0, sizeof(*k));
	farm_crypto_sha256(tag, tl, t);
	memcpy(&k->tag, t, sizeof(k->tag));
	if (!buf) { /* out of memory: a key nobody else can produce is harmless */
		farm_crypto_random(k->h, sizeof(k->h));
		return;
	}
	memcpy(buf, tag, tl);
	buf[tl] = 0;
	memcpy(buf + tl + 1, req, len);
	farm_crypto_sha256(buf, n, k->h);
	if (buf != stackbuf)
		free(buf);
}

int farm_cache_new(struct farm_cache **out, size_t size)
{
	pthread_mutexattr_t ma;
	struct farm_cache *c;
	size_t nblocks = size / FARM_CACHE_BLOCK, nslots, off, len;
	void *map;

	*out = NULL;
	if (nblocks < 4)
		nblocks = 4;
	if (nblocks > (size_t)INT32_MAX / 2)
		return FARM_E_INVAL;
	nslots = nblocks < 64 ? 64 : nblocks > 16384 ? 16384 : nblocks;
	nslots = (nslots + FARM_CACHE_WAYS - 1) / FARM_CACHE_WAYS * FARM_CACHE_WAYS;

	off = (sizeof(struct farm_cache) + 63) & ~(size_t)63;
	len = off + nslots * sizeof(struct slot);
	len = (len + 63) & ~(size_t)63;
	size_t next_off = len;
	len += nblocks * sizeof(int32_t);
	len = (len + 4095) & ~(size_t)4095;
	size_t data_off = len;
	len += nblocks * FARM_CACHE_BLOCK;

	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return FARM_E_NOMEM;
	c = map;
	c->map_len = len;
	c->slots_off = off;
	c->next_off = next_off;
	c->data_off = data_off;
	c->nslots = (uint32_t)nslots;
	c->nblocks = (uint32_t)nblocks;
	if (pthread_mutexattr_init(&ma) || pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) ||
	    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) ||
	    pthread_mutex_init(&c->lock, &ma)) {
		munmap(map, len);
		return FARM_E_IO;
	}
	pthread_mutexattr_destroy(&ma);
	reset_all(c);
	*out = c;
	return FARM_OK;
}

void farm_cache_free(struct farm_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	munmap(c, c->map_len);
}

/* ---- entries ------------------------------------------------------------------ */

static void free_entry(struct farm_cache *c, struct slot *s)
{
	int32_t *next = next_of(c);
	int32_t b = s->first;

	while (b >= 0) {
		int32_t nb = next[b];
		next[b] = c->free_head;
		c->free_head = b;
		c->free_count++;
		b = nb;
	}
	s->first = -1;
	s->len = 0;
	s->state = S_EMPTY;
}

/* Frees blocks until `need` are free, evicting expired then least recently used
 * entries.  0 when done. */
static int make_room(struct farm_cache *c, uint32_t need, int64_t now)
{
	struct slot *s = slots(c);

	while (c->free_count < need) {
		struct slot *victim = NULL;
		for (uint32_t i = 0; i < c->nslots; i++) {
			if (s[i].state != S_READY)
				continue;
			if (s[i].expires_ms <= now) {
				victim = &s[i];
				break;
			}
			if (!victim || s[i].used < victim->used)
				victim = &s[i];
		}
		if (!victim)
			return -1;
		if (victim->expires_ms > now)
			c->st.evictions++;
		free_entry(c, victim);
	}
	return 0;
}

static int store(struct farm_cache *c, struct slot *s, const char *body, size_t len, int64_t now)
{
	int32_t *next = next_of(c);
	uint32_t need = (uint32_t)((len + FARM_CACHE_BLOCK - 1) / FARM_CACHE_BLOCK);
	int32_t prev = -1;

	if (len > (size_t)c->nblocks * FARM_CACHE_BLOCK / 2 || make_room(c, need, now))
		return -1;
	s->first = -1;
	for (uint32_t i = 0; i < need; i++) {
		int32_t b = c->free_head;
		size_t off = (size_t)i * FARM_CACHE_BLOCK;
		size_t n = len - off < FARM_CACHE_BLOCK ? len - off : FARM_CACHE_BLOCK;
		c->free_head = next[b];
		c->free_count--;
		next[b] = -1;
		if (prev < 0)
			s->first = b;
		else
			next[prev] = b;
		prev = b;
		memcpy(block(c, b), body + off, n);
	}
	s->len = len;
	return 0;
}

static char *copy_out(struct farm_cache *c, struct slot *s)
{
	int32_t *next = next_of(c);
	char *out = malloc(s->len + 1);
	size_t off = 0;

	if (!out)
		return NULL;
	for (int32_t b = s->first; b >= 0 && off < s->len; b = next[b]) {
		size_t n = s->len - off < FARM_CACHE_BLOCK ? s->len - off : FARM_CACHE_BLOCK;
		memcpy(out + off, block(c, b), n);
		off += n;
	}
	out[s->len] = '\0';
	return out;
}

static int filler_dead(const struct slot *s)
{
	return s->filler > 0 && kill(s->filler, 0) < 0 && errno == ESRCH;
}

static void claim(struct farm_cache *c, struct slot *s, const struct farm_cache_key *k,
		  int64_t now, long fill_ms, struct farm_cache_ticket *t)
{
	memcpy(s->key, k->h, sizeof(s->key));
	s->tag = k->tag;
	s->state = S_FILLING;
	s->stale = 0;
	s->gen = ++c->gen;
	s->filler = (int32_t)getpid();
	s->fill_deadline = now + (fill_ms > 0 ? fill_ms : 1000);
	s->used = ++c->tick;
	t->slot = (int)(s - slots(c));
	t->gen = s->gen;
	c->st.fills++;
}

int farm_cache_get(struct farm_cache *c, const struct farm_cache_key *k, long wait_ms,
		   long fill_ms, char **body, size_t *len, struct farm_cache_ticket *t)
{
	int64_t now = mono_ms(), deadline = now + (wait_ms > 0 ? wait_ms : 0);
	uint32_t set, waited_gen = 0;
	int waited = 0, rc;

	*body = NULL;
	*len = 0;
	t->slot = -1;
	t->gen = 0;
	if (!c || !k)
		return FARM_E_INVAL;
	{
		uint64_t hv;
		memcpy(&hv, k->h, sizeof(hv));
		set = (uint32_t)(hv % (c->nslots / FARM_CACHE_WAYS)) * FARM_CACHE_WAYS;
	}
	if (lock(c))
		return FARM_CACHE_BYPASS;
	for (;;) {
		struct slot *s = slots(c) + set, *found = NULL, *pick = NULL;

		for (int i = 0; i < FARM_CACHE_WAYS; i++)
			if (s[i].state != S_EMPTY && !memcmp(s[i].key, k->h, sizeof(k->h))) {
				found = &s[i];
				break;
			}
		if (found && found->state == S_READY) {
			if (found->expires_ms > now) {
				char *out = copy_out(c, found);
				if (!out) {
					rc = FARM_E_NOMEM;
					goto out;
				}
				found->used = ++c->tick;
				c->st.hits++;
				*body = out;
				*len = found->len;
				rc = FARM_CACHE_HIT;
				goto out;
			}
			free_entry(c, found);
			found = NULL;
		}
		if (found) { /* FILLING */
			if (now > found->fill_deadline || filler_dead(found)) {
				/* The filler died or gave up without telling: take the slot over. */
				c->st.reclaimed++;
				c->st.misses++;
				claim(c, found, k, now, fill_ms, t);
				rc = FARM_CACHE_FILL;
				goto out;
			}
			if (waited && found->gen != waited_gen) {
				rc = FARM_CACHE_BYPASS; /* the fill we waited for stored nothing */
				goto out;
			}
			if (now >= deadline) {
				if (waited)
					c->st.wait_timeouts++;
				c->st.misses++;
				rc = FARM_CACHE_BYPASS;
				goto out;
			}
			if (!waited)
				c->st.waits++;
			waited = 1;
			waited_gen = found->gen;
			uint32_t seen = __atomic_load_n(&found->seq, __ATOMIC_ACQUIRE);
			long ms = deadline - now > 1000 ? 1000 : (long)(deadline - now);
			unlock(c);
			/* Woken by the fill's end; at most every second to check the filler. */
			farm_gate_block();
			futex_wait(&found->seq, seen, ms);
			farm_gate_unblock();
			now = mono_ms();
			if (lock(c))
				return FARM_CACHE_BYPASS;
			continue;
		}
		if (waited) {
			rc = FARM_CACHE_BYPASS; /* the fill ended without storing */
			goto out;
		}
		/* A miss: fill an empty way, else an expired one, else the least used. */
		c->st.misses++;
		for (int i = 0; i < FARM_CACHE_WAYS; i++) {
			if (s[i].state == S_EMPTY ||
			    (s[i].state == S_FILLING && now > s[i].fill_deadline)) {
				pick = &s[i];
				break;
			}
			if (s[i].state == S_READY &&
			    (!pick || s[i].expires_ms <= now ||
			     (pick->expires_ms > now && s[i].used < pick->used)))
				pick = &s[i];
		}
		if (!pick) {
			rc = FARM_CACHE_BYPASS; /* every way is filling */
			goto out;
		}
		if (pick->state == S_READY) {
			if (pick->expires_ms > now)
				c->st.evictions++;
			free_entry(c, pick);
		}
		claim(c, pick, k, now, fill_ms, t);
		rc = FARM_CACHE_FILL;
		goto out;
	}
out:
	unlock(c);
	return rc;
}

void farm_cache_fill(struct farm_cache *c, const struct farm_cache_ticket *t, const void *body,
		     size_t len, long ttl_ms)
{
	struct slot *s;
	int64_t now = mono_ms();

	if (!c || !t || t->slot < 0 || (uint32_t)t->slot >= c->nslots)
		return;
	if (lock(c))
		return;
	s = slots(c) + t->slot;
	if (s->state != S_FILLING || s->gen != t->gen) {
		unlock(c); /* taken back meanwhile */
		return;
	}
	s->state = S_EMPTY;
	s->first = -1;
	if (body && ttl_ms > 0 && !s->stale && store(c, s, body, len, now) == 0) {
		s->state = S_READY;
		s->expires_ms = now + ttl_ms;
		s->used = ++c->tick;
		c->st.stores++;
	}
	__atomic_add_fetch(&s->seq, 1, __ATOMIC_RELEASE);
	unlock(c);
	futex_wake(&s->seq);
}

void farm_cache_invalidate(struct farm_cache *c, const char *tag)
{
	struct farm_cache_key k;
	struct slot *s;

	if (!c || !tag)
		return;
	farm_cache_key_make(&k, tag, "", 0);
	if (lock(c))
		return;
	s = slots(c);
	for (uint32_t i = 0; i < c->nslots; i++) {
		if (s[i].state == S_EMPTY || s[i].tag != k.tag)
			continue;
		if (s[i].state == S_FILLING) {
			s[i].stale = 1;
		} else {
			free_entry(c, &s[i]);
			c->st.invalidated++;
		}
	}
	unlock(c);
}

void farm_cache_stats(struct farm_cache *c, struct farm_cache_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!c || lock(c))
		return;
	*st = c->st;
	st->slots = c->nslots;
	st->blocks = c->nblocks;
	st->free_blocks = c->free_count;
	for (uint32_t i = 0; i < c->nslots; i++)
		if (slots(c)[i].state == S_READY)
			st->entries++;
	unlock(c);
}
