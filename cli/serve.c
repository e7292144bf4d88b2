/* pqx CLI: "pqx serve": the transfer server: authorized identities, confinement, limits, logs. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"

static const char serve_usage[] =
    "Usage: pqx serve --root DIR --identity FILE --authorized FILE [--listen ADDR:PORT]\n"
    "                 [--dict DIR] [--compress MODE] [--bwlimit RATE]\n"
    "\n"
    "Serves DIR to the identities listed in the authorized file over a post-quantum,\n"
    "mutually authenticated channel. Clients pin this server's key (pqx keygen -y FILE).\n"
    "\n"
    "  --root DIR              the directory clients send into and get from\n"
    "  --identity FILE         the server's identity (a post-quantum one)\n"
    "  --authorized FILE       client recipients, one per line, like authorized_keys:\n"
    "                            [OPTIONS] age1pq1... [comment]\n"
    "                          OPTIONS (comma-separated): dir=SUBDIR keeps the client in\n"
    "                          SUBDIR of the root; send-only or get-only limit what it may do\n"
    "  --listen ADDR:PORT      where to listen (default :7392: every address, IPv6 and IPv4)\n"
    "  --max-connections N     concurrent clients (default 64)\n"
    "  -q, --quiet             log only errors\n"
    "%s%s"
    "\n"
    "What clients send is compared with what this side holds (a chunk index per\n"
    "client and directory, kept in ~/.config/pqx/index; PQX_CONFIG_DIR overrides):\n"
    "only missing chunks cross.\n"
    "\n"
    "Example:\n"
    "  $ pqx keygen -o server.key; pqx keygen -y server.key   # give this to clients\n"
    "  $ echo \"$(pqx keygen -y alice.key) alice\" > authorized\n"
    "  $ pqx serve --root /srv/models --identity server.key --authorized authorized\n";

#define HANDSHAKE_MS 10000
#define IDLE_MS 60000

struct server {
	int rootfd;
	const char *authorized;
	struct xfer_opts xo; /* --dict, --compress, --bwlimit */
	uint8_t seed[32];
	pqx_xwing_key key; /* expanded from seed once, for every connection */
	int quiet;
	unsigned int max_conn, active;
	pthread_mutex_t mu;
};

struct conn {
	struct server *srv;
	int fd;
	char addr[80];
	/* Filled in by authorize(): the line that admitted the client. */
	char dir[XFER_MAX_PATH + 1];
	int may_send, may_get, found;
	char fp[52];
};

static void logf_(struct server *s, int always, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(struct server *s, int always, const char *fmt, ...)
{
	va_list ap;
	char ts[32] = "";
	struct tm tm;
	time_t t = time(NULL);

	if (s->quiet && !always)
		return;
	/* gmtime_r: connection threads log at once (gmtime shares one buffer). */
	if (gmtime_r(&t, &tm) != NULL)
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	flockfile(stderr);
	fprintf(stderr, "%s pqx serve: ", ts);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

/* Parses one authorized line's options into c; -1 if malformed. */
static int parse_options(struct conn *c, char *opts)
{
	char *save = NULL;

	c->may_send = c->may_get = 1;
	c->dir[0] = '\0';
	for (char *o = strtok_r(opts, ",", &save); o != NULL; o = strtok_r(NULL, ",", &save)) {
		if (strcmp(o, "send-only") == 0)
			c->may_get = 0;
		else if (strcmp(o, "get-only") == 0)
			c->may_send = 0;
		else if (strncmp(o, "dir=", 4) == 0 && xfer_path_ok(o + 4, strlen(o + 4)))
			snprintf(c->dir, sizeof(c->dir), "%s", o + 4);
		else
			return -1;
	}
	return 0;
}

/*
 * Reads the authorized file for the connection c, whose client's key is
 * want (encoded): sets c->found and its options from the first line that
 * names it. With want NULL (once, at start) every line is checked and each
 * one that is no recipient or has bad options is logged. A connection
 * compares each line's recipient with want as text (recipients are lower
 * case) and decodes only the line that matches: decoding every line would
 * cost a file of many clients about 50 us a line, for every connection;
 * it logs only lines with no age1pq1 recipient at all.
 */
static int read_authorized(struct server *s, struct conn *c, const char *want)
{
	uint8_t k[PQX_XWING_PUBLIC_KEY_BYTES];
	char line[8192];
	FILE *f;
	int lineno = 0;

	if ((f = fopen(s->authorized, "r")) == NULL) {
		logf_(s, 1, "can't read %s: %s", s->authorized, strerror(errno));
		return -1;
	}
	while (!c->found && fgets(line, sizeof(line), f) != NULL) {
		char *w[3] = { NULL, NULL, NULL }, *save = NULL, *opts = NULL, *rcpt;
		int n = 0;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL && n < 3;
		     t = strtok_r(NULL, " \t\r\n", &save))
			w[n++] = t;
		if (n == 0)
			continue;
		/* Either "age1pq1... [comment]" or "OPTIONS age1pq1... [comment]". */
		if (strncmp(w[0], "age1", 4) == 0) {
			rcpt = w[0];
		} else {
			opts = w[0];
			rcpt = w[1];
		}
		if (rcpt == NULL || strncmp(rcpt, "age1pq1", 7) != 0 ||
		    ((want == NULL || strcmp(rcpt, want) == 0) && cli_parse_pq_recipient(rcpt, k) != 0)) {
			logf_(s, 1, "%s line %d: not a post-quantum recipient; ignored", s->authorized, lineno);
			continue;
		}
		if (want != NULL && strcmp(rcpt, want) != 0)
			continue;
		if (parse_options(c, opts ? opts : (char[]){ "" }) != 0) {
			logf_(s, 1, "%s line %d: bad options; ignored", s->authorized, lineno);
			continue;
		}
		c->found = want != NULL;
	}
	fclose(f);
	return 0;
}

/* The authorized file is read for every connection, as sshd reads authorized_keys, so edits apply without a restart. */
static int authorize(void *ctx, const uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES])
{
	struct conn *c = ctx;
	char *want = NULL;
	int r;

	pqx_key_fingerprint(c->fp, key, PQX_XWING_PUBLIC_KEY_BYTES);
	if (pqx_age_pq_recipient_string(&want, key) != 0)
		return PQX_ERR_REFUSED;
	r = read_authorized(c->srv, c, want);
	pqx_age_string_free(want);
	return r == 0 && c->found ? 0 : PQX_ERR_REFUSED;
}

static void srv_warn(void *ctx, const char *msg)
{
	struct conn *c = ctx;

	logf_(c->srv, 0, "%s %s: %s", c->addr, c->fp, msg);
}

/*
 * A successful session ends with the client's close, then ours: a sending
 * client reports success only once it has ours. Anything else fails it.
 */
static int close_session(pqx_channel *ch)
{
	const uint8_t *d;
	size_t n;
	int r = pqx_channel_recv(ch, &d, &n);

	r = r == PQX_ERR_CLOSED ? 0 : r == 0 ? PQX_ERR_FORMAT : r;
	if (r == 0)
		(void)!pqx_channel_send(ch, PQX_RECORD_CLOSE, NULL, 0);
	return r;
}

static void handle(struct conn *c)
{
	struct server *s = c->srv;
	pqx_socket_io sio;
	pqx_channel_io io;
	pqx_channel_opts co;
	pqx_channel *ch = NULL;
	struct xfer_stats st;
	struct xfer_opts xo;
	enum xfer_op op;
	char path[XFER_MAX_PATH + 1], index[4096];
	int base = -1, target = -1, r;

	memset(&sio, 0, sizeof(sio));
	memset(&st, 0, sizeof(st));
	xo = s->xo;
	xo.warn = srv_warn;
	xo.warn_ctx = c;
	sio.fd = c->fd;
	sio.timeout_ms = IDLE_MS;
	sio.deadline_ms = pqx_now_ms() + HANDSHAKE_MS; /* a slow client can't hold the slot */
	pqx_channel_io_socket(&io, &sio);
	memset(&co, 0, sizeof(co));
	co.authorize = authorize;
	co.ctx = c;
	co.key = &s->key;
	r = pqx_channel_server(&ch, &io, s->seed, &co);
	if (r != 0) {
		if (r == PQX_ERR_REFUSED)
			logf_(s, 1, "%s %s refused: not authorized", c->addr, c->fp[0] ? c->fp : "?");
		else
			logf_(s, 0, "%s handshake failed: %s", c->addr, pqx_strerror(r));
		goto out;
	}
	sio.deadline_ms = 0;
	if ((r = xfer_read_request(ch, &op, path)) != 0) {
		logf_(s, 0, "%s %s bad request: %s", c->addr, c->fp, pqx_strerror(r));
		goto out;
	}
	if ((op == XFER_SEND && !c->may_send) || (op == XFER_GET && !c->may_get)) {
		logf_(s, 1, "%s %s refused: %s not allowed for this identity", c->addr, c->fp,
		    op == XFER_SEND ? "send" : "get");
		xfer_refuse(ch, op == XFER_SEND ? "this identity may not send" : "this identity may not get");
		goto out;
	}
	if ((path[0] != '\0' && !xfer_path_ok(path, strlen(path))) || (op == XFER_GET && path[0] == '\0')) {
		logf_(s, 1, "%s %s refused: invalid path", c->addr, c->fp);
		xfer_refuse(ch, "invalid path");
		goto out;
	}
	if (xfer_pair_key(xo.key, s->seed, sizeof(s->seed), pqx_channel_peer_key(ch),
		PQX_XWING_PUBLIC_KEY_BYTES) != 0) {
		xfer_refuse(ch, "internal error");
		goto out;
	}
	/* Everything below the root, or the identity's sub-directory of it. */
	if ((base = xfer_open_dir(s->rootfd, c->dir, op == XFER_SEND)) < 0) {
		xfer_refuse(ch, "the directory is not available");
		goto out;
	}
	if (op == XFER_SEND) {
		if ((target = xfer_open_dir(base, path, 1)) < 0) {
			xfer_refuse(ch, "can't open the target directory");
			goto out;
		}
		if (cli_index_path(index, sizeof(index), xo.key, target) == 0)
			xo.index_path = index;
		xo.close = close_session;
		if ((r = xfer_accept(ch, xo.key)) == 0)
			r = xfer_receive(ch, target, &xo, &st);
	} else {
		struct stat sb;
		const char *names[1] = { path };

		if (fstatat(base, path, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			xfer_refuse(ch, "no such file or directory");
			goto out;
		}
		if ((r = xfer_accept(ch, xo.key)) == 0)
			r = xfer_send(ch, base, names, 1, 1, &xo, &st);
	}
	if (r == 0 && op != XFER_SEND)
		r = close_session(ch);
	if (r != 0)
		logf_(s, 1, "%s %s %s \"%s\" failed: %s", c->addr, c->fp, op == XFER_SEND ? "send to" : "get",
		    path, cli_net_strerror(r, ch));
	else {
		char cloned[48] = "";

		if (st.bytes_cloned > 0)
			snprintf(cloned, sizeof(cloned), ", %llu cloned", (unsigned long long)st.bytes_cloned);
		logf_(s, 0, "%s %s %s \"%s\": %llu file(s), %llu bytes, %llu moved%s (%s)", c->addr, c->fp,
		    op == XFER_SEND ? "send to" : "get", path, (unsigned long long)st.files,
		    (unsigned long long)st.bytes, (unsigned long long)st.bytes_moved, cloned,
		    pqx_channel_cipher(ch) == PQX_CHANNEL_AES_256_GCM ? "aes-256-gcm" : "chacha20-poly1305");
	}
out:
	if (target >= 0)
		close(target);
	if (base >= 0)
		close(base);
	pqx_channel_free(ch);
	pqx_socket_io_release(&sio);
	pqx_wipe(&xo, sizeof(xo));
}

/*
 * Closes as a web server lingers: our side first, then what the client
 * still sends is read and dropped (at most 1 s, 1 MiB). A close with unread
 * data would reset the connection, and the reset may drop our last error
 * record before the client reads it (a refused send's entries are unread).
 */
static void linger_close(int fd)
{
	static char sink[16384];
	uint64_t end = pqx_now_ms() + 1000;
	size_t left = 1u << 20;

	if (shutdown(fd, SHUT_WR) == 0)
		while (left > 0) {
			uint64_t now = pqx_now_ms();
			struct pollfd p = { fd, POLLIN, 0 };
			ssize_t k;

			if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
				break;
			if ((k = read(fd, sink, sizeof(sink))) <= 0)
				break;
			left -= (size_t)k < left ? (size_t)k : left;
		}
	close(fd);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;

	handle(c);
	linger_close(c->fd);
	pthread_mutex_lock(&s->mu);
	s->active--;
	pthread_mutex_unlock(&s->mu);
	pqx_wipe(c, sizeof(*c));
	free(c);
	return NULL;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "identity", required_argument, NULL, 'i' },
		{ "authorized", required_argument, NULL, 'a' },
		{ "listen", required_argument, NULL, 'l' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		CLI_XFER_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct server s;
	struct pqx_url listen_at;
	const char *root = NULL, *identity = NULL, *listen_s = ":" PQX_DEFAULT_PORT;
	uint8_t pub[PQX_XWING_PUBLIC_KEY_BYTES];
	char fp[52], *rcpt = NULL;
	pthread_attr_t attr;
	int c, lfd;
	long v;

	memset(&s, 0, sizeof(s));
	s.max_conn = 64;
	s.xo.compress = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'i': identity = optarg; break;
		case 'a': s.authorized = optarg; break;
		case 'l': listen_s = optarg; break;
		case 'm':
			if ((v = cli_parse_num(optarg, 4096)) < 0) {
				cli_error(NULL, "--max-connections takes a number from 1 to 4096");
				return 1;
			}
			s.max_conn = (unsigned int)v;
			break;
		case 'q': s.quiet = 1; break;
		case 'h': printf(serve_usage, cli_dict_usage, cli_send_usage); return 0;
		default:
			if ((v = cli_xfer_option(&s.xo, c, optarg)) != 0) {
				if (v < 0)
					return 1;
				break;
			}
			cli_bad_option("serve", c, argc, argv);
			return 1;
		}
	}
	if (root == NULL || identity == NULL || s.authorized == NULL || optind != argc) {
		cli_error("see pqx serve --help", "--root, --identity and --authorized are required");
		return 1;
	}
	if (access(s.authorized, R_OK) != 0) {
		cli_error(NULL, "can't read the authorized file \"%s\": %s", s.authorized, strerror(errno));
		return 1;
	}
	if (s.xo.dict_dir != NULL && access(s.xo.dict_dir, R_OK | X_OK) != 0) {
		cli_error(NULL, "can't read the dictionary \"%s\": %s", s.xo.dict_dir, strerror(errno));
		return 1;
	}
	if ((s.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		cli_error(NULL, "can't open the root \"%s\": %s", root, strerror(errno));
		return 1;
	}
	if (cli_parse_listen(&listen_at, listen_s) != 0 || cli_load_seed(identity, s.seed, pub) != 0)
		return 1;
	if (pqx_xwing_key_expand(&s.key, s.seed) != 0) {
		cli_error(NULL, "can't expand the identity's key");
		return 1;
	}
	if ((lfd = cli_listen(listen_at.host, listen_at.port)) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	/*
	 * A connection's large buffers (records, zstd's contexts and windows)
	 * come from mmap and go back when it ends. glibc would raise its
	 * threshold after the first such free and keep them in the threads'
	 * arenas: 16 connections at once left 66-75 MB behind, 23-26 MB now.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, 256 << 10);
	pthread_mutex_init(&s.mu, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	{
		/* Every line a connection would ignore, said once now. */
		struct conn all;

		memset(&all, 0, sizeof(all));
		all.srv = &s;
		(void)read_authorized(&s, &all, NULL);
	}
	pqx_key_fingerprint(fp, pub, sizeof(pub));
	if (pqx_age_pq_recipient_string(&rcpt, pub) == 0)
		logf_(&s, 1, "listening on %s port %s, key %s", listen_at.host[0] ? listen_at.host : "*",
		    listen_at.port, fp);
	pqx_age_string_free(rcpt);
	(void)pqx_channel_default_ciphers(); /* measure once, before any client */
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		struct conn *cn;
		pthread_t t;
		char host[64] = "?";
		int fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				logf_(&s, 1, "accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				sleep(1);
			continue;
		}
		if (sa.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, host, sizeof(host));
		else if (sa.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&sa)->sin6_addr))
			inet_ntop(AF_INET, ((struct sockaddr_in6 *)&sa)->sin6_addr.s6_addr + 12, host, sizeof(host));
		else if (sa.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, host, sizeof(host));
		pthread_mutex_lock(&s.mu);
		if (s.active >= s.max_conn) {
			pthread_mutex_unlock(&s.mu);
			logf_(&s, 1, "%s refused: %u connections already", host, s.max_conn);
			close(fd);
			continue;
		}
		s.active++;
		pthread_mutex_unlock(&s.mu);
		cli_tune_socket(fd);
		if ((cn = calloc(1, sizeof(*cn))) == NULL) {
			close(fd);
			pthread_mutex_lock(&s.mu);
			s.active--;
			pthread_mutex_unlock(&s.mu);
			continue;
		}
		cn->srv = &s;
		cn->fd = fd;
		snprintf(cn->addr, sizeof(cn->addr), "%s", host);
		if (pthread_create(&t, &attr, conn_main, cn) != 0) {
			close(fd);
			free(cn);
			pthread_mutex_lock(&s.mu);
			s.active--;
			pthread_mutex_unlock(&s.mu);
		}
	}
}
