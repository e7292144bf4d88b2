/* pqx fuzz: our ChaCha20-Poly1305 (the handshake's) against OpenSSL's, on fuzzed keys, nonces, ad and messages. */
#include "crypto/chachapoly.h"
#include "crypto/ossl.h"
#include "fuzz.h"

/*
 * Input: key[32], nonce[12], u8 ad_len (0-255), ad, then the message (the
 * rest, up to 4096 bytes). Ours seals it to the same bytes as OpenSSL,
 * opens them back, in place too; the same bytes opened as a ciphertext
 * (a forgery, if the rest is at least a tag) are refused or accepted by
 * both alike, with the output zeroed when refused.
 */
static uint8_t key[32], nonce[12], ad[255];
static uint8_t msg[4096], a[4096 + 16], b[4096 + 16], out[4096 + 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader in = { data, size };
	size_t ad_len, n;
	int r, r2;

	take(&in, key, sizeof(key));
	take(&in, nonce, sizeof(nonce));
	ad_len = take_u8(&in);
	take(&in, ad, ad_len);
	n = in.left < sizeof(msg) ? in.left : sizeof(msg);
	take(&in, msg, n);

	FUZZ_ASSERT(pqx_chachapoly_seal(a, key, nonce, ad, ad_len, msg, n) == 0);
	FUZZ_ASSERT(pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, key, b, nonce, ad, ad_len, msg, n) == 0);
	FUZZ_ASSERT(memcmp(a, b, n + 16) == 0);
	FUZZ_ASSERT(pqx_chachapoly_open(out, key, nonce, ad, ad_len, a, n + 16) == 0);
	FUZZ_ASSERT(memcmp(out, msg, n) == 0);
	FUZZ_ASSERT(pqx_chachapoly_open(a, key, nonce, ad, ad_len, a, n + 16) == 0);
	FUZZ_ASSERT(memcmp(a, msg, n) == 0);

	/* The message as a ciphertext and tag. */
	memset(out, 0xaa, sizeof(out));
	r = pqx_chachapoly_open(out, key, nonce, ad, ad_len, msg, n);
	r2 = pqx_aead_open_once(PQX_AEAD_CHACHA20_POLY1305, key, b, nonce, ad, ad_len, msg, n);
	FUZZ_ASSERT((r == 0) == (r2 == 0));
	FUZZ_ASSERT(r == 0 || r == PQX_ERR_AUTH);
	if (r == 0)
		FUZZ_ASSERT(memcmp(out, b, n - 16) == 0);
	else if (n >= 16)
		FUZZ_ASSERT(all_zero(out, n - 16));
	return 0;
}
