/* pqx tests: a tiny harness printing PASS/FAIL/SKIP lines that tests/run.sh counts. */
#ifndef PQX_TEST_HARNESS_H
#define PQX_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Runs one named test case; it passes unless a CHECK failed or it skipped.
 * With PQX_TEST_ONLY set, only cases whose names contain it run. */
void t_run(const char *name, void (*fn)(void));
/* Marks the running case skipped (with a reason printed); call then return. */
void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records a failure of the running case with a message. */
void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints the totals of this binary; returns the process exit status. */
int t_done(void);

#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond))                                          \
			t_fail(__FILE__, __LINE__, "" __VA_ARGS__);   \
	} while (0)
#define CHECK_EQ_MEM(a, b, n, ...)                                    \
	do {                                                          \
		if (memcmp((a), (b), (n)) != 0)                       \
			t_fail(__FILE__, __LINE__, "" __VA_ARGS__);   \
	} while (0)

/* Failures so far in the running case (to stop a table loop early). */
int t_case_failures(void);

/*
 * Vectors live in ../shared (relative to the project root) or in
 * $PQX_SHARED. t_shared_path returns a malloc'd path to rel inside it, or
 * NULL if the folder is absent (the caller skips, saying so).
 */
char *t_shared_path(const char *rel);
/* Reads a whole file; NULL if it cannot be read. Caller frees. */
uint8_t *t_read_file(const char *path, size_t *len);
/* Decodes hex of exactly 2*n digits into out; returns 0 or -1. */
int t_unhex(uint8_t *out, size_t n, const char *hex);
/* Decodes hex into a malloc'd buffer; *n gets its length; NULL if bad. */
uint8_t *t_unhex_alloc(const char *hex, size_t *n);
/* Deterministic test randomness (SHAKE128 of a seed, per test binary). */
void t_rand(uint8_t *out, size_t n);

#endif
