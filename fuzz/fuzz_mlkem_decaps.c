/* pqx fuzz: ML-KEM decapsulation of arbitrary keys and ciphertexts, all three sets, both implementations. */
#include <pqx/mlkem.h>
#include <pqx/sha3.h>

#include "crypto/mlkem/mlkem.h"
#include "fuzz.h"

/*
 * Input: a selector byte (bits 0-1 the parameter set, bit 2 a valid key
 * made from a 64-byte d || z instead of raw dk bytes), the key material,
 * then the ciphertext. Short fields read as zeros.
 *
 * Properties: the portable and selected (AVX2) implementations give the
 * same code and shared secret; the code is 0, or PQX_ERR_INVALID_KEY exactly
 * when dk's stored H(ek) is wrong, with ss zeroed; and ss equals a
 * reference decapsulation assembled from the K-PKE layer (FIPS 203
 * Algorithm 18): K' if re-encryption gives ct back, else J(z || ct).
 */

struct set {
	const struct mlkem_params *p;
	int (*keygen)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
	int (*decaps)(uint8_t *, const uint8_t *, const uint8_t *);
};

static const struct set sets[3] = {
	{ &pqx_mlkem512_params, pqx_mlkem512_keypair_derand, pqx_mlkem512_decaps },
	{ &pqx_mlkem768_params, pqx_mlkem768_keypair_derand, pqx_mlkem768_decaps },
	{ &pqx_mlkem1024_params, pqx_mlkem1024_keypair_derand, pqx_mlkem1024_decaps },
};

/* Algorithm 18 without the constant-time care: an oracle, not an implementation. */
static int reference_decaps(const struct mlkem_params *p, uint8_t ss[32], const uint8_t *ct,
    const uint8_t *dk)
{
	const size_t pke = p->k * MLKEM_POLYBYTES;
	const uint8_t *ek = dk + pke, *h = ek + p->ek_bytes, *z = h + 32;
	uint8_t hek[32], buf[64], kr[64], cmp[PQX_MLKEM1024_CT_BYTES];
	pqx_keccak_ctx j;

	pqx_sha3_256(hek, ek, p->ek_bytes);
	if (memcmp(hek, h, 32) != 0)
		return PQX_ERR_INVALID_KEY;
	mlkem_indcpa_dec(p, buf, ct, dk);
	memcpy(buf + 32, h, 32);
	pqx_sha3_512(kr, buf, sizeof(buf));
	mlkem_indcpa_enc(p, cmp, ek, buf, kr + 32);
	if (memcmp(cmp, ct, p->ct_bytes) == 0) {
		memcpy(ss, kr, 32);
	} else {
		pqx_shake256_init(&j);
		pqx_keccak_absorb(&j, z, 32);
		pqx_keccak_absorb(&j, ct, p->ct_bytes);
		pqx_keccak_squeeze(&j, ss, 32);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader in = { data, size };
	uint8_t sel = take_u8(&in);
	const struct set *s = &sets[(sel & 3) % 3];
	const struct mlkem_params *p = s->p;
	static uint8_t ek[PQX_MLKEM1024_EK_BYTES], dk[PQX_MLKEM1024_DK_BYTES];
	static uint8_t ct[PQX_MLKEM1024_CT_BYTES];
	uint8_t dz[64], ss1[32], ss2[32], ref[32];
	int r1, r2, rr;

	if (sel & 4) {
		take(&in, dz, sizeof(dz));
		FUZZ_ASSERT(s->keygen(ek, dk, dz, dz + 32) == 0);
	} else {
		take(&in, dk, p->dk_bytes);
	}
	take(&in, ct, p->ct_bytes);

	pqx_mlkem_force_portable(1);
	memset(ss1, 0xaa, sizeof(ss1));
	r1 = s->decaps(ss1, ct, dk);
	pqx_mlkem_force_portable(0);
	memset(ss2, 0xaa, sizeof(ss2));
	r2 = s->decaps(ss2, ct, dk);

	FUZZ_ASSERT(r1 == r2);
	FUZZ_ASSERT(memcmp(ss1, ss2, 32) == 0);
	FUZZ_ASSERT(r1 == 0 || r1 == PQX_ERR_INVALID_KEY);
	if (sel & 4)
		FUZZ_ASSERT(r1 == 0);
	if (r1 != 0)
		FUZZ_ASSERT(all_zero(ss1, 32));

	pqx_mlkem_force_portable(1);
	rr = reference_decaps(p, ref, ct, dk);
	pqx_mlkem_force_portable(0);
	FUZZ_ASSERT(rr == r1);
	if (rr == 0)
		FUZZ_ASSERT(memcmp(ref, ss1, 32) == 0);
	return 0;
}
