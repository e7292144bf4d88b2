/* pqx: HMAC-SHA256 of many messages under one key at once (16 lanes of AVX-512, or 8 of AVX2, where they pay). */
#ifndef PQX_CRYPTO_HMAC_MB_H
#define PQX_CRYPTO_HMAC_MB_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

#define PQX_HMAC_MB_BYTES 32

typedef struct pqx_hmac_mb_key pqx_hmac_mb_key;

/*
 * A key of at most 64 bytes, ready for pqx_hmac_mb: 16 lanes where the CPU
 * has AVX-512 (F and BW), 8 where it has AVX2 but not the SHA instructions
 * (with them, OpenSSL's one stream is as fast as 8 lanes). NULL elsewhere
 * (or in a build with PORTABLE=1, not x86-64), for a longer key, or without
 * memory: the caller then MACs one message at a time (pqx_hmac_mac).
 * pqx_hmac_mb_free wipes it; NULL is a no-op. A key is only read: threads
 * may share it.
 */
pqx_hmac_mb_key *pqx_hmac_mb_new(const uint8_t *key, size_t key_len);
void pqx_hmac_mb_free(pqx_hmac_mb_key *k);
/* For tests and benchmarks: a key for 16 or 8 lanes, whatever pays here
 * (NULL where the CPU lacks them). */
pqx_hmac_mb_key *pqx_hmac_mb_new_lanes(const uint8_t *key, size_t key_len, int lanes);
/* The lanes of k: 16, 8, or 0 for NULL. */
int pqx_hmac_mb_lanes(const pqx_hmac_mb_key *k);

/*
 * HMAC-SHA256 under k of n messages that lie one after another at msg, of
 * lens[0..n) bytes: out[32 i .. 32 i + 32) is message i's. Returns 0,
 * PQX_ERR_NOMEM, or PQX_ERR_INVALID_ARG for no key; on failure out is
 * zeroed. All lanes run whatever the messages: ask pqx_hmac_mb_pays
 * first.
 */
PQX_MUST_CHECK int pqx_hmac_mb(const pqx_hmac_mb_key *k, const uint8_t *msg,
    const uint32_t *lens, size_t n, uint8_t *out);

/*
 * Whether pqx_hmac_mb under k beats one message at a time (pqx_hmac_mac) on
 * these lengths (0 for no key). Its lanes together run about twice (16
 * lanes, against one SHA-NI stream) or three times (8 lanes, against one
 * stream without the SHA instructions) the rate of one stream, but only
 * while all have work: few messages, or one much longer than the rest (a
 * lane works through it alone), are faster one by one.
 */
int pqx_hmac_mb_pays(const pqx_hmac_mb_key *k, const uint32_t *lens, size_t n);

#endif
