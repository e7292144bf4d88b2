/* pqx: what transfer.c (entries) and content*.c (file contents) share. */
#ifndef PQX_TRANSFER_XFER_INT_H
#define PQX_TRANSFER_XFER_INT_H

#include <stdint.h>
#include <sys/stat.h>

#include "transfer/index.h"
#include "transfer/transfer.h"
#include "transfer/tree.h"
#include "util/buf.h"

/* Message kinds (docs/PROTOCOL.md, "Transfer"). */
enum {
	K_REQUEST = 1, K_ACCEPT = 2, K_FILE = 3, K_DIR = 4, K_SYMLINK = 5, K_END = 6,
	K_NEED = 7, K_LIST = 8, K_BITMAP = 9, K_DATA = 10, K_FILE_END = 11, K_FILE_OK = 12,
	K_DONE = 13, K_SIGS = 14, K_BLOCKS = 15, K_AGAIN = 16,
};

/* ---- messages in records (link.c) ---- */

/* A message's bytes at most: a record's payload less its length prefix. */
#define MSG_MAX (PQX_CHANNEL_MAX_RECORD - 3)

/*
 * A message's length before it (docs/PROTOCOL.md, "Messages"): one byte
 * below 2^7, two (10 and 14 bits) below 2^14, else three (11 and 22
 * bits), big-endian. put writes it at p and returns
 * its size; get reads the one at p (avail bytes left in the record): *hdr
 * its size and *n the message's length, or *n = 0 when the rest is
 * padding (all zeros; PQX_ERR_FORMAT if not, or for a length that is not
 * the shortest or runs past the record).
 */
size_t xfer_frame_put(uint8_t *p, size_t n);
int xfer_frame_get(const uint8_t *p, size_t avail, size_t *hdr, size_t *n);

/*
 * A session's messages over its channel: queued into records (sent when
 * full, or before a receive would wait, so that the peer always has what
 * it needs to answer) and read out of them one at a time.
 */
struct xfer_link;

PQX_MUST_CHECK int xfer_link_new(struct xfer_link **out, pqx_channel *ch);
void xfer_link_free(struct xfer_link *ln);
pqx_channel *xfer_link_channel(const struct xfer_link *ln);
/* Seconds per byte the last records of 16 KiB or more took to write (EWMA); 0 before any. */
double xfer_link_wire(const struct xfer_link *ln);
/* Queues message m (n bytes); its record is padded with zeros to a multiple of pad (1..PAD). */
PQX_MUST_CHECK int xfer_put(struct xfer_link *ln, const uint8_t *m, size_t n, size_t pad);
/*
 * A message written in place, without a copy: xfer_put_room returns where
 * its bytes (at most n) go in the record being filled (which is sent first
 * if it has too little room left), or NULL with *err set; xfer_put_end
 * queues the n bytes written there, as xfer_put would. Nothing else may be
 * put, flushed or received between the two.
 */
uint8_t *xfer_put_room(struct xfer_link *ln, size_t n, int *err);
PQX_MUST_CHECK int xfer_put_end(struct xfer_link *ln, size_t n, size_t pad);
/* The longest message the record being filled has room for (0 while a room is open). */
size_t xfer_link_room(const struct xfer_link *ln);
/* Queues the message in b (padded as xfer_put) and empties b. */
int xfer_send_buf(struct xfer_link *ln, pqx_buf *b);
int xfer_send_padded(struct xfer_link *ln, pqx_buf *b, size_t pad);
/* Sends what is queued; or only if it has waited too long (10 ms). */
PQX_MUST_CHECK int xfer_flush(struct xfer_link *ln);
PQX_MUST_CHECK int xfer_link_due(struct xfer_link *ln);
/*
 * The next message: v a view of it after its kind, valid until the next
 * receive or a record from pqx_channel_send.
 */
int xfer_recv_msg(struct xfer_link *ln, pqx_buf *v, uint8_t *kind);
/* Whether a message has come (read or arriving) that xfer_recv_msg takes without waiting for the peer. */
int xfer_link_ready(struct xfer_link *ln);
int xfer_expect(struct xfer_link *ln, pqx_buf *v, uint8_t want);
/* The session's last message is sent and read: flushes, and refuses any message left unread. */
PQX_MUST_CHECK int xfer_link_end(struct xfer_link *ln);

int xfer_put_str(pqx_buf *b, const char *s, size_t n);
int xfer_get_str(pqx_buf *b, char *out, size_t max, size_t *len);
void xfer_warn(const struct xfer_opts *o, const char *reason, const char *path);
/* Tells the peer msg (an error record; what is queued is dropped) and returns code, errno kept for our own report. */
int xfer_fail(struct xfer_link *ln, int code, const char *msg);
/* Splits a valid peer path into its parent directory and last component. */
int xfer_split_path(const char *path, char *parent, size_t cap, const char **last);
/* Opens a regular file at the relative path rel below dirfd, confined (no links). */
int xfer_open_file(int dirfd, const char *rel);

/* ---- the sender's side of one file's contents (content_send.c) ---- */

struct xfer_csend; /* per session: the tree builder, zstd, buffers */

PQX_MUST_CHECK int xfer_csend_new(struct xfer_csend **out, struct xfer_link *ln,
    const struct xfer_opts *o, struct xfer_stats *st);
void xfer_csend_free(struct xfer_csend *cs);
/*
 * After the FILE entry's head and size in b: adds the base fields and
 * sends it. The file (fd: duplicated, path, sb: its stat when the entry was
 * made) waits in order for its answer and its turn: once XFER_AHEAD wait,
 * the oldest goes (its contents as NEED asks, or nothing when the receiver
 * has it). again: a file asked for again (not counted twice).
 */
PQX_MUST_CHECK int xfer_csend_offer(struct xfer_csend *cs, pqx_buf *b, int fd, const char *path,
    const struct stat *sb, int again);
/*
 * Sends every file offered, then reads the answers that may still ask for
 * a file again (AGAIN: those to files matched in blocks); the other files'
 * FILE_OK may come after END (xfer_csend_drain reads them).
 */
PQX_MUST_CHECK int xfer_csend_finish(struct xfer_csend *cs);
/* Reads the last answers (and ACCEPT, if no answer came before END). */
PQX_MUST_CHECK int xfer_csend_drain(struct xfer_csend *cs);
/* A file the receiver asked for again (AGAIN: its blocks did not make it), to send whole (1; 0 when none is left); fd and path are the caller's now. */
int xfer_csend_take_redo(struct xfer_csend *cs, int *fd, char **path, struct stat *sb);
/* At most this many files asked for again in a session. */
#define XFER_REDO_MAX 16
/* Entries the sender sends ahead of the contents; files a receiver holds answered. */
#define XFER_AHEAD 64
#define XFER_INFLIGHT_MAX 64

/* ---- the receiver's side (content_recv.c) ---- */

struct xfer_crecv;

PQX_MUST_CHECK int xfer_crecv_new(struct xfer_crecv **out, struct xfer_link *ln, int root,
    const struct xfer_opts *o, struct xfer_stats *st);
void xfer_crecv_free(struct xfer_crecv *cr);
/*
 * Puts the last file received in place (it is verified and confirmed, but
 * its fsync and rename wait for the next file): before an entry that is not
 * a file, and at the end, before the receiver says that all is done.
 */
PQX_MUST_CHECK int xfer_crecv_settle(struct xfer_crecv *cr);
/* Files answered whose contents have not come, or asked for again (at END: none may be left). */
size_t xfer_crecv_left(const struct xfer_crecv *cr);
/*
 * A FILE entry: v holds the rest of it after the size (the base fields).
 * dfd/last: the target's directory and name, path its relative path from
 * the root; fresh: this session made the directory, so no old version is
 * looked for unless the partial file's name turns out taken. Answers NEED (with SIGS when it matches blocks, a BITMAP for
 * chunks listed with the entry, those found copied in first) and, unless
 * the file is skipped, opens its partial file; the contents come later
 * (xfer_crecv_body), after those of the files answered before it: the
 * sender sends up to XFER_AHEAD entries ahead. Errors are reported to the
 * peer here.
 */
PQX_MUST_CHECK int xfer_crecv_offer(struct xfer_crecv *cr, pqx_buf *v, const char *path, int dfd,
    const char *last, int fresh, uint64_t size, uint32_t mode, const struct timespec *mt);
/*
 * The contents of the oldest file answered, whose first message (LIST,
 * BLOCKS, DATA or FILE_END) v just brought: receives them into the partial
 * file, verifies, sets mode and times and answers FILE_OK; its fsync and
 * rename come with the next file (or xfer_crecv_settle). A file whose
 * blocks did not make it is asked for again (AGAIN), to come after the
 * sender's last entry.
 */
PQX_MUST_CHECK int xfer_crecv_body(struct xfer_crecv *cr, pqx_buf *v);

#endif
