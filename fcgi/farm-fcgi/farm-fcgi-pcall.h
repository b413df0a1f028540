/* farm-fcgi-pcall.h - one platform call made for a request, as every handler that
 * talks to a platform sets it up (farm-fcgi-providers.c owns it; the catalog's CI/CD
 * tab uses it too): the caller's credential (?credentialId= or the org's most
 * recently updated one), this thread's HTTP client, the shared cache, and an opener
 * that decrypts the value only when a request really goes upstream. */
#ifndef FARM_FCGI_PCALL_H
#define FARM_FCGI_PCALL_H

#include <jansson.h>

#include "farm-fcgi.h"
#include "provider.h"

struct farm_pcall_opener {
	struct farm_app *app;
	json_t *rec;
};

struct farm_pcall {
	struct farm_provider_call c;
	struct farm_pcall_opener opener;
	json_t *rec; /* the credential record, owned */
};

enum { FARM_PCALL_OK = 0, FARM_PCALL_NONE = 1, FARM_PCALL_ANSWERED = 2 };

/* FARM_PCALL_OK: pc is ready (end it with farm_pcall_end or farm_pcall_answer);
 * FARM_PCALL_NONE: the org has no credential of `type` (nothing to end);
 * FARM_PCALL_ANSWERED: an error answer is already in r. */
int farm_pcall_begin(struct farm_req *r, const char *type, struct farm_pcall *pc);

/* The same for credential cred_id of org (NULL: the org's most recently updated one;
 * org NULL: the org-less scope), uncached: for a call that is not the request's
 * own (a webhook delivery reading the run it names). */
int farm_pcall_begin_cred(struct farm_req *r, const char *type, const char *org,
			  const char *cred_id, struct farm_pcall *pc);

/* Answers a finished call: `result` (taking ownership) with `status` when rc is
 * FARM_OK, else the call's mapped error (Retry-After passed on).  Ends pc. */
int farm_pcall_answer(struct farm_req *r, struct farm_pcall *pc, int rc, int status,
		      json_t *result);

/* NULL-safe on a zeroed pc. */
void farm_pcall_end(struct farm_pcall *pc);

/* Runs (array of run ids, borrowed) that a call through pc triggered or saw
 * unfinished are watched by farm-runner (watch.h) when farm_watch_wanted: pl has a
 * poll hook, or pc's credential asks for polling ("poll": true) and pl has runs.get.
 * A failure to record them is logged; the answer stands.  farm-fcgi-providers.c. */
int farm_watch_wanted(const struct farm_platform *pl, struct farm_pcall *pc);
void farm_fcgi_watch_runs(struct farm_req *r, const struct farm_platform *pl,
			  struct farm_pcall *pc, json_t *runs);

#endif
