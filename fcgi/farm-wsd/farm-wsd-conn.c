/* farm-wsd-conn.c - one WebSocket connection: GET /api/v1/events.
 *
 * Handshake (before any upgrade): the path must be /api/v1/events and the token,
 * from `Authorization: Bearer` or `?access_token=`, must verify (lib/core/jwt.h); else the
 * answer is a plain HTTP 401 (404 for another path, 400 for a bad ?since= or an
 * argument given twice, in any order: farm-wsd-query.c) with a NestJS error body,
 * and no upgrade.  `?since=<id>` asks for a replay of the retained
 * events after id.  The token's orgId decides what the client sees.
 *
 * After the upgrade the client only receives: one text frame per event, a ping after
 * wsd.ping_interval seconds without traffic (a client silent for another interval
 * after a ping is dropped), and a close 1008 if its socket takes nothing for
 * wsd.send_timeout seconds while events wait (a client that reads slowly is never
 * closed: past a full queue it goes on from the ring or the history at its pace).  What it sends
 * must be RFC 6455: an unmasked frame is closed with 1002 (farm-wsd-frames.c),
 * invalid UTF-8 in a text frame with 1007 (lws).
 */
#include "farm-wsd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "crypto.h"
#include "events.h"
#include "jwt.h"
#include "log.h"
#include "farm-wsd-query.h"
#include "banned.h"

#define EVENTS_PATH "/api/v1/events"

/* Sends a complete HTTP error answer on a connection not upgraded: `code` (FARM_E_*)
 * says what went wrong, err.c which status. */
static int http_error(struct lws *wsi, int code, const char *msg)
{
	int status = farm_err_http_status(code);
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
					     *end = buf + sizeof(buf) - 1;
	json_t *j = json_pack("{s:i,s:s,s:s}", "statusCode", status, "message", msg, "error",
			      farm_http_reason(status));
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	size_t blen = body ? strlen(body) : 0;
	int rc = -1;

	json_decref(j);
	if (!body)
		return -1;
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", blen, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		goto out;
	/* The body goes out from its own LWS_PRE-padded buffer. */
	if (blen + LWS_PRE <= sizeof(buf)) {
		memcpy(buf + LWS_PRE, body, blen);
		if (lws_write(wsi, buf + LWS_PRE, blen, LWS_WRITE_HTTP_FINAL) == (int)blen)
			rc = 0;
	}
out:
	free(body);
	return rc;
}

/* Every query argument of the handshake, each ended by a NUL (farm-wsd-query.h).
 * lws's header data is at most WSD_HEADER_DATA bytes, its arguments included, so they
 * always fit.  Returns the length, or -1. */
static int handshake_args(struct lws *wsi, char *buf, size_t cap)
{
	size_t used = 0;

	for (int i = 0;; i++) {
		int n;

		if (used >= cap)
			return -1;
		n = lws_hdr_copy_fragment(wsi, buf + used, (int)(cap - used), WSI_TOKEN_HTTP_URI_ARGS,
					  i);
		if (n < 0) {
			/* Past the last argument, or one that does not fit (impossible with
			 * cap > WSD_HEADER_DATA: then refuse rather than ignore it). */
			return lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0 ? -1
											: (int)used;
		}
		used += (size_t)n + 1;
	}
}

/* Checks path, token and since.  FARM_OK when acceptable (claims filled), else what
 * is wrong (FARM_E_*) and a message.  The token comes from `Authorization: Bearer`,
 * else from ?access_token= (browsers cannot set headers on a WebSocket). */
static int handshake_check(struct lws *wsi, struct farm_claims *cl, uint64_t *since, int *has_since,
			   const char **msg)
{
	static char args[WSD_HEADER_DATA + 64], tok[FARM_JWT_MAX_LEN + 1];
	struct farm_error err = {0};
	struct wsd_query q;
	const char *why = NULL, *t = NULL;
	size_t tlen = 0;
	char path[256];
	int n, rc, alen;
	int code = FARM_OK;

	n = lws_hdr_copy(wsi, path, (int)sizeof(path), WSI_TOKEN_GET_URI);
	if (n <= 0 || strcmp(path, EVENTS_PATH) != 0) {
		*msg = "Cannot GET this path";
		return FARM_E_NOTFOUND;
	}
	alen = handshake_args(wsi, args, sizeof(args));
	if (alen < 0 || wsd_query_parse(args, (size_t)alen, &q, &why) < 0) {
		*msg = why ? why : "query too long";
		code = FARM_E_INVAL;
		goto out;
	}
	n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 0 && n < (int)sizeof(tok) &&
	    lws_hdr_copy(wsi, tok, (int)sizeof(tok), WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
	    strncasecmp(tok, "Bearer ", 7) == 0) {
		t = tok + 7;
		while (*t == ' ')
			t++;
		tlen = strlen(t);
	}
	if (!tlen && q.token) {
		t = q.token;
		tlen = q.token_len;
	}
	if (!tlen || tlen > FARM_JWT_MAX_LEN) {
		*msg = tlen ? "invalid token" : "missing bearer token";
		code = FARM_E_AUTH;
		goto out;
	}
	rc = farm_jwt_verify(wsd.conf.jwt_secret, strlen(wsd.conf.jwt_secret), t, tlen,
			     (long long)time(NULL), FARM_JWT_LEEWAY, cl, &err);
	if (rc != FARM_OK) {
		farm_log(FARM_LOG_INFO, NULL, 0, "handshake refused: %s", err.msg);
		*msg = "invalid token";
		code = FARM_E_AUTH;
		goto out;
	}
	*has_since = q.has_since;
	*since = q.since;
out:
	/* Both buffers held a token. */
	farm_crypto_wipe(args, sizeof(args));
	farm_crypto_wipe(tok, sizeof(tok));
	return code;
}

static void client_close(struct wsd_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (wsd.clients == c)
		wsd.clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->wsi && wsd.nclients)
		wsd.nclients--;
	c->prev = c->next = NULL;
	c->wsi = NULL;
	wsd_client_release(c);
	c->authed = 0;
}

void wsd_conn_send(struct wsd_client *c)
{
	struct wsd_msg *m;

	/* Directly only when nothing else is due (ping, close) and lws holds nothing of
	 * this connection (a partial frame, or the handshake answer): lws_write then
	 * sends at once, or keeps what the socket did not take and asks for WRITEABLE
	 * itself, so at most one message waits in lws and the queue still shows a
	 * client that stopped reading (1008).  Never inside c's own WRITEABLE callback
	 * (one write per callback), and only for a client that is caught up: one still
	 * replaying is refilled from its WRITEABLE callback. */
	while (c->qlen && c->cursor >= wsd.last_id && !c->in_write && !c->ping_due &&
	       !c->closing && !c->write_failed && !lws_partial_buffered(c->wsi)) {
		m = wsd_client_head(c);
		if (lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len) {
			c->write_failed = 1;
			break;
		}
		c->last_tx_ms = wsd_now_ms();
		wsd_client_pop(c);
	}
	if (c->qlen || c->write_failed)
		lws_callback_on_writable(c->wsi);
}

/* One frame per writable callback, as lws wants. */
static int client_write(struct wsd_client *c)
{
	/* A one-byte payload: lws 4.1 does not report the pong to an empty ping. */
	static unsigned char ping[LWS_PRE + 1] = {[LWS_PRE] = 'p'};
	struct wsd_msg *m;

	if (c->write_failed)
		return -1;
	if (c->closing) {
		const char *why = c->closing == LWS_CLOSE_STATUS_PROTOCOL_ERR
					  ? "client frames must be masked"
					  : "client too slow: reconnect with ?since=<last id>";
		lws_close_reason(c->wsi, (enum lws_close_status)c->closing,
				 (unsigned char *)(uintptr_t)why, strlen(why));
		return -1;
	}
	if (c->ping_due) {
		c->ping_due = 0;
		c->ping_outstanding = 1;
		c->ping_sent_ms = wsd_now_ms();
		if (lws_write(c->wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0)
			return -1;
	} else if ((m = wsd_client_head(c)) != NULL) {
		if (lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
			return -1;
		c->last_tx_ms = wsd_now_ms();
		wsd_client_pop(c);
		c->in_write = 1;
		wsd_client_pump(c); /* refill a replaying client */
		c->in_write = 0;
	}
	if (c->qlen || c->ping_due || c->closing)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int cb_events(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	struct wsd_client *c = user;
	struct farm_claims cl;
	const char *msg = NULL;
	uint64_t since = 0;
	int has_since = 0;
	int code;

	(void)len;
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		/* A new TCP connection (`in` is its descriptor): watch its frames. */
		wsd_frames_accept((int)(intptr_t)in);
		return 0;

	case LWS_CALLBACK_HTTP:
		/* A plain request (no Upgrade) reaches the bridge only by mistake. */
		if (http_error(wsi, FARM_E_UPGRADE,
			       "GET /api/v1/events needs a WebSocket upgrade") < 0)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (!in || strcmp((const char *)in, "websocket") != 0)
			return -1;
		code = handshake_check(wsi, &cl, &since, &has_since, &msg);
		if (code == FARM_OK)
			return 0;
		if (http_error(wsi, code, msg) < 0)
			return -1;
		return 1; /* answered: lws completes the transaction, no upgrade */

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Checked again here because this is where the session data the
		 * connection keeps exists; a refusal here only hangs up. */
		if (!c || handshake_check(wsi, &cl, &since, &has_since, &msg) != FARM_OK)
			return -1;
		memset(c, 0, sizeof(*c));
		if (cl.has_org && !(c->org = strdup(cl.org)))
			return -1;
		c->has_since = has_since == 1;
		c->since = since;
		c->authed = 1;
		return 0;

	case LWS_CALLBACK_ESTABLISHED:
		if (!c || !c->authed)
			return -1;
		c->wsi = wsi;
		c->next = wsd.clients;
		if (wsd.clients)
			wsd.clients->prev = c;
		wsd.clients = c;
		wsd.nclients++;
		c->last_tx_ms = wsd_now_ms();
		/* A fixed socket send buffer: bounded kernel memory per client, and a
		 * client that stops reading shows up in its queue instead of in an
		 * autotuned buffer of megabytes. */
		{
			int fd = (int)lws_get_socket_fd(wsi), sz = WSD_SNDBUF;
			if (fd >= 0)
				setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		}
		/* Live from now on, or replay from since (never beyond what exists). */
		c->cursor = c->has_since && c->since < wsd.last_id ? c->since : wsd.last_id;
		wsd_client_pump(c);
		wsd_frames_established((int)lws_get_socket_fd(wsi), wsi);
		return 0;

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!c || !c->authed)
			return -1;
		return client_write(c);

	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_RECEIVE_PONG:
		/* Clients have nothing to say; any frame proves they are alive. */
		if (c)
			c->ping_outstanding = 0;
		return 0;

	case LWS_CALLBACK_CLOSED:
		wsd_frames_forget((int)lws_get_socket_fd(wsi));
		if (c)
			client_close(c);
		return 0;

	case LWS_CALLBACK_CLOSED_HTTP:
		wsd_frames_forget((int)lws_get_socket_fd(wsi));
		return 0;

	default:
		return 0;
	}
}

void wsd_conn_keepalive(void)
{
	int64_t now = wsd_now_ms(), ivl = wsd.conf.wsd_ping_interval * 1000,
		send_to = wsd.conf.wsd_send_timeout * 1000;

	for (struct wsd_client *c = wsd.clients; c; c = c->next) {
		if (c->closing)
			continue;
		if (c->waiting_ms && now - c->waiting_ms >= send_to) {
			/* Events wait and the socket took none of them for wsd.send_timeout:
			 * the client stopped reading.  1008 if the close frame still fits,
			 * else the connection goes after another send_timeout. */
			farm_log(FARM_LOG_INFO, NULL, 0,
				 "closing a client too slow to keep up: its socket took nothing "
				 "for %ld s (%u queued, %zu bytes, at event %llu)",
				 wsd.conf.wsd_send_timeout, c->qlen, c->qbytes,
				 (unsigned long long)c->cursor);
			c->closing = LWS_CLOSE_STATUS_POLICY_VIOLATION;
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND,
					(int)wsd.conf.wsd_send_timeout);
			lws_callback_on_writable(c->wsi);
			continue;
		}
		if (c->ping_outstanding && now - c->ping_sent_ms >= ivl) {
			/* No pong for a whole interval: gone (a half-open TCP connection). */
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
			continue;
		}
		if (!c->ping_outstanding && !c->ping_due && now - c->last_tx_ms >= ivl &&
		    now - c->ping_sent_ms >= ivl) {
			c->ping_due = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
}

/* Raw file wsis: farm-zmq around the SUB socket's ZMQ_FD (readable means "look at
 * ZMQ_EVENTS"; edge-like, so every wake-up drains the socket until EAGAIN), farm-wake
 * around a replica's inotify descriptor (farm-wsd-wake.c).  One callback: the reader
 * is the protocol's `user`. */
struct raw_reader {
	void (*rx)(void);
};
static struct raw_reader zmq_reader = {wsd_feed_zmq}, wake_reader = {wsd_wake_rx};

static int cb_raw_fd(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	const struct raw_reader *r;

	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE && (r = lws_get_protocol(wsi)->user))
		r->rx();
	return 0;
}

const struct lws_protocols wsd_protocols[] = {
	/* rx_buffer_size: lws allocates it for every client for its life, and clients
	 * only send pongs and closes (control frames carry at most 125 bytes; anything
	 * longer arrives in pieces and is ignored).  128 rather than 512: 0.4 KiB less
	 * per client.  tx unchunked. */
	{"farm-events", cb_events, sizeof(struct wsd_client), 128, 0, NULL, 65536},
	{"farm-zmq", cb_raw_fd, 0, 0, 0, &zmq_reader, 0},
	{"farm-wake", cb_raw_fd, 0, 0, 0, &wake_reader, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};
