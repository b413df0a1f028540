/* replay.c - main() for fuzz targets built without libFuzzer: feeds every file named on
 * the command line (a directory: every regular file in it) to LLVMFuzzerTestOneInput
 * once.  Exits non-zero when an input cannot be read; a crash is the target's to report.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		return 1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				fclose(f);
				return 1;
			}
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		perror(path);
		free(buf);
		fclose(f);
		return 1;
	}
	fclose(f);
	/* an exact-size copy, so reading past the input trips ASan */
	nbuf = malloc(len ? len : 1);
	if (!nbuf) {
		free(buf);
		return 1;
	}
	memcpy(nbuf, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(nbuf, len);
	free(nbuf);
	return 0;
}

static int run_path(const char *path, int *count)
{
	struct dirent *de;
	struct stat st;
	char sub[4096];
	DIR *d;
	int bad = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		++*count;
		return run_file(path);
	}
	d = opendir(path);
	if (!d) {
		perror(path);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= sizeof(sub))
			continue;
		if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
			++*count;
			bad |= run_file(sub);
		}
	}
	closedir(d);
	return bad;
}

int main(int argc, char **argv)
{
	int i, bad = 0, count = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		bad |= run_path(argv[i], &count);
	fprintf(stderr, "%s: %d inputs replayed\n", argv[0], count);
	return bad;
}
