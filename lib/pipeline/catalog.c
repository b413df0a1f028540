/* catalog.c - catalog components: ids and record keys (pipeline.h). */
#include "pipeline.h"

#include <string.h>

#include "banned.h"

/* ---- catalog ---------------------------------------------------------------------------- */

int farm_pipeline_component_id_ok(const char *id, size_t len, const char **why)
{
	*why = NULL;
	if (!id || len == 0) {
		*why = "component id must not be empty";
		return 0;
	}
	if (len > FARM_PIPELINE_COMPONENT_MAX) {
		*why = "component id must be at most 200 characters";
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)id[i] < 0x20 || (unsigned char)id[i] > 0x7e) {
			*why = "component id must be printable ASCII characters";
			return 0;
		}
	if (id[0] == ' ' || id[len - 1] == ' ') {
		*why = "component id must not start or end with a space";
		return 0;
	}
	return 1;
}

int farm_pipeline_catalog_key(const char *org, const char *id, char *out, size_t cap)
{
	size_t ol = org ? strlen(org) : 0, il = id ? strlen(id) : 0, n = 1 + ol + 1 + il;

	if (!id || n > cap)
		return FARM_E_TOOBIG;
	out[0] = org ? 'o' : 'n';
	memcpy(out + 1, org ? org : "", ol);
	out[1 + ol] = '\0';
	memcpy(out + 2 + ol, id, il);
	return (int)n;
}
