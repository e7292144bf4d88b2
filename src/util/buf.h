/* pqx: a bounds-checked byte buffer through which all untrusted input is parsed (after OpenSSH's sshbuf). */
#ifndef PQX_BUF_H
#define PQX_BUF_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

/*
 * A buffer holds bytes [off, size) of d: reads consume from off, writes
 * append at size. A growable buffer (pqx_buf_new) owns its memory, never
 * grows past max, and wipes it when freed or grown, since it may hold
 * secrets. A view (pqx_buf_view) reads caller memory without copying and
 * cannot be written. Every length check is written so that it cannot
 * overflow; a short read fails with PQX_ERR_TRUNCATED and consumes nothing.
 */
typedef struct pqx_buf {
	uint8_t *d;
	size_t off, size, alloc, max;
	int readonly, owned;
} pqx_buf;

#define PQX_BUF_MAX_DEFAULT ((size_t)1 << 28) /* 256 MiB */

/* A new empty growable buffer of at most max bytes; NULL if out of memory. */
pqx_buf *pqx_buf_new(size_t max);
/* Wipes and frees a buffer from pqx_buf_new; NULL is a no-op. */
void pqx_buf_free(pqx_buf *b);
/* Initialises *b as a read-only view of n bytes at p (no allocation). */
void pqx_buf_view(pqx_buf *b, const uint8_t *p, size_t n);
/* Wipes the contents (what was written since the last reset) and empties the buffer (keeps the allocation). */
void pqx_buf_reset(pqx_buf *b);

/* Bytes not yet read, and a pointer to them (valid until the next write). */
size_t pqx_buf_len(const pqx_buf *b);
const uint8_t *pqx_buf_ptr(const pqx_buf *b);

/* Reads: each consumes exactly n bytes or fails with PQX_ERR_TRUNCATED. */
PQX_MUST_CHECK int pqx_buf_get(pqx_buf *b, void *out, size_t n);
PQX_MUST_CHECK int pqx_buf_skip(pqx_buf *b, size_t n);
PQX_MUST_CHECK int pqx_buf_get_u8(pqx_buf *b, uint8_t *v);
PQX_MUST_CHECK int pqx_buf_get_u16(pqx_buf *b, uint16_t *v); /* big-endian */
PQX_MUST_CHECK int pqx_buf_get_u32(pqx_buf *b, uint32_t *v);
PQX_MUST_CHECK int pqx_buf_get_u64(pqx_buf *b, uint64_t *v);
/* Consumes n bytes and makes *sub a read-only view of them (nested fields). */
PQX_MUST_CHECK int pqx_buf_get_view(pqx_buf *b, size_t n, pqx_buf *sub);
/* Copies n bytes at offset off of the unread data without consuming them. */
PQX_MUST_CHECK int pqx_buf_peek(const pqx_buf *b, size_t off, void *out, size_t n);
/* Offset of the first byte c in the unread data, or PQX_ERR_TRUNCATED. */
PQX_MUST_CHECK int pqx_buf_find(const pqx_buf *b, uint8_t c, size_t *pos);
/* PQX_ERR_TRAILING if any unread bytes remain: exact-length parsing. */
PQX_MUST_CHECK int pqx_buf_expect_end(const pqx_buf *b);

/* Writes: fail with PQX_ERR_LIMIT past max, PQX_ERR_NOMEM, or
 * PQX_ERR_INVALID_ARG on a view; nothing is written on failure. */
PQX_MUST_CHECK int pqx_buf_put(pqx_buf *b, const void *p, size_t n);
PQX_MUST_CHECK int pqx_buf_put_u8(pqx_buf *b, uint8_t v);
PQX_MUST_CHECK int pqx_buf_put_u16(pqx_buf *b, uint16_t v);
PQX_MUST_CHECK int pqx_buf_put_u32(pqx_buf *b, uint32_t v);
PQX_MUST_CHECK int pqx_buf_put_u64(pqx_buf *b, uint64_t v);
/* Appends n bytes of space and returns a pointer to them in *p. */
PQX_MUST_CHECK int pqx_buf_reserve(pqx_buf *b, size_t n, uint8_t **p);

#endif
