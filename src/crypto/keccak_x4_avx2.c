/* pqx: Keccak-f[1600] on four states at once with AVX2, and the x4 sponge around it. */
#include "crypto/keccak_x4.h"

#ifdef PQX_HAVE_KECCAKX4
#include <immintrin.h>
#include <string.h>

#include "util/util.h"


/*
 * AVX2 has no 64-bit rotate; two shifts and an OR do it, except that a
 * rotation by a whole number of bytes is one byte shuffle, and a left shift
 * by one is an addition, which more execution ports can take than shifts.
 * n is always a literal, so the choice folds away.
 */
#define XOR(a, b) _mm256_xor_si256((a), (b))
#define ROLV(x, n)                                                               \
	((n) == 8 ? _mm256_shuffle_epi8((x), rho8) :                             \
	 (n) == 56 ? _mm256_shuffle_epi8((x), rho56) :                           \
	 (n) == 1 ? _mm256_or_si256(_mm256_add_epi64((x), (x)),                  \
			_mm256_srli_epi64((x), 63)) :                              \
		     _mm256_or_si256(_mm256_slli_epi64((x), (n)),                 \
			 _mm256_srli_epi64((x), 64 - (n))))
/* chi: b0 ^ (~b1 & b2); andnot computes ~first & second. */
#define CHI(b0, b1, b2) XOR((b0), _mm256_andnot_si256((b1), (b2)))

/*
 * One round from lanes A (a<x><y>) into lanes E, the same schedule as the
 * scalar KECCAK_ROUND in keccak.c (theta, rho and pi folded into the reads,
 * chi, iota) with each variable holding one lane of all four states.
 */
#define KECCAKX4_ROUND(A, E, rc)                                                \
	do {                                                                    \
		__m256i c0 = XOR(XOR(XOR(A##00, A##01), XOR(A##02, A##03)), A##04); \
		__m256i c1 = XOR(XOR(XOR(A##10, A##11), XOR(A##12, A##13)), A##14); \
		__m256i c2 = XOR(XOR(XOR(A##20, A##21), XOR(A##22, A##23)), A##24); \
		__m256i c3 = XOR(XOR(XOR(A##30, A##31), XOR(A##32, A##33)), A##34); \
		__m256i c4 = XOR(XOR(XOR(A##40, A##41), XOR(A##42, A##43)), A##44); \
		__m256i d0 = XOR(c4, ROLV(c1, 1)), d1 = XOR(c0, ROLV(c2, 1));   \
		__m256i d2 = XOR(c1, ROLV(c3, 1)), d3 = XOR(c2, ROLV(c4, 1));   \
		__m256i d4 = XOR(c3, ROLV(c0, 1));                              \
		__m256i b0, b1, b2, b3, b4;                                     \
		b0 = XOR(A##00, d0);                                            \
		b1 = ROLV(XOR(A##11, d1), 44);                                  \
		b2 = ROLV(XOR(A##22, d2), 43);                                  \
		b3 = ROLV(XOR(A##33, d3), 21);                                  \
		b4 = ROLV(XOR(A##44, d4), 14);                                  \
		E##00 = XOR(CHI(b0, b1, b2), _mm256_set1_epi64x((long long)(rc))); \
		E##10 = CHI(b1, b2, b3);                                        \
		E##20 = CHI(b2, b3, b4);                                        \
		E##30 = CHI(b3, b4, b0);                                        \
		E##40 = CHI(b4, b0, b1);                                        \
		b0 = ROLV(XOR(A##30, d3), 28);                                  \
		b1 = ROLV(XOR(A##41, d4), 20);                                  \
		b2 = ROLV(XOR(A##02, d0), 3);                                   \
		b3 = ROLV(XOR(A##13, d1), 45);                                  \
		b4 = ROLV(XOR(A##24, d2), 61);                                  \
		E##01 = CHI(b0, b1, b2);                                        \
		E##11 = CHI(b1, b2, b3);                                        \
		E##21 = CHI(b2, b3, b4);                                        \
		E##31 = CHI(b3, b4, b0);                                        \
		E##41 = CHI(b4, b0, b1);                                        \
		b0 = ROLV(XOR(A##10, d1), 1);                                   \
		b1 = ROLV(XOR(A##21, d2), 6);                                   \
		b2 = ROLV(XOR(A##32, d3), 25);                                  \
		b3 = ROLV(XOR(A##43, d4), 8);                                   \
		b4 = ROLV(XOR(A##04, d0), 18);                                  \
		E##02 = CHI(b0, b1, b2);                                        \
		E##12 = CHI(b1, b2, b3);                                        \
		E##22 = CHI(b2, b3, b4);                                        \
		E##32 = CHI(b3, b4, b0);                                        \
		E##42 = CHI(b4, b0, b1);                                        \
		b0 = ROLV(XOR(A##40, d4), 27);                                  \
		b1 = ROLV(XOR(A##01, d0), 36);                                  \
		b2 = ROLV(XOR(A##12, d1), 10);                                  \
		b3 = ROLV(XOR(A##23, d2), 15);                                  \
		b4 = ROLV(XOR(A##34, d3), 56);                                  \
		E##03 = CHI(b0, b1, b2);                                        \
		E##13 = CHI(b1, b2, b3);                                        \
		E##23 = CHI(b2, b3, b4);                                        \
		E##33 = CHI(b3, b4, b0);                                        \
		E##43 = CHI(b4, b0, b1);                                        \
		b0 = ROLV(XOR(A##20, d2), 62);                                  \
		b1 = ROLV(XOR(A##31, d3), 55);                                  \
		b2 = ROLV(XOR(A##42, d4), 39);                                  \
		b3 = ROLV(XOR(A##03, d0), 41);                                  \
		b4 = ROLV(XOR(A##14, d1), 2);                                   \
		E##04 = CHI(b0, b1, b2);                                        \
		E##14 = CHI(b1, b2, b3);                                        \
		E##24 = CHI(b2, b3, b4);                                        \
		E##34 = CHI(b3, b4, b0);                                        \
		E##44 = CHI(b4, b0, b1);                                        \
	} while (0)

#define LD(i) _mm256_load_si256((const __m256i *)&st->s[4 * (i)])
#define ST(i, v) _mm256_store_si256((__m256i *)&st->s[4 * (i)], (v))

void pqx_keccakx4_f1600(pqx_keccakx4_state *st)
{
	/* Byte shuffles rotating each 64-bit lane left by 8 and by 56 bits. */
	const __m256i rho8 = _mm256_setr_epi8(7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10,
	    11, 12, 13, 14, 7, 0, 1, 2, 3, 4, 5, 6, 15, 8, 9, 10, 11, 12, 13, 14);
	const __m256i rho56 = _mm256_setr_epi8(1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12,
	    13, 14, 15, 8, 1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8);
	__m256i a00 = LD(0), a10 = LD(1), a20 = LD(2), a30 = LD(3), a40 = LD(4);
	__m256i a01 = LD(5), a11 = LD(6), a21 = LD(7), a31 = LD(8), a41 = LD(9);
	__m256i a02 = LD(10), a12 = LD(11), a22 = LD(12), a32 = LD(13), a42 = LD(14);
	__m256i a03 = LD(15), a13 = LD(16), a23 = LD(17), a33 = LD(18), a43 = LD(19);
	__m256i a04 = LD(20), a14 = LD(21), a24 = LD(22), a34 = LD(23), a44 = LD(24);
	__m256i e00, e10, e20, e30, e40, e01, e11, e21, e31, e41;
	__m256i e02, e12, e22, e32, e42, e03, e13, e23, e33, e43;
	__m256i e04, e14, e24, e34, e44;

	for (int r = 0; r < 24; r += 2) {
		KECCAKX4_ROUND(a, e, pqx_keccak_rc[r]);
		KECCAKX4_ROUND(e, a, pqx_keccak_rc[r + 1]);
	}
	ST(0, a00), ST(1, a10), ST(2, a20), ST(3, a30), ST(4, a40);
	ST(5, a01), ST(6, a11), ST(7, a21), ST(8, a31), ST(9, a41);
	ST(10, a02), ST(11, a12), ST(12, a22), ST(13, a32), ST(14, a42);
	ST(15, a03), ST(16, a13), ST(17, a23), ST(18, a33), ST(19, a43);
	ST(20, a04), ST(21, a14), ST(22, a24), ST(23, a34), ST(24, a44);
}

/* XORs one block of rate bytes from each in[j] + off into the states. */
static void keccakx4_xor_block(pqx_keccakx4_state *st, unsigned int rate,
    const uint8_t *const in[4], size_t off)
{
	for (unsigned int i = 0; i < rate / 8; i++)
		for (unsigned int j = 0; j < 4; j++)
			st->s[4 * i + j] ^= pqx_load64_le(in[j] + off + 8 * i);
}

void pqx_keccakx4_absorb_once(pqx_keccakx4_state *st, unsigned int rate,
    const uint8_t *const in[4], size_t len, uint8_t dsep)
{
	size_t off = 0, rem, i;

	memset(st, 0, sizeof(*st));
	for (; len - off >= rate; off += rate) {
		keccakx4_xor_block(st, rate, in, off);
		pqx_keccakx4_f1600(st);
	}
	/*
	 * The final partial block goes straight into the lanes, with no padded
	 * copy that would hold key material and need wiping.
	 */
	rem = len - off;
	for (unsigned int j = 0; j < 4; j++) {
		const uint8_t *p = in[j] + off;
		uint64_t last = 0;

		for (i = 0; i + 8 <= rem; i += 8)
			st->s[4 * (i / 8) + j] ^= pqx_load64_le(p + i);
		for (size_t b = i; b < rem; b++)
			last |= (uint64_t)p[b] << (8 * (b - i));
		last ^= (uint64_t)dsep << (8 * (rem - i));
		st->s[4 * (i / 8) + j] ^= last;
		st->s[4 * (rate / 8 - 1) + j] ^= 0x80ULL << 56;
	}
}

/*
 * Copies the first rate bytes of each state out. Four lanes at a time go
 * through a 4x4 transpose of 64-bit words, so that each instance gets one
 * 32-byte store instead of four 8-byte ones.
 */
static void keccakx4_extract(uint8_t *const out[4], size_t off,
    const pqx_keccakx4_state *st, unsigned int rate)
{
	unsigned int i = 0;

	for (; i + 4 <= rate / 8; i += 4) {
		__m256i l0 = _mm256_load_si256((const __m256i *)&st->s[4 * i]);
		__m256i l1 = _mm256_load_si256((const __m256i *)&st->s[4 * i + 4]);
		__m256i l2 = _mm256_load_si256((const __m256i *)&st->s[4 * i + 8]);
		__m256i l3 = _mm256_load_si256((const __m256i *)&st->s[4 * i + 12]);
		/* t0 = (l0[0], l1[0], l0[2], l1[2]), t1 = (l0[1], l1[1], ...) */
		__m256i t0 = _mm256_unpacklo_epi64(l0, l1), t1 = _mm256_unpackhi_epi64(l0, l1);
		__m256i t2 = _mm256_unpacklo_epi64(l2, l3), t3 = _mm256_unpackhi_epi64(l2, l3);

		_mm256_storeu_si256((__m256i *)(out[0] + off + 8 * i),
		    _mm256_permute2x128_si256(t0, t2, 0x20));
		_mm256_storeu_si256((__m256i *)(out[1] + off + 8 * i),
		    _mm256_permute2x128_si256(t1, t3, 0x20));
		_mm256_storeu_si256((__m256i *)(out[2] + off + 8 * i),
		    _mm256_permute2x128_si256(t0, t2, 0x31));
		_mm256_storeu_si256((__m256i *)(out[3] + off + 8 * i),
		    _mm256_permute2x128_si256(t1, t3, 0x31));
	}
	for (; i < rate / 8; i++)
		for (unsigned int j = 0; j < 4; j++)
			pqx_store64_le(out[j] + off + 8 * i, st->s[4 * i + j]);
}

void pqx_keccakx4_squeezeblocks(uint8_t *const out[4], size_t nblocks,
    pqx_keccakx4_state *st, unsigned int rate)
{
	for (size_t b = 0; b < nblocks; b++) {
		pqx_keccakx4_f1600(st);
		keccakx4_extract(out, b * rate, st, rate);
	}
}
#endif
