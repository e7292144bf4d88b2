/* pqx tests: the harness behind tests/harness.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pqx/sha3.h>

#include "harness.h"

static int n_pass, n_fail, n_skip;
static int case_failures, case_skipped;
static const char *case_name;

void t_run(const char *name, void (*fn)(void))
{
	const char *only = getenv("PQX_TEST_ONLY");

	/* PQX_TEST_ONLY=TEXT runs only the cases whose names hold TEXT. */
	if (only != NULL && *only != '\0' && strstr(name, only) == NULL)
		return;
	case_name = name;
	case_failures = 0;
	case_skipped = 0;
	fn();
	if (case_failures > 0) {
		printf("FAIL %s\n", name);
		n_fail++;
	} else if (case_skipped) {
		n_skip++;
	} else {
		printf("PASS %s\n", name);
		n_pass++;
	}
	fflush(stdout);
	case_name = NULL;
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP %s: ", case_name ? case_name : "?");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	case_skipped = 1;
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	/* Print the first few failures of a case; a broken table is noisy. */
	if (case_failures++ < 40) {
		printf("  %s:%d: %s: ", file, line, case_name ? case_name : "?");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
}

int t_case_failures(void)
{
	return case_failures;
}

int t_done(void)
{
	printf("# this binary: %d pass, %d fail, %d skip\n", n_pass, n_fail, n_skip);
	return n_fail > 0 ? 1 : 0;
}

char *t_shared_path(const char *rel)
{
	const char *base = getenv("PQX_SHARED");
	char *p;
	size_t n;

	if (base == NULL || *base == '\0')
		base = "../shared";
	if (access(base, R_OK | X_OK) != 0)
		return NULL;
	n = strlen(base) + strlen(rel) + 2;
	if ((p = malloc(n)) == NULL)
		return NULL;
	snprintf(p, n, "%s/%s", base, rel);
	return p;
}

uint8_t *t_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = (n + 65536 + 1) * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int t_unhex(uint8_t *out, size_t n, const char *hex)
{
	if (strlen(hex) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

uint8_t *t_unhex_alloc(const char *hex, size_t *n)
{
	size_t len = strlen(hex);
	uint8_t *out;

	if (len % 2 != 0 || (out = malloc(len / 2 + 1)) == NULL)
		return NULL;
	if (t_unhex(out, len / 2, hex) != 0) {
		free(out);
		return NULL;
	}
	*n = len / 2;
	return out;
}

void t_rand(uint8_t *out, size_t n)
{
	static pqx_keccak_ctx ctx;
	static int init;

	if (!init) {
		const char *seed = getenv("PQX_TEST_SEED");
		char buf[64];

		if (seed == NULL) {
			snprintf(buf, sizeof(buf), "%ld", (long)getpid());
			seed = buf;
		}
		pqx_shake128_init(&ctx);
		pqx_keccak_absorb(&ctx, (const uint8_t *)seed, strlen(seed));
		init = 1;
	}
	pqx_keccak_squeeze(&ctx, out, n);
}
