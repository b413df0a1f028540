/* test-board.c - lib/events/board: rows on a real store (latest wins, orgs apart, the
 * platform filter, events without a row), cctray's words and escaping, the generation. */
#include "board.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "json.h"
#include "store-fixture.h"
#include "tap.h"

#include "banned.h"

struct put_arg {
	const char *json;
	uint64_t id;
};

static int put_txn(struct farm_txn *t, void *arg)
{
	struct put_arg *a = arg;
	json_t *data = json_loads(a->json, 0, NULL);
	int rc = data ? farm_board_put(t, data, a->id) : FARM_E_INVAL;

	json_decref(data);
	return rc;
}

static int put(struct farm_store *s, const char *json, uint64_t id)
{
	struct put_arg a = {json, id};

	return farm_store_run(s, put_txn, &a);
}

struct list_arg {
	const char *org, *platform;
	json_t *items;
};

static int list_txn(struct farm_txn *t, void *arg)
{
	struct list_arg *a = arg;

	json_array_clear(a->items);
	return farm_board_list(t, a->org, a->platform, a->items);
}

/* The rows of org/platform as "provider:project#eventId" joined by spaces. */
static char *list(struct farm_store *s, const char *org, const char *platform, json_t **rows)
{
	static char out[1024];
	struct list_arg a = {org, platform, json_array()};
	size_t i, n = 0;
	json_t *r;

	out[0] = '\0';
	if (farm_store_run(s, list_txn, &a) != FARM_OK) {
		json_decref(a.items);
		return "(error)";
	}
	json_array_foreach(a.items, i, r)
	{
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%s#%lld", i ? " " : "",
				      json_string_value(json_object_get(r, "provider")),
				      json_string_value(json_object_get(r, "project")),
				      (long long)json_integer_value(json_object_get(r, "eventId")));
	}
	if (rows)
		*rows = a.items;
	else
		json_decref(a.items);
	return out;
}

static void test_rows(void)
{
	struct farm_store *s = NULL;
	json_t *rows = NULL, *r;

	if (!fixture_store(&s, "env", "store opens"))
		return;
	ok(put(s,
	       "{\"id\":1,\"provider\":\"circleci\",\"orgId\":\"a\",\"project\":\"web\","
	       "\"status\":\"success\",\"receivedAt\":\"x\"}",
	       1) == FARM_OK,
	   "put");
	ok(put(s,
	       "{\"id\":2,\"provider\":\"circleci\",\"orgId\":\"a\",\"project\":\"api\","
	       "\"status\":\"running\"}",
	       2) == FARM_OK,
	   "put another project");
	ok(put(s,
	       "{\"id\":3,\"provider\":\"jenkins\",\"orgId\":\"a\",\"project\":\"api\","
	       "\"status\":\"failed\"}",
	       3) == FARM_OK,
	   "the same project on another platform");
	ok(put(s, "{\"id\":4,\"provider\":\"circleci\",\"orgId\":\"b\",\"project\":\"api\"}", 4) ==
	       FARM_OK,
	   "another org");
	ok(put(s, "{\"id\":5,\"provider\":\"circleci\",\"orgId\":null,\"project\":\"api\"}", 5) ==
	       FARM_OK,
	   "org-less");
	ok(put(s,
	       "{\"id\":6,\"provider\":\"circleci\",\"orgId\":\"a\",\"project\":\"api\","
	       "\"status\":\"success\"}",
	       6) == FARM_OK,
	   "a newer run of a project");
	ok(put(s, "{\"id\":7,\"provider\":\"circleci\",\"orgId\":\"a\",\"project\":null}", 7) ==
	       FARM_OK,
	   "an event without a project is no error");
	ok(put(s, "{\"id\":8,\"provider\":\"circleci\",\"orgId\":\"\",\"project\":\"api\"}", 8) ==
	       FARM_OK,
	   "an empty org name is no error (and no row)");

	is_str(list(s, "a", NULL, &rows), "circleci:api#6 circleci:web#1 jenkins:api#3",
	       "org a: one row per (platform, project), the latest wins, in board order");
	r = json_array_get(rows, 1);
	ok(r && !json_object_get(r, "id") && !json_object_get(r, "receivedAt"),
	   "a row has neither id nor receivedAt");
	is_str(json_string_value(json_object_get(r, "status")), "success", "the row keeps the run");
	json_decref(rows);
	is_str(list(s, "b", NULL, NULL), "circleci:api#4", "org b sees its own");
	is_str(list(s, NULL, NULL, NULL), "circleci:api#5", "the org-less scope is apart");
	is_str(list(s, "a", "jenkins", NULL), "jenkins:api#3", "the platform filter");
	is_str(list(s, "a", "jenk", NULL), "", "a prefix of a platform matches nothing");
	is_str(list(s, "c", NULL, NULL), "", "an org without runs has an empty board");
	farm_store_close(s);
}

/* Stores an event in the history as farm-eventd does (the sequence advanced). */
static int hist_txn(struct farm_txn *t, void *arg)
{
	const char *proj = arg;
	unsigned char key[8];
	char json[256];
	uint64_t id;
	int rc;

	if ((rc = farm_txn_next_seq(t, FARM_EVENTS_SEQ, &id)) != FARM_OK)
		return rc;
	snprintf(json, sizeof(json),
		 "{\"event\":\"ci.build.updated\",\"data\":{\"id\":%llu,\"provider\":\"circleci\","
		 "\"orgId\":\"h\",\"project\":\"%s\",\"receivedAt\":\"x\"}}",
		 (unsigned long long)id, proj);
	farm_events_key(id, key);
	return farm_txn_put(t, FARM_T_EVENTS, key, 8, NULL, json, strlen(json), 0);
}

struct fill {
	size_t per, put, calls;
	int more;
};

static int fill_txn(struct farm_txn *t, void *arg)
{
	struct fill *f = arg;
	size_t put = 0;
	int rc = farm_board_backfill(t, f->per, &f->more, &put);

	f->put += put;
	return rc;
}

static int fill(struct farm_store *s, struct fill *f)
{
	int rc;

	f->put = f->calls = 0;
	do {
		f->calls++;
		rc = farm_store_run(s, fill_txn, f);
	} while (rc == FARM_OK && f->more && f->calls < 100);
	return rc;
}

static void test_backfill(void)
{
	struct farm_store *s = NULL;
	struct fill f = {2, 0, 0, 0};

	if (!fixture_store(&s, "old", "a second store opens"))
		return;
	ok(farm_store_run(s, hist_txn, "x") == FARM_OK &&
	       farm_store_run(s, hist_txn, "y") == FARM_OK &&
	       farm_store_run(s, hist_txn, "x") == FARM_OK &&
	       farm_store_run(s, hist_txn, "z") == FARM_OK &&
	       farm_store_run(s, hist_txn, "x") == FARM_OK,
	   "a history of five events and no board (an environment from before the board)");
	is_str(list(s, "h", NULL, NULL), "", "the board is empty");
	ok(fill(s, &f) == FARM_OK, "backfill");
	is_int((int)f.put, 5, "every retained event was put");
	is_int((int)f.calls, 3, "two ids per transaction: three transactions");
	is_str(list(s, "h", NULL, NULL), "circleci:x#5 circleci:y#2 circleci:z#4",
	       "the board is what the drain would have made");
	ok(farm_store_run(s, hist_txn, "w") == FARM_OK, "a sixth event (numbered without a row)");
	ok(fill(s, &f) == FARM_OK && f.put == 0 && f.calls == 1, "a second backfill does nothing");
	is_str(list(s, "h", NULL, NULL), "circleci:x#5 circleci:y#2 circleci:z#4",
	       "(so the drain alone writes rows from then on)");
	farm_store_close(s);

	if (!fixture_store(&s, "new", "a new store opens"))
		return;
	ok(fill(s, &f) == FARM_OK && f.put == 0 && f.calls == 1 && !f.more,
	   "a new environment: one call, nothing to fill");
	ok(farm_store_run(s, hist_txn, "x") == FARM_OK && fill(s, &f) == FARM_OK && f.put == 0,
	   "and it is done for good");
	farm_store_close(s);
}

static void test_cctray(void)
{
	json_t *rows = json_loads(
	    "[{\"provider\":\"circleci\",\"project\":\"a&b<\\\"c\\\">'d\",\"status\":\"failed\","
	    "\"number\":12,\"buildId\":\"x\",\"finishedAt\":\"2025-01-01T10:00:00.000Z\","
	    "\"url\":\"https://x/?a=1&b=2\"},"
	    "{\"provider\":\"jenkins\",\"project\":\"tab\\there\\u0001\",\"status\":\"running\","
	    "\"number\":null,\"buildId\":\"job#3\",\"startedAt\":\"2025-01-01T09:00:00.000Z\","
	    "\"finishedAt\":null,\"url\":null}]",
	    0, NULL);
	char *xml = NULL;
	size_t len = 0;

	is_str(farm_board_cctray_status("success"), "Success", "success");
	is_str(farm_board_cctray_status("failed"), "Failure", "failed");
	is_str(farm_board_cctray_status("unstable"), "Failure", "unstable");
	is_str(farm_board_cctray_status("error"), "Exception", "error");
	is_str(farm_board_cctray_status("canceled"), "Unknown", "canceled");
	is_str(farm_board_cctray_status("running"), "Unknown", "running: no finished build kept");
	is_str(farm_board_cctray_status(NULL), "Unknown", "none");
	is_str(farm_board_cctray_activity("queued"), "Building", "queued builds");
	is_str(farm_board_cctray_activity("running"), "Building", "running builds");
	is_str(farm_board_cctray_activity("failed"), "Sleeping", "finished sleeps");
	ok(farm_board_cctray(rows, &xml, &len) == FARM_OK && xml && strlen(xml) == len, "renders");
	ok(xml && strstr(xml,
			 "<Project name=\"circleci:a&amp;b&lt;&quot;c&quot;&gt;&apos;d\" "
			 "activity=\"Sleeping\" lastBuildStatus=\"Failure\" lastBuildLabel=\"12\" "
			 "lastBuildTime=\"2025-01-01T10:00:00.000Z\" "
			 "webUrl=\"https://x/?a=1&amp;b=2\"/>"),
	   "escaped attributes; the label is the number");
	ok(xml && strstr(xml,
			 "<Project name=\"jenkins:tab&#9;here\xEF\xBF\xBD\" activity=\"Building\" "
			 "lastBuildStatus=\"Unknown\" lastBuildLabel=\"job#3\" "
			 "lastBuildTime=\"2025-01-01T09:00:00.000Z\"/>"),
	   "tab as a reference, a control character replaced; label buildId, time startedAt, "
	   "no webUrl");
	free(xml);
	json_decref(rows);
}

static void test_gen(void)
{
	struct farm_board_gen *w = NULL, *r = NULL;
	uint64_t g0;

	ok(farm_board_gen_open(fixture_dir, &w) == FARM_OK &&
	       farm_board_gen_open(fixture_dir, &r) == FARM_OK,
	   "two mappings of the generation");
	g0 = farm_board_gen_read(r);
	farm_board_gen_bump(w);
	is_int((int)(farm_board_gen_read(r) - g0), 1, "a bump is seen through the other mapping");
	is_int((int)farm_board_gen_read(NULL), 0, "NULL reads 0");
	farm_board_gen_bump(NULL);
	farm_board_gen_close(w);
	farm_board_gen_close(r);
	farm_board_gen_close(NULL);
}

int main(void)
{
	farm_json_init();
	if (fixture_init("board"))
		return 1;
	test_rows();
	test_backfill();
	test_cctray();
	test_gen();
	fixture_cleanup();
	return done_testing();
}
