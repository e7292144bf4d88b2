/*
 * pqx bench: how fast a file is cut into its chunk tree (keyed FastCDC chunks,
 * HMAC-SHA256 ids, the nodes over them), on one thread and on all cores
 * (xfer_tree_file). What pqx send does to a file it compares, and what the
 * receiver does to a file it indexes. bench/run.sh puts sha256sum of the same
 * file beside it: one SHA-256 pass, the floor of one thread's work.
 * Usage: bench_tree FILE [ROUNDS]   (best of ROUNDS, default 3; FILE cached first)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "transfer/tree.h"

static int count(void *ctx, const struct xfer_node *n)
{
	(void)n;
	(*(size_t *)ctx)++;
	return 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const uint8_t key[32] = { 1 };
	struct xfer_tree *t;
	struct stat sb;
	int fd, rounds = argc > 2 ? atoi(argv[2]) : 3;

	if (argc < 2 || (fd = open(argv[1], O_RDONLY)) < 0 || fstat(fd, &sb) != 0 || rounds < 1) {
		fprintf(stderr, "usage: bench_tree FILE [ROUNDS]\n");
		return 2;
	}
	if ((t = xfer_tree_new(key, 2)) == NULL)
		return 1;
	for (int pass = 0; pass < 2; pass++) {
		int threads = pass == 0 ? 1 : xfer_tree_threads();
		double best = 0;
		size_t nodes = 0;

		for (int r = 0; r < rounds; r++) {
			double t0;

			nodes = 0;
			xfer_tree_size(t, (uint64_t)sb.st_size);
			xfer_tree_start(t, 0, 2, count, &nodes);
			t0 = now();
			if (xfer_tree_file(t, fd, 0, (uint64_t)sb.st_size, threads) != 0) {
				fprintf(stderr, "bench_tree: can't read %s\n", argv[1]);
				return 1;
			}
			t0 = now() - t0;
			if (r == 0 || t0 < best)
				best = t0;
		}
		printf("chunk tree of %lld MiB on %d thread%s: %.3f s, %.0f MB/s (%zu nodes)\n",
		    (long long)(sb.st_size >> 20), threads, threads == 1 ? "" : "s", best,
		    (double)sb.st_size / best / 1e6, nodes);
	}
	xfer_tree_free(t);
	close(fd);
	return 0;
}
