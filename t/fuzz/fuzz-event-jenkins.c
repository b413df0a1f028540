/* fuzz-event-jenkins.c - Jenkins's payload → event mapping (farm_event_from_jenkins) on
 * arbitrary input: a Notification plugin body.
 * Checks the event contract (fuzz-event.h): exactly the contract's members, a normalised
 * status, a dedupe key; nothing returned on failure; no crash, no leak.
 */
#include <stdint.h>

#include "event.h"
#include "jenkins.h"
#include "fuzz-event.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_event_map(farm_event_from_jenkins, data, size);
}
