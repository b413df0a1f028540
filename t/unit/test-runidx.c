/* test-runidx.c - lib/events/runidx on a real store: a run updated moves to the front,
 * every filter's walk, orgs apart, limit, rows older than the history skipped, prune
 * removes runs whose latest event is gone, events without a run. */
#include "runidx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "events.h"
#include "json.h"
#include "store-fixture.h"
#include "tap.h"

#include "banned.h"

struct put_arg {
	const char *event, *json;
	uint64_t id;
};

static int put_txn(struct farm_txn *t, void *arg)
{
	struct put_arg *a = arg;
	json_t *data = json_loads(a->json, 0, NULL);
	int rc = data ? farm_runidx_put(t, a->event, data, a->id) : FARM_E_INVAL;

	json_decref(data);
	return rc;
}

/* PUT(id, provider, buildId, project, org) */
static int put(struct farm_store *s, uint64_t id, const char *prov, const char *bid,
	       const char *proj, const char *org)
{
	char json[512];
	struct put_arg a = {FARM_EVENT_BUILD_UPDATED, json, id};

	snprintf(json, sizeof(json),
		 "{\"id\":%llu,\"provider\":\"%s\",\"buildId\":\"%s\",\"project\":\"%s\","
		 "\"orgId\":%s%s%s,\"receivedAt\":\"x\"}",
		 (unsigned long long)id, prov, bid, proj, org ? "\"" : "", org ? org : "null",
		 org ? "\"" : "");
	return farm_store_run(s, put_txn, &a);
}

struct list_arg {
	const char *org, *platform, *project;
	uint64_t first;
	size_t limit;
	json_t *runs;
};

static int list_txn(struct farm_txn *t, void *arg)
{
	struct list_arg *a = arg;

	json_array_clear(a->runs);
	return farm_runidx_list(t, a->org, a->platform, a->project, a->first, a->limit, NULL,
				a->runs);
}

/* "buildId@eventId ..." */
static const char *list(struct farm_store *s, const char *org, const char *platform,
			const char *project, uint64_t first, size_t limit)
{
	static char out[1024];
	struct list_arg a = {org, platform, project, first, limit, json_array()};
	size_t i, n = 0;
	json_t *r;

	out[0] = '\0';
	if (farm_store_run(s, list_txn, &a) != FARM_OK) {
		json_decref(a.runs);
		return "(error)";
	}
	json_array_foreach(a.runs, i, r)
	{
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s@%lld", i ? " " : "",
				      json_string_value(json_object_get(r, "buildId")),
				      (long long)json_integer_value(json_object_get(r, "eventId")));
		if (json_object_get(r, "id") || json_object_get(r, "receivedAt"))
			n += (size_t)snprintf(out + n, sizeof(out) - n, "(id!)");
	}
	json_decref(a.runs);
	return out;
}

static uint64_t prune_first;

static int prune_txn(struct farm_txn *t, void *arg)
{
	(void)arg;
	return farm_runidx_prune(t, prune_first, 1024);
}

static void test_index(void)
{
	struct farm_store *s = NULL;
	struct put_arg other = {"ci.deploy.updated", "{\"provider\":\"x\",\"buildId\":\"z\"}", 20};

	if (!fixture_store(&s, "env", "store opens"))
		return;
	ok(put(s, 1, "jenkins", "app#1", "app", "a") == FARM_OK, "put");
	ok(put(s, 2, "jenkins", "lib#1", "lib", "a") == FARM_OK, "put another run");
	ok(put(s, 3, "circleci", "w1", "app", "a") == FARM_OK, "another platform");
	ok(put(s, 4, "jenkins", "app#1", "app", "b") == FARM_OK, "the same run id in another org");
	ok(put(s, 5, "jenkins", "shared#1", "shared", NULL) == FARM_OK, "a run of no org");
	is_str(list(s, "a", NULL, NULL, 1, 20), "w1@3 lib#1@2 app#1@1", "newest first, without id and receivedAt");
	ok(put(s, 6, "jenkins", "app#1", "app", "a") == FARM_OK, "the run updated");
	is_str(list(s, "a", NULL, NULL, 1, 20), "app#1@6 w1@3 lib#1@2", "moves to the front, once");
	is_str(list(s, "a", "jenkins", NULL, 1, 20), "app#1@6 lib#1@2", "platform=");
	is_str(list(s, "a", NULL, "app", 1, 20), "app#1@6 w1@3", "project=");
	is_str(list(s, "a", "jenkins", "app", 1, 20), "app#1@6", "both");
	is_str(list(s, "a", "jenkin", NULL, 1, 20), "", "a platform's prefix matches nothing");
	is_str(list(s, "a", NULL, "ap", 1, 20), "", "a project's prefix matches nothing");
	is_str(list(s, "a", NULL, NULL, 1, 2), "app#1@6 w1@3", "limit");
	is_str(list(s, "b", NULL, NULL, 1, 20), "app#1@4", "orgs apart");
	is_str(list(s, NULL, NULL, NULL, 1, 20), "shared#1@5", "the org-less scope");
	is_str(list(s, "c", NULL, NULL, 1, 20), "", "an org with no runs");
	is_str(list(s, "a", NULL, NULL, 3, 20), "app#1@6 w1@3", "rows older than the history are skipped");
	ok(farm_store_run(s, put_txn, &other) == FARM_OK, "another event kind: no row, no error");
	is_str(list(s, NULL, "x", NULL, 1, 20), "", "not indexed");
	prune_first = 4;
	ok(farm_store_run(s, prune_txn, NULL) == FARM_OK, "prune below 4");
	is_str(list(s, "a", NULL, NULL, 1, 20), "app#1@6", "runs whose latest event is gone are gone");
	is_str(list(s, "b", NULL, NULL, 1, 20), "app#1@4", "the others stay");
	is_str(list(s, "a", NULL, "lib", 1, 20), "", "from every order");
	ok(put(s, 7, "jenkins", "lib#1", "lib", "a") == FARM_OK, "a pruned run comes back with a new event");
	is_str(list(s, "a", NULL, NULL, 1, 20), "lib#1@7 app#1@6", "at the front");
	farm_store_close(s);
}

static int hist_txn(struct farm_txn *t, void *arg)
{
	static const char *const ev[] = {
		"{\"event\":\"ci.build.updated\",\"data\":{\"id\":1,\"provider\":\"jenkins\","
		"\"buildId\":\"a#1\",\"project\":\"a\",\"orgId\":\"o\",\"status\":\"running\"}}",
		"{\"event\":\"ci.build.updated\",\"data\":{\"id\":2,\"provider\":\"jenkins\","
		"\"buildId\":\"b#1\",\"project\":\"b\",\"orgId\":\"o\"}}",
		"{\"event\":\"ci.build.updated\",\"data\":{\"id\":3,\"provider\":\"jenkins\","
		"\"buildId\":\"a#1\",\"project\":\"a\",\"orgId\":\"o\",\"status\":\"success\"}}",
	};
	unsigned char key[8];
	int rc = FARM_OK;

	(void)arg;
	for (uint64_t id = 1, seq = 0; id <= 3 && rc == FARM_OK; id++) {
		if ((rc = farm_txn_next_seq(t, FARM_EVENTS_SEQ, &seq)) != FARM_OK || seq != id)
			return rc != FARM_OK ? rc : FARM_E_DB;
		farm_events_key(id, key);
		rc = farm_txn_put(t, FARM_T_EVENTS, key, sizeof(key), NULL, ev[id - 1],
				  strlen(ev[id - 1]), 0);
	}
	return rc;
}

struct fill {
	int more;
	size_t put;
};

static int fill_txn(struct farm_txn *t, void *arg)
{
	struct fill *f = arg;

	return farm_runidx_backfill(t, 2, &f->more, &f->put);
}

static void test_backfill(void)
{
	struct farm_store *s = NULL;
	struct fill f = {0, 0};

	if (!fixture_store(&s, "fill", "store opens"))
		return;
	ok(farm_store_run(s, hist_txn, NULL) == FARM_OK, "a history without an index");
	ok(farm_store_run(s, fill_txn, &f) == FARM_OK && f.more && f.put == 2, "backfill: 2 of 3");
	ok(farm_store_run(s, fill_txn, &f) == FARM_OK && !f.more && f.put == 1, "backfill: the rest");
	is_str(list(s, "o", NULL, NULL, 1, 20), "a#1@3 b#1@2", "the reduction of the history");
	ok(farm_store_run(s, fill_txn, &f) == FARM_OK && !f.more && f.put == 0, "then nothing to do");
	farm_store_close(s);
}

int main(void)
{
	farm_json_init();
	if (fixture_init("runidx"))
		return 1;
	test_index();
	test_backfill();
	fixture_cleanup();
	return done_testing();
}
