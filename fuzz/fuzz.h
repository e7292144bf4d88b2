/* pqx fuzz: helpers shared by the libFuzzer targets: an input reader and a hard assertion. */
#ifndef PQX_FUZZ_H
#define PQX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Consumes the fuzzer's input front to back. A field that runs past the end
 * reads as zeros, so that every input maps to some call, and short inputs
 * still reach the library.
 */
struct reader {
	const uint8_t *p;
	size_t left;
};

static inline void take(struct reader *r, uint8_t *out, size_t n)
{
	size_t k = n < r->left ? n : r->left;

	if (k > 0)
		memcpy(out, r->p, k);
	memset(out + k, 0, n - k);
	r->p += k;
	r->left -= k;
}

static inline uint8_t take_u8(struct reader *r)
{
	uint8_t b;

	take(r, &b, 1);
	return b;
}

static inline int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* A broken property is a crash: libFuzzer saves the input that caused it. */
#define FUZZ_ASSERT(cond)                                                        \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, \
			    __LINE__, #cond);                                    \
			abort();                                                 \
		}                                                                \
	} while (0)

#endif
