/* farmctl-events.c - `farmctl events tail`: the event stream as an operator sees it.
 *
 * Subscribes to farm-eventd's ZeroMQ PUB endpoint (events.pub) and prints each
 * event's JSON on its own line, as published: [topic "org:<orgId>" | "org:"][JSON].
 * With --since ID it first replays the retained history after ID from the database
 * (the same history farm-wsd replays to WebSocket clients), then continues live
 * without a gap or a duplicate: the subscription is opened before the history is
 * read, and live events at or below the last id printed are skipped.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "events.h"
#include "farmctl.h"
#include "store.h"
#include "banned.h"

static volatile sig_atomic_t tail_stop;

static void on_stop(int sig)
{
	(void)sig;
	tail_stop = 1;
}

struct tail {
	const char *org;   /* NULL: every org; "" : org-less events only */
	int has_org;
	uint64_t last;     /* newest id printed */
	long count, printed;
};

/* 1 when the event passes the --org filter. */
static int tail_wanted(const struct tail *t, const char *event_org)
{
	if (!t->has_org)
		return 1;
	if (!*t->org)
		return event_org == NULL;
	return event_org && !strcmp(event_org, t->org);
}

/* Prints one event unless already printed or filtered out; 1 when --count is met. */
static int tail_print(struct tail *t, const char *json, size_t len)
{
	uint64_t id = 0;
	char *org = NULL;

	if (farm_events_parse(json, len, &id, &org) != FARM_OK) {
		fprintf(stderr, "farmctl events tail: skipped a malformed event\n");
		return 0;
	}
	if (id > t->last && tail_wanted(t, org)) {
		fwrite(json, 1, len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		t->printed++;
	}
	if (id > t->last)
		t->last = id;
	free(org);
	return t->count > 0 && t->printed >= t->count;
}

struct replay {
	struct tail *t;
	uint64_t from, last;
	int done;
};

/* One batch of history, in its own short read transaction. */
static int replay_txn(struct farm_txn *txn, void *arg)
{
	struct replay *rp = arg;
	uint64_t first = 0;
	int rc, n = 0;

	if ((rc = farm_events_last(txn, &rp->last)) != FARM_OK ||
	    (rc = farm_events_first(txn, &first)) != FARM_OK)
		return rc;
	if (rp->from < first)
		rp->from = first;
	while (rp->from && rp->from <= rp->last && n < 256 && !rp->done) {
		char *json = NULL;
		size_t len = 0;
		rc = farm_events_get(txn, rp->from, &json, &len);
		if (rc == FARM_OK)
			rp->done = tail_print(rp->t, json, len);
		free(json);
		if (rc != FARM_OK && rc != FARM_E_NOTFOUND)
			return rc;
		rp->from++;
		n++;
	}
	return FARM_OK;
}

static int tail_replay(const struct farm_conf *c, struct tail *t, uint64_t since)
{
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	struct replay rp = {t, since + 1, 0, 0};
	int rc;

	if ((rc = farm_events_store_open(c, &s, &err)) != FARM_OK) {
		fprintf(stderr, "farmctl events tail: %s\n",
			err.msg[0] ? err.msg : farm_strerror(rc));
		return -1;
	}
	/* Printing happens inside the transaction: a deadlock retry may run a batch
	 * again, which tail_print's "id > last" check makes harmless. */
	do {
		rc = farm_store_run(s, replay_txn, &rp);
	} while (rc == FARM_OK && !rp.done && rp.from <= rp.last && rp.from != 0 && !tail_stop);
	farm_store_close(s);
	if (rc != FARM_OK) {
		fprintf(stderr, "farmctl events tail: history: %s\n", farm_strerror(rc));
		return -1;
	}
	if (t->last < since)
		t->last = since;
	return rp.done;
}

static void tail_usage(FILE *fp)
{
	fprintf(fp,
		"usage: farmctl events tail [--org ORG | --no-org] [--since ID] [--count N]\n"
		"                           [--timeout SECONDS]\n"
		"Prints every event farm-eventd publishes (events.pub), one JSON object a line.\n"
		"  --org ORG      only events of ORG;  --no-org  only events without an org\n"
		"  --since ID     first replay the retained events after ID from the database\n"
		"  --count N      exit 0 after N events\n"
		"  --timeout S    give up after S seconds (exit 1 if --count was not reached)\n");
}

int farmctl_events(const char *conf_path, int argc, char **argv)
{
	static const struct option opts[] = {{"org", required_argument, 0, 'o'},
					     {"no-org", no_argument, 0, 'n'},
					     {"since", required_argument, 0, 's'},
					     {"count", required_argument, 0, 'c'},
					     {"timeout", required_argument, 0, 't'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct tail t = {0};
	struct farm_conf c;
	struct sigaction sa;
	void *zctx = NULL, *sub = NULL;
	long long since = -1, timeout = 0;
	time_t deadline = 0;
	char *end;
	int opt, rc = 1, zero = 0;

	if (argc < 2 || strcmp(argv[1], "tail") != 0) {
		FILE *fp = argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr;
		tail_usage(fp);
		return fp == stdout ? 0 : 2;
	}
	argc--;
	argv++;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': t.org = optarg; t.has_org = 1; break;
		case 'n': t.org = ""; t.has_org = 1; break;
		case 's':
		case 'c':
		case 't': {
			long long v;
			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0) {
				fprintf(stderr, "farmctl events tail: bad number '%s'\n", optarg);
				return 2;
			}
			if (opt == 's')
				since = v;
			else if (opt == 'c')
				t.count = (long)v;
			else
				timeout = v;
			break;
		}
		case 'h': tail_usage(stdout); return 0;
		default: tail_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		tail_usage(stderr);
		return 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (!c.events_pub || !*c.events_pub) {
		fprintf(stderr, "farmctl events tail: events.pub is not configured\n");
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: zmq_poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (timeout)
		deadline = time(NULL) + (time_t)timeout;

	zctx = zmq_ctx_new();
	sub = zctx ? zmq_socket(zctx, ZMQ_SUB) : NULL;
	if (!sub || zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, FARM_EVENTS_TOPIC_PREFIX,
			   strlen(FARM_EVENTS_TOPIC_PREFIX)) != 0 ||
	    zmq_connect(sub, c.events_pub) != 0) {
		fprintf(stderr, "farmctl events tail: %s: %s\n", c.events_pub,
			zmq_strerror(zmq_errno()));
		goto out;
	}
	if (since >= 0) {
		int r = tail_replay(&c, &t, (uint64_t)since);
		if (r < 0)
			goto out;
		if (r > 0) {
			rc = 0;
			goto out;
		}
	}
	while (!tail_stop) {
		zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
		char topic[FARM_EVENTS_TOPIC_MAX];
		zmq_msg_t msg;
		int more = 0, n;
		size_t ml = sizeof(more);

		if (deadline && time(NULL) >= deadline)
			break;
		n = zmq_poll(&it, 1, 200);
		if (n < 0) {
			if (zmq_errno() == EINTR)
				continue;
			fprintf(stderr, "farmctl events tail: %s\n", zmq_strerror(zmq_errno()));
			goto out;
		}
		if (n == 0)
			continue;
		/* Part 1: the topic (unused: the JSON names its org).  Part 2: the event. */
		if (zmq_recv(sub, topic, sizeof(topic), ZMQ_DONTWAIT) < 0)
			continue;
		if (zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml) != 0 || !more)
			continue;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sub, 0) >= 0 && zmq_msg_size(&msg) <= FARM_EVENTS_JSON_MAX &&
		    tail_print(&t, zmq_msg_data(&msg), zmq_msg_size(&msg))) {
			zmq_msg_close(&msg);
			rc = 0;
			goto out;
		}
		zmq_msg_close(&msg);
		/* Drop any further parts of a malformed message. */
		while (zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
			zmq_msg_init(&msg);
			zmq_msg_recv(&msg, sub, 0);
			zmq_msg_close(&msg);
		}
	}
	/* Stopped by a signal or the timeout: a success unless --count was not met. */
	rc = t.count > 0 && t.printed < t.count ? 1 : 0;
out:
	if (sub)
		zmq_close(sub);
	if (zctx)
		zmq_ctx_term(zctx);
	farm_conf_free(&c);
	return rc;
}
