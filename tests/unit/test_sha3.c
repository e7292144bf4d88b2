/* pqx tests: SHA-3 and SHAKE known answers, incremental use, OpenSSL cross-checks. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <pqx/sha3.h>

#include "harness.h"

enum alg { SHA3_256, SHA3_512, SHAKE128, SHAKE256, N_ALGS };

static const struct {
	const char *name;
	size_t rate;   /* bytes per Keccak block */
	size_t outlen; /* digest size; 0 for an XOF */
} algs[N_ALGS] = {
	[SHA3_256] = { "SHA3-256", 136, 32 },
	[SHA3_512] = { "SHA3-512", 72, 64 },
	[SHAKE128] = { "SHAKE128", 168, 0 },
	[SHAKE256] = { "SHAKE256", 136, 0 },
};

static void ctx_init(pqx_keccak_ctx *ctx, enum alg a)
{
	switch (a) {
	case SHA3_256:
		pqx_sha3_256_init(ctx);
		break;
	case SHA3_512:
		pqx_sha3_512_init(ctx);
		break;
	case SHAKE128:
		pqx_shake128_init(ctx);
		break;
	default:
		pqx_shake256_init(ctx);
		break;
	}
}

/* The library's one-shot helper for alg a; SHA-3 ignores outlen. */
static void oneshot(enum alg a, uint8_t *out, size_t outlen, const uint8_t *in,
    size_t len)
{
	switch (a) {
	case SHA3_256:
		pqx_sha3_256(out, in, len);
		break;
	case SHA3_512:
		pqx_sha3_512(out, in, len);
		break;
	case SHAKE128:
		pqx_shake128(out, outlen, in, len);
		break;
	default:
		pqx_shake256(out, outlen, in, len);
		break;
	}
}

static size_t rnd_below(size_t n)
{
	uint8_t b[4];

	t_rand(b, sizeof(b));
	return ((size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24) % n;
}

/*
 * Known answers. The FIPS 202 examples (csrc.nist.gov "SHA-3 and SHAKE
 * examples", the 200 bytes of 0xa3 and the empty string) and the widely
 * published digests of "abc" and the 448- and 896-bit NIST test strings.
 * "#a3" stands for the message of 200 bytes 0xa3. SHAKE outputs are the
 * first 32 (SHAKE128) or 64 (SHAKE256) bytes.
 */
static const struct {
	enum alg alg;
	const char *msg;
	const char *hex;
} kat[] = {
	{ SHA3_256, "", "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a" },
	{ SHA3_256, "abc", "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532" },
	{ SHA3_256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376" },
	{ SHA3_256, "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    "916f6061fe879741ca6469b43971dfdb28b1a32dc36cb3254e812be27aad1d18" },
	{ SHA3_256, "#a3", "79f38adec5c20307a98ef76e8324afbfd46cfd81b22e3973c65fa1bd9de31787" },
	{ SHA3_512, "",
	    "a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a6"
	    "15b2123af1f5f94c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26" },
	{ SHA3_512, "abc",
	    "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
	    "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0" },
	{ SHA3_512, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    "04a371e84ecfb5b8b77cb48610fca8182dd457ce6f326a0fd3d7ec2f1e91636d"
	    "ee691fbe0c985302ba1b0d8dc78c086346b533b49c030d99a27daf1139d6e75e" },
	{ SHA3_512, "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    "afebb2ef542e6579c50cad06d2e578f9f8dd6881d7dc824d26360feebf18a4fa"
	    "73e3261122948efcfd492e74e82e2189ed0fb440d187f382270cb455f21dd185" },
	{ SHA3_512, "#a3",
	    "e76dfad22084a8b1467fcf2ffa58361bec7628edf5f3fdc0e4805dc48caeeca8"
	    "1b7c13c30adf52a3659584739a2df46be589c51ca1a4a8416df6545a1ce8ba00" },
	{ SHAKE128, "", "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26" },
	{ SHAKE128, "abc", "5881092dd818bf5cf8a3ddb793fbcba74097d5c526a6d35f97b83351940f2cc8" },
	{ SHAKE128, "#a3", "131ab8d2b594946b9c81333f9bb6e0ce75c3b93104fa3469d3917457385da037" },
	{ SHAKE256, "",
	    "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f"
	    "d75dc4ddd8c0f200cb05019d67b592f6fc821c49479ab48640292eacb3b7c4be" },
	{ SHAKE256, "abc",
	    "483366601360a8771c6863080cc4114d8db44530f8f1e1ee4f94ea37e78b5739"
	    "d5a15bef186a5386c75744c0527e1faa9f8726e462a12a4feb06bd8801e751e4" },
	{ SHAKE256, "#a3",
	    "cd8a920ed141aa0407a22d59288652e9d9f1a7ee0c1e7c1ca699424da84a904d"
	    "2d700caae7396ece96604440577da4f3aa22aeb8857f961c4cd8e06f0ae6610b" },
};

static void test_kat(void)
{
	uint8_t a3[200], want[64], got[64];

	memset(a3, 0xa3, sizeof(a3));
	for (size_t i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		const uint8_t *msg = (const uint8_t *)kat[i].msg;
		size_t len = strlen(kat[i].msg), outlen = strlen(kat[i].hex) / 2;

		if (strcmp(kat[i].msg, "#a3") == 0) {
			msg = a3;
			len = sizeof(a3);
		}
		CHECK(t_unhex(want, outlen, kat[i].hex) == 0, "kat %zu: bad hex", i);
		memset(got, 0, sizeof(got));
		oneshot(kat[i].alg, got, outlen, msg, len);
		CHECK_EQ_MEM(got, want, outlen, "kat %zu: %s(\"%.16s\") one-shot", i,
		    algs[kat[i].alg].name, kat[i].msg);
	}
}

/*
 * Long SHAKE output, across several squeezed blocks: bytes 568..599 of
 * SHAKE128("") and 536..599 of SHAKE256("") (computed with Python's
 * hashlib, an independent implementation).
 */
static void test_long_output(void)
{
	uint8_t out[600], want[64];

	pqx_shake128(out, sizeof(out), NULL, 0);
	CHECK(t_unhex(want, 32,
	    "fae7afdc6292988dc9acae03f8634486c1abe2781aae4c02f3460d2cd4e6a463") == 0);
	CHECK_EQ_MEM(out + 568, want, 32, "SHAKE128(\"\") bytes 568..599");
	pqx_shake256(out, sizeof(out), NULL, 0);
	CHECK(t_unhex(want, 64,
	    "ce2db7c9fa7b58ffc0e87251773faf3e8f3e3cf1d4dfa723afd4da9097cb3c86"
	    "6acbefab2c4e85e1918990ff93e0656b5f75b08729c60e6a9d7352b9efd2e33e") == 0);
	CHECK_EQ_MEM(out + 536, want, 64, "SHAKE256(\"\") bytes 536..599");
}

/*
 * Keccak-f[1600] applied once and twice to the all-zero state (the Keccak
 * team's KeccakF-1600 intermediate values).
 */
static void test_permutation(void)
{
	uint64_t s[25];

	memset(s, 0, sizeof(s));
	pqx_keccak_f1600(s);
	CHECK(s[0] == 0xf1258f7940e1dde7ULL && s[1] == 0x84d5ccf933c0478aULL &&
	    s[24] == 0xeaf1ff7b5ceca249ULL, "f1600(0): lanes 0, 1, 24");
	pqx_keccak_f1600(s);
	CHECK(s[0] == 0x2d5c954df96ecb3cULL && s[1] == 0x6a332cd07057b56dULL,
	    "f1600(f1600(0)): lanes 0, 1");
}

/*
 * The sponge fed and drained in random pieces gives the one-shot answer:
 * the partial-block paths of absorb and squeeze at every alignment.
 */
static void test_incremental(void)
{
	enum { MAXIN = 1100, MAXOUT = 700 };
	static uint8_t in[MAXIN], want[MAXOUT], got[MAXOUT];

	for (int a = 0; a < N_ALGS; a++) {
		for (int iter = 0; iter < 300; iter++) {
			size_t len = rnd_below(MAXIN), outlen, off;
			pqx_keccak_ctx ctx;

			/* Block-boundary lengths first, then random ones. */
			if (iter < 6)
				len = algs[a].rate * (size_t)(1 + iter / 3) + (size_t)(iter % 3) - 1;
			outlen = algs[a].outlen ? algs[a].outlen : 1 + rnd_below(MAXOUT - 1);
			t_rand(in, len);
			oneshot((enum alg)a, want, outlen, in, len);

			ctx_init(&ctx, (enum alg)a);
			for (off = 0; off < len;) {
				size_t n = rnd_below(len - off + 1);

				/* Empty absorbs must be harmless too. */
				pqx_keccak_absorb(&ctx, in + off, n);
				off += n;
			}
			if (iter % 2)
				pqx_keccak_finalize(&ctx); /* explicit, then implied again: a no-op */
			memset(got, 0, sizeof(got));
			for (off = 0; off < outlen;) {
				size_t n = 1 + rnd_below(outlen - off);

				pqx_keccak_squeeze(&ctx, got + off, n);
				off += n;
			}
			pqx_keccak_wipe(&ctx);
			CHECK_EQ_MEM(got, want, outlen, "%s: input %zu bytes, output %zu bytes in pieces",
			    algs[a].name, len, outlen);
			if (t_case_failures())
				return;
		}
	}
}

/* Our sponge against OpenSSL's EVP digests and XOFs (test-only use of libcrypto). */
static int ossl_digest(enum alg a, uint8_t *out, size_t outlen, const uint8_t *in,
    size_t len)
{
	const EVP_MD *md = a == SHA3_256 ? EVP_sha3_256() : a == SHA3_512 ? EVP_sha3_512() :
	    a == SHAKE128 ? EVP_shake128() : EVP_shake256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, in, len) == 1 &&
	    (algs[a].outlen ? EVP_DigestFinal_ex(ctx, out, NULL) == 1 :
	    EVP_DigestFinalXOF(ctx, out, outlen) == 1);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static void test_openssl(void)
{
	enum { MAXIN = 1000, MAXOUT = 3 * 168 + 1 };
	static uint8_t in[MAXIN + 1], want[MAXOUT], got[MAXOUT];
	/* Output lengths at and around the SHAKE rates. */
	static const size_t outs[] = {
		1, 31, 32, 33, 135, 136, 137, 167, 168, 169, 272, 336, 337,
	};

	t_rand(in, sizeof(in));
	for (int a = 0; a < N_ALGS; a++) {
		/* Every length 0..1000: covers 71, 72, 73, 135, 136, 137, 167, 168, 169, ... */
		for (size_t len = 0; len <= MAXIN; len++) {
			size_t outlen = algs[a].outlen;

			if (outlen == 0)
				outlen = len < sizeof(outs) / sizeof(outs[0]) ? outs[len] :
				    1 + rnd_below(MAXOUT - 1);
			if (ossl_digest((enum alg)a, want, outlen, in, len) != 0) {
				t_fail(__FILE__, __LINE__, "%s: OpenSSL failed", algs[a].name);
				return;
			}
			oneshot((enum alg)a, got, outlen, in, len);
			CHECK_EQ_MEM(got, want, outlen, "%s: input %zu bytes, output %zu bytes vs OpenSSL",
			    algs[a].name, len, outlen);
			if (t_case_failures())
				return;
		}
	}
}

int main(void)
{
	t_run("sha3/shake known answers (FIPS 202 examples)", test_kat);
	t_run("shake long output", test_long_output);
	t_run("keccak-f1600 on the zero state", test_permutation);
	t_run("sha3/shake incremental absorb and squeeze", test_incremental);
	t_run("sha3/shake against OpenSSL EVP, lengths 0..1000", test_openssl);
	return t_done();
}
