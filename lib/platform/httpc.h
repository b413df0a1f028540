/* httpc.h - farm's one HTTP client: a thin wrapper over one libcurl easy handle.
 *
 * A handle is used by one thread at a time and kept for the thread's life, so
 * connections to a platform are reused (HTTP keep-alive, TLS sessions).  Every call
 * runs with: connect and total timeouts, TLS verification on (peer and host name),
 * no redirects followed, http/https only, no signals (threads), a response size cap
 * enforced while reading, an error buffer, and an address policy checked on every
 * new connection (link-local/metadata, unspecified and multicast addresses always
 * refused; loopback only when allowed).
 *
 * Request headers are built by the caller per call and may hold secrets: httpc
 * wipes its copies after the transfer and never logs them.  Nothing here logs.
 */
#ifndef FARM_HTTPC_H
#define FARM_HTTPC_H

#include <stddef.h>

#include "err.h"

struct farm_httpc;

struct farm_httpc_opts {
	long connect_timeout_ms; /* <= 0: 5000 */
	long timeout_ms;         /* whole exchange; <= 0: 15000 */
	size_t max_body;         /* response body cap; 0: 8 MiB */
	int allow_loopback;      /* permit 127.0.0.0/8 and ::1 (tests, local platforms) */
	const char *ca_file;     /* PEM CA bundle instead of the system store, or NULL
				  * (borrowed: must outlive the handle's use) */
};

/* Returns new handle in *out; free with farm_httpc_free.  Call
 * farm_httpc_global_init() once per process before any thread starts. */
int farm_httpc_new(struct farm_httpc **out, const struct farm_httpc_opts *o);
/* NULL-safe; closes the handle's kept connections. */
void farm_httpc_free(struct farm_httpc *h);
/* Replaces the options of an existing handle (e.g. after a configuration reload). */
void farm_httpc_set_opts(struct farm_httpc *h, const struct farm_httpc_opts *o);

/* libcurl's process-wide set-up; FARM_OK or FARM_E_IO. */
int farm_httpc_global_init(void);

struct farm_httpc_req {
	const char *method;          /* "GET", "POST", ... */
	const char *url;             /* absolute http:// or https:// URL */
	const char *const *headers;  /* "Name: value" lines (borrowed; may hold secrets) */
	size_t nheaders;
	const void *body;            /* request body or NULL (borrowed) */
	size_t body_len;
};

#define FARM_HTTPC_ERRLEN 256

/* One response.  body is new (malloc), NUL-terminated, len bytes: release the whole
 * struct with farm_httpc_resp_clear.  cookies holds the Set-Cookie pairs received
 * ("a=1; b=2"), a session secret: use it for a follow-up call and nothing else. */
struct farm_httpc_resp {
	long status;                   /* HTTP status; 0 when no response arrived */
	char *body;
	size_t len;
	char content_type[128];
	char retry_after[64];
	char location[2048];
	char link[2048];               /* the Link header (pagination) */
	char cookies[1024];
	int curl_code;                 /* CURLcode of the transfer */
	char errbuf[FARM_HTTPC_ERRLEN]; /* libcurl's explanation (no header, no body) */
};

/* Runs one exchange.  FARM_OK when a complete response arrived (any status: read
 * rs->status).  Otherwise: FARM_E_TIMEOUT (connect or total timeout), FARM_E_TOOBIG
 * (body over max_body), FARM_E_FORBIDDEN (address refused by the policy),
 * FARM_E_UPSTREAM (refused, reset, TLS failure, not HTTP...), FARM_E_INVAL (bad URL
 * or header with CR/LF), FARM_E_NOMEM.  rs is always initialised (clear it). */
int farm_httpc_do(struct farm_httpc *h, const struct farm_httpc_req *rq,
		  struct farm_httpc_resp *rs);

/* Frees rs->body (wiped: cookies and bodies may be sensitive) and zeroes rs.
 * NULL-safe. */
void farm_httpc_resp_clear(struct farm_httpc_resp *rs);

/* New TCP connections this handle opened so far (for tests and benchmarks). */
unsigned long farm_httpc_connections(const struct farm_httpc *h);

/* 1 when the address policy permits connecting to the IPv4 or IPv6 address in
 * `sa` (a struct sockaddr *). */
int farm_httpc_addr_allowed(const void *sa, int allow_loopback);

#endif
