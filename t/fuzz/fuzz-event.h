/* fuzz-event.h - the event contract the payload → event targets check (architecture.md,
 * events): included by fuzz-webhook.c and fuzz-event-<platform>.c only. */
#ifndef FARM_FUZZ_EVENT_H
#define FARM_FUZZ_EVENT_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "err.h"

/* 1 when `st` is one of the normalised statuses (providers.md §9.2). */
static inline int fuzz_status_ok(const char *st)
{
	static const char *const statuses[] = {"queued",   "running", "success",  "failed",
					       "canceled", "error",   "unstable", "unknown"};

	for (size_t i = 0; st && i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (strcmp(st, statuses[i]) == 0)
			return 1;
	return 0;
}

/* A parser's outcome: on FARM_OK an object with exactly the contract's members, a
 * normalised status and a dedupe key; otherwise no output at all.  Frees both. */
static inline void fuzz_check_event(int rc, json_t *data, char *key)
{
	static const char *const fields[] = {
	    "provider",	      "project", "name",      "buildId", "number",    "status",
	    "providerStatus", "branch",	 "commitSha", "url",	 "startedAt", "finishedAt"};
	json_t *id;

	if (rc != FARM_OK) {
		if (data || key)
			abort();
		return;
	}
	if (!json_is_object(data) || !key || !*key ||
	    json_object_size(data) != sizeof(fields) / sizeof(fields[0]))
		abort();
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!json_object_get(data, fields[i]))
			abort();
	id = json_object_get(data, "buildId");
	if (!fuzz_status_ok(json_string_value(json_object_get(data, "status"))) ||
	    !(json_is_string(id) || json_is_null(id)))
		abort();
	json_decref(data);
	free(key);
}

#endif
