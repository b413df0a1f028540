/* daemon.c - the start of farm's programs (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "events.h"
#include "log.h"
#include "store.h"
#include "banned.h"

#ifndef FARM_VERSION
#define FARM_VERSION "0.0.0"
#endif

const char *farm_daemon_version(void)
{
	return FARM_VERSION;
}

int farm_daemon_replication(const struct farm_conf *c, struct farm_error *err)
{
	struct farm_store_repl_conf rc = {
		.local = c->repl_local,
		.peers = c->repl_peers,
		.priority = (int)c->repl_priority,
		.ack_policy = c->repl_ack_policy,
		.ack_timeout_ms = (unsigned)c->repl_ack_timeout,
		.join = c->repl_join,
		.strict_2site = c->repl_2site_strict,
	};

	return farm_store_repl_set(&rc, err);
}

static int load(const char *prog, const char *path, struct farm_conf *conf)
{
	struct farm_error err = {0};

	if (farm_conf_load(conf, path, &err) != FARM_OK ||
	    farm_daemon_replication(conf, &err) != FARM_OK) {
		fprintf(stderr, "%s: %s\n", prog, err.msg[0] ? err.msg : "bad configuration");
		return -1;
	}
	return 0;
}

int farm_daemon_start(const char *prog, int argc, char **argv, void (*usage)(FILE *),
		      struct farm_conf *conf, const char **conf_path)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"test", no_argument, NULL, 't'},
		{"version", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = getenv("FARM_CONFIG");
	int opt, check_only = 0;

	if (conf_path)
		*conf_path = NULL;
	if (path && !*path)
		path = NULL;
	while ((opt = getopt_long(argc, argv, "c:tvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': check_only = 1; break;
		case 'v': printf("%s %s\n", prog, FARM_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr);
		return 2;
	}
	if (conf_path)
		*conf_path = path;
	if (load(prog, path, conf) < 0)
		return 1;
	if (check_only) {
		printf("%s: configuration %s is valid\n", prog, path ? path : "(defaults)");
		farm_conf_free(conf);
		return 0;
	}
	farm_log_init(prog, farm_log_level_parse(conf->log_level));
	if (*conf->log_file && farm_log_open(conf->log_file) < 0) {
		fprintf(stderr, "%s: log_file %s: %s\n", prog, conf->log_file, strerror(errno));
		farm_conf_free(conf);
		return 1;
	}
	return -1;
}

static void on_usr1(int sig)
{
	int saved = errno;

	(void)sig;
	farm_log_reopen(); /* async-signal-safe: open, dup2, close */
	errno = saved;
}

void farm_daemon_signals(void (*on_stop)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

long farm_daemon_lock_holder(const char *dir, const char *name)
{
	char path[4200];
	struct flock l;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.lock", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	memset(&l, 0, sizeof(l));
	l.l_type = F_WRLCK;
	l.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &l) < 0 || l.l_type == F_UNLCK)
		l.l_pid = 0;
	close(fd);
	return (long)l.l_pid;
}

int farm_daemon_lock(const char *prog, const char *state_dir, const char *name, int *fd)
{
	struct stat st;
	int rc;

	if (stat(state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		farm_log(FARM_LOG_ERROR, NULL, errno, "state_dir %s is not a directory", state_dir);
		return -1;
	}
	if (access(state_dir, W_OK | X_OK) != 0) {
		farm_log(FARM_LOG_ERROR, NULL, errno,
			 "state_dir %s is not writable by uid %ld (owner uid %ld, mode %04o)",
			 state_dir, (long)geteuid(), (long)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	rc = farm_events_lock_take(state_dir, name, fd);
	if (rc == FARM_OK)
		return 0;
	if (rc == FARM_E_EXISTS) {
		long pid = farm_daemon_lock_holder(state_dir, name);
		if (pid > 0)
			farm_log(FARM_LOG_ERROR, NULL, 0,
				 "state dir %s in use by pid %ld: another %s is running (%s.lock)",
				 state_dir, pid, prog, name);
		else
			farm_log(FARM_LOG_ERROR, NULL, 0,
				 "state dir %s in use: another %s is running (%s.lock)", state_dir,
				 prog, name);
	} else {
		farm_log(FARM_LOG_ERROR, NULL, rc == FARM_E_IO ? errno : 0, "%s/%s.lock: cannot lock",
			 state_dir, name);
	}
	return -1;
}
