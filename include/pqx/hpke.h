/* pqx: HPKE base mode (RFC 9180) for post-quantum KEMs: seal, open, export. */
#ifndef PQX_HPKE_H
#define PQX_HPKE_H

#include <pqx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PQX_HPKE_KEM_XWING 0x647a   /* MLKEM768-X25519 (X-Wing) */
#define PQX_HPKE_KDF_HKDF_SHA256 0x0001
#define PQX_HPKE_AEAD_AES_256_GCM 0x0002
#define PQX_HPKE_AEAD_CHACHA20_POLY1305 0x0003
#define PQX_HPKE_AEAD_EXPORT_ONLY 0xffff

#define PQX_HPKE_MAX_ENC 1120    /* the largest encapsulation of any KEM we know */
#define PQX_HPKE_MAX_PK 1216
#define PQX_HPKE_MAX_SK 32
#define PQX_HPKE_TAG_BYTES 16
#define PQX_HPKE_MAX_INFO 65535  /* a cap on info, aad and exporter contexts */

/*
 * An HPKE context after SetupBaseS or SetupBaseR. It holds secrets: release
 * it with pqx_hpke_ctx_wipe. The sequence number is per direction; a context
 * refuses to seal or open once it would wrap (PQX_ERR_LIMIT).
 */
typedef struct {
	uint16_t kem_id, kdf_id, aead_id;
	uint8_t key[32];
	uint8_t base_nonce[12];
	uint8_t exporter_secret[32];
	uint64_t seq;
	size_t nk, nn, nh;
} pqx_hpke_ctx;

/* Sizes for a suite's KEM, or 0 if the suite is not supported. */
size_t pqx_hpke_enc_bytes(uint16_t kem_id);
size_t pqx_hpke_pk_bytes(uint16_t kem_id);
size_t pqx_hpke_sk_bytes(uint16_t kem_id);

/*
 * SetupBaseS: encapsulates to pk (pk_len bytes) and derives the sender
 * context. enc receives pqx_hpke_enc_bytes(kem_id) bytes. _derand takes the
 * KEM's encapsulation randomness (for X-Wing, the 64-byte eseed) for tests.
 * Returns 0, PQX_ERR_UNSUPPORTED for an unknown suite, PQX_ERR_INVALID_KEY,
 * PQX_ERR_INVALID_ARG for wrong lengths, PQX_ERR_LIMIT for info over
 * PQX_HPKE_MAX_INFO, PQX_ERR_NOMEM, or PQX_ERR_RANDOM; on error ctx and
 * enc are zeroed (enc only when kem_id is known, as its size is not
 * otherwise).
 *
 * For X-Wing (0x647a) the private key is the 32-byte X-Wing seed and enc is
 * the X-Wing ciphertext. An HPKE test vector's ikmE is the eseed as is;
 * its skRm is DeriveKeyPair(ikmR) = SHAKE256(ikmR || "HPKE-v1" || "KEM" ||
 * I2OSP(0x647a, 2) || I2OSP(13, 2) || "DeriveKeyPair" || I2OSP(32, 2), 32)
 * (draft-ietf-hpke-pq), which this API leaves to the caller.
 */
PQX_MUST_CHECK int pqx_hpke_setup_base_s(pqx_hpke_ctx *ctx, uint8_t *enc,
    uint16_t kem_id, uint16_t kdf_id, uint16_t aead_id,
    const uint8_t *pk, size_t pk_len, const uint8_t *info, size_t info_len);
PQX_MUST_CHECK int pqx_hpke_setup_base_s_derand(pqx_hpke_ctx *ctx, uint8_t *enc,
    uint16_t kem_id, uint16_t kdf_id, uint16_t aead_id,
    const uint8_t *pk, size_t pk_len, const uint8_t *info, size_t info_len,
    const uint8_t *eseed, size_t eseed_len);

/*
 * SetupBaseR: decapsulates enc with sk and derives the receiver context.
 * A wrong or corrupted enc is not detected here (implicit rejection); the
 * first pqx_hpke_open then fails with PQX_ERR_AUTH.
 */
PQX_MUST_CHECK int pqx_hpke_setup_base_r(pqx_hpke_ctx *ctx, uint16_t kem_id,
    uint16_t kdf_id, uint16_t aead_id, const uint8_t *enc, size_t enc_len,
    const uint8_t *sk, size_t sk_len, const uint8_t *info, size_t info_len);

/*
 * Seal writes pt_len + PQX_HPKE_TAG_BYTES bytes to ct; open writes
 * ct_len - PQX_HPKE_TAG_BYTES bytes to pt and fails with PQX_ERR_AUTH (pt
 * zeroed) if the tag does not verify. Each call uses seq, and advances it
 * only on success. ct and pt may be the same buffer. Both return
 * PQX_ERR_UNSUPPORTED for the export-only AEAD and PQX_ERR_LIMIT for aad
 * over PQX_HPKE_MAX_INFO or a spent sequence number; on any error the
 * output is zeroed.
 */
PQX_MUST_CHECK int pqx_hpke_seal(pqx_hpke_ctx *ctx, uint8_t *ct, const uint8_t *aad,
    size_t aad_len, const uint8_t *pt, size_t pt_len);
PQX_MUST_CHECK int pqx_hpke_open(pqx_hpke_ctx *ctx, uint8_t *pt, const uint8_t *aad,
    size_t aad_len, const uint8_t *ct, size_t ct_len);

/*
 * The secret export interface: L bytes (1 to 255 * Nh) bound to the
 * context. Returns 0, PQX_ERR_INVALID_ARG for a bad L, PQX_ERR_LIMIT for a
 * context over PQX_HPKE_MAX_INFO, PQX_ERR_UNSUPPORTED for a wiped ctx, or
 * PQX_ERR_NOMEM; out is zeroed on error.
 */
PQX_MUST_CHECK int pqx_hpke_export(const pqx_hpke_ctx *ctx, uint8_t *out, size_t out_len,
    const uint8_t *exporter_context, size_t context_len);

void pqx_hpke_ctx_wipe(pqx_hpke_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
