/* pqx fuzz: a real channel pair keyed once per process, whose peer's records carry the fuzzer's input. */
#ifndef PQX_FUZZ_CHAN_H
#define PQX_FUZZ_CHAN_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqx/channel.h>
#include <pqx/sha3.h>

#include "transfer/xfer_int.h"

#include "fuzz.h"

/*
 * The side under test ("near": a transfer receiver, sender or server) and
 * its peer ("far", played by the fuzzer) are both in this process. Their
 * handshake runs once, over a real socketpair, the server side in a thread,
 * with fixed identities, deterministic randomness and ChaCha20-Poly1305, so
 * every run of a target derives the same keys. After it, the two channels'
 * transport switches to memory:
 *
 * - far's records go into a queue that near reads. They are made on
 *   demand: when near wants bytes and the queue is empty, the next message
 *   of the input becomes one data record, sealed by far. So far never sends
 *   a record near does not read, and the record counters of the two stay in
 *   step from one input to the next.
 * - When the input has no messages left, far sends empty data records: every
 *   reader of a transfer message refuses an empty one (PQX_ERR_FORMAT) and
 *   returns, so near stops without its channel dying. After
 *   FUZZ_CHAN_MAX_EMPTY of them the transport fails instead and the pair is
 *   keyed again before the next input (it never happened in our runs).
 * - near's records (NEED, LIST, BITMAP, DATA, FILE_OK, error records) are
 *   counted and dropped: far never reads, so its receive counter does not
 *   matter.
 *
 * Input messages: u16be length || that many bytes (fewer at the end of the
 * input), each alone in one data record (a transfer message: u8 kind ||
 * fields, docs/PROTOCOL.md, after its length; an empty one is an empty
 * record). The length 0xfffe instead says that the next item (u16be
 * length || bytes) is a record's whole payload, as it is, so that records
 * of several messages, padding and bad framing are tried too. The length
 * 0xffff makes far send a close record (the end of a session, which `pqx
 * serve` waits for); near's channel then takes no more records, so the
 * pair is keyed again before the next input.
 */

#define FUZZ_CHAN_MAX_EMPTY 8

struct fuzz_chan {
	pqx_channel *near, *far;
	int fd[2];           /* the socketpair of the handshake */
	int handshake;       /* the transport is the socketpair */
	uint8_t *q;          /* far -> near records not yet read */
	size_t q_len, q_off, q_cap;
	struct reader in;    /* the current input's messages */
	int empty_sent, broken, closed;
	uint64_t near_bytes; /* what near wrote (dropped) */
};

static struct fuzz_chan fc;

/* One side's transport; near_side tells which. */
struct fuzz_side {
	int near_side;
};
static struct fuzz_side fc_near_side = { 1 }, fc_far_side = { 0 };

static int fc_io_exact(int fd, uint8_t *buf, size_t n, int rd)
{
	while (n > 0) {
		ssize_t k = rd ? read(fd, buf, n) : write(fd, buf, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return rd && k == 0 ? PQX_ERR_TRUNCATED : PQX_ERR_IO;
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

static int fc_queue(const uint8_t *buf, size_t n)
{
	if (fc.q_off == fc.q_len)
		fc.q_off = fc.q_len = 0;
	if (fc.q_len + n > fc.q_cap) {
		size_t cap = (fc.q_len + n) * 2;
		uint8_t *q = realloc(fc.q, cap);

		if (q == NULL)
			return PQX_ERR_NOMEM;
		fc.q = q;
		fc.q_cap = cap;
	}
	memcpy(fc.q + fc.q_len, buf, n);
	fc.q_len += n;
	return 0;
}

/* far seals the input's next message (or an empty record) into the queue. */
static int fc_produce(void)
{
	static uint8_t msg[3 + 65535];
	uint8_t lb[2];
	size_t len, hdr;
	int raw = 0;

	if (fc.in.left == 0) {
		if (fc.empty_sent >= FUZZ_CHAN_MAX_EMPTY)
			return PQX_ERR_TRUNCATED;
		fc.empty_sent++;
		return pqx_channel_send(fc.far, PQX_RECORD_DATA, NULL, 0);
	}
	take(&fc.in, lb, 2);
	len = (size_t)lb[0] << 8 | lb[1];
	if (len == 0xffff) {
		fc.closed = 1;
		return pqx_channel_send(fc.far, PQX_RECORD_CLOSE, NULL, 0);
	}
	if (len == 0xfffe) {
		/* The next item is a record's whole payload: the framing itself is fuzzed. */
		raw = 1;
		lb[0] = lb[1] = 0;
		take(&fc.in, lb, 2);
		len = (size_t)lb[0] << 8 | lb[1];
	}
	if (len > fc.in.left)
		len = fc.in.left;
	if (raw) {
		take(&fc.in, msg, len);
		return pqx_channel_send(fc.far, PQX_RECORD_DATA, msg, len);
	}
	/* One message alone in its record: its length || message (none for an empty one). */
	if (len == 0)
		return pqx_channel_send(fc.far, PQX_RECORD_DATA, NULL, 0);
	hdr = xfer_frame_put(msg, len);
	take(&fc.in, msg + hdr, len);
	return pqx_channel_send(fc.far, PQX_RECORD_DATA, msg, hdr + len);
}

static int fc_read(void *ctx, uint8_t *buf, size_t n)
{
	const struct fuzz_side *s = ctx;
	int r;

	if (fc.handshake)
		return fc_io_exact(fc.fd[s->near_side ? 0 : 1], buf, n, 1);
	FUZZ_ASSERT(s->near_side); /* far never reads after the handshake */
	while (fc.q_len - fc.q_off < n) {
		if ((r = fc_produce()) != 0) {
			fc.broken = 1;
			return r;
		}
	}
	memcpy(buf, fc.q + fc.q_off, n);
	fc.q_off += n;
	return 0;
}

static int fc_write(void *ctx, const uint8_t *buf, size_t n)
{
	const struct fuzz_side *s = ctx;

	if (fc.handshake)
		return fc_io_exact(fc.fd[s->near_side ? 0 : 1], (uint8_t *)(uintptr_t)buf, n, 0);
	if (s->near_side) {
		fc.near_bytes += n;
		return 0;
	}
	return fc_queue(buf, n);
}

/*
 * Whether near may read without waiting: a record far queued, or the
 * input's next message is a NEED. A real receiver's answers to entries come
 * while the sender still makes entries (it reads them between entries);
 * the rest (BITMAP, FILE_OK, ...) only when it waits, which keeps inputs in
 * the order a receiver answers in.
 */
static int fc_ready(void *ctx)
{
	const struct fuzz_side *s = ctx;

	if (fc.handshake || !s->near_side)
		return 0;
	return fc.q_off < fc.q_len || (fc.in.left >= 3 && ((size_t)fc.in.p[0] << 8 | fc.in.p[1]) < 0xfffe &&
					  fc.in.p[2] == 7);
}

/* Deterministic "randomness" for the handshake: SHAKE128 of a label and a counter. */
static int fc_random(void *ctx, uint8_t *out, size_t n)
{
	static uint32_t counter;
	pqx_keccak_ctx k;
	uint8_t c[4];

	(void)ctx;
	memcpy(c, &counter, 4);
	counter++;
	pqx_shake128_init(&k);
	pqx_keccak_absorb(&k, (const uint8_t *)"pqx fuzz chan", 13);
	pqx_keccak_absorb(&k, c, 4);
	pqx_keccak_squeeze(&k, out, n);
	return 0;
}

static const uint8_t fc_ciphers[2] = { PQX_CHANNEL_CHACHA20_POLY1305, 0 };
static const uint8_t fc_server_seed[32] = { 's', 'e', 'r', 'v', 'e', 'r' };
static const uint8_t fc_client_seed[32] = { 'c', 'l', 'i', 'e', 'n', 't' };

struct fc_hs {
	pqx_channel *ch;
	int r, near_is_server;
};

static void fc_opts(pqx_channel_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ciphers = fc_ciphers;
	o->random = fc_random;
}

static void *fc_server_main(void *arg)
{
	struct fc_hs *h = arg;
	pqx_channel_io io = { fc_read, fc_write,
		h->near_is_server ? (void *)&fc_near_side : (void *)&fc_far_side, fc_ready };
	pqx_channel_opts o;

	fc_opts(&o);
	h->r = pqx_channel_server(&h->ch, &io, fc_server_seed, &o);
	return NULL;
}

/*
 * Keys the pair (again, after a broken input). near_is_server: near runs
 * the server's side of the handshake (pqx serve), else the client's.
 */
static void fuzz_chan_setup(int near_is_server)
{
	struct fc_hs h = { NULL, 0, near_is_server };
	pqx_channel_io io = { fc_read, fc_write,
		near_is_server ? (void *)&fc_far_side : (void *)&fc_near_side, fc_ready };
	pqx_channel_opts o;
	pqx_channel *client = NULL;
	pthread_t t;
	int r;

	pqx_channel_free(fc.near);
	pqx_channel_free(fc.far);
	fc.near = fc.far = NULL;
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fc.fd) == 0);
	fc.handshake = 1;
	FUZZ_ASSERT(pthread_create(&t, NULL, fc_server_main, &h) == 0);
	fc_opts(&o);
	r = pqx_channel_client(&client, &io, fc_client_seed, &o);
	FUZZ_ASSERT(pthread_join(t, NULL) == 0);
	FUZZ_ASSERT(r == 0 && h.r == 0);
	close(fc.fd[0]);
	close(fc.fd[1]);
	fc.handshake = 0;
	fc.near = near_is_server ? h.ch : client;
	fc.far = near_is_server ? client : h.ch;
	fc.q_len = fc.q_off = 0;
	fc.broken = fc.closed = 0;
}

/* Before each input: its messages become far's records. */
static void fuzz_chan_begin(int near_is_server, const uint8_t *data, size_t size)
{
	if (fc.near == NULL || fc.broken || fc.closed)
		fuzz_chan_setup(near_is_server);
	fc.in.p = data;
	fc.in.left = size;
	fc.empty_sent = 0;
	fc.near_bytes = 0;
}

/* After each input: near read every record far made (they stay in step). */
static void fuzz_chan_end(void)
{
	if (!fc.broken)
		FUZZ_ASSERT(fc.q_off == fc.q_len);
	fc.q_len = fc.q_off = 0;
}

/* PQX_FUZZ_VERBOSE=1: each input's result on stderr (to check seeds). */
static void fuzz_report(const char *what, int r, uint64_t files, uint64_t moved)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("PQX_FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "%s: %d (%s), %llu files, %llu bytes moved, %llu bytes out\n", what, r,
		    pqx_strerror(r), (unsigned long long)files, (unsigned long long)moved,
		    (unsigned long long)fc.near_bytes);
}

/* ---- the file system around the side under test ---- */

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>

/*
 * A scratch base directory (on /dev/shm when there is one: fsync is free
 * there) holding the per-input directory and "outside", a directory the
 * side under test must never touch: an inotify watch on it and on base
 * reports any open, read, write or creation there or beside the per-input
 * directory (inotify sees root's accesses too).
 */
struct fuzz_fs {
	char base[PATH_MAX], outside[PATH_MAX];
	int ino, wd_base, wd_outside;
};

static struct fuzz_fs fzfs;

static int fs_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(p) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(p) == 0 || errno == ENOENT ? 0 : -1;
}

/* rm -rf path, never following a symbolic link. */
static void fuzz_rm_rf(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return;
	FUZZ_ASSERT(nftw(path, fs_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static void fuzz_fs_cleanup(void)
{
	if (fzfs.base[0] != '\0')
		fuzz_rm_rf(fzfs.base);
}

/* Once: base, base/outside (with a secret file) and the watches. */
static void fuzz_fs_init(const char *tag)
{
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char secret[PATH_MAX + 16];
	FILE *f;

	if (fzfs.base[0] != '\0')
		return;
	snprintf(fzfs.base, sizeof(fzfs.base), "%s/pqx-fuzz-%s.XXXXXX", tmp, tag);
	FUZZ_ASSERT(mkdtemp(fzfs.base) != NULL);
	atexit(fuzz_fs_cleanup);
	snprintf(fzfs.outside, sizeof(fzfs.outside), "%s/outside", fzfs.base);
	FUZZ_ASSERT(mkdir(fzfs.outside, 0755) == 0);
	snprintf(secret, sizeof(secret), "%s/secret", fzfs.outside);
	FUZZ_ASSERT((f = fopen(secret, "w")) != NULL);
	fputs("not for the peer\n", f);
	FUZZ_ASSERT(fclose(f) == 0);
	FUZZ_ASSERT((fzfs.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) >= 0);
	fzfs.wd_base = inotify_add_watch(fzfs.ino, fzfs.base,
	    IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_MODIFY | IN_OPEN);
	fzfs.wd_outside = inotify_add_watch(fzfs.ino, fzfs.outside, IN_ALL_EVENTS);
	FUZZ_ASSERT(fzfs.wd_base >= 0 && fzfs.wd_outside >= 0);
}

/*
 * Reads the pending inotify events. check: assert that none touched
 * outside, and none in base concerned anything but the entry named inside
 * (the per-input directory). Without check: drains (our own set-up).
 */
static void fuzz_fs_events(const char *inside, int check)
{
	union {
		struct inotify_event e;
		char b[4096];
	} u;
	ssize_t n;

	while ((n = read(fzfs.ino, u.b, sizeof(u.b))) > 0) {
		for (char *p = u.b; p < u.b + n;) {
			const struct inotify_event *e = (const struct inotify_event *)(void *)p;

			if (check && e->wd == fzfs.wd_outside) {
				fprintf(stderr, "outside touched: mask 0x%x name \"%s\"\n", e->mask,
				    e->len ? e->name : "");
				FUZZ_ASSERT(!"nothing outside the target directory is touched");
			}
			if (check && e->wd == fzfs.wd_base &&
			    !(e->len > 0 && strcmp(e->name, inside) == 0)) {
				fprintf(stderr, "beside the target: mask 0x%x name \"%s\"\n", e->mask,
				    e->len ? e->name : "");
				FUZZ_ASSERT(!"nothing is made beside the target directory");
			}
			p += sizeof(struct inotify_event) + e->len;
		}
	}
	FUZZ_ASSERT(n < 0 && errno == EAGAIN);
}

/*
 * The receiver's chunk index (struct xfer_opts index_path): a fresh
 * database for each input, so that a run depends on its input alone, in a
 * scratch directory of its own beside base, not in it: SQLite opens the
 * database's directory too, which the watch on base would report.
 */
static char fzix_dir[PATH_MAX], fzix_db[PATH_MAX + 16];

static void fuzz_index_cleanup(void)
{
	if (fzix_dir[0] != '\0')
		fuzz_rm_rf(fzix_dir);
}

/* Before each input: the index path, with whatever the last input left there removed. */
static inline const char *fuzz_index_fresh(const char *tag)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[PATH_MAX + 32];

	if (fzix_dir[0] == '\0') {
		const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(fzix_dir, sizeof(fzix_dir), "%s/pqx-fuzz-%s-index.XXXXXX", tmp, tag);
		FUZZ_ASSERT(mkdtemp(fzix_dir) != NULL);
		atexit(fuzz_index_cleanup);
		snprintf(fzix_db, sizeof(fzix_db), "%s/index.db", fzix_dir);
	}
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", fzix_db, suffix[i]);
		FUZZ_ASSERT(unlink(p) == 0 || errno == ENOENT);
	}
	return fzix_db;
}

/*
 * Removes the planted link dir/name if it still is ours (points at
 * target): a link the peer made through it (e -> up/x, or s -> "." and
 * e -> s/up) leads outside only because the local link does, like the
 * local link itself; without it, such a link dangles and the walk below
 * checks only where the peer's own links lead.
 */
static inline void fuzz_fs_unplant(const char *dir, const char *name, const char *target)
{
	char p[PATH_MAX + 8], t[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((n = readlink(p, t, sizeof(t) - 1)) < 0)
		return;
	t[n] = '\0';
	if (strcmp(t, target) == 0)
		FUZZ_ASSERT(unlink(p) == 0);
}

/*
 * Every entry below dir (not following links) is a regular file, directory
 * or symbolic link without set-id bits, and every link that resolves lands
 * inside root (root: the realpath of the per-input directory). bait names
 * the links we planted ourselves (NULL-terminated list, at the top only).
 */
static inline void fuzz_fs_walk(const char *root, const char *dir, int depth, const char *const *bait)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX], real[PATH_MAX];
	size_t rl = strlen(root);

	FUZZ_ASSERT(depth < 4096);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat sb;
		int planted = 0;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		FUZZ_ASSERT(lstat(path, &sb) == 0);
		FUZZ_ASSERT(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode) || S_ISLNK(sb.st_mode));
		if (!S_ISLNK(sb.st_mode))
			FUZZ_ASSERT((sb.st_mode & (S_ISUID | S_ISGID)) == 0);
		for (size_t i = 0; depth == 0 && bait != NULL && bait[i] != NULL; i++)
			planted |= strcmp(e->d_name, bait[i]) == 0;
		if (S_ISLNK(sb.st_mode) && !planted && realpath(path, real) != NULL) {
			if (!(strncmp(real, root, rl) == 0 && (real[rl] == '\0' || real[rl] == '/'))) {
				fprintf(stderr, "link %s resolves to %s, outside %s\n", path, real, root);
				FUZZ_ASSERT(!"links from the peer stay inside the transfer");
			}
		}
		if (S_ISDIR(sb.st_mode))
			fuzz_fs_walk(root, path, depth + 1, bait);
	}
	closedir(d);
}

#endif
