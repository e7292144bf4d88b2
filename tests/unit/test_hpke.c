/* pqx tests: HPKE base mode with X-Wing against the hpke-pq vectors, plus tampering, limits and unsupported suites. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pqx/hpke.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>

#include "harness.h"
#include "json.h"
#include "util/util.h"

/*
 * draft-ietf-hpke-pq test vectors, read in place. The first file is the
 * draft's own vectors for kem 0x647a; the second is all 13 vectors of
 * FiloSottile/hpke testdata/hpke-pq.json. See crypto-vectors/README.md.
 */
static const char *vector_files[] = {
	"crypto-vectors/hpke-pq/hpke-mlkem768-x25519.json",
	"crypto-vectors/hpke-pq/hpke-pq-all.json",
};

/*
 * DeriveKeyPair for kem 0x647a (draft-ietf-hpke-pq, as summarised in
 * filippo.io/hpke-pq): the X-Wing seed is
 * SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", 32) =
 * SHAKE256(ikm || "HPKE-v1" || "KEM" || I2OSP(kem_id, 2) ||
 *          I2OSP(len(label), 2) || label || I2OSP(32, 2) || "", 32).
 * Deterministic encapsulation takes ikmE as the 64-byte X-Wing eseed as is.
 */
static void xwing_derive_seed(uint8_t seed[32], const uint8_t *ikm, size_t ikm_len)
{
	static const char label[] = "DeriveKeyPair";
	uint8_t suffix[7 + 5 + 2 + sizeof(label) - 1 + 2], *p = suffix;
	pqx_keccak_ctx h;

	memcpy(p, "HPKE-v1", 7);
	p += 7;
	memcpy(p, "KEM", 3);
	pqx_store16_be(p + 3, PQX_HPKE_KEM_XWING);
	p += 5;
	pqx_store16_be(p, (uint16_t)(sizeof(label) - 1));
	p += 2;
	memcpy(p, label, sizeof(label) - 1);
	p += sizeof(label) - 1;
	pqx_store16_be(p, 32);
	pqx_shake256_init(&h);
	pqx_keccak_absorb(&h, ikm, ikm_len);
	pqx_keccak_absorb(&h, suffix, sizeof(suffix));
	pqx_keccak_squeeze(&h, seed, 32);
	pqx_keccak_wipe(&h);
}

/* Hex fields of one vector, freed together. */
struct hexbag {
	uint8_t *p[64];
	int n;
};

static uint8_t *bag_hex(struct hexbag *b, const struct json *obj, const char *key, size_t *len)
{
	const char *s = json_get_str(obj, key);
	uint8_t *out;
	size_t n = 0;

	if (len != NULL)
		*len = 0;
	if (s == NULL || b->n == (int)(sizeof(b->p) / sizeof(b->p[0])) ||
	    (out = t_unhex_alloc(s, &n)) == NULL)
		return NULL;
	b->p[b->n++] = out;
	if (len != NULL)
		*len = n;
	return out;
}

static void bag_free(struct hexbag *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->p[i]);
	b->n = 0;
}

static int suite_in_scope(long long kem, long long kdf, long long aead)
{
	return kem == PQX_HPKE_KEM_XWING && kdf == PQX_HPKE_KDF_HKDF_SHA256 &&
	    (aead == PQX_HPKE_AEAD_AES_256_GCM || aead == PQX_HPKE_AEAD_CHACHA20_POLY1305 ||
	    aead == PQX_HPKE_AEAD_EXPORT_ONLY);
}

static int n_full, n_kem_only, n_other_kem;

/* The key schedule, every encryption in order, and every export of one vector. */
static void check_schedule(const char *where, const struct json *v, struct hexbag *b,
    const uint8_t *pkR, const uint8_t *skR, const uint8_t *ikmE, const uint8_t *enc_want)
{
	uint16_t kdf = (uint16_t)json_int(json_get(v, "kdf_id"), -1);
	uint16_t aead = (uint16_t)json_int(json_get(v, "aead_id"), -1);
	const struct json *encs = json_get(v, "encryptions"), *exps = json_get(v, "exports");
	uint8_t *info, *key, *base_nonce, *exporter_secret, *suite_id;
	size_t info_len, key_len, nonce_len, exp_len, suite_len;
	uint8_t enc[PQX_HPKE_MAX_ENC], want_suite[10];
	pqx_hpke_ctx s, r;

	info = bag_hex(b, v, "info", &info_len);
	key = bag_hex(b, v, "key", &key_len);
	base_nonce = bag_hex(b, v, "base_nonce", &nonce_len);
	exporter_secret = bag_hex(b, v, "exporter_secret", &exp_len);
	suite_id = bag_hex(b, v, "suite_id", &suite_len);
	CHECK(info && key && base_nonce && exporter_secret && suite_id, "%s: fields", where);
	if (t_case_failures())
		return;
	memcpy(want_suite, "HPKE", 4);
	pqx_store16_be(want_suite + 4, PQX_HPKE_KEM_XWING);
	pqx_store16_be(want_suite + 6, kdf);
	pqx_store16_be(want_suite + 8, aead);
	CHECK(suite_len == 10 && memcmp(suite_id, want_suite, 10) == 0, "%s: suite_id", where);

	CHECK(pqx_hpke_setup_base_s_derand(&s, enc, PQX_HPKE_KEM_XWING, kdf, aead, pkR, 1216,
	    info, info_len, ikmE, 64) == 0, "%s: SetupBaseS", where);
	CHECK_EQ_MEM(enc, enc_want, 1120, "%s: SetupBaseS enc", where);
	CHECK(pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, kdf, aead, enc_want, 1120, skR, 32,
	    info, info_len) == 0, "%s: SetupBaseR", where);
	CHECK(key_len == s.nk && key_len <= 32 && memcmp(s.key, key, key_len) == 0 &&
	    memcmp(r.key, key, key_len) == 0, "%s: key", where);
	CHECK(nonce_len == s.nn && nonce_len <= 12 &&
	    memcmp(s.base_nonce, base_nonce, nonce_len) == 0 &&
	    memcmp(r.base_nonce, base_nonce, nonce_len) == 0, "%s: base_nonce", where);
	CHECK(exp_len == 32 && memcmp(s.exporter_secret, exporter_secret, 32) == 0 &&
	    memcmp(r.exporter_secret, exporter_secret, 32) == 0, "%s: exporter_secret", where);

	for (size_t i = 0; i < json_len(encs) && aead != PQX_HPKE_AEAD_EXPORT_ONLY; i++) {
		const struct json *e = json_at(encs, i);
		size_t aad_len, pt_len, ct_len, n_len;
		uint8_t *aad = bag_hex(b, e, "aad", &aad_len), *pt = bag_hex(b, e, "pt", &pt_len);
		uint8_t *ct = bag_hex(b, e, "ct", &ct_len), *nonce = bag_hex(b, e, "nonce", &n_len);
		uint8_t *got = NULL, want_nonce[12];

		CHECK(aad && pt && ct && nonce && ct_len == pt_len + 16 && n_len == 12,
		    "%s: encryption %zu fields", where, i);
		if (t_case_failures() || (got = malloc(ct_len)) == NULL)
			break;
		/* The vector's nonce is base_nonce XOR seq: the sequence runs 0, 1, ... */
		memcpy(want_nonce, base_nonce, 12);
		for (int k = 0; k < 8; k++)
			want_nonce[11 - k] ^= (uint8_t)((uint64_t)i >> (8 * k));
		CHECK(memcmp(nonce, want_nonce, 12) == 0, "%s: encryption %zu nonce", where, i);
		CHECK(s.seq == i && r.seq == i, "%s: seq before message %zu", where, i);
		CHECK(pqx_hpke_seal(&s, got, aad, aad_len, pt, pt_len) == 0, "%s: seal %zu", where, i);
		CHECK_EQ_MEM(got, ct, ct_len, "%s: seal %zu ct", where, i);
		CHECK(pqx_hpke_open(&r, got, aad, aad_len, ct, ct_len) == 0, "%s: open %zu", where, i);
		CHECK(pt_len == 0 || memcmp(got, pt, pt_len) == 0, "%s: open %zu pt", where, i);
		free(got);
	}
	for (size_t i = 0; i < json_len(exps); i++) {
		const struct json *e = json_at(exps, i);
		size_t ctx_len, val_len;
		uint8_t *c = bag_hex(b, e, "exporter_context", &ctx_len);
		uint8_t *val = bag_hex(b, e, "exported_value", &val_len);
		long long L = json_int(json_get(e, "L"), -1);
		uint8_t out[256];

		CHECK(c && val && L > 0 && (size_t)L == val_len && val_len <= sizeof(out),
		    "%s: export %zu fields", where, i);
		if (t_case_failures())
			break;
		CHECK(pqx_hpke_export(&s, out, val_len, c, ctx_len) == 0 &&
		    memcmp(out, val, val_len) == 0, "%s: sender export %zu", where, i);
		CHECK(pqx_hpke_export(&r, out, val_len, c, ctx_len) == 0 &&
		    memcmp(out, val, val_len) == 0, "%s: receiver export %zu", where, i);
	}
	pqx_hpke_ctx_wipe(&s);
	pqx_hpke_ctx_wipe(&r);
}

static void check_file(const char *rel)
{
	char *path = t_shared_path(rel), err[256];
	struct json *root = NULL;
	struct hexbag b = { .n = 0 };

	if (path == NULL) {
		t_skip("../shared is absent (set PQX_SHARED)");
		goto out;
	}
	if ((root = json_parse_file(path, err, sizeof(err))) == NULL) {
		CHECK(0, "%s", err);
		goto out;
	}
	CHECK(json_len(root) > 0, "%s: no vectors", path);
	for (size_t i = 0; i < json_len(root); i++) {
		const struct json *v = json_at(root, i);
		long long kem = json_int(json_get(v, "kem_id"), -1);
		long long kdf = json_int(json_get(v, "kdf_id"), -1);
		long long aead = json_int(json_get(v, "aead_id"), -1);
		long long mode = json_int(json_get(v, "mode"), -1);
		uint8_t *ikmE, *ikmR, *skRm, *pkRm, *enc, *ss_want;
		size_t ikmE_len, ikmR_len, sk_len, pk_len, enc_len, ss_len;
		uint8_t seed[32], pk[1216], ct[1120], ss[32];
		char where[320];

		snprintf(where, sizeof(where), "%s[%zu] (kem 0x%04llx kdf 0x%04llx aead 0x%04llx)",
		    rel, i, kem, kdf, aead);
		if (kem != PQX_HPKE_KEM_XWING || mode != 0) {
			n_other_kem++; /* other KEMs (ML-KEM alone, P-256 hybrids) are not ours */
			continue;
		}
		ikmE = bag_hex(&b, v, "ikmE", &ikmE_len);
		ikmR = bag_hex(&b, v, "ikmR", &ikmR_len);
		skRm = bag_hex(&b, v, "skRm", &sk_len);
		pkRm = bag_hex(&b, v, "pkRm", &pk_len);
		enc = bag_hex(&b, v, "enc", &enc_len);
		ss_want = bag_hex(&b, v, "shared_secret", &ss_len);
		CHECK(ikmE && ikmR && skRm && pkRm && enc && ss_want && ikmE_len == 64 &&
		    sk_len == 32 && pk_len == 1216 && enc_len == 1120 && ss_len == 32,
		    "%s: KEM fields", where);
		if (t_case_failures())
			break;

		/* The KEM half holds for every suite with kem 0x647a. */
		xwing_derive_seed(seed, ikmR, ikmR_len);
		CHECK_EQ_MEM(seed, skRm, 32, "%s: DeriveKeyPair(ikmR) seed", where);
		CHECK(pqx_xwing_public_key(pk, skRm) == 0 && memcmp(pk, pkRm, 1216) == 0,
		    "%s: pkRm", where);
		CHECK(pqx_xwing_encaps_derand(ct, ss, pkRm, ikmE) == 0, "%s: encaps", where);
		CHECK_EQ_MEM(ct, enc, 1120, "%s: enc from eseed = ikmE", where);
		CHECK_EQ_MEM(ss, ss_want, 32, "%s: shared_secret", where);
		CHECK(pqx_xwing_decaps(ss, enc, skRm) == 0 && memcmp(ss, ss_want, 32) == 0,
		    "%s: decaps", where);

		/*
		 * The rest only for suites we implement. The SHAKE KDFs
		 * (0x0010-0x0013, the one-stage KDF of draft-ietf-hpke-hpke)
		 * are out of scope by design.
		 */
		if (suite_in_scope(kem, kdf, aead)) {
			check_schedule(where, v, &b, pkRm, skRm, ikmE, enc);
			n_full++;
		} else {
			n_kem_only++;
		}
		bag_free(&b);
		if (t_case_failures())
			break;
	}
out:
	bag_free(&b);
	json_free(root);
	free(path);
}

static void test_vectors(void)
{
	n_full = n_kem_only = n_other_kem = 0;
	for (size_t i = 0; i < sizeof(vector_files) / sizeof(vector_files[0]); i++)
		check_file(vector_files[i]);
	if (n_full + n_kem_only + n_other_kem == 0)
		return; /* skipped */
	printf("# hpke-pq: %d vectors checked in full, %d (SHAKE KDF) KEM half only, "
	    "%d of other KEMs not ours\n", n_full, n_kem_only, n_other_kem);
	CHECK(n_full >= 2, "expected the age suite (0x647a, 0x0001, 0x0003) in both files");
}

/* A fresh X-Wing key pair and a sender/receiver pair of contexts for suite aead. */
static void make_pair(pqx_hpke_ctx *s, pqx_hpke_ctx *r, uint8_t seed[32], uint16_t aead)
{
	uint8_t pk[1216], enc[PQX_HPKE_MAX_ENC];
	static const uint8_t info[] = "pqx test info";

	CHECK(pqx_xwing_keypair(pk, seed) == 0);
	CHECK(pqx_hpke_setup_base_s(s, enc, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256, aead,
	    pk, sizeof(pk), info, sizeof(info)) == 0, "setup S");
	CHECK(pqx_hpke_setup_base_r(r, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256, aead, enc,
	    1120, seed, 32, info, sizeof(info)) == 0, "setup R");
}

static void round_trip(uint16_t aead)
{
	pqx_hpke_ctx s, r;
	uint8_t seed[32], pt[300], ct[316], out[300], e1[40], e2[40];

	make_pair(&s, &r, seed, aead);
	for (size_t len = 0; len <= sizeof(pt); len += 37) {
		t_rand(pt, len);
		CHECK(pqx_hpke_seal(&s, ct, (const uint8_t *)"ad", 2, pt, len) == 0, "seal %zu", len);
		CHECK(pqx_hpke_open(&r, out, (const uint8_t *)"ad", 2, ct, len + 16) == 0,
		    "open %zu", len);
		CHECK(len == 0 || memcmp(out, pt, len) == 0, "pt %zu", len);
	}
	/* In place: ct and pt the same buffer. */
	t_rand(pt, 100);
	memcpy(ct, pt, 100);
	CHECK(pqx_hpke_seal(&s, ct, NULL, 0, ct, 100) == 0);
	CHECK(pqx_hpke_open(&r, ct, NULL, 0, ct, 116) == 0 && memcmp(ct, pt, 100) == 0);
	CHECK(pqx_hpke_export(&s, e1, sizeof(e1), (const uint8_t *)"x", 1) == 0);
	CHECK(pqx_hpke_export(&r, e2, sizeof(e2), (const uint8_t *)"x", 1) == 0);
	CHECK(memcmp(e1, e2, sizeof(e1)) == 0, "exports agree");
	pqx_hpke_ctx_wipe(&s);
	pqx_hpke_ctx_wipe(&r);
}

static void test_round_trip_chacha(void)
{
	round_trip(PQX_HPKE_AEAD_CHACHA20_POLY1305);
}

static void test_round_trip_aes(void)
{
	round_trip(PQX_HPKE_AEAD_AES_256_GCM);
}

/* Every tampering fails with PQX_ERR_AUTH, zeroes pt, and leaves seq alone. */
static void test_tamper(void)
{
	pqx_hpke_ctx s, r, r2;
	uint8_t seed[32], pt[64], ct0[80], ct1[80], out[64], enc[1120], pk[1216];
	static const uint8_t aad[] = "header";

	make_pair(&s, &r, seed, PQX_HPKE_AEAD_CHACHA20_POLY1305);
	t_rand(pt, sizeof(pt));
	CHECK(pqx_hpke_seal(&s, ct0, aad, sizeof(aad), pt, sizeof(pt)) == 0);
	CHECK(pqx_hpke_seal(&s, ct1, aad, sizeof(aad), pt, sizeof(pt)) == 0);

	ct0[5] ^= 1;
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct0, sizeof(ct0)) == PQX_ERR_AUTH,
	    "flipped ct bit");
	CHECK(pqx_ct_is_zero(out, sizeof(out)) && r.seq == 0, "pt zeroed, seq kept");
	ct0[5] ^= 1;
	ct0[sizeof(ct0) - 1] ^= 0x80;
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct0, sizeof(ct0)) == PQX_ERR_AUTH,
	    "flipped tag bit");
	ct0[sizeof(ct0) - 1] ^= 0x80;
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hpke_open(&r, out, (const uint8_t *)"headex", sizeof(aad), ct0,
	    sizeof(ct0)) == PQX_ERR_AUTH, "wrong aad");
	CHECK(pqx_ct_is_zero(out, sizeof(out)));
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad) - 1, ct0, sizeof(ct0)) == PQX_ERR_AUTH,
	    "truncated aad");
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct1, sizeof(ct1)) == PQX_ERR_AUTH,
	    "message 1 opened at seq 0");
	CHECK(pqx_ct_is_zero(out, sizeof(out)) && r.seq == 0);
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct0, sizeof(ct0) - 1) == PQX_ERR_AUTH,
	    "truncated ct");
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct0, 15) == PQX_ERR_AUTH, "short ct");
	/* After all that, the genuine messages still open, in order. */
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct0, sizeof(ct0)) == 0 &&
	    memcmp(out, pt, sizeof(pt)) == 0, "message 0");
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct1, sizeof(ct1)) == 0 &&
	    memcmp(out, pt, sizeof(pt)) == 0, "message 1");
	/* A replay of message 0 at seq 2 fails. */
	CHECK(pqx_hpke_open(&r, out, aad, sizeof(aad), ct0, sizeof(ct0)) == PQX_ERR_AUTH,
	    "replay");

	/* The wrong private key: decapsulation succeeds (implicit rejection), open fails. */
	CHECK(pqx_xwing_public_key(pk, seed) == 0);
	CHECK(pqx_hpke_setup_base_s(&s, enc, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256,
	    PQX_HPKE_AEAD_CHACHA20_POLY1305, pk, sizeof(pk), NULL, 0) == 0);
	CHECK(pqx_hpke_seal(&s, ct0, NULL, 0, pt, sizeof(pt)) == 0);
	seed[0] ^= 1;
	CHECK(pqx_hpke_setup_base_r(&r2, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256,
	    PQX_HPKE_AEAD_CHACHA20_POLY1305, enc, sizeof(enc), seed, 32, NULL, 0) == 0);
	CHECK(pqx_hpke_open(&r2, out, NULL, 0, ct0, sizeof(ct0)) == PQX_ERR_AUTH, "wrong sk");
	seed[0] ^= 1;
	/* A corrupted enc: the same, no error until open. */
	enc[100] ^= 1;
	CHECK(pqx_hpke_setup_base_r(&r2, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256,
	    PQX_HPKE_AEAD_CHACHA20_POLY1305, enc, sizeof(enc), seed, 32, NULL, 0) == 0);
	CHECK(pqx_hpke_open(&r2, out, NULL, 0, ct0, sizeof(ct0)) == PQX_ERR_AUTH, "bad enc");
	/* Different info on the two sides. */
	enc[100] ^= 1;
	CHECK(pqx_hpke_setup_base_r(&r2, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256,
	    PQX_HPKE_AEAD_CHACHA20_POLY1305, enc, sizeof(enc), seed, 32,
	    (const uint8_t *)"i", 1) == 0);
	CHECK(pqx_hpke_open(&r2, out, NULL, 0, ct0, sizeof(ct0)) == PQX_ERR_AUTH, "wrong info");
	pqx_hpke_ctx_wipe(&s);
	pqx_hpke_ctx_wipe(&r);
	pqx_hpke_ctx_wipe(&r2);
}

static void test_unsupported(void)
{
	static const uint16_t bad_kems[] = { 0x0000, 0x0010, 0x0020, 0x0041, 0x0050, 0x0051 };
	static const uint16_t bad_kdfs[] = { 0x0000, 0x0002, 0x0003, 0x0010, 0x0011 };
	static const uint16_t bad_aeads[] = { 0x0000, 0x0001, 0x0004, 0xfffe };
	uint8_t seed[32], pk[1216], enc[1120], ct[32], pt[16], out[32];
	pqx_hpke_ctx s, r;

	CHECK(pqx_xwing_keypair(pk, seed) == 0);
	CHECK(pqx_hpke_enc_bytes(PQX_HPKE_KEM_XWING) == 1120);
	CHECK(pqx_hpke_pk_bytes(PQX_HPKE_KEM_XWING) == 1216);
	CHECK(pqx_hpke_sk_bytes(PQX_HPKE_KEM_XWING) == 32);
	for (size_t i = 0; i < sizeof(bad_kems) / sizeof(bad_kems[0]); i++) {
		CHECK(pqx_hpke_enc_bytes(bad_kems[i]) == 0 && pqx_hpke_pk_bytes(bad_kems[i]) == 0 &&
		    pqx_hpke_sk_bytes(bad_kems[i]) == 0, "sizes of kem 0x%04x", bad_kems[i]);
		CHECK(pqx_hpke_setup_base_s(&s, enc, bad_kems[i], 1, 3, pk, 1216, NULL, 0) ==
		    PQX_ERR_UNSUPPORTED, "kem 0x%04x", bad_kems[i]);
		CHECK(pqx_hpke_setup_base_r(&r, bad_kems[i], 1, 3, enc, 1120, seed, 32, NULL, 0) ==
		    PQX_ERR_UNSUPPORTED, "kem 0x%04x", bad_kems[i]);
	}
	for (size_t i = 0; i < sizeof(bad_kdfs) / sizeof(bad_kdfs[0]); i++) {
		memset(enc, 0xaa, sizeof(enc));
		CHECK(pqx_hpke_setup_base_s(&s, enc, PQX_HPKE_KEM_XWING, bad_kdfs[i], 3, pk, 1216,
		    NULL, 0) == PQX_ERR_UNSUPPORTED, "kdf 0x%04x", bad_kdfs[i]);
		CHECK(pqx_ct_is_zero(enc, sizeof(enc)) && pqx_ct_is_zero(&s, sizeof(s)));
		CHECK(pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, bad_kdfs[i], 3, enc, 1120,
		    seed, 32, NULL, 0) == PQX_ERR_UNSUPPORTED, "kdf 0x%04x", bad_kdfs[i]);
	}
	for (size_t i = 0; i < sizeof(bad_aeads) / sizeof(bad_aeads[0]); i++) {
		CHECK(pqx_hpke_setup_base_s(&s, enc, PQX_HPKE_KEM_XWING, 1, bad_aeads[i], pk, 1216,
		    NULL, 0) == PQX_ERR_UNSUPPORTED, "aead 0x%04x", bad_aeads[i]);
		CHECK(pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, 1, bad_aeads[i], enc, 1120,
		    seed, 32, NULL, 0) == PQX_ERR_UNSUPPORTED, "aead 0x%04x", bad_aeads[i]);
	}

	/* Export-only: setup and export work; seal and open refuse. */
	make_pair(&s, &r, seed, PQX_HPKE_AEAD_EXPORT_ONLY);
	CHECK(s.nk == 0 && s.nn == 0 && pqx_ct_is_zero(s.key, sizeof(s.key)));
	memset(ct, 0xaa, sizeof(ct));
	CHECK(pqx_hpke_seal(&s, ct, NULL, 0, pt, sizeof(pt)) == PQX_ERR_UNSUPPORTED);
	CHECK(pqx_ct_is_zero(ct, sizeof(ct)), "seal zeroed ct");
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hpke_open(&r, out, NULL, 0, ct, sizeof(ct)) == PQX_ERR_UNSUPPORTED);
	CHECK(pqx_ct_is_zero(out, 16), "open zeroed pt");
	CHECK(pqx_hpke_export(&s, ct, 32, NULL, 0) == 0 && pqx_hpke_export(&r, out, 32, NULL,
	    0) == 0 && memcmp(ct, out, 32) == 0, "export-only exports");

	/* A wiped context is no context. */
	pqx_hpke_ctx_wipe(&s);
	CHECK(pqx_hpke_seal(&s, ct, NULL, 0, pt, sizeof(pt)) == PQX_ERR_UNSUPPORTED);
	CHECK(pqx_hpke_export(&s, out, 32, NULL, 0) == PQX_ERR_UNSUPPORTED);
	pqx_hpke_ctx_wipe(&r);
}

static void test_limits(void)
{
	uint8_t seed[32], pk[1216], enc[1120], eseed[64], pt[16], ct[32], out[8200];
	uint8_t *big = calloc(1, PQX_HPKE_MAX_INFO + 1);
	pqx_hpke_ctx s, r;

	CHECK(big != NULL);
	if (big == NULL)
		return;
	CHECK(pqx_xwing_keypair(pk, seed) == 0);
	t_rand(eseed, sizeof(eseed));
	/* Wrong lengths. */
	memset(enc, 0xaa, sizeof(enc));
	CHECK(pqx_hpke_setup_base_s_derand(&s, enc, PQX_HPKE_KEM_XWING, 1, 3, pk, 1215, NULL, 0,
	    eseed, 64) == PQX_ERR_INVALID_ARG && pqx_ct_is_zero(enc, sizeof(enc)), "pk_len");
	CHECK(pqx_hpke_setup_base_s_derand(&s, enc, PQX_HPKE_KEM_XWING, 1, 3, pk, 1216, NULL, 0,
	    eseed, 32) == PQX_ERR_INVALID_ARG, "eseed_len");
	CHECK(pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, 1, 3, enc, 1119, seed, 32, NULL,
	    0) == PQX_ERR_INVALID_ARG, "enc_len");
	CHECK(pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, 1, 3, enc, 1120, seed, 2432, NULL,
	    0) == PQX_ERR_INVALID_ARG, "sk_len (the old 2432-byte X-Wing key)");
	/* info at the cap works; one more byte does not. */
	CHECK(pqx_hpke_setup_base_s_derand(&s, enc, PQX_HPKE_KEM_XWING, 1, 3, pk, 1216, big,
	    PQX_HPKE_MAX_INFO, eseed, 64) == 0, "info at the cap");
	CHECK(pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, 1, 3, enc, 1120, seed, 32, big,
	    PQX_HPKE_MAX_INFO) == 0 && memcmp(s.key, r.key, 32) == 0, "info at the cap (R)");
	memset(enc, 0xaa, sizeof(enc));
	CHECK(pqx_hpke_setup_base_s_derand(&s, enc, PQX_HPKE_KEM_XWING, 1, 3, pk, 1216, big,
	    PQX_HPKE_MAX_INFO + 1, eseed, 64) == PQX_ERR_LIMIT, "info over the cap");
	CHECK(pqx_ct_is_zero(enc, sizeof(enc)) && pqx_ct_is_zero(&s, sizeof(s)));
	CHECK(pqx_hpke_setup_base_r(&r, PQX_HPKE_KEM_XWING, 1, 3, enc, 1120, seed, 32, big,
	    PQX_HPKE_MAX_INFO + 1) == PQX_ERR_LIMIT, "info over the cap (R)");

	/* Export lengths: 1 to 255 * Nh; contexts up to the cap. */
	CHECK(pqx_hpke_setup_base_s_derand(&s, enc, PQX_HPKE_KEM_XWING, 1, 3, pk, 1216, NULL, 0,
	    eseed, 64) == 0);
	CHECK(pqx_hpke_export(&s, out, 255 * 32, NULL, 0) == 0, "L = 255 * Nh");
	CHECK(pqx_hpke_export(&s, out, 255 * 32 + 1, NULL, 0) == PQX_ERR_INVALID_ARG, "L too big");
	CHECK(pqx_ct_is_zero(out, 255 * 32 + 1), "out zeroed");
	CHECK(pqx_hpke_export(&s, out, 0, NULL, 0) == PQX_ERR_INVALID_ARG, "L = 0");
	CHECK(pqx_hpke_export(&s, out, 32, big, PQX_HPKE_MAX_INFO) == 0, "context at the cap");
	CHECK(pqx_hpke_export(&s, out, 32, big, PQX_HPKE_MAX_INFO + 1) == PQX_ERR_LIMIT,
	    "context over the cap");
	CHECK(pqx_ct_is_zero(out, 32));
	CHECK(pqx_hpke_seal(&s, ct, big, PQX_HPKE_MAX_INFO + 1, pt, sizeof(pt)) == PQX_ERR_LIMIT,
	    "aad over the cap");

	/* The sequence number refuses to wrap. */
	memset(pt, 0x11, sizeof(pt));
	s.seq = UINT64_MAX - 1;
	CHECK(pqx_hpke_seal(&s, ct, NULL, 0, pt, sizeof(pt)) == 0, "last seq");
	CHECK(s.seq == UINT64_MAX);
	memset(ct, 0xaa, sizeof(ct));
	CHECK(pqx_hpke_seal(&s, ct, NULL, 0, pt, sizeof(pt)) == PQX_ERR_LIMIT, "seq wrap");
	CHECK(pqx_ct_is_zero(ct, sizeof(ct)) && s.seq == UINT64_MAX);
	pqx_hpke_ctx_wipe(&s);
	pqx_hpke_ctx_wipe(&r);
	free(big);
}

static int fail_always(void)
{
	return 1;
}

static void test_faults(void)
{
	uint8_t seed[32], pk[1216], enc[1120];
	pqx_hpke_ctx s;

	CHECK(pqx_xwing_keypair(pk, seed) == 0);
	pqx_test_set_random_fault(fail_always);
	memset(enc, 0xaa, sizeof(enc));
	memset(&s, 0xaa, sizeof(s));
	CHECK(pqx_hpke_setup_base_s(&s, enc, PQX_HPKE_KEM_XWING, 1, 3, pk, 1216, NULL, 0) ==
	    PQX_ERR_RANDOM, "random failure");
	CHECK(pqx_ct_is_zero(enc, sizeof(enc)) && pqx_ct_is_zero(&s, sizeof(s)));
	pqx_test_set_random_fault(NULL);
	pqx_test_set_alloc_fault(fail_always);
	memset(enc, 0xaa, sizeof(enc));
	memset(&s, 0xaa, sizeof(s));
	CHECK(pqx_hpke_setup_base_s(&s, enc, PQX_HPKE_KEM_XWING, 1, 3, pk, 1216, NULL, 0) ==
	    PQX_ERR_NOMEM, "allocation failure");
	CHECK(pqx_ct_is_zero(enc, sizeof(enc)) && pqx_ct_is_zero(&s, sizeof(s)));
	pqx_test_set_alloc_fault(NULL);
}

int main(void)
{
	t_run("hpke-pq vectors for kem 0x647a (key schedule, seal, open, export)", test_vectors);
	t_run("hpke round trip chacha20-poly1305", test_round_trip_chacha);
	t_run("hpke round trip aes-256-gcm", test_round_trip_aes);
	t_run("hpke tampered ct/aad/seq/enc/sk fail with PQX_ERR_AUTH", test_tamper);
	t_run("hpke unsupported suites and export-only", test_unsupported);
	t_run("hpke length checks, caps and sequence limit", test_limits);
	t_run("hpke random and allocation faults", test_faults);
	return t_done();
}
