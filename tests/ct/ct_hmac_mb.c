/* pqx ct: the multi-buffer HMAC-SHA256 with its key and messages marked undefined, so valgrind flags any branch or index on them. */
#include <stdlib.h>
#include <string.h>

#include "crypto/hmac_mb.h"
#include "crypto/ossl.h"
#include "ct.h"

/*
 * Valgrind runs AVX2 but not AVX-512, and shows no SHA instructions: under
 * it pqx_hmac_mb_new takes the 8 lanes of AVX2. The lane schedule, the
 * padding and the outer block are the same code for 16 lanes; only the
 * vector rounds differ (read, not machine-checked: docs/SECURITY.md).
 */
/* A chunk id key and chunk-like messages (lengths are public: the lane schedule follows them). */
static void test_ids(void)
{
	enum { N = 40 };
	unsigned long before = ct_errors();
	uint8_t key[32], *msg = malloc(N * 9000), *out = malloc(N * 32), *want = malloc(N * 32);
	uint32_t lens[N];
	size_t total = 0;
	pqx_hmac_mb_key *k;

	CHECK(msg != NULL && out != NULL && want != NULL);
	if (msg == NULL || out == NULL || want == NULL)
		goto out;
	t_rand(key, sizeof(key));
	for (int i = 0; i < N; i++) {
		uint8_t r[2];

		t_rand(r, sizeof(r));
		lens[i] = (uint32_t)(r[0] | r[1] << 8) % 9000;
		total += lens[i];
	}
	t_rand(msg, total);
	/* What it must give, computed before anything is marked. */
	for (size_t i = 0, off = 0; i < N; off += lens[i], i++)
		CHECK(pqx_hmac_sha256(want + 32 * i, key, sizeof(key), msg + off, lens[i]) == 0);
	SECRET(key, sizeof(key));
	SECRET(msg, total);
	k = pqx_hmac_mb_new(key, sizeof(key));
	if (k == NULL) {
		t_skip("no AVX2 here: chunk ids are MACed one at a time");
		goto out;
	}
	if (RUNNING_ON_VALGRIND)
		CHECK(pqx_hmac_mb_lanes(k) == 8, "%d lanes under valgrind, want 8", pqx_hmac_mb_lanes(k));
	CHECK(pqx_hmac_mb(k, msg, lens, N, out) == 0);
	pqx_hmac_mb_free(k);
	ct_errors_check(before);
	PUBLIC(out, N * 32);
	CHECK(memcmp(out, want, N * 32) == 0, "the MACs");
out:
	free(msg);
	free(out);
	free(want);
}

int main(void)
{
	if (!RUNNING_ON_VALGRIND)
		printf("# not under valgrind: this only checks results, not timing\n");
	t_run("ct hmac_mb: chunk ids under a secret key, of secret bytes", test_ids);
	return t_done();
}
