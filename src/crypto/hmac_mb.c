/* pqx: HMAC-SHA256 of many messages under one key at once: SHA-256 in 16 lanes of AVX-512 or 8 of AVX2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hmac_mb.h"
#include "util/util.h"

/*
 * SHA-256 (FIPS 180-4) has no parallelism within one message; the chunk ids
 * of a file are thousands of independent messages. AVX-512 runs the rounds
 * of 16 messages at once, one 32-bit lane each: about 2.2 times the rate of
 * OpenSSL's one stream with the SHA instructions on the EPYC this was
 * measured on (docs/BENCHMARKS.md). AVX2 runs 8, which pays only against a
 * stream without the SHA instructions: it is used where the CPU has AVX2
 * and neither AVX-512 nor them. Every block of every lane goes through the
 * same instructions: nothing branches on or indexes by the key or the data
 * (the lane schedule depends on the messages' lengths only).
 *
 * HMAC (RFC 2104) with a key of at most 64 bytes: the states after the
 * blocks key ^ ipad and key ^ opad are computed once (pqx_hmac_mb_new);
 * each message's inner hash starts from the first, and its outer hash, one
 * block, from the second.
 */

#if defined(PQX_ENABLE_AVX2) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HMAC_MB 1
#include <cpuid.h>
#include <immintrin.h>
#endif

#define LANES_MAX 16

struct pqx_hmac_mb_key {
	uint32_t istate[8], ostate[8]; /* after key ^ ipad, key ^ opad */
	int lanes;                     /* 16 (AVX-512) or 8 (AVX2) */
};

#ifdef HMAC_MB

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/*
 * The lanes' states, word-major: st[i][l] is word i of lane l. Each engine
 * loads them, runs one block in each of its lanes, and stores them back.
 */
typedef uint32_t lane_states[8][LANES_MAX];
typedef void (*compress_fn)(lane_states st, const uint8_t *const p[LANES_MAX]);

/*
 * Each engine's scheduler has its compression inlined, through a constant
 * function pointer; GCC resolves that only when it optimizes (at -O0 it
 * would refuse the forced inline).
 */
#ifdef __OPTIMIZE__
#define ENGINE_INLINE inline __attribute__((always_inline))
#else
#define ENGINE_INLINE
#endif

/* ---- 16 lanes of AVX-512 ---- */

#define T512 __attribute__((target("avx512f,avx512bw")))
#define ROR16(x, n) _mm512_ror_epi32((x), (n))
#define XOR3_16(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)
#define ADD16(a, b) _mm512_add_epi32((a), (b))

/*
 * The 16 blocks p[0..15], one per lane, as 16 vectors of their big-endian
 * words: w[t] holds word t of every lane. Rows are loaded, then transposed
 * (32-bit, then 64-bit interleaves, then two rounds of 128-bit shuffles).
 */
static inline T512 void load16(__m512i w[16], const uint8_t *const p[LANES_MAX])
{
	const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
	__m512i r[16], a[16], b[16];

	for (int l = 0; l < 16; l++)
		r[l] = _mm512_loadu_si512((const void *)p[l]);
	for (int i = 0; i < 8; i++) {
		a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	/* b[4j + c], 128-bit part s: word 4s + c of lanes 4j .. 4j + 3. */
	for (int j = 0; j < 4; j++) {
		b[4 * j] = _mm512_unpacklo_epi64(a[4 * j], a[4 * j + 2]);
		b[4 * j + 1] = _mm512_unpackhi_epi64(a[4 * j], a[4 * j + 2]);
		b[4 * j + 2] = _mm512_unpacklo_epi64(a[4 * j + 1], a[4 * j + 3]);
		b[4 * j + 3] = _mm512_unpackhi_epi64(a[4 * j + 1], a[4 * j + 3]);
	}
	/* w[4s + c], part j: part s of b[4j + c]. */
	for (int c = 0; c < 4; c++) {
		__m512i e0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44);
		__m512i e1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xee);
		__m512i e2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44);
		__m512i e3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xee);

		w[c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e0, e2, 0x88), bswap);
		w[4 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e0, e2, 0xdd), bswap);
		w[8 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e1, e3, 0x88), bswap);
		w[12 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e1, e3, 0xdd), bswap);
	}
}

/* One block in every lane: the compression function of FIPS 180-4 section 6.2.2. */
static ENGINE_INLINE T512 void compress16(lane_states st, const uint8_t *const p[LANES_MAX])
{
	__m512i w[16], v[8], a, b, c, d, e, f, g, h, t1, t2, wt;

	for (int i = 0; i < 8; i++)
		v[i] = _mm512_loadu_si512((const void *)st[i]);
	a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
	load16(w, p);
	for (int t = 0; t < 64; t++) {
		if (t < 16) {
			wt = w[t];
		} else {
			__m512i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
			__m512i s0 = XOR3_16(ROR16(w15, 7), ROR16(w15, 18), _mm512_srli_epi32(w15, 3));
			__m512i s1 = XOR3_16(ROR16(w2, 17), ROR16(w2, 19), _mm512_srli_epi32(w2, 10));

			wt = ADD16(ADD16(w[t & 15], s0), ADD16(w[(t - 7) & 15], s1));
			w[t & 15] = wt;
		}
		/* Ch is e ? f : g (0xca); Maj the majority of a, b, c (0xe8). */
		t1 = ADD16(ADD16(h, XOR3_16(ROR16(e, 6), ROR16(e, 11), ROR16(e, 25))),
		    ADD16(_mm512_ternarylogic_epi32(e, f, g, 0xca),
			ADD16(_mm512_set1_epi32((int)sha256_k[t]), wt)));
		t2 = ADD16(XOR3_16(ROR16(a, 2), ROR16(a, 13), ROR16(a, 22)),
		    _mm512_ternarylogic_epi32(a, b, c, 0xe8));
		h = g;
		g = f;
		f = e;
		e = ADD16(d, t1);
		d = c;
		c = b;
		b = a;
		a = ADD16(t1, t2);
	}
	v[0] = ADD16(v[0], a), v[1] = ADD16(v[1], b), v[2] = ADD16(v[2], c), v[3] = ADD16(v[3], d);
	v[4] = ADD16(v[4], e), v[5] = ADD16(v[5], f), v[6] = ADD16(v[6], g), v[7] = ADD16(v[7], h);
	for (int i = 0; i < 8; i++)
		_mm512_storeu_si512((void *)st[i], v[i]);
}

/* ---- 8 lanes of AVX2 ---- */

#define T256 __attribute__((target("avx2")))
#define ROR8(x, n) _mm256_or_si256(_mm256_srli_epi32((x), (n)), _mm256_slli_epi32((x), 32 - (n)))
#define XOR3_8(a, b, c) _mm256_xor_si256(_mm256_xor_si256((a), (b)), (c))
#define ADD8(a, b) _mm256_add_epi32((a), (b))

/* The 8 blocks p[0..7] as 16 vectors of their big-endian words (two 8 x 8 transposes). */
static inline T256 void load8(__m256i w[16], const uint8_t *const p[LANES_MAX])
{
	const __m256i bswap = _mm256_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
	    12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);

	for (int half = 0; half < 2; half++) {
		__m256i r[8], a[8], b[8];

		for (int l = 0; l < 8; l++)
			r[l] = _mm256_loadu_si256((const __m256i *)(const void *)(p[l] + 32 * half));
		for (int i = 0; i < 4; i++) {
			a[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
			a[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
		}
		/* b[4j + c], 128-bit half s: word 4s + c of lanes 4j .. 4j + 3. */
		for (int j = 0; j < 2; j++) {
			b[4 * j] = _mm256_unpacklo_epi64(a[4 * j], a[4 * j + 2]);
			b[4 * j + 1] = _mm256_unpackhi_epi64(a[4 * j], a[4 * j + 2]);
			b[4 * j + 2] = _mm256_unpacklo_epi64(a[4 * j + 1], a[4 * j + 3]);
			b[4 * j + 3] = _mm256_unpackhi_epi64(a[4 * j + 1], a[4 * j + 3]);
		}
		for (int c = 0; c < 4; c++) {
			w[8 * half + c] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(b[c], b[4 + c], 0x20), bswap);
			w[8 * half + 4 + c] = _mm256_shuffle_epi8(_mm256_permute2x128_si256(b[c], b[4 + c], 0x31), bswap);
		}
	}
}

static ENGINE_INLINE T256 void compress8(lane_states st, const uint8_t *const p[LANES_MAX])
{
	__m256i w[16], v[8], a, b, c, d, e, f, g, h, t1, t2, wt;

	for (int i = 0; i < 8; i++)
		v[i] = _mm256_loadu_si256((const __m256i *)(const void *)st[i]);
	a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
	load8(w, p);
	for (int t = 0; t < 64; t++) {
		if (t < 16) {
			wt = w[t];
		} else {
			__m256i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
			__m256i s0 = XOR3_8(ROR8(w15, 7), ROR8(w15, 18), _mm256_srli_epi32(w15, 3));
			__m256i s1 = XOR3_8(ROR8(w2, 17), ROR8(w2, 19), _mm256_srli_epi32(w2, 10));

			wt = ADD8(ADD8(w[t & 15], s0), ADD8(w[(t - 7) & 15], s1));
			w[t & 15] = wt;
		}
		/* Ch = g ^ (e & (f ^ g)); Maj = b ^ ((a ^ b) & (b ^ c)). */
		t1 = ADD8(ADD8(h, XOR3_8(ROR8(e, 6), ROR8(e, 11), ROR8(e, 25))),
		    ADD8(_mm256_xor_si256(g, _mm256_and_si256(e, _mm256_xor_si256(f, g))),
			ADD8(_mm256_set1_epi32((int)sha256_k[t]), wt)));
		t2 = ADD8(XOR3_8(ROR8(a, 2), ROR8(a, 13), ROR8(a, 22)),
		    _mm256_xor_si256(b, _mm256_and_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(b, c))));
		h = g;
		g = f;
		f = e;
		e = ADD8(d, t1);
		d = c;
		c = b;
		b = a;
		a = ADD8(t1, t2);
	}
	v[0] = ADD8(v[0], a), v[1] = ADD8(v[1], b), v[2] = ADD8(v[2], c), v[3] = ADD8(v[3], d);
	v[4] = ADD8(v[4], e), v[5] = ADD8(v[5], f), v[6] = ADD8(v[6], g), v[7] = ADD8(v[7], h);
	for (int i = 0; i < 8; i++)
		_mm256_storeu_si256((__m256i *)(void *)st[i], v[i]);
}

/*
 * What the vector code leaves behind: its spills on the stack (rows of
 * key ^ pad, states) and the vector registers. Called after it returns, so
 * that the buffer here lies over its frames (about 20 KiB deep unoptimized,
 * much less at -O1 and above).
 */
static __attribute__((noinline)) void stack_wipe(void)
{
	uint8_t buf[32768];

	pqx_wipe(buf, sizeof(buf));
}

static T512 void vectors_wipe512(void)
{
	_mm256_zeroall(); /* zmm0-15 whole, with AVX-512 */
	__asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
			 "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
			 "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
			 "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
			 "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
			 "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
			 "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
			 "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31"
			 ::: "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
			 "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}

static T256 void vectors_wipe256(void)
{
	_mm256_zeroall();
}

/* The engine's registers and the stack it used, after it ran. */
static void wipe_after(int lanes)
{
	if (lanes == 16)
		vectors_wipe512();
	else
		vectors_wipe256();
	stack_wipe();
}

static T512 void compress1_16(lane_states st, const uint8_t *const p[LANES_MAX])
{
	compress16(st, p);
}

static T256 void compress1_8(lane_states st, const uint8_t *const p[LANES_MAX])
{
	compress8(st, p);
}

/* The state after one block from state in (the same block in every lane: lane 0's result). */
static void compress1(int lanes, uint32_t out[8], const uint32_t in[8], const uint8_t block[64])
{
	const uint8_t *p[LANES_MAX];
	lane_states st;

	for (int l = 0; l < LANES_MAX; l++)
		p[l] = block;
	for (int i = 0; i < 8; i++)
		for (int l = 0; l < LANES_MAX; l++)
			st[i][l] = in[i];
	if (lanes == 16)
		compress1_16(st, p);
	else
		compress1_8(st, p);
	for (int i = 0; i < 8; i++)
		out[i] = st[i][0];
	pqx_wipe(st, sizeof(st));
}

/*
 * The last block or two of a message: its last len % 64 bytes, 0x80, zeros,
 * and the bit length of everything hashed (prefix bytes before it plus
 * len), big-endian. Returns the number of blocks (1 or 2).
 */
static size_t tail_blocks(uint8_t buf[128], const uint8_t *msg, size_t len, uint64_t prefix)
{
	size_t r = len % 64, nb = r < 56 ? 1 : 2;

	memset(buf, 0, 128);
	memcpy(buf, msg + len - r, r);
	buf[r] = 0x80;
	pqx_store64_be(buf + nb * 64 - 8, (prefix + len) * 8);
	return nb;
}

static void state_bytes(uint8_t out[32], const uint32_t st[8])
{
	for (int i = 0; i < 8; i++)
		pqx_store32_be(out + 4 * i, st[i]);
}

/* A message: where it is in the buffer, its length, its output slot. */
struct job {
	size_t off;
	uint32_t len;
	size_t idx;
};

/* What a lane works on: a message's inner hash (its full blocks, then its tail), then the outer block. */
struct lane {
	const uint8_t *p;   /* the next full block of the message */
	size_t full;        /* full blocks left */
	size_t tail, tdone; /* tail blocks, and how many are done */
	int outer;          /* on the outer block */
	size_t job;         /* its output slot; n when the lane idles */
	uint8_t buf[128];   /* the tail blocks, then the outer block */
};

/* Gives lane x the message j, or leaves it idle (j NULL); returns 1 if it got one. */
static int lane_start(struct lane *x, const struct job *j, size_t n, const uint8_t *msg)
{
	if (j == NULL) {
		x->job = n;
		return 0;
	}
	x->job = j->idx;
	x->p = msg + j->off;
	x->full = j->len / 64;
	x->tail = tail_blocks(x->buf, x->p, j->len, 64);
	x->tdone = 0;
	x->outer = 0;
	return 1;
}

/*
 * The lane scheduler, one copy per engine: inlined into each with its lanes
 * and its compression, which is inlined in turn.
 */
static ENGINE_INLINE void hmac_lanes(const struct pqx_hmac_mb_key *k,
    const uint8_t *msg, const struct job *jobs, size_t n, uint8_t *out, const int lanes,
    const compress_fn compress)
{
	static const uint8_t idle[64];
	struct lane ln[LANES_MAX];
	const uint8_t *p[LANES_MAX];
	lane_states st;
	uint32_t sv[8];
	size_t next = 0, active = 0;

	for (int l = 0; l < LANES_MAX; l++) {
		p[l] = idle;
		for (int i = 0; i < 8; i++)
			st[i][l] = k->istate[i];
	}
	for (int l = 0; l < lanes; l++)
		active += (size_t)lane_start(&ln[l], next < n ? &jobs[next++] : NULL, n, msg);
	while (active > 0) {
		for (int l = 0; l < lanes; l++) {
			struct lane *x = &ln[l];

			if (x->job == n)
				p[l] = idle;
			else if (x->outer)
				p[l] = x->buf;
			else if (x->full > 0)
				p[l] = x->p;
			else
				p[l] = x->buf + 64 * x->tdone;
		}
		compress(st, p);
		for (int l = 0; l < lanes; l++) {
			struct lane *x = &ln[l];

			if (x->job == n)
				continue;
			if (x->full > 0 && !x->outer) {
				x->p += 64;
				x->full--;
				continue;
			}
			if (!x->outer && ++x->tdone < x->tail)
				continue;
			for (int i = 0; i < 8; i++)
				sv[i] = st[i][l];
			if (!x->outer) {
				/* The outer block: the inner hash, 0x80, zeros, the length of 96 bytes. */
				memset(x->buf, 0, 64);
				state_bytes(x->buf, sv);
				x->buf[32] = 0x80;
				pqx_store64_be(x->buf + 56, (64 + 32) * 8);
				x->outer = 1;
				for (int i = 0; i < 8; i++)
					st[i][l] = k->ostate[i];
			} else {
				state_bytes(out + x->job * PQX_HMAC_MB_BYTES, sv);
				active--;
				active += (size_t)lane_start(x, next < n ? &jobs[next++] : NULL, n, msg);
				for (int i = 0; i < 8; i++)
					st[i][l] = k->istate[i];
			}
		}
	}
	pqx_wipe(st, sizeof(st));
	pqx_wipe(sv, sizeof(sv));
	pqx_wipe(ln, sizeof(ln));
}

static T512 void hmac_lanes16(const struct pqx_hmac_mb_key *k, const uint8_t *msg,
    const struct job *jobs, size_t n, uint8_t *out)
{
	hmac_lanes(k, msg, jobs, n, out, 16, compress16);
}

static T256 void hmac_lanes8(const struct pqx_hmac_mb_key *k, const uint8_t *msg,
    const struct job *jobs, size_t n, uint8_t *out)
{
	hmac_lanes(k, msg, jobs, n, out, 8, compress8);
}

/* The SHA instructions (CPUID leaf 7, EBX bit 29; clang's __builtin_cpu_supports has no name for them). */
static int cpu_has_sha(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1);
}

static int cpu_has_lanes(int lanes)
{
	if (lanes == 16)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
	return lanes == 8 && __builtin_cpu_supports("avx2");
}

/* 16 lanes where the CPU has AVX-512; 8 where it has AVX2 but no SHA instructions; else none. */
static int cpu_lanes(void)
{
	return cpu_has_lanes(16) ? 16 : cpu_has_lanes(8) && !cpu_has_sha() ? 8 : 0;
}

#endif /* HMAC_MB */

pqx_hmac_mb_key *pqx_hmac_mb_new_lanes(const uint8_t *key, size_t key_len, int lanes)
{
#ifdef HMAC_MB
	pqx_hmac_mb_key *k;
	uint8_t block[64];

	if (key_len > sizeof(block) || !cpu_has_lanes(lanes) || (k = pqx_malloc(sizeof(*k))) == NULL)
		return NULL;
	k->lanes = lanes;
	memset(block, 0x36, sizeof(block));
	for (size_t i = 0; i < key_len; i++)
		block[i] ^= key[i];
	compress1(lanes, k->istate, sha256_iv, block);
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] ^= 0x36 ^ 0x5c;
	compress1(lanes, k->ostate, sha256_iv, block);
	pqx_wipe(block, sizeof(block));
	wipe_after(lanes);
	return k;
#else
	(void)key, (void)key_len, (void)lanes;
	return NULL;
#endif
}

pqx_hmac_mb_key *pqx_hmac_mb_new(const uint8_t *key, size_t key_len)
{
#ifdef HMAC_MB
	return pqx_hmac_mb_new_lanes(key, key_len, cpu_lanes());
#else
	(void)key, (void)key_len;
	return NULL;
#endif
}

int pqx_hmac_mb_lanes(const pqx_hmac_mb_key *k)
{
	return k != NULL ? k->lanes : 0;
}

void pqx_hmac_mb_free(pqx_hmac_mb_key *k)
{
	pqx_free_wipe(k, sizeof(*k));
}

/*
 * With the longest message first, the lanes finish within about one
 * longest message of total / lanes. A step of 16 lanes costs about 8
 * blocks of one SHA-NI stream, a step of 8 AVX2 lanes about 2.6 blocks of
 * one stream without the SHA instructions; so 16 lanes pay from about 8
 * longest messages' worth on, and 8 lanes from about 2 (at least lanes / 2
 * messages). On batches of 1-40 chunk-like lengths these rules came within
 * 0.2% of the best choice made batch by batch (docs/BENCHMARKS.md).
 */
#define MB_PAYS_LONGEST_16 8
#define MB_PAYS_LONGEST_8 2

int pqx_hmac_mb_pays(const pqx_hmac_mb_key *k, const uint32_t *lens, size_t n)
{
	int lanes = pqx_hmac_mb_lanes(k);
	uint64_t total = 0, longest = 0;

	if (lanes == 0 || n < (size_t)lanes / 2)
		return 0;
	for (size_t i = 0; i < n; i++) {
		total += lens[i];
		if (lens[i] > longest)
			longest = lens[i];
	}
	return total >= (lanes == 16 ? MB_PAYS_LONGEST_16 : MB_PAYS_LONGEST_8) * longest;
}

#ifdef HMAC_MB
/* Longest first, so that the lanes run out of work together. */
static int job_longer(const void *a, const void *b)
{
	const struct job *x = a, *y = b;

	return x->len != y->len ? (x->len < y->len ? 1 : -1) : (x->idx > y->idx) - (x->idx < y->idx);
}
#endif

int pqx_hmac_mb(const pqx_hmac_mb_key *k, const uint8_t *msg, const uint32_t *lens, size_t n,
    uint8_t *out)
{
#ifdef HMAC_MB
	struct job *jobs;
	size_t off = 0;

	if (k == NULL) {
		memset(out, 0, n * PQX_HMAC_MB_BYTES);
		return PQX_ERR_INVALID_ARG;
	}
	if (n == 0)
		return 0;
	if ((jobs = pqx_malloc(n * sizeof(*jobs))) == NULL) {
		memset(out, 0, n * PQX_HMAC_MB_BYTES);
		return PQX_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		jobs[i].off = off;
		jobs[i].len = lens[i];
		jobs[i].idx = i;
		off += lens[i];
	}
	qsort(jobs, n, sizeof(*jobs), job_longer);
	if (k->lanes == 16)
		hmac_lanes16(k, msg, jobs, n, out);
	else
		hmac_lanes8(k, msg, jobs, n, out);
	wipe_after(k->lanes);
	pqx_free(jobs);
	return 0;
#else
	(void)k, (void)msg, (void)lens;
	memset(out, 0, n * PQX_HMAC_MB_BYTES);
	return PQX_ERR_INVALID_ARG;
#endif
}
