/* fuzz-event-codefresh.c - what farm makes of a Codefresh build answer (the run the
 * pipeline hook names and the watcher reads): farm_provider_codefresh_fields on
 * arbitrary JSON, and the id and name checks on the raw input.
 * Checks: an answer with a string "id" gives exactly the event's members (fuzz-event.h
 * contract, no dedupe key: the observation replaces it), a normalised status, buildId
 * the id, a url under the base; anything else gives nothing; an accepted build id is
 * 24 lower-case hex digits; an accepted pipeline name is project/pipeline of safe
 * characters, neither part "." or "..".  No crash, no leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codefresh.h"
#include "event.h"
#include "fuzz-event.h"

#include "banned.h"

#define BASE "https://g.codefresh.io"

static void check_fields(json_t *b)
{
	const char *id = json_string_value(json_object_get(b, "id"));
	json_t *f = farm_provider_codefresh_fields(b, BASE);
	char *key;

	if (!id || !*id) {
		if (f)
			abort();
		return;
	}
	if (!f) /* out of memory only */
		return;
	if (!json_is_string(json_object_get(f, "buildId")) ||
	    strcmp(json_string_value(json_object_get(f, "buildId")), id) ||
	    !json_is_string(json_object_get(f, "url")) ||
	    strncmp(json_string_value(json_object_get(f, "url")), BASE "/build/", strlen(BASE) + 7))
		abort();
	key = strdup("codefresh"); /* the contract wants one; the observation is keyed */
	fuzz_check_event(FARM_OK, f, key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), why[256];
	json_t *b;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (farm_provider_codefresh_id_ok(s, why, sizeof(why)) &&
	    (strlen(s) != 24 || strspn(s, "0123456789abcdef") != 24))
		abort();
	if (farm_provider_codefresh_name_ok(s, why, sizeof(why))) {
		const char *slash = strchr(s, '/');
		size_t pl = slash ? (size_t)(slash - s) : 0;
		if (!slash || strchr(slash + 1, '/') || !pl || !slash[1] ||
		    (pl == 1 && s[0] == '.') || (pl == 2 && !strncmp(s, "..", 2)) ||
		    !strcmp(slash + 1, "..") || !strcmp(slash + 1, ".") ||
		    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/") !=
			    strlen(s))
			abort();
	}
	free(s);
	b = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	check_fields(b);
	json_decref(b);
	return 0;
}
