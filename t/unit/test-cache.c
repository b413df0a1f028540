/* test-cache.c - the pool-wide cache: hits, expiry, blocks and eviction,
 * invalidation, and the cross-process parts: identical misses collapsed into one
 * fill, waiters timing out, a filler that dies, a waiter killed with SIGKILL, and a
 * process dying while it holds the lock (EOWNERDEAD).
 *
 * White-box: the lock is taken directly in one test, so cache.c is compiled in. */
#include "../../lib/platform/cache.c"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "tap.h"

static struct farm_cache_key key(const char *tag, const char *req)
{
	struct farm_cache_key k;

	farm_cache_key_make(&k, tag, req, strlen(req));
	return k;
}

static long ms_since(int64_t t0)
{
	return (long)(mono_ms() - t0);
}

/* get with a copy of the answer kind only (body freed). */
static int get_kind(struct farm_cache *c, struct farm_cache_key *k, long wait_ms,
		    struct farm_cache_ticket *t, char *out, size_t cap)
{
	char *body = NULL;
	size_t len = 0;
	int rc = farm_cache_get(c, k, wait_ms, 5000, &body, &len, t);

	if (out && cap) {
		out[0] = '\0';
		if (body)
			snprintf(out, cap, "%.*s", (int)len, body);
	}
	free(body);
	return rc;
}

static void test_basics(void)
{
	struct farm_cache *c = NULL;
	struct farm_cache_ticket t;
	struct farm_cache_key k = key("cred-1", "GET /a"), k2 = key("cred-1", "GET /b");
	struct farm_cache_stats st;
	char out[64];

	is_int(farm_cache_new(&c, 1 << 20), FARM_OK, "a 1 MiB region is mapped");
	is_int(get_kind(c, &k, 0, &t, out, sizeof(out)), FARM_CACHE_FILL, "first get: FILL");
	ok(t.slot >= 0, "the ticket names a slot");
	farm_cache_fill(c, &t, "hello", 5, 60000);
	is_int(get_kind(c, &k, 0, &t, out, sizeof(out)), FARM_CACHE_HIT, "second get: HIT");
	is_str(out, "hello", "the stored bytes come back");
	is_int(get_kind(c, &k2, 0, &t, out, sizeof(out)), FARM_CACHE_FILL,
	       "another request of the same tag is another key");
	farm_cache_fill(c, &t, NULL, 0, 60000);
	is_int(get_kind(c, &k2, 0, &t, out, sizeof(out)), FARM_CACHE_FILL,
	       "a fill without a body stores nothing");
	farm_cache_fill(c, &t, "x", 1, 0);
	is_int(get_kind(c, &k2, 0, &t, out, sizeof(out)), FARM_CACHE_FILL,
	       "ttl 0 stores nothing");
	farm_cache_fill(c, &t, "short", 5, 50);
	usleep(120 * 1000);
	is_int(get_kind(c, &k2, 0, &t, out, sizeof(out)), FARM_CACHE_FILL,
	       "an expired entry is a miss");
	farm_cache_fill(c, &t, NULL, 0, 0);

	/* A fill for a ticket that was taken back changes nothing. */
	struct farm_cache_ticket stale = t;
	is_int(get_kind(c, &k2, 0, &t, out, sizeof(out)), FARM_CACHE_FILL, "fill again");
	stale.gen = t.gen - 1;
	farm_cache_fill(c, &stale, "stale", 5, 60000);
	struct farm_cache_ticket tb;
	is_int(get_kind(c, &k2, 0, &tb, out, sizeof(out)), FARM_CACHE_BYPASS,
	       "an old ticket does not end the current fill (others wait, then bypass)");
	farm_cache_fill(c, &t, "fresh", 5, 60000);
	get_kind(c, &k2, 0, &t, out, sizeof(out));
	is_str(out, "fresh", "the current ticket's fill is stored");

	farm_cache_stats(c, &st);
	ok(st.hits == 2 && st.stores == 3, "stats count hits and stores (the expired one too)");
	is_int(st.entries, 2, "two entries live");
	farm_cache_free(c);
}

static void test_blocks(void)
{
	struct farm_cache *c = NULL;
	struct farm_cache_ticket t;
	struct farm_cache_stats st;
	size_t big = 3 * FARM_CACHE_BLOCK + 123;
	char *data = malloc(big), *body = NULL;
	size_t len = 0;
	int same, i;

	for (size_t j = 0; j < big; j++)
		data[j] = (char)('a' + j % 23);
	farm_cache_new(&c, 16 * FARM_CACHE_BLOCK);
	struct farm_cache_key k = key("t", "big");
	farm_cache_get(c, &k, 0, 1000, &body, &len, &t);
	farm_cache_fill(c, &t, data, big, 60000);
	is_int(farm_cache_get(c, &k, 0, 1000, &body, &len, &t), FARM_CACHE_HIT,
	       "a 4-block entry is stored");
	same = len == big && !memcmp(body, data, big);
	ok(same, "and comes back byte for byte");
	free(body);

	/* Over half the region: never stored. */
	struct farm_cache_key kh = key("t", "huge");
	char *huge = calloc(1, 9 * FARM_CACHE_BLOCK);
	farm_cache_get(c, &kh, 0, 1000, &body, &len, &t);
	farm_cache_fill(c, &t, huge, 9 * FARM_CACHE_BLOCK, 60000);
	is_int(farm_cache_get(c, &kh, 0, 1000, &body, &len, &t), FARM_CACHE_FILL,
	       "an entry over half the region is not stored");
	farm_cache_fill(c, &t, NULL, 0, 0);
	free(huge);

	/* Fill the region with 3-block entries: the least recently used go. */
	for (i = 0; i < 10; i++) {
		char req[32];
		snprintf(req, sizeof(req), "e%d", i);
		struct farm_cache_key ki = key("t", req);
		if (farm_cache_get(c, &ki, 0, 1000, &body, &len, &t) == FARM_CACHE_FILL)
			farm_cache_fill(c, &t, data, 3 * FARM_CACHE_BLOCK, 60000);
		free(body);
		body = NULL;
	}
	farm_cache_stats(c, &st);
	ok(st.evictions > 0, "storing past the region's size evicts");
	ok(st.free_blocks <= st.blocks, "block accounting stays within the region");
	struct farm_cache_key k9 = key("t", "e9");
	is_int(farm_cache_get(c, &k9, 0, 1000, &body, &len, &t), FARM_CACHE_HIT,
	       "the newest entry survives");
	ok(len == 3 * FARM_CACHE_BLOCK && !memcmp(body, data, len), "intact");
	free(body);
	struct farm_cache_key k0 = key("t", "e0");
	is_int(farm_cache_get(c, &k0, 0, 1000, &body, &len, &t), FARM_CACHE_FILL,
	       "the oldest was evicted");
	farm_cache_fill(c, &t, NULL, 0, 0);
	free(data);
	farm_cache_free(c);
}

static void test_invalidate(void)
{
	struct farm_cache *c = NULL;
	struct farm_cache_ticket t, tf;
	struct farm_cache_key a1 = key("A", "1"), a2 = key("A", "2"), b1 = key("B", "1");
	struct farm_cache_key a3 = key("A", "3");
	char out[16];

	farm_cache_new(&c, 1 << 20);
	struct farm_cache_key *ks[] = {&a1, &a2, &b1};
	for (int i = 0; i < 3; i++) {
		get_kind(c, ks[i], 0, &t, NULL, 0);
		farm_cache_fill(c, &t, "v", 1, 60000);
	}
	is_int(get_kind(c, &a3, 0, &tf, NULL, 0), FARM_CACHE_FILL, "a fill of tag A is under way");
	farm_cache_invalidate(c, "A");
	is_int(get_kind(c, &a1, 0, &t, NULL, 0), FARM_CACHE_FILL, "tag A's entries are gone");
	farm_cache_fill(c, &t, NULL, 0, 0);
	is_int(get_kind(c, &a2, 0, &t, NULL, 0), FARM_CACHE_FILL, "all of them");
	farm_cache_fill(c, &t, NULL, 0, 0);
	is_int(get_kind(c, &b1, 0, &t, out, sizeof(out)), FARM_CACHE_HIT, "tag B's stay");
	farm_cache_fill(c, &tf, "old", 3, 60000);
	is_int(get_kind(c, &a3, 0, &t, NULL, 0), FARM_CACHE_FILL,
	       "a fill that started before the invalidation is not stored");
	farm_cache_fill(c, &t, NULL, 0, 0);
	farm_cache_free(c);
}

/* n children ask for k with wait_ms; each exits 0 on HIT with `want`, 2 on BYPASS,
 * 3 on FILL, 1 otherwise. */
static pid_t spawn_getter(struct farm_cache *c, const char *tag, const char *req, long wait_ms,
			  const char *want)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct farm_cache_key k = key(tag, req);
		struct farm_cache_ticket t;
		char out[64];
		int rc = get_kind(c, &k, wait_ms, &t, out, sizeof(out));
		if (rc == FARM_CACHE_HIT)
			_exit(strcmp(out, want) ? 1 : 0);
		_exit(rc == FARM_CACHE_BYPASS ? 2 : rc == FARM_CACHE_FILL ? 3 : 1);
	}
	return pid;
}

static int exit_code(pid_t pid)
{
	int st = 0;

	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void test_processes(void)
{
	struct farm_cache *c = NULL;
	struct farm_cache_ticket t;
	struct farm_cache_stats st;
	struct farm_cache_key k = key("P", "GET /jobs");
	pid_t kids[20];
	int good = 0;
	int64_t t0;

	farm_cache_new(&c, 1 << 20);

	/* 20 processes miss while this one fills: all wait, all hit, one fill. */
	is_int(get_kind(c, &k, 0, &t, NULL, 0), FARM_CACHE_FILL, "the parent fills");
	for (int i = 0; i < 20; i++)
		kids[i] = spawn_getter(c, "P", "GET /jobs", 5000, "jobs!");
	usleep(200 * 1000);
	farm_cache_fill(c, &t, "jobs!", 5, 60000);
	for (int i = 0; i < 20; i++)
		good += exit_code(kids[i]) == 0;
	is_int(good, 20, "20 concurrent identical misses in other processes all get the fill");
	farm_cache_stats(c, &st);
	is_int(st.fills, 1, "exactly one fill happened");
	ok(st.waits >= 1, "the others waited");

	/* Nobody fills: a waiter gives up after its wait time, then bypasses. */
	struct farm_cache_key k2 = key("P", "slow");
	get_kind(c, &k2, 0, &t, NULL, 0);
	t0 = mono_ms();
	pid_t w = spawn_getter(c, "P", "slow", 300, "");
	is_int(exit_code(w), 2, "a waiter whose time runs out bypasses");
	ok(ms_since(t0) >= 250 && ms_since(t0) < 3000, "after about its wait time");

	/* The filler ends without a body: waiters bypass at once instead of refilling. */
	w = spawn_getter(c, "P", "slow", 5000, "");
	usleep(100 * 1000);
	t0 = mono_ms();
	farm_cache_fill(c, &t, NULL, 0, 0);
	is_int(exit_code(w), 2, "a failed fill sends its waiters to fetch for themselves");
	ok(ms_since(t0) < 1000, "at once");

	/* A filler process that dies: the next caller takes the slot over. */
	struct farm_cache_key k3 = key("P", "orphan");
	pid_t f = spawn_getter(c, "P", "orphan", 0, "");
	is_int(exit_code(f), 3, "a child got the fill and exited without filling");
	t0 = mono_ms();
	is_int(get_kind(c, &k3, 5000, &t, NULL, 0), FARM_CACHE_FILL,
	       "a dead filler's slot is taken back");
	ok(ms_since(t0) < 1500, "without waiting out the wait time");
	farm_cache_fill(c, &t, "adopted", 7, 60000);
	farm_cache_stats(c, &st);
	is_int(st.reclaimed, 1, "counted as reclaimed");

	/* A waiter killed with SIGKILL leaves nothing behind that blocks the filler. */
	struct farm_cache_key k4 = key("P", "victim");
	get_kind(c, &k4, 0, &t, NULL, 0);
	w = spawn_getter(c, "P", "victim", 10000, "");
	usleep(200 * 1000);
	kill(w, SIGKILL);
	is_int(exit_code(w), 100 + SIGKILL, "the waiting child was killed");
	pid_t w2 = spawn_getter(c, "P", "victim", 10000, "after");
	usleep(100 * 1000);
	t0 = mono_ms();
	farm_cache_fill(c, &t, "after", 5, 60000);
	is_int(exit_code(w2), 0, "the next waiter still gets the fill");
	ok(ms_since(t0) < 1000, "the fill did not block on the dead waiter");
	farm_cache_free(c);
}

static void test_owner_dead(void)
{
	struct farm_cache *c = NULL;
	struct farm_cache_ticket t;
	struct farm_cache_stats st;
	struct farm_cache_key k = key("D", "x");
	pid_t pid;
	int64_t t0;

	farm_cache_new(&c, 1 << 20);
	get_kind(c, &k, 0, &t, NULL, 0);
	farm_cache_fill(c, &t, "x", 1, 60000);
	pid = fork();
	if (pid == 0) {
		lock(c); /* and die holding it */
		_exit(0);
	}
	is_int(exit_code(pid), 0, "a child took the lock and exited");
	t0 = mono_ms();
	is_int(get_kind(c, &k, 0, &t, NULL, 0), FARM_CACHE_FILL,
	       "the next locker recovers (EOWNERDEAD): the entries were dropped");
	ok(ms_since(t0) < 1000, "without hanging");
	farm_cache_fill(c, &t, "y", 1, 60000);
	is_int(get_kind(c, &k, 0, &t, NULL, 0), FARM_CACHE_HIT, "and the cache works again");
	farm_cache_stats(c, &st);
	is_int(st.owner_dead, 1, "owner_dead counted");

	pid = fork();
	if (pid == 0) {
		lock(c);
		raise(SIGKILL);
		_exit(1);
	}
	is_int(exit_code(pid), 100 + SIGKILL, "a child killed with SIGKILL while holding the lock");
	is_int(get_kind(c, &k, 0, &t, NULL, 0), FARM_CACHE_FILL, "recovered again");
	farm_cache_fill(c, &t, NULL, 0, 0);
	farm_cache_free(c);
}

int main(void)
{
	test_basics();
	test_blocks();
	test_invalidate();
	test_processes();
	test_owner_dead();
	return done_testing();
}
