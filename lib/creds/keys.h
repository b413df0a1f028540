/* keys.h - where credential keys come from: the master secret (jwt_secret, or a
 * separate master_key_file) and the current key version kept in the database. */
#ifndef FARM_KEYS_H
#define FARM_KEYS_H

#include <stddef.h>

#include <jansson.h>

#include "conf.h"
#include "crypto.h"
#include "store.h"

/* The HKDF input: master_key_file's content when set, else jwt_secret.
 * *out is new, a secret: free with farm_crypto_free_secret(*out, *len). */
int farm_keys_master(const struct farm_conf *c, unsigned char **out, size_t *len);

/* Reads a key file: must be mode 0600 or stricter and hold at least 32 bytes. */
int farm_keys_read_file(const char *path, unsigned char **out, size_t *len);

/* Current key version in FARM_T_META ("key.version"), 1 when never set. */
int farm_keys_get_version(struct farm_txn *t, unsigned *version);
int farm_keys_set_version(struct farm_txn *t, unsigned version);

/* A keyring holding versions 1..current derived from `master`; current seals.
 * Returns new, free with farm_keyring_free. */
int farm_keys_keyring(struct farm_keyring **out, const void *master, size_t len,
		      unsigned current);

/* Reads the version from the store and builds the keyring (for a process start). */
int farm_keys_load(const struct farm_conf *c, struct farm_store *s, struct farm_keyring **out);

/* Opens a stored credential record's value with `kr`; when its key version is newer
 * than kr knows (after `farmctl rotate-key`), with a keyring rebuilt for this call.
 * *value is new (json_decref; wiped on free). */
int farm_keys_open_cred(const struct farm_keyring *kr, const struct farm_conf *c,
			struct farm_store *s, json_t *rec, json_t **value);

#endif
