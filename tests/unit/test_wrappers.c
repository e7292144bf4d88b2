/* pqx tests: the libcrypto wrappers against Wycheproof (X25519, AEADs, HKDF) and RFC vectors (scrypt, HMAC, SHA-256). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/aesgcm.h"
#include "crypto/chachapoly.h"
#include "crypto/ossl.h"
#include "harness.h"
#include "json.h"
#include "util/util.h"

/*
 * Wycheproof testvectors_v1 files, read in place from
 * ../shared/crypto-vectors/wycheproof/ (C2SP/wycheproof, Apache-2.0).
 */
#define WP_DIR "crypto-vectors/wycheproof/"

/* Opens a Wycheproof file; NULL after skipping or failing the case. */
static struct json *wp_open(const char *name)
{
	char *path = t_shared_path(name), err[256];
	struct json *root = NULL;

	if (path == NULL) {
		t_skip("../shared is absent (set PQX_SHARED)");
		return NULL;
	}
	if ((root = json_parse_file(path, err, sizeof(err))) == NULL)
		CHECK(0, "%s", err);
	free(path);
	return root;
}

/* One test's hex fields, decoded and freed together. */
struct hexbag {
	uint8_t *p[8];
	int n;
};

static uint8_t *bag_hex(struct hexbag *b, const struct json *obj, const char *key, size_t *len)
{
	const char *s = json_get_str(obj, key);
	uint8_t *out;
	size_t n = 0;

	*len = 0;
	if (s == NULL || b->n == (int)(sizeof(b->p) / sizeof(b->p[0])) ||
	    (out = t_unhex_alloc(s, &n)) == NULL)
		return NULL;
	b->p[b->n++] = out;
	*len = n;
	return out;
}

static void bag_free(struct hexbag *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->p[i]);
	b->n = 0;
}

static int has_flag(const struct json *t, const char *flag)
{
	const struct json *flags = json_get(t, "flags");

	for (size_t i = 0; i < json_len(flags); i++) {
		const char *f = json_str(json_at(flags, i));
		if (f != NULL && strcmp(f, flag) == 0)
			return 1;
	}
	return 0;
}

/*
 * x25519_test.json (518 tests, all "valid" or "acceptable"). Our policy:
 * - valid: the shared secret matches.
 * - acceptable with an all-zero shared secret (flag ZeroSharedSecret, the
 *   low-order public keys): pqx_x25519 refuses with PQX_ERR_INVALID_KEY and
 *   zeroes out, as RFC 7748 section 6.1 allows and X-Wing relies on.
 * - other acceptable ones (twist points, non-canonical u >= p, edge-case
 *   multiplications): accepted, as RFC 7748 section 5 defines them, and the
 *   result must match.
 */
static void test_x25519(void)
{
	struct json *root = wp_open(WP_DIR "x25519_test.json");
	const struct json *groups = json_get(root, "testGroups");
	struct hexbag b = { .n = 0 };
	int n_valid = 0, n_zero = 0, n_accept = 0;

	if (root == NULL)
		return;
	for (size_t g = 0; g < json_len(groups); g++) {
		const struct json *grp = json_at(groups, g), *tests = json_get(grp, "tests");

		CHECK(strcmp(json_get_str(grp, "curve") ? json_get_str(grp, "curve") : "",
		    "curve25519") == 0, "group %zu curve", g);
		for (size_t i = 0; i < json_len(tests); i++) {
			const struct json *t = json_at(tests, i);
			long long id = json_int(json_get(t, "tcId"), -1);
			const char *result = json_get_str(t, "result");
			size_t pub_len, priv_len, sh_len;
			uint8_t *pub = bag_hex(&b, t, "public", &pub_len);
			uint8_t *priv = bag_hex(&b, t, "private", &priv_len);
			uint8_t *shared = bag_hex(&b, t, "shared", &sh_len);
			uint8_t out[32], out2[32], own[32];
			int r;

			CHECK(pub && priv && shared && result && pub_len == 32 && priv_len == 32 &&
			    sh_len == 32, "tcId %lld: fields", id);
			if (t_case_failures())
				goto out;
			memset(out, 0xaa, sizeof(out));
			r = pqx_x25519(out, priv, pub);
			/* The same with the scalar's public key given. */
			CHECK(pqx_x25519_base(own, priv) == 0);
			memset(out2, 0xaa, sizeof(out2));
			CHECK(pqx_x25519_known(out2, priv, own, pub) == r &&
			    memcmp(out2, out, 32) == 0, "tcId %lld: pqx_x25519_known differs", id);
			if (pqx_ct_is_zero(shared, 32)) {
				/* Only ever "acceptable", and flagged so. */
				CHECK(strcmp(result, "acceptable") == 0 &&
				    has_flag(t, "ZeroSharedSecret"), "tcId %lld: zero but %s", id,
				    result);
				CHECK(r == PQX_ERR_INVALID_KEY && pqx_ct_is_zero(out, 32),
				    "tcId %lld: all-zero shared secret not refused (%d)", id, r);
				n_zero++;
			} else {
				CHECK(strcmp(result, "valid") == 0 || strcmp(result, "acceptable") == 0,
				    "tcId %lld: result %s", id, result);
				CHECK(r == 0 && memcmp(out, shared, 32) == 0,
				    "tcId %lld (%s): shared secret (%d)", id, result, r);
				if (strcmp(result, "valid") == 0)
					n_valid++;
				else
					n_accept++;
			}
			bag_free(&b);
		}
	}
	printf("# x25519: %d valid, %d acceptable computed, %d zero shared secrets refused\n",
	    n_valid, n_accept, n_zero);
	CHECK(n_valid + n_accept + n_zero == json_int(json_get(root, "numberOfTests"), -1),
	    "every test counted");
out:
	bag_free(&b);
	json_free(root);
}

/* pqx_x25519_base agrees with pqx_x25519 on the base point u = 9 (RFC 7748 section 6.1), pqx_x25519_known with pqx_x25519. */
static void test_x25519_base(void)
{
	static const char *alice_sk =
	    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
	static const char *alice_pk =
	    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
	uint8_t sk[32], pk[32], want[32], nine[32] = { 9 }, out[32], out2[32], u[32];

	CHECK(t_unhex(sk, 32, alice_sk) == 0 && t_unhex(want, 32, alice_pk) == 0);
	CHECK(pqx_x25519_base(pk, sk) == 0 && memcmp(pk, want, 32) == 0, "RFC 7748 Alice");
	for (int i = 0; i < 20; i++) {
		t_rand(sk, sizeof(sk));
		CHECK(pqx_x25519_base(pk, sk) == 0 && pqx_x25519(out, sk, nine) == 0 &&
		    memcmp(pk, out, 32) == 0, "base vs u = 9");
		t_rand(u, sizeof(u));
		CHECK(pqx_x25519(out, sk, u) == 0 && pqx_x25519_known(out2, sk, pk, u) == 0 &&
		    memcmp(out, out2, 32) == 0, "pqx_x25519_known vs pqx_x25519");
	}
}

/*
 * RFC 7748 section 5.2: its two test vectors, then the iteration k, u =
 * X25519(k, u), k after 1 and 1,000 rounds (the 1,000,000 one takes
 * minutes under the sanitizers). They are in the repository, so the
 * wrapper is tested without ../shared too.
 */
static void test_x25519_rfc7748(void)
{
	static const char *vec[2][3] = {
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
	};
	static const char *iter1 = "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079";
	static const char *iter1000 =
	    "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51";
	uint8_t k[32], u[32], want[32], out[32];

	for (int i = 0; i < 2; i++) {
		CHECK(t_unhex(k, 32, vec[i][0]) == 0 && t_unhex(u, 32, vec[i][1]) == 0 &&
		    t_unhex(want, 32, vec[i][2]) == 0);
		CHECK(pqx_x25519(out, k, u) == 0 && memcmp(out, want, 32) == 0, "vector %d", i + 1);
	}
	memset(k, 0, 32);
	memset(u, 0, 32);
	k[0] = u[0] = 9;
	for (int i = 1; i <= 1000; i++) {
		CHECK(pqx_x25519(out, k, u) == 0, "round %d", i);
		memcpy(u, k, 32);
		memcpy(k, out, 32);
		if (i == 1)
			CHECK(t_unhex(want, 32, iter1) == 0 && memcmp(k, want, 32) == 0, "1 round");
	}
	CHECK(t_unhex(want, 32, iter1000) == 0 && memcmp(k, want, 32) == 0, "1,000 rounds");
}

/*
 * aead_test_schema_v1 files. Our API takes only 32-byte keys, 12-byte nonces
 * and 16-byte tags; other groups are skipped by design, not failures:
 * in chacha20_poly1305_test.json, 9 of 325 tests (nonce sizes other than 96
 * bits, all "invalid"); in aes_gcm_test.json, 250 of 316 (128- and 192-bit
 * keys, and IVs other than 96 bits). The counts are printed and checked.
 */
static void check_aead_file(const char *name, enum pqx_aead_alg alg, int want_in_scope)
{
	struct json *root = wp_open(name);
	const struct json *groups = json_get(root, "testGroups");
	struct hexbag b = { .n = 0 };
	int n_valid = 0, n_invalid = 0, n_skipped = 0;

	if (root == NULL)
		return;
	for (size_t g = 0; g < json_len(groups); g++) {
		const struct json *grp = json_at(groups, g), *tests = json_get(grp, "tests");

		if (json_int(json_get(grp, "ivSize"), -1) != 96 ||
		    json_int(json_get(grp, "keySize"), -1) != 256 ||
		    json_int(json_get(grp, "tagSize"), -1) != 128) {
			n_skipped += (int)json_len(tests);
			continue;
		}
		for (size_t i = 0; i < json_len(tests); i++) {
			const struct json *t = json_at(tests, i);
			long long id = json_int(json_get(t, "tcId"), -1);
			const char *result = json_get_str(t, "result");
			size_t key_len, iv_len, aad_len, msg_len, ct_len, tag_len;
			uint8_t *key = bag_hex(&b, t, "key", &key_len);
			uint8_t *iv = bag_hex(&b, t, "iv", &iv_len);
			uint8_t *aad = bag_hex(&b, t, "aad", &aad_len);
			uint8_t *msg = bag_hex(&b, t, "msg", &msg_len);
			uint8_t *ct = bag_hex(&b, t, "ct", &ct_len);
			uint8_t *tag = bag_hex(&b, t, "tag", &tag_len);
			uint8_t *sealed = NULL, *opened = NULL;
			pqx_aead *a = NULL;
			pqx_gcm *gcm = NULL;
			int valid;

			CHECK(key && iv && aad && msg && ct && tag && result && key_len == 32 &&
			    iv_len == 12 && tag_len == 16 && ct_len == msg_len,
			    "%s tcId %lld: fields", name, id);
			if (t_case_failures())
				goto out;
			valid = strcmp(result, "valid") == 0;
			CHECK(valid || strcmp(result, "invalid") == 0, "tcId %lld: result", id);
			sealed = malloc(ct_len + 16);
			opened = malloc(ct_len + 16);
			a = pqx_aead_new(alg, key);
			gcm = alg == PQX_AEAD_AES_256_GCM ? pqx_gcm_new(key) : NULL;
			CHECK(sealed && opened && a, "allocation");
			if (t_case_failures()) {
				free(sealed);
				free(opened);
				pqx_aead_free(a);
				pqx_gcm_free(gcm);
				goto out;
			}
			memcpy(sealed, ct, ct_len);
			memcpy(sealed + ct_len, tag, 16);
			memset(opened, 0xaa, ct_len + 16);
			if (valid) {
				uint8_t *mine = opened;

				/* Open with a keyed context, then seal one-shot and compare. */
				CHECK(pqx_aead_open(a, opened, iv, aad, aad_len, sealed, ct_len + 16) ==
				    0, "%s tcId %lld: open", name, id);
				CHECK(msg_len == 0 || memcmp(opened, msg, msg_len) == 0,
				    "%s tcId %lld: plaintext", name, id);
				CHECK(pqx_aead_seal_once(alg, key, mine, iv, aad, aad_len, msg,
				    msg_len) == 0 && memcmp(mine, sealed, ct_len + 16) == 0,
				    "%s tcId %lld: seal", name, id);
				/* Ours (the handshake's): the same bytes, and it opens them. */
				if (alg == PQX_AEAD_CHACHA20_POLY1305) {
					CHECK(pqx_chachapoly_seal(mine, key, iv, aad, aad_len, msg,
					    msg_len) == 0 && memcmp(mine, sealed, ct_len + 16) == 0,
					    "%s tcId %lld: our seal", name, id);
					CHECK(pqx_chachapoly_open(mine, key, iv, aad, aad_len, sealed,
					    ct_len + 16) == 0 && (msg_len == 0 ||
					    memcmp(mine, msg, msg_len) == 0), "%s tcId %lld: our open",
					    name, id);
				}
				/* Ours (the records', where this CPU runs it). */
				if (alg == PQX_AEAD_AES_256_GCM && gcm != NULL) {
					CHECK(pqx_gcm_seal(gcm, mine, iv, aad, aad_len, msg, msg_len) == 0 &&
					    memcmp(mine, sealed, ct_len + 16) == 0,
					    "%s tcId %lld: our seal", name, id);
					CHECK(pqx_gcm_open(gcm, mine, iv, aad, aad_len, sealed,
					    ct_len + 16) == 0 && (msg_len == 0 ||
					    memcmp(mine, msg, msg_len) == 0), "%s tcId %lld: our open",
					    name, id);
				}
				/* In place, as the STREAM code will call it. */
				CHECK(pqx_aead_open_once(alg, key, sealed, iv, aad, aad_len, sealed,
				    ct_len + 16) == 0 && (msg_len == 0 ||
				    memcmp(sealed, msg, msg_len) == 0), "%s tcId %lld: in place", name,
				    id);
				n_valid++;
			} else {
				CHECK(pqx_aead_open(a, opened, iv, aad, aad_len, sealed, ct_len + 16) ==
				    PQX_ERR_AUTH, "%s tcId %lld: invalid accepted", name, id);
				CHECK(pqx_ct_is_zero(opened, ct_len), "%s tcId %lld: pt not zeroed",
				    name, id);
				if (alg == PQX_AEAD_CHACHA20_POLY1305) {
					memset(opened, 0xaa, ct_len + 16);
					CHECK(pqx_chachapoly_open(opened, key, iv, aad, aad_len, sealed,
					    ct_len + 16) == PQX_ERR_AUTH && pqx_ct_is_zero(opened, ct_len),
					    "%s tcId %lld: ours accepted it, or left plaintext", name, id);
				}
				if (alg == PQX_AEAD_AES_256_GCM && gcm != NULL) {
					memset(opened, 0xaa, ct_len + 16);
					CHECK(pqx_gcm_open(gcm, opened, iv, aad, aad_len, sealed,
					    ct_len + 16) == PQX_ERR_AUTH && pqx_ct_is_zero(opened, ct_len),
					    "%s tcId %lld: ours accepted it, or left plaintext", name, id);
				}
				n_invalid++;
			}
			free(sealed);
			free(opened);
			pqx_aead_free(a);
			pqx_gcm_free(gcm);
			bag_free(&b);
		}
	}
	printf("# %s: %d valid, %d invalid, %d out of scope (key/nonce/tag size)\n", name,
	    n_valid, n_invalid, n_skipped);
	CHECK(n_valid + n_invalid == want_in_scope, "%s: %d in scope, want %d", name,
	    n_valid + n_invalid, want_in_scope);
	CHECK(n_valid + n_invalid + n_skipped == json_int(json_get(root, "numberOfTests"), -1),
	    "every test counted");
out:
	bag_free(&b);
	json_free(root);
}

static void test_chacha20_poly1305(void)
{
	check_aead_file(WP_DIR "chacha20_poly1305_test.json", PQX_AEAD_CHACHA20_POLY1305, 316);
}

/*
 * Our ChaCha20-Poly1305 against OpenSSL's: every message length to 300
 * bytes (block edges of both ChaCha20 and Poly1305) with ad of 0 to 40
 * bytes, in place and not; a flipped bit anywhere is refused and zeroes
 * the output.
 */
static void test_chachapoly_ours(void)
{
	uint8_t key[32], nonce[12], ad[40], pt[300], ref[316], ours[316], out[316];

	for (size_t n = 0; n <= sizeof(pt); n++) {
		size_t ad_len = n % (sizeof(ad) + 1), flip;

		t_rand(key, sizeof(key));
		t_rand(nonce, sizeof(nonce));
		t_rand(ad, ad_len);
		t_rand(pt, n);
		CHECK(pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, key, ref, nonce, ad, ad_len, pt,
		    n) == 0, "n %zu: openssl", n);
		CHECK(pqx_chachapoly_seal(ours, key, nonce, ad, ad_len, pt, n) == 0 &&
		    memcmp(ours, ref, n + 16) == 0, "n %zu: seal differs", n);
		memcpy(out, pt, n);
		CHECK(pqx_chachapoly_seal(out, key, nonce, ad, ad_len, out, n) == 0 &&
		    memcmp(out, ref, n + 16) == 0, "n %zu: in place", n);
		CHECK(pqx_chachapoly_open(out, key, nonce, ad, ad_len, out, n + 16) == 0 &&
		    memcmp(out, pt, n) == 0, "n %zu: open in place", n);
		flip = (n * 7919) % (ad_len + n + 16);
		if (flip < ad_len)
			ad[flip] ^= 0x10;
		else
			ref[flip - ad_len] ^= 0x10;
		memset(out, 0xaa, sizeof(out));
		CHECK(pqx_chachapoly_open(out, key, nonce, ad, ad_len, ref, n + 16) == PQX_ERR_AUTH &&
		    pqx_ct_is_zero(out, n), "n %zu: a flipped bit at %zu was accepted", n, flip);
		if (t_case_failures())
			return;
	}
	CHECK(pqx_chachapoly_open(out, key, nonce, NULL, 0, ref, 15) == PQX_ERR_AUTH,
	    "shorter than a tag");
}

/* OpenSSL's Poly1305 (EVP_MAC), the reference for ours. */
static int ossl_poly1305(uint8_t tag[16], const uint8_t key[32], const uint8_t *m, size_t n)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	EVP_MAC_CTX *c = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	size_t len = 0;
	int ok = c != NULL && EVP_MAC_init(c, key, 32, NULL) == 1 && EVP_MAC_update(c, m, n) == 1 &&
		 EVP_MAC_final(c, tag, &len, 16) == 1 && len == 16;

	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

/*
 * Our Poly1305 where its carries and its final reduction are tested: the
 * inputs of RFC 8439's A.3 vectors 5 to 11 (each a multiple of 16 bytes),
 * which aim at them, then blocks of 0xff under keys of all-ones limbs, all
 * against OpenSSL's. The AEAD above rarely reaches these by chance.
 */
static void test_poly1305_edges(void)
{
	static const struct {
		const char *r, *s, *m, *tag;
	} v[] = {
		{ "02000000000000000000000000000000", "00000000000000000000000000000000",
		    "ffffffffffffffffffffffffffffffff", "03000000000000000000000000000000" },
		{ "02000000000000000000000000000000", "ffffffffffffffffffffffffffffffff",
		    "02000000000000000000000000000000", "03000000000000000000000000000000" },
		{ "01000000000000000000000000000000", "00000000000000000000000000000000",
		    "fffffffffffffffffffffffffffffffff0ffffffffffffffffffffffffffffff"
		    "11000000000000000000000000000000",
		    "05000000000000000000000000000000" },
		{ "01000000000000000000000000000000", "00000000000000000000000000000000",
		    "fffffffffffffffffffffffffffffffffbfefefefefefefefefefefefefefefe"
		    "01010101010101010101010101010101",
		    "00000000000000000000000000000000" },
		{ "02000000000000000000000000000000", "00000000000000000000000000000000",
		    "fdffffffffffffffffffffffffffffff", "faffffffffffffffffffffffffffffff" },
		{ "01000000000000000400000000000000", "00000000000000000000000000000000",
		    "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000"
		    "0000000000000000000000000000000001000000000000000000000000000000",
		    "14000000000000005500000000000000" },
		{ "01000000000000000400000000000000", "00000000000000000000000000000000",
		    "e33594d7505e43b900000000000000003394d7505e4379cd0100000000000000"
		    "00000000000000000000000000000000",
		    "13000000000000000000000000000000" },
	};
	uint8_t key[32], m[256], want[16], got[16], ref[16];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].m) / 2;

		CHECK(t_unhex(key, 16, v[i].r) == 0 && t_unhex(key + 16, 16, v[i].s) == 0 &&
		    t_unhex(m, n, v[i].m) == 0 && t_unhex(want, 16, v[i].tag) == 0);
		CHECK(ossl_poly1305(ref, key, m, n) == 0 && memcmp(ref, want, 16) == 0,
		    "vector %zu: openssl", i + 5);
		CHECK(pqx_poly1305_blocks(got, key, m, n) == 0 && memcmp(got, want, 16) == 0,
		    "vector %zu: ours", i + 5);
	}
	/* h near 2^130 - 5 on the way and at the end. */
	memset(m, 0xff, sizeof(m));
	for (int i = 0; i < 64; i++) {
		size_t n = 16 * (size_t)(1 + i % 16);

		memset(key, 0xff, 32);
		if (i >= 32)
			t_rand(key + 16, 16);
		if (i % 3 == 1)
			t_rand(key, 16);
		if (i % 3 == 2)
			m[i] ^= (uint8_t)(1u << (i % 8));
		CHECK(ossl_poly1305(ref, key, m, n) == 0 && pqx_poly1305_blocks(got, key, m, n) == 0 &&
		    memcmp(got, ref, 16) == 0, "edge %d (%zu bytes)", i, n);
	}
	CHECK(pqx_poly1305_blocks(got, key, m, 15) == PQX_ERR_INVALID_ARG, "a partial block");
}

static void test_aes_256_gcm(void)
{
	check_aead_file(WP_DIR "aes_gcm_test.json", PQX_AEAD_AES_256_GCM, 66);
}

/* OpenSSL's AES-256-GCM, the reference for ours (pqx_aead uses ours where it can). */
static int ossl_gcm_seal(uint8_t *ct, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t n)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l, ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
		    (ad_len == 0 || EVP_EncryptUpdate(c, NULL, &l, ad, (int)ad_len) == 1) &&
		    (n == 0 || EVP_EncryptUpdate(c, ct, &l, pt, (int)n) == 1) &&
		    EVP_EncryptFinal_ex(c, ct + n, &l) == 1 &&
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, ct + n) == 1;

	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/*
 * Our AES-256-GCM against OpenSSL's: every length to 700 bytes (the
 * 256-byte steps, and every tail of whole and partial blocks after them),
 * then lengths to 70,000 bytes, with ad of 0 to 40 bytes, in place and not;
 * a flipped bit anywhere is refused and zeroes the output.
 */
static void test_gcm_ours(void)
{
	enum { MAX = 70000 };
	uint8_t key[32], nonce[12], ad[40];
	uint8_t *pt = malloc(MAX), *ref = malloc(MAX + 16), *ours = malloc(MAX + 16), *out = malloc(MAX + 16);
	pqx_gcm *g = NULL;

	if (!pqx_gcm_available()) {
		t_skip(getenv("PQX_GCM") != NULL ? "PQX_GCM=openssl: OpenSSL's AES-256-GCM is used"
						 : "this CPU has no VAES and VPCLMULQDQ with AVX-512: OpenSSL's AES-256-GCM is used");
		goto out;
	}
	CHECK(pt && ref && ours && out, "allocation");
	for (size_t i = 0; i < 900 && !t_case_failures(); i++) {
		size_t n = i, ad_len = i % (sizeof(ad) + 1), flip;
		uint8_t r[4];

		if (i > 700) {
			t_rand(r, sizeof(r));
			n = pqx_load32_be(r) % MAX;
		}
		t_rand(key, sizeof(key));
		t_rand(nonce, sizeof(nonce));
		t_rand(ad, ad_len);
		t_rand(pt, n);
		pqx_gcm_free(g);
		CHECK((g = pqx_gcm_new(key)) != NULL, "n %zu: keyed", n);
		CHECK(g != NULL && ossl_gcm_seal(ref, key, nonce, ad, ad_len, pt, n) == 0, "n %zu: openssl", n);
		if (t_case_failures())
			break;
		CHECK(pqx_gcm_seal(g, ours, nonce, ad, ad_len, pt, n) == 0 && memcmp(ours, ref, n + 16) == 0,
		    "n %zu ad %zu: seal differs", n, ad_len);
		memcpy(out, pt, n);
		CHECK(pqx_gcm_seal(g, out, nonce, ad, ad_len, out, n) == 0 && memcmp(out, ref, n + 16) == 0,
		    "n %zu: in place", n);
		CHECK(pqx_gcm_open(g, out, nonce, ad, ad_len, out, n + 16) == 0 && memcmp(out, pt, n) == 0,
		    "n %zu: open in place", n);
		flip = (i * 7919) % (ad_len + n + 16);
		if (flip < ad_len)
			ad[flip] ^= 0x10;
		else
			ref[flip - ad_len] ^= 0x10;
		memset(out, 0xaa, n + 16);
		CHECK(pqx_gcm_open(g, out, nonce, ad, ad_len, ref, n + 16) == PQX_ERR_AUTH &&
		    pqx_ct_is_zero(out, n), "n %zu: a flipped bit at %zu was accepted", n, flip);
	}
	CHECK(g == NULL || pqx_gcm_open(g, out, nonce, NULL, 0, ref, 15) == PQX_ERR_AUTH, "shorter than a tag");
out:
	pqx_gcm_free(g);
	free(pt);
	free(ref);
	free(ours);
	free(out);
}

/* The AEAD wrappers' own edges: short input, unknown alg, the reusable context. */
static void test_aead_edges(void)
{
	uint8_t key[32], nonce[12], pt[64], ct[80], out[64];
	pqx_aead *a;

	t_rand(key, sizeof(key));
	t_rand(nonce, sizeof(nonce));
	t_rand(pt, sizeof(pt));
	CHECK(pqx_aead_new((enum pqx_aead_alg)99, key) == NULL, "unknown alg");
	CHECK(pqx_aead_seal_once((enum pqx_aead_alg)99, key, ct, nonce, NULL, 0, pt, 16) ==
	    PQX_ERR_UNSUPPORTED);
	CHECK(pqx_aead_open_once(PQX_AEAD_CHACHA20_POLY1305, key, out, nonce, NULL, 0, ct,
	    15) == PQX_ERR_AUTH, "shorter than a tag");
	a = pqx_aead_new(PQX_AEAD_AES_256_GCM, key);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	/* One keyed context serves many messages under different nonces. */
	for (int i = 0; i < 5; i++) {
		nonce[11] = (uint8_t)i;
		CHECK(pqx_aead_seal(a, ct, nonce, NULL, 0, pt, sizeof(pt)) == 0);
		CHECK(pqx_aead_open(a, out, nonce, NULL, 0, ct, sizeof(ct)) == 0 &&
		    memcmp(out, pt, sizeof(pt)) == 0, "message %d", i);
	}
	nonce[11] ^= 1;
	CHECK(pqx_aead_open(a, out, nonce, NULL, 0, ct, sizeof(ct)) == PQX_ERR_AUTH, "nonce");
	pqx_aead_free(a);
	pqx_aead_free(NULL);
}

/*
 * hkdf_sha256_test.json: 83 valid (including empty salts and the maximal
 * 255 * 32 output) and 3 invalid (SizeTooLarge, which must fail). Each valid
 * one is also run as Extract then Expand.
 */
static void test_hkdf(void)
{
	struct json *root = wp_open(WP_DIR "hkdf_sha256_test.json");
	const struct json *groups = json_get(root, "testGroups");
	struct hexbag b = { .n = 0 };
	int n_valid = 0, n_invalid = 0;

	if (root == NULL)
		return;
	for (size_t g = 0; g < json_len(groups); g++) {
		const struct json *tests = json_get(json_at(groups, g), "tests");

		for (size_t i = 0; i < json_len(tests); i++) {
			const struct json *t = json_at(tests, i);
			long long id = json_int(json_get(t, "tcId"), -1);
			long long size = json_int(json_get(t, "size"), -1);
			const char *result = json_get_str(t, "result");
			size_t ikm_len, salt_len, info_len, okm_len;
			uint8_t *ikm = bag_hex(&b, t, "ikm", &ikm_len);
			uint8_t *salt = bag_hex(&b, t, "salt", &salt_len);
			uint8_t *info = bag_hex(&b, t, "info", &info_len);
			uint8_t *okm = bag_hex(&b, t, "okm", &okm_len);
			uint8_t *out, prk[32];

			CHECK(ikm && salt && info && okm && result && size > 0 && size < 100000,
			    "tcId %lld: fields", id);
			if (t_case_failures() || (out = malloc((size_t)size)) == NULL)
				goto out;
			if (strcmp(result, "valid") == 0) {
				CHECK(okm_len == (size_t)size);
				CHECK(pqx_hkdf_sha256(out, okm_len, salt, salt_len, ikm, ikm_len, info,
				    info_len) == 0 && memcmp(out, okm, okm_len) == 0,
				    "tcId %lld: okm", id);
				memset(out, 0, okm_len);
				CHECK(pqx_hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len) == 0 &&
				    pqx_hkdf_sha256_expand(out, okm_len, prk, info, info_len) == 0 &&
				    memcmp(out, okm, okm_len) == 0, "tcId %lld: extract+expand", id);
				n_valid++;
			} else {
				CHECK(strcmp(result, "invalid") == 0 && size > 255 * 32,
				    "tcId %lld: unexpected invalid case", id);
				memset(out, 0xaa, (size_t)size);
				CHECK(pqx_hkdf_sha256(out, (size_t)size, salt, salt_len, ikm, ikm_len,
				    info, info_len) == PQX_ERR_INVALID_ARG, "tcId %lld: size %lld", id,
				    size);
				CHECK(pqx_ct_is_zero(out, (size_t)size), "tcId %lld: out zeroed", id);
				CHECK(pqx_hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len) == 0 &&
				    pqx_hkdf_sha256_expand(out, (size_t)size, prk, info, info_len) ==
				    PQX_ERR_INVALID_ARG, "tcId %lld: expand size", id);
				n_invalid++;
			}
			free(out);
			bag_free(&b);
		}
	}
	printf("# hkdf_sha256: %d valid, %d invalid\n", n_valid, n_invalid);
	CHECK(n_valid + n_invalid == json_int(json_get(root, "numberOfTests"), -1),
	    "every test counted");
out:
	bag_free(&b);
	json_free(root);
}

/*
 * HKDF-Expand with an info longer than OpenSSL 3.0's 32 KiB HKDF limit (HPKE
 * exporter contexts go to 64 KiB), against T(1) = HMAC(prk, info || 0x01).
 */
static void test_hkdf_long_info(void)
{
	const size_t info_len = 65536 + 19;
	uint8_t *buf = malloc(info_len + 1), prk[32], out[32], want[32];

	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	t_rand(prk, sizeof(prk));
	t_rand(buf, info_len);
	buf[info_len] = 0x01;
	CHECK(pqx_hmac_sha256(want, prk, sizeof(prk), buf, info_len + 1) == 0);
	CHECK(pqx_hkdf_sha256_expand(out, sizeof(out), prk, buf, info_len) == 0, "expand");
	CHECK_EQ_MEM(out, want, 32, "T(1)");
	free(buf);
}

/* RFC 7914 section 12 test vectors 1 and 3 (2 and 4 cost too much time). */
static void test_scrypt(void)
{
	static const struct {
		const char *pass, *salt;
		unsigned int log_n, r, p;
		const char *dk;
	} tv[] = {
		{ "", "", 4, 1, 1,
		    "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
		    "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906" },
		{ "password", "NaCl", 10, 8, 16,
		    "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
		    "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640" },
	};
	uint8_t want[64], out[64];

	for (size_t i = 0; i < sizeof(tv) / sizeof(tv[0]); i++) {
		CHECK(t_unhex(want, 64, tv[i].dk) == 0);
		CHECK(pqx_scrypt(out, 64, (const uint8_t *)tv[i].pass, strlen(tv[i].pass),
		    (const uint8_t *)tv[i].salt, strlen(tv[i].salt), tv[i].log_n, tv[i].r,
		    tv[i].p) == 0, "vector %zu", i);
		CHECK_EQ_MEM(out, want, 64, "vector %zu", i);
	}
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_scrypt(out, 64, (const uint8_t *)"p", 1, (const uint8_t *)"s", 1, 0, 8, 1) ==
	    PQX_ERR_INVALID_ARG && pqx_ct_is_zero(out, 64), "log_n = 0");
	CHECK(pqx_scrypt(out, 64, (const uint8_t *)"p", 1, (const uint8_t *)"s", 1, 10, 0, 1) ==
	    PQX_ERR_INVALID_ARG, "r = 0");
	CHECK(pqx_scrypt(out, 64, (const uint8_t *)"p", 1, (const uint8_t *)"s", 1, 10, 8, 0) ==
	    PQX_ERR_INVALID_ARG, "p = 0");
}

/* RFC 4231 test cases 1 and 2, and SHA-256 of "abc" and "" (FIPS 180-4 examples). */
static void test_hmac_sha256(void)
{
	static const struct {
		const char *key_hex, *msg, *mac;
	} tv[] = {
		{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
		    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
		{ "4a656665", "what do ya want for nothing?",
		    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	};
	uint8_t key[32], want[32], out[32];

	for (size_t i = 0; i < sizeof(tv) / sizeof(tv[0]); i++) {
		size_t key_len = strlen(tv[i].key_hex) / 2;

		CHECK(t_unhex(key, key_len, tv[i].key_hex) == 0 && t_unhex(want, 32, tv[i].mac) == 0);
		CHECK(pqx_hmac_sha256(out, key, key_len, (const uint8_t *)tv[i].msg,
		    strlen(tv[i].msg)) == 0 && memcmp(out, want, 32) == 0, "RFC 4231 case %zu",
		    i + 1);
	}
}

static void test_sha256(void)
{
	uint8_t want[32], out[32];

	CHECK(t_unhex(want, 32,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	CHECK(pqx_sha256(out, (const uint8_t *)"abc", 3) == 0 && memcmp(out, want, 32) == 0,
	    "abc");
	CHECK(t_unhex(want, 32,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	CHECK(pqx_sha256(out, NULL, 0) == 0 && memcmp(out, want, 32) == 0, "empty");
}

static int fail_always(void)
{
	return 1;
}

/* Every wrapper reports an injected allocation failure and zeroes its output. */
static void test_alloc_faults(void)
{
	uint8_t k[32] = { 1 }, out[64], nine[32] = { 9 };

	pqx_test_set_alloc_fault(fail_always);
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hkdf_sha256(out, 64, NULL, 0, k, 32, NULL, 0) == PQX_ERR_NOMEM &&
	    pqx_ct_is_zero(out, 64), "hkdf");
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hkdf_sha256_expand(out, 64, k, NULL, 0) == PQX_ERR_NOMEM &&
	    pqx_ct_is_zero(out, 64), "hkdf expand");
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hmac_sha256(out, k, 32, k, 32) == PQX_ERR_NOMEM && pqx_ct_is_zero(out, 32),
	    "hmac");
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_x25519(out, k, nine) == PQX_ERR_NOMEM && pqx_ct_is_zero(out, 32), "x25519");
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_x25519_known(out, k, nine, nine) == PQX_ERR_NOMEM && pqx_ct_is_zero(out, 32),
	    "x25519_known");
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_scrypt(out, 64, k, 32, k, 32, 4, 1, 1) == PQX_ERR_NOMEM &&
	    pqx_ct_is_zero(out, 64), "scrypt");
	CHECK(pqx_aead_new(PQX_AEAD_CHACHA20_POLY1305, k) == NULL, "aead_new");
	CHECK(pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, k, out, k, NULL, 0, k, 16) ==
	    PQX_ERR_NOMEM && pqx_ct_is_zero(out, 32), "seal_once");
	pqx_test_set_alloc_fault(NULL);
}

int main(void)
{
	t_run("wycheproof x25519 (valid, acceptable, zero shared secrets refused)", test_x25519);
	t_run("x25519 base point", test_x25519_base);
	t_run("x25519 RFC 7748 vectors and 1,000 rounds", test_x25519_rfc7748);
	t_run("wycheproof chacha20-poly1305 (96-bit nonce; openssl's and ours)", test_chacha20_poly1305);
	t_run("our chacha20-poly1305 against openssl's, every length to 300 bytes", test_chachapoly_ours);
	t_run("our poly1305's carries and final reduction (RFC 8439 A.3, against openssl)", test_poly1305_edges);
	t_run("wycheproof aes-256-gcm (256-bit key, 96-bit iv)", test_aes_256_gcm);
	t_run("our aes-256-gcm against openssl's, every length to 700 bytes and more", test_gcm_ours);
	t_run("aead wrapper edges", test_aead_edges);
	t_run("wycheproof hkdf-sha256", test_hkdf);
	t_run("hkdf-sha256 expand with a 64 KiB info", test_hkdf_long_info);
	t_run("scrypt RFC 7914", test_scrypt);
	t_run("hmac-sha256 RFC 4231 cases 1 and 2", test_hmac_sha256);
	t_run("sha-256 abc and empty", test_sha256);
	t_run("wrapper allocation faults", test_alloc_faults);
	return t_done();
}
