/* fuzz-wsquery.c - the WebSocket handshake's query parser (fcgi/farm-wsd/farm-wsd-query.c)
 * on arbitrary arguments: as given (NUL-separated, as libwebsockets hands them over) and
 * split at '&' like a raw query.  Checks: the token points inside the input and ends
 * before the argument does; an accepted since is the value of a since=<digits>; the
 * same arguments in reverse order give the same answer (order never matters). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fcgi/farm-wsd/farm-wsd-query.c"

static int parse_checked(const char *a, size_t n, struct wsd_query *q)
{
	const char *why = NULL;
	int rc = wsd_query_parse(a, n, q, &why);

	if (rc != 0 && rc != -1)
		abort();
	if (rc < 0)
		return why ? -1 : (abort(), -1);
	if (why)
		abort();
	if (q->token) {
		if (q->token < a || q->token + q->token_len > a + n)
			abort();
		if (memchr(q->token, '\0', q->token_len))
			abort();
	}
	if (q->has_since) {
		const char *p = a;
		int found = 0;
		/* Some "since=<digits>" argument of the input spells this id (leading
		 * zeros allowed). */
		while (p < a + n) {
			const char *e = memchr(p, '\0', (size_t)(a + n - p));
			size_t l = e ? (size_t)(e - p) : (size_t)(a + n - p), i = 6;
			uint64_t v = 0;
			if (l > 6 && memcmp(p, "since=", 6) == 0) {
				for (; i < l && p[i] >= '0' && p[i] <= '9'; i++)
					v = v * 10 + (uint64_t)(p[i] - '0');
				if (i == l && v == q->since)
					found = 1;
			}
			p += l + 1;
		}
		if (!found)
			abort();
	}
	return 0;
}

/* The same arguments, last first, each ended by a NUL; its length in *rn. */
static char *reversed(const char *a, size_t n, size_t *rn)
{
	size_t *start = malloc((n + 1) * sizeof(*start)), *len = malloc((n + 1) * sizeof(*len));
	size_t k = 0, pos = 0, w = 0;
	char *r = malloc(2 * n + 1);

	if (!start || !len || !r) {
		free(start);
		free(len);
		free(r);
		return NULL;
	}
	while (pos < n) { /* the items as wsd_query_parse sees them */
		const char *e = memchr(a + pos, '\0', n - pos);
		len[k] = e ? (size_t)(e - (a + pos)) : n - pos;
		start[k++] = pos;
		pos += len[k - 1] + 1;
	}
	while (k-- > 0) {
		memcpy(r + w, a + start[k], len[k]);
		w += len[k];
		r[w++] = '\0';
	}
	free(start);
	free(len);
	*rn = w;
	return r;
}

static void one(const char *a, size_t n)
{
	struct wsd_query q1, q2;
	size_t rn = 0;
	char *r = reversed(a, n, &rn);
	int rc1, rc2;

	rc1 = parse_checked(a, n, &q1);
	if (!r)
		return;
	rc2 = parse_checked(r, rn, &q2);
	if (rc1 != rc2)
		abort();
	if (rc1 == 0 && (q1.has_since != q2.has_since || q1.since != q2.since ||
			 !q1.token != !q2.token || q1.token_len != q2.token_len ||
			 (q1.token && memcmp(q1.token, q2.token, q1.token_len) != 0)))
		abort();
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = malloc(size + 1);

	if (!a)
		return 0;
	memcpy(a, data, size);
	a[size] = '\0';
	one(a, size);
	for (size_t i = 0; i < size; i++)
		if (a[i] == '&')
			a[i] = '\0';
	one(a, size);
	free(a);
	return 0;
}
