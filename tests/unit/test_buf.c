/* pqx tests: the bounds-checked buffer and the constant-time helpers in src/util. */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "util/buf.h"
#include "util/util.h"

static void test_put_get(void)
{
	pqx_buf *b = pqx_buf_new(64);
	uint8_t u8 = 0, out[4];
	uint16_t u16 = 0;
	uint32_t u32 = 0;
	uint64_t u64 = 0;

	CHECK(b != NULL);
	CHECK(pqx_buf_put_u8(b, 0x01) == 0);
	CHECK(pqx_buf_put_u16(b, 0x0203) == 0);
	CHECK(pqx_buf_put_u32(b, 0x04050607) == 0);
	CHECK(pqx_buf_put_u64(b, 0x08090a0b0c0d0e0fULL) == 0);
	CHECK(pqx_buf_put(b, "abcd", 4) == 0);
	CHECK(pqx_buf_len(b) == 19);
	CHECK(memcmp(pqx_buf_ptr(b), "\x01\x02\x03\x04\x05\x06\x07", 7) == 0, "big-endian layout");
	CHECK(pqx_buf_get_u8(b, &u8) == 0 && u8 == 0x01);
	CHECK(pqx_buf_get_u16(b, &u16) == 0 && u16 == 0x0203);
	CHECK(pqx_buf_get_u32(b, &u32) == 0 && u32 == 0x04050607);
	CHECK(pqx_buf_get_u64(b, &u64) == 0 && u64 == 0x08090a0b0c0d0e0fULL);
	CHECK(pqx_buf_expect_end(b) == PQX_ERR_TRAILING);
	CHECK(pqx_buf_get(b, out, 4) == 0 && memcmp(out, "abcd", 4) == 0);
	CHECK(pqx_buf_expect_end(b) == 0);
	pqx_buf_free(b);
	pqx_buf_free(NULL);
}

/* A short read fails, consumes nothing, and leaves outputs of other reads intact. */
static void test_truncated(void)
{
	const uint8_t data[3] = { 1, 2, 3 };
	pqx_buf v, sub;
	uint32_t u32 = 7;
	uint8_t out[8];
	size_t pos = 99;

	pqx_buf_view(&v, data, sizeof(data));
	CHECK(pqx_buf_get_u32(&v, &u32) == PQX_ERR_TRUNCATED && u32 == 7);
	CHECK(pqx_buf_len(&v) == 3, "nothing consumed");
	CHECK(pqx_buf_skip(&v, 4) == PQX_ERR_TRUNCATED);
	CHECK(pqx_buf_peek(&v, 2, out, 2) == PQX_ERR_TRUNCATED);
	CHECK(pqx_buf_peek(&v, SIZE_MAX, out, 2) == PQX_ERR_TRUNCATED, "offset overflow");
	CHECK(pqx_buf_peek(&v, 1, out, SIZE_MAX) == PQX_ERR_TRUNCATED, "length overflow");
	CHECK(pqx_buf_get_view(&v, 4, &sub) == PQX_ERR_TRUNCATED);
	CHECK(pqx_buf_get_view(&v, 2, &sub) == 0 && pqx_buf_len(&sub) == 2 && pqx_buf_len(&v) == 1);
	CHECK(pqx_buf_get(&sub, out, 2) == 0 && out[0] == 1 && out[1] == 2);
	CHECK(pqx_buf_get(&sub, out, 1) == PQX_ERR_TRUNCATED, "a view ends where it ends");
	CHECK(pqx_buf_find(&v, 9, &pos) == PQX_ERR_TRUNCATED && pos == 99);
	CHECK(pqx_buf_find(&v, 3, &pos) == 0 && pos == 0);
	CHECK(pqx_buf_put_u8(&v, 1) == PQX_ERR_INVALID_ARG, "views are read-only");
}

static void test_limit(void)
{
	pqx_buf *b = pqx_buf_new(1000);
	uint8_t big[600] = { 0 }, *p;

	CHECK(pqx_buf_put(b, big, 600) == 0);
	CHECK(pqx_buf_put(b, big, 401) == PQX_ERR_LIMIT);
	CHECK(pqx_buf_reserve(b, SIZE_MAX, &p) == PQX_ERR_LIMIT, "no overflow in size + n");
	CHECK(pqx_buf_put(b, big, 400) == 0);
	CHECK(pqx_buf_len(b) == 1000);
	CHECK(pqx_buf_put_u8(b, 0) == PQX_ERR_LIMIT);
	pqx_buf_reset(b);
	CHECK(pqx_buf_len(b) == 0);
	pqx_buf_free(b);
}

/* Found by fuzz_age_header: an empty buffer has no memory, and NULL + 0 is undefined. */
static void test_empty(void)
{
	pqx_buf *b = pqx_buf_new(16), sub;
	uint8_t *p = (uint8_t *)1;

	CHECK(b != NULL);
	CHECK(pqx_buf_put(b, "", 0) == 0 && pqx_buf_len(b) == 0);
	CHECK(pqx_buf_reserve(b, 0, &p) == 0);
	CHECK(pqx_buf_ptr(b) != NULL);
	CHECK(pqx_buf_get_view(b, 0, &sub) == 0 && pqx_buf_len(&sub) == 0);
	pqx_buf_free(b);
}

static int fail_always(void)
{
	return 1;
}

static void test_alloc_failure(void)
{
	pqx_buf *b = pqx_buf_new(100);

	CHECK(b != NULL);
	pqx_test_set_alloc_fault(fail_always);
	CHECK(pqx_buf_new(10) == NULL);
	CHECK(pqx_buf_put_u32(b, 1) == PQX_ERR_NOMEM);
	CHECK(pqx_buf_len(b) == 0, "nothing written on failure");
	pqx_test_set_alloc_fault(NULL);
	CHECK(pqx_buf_put_u32(b, 1) == 0);
	pqx_buf_free(b);
}

static void test_ct_helpers(void)
{
	uint8_t a[33], b[33], z[33] = { 0 };

	t_rand(a, sizeof(a));
	memcpy(b, a, sizeof(b));
	CHECK(pqx_ct_memeq(a, b, sizeof(a)) == 1);
	CHECK(pqx_ct_memeq(a, b, 0) == 1);
	for (size_t i = 0; i < sizeof(a); i++)
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1 << bit);
			CHECK(pqx_ct_memeq(a, b, sizeof(a)) == 0, "byte %zu bit %d", i, bit);
			b[i] ^= (uint8_t)(1 << bit);
		}
	CHECK(pqx_ct_is_zero(z, sizeof(z)) == 1);
	z[32] = 0x80;
	CHECK(pqx_ct_is_zero(z, sizeof(z)) == 0);
	memcpy(b, a, sizeof(b));
	pqx_ct_cmov(b, z, sizeof(b), 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0, "cmov 0 keeps");
	pqx_ct_cmov(b, z, sizeof(b), 1);
	CHECK(memcmp(z, b, sizeof(z)) == 0, "cmov 1 copies");
}

static void test_strerror(void)
{
	for (int e = 0; e >= PQX_ERR_UNSUPPORTED; e--)
		CHECK(strcmp(pqx_strerror(e), "unknown error") != 0, "code %d has a message", e);
	CHECK(strcmp(pqx_strerror(-999), "unknown error") == 0);
}

int main(void)
{
	t_run("buf put/get big-endian", test_put_get);
	t_run("buf truncated reads and views", test_truncated);
	t_run("buf size limit", test_limit);
	t_run("buf allocation failure", test_alloc_failure);
	t_run("buf empty: no NULL pointer arithmetic", test_empty);
	t_run("ct memeq/is_zero/cmov", test_ct_helpers);
	t_run("strerror covers every code", test_strerror);
	return t_done();
}
