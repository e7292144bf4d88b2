/* pqx: the bounds-checked byte buffer. */
#include <string.h>

#include "util/buf.h"
#include "util/util.h"

pqx_buf *pqx_buf_new(size_t max)
{
	pqx_buf *b;

	if ((b = pqx_calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max = max;
	b->owned = 1;
	return b;
}

void pqx_buf_free(pqx_buf *b)
{
	if (b == NULL || !b->owned)
		return;
	pqx_free_wipe(b->d, b->alloc);
	pqx_free_wipe(b, sizeof(*b));
}

void pqx_buf_view(pqx_buf *b, const uint8_t *p, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->d = (uint8_t *)(uintptr_t)p; /* never written: readonly */
	b->size = b->alloc = b->max = n;
	b->readonly = 1;
}

void pqx_buf_reset(pqx_buf *b)
{
	/*
	 * Every byte written lies below size (all writes go through reserve,
	 * and growing wipes the old block): wiping the allocation would cost
	 * a 1 MiB record buffer's worth for every small message.
	 */
	if (!b->readonly && b->d != NULL)
		pqx_wipe(b->d, b->size);
	b->off = b->size = 0;
}

size_t pqx_buf_len(const pqx_buf *b)
{
	return b->size - b->off;
}

const uint8_t *pqx_buf_ptr(const pqx_buf *b)
{
	static const uint8_t empty[1];

	/* An empty buffer may have no memory yet: NULL + 0 is undefined in C. */
	return b->d == NULL ? empty : b->d + b->off;
}

int pqx_buf_peek(const pqx_buf *b, size_t off, void *out, size_t n)
{
	size_t len = pqx_buf_len(b);

	if (off > len || n > len - off)
		return PQX_ERR_TRUNCATED;
	if (n > 0)
		memcpy(out, b->d + b->off + off, n);
	return 0;
}

int pqx_buf_skip(pqx_buf *b, size_t n)
{
	if (n > pqx_buf_len(b))
		return PQX_ERR_TRUNCATED;
	b->off += n;
	return 0;
}

int pqx_buf_get(pqx_buf *b, void *out, size_t n)
{
	int r;

	if ((r = pqx_buf_peek(b, 0, out, n)) != 0)
		return r;
	b->off += n;
	return 0;
}

int pqx_buf_get_u8(pqx_buf *b, uint8_t *v)
{
	return pqx_buf_get(b, v, 1);
}

int pqx_buf_get_u16(pqx_buf *b, uint16_t *v)
{
	uint8_t t[2];
	int r;

	if ((r = pqx_buf_get(b, t, sizeof(t))) == 0)
		*v = pqx_load16_be(t);
	return r;
}

int pqx_buf_get_u32(pqx_buf *b, uint32_t *v)
{
	uint8_t t[4];
	int r;

	if ((r = pqx_buf_get(b, t, sizeof(t))) == 0)
		*v = pqx_load32_be(t);
	return r;
}

int pqx_buf_get_u64(pqx_buf *b, uint64_t *v)
{
	uint8_t t[8];
	int r;

	if ((r = pqx_buf_get(b, t, sizeof(t))) == 0)
		*v = pqx_load64_be(t);
	return r;
}

int pqx_buf_get_view(pqx_buf *b, size_t n, pqx_buf *sub)
{
	if (n > pqx_buf_len(b))
		return PQX_ERR_TRUNCATED;
	pqx_buf_view(sub, pqx_buf_ptr(b), n);
	b->off += n;
	return 0;
}

int pqx_buf_find(const pqx_buf *b, uint8_t c, size_t *pos)
{
	const uint8_t *p = memchr(pqx_buf_ptr(b), c, pqx_buf_len(b));

	if (p == NULL)
		return PQX_ERR_TRUNCATED;
	*pos = (size_t)(p - pqx_buf_ptr(b));
	return 0;
}

int pqx_buf_expect_end(const pqx_buf *b)
{
	return pqx_buf_len(b) == 0 ? 0 : PQX_ERR_TRAILING;
}

int pqx_buf_reserve(pqx_buf *b, size_t n, uint8_t **p)
{
	size_t need, nalloc;
	uint8_t *nd;

	if (b->readonly)
		return PQX_ERR_INVALID_ARG;
	if (n > b->max - b->size)
		return PQX_ERR_LIMIT;
	if (n == 0 && b->d == NULL) {
		*p = NULL; /* nothing to write, and no memory yet */
		return 0;
	}
	need = b->size + n;
	if (need > b->alloc) {
		/* Grow geometrically, capped at max; copy then wipe the old block. */
		nalloc = b->alloc < 256 ? 256 : b->alloc;
		while (nalloc < need)
			nalloc = nalloc > b->max / 2 ? b->max : nalloc * 2;
		if (nalloc > b->max)
			nalloc = b->max;
		if ((nd = pqx_malloc(nalloc)) == NULL)
			return PQX_ERR_NOMEM;
		if (b->size > 0)
			memcpy(nd, b->d, b->size);
		pqx_free_wipe(b->d, b->alloc);
		b->d = nd;
		b->alloc = nalloc;
	}
	*p = b->d + b->size;
	b->size += n;
	return 0;
}

int pqx_buf_put(pqx_buf *b, const void *data, size_t n)
{
	uint8_t *p;
	int r;

	if ((r = pqx_buf_reserve(b, n, &p)) != 0)
		return r;
	if (n > 0)
		memcpy(p, data, n);
	return 0;
}

int pqx_buf_put_u8(pqx_buf *b, uint8_t v)
{
	return pqx_buf_put(b, &v, 1);
}

int pqx_buf_put_u16(pqx_buf *b, uint16_t v)
{
	uint8_t t[2];

	pqx_store16_be(t, v);
	return pqx_buf_put(b, t, sizeof(t));
}

int pqx_buf_put_u32(pqx_buf *b, uint32_t v)
{
	uint8_t t[4];

	pqx_store32_be(t, v);
	return pqx_buf_put(b, t, sizeof(t));
}

int pqx_buf_put_u64(pqx_buf *b, uint64_t v)
{
	uint8_t t[8];

	pqx_store64_be(t, v);
	return pqx_buf_put(b, t, sizeof(t));
}
