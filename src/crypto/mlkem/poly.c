/* pqx: ML-KEM polynomials: encoding (Algorithms 5, 6), compression, message and arithmetic. */
#include "mlkem.h"

/* Maps a coefficient in (-q, q) to [0, q) without a branch. */
static uint16_t to_unsigned(int16_t a)
{
	a = (int16_t)(a + ((a >> 15) & MLKEM_Q));
	return (uint16_t)a;
}

/*
 * ByteEncode_d / ByteDecode_d in groups of 8 values = d bytes. Coefficient
 * j of a group sits at bit d*j; with d a constant (the switch below) every
 * offset and shift folds at compile time and the loops unroll.
 */
static inline void byte_encode_d(uint8_t *r, const uint16_t *v, const unsigned int d)
{
	for (unsigned int g = 0; g < MLKEM_N / 8; g++, r += d, v += 8) {
		for (unsigned int i = 0; i < d; i++)
			r[i] = 0;
		for (unsigned int j = 0; j < 8; j++) {
			unsigned int k = d * j / 8, s = d * j % 8;
			uint32_t x = (uint32_t)v[j] << s;

			r[k] |= (uint8_t)x;
			if (s + d > 8)
				r[k + 1] |= (uint8_t)(x >> 8);
			if (s + d > 16)
				r[k + 2] |= (uint8_t)(x >> 16);
		}
	}
}

static inline void byte_decode_d(uint16_t *v, const uint8_t *a, const unsigned int d)
{
	for (unsigned int g = 0; g < MLKEM_N / 8; g++, a += d, v += 8) {
		for (unsigned int j = 0; j < 8; j++) {
			unsigned int k = d * j / 8, s = d * j % 8;
			uint32_t x = a[k];

			if (s + d > 8)
				x |= (uint32_t)a[k + 1] << 8;
			if (s + d > 16)
				x |= (uint32_t)a[k + 2] << 16;
			v[j] = (uint16_t)((x >> s) & ((1u << d) - 1));
		}
	}
}

/* ByteEncode_d of 256 values below 2^d, bits little-endian. */
static void byte_encode(uint8_t *r, const uint16_t v[MLKEM_N], unsigned int d)
{
	switch (d) {
	case 1: byte_encode_d(r, v, 1); break;
	case 4: byte_encode_d(r, v, 4); break;
	case 5: byte_encode_d(r, v, 5); break;
	case 10: byte_encode_d(r, v, 10); break;
	case 11: byte_encode_d(r, v, 11); break;
	default: byte_encode_d(r, v, 12); break;
	}
}

/* ByteDecode_d without the final reduction: 256 values below 2^d. */
static void byte_decode(uint16_t v[MLKEM_N], const uint8_t *a, unsigned int d)
{
	switch (d) {
	case 1: byte_decode_d(v, a, 1); break;
	case 4: byte_decode_d(v, a, 4); break;
	case 5: byte_decode_d(v, a, 5); break;
	case 10: byte_decode_d(v, a, 10); break;
	case 11: byte_decode_d(v, a, 11); break;
	default: byte_decode_d(v, a, 12); break;
	}
}

/* ByteEncode_12 of a polynomial with |coefficients| < q. */
void mlkem_poly_tobytes(uint8_t r[MLKEM_POLYBYTES], const poly *a)
{
	uint16_t v[MLKEM_N];

	for (unsigned int i = 0; i < MLKEM_N; i++)
		v[i] = to_unsigned(a->c[i]);
	byte_encode(r, v, 12);
}

/*
 * ByteDecode_12 without reducing mod q: coefficients in [0, 4096). Callers
 * decoding an encapsulation key run mlkem_poly_check_modulus first.
 */
void mlkem_poly_frombytes(poly *r, const uint8_t a[MLKEM_POLYBYTES])
{
	uint16_t v[MLKEM_N];

	byte_decode(v, a, 12);
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = (int16_t)v[i];
}

/*
 * The modulus check of section 7.2 for one polynomial: ByteEncode_12 of
 * ByteDecode_12 gives back the input exactly when every value is below q.
 * The key is public, so returning early is fine. Returns 1 if valid.
 */
int mlkem_poly_check_modulus(const uint8_t a[MLKEM_POLYBYTES])
{
	uint16_t v[MLKEM_N];

	unsigned int bad = 0;

	byte_decode(v, a, 12);
	for (unsigned int i = 0; i < MLKEM_N; i++)
		bad |= (unsigned int)(v[i] >= MLKEM_Q);
	return !bad;
}

/* ByteEncode_d(Compress_d(a)) for a with |coefficients| < q. */
void mlkem_poly_compress(uint8_t *r, const poly *a, unsigned int d)
{
	uint16_t v[MLKEM_N];

	for (unsigned int i = 0; i < MLKEM_N; i++)
		v[i] = mlkem_compress(to_unsigned(a->c[i]), d);
	byte_encode(r, v, d);
}

/* Decompress_d(ByteDecode_d(a)). */
void mlkem_poly_decompress(poly *r, const uint8_t *a, unsigned int d)
{
	uint16_t v[MLKEM_N];

	byte_decode(v, a, d);
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = (int16_t)mlkem_decompress(v[i], d);
}

/* Decompress_1(ByteDecode_1(msg)), with a mask instead of a branch per bit. */
void mlkem_poly_frommsg(poly *r, const uint8_t msg[MLKEM_SYMBYTES])
{
	for (unsigned int i = 0; i < MLKEM_SYMBYTES; i++) {
		for (unsigned int j = 0; j < 8; j++) {
			int16_t mask = (int16_t)-(int16_t)((msg[i] >> j) & 1);

			r->c[8 * i + j] = (int16_t)(mask & ((MLKEM_Q + 1) / 2));
		}
	}
}

/* ByteEncode_1(Compress_1(a)) for |coefficients| < q. */
void mlkem_poly_tomsg(uint8_t msg[MLKEM_SYMBYTES], const poly *a)
{
	for (unsigned int i = 0; i < MLKEM_SYMBYTES; i++) {
		uint8_t b = 0;

		for (unsigned int j = 0; j < 8; j++)
			b |= (uint8_t)(mlkem_compress(to_unsigned(a->c[8 * i + j]), 1) << j);
		msg[i] = b;
	}
}

void mlkem_poly_add(poly *r, const poly *a, const poly *b)
{
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = (int16_t)(a->c[i] + b->c[i]);
}

void mlkem_poly_sub(poly *r, const poly *a, const poly *b)
{
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = (int16_t)(a->c[i] - b->c[i]);
}

/* Barrett-reduces every coefficient to {-(q-1)/2, ..., (q-1)/2}. */
void mlkem_poly_reduce(poly *r)
{
	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = mlkem_barrett_reduce(r->c[i]);
}

/* Multiplies by 2^16 mod q (Montgomery form): fqmul by 2^32 mod q = 1353. */
void mlkem_poly_tomont(poly *r)
{
	const int16_t f = (int16_t)((1ULL << 32) % MLKEM_Q);

	for (unsigned int i = 0; i < MLKEM_N; i++)
		r->c[i] = mlkem_fqmul(r->c[i], f);
}
