/* pqx: HMAC-SHA256 of many messages under one key at once: SHA-256 in 16 lanes of AVX-512. */
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
 * measured on (docs/BENCHMARKS.md). Every block of every lane goes through
 * the same instructions: nothing branches on or indexes by the key or the
 * data (the lane schedule depends on the messages' lengths only).
 *
 * HMAC (RFC 2104) with a key of at most 64 bytes: the states after the
 * blocks key ^ ipad and key ^ opad are computed once (pqx_hmac_mb_new);
 * each message's inner hash starts from the first, and its outer hash, one
 * block, from the second.
 */

#if defined(PQX_ENABLE_AVX2) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HMAC_MB 1
#include <immintrin.h>
#endif

#define LANES 16

struct pqx_hmac_mb_key {
	uint32_t istate[8], ostate[8]; /* after key ^ ipad, key ^ opad */
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

#define TARGET __attribute__((target("avx512f,avx512bw")))
#define ROR(x, n) _mm512_ror_epi32((x), (n))
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)
#define ADD(a, b) _mm512_add_epi32((a), (b))

/*
 * The 16 blocks p[0..15], one per lane, as 16 vectors of their big-endian
 * words: w[t] holds word t of every lane. Rows are loaded, then transposed
 * (32-bit, then 64-bit interleaves, then two rounds of 128-bit shuffles).
 */
static inline TARGET void load_transposed(__m512i w[16], const uint8_t *const p[LANES])
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
static inline TARGET void compress16(__m512i st[8], const uint8_t *const p[LANES])
{
	__m512i w[16], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5],
		       g = st[6], h = st[7], t1, t2, wt;

	load_transposed(w, p);
	for (int t = 0; t < 64; t++) {
		if (t < 16) {
			wt = w[t];
		} else {
			__m512i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
			__m512i s0 = XOR3(ROR(w15, 7), ROR(w15, 18), _mm512_srli_epi32(w15, 3));
			__m512i s1 = XOR3(ROR(w2, 17), ROR(w2, 19), _mm512_srli_epi32(w2, 10));

			wt = ADD(ADD(w[t & 15], s0), ADD(w[(t - 7) & 15], s1));
			w[t & 15] = wt;
		}
		/* Ch is e ? f : g (0xca); Maj the majority of a, b, c (0xe8). */
		t1 = ADD(ADD(h, XOR3(ROR(e, 6), ROR(e, 11), ROR(e, 25))),
		    ADD(_mm512_ternarylogic_epi32(e, f, g, 0xca),
			ADD(_mm512_set1_epi32((int)sha256_k[t]), wt)));
		t2 = ADD(XOR3(ROR(a, 2), ROR(a, 13), ROR(a, 22)), _mm512_ternarylogic_epi32(a, b, c, 0xe8));
		h = g;
		g = f;
		f = e;
		e = ADD(d, t1);
		d = c;
		c = b;
		b = a;
		a = ADD(t1, t2);
	}
	st[0] = ADD(st[0], a);
	st[1] = ADD(st[1], b);
	st[2] = ADD(st[2], c);
	st[3] = ADD(st[3], d);
	st[4] = ADD(st[4], e);
	st[5] = ADD(st[5], f);
	st[6] = ADD(st[6], g);
	st[7] = ADD(st[7], h);
}

/*
 * What the vector code leaves behind: its spills on the stack (rows of
 * key ^ pad, states) and the vector registers. Called after it returns, so
 * that the buffer here lies over its frames.
 */
static __attribute__((noinline)) void stack_wipe(void)
{
	uint8_t buf[16384];

	pqx_wipe(buf, sizeof(buf));
}

static TARGET void vectors_wipe(void)
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

/* The state after one block from state in (the same block in every lane: lane 0's result). */
static TARGET void compress1(uint32_t out[8], const uint32_t in[8], const uint8_t block[64])
{
	const uint8_t *p[LANES];
	__m512i st[8];

	for (int l = 0; l < LANES; l++)
		p[l] = block;
	for (int i = 0; i < 8; i++)
		st[i] = _mm512_set1_epi32((int)in[i]);
	compress16(st, p);
	for (int i = 0; i < 8; i++)
		out[i] = (uint32_t)_mm_cvtsi128_si32(_mm512_castsi512_si128(st[i]));
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

static TARGET void hmac16(const struct pqx_hmac_mb_key *k, const uint8_t *msg, const struct job *jobs,
    size_t n, uint8_t *out)
{
	static const uint8_t idle[64];
	struct lane ln[LANES];
	const uint8_t *p[LANES];
	uint32_t words[8][LANES], sv[8];
	size_t next = 0, active = 0;
	__m512i st[8];

	for (int i = 0; i < 8; i++)
		st[i] = _mm512_set1_epi32((int)k->istate[i]);
	for (int l = 0; l < LANES; l++)
		active += (size_t)lane_start(&ln[l], next < n ? &jobs[next++] : NULL, n, msg);
	while (active > 0) {
		__mmask16 to_outer = 0, to_inner = 0;

		for (int l = 0; l < LANES; l++) {
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
		compress16(st, p);
		for (int l = 0; l < LANES; l++) {
			struct lane *x = &ln[l];

			if (x->job == n)
				continue;
			if (x->outer) {
				to_inner |= (__mmask16)(1u << l);
			} else if (x->full > 0) {
				x->p += 64;
				x->full--;
			} else if (++x->tdone == x->tail) {
				to_outer |= (__mmask16)(1u << l);
			}
		}
		if ((to_outer | to_inner) == 0)
			continue;
		for (int i = 0; i < 8; i++)
			_mm512_storeu_si512((void *)words[i], st[i]);
		for (int l = 0; l < LANES; l++) {
			struct lane *x = &ln[l];

			if (!((to_outer | to_inner) >> l & 1))
				continue;
			for (int i = 0; i < 8; i++)
				sv[i] = words[i][l];
			if (to_outer >> l & 1) {
				/* The outer block: the inner hash, 0x80, zeros, the length of 96 bytes. */
				memset(x->buf, 0, 64);
				state_bytes(x->buf, sv);
				x->buf[32] = 0x80;
				pqx_store64_be(x->buf + 56, (64 + 32) * 8);
				x->outer = 1;
			} else {
				state_bytes(out + x->job * PQX_HMAC_MB_BYTES, sv);
				active--;
				active += (size_t)lane_start(x, next < n ? &jobs[next++] : NULL, n, msg);
			}
		}
		for (int i = 0; i < 8; i++) {
			st[i] = _mm512_mask_mov_epi32(st[i], to_outer, _mm512_set1_epi32((int)k->ostate[i]));
			st[i] = _mm512_mask_mov_epi32(st[i], to_inner, _mm512_set1_epi32((int)k->istate[i]));
		}
	}
	pqx_wipe(words, sizeof(words));
	pqx_wipe(sv, sizeof(sv));
	pqx_wipe(ln, sizeof(ln));
}

static int have_avx512(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

#endif /* HMAC_MB */

pqx_hmac_mb_key *pqx_hmac_mb_new(const uint8_t *key, size_t key_len)
{
#ifdef HMAC_MB
	pqx_hmac_mb_key *k;
	uint8_t block[64];

	if (key_len > sizeof(block) || !have_avx512() || (k = pqx_malloc(sizeof(*k))) == NULL)
		return NULL;
	memset(block, 0x36, sizeof(block));
	for (size_t i = 0; i < key_len; i++)
		block[i] ^= key[i];
	compress1(k->istate, sha256_iv, block);
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] ^= 0x36 ^ 0x5c;
	compress1(k->ostate, sha256_iv, block);
	pqx_wipe(block, sizeof(block));
	vectors_wipe();
	stack_wipe();
	return k;
#else
	(void)key, (void)key_len;
	return NULL;
#endif
}

void pqx_hmac_mb_free(pqx_hmac_mb_key *k)
{
	pqx_free_wipe(k, sizeof(*k));
}

/*
 * With the longest message first, the lanes finish within about one
 * longest message of total / 16; each step of 16 lanes costs about 8 steps
 * of one stream. So 16 lanes pay from about 8 longest messages' worth on:
 * asked for MB_PAYS_LONGEST of them, and at least 8 messages.
 */
#define MB_PAYS_LONGEST 12

int pqx_hmac_mb_pays(const uint32_t *lens, size_t n)
{
	uint64_t total = 0, longest = 0;

	if (n < 8)
		return 0;
	for (size_t i = 0; i < n; i++) {
		total += lens[i];
		if (lens[i] > longest)
			longest = lens[i];
	}
	return total >= MB_PAYS_LONGEST * longest;
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
	hmac16(k, msg, jobs, n, out);
	vectors_wipe();
	stack_wipe();
	pqx_free(jobs);
	return 0;
#else
	(void)k, (void)msg, (void)lens;
	memset(out, 0, n * PQX_HMAC_MB_BYTES);
	return PQX_ERR_INVALID_ARG;
#endif
}
