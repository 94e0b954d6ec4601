/*
 * Standalone mode: bind the socket, fork N workers that accept on it,
 * restart the ones that die (with back-off), replace them one at a time on
 * SIGHUP after re-reading the configuration, drain on SIGTERM.
 */
#ifndef APX_SERVER_SUPERVISOR_H
#define APX_SERVER_SUPERVISOR_H

#include "core/conf.h"

struct apx_supervisor_opts {
	const char	*listen;	/* unix:/path or host:port */
	const char	*config_path;	/* re-read on SIGHUP */
	const char	*pidfile;
	int		 workers;
	int		 socket_mode;
	int		 drain_seconds;
};

/* Bind "unix:/path" or "127.0.0.1:9000" / "[::1]:9000"; returns fd or -1. */
int	 apx_listen_open(const char *, int, char *, size_t);
/* Takes ownership of CONF. Returns the process exit status. */
int	 apx_supervisor_run(const struct apx_supervisor_opts *,
	    struct apx_conf *);

/*
 * A worker hands the descriptor FD (its kept FastCGI connection) over to
 * the supervisor on CHAN (apx_worker_hand_fd): 0, or -1 (errno set).
 */
int	 apx_handoff_send(int, int);

#endif
