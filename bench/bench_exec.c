/* pqx bench: runs a command N times as whole processes; wall time (min, median, max) and peak RSS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: bench_exec [-n N] [-i STDIN] [-b BEFORE] -- CMD [ARG...]
 *
 * Runs CMD (no shell) N times one after another (default 1) with standard
 * input from STDIN (default /dev/null) and standard output to /dev/null.
 * BEFORE, if given, runs through /bin/sh -c before each run, untimed (to
 * remove the previous run's output, say). Each run is timed from fork to
 * wait with CLOCK_MONOTONIC, so the shell and this tool add nothing but a
 * fork and an exec, the same for every command compared. Prints one line:
 *   runs N min_ms M median_ms M max_ms M cpu_ms C maxrss_kib K
 * where cpu_ms is the median of the command's user + system CPU time (from
 * wait4, children included), which other load on the machine does not
 * inflate the way it inflates wall time. Exits 1 if any run fails (non-zero exit or a signal).
 */

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *in = "/dev/null", *before = NULL;
	long n = 1, maxrss = 0;
	double *ms, *cpu;
	int c;

	while ((c = getopt(argc, argv, "+n:i:b:")) != -1) {
		switch (c) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'i': in = optarg; break;
		case 'b': before = optarg; break;
		default: goto usage;
		}
	}
	if (optind >= argc || n < 1 || n > 100000)
		goto usage;
	if ((ms = calloc((size_t)n, sizeof(*ms))) == NULL ||
	    (cpu = calloc((size_t)n, sizeof(*cpu))) == NULL)
		return 1;
	for (long i = 0; i < n; i++) {
		struct rusage ru;
		int st;
		pid_t pid;
		double t0;

		if (before != NULL && system(before) != 0) {
			fprintf(stderr, "bench_exec: \"%s\" failed\n", before);
			return 1;
		}
		t0 = mono_ms();
		if ((pid = fork()) < 0) {
			perror("bench_exec: fork");
			return 1;
		}
		if (pid == 0) {
			int fi = open(in, O_RDONLY), fo = open("/dev/null", O_WRONLY);

			if (fi < 0 || fo < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0) {
				perror("bench_exec: redirect");
				_exit(127);
			}
			execvp(argv[optind], argv + optind);
			fprintf(stderr, "bench_exec: %s: %s\n", argv[optind], strerror(errno));
			_exit(127);
		}
		while (wait4(pid, &st, 0, &ru) < 0) {
			if (errno != EINTR) {
				perror("bench_exec: wait");
				return 1;
			}
		}
		ms[i] = mono_ms() - t0;
		cpu[i] = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench_exec: %s failed (run %ld, status %d)\n", argv[optind], i + 1,
			    st);
			return 1;
		}
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_d);
	qsort(cpu, (size_t)n, sizeof(*cpu), cmp_d);
	printf("runs %ld min_ms %.3f median_ms %.3f max_ms %.3f cpu_ms %.3f maxrss_kib %ld\n", n,
	    ms[0], ms[n / 2], ms[n - 1], cpu[n / 2], maxrss);
	free(ms);
	free(cpu);
	return 0;
usage:
	fprintf(stderr, "usage: bench_exec [-n N] [-i STDIN] [-b BEFORE] -- CMD [ARG...]\n");
	return 2;
}
