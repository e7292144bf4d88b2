/* pqx CLI: addresses, sockets, identities, pinned keys and the config directory. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "crypto/ossl.h"
#include "net.h"

static int split_hostport(struct pqx_url *u, const char *s, size_t n, int need_host)
{
	const char *colon, *end = s + n;

	memset(u->host, 0, sizeof(u->host));
	snprintf(u->port, sizeof(u->port), "%s", PQX_DEFAULT_PORT);
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL || (size_t)(rb - s - 1) >= sizeof(u->host))
			return -1;
		memcpy(u->host, s + 1, (size_t)(rb - s - 1));
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (rb + 1 < end && colon == NULL)
			return -1;
	} else {
		colon = memrchr(s, ':', n);
		size_t hl = colon ? (size_t)(colon - s) : n;

		if (hl >= sizeof(u->host))
			return -1;
		memcpy(u->host, s, hl);
	}
	if (colon != NULL) {
		size_t pl = (size_t)(end - colon - 1);

		if (pl == 0 || pl >= sizeof(u->port) || strspn(colon + 1, "0123456789") < pl)
			return -1;
		memcpy(u->port, colon + 1, pl);
		u->port[pl] = '\0';
	}
	return need_host && u->host[0] == '\0' ? -1 : 0;
}

int cli_parse_url(struct pqx_url *u, const char *s)
{
	const char *hp, *slash;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "pqx://", 6) != 0) {
		cli_error("addresses look like pqx://HOST:PORT/PATH", "not a pqx:// address: \"%.80s\"", s);
		return -1;
	}
	hp = s + 6;
	slash = strchr(hp, '/');
	if (split_hostport(u, hp, slash ? (size_t)(slash - hp) : strlen(hp), 1) != 0) {
		cli_error("addresses look like pqx://HOST:PORT/PATH", "invalid address \"%.80s\"", s);
		return -1;
	}
	if (slash != NULL) {
		size_t n = strlen(slash + 1);

		while (n > 0 && slash[n] == '/')
			n--; /* "dir/" means "dir" */
		if (n > XFER_MAX_PATH) {
			cli_error(NULL, "the remote path is too long");
			return -1;
		}
		memcpy(u->path, slash + 1, n);
		u->path[n] = '\0';
	}
	return 0;
}

int cli_parse_listen(struct pqx_url *u, const char *s)
{
	memset(u, 0, sizeof(*u));
	if (split_hostport(u, s, strlen(s), 0) != 0) {
		cli_error("use ADDR:PORT, for example 127.0.0.1:7392 or [::]:7392",
		    "invalid listen address \"%.80s\"", s);
		return -1;
	}
	return 0;
}

int cli_config_path(char *out, size_t cap, const char *file)
{
	const char *d = getenv("PQX_CONFIG_DIR"), *x = getenv("XDG_CONFIG_HOME"),
		   *h = getenv("HOME");
	int n;

	if (d != NULL && *d != '\0')
		n = snprintf(out, cap, "%s/%s", d, file);
	else if (x != NULL && *x != '\0')
		n = snprintf(out, cap, "%s/pqx/%s", x, file);
	else if (h != NULL && *h != '\0')
		n = snprintf(out, cap, "%s/.config/pqx/%s", h, file);
	else
		return -1;
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int cli_config_dir(char *out, size_t cap)
{
	if (cli_config_path(out, cap, "") != 0)
		return -1;
	/* Each missing folder of the path, 0700 (as the XDG base directory spec asks). */
	for (char *p = out + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(out, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return 0;
}

int cli_load_seed(const char *path, uint8_t seed[32], uint8_t pub[PQX_XWING_PUBLIC_KEY_BYTES])
{
	char def[4096];
	uint8_t *text;
	size_t len, count = 0, bad = 0;
	pqx_age_identity **ids = NULL;
	int ret = -1;

	if (path == NULL) {
		if (cli_config_path(def, sizeof(def), "identity") != 0) {
			cli_error("pass --identity FILE", "no identity file and no config directory");
			return -1;
		}
		path = def;
		if (access(path, R_OK) != 0) {
			char hint[4200];

			snprintf(hint, sizeof(hint), "create one with: pqx keygen -o %s, or pass --identity FILE",
			    path);
			cli_error(hint, "no identity at %s", path);
			return -1;
		}
	}
	if ((text = cli_read_file(path, 1u << 20, &len)) == NULL)
		return -1;
	if (pqx_age_identities_parse(&ids, &count, text, len, &bad) != 0) {
		cli_error(NULL, "identity file \"%s\" line %zu: %s", path, bad, pqx_age_error_detail());
		goto out;
	}
	/* The public key parsing derived. */
	for (size_t i = 0; i < count && ret != 0; i++) {
		size_t kl;
		const uint8_t *k = pqx_age_identity_key(ids[i], &kl);

		if (kl == PQX_XWING_PUBLIC_KEY_BYTES && pqx_age_identity_seed(ids[i], seed) == 0) {
			memcpy(pub, k, kl);
			ret = 0;
		}
	}
	if (ret != 0)
		cli_error("make one with: pqx keygen (the default is post-quantum)",
		    "no post-quantum identity (AGE-SECRET-KEY-PQ-1...) in \"%s\"", path);
out:
	for (size_t i = 0; i < count; i++)
		pqx_age_identity_free(ids[i]);
	free(ids);
	pqx_wipe(text, len);
	free(text);
	return ret;
}

int cli_parse_pq_recipient(const char *s, uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES])
{
	pqx_age_recipient *r = NULL;
	const uint8_t *k;
	size_t len;

	if (pqx_age_recipient_parse(&r, s) != 0 ||
	    pqx_age_recipient_kind(r) != PQX_AGE_MLKEM768X25519) {
		pqx_age_recipient_free(r);
		return -1;
	}
	k = pqx_age_recipient_key(r, &len);
	memcpy(key, k, PQX_XWING_PUBLIC_KEY_BYTES);
	pqx_age_recipient_free(r);
	return 0;
}

/* The last number in a /proc/sys file ("4096 16384 4194304": the maximum); 0 if unreadable. */
static long sysctl_last(const char *path)
{
	char b[128];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	while (n > 0 && isspace((unsigned char)b[n - 1]))
		n--;
	if (n <= 0)
		return 0;
	b[n] = '\0';
	while (n > 0 && !isspace((unsigned char)b[n - 1]))
		n--;
	return strtol(b + n, NULL, 10);
}

/*
 * Socket buffers are set to 4 MiB only where that gives more than Linux's
 * own growth of them would. A buffer left alone grows with the connection
 * up to tcp_wmem/tcp_rmem's maximum (4 and 6 MiB on a stock kernel); one
 * that is set stays at twice the size asked, capped by wmem_max/rmem_max
 * first (208 KiB on a stock kernel), and no longer grows. Setting it there
 * caps a long path's throughput: 256 MiB over a 50 ms round trip took 53 s
 * instead of 5 s. The limits are read once a process (pqx serve: at its
 * first connection).
 */
#define BUF_WANT (4 << 20)

static int set_snd, set_rcv;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;

static int buffer_pays(const char *cap_path, const char *grow_path)
{
	long cap = sysctl_last(cap_path);

	return 2 * (cap < BUF_WANT ? cap : BUF_WANT) > sysctl_last(grow_path);
}

static void bufs_init(void)
{
	set_snd = buffer_pays("/proc/sys/net/core/wmem_max", "/proc/sys/net/ipv4/tcp_wmem");
	set_rcv = buffer_pays("/proc/sys/net/core/rmem_max", "/proc/sys/net/ipv4/tcp_rmem");
}

void cli_tune_socket(int fd)
{
	int one = 1, buf = BUF_WANT;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)pthread_once(&bufs_once, bufs_init);
	if (set_snd)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (set_rcv)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
}

int cli_connect(const char *host, const char *port)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, e, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		cli_error(NULL, "can't resolve %s: %s", host, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			err = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		cli_error("is pqx serve running there?", "can't connect to %s port %s: %s", host, port,
		    strerror(err ? err : errno));
		return -1;
	}
	cli_tune_socket(fd);
	return fd;
}

/* A listening socket on one address; -1 with errno. */
static int listen_on(const struct addrinfo *ai, int dual)
{
	int fd, one = 1, zero = 0, e;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int cli_listen(const char *host, const char *port)
{
	struct addrinfo hints, *res = NULL;
	int fd = -1, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (host[0] == '\0') {
		/* All addresses: IPv6 and IPv4 on one socket, as sshd's default; IPv4 alone without IPv6. */
		hints.ai_family = AF_INET6;
		if (getaddrinfo(NULL, port, &hints, &res) == 0) {
			fd = listen_on(res, 1);
			e = errno;
			freeaddrinfo(res);
			res = NULL;
			if (fd >= 0)
				return fd;
			if (e != EAFNOSUPPORT && e != EADDRNOTAVAIL) {
				cli_error(NULL, "can't listen on port %s: %s", port, strerror(e));
				return -1;
			}
		}
		hints.ai_family = AF_INET;
	}
	if ((e = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
		cli_error(NULL, "can't resolve %s: %s", host, gai_strerror(e));
		return -1;
	}
	if ((fd = listen_on(res, 0)) < 0)
		cli_error(NULL, "can't listen on %s port %s: %s", host[0] ? host : "*", port, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

const char *cli_net_strerror(int err, const pqx_channel *ch)
{
	static char msg[320];

	switch (err) {
	case PQX_ERR_PEER_ERROR:
		snprintf(msg, sizeof(msg), "the peer says: %s", ch ? pqx_channel_peer_error(ch) : "?");
		return msg;
	case PQX_ERR_AUTH:
		return "authentication failed: the connection was tampered with, or the peer "
		       "could not prove its key";
	case PQX_ERR_TRUNCATED:
		return "the connection ended before the transfer was complete";
	case PQX_ERR_IO:
		snprintf(msg, sizeof(msg), "input/output error: %s", strerror(errno));
		return msg;
	default:
		return pqx_strerror(err);
	}
}

int cli_index_path(char *out, size_t cap, const uint8_t key[XFER_KEY_BYTES], int dirfd)
{
	char proc[64], real[4096], dir[4096];
	uint8_t in[XFER_KEY_BYTES + sizeof(real)], h[32];
	ssize_t n;
	int k;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	if ((n = readlink(proc, real, sizeof(real) - 1)) <= 0)
		return -1;
	memcpy(in, key, XFER_KEY_BYTES);
	memcpy(in + XFER_KEY_BYTES, real, (size_t)n);
	k = pqx_sha256(h, in, XFER_KEY_BYTES + (size_t)n);
	pqx_wipe(in, sizeof(in));
	if (k != 0 || cli_config_dir(dir, sizeof(dir)) != 0)
		return -1;
	if ((size_t)snprintf(out, cap, "%sindex", dir) >= cap)
		return -1;
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return -1;
	k = snprintf(out, cap, "%sindex/", dir);
	for (int i = 0; i < 16 && k > 0 && (size_t)k + 3 < cap; i++)
		k += snprintf(out + k, cap - (size_t)k, "%02x", h[i]);
	if (k <= 0 || (size_t)k + 4 >= cap)
		return -1;
	memcpy(out + k, ".db", 4);
	return 0;
}

const char cli_dict_usage[] =
    "      --dict DIR          a dictionary both sides hold: files in it are a shared\n"
    "                          base (zstd deltas against the same path in DIR) and a\n"
    "                          source of chunks the receiver need not fetch\n";

const char cli_send_usage[] =
    "      --compress MODE     auto (default: zstd when measured to pay), off, or a\n"
    "                          zstd level 1-19 (always)\n"
    "      --bwlimit RATE      limit the data sent to RATE KiB/s (suffixes K, M, G)\n";

int cli_xfer_option(struct xfer_opts *xo, int c, const char *arg)
{
	char *end;
	double v;

	switch (c) {
	case 1001:
		xo->dict_dir = arg;
		return 1;
	case 1002:
		if (strcmp(arg, "auto") == 0) {
			xo->compress = -1;
		} else if (strcmp(arg, "off") == 0 || strcmp(arg, "0") == 0) {
			xo->compress = 0;
		} else {
			long l = cli_parse_num(arg, 19);

			if (l < 0) {
				cli_error(NULL, "--compress takes auto, off or a level from 1 to 19");
				return -1;
			}
			xo->compress = (int)l;
		}
		return 1;
	case 1003:
		errno = 0;
		v = strtod(arg, &end);
		if (errno != 0 || end == arg || v <= 0) {
			cli_error(NULL, "--bwlimit takes a rate in KiB/s, e.g. 50000 or 100M");
			return -1;
		}
		switch (*end) {
		case '\0': case 'k': case 'K': v *= 1024; break;
		case 'm': case 'M': v *= 1024 * 1024; break;
		case 'g': case 'G': v *= 1024.0 * 1024 * 1024; break;
		default:
			cli_error(NULL, "--bwlimit: unknown unit \"%s\"", end);
			return -1;
		}
		if (*end != '\0' && end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0) {
			cli_error(NULL, "--bwlimit: unknown unit \"%s\"", end);
			return -1;
		}
		xo->bwlimit = (uint64_t)v;
		return 1;
	}
	return 0;
}
