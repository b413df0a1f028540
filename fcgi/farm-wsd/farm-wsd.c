/* farm-wsd.c - the WebSocket bridge: farm-eventd's events to browsers.
 *
 *   farm-wsd [-c FILE] [-t] [-h]
 *
 * Listens on wsd.listen (loopback only: nginx proxies GET /api/v1/events with the
 * Upgrade headers to it), subscribes to every topic of events.pub, and reads the
 * event history from the database, so that each client gets its org's events and
 * the org-less ones, in id order, with ?since= replay and no gap or duplicate.
 * One thread, one libwebsockets event loop: the ZeroMQ socket's ZMQ_FD is adopted
 * into it, and a WSD_TICK_MS timer polls the history, drains ZeroMQ again (its fd is
 * edge-triggered) and pings idle clients.  On a replica (no farm-eventd publishing
 * there) an inotify watch on the replicated log files wakes it instead
 * (farm-wsd-wake.c).
 *
 * Readiness: an exclusive lock on <state_dir>/wsd.lock ("bridge" in /api/v1/health),
 * taken once the socket listens and dropped first when stopping.
 * SIGTERM/SIGINT: close every connection (1001 going away), exit 0.
 */
#include "farm-wsd.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto.h"
#include "daemon.h"
#include "platform.h"
#include "events.h"
#include "json.h"
#include "log.h"
#include "banned.h"

struct wsd wsd;
static volatile sig_atomic_t stopping;

int64_t wsd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	wsd_feed_zmq();
	wsd_feed_sync();
	wsd_wake_role();
	wsd_conn_keepalive();
	lws_sul_schedule(wsd.ctx, 0, &wsd.tick, on_tick, WSD_TICK_MS * LWS_US_PER_MS);
}

/* libwebsockets' own messages, through farm's log (warnings and errors only). */
static void lws_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	farm_log(level == LLL_ERR ? FARM_LOG_ERROR : FARM_LOG_WARN, NULL, 0, "lws: %.*s", (int)n,
		 line);
}

static int open_zmq(void)
{
	lws_sock_file_fd_type u;
	size_t fl = sizeof(int);
	int fd = -1, zero = 0, hwm = 100000;

	if (!wsd.conf.events_pub || !*wsd.conf.events_pub) {
		farm_log(FARM_LOG_WARN, NULL, 0, "events.pub is empty: reading the history only");
		return 0;
	}
	if (!(wsd.zctx = zmq_ctx_new()) || !(wsd.sub = zmq_socket(wsd.zctx, ZMQ_SUB)) ||
	    zmq_setsockopt(wsd.sub, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(wsd.sub, ZMQ_RCVHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(wsd.sub, ZMQ_SUBSCRIBE, FARM_EVENTS_TOPIC_PREFIX,
			   strlen(FARM_EVENTS_TOPIC_PREFIX)) != 0 ||
	    zmq_connect(wsd.sub, wsd.conf.events_pub) != 0 ||
	    zmq_getsockopt(wsd.sub, ZMQ_FD, &fd, &fl) != 0) {
		farm_log(FARM_LOG_ERROR, NULL, zmq_errno(), "events.pub %s", wsd.conf.events_pub);
		return -1;
	}
	/* lws closes what it adopts; ZeroMQ keeps its own descriptor. */
	if ((u.filefd = dup(fd)) < 0 ||
	    !lws_adopt_descriptor_vhost(wsd.vh, LWS_ADOPT_RAW_FILE_DESC, u, "farm-zmq", NULL)) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "cannot watch the ZeroMQ socket");
		return -1;
	}
	return 0;
}

static int read_last_id(struct farm_txn *t, void *arg)
{
	return farm_events_last(t, arg);
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: farm-wsd [-c FILE] [-t] [-v] [-h]\n"
		    "  -c FILE  configuration file (default: $FARM_CONFIG, else built-in defaults)\n"
		    "  -t       check the configuration and exit\n"
		    "  -v       print the version and exit\n"
		    "  -h       this help\n"
		    "Serves GET /api/v1/events (WebSocket) on wsd.listen behind nginx.\n");
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct farm_error err = {0};
	char host[128];
	int port = 0, rc, code = 1;

	memset(&wsd, 0, sizeof(wsd));
	wsd.lock_fd = -1;
	farm_json_init();
	if (farm_platform_conf_register() != FARM_OK) /* the platforms' config keys */
		return 1;
	if ((rc = farm_daemon_start("farm-wsd", argc, argv, usage, &wsd.conf, NULL)) >= 0)
		return rc;
	/* wsd.listen is a loopback host:port (conf.c checked it): the bridge speaks plain
	 * ws and trusts nginx in front of it for TLS and limits. */
	if (farm_conf_hostport(wsd.conf.wsd_listen, host, sizeof(host), &port) < 0) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "wsd.listen %s: expected host:port",
			 wsd.conf.wsd_listen);
		goto out;
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
	if (farm_crypto_init() != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "cannot initialise cryptography");
		goto out;
	}
	farm_daemon_signals(on_stop); /* no SA_RESTART: a blocking wait returns at once */

	while (farm_events_store_open(&wsd.conf, &wsd.store, &err) != FARM_OK) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "%s; retrying", err.msg);
		sleep(1);
		if (stopping)
			goto out;
	}
	while ((rc = wsd_store_run(read_last_id, &wsd.last_id)) != FARM_OK) {
		farm_log(FARM_LOG_WARN, NULL, 0, "cannot read the event sequence (%s); retrying",
			 farm_strerror(rc));
		sleep(1);
		if (stopping)
			goto out;
	}

	memset(&info, 0, sizeof(info));
	info.iface = host;
	info.port = port;
	info.protocols = wsd_protocols;
	info.gid = -1;
	info.uid = -1;
	info.vhost_name = "farm-wsd";
	/* Handshakes carry tokens in a header or the query: room for an 8 KiB JWT. */
	info.max_http_header_data = WSD_HEADER_DATA;
	info.max_http_header_pool = 64;
	info.timeout_secs = 10;
	/* RFC 6455 8.1: a text frame that is not UTF-8 closes the connection with 1007. */
	info.options |= LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (!strchr(host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	if (!(wsd.ctx = lws_create_context(&info))) {
		farm_log(FARM_LOG_ERROR, NULL, 0, "cannot listen on %s", wsd.conf.wsd_listen);
		goto out;
	}
	wsd.vh = lws_get_vhost_by_name(wsd.ctx, "farm-wsd");
	if (!wsd.vh || open_zmq() < 0 || wsd_wake_open() < 0)
		goto out;
	wsd_frames_init();
	/* The lock is what /api/v1/health reports as "bridge": taken only now that the
	 * socket listens, so that "ok" means a WebSocket can connect (a second farm-wsd
	 * on the same state dir stops here too). */
	if (farm_daemon_lock("farm-wsd", wsd.conf.state_dir, FARM_EVENTS_LOCK_WSD, &wsd.lock_fd) < 0)
		goto out;
	lws_sul_schedule(wsd.ctx, 0, &wsd.tick, on_tick, WSD_TICK_MS * LWS_US_PER_MS);
	farm_log(FARM_LOG_INFO, NULL, 0, "ready: ws://%s/api/v1/events, events from %s, last id %llu",
		 wsd.conf.wsd_listen, wsd.sub ? wsd.conf.events_pub : "(history only)",
		 (unsigned long long)wsd.last_id);

	while (!stopping)
		if (lws_service(wsd.ctx, 0) < 0)
			break;
	code = 0;
	/* Not ready any more: health says "down" from here on. */
	close(wsd.lock_fd);
	wsd.lock_fd = -1;
	farm_log(FARM_LOG_INFO, NULL, 0, "stopping: closing %zu connections", wsd.nclients);
	if (farm_store_repl_on())
		farm_log(FARM_LOG_INFO, NULL, 0, "replica wake-ups: %llu log writes, %llu history "
			 "reads, %llu found new events (%llu of them on a recheck)",
			 (unsigned long long)wsd.stat_wake_writes,
			 (unsigned long long)wsd.stat_wake_reads,
			 (unsigned long long)wsd.stat_wake_found,
			 (unsigned long long)wsd.stat_wake_late);
out:
	if (wsd.ctx) {
		lws_sul_cancel(&wsd.tick);
		wsd_wake_close();
		lws_context_destroy(wsd.ctx);
	}
	for (size_t i = 0; i < WSD_RING; i++)
		wsd_msg_unref(wsd.ring[i]);
	if (wsd.sub)
		zmq_close(wsd.sub);
	if (wsd.zctx)
		zmq_ctx_term(wsd.zctx);
	farm_store_close(wsd.store);
	if (wsd.lock_fd >= 0)
		close(wsd.lock_fd);
	farm_conf_free(&wsd.conf);
	return code;
}
