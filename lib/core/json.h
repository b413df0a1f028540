/* json.h - Jansson set-up shared by every farm program. */
#ifndef FARM_JSON_H
#define FARM_JSON_H

#include <jansson.h>

/* Installs allocators that wipe every Jansson buffer when it is freed, so parsed
 * request bodies and decrypted credential values leave no copy in freed memory.
 * Call once, before any thread starts and before any JSON is created. */
void farm_json_init(void);

/* Wipes and frees a string returned by json_dumps() (plain free() also works). */
void farm_json_free(void *p);

/* What went wrong in a failed json_load*(), as a fixed phrase ("invalid syntax",
 * "duplicate object key", ...) chosen by the error's code: never je->text, which quotes
 * the input (a secret in a malformed body would come back in the error).  Say where
 * with je->line, je->column and je->position.  Static, never NULL. */
const char *farm_json_error_reason(const json_error_t *je);

/* A message for a response or an error list: json_string(s), except that bytes which
 * are not valid UTF-8 (a request's raw bytes, or a multi-byte character cut by a
 * bounded snprintf) become '?' instead of making json_string fail, so a message is
 * never lost.  Returns new; NULL only for NULL `s` or out of memory. */
json_t *farm_json_message(const char *s);

#endif
