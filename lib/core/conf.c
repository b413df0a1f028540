/* conf.c - the configuration table, file parser and environment overrides. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "banned.h"

extern char **environ;

#define OFF(f) offsetof(struct farm_conf, f)
#define KIB 1024L
#define MIB (1024L * 1024L)

static const struct farm_conf_key conf_keys[] = {
	{"listen", FARM_CONF_LISTEN, OFF(listen), 0, 0, "unix:/run/farm/farm.sock", 0,
	 "FastCGI socket: unix:/path or 127.0.0.1:port; empty means the socket on fd 0"},
	{"listen.mode", FARM_CONF_MODE, OFF(listen_mode), 0, 0, "0660", 0,
	 "permissions of a unix listen socket"},
	{"workers", FARM_CONF_INT, OFF(workers), 1, 256, "2", 0, "worker processes"},
	{"threads", FARM_CONF_INT, OFF(threads), 1, 256, "4", 0, "accepting threads per worker"},
	{"threads.running", FARM_CONF_INT, OFF(threads_running), 0, 256, "0", 0,
	 "threads of a worker running request code at once, the others wait (0 = online CPUs / workers, rounded up)"},
	{"max_requests", FARM_CONF_INT, OFF(max_requests), 0, LONG_MAX, "0", 0,
	 "recycle a worker after this many requests (0 = never)"},
	{"state_dir", FARM_CONF_PATH, OFF(state_dir), 0, 0, "/var/lib/farm", 0,
	 "Berkeley DB environment and runtime state"},
	{"jwt_secret", FARM_CONF_STR, OFF(jwt_secret), 0, 0, "", 1,
	 "HS256 secret for API tokens (also the default key-derivation input)"},
	{"jwt_secret_file", FARM_CONF_PATH, OFF(jwt_secret_file), 0, 0, "", 0,
	 "file holding jwt_secret (mode 0600 or stricter)"},
	{"master_key_file", FARM_CONF_PATH, OFF(master_key_file), 0, 0, "", 0,
	 "optional key file replacing jwt_secret as the credential key-derivation input"},
	{"body_limit", FARM_CONF_SIZE, OFF(body_limit), 1, 64 * MIB, "1M", 0,
	 "largest accepted request body"},
	{"upstream.connect_timeout", FARM_CONF_INT, OFF(upstream_connect_timeout), 1, 300, "5", 0,
	 "seconds to connect to a platform"},
	{"upstream.timeout", FARM_CONF_INT, OFF(upstream_timeout), 1, 600, "15", 0,
	 "seconds for a whole platform call"},
	{"upstream.max_body", FARM_CONF_SIZE, OFF(upstream_max_body), 1 * KIB, 256 * MIB, "8M", 0,
	 "largest platform response read"},
	{"cache.ttl", FARM_CONF_INT, OFF(cache_ttl), 0, 3600, "5", 0,
	 "seconds platform reads are cached (0 = off)"},
	{"cache.size", FARM_CONF_SIZE, OFF(cache_size), 64 * KIB, 4096 * MIB, "64M", 0,
	 "memory shared by the pool for cached platform reads"},
	{"upstream.allow_loopback", FARM_CONF_BOOL, OFF(upstream_allow_loopback), 0, 1, "no", 0,
	 "let platform URLs reach loopback addresses (tests, a platform on the same host)"},
	{"upstream.ca_file", FARM_CONF_PATH, OFF(upstream_ca_file), 0, 0, "", 0,
	 "PEM CA bundle trusted for platform TLS instead of the system store (internal CAs)"},
	{"pipelines.workspace_root", FARM_CONF_PATH, OFF(pipelines_workspace_root), 0, 0,
	 "/var/lib/farm/workspaces", 0, "directory pipeline workspaces live under"},
	{"pipelines.stage_timeout", FARM_CONF_INT, OFF(pipelines_stage_timeout), 1, 86400, "1800", 0,
	 "seconds a build stage may run when its config sets no timeout"},
	{"audit.enabled", FARM_CONF_BOOL, OFF(audit_enabled), 0, 1, "yes", 0,
	 "write audit records (turn off only for scripts/bench-audit's reference run)"},
	{"audit.retention_days", FARM_CONF_INT, OFF(audit_retention_days), 0, 36500, "90", 0,
	 "days audit records are kept (0 = for ever); swept at each checkpoint"},
	{"runs.log_max", FARM_CONF_SIZE, OFF(runs_log_max), 1 * KIB, 64 * MIB, "1M", 0,
	 "largest run log GET /runs/:platform/:runId/log answers (the rest is cut and marked)"},
	{"runs.index", FARM_CONF_BOOL, OFF(runs_index), 0, 1, "yes", 0,
	 "GET /runs reads the runs index (no: scans the history; scripts/bench-runs' reference)"},
	{"replication.local", FARM_CONF_STR, OFF(repl_local), 0, 0, "", 0,
	 "host:port this node's replication manager listens on; empty = one node, no replication"},
	{"replication.peers", FARM_CONF_STR, OFF(repl_peers), 0, 0, "", 0,
	 "host:port,... of the other nodes' replication managers"},
	{"replication.priority", FARM_CONF_INT, OFF(repl_priority), 0, 1000000, "100", 0,
	 "election priority (0 = never master)"},
	{"replication.ack_policy", FARM_CONF_STR, OFF(repl_ack_policy), 0, 0, "quorum", 0,
	 "acknowledgements a commit waits for: quorum, all, all_available, all_peers, one, one_peer, none"},
	{"replication.ack_timeout", FARM_CONF_INT, OFF(repl_ack_timeout), 1, 600000, "2000", 0,
	 "milliseconds a commit waits for them; then the request fails (504)"},
	{"replication.join", FARM_CONF_BOOL, OFF(repl_join), 0, 1, "no", 0,
	 "join a running group through the peers instead of forming the initial group with them"},
	{"replication.2site_strict", FARM_CONF_BOOL, OFF(repl_2site_strict), 0, 1, "yes", 0,
	 "a group of two elects no master without both sites (DB_REPMGR_CONF_2SITE_STRICT)"},
	{"events.history", FARM_CONF_INT, OFF(events_history), 1, 10000000, "10000", 0,
	 "events kept for replay"},
	{"events.push", FARM_CONF_ZMQ, OFF(events_push), 0, 0, "ipc:///run/farm/eventd.sock", 0,
	 "ZeroMQ endpoint where farm-eventd takes nudges"},
	{"events.pub", FARM_CONF_ZMQ, OFF(events_pub), 0, 0, "ipc:///run/farm/events.sock", 0,
	 "ZeroMQ endpoint where farm-eventd publishes events"},
	{"wsd.listen", FARM_CONF_LOOPBACK, OFF(wsd_listen), 0, 0, "127.0.0.1:8091", 0,
	 "address the WebSocket bridge listens on (nginx proxies to it)"},
	{"wsd.ping_interval", FARM_CONF_INT, OFF(wsd_ping_interval), 1, 3600, "30", 0,
	 "seconds of silence before the WebSocket bridge pings a client"},
	{"wsd.send_timeout", FARM_CONF_INT, OFF(wsd_send_timeout), 1, 3600, "30", 0,
	 "seconds a WebSocket client's socket may take nothing while events wait before it is closed (1008)"},
	{"webhook.dedupe_ttl", FARM_CONF_INT, OFF(webhook_dedupe_ttl), 0, 315360000, "604800", 0,
	 "seconds a webhook delivery is remembered to drop redeliveries (0 = for ever)"},
	{"poll.interval", FARM_CONF_INT, OFF(poll_interval), 1, 86400, "30", 0,
	 "seconds between two reads of a watched run (farm-runner's poller)"},
	{"poll.max_age", FARM_CONF_INT, OFF(poll_max_age), 60, 31 * 86400, "86400", 0,
	 "seconds a run is watched at most, however long it runs"},
	{"request_slowlog_timeout", FARM_CONF_INT, OFF(request_slowlog_timeout), 0, 3600, "5", 0,
	 "log requests slower than this many seconds (0 = off)"},
	{"request_terminate_timeout", FARM_CONF_INT, OFF(request_terminate_timeout), 0, 86400, "120",
	 0, "kill a worker whose request runs longer (0 = off)"},
	{"checkpoint_interval", FARM_CONF_INT, OFF(checkpoint_interval), 1, 86400, "30", 0,
	 "seconds between database checkpoints"},
	{"log_level", FARM_CONF_LEVEL, OFF(log_level), 0, 0, "info", 0, "error, warn, info or debug"},
	{"log_file", FARM_CONF_PATH, OFF(log_file), 0, 0, "", 0,
	 "append log lines to this file instead of stderr; SIGUSR1 reopens it (log rotation)"},
	{"emergency_restart_threshold", FARM_CONF_INT, OFF(emergency_restart_threshold), 0, 10000,
	 "10", 0, "worker crashes within the interval that restart the whole pool (0 = off)"},
	{"emergency_restart_interval", FARM_CONF_INT, OFF(emergency_restart_interval), 1, 86400, "60",
	 0, "seconds of the crash window"},
	{"sync_commit", FARM_CONF_BOOL, OFF(sync_commit), 0, 1, "yes", 0,
	 "fsync the log at every commit (turn off only for throw-away benchmarks)"},
	{"debug_routes", FARM_CONF_BOOL, OFF(debug_routes), 0, 1, "no", 0,
	 "enable test-only routes such as GET /api/v1/__debug/sleep?ms=N (never in production)"},
};

#define NBASE (sizeof(conf_keys) / sizeof(conf_keys[0]))

/* The whole table: conf_keys, then the rows programs registered (farm_conf_register),
 * whose offset is their index in struct farm_conf's ext[].  Set at start-up, before
 * any configuration is loaded, and read-only afterwards. */
static struct farm_conf_key *all_keys;
static size_t nall;

#define KEYS ((const struct farm_conf_key *)(all_keys ? all_keys : conf_keys))
#define NKEYS (all_keys ? nall : NBASE)
#define IS_EXT(k) ((size_t)((k) - KEYS) >= NBASE)

int farm_conf_register(const struct farm_conf_key *rows)
{
	size_t n = 0, have = NKEYS;
	struct farm_conf_key *t;

	while (rows && rows[n].name)
		n++;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < have + i; j++) {
			const char *other = j < have ? KEYS[j].name : rows[j - have].name;
			if (!strcmp(rows[i].name, other))
				return FARM_E_EXISTS;
		}
	if (!(t = malloc((have + n) * sizeof(*t))))
		return FARM_E_NOMEM;
	memcpy(t, KEYS, have * sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		t[have + i] = rows[i];
		t[have + i].offset = have + i - NBASE;
	}
	free(all_keys);
	all_keys = t;
	nall = have + n;
	return FARM_OK;
}

const struct farm_conf_key *farm_conf_keys(size_t *n)
{
	*n = NKEYS;
	return KEYS;
}

static const struct farm_conf_key *conf_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(KEYS[i].name) == len && memcmp(KEYS[i].name, name, len) == 0)
			return &KEYS[i];
	return NULL;
}

/* Where key k's value is: a field of struct farm_conf, or a registered key's slot. */
static void *conf_slot(const struct farm_conf *c, const struct farm_conf_key *k)
{
	if (IS_EXT(k)) {
		struct farm_conf_val *v = &c->ext[k->offset];
		if (farm_conf_type_is_str(k->type))
			return &v->s;
		return k->type == FARM_CONF_BOOL ? (void *)&v->b : (void *)&v->n;
	}
	return (char *)c + k->offset;
}

const char *farm_conf_str(const struct farm_conf *c, const char *key)
{
	const struct farm_conf_key *k = key ? conf_find(key, strlen(key)) : NULL;

	if (!k || !farm_conf_type_is_str(k->type) || (IS_EXT(k) && !c->ext))
		return NULL;
	return *(char *const *)conf_slot(c, k);
}

long farm_conf_num(const struct farm_conf *c, const char *key)
{
	const struct farm_conf_key *k = key ? conf_find(key, strlen(key)) : NULL;

	if (!k || farm_conf_type_is_str(k->type) || (IS_EXT(k) && !c->ext))
		return 0;
	if (k->type == FARM_CONF_BOOL)
		return *(const int *)conf_slot(c, k);
	return *(const long *)conf_slot(c, k);
}

static int parse_long(const char *v, long *out, int size)
{
	char *end;
	long n, mul = 1;

	errno = 0;
	if (!*v)
		return -1;
	n = strtol(v, &end, 10);
	if (errno || end == v)
		return -1;
	if (size && *end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mul = KIB; break;
		case 'M': mul = MIB; break;
		case 'G': mul = 1024 * MIB; break;
		default: return -1;
		}
		end++;
	}
	if (*end)
		return -1;
	if (n < 0 || (mul > 1 && n > LONG_MAX / mul))
		return -1;
	*out = n * mul;
	return 0;
}

static void free_secret_str(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}


/* ---- the types' shapes (shared by the file, the environment and -t) ---------------- */

int farm_conf_type_is_str(enum farm_conf_type t)
{
	return t != FARM_CONF_INT && t != FARM_CONF_SIZE && t != FARM_CONF_BOOL;
}

const char *farm_conf_type_name(enum farm_conf_type t)
{
	switch (t) {
	case FARM_CONF_INT: return "integer";
	case FARM_CONF_SIZE: return "size";
	case FARM_CONF_BOOL: return "boolean";
	case FARM_CONF_URL: return "URL";
	case FARM_CONF_ZMQ: return "ZeroMQ endpoint";
	case FARM_CONF_LISTEN: return "listen address";
	case FARM_CONF_HOSTPORT: return "host:port";
	case FARM_CONF_LOOPBACK: return "loopback host:port";
	case FARM_CONF_MODE: return "octal mode";
	case FARM_CONF_PATH: return "absolute path";
	case FARM_CONF_LEVEL: return "log level";
	case FARM_CONF_STR: break;
	}
	return "string";
}

/* "1".."65535", digits only. */
static int port_ok(const char *p, size_t n)
{
	long v = 0;

	if (n == 0 || n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* A host name or address: letters, digits, '-', '.', '_' (or a bracketed v6). */
static int host_ok(const char *h, size_t n)
{
	if (n == 0)
		return 0;
	if (h[0] == '[')
		return n > 2 && h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
			return 0;
	return 1;
}

int farm_conf_hostport(const char *s, char *host, size_t hcap, int *port)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;

	if (!colon || !host_ok(s, (size_t)(colon - s)) || !port_ok(colon + 1, strlen(colon + 1)))
		return -1;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		h++;
		hl -= 2;
	} else if (memchr(s, ':', hl)) {
		return -1; /* a v6 address needs brackets */
	}
	if (hl >= hcap)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)strtol(colon + 1, NULL, 10);
	return 0;
}

static int is_loopback_host(const char *h)
{
	return strncmp(h, "127.", 4) == 0 || !strcmp(h, "::1") || !strcmp(h, "localhost");
}

static int fail(char *why, size_t cap, const char *msg)
{
	snprintf(why, cap, "%s", msg);
	return -1;
}

static int check_url(const char *v, char *why, size_t cap)
{
	const char *h, *end;
	size_t hl;

	if (strncmp(v, "https://", 8) == 0)
		h = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		h = v + 7;
	else
		return fail(why, cap, "expected an http:// or https:// URL");
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return fail(why, cap, "a URL has no spaces or control characters");
	if (strpbrk(v, "?#"))
		return fail(why, cap, "a base URL has no query or fragment");
	end = h + strcspn(h, "/");
	if (memchr(h, '@', (size_t)(end - h)))
		return fail(why, cap, "a URL carries no user info");
	hl = (size_t)(end - h);
	if (h[0] == '[') {
		const char *rb = memchr(h, ']', hl);
		if (!rb || !host_ok(h, (size_t)(rb - h) + 1))
			return fail(why, cap, "bad host in URL");
		if (rb + 1 < end && (rb[1] != ':' || !port_ok(rb + 2, (size_t)(end - rb - 2))))
			return fail(why, cap, "bad port in URL (1..65535)");
		return 0;
	}
	const char *colon = memchr(h, ':', hl);
	if (!host_ok(h, colon ? (size_t)(colon - h) : hl))
		return fail(why, cap, "bad host in URL");
	if (colon && !port_ok(colon + 1, (size_t)(end - colon - 1)))
		return fail(why, cap, "bad port in URL (1..65535)");
	return 0;
}

static int check_zmq(const char *v, char *why, size_t cap)
{
	char host[256];
	int port;

	if (!*v)
		return 0;
	if (strncmp(v, "ipc://", 6) == 0) {
		if (v[6] != '/' && v[6] != '@')
			return fail(why, cap, "expected ipc:///absolute/path");
		if (strlen(v + 6) >= 108)
			return fail(why, cap, "ipc path too long (107 bytes at most)");
		return 0;
	}
	if (strncmp(v, "tcp://", 6) == 0) {
		if (farm_conf_hostport(v + 6, host, sizeof(host), &port) < 0)
			return fail(why, cap, "expected tcp://host:port");
		return 0;
	}
	if (strncmp(v, "inproc://", 9) == 0 && v[9])
		return 0;
	return fail(why, cap, "expected a ZeroMQ endpoint: ipc:///path, tcp://host:port or "
			      "inproc://name");
}

static int check_listen(const char *v, char *why, size_t cap)
{
	const char *colon;
	unsigned char a[4];

	if (!*v)
		return 0;
	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/')
			return fail(why, cap, "expected unix:/absolute/path");
		if (strlen(v + 5) >= 108)
			return fail(why, cap, "socket path too long (107 bytes at most)");
		return 0;
	}
	colon = strrchr(v, ':');
	if (colon && (size_t)(colon - v) < 16 && port_ok(colon + 1, strlen(colon + 1))) {
		char host[16];
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
		if (inet_pton(AF_INET, host, a) == 1)
			return 0;
	}
	return fail(why, cap, "expected unix:/path, IPv4:port (127.0.0.1:9000) or empty");
}

int farm_conf_check(enum farm_conf_type t, const char *v, char *why, size_t cap)
{
	char host[256];
	int port;

	switch (t) {
	case FARM_CONF_URL:
		return check_url(v, why, cap);
	case FARM_CONF_ZMQ:
		return check_zmq(v, why, cap);
	case FARM_CONF_LISTEN:
		return check_listen(v, why, cap);
	case FARM_CONF_HOSTPORT:
	case FARM_CONF_LOOPBACK:
		if (!*v)
			return 0; /* none: the part is off (farm-wsd refuses to start) */
		if (farm_conf_hostport(v, host, sizeof(host), &port) < 0)
			return fail(why, cap, "expected host:port (127.0.0.1:8091)");
		if (t == FARM_CONF_LOOPBACK && !is_loopback_host(host))
			return fail(why, cap, "must be a loopback address (127.x, ::1, localhost)");
		return 0;
	case FARM_CONF_MODE:
		if (strlen(v) < 3 || strlen(v) > 4 || strspn(v, "01234567") != strlen(v) ||
		    strtol(v, NULL, 8) > 0777)
			return fail(why, cap, "expected an octal mode such as 0660");
		return 0;
	case FARM_CONF_PATH:
		if (*v && *v != '/')
			return fail(why, cap, "expected an absolute path");
		return 0;
	case FARM_CONF_LEVEL:
		if (strcmp(v, "error") && strcmp(v, "warn") && strcmp(v, "info") && strcmp(v, "debug"))
			return fail(why, cap, "expected error, warn, info or debug");
		return 0;
	default:
		return 0;
	}
}

static int conf_apply(struct farm_conf *c, const struct farm_conf_key *k, const char *v,
		      struct farm_error *err)
{
	long n;

	if (farm_conf_type_is_str(k->type)) {
		char **slot = conf_slot(c, k);
		char why[128], *dup;
		if (farm_conf_check(k->type, v, why, sizeof(why)) < 0)
			return farm_error_set(err, FARM_E_CONFIG, "%s: %s", k->name, why);
		if (!(dup = strdup(v)))
			return farm_error_set(err, FARM_E_NOMEM, "out of memory");
		if (k->secret)
			free_secret_str(*slot);
		else
			free(*slot);
		*slot = dup;
		return FARM_OK;
	}
	switch (k->type) {
	case FARM_CONF_BOOL: {
		int b;
		if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
			b = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false") ||
			 !strcmp(v, "0"))
			b = 0;
		else
			return farm_error_set(err, FARM_E_CONFIG, "%s: expected yes or no", k->name);
		*(int *)conf_slot(c, k) = b;
		return FARM_OK;
	}
	default:
		if (parse_long(v, &n, k->type == FARM_CONF_SIZE) < 0)
			return farm_error_set(err, FARM_E_CONFIG, "%s: expected a %s", k->name,
					      k->type == FARM_CONF_SIZE ? "size (e.g. 512K, 1M)"
									: "whole number");
		if (n < k->min || n > k->max)
			return farm_error_set(err, FARM_E_CONFIG, "%s: %ld is outside %ld..%ld",
					      k->name, n, k->min, k->max);
		*(long *)conf_slot(c, k) = n;
		return FARM_OK;
	}
}

int farm_conf_set(struct farm_conf *c, const char *key, const char *value, struct farm_error *err)
{
	const struct farm_conf_key *k = conf_find(key, strlen(key));

	if (!k)
		return farm_error_set(err, FARM_E_CONFIG, "unknown key '%s'", key);
	return conf_apply(c, k, value, err);
}

int farm_conf_init(struct farm_conf *c)
{
	struct farm_error e = {0};

	memset(c, 0, sizeof(*c));
	if (NKEYS > NBASE && !(c->ext = calloc(NKEYS - NBASE, sizeof(*c->ext))))
		return FARM_E_NOMEM;
	c->next = NKEYS - NBASE;
	for (size_t i = 0; i < NKEYS; i++)
		if (conf_apply(c, &KEYS[i], KEYS[i].def, &e) != FARM_OK) {
			farm_conf_free(c);
			return e.code;
		}
	return FARM_OK;
}

void farm_conf_free(struct farm_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		if (!farm_conf_type_is_str(KEYS[i].type) ||
		    (i >= NBASE && (!c->ext || i - NBASE >= c->next)))
			continue;
		char **slot = conf_slot(c, &KEYS[i]);
		if (KEYS[i].secret)
			free_secret_str(*slot);
		else
			free(*slot);
		*slot = NULL;
	}
	free(c->ext);
	c->ext = NULL;
	c->next = 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int farm_conf_load_file(struct farm_conf *c, const char *path, struct farm_error *err)
{
	FILE *fp = fopen(path, "re");
	char line[4096];
	int lineno = 0, rc = FARM_OK;
	int *first; /* the line each key was set on, to refuse a second one */

	if (!fp) {
		if (err)
			err->sys_errno = errno;
		return farm_error_set(err, FARM_E_CONFIG, "%s: cannot open: %s", path,
				      strerror(errno));
	}
	if (!(first = calloc(NKEYS, sizeof(*first)))) {
		fclose(fp);
		return farm_error_set(err, FARM_E_NOMEM, "out of memory");
	}
	while (fgets(line, sizeof(line), fp)) {
		char *s, *eq, *key, *val;
		const struct farm_conf_key *k;
		struct farm_error e = {0};
		size_t vl;

		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			rc = farm_error_set(err, FARM_E_CONFIG, "%s:%d: line too long", path, lineno);
			goto out;
		}
		s = trim(line);
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			rc = farm_error_set(err, FARM_E_CONFIG, "%s:%d: expected 'key = value'", path,
					    lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		k = conf_find(key, strlen(key));
		if (!k) {
			rc = farm_error_set(err, FARM_E_CONFIG, "%s:%d: unknown key '%s'", path,
					    lineno, key);
			goto out;
		}
		/* Values may be quoted to keep leading/trailing spaces or a '#'; a quote
		 * opened is closed on the same line. */
		vl = strlen(val);
		if (val[0] == '"') {
			if (vl < 2 || val[vl - 1] != '"') {
				rc = farm_error_set(err, FARM_E_CONFIG,
						    "%s:%d: %s: unclosed quote (a quoted value ends "
						    "with '\"' on the same line)",
						    path, lineno, k->name);
				goto out;
			}
			val[vl - 1] = '\0';
			val++;
		}
		if (first[k - KEYS]) {
			rc = farm_error_set(err, FARM_E_CONFIG,
					    "%s:%d: duplicate key '%s' (first set on line %d)", path,
					    lineno, k->name, first[k - KEYS]);
			goto out;
		}
		first[k - KEYS] = lineno;
		if (conf_apply(c, k, val, &e) != FARM_OK) {
			rc = farm_error_set(err, FARM_E_CONFIG, "%s:%d: %s", path, lineno, e.msg);
			goto out;
		}
	}
out:
	explicit_bzero(line, sizeof(line));
	free(first);
	fclose(fp);
	return rc;
}

/* The environment name of a key, lower case: "upstream.timeout" → "upstream_timeout". */
static void env_key(const char *name, char *out, size_t cap)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < cap; i++)
		out[i] = name[i] == '.' ? '_' : name[i];
	out[i] = '\0';
}

/* Levenshtein distance, capped: anything above 3 is 3. */
static int near(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[128], prev, cur;

	if (la >= 127 || lb >= 127 || (la > lb ? la - lb : lb - la) > 2)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			cur = row[j];
			int best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb] > 3 ? 3 : row[lb];
}

/* A FARM_ variable that is no key: a misspelling when it is within two letters of a
 * key, or begins with a key's section ("upstream_", "webhook_", ...).  The scripts'
 * own variables (FARM_PORT, FARM_CONFIG, FARM_BUILD, ...) are neither.  Sets *hint to
 * the closest key, or NULL. */
static int misspelt(const char *lname, const struct farm_conf_key **hint)
{
	char kn[128];
	int best = 3;

	*hint = NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		env_key(KEYS[i].name, kn, sizeof(kn));
		int d = near(lname, kn);
		if (d < best) {
			best = d;
			*hint = &KEYS[i];
		}
	}
	if (best <= 2 && strlen(lname) >= 4)
		return 1;
	*hint = NULL;
	for (size_t i = 0; i < NKEYS; i++) {
		const char *dot = strchr(KEYS[i].name, '.');
		size_t sl = dot ? (size_t)(dot - KEYS[i].name) : 0;
		if (sl && strncmp(lname, KEYS[i].name, sl) == 0 && lname[sl] == '_')
			return 1;
	}
	return 0;
}

int farm_conf_load_env(struct farm_conf *c, char **envp, struct farm_error *err)
{
	if (!envp)
		envp = environ;
	for (; *envp; envp++) {
		const char *ent = *envp, *eq = strchr(ent, '=');
		const struct farm_conf_key *k = NULL, *hint;
		char lname[128], kn[128];
		size_t len;

		if (!eq)
			continue;
		if (strncmp(ent, "JWT_SECRET=", 11) == 0) {
			int rc = farm_conf_set(c, "jwt_secret", eq + 1, err);
			if (rc)
				return rc;
			continue;
		}
		if (strncmp(ent, "FARM_", 5) != 0)
			continue;
		len = (size_t)(eq - ent) - 5;
		if (len == 0 || len >= sizeof(lname))
			continue;
		/* FARM_<KEY>: lower case, '_' may stand for '.' or '_'; match against the table. */
		for (size_t j = 0; j < len; j++)
			lname[j] = (char)tolower((unsigned char)ent[5 + j]);
		lname[len] = '\0';
		for (size_t i = 0; i < NKEYS && !k; i++) {
			env_key(KEYS[i].name, kn, sizeof(kn));
			if (!strcmp(kn, lname))
				k = &KEYS[i];
		}
		if (k) {
			struct farm_error e = {0};
			const char *v = eq + 1;
			char abs[PATH_MAX];
			/* A relative path typed in a shell (FARM_STATE_DIR=./var) means the
			 * current directory's; in the file it is refused (relative to what?). */
			if (k->type == FARM_CONF_PATH && *v && *v != '/') {
				size_t n;
				if (!getcwd(abs, sizeof(abs)) || (n = strlen(abs)) + strlen(v) + 2 > sizeof(abs))
					return farm_error_set(err, FARM_E_CONFIG, "environment %.*s: "
							      "cannot make the path absolute",
							      (int)(eq - ent), ent);
				snprintf(abs + n, sizeof(abs) - n, "/%s", v[0] == '.' && v[1] == '/' ? v + 2 : v);
				v = abs;
			}
			if (conf_apply(c, k, v, &e) != FARM_OK)
				return farm_error_set(err, FARM_E_CONFIG, "environment %.*s: %s",
						      (int)(eq - ent), ent, e.msg);
			continue;
		}
		if (misspelt(lname, &hint)) {
			if (hint) {
				env_key(hint->name, kn, sizeof(kn));
				for (char *p = kn; *p; p++)
					*p = (char)toupper((unsigned char)*p);
			}
			return farm_error_set(err, FARM_E_CONFIG,
					      "environment %.*s: not a configuration key%s%s%s",
					      (int)(eq - ent), ent, hint ? " (did you mean FARM_" : "",
					      hint ? kn : "", hint ? "?)" : "");
		}
		/* Other FARM_* variables (FARM_PORT, FARM_CONFIG, FARM_BUILD ...) belong to
		 * the scripts, not the programs: ignored. */
	}
	return FARM_OK;
}

static int read_secret_file(const char *path, char **out, struct farm_error *err)
{
	char buf[4096];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = FARM_OK;

	if (fd < 0)
		return farm_error_set(err, FARM_E_CONFIG, "%s: cannot open: %s", path,
				      strerror(errno));
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077))
		rc = farm_error_set(err, FARM_E_CONFIG,
				    "%s: readable by group or others (chmod 600 it)", path);
	n = rc ? -1 : read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (rc)
		return rc;
	if (n <= 0)
		return farm_error_set(err, FARM_E_CONFIG, "%s: empty or unreadable", path);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? FARM_OK : FARM_E_NOMEM;
}

/* "host:port" with a port 1..65535, `len` bytes of `s`. */
static int is_site(const char *s, size_t len)
{
	size_t colon = len;
	long port = 0;

	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = i;
	if (colon == 0 || colon >= len - 1 || len - colon > 6)
		return 0;
	for (size_t i = colon + 1; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return 0;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

static int conf_check_replication(const struct farm_conf *c, struct farm_error *err)
{
	static const char *const policies[] = {"quorum", "all", "all_available", "all_peers",
					       "one", "one_peer", "none"};
	const char *p;
	int ok = 0;

	if (!c->repl_local || !*c->repl_local)
		return FARM_OK;
	if (!is_site(c->repl_local, strlen(c->repl_local)))
		return farm_error_set(err, FARM_E_CONFIG, "replication.local must be host:port");
	for (p = c->repl_peers ? c->repl_peers : ""; *p;) {
		size_t n = strcspn(p, ", ");
		if (n && !is_site(p, n))
			return farm_error_set(err, FARM_E_CONFIG,
					      "replication.peers must be host:port,host:port,...");
		p += n;
		p += strspn(p, ", ");
	}
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		ok |= !strcmp(c->repl_ack_policy ? c->repl_ack_policy : "", policies[i]);
	if (!ok)
		return farm_error_set(err, FARM_E_CONFIG,
				      "replication.ack_policy must be quorum, all, all_available, "
				      "all_peers, one, one_peer or none");
	return FARM_OK;
}

int farm_conf_finish(struct farm_conf *c, struct farm_error *err)
{
	if ((!c->jwt_secret || !*c->jwt_secret) && c->jwt_secret_file && *c->jwt_secret_file) {
		char *s = NULL;
		int rc = read_secret_file(c->jwt_secret_file, &s, err);
		if (rc)
			return rc;
		free_secret_str(c->jwt_secret);
		c->jwt_secret = s;
	}
	if (!c->jwt_secret || strlen(c->jwt_secret) < 16)
		return farm_error_set(err, FARM_E_CONFIG,
				      "jwt_secret (or jwt_secret_file, or JWT_SECRET) must be set, "
				      "at least 16 characters");
	if (!c->state_dir || !*c->state_dir)
		return farm_error_set(err, FARM_E_CONFIG, "state_dir must be set");
	return conf_check_replication(c, err);
}

void farm_conf_dump(const struct farm_conf *c, void *fpv)
{
	FILE *fp = fpv;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct farm_conf_key *k = &KEYS[i];
		if (i >= NBASE && (!c->ext || i - NBASE >= c->next))
			continue;
		if (farm_conf_type_is_str(k->type)) {
			const char *v = *(char *const *)conf_slot(c, k);
			if (k->secret)
				v = v && *v ? "(set)" : "";
			fprintf(fp, "%s = %s\n", k->name, v ? v : "");
			continue;
		}
		switch (k->type) {
		case FARM_CONF_BOOL:
			fprintf(fp, "%s = %s\n", k->name,
				*(const int *)conf_slot(c, k) ? "yes" : "no");
			break;
		default:
			fprintf(fp, "%s = %ld\n", k->name, *(const long *)conf_slot(c, k));
		}
	}
}

int farm_conf_load(struct farm_conf *c, const char *path, struct farm_error *err)
{
	int rc = farm_conf_init(c);

	if (rc)
		return farm_error_set(err, rc, "out of memory");
	if ((path && (rc = farm_conf_load_file(c, path, err))) ||
	    (rc = farm_conf_load_env(c, NULL, err)) || (rc = farm_conf_finish(c, err))) {
		farm_conf_free(c);
		return rc;
	}
	return FARM_OK;
}
