/* test-watch.c - lib/platform/watch: one observation per (platform, org, run) on a
 * real store (an event only on a change of the normalised status, whoever observes),
 * watches started by unfinished runs and ended by final ones, listed, updated, dropped. */
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "store.h"
#include "store-fixture.h"
#include "tap.h"

#include "banned.h"

struct obs_arg {
	const char *org, *cred, *run, *status;
	int emitted;
};

static int obs_txn(struct farm_txn *t, void *arg)
{
	struct obs_arg *a = arg;
	json_t *f = json_pack("{s:s,s:s,s:s}", "provider", "codefresh", "buildId", a->run,
			      "status", a->status);
	int rc = f ? farm_watch_observe(t, "codefresh", a->org, a->cred, f,
					"2025-01-01T10:00:00.000Z", 1000, &a->emitted)
		   : FARM_E_NOMEM;

	json_decref(f);
	return rc;
}

/* Observes; returns emitted (0/1), or -1 on an error. */
static int observe(struct farm_store *s, const char *org, const char *cred, const char *run,
		   const char *status)
{
	struct obs_arg a = {org, cred, run, status, 0};

	return farm_store_run(s, obs_txn, &a) == FARM_OK ? a.emitted : -1;
}

struct list_arg {
	json_t *list;
};

static int list_txn(struct farm_txn *t, void *arg)
{
	struct list_arg *a = arg;

	json_decref(a->list);
	a->list = NULL;
	return farm_watch_list(t, 100, &a->list);
}

/* The watched runs as "org:run" joined by spaces. */
static const char *watched(struct farm_store *s, json_t **list)
{
	static char out[512];
	struct list_arg a = {NULL};
	size_t i, n = 0;
	json_t *w;

	out[0] = '\0';
	if (farm_store_run(s, list_txn, &a) != FARM_OK)
		return "(error)";
	json_array_foreach(a.list, i, w)
	{
		const char *org = json_string_value(json_object_get(w, "org"));
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%s", i ? " " : "",
				      org ? org : "-",
				      json_string_value(json_object_get(w, "run")));
	}
	if (list)
		*list = a.list;
	else
		json_decref(a.list);
	return out;
}

struct add_arg {
	const char *org, *run;
};

static int add_txn(struct farm_txn *t, void *arg)
{
	struct add_arg *a = arg;

	return farm_watch_add(t, "codefresh", a->org, "cred-1", a->run, 5000);
}

static int put_txn(struct farm_txn *t, void *arg)
{
	return farm_watch_put(t, arg);
}

static int drop_txn(struct farm_txn *t, void *arg)
{
	return farm_watch_drop(t, arg);
}

int main(void)
{
	struct farm_store *s = NULL;
	struct add_arg add = {"a", "r3"}, bad = {"a", "r\n4"};
	json_t *list = NULL;

	farm_json_init();
	if (fixture_init("watch"))
		return 1;
	if (!fixture_store(&s, "env", "store opens"))
		return done_testing();

	ok(farm_watch_final("success") && farm_watch_final("canceled") &&
		   !farm_watch_final("running") && !farm_watch_final("queued") &&
		   !farm_watch_final("unknown") && !farm_watch_final(NULL),
	   "final statuses");
	is_int(observe(s, "a", "cred-1", "r1", "queued"), 1, "a first observation is an event");
	is_int(observe(s, "a", "cred-1", "r1", "queued"), 0, "the same status again is none");
	is_int(observe(s, "a", "cred-2", "r1", "queued"), 0,
	       "... also seen with another credential of the org");
	is_int(observe(s, "b", "cred-9", "r1", "queued"), 1, "another org has its own");
	is_int(observe(s, NULL, "cred-0", "r1", "queued"), 1, "... and the org-less scope too");
	is_str(watched(s, NULL), "-:r1 a:r1 b:r1", "unfinished runs are watched, one per org");
	is_int(observe(s, "a", "cred-1", "r1", "running"), 1, "a change is an event");
	is_int(observe(s, "a", "cred-1", "r1", "success"), 1, "the end is an event");
	is_str(watched(s, NULL), "-:r1 b:r1", "... and ends the org's watch");
	is_int(observe(s, "a", "cred-1", "r1", "success"), 0, "a late delivery of it is none");
	is_str(watched(s, NULL), "-:r1 b:r1", "... and watches nothing again");
	is_int(observe(s, "a", "cred-1", "r\n2", "queued"), -1, "a run id with a control character");

	ok(farm_store_run(s, add_txn, &add) == FARM_OK, "watch a triggered run");
	ok(farm_store_run(s, add_txn, &add) == FARM_OK, "... twice is once");
	ok(farm_store_run(s, add_txn, &bad) == FARM_E_INVAL, "a bad run id is refused");
	is_str(watched(s, &list), "-:r1 a:r3 b:r1", "listed");
	{
		json_t *w = json_array_get(list, 1);
		is_int(json_integer_value(json_object_get(w, "since")), 5000, "since is kept");
		json_object_set_new(w, "next", json_integer(99999));
		json_object_set_new(w, "fails", json_integer(2));
		ok(farm_store_run(s, put_txn, w) == FARM_OK, "a watch is updated");
		json_decref(list);
		list = NULL;
		watched(s, &list);
		w = json_array_get(list, 1);
		ok(json_integer_value(json_object_get(w, "next")) == 99999 &&
			   json_integer_value(json_object_get(w, "fails")) == 2 &&
			   !strcmp(json_string_value(json_object_get(w, "cred")), "cred-1"),
		   "... next, fails and its credential read back");
		ok(farm_store_run(s, drop_txn, w) == FARM_OK, "a watch is dropped");
		ok(farm_store_run(s, put_txn, w) == FARM_OK, "... a put after it writes nothing");
	}
	json_decref(list);
	is_str(watched(s, NULL), "-:r1 b:r1", "dropped for good");

	farm_store_close(s);
	fixture_cleanup();
	return done_testing();
}
