/* farmctl-repl.c - `farmctl replication status`: this node's place in its replication
 * group (docs/replication.md), read from the environment's shared regions without
 * starting repmgr in farmctl. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "farmctl.h"
#include "store.h"
#include "banned.h"

int farmctl_replication(const char *conf_path, int argc, char **argv)
{
	struct farm_conf c;
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	struct farm_repl_status st;
	int json = 0, rc = 1;

	if (argc == 3 && !strcmp(argv[1], "remove"))
		return farmctl_replication_remove(conf_path, argv[2]);
	if (argc >= 3 && !strcmp(argv[2], "--json"))
		json = 1;
	if (argc < 2 || strcmp(argv[1], "status") != 0 || argc > 2 + json) {
		printf("usage: farmctl replication status [--json] | replication remove HOST:PORT\n"
		       "  this node's role (master, replica, none), the master it follows, how far\n"
		       "  its log reaches (file/offset), and the sites of its group (which of\n"
		       "  them the node reaches: GET /api/v1/health, replication.peers)\n"
		       "  remove: takes the site HOST:PORT (a stopped node) out of the group's\n"
		       "  membership, so that elections and quorum acks no longer count it\n");
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (!farm_store_repl_on()) {
		printf("replication: off (replication.local is not set)\n");
		farm_conf_free(&c);
		return 0;
	}
	if (farm_store_open(&s, c.state_dir, FARM_STORE_REPL_PASSIVE, &err) != FARM_OK) {
		fprintf(stderr, "farmctl: %s\n", err.msg);
		goto out;
	}
	if (farm_store_repl_status(s, &st) != FARM_OK) {
		fprintf(stderr, "farmctl: cannot read the replication state\n");
		goto out;
	}
	if (json) {
		json_t *peers = json_array(), *j;
		char lsn[32];

		snprintf(lsn, sizeof(lsn), "%u/%u", (unsigned)st.lsn_file, (unsigned)st.lsn_offset);
		for (int i = 0; i < st.npeers; i++)
			json_array_append_new(peers, json_pack("{s:s}", "site", st.peers[i].addr));
		j = json_pack("{s:s,s:s,s:s?,s:b,s:b,s:b,s:s,s:I,s:I,s:o}", "role",
			      farm_repl_role_name(st.role), "site", st.local, "master",
			      *st.master ? st.master : NULL, "writable", st.role == FARM_REPL_MASTER,
			      "caughtUp", st.role == FARM_REPL_MASTER || st.startup_done, "listener",
			      st.listener, "lsn", lsn, "generation", (json_int_t)st.generation,
			      "elections", (json_int_t)st.elections, "peers", peers);
		if (j) {
			json_dumpf(j, stdout, JSON_INDENT(2));
			putchar('\n');
			json_decref(j);
		}
	} else {
		printf("role: %s\nsite: %s\nmaster: %s\nwritable: %s\ncaught up: %s\n"
		       "replication process: %s\nlsn: %u/%u\ngeneration: %u\nelections: %u\n",
		       farm_repl_role_name(st.role), st.local, *st.master ? st.master : "(none)",
		       st.role == FARM_REPL_MASTER ? "yes" : "no",
		       st.role == FARM_REPL_MASTER || st.startup_done ? "yes" : "no",
		       st.listener ? "running" : "not running", (unsigned)st.lsn_file,
		       (unsigned)st.lsn_offset, (unsigned)st.generation, (unsigned)st.elections);
		for (int i = 0; i < st.npeers; i++)
			printf("peer: %s\n", st.peers[i].addr);
	}
	rc = 0;
out:
	farm_store_close(s);
	farm_conf_free(&c);
	return rc;
}
