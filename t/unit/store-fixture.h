/* store-fixture.h - scratch Berkeley DB environments for farm's C unit tests that need a
 * real store (test-audit, test-board, test-events, test-pipeline, test-runidx, test-store,
 * test-watch): a temporary directory for the whole test (or for one part of it: init and
 * cleanup pair up), one environment directory per name under it, all removed at the end.
 *
 *   if (fixture_init("board")) return 1;   // $TMPDIR/farm-test-board.XXXXXX, or Bail out!
 *   if (!fixture_store(&s, "env", "store opens")) return;  // fixture_dir/env: an ok() line
 *   ...  farm_store_close(s);
 *   fixture_cleanup();  return done_testing();
 *
 * Header-only like tap.h: each unit test is one object linked with libfarm.a.
 */
#ifndef FARM_STORE_FIXTURE_H
#define FARM_STORE_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"
#include "tap.h"

static char fixture_dir[1024];

static inline int fixture_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* fixture_init(NAME): makes $TMPDIR (or /tmp)/farm-test-NAME.XXXXXX; 0, or -1 after a
 * TAP "Bail out!" line. */
static inline int fixture_init(const char *name)
{
	snprintf(fixture_dir, sizeof(fixture_dir), "%s/farm-test-%s.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
	if (!mkdtemp(fixture_dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* fixture_store(&s, SUB, TEST): opens a master store (no sync) on fixture_dir/SUB, made
 * if need be; the opening is the ok() test named TEST; its result. */
static inline int fixture_store(struct farm_store **s, const char *sub, const char *test)
{
	struct farm_error err = {0};
	char dir[1100];

	snprintf(dir, sizeof(dir), "%s/%s", fixture_dir, sub);
	mkdir(dir, 0700);
	return ok(farm_store_open(s, dir, FARM_STORE_MASTER | FARM_STORE_NOSYNC, &err) == FARM_OK,
		  test);
}

/* fixture_cleanup(): removes fixture_dir and everything under it. */
static inline void fixture_cleanup(void)
{
	nftw(fixture_dir, fixture_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
