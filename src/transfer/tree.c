/* pqx: the chunk tree builder: chunks, level-1 and level-2 nodes, streaming. */
#include <string.h>

#include "transfer/tree.h"
#include "util/util.h"

struct open_node {
	pqx_hmac *h;       /* the node id in progress */
	uint64_t off, len;
	size_t children;
};

/*
 * Staged mode (xfer_tree_stage): the bytes fed wait here until STAGE_FLUSH
 * bytes of whole chunks have come, and then all those chunks' ids are
 * computed at once (pqx_hmac_mb). The partial chunk at the end stays, so
 * the stage never holds more than STAGE_FLUSH plus one largest chunk.
 */
#define STAGE_FLUSH (256u << 10)
#define STAGE_CAP (STAGE_FLUSH + PQX_CHUNKER_MAX_DEFAULT)
#define STAGE_CHUNKS (STAGE_CAP / XFER_SMALL_MIN + 2)
/* What the stage's sizes assume of the two size classes. */
_Static_assert(XFER_SMALL_MAX <= PQX_CHUNKER_MAX_DEFAULT && XFER_SMALL_MIN <= PQX_CHUNKER_MIN_DEFAULT,
    "a largest chunk fits after STAGE_FLUSH, and the smallest sets STAGE_CHUNKS");

struct stage {
	uint8_t *buf;
	size_t len;  /* bytes staged */
	size_t scan; /* of them, the bytes the chunker has seen */
	size_t cut;  /* of those, the bytes in whole chunks */
	uint32_t lens[STAGE_CHUNKS];
	uint8_t ids[STAGE_CHUNKS * XFER_ID_BYTES];
	size_t n; /* whole chunks */
};

struct xfer_tree {
	pqx_chunker *c;                        /* one of: */
	pqx_chunker *small, *large;            /* the two size classes */
	pqx_hmac *chunk;                       /* the chunk id in progress */
	struct open_node node[XFER_TREE_LEVELS]; /* [0] is the chunk */
	uint64_t off;                          /* stream offset of the next byte */
	int top;
	xfer_tree_emit emit;
	void *ctx;
	struct stage *st; /* staged mode, or NULL */
};

int xfer_tree_closes(const uint8_t id[XFER_ID_BYTES], size_t children)
{
	return (id[XFER_ID_BYTES - 1] & 0x0f) == 0 || children >= XFER_TREE_FANOUT;
}

void xfer_tree_free(struct xfer_tree *t)
{
	if (t == NULL)
		return;
	pqx_chunker_free(t->small);
	pqx_chunker_free(t->large);
	pqx_hmac_free(t->chunk);
	for (int l = 1; l < XFER_TREE_LEVELS; l++)
		pqx_hmac_free(t->node[l].h);
	if (t->st != NULL)
		pqx_free(t->st->buf);
	pqx_free(t->st);
	pqx_free(t);
}

int xfer_tree_stage(struct xfer_tree *t)
{
	if (t->st != NULL || pqx_chunker_idmb(t->small) == NULL || pqx_chunker_idmb(t->large) == NULL)
		return 0;
	if ((t->st = pqx_calloc(1, sizeof(*t->st))) == NULL ||
	    (t->st->buf = pqx_malloc(STAGE_CAP)) == NULL) {
		pqx_free(t->st);
		t->st = NULL;
		return PQX_ERR_NOMEM;
	}
	return 0;
}

struct xfer_tree *xfer_tree_new(const uint8_t key[PQX_CHUNKER_KEY_BYTES], int top)
{
	struct xfer_tree *t = pqx_calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if ((t->large = pqx_chunker_new(key, PQX_CHUNKER_MIN_DEFAULT, PQX_CHUNKER_AVG_DEFAULT,
		 PQX_CHUNKER_MAX_DEFAULT)) == NULL ||
	    (t->small = pqx_chunker_new(key, XFER_SMALL_MIN, XFER_SMALL_AVG, XFER_SMALL_MAX)) == NULL ||
	    (t->chunk = pqx_hmac_dup(pqx_chunker_idh(t->large))) == NULL)
		goto fail;
	t->c = t->large;
	for (int l = 1; l < XFER_TREE_LEVELS; l++)
		if ((t->node[l].h = pqx_hmac_dup(pqx_chunker_idh(t->c))) == NULL)
			goto fail;
	xfer_tree_start(t, 0, top, NULL, NULL);
	return t;
fail:
	xfer_tree_free(t);
	return NULL;
}

int xfer_tree_class(uint64_t file_size)
{
	return file_size < XFER_SMALL_FILE;
}

void xfer_tree_size(struct xfer_tree *t, uint64_t file_size)
{
	t->c = xfer_tree_class(file_size) ? t->small : t->large;
}

void xfer_tree_start(struct xfer_tree *t, uint64_t base, int top, xfer_tree_emit emit, void *ctx)
{
	pqx_chunker_reset(t->c);
	t->off = base;
	t->top = top;
	t->emit = emit;
	t->ctx = ctx;
	if (t->st != NULL)
		t->st->len = t->st->scan = t->st->cut = t->st->n = 0;
	for (int l = 0; l < XFER_TREE_LEVELS; l++) {
		t->node[l].off = base;
		t->node[l].len = 0;
		t->node[l].children = 0;
	}
}

/* A child of level `level` - 1 completed: adds it to the open node at level. */
static int add_child(struct xfer_tree *t, int level, const struct xfer_node *child)
{
	struct open_node *o = &t->node[level];
	uint8_t lv = (uint8_t)level;
	int r;

	if (o->children == 0) {
		o->off = child->off;
		o->len = 0;
		if ((r = pqx_hmac_init(o->h)) != 0 || (r = pqx_hmac_update(o->h, &lv, 1)) != 0)
			return r;
	}
	if ((r = pqx_hmac_update(o->h, child->id, XFER_ID_BYTES)) != 0)
		return r;
	o->len += child->len;
	o->children++;
	return 0;
}

static int close_node(struct xfer_tree *t, int level, int natural);

/* Emits a completed node and passes it up. */
static int completed(struct xfer_tree *t, const struct xfer_node *n)
{
	int r;

	if (t->emit != NULL && (r = t->emit(t->ctx, n)) != 0)
		return r;
	if (n->level >= t->top)
		return 0;
	if ((r = add_child(t, n->level + 1, n)) != 0)
		return r;
	if (xfer_tree_closes(n->id, t->node[n->level + 1].children))
		return close_node(t, n->level + 1, 1);
	return 0;
}

static int close_node(struct xfer_tree *t, int level, int natural)
{
	struct open_node *o = &t->node[level];
	struct xfer_node n;
	int r;

	if (o->children == 0)
		return 0;
	if ((r = pqx_hmac_final(o->h, n.id)) != 0)
		return r;
	n.off = o->off;
	n.len = o->len;
	n.level = (uint8_t)level;
	n.natural = (uint8_t)natural;
	o->children = 0;
	return completed(t, &n);
}

static int chunk_done(struct xfer_tree *t, size_t len, int natural)
{
	struct xfer_node n;
	int r;

	if ((r = pqx_hmac_final(t->chunk, n.id)) != 0)
		return r;
	n.off = t->off - len;
	n.len = len;
	n.level = 0;
	n.natural = (uint8_t)natural;
	return completed(t, &n);
}

int xfer_tree_chunk(struct xfer_tree *t, const uint8_t id[XFER_ID_BYTES], size_t len, int natural)
{
	struct xfer_node n;

	memcpy(n.id, id, XFER_ID_BYTES);
	n.off = t->off;
	n.len = len;
	n.level = 0;
	n.natural = (uint8_t)natural;
	t->off += len;
	return completed(t, &n);
}

pqx_chunker *xfer_tree_chunker(struct xfer_tree *t)
{
	return t->c;
}

int xfer_chunk_ids(pqx_hmac *h, const pqx_hmac_mb_key *mb, const uint8_t *buf,
    const uint32_t *lens, size_t n, uint8_t *ids)
{
	size_t off = 0;
	int r;

	_Static_assert(XFER_ID_BYTES == PQX_HMAC_MB_BYTES, "a chunk id is an HMAC-SHA256");
	if (mb != NULL && pqx_hmac_mb_pays(mb, lens, n))
		return pqx_hmac_mb(mb, buf, lens, n, ids);
	for (size_t i = 0; i < n; i++) {
		if ((r = pqx_hmac_mac(h, ids + i * XFER_ID_BYTES, buf + off, lens[i])) != 0)
			return r;
		off += lens[i];
	}
	return 0;
}

/*
 * Emits the staged whole chunks, their ids computed together; the last is
 * the stream's end, not a cut, if `last`. The partial chunk after them moves
 * to the stage's start.
 */
static int stage_flush(struct xfer_tree *t, int last)
{
	struct stage *st = t->st;
	int r = 0;

	r = xfer_chunk_ids(pqx_chunker_idh(t->c), pqx_chunker_idmb(t->c), st->buf, st->lens, st->n,
	    st->ids);
	for (size_t i = 0; i < st->n && r == 0; i++)
		r = xfer_tree_chunk(t, st->ids + i * XFER_ID_BYTES, st->lens[i], !(last && i + 1 == st->n));
	memmove(st->buf, st->buf + st->cut, st->len - st->cut);
	st->len -= st->cut;
	st->scan -= st->cut;
	st->cut = 0;
	st->n = 0;
	return r;
}

static int stage_update(struct xfer_tree *t, const uint8_t *p, size_t n)
{
	struct stage *st = t->st;
	int r;

	while (n > 0) {
		size_t k = STAGE_CAP - st->len < n ? STAGE_CAP - st->len : n, clen;

		memcpy(st->buf + st->len, p, k);
		st->len += k;
		p += k;
		n -= k;
		while (st->scan < st->len) {
			st->scan += pqx_chunker_update(t->c, st->buf + st->scan, st->len - st->scan, &clen);
			if (clen != 0) {
				st->lens[st->n++] = (uint32_t)clen;
				st->cut += clen;
			}
		}
		/* What is left after the last cut is shorter than a largest chunk: room for more. */
		if (st->cut >= STAGE_FLUSH && (r = stage_flush(t, 0)) != 0)
			return r;
	}
	return 0;
}

int xfer_tree_update(struct xfer_tree *t, const uint8_t *p, size_t n)
{
	int r;

	if (t->st != NULL)
		return stage_update(t, p, n);
	while (n > 0) {
		size_t clen, k;

		if (t->node[0].len == 0 && (r = pqx_hmac_init(t->chunk)) != 0)
			return r;
		k = pqx_chunker_update(t->c, p, n, &clen);
		if ((r = pqx_hmac_update(t->chunk, p, k)) != 0)
			return r;
		t->off += k;
		t->node[0].len += k;
		p += k;
		n -= k;
		if (clen != 0) {
			t->node[0].len = 0;
			if ((r = chunk_done(t, clen, 1)) != 0)
				return r;
		}
	}
	return 0;
}

int xfer_tree_finish(struct xfer_tree *t)
{
	size_t last = pqx_chunker_finish(t->c);
	int r;

	if (t->st != NULL) {
		if (last != 0) {
			t->st->lens[t->st->n++] = (uint32_t)last;
			t->st->cut += last;
		}
		if ((r = stage_flush(t, last != 0)) != 0)
			return r;
	} else if (last != 0) {
		t->node[0].len = 0;
		if ((r = chunk_done(t, last, 0)) != 0)
			return r;
	}
	return xfer_tree_close(t);
}

int xfer_tree_close(struct xfer_tree *t)
{
	int r;

	for (int l = 1; l <= t->top && l < XFER_TREE_LEVELS; l++)
		if ((r = close_node(t, l, 0)) != 0)
			return r;
	return 0;
}

int xfer_tree_node_id(struct xfer_tree *t, uint8_t id[XFER_ID_BYTES], int level,
    const uint8_t *child_ids, size_t count)
{
	/* The chunker's own HMAC: the builder only ever uses its copies. */
	pqx_hmac *h = pqx_chunker_idh(t->c);
	uint8_t lv = (uint8_t)level;
	int r;

	if ((r = pqx_hmac_init(h)) != 0 || (r = pqx_hmac_update(h, &lv, 1)) != 0 ||
	    (r = pqx_hmac_update(h, child_ids, count * XFER_ID_BYTES)) != 0)
		return r;
	return pqx_hmac_final(h, id);
}

pqx_hmac *xfer_tree_idh(struct xfer_tree *t)
{
	return pqx_hmac_dup(pqx_chunker_idh(t->c));
}

int xfer_tree_root_init(struct xfer_tree *t, pqx_hmac **h)
{
	static const uint8_t lv = 3;

	if ((*h = pqx_hmac_dup(pqx_chunker_idh(t->c))) == NULL)
		return PQX_ERR_NOMEM;
	if (pqx_hmac_init(*h) != 0 || pqx_hmac_update(*h, &lv, 1) != 0) {
		pqx_hmac_free(*h);
		*h = NULL;
		return PQX_ERR_INTERNAL;
	}
	return 0;
}
