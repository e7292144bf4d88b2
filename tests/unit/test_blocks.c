/* pqx tests: fixed-block matching (src/transfer/blocks.c): what it finds, and what a hostile peer's sums cost. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pqx.h>

#include "harness.h"
#include "transfer/blocks.h"
#include "util/util.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define IO_CAP ((size_t)1 << 20)

static pqx_hmac *h;
static uint8_t *io;

/* A file (memfd) holding p[0..n). */
static int file_of(const uint8_t *p, size_t n)
{
	char name[] = "/tmp/pqx-blocks.XXXXXX";
	int fd = mkstemp(name);

	if (fd < 0)
		return -1;
	unlink(name);
	if (write(fd, p, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Signatures of old's whole blocks, as the receiver sends them (4-byte weak keys). */
static uint8_t *sign(const uint8_t *old, size_t n, uint32_t L, uint32_t slen, uint32_t *count)
{
	uint8_t *sig = malloc(n / L * (4 + slen) + 1);

	*count = (uint32_t)(n / L);
	for (uint32_t i = 0; sig != NULL && i < *count; i++) {
		uint8_t *s = sig + (size_t)i * (4 + slen);

		pqx_store32_be(s, xb_weak_key(xb_weak(old + (size_t)i * L, L), 4));
		if (xb_strong(h, s + 4, slen, old + (size_t)i * L, L) != 0) {
			free(sig);
			return NULL;
		}
	}
	return sig;
}

struct found {
	uint64_t off[8192];
	uint32_t idx[8192];
	size_t n;
};

static int note(void *ctx, uint64_t off, uint32_t idx)
{
	struct found *f = ctx;

	if (f->n == 8192)
		return PQX_ERR_LIMIT;
	f->off[f->n] = off;
	f->idx[f->n++] = idx;
	return 0;
}

static void test_sizes(void)
{
	CHECK(xb_block_len(0, 0) == 1024 && xb_block_len(100 * KIB, 0) == 1024, "at least 1 KiB");
	CHECK(xb_block_len(0, 1) == 512 && xb_block_len(100 * KIB, 1) == 512 &&
	    xb_block_len(500 * KIB, 1) == 768, "raw: at least 512 (sqrt 715, rounded up to 64: 768)");
	CHECK(xb_block_len(4 * MIB, 0) == 2048 && xb_block_len(4 * MIB, 1) == 2048, "sqrt(4 MiB) = 2048");
	CHECK(xb_block_len(5000000, 0) == 2240, "sqrt 2236, rounded up to 64: %u", xb_block_len(5000000, 0));
	/* weak + strong: log2(size) + log2(count) + 16 bits, the weak part 3 bytes while size * old <= 2^44. */
	static const struct {
		uint64_t size, old;
		uint32_t count, wl, sl;
	} v[] = {
		{ 30 * KIB, 30 * KIB, 30, 3, 2 },
		{ 4 * MIB, 4 * MIB, 2048, 3, 4 },
		{ 4 * MIB, 16 * MIB, 8192, 4, 3 },
		{ (uint64_t)1 << 40, (uint64_t)1 << 40, 65536, 4, 5 },
		{ 1, 1, 1, 3, XB_STRONG_MIN },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint32_t wl, sl;

		xb_sig_lens(v[i].size, v[i].old, v[i].count, &wl, &sl);
		CHECK(wl == v[i].wl && sl == v[i].sl, "case %zu: %u + %u bytes", i, wl, sl);
	}
	CHECK(xb_weak_key(0x12345678u, 3) == (uint32_t)(0x12345678u * 0x9e3779b1u) >> 8);
}

/*
 * A new version with insertions and overwrites: every block reported is
 * where it is said to be, in order, not overlapping; the untouched blocks
 * are all found, whatever their new offset; the file hash covers every byte.
 */
static void test_scan(void)
{
	size_t n = 1 * MIB, m;
	uint32_t L = xb_block_len(n, 0), count;
	uint8_t *old = malloc(n), *nw = malloc(n + 3000), *sig = NULL;
	struct found *f = calloc(1, sizeof(*f));
	struct xb_table *t = NULL;
	pqx_hmac *w1 = NULL, *w2 = NULL;
	uint8_t h1[32], h2[32];
	size_t untouched = 0;
	int fd = -1, ok = 1;

	if (old == NULL || nw == NULL || f == NULL) {
		CHECK(0, "setup");
		goto out;
	}
	t_rand(old, n);
	/* 1000 bytes inserted at 100 KiB and 2000 at 600 KiB; 64 bytes overwritten at 300 KiB. */
	memcpy(nw, old, 100 * KIB);
	t_rand(nw + 100 * KIB, 1000);
	memcpy(nw + 100 * KIB + 1000, old + 100 * KIB, 500 * KIB);
	t_rand(nw + 600 * KIB + 1000, 2000);
	memcpy(nw + 600 * KIB + 3000, old + 600 * KIB, n - 600 * KIB);
	memset(nw + 300 * KIB + 1000, 0x77, 64);
	m = n + 3000;
	CHECK((sig = sign(old, n, L, 4, &count)) != NULL && (t = xb_table_new(L, 4, 4, sig, count)) != NULL);
	CHECK((fd = file_of(nw, m)) >= 0);
	CHECK((w1 = pqx_hmac_new((const uint8_t *)"k", 1)) != NULL && (w2 = pqx_hmac_dup(w1)) != NULL);
	if (t == NULL || fd < 0 || w2 == NULL)
		goto out;
	CHECK(pqx_hmac_init(w1) == 0 && pqx_hmac_init(w2) == 0);
	CHECK(xb_scan(t, h, w1, fd, m, io, IO_CAP, note, f) == 0);
	CHECK(pqx_hmac_update(w2, nw, m) == 0 && pqx_hmac_final(w1, h1) == 0 && pqx_hmac_final(w2, h2) == 0);
	CHECK_EQ_MEM(h1, h2, 32, "the file hash covers every byte");
	for (size_t i = 0; i < f->n; i++) {
		ok &= f->idx[i] < count && f->off[i] + L <= m &&
		      memcmp(nw + f->off[i], old + (size_t)f->idx[i] * L, L) == 0;
		ok &= i == 0 || f->off[i] >= f->off[i - 1] + L;
	}
	CHECK(ok, "every block found is right, in order, not overlapping");
	/* Blocks away from the three edits: all of them found. */
	for (uint32_t i = 0; i < count; i++) {
		uint64_t a = (uint64_t)i * L, b = a + L;

		if ((b <= 100 * KIB) || (a >= 100 * KIB && b <= 300 * KIB) ||
		    (a >= 300 * KIB + 64 && b <= 600 * KIB) || a >= 600 * KIB)
			untouched++;
	}
	CHECK(f->n >= untouched, "found %zu of the %zu untouched blocks", f->n, untouched);
out:
	if (fd >= 0)
		close(fd);
	xb_table_free(t);
	pqx_hmac_free(w1);
	pqx_hmac_free(w2);
	free(sig);
	free(old);
	free(nw);
	free(f);
}

/*
 * The peer chooses the sums. Thousands with one weak sum, or weak sums
 * chosen to fall into one run of a fixed hash's slots, must not make the
 * sender's lookups long: its work stays a few steps per byte.
 */
static void test_hostile_sums(void)
{
	const uint32_t L = XB_BLOCK_MIN, count = XB_OLD_MAX / XB_BLOCK_MIN, slen = 2;
	size_t n = 1 * MIB;
	uint8_t *data = malloc(n), *sig = malloc((size_t)count * (4 + slen));
	struct found *f = calloc(1, sizeof(*f));
	int fd = -1;

	if (data == NULL || sig == NULL || f == NULL || (fd = file_of(NULL, 0)) < 0) {
		CHECK(0, "setup");
		goto out;
	}
	/* The data repeats one block, so one weak sum is at every offset. */
	t_rand(data, L);
	for (size_t off = L; off < n; off += L)
		memcpy(data + off, data, L);
	CHECK(pwrite(fd, data, n, 0) == (ssize_t)n);
	for (int kind = 0; kind < 3; kind++) {
		struct xb_table *t;
		uint32_t w0 = xb_weak(data + 1, L), n_sigs = kind == 2 ? 1 : count, len = kind == 2 ? 4096 : L;

		/*
		 * 0: all one weak sum, found at every offset, with strong sums that
		 * never match; 1: sums that fill one run of slots under a fixed
		 * multiplier (0x9e3779b1); 2: the weak sum of zeros (and of 4096
		 * spaces) with a strong sum that does not match, against a file of
		 * zeros: a strong sum at every offset unless the scan stops.
		 */
		if (kind == 2) {
			memset(data, 0, n);
			CHECK(pwrite(fd, data, n, 0) == (ssize_t)n);
		}
		for (uint32_t i = 0; i < n_sigs; i++) {
			uint8_t *s = sig + (size_t)i * (4 + slen);

			pqx_store32_be(s, kind == 0 ? xb_weak_key(w0, 4) : kind == 1 ? i * 0x0e8b2f51u : 0);
			s[4] = (uint8_t)i;
			s[5] = (uint8_t)(i >> 8) ^ 0x5a;
		}
		if ((t = xb_table_new(len, 4, slen, sig, n_sigs)) == NULL) {
			CHECK(0, "table");
			goto out;
		}
		f->n = 0;
		CHECK(xb_scan(t, h, NULL, fd, n, io, IO_CAP, note, f) == 0);
		CHECK(xb_table_work(t) <= 8 * (uint64_t)n, "kind %d: %llu steps for %zu bytes", kind,
		    (unsigned long long)xb_table_work(t), n);
		xb_table_free(t);
	}
out:
	if (fd >= 0)
		close(fd);
	free(data);
	free(sig);
	free(f);
}

int main(void)
{
	static const uint8_t key[32] = { 1 };

	if ((h = pqx_hmac_new(key, sizeof(key))) == NULL || (io = malloc(IO_CAP)) == NULL)
		return 2;
	t_run("blocks: block and strong sum sizes", test_sizes);
	t_run("blocks: every block found is where it is said to be, found at any offset", test_scan);
	t_run("blocks: sums a hostile peer chooses cost no more than a few steps per byte", test_hostile_sums);
	pqx_hmac_free(h);
	free(io);
	return t_done();
}
