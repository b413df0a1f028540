/* test-pipeline.c - lib/pipeline: pipeline and run validation, paths that must stay
 * in the workspace, image references, tag templates, the argv of every engine, the
 * PATH search, the engine environment, log paths and queue keys, run events, and
 * the catalog's Argo CD helpers (status normalisation, summaries, webhook bodies,
 * observation in a real store emitting one event per change). */
#include "pipeline.h"
#include "argocd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "store-fixture.h"
#include "tap.h"

#include "banned.h"

/* ---- helpers ------------------------------------------------------------------------ */

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j) {
		printf("Bail out! bad test JSON: %s: %s\n", text, e.text);
		exit(1);
	}
	return j;
}

/* 1 when some message of the array contains `needle`. */
static int has_msg(json_t *errors, const char *needle)
{
	size_t i;
	json_t *m;

	json_array_foreach(errors, i, m)
	if (strstr(json_string_value(m), needle))
		return 1;
	return 0;
}

static void dump_errors(json_t *errors)
{
	size_t i;
	json_t *m;

	json_array_foreach(errors, i, m) diag("  error: %s", json_string_value(m));
}

static char *norm(const char *in, size_t len, const char **why)
{
	static char out[FARM_PIPELINE_PATH_MAX + 1];

	return farm_pipeline_path_norm(in, len, out, sizeof(out), why) ? out : NULL;
}

/* ---- paths -------------------------------------------------------------------------- */

static void test_paths(void)
{
	const char *why;
	char big[FARM_PIPELINE_PATH_MAX + 10];

	is_str(norm("./a//b/", 7, &why), "a/b", "path: ./a//b/ normalises to a/b");
	is_str(norm("", 0, &why), ".", "path: empty is the workspace itself");
	is_str(norm(".", 1, &why), ".", "path: . is the workspace itself");
	is_str(norm("docker/Dockerfile.prod", 22, &why), "docker/Dockerfile.prod",
	       "path: plain relative path kept");
	is_str(norm("a/./b/.", 7, &why), "a/b", "path: . segments dropped");
	is_str(norm("..a/b..", 7, &why), "..a/b..", "path: dots inside names are names");
	ok(!norm("../x", 4, &why) && why && strstr(why, ".."), "path: ../x refused");
	ok(!norm("a/../../x", 9, &why), "path: a/../../x refused");
	ok(!norm("a/..", 4, &why), "path: trailing .. refused");
	ok(!norm("/etc/passwd", 11, &why) && strstr(why, "absolute"), "path: absolute refused");
	ok(!norm("a\0b", 3, &why) && strstr(why, "NUL"), "path: embedded NUL refused");
	ok(!norm("a\nb", 3, &why), "path: control character refused");
	ok(!norm("a\\..\\b", 6, &why), "path: backslash refused");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(!norm(big, strlen(big), &why), "path: over the maximum refused");
}

/* ---- references, registries, versions --------------------------------------------- */

static void test_refs(void)
{
	ok(farm_pipeline_ref_ok("my-org/my-service:1.0-abc1234"), "ref: seed example");
	ok(farm_pipeline_ref_ok("hello"), "ref: one component, no tag");
	ok(farm_pipeline_ref_ok("acme/a.b__c-d---e/f_g:Tag_1.2-x"), "ref: separators");
	ok(farm_pipeline_ref_ok("127.0.0.1:5000/acme/hello:1.0"), "ref: domain with port");
	ok(farm_pipeline_ref_ok("localhost/acme"), "ref: localhost domain");
	ok(farm_pipeline_ref_ok("Registry.Example.com/acme/x:1"), "ref: upper-case domain");
	ok(!farm_pipeline_ref_ok("Acme/x:1"), "ref: upper-case name refused");
	ok(!farm_pipeline_ref_ok("-rm/x"), "ref: leading dash refused (argv)");
	ok(!farm_pipeline_ref_ok("acme//x"), "ref: empty component refused");
	ok(!farm_pipeline_ref_ok("acme/x/"), "ref: trailing slash refused");
	ok(!farm_pipeline_ref_ok("acme/x:"), "ref: empty tag refused");
	ok(!farm_pipeline_ref_ok("acme/x:.bad"), "ref: tag starting with . refused");
	ok(!farm_pipeline_ref_ok("acme/x:a b"), "ref: space refused");
	ok(!farm_pipeline_ref_ok("acme/x:{{version}}"), "ref: unrendered template refused");
	ok(!farm_pipeline_ref_ok("a-/x"), "ref: component ending in a separator refused");
	ok(!farm_pipeline_ref_ok(""), "ref: empty refused");

	ok(farm_pipeline_registry_ok("registry.example.com"), "registry: host");
	ok(farm_pipeline_registry_ok("127.0.0.1:5000"), "registry: host:port");
	ok(farm_pipeline_registry_ok("ghcr.io/acme"), "registry: host/namespace");
	ok(!farm_pipeline_registry_ok("https://registry.example.com"), "registry: scheme refused");
	ok(!farm_pipeline_registry_ok("host:0"), "registry: port 0 refused");
	ok(!farm_pipeline_registry_ok("host:99999"), "registry: port too big refused");
	ok(!farm_pipeline_registry_ok("-host"), "registry: leading dash refused");
	ok(!farm_pipeline_registry_ok("host/"), "registry: trailing slash refused");
	ok(!farm_pipeline_registry_ok("ho st"), "registry: space refused");

	ok(farm_pipeline_version_ok("1.2.3-rc_1"), "version: tag characters");
	ok(!farm_pipeline_version_ok("-1"), "version: leading dash refused");
	ok(!farm_pipeline_version_ok(".1"), "version: leading dot refused");
	ok(!farm_pipeline_version_ok("1.0+build"), "version: + refused");
	ok(!farm_pipeline_version_ok(""), "version: empty refused");
	ok(farm_pipeline_sha_ok("abc1234"), "sha: 7 hex digits");
	ok(farm_pipeline_sha_ok("0123456789abcdef0123456789ABCDEF01234567"), "sha: 40 hex digits");
	ok(!farm_pipeline_sha_ok("abc123"), "sha: 6 digits refused");
	ok(!farm_pipeline_sha_ok("abc123g"), "sha: non-hex refused");
}

/* ---- tag templates ----------------------------------------------------------------- */

static void test_templates(void)
{
	char out[64], why[200];
	int rc;

	rc = farm_pipeline_tag_render("my-org/svc:{{version}}-{{commitSha}}", "1.4.0",
				      "0123456789abcdef", out, sizeof(out), why, sizeof(why));
	is_int(rc, FARM_OK, "template: renders");
	is_str(out, "my-org/svc:1.4.0-0123456", "template: version and 7-char sha substituted");
	rc = farm_pipeline_tag_render("svc:{{ version }}", "2", "abcdefa", out, sizeof(out), why,
				      sizeof(why));
	is_str(rc == FARM_OK ? out : "", "svc:2", "template: spaces inside braces");
	rc = farm_pipeline_tag_render("svc:{{branch}}", "2", "abcdefa", out, sizeof(out), why,
				      sizeof(why));
	is_int(rc, FARM_E_INVAL, "template: unknown variable refused");
	ok(strstr(why, "{{branch}}") != NULL, "template: the message names the variable");
	rc = farm_pipeline_tag_render("svc:{{version", "2", "abcdefa", out, sizeof(out), why,
				      sizeof(why));
	is_int(rc, FARM_E_INVAL, "template: unterminated refused");
	rc = farm_pipeline_tag_render("svc:{{version}}", "0123456789", "abcdefa", out, 12, why,
				      sizeof(why));
	is_int(rc, FARM_E_TOOBIG, "template: result over the buffer refused");
	rc = farm_pipeline_tag_render("plain:latest", "x", "abcdefa", out, sizeof(out), why,
				      sizeof(why));
	is_str(out, "plain:latest", "template: no variables, kept");
}

/* ---- pipeline validation ------------------------------------------------------------- */

static void test_check(void)
{
	json_t *errors = json_array(), *out = NULL, *in, *cfg;
	int n;

	in = J("{\"name\":\"web\",\"stages\":[{\"name\":\"Build\",\"type\":\"build\","
	       "\"config\":{\"tag\":\"acme/web:{{version}}\"}}]}");
	n = farm_pipeline_check(in, errors, &out);
	is_int(n, 0, "check: minimal pipeline accepted");
	dump_errors(errors);
	cfg = json_object_get(json_array_get(json_object_get(out, "stages"), 0), "config");
	is_str(json_string_value(json_object_get(cfg, "engine")), "docker", "check: engine default");
	is_str(json_string_value(json_object_get(cfg, "dockerfile")), "Dockerfile",
	       "check: dockerfile default");
	is_str(json_string_value(json_object_get(cfg, "context")), ".", "check: context default");
	ok(json_is_false(json_object_get(cfg, "push")), "check: push default false");
	ok(json_is_true(json_object_get(cfg, "tlsVerify")), "check: tlsVerify default true");
	ok(json_is_null(json_object_get(cfg, "registry")), "check: registry null");
	is_str(json_string_value(json_object_get(out, "workspace")), ".", "check: workspace default");
	json_decref(in);
	json_decref(out);
	json_array_clear(errors);

	in = J("{\"name\":\"web\",\"workspace\":\"./teams//web/\",\"stages\":[{\"name\":\"B\","
	       "\"type\":\"build\",\"config\":{\"engine\":\"buildah\",\"context\":\"app/\","
	       "\"tag\":\"acme/web:{{version}}-{{commitSha}}\",\"push\":true,\"registry\":"
	       "\"127.0.0.1:5000\",\"tlsVerify\":false,\"timeout\":60}}]}");
	n = farm_pipeline_check(in, errors, &out);
	is_int(n, 0, "check: full pipeline accepted");
	dump_errors(errors);
	cfg = json_object_get(json_array_get(json_object_get(out, "stages"), 0), "config");
	is_str(json_string_value(json_object_get(out, "workspace")), "teams/web",
	       "check: workspace normalised");
	is_str(json_string_value(json_object_get(cfg, "context")), "app", "check: context normalised");
	is_str(json_string_value(json_object_get(cfg, "dockerfile")), "app/Dockerfile",
	       "check: dockerfile defaults to the context's");
	ok(json_is_false(json_object_get(cfg, "tlsVerify")), "check: tlsVerify kept");
	is_int(json_integer_value(json_object_get(cfg, "timeout")), 60, "check: timeout kept");
	json_decref(in);
	json_decref(out);
	json_array_clear(errors);

	/* Every problem at once. */
	in = J("{\"nam\":1,\"name\":\"\",\"workspace\":\"/abs\",\"stages\":["
	       "{\"name\":\"a\",\"type\":\"build\",\"config\":{\"engine\":\"kaniko\"}},"
	       "{\"name\":\"b\",\"type\":\"build\",\"config\":{\"tag\":\"x\",\"push\":true}},"
	       "{\"name\":\"c\",\"type\":\"build\",\"config\":{\"tag\":\"x\",\"dockerfile\":"
	       "\"../Dockerfile\",\"context\":\"a/../../b\"}},"
	       "{\"name\":\"d\",\"type\":\"test\",\"config\":{\"tag\":\"x:{{branch}}\","
	       "\"registry\":\"https://r\",\"tlsVerify\":\"no\",\"timeout\":0,\"extra\":1}},"
	       "{\"name\":\"e\",\"type\":\"build\",\"config\":{\"tag\":\"UPPER/x\","
	       "\"dockerfile\":\"/etc/passwd\"}}]}");
	n = farm_pipeline_check(in, errors, &out);
	ok(out == NULL, "check: bad pipeline gives no result");
	ok(has_msg(errors, "property nam should not exist"), "check: unknown property listed");
	ok(has_msg(errors, "name must be a string of 1 to 200"), "check: empty name listed");
	ok(has_msg(errors, "workspace must be a relative path, not an absolute"), "check: absolute workspace listed");
	ok(has_msg(errors, "stages[0].config.engine must be one of: docker, buildah, podman"),
	   "check: unknown engine listed");
	ok(has_msg(errors, "stages[0].config.tag is required"), "check: missing tag listed");
	ok(has_msg(errors, "stages[1].config.registry is required when push is true"),
	   "check: push without registry listed");
	ok(has_msg(errors, "stages[2].config.dockerfile must not contain '..'"),
	   "check: dockerfile escaping listed");
	ok(has_msg(errors, "stages[2].config.context must not contain '..'"),
	   "check: context escaping listed");
	ok(has_msg(errors, "stages[3].type must be one of: build, candor"), "check: unknown type listed");
	ok(has_msg(errors, "stages[3].config.tag: unknown template variable {{branch}}"),
	   "check: unknown template variable listed");
	ok(has_msg(errors, "stages[3].config.registry must be host[:port]"),
	   "check: registry with scheme listed");
	ok(has_msg(errors, "stages[3].config.tlsVerify must be a boolean"),
	   "check: bad tlsVerify listed");
	ok(has_msg(errors, "stages[3].config.timeout must be an integer"), "check: bad timeout");
	ok(has_msg(errors, "property stages[3].config.extra should not exist"),
	   "check: unknown config property listed");
	ok(has_msg(errors, "stages[4].config.tag must render to an image reference"),
	   "check: tag not rendering to a reference listed");
	ok(has_msg(errors, "stages[4].config.dockerfile must be a relative path"),
	   "check: absolute dockerfile listed");
	is_int(n, (int)json_array_size(errors), "check: returns the number of problems");
	is_int(n, 16, "check: every problem listed");
	json_decref(in);
	json_array_clear(errors);

	in = J("{\"name\":\"x\",\"stages\":[]}");
	farm_pipeline_check(in, errors, &out);
	ok(has_msg(errors, "stages must be an array of 1 to 32"), "check: empty stages refused");
	json_decref(in);
	json_array_clear(errors);
	in = J("{\"name\":\"x\"}");
	farm_pipeline_check(in, errors, &out);
	ok(has_msg(errors, "stages is required"), "check: missing stages refused");
	json_decref(in);
	json_array_clear(errors);
	in = json_pack("{s:s,s:[{s:s,s:s,s:{s:s,s:s%}}]}", "name", "x", "stages", "name", "b", "type",
		       "build", "config", "tag", "x", "context", "a\0b", (size_t)3);
	farm_pipeline_check(in, errors, &out);
	ok(has_msg(errors, "stages[0].config.context must not contain a NUL"),
	   "check: NUL in a JSON path refused");
	json_decref(in);
	json_decref(errors);
}

static void test_run_check(void)
{
	json_t *errors = json_array(), *pl = NULL, *in, *stages = NULL, *def;
	int n;

	def = J("{\"name\":\"web\",\"stages\":[{\"name\":\"B\",\"type\":\"build\",\"config\":"
		"{\"engine\":\"buildah\",\"tag\":\"acme/web:{{version}}-{{commitSha}}\",\"push\":"
		"true,\"registry\":\"127.0.0.1:5000\"}},{\"name\":\"C\",\"type\":\"build\","
		"\"config\":{\"tag\":\"acme/{{version}}\"}}]}");
	n = farm_pipeline_check(def, errors, &pl);
	is_int(n, 0, "run: pipeline accepted");
	in = J("{\"version\":\"1.4.0\",\"commitSha\":\"9f8e7d6c5b4a39281706\"}");
	n = farm_pipeline_run_check(pl, in, errors, &stages);
	is_int(n, 0, "run: good run accepted");
	is_str(json_string_value(json_object_get(json_array_get(stages, 0), "tag")),
	       "acme/web:1.4.0-9f8e7d6", "run: tag rendered");
	is_str(json_string_value(json_object_get(json_array_get(stages, 0), "image")),
	       "127.0.0.1:5000/acme/web:1.4.0-9f8e7d6", "run: pushed image carries the registry");
	is_str(json_string_value(json_object_get(json_array_get(stages, 1), "status")), "pending",
	       "run: stages pending");
	json_decref(in);
	json_decref(stages);

	in = J("{\"version\":\"1.4.0\",\"commitSha\":\"xyz\",\"branch\":\"main\"}");
	n = farm_pipeline_run_check(pl, in, errors, &stages);
	ok(n == 2 && has_msg(errors, "commitSha must be 7 to 64 hexadecimal digits") &&
		   has_msg(errors, "property branch should not exist"),
	   "run: bad sha and unknown property listed");
	ok(stages == NULL, "run: no stages on error");
	json_decref(in);
	json_array_clear(errors);
	in = J("{}");
	n = farm_pipeline_run_check(pl, in, errors, &stages);
	ok(n == 2 && has_msg(errors, "version is required") &&
		   has_msg(errors, "commitSha is required"),
	   "run: both fields required");
	json_decref(in);
	json_array_clear(errors);
	/* A version that renders the second stage's name invalid (upper case). */
	in = J("{\"version\":\"V1\",\"commitSha\":\"abcdef0\"}");
	n = farm_pipeline_run_check(pl, in, errors, &stages);
	ok(n == 1 && has_msg(errors, "stages[1].config.tag renders to 'acme/V1'"),
	   "run: a tag rendering to a bad reference is refused");
	json_decref(in);
	json_decref(pl);
	json_decref(def);
	json_decref(errors);
}

/* ---- argv ------------------------------------------------------------------------------ */

static char *joined(const struct farm_pipeline_argv *a)
{
	static char buf[1024];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < a->n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "", a->v[i]);
	ok(a->v[a->n] == NULL, "argv: NULL-terminated");
	return buf;
}

static void test_argv(void)
{
	struct farm_pipeline_argv a;

	is_int(farm_pipeline_argv(&a, "buildah", "/usr/bin/buildah", FARM_PIPELINE_BUILD,
				  "/w/Dockerfile", "/w", "acme/x:1", NULL, 1),
	       FARM_OK, "argv: buildah build");
	is_str(joined(&a), "/usr/bin/buildah --storage-driver vfs bud -f /w/Dockerfile -t acme/x:1 /w",
	       "argv: buildah bud");
	farm_pipeline_argv_clear(&a);
	farm_pipeline_argv(&a, "buildah", "/usr/bin/buildah", FARM_PIPELINE_PUSH, NULL, NULL,
			   "acme/x:1", "127.0.0.1:5000", 0);
	is_str(joined(&a),
	       "/usr/bin/buildah --storage-driver vfs push --tls-verify=false acme/x:1 "
	       "docker://127.0.0.1:5000/acme/x:1",
	       "argv: buildah push without TLS verification");
	farm_pipeline_argv_clear(&a);
	farm_pipeline_argv(&a, "podman", "/bin/podman", FARM_PIPELINE_PUSH, NULL, NULL, "acme/x:1",
			   "r.example", 1);
	is_str(joined(&a), "/bin/podman push --tls-verify=true acme/x:1 docker://r.example/acme/x:1",
	       "argv: podman push");
	farm_pipeline_argv_clear(&a);
	farm_pipeline_argv(&a, "podman", "/bin/podman", FARM_PIPELINE_BUILD, "D", ".", "acme/x:1",
			   NULL, 1);
	is_str(joined(&a), "/bin/podman build -f D -t acme/x:1 .", "argv: podman build");
	farm_pipeline_argv_clear(&a);
	farm_pipeline_argv(&a, "docker", "/d", FARM_PIPELINE_BUILD, "D", "c", "acme/x:1", "r:5000", 1);
	is_str(joined(&a), "/d build -f D -t r:5000/acme/x:1 c",
	       "argv: docker builds the registry-prefixed name when pushing");
	farm_pipeline_argv_clear(&a);
	farm_pipeline_argv(&a, "docker", "/d", FARM_PIPELINE_PUSH, NULL, NULL, "acme/x:1", "r:5000", 0);
	is_str(joined(&a), "/d push r:5000/acme/x:1", "argv: docker push");
	farm_pipeline_argv_clear(&a);
	is_int(farm_pipeline_argv(&a, "kaniko", "/k", FARM_PIPELINE_BUILD, "D", ".", "x", NULL, 1),
	       FARM_E_INVAL, "argv: unknown engine refused");
	farm_pipeline_argv_clear(&a);
	is_int(farm_pipeline_argv(&a, "buildah", "/b", FARM_PIPELINE_PUSH, NULL, NULL, "x", NULL, 1),
	       FARM_E_INVAL, "argv: push without registry refused");
	farm_pipeline_argv_clear(&a);
	farm_pipeline_argv_clear(NULL);
}

/* ---- PATH, environment, paths, keys -------------------------------------------------- */

static void write_file(const char *path, int mode)
{
	FILE *fp = fopen(path, "w");

	if (fp) {
		fputs("#!/bin/sh\n", fp);
		fclose(fp);
	}
	chmod(path, (mode_t)mode);
}

static void test_which(void)
{
	char d1[1100], d2[1100], f[1200], path[2400], out[1024];

	if (fixture_init("pipeline"))
		exit(1);
	snprintf(d1, sizeof(d1), "%s/a", fixture_dir);
	snprintf(d2, sizeof(d2), "%s/b", fixture_dir);
	mkdir(d1, 0700);
	mkdir(d2, 0700);
	snprintf(f, sizeof(f), "%s/buildah", d1);
	write_file(f, 0600); /* not executable */
	snprintf(f, sizeof(f), "%s/buildah", d2);
	write_file(f, 0700);
	snprintf(f, sizeof(f), "%s/podman", d2);
	mkdir(f, 0700); /* a directory, not a program */
	snprintf(path, sizeof(path), "::relative:%s:%s", d1, d2);
	is_int(farm_pipeline_which("buildah", path, out, sizeof(out)), FARM_OK, "which: found");
	snprintf(f, sizeof(f), "%s/buildah", d2);
	is_str(out, f, "which: skips a non-executable file");
	is_int(farm_pipeline_which("podman", path, out, sizeof(out)), FARM_E_NOTFOUND,
	       "which: a directory is not a program");
	is_int(farm_pipeline_which("docker", path, out, sizeof(out)), FARM_E_NOTFOUND,
	       "which: missing engine");
	is_int(farm_pipeline_which("buildah", "", out, sizeof(out)), FARM_E_NOTFOUND,
	       "which: empty PATH finds nothing");
	is_int(farm_pipeline_which("../a/buildah", path, out, sizeof(out)), FARM_E_NOTFOUND,
	       "which: names with a slash refused");
	fixture_cleanup();

	ok(farm_pipeline_env_keep("PATH=/usr/bin"), "env: PATH kept");
	ok(farm_pipeline_env_keep("CONTAINERS_STORAGE_CONF=/x"), "env: CONTAINERS_* kept");
	ok(farm_pipeline_env_keep("LC_ALL=C"), "env: locale kept");
	ok(!farm_pipeline_env_keep("JWT_SECRET=s"), "env: JWT_SECRET dropped");
	ok(!farm_pipeline_env_keep("FARM_JWT_SECRET_FILE=/x"), "env: FARM_* dropped");
	ok(!farm_pipeline_env_keep("PATHX=1"), "env: names compared whole");
	ok(!farm_pipeline_env_keep("noequals"), "env: malformed dropped");

	is_int(farm_pipeline_log_path("/s", "0f8fad5b-d9cb-469f-a165-70867728950e", out, sizeof(out)),
	       FARM_OK, "log path: uuid accepted");
	is_str(out, "/s/runs/0f8fad5b-d9cb-469f-a165-70867728950e.log", "log path: under runs/");
	is_int(farm_pipeline_log_path("/s", "../../etc/passwd-aaaaaaaaaaaaaaaaaaaa", out, sizeof(out)),
	       FARM_E_INVAL, "log path: anything but a uuid refused");
	is_int(farm_pipeline_log_path("/s", "0F8FAD5B-D9CB-469F-A165-70867728950E", out, sizeof(out)),
	       FARM_E_INVAL, "log path: upper-case uuid refused");
	ok(farm_pipeline_queue_key(0x1234, "0f8fad5b-d9cb-469f-a165-70867728950e", out,
				   sizeof(out)) > 0,
	   "queue key: made");
	is_str(out, "runq:0000000000001234:0f8fad5b-d9cb-469f-a165-70867728950e",
	       "queue key: sortable by time");
}

/* ---- run events ------------------------------------------------------------------------- */

static void test_run_event(void)
{
	json_t *run = J("{\"id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"pipelineId\":\"p1\","
			"\"pipelineName\":\"web\",\"number\":3,\"version\":\"1.0\",\"commitSha\":"
			"\"abcdef0\",\"status\":\"running\",\"orgId\":\"org-a\",\"startedAt\":"
			"\"2025-01-01T00:00:00.000Z\",\"finishedAt\":null,\"error\":null,"
			"\"queueKey\":\"runq:x\"}");
	json_t *ev = farm_pipeline_run_event(run, "2025-01-01T00:00:01.000Z"), *d, *pub;

	d = json_object_get(ev, "data");
	is_str(json_string_value(json_object_get(ev, "event")), "ci.build.updated", "event: name");
	is_str(json_string_value(json_object_get(d, "provider")), "farm", "event: provider farm");
	is_str(json_string_value(json_object_get(d, "orgId")), "org-a", "event: org");
	is_str(json_string_value(json_object_get(d, "status")), "running", "event: status");
	is_str(json_string_value(json_object_get(d, "buildId")),
	       "0f8fad5b-d9cb-469f-a165-70867728950e", "event: buildId is the run id");
	is_int(json_integer_value(json_object_get(d, "number")), 3, "event: number");
	ok(json_is_null(json_object_get(d, "id")), "event: id left for eventd");
	is_str(json_string_value(json_object_get(d, "url")),
	       "/api/v1/pipelines/p1/runs/0f8fad5b-d9cb-469f-a165-70867728950e", "event: url");
	pub = farm_pipeline_run_public(run);
	ok(pub && !json_object_get(pub, "queueKey") && json_object_get(pub, "version"),
	   "public run: internal members removed");
	json_decref(pub);
	json_decref(ev);
	json_decref(run);
}

/* ---- the candor stage ------------------------------------------------------------------ */

static void test_candor_stage(void)
{
	json_t *errors = json_array(), *out = NULL, *stages = NULL, *ev, *d, *st;
	json_t *in = J("{\"name\":\"ci\",\"stages\":[{\"type\":\"candor\",\"credentialId\":"
		       "\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"stages\":[{\"name\":\"T\","
		       "\"image\":\"node\",\"environment\":[\"CI=1\"],\"script\":[\"npm test\"]}],"
		       "\"archive\":[\"dist/a.tgz\"]}]}");
	json_t *bad = J("{\"name\":\"ci\",\"stages\":[{\"type\":\"candor\",\"credentialId\":"
			"\"x'\",\"stages\":[{\"name\":\"a\\nb\",\"image\":\"\",\"environment\":"
			"[\"=v\",\"1A=b\"],\"script\":[\"\"]}],\"archive\":[1]}]}");
	json_t *rin = J("{\"version\":\"1\",\"commitSha\":\"abcdef0\"}"), *run;

	is_int(farm_pipeline_check(in, errors, &out), 0, "candor: a good stage passes");
	st = json_array_get(json_object_get(out, "stages"), 0);
	is_str(json_string_value(json_object_get(st, "name")), "Candor", "candor: default name");
	ok(json_equal(json_object_get(st, "stages"),
		      json_object_get(json_array_get(json_object_get(in, "stages"), 0), "stages")),
	   "candor: the plan's stages kept as given");
	is_int(farm_pipeline_run_check(out, rin, errors, &stages), 0, "candor: a run of it checks");
	st = json_array_get(stages, 0);
	is_str(json_string_value(json_object_get(st, "type")), "candor", "candor run stage: type");
	ok(json_is_null(json_object_get(st, "runner")), "candor run stage: no runner answer yet");
	is_str(json_string_value(json_array_get(json_object_get(json_object_get(st, "plan"),
								"archive"), 0)),
	       "dist/a.tgz", "candor run stage: the plan carries archive");
	json_decref(out);
	out = NULL;
	is_int(farm_pipeline_check(bad, errors, &out), 6, "candor: every problem listed");
	ok(has_msg(errors, "stages[0].credentialId must be the id of a Candor credential"),
	   "candor: a hostile credential id");
	ok(has_msg(errors, "stages[0].stages[0].name must be a string"), "candor: a control "
	   "character in a name");
	ok(has_msg(errors, "stages[0].stages[0].environment[0] must be KEY=value"),
	   "candor: environment entries are KEY=value");
	ok(has_msg(errors, "stages[0].archive[0] must be a string"), "candor: archive strings");

	/* the run's event: providerStatus and the Candor stages */
	json_object_set_new(st, "runner", J("{\"status\":\"Failed\",\"stages\":[{\"name\":\"T\","
					    "\"status\":\"Failed\",\"exitCode\":2},{\"name\":\"U\","
					    "\"status\":\"Skipped\",\"exitCode\":-1}]}"));
	run = json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "0f8fad5b-d9cb-469f-a165-70867728950e",
			"pipelineId", "p1", "pipelineName", "ci", "status", "failed", "stages",
			stages);
	ev = farm_pipeline_run_event(run, "2025-01-01T00:00:01.000Z");
	d = json_object_get(ev, "data");
	is_str(json_string_value(json_object_get(d, "providerStatus")), "Failed",
	       "candor event: providerStatus is the runner's word");
	is_str(json_string_value(json_object_get(json_array_get(json_object_get(d, "stages"), 0),
						 "status")),
	       "failed", "candor event: stage Failed -> failed");
	is_str(json_string_value(json_object_get(json_array_get(json_object_get(d, "stages"), 1),
						 "status")),
	       "unknown", "candor event: stage Skipped -> unknown");
	json_decref(ev);
	json_decref(run);
	json_decref(stages);
	json_decref(out);
	json_decref(in);
	json_decref(bad);
	json_decref(rin);
	json_decref(errors);
}

/* ---- catalog ---------------------------------------------------------------------------- */

static void test_catalog(void)
{
	const char *why, *word;
	char key[64];
	char big[300];
	int n;

	ok(farm_pipeline_component_id_ok("component:default/my-service", 28, &why),
	   "component: portal id accepted");
	ok(!farm_pipeline_component_id_ok("", 0, &why), "component: empty refused");
	memset(big, 'a', sizeof(big));
	ok(!farm_pipeline_component_id_ok(big, 201, &why), "component: over 200 refused");
	ok(farm_pipeline_component_id_ok(big, 200, &why), "component: 200 accepted");
	ok(!farm_pipeline_component_id_ok("a\tb", 3, &why), "component: control char refused");
	ok(!farm_pipeline_component_id_ok("caf\xc3\xa9", 5, &why), "component: non-ASCII refused");
	ok(!farm_pipeline_component_id_ok(" a", 2, &why), "component: leading space refused");

	n = farm_pipeline_catalog_key("org-a", "svc", key, sizeof(key));
	ok(n == 10 && !memcmp(key, "oorg-a\0svc", 10), "catalog key: org then id");
	n = farm_pipeline_catalog_key(NULL, "svc", key, sizeof(key));
	ok(n == 5 && !memcmp(key, "n\0svc", 5), "catalog key: no org is distinct");
	n = farm_pipeline_catalog_key("", "svc", key, sizeof(key));
	ok(n == 5 && !memcmp(key, "o\0svc", 5), "catalog key: empty org differs from no org");

	is_str(farm_provider_argocd_status("Healthy", "Synced", "Succeeded", 0, &word), "success",
	       "argocd: healthy synced");
	is_str(farm_provider_argocd_status("Healthy", "OutOfSync", "Succeeded", 0, &word),
	       "unstable", "argocd: healthy but out of sync");
	is_str(word, "OutOfSync", "argocd: the deciding word is sync");
	is_str(farm_provider_argocd_status("Degraded", "OutOfSync", "Failed", 0, &word), "failed",
	       "argocd: failed operation");
	is_str(word, "Failed", "argocd: deciding word is the phase");
	is_str(farm_provider_argocd_status("Healthy", "Synced", "Succeeded", 1, &word), "running",
	       "argocd: operation requested");
	is_str(farm_provider_argocd_status("Progressing", "Synced", "Running", 0, &word), "running",
	       "argocd: running phase");
	is_str(farm_provider_argocd_status("Degraded", "Synced", "Succeeded", 0, &word), "failed",
	       "argocd: degraded after a good sync");
	is_str(farm_provider_argocd_status("Missing", NULL, NULL, 0, &word), "unstable",
	       "argocd: missing");
	is_str(farm_provider_argocd_status(NULL, "Synced", NULL, 0, &word), "success",
	       "argocd: sync only");
	is_str(farm_provider_argocd_status(NULL, NULL, "Error", 0, &word), "error", "argocd: error");
	is_str(farm_provider_argocd_status(NULL, NULL, NULL, 0, &word), "unknown",
	       "argocd: nothing known");
}

static void test_summary_and_webhook(void)
{
	json_t *app = J("{\"metadata\":{\"name\":\"guestbook\"},\"spec\":{\"project\":\"default\","
			"\"source\":{\"targetRevision\":\"main\"}},\"status\":{\"health\":{\"status\":"
			"\"Healthy\"},\"sync\":{\"status\":\"Synced\",\"revision\":\"ea87\"},"
			"\"operationState\":{\"phase\":\"Succeeded\",\"startedAt\":"
			"\"2024-03-05T07:33:03Z\",\"finishedAt\":\"2024-03-05T07:33:04Z\"}}}");
	json_t *s = farm_provider_argocd_summary(app), *w = NULL;
	struct farm_error err = {0};
	const char *body;
	int rc;

	is_str(json_string_value(json_object_get(json_object_get(s, "health"), "status")), "Healthy",
	       "summary: raw health kept");
	is_str(json_string_value(json_object_get(json_object_get(s, "sync"), "revision")), "ea87",
	       "summary: revision");
	is_str(json_string_value(json_object_get(json_object_get(s, "operation"), "finishedAt")),
	       "2024-03-05T07:33:04Z", "summary: finishedAt");
	is_str(json_string_value(json_object_get(s, "status")), "success", "summary: status");
	is_str(json_string_value(json_object_get(s, "targetRevision")), "main",
	       "summary: targetRevision");
	json_decref(s);

	body = "{\"app\":\"guestbook\",\"health\":\"Degraded\",\"sync\":\"OutOfSync\",\"phase\":"
	       "\"\",\"revision\":\"<no value>\"}";
	rc = farm_provider_argocd_webhook(body, strlen(body), &w, &err);
	is_int(rc, FARM_OK, "webhook: flat template body");
	is_str(json_string_value(json_object_get(w, "app")), "guestbook", "webhook: app name");
	is_str(json_string_value(json_object_get(w, "status")), "failed", "webhook: degraded → failed");
	ok(json_is_null(json_object_get(json_object_get(w, "operation"), "phase")),
	   "webhook: empty word is absent");
	ok(json_is_null(json_object_get(json_object_get(w, "sync"), "revision")),
	   "webhook: <no value> is absent");
	json_decref(w);

	s = json_pack("{s:O}", "app", app);
	body = json_dumps(s, 0);
	rc = farm_provider_argocd_webhook(body, strlen(body), &w, &err);
	is_int(rc, FARM_OK, "webhook: {{toJson .app}} body");
	is_str(json_string_value(json_object_get(w, "app")), "guestbook", "webhook: name from object");
	json_decref(w);
	free((void *)body);
	json_decref(s);
	body = json_dumps(app, 0);
	rc = farm_provider_argocd_webhook(body, strlen(body), &w, &err);
	is_int(rc, FARM_OK, "webhook: bare Application");
	json_decref(w);
	free((void *)body);

	body = "{\"app\":\"Bad_Name\"}";
	is_int(farm_provider_argocd_webhook(body, strlen(body), &w, &err), FARM_E_INVAL,
	       "webhook: invalid application name refused");
	body = "{\"app\":\"x\",\"health\":3}";
	is_int(farm_provider_argocd_webhook(body, strlen(body), &w, &err), FARM_E_INVAL,
	       "webhook: mistyped word refused");
	ok(strstr(err.msg, "health") != NULL, "webhook: the message names the field");
	body = "{\"app\":";
	is_int(farm_provider_argocd_webhook(body, strlen(body), &w, &err), FARM_E_INVAL,
	       "webhook: malformed JSON refused");
	body = "{\"hello\":1}";
	is_int(farm_provider_argocd_webhook(body, strlen(body), &w, &err), FARM_E_INVAL,
	       "webhook: no application refused");
	json_decref(app);
}

/* ---- observation in a real store ------------------------------------------------------ */

struct obs {
	const char *org, *app;
	json_t *summary;
	int emitted;
};

static int obs_txn(struct farm_txn *t, void *arg)
{
	struct obs *o = arg;

	return farm_provider_argocd_observe(t, o->org, NULL, o->app, o->summary, "poll",
					    "2025-01-01T00:00:00.000Z", &o->emitted);
}

static int pop_txn(struct farm_txn *t, void *arg)
{
	json_t **ev = arg;
	void *val;
	size_t len;
	int rc = farm_txn_outbox_pop(t, &val, &len);

	if (rc == FARM_OK) {
		json_decref(*ev);
		*ev = json_loadb(val, len, 0, NULL);
		free(val);
	}
	return rc;
}

static void test_observe(void)
{
	struct farm_store *s = NULL;
	json_t *ev = NULL;
	struct obs o = {"org-a", "guestbook", NULL, 0};
	uint64_t depth = 0;
	int rc;

	if (fixture_init("pipeline"))
		exit(1);
	if (!fixture_store(&s, "env", "observe: a store opens"))
		exit(1);
	o.summary = J("{\"health\":{\"status\":\"Healthy\"},\"sync\":{\"status\":\"Synced\","
		      "\"revision\":\"ea87\"},\"operation\":{\"phase\":\"Succeeded\",\"finishedAt\":"
		      "\"2024-03-05T07:33:04Z\"},\"status\":\"success\",\"providerStatus\":\"Healthy\","
		      "\"project\":\"default\"}");
	rc = farm_store_run(s, obs_txn, &o);
	ok(rc == FARM_OK && o.emitted == 1, "observe: the first observation emits");
	rc = farm_store_run(s, obs_txn, &o);
	ok(rc == FARM_OK && o.emitted == 0, "observe: the same state again emits nothing");
	o.org = "org-b";
	rc = farm_store_run(s, obs_txn, &o);
	ok(rc == FARM_OK && o.emitted == 1, "observe: another org observes on its own");
	o.org = "org-a";
	json_object_set_new(json_object_get(o.summary, "health"), "status", json_string("Degraded"));
	json_object_set_new(o.summary, "status", json_string("failed"));
	rc = farm_store_run(s, obs_txn, &o);
	ok(rc == FARM_OK && o.emitted == 1, "observe: a health change emits");
	rc = farm_store_run(s, obs_txn, &o);
	ok(rc == FARM_OK && o.emitted == 0, "observe: ... once");
	farm_store_outbox_depth(s, &depth);
	is_int(depth, 3, "observe: three events in the outbox");
	farm_store_run(s, pop_txn, &ev);
	farm_store_run(s, pop_txn, &ev);
	farm_store_run(s, pop_txn, &ev);
	is_str(json_string_value(json_object_get(json_object_get(ev, "data"), "health")), "Degraded",
	       "observe: the event carries the raw health");
	is_str(json_string_value(json_object_get(json_object_get(ev, "data"), "status")), "failed",
	       "observe: and the normalised status");
	is_str(json_string_value(json_object_get(json_object_get(ev, "data"), "finishedAt")),
	       "2024-03-05T07:33:04.000Z", "observe: timestamps with milliseconds");
	is_str(json_string_value(json_object_get(json_object_get(ev, "data"), "buildId")),
	       "guestbook", "observe: buildId is the application's name (its runId)");
	json_decref(ev);
	json_decref(o.summary);
	farm_store_close(s);
	fixture_cleanup();
}

int main(void)
{
	farm_json_init();
	test_paths();
	test_refs();
	test_templates();
	test_check();
	test_run_check();
	test_argv();
	test_which();
	test_run_event();
	test_candor_stage();
	test_catalog();
	test_summary_and_webhook();
	test_observe();
	return done_testing();
}
