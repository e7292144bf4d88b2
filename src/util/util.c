/* pqx: error strings, wiping, constant-time helpers and allocation with fault hooks. */
#include <stdlib.h>

#include <openssl/crypto.h>

#include "util.h"

#define PQX_VERSION_STRING "0.1.0"

const char *pqx_version(void)
{
	return PQX_VERSION_STRING;
}

const char *pqx_strerror(int err)
{
	switch (err) {
	case PQX_OK: return "success";
	case PQX_ERR_INTERNAL: return "internal error";
	case PQX_ERR_NOMEM: return "out of memory";
	case PQX_ERR_RANDOM: return "random number generator failed";
	case PQX_ERR_INVALID_ARG: return "invalid argument";
	case PQX_ERR_INVALID_KEY: return "invalid key";
	case PQX_ERR_AUTH: return "authentication failed";
	case PQX_ERR_FORMAT: return "malformed input";
	case PQX_ERR_TRUNCATED: return "input is truncated";
	case PQX_ERR_TRAILING: return "unexpected trailing data";
	case PQX_ERR_LIMIT: return "size or count limit exceeded";
	case PQX_ERR_IO: return "input/output error";
	case PQX_ERR_UNSUPPORTED: return "unsupported version or algorithm";
	case -20: return "no identity matched any of the recipients";
	case -21: return "malformed age header";
	case -22: return "malformed ASCII armor";
	case -23: return "scrypt work factor too large";
	case -24: return "a passphrase is required";
	case -30: return "the server's key does not match the pinned key";
	case -31: return "not authorized by the server";
	case -32: return "timed out";
	case -33: return "the connection was closed";
	case -34: return "the peer reported an error";
	case -35: return "a file changed while it was being sent (run again)";
	default: return "unknown error";
	}
}

void pqx_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

int pqx_ct_memeq(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(x[i] ^ y[i]);
	/* (d - 1) >> 8 is 1 exactly when d == 0, with no branch on d. */
	return (int)((((uint32_t)pqx_ct_barrier_u8(d)) - 1) >> 31);
}

int pqx_ct_is_zero(const void *a, size_t n)
{
	const uint8_t *x = a;
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i];
	return (int)((((uint32_t)pqx_ct_barrier_u8(d)) - 1) >> 31);
}

void pqx_ct_cmov(uint8_t *dst, const uint8_t *src, size_t n, uint8_t cond)
{
	uint8_t mask = (uint8_t)-pqx_ct_barrier_u8(cond);

	for (size_t i = 0; i < n; i++)
		dst[i] ^= (uint8_t)(mask & (dst[i] ^ src[i]));
}

static pqx_fault_hook alloc_fault;

void pqx_test_set_alloc_fault(pqx_fault_hook h)
{
	alloc_fault = h;
}

int pqx_test_alloc_should_fail(void)
{
	return alloc_fault != NULL && alloc_fault();
}

void *pqx_malloc(size_t n)
{
	if (pqx_test_alloc_should_fail())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *pqx_calloc(size_t count, size_t size)
{
	if (pqx_test_alloc_should_fail())
		return NULL;
	return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void pqx_free(void *p)
{
	free(p);
}

void pqx_free_wipe(void *p, size_t n)
{
	if (p == NULL)
		return;
	pqx_wipe(p, n);
	free(p);
}
