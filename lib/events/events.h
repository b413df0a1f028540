/* events.h - what the webhook receivers, farm-eventd and farm-wsd agree on.
 *
 * The event pipeline (docs/events.md):
 *   receiver  verified webhook → one transaction: dedupe key + outbox entry
 *             {"event":"ci.build.updated","data":{"id":null,...}} → ZeroMQ nudge
 *   eventd    outbox → id = next "event.id" → FARM_T_EVENTS[be64(id)] = event JSON with
 *             data.id set → publish [topic]["json"] on the PUB socket
 *   wsd       SUB + store → each client, in id order, what its org may see
 *
 * History keys are the event id as 8 bytes big-endian, so key order is id order.
 * Ids are consecutive: the sequence is advanced in the transaction that stores the
 * event, so a committed id has no hole below it except what pruning removed (always
 * the oldest ids).  The PUB topic is "org:<orgId>", or "org:" for an org-less event.
 * Liveness of the daemons is a POSIX write lock held on "<state_dir>/<name>.lock".
 */
#ifndef FARM_EVENTS_H
#define FARM_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"
#include "store.h"

/* The sequence (FARM_T_META) that numbers events. */
#define FARM_EVENTS_SEQ "event.id"
/* Lock-file names under state_dir. */
#define FARM_EVENTS_LOCK_EVENTD "eventd"
#define FARM_EVENTS_LOCK_WSD "wsd"
/* Topic prefix of every published event. */
#define FARM_EVENTS_TOPIC_PREFIX "org:"
/* Longest topic: prefix + an org claim (jwt.h FARM_CLAIM_MAX) + NUL. */
#define FARM_EVENTS_TOPIC_MAX (4 + 255 + 1)
/* Largest event JSON kept or forwarded. */
#define FARM_EVENTS_JSON_MAX (256 * 1024)

/* History key of `id`. */
void farm_events_key(uint64_t id, unsigned char key[8]);
/* The id of a history key; FARM_E_INVAL unless klen == 8. */
int farm_events_key_id(const void *key, size_t klen, uint64_t *id);

/* "org:<org>" or "org:" (org NULL) into out (cap bytes, NUL-terminated).
 * Returns the length, or FARM_E_TOOBIG when it does not fit. */
int farm_events_topic(const char *org, char *out, size_t cap);

/* 1 when a client of `client_org` (NULL: a token without org) may see an event of
 * `event_org` (NULL: org-less, seen by everyone); 0 otherwise. */
int farm_events_visible(const char *client_org, const char *event_org);

/* Reads data.id and data.orgId from an event's JSON (borrowed, len bytes).
 * *org is new (malloc, free with free()) or NULL for a null/absent orgId; org may be
 * NULL when not wanted.  FARM_E_INVAL when the JSON is malformed, not an event, or its
 * data.id is not a positive integer; FARM_E_TOOBIG over FARM_EVENTS_JSON_MAX. */
int farm_events_parse(const void *json, size_t len, uint64_t *id, char **org);

/* Inside a transaction: the newest id ever assigned (0 when none). */
int farm_events_last(struct farm_txn *t, uint64_t *last);
/* Inside a transaction: the oldest id still in the history (0 when it is empty). */
int farm_events_first(struct farm_txn *t, uint64_t *first);
/* Inside a transaction: the stored JSON of event `id`.  *json is new (malloc,
 * NUL-terminated, not counted in *len), free with free().  FARM_E_NOTFOUND. */
int farm_events_get(struct farm_txn *t, uint64_t id, char **json, size_t *len);

/* The row a table derived from the history keeps of event `id` with `data` (borrowed):
 * data without its "id" and "receivedAt", with "eventId": id, as compact JSON.  New,
 * free with farm_json_free(); NULL when out of memory. */
char *farm_events_row(json_t *data, uint64_t id);

/* Tables derived from the history (the board, the runs index) in an environment made
 * before them: feeds up to `per` retained events, oldest first, to `apply` (the event's
 * name and data, borrowed) and records in FARM_T_META `mark_key` the last id applied,
 * so a crash resumes where it stopped; once the whole history is in, the mark says
 * "done" and later calls do nothing.  *more is 1 while events remain; *put counts the
 * events applied.  On a new environment the history is empty: the first call says done. */
typedef int (*farm_events_apply_fn)(struct farm_txn *t, const char *event, json_t *data,
				    uint64_t id);
int farm_events_backfill(struct farm_txn *t, const char *mark_key, size_t per,
			 farm_events_apply_fn apply, int *more, size_t *put);

/* Opens the store as a daemon does (not the master; sync_commit honoured) after a
 * failchk, so that locks and transactions left by a killed predecessor are released
 * (a daemon is not a child of the farm-fcgi master, which checks only after its own
 * children die).  failchk runs in a child process bounded by FARM_EVENTS_FAILCHK_MS:
 * it can block for ever on a mutex a process killed inside Berkeley DB still holds.
 * *out new, free with farm_store_close().  FARM_E_RECOVER when the environment needs
 * the master's recovery: then this also asks for it (farm_events_recover_ask), and the
 * caller tries again later. */
#define FARM_EVENTS_FAILCHK_MS 5000
int farm_events_store_open(const struct farm_conf *c, struct farm_store **out,
			   struct farm_error *err);

/* A daemon's request for recovery: the file "<dir>/recover.wanted".  The farm-fcgi
 * master's watcher takes it (removes it) and runs its own bounded failchk, recovering
 * when that fails too: a request is a reason to look, never a recovery by itself.
 * ask: FARM_OK, or FARM_E_IO when the file cannot be made.  take: 1 when a request
 * was there (now removed), 0 when not. */
int farm_events_recover_ask(const char *dir);
int farm_events_recover_take(const char *dir);

/* Takes the exclusive lock "<dir>/<name>.lock" (created 0600) without waiting and
 * writes the caller's pid into it.  *fd is the open lock; keep it open for the life
 * of the process (the kernel drops the lock when the process dies).
 * FARM_E_EXISTS when another process holds it; FARM_E_IO otherwise. */
int farm_events_lock_take(const char *dir, const char *name, int *fd);

/* 1 when another process holds "<dir>/<name>.lock", 0 when nobody does (or the file
 * is missing), FARM_E_IO when it cannot be checked.  Takes no lock itself (F_GETLK),
 * so it never races with a daemon taking its lock. */
int farm_events_lock_held(const char *dir, const char *name);

/* The same answer through a descriptor kept open by the caller (*fd, -1 at first):
 * opened on first use once the file exists, then only asked (F_GETLK), so a health
 * probe costs one fcntl instead of open + fcntl + close.  The lock files are never
 * removed or replaced, so the descriptor stays valid.  Threads may share *fd once
 * it is set; the caller serialises the first open. */
int farm_events_lock_held_fd(const char *dir, const char *name, int *fd);

/* The wake word: a shared word in "<dir>/eventd.wake" (created 0600, never removed)
 * saying whether farm-eventd is about to wait for a nudge.  A nudge costs both sides
 * a trip through ZeroMQ's I/O threads; under load eventd is busy draining and every
 * nudge would be wasted, so a receiver nudges only when it claims the word.
 *
 *   eventd:    farm_events_wake_set(w, 1); drain; only if the drain found nothing,
 *              wait for a nudge; then farm_events_wake_set(w, 0).
 *   receiver:  commit; if farm_events_wake_claim(w), nudge.
 *
 * Nothing waits unseen: the receiver's commit comes before its look at the word and
 * eventd's "1" before its look at the outbox (both with full fences), so either eventd
 * finds the entry or the receiver finds the "1" and nudges.  Claiming clears the word,
 * so one nudge wakes eventd however many receivers commit meanwhile.  The file is
 * mapped, never read with read(2); a missing or unusable file means "always nudge". */
struct farm_events_wake;
/* Opens (creating it if needed) the word under dir.  *out new, free with
 * farm_events_wake_close().  FARM_E_IO when the file cannot be made or mapped. */
int farm_events_wake_open(const char *dir, struct farm_events_wake **out);

/* The shared words of state_dir (the wake word, the board's generation): maps
 * <dir>/<name>, a file of FARM_EVENTS_WORD_FILE bytes (one cache line) created zeroed
 * by whichever process comes first, MAP_SHARED.  *out is the mapping (munmap it with
 * FARM_EVENTS_WORD_FILE).  FARM_E_INVAL, FARM_E_TOOBIG (path), FARM_E_IO. */
#define FARM_EVENTS_WORD_FILE 64
int farm_events_word_map(const char *dir, const char *name, void **out);
void farm_events_wake_close(struct farm_events_wake *w);
/* eventd: 1 = about to wait (followed by a full fence), 0 = awake. */
void farm_events_wake_set(struct farm_events_wake *w, int waiting);
/* receiver, after its commit: 1 when it must nudge (the word was "waiting" and is now
 * cleared by this call); always 1 when w is NULL. */
int farm_events_wake_claim(struct farm_events_wake *w);

#endif
