/* argocd.h - the Argo CD module (argocd.c): its descriptor and its operations. */
#ifndef FARM_PLATFORM_ARGOCD_H
#define FARM_PLATFORM_ARGOCD_H

#include "platform.h"

extern const struct farm_platform farm_platform_argocd;

int farm_provider_argocd_list(struct farm_provider_call *c, json_t **out);
int farm_provider_argocd_get(struct farm_provider_call *c, const char *name, json_t **out);
/* body: the caller's JSON object (borrowed; may be NULL): revision, prune, dryRun,
 * strategy, resources, syncOptions. */
int farm_provider_argocd_sync(struct farm_provider_call *c, const char *name, json_t *body,
			      json_t **out);
/* 1 when name is a valid Argo CD application (Kubernetes object) name; else 0 and
 * a reason in why. */
int farm_provider_argocd_name_ok(const char *name, char *why, size_t cap);

/* ---- argocd-app.c ---- */

struct farm_txn;

/* The descriptor's deploy hooks: catalog links {"argocdApp"}, the CI/CD tab, polling. */
extern const struct farm_platform_deploy farm_argocd_deploy;

/* Normalises Argo CD words (providers.md §9.2): an operation running (op_running,
 * or phase Running/Terminating) → running; a last operation Failed/Error → failed /
 * error; else health (Progressing running, Healthy success, Degraded failed,
 * Suspended/Missing unstable, Unknown unknown), where a healthy but OutOfSync app is
 * unstable; no health → the sync word.  *word (may be NULL) gets the raw word that
 * decided.  Returns a static string. */
const char *farm_provider_argocd_status(const char *health, const char *sync, const char *phase,
					int op_running, const char **word);

/* The CI/CD tab's view of an Argo CD Application (borrowed):
 * {"health":{"status","message"},"sync":{"status","revision"},
 *  "operation":{"phase","startedAt","finishedAt","message"},"status","providerStatus",
 *  "project","targetRevision","reconciledAt"}; absent fields are null.  Returns new. */
json_t *farm_provider_argocd_summary(json_t *app);

/* An Argo CD Notifications webhook body → the same summary plus "app" (the name).
 * Accepted bodies: {"app":"<name>", "health","sync","phase","revision","startedAt",
 * "finishedAt","message","project"} (flat words, as a template writes them), or
 * {"app":{Application}} (from {{toJson .app}}), or a bare Application.  Empty
 * strings count as absent.  FARM_OK with *out new; FARM_E_INVAL with err->msg
 * (malformed JSON, no application name, a field of the wrong type); FARM_E_NOMEM. */
int farm_provider_argocd_webhook(const void *body, size_t len, json_t **out,
				 struct farm_error *err);

/* Inside a transaction: records what was observed of application `app` in `org`
 * (NULL: no org) and, only when it differs from the previous observation (health,
 * sync status, phase, revision, finishedAt), appends a ci.build.updated event
 * {"provider":"argocd","project","name":<app>,"buildId":<app> (its runId),
 * "status","providerStatus","health","sync","phase","commitSha":<revision>,
 * "source":<source>,...} to the outbox.  `summary` is a summary as above (borrowed).
 * *emitted is 1 when an event was appended.  Shared by the webhook receiver and the
 * poller, so one change gives one event whichever sees it first. */
/* The run object of an application (GET /runs/argocd/:app): the event an observation
 * of `summary` emits, its data without id, orgId, credentialId, receivedAt and source,
 * buildId being the application's name (its runId) as in the event.  New; NULL when out of memory. */
json_t *farm_provider_argocd_run(const char *app, json_t *summary);

int farm_provider_argocd_observe(struct farm_txn *t, const char *org, const char *cred_id,
				 const char *app, json_t *summary, const char *source,
				 const char *now_iso, int *emitted);

#endif
