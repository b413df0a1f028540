/* router.c - path splitting, per-segment percent-decoding, table matching. */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "banned.h"

/* %XX escapes decoded (a decoded NUL refused); '+' a space when `plus`. */
static long pct_decode(const char *in, size_t len, char *out, size_t cap, int plus)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '+' && plus) {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = farm_hex_digit((unsigned char)in[i + 1]);
			lo = farm_hex_digit((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return -1;
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	if (cap == 0)
		return -1;
	out[o] = '\0';
	return (long)o;
}

long farm_pct_decode(const char *in, size_t len, char *out, size_t cap)
{
	return pct_decode(in, len, out, cap, 0);
}

long farm_form_decode(const char *in, size_t len, char *out, size_t cap)
{
	return pct_decode(in, len, out, cap, 1);
}

int farm_path_parse(struct farm_path *p, const char *uri)
{
	size_t len = strcspn(uri, "?#");
	size_t used = 0, i = 0;

	p->nseg = 0;
	if (len == 0 || uri[0] != '/')
		return FARM_E_INVAL;
	i = 1;
	while (i <= len) {
		size_t start = i, seglen;
		long dl;

		while (i < len && uri[i] != '/')
			i++;
		seglen = i - start;
		/* A trailing slash makes no empty last segment ("/a/b/" == "/a/b"). */
		if (seglen == 0 && i >= len)
			break;
		if (p->nseg >= FARM_ROUTER_MAX_SEGS)
			return FARM_E_INVAL;
		dl = farm_pct_decode(uri + start, seglen, p->buf + used, sizeof(p->buf) - used);
		if (dl < 0)
			return FARM_E_INVAL;
		p->seg[p->nseg] = p->buf + used;
		p->seglen[p->nseg] = (size_t)dl;
		p->nseg++;
		used += (size_t)dl + 1;
		i++; /* skip '/' */
	}
	return FARM_OK;
}

/* Does `pattern` match `p`?  Fills params when it does. */
static int pattern_match(const char *pattern, const struct farm_path *p, struct farm_match *m)
{
	const char *s = pattern;
	size_t k = 0, np = 0;

	if (*s == '/')
		s++;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if (k >= p->nseg)
			return 0;
		if (s[0] == ':') {
			if (p->seglen[k] == 0 || np >= FARM_ROUTER_MAX_PARAMS)
				return 0;
			if (m)
				m->params[np] = p->seg[k];
			np++;
		} else if (n != p->seglen[k] || memcmp(s, p->seg[k], n) != 0) {
			return 0;
		}
		k++;
		s += n;
		if (*s == '/')
			s++;
	}
	if (k != p->nseg)
		return 0;
	if (m)
		m->nparams = np;
	return 1;
}

static void allow_add(char *allow, size_t cap, const char *method)
{
	size_t used = strlen(allow);

	if (strstr(allow, method))
		return;
	snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", method);
}

int farm_router_match(const struct farm_route *table, size_t n, const char *method,
		      const struct farm_path *p, struct farm_match *m)
{
	int path_seen = 0;
	int head = strcmp(method, "HEAD") == 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		const struct farm_route *r = &table[i];
		int same = strcmp(r->method, method) == 0 || (head && !strcmp(r->method, "GET"));

		if (same && pattern_match(r->pattern, p, m)) {
			m->route = r;
			return FARM_OK;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (pattern_match(table[i].pattern, p, NULL)) {
			path_seen = 1;
			allow_add(m->allow, sizeof(m->allow), table[i].method);
			if (!strcmp(table[i].method, "GET"))
				allow_add(m->allow, sizeof(m->allow), "HEAD");
		}
	}
	return path_seen ? FARM_E_CONFLICT : FARM_E_NOTFOUND;
}
