/* farmctl.h - farmctl's command implementations (farmctl-*.c). */
#ifndef FARMCTL_H
#define FARMCTL_H

#include "conf.h"

int farmctl_load_conf(const char *path, struct farm_conf *c);
/* farmctl-audit.c: `audit [--org O] [--limit N] [--before ID]`. */
int farmctl_audit(const char *conf_path, int argc, char **argv);
int farmctl_db(const char *conf_path, int argc, char **argv);
int farmctl_rotate(const char *conf_path, int argc, char **argv);
int farmctl_credentials(const char *conf_path, int argc, char **argv);
/* farmctl-events.c: `events tail` (ZeroMQ SUB on events.pub, history with --since). */
int farmctl_events(const char *conf_path, int argc, char **argv);
int farmctl_replication(const char *conf_path, int argc, char **argv);
/* farmctl-repl-remove.c: `replication remove HOST:PORT` (DB_SITE->remove). */
int farmctl_replication_remove(const char *conf_path, const char *site);

#endif
