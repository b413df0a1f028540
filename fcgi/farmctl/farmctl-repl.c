/* farmctl-repl.c - `farmctl replication status`: this node's place in its replication
 * group (docs/replication.md), read from the environment's shared regions without
 * starting repmgr in farmctl, and whether each other site of the group answers on its
 * replication port.
 *
 * Every step is bounded (issue 19: the command once hung against a killed node): the
 * shared regions are read in a child that is killed after STATUS_WAIT_MS (a process
 * that died holding a Berkeley DB mutex would block the reader for ever), and each
 * site is probed in a child of its own (name resolution, then a TCP connect) that is
 * given PROBE_MS.  Exit status: 0 when the state was read and every site answered,
 * 3 when one or more sites did not (each one named "unreachable"), 1 when this node's
 * state could not be read (or did not come within the bound), 2 for bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "farmctl.h"
#include "store.h"
#include "banned.h"

enum {
	STATUS_WAIT_MS = 3000, /* reading this node's shared regions */
	PROBE_MS = 1000,       /* a site's replication port: resolve + connect */
	EXIT_UNREACHABLE = 3,
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads up to len bytes from fd until EOF or the deadline: the bytes read. */
static size_t read_until(int fd, void *buf, size_t len, long long deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = {fd, POLLIN, 0};
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void reap(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

/* The status of this node, read by a child within STATUS_WAIT_MS.  FARM_OK, or
 * FARM_E_TIMEOUT / another code with a message in err. */
static int read_status(const char *state_dir, struct farm_repl_status *st, char *err,
		       size_t cap)
{
	int fd[2];
	pid_t pid;
	size_t got;
	long long t0 = now_ms();

	if (pipe2(fd, O_CLOEXEC) != 0) {
		snprintf(err, cap, "pipe: %s", strerror(errno));
		return FARM_E_IO;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, cap, "fork: %s", strerror(errno));
		close(fd[0]);
		close(fd[1]);
		return FARM_E_IO;
	}
	if (pid == 0) {
		struct farm_store *s = NULL;
		struct farm_error e = {0};
		struct farm_repl_status out;
		int rc;

		close(fd[0]);
		rc = farm_store_open(&s, state_dir, FARM_STORE_REPL_PASSIVE, &e);
		if (rc != FARM_OK) {
			fprintf(stderr, "farmctl: %s\n", e.msg);
			_exit(1);
		}
		if (farm_store_repl_status(s, &out) != FARM_OK) {
			fprintf(stderr, "farmctl: cannot read the replication state\n");
			_exit(1);
		}
		farm_store_close(s); /* before the answer: never killed inside it */
		if (write(fd[1], &out, sizeof(out)) != (ssize_t)sizeof(out))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	got = read_until(fd[0], st, sizeof(*st), t0 + STATUS_WAIT_MS);
	close(fd[0]);
	if (got == sizeof(*st)) {
		int ws;
		waitpid(pid, &ws, 0); /* it is exiting */
		return FARM_OK;
	}
	if (now_ms() - t0 >= STATUS_WAIT_MS) {
		reap(pid);
		snprintf(err, cap,
			 "this node's replication state did not come within %d ms (a process "
			 "that died inside Berkeley DB may hold its regions: restarting farm "
			 "on this node recovers them)",
			 STATUS_WAIT_MS);
		return FARM_E_TIMEOUT;
	}
	reap(pid);
	snprintf(err, cap, "cannot read this node's replication state");
	return FARM_E_DB;
}

struct probe {
	char site[280];
	pid_t pid;
	int fd;
	int done, reachable;
	char why[96];
};

/* In a child: resolves and connects to site within PROBE_MS; writes "0" or an error
 * text to fd. */
static void probe_child(const char *site, int fd)
{
	char host[256], port[8], msg[96];
	const char *colon = strrchr(site, ':');
	struct addrinfo hints, *ai = NULL;
	int s = -1, rc, soerr = 0;
	socklen_t len = sizeof(soerr);
	struct pollfd p;

	if (!colon || colon == site || (size_t)(colon - site) >= sizeof(host) ||
	    strlen(colon + 1) >= sizeof(port)) {
		snprintf(msg, sizeof(msg), "not host:port");
		goto out;
	}
	memcpy(host, site, (size_t)(colon - site));
	host[colon - site] = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(msg, sizeof(msg), "%s", gai_strerror(rc));
		goto out;
	}
	if ((s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(msg, sizeof(msg), "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
		snprintf(msg, sizeof(msg), "0");
		goto out;
	}
	if (errno != EINPROGRESS) {
		snprintf(msg, sizeof(msg), "%s", strerror(errno));
		goto out;
	}
	p.fd = s;
	p.events = POLLOUT;
	p.revents = 0;
	/* The parent's deadline is the bound; this one leaves it a margin. */
	if (poll(&p, 1, PROBE_MS) <= 0) {
		snprintf(msg, sizeof(msg), "no answer within %d ms", PROBE_MS);
		goto out;
	}
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		soerr = errno;
	snprintf(msg, sizeof(msg), "%s", soerr ? strerror(soerr) : "0");
out:
	if (write(fd, msg, strlen(msg)) < 0)
		_exit(1);
	if (s >= 0)
		close(s);
	if (ai)
		freeaddrinfo(ai);
}

/* Probes every site at once; the whole takes at most PROBE_MS + 500 ms. */
static void probe_all(struct probe *pr, int n)
{
	long long deadline = now_ms() + PROBE_MS + 500;

	for (int i = 0; i < n; i++) {
		int fd[2];

		pr[i].pid = -1;
		pr[i].fd = -1;
		snprintf(pr[i].why, sizeof(pr[i].why), "no answer within %d ms", PROBE_MS);
		if (pipe2(fd, O_CLOEXEC) != 0)
			continue;
		if ((pr[i].pid = fork()) == 0) {
			close(fd[0]);
			probe_child(pr[i].site, fd[1]);
			_exit(0);
		}
		close(fd[1]);
		if (pr[i].pid < 0) {
			close(fd[0]);
			continue;
		}
		pr[i].fd = fd[0];
	}
	for (int i = 0; i < n; i++) {
		char msg[96];
		size_t got;

		if (pr[i].fd < 0)
			continue;
		got = read_until(pr[i].fd, msg, sizeof(msg) - 1, deadline);
		msg[got] = '\0';
		close(pr[i].fd);
		pr[i].fd = -1;
		reap(pr[i].pid);
		if (!got)
			continue;
		pr[i].reachable = !strcmp(msg, "0");
		if (!pr[i].reachable)
			snprintf(pr[i].why, sizeof(pr[i].why), "%s", msg);
	}
}

/* The sites to probe: the membership when the state was read, else the configured
 * peers. */
static int sites(const struct farm_repl_status *st, int have, const char *peers,
		 struct probe *pr)
{
	int n = 0;

	if (have) {
		for (int i = 0; i < st->npeers && n < FARM_REPL_MAX_PEERS; i++)
			snprintf(pr[n++].site, sizeof(pr[0].site), "%s", st->peers[i].addr);
		return n;
	}
	for (const char *p = peers ? peers : ""; *p && n < FARM_REPL_MAX_PEERS;) {
		size_t len = strcspn(p, ", ");
		if (len && len < sizeof(pr[0].site)) {
			memcpy(pr[n].site, p, len);
			pr[n++].site[len] = '\0';
		}
		p += len;
		p += strspn(p, ", ");
	}
	return n;
}

int farmctl_replication(const char *conf_path, int argc, char **argv)
{
	struct farm_conf c;
	struct farm_repl_status st;
	struct probe *pr = NULL;
	char why[256] = "";
	int json = 0, rc = 1, have, n, down = 0;

	if (argc == 3 && !strcmp(argv[1], "remove"))
		return farmctl_replication_remove(conf_path, argv[2]);
	if (argc >= 3 && !strcmp(argv[2], "--json"))
		json = 1;
	if (argc < 2 || strcmp(argv[1], "status") != 0 || argc > 2 + json) {
		printf("usage: farmctl replication status [--json] | replication remove HOST:PORT\n"
		       "  this node's role (master, replica, none), the master it follows, how far\n"
		       "  its log reaches (file/offset), and the other sites of its group, each\n"
		       "  reachable or unreachable on its replication port (probed, %d ms)\n"
		       "  exit: 0 all sites reachable, 3 some unreachable, 1 this node's state\n"
		       "  could not be read (within %d ms)\n"
		       "  remove: takes the site HOST:PORT (a stopped node) out of the group's\n"
		       "  membership, so that elections and quorum acks no longer count it\n",
		       PROBE_MS, STATUS_WAIT_MS);
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (!farm_store_repl_on()) {
		printf("replication: off (replication.local is not set)\n");
		farm_conf_free(&c);
		return 0;
	}
	memset(&st, 0, sizeof(st));
	have = read_status(c.state_dir, &st, why, sizeof(why)) == FARM_OK;
	if (!have)
		fprintf(stderr, "farmctl: %s\n", why);
	if (!(pr = calloc(FARM_REPL_MAX_PEERS, sizeof(*pr))))
		goto out;
	n = sites(&st, have, c.repl_peers, pr);
	probe_all(pr, n);
	for (int i = 0; i < n; i++)
		down += !pr[i].reachable;
	if (json) {
		json_t *peers = json_array(), *j;
		char lsn[32];

		snprintf(lsn, sizeof(lsn), "%u/%u", (unsigned)st.lsn_file, (unsigned)st.lsn_offset);
		for (int i = 0; i < n; i++)
			json_array_append_new(peers, json_pack("{s:s,s:b,s:s?}", "site", pr[i].site,
							       "reachable", pr[i].reachable,
							       "error",
							       pr[i].reachable ? NULL : pr[i].why));
		if (have)
			j = json_pack("{s:s,s:s,s:s?,s:b,s:b,s:b,s:s,s:I,s:I,s:o}", "role",
				      farm_repl_role_name(st.role), "site", st.local, "master",
				      *st.master ? st.master : NULL, "writable",
				      st.role == FARM_REPL_MASTER, "caughtUp",
				      st.role == FARM_REPL_MASTER || st.startup_done, "listener",
				      st.listener, "lsn", lsn, "generation",
				      (json_int_t)st.generation, "elections",
				      (json_int_t)st.elections, "peers", peers);
		else
			j = json_pack("{s:s,s:s,s:s,s:o}", "role", "unknown", "site", c.repl_local,
				      "error", why, "peers", peers);
		if (j) {
			json_dumpf(j, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(j);
		}
	} else {
		if (have)
			printf("role: %s\nsite: %s\nmaster: %s\nwritable: %s\ncaught up: %s\n"
			       "replication process: %s\nlsn: %u/%u\ngeneration: %u\n"
			       "elections: %u\n",
			       farm_repl_role_name(st.role), st.local,
			       *st.master ? st.master : "(none)",
			       st.role == FARM_REPL_MASTER ? "yes" : "no",
			       st.role == FARM_REPL_MASTER || st.startup_done ? "yes" : "no",
			       st.listener ? "running" : "not running", (unsigned)st.lsn_file,
			       (unsigned)st.lsn_offset, (unsigned)st.generation,
			       (unsigned)st.elections);
		else
			printf("role: unknown\nsite: %s\n", c.repl_local);
		for (int i = 0; i < n; i++) {
			if (pr[i].reachable)
				printf("peer: %s reachable\n", pr[i].site);
			else
				printf("peer: %s unreachable (%s)\n", pr[i].site, pr[i].why);
		}
	}
	rc = !have ? 1 : down ? EXIT_UNREACHABLE : 0;
out:
	free(pr);
	farm_conf_free(&c);
	return rc;
}
