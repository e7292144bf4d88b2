/* pqx: internal helpers: constant-time operations, byte order, allocation, test hooks. */
#ifndef PQX_UTIL_H
#define PQX_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <pqx/common.h>

/*
 * Constant-time helpers. The value barrier stops the compiler from turning
 * masks back into branches (mlkem-native and Monocypher use the same trick).
 */
static inline uint64_t pqx_ct_barrier_u64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
	__asm__("" : "+r"(x));
#endif
	return x;
}

static inline uint8_t pqx_ct_barrier_u8(uint8_t x)
{
	return (uint8_t)pqx_ct_barrier_u64(x);
}

/* Returns 1 if the n bytes at a and b are equal, else 0, in constant time. */
int pqx_ct_memeq(const void *a, const void *b, size_t n);

/* Returns 1 if the n bytes at a are all zero, else 0, in constant time. */
int pqx_ct_is_zero(const void *a, size_t n);

/* Copies n bytes from src to dst if cond is 1; cond must be 0 or 1. */
void pqx_ct_cmov(uint8_t *dst, const uint8_t *src, size_t n, uint8_t cond);

static inline uint16_t pqx_load16_be(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t pqx_load32_be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t pqx_load64_be(const uint8_t *p)
{
	return (uint64_t)pqx_load32_be(p) << 32 | pqx_load32_be(p + 4);
}
static inline void pqx_store16_be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void pqx_store32_be(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void pqx_store64_be(uint8_t *p, uint64_t v)
{
	pqx_store32_be(p, (uint32_t)(v >> 32));
	pqx_store32_be(p + 4, (uint32_t)v);
}
static inline uint32_t pqx_load32_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void pqx_store32_le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t pqx_load64_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static inline void pqx_store64_le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Allocation goes through these so that tests can inject failures.
 * pqx_free(NULL) is a no-op; pqx_free_wipe wipes n bytes before freeing.
 */
void *pqx_malloc(size_t n);
void *pqx_calloc(size_t count, size_t size);
void pqx_free(void *p);
void pqx_free_wipe(void *p, size_t n);

/*
 * Test hooks for fault injection (tests/unit/test_fault.c). A hook returns
 * nonzero to make the next allocation or random draw fail. Not thread-safe;
 * never set outside tests.
 */
typedef int (*pqx_fault_hook)(void);
void pqx_test_set_alloc_fault(pqx_fault_hook h);
void pqx_test_set_random_fault(pqx_fault_hook h);
int pqx_test_alloc_should_fail(void);

#endif
