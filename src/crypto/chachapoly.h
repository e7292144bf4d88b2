/* pqx: ChaCha20-Poly1305 (RFC 8439), ours: the channel handshake's, without OpenSSL's cipher tables. */
#ifndef PQX_CRYPTO_CHACHAPOLY_H
#define PQX_CRYPTO_CHACHAPOLY_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

/* The longest message: 2^32 - 1 blocks of key stream after the MAC key's. */
#define PQX_CHACHAPOLY_MAX (((uint64_t)1 << 38) - 64)

/*
 * ct (n + 16 bytes: the ciphertext, then the tag) = ChaCha20-Poly1305 of
 * pt (n bytes) under key and nonce, with ad; ct may be pt. 0, or
 * PQX_ERR_INVALID_ARG for a message over PQX_CHACHAPOLY_MAX.
 */
PQX_MUST_CHECK int pqx_chachapoly_seal(uint8_t *ct, const uint8_t key[32],
    const uint8_t nonce[12], const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t n);
/*
 * pt (ct_len - 16 bytes) from ct; pt may be ct. PQX_ERR_AUTH if the tag
 * is wrong or ct is shorter than one, and then pt is zeroed (what of it
 * there is). The tag is compared in constant time.
 */
PQX_MUST_CHECK int pqx_chachapoly_open(uint8_t *pt, const uint8_t key[32],
    const uint8_t nonce[12], const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len);

/* For tests: Poly1305 of whole 16-byte blocks (n a multiple of 16, else PQX_ERR_INVALID_ARG). */
PQX_MUST_CHECK int pqx_poly1305_blocks(uint8_t tag[16], const uint8_t key[32], const uint8_t *m,
    size_t n);

#endif
