/* pqx: ML-KEM sampling: SampleNTT (Algorithm 7), SamplePolyCBD (Algorithm 8), PRF. */
#include <string.h>

#include <pqx/sha3.h>

#include "mlkem.h"
#include "util/util.h"

/*
 * The rejection loop of SampleNTT over buf: 12-bit candidates, those below q
 * kept, until r has MLKEM_N. Returns the new count. The matrix is public,
 * so the data-dependent loop leaks nothing secret.
 */
unsigned int mlkem_rej_uniform(int16_t *r, unsigned int ctr, const uint8_t *buf, size_t len)
{
	size_t pos = 0;

	while (ctr < MLKEM_N && pos + 3 <= len) {
		uint16_t d1 = (uint16_t)((buf[pos] | (buf[pos + 1] << 8)) & 0xfff);
		uint16_t d2 = (uint16_t)((buf[pos + 1] >> 4) | (buf[pos + 2] << 4));

		pos += 3;
		if (d1 < MLKEM_Q)
			r[ctr++] = (int16_t)d1;
		if (d2 < MLKEM_Q && ctr < MLKEM_N)
			r[ctr++] = (int16_t)d2;
	}
	return ctr;
}

/* SampleNTT(rho || x || y): a uniform polynomial in the NTT domain. */
static void sample_ntt(poly *r, const uint8_t rho[MLKEM_SYMBYTES], uint8_t x, uint8_t y)
{
	pqx_keccak_ctx xof;
	uint8_t ij[2] = { x, y };
	/* Three blocks give 256 coefficients with overwhelming probability. */
	uint8_t buf[3 * PQX_SHAKE128_RATE];
	unsigned int ctr;

	pqx_shake128_init(&xof);
	pqx_keccak_absorb(&xof, rho, MLKEM_SYMBYTES);
	pqx_keccak_absorb(&xof, ij, 2);
	pqx_keccak_squeeze(&xof, buf, sizeof(buf));
	ctr = mlkem_rej_uniform(r->c, 0, buf, sizeof(buf));
	while (ctr < MLKEM_N) {
		pqx_keccak_squeeze(&xof, buf, PQX_SHAKE128_RATE);
		ctr = mlkem_rej_uniform(r->c, ctr, buf, PQX_SHAKE128_RATE);
	}
}

/*
 * The matrix A-hat of K-PKE (Algorithm 13 lines 3-7): A[i][j] =
 * SampleNTT(rho || j || i); transposed gives A^T for encryption.
 */
void mlkem_gen_matrix(polyvec a[MLKEM_MAX_K], const uint8_t rho[MLKEM_SYMBYTES],
    int transposed, unsigned int k)
{
#ifdef PQX_HAVE_AVX2
	if (pqx_mlkem_use_avx2) {
		mlkem_gen_matrix_avx2(a, rho, transposed, k);
		return;
	}
#endif
	for (unsigned int i = 0; i < k; i++)
		for (unsigned int j = 0; j < k; j++) {
			if (transposed)
				sample_ntt(&a[i].v[j], rho, (uint8_t)i, (uint8_t)j);
			else
				sample_ntt(&a[i].v[j], rho, (uint8_t)j, (uint8_t)i);
		}
}

/*
 * SamplePolyCBD_eta (Algorithm 8) for eta in {2, 3}: each coefficient is
 * the difference of two sums of eta bits, computed with masks over whole
 * words so that no branch or index depends on the secret bits.
 */
void mlkem_poly_cbd(poly *r, const uint8_t *buf, unsigned int eta)
{
	if (eta == 2) {
		for (unsigned int i = 0; i < MLKEM_N / 8; i++) {
			uint32_t t = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
			    (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;
			uint32_t d = (t & 0x55555555u) + ((t >> 1) & 0x55555555u);

			for (unsigned int j = 0; j < 8; j++) {
				int16_t x = (int16_t)((d >> (4 * j)) & 3);
				int16_t y = (int16_t)((d >> (4 * j + 2)) & 3);

				r->c[8 * i + j] = (int16_t)(x - y);
			}
		}
	} else {
		for (unsigned int i = 0; i < MLKEM_N / 4; i++) {
			uint32_t t = (uint32_t)buf[3 * i] | (uint32_t)buf[3 * i + 1] << 8 |
			    (uint32_t)buf[3 * i + 2] << 16;
			uint32_t d = (t & 0x00249249u) + ((t >> 1) & 0x00249249u) +
			    ((t >> 2) & 0x00249249u);

			for (unsigned int j = 0; j < 4; j++) {
				int16_t x = (int16_t)((d >> (6 * j)) & 7);
				int16_t y = (int16_t)((d >> (6 * j + 3)) & 7);

				r->c[4 * i + j] = (int16_t)(x - y);
			}
		}
	}
}

/* SamplePolyCBD_eta(PRF_eta(seed, nonce)), PRF = SHAKE256(seed || nonce, 64 eta). */
void mlkem_poly_getnoise(poly *r, const uint8_t seed[MLKEM_SYMBYTES], uint8_t nonce,
    unsigned int eta)
{
	uint8_t in[MLKEM_SYMBYTES + 1];
	uint8_t buf[3 * 64];

	memcpy(in, seed, MLKEM_SYMBYTES);
	in[MLKEM_SYMBYTES] = nonce;
	pqx_shake256(buf, 64 * eta, in, sizeof(in));
	mlkem_poly_cbd(r, buf, eta);
	pqx_wipe(in, sizeof(in));
	pqx_wipe(buf, sizeof(buf));
}

void mlkem_polys_getnoise(poly *r, unsigned int n, const uint8_t seed[MLKEM_SYMBYTES],
    uint8_t nonce, unsigned int eta)
{
#ifdef PQX_HAVE_AVX2
	if (pqx_mlkem_use_avx2) {
		mlkem_polys_getnoise_avx2(r, n, seed, nonce, eta);
		return;
	}
#endif
	for (unsigned int i = 0; i < n; i++)
		mlkem_poly_getnoise(&r[i], seed, (uint8_t)(nonce + i), eta);
}
