/* image.c - OCI image references, registries, versions, commit SHAs and tag templates
 * of the build stage (pipeline.h). */
#include "pipeline.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* ---- image references --------------------------------------------------------------- */

/* [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static int component_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (!n)
		return 0;
	while (i < n) {
		size_t st = i;
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == st)
			return 0;
		if (i == n)
			return 1;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i == n)
			return 0;
	}
	return 1;
}

/* host labels [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? joined by '.', then :port. */
static int domain_ok(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t hn = colon ? (size_t)(colon - s) : n, i = 0;

	if (!hn || hn > 253)
		return 0;
	while (i < hn) {
		size_t st = i;
		while (i < hn && (is_alnum(s[i]) || s[i] == '-'))
			i++;
		if (i == st || s[st] == '-' || s[i - 1] == '-')
			return 0;
		if (i < hn) {
			if (s[i] != '.' || i + 1 == hn)
				return 0;
			i++;
		}
	}
	if (colon) {
		size_t pn = n - hn - 1;
		long port = 0;
		if (pn < 1 || pn > 5)
			return 0;
		for (size_t k = 0; k < pn; k++) {
			if (colon[1 + k] < '0' || colon[1 + k] > '9')
				return 0;
			port = port * 10 + (colon[1 + k] - '0');
		}
		if (port < 1 || port > 65535)
			return 0;
	}
	return 1;
}

static int looks_like_domain(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !memcmp(s, "localhost", 9));
}

/* components separated by '/', the first may be a domain when more follow. */
static int name_ok(const char *s, size_t n, int domain_allowed)
{
	size_t i = 0, idx = 0;

	if (!n || n > FARM_PIPELINE_TAG_MAX)
		return 0;
	while (i <= n) {
		const char *slash = memchr(s + i, '/', n - i);
		size_t cn = slash ? (size_t)(slash - (s + i)) : n - i;
		int ok;
		if (idx == 0 && slash && domain_allowed && looks_like_domain(s + i, cn))
			ok = domain_ok(s + i, cn);
		else
			ok = component_ok(s + i, cn);
		if (!ok)
			return 0;
		idx++;
		if (!slash)
			break;
		i += cn + 1;
		if (i == n)
			return 0; /* trailing '/' */
	}
	return 1;
}

static int tag_ok(const char *s, size_t n)
{
	if (n < 1 || n > 128 || !(is_alnum(s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(is_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

int farm_pipeline_ref_ok(const char *ref)
{
	const char *slash, *colon;
	size_t n;

	if (!ref || !*ref || ref[0] == '-')
		return 0;
	n = strlen(ref);
	if (n > FARM_PIPELINE_IMAGE_MAX)
		return 0;
	slash = strrchr(ref, '/');
	colon = strrchr(ref, ':');
	if (colon && (!slash || colon > slash)) {
		if (!tag_ok(colon + 1, n - (size_t)(colon + 1 - ref)))
			return 0;
		n = (size_t)(colon - ref);
	}
	return name_ok(ref, n, 1);
}

int farm_pipeline_registry_ok(const char *reg)
{
	const char *slash;
	size_t n;

	if (!reg || !*reg || reg[0] == '-' || strstr(reg, "://"))
		return 0;
	n = strlen(reg);
	if (n > FARM_PIPELINE_REGISTRY_MAX)
		return 0;
	slash = strchr(reg, '/');
	if (!domain_ok(reg, slash ? (size_t)(slash - reg) : n))
		return 0;
	if (!slash)
		return 1;
	return name_ok(slash + 1, n - (size_t)(slash + 1 - reg), 0);
}

int farm_pipeline_version_ok(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n < 1 || n > FARM_PIPELINE_VERSION_MAX || v[0] == '.' || v[0] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(is_alnum(v[i]) || v[i] == '_' || v[i] == '.' || v[i] == '-'))
			return 0;
	return 1;
}

int farm_pipeline_sha_ok(const char *sha)
{
	size_t n = sha ? strlen(sha) : 0;

	if (n < FARM_PIPELINE_SHA_MIN || n > FARM_PIPELINE_SHA_MAX)
		return 0;
	return strspn(sha, "0123456789abcdefABCDEF") == n;
}

/* ---- tag templates ------------------------------------------------------------------ */

int farm_pipeline_tag_render(const char *tmpl, const char *version, const char *sha, char *out,
			     size_t cap, char *why, size_t wcap)
{
	size_t o = 0;
	const char *p = tmpl;

	if (!cap)
		return FARM_E_TOOBIG;
	while (*p) {
		const char *val = NULL;
		size_t vlen = 0;

		if (p[0] == '{' && p[1] == '{') {
			const char *end = strstr(p + 2, "}}"), *a = p + 2, *b;
			if (!end) {
				snprintf(why, wcap, "unterminated '{{' in the tag template");
				return FARM_E_INVAL;
			}
			b = end;
			while (a < b && *a == ' ')
				a++;
			while (b > a && b[-1] == ' ')
				b--;
			if ((size_t)(b - a) == 7 && !memcmp(a, "version", 7)) {
				val = version ? version : "";
				vlen = strlen(val);
			} else if ((size_t)(b - a) == 9 && !memcmp(a, "commitSha", 9)) {
				val = sha ? sha : "";
				vlen = strlen(val);
				if (vlen > FARM_PIPELINE_SHORT_SHA)
					vlen = FARM_PIPELINE_SHORT_SHA;
			} else {
				snprintf(why, wcap,
					 "unknown template variable {{%.*s}} (use {{version}} or "
					 "{{commitSha}})",
					 (int)((b - a) > 40 ? 40 : (b - a)), a);
				return FARM_E_INVAL;
			}
			p = end + 2;
		} else {
			val = p;
			vlen = 1;
			p++;
		}
		if (o + vlen + 1 > cap) {
			snprintf(why, wcap, "the rendered tag is longer than %zu characters", cap - 1);
			return FARM_E_TOOBIG;
		}
		memcpy(out + o, val, vlen);
		o += vlen;
	}
	out[o] = '\0';
	return FARM_OK;
}
