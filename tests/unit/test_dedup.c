/* pqx tests: what crosses the wire: the receiver's index, verified on use, and reuse across versions. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include <pqx.h>
#include <sqlite3.h>

#include "harness.h"
#include "msgs.h"
#include "transfer/blocks.h"
#include "transfer/index.h"
#include "transfer/transfer.h"
#include "transfer/tree.h"
#include "transfer/xfer_int.h"
#include "util/util.h"

/*
 * A sender and a receiver in one process, over a socketpair: the channel's
 * handshake, then xfer_send on one end and xfer_receive on the other, with
 * the receiver's index in a temporary folder the tests can also open.
 */

#define MIB ((size_t)1 << 20)

static char tmp[256], src[300], dst[300], dbpath[320];
/* Where setup makes its folder: /tmp, or a file system that clones blocks (test_clone). */
static const char *tmpbase = "/tmp";
static int compress_level; /* the sender's --compress: 0 off, -1 auto */
static const char *send_dict; /* the sender's --dict, or NULL */
static uint8_t seed_s[32], seed_c[32], key[XFER_KEY_BYTES];

static int accept_any(void *ctx, const uint8_t k[PQX_XWING_PUBLIC_KEY_BYTES])
{
	(void)ctx;
	(void)k;
	return 0;
}

struct recv_side {
	int fd;
	struct xfer_stats st;
	int r;
};

/*
 * A lying receiver (test_bad_answer): it answers the first FILE entry with
 * a NEED in a state that does not exist (lie 1), asks for blocks and sends
 * more block sums than any old version it may sign has (lie 2), or answers
 * for chunks the entry did not list (lie 3: a session's first entry never
 * lists them), then
 * reports (saw) what the sender says next.
 */
static int lie, saw;

static void lie_once(pqx_channel *ch)
{
	/* K_NEED, state, no base: a state that does not exist, blocks, chunks listed (they were not) */
	static const uint8_t need[3][3] = { { 7, 9, 0 }, { 7, 3, 0 }, { 7, 4, 0 } };
	/* K_SIGS, u16 block_len / 64, u8 weak_len, u8 strong_len, u16 count, count x 5 bytes, u16 tail */
	enum { COUNT = (16u << 20) / 1024 + 1, SIGS = 7 + COUNT * 5 + 2 };
	uint8_t *sigs = calloc(1, SIGS);
	const uint8_t *d;
	size_t n;

	if (sigs == NULL) {
		saw = PQX_ERR_NOMEM;
		return;
	}
	sigs[0] = 14;
	sigs[2] = 1024 / 64;
	sigs[3] = 3;
	sigs[4] = 2;
	sigs[5] = (uint8_t)(COUNT >> 8);
	sigs[6] = (uint8_t)COUNT;
	saw = pqx_channel_recv(ch, &d, &n);
	if (saw == 0)
		saw = tmsg_send(ch, need[lie - 1], sizeof(need[0]));
	if (saw == 0 && lie == 2)
		saw = tmsg_send(ch, sigs, SIGS);
	if (saw == 0)
		saw = pqx_channel_recv(ch, &d, &n);
	free(sigs);
}

/* As pqx serve: the request, then ACCEPT with the pair's key. */
static int read_request(pqx_channel *ch)
{
	char path[XFER_MAX_PATH + 1];
	enum xfer_op op;
	int r = xfer_read_request(ch, &op, path);

	if (r == 0 && (op != XFER_SEND || path[0] != '\0'))
		r = PQX_ERR_FORMAT;
	return r != 0 ? r : xfer_accept(ch, key);
}

/*
 * test_close_first: the receiver's close (as pqx serve sends it) first
 * counts the chunk rows the index holds, through a connection of its own.
 */
static int probe_close;
static long rows_at_close = -1;

static int count_then_close(pqx_channel *ch)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM spans", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		rows_at_close = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return pqx_channel_send(ch, PQX_RECORD_CLOSE, NULL, 0);
}

/*
 * test_part_replaced: once the receiver is past the first file (of
 * part_after bytes), another session's work is played out: the landed
 * file's partial name is moved aside and a new partial file made.
 */
static uint64_t part_after;
static int part_replaced;

static void replace_part(void *ctx, uint64_t done, uint64_t moved)
{
	char from[600], to[600];
	int fd;

	(void)ctx;
	(void)moved;
	if (part_replaced || done <= part_after)
		return;
	snprintf(from, sizeof(from), "%s/.a.pqx-part", dst);
	snprintf(to, sizeof(to), "%s/.a.pqx-prev", dst);
	if (rename(from, to) != 0 || (fd = open(from, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
		return;
	part_replaced = write(fd, "PARTIAL", 7) == 7;
	close(fd);
}

/*
 * test_fresh_taken: the receiver made the directory, so it looks for no
 * old versions there; once the first bytes arrived, another session takes
 * a later file's partial name (steal, under dst), keeping it open.
 */
static const char *steal;
static int steal_fd = -1;

static void take_part(void *ctx, uint64_t done, uint64_t moved)
{
	char path[600];

	(void)ctx;
	(void)moved;
	if (steal_fd >= 0 || done == 0)
		return;
	snprintf(path, sizeof(path), "%s/%s", dst, steal);
	if ((steal_fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600)) >= 0 && write(steal_fd, "THEIRS", 6) != 6) {
		close(steal_fd);
		steal_fd = -1;
	}
}

static void *receiver(void *arg)
{
	struct recv_side *rs = arg;
	pqx_socket_io sio;
	pqx_channel_io io;
	pqx_channel_opts co;
	pqx_channel *ch = NULL;
	struct xfer_opts xo;
	int dfd;

	memset(&sio, 0, sizeof(sio));
	sio.fd = rs->fd;
	sio.timeout_ms = 30000;
	pqx_channel_io_socket(&io, &sio);
	memset(&co, 0, sizeof(co));
	co.authorize = accept_any;
	memset(&xo, 0, sizeof(xo));
	memcpy(xo.key, key, sizeof(key));
	xo.index_path = dbpath;
	if (probe_close)
		xo.close = count_then_close;
	if (part_after)
		xo.progress = replace_part;
	else if (steal != NULL)
		xo.progress = take_part;
	if ((rs->r = pqx_channel_server(&ch, &io, seed_s, &co)) != 0)
		return NULL;
	if (lie) {
		lie_once(ch);
	} else if ((dfd = open(dst, O_RDONLY | O_DIRECTORY)) < 0) {
		rs->r = PQX_ERR_IO;
	} else if ((rs->r = read_request(ch)) != 0) {
		close(dfd);
	} else {
		rs->r = xfer_receive(ch, dfd, &xo, &rs->st);
		close(dfd);
	}
	pqx_channel_free(ch);
	pqx_socket_io_release(&sio);
	return NULL;
}

/* The sender's channel writes (one a record, a handshake message or a close) in the last transfer. */
static uint64_t sender_writes;

struct counting_io {
	pqx_channel_io inner;
	uint64_t writes;
};

static int counting_write(void *ctx, const uint8_t *p, size_t n)
{
	struct counting_io *c = ctx;

	c->writes++;
	return c->inner.write(c->inner.ctx, p, n);
}

static int counting_read(void *ctx, uint8_t *p, size_t n)
{
	struct counting_io *c = ctx;

	return c->inner.read(c->inner.ctx, p, n);
}

static int counting_ready(void *ctx)
{
	struct counting_io *c = ctx;

	return c->inner.ready(c->inner.ctx);
}

/* Sends src/names[0..count) into dst in one session; the receiver's result, its stats in *st
 * (lists: the sender's). */
static int transfer_n(const char *const *names, size_t count, struct xfer_stats *st)
{
	int sv[2], sfd, r;
	pthread_t th;
	struct recv_side rs;
	pqx_socket_io sio;
	pqx_channel_io io;
	struct counting_io cio;
	pqx_channel_opts co;
	pqx_channel *ch = NULL;
	struct xfer_opts xo;
	struct xfer_stats sst;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return PQX_ERR_IO;
	memset(&rs, 0, sizeof(rs));
	rs.fd = sv[1];
	pthread_create(&th, NULL, receiver, &rs);
	memset(&sio, 0, sizeof(sio));
	sio.fd = sv[0];
	sio.timeout_ms = 30000;
	pqx_channel_io_socket(&cio.inner, &sio);
	cio.writes = 0;
	io = cio.inner;
	io.ctx = &cio;
	io.read = counting_read;
	io.write = counting_write;
	io.ready = cio.inner.ready != NULL ? counting_ready : NULL;
	memset(&co, 0, sizeof(co));
	co.check_server = accept_any;
	memset(&xo, 0, sizeof(xo));
	memcpy(xo.key, key, sizeof(key));
	xo.compress = compress_level;
	xo.dict_dir = send_dict;
	memset(&sst, 0, sizeof(sst));
	/* As pqx send (but for a lie): the request, and entries before ACCEPT. */
	xo.accept_pending = !lie;
	if (!lie)
		memset(xo.key, 0, sizeof(xo.key)); /* it comes with ACCEPT */
	if ((r = pqx_channel_client(&ch, &io, seed_c, &co)) == 0 &&
	    (lie || (r = xfer_request_only(ch, XFER_SEND, "")) == 0) &&
	    (sfd = open(src, O_RDONLY | O_DIRECTORY)) >= 0) {
		r = xfer_send(ch, sfd, names, count, 0, &xo, &sst);
		close(sfd);
		if (r == 0 && probe_close) {
			/* As pqx send: done when the receiver closes in turn. */
			const uint8_t *d;
			size_t dn;

			r = pqx_channel_recv(ch, &d, &dn);
			r = r == PQX_ERR_CLOSED ? 0 : r == 0 ? PQX_ERR_FORMAT : r;
		}
	}
	pqx_channel_free(ch);
	pqx_socket_io_release(&sio);
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	*st = rs.st;
	st->lists = sst.lists; /* the sender's */
	sender_writes = cio.writes;
	return r != 0 ? r : rs.r;
}

static int transfer(const char *name, struct xfer_stats *st)
{
	const char *names[1] = { name };

	return transfer_n(names, 1, st);
}

static uint64_t rng;

static uint8_t *random_bytes(size_t n)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; p != NULL && i < n; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (uint8_t)(rng >> 56);
	}
	return p;
}

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n, time_t mt)
{
	char path[600];
	struct timespec ts[2] = { { mt, 0 }, { mt, 0 } };
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return -1;
	if (write(fd, p, n) != (ssize_t)n || futimens(fd, ts) != 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int same_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[600];
	size_t len = 0;
	uint8_t *got;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((got = t_read_file(path, &len)) == NULL)
		return 0;
	ok = len == n && memcmp(got, p, n) == 0;
	free(got);
	return ok;
}

static int setup(void)
{
	uint8_t s[8];

	snprintf(tmp, sizeof(tmp), "%s/pqx-dedup.XXXXXX", tmpbase);
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(dst, sizeof(dst), "%s/dst", tmp);
	snprintf(dbpath, sizeof(dbpath), "%s/index.db", tmp);
	t_rand(seed_s, sizeof(seed_s));
	t_rand(seed_c, sizeof(seed_c));
	t_rand(key, sizeof(key));
	t_rand(s, sizeof(s));
	rng = pqx_load64_le(s);
	return mkdir(src, 0755) == 0 && mkdir(dst, 0755) == 0 ? 0 : -1;
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	(void)!system(cmd);
}

/* A second version: a few overwrites and an insertion. */
static uint8_t *edit(const uint8_t *p, size_t n, size_t *out_n)
{
	uint8_t *q = malloc(n + 1000), *ins = random_bytes(1000);

	if (q == NULL || ins == NULL) {
		free(q);
		free(ins);
		return NULL;
	}
	memcpy(q, p, n / 2);
	memcpy(q + n / 2, ins, 1000);
	memcpy(q + n / 2 + 1000, p + n / 2, n - n / 2);
	for (int i = 1; i <= 3; i++)
		memset(q + (size_t)i * n / 4, 0xa5, 4096);
	free(ins);
	*out_n = n + 1000;
	return q;
}

/* Only what changed crosses, and the second version is exact. */
static void test_reuse(void)
{
	size_t n = 8 * MIB, n2 = 0;
	uint8_t *v1 = random_bytes(n), *v2 = v1 ? edit(v1, n, &n2) : NULL;
	struct xfer_stats st;

	if (setup() != 0 || v2 == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "f", v1, n, 1000000) == 0);
	CHECK(transfer("f", &st) == 0, "first transfer");
	CHECK(st.bytes_moved == n, "the first version crosses whole: %llu", (unsigned long long)st.bytes_moved);
	CHECK(write_file(src, "f", v2, n2, 2000000) == 0);
	CHECK(transfer("f", &st) == 0, "second transfer");
	CHECK(same_file(dst, "f", v2, n2), "the second version arrived exactly");
	CHECK(st.bytes_moved > 0 && st.bytes_moved < n / 20,
	    "moved %llu of %zu bytes", (unsigned long long)st.bytes_moved, n2);
	CHECK(st.bytes_reused + st.bytes_moved == n2);
out:
	free(v1);
	free(v2);
	teardown();
}

/*
 * A file of three windows or more (of at least WIN_BYTES each), in flight
 * at once (content.h, AHEAD_WINDOWS): changes in the first and the last
 * two, none from 5 to 67 MiB, so that a window in the middle is complete
 * with its level-2 answers while the first still waits for its lists.
 */
static void test_windows(void)
{
	size_t n = 100 * MIB, n2 = n + 1000;
	uint8_t *v1 = random_bytes(n), *v2 = malloc(n2), *ins = random_bytes(1000);
	struct xfer_stats st;

	if (setup() != 0 || v1 == NULL || v2 == NULL || ins == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	memcpy(v2, v1, 97 * MIB);
	memcpy(v2 + 97 * MIB, ins, 1000);
	memcpy(v2 + 97 * MIB + 1000, v1 + 97 * MIB, n - 97 * MIB);
	memset(v2 + 4 * MIB, 0x5a, 4096);
	memset(v2 + 68 * MIB, 0xa5, 65536);
	CHECK(write_file(src, "f", v1, n, 1000000) == 0);
	CHECK(transfer("f", &st) == 0, "first transfer");
	CHECK(write_file(src, "f", v2, n2, 2000000) == 0);
	CHECK(transfer("f", &st) == 0, "second transfer");
	CHECK(same_file(dst, "f", v2, n2), "the second version arrived exactly");
	CHECK(st.bytes_moved > 0 && st.bytes_moved < 1 * MIB, "moved %llu of %zu bytes",
	    (unsigned long long)st.bytes_moved, n2);
	CHECK(st.bytes_reused + st.bytes_moved == n2);
	/* Three windows' level-2 answers or more, and two lower levels for each of two or more. */
	CHECK(st.lists >= 3 + 2 * 2, "%llu answers", (unsigned long long)st.lists);
out:
	free(v1);
	free(v2);
	free(ins);
	teardown();
}

/*
 * A file that streamed in whole (nothing to compare with) is indexed whole,
 * though the receiver finishes that after the sender is told: the same
 * bytes under another name then do not cross.
 */
static void test_streamed_indexed(void)
{
	size_t n = 48 * MIB;
	uint8_t *v = random_bytes(n);
	struct xfer_stats st;

	if (setup() != 0 || v == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "a", v, n, 1000000) == 0 && write_file(src, "b", v, n, 1000000) == 0);
	CHECK(transfer("a", &st) == 0 && st.bytes_moved == n, "first transfer");
	CHECK(transfer("b", &st) == 0, "second transfer");
	CHECK(same_file(dst, "b", v, n));
	CHECK(st.bytes_moved == 0 && st.bytes_reused == n, "moved %llu, reused %llu",
	    (unsigned long long)st.bytes_moved, (unsigned long long)st.bytes_reused);
out:
	free(v);
	teardown();
}

/*
 * A small file is compared with its entry: its chunks go with it, the
 * receiver answers for them with NEED, and no round trip is spent on them,
 * while it still finds what the receiver holds elsewhere. The sender lists
 * them once an answer says the receiver compares (here the first of
 * XFER_AHEAD files whose shared base the receiver lacks: each of those has few
 * chunks and is compared in one round trip, listed flat). A larger file
 * of at most 128 level-1 nodes lists those flat, then the chunks of those
 * the receiver lacks: two round trips; a larger one goes down the levels
 * of its tree, a round trip each.
 */
#define FILLERS XFER_AHEAD

static void test_flat(void)
{
	size_t n = 96 << 10, big = 8 * MIB, fl = 5000;
	uint8_t *v = random_bytes(big);
	const char *names[FILLERS + 1];
	char fname[FILLERS][8];
	struct xfer_stats st;
	char dict[320];

	if (setup() != 0 || v == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	/* g: the first half of f, already there (and indexed) under another name. */
	CHECK(write_file(src, "g", v, n / 2, 1000000) == 0 && write_file(src, "f", v, n, 1000000) == 0);
	CHECK(transfer("g", &st) == 0, "first transfer");
	snprintf(dict, sizeof(dict), "%s/dict", tmp);
	CHECK(mkdir(dict, 0755) == 0);
	for (int i = 0; i < FILLERS; i++) {
		const uint8_t *p = v + n + (size_t)i * fl;

		snprintf(fname[i], sizeof(fname[i]), "b%02d", i);
		names[i] = fname[i];
		CHECK(write_file(dict, fname[i], p + 1, fl, 1000000) == 0 &&
		    write_file(src, fname[i], p, fl, 1000000) == 0);
	}
	names[FILLERS] = "f";
	send_dict = dict;
	CHECK(transfer_n(names, FILLERS + 1, &st) == 0, "second transfer");
	send_dict = NULL;
	CHECK(same_file(dst, "f", v, n) && same_file(dst, "b31", v + n + 31 * fl, fl), "arrived exactly");
	CHECK(st.lists == FILLERS, "%llu round trips to compare (one per file with a base, none for f)",
	    (unsigned long long)st.lists);
	CHECK(st.bytes_reused >= n / 2 - XFER_SMALL_MAX, "f reused %llu", (unsigned long long)st.bytes_reused);
	/* About a thousand chunks (some 60 level-1 nodes), none there: level 1 flat, then the chunks. */
	CHECK(write_file(src, "h", v + n, 2 * MIB, 1000000) == 0);
	CHECK(transfer("h", &st) == 0 && same_file(dst, "h", v + n, 2 * MIB), "third transfer");
	CHECK(st.lists == 2, "h was compared in %llu round trips", (unsigned long long)st.lists);
	/* Some 190 level-1 nodes: every level is listed. */
	CHECK(write_file(src, "k", v + n + 2 * MIB, big - n - 2 * MIB, 1000000) == 0);
	CHECK(transfer("k", &st) == 0 && same_file(dst, "k", v + n + 2 * MIB, big - n - 2 * MIB),
	    "fourth transfer");
	CHECK(st.lists == 3, "k was compared in %llu round trips", (unsigned long long)st.lists);
out:
	send_dict = NULL;
	free(v);
	teardown();
}

/* Threads that keep every core busy, at normal priority. */
static atomic_int spinning;

static void *spin(void *arg)
{
	(void)arg;
	while (atomic_load(&spinning))
		;
	return NULL;
}

/* Keeps every core busy (up to 8) until spin_stop; returns how many threads started. */
static int spin_start(pthread_t th[8])
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int nth = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores, started = 0;

	atomic_store(&spinning, 1);
	for (int i = 0; i < nth; i++)
		started += pthread_create(&th[started], NULL, spin, NULL) == 0;
	return started;
}

static void spin_stop(pthread_t th[8], int started)
{
	atomic_store(&spinning, 0);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * With every core busy, the receiver's idle-priority indexer gets almost no
 * time: the receiver must not wait for it (it takes over), or a session
 * would last as long as the indexer needs at a fraction of a percent of a
 * core. A liveness check, with a limit far above the few seconds it takes.
 */
static void test_streamed_under_load(void)
{
	size_t n = 96 * MIB;
	uint8_t *v = random_bytes(n);
	pthread_t th[8];
	struct xfer_stats st;
	double t0, secs;
	int started;

	if (setup() != 0 || v == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "a", v, n, 1000000) == 0 && write_file(src, "b", v, n, 1000000) == 0);
	started = spin_start(th);
	t0 = now_s();
	CHECK(transfer("a", &st) == 0, "transfer under load");
	secs = now_s() - t0;
	spin_stop(th, started);
	CHECK(secs < 20, "a 96 MiB transfer took %.1f s with the cores busy", secs);
	CHECK(transfer("b", &st) == 0 && st.bytes_moved == 0, "indexed whole all the same: moved %llu",
	    (unsigned long long)st.bytes_moved);
out:
	free(v);
	teardown();
}

/*
 * A sender that gets a malformed answer says so to the receiver, not only
 * hangs up. The file is not tiny: a tiny one goes with its entry (eager),
 * and the sender would refuse blocks (lie 2) before it reads their sums.
 */
static void test_bad_answer(void)
{
	uint8_t v[5000] = { 1 };
	struct xfer_stats st;

	if (setup() != 0) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "f", v, sizeof(v), 1000000) == 0);
	for (lie = 1; lie <= 3; lie++) {
		saw = 0;
		CHECK(transfer("f", &st) == PQX_ERR_FORMAT, "the sender refuses answer %d", lie);
		CHECK(saw == PQX_ERR_PEER_ERROR, "the receiver got an error record: %d", saw);
	}
out:
	lie = 0;
	teardown();
}

/*
 * A file that grows from the small chunk class into the large one: the
 * receiver's rows of the old version were cut small, so it cuts the old
 * version again the large way, and the old bytes are still found.
 */
static void test_class_change(void)
{
	size_t n1 = 15 * MIB, n2 = 17 * MIB;
	uint8_t *v = random_bytes(n2);
	struct xfer_stats st;

	if (setup() != 0 || v == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "f", v, n1, 1000000) == 0);
	CHECK(transfer("f", &st) == 0, "first transfer");
	CHECK(write_file(src, "f", v, n2, 2000000) == 0);
	CHECK(transfer("f", &st) == 0, "second transfer");
	CHECK(same_file(dst, "f", v, n2));
	CHECK(st.bytes_reused >= n1 - MIB, "reused %llu of the %zu old bytes",
	    (unsigned long long)st.bytes_reused, n1);
out:
	free(v);
	teardown();
}

static int add_row(void *ctx, const struct xfer_node *nd)
{
	return xfer_index_add(ctx, nd->id, nd->off, nd->len);
}

/* Drops dir/name from the page cache (pqx clones only an old version that is not cached). */
static void uncache(const char *dir, const char *name)
{
	char path[600];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		(void)fdatasync(fd);
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/*
 * The index says the receiver's file holds the new version's chunks, and
 * the file's stat is exactly what the index recorded, but its bytes are
 * other bytes: every candidate fails verification, everything crosses, and
 * the result is the new version.
 */
/* A lying index; on a file system that clones (clones set), the lies are cloned, then caught. */
static void lying_index(size_t n, int clones)
{
	uint8_t *old = random_bytes(n), *want = random_bytes(n);
	struct xfer_index *ix = NULL;
	struct xfer_tree *t = NULL;
	struct xfer_stats st;
	struct stat sb;
	char path[600];

	if (setup() != 0 || old == NULL || want == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	/*
	 * The rows lie about another file, g: with no old version of f, f is
	 * compared by chunk trees against the index (an old f would be matched
	 * in blocks instead).
	 */
	CHECK(write_file(dst, "g", old, n, 1000000) == 0);
	uncache(dst, "g");
	CHECK(write_file(src, "f", want, n, 2000000) == 0);
	snprintf(path, sizeof(path), "%s/g", dst);
	CHECK(stat(path, &sb) == 0);
	/* Rows for the wanted bytes, pointing into the file that holds others. */
	CHECK(xfer_index_open(&ix, dbpath) == 0 && (t = xfer_tree_new(key, 2)) != NULL);
	if (ix == NULL || t == NULL)
		goto out;
	CHECK(xfer_index_begin(ix) == 0 && xfer_index_add_file(ix, XFER_SRC_ROOT, "g", &sb) == 0);
	xfer_tree_size(t, n);
	xfer_tree_start(t, 0, 2, add_row, ix);
	CHECK(xfer_tree_update(t, want, n) == 0 && xfer_tree_finish(t) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(xfer_index_file_current(ix, XFER_SRC_ROOT, "g", &sb) == 1, "the index believes it");
	xfer_index_close(ix);
	ix = NULL;
	CHECK(transfer("f", &st) == 0);
	CHECK(same_file(dst, "f", want, n), "the right bytes, not the index's");
	CHECK(st.bytes_reused == 0 && st.bytes_moved == n,
	    "reused %llu, moved %llu", (unsigned long long)st.bytes_reused,
	    (unsigned long long)st.bytes_moved);
	CHECK(!clones || st.bytes_cloned >= n / 2, "%llu bytes of the lies cloned",
	    (unsigned long long)st.bytes_cloned);
out:
	xfer_index_close(ix);
	xfer_tree_free(t);
	free(old);
	free(want);
	teardown();
}

static void test_lying_index(void)
{
	lying_index(4 * MIB, 0);
}

/* A file's extents (FIEMAP): logical offset, physical offset, length. */
struct extent {
	uint64_t log, phys, len;
};

static size_t extents(const char *dir, const char *name, struct extent *v, size_t cap)
{
	char path[600];
	uint64_t start = 0;
	size_t n = 0;
	int fd, last = 0;
	union {
		struct fiemap fm;
		uint8_t room[sizeof(struct fiemap) + 64 * sizeof(struct fiemap_extent)];
	} u;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while (!last && n < cap) {
		memset(&u, 0, sizeof(u));
		u.fm.fm_start = start;
		u.fm.fm_length = ~(uint64_t)0 - start;
		u.fm.fm_flags = FIEMAP_FLAG_SYNC;
		u.fm.fm_extent_count = 64;
		if (ioctl(fd, FS_IOC_FIEMAP, &u.fm) != 0 || u.fm.fm_mapped_extents == 0)
			break;
		for (uint32_t i = 0; i < u.fm.fm_mapped_extents && n < cap; i++) {
			const struct fiemap_extent *e = &u.fm.fm_extents[i];

			v[n].log = e->fe_logical;
			v[n].phys = e->fe_physical;
			v[n++].len = e->fe_length;
			start = e->fe_logical + e->fe_length;
			last = (e->fe_flags & FIEMAP_EXTENT_LAST) != 0;
		}
	}
	close(fd);
	return n;
}

/* Bytes at which b maps to the same disk blocks as a did (a clone of a, or a itself). */
static uint64_t same_blocks(const struct extent *a, size_t na, const struct extent *b, size_t nb)
{
	uint64_t total = 0;

	for (size_t i = 0; i < nb; i++)
		for (size_t j = 0; j < na; j++) {
			uint64_t lo = b[i].log > a[j].log ? b[i].log : a[j].log;
			uint64_t hi = b[i].log + b[i].len < a[j].log + a[j].len ? b[i].log + b[i].len : a[j].log + a[j].len;

			if (lo < hi && b[i].phys - b[i].log == a[j].phys - a[j].log)
				total += hi - lo;
		}
	return total;
}

/*
 * On a file system that clones blocks (PQX_TEST_CLONE_DIR: tests/transfer/run.sh
 * mounts an XFS image there when it can), a file of 64 MiB or more changed
 * in place gets the blocks it keeps cloned from its old version, not written:
 * most of the new one lies on the old one's disk blocks (FIEMAP). The bytes
 * arrive exactly, and cloned bytes are verified all the
 * same: a lying index (its rows point at other bytes at the same offsets,
 * so they line up with blocks and are cloned) still gives the right ones.
 * An old version that is in the page cache is copied instead.
 */
static void test_clone(void)
{
	const char *dir = getenv("PQX_TEST_CLONE_DIR");
	size_t n = 72 * MIB, na, nb; /* files from 64 MiB on are cloned */
	uint8_t *v1 = NULL, *v2 = NULL;
	struct extent *a = NULL, *b = NULL;
	struct xfer_stats st;

	if (dir == NULL || *dir == '\0') {
		t_skip("PQX_TEST_CLONE_DIR is not set (tests/transfer/run.sh sets it on an XFS image)");
		return;
	}
	tmpbase = dir;
	if (setup() != 0 || (v1 = random_bytes(n)) == NULL || (v2 = malloc(n)) == NULL ||
	    (a = calloc(4096, sizeof(*a))) == NULL || (b = calloc(4096, sizeof(*b))) == NULL) {
		CHECK(0, "setup in %s", dir);
		teardown();
		goto out;
	}
	memcpy(v2, v1, n);
	for (int i = 0; i < 5; i++)
		memset(v2 + (size_t)i * (n / 5) + 12345, 0xa5 + i, 65536);
	CHECK(write_file(src, "f", v1, n, 1000000) == 0);
	CHECK(transfer("f", &st) == 0, "first transfer");
	uncache(dst, "f");
	na = extents(dst, "f", a, 4096);
	CHECK(write_file(src, "f", v2, n, 2000000) == 0);
	CHECK(transfer("f", &st) == 0, "second transfer");
	CHECK(same_file(dst, "f", v2, n), "the new version arrived exactly");
	CHECK(st.bytes_reused >= n * 9 / 10, "reused %llu of %zu", (unsigned long long)st.bytes_reused, n);
	CHECK(st.bytes_cloned >= n * 3 / 4, "cloned %llu of %zu", (unsigned long long)st.bytes_cloned, n);
	nb = extents(dst, "f", b, 4096);
	CHECK(same_blocks(a, na, b, nb) >= (uint64_t)n * 3 / 4, "%llu of %zu bytes on the old version's blocks",
	    (unsigned long long)same_blocks(a, na, b, nb), n);
	/* An old version in the page cache is copied: faster than reading a clone back. */
	na = extents(dst, "f", a, 4096);
	CHECK(same_file(dst, "f", v2, n), "cached: read once more");
	memset(v1, 0, 4096);
	CHECK(write_file(src, "f", v1, n, 3000000) == 0);
	CHECK(transfer("f", &st) == 0, "third transfer");
	CHECK(same_file(dst, "f", v1, n), "the third version arrived exactly");
	CHECK(st.bytes_cloned == 0, "cloned %llu from a cached old version", (unsigned long long)st.bytes_cloned);
	nb = extents(dst, "f", b, 4096);
	CHECK(same_blocks(a, na, b, nb) < (uint64_t)n / 4, "%llu of %zu bytes cloned from a cached old version",
	    (unsigned long long)same_blocks(a, na, b, nb), n);
	teardown();
	lying_index(n, 1);
out:
	tmpbase = "/tmp";
	free(v1);
	free(v2);
	free(a);
	free(b);
}

/*
 * A small file that changed all over (a rebuilt binary: a few bytes every
 * 8 KiB) keeps few whole chunks, but most of its old blocks: it crosses as
 * the blocks of the old version it matches and the bytes between them, and
 * the index learns the result (the same bytes under another name then
 * move nothing).
 */
static void test_blocks(void)
{
	size_t n = 2 * MIB;
	uint8_t *v1 = random_bytes(n), *v2 = malloc(n + 700);
	struct xfer_stats st;

	if (setup() != 0 || v1 == NULL || v2 == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	/* 700 bytes inserted at the start shift everything: blocks are found at any offset. */
	memset(v2, 0x5a, 700);
	memcpy(v2 + 700, v1, n);
	for (size_t off = 700 + 4096; off + 4 <= n + 700; off += 8192)
		memset(v2 + off, 0xff, 4);
	CHECK(write_file(src, "f", v1, n, 1000000) == 0);
	CHECK(transfer("f", &st) == 0, "first transfer");
	CHECK(write_file(src, "f", v2, n + 700, 2000000) == 0);
	CHECK(transfer("f", &st) == 0, "second transfer");
	CHECK(same_file(dst, "f", v2, n + 700), "the second version arrived exactly");
	CHECK(st.bytes_moved < n / 3 && st.bytes_reused + st.bytes_moved == n + 700,
	    "moved %llu, reused %llu of %zu", (unsigned long long)st.bytes_moved,
	    (unsigned long long)st.bytes_reused, n + 700);
	CHECK(write_file(src, "g", v2, n + 700, 2000000) == 0);
	CHECK(transfer("g", &st) == 0 && same_file(dst, "g", v2, n + 700), "a copy under another name");
	CHECK(st.bytes_moved == 0, "the index knew the new version: moved %llu",
	    (unsigned long long)st.bytes_moved);
out:
	free(v1);
	free(v2);
	teardown();
}

/*
 * The old version's tail (what is left after its whole blocks) is found at
 * the end of the new one: a file that grew in the middle keeps its
 * trailer, and only the inserted bytes cross.
 */
static void test_blocks_tail(void)
{
	enum { N = 8 * 1024 + 500, INS = 300 };
	uint8_t *v1 = random_bytes(N), *v2 = malloc(N + INS), *ins = random_bytes(INS);
	struct xfer_stats st;

	if (setup() != 0 || v1 == NULL || v2 == NULL || ins == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	memcpy(v2, v1, 4096);
	memcpy(v2 + 4096, ins, INS);
	memcpy(v2 + 4096 + INS, v1 + 4096, N - 4096);
	CHECK(write_file(src, "f", v1, N, 1000000) == 0);
	CHECK(transfer("f", &st) == 0, "first transfer");
	CHECK(write_file(src, "f", v2, N + INS, 2000000) == 0);
	CHECK(transfer("f", &st) == 0 && same_file(dst, "f", v2, N + INS), "the second version arrived exactly");
	CHECK(st.bytes_moved == INS && st.bytes_reused == N, "moved %llu (the %d inserted), reused %llu",
	    (unsigned long long)st.bytes_moved, INS, (unsigned long long)st.bytes_reused);
out:
	free(v1);
	free(v2);
	free(ins);
	teardown();
}

/*
 * Data that crosses raw gets finer blocks (512 bytes, not 1 KiB): with a
 * byte changed 600 bytes into every KiB, the first half of each KiB is a
 * whole 512-byte block and still matches when compression is off; with
 * --compress 3 no 1 KiB block is whole, and (almost) all of it crosses.
 */
static void test_blocks_raw(void)
{
	enum { N = 64 * 1024 };
	uint8_t *v1 = random_bytes(N), *v2 = malloc(N);
	struct xfer_stats st;

	if (v1 == NULL || v2 == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	memcpy(v2, v1, N);
	for (size_t off = 600; off < N; off += 1024)
		v2[off] ^= 0xff;
	for (int pass = 0; pass < 2; pass++) {
		if (setup() != 0) {
			CHECK(0, "setup");
			goto out;
		}
		compress_level = pass == 0 ? 0 : 3;
		CHECK(write_file(src, "f", v1, N, 1000000) == 0 && transfer("f", &st) == 0, "first transfer");
		CHECK(write_file(src, "f", v2, N, 2000000) == 0 && transfer("f", &st) == 0 &&
			same_file(dst, "f", v2, N),
		    "the second version arrived exactly (--compress %d)", compress_level);
		if (pass == 0)
			CHECK(st.bytes_moved <= N / 2 + 1024, "raw: moved %llu of %d", (unsigned long long)st.bytes_moved, N);
		else
			CHECK(st.bytes_moved >= N * 3 / 4, "compressed: moved %llu of %d", (unsigned long long)st.bytes_moved, N);
		teardown();
	}
out:
	compress_level = 0;
	free(v1);
	free(v2);
}

/*
 * A block whose sums agree with the old version's and whose bytes do not: a
 * twin of the old block 3 with the same weak sum (three +1 -2 +1 changes,
 * which keep both of its halves) and the same short strong sum, found by
 * search. The receiver finds c's hash wrong and says AGAIN while the files
 * after it are on their way; the sender sends c again whole after the last
 * one, and every file lands exactly.
 */
static void test_blocks_again(void)
{
	static const char *const names[5] = { "a", "b", "c", "d", "e" };
	enum { N = 8192 };
	struct xfer_tree *t = NULL;
	pqx_hmac *h = NULL;
	const uint32_t L = xb_block_len(N, 1); /* compression off: the receiver signs finer blocks */
	uint32_t wlen, slen;
	uint8_t *v[5] = { NULL }, *c = malloc(N), want[XB_STRONG_MAX], got[XB_STRONG_MAX];
	uint32_t x = 0x9e3779b9u;
	struct xfer_stats st;
	int found = 0;

	xb_sig_lens(N, N, N / L, &wlen, &slen);
	for (int i = 0; i < 5; i++)
		v[i] = random_bytes(N);
	/* The pair's key is new at each setup: the strong sums' key comes after. */
	if (setup() != 0 || (t = xfer_tree_new(key, 2)) == NULL || (h = xfer_tree_idh(t)) == NULL ||
	    c == NULL || v[4] == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	for (int i = 0; i < 5; i++)
		CHECK(write_file(src, names[i], v[i], N, 1000000) == 0);
	CHECK(transfer_n(names, 5, &st) == 0, "first transfer");
	CHECK(xb_strong(h, want, slen, v[2] + 3 * L, L) == 0);
	for (long tries = 0; !found && tries < 8000000; tries++) {
		uint8_t *b = c + 3 * L;
		uint32_t p[3];

		memcpy(c, v[2], N);
		for (int k = 0; k < 3; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			p[k] = x % (L - 3);
		}
		/* Three changes that do not overlap: tens of millions of twins to try (two gave too few at L = 512). */
		if ((p[0] + 3 > p[1] && p[1] + 3 > p[0]) || (p[0] + 3 > p[2] && p[2] + 3 > p[0]) ||
		    (p[1] + 3 > p[2] && p[2] + 3 > p[1]))
			continue;
		for (int k = 0; k < 3; k++) {
			if (b[p[k]] == 255 || b[p[k] + 1] < 2 || b[p[k] + 2] == 255)
				break;
			b[p[k]]++;
			b[p[k] + 1] -= 2;
			b[p[k] + 2]++;
		}
		if (memcmp(b, v[2] + 3 * L, L) == 0 || xb_weak(b, L) != xb_weak(v[2] + 3 * L, L) ||
		    xb_strong(h, got, slen, b, L) != 0)
			continue;
		found = memcmp(got, want, slen) == 0;
	}
	CHECK(found, "a twin of block 3 (strong sums of %u bytes)", slen);
	if (!found)
		goto out;
	/* The others change a byte each (matched in blocks too); c is the twin. */
	for (int i = 0; i < 5; i++) {
		if (i != 2)
			v[i][N / 2] ^= 1;
		CHECK(write_file(src, names[i], i == 2 ? c : v[i], N, 2000000) == 0);
	}
	CHECK(transfer_n(names, 5, &st) == 0, "second transfer");
	for (int i = 0; i < 5; i++)
		CHECK(same_file(dst, names[i], i == 2 ? c : v[i], N), "%s arrived exactly", names[i]);
	CHECK(st.files == 5 && st.bytes == 5 * N, "counted once: %llu files, %llu bytes",
	    (unsigned long long)st.files, (unsigned long long)st.bytes);
	CHECK(st.bytes_moved >= N, "c crossed whole: moved %llu, reused %llu", (unsigned long long)st.bytes_moved, (unsigned long long)st.bytes_reused);
out:
	for (int i = 0; i < 5; i++)
		free(v[i]);
	free(c);
	pqx_hmac_free(h);
	xfer_tree_free(t);
	teardown();
}

/*
 * A file that replaced its old version is a source for the next file: the
 * receiver's workers must not read it through a descriptor they kept open
 * on the old version (which then fails the ids, and the bytes cross again).
 */
static void test_replaced_source(void)
{
	static const char *const names[2] = { "f", "g" };
	size_t n = 6 * MIB, n2 = 0;
	uint8_t *v1 = random_bytes(n), *v2 = v1 ? edit(v1, n, &n2) : NULL;
	struct xfer_stats st;

	if (setup() != 0 || v2 == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "f", v1, n, 1000000) == 0);
	CHECK(transfer("f", &st) == 0, "first transfer");
	/* One session: f replaces its old version, then g (the same bytes) finds them in f. */
	CHECK(write_file(src, "f", v2, n2, 2000000) == 0 && write_file(src, "g", v2, n2, 2000000) == 0);
	CHECK(transfer_n(names, 2, &st) == 0 && same_file(dst, "f", v2, n2) && same_file(dst, "g", v2, n2),
	    "second version and its copy");
	CHECK(st.bytes_moved < n / 20 + 1000, "g found whole in the new f: moved %llu of %zu",
	    (unsigned long long)st.bytes_moved, 2 * n2);
out:
	free(v1);
	free(v2);
	teardown();
}

/*
 * A rotated file (log.1 <- log): the old version at its path is unrelated,
 * and its bytes are in the index under another name. Blocks of the old
 * log.1 cover nothing, so the sender says so and the two compare chunk
 * trees, which find every byte.
 */
static void test_rotated(void)
{
	size_t n = 2 * MIB;
	uint8_t *a = random_bytes(n), *old = random_bytes(n);
	struct xfer_stats st;

	if (setup() != 0 || a == NULL || old == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "log", a, n, 1000000) == 0);
	CHECK(transfer("log", &st) == 0, "first transfer");
	CHECK(write_file(dst, "log.1", old, n, 1000) == 0);
	CHECK(write_file(src, "log.1", a, n, 2000000) == 0);
	CHECK(transfer("log.1", &st) == 0 && same_file(dst, "log.1", a, n), "the rotated file arrived");
	CHECK(st.bytes_moved < n / 10, "the index held its bytes: moved %llu, reused %llu of %zu",
	    (unsigned long long)st.bytes_moved, (unsigned long long)st.bytes_reused, n);
out:
	free(a);
	free(old);
	teardown();
}

/*
 * Compressed DATA continues one zstd stream through the session, across
 * files; the sender's automatic choice changes level on the way (it
 * measures each level first), which ends a frame and starts another
 * inside the stream. Every file arrives exactly, with --compress 3 and
 * automatic.
 */
static void test_stream_codec(void)
{
	enum { FILES = 12 };
	size_t n = 300 * 1024;
	uint8_t *v[FILES];
	char sub[400], name[32];
	struct xfer_stats st;
	int ok = 1;

	memset(v, 0, sizeof(v));
	if (setup() != 0) {
		CHECK(0, "setup");
		goto out;
	}
	snprintf(sub, sizeof(sub), "%s/d", src);
	CHECK(mkdir(sub, 0755) == 0);
	for (int i = 0; i < FILES; i++) {
		/* Text-like: a few random words repeated, different per file. */
		uint8_t *w = random_bytes(64);

		if ((v[i] = malloc(n)) == NULL || w == NULL) {
			free(w);
			CHECK(0, "setup");
			goto out;
		}
		for (size_t j = 0; j < n; j++)
			v[i][j] = (uint8_t)('a' + w[(j * 7 + j / 100) % 64] % 26);
		free(w);
		snprintf(name, sizeof(name), "f%02d", i);
		CHECK(write_file(sub, name, v[i], n, 1000000 + i) == 0);
	}
	for (int pass = 0; pass < 2; pass++) {
		compress_level = pass == 0 ? 3 : -1;
		CHECK(transfer("d", &st) == 0, "transfer, compression %d", compress_level);
		snprintf(sub, sizeof(sub), "%s/d", dst);
		for (int i = 0; i < FILES; i++) {
			snprintf(name, sizeof(name), "f%02d", i);
			ok &= same_file(sub, name, v[i], n);
		}
		CHECK(ok, "every file arrived exactly, compression %d", compress_level);
		if (pass == 0)
			CHECK(st.bytes_data < FILES * n / 4, "compressed: %llu bytes of DATA for %zu",
			    (unsigned long long)st.bytes_data, FILES * n);
		for (int i = 0; i < FILES; i++) {
			char path[600];

			snprintf(path, sizeof(path), "%s/f%02d", sub, i);
			unlink(path);
		}
	}
out:
	compress_level = 0;
	for (int i = 0; i < FILES; i++)
		free(v[i]);
	teardown();
}

/*
 * Many files in one session land in batches (made durable and put in place
 * together): every one arrives in place, no partial file is left, and the
 * index knows each under its final name, so that copies of them sent next
 * cross as references.
 */
/* n random buffers, v[i] of base + i * step bytes: their total, or 0 if one could not be made. */
static size_t random_set(uint8_t **v, size_t *len, int n, size_t base, size_t step)
{
	size_t total = 0;

	for (int i = 0; i < n; i++) {
		len[i] = base + (size_t)i * step;
		if ((v[i] = random_bytes(len[i])) == NULL)
			return 0;
		total += len[i];
	}
	return total;
}

/* dst/d holds f00.. f(n-1) with contents v[i], and no partial file. */
static void check_tree(uint8_t *const *v, const size_t *len, int n)
{
	char sub[400], name[32];
	struct dirent *e;
	int ok = 1, partial = 0;
	DIR *d;

	snprintf(sub, sizeof(sub), "%s/d", dst);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		ok &= same_file(sub, name, v[i], len[i]);
	}
	CHECK(ok, "every file is in place");
	if ((d = opendir(sub)) != NULL) {
		while ((e = readdir(d)) != NULL)
			partial += strstr(e->d_name, ".pqx-") != NULL;
		closedir(d);
	}
	CHECK(partial == 0, "no partial file left: %d", partial);
}

static void test_landed_batches(void)
{
	enum { FILES = 80 };
	uint8_t *v[FILES];
	size_t len[FILES], total = 0;
	char sub[400], name[32];
	struct xfer_stats st;

	memset(v, 0, sizeof(v));
	if (setup() != 0 || (total = random_set(v, len, FILES, 6000, 431)) == 0) {
		CHECK(0, "setup");
		goto out;
	}
	for (int k = 0; k < 2; k++) {
		snprintf(sub, sizeof(sub), "%s/%s", src, k == 0 ? "d" : "e");
		CHECK(mkdir(sub, 0755) == 0);
	}
	for (int i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		snprintf(sub, sizeof(sub), "%s/d", src);
		CHECK(write_file(sub, name, v[i], len[i], 1000000 + i) == 0);
		snprintf(sub, sizeof(sub), "%s/e", src);
		CHECK(write_file(sub, name, v[i], len[i], 1000000 + i) == 0);
	}
	CHECK(transfer("d", &st) == 0, "first session");
	check_tree(v, len, FILES);
	/* Raw DATA is written in place, in the room its record has: not a record a file. */
	CHECK(sender_writes < FILES / 4, "the DATA of %d small files shared records: %llu writes", FILES,
	    (unsigned long long)sender_writes);
	CHECK(transfer("e", &st) == 0, "second session: the same files under another directory");
	CHECK(st.bytes_moved < total / 10, "found under their final names: moved %llu of %zu",
	    (unsigned long long)st.bytes_moved, total);
out:
	for (int i = 0; i < FILES; i++)
		free(v[i]);
	teardown();
}

/*
 * The receiver closes (the sender's "done") once the file is in place, and
 * indexes a streamed file after that: the close does not wait for the cut.
 * The cores are kept busy, so that the idle-priority cut has all of the
 * file left at the end.
 */
static void test_close_first(void)
{
	size_t n = 32 * MIB;
	uint8_t *v = random_bytes(n);
	pthread_t th[8];
	struct xfer_stats st;
	int started, r;

	if (setup() != 0 || v == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "a", v, n, 1000000) == 0 && write_file(src, "b", v, n, 1000000) == 0);
	started = spin_start(th);
	probe_close = 1;
	rows_at_close = -1;
	r = transfer("a", &st);
	probe_close = 0;
	spin_stop(th, started);
	CHECK(r == 0 && same_file(dst, "a", v, n), "transfer: %d", r);
	CHECK(rows_at_close == 0, "no rows were in the index at the close: %ld", rows_at_close);
	CHECK(transfer("b", &st) == 0 && st.bytes_moved == 0, "indexed whole after it: moved %llu",
	    (unsigned long long)st.bytes_moved);
out:
	free(v);
	teardown();
}

/*
 * A landed file goes in place by its partial name: if that name no longer
 * holds the file this session wrote (another session took it over), the
 * session fails and nothing else lands under the final name.
 */
static void test_part_replaced(void)
{
	static const char *const names[2] = { "a", "b" };
	size_t na = 200 * 1024, nb = 4 * MIB, len = 0;
	uint8_t *a = random_bytes(na), *b = random_bytes(nb), *got = NULL;
	char path[600];
	struct xfer_stats st;
	int r;

	if (setup() != 0 || a == NULL || b == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "a", a, na, 1000000) == 0 && write_file(src, "b", b, nb, 1000000) == 0);
	part_after = na + 65536;
	part_replaced = 0;
	r = transfer_n(names, 2, &st);
	part_after = 0;
	CHECK(part_replaced, "the partial file was replaced while the next file came");
	CHECK(r != 0, "the session fails");
	snprintf(path, sizeof(path), "%s/a", dst);
	got = t_read_file(path, &len);
	CHECK(got == NULL || (len == na && memcmp(got, a, na) == 0), "no other bytes under the name: %zu", len);
out:
	free(got);
	free(a);
	free(b);
	teardown();
}

static void test_fresh_taken(void)
{
	enum { FILES = 100 };
	uint8_t *v[FILES];
	size_t len[FILES];
	char sub[400], name[32], theirs[8] = { 0 };
	struct xfer_stats st;

	memset(v, 0, sizeof(v));
	if (setup() != 0 || random_set(v, len, FILES, 3000, 97) == 0) {
		CHECK(0, "setup");
		goto out;
	}
	snprintf(sub, sizeof(sub), "%s/d", src);
	CHECK(mkdir(sub, 0755) == 0);
	for (int i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		CHECK(write_file(sub, name, v[i], len[i], 1000000 + i) == 0);
	}
	/* Past the entries sent ahead of the first file's contents. */
	steal = "d/.f99.pqx-part";
	steal_fd = -1;
	CHECK(transfer("d", &st) == 0, "the session succeeds");
	steal = NULL;
	CHECK(steal_fd >= 0, "the partial name was taken during the session");
	check_tree(v, len, FILES);
	/* That file went the usual way: the other session's was kept aside, not written into. */
	CHECK(steal_fd >= 0 && pread(steal_fd, theirs, sizeof(theirs), 0) == 6 &&
	    memcmp(theirs, "THEIRS", 6) == 0, "the other session's partial file is as it left it");
out:
	if (steal_fd >= 0)
		close(steal_fd);
	steal_fd = -1;
	for (int i = 0; i < FILES; i++)
		free(v[i]);
	teardown();
}

/* BASE/L/(16 names of 250 bytes)/(73 bytes): a path of 4090 bytes, whose partial name the index can't hold. */
static int deep_file(const char *base, const uint8_t *p, size_t n)
{
	struct timespec ts[2] = { { 1000000, 0 }, { 1000000, 0 } };
	char comp[251], name[74];
	int fd = open(base, O_RDONLY | O_DIRECTORY), next, f, ok;

	memset(comp, 'c', 250);
	comp[250] = '\0';
	memset(name, 'z', 73);
	name[73] = '\0';
	for (int i = -1; fd >= 0 && i < 16; i++) {
		const char *c = i < 0 ? "L" : comp;

		next = mkdirat(fd, c, 0755) == 0 ? openat(fd, c, O_RDONLY | O_DIRECTORY) : -1;
		close(fd);
		fd = next;
	}
	if (fd < 0)
		return -1;
	f = openat(fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	ok = f >= 0 && write(f, p, n) == (ssize_t)n && futimens(f, ts) == 0;
	if (f >= 0)
		close(f);
	return ok ? 0 : -1;
}

/*
 * A file whose path is too long for the index lands unindexed; the files
 * of its batch are indexed all the same (their copies then cross as
 * references).
 */
static void test_long_name_batch(void)
{
	enum { FILES = 10 };
	static const char *const first[FILES + 1] = { "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8",
		"f9", "L" };
	static const char *const second[FILES] = { "g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8",
		"g9" };
	uint8_t *v[FILES];
	size_t len[FILES], total = 0;
	struct xfer_stats st;

	memset(v, 0, sizeof(v));
	if (setup() != 0 || (total = random_set(v, len, FILES, 60000, 431)) == 0) {
		CHECK(0, "setup");
		goto out;
	}
	for (int i = 0; i < FILES; i++) {
		CHECK(write_file(src, first[i], v[i], len[i], 1000000 + i) == 0 &&
		    write_file(src, second[i], v[i], len[i], 2000000 + i) == 0);
	}
	CHECK(deep_file(src, v[0], 50000) == 0, "a path of 4090 bytes");
	CHECK(transfer_n(first, FILES + 1, &st) == 0, "first session, with the long path");
	CHECK(transfer_n(second, FILES, &st) == 0, "second session: copies");
	CHECK(st.bytes_moved < total / 10, "the first session's files were indexed: moved %llu of %zu",
	    (unsigned long long)st.bytes_moved, total);
out:
	for (int i = 0; i < FILES; i++)
		free(v[i]);
	teardown();
}

/* A damaged index database: rebuilt, and the transfer is right. */
static void test_garbage_index(void)
{
	size_t n = 2 * MIB;
	uint8_t *v = random_bytes(n);
	struct xfer_stats st;
	int fd;

	if (setup() != 0 || v == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	CHECK(write_file(src, "f", v, n, 1000000) == 0);
	CHECK(transfer("f", &st) == 0);
	if ((fd = open(dbpath, O_WRONLY)) >= 0) {
		CHECK(pwrite(fd, v, 65536, 0) == 65536);
		close(fd);
	}
	CHECK(write_file(src, "f", v, n, 3000000) == 0);
	CHECK(transfer("f", &st) == 0, "a garbage index is rebuilt");
	CHECK(same_file(dst, "f", v, n));
out:
	free(v);
	teardown();
}

int main(void)
{
	t_run("dedup: only what changed crosses", test_reuse);
	t_run("dedup: windows in flight: a file of three or more, changed in some", test_windows);
	t_run("dedup: a small file is compared with its entry, one of few chunks in one round trip, of few level-1 nodes in two, a larger one in three",
	    test_flat);
	t_run("dedup: a streamed file is indexed whole, after its sender is told",
	    test_streamed_indexed);
	t_run("dedup: the receiver does not wait for its idle-priority indexer when the cores are busy",
	    test_streamed_under_load);
	t_run("dedup: a malformed answer (a NEED state, too many block sums, chunks not listed) gets an error record back",
	    test_bad_answer);
	t_run("dedup: a lying index never gives wrong bytes", test_lying_index);
	t_run("dedup: clone: where the file system can, kept blocks are cloned, not written, and verified all the same",
	    test_clone);
	t_run("dedup: a small file that changed all over crosses as blocks of its old version",
	    test_blocks);
	t_run("dedup: the old version's tail is found at the end of the new one", test_blocks_tail);
	t_run("dedup: data that crosses raw is matched in finer blocks", test_blocks_raw);
	t_run("dedup: a rotated file whose old version is unrelated is found in the index",
	    test_rotated);
	t_run("dedup: a block whose sums agree and bytes do not: AGAIN, and the file again whole at the end",
	    test_blocks_again);
	t_run("dedup: a file that replaced its old version is read as it is now, not as it was",
	    test_replaced_source);
	t_run("dedup: compressed data is one zstd stream across files and level changes",
	    test_stream_codec);
	t_run("dedup: the receiver closes before it indexes a streamed file", test_close_first);
	t_run("dedup: a landed file whose partial name was taken over does not go in place",
	    test_part_replaced);
	t_run("dedup: a path too long for the index leaves its batch indexed", test_long_name_batch);
	t_run("dedup: in a directory the receiver made, a partial name taken by another session is kept aside",
	    test_fresh_taken);
	t_run("dedup: many files land in batches: all in place, none partial, indexed under their names",
	    test_landed_batches);
	t_run("dedup: a damaged index is rebuilt", test_garbage_index);
	t_run("dedup: a file that grows into the large chunk class still reuses its old bytes",
	    test_class_change);
	return t_done();
}
