/* pqx ct: what the constant-time checks share: marking bytes secret or public for valgrind, and counting its reports. */
#ifndef PQX_TESTS_CT_H
#define PQX_TESTS_CT_H

#include <valgrind/memcheck.h>

#include "harness.h"

/* Secret bytes are undefined to valgrind: a branch or an address computed from them is an error. */
#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

/* Valgrind's error count, so that each case fails on its own errors. */
static inline unsigned long ct_errors(void)
{
	return (unsigned long)VALGRIND_COUNT_ERRORS;
}

static inline void ct_errors_check(unsigned long before)
{
	unsigned long n = ct_errors() - before;

	CHECK(n == 0, "valgrind: %lu uses of secret data in a branch or an address", n);
}

#endif
