/*
 * pqx: ChaCha20-Poly1305 (RFC 8439), ours, for the channel handshake's
 * three small messages. OpenSSL's, for bulk data, is much faster, but a
 * process's first use of any OpenSSL cipher builds its table of every
 * cipher (0.4-0.5 ms here); with this one the handshake needs no OpenSSL
 * cipher before message 1 leaves, and the client builds that table while it
 * waits for message 2 (docs/BENCHMARKS.md, fifteenth session).
 *
 * Plain C on 32-bit words, no table and no branch on a secret: ChaCha20 is
 * additions, rotations and xors; Poly1305 works on five 26-bit limbs with
 * 32 x 32 -> 64-bit products and a final masked select, as poly1305-donna.
 */
#include <string.h>

#include "crypto/chachapoly.h"
#include "util/util.h"

#define ROTL32(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d)                                         \
	do {                                                   \
		a += b, d ^= a, d = ROTL32(d, 16);             \
		c += d, b ^= c, b = ROTL32(b, 12);             \
		a += b, d ^= a, d = ROTL32(d, 8);              \
		c += d, b ^= c, b = ROTL32(b, 7);              \
	} while (0)

/* One 64-byte block of key stream (section 2.3). */
static void chacha_block(uint8_t out[64], const uint32_t in[16])
{
	uint32_t x[16];

	memcpy(x, in, sizeof(x));
	for (int i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
	for (int i = 0; i < 16; i++)
		pqx_store32_le(out + 4 * i, x[i] + in[i]);
	pqx_wipe(x, sizeof(x));
}

static void chacha_init(uint32_t st[16], const uint8_t key[32], const uint8_t nonce[12])
{
	st[0] = 0x61707865; /* "expand 32-byte k" */
	st[1] = 0x3320646e;
	st[2] = 0x79622d32;
	st[3] = 0x6b206574;
	for (int i = 0; i < 8; i++)
		st[4 + i] = pqx_load32_le(key + 4 * i);
	st[12] = 0;
	for (int i = 0; i < 3; i++)
		st[13 + i] = pqx_load32_le(nonce + 4 * i);
}

/* out = in ^ the key stream from block 1 on (section 2.4); in place allowed. */
static void chacha_xor(uint32_t st[16], uint8_t *out, const uint8_t *in, size_t n)
{
	uint8_t ks[64];

	for (st[12] = 1; n > 0; st[12]++) {
		size_t k = n < 64 ? n : 64;

		chacha_block(ks, st);
		for (size_t i = 0; i < k; i++)
			out[i] = in[i] ^ ks[i];
		out += k;
		in += k;
		n -= k;
	}
	pqx_wipe(ks, sizeof(ks));
}

struct poly {
	uint32_t r[5], s4[4], h[5], pad[4]; /* s4: 5 r[1..4]; pad: the key's second half */
};

static void poly_init(struct poly *p, const uint8_t key[32])
{
	/* r, clamped (section 2.5), in 26-bit limbs. */
	p->r[0] = pqx_load32_le(key + 0) & 0x3ffffff;
	p->r[1] = (pqx_load32_le(key + 3) >> 2) & 0x3ffff03;
	p->r[2] = (pqx_load32_le(key + 6) >> 4) & 0x3ffc0ff;
	p->r[3] = (pqx_load32_le(key + 9) >> 6) & 0x3f03fff;
	p->r[4] = (pqx_load32_le(key + 12) >> 8) & 0x00fffff;
	for (int i = 0; i < 4; i++) {
		p->s4[i] = p->r[i + 1] * 5;
		p->pad[i] = pqx_load32_le(key + 16 + 4 * i);
	}
	memset(p->h, 0, sizeof(p->h));
}

/*
 * Whole 16-byte blocks, each with its 2^128 bit; a last partial block is
 * zero-padded to 16 and taken whole, which is what the AEAD's MAC input is
 * (its parts are padded to 16 bytes: section 2.8).
 */
static void poly_blocks(struct poly *p, const uint8_t *m, size_t n)
{
	const uint64_t r0 = p->r[0], r1 = p->r[1], r2 = p->r[2], r3 = p->r[3], r4 = p->r[4];
	const uint64_t s1 = p->s4[0], s2 = p->s4[1], s3 = p->s4[2], s4 = p->s4[3];
	uint32_t h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], h3 = p->h[3], h4 = p->h[4];
	uint8_t last[16];

	while (n > 0) {
		const uint8_t *b = m;
		uint64_t d0, d1, d2, d3, d4;
		uint32_t c;

		if (n < 16) {
			memset(last, 0, sizeof(last));
			memcpy(last, m, n);
			b = last;
		}
		h0 += pqx_load32_le(b + 0) & 0x3ffffff;
		h1 += (pqx_load32_le(b + 3) >> 2) & 0x3ffffff;
		h2 += (pqx_load32_le(b + 6) >> 4) & 0x3ffffff;
		h3 += (pqx_load32_le(b + 9) >> 6) & 0x3ffffff;
		h4 += (pqx_load32_le(b + 12) >> 8) | (1u << 24);

		/* h *= r mod 2^130 - 5: a limb past the top wraps around times 5. */
		d0 = h0 * r0 + h1 * s4 + h2 * s3 + h3 * s2 + h4 * s1;
		d1 = h0 * r1 + h1 * r0 + h2 * s4 + h3 * s3 + h4 * s2;
		d2 = h0 * r2 + h1 * r1 + h2 * r0 + h3 * s4 + h4 * s3;
		d3 = h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s4;
		d4 = h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;

		c = (uint32_t)(d0 >> 26);
		h0 = (uint32_t)d0 & 0x3ffffff;
		d1 += c;
		c = (uint32_t)(d1 >> 26);
		h1 = (uint32_t)d1 & 0x3ffffff;
		d2 += c;
		c = (uint32_t)(d2 >> 26);
		h2 = (uint32_t)d2 & 0x3ffffff;
		d3 += c;
		c = (uint32_t)(d3 >> 26);
		h3 = (uint32_t)d3 & 0x3ffffff;
		d4 += c;
		c = (uint32_t)(d4 >> 26);
		h4 = (uint32_t)d4 & 0x3ffffff;
		h0 += c * 5;
		c = h0 >> 26;
		h0 &= 0x3ffffff;
		h1 += c;

		if (n < 16)
			break;
		m += 16;
		n -= 16;
	}
	p->h[0] = h0, p->h[1] = h1, p->h[2] = h2, p->h[3] = h3, p->h[4] = h4;
	pqx_wipe(last, sizeof(last));
}

/* The tag: h mod 2^130 - 5, fully reduced (a masked select), plus the pad mod 2^128. */
static void poly_final(struct poly *p, uint8_t tag[16])
{
	uint32_t h0 = p->h[0], h1 = p->h[1], h2 = p->h[2], h3 = p->h[3], h4 = p->h[4];
	uint32_t g0, g1, g2, g3, g4, c, mask;
	uint64_t f;

	c = h1 >> 26, h1 &= 0x3ffffff, h2 += c;
	c = h2 >> 26, h2 &= 0x3ffffff, h3 += c;
	c = h3 >> 26, h3 &= 0x3ffffff, h4 += c;
	c = h4 >> 26, h4 &= 0x3ffffff, h0 += c * 5;
	c = h0 >> 26, h0 &= 0x3ffffff, h1 += c;

	/* g = h + 5 - 2^130: h if that is negative, else g. */
	g0 = h0 + 5, c = g0 >> 26, g0 &= 0x3ffffff;
	g1 = h1 + c, c = g1 >> 26, g1 &= 0x3ffffff;
	g2 = h2 + c, c = g2 >> 26, g2 &= 0x3ffffff;
	g3 = h3 + c, c = g3 >> 26, g3 &= 0x3ffffff;
	g4 = h4 + c - (1u << 26);
	mask = (g4 >> 31) - 1; /* all ones when g >= 0 */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);
	h2 = (h2 & ~mask) | (g2 & mask);
	h3 = (h3 & ~mask) | (g3 & mask);
	h4 = (h4 & ~mask) | (g4 & mask);

	/* To four 32-bit words (mod 2^128), plus the pad. */
	h0 = h0 | (h1 << 26);
	h1 = (h1 >> 6) | (h2 << 20);
	h2 = (h2 >> 12) | (h3 << 14);
	h3 = (h3 >> 18) | (h4 << 8);
	f = (uint64_t)h0 + p->pad[0];
	pqx_store32_le(tag + 0, (uint32_t)f);
	f = (uint64_t)h1 + p->pad[1] + (f >> 32);
	pqx_store32_le(tag + 4, (uint32_t)f);
	f = (uint64_t)h2 + p->pad[2] + (f >> 32);
	pqx_store32_le(tag + 8, (uint32_t)f);
	f = (uint64_t)h3 + p->pad[3] + (f >> 32);
	pqx_store32_le(tag + 12, (uint32_t)f);
	pqx_wipe(p, sizeof(*p));
}

/* The AEAD's tag over ad and ct (section 2.8), with the one-time key of block 0. */
static void aead_tag(uint8_t tag[16], uint32_t st[16], const uint8_t *ad, size_t ad_len,
    const uint8_t *ct, size_t n)
{
	uint8_t block0[64], lens[16];
	struct poly p;

	st[12] = 0;
	chacha_block(block0, st);
	poly_init(&p, block0);
	poly_blocks(&p, ad, ad_len);
	poly_blocks(&p, ct, n);
	pqx_store64_le(lens, (uint64_t)ad_len);
	pqx_store64_le(lens + 8, (uint64_t)n);
	poly_blocks(&p, lens, 16);
	poly_final(&p, tag);
	pqx_wipe(block0, sizeof(block0));
}

int pqx_chachapoly_seal(uint8_t *ct, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *ad, size_t ad_len, const uint8_t *pt, size_t n)
{
	uint32_t st[16];

	if (n > PQX_CHACHAPOLY_MAX)
		return PQX_ERR_INVALID_ARG;
	chacha_init(st, key, nonce);
	chacha_xor(st, ct, pt, n);
	aead_tag(ct + n, st, ad, ad_len, ct, n);
	pqx_wipe(st, sizeof(st));
	return 0;
}

int pqx_chachapoly_open(uint8_t *pt, const uint8_t key[32], const uint8_t nonce[12],
    const uint8_t *ad, size_t ad_len, const uint8_t *ct, size_t ct_len)
{
	uint32_t st[16];
	uint8_t tag[16], keep;
	size_t n;
	int ok;

	if (ct_len < 16 || ct_len - 16 > PQX_CHACHAPOLY_MAX)
		return PQX_ERR_AUTH;
	n = ct_len - 16;
	chacha_init(st, key, nonce);
	/* The tag first: ct may be pt (in place). */
	aead_tag(tag, st, ad, ad_len, ct, n);
	ok = pqx_ct_memeq(tag, ct + n, 16);
	/* Decrypted either way, then kept or zeroed by a mask: no branch on the verdict here. */
	chacha_xor(st, pt, ct, n);
	keep = (uint8_t)(0 - (unsigned int)ok);
	for (size_t i = 0; i < n; i++)
		pt[i] &= keep;
	pqx_wipe(st, sizeof(st));
	pqx_wipe(tag, sizeof(tag));
	return (ok - 1) & PQX_ERR_AUTH; /* 0, or PQX_ERR_AUTH */
}

int pqx_poly1305_blocks(uint8_t tag[16], const uint8_t key[32], const uint8_t *m, size_t n)
{
	struct poly p;

	if (n % 16 != 0)
		return PQX_ERR_INVALID_ARG;
	poly_init(&p, key);
	poly_blocks(&p, m, n);
	poly_final(&p, tag);
	return 0;
}
