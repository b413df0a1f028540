/* jwt.h - HS256 JSON Web Tokens (RFC 7519, RFC 8725): the algorithm is pinned.
 *
 * verify rejects: anything but alg "HS256" (including "none"), a bad signature
 * (compared in constant time), bad base64url, not exactly three segments, headers or
 * payloads that are not JSON objects or hold duplicate keys, a "crit" header, a
 * "typ" other than "JWT", tokens over FARM_JWT_MAX_LEN, a missing exp (a token must
 * expire), exp in the past or nbf in the future beyond the leeway, exp/nbf/iat that are
 * not numbers or not times within 1970..9999 (FARM_JWT_TIME_MAX), a missing or
 * non-string sub, and an orgId that is neither a string nor null.
 */
#ifndef FARM_JWT_H
#define FARM_JWT_H

#include <stddef.h>

#include "err.h"

#define FARM_JWT_MAX_LEN 8192
#define FARM_JWT_LEEWAY 30
#define FARM_CLAIM_MAX 255
#define FARM_JWT_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

struct farm_claims {
	char sub[FARM_CLAIM_MAX + 1];
	char org[FARM_CLAIM_MAX + 1]; /* valid when has_org */
	int has_org;                  /* 0: orgId absent or null ("no org") */
	int admin;                    /* role == "admin" or "admin" in roles[] */
	long long exp;                /* always present */
	long long nbf, iat;           /* 0 when absent */
};

/* FARM_OK and *out filled, or FARM_E_AUTH with err->msg saying why (never echoing the
 * token).  `now` is Unix seconds. */
int farm_jwt_verify(const void *secret, size_t slen, const char *token, size_t toklen,
		    long long now, int leeway, struct farm_claims *out, struct farm_error *err);

/* Mints a token.  org may be NULL (claim orgId: null); role may be NULL.
 * *out is new (malloc), free with free(). */
int farm_jwt_sign(const void *secret, size_t slen, const char *sub, const char *org,
		  const char *role, long long iat, long long exp, char **out);

#endif
