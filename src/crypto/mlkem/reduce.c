/* pqx: ML-KEM arithmetic modulo q = 3329: Montgomery and Barrett reduction. */
#include "mlkem.h"

/* q^-1 mod 2^16, as a signed 16-bit value. */
#define QINV (-3327)

/*
 * For |a| < q * 2^15, returns a * 2^-16 mod q in (-q, q). No branches, no
 * division: the low half cancels exactly, so the shift is exact.
 */
int16_t mlkem_montgomery_reduce(int32_t a)
{
	int16_t t = (int16_t)(uint16_t)(uint32_t)a;

	t = (int16_t)(uint16_t)(uint32_t)((int32_t)t * QINV);
	return (int16_t)((a - (int32_t)t * MLKEM_Q) >> 16);
}

/*
 * Returns the representative of a mod q in {-(q-1)/2, ..., (q-1)/2} using
 * v = round(2^26 / q); a multiply and shift instead of a division.
 */
int16_t mlkem_barrett_reduce(int16_t a)
{
	const int32_t v = ((1 << 26) + MLKEM_Q / 2) / MLKEM_Q;
	int32_t t = (v * a + (1 << 25)) >> 26;

	return (int16_t)(a - t * MLKEM_Q);
}
