/* pqx: matching a small file against the receiver's old version in fixed blocks (rsync's idea). */
#ifndef PQX_TRANSFER_BLOCKS_H
#define PQX_TRANSFER_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/ossl.h"

/*
 * The receiver signs its old version in consecutive blocks of block_len
 * bytes, and the partial block after them (the tail): per block a weak sum
 * that rolls (rsync's: a = the sum of the bytes, b = the sum of the
 * running sums, each mod 2^16) and a strong one, the first strong_len bytes
 * of HMAC-SHA256 under the pair's chunk id key. The sender rolls the weak
 * sum over every offset of its file and, where it and then the strong sum
 * agree, names the block instead of sending its bytes; the tail only at
 * the end of the file (where a file that grew or shrank keeps its trailer,
 * as rsync's last block does). The hash of the
 * whole file catches a false match (sums that agree on different bytes):
 * the file then crosses whole. See docs/PROTOCOL.md, "Blocks".
 */
#define XB_BLOCK_MIN 512u    /* when the data crosses raw */
#define XB_BLOCK_MIN_Z 1024u /* when it crosses compressed */
#define XB_BLOCK_MAX 65536u
#define XB_SIGS_MAX 32768u /* XB_OLD_MAX / XB_BLOCK_MIN */
/* A SIGS message after its kind at most: its fields, XB_SIGS_MAX + 1 (the tail) sums of the longest. */
#define XB_SIGS_BYTES_MAX (8u + (XB_SIGS_MAX + 1u) * (XB_WEAK_MAX + XB_STRONG_MAX))
#define XB_SAME 8u /* blocks kept per weak sum */
#define XB_TREES 0xffffu /* BLOCKS' count: too little matched, compare chunk trees */
#define XB_HASH_BYTES 16u /* FILE_END's hash of the whole file after blocks */
#define XB_WEAK_MIN 3u
#define XB_WEAK_MAX 4u
#define XB_STRONG_MIN 2u
#define XB_STRONG_MAX 8u
#define XB_MARGIN 16u /* bits: a false match in a file has a chance of about 2^-16 */
/*
 * Files below XB_FILE_MAX with an old version of at most XB_OLD_MAX are
 * matched in blocks; bigger ones by chunk trees, whose lists then cost less
 * than signatures and which also find bytes that moved between files.
 */
#define XB_FILE_MAX (4u << 20)
#define XB_OLD_MAX (16u << 20)

/*
 * The old version's blocks as SIGS signs them: count whole blocks of len
 * bytes, then, if tail > 0 (less than len), block count of tail bytes.
 */
struct xb_geom {
	uint32_t len, count, tail;
};

/* The blocks signed: count, and one more for a tail. */
static inline uint32_t xb_signed(const struct xb_geom *g)
{
	return g->count + (g->tail > 0);
}
/* The bytes of blocks first .. first + n - 1 (of those signed). */
uint64_t xb_run_bytes(const struct xb_geom *g, uint32_t first, uint32_t n);

/*
 * The block length for an old version of this size: about its square root,
 * as rsync, at least 1 KiB, or 512 bytes when the sender says that its data
 * crosses raw: each literal byte then costs a byte, and smaller blocks find
 * more than their signatures cost; compressed, the signatures cost more.
 */
uint32_t xb_block_len(uint64_t old_size, int raw);
/*
 * The lengths of a block's sums in SIGS for count blocks of an old version
 * of old_size bytes and a new file of size bytes: together enough that a
 * false match (sums that agree on other bytes) anywhere in the file has a
 * chance of about 2^-XB_MARGIN (the file hash catches it; the file then
 * crosses again, whole), the weak part 3 or 4 bytes (see blocks.c).
 */
void xb_sig_lens(uint64_t size, uint64_t old_size, uint32_t count, uint32_t *weak_len,
    uint32_t *strong_len);
/* The weak sum of n bytes. */
uint32_t xb_weak(const uint8_t *p, size_t n);
/* What SIGS carries of a weak sum: its top weak_len bytes after mixing (an odd multiplier). */
uint32_t xb_weak_key(uint32_t w, uint32_t weak_len);
/* A weak key as SIGS carries it: weak_len bytes, big-endian. */
uint32_t xb_key_get(const uint8_t *p, uint32_t weak_len);
void xb_key_put(uint8_t *p, uint32_t key, uint32_t weak_len);
/* The strong sum's first len bytes (h: a MAC under the chunk id key). */
PQX_MUST_CHECK int xb_strong(pqx_hmac *h, uint8_t *out, size_t len, const uint8_t *p, size_t n);

/* The signatures as the sender holds them: looked up by weak sum. */
struct xb_table;

/*
 * sigs: count x (weak key in weak_len bytes big-endian, strong_len bytes of
 * strong), as in the SIGS message, kept by the table. NULL on allocation
 * failure.
 */
struct xb_table *xb_table_new(uint32_t block_len, uint32_t weak_len, uint32_t strong_len,
    const uint8_t *sigs, uint32_t count);
void xb_table_free(struct xb_table *t);
/* The lookups' work so far: slots looked at, plus a step per 64 bytes of strong sums (for tests). */
uint64_t xb_table_work(const struct xb_table *t);

/*
 * Finds the blocks in the file (fd, size bytes, read in order into buf of
 * cap >= 2 * XB_BLOCK_MAX bytes): match(ctx, off, index) for each, in file
 * order, not overlapping. It stops looking once strong sums that did not
 * match have hashed twice the file's size. Every byte is also fed to whole
 * (the file hash) when it is not NULL. A short read is PQX_ERR_TRUNCATED.
 */
PQX_MUST_CHECK int xb_scan(struct xb_table *t, pqx_hmac *h, pqx_hmac *whole, int fd, uint64_t size,
    uint8_t *buf, size_t cap, int (*match)(void *ctx, uint64_t off, uint32_t index), void *ctx);

#endif
