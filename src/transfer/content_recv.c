/* pqx: file contents, the receiver: find, verify and copy what it holds, take the rest. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>
#ifdef __linux__
#include <linux/fs.h> /* FICLONERANGE */
#endif

#include "crypto/ossl.h"
#include "transfer/blocks.h"
#include "transfer/content.h"
#include "util/util.h"

/* ---- the receiver ---- */

/* Checks that the bytes fed form exactly one node with the expected id. */
struct verify {
	struct xfer_node want;
	uint64_t file_size;
	struct lvl rows; /* every node rebuilt on the way: the index learns them */
	size_t tops;
	int ok;
};

/*
 * What one thread needs to verify bytes: the receiver copies the nodes it
 * found on all cores (wk[0] is the main thread's, also for received data).
 */
#define MAXW 8

struct worker {
	struct xfer_tree *tree;
	struct verify ver;
	uint8_t *io;
	uint64_t unsynced;
	int srcfd, srcsrc; /* the last source file opened */
	int backfd;        /* the new file, opened again to read clones back (its own read-ahead) */
	dev_t backdev;
	ino_t backino;
	char srcpath[XFER_MAX_PATH + 1];
};

/* One node to look for: its candidates, and the result. */
struct task {
	struct xfer_node n;
	struct xfer_span sp[4];
	size_t count;
	int found, err, eno;
	int cloned;     /* the first candidate's whole blocks in [ca, cb) are cloned in */
	uint64_t ca, cb;
};

/*
 * A file answered and waiting for its contents: the sender sends entries
 * ahead of the contents (up to XFER_INFLIGHT_MAX), so several can be.
 */
/*
 * A directory files are received into, shared by those in flight or landed
 * there: a tree's files come directory by directory, so one descriptor
 * serves each run of them.
 */
struct rdir {
	int fd, refs;
	dev_t dev;
	ino_t ino;
};

struct inflight {
	char path[XFER_MAX_PATH + 1], part[XFER_MAX_PATH + 32], prev[XFER_MAX_PATH + 32];
	size_t last; /* the last component's offset in each */
	struct rdir *dir;
	int fd, basefd, oldfd;
	uint64_t size, base_size, old_size;
	uint32_t mode;
	struct xb_geom geom; /* the old version's blocks, as signed */
	struct timespec mt;
	struct stat sb; /* the partial file's */
	int tiny, stream, again;
	int fresh;      /* made in a directory this session made: no .pqx-prev to remove */
	int listed;     /* its chunks came with the entry and were answered (NEED_LISTED) */
	struct win lw;  /* those chunks, the nodes over them, what was found */
	int norows;     /* landed: the index learns no rows of it, only that its name changed */
};

/*
 * Files verified and confirmed (FILE_OK) wait at most this many, and this
 * long, to be made durable and put in place together (flush_landed).
 */
#define LANDED_MAX 32
#define LANDED_WAIT_S 1.0
/* A file this large may take a while: what landed before it goes in place first. */
#define LANDED_BEFORE_BIG (8u << 20)

struct xfer_crecv {
	struct xfer_link *ln;
	int root, dictfd;
	const struct xfer_opts *o;
	struct xfer_stats *st;
	xfer_index *ix;
	pthread_mutex_t ixmu; /* the index, while workers copy */
	int dict_indexed, ix_empty;
	int ix_tried; /* open_index ran */
	int told;     /* the peer got an error record for this file */
	int tiny;     /* the file being received is below TINY: no index */
	struct worker wk[MAXW];
	int nw, nw_max; /* workers made (wk[0] always), and wanted: one a core */
	struct task *tasks;
	size_t ntasks, captasks, next_task;
	size_t ready;      /* received items complete in the file */
	/* A streamed file's indexing: its worker, and the tree it feeds. */
	_Atomic uint64_t streamed, cut_done; /* bytes written; bytes cut */
	atomic_int cut_stop, cut_end, cut_sleeping;
	sem_t cut_sem;
	pthread_t cut_th;
	int cutting, behind, cut_err, cut_fd, sem_ok;
	struct worker *cut_wk;
	/*
	 * Files verified and confirmed but not yet durable and in place, oldest
	 * first, each with its descriptor (its cut's too) and directory: a
	 * batch goes to the disk in one pass (flush_landed). The last one's
	 * index rows may still wait for its cut (rows_wait).
	 */
	struct inflight *landed[LANDED_MAX];
	size_t nlanded;
	double landed_t0;
	int rows_wait;
	size_t nplaced; /* the first landed files, in place (durable); their index work is left */
	int place_err;  /* putting one in place failed: no more are */
	int tx; /* an index transaction is open: the rows of the landed files and the file being received */
	struct rdir *dir; /* the last directory a file was offered into (a reference) */
	int rows_warned; /* rows were lost once: said once per session */
	struct xfer_crecv *tail_next; /* on the tails list while files have landed */
	int tailed;
	/* Files whose blocks did not make them, asked for again: they come back, to stream. */
	char **redo;
	size_t nredo, capredo;
	/* Files answered (NEED) whose contents have not come yet, in order. */
	struct inflight *fl[XFER_INFLIGHT_MAX];
	size_t nfl;
	int closing, verr; /* no more items; a check failed */
	/*
	 * Verified bytes add no index rows: the copies made while answering a
	 * listed entry (the file's rows come with its contents), or a file
	 * whose name the index can't hold (no transaction is open for it).
	 */
	int norows;
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	struct win w;
	/*
	 * The windows in flight, oldest first (a ring): each with the level
	 * whose list it expects next, or its data, or nothing more (see
	 * recv_top); ahead_nodes counts their nodes.
	 */
	struct rwin {
		struct win w;
		int phase;
	} ahead[AHEAD_WINDOWS];
	size_t ahead_head, nahead, ahead_nodes;
	struct lvl items;
	pqx_buf pending; /* a message already received (the first of a file's contents) */
	int has_pending;
	pqx_buf *b;
	uint8_t *io, *raw, *pfx;
	ZSTD_DCtx *zd, *zs; /* one message against the base; the session's stream */
	struct idcache ids;
	/* block matching: the MAC of the strong sums, the runs the sender names */
	pqx_hmac *bh;
	struct xb_run *runs;
	size_t capruns;
	/* the file being received */
	int fd, basefd;
	uint64_t size, base_size;
	/*
	 * Cloning found blocks (clone_blocks, on the main thread): the file
	 * system's block size, 0 while unknown for this file, 1 for a file not
	 * cloned (clone_start), and its device; noclone_dev, with noclone set,
	 * a file system that said it can't.
	 */
	uint64_t clone_bs;
	int noclone;
	dev_t clone_dev, noclone_dev;
};

static void inflight_free(struct inflight *f);
static void close_backs(struct xfer_crecv *cr);
static void rdir_put(struct rdir *d);
static int flush_landed(struct xfer_crecv *cr, int tell);
static void file_rows(struct xfer_crecv *cr, const char *part, const struct stat *sb);

void xfer_crecv_free(struct xfer_crecv *cr)
{
	if (cr == NULL)
		return;
	(void)flush_landed(cr, 0);
	for (size_t i = 0; i < cr->nredo; i++)
		free(cr->redo[i]);
	free(cr->redo);
	for (size_t i = 0; i < cr->nfl; i++)
		inflight_free(cr->fl[i]);
	xfer_index_close(cr->ix);
	for (int i = 0; i < MAXW; i++) {
		xfer_tree_free(cr->wk[i].tree);
		xc_lvl_free(&cr->wk[i].ver.rows);
		pqx_free(cr->wk[i].io);
		if (cr->wk[i].srcfd >= 0)
			close(cr->wk[i].srcfd);
	}
	close_backs(cr);
	free(cr->tasks);
	pqx_hmac_free(cr->bh);
	pqx_free(cr->runs);
	pthread_mutex_destroy(&cr->ixmu);
	pthread_mutex_destroy(&cr->tmu);
	pthread_cond_destroy(&cr->tcv);
	if (cr->sem_ok)
		sem_destroy(&cr->cut_sem);
	xc_win_free(&cr->w);
	for (int i = 0; i < AHEAD_WINDOWS; i++)
		xc_win_free(&cr->ahead[i].w);
	xc_lvl_free(&cr->items);
	pqx_buf_free(cr->b);
	pqx_free(cr->raw);
	pqx_free(cr->pfx);
	ZSTD_freeDCtx(cr->zd);
	ZSTD_freeDCtx(cr->zs);
	if (cr->dictfd >= 0)
		close(cr->dictfd);
	if (cr->basefd >= 0)
		close(cr->basefd);
	rdir_put(cr->dir);
	pqx_free(cr);
}

/* Whether an indexed file still exists (a file of a dictionary not in use is kept). */
static int still_there(void *ctx, int src, const char *path)
{
	struct xfer_crecv *cr = ctx;
	int dirfd = src == XFER_SRC_DICT ? cr->dictfd : cr->root, fd;

	if (dirfd < 0)
		return 1;
	if ((fd = xfer_open_file(dirfd, path)) < 0)
		return 0;
	close(fd);
	return 1;
}

/*
 * Makes workers up to want (at most nw_max): a worker's tree and buffer
 * cost 0.05 ms here, so a session makes the main thread's at once and the
 * others only once work for them comes (a session of tiny files, or of
 * files that stream, never does). Fewer may be made: an error only if none.
 */
static int more_workers(struct xfer_crecv *cr, int want)
{
	if (want > cr->nw_max)
		want = cr->nw_max;
	for (; cr->nw < want; cr->nw++) {
		struct worker *wk = &cr->wk[cr->nw];

		/* Staged: every use of a worker's tree looks at its nodes once it is finished. */
		if ((wk->tree = xfer_tree_new(cr->o->key, 2)) == NULL || xfer_tree_stage(wk->tree) != 0 ||
		    (wk->io = pqx_malloc(IO_BYTES)) == NULL) {
			xfer_tree_free(wk->tree);
			wk->tree = NULL;
			return cr->nw > 0 ? 0 : PQX_ERR_NOMEM;
		}
	}
	return 0;
}

/* The zstd context for codec (made at its first message); NULL if it can't be. */
static ZSTD_DCtx *dctx(ZSTD_DCtx **z)
{
	/* A window this side can't hold is refused; zstd frames stay within 8 MiB windows. */
	if (*z == NULL && (*z = ZSTD_createDCtx()) != NULL)
		ZSTD_DCtx_setParameter(*z, ZSTD_d_windowLogMax, 23);
	return *z;
}

int xfer_crecv_new(struct xfer_crecv **out, struct xfer_link *ln, int root, const struct xfer_opts *o,
    struct xfer_stats *st)
{
	struct xfer_crecv *cr = pqx_calloc(1, sizeof(*cr));

	*out = NULL;
	if (cr == NULL)
		return PQX_ERR_NOMEM;
	cr->ln = ln;
	cr->root = root;
	cr->o = o;
	cr->st = st;
	cr->dictfd = cr->fd = cr->basefd = -1;
	pthread_mutex_init(&cr->ixmu, NULL);
	pthread_mutex_init(&cr->tmu, NULL);
	pthread_cond_init(&cr->tcv, NULL);
	cr->sem_ok = sem_init(&cr->cut_sem, 0, 0) == 0;
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		cr->nw_max = n < 1 ? 1 : n > MAXW ? MAXW : (int)n;
	}
	for (int i = 0; i < MAXW; i++)
		cr->wk[i].srcfd = cr->wk[i].backfd = -1;
	if (more_workers(cr, 1) != 0 || (cr->b = pqx_buf_new(MSG_MAX)) == NULL ||
	    (cr->raw = pqx_malloc(DATA_RAW_MAX)) == NULL) {
		xfer_crecv_free(cr);
		return PQX_ERR_NOMEM;
	}
	if (o->dict_dir != NULL &&
	    (cr->dictfd = open(o->dict_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		xfer_warn(o, "can't open the dictionary directory; going on without it", o->dict_dir);
	*out = cr;
	return 0;
}

/*
 * Opens the index when the first file that can use it arrives (a session of
 * small files never touches it). The index is a cache: without it,
 * everything is sent.
 */
/*
 * The sessions of this process with index work left for later (landed
 * files whose names the index has yet to learn), by index file. A session
 * that opens the same index waits for them: it would otherwise find their
 * last files not yet indexed, cut them again as old versions, and wait for
 * their write lock all the same.
 */
static pthread_mutex_t tails_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tails_cv;
static pthread_once_t tails_once = PTHREAD_ONCE_INIT;
static struct xfer_crecv *tails;

/* The waits below are timed on the monotonic clock. */
static void tails_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	(void)pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&tails_cv, &a);
	pthread_condattr_destroy(&a);
}

static void tail_add(struct xfer_crecv *cr)
{
	pthread_once(&tails_once, tails_init);
	pthread_mutex_lock(&tails_mu);
	cr->tail_next = tails;
	tails = cr;
	pthread_mutex_unlock(&tails_mu);
}

static void tail_remove(struct xfer_crecv *cr)
{
	pthread_mutex_lock(&tails_mu);
	for (struct xfer_crecv **pp = &tails; *pp != NULL; pp = &(*pp)->tail_next)
		if (*pp == cr) {
			*pp = cr->tail_next;
			break;
		}
	pthread_cond_broadcast(&tails_cv);
	pthread_mutex_unlock(&tails_mu);
}

/*
 * At most TAIL_WAIT_S: that work ends at the other session's next message,
 * which its peer may be slow to send, and this session's peer waits too.
 * Then the index's own lock decides (it waits, then goes on without).
 */
#define TAIL_WAIT_S 10

static void tail_wait(const char *index_path)
{
	struct timespec until;

	pthread_once(&tails_once, tails_init);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += TAIL_WAIT_S;
	pthread_mutex_lock(&tails_mu);
	for (;;) {
		struct xfer_crecv *t = tails;

		while (t != NULL && strcmp(t->o->index_path, index_path) != 0)
			t = t->tail_next;
		if (t == NULL || pthread_cond_timedwait(&tails_cv, &tails_mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&tails_mu);
}

static void open_index(struct xfer_crecv *cr)
{
	const char *no_sqlite;

	if (cr->ix_tried || cr->o->index_path == NULL)
		return;
	cr->ix_tried = 1;
	tail_wait(cr->o->index_path);
	if ((no_sqlite = xfer_index_unavailable()) != NULL) {
		char why[400];

		snprintf(why, sizeof(why), "can't load SQLite (%.300s); going on without the chunk index",
		    no_sqlite);
		xfer_warn(cr->o, why, cr->o->index_path);
		return;
	}
	if (xfer_index_open(&cr->ix, cr->o->index_path) != 0) {
		xfer_warn(cr->o, "can't open the chunk index; going on without it", cr->o->index_path);
		cr->ix = NULL;
		return;
	}
	/* Files gone since the last session leave the index. */
	if (xfer_index_empty(cr->ix) == 0 && xfer_index_prune(cr->ix, still_there, cr) != 0) {
		xfer_index_close(cr->ix);
		cr->ix = NULL;
	}
}

/* The next message of the file's contents: the one already received first. */
static int next_msg(struct xfer_crecv *cr, pqx_buf *v, uint8_t *kind)
{
	if (cr->has_pending) {
		cr->has_pending = 0;
		*v = cr->pending;
		return pqx_buf_get_u8(v, kind) == 0 ? 0 : PQX_ERR_FORMAT;
	}
	return xfer_recv_msg(cr->ln, v, kind);
}

static int expect(struct xfer_crecv *cr, pqx_buf *v, uint8_t want)
{
	uint8_t kind;
	int r;

	if ((r = next_msg(cr, v, &kind)) != 0)
		return r;
	return kind == want ? 0 : PQX_ERR_FORMAT;
}

static int fail_peer(struct xfer_crecv *cr, int code, const char *msg)
{
	cr->told = 1;
	return xfer_fail(cr->ln, code, msg);
}

static int io_fail(struct xfer_crecv *cr)
{
	return fail_peer(cr, PQX_ERR_IO, errno == ENOSPC ? "no space left on the receiver"
						      : "write failed on the receiver");
}

static int verify_emit(void *ctx, const struct xfer_node *n)
{
	struct verify *v = ctx;
	int r;

	if ((r = xc_lvl_push(&v->rows, n)) != 0)
		return r;
	if (n->level == v->want.level) {
		/*
		 * The node must end where the content ends it, unless it is the
		 * file's last: otherwise a sender could tile the file into
		 * one-byte "nodes" and grow the index three rows per byte.
		 */
		v->tops++;
		v->ok = v->tops == 1 && n->off == v->want.off && n->len == v->want.len &&
			(n->natural || n->off + n->len == v->file_size) &&
			pqx_ct_memeq(n->id, v->want.id, XFER_ID_BYTES);
	}
	return 0;
}

static void verify_start(struct worker *wk, const struct xfer_node *want, uint64_t file_size)
{
	wk->ver.want = *want;
	wk->ver.file_size = file_size;
	wk->ver.rows.n = 0;
	wk->ver.tops = 0;
	wk->ver.ok = 0;
	xfer_tree_size(wk->tree, file_size);
	xfer_tree_start(wk->tree, want->off, want->level, verify_emit, &wk->ver);
}

/* Ends a verification: *ok = 1 if the bytes were the node; its rows go to the index. */
static int verify_end(struct xfer_crecv *cr, struct worker *wk, int *ok)
{
	int r;

	*ok = 0;
	if ((r = xfer_tree_finish(wk->tree)) != 0)
		return r;
	if (!wk->ver.ok || wk->ver.tops != 1)
		return 0;
	*ok = 1;
	pthread_mutex_lock(&cr->ixmu);
	for (size_t i = 0; cr->ix != NULL && !cr->norows && i < wk->ver.rows.n; i++) {
		const struct xfer_node *n = &wk->ver.rows.v[i];

		if (xfer_index_add(cr->ix, n->id, n->off, n->len) != 0)
			break; /* the index is a cache */
	}
	pthread_mutex_unlock(&cr->ixmu);
	return 0;
}

/*
 * Writes bytes of the file being received (a failure is PQX_ERR_IO with
 * errno set), and every WRITEBEHIND_BYTES a thread wrote, starts their
 * writeback, so that the fsync before the rename finds little left to do.
 */
static int put(struct xfer_crecv *cr, struct worker *wk, const uint8_t *p, size_t n, uint64_t off)
{
	if (xc_pwrite_all(cr->fd, p, n, off) != 0)
		return PQX_ERR_IO;
	if ((wk->unsynced += n) >= WRITEBEHIND_BYTES) {
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
		(void)sync_file_range(cr->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
		wk->unsynced = 0;
	}
	return 0;
}

/* put, and the bytes go to the worker's verifier too. */
static int take(struct xfer_crecv *cr, struct worker *wk, const uint8_t *p, size_t n, uint64_t off)
{
	int r;

	if ((r = put(cr, wk, p, n, off)) != 0)
		return r;
	return xfer_tree_update(wk->tree, p, n);
}

static int open_source(struct xfer_crecv *cr, struct worker *wk, const struct xfer_span *sp)
{
	int dirfd = sp->src == XFER_SRC_DICT ? cr->dictfd : cr->root;

	if (wk->srcfd >= 0 && wk->srcsrc == sp->src && strcmp(wk->srcpath, sp->path) == 0)
		return wk->srcfd;
	if (wk->srcfd >= 0)
		close(wk->srcfd);
	wk->srcfd = -1;
	if (dirfd < 0 || !xfer_path_ok(sp->path, strlen(sp->path)))
		return -1;
	if ((wk->srcfd = xfer_open_file(dirfd, sp->path)) >= 0) {
		wk->srcsrc = sp->src;
		snprintf(wk->srcpath, sizeof(wk->srcpath), "%s", sp->path);
	}
	return wk->srcfd;
}

/* What copy_range does with the bytes it reads: write them, verify them, or both. */
enum { CR_PUT = 1, CR_VERIFY = 2 };

/* Reads len bytes of src from so on and does what `how` says with them (to: their offset in the file). 1 if src fell short. */
static int copy_range(struct xfer_crecv *cr, struct worker *wk, int src, uint64_t so, uint64_t to,
    uint64_t len, int how)
{
	int r;

	for (uint64_t done = 0; done < len;) {
		size_t k = len - done < IO_BYTES ? (size_t)(len - done) : IO_BYTES;

		if (xc_pread_all(src, wk->io, k, so + done) != 0)
			return 1;
		if ((how & CR_PUT) && (r = put(cr, wk, wk->io, k, to + done)) != 0)
			return r;
		if ((how & CR_VERIFY) && (r = xfer_tree_update(wk->tree, wk->io, k)) != 0)
			return r;
		done += k;
	}
	return 0;
}

/*
 * Where the file system shares blocks between files (XFS, Btrfs), a node of
 * a file of at least CLONE_FILE_MIN (find_nodes asks only then), found at
 * the same offset within a block as it has in the new file (a file changed
 * in place, not by insertions), gets its whole blocks cloned from the source
 * instead of written: no writes and no new space for them. It is then read
 * back to be verified, from the disk: the new file does not share the old
 * one's page cache, so where the old version is cached a copy is faster
 * (docs/BENCHMARKS.md), which is why smaller files are copied. Returns 1
 * with [*a, *b) cloned, 0 where that does not apply or the clone failed
 * (nothing is lost: the node is copied). A file system that can't clone at
 * all is not asked again this session.
 */
#define CLONE_MIN (64u << 10)
#define CLONE_FILE_MIN (64u << 20)

static int clone_blocks(struct xfer_crecv *cr, int src, uint64_t so, const struct xfer_node *n,
    uint64_t *a, uint64_t *b)
{
#ifdef FICLONERANGE
	uint64_t bs = cr->clone_bs;
	struct file_clone_range fcr;

	if (bs == 0 || so % bs != n->off % bs)
		return 0;
	*a = (n->off + bs - 1) / bs * bs;
	*b = (n->off + n->len) / bs * bs;
	if (*b < *a + CLONE_MIN)
		return 0;
	memset(&fcr, 0, sizeof(fcr));
	fcr.src_fd = src;
	fcr.src_offset = so + (*a - n->off);
	fcr.src_length = *b - *a;
	fcr.dest_offset = *a;
	if (ioctl(cr->fd, FICLONERANGE, &fcr) == 0) {
		cr->st->bytes_cloned += *b - *a;
		return 1;
	}
	if (errno == EOPNOTSUPP || errno == ENOTTY || errno == ENOSYS) {
		cr->noclone = 1;
		cr->noclone_dev = cr->clone_dev;
		cr->clone_bs = 1;
	}
#else
	(void)cr, (void)src, (void)so, (void)n, (void)a, (void)b;
#endif
	return 0;
}

/*
 * Whether most of fd is in the page cache, by a sample of CACHE_SAMPLES
 * spots across it. A clone is read back from the disk (the new file does not
 * share the old one's cache), so where the old version is cached, copying
 * it is faster and a file is not cloned. Asked once a file, before anything
 * is read for it (what is read then would read ahead, and look cached).
 */
#define CACHE_SAMPLES 16

static int mostly_cached(int fd)
{
#ifdef RWF_NOWAIT
	struct stat sb;
	size_t in = 0, n = 0;

	if (fstat(fd, &sb) != 0 || sb.st_size <= 0)
		return 0;
	for (int i = 0; i < CACHE_SAMPLES; i++) {
		/* A read that must not wait for the disk: EAGAIN where the byte is not cached. */
		uint8_t c;
		struct iovec iov = { &c, 1 };
		ssize_t k = preadv2(fd, &iov, 1, (off_t)((uint64_t)sb.st_size / CACHE_SAMPLES * (uint64_t)i), RWF_NOWAIT);

		if (k < 0 && errno != EAGAIN)
			return 0; /* no such reads here: clone */
		in += k == 1;
		n++;
	}
	return in * 2 > n;
#else
	(void)fd;
	return 0;
#endif
}

/* Closes the workers' read-back descriptors (a file's, or a session's, end). */
static void close_backs(struct xfer_crecv *cr)
{
	for (int i = 0; i < MAXW; i++) {
		if (cr->wk[i].backfd >= 0)
			close(cr->wk[i].backfd);
		cr->wk[i].backfd = -1;
	}
}

/*
 * The new file for reading back, opened again for this worker where it can
 * be, so that the kernel sees each worker read on and reads ahead for it
 * (the shared descriptor's read-ahead sees the workers' reads interleaved).
 */
static int open_back(struct xfer_crecv *cr, struct worker *wk)
{
	struct stat sb;
	char path[64];

	if (fstat(cr->fd, &sb) != 0)
		return cr->fd;
	if (wk->backfd >= 0 && wk->backdev == sb.st_dev && wk->backino == sb.st_ino)
		return wk->backfd;
	if (wk->backfd >= 0)
		close(wk->backfd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", cr->fd);
	if ((wk->backfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cr->fd;
	wk->backdev = sb.st_dev;
	wk->backino = sb.st_ino;
	return wk->backfd;
}

/*
 * Copies the first candidate of t whose bytes rebuild its node into place.
 * Nothing from the index is believed until re-derived: what was cloned is
 * read back from the new file and verified there.
 */
static int find_copy(struct xfer_crecv *cr, struct worker *wk, struct task *t)
{
	const struct xfer_node *n = &t->n;
	uint64_t a, b;
	int r, ok;

	t->found = 0;
	for (size_t i = 0; i < t->count && !t->found; i++) {
		uint64_t so = t->sp[i].off;
		int fd;

		if (t->sp[i].len != n->len || (fd = open_source(cr, wk, &t->sp[i])) < 0)
			continue;
		verify_start(wk, n, cr->size);
		if (i == 0 && t->cloned) {
			/* The partial blocks at both ends are copied; then all of it is read back. */
			a = t->ca;
			b = t->cb;
			if ((r = copy_range(cr, wk, fd, so, n->off, a - n->off, CR_PUT)) == 0 &&
			    (r = copy_range(cr, wk, fd, so + (b - n->off), b, n->off + n->len - b, CR_PUT)) == 0)
				r = copy_range(cr, wk, open_back(cr, wk), n->off, n->off, n->len, CR_VERIFY);
		} else {
			r = copy_range(cr, wk, fd, so, n->off, n->len, CR_PUT | CR_VERIFY);
		}
		if (r < 0)
			return r;
		if ((r = verify_end(cr, wk, &ok)) != 0)
			return r;
		t->found = ok;
	}
	return 0;
}

/* What a worker thread gets: the receiver, and its own worker state. */
struct crew {
	struct xfer_crecv *cr;
	struct worker *wk;
};

/* A worker: takes tasks until none is left. */
static void *copy_tasks(void *arg)
{
	struct crew *c = arg;
	struct xfer_crecv *cr = c->cr;

	for (;;) {
		struct task *t;

		pthread_mutex_lock(&cr->tmu);
		t = cr->next_task < cr->ntasks ? &cr->tasks[cr->next_task++] : NULL;
		pthread_mutex_unlock(&cr->tmu);
		if (t == NULL)
			return NULL;
		if (t->count > 0 && (t->err = find_copy(cr, c->wk, t)) != 0)
			t->eno = errno;
	}
}

/*
 * The first time a file has something to clone from: its file system's
 * block size, or 1 (no cloning for this file) where that file system
 * refused a clone before, the size is no power of two, or the source (the
 * first found) is mostly cached.
 */
static void clone_start(struct xfer_crecv *cr, int src)
{
	struct stat sb;
	struct statfs fs;

	cr->clone_bs = 1;
	if (fstat(cr->fd, &sb) != 0 || (cr->noclone && sb.st_dev == cr->noclone_dev) ||
	    fstatfs(cr->fd, &fs) != 0 || fs.f_bsize < 512 || fs.f_bsize > (1 << 20) ||
	    (fs.f_bsize & (fs.f_bsize - 1)) != 0 || mostly_cached(src))
		return;
	cr->clone_dev = sb.st_dev;
	cr->clone_bs = (uint64_t)fs.f_bsize;
}

/*
 * Marks each node of level l: HAVE if found and copied, else NEED or
 * WHOLE. The index is asked here, the copies run on all cores.
 */
static int find_nodes(struct xfer_crecv *cr, struct lvl *l, int level)
{
	struct crew crew[MAXW];
	pthread_t th[MAXW];
	int started = 1, clone;

	if (l->n > cr->captasks) {
		struct task *t = realloc(cr->tasks, l->n * sizeof(*t));

		if (t == NULL)
			return PQX_ERR_NOMEM;
		cr->tasks = t;
		cr->captasks = l->n;
	}
	cr->ntasks = l->n;
	cr->next_task = 0;
	clone = cr->size >= CLONE_FILE_MIN && cr->clone_bs != 1;
	for (size_t i = 0; i < l->n; i++) {
		struct task *t = &cr->tasks[i];
		int fd;

		t->n = l->v[i];
		t->count = 0;
		t->found = t->err = t->cloned = 0;
		if (cr->ix != NULL && xfer_index_lookup(cr->ix, t->n.id, t->sp, 4, &t->count) != 0)
			t->count = 0;
		/*
		 * The first candidates' blocks are cloned here, all of them
		 * before any is read back: what the kernel reads ahead of one
		 * node is then the next one's cloned bytes, not a hole that its
		 * clone would throw away.
		 */
		if (clone && cr->clone_bs != 1 && t->count > 0 && t->sp[0].len == t->n.len &&
		    (fd = open_source(cr, &cr->wk[0], &t->sp[0])) >= 0) {
			if (cr->clone_bs == 0)
				clone_start(cr, fd);
			t->cloned = clone_blocks(cr, fd, t->sp[0].off, &t->n, &t->ca, &t->cb);
		}
	}
	(void)more_workers(cr, (int)(l->n < MAXW ? l->n : MAXW));
	for (int i = 0; i < cr->nw; i++) {
		crew[i].cr = cr;
		crew[i].wk = &cr->wk[i];
	}
	for (int i = 1; i < cr->nw && l->n > 1; i++, started++)
		if (pthread_create(&th[i], NULL, copy_tasks, &crew[i]) != 0)
			break;
	copy_tasks(&crew[0]);
	for (int i = 1; i < started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < l->n; i++) {
		struct task *t = &cr->tasks[i];

		if (t->err != 0) {
			errno = t->eno;
			return t->err == PQX_ERR_IO ? io_fail(cr) : t->err;
		}
		if (t->found) {
			l->st[i] = ST_HAVE;
			cr->st->bytes_reused += l->v[i].len;
		} else {
			l->st[i] = level == 2 && (cr->ix == NULL || cr->ix_empty) ? ST_WHOLE : ST_NEED;
		}
	}
	return 0;
}

static int send_bitmap(struct xfer_crecv *cr, const struct lvl *l)
{
	int r;

	pqx_buf_reset(cr->b);
	if ((r = xc_put_bitmap(cr->b, l)) != 0)
		return r;
	return xfer_send_padded(cr->ln, cr->b, PAD);
}

/* find_nodes, then the BITMAP that tells the sender. */
static int look_up(struct xfer_crecv *cr, struct lvl *l, int level)
{
	int r = find_nodes(cr, l, level);

	return r != 0 ? r : send_bitmap(cr, l);
}

/*
 * The most bytes a node of this level can hold in a file of this size: a
 * chunk at most the class's maximum, a node at most XFER_TREE_FANOUT
 * children. A longer claim is refused before any byte is read for it (it
 * also bounds what a verifier keeps per node).
 */
static uint64_t node_max(uint64_t file_size, int level)
{
	uint64_t m = xfer_tree_class(file_size) ? XFER_SMALL_MAX : PQX_CHUNKER_MAX_DEFAULT;

	for (int l = 0; l < level; l++)
		m *= XFER_TREE_FANOUT;
	return m;
}

/*
 * Reads a LIST of level `level`: for levels 1 and 0, the children of the
 * NEED parents; without parents, nodes that follow each other from *cur (a
 * window's level-2 nodes, or a whole file's chunks or level-1 nodes listed
 * flat).
 */
static int get_list(struct xfer_crecv *cr, struct lvl *parents, struct lvl *l, int level,
    uint64_t *cur)
{
	pqx_buf v;
	uint8_t lv, ids[XFER_TREE_FANOUT * XFER_ID_BYTES];
	uint32_t np = 0, count;
	size_t need = 0, c = 0;
	int r;

	if ((r = expect(cr, &v, K_LIST)) != 0)
		return r;
	if (pqx_buf_get_u8(&v, &lv) != 0 || lv != level)
		return PQX_ERR_FORMAT;
	l->n = 0;
	if (level < 2) {
		for (size_t i = 0; parents != NULL && i < parents->n; i++)
			need += parents->st[i] == ST_NEED;
		if (pqx_buf_get_u32(&v, &np) != 0 || np != need)
			return PQX_ERR_FORMAT;
		for (size_t i = 0; parents != NULL && i < parents->n; i++) {
			uint8_t k;

			parents->nch[i] = 0;
			if (parents->st[i] != ST_NEED)
				continue;
			if (pqx_buf_get_u8(&v, &k) != 0 || k == 0 || k > XFER_TREE_FANOUT)
				return PQX_ERR_FORMAT;
			parents->nch[i] = k;
		}
	}
	if (pqx_buf_get_u32(&v, &count) != 0 || count == 0 ||
	    count > (parents == NULL && level < 2 ? FLAT_MAX : WIN_MAX))
		return PQX_ERR_FORMAT;
	for (uint32_t i = 0; i < count; i++) {
		struct xfer_node n;
		uint32_t len;

		if (pqx_buf_get(&v, n.id, XFER_ID_BYTES) != 0 || pqx_buf_get_u32(&v, &len) != 0 || len == 0 ||
		    len > node_max(cr->size, level))
			return PQX_ERR_FORMAT;
		n.len = len;
		n.level = (uint8_t)level;
		n.off = 0;
		if ((r = xc_lvl_push(l, &n)) != 0)
			return r;
	}
	if (pqx_buf_expect_end(&v) != 0)
		return PQX_ERR_FORMAT;
	if (parents == NULL) {
		for (size_t i = 0; i < l->n; i++) {
			if (l->v[i].len > cr->size - *cur)
				return PQX_ERR_FORMAT;
			l->v[i].off = *cur;
			*cur += l->v[i].len;
		}
		/* A flat list is the whole file. */
		return level < 2 && *cur != cr->size ? PQX_ERR_FORMAT : 0;
	}
	/* Children tile their parent, and their ids make its id. */
	for (size_t i = 0; i < parents->n; i++) {
		uint64_t off = parents->v[i].off;
		uint8_t id[XFER_ID_BYTES];

		if (parents->nch[i] == 0)
			continue;
		if (c + parents->nch[i] > l->n)
			return PQX_ERR_FORMAT;
		for (size_t j = 0; j < parents->nch[i]; j++) {
			l->v[c + j].off = off;
			off += l->v[c + j].len;
			memcpy(ids + j * XFER_ID_BYTES, l->v[c + j].id, XFER_ID_BYTES);
		}
		if (off != parents->v[i].off + parents->v[i].len ||
		    (r = xfer_tree_node_id(cr->wk[0].tree, id, level + 1, ids, parents->nch[i])) != 0 ||
		    !pqx_ct_memeq(id, parents->v[i].id, XFER_ID_BYTES))
			return r != 0 ? r : PQX_ERR_FORMAT;
		c += parents->nch[i];
	}
	return c == l->n ? 0 : PQX_ERR_FORMAT;
}

static int push_item(void *ctx, const struct xfer_node *n)
{
	return xc_lvl_push(ctx, n);
}

/*
 * Received items are verified behind the main thread, by workers that read
 * them back from the partial file (the page cache) once they are complete:
 * the main thread only opens records, decompresses and writes.
 */
static void *check_items(void *arg)
{
	struct crew *c = arg;
	struct xfer_crecv *cr = c->cr;

	for (;;) {
		const struct xfer_node *n;
		int r = 0, ok = 0;

		pthread_mutex_lock(&cr->tmu);
		while (cr->next_task >= cr->ready && !cr->closing && cr->verr == 0)
			pthread_cond_wait(&cr->tcv, &cr->tmu);
		if (cr->next_task >= cr->ready || cr->verr != 0) {
			pthread_mutex_unlock(&cr->tmu);
			return NULL;
		}
		n = &cr->items.v[cr->next_task++];
		pthread_mutex_unlock(&cr->tmu);
		verify_start(c->wk, n, cr->size);
		for (uint64_t done = 0; r == 0 && done < n->len;) {
			size_t k = n->len - done < IO_BYTES ? (size_t)(n->len - done) : IO_BYTES;

			if ((r = xc_pread_all(cr->fd, c->wk->io, k, n->off + done)) == 0)
				r = xfer_tree_update(c->wk->tree, c->wk->io, k);
			done += k;
		}
		if (r == 0 && (r = verify_end(cr, c->wk, &ok)) == 0 && !ok)
			r = PQX_ERR_AUTH;
		if (r != 0) {
			pthread_mutex_lock(&cr->tmu);
			if (cr->verr == 0)
				cr->verr = r;
			pthread_cond_broadcast(&cr->tcv);
			pthread_mutex_unlock(&cr->tmu);
		}
	}
}

/*
 * The next part of the sender's zstd stream (codec 1): exactly raw_len
 * bytes, from all of the body. The stream spans the session, so one that
 * goes wrong ends it.
 */
static int stream_part(struct xfer_crecv *cr, const uint8_t *body, size_t body_len, uint32_t raw_len,
    const uint8_t **p)
{
	ZSTD_inBuffer in = { body, body_len, 0 };
	ZSTD_outBuffer out = { cr->raw, raw_len, 0 };

	for (;;) {
		size_t in0 = in.pos, out0 = out.pos, r = ZSTD_decompressStream(cr->zs, &out, &in);

		if (ZSTD_isError(r))
			return fail_peer(cr, PQX_ERR_FORMAT, "invalid compressed data");
		if (in.pos == in.size && (out.pos == out.size || r == 0 || out.pos == out0))
			break;
		if (in.pos == in0 && out.pos == out0)
			break; /* no progress: output full with input left */
	}
	if (in.pos != in.size || out.pos != raw_len)
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid compressed data");
	*p = cr->raw;
	return 0;
}

/* Opens one DATA message: its raw bytes in *p (into cr->raw if compressed). */
static int open_data(struct xfer_crecv *cr, uint64_t left, const uint8_t **p, uint32_t *raw_len)
{
	pqx_buf v;
	uint8_t codec;
	uint32_t plen = 0;
	uint64_t poff = 0;
	const uint8_t *body;
	size_t n, body_len;
	int r;

	if ((r = expect(cr, &v, K_DATA)) != 0)
		return r;
	cr->st->bytes_data += 1 + pqx_buf_len(&v); /* as sent: the kind byte is read */
	if (pqx_buf_get_u8(&v, &codec) != 0 || codec > CODEC_ZSTD_BASE ||
	    pqx_buf_get_u32(&v, raw_len) != 0 || *raw_len == 0 || *raw_len > DATA_RAW_MAX ||
	    *raw_len > left)
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid data message");
	if (codec == CODEC_ZSTD_BASE &&
	    (pqx_buf_get_u64(&v, &poff) != 0 || pqx_buf_get_u32(&v, &plen) != 0 || plen == 0 ||
		plen > PREFIX_MAX || cr->basefd < 0 || poff > cr->base_size ||
		plen > cr->base_size - poff))
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid data message");
	/* The body is the rest of the message. */
	body = pqx_buf_ptr(&v);
	body_len = pqx_buf_len(&v);
	if (body_len == 0 || (codec == CODEC_RAW && body_len != *raw_len))
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid data message");
	if (codec == CODEC_RAW) {
		*p = body;
		return 0;
	}
	if (dctx(codec == CODEC_ZSTD ? &cr->zs : &cr->zd) == NULL)
		return PQX_ERR_NOMEM;
	if (codec == CODEC_ZSTD)
		return stream_part(cr, body, body_len, *raw_len, p);
	/* Against the base. */
	ZSTD_DCtx_reset(cr->zd, ZSTD_reset_session_only);
	if (cr->pfx == NULL && (cr->pfx = pqx_malloc(PREFIX_MAX)) == NULL)
		return PQX_ERR_NOMEM;
	if (xc_pread_all(cr->basefd, cr->pfx, plen, poff) != 0)
		return fail_peer(cr, PQX_ERR_IO, "can't read the base on the receiver");
	if (ZSTD_isError(ZSTD_DCtx_refPrefix(cr->zd, cr->pfx, plen)))
		return PQX_ERR_INTERNAL;
	n = ZSTD_decompressDCtx(cr->zd, cr->raw, *raw_len, body, body_len);
	if (ZSTD_isError(n) || n != *raw_len)
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid compressed data");
	*p = cr->raw;
	return 0;
}

/* Receives the bytes of every item, in order, verifying each. */
static int recv_data(struct xfer_crecv *cr)
{
	struct crew ck[MAXW];
	pthread_t th[MAXW];
	size_t it = 0;
	uint64_t done = 0, left = 0;
	int r = 0, ok, nth = 0, behind;

	for (size_t i = 0; i < cr->items.n; i++)
		left += cr->items.v[i].len;
	if (left > 0)
		(void)more_workers(cr, MAXW);
	behind = cr->nw > 1;
	cr->next_task = cr->ready = 0;
	cr->closing = 0;
	cr->verr = 0;
	for (int i = 1; behind && i < cr->nw && left > 0; i++, nth++) {
		ck[nth].cr = cr;
		ck[nth].wk = &cr->wk[i];
		if (pthread_create(&th[nth], NULL, check_items, &ck[nth]) != 0)
			break;
	}
	behind = nth > 0;
	while (r == 0 && left > 0) {
		const uint8_t *p;
		uint32_t raw_len;

		if ((r = open_data(cr, left, &p, &raw_len)) != 0)
			break;
		left -= raw_len;
		cr->st->bytes_moved += raw_len;
		while (r == 0 && raw_len > 0) {
			const struct xfer_node *n = &cr->items.v[it];
			size_t k = n->len - done < raw_len ? (size_t)(n->len - done) : raw_len;

			if (!behind && done == 0)
				verify_start(&cr->wk[0], n, cr->size);
			r = behind ? put(cr, &cr->wk[0], p, k, n->off + done)
				   : take(cr, &cr->wk[0], p, k, n->off + done);
			if (r != 0) {
				r = r == PQX_ERR_IO ? io_fail(cr) : r;
				break;
			}
			p += k;
			raw_len -= (uint32_t)k;
			if ((done += k) < n->len)
				continue;
			it++;
			done = 0;
			if (behind) {
				pthread_mutex_lock(&cr->tmu);
				cr->ready = it;
				r = cr->verr;
				pthread_cond_signal(&cr->tcv);
				pthread_mutex_unlock(&cr->tmu);
			} else if ((r = verify_end(cr, &cr->wk[0], &ok)) == 0 && !ok) {
				r = PQX_ERR_AUTH;
			}
		}
		if (cr->o->progress != NULL)
			cr->o->progress(cr->o->progress_ctx, cr->st->bytes, cr->st->bytes_moved);
	}
	pthread_mutex_lock(&cr->tmu);
	cr->closing = 1;
	pthread_cond_broadcast(&cr->tcv);
	pthread_mutex_unlock(&cr->tmu);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (r == 0)
		r = cr->verr;
	if (r == PQX_ERR_AUTH)
		return fail_peer(cr, r, "data does not match its chunk id");
	return r;
}

/*
 * A streamed file: the bytes in order. The index learns its chunks from a
 * worker that cuts the file behind the writes (reading it back from the page
 * cache), or inline on one core. The worker only takes idle time (Linux
 * SCHED_IDLE): the index is a cache and must not slow the transfer down
 * where the cores are busy. Since it may get almost no time on a busy
 * machine, the receiver never waits for it to finish: where it would have
 * to (the worker LAG_MAX behind, or the file's index work due), it stops the
 * worker after its current CUT_STEP and cuts the rest itself
 * (cut_take_over). LAG_MAX bounds that pause while a peer waits: about 1 s
 * at the 1 GB/s a core cuts here, 10 s on a machine ten times slower, well
 * within the 60 s a peer waits. The two threads share no lock while the
 * worker works: it publishes its progress (cut_done) and sleeps on a
 * semaphore only when it has caught up.
 */
#define LAG_MAX ((uint64_t)1 << 30)
#define CUT_STEP (64u << 10)

static int index_emit(void *ctx, const struct xfer_node *n);

static int stream_emit(void *ctx, const struct xfer_node *n)
{
	struct xfer_crecv *cr = ctx;

	pthread_mutex_lock(&cr->ixmu);
	if (cr->ix != NULL)
		(void)!index_emit(cr->ix, n); /* the index is a cache: its errors stop nothing */
	pthread_mutex_unlock(&cr->ixmu);
	return 0;
}

/* Cuts [cut_done, upto) of the file, read back: the worker's step, or the main thread's rest. */
static int cut_range(struct xfer_crecv *cr, uint64_t upto, size_t step)
{
	uint64_t off = atomic_load(&cr->cut_done);
	int err = 0;

	while (off < upto && err == 0) {
		size_t k = upto - off < step ? (size_t)(upto - off) : step;

		if ((err = xc_pread_all(cr->cut_fd, cr->cut_wk->io, k, off)) == 0 &&
		    (err = xfer_tree_update(cr->cut_wk->tree, cr->cut_wk->io, k)) == 0)
			atomic_store(&cr->cut_done, off += k);
	}
	return err;
}

static void *cut_behind(void *arg)
{
	struct xfer_crecv *cr = arg;
	int err = 0;

#ifdef SCHED_IDLE
	{
		struct sched_param sp = { 0 };

		(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	}
#endif
	while (err == 0 && !atomic_load(&cr->cut_stop)) {
		uint64_t done = atomic_load(&cr->cut_done), ready = atomic_load(&cr->streamed);

		if (done < ready) {
			err = cut_range(cr, done + CUT_STEP < ready ? done + CUT_STEP : ready, CUT_STEP);
			continue;
		}
		if (atomic_load(&cr->cut_end))
			break;
		/*
		 * Caught up: sleep until the main thread posts. It posts once per
		 * sleep, when it takes cut_sleeping from 1 to 0; a post already
		 * made for a sleep that turned out unneeded is taken here.
		 */
		atomic_store(&cr->cut_sleeping, 1);
		if ((atomic_load(&cr->streamed) == done && !atomic_load(&cr->cut_stop) &&
		        !atomic_load(&cr->cut_end)) ||
		    !atomic_exchange(&cr->cut_sleeping, 0))
			(void)sem_wait(&cr->cut_sem);
		atomic_store(&cr->cut_sleeping, 0);
	}
	cr->cut_err = err; /* read after the join */
	return NULL;
}

static void cut_wake(struct xfer_crecv *cr)
{
	if (atomic_exchange(&cr->cut_sleeping, 0))
		(void)sem_post(&cr->cut_sem);
}

/* Stops the worker after its current step; the main thread cuts on from cut_done. */
static void cut_take_over(struct xfer_crecv *cr)
{
	if (!cr->behind)
		return;
	atomic_store(&cr->cut_stop, 1);
	(void)sem_post(&cr->cut_sem);
	pthread_join(cr->cut_th, NULL);
	while (sem_trywait(&cr->cut_sem) == 0)
		; /* posts it did not need: none for the next file's worker */
	cr->behind = 0;
}

/*
 * Ends a streamed file's cut: the rest is cut here, then the last nodes go to
 * the index. 0: the index has the whole file (or nothing was cut); not ok:
 * the worker only stops.
 */
static int finish_cut(struct xfer_crecv *cr, int ok)
{
	int r = 0;

	cut_take_over(cr);
	if (cr->cutting) {
		if (ok && cr->cut_err == 0)
			cr->cut_err = cut_range(cr, atomic_load(&cr->streamed), IO_BYTES);
		r = ok && cr->cut_err == 0 ? xfer_tree_finish(cr->cut_wk->tree) : -1;
	}
	cr->cutting = 0;
	return r;
}

/* Starts the cut of a file that is not compared by trees: behind, on a worker, or by the main thread. */
static void cut_start(struct xfer_crecv *cr, int behind)
{
	cr->cutting = cr->ix != NULL && !cr->tiny;
	if (behind && cr->cutting)
		(void)more_workers(cr, 2);
	cr->behind = behind && cr->nw > 1 && cr->cutting && cr->sem_ok;
	cr->cut_wk = &cr->wk[cr->behind ? 1 : 0];
	cr->cut_fd = cr->fd; /* which stays open until finish_cut */
	cr->cut_err = 0;
	atomic_store(&cr->cut_done, 0);
	atomic_store(&cr->streamed, 0);
	atomic_store(&cr->cut_stop, 0);
	atomic_store(&cr->cut_end, 0);
	atomic_store(&cr->cut_sleeping, 0);
	xfer_tree_size(cr->cut_wk->tree, cr->size);
	xfer_tree_start(cr->cut_wk->tree, 0, 2, stream_emit, cr);
	if (cr->behind && pthread_create(&cr->cut_th, NULL, cut_behind, cr) != 0)
		cr->behind = 0; /* the main thread cuts, with the same tree */
}

static int recv_stream(struct xfer_crecv *cr)
{
	uint64_t off = 0;
	int r = 0;

	cut_start(cr, 1);
	while (r == 0 && off < cr->size) {
		const uint8_t *p;
		uint32_t n;

		if ((r = open_data(cr, cr->size - off, &p, &n)) != 0)
			break;
		if (put(cr, &cr->wk[0], p, n, off) != 0) {
			r = io_fail(cr);
			break;
		}
		off += n;
		cr->st->bytes_moved += n;
		atomic_store(&cr->streamed, off);
		if (cr->behind) {
			cut_wake(cr);
			if (off - atomic_load(&cr->cut_done) > LAG_MAX) {
				/* Too far behind: the main thread catches up and goes on inline. */
				cut_take_over(cr);
				if (cr->cut_err == 0)
					cr->cut_err = cut_range(cr, off, IO_BYTES);
			}
		} else if (cr->cutting && cr->cut_err == 0 &&
			   (cr->cut_err = xfer_tree_update(cr->cut_wk->tree, p, n)) == 0) {
			atomic_store(&cr->cut_done, off);
		}
		if (cr->o->progress != NULL)
			cr->o->progress(cr->o->progress_ctx, cr->st->bytes - cr->size + off, cr->st->bytes_moved);
	}
	if (cr->behind) {
		atomic_store(&cr->cut_end, 1);
		(void)sem_post(&cr->cut_sem);
	}
	return r;
}

/* ---- blocks: a small file matched against the old version (NEED_BLOCKS) ---- */

/* One block's sums in SIGS. */
static int put_sig(struct xfer_crecv *cr, const uint8_t *p, size_t n, uint32_t wlen, uint32_t slen)
{
	uint8_t sig[XB_WEAK_MAX + XB_STRONG_MAX];
	int r;

	xb_key_put(sig, xb_weak_key(xb_weak(p, n), wlen), wlen);
	if ((r = xb_strong(cr->bh, sig + wlen, slen, p, n)) != 0)
		return r;
	return pqx_buf_put(cr->b, sig, wlen + slen);
}

/* SIGS: the weak and strong sums of the old version's whole blocks, then of its tail. */
static int send_sigs(struct xfer_crecv *cr, int oldfd, uint64_t old_size, uint64_t size, int raw,
    struct xb_geom *g)
{
	const uint32_t L = xb_block_len(old_size, raw);
	const size_t per = IO_BYTES / L * L;
	uint8_t *io = cr->wk[0].io;
	uint64_t n = old_size / L;
	uint32_t wlen, slen;
	int r;

	g->len = L;
	g->count = n < XB_SIGS_MAX ? (uint32_t)n : XB_SIGS_MAX;
	g->tail = n < XB_SIGS_MAX ? (uint32_t)(old_size - n * L) : 0;
	xb_sig_lens(size, old_size, xb_signed(g), &wlen, &slen);
	if (cr->bh == NULL && (cr->bh = xfer_tree_idh(cr->wk[0].tree)) == NULL)
		return PQX_ERR_NOMEM;
	pqx_buf_reset(cr->b);
	if ((r = pqx_buf_put_u8(cr->b, K_SIGS)) != 0 || (r = pqx_buf_put_u16(cr->b, (uint16_t)(L / 64))) != 0 ||
	    (r = pqx_buf_put_u8(cr->b, (uint8_t)wlen)) != 0 || (r = pqx_buf_put_u8(cr->b, (uint8_t)slen)) != 0 ||
	    (r = pqx_buf_put_u16(cr->b, (uint16_t)g->count)) != 0)
		return r;
	for (uint64_t off = 0, end = (uint64_t)g->count * L; off < end;) {
		size_t k = end - off < per ? (size_t)(end - off) : per;

		if (xc_pread_all(oldfd, io, k, off) != 0)
			return fail_peer(cr, PQX_ERR_IO, "can't read the old version on the receiver");
		for (size_t i = 0; i < k; i += L)
			if ((r = put_sig(cr, io + i, L, wlen, slen)) != 0)
				return r;
		off += k;
	}
	if ((r = pqx_buf_put_u16(cr->b, (uint16_t)g->tail)) != 0)
		return r;
	if (g->tail > 0) {
		if (xc_pread_all(oldfd, io, g->tail, (uint64_t)g->count * L) != 0)
			return fail_peer(cr, PQX_ERR_IO, "can't read the old version on the receiver");
		if ((r = put_sig(cr, io, g->tail, wlen, slen)) != 0)
			return r;
	}
	return xfer_send_padded(cr->ln, cr->b, PAD_BLOCKS);
}

/* BLOCKS: runs in file order that fit the file and name blocks that were signed (the tail last). */
static int get_runs(struct xfer_crecv *cr, const struct xb_geom *g, size_t *nruns)
{
	const uint32_t nb = xb_signed(g);
	uint64_t off = 0;
	uint16_t n;
	pqx_buf v;
	int r;

	if ((r = expect(cr, &v, K_BLOCKS)) != 0)
		return r;
	if (pqx_buf_get_u16(&v, &n) != 0)
		return PQX_ERR_FORMAT;
	if (n == XB_TREES) {
		/* Too little matched: the sender goes on with chunk trees. */
		*nruns = 0;
		return pqx_buf_expect_end(&v) == 0 ? 1 : PQX_ERR_FORMAT;
	}
	if (n > cr->size / g->len + 1)
		return PQX_ERR_FORMAT;
	if (n > cr->capruns) {
		struct xb_run *p = realloc(cr->runs, n * sizeof(*p));

		if (p == NULL)
			return PQX_ERR_NOMEM;
		cr->runs = p;
		cr->capruns = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct xb_run *u = &cr->runs[i];
		uint8_t lit[3];
		uint16_t first, blocks;

		if (pqx_buf_get(&v, lit, 3) != 0 || pqx_buf_get_u16(&v, &first) != 0 ||
		    pqx_buf_get_u16(&v, &blocks) != 0)
			return PQX_ERR_FORMAT;
		u->lit = (uint32_t)lit[0] << 16 | (uint32_t)lit[1] << 8 | lit[2];
		u->first = first;
		u->n = blocks;
		if (u->n == 0 || u->first > nb ||
		    u->n > nb - u->first || u->lit > cr->size - off ||
		    xb_run_bytes(g, u->first, u->n) > cr->size - off - u->lit)
			return PQX_ERR_FORMAT;
		off += u->lit + xb_run_bytes(g, u->first, u->n);
		/* The tail matches only the end of the file. */
		if (g->tail > 0 && u->first + u->n == nb && off != cr->size)
			return PQX_ERR_FORMAT;
	}
	*nruns = n;
	return pqx_buf_expect_end(&v) == 0 ? 0 : PQX_ERR_FORMAT;
}

/*
 * Signs the old version, copies the blocks the sender names into place and
 * writes the rest from DATA; the caller checks the whole file's hash. 1:
 * the sender found too little and goes on with chunk trees.
 */
/* BLOCKS and what they name (SIGS went with NEED: the blocks of g signed). */
static int recv_blocks(struct xfer_crecv *cr, int oldfd, const struct xb_geom *g)
{
	struct worker *wk = &cr->wk[0];
	uint64_t off = 0, lit, left = cr->size;
	size_t nruns, ri = 0;
	int r;

	if ((r = get_runs(cr, g, &nruns)) != 0)
		return r == PQX_ERR_FORMAT ? fail_peer(cr, r, "invalid block list") : r; /* or 1: trees */
	for (size_t i = 0; i < nruns; i++) {
		uint64_t src = (uint64_t)cr->runs[i].first * g->len;
		uint64_t m = xb_run_bytes(g, cr->runs[i].first, cr->runs[i].n);

		off += cr->runs[i].lit; /* the blocks' place in the file */
		for (uint64_t done = 0; done < m;) {
			size_t k = m - done < IO_BYTES ? (size_t)(m - done) : IO_BYTES;

			if (xc_pread_all(oldfd, wk->io, k, src + done) != 0)
				return fail_peer(cr, PQX_ERR_IO, "can't read the old version on the receiver");
			if (put(cr, wk, wk->io, k, off + done) != 0)
				return io_fail(cr);
			done += k;
		}
		off += m;
		left -= m;
		cr->st->bytes_reused += m;
	}
	/* The literal bytes, in file order: before each run, then the tail. */
	off = 0;
	lit = nruns > 0 ? cr->runs[0].lit : cr->size;
	while (left > 0) {
		const uint8_t *p;
		uint32_t n;

		if ((r = open_data(cr, left, &p, &n)) != 0)
			return r;
		left -= n;
		cr->st->bytes_moved += n;
		while (n > 0) {
			size_t k;

			while (lit == 0) {
				/* Past run ri: its blocks are in place already. */
				if (ri >= nruns)
					return PQX_ERR_INTERNAL; /* more bytes than literal: open_data bounds them */
				off += xb_run_bytes(g, cr->runs[ri].first, cr->runs[ri].n);
				ri++;
				lit = ri < nruns ? cr->runs[ri].lit : cr->size - off;
			}
			k = lit < n ? (size_t)lit : n;
			if (put(cr, wk, p, k, off) != 0)
				return io_fail(cr);
			p += k;
			n -= (uint32_t)k;
			off += k;
			lit -= k;
		}
		if (cr->o->progress != NULL)
			cr->o->progress(cr->o->progress_ctx, cr->st->bytes - cr->size + off, cr->st->bytes_moved);
	}
	return 0;
}

/* Whether the file as written has the hash the sender sent. */
static int check_hash(struct xfer_crecv *cr, const uint8_t want[XB_HASH_BYTES])
{
	pqx_hmac *h = NULL;
	uint8_t got[32];
	int r;

	if ((r = xc_file_hash(cr->wk[0].tree, &h)) != 0)
		return r;
	if ((r = xc_mac_file(h, cr->fd, cr->size, cr->wk[0].io)) == 0 && (r = pqx_hmac_final(h, got)) == 0 &&
	    !pqx_ct_memeq(got, want, XB_HASH_BYTES))
		r = PQX_ERR_AUTH;
	pqx_hmac_free(h);
	return r;
}

/* A file that streams whole: its DATA, then a bare FILE_END. */
static int recv_whole(struct xfer_crecv *cr, pqx_buf *v)
{
	int r;

	if ((r = recv_stream(cr)) != 0 || (r = expect(cr, v, K_FILE_END)) != 0)
		return r;
	return pqx_buf_expect_end(v) == 0 ? 0 : fail_peer(cr, PQX_ERR_FORMAT, "invalid file end");
}

/*
 * The contents of an eager file answered "identical": read (through the
 * session's zstd stream, which goes on) and dropped.
 */
static int drop_whole(struct xfer_crecv *cr, uint64_t size, pqx_buf *v)
{
	const uint8_t *p;
	uint32_t n;
	int r;

	for (uint64_t off = 0; off < size; off += n) {
		if ((r = open_data(cr, size - off, &p, &n)) != 0)
			return r;
		cr->st->bytes_moved += n; /* they crossed, as the sender counts them */
	}
	if ((r = expect(cr, v, K_FILE_END)) != 0)
		return r;
	return pqx_buf_expect_end(v) == 0 ? 0 : fail_peer(cr, PQX_ERR_FORMAT, "invalid file end");
}

/*
 * A file matched in blocks against its old version (oldfd): 0 once it is
 * written and its hash checked, 1 if the sender goes on with chunk trees,
 * 2 if the hash differed (the file is asked for again, to stream at the
 * end of the session), or an error.
 */
static int blocks_file(struct xfer_crecv *cr, pqx_buf *v, int oldfd, const struct xb_geom *g,
    const char *path)
{
	static const uint8_t again = K_AGAIN;
	uint64_t reused = cr->st->bytes_reused;
	uint8_t want[XB_HASH_BYTES];
	int r;

	if ((r = recv_blocks(cr, oldfd, g)) != 0)
		return r;
	if ((r = expect(cr, v, K_FILE_END)) != 0)
		return r;
	if (pqx_buf_get(v, want, sizeof(want)) != 0 || pqx_buf_expect_end(v) != 0)
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid file end");
	if ((r = check_hash(cr, want)) != PQX_ERR_AUTH) {
		if (r == 0) {
			/* The index learns the file as a streamed one: cut whole, later. */
			cut_start(cr, 0);
			atomic_store(&cr->streamed, cr->size);
		}
		return r;
	}
	/*
	 * Sums that agreed on other bytes (or an old version that changed
	 * under us): once more, whole. The sender has gone on to its next
	 * entry; this file comes back after its last one.
	 */
	xfer_warn(cr->o, "the file's blocks did not match; asking for it again, whole", path);
	if (cr->nredo == XFER_REDO_MAX)
		return fail_peer(cr, PQX_ERR_LIMIT, "too many files to receive again");
	if (cr->nredo == cr->capredo) {
		size_t cap = cr->capredo ? cr->capredo * 2 : 8;
		char **nr = realloc(cr->redo, cap * sizeof(*nr));

		if (nr == NULL)
			return PQX_ERR_NOMEM;
		cr->redo = nr;
		cr->capredo = cap;
	}
	if ((cr->redo[cr->nredo] = strdup(path)) == NULL)
		return PQX_ERR_NOMEM;
	cr->nredo++;
	cr->st->bytes_reused = reused;
	if ((r = xfer_put(cr->ln, &again, 1, 1)) != 0)
		return r;
	return 2;
}

/* 1 if path was asked for again (it leaves the list: once). */
static int take_redo(struct xfer_crecv *cr, const char *path)
{
	for (size_t i = 0; i < cr->nredo; i++)
		if (strcmp(cr->redo[i], path) == 0) {
			free(cr->redo[i]);
			cr->redo[i] = cr->redo[--cr->nredo];
			return 1;
		}
	return 0;
}

/*
 * The nodes of level `level` over those of the level below, as the sender's
 * builder closes them (tree.c): a chunk list's level-1 and level-2 nodes.
 */
static int build_level(struct xfer_crecv *cr, const struct lvl *below, struct lvl *l, int level)
{
	uint8_t ids[XFER_TREE_FANOUT * XFER_ID_BYTES];
	struct xfer_node n;
	size_t k = 0;
	int r;

	memset(&n, 0, sizeof(n));
	n.level = (uint8_t)level;
	for (size_t i = 0; i < below->n; i++) {
		if (k == 0) {
			n.off = below->v[i].off;
			n.len = 0;
		}
		memcpy(ids + k * XFER_ID_BYTES, below->v[i].id, XFER_ID_BYTES);
		n.len += below->v[i].len;
		k++;
		if (!xfer_tree_closes(below->v[i].id, k) && i + 1 < below->n)
			continue;
		if ((r = xfer_tree_node_id(cr->wk[0].tree, n.id, level, ids, k)) != 0 ||
		    (r = xc_lvl_push(l, &n)) != 0)
			return r;
		k = 0;
	}
	return 0;
}

/* The level of the LIST just read (held in pending, its kind first). */
static int list_level(const struct xfer_crecv *cr)
{
	return cr->pending.off + 1 < cr->pending.size ? cr->pending.d[cr->pending.off + 1] : -1;
}

enum { PH_DATA = -1, PH_DONE = -2 };

static int count_item(void *ctx, const struct xfer_node *n)
{
	(void)n;
	++*(size_t *)ctx;
	return 0;
}

/*
 * What a window expects after the answers to its nodes of level l: the
 * list of the children of its NEED nodes, else its data (the bytes of its
 * WHOLE nodes and NEED chunks), else nothing.
 */
static int next_phase(struct win *w, int l)
{
	size_t need = 0, items = 0;

	for (size_t i = 0; l > 0 && i < w->x[l].n; i++)
		need += w->x[l].st[i] == ST_NEED;
	if (need > 0)
		return l - 1;
	for (size_t i = 0; i < w->x[l].n; i++)
		w->x[l].nch[i] = 0;
	(void)xc_win_items(w, count_item, &items);
	return items > 0 ? PH_DATA : PH_DONE;
}

/*
 * A window whose bytes are all in place: the nodes that were expanded are
 * too (their children tile them, hash to their ids and were each
 * verified), so the index learns them, and the next copy of these bytes is
 * found whole.
 */
static void window_rows(struct xfer_crecv *cr, const struct win *w)
{
	for (int l = 1; cr->ix != NULL && !cr->norows && l < XFER_TREE_LEVELS; l++)
		for (size_t i = 0; i < w->x[l].n; i++)
			if (w->x[l].st[i] == ST_NEED &&
			    xfer_index_add(cr->ix, w->x[l].v[i].id, w->x[l].v[i].off, w->x[l].v[i].len) != 0)
				return;
}

/* A window's data: the bytes of every item, in order, verified. */
static int window_data(struct xfer_crecv *cr, struct win *w)
{
	int r;

	cr->items.n = 0;
	if ((r = xc_win_items(w, push_item, &cr->items)) != 0)
		return r;
	return recv_data(cr);
}

/* The list of the children of the NEED nodes of level l + 1, answered. */
static int window_list(struct xfer_crecv *cr, struct win *w, int l, uint64_t *cur)
{
	int r;

	if ((r = get_list(cr, &w->x[l + 1], &w->x[l], l, cur)) != 0)
		return r == PQX_ERR_FORMAT ? fail_peer(cr, r, "invalid chunk list") : r;
	return look_up(cr, &w->x[l], l);
}

/*
 * A file's whole list, flat (its first LIST, of level 0 or 1: the file is
 * one window), answered, and the rest of that window, which follows alone.
 */
static int recv_flat(struct xfer_crecv *cr, uint64_t *cur, pqx_hmac *root)
{
	struct win *w = &cr->w;
	int r, ph, top = list_level(cr);

	xc_win_reset(w);
	if ((r = get_list(cr, NULL, &w->x[top], top, cur)) != 0)
		return r == PQX_ERR_FORMAT ? fail_peer(cr, r, "invalid chunk list") : r;
	/* The nodes above are built here, every one expanded. */
	for (int l = top + 1; l < XFER_TREE_LEVELS; l++)
		if ((r = build_level(cr, &w->x[l - 1], &w->x[l], l)) != 0)
			return r;
	xc_win_flat(w);
	for (size_t i = 0; i < w->x[2].n; i++)
		if ((r = pqx_hmac_update(root, w->x[2].v[i].id, XFER_ID_BYTES)) != 0)
			return r;
	if ((r = look_up(cr, &w->x[top], top)) != 0)
		return r;
	for (ph = next_phase(w, top); ph >= 0; ph = next_phase(w, ph))
		if ((r = window_list(cr, w, ph, cur)) != 0)
			return r;
	if (ph == PH_DATA && (r = window_data(cr, w)) != 0)
		return r;
	window_rows(cr, w);
	return 0;
}

static size_t win_nodes(const struct win *w)
{
	return w->x[0].n + w->x[1].n + w->x[2].n;
}

/* Retires the oldest windows that expect nothing more. */
static void pop_done(struct xfer_crecv *cr)
{
	while (cr->nahead > 0 && cr->ahead[cr->ahead_head].phase == PH_DONE) {
		struct win *w = &cr->ahead[cr->ahead_head].w;

		window_rows(cr, w);
		cr->ahead_nodes -= win_nodes(w);
		/* What a hostile peer made large is not kept for the rest of the session. */
		if (w->x[0].cap + w->x[1].cap + w->x[2].cap > WIN_MAX)
			xc_win_free(w);
		cr->ahead_head = (cr->ahead_head + 1) % AHEAD_WINDOWS;
		cr->nahead--;
	}
}

/*
 * Windows in flight. A window's level-2 list opens it; the sender may list
 * up to AHEAD_WINDOWS of them (AHEAD_NODES nodes in all, every level)
 * before the oldest's data. Each list is answered as it is read. The lists
 * of a level below come in the order of the windows that expect them (the
 * sender sends each once it has read the answer above), and the data of
 * the windows in their order, each window's DATA messages together: a LIST
 * of level 1 or 0 is the oldest such window's, DATA the oldest window's.
 */
static int recv_top(struct xfer_crecv *cr, uint64_t *cur, pqx_hmac *root)
{
	struct rwin *rw;
	int r;

	if (cr->nahead == AHEAD_WINDOWS)
		return fail_peer(cr, PQX_ERR_FORMAT, "too many windows in flight");
	rw = &cr->ahead[(cr->ahead_head + cr->nahead) % AHEAD_WINDOWS];
	xc_win_reset(&rw->w);
	if ((r = get_list(cr, NULL, &rw->w.x[2], 2, cur)) != 0)
		return r == PQX_ERR_FORMAT ? fail_peer(cr, r, "invalid chunk list") : r;
	if (cr->ahead_nodes + rw->w.x[2].n > AHEAD_NODES)
		return fail_peer(cr, PQX_ERR_FORMAT, "too many windows in flight");
	for (size_t i = 0; i < rw->w.x[2].n; i++)
		if ((r = pqx_hmac_update(root, rw->w.x[2].v[i].id, XFER_ID_BYTES)) != 0)
			return r;
	if ((r = look_up(cr, &rw->w.x[2], 2)) != 0)
		return r;
	rw->phase = next_phase(&rw->w, 2);
	cr->ahead_nodes += rw->w.x[2].n;
	cr->nahead++;
	pop_done(cr);
	return 0;
}

static int recv_lower(struct xfer_crecv *cr, int level, uint64_t *cur)
{
	for (size_t i = 0; i < cr->nahead; i++) {
		struct rwin *rw = &cr->ahead[(cr->ahead_head + i) % AHEAD_WINDOWS];
		int r;

		if (rw->phase != level)
			continue;
		if ((r = window_list(cr, &rw->w, level, cur)) != 0)
			return r;
		if (cr->ahead_nodes + rw->w.x[level].n > AHEAD_NODES)
			return fail_peer(cr, PQX_ERR_FORMAT, "too many windows in flight");
		cr->ahead_nodes += rw->w.x[level].n;
		rw->phase = next_phase(&rw->w, level);
		pop_done(cr);
		return 0;
	}
	return fail_peer(cr, PQX_ERR_FORMAT, "unexpected message");
}

static int recv_oldest_data(struct xfer_crecv *cr)
{
	struct rwin *rw = &cr->ahead[cr->ahead_head];
	int r;

	if (cr->nahead == 0 || rw->phase != PH_DATA)
		return fail_peer(cr, PQX_ERR_FORMAT, "unexpected message");
	if ((r = window_data(cr, &rw->w)) != 0)
		return r;
	rw->phase = PH_DONE;
	pop_done(cr);
	return 0;
}

/* Adds a row to the index for every node of the file being indexed. */
static int index_emit(void *ctx, const struct xfer_node *n)
{
	return xfer_index_add(ctx, n->id, n->off, n->len);
}

/* Indexes (src, rel) below dirfd unless the index already knows it as it is. */
static int index_source(struct xfer_crecv *cr, int src, int dirfd, const char *rel)
{
	struct stat sb;
	uint64_t size;
	int fd, r = 0;

	if (cr->ix == NULL || (fd = xfer_open_file(dirfd, rel)) < 0)
		return 0;
	if (fstat(fd, &sb) != 0)
		goto out;
	/* Cut as the incoming file will be (a dictionary file: by its own size). */
	size = src == XFER_SRC_DICT ? (uint64_t)sb.st_size : cr->size;
	xfer_index_set_cut(cr->ix, xfer_tree_class(size));
	if (xfer_index_file_current(cr->ix, src, rel, &sb) != 0)
		goto out;
	if ((r = xfer_index_add_file(cr->ix, src, rel, &sb)) != 0)
		goto out;
	xfer_tree_size(cr->wk[0].tree, size);
	xfer_tree_start(cr->wk[0].tree, 0, 2, index_emit, cr->ix);
	r = xfer_tree_file(cr->wk[0].tree, fd, 0, (uint64_t)sb.st_size, cr->nw_max);
out:
	close(fd);
	return r;
}

/* Indexes every regular file of the dictionary (once per session). */
static int index_dict(struct xfer_crecv *cr, int dfd, const char *rel, int depth)
{
	DIR *d;
	struct dirent *e;
	char child[XFER_MAX_PATH + 1];
	int r = 0, fd;

	if (depth > 32 || (fd = dup(dfd)) < 0)
		return 0;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return 0;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		struct stat sb;

		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", e->d_name) >=
			sizeof(child) ||
		    fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISREG(sb.st_mode)) {
			r = index_source(cr, XFER_SRC_DICT, cr->dictfd, child);
		} else if (S_ISDIR(sb.st_mode)) {
			int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				r = index_dict(cr, sub, child, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return r;
}

/* Makes the index know the files this one may share bytes with (old: its old version at path too). */
static void index_sources(struct xfer_crecv *cr, const char *path, int old, const char *prev)
{
	int r = 0;

	if (cr->ix == NULL || xfer_index_begin(cr->ix) != 0)
		return;
	if (old)
		r = index_source(cr, XFER_SRC_ROOT, cr->root, path);
	if (r == 0 && prev != NULL)
		r = index_source(cr, XFER_SRC_ROOT, cr->root, prev);
	if (r == 0 && cr->dictfd >= 0 && !cr->dict_indexed) {
		cr->dict_indexed = 1;
		r = index_dict(cr, cr->dictfd, "", 0);
	}
	if (r == 0 && xfer_index_commit(cr->ix) == 0) {
		cr->ix_empty = xfer_index_empty(cr->ix) == 1;
		return;
	}
	xfer_index_rollback(cr->ix);
	xfer_warn(cr->o, "can't update the chunk index; going on without it", path);
	xfer_index_close(cr->ix);
	cr->ix = NULL;
}

/* The sibling name ".LAST.SUFFIX" of path (relative to the root) into out. */
static int sibling(char *out, size_t cap, const char *path, const char *last, const char *suffix)
{
	int n = snprintf(out, cap, "%.*s.%s.%s", (int)(last - path), path, last, suffix);

	return n > 0 && (size_t)n < cap && strlen(last) + strlen(suffix) + 2 <= XFER_MAX_NAME ? 0 : -1;
}

static uint64_t file_size_at(int dfd, const char *name)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	return (uint64_t)sb.st_size;
}

/*
 * The old version to match blocks against: the file in place, else what an
 * interrupted run left (not too big to sign).
 */
static int open_old(int dfd, const char *last, const char *prev, int raw, uint64_t *size)
{
	const char *names[2] = { last, prev };

	for (int i = 0; i < 2; i++) {
		struct stat sb;
		int fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

		if (fd < 0)
			continue;
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= XB_OLD_MAX &&
		    (uint64_t)sb.st_size >= xb_block_len((uint64_t)sb.st_size, raw)) {
			*size = (uint64_t)sb.st_size;
			return fd;
		}
		close(fd);
	}
	return -1;
}

/*
 * What an interrupted run left (.NAME.pqx-part) becomes .NAME.pqx-prev, a
 * source like any other; of two, the larger is kept. The new partial file
 * starts empty.
 */
static void keep_previous(int dfd, const char *part, const char *prev)
{
	uint64_t ps = file_size_at(dfd, part), vs = file_size_at(dfd, prev);
	struct stat sb;

	/* Only our own regular files: anything else under the name stays (and is refused). */
	if (fstatat(dfd, part, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
		return;
	if (ps == 0) {
		unlinkat(dfd, part, 0);
		return;
	}
	if (vs >= ps)
		unlinkat(dfd, part, 0);
	else
		renameat(dfd, part, dfd, prev);
}

/* The base the sender named in a FILE entry. */
struct base_claim {
	int has, again; /* again: a file sent again, asked for (AGAIN) */
	int raw;        /* the sender expects to send this file's data raw */
	int listed;     /* its chunks follow (v is left at them) */
	int eager;      /* its contents follow, whatever the answer */
	char name[XFER_MAX_PATH + 1];
	uint64_t size;
	uint8_t id[32];
};

static int base_parse(pqx_buf *v, struct base_claim *bc)
{
	uint8_t has;
	size_t len;

	if (pqx_buf_get_u8(v, &has) != 0 ||
	    has > (FILE_BASE | FILE_AGAIN | FILE_RAW | FILE_LISTED | FILE_EAGER))
		return PQX_ERR_FORMAT;
	bc->eager = (has & FILE_EAGER) != 0;
	bc->listed = (has & FILE_LISTED) != 0;
	bc->raw = (has & FILE_RAW) != 0;
	bc->again = (has & FILE_AGAIN) != 0;
	bc->has = has &= FILE_BASE;
	if (has && (xfer_get_str(v, bc->name, XFER_MAX_PATH, &len) != 0 ||
		       pqx_buf_get_u64(v, &bc->size) != 0 || pqx_buf_get(v, bc->id, 32) != 0 ||
		       !xfer_path_ok(bc->name, len)))
		return PQX_ERR_FORMAT;
	/* A file sent again streams; one with a base is compared against it. */
	if (bc->eager && (bc->listed || bc->again || bc->has))
		return PQX_ERR_FORMAT;
	if (bc->listed)
		return bc->again || bc->has ? PQX_ERR_FORMAT : 0;
	return pqx_buf_expect_end(v) == 0 ? 0 : PQX_ERR_FORMAT;
}

/*
 * The chunks listed with a FILE entry: u8 count - 1, then count x (id,
 * u16 len - 1), at most FLAT_MAX, tiling the whole file of size bytes
 * (TINY to LISTED_BYTES).
 */
static int listed_parse(pqx_buf *v, struct lvl *l, uint64_t size)
{
	struct xfer_node n;
	uint8_t c;
	uint64_t off = 0;
	int r;

	memset(&n, 0, sizeof(n));
	l->n = 0;
	if (size < TINY || size > LISTED_BYTES || pqx_buf_get_u8(v, &c) != 0 || c >= FLAT_MAX)
		return PQX_ERR_FORMAT;
	for (unsigned int i = 0; i <= c; i++) {
		uint16_t len;

		if (pqx_buf_get(v, n.id, XFER_ID_BYTES) != 0 || pqx_buf_get_u16(v, &len) != 0 ||
		    (uint64_t)len + 1 > node_max(size, 0) || (uint64_t)len + 1 > size - off)
			return PQX_ERR_FORMAT;
		n.off = off;
		n.len = (uint64_t)len + 1;
		off += n.len;
		if ((r = xc_lvl_push(l, &n)) != 0)
			return r;
	}
	return off == size && pqx_buf_expect_end(v) == 0 ? 0 : PQX_ERR_FORMAT;
}

/* Whether our dictionary's copy of the claimed base is the same bytes (then it is cr->basefd). */
static int base_check(struct xfer_crecv *cr, const struct base_claim *bc)
{
	uint8_t got[32];
	struct stat sb;
	int fd;

	if (!bc->has || cr->dictfd < 0 || (fd = xfer_open_file(cr->dictfd, bc->name)) < 0)
		return 0;
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != bc->size ||
	    xc_base_id(&cr->ids, fd, got, cr->wk[0].io) != 0 || !pqx_ct_memeq(got, bc->id, 32)) {
		close(fd);
		return 0;
	}
	cr->basefd = fd;
	cr->base_size = bc->size;
	return 1;
}

/*
 * The index's rows go in one transaction for a batch of files: those that
 * landed (under their partial names: flush_landed renames them) and the
 * file being received. A failure anywhere in it loses only rows: the
 * landed files then go into the index with none (norows).
 */
static void rows_lost(struct xfer_crecv *cr)
{
	xfer_index_rollback(cr->ix);
	cr->tx = 0;
	for (size_t i = 0; i < cr->nlanded; i++)
		cr->landed[i]->norows = 1;
}

/* rows_lost after the index failed (not a file's own failure): said once a session. */
static void rows_failed(struct xfer_crecv *cr)
{
	rows_lost(cr);
	if (!cr->rows_warned) {
		cr->rows_warned = 1;
		xfer_warn(cr->o, "can't update the chunk index (a full disk?); what arrived won't be reused next time",
		    cr->o->index_path);
	}
}

static int rows_begin(struct xfer_crecv *cr)
{
	int r;

	if (cr->tx)
		return 0;
	if ((r = xfer_index_begin(cr->ix)) == 0)
		cr->tx = 1;
	return r;
}

/* Forgets a name; one too long for the index was never in it. */
static int forget(struct xfer_crecv *cr, const char *name)
{
	int r = xfer_index_forget(cr->ix, XFER_SRC_ROOT, name);

	return r == PQX_ERR_LIMIT ? 0 : r;
}

/*
 * One file's rows leave the transaction (a file that failed, or was not
 * cut whole); with nothing landed, the transaction was that file's alone.
 */
static void rows_drop(struct xfer_crecv *cr, const char *part)
{
	if (cr->tx && cr->nlanded == 0)
		rows_lost(cr);
	else if (cr->tx && forget(cr, part) != 0)
		rows_failed(cr);
}

/* Whether the index has rows of landed files to learn (the index looks emptier than it is). */
static int landed_rows(const struct xfer_crecv *cr)
{
	for (size_t i = 0; i < cr->nlanded; i++)
		if (!cr->landed[i]->norows)
			return 1;
	return 0;
}

/* The last landed file's rows, once its cut (if any) is done. */
static void rows_done(struct xfer_crecv *cr)
{
	struct inflight *e;

	if (!cr->rows_wait)
		return;
	cr->rows_wait = 0;
	e = cr->landed[cr->nlanded - 1];
	if (finish_cut(cr, !e->norows) != 0 || e->norows) {
		rows_drop(cr, e->part);
		e->norows = 1;
	}
}

/* The rows so far become visible to lookups (and the transaction ends). */
static void rows_commit(struct xfer_crecv *cr)
{
	rows_done(cr);
	if (!cr->tx)
		return;
	if (xfer_index_commit(cr->ix) != 0)
		rows_failed(cr);
	cr->tx = 0;
}

/*
 * A file verified and confirmed: it waits with the others for flush_landed.
 * Its writeback starts now, so that the fsyncs of a batch find its bytes
 * written (and, with a journal, its blocks allocated in one commit).
 */
static void land(struct xfer_crecv *cr, struct inflight *f)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
	(void)sync_file_range(cr->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
	f->fd = cr->fd; /* the cut's too, until rows_done */
	cr->fd = -1;
	f->norows = cr->tiny;
	if (f->oldfd >= 0)
		close(f->oldfd);
	f->oldfd = -1;
	xc_win_free(&f->lw);
	if (cr->nlanded == 0)
		cr->landed_t0 = xc_mono();
	cr->landed[cr->nlanded++] = f;
	cr->rows_wait = 1;
	if (!cr->cutting)
		rows_done(cr);
	if (cr->ix != NULL && !cr->tailed) {
		tail_add(cr);
		cr->tailed = 1;
	}
}

static void drop_sources(struct xfer_crecv *cr);

/*
 * Makes the landed files durable and puts them in place, oldest first:
 * each one's bytes reach the disk before its name does, so a crash leaves
 * the old version or the new one, never part of it. A failure goes to the
 * peer (tell) and fails the session: the sender took FILE_OK for delivered.
 * Files placed stay on the list until their index work is done too
 * (index_landed), which may wait for a cut and need not hold up the peer.
 */
static int place_landed(struct xfer_crecv *cr, int tell)
{
	const char *why = NULL;
	size_t n = cr->nlanded, from = cr->nplaced, synced, placed, bad = 0;
	const struct rdir *last_dir = NULL;
	struct stat sb;

	if (from == n || cr->place_err)
		return 0;
	/* Their writeback began as each landed: the first fsync finds the others' blocks written too. */
	for (synced = from; synced < n; synced++)
		if (fsync(cr->landed[synced]->fd) != 0) {
			why = errno == ENOSPC ? "no space left on the receiver"
					      : "can't finish the file on the receiver";
			bad = synced;
			break;
		}
	for (placed = from; placed < synced; placed++) {
		struct inflight *e = cr->landed[placed];
		const char *last = e->path + e->last;
		struct stat mine;

		/* By name: it must still be the file we wrote (another session may have made a new one). */
		if (fstat(e->fd, &mine) != 0 || fstatat(e->dir->fd, e->part + e->last, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    sb.st_dev != mine.st_dev || sb.st_ino != mine.st_ino)
			why = "the partial file was replaced";
		else if (renameat(e->dir->fd, e->part + e->last, e->dir->fd, last) != 0)
			why = errno == EISDIR ? "a directory is in the way" : "can't rename the file into place";
		else
			continue;
		bad = placed;
		break;
	}
	cr->nplaced = placed;
	/* Their directories, each once in a row: one fsync makes every rename in it durable. */
	for (size_t i = from; i < placed; i++) {
		struct inflight *e = cr->landed[i];

		if (e->dir != last_dir && fsync(e->dir->fd) != 0 && why == NULL) {
			why = "can't rename the file into place";
			bad = i;
		}
		last_dir = e->dir;
		if (!e->fresh)
			unlinkat(e->dir->fd, e->prev + e->last, 0);
	}
	if (why == NULL)
		return 0;
	cr->place_err = 1;
	xfer_warn(cr->o, why, cr->landed[bad]->path); /* the peer hears it with no name */
	return tell ? fail_peer(cr, PQX_ERR_IO, why) : PQX_ERR_IO;
}

/*
 * The index learns the landed files' names, under the stat each has in
 * place (a rename changes the ctime), once the last one's cut is done; a
 * file not in place leaves no rows. Then the list is empty.
 */
static void index_landed(struct xfer_crecv *cr)
{
	size_t n = cr->nlanded;
	struct stat sb;
	int r = 0;

	rows_done(cr);
	if (n == 0)
		return;
	if (cr->ix != NULL && rows_begin(cr) == 0) {
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct inflight *e = cr->landed[i];

			if (i < cr->nplaced && !e->norows && fstat(e->fd, &sb) == 0) {
				if ((r = xfer_index_rename(cr->ix, XFER_SRC_ROOT, e->part, e->path, &sb)) == 0)
					r = forget(cr, e->prev);
			} else if ((r = forget(cr, e->part)) == 0) {
				r = forget(cr, e->path);
			}
		}
		if (r != 0 || xfer_index_commit(cr->ix) != 0)
			rows_failed(cr);
		cr->tx = 0;
	}
	for (size_t i = 0; i < n; i++)
		inflight_free(cr->landed[i]);
	cr->nlanded = cr->nplaced = 0;
	if (cr->tailed)
		tail_remove(cr);
	cr->tailed = 0;
	drop_sources(cr); /* a file in place may have replaced one */
}

static int flush_landed(struct xfer_crecv *cr, int tell)
{
	int r = place_landed(cr, tell);

	index_landed(cr);
	return r;
}

/* Before a link or the end: the files in place; their index work may wait (for a cut). */
int xfer_crecv_settle(struct xfer_crecv *cr)
{
	return place_landed(cr, 1);
}

size_t xfer_crecv_left(const struct xfer_crecv *cr)
{
	return cr->nredo + cr->nfl;
}

/*
 * The source files the workers keep open go: the last file may have
 * replaced one of them under the same name, and an fd kept from before
 * would read the old version's bytes (which then fail their ids: transfer
 * lost, never bytes).
 */
static void drop_sources(struct xfer_crecv *cr)
{
	for (int i = 0; i < MAXW; i++) {
		if (cr->wk[i].srcfd >= 0)
			close(cr->wk[i].srcfd);
		cr->wk[i].srcfd = -1;
	}
	close_backs(cr);
}

/*
 * One transaction for the file: its spans go into the index at the end,
 * sorted, with its final name. If the run dies first, the next one indexes
 * what it left (.pqx-prev) afresh. sb: the partial file's.
 */
static void file_rows(struct xfer_crecv *cr, const char *part, const struct stat *sb)
{
	int r;

	xfer_index_set_cut(cr->ix, xfer_tree_class(cr->size));
	if (cr->ix == NULL || cr->tiny)
		return;
	if ((r = rows_begin(cr)) == 0)
		r = xfer_index_add_file(cr->ix, XFER_SRC_ROOT, part, sb);
	if (r != 0 && r != PQX_ERR_LIMIT && cr->tx) {
		/* The batch's transaction failed earlier (its rows are lost): once more, in a new one. */
		rows_failed(cr);
		if ((r = rows_begin(cr)) == 0)
			r = xfer_index_add_file(cr->ix, XFER_SRC_ROOT, part, sb);
	}
	if (r == PQX_ERR_LIMIT) {
		/* A name too long for the index: this file goes unindexed (it added nothing). */
		cr->tiny = 1;
		cr->norows = 1;
	} else if (r != 0) {
		rows_failed(cr);
		xfer_index_close(cr->ix);
		cr->ix = NULL;
	}
}

static void rdir_put(struct rdir *d)
{
	if (d != NULL && --d->refs == 0) {
		close(d->fd);
		free(d);
	}
}

/* A reference to the directory open as dfd: the last one's, if it is the same directory. */
static struct rdir *rdir_get(struct xfer_crecv *cr, int dfd)
{
	struct rdir *d = cr->dir;
	struct stat sb;

	if (fstat(dfd, &sb) != 0)
		return NULL;
	if (d == NULL || d->dev != sb.st_dev || d->ino != sb.st_ino) {
		if ((d = calloc(1, sizeof(*d))) == NULL)
			return NULL;
		if ((d->fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0) {
			free(d);
			return NULL;
		}
		d->dev = sb.st_dev;
		d->ino = sb.st_ino;
		d->refs = 1;
		rdir_put(cr->dir);
		cr->dir = d;
	}
	d->refs++;
	return d;
}

static void inflight_free(struct inflight *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->oldfd >= 0)
		close(f->oldfd);
	if (f->basefd >= 0)
		close(f->basefd);
	rdir_put(f->dir);
	xc_win_free(&f->lw);
	free(f);
}

/* Any failure still gets a word to the sender (a generic one: no secrets). */
static void tell(struct xfer_crecv *cr, int r)
{
	if (r != 0 && !cr->told && r != PQX_ERR_PEER_ERROR && r != PQX_ERR_CLOSED &&
	    !pqx_channel_write_failed(xfer_link_channel(cr->ln)))
		(void)fail_peer(cr, r, pqx_strerror(r));
}

/*
 * A file listed with its entry, to be answered NEED_LISTED: the nodes over
 * its chunks are built and the chunks found are copied into its partial
 * file now (their index rows wait for the file's). Its NEED and the BITMAP
 * for the chunks go after this, together (the sender can do nothing with
 * one without the other); its contents bring only the rest (recv_listed).
 */
static int find_listed(struct xfer_crecv *cr, struct inflight *f)
{
	struct win *w = &f->lw;
	int r;

	if ((r = build_level(cr, &w->x[0], &w->x[1], 1)) != 0 ||
	    (r = build_level(cr, &w->x[1], &w->x[2], 2)) != 0)
		return r;
	xc_win_flat(w);
	cr->fd = f->fd;
	cr->clone_bs = 0;
	cr->norows = 1;
	r = find_nodes(cr, &w->x[0], 0);
	cr->norows = 0;
	cr->fd = -1;
	return r;
}

/* The contents of a listed file: the chunks it lacked, then its id. */
static int recv_listed(struct xfer_crecv *cr, struct inflight *f, pqx_buf *v)
{
	struct win *w = &f->lw;
	uint8_t want[32], root[32], kind;
	pqx_hmac *rh = NULL;
	int r;

	cr->items.n = 0;
	if ((r = xc_win_items(w, push_item, &cr->items)) != 0 || (r = recv_data(cr)) != 0)
		return r;
	if ((r = next_msg(cr, v, &kind)) != 0)
		return r;
	if (kind != K_FILE_END || pqx_buf_get(v, want, 32) != 0 || pqx_buf_expect_end(v) != 0)
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid file end");
	if ((r = xfer_tree_root_init(cr->wk[0].tree, &rh)) != 0)
		return r;
	for (size_t i = 0; r == 0 && i < w->x[2].n; i++)
		r = pqx_hmac_update(rh, w->x[2].v[i].id, XFER_ID_BYTES);
	if (r == 0)
		r = pqx_hmac_final(rh, root);
	pqx_hmac_free(rh);
	if (r != 0)
		return r;
	if (!pqx_ct_memeq(root, want, 32))
		return fail_peer(cr, PQX_ERR_AUTH, "file hash mismatch");
	/* All of it is in place and verified: the index learns the chunks found and the nodes. */
	for (int l = 0; cr->ix != NULL && !cr->norows && l < XFER_TREE_LEVELS; l++)
		for (size_t i = 0; i < w->x[l].n; i++)
			if ((l > 0 || w->x[l].st[i] == ST_HAVE) &&
			    xfer_index_add(cr->ix, w->x[l].v[i].id, w->x[l].v[i].off, w->x[l].v[i].len) != 0)
				return 0;
	return 0;
}

int xfer_crecv_offer(struct xfer_crecv *cr, pqx_buf *v, const char *path, int dfd,
    const char *last, int fresh, uint64_t size, uint32_t mode, const struct timespec *mt)
{
	uint8_t reply[3] = { K_NEED, 0, 0 };
	const char *part_name, *prev_name;
	struct inflight *f = NULL;
	struct base_claim bc;
	struct stat sb;
	int base_ok, again, r;

	cr->told = 0;
	for (size_t i = 0; i < cr->nfl; i++)
		if (strcmp(cr->fl[i]->path, path) == 0)
			return fail_peer(cr, PQX_ERR_FORMAT, "the same path twice");
	if (cr->nfl == XFER_INFLIGHT_MAX)
		return fail_peer(cr, PQX_ERR_LIMIT, "too many files at once");
	/* The same name as a landed file (sent again): that one goes in place first. */
	for (size_t i = 0; i < cr->nlanded; i++)
		if (strcmp(cr->landed[i]->path, path) == 0 && (r = flush_landed(cr, 1)) != 0)
			return r;
	if ((r = base_parse(v, &bc)) != 0)
		return fail_peer(cr, r, "invalid file entry");
	/*
	 * Contents sent eagerly are those of this file only if no file answered
	 * before it still awaits its own; and only a tiny file (which streams
	 * or is skipped) is sent so.
	 */
	if (bc.eager && (size >= TINY || cr->nfl > 0))
		return fail_peer(cr, PQX_ERR_FORMAT, "invalid file entry");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return PQX_ERR_NOMEM;
	f->fd = f->basefd = f->oldfd = -1;
	if (sibling(f->part, sizeof(f->part), path, last, "pqx-part") != 0 ||
	    sibling(f->prev, sizeof(f->prev), path, last, "pqx-prev") != 0) {
		r = fail_peer(cr, PQX_ERR_LIMIT, "file name too long");
		goto out;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->last = (size_t)(last - path);
	part_name = f->part + f->last;
	prev_name = f->prev + f->last;
	f->size = size;
	f->mode = mode;
	f->mt = *mt;
	if (bc.listed && (r = listed_parse(v, &f->lw.x[0], size)) != 0) {
		r = r == PQX_ERR_FORMAT ? fail_peer(cr, r, "invalid file entry") : r;
		goto out;
	}
	/*
	 * A file asked for again (and said so) streams, and was counted the
	 * first time. Others count when their contents begin (or now, when
	 * skipped), so that progress counts what arrives.
	 */
	if ((again = take_redo(cr, path)) != bc.again) {
		r = fail_peer(cr, PQX_ERR_FORMAT, "invalid file entry");
		goto out;
	}
	f->again = again;
	/*
	 * In a directory this session made there is no old version to look
	 * for (three lookups of new names, which the kernel has not cached:
	 * each reads the directory's blocks): the partial file is made with
	 * O_EXCL, and only if another session has taken its name does the
	 * file go the usual way.
	 */
	if (fresh && !again) {
		f->fd = openat(dfd, part_name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (f->fd < 0 && errno != EEXIST) {
			r = fail_peer(cr, PQX_ERR_IO, "can't create the file");
			goto out;
		}
	}
	f->fresh = fresh = f->fd >= 0;
	/* The quick check: same size and modification time means the same file. */
	if (!fresh && !again && fstatat(dfd, last, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
	    (uint64_t)sb.st_size == size && sb.st_mtim.tv_sec == mt->tv_sec &&
	    sb.st_mtim.tv_nsec == mt->tv_nsec) {
		cr->st->files++;
		cr->st->bytes += size;
		cr->st->skipped++;
		reply[1] = 1;
		if ((r = xfer_put(cr->ln, reply, sizeof(reply), 1)) == 0 && bc.eager) {
			pqx_buf c;

			r = drop_whole(cr, size, &c);
		}
		goto out;
	}
	base_ok = base_check(cr, &bc); /* after the quick check: it reads the whole base */
	f->basefd = cr->basefd;
	f->base_size = cr->base_size;
	cr->basefd = -1;
	if (!fresh) {
		keep_previous(dfd, part_name, prev_name);
		f->fd = openat(dfd, part_name, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (f->fd < 0 || fstat(f->fd, &f->sb) != 0 || !S_ISREG(f->sb.st_mode)) {
		r = fail_peer(cr, PQX_ERR_IO, "can't create the file");
		goto out;
	}
	/*
	 * A file that can't fit is refused now, while the sender listens:
	 * once it streams data, a receiver that gives up is only a reset.
	 */
	{
		struct statvfs vs;

		if (fstatvfs(f->fd, &vs) == 0 && vs.f_frsize > 0 &&
		    size / (uint64_t)vs.f_frsize > (uint64_t)vs.f_bavail) {
			errno = ENOSPC;
			r = fail_peer(cr, PQX_ERR_IO, "no space left on the receiver");
			goto out;
		}
	}
	/*
	 * Nothing to compare with (no old version, nothing left by an
	 * interrupted run, no dictionary, an empty index), or a tiny file:
	 * the file streams whole and no side builds a tree.
	 */
	f->tiny = size < TINY && !base_ok;
	if (!f->tiny)
		open_index(cr);
	f->stream = f->tiny || again ||
		    (!base_ok && cr->dictfd < 0 &&
			(fresh || (file_size_at(dfd, last) == 0 && file_size_at(dfd, prev_name) == 0)) &&
			!cr->rows_wait && !landed_rows(cr) &&
			(cr->ix == NULL || xfer_index_empty(cr->ix) == 1));
	/*
	 * A small file with an old version here (or what an interrupted run
	 * left) and no shared base is matched in blocks against it, as rsync
	 * does: such files tend to change all over (a rebuilt binary), which
	 * leaves few whole chunks in common, and lists of chunk ids cost more
	 * than the signatures of blocks.
	 */
	if (!f->stream && !base_ok && !fresh && size < XB_FILE_MAX)
		f->oldfd = open_old(dfd, last, prev_name, bc.raw, &f->old_size);
	f->listed = bc.listed && !f->stream && f->oldfd < 0;
	reply[1] = f->stream ? NEED_STREAM : f->oldfd >= 0 ? NEED_BLOCKS : f->listed ? NEED_LISTED : NEED_TREE;
	reply[2] = (uint8_t)base_ok;
	if ((!f->listed && (r = xfer_put(cr->ln, reply, sizeof(reply), 1)) != 0) ||
	    (f->oldfd >= 0 && (r = send_sigs(cr, f->oldfd, f->old_size, size, bc.raw, &f->geom)) != 0))
		goto out;
	/*
	 * While the sender cuts its file, index what we may already hold
	 * (the last file's rows first: it may be one of them).
	 */
	if (!f->stream && f->oldfd < 0) {
		rows_commit(cr);
		cr->size = size; /* the size class its sources are cut in */
		index_sources(cr, path, !fresh, !fresh && file_size_at(dfd, prev_name) > 0 ? f->prev : NULL);
	}
	if (f->listed && ((r = find_listed(cr, f)) != 0 || (r = xfer_put(cr->ln, reply, sizeof(reply), 1)) != 0 ||
			     (r = send_bitmap(cr, &f->lw.x[0])) != 0))
		goto out;
	if ((f->dir = rdir_get(cr, dfd)) == NULL) {
		r = fail_peer(cr, PQX_ERR_IO, "can't open the target directory");
		goto out;
	}
	close(f->fd); /* opened again when its contents come */
	f->fd = -1;
	cr->fl[cr->nfl++] = f;
	return 0;
out:
	tell(cr, r);
	inflight_free(f);
	return r;
}

int xfer_crecv_body(struct xfer_crecv *cr, pqx_buf *v)
{
	uint8_t root[32], want[32], kind;
	const char *path, *part_name, *prev_name;
	struct timespec times[2];
	struct inflight *f;
	pqx_hmac *rh = NULL;
	uint64_t cur = 0;
	int dfd, oldfd, r;

	cr->told = 0;
	if (cr->nfl == 0)
		return fail_peer(cr, PQX_ERR_FORMAT, "unexpected message");
	f = cr->fl[0];
	memmove(cr->fl, cr->fl + 1, --cr->nfl * sizeof(*cr->fl));
	/* The message just read (its kind too) is the first of the contents. */
	cr->pending = *v;
	cr->pending.off--;
	cr->has_pending = 1;
	path = f->path;
	part_name = f->part + f->last;
	prev_name = f->prev + f->last;
	dfd = f->dir->fd;
	oldfd = f->oldfd;
	cr->basefd = f->basefd;
	f->basefd = -1;
	/*
	 * The last file's rows are done before this one's begin. The landed
	 * files go in place when enough have landed, or have waited long enough.
	 */
	rows_done(cr);
	if (!f->stream && oldfd < 0 && !f->listed)
		rows_commit(cr); /* it looks for its chunks in what has landed too */
	if (cr->nlanded > 0 &&
	    (cr->nlanded == LANDED_MAX || f->size >= LANDED_BEFORE_BIG ||
		xc_mono() - cr->landed_t0 > LANDED_WAIT_S) &&
	    (r = flush_landed(cr, 1)) != 0)
		goto out;
	/* The partial file the answer made (closed meanwhile: fewer descriptors in flight). */
	{
		struct stat now;

		if ((cr->fd = openat(dfd, part_name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    fstat(cr->fd, &now) != 0 || now.st_dev != f->sb.st_dev || now.st_ino != f->sb.st_ino) {
			r = fail_peer(cr, PQX_ERR_IO, "can't create the file");
			goto out;
		}
	}
	cr->size = f->size;
	cr->base_size = f->base_size;
	cr->clone_bs = 0;
	cr->tiny = f->tiny;
	if (!f->again) {
		cr->st->files++;
		cr->st->bytes += f->size;
	}
	/* Files that landed since its answer may be sources now. */
	if (cr->ix != NULL)
		cr->ix_empty = xfer_index_empty(cr->ix) == 1;
	cr->norows = 0;
	file_rows(cr, f->part, &f->sb);
	if (f->stream) {
		if ((r = recv_whole(cr, v)) != 0)
			goto out;
		goto done;
	}
	if (oldfd >= 0) {
		if ((r = blocks_file(cr, v, oldfd, &f->geom, path)) < 0)
			goto out;
		if (r == 0)
			goto done;
		if (r == 2) {
			/* Asked for again: the partial file goes (the old version stays). */
			unlinkat(dfd, part_name, 0);
			r = 0;
			goto out;
		}
		/*
		 * 1: the old version held too little of the file: its bytes may
		 * be elsewhere (a rotated log, a moved file). Trees, against
		 * everything the index knows.
		 */
		rows_drop(cr, f->part);
		rows_commit(cr);
		index_sources(cr, path, 1, file_size_at(dfd, prev_name) > 0 ? f->prev : NULL);
		file_rows(cr, f->part, &f->sb);
	}
	if (f->listed) {
		if ((r = recv_listed(cr, f, v)) != 0)
			goto out;
		goto done;
	}
	if ((r = xfer_tree_root_init(cr->wk[0].tree, &rh)) != 0)
		goto out;
	cr->ahead_head = cr->nahead = cr->ahead_nodes = 0;
	for (;;) {
		int level;

		if ((r = next_msg(cr, v, &kind)) != 0)
			goto out;
		if (kind == K_FILE_END)
			break;
		if (kind != K_LIST && kind != K_DATA) {
			r = fail_peer(cr, PQX_ERR_FORMAT, "unexpected message");
			goto out;
		}
		/* The message is read again where it belongs: put it back (with its kind). */
		cr->pending = *v;
		cr->pending.off--;
		cr->has_pending = 1;
		level = kind == K_LIST ? list_level(cr) : -1;
		if (level == 2)
			r = recv_top(cr, &cur, rh);
		else if (cur == 0 && (level == 0 || level == 1))
			r = recv_flat(cr, &cur, rh);
		else if (level == 0 || level == 1)
			r = recv_lower(cr, level, &cur);
		else if (kind == K_DATA)
			r = recv_oldest_data(cr);
		else
			r = fail_peer(cr, PQX_ERR_FORMAT, "invalid chunk list");
		if (r != 0)
			goto out;
	}
	if (pqx_buf_get(v, want, 32) != 0 || pqx_buf_expect_end(v) != 0 || cur != cr->size ||
	    cr->nahead != 0) {
		r = fail_peer(cr, PQX_ERR_FORMAT, "invalid file end");
		goto out;
	}
	if ((r = pqx_hmac_final(rh, root)) != 0)
		goto out;
	if (!pqx_ct_memeq(root, want, 32)) {
		r = fail_peer(cr, PQX_ERR_AUTH, "file hash mismatch");
		goto out;
	}
done:
	times[0] = f->mt;
	times[1] = f->mt;
	if (ftruncate(cr->fd, (off_t)cr->size) != 0 || fchmod(cr->fd, (mode_t)f->mode) != 0 ||
	    futimens(cr->fd, times) != 0) {
		r = fail_peer(cr, PQX_ERR_IO, errno == ENOSPC ? "no space left on the receiver"
							      : "can't finish the file on the receiver");
		goto out;
	}
	/*
	 * FILE_OK goes now; the fsync and the rename wait with the files landed
	 * before it (flush_landed), so that they overlap the sender's work and
	 * the disk sees one batch.
	 */
	land(cr, f);
	f = NULL;
	kind = K_FILE_OK;
	r = xfer_put(cr->ln, &kind, 1, 1);
out:
	tell(cr, r);
	if (f != NULL) {
		finish_cut(cr, 0);
		rows_drop(cr, f->part);
	}
	cr->has_pending = 0;
	pqx_hmac_free(rh);
	if (cr->fd >= 0)
		close(cr->fd);
	cr->fd = -1;
	if (cr->basefd >= 0)
		close(cr->basefd);
	cr->basefd = -1;
	close_backs(cr); /* the file read back: not held past it */
	inflight_free(f);
	return r;
}
