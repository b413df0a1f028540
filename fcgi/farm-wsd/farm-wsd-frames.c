/* farm-wsd-frames.c - RFC 6455 5.1: a client's frames must be masked.
 *
 * libwebsockets 4.1 (Debian 12) takes unmasked client frames as they come (later
 * versions close with 1002) and has no hook that shows the mask bit.  So the bridge
 * watches the bytes itself, on their way in: it defines recv(), which lws calls for
 * every read of a client socket (lib/core-net/output.c), and follows the frame
 * headers of every upgraded connection.  At the first unmasked frame the bytes from
 * that frame on are withheld from lws and the client is closed with 1002
 * (farm-wsd-conn.c, client_write).  Invalid UTF-8 in a text frame (1007) is lws's own
 * check (LWS_SERVER_OPTION_VALIDATE_UTF8).
 *
 * Per descriptor, from accept: RX_HTTP until the upgrade (the bytes after the last
 * header block are kept: a client may send its first frames with the handshake),
 * then RX_FRAMES.  Only the event loop's thread is watched: ZeroMQ's I/O threads call
 * recv() too and pass straight through.
 */
#undef _FORTIFY_SOURCE /* recv() is defined here, not wrapped */
#include "farm-wsd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "banned.h"

enum { RX_OFF, RX_HTTP, RX_FRAMES, RX_BAD };
#define RX_TAIL 30

struct wsd_rx {
	uint64_t left;          /* payload bytes of the current frame still to come */
	uint64_t len;           /* its length, while the header is read */
	struct lws *wsi;        /* RX_FRAMES, RX_BAD */
	uint8_t mode;
	uint8_t crlf;           /* RX_HTTP: bytes of "\r\n\r\n" just seen */
	uint8_t seen_end;       /*   one header block ended */
	uint8_t hdr, need;      /* RX_FRAMES: header bytes seen / its length (0: unknown) */
	uint8_t tail_len;       /* RX_HTTP: bytes kept after the last header block */
	uint8_t tail_over;      /*   more than RX_TAIL of them */
	unsigned char tail[RX_TAIL];
};

static _Thread_local int on_loop;
static struct wsd_rx *rx;
static size_t rx_cap;

void wsd_frames_init(void)
{
	on_loop = 1;
}

static struct wsd_rx *rx_get(int fd, int grow)
{
	if (fd < 0)
		return NULL;
	if ((size_t)fd >= rx_cap) {
		size_t ncap = rx_cap ? rx_cap : 1024;
		struct wsd_rx *n;

		if (!grow)
			return NULL;
		while (ncap <= (size_t)fd)
			ncap *= 2;
		if (!(n = realloc(rx, ncap * sizeof(*n))))
			return NULL;
		memset(n + rx_cap, 0, (ncap - rx_cap) * sizeof(*n));
		rx = n;
		rx_cap = ncap;
	}
	return &rx[fd];
}

void wsd_frames_accept(int fd)
{
	struct wsd_rx *r = rx_get(fd, 1);

	if (r) {
		memset(r, 0, sizeof(*r));
		r->mode = RX_HTTP;
	}
}

void wsd_frames_forget(int fd)
{
	struct wsd_rx *r = rx_get(fd, 0);

	if (r)
		memset(r, 0, sizeof(*r));
}

/* Follows frame headers through n bytes.  Returns the offset of the byte that shows
 * an unmasked frame, or -1 when all is well. */
static long rx_frames(struct wsd_rx *r, const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c;

		if (r->left) {
			size_t k = n - i < r->left ? n - i : (size_t)r->left;
			i += k;
			r->left -= k;
			continue;
		}
		c = b[i];
		if (r->hdr == 1) {
			unsigned l7 = c & 0x7f;

			if (!(c & 0x80))
				return (long)i;
			r->len = l7 < 126 ? l7 : 0;
			r->need = l7 < 126 ? 6 : l7 == 126 ? 8 : 14;
		} else if (r->hdr >= 2 && r->hdr < r->need - 4) {
			r->len = r->len << 8 | c; /* 16- or 64-bit length, network order */
		}
		i++;
		r->hdr++;
		if (r->need && r->hdr == r->need) {
			r->left = r->len;
			r->hdr = r->need = 0;
			r->len = 0;
		}
	}
	return -1;
}

/* RX_HTTP: remembers what follows the last "\r\n\r\n" (at most RX_TAIL bytes). */
static void rx_http(struct wsd_rx *r, const unsigned char *b, size_t n)
{
	static const char end[] = "\r\n\r\n";

	for (size_t i = 0; i < n; i++) {
		if (r->seen_end) {
			if (r->tail_len < RX_TAIL)
				r->tail[r->tail_len++] = b[i];
			else
				r->tail_over = 1;
		}
		if (b[i] == (unsigned char)end[r->crlf]) {
			if (++r->crlf == 4) {
				/* The end of a header block (there may be several on a
				 * kept-alive connection): frames can only follow the last. */
				r->seen_end = 1;
				r->crlf = r->tail_len = r->tail_over = 0;
			}
		} else {
			r->crlf = b[i] == '\r';
		}
	}
}

static void rx_bad(struct wsd_rx *r)
{
	struct wsd_client *c = r->wsi ? lws_wsi_user(r->wsi) : NULL;

	r->mode = RX_BAD;
	if (c && !c->closing) {
		c->closing = LWS_CLOSE_STATUS_PROTOCOL_ERR;
		lws_callback_on_writable(r->wsi);
	}
}

void wsd_frames_established(int fd, struct lws *wsi)
{
	struct wsd_rx *r = rx_get(fd, 0);

	if (!r || r->mode != RX_HTTP)
		return;
	if (r->tail_over || !r->seen_end) {
		r->mode = RX_OFF; /* cannot tell where frames start: not watched */
		return;
	}
	r->mode = RX_FRAMES;
	r->wsi = wsi;
	if (rx_frames(r, r->tail, r->tail_len) >= 0)
		rx_bad(r);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);
	struct wsd_rx *r;
	long bad;

	if (n <= 0 || !on_loop || (flags & MSG_PEEK) || !(r = rx_get(fd, 0)) || r->mode == RX_OFF)
		return n;
	switch (r->mode) {
	case RX_HTTP:
		rx_http(r, buf, (size_t)n);
		return n;
	case RX_FRAMES:
		if ((bad = rx_frames(r, buf, (size_t)n)) < 0)
			return n;
		rx_bad(r);
		if (bad > 0)
			return bad;
		break;
	default: /* RX_BAD: read and dropped until the close goes out */
		break;
	}
	errno = EAGAIN;
	return -1;
}
