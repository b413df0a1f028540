/* watch.c - runs watched until they end and their one observation (watch.h). */
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "store.h"
#include "banned.h"

#define OBS "run.obs\n"
#define WATCH "run.watch\n"

int farm_watch_final(const char *status)
{
	static const char *const finals[] = {"success", "failed", "canceled", "error",
					     "unstable"};

	for (size_t i = 0; status && i < sizeof(finals) / sizeof(finals[0]); i++)
		if (!strcmp(status, finals[i]))
			return 1;
	return 0;
}

static int run_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > FARM_WATCH_RUN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* "<prefix><type>\n<org|->\n<run>" into key; its length, or -1.  One per run and
 * org, whichever of the org's credentials saw it. */
static int key_of(char *key, size_t cap, const char *prefix, const char *type,
		  const char *org, const char *run)
{
	int n = snprintf(key, cap, "%s%s\n%s%s\n%s", prefix, type, org ? "o" : "-", org ? org : "",
			 run);

	return n > 0 && (size_t)n < cap ? n : -1;
}

struct count_io {
	size_t n;
};

static int count_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct count_io *c = arg;

	(void)val;
	(void)vlen;
	if (klen > sizeof(WATCH) - 1 && !memcmp(key, WATCH, sizeof(WATCH) - 1))
		c->n++;
	return FARM_OK;
}

int farm_watch_add(struct farm_txn *t, const char *type, const char *org, const char *cred_id,
		   const char *run_id, long long now_ms)
{
	char key[sizeof(WATCH) + 512 + FARM_WATCH_RUN_MAX];
	void *val = NULL;
	size_t vlen = 0;
	struct count_io cnt = {0};
	json_t *w;
	char *s;
	int kl, rc;

	if (!type || !run_ok(run_id) ||
	    (kl = key_of(key, sizeof(key), WATCH, type, org, run_id)) < 0)
		return FARM_E_INVAL;
	rc = farm_txn_get(t, FARM_T_META, key, (size_t)kl, &val, &vlen, 0);
	free(val);
	if (rc != FARM_E_NOTFOUND)
		return rc; /* watched already (FARM_OK), or a store error */
	rc = farm_txn_scan(t, FARM_T_META, NULL, FARM_SCAN_ALL | FARM_SCAN_COMMITTED, count_cb,
			   &cnt);
	if (rc != FARM_OK)
		return rc;
	if (cnt.n >= FARM_WATCH_MAX)
		return FARM_E_TOOBIG;
	w = json_pack("{s:s,s:s?,s:s?,s:s,s:I,s:I,s:i}", "type", type, "org", org, "cred",
		      cred_id, "run", run_id, "since", (json_int_t)now_ms, "next",
		      (json_int_t)now_ms, "fails", 0);
	s = w ? json_dumps(w, JSON_COMPACT) : NULL;
	json_decref(w);
	if (!s)
		return FARM_E_NOMEM;
	rc = farm_txn_put(t, FARM_T_META, key, (size_t)kl, NULL, s, strlen(s), 0);
	free(s);
	return rc;
}

static int watch_del(struct farm_txn *t, const char *type, const char *org, const char *run)
{
	char key[sizeof(WATCH) + 512 + FARM_WATCH_RUN_MAX];
	int kl = key_of(key, sizeof(key), WATCH, type, org, run), rc;

	if (kl < 0)
		return FARM_E_INVAL;
	rc = farm_txn_del(t, FARM_T_META, key, (size_t)kl);
	return rc == FARM_E_NOTFOUND ? FARM_OK : rc;
}

/* The event: the contract's member order, id left for farm-eventd. */
static json_t *event_of(const char *type, const char *org, const char *cred_id, json_t *fields,
			const char *now_iso)
{
	json_t *data = json_object(), *v;
	const char *k;
	int bad = !data;

	bad |= json_object_set_new(data, "id", json_null());
	bad |= json_object_set_new(data, "provider", json_string(type));
	bad |= json_object_set_new(data, "orgId", org ? json_string(org) : json_null());
	bad |= json_object_set_new(data, "credentialId",
				   cred_id ? json_string(cred_id) : json_null());
	json_object_foreach(fields, k, v)
		if (strcmp(k, "provider"))
			bad |= json_object_set(data, k, v);
	bad |= json_object_set_new(data, "receivedAt", json_string(now_iso));
	if (bad) {
		json_decref(data);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "event", FARM_EVENT_BUILD_UPDATED, "data", data);
}

int farm_watch_observe(struct farm_txn *t, const char *type, const char *org,
		       const char *cred_id, json_t *fields, const char *now_iso,
		       long long now_ms, int *emitted)
{
	const char *run = json_string_value(json_object_get(fields, "buildId"));
	const char *status = json_string_value(json_object_get(fields, "status"));
	char key[sizeof(OBS) + 512 + FARM_WATCH_RUN_MAX];
	json_t *old = NULL, *fp = NULL, *ev = NULL;
	char *fps = NULL, *evs = NULL;
	void *val = NULL;
	size_t vlen = 0, evlen = 0;
	int kl, rc;

	*emitted = 0;
	if (!type || !status || !run_ok(run) ||
	    (kl = key_of(key, sizeof(key), OBS, type, org, run)) < 0)
		return FARM_E_INVAL;
	rc = farm_txn_get(t, FARM_T_META, key, (size_t)kl, &val, &vlen, 1);
	if (rc == FARM_OK)
		old = json_loadb(val, vlen, 0, NULL);
	else if (rc != FARM_E_NOTFOUND)
		goto out;
	rc = FARM_OK;
	if (!old || !json_is_string(json_object_get(old, "status")) ||
	    strcmp(json_string_value(json_object_get(old, "status")), status)) {
		rc = FARM_E_NOMEM;
		fp = json_pack("{s:s}", "status", status);
		fps = fp ? json_dumps(fp, JSON_COMPACT) : NULL;
		ev = event_of(type, org, cred_id, fields, now_iso);
		if (!fps || !ev)
			goto out;
		if ((rc = farm_event_dump(ev, &evs, &evlen)) != FARM_OK)
			goto out;
		rc = farm_txn_put(t, FARM_T_META, key, (size_t)kl, NULL, fps, strlen(fps), 0);
		if (rc == FARM_OK)
			rc = farm_txn_outbox_append(t, evs, evlen);
		if (rc != FARM_OK)
			goto out;
		*emitted = 1;
	}
	if (farm_watch_final(status))
		rc = watch_del(t, type, org, run);
	else
		rc = farm_watch_add(t, type, org, cred_id, run, now_ms);
	if (rc == FARM_E_TOOBIG)
		rc = FARM_OK; /* observed; only not watched */
out:
	free(val);
	free(fps);
	farm_json_free(evs);
	json_decref(ev);
	json_decref(fp);
	json_decref(old);
	return rc;
}

struct list_io {
	json_t *out;
	size_t max;
};

static int list_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct list_io *l = arg;
	json_t *w;

	if (klen <= sizeof(WATCH) - 1 || memcmp(key, WATCH, sizeof(WATCH) - 1))
		return FARM_OK;
	if (json_array_size(l->out) >= l->max)
		return 1;
	w = json_loadb(val, vlen, 0, NULL);
	if (!json_is_object(w) || !json_is_string(json_object_get(w, "type")) ||
	    !json_is_string(json_object_get(w, "run")) ||
	    json_object_set_new(w, "key", json_stringn(key, klen)) ||
	    json_array_append_new(l->out, w)) {
		json_decref(w); /* unreadable: left alone */
		return FARM_OK;
	}
	return FARM_OK;
}

int farm_watch_list(struct farm_txn *t, size_t max, json_t **out)
{
	struct list_io l = {json_array(), max};
	int rc;

	*out = NULL;
	if (!l.out)
		return FARM_E_NOMEM;
	rc = farm_txn_scan(t, FARM_T_META, NULL, FARM_SCAN_ALL | FARM_SCAN_COMMITTED, list_cb, &l);
	if (rc != FARM_OK && rc != 1) {
		json_decref(l.out);
		return rc;
	}
	*out = l.out;
	return FARM_OK;
}

int farm_watch_put(struct farm_txn *t, json_t *w)
{
	const char *key = json_string_value(json_object_get(w, "key"));
	json_t *copy;
	char *s;
	void *val = NULL;
	size_t vlen;
	int rc;

	if (!key)
		return FARM_E_INVAL;
	/* Only while it is still watched: an observation may have ended it meanwhile. */
	rc = farm_txn_get(t, FARM_T_META, key, strlen(key), &val, &vlen, 1);
	free(val);
	if (rc != FARM_OK)
		return rc == FARM_E_NOTFOUND ? FARM_OK : rc;
	copy = json_copy(w);
	if (!copy)
		return FARM_E_NOMEM;
	json_object_del(copy, "key");
	s = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	if (!s)
		return FARM_E_NOMEM;
	rc = farm_txn_put(t, FARM_T_META, key, strlen(key), NULL, s, strlen(s), 0);
	free(s);
	return rc;
}

int farm_watch_drop(struct farm_txn *t, json_t *w)
{
	const char *key = json_string_value(json_object_get(w, "key"));
	int rc;

	if (!key)
		return FARM_E_INVAL;
	rc = farm_txn_del(t, FARM_T_META, key, strlen(key));
	return rc == FARM_E_NOTFOUND ? FARM_OK : rc;
}
