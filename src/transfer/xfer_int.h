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
	K_DONE = 13, K_SIGS = 14, K_BLOCKS = 15,
};

#define MSG_MAX PQX_CHANNEL_MAX_RECORD

int xfer_send_buf(pqx_channel *ch, pqx_buf *b);
int xfer_recv_msg(pqx_channel *ch, pqx_buf *v, uint8_t *kind);
int xfer_expect(pqx_channel *ch, pqx_buf *v, uint8_t want);
int xfer_put_str(pqx_buf *b, const char *s, size_t n);
int xfer_get_str(pqx_buf *b, char *out, size_t max, size_t *len);
void xfer_warn(const struct xfer_opts *o, const char *reason, const char *path);
/* Tells the peer msg (an error record) and returns code, errno kept for our own report. */
int xfer_fail(pqx_channel *ch, int code, const char *msg);
/* Splits a valid peer path into its parent directory and last component. */
int xfer_split_path(const char *path, char *parent, size_t cap, const char **last);
/* Opens a regular file at the relative path rel below dirfd, confined (no links). */
int xfer_open_file(int dirfd, const char *rel);

/* ---- the sender's side of one file's contents (content_send.c) ---- */

struct xfer_csend; /* per session: the tree builder, zstd, buffers */

PQX_MUST_CHECK int xfer_csend_new(struct xfer_csend **out, pqx_channel *ch,
    const struct xfer_opts *o, struct xfer_stats *st);
void xfer_csend_free(struct xfer_csend *cs);
/*
 * After the FILE entry (head already in b, not sent): adds the base fields,
 * sends, reads NEED. *state: 0 compare trees, 1 skip (the receiver already
 * has the file), 2 stream it whole, 3 match blocks of the receiver's old
 * version.
 */
PQX_MUST_CHECK int xfer_csend_offer(struct xfer_csend *cs, pqx_buf *b, const char *path,
    int *state);
/*
 * Sends the contents of fd (sb: its stat when the entry was made) as the
 * receiver's NEED state asks (compare trees, stream, match blocks). Its
 * answer (FILE_OK) is read with the next one (xfer_csend_settle). A file
 * whose size or mtime changed meanwhile is refused to the peer
 * (PQX_ERR_CHANGED) before it can land.
 */
PQX_MUST_CHECK int xfer_csend_file(struct xfer_csend *cs, int fd, const struct stat *sb,
    const char *path, int state);
/*
 * Reads the last file's answer if it is still to come: FILE_OK, or for a
 * file matched in blocks a request to send it again, whole (the receiver
 * found its hash wrong): it is kept for xfer_csend_take_redo.
 */
PQX_MUST_CHECK int xfer_csend_settle(struct xfer_csend *cs);
/* A file to send again, whole (1; 0 when none is left); fd and path are the caller's now. */
int xfer_csend_take_redo(struct xfer_csend *cs, int *fd, char **path, struct stat *sb);
/* At most this many files asked for again in a session. */
#define XFER_REDO_MAX 256

/* ---- the receiver's side (content_recv.c) ---- */

struct xfer_crecv;

PQX_MUST_CHECK int xfer_crecv_new(struct xfer_crecv **out, pqx_channel *ch, int root,
    const struct xfer_opts *o, struct xfer_stats *st);
void xfer_crecv_free(struct xfer_crecv *cr);
/*
 * Puts the last file received in place (it is verified and confirmed, but
 * its fsync and rename wait for the next file): before an entry that is not
 * a file, and at the end, before the receiver says that all is done.
 */
PQX_MUST_CHECK int xfer_crecv_settle(struct xfer_crecv *cr);
/* Files asked for again that have not come back yet (at END: none may be left). */
size_t xfer_crecv_redo_left(const struct xfer_crecv *cr);
/*
 * One file: v holds the rest of the FILE entry after the size (the base
 * fields). dfd/last: the target's directory and name, path its relative
 * path from the root. Answers NEED, receives the contents into the
 * partial file, verifies, sets mode and times and answers FILE_OK; the
 * fsync and the rename into place come with the next file (or
 * xfer_crecv_settle). A file whose blocks did not make it is asked for
 * again, to come after the sender's last entry. Errors are reported to
 * the peer here.
 */
PQX_MUST_CHECK int xfer_crecv_file(struct xfer_crecv *cr, pqx_buf *v, const char *path, int dfd,
    const char *last, uint64_t size, uint32_t mode, const struct timespec *mt);

#endif
