/* events.c - history keys, topics, visibility and liveness locks (see events.h). */
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banned.h"

void farm_events_key(uint64_t id, unsigned char key[8])
{
	for (int i = 0; i < 8; i++)
		key[i] = (unsigned char)(id >> (56 - 8 * i));
}

int farm_events_key_id(const void *key, size_t klen, uint64_t *id)
{
	const unsigned char *p = key;
	uint64_t v = 0;

	if (id)
		*id = 0;
	if (!key || klen != 8 || !id)
		return FARM_E_INVAL;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	*id = v;
	return FARM_OK;
}

int farm_events_topic(const char *org, char *out, size_t cap)
{
	int n;

	if (!out || cap == 0)
		return FARM_E_INVAL;
	n = snprintf(out, cap, "%s%s", FARM_EVENTS_TOPIC_PREFIX, org ? org : "");
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return FARM_E_TOOBIG;
	}
	return n;
}

int farm_events_visible(const char *client_org, const char *event_org)
{
	if (!event_org)
		return 1;
	return client_org && strcmp(client_org, event_org) == 0;
}

int farm_events_parse(const void *json, size_t len, uint64_t *id, char **org)
{
	json_t *root, *data, *jid, *jorg;
	int code = FARM_E_INVAL;

	if (id)
		*id = 0;
	if (org)
		*org = NULL;
	if (!json || !id)
		return FARM_E_INVAL;
	if (len > FARM_EVENTS_JSON_MAX)
		return FARM_E_TOOBIG;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	data = json_object_get(root, "data");
	jid = json_object_get(data, "id");
	jorg = json_object_get(data, "orgId");
	if (!json_is_object(data) || !json_is_integer(jid) || json_integer_value(jid) <= 0)
		goto out;
	if (jorg && !json_is_null(jorg) && !json_is_string(jorg))
		goto out;
	if (org && json_is_string(jorg) && !(*org = strdup(json_string_value(jorg)))) {
		code = FARM_E_NOMEM;
		goto out;
	}
	*id = (uint64_t)json_integer_value(jid);
	code = FARM_OK;
out:
	json_decref(root);
	return code;
}

int farm_events_last(struct farm_txn *t, uint64_t *last)
{
	void *v = NULL;
	size_t vlen = 0;
	int code;

	if (last)
		*last = 0;
	if (!t || !last)
		return FARM_E_INVAL;
	code = farm_txn_get(t, FARM_T_META, FARM_EVENTS_SEQ, strlen(FARM_EVENTS_SEQ), &v, &vlen,
			    0);
	if (code == FARM_E_NOTFOUND)
		return FARM_OK;
	if (code != FARM_OK)
		return code;
	code = farm_events_key_id(v, vlen, last) == FARM_OK ? FARM_OK : FARM_E_DB;
	free(v);
	return code;
}

static int first_cb(const void *key, size_t klen, const void *val, size_t vlen, void *arg)
{
	(void)val;
	(void)vlen;
	if (farm_events_key_id(key, klen, arg) != FARM_OK)
		return FARM_E_DB;
	return 1; /* the first key is all we want */
}

int farm_events_first(struct farm_txn *t, uint64_t *first)
{
	if (first)
		*first = 0;
	if (!t || !first)
		return FARM_E_INVAL;
	return farm_txn_scan(t, FARM_T_EVENTS, NULL, FARM_SCAN_ALL, first_cb, first);
}

int farm_events_get(struct farm_txn *t, uint64_t id, char **json, size_t *len)
{
	unsigned char key[8];
	void *v = NULL;
	size_t vlen = 0;
	char *s;
	int code;

	if (json)
		*json = NULL;
	if (len)
		*len = 0;
	if (!t || !json || !len)
		return FARM_E_INVAL;
	farm_events_key(id, key);
	if ((code = farm_txn_get(t, FARM_T_EVENTS, key, sizeof(key), &v, &vlen, 0)) != FARM_OK)
		return code;
	/* NUL-terminate: the stored value is the bare JSON text. */
	if (!(s = realloc(v, vlen + 1))) {
		free(v);
		return FARM_E_NOMEM;
	}
	s[vlen] = '\0';
	*json = s;
	*len = vlen;
	return FARM_OK;
}

/* failchk in a child process, waited for at most timeout_ms: failchk blocks for ever
 * on a mutex that a process killed inside Berkeley DB still holds, and a daemon must
 * not hang with it (the farm-fcgi master runs its own checks the same way).
 * FARM_OK, or FARM_E_RECOVER when the environment needs recovery (or failchk hung). */
static int failchk_bounded(const struct farm_conf *c, int timeout_ms)
{
	pid_t pid = fork();
	int st = 0;

	if (pid < 0)
		return FARM_E_IO;
	if (pid == 0) {
		struct farm_store *s = NULL;
		if (farm_store_open(&s, c->state_dir, c->sync_commit ? 0 : FARM_STORE_NOSYNC,
				    NULL) != FARM_OK)
			_exit(2);
		if (farm_store_failchk(s) != FARM_OK)
			_exit(3); /* not closed: the environment is poisoned */
		farm_store_close(s);
		_exit(0);
	}
	for (int waited = 0;; waited += 10) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return FARM_E_IO;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return FARM_E_RECOVER;
		}
		usleep(10 * 1000);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return FARM_OK;
	return WIFEXITED(st) && WEXITSTATUS(st) == 2 ? FARM_E_DB : FARM_E_RECOVER;
}

int farm_events_store_open(const struct farm_conf *c, struct farm_store **out,
			   struct farm_error *err)
{
	int code;

	if (out)
		*out = NULL;
	if (!c || !out)
		return farm_error_set(err, FARM_E_INVAL, "store: bad open arguments");
	code = failchk_bounded(c, FARM_EVENTS_FAILCHK_MS);
	if (code == FARM_E_RECOVER)
		farm_events_recover_ask(c->state_dir);
	if (code != FARM_OK)
		return farm_error_set(err, code, "store: %s",
				      code == FARM_E_RECOVER
					      ? "recovery needed (a process died inside Berkeley DB; "
						"asked the farm-fcgi master for it)"
					      : "cannot open the environment for failchk");
	return farm_store_open(out, c->state_dir, c->sync_commit ? 0 : FARM_STORE_NOSYNC, err);
}

static int recover_path(const char *dir, char *out, size_t cap)
{
	int n;

	if (!dir || !*dir)
		return FARM_E_INVAL;
	n = snprintf(out, cap, "%s/recover.wanted", dir);
	return n < 0 || (size_t)n >= cap ? FARM_E_TOOBIG : FARM_OK;
}

int farm_events_recover_ask(const char *dir)
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = recover_path(dir, path, sizeof(path))) != FARM_OK)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return FARM_E_IO;
	close(fd);
	return FARM_OK;
}

int farm_events_recover_take(const char *dir)
{
	char path[PATH_MAX];

	if (recover_path(dir, path, sizeof(path)) != FARM_OK)
		return 0;
	return unlink(path) == 0;
}

static int lock_path(const char *dir, const char *name, char *out, size_t cap)
{
	int n;

	if (!dir || !*dir || !name || !*name || strchr(name, '/'))
		return FARM_E_INVAL;
	n = snprintf(out, cap, "%s/%s.lock", dir, name);
	return n < 0 || (size_t)n >= cap ? FARM_E_TOOBIG : FARM_OK;
}

/* A write lock over the whole file.  POSIX record locks rather than flock(2): the
 * checker asks with F_GETLK, which takes nothing, so a health probe can never make a
 * starting daemon believe that another one runs. */
static void lock_whole(struct flock *l, short type)
{
	memset(l, 0, sizeof(*l));
	l->l_type = type;
	l->l_whence = SEEK_SET;
	l->l_start = 0;
	l->l_len = 0;
}

int farm_events_lock_take(const char *dir, const char *name, int *fd)
{
	char path[PATH_MAX], pid[32];
	struct flock l;
	int f, n, code;

	if (fd)
		*fd = -1;
	if (!fd)
		return FARM_E_INVAL;
	if ((code = lock_path(dir, name, path, sizeof(path))) != FARM_OK)
		return code;
	if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return FARM_E_IO;
	lock_whole(&l, F_WRLCK);
	if (fcntl(f, F_SETLK, &l) != 0) {
		code = errno == EACCES || errno == EAGAIN ? FARM_E_EXISTS : FARM_E_IO;
		close(f);
		return code;
	}
	/* The pid is for people (`cat eventd.lock`); the lock itself is what counts. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
		close(f);
		return FARM_E_IO;
	}
	*fd = f;
	return FARM_OK;
}

int farm_events_lock_held(const char *dir, const char *name)
{
	int fd = -1, rc = farm_events_lock_held_fd(dir, name, &fd);

	if (fd >= 0)
		close(fd);
	return rc;
}

int farm_events_lock_held_fd(const char *dir, const char *name, int *fd)
{
	char path[PATH_MAX];
	struct flock l;
	int code;

	if (!fd)
		return FARM_E_INVAL;
	if (*fd < 0) {
		if ((code = lock_path(dir, name, path, sizeof(path))) != FARM_OK)
			return code;
		if ((*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
			return errno == ENOENT ? 0 : FARM_E_IO;
	}
	lock_whole(&l, F_WRLCK);
	if (fcntl(*fd, F_GETLK, &l) != 0)
		return FARM_E_IO;
	return l.l_type != F_UNLCK;
}

/* --- the wake word ------------------------------------------------------------------ */

struct farm_events_wake {
	_Atomic uint32_t *word;
};

int farm_events_word_map(const char *dir, const char *name, void **out)
{
	char path[PATH_MAX];
	struct stat st;
	void *map;
	int f, n;

	if (out)
		*out = NULL;
	if (!dir || !*dir || !name || !out)
		return FARM_E_INVAL;
	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return FARM_E_TOOBIG;
	if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return FARM_E_IO;
	/* Every side may create it: growing an empty file to the same size twice is
	 * harmless, and the new bytes are zero. */
	if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_size < FARM_EVENTS_WORD_FILE && ftruncate(f, FARM_EVENTS_WORD_FILE) != 0)) {
		close(f);
		return FARM_E_IO;
	}
	/* Its block allocated now, not at the first store through the mapping: on a full
	 * filesystem that store into a hole is a SIGBUS (farm-eventd of a replica whose
	 * disk filled, t9530).  Best effort: a full disk at creation changes nothing. */
	(void)posix_fallocate(f, 0, FARM_EVENTS_WORD_FILE);
	map = mmap(NULL, FARM_EVENTS_WORD_FILE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	close(f);
	if (map == MAP_FAILED)
		return FARM_E_IO;
	*out = map;
	return FARM_OK;
}

int farm_events_wake_open(const char *dir, struct farm_events_wake **out)
{
	struct farm_events_wake *w;
	void *map;
	int rc;

	if (out)
		*out = NULL;
	if (!out)
		return FARM_E_INVAL;
	/* A zero word means "awake". */
	if ((rc = farm_events_word_map(dir, "eventd.wake", &map)) != FARM_OK)
		return rc;
	if (!(w = malloc(sizeof(*w)))) {
		munmap(map, FARM_EVENTS_WORD_FILE);
		return FARM_E_NOMEM;
	}
	w->word = map;
	*out = w;
	return FARM_OK;
}

void farm_events_wake_close(struct farm_events_wake *w)
{
	if (!w)
		return;
	munmap((void *)w->word, FARM_EVENTS_WORD_FILE);
	free(w);
}

void farm_events_wake_set(struct farm_events_wake *w, int waiting)
{
	if (!w)
		return;
	atomic_store(w->word, waiting ? 1u : 0u);
	atomic_thread_fence(memory_order_seq_cst);
}

int farm_events_wake_claim(struct farm_events_wake *w)
{
	if (!w)
		return 1;
	atomic_thread_fence(memory_order_seq_cst);
	/* A plain load first: under load the word is 0 and stays in every cache. */
	return atomic_load(w->word) != 0 && atomic_exchange(w->word, 0u) != 0;
}

char *farm_events_row(json_t *data, uint64_t id)
{
	json_t *row = json_copy(data);
	char *val = NULL;

	if (!row)
		return NULL;
	json_object_del(row, "id");
	json_object_del(row, "receivedAt");
	if (json_object_set_new(row, "eventId", json_integer((json_int_t)id)) == 0)
		val = json_dumps(row, JSON_COMPACT);
	json_decref(row);
	return val;
}

#define FILLED_DONE UINT64_MAX

int farm_events_backfill(struct farm_txn *t, const char *mk, size_t per,
			 farm_events_apply_fn apply, int *more, size_t *put)
{
	unsigned char mark[8];
	uint64_t from = 0, first = 0, last = 0, to, id;
	void *v = NULL;
	size_t vlen = 0;
	int rc;

	*more = 0;
	*put = 0;
	rc = farm_txn_get(t, FARM_T_META, mk, strlen(mk), &v, &vlen, 1);
	if (rc == FARM_OK) {
		rc = farm_events_key_id(v, vlen, &from) == FARM_OK ? FARM_OK : FARM_E_DB;
		free(v);
		if (rc != FARM_OK || from == FILLED_DONE)
			return rc;
		from++; /* the mark is the last id applied */
	} else if (rc != FARM_E_NOTFOUND) {
		return rc;
	}
	if ((rc = farm_events_first(t, &first)) != FARM_OK ||
	    (rc = farm_events_last(t, &last)) != FARM_OK)
		return rc;
	if (from < first)
		from = first;
	to = first == 0 || from > last ? 0 : (last - from >= per ? from + per - 1 : last);
	for (id = from; to && id <= to; id++) {
		json_t *ev;
		char *json = NULL;
		size_t len = 0;

		rc = farm_events_get(t, id, &json, &len);
		if (rc == FARM_E_NOTFOUND)
			continue;
		if (rc != FARM_OK)
			return rc;
		ev = json_loadb(json, len, 0, NULL);
		free(json);
		rc = apply(t, json_string_value(json_object_get(ev, "event")),
			   json_object_get(ev, "data"), id);
		json_decref(ev);
		if (rc != FARM_OK)
			return rc;
		(*put)++;
	}
	*more = to != 0 && to < last;
	farm_events_key(*more ? to : FILLED_DONE, mark);
	return farm_txn_put(t, FARM_T_META, mk, strlen(mk), NULL, mark, sizeof(mark), 0);
}
