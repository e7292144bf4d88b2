/*
 * pqx bench: the record AEADs. AES-256-GCM as records use it (ours where
 * the CPU has VAES and VPCLMULQDQ with AVX-512, src/crypto/aesgcm.c) beside
 * OpenSSL's, and OpenSSL's ChaCha20-Poly1305, in the same run: seal, and
 * seal then open, in place with 4 bytes of ad as the channel does, for a
 * full record (1 MiB), 16 KiB and 256 bytes.
 * Usage: bench_aead [SECONDS_EACH]   (default 0.5; best of 3 rounds)
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/aesgcm.h"
#include "crypto/ossl.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* OpenSSL's AES-256-GCM, keyed once, straight from EVP (pqx_aead would use ours). */
static EVP_CIPHER_CTX *enc, *dec;

static int ossl_seal(uint8_t *b, const uint8_t *nonce, size_t n)
{
	int l;

	return EVP_EncryptInit_ex(enc, NULL, NULL, NULL, nonce) == 1 &&
		       EVP_EncryptUpdate(enc, NULL, &l, b - 4, 4) == 1 && EVP_EncryptUpdate(enc, b, &l, b, (int)n) == 1 &&
		       EVP_EncryptFinal_ex(enc, b + n, &l) == 1 &&
		       EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_AEAD_GET_TAG, 16, b + n) == 1
		   ? 0
		   : -1;
}

static int ossl_open(uint8_t *b, const uint8_t *nonce, size_t n)
{
	int l;

	return EVP_DecryptInit_ex(dec, NULL, NULL, NULL, nonce) == 1 &&
		       EVP_DecryptUpdate(dec, NULL, &l, b - 4, 4) == 1 && EVP_DecryptUpdate(dec, b, &l, b, (int)n) == 1 &&
		       EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_AEAD_SET_TAG, 16, b + n) == 1 &&
		       EVP_DecryptFinal_ex(dec, b + n, &l) == 1
		   ? 0
		   : -1;
}

enum { OURS_GCM, OSSL_GCM, CHACHA };

/*
 * GB/s of n-byte messages: sealed, or sealed then opened (both ends' work,
 * each open a valid one), best of 3 rounds of secs each.
 */
static double rate(int which, pqx_aead *a, uint8_t *b, size_t n, int open, double secs)
{
	uint8_t nonce[12] = { 0 };
	double best = 0;

	for (int round = 0; round < 3; round++) {
		double t0 = now(), t;
		size_t done = 0;

		do {
			for (int i = 0; i < 64; i++) {
				int r;

				nonce[0]++;
				r = which == OSSL_GCM ? ossl_seal(b, nonce, n) : pqx_aead_seal(a, b, nonce, b - 4, 4, b, n);
				if (r == 0 && open)
					r = which == OSSL_GCM ? ossl_open(b, nonce, n)
							      : pqx_aead_open(a, b, nonce, b - 4, 4, b, n + 16);
				if (r != 0) {
					fprintf(stderr, "bench_aead: a seal or an open failed\n");
					exit(1);
				}
				done += n;
			}
			t = now() - t0;
		} while (t < secs);
		if ((double)done / t / 1e9 > best)
			best = (double)done / t / 1e9;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const uint8_t key[32] = { 7 };
	static const size_t sizes[] = { 1048576 - 64, 16384, 256 };
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	pqx_aead *gcm = pqx_aead_new(PQX_AEAD_AES_256_GCM, key), *cc = pqx_aead_new(PQX_AEAD_CHACHA20_POLY1305, key);
	uint8_t *buf = malloc(1048576 + 64), *b = buf + 4;

	enc = EVP_CIPHER_CTX_new();
	dec = EVP_CIPHER_CTX_new();
	if (gcm == NULL || cc == NULL || buf == NULL || enc == NULL || dec == NULL ||
	    EVP_EncryptInit_ex(enc, EVP_aes_256_gcm(), NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(dec, EVP_aes_256_gcm(), NULL, key, NULL) != 1 || secs <= 0) {
		fprintf(stderr, "usage: bench_aead [SECONDS_EACH]\n");
		return 1;
	}
	memset(buf, 0x5c, 1048576 + 64);
	printf("records' AES-256-GCM: %s\n", pqx_gcm_available() ? "ours (VAES, AVX-512)" : "OpenSSL's (this CPU can't run ours)");
	printf("  %-8s %-27s %-27s %s\n", "message", "AES-256-GCM, records'", "AES-256-GCM, OpenSSL's", "ChaCha20-Poly1305, OpenSSL's");
	printf("  %-8s %-27s %-27s %s\n", "", "seal / seal+open (GB/s)", "seal / seal+open (GB/s)", "seal / seal+open (GB/s)");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		printf("  %-8zu %6.2f / %-18.2f %6.2f / %-18.2f %6.2f / %.2f\n", n, rate(OURS_GCM, gcm, b, n, 0, secs),
		    rate(OURS_GCM, gcm, b, n, 1, secs), rate(OSSL_GCM, NULL, b, n, 0, secs),
		    rate(OSSL_GCM, NULL, b, n, 1, secs), rate(CHACHA, cc, b, n, 0, secs), rate(CHACHA, cc, b, n, 1, secs));
	}
	pqx_aead_free(gcm);
	pqx_aead_free(cc);
	EVP_CIPHER_CTX_free(enc);
	EVP_CIPHER_CTX_free(dec);
	free(buf);
	return 0;
}
