/* conf.h - farm's configuration: one typed table of keys (conf.c), loaded from a
 * `key = value` file, then overridden by FARM_<KEY> environment variables
 * (upper case, '.' → '_'), JWT_SECRET included.  Every key and default is listed
 * in farm.conf(5) and the README.  The keys of farm itself are fields of struct
 * farm_conf; the keys a program adds at start-up (farm_conf_register: a platform's
 * "<type>.api_url", "webhook.<type>.secret", ...) are kept by name and read with
 * farm_conf_str / farm_conf_num.
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
	long runs_log_max;        /* bytes of a run log GET /runs/.../log answers */
	int runs_index;           /* GET /runs from the runs index (else the history scan) */
	int upstream_allow_loopback; /* providers may reach 127.0.0.0/8 and ::1 */
	char *upstream_ca_file;      /* extra CA bundle for platform TLS; empty = system store */
	char *pipelines_workspace_root;
	long pipelines_stage_timeout; /* seconds, when a stage sets none */
	long poll_interval, poll_max_age; /* watched runs (watch.h): seconds between reads, longest watch */
	int audit_enabled;        /* 0: no audit records (bench-audit's reference run only) */
	long audit_retention_days; /* 0 = for ever */
	char *repl_local;         /* replication.local host:port; empty = one node */
	char *repl_peers;         /* replication.peers host:port,... */
	long repl_priority;
	char *repl_ack_policy;    /* quorum, all, ... (lib/store/store-repl.c) */
	long repl_ack_timeout;    /* milliseconds */
	int repl_join, repl_2site_strict;
	long events_history;
	char *events_push;        /* ZeroMQ endpoint eventd pulls nudges from */
	char *events_pub;         /* ZeroMQ endpoint eventd publishes on */
	char *wsd_listen;         /* host:port the WebSocket bridge listens on */
	long wsd_ping_interval;   /* seconds of silence before the bridge pings */
	long wsd_send_timeout;    /* seconds a client's socket may take nothing while events wait */
	long webhook_dedupe_ttl;  /* seconds redelivery keys are kept (0 = for ever) */
	long request_slowlog_timeout, request_terminate_timeout;
	long checkpoint_interval;
	char *log_level;
	char *log_file;           /* empty = stderr; else appended to, reopened on SIGUSR1 */
	long emergency_restart_threshold, emergency_restart_interval;
	int sync_commit;          /* 0 = DB_TXN_WRITE_NOSYNC (benchmarks only) */
	int debug_routes;         /* test-only routes (/api/v1/__debug/...) */
	struct farm_conf_val *ext; /* values of the registered keys, in table order */
	size_t next;
};

/* The value of a registered key (farm_conf_register): by its type, s (strings), n
 * (INT, SIZE) or b (BOOL). */
struct farm_conf_val {
	char *s;
	long n;
	int b;
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
	size_t offset; /* in struct farm_conf; for a registered key, set by farm_conf_register */
	long min, max;
	const char *def;
	int secret;
	const char *doc;
};
/* Every key: farm's own, then the registered ones, in order (the table is valid until
 * the next farm_conf_register). */
const struct farm_conf_key *farm_conf_keys(size_t *n);

/* Adds keys to the table: `rows` ends with a row whose name is NULL and is copied
 * (offset is ignored; the strings are borrowed and must live as long as the program).
 * Once at start-up, before any struct farm_conf is filled (farm_conf_init/_load), by
 * every program that loads the configuration, so that all of them accept the same
 * file.  Registered keys are checked, overridden by FARM_<KEY>, dumped and documented
 * like farm's own.  FARM_OK; FARM_E_EXISTS when a name is already a key (nothing
 * added); FARM_E_NOMEM. */
int farm_conf_register(const struct farm_conf_key *rows);

/* The value of a string-valued key (farm_conf_type_is_str) by name ("<type>.api_url"):
 * for generic code that reads a key a platform descriptor names.  NULL for no such
 * key. */
const char *farm_conf_str(const struct farm_conf *c, const char *key);
/* The value of a number or boolean key by name; 0 for no such key. */
long farm_conf_num(const struct farm_conf *c, const char *key);

#endif
