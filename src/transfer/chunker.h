/* pqx: a keyed FastCDC content-defined chunker and keyed chunk ids. */
#ifndef PQX_TRANSFER_CHUNKER_H
#define PQX_TRANSFER_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

#include "crypto/hmac_mb.h"
#include "crypto/ossl.h"

/*
 * FastCDC (Xia et al., USENIX ATC 2016): a gear rolling hash, a cut-point
 * skip over the first min bytes of each chunk, and normalized chunking
 * (level 2): up to the average size a cut needs log2(avg) + 2 hash bits to
 * be zero, after it log2(avg) - 2, and a chunk ends at max regardless.
 *
 * Keying. The 256-entry gear table is SHAKE256(key || "pqx gear"), so the
 * boundaries, and with them the chunk sizes an observer of the traffic sees,
 * depend on the key and do not fingerprint a known file (ePrint 2025/532,
 * 2025/558). Chunk ids are HMAC-SHA256 under a second key,
 * HKDF-SHA256(ikm = key, info = "pqx chunk id"), so they are keyed too.
 *
 * Not constant time, by design: the table is indexed by data bytes (the
 * user's own file) and cuts branch on the hash. The key only chooses the
 * table contents; what the boundaries reveal is the boundaries themselves,
 * from which someone who knows the data could learn about the gear table,
 * but never about the id key, which is derived separately. The key is meant
 * to be per peer pair; do not reuse it elsewhere.
 */

#define PQX_CHUNKER_KEY_BYTES 32
#define PQX_CHUNK_ID_BYTES 32

#define PQX_CHUNKER_MIN_DEFAULT 2048u
#define PQX_CHUNKER_AVG_DEFAULT 8192u
#define PQX_CHUNKER_MAX_DEFAULT 65536u

/* Parameter limits: PQX_CHUNKER_MIN_LIMIT <= min <= avg <= max <=
 * PQX_CHUNKER_MAX_LIMIT, avg a power of two in [2^8, 2^22]. */
#define PQX_CHUNKER_MIN_LIMIT 64u
#define PQX_CHUNKER_MAX_LIMIT (1u << 24)
#define PQX_CHUNKER_AVG_MIN_LIMIT (1u << 8)
#define PQX_CHUNKER_AVG_MAX_LIMIT (1u << 22)

typedef struct pqx_chunker pqx_chunker;

/* Returns 1 if (min, avg, max) is within the limits above, else 0. */
int pqx_chunker_params_ok(size_t min, size_t avg, size_t max);

/*
 * A chunker for one stream at a time, keyed by key. Returns NULL on invalid
 * parameters (pqx_chunker_params_ok), a NULL key or an allocation or
 * key-derivation failure. The chunker holds key-derived secrets: free it with
 * pqx_chunker_free (which wipes them; NULL is a no-op).
 */
pqx_chunker *pqx_chunker_new(
    const uint8_t key[PQX_CHUNKER_KEY_BYTES], size_t min, size_t avg, size_t max);
void pqx_chunker_free(pqx_chunker *c);

/*
 * Streaming. Feed the stream in successive buffers of any sizes; the data is
 * neither copied nor kept, and the state between calls is the hash and the
 * number of bytes since the last cut. Each call scans p[0..n) up to the first
 * chunk boundary in it:
 *  - a chunk ends inside p: returns the offset in p just past its last byte
 *    (>= 1) and sets *chunk_len to the whole chunk's length, which counts the
 *    bytes fed in earlier calls since the last boundary; call again with the
 *    rest of p;
 *  - no chunk ends inside p: returns n and sets *chunk_len to 0.
 * Every chunk length lies in [min, max]. At the end of the stream call
 * pqx_chunker_finish for the last, possibly shorter, chunk.
 */
size_t pqx_chunker_update(pqx_chunker *c, const uint8_t *p, size_t n, size_t *chunk_len);
/* Ends the stream: returns the length of the last chunk (the bytes since the
 * last boundary, 0 if none) and resets the chunker for a new stream. */
size_t pqx_chunker_finish(pqx_chunker *c);
/* Forgets the current stream (as if nothing had been fed). */
void pqx_chunker_reset(pqx_chunker *c);

/*
 * The cuts of a stream that begins at p, without the chunker's stream state
 * (threads may share one chunker): writes the end offsets, from p, of the
 * chunks that end inside p[0..n) to ends[], in order, at most cap of them
 * (n / min + 1 are enough), and returns how many; n < 2^32. The bytes after
 * the last end would begin the next call's stream. Since the hash restarts
 * at each cut, the cuts after a cut depend only on the bytes after it: two
 * streams over the same bytes that share one cut share every cut after it.
 */
size_t pqx_chunker_cuts(const pqx_chunker *c, const uint8_t *p, size_t n, uint32_t *ends, size_t cap);

/*
 * One-shot: splits the whole stream p[0..n) (the chunker is reset before and
 * after). On success returns 0, *lens gets a pqx_malloc'd array of *count
 * chunk lengths summing to n (the caller pqx_frees it; not NULL even when
 * n == 0 and *count == 0). On failure (PQX_ERR_NOMEM) *lens is NULL and
 * *count 0.
 */
PQX_MUST_CHECK int pqx_chunker_split(
    pqx_chunker *c, const uint8_t *p, size_t n, size_t **lens, size_t *count);

/*
 * The chunk id: HMAC-SHA256(id key, chunk[0..len)). The caller holds the
 * whole chunk (at most max bytes). Returns 0, or an error with id zeroed.
 */
PQX_MUST_CHECK int pqx_chunker_id(pqx_chunker *c, uint8_t id[PQX_CHUNK_ID_BYTES],
    const uint8_t *chunk, size_t len);
/* The chunker's HMAC under the id key, for ids of other things than chunks
 * (runs of chunks) and for chunks fed incrementally. */
pqx_hmac *pqx_chunker_idh(pqx_chunker *c);
/* The id key for pqx_hmac_mb (many chunks' ids at once), or NULL where this
 * CPU has no such code: then one at a time with pqx_chunker_idh. */
const pqx_hmac_mb_key *pqx_chunker_idmb(const pqx_chunker *c);

#endif
