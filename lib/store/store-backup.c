/* store-backup.c - hot backup of the live environment (Berkeley DB's own backup, then
 * catastrophic recovery in the copy) and db_verify of a stopped environment's files.
 */
#include "store-int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "banned.h"

/* --- backup, verification, statistics --------------------------------------------- */

/* `dir` must be missing (it is created 0700) or an empty directory. */
static int store_prepare_target(const char *dir, struct farm_error *err)
{
	struct dirent *de;
	DIR *dp;
	int code = FARM_OK;

	if (mkdir(dir, 0700) == 0)
		return FARM_OK;
	if (errno != EEXIST || !(dp = opendir(dir))) {
		code = farm_error_set(err, FARM_E_IO, "store: backup target %s: %s", dir,
				      strerror(errno));
		if (err)
			err->sys_errno = errno;
		return code;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			code = farm_error_set(err, FARM_E_EXISTS,
					      "store: backup target %s is not empty", dir);
			break;
		}
	}
	closedir(dp);
	return code;
}

/* Catastrophic recovery in a private environment on `dir`: replays the copied logs
 * over the copied files so they are consistent, checkpoints, drops unneeded logs. */
static int store_recover_fatal(const char *dir, struct farm_error *err)
{
	DB_ENV *env = NULL;
	const char *what = "db_env_create";
	int rc, crc;

	if ((rc = db_env_create(&env, 0)) != 0)
		goto out;
	env->set_errcall(env, store_errcall);
	env->set_msgcall(env, store_msgcall);
	what = "recover backup";
	rc = env->open(env, dir,
		       DB_CREATE | DB_PRIVATE | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL |
			       DB_INIT_TXN | DB_RECOVER_FATAL,
		       0600);
	if (rc == 0) {
		what = "trim backup logs";
		rc = env->log_archive(env, NULL, DB_ARCH_REMOVE);
	}
	crc = env->close(env, 0);
	env = NULL;
	if (rc == 0) {
		what = "close backup environment";
		rc = crc;
	}
out:
	if (env)
		env->close(env, 0);
	if (rc != 0)
		return farm_error_set(err, store_code(rc) == FARM_E_RECOVER ? FARM_E_DB
									    : store_code(rc),
				      "store: %s %s: %s", what, dir, db_strerror(rc));
	return FARM_OK;
}

int farm_store_backup(struct farm_store *s, const char *target, struct farm_error *err)
{
	int code, rc;

	if (!s || !target || !*target)
		return farm_error_set(err, FARM_E_INVAL, "store: bad backup arguments");
	if ((code = store_prepare_target(target, err)) != FARM_OK)
		return code;
	/* A fresh checkpoint keeps the recovery below short (as db_hotbackup -c does). */
	STORE_LOCKOUT_RETRY(rc, s->env->txn_checkpoint(s->env, 0, 0, 0));
	if (rc == 0)
		STORE_LOCKOUT_RETRY(rc, s->env->backup(s->env, target, 0));
	if (rc != 0)
		return farm_error_set(err, store_code(rc), "store: backup to %s: %s", target,
				      db_strerror(rc));
	return store_recover_fatal(target, err);
}

static int store_is_db_file(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return n > 3 && strcmp(de->d_name + n - 3, ".db") == 0;
}

int farm_store_verify_dir(const char *dir, struct farm_error *err)
{
	struct dirent **names = NULL;
	char path[PATH_MAX];
	const char *first = NULL;
	int n, i, rc, bad = 0, code = FARM_OK;
	DB *db;

	if (!dir || !*dir)
		return farm_error_set(err, FARM_E_INVAL, "store: bad verify arguments");
	if ((n = scandir(dir, &names, store_is_db_file, alphasort)) < 0) {
		code = farm_error_set(err, FARM_E_IO, "store: verify %s: %s", dir,
				      strerror(errno));
		if (err)
			err->sys_errno = errno;
		return code;
	}
	if (n == 0)
		code = farm_error_set(err, FARM_E_NOTFOUND, "store: no database files in %s",
				      dir);
	for (i = 0; i < n; i++) {
		rc = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (rc < 0 || (size_t)rc >= sizeof(path)) {
			rc = ENAMETOOLONG;
		} else if ((rc = db_create(&db, NULL, 0)) == 0) {
			db->set_errcall(db, store_errcall);
			rc = db->verify(db, path, NULL, NULL, 0); /* frees db */
		}
		if (rc != 0 && bad++ == 0) {
			first = names[i]->d_name;
			code = farm_error_set(err, FARM_E_DB, "store: verify failed: %s: %s",
					      first, db_strerror(rc));
		}
	}
	if (bad > 1)
		farm_error_set(err, FARM_E_DB, "store: verify failed: %s (and %d more)", first,
			       bad - 1);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return code;
}

