/* farmctl-audit.c - `farmctl audit [--org O] [--limit N] [--before ID]`: the audit
 * records (lib/audit/audit.h), newest first, one JSON line each; every org's unless
 * --org names one.  Read from the live environment like `credentials list`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "conf.h"
#include "json.h"
#include "store.h"
#include "farmctl.h"
#include "banned.h"

#define AUDIT_CLI_DEFAULT 50
#define AUDIT_CLI_MAX 1000000

static int number(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (max - (unsigned long long)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	if (v < 1)
		return -1;
	*out = v;
	return 0;
}

static void help(FILE *fp)
{
	fprintf(fp, "usage: farmctl audit [--org O] [--limit N] [--before ID]\n"
		    "Prints audit records newest first, one JSON line each: every org's, or\n"
		    "O's (--org); at most N (default %d); only ids below ID.\n",
		AUDIT_CLI_DEFAULT);
}

int farmctl_audit(const char *conf_path, int argc, char **argv)
{
	static const struct option opts[] = {{"org", required_argument, 0, 'o'},
					     {"limit", required_argument, 0, 'l'},
					     {"before", required_argument, 0, 'b'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	unsigned long long limit = AUDIT_CLI_DEFAULT, before = 0, left;
	const char *org = NULL;
	struct farm_conf c;
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	int o, rc = 1;

	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'o':
			org = optarg;
			break;
		case 'l':
			if (number(optarg, AUDIT_CLI_MAX, &limit)) {
				fprintf(stderr, "farmctl: --limit must be an integer from 1 to %d\n",
					AUDIT_CLI_MAX);
				return 2;
			}
			break;
		case 'b':
			if (number(optarg, INT64_MAX, &before)) {
				fprintf(stderr, "farmctl: --before must be an audit record id\n");
				return 2;
			}
			break;
		case 'h':
			help(stdout);
			return 0;
		default:
			help(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		help(stderr);
		return 2;
	}
	if (org && !*org) {
		fprintf(stderr, "farmctl: --org must not be empty\n");
		return 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (farm_store_open(&s, c.state_dir, 0, &err) != FARM_OK) {
		fprintf(stderr, "farmctl: %s\n", err.msg);
		goto out;
	}
	for (left = limit; left > 0;) {
		size_t want = left > FARM_AUDIT_LIMIT_MAX ? FARM_AUDIT_LIMIT_MAX : (size_t)left;
		json_t *page = NULL, *v;
		uint64_t next = 0;
		size_t i;
		int code = org ? farm_audit_page(s, org, before, want, &page, &next)
			       : farm_audit_page_all(s, before, want, &page, &next);

		if (code != FARM_OK) {
			fprintf(stderr, "farmctl: reading the audit records: %s\n", farm_strerror(code));
			goto out;
		}
		json_array_foreach(page, i, v)
		{
			char *line = json_dumps(v, JSON_COMPACT);
			if (line)
				printf("%s\n", line);
			farm_json_free(line);
		}
		left -= json_array_size(page);
		json_decref(page);
		if (!next)
			break;
		before = next;
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	farm_store_close(s);
	farm_conf_free(&c);
	return rc;
}
