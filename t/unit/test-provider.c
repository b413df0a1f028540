/* test-provider.c - the HTTP client and the provider layer against a small HTTP
 * server run in a thread of this test: keep-alive, the size cap (Content-Length and
 * chunked), timeouts, no redirects, the address policy, header capture; then the
 * outcome mapping, message sanitising and secret redaction, reads through the cache,
 * and the input checks of each platform (names, slugs, job paths). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cache.h"
#include "httpc.h"
#include "json.h"
#include "log.h"
#include "provider.h"
#include "conf.h"
#include "platform.h"
#include "argocd.h"
#include "circleci.h"
#include "jenkins.h"
#include "travisci.h"
#include "tap.h"

#include "banned.h"

/* ---- a scripted HTTP/1.1 server ------------------------------------------------------ */

static struct {
	int fd, port, stop;
	pthread_t tid;
	pthread_mutex_t mu;
	/* the next answers */
	int status;
	char headers[1024];
	char body[4096];
	size_t chunked_total; /* > 0: a chunked body of this many bytes instead */
	int delay_ms;
	/* what came in */
	int connections, requests;
	char last[8192];
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void script(int status, const char *headers, const char *body)
{
	pthread_mutex_lock(&srv.mu);
	srv.status = status;
	snprintf(srv.headers, sizeof(srv.headers), "%s", headers ? headers : "");
	snprintf(srv.body, sizeof(srv.body), "%s", body ? body : "");
	srv.chunked_total = 0;
	srv.delay_ms = 0;
	pthread_mutex_unlock(&srv.mu);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void serve(int fd)
{
	char buf[16384];
	size_t have = 0;

	for (;;) {
		char *end, *cl;
		size_t need, hl;
		ssize_t n;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			if (have == sizeof(buf) - 1 || (n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0)) <= 0)
				return;
			have += (size_t)n;
		}
		buf[have] = '\0';
		hl = (size_t)(end + 4 - buf);
		need = hl;
		if ((cl = strcasestr(buf, "\r\nContent-Length:")) && cl < end)
			need += (size_t)strtoul(cl + 17, NULL, 10);
		while (have < need && have < sizeof(buf) - 1) {
			if ((n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0)) <= 0)
				return;
			have += (size_t)n;
		}
		pthread_mutex_lock(&srv.mu);
		srv.requests++;
		memcpy(srv.last, buf, need < sizeof(srv.last) ? need : sizeof(srv.last) - 1);
		srv.last[need < sizeof(srv.last) ? need : sizeof(srv.last) - 1] = '\0';
		int status = srv.status, delay = srv.delay_ms;
		size_t chunked = srv.chunked_total;
		char head[2048], body[4096];
		snprintf(body, sizeof(body), "%s", srv.body);
		if (chunked)
			snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\n%sTransfer-Encoding: chunked\r\n\r\n",
				 status, srv.headers);
		else
			snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\n%sContent-Length: %zu\r\n\r\n",
				 status, srv.headers, strlen(body));
		pthread_mutex_unlock(&srv.mu);
		memmove(buf, buf + need, have - need);
		have -= need;
		if (delay)
			usleep((useconds_t)delay * 1000);
		if (send_all(fd, head, strlen(head)))
			return;
		if (chunked) {
			static char chunk[65536];
			memset(chunk, 'x', sizeof(chunk));
			for (size_t sent = 0; sent < chunked; sent += sizeof(chunk)) {
				char line[32];
				snprintf(line, sizeof(line), "%zx\r\n", sizeof(chunk));
				if (send_all(fd, line, strlen(line)) || send_all(fd, chunk, sizeof(chunk)) ||
				    send_all(fd, "\r\n", 2))
					return;
			}
			if (send_all(fd, "0\r\n\r\n", 5))
				return;
		} else if (send_all(fd, body, strlen(body))) {
			return;
		}
	}
}

static void *server_main(void *arg)
{
	(void)arg;
	while (!srv.stop) {
		struct pollfd p = {srv.fd, POLLIN, 0};
		int c;
		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((c = accept(srv.fd, NULL, NULL)) < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
		pthread_mutex_lock(&srv.mu);
		srv.connections++;
		pthread_mutex_unlock(&srv.mu);
		serve(c);
		close(c);
	}
	return NULL;
}

static void server_start(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t l = sizeof(sa);
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa));
	listen(srv.fd, 16);
	getsockname(srv.fd, (struct sockaddr *)&sa, &l);
	srv.port = ntohs(sa.sin_port);
	pthread_create(&srv.tid, NULL, server_main, NULL);
}

static void server_stop(void)
{
	srv.stop = 1;
	pthread_join(srv.tid, NULL);
	close(srv.fd);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- httpc ------------------------------------------------------------------------- */

static void test_httpc(void)
{
	struct farm_httpc_opts o = {.connect_timeout_ms = 2000, .timeout_ms = 800,
				    .max_body = 100000, .allow_loopback = 1};
	struct farm_httpc *h = NULL;
	struct farm_httpc_resp rs;
	struct farm_httpc_req rq = {0};
	char url[128];
	const char *hdrs[] = {"Authorization: Bearer sekrit", "X-Test: 1"};
	long t0;
	int rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/x?a=1", srv.port);
	is_int(farm_httpc_new(&h, &o), FARM_OK, "httpc: a handle");
	rq.method = "GET";
	rq.url = url;
	rq.headers = hdrs;
	rq.nheaders = 2;

	script(200, "Content-Type: application/json\r\nRetry-After: 12\r\n"
		    "Set-Cookie: JSESSIONID.1=abc; Path=/; HttpOnly\r\nSet-Cookie: b=2\r\n",
	       "{\"ok\":true}");
	rc = farm_httpc_do(h, &rq, &rs);
	is_int(rc, FARM_OK, "httpc: GET answered");
	is_int(rs.status, 200, "httpc: status read");
	is_str(rs.body, "{\"ok\":true}", "httpc: body read");
	is_str(rs.content_type, "application/json", "httpc: Content-Type captured");
	is_str(rs.retry_after, "12", "httpc: Retry-After captured");
	is_str(rs.cookies, "JSESSIONID.1=abc; b=2", "httpc: Set-Cookie pairs captured");
	ok(strstr(srv.last, "GET /api/x?a=1 HTTP/1.1\r\n") == srv.last, "httpc: request line as given");
	ok(strstr(srv.last, "\r\nAuthorization: Bearer sekrit\r\n") != NULL, "httpc: headers sent");
	ok(strstr(srv.last, "Expect:") == NULL, "httpc: no Expect header");
	farm_httpc_resp_clear(&rs);

	for (int i = 0; i < 5; i++) {
		farm_httpc_do(h, &rq, &rs);
		farm_httpc_resp_clear(&rs);
	}
	is_int(farm_httpc_connections(h), 1, "httpc: six calls, one connection (keep-alive)");
	is_int(srv.connections, 1, "httpc: the server saw one connection");

	rq.method = "POST";
	rq.body = "a=1&b=2";
	rq.body_len = 7;
	script(302, "Location: http://127.0.0.1:1/elsewhere\r\n", "");
	rc = farm_httpc_do(h, &rq, &rs);
	ok(rc == FARM_OK && rs.status == 302, "httpc: a redirect is answered, not followed");
	is_str(rs.location, "http://127.0.0.1:1/elsewhere", "httpc: Location captured");
	ok(strstr(srv.last, "POST /api/x?a=1") == srv.last && strstr(srv.last, "\r\n\r\na=1&b=2"),
	   "httpc: POST body sent");
	farm_httpc_resp_clear(&rs);
	rq.method = "GET";
	rq.body = NULL;
	rq.body_len = 0;

	script(200, "", "");
	pthread_mutex_lock(&srv.mu);
	srv.chunked_total = 300000;
	pthread_mutex_unlock(&srv.mu);
	rc = farm_httpc_do(h, &rq, &rs);
	is_int(rc, FARM_E_TOOBIG, "httpc: a chunked body over max_body is cut (write callback)");
	ok(rs.body == NULL && rs.len == 0, "httpc: no partial body is kept");
	farm_httpc_resp_clear(&rs);

	{
		static char big[4000];
		struct farm_httpc_opts small = o;
		memset(big, 'y', sizeof(big) - 1);
		small.max_body = 2000;
		farm_httpc_set_opts(h, &small);
		script(200, "", big);
		rc = farm_httpc_do(h, &rq, &rs);
		is_int(rc, FARM_E_TOOBIG, "httpc: a Content-Length over max_body is refused");
		farm_httpc_resp_clear(&rs);
		farm_httpc_set_opts(h, &o);
	}

	script(200, "", "{}");
	pthread_mutex_lock(&srv.mu);
	srv.delay_ms = 1500;
	pthread_mutex_unlock(&srv.mu);
	t0 = now_ms();
	rc = farm_httpc_do(h, &rq, &rs);
	is_int(rc, FARM_E_TIMEOUT, "httpc: a slow answer times out");
	ok(now_ms() - t0 >= 700 && now_ms() - t0 < 3000, "httpc: after timeout_ms");
	ok(rs.errbuf[0] != '\0', "httpc: with libcurl's explanation");
	ok(strstr(rs.errbuf, "sekrit") == NULL, "httpc: which holds no header");
	farm_httpc_resp_clear(&rs);
	usleep(900 * 1000); /* let the server finish that answer */

	const char *bad_hdr[] = {"X-Evil: a\r\nX-Injected: 1"};
	script(200, "", "{}");
	rq.headers = bad_hdr;
	rq.nheaders = 1;
	is_int(farm_httpc_do(h, &rq, &rs), FARM_E_INVAL, "httpc: a header with CR/LF is refused");
	farm_httpc_resp_clear(&rs);
	rq.headers = hdrs;
	rq.nheaders = 2;
	const char *urls[] = {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://x/", "http://a b/",
			      "dict://127.0.0.1:11211/"};
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		rq.url = urls[i];
		rc = farm_httpc_do(h, &rq, &rs);
		ok(rc == FARM_E_INVAL, urls[i]);
		farm_httpc_resp_clear(&rs);
	}
	rq.url = url;

	{
		struct farm_httpc_opts strict = o;
		int before;
		strict.allow_loopback = 0;
		struct farm_httpc *h2 = NULL;
		farm_httpc_new(&h2, &strict);
		pthread_mutex_lock(&srv.mu);
		before = srv.connections;
		pthread_mutex_unlock(&srv.mu);
		rc = farm_httpc_do(h2, &rq, &rs);
		is_int(rc, FARM_E_FORBIDDEN, "httpc: loopback refused unless allowed");
		farm_httpc_resp_clear(&rs);
		usleep(100 * 1000);
		is_int(srv.connections, before, "httpc: and no connection was made");
		farm_httpc_free(h2);
	}
	{
		struct sockaddr_in sa = {.sin_family = AF_INET};
		int port;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		socklen_t l = sizeof(sa);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		getsockname(fd, (struct sockaddr *)&sa, &l);
		port = ntohs(sa.sin_port);
		close(fd); /* nothing listens there now */
		char dead[64];
		snprintf(dead, sizeof(dead), "http://127.0.0.1:%d/", port);
		rq.url = dead;
		is_int(farm_httpc_do(h, &rq, &rs), FARM_E_UPSTREAM, "httpc: connection refused");
		farm_httpc_resp_clear(&rs);
		rq.url = url;
	}
	farm_httpc_free(h);
	farm_httpc_free(NULL);
}

static int allowed(int family, const char *addr, int lo)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};

	if (family == AF_INET) {
		inet_pton(AF_INET, addr, &a4.sin_addr);
		return farm_httpc_addr_allowed(&a4, lo);
	}
	inet_pton(AF_INET6, addr, &a6.sin6_addr);
	return farm_httpc_addr_allowed(&a6, lo);
}

static void test_policy(void)
{
	static const struct {
		int family;
		const char *addr;
		int lo0, lo1;
	} cases[] = {
		{AF_INET, "127.0.0.1", 0, 1},        {AF_INET, "127.8.9.10", 0, 1},
		{AF_INET, "10.1.2.3", 1, 1},         {AF_INET, "192.168.1.1", 1, 1},
		{AF_INET, "93.184.216.34", 1, 1},    {AF_INET, "169.254.169.254", 0, 0},
		{AF_INET, "169.254.0.1", 0, 0},      {AF_INET, "0.0.0.0", 0, 0},
		{AF_INET, "224.0.0.1", 0, 0},        {AF_INET, "255.255.255.255", 0, 0},
		{AF_INET, "100.100.100.200", 0, 0},  {AF_INET6, "::1", 0, 1},
		{AF_INET6, "::", 0, 0},              {AF_INET6, "::ffff:169.254.169.254", 0, 0},
		{AF_INET6, "::ffff:127.0.0.1", 0, 1}, {AF_INET6, "::ffff:10.0.0.1", 1, 1},
		{AF_INET6, "fe80::1", 0, 0},         {AF_INET6, "febf::1", 0, 0},
		{AF_INET6, "ff02::1", 0, 0},         {AF_INET6, "fd00:ec2::254", 0, 0},
		{AF_INET6, "2001:db8::1", 1, 1},     {AF_INET6, "fd12:3456::1", 1, 1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[96];
		snprintf(name, sizeof(name), "policy: %s %s / %s", cases[i].addr,
			 cases[i].lo0 ? "allowed" : "refused",
			 cases[i].lo1 ? "allowed with loopback" : "refused with loopback");
		ok(allowed(cases[i].family, cases[i].addr, 0) == cases[i].lo0 &&
			   allowed(cases[i].family, cases[i].addr, 1) == cases[i].lo1,
		   name);
	}
	ok(!farm_httpc_addr_allowed(NULL, 1), "policy: no address, no connection");
}

/* ---- the provider layer -------------------------------------------------------------- */

static json_t *the_value;
static int opens;

static int open_value(void *arg, json_t **value)
{
	(void)arg;
	opens++;
	*value = json_deep_copy(the_value);
	return *value ? FARM_OK : FARM_E_NOMEM;
}

static void call_init(struct farm_provider_call *c, const struct farm_provider *p,
		      struct farm_httpc *h, struct farm_arena *a)
{
	memset(c, 0, sizeof(*c));
	c->p = p;
	c->http = h;
	c->arena = a;
	c->timeout_s = 1;
	c->cred_id = "11111111-2222-4333-8444-555555555555";
	c->cred_version = "2025-01-01T00:00:00.000Z:RlJNMQAAAAF";
	c->open_value = open_value;
	c->reqid = "0123456789abcdef";
}

static int read_root(struct farm_provider_call *c, const void *arg, json_t **out)
{
	int rc = farm_provider_get_json(c, "/api/json", NULL, 0, out);

	(void)arg;
	if (rc == FARM_OK)
		json_object_set_new(*out, "n", json_integer(1));
	return rc;
}

static void test_mapping(void)
{
	struct farm_httpc_opts o = {.timeout_ms = 1000, .allow_loopback = 1};
	struct farm_httpc *h = NULL;
	struct farm_arena *a = farm_arena_new(8192);
	struct farm_provider_call c;
	json_t *out = NULL;
	char url[64];
	static const struct {
		int status;
		const char *ctype, *body;
		int want;
		const char *msg;
	} cases[] = {
		{401, "text/html", "<html>no</html>", 502,
		 "Jenkins rejected the stored credential (HTTP 401)"},
		{403, "text/html", "<html>anonymous</html>", 502,
		 "Jenkins rejected the stored credential (HTTP 403)"},
		{404, "text/html", "<html>gone</html>", 404, "Jenkins job 'x' not found"},
		{409, "text/html", "<title>Error 409 x is not buildable</title>", 409,
		 "Jenkins: x is not buildable"},
		{400, "application/json", "{\"message\":\"bad tree\"}", 400, "Jenkins: bad tree"},
		{422, "text/html", "<p>nothing</p>", 400, "Jenkins refused the request (HTTP 422)"},
		{500, "text/html", "<h1>Oops!</h1>", 502, "Jenkins failed (HTTP 500)"},
		{503, "application/json", "{}", 502, "Jenkins failed (HTTP 503)"},
		{405, "text/html", "", 502, "Jenkins failed (HTTP 405)"},
		{301, "text/html", "", 502, "Jenkins answered with something unexpected (HTTP 301)"},
		{200, "text/html", "<!DOCTYPE html><html>login</html>", 502,
		 "Jenkins answered with something unexpected (HTTP 200)"},
		{200, "application/json", "{\"jobs\":[", 502,
		 "Jenkins answered with something unexpected (HTTP 200)"},
		{204, "application/json", "", 502,
		 "Jenkins answered with something unexpected (HTTP 204)"},
	};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/jenkins", srv.port);
	the_value = json_pack("{s:s,s:s,s:s}", "url", url, "username", "farm", "apiToken",
			      "tok-SECRET-1234");
	farm_httpc_new(&h, &o);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char hdr[128], name[160];
		snprintf(hdr, sizeof(hdr), "Content-Type: %s\r\n", cases[i].ctype);
		script(cases[i].status, hdr, cases[i].body);
		call_init(&c, &farm_platform_jenkins.up, h, a);
		int rc = farm_provider_get_json(&c, "/api/json", "job 'x'", 0, &out);
		snprintf(name, sizeof(name), "map: upstream %d (%.20s) -> %d", cases[i].status,
			 cases[i].body, cases[i].want);
		ok(rc == FARM_E_UPSTREAM && out == NULL && c.err.status == cases[i].want, name);
		is_str(c.err.msg, cases[i].msg, "map: ... with its message");
		farm_provider_call_done(&c);
		farm_arena_reset(a);
	}

	/* 429: Retry-After passed on, when it looks like one. */
	script(429, "Retry-After: 120\r\n", "{}");
	call_init(&c, &farm_platform_jenkins.up, h, a);
	farm_provider_get_json(&c, "/api/json", NULL, 0, &out);
	ok(c.err.status == 429 && !strcmp(c.err.retry_after, "120"), "map: 429 keeps Retry-After");
	farm_provider_call_done(&c);
	script(429, "Retry-After: <script>\r\n", "{}");
	call_init(&c, &farm_platform_jenkins.up, h, a);
	farm_provider_get_json(&c, "/api/json", NULL, 0, &out);
	ok(c.err.status == 429 && c.err.retry_after[0] == '\0',
	   "map: a Retry-After that is neither seconds nor a date is dropped");
	farm_provider_call_done(&c);

	/* The platform's message is sanitised, bounded and stripped of every secret. */
	script(400, "Content-Type: application/json\r\n",
	       "{\"message\":\"token tok-SECRET-1234 for farm is\\n\\u0001 bad \\u00e9t\\u00e9 "
	       "tok-SECRET-1234\"}");
	call_init(&c, &farm_platform_jenkins.up, h, a);
	farm_provider_get_json(&c, "/api/json", NULL, 0, &out);
	is_str(c.err.msg, "Jenkins: token [redacted] for farm is bad \xc3\xa9t\xc3\xa9 [redacted]",
	       "map: the platform message is cleaned and the secret redacted");
	{
		char body[600];
		snprintf(body, sizeof(body), "{\"message\":\"%.*s tok-SECRET-1234 tail\"}", 192,
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		script(400, "Content-Type: application/json\r\n", body);
		farm_provider_call_done(&c);
		call_init(&c, &farm_platform_jenkins.up, h, a);
		farm_provider_get_json(&c, "/api/json", NULL, 0, &out);
		ok(c.err.status == 400 && !strstr(c.err.msg, "tok-") && strlen(c.err.msg) < 220,
		   "map: a long message is cut after redaction: no piece of the secret at the cut");
	}
	ok(strstr(srv.last, "Authorization: Basic ZmFybTp0b2stU0VDUkVULTEyMzQ=\r\n") != NULL,
	   "jenkins: Basic username:apiToken, preemptively");
	ok(strstr(srv.last, "GET /jenkins/api/json HTTP/1.1") == srv.last,
	   "the credential's url is the base, its path kept");
	farm_provider_call_done(&c);

	/* Transport failures. */
	script(200, "", "{}");
	pthread_mutex_lock(&srv.mu);
	srv.delay_ms = 1300;
	pthread_mutex_unlock(&srv.mu);
	call_init(&c, &farm_platform_jenkins.up, h, a);
	farm_provider_get_json(&c, "/api/json", NULL, 0, &out);
	ok(c.err.status == 504 && !strcmp(c.err.msg, "Jenkins did not answer within 1 s"),
	   "map: a timeout is a 504");
	farm_provider_call_done(&c);
	usleep(600 * 1000);

	/* A credential without a usable url: never a request. */
	json_object_set_new(the_value, "url", json_string("ftp://x"));
	call_init(&c, &farm_platform_jenkins.up, h, a);
	farm_provider_get_json(&c, "/api/json", NULL, 0, &out);
	ok(c.err.status == 502 && strstr(c.err.msg, "has no usable url"),
	   "a credential url that is not http(s) is never used");
	farm_provider_call_done(&c);
	json_object_set_new(the_value, "url", json_string(url));

	/* Reads through the cache: one upstream exchange, the value opened once. */
	{
		struct farm_cache *cache = NULL;
		char *text = NULL;
		size_t len = 0;
		int before;
		farm_cache_new(&cache, 1 << 20);
		script(200, "Content-Type: application/json\r\n", "{\"jobs\":[]}");
		pthread_mutex_lock(&srv.mu);
		before = srv.requests;
		pthread_mutex_unlock(&srv.mu);
		opens = 0;
		for (int i = 0; i < 3; i++) {
			call_init(&c, &farm_platform_jenkins.up, h, a);
			c.cache = cache;
			c.cache_ttl_ms = 60000;
			ok(farm_provider_read(&c, "root", read_root, NULL, &text, &len) == FARM_OK &&
				   !strcmp(text, "{\"jobs\":[],\"n\":1}") && len == strlen(text),
			   "cache: a read answers its JSON text");
			ok(!strcmp(c.cache_state, i ? "hit" : "miss"), i ? "cache: hit" : "cache: miss");
			free(text);
			farm_provider_call_done(&c);
		}
		is_int(srv.requests - before, 1, "cache: three reads, one upstream exchange");
		is_int(opens, 1, "cache: a hit needs no decryption");
		call_init(&c, &farm_platform_jenkins.up, h, a);
		c.cache = cache;
		c.cache_ttl_ms = 60000;
		farm_provider_read(&c, "other", read_root, NULL, &text, &len);
		ok(!strcmp(c.cache_state, "miss"), "cache: another read is another key");
		free(text);
		farm_provider_call_done(&c);
		call_init(&c, &farm_platform_jenkins.up, h, a);
		c.cache = cache;
		c.cache_ttl_ms = 60000;
		c.cred_version = "2025-01-02T00:00:00.000Z:RlJNMQAAAAG";
		farm_provider_read(&c, "root", read_root, NULL, &text, &len);
		ok(!strcmp(c.cache_state, "miss"), "cache: a new credential version is a new key");
		free(text);
		farm_provider_call_done(&c);
		farm_cache_invalidate(cache, "11111111-2222-4333-8444-555555555555");
		call_init(&c, &farm_platform_jenkins.up, h, a);
		c.cache = cache;
		c.cache_ttl_ms = 60000;
		farm_provider_read(&c, "root", read_root, NULL, &text, &len);
		ok(!strcmp(c.cache_state, "miss"), "cache: invalidating the credential drops it");
		free(text);
		farm_provider_call_done(&c);

		script(203, "Content-Type: application/json\r\n", "{\"jobs\":[]}");
		for (int i = 0; i < 2; i++) {
			call_init(&c, &farm_platform_jenkins.up, h, a);
			c.cache = cache;
			c.cache_ttl_ms = 60000;
			farm_provider_read(&c, "non-200", read_root, NULL, &text, &len);
			ok(!strcmp(c.cache_state, "miss"), "cache: an answer built from a 203 is not kept");
			free(text);
			farm_provider_call_done(&c);
		}
		script(500, "", "");
		call_init(&c, &farm_platform_jenkins.up, h, a);
		c.cache = cache;
		c.cache_ttl_ms = 60000;
		ok(farm_provider_read(&c, "fails", read_root, NULL, &text, &len) == FARM_E_UPSTREAM &&
			   !text && c.err.status == 502,
		   "cache: a failed read answers its error");
		farm_provider_call_done(&c);
		script(200, "Content-Type: application/json\r\n", "{\"jobs\":[]}");
		call_init(&c, &farm_platform_jenkins.up, h, a);
		c.cache = cache;
		c.cache_ttl_ms = 60000;
		farm_provider_read(&c, "fails", read_root, NULL, &text, &len);
		ok(!strcmp(c.cache_state, "miss"), "cache: and is not kept");
		free(text);
		farm_provider_call_done(&c);
		for (int i = 0; i < 2; i++) {
			json_t *j = NULL;
			call_init(&c, &farm_platform_jenkins.up, h, a);
			c.cache = cache;
			c.cache_ttl_ms = 60000;
			ok(farm_provider_get_json(&c, "/direct", NULL, 0, &j) == FARM_OK &&
				   !strcmp(c.cache_state, i ? "hit" : "miss"),
			   i ? "cache: an upstream read called on its own is kept (hit)"
			     : "cache: an upstream read called on its own is kept (miss)");
			json_decref(j);
			farm_provider_call_done(&c);
		}
		call_init(&c, &farm_platform_jenkins.up, h, a);
		ok(farm_provider_read(&c, "root", read_root, NULL, &text, &len) == FARM_OK &&
			   c.cache_state == NULL,
		   "no cache: the read runs, no cache state");
		free(text);
		farm_provider_call_done(&c);
		farm_cache_free(cache);
	}

	/* The auth header of each platform. */
	{
		static const struct {
			const struct farm_provider *p;
			const char *value, *want1, *want2;
		} auths[] = {
			{&farm_platform_argocd.up, "{\"token\":\"A.B.C\"}", "Authorization: Bearer A.B.C\r\n",
			 NULL},
			{&farm_platform_circleci.up, "{\"token\":\"cci\"}", "Circle-Token: cci\r\n", NULL},
			{&farm_platform_travisci.up, "{\"token\":\"trv\"}", "Authorization: token trv\r\n",
			 "Travis-API-Version: 3\r\n"},
		};
		for (size_t i = 0; i < 3; i++) {
			json_decref(the_value);
			the_value = json_loads(auths[i].value, 0, NULL);
			json_object_set_new(the_value, "url", json_string(url));
			script(200, "Content-Type: application/json\r\n", "{}");
			call_init(&c, auths[i].p, h, a);
			farm_provider_get_json(&c, "/x", NULL, 0, &out);
			json_decref(out);
			ok(strstr(srv.last, auths[i].want1) &&
				   (!auths[i].want2 || strstr(srv.last, auths[i].want2)),
			   auths[i].p->title);
			farm_provider_call_done(&c);
		}
		ok(strstr(srv.last, "GET /jenkins/x HTTP/1.1") == srv.last,
		   "travisci: an Enterprise url is the API root as is");
		json_object_del(the_value, "url");
		call_init(&c, &farm_platform_circleci.up, h, a);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
		c.conf_base = url;
		farm_provider_get_json(&c, "/me", NULL, 0, &out);
		json_decref(out);
		ok(strstr(srv.last, "GET /api/v2/me HTTP/1.1") == srv.last,
		   "circleci: without a url, circleci.api_url + /api/v2");
		farm_provider_call_done(&c);
		call_init(&c, &farm_platform_argocd.up, h, a);
		c.conf_base = url;
		farm_provider_get_json(&c, "/api/v1/applications", NULL, 0, &out);
		ok(c.err.status == 502 && strstr(c.err.msg, "no usable url"),
		   "argocd: the url must come from the credential");
		farm_provider_call_done(&c);
	}
	json_decref(the_value);
	farm_httpc_free(h);
	farm_arena_free(a);
}

/* ---- the operations, against scripted answers (shapes, bodies sent, no leaks) ---------- */

static void test_ops(void)
{
	struct farm_httpc_opts o = {.timeout_ms = 2000, .allow_loopback = 1};
	struct farm_httpc *h = NULL;
	struct farm_arena *a = farm_arena_new(8192);
	struct farm_provider_call c;
	json_t *out = NULL, *in;
	char url[64], *s;
	const char *J = "Content-Type: application/json\r\n";

	farm_httpc_new(&h, &o);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	the_value = json_pack("{s:s,s:s,s:s,s:s}", "url", url, "token", "tk-0123", "username", "u",
			      "apiToken", "at-0123");
#define CALL(p) (farm_provider_call_done(&c), farm_arena_reset(a), call_init(&c, (p), h, a))
	call_init(&c, &farm_platform_argocd.up, h, a);

	script(200, J, "{\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"a\"}}]}");
	ok(farm_provider_argocd_list(&c, &out) == FARM_OK && json_array_size(out) == 1,
	   "argocd list: the items");
	json_decref(out);
	CALL(&farm_platform_argocd.up);
	script(200, J, "{\"metadata\":{},\"items\":null}");
	ok(farm_provider_argocd_list(&c, &out) == FARM_OK && json_array_size(out) == 0,
	   "argocd list: items null is []");
	json_decref(out);
	CALL(&farm_platform_argocd.up);
	script(200, J, "{\"items\":{}}");
	ok(farm_provider_argocd_list(&c, &out) == FARM_E_UPSTREAM && c.err.status == 502,
	   "argocd list: items of another type is a 502");
	CALL(&farm_platform_argocd.up);
	script(403, J, "{\"error\":\"permission denied\",\"code\":7,\"message\":\"permission denied\"}");
	ok(farm_provider_argocd_get(&c, "nope", &out) == FARM_E_UPSTREAM && c.err.status == 404,
	   "argocd get: 403 on a named app is a 404");
	ok(strstr(srv.last, "GET /api/v1/applications/nope ") == srv.last, "argocd get: the path");
	CALL(&farm_platform_argocd.up);
	in = json_loads("{\"revision\":\"v1\",\"prune\":true,\"syncOptions\":[\"A=1\"]}", 0, NULL);
	script(200, J, "{\"metadata\":{\"name\":\"app\"},\"operation\":{}}");
	ok(farm_provider_argocd_sync(&c, "app", in, &out) == FARM_OK && json_is_object(out),
	   "argocd sync: the application back");
	s = strstr(srv.last, "\r\n\r\n");
	ok(s && !strcmp(s + 4, "{\"name\":\"app\",\"revision\":\"v1\",\"prune\":true,"
				"\"syncOptions\":{\"items\":[\"A=1\"]}}"),
	   "argocd sync: the body sent");
	json_decref(out);
	json_decref(in);
	CALL(&farm_platform_argocd.up);
	script(400, J, "{\"error\":\"another operation is already in progress\",\"code\":9,"
		       "\"message\":\"another operation is already in progress\"}");
	ok(farm_provider_argocd_sync(&c, "app", NULL, &out) == FARM_E_UPSTREAM &&
		   c.err.status == 409,
	   "argocd sync: another operation in progress is a 409");
	CALL(&farm_platform_argocd.up);
	in = json_loads("{\"prune\":1}", 0, NULL);
	ok(farm_provider_argocd_sync(&c, "app", in, &out) == FARM_E_INVAL && c.err.status == 400,
	   "argocd sync: a bad option is a 400");
	json_decref(in);

	CALL(&farm_platform_circleci.up);
	c.conf_base = url;
	script(200, J, "{\"items\":[{\"id\":\"1\",\"vcs\":{\"target_repository_url\":"
		       "\"https://gitlab.com/a/b\"}},{\"id\":\"2\"}],\"next_page_token\":null}");
	ok(farm_provider_circleci_pipelines(&c, "https://gitlab.com/a/b.git", &out) == FARM_OK &&
		   json_array_size(out) == 1,
	   "circleci pipelines: the org listing filtered on the repository");
	json_decref(out);
	CALL(&farm_platform_circleci.up);
	c.conf_base = url;
	script(200, J, "{\"items\":[{\"id\":\"1\"}],\"next_page_token\":\"tok/+=\"}");
	ok(farm_provider_circleci_pipelines(&c, "https://github.com/a/b", &out) == FARM_OK &&
		   json_array_size(out) == FARM_CIRCLECI_MAX_PAGES && c.upstream_calls == FARM_CIRCLECI_MAX_PAGES,
	   "circleci pipelines: page tokens followed up to the bound");
	ok(strstr(srv.last, "GET /api/v2/project/gh/a/b/pipeline?page-token=tok%2F%2B%3D ") == srv.last,
	   "circleci pipelines: the page token encoded");
	json_decref(out);
	CALL(&farm_platform_circleci.up);
	c.conf_base = url;
	script(200, J, "{\"items\":7}");
	ok(farm_provider_circleci_pipelines(&c, NULL, &out) == FARM_E_UPSTREAM && c.err.status == 502,
	   "circleci pipelines: a bad shape is a 502");
	CALL(&farm_platform_circleci.up);
	c.conf_base = url;
	in = json_loads("{\"branch\":\"main\",\"parameters\":{\"x\":1}}", 0, NULL);
	script(201, J, "{\"id\":\"u-1\",\"state\":\"pending\",\"number\":9,"
		       "\"created_at\":\"2025-01-01T00:00:00.000Z\",\"extra\":1}");
	ok(farm_provider_circleci_trigger(&c, "gh/a/b", in, &out) == FARM_OK &&
		   json_object_size(out) == 4 && json_integer_value(json_object_get(out, "number")) == 9,
	   "circleci trigger: {id, number, state, created_at}");
	ok(strstr(srv.last, "POST /api/v2/project/gh/a/b/pipeline ") == srv.last &&
		   strstr(srv.last, "\r\n\r\n{\"branch\":\"main\",\"parameters\":{\"x\":1}}"),
	   "circleci trigger: path and body");
	json_decref(out);
	json_decref(in);
	CALL(&farm_platform_circleci.up);
	in = json_loads("{\"branch\":\"a\",\"tag\":\"b\"}", 0, NULL);
	ok(farm_provider_circleci_trigger(&c, "gh/a/b", in, &out) == FARM_E_INVAL,
	   "circleci trigger: branch and tag is a 400");
	json_decref(in);

	CALL(&farm_platform_jenkins.up);
	script(200, J, "{\"jobs\":[{\"_class\":\"x.Folder\",\"name\":\"f\",\"jobs\":[{\"name\":"
		       "\"j\",\"color\":\"red\",\"url\":\"u\",\"lastBuild\":{\"_class\":\"b\","
		       "\"number\":3,\"result\":\"FAILURE\",\"timestamp\":1,\"duration\":2}}]},"
		       "{\"name\":\"k\",\"lastBuild\":null},{\"_class\":\"a.Folder\",\"name\":\"deep\"}]}");
	ok(farm_provider_jenkins_jobs(&c, &out) == FARM_OK && json_array_size(out) == 2, "jenkins jobs");
	s = json_dumps(out, JSON_COMPACT);
	is_str(s, "[{\"name\":\"f/j\",\"url\":\"u\",\"color\":\"red\",\"lastBuild\":{\"number\":3,"
		  "\"result\":\"FAILURE\",\"timestamp\":1,\"duration\":2}},{\"name\":\"k\",\"url\":null,"
		  "\"color\":null,\"lastBuild\":null}]",
	       "jenkins jobs: flattened to the seed shape");
	free(s);
	json_decref(out);
	CALL(&farm_platform_jenkins.up);
	script(200, J, "{\"builds\":[{\"number\":1,\"result\":\"SUCCESS\",\"building\":false},"
		       "{\"number\":3,\"result\":null,\"building\":true},{\"number\":2}]}");
	ok(farm_provider_jenkins_builds(&c, "a b", 2, &out) == FARM_OK && json_array_size(out) == 2 &&
		   json_integer_value(json_object_get(json_array_get(out, 0), "number")) == 3 &&
		   json_integer_value(json_object_get(json_array_get(out, 1), "number")) == 2,
	   "jenkins builds: newest first, cut at the limit");
	json_decref(out);
	CALL(&farm_platform_jenkins.up);
	script(200, J, "{\"_class\":\"com.cloudbees.hudson.plugins.folder.Folder\",\"jobs\":[]}");
	ok(farm_provider_jenkins_builds(&c, "f", 5, &out) == FARM_E_INVAL && c.err.status == 400,
	   "jenkins builds: a folder is a 400");
	CALL(&farm_platform_jenkins.up);
	in = json_loads("{\"A\":\"x y\",\"B\":2.5,\"C\":false}", 0, NULL);
	script(201, "Location: http://j/queue/item/77/\r\n", "");
	ok(farm_provider_jenkins_build(&c, "f/j", in, &out) == FARM_OK &&
		   json_integer_value(json_object_get(out, "queueId")) == 77,
	   "jenkins build: the queue item from Location");
	ok(strstr(srv.last, "POST /job/f/job/j/buildWithParameters ") == srv.last &&
		   strstr(srv.last, "\r\n\r\nA=x%20y&B=2.5&C=false"),
	   "jenkins build: buildWithParameters with a form body");
	json_decref(out);
	json_decref(in);
	CALL(&farm_platform_jenkins.up);
	script(201, "", "");
	ok(farm_provider_jenkins_build(&c, "j", NULL, &out) == FARM_E_UPSTREAM && c.err.status == 502,
	   "jenkins build: no Location is a 502");
	CALL(&farm_platform_jenkins.up);
	script(403, "Content-Type: text/html\r\n", "<html>No valid crumb was included</html>");
	ok(farm_provider_jenkins_build(&c, "j", NULL, &out) == FARM_E_UPSTREAM && c.err.status == 502 &&
		   c.upstream_calls == 2,
	   "jenkins build: a crumb asked for but none to be had: one crumb request, then 502");

	CALL(&farm_platform_travisci.up);
	c.conf_base = url;
	json_object_del(the_value, "url");
	script(200, J, "{\"@type\":\"builds\",\"builds\":[{\"id\":1},{\"id\":2}]}");
	ok(farm_provider_travisci_builds(&c, "o/r", 10, 20, &out) == FARM_OK && json_array_size(out) == 2,
	   "travis builds: the builds array");
	ok(strstr(srv.last, "GET /repo/o%2Fr/builds?limit=10&offset=20 ") == srv.last,
	   "travis builds: slug %2F-encoded, limit and offset");
	json_decref(out);
	CALL(&farm_platform_travisci.up);
	c.conf_base = url;
	script(406, J, "{\"@type\":\"error\",\"error_type\":\"repository_inactive\","
		       "\"error_message\":\"repository not active\"}");
	ok(farm_provider_travisci_restart(&c, "5", &out) == FARM_E_UPSTREAM && c.err.status == 400 &&
		   !strcmp(c.err.msg, "Travis CI: repository not active"),
	   "travis restart: 406 is a 400 with Travis' message");
	CALL(&farm_platform_travisci.up);
	ok(farm_provider_travisci_restart(&c, "5x", &out) == FARM_E_INVAL && c.upstream_calls == 0,
	   "travis restart: a bad id never leaves farm");
	farm_provider_call_done(&c);
#undef CALL
	json_decref(the_value);
	farm_httpc_free(h);
	farm_arena_free(a);
}

/* ---- text helpers and input checks ---------------------------------------------------- */

static void test_text(void)
{
	struct farm_arena *a = farm_arena_new(4096);
	char out[64], why[200];
	json_t *v;

	is_str(farm_provider_pct(a, "a b/\xc3\xbc%~._-Z9"), "a%20b%2F%C3%BC%25~._-Z9",
	       "pct: one segment, RFC 3986 unreserved kept");
	farm_provider_sanitize("  a\r\n\tb  \x01 c ", 13, out, sizeof(out));
	is_str(out, "a b c", "sanitize: control characters and runs of spaces collapse");
	farm_provider_sanitize("ok\xff\xc3(x", 7, out, sizeof(out));
	is_str(out, "ok?" "?(x", "sanitize: invalid UTF-8 replaced");
	farm_provider_sanitize("\xed\xa0\x80z", 4, out, sizeof(out));
	is_str(out, "???z", "sanitize: UTF-16 surrogates are not UTF-8");
	farm_provider_sanitize("ab\xc3\xa9\xc3\xa9", 6, out, 5);
	is_str(out, "ab\xc3\xa9", "sanitize: cut on a character boundary");

	v = json_pack("{s:s,s:s,s:s,s:s}", "token", "s3cr3t-tok", "url", "http://host/s3cr3t-tok",
		      "username", "farm", "webhookSecret", "abc");
	snprintf(out, sizeof(out), "bad s3cr3t-tok here s3cr3t-tok; farm abc");
	farm_provider_redact(out, sizeof(out), v);
	is_str(out, "bad [redacted] here [redacted]; farm abc",
	       "redact: every occurrence of the secret (not url, username, or under 4 bytes)");
	snprintf(out, 16, "x s3cr3t-tok");
	farm_provider_redact(out, 16, v);
	is_str(out, "x [redacted]", "redact: within the buffer");
	json_decref(v);

	static const char *good_apps[] = {"guestbook", "billing-api", "a", "a.b-c", "x0"};
	static const char *bad_apps[] = {"", "Guestbook", "-a", "a-", ".a", "a..b", "a/b",
					 "a b", "a\nb", "../etc"};
	for (size_t i = 0; i < sizeof(good_apps) / sizeof(good_apps[0]); i++)
		ok(farm_provider_argocd_name_ok(good_apps[i], why, sizeof(why)), good_apps[i]);
	for (size_t i = 0; i < sizeof(bad_apps) / sizeof(bad_apps[0]); i++)
		ok(!farm_provider_argocd_name_ok(bad_apps[i], why, sizeof(why)), "argocd: bad name refused");

	static const struct {
		const char *url, *slug;
	} slugs[] = {
		{"https://github.com/org/repo", "gh/org/repo"},
		{"https://github.com/org/repo.git", "gh/org/repo"},
		{"https://github.com/org/repo/", "gh/org/repo"},
		{"http://www.github.com/Org/Repo", "gh/Org/Repo"},
		{"git@github.com:org/repo.git", "gh/org/repo"},
		{"ssh://git@bitbucket.org/team/site", "bb/team/site"},
		{"https://bitbucket.org/team/site.git", "bb/team/site"},
		{"https://gitlab.com/org/repo", NULL},
		{"https://github.com.evil.com/org/repo", NULL},
		{"https://github.com/org", NULL},
		{"https://github.com/org/repo/tree/main", NULL},
		{"https://github.com/../repo", NULL},
		{"https://github.com/org/re po", NULL},
	};
	for (size_t i = 0; i < sizeof(slugs) / sizeof(slugs[0]); i++) {
		char got[128], name[160];
		int r = farm_provider_circleci_slug_of(slugs[i].url, got, sizeof(got));
		snprintf(name, sizeof(name), "circleci: %s -> %s", slugs[i].url,
			 slugs[i].slug ? slugs[i].slug : "(org listing)");
		ok(slugs[i].slug ? r && !strcmp(got, slugs[i].slug) : !r, name);
	}
	ok(farm_provider_circleci_slug_ok("gh/org/repo", why, sizeof(why)) &&
		   farm_provider_circleci_slug_ok("bb/o/r", why, sizeof(why)) &&
		   farm_provider_circleci_slug_ok("circleci/5e4b/8f3d", why, sizeof(why)),
	   "circleci: gh/bb/circleci slugs accepted");
	ok(!farm_provider_circleci_slug_ok("gh/org", why, sizeof(why)) &&
		   !farm_provider_circleci_slug_ok("gl/org/repo", why, sizeof(why)) &&
		   !farm_provider_circleci_slug_ok("gh/../repo", why, sizeof(why)) &&
		   !farm_provider_circleci_slug_ok("gh/org/repo/x", why, sizeof(why)) &&
		   !farm_provider_circleci_slug_ok("gh/org/re\npo", why, sizeof(why)) &&
		   !farm_provider_circleci_slug_ok(NULL, why, sizeof(why)),
	   "circleci: other slugs refused");

	is_str(farm_provider_jenkins_job_path(a, "a/b c/nightly 100%", why, sizeof(why)),
	       "/job/a/job/b%20c/job/nightly%20100%25", "jenkins: folders as job/a/job/b, encoded");
	static const char *bad_jobs[] = {"", "/a", "a/", "a//b", "..", "a/../b", ".", "a/./b",
					 "a\r\nb", "a/b/c/d/e/f/g/h/i/j/k"};
	for (size_t i = 0; i < sizeof(bad_jobs) / sizeof(bad_jobs[0]); i++)
		ok(!farm_provider_jenkins_job_path(a, bad_jobs[i], why, sizeof(why)),
		   "jenkins: bad job name refused");

	ok(farm_provider_travisci_slug_ok("acme/api", why, sizeof(why)) &&
		   farm_provider_travisci_slug_ok("a.b_c-d/e.f", why, sizeof(why)),
	   "travis: owner/name accepted");
	ok(!farm_provider_travisci_slug_ok("acme", why, sizeof(why)) &&
		   !farm_provider_travisci_slug_ok("acme/api/x", why, sizeof(why)) &&
		   !farm_provider_travisci_slug_ok("../api", why, sizeof(why)) &&
		   !farm_provider_travisci_slug_ok("acme/..", why, sizeof(why)) &&
		   !farm_provider_travisci_slug_ok("a b/c", why, sizeof(why)) &&
		   !farm_provider_travisci_slug_ok("/api", why, sizeof(why)),
	   "travis: other slugs refused");
	ok(farm_platform_find("jenkins") == &farm_platform_jenkins && !farm_platform_find("gitlab") &&
		   !farm_platform_find(NULL),
	   "providers are found by credential type");
	farm_arena_free(a);
}

/* Every descriptor is complete, and its config keys are the config table's (same
 * default, same secrecy), so the docs' tables generated from either agree. */
static void test_registry(void)
{
	size_t nkeys, n = 0;
	const struct farm_conf_key *keys;
	char name[160];

	/* As every program does at start-up: the descriptors' rows join the table. */
	ok(farm_platform_conf_register() == FARM_OK, "registry: the platforms' config keys register");
	keys = farm_conf_keys(&nkeys);

	for (size_t i = 0; farm_platforms[i]; i++) {
		const struct farm_platform *pl = farm_platforms[i];
		int whole = pl->up.type && pl->up.title && pl->up.auth && pl->up.message && pl->fields &&
			    pl->routes && pl->routes[0].method && pl->statuses && pl->run_id;

		for (const struct farm_platform_route *rt = pl->routes; whole && rt->method; rt++)
			whole = rt->path && rt->path[0] == '/' && rt->run &&
				(rt->flags & (FARM_PLATFORM_AUTH | FARM_PLATFORM_ADMIN));
		snprintf(name, sizeof(name), "registry: %s has every part of a descriptor", pl->up.type);
		ok(whole, name);
		snprintf(name, sizeof(name), "registry: %s is found by type", pl->up.type);
		ok(farm_platform_find(pl->up.type) == pl, name);
		for (const struct farm_platform_conf *c = pl->conf; c && c->key; c++) {
			const struct farm_conf_key *k = NULL;
			for (size_t j = 0; j < nkeys; j++)
				if (!strcmp(keys[j].name, c->key))
					k = &keys[j];
			snprintf(name, sizeof(name), "registry: %s's key %s is the config table's",
				 pl->up.type, c->key);
			ok(k && !strcmp(k->def, c->def) && k->secret == c->secret && !strcmp(k->doc, c->doc) &&
				   k->type == c->type && (farm_conf_type_is_str(c->type) ||
							 (k->min == c->min && k->max == c->max)),
			   name);
		}
		n++;
	}
	/* The fixed order is alphabetical by type: each new platform's line has one place. */
	char joined[512] = "";
	int sorted = 1;
	for (size_t i = 0; farm_platforms[i]; i++) {
		if (i > 0 && strcmp(farm_platforms[i - 1]->up.type, farm_platforms[i]->up.type) >= 0)
			sorted = 0;
		snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s",
			 i ? ", " : "", farm_platforms[i]->up.type);
	}
	ok(n >= 4 && sorted, "registry: every type once, in alphabetical order");
	is_str(farm_platform_types(), joined, "registry: \"one of\" lists the types in that order");
	ok(farm_platform_find("argocd") && farm_platform_find("circleci") &&
		   farm_platform_find("jenkins") && farm_platform_find("travisci") &&
		   !farm_platform_find("Jenkins") && !farm_platform_find(""),
	   "registry: the seed-000 platforms are found by exact type");
}

int main(void)
{
	farm_json_init();
	farm_log_init("test-provider", FARM_LOG_ERROR); /* the mapping's warnings are expected */
	farm_httpc_global_init();
	server_start();
	test_httpc();
	test_policy();
	test_mapping();
	test_ops();
	test_text();
	test_registry();
	server_stop();
	return done_testing();
}
