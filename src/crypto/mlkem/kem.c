/* pqx: ML-KEM key generation, encapsulation and decapsulation (FIPS 203 Algorithms 16-21). */
#include <string.h>

#include <pqx/mlkem.h>
#include <pqx/sha3.h>

#include "mlkem.h"
#include "util/util.h"

const struct mlkem_params pqx_mlkem512_params = { 2, 3, 10, 4, 800, 1632, 768 };
const struct mlkem_params pqx_mlkem768_params = { 3, 2, 10, 4, 1184, 2400, 1088 };
const struct mlkem_params pqx_mlkem1024_params = { 4, 2, 11, 5, 1568, 3168, 1568 };

#define MLKEM_MAX_CT_BYTES 1568

int pqx_mlkem_use_avx2;

/*
 * Picks the implementation once, when the library loads, so that threads
 * never race on the choice. pqx_mlkem_force_portable (tests, benchmarks)
 * changes it afterwards and is documented as not thread-safe.
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor))
#endif
static void mlkem_select_impl(void)
{
#ifdef PQX_HAVE_AVX2
	__builtin_cpu_init();
	/* The AVX2 objects are built with -mbmi2 and use popcnt too. */
	pqx_mlkem_use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") &&
	    __builtin_cpu_supports("popcnt");
#endif
}

const char *pqx_mlkem_impl(void)
{
	return pqx_mlkem_use_avx2 ? "avx2" : "portable";
}

void pqx_mlkem_force_portable(int on)
{
	pqx_mlkem_use_avx2 = 0;
	if (!on)
		mlkem_select_impl();
}

/* The encapsulation key check of section 7.2: every t-hat coefficient < q. */
static int ek_check(const struct mlkem_params *p, const uint8_t *ek)
{
	for (unsigned int i = 0; i < p->k; i++)
		if (!mlkem_poly_check_modulus(ek + i * MLKEM_POLYBYTES))
			return 0;
	return 1;
}

/* ML-KEM.KeyGen_internal(d, z) (Algorithm 16): dk = dk_pke || ek || H(ek) || z. */
static int kem_keypair_derand(const struct mlkem_params *p, uint8_t *ek, uint8_t *dk,
    const uint8_t d[32], const uint8_t z[32])
{
	const size_t pke = p->k * MLKEM_POLYBYTES;

	mlkem_indcpa_keypair_derand(p, ek, dk, d);
	memcpy(dk + pke, ek, p->ek_bytes);
	pqx_sha3_256(dk + pke + p->ek_bytes, ek, p->ek_bytes);
	memcpy(dk + pke + p->ek_bytes + 32, z, 32);
	return 0;
}

static int kem_keypair(const struct mlkem_params *p, uint8_t *ek, uint8_t *dk)
{
	uint8_t dz[64];
	int r;

	if ((r = pqx_randombytes(dz, sizeof(dz))) != 0) {
		memset(ek, 0, p->ek_bytes);
		memset(dk, 0, p->dk_bytes);
		return r;
	}
	r = kem_keypair_derand(p, ek, dk, dz, dz + 32);
	pqx_wipe(dz, sizeof(dz));
	return r;
}

/* ML-KEM.Encaps_internal(ek, m) (Algorithm 17), after the key check. */
static int kem_encaps_derand(const struct mlkem_params *p, uint8_t *ct, uint8_t ss[32],
    const uint8_t *ek, const uint8_t m[32])
{
	uint8_t buf[64], kr[64];

	if (!ek_check(p, ek)) {
		memset(ct, 0, p->ct_bytes);
		memset(ss, 0, 32);
		return PQX_ERR_INVALID_KEY;
	}
	/* (K, r) = G(m || H(ek)) */
	memcpy(buf, m, 32);
	pqx_sha3_256(buf + 32, ek, p->ek_bytes);
	pqx_sha3_512(kr, buf, sizeof(buf));
	mlkem_indcpa_enc(p, ct, ek, m, kr + 32);
	memcpy(ss, kr, 32);
	pqx_wipe(buf, sizeof(buf));
	pqx_wipe(kr, sizeof(kr));
	return 0;
}

static int kem_encaps(const struct mlkem_params *p, uint8_t *ct, uint8_t ss[32],
    const uint8_t *ek)
{
	uint8_t m[32];
	int r;

	if ((r = pqx_randombytes(m, sizeof(m))) != 0) {
		memset(ct, 0, p->ct_bytes);
		memset(ss, 0, 32);
		return r;
	}
	r = kem_encaps_derand(p, ct, ss, ek, m);
	pqx_wipe(m, sizeof(m));
	return r;
}

/*
 * ML-KEM.Decaps (Algorithm 21 via Algorithm 18), after the decapsulation
 * key check of section 7.3. The re-encryption comparison and the choice
 * between K' and the rejection key J(z || c) are constant time: which one
 * was taken must not show in timing, or the KEM loses CCA security.
 */
static int kem_decaps(const struct mlkem_params *p, uint8_t ss[32], const uint8_t *ct,
    const uint8_t *dk)
{
	const size_t pke = p->k * MLKEM_POLYBYTES;
	const uint8_t *ek = dk + pke, *h = dk + pke + p->ek_bytes, *z = h + 32;
	uint8_t hek[32], buf[64], kr[64], kbar[32];
	uint8_t cmp[MLKEM_MAX_CT_BYTES];
	pqx_keccak_ctx j;
	int ok;

	pqx_sha3_256(hek, ek, p->ek_bytes);
	if (!pqx_ct_memeq(hek, h, 32)) {
		memset(ss, 0, 32);
		return PQX_ERR_INVALID_KEY;
	}

	mlkem_indcpa_dec(p, buf, ct, dk);
	memcpy(buf + 32, h, 32);
	pqx_sha3_512(kr, buf, sizeof(buf));
	mlkem_indcpa_enc(p, cmp, ek, buf, kr + 32);

	/* K-bar = J(z || c) = SHAKE256(z || c, 32) */
	pqx_shake256_init(&j);
	pqx_keccak_absorb(&j, z, 32);
	pqx_keccak_absorb(&j, ct, p->ct_bytes);
	pqx_keccak_squeeze(&j, kbar, 32);

	ok = pqx_ct_memeq(ct, cmp, p->ct_bytes);
	memcpy(ss, kbar, 32);
	pqx_ct_cmov(ss, kr, 32, (uint8_t)ok);

	pqx_keccak_wipe(&j);
	pqx_wipe(buf, sizeof(buf));
	pqx_wipe(kr, sizeof(kr));
	pqx_wipe(kbar, sizeof(kbar));
	pqx_wipe(cmp, sizeof(cmp));
	return 0;
}

#define PQX_MLKEM_DEFINE(name, params, ekb, dkb, ctb)                                  \
	int pqx_##name##_keypair_derand(uint8_t ek[ekb], uint8_t dk[dkb],                \
	    const uint8_t d[32], const uint8_t z[32])                                   \
	{                                                                               \
		return kem_keypair_derand(&params, ek, dk, d, z);                       \
	}                                                                               \
	int pqx_##name##_keypair(uint8_t ek[ekb], uint8_t dk[dkb])                      \
	{                                                                               \
		return kem_keypair(&params, ek, dk);                                    \
	}                                                                               \
	int pqx_##name##_encaps_derand(uint8_t ct[ctb], uint8_t ss[32],                  \
	    const uint8_t ek[ekb], const uint8_t m[32])                                 \
	{                                                                               \
		return kem_encaps_derand(&params, ct, ss, ek, m);                       \
	}                                                                               \
	int pqx_##name##_encaps(uint8_t ct[ctb], uint8_t ss[32], const uint8_t ek[ekb])  \
	{                                                                               \
		return kem_encaps(&params, ct, ss, ek);                                 \
	}                                                                               \
	int pqx_##name##_decaps(uint8_t ss[32], const uint8_t ct[ctb],                   \
	    const uint8_t dk[dkb])                                                      \
	{                                                                               \
		return kem_decaps(&params, ss, ct, dk);                                 \
	}

PQX_MLKEM_DEFINE(mlkem512, pqx_mlkem512_params, 800, 1632, 768)
PQX_MLKEM_DEFINE(mlkem768, pqx_mlkem768_params, 1184, 2400, 1088)
PQX_MLKEM_DEFINE(mlkem1024, pqx_mlkem1024_params, 1568, 3168, 1568)
