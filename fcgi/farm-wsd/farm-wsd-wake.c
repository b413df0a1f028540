/* farm-wsd-wake.c - a replica's wake-up: its new events as soon as replication wrote them.
 *
 * On a master or a single node, farm-eventd publishes each event on events.pub right
 * after its commit: that message is the bridge's wake-up (farm-wsd-feed.c), and the
 * WSD_TICK_MS read of the history is only the safety net.  A replica has no publisher:
 * its events arrive through Berkeley DB's replication, which its replication process
 * writes into the environment's log files (log.NNNNNNNNNN in the state dir; each
 * replicated commit is written out, without fsync: DB_TXN_WRITE_NOSYNC) and applies.
 * So, only while the node is a replica (checked every tick: the role changes on a
 * failover), the bridge watches the environment home with inotify, and a write to a
 * log file schedules a read of its own history (never anything else: what it sends
 * is what this node has applied, so a rolled-back event is never sent):
 *   - WSD_WAKE_DELAY_MS after the write, so that a burst of writes (a transaction's
 *     records) costs one read;
 *   - the log record can be written before the transaction is applied, and not every
 *     commit carries an event (a webhook's commit precedes the one that numbers its
 *     event): when that read finds nothing new, it is repeated up to
 *     WSD_WAKE_RECHECKS times, each after twice the previous delay (2, 4, 8, 16 ms,
 *     but not within the gap below: in effect 5, 5, 8, 16 ms), then the bridge waits
 *     for the next write; a write in between starts over;
 *   - two reads are at least WSD_WAKE_GAP_MS apart: however fast the master commits,
 *     a replica's bridge reads its history at most 200 times a second, and not at
 *     all while nothing is replicated (the tick's read aside).
 * On a master, a single node, or with the watch impossible (logged), nothing changes.
 */
#include "farm-wsd.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

#define WSD_WAKE_DELAY_MS 1  /* from a log write to the read it causes */
#define WSD_WAKE_RECHECKS 4  /* more reads when one found nothing: 2, 4, 8, 16 ms later
				(the first two stretched to the gap) */
#define WSD_WAKE_GAP_MS 5    /* at least this long between two reads: <= 200 a second */

static struct {
	int fd;                   /* inotify descriptor (owned by lws once adopted), -1: none */
	int wd;                   /* the watch on the environment home, -1 while not a replica */
	int pending;              /* a read is scheduled, at due_ms */
	int recheck;              /* reads since the last write that found nothing */
	int warned;               /* the watch could not be added (said once) */
	int64_t due_ms, last_read_ms;
	lws_sorted_usec_list_t sul;
} wk = {.fd = -1, .wd = -1};

static void on_read(lws_sorted_usec_list_t *sul);

/* (Re)schedules the read at `due`, not sooner than WSD_WAKE_GAP_MS after the last. */
static void schedule(int64_t due)
{
	int64_t now = wsd_now_ms();

	if (due < wk.last_read_ms + WSD_WAKE_GAP_MS)
		due = wk.last_read_ms + WSD_WAKE_GAP_MS;
	wk.pending = 1;
	wk.due_ms = due;
	lws_sul_schedule(wsd.ctx, 0, &wk.sul, on_read,
			 (lws_usec_t)(due > now ? due - now : 0) * LWS_US_PER_MS);
}

static void on_read(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	wk.pending = 0;
	if (wk.wd < 0)
		return; /* no longer a replica */
	wk.last_read_ms = wsd_now_ms();
	wsd.stat_wake_reads++;
	if (wsd_feed_sync()) {
		wsd.stat_wake_found++;
		if (wk.recheck)
			wsd.stat_wake_late++;
		wk.recheck = 0;
		return;
	}
	if (wk.recheck < WSD_WAKE_RECHECKS) {
		schedule(wk.last_read_ms + (2 << wk.recheck));
		wk.recheck++;
		return;
	}
	wk.recheck = 0;
}

/* A log file was written: read the history WSD_WAKE_DELAY_MS from now (or as soon
 * after the last read as the gap allows), unless a read is due by then anyway. */
static void kick(void)
{
	int64_t due = wsd_now_ms() + WSD_WAKE_DELAY_MS;

	if (due < wk.last_read_ms + WSD_WAKE_GAP_MS)
		due = wk.last_read_ms + WSD_WAKE_GAP_MS;
	if (wk.pending && wk.due_ms <= due)
		return;
	wk.recheck = 0;
	schedule(due);
}

void wsd_wake_rx(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int log_written = 0;
	ssize_t n;

	while ((n = read(wk.fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p + sizeof(struct inotify_event) <= buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			/* An overflowed queue lost writes: read as if one was a log's. */
			if ((ev->mask & IN_Q_OVERFLOW) ||
			    (ev->len && strncmp(ev->name, "log.", 4) == 0))
				log_written = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		farm_log(FARM_LOG_WARN, NULL, errno, "inotify read");
	/* With no client connected nobody waits for the read: the tick's keeps the
	 * history's position fresh (three nodes on two cores: two idle replicas'
	 * bridges took 10 % of the CPU under a write load, reading per log write). */
	if (log_written && wk.wd >= 0 && wsd.nclients > 0) {
		wsd.stat_wake_writes++;
		kick();
	}
}

int wsd_wake_open(void)
{
	lws_sock_file_fd_type u;

	if (!farm_store_repl_on())
		return 0; /* a single node: events.pub is the wake-up */
	if ((wk.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		farm_log(FARM_LOG_WARN, NULL, errno, "inotify: a replica's clients will get "
			 "events on the %d ms tick", WSD_TICK_MS);
		return 0;
	}
	u.filefd = wk.fd;
	if (!lws_adopt_descriptor_vhost(wsd.vh, LWS_ADOPT_RAW_FILE_DESC, u, "farm-wake", NULL)) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "cannot watch the inotify descriptor");
		close(wk.fd);
		wk.fd = -1;
		return -1;
	}
	wsd_wake_role();
	return 0;
}

void wsd_wake_role(void)
{
	int rc, replica;

	if (wk.fd < 0 || !wsd.store)
		return; /* no watch possible, or the role cannot be read now: keep it */
	rc = farm_store_writable(wsd.store);
	if (rc != FARM_OK && rc != FARM_E_NOTMASTER)
		return;
	/* NOTMASTER: a replica, or no master known (an election): either way no
	 * farm-eventd of this node publishes. */
	replica = rc == FARM_E_NOTMASTER;
	if (replica && wk.wd < 0) {
		wk.wd = inotify_add_watch(wk.fd, wsd.conf.state_dir, IN_MODIFY);
		if (wk.wd < 0) {
			if (wk.warned++)
				return;
			farm_log(FARM_LOG_WARN, NULL, errno, "inotify on %s: this replica's clients "
				 "get events on the %d ms tick", wsd.conf.state_dir, WSD_TICK_MS);
			return;
		}
		farm_log(FARM_LOG_INFO, NULL, 0, "a replica: new events are read when "
			 "replication writes the log");
	} else if (!replica && wk.wd >= 0) {
		inotify_rm_watch(wk.fd, wk.wd);
		wk.wd = -1;
		lws_sul_cancel(&wk.sul);
		wk.pending = wk.recheck = 0;
		farm_log(FARM_LOG_INFO, NULL, 0, "the master: new events come from events.pub");
	}
}

int wsd_wake_watching(void)
{
	return wk.wd >= 0;
}

void wsd_wake_close(void)
{
	lws_sul_cancel(&wk.sul);
	wk.pending = 0;
}
