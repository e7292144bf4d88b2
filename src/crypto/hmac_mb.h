/* pqx: HMAC-SHA256 of many messages under one key at once (16 lanes of AVX-512, where the CPU has it). */
#ifndef PQX_CRYPTO_HMAC_MB_H
#define PQX_CRYPTO_HMAC_MB_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

#define PQX_HMAC_MB_BYTES 32

typedef struct pqx_hmac_mb_key pqx_hmac_mb_key;

/*
 * A key of at most 64 bytes, ready for pqx_hmac_mb; NULL where this CPU
 * (or this build: PORTABLE=1, not x86-64) has no AVX-512 (F and BW), for
 * a longer key, or without memory: the caller then MACs one message at a
 * time (pqx_hmac_mac). pqx_hmac_mb_free wipes it; NULL is a no-op. A key is
 * only read: threads may share it.
 */
pqx_hmac_mb_key *pqx_hmac_mb_new(const uint8_t *key, size_t key_len);
void pqx_hmac_mb_free(pqx_hmac_mb_key *k);

/*
 * HMAC-SHA256 under k of n messages that lie one after another at msg, of
 * lens[0..n) bytes: out[32 i .. 32 i + 32) is message i's. Returns 0,
 * PQX_ERR_NOMEM, or PQX_ERR_INVALID_ARG for no key; on failure out is
 * zeroed. All 16 lanes run whatever the messages: ask pqx_hmac_mb_pays
 * first.
 */
PQX_MUST_CHECK int pqx_hmac_mb(const pqx_hmac_mb_key *k, const uint8_t *msg,
    const uint32_t *lens, size_t n, uint8_t *out);

/*
 * Whether pqx_hmac_mb beats one message at a time (pqx_hmac_mac) on these
 * lengths. Its 16 lanes together run about twice one SHA-NI stream, but
 * only while all have work: few messages, or one much longer than the rest
 * (a lane works through it alone), are faster one by one.
 */
int pqx_hmac_mb_pays(const uint32_t *lens, size_t n);

#endif
