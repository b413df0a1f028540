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

/* Keys a program adds at start-up, as lib/platform adds the platforms' (generic: this
 * test knows no platform). */
static const struct farm_conf_key demo_rows[] = {
	{"demo.api_url", FARM_CONF_URL, 0, 0, 0, "https://demo.example", 0, "Demo API base"},
	{"webhook.demo.secret", FARM_CONF_STR, 0, 0, 0, "", 1, "secret of POST /webhooks/demo"},
	{"demo.count", FARM_CONF_INT, 0, 1, 9, "3", 0, "a bounded number"},
	{"demo.on", FARM_CONF_BOOL, 0, 0, 1, "no", 0, "a switch"},
	{NULL, 0, 0, 0, 0, NULL, 0, NULL},
};

static void test_registered(void)
{
	static const struct farm_conf_key dup[] = {
		{"workers", FARM_CONF_INT, 0, 1, 2, "1", 0, "again"},
		{NULL, 0, 0, 0, 0, NULL, 0, NULL},
	};
	struct farm_conf c;
	struct farm_error e = {0};
	char *env[] = {"FARM_DEMO_API_URL=http://127.0.0.1:9/x", "FARM_WEBHOOK_DEMO_SECRET=s3cr3t",
		       "FARM_DEMO_COUNT=7", "FARM_DEMO_ON=yes", NULL};
	char *typo[] = {"FARM_DEMO_CUONT=7", NULL};
	char *bad[] = {"FARM_DEMO_API_URL=ftp://x", NULL};
	char buf[4096] = "";
	size_t n, found = 0;
	const struct farm_conf_key *k = farm_conf_keys(&n);
	FILE *fp;

	for (size_t i = 0; i < n; i++)
		found += !strcmp(k[i].name, "demo.api_url") && k[i].type == FARM_CONF_URL;
	ok(found == 1, "registered: demo.api_url is in the table, typed URL");
	ok(farm_conf_register(dup) == FARM_E_EXISTS, "registered: a second 'workers' refused");
	ok(farm_conf_init(&c) == FARM_OK, "registered: defaults load");
	is_str(farm_conf_str(&c, "demo.api_url"), "https://demo.example", "registered: string default");
	is_int(farm_conf_num(&c, "demo.count"), 3, "registered: number default");
	is_int(farm_conf_num(&c, "demo.on"), 0, "registered: boolean default");
	ok(farm_conf_load_env(&c, env, &e) == FARM_OK, "registered: FARM_<KEY> overrides");
	is_str(farm_conf_str(&c, "demo.api_url"), "http://127.0.0.1:9/x", "registered: URL overridden");
	is_str(farm_conf_str(&c, "webhook.demo.secret"), "s3cr3t", "registered: secret overridden");
	is_int(farm_conf_num(&c, "demo.count"), 7, "registered: number overridden");
	is_int(farm_conf_num(&c, "demo.on"), 1, "registered: boolean overridden");
	ok(farm_conf_load_env(&c, typo, &e) == FARM_E_CONFIG && strstr(e.msg, "FARM_DEMO_COUNT"),
	   "registered: a misspelt FARM_ variable names the registered key");
	ok(farm_conf_load_env(&c, bad, &e) == FARM_E_CONFIG && strstr(e.msg, "demo.api_url: expected"),
	   "registered: the type is checked");
	ok(farm_conf_set(&c, "demo.count", "10", &e) == FARM_E_CONFIG && strstr(e.msg, "outside 1..9"),
	   "registered: bounds are checked");
	if ((fp = fmemopen(buf, sizeof(buf) - 1, "w"))) {
		farm_conf_dump(&c, fp);
		fclose(fp);
	}
	ok(strstr(buf, "\ndemo.api_url = http://127.0.0.1:9/x\n") &&
		   strstr(buf, "\nwebhook.demo.secret = (set)\n") && !strstr(buf, "s3cr3t") &&
		   strstr(buf, "\ndemo.on = yes\n"),
	   "registered: dumped, the secret as (set)");
	farm_conf_free(&c);
	ok(c.ext == NULL, "registered: freed");
}

int main(void)
{
	struct farm_conf c;
	struct farm_error e = {0};
	const char *p;

	ok(farm_conf_register(demo_rows) == FARM_OK, "keys registered before loading");
	test_registered();
	ok(farm_conf_init(&c) == FARM_OK, "defaults load");
	is_int(c.workers, 2, "workers default");
	is_int(c.body_limit, 1024 * 1024, "body_limit default 1 MiB");
	is_int(c.events_history, 10000, "events.history default");
	is_int(c.sync_commit, 1, "sync commits by default");

	p = write_file("# comment\n\nworkers = 4\nbody_limit = 512K\n"
		       "webhook.demo.secret = \" spaced # secret \"\ncache.ttl=0\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_OK, "file loads");
	is_int(c.workers, 4, "workers from file");
	is_int(c.body_limit, 512 * 1024, "size suffix K");
	is_str(farm_conf_str(&c, "webhook.demo.secret"), " spaced # secret ", "quoted value kept whole");
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
	/* Typed values: the shape of each type, wherever a key of that type is set. */
	{
		static const struct {
			enum farm_conf_type t;
			const char *v;
			int good;
		} cases[] = {
			{FARM_CONF_URL, "https://circleci.com", 1},
			{FARM_CONF_URL, "http://127.0.0.1:8080/api", 1},
			{FARM_CONF_URL, "https://[::1]:443", 1},
			{FARM_CONF_URL, "circleci.com", 0},
			{FARM_CONF_URL, "ftp://circleci.com", 0},
			{FARM_CONF_URL, "https://", 0},
			{FARM_CONF_URL, "https://circleci.com:99999", 0},
			{FARM_CONF_URL, "https://circleci.com:0", 0},
			{FARM_CONF_URL, "https://u:p@circleci.com", 0},
			{FARM_CONF_URL, "https://circleci.com/?x=1", 0},
			{FARM_CONF_URL, "https://circleci.com/#f", 0},
			{FARM_CONF_URL, "https://circle ci.com", 0},
			{FARM_CONF_URL, "", 0},
			{FARM_CONF_ZMQ, "ipc:///run/farm/eventd.sock", 1},
			{FARM_CONF_ZMQ, "tcp://127.0.0.1:5555", 1},
			{FARM_CONF_ZMQ, "inproc://x", 1},
			{FARM_CONF_ZMQ, "", 1},
			{FARM_CONF_ZMQ, "/run/x.sock", 0},
			{FARM_CONF_ZMQ, "ipc://relative.sock", 0},
			{FARM_CONF_ZMQ, "tcp://127.0.0.1", 0},
			{FARM_CONF_LISTEN, "unix:/run/farm/farm.sock", 1},
			{FARM_CONF_LISTEN, "127.0.0.1:9000", 1},
			{FARM_CONF_LISTEN, "", 1},
			{FARM_CONF_LISTEN, "tcp://0.0.0.0:9000", 0},
			{FARM_CONF_LISTEN, "unix:farm.sock", 0},
			{FARM_CONF_LISTEN, "localhost:9000", 0},
			{FARM_CONF_LISTEN, "127.0.0.1:70000", 0},
			{FARM_CONF_HOSTPORT, "10.0.0.1:8091", 1},
			{FARM_CONF_HOSTPORT, "[::1]:8091", 1},
			{FARM_CONF_HOSTPORT, "8091", 0},
			{FARM_CONF_HOSTPORT, "", 1},
			{FARM_CONF_HOSTPORT, "::1:8091", 0},
			{FARM_CONF_LOOPBACK, "127.0.0.1:8091", 1},
			{FARM_CONF_LOOPBACK, "localhost:8091", 1},
			{FARM_CONF_LOOPBACK, "[::1]:8091", 1},
			{FARM_CONF_LOOPBACK, "0.0.0.0:8091", 0},
			{FARM_CONF_MODE, "0660", 1},
			{FARM_CONF_MODE, "600", 1},
			{FARM_CONF_MODE, "rw", 0},
			{FARM_CONF_MODE, "0999", 0},
			{FARM_CONF_MODE, "07777", 0},
			{FARM_CONF_PATH, "/var/lib/farm", 1},
			{FARM_CONF_PATH, "", 1},
			{FARM_CONF_PATH, "var/lib/farm", 0},
			{FARM_CONF_LEVEL, "debug", 1},
			{FARM_CONF_LEVEL, "loud", 0},
		};
		int all = 1;
		char why[128];
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			int got = farm_conf_check(cases[i].t, cases[i].v, why, sizeof(why)) == 0;
			if (got != cases[i].good) {
				diag("%s '%s': %s", farm_conf_type_name(cases[i].t), cases[i].v,
				     got ? "accepted" : why);
				all = 0;
			}
		}
		ok(all, "every type accepts its shape and refuses the rest");
	}
	{
		char host[64];
		int port = 0;
		ok(farm_conf_hostport("[::1]:8091", host, sizeof(host), &port) == 0 &&
			   !strcmp(host, "::1") && port == 8091,
		   "host:port splits a bracketed v6 address");
	}
	ok(farm_conf_set(&c, "demo.api_url", "circleci.com", &e) == FARM_E_CONFIG &&
		   strstr(e.msg, "demo.api_url: expected an http"),
	   "a URL key refuses a bare host name");
	ok(farm_conf_set(&c, "events.push", "/run/x.sock", &e) == FARM_E_CONFIG,
	   "a ZeroMQ key refuses a path");
	ok(farm_conf_set(&c, "state_dir", "var", &e) == FARM_E_CONFIG &&
		   strstr(e.msg, "absolute path"),
	   "a relative state_dir is refused");
	ok(farm_conf_set(&c, "log_level", "loud", &e) == FARM_E_CONFIG, "log_level is a level");

	p = write_file("workers = 2\nthreads = 4\n# again\nworkers = 3\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_E_CONFIG &&
		   strstr(e.msg, ":4: duplicate key 'workers' (first set on line 1)"),
	   "a duplicate key is refused with both lines");
	unlink(p);
	p = write_file("log_level = info\nwebhook.demo.secret = \"abc\nworkers = 3\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_E_CONFIG &&
		   strstr(e.msg, ":2: webhook.demo.secret: unclosed quote"),
	   "an unclosed quote names its line and its key");
	ok(!strstr(e.msg, "abc"), "the message does not quote the (secret) value");
	unlink(p);
	p = write_file("wsd.listen = \"127.0.0.1:8091\"\n");
	ok(farm_conf_load_file(&c, p, &e) == FARM_OK && !strcmp(c.wsd_listen, "127.0.0.1:8091"),
	   "a quoted value is checked without its quotes");
	unlink(p);
	{
		char *env[] = {"FARM_STATE_DIR=./rel/db", NULL}, cwd[4096], want[4200];
		if (!getcwd(cwd, sizeof(cwd)))
			cwd[0] = '\0';
		snprintf(want, sizeof(want), "%s/rel/db", cwd);
		ok(farm_conf_load_env(&c, env, &e) == FARM_OK, "a relative path in the environment");
		is_str(c.state_dir, want, "  ... is the current directory's");
	}
	{
		char *env[] = {"FARM_WORKRES=3", NULL};
		ok(farm_conf_load_env(&c, env, &e) == FARM_E_CONFIG &&
			   strstr(e.msg, "FARM_WORKRES: not a configuration key (did you mean "
					 "FARM_WORKERS?)"),
		   "a misspelt FARM_ variable is refused with the key it resembles");
	}
	{
		char *env[] = {"FARM_WEBHOOK_CIRCLECI_SECRETS=x", NULL};
		ok(farm_conf_load_env(&c, env, &e) == FARM_E_CONFIG, "near a key: refused");
	}
	{
		char *env[] = {"FARM_UPSTREAM_RETRIES=3", NULL};
		ok(farm_conf_load_env(&c, env, &e) == FARM_E_CONFIG &&
			   strstr(e.msg, "FARM_UPSTREAM_RETRIES"),
		   "a key's section with an unknown name: refused");
	}
	{
		char *env[] = {"FARM_PORT=8080", "FARM_CONFIG=/x", "FARM_BUILD=/b", "FARM_QUIET=1",
			       "FARM_RUN_SUPERVISE_EXCEPT=farm-wsd", "FARM_TEST_KEEP=1",
			       "FARM_NGINX_EXTRA_LISTEN=x", "FARM_START_TIMEOUT=5", NULL};
		ok(farm_conf_load_env(&c, env, &e) == FARM_OK,
		   "the scripts' own FARM_ variables are left alone");
	}
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
