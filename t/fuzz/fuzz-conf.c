/* fuzz-conf.c - the configuration parsers: the `key = value` file
 * (farm_conf_load_file), the environment (farm_conf_load_env), the cross-key checks
 * (farm_conf_finish) and the dump (farm_conf_dump).
 *
 * Input: a configuration file.  It is read as a file (through a memfd), then its lines
 * are given to farm_conf_load_env as an environment.  Besides "no crash, no leak", it
 * checks the contracts: an error says "path:line: ..." with a line of the input; the
 * dump shows every key once and a secret as "(set)" or nothing; what the dump shows
 * loads again to the same dump.  The platforms' keys are registered first, as every
 * program does, so registered keys are fuzzed too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "platform.h"

#include "banned.h"

static char *dump(const struct farm_conf *c, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	if (!fp)
		abort();
	farm_conf_dump(c, fp);
	if (fclose(fp) != 0)
		abort();
	return buf;
}

/* Every key once, in table order; secrets never shown. */
static void check_dump(const char *d)
{
	size_t n, i;
	const struct farm_conf_key *keys = farm_conf_keys(&n);
	const char *line = d;

	for (i = 0; i < n; i++) {
		size_t klen = strlen(keys[i].name);
		const char *nl = strchr(line, '\n');

		if (!nl || strncmp(line, keys[i].name, klen) != 0 ||
		    strncmp(line + klen, " = ", 3) != 0)
			abort();
		if (keys[i].secret && nl != line + klen + 3 &&
		    ((size_t)(nl - line) != klen + 3 + 5 || strncmp(line + klen + 3, "(set)", 5)))
			abort();
		line = nl + 1;
	}
	if (*line)
		abort();
}

/* A file holding `text`, named "/proc/self/fd/N" in path (cap bytes); the fd. */
static int memfile(const void *text, size_t len, char *path, size_t cap)
{
	int fd = memfd_create("fuzz-conf", MFD_CLOEXEC);

	if (fd < 0 || (len && write(fd, text, len) != (ssize_t)len))
		abort();
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return fd;
}

/* An error names the file and a line the input has. */
static void check_error(const struct farm_error *e, const char *path, const uint8_t *data,
			size_t size)
{
	size_t plen = strlen(path), lines = 1;
	long line;
	char *end;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (strncmp(e->msg, path, plen) != 0 || e->msg[plen] != ':')
		abort();
	line = strtol(e->msg + plen + 1, &end, 10);
	if (line < 1 || (size_t)line > lines || *end != ':')
		abort();
}

/* The dump of a loaded configuration, with secrets (shown as "(set)") left out, loads
 * again to the same dump, unless a value cannot be written back in the file's syntax. */
static void check_reload(const char *d, size_t dlen)
{
	struct farm_conf c;
	struct farm_error e = {0};
	char path[64], *again, *copy, *line, *next;
	size_t alen, n, clen = 0;
	const struct farm_conf_key *keys = farm_conf_keys(&n);
	int fd;

	if (!(copy = malloc(dlen + 1)))
		abort();
	for (line = (char *)d; *line; line = next) {
		size_t i, ll;
		const char *v;

		next = strchr(line, '\n') + 1;
		ll = (size_t)(next - line);
		for (i = 0; i < n; i++)
			if (!strncmp(line, keys[i].name, strlen(keys[i].name)) &&
			    line[strlen(keys[i].name)] == ' ')
				break;
		v = line + strlen(keys[i].name) + 3;
		/* Leading or trailing blanks, or quotes around it, do not survive the file;
		 * nor does a line over the file's limit (4095 bytes). */
		if (keys[i].secret || ll >= 4000 || (v < next - 1 && (v[0] == ' ' || v[0] == '\t' ||
							  v[0] == '"' || next[-2] == ' ' ||
							  next[-2] == '\t' || next[-2] == '\r')))
			continue;
		memcpy(copy + clen, line, ll);
		clen += ll;
	}
	copy[clen] = '\0';
	fd = memfile(copy, clen, path, sizeof(path));
	if (farm_conf_init(&c) != FARM_OK)
		abort();
	if (farm_conf_load_file(&c, path, &e) != FARM_OK)
		abort(); /* the dump is not a valid file */
	again = dump(&c, &alen);
	farm_conf_free(&c);
	close(fd);
	/* Same lines for every key that was written back. */
	for (line = copy; *line; line = next) {
		char *want;

		next = strchr(line, '\n') + 1;
		if (!(want = strndup(line, (size_t)(next - line))))
			abort();
		if (!strstr(again, want))
			abort();
		free(want);
	}
	free(again);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct farm_conf c;
	struct farm_error e = {0};
	char path[64], *text, **envp, *d;
	size_t n = 0, dlen;
	int fd, rc;
	static int registered;

	if (!registered++ && farm_platform_conf_register() != FARM_OK)
		abort();
	fd = memfile(data, size, path, sizeof(path));
	if (farm_conf_init(&c) != FARM_OK)
		abort();
	rc = farm_conf_load_file(&c, path, &e);
	if (rc != FARM_OK) {
		check_error(&e, path, data, size);
	} else {
		d = dump(&c, &dlen);
		check_dump(d);
		check_reload(d, dlen);
		free(d);
		/* jwt_secret_file would read any file the input names. */
		if (!c.jwt_secret_file || !*c.jwt_secret_file)
			farm_conf_finish(&c, &e);
	}
	farm_conf_free(&c);
	close(fd);

	/* The same bytes as an environment, one variable a line. */
	if (!(text = malloc(size + 1)) || !(envp = calloc(size + 2, sizeof(*envp))))
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *s = text, *nl; s; s = nl) {
		if ((nl = strchr(s, '\n')))
			*nl++ = '\0';
		envp[n++] = s;
	}
	envp[n] = NULL;
	if (farm_conf_init(&c) != FARM_OK)
		abort();
	if (farm_conf_load_env(&c, envp, &e) == FARM_OK) {
		d = dump(&c, &dlen);
		check_dump(d);
		free(d);
	}
	farm_conf_free(&c);
	free(envp);
	free(text);
	return 0;
}
