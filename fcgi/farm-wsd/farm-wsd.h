/* farm-wsd.h - the WebSocket bridge's shared state (farm-wsd*.c).
 *
 *   farm-wsd.c       main: config, lock, store, ZeroMQ SUB, the lws context, the tick
 *   farm-wsd-feed.c  the event feed: ring of recent events, SUB drain, store sync,
 *                    per-client queues and the pump that fills them in id order
 *   farm-wsd-conn.c  the lws protocol: handshake auth, writes, pings, close
 *   farm-wsd-query.c the handshake's query (?access_token=, ?since=)
 *   farm-wsd-frames.c client frames must be masked (RFC 6455 5.1): a recv() that
 *                    follows frame headers under lws
 *   farm-wsd-wake.c  a replica's wake-up: inotify on the replicated log files
 *
 * One thread: lws's event loop runs everything, so nothing here is locked.
 */
#ifndef FARM_WSD_H
#define FARM_WSD_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "store.h"

#define WSD_RING 4096             /* recent events kept in memory (power of two) */
#define WSD_QUEUE_MAX 256         /* messages queued per client */
#define WSD_QUEUE_BYTES (512 * 1024)
#define WSD_SNDBUF (64 * 1024)    /* socket send buffer per client (the kernel doubles it) */
#define WSD_STORE_BATCH 64        /* events read from the history per transaction */
#define WSD_TICK_MS 250           /* store poll, ZeroMQ drain, pings */
#define WSD_HEADER_DATA 16384     /* a handshake's headers and query: room for an 8 KiB JWT */

/* One event as sent: the text frame, preceded by the LWS_PRE bytes lws writes the
 * frame header into.  Shared by the ring and every queue that holds it. */
struct wsd_msg {
	unsigned refs;
	uint64_t id;
	char *org;              /* NULL: org-less, seen by everyone */
	size_t len;
	unsigned char buf[];    /* LWS_PRE + len + 1 */
};

/* One WebSocket client (lws's per-session data). */
struct wsd_client {
	struct wsd_client *prev, *next;
	struct lws *wsi;
	char *org;              /* the token's org, NULL for none */
	int authed;             /* handshake checked (FILTER_PROTOCOL_CONNECTION) */
	int has_since;
	uint64_t since;
	uint64_t cursor;        /* every id <= cursor is queued, sent or not for this client */
	int in_write;           /* inside its WRITEABLE callback */
	int write_failed;       /* a direct write failed: close from the callback */
	int closing;            /* close status to send, 0 = none */
	int ping_due, ping_outstanding;
	int64_t last_tx_ms, ping_sent_ms;
	int64_t waiting_ms;     /* since when queued events wait for the socket (0: none) */
	struct wsd_msg **q;     /* ring buffer of qcap slots */
	unsigned qcap, qhead, qlen;
	size_t qbytes;
};

struct wsd {
	struct farm_conf conf;
	struct farm_store *store;  /* NULL while it must be reopened */
	struct lws_context *ctx;
	struct lws_vhost *vh;
	void *zctx, *sub;
	int lock_fd;
	uint64_t last_id;          /* newest event in the ring */
	struct wsd_msg *ring[WSD_RING];
	struct wsd_client *clients;
	size_t nclients;
	lws_sorted_usec_list_t tick;
	uint64_t stat_dropped_pub; /* PUB messages that arrived out of order */
	uint64_t stat_wake_writes; /* a replica: inotify batches with a log write */
	uint64_t stat_wake_reads;  /* history reads they caused (rechecks included) */
	uint64_t stat_wake_found;  /* of which found new events */
	uint64_t stat_wake_late;   /* of those, found by a recheck (not by the first read) */
};

extern struct wsd wsd;

int64_t wsd_now_ms(void);

/* farm-wsd-feed.c */
void wsd_msg_unref(struct wsd_msg *m);
/* Drains the SUB socket; then brings the ring up to the store's newest id. */
void wsd_feed_zmq(void);
/* 1 when the ring advanced (its clients were pumped). */
int wsd_feed_sync(void);
/* Fills c's queue in id order (ring, else the history) and asks for a write. */
void wsd_client_pump(struct wsd_client *c);
void wsd_pump_all(void);
/* Head of c's queue (NULL when empty) / drop it after it was written. */
struct wsd_msg *wsd_client_head(struct wsd_client *c);
void wsd_client_pop(struct wsd_client *c);
void wsd_client_release(struct wsd_client *c);
/* Store access with reopen on FARM_E_RECOVER; FARM_E_UNAVAIL while it is closed. */
int wsd_store_run(farm_store_fn fn, void *arg);

/* farm-wsd-frames.c: call init from the event loop's thread before the first client;
 * accept/established/forget as lws reports them. */
void wsd_frames_init(void);
void wsd_frames_accept(int fd);
void wsd_frames_established(int fd, struct lws *wsi);
void wsd_frames_forget(int fd);

/* farm-wsd-wake.c: a replica's wake-up.  open once the vhost exists (nothing with
 * replication off); role from every tick (watch on while the node is not the master);
 * rx when the inotify descriptor is readable. */
int wsd_wake_open(void);
void wsd_wake_role(void);
void wsd_wake_rx(void);
int wsd_wake_watching(void);
void wsd_wake_close(void);

/* farm-wsd-conn.c */
extern const struct lws_protocols wsd_protocols[];
/* c has messages queued: writes them now when lws has nothing of c's pending (a fan-out
 * then costs one send per client, not two epoll_ctl and a wake-up more), else asks
 * for a WRITEABLE callback. */
void wsd_conn_send(struct wsd_client *c);
/* Pings idle clients, hangs up on the silent ones and on those whose socket took nothing
 * for wsd.send_timeout while events waited (called from the tick). */
void wsd_conn_keepalive(void);

#endif
