/* pqx tests: chunk trees: node boundaries local to an edit, and nodes rebuilt from their bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "transfer/tree.h"
#include "util/util.h"

#define MIB ((size_t)1 << 20)

struct nodes {
	struct xfer_node *v;
	size_t n, cap;
};

static int collect(void *ctx, const struct xfer_node *nd)
{
	struct nodes *ns = ctx;

	if (ns->n == ns->cap) {
		struct xfer_node *v = realloc(ns->v, (ns->cap = ns->cap ? ns->cap * 2 : 1024) * sizeof(*v));

		if (v == NULL)
			return PQX_ERR_NOMEM;
		ns->v = v;
	}
	ns->v[ns->n++] = *nd;
	return 0;
}

static uint8_t key[32];

static int build(struct nodes *ns, const uint8_t *p, size_t n, uint64_t file_size)
{
	struct xfer_tree *t = xfer_tree_new(key, 2);
	int r;

	if (t == NULL)
		return PQX_ERR_NOMEM;
	xfer_tree_size(t, file_size);
	xfer_tree_start(t, 0, 2, collect, ns);
	/* In uneven pieces: the split must not matter. */
	for (size_t off = 0, k = 1; off < n; off += k, k = k * 3 % 100003 + 1)
		if ((r = xfer_tree_update(t, p + off, k < n - off ? k : n - off)) != 0)
			goto out;
	r = xfer_tree_finish(t);
out:
	xfer_tree_free(t);
	return r;
}

/* Nodes of level `level` in b whose id is nowhere in a. */
static size_t new_nodes(const struct nodes *a, const struct nodes *b, int level)
{
	size_t count = 0;

	for (size_t i = 0; i < b->n; i++) {
		int found = 0;

		if (b->v[i].level != level)
			continue;
		for (size_t j = 0; j < a->n && !found; j++)
			found = a->v[j].level == level && memcmp(a->v[j].id, b->v[i].id, 32) == 0;
		count += !found;
	}
	return count;
}

static size_t count_level(const struct nodes *a, int level)
{
	size_t c = 0;

	for (size_t i = 0; i < a->n; i++)
		c += a->v[i].level == level;
	return c;
}

/*
 * 100-byte insertions at eight places in 8 MiB (both size classes): only the
 * nodes around each change, at every level, the rest keep their ids. CDC
 * needs a few chunks to fall back in step after an edit (the cut after a
 * cut depends on where that cut was), so the bounds allow for that.
 */
static void test_local(void)
{
	const size_t n = 8 * MIB;
	uint8_t *a = malloc(n), *b = malloc(n + 100);
	struct nodes na = { 0 }, nb = { 0 };
	size_t total0 = 0, trials = 0;

	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		goto out;
	t_rand(key, sizeof(key));
	t_rand(a, n);
	for (int cls = 0; cls < 2; cls++) {
		uint64_t fs = cls ? 64 * MIB : n; /* the small class, then the large one */

		na.n = 0;
		CHECK(build(&na, a, n, fs) == 0);
		CHECK(cls == 1 || count_level(&na, 2) >= 4, "several level-2 nodes (%zu)", count_level(&na, 2));
		for (size_t k = 1; k <= 8; k++) {
			size_t at = n / 9 * k + 777 * k;

			memcpy(b, a, at);
			t_rand(b + at, 100);
			memcpy(b + at + 100, a + at, n - at);
			nb.n = 0;
			CHECK(build(&nb, b, n + 100, fs) == 0);
			total0 += new_nodes(&na, &nb, 0);
			trials++;
			CHECK(new_nodes(&na, &nb, 0) <= 24 && new_nodes(&na, &nb, 1) <= 4 &&
				  new_nodes(&na, &nb, 2) <= 3,
			    "class %d, insertion %zu: %zu, %zu, %zu new nodes at levels 0, 1, 2", cls, k,
			    new_nodes(&na, &nb, 0), new_nodes(&na, &nb, 1), new_nodes(&na, &nb, 2));
		}
	}
	CHECK(total0 <= 4 * trials, "%zu new chunks in %zu insertions", total0, trials);
out:
	free(na.v);
	free(nb.v);
	free(a);
	free(b);
}

/* Every node, rebuilt alone from its own bytes, gets its id back (how a receiver verifies). */
static void test_rebuild(void)
{
	const size_t n = 3 * MIB;
	uint8_t *a = malloc(n);
	struct nodes na = { 0 }, one = { 0 };
	struct xfer_tree *t = xfer_tree_new(key, 2);

	CHECK(a != NULL && t != NULL);
	if (a == NULL || t == NULL)
		goto out;
	t_rand(a, n);
	CHECK(build(&na, a, n, n) == 0);
	for (size_t i = 0; i < na.n; i++) {
		const struct xfer_node *nd = &na.v[i];
		int tops = 0, ok = 0;

		one.n = 0;
		xfer_tree_size(t, n);
		xfer_tree_start(t, nd->off, nd->level, collect, &one);
		CHECK(xfer_tree_update(t, a + nd->off, (size_t)nd->len) == 0 && xfer_tree_finish(t) == 0);
		for (size_t j = 0; j < one.n; j++)
			if (one.v[j].level == nd->level) {
				tops++;
				ok = memcmp(one.v[j].id, nd->id, 32) == 0 && one.v[j].off == nd->off &&
				     one.v[j].len == nd->len;
			}
		CHECK(tops == 1 && ok, "node %zu (level %d) rebuilt", i, nd->level);
		if (t_case_failures() > 0)
			break;
	}
	/* Nodes end by their content, except the file's last; a prefix cut short by the end does not. */
	for (size_t i = 0; i < na.n; i++)
		CHECK(na.v[i].natural || na.v[i].off + na.v[i].len == n, "node %zu ends naturally", i);
	if (na.n > 0 && na.v[0].len > 1) {
		one.n = 0;
		xfer_tree_start(t, 0, 0, collect, &one);
		CHECK(xfer_tree_update(t, a, 1) == 0 && xfer_tree_finish(t) == 0);
		CHECK(one.n == 1 && !one.v[0].natural, "a one-byte prefix is no natural chunk");
	}
	/* A changed byte in a node gives another id. */
	if (na.n > 0) {
		const struct xfer_node *nd = &na.v[na.n - 1];

		a[nd->off] ^= 1;
		one.n = 0;
		xfer_tree_start(t, nd->off, nd->level, collect, &one);
		CHECK(xfer_tree_update(t, a + nd->off, (size_t)nd->len) == 0 && xfer_tree_finish(t) == 0);
		CHECK(one.n > 0 && memcmp(one.v[one.n - 1].id, nd->id, 32) != 0, "a flipped bit changes the id");
	}
out:
	xfer_tree_free(t);
	free(na.v);
	free(one.v);
	free(a);
}

/* Fails after `left` nodes: an emit error must stop the cut and come back. */
static int stop_after(void *ctx, const struct xfer_node *nd)
{
	size_t *left = ctx;

	(void)nd;
	return (*left)-- == 0 ? PQX_ERR_LIMIT : 0;
}

static int same_nodes(const struct nodes *a, const struct nodes *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(a->v[i].id, b->v[i].id, 32) != 0 || a->v[i].off != b->v[i].off ||
		    a->v[i].len != b->v[i].len || a->v[i].level != b->v[i].level ||
		    a->v[i].natural != b->v[i].natural)
			return 0;
	return 1;
}

/*
 * xfer_tree_file on several threads emits the nodes the streaming builder
 * does, in the same order: at batch edges (1 MiB), where each batch's
 * guessed cuts must be taken from the first cut in step on; over runs of
 * zeros (cuts at the maximum only, so chunks straddle batches and a
 * guess may never fall in step) and of a short period, where batches go
 * unguessed and the chunker runs on from batch to batch until a guess
 * falls in step again; in both size classes, from an offset in the file.
 */
static void test_file(void)
{
	static const size_t sizes[] = { 0, 1, 4095, MIB - 1, MIB, MIB + 1, 3 * MIB + 12345,
		16 * MIB - 1, 21 * MIB + 777 };
	static const int threads[] = { 1, 2, 3, 8 };
	const size_t max = 21 * MIB + 777 + 4096;
	char path[] = "/tmp/pqx-test-tree-XXXXXX";
	uint8_t *a = malloc(max);
	struct nodes want = { 0 }, got = { 0 };
	struct xfer_tree *t = xfer_tree_new(key, 2);
	int fd = mkstemp(path);

	CHECK(a != NULL && t != NULL && fd >= 0);
	if (a == NULL || t == NULL || fd < 0)
		goto out;
	unlink(path);
	t_rand(a, max);
	memset(a + 2 * MIB - 100000, 0, 300000);   /* zeros across the second batch edge */
	memset(a + 17 * MIB, 0, 3 * MIB);           /* and across several */
	for (size_t i = 9 * MIB; i < 11 * MIB; i++) /* a period of 1000 bytes: guesses stay out of step */
		a[i] = a[i - 1000];
	CHECK(write(fd, a, max) == (ssize_t)max);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (size_t off = 0; off <= 4096; off += 4096) {
			want.n = 0;
			CHECK(build(&want, a + off, sizes[i], sizes[i]) == 0);
			for (size_t j = 0; j < sizeof(threads) / sizeof(threads[0]); j++) {
				got.n = 0;
				xfer_tree_size(t, sizes[i]);
				xfer_tree_start(t, 0, 2, collect, &got);
				CHECK(xfer_tree_file(t, fd, off, sizes[i], threads[j]) == 0);
				CHECK(same_nodes(&want, &got), "%zu bytes from %zu on %d threads: %zu nodes, want %zu",
				    sizes[i], off, threads[j], got.n, want.n);
			}
		}
	/* A file shorter than asked: an error, on one thread or several. */
	for (size_t j = 0; j < sizeof(threads) / sizeof(threads[0]); j++) {
		got.n = 0;
		xfer_tree_start(t, 0, 2, collect, &got);
		CHECK(xfer_tree_file(t, fd, 0, max + 1, threads[j]) == PQX_ERR_TRUNCATED);
	}
	/* An error from emit stops the cut and comes back. */
	for (size_t j = 0; j < sizeof(threads) / sizeof(threads[0]); j++) {
		size_t left = 1000;

		xfer_tree_size(t, max);
		xfer_tree_start(t, 0, 2, stop_after, &left);
		CHECK(xfer_tree_file(t, fd, 0, max, threads[j]) == PQX_ERR_LIMIT);
	}
	/* And the tree is reusable after: the same nodes again. */
	want.n = got.n = 0;
	CHECK(build(&want, a, 5 * MIB, 5 * MIB) == 0);
	xfer_tree_size(t, 5 * MIB);
	xfer_tree_start(t, 0, 2, collect, &got);
	CHECK(xfer_tree_file(t, fd, 0, 5 * MIB, 0) == 0 && same_nodes(&want, &got));
out:
	if (fd >= 0)
		close(fd);
	xfer_tree_free(t);
	free(want.v);
	free(got.v);
	free(a);
}

/* Like build, in tree t, from stream offset base, in pieces of up to `piece` bytes. */
static int build_from(struct xfer_tree *t, struct nodes *ns, const uint8_t *p, size_t n,
    uint64_t file_size, uint64_t base, size_t piece)
{
	int r;

	xfer_tree_size(t, file_size);
	xfer_tree_start(t, base, 2, collect, ns);
	for (size_t off = 0, k = 1; off < n; off += k, k = k * 7 % piece + 1)
		if ((r = xfer_tree_update(t, p + off, k < n - off ? k : n - off)) != 0)
			return r;
	return xfer_tree_finish(t);
}

/*
 * A staged tree (xfer_tree_stage: chunk ids 256 KiB at a time, where the
 * CPU has the multi-buffer code) emits the nodes of the plain one: around
 * its flush size, over zeros (maximal chunks straddling flushes), in both
 * size classes, from a base offset, fed in small and large pieces; after an
 * emit error and after a stream left unfinished it starts clean.
 */
static void test_staged(void)
{
	static const size_t sizes[] = { 0, 1, 511, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1,
		300 * 1024, 3 * MIB + 12345, 16 * MIB - 1, 21 * MIB + 777 };
	static const size_t pieces[] = { 1000, 70000, 3 * MIB };
	const size_t max = 21 * MIB + 777;
	uint8_t *a = malloc(max);
	struct nodes want = { 0 }, got = { 0 };
	struct xfer_tree *plain = xfer_tree_new(key, 2), *t = xfer_tree_new(key, 2);
	size_t left;
	int r;

	CHECK(a != NULL && plain != NULL && t != NULL);
	if (a == NULL || plain == NULL || t == NULL)
		goto out;
	CHECK(xfer_tree_stage(t) == 0);
	t_rand(a, max);
	memset(a + 250 * 1024, 0, 200 * 1024);
	memset(a + 17 * MIB, 0, 3 * MIB);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (uint64_t base = 0; base <= 12345; base += 12345) {
			want.n = 0;
			CHECK(build_from(plain, &want, a, sizes[i], sizes[i], base, 100003) == 0);
			for (size_t j = 0; j < sizeof(pieces) / sizeof(pieces[0]); j++) {
				got.n = 0;
				CHECK(build_from(t, &got, a, sizes[i], sizes[i], base, pieces[j]) == 0);
				CHECK(same_nodes(&want, &got), "%zu bytes from %llu in pieces of %zu: %zu nodes, want %zu",
				    sizes[i], (unsigned long long)base, pieces[j], got.n, want.n);
			}
		}
	/* An emit error comes back, from an update or from finish. */
	left = 100;
	xfer_tree_size(t, max);
	xfer_tree_start(t, 0, 2, stop_after, &left);
	CHECK(xfer_tree_update(t, a, max) == PQX_ERR_LIMIT);
	left = 3; /* a staged tree emits them at finish, a plain one before */
	xfer_tree_start(t, 0, 2, stop_after, &left);
	r = xfer_tree_update(t, a, 100 * 1024);
	CHECK(r == PQX_ERR_LIMIT || (r == 0 && xfer_tree_finish(t) == PQX_ERR_LIMIT));
	/* Left unfinished, then started again: nothing of the old stream remains. */
	xfer_tree_start(t, 0, 2, collect, &got);
	CHECK(xfer_tree_update(t, a + 5, 200 * 1024) == 0);
	want.n = got.n = 0;
	CHECK(build_from(plain, &want, a, 5 * MIB, 5 * MIB, 0, 100003) == 0);
	CHECK(build_from(t, &got, a, 5 * MIB, 5 * MIB, 0, 70000) == 0 && same_nodes(&want, &got));
out:
	xfer_tree_free(plain);
	xfer_tree_free(t);
	free(want.v);
	free(got.v);
	free(a);
}

int main(void)
{
	t_run("tree: insertions change only the nodes around them, at every level", test_local);
	t_run("tree: every node rebuilt from its bytes gets its id back", test_rebuild);
	t_run("tree: a file's tree on several threads is the streaming builder's", test_file);
	t_run("tree: a staged tree (ids 256 KiB at a time) emits the streaming builder's nodes", test_staged);
	return t_done();
}
