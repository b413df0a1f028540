/* fuzz-router.c - the router's path splitting and per-segment percent-decoding
 * (farm_path_parse, farm_pct_decode) and table matching (farm_router_match).
 *
 * Input: the method on the first line, then the URI (no '\n': the whole input is the
 * URI of a GET; the URI ends at its first NUL, as a CGI parameter does).
 * Besides "no crash, no leak", it checks the contracts: a parsed path has at most
 * FARM_ROUTER_MAX_SEGS segments, each NUL-terminated and free of NUL; re-encoding the
 * segments gives a path that parses to the same segments; a match's params are as many
 * as its pattern's ':' segments, none empty; a 405 names the methods; farm_pct_decode
 * never writes past its capacity and ends its output with NUL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#include "banned.h"

static int h(struct farm_req *r)
{
	(void)r;
	return 0;
}

static const struct farm_route routes[] = {
	{"GET", "/api/v1/health", h, 0},
	{"GET", "/api/v1/integrations/credentials", h, FARM_ROUTE_AUTH},
	{"POST", "/api/v1/integrations/credentials", h, FARM_ROUTE_ADMIN | FARM_ROUTE_JSON},
	{"PATCH", "/api/v1/integrations/credentials/:id", h, FARM_ROUTE_ADMIN},
	{"DELETE", "/api/v1/integrations/credentials/:id", h, FARM_ROUTE_ADMIN},
	{"POST", "/api/v1/circleci/pipelines/:slug/trigger", h, 0},
	{"GET", "/api/v1/jenkins/jobs/:name/builds/:number", h, 0},
	{"POST", "/webhooks/:platform", h, FARM_ROUTE_BODY},
	{"POST", "/webhooks/:platform/:credentialId", h, FARM_ROUTE_BODY},
};
#define NR (sizeof(routes) / sizeof(routes[0]))

static size_t colons(const char *pattern)
{
	size_t n = 0;

	for (const char *s = pattern; *s; s++)
		n += s[0] == ':' && s > pattern && s[-1] == '/';
	return n;
}

static int in_buf(const struct farm_path *p, const char *s)
{
	return s >= p->buf && s < p->buf + sizeof(p->buf);
}

/* Every byte outside [A-Za-z0-9-._~] as %XX: the re-encoded path. */
static size_t encode(const struct farm_path *p, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t k = 0; k < p->nseg; k++) {
		if (o + 1 >= cap)
			return 0;
		out[o++] = '/';
		for (size_t i = 0; i < p->seglen[k]; i++) {
			unsigned char c = (unsigned char)p->seg[k][i];
			if (o + 4 >= cap)
				return 0;
			if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || strchr("-._~", c)) {
				out[o++] = (char)c;
			} else {
				out[o++] = '%';
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
			}
		}
	}
	if (o == 0 || o >= cap)
		return 0;
	out[o] = '\0';
	return o;
}

static void check_path(const struct farm_path *p)
{
	static struct farm_path again;
	static char enc[3 * FARM_ROUTER_MAX_PATH + 64];

	if (p->nseg > FARM_ROUTER_MAX_SEGS)
		abort();
	for (size_t k = 0; k < p->nseg; k++)
		if (!in_buf(p, p->seg[k]) || strlen(p->seg[k]) != p->seglen[k])
			abort();
	if (p->nseg == 0)
		return; /* "/" alone: nothing to re-encode */
	/* An empty last segment is dropped by the parser ("/a/" == "/a"): no round trip. */
	if (p->seglen[p->nseg - 1] == 0 || encode(p, enc, sizeof(enc)) == 0)
		return;
	if (farm_path_parse(&again, enc) != FARM_OK)
		return; /* the encoding is longer than the buffer allows */
	if (again.nseg != p->nseg)
		abort();
	for (size_t k = 0; k < p->nseg; k++)
		if (again.seglen[k] != p->seglen[k] ||
		    memcmp(again.seg[k], p->seg[k], p->seglen[k]) != 0)
			abort();
}

static void check_match(const char *method, const struct farm_path *p)
{
	struct farm_match m;
	int rc = farm_router_match(routes, NR, method, p, &m);

	if (rc == FARM_OK) {
		if (!m.route || m.route < routes || m.route >= routes + NR ||
		    m.nparams != colons(m.route->pattern))
			abort();
		for (size_t i = 0; i < m.nparams; i++)
			if (!in_buf(p, m.params[i]) || !*m.params[i])
				abort();
	} else if (rc == FARM_E_CONFLICT) {
		if (!m.allow[0] || !memchr(m.allow, '\0', sizeof(m.allow)))
			abort();
	} else if (rc != FARM_E_NOTFOUND) {
		abort();
	}
}

static void check_decode(const uint8_t *data, size_t size)
{
	char out[64];
	size_t caps[] = {0, 1, 2, 7, sizeof(out)};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		long n;

		memset(out, 'Z', sizeof(out));
		n = farm_pct_decode((const char *)data, size, out, caps[i]);
		if (n < -1 || (n >= 0 && ((size_t)n >= caps[i] || out[n] != '\0' ||
					  (size_t)n > size || strlen(out) != (size_t)n)))
			abort();
		for (size_t j = caps[i]; j < sizeof(out); j++)
			if (out[j] != 'Z')
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct farm_path p;
	const uint8_t *nl = memchr(data, '\n', size);
	char *method = NULL, *uri;
	size_t mlen;

	if (nl) {
		mlen = (size_t)(nl - data);
		if (!(method = malloc(mlen + 1)))
			abort();
		memcpy(method, data, mlen);
		method[mlen] = '\0';
		data = nl + 1;
		size -= mlen + 1;
	}
	if (!(uri = malloc(size + 1)))
		abort();
	memcpy(uri, data, size);
	uri[size] = '\0';
	check_decode((const uint8_t *)uri, strlen(uri));
	if (farm_path_parse(&p, uri) == FARM_OK) {
		check_path(&p);
		check_match(method ? method : "GET", &p);
		check_match("HEAD", &p);
	}
	free(uri);
	free(method);
	return 0;
}
