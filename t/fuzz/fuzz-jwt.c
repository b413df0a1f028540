/* fuzz-jwt.c - farm_jwt_verify on arbitrary tokens, on the same re-signed (so the header
 * and claim checks behind the MAC are reached), and a sign/verify round trip with the
 * input as the subject.  Aborts when an invariant breaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jwt.h"

#define SECRET "fuzz-jwt-secret"
#define NOW 1700000000LL

static void check_claims(const struct farm_claims *c)
{
	size_t n = strnlen(c->sub, sizeof(c->sub));

	if (n == 0 || n > FARM_CLAIM_MAX)
		abort();
	if (c->has_org != 0 && c->has_org != 1)
		abort();
	if (c->has_org && strnlen(c->org, sizeof(c->org)) > FARM_CLAIM_MAX)
		abort();
	if (!c->has_org && c->org[0])
		abort();
	/* An accepted token expires, at a sane time (corpus: no-exp, exp-1e300). */
	if (c->exp < NOW - FARM_JWT_LEEWAY || c->exp > FARM_JWT_TIME_MAX)
		abort();
}

/* The input up to its last '.', signed: reaches the claim checks behind the MAC. */
static void verify_resigned(const uint8_t *data, size_t size)
{
	const uint8_t *dot = memrchr(data, '.', size);
	unsigned char mac[32];
	struct farm_claims c;
	struct farm_error e;
	char *sig = NULL, *tok;
	size_t n;
	int rc;

	if (!dot)
		return;
	n = (size_t)(dot - data);
	if (farm_crypto_hmac_sha256(SECRET, strlen(SECRET), data, n, mac) ||
	    farm_b64url_encode(mac, sizeof(mac), &sig))
		abort();
	tok = malloc(n + 1 + strlen(sig));
	if (!tok)
		abort();
	memcpy(tok, data, n + 1);
	memcpy(tok + n + 1, sig, strlen(sig));
	memset(&e, 0, sizeof(e));
	rc = farm_jwt_verify(SECRET, strlen(SECRET), tok, n + 1 + strlen(sig), NOW, FARM_JWT_LEEWAY,
			     &c, &e);
	if (rc == FARM_OK)
		check_claims(&c);
	else if (rc != FARM_E_AUTH || e.code != FARM_E_AUTH || !e.msg[0])
		abort();
	free(sig);
	free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct farm_claims c;
	struct farm_error e;
	char sub[FARM_CLAIM_MAX + 1], *tok = NULL;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = farm_jwt_verify(SECRET, strlen(SECRET), (const char *)data, size, NOW, FARM_JWT_LEEWAY,
			     &c, &e);
	if (rc == FARM_OK)
		check_claims(&c);
	else if (rc != FARM_E_AUTH || e.code != FARM_E_AUTH || !e.msg[0])
		abort();
	verify_resigned(data, size);

	if (size == 0 || size > FARM_CLAIM_MAX || memchr(data, '\0', size))
		return 0;
	memcpy(sub, data, size);
	sub[size] = '\0';
	rc = farm_jwt_sign(SECRET, strlen(SECRET), sub, sub, size & 1 ? "admin" : NULL, NOW,
			   NOW + 60, &tok);
	if (rc == FARM_E_INVAL) /* not UTF-8 */
		return 0;
	if (rc != FARM_OK)
		abort();
	rc =
	    farm_jwt_verify(SECRET, strlen(SECRET), tok, strlen(tok), NOW, FARM_JWT_LEEWAY, &c, &e);
	if (rc != FARM_OK || strcmp(c.sub, sub) != 0 || !c.has_org || strcmp(c.org, sub) != 0 ||
	    c.admin != (int)(size & 1) || c.exp != NOW + 60)
		abort();
	free(tok);
	return 0;
}
