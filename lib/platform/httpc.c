/* httpc.c - the libcurl wrapper (see httpc.h for the rules every call follows). */
#include "httpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "crypto.h"
#include "gate.h"
#include "banned.h"

_Static_assert(FARM_HTTPC_ERRLEN >= CURL_ERROR_SIZE, "error buffer too small for libcurl");

#define DEFAULT_CONNECT_MS 5000L
#define DEFAULT_TIMEOUT_MS 15000L
#define DEFAULT_MAX_BODY (8u * 1024 * 1024)

struct farm_httpc {
	CURL *curl;
	struct farm_httpc_opts o;
	unsigned long connections;
	int denied;               /* the policy refused an address during this call */
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- the address policy ------------------------------------------------------- */

static int v4_allowed(uint32_t a, int allow_loopback)
{
	if ((a >> 24) == 0)                   /* 0.0.0.0/8: "this host" */
		return 0;
	if ((a >> 24) == 127)                 /* loopback */
		return allow_loopback;
	if ((a >> 16) == ((169u << 8) | 254)) /* link-local, cloud metadata 169.254.169.254 */
		return 0;
	if ((a >> 28) >= 14)                  /* multicast, reserved, broadcast */
		return 0;
	if (a == ((100u << 24) | (100u << 16) | (100u << 8) | 200)) /* Alibaba metadata */
		return 0;
	return 1;
}

int farm_httpc_addr_allowed(const void *sa, int allow_loopback)
{
	const struct sockaddr *s = sa;

	if (!s)
		return 0;
	if (s->sa_family == AF_INET) {
		const struct sockaddr_in *in = sa;
		return v4_allowed(ntohl(in->sin_addr.s_addr), allow_loopback);
	}
	if (s->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = sa;
		const unsigned char *b = in6->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		static const unsigned char zero[12] = {0};
		static const unsigned char ec2[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0,
						      0,    0, 0,    0,    0, 0, 0x02, 0x54};
		uint32_t v4 = ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) |
			      ((uint32_t)b[14] << 8) | b[15];

		if (!memcmp(b, mapped, 12) || !memcmp(b, zero, 12)) {
			/* ::ffff:a.b.c.d and ::a.b.c.d (also :: and ::1) */
			if (!memcmp(b, zero, 12) && v4 == 1)
				return allow_loopback;
			return v4_allowed(v4, allow_loopback);
		}
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
			return 0;
		if (b[0] == 0xff) /* multicast */
			return 0;
		if (!memcmp(b, ec2, 16)) /* AWS metadata over IPv6 */
			return 0;
		return 1;
	}
	return 0;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct farm_httpc *h = arg;
	curl_socket_t fd;

	(void)purpose;
	if (!farm_httpc_addr_allowed(&a->addr, h->o.allow_loopback)) {
		h->denied = 1;
		return CURL_SOCKET_BAD;
	}
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd >= 0)
		h->connections++;
	return fd;
}

/* ---- handles ----------------------------------------------------------------- */

int farm_httpc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? FARM_OK : FARM_E_IO;
}

void farm_httpc_set_opts(struct farm_httpc *h, const struct farm_httpc_opts *o)
{
	struct farm_httpc_opts d = {0};

	if (!h)
		return;
	if (o)
		d = *o;
	if (d.connect_timeout_ms <= 0)
		d.connect_timeout_ms = DEFAULT_CONNECT_MS;
	if (d.timeout_ms <= 0)
		d.timeout_ms = DEFAULT_TIMEOUT_MS;
	if (d.max_body == 0)
		d.max_body = DEFAULT_MAX_BODY;
	h->o = d;
}

int farm_httpc_new(struct farm_httpc **out, const struct farm_httpc_opts *o)
{
	struct farm_httpc *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return FARM_E_NOMEM;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return FARM_E_NOMEM;
	}
	farm_httpc_set_opts(h, o);
	*out = h;
	return FARM_OK;
}

void farm_httpc_free(struct farm_httpc *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

unsigned long farm_httpc_connections(const struct farm_httpc *h)
{
	return h ? h->connections : 0;
}

/* ---- one exchange ------------------------------------------------------------ */

struct sink {
	struct farm_httpc_resp *rs;
	size_t cap, max;
	int toobig, nomem;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	struct farm_httpc_resp *rs = s->rs;
	size_t n = size * nmemb;

	if (n > s->max - rs->len) {
		s->toobig = 1;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (rs->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		char *p;
		while (cap < rs->len + n + 1)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		p = realloc(rs->body, cap);
		if (!p) {
			s->nomem = 1;
			return 0;
		}
		rs->body = p;
		s->cap = cap;
	}
	memcpy(rs->body + rs->len, data, n);
	rs->len += n;
	rs->body[rs->len] = '\0';
	return n;
}

/* Copies a header value (trimmed) into out when the line is "name: value". */
static int header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return 0;
	v = line + nl + 1;
	vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' ||
		      v[vl - 1] == '\t'))
		vl--;
	if (vl >= cap) /* too long to be ours: keep nothing rather than a cut value */
		vl = 0;
	memcpy(out, v, vl);
	out[vl] = '\0';
	return 1;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct farm_httpc_resp *rs = arg;
	size_t n = size * nmemb;
	char cookie[1024];

	if (n >= 5 && !memcmp(data, "HTTP/", 5)) {
		/* A new response (after a 100 Continue, say): forget the previous one's. */
		rs->content_type[0] = rs->retry_after[0] = rs->location[0] = rs->link[0] = '\0';
		farm_crypto_wipe(rs->cookies, sizeof(rs->cookies));
		return n;
	}
	if (header_value(data, n, "Content-Type", rs->content_type, sizeof(rs->content_type)) ||
	    header_value(data, n, "Retry-After", rs->retry_after, sizeof(rs->retry_after)) ||
	    header_value(data, n, "Location", rs->location, sizeof(rs->location)) ||
	    header_value(data, n, "Link", rs->link, sizeof(rs->link)))
		return n;
	if (header_value(data, n, "Set-Cookie", cookie, sizeof(cookie))) {
		size_t cl = strcspn(cookie, ";"), have = strlen(rs->cookies);
		if (cl && memchr(cookie, '=', cl) && have + cl + 3 < sizeof(rs->cookies)) {
			if (have) {
				memcpy(rs->cookies + have, "; ", 2);
				have += 2;
			}
			memcpy(rs->cookies + have, cookie, cl);
			rs->cookies[have + cl] = '\0';
		}
		farm_crypto_wipe(cookie, sizeof(cookie));
	}
	return n;
}

static void slist_wipe_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (p->data)
			farm_crypto_wipe(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

void farm_httpc_resp_clear(struct farm_httpc_resp *rs)
{
	if (!rs)
		return;
	if (rs->body)
		farm_crypto_free_secret(rs->body, rs->len + 1);
	farm_crypto_wipe(rs, sizeof(*rs));
}

static int url_ok(const char *u)
{
	if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
		return 0;
	for (; *u; u++)
		if ((unsigned char)*u <= 0x20 || *u == 0x7f)
			return 0;
	return 1;
}

int farm_httpc_do(struct farm_httpc *h, const struct farm_httpc_req *rq,
		  struct farm_httpc_resp *rs)
{
	struct curl_slist *hdrs = NULL, *t;
	struct sink sink = {rs, 0, 0, 0, 0};
	CURL *c = h ? h->curl : NULL;
	CURLcode cc;
	int rc = FARM_OK;

	memset(rs, 0, sizeof(*rs));
	if (!c || !rq || !rq->url || !rq->method || !url_ok(rq->url))
		return FARM_E_INVAL;
	for (size_t i = 0; i < rq->nheaders; i++) {
		if (!rq->headers[i] || strpbrk(rq->headers[i], "\r\n")) {
			rc = FARM_E_INVAL;
			goto out;
		}
		if (!(t = curl_slist_append(hdrs, rq->headers[i]))) {
			rc = FARM_E_NOMEM;
			goto out;
		}
		hdrs = t;
	}
	/* Never wait for "100 Continue" on uploads. */
	if (!(t = curl_slist_append(hdrs, "Expect:"))) {
		rc = FARM_E_NOMEM;
		goto out;
	}
	hdrs = t;

	sink.max = h->o.max_body;
	h->denied = 0;
	h->errbuf[0] = '\0';
	curl_easy_reset(c); /* keeps the connection, DNS and TLS session caches */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->o.ca_file && *h->o.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->o.ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->o.max_body);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "farm/1 (+https://github.com/farm)");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
	if (!strcmp(rq->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(rq->body ? rq->body_len : 0));
		if (strcmp(rq->method, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}

	farm_gate_block();
	cc = curl_easy_perform(c);
	farm_gate_unblock();
	rs->curl_code = (int)cc;
	{
		const char *e = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
		memcpy(rs->errbuf, e, strnlen(e, sizeof(rs->errbuf) - 1));
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	/* The handle must not keep pointers into this call's memory. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);

	switch (cc) {
	case CURLE_OK:
		rc = FARM_OK;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		rc = FARM_E_TIMEOUT;
		break;
	case CURLE_FILESIZE_EXCEEDED:
		rc = FARM_E_TOOBIG;
		break;
	case CURLE_WRITE_ERROR:
		rc = sink.toobig ? FARM_E_TOOBIG : sink.nomem ? FARM_E_NOMEM : FARM_E_UPSTREAM;
		break;
	case CURLE_OUT_OF_MEMORY:
		rc = FARM_E_NOMEM;
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		rc = FARM_E_INVAL;
		break;
	default:
		rc = h->denied ? FARM_E_FORBIDDEN : FARM_E_UPSTREAM;
		break;
	}
	if (rc == FARM_OK && !rs->body) {
		rs->body = calloc(1, 1);
		if (!rs->body)
			rc = FARM_E_NOMEM;
	}
out:
	slist_wipe_free(hdrs);
	if (rc != FARM_OK && rs->body) {
		/* Keep the status and headers for the caller's message, not a partial body. */
		farm_crypto_free_secret(rs->body, rs->len + 1);
		rs->body = NULL;
		rs->len = 0;
	}
	return rc;
}
