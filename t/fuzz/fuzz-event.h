/* fuzz-event.h - the event contract the payload → event targets check (architecture.md,
 * events): included by fuzz-webhook.c and fuzz-event-<platform>.c only. */
#ifndef FARM_FUZZ_EVENT_H
#define FARM_FUZZ_EVENT_H

#include <stdint.h>
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

/* One payload -> event mapper (farm_event_from_<platform>) on arbitrary input: only the
 * documented outcomes, a refusal that says why, then the event contract above. */
typedef int (*fuzz_event_map_fn)(const void *body, size_t len, json_t **data, char **key,
				 struct farm_error *err);
static inline int fuzz_event_map(fuzz_event_map_fn map, const uint8_t *data, size_t size)
{
	json_t *ev = NULL;
	char *key = NULL;
	struct farm_error err = {0};
	int rc = map(data, size, &ev, &key, &err);

	if (rc != FARM_OK && rc != FARM_E_INVAL && rc != FARM_E_NOTFOUND && rc != FARM_E_TOOBIG &&
	    rc != FARM_E_NOMEM)
		abort(); /* outside the documented outcomes */
	if (rc != FARM_OK && !err.msg[0])
		abort(); /* a refusal says why */
	fuzz_check_event(rc, ev, key);
	return 0;
}

#endif
