/*
 * handoff: what this machine charges for handing work from one process to
 * another, which every FastCGI request pays (web server -> worker ->
 * PostgreSQL and back) and a module inside the web server does not.
 *
 * Two processes pass a byte back and forth through two pipes, ROUNDS
 * times, first both pinned to one core, then each on its own core. It
 * prints the microseconds of one round trip (two hand-offs) of each:
 *
 *   same-core US
 *   two-cores US
 *
 * On a machine whose idle cores halt at once (a VM with guest halt polling
 * off), each hand-off to the other core waits for that core to wake up.
 * With one core allowed (taskset, a cpuset) the second line is
 * "two-cores -".
 */
#include "config.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS	20000

static int	 pin(int);
static void	 echo(int, int);
static double	 trip(int, int);

static int
pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* The other side: a byte read from IN goes back on OUT, until EOF. */
static void
echo(int in, int out)
{
	char c;

	while (read(in, &c, 1) == 1)
		if (write(out, &c, 1) != 1)
			break;
}

/* Microseconds per round trip with us on core A and the echo on B; < 0
 * when it cannot be measured. We stay on A afterwards. */
static double
trip(int a, int b)
{
	struct timespec t0, t1;
	int to[2], from[2], i, ok = 1;
	pid_t pid;
	char c = 'x';

	if (pipe(to) != 0)
		return -1;
	if (pipe(from) != 0) {
		close(to[0]);
		close(to[1]);
		return -1;
	}
	if ((pid = fork()) == -1) {
		close(to[0]);
		close(to[1]);
		close(from[0]);
		close(from[1]);
		return -1;
	}
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		if (pin(b) == 0)
			echo(to[0], from[1]);
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	if (pin(a) != 0)
		ok = 0;
	/* one unmeasured trip: both sides are running and pinned */
	if (ok && (write(to[1], &c, 1) != 1 || read(from[0], &c, 1) != 1))
		ok = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; ok && i < ROUNDS; i++)
		if (write(to[1], &c, 1) != 1 || read(from[0], &c, 1) != 1)
			ok = 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(to[1]);
	close(from[0]);
	(void)waitpid(pid, NULL, 0);
	if (!ok)
		return -1;
	return ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / ROUNDS;
}

int
main(int argc, char *argv[])
{
	cpu_set_t allowed;
	double same, two = -1;
	int cpu[2] = { -1, -1 }, i, n = 0;

	(void)argv;
	if (argc != 1) {
		fputs("usage: handoff\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/* the first two cores this process may run on */
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		fputs("handoff: cannot read the cores allowed\n", stderr);
		return 1;
	}
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &allowed))
			cpu[n++] = i;
	if (n == 0 || (same = trip(cpu[0], cpu[0])) < 0) {
		fputs("handoff: cannot pin two processes to one core\n",
		    stderr);
		return 1;
	}
	if (n == 2 && (two = trip(cpu[0], cpu[1])) < 0) {
		fputs("handoff: cannot pin two processes to two cores\n",
		    stderr);
		return 1;
	}
	printf("same-core %.1f\n", same);
	if (two < 0)
		printf("two-cores -\n");
	else
		printf("two-cores %.1f\n", two);
	return 0;
}
