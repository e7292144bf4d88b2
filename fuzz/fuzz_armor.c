/* pqx fuzz: the ASCII armor decoder; streaming must not change the verdict, and accepted armor must round-trip. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age/armor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Memory in, served in pieces whose sizes cycle through 1..step. */
struct piece_reader {
	const uint8_t *p;
	size_t n, off, step, turn;
};

static int piece_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	struct piece_reader *m = ctx;
	size_t k = m->n - m->off, want = m->turn++ % m->step + 1;

	if (k > n)
		k = n;
	if (k > want)
		k = want;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	*got = k;
	return 0;
}

struct grow {
	uint8_t *p;
	size_t n, cap;
};

static int grow_put(struct grow *g, const uint8_t *p, size_t n)
{
	if (g->n + n > g->cap) {
		size_t cap = 2 * (g->n + n) + 64;
		uint8_t *np = realloc(g->p, cap);

		if (np == NULL)
			return -1;
		g->p = np;
		g->cap = cap;
	}
	if (n > 0)
		memcpy(g->p + g->n, p, n);
	g->n += n;
	return 0;
}

static int grow_write(void *ctx, const uint8_t *buf, size_t n)
{
	return grow_put(ctx, buf, n) == 0 ? 0 : PQX_ERR_NOMEM;
}

static void die(const char *why)
{
	fprintf(stderr, "%s\n", why);
	abort();
}

/* Decodes in pieces of up to step bytes from below and out_step bytes from above. */
static int decode(const uint8_t *in, size_t n, size_t step, size_t out_step, struct grow *out)
{
	struct piece_reader m = { in, n, 0, step, 0 };
	pqx_reader under = { piece_read, &m }, r;
	pqx_armor_reader *a = pqx_armor_reader_new(&under);
	uint8_t buf[256];
	size_t got;
	int ret;

	if (a == NULL)
		die("out of memory");
	pqx_armor_reader_as_reader(a, &r);
	while ((ret = r.read(r.ctx, buf, out_step, &got)) == 0 && got > 0)
		if (got > out_step || grow_put(out, buf, got) != 0)
			die("reader overran or out of memory");
	if (ret != 0 && (got != 0 || r.read(r.ctx, buf, out_step, &got) != ret))
		die("an error is not sticky");
	pqx_armor_reader_free(a);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grow whole = { 0 }, bits = { 0 }, enc = { 0 }, back = { 0 };
	pqx_writer under = { grow_write, &enc }, w;
	pqx_armor_writer *aw;
	static const char end[] = PQX_ARMOR_END "\n";
	int r, r2;

	r = decode(data, size, SIZE_MAX, 256, &whole);
	r2 = decode(data, size, 7, 1 + size % 5, &bits);
	if (r != r2 || whole.n != bits.n || (whole.n > 0 && memcmp(whole.p, bits.p, whole.n) != 0))
		die("reading in pieces changed the result");
	if (r != 0)
		goto out;

	/* Encoding the decoded bytes gives armor that decodes to them again. */
	if ((aw = pqx_armor_writer_new(&under)) == NULL)
		die("out of memory");
	pqx_armor_writer_as_writer(aw, &w);
	if (w.write(w.ctx, whole.p, whole.n) != 0 || pqx_armor_writer_finish(aw) != 0)
		die("encoding failed");
	pqx_armor_writer_free(aw);
	if (decode(enc.p, enc.n, SIZE_MAX, 256, &back) != 0 || back.n != whole.n ||
	    (whole.n > 0 && memcmp(back.p, whole.p, whole.n) != 0))
		die("encode-then-decode differs");
	/*
	 * The encoder's form (LF only, nothing around, one LF after END) is the
	 * only accepted spelling of its bytes, so such an input comes back exactly.
	 */
	if (size > 0 && data[0] == '-' && memchr(data, '\r', size) == NULL &&
	    size >= sizeof(end) - 1 && memcmp(data + size - (sizeof(end) - 1), end, sizeof(end) - 1) == 0 &&
	    (enc.n != size || memcmp(enc.p, data, size) != 0))
		die("canonical input does not re-encode to itself");
out:
	free(whole.p);
	free(bits.p);
	free(enc.p);
	free(back.p);
	return 0;
}
