/* pqx: Bech32 (BIP 173) encoding of age keys, without the 90-character limit, constant time in the data. */
#ifndef PQX_AGE_BECH32_H
#define PQX_AGE_BECH32_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

/*
 * Bech32 as the age spec uses it: BIP 173 with the original checksum
 * constant 1 (not Bech32m) and no limit on the length of the data part,
 * since an age1pq1 recipient carries 1216 bytes. The human-readable part
 * (HRP) is 1 to 83 characters of ASCII 33..126.
 *
 * Secret keys pass through both directions, so the work on the data part
 * (8<->5 bit conversion, charset mapping, checksum) has no branch and no
 * memory index that depends on its content; only the final verdict branches.
 * The HRP and the lengths are public.
 */

/* The longest HRP BIP 173 allows. */
#define PQX_BECH32_HRP_MAX 83

/*
 * Encodes len bytes at data under hrp. hrp must be all lower or all upper
 * case (it is lower-cased for the checksum, as BIP 173 requires); the whole
 * string comes out in upper case if upper is nonzero, else in lower case.
 * On success *out is a NUL-terminated string from pqx_malloc that the caller
 * frees with pqx_free, or with pqx_free_wipe(p, strlen(p) + 1) when it holds
 * a secret key. Returns 0, PQX_ERR_INVALID_ARG for a bad hrp or a length
 * that would overflow, or PQX_ERR_NOMEM; on failure *out is NULL.
 */
PQX_MUST_CHECK int pqx_bech32_encode(char **out, const char *hrp, const uint8_t *data,
    size_t len, int upper);

/*
 * Decodes the slen bytes at s (no NUL needed; a NUL inside is invalid).
 * Rejects mixed case, characters outside the charset, a bad checksum, a
 * bad HRP, and a data part that does not convert back to bytes strictly
 * (more than 4 padding bits, or padding bits that are not zero), so that
 * every accepted string is the one encoding of its bytes (in its case).
 * On success *hrp is the lower-cased HRP (NUL-terminated, pqx_malloc; free
 * with pqx_free) and *data holds *len bytes (pqx_malloc, even for *len == 0;
 * free with pqx_free_wipe(*data, *len) when secret). Returns 0,
 * PQX_ERR_FORMAT or PQX_ERR_NOMEM; on failure *hrp and *data are NULL and
 * *len is 0.
 */
PQX_MUST_CHECK int pqx_bech32_decode(char **hrp, uint8_t **data, size_t *len, const char *s,
    size_t slen);

#endif
