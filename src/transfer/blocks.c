/* pqx: fixed-block matching against the receiver's old version (rsync's weak and strong sums). */
#include <stdlib.h>
#include <string.h>

#include <pqx/common.h>

#include "transfer/blocks.h"
#include "transfer/content.h"
#include "util/util.h"

uint32_t xb_block_len(uint64_t old_size, int raw)
{
	uint64_t r = 0, bit = (uint64_t)1 << 62;

	/* The integer square root, then up to a multiple of 64 within bounds. */
	while (bit > old_size)
		bit >>= 2;
	while (bit != 0) {
		if (old_size >= r + bit) {
			old_size -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	r = (r + 63) & ~(uint64_t)63;
	if (r < (raw ? XB_BLOCK_MIN : XB_BLOCK_MIN_Z))
		r = raw ? XB_BLOCK_MIN : XB_BLOCK_MIN_Z;
	return r > XB_BLOCK_MAX ? XB_BLOCK_MAX : (uint32_t)r;
}

uint64_t xb_run_bytes(const struct xb_geom *g, uint32_t first, uint32_t n)
{
	uint64_t m = (uint64_t)n * g->len;

	return g->tail > 0 && first + (uint64_t)n > g->count ? m - (g->len - g->tail) : m;
}

uint32_t xb_weak(const uint8_t *p, size_t n)
{
	uint32_t a = 0, b = 0;

	for (size_t i = 0; i < n; i++) {
		a += p[i];
		b += a;
	}
	return (a & 0xffff) | (b << 16);
}

static uint32_t log2_up(uint64_t v)
{
	uint32_t l = 0;

	while (l < 64 && ((uint64_t)1 << l) < v)
		l++;
	return l;
}

void xb_sig_lens(uint64_t size, uint64_t old_size, uint32_t count, uint32_t *weak_len,
    uint32_t *strong_len)
{
	uint32_t bits = log2_up(size) + log2_up(count) + XB_MARGIN, wl, len;

	/*
	 * Weak sums that agree by chance cost the sender a strong sum each:
	 * about size * old_size / 2^(8 * weak_len) bytes hashed in all. Three
	 * bytes keep that within a MiB.
	 */
	wl = log2_up(size) + log2_up(old_size) <= 44 ? 3 : 4;
	len = bits > 8 * wl ? (bits - 8 * wl + 7) / 8 : 0;
	if (len < XB_STRONG_MIN)
		len = XB_STRONG_MIN;
	*weak_len = wl;
	*strong_len = len > XB_STRONG_MAX ? XB_STRONG_MAX : len;
}

uint32_t xb_weak_key(uint32_t w, uint32_t weak_len)
{
	return (uint32_t)(w * 0x9e3779b1u) >> (32 - 8 * weak_len);
}

int xb_strong(pqx_hmac *h, uint8_t *out, size_t len, const uint8_t *p, size_t n)
{
	uint8_t mac[32];
	int r;

	if ((r = pqx_hmac_mac(h, mac, p, n)) == 0)
		memcpy(out, mac, len);
	pqx_wipe(mac, sizeof(mac));
	return r;
}

struct xb_table {
	uint32_t block_len, count, mask, wlen, slen, sig; /* weak and strong lengths, signature bytes */
	uint32_t mul, shift;                        /* the slot hash: a random odd multiplier */
	uint64_t probes;                            /* slots looked at, and strong sums computed */
	uint64_t wasted, budget;                    /* bytes hashed for strong sums that differed */
	const uint8_t *sigs; /* the message's: count x (weak, strong) */
	uint32_t *slot;      /* open addressing by weak sum: index + 1, 0 empty */
};

uint32_t xb_key_get(const uint8_t *p, uint32_t weak_len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < weak_len; i++)
		v = v << 8 | p[i];
	return v;
}

void xb_key_put(uint8_t *p, uint32_t key, uint32_t weak_len)
{
	for (uint32_t i = 0; i < weak_len; i++)
		p[i] = (uint8_t)(key >> (8 * (weak_len - 1 - i)));
}

static uint32_t getw(const struct xb_table *t, const uint8_t *p)
{
	return xb_key_get(p, t->wlen);
}

/*
 * A slot for a weak sum. The peer chooses the sums: with a fixed hash it
 * could fill one long run of slots and make every lookup walk it, so the
 * multiplier is random per table.
 */
static uint32_t spread(const struct xb_table *t, uint32_t w)
{
	return (w * t->mul) >> t->shift; /* multiply-shift: the top bits depend on all of w */
}

struct xb_table *xb_table_new(uint32_t block_len, uint32_t weak_len, uint32_t strong_len,
    const uint8_t *sigs, uint32_t count)
{
	struct xb_table *t = pqx_calloc(1, sizeof(*t));
	uint32_t size = 16, shift = 28;

	if (t == NULL)
		return NULL;
	/* An eighth full: most offsets of the file, matching nothing, look at one empty slot. */
	while (size < 8 * count) {
		size *= 2;
		shift--;
	}
	t->shift = shift;
	if ((t->slot = pqx_calloc(size, sizeof(*t->slot))) == NULL) {
		pqx_free(t);
		return NULL;
	}
	t->block_len = block_len;
	t->wlen = weak_len;
	t->slen = strong_len;
	t->sig = weak_len + strong_len;
	t->count = count;
	t->mask = size - 1;
	t->sigs = sigs;
	if (pqx_randombytes((uint8_t *)&t->mul, sizeof(t->mul)) != 0) {
		xb_table_free(t);
		return NULL;
	}
	t->mul |= 1;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *s = sigs + (size_t)i * t->sig;
		uint32_t w = getw(t, s), j = spread(t, w) & t->mask, same = 0;

		/*
		 * A block equal to an earlier one (zeros, padding) adds nothing,
		 * nor does one more with a weak sum that XB_SAME blocks already
		 * have: the peer could send thousands, making each lookup long.
		 */
		for (; t->slot[j] != 0; j = (j + 1) & t->mask) {
			const uint8_t *o = sigs + (size_t)(t->slot[j] - 1) * t->sig;

			if (getw(t, o) == w && (++same >= XB_SAME || memcmp(o, s, t->sig) == 0))
				break;
		}
		if (t->slot[j] == 0)
			t->slot[j] = i + 1;
	}
	return t;
}

uint64_t xb_table_work(const struct xb_table *t)
{
	return t->probes;
}

void xb_table_free(struct xb_table *t)
{
	if (t == NULL)
		return;
	pqx_free(t->slot);
	pqx_free(t);
}

/*
 * The block with this weak key whose strong sum matches p's, preferring
 * want (the one after the last match: runs stay runs); -1 if none.
 */
static int64_t lookup(struct xb_table *t, pqx_hmac *h, uint32_t w, const uint8_t *p, uint32_t want,
    int *err)
{
	uint8_t strong[XB_STRONG_MAX];
	int64_t found = -1;
	int have = 0;

	for (uint32_t j = spread(t, w) & t->mask; t->slot[j] != 0; j = (j + 1) & t->mask) {
		const uint8_t *s = t->sigs + (size_t)(t->slot[j] - 1) * t->sig;

		t->probes++;
		if (getw(t, s) != w)
			continue;
		if (!have) {
			t->probes += t->block_len / 64; /* a strong sum: about one step per 64 bytes */
			if ((*err = xb_strong(h, strong, t->slen, p, t->block_len)) != 0)
				return -1;
			have = 1;
		}
		if (memcmp(s + t->wlen, strong, t->slen) == 0) {
			found = t->slot[j] - 1;
			break;
		}
	}
	if (have && found < 0)
		t->wasted += t->block_len;
	/* The next block of the old version is worth one more compare. */
	if (found >= 0 && (uint32_t)found != want && want < t->count &&
	    memcmp(t->sigs + (size_t)want * t->sig,
		t->sigs + (size_t)found * t->sig, t->sig) == 0)
		found = want;
	return found;
}

int xb_scan(struct xb_table *t, pqx_hmac *h, pqx_hmac *whole, int fd, uint64_t size, uint8_t *buf,
    size_t cap, int (*match)(void *ctx, uint64_t off, uint32_t index), void *ctx)
{
	const uint32_t L = t->block_len;
	uint64_t pos = 0, bstart = 0, bend = 0; /* buf holds the file's [bstart, bend) */
	uint32_t a = 0, b = 0, want = 0;
	int have = 0, r, err = 0;

	if (cap < 2 * (size_t)XB_BLOCK_MAX || L < XB_BLOCK_MIN || L > XB_BLOCK_MAX)
		return PQX_ERR_INTERNAL;
	/*
	 * Weak sums agree more often than chance on some data (zeros and a run
	 * of spaces share one) and the peer chooses them: once strong sums
	 * that differed have cost twice the file's bytes in hashing, stop
	 * looking (the rest crosses as data).
	 */
	t->wasted = 0;
	t->budget = 2 * size + ((uint64_t)1 << 20);
	for (;;) {
		/* The window [pos, pos + L] (one byte more to roll into) in the buffer. */
		uint64_t need = pos + L + 1 <= size ? pos + L + 1 : size;

		if (need > bend) {
			size_t keep = (size_t)(bend - pos), n;

			memmove(buf, buf + (pos - bstart), keep);
			bstart = pos;
			n = size - bend < cap - keep ? (size_t)(size - bend) : cap - keep;
			if ((r = xc_pread_all(fd, buf + keep, n, bend)) != 0)
				return r;
			if (whole != NULL && (r = pqx_hmac_update(whole, buf + keep, n)) != 0)
				return r;
			bend += n;
		}
		if (pos + L > size || t->wasted > t->budget)
			break;
		const uint8_t *p = buf + (pos - bstart);

		if (!have) {
			uint32_t s = xb_weak(p, L);

			a = s & 0xffff;
			b = s >> 16;
			have = 1;
		}
		int64_t i = lookup(t, h, xb_weak_key((a & 0xffff) | (b << 16), t->wlen), p, want, &err);

		if (err != 0)
			return err;
		if (i >= 0) {
			if ((r = match(ctx, pos, (uint32_t)i)) != 0)
				return r;
			want = (uint32_t)i + 1;
			pos += L;
			have = 0;
			continue;
		}
		if (pos + L == size)
			break;
		/* Roll one byte on. */
		a = (a - p[0] + p[L]) & 0xffff;
		b = (b - L * p[0] + a) & 0xffff;
		pos++;
	}
	/* The tail no block covers is still part of the file hash. */
	while (whole != NULL && bend < size) {
		size_t n = size - bend < cap ? (size_t)(size - bend) : cap;

		if ((r = xc_pread_all(fd, buf, n, bend)) != 0 || (r = pqx_hmac_update(whole, buf, n)) != 0)
			return r;
		bend += n;
	}
	return 0;
}
