/* creds.h - integration credentials: validation, sealing, the public view.
 *
 * A stored credential (FARM_T_CREDS, key = id, org in the store's header) is the
 * JSON object {"id","type","name","orgId","createdAt","updatedAt","keyVersion",
 * "sealed"} where "sealed" is base64 of the AES-256-GCM envelope of the JSON
 * `value`, bound to (id, org, type) as associated data.  `value` is never
 * returned, logged, or written in plaintext.
 */
#ifndef FARM_CREDS_H
#define FARM_CREDS_H

#include <jansson.h>

#include "crypto.h"
#include "err.h"
#include "store.h"

#define FARM_CREDS_NAME_MAX 200
#define FARM_CREDS_VALUE_MAX 8192

/* One field of a credential type's value (a platform descriptor lists them,
 * lib/platform/platform.h).  Every field is a non-empty string of at most 4096 bytes. */
#define FARM_CRED_REQUIRED 1u /* else optional */
#define FARM_CRED_URL 2u      /* an http(s) URL without user info */
#define FARM_CRED_SECRET 4u   /* never shown (all fields are sealed alike) */
struct farm_cred_field {
	const char *name;
	unsigned flags;
};

/* Appends one message per problem to `errors` (a JSON array); returns the count.
 * `value` is checked against the fields of `type` ({NULL}-terminated; NULL: the type
 * is unknown, reported by the caller, so only the value's shape is checked). */
int farm_creds_check_value(const char *type, const struct farm_cred_field *fields,
			   json_t *value, json_t *errors);
/* The same, with the generic fields `opts` allows besides the type's own:
 * FARM_CREDS_POLL: "poll", a boolean (true: farm watches the credential's runs
 * through the platform's runs.get until they end, lib/platform/watch.h). */
#define FARM_CREDS_POLL 1u
int farm_creds_check_value_opts(const char *type, const struct farm_cred_field *fields,
				unsigned opts, json_t *value, json_t *errors);
/* 1 when an opened credential value asks for polling ("poll": true). */
int farm_creds_wants_poll(json_t *value);
int farm_creds_check_name(json_t *name, json_t *errors);

/* Associated data binding a ciphertext to its record.  Returns its length;
 * `out` must hold FARM_CREDS_AAD_MAX bytes. */
#define FARM_CREDS_AAD_MAX 600
size_t farm_creds_aad(const char *id, const char *org, const char *type, unsigned char *out);

/* Seals `value` into rec["sealed"] and rec["keyVersion"]. */
int farm_creds_seal(const struct farm_keyring *kr, json_t *rec, json_t *value);

/* Opens rec["sealed"]; *value is new (free with json_decref; Jansson's allocator
 * wipes it).  FARM_E_CRYPTO when it does not authenticate. */
int farm_creds_open(const struct farm_keyring *kr, json_t *rec, json_t **value);

/* Two record orgs are the same scope (NULL = no org). */
int farm_creds_same_org(const char *a, const char *b);

/* Inside a transaction: record `id` of the org-scoped table `tab` (an enum farm_table),
 * parsed, when it belongs to `org`.  *rec is new (json_decref), or NULL when the record
 * is missing or another org's: the two are told apart nowhere.  `rmw`: write-lock it. */
int farm_scoped_get(struct farm_txn *t, enum farm_table tab, const char *id, const char *org, int rmw,
		    json_t **rec);

/* Inside a transaction: the credential a platform call uses.  With `id` (from
 * ?credentialId=): that record when it belongs to `org`, of whatever type (the caller
 * checks it); another org's id sets *notfound exactly like a missing one.  Without:
 * the org's credential of `type` updated last (equal times: the greater id, so every
 * process agrees).  *rec is new (json_decref) or NULL when there is none. */
int farm_creds_pick(struct farm_txn *t, const char *org, const char *type, const char *id,
		    json_t **rec, int *notfound);

/* The public view: {id,type,name,orgId,createdAt,updatedAt}.  Returns new. */
json_t *farm_creds_public(json_t *rec);

#endif
