/* pqx: the receiver's persistent chunk index (SQLite, WAL): id -> where the bytes are. */
#ifndef PQX_TRANSFER_INDEX_H
#define PQX_TRANSFER_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <pqx/common.h>

/*
 * The index maps a 32-byte id (a chunk id, or the id of a run of chunks)
 * to spans of files the receiver holds: (source, relative path, offset,
 * length). A source is a directory tree: XFER_SRC_ROOT the transfer's target
 * directory, XFER_SRC_DICT a dictionary directory (--dict). Paths are
 * relative, '/'-separated, and resolved by the caller below the source's
 * directory without following links.
 *
 * Nothing read from the index is trusted: the caller re-reads the span and
 * re-derives its id before using a single byte. The index only has to be
 * fast and never wrong about its own rows; after a crash (kill -9 at any
 * point, WAL mode) it holds exactly the transactions that committed. A
 * database that can't be opened or read (corrupt, not a database, wrong
 * schema version) is deleted and created afresh: the index is a cache.
 *
 * Each file row remembers the stat of the file when it was indexed (size,
 * mtime, ctime, inode, device): xfer_index_file_current says whether the
 * file still looks the same, in which case its spans need not be computed
 * again (they are still verified on use).
 *
 * One connection per process and per thread: an xfer_index is not shared
 * between threads. Several processes may open the same path (SQLite's
 * locking; a busy database is waited on for up to 10 s). A transaction takes
 * the write lock at xfer_index_begin and holds it to the commit: keep
 * transactions short where other processes share the index.
 *
 * Errors. PQX_ERR_INVALID_ARG: a NULL, an empty path, an unknown source, a
 * zero-length span, xfer_index_add with no current file, begin inside a
 * transaction or commit outside one. PQX_ERR_LIMIT: a path over 4096 bytes,
 * or a span past 2^63 - 1. PQX_ERR_IO: the file can't be opened or written
 * (a directory, a symlink, no space, busy past 10 s). PQX_ERR_FORMAT: a
 * statement found the database corrupt: it has been deleted and created
 * afresh in place, so the handle works on (empty). A corrupt file found at
 * open is rebuilt there and then, with no error. If a rebuild itself fails
 * every later call returns PQX_ERR_IO; close the handle.
 * A transaction lost to an error (a rebuild, or SQLite rolling back by
 * itself after a full disk or an I/O error) makes every later update fail
 * with that error until xfer_index_commit (which returns it) or
 * xfer_index_rollback; lookups go on working.
 */

enum xfer_src { XFER_SRC_ROOT = 0, XFER_SRC_DICT = 1 };

#define XFER_INDEX_ID_BYTES 32

typedef struct xfer_index xfer_index;

struct xfer_span {
	int src;            /* enum xfer_src */
	char path[4097];    /* relative path, NUL-terminated */
	uint64_t off, len;
};

/*
 * Opens or creates the index at path (its directory must exist);
 * PQX_ERR_UNSUPPORTED where SQLite can't be loaded (it is loaded with the
 * first index).
 */
PQX_MUST_CHECK int xfer_index_open(xfer_index **out, const char *path);
void xfer_index_close(xfer_index *ix); /* NULL is a no-op */
/* NULL once SQLite is loaded (this loads it), else why it can't be. */
const char *xfer_index_unavailable(void);

/*
 * Transactions: updates between begin and commit land all or none; outside
 * one, each update is atomic on its own. A failed commit rolls back. Closing
 * with a transaction open rolls it back.
 */
PQX_MUST_CHECK int xfer_index_begin(xfer_index *ix);
PQX_MUST_CHECK int xfer_index_commit(xfer_index *ix);
void xfer_index_rollback(xfer_index *ix);

/*
 * How the spans about to be added were cut (the chunk size class, 0 unless
 * set): xfer_index_add_file records it with the file, and
 * xfer_index_file_current calls a file indexed with another cut stale, so
 * that it is indexed again the way the incoming file is cut.
 */
void xfer_index_set_cut(xfer_index *ix, int cut);
/* 1 if (src, path) is indexed with this stat (and cut), 0 if not (or stale), < 0 error. */
int xfer_index_file_current(xfer_index *ix, int src, const char *path, const struct stat *sb);
/*
 * Starts (re)indexing (src, path): drops its old spans and records sb.
 * Spans are then added with xfer_index_add. Returns 0 or an error.
 * Re-indexing makes the file the most recently indexed. Do it and its
 * xfer_index_add calls in one transaction, or a crash between them leaves
 * a file that looks current with only part of its spans. The file stays
 * current for xfer_index_add until the next add_file, its forget, or the
 * rollback of the transaction that added it.
 */
PQX_MUST_CHECK int xfer_index_add_file(xfer_index *ix, int src, const char *path,
    const struct stat *sb);
/* Adds one span of the file last given to xfer_index_add_file (a duplicate
 * span is no error). */
PQX_MUST_CHECK int xfer_index_add(xfer_index *ix, const uint8_t id[XFER_INDEX_ID_BYTES],
    uint64_t off, uint64_t len);
/* Forgets (src, path) and its spans (no error if unknown). */
PQX_MUST_CHECK int xfer_index_forget(xfer_index *ix, int src, const char *path);
/* Moves the rows of (src, from) to (src, to), replacing those of to, and records sb. */
PQX_MUST_CHECK int xfer_index_rename(xfer_index *ix, int src, const char *from,
    const char *to, const struct stat *sb);

/*
 * Up to max candidate spans for id (several files may hold the same bytes),
 * most recently indexed first. *n gets the number found (0: unknown id; 0
 * on error too). A row the index could not have written (a path over 4096
 * bytes, an unknown source...) is treated as corruption (PQX_ERR_FORMAT).
 */
PQX_MUST_CHECK int xfer_index_lookup(xfer_index *ix, const uint8_t id[XFER_INDEX_ID_BYTES],
    struct xfer_span *out, size_t max, size_t *n);

/*
 * Forgets every file for which keep(ctx, src, path) returns 0 (the receiver
 * drops files that no longer exist). Not inside a transaction.
 */
PQX_MUST_CHECK int xfer_index_prune(xfer_index *ix,
    int (*keep)(void *ctx, int src, const char *path), void *ctx);

/* 1 if the index holds no span at all, 0 if it does, < 0 on error. */
int xfer_index_empty(xfer_index *ix);

#endif
