/* webhook.c - webhook authenticity primitives every platform module may use: shared
 * tokens (constant time), the HTTP Basic password, form fields.
 *
 * See webhook.h for the contract of each function.  The rules that matter:
 *   - MACs are compared as raw bytes (after hex decoding, with a length check) in
 *     constant time, never as strings (operations.md §4.2);
 *   - buffers that held a MAC or a password are wiped before they are freed.
 */
#include "webhook.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"

#include "banned.h"

static int is_ows(char c) { return c == ' ' || c == '\t'; }

void farm_webhook_trim_ows(const char **s, size_t *n)
{
	while (*n > 0 && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

/* ---- shared tokens ---------------------------------------------------------- */

int farm_webhook_token_verify(const char *given, size_t glen, const char *expected, size_t elen)
{
	if (!given || !expected || elen == 0)
		return FARM_E_AUTH;
	return farm_crypto_streq(given, glen, expected, elen) ? FARM_OK : FARM_E_AUTH;
}

int farm_webhook_basic_password(const char *authorization_header, char **password)
{
	const char *p;
	unsigned char *raw = NULL;
	const unsigned char *colon;
	size_t n, rawlen = 0, plen;
	int rc = FARM_E_AUTH;

	if (password)
		*password = NULL;
	if (!authorization_header || !password)
		return FARM_E_AUTH;
	n = strnlen(authorization_header, FARM_WEBHOOK_BASIC_MAX + 1);
	if (n > FARM_WEBHOOK_BASIC_MAX)
		return FARM_E_AUTH;
	p = authorization_header;
	farm_webhook_trim_ows(&p, &n);
	if (n < 6 || strncasecmp(p, "Basic", 5) != 0 || !is_ows(p[5]))
		return FARM_E_AUTH;
	p += 6;
	n -= 6;
	farm_webhook_trim_ows(&p, &n);
	if (n == 0)
		return FARM_E_AUTH;

	rc = farm_b64_decode(p, n, &raw, &rawlen);
	if (rc != FARM_OK) {
		rc = rc == FARM_E_NOMEM ? FARM_E_NOMEM : FARM_E_AUTH;
		goto out;
	}
	rc = FARM_E_AUTH;
	if (rawlen == 0 || memchr(raw, '\0', rawlen))
		goto out;
	colon = memchr(raw, ':', rawlen);
	if (!colon)
		goto out;
	plen = rawlen - (size_t)(colon + 1 - raw);
	*password = malloc(plen + 1);
	if (!*password) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	memcpy(*password, colon + 1, plen);
	(*password)[plen] = '\0';
	rc = FARM_OK;
out:
	farm_crypto_free_secret(raw, rawlen);
	return rc;
}

/* ---- application/x-www-form-urlencoded ------------------------------------------ */

/* 1 when every '%' in the body starts a two-hex-digit escape. */
static int form_well_formed(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (n - i < 3 || farm_hex_digit((unsigned char)s[i + 1]) < 0 ||
		    farm_hex_digit((unsigned char)s[i + 2]) < 0)
			return 0;
		i += 2;
	}
	return 1;
}

/* Decodes one byte of a well-formed form string at *i and advances *i. */
static unsigned char form_next(const char *s, size_t *i)
{
	unsigned char c = (unsigned char)s[*i];

	if (c == '%') {
		c = (unsigned char)(farm_hex_digit((unsigned char)s[*i + 1]) * 16 +
				    farm_hex_digit((unsigned char)s[*i + 2]));
		*i += 3;
		return c;
	}
	(*i)++;
	return c == '+' ? ' ' : c;
}

/* 1 when the encoded key [s, s + n) decodes to exactly name[0..nlen). */
static int form_key_is(const char *s, size_t n, const char *name, size_t nlen)
{
	size_t i = 0, j = 0;

	while (i < n) {
		if (j == nlen || form_next(s, &i) != (unsigned char)name[j])
			return 0;
		j++;
	}
	return j == nlen;
}

int farm_form_field(const char *body, size_t blen, const char *name, char **out, size_t *outlen)
{
	size_t start = 0, nlen;

	if (out)
		*out = NULL;
	if (outlen)
		*outlen = 0;
	if ((!body && blen) || !name || !out)
		return FARM_E_INVAL;
	if (!form_well_formed(body, blen))
		return FARM_E_INVAL;
	nlen = strlen(name);

	while (start < blen) {
		const char *pair = body + start;
		const char *amp = memchr(pair, '&', blen - start);
		size_t plen = amp ? (size_t)(amp - pair) : blen - start;
		const char *eq = memchr(pair, '=', plen);
		size_t klen = eq ? (size_t)(eq - pair) : plen;

		if (plen > 0 && form_key_is(pair, klen, name, nlen)) {
			const char *val = eq ? eq + 1 : pair + plen;
			size_t vlen = (size_t)(pair + plen - val), i = 0, o = 0;
			char *buf = malloc(vlen + 1);

			if (!buf)
				return FARM_E_NOMEM;
			while (i < vlen)
				buf[o++] = (char)form_next(val, &i);
			buf[o] = '\0';
			*out = buf;
			if (outlen)
				*outlen = o;
			return FARM_OK;
		}
		start += plen + 1;
	}
	return FARM_E_NOTFOUND;
}

