/* fuzz-webhook.c - webhook verification and payload parsing under arbitrary input.
 *
 * The first byte picks the parser (a letter for a readable corpus; any other byte
 * picks by value), the rest is its input:
 *   c  circleci-signature header '\n' body          → farm_webhook_circleci_verify
 *   f  a form body                                  → farm_form_field("payload"), then
 *                                                      the Travis signature and event
 *   s  Signature header '\n' payload                → farm_webhook_travis_verify
 *   b  Authorization header                         → farm_webhook_basic_password
 *   k  Travis /config response                      → farm_webhook_travis_key_from_config
 *   p  a PEM public key                             → farm_webhook_travis_verify
 *   C / J / T  a webhook body                       → farm_event_from_{circleci,jenkins,travis}
 *   t  a date-time                                  → farm_event_iso8601_parse / _ms
 *   S  provider '\0' kind '\0' word                 → farm_event_status
 *   o  given '\n' expected                          → farm_webhook_token_verify
 * Besides "no crash, no leak", it checks the contracts: outputs NULL on failure, every
 * event has exactly the contract's members, statuses come from the closed set, and
 * formatted timestamps parse back to the same instant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "crypto.h"
#include "event.h"
#include "fuzz-event.h"
#include "webhook.h"

#include "banned.h"

/* A key made for this target, and its signature over FUZZ_PAYLOAD (RSA-SHA1). */
static const char fuzz_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			       "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArZfv6u0kTUQk/KGK+U44\n"
			       "mqjdV2BlxzzfbtD2xcKVgocbzIKG46lFvzAcWqLqyhfmmhSMIW9+W3PFtNwJuqrQ\n"
			       "srZjltOQQZVwXtPiI8S0gT2nY7F3zgcGTyqk9hwAF+Obx2Vpa+NhcYXR/9Gbrlpm\n"
			       "lbFEviwYA3CaHpw98a7lt4CVTmAYBnw32B3c0yki7ESx0ZZUunijsCNXU1jkE62v\n"
			       "JuBbqI0pdbfLXeZT2S70P/dYPIvqnBF8d7F4YyShA0RElyd6Vk/4J0Fy2ajcliho\n"
			       "XhBxNkg0WsQp+46wKBi2nwSz35TlPnpOAMSRqU0peV6GCtkVUTO/N9c001SL3e61\n"
			       "xwIDAQAB\n"
			       "-----END PUBLIC KEY-----\n";
#define FUZZ_PAYLOAD "{\"id\":1,\"state\":\"passed\"}"
static const char fuzz_sig[] =
    "kg6ckwMQ0QbpKJCM3EaGAk5mTA+tUjj7Gyv+8nCWbQzOj73rNPRisjJOnvnRTUUhlvsALPPLmzW+3eZUT5dw"
    "1bPJSJDkmjvWwiCyJA53YQu3BElNaV+eKxLJpwSpYOzO/WNKjqrWnLdzQnm8b6fTWBdjT3z7k6bIeV97i6AT"
    "DD4/4IJdMDcYuugW+AHLF9nRHNNnbFGDxsmX2yEgYc6JOaBmrdfTjHqMw8F30kbJmtUyFsnCGMFn610MnJoj"
    "cHVBt7FWxycAaKlBHLTirSsiG3h0cYODfTdvCW7hBZm0iqa8ejS2OYHrDh/c1bWX7sOVnehY98dd298lIejE"
    "JUFU0g==";

static const char modes[] = "cfsbkpCJTtSo";

/* A NUL-terminated copy of [p, p + n). */
static char *cstr(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Splits at the first '\n': head is a new C string, the tail is borrowed. */
static char *split(const uint8_t *p, size_t n, const uint8_t **tail, size_t *tlen)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t hlen = nl ? (size_t)(nl - p) : n;

	*tail = nl ? nl + 1 : p + n;
	*tlen = nl ? n - hlen - 1 : 0;
	return cstr(p, hlen);
}

static void fuzz_time(const uint8_t *p, size_t n)
{
	long long ms, back;
	char out[FARM_EVENT_TS_LEN];

	if (farm_event_iso8601_parse((const char *)p, n, &ms) != FARM_OK)
		return;
	if (farm_clock_iso(ms, out) != FARM_OK)
		return; /* a valid date whose offset pushes it out of 0000..9999 */
	if (strlen(out) != FARM_EVENT_TS_LEN - 1 ||
	    farm_event_iso8601_parse(out, strlen(out), &back) != FARM_OK || back != ms)
		abort();
}

static void fuzz_status(const uint8_t *p, size_t n)
{
	char *s = cstr(p, n), *kind, *word;
	const char *st;

	kind = s + strlen(s) + (strlen(s) < n ? 1 : 0);
	word = kind + strlen(kind) + ((size_t)(kind - s) + strlen(kind) < n ? 1 : 0);
	st = farm_event_status(s, kind, word);
	if (!st || strlen(st) < 5)
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int self_checked;
	const uint8_t *p, *tail;
	const char *m;
	size_t n, tlen;
	char *head = NULL, *out = NULL;
	size_t outlen = 0;
	json_t *ev = NULL;
	char *key = NULL;
	int rc;

	/* The embedded signature must verify, or the forgery checks below prove nothing. */
	if (!self_checked) {
		if (farm_webhook_travis_verify(fuzz_pem, sizeof(fuzz_pem) - 1, fuzz_sig,
					       FUZZ_PAYLOAD, sizeof(FUZZ_PAYLOAD) - 1) != FARM_OK)
			abort();
		self_checked = 1;
	}
	if (size == 0)
		return 0;
	m = memchr(modes, data[0], sizeof(modes) - 1);
	p = data + 1;
	n = size - 1;
	switch (m ? *m : modes[data[0] % (sizeof(modes) - 1)]) {
	case 'c':
		head = split(p, n, &tail, &tlen);
		rc = farm_webhook_circleci_verify(head, "fuzz-secret", 11, tail, tlen);
		if (rc != FARM_OK && rc != FARM_E_AUTH)
			abort();
		break;
	case 'f':
		rc = farm_form_field((const char *)p, n, "payload", &out, &outlen);
		if (rc != FARM_OK) {
			if (out || outlen)
				abort();
			break;
		}
		if (out[outlen] != '\0' || outlen > n)
			abort();
		rc = farm_webhook_travis_verify(fuzz_pem, sizeof(fuzz_pem) - 1, fuzz_sig, out,
						outlen);
		if (rc == FARM_OK &&
		    (outlen != sizeof(FUZZ_PAYLOAD) - 1 || memcmp(out, FUZZ_PAYLOAD, outlen) != 0))
			abort(); /* a forgery */
		rc = farm_event_from_travis(out, outlen, &ev, &key, NULL);
		fuzz_check_event(rc, ev, key);
		break;
	case 's':
		head = split(p, n, &tail, &tlen);
		rc = farm_webhook_travis_verify(fuzz_pem, sizeof(fuzz_pem) - 1, head, tail, tlen);
		if (rc == FARM_OK &&
		    (tlen != sizeof(FUZZ_PAYLOAD) - 1 || memcmp(tail, FUZZ_PAYLOAD, tlen) != 0))
			abort();
		break;
	case 'b':
		head = cstr(p, n);
		rc = farm_webhook_basic_password(head, &out);
		if ((rc == FARM_OK) != (out != NULL))
			abort();
		if (out)
			farm_crypto_free_secret(out, strlen(out) + 1);
		out = NULL;
		break;
	case 'k':
		rc = farm_webhook_travis_key_from_config((const char *)p, n, &out);
		if ((rc == FARM_OK) != (out != NULL))
			abort();
		if (out)
			farm_webhook_travis_verify(out, strlen(out), fuzz_sig, FUZZ_PAYLOAD,
						   sizeof(FUZZ_PAYLOAD) - 1);
		break;
	case 'p':
		rc = farm_webhook_travis_verify((const char *)p, n, fuzz_sig, FUZZ_PAYLOAD,
						sizeof(FUZZ_PAYLOAD) - 1);
		(void)rc;
		break;
	case 'C':
		rc = farm_event_from_circleci(p, n, &ev, &key, NULL);
		fuzz_check_event(rc, ev, key);
		break;
	case 'J':
		rc = farm_event_from_jenkins(p, n, &ev, &key, NULL);
		fuzz_check_event(rc, ev, key);
		break;
	case 'T':
		rc = farm_event_from_travis(p, n, &ev, &key, NULL);
		fuzz_check_event(rc, ev, key);
		break;
	case 't':
		fuzz_time(p, n);
		break;
	case 'S':
		fuzz_status(p, n);
		break;
	case 'o':
		head = split(p, n, &tail, &tlen);
		rc = farm_webhook_token_verify((const char *)tail, tlen, head, strlen(head));
		if (rc == FARM_OK && (tlen != strlen(head) || memcmp(tail, head, tlen) != 0))
			abort();
		break;
	}
	free(head);
	free(out);
	return 0;
}
