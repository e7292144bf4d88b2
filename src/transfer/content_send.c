/* pqx: file contents, the sender: cut the file, answer the receiver, send what is missing. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "crypto/ossl.h"
#include "transfer/blocks.h"
#include "transfer/content.h"
#include "util/util.h"

/* ---- compression: levels by measured throughput ---- */

/*
 * The sender estimates, per input byte, the time of each choice: raw costs
 * w (seconds per byte on the wire, measured around the writes of records
 * of 16 KiB or more, and at least what --bwlimit allows); zstd at level L
 * costs c_L + r_L * w (compression seconds per byte plus the compressed
 * share on the wire). It sends with
 * the cheapest, and now and then tries a level it is not using to keep the
 * estimates true (less often while trying keeps losing). A forced level
 * (--compress N) always compresses; raw is still sent when it is smaller.
 */
static const int zlevels[] = { 1, 3 };
#define NZ (sizeof(zlevels) / sizeof(zlevels[0]))

struct zctl {
	int mode;      /* -1 auto, 0 off, else a level */
	double w;      /* wire seconds per byte */
	double c[2][NZ], r[2][NZ]; /* [base][level]: seconds per byte, ratio */
	int known[2][NZ];
	unsigned int msgs, probe_every, next_probe;
};

static void zctl_init(struct zctl *z, int mode)
{
	memset(z, 0, sizeof(*z));
	z->mode = mode;
	z->probe_every = 8;
}

/* The level for the next message: 0 for raw. */
static int zctl_pick(struct zctl *z, int base, double floor)
{
	double best;
	int pick = 0;

	/* A --bwlimit is a wire at most that fast, whatever the sends took so far. */
	if (z->w < floor)
		z->w = floor;

	if (z->mode >= 0)
		return z->mode;
	z->msgs++;
	for (size_t i = 0; i < NZ; i++)
		if (!z->known[base][i])
			return zlevels[i]; /* measure each once */
	best = z->w;
	for (size_t i = 0; i < NZ; i++) {
		double t = z->c[base][i] + z->r[base][i] * z->w;

		if (t < best) {
			best = t;
			pick = zlevels[i];
		}
	}
	if (z->msgs >= z->next_probe) {
		z->next_probe = z->msgs + z->probe_every;
		if (pick == 0)
			return zlevels[0];
		if (pick == zlevels[0])
			return zlevels[1];
	}
	return pick;
}

/*
 * Whether data goes raw as things stand: --compress off, or the estimates
 * (those known so far) favour no level. A hint for the receiver (FILE flag
 * 4: it then signs finer blocks), not a promise.
 */
static int zctl_raw(const struct zctl *z, int base, double floor)
{
	double w = z->w < floor ? floor : z->w;

	if (z->mode >= 0)
		return z->mode == 0;
	for (size_t i = 0; i < NZ; i++)
		if (z->known[base][i] && z->c[base][i] + z->r[base][i] * w < w)
			return 0;
	return 1;
}

static void ewma(double *v, double x, int known)
{
	*v = known ? *v * 0.75 + x * 0.25 : x;
}

static void zctl_note(struct zctl *z, int base, int level, double secs, size_t in, size_t out)
{
	for (size_t i = 0; i < NZ; i++) {
		if (zlevels[i] != level)
			continue;
		ewma(&z->c[base][i], secs / (double)in, z->known[base][i]);
		ewma(&z->r[base][i], (double)out / (double)in, z->known[base][i]);
		/* Losing probes come less often (up to every 256 messages). */
		if (z->c[base][i] + z->r[base][i] * z->w >= z->w) {
			if (z->probe_every < 256)
				z->probe_every *= 2;
		} else {
			z->probe_every = 8;
		}
		z->known[base][i] = 1;
	}
}

/* ---- the sender ---- */

/*
 * The sender cuts its file on a thread of its own, up to NSLOT - 1 windows
 * ahead of the exchanges, so that cutting overlaps the receiver's work;
 * the exchanges list up to AHEAD_WINDOWS of them ahead.
 */
#define NSLOT (AHEAD_WINDOWS + 2)

struct slot {
	struct lvl f[XFER_TREE_LEVELS]; /* a window as built: every node */
	struct win w;                   /* its nodes as listed, with their answers */
	int phase;                      /* the level of its list awaiting an answer, or PH_READY */
	int last;                       /* the end of the file (f may be empty) */
};

struct xfer_csend {
	struct xfer_link *ln;
	const struct xfer_opts *o;
	struct xfer_stats *st;
	struct xfer_tree *tree; /* NULL until ACCEPT brings the key (accept_pending) */
	int accept_pending;
	pqx_hmac *root;
	struct slot slot[NSLOT];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t filled, taken; /* slots produced and consumed, counting */
	size_t listed;        /* slots whose level-2 list went (taken <= listed <= filled) */
	int stop, perr;       /* the consumer gave up; the producer's error */
	pqx_buf *b;
	uint8_t *io, *raw, *zbuf, *pfx;
	ZSTD_CCtx *zc, *zs; /* one message against a base; the session's stream */
	int zs_level;       /* the level of the stream's open frame, 0 none */
	struct zctl z;
	struct idcache ids;
	/* block matching: the MAC of the strong sums, the runs found */
	pqx_hmac *bh;
	struct xb_run *runs;
	size_t nruns, capruns;
	uint64_t runs_end;
	struct xb_geom g; /* the blocks SIGS signed */
	int fd, basefd, dictfd; /* dictfd: --dict, opened once */
	uint64_t base_size, size;
	double bw_t0;
	uint64_t bw_bytes;
	/*
	 * The DATA message being filled: raw_len bytes at dst, which is raw (to
	 * be compressed, or sent against a base) or, for raw bytes without a
	 * base, the link's record itself (no copy); level: its zstd level, 0 raw.
	 */
	uint8_t *dst;
	size_t raw_len, raw_cap; /* raw_cap: at most DATA_RAW_MAX, less in a record's room */
	int level;
	uint64_t raw_off, raw_next; /* file offset of dst[0], of the byte after */
	/*
	 * Entries go out up to XFER_AHEAD ahead of the contents: the files
	 * offered (of; the first nans have their answer), then the files whose
	 * contents went, until FILE_OK (sent, from sent_head). A file matched
	 * in blocks may get AGAIN instead: it joins redo, sent again whole at
	 * the end. last_reused: what the last contents reused.
	 */
	struct offer *of[XFER_AHEAD];
	size_t nof, nans;
	struct xfer_redo *sent, *redo;
	size_t nsent, sent_head, capsent, nredo, capredo;
	uint64_t last_reused;
	int hint;       /* the last answer to a file of TINY bytes or more, -1 none yet */
	int raw_only;   /* the contents being sent go uncompressed (an eager file's, unless forced) */
	int streamed;   /* listed files answered "stream" in a row: past STREAMED_MAX, streams no longer list */
};

/* A file offered: its FILE entry went; its answer (state, and SIGS for blocks) once read. */
struct offer {
	int fd, basefd, state, again;
	uint64_t base_size;
	char *path;
	struct stat sb;
	uint8_t *sigs; /* the SIGS message after its kind */
	size_t sigs_len;
	/* listed: its chunks went with the entry (every node, the chunks' answers once read) */
	int listed;
	int eager; /* its contents went with the entry (send_eager) */
	struct win lw;
	uint8_t root[32];
};

/* A file whose contents went (fd kept for a file matched in blocks: it may be asked for again). */
struct xfer_redo {
	int fd;
	char *path;
	struct stat sb;
	uint64_t reused;
};

static void offer_free(struct offer *e)
{
	if (e == NULL)
		return;
	if (e->fd >= 0)
		close(e->fd);
	if (e->basefd >= 0)
		close(e->basefd);
	free(e->path);
	pqx_free(e->sigs);
	xc_win_free(&e->lw);
	free(e);
}

static void redo_free(struct xfer_redo *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
}

void xfer_csend_free(struct xfer_csend *cs)
{
	if (cs == NULL)
		return;
	for (size_t i = 0; i < cs->nof; i++)
		offer_free(cs->of[i]);
	for (size_t i = cs->sent_head; i < cs->nsent; i++)
		redo_free(&cs->sent[i]);
	for (size_t i = 0; i < cs->nredo; i++)
		redo_free(&cs->redo[i]);
	free(cs->sent);
	free(cs->redo);
	xfer_tree_free(cs->tree);
	pqx_hmac_free(cs->root);
	pqx_hmac_free(cs->bh);
	pqx_free(cs->runs);
	for (int i = 0; i < NSLOT; i++) {
		for (int l = 0; l < XFER_TREE_LEVELS; l++)
			xc_lvl_free(&cs->slot[i].f[l]);
		xc_win_free(&cs->slot[i].w);
	}
	pthread_mutex_destroy(&cs->mu);
	pthread_cond_destroy(&cs->cv);
	pqx_buf_free(cs->b);
	pqx_free(cs->io);
	pqx_free(cs->raw);
	pqx_free(cs->zbuf);
	pqx_free(cs->pfx);
	ZSTD_freeCCtx(cs->zc);
	ZSTD_freeCCtx(cs->zs);
	if (cs->basefd >= 0)
		close(cs->basefd);
	if (cs->dictfd >= 0)
		close(cs->dictfd);
	pqx_free(cs);
}

int xfer_csend_new(struct xfer_csend **out, struct xfer_link *ln, const struct xfer_opts *o,
    struct xfer_stats *st)
{
	struct xfer_csend *cs = pqx_calloc(1, sizeof(*cs));

	*out = NULL;
	if (cs == NULL)
		return PQX_ERR_NOMEM;
	cs->ln = ln;
	cs->o = o;
	cs->st = st;
	cs->basefd = cs->dictfd = -1;
	cs->hint = -1;
	pthread_mutex_init(&cs->mu, NULL);
	pthread_cond_init(&cs->cv, NULL);
	zctl_init(&cs->z, o != NULL ? o->compress : -1);
	cs->accept_pending = o->accept_pending;
	if ((!cs->accept_pending && (cs->tree = xfer_tree_new(o->key, 2)) == NULL) ||
	    (cs->b = pqx_buf_new(MSG_MAX)) == NULL ||
	    (cs->io = pqx_malloc(IO_BYTES)) == NULL || (cs->raw = pqx_malloc(DATA_RAW_MAX)) == NULL ||
	    (cs->zbuf = pqx_malloc(ZBUF)) == NULL || (cs->zc = ZSTD_createCCtx()) == NULL ||
	    (cs->zs = ZSTD_createCCtx()) == NULL) {
		xfer_csend_free(cs);
		return PQX_ERR_NOMEM;
	}
	if (o->dict_dir != NULL &&
	    (cs->dictfd = open(o->dict_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		xfer_warn(o, "can't open the dictionary directory; going on without it", o->dict_dir);
	cs->dst = cs->raw;
	*out = cs;
	return 0;
}

/* The shared base for path in the dictionary (the same relative path): its fd and size, or -1. */
static int find_base(struct xfer_csend *cs, const char *path, uint64_t *size)
{
	struct stat sb;
	int fd;

	if (cs->dictfd < 0 || (fd = xfer_open_file(cs->dictfd, path)) < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || sb.st_size <= 0 ||
	    (cs->pfx == NULL && (cs->pfx = pqx_malloc(PREFIX_MAX)) == NULL)) {
		close(fd);
		return -1;
	}
	*size = (uint64_t)sb.st_size;
	return fd;
}

/* A growable list of files: room for one more, or PQX_ERR_NOMEM. */
static int redo_room(struct xfer_redo **v, size_t n, size_t *cap)
{
	struct xfer_redo *nv;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 16;
	if ((nv = realloc(*v, c * sizeof(*nv))) == NULL)
		return PQX_ERR_NOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

/* NEED for the first file offered without an answer (SIGS follows NEED 3). */
static int take_need(struct xfer_csend *cs, pqx_buf *v)
{
	struct offer *e = cs->nans < cs->nof ? cs->of[cs->nans] : NULL;
	uint8_t state, base_ok, kind;
	int r;

	if (e == NULL || pqx_buf_get_u8(v, &state) != 0 || pqx_buf_get_u8(v, &base_ok) != 0 ||
	    state > NEED_LISTED || base_ok > (e->basefd >= 0) || pqx_buf_expect_end(v) != 0 ||
	    (e->again && state != NEED_STREAM) || /* once more, whole */
	    (state == NEED_BLOCKS && (uint64_t)e->sb.st_size >= XB_FILE_MAX) || /* blocks only for a small file */
	    (state == NEED_LISTED && !e->listed) ||
	    (e->eager && state != NEED_SKIP && state != NEED_STREAM))
		return PQX_ERR_FORMAT;
	e->state = state;
	if (e->eager && state == NEED_SKIP) {
		/*
		 * Its contents were dropped: no FILE_OK comes. Nothing went after
		 * them (no file ahead of it, and those behind wait for it), so its
		 * record is the last.
		 */
		if (cs->nsent == cs->sent_head)
			return PQX_ERR_FORMAT;
		redo_free(&cs->sent[--cs->nsent]);
		cs->st->skipped++;
	}
	if ((uint64_t)e->sb.st_size >= TINY) {
		cs->hint = state;
		if (state == NEED_STREAM && e->listed)
			cs->streamed++;
		else if (state == NEED_TREE || state == NEED_LISTED)
			cs->streamed = 0;
	}
	if (state == NEED_LISTED) {
		/* The answers for its chunks follow. */
		if ((r = xfer_expect(cs->ln, v, K_BITMAP)) != 0 ||
		    (r = xc_get_bitmap(v, &e->lw.x[0], 0, cs->st)) != 0)
			return r;
	}
	if (!base_ok && e->basefd >= 0) {
		close(e->basefd);
		e->basefd = -1;
	}
	if (state == NEED_BLOCKS) {
		if ((r = xfer_recv_msg(cs->ln, v, &kind)) != 0)
			return r;
		/* Checked in full later (send_blocks); held until then, so bounded now. */
		if (kind != K_SIGS || pqx_buf_len(v) > XB_SIGS_BYTES_MAX)
			return PQX_ERR_FORMAT;
		e->sigs_len = v->size - v->off;
		if ((e->sigs = pqx_malloc(e->sigs_len + 1)) == NULL)
			return PQX_ERR_NOMEM;
		memcpy(e->sigs, v->d + v->off, e->sigs_len);
	}
	cs->nans++;
	return 0;
}

/* FILE_OK or AGAIN for the oldest file whose contents went. */
static int take_end(struct xfer_csend *cs, pqx_buf *v, uint8_t kind)
{
	struct xfer_redo d;
	int r;

	if (cs->sent_head == cs->nsent || pqx_buf_expect_end(v) != 0)
		return PQX_ERR_FORMAT;
	d = cs->sent[cs->sent_head++];
	if (cs->sent_head == cs->nsent) {
		cs->sent_head = cs->nsent = 0;
	} else if (cs->sent_head >= 64 && 2 * cs->sent_head >= cs->nsent) {
		/* Answers stay about XFER_AHEAD behind: the list keeps its size, not the session's. */
		memmove(cs->sent, cs->sent + cs->sent_head, (cs->nsent - cs->sent_head) * sizeof(*cs->sent));
		cs->nsent -= cs->sent_head;
		cs->sent_head = 0;
	}
	if (kind == K_FILE_OK) {
		redo_free(&d);
		return 0;
	}
	/* AGAIN: the blocks did not make the file (sums that agreed on other bytes): whole, at the end. */
	if (d.fd < 0 || cs->nredo == XFER_REDO_MAX || (r = redo_room(&cs->redo, cs->nredo, &cs->capredo)) != 0) {
		r = d.fd < 0 ? PQX_ERR_FORMAT : cs->nredo == XFER_REDO_MAX ? PQX_ERR_LIMIT : PQX_ERR_NOMEM;
		redo_free(&d);
		return r;
	}
	cs->st->bytes_reused -= d.reused; /* moved counts both tries: both crossed */
	cs->redo[cs->nredo++] = d;
	return 0;
}

/*
 * ACCEPT, when the request went without waiting for it: it comes before
 * any answer, with the pair's chunking key, which nothing sent before an
 * answer needs (entries list chunks only after one).
 */
static int take_accept(struct xfer_csend *cs)
{
	uint8_t key[XFER_KEY_BYTES];
	pqx_buf v;
	int r;

	if ((r = xfer_expect(cs->ln, &v, K_ACCEPT)) != 0)
		return r;
	if (pqx_buf_get(&v, key, sizeof(key)) != 0 || pqx_buf_expect_end(&v) != 0)
		return PQX_ERR_FORMAT;
	cs->tree = xfer_tree_new(key, 2);
	pqx_wipe(key, sizeof(key));
	if (cs->tree == NULL)
		return PQX_ERR_NOMEM;
	cs->accept_pending = 0;
	return 0;
}

/*
 * The receiver's next message: an answer to an entry or a file's end
 * (taken here), else it must be want (returned in v). want 0: one message,
 * whatever it is.
 */
static int recv_answer(struct xfer_csend *cs, uint8_t want, pqx_buf *v)
{
	uint8_t kind;
	int r;

	if (cs->accept_pending) {
		if ((r = take_accept(cs)) != 0)
			return r;
		/* A message taken: the caller asks again if it must wait for an answer. */
		if (want == 0)
			return 0;
	}
	for (;;) {
		if ((r = xfer_recv_msg(cs->ln, v, &kind)) != 0)
			return r;
		if (kind == K_NEED)
			r = take_need(cs, v);
		else if (kind == K_FILE_OK || kind == K_AGAIN)
			r = take_end(cs, v, kind);
		else
			return want != 0 && kind == want ? 0 : PQX_ERR_FORMAT;
		if (r != 0 || want == 0)
			return r;
	}
}

/* Takes the answers that have come, without waiting for more. */
static int take_ready(struct xfer_csend *cs)
{
	pqx_buf v;
	int r = 0;

	while (r == 0 && (cs->nans < cs->nof || cs->sent_head < cs->nsent) && xfer_link_ready(cs->ln))
		r = recv_answer(cs, 0, &v);
	return r;
}

#define STREAMED_MAX 128

static int on_listed(void *ctx, const struct xfer_node *n)
{
	struct offer *e = ctx;

	if (n->level == 0 && e->lw.x[0].n == FLAT_MAX)
		return 1; /* too many chunks to list: not an error */
	return xc_lvl_push(&e->lw.x[n->level], n);
}

/*
 * Lists a small file's chunks with its entry (e->listed), so that the
 * receiver answers for them with NEED and the comparison costs no round
 * trip of its own. Only once the last answer to a file that was not tiny
 * compared or streamed it: before any answer, or after one that skipped
 * the file or matched blocks (an update, where most files are there or
 * have an old version), a list would likely be wasted; so it would after
 * "stream" once more than STREAMED_MAX listed files in a row were streamed
 * (a receiver without an index: one whose index is empty streams too, but
 * only until the first files land), until an answer compares again. And
 * only for a file of at most LISTED_BYTES and FLAT_MAX chunks. Its bytes are read again
 * when they cross; its stat (sb) checked before that says whether they are
 * still these.
 */
static int list_chunks(struct xfer_csend *cs, struct offer *e)
{
	uint64_t size = (uint64_t)e->sb.st_size, off = 0;
	pqx_hmac *h = NULL;
	int r = 0;

	if (size < TINY || size > LISTED_BYTES || cs->hint < 0 || cs->hint == NEED_SKIP ||
	    cs->hint == NEED_BLOCKS || (cs->hint == NEED_STREAM && cs->streamed > STREAMED_MAX))
		return 0;
	xc_win_reset(&e->lw);
	xfer_tree_size(cs->tree, size);
	xfer_tree_start(cs->tree, 0, 2, on_listed, e);
	while (r == 0 && off < size) {
		size_t n = size - off < IO_BYTES ? (size_t)(size - off) : IO_BYTES;

		if ((r = xc_pread_all(e->fd, cs->io, n, off)) == 0)
			r = xfer_tree_update(cs->tree, cs->io, n);
		off += n;
	}
	if (r == 0)
		r = xfer_tree_finish(cs->tree);
	if (r == 1 || r == PQX_ERR_TRUNCATED)
		return 0; /* too many chunks, or it shrank: offered plain */
	if (r == 0 && (r = xfer_tree_root_init(cs->tree, &h)) == 0) {
		for (size_t i = 0; r == 0 && i < e->lw.x[2].n; i++)
			r = pqx_hmac_update(h, e->lw.x[2].v[i].id, XFER_ID_BYTES);
		if (r == 0)
			r = pqx_hmac_final(h, e->root);
	}
	pqx_hmac_free(h);
	if (r != 0)
		return r;
	xc_win_flat(&e->lw);
	e->listed = 1;
	return 0;
}

static int send_file(struct xfer_csend *cs, struct offer *e);

/*
 * The contents of e as its state asks, against its base if it has one;
 * then its record, until its FILE_OK (a file matched in blocks keeps its
 * fd: it may be asked for again). The path moves to the record.
 */
static int send_contents(struct xfer_csend *cs, struct offer *e)
{
	struct xfer_redo *d;
	int r;

	if (cs->basefd >= 0)
		close(cs->basefd);
	cs->basefd = e->basefd;
	cs->base_size = e->base_size;
	e->basefd = -1;
	if ((r = send_file(cs, e)) != 0 || (r = redo_room(&cs->sent, cs->nsent, &cs->capsent)) != 0)
		return r;
	d = &cs->sent[cs->nsent++];
	d->fd = e->state == NEED_BLOCKS ? e->fd : -1;
	d->path = e->path;
	d->sb = e->sb;
	d->reused = cs->last_reused;
	if (d->fd >= 0)
		e->fd = -1;
	e->path = NULL;
	return 0;
}

/*
 * The contents of an eager file, right after its entry, as its answer
 * would ask (stream), raw unless --compress forces a level: measuring a
 * level on under TINY bytes (zstd's first use: about 0.1 ms) would cost
 * more time than they take on the wire. Its FILE_OK comes later as any
 * file's; a receiver that answers "identical" drops them.
 */
static int send_eager(struct xfer_csend *cs, struct offer *e)
{
	int r;

	e->state = NEED_STREAM;
	cs->raw_only = cs->z.mode < 0;
	r = send_contents(cs, e);
	cs->raw_only = 0;
	if (r == 0) {
		cs->st->files++;
		cs->st->bytes += (uint64_t)e->sb.st_size;
	}
	return r;
}

/* The oldest file offered: its answer, then its contents. */
static int run_head(struct xfer_csend *cs)
{
	struct offer *e = cs->of[0];
	pqx_buf v;
	int r;

	while (cs->nans == 0)
		if ((r = recv_answer(cs, 0, &v)) != 0)
			return r;
	memmove(cs->of, cs->of + 1, --cs->nof * sizeof(*cs->of));
	cs->nans--;
	if (e->eager) {
		offer_free(e); /* counted, and its contents went, with its entry */
		return 0;
	}
	if (!e->again) {
		cs->st->files++;
		cs->st->bytes += (uint64_t)e->sb.st_size;
	}
	if (e->state == NEED_SKIP) {
		cs->st->skipped++;
		offer_free(e);
		return 0;
	}
	r = send_contents(cs, e); /* its FILE_OK comes with a later answer */
	offer_free(e);
	return r;
}

int xfer_csend_offer(struct xfer_csend *cs, pqx_buf *b, int fd, const char *path, const struct stat *sb,
    int again)
{
	uint8_t bh[32], flags;
	struct offer *e;
	int r;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return PQX_ERR_NOMEM;
	e->again = again;
	e->sb = *sb;
	e->basefd = find_base(cs, path, &e->base_size);
	if (e->basefd >= 0 && xc_base_id(&cs->ids, e->basefd, bh, cs->io) != 0) {
		close(e->basefd);
		e->basefd = -1;
	}
	if ((e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 || (e->path = strdup(path)) == NULL) {
		offer_free(e);
		return PQX_ERR_NOMEM;
	}
	/* The answers that came meanwhile: the last of them guides the listing. */
	if ((r = take_ready(cs)) != 0) {
		offer_free(e);
		return r;
	}
	if (!again && e->basefd < 0 && (r = list_chunks(cs, e)) != 0) {
		offer_free(e);
		return r;
	}
	cs->z.w = xfer_link_wire(cs->ln);
	/*
	 * A tiny file (which the receiver streams or skips) with no file ahead
	 * of it awaiting its contents sends them at once: one round trip less
	 * for a small file sent alone, or the first of many.
	 */
	e->eager = !again && e->basefd < 0 && !e->listed && (uint64_t)sb->st_size < TINY && cs->nof == 0;
	flags = (uint8_t)((e->basefd >= 0 ? FILE_BASE : 0) | (again ? FILE_AGAIN : 0) |
	    (e->listed ? FILE_LISTED : 0) | (e->eager ? FILE_EAGER : 0));
	if (zctl_raw(&cs->z, e->basefd >= 0, cs->o->bwlimit ? 1.0 / (double)cs->o->bwlimit : 0.0))
		flags |= FILE_RAW;
	if ((r = pqx_buf_put_u8(b, flags)) != 0 ||
	    (e->basefd >= 0 && ((r = xfer_put_str(b, path, strlen(path))) != 0 ||
				   (r = pqx_buf_put_u64(b, e->base_size)) != 0 ||
				   (r = pqx_buf_put(b, bh, 32)) != 0))) {
		offer_free(e);
		return r;
	}
	if (e->listed) {
		const struct lvl *c = &e->lw.x[0];

		/* Padded as a LIST is: record sizes do not tell chunk counts. */
		r = pqx_buf_put_u8(b, (uint8_t)(c->n - 1));
		for (size_t i = 0; r == 0 && i < c->n; i++)
			if ((r = pqx_buf_put(b, c->v[i].id, XFER_ID_BYTES)) == 0)
				r = pqx_buf_put_u16(b, (uint16_t)(c->v[i].len - 1));
	}
	if (r != 0 || (r = e->listed ? xfer_send_padded(cs->ln, b, PAD) : xfer_send_buf(cs->ln, b)) != 0 ||
	    (e->eager && (r = send_eager(cs, e)) != 0)) {
		offer_free(e);
		return r;
	}
	cs->of[cs->nof++] = e;
	while (r == 0 && cs->nof == XFER_AHEAD)
		r = run_head(cs);
	return r;
}

/* Whether a file sent may still be asked for again: one matched in blocks, not yet answered. */
static int may_come_again(const struct xfer_csend *cs)
{
	for (size_t i = cs->sent_head; i < cs->nsent; i++)
		if (cs->sent[i].fd >= 0)
			return 1;
	return 0;
}

int xfer_csend_finish(struct xfer_csend *cs)
{
	pqx_buf v;
	int r = 0;

	/* An eager file alone (its contents went) needs no answer before END: drain takes it. */
	while (r == 0 && cs->nof > 0 && !(cs->nof == 1 && cs->of[0]->eager))
		r = run_head(cs);
	while (r == 0 && may_come_again(cs))
		r = recv_answer(cs, 0, &v);
	return r;
}

int xfer_csend_drain(struct xfer_csend *cs)
{
	pqx_buf v;
	int r = cs->accept_pending ? take_accept(cs) : 0;

	while (r == 0 && cs->sent_head < cs->nsent)
		r = recv_answer(cs, 0, &v);
	return r;
}

int xfer_csend_take_redo(struct xfer_csend *cs, int *fd, char **path, struct stat *sb)
{
	if (cs->nredo == 0)
		return 0;
	cs->nredo--;
	*fd = cs->redo[cs->nredo].fd;
	*path = cs->redo[cs->nredo].path;
	*sb = cs->redo[cs->nredo].sb;
	return 1;
}

/* Waits as --bwlimit asks before n more bytes go out. */
static void bw_wait(struct xfer_csend *cs, size_t n)
{
	double ahead;

	if (cs->o->bwlimit == 0)
		return;
	if (cs->bw_bytes == 0)
		cs->bw_t0 = xc_mono(); /* the limit counts from the first byte */
	cs->bw_bytes += n;
	ahead = (double)cs->bw_bytes / (double)cs->o->bwlimit - (xc_mono() - cs->bw_t0);
	if (ahead > 0) {
		struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

/*
 * Compresses raw[0..n) into zbuf as the next part of the session's stream
 * (codec 1): one zstd stream for the whole session, flushed after every
 * message, so that each file's bytes are compressed with what came before
 * (the many small files of a tree have much in common). A change of level
 * ends the open frame (its last bytes lead this message) and starts
 * another. Returns the size; once compressed, the bytes must be sent.
 */
static int zstream(struct xfer_csend *cs, int level, size_t n, size_t *zn)
{
	ZSTD_outBuffer out = { cs->zbuf, ZBUF, 0 };
	ZSTD_inBuffer in = { cs->raw, n, 0 }, none = { NULL, 0, 0 };
	size_t left;

	if (cs->zs_level != level) {
		if (cs->zs_level != 0) {
			do
				left = ZSTD_compressStream2(cs->zs, &out, &none, ZSTD_e_end);
			while (!ZSTD_isError(left) && left != 0 && out.pos < out.size);
			if (left != 0) /* an error, or no room: the frame can't end */
				return PQX_ERR_INTERNAL;
		}
		ZSTD_CCtx_reset(cs->zs, ZSTD_reset_session_and_parameters);
		if (ZSTD_isError(ZSTD_CCtx_setParameter(cs->zs, ZSTD_c_compressionLevel, level)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(cs->zs, ZSTD_c_windowLog, ZSTREAM_WLOG)))
			return PQX_ERR_INTERNAL;
		cs->zs_level = level;
	}
	do
		left = ZSTD_compressStream2(cs->zs, &out, &in, ZSTD_e_flush);
	while (!ZSTD_isError(left) && left != 0 && out.pos < out.size);
	if (ZSTD_isError(left) || left != 0)
		return PQX_ERR_INTERNAL; /* the stream can't go on: the transfer can't */
	*zn = out.pos;
	return 0;
}

/*
 * Compresses raw[0..n) at level into zbuf: against the base around the same
 * offsets (codec 2) where there is one, else as the stream's next part.
 * *zn: the size, or 0 to send it raw.
 */
static int compress(struct xfer_csend *cs, int level, size_t n, uint64_t *poff, size_t *plen,
    size_t *zn)
{
	double t = xc_mono();
	int r;

	*poff = 0;
	*plen = 0;
	*zn = 0;
	if (cs->basefd >= 0) {
		/* The prefix zstd may copy from. */
		*poff = cs->raw_off > PREFIX_MARGIN ? cs->raw_off - PREFIX_MARGIN : 0;
		if (*poff < cs->base_size)
			*plen = cs->base_size - *poff < PREFIX_MAX ? (size_t)(cs->base_size - *poff) : PREFIX_MAX;
		if (*plen > 0 && xc_pread_all(cs->basefd, cs->pfx, *plen, *poff) != 0)
			*plen = 0;
	}
	if (*plen == 0) {
		if ((r = zstream(cs, level, n, zn)) != 0)
			return r;
		zctl_note(&cs->z, 0, level, xc_mono() - t, n, *zn < n ? *zn : n);
		return 0;
	}
	ZSTD_CCtx_reset(cs->zc, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cs->zc, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cs->zc, ZSTD_c_windowLog, 22)) ||
	    ZSTD_isError(ZSTD_CCtx_refPrefix(cs->zc, cs->pfx, *plen)))
		return 0;
	*zn = ZSTD_compress2(cs->zc, cs->zbuf, ZBUF, cs->raw, n);
	if (ZSTD_isError(*zn)) {
		*zn = 0;
		return 0;
	}
	zctl_note(&cs->z, 1, level, xc_mono() - t, n, *zn < n ? *zn : n);
	if (*zn + *zn / 32 >= n)
		*zn = 0; /* not worth it: raw */
	return 0;
}

/* DATA's fixed head: kind, codec, raw_len; then, against a base, prefix_off and prefix_len. */
#define DATA_HEAD 6u
#define DATA_HEAD_BASE (DATA_HEAD + 12u)

/*
 * A DATA message begins at file offset off, left bytes of the node in hand:
 * its level is picked now. Raw bytes without a base are read straight into
 * the link's record, the message then capped at what the record has room
 * for: a record shares its room as before (the DATA of many small files
 * in one), and one too full for those left bytes goes first.
 */
static int data_begin(struct xfer_csend *cs, uint64_t off, uint64_t left)
{
	size_t room, want = left < DATA_RAW_MAX ? (size_t)left : DATA_RAW_MAX;
	uint8_t *p;
	int r;

	cs->raw_off = off;
	cs->z.w = xfer_link_wire(cs->ln);
	cs->level = cs->raw_only ? 0
				 : zctl_pick(&cs->z, cs->basefd >= 0, cs->o->bwlimit ? 1.0 / (double)cs->o->bwlimit : 0.0);
	cs->dst = cs->raw;
	cs->raw_cap = DATA_RAW_MAX;
	if (cs->level == 0 && cs->basefd < 0) {
		room = xfer_link_room(cs->ln);
		if (room < DATA_HEAD + want || room > DATA_HEAD + DATA_RAW_MAX)
			room = DATA_HEAD + DATA_RAW_MAX;
		if ((p = xfer_put_room(cs->ln, room, &r)) == NULL)
			return r;
		cs->dst = p + DATA_HEAD;
		cs->raw_cap = room - DATA_HEAD;
	}
	return 0;
}

/* Sends the DATA message filled so far. */
static int flush_data(struct xfer_csend *cs)
{
	size_t raw = cs->raw_len, body = raw, head = DATA_HEAD, plen = 0, zn = 0;
	int codec = CODEC_RAW, r;
	uint64_t poff = 0;
	uint8_t *p;

	if (raw == 0)
		return 0;
	if (cs->dst != cs->raw) {
		p = cs->dst - DATA_HEAD; /* in the record already */
	} else {
		if (cs->level > 0 && (r = compress(cs, cs->level, raw, &poff, &plen, &zn)) != 0)
			return r;
		if (zn > 0) {
			codec = plen > 0 ? CODEC_ZSTD_BASE : CODEC_ZSTD;
			body = zn;
		}
		if (codec == CODEC_ZSTD_BASE)
			head = DATA_HEAD_BASE;
		if ((p = xfer_put_room(cs->ln, head + body, &r)) == NULL)
			return r;
		memcpy(p + head, codec == CODEC_RAW ? cs->raw : cs->zbuf, body);
	}
	p[0] = K_DATA;
	p[1] = (uint8_t)codec;
	pqx_store32_be(p + 2, (uint32_t)raw);
	if (codec == CODEC_ZSTD_BASE) {
		pqx_store64_be(p + DATA_HEAD, poff);
		pqx_store32_be(p + DATA_HEAD + 8, (uint32_t)plen);
	}
	cs->st->bytes_data += head + body;
	cs->raw_len = 0;
	cs->dst = cs->raw;
	bw_wait(cs, head + body);
	return xfer_put_end(cs->ln, head + body, PAD);
}

/* Queues the bytes of one node for sending. */
static int send_item(void *ctx, const struct xfer_node *n)
{
	struct xfer_csend *cs = ctx;
	uint64_t off = n->off, left = n->len;
	int r;

	cs->st->bytes_moved += n->len;
	while (left > 0) {
		size_t k;

		/* A delta's prefix is chosen by offset: keep each message one run. */
		if (cs->raw_len > 0 && (cs->raw_len == cs->raw_cap || (cs->basefd >= 0 && off != cs->raw_next)))
			if ((r = flush_data(cs)) != 0)
				return r;
		if (cs->raw_len == 0 && (r = data_begin(cs, off, left)) != 0)
			return r;
		k = cs->raw_cap - cs->raw_len;
		if (k > left)
			k = (size_t)left;
		if ((r = xc_pread_all(cs->fd, cs->dst + cs->raw_len, k, off)) != 0)
			return r;
		cs->raw_len += k;
		off += k;
		left -= k;
		cs->raw_next = off;
		if (cs->o->progress != NULL && cs->raw_len == cs->raw_cap)
			cs->o->progress(cs->o->progress_ctx, cs->st->bytes - cs->size + off, cs->st->bytes_moved);
	}
	return 0;
}

/* Expands the NEED nodes of level l + 1 into their children from the full level f. */
static int expand(struct slot *sl, int l)
{
	struct lvl *up = &sl->w.x[l + 1], *out = &sl->w.x[l], *all = &sl->f[l];
	size_t c = 0;
	int r;

	out->n = 0;
	/* The full children of each listed parent follow in order; skip the rest. */
	for (size_t i = 0; i < up->n; i++) {
		const struct xfer_node *p = &up->v[i];
		size_t k = 0;

		while (c < all->n && all->v[c].off < p->off)
			c++;
		while (c < all->n && all->v[c].off < p->off + p->len) {
			if (up->st[i] == ST_NEED && (r = xc_lvl_push(out, &all->v[c])) != 0)
				return r;
			k++;
			c++;
		}
		up->nch[i] = up->st[i] == ST_NEED ? (uint32_t)k : 0;
	}
	return 0;
}

/* The receiver's BITMAP for the nodes of l (answers to later entries may come first). */
static int get_bitmap(struct xfer_csend *cs, struct lvl *l, int level)
{
	pqx_buf v;
	int r;

	cs->st->lists++;
	if ((r = recv_answer(cs, K_BITMAP, &v)) != 0)
		return r;
	return xc_get_bitmap(&v, l, level, cs->st);
}

enum { PH_READY = -1 };

/*
 * Lists the nodes of level l of a window: with parents, the children of
 * the NEED nodes above; without, level 2 or a flat list.
 */
static int send_list(struct xfer_csend *cs, struct slot *sl, int l, int parents)
{
	int r;

	pqx_buf_reset(cs->b);
	if ((r = xc_put_list(cs->b, parents ? &sl->w.x[l + 1] : NULL, &sl->w.x[l], l)) != 0)
		return r;
	return xfer_send_padded(cs->ln, cs->b, PAD);
}

/*
 * After the answers to a window's nodes of level l: the list of the
 * children of those the receiver lacks (phase l - 1), or none left
 * (PH_READY: its bytes still missing can go).
 */
static int advance(struct xfer_csend *cs, struct slot *sl, int l)
{
	int r;

	sl->phase = PH_READY;
	if (l == 0)
		return 0;
	if ((r = expand(sl, l - 1)) != 0)
		return r;
	if (sl->w.x[l - 1].n == 0)
		return 0;
	sl->phase = l - 1;
	return send_list(cs, sl, l - 1, 1);
}

/* A window's bytes still missing, in file order. */
static int send_bytes(struct xfer_csend *cs, struct slot *sl)
{
	const struct lvl *top = &sl->w.x[2];
	int r;

	if ((r = xc_win_items(&sl->w, send_item, cs)) != 0 || (r = flush_data(cs)) != 0)
		return r;
	if (cs->o->progress != NULL && top->n > 0)
		cs->o->progress(cs->o->progress_ctx, cs->st->bytes - cs->size + top->v[top->n - 1].off +
		    top->v[top->n - 1].len, cs->st->bytes_moved);
	return 0;
}

/*
 * The file's only window with the lowest level of at most FLAT_MAX nodes
 * (top): those are listed at once, flat, every node above them counts as
 * expanded, and the rest follows with no other window in flight.
 */
static int send_flat(struct xfer_csend *cs, struct slot *sl, int top)
{
	struct win *w = &sl->w;
	int r;

	if (sl->f[2].n == 0)
		return 0; /* an empty file */
	xc_win_reset(w);
	for (int l = top; l < XFER_TREE_LEVELS; l++)
		for (size_t i = 0; i < sl->f[l].n; i++)
			if ((r = xc_lvl_push(&w->x[l], &sl->f[l].v[i])) != 0)
				return r;
	for (size_t i = 0; i < w->x[2].n; i++)
		if ((r = pqx_hmac_update(cs->root, w->x[2].v[i].id, XFER_ID_BYTES)) != 0)
			return r;
	xc_win_flat(w);
	if ((r = send_list(cs, sl, top, 0)) != 0)
		return r;
	for (sl->phase = top; sl->phase != PH_READY;)
		if ((r = get_bitmap(cs, &w->x[sl->phase], sl->phase)) != 0 ||
		    (r = advance(cs, sl, sl->phase)) != 0)
			return r;
	return send_bytes(cs, sl);
}

/* The most nodes the receiver may hold for a window: every node of it. */
static size_t slot_nodes(const struct slot *sl)
{
	return sl->f[0].n + sl->f[1].n + sl->f[2].n;
}

/* Hands the filled slot to the sender and waits for a free one. */
static int publish(struct xfer_csend *cs, int last)
{
	int r;

	pthread_mutex_lock(&cs->mu);
	cs->slot[cs->filled % NSLOT].last = last;
	cs->filled++;
	pthread_cond_broadcast(&cs->cv);
	while (!cs->stop && cs->filled - cs->taken >= NSLOT - 1)
		pthread_cond_wait(&cs->cv, &cs->mu);
	r = cs->stop ? PQX_ERR_CLOSED : 0;
	pthread_mutex_unlock(&cs->mu);
	if (r == 0)
		for (int l = 0; l < XFER_TREE_LEVELS; l++)
			cs->slot[cs->filled % NSLOT].f[l].n = 0;
	return r;
}

static int on_node(void *ctx, const struct xfer_node *n)
{
	struct xfer_csend *cs = ctx;
	struct lvl *f = cs->slot[cs->filled % NSLOT].f; /* only this thread moves filled */
	int r;

	if ((r = xc_lvl_push(&f[n->level], n)) != 0)
		return r;
	if (n->level == 2 && (f[0].n >= WIN_CHUNKS || n->off + n->len - f[2].v[0].off >= WIN_BYTES))
		return publish(cs, 0);
	return 0;
}

/* The producer: cuts the whole file into windows. */
static void *cut_file(void *arg)
{
	struct xfer_csend *cs = arg;
	int r;

	for (int l = 0; l < XFER_TREE_LEVELS; l++)
		cs->slot[0].f[l].n = 0;
	xfer_tree_size(cs->tree, cs->size);
	xfer_tree_start(cs->tree, 0, 2, on_node, cs);
	if ((r = xfer_tree_file(cs->tree, cs->fd, 0, cs->size, 0)) == 0)
		r = publish(cs, 1);
	if (r != 0) {
		pthread_mutex_lock(&cs->mu);
		cs->perr = r;
		pthread_cond_broadcast(&cs->cv);
		pthread_mutex_unlock(&cs->mu);
	}
	return NULL;
}

/*
 * The next window to list, from the producer: 1 if there is one, 0 if none
 * is cut yet (and wait is 0), or the producer's error.
 */
static int next_window(struct xfer_csend *cs, int wait)
{
	int r;

	pthread_mutex_lock(&cs->mu);
	while (wait && cs->listed == cs->filled && cs->perr == 0)
		pthread_cond_wait(&cs->cv, &cs->mu);
	r = cs->listed < cs->filled ? 1 : cs->perr;
	pthread_mutex_unlock(&cs->mu);
	return r;
}

/* The oldest window is done with (or, with stop, all are): the producer may reuse its slot. */
static void release_window(struct xfer_csend *cs, int stop)
{
	pthread_mutex_lock(&cs->mu);
	if (stop)
		cs->stop = 1;
	else
		cs->taken++;
	pthread_cond_broadcast(&cs->cv);
	pthread_mutex_unlock(&cs->mu);
}

/*
 * A file's windows, several in flight (content_recv.c, recv_top): the
 * level-2 lists of those already cut go out, up to AHEAD_WINDOWS and
 * AHEAD_NODES in all (waiting for the producer only when none is in
 * flight); each answer is read as it comes (answers come in the order of
 * the lists) and the next list of its window goes at once; the oldest
 * window's bytes go once all its answers came. A file of one window whose
 * chunks or level-1 nodes are few is listed flat.
 */
static int send_windows(struct xfer_csend *cs)
{
	size_t nodes = 0, pend[AHEAD_WINDOWS], npend = 0, phead = 0, k; /* pend: slot indices */
	int r = 0, end = 0;

	for (;;) {
		struct slot *sl;

		while (cs->taken < cs->listed && (sl = &cs->slot[cs->taken % NSLOT])->phase == PH_READY) {
			if ((r = send_bytes(cs, sl)) != 0 || sl->last)
				return r;
			nodes -= slot_nodes(sl);
			release_window(cs, 0);
		}
		while (!end && cs->listed - cs->taken < AHEAD_WINDOWS) {
			if ((r = next_window(cs, cs->listed == cs->taken)) <= 0)
				break;
			sl = &cs->slot[cs->listed % NSLOT];
			if (cs->listed > cs->taken && nodes + slot_nodes(sl) > AHEAD_NODES)
				break;
			end = sl->last;
			if (cs->listed == 0 && end && (sl->f[0].n <= FLAT_MAX || sl->f[1].n <= FLAT_MAX))
				return send_flat(cs, sl, sl->f[0].n <= FLAT_MAX ? 0 : 1);
			xc_win_reset(&sl->w);
			for (size_t i = 0; i < sl->f[2].n; i++)
				if ((r = xc_lvl_push(&sl->w.x[2], &sl->f[2].v[i])) != 0 ||
				    (r = pqx_hmac_update(cs->root, sl->f[2].v[i].id, XFER_ID_BYTES)) != 0)
					return r;
			sl->phase = PH_READY; /* the file's end, and no node after the last window */
			if (sl->w.x[2].n > 0) {
				if ((r = send_list(cs, sl, 2, 0)) != 0)
					return r;
				sl->phase = 2;
				pend[(phead + npend++) % AHEAD_WINDOWS] = cs->listed % NSLOT;
			}
			nodes += slot_nodes(sl);
			cs->listed++;
		}
		if (r < 0)
			return r;
		if (npend == 0)
			continue; /* every window in flight is ready: the oldest goes */
		/* The answer to the oldest list unanswered. */
		k = pend[phead];
		phead = (phead + 1) % AHEAD_WINDOWS;
		npend--;
		sl = &cs->slot[k];
		if ((r = get_bitmap(cs, &sl->w.x[sl->phase], sl->phase)) != 0 ||
		    (r = advance(cs, sl, sl->phase)) != 0)
			return r;
		if (sl->phase != PH_READY)
			pend[(phead + npend++) % AHEAD_WINDOWS] = k;
	}
}

/*
 * Streaming: the receiver has nothing to compare with, so no tree is built
 * on this side: the whole file crosses in order (the receiver cuts and
 * indexes it as it lands, for next time).
 */
static int send_stream(struct xfer_csend *cs)
{
	struct xfer_node all;
	int r;

	memset(&all, 0, sizeof(all));
	all.len = cs->size;
	if ((r = send_item(cs, &all)) != 0 || (r = flush_data(cs)) != 0)
		return r;
	return 0;
}

/* ---- blocks: a small file matched against the receiver's old version ---- */

static int on_match(void *ctx, uint64_t off, uint32_t index)
{
	struct xfer_csend *cs = ctx;
	struct xb_run *last = cs->nruns > 0 ? &cs->runs[cs->nruns - 1] : NULL;

	if (last != NULL && off == cs->runs_end && index == last->first + last->n) {
		last->n++;
	} else {
		if (cs->nruns == cs->capruns) {
			size_t cap = cs->capruns ? cs->capruns * 2 : 256;
			struct xb_run *v = realloc(cs->runs, cap * sizeof(*v));

			if (v == NULL)
				return PQX_ERR_NOMEM;
			cs->runs = v;
			cs->capruns = cap;
		}
		cs->runs[cs->nruns].lit = (uint32_t)(off - cs->runs_end);
		cs->runs[cs->nruns].first = index;
		cs->runs[cs->nruns].n = 1;
		cs->nruns++;
	}
	cs->runs_end = off + xb_run_bytes(&cs->g, index, 1);
	return 0;
}

/*
 * Reads the receiver's signatures, finds their blocks in the file, names
 * them in BLOCKS and sends the rest as DATA; hash: the whole file's. If the
 * blocks cover less than an eighth of the file, the old version at the
 * path is likely not its previous version (a rotated log, a moved file):
 * BLOCKS says so and 1 is returned, for a comparison of chunk trees against
 * everything the receiver holds. (Rebuilt binaries keep a fifth or more.)
 */
/*
 * The old version's tail (sums sig, the last in SIGS) if the file ends with
 * it, where no block matched: the block after the last run, or a run of its own.
 */
static int match_tail(struct xfer_csend *cs, const uint8_t *sig, uint32_t wlen, uint32_t slen)
{
	const struct xb_geom *g = &cs->g;
	uint8_t strong[XB_STRONG_MAX];
	uint64_t off = cs->size - g->tail;
	int r;

	if (g->tail == 0 || cs->size < g->tail || cs->runs_end > off)
		return 0;
	if ((r = xc_pread_all(cs->fd, cs->io, g->tail, off)) != 0)
		return r;
	if (xb_weak_key(xb_weak(cs->io, g->tail), wlen) != xb_key_get(sig, wlen) ||
	    (r = xb_strong(cs->bh, strong, slen, cs->io, g->tail)) != 0 ||
	    memcmp(strong, sig + wlen, slen) != 0)
		return r;
	return on_match(cs, off, g->count);
}

static int send_blocks(struct xfer_csend *cs, const uint8_t *sigmsg, size_t siglen, uint8_t hash[32])
{
	struct xb_geom *g = &cs->g;
	struct xb_table *t = NULL;
	pqx_hmac *whole = NULL;
	uint8_t *sigs = NULL;
	uint64_t off = 0, matched = 0;
	uint16_t len64, count, tail;
	uint8_t wlen, slen;
	size_t bytes;
	pqx_buf v;
	int r, trees;

	pqx_buf_view(&v, sigmsg, siglen);
	if (pqx_buf_get_u16(&v, &len64) != 0 || len64 < XB_BLOCK_MIN / 64 || len64 > XB_BLOCK_MAX / 64 ||
	    pqx_buf_get_u8(&v, &wlen) != 0 || wlen < XB_WEAK_MIN || wlen > XB_WEAK_MAX ||
	    pqx_buf_get_u8(&v, &slen) != 0 || slen < XB_STRONG_MIN || slen > XB_STRONG_MAX ||
	    pqx_buf_get_u16(&v, &count) != 0 || count > XB_OLD_MAX / (64u * len64))
		return PQX_ERR_FORMAT;
	g->len = 64u * len64;
	g->count = count;
	bytes = (size_t)g->count * (wlen + slen);
	/* The tail's sums go after the blocks'. */
	if ((sigs = pqx_malloc(bytes + wlen + slen)) == NULL)
		return PQX_ERR_NOMEM;
	if (pqx_buf_get(&v, sigs, bytes) != 0 || pqx_buf_get_u16(&v, &tail) != 0 || tail >= g->len ||
	    (tail > 0 && pqx_buf_get(&v, sigs + bytes, (size_t)wlen + slen) != 0) ||
	    pqx_buf_expect_end(&v) != 0) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	g->tail = tail;
	if ((cs->bh == NULL && (cs->bh = xfer_tree_idh(cs->tree)) == NULL) ||
	    (t = xb_table_new(g->len, wlen, slen, sigs, g->count)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if ((r = xc_file_hash(cs->tree, &whole)) != 0)
		goto out;
	cs->nruns = 0;
	cs->runs_end = 0;
	if ((r = xb_scan(t, cs->bh, whole, cs->fd, cs->size, cs->io, IO_BYTES, on_match, cs)) != 0 ||
	    (r = pqx_hmac_final(whole, hash)) != 0 || (r = match_tail(cs, sigs + bytes, wlen, slen)) != 0)
		goto out;
	for (size_t i = 0; i < cs->nruns; i++)
		matched += xb_run_bytes(g, cs->runs[i].first, cs->runs[i].n);
	trees = matched < cs->size / 8;
	pqx_buf_reset(cs->b);
	if ((r = pqx_buf_put_u8(cs->b, K_BLOCKS)) != 0 ||
	    (r = pqx_buf_put_u16(cs->b, trees ? XB_TREES : (uint16_t)cs->nruns)) != 0)
		goto out;
	for (size_t i = 0; !trees && i < cs->nruns; i++) {
		uint8_t lit[3] = { (uint8_t)(cs->runs[i].lit >> 16), (uint8_t)(cs->runs[i].lit >> 8),
			(uint8_t)cs->runs[i].lit };

		if ((r = pqx_buf_put(cs->b, lit, 3)) != 0 ||
		    (r = pqx_buf_put_u16(cs->b, (uint16_t)cs->runs[i].first)) != 0 ||
		    (r = pqx_buf_put_u16(cs->b, (uint16_t)cs->runs[i].n)) != 0)
			goto out;
	}
	if ((r = xfer_send_padded(cs->ln, cs->b, PAD_BLOCKS)) != 0)
		goto out;
	if (trees) {
		r = 1;
		goto out;
	}
	/* What no block covers crosses as DATA, in file order. */
	for (size_t i = 0; i <= cs->nruns && r == 0; i++) {
		struct xfer_node lit;

		memset(&lit, 0, sizeof(lit));
		lit.off = off;
		lit.len = i < cs->nruns ? cs->runs[i].lit : cs->size - off;
		if (lit.len > 0)
			r = send_item(cs, &lit);
		if (i < cs->nruns) {
			uint64_t m = xb_run_bytes(g, cs->runs[i].first, cs->runs[i].n);

			cs->st->bytes_reused += m;
			off += lit.len + m;
		}
	}
	if (r == 0)
		r = flush_data(cs);
out:
	xb_table_free(t);
	pqx_hmac_free(whole);
	pqx_free(sigs);
	return r;
}

/*
 * The contents of a file listed with its entry: the chunks the receiver
 * lacks (its FILE_END follows, with the file id computed then).
 */
static int send_listed(struct xfer_csend *cs, struct offer *e)
{
	struct stat now;

	/* The chunks listed are the file's bytes only if it did not change since. */
	if (fstat(e->fd, &now) != 0 || now.st_size != e->sb.st_size ||
	    now.st_mtim.tv_sec != e->sb.st_mtim.tv_sec || now.st_mtim.tv_nsec != e->sb.st_mtim.tv_nsec)
		return PQX_ERR_TRUNCATED;
	return xc_win_items(&e->lw, send_item, cs);
}

/*
 * Sends the contents of the file offered e as the receiver's NEED state
 * asks (compare trees, stream, match blocks against its SIGS, or the
 * chunks it lacks of those listed with the entry); its FILE_OK is read
 * later. A file whose size or mtime changed since its entry is refused to
 * the peer (PQX_ERR_CHANGED) before it can land.
 */
static int send_file(struct xfer_csend *cs, struct offer *e)
{
	int fd = e->fd, state = e->state, stream = state == NEED_STREAM;
	const struct stat *sb = &e->sb;
	uint64_t size = (uint64_t)sb->st_size;
	struct stat now;
	uint8_t root[32];
	pthread_t th;
	uint64_t reused = cs->st->bytes_reused;
	int r, blocks = 0;

	cs->fd = fd;
	cs->size = size;
	cs->raw_len = 0;
	cs->dst = cs->raw;
	if (state == NEED_LISTED) {
		/* What it reuses was counted with its answer. */
		for (size_t i = 0; i < e->lw.x[0].n; i++)
			if (e->lw.x[0].st[i] == ST_HAVE)
				reused -= e->lw.x[0].v[i].len;
		if ((r = send_listed(cs, e)) == 0)
			r = flush_data(cs);
		if (r == PQX_ERR_TRUNCATED)
			goto shrank;
		if (r != 0)
			return r;
		memcpy(root, e->root, sizeof(root));
		goto end;
	}
	if (stream) {
		if ((r = send_stream(cs)) == PQX_ERR_TRUNCATED)
			goto shrank;
		if (r != 0)
			return r;
		goto end;
	}
	if (state == NEED_BLOCKS) {
		/* The receiver asks for blocks only for a small file. */
		if (size >= XB_FILE_MAX)
			return PQX_ERR_FORMAT;
		if ((r = send_blocks(cs, e->sigs, e->sigs_len, root)) == PQX_ERR_TRUNCATED)
			goto shrank;
		if (r < 0)
			return r;
		blocks = r == 0;
		if (blocks)
			goto end;
		/* 1: chunk trees after all. */
	}
	cs->filled = cs->taken = cs->listed = 0;
	cs->stop = cs->perr = 0;
	pqx_hmac_free(cs->root);
	cs->root = NULL;
	if ((r = xfer_tree_root_init(cs->tree, &cs->root)) != 0)
		return r;
	if (pthread_create(&th, NULL, cut_file, cs) != 0)
		return PQX_ERR_NOMEM;
	r = send_windows(cs);
	release_window(cs, 1); /* wakes the producer if it waits */
	pthread_join(th, NULL);
	if (r == PQX_ERR_TRUNCATED)
		goto shrank;
	if (r != 0)
		return r;
	if ((r = pqx_hmac_final(cs->root, root)) != 0)
		return r;
end:
	/*
	 * A file written to while it was read may have given bytes of two
	 * versions that each match their ids: refuse it rather than let it land.
	 */
	if (fstat(fd, &now) != 0 || now.st_size != sb->st_size ||
	    now.st_mtim.tv_sec != sb->st_mtim.tv_sec || now.st_mtim.tv_nsec != sb->st_mtim.tv_nsec) {
shrank: /* or it ended early under our reads */
		xfer_refuse(xfer_link_channel(cs->ln), "the file changed while it was sent");
		return PQX_ERR_CHANGED;
	}
	pqx_buf_reset(cs->b);
	if ((r = pqx_buf_put_u8(cs->b, K_FILE_END)) != 0 ||
	    (!stream && (r = pqx_buf_put(cs->b, root, blocks ? XB_HASH_BYTES : 32)) != 0) ||
	    (r = xfer_send_buf(cs->ln, cs->b)) != 0)
		return r;
	/* Its FILE_OK comes later, with other answers (run_head). */
	cs->last_reused = cs->st->bytes_reused - reused;
	return 0;
}

