/* pqx: the ML-KEM number-theoretic transform (FIPS 203 Algorithms 9, 10, 11, 12). */
#include "mlkem.h"

/*
 * zeta^BitRev7(i) for zeta = 17, times the Montgomery factor 2^16, reduced
 * to (-q/2, q/2). tests/unit/test_mlkem_internal.c recomputes the table.
 */
const int16_t pqx_mlkem_zetas[128] = {
	-1044, -758, -359, -1517, 1493, 1422, 287, 202, -171, 622, 1577, 182,
	962, -1202, -1474, 1468, 573, -1325, 264, 383, -829, 1458, -1602, -130,
	-681, 1017, 732, 608, -1542, 411, -205, -1571, 1223, 652, -552, 1015,
	-1293, 1491, -282, -1544, 516, -8, -320, -666, -1618, -1162, 126, 1469,
	-853, -90, -271, 830, 107, -1421, -247, -951, -398, 961, -1508, -725,
	448, -1065, 677, -1275, -1103, 430, 555, 843, -1251, 871, 1550, 105,
	422, 587, 177, -235, -291, -460, 1574, 1653, -246, 778, 1159, -147,
	-777, 1483, -602, 1119, -1590, 644, -872, 349, 418, 329, -156, -75,
	817, 1097, 603, 610, 1322, -1285, -1465, 384, -1215, -136, 1218, -1335,
	-874, 220, -1187, -1659, -1185, -1530, -1278, 794, -1510, -854, -870, 478,
	-108, -308, 996, 991, 958, -1460, 1522, 1628,
};

/*
 * NTT (Algorithm 9) in place. Input in normal order with |coefficients| < q;
 * output in bit-reversed NTT order, Barrett-reduced to |coefficients| < q
 * (so that basemul may accumulate k products without overflow). The
 * Montgomery factor of the zetas cancels in fqmul, so no factor is added.
 */
static void poly_ntt_c(poly *r)
{
	unsigned int len, start, j, k = 1;

	for (len = 128; len >= 2; len >>= 1) {
		for (start = 0; start < MLKEM_N; start = j + len) {
			int16_t zeta = pqx_mlkem_zetas[k++];

			for (j = start; j < start + len; j++) {
				int16_t t = mlkem_fqmul(zeta, r->c[j + len]);

				r->c[j + len] = (int16_t)(r->c[j] - t);
				r->c[j] = (int16_t)(r->c[j] + t);
			}
		}
	}
	for (j = 0; j < MLKEM_N; j++)
		r->c[j] = mlkem_barrett_reduce(r->c[j]);
}

/*
 * Inverse NTT (Algorithm 10) in place, multiplying by the Montgomery factor
 * 2^16 on the way: f = 2^32 / 128 mod q = 1441 folds the final 1/128 scaling
 * and the factor into one multiplication. Output |coefficients| < q.
 */
static void poly_invntt_tomont_c(poly *r)
{
	const int16_t f = 1441;
	unsigned int len, start, j, k = 127;

	for (len = 2; len <= 128; len <<= 1) {
		for (start = 0; start < MLKEM_N; start = j + len) {
			int16_t zeta = pqx_mlkem_zetas[k--];

			for (j = start; j < start + len; j++) {
				int16_t t = r->c[j];

				r->c[j] = mlkem_barrett_reduce((int16_t)(t + r->c[j + len]));
				r->c[j + len] = (int16_t)(r->c[j + len] - t);
				r->c[j + len] = mlkem_fqmul(zeta, r->c[j + len]);
			}
		}
	}
	for (j = 0; j < MLKEM_N; j++)
		r->c[j] = mlkem_fqmul(r->c[j], f);
}

/*
 * BaseCaseMultiply (Algorithm 12) of a0 + a1 X by b0 + b1 X modulo
 * X^2 - gamma, for the 128 pairs at once (MultiplyNTTs, Algorithm 11),
 * accumulated over k polynomial pairs in 32 bits and reduced once (the sum
 * of an inner product). gamma alternates +zeta, -zeta, hence the table of
 * signs. The result carries a factor 2^-16 and |coefficients| < q.
 * Bounds: inputs below q in magnitude give |acc| < 2 * k * q^2 < q * 2^15.
 */
static void poly_basemul_acc_c(poly *r, const poly *a, const poly *b, unsigned int k)
{
	int32_t acc[MLKEM_N] = { 0 };
	int16_t gamma[MLKEM_N / 2];

	for (unsigned int i = 0; i < MLKEM_N / 2; i++)
		gamma[i] = (int16_t)((i & 1) ? -pqx_mlkem_zetas[64 + i / 2] : pqx_mlkem_zetas[64 + i / 2]);
	for (unsigned int l = 0; l < k; l++) {
		const int16_t *x = a[l].c, *y = b[l].c;

		for (unsigned int i = 0; i < MLKEM_N / 2; i++) {
			int16_t t = mlkem_fqmul(x[2 * i + 1], y[2 * i + 1]);

			acc[2 * i] += (int32_t)t * gamma[i] + (int32_t)x[2 * i] * y[2 * i];
			acc[2 * i + 1] += (int32_t)x[2 * i] * y[2 * i + 1] +
			    (int32_t)x[2 * i + 1] * y[2 * i];
		}
	}
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = mlkem_montgomery_reduce(acc[i]);
}

void mlkem_poly_ntt(poly *r)
{
#ifdef PQX_HAVE_AVX2
	if (pqx_mlkem_use_avx2) {
		mlkem_poly_ntt_avx2(r);
		return;
	}
#endif
	poly_ntt_c(r);
}

void mlkem_poly_invntt_tomont(poly *r)
{
#ifdef PQX_HAVE_AVX2
	if (pqx_mlkem_use_avx2) {
		mlkem_poly_invntt_tomont_avx2(r);
		return;
	}
#endif
	poly_invntt_tomont_c(r);
}

void mlkem_poly_basemul_acc(poly *r, const poly *a, const poly *b, unsigned int k)
{
#ifdef PQX_HAVE_AVX2
	if (pqx_mlkem_use_avx2) {
		mlkem_poly_basemul_acc_avx2(r, a, b, k);
		return;
	}
#endif
	poly_basemul_acc_c(r, a, b, k);
}
