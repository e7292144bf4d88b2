/* pqx fuzz: HPKE SetupBaseR and Open on fuzzed encapsulations, ciphertexts, info and aad. */
#include <pqx/hpke.h>
#include <pqx/xwing.h>

#include "fuzz.h"

/*
 * Input: a selector byte (bits 0-1 the AEAD: AES-256-GCM, ChaCha20-Poly1305
 * or export-only; bit 2 arbitrary mode), then lengths (two bytes each,
 * little-endian) and fields.
 *
 * Arbitrary mode: seed, enc, info, aad and ct straight from the input,
 * through SetupBaseR and up to four Opens and an Export. Every call
 * returns 0 or a negative PQX_ERR_* code with its output zeroed; a failed
 * Open leaves seq alone.
 *
 * Sender mode: a real sender (seed, eseed, info, aad, message from the
 * input) seals; then a byte mask from the input is XORed into enc, info,
 * aad or ct. Unchanged, the receiver opens the message; changed, the open
 * fails with PQX_ERR_AUTH (or SetupBaseR refuses a low-order share).
 */

#define MAX_FIELD 600

static const uint16_t aeads[3] = { PQX_HPKE_AEAD_AES_256_GCM,
	PQX_HPKE_AEAD_CHACHA20_POLY1305, PQX_HPKE_AEAD_EXPORT_ONLY };

static uint8_t seed[32], eseed[64], pk[PQX_XWING_PUBLIC_KEY_BYTES];
static uint8_t enc[PQX_XWING_CIPHERTEXT_BYTES], enc_mask[PQX_XWING_CIPHERTEXT_BYTES];
static uint8_t info[MAX_FIELD], aad[MAX_FIELD], msg[MAX_FIELD], pt[MAX_FIELD];
static uint8_t ct[MAX_FIELD + 16], mask[MAX_FIELD + 16];

/* A length field: two bytes, little-endian, taken modulo max + 1. */
static size_t take_len(struct reader *in, size_t max)
{
	uint8_t b[2];

	take(in, b, 2);
	return ((size_t)b[0] | (size_t)b[1] << 8) % (max + 1);
}

static int known_error(int r)
{
	return r == PQX_ERR_AUTH || r == PQX_ERR_INVALID_KEY || r == PQX_ERR_UNSUPPORTED ||
	    r == PQX_ERR_INVALID_ARG || r == PQX_ERR_LIMIT;
}

static void arbitrary(struct reader *in, uint16_t aead)
{
	size_t info_len = take_len(in, MAX_FIELD), aad_len = take_len(in, MAX_FIELD);
	size_t ct_len = take_len(in, MAX_FIELD + 16), out_len = take_len(in, 300);
	pqx_hpke_ctx ctx;
	uint8_t out[300];
	int r;

	take(in, seed, sizeof(seed));
	take(in, enc, sizeof(enc));
	take(in, info, info_len);
	take(in, aad, aad_len);
	take(in, ct, ct_len);

	r = pqx_hpke_setup_base_r(&ctx, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256, aead,
	    enc, sizeof(enc), seed, sizeof(seed), info, info_len);
	FUZZ_ASSERT(r == 0 || r == PQX_ERR_INVALID_KEY);
	if (r != 0) {
		FUZZ_ASSERT(all_zero((const uint8_t *)&ctx, sizeof(ctx)));
		return;
	}
	for (int i = 0; i < 4; i++) {
		uint64_t seq = ctx.seq;

		memset(pt, 0xaa, sizeof(pt));
		r = pqx_hpke_open(&ctx, pt, aad, aad_len, ct, ct_len);
		if (aead == PQX_HPKE_AEAD_EXPORT_ONLY && ct_len >= 16)
			FUZZ_ASSERT(r == PQX_ERR_UNSUPPORTED);
		/* Only a real ciphertext (from a seed) opens, and only once. */
		FUZZ_ASSERT(r == 0 || known_error(r));
		FUZZ_ASSERT(ctx.seq == (r == 0 ? seq + 1 : seq));
		if (r != 0 && ct_len >= 16)
			FUZZ_ASSERT(all_zero(pt, ct_len - 16));
		ct_len = ct_len / 2 + 8;
	}
	memset(out, 0xaa, sizeof(out));
	r = pqx_hpke_export(&ctx, out, out_len, aad, aad_len);
	FUZZ_ASSERT(r == (out_len == 0 ? PQX_ERR_INVALID_ARG : 0));
	if (r != 0)
		FUZZ_ASSERT(all_zero(out, out_len));
	pqx_hpke_ctx_wipe(&ctx);
}

static void sender(struct reader *in, uint16_t aead)
{
	size_t info_len = take_len(in, MAX_FIELD), aad_len = take_len(in, MAX_FIELD);
	size_t msg_len = take_len(in, MAX_FIELD);
	uint8_t where = take_u8(in), ex1[64], ex2[64];
	pqx_hpke_ctx s, r;
	int changed = 0, rc;

	take(in, seed, sizeof(seed));
	take(in, eseed, sizeof(eseed));
	take(in, info, info_len);
	take(in, aad, aad_len);
	take(in, msg, msg_len);
	FUZZ_ASSERT(pqx_xwing_public_key(pk, seed) == 0);
	FUZZ_ASSERT(pqx_hpke_setup_base_s_derand(&s, enc, PQX_HPKE_KEM_XWING,
	    PQX_HPKE_KDF_HKDF_SHA256, aead, pk, sizeof(pk), info, info_len, eseed,
	    sizeof(eseed)) == 0);
	rc = pqx_hpke_seal(&s, ct, aad, aad_len, msg, msg_len);
	if (aead == PQX_HPKE_AEAD_EXPORT_ONLY) {
		FUZZ_ASSERT(rc == PQX_ERR_UNSUPPORTED && all_zero(ct, msg_len + 16));
		memset(ct, 0, sizeof(ct));
	} else {
		FUZZ_ASSERT(rc == 0);
	}

	/* The tamper mask goes into one field, chosen by the input. */
	switch (where % 4) {
	case 0:
		take(in, enc_mask, sizeof(enc_mask));
		for (size_t i = 0; i < sizeof(enc); i++) {
			changed |= enc_mask[i];
			enc[i] ^= enc_mask[i];
		}
		break;
	case 1:
		take(in, mask, info_len);
		for (size_t i = 0; i < info_len; i++) {
			changed |= mask[i];
			info[i] ^= mask[i];
		}
		break;
	case 2:
		take(in, mask, aad_len);
		for (size_t i = 0; i < aad_len; i++) {
			changed |= mask[i];
			aad[i] ^= mask[i];
		}
		break;
	default:
		take(in, mask, msg_len + 16);
		for (size_t i = 0; i < msg_len + 16; i++) {
			changed |= mask[i];
			ct[i] ^= mask[i];
		}
		break;
	}

	rc = pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256, aead, enc,
	    sizeof(enc), seed, sizeof(seed), info, info_len);
	if (rc != 0) {
		/* Only a changed enc can make the receiver refuse: a low-order share. */
		FUZZ_ASSERT(changed && where % 4 == 0 && rc == PQX_ERR_INVALID_KEY);
		pqx_hpke_ctx_wipe(&s);
		return;
	}
	FUZZ_ASSERT(pqx_hpke_export(&s, ex1, sizeof(ex1), NULL, 0) == 0);
	FUZZ_ASSERT(pqx_hpke_export(&r, ex2, sizeof(ex2), NULL, 0) == 0);
	/* enc and info are in the key schedule; aad and ct are not. */
	FUZZ_ASSERT((memcmp(ex1, ex2, sizeof(ex1)) == 0) == (!changed || where % 4 >= 2));

	memset(pt, 0xaa, sizeof(pt));
	rc = pqx_hpke_open(&r, pt, aad, aad_len, ct, msg_len + 16);
	if (aead == PQX_HPKE_AEAD_EXPORT_ONLY) {
		FUZZ_ASSERT(rc == PQX_ERR_UNSUPPORTED && all_zero(pt, msg_len));
	} else if (!changed) {
		FUZZ_ASSERT(rc == 0 && memcmp(pt, msg, msg_len) == 0 && r.seq == 1);
	} else {
		FUZZ_ASSERT(rc == PQX_ERR_AUTH && all_zero(pt, msg_len) && r.seq == 0);
	}
	pqx_hpke_ctx_wipe(&s);
	pqx_hpke_ctx_wipe(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader in = { data, size };
	uint8_t sel = take_u8(&in);
	uint16_t aead = aeads[(sel & 3) % 3];

	if (sel & 4)
		arbitrary(&in, aead);
	else
		sender(&in, aead);
	return 0;
}
