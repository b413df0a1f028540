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

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) /* a NUL ends the check: it is no continuation byte */
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

json_t *farm_json_message(const char *s)
{
	json_t *j;
	char *c;
	size_t i = 0, n;

	if (!s)
		return NULL;
	if ((j = json_string(s)) != NULL)
		return j;
	if (!(c = strdup(s)))
		return NULL;
	while (c[i]) {
		if ((n = utf8_len((const unsigned char *)c + i)) == 0)
			c[i++] = '?';
		else
			i += n;
	}
	j = json_string(c);
	free(c);
	return j;
}
