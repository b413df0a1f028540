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

const char *farm_json_error_reason(const json_error_t *je)
{
	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "unexpected end of input";
	case json_error_end_of_input_expected:
		return "text after the JSON value";
	case json_error_null_character:
		return "NUL character in a string";
	case json_error_null_byte_in_key:
		return "NUL byte in an object key";
	case json_error_duplicate_key:
		return "duplicate object key";
	case json_error_numeric_overflow:
		return "number out of range";
	default:
		return "invalid syntax";
	}
}
