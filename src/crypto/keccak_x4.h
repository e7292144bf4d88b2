/* pqx: four Keccak-f[1600] sponges side by side in AVX2 registers (internal). */
#ifndef PQX_KECCAK_X4_H
#define PQX_KECCAK_X4_H

#include <stddef.h>
#include <stdint.h>

/* Keccak's round constants (keccak.c). */
extern const uint64_t pqx_keccak_rc[24];

#include <pqx/sha3.h>

/*
 * Built only where the Makefile builds the *_avx2.c files (x86-64 without
 * PORTABLE=1, which defines PQX_ENABLE_AVX2) with GCC or clang, the same
 * condition as PQX_HAVE_AVX2 in mlkem/mlkem.h; callers run it only where
 * the CPU has AVX2 (pqx_mlkem_use_avx2).
 */
#if defined(PQX_ENABLE_AVX2) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PQX_HAVE_KECCAKX4 1

/*
 * Four independent Keccak states, interleaved so that one 256-bit load
 * gives the same lane of all four: lane i (i = x + 5y) of state j is
 * s[4 * i + j]. It holds secret state when an input is secret: wipe it
 * with pqx_wipe.
 */
typedef struct {
	_Alignas(32) uint64_t s[100];
} pqx_keccakx4_state;

/* Keccak-f[1600], 24 rounds, applied to each of the four states. */
void pqx_keccakx4_f1600(pqx_keccakx4_state *st);

/*
 * Starts four sponges of the given rate (bytes, a multiple of 8 up to 168)
 * and absorbs in[j] (each len bytes) into state j, then pads with the
 * domain separation byte dsep (0x1f for SHAKE) and the final 0x80. The
 * next call is pqx_keccakx4_squeezeblocks.
 */
void pqx_keccakx4_absorb_once(pqx_keccakx4_state *st, unsigned int rate,
    const uint8_t *const in[4], size_t len, uint8_t dsep);

/*
 * Squeezes nblocks whole blocks of rate bytes from each sponge into out[j]
 * (nblocks * rate bytes each); may be called again for more.
 */
void pqx_keccakx4_squeezeblocks(uint8_t *const out[4], size_t nblocks,
    pqx_keccakx4_state *st, unsigned int rate);

static inline void pqx_shake128x4_absorb_once(pqx_keccakx4_state *st,
    const uint8_t *const in[4], size_t len)
{
	pqx_keccakx4_absorb_once(st, PQX_SHAKE128_RATE, in, len, 0x1f);
}

static inline void pqx_shake256x4_absorb_once(pqx_keccakx4_state *st,
    const uint8_t *const in[4], size_t len)
{
	pqx_keccakx4_absorb_once(st, PQX_SHAKE256_RATE, in, len, 0x1f);
}

#endif
#endif
