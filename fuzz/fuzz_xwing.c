/* pqx fuzz: X-Wing public keys, encapsulation and decapsulation on fuzzed keys, seeds and ciphertexts. */
#include <pqx/mlkem.h>
#include <pqx/xwing.h>

#include "fuzz.h"

/*
 * Input: a selector byte, then fields by mode (selector % 3):
 *
 * 0, round trip: seed, eseed, then bytes XORed into the ciphertext.
 *    pk from the seed agrees between the portable and selected ML-KEM;
 *    encaps then decaps gives ss back; the changed ciphertext decapsulates
 *    to 0 and another ss, or to PQX_ERR_INVALID_KEY (a low-order X25519
 *    share) with ss zeroed.
 * 1, arbitrary pk: pk, eseed. Encaps is deterministic and gives 0 or
 *    PQX_ERR_INVALID_KEY with ct and ss zeroed.
 * 2, arbitrary ct: seed, ct. Decaps is deterministic, agrees between
 *    the two ML-KEM implementations, and gives 0 or PQX_ERR_INVALID_KEY
 *    with ss zeroed.
 */

static uint8_t seed[PQX_XWING_SEED_BYTES], eseed[PQX_XWING_ESEED_BYTES];
static uint8_t pk[PQX_XWING_PUBLIC_KEY_BYTES], pk2[PQX_XWING_PUBLIC_KEY_BYTES];
static uint8_t ct[PQX_XWING_CIPHERTEXT_BYTES], ct2[PQX_XWING_CIPHERTEXT_BYTES];
static uint8_t delta[PQX_XWING_CIPHERTEXT_BYTES];

static void round_trip(struct reader *in)
{
	uint8_t ss[32], ss2[32];
	int r;

	take(in, seed, sizeof(seed));
	take(in, eseed, sizeof(eseed));
	take(in, delta, sizeof(delta));
	pqx_mlkem_force_portable(1);
	FUZZ_ASSERT(pqx_xwing_public_key(pk, seed) == 0);
	pqx_mlkem_force_portable(0);
	FUZZ_ASSERT(pqx_xwing_public_key(pk2, seed) == 0);
	FUZZ_ASSERT(memcmp(pk, pk2, sizeof(pk)) == 0);

	FUZZ_ASSERT(pqx_xwing_encaps_derand(ct, ss, pk, eseed) == 0);
	FUZZ_ASSERT(pqx_xwing_decaps(ss2, ct, seed) == 0);
	FUZZ_ASSERT(memcmp(ss, ss2, 32) == 0);

	if (all_zero(delta, sizeof(delta)))
		return;
	for (size_t i = 0; i < sizeof(ct); i++)
		ct[i] ^= delta[i];
	memset(ss2, 0xaa, sizeof(ss2));
	r = pqx_xwing_decaps(ss2, ct, seed);
	FUZZ_ASSERT(r == 0 || r == PQX_ERR_INVALID_KEY);
	if (r == 0)
		FUZZ_ASSERT(memcmp(ss, ss2, 32) != 0);
	else
		FUZZ_ASSERT(all_zero(ss2, 32));
}

static void any_pk(struct reader *in)
{
	uint8_t ss[32], ss2[32];
	int r, r2;

	take(in, pk, sizeof(pk));
	take(in, eseed, sizeof(eseed));
	memset(ct, 0xaa, sizeof(ct));
	memset(ss, 0xaa, sizeof(ss));
	r = pqx_xwing_encaps_derand(ct, ss, pk, eseed);
	r2 = pqx_xwing_encaps_derand(ct2, ss2, pk, eseed);
	FUZZ_ASSERT(r == r2);
	FUZZ_ASSERT(memcmp(ct, ct2, sizeof(ct)) == 0 && memcmp(ss, ss2, 32) == 0);
	FUZZ_ASSERT(r == 0 || r == PQX_ERR_INVALID_KEY);
	if (r != 0)
		FUZZ_ASSERT(all_zero(ct, sizeof(ct)) && all_zero(ss, 32));
}

static void any_ct(struct reader *in)
{
	uint8_t ss[32], ss2[32];
	int r, r2;

	take(in, seed, sizeof(seed));
	take(in, ct, sizeof(ct));
	pqx_mlkem_force_portable(1);
	memset(ss, 0xaa, sizeof(ss));
	r = pqx_xwing_decaps(ss, ct, seed);
	pqx_mlkem_force_portable(0);
	r2 = pqx_xwing_decaps(ss2, ct, seed);
	FUZZ_ASSERT(r == r2 && memcmp(ss, ss2, 32) == 0);
	FUZZ_ASSERT(r == 0 || r == PQX_ERR_INVALID_KEY);
	if (r != 0)
		FUZZ_ASSERT(all_zero(ss, 32));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader in = { data, size };

	switch (take_u8(&in) % 3) {
	case 0: round_trip(&in); break;
	case 1: any_pk(&in); break;
	default: any_ct(&in); break;
	}
	return 0;
}
