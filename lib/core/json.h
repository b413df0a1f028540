/* json.h - Jansson set-up shared by every farm program. */
#ifndef FARM_JSON_H
#define FARM_JSON_H

/* Installs allocators that wipe every Jansson buffer when it is freed, so parsed
 * request bodies and decrypted credential values leave no copy in freed memory.
 * Call once, before any thread starts and before any JSON is created. */
void farm_json_init(void);

/* Wipes and frees a string returned by json_dumps() (plain free() also works). */
void farm_json_free(void *p);

#endif
