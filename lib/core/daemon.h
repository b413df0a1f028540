/* daemon.h - the start every farm program shares (farm-fcgi, farm-eventd, farm-wsd,
 * farm-runner; farmctl uses the version): the same options, the same configuration
 * loading, the same stop signals, the same one-instance lock.
 */
#ifndef FARM_DAEMON_H
#define FARM_DAEMON_H

#include <stdio.h>

#include "conf.h"

/* The version (the VERSION file, compiled in).  Static. */
const char *farm_daemon_version(void);

/* The replication keys of `c` handed to the store (farm_store_repl_set): done by
 * farm_daemon_start; farmctl calls it itself.  FARM_OK or FARM_E_CONFIG. */
struct farm_conf;
struct farm_error;
int farm_daemon_replication(const struct farm_conf *c, struct farm_error *err);

/* Options "-c FILE -t -v -h" (and --version, --help); FARM_CONFIG (non-empty) is the
 * default -c.  Then the configuration is loaded into *conf (defaults, the file, the
 * environment, the cross-key checks: what -t checks is exactly what start-up
 * checks), logging starts (log_level, log_file) and SIGUSR1 is left to the caller.
 *   -t   prints "<prog>: configuration FILE is valid" (or the fault) and stops
 *   -v   prints "<prog> <version>" and stops
 * Returns -1 when the program goes on (*conf loaded: free with farm_conf_free), or
 * the exit status when it is done: 0 after -t/-v/-h, 1 for a bad configuration, 2 for
 * a bad option.  *conf_path (may be NULL) receives the file used (NULL: none). */
int farm_daemon_start(const char *prog, int argc, char **argv, void (*usage)(FILE *),
		      struct farm_conf *conf, const char **conf_path);

/* SIGTERM and SIGINT call on_stop, without SA_RESTART (a blocking wait returns at
 * once); SIGUSR1 reopens log_file; SIGPIPE is ignored. */
void farm_daemon_signals(void (*on_stop)(int));

/* Takes "<state_dir>/<name>.lock" for the life of the process (farm_events_lock_take),
 * logging why not: "state dir D in use by pid N", or that D is missing or not
 * writable.  0, or -1 when another instance runs or the lock cannot be made. */
int farm_daemon_lock(const char *prog, const char *state_dir, const char *name, int *fd);

/* The pid holding "<dir>/<name>.lock" (a running program: "fcgi", "eventd", "wsd",
 * "runner"), or 0 when nobody holds it.  Takes no lock itself. */
long farm_daemon_lock_holder(const char *dir, const char *name);

#endif
