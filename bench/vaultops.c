/*
 * bench/vaultops.c: vault seal and open operations per second on one
 * thread, in-process, through the core's own record functions (AES-256-GCM
 * via OpenSSL, with the associated data that binds a value to its owner):
 * what a worker spends per connector credential or PII field.
 *
 *   vaultops [-n OPS] [-s BYTES]
 *
 * Prints two lines:
 *   vaultops seal 256B: 612345 ops/s (one core; 200000 ops in 0.327 s)
 *   vaultops open 256B: 598765 ops/s (one core; 200000 ops in 0.334 s)
 * Built and run by bench/run, linked with the build's convenience library.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "vault/record.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	unsigned char key[APX_VAULT_KEY_LEN], aad[APX_VAULT_AAD_MAX];
	unsigned char *plain, *rec = NULL, *out = NULL;
	struct apx_vault_record r;
	size_t alen, reclen, outlen;
	long n = 200000, size = 256, i;
	double t0, ts, to;
	int ch;

	while ((ch = getopt(argc, argv, "n:s:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 's':
			size = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: vaultops [-n OPS] [-s BYTES]\n");
			return 2;
		}
	}
	if (n < 1 || size < 0 || size > APX_VAULT_MAX_PLAIN ||
	    sodium_init() < 0 || (plain = malloc((size_t)size + 1)) == NULL)
		return 2;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(plain, (size_t)size);
	if (apx_vault_aad(aad, sizeof(aad), &alen, 1, "org:12345", "connector",
	    "98765", 4242) != 0)
		return 1;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		free(rec);
		rec = NULL;
		if (apx_vault_seal_raw(key, 1, 4242, aad, alen, plain,
		    (size_t)size, &rec, &reclen) != 0) {
			fprintf(stderr, "vaultops: seal failed\n");
			return 1;
		}
	}
	ts = now_s() - t0;
	if (apx_vault_record_parse(rec, reclen, &r) != 0)
		return 1;
	t0 = now_s();
	for (i = 0; i < n; i++) {
		if (apx_vault_open_raw(key, &r, aad, alen, &out, &outlen) != 0 ||
		    outlen != (size_t)size) {
			fprintf(stderr, "vaultops: open failed\n");
			return 1;
		}
		sodium_memzero(out, outlen);
		free(out);
	}
	to = now_s() - t0;
	printf("vaultops seal %ldB: %.0f ops/s (one core; %ld ops in %.3f s)\n",
	    size, (double)n / ts, n, ts);
	printf("vaultops open %ldB: %.0f ops/s (one core; %ld ops in %.3f s)\n",
	    size, (double)n / to, n, to);
	free(rec);
	free(plain);
	return 0;
}
