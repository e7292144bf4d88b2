/* pqx tests: the multi-buffer HMAC-SHA256 (16 lanes of AVX-512, 8 of AVX2) against OpenSSL's, message by message. */
#include <stdio.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "crypto/hmac_mb.h"
#include "crypto/ossl.h"
#include "harness.h"
#include "util/util.h"

/* Lengths around every edge of SHA-256's padding and of a block, and chunk-like ones. */
static const uint32_t edge_lens[] = { 0, 1, 31, 32, 55, 56, 57, 63, 64, 65, 119, 120, 127,
	128, 129, 511, 512, 2048, 8191, 8192, 8193, 65535, 65536 };

/* Checks one batch: every message's MAC against pqx_hmac_sha256. */
static void check_batch(const pqx_hmac_mb_key *k, const uint8_t *key, size_t key_len,
    const uint8_t *msg, const uint32_t *lens, size_t n, const char *what)
{
	uint8_t *out = malloc(n * PQX_HMAC_MB_BYTES + 1), want[32];
	size_t off = 0, bad = 0;

	CHECK(out != NULL);
	if (out == NULL)
		return;
	out[n * PQX_HMAC_MB_BYTES] = 0xa5;
	CHECK(pqx_hmac_mb(k, msg, lens, n, out) == 0, "%s: pqx_hmac_mb failed", what);
	for (size_t i = 0; i < n; i++) {
		CHECK(pqx_hmac_sha256(want, key, key_len, msg + off, lens[i]) == 0);
		bad += memcmp(want, out + i * PQX_HMAC_MB_BYTES, 32) != 0;
		off += lens[i];
	}
	CHECK(bad == 0, "%s: %zu of %zu messages differ", what, bad, n);
	CHECK(out[n * PQX_HMAC_MB_BYTES] == 0xa5, "%s: wrote past its output", what);
	free(out);
}

/* One engine (lanes) against OpenSSL. */
static void against_openssl(int lanes)
{
	static const size_t key_lens[] = { 0, 1, 32, 63, 64 };
	uint8_t key[64], *msg;
	uint32_t lens[200];
	pqx_hmac_mb_key *k;

	t_rand(key, sizeof(key));
	if ((k = pqx_hmac_mb_new_lanes(key, 32, lanes)) == NULL) {
		t_skip(lanes == 16 ? "this CPU has no AVX-512 (F and BW)" : "this CPU has no AVX2");
		return;
	}
	CHECK(pqx_hmac_mb_lanes(k) == lanes);
	pqx_hmac_mb_free(k);
	CHECK((msg = malloc(200 * 70000)) != NULL);
	if (msg == NULL)
		return;
	t_rand(msg, 200 * 70000);
	for (size_t ki = 0; ki < sizeof(key_lens) / sizeof(key_lens[0]); ki++) {
		CHECK((k = pqx_hmac_mb_new_lanes(key, key_lens[ki], lanes)) != NULL);
		if (k == NULL)
			break;
		/* Every edge length, alone, then all in one batch (lanes out of step). */
		for (size_t i = 0; i < sizeof(edge_lens) / sizeof(edge_lens[0]); i++) {
			check_batch(k, key, key_lens[ki], msg, &edge_lens[i], 1, "one message");
			lens[i] = edge_lens[i];
		}
		check_batch(k, key, key_lens[ki], msg, lens, sizeof(edge_lens) / sizeof(edge_lens[0]),
		    "edge lengths together");
		/* Batches of 1 to 200 random lengths, fewer and more than the lanes. */
		for (size_t n = 1; n <= 200; n += n < 40 ? 1 : 53) {
			for (size_t i = 0; i < n; i++) {
				uint8_t r[4];

				t_rand(r, sizeof(r));
				lens[i] = (uint32_t)(r[0] | r[1] << 8 | (r[2] & 1) << 16) % 70000;
				if (r[3] < 64)
					lens[i] %= 200; /* some short ones */
			}
			check_batch(k, key, key_lens[ki], msg, lens, n, "random lengths");
		}
		pqx_hmac_mb_free(k);
	}
	free(msg);
}

static void test_16(void)
{
	against_openssl(16);
}

static void test_8(void)
{
	against_openssl(8);
}

/* The engine pqx_hmac_mb_new picks: 16 lanes with AVX-512; 8 with AVX2 and no SHA instructions. */
static void test_choice(void)
{
	uint8_t key[32] = { 3 };
	pqx_hmac_mb_key *k = pqx_hmac_mb_new(key, sizeof(key));
	int want = 0;

#if defined(PQX_ENABLE_AVX2) && defined(__x86_64__)
	unsigned int a, b, c, d;
	int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1);

	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
		want = 16;
	else if (__builtin_cpu_supports("avx2") && !sha)
		want = 8;
#endif
	CHECK(pqx_hmac_mb_lanes(k) == want, "%d lanes, want %d", pqx_hmac_mb_lanes(k), want);
	CHECK(pqx_hmac_mb_lanes(NULL) == 0);
	pqx_hmac_mb_free(k);
}

static void test_edges(void)
{
	uint8_t key[65] = { 1 }, out[64];
	uint32_t lens[2] = { 1, 2 };

	CHECK(pqx_hmac_mb_new(key, sizeof(key)) == NULL, "a key over 64 bytes is the caller's to hash");
	pqx_hmac_mb_free(NULL);
	memset(out, 0xaa, sizeof(out));
	CHECK(pqx_hmac_mb(NULL, key, lens, 2, out) == PQX_ERR_INVALID_ARG, "no key");
	CHECK(pqx_ct_is_zero(out, sizeof(out)), "no key: the output zeroed");
	CHECK(pqx_hmac_mb(NULL, NULL, NULL, 0, out) == PQX_ERR_INVALID_ARG, "no key, no messages");
}

/* When the lanes pay: enough messages, none holding a lane alone for long. */
static void test_pays(void)
{
	uint8_t key[32] = { 2 };
	pqx_hmac_mb_key *k16 = pqx_hmac_mb_new_lanes(key, sizeof(key), 16);
	pqx_hmac_mb_key *k8 = pqx_hmac_mb_new_lanes(key, sizeof(key), 8);
	uint32_t lens[96];

	for (int i = 0; i < 96; i++)
		lens[i] = 8192;
	CHECK(!pqx_hmac_mb_pays(NULL, lens, 96), "no key");
	if (k16 != NULL) {
		CHECK(!pqx_hmac_mb_pays(k16, lens, 7), "16 lanes: 7 messages");
		CHECK(pqx_hmac_mb_pays(k16, lens, 8) && pqx_hmac_mb_pays(k16, lens, 32), "16 lanes: 8 and 32 alike");
	}
	if (k8 != NULL) {
		CHECK(!pqx_hmac_mb_pays(k8, lens, 3), "8 lanes: 3 messages");
		CHECK(pqx_hmac_mb_pays(k8, lens, 4) && pqx_hmac_mb_pays(k8, lens, 32), "8 lanes: 4 and 32 alike");
	}
	lens[3] = 65536;
	/* Its lane works through it while the others share the rest. */
	if (k16 != NULL) {
		CHECK(!pqx_hmac_mb_pays(k16, lens, 16) && !pqx_hmac_mb_pays(k16, lens, 32),
		    "16 lanes: one 8 times the others among 16, 32");
		CHECK(pqx_hmac_mb_pays(k16, lens, 64) && pqx_hmac_mb_pays(k16, lens, 96), "16 lanes: the same among 64, 96");
	}
	if (k8 != NULL) {
		CHECK(!pqx_hmac_mb_pays(k8, lens, 8), "8 lanes: one 8 times the others among 8");
		CHECK(pqx_hmac_mb_pays(k8, lens, 16), "8 lanes: the same among 16");
	}
	pqx_hmac_mb_free(k16);
	pqx_hmac_mb_free(k8);
}

/* No messages: nothing read, nothing written. */
static void test_none(void)
{
	uint8_t key[32] = { 1 }, out[1] = { 0xaa };
	pqx_hmac_mb_key *k = pqx_hmac_mb_new_lanes(key, sizeof(key), 8);

	if (k == NULL) {
		t_skip("this CPU has no AVX2");
		return;
	}
	CHECK(pqx_hmac_mb(k, NULL, NULL, 0, out) == 0 && out[0] == 0xaa);
	pqx_hmac_mb_free(k);
}

int main(void)
{
	t_run("hmac_mb: 16 lanes: every message's MAC is OpenSSL's (keys 0-64 bytes, 1-200 messages)",
	    test_16);
	t_run("hmac_mb: 8 lanes: every message's MAC is OpenSSL's (keys 0-64 bytes, 1-200 messages)",
	    test_8);
	t_run("hmac_mb: the engine chosen for this CPU", test_choice);
	t_run("hmac_mb: longer keys refused, no key an error", test_edges);
	t_run("hmac_mb: no messages", test_none);
	t_run("hmac_mb: when the lanes pay", test_pays);
	return t_done();
}
