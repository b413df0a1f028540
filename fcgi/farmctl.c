/* farmctl.c - the operator's command line: tokens, database care, key rotation.
 *
 *   farmctl [-c FILE] token --sub S [--org O] [--role admin] [--ttl 1h]
 *   farmctl [-c FILE] config check
 *   farmctl [-c FILE] db backup DIR | db verify [DIR] | db recover
 *   farmctl [-c FILE] rotate-key [--master-key-file F]
 *   farmctl [-c FILE] credentials list [--org O]
 *
 * Configuration is read exactly as farm-fcgi reads it (file, then FARM_<KEY>).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "crypto.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "farmctl.h"
#include "banned.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: farmctl [-c FILE] COMMAND ...\n"
		"commands:\n"
		"  token --sub S [--org O] [--role admin] [--ttl 1h]   mint an API token\n"
		"  config check                                         validate the configuration\n"
		"  db backup DIR                                        hot backup of the live database\n"
		"  db verify [DIR]                                      verify a backup (default: a fresh one)\n"
		"  db recover                                           run recovery (farm stopped)\n"
		"  rotate-key [--master-key-file F]                     re-seal every credential\n"
		"  credentials list [--org O]                           metadata only, never values\n"
		"  events tail [--since ID]                             print events as they are published\n"
		"Each command takes --help.\n");
}

int farmctl_load_conf(const char *path, struct farm_conf *c)
{
	struct farm_error err = {0};

	if (farm_conf_init(c) || (path && farm_conf_load_file(c, path, &err)) ||
	    farm_conf_load_env(c, NULL, &err) || farm_conf_finish(c, &err)) {
		fprintf(stderr, "farmctl: %s\n", err.msg[0] ? err.msg : "configuration error");
		return 1;
	}
	return 0;
}

static long parse_ttl(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (end == s || n <= 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's': return n;
	case 'm': return n * 60;
	case 'h': return n * 3600;
	case 'd': return n * 86400;
	default: return -1;
	}
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

static int cmd_config(const char *conf_path, int argc, char **argv)
{
	struct farm_conf c;

	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: farmctl config check\n");
		return 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	printf("configuration %s is valid\n", conf_path ? conf_path : "(defaults + environment)");
	farm_conf_dump(&c, stdout);
	farm_conf_free(&c);
	return 0;
}

int main(int argc, char **argv)
{
	const char *conf_path = getenv("FARM_CONFIG");
	int i = 1;

	farm_json_init();
	farm_log_init("farmctl", FARM_LOG_WARN);
	if (conf_path && !*conf_path)
		conf_path = NULL;
	if (i + 1 < argc && !strcmp(argv[i], "-c")) {
		conf_path = argv[i + 1];
		i += 2;
	}
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	if (farm_crypto_init() != FARM_OK)
		return 1;
	argc -= i;
	argv += i;
	if (!strcmp(argv[0], "token"))
		return cmd_token(conf_path, argc, argv);
	if (!strcmp(argv[0], "config"))
		return cmd_config(conf_path, argc, argv);
	if (!strcmp(argv[0], "db"))
		return farmctl_db(conf_path, argc, argv);
	if (!strcmp(argv[0], "rotate-key"))
		return farmctl_rotate(conf_path, argc, argv);
	if (!strcmp(argv[0], "credentials"))
		return farmctl_credentials(conf_path, argc, argv);
	fprintf(stderr, "farmctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
