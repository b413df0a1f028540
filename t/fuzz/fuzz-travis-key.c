/* fuzz-travis-key.c - the Travis CI key answer: the body of `GET /config`
 * (farm_webhook_travis_key_from_config) on arbitrary input, and the key it yields
 * handed to the signature check (farm_webhook_travis_verify) as the receiver does.
 * Checks the contract (webhook.h): on FARM_OK a NUL-terminated, non-empty PEM of at
 * most FARM_WEBHOOK_PEM_MAX bytes; on failure no output and one of the documented
 * codes; a key that is not RSA is refused without a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char payload[] = "{\"id\":1,\"state\":\"passed\"}";
	char *pem = (char *)data; /* must be replaced by NULL or a new string */
	size_t len;
	int rc = farm_webhook_travis_key_from_config((const char *)data, size, &pem);

	if (rc != FARM_OK) {
		if (pem || (rc != FARM_E_INVAL && rc != FARM_E_NOTFOUND && rc != FARM_E_NOMEM))
			abort();
		return 0;
	}
	if (!pem || !(len = strlen(pem)) || len > FARM_WEBHOOK_PEM_MAX)
		abort();
	/* Whatever key it is, a made-up signature does not verify. */
	rc = farm_webhook_travis_verify(pem, len, "c2lnbmF0dXJl", payload, sizeof(payload) - 1);
	if (rc == FARM_OK)
		abort();
	free(pem);
	return 0;
}
