/*
 * pqx: AES-256-GCM on VAES and VPCLMULQDQ (SP 800-38D), 16 blocks a step.
 *
 * GHASH works on blocks with their bytes reversed, so that a 128-bit lane
 * holds the field element with x^0 in its top bit and carry-less multiplies
 * give the bit-reflected product (Gueron and Kounavis, "Intel Carry-Less
 * Multiplication Instruction and its Usage for Computing the GCM Mode",
 * rev. 2.02, algorithms 1 and 5): the 256-bit product is shifted left once
 * and reduced modulo x^128 + x^7 + x^2 + x + 1. Sixteen blocks are
 * multiplied by H^16 .. H^1 (the running hash added to the first), summed
 * unreduced, and reduced once.
 *
 * Constant time by construction: AES and the carry-less multiplies are
 * instructions without data-dependent timing, and nothing branches or
 * indexes on the key, the data or the tag until the verdict. (valgrind,
 * which `make ct` uses, has no AVX-512, so it can't check this file.)
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aesgcm.h"
#include "util/util.h"

#if defined(PQX_ENABLE_AVX2) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AESGCM 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#ifdef AESGCM

#define T128 __attribute__((target("aes,pclmul,sse4.1,ssse3")))
#define T512 __attribute__((target("aes,pclmul,sse4.1,ssse3,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")))

struct pqx_gcm {
	__m512i rkz[15]; /* the round keys, in every lane (kept here, not copied to the stack) */
	__m512i hz[4];   /* H^16 .. H^1 in lanes: hz[0] = H^16, H^15, H^14, H^13 */
	__m128i rk[15];  /* the round keys */
	__m128i h1;      /* H, bytes reversed */
};

/* ---- one block at a time ---- */

static inline T128 __m128i bswap128(__m128i x)
{
	return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

static inline T128 __m128i aes_block(const __m128i rk[15], __m128i x)
{
	x = _mm_xor_si128(x, rk[0]);
	for (int i = 1; i < 14; i++)
		x = _mm_aesenc_si128(x, rk[i]);
	return _mm_aesenclast_si128(x, rk[14]);
}

/*
 * The reduction of a 256-bit carry-less product hi:lo (of reversed
 * operands) to the reversed field element: shifted left one bit, then lo's
 * multiples of the polynomial folded into hi.
 */
static inline T128 __m128i reduce(__m128i lo, __m128i hi)
{
	__m128i clo = _mm_srli_epi32(lo, 31), chi = _mm_srli_epi32(hi, 31), a, b;

	/* The 256-bit shift left by one: each dword's top bit to the next dword up. */
	lo = _mm_or_si128(_mm_slli_epi32(lo, 1), _mm_slli_si128(clo, 4));
	hi = _mm_or_si128(_mm_or_si128(_mm_slli_epi32(hi, 1), _mm_slli_si128(chi, 4)), _mm_srli_si128(clo, 12));
	/* First phase: x^127, x^126 and x^121 multiples of the low dwords. */
	a = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)), _mm_slli_epi32(lo, 25));
	b = _mm_srli_si128(a, 4);
	lo = _mm_xor_si128(lo, _mm_slli_si128(a, 12));
	/* Second phase: the shifts right by 1, 2 and 7, and what the first carried out. */
	a = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)), _mm_srli_epi32(lo, 7));
	return _mm_xor_si128(hi, _mm_xor_si128(lo, _mm_xor_si128(a, b)));
}

/* The product, unreduced: lo, hi of a x b with the middle terms added in. */
static inline T128 void mul_parts(__m128i a, __m128i b, __m128i *lo, __m128i *hi)
{
	__m128i mid = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01), _mm_clmulepi64_si128(a, b, 0x10));

	*lo = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x00), _mm_slli_si128(mid, 8));
	*hi = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x11), _mm_srli_si128(mid, 8));
}

static inline T128 __m128i gfmul(__m128i a, __m128i b)
{
	__m128i lo, hi;

	mul_parts(a, b, &lo, &hi);
	return reduce(lo, hi);
}

/* The hash with n more bytes (the last block zero-padded). */
static T128 __m128i ghash_bytes(const struct pqx_gcm *g, __m128i acc, const uint8_t *p, size_t n)
{
	uint8_t last[16];

	for (; n >= 16; p += 16, n -= 16)
		acc = gfmul(_mm_xor_si128(acc, bswap128(_mm_loadu_si128((const __m128i *)p))), g->h1);
	if (n > 0) {
		memset(last, 0, sizeof(last));
		memcpy(last, p, n);
		acc = gfmul(_mm_xor_si128(acc, bswap128(_mm_loadu_si128((const __m128i *)last))), g->h1);
	}
	return acc;
}

/* Counter block number c (J0 is 1) for the nonce in base (its last dword 0). */
static inline T128 __m128i ctr_block(__m128i base, uint32_t c)
{
	return _mm_insert_epi32(base, (int)__builtin_bswap32(c), 3);
}

/*
 * CTR over n bytes from block c on (what the 256-byte steps left), the
 * hash taken of the ciphertext: of out after the XOR when sealing, of in
 * before it when opening.
 */
static T128 __m128i ctr_tail(const struct pqx_gcm *g, __m128i base, uint32_t c, __m128i acc,
    uint8_t *out, const uint8_t *in, size_t n, int seal)
{
	uint8_t buf[16];

	for (; n >= 16; in += 16, out += 16, n -= 16, c++) {
		__m128i x = _mm_loadu_si128((const __m128i *)in), y;

		if (!seal)
			acc = gfmul(_mm_xor_si128(acc, bswap128(x)), g->h1);
		y = _mm_xor_si128(x, aes_block(g->rk, ctr_block(base, c)));
		_mm_storeu_si128((__m128i *)out, y);
		if (seal)
			acc = gfmul(_mm_xor_si128(acc, bswap128(y)), g->h1);
	}
	if (n > 0) {
		__m128i x;

		memset(buf, 0, sizeof(buf));
		memcpy(buf, in, n);
		x = _mm_loadu_si128((const __m128i *)buf);
		if (!seal)
			acc = ghash_bytes(g, acc, buf, n);
		_mm_storeu_si128((__m128i *)buf, _mm_xor_si128(x, aes_block(g->rk, ctr_block(base, c))));
		memcpy(out, buf, n);
		if (seal)
			acc = ghash_bytes(g, acc, buf, n);
		pqx_wipe(buf, sizeof(buf));
	}
	return acc;
}

/* A round key from the one two back and the assist word t (spread over the lanes). */
static inline T128 __m128i kexp(__m128i prev, __m128i t)
{
	prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
	prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
	prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
	return _mm_xor_si128(prev, t);
}

/* The AES-256 key schedule (FIPS 197, 5.2) with AESKEYGENASSIST (its round constant is an immediate). */
static T128 void expand_key(__m128i rk[15], const uint8_t key[32])
{
	rk[0] = _mm_loadu_si128((const __m128i *)key);
	rk[1] = _mm_loadu_si128((const __m128i *)(key + 16));
#define EVEN(i, rcon) rk[i] = kexp(rk[(i) - 2], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i) - 1], rcon), 0xff))
#define ODD(i) rk[i] = kexp(rk[(i) - 2], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i) - 1], 0), 0xaa))
	EVEN(2, 0x01);
	ODD(3);
	EVEN(4, 0x02);
	ODD(5);
	EVEN(6, 0x04);
	ODD(7);
	EVEN(8, 0x08);
	ODD(9);
	EVEN(10, 0x10);
	ODD(11);
	EVEN(12, 0x20);
	ODD(13);
	EVEN(14, 0x40);
#undef EVEN
#undef ODD
}

/* ---- 16 blocks a step ---- */

static inline T512 __m512i bswap512(__m512i x)
{
	return _mm512_shuffle_epi8(x, _mm512_broadcast_i32x4(_mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
					  10, 11, 12, 13, 14, 15)));
}

/* The XOR of a vector's four lanes. */
static inline T512 __m128i fold4(__m512i v)
{
	__m256i t = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));

	return _mm_xor_si128(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

/*
 * The hash after 16 more ciphertext blocks s[0..3] (bytes reversed): acc
 * joins the first, and each block is multiplied by its power of H.
 */
static inline T512 __m128i ghash16(const struct pqx_gcm *g, __m128i acc, const __m512i s[4])
{
	__m512i lo = _mm512_setzero_si512(), hi = lo, mid = lo;

	for (int k = 0; k < 4; k++) {
		__m512i x = k == 0 ? _mm512_xor_si512(s[0], _mm512_zextsi128_si512(acc)) : s[k];

		lo = _mm512_xor_si512(lo, _mm512_clmulepi64_epi128(x, g->hz[k], 0x00));
		hi = _mm512_xor_si512(hi, _mm512_clmulepi64_epi128(x, g->hz[k], 0x11));
		mid = _mm512_xor_si512(mid, _mm512_clmulepi64_epi128(x, g->hz[k], 0x01));
		mid = _mm512_xor_si512(mid, _mm512_clmulepi64_epi128(x, g->hz[k], 0x10));
	}
	{
		__m128i l = fold4(lo), h = fold4(hi), m = fold4(mid);

		return reduce(_mm_xor_si128(l, _mm_slli_si128(m, 8)), _mm_xor_si128(h, _mm_srli_si128(m, 8)));
	}
}

/*
 * CTR and GHASH over the whole 256-byte steps of n bytes, from counter
 * block c on; returns the bytes done. Counters live with their last dword
 * in native order (a plain add), and are put in big-endian order per block.
 */
static T512 size_t ctr_steps(const struct pqx_gcm *g, __m128i base, uint32_t c, __m128i *acc,
    uint8_t *out, const uint8_t *in, size_t n, int seal)
{
	const __m512i order = _mm512_broadcast_i32x4(_mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4,
	    3, 2, 1, 0));
	const __m512i four = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
	const __m512i *rk = g->rkz;
	__m512i ctr;
	size_t done = 0;

	/* base with dword 3 = c, c + 1, c + 2, c + 3 in the four lanes, native order */
	ctr = _mm512_add_epi32(_mm512_broadcast_i32x4(_mm_insert_epi32(base, (int)c, 3)),
	    _mm512_set_epi32(3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0));
	for (; n - done >= 256; done += 256) {
		__m512i x[4], s[4];

		for (int k = 0; k < 4; k++) {
			x[k] = _mm512_xor_si512(_mm512_shuffle_epi8(ctr, order), rk[0]);
			ctr = _mm512_add_epi32(ctr, four);
		}
		for (int i = 1; i < 14; i++)
			for (int k = 0; k < 4; k++)
				x[k] = _mm512_aesenc_epi128(x[k], rk[i]);
		for (int k = 0; k < 4; k++) {
			__m512i d = _mm512_loadu_si512((const void *)(in + done + 64 * k));

			x[k] = _mm512_xor_si512(_mm512_aesenclast_epi128(x[k], rk[14]), d);
			_mm512_storeu_si512((void *)(out + done + 64 * k), x[k]);
			s[k] = bswap512(seal ? x[k] : d);
		}
		*acc = ghash16(g, *acc, s);
	}
	return done;
}

/* VAES and VPCLMULQDQ: CPUID leaf 7, ECX bits 9 and 10 (clang 14's __builtin_cpu_supports has no names for them). */
static int cpu_has_vaes(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c >> 9 & 1) && (c >> 10 & 1);
}

static _Atomic int use_ours = -1; /* any thread may ask first: each finds the same */

int pqx_gcm_available(void)
{
	int u = atomic_load_explicit(&use_ours, memory_order_relaxed);

	if (u < 0) {
		const char *e = getenv("PQX_GCM");

		__builtin_cpu_init();
		u = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("aes") &&
		    __builtin_cpu_supports("pclmul") && cpu_has_vaes() && !(e != NULL && strcmp(e, "openssl") == 0);
		atomic_store_explicit(&use_ours, u, memory_order_relaxed);
	}
	return u;
}

/* The vectors: the round keys in every lane, and the powers of H. */
static T512 void load_vectors(struct pqx_gcm *g)
{
	__m128i p[17];

	for (int i = 0; i < 15; i++)
		g->rkz[i] = _mm512_broadcast_i32x4(g->rk[i]);
	p[1] = g->h1;
	for (int i = 2; i <= 16; i++)
		p[i] = gfmul(p[i - 1], g->h1);
	for (int k = 0; k < 4; k++)
		g->hz[k] = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(
		    p[16 - 4 * k]), p[15 - 4 * k], 1), p[14 - 4 * k], 2), p[13 - 4 * k], 3);
	pqx_wipe(p, sizeof(p));
}

pqx_gcm *pqx_gcm_new(const uint8_t key[32])
{
	struct pqx_gcm *g;

	if (!pqx_gcm_available() || posix_memalign((void **)&g, 64, sizeof(*g)) != 0)
		return NULL;
	expand_key(g->rk, key);
	g->h1 = bswap128(aes_block(g->rk, _mm_setzero_si128()));
	load_vectors(g);
	return g;
}

void pqx_gcm_free(pqx_gcm *g)
{
	if (g == NULL)
		return;
	pqx_wipe(g, sizeof(*g));
	free(g);
}

/* The whole of seal or open: the tag computed into tag. */
static T512 void gcm(const struct pqx_gcm *g, uint8_t tag[16], const uint8_t nonce[12], const uint8_t *ad,
    size_t ad_len, uint8_t *out, const uint8_t *in, size_t n, int seal)
{
	uint8_t nb[16] = { 0 }, lens[16];
	__m128i base, acc, s;
	size_t done;

	memcpy(nb, nonce, 12);
	base = _mm_loadu_si128((const __m128i *)nb);
	acc = ghash_bytes(g, _mm_setzero_si128(), ad, ad_len);
	if (n > 0) { /* (out and in may be NULL then) */
		done = ctr_steps(g, base, 2, &acc, out, in, n, seal);
		acc = ctr_tail(g, base, (uint32_t)(2 + done / 16), acc, out + done, in + done, n - done, seal);
	}
	pqx_store64_be(lens, (uint64_t)ad_len * 8);
	pqx_store64_be(lens + 8, (uint64_t)n * 8);
	acc = ghash_bytes(g, acc, lens, 16);
	s = _mm_xor_si128(bswap128(acc), aes_block(g->rk, ctr_block(base, 1)));
	_mm_storeu_si128((__m128i *)tag, s);
}

int pqx_gcm_seal(const pqx_gcm *g, uint8_t *ct, const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
    const uint8_t *pt, size_t n)
{
	if ((uint64_t)n > PQX_GCM_MAX)
		return PQX_ERR_INVALID_ARG;
	gcm(g, ct + n, nonce, ad, ad_len, ct, pt, n, 1);
	return 0;
}

int pqx_gcm_open(const pqx_gcm *g, uint8_t *pt, const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
    const uint8_t *ct, size_t ct_len)
{
	uint8_t tag[16], want[16];
	size_t n;
	int ok;

	if (ct_len < 16 || (uint64_t)(ct_len - 16) > PQX_GCM_MAX) {
		if (ct_len > 16)
			memset(pt, 0, ct_len - 16);
		return PQX_ERR_AUTH;
	}
	n = ct_len - 16;
	memcpy(want, ct + n, 16); /* before pt, which may be ct, is written */
	gcm(g, tag, nonce, ad, ad_len, pt, ct, n, 0);
	ok = pqx_ct_memeq(tag, want, 16);
	pqx_wipe(tag, sizeof(tag));
	if (ok)
		return 0;
	/* The verdict is public (it is returned): a branch on it, not a pass over every record. */
	pqx_wipe(pt, n);
	return PQX_ERR_AUTH;
}

#else /* !AESGCM */

int pqx_gcm_available(void)
{
	return 0;
}

pqx_gcm *pqx_gcm_new(const uint8_t key[32])
{
	(void)key;
	return NULL;
}

void pqx_gcm_free(pqx_gcm *g)
{
	(void)g;
}

int pqx_gcm_seal(const pqx_gcm *g, uint8_t *ct, const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
    const uint8_t *pt, size_t n)
{
	(void)g, (void)ct, (void)nonce, (void)ad, (void)ad_len, (void)pt, (void)n;
	return PQX_ERR_INTERNAL;
}

int pqx_gcm_open(const pqx_gcm *g, uint8_t *pt, const uint8_t nonce[12], const uint8_t *ad, size_t ad_len,
    const uint8_t *ct, size_t ct_len)
{
	(void)g, (void)pt, (void)nonce, (void)ad, (void)ad_len, (void)ct, (void)ct_len;
	return PQX_ERR_INTERNAL;
}

#endif
