/* pqx: what the two halves of file contents share (content.c, content_send.c, content_recv.c). */
#ifndef PQX_TRANSFER_CONTENT_H
#define PQX_TRANSFER_CONTENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "transfer/xfer_int.h"

/*
 * A file travels in windows of whole level-2 nodes (about 32 MiB). For each
 * window: the sender lists its level-2 nodes, the receiver answers per node
 * HAVE (it found the bytes and verified them), NEED (expand it) or WHOLE
 * (send all its bytes; it has nothing to look in); the sender expands the
 * NEED nodes into their level-1 children, the receiver answers again, then
 * the same for chunks; then the bytes of everything still missing cross, in
 * file order, in DATA messages of at most DATA_RAW_MAX bytes each, compressed
 * when that pays, against the shared base when there is one.
 */
#define WIN_BYTES (32u << 20)
#define WIN_CHUNKS 8192u
/* A window holds at most WIN_CHUNKS - 1 + a level-2 node's chunks. */
#define WIN_MAX (WIN_CHUNKS + XFER_TREE_FANOUT * XFER_TREE_FANOUT)
/*
 * Windows in flight: the sender lists the level-2 nodes of up to this many
 * windows before the oldest's data, and the lists below them as the answers
 * come, so that over a long path a window's round trips overlap the others'
 * (docs/PROTOCOL.md, "Windows in flight"). The receiver holds the nodes of
 * those windows: at most AHEAD_NODES, all levels together.
 */
#define AHEAD_WINDOWS 8
#define AHEAD_NODES (3 * WIN_MAX)
#define DATA_RAW_MAX ((1u << 20) - 4096)
#define PAD 256u
#define PAD_BLOCKS 64u
#define PREFIX_MARGIN (256u << 10)
#define PREFIX_MAX (DATA_RAW_MAX + 2 * PREFIX_MARGIN)
/* The session's zstd stream (codec 1): its window, and room for a message and a frame's end. */
#define ZSTREAM_WLOG 22
#define ZBUF (ZSTD_COMPRESSBOUND(DATA_RAW_MAX) + 64)
#define WRITEBEHIND_BYTES (8u << 20)
#define IO_BYTES (1u << 20)
/*
 * Files below this always stream and are never indexed: what a comparison
 * could save on them is less than it costs (an index opened, round trips).
 */
#define TINY 4096u
/*
 * A file of at most this many chunks is listed flat: all its chunks in its
 * one window's first LIST (level 0, no parents), one round trip where the
 * three levels take three. Its list costs 36 bytes a chunk (about 4.6 KB at
 * most) even where a level-2 id would have found it all. A file of more
 * chunks but at most this many level-1 nodes lists those flat: two round
 * trips.
 */
#define FLAT_MAX 128u

enum { ST_NEED = 0, ST_HAVE = 1, ST_WHOLE = 2 };
/* NEED's state: compare chunk trees, skip (already identical), stream it all, match blocks. */
enum { NEED_TREE = 0, NEED_SKIP = 1, NEED_STREAM = 2, NEED_BLOCKS = 3, NEED_LISTED = 4 };
/*
 * FILE entry flags: a base follows, sent again, likely raw, its chunks
 * follow (listed), its contents follow without waiting for the answer
 * (eager: a tiny file with no file ahead of it awaiting its contents).
 */
enum { FILE_BASE = 1, FILE_AGAIN = 2, FILE_RAW = 4, FILE_LISTED = 8, FILE_EAGER = 16 };
/* A file is listed with its entry only up to this size (FLAT_MAX chunks of the average). */
#define LISTED_BYTES (FLAT_MAX * XFER_SMALL_AVG)
enum { CODEC_RAW = 0, CODEC_ZSTD = 1, CODEC_ZSTD_BASE = 2 };

/* The nodes of one level of a window as both sides see them. */
struct lvl {
	struct xfer_node *v;
	uint8_t *st;
	uint32_t *nch; /* children listed in the level below (0 unless NEED) */
	size_t n, cap;
};

struct win {
	struct lvl x[XFER_TREE_LEVELS]; /* [2] all level-2 nodes, [1] and [0] the expanded */
};

/*
 * Base ids already computed this session, by file identity and times: a
 * base named by many files (or many times by a hostile peer) is read once.
 */
#define IDCACHE 8

struct idcache {
	struct {
		dev_t dev;
		ino_t ino;
		off_t size;
		struct timespec mtime, ctime;
		uint8_t id[32];
		int used;
	} e[IDCACHE];
	unsigned int next;
};

/* A level's arrays: freed, or one node appended (grown as needed; PQX_ERR_NOMEM). */
void xc_lvl_free(struct lvl *l);
int xc_lvl_push(struct lvl *l, const struct xfer_node *n);
/* Monotonic seconds. */
double xc_mono(void);
/* Whole reads and writes at an offset (a short read: PQX_ERR_TRUNCATED; a
 * failed write: -1 with errno, ENOSPC for a short one). */
int xc_pread_all(int fd, uint8_t *p, size_t n, uint64_t off);
int xc_pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off);
/* Feeds fd's first size bytes to h, read through buf (IO_BYTES). */
int xc_mac_file(pqx_hmac *h, int fd, uint64_t size, uint8_t *buf);
/* A base file's id (HMAC-SHA256 under "pqx base" of its bytes), cached by identity and times. */
int xc_base_id(struct idcache *c, int fd, uint8_t out[32], uint8_t *buf);
/* A window: emptied, freed, and walked for the nodes whose bytes must cross, in file order. */
void xc_win_reset(struct win *w);
void xc_win_free(struct win *w);
int xc_win_items(struct win *w, int (*fn)(void *ctx, const struct xfer_node *n), void *ctx);
/* A window listed flat: every node above the level listed expanded into the nodes below within it. */
void xc_win_flat(struct win *w);
/* LIST of a level (with the children counts of the NEED parents below level 2), BITMAP of
 * answers, and the sender's reading of a BITMAP (it counts HAVE bytes into st). */
int xc_put_list(pqx_buf *b, const struct lvl *parents, const struct lvl *l, int level);
int xc_put_bitmap(pqx_buf *b, const struct lvl *l);
int xc_get_bitmap(pqx_buf *v, struct lvl *l, int level, struct xfer_stats *st);
/*
 * Block matching (NEED_BLOCKS, blocks.h): in file order, lit bytes that
 * cross in DATA, then n blocks of the old version from block first on. The
 * whole file's hash is HMAC(id key, u8 4 || bytes); xc_file_hash starts it.
 */
struct xb_run {
	uint32_t lit, first, n;
};
int xc_file_hash(struct xfer_tree *t, pqx_hmac **h);

#endif
