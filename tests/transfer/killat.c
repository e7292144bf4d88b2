/* pqx transfer tests: kill -9 a process once a file has grown to a given size. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: killat FILE BYTES PID [FINAL]
 *
 * Watches FILE every millisecond; once it holds at least BYTES bytes, sends
 * SIGKILL to PID and prints "killed at SIZE". Prints "exited first" (status
 * 1) if PID ends before that, "timeout" (status 1) after 60 seconds, and
 * "final name appeared" (status 3) if FINAL exists before the kill.
 */

/* 1 while pid runs (a zombie has ended). */
static int running(pid_t pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

int main(int argc, char **argv)
{
	const struct timespec ms = { 0, 1000000 };
	long long want;
	pid_t pid;
	struct stat sb;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: killat FILE BYTES PID [FINAL]\n");
		return 2;
	}
	want = atoll(argv[2]);
	pid = (pid_t)atoi(argv[3]);
	for (long i = 0; i < 60000; i++) {
		if (argc == 5 && lstat(argv[4], &sb) == 0) {
			printf("final name appeared\n");
			return 3;
		}
		if (stat(argv[1], &sb) == 0 && sb.st_size >= want) {
			if (kill(pid, SIGKILL) != 0) {
				printf("exited first\n");
				return 1;
			}
			printf("killed at %lld\n", (long long)sb.st_size);
			return 0;
		}
		if (!running(pid)) {
			printf("exited first\n");
			return 1;
		}
		nanosleep(&ms, NULL);
	}
	printf("timeout\n");
	return 1;
}
