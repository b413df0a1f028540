/* test-conf.c - the typed configuration table, file parser and overrides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

static const char *write_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/farm-conf-test.XXXXXX");
	fd = mkstemp(path);
	if (write(fd, text, strlen(text)) < 0)
		return NULL;
	close(fd);
	return path;
}

int main(void)
{
	struct farm_conf c;
	struct farm_error e = {0};
	const char *p;

	ok(farm_conf_init(&c) == FARM_OK, "defaults load");
	is_int(c.workers, 2, "workers default");
	is_int(c.body_limit, 1024 * 1024, "body_limit default 1 MiB");
	is_str(c.circleci_api_url, "https://circleci.com", "circleci default");
	is_str(c.travisci_api_url, "https://api.travis-ci.com", "travis default");
	is_int(c.events_history, 10000, "events.history default");
	is_int(c.sync_commit, 1, "sync commits by default");

	p = write_file("# comment\n\nworkers = 4\nbody_limit = 512K\n"
		       "webhook.circleci.secret = \" spaced # secret \"\ncache.ttl=0\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_OK, "file loads");
	is_int(c.workers, 4, "workers from file");
	is_int(c.body_limit, 512 * 1024, "size suffix K");
	is_str(c.webhook_circleci_secret, " spaced # secret ", "quoted value kept whole");
	is_int(c.cache_ttl, 0, "no spaces around '='");
	unlink(p);

	p = write_file("workers = 2\nthreads = many\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_E_CONFIG, "bad integer refused");
	ok(strstr(e.msg, ":2: threads: expected a whole number") != NULL, "message names line 2");
	unlink(p);

	p = write_file("workers = 999\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_E_CONFIG, "out of bounds refused");
	ok(strstr(e.msg, ":1: workers: 999 is outside 1..256") != NULL, "bounds in the message");
	unlink(p);

	p = write_file("nope = 1\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_E_CONFIG && strstr(e.msg, "unknown key 'nope'"),
	   "unknown key refused");
	unlink(p);

	p = write_file("workers\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_E_CONFIG && strstr(e.msg, "expected 'key = value'"),
	   "missing '=' refused");
	unlink(p);

	ok(farm_conf_load_file(&c, "/nonexistent/farm.conf", &e) == FARM_E_CONFIG &&
		   strstr(e.msg, "cannot open"),
	   "missing file reported");

	{
		char *env[] = {"FARM_UPSTREAM_TIMEOUT=7", "FARM_STATE_DIR=/tmp/x",
			       "JWT_SECRET=0123456789abcdef0123", "FARM_PORT=8080", "HOME=/root",
			       "FARM_SYNC_COMMIT=no", NULL};
		ok(farm_conf_load_env(&c, env, &e) == FARM_OK, "environment applies");
		is_int(c.upstream_timeout, 7, "FARM_UPSTREAM_TIMEOUT → upstream.timeout");
		is_str(c.state_dir, "/tmp/x", "FARM_STATE_DIR → state_dir");
		is_str(c.jwt_secret, "0123456789abcdef0123", "JWT_SECRET → jwt_secret");
		is_int(c.sync_commit, 0, "booleans from the environment");
		ok(farm_conf_finish(&c, &e) == FARM_OK, "complete configuration passes");
	}
	{
		char *env[] = {"FARM_WORKERS=zero", NULL};
		ok(farm_conf_load_env(&c, env, &e) == FARM_E_CONFIG && strstr(e.msg, "FARM_WORKERS"),
		   "bad environment value names the variable");
	}
	farm_conf_set(&c, "jwt_secret", "short", &e);
	ok(farm_conf_finish(&c, &e) == FARM_E_CONFIG && strstr(e.msg, "at least 16"),
	   "short secret refused");
	farm_conf_set(&c, "jwt_secret", "", &e);
	p = write_file("supersecretvalue-0123456789\n");
	farm_conf_set(&c, "jwt_secret_file", p, &e);
	chmod(p, 0644);
	ok(farm_conf_finish(&c, &e) == FARM_E_CONFIG && strstr(e.msg, "chmod 600"),
	   "world-readable secret file refused");
	chmod(p, 0600);
	ok(farm_conf_finish(&c, &e) == FARM_OK, "secret file read");
	is_str(c.jwt_secret, "supersecretvalue-0123456789", "secret from file, newline trimmed");
	unlink(p);
	{
		size_t n;
		const struct farm_conf_key *k = farm_conf_keys(&n);
		int documented = 1;
		for (size_t i = 0; i < n; i++)
			if (!k[i].doc || !*k[i].doc)
				documented = 0;
		ok(n > 20 && documented, "every key is documented in the table");
	}
	farm_conf_free(&c);
	ok(c.listen == NULL && c.jwt_secret == NULL && c.state_dir == NULL,
	   "free clears every string (so a second free is harmless)");
	farm_conf_free(&c);
	return done_testing();
}
