/* pqx: the thin wrappers over OpenSSL libcrypto (AEADs, HKDF, HMAC, SHA-256, X25519, scrypt), and random bytes. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "crypto/aesgcm.h"
#include "crypto/ossl.h"
#include "util/util.h"

static pqx_fault_hook random_fault;

void pqx_test_set_random_fault(pqx_fault_hook h)
{
	random_fault = h;
}

/*
 * The kernel's generator (getrandom, which waits only until it is seeded
 * at boot), not OpenSSL's DRBG: the DRBG is seeded from it anyway, and its
 * first use in a process builds OpenSSL's table of every cipher (its
 * CTR-DRBG is AES), 0.4-0.5 ms that a small transfer's client would spend
 * before its first message (docs/BENCHMARKS.md, fifteenth session).
 */
int pqx_randombytes(uint8_t *out, size_t n)
{
	int ok = random_fault == NULL || !random_fault();

	while (ok && n > 0) {
		ssize_t k = getrandom(out, n, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			ok = 0;
			break;
		}
		out += k;
		n -= (size_t)k;
	}
	if (!ok) {
		pqx_wipe(out, n);
		return PQX_ERR_RANDOM;
	}
	return 0;
}

/* AES-256-GCM is ours where the CPU runs it (crypto/aesgcm.c), else OpenSSL's; ChaCha20-Poly1305 is OpenSSL's. */
struct pqx_aead {
	EVP_CIPHER_CTX *enc, *dec;
	pqx_gcm *gcm;
};

static const EVP_CIPHER *aead_cipher(enum pqx_aead_alg alg)
{
	switch (alg) {
	case PQX_AEAD_CHACHA20_POLY1305: return EVP_chacha20_poly1305();
	case PQX_AEAD_AES_256_GCM: return EVP_aes_256_gcm();
	}
	return NULL;
}

void pqx_aead_warm(void)
{
	EVP_CIPHER_free(EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL));
}

pqx_aead *pqx_aead_new(enum pqx_aead_alg alg, const uint8_t key[PQX_AEAD_KEY_BYTES])
{
	const EVP_CIPHER *c = aead_cipher(alg);
	pqx_aead *a;

	if (c == NULL || pqx_test_alloc_should_fail())
		return NULL;
	if ((a = pqx_calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if (alg == PQX_AEAD_AES_256_GCM && (a->gcm = pqx_gcm_new(key)) != NULL)
		return a;
	/* Key both directions once; each message then only sets its nonce. */
	if ((a->enc = EVP_CIPHER_CTX_new()) == NULL ||
	    (a->dec = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(a->enc, c, NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(a->dec, c, NULL, key, NULL) != 1) {
		pqx_aead_free(a);
		return NULL;
	}
	return a;
}

void pqx_aead_free(pqx_aead *a)
{
	if (a == NULL)
		return;
	EVP_CIPHER_CTX_free(a->enc); /* frees and cleanses the key schedule */
	EVP_CIPHER_CTX_free(a->dec);
	pqx_gcm_free(a->gcm);
	pqx_free(a);
}

/* EVP takes int lengths; our messages are far smaller, but check anyway. */
#define AEAD_MAX_LEN ((size_t)INT_MAX - PQX_AEAD_TAG_BYTES)

int pqx_aead_seal(pqx_aead *a, uint8_t *ct, const uint8_t nonce[PQX_AEAD_NONCE_BYTES],
    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len)
{
	int outl = 0;

	if (a->gcm != NULL)
		return pqx_gcm_seal(a->gcm, ct, nonce, aad, aad_len, pt, pt_len);
	if (aad_len > AEAD_MAX_LEN || pt_len > AEAD_MAX_LEN)
		return PQX_ERR_INVALID_ARG;
	if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) != 1 ||
	    (aad_len > 0 && EVP_EncryptUpdate(a->enc, NULL, &outl, aad, (int)aad_len) != 1) ||
	    (pt_len > 0 && EVP_EncryptUpdate(a->enc, ct, &outl, pt, (int)pt_len) != 1) ||
	    EVP_EncryptFinal_ex(a->enc, ct + pt_len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_AEAD_GET_TAG, PQX_AEAD_TAG_BYTES,
		ct + pt_len) != 1)
		return PQX_ERR_INTERNAL;
	return 0;
}

int pqx_aead_open(pqx_aead *a, uint8_t *pt, const uint8_t nonce[PQX_AEAD_NONCE_BYTES],
    const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len)
{
	uint8_t tag[PQX_AEAD_TAG_BYTES];
	size_t pt_len;
	int outl = 0, ok;

	if (a->gcm != NULL)
		return pqx_gcm_open(a->gcm, pt, nonce, aad, aad_len, ct, ct_len);
	if (ct_len < PQX_AEAD_TAG_BYTES)
		return PQX_ERR_AUTH;
	if (aad_len > AEAD_MAX_LEN || ct_len > AEAD_MAX_LEN)
		return PQX_ERR_INVALID_ARG;
	pt_len = ct_len - PQX_AEAD_TAG_BYTES;
	/* Copy the tag first: pt may overwrite ct in place. */
	memcpy(tag, ct + pt_len, sizeof(tag));
	ok = EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) == 1 &&
	    (aad_len == 0 || EVP_DecryptUpdate(a->dec, NULL, &outl, aad, (int)aad_len) == 1) &&
	    (pt_len == 0 || EVP_DecryptUpdate(a->dec, pt, &outl, ct, (int)pt_len) == 1) &&
	    EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_AEAD_SET_TAG, sizeof(tag), tag) == 1 &&
	    EVP_DecryptFinal_ex(a->dec, pt + pt_len, &outl) == 1;
	if (!ok) {
		/* No plaintext is released unless the tag verified. */
		pqx_wipe(pt, pt_len);
		return PQX_ERR_AUTH;
	}
	return 0;
}

int pqx_aead_seal_once(enum pqx_aead_alg alg, const uint8_t key[32], uint8_t *ct,
    const uint8_t nonce[12], const uint8_t *aad, size_t aad_len, const uint8_t *pt,
    size_t pt_len)
{
	pqx_aead *a = pqx_aead_new(alg, key);
	int r;

	if (a == NULL) {
		memset(ct, 0, pt_len + PQX_AEAD_TAG_BYTES);
		return aead_cipher(alg) == NULL ? PQX_ERR_UNSUPPORTED : PQX_ERR_NOMEM;
	}
	r = pqx_aead_seal(a, ct, nonce, aad, aad_len, pt, pt_len);
	pqx_aead_free(a);
	return r;
}

int pqx_aead_open_once(enum pqx_aead_alg alg, const uint8_t key[32], uint8_t *pt,
    const uint8_t nonce[12], const uint8_t *aad, size_t aad_len, const uint8_t *ct,
    size_t ct_len)
{
	pqx_aead *a = pqx_aead_new(alg, key);
	int r;

	if (a == NULL) {
		if (ct_len >= PQX_AEAD_TAG_BYTES)
			pqx_wipe(pt, ct_len - PQX_AEAD_TAG_BYTES);
		return aead_cipher(alg) == NULL ? PQX_ERR_UNSUPPORTED : PQX_ERR_NOMEM;
	}
	r = pqx_aead_open(a, pt, nonce, aad, aad_len, ct, ct_len);
	pqx_aead_free(a);
	return r;
}

/* Runs the HKDF KDF in one mode; salt may be NULL. */
static int hkdf(int mode, uint8_t *out, size_t out_len, const uint8_t *salt,
    size_t salt_len, const uint8_t *key, size_t key_len, const uint8_t *info,
    size_t info_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[6], *p = params;
	static const uint8_t empty[1];
	int r = PQX_ERR_INTERNAL;

	if (pqx_test_alloc_should_fail()) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	    (void *)(key_len ? key : empty), key_len);
	if (salt != NULL && salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
		    (void *)salt, salt_len);
	if (info_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
		    (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1)
		goto out;
	r = 0;
out:
	if (r != 0)
		pqx_wipe(out, out_len);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

int pqx_hkdf_sha256_extract(uint8_t prk[32], const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len)
{
	return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, prk, 32, salt, salt_len, ikm, ikm_len,
	    NULL, 0);
}

/*
 * HKDF-Expand (RFC 5869 section 2.3) over HMAC directly, because OpenSSL
 * 3.0's HKDF refuses info longer than 32 KiB, and HPKE exporter contexts may
 * be up to 64 KiB: T(i) = HMAC(prk, T(i-1) || info || i).
 */
int pqx_hkdf_sha256_expand(uint8_t *out, size_t out_len, const uint8_t prk[32],
    const uint8_t *info, size_t info_len)
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	uint8_t t[32], counter;
	size_t done = 0, t_len = 0, outl = 0, n;
	int r = PQX_ERR_INTERNAL;

	if (out_len == 0 || out_len > 255 * 32) {
		r = PQX_ERR_INVALID_ARG;
		goto out;
	}
	if (pqx_test_alloc_should_fail()) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL)
		goto out;
	for (counter = 1; done < out_len; counter++) {
		if (EVP_MAC_init(ctx, prk, 32, params) != 1 ||
		    (t_len > 0 && EVP_MAC_update(ctx, t, t_len) != 1) ||
		    (info_len > 0 && EVP_MAC_update(ctx, info, info_len) != 1) ||
		    EVP_MAC_update(ctx, &counter, 1) != 1 ||
		    EVP_MAC_final(ctx, t, &outl, sizeof(t)) != 1 || outl != sizeof(t))
			goto out;
		t_len = sizeof(t);
		n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		memcpy(out + done, t, n);
		done += n;
	}
	r = 0;
out:
	if (r != 0)
		pqx_wipe(out, out_len);
	pqx_wipe(t, sizeof(t));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

int pqx_hkdf_sha256(uint8_t *out, size_t out_len, const uint8_t *salt, size_t salt_len,
    const uint8_t *ikm, size_t ikm_len, const uint8_t *info, size_t info_len)
{
	uint8_t prk[32];
	int r = PQX_ERR_INTERNAL;

	if (out_len == 0 || out_len > 255 * 32) {
		r = PQX_ERR_INVALID_ARG;
		goto out;
	}
	if ((r = pqx_hkdf_sha256_extract(prk, salt, salt_len, ikm, ikm_len)) != 0)
		goto out;
	r = pqx_hkdf_sha256_expand(out, out_len, prk, info, info_len);
out:
	if (r != 0)
		pqx_wipe(out, out_len);
	pqx_wipe(prk, sizeof(prk));
	return r;
}

int pqx_hmac_sha256(uint8_t out[32], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len)
{
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	static const uint8_t empty[1];
	size_t outl = 0;
	int r = PQX_ERR_INTERNAL;

	if (pqx_test_alloc_should_fail()) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, key_len ? key : empty, key_len, params) != 1 ||
	    EVP_MAC_update(ctx, msg, msg_len) != 1 ||
	    EVP_MAC_final(ctx, out, &outl, 32) != 1 || outl != 32)
		goto out;
	r = 0;
out:
	if (r != 0)
		pqx_wipe(out, 32);
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

int pqx_sha256(uint8_t out[32], const uint8_t *in, size_t len)
{
	unsigned int outl = 0;

	if (pqx_test_alloc_should_fail() ||
	    EVP_Digest(in, len, out, &outl, EVP_sha256(), NULL) != 1 || outl != 32) {
		memset(out, 0, 32);
		return PQX_ERR_INTERNAL;
	}
	return 0;
}

struct pqx_hmac {
	EVP_MD_CTX *inner, *outer; /* after the padded key block: reused */
	EVP_MD_CTX *cur;           /* the message in progress */
};

void pqx_hmac_free(pqx_hmac *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->inner); /* frees (and OpenSSL cleanses) the digest state */
	EVP_MD_CTX_free(h->outer);
	EVP_MD_CTX_free(h->cur);
	pqx_free_wipe(h, sizeof(*h));
}

static pqx_hmac *hmac_alloc(void)
{
	pqx_hmac *h;

	if (pqx_test_alloc_should_fail() || (h = pqx_malloc(sizeof(*h))) == NULL)
		return NULL;
	h->inner = EVP_MD_CTX_new();
	h->outer = EVP_MD_CTX_new();
	h->cur = EVP_MD_CTX_new();
	if (h->inner == NULL || h->outer == NULL || h->cur == NULL) {
		pqx_hmac_free(h);
		return NULL;
	}
	return h;
}

pqx_hmac *pqx_hmac_new(const uint8_t *key, size_t key_len)
{
	uint8_t k[64], pad[64];
	unsigned int kl = 0;
	pqx_hmac *h = hmac_alloc();
	int ok = h != NULL;

	memset(k, 0, sizeof(k));
	if (ok && key_len > sizeof(k))
		ok = EVP_Digest(key, key_len, k, &kl, EVP_sha256(), NULL) == 1;
	else if (ok && key_len > 0)
		memcpy(k, key, key_len);
	for (size_t i = 0; ok && i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	ok = ok && EVP_DigestInit_ex(h->inner, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(h->inner, pad, 64) == 1;
	for (size_t i = 0; ok && i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	ok = ok && EVP_DigestInit_ex(h->outer, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(h->outer, pad, 64) == 1;
	pqx_wipe(k, sizeof(k));
	pqx_wipe(pad, sizeof(pad));
	if (!ok) {
		pqx_hmac_free(h);
		return NULL;
	}
	return h;
}

pqx_hmac *pqx_hmac_dup(const pqx_hmac *src)
{
	pqx_hmac *h = hmac_alloc();

	if (h != NULL && (EVP_MD_CTX_copy_ex(h->inner, src->inner) != 1 ||
			     EVP_MD_CTX_copy_ex(h->outer, src->outer) != 1)) {
		pqx_hmac_free(h);
		return NULL;
	}
	return h;
}

int pqx_hmac_init(pqx_hmac *h)
{
	return EVP_MD_CTX_copy_ex(h->cur, h->inner) == 1 ? 0 : PQX_ERR_INTERNAL;
}

int pqx_hmac_update(pqx_hmac *h, const uint8_t *p, size_t n)
{
	return n == 0 || EVP_DigestUpdate(h->cur, p, n) == 1 ? 0 : PQX_ERR_INTERNAL;
}

int pqx_hmac_final(pqx_hmac *h, uint8_t out[32])
{
	uint8_t ih[32];
	unsigned int l1 = 0, l2 = 0;
	int ok = EVP_DigestFinal_ex(h->cur, ih, &l1) == 1 && l1 == 32 &&
		 EVP_MD_CTX_copy_ex(h->cur, h->outer) == 1 &&
		 EVP_DigestUpdate(h->cur, ih, 32) == 1 &&
		 EVP_DigestFinal_ex(h->cur, out, &l2) == 1 && l2 == 32;

	pqx_wipe(ih, sizeof(ih));
	if (!ok) {
		pqx_wipe(out, 32);
		return PQX_ERR_INTERNAL;
	}
	return 0;
}

int pqx_hmac_mac(pqx_hmac *h, uint8_t out[32], const uint8_t *msg, size_t len)
{
	int r;

	if ((r = pqx_hmac_init(h)) != 0 || (r = pqx_hmac_update(h, msg, len)) != 0 ||
	    (r = pqx_hmac_final(h, out)) != 0) {
		pqx_wipe(out, 32);
		return r;
	}
	return 0;
}

/*
 * out = X25519(sk, point), sk an X25519 key with its private half. OpenSSL
 * refuses an all-zero result itself; any refusal of the derivation is taken
 * as the low-order point it almost certainly is. Kept out of line:
 * tests/ct/public.supp names its frame.
 */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int x25519_derive(uint8_t out[32], EVP_PKEY *sk, const uint8_t point[32])
{
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t outl = 32;
	int r = PQX_ERR_INTERNAL;

	if ((pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, point, 32)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new(sk, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, pk) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, out, &outl) != 1 || outl != 32 || pqx_ct_is_zero(out, 32)) {
		r = PQX_ERR_INVALID_KEY;
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		pqx_wipe(out, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return r;
}

int pqx_x25519_dh(uint8_t out[32], uint8_t own_pub[32], const uint8_t scalar[32],
    const uint8_t point[32])
{
	EVP_PKEY *sk = NULL;
	size_t publ = 32;
	int r = PQX_ERR_INTERNAL;

	if (pqx_test_alloc_should_fail()) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	/* Making the private key computes its public key: hand it out too. */
	if ((sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, scalar, 32)) == NULL ||
	    (own_pub != NULL && (EVP_PKEY_get_raw_public_key(sk, own_pub, &publ) != 1 ||
	    publ != 32)))
		goto out;
	r = x25519_derive(out, sk, point);
out:
	if (r != 0) {
		pqx_wipe(out, 32);
		if (own_pub != NULL)
			memset(own_pub, 0, 32);
	}
	EVP_PKEY_free(sk);
	return r;
}

int pqx_x25519_known(uint8_t out[32], const uint8_t scalar[32], const uint8_t pub[32],
    const uint8_t point[32])
{
	EVP_PKEY_CTX *kctx = NULL;
	EVP_PKEY *sk = NULL;
	OSSL_PARAM params[3];
	int r = PQX_ERR_INTERNAL;

	if (pqx_test_alloc_should_fail()) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	/* Given both halves, OpenSSL takes pub as it is (new_raw_private_key would derive it: a second scalar multiplication). */
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, (void *)scalar, 32);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 32);
	params[2] = OSSL_PARAM_construct_end();
	if ((kctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(kctx) != 1 ||
	    EVP_PKEY_fromdata(kctx, &sk, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	r = x25519_derive(out, sk, point);
out:
	if (r != 0)
		pqx_wipe(out, 32);
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_free(sk);
	return r;
}

int pqx_x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32])
{
	return pqx_x25519_dh(out, NULL, scalar, point);
}

int pqx_x25519_base(uint8_t pk[32], const uint8_t sk[32])
{
	EVP_PKEY *key = NULL;
	size_t outl = 32;
	int r = PQX_ERR_INTERNAL;

	if (pqx_test_alloc_should_fail()) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if ((key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32)) == NULL ||
	    EVP_PKEY_get_raw_public_key(key, pk, &outl) != 1 || outl != 32)
		goto out;
	r = 0;
out:
	if (r != 0)
		memset(pk, 0, 32);
	EVP_PKEY_free(key);
	return r;
}

int pqx_scrypt(uint8_t *out, size_t out_len, const uint8_t *pass, size_t pass_len,
    const uint8_t *salt, size_t salt_len, unsigned int log_n, unsigned int r,
    unsigned int p)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[7], *q = params;
	uint64_t n, rr = r, pp = p;
	/* 128 * r * N bytes of V plus margin; OpenSSL's default cap is 32 MiB. */
	uint64_t maxmem;
	static const uint8_t empty[1];
	int ret = PQX_ERR_INTERNAL;

	if (log_n == 0 || log_n > 40 || r == 0 || p == 0) {
		ret = PQX_ERR_INVALID_ARG;
		goto out;
	}
	if (pqx_test_alloc_should_fail()) {
		ret = PQX_ERR_NOMEM;
		goto out;
	}
	n = (uint64_t)1 << log_n;
	maxmem = 128 * rr * n + 128 * rr * pp + (1u << 20);
	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) == NULL ||
	    (kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
	    (void *)(pass_len ? pass : empty), pass_len);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    (void *)(salt_len ? salt : empty), salt_len);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_R, &rr);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_P, &pp);
	*q++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
		ret = PQX_ERR_NOMEM;
		goto out;
	}
	ret = 0;
out:
	if (ret != 0)
		pqx_wipe(out, out_len);
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

int pqx_cpu_has_aes(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes");
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRYPTO)
	return 1;
#else
	return 0;
#endif
}
