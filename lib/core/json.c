/* json.c - wiping allocators for Jansson.
 *
 * Blocks come from plain malloc, so anything Jansson returns (json_dumps) may still
 * be released with free(); Jansson's own frees wipe the whole usable block first. */
#include "json.h"

#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static void wipe_free(void *ptr)
{
	if (!ptr)
		return;
	explicit_bzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

void farm_json_init(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

void farm_json_free(void *p)
{
	wipe_free(p);
}
