/* pipeline.h - pipelines with the OCI image build stage, and the catalog's Argo CD
 * link helpers: what farm-fcgi (the API) and farm-runner (the daemon) agree on.
 *
 * Mostly pure functions (validation, tag templates, argv building, status
 * normalisation); the few that touch the store take a transaction and say so.
 * Nothing here runs a program, opens a socket or logs.
 *
 * A pipeline (FARM_T_PIPELINES, key = id, org in the store's header):
 *   {"id","name","workspace","stages":[{"name","type":"build","config":{
 *     "engine","dockerfile","context","tag","push","registry","tlsVerify","timeout"}}
 *     | {"name","type":"candor","credentialId","stages":[{"name","image","runtime"?,
 *        "environment"?,"script"?}],"archive"}],
 *    "orgId","createdAt","updatedAt","runs"}
 * A candor stage is run by a Candor runner (POST <runnerUrl>/run of the credential);
 * its run stage holds {"credentialId","plan":{"stages","archive"?},"runner":null|the
 * runner's answer {"status","stages","archived"?}} instead of tag and image.
 * A run (FARM_T_RUNS, key = id, org-indexed): a snapshot of the pipeline's stages
 * with per-stage status, times and error:
 *   {"id","pipelineId","pipelineName","number","version","commitSha","status",
 *    "error","workspace","orgId","createdAt","startedAt","finishedAt",
 *    "stages":[{"name","type","status","image","startedAt","finishedAt","error",
 *               "exitCode","config":{...}}]}
 * Run status: queued → running → success | failed.  Stage status: pending →
 * running → success | failed, or skipped after an earlier failure.
 * The run queue (FARM_T_META): key "runq:<16 hex ms>:<run id>", value "queued" or
 * "running"; farm-runner takes the oldest queued entry.
 */
#ifndef FARM_PIPELINE_H
#define FARM_PIPELINE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "store.h"

#define FARM_PIPELINE_NAME_MAX 200     /* pipeline and stage names, bytes */
#define FARM_PIPELINE_STAGES_MAX 32
#define FARM_PIPELINE_PATH_MAX 1024    /* workspace, dockerfile, context */
#define FARM_PIPELINE_TAG_MAX 255      /* a tag template, and a rendered image name */
#define FARM_PIPELINE_REGISTRY_MAX 255
#define FARM_PIPELINE_VERSION_MAX 128
#define FARM_PIPELINE_SHA_MIN 7
#define FARM_PIPELINE_SHA_MAX 64
#define FARM_PIPELINE_SHORT_SHA 7      /* what {{commitSha}} becomes */
#define FARM_PIPELINE_TIMEOUT_MAX 86400 /* seconds, per stage */
#define FARM_PIPELINE_IMAGE_MAX 512    /* registry + "/" + tag, with room */
#define FARM_PIPELINE_ARGV_MAX 16
#define FARM_PIPELINE_LOG_MAX (8L * 1024 * 1024) /* bytes of a run's log kept */
#define FARM_PIPELINE_CANDOR_STAGES_MAX 64 /* stages of a candor stage's plan */

/* The engines a build stage may name, for messages: "docker, buildah, podman". */
extern const char *const farm_pipeline_engines[];
/* 1 when e is one of farm_pipeline_engines (engine.c). */
int farm_pipeline_engine_known(const char *e);

/* ---- validation ------------------------------------------------------------------- */

/* Checks a POST /pipelines body (borrowed) and appends one message per problem to
 * `errors` (a JSON array): unknown properties, a missing or bad name, no stages,
 * an unknown stage type or engine, a missing tag or a template naming an unknown
 * variable, push without registry, a bad registry, a workspace, dockerfile or
 * context that is absolute, holds "..", a NUL or a control character.
 * Returns the number of problems.  When there is none, *out is a new object with
 * the defaults filled in and the paths normalised: {"name","workspace","stages"}
 * (engine "docker", dockerfile "<context>/Dockerfile", context ".", push false,
 * tlsVerify true, timeout null = the configured default).  *out is NULL otherwise. */
int farm_pipeline_check(json_t *in, json_t *errors, json_t **out);

/* Normalises a path relative to a workspace: "./a//b/" → "a/b", "" or "." → ".".
 * Refuses (0, with a reason in *why, a static string) an absolute path, a ".."
 * segment, a NUL (`len` is the real length: a JSON string may hold one), a control
 * character, a backslash, or a result over FARM_PIPELINE_PATH_MAX.  1 on success,
 * out (cap bytes) holding the result. */
int farm_pipeline_path_norm(const char *in, size_t len, char *out, size_t cap, const char **why);

/* 1 when `ref` is an image reference farm can tag and push: [domain[:port]/]name
 * components of lower-case letters and digits joined by ".", "_", "__" or "-"s,
 * separated by "/", then an optional ":tag" ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).
 * Never starts with "-" (it is an argv element). */
int farm_pipeline_ref_ok(const char *ref);

/* 1 when `reg` is host[:port][/namespace...] without a scheme. */
int farm_pipeline_registry_ok(const char *reg);

/* 1 when `v` may go into a tag: 1..128 of [A-Za-z0-9_.-], not starting with . or -. */
int farm_pipeline_version_ok(const char *v);
/* 1 when `sha` is 7..64 hex digits. */
int farm_pipeline_sha_ok(const char *sha);

/* Renders a tag template: "{{version}}" and "{{commitSha}}" (spaces allowed inside
 * the braces) become `version` and the first 7 characters of `sha`.  FARM_OK with
 * the result in out (cap bytes); FARM_E_INVAL with a reason in why for an unknown
 * or unterminated variable; FARM_E_TOOBIG when the result does not fit. */
int farm_pipeline_tag_render(const char *tmpl, const char *version, const char *sha, char *out,
			     size_t cap, char *why, size_t wcap);

/* Checks a POST /pipelines/:id/runs body (borrowed) against the pipeline
 * (borrowed, as stored): version and commitSha present and valid, no unknown
 * property, and every stage's tag renders to a valid image reference.  Appends
 * messages to `errors`; returns their number.  When none, *stages is a new array
 * of run stages {"name","type","status":"pending","image",...,"config"} with the
 * image reference each stage builds (registry-prefixed when it pushes). */
int farm_pipeline_run_check(json_t *pipeline, json_t *in, json_t *errors, json_t **stages);

/* ---- running a build stage ---------------------------------------------------------- */

enum farm_pipeline_step { FARM_PIPELINE_BUILD = 0, FARM_PIPELINE_PUSH = 1 };

/* An argv: v[0..n-1] strings owned by the struct, v[n] == NULL. */
struct farm_pipeline_argv {
	char *v[FARM_PIPELINE_ARGV_MAX + 1];
	size_t n;
};

/* What one step of a build stage runs, never through a shell:
 *   buildah --storage-driver vfs bud -f <dockerfile> -t <tag> <context>
 *   buildah --storage-driver vfs push --tls-verify=<bool> <tag> docker://<registry>/<tag>
 *   podman build -f <dockerfile> -t <tag> <context>
 *   podman push --tls-verify=<bool> <tag> docker://<registry>/<tag>
 *   docker build -f <dockerfile> -t <registry>/<tag> <context>   (push: the pushed name)
 *   docker push <registry>/<tag>          (TLS: the daemon's insecure-registries decide)
 * `tag` is the rendered tag template; `registry` may be NULL for the build step.
 * `engine_path` is argv[0] (the resolved binary).  FARM_OK, FARM_E_INVAL (unknown
 * engine or step, push without registry), FARM_E_NOMEM.  Clear with
 * farm_pipeline_argv_clear() in every case. */
int farm_pipeline_argv(struct farm_pipeline_argv *a, const char *engine, const char *engine_path,
		       enum farm_pipeline_step step, const char *dockerfile, const char *context,
		       const char *tag, const char *registry, int tls_verify);
/* NULL-safe; frees the strings and zeroes the struct. */
void farm_pipeline_argv_clear(struct farm_pipeline_argv *a);

/* Finds `name` in the colon-separated `path` (PATH; NULL or "" finds nothing):
 * the first absolute directory holding an executable regular file of that name.
 * FARM_OK with the full path in out; FARM_E_NOTFOUND; FARM_E_TOOBIG. */
int farm_pipeline_which(const char *name, const char *path, char *out, size_t cap);

/* 1 when an environment entry ("NAME=value") is passed to a build engine: PATH,
 * HOME, locale, TMPDIR, proxies, XDG_*, and the engines' own CONTAINERS_*,
 * BUILDAH_*, STORAGE_*, REGISTRY_AUTH_FILE, DOCKER_*; never FARM_* or JWT_SECRET. */
int farm_pipeline_env_keep(const char *entry);

/* "<state_dir>/runs/<run id>.log" into out.  The run id must be a lower-case UUID
 * (what farm generates): FARM_E_INVAL otherwise, so no user text reaches a path.
 * FARM_E_TOOBIG when it does not fit. */
int farm_pipeline_log_path(const char *state_dir, const char *run_id, char *out, size_t cap);

/* ---- the run queue and the run's events ------------------------------------------ */

#define FARM_PIPELINE_QUEUE_PREFIX "runq:"
/* "runq:<16 hex digits of created_ms>:<run id>" into out (cap >= 64). */
int farm_pipeline_queue_key(long long created_ms, const char *run_id, char *out, size_t cap);

/* The ci.build.updated event of a run's current state (borrowed run record):
 * {"event":"ci.build.updated","data":{"id":null,"provider":"farm","orgId",
 *  "credentialId":null,"project":<pipelineId>,"name":<pipelineName>,"buildId":<run id>,
 *  "number","status","providerStatus","branch":null,"commitSha","url","startedAt",
 *  "finishedAt","receivedAt","version","error"}}.  Returns new, NULL when out of memory. */
json_t *farm_pipeline_run_event(json_t *run, const char *now_iso);

/* The public view of a run: the record without internal members.  Returns new. */
json_t *farm_pipeline_run_public(json_t *run);

/* ---- catalog: component links and Argo CD status ---------------------------------- */

#define FARM_PIPELINE_COMPONENT_MAX 200

/* 1 when `id` (len bytes) is a component id: 1..200 printable ASCII characters
 * (0x20..0x7e), not starting or ending with a space.  Else 0 and a static reason. */
int farm_pipeline_component_id_ok(const char *id, size_t len, const char **why);

/* The FARM_T_CATALOG key of (org, component): "o<org>\0<id>" or "n\0<id>" (no org),
 * so two orgs may use the same component id.  Returns the length written, or
 * FARM_E_TOOBIG. */
int farm_pipeline_catalog_key(const char *org, const char *id, char *out, size_t cap);

#endif
