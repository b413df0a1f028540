/* farmctl.c - the operator's command line: tokens, database care, key rotation.
 *
 *   farmctl [-c FILE] token --sub S [--org O] [--role admin] [--ttl 1h]
 *   farmctl [-c FILE] audit [--org O] [--limit N] [--before ID]
 *   farmctl [-c FILE] config check | config keys [--man]
 *   farmctl [-c FILE] db backup DIR | db verify [DIR] | db recover
 *   farmctl [-c FILE] rotate-key [--master-key-file F]
 *   farmctl [-c FILE] credentials list [--org O]
 *   farmctl [-c FILE] events tail [--org O] [--since ID] [--count N] [--timeout S]
 *
 * Configuration is read exactly as farm-fcgi reads it (file, then FARM_<KEY>); the
 * file is -c, else $FARM_CONFIG, else the first that exists of
 * $FARM_STATE_DIR/farm.conf (when FARM_STATE_DIR is set), FARMCTL_DEFAULT_CONFIG,
 * ./var/farm.conf: the installed farm, or the state dir `make run` (scripts/farm-run)
 * set up, so `build/farmctl token ...` works in a checkout as the README says.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "platform.h"
#include "crypto.h"
#include "daemon.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "farmctl.h"
#include "banned.h"

/* The installed configuration (make install, farm.spec), used when neither -c nor
 * FARM_CONFIG names one and the file exists. */
#ifndef FARMCTL_DEFAULT_CONFIG
#define FARMCTL_DEFAULT_CONFIG "/etc/farm/farm.conf"
#endif

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: farmctl [-c FILE] COMMAND ...\n"
		"commands:\n"
		"  token --sub S [--org O] [--role admin] [--ttl 1h]  mint an API token\n"
		"  audit [--org O] [--limit N] [--before ID]  audit records, newest first\n"
		"  config check                     validate the configuration\n"
		"  config keys [--man]              every key, its default and meaning\n"
		"  db backup DIR                    hot backup of the live database\n"
		"  db verify [DIR]                  verify a backup (default: a fresh one)\n"
		"  db recover                       run recovery (farm stopped)\n"
		"  rotate-key [--master-key-file F] re-seal every credential\n"
		"  credentials list [--org O]       metadata only, never values\n"
		"  events tail [--org O] [--since ID] [--count N]  print events as published\n"
		"  replication status [--json]      role, master and peers of this node\n"
		"  replication remove HOST:PORT     take a stopped node out of the group\n"
		"  -v, --version                    print the version\n"
		"Each command takes --help.  The configuration is -c FILE, else $FARM_CONFIG,\n"
		"else the first that exists of $FARM_STATE_DIR/farm.conf (FARM_STATE_DIR set),\n"
		FARMCTL_DEFAULT_CONFIG ", ./var/farm.conf (make run's state dir).\n");
}

/* Root working on a state_dir that belongs to another user (the packaged `farm`)
 * becomes that user: a database or log file created by root would lock the
 * service out of its own environment. */
static int become_state_owner(const struct farm_conf *c)
{
	struct passwd *pw;
	struct stat st;

	if (geteuid() != 0 || !c->state_dir || stat(c->state_dir, &st) != 0 || st.st_uid == 0)
		return 0;
	pw = getpwuid(st.st_uid);
	if ((pw ? initgroups(pw->pw_name, st.st_gid) : setgroups(0, NULL)) != 0 ||
	    setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0) {
		fprintf(stderr, "farmctl: cannot become uid %ld, the owner of %s: %s\n",
			(long)st.st_uid, c->state_dir, strerror(errno));
		return 1;
	}
	return 0;
}

int farmctl_load_conf(const char *path, struct farm_conf *c)
{
	struct farm_error err = {0};

	if (farm_conf_load(c, path, &err) != FARM_OK || farm_daemon_replication(c, &err) != FARM_OK) {
		fprintf(stderr, "farmctl: %s\n", err.msg[0] ? err.msg : "configuration error");
		return 1;
	}
	if (become_state_owner(c)) {
		farm_conf_free(c);
		return 1;
	}
	return 0;
}

/* Seconds, or -1: a positive number with an optional unit (s, m, h, d) whose exp the
 * API accepts (jwt.h: up to the end of 9999). */
static long parse_ttl(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10), unit, ttl;

	if (end == s || n <= 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	if (__builtin_mul_overflow(n, unit, &ttl) || ttl > FARM_JWT_TIME_MAX - (long)time(NULL))
		return -1;
	return ttl;
}

static int cmd_token(const char *conf_path, int argc, char **argv)
{
	static const struct option opts[] = {{"sub", required_argument, 0, 's'},
					     {"org", required_argument, 0, 'o'},
					     {"role", required_argument, 0, 'r'},
					     {"ttl", required_argument, 0, 't'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *sub = NULL, *org = NULL, *role = NULL;
	long ttl = 3600;
	struct farm_conf c;
	char *tok = NULL;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': sub = optarg; break;
		case 'o': org = optarg; break;
		case 'r': role = optarg; break;
		case 't':
			ttl = parse_ttl(optarg);
			if (ttl < 0) {
				fprintf(stderr, "farmctl token: bad --ttl (e.g. 30m, 1h, 7d)\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: farmctl token --sub S [--org O] [--role admin] [--ttl 1h]\n"
			       "Mints an HS256 API token signed with the configured jwt_secret.\n");
			return 0;
		default: return 2;
		}
	}
	if (!sub) {
		fprintf(stderr, "farmctl token: --sub is required\n");
		return 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	rc = farm_jwt_sign(c.jwt_secret, strlen(c.jwt_secret), sub, org, role, (long long)time(NULL),
			   (long long)time(NULL) + ttl, &tok);
	farm_conf_free(&c);
	if (rc) {
		fprintf(stderr, "farmctl token: %s\n", farm_strerror(rc));
		return 1;
	}
	printf("%s\n", tok);
	free(tok);
	return 0;
}

static const char *key_type(const struct farm_conf_key *k)
{
	return farm_conf_type_name(k->type);
}

/* FARM_<KEY>: upper case, '.' -> '_'. */
static void env_name(const char *key, char *out, size_t cap)
{
	size_t o = (size_t)snprintf(out, cap, "FARM_");

	for (size_t i = 0; key[i] && o + 1 < cap; i++)
		out[o++] = key[i] == '.' ? '_'
			   : (char)(key[i] >= 'a' && key[i] <= 'z' ? key[i] - 32 : key[i]);
	out[o < cap ? o : cap - 1] = '\0';
}

/* Writes s for troff: a leading '.' or '\'' is escaped, '\\' doubled, '-' as \-. */
static void troff_puts(const char *s, FILE *fp)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", fp);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == '-')
			fputs("\\-", fp);
		else
			fputc(*s, fp);
	}
}

/* The key table (lib/core/conf.c), the one source of farm.conf(5)'s key list. */
static int cmd_config_keys(int man)
{
	size_t n;
	const struct farm_conf_key *k = farm_conf_keys(&n);
	char env[128];

	for (size_t i = 0; i < n; i++, k++) {
		env_name(k->name, env, sizeof(env));
		if (!man) {
			printf("%s = %s\t# %s; %s%s\n", k->name, k->def, key_type(k), k->doc,
			       k->secret ? " (secret)" : "");
			continue;
		}
		fputs(".TP\n.B ", stdout);
		troff_puts(k->name, stdout);
		fputs("\n", stdout);
		troff_puts(k->doc, stdout);
		fputs(".\n.br\n", stdout);
		printf("Type: %s", key_type(k));
		if ((k->type == FARM_CONF_INT || k->type == FARM_CONF_SIZE) && k->max == LONG_MAX)
			printf(", at least %ld", k->min);
		else if (k->type == FARM_CONF_INT || k->type == FARM_CONF_SIZE)
			printf(", %ld..%ld", k->min, k->max);
		fputs(". Default: ", stdout);
		if (*k->def) {
			fputs("\\fB", stdout);
			troff_puts(k->def, stdout);
			fputs("\\fR", stdout);
		} else {
			fputs("empty", stdout);
		}
		fputs(". Environment: \\fB", stdout);
		troff_puts(env, stdout);
		fputs("\\fR", stdout);
		if (k->secret)
			fputs(". A secret: never printed by \\fBfarmctl config check\\fR", stdout);
		fputs(".\n", stdout);
	}
	return 0;
}

static int cmd_config(const char *conf_path, int argc, char **argv)
{
	struct farm_conf c;

	if (argc >= 2 && !strcmp(argv[1], "keys") &&
	    (argc == 2 || (argc == 3 && !strcmp(argv[2], "--man"))))
		return cmd_config_keys(argc == 3);
	if (argc < 2 || strcmp(argv[1], "check") != 0 || argc > 2) {
		FILE *fp = argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr;
		fprintf(fp, "usage: farmctl config check | config keys [--man]\n"
			    "  check        load the configuration as farm-fcgi does (file, then\n"
			    "               FARM_<KEY> variables); print every key, secrets\n"
			    "               shown as (set)\n"
			    "  keys         every key with its default, type and meaning\n"
			    "  keys --man   the same as troff, for farm.conf(5)\n");
		return fp == stdout ? 0 : 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	printf("configuration %s is valid\n", conf_path ? conf_path : "(defaults + environment)");
	farm_conf_dump(&c, stdout);
	farm_conf_free(&c);
	return 0;
}

/* Without -c or FARM_CONFIG: $FARM_STATE_DIR/farm.conf (when the variable is set), the
 * installed FARMCTL_DEFAULT_CONFIG, then make run's ./var/farm.conf; NULL when none
 * exists (defaults and the environment only). */
static const char *default_config(char *buf, size_t cap)
{
	const char *sd = getenv("FARM_STATE_DIR");

	if (sd && *sd && (size_t)snprintf(buf, cap, "%s/farm.conf", sd) < cap &&
	    access(buf, F_OK) == 0)
		return buf;
	if (access(FARMCTL_DEFAULT_CONFIG, F_OK) == 0)
		return FARMCTL_DEFAULT_CONFIG;
	if ((!sd || !*sd) && access("var/farm.conf", F_OK) == 0)
		return "var/farm.conf";
	return NULL;
}

int main(int argc, char **argv)
{
	const char *conf_path = getenv("FARM_CONFIG");
	char state_conf[4200];
	int i = 1;

	farm_json_init();
	farm_log_init("farmctl", FARM_LOG_WARN);
	if (farm_platform_conf_register() != FARM_OK) /* the platforms' config keys */
		return 1;
	if (conf_path && !*conf_path)
		conf_path = NULL;
	if (i + 1 < argc && !strcmp(argv[i], "-c")) {
		conf_path = argv[i + 1];
		i += 2;
	}
	if (!conf_path)
		conf_path = default_config(state_conf, sizeof(state_conf));
	if (i < argc && (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--version"))) {
		printf("farmctl %s\n", farm_daemon_version());
		return 0;
	}
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	if (farm_crypto_init() != FARM_OK)
		return 1;
	argc -= i;
	argv += i;
	/* `farmctl CMD ... --help` anywhere after the command: that command's help. */
	for (int a = 1; a < argc; a++)
		if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
			static char help[] = "--help";
			argv[1] = help;
			argc = 2;
			break;
		}
	if (!strcmp(argv[0], "token"))
		return cmd_token(conf_path, argc, argv);
	if (!strcmp(argv[0], "audit"))
		return farmctl_audit(conf_path, argc, argv);
	if (!strcmp(argv[0], "config"))
		return cmd_config(conf_path, argc, argv);
	if (!strcmp(argv[0], "db"))
		return farmctl_db(conf_path, argc, argv);
	if (!strcmp(argv[0], "rotate-key"))
		return farmctl_rotate(conf_path, argc, argv);
	if (!strcmp(argv[0], "credentials"))
		return farmctl_credentials(conf_path, argc, argv);
	if (!strcmp(argv[0], "events"))
		return farmctl_events(conf_path, argc, argv);
	if (!strcmp(argv[0], "replication"))
		return farmctl_replication(conf_path, argc, argv);
	fprintf(stderr, "farmctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
