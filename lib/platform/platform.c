/* platform.c - what generic code asks of the registry (platform.h). */
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "webhook.h"
#include "banned.h"

const struct farm_platform *farm_platform_find(const char *type)
{
	for (size_t i = 0; type && farm_platforms[i]; i++)
		if (!strcmp(farm_platforms[i]->up.type, type))
			return farm_platforms[i];
	return NULL;
}

const struct farm_platform *farm_platform_deployer(void)
{
	for (size_t i = 0; farm_platforms[i]; i++)
		if (farm_platforms[i]->deploy)
			return farm_platforms[i];
	return NULL;
}

const char *const farm_platform_capability_names[] = {
	"list", "get", "trigger", "rerun", "cancel", "log", "webhook", "poll", NULL,
};

unsigned farm_platform_capabilities(const struct farm_platform *pl)
{
	unsigned caps = 0;

	for (const struct farm_platform_route *rt = pl->routes; rt && rt->method; rt++) {
		if (rt->flags & FARM_PLATFORM_LIST)
			caps |= FARM_PLATFORM_CAN_LIST;
		if (rt->flags & FARM_PLATFORM_TRIGGER)
			caps |= FARM_PLATFORM_CAN_TRIGGER;
	}
	if (pl->runs && pl->runs->get)
		caps |= FARM_PLATFORM_CAN_GET;
	if (pl->runs && pl->runs->rerun)
		caps |= FARM_PLATFORM_CAN_RERUN;
	if (pl->runs && pl->runs->cancel)
		caps |= FARM_PLATFORM_CAN_CANCEL;
	if (pl->runs && pl->runs->log)
		caps |= FARM_PLATFORM_CAN_LOG;
	if (pl->webhook)
		caps |= FARM_PLATFORM_CAN_WEBHOOK;
	if ((pl->deploy && pl->deploy->poll_interval) || pl->poll)
		caps |= FARM_PLATFORM_CAN_POLL;
	return caps;
}

int farm_platform_poll_optin(const struct farm_platform *pl)
{
	return pl && pl->runs && pl->runs->get;
}

const char *farm_platform_types(void)
{
	static char list[512];
	size_t o = 0;

	if (list[0])
		return list;
	for (size_t i = 0; farm_platforms[i]; i++) {
		int n = snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
				 farm_platforms[i]->up.type);
		if (n < 0 || (size_t)n >= sizeof(list) - o)
			break;
		o += (size_t)n;
	}
	return list;
}

int farm_platform_number(const struct farm_platform_in *in, const char *name, long def, long lo,
			 long hi, long *out, char *why, size_t cap)
{
	const char *v = in->query(in->qarg, name);
	char *end;
	long n;

	*out = def;
	if (!v)
		return 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || strspn(v, "0123456789") != strlen(v) || strlen(v) > 10 || n < lo ||
	    n > hi) {
		snprintf(why, cap, "%s must be a whole number within %ld..%ld", name, lo, hi);
		return 1;
	}
	*out = n;
	return 0;
}

int farm_platform_read(struct farm_provider_call *c, const char *key, farm_provider_read_fn fn,
		       const void *arg, struct farm_platform_out *o)
{
	if (!key)
		return farm_provider_nomem(c);
	return farm_provider_read(c, key, fn, arg, &o->text, &o->len);
}

int farm_platform_key_url(struct farm_arena *a, const char *api, char **out)
{
	size_t n = api ? strlen(api) : 0, auth;
	const char *p;
	char *u;

	*out = NULL;
	if (!api || (strncmp(api, "http://", 7) && strncmp(api, "https://", 8)) ||
	    strpbrk(api, "?#@ \r\n\t"))
		return FARM_E_INVAL;
	while (n > 8 && api[n - 1] == '/')
		n--;
	if (!(u = farm_arena_printf(a, "%.*s", (int)n, api)))
		return FARM_E_NOMEM;
	/* Scheme and host compare without case; the path as written. */
	p = strstr(u, "://") + 3;
	auth = (size_t)(p - u) + strcspn(p, "/");
	for (size_t i = 0; i < auth; i++)
		if (u[i] >= 'A' && u[i] <= 'Z')
			u[i] = (char)(u[i] - 'A' + 'a');
	*out = u;
	return FARM_OK;
}

int farm_platform_token_verify(const struct farm_platform_delivery *d, int query_too)
{
	const char *expected = d->secret;
	const char *q = query_too ? d->query(d->arg, "token") : NULL;
	const char *hdr = d->header(d->arg, "HTTP_X_FARM_TOKEN");
	const char *auth = d->header(d->arg, "HTTP_AUTHORIZATION");
	size_t elen = expected ? strlen(expected) : 0;
	char *pw = NULL;
	int ok = 0;

	if (!elen)
		return FARM_E_AUTH;
	if (q && farm_webhook_token_verify(q, strlen(q), expected, elen) == FARM_OK)
		ok = 1;
	if (hdr && farm_webhook_token_verify(hdr, strlen(hdr), expected, elen) == FARM_OK)
		ok = 1;
	if (auth && farm_webhook_basic_password(auth, &pw) == FARM_OK) {
		if (farm_webhook_token_verify(pw, strlen(pw), expected, elen) == FARM_OK)
			ok = 1;
		farm_crypto_free_secret(pw, strlen(pw) + 1);
	}
	return ok ? FARM_OK : FARM_E_AUTH;
}

int farm_platform_token_auth(struct farm_provider_call *c, json_t *value, const char *field,
			     const char *fmt, const char **hdr)
{
	const char *tok = json_string_value(json_object_get(value, field));
	const char *at = strstr(fmt, "%s");

	if (!tok || !at || strpbrk(tok, "\r\n"))
		return -1;
	hdr[0] = farm_arena_printf(c->arena, "%.*s%s%s", (int)(at - fmt), fmt, tok, at + 2);
	return hdr[0] ? 1 : -1;
}

void farm_platform_message(const char *body, size_t len, json_t *json, char *out, size_t cap)
{
	const char *m = json_string_value(json_object_get(json, "message"));

	(void)body;
	(void)len;
	snprintf(out, cap, "%s", m ? m : "");
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

int farm_platform_name_ok(const char *s, size_t n)
{
	if (!n || n > 100 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(NAME_CHARS, s[i]))
			return 0;
	return 1;
}

int farm_platform_pair_ok(const char *s)
{
	const char *slash = s ? strchr(s, '/') : NULL;

	return slash && !strchr(slash + 1, '/') && farm_platform_name_ok(s, (size_t)(slash - s)) &&
	       farm_platform_name_ok(slash + 1, strlen(slash + 1));
}

int farm_platform_text_ok(json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;

	if (!s || !n || n > max || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int farm_platform_post_json(struct farm_provider_call *c, const char *path, const char *what,
			    json_t *req, struct farm_provider_resp *r)
{
	char *text = json_dumps(req, JSON_COMPACT);
	int rc;

	json_decref(req);
	if (!path || !what || !text) {
		free(text);
		return farm_provider_nomem(c);
	}
	rc = farm_provider_send(c, "POST", path, NULL, 0, "application/json", text, strlen(text),
				r);
	free(text);
	return rc;
}
