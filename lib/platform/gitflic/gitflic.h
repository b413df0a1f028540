/* gitflic.h - the GitFlic module (gitflic.c): its descriptor and its operations. */
#ifndef FARM_PLATFORM_GITFLIC_H
#define FARM_PLATFORM_GITFLIC_H

#include "platform.h"

extern const struct farm_platform farm_platform_gitflic;

/* HATEOAS pages followed at most by one list or one pipeline's jobs. */
#define FARM_GITFLIC_MAX_PAGES 10

/* 1 when s is "owner/project": two aliases of 1..100 of [A-Za-z0-9._-], neither "."
 * nor ".."; else 0 with the reason in why. */
int farm_gitflic_project_ok(const char *s, char *why, size_t cap);

/* A delivery -> the event's fields; TEST_WEBHOOK and events that are not about a
 * pipeline are FARM_E_NOTFOUND (200, no event). */
int farm_event_from_gitflic(const void *body, size_t len, json_t **data, char **dedupe_key,
			    struct farm_error *err);

#endif
