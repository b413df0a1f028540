/* test-router.c - path splitting, per-segment decoding, 404/405 matching. */
#include <string.h>

#include "crypto.h"
#include "req.h"
#include "router.h"
#include "tap.h"

static int h(struct farm_req *r)
{
	(void)r;
	return 0;
}

static const struct farm_route routes[] = {
	{"GET", "/api/v1/health", h, 0},
	{"GET", "/api/v1/integrations/credentials", h, FARM_ROUTE_AUTH},
	{"POST", "/api/v1/integrations/credentials", h, FARM_ROUTE_ADMIN | FARM_ROUTE_AUTH},
	{"PATCH", "/api/v1/integrations/credentials/:id", h, FARM_ROUTE_ADMIN},
	{"DELETE", "/api/v1/integrations/credentials/:id", h, FARM_ROUTE_ADMIN},
	{"POST", "/api/v1/circleci/pipelines/:slug/trigger", h, 0},
	{"GET", "/api/v1/jenkins/jobs/:name/builds", h, 0},
};
#define NR (sizeof(routes) / sizeof(routes[0]))

int main(void)
{
	struct farm_path p;
	struct farm_match m;
	char out[64];

	ok(farm_path_parse(&p, "/api/v1/health") == FARM_OK && p.nseg == 3, "three segments");
	is_str(p.seg[2], "health", "last segment");
	ok(farm_path_parse(&p, "/api/v1/health?x=1&y=%2F") == FARM_OK && p.nseg == 3,
	   "query string is not part of the path");
	ok(farm_path_parse(&p, "/api/v1/health/") == FARM_OK && p.nseg == 3, "trailing slash ignored");
	ok(farm_path_parse(&p, "/api/v1/circleci/pipelines/gh%2Forg%2Frepo/trigger") == FARM_OK &&
		   p.nseg == 6,
	   "%2F does not split a segment");
	is_str(p.seg[4], "gh/org/repo", "segment decoded after the split");
	ok(farm_path_parse(&p, "/a/%zz") == FARM_E_INVAL, "bad escape refused");
	ok(farm_path_parse(&p, "/a/%4") == FARM_E_INVAL, "truncated escape refused");
	ok(farm_path_parse(&p, "/a/b%00c") == FARM_E_INVAL, "decoded NUL refused");
	ok(farm_path_parse(&p, "relative") == FARM_E_INVAL, "path must start with /");
	ok(farm_path_parse(&p, "") == FARM_E_INVAL, "empty path refused");
	{
		char many[256] = "";
		for (int i = 0; i < 40; i++)
			memcpy(many + i * 2, "/a", 3);
		ok(farm_path_parse(&p, many) == FARM_E_INVAL, "too many segments refused");
	}
	{
		static char longp[8192];
		longp[0] = '/';
		memset(longp + 1, 'x', sizeof(longp) - 2);
		longp[sizeof(longp) - 1] = '\0';
		ok(farm_path_parse(&p, longp) == FARM_E_INVAL, "over-long path refused");
	}
	is_int(farm_pct_decode("a%2Bb+c", 7, out, sizeof(out)), 5, "pct decode length");
	is_str(out, "a+b+c", "'+' is literal in paths");
	is_int(farm_pct_decode("abc", 3, out, 3), -1, "output capacity respected");
	is_int(farm_form_decode("a%2Bb+c%41", 10, out, sizeof(out)), 6, "form decode length");
	is_str(out, "a+b cA", "'+' is a space in forms, %2B a plus, either hex case");
	is_int(farm_form_decode("%4a%4A", 6, out, sizeof(out)), 2, "lower- and upper-case hex");
	is_str(out, "JJ", "... decode alike");
	is_int(farm_form_decode("a%00b", 5, out, sizeof(out)), -1, "form: decoded NUL refused");
	is_int(farm_form_decode("a%g1", 4, out, sizeof(out)), -1, "form: bad hex refused");
	is_int(farm_form_decode("a%-1", 4, out, sizeof(out)), -1, "form: a sign is no hex digit");
	is_int(farm_form_decode("a% 1", 4, out, sizeof(out)), -1, "form: a space is no hex digit");
	is_int(farm_form_decode("a%4", 3, out, sizeof(out)), -1, "form: truncated escape refused");
	for (int c = 0; c < 256; c++) {
		int want = c >= '0' && c <= '9'   ? c - '0'
			   : c >= 'a' && c <= 'f' ? c - 'a' + 10
			   : c >= 'A' && c <= 'F' ? c - 'A' + 10
						  : -1;
		if (farm_hex_digit(c) != want) {
			ok(0, "farm_hex_digit agrees with the hex alphabet");
			diag("byte %d: got %d", c, farm_hex_digit(c));
			break;
		}
		if (c == 255)
			ok(1, "farm_hex_digit agrees with the hex alphabet for every byte");
	}

	farm_path_parse(&p, "/api/v1/integrations/credentials/abc");
	is_int(farm_router_match(routes, NR, "PATCH", &p, &m), FARM_OK, "PATCH :id matches");
	is_str(m.params[0], "abc", ":id captured");
	ok(m.route == &routes[3], "the PATCH route");
	is_int(farm_router_match(routes, NR, "GET", &p, &m), FARM_E_CONFLICT, "GET on :id is 405");
	is_str(m.allow, "PATCH, DELETE", "Allow lists the methods of the path");

	farm_path_parse(&p, "/api/v1/integrations/credentials");
	is_int(farm_router_match(routes, NR, "PUT", &p, &m), FARM_E_CONFLICT, "PUT is 405");
	is_str(m.allow, "GET, HEAD, POST", "Allow includes HEAD for GET routes");
	is_int(farm_router_match(routes, NR, "HEAD", &p, &m), FARM_OK, "HEAD matches GET");

	farm_path_parse(&p, "/api/v1/nothing");
	is_int(farm_router_match(routes, NR, "GET", &p, &m), FARM_E_NOTFOUND, "unknown path is 404");
	farm_path_parse(&p, "/api/v1/integrations/credentials/a/b");
	is_int(farm_router_match(routes, NR, "PATCH", &p, &m), FARM_E_NOTFOUND,
	       "extra segment does not match");
	farm_path_parse(&p, "/api/v1/jenkins/jobs/folder%2Fjob%20one/builds");
	is_int(farm_router_match(routes, NR, "GET", &p, &m), FARM_OK, "jenkins folder job matches");
	is_str(m.params[0], "folder/job one", "folder name arrives whole");
	farm_path_parse(&p, "/api/v1/health");
	is_int(farm_router_match(routes, NR, "GET", &p, &m), FARM_OK, "health");
	is_int((int)m.nparams, 0, "no params");
	return done_testing();
}
