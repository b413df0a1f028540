/* platform.c - what generic code asks of the registry (platform.h). */
#include "platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

const struct farm_platform *farm_platform_find(const char *type)
{
	for (size_t i = 0; type && farm_platforms[i]; i++)
		if (!strcmp(farm_platforms[i]->up.type, type))
			return farm_platforms[i];
	return NULL;
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
