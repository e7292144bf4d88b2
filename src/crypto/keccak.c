/* pqx: Keccak-f[1600] and the SHA-3 / SHAKE sponges (FIPS 202). */
#include <string.h>

#include <pqx/sha3.h>

#include "util/util.h"

/* The round constants of iota; the 4-way AVX2 permutation uses them too. */
const uint64_t pqx_keccak_rc[24] = {
	0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
	0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
	0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
	0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
	0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
	0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
	0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
	0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

#define ROL(a, n) (((a) << (n)) | ((a) >> (64 - (n))))

/*
 * One round from lanes A (named a<x><y> by the spec's x, y) into lanes E:
 * theta, then rho and pi folded into the reads, then chi and iota. Two
 * rounds per loop iteration swap the roles of A and E, as in the Keccak
 * team's compact implementations, so every lane stays in a register.
 */
#define KECCAK_ROUND(A, E, rc)                                                  \
	do {                                                                    \
		uint64_t c0 = A##00 ^ A##01 ^ A##02 ^ A##03 ^ A##04;            \
		uint64_t c1 = A##10 ^ A##11 ^ A##12 ^ A##13 ^ A##14;            \
		uint64_t c2 = A##20 ^ A##21 ^ A##22 ^ A##23 ^ A##24;            \
		uint64_t c3 = A##30 ^ A##31 ^ A##32 ^ A##33 ^ A##34;            \
		uint64_t c4 = A##40 ^ A##41 ^ A##42 ^ A##43 ^ A##44;            \
		uint64_t d0 = c4 ^ ROL(c1, 1), d1 = c0 ^ ROL(c2, 1);            \
		uint64_t d2 = c1 ^ ROL(c3, 1), d3 = c2 ^ ROL(c4, 1);            \
		uint64_t d4 = c3 ^ ROL(c0, 1);                                  \
		uint64_t b0, b1, b2, b3, b4;                                    \
		/* row y = 0 of the output: from lanes (0,0) (1,1) (2,2) (3,3) (4,4) */ \
		b0 = A##00 ^ d0;                                                \
		b1 = ROL(A##11 ^ d1, 44);                                       \
		b2 = ROL(A##22 ^ d2, 43);                                       \
		b3 = ROL(A##33 ^ d3, 21);                                       \
		b4 = ROL(A##44 ^ d4, 14);                                       \
		E##00 = b0 ^ (~b1 & b2) ^ (rc);                                 \
		E##10 = b1 ^ (~b2 & b3);                                        \
		E##20 = b2 ^ (~b3 & b4);                                        \
		E##30 = b3 ^ (~b4 & b0);                                        \
		E##40 = b4 ^ (~b0 & b1);                                        \
		/* y = 1: from (3,0) (4,1) (0,2) (1,3) (2,4) */                 \
		b0 = ROL(A##30 ^ d3, 28);                                       \
		b1 = ROL(A##41 ^ d4, 20);                                       \
		b2 = ROL(A##02 ^ d0, 3);                                        \
		b3 = ROL(A##13 ^ d1, 45);                                       \
		b4 = ROL(A##24 ^ d2, 61);                                       \
		E##01 = b0 ^ (~b1 & b2);                                        \
		E##11 = b1 ^ (~b2 & b3);                                        \
		E##21 = b2 ^ (~b3 & b4);                                        \
		E##31 = b3 ^ (~b4 & b0);                                        \
		E##41 = b4 ^ (~b0 & b1);                                        \
		/* y = 2: from (1,0) (2,1) (3,2) (4,3) (0,4) */                 \
		b0 = ROL(A##10 ^ d1, 1);                                        \
		b1 = ROL(A##21 ^ d2, 6);                                        \
		b2 = ROL(A##32 ^ d3, 25);                                       \
		b3 = ROL(A##43 ^ d4, 8);                                        \
		b4 = ROL(A##04 ^ d0, 18);                                       \
		E##02 = b0 ^ (~b1 & b2);                                        \
		E##12 = b1 ^ (~b2 & b3);                                        \
		E##22 = b2 ^ (~b3 & b4);                                        \
		E##32 = b3 ^ (~b4 & b0);                                        \
		E##42 = b4 ^ (~b0 & b1);                                        \
		/* y = 3: from (4,0) (0,1) (1,2) (2,3) (3,4) */                 \
		b0 = ROL(A##40 ^ d4, 27);                                       \
		b1 = ROL(A##01 ^ d0, 36);                                       \
		b2 = ROL(A##12 ^ d1, 10);                                       \
		b3 = ROL(A##23 ^ d2, 15);                                       \
		b4 = ROL(A##34 ^ d3, 56);                                       \
		E##03 = b0 ^ (~b1 & b2);                                        \
		E##13 = b1 ^ (~b2 & b3);                                        \
		E##23 = b2 ^ (~b3 & b4);                                        \
		E##33 = b3 ^ (~b4 & b0);                                        \
		E##43 = b4 ^ (~b0 & b1);                                        \
		/* y = 4: from (2,0) (3,1) (4,2) (0,3) (1,4) */                 \
		b0 = ROL(A##20 ^ d2, 62);                                       \
		b1 = ROL(A##31 ^ d3, 55);                                       \
		b2 = ROL(A##42 ^ d4, 39);                                       \
		b3 = ROL(A##03 ^ d0, 41);                                       \
		b4 = ROL(A##14 ^ d1, 2);                                        \
		E##04 = b0 ^ (~b1 & b2);                                        \
		E##14 = b1 ^ (~b2 & b3);                                        \
		E##24 = b2 ^ (~b3 & b4);                                        \
		E##34 = b3 ^ (~b4 & b0);                                        \
		E##44 = b4 ^ (~b0 & b1);                                        \
	} while (0)

/* Lane (x, y) is s[x + 5y]. */
void pqx_keccak_f1600(uint64_t s[25])
{
	uint64_t a00 = s[0], a10 = s[1], a20 = s[2], a30 = s[3], a40 = s[4];
	uint64_t a01 = s[5], a11 = s[6], a21 = s[7], a31 = s[8], a41 = s[9];
	uint64_t a02 = s[10], a12 = s[11], a22 = s[12], a32 = s[13], a42 = s[14];
	uint64_t a03 = s[15], a13 = s[16], a23 = s[17], a33 = s[18], a43 = s[19];
	uint64_t a04 = s[20], a14 = s[21], a24 = s[22], a34 = s[23], a44 = s[24];
	uint64_t e00, e10, e20, e30, e40, e01, e11, e21, e31, e41;
	uint64_t e02, e12, e22, e32, e42, e03, e13, e23, e33, e43;
	uint64_t e04, e14, e24, e34, e44;

	for (int r = 0; r < 24; r += 2) {
		KECCAK_ROUND(a, e, pqx_keccak_rc[r]);
		KECCAK_ROUND(e, a, pqx_keccak_rc[r + 1]);
	}
	s[0] = a00, s[1] = a10, s[2] = a20, s[3] = a30, s[4] = a40;
	s[5] = a01, s[6] = a11, s[7] = a21, s[8] = a31, s[9] = a41;
	s[10] = a02, s[11] = a12, s[12] = a22, s[13] = a32, s[14] = a42;
	s[15] = a03, s[16] = a13, s[17] = a23, s[18] = a33, s[19] = a43;
	s[20] = a04, s[21] = a14, s[22] = a24, s[23] = a34, s[24] = a44;
}

static void keccak_init(pqx_keccak_ctx *ctx, unsigned int rate, uint8_t dsep)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->rate = rate;
	ctx->dsep = dsep;
}

void pqx_shake128_init(pqx_keccak_ctx *ctx)
{
	keccak_init(ctx, PQX_SHAKE128_RATE, 0x1f);
}

void pqx_shake256_init(pqx_keccak_ctx *ctx)
{
	keccak_init(ctx, PQX_SHAKE256_RATE, 0x1f);
}

void pqx_sha3_256_init(pqx_keccak_ctx *ctx)
{
	keccak_init(ctx, 136, 0x06);
}

void pqx_sha3_512_init(pqx_keccak_ctx *ctx)
{
	keccak_init(ctx, 72, 0x06);
}

static void xor_byte(uint64_t s[25], unsigned int i, uint8_t b)
{
	s[i / 8] ^= (uint64_t)b << (8 * (i % 8));
}

void pqx_keccak_absorb(pqx_keccak_ctx *ctx, const uint8_t *in, size_t len)
{
	unsigned int pos = ctx->pos;

	/* Finish a partial block byte by byte, then absorb whole lanes. */
	while (len > 0 && (pos % 8) != 0) {
		xor_byte(ctx->s, pos++, *in++);
		len--;
		if (pos == ctx->rate) {
			pqx_keccak_f1600(ctx->s);
			pos = 0;
		}
	}
	while (len >= 8) {
		ctx->s[pos / 8] ^= pqx_load64_le(in);
		in += 8;
		len -= 8;
		pos += 8;
		if (pos == ctx->rate) {
			pqx_keccak_f1600(ctx->s);
			pos = 0;
		}
	}
	while (len > 0) {
		xor_byte(ctx->s, pos++, *in++);
		len--;
	}
	ctx->pos = pos;
}

void pqx_keccak_finalize(pqx_keccak_ctx *ctx)
{
	if (ctx->squeezing)
		return;
	xor_byte(ctx->s, ctx->pos, ctx->dsep);
	xor_byte(ctx->s, ctx->rate - 1, 0x80);
	pqx_keccak_f1600(ctx->s);
	ctx->pos = 0;
	ctx->squeezing = 1;
}

void pqx_keccak_squeeze(pqx_keccak_ctx *ctx, uint8_t *out, size_t len)
{
	unsigned int pos;

	pqx_keccak_finalize(ctx);
	pos = ctx->pos;
	while (len > 0) {
		if (pos == ctx->rate) {
			pqx_keccak_f1600(ctx->s);
			pos = 0;
		}
		if ((pos % 8) == 0 && len >= 8) {
			pqx_store64_le(out, ctx->s[pos / 8]);
			out += 8;
			len -= 8;
			pos += 8;
		} else {
			*out++ = (uint8_t)(ctx->s[pos / 8] >> (8 * (pos % 8)));
			len--;
			pos++;
		}
	}
	ctx->pos = pos;
}

void pqx_keccak_wipe(pqx_keccak_ctx *ctx)
{
	pqx_wipe(ctx, sizeof(*ctx));
}

void pqx_sha3_256(uint8_t out[PQX_SHA3_256_BYTES], const uint8_t *in, size_t len)
{
	pqx_keccak_ctx ctx;

	pqx_sha3_256_init(&ctx);
	pqx_keccak_absorb(&ctx, in, len);
	pqx_keccak_squeeze(&ctx, out, PQX_SHA3_256_BYTES);
	pqx_keccak_wipe(&ctx);
}

void pqx_sha3_512(uint8_t out[PQX_SHA3_512_BYTES], const uint8_t *in, size_t len)
{
	pqx_keccak_ctx ctx;

	pqx_sha3_512_init(&ctx);
	pqx_keccak_absorb(&ctx, in, len);
	pqx_keccak_squeeze(&ctx, out, PQX_SHA3_512_BYTES);
	pqx_keccak_wipe(&ctx);
}

void pqx_shake128(uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
{
	pqx_keccak_ctx ctx;

	pqx_shake128_init(&ctx);
	pqx_keccak_absorb(&ctx, in, len);
	pqx_keccak_squeeze(&ctx, out, outlen);
	pqx_keccak_wipe(&ctx);
}

void pqx_shake256(uint8_t *out, size_t outlen, const uint8_t *in, size_t len)
{
	pqx_keccak_ctx ctx;

	pqx_shake256_init(&ctx);
	pqx_keccak_absorb(&ctx, in, len);
	pqx_keccak_squeeze(&ctx, out, outlen);
	pqx_keccak_wipe(&ctx);
}
