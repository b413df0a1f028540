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

#include "banned.h"

extern char **environ;

#define OFF(f) offsetof(struct farm_conf, f)
#define KIB 1024L
#define MIB (1024L * 1024L)

static const struct farm_conf_key conf_keys[] = {
	{"listen", FARM_CONF_STR, OFF(listen), 0, 0, "unix:/run/farm/farm.sock", 0,
	 "FastCGI socket: unix:/path or 127.0.0.1:port; empty means the socket on fd 0"},
	{"listen.mode", FARM_CONF_STR, OFF(listen_mode), 0, 0, "0660", 0,
	 "permissions of a unix listen socket"},
	{"workers", FARM_CONF_INT, OFF(workers), 1, 256, "2", 0, "worker processes"},
	{"threads", FARM_CONF_INT, OFF(threads), 1, 256, "4", 0, "accepting threads per worker"},
	{"threads.running", FARM_CONF_INT, OFF(threads_running), 0, 256, "0", 0,
	 "threads of a worker running request code at once, the others wait (0 = online CPUs / workers, rounded up)"},
	{"max_requests", FARM_CONF_INT, OFF(max_requests), 0, LONG_MAX, "0", 0,
	 "recycle a worker after this many requests (0 = never)"},
	{"state_dir", FARM_CONF_STR, OFF(state_dir), 0, 0, "/var/lib/farm", 0,
	 "Berkeley DB environment and runtime state"},
	{"jwt_secret", FARM_CONF_STR, OFF(jwt_secret), 0, 0, "", 1,
	 "HS256 secret for API tokens (also the default key-derivation input)"},
	{"jwt_secret_file", FARM_CONF_STR, OFF(jwt_secret_file), 0, 0, "", 0,
	 "file holding jwt_secret (mode 0600 or stricter)"},
	{"master_key_file", FARM_CONF_STR, OFF(master_key_file), 0, 0, "", 0,
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
	{"upstream.ca_file", FARM_CONF_STR, OFF(upstream_ca_file), 0, 0, "", 0,
	 "PEM CA bundle trusted for platform TLS instead of the system store (internal CAs)"},
	{"pipelines.workspace_root", FARM_CONF_STR, OFF(pipelines_workspace_root), 0, 0,
	 "/var/lib/farm/workspaces", 0, "directory pipeline workspaces live under"},
	{"pipelines.stage_timeout", FARM_CONF_INT, OFF(pipelines_stage_timeout), 1, 86400, "1800", 0,
	 "seconds a build stage may run when its config sets no timeout"},
	{"circleci.api_url", FARM_CONF_STR, OFF(circleci_api_url), 0, 0, "https://circleci.com", 0,
	 "CircleCI API base"},
	{"travisci.api_url", FARM_CONF_STR, OFF(travisci_api_url), 0, 0, "https://api.travis-ci.com",
	 0, "Travis CI API base"},
	{"webhook.circleci.secret", FARM_CONF_STR, OFF(webhook_circleci_secret), 0, 0, "", 1,
	 "HMAC secret of POST /webhooks/circleci"},
	{"webhook.jenkins.token", FARM_CONF_STR, OFF(webhook_jenkins_token), 0, 0, "", 1,
	 "shared token of POST /webhooks/jenkins"},
	{"webhook.argocd.token", FARM_CONF_STR, OFF(webhook_argocd_token), 0, 0, "", 1,
	 "shared token of POST /webhooks/argocd"},
	{"webhook.travisci.public_key_file", FARM_CONF_STR, OFF(webhook_travisci_public_key_file), 0,
	 0, "", 0, "Travis webhook public key (PEM); else fetched from <travisci.api_url>/config"},
	{"events.history", FARM_CONF_INT, OFF(events_history), 1, 10000000, "10000", 0,
	 "events kept for replay"},
	{"events.push", FARM_CONF_STR, OFF(events_push), 0, 0, "ipc:///run/farm/eventd.sock", 0,
	 "ZeroMQ endpoint where farm-eventd takes nudges"},
	{"events.pub", FARM_CONF_STR, OFF(events_pub), 0, 0, "ipc:///run/farm/events.sock", 0,
	 "ZeroMQ endpoint where farm-eventd publishes events"},
	{"wsd.listen", FARM_CONF_STR, OFF(wsd_listen), 0, 0, "127.0.0.1:8091", 0,
	 "address the WebSocket bridge listens on (nginx proxies to it)"},
	{"wsd.ping_interval", FARM_CONF_INT, OFF(wsd_ping_interval), 1, 3600, "30", 0,
	 "seconds of silence before the WebSocket bridge pings a client"},
	{"webhook.dedupe_ttl", FARM_CONF_INT, OFF(webhook_dedupe_ttl), 0, 315360000, "604800", 0,
	 "seconds a webhook delivery is remembered to drop redeliveries (0 = for ever)"},
	{"request_slowlog_timeout", FARM_CONF_INT, OFF(request_slowlog_timeout), 0, 3600, "5", 0,
	 "log requests slower than this many seconds (0 = off)"},
	{"request_terminate_timeout", FARM_CONF_INT, OFF(request_terminate_timeout), 0, 86400, "120",
	 0, "kill a worker whose request runs longer (0 = off)"},
	{"checkpoint_interval", FARM_CONF_INT, OFF(checkpoint_interval), 1, 86400, "30", 0,
	 "seconds between database checkpoints"},
	{"argocd.poll_interval", FARM_CONF_INT, OFF(argocd_poll_interval), 0, 86400, "30", 0,
	 "seconds between polls of linked Argo CD apps (0 = off)"},
	{"log_level", FARM_CONF_STR, OFF(log_level), 0, 0, "info", 0, "error, warn, info or debug"},
	{"emergency_restart_threshold", FARM_CONF_INT, OFF(emergency_restart_threshold), 0, 10000,
	 "10", 0, "worker crashes within the interval that restart the whole pool (0 = off)"},
	{"emergency_restart_interval", FARM_CONF_INT, OFF(emergency_restart_interval), 1, 86400, "60",
	 0, "seconds of the crash window"},
	{"sync_commit", FARM_CONF_BOOL, OFF(sync_commit), 0, 1, "yes", 0,
	 "fsync the log at every commit (turn off only for throw-away benchmarks)"},
	{"debug_routes", FARM_CONF_BOOL, OFF(debug_routes), 0, 1, "no", 0,
	 "enable test-only routes such as GET /api/v1/__debug/sleep?ms=N (never in production)"},
};

const struct farm_conf_key *farm_conf_keys(size_t *n)
{
	*n = sizeof(conf_keys) / sizeof(conf_keys[0]);
	return conf_keys;
}

static const struct farm_conf_key *conf_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (strlen(conf_keys[i].name) == len && memcmp(conf_keys[i].name, name, len) == 0)
			return &conf_keys[i];
	return NULL;
}

const char *farm_conf_str(const struct farm_conf *c, const char *key)
{
	const struct farm_conf_key *k = key ? conf_find(key, strlen(key)) : NULL;

	if (!k || k->type != FARM_CONF_STR)
		return NULL;
	return *(char *const *)((const char *)c + k->offset);
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

static int conf_apply(struct farm_conf *c, const struct farm_conf_key *k, const char *v,
		      struct farm_error *err)
{
	char *base = (char *)c;
	long n;

	switch (k->type) {
	case FARM_CONF_STR: {
		char **slot = (char **)(base + k->offset);
		char *dup = strdup(v);
		if (!dup)
			return farm_error_set(err, FARM_E_NOMEM, "out of memory");
		if (k->secret)
			free_secret_str(*slot);
		else
			free(*slot);
		*slot = dup;
		return FARM_OK;
	}
	case FARM_CONF_BOOL: {
		int b;
		if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
			b = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "false") ||
			 !strcmp(v, "0"))
			b = 0;
		else
			return farm_error_set(err, FARM_E_CONFIG, "%s: expected yes or no", k->name);
		*(int *)(base + k->offset) = b;
		return FARM_OK;
	}
	case FARM_CONF_INT:
	case FARM_CONF_SIZE:
		if (parse_long(v, &n, k->type == FARM_CONF_SIZE) < 0)
			return farm_error_set(err, FARM_E_CONFIG, "%s: expected a %s", k->name,
					      k->type == FARM_CONF_SIZE ? "size (e.g. 512K, 1M)"
									: "whole number");
		if (n < k->min || n > k->max)
			return farm_error_set(err, FARM_E_CONFIG, "%s: %ld is outside %ld..%ld",
					      k->name, n, k->min, k->max);
		*(long *)(base + k->offset) = n;
		return FARM_OK;
	}
	return farm_error_set(err, FARM_E_CONFIG, "%s: bad type", k->name);
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
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (conf_apply(c, &conf_keys[i], conf_keys[i].def, &e) != FARM_OK)
			return e.code;
	return FARM_OK;
}

void farm_conf_free(struct farm_conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		if (conf_keys[i].type != FARM_CONF_STR)
			continue;
		char **slot = (char **)((char *)c + conf_keys[i].offset);
		if (conf_keys[i].secret)
			free_secret_str(*slot);
		else
			free(*slot);
		*slot = NULL;
	}
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

	if (!fp) {
		if (err)
			err->sys_errno = errno;
		return farm_error_set(err, FARM_E_CONFIG, "%s: cannot open: %s", path,
				      strerror(errno));
	}
	while (fgets(line, sizeof(line), fp)) {
		char *s, *eq, *key, *val;
		const struct farm_conf_key *k;
		struct farm_error e = {0};

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
		/* Values may be quoted to keep leading/trailing spaces or a '#'. */
		if (val[0] == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		k = conf_find(key, strlen(key));
		if (!k) {
			rc = farm_error_set(err, FARM_E_CONFIG, "%s:%d: unknown key '%s'", path,
					    lineno, key);
			goto out;
		}
		if (conf_apply(c, k, val, &e) != FARM_OK) {
			rc = farm_error_set(err, FARM_E_CONFIG, "%s:%d: %s", path, lineno, e.msg);
			goto out;
		}
	}
out:
	explicit_bzero(line, sizeof(line));
	fclose(fp);
	return rc;
}

int farm_conf_load_env(struct farm_conf *c, char **envp, struct farm_error *err)
{
	if (!envp)
		envp = environ;
	for (; *envp; envp++) {
		const char *ent = *envp, *eq = strchr(ent, '=');
		char name[128];
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
		if (len == 0 || len >= sizeof(name))
			continue;
		/* FARM_<KEY>: lower case, '_' may stand for '.' or '_'; match against the table. */
		for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
			const char *kn = conf_keys[i].name;
			size_t j;
			if (strlen(kn) != len)
				continue;
			for (j = 0; j < len; j++) {
				char e = (char)tolower((unsigned char)ent[5 + j]);
				char want = kn[j] == '.' ? '_' : kn[j];
				if (e != want)
					break;
			}
			if (j == len) {
				struct farm_error e = {0};
				if (conf_apply(c, &conf_keys[i], eq + 1, &e) != FARM_OK)
					return farm_error_set(err, FARM_E_CONFIG,
							      "environment %.*s: %s",
							      (int)(eq - ent), ent, e.msg);
				break;
			}
		}
		/* Unknown FARM_* variables (FARM_PORT, FARM_CONFIG ...) belong to the
		 * scripts, not the daemons: ignored. */
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

static int conf_level_ok(const char *s)
{
	return (!strcmp(s, "error") || !strcmp(s, "warn") || !strcmp(s, "info") ||
		!strcmp(s, "debug"))
		       ? 0
		       : -1;
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
	if (c->log_level && conf_level_ok(c->log_level) < 0)
		return farm_error_set(err, FARM_E_CONFIG, "log_level: expected error, warn, info or debug");
	return FARM_OK;
}

void farm_conf_dump(const struct farm_conf *c, void *fpv)
{
	FILE *fp = fpv;

	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		const struct farm_conf_key *k = &conf_keys[i];
		const char *base = (const char *)c;
		switch (k->type) {
		case FARM_CONF_STR: {
			const char *v = *(char *const *)(base + k->offset);
			if (k->secret)
				v = v && *v ? "(set)" : "";
			fprintf(fp, "%s = %s\n", k->name, v ? v : "");
			break;
		}
		case FARM_CONF_BOOL:
			fprintf(fp, "%s = %s\n", k->name,
				*(const int *)(base + k->offset) ? "yes" : "no");
			break;
		default:
			fprintf(fp, "%s = %ld\n", k->name, *(const long *)(base + k->offset));
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
