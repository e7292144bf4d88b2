/* pqx: thin wrappers over OpenSSL libcrypto, the only place that calls EVP_*. */
#ifndef PQX_CRYPTO_OSSL_H
#define PQX_CRYPTO_OSSL_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

#define PQX_SHA256_BYTES 32
#define PQX_X25519_BYTES 32
#define PQX_AEAD_KEY_BYTES 32
#define PQX_AEAD_NONCE_BYTES 12
#define PQX_AEAD_TAG_BYTES 16

enum pqx_aead_alg {
	PQX_AEAD_CHACHA20_POLY1305 = 1,
	PQX_AEAD_AES_256_GCM = 2,
};

/*
 * A keyed AEAD, reusable for many messages (the cipher is fetched and keyed
 * once). pqx_aead_new returns NULL on allocation failure or an unknown alg.
 * Seal writes pt_len bytes of ciphertext then the 16-byte tag to ct
 * (ct may equal pt). Open reads ct_len >= 16 bytes (ciphertext || tag) and
 * writes ct_len - 16 bytes to pt (pt may equal ct); a bad tag gives
 * PQX_ERR_AUTH with pt zeroed. Safe to use from one thread at a time.
 */
typedef struct pqx_aead pqx_aead;
pqx_aead *pqx_aead_new(enum pqx_aead_alg alg, const uint8_t key[PQX_AEAD_KEY_BYTES]);
/*
 * Builds OpenSSL's table of ciphers, which a process's first use of any
 * cipher does (0.4-0.5 ms here): a client calls it while it waits for the
 * server, so that its record cipher is ready when the handshake ends.
 */
void pqx_aead_warm(void);
void pqx_aead_free(pqx_aead *a);
PQX_MUST_CHECK int pqx_aead_seal(pqx_aead *a, uint8_t *ct,
    const uint8_t nonce[PQX_AEAD_NONCE_BYTES], const uint8_t *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len);
PQX_MUST_CHECK int pqx_aead_open(pqx_aead *a, uint8_t *pt,
    const uint8_t nonce[PQX_AEAD_NONCE_BYTES], const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len);

/* One-shot forms of the above, for a single message under a key. */
PQX_MUST_CHECK int pqx_aead_seal_once(enum pqx_aead_alg alg, const uint8_t key[32],
    uint8_t *ct, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len);
PQX_MUST_CHECK int pqx_aead_open_once(enum pqx_aead_alg alg, const uint8_t key[32],
    uint8_t *pt, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len);

/* HKDF-SHA256 (RFC 5869). Extract: salt may be NULL/0 (a zero salt). Expand:
 * out_len at most 255 * 32. */
PQX_MUST_CHECK int pqx_hkdf_sha256_extract(uint8_t prk[32], const uint8_t *salt,
    size_t salt_len, const uint8_t *ikm, size_t ikm_len);
PQX_MUST_CHECK int pqx_hkdf_sha256_expand(uint8_t *out, size_t out_len,
    const uint8_t prk[32], const uint8_t *info, size_t info_len);
PQX_MUST_CHECK int pqx_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt,
    size_t salt_len, const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
    size_t info_len);

PQX_MUST_CHECK int pqx_hmac_sha256(uint8_t out[32], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len);
PQX_MUST_CHECK int pqx_sha256(uint8_t out[32], const uint8_t *in, size_t len);

/*
 * HMAC-SHA256 under one key for many messages: the padded key blocks are
 * hashed once, so a short message costs two compressions more than its own
 * (pqx_hmac_sha256 sets up a whole MAC per call). Incremental: init, any
 * number of updates, final; or pqx_hmac_mac for one message. An object is
 * for one thread at a time (pqx_hmac_dup gives another thread its own).
 * pqx_hmac_free wipes the key state; NULL is a no-op.
 */
typedef struct pqx_hmac pqx_hmac;
pqx_hmac *pqx_hmac_new(const uint8_t *key, size_t key_len);
pqx_hmac *pqx_hmac_dup(const pqx_hmac *h);
void pqx_hmac_free(pqx_hmac *h);
PQX_MUST_CHECK int pqx_hmac_init(pqx_hmac *h);
PQX_MUST_CHECK int pqx_hmac_update(pqx_hmac *h, const uint8_t *p, size_t n);
PQX_MUST_CHECK int pqx_hmac_final(pqx_hmac *h, uint8_t out[32]);
PQX_MUST_CHECK int pqx_hmac_mac(pqx_hmac *h, uint8_t out[32], const uint8_t *msg, size_t len);

/* X25519 (RFC 7748). pqx_x25519 fails with PQX_ERR_INVALID_KEY if the result
 * is all zeros (a low-order point), with out zeroed. */
PQX_MUST_CHECK int pqx_x25519(uint8_t out[32], const uint8_t scalar[32],
    const uint8_t point[32]);
PQX_MUST_CHECK int pqx_x25519_base(uint8_t pk[32], const uint8_t sk[32]);
/* Both at once (one scalar multiplication fewer than the two calls):
 * out = X25519(scalar, point) and own_pub = X25519(scalar, 9). */
PQX_MUST_CHECK int pqx_x25519_dh(uint8_t out[32], uint8_t own_pub[32],
    const uint8_t scalar[32], const uint8_t point[32]);
/* out = X25519(scalar, point) where pub = X25519(scalar, 9) is already known
 * (the caller vouches for it): one scalar multiplication, not two. */
PQX_MUST_CHECK int pqx_x25519_known(uint8_t out[32], const uint8_t scalar[32],
    const uint8_t pub[32], const uint8_t point[32]);

/* scrypt (RFC 7914) with N = 2^log_n. */
PQX_MUST_CHECK int pqx_scrypt(uint8_t *out, size_t out_len, const uint8_t *pass,
    size_t pass_len, const uint8_t *salt, size_t salt_len, unsigned int log_n,
    unsigned int r, unsigned int p);

/* Whether this CPU has AES instructions (AES-NI / ARMv8 AES). */
int pqx_cpu_has_aes(void);

#endif
