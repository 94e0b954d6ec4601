/*
 * A worker: accepts FastCGI requests on a listening socket one at a time
 * until told to stop (SIGTERM: finish the request in hand, then exit) or
 * until it has served its quota (then it exits 0 and is replaced).
 */
#ifndef APX_SERVER_WORKER_H
#define APX_SERVER_WORKER_H

#include "core/conf.h"

/* Restarts the supervisor saw before forking this worker (for metrics). */
extern unsigned long apx_worker_inherited_restarts;

/*
 * Standalone: a kept FastCGI connection the worker starts with (-1: none),
 * and where a leaving worker hands its own over (-1: it closes it).
 */
extern int apx_worker_kept_fd;
extern int apx_worker_hand_fd;

/*
 * Serve on FD. RECYCLE: leave after conf->worker.max_requests requests
 * (standalone, where the supervisor replaces the worker; under a web
 * server the server recycles its processes itself). Returns the exit status.
 */
int	 apx_worker_run(const struct apx_conf *, int, int);

#endif
