/* pqx fuzz: helpers shared by the libFuzzer targets: an input reader and a hard assertion. */
#ifndef PQX_FUZZ_H
#define PQX_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pqx/common.h>

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

/*
 * A memory transport for the channel targets: reads come from a buffer (its
 * end is PQX_ERR_TRUNCATED); writes are kept in out, or dropped if out is NULL.
 */
struct mem {
	const uint8_t *in;
	size_t in_len, in_off;
	uint8_t *out;
	size_t out_len, out_cap;
};

static inline int mem_read(void *ctx, uint8_t *buf, size_t n)
{
	struct mem *m = ctx;

	if (m->in_len - m->in_off < n) {
		m->in_off = m->in_len;
		return PQX_ERR_TRUNCATED;
	}
	memcpy(buf, m->in + m->in_off, n);
	m->in_off += n;
	return 0;
}

static inline int mem_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct mem *m = ctx;

	if (m->out == NULL)
		return 0;
	FUZZ_ASSERT(m->out_len + n <= m->out_cap);
	memcpy(m->out + m->out_len, buf, n);
	m->out_len += n;
	return 0;
}

#endif
