/* test-audit.c - audit records (lib/audit): written in the caller's transaction or
 * their own, pages newest first per org with `before`, the outcome update, the
 * all-orgs walk, and the retention sweep (oldest first, bounded). */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "store-fixture.h"
#include "tap.h"

#include "banned.h"

/* Each test on a fresh store, removed after it. */
static struct farm_store *fresh_store(void)
{
	struct farm_store *s = NULL;

	if (fixture_init("audit") || !fixture_store(&s, "env", "a fresh store opens"))
		exit(1);
	return s;
}

static void store_done(struct farm_store *s)
{
	farm_store_close(s);
	fixture_cleanup();
}

static uint64_t add(struct farm_store *s, const char *org, const char *action, const char *status)
{
	struct farm_audit a = {"alice", org, action, "jenkins", "job", NULL, status, "0123456789abcdef"};
	uint64_t id = 0;

	if (farm_audit_add(s, &a, &id) != FARM_OK)
		printf("# add failed\n");
	return id;
}

/* "id,id,..." of a page. */
static const char *ids(json_t *page, char *buf, size_t cap)
{
	size_t i, len = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(page, i, v)
	{
		int n = snprintf(buf + len, cap - len, "%s%lld", i ? "," : "",
				 (long long)json_integer_value(json_object_get(v, "id")));
		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	return buf;
}

static void test_pages(void)
{
	struct farm_store *s = fresh_store();
	json_t *page = NULL;
	uint64_t next = 0;
	char buf[256];

	/* ids 1..9: a, b, a, b, ... and one of the no-org scope */
	for (int i = 1; i <= 8; i++)
		add(s, i % 2 ? "org-a" : "org-b", "trigger", NULL);
	add(s, NULL, "sync", NULL);

	is_int(farm_audit_page(s, "org-a", 0, 10, &page, &next), FARM_OK, "page of org-a");
	is_str(ids(page, buf, sizeof(buf)), "7,5,3,1", "newest first, only org-a");
	is_int(next, 0, "the whole org fits: no next page");
	json_decref(page);

	is_int(farm_audit_page(s, "org-a", 0, 2, &page, &next), FARM_OK, "first page of 2");
	is_str(ids(page, buf, sizeof(buf)), "7,5", "first page");
	is_int(next, 5, "next = the last id of the page");
	json_decref(page);
	is_int(farm_audit_page(s, "org-a", next, 2, &page, &next), FARM_OK, "second page");
	is_str(ids(page, buf, sizeof(buf)), "3,1", "second page");
	is_int(next, 0, "oldest reached");
	json_decref(page);

	is_int(farm_audit_page(s, "org-b", 7, 10, &page, &next), FARM_OK, "before= an id of another org");
	is_str(ids(page, buf, sizeof(buf)), "6,4,2", "records below 7 of org-b");
	json_decref(page);
	is_int(farm_audit_page(s, "org-b", 1000, 10, &page, &next), FARM_OK, "before beyond the newest");
	is_str(ids(page, buf, sizeof(buf)), "8,6,4,2", "every record of org-b");
	json_decref(page);
	is_int(farm_audit_page(s, "org-b", 2, 10, &page, &next), FARM_OK, "before= the oldest");
	is_int(json_array_size(page), 0, "nothing below the oldest");
	json_decref(page);
	is_int(farm_audit_page(s, "org-c", 0, 10, &page, &next), FARM_OK, "unknown org");
	is_int(json_array_size(page), 0, "an org without records: empty");
	json_decref(page);
	is_int(farm_audit_page(s, NULL, 0, 10, &page, &next), FARM_OK, "no-org scope");
	is_str(ids(page, buf, sizeof(buf)), "9", "only the org-less record");
	json_decref(page);
	is_int(farm_audit_page_all(s, 9, 3, &page, &next), FARM_OK, "every org");
	is_str(ids(page, buf, sizeof(buf)), "8,7,6", "every org, newest first below 9");
	is_int(next, 6, "next of the all-orgs page");
	json_decref(page);
	is_int(farm_audit_page(s, "org-a", 0, 0, &page, &next), FARM_E_INVAL, "limit 0 refused");
	is_int(farm_audit_page(s, "org-a", 0, FARM_AUDIT_LIMIT_MAX + 1, &page, &next), FARM_E_INVAL,
	       "limit over the maximum refused");
	store_done(s);
}

static void test_fields_and_finish(void)
{
	struct farm_store *s = fresh_store();
	json_t *page = NULL, *r;
	uint64_t next, id = add(s, "org-a", "trigger", NULL);

	is_int(farm_audit_page(s, "org-a", 0, 10, &page, &next), FARM_OK, "read back");
	r = json_array_get(page, 0);
	is_str(json_string_value(json_object_get(r, "status")), "pending", "own write: pending");
	is_str(json_string_value(json_object_get(r, "sub")), "alice", "sub");
	is_str(json_string_value(json_object_get(r, "orgId")), "org-a", "orgId");
	is_str(json_string_value(json_object_get(r, "platform")), "jenkins", "platform");
	is_str(json_string_value(json_object_get(r, "target")), "job", "target");
	ok(json_is_null(json_object_get(r, "credentialId")), "credentialId null when not given");
	is_str(json_string_value(json_object_get(r, "requestId")), "0123456789abcdef", "requestId");
	is_int(strlen(json_string_value(json_object_get(r, "at"))), FARM_CLOCK_ISO_LEN - 1, "at is ISO 8601");
	json_decref(page);
	is_int(farm_audit_finish(s, id, FARM_AUDIT_FAILED), FARM_OK, "finish");
	farm_audit_page(s, "org-a", 0, 10, &page, &next);
	r = json_array_get(page, 0);
	is_int(json_array_size(page), 1, "finish updates, it does not append");
	is_str(json_string_value(json_object_get(r, "status")), "failed", "status updated");
	json_decref(page);
	is_int(farm_audit_finish(s, 999, FARM_AUDIT_OK), FARM_E_NOTFOUND, "finish of a missing record");
	store_done(s);
}

static void test_sweep(void)
{
	struct farm_store *s = fresh_store();
	json_t *page = NULL;
	uint64_t next;
	size_t removed = 0;
	char buf[2048];

	for (int i = 0; i < 450; i++)
		add(s, "org-a", "trigger", "ok");
	is_int(farm_audit_sweep(s, farm_clock_ms() - 3600000LL, 1000, &removed), FARM_OK, "sweep nothing");
	is_int(removed, 0, "records younger than the cutoff stay");
	is_int(farm_audit_sweep(s, farm_clock_ms() + 1000, 300, &removed), FARM_OK, "bounded sweep");
	is_int(removed, 300, "at most max records per call");
	farm_audit_page(s, "org-a", 0, 500, &page, &next);
	is_int(json_array_size(page), 150, "150 left");
	is_int(json_integer_value(json_object_get(json_array_get(page, 149), "id")), 301,
	       "the oldest went first");
	json_decref(page);
	is_int(farm_audit_sweep(s, farm_clock_ms() + 1000, 1000, &removed), FARM_OK, "sweep the rest");
	is_int(removed, 150, "the rest");
	farm_audit_page(s, "org-a", 0, 10, &page, &next);
	is_str(ids(page, buf, sizeof(buf)), "", "empty");
	json_decref(page);
	is_int(add(s, "org-a", "sync", NULL), 451, "ids go on after a sweep");
	store_done(s);
}

int main(void)
{
	test_pages();
	test_fields_and_finish();
	test_sweep();
	return done_testing();
}
