/* pqx ct: our ChaCha20-Poly1305 (the handshake's) with its key and messages marked undefined, so valgrind flags any branch or index on them. */
#include <string.h>

#include "crypto/chachapoly.h"
#include "crypto/ossl.h"
#include "ct.h"

/*
 * Seal and open under a secret key of secret bytes, every length to 200
 * (lengths, the nonce and the ad are public: the handshake's are). Only the
 * tag's verdict may be branched on: it is made public before it is used.
 */
static void test_aead(void)
{
	unsigned long before = ct_errors();
	uint8_t key[32], nonce[12], ad[32], pt[200], ct[216], back[200], want[216];

	for (size_t n = 0; n <= sizeof(pt); n++) {
		int r;

		t_rand(key, sizeof(key));
		t_rand(nonce, sizeof(nonce));
		t_rand(ad, sizeof(ad));
		t_rand(pt, n);
		/* What it must give, from OpenSSL, before anything is marked. */
		CHECK(pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, key, want, nonce, ad, sizeof(ad), pt,
		    n) == 0);
		SECRET(key, sizeof(key));
		SECRET(pt, n);
		CHECK(pqx_chachapoly_seal(ct, key, nonce, ad, sizeof(ad), pt, n) == 0);
		/* The ciphertext and tag go on the wire: public from here. */
		PUBLIC(ct, n + 16);
		r = pqx_chachapoly_open(back, key, nonce, ad, sizeof(ad), ct, n + 16);
		PUBLIC(&r, sizeof(r));
		CHECK(r == 0, "n %zu: open", n);
		PUBLIC(key, sizeof(key));
		PUBLIC(pt, n);
		PUBLIC(back, n);
		CHECK(memcmp(ct, want, n + 16) == 0 && memcmp(back, pt, n) == 0, "n %zu: the bytes", n);
		if (t_case_failures())
			break;
	}
	ct_errors_check(before);
}

int main(void)
{
	if (!RUNNING_ON_VALGRIND)
		printf("# not under valgrind: this only checks results, not timing\n");
	t_run("ct chachapoly: seal and open under a secret key, of secret bytes", test_aead);
	return t_done();
}
