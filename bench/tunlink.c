/*
 * pqx bench: a network path between two TUN devices, for bench/wan_bench.sh.
 * Every IP packet read from one device is written to the other ONE_WAY_MS
 * later, in order. With MBIT, each direction is also a link of that rate:
 * a packet leaves once those before it have (its bytes at MBIT Mbit/s), and
 * one that would wait more than QUEUE_MS (default 50) in that queue is
 * dropped, as a router's drop-tail queue does. Without MBIT: no loss and no
 * rate limit but what the machine moves. It prints "ready" once both
 * devices exist, and runs until killed. The devices take an MTU of at most
 * MTU_MAX.
 * Usage: tunlink DEV_A DEV_B ONE_WAY_MS [MBIT [QUEUE_MS]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MTU_MAX 1500
#define QCAP (1u << 16) /* packets in flight each way: 98 MB, touched as used */

struct pkt {
	double due;
	int len;
	unsigned char b[MTU_MAX];
};

/* One direction: packets read and not yet written, oldest first. */
struct dir {
	struct pkt *q;
	size_t head, tail;
	double free_at; /* with a rate: when the link has sent all it holds */
	unsigned long long dropped;
};

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int tun_open(const char *name)
{
	struct ifreq ifr;
	int fd;

	if ((fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		perror("tunlink: /dev/net/tun");
		exit(1);
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		perror("tunlink: TUNSETIFF");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct dir d[2];
	double delay, rate = 0, qmax = 0.05; /* rate in bytes a second, 0: none */
	int fd[2];

	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: tunlink DEV_A DEV_B ONE_WAY_MS [MBIT [QUEUE_MS]]\n");
		return 2;
	}
	delay = atof(argv[3]) / 1000.0;
	if (argc > 4)
		rate = atof(argv[4]) * 1e6 / 8;
	if (argc > 5)
		qmax = atof(argv[5]) / 1000.0;
	fd[0] = tun_open(argv[1]);
	fd[1] = tun_open(argv[2]);
	for (int i = 0; i < 2; i++) {
		d[i].head = d[i].tail = 0;
		d[i].free_at = 0;
		d[i].dropped = 0;
		if ((d[i].q = malloc(QCAP * sizeof(struct pkt))) == NULL) {
			perror("tunlink");
			return 1;
		}
	}
	signal(SIGTERM, on_term);
	printf("ready\n");
	fflush(stdout);
	while (!done) {
		struct pollfd pf[2] = { { fd[0], POLLIN, 0 }, { fd[1], POLLIN, 0 } };
		struct timespec ts;
		double t = now(), wait = 0.1;

		for (int i = 0; i < 2; i++)
			if (d[i].head != d[i].tail && d[i].q[d[i].head % QCAP].due - t < wait)
				wait = d[i].q[d[i].head % QCAP].due - t;
		if (wait < 0)
			wait = 0;
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		(void)ppoll(pf, 2, &ts, NULL);
		for (int i = 0; i < 2; i++) {
			while (d[i].tail - d[i].head < QCAP) {
				struct pkt *p = &d[i].q[d[i].tail % QCAP];
				ssize_t n = read(fd[i], p->b, sizeof(p->b));

				double at = now();

				if (n <= 0)
					break;
				p->len = (int)n;
				if (rate > 0) {
					if (d[i].free_at < at)
						d[i].free_at = at;
					if (d[i].free_at - at > qmax) {
						d[i].dropped++; /* the queue is full */
						continue;
					}
					d[i].free_at += (double)n / rate;
					at = d[i].free_at;
				}
				p->due = at + delay;
				d[i].tail++;
			}
		}
		t = now();
		for (int i = 0; i < 2; i++) {
			while (d[i].head != d[i].tail && d[i].q[d[i].head % QCAP].due <= t) {
				struct pkt *p = &d[i].q[d[i].head % QCAP];

				if (write(fd[1 - i], p->b, (size_t)p->len) < 0 && errno == EAGAIN)
					break;
				d[i].head++;
			}
		}
	}
	printf("dropped: %llu packets one way, %llu the other\n", d[0].dropped, d[1].dropped);
	return 0;
}
