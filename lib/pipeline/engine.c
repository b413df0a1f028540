/* engine.c - the build engine's argv (docker, buildah, podman), finding it on PATH,
 * and the environment a build keeps (pipeline.h). */
#include "pipeline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "banned.h"

const char *const farm_pipeline_engines[] = {"docker", "buildah", "podman", NULL};

int farm_pipeline_engine_known(const char *e)
{
	for (size_t i = 0; e && farm_pipeline_engines[i]; i++)
		if (!strcmp(e, farm_pipeline_engines[i]))
			return 1;
	return 0;
}

/* ---- argv --------------------------------------------------------------------------- */

static int argv_add(struct farm_pipeline_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int argv_add(struct farm_pipeline_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	if (a->n >= FARM_PIPELINE_ARGV_MAX)
		return FARM_E_TOOBIG;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0 || !s)
		return FARM_E_NOMEM;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return FARM_OK;
}

void farm_pipeline_argv_clear(struct farm_pipeline_argv *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n && i < FARM_PIPELINE_ARGV_MAX; i++)
		free(a->v[i]);
	memset(a, 0, sizeof(*a));
}

int farm_pipeline_argv(struct farm_pipeline_argv *a, const char *engine, const char *engine_path,
		       enum farm_pipeline_step step, const char *dockerfile, const char *context,
		       const char *tag, const char *registry, int tls_verify)
{
	const char *tls = tls_verify ? "true" : "false";
	int buildah, docker, rc = FARM_OK;

	memset(a, 0, sizeof(*a));
	if (!farm_pipeline_engine_known(engine) || !engine_path || !tag ||
	    (step != FARM_PIPELINE_BUILD && step != FARM_PIPELINE_PUSH))
		return FARM_E_INVAL;
	if (step == FARM_PIPELINE_PUSH && (!registry || !*registry))
		return FARM_E_INVAL;
	if (step == FARM_PIPELINE_BUILD && (!dockerfile || !context))
		return FARM_E_INVAL;
	buildah = !strcmp(engine, "buildah");
	docker = !strcmp(engine, "docker");
/* Appends in order, stopping at the first failure. */
#define ADD(...)                                                                          \
	do {                                                                              \
		if (rc == FARM_OK)                                                        \
			rc = argv_add(a, __VA_ARGS__);                                    \
	} while (0)
	ADD("%s", engine_path);
	if (buildah) {
		ADD("--storage-driver");
		ADD("vfs");
	}
	if (step == FARM_PIPELINE_BUILD) {
		ADD("%s", buildah ? "bud" : "build");
		ADD("-f");
		ADD("%s", dockerfile);
		ADD("-t");
		if (docker && registry && *registry)
			ADD("%s/%s", registry, tag);
		else
			ADD("%s", tag);
		ADD("%s", context);
	} else if (docker) {
		ADD("push");
		ADD("%s/%s", registry, tag);
	} else {
		ADD("push");
		ADD("--tls-verify=%s", tls);
		ADD("%s", tag);
		ADD("docker://%s/%s", registry, tag);
	}
#undef ADD
	if (rc != FARM_OK) {
		farm_pipeline_argv_clear(a);
		return rc;
	}
	return FARM_OK;
}

int farm_pipeline_which(const char *name, const char *path, char *out, size_t cap)
{
	const char *p = path;

	if (!name || !*name || strchr(name, '/') || !path)
		return FARM_E_NOTFOUND;
	while (*p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		struct stat st;
		int w;

		/* Empty and relative entries would search the current directory. */
		if (n && p[0] == '/') {
			w = snprintf(out, cap, "%.*s/%s", (int)n, p, name);
			if (w < 0 || (size_t)w >= cap)
				return FARM_E_TOOBIG;
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
				return FARM_OK;
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (cap)
		out[0] = '\0';
	return FARM_E_NOTFOUND;
}

int farm_pipeline_env_keep(const char *entry)
{
	static const char *const names[] = {
		"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
		"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
		"REGISTRY_AUTH_FILE", NULL};
	static const char *const prefixes[] = {"LC_",	     "XDG_",	"CONTAINERS_", "BUILDAH_",
					       "STORAGE_",   "DOCKER_", "PODMAN_",     NULL};
	const char *eq = entry ? strchr(entry, '=') : NULL;
	size_t n;

	if (!eq || eq == entry)
		return 0;
	n = (size_t)(eq - entry);
	for (size_t i = 0; names[i]; i++)
		if (strlen(names[i]) == n && !memcmp(entry, names[i], n))
			return 1;
	for (size_t i = 0; prefixes[i]; i++)
		if (n > strlen(prefixes[i]) && !strncmp(entry, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}
