/* test-store.c - the Berkeley DB store: tables, org index, outbox, counters,
 * recovery after a killed process, hot backup and verification, log removal,
 * and concurrent transactions retried through deadlocks.
 *
 * Every case works in its own fresh directory under $TMPDIR (or /tmp).
 */
#include "store.h"

#include <db.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store-fixture.h"
#include "tap.h"

#include "banned.h"

/* --- scratch directories ----------------------------------------------------------- */

/* A new empty directory; `env` gets "<it>/env" (not created: the store creates it). */
static void scratch_new(char *env, size_t n)
{
	if (fixture_init("store"))
		exit(1);
	snprintf(env, n, "%s/env", fixture_dir);
}

static void scratch_done(void)
{
	if (fixture_dir[0])
		fixture_cleanup();
	fixture_dir[0] = '\0';
}

static struct farm_store *open_or_bail(const char *dir, unsigned flags)
{
	struct farm_error err = {0};
	struct farm_store *s = NULL;
	int code = farm_store_open(&s, dir, flags, &err);

	if (code != FARM_OK) {
		printf("Bail out! farm_store_open %s: %d %s\n", dir, code, err.msg);
		exit(1);
	}
	return s;
}

static int count_files(const char *dir, const char *prefix)
{
	struct dirent *de;
	DIR *dp = opendir(dir);
	int n = 0;

	if (!dp)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(dp);
	return n;
}

/* --- small transactions as callbacks ----------------------------------------------- */

struct kv {
	enum farm_table tab;
	const char *key;
	const char *org;
	const void *val;
	size_t vlen;
	int noover;
	int result;  /* what the callback returns after its work (0 = commit) */
	void *out;   /* get: value read (malloc) */
	size_t outlen;
	char *org_out;
	int found;
};

static int fn_put(struct farm_txn *t, void *arg)
{
	struct kv *a = arg;
	int code = farm_txn_put(t, a->tab, a->key, strlen(a->key), a->org, a->val, a->vlen,
				a->noover);

	return code != FARM_OK ? code : a->result;
}

static int fn_get(struct farm_txn *t, void *arg)
{
	struct kv *a = arg;

	free(a->out);
	a->out = NULL;
	return farm_txn_get(t, a->tab, a->key, strlen(a->key), &a->out, &a->outlen, 0);
}

static int fn_del(struct farm_txn *t, void *arg)
{
	struct kv *a = arg;

	return farm_txn_del(t, a->tab, a->key, strlen(a->key));
}

static int fn_get_org(struct farm_txn *t, void *arg)
{
	struct kv *a = arg;

	free(a->org_out);
	a->org_out = NULL;
	return farm_txn_get_org(t, a->tab, a->key, strlen(a->key), &a->org_out, &a->found);
}

static int put(struct farm_store *s, enum farm_table tab, const char *key, const char *org,
	       const char *val)
{
	struct kv a = {.tab = tab, .key = key, .org = org, .val = val, .vlen = strlen(val)};

	return farm_store_run(s, fn_put, &a);
}

/* Reads `key`; returns a new NUL-terminated copy of the value or NULL; *code gets the result. */
static char *get(struct farm_store *s, enum farm_table tab, const char *key, int *code)
{
	struct kv a = {.tab = tab, .key = key};
	char *str = NULL;

	*code = farm_store_run(s, fn_get, &a);
	if (*code == FARM_OK && (str = malloc(a.outlen + 1))) {
		memcpy(str, a.out, a.outlen);
		str[a.outlen] = '\0';
		if (strlen(str) != a.outlen) { /* an embedded NUL: not what any test stored */
			free(str);
			str = NULL;
		}
	}
	free(a.out);
	return str;
}

static int get_is(struct farm_store *s, enum farm_table tab, const char *key,
		  const char *want)
{
	int code;
	char *got = get(s, tab, key, &code);
	int same = got && want && strcmp(got, want) == 0;

	if (!same)
		diag("get %s: code %d, got '%s', want '%s'", key, code, got ? got : "(null)",
		     want);
	free(got);
	return same;
}

static int get_code(struct farm_store *s, enum farm_table tab, const char *key)
{
	int code;

	free(get(s, tab, key, &code));
	return code;
}

/* --- cases ------------------------------------------------------------------------- */

static void test_open_close(void)
{
	char dir[4096], path[4200];
	struct farm_error err = {0};
	struct farm_store *s = NULL;
	struct stat st;
	int code;

	scratch_new(dir, sizeof(dir));
	code = farm_store_open(&s, dir, FARM_STORE_MASTER, &err);
	is_int(code, FARM_OK, "open creates a new environment");
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "environment directory is created 0700");
	snprintf(path, sizeof(path), "%s/creds.db", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0077) == 0, "database files are private (0600)");
	snprintf(path, sizeof(path), "%s/creds-org.db", dir);
	ok(access(path, F_OK) == 0, "org index of creds has its own file");
	snprintf(path, sizeof(path), "%s/outbox.db", dir);
	ok(access(path, F_OK) == 0, "outbox has its own file");
	ok(count_files(dir, "log.") >= 1, "a write-ahead log exists");
	is_int(farm_store_ping(s), FARM_OK, "ping answers OK on a healthy environment");
	farm_store_close(s);
	farm_store_close(NULL);
	ok(1, "close (and close of NULL) return");

	s = NULL;
	snprintf(path, sizeof(path), "%s/no/such/parent", dir);
	code = farm_store_open(&s, path, 0, &err);
	ok(code != FARM_OK && s == NULL, "open fails when the parent directory is missing");
	ok(strstr(err.msg, "no/such/parent") != NULL, "the error names the directory");
	is_int(farm_store_open(&s, dir, 1u << 20, &err), FARM_E_INVAL, "unknown flags are refused");

	s = open_or_bail(dir, 0);
	ok(s != NULL, "a second, non-master open joins the existing environment");
	farm_store_close(s);
	scratch_done();
}

static void test_put_get_del(void)
{
	static const enum farm_table tabs[] = {FARM_T_META,	FARM_T_CREDS, FARM_T_CATALOG,
					       FARM_T_PIPELINES, FARM_T_RUNS,  FARM_T_DEDUPE,
					       FARM_T_EVENTS};
	char dir[4096], val[64], name[96];
	struct farm_store *s;
	size_t i;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	for (i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
		struct kv a = {.tab = tabs[i], .key = "k1"};

		snprintf(val, sizeof(val), "value-of-table-%d", (int)tabs[i]);
		snprintf(name, sizeof(name), "table %d: put", (int)tabs[i]);
		is_int(put(s, tabs[i], "k1", "acme", val), FARM_OK, name);
		snprintf(name, sizeof(name), "table %d: get returns exactly what was put",
			 (int)tabs[i]);
		ok(get_is(s, tabs[i], "k1", val), name);
		snprintf(name, sizeof(name), "table %d: put overwrites", (int)tabs[i]);
		is_int(put(s, tabs[i], "k1", "acme", "second"), FARM_OK, name);
		ok(get_is(s, tabs[i], "k1", "second"), "  ... and get sees the new value");
		snprintf(name, sizeof(name), "table %d: del", (int)tabs[i]);
		is_int(farm_store_run(s, fn_del, &a), FARM_OK, name);
		is_int(get_code(s, tabs[i], "k1"), FARM_E_NOTFOUND, "  ... then get is NOTFOUND");
		is_int(farm_store_run(s, fn_del, &a), FARM_E_NOTFOUND,
		       "  ... and a second del is NOTFOUND");
	}
	is_int(get_code(s, FARM_T_CREDS, "never-written"), FARM_E_NOTFOUND,
	       "get of a key never written is NOTFOUND");

	{
		struct kv a = {.tab = FARM_T_CREDS, .key = "empty", .org = "acme", .val = "",
			       .vlen = 0};
		int code;
		char *got;

		is_int(farm_store_run(s, fn_put, &a), FARM_OK, "an empty value can be stored");
		got = get(s, FARM_T_CREDS, "empty", &code);
		ok(code == FARM_OK && got && got[0] == '\0', "  ... and reads back empty");
		free(got);
	}
	{
		struct kv a = {.tab = FARM_T_CREDS, .key = "x", .org = "", .val = "v", .vlen = 1};

		is_int(farm_store_run(s, fn_put, &a), FARM_E_INVAL, "an empty org is refused");
		a.tab = (enum farm_table)FARM_T__COUNT;
		a.org = NULL;
		is_int(farm_store_run(s, fn_put, &a), FARM_E_INVAL, "an unknown table is refused");
	}
	is_int(farm_store_run(s, NULL, NULL), FARM_E_INVAL, "run without a callback is refused");
	farm_store_close(s);
	scratch_done();
}

static void test_noover_and_abort(void)
{
	char dir[4096];
	struct farm_store *s;
	struct farm_store_stats st0, st1;
	struct kv a = {.tab = FARM_T_CREDS, .key = "c1", .org = "acme", .val = "one", .vlen = 3,
		       .noover = 1};

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	is_int(farm_store_run(s, fn_put, &a), FARM_OK, "noover put of a new key succeeds");
	a.val = "two";
	is_int(farm_store_run(s, fn_put, &a), FARM_E_EXISTS, "noover put of an existing key is EXISTS");
	ok(get_is(s, FARM_T_CREDS, "c1", "one"), "  ... and the first value is kept");

	is_int(farm_store_stats(s, &st0), FARM_OK, "stats");
	a.key = "c2";
	a.noover = 0;
	a.result = FARM_E_CONFLICT;
	is_int(farm_store_run(s, fn_put, &a), FARM_E_CONFLICT,
	       "run returns the callback's error");
	is_int(get_code(s, FARM_T_CREDS, "c2"), FARM_E_NOTFOUND,
	       "  ... and nothing the callback wrote is kept");
	is_int(farm_store_stats(s, &st1), FARM_OK, "stats again");
	ok(st1.txn_aborts > st0.txn_aborts, "  ... the abort is counted");
	is_int(put(s, FARM_T_CREDS, "c3", "acme", "three"), FARM_OK, "a put commits");
	ok(farm_store_stats(s, &st1) == FARM_OK && st1.txn_commits > st0.txn_commits,
	   "  ... and the commit is counted");
	farm_store_close(s);
	scratch_done();
}

struct scan {
	int n, stop_after;
	char keys[1024];
	char vals[1024];
};

static int scan_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct scan *sc = arg;
	size_t k = strlen(sc->keys), v = strlen(sc->vals);

	snprintf(sc->keys + k, sizeof(sc->keys) - k, "%s%.*s", k ? "," : "", (int)klen,
		 (const char *)key);
	snprintf(sc->vals + v, sizeof(sc->vals) - v, "%s%.*s", v ? "," : "", (int)vlen,
		 (const char *)val);
	sc->n++;
	return sc->stop_after && sc->n >= sc->stop_after ? 1 : FARM_OK;
}

struct scan_arg {
	enum farm_table tab;
	const char *org;
	int all;
	struct scan sc;
};

static int fn_scan(struct farm_txn *t, void *arg)
{
	struct scan_arg *a = arg;

	memset(a->sc.keys, 0, sizeof(a->sc.keys));
	memset(a->sc.vals, 0, sizeof(a->sc.vals));
	a->sc.n = 0;
	return farm_txn_scan(t, a->tab, a->org, a->all, scan_cb, &a->sc);
}

static int scan(struct farm_store *s, enum farm_table tab, const char *org, int all,
		struct scan_arg *a)
{
	memset(a, 0, sizeof(*a));
	a->tab = tab;
	a->org = org;
	a->all = all;
	return farm_store_run(s, fn_scan, a);
}

static void test_org_scan(void)
{
	char dir[4096];
	struct farm_store *s;
	struct scan_arg a;
	struct kv g = {.tab = FARM_T_CREDS};

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	/* Inserted out of key order; "acme-x" starts with "acme". */
	ok(put(s, FARM_T_CREDS, "k5", "acme", "a5") == FARM_OK &&
		   put(s, FARM_T_CREDS, "k1", "acme", "a1") == FARM_OK &&
		   put(s, FARM_T_CREDS, "k3", "acme", "a3") == FARM_OK &&
		   put(s, FARM_T_CREDS, "k2", "beta", "b2") == FARM_OK &&
		   put(s, FARM_T_CREDS, "k4", "acme-x", "x4") == FARM_OK &&
		   put(s, FARM_T_CREDS, "k6", NULL, "n6") == FARM_OK &&
		   put(s, FARM_T_CREDS, "k0", NULL, "n0") == FARM_OK &&
		   put(s, FARM_T_RUNS, "r1", "acme", "run1") == FARM_OK,
	   "records of several orgs stored");

	is_int(scan(s, FARM_T_CREDS, "acme", 0, &a), FARM_OK, "scan of one org");
	is_str(a.sc.keys, "k1,k3,k5", "  ... returns exactly that org's keys, in key order");
	is_str(a.sc.vals, "a1,a3,a5", "  ... with the org header stripped from values");
	scan(s, FARM_T_CREDS, "acme-x", 0, &a);
	is_str(a.sc.keys, "k4", "an org that extends another's name is its own scope");
	scan(s, FARM_T_CREDS, NULL, 0, &a);
	is_str(a.sc.keys, "k0,k6", "the no-org scope lists only records stored without an org");
	is_str(a.sc.vals, "n0,n6", "  ... values stripped");
	scan(s, FARM_T_CREDS, "nobody", 0, &a);
	is_int(a.sc.n, 0, "an org without records lists nothing");
	scan(s, FARM_T_RUNS, "acme", 0, &a);
	is_str(a.sc.keys, "r1", "each org-scoped table has its own index");
	is_int(scan(s, FARM_T_CREDS, "ignored", 1, &a), FARM_OK, "scan of all records");
	is_str(a.sc.keys, "k0,k1,k2,k3,k4,k5,k6", "  ... returns every record in key order");
	is_str(a.sc.vals, "n0,a1,b2,a3,x4,a5,n6", "  ... all values stripped");

	memset(&a, 0, sizeof(a));
	a.tab = FARM_T_CREDS;
	a.org = "acme";
	a.sc.stop_after = 2;
	is_int(farm_store_run(s, fn_scan, &a), FARM_OK, "a callback may stop the scan");
	is_int(a.sc.n, 2, "  ... after the record it asked to stop on");

	ok(put(s, FARM_T_CREDS, "k3", "beta", "b3") == FARM_OK, "a record is moved to another org");
	scan(s, FARM_T_CREDS, "acme", 0, &a);
	is_str(a.sc.keys, "k1,k5", "  ... and leaves the old org's listing");
	scan(s, FARM_T_CREDS, "beta", 0, &a);
	is_str(a.sc.keys, "k2,k3", "  ... and joins the new one's");
	g.key = "k5";
	farm_store_run(s, fn_del, &g);
	scan(s, FARM_T_CREDS, "acme", 0, &a);
	is_str(a.sc.keys, "k1", "a deleted record leaves its org's listing");

	is_int(scan(s, FARM_T_META, "acme", 0, &a), FARM_E_INVAL,
	       "org scan of a table without orgs is refused");
	put(s, FARM_T_META, "m2", NULL, "two");
	put(s, FARM_T_META, "m1", NULL, "one");
	is_int(scan(s, FARM_T_META, NULL, 1, &a), FARM_OK, "all scan of a plain table");
	is_str(a.sc.vals, "one,two", "  ... values as stored");

	g.key = "k1";
	is_int(farm_store_run(s, fn_get_org, &g), FARM_OK, "get_org of a record");
	ok(g.found, "  ... found");
	is_str(g.org_out, "acme", "  ... returns its org");
	g.key = "k0";
	farm_store_run(s, fn_get_org, &g);
	ok(g.found && g.org_out == NULL, "get_org of a no-org record: found, org NULL");
	g.key = "missing";
	is_int(farm_store_run(s, fn_get_org, &g), FARM_OK, "get_org of a missing key");
	ok(!g.found && g.org_out == NULL, "  ... reports not found");
	g.tab = FARM_T_EVENTS;
	is_int(farm_store_run(s, fn_get_org, &g), FARM_E_INVAL,
	       "get_org on a table without orgs is refused");
	free(g.org_out);
	farm_store_close(s);
	scratch_done();
}

struct ob {
	const char *vals[4];
	int nvals;
	int result;
	void *out;
	size_t outlen;
};

static int fn_append(struct farm_txn *t, void *arg)
{
	struct ob *o = arg;
	int i, code;

	for (i = 0; i < o->nvals; i++)
		if ((code = farm_txn_outbox_append(t, o->vals[i], strlen(o->vals[i]))) != FARM_OK)
			return code;
	return o->result;
}

static int fn_pop(struct farm_txn *t, void *arg)
{
	struct ob *o = arg;
	int code;

	free(o->out);
	o->out = NULL;
	code = farm_txn_outbox_pop(t, &o->out, &o->outlen);
	return code != FARM_OK ? code : o->result;
}

/* Pops one entry; returns it as a new string, or NULL with *code set. */
static char *pop(struct farm_store *s, int *code)
{
	struct ob o = {0};
	char *str = NULL;

	*code = farm_store_run(s, fn_pop, &o);
	if (*code == FARM_OK && (str = malloc(o.outlen + 1))) {
		memcpy(str, o.out, o.outlen);
		str[o.outlen] = '\0';
	}
	free(o.out);
	return str;
}

static int pop_is(struct farm_store *s, const char *want)
{
	int code, same;
	char *got = pop(s, &code);

	same = got && strcmp(got, want) == 0;
	if (!same)
		diag("pop: code %d, got '%s', want '%s'", code, got ? got : "(null)", want);
	free(got);
	return same;
}

static uint64_t depth(struct farm_store *s)
{
	uint64_t d = UINT64_MAX;

	if (farm_store_outbox_depth(s, &d) != FARM_OK)
		return UINT64_MAX;
	return d;
}

static void test_outbox(void)
{
	char dir[4096];
	struct farm_store *s;
	struct ob o = {0};
	struct farm_store_stats st;
	char *big;
	int code, i;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	is_int(depth(s), 0, "a new outbox is empty");
	free(pop(s, &code));
	is_int(code, FARM_E_NOTFOUND, "pop of an empty outbox is NOTFOUND");

	o.vals[0] = "{\"id\":1}";
	o.nvals = 1;
	is_int(farm_store_run(s, fn_append, &o), FARM_OK, "append one event");
	o.vals[0] = "{\"id\":2}";
	o.vals[1] = "{\"id\":3}";
	o.nvals = 2;
	is_int(farm_store_run(s, fn_append, &o), FARM_OK, "append two events in one transaction");
	o.vals[0] = "{\"id\":\"aborted\"}";
	o.nvals = 1;
	o.result = FARM_E_CONFLICT;
	is_int(farm_store_run(s, fn_append, &o), FARM_E_CONFLICT,
	       "an append in an aborted transaction ...");
	is_int(depth(s), 3, "  ... is not kept: depth counts three");
	ok(farm_store_stats(s, &st) == FARM_OK && st.outbox_depth == 3, "stats report the depth");

	ok(pop_is(s, "{\"id\":1}"), "pop returns the oldest event");
	is_int(depth(s), 2, "  ... and removes it");
	memset(&o, 0, sizeof(o));
	o.result = FARM_E_UPSTREAM; /* e.g. publishing failed */
	is_int(farm_store_run(s, fn_pop, &o), FARM_E_UPSTREAM, "a pop in an aborted transaction ...");
	ok(o.outlen == 8 && memcmp(o.out, "{\"id\":2}", 8) == 0, "  ... saw the next event");
	free(o.out);
	is_int(depth(s), 2, "  ... and leaves it in the outbox");
	ok(pop_is(s, "{\"id\":2}"), "so the next pop returns it again");
	ok(pop_is(s, "{\"id\":3}"), "FIFO order across transactions");
	is_int(depth(s), 0, "the outbox is empty again");

	big = malloc(16384 + 1);
	for (i = 0; i < 16384; i++)
		big[i] = (char)('a' + i % 26);
	big[16384] = '\0';
	memset(&o, 0, sizeof(o));
	o.vals[0] = big;
	o.vals[1] = "{\"id\":5}";
	o.nvals = 2;
	is_int(farm_store_run(s, fn_append, &o), FARM_OK, "a 16 KiB event can be appended");
	ok(pop_is(s, big), "  ... and pops back intact");
	free(big);
	ok(pop_is(s, "{\"id\":5}"), "  ... and the event after it follows");
	/* Many appends and pops: numbering stays dense, so depth stays exact. */
	for (i = 0, code = 0; i < 50; i++) {
		char want[16];

		snprintf(want, sizeof(want), "n%d", i);
		memset(&o, 0, sizeof(o));
		o.vals[0] = want;
		o.nvals = 1;
		farm_store_run(s, fn_append, &o);
		if (i % 2) {
			snprintf(want, sizeof(want), "n%d", i / 2);
			code += !pop_is(s, want);
		}
	}
	is_int(code, 0, "interleaved appends and pops keep FIFO order");
	is_int(depth(s), 25, "depth is exact after interleaved appends and pops");
	ok(pop_is(s, "n25"), "and the oldest remaining entry comes next");
	farm_store_close(s);

	s = open_or_bail(dir, FARM_STORE_MASTER);
	is_int(depth(s), 24, "the outbox survives a reopen with recovery");
	ok(pop_is(s, "n26"), "  ... in order");
	farm_store_close(s);
	scratch_done();
}

/* --- the consumer's peek and drop; order across shards ------------------------------ */

/* The values of a batch, joined with spaces. */
static void batch_str(const struct farm_outbox_batch *b, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < b->n && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? " " : "", (int)b->e[i].len,
				      (const char *)b->e[i].val);
}

static int peek_is(struct farm_store *s, struct farm_outbox_batch *b, size_t per,
		   const char *want)
{
	char got[512];
	int code = farm_store_outbox_peek(s, per, b);

	batch_str(b, got, sizeof(got));
	if (code != FARM_OK || strcmp(got, want) != 0) {
		diag("peek: code %d, got '%s', want '%s'", code, got, want);
		return 0;
	}
	return 1;
}

struct drop {
	const struct farm_outbox_batch *b;
	int result;
	atomic_int *appended; /* when set: wait up to 3 s for it before the drop */
	int saw_append;
};

static int fn_drop(struct farm_txn *t, void *arg)
{
	struct drop *dr = arg;
	int code, i;

	for (i = 0; dr->appended && i < 300 && !atomic_load(dr->appended); i++)
		usleep(10000);
	dr->saw_append = dr->appended && atomic_load(dr->appended);
	if ((code = farm_txn_outbox_drop(t, dr->b)) != FARM_OK)
		return code;
	return dr->result;
}

static pthread_t thread_or_bail(void *(*fn)(void *), void *arg)
{
	pthread_t th;

	if (pthread_create(&th, NULL, fn, arg) != 0) {
		printf("Bail out! pthread_create\n");
		exit(1);
	}
	return th;
}

/* Appends each value in its own transaction from a new thread: a new thread is a new
 * shard (round robin), and each append commits before the next begins. */
struct appender {
	struct farm_store *s;
	const char *vals[4];
	useconds_t delay;
	atomic_int done;
	int code;
};

static void *appender_main(void *arg)
{
	struct appender *a = arg;

	usleep(a->delay);
	for (int i = 0; i < 4 && a->vals[i] && a->code == FARM_OK; i++) {
		struct ob o = {0};

		o.vals[0] = a->vals[i];
		o.nvals = 1;
		a->code = farm_store_run(a->s, fn_append, &o);
	}
	atomic_store(&a->done, 1);
	return NULL;
}

static pthread_t appender_start(struct appender *a, struct farm_store *s, useconds_t delay)
{
	a->s = s;
	a->delay = delay;
	a->code = FARM_OK;
	atomic_init(&a->done, 0);
	return thread_or_bail(appender_main, a);
}

static int append_from_thread(struct farm_store *s, const char *v1, const char *v2,
			      const char *v3)
{
	struct appender a = {.vals = {v1, v2, v3}};

	pthread_join(appender_start(&a, s, 0), NULL);
	return a.code;
}

static void test_outbox_peek_drop(void)
{
	char dir[4096];
	struct farm_store *s;
	struct farm_outbox_batch *b = calloc(1, sizeof(*b));
	struct appender a = {.vals = {"late"}};
	struct drop dr = {0};
	struct ob o = {0};
	pthread_t th;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	ok(peek_is(s, b, 4, ""), "peek of an empty outbox reads nothing");
	o.vals[0] = "a";
	o.vals[1] = "b";
	o.vals[2] = "c";
	o.nvals = 3;
	is_int(farm_store_run(s, fn_append, &o), FARM_OK, "append three in one transaction");
	ok(peek_is(s, b, 2, "a b"), "peek of 2 per shard reads the two oldest, in order");
	is_int(depth(s), 3, "  ... and removes nothing");
	dr.b = b;
	dr.result = FARM_E_UPSTREAM;
	is_int(farm_store_run(s, fn_drop, &dr), FARM_E_UPSTREAM, "a drop in an aborted transaction ...");
	is_int(depth(s), 3, "  ... removes nothing");
	farm_outbox_batch_clear(b);
	ok(peek_is(s, b, 2, "a b"), "peek again: the same two");
	dr.result = FARM_OK;
	is_int(farm_store_run(s, fn_drop, &dr), FARM_OK, "drop them");
	farm_outbox_batch_done(b);
	is_int(depth(s), 1, "  ... removes exactly those");

	/* After peek nothing is locked: an append commits before the consumer's drop,
	 * and the drop removes what was read, not the newcomer. */
	ok(peek_is(s, b, 4, "c"), "peek the rest");
	th = appender_start(&a, s, 50000);
	dr.appended = &a.done;
	is_int(farm_store_run(s, fn_drop, &dr), FARM_OK, "the consumer waits, then drops");
	pthread_join(th, NULL);
	farm_outbox_batch_done(b);
	ok(a.code == FARM_OK && dr.saw_append, "  an append committed between peek and drop");
	ok(peek_is(s, b, 4, "late") && depth(s) == 1, "  the drop left only the newcomer");
	farm_store_run(s, fn_drop, &dr);
	farm_outbox_batch_done(b);

	/* Causal order across shards: each value below is committed before the next
	 * one's transaction begins, from threads that append to different shards. */
	is_int(append_from_thread(s, "e1", "e2", "e3"), FARM_OK, "e1 e2 e3 from one thread");
	is_int(append_from_thread(s, "e4", NULL, NULL), FARM_OK, "then e4 from another");
	is_int(append_from_thread(s, "e5", "e6", NULL), FARM_OK, "then e5 e6 from a third");
	ok(peek_is(s, b, 2, "e1 e2"),
	   "2 per shard: e1 e2, and not e4 or e5 (the first shard may hold older ones)");
	dr.appended = NULL;
	farm_store_run(s, fn_drop, &dr);
	farm_outbox_batch_done(b);
	ok(peek_is(s, b, 2, "e3 e4 e5 e6"), "then e3 e4 e5 e6: the order they were committed in");
	farm_store_run(s, fn_drop, &dr);
	farm_outbox_batch_done(b);
	is_int(depth(s), 0, "the outbox is empty");

	/* The main thread's shard, another, the main thread's again. */
	o.vals[0] = "m1";
	o.nvals = 1;
	farm_store_run(s, fn_append, &o);
	append_from_thread(s, "m2", NULL, NULL);
	o.vals[0] = "m3";
	farm_store_run(s, fn_append, &o);
	ok(peek_is(s, b, 4, "m1 m2 m3"), "m1 (a shard) m2 (another) m3 (the first again): in that order");
	farm_store_run(s, fn_drop, &dr);
	farm_outbox_batch_done(b);

	is_int(append_from_thread(s, "p1", NULL, NULL), FARM_OK, "p1, p2, p3 from three threads");
	append_from_thread(s, "p2", NULL, NULL);
	append_from_thread(s, "p3", NULL, NULL);
	ok(pop_is(s, "p1") && pop_is(s, "p2") && pop_is(s, "p3"), "  pop takes them in that order");
	free(b);
	farm_store_close(s);
	scratch_done();
}

/* A sweep with FARM_SCAN_COMMITTED keeps no lock on what it read: a writer of a
 * scanned record commits while the scanning transaction is still open.  Without
 * the flag (degree 3) the same writer waits for the scanner's commit. */
struct scan_wait {
	unsigned how;
	atomic_int *written;
	int saw_write;
	struct scan sc;
};

static int fn_scan_wait(struct farm_txn *t, void *arg)
{
	struct scan_wait *w = arg;
	int code, i;

	memset(&w->sc, 0, sizeof(w->sc));
	if ((code = farm_txn_scan(t, FARM_T_DEDUPE, NULL, w->how, scan_cb, &w->sc)) != FARM_OK)
		return code;
	/* Up to 5 s for the writer that should get through (valgrind is slow), 1 s for
	 * the one that should wait. */
	for (i = 0; i < ((w->how & FARM_SCAN_COMMITTED) ? 500 : 100) && !atomic_load(w->written); i++)
		usleep(10000);
	w->saw_write = atomic_load(w->written);
	return FARM_OK;
}

struct rewriter {
	struct farm_store *s;
	atomic_int done;
};

static void *rewriter_main(void *arg)
{
	struct rewriter *r = arg;

	usleep(50000); /* let the scan run first */
	put(r->s, FARM_T_DEDUPE, "k1", NULL, "new");
	atomic_store(&r->done, 1);
	return NULL;
}

static void test_scan_committed(void)
{
	char dir[4096];
	struct farm_store *s;
	struct scan_wait w = {0};
	struct rewriter r = {0};
	pthread_t th;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	put(s, FARM_T_DEDUPE, "k1", NULL, "old");
	put(s, FARM_T_DEDUPE, "k2", NULL, "old");
	for (int pass = 0; pass < 2; pass++) {
		r.s = s;
		atomic_init(&r.done, 0);
		w.how = FARM_SCAN_ALL | (pass == 0 ? FARM_SCAN_COMMITTED : 0);
		w.written = &r.done;
		th = thread_or_bail(rewriter_main, &r);
		is_int(farm_store_run(s, fn_scan_wait, &w), FARM_OK,
		       pass == 0 ? "a committed-read scan of a whole table" : "a degree-3 scan");
		pthread_join(th, NULL);
		is_int(w.sc.n, 2, "  read both records");
		if (pass == 0)
			ok(w.saw_write, "  a writer of a scanned record committed during the scan");
		else
			ok(!w.saw_write, "  (without the flag, the writer waited for the scan's commit)");
	}
	farm_store_close(s);
	scratch_done();
}

/* An outbox.db written before the shards (entries without a stamp): its entries are
 * the oldest and go first. */
static void test_outbox_legacy(void)
{
	char dir[4096];
	struct farm_store *s;
	DB_ENV *env = NULL;
	DB *db = NULL;
	db_recno_t recno = 0;
	DBT k, d;
	int rc;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	farm_store_close(s);
	rc = db_env_create(&env, 0);
	if (rc == 0)
		rc = env->open(env, dir, DB_CREATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
				   DB_INIT_TXN, 0600);
	if (rc == 0)
		rc = db_create(&db, env, 0);
	if (rc == 0)
		rc = db->set_flags(db, DB_CHKSUM | DB_RENUMBER);
	if (rc == 0)
		rc = db->open(db, NULL, "outbox.db", NULL, DB_RECNO, DB_AUTO_COMMIT, 0600);
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = &recno;
	k.ulen = sizeof(recno);
	k.flags = DB_DBT_USERMEM;
	d.data = "{\"old\":1}";
	d.size = 9;
	if (rc == 0)
		rc = db->put(db, NULL, &k, &d, DB_APPEND | DB_AUTO_COMMIT);
	if (db)
		db->close(db, 0);
	if (env)
		env->close(env, 0);
	is_int(rc, 0, "an entry written as before the shards (no stamp)");
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	is_int(append_from_thread(s, "new", NULL, NULL), FARM_OK, "a new entry after it");
	is_int(depth(s), 2, "depth counts both");
	ok(pop_is(s, "{\"old\":1}") && pop_is(s, "new"), "the old entry comes first, intact");
	farm_store_close(s);
	scratch_done();
}

struct seq {
	const char *name;
	uint64_t got;
	int reps;
};

static int fn_seq(struct farm_txn *t, void *arg)
{
	struct seq *q = arg;
	int i, code = FARM_OK;

	for (i = 0; i < (q->reps ? q->reps : 1) && code == FARM_OK; i++)
		code = farm_txn_next_seq(t, q->name, &q->got);
	return code;
}

static void test_next_seq(void)
{
	char dir[4096];
	struct farm_store *s;
	struct seq a = {.name = "event"}, b = {.name = "other"};

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER);
	is_int(farm_store_run(s, fn_seq, &a), FARM_OK, "next_seq on a new counter");
	is_int(a.got, 1, "  ... starts at 1");
	farm_store_run(s, fn_seq, &a);
	is_int(a.got, 2, "next_seq increments");
	a.reps = 3;
	farm_store_run(s, fn_seq, &a);
	is_int(a.got, 5, "  ... also several times in one transaction");
	farm_store_run(s, fn_seq, &b);
	is_int(b.got, 1, "counters with other names are independent");
	farm_store_close(s);

	s = open_or_bail(dir, 0);
	a.reps = 1;
	farm_store_run(s, fn_seq, &a);
	is_int(a.got, 6, "the counter survives close and reopen");
	farm_store_close(s);
	s = open_or_bail(dir, FARM_STORE_MASTER);
	farm_store_run(s, fn_seq, &a);
	is_int(a.got, 7, "  ... and recovery");
	{
		struct kv k = {.tab = FARM_T_META, .key = "event"};

		farm_store_run(s, fn_get, &k);
		ok(k.outlen == 8 && ((unsigned char *)k.out)[7] == 7 &&
			   ((unsigned char *)k.out)[0] == 0,
		   "the counter is stored as 8 bytes big-endian in META");
		free(k.out);
	}
	farm_store_close(s);
	scratch_done();
}

static void test_reopen_recovery(void)
{
	char dir[4096], key[32], val[32];
	struct farm_store *s;
	int i, good = 0;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "cred-%02d", i);
		snprintf(val, sizeof(val), "sealed-%d", i * 7);
		put(s, FARM_T_CREDS, key, i % 2 ? "acme" : NULL, val);
	}
	put(s, FARM_T_EVENTS, "e1", NULL, "{\"event\":1}");
	farm_store_close(s);

	s = open_or_bail(dir, FARM_STORE_MASTER);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "cred-%02d", i);
		snprintf(val, sizeof(val), "sealed-%d", i * 7);
		good += get_is(s, FARM_T_CREDS, key, val);
	}
	is_int(good, 20, "every committed record survives close and reopen with recovery");
	ok(get_is(s, FARM_T_EVENTS, "e1", "{\"event\":1}"), "  ... in every table");
	{
		struct scan_arg a;

		scan(s, FARM_T_CREDS, "acme", 0, &a);
		is_int(a.sc.n, 10, "  ... and the org index is intact");
	}
	farm_store_close(s);
	scratch_done();
}

/* The child writes inside a transaction (or, idle, after committing), tells the
 * parent, and waits to be killed. */
struct crash {
	int fd;
};

static int fn_crash_write(struct farm_txn *t, void *arg)
{
	struct crash *c = arg;

	if (farm_txn_put(t, FARM_T_CREDS, "uncommitted", 11, "acme", "dirty", 5, 0) != FARM_OK)
		_exit(3);
	if (farm_txn_put(t, FARM_T_CREDS, "committed", 9, "acme", "overwritten", 11, 0) !=
	    FARM_OK)
		_exit(4);
	if (farm_txn_outbox_append(t, "{}", 2) != FARM_OK)
		_exit(6);
	if (write(c->fd, "w", 1) != 1)
		_exit(5);
	for (;;)
		pause();
	return FARM_OK;
}

/* Forks a worker that opens the environment, then either sits idle after a commit
 * (`in_txn` 0) or dies inside fn_crash_write; kills it with SIGKILL once it is there. */
static int kill_worker(const char *dir, int in_txn)
{
	struct farm_store *child;
	struct crash c;
	int fds[2], status;
	char byte;
	pid_t pid;

	if (pipe(fds) != 0) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child = open_or_bail(dir, 0);
		c.fd = fds[1];
		if (in_txn)
			farm_store_run(child, fn_crash_write, &c);
		else if (put(child, FARM_T_CREDS, "idle", NULL, "worker") == FARM_OK &&
			 write(c.fd, "i", 1) == 1)
			for (;;)
				pause();
		_exit(2);
	}
	close(fds[1]);
	if (read(fds[0], &byte, 1) != 1)
		byte = 0;
	close(fds[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return byte && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void test_killed_idle_worker(void)
{
	char dir[4096];
	struct farm_store *s;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER);
	ok(kill_worker(dir, 0), "a worker with open databases, idle after a commit, is killed");
	is_int(farm_store_failchk(s), FARM_OK, "failchk cleans up after it without recovery");
	is_int(farm_store_failchk(s), FARM_OK, "  ... and a second failchk finds nothing");
	ok(get_is(s, FARM_T_CREDS, "idle", "worker"), "  ... the worker's commit is there");
	is_int(put(s, FARM_T_CREDS, "idle", NULL, "master"), FARM_OK,
	       "  ... and the environment stays writable");
	ok(kill_worker(dir, 0), "a second worker dies the same way");
	is_int(farm_store_failchk(s), FARM_OK, "  ... failchk is OK again");
	farm_store_close(s);
	scratch_done();
}

static void test_killed_writer(void)
{
	char dir[4096];
	struct farm_store *s;
	int code;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER);
	is_int(put(s, FARM_T_CREDS, "committed", "acme", "clean"), FARM_OK,
	       "master commits a record");
	ok(kill_worker(dir, 1),
	   "a worker is killed with SIGKILL inside a transaction with writes");

	code = farm_store_failchk(s);
	ok(code == FARM_OK || code == FARM_E_RECOVER, "failchk reports OK or RECOVER");
	diag("failchk after the killed writer: %d (%s)", code, farm_strerror(code));
	if (code == FARM_OK) {
		ok(get_is(s, FARM_T_CREDS, "committed", "clean"),
		   "  ... OK: the dead transaction was aborted and its locks freed");
		is_int(put(s, FARM_T_CREDS, "uncommitted", "acme", "mine"), FARM_OK,
		       "  ... the dead writer's keys are writable again");
		is_int(depth(s), 0, "  ... and its outbox append is gone");
		struct kv d = {.tab = FARM_T_CREDS, .key = "uncommitted"};
		farm_store_run(s, fn_del, &d);
	} else {
		is_int(farm_store_ping(s), FARM_E_RECOVER, "  ... RECOVER: ping agrees");
		ok(1, "  ... (the process must reopen with recovery)");
	}
	farm_store_close(s);

	s = open_or_bail(dir, FARM_STORE_MASTER);
	ok(get_is(s, FARM_T_CREDS, "committed", "clean"),
	   "after recovery the committed record is intact");
	is_int(get_code(s, FARM_T_CREDS, "uncommitted"), FARM_E_NOTFOUND,
	       "  ... and the killed worker's uncommitted write is absent");
	{
		struct scan_arg a;

		scan(s, FARM_T_CREDS, "acme", 0, &a);
		is_str(a.sc.keys, "committed", "  ... also from the org index");
	}
	is_int(farm_store_ping(s), FARM_OK, "  ... and the environment is healthy");
	farm_store_close(s);
	scratch_done();
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out, rc = 0;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (n < 0)
		rc = -1;
	close(in);
	close(out);
	return rc;
}

static void test_backup_verify(void)
{
	char dir[4096], bak[4200], bad[4200], from[8400], to[8400], key[32], val[64];
	struct farm_error err = {0};
	struct farm_store *s, *b;
	struct dirent *de;
	struct stat st;
	DIR *dp;
	int i, good = 0, fd, code;

	scratch_new(dir, sizeof(dir));
	snprintf(bak, sizeof(bak), "%s/backup", fixture_dir);
	snprintf(bad, sizeof(bad), "%s/corrupt", fixture_dir);
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "cred-%04d", i);
		snprintf(val, sizeof(val), "sealed-value-%d-padding-padding-padding", i);
		put(s, FARM_T_CREDS, key, i % 3 ? "acme" : "beta", val);
	}
	{
		struct ob o = {.vals = {"{\"id\":1}"}, .nvals = 1};

		farm_store_run(s, fn_append, &o);
	}
	code = farm_store_backup(s, bak, &err);
	is_int(code, FARM_OK, "hot backup of the live environment");
	if (code != FARM_OK)
		diag("backup: %s", err.msg);
	ok(stat(bak, &st) == 0 && (st.st_mode & 0077) == 0, "  ... into a private directory");
	ok(count_files(bak, "__db.") == 0, "  ... without region files");
	is_int(farm_store_backup(s, bak, &err), FARM_E_EXISTS,
	       "a backup into a non-empty directory is refused");
	is_int(put(s, FARM_T_CREDS, "after-backup", "acme", "later"), FARM_OK,
	       "the live environment keeps working");
	farm_store_close(s);

	code = farm_store_verify_dir(bak, &err);
	is_int(code, FARM_OK, "verify_dir accepts the backup");
	if (code != FARM_OK)
		diag("verify: %s", err.msg);

	/* A corrupted copy of the (stopped) backup. */
	mkdir(bad, 0700);
	dp = opendir(bak);
	while (dp && (de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(from, sizeof(from), "%s/%s", bak, de->d_name);
		snprintf(to, sizeof(to), "%s/%s", bad, de->d_name);
		copy_file(from, to);
	}
	if (dp)
		closedir(dp);
	snprintf(to, sizeof(to), "%s/creds.db", bad);
	fd = open(to, O_RDWR);
	ok(fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 3 * 4096,
	   "the copy's creds.db spans several pages");
	if (fd >= 0) {
		char junk[700];

		memset(junk, 0xA5, sizeof(junk));
		ok(pwrite(fd, junk, sizeof(junk), st.st_size / 2) == (ssize_t)sizeof(junk),
		   "bytes in the middle of creds.db are overwritten");
		close(fd);
	}
	memset(&err, 0, sizeof(err));
	code = farm_store_verify_dir(bad, &err);
	ok(code != FARM_OK, "verify_dir rejects the corrupted copy");
	ok(strstr(err.msg, "creds.db") != NULL, "  ... and names the damaged file");
	diag("verify of the corrupt copy: %s", err.msg);
	is_int(farm_store_verify_dir(fixture_dir, &err), FARM_E_NOTFOUND,
	       "verify_dir of a directory without databases is NOTFOUND");

	b = open_or_bail(bak, FARM_STORE_MASTER);
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "cred-%04d", i);
		snprintf(val, sizeof(val), "sealed-value-%d-padding-padding-padding", i);
		good += get_is(b, FARM_T_CREDS, key, val);
	}
	is_int(good, 300, "the backup holds every record");
	is_int(get_code(b, FARM_T_CREDS, "after-backup"), FARM_E_NOTFOUND,
	       "  ... and nothing written after it");
	{
		struct scan_arg a;

		scan(b, FARM_T_CREDS, "beta", 0, &a);
		is_int(a.sc.n, 100, "  ... with its org index");
	}
	is_int(depth(b), 1, "  ... and its outbox");
	farm_store_close(b);
	scratch_done();
}

static int fn_fill(struct farm_txn *t, void *arg)
{
	const char *val = arg;
	uint64_t id;
	unsigned char key[8];
	int i, code;

	if ((code = farm_txn_next_seq(t, "ev", &id)) != FARM_OK)
		return code;
	for (i = 0; i < 8; i++)
		key[i] = (unsigned char)(id >> (56 - 8 * i));
	return farm_txn_put(t, FARM_T_EVENTS, key, sizeof(key), NULL, val, strlen(val), 0);
}

static void test_checkpoint_logs(void)
{
	char dir[4096];
	struct farm_store *s;
	struct farm_store_stats st;
	char *val;
	int i, before, after;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC | FARM_STORE_SMALL_LOGS);
	val = malloc(8192 + 1);
	memset(val, 'e', 8192);
	val[8192] = '\0';
	for (i = 0; i < 100; i++)
		if (farm_store_run(s, fn_fill, val) != FARM_OK)
			break;
	is_int(i, 100, "100 transactions of 8 KiB written");
	free(val);
	before = count_files(dir, "log.");
	ok(before >= 4, "they fill several small log files");
	diag("log files before the checkpoint: %d", before);
	ok(farm_store_stats(s, &st) == FARM_OK && st.log_files == (uint64_t)before,
	   "stats count the log files");
	is_int(farm_store_checkpoint(s), FARM_OK, "checkpoint");
	after = count_files(dir, "log.");
	diag("log files after the checkpoint: %d", after);
	ok(after >= 1 && after < before, "  ... removes the log files no longer needed");
	farm_store_close(s);
	s = open_or_bail(dir, FARM_STORE_MASTER);
	{
		struct seq q = {.name = "ev"};

		farm_store_run(s, fn_seq, &q);
		is_int(q.got, 101, "the data is intact after log removal and recovery");
	}
	farm_store_close(s);
	scratch_done();
}

/* Read, then write, without DB_RMW: concurrent increments deadlock on the lock
 * upgrade, and farm_store_run must retry the victims. */
static int fn_increment(struct farm_txn *t, void *arg)
{
	void *v = NULL;
	size_t vlen = 0;
	unsigned long n = 0;
	char buf[32];
	int code;

	(void)arg;
	code = farm_txn_get(t, FARM_T_META, "counter", 7, &v, &vlen, 0);
	if (code == FARM_OK) {
		snprintf(buf, sizeof(buf), "%.*s", (int)vlen, (const char *)v);
		n = strtoul(buf, NULL, 10);
		free(v);
	} else if (code != FARM_E_NOTFOUND) {
		return code;
	}
	snprintf(buf, sizeof(buf), "%lu", n + 1);
	return farm_txn_put(t, FARM_T_META, "counter", 7, NULL, buf, strlen(buf), 0);
}

struct worker {
	struct farm_store *s;
	int failures;
	int last_error;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct seq q = {.name = "seq"};
	int i, code;

	for (i = 0; i < 200; i++) {
		if ((code = farm_store_run(w->s, fn_increment, NULL)) != FARM_OK) {
			w->failures++;
			w->last_error = code;
		}
		if ((code = farm_store_run(w->s, fn_seq, &q)) != FARM_OK) {
			w->failures++;
			w->last_error = code;
		}
	}
	return NULL;
}

/* Runs worker_main in n (<= 8) threads on one store; returns their failures. */
static int run_workers(struct farm_store *s, int n)
{
	struct worker w[8];
	pthread_t th[8];
	int i, failures = 0;

	for (i = 0; i < n; i++) {
		w[i] = (struct worker){.s = s};
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		failures += w[i].failures;
		if (w[i].failures)
			diag("thread %d: %d failures, last %s", i, w[i].failures,
			     farm_strerror(w[i].last_error));
	}
	return failures;
}

/* Two transactions read the same record, meet, then both write it: a certain
 * lock-upgrade deadlock.  The detector picks a victim, farm_store_run retries it. */
struct racer {
	struct farm_store *s;
	pthread_barrier_t *meet;
	int attempts;
	int result;
};

static int fn_racer_rw(struct farm_txn *t, void *arg)
{
	struct racer *r = arg;
	void *v = NULL;
	size_t vlen = 0;
	int code;

	if ((code = farm_txn_get(t, FARM_T_META, "race", 4, &v, &vlen, 0)) != FARM_OK)
		return code;
	free(v);
	if (r->attempts++ == 0)
		pthread_barrier_wait(r->meet); /* both now hold a read lock */
	return farm_txn_put(t, FARM_T_META, "race", 4, NULL, "w", 1, 0);
}

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	r->result = farm_store_run(r->s, fn_racer_rw, r);
	return NULL;
}

static void test_deadlock_retry(void)
{
	char dir[4096];
	struct farm_store *s;
	struct farm_store_stats st0, st1;
	pthread_barrier_t meet;
	struct racer r[2];
	pthread_t th[2];
	int i;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	put(s, FARM_T_META, "race", NULL, "r");
	farm_store_stats(s, &st0);
	pthread_barrier_init(&meet, NULL, 2);
	for (i = 0; i < 2; i++) {
		r[i] = (struct racer){.s = s, .meet = &meet};
		pthread_create(&th[i], NULL, racer_main, &r[i]);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&meet);
	ok(r[0].result == FARM_OK && r[1].result == FARM_OK,
	   "two transactions upgrading the same read lock both commit");
	ok(r[0].attempts + r[1].attempts >= 3, "  ... one of them ran again after losing");
	ok(farm_store_stats(s, &st1) == FARM_OK && st1.deadlocks > st0.deadlocks,
	   "  ... the detector resolved a deadlock");
	ok(st1.txn_aborts > st0.txn_aborts, "  ... by aborting the victim");
	farm_store_close(s);
	scratch_done();
}

static void test_concurrency(void)
{
	char dir[4096];
	struct farm_store *s;
	struct farm_store_stats st;
	struct seq q = {.name = "seq"};
	int code;
	char *v;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC);
	is_int(run_workers(s, 4), 0, "4 threads x 200 transactions all commit");
	v = get(s, FARM_T_META, "counter", &code);
	is_str(v, "800", "the read-then-write counter reached 800 (no lost update)");
	free(v);
	farm_store_run(s, fn_seq, &q);
	is_int(q.got, 801, "next_seq handed out 800 values, then 801");
	ok(farm_store_stats(s, &st) == FARM_OK, "stats");
	diag("deadlocks resolved: %llu, commits %llu, aborts %llu",
	     (unsigned long long)st.deadlocks, (unsigned long long)st.txn_commits,
	     (unsigned long long)st.txn_aborts);
	ok(st.txn_commits >= 1601, "every transaction's commit is counted");
	farm_store_close(s);
	scratch_done();
}

/* Synchronous commits from 4 threads: every one returns (a thread waiting for another's
 * flush is woken), nothing is lost, and the threads share log flushes. */
static void test_group_commit(void)
{
	char dir[4096];
	struct farm_store *s;
	struct farm_store_stats st0, st;
	int code;
	char *v;

	scratch_new(dir, sizeof(dir));
	s = open_or_bail(dir, FARM_STORE_MASTER);
	ok(farm_store_stats(s, &st0) == FARM_OK, "group commit: stats before");
	is_int(run_workers(s, 4), 0, "  4 threads x 400 synchronous transactions all return FARM_OK");
	v = get(s, FARM_T_META, "counter", &code);
	is_str(v, "800", "  the counter reached 800");
	free(v);
	ok(farm_store_stats(s, &st) == FARM_OK, "  stats after");
	diag("commits %llu, log flushes %llu",
	     (unsigned long long)(st.txn_commits - st0.txn_commits),
	     (unsigned long long)(st.log_flushes - st0.log_flushes));
	ok(st.log_flushes - st0.log_flushes < st.txn_commits - st0.txn_commits,
	   "  fewer log flushes than commits: concurrent commits shared them");
	farm_store_close(s);
	scratch_done();
}

int main(void)
{
	alarm(600); /* a hung lock must fail the test, not the suite */
	test_open_close();
	test_put_get_del();
	test_noover_and_abort();
	test_org_scan();
	test_outbox();
	test_outbox_peek_drop();
	test_outbox_legacy();
	test_scan_committed();
	test_next_seq();
	test_reopen_recovery();
	test_killed_idle_worker();
	test_killed_writer();
	test_backup_verify();
	test_checkpoint_logs();
	test_deadlock_retry();
	test_concurrency();
	test_group_commit();
	return done_testing();
}
