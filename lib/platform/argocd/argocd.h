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

#endif
