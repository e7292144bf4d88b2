/* pqx: a keyed FastCDC content-defined chunker (gear hash, normalized chunking). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <pqx/sha3.h>

#include "crypto/hmac_mb.h"
#include "crypto/ossl.h"
#include "transfer/chunker.h"
#include "util/util.h"

struct pqx_chunker {
	uint64_t gear[256];               /* key-derived: wiped on free */
	pqx_hmac *idh;                    /* keyed with the id key */
	pqx_hmac_mb_key *idmb;            /* the same, for many chunks at once; NULL: none here */
	uint64_t mask_s;                  /* before the average size */
	uint64_t mask_l;                  /* from the average size on */
	size_t skip;                      /* min - 1: bytes never hashed */
	size_t avg, max;
	/* The stream state: O(1) whatever the stream. */
	uint64_t h; /* gear hash of this chunk so far */
	size_t pos; /* bytes since the last cut */
};

static const char gear_label[] = "pqx gear";
static const char id_label[] = "pqx chunk id";

int pqx_chunker_params_ok(size_t min, size_t avg, size_t max)
{
	if (avg < PQX_CHUNKER_AVG_MIN_LIMIT || avg > PQX_CHUNKER_AVG_MAX_LIMIT ||
	    (avg & (avg - 1)) != 0)
		return 0;
	return min >= PQX_CHUNKER_MIN_LIMIT && min <= avg && avg <= max &&
	       max <= PQX_CHUNKER_MAX_LIMIT;
}

static unsigned int log2_pow2(size_t v)
{
	unsigned int b = 0;

	while (v > 1) {
		v >>= 1;
		b++;
	}
	return b;
}

pqx_chunker *pqx_chunker_new(
    const uint8_t key[PQX_CHUNKER_KEY_BYTES], size_t min, size_t avg, size_t max)
{
	pqx_chunker *c = NULL, *ret = NULL;
	uint8_t in[PQX_CHUNKER_KEY_BYTES + sizeof(gear_label) - 1];
	uint8_t table[256 * 8], id_key[PQX_SHA256_BYTES];
	unsigned int bits;

	if (key == NULL || !pqx_chunker_params_ok(min, avg, max))
		goto out;
	if ((c = pqx_malloc(sizeof(*c))) == NULL)
		goto out;
	memcpy(in, key, PQX_CHUNKER_KEY_BYTES);
	memcpy(in + PQX_CHUNKER_KEY_BYTES, gear_label, sizeof(gear_label) - 1);
	pqx_shake256(table, sizeof(table), in, sizeof(in));
	for (size_t i = 0; i < 256; i++)
		c->gear[i] = pqx_load64_le(table + 8 * i);
	/* A separate derivation: boundaries may teach an observer about the
	 * gear table, never about the id key. */
	c->idh = NULL;
	c->idmb = NULL;
	if (pqx_hkdf_sha256(id_key, sizeof(id_key), NULL, 0, key,
	        PQX_CHUNKER_KEY_BYTES, (const uint8_t *)id_label,
	        sizeof(id_label) - 1) != 0 ||
	    (c->idh = pqx_hmac_new(id_key, sizeof(id_key))) == NULL)
		goto out;
	c->idmb = pqx_hmac_mb_new(id_key, sizeof(id_key));
	/*
	 * The masks test the top bits of the hash: after the shift-and-add, bit
	 * 63 - k depends on the last 64 - k bytes, so the top bits have the
	 * widest window. 64 - (bits + 2) >= 40 by the limits on avg.
	 */
	bits = log2_pow2(avg);
	c->mask_s = ~(uint64_t)0 << (64 - (bits + 2));
	c->mask_l = ~(uint64_t)0 << (64 - (bits - 2));
	c->skip = min - 1;
	c->avg = avg;
	c->max = max;
	c->h = 0;
	c->pos = 0;
	ret = c;
	c = NULL;
out:
	pqx_wipe(in, sizeof(in));
	pqx_wipe(table, sizeof(table));
	pqx_wipe(id_key, sizeof(id_key));
	pqx_chunker_free(c);
	return ret;
}

void pqx_chunker_free(pqx_chunker *c)
{
	if (c == NULL)
		return;
	pqx_hmac_free(c->idh);
	pqx_hmac_mb_free(c->idmb);
	pqx_free_wipe(c, sizeof(*c));
}

void pqx_chunker_reset(pqx_chunker *c)
{
	c->h = 0;
	c->pos = 0;
}

size_t pqx_chunker_finish(pqx_chunker *c)
{
	size_t last = c->pos;

	pqx_chunker_reset(c);
	return last;
}

/*
 * Hashes p[*i..) until the chunk reaches limit bytes or the input ends;
 * returns 1 at a cut (the hash has no bit of mask set), with *i just past
 * the byte that cut and *pos the chunk length so far.
 */
static inline int scan(const uint64_t *g, const uint8_t *p, size_t n, size_t *ip, size_t *posp,
    size_t limit, uint64_t mask, uint64_t *hp)
{
	size_t i = *ip, run = limit - *posp, end;
	uint64_t h = *hp;
	int cut = 0;

	if (run > n - i)
		run = n - i;
	for (end = i + run; i < end;) {
		h = (h << 1) + g[p[i++]];
		if ((h & mask) == 0) {
			run -= end - i;
			cut = 1;
			break;
		}
	}
	*ip = i;
	*posp += run;
	*hp = h;
	return cut;
}

/*
 * Chunk positions count the bytes of the current chunk including the one
 * just hashed. Bytes that would end a chunk shorter than min are skipped
 * unhashed (the cut-point skip); so the first byte hashed ends a chunk of
 * exactly min bytes if it cuts. The hash restarts at 0 at each chunk, which
 * is what makes the split of the input into calls irrelevant, and the cuts
 * after a cut a function of the bytes after it alone.
 */
static size_t step(const pqx_chunker *c, uint64_t *hp, size_t *posp, const uint8_t *p, size_t n,
    size_t *chunk_len)
{
	uint64_t h = *hp;
	size_t pos = *posp, i = 0, run;

	*chunk_len = 0;
	if (pos < c->skip) {
		run = c->skip - pos;
		if (run > n)
			run = n;
		pos += run;
		i = run;
	}
	if (pos >= c->skip && pos < c->avg && scan(c->gear, p, n, &i, &pos, c->avg, c->mask_s, &h))
		goto cut;
	if (pos >= c->avg && pos < c->max && scan(c->gear, p, n, &i, &pos, c->max, c->mask_l, &h))
		goto cut;
	if (pos == c->max)
		goto cut;
	*hp = h;
	*posp = pos;
	return n;
cut:
	*chunk_len = pos;
	*hp = 0;
	*posp = 0;
	return i;
}

size_t pqx_chunker_update(pqx_chunker *c, const uint8_t *p, size_t n, size_t *chunk_len)
{
	return step(c, &c->h, &c->pos, p, n, chunk_len);
}

size_t pqx_chunker_cuts(const pqx_chunker *c, const uint8_t *p, size_t n, uint32_t *ends, size_t cap)
{
	uint64_t h = 0;
	size_t pos = 0, off = 0, k = 0, len;

	while (off < n && k < cap) {
		off += step(c, &h, &pos, p + off, n - off, &len);
		if (len != 0)
			ends[k++] = (uint32_t)off;
	}
	return k;
}

int pqx_chunker_split(
    pqx_chunker *c, const uint8_t *p, size_t n, size_t **lens, size_t *count)
{
	size_t *v = NULL, k = 0, off = 0, len, last;
	/* Every chunk but the last has at least min = skip + 1 bytes. */
	size_t cap = n / (c->skip + 1) + 1;
	int r = PQX_ERR_NOMEM;

	*lens = NULL;
	*count = 0;
	pqx_chunker_reset(c);
	if ((v = pqx_calloc(cap, sizeof(*v))) == NULL)
		goto out;
	while (off < n) {
		off += pqx_chunker_update(c, p + off, n - off, &len);
		if (len != 0)
			v[k++] = len;
	}
	if ((last = pqx_chunker_finish(c)) != 0)
		v[k++] = last;
	*lens = v;
	*count = k;
	v = NULL;
	r = 0;
out:
	pqx_chunker_reset(c);
	pqx_free(v); /* not secret */
	return r;
}

int pqx_chunker_id(pqx_chunker *c, uint8_t id[PQX_CHUNK_ID_BYTES],
    const uint8_t *chunk, size_t len)
{
	return pqx_hmac_mac(c->idh, id, chunk, len);
}

pqx_hmac *pqx_chunker_idh(pqx_chunker *c)
{
	return c->idh;
}

const pqx_hmac_mb_key *pqx_chunker_idmb(const pqx_chunker *c)
{
	return c->idmb;
}
