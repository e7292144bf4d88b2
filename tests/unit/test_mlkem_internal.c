/* pqx tests: ML-KEM internals checked against their definitions (zetas, compression, NTT, CBD). */
#include <string.h>

#include <pqx/mlkem.h>

#include "crypto/mlkem/mlkem.h"
#include "harness.h"

static int modq(long x)
{
	x %= MLKEM_Q;
	return (int)(x < 0 ? x + MLKEM_Q : x);
}

static unsigned brv7(unsigned i)
{
	unsigned r = 0;

	for (int b = 0; b < 7; b++)
		r |= ((i >> b) & 1u) << (6 - b);
	return r;
}

/* zetas[i] = 17^BitRev7(i) * 2^16 mod q, centered. */
static void test_zetas(void)
{
	for (unsigned i = 0; i < 128; i++) {
		long z = 1;

		for (unsigned e = 0; e < brv7(i); e++)
			z = z * 17 % MLKEM_Q;
		z = z * 65536 % MLKEM_Q;
		if (z > MLKEM_Q / 2)
			z -= MLKEM_Q;
		CHECK(pqx_mlkem_zetas[i] == z, "zetas[%u] = %d, want %ld", i, pqx_mlkem_zetas[i], z);
	}
}

/* Compress_d and Decompress_d against the spec's rational formulas, exhaustively. */
static void test_compress(void)
{
	static const unsigned ds[] = { 1, 4, 5, 10, 11 };

	for (unsigned k = 0; k < sizeof(ds) / sizeof(ds[0]); k++) {
		unsigned d = ds[k];

		for (unsigned x = 0; x < MLKEM_Q; x++) {
			/* round(2^d x / q) = floor((2^(d+1) x + q) / (2q)) */
			unsigned want = (unsigned)((((2ul << d) * x + MLKEM_Q) / (2 * MLKEM_Q)) % (1u << d));
			CHECK(mlkem_compress((uint16_t)x, d) == want, "Compress_%u(%u)", d, x);
		}
		for (unsigned y = 0; y < (1u << d); y++) {
			unsigned want = (unsigned)((2ul * MLKEM_Q * y + (1u << d)) / (2ul << d));
			CHECK(mlkem_decompress((uint16_t)y, d) == want, "Decompress_%u(%u)", d, y);
		}
	}
}

/* The reductions on every input in their ranges. */
static void test_reduce(void)
{
	for (long a = -32768; a < 32768; a++) {
		int16_t r = mlkem_barrett_reduce((int16_t)a);
		CHECK(r >= -(MLKEM_Q - 1) / 2 && r <= (MLKEM_Q - 1) / 2 && modq(r) == modq(a),
		    "barrett(%ld) = %d", a, r);
	}
	for (long a = -(long)MLKEM_Q * 32768 + 1; a < (long)MLKEM_Q * 32768; a += 997) {
		int16_t r = mlkem_montgomery_reduce((int32_t)a);
		CHECK(r > -MLKEM_Q && r < MLKEM_Q && modq((long)r * 65536) == modq(a),
		    "montgomery(%ld) = %d", a, r);
	}
}

/* Multiplication through NTT, basemul and inverse NTT against schoolbook negacyclic. */
static void check_ntt_mul(const char *impl)
{
	poly a, b, an, bn, r;
	long want[MLKEM_N];
	uint8_t rnd[2 * MLKEM_N * 2];

	for (int iter = 0; iter < 20; iter++) {
		t_rand(rnd, sizeof(rnd));
		for (int i = 0; i < MLKEM_N; i++) {
			a.c[i] = (int16_t)((rnd[2 * i] | rnd[2 * i + 1] << 8) % MLKEM_Q);
			b.c[i] = (int16_t)((rnd[512 + 2 * i] | rnd[512 + 2 * i + 1] << 8) % MLKEM_Q);
		}
		memset(want, 0, sizeof(want));
		for (int i = 0; i < MLKEM_N; i++)
			for (int j = 0; j < MLKEM_N; j++) {
				long p = (long)a.c[i] * b.c[j];
				if (i + j < MLKEM_N)
					want[i + j] += p;
				else
					want[i + j - MLKEM_N] -= p;
			}
		an = a;
		bn = b;
		mlkem_poly_ntt(&an);
		mlkem_poly_ntt(&bn);
		for (int i = 0; i < MLKEM_N; i++)
			CHECK(an.c[i] > -MLKEM_Q && an.c[i] < MLKEM_Q, "%s: ntt bound", impl);
		mlkem_poly_basemul_acc(&r, &an, &bn, 1);
		mlkem_poly_invntt_tomont(&r);
		/* basemul gives 2^-16, invntt_tomont gives 2^16: none left. */
		for (int i = 0; i < MLKEM_N; i++)
			CHECK(modq(r.c[i]) == modq(want[i]), "%s: product coefficient %d", impl, i);
		if (t_case_failures())
			return;
	}
}

static void test_ntt_portable(void)
{
	pqx_mlkem_force_portable(1);
	check_ntt_mul("portable");
	pqx_mlkem_force_portable(0);
}

static void test_ntt_selected(void)
{
	pqx_mlkem_force_portable(0);
	if (strcmp(pqx_mlkem_impl(), "portable") == 0) {
		t_skip("no AVX2 on this CPU or build; the portable test covers it");
		return;
	}
	check_ntt_mul(pqx_mlkem_impl());
}

/* CBD output range and the encode/decode round trip of 12-bit values. */
static void test_encode(void)
{
	uint8_t buf[MLKEM_POLYBYTES], out[MLKEM_POLYBYTES];
	poly p;

	for (int iter = 0; iter < 100; iter++) {
		t_rand(buf, sizeof(buf));
		mlkem_poly_cbd(&p, buf, 2);
		for (int i = 0; i < MLKEM_N; i++)
			CHECK(p.c[i] >= -2 && p.c[i] <= 2, "cbd2 range");
		mlkem_poly_cbd(&p, buf, 3);
		for (int i = 0; i < MLKEM_N; i++)
			CHECK(p.c[i] >= -3 && p.c[i] <= 3, "cbd3 range");
		mlkem_poly_frombytes(&p, buf);
		mlkem_poly_reduce(&p);
		if (mlkem_poly_check_modulus(buf)) {
			mlkem_poly_tobytes(out, &p);
			CHECK(memcmp(buf, out, sizeof(buf)) == 0, "encode(decode(x)) == x");
		}
	}
}

int main(void)
{
	t_run("mlkem zetas table", test_zetas);
	t_run("mlkem compress/decompress exhaustive", test_compress);
	t_run("mlkem barrett/montgomery reduce", test_reduce);
	t_run("mlkem ntt multiply portable", test_ntt_portable);
	t_run("mlkem ntt multiply selected impl", test_ntt_selected);
	t_run("mlkem cbd and 12-bit encoding", test_encode);
	return t_done();
}
