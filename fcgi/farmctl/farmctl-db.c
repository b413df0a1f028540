/* farmctl-db.c - database care and key rotation from the command line.
 *
 * Backups use the environment's hot-backup procedure (DB_ENV->backup, then
 * catastrophic recovery in the copy); verification always runs on a stopped copy,
 * never on the live files.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "creds.h"
#include "crypto.h"
#include "daemon.h"
#include "farmctl.h"
#include "json.h"
#include "keys.h"
#include "store.h"
#include "banned.h"

static int open_store(const struct farm_conf *c, struct farm_store **s, unsigned flags)
{
	struct farm_error err = {0};

	if (farm_store_open(s, c->state_dir, flags, &err) != FARM_OK) {
		fprintf(stderr, "farmctl: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes a directory farmctl created itself with mkdtemp (no shell involved). */
static int rm_rf(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int farmctl_db(const char *conf_path, int argc, char **argv)
{
	struct farm_conf c;
	struct farm_store *s = NULL;
	struct farm_error err = {0};
	int rc = 1;

	if (argc < 2 || !strcmp(argv[1], "--help")) {
		printf("usage: farmctl db backup DIR | db verify [DIR] | db recover\n"
		       "  backup DIR   hot backup of the live environment into DIR (new or empty)\n"
		       "  verify [DIR] db_verify a backup copy; without DIR, backs up into a\n"
		       "               temporary directory first and verifies that\n"
		       "  recover      run normal recovery (refused while farm runs)\n");
		return argc < 2 ? 2 : 0;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (!strcmp(argv[1], "backup") && argc == 3) {
		if (open_store(&c, &s, 0))
			goto out;
		if (farm_store_backup(s, argv[2], &err) != FARM_OK) {
			fprintf(stderr, "farmctl db backup: %s\n", err.msg);
			goto out;
		}
		printf("backup written to %s\n", argv[2]);
		rc = 0;
	} else if (!strcmp(argv[1], "verify") && argc <= 3) {
		char tmpl[] = "/tmp/farm-verify.XXXXXX";
		const char *dir = argc == 3 ? argv[2] : NULL;
		if (!dir) {
			if (!mkdtemp(tmpl)) {
				perror("farmctl: mkdtemp");
				goto out;
			}
			if (open_store(&c, &s, 0))
				goto out;
			if (farm_store_backup(s, tmpl, &err) != FARM_OK) {
				fprintf(stderr, "farmctl db verify: backup: %s\n", err.msg);
				rm_rf(tmpl);
				goto out;
			}
			dir = tmpl;
		}
		if (farm_store_verify_dir(dir, &err) != FARM_OK) {
			fprintf(stderr, "farmctl db verify: %s\n", err.msg);
		} else {
			printf("database verified: ok (%s)\n", argc == 3 ? dir : "fresh hot backup");
			rc = 0;
		}
		if (dir == tmpl)
			rm_rf(tmpl);
	} else if (!strcmp(argv[1], "recover") && argc == 2) {
		/* Recovery under a running pool or daemon would evict it. */
		static const char *const users[] = {"fcgi", "eventd", "wsd", "runner"};
		for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
			long pid = farm_daemon_lock_holder(c.state_dir, users[i]);
			if (pid > 0) {
				fprintf(stderr, "farmctl db recover: state dir %s in use by pid %ld "
						"(%s.lock): stop farm first\n",
					c.state_dir, pid, users[i]);
				goto out;
			}
		}
		if (open_store(&c, &s, FARM_STORE_MASTER))
			goto out;
		printf("recovery complete\n");
		rc = 0;
	} else {
		fprintf(stderr, "farmctl db: unknown subcommand (try --help)\n");
		rc = 2;
	}
out:
	farm_store_close(s);
	farm_conf_free(&c);
	return rc;
}

/* ---- rotate-key ---- */

struct rotate_ctx {
	struct farm_keyring *old_kr, *new_kr;
	size_t n;
	int failed;
};

struct rec_list {
	char **ids;
	size_t n, cap;
};

static int collect_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	struct rec_list *l = arg;

	(void)val;
	(void)vlen;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		char **ni = realloc(l->ids, nc * sizeof(*ni));
		if (!ni)
			return FARM_E_NOMEM;
		l->ids = ni;
		l->cap = nc;
	}
	l->ids[l->n] = strndup(key, klen);
	if (!l->ids[l->n])
		return FARM_E_NOMEM;
	l->n++;
	return FARM_OK;
}

static int collect_txn(struct farm_txn *t, void *arg)
{
	return farm_txn_scan(t, FARM_T_CREDS, NULL, FARM_SCAN_ALL, collect_cb, arg);
}

struct reseal_arg {
	const char *id;
	struct rotate_ctx *ctx;
};

/* Re-seals one record inside its own transaction: the plaintext lives only in
 * this process's memory, and only between open and seal. */
static int reseal_txn(struct farm_txn *t, void *arg)
{
	struct reseal_arg *a = arg;
	void *val = NULL;
	size_t vlen = 0;
	json_t *rec = NULL, *value = NULL;
	char *org = NULL, *s = NULL;
	int found = 0, rc;

	rc = farm_txn_get_org(t, FARM_T_CREDS, a->id, strlen(a->id), &org, &found);
	if (rc || !found)
		goto out;
	rc = farm_txn_get(t, FARM_T_CREDS, a->id, strlen(a->id), &val, &vlen, 1);
	if (rc)
		goto out;
	rec = json_loadb(val, vlen, 0, NULL);
	if (!rec) {
		rc = FARM_E_DB;
		goto out;
	}
	rc = farm_creds_open(a->ctx->old_kr, rec, &value);
	if (rc)
		goto out;
	rc = farm_creds_seal(a->ctx->new_kr, rec, value);
	if (rc)
		goto out;
	s = json_dumps(rec, JSON_COMPACT);
	rc = s ? farm_txn_put(t, FARM_T_CREDS, a->id, strlen(a->id), org, s, strlen(s), 0)
	       : FARM_E_NOMEM;
out:
	farm_json_free(s);
	json_decref(value);
	json_decref(rec);
	free(val);
	free(org);
	return rc;
}

struct ver_arg {
	unsigned version;
	int set;
};

static int version_txn(struct farm_txn *t, void *arg)
{
	struct ver_arg *v = arg;

	if (v->set)
		return farm_keys_set_version(t, v->version);
	return farm_keys_get_version(t, &v->version);
}

int farmctl_rotate(const char *conf_path, int argc, char **argv)
{
	static const struct option opts[] = {{"master-key-file", required_argument, 0, 'm'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *new_master_file = NULL;
	struct farm_conf c;
	struct farm_store *s = NULL;
	struct rotate_ctx ctx = {0};
	struct rec_list l = {0};
	struct ver_arg ver = {0, 0};
	unsigned char *m_old = NULL, *m_new = NULL;
	size_t l_old = 0, l_new = 0;
	int opt, rc = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'm')
			new_master_file = optarg;
		else if (opt == 'h') {
			printf("usage: farmctl rotate-key [--master-key-file F]\n"
			       "Re-seals every credential under key version N+1.  Without\n"
			       "--master-key-file the new key is derived from the current master\n"
			       "(jwt_secret or master_key_file); with it, from F: then set\n"
			       "master_key_file = F in farm.conf and reload farm.\n");
			return 0;
		} else
			return 2;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (farm_keys_master(&c, &m_old, &l_old) != FARM_OK) {
		fprintf(stderr, "farmctl rotate-key: cannot read the current master key\n");
		goto out;
	}
	if (new_master_file) {
		if (farm_keys_read_file(new_master_file, &m_new, &l_new) != FARM_OK) {
			fprintf(stderr, "farmctl rotate-key: cannot read %s (must exist, mode 0600, "
					"at least 32 bytes)\n",
				new_master_file);
			goto out;
		}
	}
	if (open_store(&c, &s, 0))
		goto out;
	if (farm_store_run(s, version_txn, &ver) != FARM_OK)
		goto out;
	if (farm_keys_keyring(&ctx.old_kr, m_old, l_old, ver.version) != FARM_OK ||
	    farm_keyring_new(&ctx.new_kr, m_new ? m_new : m_old, m_new ? l_new : l_old,
			     ver.version + 1) != FARM_OK)
		goto out;
	if (farm_store_run(s, collect_txn, &l) != FARM_OK)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		struct reseal_arg a = {l.ids[i], &ctx};
		int r = farm_store_run(s, reseal_txn, &a);
		if (r != FARM_OK) {
			fprintf(stderr, "farmctl rotate-key: credential %s: %s\n", l.ids[i],
				farm_strerror(r));
			ctx.failed++;
		} else {
			ctx.n++;
		}
	}
	if (ctx.failed)
		goto out;
	ver.version++;
	ver.set = 1;
	if (farm_store_run(s, version_txn, &ver) != FARM_OK)
		goto out;
	printf("re-sealed %zu credentials under key version %u\n", ctx.n, ver.version);
	rc = 0;
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.ids[i]);
	free(l.ids);
	farm_keyring_free(ctx.old_kr);
	farm_keyring_free(ctx.new_kr);
	farm_crypto_free_secret(m_old, l_old);
	farm_crypto_free_secret(m_new, l_new);
	farm_store_close(s);
	farm_conf_free(&c);
	return rc;
}

/* ---- credentials list ---- */

struct list_arg {
	const char *org;
	int all;
};

static int print_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	json_t *rec = json_loadb(val, vlen, 0, NULL), *pub;
	char *s;

	(void)key;
	(void)klen;
	(void)arg;
	if (!rec)
		return FARM_OK;
	pub = farm_creds_public(rec);
	json_object_set(pub, "keyVersion", json_object_get(rec, "keyVersion"));
	s = json_dumps(pub, JSON_COMPACT);
	if (s)
		printf("%s\n", s);
	farm_json_free(s);
	json_decref(pub);
	json_decref(rec);
	return FARM_OK;
}

static int list_txn(struct farm_txn *t, void *arg)
{
	struct list_arg *a = arg;

	return farm_txn_scan(t, FARM_T_CREDS, a->org, a->all, print_cb, NULL);
}

int farmctl_credentials(const char *conf_path, int argc, char **argv)
{
	struct farm_conf c;
	struct farm_store *s = NULL;
	struct list_arg a = {NULL, 1};
	int rc = 1;

	if (argc < 2 || strcmp(argv[1], "list") != 0) {
		printf("usage: farmctl credentials list [--org O]\n"
		       "Prints one JSON line of metadata per credential; never the value.\n");
		return argc < 2 ? 2 : 0;
	}
	if (argc == 4 && !strcmp(argv[2], "--org")) {
		a.org = argv[3];
		a.all = 0;
	}
	if (farmctl_load_conf(conf_path, &c))
		return 1;
	if (open_store(&c, &s, 0))
		goto out;
	rc = farm_store_run(s, list_txn, &a) == FARM_OK ? 0 : 1;
out:
	farm_store_close(s);
	farm_conf_free(&c);
	return rc;
}
