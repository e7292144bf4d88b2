/* pqx: the age STREAM payload, encrypted and decrypted in parallel in constant memory. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "age/age_int.h"
#include "crypto/ossl.h"
#include "util/util.h"

/*
 * The payload is cut into 64 KiB chunks, each sealed with ChaCha20-Poly1305
 * under the nonce counter(11 bytes, big-endian) || last(1 byte). Chunks are
 * independent, so a batch of them is sealed or opened by all workers at
 * once, in place, while the main thread writes the previous batch and reads
 * the next (two batches in flight). Output stays in order, and on decryption
 * a chunk is released only if it and every chunk before it authenticated.
 * Memory is two batches, whatever the size of the input.
 */

#define MAX_THREADS 64
#define CHUNKS_PER_THREAD 8
#define MIN_BATCH 8
#define MAX_BATCH 64 /* two batches of 64 chunks in and out: 16 MiB */

enum chunk_state { CHUNK_OK = 0, CHUNK_AUTH, CHUNK_TRUNCATED, CHUNK_TRAILING, CHUNK_EMPTY,
	CHUNK_ERROR };

struct batch {
	uint8_t *data;               /* n slots of AGE_ENC_CHUNK_BYTES */
	uint8_t *out;                /* decryption output slots; == data when sealing */
	size_t len[MAX_BATCH];       /* input bytes in each slot */
	size_t out_len[MAX_BATCH];   /* output bytes in each slot */
	uint8_t last[MAX_BATCH];     /* 1 if the slot holds the final chunk */
	uint8_t state[MAX_BATCH];
	uint64_t counter;            /* chunk number of slot 0 */
	size_t n;
	int has_last;
};

struct pool;

struct worker {
	struct pool *pool;
	pthread_t thread;
	pqx_aead *aead;
	int started;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct batch *job;      /* the batch being processed, or NULL */
	size_t next, finished;  /* slots handed out / finished in job */
	uint64_t generation;    /* bumps with every new job */
	int decrypt, quit;
	struct worker workers[MAX_THREADS];
	unsigned int nthreads;
	pqx_aead *self;         /* the main thread's own cipher, for 1 thread */
};

static void chunk_nonce(uint8_t nonce[12], uint64_t counter, int last)
{
	memset(nonce, 0, 3);
	pqx_store64_be(nonce + 3, counter);
	nonce[11] = (uint8_t)(last ? 1 : 0);
}

static void seal_chunk(pqx_aead *a, struct batch *b, size_t i)
{
	uint8_t nonce[12], *p = b->data + i * AGE_ENC_CHUNK_BYTES;

	chunk_nonce(nonce, b->counter + i, b->last[i]);
	if (pqx_aead_seal(a, p, nonce, NULL, 0, p, b->len[i]) != 0) {
		b->state[i] = CHUNK_ERROR;
		return;
	}
	b->out_len[i] = b->len[i] + AGE_TAG_BYTES;
	b->state[i] = CHUNK_OK;
}

/*
 * Opens one chunk out of place (a failed open wipes its output, and the
 * ciphertext must survive for reclassify).
 */
static void open_chunk(pqx_aead *a, struct batch *b, size_t i)
{
	uint8_t nonce[12];
	const uint8_t *p = b->data + i * AGE_ENC_CHUNK_BYTES;
	uint64_t counter = b->counter + i;
	size_t len = b->len[i];

	b->out_len[i] = 0;
	if (len < AGE_TAG_BYTES) {
		b->state[i] = CHUNK_TRUNCATED;
		return;
	}
	chunk_nonce(nonce, counter, b->last[i]);
	if (pqx_aead_open(a, b->out + i * PQX_AGE_CHUNK_BYTES, nonce, NULL, 0, p, len) == 0) {
		b->out_len[i] = len - AGE_TAG_BYTES;
		/* An empty final chunk is allowed only for an empty payload. */
		b->state[i] = (b->last[i] && len == AGE_TAG_BYTES && counter != 0) ? CHUNK_EMPTY
										 : CHUNK_OK;
		return;
	}
	b->state[i] = CHUNK_AUTH;
}

/*
 * The final chunk is known only from where the input ends, so after a
 * failed open a full chunk is tried with the other flag, to tell a file
 * truncated at a chunk boundary, or a final chunk followed by more data,
 * from tampering. Such a chunk did authenticate, so it is released (as age
 * does) before the error.
 */
static int reclassify(pqx_aead *a, struct batch *b, size_t i)
{
	uint8_t nonce[12];
	const uint8_t *p = b->data + i * AGE_ENC_CHUNK_BYTES;

	if (b->len[i] != AGE_ENC_CHUNK_BYTES)
		return CHUNK_AUTH;
	chunk_nonce(nonce, b->counter + i, !b->last[i]);
	if (pqx_aead_open(a, b->out + i * PQX_AGE_CHUNK_BYTES, nonce, NULL, 0, p,
		b->len[i]) != 0)
		return CHUNK_AUTH;
	b->out_len[i] = PQX_AGE_CHUNK_BYTES;
	return b->last[i] ? CHUNK_TRUNCATED : CHUNK_TRAILING;
}

static void process(struct pool *p, pqx_aead *a, struct batch *b, size_t i)
{
	if (p->decrypt)
		open_chunk(a, b, i);
	else
		seal_chunk(a, b, i);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	uint64_t seen = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && (p->job == NULL || p->generation == seen ||
		    p->next >= p->job->n))
			pthread_cond_wait(&p->work, &p->mu);
		if (p->quit)
			break;
		/* Take slots one by one until the batch is handed out. */
		while (p->job != NULL && p->next < p->job->n) {
			struct batch *b = p->job;
			size_t i = p->next++;

			pthread_mutex_unlock(&p->mu);
			process(p, w->aead, b, i);
			pthread_mutex_lock(&p->mu);
			if (++p->finished == b->n)
				pthread_cond_signal(&p->done);
		}
		seen = p->generation;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pool_submit(struct pool *p, struct batch *b)
{
	if (p->nthreads <= 1) {
		for (size_t i = 0; i < b->n; i++)
			process(p, p->self, b, i);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->job = b;
	p->next = p->finished = 0;
	p->generation++;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

static void pool_wait(struct pool *p)
{
	if (p->nthreads <= 1)
		return;
	pthread_mutex_lock(&p->mu);
	while (p->job != NULL && p->finished < p->job->n)
		pthread_cond_wait(&p->done, &p->mu);
	p->job = NULL;
	pthread_mutex_unlock(&p->mu);
}

static void pool_stop(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned int i = 0; i < p->nthreads; i++) {
		if (p->workers[i].started)
			pthread_join(p->workers[i].thread, NULL);
		pqx_aead_free(p->workers[i].aead);
	}
	pqx_aead_free(p->self);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
}

static unsigned int thread_count(const pqx_age_options *opt)
{
	long n = opt != NULL && opt->threads > 0 ? (long)opt->threads
						   : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n > MAX_THREADS ? MAX_THREADS : (unsigned int)n;
}

static int pool_start(struct pool *p, const uint8_t key[32], int decrypt,
    const pqx_age_options *opt)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->decrypt = decrypt;
	p->nthreads = thread_count(opt);
	if ((p->self = pqx_aead_new(PQX_AEAD_CHACHA20_POLY1305, key)) == NULL)
		return PQX_ERR_NOMEM;
	if (p->nthreads <= 1)
		return 0;
	for (unsigned int i = 0; i < p->nthreads; i++) {
		struct worker *w = &p->workers[i];

		w->pool = p;
		if ((w->aead = pqx_aead_new(PQX_AEAD_CHACHA20_POLY1305, key)) == NULL)
			return PQX_ERR_NOMEM;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return PQX_ERR_NOMEM;
		w->started = 1;
	}
	return 0;
}

struct stream {
	struct pool pool;
	struct batch batch[2];
	size_t cap;           /* slots per batch */
	size_t slot_in;       /* input bytes per full slot */
	uint8_t carry;        /* one byte read ahead to find the end */
	int has_carry, eof;
	uint64_t counter, done;
};

static int stream_init(struct stream *s, const uint8_t key[32], int decrypt,
    const pqx_age_options *opt)
{
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = pool_start(&s->pool, key, decrypt, opt)) != 0)
		return r;
	s->cap = s->pool.nthreads * CHUNKS_PER_THREAD;
	s->cap = s->cap < MIN_BATCH ? MIN_BATCH : s->cap > MAX_BATCH ? MAX_BATCH : s->cap;
	s->slot_in = decrypt ? AGE_ENC_CHUNK_BYTES : PQX_AGE_CHUNK_BYTES;
	for (int i = 0; i < 2; i++) {
		struct batch *b = &s->batch[i];

		if ((b->data = pqx_malloc(s->cap * AGE_ENC_CHUNK_BYTES)) == NULL)
			return PQX_ERR_NOMEM;
		b->out = b->data;
		if (decrypt && (b->out = pqx_malloc(s->cap * PQX_AGE_CHUNK_BYTES)) == NULL)
			return PQX_ERR_NOMEM;
	}
	return 0;
}

static void stream_free(struct stream *s)
{
	pool_stop(&s->pool);
	for (int i = 0; i < 2; i++) {
		struct batch *b = &s->batch[i];

		if (b->out != b->data)
			pqx_free_wipe(b->out, s->cap * PQX_AGE_CHUNK_BYTES);
		pqx_free_wipe(b->data, s->cap * AGE_ENC_CHUNK_BYTES);
	}
	pqx_wipe(s, sizeof(*s));
}

/*
 * Fills a batch with up to cap chunks. A slot that is short, or full and
 * followed by the end of input, holds the final chunk; to know which, one
 * byte past every full slot is read ahead and carried into the next.
 */
static int stream_fill(struct stream *s, pqx_reader *in, struct batch *b)
{
	size_t got;
	int r;

	b->n = 0;
	b->has_last = 0;
	b->counter = s->counter;
	while (b->n < s->cap && !s->eof) {
		uint8_t *p = b->data + b->n * AGE_ENC_CHUNK_BYTES;
		size_t len = 0;

		if (s->has_carry) {
			p[len++] = s->carry;
			s->has_carry = 0;
		}
		if ((r = pqx_read_full(in, p + len, s->slot_in - len, &got)) != 0)
			return r;
		len += got;
		b->len[b->n] = len;
		b->last[b->n] = 0;
		if (len == s->slot_in) {
			if ((r = pqx_read_full(in, &s->carry, 1, &got)) != 0)
				return r;
			s->has_carry = got == 1;
		}
		if (!s->has_carry) {
			b->last[b->n] = 1;
			b->has_last = 1;
			s->eof = 1;
		}
		b->n++;
	}
	s->counter += b->n;
	return 0;
}

/* Writes a processed batch in order; returns the first chunk's error, if any. */
static int stream_flush(struct stream *s, struct batch *b, pqx_writer *out,
    const pqx_age_options *opt)
{
	size_t i, bytes = 0;
	int r, st = CHUNK_OK;

	/*
	 * Every slot but the last of a batch is full, and slots are adjacent, so
	 * the chunks released (all that verified, in order, up to the first
	 * failure) leave in one write.
	 */
	for (i = 0; i < b->n && st == CHUNK_OK; i++) {
		st = b->state[i];
		if (st == CHUNK_AUTH && s->pool.decrypt)
			st = reclassify(s->pool.self, b, i);
		if (st == CHUNK_AUTH)
			break;
		bytes += b->out_len[i];
		s->done += s->pool.decrypt ? b->out_len[i] : b->len[i];
	}
	if (bytes > 0 && (r = out->write(out->ctx, b->out, bytes)) != 0)
		return r;
	if (opt != NULL && opt->progress != NULL)
		opt->progress(opt->progress_ctx, s->done);
	switch (st) {
	case CHUNK_OK: return 0;
	case CHUNK_AUTH:
		return age_fail(PQX_ERR_AUTH, "payload: chunk %llu failed to authenticate",
		    (unsigned long long)(b->counter + i));
	case CHUNK_TRUNCATED:
		return age_fail(PQX_ERR_TRUNCATED, "payload: the file ends before its final chunk");
	case CHUNK_TRAILING:
		return age_fail(PQX_ERR_TRAILING, "payload: data after the final chunk");
	case CHUNK_EMPTY:
		return age_fail(PQX_ERR_FORMAT, "payload: empty final chunk");
	default:
		return PQX_ERR_INTERNAL;
	}
}

static int stream_run(const uint8_t key[32], int decrypt, pqx_reader *in, pqx_writer *out,
    const pqx_age_options *opt)
{
	struct stream *s;
	struct batch *cur, *next;
	int r, submitted = 0;

	if ((s = pqx_calloc(1, sizeof(*s))) == NULL)
		return PQX_ERR_NOMEM;
	if ((r = stream_init(s, key, decrypt, opt)) != 0)
		goto out;
	cur = &s->batch[0];
	next = &s->batch[1];
	if ((r = stream_fill(s, in, cur)) != 0)
		goto out;
	if (decrypt && cur->n == 1 && cur->len[0] == 0) {
		r = age_fail(PQX_ERR_TRUNCATED, "payload: no chunks after the header");
		goto out;
	}
	pool_submit(&s->pool, cur);
	submitted = 1;
	for (;;) {
		/* Read the next batch while the workers process this one. */
		if (!s->eof && (r = stream_fill(s, in, next)) != 0)
			goto out;
		pool_wait(&s->pool);
		submitted = 0;
		if ((r = stream_flush(s, cur, out, opt)) != 0)
			goto out;
		if (cur->has_last)
			break;
		pool_submit(&s->pool, next);
		submitted = 1;
		cur = next;
		next = (cur == &s->batch[0]) ? &s->batch[1] : &s->batch[0];
	}
	r = 0;
out:
	if (submitted)
		pool_wait(&s->pool);
	stream_free(s);
	pqx_free(s);
	return r;
}

int age_stream_encrypt(const uint8_t key[32], pqx_reader *in, pqx_writer *out,
    const pqx_age_options *opt)
{
	return stream_run(key, 0, in, out, opt);
}

int age_stream_decrypt(const uint8_t key[32], pqx_reader *in, pqx_writer *out,
    const pqx_age_options *opt)
{
	return stream_run(key, 1, in, out, opt);
}
