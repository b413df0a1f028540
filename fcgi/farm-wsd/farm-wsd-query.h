/* farm-wsd-query.h - the handshake's query arguments (no libwebsockets here, so that
 * t/fuzz/fuzz-wsquery.c can build the parser alone). */
#ifndef FARM_WSD_QUERY_H
#define FARM_WSD_QUERY_H

#include <stddef.h>
#include <stdint.h>

struct wsd_query {
	const char *token;      /* ?access_token= value (points into the input), NULL: absent */
	size_t token_len;
	int has_since;
	uint64_t since;
};

/* Parses the query of GET /api/v1/events as libwebsockets hands it over: `len` bytes of
 * "name=value" arguments (already %-decoded), each ended by a NUL (the last one may end
 * at `len` instead).  Every argument is looked at, whatever its length or position:
 * `access_token` and `since` may come in either order.  Unknown names are ignored.
 * 0 on success; -1 with *why set (a message for the 400 answer) when since is not a
 * decimal id (digits only, <= 2^64-1) or when access_token or since is given twice. */
int wsd_query_parse(const char *args, size_t len, struct wsd_query *q, const char **why);

#endif
