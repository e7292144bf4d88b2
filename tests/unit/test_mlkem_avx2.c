/* pqx tests: the AVX2 ML-KEM backend against the portable code, function by function and end to end. */
#include <stdlib.h>
#include <string.h>

#include <pqx/mlkem.h>
#include <pqx/sha3.h>

#include "crypto/keccak_x4.h"
#include "crypto/mlkem/mlkem.h"
#include "harness.h"

/*
 * The portable code passes the NIST ACVP vectors, so agreeing
 * with it on every output is the correctness claim for the AVX2 code. Each
 * internal function runs once with pqx_mlkem_use_avx2 = 0 (portable) and
 * once with 1, through the same public dispatcher.
 */

static int modq(int x)
{
	x %= MLKEM_Q;
	return x < 0 ? x + MLKEM_Q : x;
}

/* Selects AVX2 where the CPU and build have it; else skips the case. */
static int need_avx2(void)
{
	pqx_mlkem_force_portable(0);
	if (strcmp(pqx_mlkem_impl(), "avx2") != 0) {
		t_skip("no AVX2 on this CPU or in this build (PORTABLE=1)");
		return 0;
	}
	return 1;
}

static uint16_t rand16(void)
{
	uint8_t b[2];

	t_rand(b, sizeof(b));
	return (uint16_t)(b[0] | b[1] << 8);
}

/* A value in (-bound, bound), uniform. */
static int16_t rand_below(int bound)
{
	return (int16_t)((int)(rand16() % (unsigned)(2 * bound - 1)) - (bound - 1));
}

/*
 * Fills p with coefficients in (-bound, bound): pattern 0 random, 1 all
 * bound - 1, 2 all -(bound - 1), 3 alternating extremes, 4 random extremes,
 * 5 zero, 6 random with a few extremes mixed in.
 */
static void fill_poly(poly *p, int pattern, int bound)
{
	for (int i = 0; i < MLKEM_N; i++) {
		int16_t hi = (int16_t)(bound - 1), v;

		switch (pattern) {
		case 1: v = hi; break;
		case 2: v = (int16_t)-hi; break;
		case 3: v = (i & 1) ? hi : (int16_t)-hi; break;
		case 4: v = (rand16() & 1) ? hi : (int16_t)-hi; break;
		case 5: v = 0; break;
		case 6: v = (rand16() % 8 == 0) ? ((rand16() & 1) ? hi : (int16_t)-hi) : rand_below(bound); break;
		default: v = rand_below(bound); break;
		}
		p->c[i] = v;
	}
}

#define PATTERNS 7

/* Same residues mod q, and both within |c| < q. */
static int same_modq_bounded(const poly *a, const poly *b)
{
	for (int i = 0; i < MLKEM_N; i++) {
		if (a->c[i] <= -MLKEM_Q || a->c[i] >= MLKEM_Q)
			return 0;
		if (b->c[i] <= -MLKEM_Q || b->c[i] >= MLKEM_Q)
			return 0;
		if (modq(a->c[i]) != modq(b->c[i]))
			return 0;
	}
	return 1;
}

static void test_keccakx4(void)
{
#ifdef PQX_HAVE_KECCAKX4
	static const unsigned int rates[] = { PQX_SHAKE128_RATE, PQX_SHAKE256_RATE, 136 };
	uint8_t in[4][400], out[4][3 * PQX_SHAKE128_RATE], ref[3 * PQX_SHAKE128_RATE];
	const uint8_t *const inp[4] = { in[0], in[1], in[2], in[3] };
	pqx_keccakx4_state st;

	if (!need_avx2())
		return;
	t_rand(&in[0][0], sizeof(in));
	for (size_t len = 0; len <= sizeof(in[0]); len += (len < 180 ? 1 : 13)) {
		for (unsigned int v = 0; v < 3; v++) {
			unsigned int rate = rates[v];
			uint8_t dsep = v == 2 ? 0x06 : 0x1f; /* v = 2: SHA3-256 */
			uint8_t *const o1[4] = { out[0], out[1], out[2], out[3] };
			uint8_t *const o2[4] = { out[0] + 2 * rate, out[1] + 2 * rate,
				out[2] + 2 * rate, out[3] + 2 * rate };

			/* Two blocks, then one more: squeezing resumes correctly. */
			pqx_keccakx4_absorb_once(&st, rate, inp, len, dsep);
			pqx_keccakx4_squeezeblocks(o1, 2, &st, rate);
			pqx_keccakx4_squeezeblocks(o2, 1, &st, rate);
			for (unsigned int j = 0; j < 4; j++) {
				size_t n = 3 * rate;

				if (v == 0)
					pqx_shake128(ref, n, in[j], len);
				else if (v == 1)
					pqx_shake256(ref, n, in[j], len);
				else {
					pqx_sha3_256(ref, in[j], len);
					n = PQX_SHA3_256_BYTES;
				}
				CHECK(memcmp(ref, out[j], n) == 0, "keccak x4 rate %u len %zu lane %u",
				    rate, len, j);
			}
		}
		if (t_case_failures())
			return;
	}
#else
	t_skip("Keccak x4 not built (PORTABLE=1 or not x86-64)");
#endif
}

/*
 * Counts SampleNTT outputs that need more than the three first SHAKE128
 * blocks, so that the test can insist that the refill path ran.
 */
static unsigned int needs_refill(const uint8_t rho[32], unsigned int x, unsigned int y)
{
	uint8_t in[34], buf[3 * PQX_SHAKE128_RATE];
	unsigned int n = 0;

	memcpy(in, rho, 32);
	in[32] = (uint8_t)x;
	in[33] = (uint8_t)y;
	pqx_shake128(buf, sizeof(buf), in, sizeof(in));
	for (size_t i = 0; i < sizeof(buf); i += 3) {
		n += (unsigned)(((buf[i] | buf[i + 1] << 8) & 0xfff) < MLKEM_Q);
		n += (unsigned)(((buf[i + 1] >> 4) | buf[i + 2] << 4) < MLKEM_Q);
	}
	return n < MLKEM_N;
}

static void test_gen_matrix(void)
{
	static polyvec a[MLKEM_MAX_K], b[MLKEM_MAX_K];
	uint8_t rho[32];
	unsigned int refills = 0;

	if (!need_avx2())
		return;
	for (int iter = 0; iter < 100; iter++) {
		t_rand(rho, sizeof(rho));
		for (unsigned int k = 2; k <= 4; k++) {
			for (int tr = 0; tr < 2; tr++) {
				memset(a, 0x55, sizeof(a));
				memset(b, 0xaa, sizeof(b));
				pqx_mlkem_use_avx2 = 0;
				mlkem_gen_matrix(a, rho, tr, k);
				pqx_mlkem_use_avx2 = 1;
				mlkem_gen_matrix(b, rho, tr, k);
				for (unsigned int i = 0; i < k; i++)
					for (unsigned int j = 0; j < k; j++) {
						CHECK_EQ_MEM(&a[i].v[j], &b[i].v[j], sizeof(poly),
						    "gen_matrix k %u transposed %d entry %u,%u", k, tr, i, j);
						if (k == 4 && tr == 0)
							refills += needs_refill(rho, j, i);
					}
			}
		}
		if (t_case_failures())
			return;
	}
	CHECK(refills > 0, "no matrix entry needed a fourth SHAKE128 block; widen the test");
}

static void test_getnoise(void)
{
	poly a[9], b[9];
	uint8_t seed[32], nonce;

	if (!need_avx2())
		return;
	for (int iter = 0; iter < 200; iter++) {
		t_rand(seed, sizeof(seed));
		t_rand(&nonce, 1);
		for (unsigned int eta = 2; eta <= 3; eta++) {
			for (unsigned int n = 1; n <= 8; n++) {
				/* The poly after the last must stay untouched. */
				memset(a, 0x55, sizeof(a));
				memset(b, 0x55, sizeof(b));
				pqx_mlkem_use_avx2 = 0;
				mlkem_polys_getnoise(a, n, seed, nonce, eta);
				pqx_mlkem_use_avx2 = 1;
				mlkem_polys_getnoise(b, n, seed, nonce, eta);
				CHECK(memcmp(a, b, sizeof(a)) == 0, "getnoise eta %u n %u nonce %u", eta,
				    n, nonce);
			}
		}
		if (t_case_failures())
			return;
	}
}

static void test_ntt(void)
{
	poly in, a, b;

	if (!need_avx2())
		return;
	for (int iter = 0; iter < 2000; iter++) {
		fill_poly(&in, iter % PATTERNS, MLKEM_Q);
		a = b = in;
		pqx_mlkem_use_avx2 = 0;
		mlkem_poly_ntt(&a);
		pqx_mlkem_use_avx2 = 1;
		mlkem_poly_ntt(&b);
		/* Both reduce to the centered representative: equal outright. */
		CHECK(memcmp(&a, &b, sizeof(a)) == 0, "ntt pattern %d iter %d", iter % PATTERNS, iter);
		CHECK(same_modq_bounded(&a, &b), "ntt bound");
		if (t_case_failures())
			return;
	}
}

static void test_invntt(void)
{
	poly in, a, b;

	if (!need_avx2())
		return;
	for (int iter = 0; iter < 2000; iter++) {
		fill_poly(&in, iter % PATTERNS, MLKEM_Q);
		a = b = in;
		pqx_mlkem_use_avx2 = 0;
		mlkem_poly_invntt_tomont(&a);
		pqx_mlkem_use_avx2 = 1;
		mlkem_poly_invntt_tomont(&b);
		CHECK(same_modq_bounded(&a, &b), "invntt pattern %d iter %d", iter % PATTERNS, iter);
		if (t_case_failures())
			return;
	}
}

static void test_basemul(void)
{
	static poly x[MLKEM_MAX_K], y[MLKEM_MAX_K];
	poly a, b;

	if (!need_avx2())
		return;
	for (int iter = 0; iter < 1000; iter++) {
		for (unsigned int k = 1; k <= MLKEM_MAX_K; k++) {
			for (unsigned int l = 0; l < k; l++) {
				fill_poly(&x[l], (iter + (int)l) % PATTERNS, MLKEM_Q);
				fill_poly(&y[l], (iter / PATTERNS + 3 * (int)l) % PATTERNS, MLKEM_Q);
			}
			pqx_mlkem_use_avx2 = 0;
			mlkem_poly_basemul_acc(&a, x, y, k);
			pqx_mlkem_use_avx2 = 1;
			mlkem_poly_basemul_acc(&b, x, y, k);
			CHECK(same_modq_bounded(&a, &b), "basemul k %u iter %d", k, iter);
		}
		if (t_case_failures())
			return;
	}
}

/* The whole KEM, portable against AVX2, including an implicit rejection. */
#define KEM_CASE(name, EKB, DKB, CTB)                                                   \
	static void test_kem_##name(void)                                              \
	{                                                                              \
		static uint8_t ek[2][EKB], dk[2][DKB], ct[2][CTB];                     \
		uint8_t d[32], z[32], m[32], ss[2][32], ss2[2][32], ss3[2][32];        \
                                                                                       \
		if (!need_avx2())                                                      \
			return;                                                        \
		for (int iter = 0; iter < 50; iter++) {                                \
			t_rand(d, 32);                                                 \
			t_rand(z, 32);                                                 \
			t_rand(m, 32);                                                 \
			for (int v = 0; v < 2; v++) {                                  \
				pqx_mlkem_force_portable(v == 0);                      \
				CHECK(pqx_##name##_keypair_derand(ek[v], dk[v], d, z) == 0); \
				CHECK(pqx_##name##_encaps_derand(ct[v], ss[v], ek[v], m) == 0); \
				CHECK(pqx_##name##_decaps(ss2[v], ct[v], dk[v]) == 0);   \
				ct[v][iter % CTB] ^= (uint8_t)(1u << (iter % 8));      \
				CHECK(pqx_##name##_decaps(ss3[v], ct[v], dk[v]) == 0);   \
			}                                                              \
			CHECK(strcmp(pqx_mlkem_impl(), "avx2") == 0);                  \
			CHECK_EQ_MEM(ek[0], ek[1], EKB, #name " ek iter %d", iter);    \
			CHECK_EQ_MEM(dk[0], dk[1], DKB, #name " dk iter %d", iter);    \
			CHECK_EQ_MEM(ct[0], ct[1], CTB, #name " ct iter %d", iter);    \
			CHECK_EQ_MEM(ss[0], ss[1], 32, #name " ss iter %d", iter);     \
			CHECK_EQ_MEM(ss[1], ss2[1], 32, #name " decaps iter %d", iter); \
			CHECK_EQ_MEM(ss3[0], ss3[1], 32, #name " reject iter %d", iter); \
			CHECK(memcmp(ss3[1], ss[1], 32) != 0, #name " reject iter %d", iter); \
			if (t_case_failures())                                         \
				return;                                                \
		}                                                                      \
	}

KEM_CASE(mlkem512, PQX_MLKEM512_EK_BYTES, PQX_MLKEM512_DK_BYTES, PQX_MLKEM512_CT_BYTES)
KEM_CASE(mlkem768, PQX_MLKEM768_EK_BYTES, PQX_MLKEM768_DK_BYTES, PQX_MLKEM768_CT_BYTES)
KEM_CASE(mlkem1024, PQX_MLKEM1024_EK_BYTES, PQX_MLKEM1024_DK_BYTES, PQX_MLKEM1024_CT_BYTES)

int main(void)
{
	t_run("mlkem avx2 keccak x4 vs scalar shake/sha3", test_keccakx4);
	t_run("mlkem avx2 gen_matrix vs portable", test_gen_matrix);
	t_run("mlkem avx2 getnoise vs portable", test_getnoise);
	t_run("mlkem avx2 ntt vs portable", test_ntt);
	t_run("mlkem avx2 invntt vs portable", test_invntt);
	t_run("mlkem avx2 basemul vs portable", test_basemul);
	t_run("mlkem avx2 kem-512 vs portable", test_kem_mlkem512);
	t_run("mlkem avx2 kem-768 vs portable", test_kem_mlkem768);
	t_run("mlkem avx2 kem-1024 vs portable", test_kem_mlkem1024);
	pqx_mlkem_force_portable(0);
	return t_done();
}
