/* pqx fuzz: a `pqx serve` connection after the handshake: request, checks, push or pull, close. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transfer/transfer.h"

#include "fuzz_chan.h"

/*
 * Input: a selector byte, then the client's messages, each u16be length ||
 * bytes (see fuzz_chan.h): a REQUEST (send or get, a path), then entries,
 * LISTs, DATA and FILE_ENDs for a push, or NEED, BITMAP and FILE_OK answers
 * for a pull.
 *
 * serve_session() below is what cli/serve.c's handle() does once the
 * channel is up, step for step (handle() is static in the CLI and also
 * does the handshake over the socket, the authorized file and the log; if
 * that part moves into a function the CLI shares, call it here instead).
 * The selector plays the client's authorized line: bit 0 send-only, bit 1
 * get-only, bit 2 dir=home; and bit 3 the server's --compress 1 (its
 * default, automatic, depends on timing). The chunking key is fuzz_key, the
 * same for every client (the CLI derives it with xfer_pair_key); a push
 * gets a chunk index (fresh for each input, see fuzz_index_fresh), as the
 * CLI's does in the config directory.
 *
 * Each input gets a fresh root BASE/root: pub/a.txt, pub/sub/b.bin,
 * home/h.txt, and the links up -> ../outside and abs -> BASE/outside.
 * Checks: nothing in BASE/outside is opened, read, written or created and
 * nothing is made beside root (inotify); everything under root is a
 * regular file, directory or link without set-id bits, and, the planted
 * links removed, links from the client resolve inside root; the result is 0 or a negative error; a
 * refused operation changes nothing; the channel stays in step.
 */

static const uint8_t fuzz_key[XFER_KEY_BYTES] = { 1 };

struct session {
	int rootfd;
	const char *dir;
	int may_send, may_get, compress;
};

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

/* cli/serve.c close_session, less our own close (nobody reads it here). */
static int client_close(pqx_channel *ch)
{
	const uint8_t *d;
	size_t n;
	int r = pqx_channel_recv(ch, &d, &n);

	return r == PQX_ERR_CLOSED ? 0 : r == 0 ? PQX_ERR_FORMAT : r;
}

/* cli/serve.c handle(), from xfer_read_request to the client's close. */
static int serve_session(pqx_channel *ch, const struct session *c, enum xfer_op *opp,
    struct xfer_stats *st)
{
	struct xfer_opts xo;
	enum xfer_op op;
	char path[XFER_MAX_PATH + 1];
	int base = -1, target = -1, r;

	memset(&xo, 0, sizeof(xo));
	xo.warn = quiet;
	xo.compress = c->compress;
	memcpy(xo.key, fuzz_key, sizeof(xo.key));
	*opp = 0;
	if ((r = xfer_read_request(ch, &op, path)) != 0)
		return r;
	*opp = op;
	if ((op == XFER_SEND && !c->may_send) || (op == XFER_GET && !c->may_get)) {
		xfer_refuse(ch, op == XFER_SEND ? "this identity may not send" : "this identity may not get");
		return PQX_ERR_REFUSED;
	}
	if ((path[0] != '\0' && !xfer_path_ok(path, strlen(path))) || (op == XFER_GET && path[0] == '\0')) {
		xfer_refuse(ch, "invalid path");
		return PQX_ERR_INVALID_ARG;
	}
	if ((base = xfer_open_dir(c->rootfd, c->dir, op == XFER_SEND)) < 0) {
		xfer_refuse(ch, "the directory is not available");
		return PQX_ERR_IO;
	}
	if (op == XFER_SEND) {
		if ((target = xfer_open_dir(base, path, 1)) < 0) {
			xfer_refuse(ch, "can't open the target directory");
			r = PQX_ERR_IO;
			goto out;
		}
		xo.index_path = fuzz_index_fresh("serve");
		xo.close = client_close;
		if ((r = xfer_accept(ch, xo.key)) == 0)
			r = xfer_receive(ch, target, &xo, st);
	} else {
		struct stat sb;
		const char *names[1] = { path };

		if (fstatat(base, path, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
			xfer_refuse(ch, "no such file or directory");
			r = PQX_ERR_IO;
			goto out;
		}
		if ((r = xfer_accept(ch, xo.key)) == 0)
			r = xfer_send(ch, base, names, 1, 1, &xo, st);
	}
	if (r == 0 && op != XFER_SEND)
		r = client_close(ch);
out:
	if (target >= 0)
		close(target);
	close(base);
	return r;
}

static void put(const char *root, const char *name, const char *text)
{
	char p[PATH_MAX + 32];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", root, name);
	FUZZ_ASSERT((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	FUZZ_ASSERT(write(fd, text, strlen(text)) == (ssize_t)strlen(text) && close(fd) == 0);
}

static void mk(const char *root, const char *name)
{
	char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/%s", root, name);
	FUZZ_ASSERT(mkdir(p, 0755) == 0);
}

/* The number of entries below path (not following links), at most a few. */
static int count_entries(const char *path)
{
	char p[PATH_MAX + 8];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s", path);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char root[PATH_MAX + 8], real[PATH_MAX], p[PATH_MAX + 16];
	struct session c;
	struct xfer_stats st;
	enum xfer_op op;
	uint8_t sel = size > 0 ? data[0] : 0;
	int r;

	fuzz_fs_init("serve");
	snprintf(root, sizeof(root), "%s/root", fzfs.base);
	FUZZ_ASSERT(mkdir(root, 0755) == 0);
	mk(root, "pub");
	mk(root, "pub/sub");
	mk(root, "home");
	put(root, "pub/a.txt", "a public file\n");
	put(root, "pub/sub/b.bin", "\x01\x02\x03");
	put(root, "home/h.txt", "home\n");
	snprintf(p, sizeof(p), "%s/up", root);
	FUZZ_ASSERT(symlink("../outside", p) == 0);
	snprintf(p, sizeof(p), "%s/abs", root);
	FUZZ_ASSERT(symlink(fzfs.outside, p) == 0);
	FUZZ_ASSERT(realpath(root, real) != NULL);
	memset(&c, 0, sizeof(c));
	FUZZ_ASSERT((c.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	c.may_send = !(sel & 2);
	c.may_get = !(sel & 1);
	c.dir = (sel & 4) ? "home" : "";
	c.compress = (sel & 8) ? 1 : 0;
	fuzz_fs_events("root", 0);

	fuzz_chan_begin(1, size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0);
	memset(&st, 0, sizeof(st));
	r = serve_session(fc.near, &c, &op, &st);
	fuzz_report(op == XFER_SEND ? "serve push" : op == XFER_GET ? "serve pull" : "serve", r, st.files, st.bytes_moved);
	FUZZ_ASSERT(r <= 0);
	if (r == PQX_ERR_REFUSED || op == XFER_GET) {
		/* Refused, or a pull: the root is as it was. */
		FUZZ_ASSERT(count_entries(root) == 4);
		snprintf(p, sizeof(p), "%s/pub", root);
		FUZZ_ASSERT(count_entries(p) == 2);
	}
	fuzz_chan_end();

	fuzz_fs_events("root", 1);
	fuzz_fs_unplant(root, "up", "../outside");
	fuzz_fs_unplant(root, "abs", fzfs.outside);
	fuzz_fs_walk(real, root, 0, NULL);
	close(c.rootfd);
	fuzz_rm_rf(root);
	fuzz_fs_events("root", 0);
	return 0;
}
