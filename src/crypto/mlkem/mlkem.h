/* pqx: ML-KEM internals shared by the layers kem -> indcpa -> poly/sampling -> ntt. */
#ifndef PQX_MLKEM_INTERNAL_H
#define PQX_MLKEM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define MLKEM_N 256
#define MLKEM_Q 3329
#define MLKEM_MAX_K 4
#define MLKEM_SYMBYTES 32
#define MLKEM_POLYBYTES 384

/* A parameter set (FIPS 203 section 8, Table 2). */
struct mlkem_params {
	unsigned int k, eta1, du, dv;
	size_t ek_bytes, dk_bytes, ct_bytes;
};

extern const struct mlkem_params pqx_mlkem512_params, pqx_mlkem768_params,
    pqx_mlkem1024_params;

/*
 * A polynomial of Z_q[X]/(X^256 + 1), coefficients as int16_t. Functions
 * say which representation they take (normal or NTT domain, Montgomery
 * factor, and coefficient bounds). Aligned for the AVX2 code.
 */
typedef struct {
	_Alignas(32) int16_t c[MLKEM_N];
} poly;

typedef struct {
	poly v[MLKEM_MAX_K];
} polyvec;

/*
 * Arithmetic modulo q, inline because it sits in every inner loop.
 *
 * Montgomery reduction: for |a| < q * 2^15, returns a * 2^-16 mod q in
 * (-q, q). QINV = q^-1 mod 2^16; the low half cancels exactly, so the shift
 * is exact. No branch, no division.
 */
#define MLKEM_QINV (-3327)

static inline int16_t mlkem_montgomery_reduce(int32_t a)
{
	int16_t t = (int16_t)(uint16_t)(uint32_t)a;

	t = (int16_t)(uint16_t)(uint32_t)((int32_t)t * MLKEM_QINV);
	return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

/*
 * Barrett reduction: the representative of a mod q in {-(q-1)/2, ...,
 * (q-1)/2}, with v = round(2^26 / q): a multiply and shift, no division.
 */
static inline int16_t mlkem_barrett_reduce(int16_t a)
{
	const int32_t v = ((1 << 26) + MLKEM_Q / 2) / MLKEM_Q;
	int32_t t = (v * a + (1 << 25)) >> 26;

	return (int16_t)(a - t * MLKEM_Q);
}

static inline int16_t mlkem_fqmul(int16_t a, int16_t b)
{
	return mlkem_montgomery_reduce((int32_t)a * b);
}

/*
 * Compress_d (section 4.2.1): round(2^d x / q) mod 2^d for x in [0, q).
 * With n = 2^d x + (q-1)/2, round() is floor(n / q); the division is a
 * multiplication by ceil(2^35 / q) and a shift, exact for n < 13.7 million
 * (here n < 2^23), so no secret reaches a divider (KyberSlash).
 */
static inline uint16_t mlkem_compress(uint16_t x, unsigned int d)
{
	uint64_t n = ((uint64_t)x << d) + (MLKEM_Q - 1) / 2;

	return (uint16_t)(((n * 10321340u) >> 35) & ((1u << d) - 1));
}

/* Decompress_d: round(q y / 2^d). */
static inline uint16_t mlkem_decompress(uint16_t y, unsigned int d)
{
	return (uint16_t)(((uint32_t)y * MLKEM_Q + (1u << (d - 1))) >> d);
}

/* The NTT (ntt.c): zetas in Montgomery form, bit-reversed order. */
extern const int16_t pqx_mlkem_zetas[128];
void mlkem_poly_ntt(poly *r);
void mlkem_poly_invntt_tomont(poly *r);
void mlkem_poly_basemul_acc(poly *r, const poly *a, const poly *b, unsigned int k);

/* Polynomials (poly.c). */
void mlkem_poly_tobytes(uint8_t r[MLKEM_POLYBYTES], const poly *a);
void mlkem_poly_frombytes(poly *r, const uint8_t a[MLKEM_POLYBYTES]);
int mlkem_poly_check_modulus(const uint8_t a[MLKEM_POLYBYTES]);
void mlkem_poly_compress(uint8_t *r, const poly *a, unsigned int d);
void mlkem_poly_decompress(poly *r, const uint8_t *a, unsigned int d);
void mlkem_poly_frommsg(poly *r, const uint8_t msg[MLKEM_SYMBYTES]);
void mlkem_poly_tomsg(uint8_t msg[MLKEM_SYMBYTES], const poly *a);
void mlkem_poly_add(poly *r, const poly *a, const poly *b);
void mlkem_poly_sub(poly *r, const poly *a, const poly *b);
void mlkem_poly_reduce(poly *r);
void mlkem_poly_tomont(poly *r);

/* Sampling (sampling.c). */
/* SampleNTT's rejection loop over buf: returns the new count of r (at most 256). */
unsigned int mlkem_rej_uniform(int16_t *r, unsigned int ctr, const uint8_t *buf, size_t len);
void mlkem_gen_matrix(polyvec a[MLKEM_MAX_K], const uint8_t rho[MLKEM_SYMBYTES],
    int transposed, unsigned int k);
void mlkem_poly_cbd(poly *r, const uint8_t *buf, unsigned int eta);
void mlkem_poly_getnoise(poly *r, const uint8_t seed[MLKEM_SYMBYTES], uint8_t nonce,
    unsigned int eta);
/* Fills polys r[0..n-1] with CBD_eta noise from nonces nonce, nonce + 1, ... */
void mlkem_polys_getnoise(poly *r, unsigned int n, const uint8_t seed[MLKEM_SYMBYTES],
    uint8_t nonce, unsigned int eta);

/* K-PKE (indcpa.c), FIPS 203 Algorithms 13, 14, 15. */
void mlkem_indcpa_keypair_derand(const struct mlkem_params *p, uint8_t *ek,
    uint8_t *dk_pke, const uint8_t d[MLKEM_SYMBYTES]);
void mlkem_indcpa_enc(const struct mlkem_params *p, uint8_t *ct, const uint8_t *ek,
    const uint8_t m[MLKEM_SYMBYTES], const uint8_t r[MLKEM_SYMBYTES]);
void mlkem_indcpa_dec(const struct mlkem_params *p, uint8_t m[MLKEM_SYMBYTES],
    const uint8_t *ct, const uint8_t *dk_pke);

/* The AVX2 backend (the *_avx2.c files), used when pqx_mlkem_use_avx2 is set. */
extern int pqx_mlkem_use_avx2;
#if defined(PQX_ENABLE_AVX2) && defined(__x86_64__)
#if defined(__GNUC__) || defined(__clang__)
#define PQX_HAVE_AVX2 1
void mlkem_poly_ntt_avx2(poly *r);
void mlkem_poly_invntt_tomont_avx2(poly *r);
void mlkem_poly_basemul_acc_avx2(poly *r, const poly *a, const poly *b, unsigned int k);
void mlkem_gen_matrix_avx2(polyvec a[MLKEM_MAX_K], const uint8_t rho[MLKEM_SYMBYTES],
    int transposed, unsigned int k);
void mlkem_polys_getnoise_avx2(poly *r, unsigned int n, const uint8_t seed[MLKEM_SYMBYTES],
    uint8_t nonce, unsigned int eta);
#endif
#endif

#endif
