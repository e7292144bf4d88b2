/* pqx transfer tests: a man-in-the-middle TCP proxy that flips, drops, replays or swaps bytes of one direction. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Usage: mitm LISTEN_PORT TARGET_PORT c2s|s2c ACTION OFFSET [LEN]
 *
 * Listens on 127.0.0.1:LISTEN_PORT (prints "ready"), takes one client,
 * connects it to 127.0.0.1:TARGET_PORT and relays both ways. In the chosen
 * direction (c2s: client to server) ACTION changes the byte stream at the
 * absolute stream OFFSET:
 *   none   nothing (a control run)
 *   flip   flips the lowest bit of the byte at OFFSET
 *   drop   drops LEN bytes (default 100) from OFFSET
 *   dup    sends the LEN bytes from OFFSET twice (a replay)
 *   swap   sends [OFFSET+LEN, OFFSET+2LEN) before [OFFSET, OFFSET+LEN)
 * Writes "tampered: ..." to stderr once the change is made, and "turn c2s"
 * or "turn s2c" each time bytes come from the other side than the last
 * bytes did (the stream's flights: their count is the round trips a
 * session takes). With MITM_HOLD_MS=N in the environment, the server's
 * bytes wait until the client has sent some, at most N ms: a client that
 * sends first then shows it in the first turn. Exits when both directions
 * have ended, either side fails, or after 60 seconds.
 */

enum { NONE, FLIP, DROP, DUP, SWAP };

static int action;
static unsigned long long off, len = 100;
static unsigned long long pos; /* bytes of the tampered direction seen */
static unsigned char *held;    /* dup/swap: the span [off, off+len) */
static unsigned char outbuf[3 << 16];

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Rewrites one chunk of the tampered direction into outbuf. */
static size_t tamper(const unsigned char *in, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++, pos++) {
		unsigned char b = in[i];

		switch (action) {
		case FLIP:
			if (pos == off) {
				b ^= 1;
				fprintf(stderr, "tampered: flipped a bit at %llu\n", off);
			}
			outbuf[o++] = b;
			break;
		case DROP:
			if (pos >= off && pos < off + len) {
				if (pos == off + len - 1)
					fprintf(stderr, "tampered: dropped %llu bytes at %llu\n", len, off);
				break;
			}
			outbuf[o++] = b;
			break;
		case DUP:
			outbuf[o++] = b;
			if (pos >= off && pos < off + len)
				held[pos - off] = b;
			if (pos == off + len - 1) {
				/* outbuf holds at most 64 KiB of input plus one span. */
				memcpy(outbuf + o, held, len);
				o += len;
				fprintf(stderr, "tampered: replayed %llu bytes at %llu\n", len, off);
			}
			break;
		case SWAP:
			if (pos >= off && pos < off + len) {
				held[pos - off] = b;
				break;
			}
			outbuf[o++] = b;
			if (pos == off + 2 * len - 1) {
				memcpy(outbuf + o, held, len);
				o += len;
				fprintf(stderr, "tampered: swapped two %llu-byte spans at %llu\n", len, off);
			}
			break;
		default:
			outbuf[o++] = b;
		}
	}
	return o;
}

static int listen_on(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0)
		return -1;
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	static unsigned char buf[1 << 16];
	int lfd, fds[2], open_[2] = { 1, 1 }, dir, last = -1, hold = 0;
	struct timespec t0;

	signal(SIGPIPE, SIG_IGN);
	alarm(60);
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: mitm LISTEN_PORT TARGET_PORT c2s|s2c none|flip|drop|dup|swap OFFSET [LEN]\n");
		return 2;
	}
	dir = strcmp(argv[3], "c2s") == 0 ? 0 : 1;
	if (strcmp(argv[4], "flip") == 0) action = FLIP;
	else if (strcmp(argv[4], "drop") == 0) action = DROP;
	else if (strcmp(argv[4], "dup") == 0) action = DUP;
	else if (strcmp(argv[4], "swap") == 0) action = SWAP;
	else action = NONE;
	off = strtoull(argv[5], NULL, 10);
	if (argc == 7)
		len = strtoull(argv[6], NULL, 10);
	if (len == 0 || len > (1 << 16) || (held = malloc(len)) == NULL)
		return 2;
	if ((lfd = listen_on(atoi(argv[1]))) < 0) {
		printf("error: listen: %s\n", strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	if ((fds[0] = accept(lfd, NULL, NULL)) < 0 || (fds[1] = connect_to(atoi(argv[2]))) < 0) {
		fprintf(stderr, "mitm: %s\n", strerror(errno));
		return 1;
	}
	close(lfd);
	if (getenv("MITM_HOLD_MS") != NULL)
		hold = atoi(getenv("MITM_HOLD_MS"));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* fds[0]: the client side, fds[1]: the server side; c2s reads fds[0]. */
	while (open_[0] || open_[1]) {
		struct pollfd p[2] = { { fds[0], open_[0] ? POLLIN : 0, 0 }, { fds[1], open_[1] ? POLLIN : 0, 0 } };
		int wait = -1;

		if (hold > 0 && last == -1) {
			struct timespec t;
			long ms;

			clock_gettime(CLOCK_MONOTONIC, &t);
			ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
			if (ms < hold) {
				p[1].events = 0; /* the server's bytes wait */
				wait = (int)(hold - ms);
			}
		}
		if (poll(p, 2, wait) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int s = 0; s < 2; s++) {
			ssize_t k;
			size_t n;
			const unsigned char *out = buf;

			if (!open_[s] || !(p[s].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			k = read(fds[s], buf, sizeof(buf));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				goto done; /* reset: drop both sides */
			if (k == 0) {
				open_[s] = 0;
				shutdown(fds[1 - s], SHUT_WR);
				continue;
			}
			n = (size_t)k;
			if (s != last)
				fprintf(stderr, "turn %s\n", s == 0 ? "c2s" : "s2c");
			last = s;
			if (s == dir && action != NONE) {
				n = tamper(buf, n);
				out = outbuf;
			}
			if (write_all(fds[1 - s], out, n) != 0)
				goto done;
		}
	}
done:
	close(fds[0]);
	close(fds[1]);
	return 0;
}
