/* pqx tests: the multi-buffer HMAC-SHA256 (AVX-512) against OpenSSL's, message by message. */
#include <stdio.h>
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

static void test_against_openssl(void)
{
	static const size_t key_lens[] = { 0, 1, 32, 63, 64 };
	uint8_t key[64], *msg;
	uint32_t lens[200];
	pqx_hmac_mb_key *k;

	t_rand(key, sizeof(key));
	if ((k = pqx_hmac_mb_new(key, 32)) == NULL) {
		t_skip("this CPU has no AVX-512 (F and BW): chunk ids are MACed one at a time");
		return;
	}
	pqx_hmac_mb_free(k);
	CHECK((msg = malloc(200 * 70000)) != NULL);
	if (msg == NULL)
		return;
	t_rand(msg, 200 * 70000);
	for (size_t ki = 0; ki < sizeof(key_lens) / sizeof(key_lens[0]); ki++) {
		CHECK((k = pqx_hmac_mb_new(key, key_lens[ki])) != NULL);
		if (k == NULL)
			break;
		/* Every edge length, alone, then all in one batch (lanes out of step). */
		for (size_t i = 0; i < sizeof(edge_lens) / sizeof(edge_lens[0]); i++) {
			check_batch(k, key, key_lens[ki], msg, &edge_lens[i], 1, "one message");
			lens[i] = edge_lens[i];
		}
		check_batch(k, key, key_lens[ki], msg, lens, sizeof(edge_lens) / sizeof(edge_lens[0]),
		    "edge lengths together");
		/* Batches of 1 to 200 random lengths, fewer and more than the 16 lanes. */
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

/* When 16 lanes pay: enough messages, none holding a lane alone for long. */
static void test_pays(void)
{
	uint32_t lens[96];

	for (int i = 0; i < 96; i++)
		lens[i] = 8192;
	CHECK(!pqx_hmac_mb_pays(lens, 7), "7 messages");
	CHECK(pqx_hmac_mb_pays(lens, 16) && pqx_hmac_mb_pays(lens, 32), "16 and 32 alike");
	lens[3] = 65536;
	/* Its lane works through it while the others share the rest. */
	CHECK(!pqx_hmac_mb_pays(lens, 16) && !pqx_hmac_mb_pays(lens, 32), "one 8 times the others among 16, 32");
	CHECK(pqx_hmac_mb_pays(lens, 96), "the same among 96");
}

/* No messages: nothing read, nothing written. */
static void test_none(void)
{
	uint8_t key[32] = { 1 }, out[1] = { 0xaa };
	pqx_hmac_mb_key *k = pqx_hmac_mb_new(key, sizeof(key));

	if (k == NULL) {
		t_skip("this CPU has no AVX-512 (F and BW)");
		return;
	}
	CHECK(pqx_hmac_mb(k, NULL, NULL, 0, out) == 0 && out[0] == 0xaa);
	pqx_hmac_mb_free(k);
}

int main(void)
{
	t_run("hmac_mb: every message's MAC is OpenSSL's (keys 0-64 bytes, 1-200 messages)",
	    test_against_openssl);
	t_run("hmac_mb: longer keys refused, no key an error", test_edges);
	t_run("hmac_mb: no messages", test_none);
	t_run("hmac_mb: when 16 lanes pay", test_pays);
	return t_done();
}
