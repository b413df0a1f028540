/* fuzz-event-circleci.c - CircleCI's payload → event mapping (farm_event_from_circleci) on
 * arbitrary input: a webhook body (workflow-completed, job-completed, ping...).
 * Checks the event contract (fuzz-event.h): exactly the contract's members, a normalised
 * status, a dedupe key; nothing returned on failure; no crash, no leak.
 */
#include <stdint.h>

#include "event.h"
#include "fuzz-event.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *ev = NULL;
	char *key = NULL;
	struct farm_error err = {0};
	int rc = farm_event_from_circleci(data, size, &ev, &key, &err);

	if (rc != FARM_OK && rc != FARM_E_INVAL && rc != FARM_E_NOTFOUND && rc != FARM_E_TOOBIG &&
	    rc != FARM_E_NOMEM)
		abort(); /* outside the documented outcomes */
	if (rc != FARM_OK && !err.msg[0])
		abort(); /* a refusal says why */
	fuzz_check_event(rc, ev, key);
	return 0;
}
