/* daemon.c - the start of farm's daemons (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "events.h"
#include "log.h"
#include "banned.h"

int farm_daemon_args(int argc, char **argv, void (*usage)(FILE *), const char **conf_path,
		     int *check_only)
{
	int opt;

	*conf_path = getenv("FARM_CONFIG");
	if (*conf_path && !**conf_path)
		*conf_path = NULL;
	*check_only = 0;
	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c': *conf_path = optarg; break;
		case 't': *check_only = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	return -1;
}

void farm_daemon_checked(const char *prog, const char *conf_path)
{
	printf("%s: configuration %s is valid\n", prog, conf_path ? conf_path : "(defaults)");
}

void farm_daemon_signals(void (*on_stop)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int farm_daemon_lock(const char *prog, const char *state_dir, const char *name, int *fd)
{
	int rc = farm_events_lock_take(state_dir, name, fd);

	if (rc == FARM_OK)
		return 0;
	if (rc == FARM_E_EXISTS)
		farm_log(FARM_LOG_ERROR, NULL, 0, "%s/%s.lock: another %s is running", state_dir,
			 name, prog);
	else
		farm_log(FARM_LOG_ERROR, NULL, rc == FARM_E_IO ? errno : 0, "%s/%s.lock: cannot lock",
			 state_dir, name);
	return -1;
}
