/* test-req.c - the dispatcher's answers: each refusal's status through the one error
 * map (404, 405 with Allow, 401, 403, 413, 415, 400), the Content-Type rule of JSON
 * routes, and malformed-JSON messages that say where, never what was sent. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "jwt.h"
#include "req.h"
#include "tap.h"

#define SECRET "test-secret-test-secret-test-secret!"

static int handled;

static int h(struct farm_req *r)
{
	handled++;
	return farm_req_json(r, 200, json_pack("{s:b}", "ok", r->in != NULL));
}

static const struct farm_route routes[] = {
    {"GET", "/api/v1/open", h, 0},
    {"GET", "/api/v1/things", h, FARM_ROUTE_AUTH},
    {"POST", "/api/v1/things", h, FARM_ROUTE_ADMIN | FARM_ROUTE_JSON},
    {"DELETE", "/api/v1/things/:id", h, FARM_ROUTE_ADMIN},
};

static const char *env_ct, *env_auth;

static const char *getenv_fn(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "CONTENT_TYPE"))
		return env_ct;
	if (!strcmp(name, "HTTP_AUTHORIZATION"))
		return env_auth;
	return NULL;
}

static struct farm_dispatch d = {routes, sizeof(routes) / sizeof(routes[0]), SECRET,
				 sizeof(SECRET) - 1, 64};
static struct farm_req r;

/* Dispatches METHOD URI with BODY (may be NULL); returns the status. */
static int run(const char *method, const char *uri, const char *body)
{
	farm_req_reset(&r);
	r.method = method;
	r.uri = uri;
	r.query = "";
	r.body = body ? body : "";
	r.body_len = body ? strlen(body) : 0;
	r.getenv = getenv_fn;
	handled = 0;
	return farm_req_dispatch(&d, &r);
}

static const char *message(void) { return json_string_value(json_object_get(r.json, "message")); }

static const char *header(const char *name)
{
	for (size_t i = 0; i < r.nhdr; i++)
		if (!strcmp(r.hdr[i].name, name))
			return r.hdr[i].value;
	return NULL;
}

/* The body's shape matches its status: {"statusCode":n,...,"error":reason}. */
static int shaped(int status)
{
	return json_integer_value(json_object_get(r.json, "statusCode")) == status &&
	       !strcmp(json_string_value(json_object_get(r.json, "error")) ?: "",
		       farm_http_reason(status));
}

static void post_as(const char *ct, int want, const char *name)
{
	env_ct = ct;
	is_int(run("POST", "/api/v1/things", "{\"a\":1}"), want, name);
	if (want == 200)
		ok(handled && json_is_true(json_object_get(r.json, "ok")), "  ... the handler ran");
	else
		ok(!handled && shaped(want) &&
		       !strcmp(message(), "Content-Type must be application/json"),
		   "  ... refused before the handler, saying what the route takes");
}

int main(void)
{
	static char admin[64 + FARM_JWT_MAX_LEN], member[64 + FARM_JWT_MAX_LEN];
	long long now = (long long)time(NULL);
	char *tok = NULL;

	farm_json_init();
	r.arena = farm_arena_new(4096);
	farm_jwt_sign(SECRET, sizeof(SECRET) - 1, "alice", "org-1", "admin", now, now + 600, &tok);
	snprintf(admin, sizeof(admin), "Bearer %s", tok);
	free(tok);
	farm_jwt_sign(SECRET, sizeof(SECRET) - 1, "bob", "org-1", NULL, now, now + 600, &tok);
	snprintf(member, sizeof(member), "Bearer %s", tok);
	free(tok);

	/* Each refusal of the dispatcher, its status and its shape. */
	is_int(run("GET", "/api/v1/open", NULL), 200, "open route: 200");
	is_int(run("GET", "/api/v1/nothing?x=1", NULL), 404, "unknown path: 404");
	ok(shaped(404) && !strcmp(message(), "Cannot GET /api/v1/nothing"), "  ... NestJS shape");
	is_int(run("GET", "api", NULL), 400, "malformed path: 400");
	is_int(run("PUT", "/api/v1/things", NULL), 405, "known path, other method: 405");
	ok(shaped(405), "  ... NestJS shape");
	is_str(header("Allow"), "GET, HEAD, POST", "  ... with Allow");
	env_auth = NULL;
	is_int(run("GET", "/api/v1/things", NULL), 401, "no token: 401");
	ok(shaped(401) && !strcmp(message(), "missing bearer token"), "  ... saying so");
	env_auth = "Bearer x.y.z";
	is_int(run("GET", "/api/v1/things", NULL), 401, "bad token: 401");
	env_auth = member;
	is_int(run("GET", "/api/v1/things", NULL), 200, "member reads: 200");
	is_int(run("DELETE", "/api/v1/things/1", NULL), 403, "member on an admin route: 403");
	ok(shaped(403) && !handled, "  ... before the handler");
	env_auth = admin;
	env_ct = "application/json";
	is_int(run("POST", "/api/v1/things",
		   "{\"pad\":\"0123456789012345678901234567890123456789"
		   "0123456789012345678901234567890123456789\"}"),
	       413, "body over body_limit: 413");
	ok(shaped(413) && !strcmp(message(), "request body exceeds 64 bytes"),
	   "  ... naming the limit");

	/* Content-Type on a JSON route: application/json, parameters allowed, nothing else. */
	post_as("application/json", 200, "application/json: accepted");
	post_as("Application/JSON", 200, "media type in any case: accepted");
	post_as("application/json; charset=utf-8", 200, "charset=utf-8: accepted");
	post_as("application/json;charset=\"UTF-8\"", 200, "quoted charset: accepted");
	post_as("application/json ; charset=utf-8 ; foo=bar", 200, "other parameters: accepted");
	post_as("application/json;", 200, "an empty parameter (RFC 9110): accepted");
	post_as(NULL, 415, "no Content-Type: 415");
	post_as("", 415, "empty Content-Type: 415");
	post_as("application/jsonxyz", 415, "application/jsonxyz: 415");
	post_as("application/json-patch+json", 415, "application/json-patch+json: 415");
	post_as("application/merge-patch+json", 415, "+json suffix types: 415");
	post_as("text/plain", 415, "text/plain: 415");
	post_as("application/x-www-form-urlencoded", 415, "curl -d's default: 415");
	post_as("application/json; charset=latin1", 415, "another charset: 415");
	post_as("application/json; charset", 415, "a parameter without value: 415");
	post_as("application/json; charset=\"utf-8", 415, "an unclosed quote: 415");
	post_as("application/json, text/plain", 415, "a list: 415");

	/* Bodies of a JSON route. */
	env_ct = "application/json";
	is_int(run("POST", "/api/v1/things", NULL), 400, "no body: 400");
	is_str(message(), "request body must be a JSON object", "  ... saying what is wanted");
	is_int(run("POST", "/api/v1/things", " \r\n\t"), 400, "a blank body: 400");
	is_int(run("POST", "/api/v1/things", "[1,2]"), 400, "an array: 400");
	is_str(message(), "request body must be a JSON object", "  ... saying what is wanted");
	env_ct = "text/plain";
	is_int(run("POST", "/api/v1/things", NULL), 400, "no body, whatever the type: 400");

	/* Malformed JSON: where it went wrong, never the text. */
	env_ct = "application/json";
	is_int(run("POST", "/api/v1/things", "{\"t\": \"hunter2-SECRET\" x"), 400,
	       "malformed JSON: 400");
	is_str(message(), "malformed JSON at line 1, column 24 (byte 24): invalid syntax",
	       "  ... line, column, byte and a fixed phrase");
	ok(!strstr(message(), "hunter2"), "  ... without the submitted text");
	is_int(run("POST", "/api/v1/things", "{\"t\": hunter2x}"), 400, "a bare word: 400");
	ok(!strstr(message(), "hunter2"), "  ... not quoted either");
	is_int(run("POST", "/api/v1/things", "{\"t\":\"s3cret"), 400, "an unclosed string: 400");
	ok(strstr(message(), "premature") || strstr(message(), "end of input"),
	   "  ... 'unexpected end of input'");
	ok(!strstr(message(), "s3cret"), "  ... without the text");
	is_int(run("POST", "/api/v1/things", "{\"k\":1,\"k\":2}"), 400, "duplicate key: 400");
	ok(strstr(message(), "duplicate object key") != NULL, "  ... named as such");
	is_int(run("POST", "/api/v1/things", "{\"k\":\"\\u0000x\"}"), 400, "NUL escape: 400");
	is_int(run("POST", "/api/v1/things", "{\"k\":1} tail"), 400, "text after the object: 400");
	ok(!strstr(message(), "tail"), "  ... not quoted");

	farm_req_reset(&r);
	farm_arena_free(r.arena);
	return done_testing();
}
