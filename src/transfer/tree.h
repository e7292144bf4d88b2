/* pqx: the chunk tree of a file: keyed CDC chunks, grouped into content-defined runs. */
#ifndef PQX_TRANSFER_TREE_H
#define PQX_TRANSFER_TREE_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

#include "transfer/chunker.h"

/*
 * A file is cut into chunks (keyed FastCDC, 2/8/64 KiB, or 512 B/2/16 KiB for
 * files under 16 MiB); runs of chunks form
 * level-1 nodes, runs of level-1 nodes level-2 nodes (docs/PROTOCOL.md,
 * "Chunk trees"). A node ends after a child whose id has its last byte's low
 * four bits zero (about 16 children on average) or at XFER_TREE_FANOUT
 * children, or at the end of the stream; so node boundaries, like chunk
 * boundaries, depend on the content near them only, and an edit changes one
 * chunk, one level-1 and one level-2 node (or two of each).
 *
 * Ids: a chunk's is HMAC(id key, bytes) (pqx_chunker_id); a node's is
 * HMAC(id key, u8 level || the ids of its children). Everything is keyed, so
 * ids and sizes differ between peer pairs.
 *
 * The builder is streaming: feed bytes, it calls emit for every chunk and
 * every node as it completes, children before their parent, in stream
 * order. Fed from a node's first byte to its last (then finished), it
 * rebuilds exactly that node: that is how a receiver verifies bytes.
 */

/*
 * Two size classes, chosen by the size of the file (both sides know it):
 * below XFER_SMALL_FILE, chunks of 512 B / 2 KiB / 16 KiB (min/avg/max),
 * which find more of a small file that changed in many places; from it on,
 * the default 2 / 8 / 64 KiB, which keeps big files' lists and indexes
 * small. The gear table and ids come from the same key in both classes.
 */
#define XFER_SMALL_FILE (16u << 20)
#define XFER_SMALL_MIN 512u
#define XFER_SMALL_AVG 2048u
#define XFER_SMALL_MAX 16384u

#define XFER_TREE_LEVELS 3
#define XFER_TREE_FANOUT 64
#define XFER_ID_BYTES PQX_CHUNK_ID_BYTES

struct xfer_node {
	uint8_t id[XFER_ID_BYTES];
	uint64_t off, len; /* in the stream, from the builder's base offset */
	uint8_t level;     /* 0 chunk, 1, 2 */
	uint8_t natural;   /* it ended by the content (a cut, a closing child), not by
	                    * xfer_tree_finish: only the last node of a file may not */
};

typedef int (*xfer_tree_emit)(void *ctx, const struct xfer_node *n);

struct xfer_tree;

/* top: the highest level built (0, 1 or 2). Returns NULL on allocation failure. */
struct xfer_tree *xfer_tree_new(const uint8_t key[PQX_CHUNKER_KEY_BYTES], int top);
void xfer_tree_free(struct xfer_tree *t);
/* The size class of a file of file_size bytes: 0 large, 1 small. */
int xfer_tree_class(uint64_t file_size);
/* Chooses the size class for a file of file_size bytes (until called: the large one). */
void xfer_tree_size(struct xfer_tree *t, uint64_t file_size);
/* Starts a new stream at offset base, with a new top level and callback. */
void xfer_tree_start(struct xfer_tree *t, uint64_t base, int top, xfer_tree_emit emit, void *ctx);
/*
 * Staged mode, where pqx_hmac_mb runs (else a no-op): xfer_tree_update keeps
 * the bytes (about 320 KiB at most) and emits every 256 KiB of whole chunks
 * at once, their ids computed together; xfer_tree_finish emits the rest. The
 * same nodes in the same order, later: for callers that only look at them
 * once the stream is finished. Returns 0 or PQX_ERR_NOMEM.
 */
PQX_MUST_CHECK int xfer_tree_stage(struct xfer_tree *t);
/*
 * The ids of n chunks that lie one after another at buf: 16 at a time
 * (pqx_hmac_mb, mb not NULL) where that pays, else one by one with h (which
 * the caller's thread owns).
 */
PQX_MUST_CHECK int xfer_chunk_ids(pqx_hmac *h, const pqx_hmac_mb_key *mb, const uint8_t *buf,
    const uint32_t *lens, size_t n, uint8_t *ids);
/* Feeds bytes; an error from emit stops and is returned. */
PQX_MUST_CHECK int xfer_tree_update(struct xfer_tree *t, const uint8_t *p, size_t n);
/* Ends the stream: emits the last chunk and the open nodes. */
PQX_MUST_CHECK int xfer_tree_finish(struct xfer_tree *t);

/*
 * Instead of xfer_tree_update and xfer_tree_finish after xfer_tree_start:
 * builds the tree of `size` bytes of fd from offset off (read with pread),
 * cut and its chunk ids computed on up to `threads` threads (0: one per
 * core, at most XFER_TREE_THREADS_MAX). The same nodes, in the same order,
 * are emitted, all on the calling thread. A file that ends early gives
 * PQX_ERR_TRUNCATED, a read error PQX_ERR_IO with errno set.
 */
#define XFER_TREE_THREADS_MAX 8
PQX_MUST_CHECK int xfer_tree_file(struct xfer_tree *t, int fd, uint64_t off, uint64_t size, int threads);
/* The threads xfer_tree_file uses by default. */
int xfer_tree_threads(void);

/* For tree_file.c: the chunker in use; a chunk whose id is computed, fed as
 * if its bytes were; the open nodes closed (the end of xfer_tree_finish). */
pqx_chunker *xfer_tree_chunker(struct xfer_tree *t);
PQX_MUST_CHECK int xfer_tree_chunk(struct xfer_tree *t, const uint8_t id[XFER_ID_BYTES], size_t len,
    int natural);
PQX_MUST_CHECK int xfer_tree_close(struct xfer_tree *t);

/* The id of a node from its children's ids (count of them, 32 bytes each). */
PQX_MUST_CHECK int xfer_tree_node_id(struct xfer_tree *t, uint8_t id[XFER_ID_BYTES], int level,
    const uint8_t *child_ids, size_t count);
/* Whether a node closes after the child with this id (or at the fan-out). */
int xfer_tree_closes(const uint8_t id[XFER_ID_BYTES], size_t children);
/* A MAC under the id key for other uses (a new object; NULL on allocation failure). */
pqx_hmac *xfer_tree_idh(struct xfer_tree *t);
/* The file id: HMAC(id key, u8 3 || the level-2 ids): incremental. */
PQX_MUST_CHECK int xfer_tree_root_init(struct xfer_tree *t, pqx_hmac **h);

#endif
