/*
 * pqx: AES-256-GCM (NIST SP 800-38D, 96-bit nonces), ours, for x86-64 CPUs
 * with AES and carry-less multiplication on 512-bit vectors (VAES and
 * VPCLMULQDQ with AVX-512: Intel from Ice Lake, AMD from Zen 4), where
 * OpenSSL 3.0 runs 128-bit code at about half the speed. Elsewhere
 * pqx_gcm_new returns NULL and the caller uses OpenSSL's.
 */
#ifndef PQX_CRYPTO_AESGCM_H
#define PQX_CRYPTO_AESGCM_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

/* The longest message: 2^32 - 2 blocks of key stream. */
#define PQX_GCM_MAX ((((uint64_t)1 << 32) - 2) * 16)

typedef struct pqx_gcm pqx_gcm;

/* Whether this CPU runs ours (PQX_GCM=openssl in the environment says no). */
int pqx_gcm_available(void);
/* Keyed: the round keys and the powers of H. NULL where unavailable, or out of memory. */
pqx_gcm *pqx_gcm_new(const uint8_t key[32]);
void pqx_gcm_free(pqx_gcm *g);
/*
 * ct (n + 16 bytes: the ciphertext, then the tag) from pt; ct may be pt.
 * 0, or PQX_ERR_INVALID_ARG for a message over PQX_GCM_MAX (ct untouched).
 */
PQX_MUST_CHECK int pqx_gcm_seal(const pqx_gcm *g, uint8_t *ct, const uint8_t nonce[12],
    const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t n);
/*
 * pt (ct_len - 16 bytes) from ct; pt may be ct. PQX_ERR_AUTH if the tag is
 * wrong or ct is shorter than one, and then pt is zeroed. The tag is
 * compared in constant time.
 */
PQX_MUST_CHECK int pqx_gcm_open(const pqx_gcm *g, uint8_t *pt, const uint8_t nonce[12],
    const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len);

#endif
