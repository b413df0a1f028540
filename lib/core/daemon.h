/* daemon.h - the start of farm's three daemons (farm-eventd, farm-wsd, farm-runner):
 * the same options, the same stop signals, the same one-instance lock.
 */
#ifndef FARM_DAEMON_H
#define FARM_DAEMON_H

#include <stdio.h>

/* Options "-c FILE -t -h"; FARM_CONFIG (non-empty) is the default -c.  Sets
 * *conf_path (NULL: defaults only) and *check_only.  Returns -1 to go on, or the exit
 * status when the process is done (0 after -h, 2 after a bad option). */
int farm_daemon_args(int argc, char **argv, void (*usage)(FILE *), const char **conf_path,
		     int *check_only);

/* What -t prints once the configuration was loaded and checked. */
void farm_daemon_checked(const char *prog, const char *conf_path);

/* SIGTERM and SIGINT call on_stop, without SA_RESTART (a blocking wait returns at
 * once); SIGPIPE is ignored. */
void farm_daemon_signals(void (*on_stop)(int));

/* Takes "<state_dir>/<name>.lock" for the life of the process (farm_events_lock_take),
 * logging why not.  0, or -1 when another instance runs or the lock cannot be made. */
int farm_daemon_lock(const char *prog, const char *state_dir, const char *name, int *fd);

#endif
