/* farm-wsd-query.c - the handshake's query: ?access_token= and ?since=.
 *
 * libwebsockets splits the query at '&' and %-decodes each argument; its own lookup
 * (lws_get_urlarg_by_name) copies arguments one by one into the caller's buffer and
 * gives up at the first that does not fit, so `?access_token=<jwt>&since=0` lost the
 * since.  The bridge copies every argument (farm-wsd-conn.c) and parses them here.
 */
#include "farm-wsd-query.h"

#include <string.h>

#include "banned.h"

#define SINCE_BAD "since must be an event id (a non-negative integer)"

/* Digits only, at least one, no sign, no space, no overflow of 64 bits. */
static int parse_id(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int wsd_query_parse(const char *args, size_t len, struct wsd_query *q, const char **why)
{
	size_t pos = 0;

	memset(q, 0, sizeof(*q));
	*why = NULL;
	while (pos < len) {
		const char *item = args + pos, *nul = memchr(item, '\0', len - pos), *eq, *val;
		size_t ilen = nul ? (size_t)(nul - item) : len - pos, nlen, vlen;

		pos += ilen + 1;
		eq = memchr(item, '=', ilen);
		nlen = eq ? (size_t)(eq - item) : ilen;
		val = eq ? eq + 1 : item + ilen;
		vlen = eq ? ilen - nlen - 1 : 0;
		if (nlen == 12 && memcmp(item, "access_token", 12) == 0) {
			if (q->token) {
				*why = "access_token given twice";
				return -1;
			}
			q->token = val;
			q->token_len = vlen;
		} else if (nlen == 5 && memcmp(item, "since", 5) == 0) {
			if (q->has_since) {
				*why = "since given twice";
				return -1;
			}
			if (!eq || parse_id(val, vlen, &q->since) < 0) {
				*why = SINCE_BAD;
				return -1;
			}
			q->has_since = 1;
		}
	}
	return 0;
}
