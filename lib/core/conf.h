/* conf.h - farm's configuration: one typed table of keys (conf.c), loaded from a
 * `key = value` file, then overridden by FARM_<KEY> environment variables
 * (upper case, '.' → '_'), JWT_SECRET included.  Every key and default is listed
 * in farm.conf(5) and the README.
 */
#ifndef FARM_CONF_H
#define FARM_CONF_H

#include <stddef.h>

#include "err.h"

struct farm_conf {
	char *listen;             /* unix:/path or 127.0.0.1:port; empty = fd 0 */
	char *listen_mode;        /* octal mode of a unix socket, "0660" */
	long workers, threads, max_requests;
	long threads_running;     /* threads of a worker running request code at once; 0 = auto */
	char *state_dir;
	char *jwt_secret;         /* secret: never logged */
	char *jwt_secret_file;
	char *master_key_file;    /* optional HKDF input instead of jwt_secret */
	long body_limit;
	long upstream_connect_timeout, upstream_timeout, upstream_max_body;
	long cache_ttl, cache_size;
	int upstream_allow_loopback; /* providers may reach 127.0.0.0/8 and ::1 */
	char *upstream_ca_file;      /* extra CA bundle for platform TLS; empty = system store */
	char *pipelines_workspace_root;
	long pipelines_stage_timeout; /* seconds, when a stage sets none */
	char *circleci_api_url, *travisci_api_url;
	char *webhook_circleci_secret;   /* secret */
	char *webhook_jenkins_token;     /* secret */
	char *webhook_argocd_token;      /* secret */
	char *webhook_travisci_public_key_file;
	long events_history;
	char *events_push;        /* ZeroMQ endpoint eventd pulls nudges from */
	char *events_pub;         /* ZeroMQ endpoint eventd publishes on */
	char *wsd_listen;         /* host:port the WebSocket bridge listens on */
	long wsd_ping_interval;   /* seconds of silence before the bridge pings */
	long webhook_dedupe_ttl;  /* seconds redelivery keys are kept (0 = for ever) */
	long request_slowlog_timeout, request_terminate_timeout;
	long checkpoint_interval;
	long argocd_poll_interval;
	char *log_level;
	char *log_file;           /* empty = stderr; else appended to, reopened on SIGUSR1 */
	long emergency_restart_threshold, emergency_restart_interval;
	int sync_commit;          /* 0 = DB_TXN_WRITE_NOSYNC (benchmarks only) */
	int debug_routes;         /* test-only routes (/api/v1/__debug/...) */
};

/* Fills every field with its default (strings are new; free with farm_conf_free). */
int farm_conf_init(struct farm_conf *c);
/* Frees the strings held (wiping secrets).  NULL-safe. */
void farm_conf_free(struct farm_conf *c);

/* The whole sequence every program uses: defaults, then `path` (NULL: none), then
 * the environment, then farm_conf_finish.  On failure *c is freed and err->msg says
 * what is wrong. */
int farm_conf_load(struct farm_conf *c, const char *path, struct farm_error *err);

/* Reads a file; on error err->msg is "path:line: what is wrong". */
int farm_conf_load_file(struct farm_conf *c, const char *path, struct farm_error *err);
/* Applies FARM_<KEY> and JWT_SECRET from `envp` (NULL = environ). */
int farm_conf_load_env(struct farm_conf *c, char **envp, struct farm_error *err);
/* Sets one key from text, checking type and bounds. */
int farm_conf_set(struct farm_conf *c, const char *key, const char *value, struct farm_error *err);
/* Cross-key checks and reading jwt_secret_file; after this, jwt_secret is set. */
int farm_conf_finish(struct farm_conf *c, struct farm_error *err);

/* Prints every key with its value (secrets shown as "(set)") to `fp` (a FILE *). */
void farm_conf_dump(const struct farm_conf *c, void *fp);

/* A key's type.  INT, SIZE and BOOL are stored as long/long/int; every other type is
 * a string (char *) whose shape is checked when it is set, by the file, the
 * environment or -t alike, wherever the key is declared. */
enum farm_conf_type {
	FARM_CONF_STR,      /* any text */
	FARM_CONF_INT,      /* whole number within min..max */
	FARM_CONF_SIZE,     /* bytes, with an optional K, M or G suffix, within min..max */
	FARM_CONF_BOOL,     /* yes/no, on/off, true/false, 1/0 */
	FARM_CONF_URL,      /* http(s)://host[:port][/path]: no user info, query or fragment */
	FARM_CONF_ZMQ,      /* ZeroMQ endpoint: ipc:///abs/path, tcp://host:port, inproc://name;
			     * empty = none */
	FARM_CONF_LISTEN,   /* unix:/abs/path, IPv4:port, or empty (the socket on fd 0) */
	FARM_CONF_HOSTPORT, /* host:port ([v6]:port); empty = none */
	FARM_CONF_LOOPBACK, /* host:port on a loopback address (127.x, ::1, localhost);
			     * empty = none */
	FARM_CONF_MODE,     /* octal permission bits, 0000..0777 */
	FARM_CONF_PATH,     /* absolute path; empty = unset */
	FARM_CONF_LEVEL,    /* error, warn, info or debug */
};

/* 1 when a key of type `t` holds a string (char *), 0 for numbers and booleans. */
int farm_conf_type_is_str(enum farm_conf_type t);
/* The type's name as farm.conf(5) and `farmctl config keys` show it (static). */
const char *farm_conf_type_name(enum farm_conf_type t);
/* Checks `v` against the shape of type `t` (not bounds: those are the key's).  0, or
 * -1 with a short reason ("expected unix:/path or IPv4:port") in why. */
int farm_conf_check(enum farm_conf_type t, const char *v, char *why, size_t cap);
/* Splits "host:port" / "[v6]:port" (a FARM_CONF_HOSTPORT or _LOOPBACK value).
 * 0, or -1 when the text is not host:port. */
int farm_conf_hostport(const char *s, char *host, size_t hcap, int *port);

/* The table, for docs and `farmctl config keys`. */
struct farm_conf_key {
	const char *name;
	enum farm_conf_type type;
	size_t offset;
	long min, max;
	const char *def;
	int secret;
	const char *doc;
};
const struct farm_conf_key *farm_conf_keys(size_t *n);

#endif
