#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "auth/authcache.h"
#include "vault/vault.h"
#include "auth/oidc_rp.h"
#include "connect/connect.h"
#include "core/log.h"
#include "http/http.h"
#include "http/response.h"
#include "server/dispatch.h"
#include "server/metrics.h"
#include "server/supervisor.h"
#include "server/worker.h"
#include "store/apikeys.h"
#include "store/db.h"
#include "store/tenant.h"

#define READ_CHUNK	16384

unsigned long apx_worker_inherited_restarts;
int apx_worker_kept_fd = -1;
int apx_worker_hand_fd = -1;

static volatile sig_atomic_t	 stopping;
static volatile sig_atomic_t	 in_request;
static int			 listen_fd = -1;

static void	 on_term(int);
static int	 wait_request(int, int, struct apx_db *);
static void	 hand_off(FCGX_Request *);
static void	 drain_stdin(FCGX_Request *, long long);
static int	 read_body(FCGX_Request *, struct apx_request *, long long);
static void	 access_log(const struct apx_request *,
		    const struct apx_response *, uint64_t);

static void
on_term(int sig)
{
	int save = errno;

	(void)sig;
	stopping = 1;
	/*
	 * Idle: closing our copy of the listening socket makes a blocked or
	 * about-to-block accept() fail (EBADF after SA_RESTART), so an idle
	 * worker leaves at once. Other workers keep their copies. Busy: the
	 * request finishes (its reads and writes restart) and the loop ends.
	 */
	if (!in_request && listen_fd != -1) {
		close(listen_fd);
		listen_fd = -1;
	}
	errno = save;
}

/*
 * Waits for the next request: on the connection the web server kept
 * (KEPT), else on the listening socket FD.
 *
 * A web server that keeps its FastCGI connections (FCGI_KEEP_CONN: Apache
 * mod_proxy_fcgi with enablereuse=on) sends this worker's next request on
 * the connection of the last one, which libfcgi then reads instead of
 * calling accept(). That read would outlast a SIGTERM (SA_RESTART), so the
 * worker waits here for it to become readable, with SIGTERM let through
 * only inside ppoll(): none is lost between the check and the wait. On
 * the listening socket no signal mask is needed (two system calls fewer
 * per request): a SIGTERM closes it (on_term), which ends a wait on it
 * at once, or makes the one about to start return at once.
 *
 * While the worker holds counts not yet in the database, the wait ends
 * when they are due and they are flushed, on either kind of socket: an
 * idle worker's counts reach /internal/metrics within seconds, not with
 * its next request, which may come much later (or never: a kept
 * connection the server stopped using). A worker that holds none goes
 * straight to accept(), as does one woken with others by a new connection
 * that another took: it flushes with its next request or at exit.
 *
 * Returns 1 to go on (a request; on a kept connection also the server
 * closing it, after which libfcgi goes back to accept()), 0 when a
 * SIGTERM came and no request waits on a kept connection: the worker
 * leaves, and the server sees the close before it would use it again.
 */
static int
wait_request(int fd, int kept, struct apx_db *db)
{
	struct pollfd p;
	struct timespec ts;
	sigset_t term, old;
	long ms;
	int rc;

	if (!kept && apx_metrics_due_ms() < 0)
		return !stopping;
	if (kept) {
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigaddset(&term, SIGINT);
		sigprocmask(SIG_BLOCK, &term, &old);
	}
	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		p.revents = 0;
		if (stopping) {
			rc = kept ? poll(&p, 1, 0) : 0;
			break;
		}
		if ((ms = apx_metrics_due_ms()) >= 0) {
			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000L;
		}
		rc = ppoll(&p, 1, ms >= 0 ? &ts : NULL, kept ? &old : NULL);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc != 0)
			break;
		apx_metrics_flush(db, 0);	/* due, and nothing came */
	}
	if (kept)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return rc != 0;
}

/*
 * Hands the connection the web server kept over to the supervisor, which
 * gives it to the worker that replaces this one; the web server never sees
 * it close. Without a supervisor (or if that fails) the connection is
 * closed, and the server notices before it would use it again.
 */
static void
hand_off(FCGX_Request *fr)
{
	if (apx_worker_hand_fd != -1 &&
	    apx_handoff_send(apx_worker_hand_fd, fr->ipcFd) != 0)
		apx_log_warn("cannot hand the kept connection over: %s",
		    strerror(errno));
	close(fr->ipcFd);
	fr->ipcFd = -1;
	fr->keepConnection = 0;
}

/*
 * On a kept connection the next request follows this one's STDIN stream,
 * and libfcgi reads that stream only as far as the app did: what is left
 * (the empty record that ends it, or a body the app refused unread) would
 * be taken for the next request's start, and libfcgi would drop the
 * connection under the server's next request. It is read and dropped
 * here, up to LIMIT bytes (twice the body cap: more than the web server
 * lets through); past it the connection is closed instead.
 */
static void
drain_stdin(FCGX_Request *fr, long long limit)
{
	char buf[16384];
	int n;

	while ((n = FCGX_GetStr(buf, (int)sizeof(buf), fr->in)) > 0) {
		if ((limit -= n) < 0) {
			fr->keepConnection = 0;
			return;
		}
	}
	if (FCGX_GetError(fr->in) != 0)
		fr->keepConnection = 0;
}

/*
 * libfcgi ends a connection the web server does not keep by shutting its
 * own sending side, waiting for the server to close and reading what came
 * meanwhile (poll, read, then close), so that a request byte left unread
 * cannot turn the close into a reset under the server's last write. Once
 * the body was read as declared, what follows on STDIN is the empty record
 * that ends it, sent with the request (already in libfcgi's buffer): when
 * that is all, the connection is closed at once, without the wait (three
 * system calls and a sleep per request). A detached request is closed
 * without the shutdown (FCGX_Free); FCGX_Finish_r writes the answer first.
 */
static void
close_at_once(FCGX_Request *fr)
{
	if (FCGX_GetChar(fr->in) == EOF && FCGX_HasSeenEOF(fr->in) == EOF &&
	    FCGX_GetError(fr->in) == 0)
		fr->detached = 1;
}

/*
 * Read the body: refuse a declared length over the cap without reading,
 * and stop at cap+1 bytes when no length was declared.
 */
static int
read_body(FCGX_Request *fr, struct apx_request *req, long long cap)
{
	size_t want, got = 0;
	int n;

	if (req->content_length > cap)
		return APX_ETOOBIG;
	want = req->content_length >= 0 ? (size_t)req->content_length :
	    (size_t)cap + 1;
	if (want == 0)
		return 0;
	if ((req->body = apx_arena_alloc(req->arena, want + 1)) == NULL)
		return APX_ENOMEM;
	while (got < want) {
		size_t chunk = want - got < READ_CHUNK ? want - got : READ_CHUNK;

		n = FCGX_GetStr((char *)req->body + got, (int)chunk, fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	req->body[got] = '\0';
	req->body_len = got;
	if (req->content_length < 0 && got > (size_t)cap)
		return APX_ETOOBIG;
	if (req->content_length >= 0 && got != (size_t)req->content_length)
		return APX_EINVAL;	/* client went away mid-body */
	return 0;
}

static void
access_log(const struct apx_request *req, const struct apx_response *resp,
    uint64_t dur)
{
	char path[256], method[16];

	/* The query string is never logged: it may carry codes or tokens. */
	apx_log_sanitize(path, sizeof(path), req->raw_path ? req->raw_path : "-",
	    req->raw_path ? strlen(req->raw_path) : 1);
	apx_log_sanitize(method, sizeof(method), req->method_str ?
	    req->method_str : "-", req->method_str ? strlen(req->method_str) : 1);
	apx_log_func(APX_LOG_INFO, "access",
	    "rid=%s method=%s path=%s route=%s status=%d dur_us=%llu "
	    "bytes=%zu client=%s%s%s", req->request_id, method, path,
	    apx_dispatch_route_label(req), resp->status,
	    (unsigned long long)dur, resp->body.len,
	    req->remote_addr != NULL && *req->remote_addr ? req->remote_addr :
	    "-", *req->client_request_id ? " client_rid=" : "",
	    req->client_request_id);
}

int
apx_worker_run(const struct apx_conf *conf, int fd, int recycle)
{
	struct sigaction sa;
	FCGX_Request fr;
	struct apx_arena *arena = NULL;
	struct apx_db *db = NULL;
	struct apx_tenants *tenants = NULL;
	struct apx_response resp;
	struct apx_request req;
	struct apx_buf out = { 0 }, wire = { 0 };
	struct apx_ctx ctx;
	long long served = 0;
	int rc, last, status = 0;

	listen_fd = fd;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sa.sa_flags = SA_RESTART;	/* a request's I/O is never cut */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_flags = 0;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);	/* libfcgi's; we use SIGTERM */
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, fd, 0) != 0) {
		apx_log_error("cannot initialise libfcgi");
		return 2;
	}
	if ((arena = apx_arena_new()) == NULL ||
	    (db = apx_db_new(conf->db_conninfo, "accupredix-fcgi")) == NULL ||
	    (tenants = apx_tenants_new(conf, db,
	    (size_t)conf->tenant_max_conns)) == NULL) {
		apx_log_error("out of memory");
		status = 2;
		goto out;
	}
	/* what empties the authentication cache (auth/authcache.h) */
	apx_db_listen(db, APX_AUTHCACHE_CHANNEL);
	if (apx_authcache_init(conf->path != NULL ? conf->path : "") != 0)
		apx_log_warn("no shared authentication epoch in /dev/shm: "
		    "revocations reach this worker by notification only");
	{
		/* The keys are read (and a plaintext vault warned of) at
		 * every start, not at the first secret. */
		struct apx_vault *v;
		char verr[256];

		if (apx_vault_get(conf, &v, verr, sizeof(verr)) != 0)
			apx_log_error("%s", verr);
	}
	{
		/* Connector plugins: a .so dropped into the folder is used
		 * from the next worker on. */
		size_t loaded, refused;

		if (apx_connect_load(conf, &loaded, &refused, NULL) == 0 &&
		    (loaded > 0 || refused > 0))
			apx_log_info("connectors: %zu loaded, %zu refused",
			    loaded, refused);
	}
	if (apx_worker_inherited_restarts > 0)
		apx_metrics_inc("apx_worker_restarts_total",
		    (double)apx_worker_inherited_restarts);
	apx_resp_init(&resp, arena);
	if (apx_worker_kept_fd >= 0) {
		/* a connection the worker this one replaces kept */
		fr.ipcFd = apx_worker_kept_fd;
		fr.keepConnection = 1;
	}

	while (!stopping) {
		uint64_t dur;

		/*
		 * FCGX_Accept_r finishes the previous request first; only
		 * then is this worker idle. A SIGTERM between the check and
		 * accept() closes the socket, so accept() fails at once.
		 */
		FCGX_Finish_r(&fr);
		in_request = 0;
		if (stopping)
			break;
		if (!wait_request(fr.ipcFd >= 0 ? fr.ipcFd : fd,
		    fr.ipcFd >= 0, db))
			break;
		rc = FCGX_Accept_r(&fr);
		in_request = 1;
		if (rc < 0) {
			if (stopping)
				break;
			apx_log_error("accept failed: %d", rc);
			status = 1;
			break;
		}

		apx_arena_reset(arena);
		apx_resp_init(&resp, arena);
		resp.body = out;	/* reuse the buffer across requests */
		apx_buf_reset(&resp.body);
		resp.body.max = 64u * 1024 * 1024;
		rc = apx_http_request_init(&req, arena, fr.envp);
		if (rc == 0)
			rc = read_body(&fr, &req, conf->http_max_body);
		ctx.req = &req;
		ctx.resp = &resp;
		ctx.conf = conf;
		ctx.db = db;
		ctx.tenants = tenants;
		ctx.auth = NULL;
		ctx.org = NULL;
		ctx.perm = NULL;
		ctx.touch_key = 0;
		apx_dispatch(&ctx, rc);

		out = resp.body;	/* it may have grown */
		apx_buf_reset(&wire);
		if (apx_resp_serialize(&resp, req.method == APX_M_HEAD,
		    &wire) == 0)
			(void)FCGX_PutStr(wire.data, (int)wire.len, fr.out);
		if (fr.keepConnection)
			drain_stdin(&fr, 2 * conf->http_max_body + READ_CHUNK);
		else if (rc == 0)
			close_at_once(&fr);
		FCGX_Finish_r(&fr);
		/* leaving: the successor gets the kept connection at once */
		last = stopping || (recycle && conf->worker_max_requests > 0 &&
		    served + 1 >= conf->worker_max_requests);
		if (last && fr.ipcFd >= 0)
			hand_off(&fr);
		dur = apx_now_us() - req.start_us;
		/* writes no answer waits for */
		if (ctx.touch_key > 0)
			(void)apx_apikey_touch(db, ctx.touch_key);
		access_log(&req, &resp, dur);
		apx_metrics_request(apx_dispatch_route_label(&req),
		    apx_http_method_name(req.method), resp.status, dur);
		apx_metrics_flush(db, 0);
		served++;
		if (recycle && conf->worker_max_requests > 0 &&
		    served >= conf->worker_max_requests) {
			apx_log_info("served %lld requests: recycling", served);
			break;
		}
	}
out:
	if (fr.ipcFd >= 0)
		hand_off(&fr);
	if (db != NULL)
		apx_metrics_flush(db, 1);
	apx_buf_free(&out);
	apx_buf_free(&wire);
	apx_tenants_free(tenants);
	apx_db_free(db);
	apx_arena_free(arena);
	apx_connect_unload();
	apx_oidc_rp_cache_clear();
	apx_vault_release();	/* keys wiped */
	return status;
}
