/* test-semaphore-gitflic.c - the Semaphore and GitFlic modules' pure parts: the
 * X-Semaphore-Signature-256 verifier (vectors made here with an independent HMAC), the
 * `link` header's rel="next", ids and project names, and both webhook mappings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"
#include "event.h"
#include "gitflic.h"
#include "semaphore.h"
#include "tap.h"

#include "banned.h"

static const struct {
	const char *body, *secret, *hex;
} sem_vectors[] = {
    {"{\"pipeline\":{\"id\":\"p-1\"}}", "farm-unit-secret",
     "c7c345a2dfd4359e996b77301c2b11765f4fad03061e336d8e2477223e3402ef"},
    {"", "k", "8bb990c40a7d61cb97597a942125025be50ac8beb74436e3735b98893a7f6620"},
};

static int sem(const char *sig, const char *secret, const char *body)
{
	return farm_webhook_semaphore_verify(sig, secret, strlen(secret), body, strlen(body));
}

static void test_semaphore_verify(void)
{
	char buf[200];

	for (size_t i = 0; i < sizeof(sem_vectors) / sizeof(sem_vectors[0]); i++) {
		const char *b = sem_vectors[i].body, *k = sem_vectors[i].secret, *h = sem_vectors[i].hex;

		is_int(sem(h, k, b), FARM_OK, "semaphore: own vector verifies");
		snprintf(buf, sizeof(buf), "sha256=%s", h);
		is_int(sem(buf, k, b), FARM_OK, "semaphore: sha256= prefix tolerated");
		snprintf(buf, sizeof(buf), "%s", h);
		for (char *p = buf; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		is_int(sem(buf, k, b), FARM_OK, "semaphore: upper-case hex accepted too");
		is_int(sem(h, "other", b), FARM_E_AUTH, "semaphore: another secret fails");
		snprintf(buf, sizeof(buf), "%.63s", h);
		is_int(sem(buf, k, b), FARM_E_AUTH, "semaphore: 63 digits fail");
		snprintf(buf, sizeof(buf), "%s0", h);
		is_int(sem(buf, k, b), FARM_E_AUTH, "semaphore: 65 digits fail");
		snprintf(buf, sizeof(buf), "sha1=%s", h);
		is_int(sem(buf, k, b), FARM_E_AUTH, "semaphore: another scheme fails");
	}
	is_int(sem(sem_vectors[0].hex, sem_vectors[0].secret, "{\"pipeline\":{\"id\":\"p-2\"}}"),
	       FARM_E_AUTH, "semaphore: another body fails");
	is_int(farm_webhook_semaphore_verify(NULL, "k", 1, "", 0), FARM_E_AUTH,
	       "semaphore: no header fails");
	is_int(farm_webhook_semaphore_verify(sem_vectors[1].hex, "", 0, "", 0), FARM_E_AUTH,
	       "semaphore: an empty secret never verifies");
	is_int(sem("zz46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355", "k", ""),
	       FARM_E_AUTH, "semaphore: bad hex fails");
}

static void test_link(void)
{
	char out[256];

	ok(farm_semaphore_link_next("<https://a.example/api/v1alpha/pipelines?page=1>; rel=\"first\", "
				    "<https://a.example/api/v1alpha/pipelines?page=2>; rel=\"next\"",
				    out, sizeof(out)) &&
		   !strcmp(out, "https://a.example/api/v1alpha/pipelines?page=2"),
	   "link: rel=\"next\" after rel=\"first\"");
	ok(farm_semaphore_link_next("<https://a/p?page=3>; rel=next", out, sizeof(out)) &&
		   !strcmp(out, "https://a/p?page=3"),
	   "link: unquoted rel=next");
	ok(farm_semaphore_link_next("<https://a/p?page=1>; rel=\"prev next\"", out, sizeof(out)),
	   "link: next among several rel values");
	ok(!farm_semaphore_link_next("<https://a/p?page=1>; rel=\"first\", <https://a/p?page=0>; "
				     "rel=\"prev\"",
				     out, sizeof(out)),
	   "link: no next on the last page");
	ok(!farm_semaphore_link_next("<https://a/p?page=1>; rel=\"nextpage\"", out, sizeof(out)),
	   "link: 'nextpage' is not next");
	ok(!farm_semaphore_link_next("<https://a/p?page=1; rel=\"next\"", out, sizeof(out)),
	   "link: an unterminated URL is no link");
	ok(!farm_semaphore_link_next("", out, sizeof(out)), "link: empty header");
	ok(!farm_semaphore_link_next("<https://a/p?page=1234567890>; rel=\"next\"", out, 10),
	   "link: a URL longer than the buffer is refused, not cut");
}

static void test_ids(void)
{
	char why[200];

	ok(farm_semaphore_id_ok("6cf4569c-f76c-4dea-b293-3e4282ba1153"), "semaphore id: a UUID");
	ok(!farm_semaphore_id_ok("6cf4569c-f76c-4dea-b293-3e4282ba115"), "semaphore id: short");
	ok(!farm_semaphore_id_ok("6cf4569c/f76c-4dea-b293-3e4282ba1153"), "semaphore id: a slash");
	ok(!farm_semaphore_id_ok("../../../../../../../../../../../../.."), "semaphore id: dots");
	ok(!farm_semaphore_id_ok(NULL), "semaphore id: NULL");
	ok(farm_gitflic_project_ok("acme/api", why, sizeof(why)), "gitflic: owner/project");
	ok(farm_gitflic_project_ok("a.b_c-d/X.9", why, sizeof(why)), "gitflic: . _ - allowed");
	ok(!farm_gitflic_project_ok("acme", why, sizeof(why)), "gitflic: no slash");
	ok(!farm_gitflic_project_ok("acme/api/x", why, sizeof(why)), "gitflic: two slashes");
	ok(!farm_gitflic_project_ok("../api", why, sizeof(why)), "gitflic: ..");
	ok(!farm_gitflic_project_ok("acme/.", why, sizeof(why)), "gitflic: .");
	ok(!farm_gitflic_project_ok("acme/a b", why, sizeof(why)), "gitflic: a space");
	ok(!farm_gitflic_project_ok("acme/a\nb", why, sizeof(why)), "gitflic: a newline");
	ok(!farm_gitflic_project_ok("acme/a%2Fb", why, sizeof(why)), "gitflic: a percent");
	ok(!farm_gitflic_project_ok(NULL, why, sizeof(why)), "gitflic: NULL");
}

static json_t *sem_map(const char *id, const char *body, int *rc, char **key)
{
	char buf[4096];
	json_t *data = NULL;
	struct farm_error e = {0};
	int n = snprintf(buf, sizeof(buf), "%s\n%s", id, body);

	*rc = farm_event_from_semaphore(buf, (size_t)n, &data, key, &e);
	return data;
}

static void test_semaphore_map(void)
{
	char *key = NULL;
	int rc;
	json_t *d = sem_map("d-1",
			    "{\"project\":{\"name\":\"api\"},\"pipeline\":{\"id\":\"p1\",\"name\":\"B\","
			    "\"state\":\"done\",\"result\":\"failed\",\"result_reason\":\"stuck\"},"
			    "\"revision\":{\"pull_request\":{\"branch_name\":\"pr-br\"}}}",
			    &rc, &key);

	is_int(rc, FARM_OK, "semaphore map: ok");
	is_str(json_string_value(json_object_get(d, "status")), "error",
	       "semaphore map: failed + stuck is error");
	is_str(json_string_value(json_object_get(d, "branch")), "pr-br",
	       "semaphore map: a pull request's branch");
	is_str(key, "semaphore:d-1", "semaphore map: the delivery id is the key");
	json_decref(d);
	free(key);
	key = NULL;
	d = sem_map("", "{\"pipeline\":{\"id\":\"p1\",\"state\":\"QUEUING\"}}", &rc, &key);
	is_str(json_string_value(json_object_get(d, "status")), "queued",
	       "semaphore map: a state before done, any case");
	is_str(key, "semaphore:p1:QUEUING:", "semaphore map: no delivery id: pipeline and state");
	json_decref(d);
	free(key);
	key = NULL;
	d = sem_map("", "{\"pipeline\":{}}", &rc, &key);
	is_int(rc, FARM_E_INVAL, "semaphore map: no pipeline.id is invalid");
	ok(!d && !key, "semaphore map: nothing returned on error");
	d = sem_map("", "[1]", &rc, &key);
	is_int(rc, FARM_E_INVAL, "semaphore map: not an object");
}

static void test_gitflic_map(void)
{
	const char *test = "{\"action\":\"TEST_WEBHOOK\",\"project_id\":\"x\"}";
	const char *ok1 = "{\"action\":\"PIPELINE_FAIL\",\"project\":{\"alias\":\"api\","
			  "\"owner_alias\":\"acme\"},\"localId\":\"7\"}";
	const char *bad = "{\"action\":\"PIPELINE_NEW\",\"project\":{\"alias\":\"..\","
			  "\"owner_alias\":\"acme\"},\"pipeline\":{\"localId\":1}}";
	struct farm_error e = {0};
	json_t *d = NULL;
	char *key = NULL;

	is_int(farm_event_from_gitflic(test, strlen(test), &d, &key, &e), FARM_E_NOTFOUND,
	       "gitflic map: TEST_WEBHOOK reports nothing");
	is_int(farm_event_from_gitflic(ok1, strlen(ok1), &d, &key, &e), FARM_OK,
	       "gitflic map: top-level localId, no status");
	is_str(json_string_value(json_object_get(d, "status")), "failed",
	       "gitflic map: the action decides without a status");
	is_str(json_string_value(json_object_get(d, "buildId")), "acme/api#7",
	       "gitflic map: buildId owner/project#localId");
	is_str(key, "gitflic:acme/api#7:PIPELINE_FAIL:PIPELINE_FAIL", "gitflic map: the key");
	json_decref(d);
	free(key);
	d = NULL;
	key = NULL;
	is_int(farm_event_from_gitflic(bad, strlen(bad), &d, &key, &e), FARM_E_INVAL,
	       "gitflic map: a hostile alias is refused");
}

int main(void)
{
	test_semaphore_verify();
	test_link();
	test_ids();
	test_semaphore_map();
	test_gitflic_map();
	return done_testing();
}
