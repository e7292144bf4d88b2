/* pqx tests: the keyed FastCDC chunker in src/transfer/chunker.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pqx/sha3.h>

#include "crypto/ossl.h"
#include "harness.h"
#include "transfer/chunker.h"
#include "util/util.h"

#define MIN PQX_CHUNKER_MIN_DEFAULT
#define AVG PQX_CHUNKER_AVG_DEFAULT
#define MAX PQX_CHUNKER_MAX_DEFAULT
#define MIB ((size_t)1 << 20)

static const uint8_t key1[32] = {1};
static const uint8_t key2[32] = {2};

/* Bulk test data: splitmix64 seeded from t_rand (cheap, even under ASan). */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
	return (size_t)(rng_next() % n);
}

static uint8_t *random_buf(size_t n)
{
	uint8_t seed[8], *p = malloc(n ? n : 1);

	t_rand(seed, sizeof(seed));
	rng_state = pqx_load64_le(seed);
	for (size_t i = 0; p != NULL && i < n; i++)
		p[i] = (uint8_t)(rng_next() >> 56);
	return p;
}

static size_t *split(pqx_chunker *c, const uint8_t *p, size_t n, size_t *count)
{
	size_t *lens = NULL;

	if (pqx_chunker_split(c, p, n, &lens, count) != 0)
		return NULL;
	return lens;
}

/* Checks that lens sum to n and all but the last lie in [min, max]. */
static void check_sizes(
    const size_t *lens, size_t count, size_t n, size_t min, size_t max)
{
	size_t sum = 0;

	for (size_t i = 0; i < count; i++) {
		CHECK(lens[i] >= 1 && lens[i] <= max, "chunk %zu: %zu bytes", i, lens[i]);
		if (i + 1 < count)
			CHECK(lens[i] >= min, "chunk %zu: %zu bytes < min", i, lens[i]);
		sum += lens[i];
	}
	CHECK(sum == n, "lengths sum to %zu, not %zu", sum, n);
}

/* Streams p in pieces whose sizes come from next_piece; returns the lengths. */
static size_t *stream(
    pqx_chunker *c, const uint8_t *p, size_t n, size_t maxpiece, size_t *count)
{
	size_t *lens = calloc(n / MIN + 2, sizeof(*lens)), k = 0, off = 0, len, last;

	if (lens == NULL)
		return NULL;
	while (off < n) {
		size_t piece = maxpiece == 1 ? 1 : 1 + rng_below(maxpiece);

		if (piece > n - off)
			piece = n - off;
		for (size_t used = 0; used < piece;) {
			size_t u =
			    pqx_chunker_update(c, p + off + used, piece - used, &len);

			if (u < piece - used)
				CHECK(len != 0 && u >= 1, "a short return is a cut");
			if (len != 0)
				lens[k++] = len;
			used += u;
		}
		off += piece;
	}
	if ((last = pqx_chunker_finish(c)) != 0)
		lens[k++] = last;
	*count = k;
	return lens;
}

static void test_params(void)
{
	static const struct {
		size_t min, avg, max;
		int ok;
	} v[] = {
	    {MIN, AVG, MAX, 1}, {64, 256, 256, 1}, {256, 256, 256, 1},
	    {1u << 20, 1u << 22, 1u << 24, 1}, {63, 256, 1024, 0}, /* min too small */
	    {MIN, 8000, MAX, 0},           /* avg not a power of two */
	    {MIN, 128, MAX, 0},            /* avg too small */
	    {MIN, 1u << 23, 1u << 24, 0},  /* avg too large */
	    {4096, 2048, MAX, 0},          /* min > avg */
	    {MIN, AVG, 4096, 0},           /* max < avg */
	    {MIN, AVG, (1u << 24) + 1, 0}, /* max too large */
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		pqx_chunker *c = pqx_chunker_new(key1, v[i].min, v[i].avg, v[i].max);

		CHECK(pqx_chunker_params_ok(v[i].min, v[i].avg, v[i].max) == v[i].ok,
		    "row %zu", i);
		CHECK((c != NULL) == v[i].ok, "row %zu", i);
		pqx_chunker_free(c);
	}
	CHECK(pqx_chunker_new(NULL, MIN, AVG, MAX) == NULL);
	pqx_chunker_free(NULL);
}

static void test_deterministic_and_bounds(void)
{
	const size_t n = 4 * MIB;
	uint8_t *p = random_buf(n);
	pqx_chunker *a = pqx_chunker_new(key1, MIN, AVG, MAX);
	pqx_chunker *b = pqx_chunker_new(key1, MIN, AVG, MAX);
	size_t ca = 0, cb = 0, cc = 0, *la, *lb, *lc;

	CHECK(p != NULL && a != NULL && b != NULL);
	la = split(a, p, n, &ca);
	lb = split(b, p, n, &cb);
	lc = split(a, p, n, &cc);
	CHECK(la != NULL && lb != NULL && lc != NULL);
	if (la != NULL && lb != NULL && lc != NULL) {
		CHECK(ca == cb && ca == cc && ca > 1);
		CHECK(memcmp(la, lb, ca * sizeof(*la)) == 0, "two chunkers, one key");
		CHECK(memcmp(la, lc, ca * sizeof(*la)) == 0, "one chunker, twice");
		check_sizes(la, ca, n, MIN, MAX);
	}
	pqx_free(la);
	pqx_free(lb);
	pqx_free(lc);
	pqx_chunker_free(a);
	pqx_chunker_free(b);
	free(p);
}

/* The streaming API gives the one-shot boundaries whatever the split. */
static void test_streaming(void)
{
	const size_t n = 2 * MIB;
	uint8_t *p = random_buf(n);
	pqx_chunker *c = pqx_chunker_new(key1, MIN, AVG, MAX);
	size_t c1 = 0, c2 = 0, *ref, *got;
	static const size_t pieces[] = {1, 7, 100, 2047, 2048, 4096, 70000, 1u << 20};

	CHECK(p != NULL && c != NULL);
	ref = split(c, p, n, &c1);
	CHECK(ref != NULL);
	for (size_t t = 0; ref != NULL && t < sizeof(pieces) / sizeof(pieces[0]); t++) {
		got = stream(c, p, n, pieces[t], &c2);
		CHECK(got != NULL && c2 == c1, "pieces up to %zu: %zu chunks, not %zu",
		    pieces[t], c2, c1);
		if (got != NULL && c2 == c1)
			CHECK(memcmp(ref, got, c1 * sizeof(*ref)) == 0,
			    "pieces up to %zu", pieces[t]);
		free(got);
	}
	pqx_free(ref);
	pqx_chunker_free(c);
	free(p);
}

/*
 * pqx_chunker_cuts: the one-shot split's cuts, without the stream state
 * (the last, unfinished chunk left out; at most cap); and from any offset,
 * once it shares a cut with the stream from 0 it shares every later one,
 * which is what lets xfer_tree_file guess a batch's cuts on its own.
 */
static void test_cuts(void)
{
	const size_t n = 2 * MIB;
	uint8_t *p = random_buf(n);
	pqx_chunker *c = pqx_chunker_new(key1, MIN, AVG, MAX);
	size_t count = 0, *ref = NULL, k, cap = n / MIN + 1;
	uint32_t *ends = malloc(cap * sizeof(*ends)), *from = malloc(cap * sizeof(*from));

	CHECK(p != NULL && c != NULL && ends != NULL && from != NULL);
	if (p == NULL || c == NULL || ends == NULL || from == NULL)
		goto out;
	memset(p + MIB, 0, 300000); /* cut at the maximum only, in the middle */
	ref = split(c, p, n, &count);
	CHECK(ref != NULL && count > 2);
	if (ref == NULL || count <= 2)
		goto out;
	k = pqx_chunker_cuts(c, p, n, ends, cap);
	CHECK(k == count - 1 || k == count, "%zu cuts for %zu chunks", k, count);
	for (size_t i = 0, end = 0; i < k && i < count; i++) {
		end += ref[i];
		CHECK(ends[i] == end, "cut %zu at %u, not %zu", i, ends[i], end);
	}
	CHECK(pqx_chunker_cuts(c, p, n, ends, 3) == 3);
	CHECK(pqx_chunker_cuts(c, p, 0, ends, cap) == 0 && pqx_chunker_cuts(c, p, MIN - 1, ends, cap) == 0);
	/* It did not touch the stream: a split after it is the same. */
	{
		size_t again = 0, *v = split(c, p, n, &again);

		CHECK(v != NULL && again == count && memcmp(v, ref, count * sizeof(*v)) == 0);
		pqx_free(v);
	}
	for (int t = 0; t < 200; t++) {
		size_t off = rng_below(n - 1) + 1, m = pqx_chunker_cuts(c, p + off, n - off, from, cap);
		size_t i = 0, j = 0;

		/* The first cut both have; after it, the same cuts. */
		while (i < k && j < m && ends[i] != off + from[j]) {
			if (ends[i] < off + from[j])
				i++;
			else
				j++;
		}
		if (off + 4 * MAX < MIB) /* random bytes ahead: in step within a few chunks */
			CHECK(i < k && j < m && ends[i] - off <= 4 * MAX, "from %zu: not in step", off);
		for (; i < k && j < m; i++, j++)
			CHECK(ends[i] == off + from[j], "from %zu: cut %zu at %zu, not %u", off, j,
			    off + from[j], ends[i]);
		CHECK(i == k || j == m);
	}
out:
	pqx_free(ref);
	pqx_chunker_free(c);
	free(ends);
	free(from);
	free(p);
}

struct chunk {
	size_t off, len;
	uint8_t id[PQX_CHUNK_ID_BYTES];
};

static struct chunk *chunks_of(pqx_chunker *c, const uint8_t *p, size_t n, size_t *count)
{
	size_t *lens = split(c, p, n, count), off = 0;
	struct chunk *v = lens ? calloc(*count + 1, sizeof(*v)) : NULL;

	for (size_t i = 0; v != NULL && i < *count; i++) {
		v[i].off = off;
		v[i].len = lens[i];
		if (pqx_chunker_id(c, v[i].id, p + off, lens[i]) != 0) {
			free(v);
			v = NULL;
			break;
		}
		off += lens[i];
	}
	pqx_free(lens);
	return v;
}

/* An edit moves only the boundaries near it. */
static void test_stability(void)
{
	const size_t n = 4 * MIB;
	uint8_t *p = random_buf(n), *q = malloc(n + 64);
	pqx_chunker *c = pqx_chunker_new(key1, MIN, AVG, MAX);
	size_t co = 0, worst = 0, resync_max = 0;
	struct chunk *orig = NULL;

	CHECK(p != NULL && q != NULL && c != NULL);
	if (p == NULL || q == NULL || c == NULL)
		goto out;
	orig = chunks_of(c, p, n, &co);
	CHECK(orig != NULL);
	for (int t = 0; orig != NULL && t < 16; t++) {
		size_t at = rng_below(n - 64), k = 1 + rng_below(16), m, ce = 0, same = 0;
		int insert = t % 2 == 0;
		long shift = insert ? (long)k : -(long)k;
		struct chunk *ed;

		memcpy(q, p, at);
		if (insert) {
			for (size_t i = 0; i < k; i++)
				q[at + i] = (uint8_t)rng_next();
			memcpy(q + at + k, p + at, n - at);
			m = n + k;
		} else {
			memcpy(q + at, p + at + k, n - at - k);
			m = n - k;
		}
		ed = chunks_of(c, q, m, &ce);
		CHECK(ed != NULL);
		if (ed == NULL)
			break;
		/* Walk both lists, matching chunks by position (shifted past the edit)
		 * and id. */
		for (size_t i = 0, j = 0; i < co; i++) {
			size_t want = orig[i].off >= at + k
			                  ? (size_t)((long)orig[i].off + shift)
			                  : orig[i].off;
			int far = orig[i].off + orig[i].len + MAX <= at ||
			          orig[i].off >= at + 2 * MAX;
			int found = 0;

			while (j > 0 && ed[j - 1].off >= want)
				j--;
			while (j < ce && ed[j].off < want)
				j++;
			if (orig[i].off + orig[i].len <= at || orig[i].off >= at + k)
				found =
				    j < ce && ed[j].off == want &&
				    ed[j].len == orig[i].len &&
				    memcmp(ed[j].id, orig[i].id, PQX_CHUNK_ID_BYTES) == 0;
			same += (size_t)found;
			if (!found && orig[i].off > at && orig[i].off - at > resync_max)
				resync_max = orig[i].off - at;
			CHECK(found || !far, "edit %d at %zu: chunk %zu at %zu lost", t,
			    at, i, orig[i].off);
		}
		CHECK(
		    same * 10 >= co * 9, "edit %d: %zu of %zu chunks kept", t, same, co);
		if (co - same > worst)
			worst = co - same;
		free(ed);
	}
	printf("# stability: %zu chunks, at most %zu changed per edit, lost chunks start "
	       "at most %zu bytes past the edit\n",
	    co, worst, resync_max);
out:
	free(orig);
	pqx_chunker_free(c);
	free(p);
	free(q);
}

static void test_keys_differ(void)
{
	const size_t n = 4 * MIB;
	uint8_t *p = random_buf(n);
	pqx_chunker *a = pqx_chunker_new(key1, MIN, AVG, MAX);
	pqx_chunker *b = pqx_chunker_new(key2, MIN, AVG, MAX);
	size_t ca = 0, cb = 0, *la = NULL, *lb = NULL, common = 0;
	uint8_t ida[32], idb[32];

	CHECK(p != NULL && a != NULL && b != NULL);
	if (p == NULL || a == NULL || b == NULL)
		goto out;
	la = split(a, p, n, &ca);
	lb = split(b, p, n, &cb);
	CHECK(la != NULL && lb != NULL);
	if (la == NULL || lb == NULL)
		goto out;
	for (size_t i = 0, j = 0, oa = 0, ob = 0; i < ca && j < cb;) {
		if (oa + la[i] == ob + lb[j])
			common++;
		if (oa + la[i] <= ob + lb[j])
			oa += la[i++];
		else
			ob += lb[j++];
	}
	CHECK(common * 10 < ca, "%zu of %zu boundaries shared", common, ca);
	printf("# keys: %zu and %zu chunks, %zu boundaries shared\n", ca, cb, common);
	CHECK(
	    pqx_chunker_id(a, ida, p, 1000) == 0 && pqx_chunker_id(b, idb, p, 1000) == 0);
	CHECK(memcmp(ida, idb, 32) != 0, "ids are keyed");
out:
	pqx_free(la);
	pqx_free(lb);
	pqx_chunker_free(a);
	pqx_chunker_free(b);
	free(p);
}

static void test_average(void)
{
	static const struct {
		size_t min, avg, max;
	} v[] = {{MIN, AVG, MAX}, {512, 4096, 32768}, {16384, 65536, 262144}};
	const size_t n = 16 * MIB;
	uint8_t *p = random_buf(n);

	CHECK(p != NULL);
	for (size_t t = 0; p != NULL && t < sizeof(v) / sizeof(v[0]); t++) {
		pqx_chunker *c = pqx_chunker_new(key1, v[t].min, v[t].avg, v[t].max);
		size_t count = 0, *lens = c ? split(c, p, n, &count) : NULL;
		double mean;

		CHECK(lens != NULL && count > 1);
		if (lens == NULL || count < 2)
			goto next;
		check_sizes(lens, count, n, v[t].min, v[t].max);
		mean = (double)(n - lens[count - 1]) / (double)(count - 1);
		printf("# %zu/%zu/%zu: %zu chunks, mean %.0f bytes\n", v[t].min, v[t].avg,
		    v[t].max, count, mean);
		CHECK(mean >= 0.75 * (double)v[t].avg && mean <= 1.25 * (double)v[t].avg,
		    "mean %.0f for avg %zu", mean, v[t].avg);
	next:
		pqx_free(lens);
		pqx_chunker_free(c);
	}
	free(p);
}

static void test_edges(void)
{
	pqx_chunker *c = pqx_chunker_new(key1, MIN, AVG, MAX);
	pqx_chunker *fixed = pqx_chunker_new(key1, 256, 256, 256);
	uint8_t *p = random_buf(4 * MAX + 5), *z = calloc(3 * MAX + 5, 1);
	size_t count = 99, *lens = NULL, len = 99;

	CHECK(c != NULL && fixed != NULL && p != NULL && z != NULL);
	if (c == NULL || fixed == NULL || p == NULL || z == NULL)
		goto out;
	/* Empty: no chunk, and the update of nothing consumes nothing. */
	CHECK(pqx_chunker_split(c, NULL, 0, &lens, &count) == 0 && lens != NULL &&
	      count == 0);
	pqx_free(lens);
	CHECK(pqx_chunker_update(c, p, 0, &len) == 0 && len == 0);
	CHECK(pqx_chunker_finish(c) == 0);
	/* Shorter than min: one chunk. */
	CHECK(pqx_chunker_split(c, p, MIN - 1, &lens, &count) == 0 && count == 1 &&
	      lens[0] == MIN - 1);
	pqx_free(lens);
	CHECK(
	    pqx_chunker_split(c, p, 1, &lens, &count) == 0 && count == 1 && lens[0] == 1);
	pqx_free(lens);
	/* Exactly max: the pieces sum to max and none is longer. */
	CHECK(pqx_chunker_split(c, p, MAX, &lens, &count) == 0 && count >= 1);
	check_sizes(lens, count, MAX, MIN, MAX);
	pqx_free(lens);
	/* Zeros hash to a constant after 64 bytes: chunks of exactly max (for
	 * this key; a key whose constant passes the mask would cut shorter). */
	CHECK(pqx_chunker_split(c, z, 3 * MAX + 5, &lens, &count) == 0 && count == 4);
	if (count == 4)
		CHECK(lens[0] == MAX && lens[1] == MAX && lens[2] == MAX && lens[3] == 5);
	pqx_free(lens);
	/* A chunk of exactly max cuts at the end of the buffer that fills it. */
	CHECK(pqx_chunker_update(c, z, MAX - 1, &len) == MAX - 1 && len == 0);
	CHECK(pqx_chunker_update(c, z + MAX - 1, 1, &len) == 1 && len == MAX);
	CHECK(pqx_chunker_finish(c) == 0);
	/* min = avg = max: fixed-size chunks. */
	CHECK(pqx_chunker_split(fixed, p, 4 * MAX + 5, &lens, &count) == 0);
	CHECK(count == (4 * MAX + 5) / 256 + 1);
	for (size_t i = 0; i + 1 < count; i++)
		CHECK(lens[i] == 256, "chunk %zu", i);
	pqx_free(lens);
out:
	pqx_chunker_free(c);
	pqx_chunker_free(fixed);
	free(p);
	free(z);
}

/* The id is HMAC-SHA256 under HKDF(key, "pqx chunk id"), computed independently here. */
static void test_ids(void)
{
	pqx_chunker *c = pqx_chunker_new(key1, MIN, AVG, MAX);
	uint8_t data[3000], k[32], want[32], got[32], again[32];

	t_rand(data, sizeof(data));
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK(pqx_hkdf_sha256(
	          k, 32, NULL, 0, key1, 32, (const uint8_t *)"pqx chunk id", 12) == 0);
	CHECK(pqx_hmac_sha256(want, k, 32, data, sizeof(data)) == 0);
	CHECK(pqx_chunker_id(c, got, data, sizeof(data)) == 0);
	CHECK_EQ_MEM(got, want, 32, "id = HMAC(HKDF(key), chunk)");
	CHECK(pqx_chunker_id(c, again, data, sizeof(data)) == 0 &&
	      memcmp(got, again, 32) == 0);
	CHECK(pqx_hmac_sha256(want, k, 32, data, 0) == 0);
	CHECK(pqx_chunker_id(c, got, NULL, 0) == 0);
	CHECK_EQ_MEM(got, want, 32, "empty chunk");
	CHECK(pqx_sha256(want, data, sizeof(data)) == 0);
	CHECK(
	    pqx_chunker_id(c, got, data, sizeof(data)) == 0 && memcmp(got, want, 32) != 0,
	    "not a plain hash");
	pqx_chunker_free(c);
}

/* The gear table is SHAKE256(key || "pqx gear"), little-endian words: a
 * boundary found by a naive reimplementation matches. */
static void test_gear_derivation(void)
{
	uint8_t in[40], table[2048];
	uint64_t gear[256], h = 0;
	size_t n = 256 * 1024, cut = 0, count = 0, *lens = NULL;
	uint8_t *p = random_buf(n);
	pqx_chunker *c = pqx_chunker_new(key2, MIN, AVG, MAX);

	CHECK(p != NULL && c != NULL);
	if (p == NULL || c == NULL)
		goto out;
	memcpy(in, key2, 32);
	memcpy(in + 32, "pqx gear", 8);
	pqx_shake256(table, sizeof(table), in, sizeof(in));
	for (size_t i = 0; i < 256; i++)
		gear[i] = pqx_load64_le(table + 8 * i);
	for (size_t i = MIN - 1; i < MAX; i++) {
		uint64_t mask =
		    i < AVG ? ~(uint64_t)0 << (64 - 15) : ~(uint64_t)0 << (64 - 11);

		h = (h << 1) + gear[p[i]];
		if ((h & mask) == 0 || i + 1 == MAX) {
			cut = i + 1;
			break;
		}
	}
	CHECK(pqx_chunker_split(c, p, n, &lens, &count) == 0 && count > 0);
	if (count > 0)
		CHECK(lens[0] == cut, "first chunk %zu, naive %zu", lens[0], cut);
	pqx_free(lens);
out:
	pqx_chunker_free(c);
	free(p);
}

static int fail_always(void)
{
	return 1;
}

static void test_alloc_failure(void)
{
	pqx_chunker *c = pqx_chunker_new(key1, MIN, AVG, MAX);
	size_t *lens = (size_t *)1, count = 7;
	uint8_t id[32], want[32], in[32] = { 9 };

	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK(pqx_chunker_id(c, want, in, sizeof(in)) == 0);
	pqx_test_set_alloc_fault(fail_always);
	CHECK(pqx_chunker_new(key1, MIN, AVG, MAX) == NULL);
	CHECK(pqx_chunker_split(c, id, sizeof(id), &lens, &count) == PQX_ERR_NOMEM);
	CHECK(lens == NULL && count == 0);
	/* Ids are computed with the HMAC set up at pqx_chunker_new: no allocation. */
	CHECK(pqx_chunker_id(c, id, in, sizeof(in)) == 0 && memcmp(id, want, 32) == 0,
	    "an id needs no allocation");
	pqx_test_set_alloc_fault(NULL);
	pqx_chunker_free(c);
}

/* Speed, not a pass/fail criterion: streaming 64 MiB in 1 MiB reads. */
static void test_speed(void)
{
	const size_t n = 64 * MIB;
	uint8_t *p = random_buf(n);
	pqx_chunker *c = pqx_chunker_new(key1, MIN, AVG, MAX);
	struct timespec t0, t1;
	size_t chunks = 0, len;
	double s;

	CHECK(p != NULL && c != NULL);
	if (p == NULL || c == NULL)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t off = 0; off < n; off += MIB)
		for (size_t used = 0; used < MIB;) {
			used += pqx_chunker_update(c, p + off + used, MIB - used, &len);
			chunks += len != 0;
		}
	chunks += pqx_chunker_finish(c) != 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# chunker: 64 MiB in %.3f s, %.0f MB/s, %zu chunks\n", s,
	    (double)n / 1e6 / (s > 0 ? s : 1e-9), chunks);
out:
	pqx_chunker_free(c);
	free(p);
}

int main(void)
{
	t_run("chunker parameter validation", test_params);
	t_run("chunker deterministic, chunks within [min, max]",
	    test_deterministic_and_bounds);
	t_run("chunker streaming matches one-shot for any split", test_streaming);
	t_run("chunker cuts without the stream state, in step after a shared cut", test_cuts);
	t_run("chunker boundaries stable under insert/delete", test_stability);
	t_run("chunker different keys, different boundaries and ids", test_keys_differ);
	t_run("chunker mean chunk size near the average", test_average);
	t_run("chunker edge cases: empty, short, exactly max, zeros", test_edges);
	t_run("chunker ids are HMAC under the derived key", test_ids);
	t_run("chunker gear table from SHAKE256(key || label)", test_gear_derivation);
	t_run("chunker allocation failure", test_alloc_failure);
	t_run("chunker speed (informational)", test_speed);
	return t_done();
}
