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
 * Run it only under mod_fcgid or lighttpd (listening socket on fd 0).
 */
#include <fcgiapp.h>
#include <stdio.h>

static const char response[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"status\":\"ok\"}";

int
main(void)
{
	FCGX_Request req;

	if (FCGX_Init() != 0) {
		fputs("hello-fcgi: FCGX_Init failed\n", stderr);
		return 1;
	}
	if (FCGX_IsCGI()) {
		fputs("hello-fcgi: no FastCGI listening socket on fd 0; "
		      "run it under mod_fcgid or lighttpd\n", stderr);
		return 2;
	}
	if (FCGX_InitRequest(&req, 0, 0) != 0) {
		fputs("hello-fcgi: FCGX_InitRequest failed\n", stderr);
		return 1;
	}
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(response, (int)(sizeof response - 1), req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
