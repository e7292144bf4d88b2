/* pqx fuzz: ML-KEM encapsulation to arbitrary keys, and round trips from fuzzed seeds, both implementations. */
#include <pqx/mlkem.h>

#include "crypto/mlkem/mlkem.h"
#include "fuzz.h"

/*
 * Input: a selector byte (bits 0-1 the parameter set, bit 2 a key pair
 * made from a 64-byte d || z instead of a raw ek), the key material, then
 * the 32-byte m.
 *
 * Properties: encapsulation is deterministic in (ek, m); the portable and
 * selected (AVX2) implementations agree on the code, ct and ss (and on
 * the key pair); an ek is refused with PQX_ERR_INVALID_KEY, outputs
 * zeroed, exactly when a 12-bit t-hat coefficient is >= q (FIPS 203
 * section 7.2, checked here independently); and with a generated key pair
 * decapsulation gives back ss.
 */

struct set {
	const struct mlkem_params *p;
	int (*keygen)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
	int (*encaps)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
	int (*decaps)(uint8_t *, const uint8_t *, const uint8_t *);
};

static const struct set sets[3] = {
	{ &pqx_mlkem512_params, pqx_mlkem512_keypair_derand, pqx_mlkem512_encaps_derand,
	    pqx_mlkem512_decaps },
	{ &pqx_mlkem768_params, pqx_mlkem768_keypair_derand, pqx_mlkem768_encaps_derand,
	    pqx_mlkem768_decaps },
	{ &pqx_mlkem1024_params, pqx_mlkem1024_keypair_derand, pqx_mlkem1024_encaps_derand,
	    pqx_mlkem1024_decaps },
};

/* ByteDecode_12 then "every coefficient < q", written from the spec. */
static int ek_valid(const struct mlkem_params *p, const uint8_t *ek)
{
	for (size_t i = 0; i < p->k * MLKEM_POLYBYTES; i += 3) {
		unsigned a = ek[i] | (unsigned)(ek[i + 1] & 0x0f) << 8;
		unsigned b = (unsigned)ek[i + 1] >> 4 | (unsigned)ek[i + 2] << 4;

		if (a >= MLKEM_Q || b >= MLKEM_Q)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader in = { data, size };
	uint8_t sel = take_u8(&in);
	const struct set *s = &sets[(sel & 3) % 3];
	const struct mlkem_params *p = s->p;
	static uint8_t ek[PQX_MLKEM1024_EK_BYTES], dk[PQX_MLKEM1024_DK_BYTES];
	static uint8_t ek2[PQX_MLKEM1024_EK_BYTES], dk2[PQX_MLKEM1024_DK_BYTES];
	static uint8_t ct1[PQX_MLKEM1024_CT_BYTES], ct2[PQX_MLKEM1024_CT_BYTES];
	static uint8_t ct3[PQX_MLKEM1024_CT_BYTES];
	uint8_t dz[64], m[32], ss1[32], ss2[32], ss3[32], ss4[32];
	int r1, r2, r3, valid;

	if (sel & 4) {
		take(&in, dz, sizeof(dz));
		pqx_mlkem_force_portable(1);
		FUZZ_ASSERT(s->keygen(ek, dk, dz, dz + 32) == 0);
		pqx_mlkem_force_portable(0);
		FUZZ_ASSERT(s->keygen(ek2, dk2, dz, dz + 32) == 0);
		FUZZ_ASSERT(memcmp(ek, ek2, p->ek_bytes) == 0);
		FUZZ_ASSERT(memcmp(dk, dk2, p->dk_bytes) == 0);
	} else {
		take(&in, ek, p->ek_bytes);
	}
	take(&in, m, sizeof(m));
	valid = ek_valid(p, ek);
	if (sel & 4)
		FUZZ_ASSERT(valid);

	pqx_mlkem_force_portable(1);
	memset(ct1, 0xaa, sizeof(ct1));
	memset(ss1, 0xaa, sizeof(ss1));
	r1 = s->encaps(ct1, ss1, ek, m);
	pqx_mlkem_force_portable(0);
	memset(ct2, 0xaa, sizeof(ct2));
	memset(ss2, 0xaa, sizeof(ss2));
	r2 = s->encaps(ct2, ss2, ek, m);
	r3 = s->encaps(ct3, ss3, ek, m);

	FUZZ_ASSERT(r1 == r2 && r2 == r3);
	FUZZ_ASSERT(memcmp(ct1, ct2, p->ct_bytes) == 0 && memcmp(ct2, ct3, p->ct_bytes) == 0);
	FUZZ_ASSERT(memcmp(ss1, ss2, 32) == 0 && memcmp(ss2, ss3, 32) == 0);
	if (!valid) {
		FUZZ_ASSERT(r1 == PQX_ERR_INVALID_KEY);
		FUZZ_ASSERT(all_zero(ct1, p->ct_bytes) && all_zero(ss1, 32));
		return 0;
	}
	FUZZ_ASSERT(r1 == 0);
	if (sel & 4) {
		FUZZ_ASSERT(s->decaps(ss4, ct1, dk) == 0);
		FUZZ_ASSERT(memcmp(ss4, ss1, 32) == 0);
	}
	return 0;
}
