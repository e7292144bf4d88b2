/* pqx CLI: "pqx send" and "pqx get": the client side of a transfer, with server key pinning. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"

static const char send_usage[] =
    "Usage: pqx send [--identity FILE] [--server-key RECIPIENT | --accept-new] PATH... pqx://HOST:PORT/[DIR]\n"
    "                [--dict DIR] [--compress MODE] [--bwlimit RATE] [--stats] [--json]\n"
    "\n"
    "Sends files and directory trees to a pqx server, into DIR under its root. The\n"
    "channel is post-quantum (X-Wing) and mutually authenticated: the server must\n"
    "list this identity, and this side pins the server's key. Files are written on\n"
    "the server under temporary names and renamed into place once complete and\n"
    "verified. Only what the server lacks crosses: files are cut into content-\n"
    "defined chunks, and the server looks each up in what it already holds (the\n"
    "old version, earlier transfers, an interrupted run, its --dict).\n"
    "\n"
    "  -i, --identity FILE     our identity (default ~/.config/pqx/identity)\n"
    "      --server-key R      the server's key (age1pq1...): refuse any other\n"
    "      --accept-new        trust an unknown server on first use and remember it\n"
    "                          (in ~/.config/pqx/known_servers; PQX_CONFIG_DIR overrides)\n"
    "  -q, --quiet             no progress line\n"
    "      --stats             print what crossed: logical bytes, bytes on the wire,\n"
    "                          bytes reused, the ratio\n"
    "      --json              print a JSON summary on standard output\n"
    "%s%s"
    "\n"
    "Example:\n"
    "  $ pqx send --accept-new model.bin pqx://gpu-box:7392/checkpoints\n";

static const char get_usage[] =
    "Usage: pqx get [--identity FILE] [--server-key RECIPIENT | --accept-new] pqx://HOST:PORT/PATH [-o DEST]\n"
    "               [--dict DIR] [--stats] [--json]\n"
    "\n"
    "Fetches a file or directory tree from a pqx server into the directory DEST\n"
    "(default: the current directory; created if missing). Same channel, pinning,\n"
    "resume and deduplication as pqx send (this side keeps the chunk index, in\n"
    "~/.config/pqx/index).\n"
    "\n"
    "  -o, --output DEST       the directory to write into\n"
    "  -i, --identity FILE     our identity (default ~/.config/pqx/identity)\n"
    "      --server-key R      the server's key (age1pq1...): refuse any other\n"
    "      --accept-new        trust an unknown server on first use and remember it\n"
    "  -q, --quiet             no progress line\n"
    "      --stats             print what crossed: logical bytes, bytes on the wire,\n"
    "                          bytes reused (and cloned, not written, on XFS or\n"
    "                          Btrfs), the ratio\n"
    "      --json              print a JSON summary on standard output\n"
    "%s%s"
    "\n"
    "Example:\n"
    "  $ pqx get pqx://gpu-box:7392/checkpoints/model.bin -o .\n";

struct pin {
	const struct pqx_url *url;
	const char *server_key; /* --server-key, or NULL */
	int accept_new;
	int rejected;
	int pinned; /* key holds the key pinned for the server */
	uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES];
	char hostport[300];
};

/* known_servers: "host:port age1pq1..." lines, like OpenSSH's known_hosts. */
static int known_lookup(const char *hostport, char *found, size_t cap)
{
	char path[4096], line[4096];
	FILE *f;
	int r = 0;

	if (cli_config_path(path, sizeof(path), "known_servers") != 0 ||
	    (f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' '), *nl;

		if (line[0] == '#' || sp == NULL)
			continue;
		*sp = '\0';
		if ((nl = strpbrk(sp + 1, " \r\n")) != NULL)
			*nl = '\0';
		if (strcmp(line, hostport) == 0 && strlen(sp + 1) < cap) {
			strcpy(found, sp + 1);
			r = 1;
		}
	}
	fclose(f);
	return r;
}

static int known_add(const char *hostport, const char *rcpt)
{
	char path[4096], dir[4096];
	FILE *f;

	if (cli_config_path(path, sizeof(path), "known_servers") != 0 ||
	    cli_config_dir(dir, sizeof(dir)) != 0)
		return -1;
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	fprintf(f, "%s %s\n", hostport, rcpt);
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * The key pinned for the server: --server-key, else its known_servers
 * line. 0 with p->pinned set or not; -1, said, for one that is not a key.
 */
static int pin_load(struct pin *p)
{
	char known[4096];
	const char *want = p->server_key;

	/* An IPv6 address in brackets, as in the URL: [::1]:7392. */
	snprintf(p->hostport, sizeof(p->hostport), strchr(p->url->host, ':') ? "[%s]:%s" : "%s:%s",
	    p->url->host, p->url->port);
	if (want == NULL && known_lookup(p->hostport, known, sizeof(known)))
		want = known;
	if (want == NULL)
		return 0;
	if (cli_parse_pq_recipient(want, p->key) != 0) {
		cli_error(NULL, "the pinned key for %s is not an age1pq1 recipient", p->hostport);
		return -1;
	}
	p->pinned = 1;
	return 0;
}

/* The key the server presented (message 0): the pinned one, or with --accept-new a new one. */
static int check_server(void *ctx, const uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES])
{
	struct pin *p = ctx;
	char fp_got[52], fp_want[52], *rcpt = NULL;
	int r = PQX_ERR_PEER_KEY;

	pqx_key_fingerprint(fp_got, key, PQX_XWING_PUBLIC_KEY_BYTES);
	if (p->pinned) {
		if (memcmp(p->key, key, sizeof(p->key)) == 0) {
			r = 0;
			goto out;
		}
		pqx_key_fingerprint(fp_want, p->key, sizeof(p->key));
		fprintf(stderr,
		    "pqx: error: @@@ THE SERVER'S KEY HAS CHANGED @@@\n"
		    "pqx: error: %s presented %s\n"
		    "pqx: error: but the key pinned for it is %s\n"
		    "pqx: error: someone may be intercepting this connection; no data was sent, and "
		    "your key only encrypted to the pinned one.\n"
		    "pqx: hint: if the server's key really changed, remove its line from known_servers\n",
		    p->hostport, fp_got, fp_want);
		goto out;
	}
	if (!p->accept_new) {
		cli_error("check the fingerprint with the server's owner, then pass --server-key "
			  "age1pq1... or --accept-new",
		    "unknown server %s with key %s", p->hostport, fp_got);
		goto out;
	}
	if (pqx_age_pq_recipient_string(&rcpt, key) != 0 || known_add(p->hostport, rcpt) != 0) {
		cli_error(NULL, "can't record the server's key in known_servers");
		goto out;
	}
	fprintf(stderr, "pqx: trusting %s on first use: %s (recorded in known_servers)\n",
	    p->hostport, fp_got);
	r = 0;
out:
	pqx_age_string_free(rcpt);
	if (r != 0)
		p->rejected = 1;
	return r;
}

struct client_progress {
	struct cli_progress p;
};

/* Our close: a sender's goes after DONE; after a get, the server's answer is not waited for. */
static int send_close(pqx_channel *ch)
{
	return pqx_channel_send(ch, PQX_RECORD_CLOSE, NULL, 0);
}

static void on_progress(void *ctx, uint64_t done, uint64_t moved)
{
	(void)moved;
	cli_progress_cb(ctx, done);
}

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	cli_warn("%s", msg);
}

/* The bytes of regular files under the paths, for the progress line's ETA. */
static uint64_t walk_total;

static int add_size(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	if (S_ISREG(sb->st_mode))
		walk_total += (uint64_t)sb->st_size;
	return 0;
}

static uint64_t local_size(const char *const *paths, size_t n)
{
	walk_total = 0;
	for (size_t i = 0; i < n; i++)
		(void)nftw(paths[i], add_size, 32, FTW_PHYS);
	return walk_total;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole client run for both commands. */
static int run_client(int is_send, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "server-key", required_argument, NULL, 'K' },
		{ "accept-new", no_argument, NULL, 'A' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' },
		{ "stats", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		CLI_XFER_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = is_send ? "send" : "get", *identity = NULL, *dest = ".";
	struct pqx_url url;
	struct pin pin;
	uint8_t seed[32], pub[PQX_XWING_PUBLIC_KEY_BYTES];
	pqx_socket_io sio;
	pqx_channel_io io;
	pqx_channel_opts co;
	pqx_channel *ch = NULL;
	struct xfer_stats st;
	struct xfer_opts xo;
	struct cli_progress prog;
	char index[4096];
	int c, quiet = 0, json = 0, stats = 0, fd = -1, dfd = -1, ret = 1, r;
	double t0 = mono();

	memset(&pin, 0, sizeof(pin));
	memset(&st, 0, sizeof(st));
	memset(&xo, 0, sizeof(xo));
	xo.compress = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, is_send ? ":i:qh" : ":i:o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i': identity = optarg; break;
		case 'K': pin.server_key = optarg; break;
		case 'A': pin.accept_new = 1; break;
		case 'o': dest = optarg; break;
		case 'q': quiet = 1; break;
		case 'J': json = 1; quiet = 1; break;
		case 'S': stats = 1; break;
		case 'h': printf(is_send ? send_usage : get_usage, cli_dict_usage, is_send ? cli_send_usage : ""); return 0;
		default:
			if ((r = cli_xfer_option(&xo, c, optarg)) != 0) {
				if (r < 0)
					return 1;
				break;
			}
			cli_bad_option(cmd, c, argc, argv);
			return 1;
		}
	}
	if (!is_send && (xo.compress != -1 || xo.bwlimit != 0)) {
		cli_error("the server sends, and chooses (pqx serve --compress, --bwlimit)",
		    "--compress and --bwlimit are for the sending side");
		return 1;
	}
	if (pin.server_key != NULL && pin.accept_new) {
		cli_error(NULL, "--server-key and --accept-new can't be combined");
		return 1;
	}
	if (is_send ? argc - optind < 2 : argc - optind != 1) {
		cli_error(is_send ? "pqx send PATH... pqx://HOST:PORT/[DIR]" : "pqx get pqx://HOST:PORT/PATH [-o DEST]",
		    "wrong number of arguments");
		return 1;
	}
	if (cli_parse_url(&url, argv[argc - 1]) != 0)
		return 1;
	if (!is_send && url.path[0] == '\0') {
		cli_error("name a file or directory: pqx://HOST:PORT/PATH", "nothing to get");
		return 1;
	}
	if (url.path[0] != '\0' && !xfer_path_ok(url.path, strlen(url.path))) {
		cli_error("remote paths are relative to the server's root, without . or ..",
		    "invalid remote path \"%.80s\"", url.path);
		return 1;
	}
	if (!is_send) {
		if (mkdir(dest, 0755) != 0 && errno != EEXIST) {
			cli_error(NULL, "can't create \"%s\": %s", dest, strerror(errno));
			return 1;
		}
		if ((dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			cli_error("-o names a directory to write into", "can't open \"%s\": %s", dest,
			    strerror(errno));
			return 1;
		}
	}
	pin.url = &url;
	signal(SIGPIPE, SIG_IGN); /* a dropped connection is an error, not a kill */
	if (cli_load_seed(identity, seed, pub) != 0 || pin_load(&pin) != 0)
		goto out;
	if ((fd = cli_connect(url.host, url.port)) < 0)
		goto out;
	memset(&sio, 0, sizeof(sio));
	sio.fd = fd;
	sio.timeout_ms = 60000;
	sio.deadline_ms = pqx_now_ms() + 10000; /* the handshake */
	pqx_channel_io_socket(&io, &sio);
	memset(&co, 0, sizeof(co));
	co.check_server = check_server;
	co.ctx = &pin;
	co.server_key = pin.pinned ? pin.key : NULL;
	r = pqx_channel_client(&ch, &io, seed, &co);
	pqx_wipe(seed, sizeof(seed));
	if (r != 0) {
		if (r == PQX_ERR_REFUSED) {
			char fp[52];

			pqx_key_fingerprint(fp, pub, sizeof(pub));
			cli_error("ask the server's owner to add your recipient (pqx keygen -y) to its "
				  "authorized file", "the server does not authorize this identity (%s)", fp);
		} else if (!pin.rejected) {
			cli_error(NULL, "handshake with %s failed: %s", url.host, cli_net_strerror(r, NULL));
		}
		goto out;
	}
	sio.deadline_ms = 0;
	/*
	 * A sender goes on at once: the server's ACCEPT (or refusal) comes
	 * with its first answer. The request waits to leave with the first
	 * entries, so that the server answers both in one go.
	 */
	sio.more = is_send;
	r = is_send ? xfer_request_only(ch, XFER_SEND, url.path) :
		      xfer_request(ch, XFER_GET, url.path, xo.key);
	if (r != 0) {
		cli_error(NULL, "the server refused the request: %s", cli_net_strerror(r, ch));
		goto out;
	}
	xo.accept_pending = is_send;
	cli_progress_init(&prog, is_send ? "sending" : "receiving", -1, quiet);
	if (is_send && prog.enabled)
		prog.total = local_size((const char *const *)argv + optind, (size_t)(argc - optind - 1));
	if (!is_send && cli_index_path(index, sizeof(index), xo.key, dfd) == 0)
		xo.index_path = index;
	xo.close = send_close;
	xo.progress = on_progress;
	xo.progress_ctx = &prog;
	xo.warn = on_warn;
	if (is_send)
		r = xfer_send(ch, AT_FDCWD, (const char *const *)argv + optind,
		    (size_t)(argc - optind - 1), 0, &xo, &st);
	else
		r = xfer_receive(ch, dfd, &xo, &st);
	cli_progress_end(&prog);
	if (r == 0 && is_send) {
		const uint8_t *d;
		size_t n;

		/*
		 * Done only when the server closes in turn: a directory or link it
		 * could not create has no answer of its own, only an error record.
		 */
		r = pqx_channel_recv(ch, &d, &n);
		r = r == PQX_ERR_CLOSED ? 0 : r == 0 ? PQX_ERR_FORMAT : r;
	}
	if (r != 0) {
		if (r == PQX_ERR_INVALID_ARG)
			cli_error(NULL, "invalid local path");
		else
			cli_error(NULL, "transfer failed: %s", cli_net_strerror(r, ch));
		goto out;
	}
	if (json) {
		double secs = mono() - t0;

		printf("{\"ok\":true,\"files\":%llu,\"dirs\":%llu,\"links\":%llu,\"skipped\":%llu,"
		       "\"bytes\":%llu,\"bytes_moved\":%llu,\"bytes_reused\":%llu,\"bytes_cloned\":%llu,"
		       "\"bytes_data\":%llu,\"wire_bytes_out\":%llu,\"wire_bytes_in\":%llu,\"seconds\":%.3f}\n",
		    (unsigned long long)st.files, (unsigned long long)st.dirs,
		    (unsigned long long)st.links, (unsigned long long)st.skipped,
		    (unsigned long long)st.bytes, (unsigned long long)st.bytes_moved,
		    (unsigned long long)st.bytes_reused, (unsigned long long)st.bytes_cloned,
		    (unsigned long long)st.bytes_data, (unsigned long long)sio.bytes_out,
		    (unsigned long long)sio.bytes_in, secs);
	}
	if (stats) {
		uint64_t wire = sio.bytes_out + sio.bytes_in;

		fprintf(stderr,
		    "pqx: %llu file(s), %llu bytes; %llu bytes already there, %llu had to cross\n"
		    "pqx: on the wire: %llu bytes out, %llu in; ratio %.1f:1 (file bytes per wire byte)\n",
		    (unsigned long long)st.files, (unsigned long long)st.bytes,
		    (unsigned long long)st.bytes_reused, (unsigned long long)st.bytes_moved,
		    (unsigned long long)sio.bytes_out, (unsigned long long)sio.bytes_in,
		    wire ? (double)st.bytes / (double)wire : 0.0);
		if (st.bytes_cloned > 0)
			fprintf(stderr, "pqx: %llu bytes cloned from old versions, not written\n",
			    (unsigned long long)st.bytes_cloned);
	}
	if (!json && !quiet) {
		fprintf(stderr, "pqx: %s %llu file(s), %llu bytes (%llu moved) in %.1f s\n",
		    is_send ? "sent" : "received", (unsigned long long)st.files,
		    (unsigned long long)st.bytes, (unsigned long long)st.bytes_moved, mono() - t0);
	}
	ret = 0;
out:
	pqx_channel_free(ch);
	pqx_socket_io_release(&sio);
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return ret;
}

int cmd_send(int argc, char **argv)
{
	return run_client(1, argc, argv);
}

int cmd_get(int argc, char **argv)
{
	return run_client(0, argc, argv);
}
