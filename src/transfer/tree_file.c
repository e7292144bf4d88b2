/* pqx: a file's chunk tree on all cores: boundaries on one thread, chunk ids on the others. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "transfer/content.h"
#include "transfer/tree.h"
#include "util/util.h"

/*
 * The file is read in batches of BATCH_BYTES. The calling thread reads a
 * batch and finds its cuts (the gear hash, about a fifth of the work); the
 * bytes after the batch's last cut open the next batch. Workers, and the
 * calling thread when it has nothing else to do, compute the batches' chunk
 * ids (HMAC-SHA256, the rest of the work); the calling thread then feeds the
 * ids, batch by batch in file order, to the tree builder, which emits every
 * node on that thread. The cuts are found by one chunker over the bytes in
 * order and the ids are pure functions of the chunks' bytes, so the nodes,
 * and their order, are those of xfer_tree_update and xfer_tree_finish.
 *
 * Memory: threads + 2 batches of about 1 MiB each.
 */
#define BATCH_BYTES (1u << 20)
#define BATCH_CAP (BATCH_BYTES + PQX_CHUNKER_MAX_DEFAULT)
/* Every chunk but a stream's last has at least the smallest class's minimum. */
#define BATCH_CHUNKS (BATCH_CAP / XFER_SMALL_MIN + 1)

struct batch {
	uint8_t *buf;    /* the batch's bytes: its whole chunks, then the next batch's start */
	size_t len, all; /* bytes in whole chunks; all in buf (after len: the next batch's start) */
	uint32_t *lens;  /* chunk lengths */
	uint8_t *ids;    /* XFER_ID_BYTES each */
	size_t n;        /* chunks */
	int last;        /* its last chunk ends the stream (not at a cut) */
	int hashed, err;
};

struct cutter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *b;
	size_t nb;
	uint64_t cut, hashing, emitted; /* batches cut, taken for hashing, emitted */
	int stop;
	pqx_hmac *idh; /* the tree's id MAC, to copy from */
	const pqx_hmac_mb_key *idmb; /* the same for a whole batch at once, or NULL */
};

struct worker {
	struct cutter *c;
	pqx_hmac *h;
};

/*
 * Takes the next batch cut and not yet taken, hashes it and marks it: 1 if
 * there was one, 0 if not. Called and returns with the lock held.
 */
static int hash_next(struct cutter *c, pqx_hmac *h)
{
	struct batch *b;

	if (c->hashing == c->cut)
		return 0;
	b = &c->b[c->hashing++ % c->nb];
	pthread_mutex_unlock(&c->mu);
	b->err = xfer_chunk_ids(h, c->idmb, b->buf, b->lens, b->n, b->ids);
	pthread_mutex_lock(&c->mu);
	b->hashed = 1;
	pthread_cond_broadcast(&c->cv);
	return 1;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct cutter *c = w->c;

	pthread_mutex_lock(&c->mu);
	while (!c->stop)
		if (!hash_next(c, w->h))
			pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/*
 * Reads batch `seq` (its slot is free) after prev, the one before it (NULL
 * for the first), and finds its cuts. *off is the next file offset to read,
 * end the stream's end.
 */
static int cut_batch(pqx_chunker *ch, struct batch *b, const struct batch *prev, int fd,
    uint64_t *off, uint64_t end)
{
	size_t carry = prev != NULL ? prev->all - prev->len : 0, n, at, pos = 0, len;
	int r;

	if (carry > 0)
		memmove(b->buf, prev->buf + prev->len, carry);
	n = end - *off < BATCH_BYTES ? (size_t)(end - *off) : BATCH_BYTES;
	if ((r = xc_pread_all(fd, b->buf + carry, n, *off)) != 0)
		return r;
	*off += n;
	b->all = carry + n;
	b->n = 0;
	b->len = 0;
	b->last = 0;
	b->hashed = 0;
	b->err = 0;
	/* The chunker has seen the carry already: it goes on from there. */
	for (at = carry; at < b->all;) {
		at += pqx_chunker_update(ch, b->buf + at, b->all - at, &len);
		if (len != 0) {
			b->lens[b->n++] = (uint32_t)len;
			pos += len;
		}
	}
	if (*off == end && (len = pqx_chunker_finish(ch)) != 0) {
		b->lens[b->n++] = (uint32_t)len;
		pos += len;
		b->last = 1;
	}
	b->len = pos;
	return 0;
}

static int emit_batch(struct xfer_tree *t, const struct batch *b)
{
	int r;

	if (b->err != 0)
		return b->err;
	for (size_t i = 0; i < b->n; i++)
		if ((r = xfer_tree_chunk(t, b->ids + i * XFER_ID_BYTES, b->lens[i],
			 !(b->last && i + 1 == b->n))) != 0)
			return r;
	return 0;
}

static void batches_free(struct cutter *c)
{
	for (size_t i = 0; i < c->nb; i++) {
		pqx_free(c->b[i].buf);
		pqx_free(c->b[i].lens);
		pqx_free(c->b[i].ids);
	}
	pqx_free(c->b);
}

static int batches_new(struct cutter *c, size_t nb)
{
	if ((c->b = pqx_calloc(nb, sizeof(*c->b))) == NULL)
		return PQX_ERR_NOMEM;
	c->nb = nb;
	for (size_t i = 0; i < nb; i++)
		if ((c->b[i].buf = pqx_malloc(BATCH_CAP)) == NULL ||
		    (c->b[i].lens = pqx_malloc(BATCH_CHUNKS * sizeof(uint32_t))) == NULL ||
		    (c->b[i].ids = pqx_malloc(BATCH_CHUNKS * XFER_ID_BYTES)) == NULL)
			return PQX_ERR_NOMEM;
	return 0;
}

int xfer_tree_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > XFER_TREE_THREADS_MAX ? XFER_TREE_THREADS_MAX : (int)n;
}

/*
 * The calling thread's loop: emit the oldest batch once hashed, else cut
 * the next while a slot is free, else hash one, else wait.
 */
static int run(struct cutter *c, struct xfer_tree *t, int fd, uint64_t off, uint64_t end,
    pqx_hmac *h)
{
	pqx_chunker *ch = xfer_tree_chunker(t);
	int r = 0;

	pthread_mutex_lock(&c->mu);
	while (r == 0 && (off < end || c->emitted < c->cut)) {
		struct batch *b = &c->b[c->emitted % c->nb];

		if (c->emitted < c->cut && b->hashed) {
			pthread_mutex_unlock(&c->mu);
			r = emit_batch(t, b);
			pthread_mutex_lock(&c->mu);
			c->emitted++;
		} else if (off < end && c->cut - c->emitted < c->nb) {
			/* The slot before keeps the carry: it is reused only after this one. */
			struct batch *prev = c->cut > 0 ? &c->b[(c->cut - 1) % c->nb] : NULL;

			b = &c->b[c->cut % c->nb];
			pthread_mutex_unlock(&c->mu);
			r = cut_batch(ch, b, prev, fd, &off, end);
			pthread_mutex_lock(&c->mu);
			if (r == 0) {
				c->cut++;
				pthread_cond_broadcast(&c->cv);
			}
		} else if (!hash_next(c, h)) {
			pthread_cond_wait(&c->cv, &c->mu);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

int xfer_tree_file(struct xfer_tree *t, int fd, uint64_t off, uint64_t size, int threads)
{
	struct cutter c;
	struct worker w[XFER_TREE_THREADS_MAX];
	pthread_t th[XFER_TREE_THREADS_MAX];
	pqx_hmac *h = NULL;
	uint64_t batches = size / BATCH_BYTES + 1;
	int nw = 0, r, eno;

	if (threads <= 0)
		threads = xfer_tree_threads();
	if (threads > XFER_TREE_THREADS_MAX)
		threads = XFER_TREE_THREADS_MAX;
	if ((uint64_t)threads > batches)
		threads = (int)batches;
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	c.idh = pqx_chunker_idh(xfer_tree_chunker(t));
	c.idmb = pqx_chunker_idmb(xfer_tree_chunker(t));
	pqx_chunker_reset(xfer_tree_chunker(t));
	if ((r = batches_new(&c, (size_t)threads + 2)) != 0 || (h = pqx_hmac_dup(c.idh)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	for (; nw < threads - 1; nw++) {
		w[nw].c = &c;
		if ((w[nw].h = pqx_hmac_dup(c.idh)) == NULL)
			break;
		if (pthread_create(&th[nw], NULL, work, &w[nw]) != 0) {
			pqx_hmac_free(w[nw].h);
			break;
		}
	}
	r = run(&c, t, fd, off, off + size, h);
	eno = errno;
	pthread_mutex_lock(&c.mu);
	c.stop = 1;
	pthread_cond_broadcast(&c.cv);
	pthread_mutex_unlock(&c.mu);
	for (int i = 0; i < nw; i++) {
		pthread_join(th[i], NULL);
		pqx_hmac_free(w[i].h);
	}
	errno = eno;
	if (r == 0)
		r = xfer_tree_close(t);
out:
	eno = errno;
	pqx_hmac_free(h);
	batches_free(&c);
	pthread_cond_destroy(&c.cv);
	pthread_mutex_destroy(&c.mu);
	errno = eno;
	return r;
}
