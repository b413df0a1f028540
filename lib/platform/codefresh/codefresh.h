/* codefresh.h - the Codefresh module (codefresh.c): its descriptor and its operations. */
#ifndef FARM_PLATFORM_CODEFRESH_H
#define FARM_PLATFORM_CODEFRESH_H

#include "platform.h"

extern const struct farm_platform farm_platform_codefresh;

/* 1 when id is a Codefresh build id (24 hex digits, an ObjectId); else 0 and why. */
int farm_provider_codefresh_id_ok(const char *id, char *why, size_t cap);
/* 1 when name is "project/pipeline" as Codefresh names a pipeline; else 0 and why. */
int farm_provider_codefresh_name_ok(const char *name, char *why, size_t cap);

/* GET /api/builds/<id>: the build as Codefresh answers it (*out new). */
int farm_provider_codefresh_build(struct farm_provider_call *c, const char *id, json_t **out);
/* A build -> the event's fields (new; lib/events/event.h); base: the web root for
 * the build's url ("https://g.codefresh.io"), may be NULL. */
json_t *farm_provider_codefresh_fields(json_t *build, const char *base);

#endif
