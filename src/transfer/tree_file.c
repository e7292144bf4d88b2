/* pqx: a file's chunk tree on all cores: cuts and chunk ids on every thread, nodes on one. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "transfer/content.h"
#include "transfer/tree.h"
#include "util/util.h"

/*
 * The file is read in batches of BATCH_BYTES, each on whichever thread is
 * free. Content-defined cuts depend on the cut before them, but the hash
 * restarts at each cut (pqx_chunker_cuts), so a stream that starts at a
 * batch's first byte, as if a cut were there, cuts where the file's own
 * stream does from the first cut the two share on, a chunk or two in on
 * most data. So:
 *
 *  1. a thread reads the batch and finds that stream's cuts (the gear
 *     hash, about a fifth of the work): the batch's guess;
 *  2. one thread at a time, in file order, puts the bytes after the last
 *     batch's last cut (the carry, less than a chunk) before the batch's
 *     own and cuts on from there with the tree's chunker until it reaches a
 *     cut of the guess; the guess's later cuts are then the file's. Where
 *     none is reached (zeros, cut at the maximum size only, and data of a
 *     short period can stay out of step) it has cut the whole batch itself,
 *     as in one stream. While that goes on, batches go unguessed (a guess
 *     now and then tells when it stops), and are read and cut in order by
 *     one thread at a time, the chunker going on from one batch to the
 *     next: the one stream of a single thread;
 *  3. a thread, the one that read the batch where it is free (the bytes
 *     are in its cache), computes the chunk ids (HMAC-SHA256, the rest of
 *     the work);
 *  4. the calling thread feeds the ids, batch by batch in file order, to
 *     the tree builder, which emits every node on that thread.
 *
 * The cuts are the one stream's and the ids pure functions of the chunks'
 * bytes, so the nodes, and their order, are those of xfer_tree_update and
 * xfer_tree_finish. On one thread there is no guess: step 2 cuts it all.
 * On several, step 2 is about 1/40 of the gear hash's work on most data (8
 * us a MiB here, against 0.38 ms when one thread read and cut every
 * batch), so the tree is no longer bound by one core's gear hash (about 3
 * GB/s).
 *
 * Memory: threads + 2 batches of about 1 MiB each.
 */
#define BATCH_BYTES (1u << 20)
/* Room for the carry before the batch's bytes: a carry is less than a chunk. */
#define ROOM PQX_CHUNKER_MAX_DEFAULT
#define BATCH_CAP (ROOM + BATCH_BYTES)
_Static_assert(XFER_SMALL_MAX <= ROOM, "a carry fits before the batch in both size classes");
/* Every chunk but a stream's last has at least the smallest class's minimum. */
#define BATCH_CHUNKS (BATCH_CAP / XFER_SMALL_MIN + 1)
#define GUESS_CHUNKS (BATCH_BYTES / XFER_SMALL_MIN + 1)
/*
 * While guesses fall out of step, one batch in `probe` is guessed, to see
 * whether they fall in again: every PROBE_MIN-th at first, half as often
 * after each miss, down to every PROBE_MAX-th.
 */
#define PROBE_MIN 8
#define PROBE_MAX 256

/* A batch's state; each step is taken by one thread (a batch is read by the thread that claims it). */
enum { B_READING, B_READ, B_CUT, B_HASHING, B_HASHED };

struct batch {
	uint8_t *buf;     /* ROOM bytes for the carry, then the batch's own */
	uint64_t at;      /* the file offset of buf + ROOM */
	size_t nread;     /* bytes of its own */
	uint32_t *guess;  /* ends of the cuts from buf + ROOM, counted from there */
	size_t nguess;
	size_t start;     /* the carry begins at buf + start */
	size_t len;       /* bytes in whole chunks from there: the rest is the next carry */
	uint32_t *lens;   /* chunk lengths */
	uint8_t *ids;     /* XFER_ID_BYTES each */
	size_t n;         /* chunks */
	int last;         /* its last chunk ends the stream (not at a cut) */
	int state, err, eno;
	int reader;       /* the thread that read it hashes it where it can (its cache) */
	int guessed;      /* step 1 guessed its cuts */
	int insync;       /* step 2 fell in step with the guess */
	int live;         /* step 2 cut it to its end: the chunker holds the carry's state */
};

struct cutter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *b;
	size_t nb;
	uint64_t off, size;                       /* the file's part to cut */
	uint64_t batches;                         /* in all */
	uint64_t claimed, cut, emitted;           /* batches given a slot, cut, emitted */
	int fd, guess, stop;
	int astray;                               /* the last guess did not fall in step */
	uint64_t probe;                           /* then one batch in probe is guessed */
	int cutting;                              /* a thread is at step 2 */
	int err, eno;                             /* step 2's error: no more cuts */
	pqx_chunker *ch;                          /* the tree's: step 2's stream (one thread at a
	                                           * time), and the guesses' keyed table */
	const pqx_hmac_mb_key *idmb;              /* the id MAC for a whole batch at once, or NULL */
};

struct worker {
	struct cutter *c;
	pqx_hmac *h; /* the tree's id MAC, this thread's copy */
	int me;      /* 1, 2, ...: the calling thread is 0 */
};

static struct batch *slot(const struct cutter *c, uint64_t seq)
{
	return &c->b[seq % c->nb];
}

/* Step 1: reads the batch and, where threads share the work, guesses its cuts. */
static void read_batch(const struct cutter *c, struct batch *b)
{
	if ((b->err = xc_pread_all(c->fd, b->buf + ROOM, b->nread, b->at)) != 0) {
		b->eno = errno;
		return;
	}
	b->nguess = b->guessed ? pqx_chunker_cuts(c->ch, b->buf + ROOM, b->nread, b->guess, GUESS_CHUNKS) : 0;
}

/*
 * A slot is free for batch seq once its last batch (seq - nb) is emitted
 * and the batch after that one is cut: its carry came from the slot.
 */
static int slot_free(const struct cutter *c, uint64_t seq)
{
	return seq < c->nb || (seq - c->nb < c->emitted && seq - c->nb + 1 < c->cut);
}

static int cut_batch(pqx_chunker *ch, struct batch *b, const struct batch *prev, int last);

/*
 * Whether the next batch gets a guess: where threads share the work, unless
 * the data keeps guesses out of step (zeros, short periods); then one batch
 * in c->probe does.
 */
static int guess_next(const struct cutter *c)
{
	return c->guess && (!c->astray || c->claimed % c->probe == 0);
}

/*
 * Without a guess a batch is cut as one stream would be: read only once
 * the batches before it are cut, by the thread that then cuts it.
 */
static int hold_back(const struct cutter *c)
{
	return !guess_next(c) && (c->claimed != c->cut || c->cutting);
}

/* Step 1 of a new batch, which this thread claims: 1 if there was one. Called and returns with the lock held. */
static int read_next(struct cutter *c, int me)
{
	uint64_t at = (uint64_t)BATCH_BYTES * c->claimed;
	struct batch *b;

	if (c->claimed >= c->batches || !slot_free(c, c->claimed) || hold_back(c))
		return 0;
	b = slot(c, c->claimed);
	b->guessed = guess_next(c);
	c->claimed++;
	b->at = c->off + at;
	b->nread = c->size - at < BATCH_BYTES ? (size_t)(c->size - at) : BATCH_BYTES;
	b->nguess = 0;
	b->err = 0;
	b->state = B_READING;
	b->reader = me;
	pthread_mutex_unlock(&c->mu);
	read_batch(c, b);
	pthread_mutex_lock(&c->mu);
	b->state = B_READ;
	return 1;
}

/*
 * Does one step that waits and marks it: 1 if there was one, 0 if not.
 * Step 2 first (in file order, one thread at a time: what it cuts the
 * others hash), then the oldest batch's step 3 (one this thread read
 * first), then step 1 of a new batch, which this thread claims. Called and
 * returns with the lock held.
 */
static int work_next(struct cutter *c, pqx_hmac *h, int me)
{
	struct batch *b;

	/* A batch without a guess is cut by the thread that read it: its bytes are in that core's cache. */
	if (!c->cutting && c->err == 0 && c->cut < c->claimed && (b = slot(c, c->cut))->state == B_READ &&
	    (b->guessed || b->reader == me)) {
		const struct batch *prev = c->cut > 0 ? slot(c, c->cut - 1) : NULL;
		int last = c->cut + 1 == c->batches, r;

		c->cutting = 1;
		pthread_mutex_unlock(&c->mu);
		r = cut_batch(c->ch, b, prev, last);
		pthread_mutex_lock(&c->mu);
		c->cutting = 0;
		if (r == 0) {
			b->state = B_CUT;
			c->cut++;
			if (b->guessed) {
				c->astray = !b->insync;
				c->probe = !c->astray ? PROBE_MIN : c->probe < PROBE_MAX ? 2 * c->probe : PROBE_MAX;
			}
		} else {
			c->err = r;
			c->eno = errno;
		}
		goto done;
	}
	/* Without guesses the thread that cut goes on to the next batch first, as one stream would. */
	if (!guess_next(c) && read_next(c, me))
		goto done;
	for (int any = 0; any < 2; any++) {
		for (uint64_t seq = c->emitted; seq < c->claimed; seq++) {
			b = slot(c, seq);
			if (b->state != B_CUT || (!any && b->reader != me))
				continue;
			b->state = B_HASHING;
			pthread_mutex_unlock(&c->mu);
			/* Cut, so read without error. */
			b->err = xfer_chunk_ids(h, c->idmb, b->buf + b->start, b->lens, b->n, b->ids);
			pthread_mutex_lock(&c->mu);
			b->state = B_HASHED;
			goto done;
		}
	}
	if (read_next(c, me))
		goto done;
	return 0;
done:
	pthread_cond_broadcast(&c->cv);
	return 1;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct cutter *c = w->c;

	pthread_mutex_lock(&c->mu);
	while (!c->stop)
		if (!work_next(c, w->h, w->me))
			pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Step 2 for batch b (read), after prev (cut; NULL for the first). */
static int cut_batch(pqx_chunker *ch, struct batch *b, const struct batch *prev, int last)
{
	size_t carry = prev != NULL ? ROOM + prev->nread - prev->start - prev->len : 0;
	size_t end = ROOM + b->nread, at, cut, len, g = 0;
	int insync = carry == 0; /* the batch begins at a cut: the guess is the stream's */

	if (b->err != 0) {
		errno = b->eno;
		return b->err;
	}
	b->start = ROOM - carry;
	if (carry > 0)
		memcpy(b->buf + b->start, prev->buf + prev->start + prev->len, carry);
	b->n = 0;
	b->last = 0;
	b->live = 0;
	at = cut = b->start;
	if (!insync || b->nguess == 0) {
		if (prev != NULL && prev->live)
			at = ROOM; /* the chunker has seen the carry: it goes on from there */
		else
			pqx_chunker_reset(ch);
		b->live = 1;
		while (at < end) {
			at += pqx_chunker_update(ch, b->buf + at, end - at, &len);
			if (len == 0)
				continue;
			b->lens[b->n++] = (uint32_t)len;
			cut = at;
			while (g < b->nguess && ROOM + b->guess[g] < cut)
				g++;
			if (g < b->nguess && ROOM + b->guess[g] == cut) {
				g++; /* in step: the guess's later cuts are the stream's */
				insync = 1;
				b->live = 0;
				break;
			}
		}
	}
	if (!b->live || last)
		pqx_chunker_reset(ch);
	b->insync = insync;
	for (; insync && g < b->nguess; g++) {
		b->lens[b->n++] = (uint32_t)(ROOM + b->guess[g] - cut);
		cut = ROOM + b->guess[g];
	}
	b->len = cut - b->start;
	if (last && end > cut) {
		/* The stream's end ends its last chunk, whatever its length. */
		b->lens[b->n++] = (uint32_t)(end - cut);
		b->len = end - b->start;
		b->last = 1;
	}
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
		pqx_free(c->b[i].guess);
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
		    (c->b[i].guess = pqx_malloc(GUESS_CHUNKS * sizeof(uint32_t))) == NULL ||
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
 * The calling thread's loop: emit the oldest batch once hashed (nodes are
 * emitted on this thread), else do a step of the others', else wait.
 */
static int run(struct cutter *c, struct xfer_tree *t, pqx_hmac *h)
{
	int r = 0;

	pthread_mutex_lock(&c->mu);
	while (r == 0 && c->emitted < c->batches) {
		struct batch *b = slot(c, c->emitted);

		if (c->emitted < c->cut && b->state == B_HASHED) {
			pthread_mutex_unlock(&c->mu);
			r = emit_batch(t, b);
			pthread_mutex_lock(&c->mu);
			c->emitted++;
			pthread_cond_broadcast(&c->cv);
		} else if (c->err != 0 && c->emitted == c->cut && !c->cutting) {
			r = c->err;
			errno = c->eno;
		} else if (!work_next(c, h, 0)) {
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
	pqx_hmac *h = NULL, *idh = pqx_chunker_idh(xfer_tree_chunker(t));
	int nw = 0, r, eno;

	memset(&c, 0, sizeof(c));
	c.batches = (size + BATCH_BYTES - 1) / BATCH_BYTES;
	if (threads <= 0)
		threads = xfer_tree_threads();
	if (threads > XFER_TREE_THREADS_MAX)
		threads = XFER_TREE_THREADS_MAX;
	if ((uint64_t)threads > c.batches + 1)
		threads = (int)c.batches + 1;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	c.off = off;
	c.size = size;
	c.fd = fd;
	c.guess = threads > 1;
	c.probe = PROBE_MIN;
	c.ch = xfer_tree_chunker(t);
	c.idmb = pqx_chunker_idmb(c.ch);
	pqx_chunker_reset(c.ch);
	if ((r = batches_new(&c, (size_t)threads + 2)) != 0 || (h = pqx_hmac_dup(idh)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	for (; nw < threads - 1; nw++) {
		w[nw].c = &c;
		w[nw].me = nw + 1;
		if ((w[nw].h = pqx_hmac_dup(idh)) == NULL)
			break;
		if (pthread_create(&th[nw], NULL, work, &w[nw]) != 0) {
			pqx_hmac_free(w[nw].h);
			break;
		}
	}
	r = run(&c, t, h);
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
