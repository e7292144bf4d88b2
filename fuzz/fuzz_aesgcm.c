/* pqx fuzz: our AES-256-GCM (the records', where the CPU runs it) against OpenSSL's, on fuzzed keys, nonces, ad and messages. */
#include <openssl/evp.h>

#include "crypto/aesgcm.h"
#include "fuzz.h"

/*
 * Input: key[32], nonce[12], u8 ad_len (0-255), ad, then the message (the
 * rest, up to 4096 bytes: sixteen 256-byte steps). Ours seals it to the
 * same bytes as OpenSSL, opens them back, in place too; the same bytes
 * opened as a ciphertext (a forgery, if the rest is at least a tag) are
 * refused or accepted by both alike, with the output zeroed when refused.
 * Where this CPU can't run ours, there is nothing to compare.
 */
static uint8_t key[32], nonce[12], ad[255];
static uint8_t msg[4096], a[4096 + 16], b[4096 + 16], out[4096 + 16];
static size_t ad_len;

/* OpenSSL's, straight from EVP: seal n bytes, or open n (with the tag): 0 only if the tag is right. */
static int ossl(int seal, uint8_t *o, const uint8_t *in, size_t n)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l, ok = c != NULL && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, seal) == 1 &&
		    (ad_len == 0 || EVP_CipherUpdate(c, NULL, &l, ad, (int)ad_len) == 1);

	if (!seal) {
		ok = ok && n >= 16 && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(in + n - 16)) == 1;
		n = n >= 16 ? n - 16 : 0;
	}
	ok = ok && (n == 0 || EVP_CipherUpdate(c, o, &l, in, (int)n) == 1) && EVP_CipherFinal_ex(c, o + n, &l) == 1 &&
	     (!seal || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, o + n) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader in = { data, size };
	pqx_gcm *g;
	size_t n;
	int r, r2;

	if (!pqx_gcm_available())
		return 0;
	take(&in, key, sizeof(key));
	take(&in, nonce, sizeof(nonce));
	ad_len = take_u8(&in);
	take(&in, ad, ad_len);
	n = in.left < sizeof(msg) ? in.left : sizeof(msg);
	take(&in, msg, n);
	FUZZ_ASSERT((g = pqx_gcm_new(key)) != NULL);

	FUZZ_ASSERT(pqx_gcm_seal(g, a, nonce, ad, ad_len, msg, n) == 0);
	FUZZ_ASSERT(ossl(1, b, msg, n) == 0);
	FUZZ_ASSERT(memcmp(a, b, n + 16) == 0);
	FUZZ_ASSERT(pqx_gcm_open(g, out, nonce, ad, ad_len, a, n + 16) == 0);
	FUZZ_ASSERT(memcmp(out, msg, n) == 0);
	FUZZ_ASSERT(pqx_gcm_open(g, a, nonce, ad, ad_len, a, n + 16) == 0);
	FUZZ_ASSERT(memcmp(a, msg, n) == 0);

	/* The message as a ciphertext and tag. */
	memset(out, 0xaa, sizeof(out));
	r = pqx_gcm_open(g, out, nonce, ad, ad_len, msg, n);
	r2 = ossl(0, b, msg, n);
	FUZZ_ASSERT((r == 0) == (r2 == 0));
	FUZZ_ASSERT(r == 0 || r == PQX_ERR_AUTH);
	if (r == 0)
		FUZZ_ASSERT(memcmp(out, b, n - 16) == 0);
	else if (n >= 16)
		FUZZ_ASSERT(all_zero(out, n - 16));
	pqx_gcm_free(g);
	return 0;
}
