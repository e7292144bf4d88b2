/* pqx bench: cycles and nanoseconds per KEM operation (median of many runs), portable and AVX2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <pqx.h>

#define RUNS 2001

static uint64_t cycles(void)
{
#if defined(__x86_64__)
	return __rdtsc();
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static uint64_t nanos(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

/* Sizes for the largest parameter set, so one set of buffers serves all. */
static uint8_t ek[1568], dk[3168], ct[1568], ss[32], seed[64], pk[1216], xct[1120];

enum op { KEYGEN, ENCAPS, DECAPS };

static void run_mlkem(int set, enum op op)
{
	int r = 0;

	switch (set * 3 + (int)op) {
	case 0: r = pqx_mlkem512_keypair_derand(ek, dk, seed, seed + 32); break;
	case 1: r = pqx_mlkem512_encaps_derand(ct, ss, ek, seed); break;
	case 2: r = pqx_mlkem512_decaps(ss, ct, dk); break;
	case 3: r = pqx_mlkem768_keypair_derand(ek, dk, seed, seed + 32); break;
	case 4: r = pqx_mlkem768_encaps_derand(ct, ss, ek, seed); break;
	case 5: r = pqx_mlkem768_decaps(ss, ct, dk); break;
	case 6: r = pqx_mlkem1024_keypair_derand(ek, dk, seed, seed + 32); break;
	case 7: r = pqx_mlkem1024_encaps_derand(ct, ss, ek, seed); break;
	case 8: r = pqx_mlkem1024_decaps(ss, ct, dk); break;
	}
	if (r != 0) {
		fprintf(stderr, "bench: operation failed: %s\n", pqx_strerror(r));
		exit(1);
	}
}

static void run_xwing(enum op op)
{
	int r = 0;

	switch (op) {
	case KEYGEN: r = pqx_xwing_public_key(pk, seed); break;
	case ENCAPS: r = pqx_xwing_encaps_derand(xct, ss, pk, seed); break;
	case DECAPS: r = pqx_xwing_decaps(ss, xct, seed); break;
	}
	if (r != 0) {
		fprintf(stderr, "bench: X-Wing failed: %s\n", pqx_strerror(r));
		exit(1);
	}
}

static void measure(const char *impl, const char *name, int set, enum op op)
{
	static uint64_t c[RUNS], t[RUNS];
	static const char *ops[] = { "keygen", "encaps", "decaps" };

	for (int i = 0; i < RUNS; i++) {
		uint64_t c0 = cycles(), t0 = nanos();

		if (set < 0)
			run_xwing(op);
		else
			run_mlkem(set, op);
		t[i] = nanos() - t0;
		c[i] = cycles() - c0;
	}
	printf("%-9s %-12s %-7s %9llu cycles %8.1f us\n", impl, name, ops[op],
	    (unsigned long long)median(c, RUNS), (double)median(t, RUNS) / 1000.0);
}

int main(void)
{
	static const char *names[] = { "ML-KEM-512", "ML-KEM-768", "ML-KEM-1024" };

	memset(seed, 0x42, sizeof(seed));
	printf("# median of %d runs; cycles from the TSC (reference cycles)\n", RUNS);
	for (int portable = 1; portable >= 0; portable--) {
		pqx_mlkem_force_portable(portable);
		if (!portable && strcmp(pqx_mlkem_impl(), "portable") == 0) {
			printf("# no AVX2 implementation on this CPU or build\n");
			break;
		}
		for (int set = 0; set < 3; set++)
			for (int op = KEYGEN; op <= DECAPS; op++)
				measure(pqx_mlkem_impl(), names[set], set, (enum op)op);
		for (int op = KEYGEN; op <= DECAPS; op++)
			measure(pqx_mlkem_impl(), "X-Wing", -1, (enum op)op);
	}
	return 0;
}
