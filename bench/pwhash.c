/*
 * bench/pwhash.c: password hashes per second on one thread, through the
 * core's own apx_password_hash (argon2id via libsodium), at the configured
 * parameters (apx_password_params_default unless -t / -m are given).
 *
 *   pwhash [-n HASHES] [-t PASSES] [-m KIB]
 *
 * Prints one line:
 *   pwhash argon2id t=2 m=19456KiB: 63.2 hashes/s (one core; 100 hashes in
 *   1.583 s wall, 63.9 per CPU-second)
 * The first figure is wall clock; the CPU-second figure counts only the time
 * the thread was on a core (the two differ when the machine is busy).
 * Built and run by bench/run (see bench/README.md); links the core's
 * convenience library, or password.c and util.c alone.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "auth/password.h"

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0) {
		perror("pwhash: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long
number(const char *opt, const char *s, unsigned long long min,
    unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min ||
	    v > max) {
		fprintf(stderr, "pwhash: -%s: a number from %llu to %llu\n",
		    opt, min, max);
		exit(2);
	}
	return v;
}

int
main(int argc, char *argv[])
{
	struct apx_pwparams p;
	char hash[APX_PASSWORD_HASH_MAX], pw[33];
	unsigned char rnd[16];
	unsigned long n = 100, i;
	double w0, w1, c0, c1;
	int ch;

	apx_password_params_default(&p);
	while ((ch = getopt(argc, argv, "n:t:m:")) != -1) {
		switch (ch) {
		case 'n':
			n = (unsigned long)number("n", optarg, 1, 100000);
			break;
		case 't':
			p.t = number("t", optarg, 1, 10);
			break;
		case 'm':
			p.m = (size_t)number("m", optarg, 8, 4194304) * 1024;
			break;
		default:
			fprintf(stderr,
			    "usage: pwhash [-n HASHES] [-t PASSES] [-m KIB]\n");
			return 2;
		}
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "pwhash: sodium_init failed\n");
		return 1;
	}

	/* A random password (hex, 32 bytes), as long as a typical one. */
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(pw, sizeof(pw), rnd, sizeof(rnd));

	/* Untimed: first-touch page faults, and a check that it works. */
	if (apx_password_hash(&p, pw, strlen(pw), hash) != 0 ||
	    apx_password_verify(hash, pw, strlen(pw)) != 0) {
		fprintf(stderr, "pwhash: apx_password_hash failed (memory?)\n");
		return 1;
	}

	w0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	for (i = 0; i < n; i++) {
		if (apx_password_hash(&p, pw, strlen(pw), hash) != 0) {
			fprintf(stderr, "pwhash: apx_password_hash failed\n");
			return 1;
		}
	}
	c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	w1 = clock_s(CLOCK_MONOTONIC);
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(hash, sizeof(hash));

	printf("pwhash argon2id t=%llu m=%zuKiB: %.1f hashes/s (one core; "
	    "%lu hashes in %.3f s wall, %.1f per CPU-second)\n", p.t,
	    p.m / 1024, (double)n / (w1 - w0), n, w1 - w0,
	    (double)n / (c1 - c0));
	return 0;
}
