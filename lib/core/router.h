/* router.h - the table-driven router.
 *
 * A route is method + pattern ("/api/v1/integrations/credentials/:id") + handler +
 * policy flags.  Paths are split on '/' from the raw REQUEST_URI (query removed) and
 * each segment is percent-decoded on its own, so "gh%2Forg%2Frepo" is one segment.
 */
#ifndef FARM_ROUTER_H
#define FARM_ROUTER_H

#include <stddef.h>

#include "err.h"

#define FARM_ROUTER_MAX_SEGS 32
#define FARM_ROUTER_MAX_PARAMS 4
#define FARM_ROUTER_MAX_PATH 4096

enum farm_route_flags {
	FARM_ROUTE_AUTH = 1 << 0,  /* a valid JWT is required (401) */
	FARM_ROUTE_ADMIN = 1 << 1, /* ... with the admin role (403) */
	FARM_ROUTE_JSON = 1 << 2,  /* the body must be a JSON object (400) */
	FARM_ROUTE_BODY = 1 << 3,  /* the raw body is read (webhooks) */
	FARM_ROUTE_ADMINLOC = 1 << 4, /* operator-only location (nginx restricts it) */
};

struct farm_req;
typedef int (*farm_handler)(struct farm_req *r);

struct farm_route {
	const char *method;
	const char *pattern;
	farm_handler handler;
	unsigned flags;
};

/* A split and decoded path.  Segments point into `buf`. */
struct farm_path {
	char buf[FARM_ROUTER_MAX_PATH];
	const char *seg[FARM_ROUTER_MAX_SEGS];
	size_t seglen[FARM_ROUTER_MAX_SEGS];
	size_t nseg;
};

/* Splits `uri` (up to '?' or the end) and percent-decodes each segment.
 * FARM_E_INVAL for a bad escape, a decoded NUL, or too many/too long segments. */
int farm_path_parse(struct farm_path *p, const char *uri);

/* Percent-decodes `in` (len bytes) into out (capacity cap, NUL-terminated).
 * '+' is kept as is (paths, not forms).  Returns the decoded length or -1. */
long farm_pct_decode(const char *in, size_t len, char *out, size_t cap);
/* The same for query strings and form bodies: '+' is a space. */
long farm_form_decode(const char *in, size_t len, char *out, size_t cap);

struct farm_match {
	const struct farm_route *route;
	const char *params[FARM_ROUTER_MAX_PARAMS];
	size_t nparams;
	char allow[128]; /* "GET, POST" when the path exists under other methods */
};

/* FARM_OK with m->route set; FARM_E_NOTFOUND (404) when no pattern matches the
 * path; FARM_E_CONFLICT when the path matches under other methods only (405, with
 * m->allow).  HEAD matches GET routes. */
int farm_router_match(const struct farm_route *table, size_t n, const char *method,
		      const struct farm_path *p, struct farm_match *m);

#endif
