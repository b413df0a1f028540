/* farm-wsd-feed.c - the bridge's view of the event history, kept gap-free.
 *
 * wsd.last_id is the newest event the bridge holds; the ring keeps the last
 * WSD_RING of them.  Events come from two places:
 *   - the SUB socket (fast path): an event with id last_id+1 is appended; an older
 *     id is a duplicate and ignored; a newer one means something was missed, and the
 *     missing ids are read from the history first;
 *   - the history itself (FARM_T_EVENTS), read every tick up to the stored sequence:
 *     this closes every gap (eventd died between commit and publish, PUB dropped at
 *     its high-water mark, the bridge restarted).
 * So the ring only ever grows by consecutive ids, and a client's cursor walks those
 * ids one by one: each client gets every event it may see, in order, exactly once
 * per connection.  A client behind the ring (a ?since= replay, or slow) reads the
 * history in batches as its queue drains.
 */
#include "farm-wsd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "events.h"
#include "log.h"
#include "banned.h"

/* --- messages and the ring ---------------------------------------------------------- */

static struct wsd_msg *msg_new(uint64_t id, char *org, const char *json, size_t len)
{
	struct wsd_msg *m = malloc(sizeof(*m) + LWS_PRE + len + 1);

	if (!m) {
		free(org);
		return NULL;
	}
	m->refs = 1;
	m->id = id;
	m->org = org; /* taken */
	m->len = len;
	memcpy(m->buf + LWS_PRE, json, len);
	m->buf[LWS_PRE + len] = '\0';
	return m;
}

void wsd_msg_unref(struct wsd_msg *m)
{
	if (!m || --m->refs > 0)
		return;
	free(m->org);
	free(m);
}

static struct wsd_msg *ring_get(uint64_t id)
{
	struct wsd_msg *m = wsd.ring[id & (WSD_RING - 1)];

	return m && m->id == id ? m : NULL;
}

/* Appends event last_id+1 (takes m). */
static void ring_push(struct wsd_msg *m)
{
	struct wsd_msg **slot = &wsd.ring[m->id & (WSD_RING - 1)];

	wsd_msg_unref(*slot);
	*slot = m;
	wsd.last_id = m->id;
}

/* --- the store ----------------------------------------------------------------------- */

int wsd_store_run(farm_store_fn fn, void *arg)
{
	static int64_t last_try;
	struct farm_error err = {0};
	int rc;

	if (!wsd.store) {
		/* At most one attempt a second: each runs a failchk in a child process,
		 * and the event loop must keep serving the ring meanwhile. */
		if (wsd_now_ms() - last_try < 1000)
			return FARM_E_UNAVAIL;
		last_try = wsd_now_ms();
		if (farm_events_store_open(&wsd.conf, &wsd.store, &err) != FARM_OK)
			return FARM_E_UNAVAIL;
		farm_log(FARM_LOG_INFO, NULL, 0, "database reopened");
	}
	rc = farm_store_run(wsd.store, fn, arg);
	if (rc == FARM_E_RECOVER) {
		/* The master recovers the environment; reopen on the next use. */
		farm_log(FARM_LOG_WARN, NULL, 0, "database needs recovery: closing it");
		farm_store_close(wsd.store);
		wsd.store = NULL;
	}
	return rc;
}

/* Events read from the history in one transaction. */
struct range {
	uint64_t from, to;        /* inclusive */
	uint64_t last;            /* the stored sequence */
	uint64_t first;           /* oldest retained id (0: none) */
	size_t n;
	struct {
		uint64_t id;
		char *json;
		size_t len;
	} ev[WSD_STORE_BATCH];
};

static void range_clear(struct range *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i].json);
	r->n = 0;
}

/* Reads ids from..to (at most WSD_STORE_BATCH), stopping at the first missing one:
 * below r->first it was pruned (the caller skips to first), otherwise it cannot be
 * missing (ids are consecutive) and the caller stops too. */
static int range_txn(struct farm_txn *t, void *arg)
{
	struct range *r = arg;
	int rc;

	range_clear(r);
	if ((rc = farm_events_last(t, &r->last)) != FARM_OK ||
	    (rc = farm_events_first(t, &r->first)) != FARM_OK)
		return rc;
	if (r->to > r->last)
		r->to = r->last;
	for (uint64_t id = r->from; id <= r->to && r->n < WSD_STORE_BATCH; id++) {
		rc = farm_events_get(t, id, &r->ev[r->n].json, &r->ev[r->n].len);
		if (rc == FARM_E_NOTFOUND)
			break;
		if (rc != FARM_OK)
			return rc;
		r->ev[r->n++].id = id;
	}
	return FARM_OK;
}

/* Builds a message from a stored event; NULL when unreadable (logged). */
static struct wsd_msg *msg_from_store(uint64_t id, const char *json, size_t len)
{
	uint64_t got = 0;
	char *org = NULL;

	if (farm_events_parse(json, len, &got, &org) != FARM_OK || got != id) {
		free(org);
		farm_log(FARM_LOG_ERROR, NULL, 0, "event %llu in the history is unreadable",
			 (unsigned long long)id);
		return NULL;
	}
	return msg_new(id, org, json, len);
}

/* Brings the ring up to `upto` (0: the stored sequence).  1 when it advanced. */
static int sync_to(uint64_t upto)
{
	struct range *r = calloc(1, sizeof(*r));
	int advanced = 0, rounds = 0;

	if (!r)
		return 0;
	/* Bounded per call: the event loop must not stall; the next tick continues. */
	while (rounds++ < WSD_RING / WSD_STORE_BATCH) {
		r->from = wsd.last_id + 1;
		r->to = upto ? upto : UINT64_MAX;
		if (upto && upto <= wsd.last_id)
			break;
		if (wsd_store_run(range_txn, r) != FARM_OK)
			break;
		if (r->last <= wsd.last_id)
			break;
		if (r->n == 0 && r->first > r->from) {
			/* Pruned before the bridge saw them: nothing to hold. */
			wsd.last_id = r->first - 1;
			advanced = 1;
			continue;
		}
		if (r->n == 0) {
			farm_log(FARM_LOG_ERROR, NULL, 0, "event %llu missing from the history",
				 (unsigned long long)r->from);
			wsd.last_id = r->from; /* never stall the stream behind a hole */
			advanced = 1;
			continue;
		}
		for (size_t i = 0; i < r->n; i++) {
			struct wsd_msg *m = msg_from_store(r->ev[i].id, r->ev[i].json, r->ev[i].len);
			if (m)
				ring_push(m);
			else
				wsd.last_id = r->ev[i].id;
			advanced = 1;
		}
		range_clear(r);
	}
	range_clear(r);
	free(r);
	return advanced;
}

int wsd_feed_sync(void)
{
	if (!sync_to(0))
		return 0;
	wsd_pump_all();
	return 1;
}

/* --- ZeroMQ ------------------------------------------------------------------------- */

/* One published event (the JSON frame). */
static int take_published(const char *json, size_t len)
{
	uint64_t id = 0;
	char *org = NULL;
	struct wsd_msg *m;

	if (farm_events_parse(json, len, &id, &org) != FARM_OK) {
		farm_log(FARM_LOG_WARN, NULL, 0, "unreadable message on events.pub ignored");
		return 0;
	}
	if (id <= wsd.last_id) {
		free(org); /* already held (read from the history first) */
		return 0;
	}
	if (id > wsd.last_id + 1) {
		wsd.stat_dropped_pub++;
		sync_to(id - 1);
		if (id != wsd.last_id + 1) {
			free(org); /* the history could not fill the gap now; the tick will */
			return 1;
		}
	}
	if (!(m = msg_new(id, org, json, len)))
		return 0;
	ring_push(m);
	return 1;
}

void wsd_feed_zmq(void)
{
	int got = 0;

	if (!wsd.sub)
		return;
	for (;;) {
		zmq_msg_t topic, body;
		int more = 0;
		size_t ml = sizeof(more);

		zmq_msg_init(&topic);
		if (zmq_msg_recv(&topic, wsd.sub, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&topic);
			if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
				farm_log(FARM_LOG_WARN, NULL, zmq_errno(), "events.pub receive");
			break;
		}
		zmq_getsockopt(wsd.sub, ZMQ_RCVMORE, &more, &ml);
		zmq_msg_close(&topic);
		if (!more)
			continue; /* not an event: [topic][json] */
		zmq_msg_init(&body);
		if (zmq_msg_recv(&body, wsd.sub, 0) >= 0)
			got |= take_published(zmq_msg_data(&body), zmq_msg_size(&body));
		zmq_msg_close(&body);
		/* Drop any further frames of a malformed message. */
		while (zmq_getsockopt(wsd.sub, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
			zmq_msg_init(&body);
			zmq_msg_recv(&body, wsd.sub, 0);
			zmq_msg_close(&body);
		}
	}
	if (got)
		wsd_pump_all();
}

/* --- client queues --------------------------------------------------------------------- */

static int queue_full(const struct wsd_client *c)
{
	return c->qlen >= WSD_QUEUE_MAX || c->qbytes >= WSD_QUEUE_BYTES;
}

/* Appends m (a reference is taken).  Grows the queue from 8 slots, so an idle client
 * costs no queue memory at all. */
static int queue_push(struct wsd_client *c, struct wsd_msg *m)
{
	if (c->qlen == c->qcap) {
		unsigned ncap = c->qcap ? c->qcap * 2 : 8;
		struct wsd_msg **nq;

		if (ncap > WSD_QUEUE_MAX)
			return -1;
		if (!(nq = malloc(ncap * sizeof(*nq))))
			return -1;
		for (unsigned i = 0; i < c->qlen; i++)
			nq[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = nq;
		c->qcap = ncap;
		c->qhead = 0;
	}
	c->q[(c->qhead + c->qlen) % c->qcap] = m;
	c->qlen++;
	c->qbytes += m->len;
	m->refs++;
	if (!c->waiting_ms)
		c->waiting_ms = wsd_now_ms();
	return 0;
}

struct wsd_msg *wsd_client_head(struct wsd_client *c)
{
	return c->qlen ? c->q[c->qhead] : NULL;
}

void wsd_client_pop(struct wsd_client *c)
{
	struct wsd_msg *m;

	if (!c->qlen)
		return;
	m = c->q[c->qhead];
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	c->qbytes -= m->len;
	wsd_msg_unref(m);
	/* The socket took a message: what is left waits from now. */
	c->waiting_ms = c->qlen ? wsd_now_ms() : 0;
	if (c->qlen == 0) {
		/* Back to idle: give the slots back. */
		free(c->q);
		c->q = NULL;
		c->qcap = c->qhead = 0;
	}
}

void wsd_client_release(struct wsd_client *c)
{
	while (c->qlen)
		wsd_client_pop(c);
	free(c->q);
	c->q = NULL;
	c->qcap = 0;
	free(c->org);
	c->org = NULL;
}

/* A client behind the ring: reads its next events from the history.  0 when its
 * cursor moved, -1 when it cannot move now. */
static int fill_from_store(struct wsd_client *c)
{
	struct range *r = calloc(1, sizeof(*r));
	int moved = -1;

	if (!r)
		return -1;
	r->from = c->cursor + 1;
	r->to = wsd.last_id;
	if (wsd_store_run(range_txn, r) != FARM_OK)
		goto out;
	if (r->n == 0) {
		if (r->first > r->from) {
			/* Pruned: the history starts later.  Nothing older exists any more. */
			c->cursor = (r->first - 1 < wsd.last_id ? r->first - 1 : wsd.last_id);
			moved = 0;
		} else if (r->from <= wsd.last_id && r->from <= r->last) {
			farm_log(FARM_LOG_ERROR, NULL, 0, "event %llu missing from the history",
				 (unsigned long long)r->from);
			c->cursor = r->from;
			moved = 0;
		}
		goto out;
	}
	for (size_t i = 0; i < r->n && !queue_full(c); i++) {
		struct wsd_msg *m = ring_get(r->ev[i].id);

		if (m)
			m->refs++;
		else
			m = msg_from_store(r->ev[i].id, r->ev[i].json, r->ev[i].len);
		if (m && farm_events_visible(c->org, m->org) && queue_push(c, m) < 0) {
			wsd_msg_unref(m);
			break;
		}
		wsd_msg_unref(m);
		c->cursor = r->ev[i].id;
		moved = 0;
	}
out:
	range_clear(r);
	free(r);
	return moved;
}

void wsd_client_pump(struct wsd_client *c)
{
	if (c->closing || !c->authed)
		return;
	while (c->cursor < wsd.last_id) {
		struct wsd_msg *m = ring_get(c->cursor + 1);

		if (!m) {
			if (queue_full(c) || fill_from_store(c) < 0)
				break;
			continue;
		}
		if (farm_events_visible(c->org, m->org)) {
			/* A full queue: c goes on from the ring or the history at its own
			 * pace, refilled from its WRITEABLE callback (a burst must not close
			 * a client that reads).  One whose socket takes nothing is closed by
			 * wsd_conn_keepalive after wsd.send_timeout. */
			if (queue_full(c) || queue_push(c, m) < 0)
				break;
		}
		c->cursor++;
	}
	if (c->qlen)
		wsd_conn_send(c);
}

void wsd_pump_all(void)
{
	for (struct wsd_client *c = wsd.clients; c; c = c->next)
		wsd_client_pump(c);
}
