/* fuzz-event-argocd.c - Argo CD's payload → event mapping: a Notifications webhook body
 * (farm_provider_argocd_webhook) and the status words it normalises
 * (farm_provider_argocd_status), on arbitrary input.
 * Checks the contract (pipeline.h): on FARM_OK a summary object naming the app, with
 * a normalised status and the summary's members; nothing returned and a reason on
 * failure; no crash, no leak.
 */
#include <stdint.h>

#include "event.h"
#include "fuzz-event.h"
#include "pipeline.h"
#include "argocd.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const members[] = {"health", "sync", "operation", "status",
					      "providerStatus", "project", "app"};
	json_t *sum = NULL;
	struct farm_error err = {0};
	int rc = farm_provider_argocd_webhook(data, size, &sum, &err);

	if (rc != FARM_OK) {
		if (sum || !err.msg[0] ||
		    (rc != FARM_E_INVAL && rc != FARM_E_TOOBIG && rc != FARM_E_NOMEM))
			abort();
		return 0;
	}
	if (!json_is_object(sum) || !json_string_length(json_object_get(sum, "app")) ||
	    !fuzz_status_ok(json_string_value(json_object_get(sum, "status"))))
		abort();
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		if (!json_object_get(sum, members[i]))
			abort();
	json_decref(sum);
	return 0;
}
