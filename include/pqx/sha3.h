/* pqx: SHA-3 and SHAKE (FIPS 202) with incremental absorb and squeeze. */
#ifndef PQX_SHA3_H
#define PQX_SHA3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PQX_SHA3_256_BYTES 32
#define PQX_SHA3_512_BYTES 64
#define PQX_SHAKE128_RATE 168
#define PQX_SHAKE256_RATE 136

/*
 * One Keccak sponge. Absorb any number of times, then finalize once, then
 * squeeze any number of times (for SHAKE) or read the digest (for SHA-3).
 * The context holds secret state when the input is secret: pqx_keccak_wipe it.
 */
typedef struct {
	uint64_t s[25];
	unsigned int pos;  /* bytes absorbed into, or squeezed from, the block */
	unsigned int rate; /* block size in bytes */
	uint8_t dsep;      /* domain separation byte: 0x06 SHA-3, 0x1f SHAKE */
	uint8_t squeezing;
} pqx_keccak_ctx;

/* The Keccak-f[1600] permutation, 24 rounds, lanes little-endian. */
void pqx_keccak_f1600(uint64_t s[25]);

void pqx_shake128_init(pqx_keccak_ctx *ctx);
void pqx_shake256_init(pqx_keccak_ctx *ctx);
void pqx_sha3_256_init(pqx_keccak_ctx *ctx);
void pqx_sha3_512_init(pqx_keccak_ctx *ctx);
/* Absorbs more input; only before the first squeeze. */
void pqx_keccak_absorb(pqx_keccak_ctx *ctx, const uint8_t *in, size_t len);
/* Pads and switches to squeezing; called implicitly by the first squeeze. */
void pqx_keccak_finalize(pqx_keccak_ctx *ctx);
/* Squeezes len more bytes of output; may be called again for more. */
void pqx_keccak_squeeze(pqx_keccak_ctx *ctx, uint8_t *out, size_t len);
/* Wipes the state. */
void pqx_keccak_wipe(pqx_keccak_ctx *ctx);

/* One-shot helpers. */
void pqx_sha3_256(uint8_t out[PQX_SHA3_256_BYTES], const uint8_t *in, size_t len);
void pqx_sha3_512(uint8_t out[PQX_SHA3_512_BYTES], const uint8_t *in, size_t len);
void pqx_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t len);
void pqx_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t len);

#ifdef __cplusplus
}
#endif
#endif
