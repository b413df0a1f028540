/* keys.c - master secret loading and key versions. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds.h"
#include "banned.h"

#define KEY_VERSION "key.version"

int farm_keys_read_file(const char *path, unsigned char **out, size_t *len)
{
	unsigned char buf[4096];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return FARM_E_IO;
	if (fstat(fd, &st) < 0 || (st.st_mode & 0077)) {
		close(fd);
		return FARM_E_CONFIG;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 32) {
		explicit_bzero(buf, sizeof(buf));
		return FARM_E_CONFIG;
	}
	*out = malloc((size_t)n);
	if (*out) {
		memcpy(*out, buf, (size_t)n);
		*len = (size_t)n;
	}
	explicit_bzero(buf, sizeof(buf));
	return *out ? FARM_OK : FARM_E_NOMEM;
}

int farm_keys_master(const struct farm_conf *c, unsigned char **out, size_t *len)
{
	if (c->master_key_file && *c->master_key_file)
		return farm_keys_read_file(c->master_key_file, out, len);
	*len = strlen(c->jwt_secret);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return FARM_E_NOMEM;
	memcpy(*out, c->jwt_secret, *len);
	return FARM_OK;
}

int farm_keys_get_version(struct farm_txn *t, unsigned *version)
{
	void *v = NULL;
	size_t vlen = 0;
	int rc = farm_txn_get(t, FARM_T_META, KEY_VERSION, strlen(KEY_VERSION), &v, &vlen, 0);

	*version = 1;
	if (rc == FARM_E_NOTFOUND)
		return FARM_OK;
	if (rc)
		return rc;
	if (vlen == 4) {
		const unsigned char *b = v;
		*version = (unsigned)b[0] << 24 | (unsigned)b[1] << 16 | (unsigned)b[2] << 8 | b[3];
	}
	free(v);
	if (*version == 0)
		*version = 1;
	return FARM_OK;
}

int farm_keys_set_version(struct farm_txn *t, unsigned version)
{
	unsigned char b[4] = {(unsigned char)(version >> 24), (unsigned char)(version >> 16),
			      (unsigned char)(version >> 8), (unsigned char)version};

	return farm_txn_put(t, FARM_T_META, KEY_VERSION, strlen(KEY_VERSION), NULL, b, 4, 0);
}

int farm_keys_keyring(struct farm_keyring **out, const void *master, size_t len, unsigned current)
{
	int rc = farm_keyring_new(out, master, len, current);

	for (unsigned v = 1; rc == FARM_OK && v < current; v++)
		rc = farm_keyring_add(*out, master, len, v);
	if (rc) {
		farm_keyring_free(*out);
		*out = NULL;
	}
	return rc;
}

static int get_version_txn(struct farm_txn *t, void *arg)
{
	return farm_keys_get_version(t, arg);
}

int farm_keys_load(const struct farm_conf *c, struct farm_store *s, struct farm_keyring **out)
{
	unsigned char *m = NULL;
	size_t mlen = 0;
	unsigned version = 1;
	int rc;

	rc = farm_store_run(s, get_version_txn, &version);
	if (rc)
		return rc;
	rc = farm_keys_master(c, &m, &mlen);
	if (rc)
		return rc;
	rc = farm_keys_keyring(out, m, mlen, version);
	farm_crypto_free_secret(m, mlen);
	return rc;
}

int farm_keys_open_cred(const struct farm_keyring *kr, const struct farm_conf *c,
			struct farm_store *s, json_t *rec, json_t **value)
{
	struct farm_keyring *fresh = NULL;
	int rc = kr ? farm_creds_open(kr, rec, value) : FARM_E_NOTFOUND;

	if (rc == FARM_E_NOTFOUND) {
		rc = farm_keys_load(c, s, &fresh);
		if (rc == FARM_OK)
			rc = farm_creds_open(fresh, rec, value);
		farm_keyring_free(fresh);
	}
	return rc;
}
