/* pqx tests: the multi-buffer HMAC-SHA256 (AVX-512) against OpenSSL's, message by message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hmac_mb.h"
#include "crypto/ossl.h"
#include "harness.h"

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
	pqx_hmac_mb(k, msg, lens, n, out);
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

static void test_long_key(void)
{
	uint8_t key[65] = { 1 };

	CHECK(pqx_hmac_mb_new(key, sizeof(key)) == NULL, "a key over 64 bytes is the caller's to hash");
	pqx_hmac_mb_free(NULL);
}

int main(void)
{
	t_run("hmac_mb: every message's MAC is OpenSSL's (keys 0-64 bytes, 1-200 messages)",
	    test_against_openssl);
	t_run("hmac_mb: longer keys refused", test_long_key);
	return t_done();
}
