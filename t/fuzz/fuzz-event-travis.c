/* fuzz-event-travis.c - Travis CI's payload → event mapping (farm_event_from_travis) on
 * arbitrary input: the form-decoded `payload` field Travis signs.
 * Checks the event contract (fuzz-event.h): exactly the contract's members, a normalised
 * status, a dedupe key; nothing returned on failure; no crash, no leak.
 */
#include <stdint.h>

#include "event.h"
#include "travisci.h"
#include "fuzz-event.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_event_map(farm_event_from_travis, data, size);
}
