/* fuzz-request.c - a request through the dispatcher: path, query and JSON body parsing
 * (farm_req_dispatch, farm_req_query) and credential validation (farm_creds_type_known,
 * farm_creds_check_name, farm_creds_check_value) as the credential handlers call them,
 * then the CGI response (farm_req_emit).
 *
 * Input: "METHOD URI" on the first line, the body after it (no '\n': a GET of that URI
 * without a body).  The routes are the credential API's shapes, without auth (fuzz-jwt
 * covers tokens).  Besides "no crash, no leak", it checks the contracts: every answer
 * is a complete CGI response whose status line matches r->status (HEAD: headers only);
 * an error (>= 400) carries the JSON error body {"statusCode","message","error"}; a credential the
 * validation accepts has a known type, a name and a value object of known string
 * fields; a secret field's value is never in the answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "creds.h"
#include "json.h"
#include "platform.h"
#include "req.h"

#include "banned.h"

static const char *const secret_fields[] = {"token", "apiToken", "webhookSecret"};

/* Every field some credential type has (the descriptors', as docs/api lists them). */
static int field_known(const char *k)
{
	static const char *const fields[] = {"url", "token", "username", "apiToken",
					     "webhookSecret"};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(k, fields[i]) == 0)
			return 1;
	return 0;
}

/* The value fields of a type (its platform descriptor), NULL for an unknown type. */
static const struct farm_cred_field *fields_of(const char *type)
{
	const struct farm_platform *pl = farm_platform_find(type);

	return pl ? pl->fields : NULL;
}

/* The create handler's validation (farm-fcgi-creds.c), answering 201 with the public
 * fields instead of storing. */
static int h_create(struct farm_req *r)
{
	json_t *errors = json_array();
	json_t *type = json_object_get(r->in, "type");
	json_t *value = json_object_get(r->in, "value");
	json_t *name = json_object_get(r->in, "name");
	const char *k;
	json_t *v;

	if (!errors)
		abort();
	if (!type)
		json_array_append_new(errors, json_string("type is required"));
	else if (!farm_platform_find(json_string_value(type)))
		json_array_append_new(errors, json_string("unknown type"));
	farm_creds_check_name(name, errors);
	farm_creds_check_value(json_string_value(type), fields_of(json_string_value(type)), value,
			       errors);
	if (json_array_size(errors))
		return farm_req_errors(r, 400, errors);
	json_decref(errors);
	if (!json_is_string(type) || !json_is_string(name) || !json_is_object(value))
		abort(); /* accepted without what a record needs */
	json_object_foreach(value, k, v)
		if (!field_known(k) || !json_is_string(v))
			abort(); /* accepted a field no type has */
	return farm_req_json(r, 201, json_pack("{s:O,s:O}", "type", type, "name", name));
}

/* The update handler's shape: every member optional, each checked when present. */
static int h_update(struct farm_req *r)
{
	json_t *errors = json_array();
	json_t *name = json_object_get(r->in, "name");
	json_t *value = json_object_get(r->in, "value");
	const char *type = farm_req_query(r, "type");

	if (!errors)
		abort();
	if (name)
		farm_creds_check_name(name, errors);
	if (value)
		farm_creds_check_value(type ? type : "jenkins", fields_of(type ? type : "jenkins"),
				       value, errors);
	if (json_array_size(errors))
		return farm_req_errors(r, 400, errors);
	json_decref(errors);
	return farm_req_json(r, 200, json_pack("{s:s}", "id", r->params[0]));
}

/* A GET that reads its :id and a query parameter (as ?credentialId= is read). */
static int h_get(struct farm_req *r)
{
	const char *cred = farm_req_query(r, "credentialId");

	if (r->nparams != 1 || !r->params[0] || !*r->params[0])
		abort();
	return farm_req_json(r, 200, json_pack("{s:s,s:s?}", "id", r->params[0],
					       "credentialId", cred));
}

static const struct farm_route routes[] = {
	{"POST", "/api/v1/integrations/credentials", h_create, FARM_ROUTE_JSON},
	{"PATCH", "/api/v1/integrations/credentials/:id", h_update, FARM_ROUTE_JSON},
	{"GET", "/api/v1/integrations/credentials/:id", h_get, 0},
};

static const char *getenv_fn(void *ctx, const char *name)
{
	(void)ctx;
	return strcmp(name, "CONTENT_TYPE") == 0 ? "application/json" : NULL;
}

struct out {
	char *buf;
	size_t len;
};

static int write_fn(void *ctx, const void *buf, size_t len)
{
	struct out *o = ctx;
	char *n = realloc(o->buf, o->len + len + 1);

	if (!n)
		abort();
	memcpy(n + o->len, buf, len);
	o->buf = n;
	o->len += len;
	o->buf[o->len] = '\0';
	return 0;
}

static void check_response(struct farm_req *r, const struct out *o)
{
	char line[32];
	const char *body;
	json_t *j, *msg;

	snprintf(line, sizeof(line), "Status: %d ", r->status);
	if (o->len < strlen(line) || strncmp(o->buf, line, strlen(line)) != 0)
		abort();
	if (!(body = strstr(o->buf, "\r\n\r\n")))
		abort();
	body += 4;
	if (r->method && strcmp(r->method, "HEAD") == 0) {
		if (*body)
			abort(); /* HEAD: the headers only */
		return;
	}
	if (r->status < 400)
		return;
	/* An error always says what went wrong, in the one error shape. */
	if (!(j = json_loadb(body, o->len - (size_t)(body - o->buf), 0, NULL)))
		abort();
	msg = json_object_get(j, "message");
	if (json_integer_value(json_object_get(j, "statusCode")) != r->status ||
	    !json_is_string(json_object_get(j, "error")) ||
	    !(json_is_string(msg) || json_is_array(msg)))
		abort();
	json_decref(j);
}

/* A secret field's value (when long enough not to occur by chance) is not echoed. */
static void check_secrets(json_t *in, const struct out *o)
{
	json_t *value = json_object_get(in, "value");

	for (size_t i = 0; i < sizeof(secret_fields) / sizeof(secret_fields[0]); i++) {
		const char *s = json_string_value(json_object_get(value, secret_fields[i]));
		if (s && strlen(s) >= 24 && strstr(o->buf, s))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	static const struct farm_dispatch d = {routes, sizeof(routes) / sizeof(routes[0]),
					       "0123456789abcdef0123456789abcdef", 32, 65536};
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - data) : size;
	char *head, *sp, *body;
	struct farm_req r;
	struct out o = {NULL, 0};

	if (!init) {
		farm_json_init();
		init = 1;
	}
	if (!(head = malloc(hlen + 1)) || !(body = malloc(size - hlen + 1)))
		abort();
	memcpy(head, data, hlen);
	head[hlen] = '\0';
	/* The body keeps its NULs: the dispatcher gets a length. */
	memcpy(body, nl ? nl + 1 : data + size, nl ? size - hlen - 1 : 0);
	body[nl ? size - hlen - 1 : 0] = '\0';

	memset(&r, 0, sizeof(r));
	if (!(r.arena = farm_arena_new(4096)))
		abort();
	sp = strchr(head, ' ');
	r.method = sp ? head : "GET";
	if (sp)
		*sp = '\0';
	r.uri = sp ? sp + 1 : head;
	r.query = strchr(r.uri, '?') ? strchr(r.uri, '?') + 1 : "";
	r.body = body;
	r.body_len = nl ? size - hlen - 1 : 0;
	r.getenv = getenv_fn;
	memcpy(r.id, "00000000fuzzfuzz", 17);

	farm_req_dispatch(&d, &r);
	if (farm_req_emit(&r, write_fn, &o) == FARM_OK) {
		check_response(&r, &o);
		if (r.in)
			check_secrets(r.in, &o);
	}
	free(o.buf);
	farm_req_reset(&r);
	farm_arena_free(r.arena);
	free(head);
	free(body);
	return 0;
}
