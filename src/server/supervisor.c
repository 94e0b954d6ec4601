#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "http/router.h"
#include "routes/routes.h"
#include "server/supervisor.h"
#include "server/worker.h"

#define MAX_WORKERS		256
#define FAST_DEATH_US		(2u * 1000 * 1000)
#define BACKOFF_MIN_US		(100u * 1000)
#define BACKOFF_MAX_US		(10u * 1000 * 1000)
#define TICK_MS			200

struct worker {
	pid_t		 pid;
	unsigned	 gen;		/* config generation it runs */
	int		 stopping;	/* we sent SIGTERM */
	uint64_t	 started_us;
};

static volatile sig_atomic_t	 got_hup, got_term, got_chld;
static int			 sigpipe_fds[2] = { -1, -1 };

/*
 * Kept FastCGI connections (mod_proxy_fcgi with enablereuse=on) outlive a
 * worker: one that leaves (recycled, replaced at a reload) sends the
 * connection it holds over hand_fds[1]; the supervisor queues it and gives
 * it to the next worker it starts. The web server never sees it close, so
 * a request it sends meanwhile waits in the socket instead of failing.
 */
static int			 hand_fds[2] = { -1, -1 };
static int			 handed[MAX_WORKERS];
static size_t			 nhanded;

static void	 on_signal(int);
static int	 spawn(struct worker *, unsigned, int, const struct apx_conf *);
static int	 write_pidfile(const char *);
static void	 take_handed(void);
static void	 drop_handed(void);

static void
on_signal(int sig)
{
	int save = errno;
	char c = (char)sig;

	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	else
		got_term = 1;
	(void)!write(sigpipe_fds[1], &c, 1);
	errno = save;
}

int
apx_listen_open(const char *spec, int mode, char *err, size_t errlen)
{
	int fd = -1, one = 1;

	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un sun;
		struct stat st;
		const char *path = spec + 5;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (apx_strlcpy_chk(sun.sun_path, path, sizeof(sun.sun_path))
		    != 0 || *path != '/') {
			snprintf(err, errlen, "%s: socket path must be absolute "
			    "and short", spec);
			return -1;
		}
		/* Remove a stale socket, never any other kind of file. */
		if (lstat(path, &st) == 0) {
			if (!S_ISSOCK(st.st_mode)) {
				snprintf(err, errlen, "%s exists and is not a "
				    "socket", path);
				return -1;
			}
			unlink(path);
		}
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    chmod(path, (mode_t)mode) == -1)
			goto fail;
	} else {
		struct sockaddr_storage ss;
		socklen_t sl;
		char host[64];
		const char *colon = strrchr(spec, ':');
		long long port;
		size_t hl;

		memset(&ss, 0, sizeof(ss));
		if (colon == NULL || apx_parse_ll(colon + 1, 1, 65535, &port)
		    != 0 || (hl = (size_t)(colon - spec)) == 0 ||
		    hl >= sizeof(host)) {
			snprintf(err, errlen, "%s: expected unix:/path or "
			    "HOST:PORT", spec);
			return -1;
		}
		memcpy(host, spec, hl);
		host[hl] = '\0';
		if (host[0] == '[' && host[hl - 1] == ']') {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			host[hl - 1] = '\0';
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
				goto badhost;
			sl = sizeof(*s6);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)port);
			if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
				goto badhost;
			sl = sizeof(*s4);
		}
		if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 ||
		    bind(fd, (struct sockaddr *)&ss, sl) == -1)
			goto fail;
	}
	if (listen(fd, 128) == -1)
		goto fail;
	return fd;
badhost:
	snprintf(err, errlen, "%s: host must be a numeric IPv4 or [IPv6] "
	    "address", spec);
	return -1;
fail:
	snprintf(err, errlen, "%s: %s", spec, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

static int
write_pidfile(const char *path)
{
	char buf[32];
	int fd, n;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644))
	    == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static unsigned long pending_restarts;

union fdmsg {
	struct cmsghdr	 hdr;
	char		 buf[CMSG_SPACE(sizeof(int))];
};

/* One byte, with room for one descriptor beside it. */
static void
fdmsg_init(struct msghdr *msg, struct iovec *iov, char *byte, union fdmsg *cm)
{
	memset(msg, 0, sizeof(*msg));
	memset(cm, 0, sizeof(*cm));
	iov->iov_base = byte;
	iov->iov_len = 1;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = cm->buf;
	msg->msg_controllen = sizeof(cm->buf);
}

int
apx_handoff_send(int chan, int fd)
{
	union fdmsg cm;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	char byte = 'k';

	fdmsg_init(&msg, &iov, &byte, &cm);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(chan, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/*
 * The next descriptor a worker handed over on CHAN (non-blocking): -1 when
 * none is waiting, -2 for a message that carried none.
 */
static int
handoff_recv(int chan)
{
	union fdmsg cm;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov;
	char byte;
	int fd;

	fdmsg_init(&msg, &iov, &byte, &cm);
	if (recvmsg(chan, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c == NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -2;
	memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	return fd;
}

/* Receives the connections leaving workers handed over. */
static void
take_handed(void)
{
	int kfd;

	while ((kfd = handoff_recv(hand_fds[0])) != -1) {
		if (kfd < 0)
			continue;
		if (nhanded < MAX_WORKERS)
			handed[nhanded++] = kfd;
		else
			close(kfd);
	}
}

/* Stopping: the web server sees these connections close. */
static void
drop_handed(void)
{
	while (nhanded > 0)
		close(handed[--nhanded]);
}

static int
spawn(struct worker *w, unsigned gen, int fd, const struct apx_conf *conf)
{
	pid_t pid;
	int kept = nhanded > 0 ? handed[0] : -1;

	if ((pid = fork()) == -1) {
		apx_log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		struct sigaction sa;
		sigset_t none;

		apx_log_after_fork();
		apx_random_id_reset();
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		close(sigpipe_fds[0]);
		close(sigpipe_fds[1]);
		close(hand_fds[0]);
		while (nhanded > 0)
			if (handed[--nhanded] != kept)
				close(handed[nhanded]);
		apx_worker_kept_fd = kept;
		apx_worker_hand_fd = hand_fds[1];
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		apx_worker_inherited_restarts = pending_restarts;
		_exit(apx_worker_run(conf, fd, 1));
	}
	pending_restarts = 0;
	if (kept != -1) {
		close(kept);
		memmove(handed, handed + 1, --nhanded * sizeof(handed[0]));
	}
	w->pid = pid;
	w->gen = gen;
	w->stopping = 0;
	w->started_us = apx_now_us();
	apx_log_info("worker %ld started (generation %u)", (long)pid, gen);
	return 0;
}

int
apx_supervisor_run(const struct apx_supervisor_opts *o, struct apx_conf *conf)
{
	struct worker ws[MAX_WORKERS + 1];
	struct sigaction sa;
	struct pollfd pfd[2];
	char err[512];
	unsigned gen = 1;
	uint64_t backoff_us = 0, next_spawn_us = 0, drain_deadline = 0;
	size_t nw = 0, i;
	int fd, status = 0, nworkers = o->workers;

	if (nworkers < 1 || nworkers > MAX_WORKERS) {
		apx_log_error("--workers must be from 1 to %d", MAX_WORKERS);
		apx_conf_free(conf);
		return 1;
	}
	if ((fd = apx_listen_open(o->listen, o->socket_mode, err,
	    sizeof(err))) == -1) {
		apx_log_error("cannot listen: %s", err);
		apx_conf_free(conf);
		return 1;
	}
	if (o->pidfile != NULL && write_pidfile(o->pidfile) == -1) {
		apx_log_error("cannot write pid file %s: %s", o->pidfile,
		    strerror(errno));
		close(fd);
		apx_conf_free(conf);
		return 1;
	}
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, hand_fds) == -1) {
		apx_log_error("pipe: %s", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	memset(ws, 0, sizeof(ws));
	apx_log_info("listening on %s with %d workers", o->listen, nworkers);

	for (;;) {
		uint64_t now = apx_now_us();
		size_t cur = 0, old = 0, stopping = 0;
		pid_t pid;
		int wst;

		/* Reap. */
		while ((pid = waitpid(-1, &wst, WNOHANG)) > 0) {
			for (i = 0; i < nw && ws[i].pid != pid; i++)
				;
			if (i == nw)
				continue;
			if (!ws[i].stopping && !got_term &&
			    !(WIFEXITED(wst) && WEXITSTATUS(wst) == 0)) {
				if (WIFSIGNALED(wst))
					apx_log_warn("worker %ld died (signal "
					    "%d): restarting", (long)pid,
					    WTERMSIG(wst));
				else
					apx_log_warn("worker %ld exited with "
					    "status %d: restarting", (long)pid,
					    WEXITSTATUS(wst));
				pending_restarts++;
				if (now - ws[i].started_us < FAST_DEATH_US) {
					backoff_us = backoff_us == 0 ?
					    BACKOFF_MIN_US : backoff_us * 2;
					if (backoff_us > BACKOFF_MAX_US)
						backoff_us = BACKOFF_MAX_US;
					next_spawn_us = now + backoff_us;
					apx_log_warn("workers die quickly: next "
					    "start in %llu ms",
					    (unsigned long long)backoff_us / 1000);
				} else
					backoff_us = 0;
			}
			ws[i] = ws[--nw];
		}
		got_chld = 0;
		/* a leaving worker hands its connection over before it exits */
		take_handed();

		if (got_term && drain_deadline == 0) {
			apx_log_info("draining %zu workers", nw);
			drain_deadline = now + (uint64_t)o->drain_seconds *
			    1000000u;
			close(fd);
			fd = -1;
			drop_handed();
			for (i = 0; i < nw; i++) {
				ws[i].stopping = 1;
				kill(ws[i].pid, SIGTERM);
			}
		}
		if (drain_deadline != 0) {
			drop_handed();
			if (nw == 0)
				break;
			if (now > drain_deadline) {
				apx_log_warn("drain timed out: killing %zu "
				    "workers", nw);
				for (i = 0; i < nw; i++)
					kill(ws[i].pid, SIGKILL);
				drain_deadline = now + 5000000u;
				status = 1;
			}
			goto wait;
		}

		if (got_hup) {
			struct apx_conf *nc = NULL;

			got_hup = 0;
			if (apx_conf_load(o->config_path, &nc, err,
			    sizeof(err)) != 0) {
				apx_log_error("reload refused, keeping the "
				    "running configuration: %s", err);
			} else if (apx_routes_check(err, sizeof(err)) != 0) {
				apx_log_error("reload refused: %s", err);
				apx_conf_free(nc);
			} else {
				apx_conf_free(conf);
				conf = nc;
				apx_log_set_level(conf->log_level);
				gen++;
				apx_log_info("configuration reloaded: replacing "
				    "workers (generation %u)", gen);
			}
		}

		for (i = 0; i < nw; i++) {
			if (ws[i].stopping)
				stopping++;
			else if (ws[i].gen == gen)
				cur++;
			else
				old++;
		}
		if (now >= next_spawn_us) {
			/*
			 * Roll one at a time: stop one old worker, and start
			 * its successor once it has left, so that the
			 * successor takes over the connection it kept.
			 */
			if (old > 0 && stopping == 0) {
				for (i = 0; i < nw; i++) {
					if (!ws[i].stopping && ws[i].gen != gen) {
						ws[i].stopping = 1;
						kill(ws[i].pid, SIGTERM);
						stopping++;
						old--;
						break;
					}
				}
			}
			while (cur + old + stopping < (size_t)nworkers &&
			    nw < MAX_WORKERS && spawn(&ws[nw], gen, fd, conf)
			    == 0) {
				nw++;
				cur++;
				if (backoff_us != 0)
					break;	/* one at a time */
			}
		}
wait:
		pfd[0].fd = sigpipe_fds[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = hand_fds[0];
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, TICK_MS) > 0) {
			char drain[64];

			while (read(sigpipe_fds[0], drain, sizeof(drain)) > 0)
				;
		}
	}

	if (fd != -1)
		close(fd);
	drop_handed();
	close(hand_fds[0]);
	close(hand_fds[1]);
	if (strncmp(o->listen, "unix:", 5) == 0)
		unlink(o->listen + 5);
	if (o->pidfile != NULL)
		unlink(o->pidfile);
	apx_conf_free(conf);
	apx_log_info("stopped");
	return status;
}
