/* farm-eventd.c - the sidecar: durable outbox → numbered history → ZeroMQ PUB.
 *
 *   farm-eventd [-c FILE] [-t] [-h]
 *
 * Woken by nudges on a PULL socket (events.push; the webhook receivers PUSH there
 * without ever blocking, and only when the wake word says eventd waits: events.h)
 * and every 500 ms regardless, it drains the outbox in batches: read the oldest
 * entries of every outbox shard, merged in order (farm_store_outbox_peek); then one
 * transaction gives each the next "event.id", stores it in FARM_T_EVENTS under that
 * id, writes it as its project's latest run on the board (lib/events/board.h), drops
 * history beyond events.history and removes the entries from the outbox; commit; bump
 * the board's generation (readers' caches key on it); then publish every committed
 * event on the PUB socket (events.pub) as [topic "org:<orgId>" | "org:"][event JSON].
 *
 * Why nothing is lost or numbered twice: an entry leaves the outbox in the same
 * transaction that stores it with its id and advances the sequence, so a crash
 * either keeps all of it or none.  A crash after the commit but before publishing
 * loses only the PUB message; subscribers that must not miss anything (farm-wsd)
 * also read the history, which is the source of truth.
 *
 * Liveness: an exclusive lock on <state_dir>/eventd.lock for as long as it runs
 * (GET /api/v1/health reports "sidecar" from it; a second eventd refuses to start).
 * Every hour, webhook redelivery keys older than webhook.dedupe_ttl are forgotten.
 * SIGTERM/SIGINT: finish the batch in hand, exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "board.h"
#include "runidx.h"
#include "clock.h"
#include "conf.h"
#include "daemon.h"
#include "platform.h"
#include "event.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "banned.h"

#define PER_SHARD 16           /* entries read from each outbox shard per batch */
#define BATCH (FARM_OUTBOX_SHARDS * PER_SHARD) /* events per transaction, at most */
#define POLL_MS 500            /* outbox poll when no nudge comes */
#define GAP_MS 5               /* least time between two drain transactions */
#define PRUNE_PER_BATCH 1024   /* history deletions per transaction */
#define DEDUPE_EVERY_S 3600    /* redelivery-key sweep period */
#define DEDUPE_PER_PASS 1000   /* keys forgotten per sweep transaction (a lock each) */
#define PUB_HWM 100000

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

struct eventd {
	struct farm_conf conf;
	struct farm_store *store;
	void *zctx, *pull, *pub;
	struct farm_events_wake *wake; /* the word receivers look at before nudging */
	struct farm_board_gen *board_gen; /* bumped after every commit that wrote the board */
	int lock_fd;
	uint64_t oldest; /* oldest id in the history, 0 = not known yet */
	struct farm_outbox_batch outbox; /* the entries of the batch in hand */
};

/* One batch, rebuilt from scratch on every attempt of the transaction. */
struct batch {
	struct eventd *d;
	size_t n;                 /* committed events to publish */
	char *json[BATCH];
	char *org[BATCH];
	size_t dropped;           /* unreadable outbox entries skipped */
	uint64_t oldest;
};

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		farm_json_free(b->json[i]);
		free(b->org[i]);
		b->json[i] = b->org[i] = NULL;
	}
	b->n = 0;
	b->dropped = 0;
}

/* Gives one outbox entry its id and stores it.  FARM_OK, FARM_E_INVAL (entry
 * unreadable: skipped), or a store error. */
static int take_one(struct farm_txn *t, struct batch *b, const void *val, size_t vlen)
{
	json_t *ev = json_loadb(val, vlen, 0, NULL), *data = json_object_get(ev, "data");
	json_t *org = json_object_get(data, "orgId");
	unsigned char key[8];
	uint64_t id;
	char *s = NULL;
	int rc;

	if (!json_is_object(data) || !json_is_string(json_object_get(ev, "event"))) {
		json_decref(ev);
		return FARM_E_INVAL;
	}
	/* Entries are capped by their producer (farm_event_dump); an older one, or one of
	 * a producer that did not, is capped here rather than stored beyond what farm-wsd
	 * and farmctl read: an acknowledged event is never lost to its size. */
	if ((rc = farm_event_cap(ev)) < 0)
		goto out;
	if ((rc = farm_txn_next_seq(t, FARM_EVENTS_SEQ, &id)) != FARM_OK)
		goto out;
	rc = FARM_E_NOMEM;
	if (id > (uint64_t)INT64_MAX ||
	    json_object_set_new(data, "id", json_integer((json_int_t)id)) != 0 ||
	    !(s = json_dumps(ev, JSON_COMPACT)))
		goto out;
	if (strlen(s) > FARM_EVENTS_JSON_MAX) {
		rc = FARM_E_INVAL; /* too many members even when capped: dropped, logged */
		goto out;
	}
	farm_events_key(id, key);
	if ((rc = farm_txn_put(t, FARM_T_EVENTS, key, sizeof(key), NULL, s, strlen(s), 0)) !=
		    FARM_OK ||
	    (rc = farm_board_put(t, data, id)) != FARM_OK ||
	    (rc = farm_runidx_put(t, json_string_value(json_object_get(ev, "event")), data, id)) !=
		    FARM_OK)
		goto out;
	b->org[b->n] = json_is_string(org) ? strdup(json_string_value(org)) : NULL;
	if (json_is_string(org) && !b->org[b->n]) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	b->json[b->n++] = s;
	s = NULL;
	if (b->oldest == 0)
		b->oldest = id; /* the history was empty */
	rc = FARM_OK;
out:
	farm_json_free(s);
	json_decref(ev);
	return rc;
}

/* Keeps the last events.history ids: deletes from the oldest up. */
static int prune(struct farm_txn *t, struct batch *b, uint64_t last)
{
	uint64_t keep = (uint64_t)b->d->conf.events_history;
	unsigned char key[8];
	int rc;

	if (b->oldest == 0 || last <= keep)
		return FARM_OK;
	for (int k = 0; k < PRUNE_PER_BATCH && b->oldest <= last - keep; k++, b->oldest++) {
		farm_events_key(b->oldest, key);
		rc = farm_txn_del(t, FARM_T_EVENTS, key, sizeof(key));
		if (rc != FARM_OK && rc != FARM_E_NOTFOUND)
			return rc;
	}
	/* The runs whose latest event left the history go with it (runidx.h). */
	return farm_runidx_prune(t, b->oldest, PRUNE_PER_BATCH);
}

/* The entries were read before this transaction (farm_store_outbox_peek, which
 * holds no lock on the outbox afterwards) and are removed last: webhook receivers
 * append to the outbox all the while, and wait only for the end of this transaction
 * instead of all of it. */
static int drain_txn(struct farm_txn *t, void *arg)
{
	struct batch *b = arg;
	struct farm_outbox_batch *ob = &b->d->outbox;
	uint64_t last = 0;
	int rc;

	batch_clear(b);
	b->oldest = b->d->oldest;
	if (b->oldest == 0 && (rc = farm_events_first(t, &b->oldest)) != FARM_OK)
		return rc;
	for (size_t i = 0; i < ob->n; i++) {
		rc = take_one(t, b, ob->e[i].val, ob->e[i].len);
		if (rc == FARM_E_INVAL) {
			b->dropped++; /* never blocks the queue behind it */
			continue;
		}
		if (rc != FARM_OK)
			return rc;
	}
	if ((rc = farm_events_last(t, &last)) != FARM_OK || (rc = prune(t, b, last)) != FARM_OK)
		return rc;
	return farm_txn_outbox_drop(t, ob);
}

static void publish(struct eventd *d, struct batch *b)
{
	char topic[FARM_EVENTS_TOPIC_MAX];

	for (size_t i = 0; d->pub && i < b->n; i++) {
		int n = farm_events_topic(b->org[i], topic, sizeof(topic));
		/* PUB never blocks: past the high-water mark a subscriber loses messages,
		 * and reads the history instead. */
		if (n < 0 || zmq_send(d->pub, topic, (size_t)n, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		    zmq_send(d->pub, b->json[i], strlen(b->json[i]), ZMQ_DONTWAIT) < 0)
			farm_log(FARM_LOG_WARN, NULL, zmq_errno(), "publish");
	}
}

/* Drains the whole outbox; *taken counts the entries.  FARM_OK or the store error
 * that stopped it. */
static int drain(struct eventd *d, size_t *taken)
{
	struct batch b;
	int rc, more;

	memset(&b, 0, sizeof(b));
	b.d = d;
	do {
		if ((rc = farm_store_outbox_peek(d->store, PER_SHARD, &d->outbox)) != FARM_OK ||
		    d->outbox.n == 0)
			break;
		more = 0;
		for (int k = 0; k < FARM_OUTBOX_SHARDS; k++)
			more |= d->outbox.take[k] == PER_SHARD; /* a full shard: more may wait */
		rc = farm_store_run(d->store, drain_txn, &b);
		if (rc != FARM_OK) {
			batch_clear(&b);
			farm_outbox_batch_clear(&d->outbox);
			break;
		}
		farm_outbox_batch_done(&d->outbox);
		if (b.n)
			farm_board_gen_bump(d->board_gen);
		d->oldest = b.oldest;
		if (b.dropped)
			farm_log(FARM_LOG_ERROR, NULL, 0, "dropped %zu unreadable outbox entries",
				 b.dropped);
		publish(d, &b);
		*taken += b.n + b.dropped;
		if (b.n)
			farm_log(FARM_LOG_DEBUG, NULL, 0, "published %zu events", b.n);
		batch_clear(&b);
	} while (more && !stopping);
	return rc;
}

/* --- forgetting old redelivery keys ------------------------------------------------ */

struct sweep {
	uint64_t before_ms;
	size_t n;
	struct {
		char *key;
		size_t len;
	} old[DEDUPE_PER_PASS];
};

static void sweep_clear(struct sweep *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->old[i].key);
	w->n = 0;
}

static int sweep_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct sweep *w = arg;
	uint64_t when;

	if (farm_events_key_id(val, vlen, &when) != FARM_OK || when >= w->before_ms)
		return FARM_OK;
	if (!(w->old[w->n].key = malloc(klen ? klen : 1)))
		return FARM_E_NOMEM;
	memcpy(w->old[w->n].key, key, klen);
	w->old[w->n].len = klen;
	return ++w->n == DEDUPE_PER_PASS ? 1 : FARM_OK;
}

static int sweep_txn(struct farm_txn *t, void *arg)
{
	struct sweep *w = arg;
	int rc;

	sweep_clear(w);
	if ((rc = farm_txn_scan(t, FARM_T_DEDUPE, NULL, FARM_SCAN_ALL | FARM_SCAN_COMMITTED,
				sweep_cb, w)) != FARM_OK)
		return rc;
	for (size_t i = 0; i < w->n; i++)
		if ((rc = farm_txn_del(t, FARM_T_DEDUPE, w->old[i].key, w->old[i].len)) !=
			    FARM_OK &&
		    rc != FARM_E_NOTFOUND)
			return rc;
	return FARM_OK;
}

static int sweep_dedupe(struct eventd *d)
{
	struct sweep *w;
	size_t total = 0;
	int rc = FARM_OK, full;

	if (d->conf.webhook_dedupe_ttl <= 0)
		return FARM_OK;
	if (!(w = calloc(1, sizeof(*w))))
		return FARM_E_NOMEM;
	w->before_ms = (uint64_t)(farm_clock_ms() - d->conf.webhook_dedupe_ttl * 1000LL);
	do {
		rc = farm_store_run(d->store, sweep_txn, w);
		full = rc == FARM_OK && w->n == DEDUPE_PER_PASS;
		if (rc == FARM_OK)
			total += w->n;
		sweep_clear(w);
	} while (full && !stopping);
	free(w);
	if (total)
		farm_log(FARM_LOG_INFO, NULL, 0, "forgot %zu webhook delivery keys older than %ld s",
			 total, d->conf.webhook_dedupe_ttl);
	return rc;
}

/* --- set-up --------------------------------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopping)
		;
}

struct fill {
	int more;
	size_t put;
};

static int fill_txn(struct farm_txn *t, void *arg)
{
	struct fill *f = arg;

	int rc = farm_board_backfill(t, BATCH, &f->more, &f->put), more = 0;
	size_t put = 0;

	/* Then the runs index (an environment made before it existed), the same way. */
	if (rc == FARM_OK && !f->more && (rc = farm_runidx_backfill(t, BATCH, &more, &put)) == FARM_OK) {
		f->more = more;
		f->put += put;
	}
	return rc;
}

/* The board of an environment made before it existed: filled from the history
 * before anything new is numbered (board.h).  Nothing to do after the first time. */
static int fill_board(struct eventd *d)
{
	struct fill f;
	size_t total = 0;
	int rc;

	do {
		memset(&f, 0, sizeof(f));
		if ((rc = farm_store_run(d->store, fill_txn, &f)) != FARM_OK)
			return rc;
		total += f.put;
	} while (f.more && !stopping);
	if (total) {
		farm_log(FARM_LOG_INFO, NULL, 0, "board: filled from %zu events of the history", total);
		farm_board_gen_bump(d->board_gen);
	}
	return f.more ? FARM_E_UNAVAIL : FARM_OK; /* stopped half-way: resumed next start */
}

/* Opens the store, waiting (bounded by a stop) while it needs recovery. */
static int open_store(struct eventd *d)
{
	struct farm_error err = {0};
	int warned = 0;

	while (!stopping) {
		if (farm_events_store_open(&d->conf, &d->store, &err) == FARM_OK) {
			d->oldest = 0; /* read again from the history */
			/* A replica's board is the master's, filled there. */
			if (farm_store_writable(d->store) == FARM_E_NOTMASTER ||
			    fill_board(d) == FARM_OK)
				return 0;
			snprintf(err.msg, sizeof(err.msg), "board: could not fill it from the history");
			farm_store_close(d->store);
			d->store = NULL;
		}
		if (!warned++)
			farm_log(FARM_LOG_ERROR, NULL, 0, "%s; retrying", err.msg);
		sleep_ms(1000);
	}
	return -1;
}

static int open_zmq(struct eventd *d)
{
	int hwm = PUB_HWM, zero = 0;

	if (!(d->zctx = zmq_ctx_new()))
		return -1;
	if (d->conf.events_push && *d->conf.events_push) {
		if (!(d->pull = zmq_socket(d->zctx, ZMQ_PULL)) ||
		    zmq_setsockopt(d->pull, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
		    zmq_bind(d->pull, d->conf.events_push) != 0) {
			farm_log(FARM_LOG_ERROR, NULL, zmq_errno(), "events.push %s",
				 d->conf.events_push);
			return -1;
		}
	}
	if (d->conf.events_pub && *d->conf.events_pub) {
		if (!(d->pub = zmq_socket(d->zctx, ZMQ_PUB)) ||
		    zmq_setsockopt(d->pub, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
		    zmq_setsockopt(d->pub, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
		    zmq_bind(d->pub, d->conf.events_pub) != 0) {
			farm_log(FARM_LOG_ERROR, NULL, zmq_errno(), "events.pub %s",
				 d->conf.events_pub);
			return -1;
		}
	}
	return 0;
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: farm-eventd [-c FILE] [-t] [-v] [-h]\n"
		    "  -c FILE  configuration file (default: $FARM_CONFIG, else built-in defaults)\n"
		    "  -t       check the configuration and exit\n"
		    "  -v       print the version and exit\n"
		    "  -h       this help\n"
		    "Drains the event outbox into the history and publishes each event on\n"
		    "events.pub (ZeroMQ PUB, topic \"org:<orgId>\" or \"org:\").\n");
}

/* On a replica: bumps the board's generation when replication advanced the log. */
static void replica_tick(struct eventd *d)
{
	static uint32_t file, off;
	struct farm_repl_status st;

	if (farm_store_repl_status(d->store, &st) != FARM_OK)
		return;
	if (st.lsn_file != file || st.lsn_offset != off) {
		file = st.lsn_file;
		off = st.lsn_offset;
		farm_board_gen_bump(d->board_gen);
	}
}

int main(int argc, char **argv)
{
	struct eventd d;
	time_t last_sweep = 0;
	long long last_drain = 0;
	int rc, code = 1;

	memset(&d, 0, sizeof(d));
	d.lock_fd = -1;
	farm_json_init();
	if (farm_platform_conf_register() != FARM_OK) /* the platforms' config keys */
		return 1;
	if ((rc = farm_daemon_start("farm-eventd", argc, argv, usage, &d.conf, NULL)) >= 0)
		return rc;
	farm_daemon_signals(on_stop); /* no SA_RESTART: a blocking wait returns at once */

	if (farm_daemon_lock("farm-eventd", d.conf.state_dir, FARM_EVENTS_LOCK_EVENTD, &d.lock_fd) < 0)
		goto out;
	if (open_store(&d) < 0 || open_zmq(&d) < 0)
		goto out;
	/* A predecessor killed between a commit and its bump left readers' caches on a
	 * generation that no longer matches the board: bump once before anything else. */
	if (farm_board_gen_open(d.conf.state_dir, &d.board_gen) != FARM_OK)
		farm_log(FARM_LOG_WARN, NULL, errno, "%s/board.gen: the pool will not cache the "
			 "board", d.conf.state_dir);
	farm_board_gen_bump(d.board_gen);
	if (farm_events_wake_open(d.conf.state_dir, &d.wake) != FARM_OK)
		farm_log(FARM_LOG_WARN, NULL, errno, "%s/eventd.wake: receivers will not know "
			 "when to nudge; events wait for the %d ms poll", d.conf.state_dir, POLL_MS);
	farm_log(FARM_LOG_INFO, NULL, 0, "ready: pull %s, publish %s, history %ld",
		 d.pull ? d.conf.events_push : "(none)", d.pub ? d.conf.events_pub : "(none)",
		 d.conf.events_history);

	while (!stopping) {
		zmq_pollitem_t it = {d.pull, 0, ZMQ_POLLIN, 0};
		char nudge[16];
		size_t taken = 0;

		/* Every drain transaction holds the outbox, which webhook transactions
		 * append to, for one commit.  Under load, waiting a few ms gathers a
		 * bigger batch and leaves the commits to the webhooks. */
		if (farm_clock_ms() - last_drain < GAP_MS)
			sleep_ms(GAP_MS - (farm_clock_ms() - last_drain));
		/* Replicated: only the master numbers events (one id sequence for the
		 * group, carried by the replicated history); on a replica the outbox is the
		 * master's copy, and the board changes under readers' caches only through
		 * replication, so the generation follows the end of the log. */
		if (d.store && farm_store_writable(d.store) == FARM_E_NOTMASTER) {
			replica_tick(&d);
			sleep_ms(POLL_MS / 5);
			continue;
		}
		/* From here until the wait ends, a receiver's commit nudges (events.h). */
		farm_events_wake_set(d.wake, 1);
		rc = drain(&d, &taken);
		last_drain = farm_clock_ms();
		if (rc == FARM_OK && time(NULL) - last_sweep >= DEDUPE_EVERY_S) {
			rc = sweep_dedupe(&d);
			last_sweep = time(NULL);
		}
		if (rc == FARM_E_RECOVER) {
			farm_log(FARM_LOG_WARN, NULL, 0, "database needs recovery: reopening");
			farm_store_close(d.store);
			d.store = NULL;
			sleep_ms(1000);
			if (open_store(&d) < 0)
				break;
		} else if (rc != FARM_OK) {
			farm_log(FARM_LOG_ERROR, NULL, 0, "outbox: %s", farm_strerror(rc));
			sleep_ms(POLL_MS);
		} else if (taken == 0 && !stopping) {
			/* Found nothing after announcing the wait: sleep until a nudge. */
			if (d.pull) {
				if (zmq_poll(&it, 1, POLL_MS) < 0 && zmq_errno() != EINTR) {
					farm_log(FARM_LOG_ERROR, NULL, zmq_errno(), "zmq_poll");
					sleep_ms(POLL_MS);
				}
				/* Every nudge waiting means the same thing: look again. */
				while (zmq_recv(d.pull, nudge, sizeof(nudge), ZMQ_DONTWAIT) >= 0)
					;
			} else {
				sleep_ms(POLL_MS);
			}
		}
		farm_events_wake_set(d.wake, 0);
	}
	code = 0;
	farm_log(FARM_LOG_INFO, NULL, 0, "stopped");
out:
	farm_events_wake_close(d.wake);
	farm_board_gen_close(d.board_gen);
	if (d.pull)
		zmq_close(d.pull);
	if (d.pub)
		zmq_close(d.pub);
	if (d.zctx)
		zmq_ctx_term(d.zctx);
	farm_store_close(d.store);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	farm_conf_free(&d.conf);
	return code;
}
