/* test-events.c - lib/events: history keys, topics, visibility, event parsing, the
 * history read helpers on a real store, and the daemons' liveness locks. */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store-fixture.h"
#include "tap.h"

#include "banned.h"

static void test_keys(void)
{
	unsigned char a[8], b[8];
	uint64_t id = 0;

	farm_events_key(1, a);
	farm_events_key(256, b);
	ok(memcmp(a, b, 8) < 0, "key order is id order (1 < 256 bytewise)");
	farm_events_key(0x0102030405060708ULL, a);
	is_int(a[0], 1, "big-endian: most significant byte first");
	is_int(a[7], 8, "big-endian: least significant byte last");
	ok(farm_events_key_id(a, 8, &id) == FARM_OK && id == 0x0102030405060708ULL,
	   "a key decodes to its id");
	is_int(farm_events_key_id(a, 7, &id), FARM_E_INVAL, "a 7-byte key is refused");
	is_int(id, 0, "and the id is cleared");
}

static void test_topics(void)
{
	char t[FARM_EVENTS_TOPIC_MAX], small[6], org[300];

	is_int(farm_events_topic("org-a", t, sizeof(t)), 9, "topic length");
	is_str(t, "org:org-a", "org topic");
	is_int(farm_events_topic(NULL, t, sizeof(t)), 4, "org-less topic length");
	is_str(t, "org:", "org-less topic is the bare prefix (every subscriber of org: gets it)");
	is_int(farm_events_topic("org-a", small, sizeof(small)), FARM_E_TOOBIG, "too small");
	memset(org, 'x', 255);
	org[255] = '\0';
	ok(farm_events_topic(org, t, sizeof(t)) == 259, "the longest org claim fits");
}

static void test_visible(void)
{
	ok(farm_events_visible("a", NULL), "org-less events reach an org client");
	ok(farm_events_visible(NULL, NULL), "org-less events reach a client without org");
	ok(farm_events_visible("a", "a"), "own org");
	ok(!farm_events_visible("a", "b"), "never another org");
	ok(!farm_events_visible("a", "ab"), "no prefix match");
	ok(!farm_events_visible(NULL, "a"), "a client without org sees no org's events");
}

static void test_parse(void)
{
	const char *good = "{\"event\":\"ci.build.updated\",\"data\":{\"id\":42,\"orgId\":\"o\"}}";
	const char *none = "{\"event\":\"ci.build.updated\",\"data\":{\"id\":7,\"orgId\":null}}";
	const char *bad[] = {
		"{\"data\":{\"id\":0}}",
		"{\"data\":{\"id\":-1}}",
		"{\"data\":{\"id\":\"42\"}}",
		"{\"data\":{\"id\":1,\"orgId\":5}}",
		"{\"data\":[1]}",
		"[]",
		"{\"data\":{\"id\":1}",
		"{\"data\":{\"id\":1},\"data\":{\"id\":2}}",
	};
	uint64_t id;
	char *org = NULL;

	ok(farm_events_parse(good, strlen(good), &id, &org) == FARM_OK && id == 42 && org &&
		   strcmp(org, "o") == 0,
	   "id and org of an event");
	free(org);
	org = (char *)1;
	ok(farm_events_parse(none, strlen(none), &id, &org) == FARM_OK && id == 7 && !org,
	   "a null orgId is NULL");
	ok(farm_events_parse(good, strlen(good), &id, NULL) == FARM_OK, "org not wanted");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[128];
		snprintf(name, sizeof(name), "refused: %s", bad[i]);
		is_int(farm_events_parse(bad[i], strlen(bad[i]), &id, &org), FARM_E_INVAL, name);
	}
	is_int(farm_events_parse(good, FARM_EVENTS_JSON_MAX + 1, &id, NULL), FARM_E_TOOBIG,
	       "over the size limit");
}

/* --- the history, on a real store --------------------------------------------------- */

struct fill {
	int n;
	int prune_first;
};

static int fill_txn(struct farm_txn *t, void *arg)
{
	struct fill *f = arg;
	unsigned char key[8];
	char json[128];
	uint64_t id;
	int rc;

	for (int i = 0; i < f->n; i++) {
		if ((rc = farm_txn_next_seq(t, FARM_EVENTS_SEQ, &id)) != FARM_OK)
			return rc;
		snprintf(json, sizeof(json), "{\"event\":\"e\",\"data\":{\"id\":%llu,\"orgId\":null}}",
			 (unsigned long long)id);
		farm_events_key(id, key);
		if ((rc = farm_txn_put(t, FARM_T_EVENTS, key, 8, NULL, json, strlen(json), 0)))
			return rc;
	}
	if (f->prune_first) {
		farm_events_key(1, key);
		return farm_txn_del(t, FARM_T_EVENTS, key, 8);
	}
	return FARM_OK;
}

struct look {
	uint64_t first, last;
	char *json;
	size_t len;
	int get_rc;
	uint64_t want;
};

static int look_txn(struct farm_txn *t, void *arg)
{
	struct look *l = arg;
	int rc;

	free(l->json);
	l->json = NULL;
	if ((rc = farm_events_first(t, &l->first)) != FARM_OK ||
	    (rc = farm_events_last(t, &l->last)) != FARM_OK)
		return rc;
	l->get_rc = farm_events_get(t, l->want, &l->json, &l->len);
	return FARM_OK;
}

static void test_history(void)
{
	struct farm_store *s = NULL;
	struct look l = {0};
	struct fill f = {3, 0};
	uint64_t id = 0;

	if (!fixture_store(&s, "env", "store opens"))
		return;
	l.want = 1;
	ok(farm_store_run(s, look_txn, &l) == FARM_OK && l.first == 0 && l.last == 0 &&
		   l.get_rc == FARM_E_NOTFOUND,
	   "an empty history: first 0, last 0, nothing to get");
	ok(farm_store_run(s, fill_txn, &f) == FARM_OK, "three events stored");
	l.want = 2;
	ok(farm_store_run(s, look_txn, &l) == FARM_OK && l.first == 1 && l.last == 3 &&
		   l.get_rc == FARM_OK,
	   "first 1, last 3, event 2 readable");
	ok(l.json && l.json[l.len] == '\0' && farm_events_parse(l.json, l.len, &id, NULL) == FARM_OK &&
		   id == 2,
	   "the stored JSON is event 2, NUL-terminated");
	f.prune_first = 1;
	ok(farm_store_run(s, fill_txn, &f) == FARM_OK, "three more, the oldest pruned");
	l.want = 1;
	ok(farm_store_run(s, look_txn, &l) == FARM_OK && l.first == 2 && l.last == 6 &&
		   l.get_rc == FARM_E_NOTFOUND,
	   "first moves to 2 after pruning, last 6; event 1 is gone");
	free(l.json);
	farm_store_close(s);
}

/* --- liveness locks ------------------------------------------------------------------ */

/* In a child: what another process sees. */
static int child_sees(const char *name, int try_take)
{
	pid_t p = fork();
	int st = 0;

	if (p == 0) {
		int fd = -1, rc;
		if (try_take) {
			rc = farm_events_lock_take(fixture_dir, name, &fd);
			_exit(rc == FARM_E_EXISTS ? 10 : rc == FARM_OK ? 11 : 12);
		}
		rc = farm_events_lock_held(fixture_dir, name);
		_exit(rc == 1 ? 1 : rc == 0 ? 0 : 2);
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* In a child: the kept-descriptor probe, asked twice through the same descriptor. */
static int child_sees_fd(const char *name)
{
	pid_t p = fork();
	int st = 0;

	if (p == 0) {
		int f = -1, a, b;
		a = farm_events_lock_held_fd(fixture_dir, name, &f);
		b = farm_events_lock_held_fd(fixture_dir, name, &f);
		_exit(a == b && f >= 0 ? a : 9);
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_locks(void)
{
	int nofile = -1;
	int fd = -1, fd2 = -1;
	char buf[32] = "";
	char path[1200];
	FILE *fp;

	is_int(farm_events_lock_held(fixture_dir, "eventd"), 0, "no lock file: nobody runs");
	is_int(farm_events_lock_held_fd(fixture_dir, "eventd", &nofile), 0, "kept-fd probe: nobody runs");
	is_int(nofile, -1, "and nothing is kept open for a missing file");
	ok(farm_events_lock_take(fixture_dir, "eventd", &fd) == FARM_OK && fd >= 0, "lock taken");
	is_int(child_sees("eventd", 0), 1, "another process sees it held");
	is_int(child_sees("eventd", 1), 10, "another process cannot take it");
	is_int(child_sees_fd("eventd"), 1, "the kept-fd probe sees it held, twice");
	snprintf(path, sizeof(path), "%s/eventd.lock", fixture_dir);
	fp = fopen(path, "r");
	ok(fp && fgets(buf, sizeof(buf), fp) && strtol(buf, NULL, 10) == (long)getpid(),
	   "the lock file names the holder's pid");
	if (fp)
		fclose(fp);
	is_int(child_sees("wsd", 0), 0, "another name is independent");
	close(fd);
	is_int(child_sees("eventd", 0), 0, "released when the holder closes it");
	is_int(child_sees_fd("eventd"), 0, "the kept-fd probe sees it released");
	ok(farm_events_lock_take(fixture_dir, "eventd", &fd2) == FARM_OK, "and can be taken again");
	close(fd2);
	is_int(farm_events_lock_take(fixture_dir, "../x", &fd), FARM_E_INVAL, "a name with / is refused");
	is_int(farm_events_lock_held("", "eventd"), FARM_E_INVAL, "an empty dir is refused");
}

/* A daemon's request for recovery: taken once, by whoever looks first. */
static void test_recover_request(void)
{
	is_int(farm_events_recover_take(fixture_dir), 0, "no request: nothing to take");
	is_int(farm_events_recover_ask(fixture_dir), FARM_OK, "a daemon asks");
	is_int(farm_events_recover_ask(fixture_dir), FARM_OK, "and asks again (one request)");
	is_int(farm_events_recover_take(fixture_dir), 1, "the master takes the request");
	is_int(farm_events_recover_take(fixture_dir), 0, "only once");
	is_int(farm_events_recover_ask(""), FARM_E_INVAL, "an empty dir is refused");
	is_int(farm_events_recover_take(""), 0, "and has no request");
}

/* In a child: opens its own mapping and claims once; exit status = the claim. */
static int child_claims(void)
{
	pid_t p = fork();
	int st = 0;

	if (p == 0) {
		struct farm_events_wake *w = NULL;
		if (farm_events_wake_open(fixture_dir, &w) != FARM_OK)
			_exit(9);
		_exit(farm_events_wake_claim(w));
	}
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The protocol of events.h between two processes, with a shared counter as the
 * "outbox" and a pipe as the nudge.  The receiver appends one entry, claims (nudging
 * only on a claim) and waits until the sleeper has seen that entry; the sleeper
 * announces, looks, and waits only when it found nothing.  A lost wake-up leaves the
 * receiver waiting: it gives up after 300 ms (the sleeper would wait 2 s). */
static int race_lost_wakeups(int rounds)
{
	_Atomic long *box = mmap(NULL, 2 * sizeof(long), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct farm_events_wake *w = NULL;
	int fds[2], st = 0;
	long seen = 0;
	char buf[256];
	pid_t p;

	if (box == MAP_FAILED || pipe(fds) != 0)
		return -1;
	atomic_store(&box[0], 0);
	atomic_store(&box[1], 0);
	p = fork();
	if (p == 0) { /* receiver */
		close(fds[0]);
		if (farm_events_wake_open(fixture_dir, &w) != FARM_OK)
			_exit(9);
		for (long i = 1; i <= rounds; i++) {
			atomic_store(&box[0], i);
			if (farm_events_wake_claim(w) && write(fds[1], "1", 1) != 1)
				_exit(8);
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			for (int spin = 0; atomic_load(&box[1]) < i; spin++) {
				clock_gettime(CLOCK_MONOTONIC, &t1);
				if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > 300) {
					atomic_store(&box[0], -1); /* tell the sleeper to stop */
					_exit(7);
				}
				if (spin > 1000)
					usleep(1);
			}
		}
		_exit(0);
	}
	close(fds[1]);
	farm_events_wake_open(fixture_dir, &w);
	while (seen < rounds) {
		farm_events_wake_set(w, 1);
		long now = atomic_load(&box[0]);
		if (now < 0)
			break;
		if (now == seen) {
			struct pollfd pfd = {fds[0], POLLIN, 0};
			if (poll(&pfd, 1, 2000) > 0 && read(fds[0], buf, sizeof(buf)) <= 0)
				break;
		}
		seen = now;
		atomic_store(&box[1], seen);
		farm_events_wake_set(w, 0);
	}
	waitpid(p, &st, 0);
	farm_events_wake_close(w);
	close(fds[0]);
	munmap((void *)box, 2 * sizeof(long));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_wake(void)
{
	struct farm_events_wake *w = NULL;
	char path[1200], link[1200];
	struct stat st;

	is_int(farm_events_wake_claim(NULL), 1, "no word: always nudge");
	is_int(farm_events_wake_open(fixture_dir, &w), FARM_OK, "the word opens (created)");
	snprintf(path, sizeof(path), "%s/eventd.wake", fixture_dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the file is 0600");
	ok(st.st_blocks > 0, "its block is allocated: no hole for a store to fault on (full disk)");
	is_int(farm_events_wake_claim(w), 0, "a new word says awake: no nudge");
	is_int(child_claims(), 0, "nor for another process");
	farm_events_wake_set(w, 1);
	is_int(child_claims(), 1, "waiting: another process claims it");
	is_int(farm_events_wake_claim(w), 0, "once: the claim cleared it");
	farm_events_wake_set(w, 1);
	is_int(farm_events_wake_claim(w), 1, "waiting again: claimed");
	farm_events_wake_set(w, 1);
	farm_events_wake_set(w, 0);
	is_int(farm_events_wake_claim(w), 0, "awake again: no nudge");
	farm_events_wake_close(w);
	is_int(race_lost_wakeups(20000), 0, "20,000 appends raced one by one against the sleeper: none waits unseen");
	snprintf(link, sizeof(link), "%s/waketest", fixture_dir);
	mkdir(link, 0700);
	snprintf(path, sizeof(path), "%s/waketest/eventd.wake", fixture_dir);
	ok(symlink("/etc/passwd", path) == 0, "a symlink planted at the word's path");
	w = NULL;
	is_int(farm_events_wake_open(link, &w), FARM_E_IO, "is not followed");
	ok(w == NULL, "and no handle is returned");
	is_int(farm_events_wake_open("", &w), FARM_E_INVAL, "an empty dir is refused");
}

int main(void)
{
	if (fixture_init("events"))
		return 1;
	test_keys();
	test_topics();
	test_visible();
	test_parse();
	test_history();
	test_locks();
	test_recover_request();
	test_wake();
	fixture_cleanup();
	return done_testing();
}
