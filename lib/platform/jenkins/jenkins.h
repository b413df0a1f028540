/* jenkins.h - the Jenkins module (jenkins.c): its descriptor and its operations. */
#ifndef FARM_PLATFORM_JENKINS_H
#define FARM_PLATFORM_JENKINS_H

#include "platform.h"

extern const struct farm_platform farm_platform_jenkins;

int farm_provider_jenkins_jobs(struct farm_provider_call *c, json_t **out);
int farm_provider_jenkins_builds(struct farm_provider_call *c, const char *name, long limit,
				 json_t **out);
/* params: an object of scalars (borrowed) -> buildWithParameters; NULL -> build. */
int farm_provider_jenkins_build(struct farm_provider_call *c, const char *name, json_t *params,
				json_t **out);
/* "a/b" -> "job/a/job/b" with each segment percent-encoded (arena); NULL and a
 * reason in why when the name is not acceptable. */
char *farm_provider_jenkins_job_path(struct farm_arena *a, const char *name, char *why,
				     size_t cap);
#define FARM_JENKINS_FOLDER_DEPTH 4 /* folder levels expanded in the job list */

/* The webhook payload -> the event's fields (lib/events/event.h, "for the platform
 * modules"). */
int farm_event_from_jenkins(const void *body, size_t len, json_t **data, char **dedupe_key,
			    struct farm_error *err);

#endif
