/* test-jwt.c - HS256 tokens: each bad token is built by hand (base64url + HMAC) so that
 * it differs from a good one in exactly the thing under test. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jwt.h"
#include "tap.h"

#define SECRET "test-jwt-secret-0123456789abcdef"
#define NOW 1700000000LL
#define LEEWAY FARM_JWT_LEEWAY
#define NONE_HDR "{\"alg\":\"none\",\"typ\":\"JWT\"}"
#define EXP ",\"exp\":1800000000" /* a token must expire */
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define CLAIMS "{\"sub\":\"user-1\",\"orgId\":\"org-1\",\"iat\":1699999000,\"exp\":1700003600}"

static char *b64url(const void *p, size_t n)
{
	char *s;

	if (farm_b64url_encode(p, n, &s) != FARM_OK)
		abort();
	return s;
}

static char *cat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 3);

	if (!s)
		abort();
	memcpy(s, a, la);
	s[la] = '.';
	memcpy(s + la + 1, b, lb);
	s[la + 1 + lb] = '.';
	memcpy(s + la + lb + 2, c, lc);
	s[la + lb + lc + 2] = '\0';
	return s;
}

/* base64url(header) "." base64url(payload) "." base64url(HMAC-SHA256(secret, first two)) */
static char *token_raw(const char *hdr, size_t hlen, const char *pl, size_t plen,
		       const char *secret)
{
	unsigned char mac[32];
	char *h = b64url(hdr, hlen), *p = b64url(pl, plen), *signing, *sig, *tok;

	signing = cat3(h, p, "");
	signing[strlen(signing) - 1] = '\0';
	farm_crypto_hmac_sha256(secret, strlen(secret), signing, strlen(signing), mac);
	sig = b64url(mac, sizeof(mac));
	tok = cat3(h, p, sig);
	free(h);
	free(p);
	free(signing);
	free(sig);
	return tok;
}

static char *token(const char *hdr, const char *pl)
{
	return token_raw(hdr, strlen(hdr), pl, strlen(pl), SECRET);
}

static int verify_at(const char *tok, long long now, struct farm_claims *c, struct farm_error *e)
{
	memset(e, 0, sizeof(*e));
	return farm_jwt_verify(SECRET, strlen(SECRET), tok, strlen(tok), now, LEEWAY, c, e);
}

/* 1 when msg contains any segment (of 4 or more characters) of tok. */
static int echoes(const char *msg, const char *tok)
{
	char seg[64];
	size_t n;

	while (*tok) {
		n = strcspn(tok, ".");
		if (n >= 4) {
			snprintf(seg, sizeof(seg), "%.*s", (int)(n < 16 ? n : 16), tok);
			if (strstr(msg, seg))
				return 1;
		}
		tok += n;
		if (*tok)
			tok++;
	}
	return 0;
}

/* The token must be refused with FARM_E_AUTH and a reason that does not quote it. */
static void refused(const char *tok, const char *why, const char *name)
{
	struct farm_claims c;
	struct farm_error e;
	int rc = verify_at(tok, NOW, &c, &e);

	is_int(rc, FARM_E_AUTH, name);
	if (rc != FARM_E_AUTH)
		return;
	ok(e.code == FARM_E_AUTH && strcmp(e.msg, why) == 0, "  ... for the expected reason");
	if (strcmp(e.msg, why) != 0)
		diag("reason: '%s', expected '%s'", e.msg, why);
	ok(!echoes(e.msg, tok), "  ... that does not echo the token");
	ok(c.sub[0] == '\0' && !c.admin, "  ... and no claims");
}

static void refused_tok(char *tok, const char *why, const char *name)
{
	refused(tok, why, name);
	free(tok);
}

static void accepted_tok(char *tok, long long now, const char *name)
{
	struct farm_claims c;
	struct farm_error e;

	is_int(verify_at(tok, now, &c, &e), FARM_OK, name);
	free(tok);
}

static void test_round_trip(void)
{
	struct farm_claims c;
	struct farm_error e;
	char *tok = NULL;

	is_int(farm_jwt_sign(SECRET, strlen(SECRET), "alice", "org-42", "admin", NOW - 10,
			     NOW + 3600, &tok),
	       FARM_OK, "sign");
	ok(tok && strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0,
	   "header is {\"alg\":\"HS256\",\"typ\":\"JWT\"}");
	is_int(verify_at(tok, NOW, &c, &e), FARM_OK, "signed token verifies");
	is_str(c.sub, "alice", "sub");
	is_str(c.org, "org-42", "orgId");
	is_int(c.has_org, 1, "has_org");
	is_int(c.admin, 1, "role admin -> admin");
	is_int(c.iat, NOW - 10, "iat");
	is_int(c.exp, NOW + 3600, "exp");
	is_int(c.nbf, 0, "nbf absent -> 0");
	is_int(farm_jwt_verify("other", 5, tok, strlen(tok), NOW, LEEWAY, &c, &e), FARM_E_AUTH,
	       "signed token refused under another secret");
	free(tok);

	is_int(farm_jwt_sign(SECRET, strlen(SECRET), "bob", NULL, NULL, NOW, NOW + 60, &tok),
	       FARM_OK, "sign without org or role");
	is_int(verify_at(tok, NOW, &c, &e), FARM_OK, "verifies");
	is_str(c.sub, "bob", "sub");
	is_int(c.has_org, 0, "orgId null -> no org");
	is_int(c.admin, 0, "no role -> not admin");
	free(tok);
	is_int(farm_jwt_sign(SECRET, strlen(SECRET), "", NULL, NULL, NOW, NOW + 60, &tok),
	       FARM_E_INVAL, "sign refuses an empty sub");
	ok(tok == NULL, "and returns nothing");

	/* hand-built tokens */
	tok = token(HS256, CLAIMS);
	is_int(verify_at(tok, NOW, &c, &e), FARM_OK, "hand-built token verifies");
	is_str(c.sub, "user-1", "sub");
	is_str(c.org, "org-1", "orgId");
	is_int(c.admin, 0, "no role -> not admin");
	free(tok);

	tok = token(HS256, "{\"sub\":\"u\",\"roles\":[\"viewer\",\"admin\"],\"exp\":1700000100}");
	is_int(verify_at(tok, NOW, &c, &e), FARM_OK, "roles[] token verifies");
	is_int(c.admin, 1, "\"admin\" in roles[] -> admin");
	is_int(c.has_org, 0, "orgId absent -> no org");
	free(tok);

	tok = token(HS256, "{\"sub\":\"u\",\"roles\":[\"viewer\",\"Admin\"],\"role\":\"user\"" EXP "}");
	is_int(verify_at(tok, NOW, &c, &e), FARM_OK, "non-admin roles verify");
	is_int(c.admin, 0, "role user, roles without exact \"admin\" -> not admin");
	free(tok);

	tok = token("{\"alg\":\"HS256\"}", "{\"sub\":\"u\",\"orgId\":null,\"exp\":1700000100.9}");
	is_int(verify_at(tok, NOW, &c, &e), FARM_OK, "no typ, real exp, null orgId verify");
	is_int(c.exp, 1700000100, "real exp truncated to seconds");
	is_int(c.has_org, 0, "orgId null -> no org");
	free(tok);

	tok = token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", CLAIMS);
	accepted_tok(tok, NOW, "unknown header parameter (kid) is fine");
}

static void test_alg(void)
{
	char *h, *p, *t;

	h = b64url(NONE_HDR, strlen(NONE_HDR));
	p = b64url(CLAIMS, strlen(CLAIMS));
	t = cat3(h, p, "");
	refused(t, "unsupported algorithm", "alg none with an empty signature");
	free(t);
	free(h);
	refused_tok(token("{\"alg\":\"none\"}", CLAIMS), "unsupported algorithm",
		    "alg none with an HS256 signature");
	refused_tok(token("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", CLAIMS), "unsupported algorithm",
		    "HS512 header on an HS256 signature");
	refused_tok(token("{\"alg\":\"hs256\"}", CLAIMS), "unsupported algorithm",
		    "alg hs256 (case matters)");
	refused_tok(token("{\"alg\":\"RS256\"}", CLAIMS), "unsupported algorithm", "alg RS256");
	refused_tok(token("{\"typ\":\"JWT\"}", CLAIMS), "unsupported algorithm", "missing alg");
	refused_tok(token("{\"alg\":[\"HS256\"]}", CLAIMS), "unsupported algorithm",
		    "alg not a string");
	refused_tok(token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", CLAIMS),
		    "unsupported critical header", "crit header");
	refused_tok(token("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", CLAIMS), "unsupported token type",
		    "typ not JWT");
	refused_tok(token("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", CLAIMS), "malformed token",
		    "duplicate key in header");
	refused_tok(token("[\"HS256\"]", CLAIMS), "malformed token", "header is a JSON array");
	refused_tok(token("\"HS256\"", CLAIMS), "malformed token", "header is a JSON string");
	refused_tok(token("{\"alg\":\"HS256\"", CLAIMS), "malformed token",
		    "header is truncated JSON");
	free(p);
}

static void test_signature(void)
{
	char *t, *h, *p, *sig;
	unsigned char *pl;
	size_t pll;

	t = token_raw(HS256, strlen(HS256), CLAIMS, strlen(CLAIMS), "another secret");
	refused(t, "bad signature", "signature by another secret");
	free(t);

	/* flip one payload byte, keep the header and the original signature */
	t = token(HS256, CLAIMS);
	h = strndup(t, (size_t)(strchr(t, '.') - t));
	sig = strdup(strrchr(t, '.') + 1);
	pl = (unsigned char *)strdup(CLAIMS);
	pll = strlen(CLAIMS);
	pl[8] ^= 0x01; /* "user-1" -> "tser-1" */
	p = b64url(pl, pll);
	free(t);
	t = cat3(h, p, sig);
	refused(t, "bad signature", "flipped payload byte");
	free(t);
	free(p);

	/* truncated and extended signatures */
	t = cat3(h, "e30", "");
	refused(t, "bad signature", "empty signature");
	free(t);
	{
		char *good = token(HS256, CLAIMS), *cut;
		size_t n = strlen(good);

		cut = strndup(good, n - 2); /* 30 bytes of MAC */
		refused(cut, "bad signature", "signature two characters short");
		free(cut);
		t = cat3(good, "", "");
		t[strlen(t) - 1] = '\0';
		refused(t, "malformed token", "a trailing dot makes four segments");
		free(t);
		cut = strdup(good);
		cut[n - 1] = cut[n - 1] == 'A' ? 'B' : 'A';
		refused(cut, "bad signature", "last signature character changed");
		free(cut);
		/* the right MAC followed by one more byte */
		{
			unsigned char mac[33];
			const char *last = strrchr(good, '.');
			char *sig2;

			farm_crypto_hmac_sha256(SECRET, strlen(SECRET), good, (size_t)(last - good),
						mac);
			mac[32] = 0;
			sig2 = b64url(mac, sizeof(mac));
			cut = strndup(good, (size_t)(last - good));
			t = cat3(cut, sig2, "");
			t[strlen(t) - 1] = '\0';
			refused(t, "bad signature", "valid MAC with a byte appended");
			free(t);
			free(sig2);
		}
		free(cut);
		free(good);
	}
	free(h);
	free(sig);
	free(pl);
}

static void test_shape(void)
{
	char *good = token(HS256, CLAIMS), *t, *huge;
	size_t i;
	const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');

	accepted_tok(strdup(good), NOW, "the good token (control)");
	refused("", "missing token", "empty token");
	refused(".", "malformed token", "one dot");
	refused("..", "malformed token", "two dots, nothing else");
	t = strndup(good, (size_t)(d2 - good));
	refused(t, "malformed token", "two segments");
	free(t);
	t = cat3(good, "e30", "");
	t[strlen(t) - 1] = '\0';
	refused(t, "malformed token", "four segments");
	free(t);
	t = strdup(good);
	t[0] = '*';
	refused(t, "invalid base64url", "bad base64url in the header");
	free(t);
	t = strdup(good);
	t[d1 - good + 1] = '+';
	refused(t, "bad signature", "standard-alphabet character in the payload");
	free(t);
	t = cat3("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=", d1 + 1, "");
	t[strlen(t) - 1] = '\0';
	refused(t, "invalid base64url", "padding in the header");
	free(t);

	/* a header over 8 KiB, validly signed */
	huge = malloc(9000);
	memcpy(huge, "{\"alg\":\"HS256\",\"x\":\"", 20);
	for (i = 20; i < 8990; i++)
		huge[i] = 'a';
	memcpy(huge + 8990, "\"}", 3);
	t = token(huge, CLAIMS);
	ok(strlen(t) > FARM_JWT_MAX_LEN, "huge token is over the limit");
	refused(t, "token too long", "header over 8 KiB");
	{
		struct farm_claims c;
		struct farm_error e;

		is_int(farm_jwt_verify(SECRET, strlen(SECRET), t, FARM_JWT_MAX_LEN + 1, NOW, LEEWAY,
				       &c, &e),
		       FARM_E_AUTH, "one byte over the limit is refused before decoding");
	}
	free(t);
	free(huge);
	free(good);
}

static void test_claims(void)
{
	char pl[512], sub[300];

	/* exp */
	snprintf(pl, sizeof(pl), "{\"sub\":\"u\",\"exp\":%lld}", NOW - LEEWAY - 1);
	refused_tok(token(HS256, pl), "token expired", "expired beyond the leeway");
	snprintf(pl, sizeof(pl), "{\"sub\":\"u\",\"exp\":%lld}", NOW - LEEWAY);
	accepted_tok(token(HS256, pl), NOW, "expired exactly leeway seconds ago: accepted");
	snprintf(pl, sizeof(pl), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 1);
	accepted_tok(token(HS256, pl), NOW, "expired a second ago: inside the leeway");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":\"1800000000\"}"), "invalid time claim",
		    "exp a string");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":null}"), "invalid time claim", "exp null");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":-9.9e300}"), "invalid time claim",
		    "exp hugely negative");
	refused_tok(token(HS256, "{\"sub\":\"u\"}"), "missing exp claim", "no exp: refused");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"nbf\":1699999000,\"iat\":1699999000}"),
		    "missing exp claim", "no exp, whatever else is there: refused");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":1e300}"), "invalid time claim",
		    "exp 1e300 (never expires): refused");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":9.9e300}"), "invalid time claim",
		    "exp 9.9e300: refused");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":9223372036854775807}"),
		    "invalid time claim", "exp the largest integer: refused");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":253402300800}"), "invalid time claim",
		    "exp after the year 9999: refused");
	accepted_tok(token(HS256, "{\"sub\":\"u\",\"exp\":253402300799}"), NOW,
		     "exp at the end of 9999: accepted");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":-1}"), "invalid time claim",
		    "exp before 1970: refused");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"exp\":1800000000,\"nbf\":1e300}"),
		    "invalid time claim", "nbf 1e300: refused");

	/* nbf */
	snprintf(pl, sizeof(pl), "{\"sub\":\"u\",\"nbf\":%lld" EXP "}", NOW + LEEWAY + 1);
	refused_tok(token(HS256, pl), "token not yet valid", "nbf in the future beyond the leeway");
	snprintf(pl, sizeof(pl), "{\"sub\":\"u\",\"nbf\":%lld" EXP "}", NOW + LEEWAY);
	accepted_tok(token(HS256, pl), NOW, "nbf exactly leeway ahead: accepted");
	snprintf(pl, sizeof(pl), "{\"sub\":\"u\",\"nbf\":%lld" EXP "}", NOW + 5);
	accepted_tok(token(HS256, pl), NOW, "nbf a little ahead: inside the leeway");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"nbf\":true" EXP "}"), "invalid time claim",
		    "nbf a boolean");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"iat\":{}" EXP "}"), "invalid time claim",
		    "iat an object");

	/* sub */
	refused_tok(token(HS256, "{\"orgId\":\"o\",\"exp\":1800000000}"), "invalid sub claim",
		    "missing sub");
	refused_tok(token(HS256, "{\"sub\":42" EXP "}"), "invalid sub claim", "sub a number");
	refused_tok(token(HS256, "{\"sub\":\"\"" EXP "}"), "invalid sub claim", "sub empty");
	memset(sub, 'a', sizeof(sub));
	snprintf(pl, sizeof(pl), "{\"sub\":\"%.*s\"" EXP "}", FARM_CLAIM_MAX + 1, sub);
	refused_tok(token(HS256, pl), "invalid sub claim", "sub of 256 bytes");
	snprintf(pl, sizeof(pl), "{\"sub\":\"%.*s\"" EXP "}", FARM_CLAIM_MAX, sub);
	accepted_tok(token(HS256, pl), NOW, "sub of 255 bytes");

	/* orgId */
	refused_tok(token(HS256, "{\"sub\":\"u\",\"orgId\":7" EXP "}"), "invalid orgId claim",
		    "orgId a number");
	refused_tok(token(HS256, "{\"sub\":\"u\",\"orgId\":[\"o\"]" EXP "}"), "invalid orgId claim",
		    "orgId an array");
	snprintf(pl, sizeof(pl), "{\"sub\":\"u\",\"orgId\":\"%.*s\"" EXP "}", FARM_CLAIM_MAX + 1, sub);
	refused_tok(token(HS256, pl), "invalid orgId claim", "orgId of 256 bytes");

	/* payload shape */
	refused_tok(token(HS256, "{\"sub\":\"u\",\"sub\":\"admin\"}"), "malformed token",
		    "duplicate key in payload");
	refused_tok(token(HS256, "[\"u\"]"), "malformed token", "payload a JSON array");
	refused_tok(token(HS256, "not json"), "malformed token", "payload not JSON");
	refused_tok(token_raw(HS256, strlen(HS256), "{\"sub\":\"u\0v\"}",
			      sizeof("{\"sub\":\"u\0v\"}") - 1, SECRET),
		    "malformed token", "payload with a NUL byte");
	refused_tok(token(HS256, "{\"sub\":\"u\\u0000v\"}"), "malformed token",
		    "sub with an escaped NUL");
}

int main(void)
{
	struct farm_claims c;
	struct farm_error e;

	if (farm_crypto_init() != FARM_OK) {
		printf("Bail out! farm_crypto_init failed\n");
		return 1;
	}
	test_round_trip();
	test_alg();
	test_signature();
	test_shape();
	test_claims();
	is_int(farm_jwt_verify(NULL, 0, "a.b.c", 5, NOW, LEEWAY, &c, &e), FARM_E_INVAL,
	       "no secret is a caller error, not a token error");
	return done_testing();
}
