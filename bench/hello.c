/*
 * hello-fcgi: the smallest correct FastCGI responder, used by bench/run as the
 * ceiling that the web server + FastCGI transport allow on this machine.
 *
 * It answers every request, whatever the path or method, with
 *   Status: 200 OK
 *   Content-Type: application/json
 *
 *   {"status":"ok"}
 * which is the same shape as the core's GET /healthz, so the two compare fairly.
 *
 * Run it under mod_fcgid or lighttpd (listening socket on fd 0), or, like
 * the core's standalone mode behind mod_proxy_fcgi, as
 *   hello-fcgi --listen /path.sock --workers N
 * (N processes accepting on one Unix socket; each keeps the connection the
 * server keeps, as libfcgi does; SIGTERM stops each).
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char response[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

int
main(int argc, char *argv[])
{
	FCGX_Request req;
	int fd = 0, n, i;

	if (FCGX_Init() != 0) {
		fputs("hello-fcgi: FCGX_Init failed\n", stderr);
		return 1;
	}
	if (argc == 5 && strcmp(argv[1], "--listen") == 0 &&
	    strcmp(argv[3], "--workers") == 0) {
		n = atoi(argv[4]);
		if (argv[2][0] != '/' || n < 1 || n > 64) {
			fputs("hello-fcgi: --listen /path.sock --workers 1..64\n",
			    stderr);
			return 2;
		}
		unlink(argv[2]);
		if ((fd = FCGX_OpenSocket(argv[2], 128)) < 0 ||
		    chmod(argv[2], 0660) != 0) {
			fputs("hello-fcgi: cannot listen\n", stderr);
			return 1;
		}
		for (i = 1; i < n; i++)
			if (fork() == 0)
				break;
	} else if (argc != 1) {
		fputs("usage: hello-fcgi [--listen /path.sock --workers N]\n",
		    stderr);
		return 2;
	} else if (FCGX_IsCGI()) {
		fputs("hello-fcgi: no FastCGI listening socket on fd 0; "
		      "run it under mod_fcgid or lighttpd\n", stderr);
		return 2;
	}
	if (FCGX_InitRequest(&req, fd, 0) != 0) {
		fputs("hello-fcgi: FCGX_InitRequest failed\n", stderr);
		return 1;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		char buf[4096];

		FCGX_PutStr(response, (int)(sizeof response - 1), req.out);
		/* the rest of STDIN: on a kept connection libfcgi would take it
		 * for the next request and drop the connection */
		while (FCGX_GetStr(buf, (int)sizeof(buf), req.in) > 0)
			;
		FCGX_Finish_r(&req);
	}
	return 0;
}
