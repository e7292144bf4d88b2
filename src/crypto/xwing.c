/* pqx: X-Wing, the ML-KEM-768 + X25519 hybrid KEM (draft-connolly-cfrg-xwing-kem-10). */
#include <string.h>

#include <pqx/mlkem.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>

#include "crypto/ossl.h"
#include "util/util.h"

#define XWING_PK_M_BYTES PQX_MLKEM768_EK_BYTES  /* pk_M at pk[0:1184] */
#define XWING_CT_M_BYTES PQX_MLKEM768_CT_BYTES  /* ct_M at ct[0:1088] */

/* XWingLabel, "\./" || "/^\" (the draft's section 5.3). */
static const uint8_t xwing_label[6] = { 0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c };

/* pqx_xwing_key is the key after expandDecapsulationKey (the draft's section 5.2); pk is pk_M || pk_X. */
_Static_assert(sizeof(((pqx_xwing_key *)0)->dk_m) == PQX_MLKEM768_DK_BYTES &&
	sizeof(((pqx_xwing_key *)0)->sk_x) == PQX_X25519_BYTES, "pqx_xwing_key's fields");

/*
 * expandDecapsulationKey: SHAKE256(seed, 96) = d || z || sk_X. Without
 * with_pk_x, pk_X is left for the caller (decaps gets it from its DH).
 */
static int xwing_expand(pqx_xwing_key *k, const uint8_t seed[PQX_XWING_SEED_BYTES],
    int with_pk_x)
{
	uint8_t expanded[96];
	int r = PQX_ERR_INTERNAL;

	pqx_shake256(expanded, sizeof(expanded), seed, PQX_XWING_SEED_BYTES);
	if ((r = pqx_mlkem768_keypair_derand(k->pk, k->dk_m, expanded, expanded + 32)) != 0)
		goto out;
	memcpy(k->sk_x, expanded + 64, sizeof(k->sk_x));
	if (with_pk_x && (r = pqx_x25519_base(k->pk + XWING_PK_M_BYTES, k->sk_x)) != 0)
		goto out;
	r = 0;
out:
	pqx_wipe(expanded, sizeof(expanded));
	if (r != 0)
		pqx_wipe(k, sizeof(*k));
	return r;
}

/* Combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel). */
static void xwing_combiner(uint8_t ss[PQX_XWING_SS_BYTES], const uint8_t ss_m[32],
    const uint8_t ss_x[32], const uint8_t ct_x[32], const uint8_t pk_x[32])
{
	pqx_keccak_ctx h;

	pqx_sha3_256_init(&h);
	pqx_keccak_absorb(&h, ss_m, 32);
	pqx_keccak_absorb(&h, ss_x, 32);
	pqx_keccak_absorb(&h, ct_x, 32);
	pqx_keccak_absorb(&h, pk_x, 32);
	pqx_keccak_absorb(&h, xwing_label, sizeof(xwing_label));
	pqx_keccak_squeeze(&h, ss, PQX_XWING_SS_BYTES);
	pqx_keccak_wipe(&h);
}

int pqx_xwing_public_key(uint8_t pk[PQX_XWING_PUBLIC_KEY_BYTES],
    const uint8_t seed[PQX_XWING_SEED_BYTES])
{
	pqx_xwing_key k;
	int r;

	if ((r = xwing_expand(&k, seed, 1)) != 0)
		goto out;
	memcpy(pk, k.pk, sizeof(k.pk));
	r = 0;
out:
	if (r != 0)
		memset(pk, 0, PQX_XWING_PUBLIC_KEY_BYTES);
	pqx_wipe(&k, sizeof(k));
	return r;
}

int pqx_xwing_keypair(uint8_t pk[PQX_XWING_PUBLIC_KEY_BYTES],
    uint8_t seed[PQX_XWING_SEED_BYTES])
{
	int r;

	if ((r = pqx_randombytes(seed, PQX_XWING_SEED_BYTES)) != 0)
		goto out;
	if ((r = pqx_xwing_public_key(pk, seed)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		pqx_wipe(seed, PQX_XWING_SEED_BYTES);
		memset(pk, 0, PQX_XWING_PUBLIC_KEY_BYTES);
	}
	return r;
}

/*
 * EncapsulateDerand (section 5.4.1). The ML-KEM encapsulation key check of
 * FIPS 203 section 7.2 runs inside pqx_mlkem768_encaps_derand: the draft
 * requires it (section 4) and maps its failure to HPKE's EncapError.
 */
int pqx_xwing_encaps_derand(uint8_t ct[PQX_XWING_CIPHERTEXT_BYTES],
    uint8_t ss[PQX_XWING_SS_BYTES], const uint8_t pk[PQX_XWING_PUBLIC_KEY_BYTES],
    const uint8_t eseed[PQX_XWING_ESEED_BYTES])
{
	const uint8_t *pk_x = pk + XWING_PK_M_BYTES, *ek_x = eseed + 32;
	uint8_t *ct_x = ct + XWING_CT_M_BYTES;
	uint8_t ss_m[32], ss_x[32];
	int r = PQX_ERR_INTERNAL;

	if ((r = pqx_mlkem768_encaps_derand(ct, ss_m, pk, eseed)) != 0)
		goto out;
	/*
	 * ct_X = X25519(ek_X, 9) and ss_X = X25519(ek_X, pk_X) in one call. A
	 * low-order pk_X gives ss_X = 0, which RFC 7748 section 6.1 lets us
	 * refuse; the draft does not require it, but an all-zero share would
	 * leave the X25519 half contributing nothing.
	 */
	if ((r = pqx_x25519_dh(ss_x, ct_x, ek_x, pk_x)) != 0)
		goto out;
	xwing_combiner(ss, ss_m, ss_x, ct_x, pk_x);
	r = 0;
out:
	if (r != 0) {
		memset(ct, 0, PQX_XWING_CIPHERTEXT_BYTES);
		pqx_wipe(ss, PQX_XWING_SS_BYTES);
	}
	pqx_wipe(ss_m, sizeof(ss_m));
	pqx_wipe(ss_x, sizeof(ss_x));
	return r;
}

int pqx_xwing_encaps(uint8_t ct[PQX_XWING_CIPHERTEXT_BYTES], uint8_t ss[PQX_XWING_SS_BYTES],
    const uint8_t pk[PQX_XWING_PUBLIC_KEY_BYTES])
{
	uint8_t eseed[PQX_XWING_ESEED_BYTES];
	int r;

	if ((r = pqx_randombytes(eseed, sizeof(eseed))) != 0)
		goto out;
	r = pqx_xwing_encaps_derand(ct, ss, pk, eseed);
out:
	if (r != 0) {
		memset(ct, 0, PQX_XWING_CIPHERTEXT_BYTES);
		pqx_wipe(ss, PQX_XWING_SS_BYTES);
	}
	pqx_wipe(eseed, sizeof(eseed));
	return r;
}

/*
 * Decapsulate (section 5.5). A corrupted ct_M is not an error: ML-KEM's
 * implicit rejection makes ss pseudo-random. A low-order ct_X is refused;
 * ct_X is public, so the refusal tells an attacker nothing about the key.
 * pk_X: from the expanded key where there is one, else it comes with the DH
 * (the one call computes both).
 */
static int xwing_decaps(uint8_t ss[PQX_XWING_SS_BYTES], const uint8_t ct[PQX_XWING_CIPHERTEXT_BYTES],
    const uint8_t *dk_m, const uint8_t sk_x[PQX_X25519_BYTES], const uint8_t *known_pk_x)
{
	const uint8_t *ct_x = ct + XWING_CT_M_BYTES;
	uint8_t ss_m[32], ss_x[32], pk_x[PQX_X25519_BYTES];
	int r = PQX_ERR_INTERNAL;

	if ((r = pqx_mlkem768_decaps(ss_m, ct, dk_m)) != 0)
		goto out;
	if (known_pk_x != NULL) {
		memcpy(pk_x, known_pk_x, sizeof(pk_x));
		r = pqx_x25519_known(ss_x, sk_x, pk_x, ct_x);
	} else {
		r = pqx_x25519_dh(ss_x, pk_x, sk_x, ct_x);
	}
	if (r != 0)
		goto out;
	xwing_combiner(ss, ss_m, ss_x, ct_x, pk_x);
	r = 0;
out:
	if (r != 0)
		pqx_wipe(ss, PQX_XWING_SS_BYTES);
	pqx_wipe(ss_m, sizeof(ss_m));
	pqx_wipe(ss_x, sizeof(ss_x));
	return r;
}

int pqx_xwing_decaps(uint8_t ss[PQX_XWING_SS_BYTES],
    const uint8_t ct[PQX_XWING_CIPHERTEXT_BYTES], const uint8_t seed[PQX_XWING_SEED_BYTES])
{
	pqx_xwing_key k;
	int r;

	if ((r = xwing_expand(&k, seed, 0)) == 0)
		r = xwing_decaps(ss, ct, k.dk_m, k.sk_x, NULL);
	else
		pqx_wipe(ss, PQX_XWING_SS_BYTES);
	pqx_wipe(&k, sizeof(k));
	return r;
}

int pqx_xwing_key_expand(pqx_xwing_key *k, const uint8_t seed[PQX_XWING_SEED_BYTES])
{
	return xwing_expand(k, seed, 1);
}

int pqx_xwing_decaps_key(uint8_t ss[PQX_XWING_SS_BYTES], const uint8_t ct[PQX_XWING_CIPHERTEXT_BYTES],
    const pqx_xwing_key *k)
{
	return xwing_decaps(ss, ct, k->dk_m, k->sk_x, k->pk + XWING_PK_M_BYTES);
}

void pqx_xwing_key_wipe(pqx_xwing_key *k)
{
	pqx_wipe(k, sizeof(*k));
}
