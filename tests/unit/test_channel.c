/* pqx tests: the secure channel: handshakes, ciphers, records, rekeying, refusals, impostors, tampering, timeouts, faults. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqx/channel.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>

#include "crypto/ossl.h"
#include "harness.h"
#include "util/util.h"

/*
 * Two transports. Over a socketpair, with the server in a thread, for what
 * depends on real sockets: byte counters, timeouts, large records, SIGPIPE.
 * In memory, single-threaded, for everything that must be exact: each side
 * of a handshake is run from the start as often as needed ("lockstep"),
 * with a fixed random stream, so that it writes the same bytes every time;
 * a side's run ends when it reads past what the other side wrote so far.
 * That makes it cheap to put a man in the middle at any byte of any message,
 * and to hand-edit a record stream between two live channels.
 *
 * Impostors and hand-made messages come from a small second implementation
 * of the handshake in this file (the tp_ functions), written from
 * docs/PROTOCOL.md; an honest run of it against the library is the control
 * that shows the impostors fail only for want of a secret.
 */

#define PK PQX_XWING_PUBLIC_KEY_BYTES
#define CT PQX_XWING_CIPHERTEXT_BYTES
#define TAG 16
#define MAX_REC PQX_CHANNEL_MAX_RECORD
#define MSG0_BYTES (2 + PK)
#define FRAME0_BYTES (4 + MSG0_BYTES)

#define CHECK_RC(r, want)                                                            \
	CHECK((r) == (want), "%s = %d (%s), want %d (%s)", #r, (r), pqx_strerror(r), \
	    (want), pqx_strerror(want))

static uint8_t seed_s[32], seed_c[32], seed_x[32]; /* server, client, a stranger */
static uint8_t pk_s[PK], pk_c[PK], pk_x[PK];

static const uint8_t chacha_only[] = { PQX_CHANNEL_CHACHA20_POLY1305, 0 };
static const uint8_t aes_only[] = { PQX_CHANNEL_AES_256_GCM, 0 };
static const uint8_t aes_chacha[] = { PQX_CHANNEL_AES_256_GCM, PQX_CHANNEL_CHACHA20_POLY1305, 0 };
static const uint8_t chacha_aes[] = { PQX_CHANNEL_CHACHA20_POLY1305, PQX_CHANNEL_AES_256_GCM, 0 };
static const uint8_t no_ciphers[] = { 0 };

static void keys_init(void)
{
	static const char *labels[3] = { "pqx test_channel server", "pqx test_channel client",
		"pqx test_channel stranger" };
	uint8_t *seeds[3] = { seed_s, seed_c, seed_x }, *pks[3] = { pk_s, pk_c, pk_x };

	for (int i = 0; i < 3; i++) {
		pqx_shake128(seeds[i], 32, (const uint8_t *)labels[i], strlen(labels[i]));
		if (pqx_xwing_public_key(pks[i], seeds[i]) != 0)
			abort();
	}
}

/* ---- fixed randomness ------------------------------------------------- */

/* SHAKE128(label) as opts.random; fails the fail_at-th call (1-based) if set. */
struct frand {
	pqx_keccak_ctx k;
	const char *label;
	int calls, fail_at;
};

static void frand_reset(struct frand *r)
{
	pqx_shake128_init(&r->k);
	pqx_keccak_absorb(&r->k, (const uint8_t *)r->label, strlen(r->label));
	r->calls = 0;
}

static int frand_cb(void *ctx, uint8_t *out, size_t n)
{
	struct frand *r = ctx;

	if (++r->calls == r->fail_at)
		return -1;
	pqx_keccak_squeeze(&r->k, out, n);
	return 0;
}

/* ---- the memory transport --------------------------------------------- */

/* Bytes one side wrote and the other has not read yet. */
struct queue {
	uint8_t *p;
	size_t len, off, cap;
};

static void q_put(struct queue *q, const uint8_t *d, size_t n)
{
	if (q->off == q->len)
		q->off = q->len = 0;
	if (q->len + n > q->cap) {
		size_t cap = (q->len + n) * 2 + 4096;

		if ((q->p = realloc(q->p, cap)) == NULL)
			abort();
		q->cap = cap;
	}
	if (n > 0)
		memcpy(q->p + q->len, d, n);
	q->len += n;
}

static void q_clear(struct queue *q)
{
	q->len = q->off = 0;
}

static void q_free(struct queue *q)
{
	free(q->p);
	memset(q, 0, sizeof(*q));
}

static size_t q_avail(const struct queue *q)
{
	return q->len - q->off;
}

/* Reads come from in (the end is PQX_ERR_TRUNCATED), writes go to out. */
struct mem {
	struct queue *in, *out;
	long writes_left; /* the write after this many fails (PQX_ERR_IO); -1: never */
	uint64_t bytes_out;
};

static int mem_read(void *ctx, uint8_t *buf, size_t n)
{
	struct mem *m = ctx;

	if (q_avail(m->in) < n) {
		m->in->off = m->in->len;
		return PQX_ERR_TRUNCATED;
	}
	memcpy(buf, m->in->p + m->in->off, n);
	m->in->off += n;
	return 0;
}

static int mem_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct mem *m = ctx;

	if (m->writes_left == 0)
		return PQX_ERR_IO;
	if (m->writes_left > 0)
		m->writes_left--;
	q_put(m->out, buf, n);
	m->bytes_out += n;
	return 0;
}

static void mem_io(pqx_channel_io *io, struct mem *m, struct queue *in, struct queue *out)
{
	memset(m, 0, sizeof(*m));
	m->in = in;
	m->out = out;
	m->writes_left = -1;
	io->read = mem_read;
	io->write = mem_write;
	io->ctx = m;
}

/* ---- callbacks -------------------------------------------------------- */

struct pin {
	const uint8_t *key;
	int calls;
};

static int check_pin(void *ctx, const uint8_t key[PK])
{
	struct pin *p = ctx;

	p->calls++;
	return memcmp(key, p->key, PK) == 0 ? 0 : PQX_ERR_PEER_KEY;
}

struct auth {
	const uint8_t *allowed; /* NULL: nobody */
	int calls;
	uint8_t seen[PK];
};

static int check_auth(void *ctx, const uint8_t key[PK])
{
	struct auth *a = ctx;

	a->calls++;
	memcpy(a->seen, key, PK);
	return a->allowed != NULL && memcmp(key, a->allowed, PK) == 0 ? 0 : PQX_ERR_REFUSED;
}

/* ---- lockstep handshakes in memory ------------------------------------ */

/* One side's configuration; runs start from a fresh random stream each time. */
struct side {
	const uint8_t *seed;
	pqx_channel_opts opts;
	struct frand rnd;
	struct pin pin;
	struct auth auth;
};

static void side_init(struct side *sd, const uint8_t *seed, const char *label,
    const uint8_t *ciphers)
{
	memset(sd, 0, sizeof(*sd));
	sd->seed = seed;
	sd->rnd.label = label;
	sd->opts.ciphers = ciphers;
	sd->opts.random = frand_cb;
	sd->opts.random_ctx = &sd->rnd;
}

static size_t last_unread; /* what the last side_run left of its input */

/* A client that pins the real server's key (checked on message 0). */
static void pinned_client(struct side *sd, const char *label)
{
	side_init(sd, seed_c, label, chacha_only);
	sd->pin.key = pk_s;
	sd->opts.check_server = check_pin;
	sd->opts.ctx = &sd->pin;
}

/* Runs one side from the start over in (read from offset 0); its output goes to out. */
static int side_run(struct side *sd, int server, const struct queue *in, struct queue *out,
    struct mem *m, pqx_channel **ch)
{
	static struct queue copy;
	pqx_channel_io io;
	pqx_channel *tmp = NULL;
	int r;

	q_clear(&copy);
	q_put(&copy, in->p, in->len);
	q_clear(out);
	frand_reset(&sd->rnd);
	mem_io(&io, m, &copy, out);
	r = server ? pqx_channel_server(&tmp, &io, sd->seed, &sd->opts) :
		     pqx_channel_client(&tmp, &io, sd->seed, &sd->opts);
	if (r != 0 && tmp != NULL)
		t_fail(__FILE__, __LINE__, "a failed handshake left a channel");
	last_unread = q_avail(&copy);
	if (ch != NULL)
		*ch = tmp;
	else
		pqx_channel_free(tmp);
	return r;
}

/* The length of the frame at the start of q's unread bytes, or 0. */
static size_t frame_len(const uint8_t *p, size_t avail)
{
	size_t n;

	if (avail < 4)
		return 0;
	n = 4 + (size_t)pqx_load32_be(p);
	return n <= avail ? n : 0;
}

/* The frames of an untampered handshake between two sides. */
struct transcript {
	struct queue f[4];
};

/* A tamper: XOR mask into byte pos of frame msg (-1: none). */
struct flip {
	int msg;
	size_t pos;
	uint8_t mask;
};

struct lockstep {
	struct side *c, *s;
	int rc_c, rc_s;       /* 0: done; else the error (a side the other stopped: TRUNCATED) */
	pqx_channel *ch_c, *ch_s; /* both set when both sides succeed */
	struct mem mc, ms;    /* the final runs' transports (the channels keep them) */
	struct queue in_c, in_s, out_c, out_s;
	struct queue f[4];    /* the frames as sent (before any tamper) */
	int reached;          /* the last message a side sent */
};

static void put_frame(struct queue *q, const struct queue *frame, const struct flip *fl, int msg)
{
	size_t start = q->len;

	q_put(q, frame->p, frame->len);
	if (fl != NULL && fl->msg == msg && fl->pos < frame->len)
		q->p[start + fl->pos] ^= fl->mask;
}

/* Splits what a side wrote into its frames; returns how many. */
static int split_frames(const struct queue *out, struct queue *a, struct queue *b)
{
	size_t n0 = frame_len(out->p, out->len), n1;

	q_clear(a);
	q_clear(b);
	if (n0 == 0)
		return 0;
	q_put(a, out->p, n0);
	n1 = frame_len(out->p + n0, out->len - n0);
	if (n1 == 0)
		return 1;
	q_put(b, out->p + n0, n1);
	return 2;
}

/*
 * Runs a whole handshake in lockstep, with an optional tamper in flight.
 * When keep is set and both sides succeed, ls->ch_c and ls->ch_s are live
 * channels over ls->mc and ls->ms (reconnect them with pair_connect).
 */
static void lockstep_run(struct lockstep *ls, const struct flip *fl, int keep)
{
	struct queue tmp = { 0 }, f1b = { 0 };
	int r, server_waiting;

	pqx_channel_free(ls->ch_c);
	pqx_channel_free(ls->ch_s);
	ls->ch_c = ls->ch_s = NULL;
	ls->rc_c = ls->rc_s = PQX_ERR_TRUNCATED;
	ls->reached = -1;
	for (int i = 0; i < 4; i++)
		q_clear(&ls->f[i]);

	/* The server opens with message 0, then waits for message 1. */
	q_clear(&ls->in_s);
	r = side_run(ls->s, 1, &ls->in_s, &ls->out_s, &ls->ms, NULL);
	if (split_frames(&ls->out_s, &ls->f[0], &tmp) != 1) {
		ls->rc_s = r;
		goto out;
	}
	ls->reached = 0;
	/* The client answers with message 1, then waits for message 2. */
	q_clear(&ls->in_c);
	put_frame(&ls->in_c, &ls->f[0], fl, 0);
	r = side_run(ls->c, 0, &ls->in_c, &ls->out_c, &ls->mc, NULL);
	if (split_frames(&ls->out_c, &ls->f[1], &tmp) != 1) {
		ls->rc_c = r;
		goto out;
	}
	ls->reached = 1;
	/* The server: message 2, then it waits for message 3 (or it refused). */
	q_clear(&ls->in_s);
	put_frame(&ls->in_s, &ls->f[1], fl, 1);
	r = side_run(ls->s, 1, &ls->in_s, &ls->out_s, &ls->ms, NULL);
	if (split_frames(&ls->out_s, &tmp, &ls->f[2]) != 2) {
		ls->rc_s = r;
		goto out;
	}
	ls->reached = 2;
	server_waiting = r == PQX_ERR_TRUNCATED;
	if (!server_waiting)
		ls->rc_s = r;
	/* The client: message 3 and done, or it fails. */
	put_frame(&ls->in_c, &ls->f[2], fl, 2);
	ls->rc_c = side_run(ls->c, 0, &ls->in_c, &ls->out_c, &ls->mc, keep ? &ls->ch_c : NULL);
	if (split_frames(&ls->out_c, &f1b, &ls->f[3]) < 1 || f1b.len != ls->f[1].len ||
	    memcmp(f1b.p, ls->f[1].p, f1b.len) != 0)
		t_fail(__FILE__, __LINE__, "the client's message 1 changed between runs");
	if (ls->rc_c != 0 || !server_waiting)
		goto out;
	ls->reached = 3;
	put_frame(&ls->in_s, &ls->f[3], fl, 3);
	ls->rc_s = side_run(ls->s, 1, &ls->in_s, &ls->out_s, &ls->ms, keep ? &ls->ch_s : NULL);
	if (ls->rc_s == 0 && last_unread != 0)
		t_fail(__FILE__, __LINE__, "the server left input unread");
out:
	q_free(&tmp);
	q_free(&f1b);
	if (ls->ch_c == NULL || ls->ch_s == NULL) {
		pqx_channel_free(ls->ch_c);
		pqx_channel_free(ls->ch_s);
		ls->ch_c = ls->ch_s = NULL;
	}
}

static void lockstep_free(struct lockstep *ls)
{
	pqx_channel_free(ls->ch_c);
	pqx_channel_free(ls->ch_s);
	q_free(&ls->in_c);
	q_free(&ls->in_s);
	q_free(&ls->out_c);
	q_free(&ls->out_s);
	for (int i = 0; i < 4; i++)
		q_free(&ls->f[i]);
}

/* Two live channels joined by two queues. */
struct pair {
	struct side c, s;
	struct lockstep ls;
	struct queue c2s, s2c;
	pqx_channel *c_ch, *s_ch;
};

static int pair_open(struct pair *p, const uint8_t *c_ciphers, const uint8_t *s_ciphers)
{
	memset(p, 0, sizeof(*p));
	side_init(&p->c, seed_c, "pair client", c_ciphers);
	side_init(&p->s, seed_s, "pair server", s_ciphers);
	p->ls.c = &p->c;
	p->ls.s = &p->s;
	lockstep_run(&p->ls, NULL, 1);
	if (p->ls.ch_c == NULL)
		return -1;
	p->c_ch = p->ls.ch_c;
	p->s_ch = p->ls.ch_s;
	p->ls.ch_c = p->ls.ch_s = NULL;
	/* The channels keep pointers to ls.mc and ls.ms: rewire those. */
	p->ls.mc.in = &p->s2c;
	p->ls.mc.out = &p->c2s;
	p->ls.ms.in = &p->c2s;
	p->ls.ms.out = &p->s2c;
	return 0;
}

static void pair_close(struct pair *p)
{
	pqx_channel_free(p->c_ch);
	pqx_channel_free(p->s_ch);
	lockstep_free(&p->ls);
	q_free(&p->c2s);
	q_free(&p->s2c);
}

/* ---- a second implementation of the handshake (test side) ------------- */

struct sym {
	uint8_t h[32], ck[32], k[32];
	uint64_t n;
};

static void sym_hash(struct sym *s, const uint8_t *d, size_t n)
{
	uint8_t *in = malloc(32 + n);

	if (in == NULL)
		abort();
	memcpy(in, s->h, 32);
	if (n > 0)
		memcpy(in + 32, d, n);
	if (pqx_sha256(s->h, in, 32 + n) != 0)
		abort();
	free(in);
}

static void sym_init(struct sym *s)
{
	static const char name[] = "pqx-channel-v1 X-Wing HKDF-SHA256";

	memset(s, 0, sizeof(*s));
	if (pqx_sha256(s->h, (const uint8_t *)name, sizeof(name) - 1) != 0)
		abort();
	memcpy(s->ck, s->h, 32);
}

static void sym_key(struct sym *s, const uint8_t ss[32])
{
	uint8_t out[64];

	if (pqx_hkdf_sha256(out, 64, s->ck, 32, ss, 32, (const uint8_t *)"pqx mix", 7) != 0)
		abort();
	memcpy(s->ck, out, 32);
	memcpy(s->k, out + 32, 32);
	s->n = 0;
}

static void nonce_of(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	pqx_store64_be(nonce + 4, n);
}

static void sym_encrypt(struct sym *s, uint8_t *c, const uint8_t *p, size_t n)
{
	uint8_t nonce[12];

	nonce_of(nonce, s->n++);
	if (pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, s->k, c, nonce, s->h, 32, p, n) != 0)
		abort();
	sym_hash(s, c, n + TAG);
}

static int sym_decrypt(struct sym *s, uint8_t *p, const uint8_t *c, size_t n)
{
	uint8_t nonce[12];
	int r;

	nonce_of(nonce, s->n++);
	r = pqx_aead_open_once(PQX_AEAD_CHACHA20_POLY1305, s->k, p, nonce, s->h, 32, c, n);
	sym_hash(s, c, n);
	return r;
}

static void put_u32(struct queue *q, size_t v)
{
	uint8_t b[4];

	pqx_store32_be(b, (uint32_t)v);
	q_put(q, b, 4);
}

/* Message 0 with any key and version, as a frame appended to q. */
static void tp_msg0(struct queue *q, const uint8_t key[PK], uint8_t version)
{
	uint8_t hdr[2] = { 0, version };

	put_u32(q, MSG0_BYTES);
	q_put(q, hdr, 2);
	q_put(q, key, PK);
}

/*
 * The test-side server: reads message 1 (frame body m1), writes message 2 as
 * a frame to out. It decapsulates CT1 with dseed (the real server's seed,
 * or an impostor's); the client's key is taken from C when it decrypts,
 * else it is the guess (an impostor who knows the client's public key).
 */
struct tp_server {
	struct sym s;
	uint8_t cs[PK];
	int decrypted;
};

static void tp_msg2(struct tp_server *sv, struct queue *out, const uint8_t m0[MSG0_BYTES],
    const uint8_t *m1, size_t n1, const uint8_t dseed[32], const uint8_t *guess,
    uint8_t status, uint8_t cipher)
{
	uint8_t ss[32], eseed[64], ct2[CT], ct3[CT], ts[TAG], hdr[3] = { 2, status, cipher };
	size_t count = m1[2], off = 3 + count;

	if (n1 != 3 + count + PK + CT + PK + TAG)
		abort();
	sym_init(&sv->s);
	sym_hash(&sv->s, m0, MSG0_BYTES);
	sym_hash(&sv->s, m1, off);
	sym_hash(&sv->s, m1 + off, PK);
	sym_hash(&sv->s, m1 + off + PK, CT);
	if (pqx_xwing_decaps(ss, m1 + off + PK, dseed) != 0)
		abort();
	sym_key(&sv->s, ss);
	sv->decrypted = sym_decrypt(&sv->s, sv->cs, m1 + off + PK + CT, PK + TAG) == 0;
	if (!sv->decrypted)
		memcpy(sv->cs, guess, PK);
	sym_hash(&sv->s, hdr, 3);
	if (status == 0) {
		t_rand(eseed, 64);
		if (pqx_xwing_encaps_derand(ct2, ss, m1 + off, eseed) != 0)
			abort();
		sym_hash(&sv->s, ct2, CT);
		sym_key(&sv->s, ss);
		t_rand(eseed, 64);
		if (pqx_xwing_encaps_derand(ct3, ss, sv->cs, eseed) != 0)
			abort();
		sym_hash(&sv->s, ct3, CT);
		sym_key(&sv->s, ss);
	}
	sym_encrypt(&sv->s, ts, NULL, 0);
	put_u32(out, 3 + (status == 0 ? 2 * CT : 0) + TAG);
	q_put(out, hdr, 3);
	if (status == 0) {
		q_put(out, ct2, CT);
		q_put(out, ct3, CT);
	}
	q_put(out, ts, TAG);
}

/*
 * The test-side client: message 1 claiming the key claim; message 3 from
 * message 2, decapsulating CT3 with sseed (the claim's real seed, or an
 * impostor's own, which gives a wrong ss3).
 */
struct tp_client {
	struct sym s;
	uint8_t eseed[32], epk[PK];
	int ts_ok;
};

static void tp_msg1(struct tp_client *cl, struct queue *out, const uint8_t m0[MSG0_BYTES],
    const uint8_t *ciphers, size_t count, uint8_t version, const uint8_t claim[PK])
{
	uint8_t hdr[3 + 255], ct1[CT], ss[32], rnd[64], c[PK + TAG];

	sym_init(&cl->s);
	sym_hash(&cl->s, m0, MSG0_BYTES);
	hdr[0] = 1;
	hdr[1] = version;
	hdr[2] = (uint8_t)count;
	memcpy(hdr + 3, ciphers, count);
	sym_hash(&cl->s, hdr, 3 + count);
	t_rand(cl->eseed, 32);
	if (pqx_xwing_public_key(cl->epk, cl->eseed) != 0)
		abort();
	sym_hash(&cl->s, cl->epk, PK);
	t_rand(rnd, 64);
	if (pqx_xwing_encaps_derand(ct1, ss, m0 + 2, rnd) != 0)
		abort();
	sym_hash(&cl->s, ct1, CT);
	sym_key(&cl->s, ss);
	sym_encrypt(&cl->s, c, claim, PK);
	put_u32(out, 3 + count + PK + CT + PK + TAG);
	q_put(out, hdr, 3 + count);
	q_put(out, cl->epk, PK);
	q_put(out, ct1, CT);
	q_put(out, c, PK + TAG);
}

static void tp_msg3(struct tp_client *cl, struct queue *out, const uint8_t *m2, size_t n2,
    const uint8_t sseed[32])
{
	uint8_t ss[32], tc[TAG], empty[1], type = 3;

	if (n2 != 3 + 2 * CT + TAG || m2[1] != 0)
		abort();
	sym_hash(&cl->s, m2, 3);
	sym_hash(&cl->s, m2 + 3, CT);
	if (pqx_xwing_decaps(ss, m2 + 3, cl->eseed) != 0)
		abort();
	sym_key(&cl->s, ss);
	sym_hash(&cl->s, m2 + 3 + CT, CT);
	if (pqx_xwing_decaps(ss, m2 + 3 + CT, sseed) != 0)
		abort();
	sym_key(&cl->s, ss);
	cl->ts_ok = sym_decrypt(&cl->s, empty, m2 + 3 + 2 * CT, TAG) == 0;
	sym_hash(&cl->s, &type, 1);
	sym_encrypt(&cl->s, tc, NULL, 0);
	put_u32(out, 1 + TAG);
	q_put(out, &type, 1);
	q_put(out, tc, TAG);
}

/* ---- the socket transport, with the server (or a client) in a thread -- */

struct sock_peer {
	int fd, server;
	const uint8_t *seed;
	pqx_socket_io sio;
	pqx_channel_io io;
	pqx_channel_opts opts;
	pqx_channel *ch;
	int rc, after_rc;
	void (*after)(struct sock_peer *); /* in the thread, after a good handshake */
	struct pin pin;
	struct auth auth;
	pthread_t thread;
	int started;
};

static void sock_peer_init(struct sock_peer *p, int fd, int server, const uint8_t *seed)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->server = server;
	p->seed = seed;
	p->sio.fd = fd;
	p->sio.timeout_ms = 5000; /* a hung test fails instead of hanging */
	pqx_channel_io_socket(&p->io, &p->sio);
	p->auth.allowed = pk_c;
	p->opts.authorize = server ? check_auth : NULL;
	p->opts.ctx = server ? (void *)&p->auth : (void *)&p->pin;
}

static void *sock_peer_main(void *arg)
{
	struct sock_peer *p = arg;

	p->rc = p->server ? pqx_channel_server(&p->ch, &p->io, p->seed, &p->opts) :
			    pqx_channel_client(&p->ch, &p->io, p->seed, &p->opts);
	if (p->rc == 0 && p->after != NULL)
		p->after(p);
	return NULL;
}

static void sock_peer_start(struct sock_peer *p)
{
	if (pthread_create(&p->thread, NULL, sock_peer_main, p) != 0)
		abort();
	p->started = 1;
}

static void sock_peer_join(struct sock_peer *p)
{
	if (p->started)
		pthread_join(p->thread, NULL);
	p->started = 0;
}

static void sock_peer_free(struct sock_peer *p)
{
	sock_peer_join(p);
	pqx_channel_free(p->ch);
	p->ch = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static void sockets(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
		abort();
}

/* A client (seed_c) and a server (server_seed) on the two ends of a socket pair. */
static void sock_pair(struct sock_peer *c, struct sock_peer *s, const uint8_t *server_seed)
{
	int fds[2];

	sockets(fds);
	sock_peer_init(s, fds[0], 1, server_seed);
	sock_peer_init(c, fds[1], 0, seed_c);
}

/* ---- tests: handshakes ------------------------------------------------ */

/* One data record each way and a close, over two live channels. */
static void exchange(pqx_channel *c, pqx_channel *s, const char *what)
{
	const uint8_t *d;
	size_t n;
	int r;

	r = pqx_channel_send(c, PQX_RECORD_DATA, (const uint8_t *)"ping", 4);
	CHECK_RC(r, 0);
	r = pqx_channel_recv(s, &d, &n);
	CHECK(r == 0 && n == 4 && memcmp(d, "ping", 4) == 0, "%s: client to server", what);
	r = pqx_channel_send(s, PQX_RECORD_DATA, (const uint8_t *)"pong!", 5);
	CHECK_RC(r, 0);
	r = pqx_channel_recv(c, &d, &n);
	CHECK(r == 0 && n == 5 && memcmp(d, "pong!", 5) == 0, "%s: server to client", what);
	r = pqx_channel_send(c, PQX_RECORD_CLOSE, NULL, 0);
	CHECK_RC(r, 0);
	r = pqx_channel_recv(s, &d, &n);
	CHECK(r == PQX_ERR_CLOSED, "%s: close gave %d", what, r);
}

static void test_handshake_sockets(void)
{
	static const struct {
		const char *name;
		const uint8_t *c, *s;
		uint8_t want; /* 0: the default list's first */
	} cases[] = {
		{ "defaults", NULL, NULL, 0 },
		{ "chacha forced", chacha_only, chacha_only, PQX_CHANNEL_CHACHA20_POLY1305 },
		{ "aes forced", aes_only, aes_only, PQX_CHANNEL_AES_256_GCM },
		{ "server prefers chacha", aes_chacha, chacha_aes, PQX_CHANNEL_CHACHA20_POLY1305 },
		{ "server prefers aes", chacha_aes, aes_chacha, PQX_CHANNEL_AES_256_GCM },
		{ "server runs chacha only", aes_chacha, chacha_only,
		    PQX_CHANNEL_CHACHA20_POLY1305 },
		{ "client offers aes only", aes_only, chacha_aes, PQX_CHANNEL_AES_256_GCM },
	};
	uint8_t ids[sizeof(cases) / sizeof(cases[0])][32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sock_peer c, s;
		uint8_t want = cases[i].want ? cases[i].want : pqx_channel_default_ciphers()[0];

		sock_pair(&c, &s, seed_s);
		s.opts.ciphers = cases[i].s;
		c.opts.ciphers = cases[i].c;
		c.pin.key = pk_s;
		c.opts.check_server = check_pin;
		sock_peer_start(&s);
		sock_peer_main(&c);
		sock_peer_join(&s);
		CHECK(c.rc == 0 && s.rc == 0, "%s: client %d, server %d", cases[i].name, c.rc, s.rc);
		if (c.rc == 0 && s.rc == 0) {
			CHECK(pqx_channel_cipher(c.ch) == want && pqx_channel_cipher(s.ch) == want,
			    "%s: cipher %d/%d, want %d", cases[i].name, pqx_channel_cipher(c.ch),
			    pqx_channel_cipher(s.ch), want);
			CHECK_EQ_MEM(pqx_channel_session_id(c.ch), pqx_channel_session_id(s.ch), 32,
			    "%s: session ids differ", cases[i].name);
			memcpy(ids[i], pqx_channel_session_id(c.ch), 32);
			CHECK_EQ_MEM(pqx_channel_peer_key(c.ch), pk_s, PK, "%s", cases[i].name);
			CHECK_EQ_MEM(pqx_channel_peer_key(s.ch), pk_c, PK, "%s", cases[i].name);
			CHECK(c.pin.calls == 1 && s.auth.calls == 1, "%s: callbacks", cases[i].name);
			CHECK_EQ_MEM(s.auth.seen, pk_c, PK, "%s: authorize saw another key",
			    cases[i].name);
			exchange(c.ch, s.ch, cases[i].name);
			/* Both counters of each side, against each other. */
			CHECK(c.sio.bytes_out == s.sio.bytes_in && s.sio.bytes_out == c.sio.bytes_in,
			    "%s: byte counters", cases[i].name);
		}
		sock_peer_free(&c);
		sock_peer_free(&s);
	}
	/* Fresh randomness: every session has its own id. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t j = 0; j < i; j++)
			CHECK(memcmp(ids[i], ids[j], 32) != 0, "sessions %zu and %zu share an id", i, j);
}

/* The same handshake in memory, deterministic: same ids for the same randomness. */
static void test_handshake_memory(void)
{
	const uint8_t *lists[2] = { chacha_only, aes_only };
	uint8_t id[2][32];

	for (int i = 0; i < 2; i++) {
		struct pair p, q;

		CHECK(pair_open(&p, lists[i], lists[i]) == 0, "handshake %d", i);
		CHECK(pair_open(&q, lists[i], lists[i]) == 0, "handshake %d again", i);
		if (p.c_ch != NULL && q.c_ch != NULL) {
			CHECK(pqx_channel_cipher(p.c_ch) == lists[i][0], "cipher %d", i);
			CHECK_EQ_MEM(pqx_channel_session_id(p.c_ch), pqx_channel_session_id(p.s_ch), 32);
			CHECK_EQ_MEM(pqx_channel_session_id(p.c_ch), pqx_channel_session_id(q.c_ch), 32,
			    "same randomness, different session");
			memcpy(id[i], pqx_channel_session_id(p.c_ch), 32);
			exchange(p.c_ch, p.s_ch, "memory");
		}
		pair_close(&p);
		pair_close(&q);
	}
	/* The cipher is in the transcript. */
	CHECK(memcmp(id[0], id[1], 32) != 0, "the cipher choice is not in the session id");
}

/* A close sent after a receive leaves the record received readable (the sender's close after DONE). */
static void test_close_keeps_received(void)
{
	static const uint8_t msg[] = "the last answers, still to be read";
	struct pair p;
	const uint8_t *d = NULL;
	size_t n = 0;
	int r;

	CHECK(pair_open(&p, chacha_only, chacha_only) == 0);
	if (p.c_ch != NULL) {
		r = pqx_channel_send(p.s_ch, PQX_RECORD_DATA, msg, sizeof(msg));
		CHECK_RC(r, 0);
		r = pqx_channel_recv(p.c_ch, &d, &n);
		CHECK(r == 0 && n == sizeof(msg));
		r = pqx_channel_send(p.c_ch, PQX_RECORD_CLOSE, NULL, 0);
		CHECK_RC(r, 0);
		CHECK(r == 0 && n == sizeof(msg) && memcmp(d, msg, n) == 0,
		    "the close overwrote the record received");
		r = pqx_channel_recv(p.s_ch, &d, &n);
		CHECK(r == PQX_ERR_CLOSED, "the server got %d, not the close", r);
	}
	pair_close(&p);
}

static void test_refused_by_authorize(void)
{
	struct sock_peer c, s;

	sock_pair(&c, &s, seed_s);
	s.auth.allowed = pk_x;
	sock_peer_start(&s);
	sock_peer_main(&c);
	sock_peer_join(&s);
	CHECK_RC(c.rc, PQX_ERR_REFUSED);
	CHECK_RC(s.rc, PQX_ERR_REFUSED);
	CHECK(c.ch == NULL && s.ch == NULL);
	CHECK(s.auth.calls == 1);
	CHECK_EQ_MEM(s.auth.seen, pk_c, PK, "authorize saw another key");
	/* The client sent message 1 and nothing after the refusal. */
	CHECK(c.sio.bytes_out == s.sio.bytes_in, "%llu vs %llu",
	    (unsigned long long)c.sio.bytes_out, (unsigned long long)s.sio.bytes_in);
	CHECK(c.sio.bytes_out == 4 + 3 + 1 + PK + CT + PK + TAG ||
	    c.sio.bytes_out == 4 + 3 + 2 + PK + CT + PK + TAG, "client sent %llu bytes",
	    (unsigned long long)c.sio.bytes_out);
	/* Message 2 is a refusal: type, status, cipher 0 and T_S only. */
	CHECK(c.sio.bytes_in == FRAME0_BYTES + 4 + 3 + TAG, "client read %llu bytes",
	    (unsigned long long)c.sio.bytes_in);
	sock_peer_free(&c);
	sock_peer_free(&s);
}

/* No cipher in common: the server refuses (authenticated, cipher 0) and says why. */
static void test_no_common_cipher(void)
{
	const uint8_t *clients[2] = { aes_only, no_ciphers };

	for (int i = 0; i < 2; i++) {
		struct sock_peer c, s;

		sock_pair(&c, &s, seed_s);
		s.opts.ciphers = chacha_only;
		c.opts.ciphers = clients[i];
		sock_peer_start(&s);
		sock_peer_main(&c);
		sock_peer_join(&s);
		CHECK_RC(s.rc, PQX_ERR_UNSUPPORTED);
		/* The client can't tell this refusal from "not authorized". */
		CHECK_RC(c.rc, PQX_ERR_REFUSED);
		CHECK(s.auth.calls == 0, "case %d: authorize was asked", i);
		CHECK(c.sio.bytes_in == FRAME0_BYTES + 4 + 3 + TAG, "case %d", i);
		sock_peer_free(&c);
		sock_peer_free(&s);
	}
}

static void test_check_server_refuses(void)
{
	/* A pinned key that is not the server's; then a server with another seed. */
	const uint8_t *pins[2] = { pk_x, pk_s }, *servers[2] = { seed_s, seed_x };

	for (int i = 0; i < 2; i++) {
		struct sock_peer c, s;

		sock_pair(&c, &s, servers[i]);
		c.pin.key = pins[i];
		c.opts.check_server = check_pin;
		sock_peer_start(&s);
		sock_peer_main(&c);
		close(c.fd); /* the server then sees the end of the stream */
		c.fd = -1;
		sock_peer_join(&s);
		CHECK_RC(c.rc, PQX_ERR_PEER_KEY);
		CHECK(c.pin.calls == 1);
		CHECK(c.sio.bytes_out == 0, "case %d: the client sent %llu bytes", i,
		    (unsigned long long)c.sio.bytes_out);
		CHECK(c.sio.bytes_in == FRAME0_BYTES, "case %d: read %llu", i,
		    (unsigned long long)c.sio.bytes_in);
		CHECK_RC(s.rc, PQX_ERR_TRUNCATED);
		CHECK(s.auth.calls == 0);
		sock_peer_free(&c);
		sock_peer_free(&s);
	}
}

/*
 * A key pinned in advance (opts.server_key): message 1 leaves before
 * message 0 comes, byte for byte the one sent after it, and the session
 * is the same; a message 0 with another key (or version) still ends it.
 */
static void test_pinned_in_advance(void)
{
	struct side c, u;
	struct queue in = { 0 }, out = { 0 }, m1 = { 0 };
	struct tp_server sv;
	struct mem m;
	pqx_channel *ch = NULL;
	size_t n1;
	int r;

	pinned_client(&u, "pinned test client");
	c = u;
	c.opts.ctx = &c.pin;
	c.opts.random_ctx = &c.rnd;
	c.opts.server_key = pk_s;
	/* Nothing to read yet: message 1 goes out all the same. */
	r = side_run(&c, 0, &in, &m1, &m, NULL);
	CHECK_RC(r, PQX_ERR_TRUNCATED);
	n1 = frame_len(m1.p, m1.len);
	CHECK(n1 == m1.len && n1 > 4, "message 1 before message 0: %zu bytes", m1.len);
	CHECK(c.pin.calls == 0);
	/* The same bytes as a client that waited for message 0. */
	tp_msg0(&in, pk_s, 1);
	r = side_run(&u, 0, &in, &out, &m, NULL);
	CHECK_RC(r, PQX_ERR_TRUNCATED);
	CHECK(out.len == m1.len && memcmp(out.p, m1.p, m1.len) == 0, "message 1 differs");
	/* Then the whole handshake, against the test-side server. */
	if (n1 == m1.len && n1 > 4) {
		tp_msg2(&sv, &in, in.p + 4, m1.p + 4, n1 - 4, seed_s, pk_c, 0,
		    PQX_CHANNEL_CHACHA20_POLY1305);
		r = side_run(&c, 0, &in, &out, &m, &ch);
		CHECK_RC(r, 0);
		if (r == 0) {
			uint8_t empty[1];

			CHECK(out.len == n1 + 4 + 1 + TAG, "message 3");
			sym_hash(&sv.s, out.p + n1 + 4, 1);
			CHECK(sym_decrypt(&sv.s, empty, out.p + n1 + 5, TAG) == 0, "T_C");
			CHECK_EQ_MEM(pqx_channel_session_id(ch), sv.s.h, 32);
			CHECK_EQ_MEM(pqx_channel_peer_key(ch), pk_s, PK);
		}
		pqx_channel_free(ch);
	}
	CHECK(c.pin.calls == 0, "check_server asked about the pinned key");
	/* Message 0 of another version, then of another key: only message 1 went out. */
	for (int i = 0; i < 2; i++) {
		q_clear(&in);
		tp_msg0(&in, i == 0 ? pk_s : pk_x, i == 0 ? 2 : 1);
		r = side_run(&c, 0, &in, &out, &m, NULL);
		CHECK_RC(r, i == 0 ? PQX_ERR_UNSUPPORTED : PQX_ERR_PEER_KEY);
		CHECK(out.len == n1, "case %d: the client sent %zu bytes", i, out.len);
	}
	CHECK(c.pin.calls == 1, "check_server saw the other key %d times", c.pin.calls);
	q_free(&in);
	q_free(&out);
	q_free(&m1);
}

/* Over sockets: a real server, and servers that are not the pinned one. */
static void test_pinned_sockets(void)
{
	const uint8_t *pins[3] = { pk_s, pk_x, pk_s }, *servers[3] = { seed_s, seed_s, seed_x };

	for (int i = 0; i < 3; i++) {
		struct sock_peer c, s;

		sock_pair(&c, &s, servers[i]);
		c.pin.key = pins[i];
		c.opts.check_server = check_pin;
		c.opts.server_key = pins[i];
		sock_peer_start(&s);
		sock_peer_main(&c);
		if (i > 0) {
			close(c.fd);
			c.fd = -1;
		}
		sock_peer_join(&s);
		if (i == 0) {
			CHECK(c.rc == 0 && s.rc == 0, "client %d, server %d", c.rc, s.rc);
			CHECK(c.pin.calls == 0 && s.auth.calls == 1);
			if (c.rc == 0 && s.rc == 0) {
				CHECK_EQ_MEM(pqx_channel_session_id(c.ch), pqx_channel_session_id(s.ch), 32);
				exchange(c.ch, s.ch, "pinned");
			}
		} else {
			/* The server can't read the client's key and says nothing. */
			CHECK_RC(c.rc, PQX_ERR_PEER_KEY);
			CHECK_RC(s.rc, PQX_ERR_AUTH);
			CHECK(c.pin.calls == 1 && s.auth.calls == 0, "case %d", i);
			CHECK(s.sio.bytes_out == FRAME0_BYTES && c.sio.bytes_out == s.sio.bytes_in,
			    "case %d: %llu out, %llu read", i, (unsigned long long)c.sio.bytes_out,
			    (unsigned long long)s.sio.bytes_in);
		}
		sock_peer_free(&c);
		sock_peer_free(&s);
	}
}

/* The client against the test-side server: honest (control), then impostors. */
static void test_impostor_server(void)
{
	static const struct {
		const char *name;
		const uint8_t *dseed; /* what CT1 is decapsulated with */
		uint8_t status, cipher;
		int want;
	} cases[] = {
		{ "honest test server (control)", seed_s, 0, PQX_CHANNEL_CHACHA20_POLY1305, 0 },
		{ "honest refusal (control)", seed_s, 1, 0, PQX_ERR_REFUSED },
		{ "honest, cipher not offered", seed_s, 0, PQX_CHANNEL_AES_256_GCM,
		    PQX_ERR_UNSUPPORTED },
		{ "honest, cipher 0", seed_s, 0, 0, PQX_ERR_UNSUPPORTED },
		{ "impostor", seed_x, 0, PQX_CHANNEL_CHACHA20_POLY1305, PQX_ERR_AUTH },
		{ "impostor refusing", seed_x, 1, 0, PQX_ERR_AUTH },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side c;
		struct queue in = { 0 }, out = { 0 };
		struct tp_server sv;
		struct mem m;
		pqx_channel *ch = NULL;
		size_t n1;
		int r;

		pinned_client(&c, "impostor test client");
		/* Message 0 carries the real server's key, pinned by the client. */
		tp_msg0(&in, pk_s, 1);
		r = side_run(&c, 0, &in, &out, &m, NULL);
		CHECK_RC(r, PQX_ERR_TRUNCATED);
		n1 = frame_len(out.p, out.len);
		CHECK(n1 == out.len && n1 > 4, "%s: message 1", cases[i].name);
		if (n1 != out.len || n1 <= 4) {
			q_free(&in);
			q_free(&out);
			continue;
		}
		tp_msg2(&sv, &in, in.p + 4, out.p + 4, n1 - 4, cases[i].dseed, pk_c,
		    cases[i].status, cases[i].cipher);
		CHECK(sv.decrypted == (cases[i].dseed == seed_s), "%s", cases[i].name);
		r = side_run(&c, 0, &in, &out, &m, &ch);
		CHECK_RC(r, cases[i].want);
		CHECK((r == 0) == (ch != NULL));
		if (r == 0) {
			/* The control: same transcript, same keys, on both sides. */
			uint8_t f3[4 + 1 + TAG];

			uint8_t empty[1];

			CHECK(out.len == n1 + sizeof(f3), "%s: message 3", cases[i].name);
			memcpy(f3, out.p + n1, sizeof(f3));
			sym_hash(&sv.s, f3 + 4, 1);
			CHECK(sym_decrypt(&sv.s, empty, f3 + 5, TAG) == 0, "%s: T_C", cases[i].name);
			CHECK_EQ_MEM(pqx_channel_session_id(ch), sv.s.h, 32, "%s", cases[i].name);
		} else {
			/* Nothing but message 1 left the client. */
			CHECK(out.len == n1, "%s: the client sent %zu bytes more", cases[i].name,
			    out.len - n1);
		}
		pqx_channel_free(ch);
		q_free(&in);
		q_free(&out);
	}
}

/*
 * A real server with another seed, its message 0 rewritten in flight to
 * carry the pinned key: it cannot decrypt the client's key and drops the
 * connection without a word; the client sent only message 1.
 */
static void test_impostor_real_server(void)
{
	struct side c, x;
	struct queue in = { 0 }, out = { 0 }, f1 = { 0 };
	struct mem m;
	int r;

	pinned_client(&c, "impostor client");
	side_init(&x, seed_x, "impostor server", chacha_only);
	r = side_run(&x, 1, &in, &out, &m, NULL);
	CHECK(r == PQX_ERR_TRUNCATED && out.len == FRAME0_BYTES);
	memcpy(out.p + 6, pk_s, PK);
	q_put(&in, out.p, out.len);
	r = side_run(&c, 0, &in, &f1, &m, NULL);
	CHECK_RC(r, PQX_ERR_TRUNCATED);
	CHECK(f1.len == frame_len(f1.p, f1.len) && f1.len > 4, "message 1");
	r = side_run(&x, 1, &f1, &out, &m, NULL);
	CHECK_RC(r, PQX_ERR_AUTH);
	CHECK(out.len == FRAME0_BYTES, "the impostor answered");
	q_free(&in);
	q_free(&out);
	q_free(&f1);
}

/* The server against the test-side client: honest (control), then impostors. */
static void test_impostor_client(void)
{
	static const struct {
		const char *name;
		const uint8_t *claim, *sseed; /* the key claimed, the seed used for CT3 */
		uint8_t count, version;
		int want;
	} cases[] = {
		{ "honest test client (control)", pk_c, seed_c, 1, 1, 0 },
		{ "honest, 12 ciphers offered", pk_c, seed_c, 12, 1, 0 },
		{ "honest, no cipher offered", pk_c, seed_c, 0, 1, PQX_ERR_UNSUPPORTED },
		{ "honest, version 2", pk_c, seed_c, 1, 2, PQX_ERR_UNSUPPORTED },
		{ "impostor claiming the client's key", pk_c, seed_x, 1, 1, PQX_ERR_AUTH },
		{ "stranger with its own key", pk_x, seed_x, 1, 1, PQX_ERR_REFUSED },
	};
	static const uint8_t offers[12] = { 7, 9, 200, 3, 4, 5, 6, 8, 10, 11, 255,
		PQX_CHANNEL_CHACHA20_POLY1305 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct side s;
		struct queue in = { 0 }, out = { 0 };
		struct tp_client cl;
		struct mem m;
		pqx_channel *ch = NULL;
		const uint8_t *offer = cases[i].count == 12 ? offers : chacha_only;
		size_t n2;
		int r;

		side_init(&s, seed_s, "impostor test server", chacha_only);
		s.auth.allowed = pk_c;
		s.opts.authorize = check_auth;
		s.opts.ctx = &s.auth;
		r = side_run(&s, 1, &in, &out, &m, NULL);
		CHECK(r == PQX_ERR_TRUNCATED && out.len == FRAME0_BYTES);
		tp_msg1(&cl, &in, out.p + 4, offer, cases[i].count, cases[i].version,
		    cases[i].claim);
		r = side_run(&s, 1, &in, &out, &m, NULL);
		if (cases[i].version != 1) {
			CHECK_RC(r, cases[i].want);
			CHECK(out.len == FRAME0_BYTES, "%s: answered", cases[i].name);
			goto next;
		}
		n2 = frame_len(out.p + FRAME0_BYTES, out.len - FRAME0_BYTES);
		CHECK(n2 > 4 && FRAME0_BYTES + n2 == out.len, "%s: message 2", cases[i].name);
		if (n2 <= 4 || FRAME0_BYTES + n2 != out.len)
			goto next;
		if (cases[i].want == PQX_ERR_UNSUPPORTED || cases[i].want == PQX_ERR_REFUSED) {
			/* An authenticated refusal, cipher 0: */
			CHECK_RC(r, cases[i].want);
			CHECK(n2 == 4 + 3 + TAG && out.p[FRAME0_BYTES + 5] == 1 &&
			    out.p[FRAME0_BYTES + 6] == 0, "%s: not a refusal", cases[i].name);
			goto next;
		}
		CHECK_RC(r, PQX_ERR_TRUNCATED);
		CHECK(out.p[FRAME0_BYTES + 6] == PQX_CHANNEL_CHACHA20_POLY1305,
		    "%s: cipher %d", cases[i].name, out.p[FRAME0_BYTES + 6]);
		tp_msg3(&cl, &in, out.p + FRAME0_BYTES + 4, n2 - 4, cases[i].sseed);
		CHECK(cl.ts_ok == (cases[i].want == 0), "%s: T_S", cases[i].name);
		r = side_run(&s, 1, &in, &out, &m, &ch);
		CHECK_RC(r, cases[i].want);
		CHECK((r == 0) == (ch != NULL));
		CHECK(out.len == FRAME0_BYTES + n2, "%s: the server sent more", cases[i].name);
		if (ch != NULL) {
			CHECK_EQ_MEM(pqx_channel_session_id(ch), cl.s.h, 32, "%s", cases[i].name);
			CHECK_EQ_MEM(pqx_channel_peer_key(ch), pk_c, PK);
		}
	next:
		pqx_channel_free(ch);
		q_free(&in);
		q_free(&out);
	}
}

/* Hand-made messages 0 and 2 that a client must refuse. */
static void test_malformed_handshake(void)
{
	struct side c;
	struct queue in = { 0 }, out = { 0 };
	struct mem m;
	uint8_t body[MSG0_BYTES + 1];
	int r;

	side_init(&c, seed_c, "malformed client", chacha_only);
	/* Frame lengths 0 and 8193, then message 0 variants. */
	put_u32(&in, 0);
	CHECK_RC(side_run(&c, 0, &in, &out, &m, NULL), PQX_ERR_FORMAT);
	q_clear(&in);
	put_u32(&in, 8193);
	CHECK_RC(side_run(&c, 0, &in, &out, &m, NULL), PQX_ERR_FORMAT);
	struct {
		size_t len;
		uint8_t type, version;
		int want;
	} m0[] = {
		{ MSG0_BYTES, 1, 1, PQX_ERR_FORMAT },
		{ MSG0_BYTES, 2, 1, PQX_ERR_FORMAT },
		{ MSG0_BYTES - 1, 0, 1, PQX_ERR_FORMAT },
		{ MSG0_BYTES + 1, 0, 1, PQX_ERR_FORMAT },
		{ MSG0_BYTES, 0, 2, PQX_ERR_UNSUPPORTED },
		{ MSG0_BYTES, 0, 0, PQX_ERR_UNSUPPORTED },
		{ MSG0_BYTES + 1, 0, 2, PQX_ERR_UNSUPPORTED }, /* a later version's longer message */
		{ 1, 0, 0, PQX_ERR_FORMAT },
	};
	for (size_t i = 0; i < sizeof(m0) / sizeof(m0[0]); i++) {
		memset(body, 0, sizeof(body));
		body[0] = m0[i].type;
		if (m0[i].len > 1)
			body[1] = m0[i].version;
		memcpy(body + 2, pk_s, m0[i].len > 2 ? (m0[i].len - 2 < PK ? m0[i].len - 2 : PK) : 0);
		q_clear(&in);
		put_u32(&in, m0[i].len);
		q_put(&in, body, m0[i].len);
		r = side_run(&c, 0, &in, &out, &m, NULL);
		CHECK(r == m0[i].want, "message 0 variant %zu: %d, want %d", i, r, m0[i].want);
		CHECK(out.len == 0, "message 0 variant %zu: the client answered", i);
	}

	/* Message 2 variants after a good message 0. */
	struct {
		size_t len;
		uint8_t type, status;
	} m2[] = {
		{ 3 + TAG, 3, 1 },           /* wrong type */
		{ 3 + TAG, 2, 2 },           /* unknown status */
		{ 3 + 2 * CT + TAG, 2, 1 },  /* a refusal with encapsulations */
		{ 3 + TAG, 2, 0 },           /* accepted without them */
		{ 3 + 2 * CT + TAG + 1, 2, 0 },
		{ 2, 2, 0 },
	};
	for (size_t i = 0; i < sizeof(m2) / sizeof(m2[0]); i++) {
		uint8_t *b = calloc(1, m2[i].len);

		if (b == NULL)
			abort();
		b[0] = m2[i].type;
		if (m2[i].len > 1)
			b[1] = m2[i].status;
		q_clear(&in);
		tp_msg0(&in, pk_s, 1);
		put_u32(&in, m2[i].len);
		q_put(&in, b, m2[i].len);
		r = side_run(&c, 0, &in, &out, &m, NULL);
		CHECK(r == PQX_ERR_FORMAT, "message 2 variant %zu: %d", i, r);
		CHECK(out.len == frame_len(out.p, out.len), "message 2 variant %zu: sent more", i);
		free(b);
	}
	q_free(&in);
	q_free(&out);
}

/*
 * A man in the middle flips one bit at every byte of every handshake
 * frame, headers included, in both directions. Every flip must make a
 * side fail; never may both succeed (with or without the same session id).
 */
static void test_tamper_handshake(void)
{
	struct side c, s;
	struct lockstep ls;
	struct transcript base;
	long fails[4][2] = { { 0 } }, total = 0;

	memset(&ls, 0, sizeof(ls));
	memset(&base, 0, sizeof(base));
	side_init(&c, seed_c, "tamper client", chacha_aes);
	side_init(&s, seed_s, "tamper server", aes_chacha);
	s.auth.allowed = pk_c;
	s.opts.authorize = check_auth;
	s.opts.ctx = &s.auth;
	ls.c = &c;
	ls.s = &s;
	lockstep_run(&ls, NULL, 1);
	CHECK(ls.rc_c == 0 && ls.rc_s == 0, "no tamper: %d %d", ls.rc_c, ls.rc_s);
	if (ls.ch_c == NULL)
		goto out;
	CHECK_EQ_MEM(pqx_channel_session_id(ls.ch_c), pqx_channel_session_id(ls.ch_s), 32);
	for (int i = 0; i < 4; i++)
		q_put(&base.f[i], ls.f[i].p, ls.f[i].len);
	CHECK(base.f[0].len == FRAME0_BYTES && base.f[1].len == 4 + 5 + PK + CT + PK + TAG &&
	    base.f[2].len == 4 + 3 + 2 * CT + TAG && base.f[3].len == 4 + 1 + TAG,
	    "frame sizes %zu %zu %zu %zu", base.f[0].len, base.f[1].len, base.f[2].len,
	    base.f[3].len);

	for (int msg = 0; msg < 4 && t_case_failures() == 0; msg++) {
		for (size_t pos = 0; pos < base.f[msg].len; pos++) {
			struct flip fl = { msg, pos, (uint8_t)(1u << (pos % 8)) };

			lockstep_run(&ls, &fl, 0);
			total++;
			CHECK(ls.rc_c != 0 || ls.rc_s != 0,
			    "message %d byte %zu: the handshake succeeded", msg, pos);
			/* The receiver of a tampered message 2 or 3 is the one that fails. */
			if (msg == 2)
				CHECK(ls.rc_c != 0, "message 2 byte %zu: the client accepted it", pos);
			if (msg == 3)
				CHECK(ls.rc_s != 0, "message 3 byte %zu: the server accepted it", pos);
			fails[msg][0] += ls.rc_c == 0;
			fails[msg][1] += ls.rc_s == 0;
			if (t_case_failures() > 0)
				break;
		}
	}
	printf("# tamper: %ld flips; the client/server still finished: msg0 %ld/%ld, "
	       "msg1 %ld/%ld, msg2 %ld/%ld, msg3 %ld/%ld\n",
	    total, fails[0][0], fails[0][1], fails[1][0], fails[1][1], fails[2][0], fails[2][1],
	    fails[3][0], fails[3][1]);

	/* With the server's key pinned, a changed message 0 stops the client at once. */
	c.pin.key = pk_s;
	c.opts.check_server = check_pin;
	c.opts.ctx = &c.pin;
	for (size_t pos = 0; pos < base.f[0].len; pos++) {
		struct queue in = { 0 }, out = { 0 };
		struct mem m;
		int r;

		q_put(&in, base.f[0].p, base.f[0].len);
		in.p[pos] ^= (uint8_t)(1u << (pos % 8));
		r = side_run(&c, 0, &in, &out, &m, NULL);
		CHECK(r == PQX_ERR_PEER_KEY || r == PQX_ERR_FORMAT || r == PQX_ERR_UNSUPPORTED ||
		    r == PQX_ERR_TRUNCATED, "pinned, message 0 byte %zu: %d", pos, r);
		CHECK(out.len == 0, "pinned, message 0 byte %zu: the client sent", pos);
		q_free(&in);
		q_free(&out);
		if (t_case_failures() > 0)
			break;
	}
out:
	lockstep_free(&ls);
	for (int i = 0; i < 4; i++)
		q_free(&base.f[i]);
}

/* ---- tests: records --------------------------------------------------- */

static void test_record_sizes(void)
{
	static const size_t sizes[] = { 0, 1, 2, 255, 4096, (size_t)1 << 20, MAX_REC - 1, MAX_REC };
	const uint8_t *lists[2] = { chacha_only, aes_only };
	uint8_t *buf = malloc(MAX_REC + 1);

	if (buf == NULL)
		abort();
	t_rand(buf, MAX_REC + 1);
	for (int l = 0; l < 2; l++) {
		struct pair p;
		const uint8_t *d;
		size_t n;
		int r;

		if (pair_open(&p, lists[l], lists[l]) != 0) {
			CHECK(0, "handshake");
			pair_close(&p);
			continue;
		}
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, buf, sizes[i]);
			CHECK_RC(r, 0);
			CHECK(q_avail(&p.c2s) == 4 + 1 + sizes[i] + TAG, "size %zu: %zu on the wire",
			    sizes[i], q_avail(&p.c2s));
			CHECK(pqx_load32_be(p.c2s.p + p.c2s.off) == 1 + sizes[i] + TAG,
			    "size %zu: length header", sizes[i]);
			r = pqx_channel_recv(p.s_ch, &d, &n);
			CHECK(r == 0 && n == sizes[i] && (n == 0 || memcmp(d, buf, n) == 0),
			    "size %zu: %d", sizes[i], r);
			/* And back. */
			r = pqx_channel_send(p.s_ch, PQX_RECORD_DATA, buf + 1, sizes[i]);
			CHECK_RC(r, 0);
			r = pqx_channel_recv(p.c_ch, &d, &n);
			CHECK(r == 0 && n == sizes[i] && (n == 0 || memcmp(d, buf + 1, n) == 0),
			    "size %zu back: %d", sizes[i], r);
		}
		/* One byte over: refused, nothing written, the channel lives on. */
		r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, buf, MAX_REC + 1);
		CHECK_RC(r, PQX_ERR_INVALID_ARG);
		r = pqx_channel_send(p.c_ch, PQX_RECORD_ERROR, buf, MAX_REC + 1);
		CHECK_RC(r, PQX_ERR_INVALID_ARG);
		r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, buf, SIZE_MAX);
		CHECK_RC(r, PQX_ERR_INVALID_ARG);
		CHECK(q_avail(&p.c2s) == 0, "a refused record was written");
		/* Types the protocol does not have, and a close with a payload. */
		r = pqx_channel_send(p.c_ch, (enum pqx_record_type)3, buf, 1);
		CHECK_RC(r, PQX_ERR_INVALID_ARG);
		r = pqx_channel_send(p.c_ch, PQX_RECORD_CLOSE, buf, 1);
		CHECK_RC(r, PQX_ERR_INVALID_ARG);
		CHECK(q_avail(&p.c2s) == 0, "a refused record was written");
		r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, buf, 3);
		CHECK_RC(r, 0);
		r = pqx_channel_recv(p.s_ch, &d, &n);
		CHECK(r == 0 && n == 3, "after the refusals: %d", r);
		pair_close(&p);
	}
	free(buf);
}

/* Many records each way, across the rekey boundary (twice for c2s). */
static void test_rekey_many_records(void)
{
	const long counts[2] = { 2 * PQX_CHANNEL_REKEY_INTERVAL + 8000,
		2 * PQX_CHANNEL_REKEY_INTERVAL + 8000 };
	struct pair p;

	if (pair_open(&p, chacha_aes, chacha_aes) != 0) {
		CHECK(0, "handshake");
		pair_close(&p);
		return;
	}
	for (int dir = 0; dir < 2; dir++) {
		pqx_channel *tx = dir == 0 ? p.c_ch : p.s_ch, *rx = dir == 0 ? p.s_ch : p.c_ch;
		long sent = 0, got = 0;

		/* In batches, so the queue stays small. */
		while (got < counts[dir] && t_case_failures() == 0) {
			for (int b = 0; b < 1000 && sent < counts[dir]; b++, sent++) {
				uint8_t m[9];

				pqx_store64_be(m, (uint64_t)sent);
				m[8] = (uint8_t)dir;
				if (pqx_channel_send(tx, PQX_RECORD_DATA, m, (size_t)(sent % 10)) != 0) {
					CHECK(0, "send %ld failed", sent);
					break;
				}
			}
			while (got < sent) {
				const uint8_t *d;
				size_t n;
				uint8_t m[9];
				int r = pqx_channel_recv(rx, &d, &n);

				pqx_store64_be(m, (uint64_t)got);
				m[8] = (uint8_t)dir;
				if (r != 0 || n != (size_t)(got % 10) || memcmp(d, m, n) != 0) {
					CHECK(0, "direction %d record %ld: %d, %zu bytes", dir, got, r, n);
					break;
				}
				got++;
			}
		}
		CHECK(got == counts[dir], "direction %d: %ld of %ld", dir, got, counts[dir]);
	}
	exchange(p.c_ch, p.s_ch, "after rekeying");
	pair_close(&p);
}

/* The bytes of the next few records in a queue: offsets and lengths. */
static size_t record_at(const struct queue *q, size_t off)
{
	return 4 + (size_t)pqx_load32_be(q->p + off);
}

/* After a fatal record: the channel is dead both ways, even for a good record. */
static void check_dead(struct pair *p, pqx_channel *rx, pqx_channel *tx, int err,
    const char *what)
{
	const uint8_t *d;
	size_t n;
	int r;

	r = pqx_channel_send(tx, PQX_RECORD_DATA, (const uint8_t *)"late", 4);
	CHECK_RC(r, 0);
	r = pqx_channel_recv(rx, &d, &n);
	CHECK(r == err && d == NULL && n == 0, "%s: a record after the error: %d", what, r);
	r = pqx_channel_send(rx, PQX_RECORD_DATA, (const uint8_t *)"x", 1);
	CHECK(r == err, "%s: send on a dead channel: %d", what, r);
	(void)p;
}

static void test_record_tamper(void)
{
	enum { FLIP, DROP, DUP, SWAP, REPLAY_OLD, TRUNC };
	static const char *names[] = { "flip", "drop", "duplicate", "reorder", "replay",
		"truncate" };

	for (int kind = FLIP; kind <= TRUNC; kind++) {
		size_t positions = kind == FLIP ? 4 + 1 + 7 + TAG : 1;

		for (size_t pos = 0; pos < positions; pos++) {
			struct pair p;
			struct queue edited = { 0 };
			const uint8_t *d;
			size_t n, r0, r1, r2;
			int r, want = PQX_ERR_AUTH;

			if (pair_open(&p, chacha_only, chacha_only) != 0) {
				CHECK(0, "handshake");
				pair_close(&p);
				return;
			}
			/* Records 0, 1, 2 (7 bytes each) from the client. */
			for (int i = 0; i < 3; i++) {
				uint8_t m[7] = { 'r', 'e', 'c', 'o', 'r', 'd', (uint8_t)('0' + i) };

				r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, m, 7);
				CHECK_RC(r, 0);
			}
			r0 = record_at(&p.c2s, 0);
			r1 = record_at(&p.c2s, r0);
			r2 = record_at(&p.c2s, r0 + r1);
			CHECK(r0 == 28 && r1 == 28 && r2 == 28 && p.c2s.len == r0 + r1 + r2);
			switch (kind) {
			case FLIP: /* record 1, one bit at pos; 2 MiB of zeros behind */
				q_put(&edited, p.c2s.p, r0 + r1 + r2);
				edited.p[r0 + pos] ^= (uint8_t)(1u << (pos % 8));
				for (int i = 0; i < 2048; i++) {
					static const uint8_t zeros[1024];

					q_put(&edited, zeros, sizeof(zeros));
				}
				break;
			case DROP: /* 0, 2 */
				q_put(&edited, p.c2s.p, r0);
				q_put(&edited, p.c2s.p + r0 + r1, r2);
				break;
			case DUP: /* 0, 1, 1, 2 */
				q_put(&edited, p.c2s.p, r0 + r1);
				q_put(&edited, p.c2s.p + r0, r1 + r2);
				break;
			case SWAP: /* 0, 2, 1 */
				q_put(&edited, p.c2s.p, r0);
				q_put(&edited, p.c2s.p + r0 + r1, r2);
				q_put(&edited, p.c2s.p + r0, r1);
				break;
			case REPLAY_OLD: /* 0, 1, 0 */
				q_put(&edited, p.c2s.p, r0 + r1);
				q_put(&edited, p.c2s.p, r0);
				break;
			case TRUNC: /* 0 and half of 1: the stream ends there */
				q_put(&edited, p.c2s.p, r0 + r1 / 2);
				want = PQX_ERR_TRUNCATED;
				break;
			}
			q_clear(&p.c2s);
			q_put(&p.c2s, edited.p, edited.len);
			r = pqx_channel_recv(p.s_ch, &d, &n);
			CHECK(r == 0 && n == 7 && d[6] == '0', "%s: record 0: %d", names[kind], r);
			if (kind == DUP || kind == REPLAY_OLD) {
				r = pqx_channel_recv(p.s_ch, &d, &n);
				CHECK(r == 0 && n == 7 && d[6] == '1', "%s: record 1: %d", names[kind], r);
			}
			r = pqx_channel_recv(p.s_ch, &d, &n);
			CHECK(r == want, "%s at %zu: %d (%s), want %d", names[kind], pos, r,
			    pqx_strerror(r), want);
			CHECK(d == NULL && n == 0, "%s: outputs left set", names[kind]);
			/* Dead: what the client sends next is not delivered. */
			q_clear(&p.c2s);
			check_dead(&p, p.s_ch, p.c_ch, want, names[kind]);
			q_free(&edited);
			pair_close(&p);
			if (t_case_failures() > 0)
				return;
		}
	}
}

static void test_record_length_header(void)
{
	static const uint32_t lens[] = { 0, 1, 16, 1 + TAG + MAX_REC + 1, 0x7fffffff, 0xffffffff };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct pair p;
		const uint8_t *d;
		size_t n;
		uint8_t hdr[4];
		int r;

		if (pair_open(&p, chacha_only, chacha_only) != 0) {
			CHECK(0, "handshake");
			pair_close(&p);
			return;
		}
		pqx_store32_be(hdr, lens[i]);
		q_put(&p.c2s, hdr, 4);
		for (int k = 0; k < 64; k++)
			q_put(&p.c2s, (const uint8_t *)"0123456789abcdef", 16);
		r = pqx_channel_recv(p.s_ch, &d, &n);
		CHECK(r == PQX_ERR_AUTH, "length %lu: %d", (unsigned long)lens[i], r);
		/* Nothing past the header was read. */
		CHECK(q_avail(&p.c2s) == 64 * 16, "length %lu: %zu bytes left",
		    (unsigned long)lens[i], q_avail(&p.c2s));
		q_clear(&p.c2s);
		check_dead(&p, p.s_ch, p.c_ch, PQX_ERR_AUTH, "length header");
		pair_close(&p);
	}
	/* A length in range but not what was sealed: the tag fails. */
	{
		struct pair p;
		const uint8_t *d;
		size_t n;
		int r;

		if (pair_open(&p, aes_only, aes_only) == 0) {
			r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, (const uint8_t *)"abcdefgh", 8);
			CHECK_RC(r, 0);
			pqx_store32_be(p.c2s.p, 1 + TAG + 7);
			r = pqx_channel_recv(p.s_ch, &d, &n);
			CHECK_RC(r, PQX_ERR_AUTH);
		} else {
			CHECK(0, "handshake");
		}
		pair_close(&p);
	}
}

static void test_close_and_error(void)
{
	static const struct {
		const char *text;
		size_t len;
		const char *want;
	} errs[] = {
		{ "disk full", 9, "disk full" },
		{ "", 0, "" },
		{ "bad\x01\xff\n", 6, "bad???" },
	};
	char longtext[600];
	struct pair p;
	const uint8_t *d;
	size_t n;
	int r;

	/* Close: the peer sees PQX_ERR_CLOSED, and again on every later call. */
	if (pair_open(&p, chacha_only, chacha_only) != 0) {
		CHECK(0, "handshake");
		pair_close(&p);
		return;
	}
	r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, (const uint8_t *)"last", 4);
	CHECK_RC(r, 0);
	r = pqx_channel_send(p.c_ch, PQX_RECORD_CLOSE, NULL, 0);
	CHECK_RC(r, 0);
	r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, (const uint8_t *)"after", 5);
	CHECK_RC(r, 0);
	r = pqx_channel_recv(p.s_ch, &d, &n);
	CHECK(r == 0 && n == 4);
	r = pqx_channel_recv(p.s_ch, &d, &n);
	CHECK_RC(r, PQX_ERR_CLOSED);
	CHECK(d == NULL && n == 0);
	r = pqx_channel_recv(p.s_ch, &d, &n);
	CHECK(r == PQX_ERR_CLOSED && d == NULL, "data after close was delivered: %d", r);
	CHECK(strcmp(pqx_channel_peer_error(p.s_ch), "") == 0);
	pair_close(&p);

	/* Error records: the text, printable ASCII only, at most 255 bytes. */
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]) + 1; i++) {
		const char *text = i < 3 ? errs[i].text : longtext;
		size_t len = i < 3 ? errs[i].len : sizeof(longtext);

		memset(longtext, 'e', sizeof(longtext));
		if (pair_open(&p, aes_only, aes_only) != 0) {
			CHECK(0, "handshake");
			pair_close(&p);
			return;
		}
		r = pqx_channel_send(p.s_ch, PQX_RECORD_ERROR, (const uint8_t *)text, len);
		CHECK_RC(r, 0);
		r = pqx_channel_recv(p.c_ch, &d, &n);
		CHECK_RC(r, PQX_ERR_PEER_ERROR);
		if (i < 3)
			CHECK(strcmp(pqx_channel_peer_error(p.c_ch), errs[i].want) == 0,
			    "error %zu: \"%s\"", i, pqx_channel_peer_error(p.c_ch));
		else
			CHECK(strlen(pqx_channel_peer_error(p.c_ch)) == 255 &&
			    pqx_channel_peer_error(p.c_ch)[254] == 'e', "long error text");
		/* The peer is done; we may still send our close. */
		r = pqx_channel_recv(p.c_ch, &d, &n);
		CHECK(r == PQX_ERR_CLOSED, "after the error record: %d", r);
		r = pqx_channel_send(p.c_ch, PQX_RECORD_CLOSE, NULL, 0);
		CHECK_RC(r, 0);
		r = pqx_channel_recv(p.s_ch, &d, &n);
		CHECK_RC(r, PQX_ERR_CLOSED);
		pair_close(&p);
	}

	/* The end of the stream without a close is truncation, never a clean end. */
	if (pair_open(&p, chacha_only, chacha_only) == 0) {
		r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, (const uint8_t *)"x", 1);
		CHECK_RC(r, 0);
		r = pqx_channel_recv(p.s_ch, &d, &n);
		CHECK_RC(r, 0);
		r = pqx_channel_recv(p.s_ch, &d, &n);
		CHECK_RC(r, PQX_ERR_TRUNCATED);
		r = pqx_channel_recv(p.s_ch, &d, &n);
		CHECK(r == PQX_ERR_TRUNCATED, "a dead channel reports %d (%s)", r, pqx_strerror(r));
	} else {
		CHECK(0, "handshake");
	}
	pair_close(&p);
}

/* ---- tests: sockets: big records, timeouts, SIGPIPE -------------------- */

/* Echoes each record without its first byte (a slice of the record buffer). */
static void echo_tail(struct sock_peer *p)
{
	for (;;) {
		const uint8_t *d;
		size_t n;
		int r = pqx_channel_recv(p->ch, &d, &n);

		if (r == PQX_ERR_CLOSED) {
			p->after_rc = pqx_channel_send(p->ch, PQX_RECORD_CLOSE, NULL, 0);
			return;
		}
		if (r == 0 && n > 0)
			r = pqx_channel_send(p->ch, PQX_RECORD_DATA, d + 1, n - 1);
		else if (r == 0)
			r = pqx_channel_send(p->ch, PQX_RECORD_DATA, d, 0);
		if (r != 0) {
			p->after_rc = r;
			return;
		}
	}
}

static void test_echo_sockets(void)
{
	static const size_t sizes[] = { 0, 1, 2, 100000, (size_t)1 << 20, MAX_REC };
	struct sock_peer c, s;
	uint8_t *buf = malloc(MAX_REC);

	if (buf == NULL)
		abort();
	t_rand(buf, MAX_REC);
	sock_pair(&c, &s, seed_s);
	s.after = echo_tail;
	sock_peer_start(&s);
	sock_peer_main(&c);
	CHECK_RC(c.rc, 0);
	for (size_t i = 0; c.rc == 0 && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const uint8_t *d;
		size_t n, want = sizes[i] > 0 ? sizes[i] - 1 : 0;
		int r = pqx_channel_send(c.ch, PQX_RECORD_DATA, buf, sizes[i]);

		CHECK_RC(r, 0);
		r = pqx_channel_recv(c.ch, &d, &n);
		CHECK(r == 0 && n == want && (n == 0 || memcmp(d, buf + 1, n) == 0),
		    "echo of %zu: %d, %zu bytes", sizes[i], r, n);
	}
	if (c.rc == 0) {
		const uint8_t *d;
		size_t n;
		int r = pqx_channel_send(c.ch, PQX_RECORD_CLOSE, NULL, 0);

		CHECK_RC(r, 0);
		r = pqx_channel_recv(c.ch, &d, &n);
		CHECK_RC(r, PQX_ERR_CLOSED);
	}
	sock_peer_join(&s);
	CHECK(s.rc == 0 && s.after_rc == 0, "server: %d, %d", s.rc, s.after_rc);
	sock_peer_free(&c);
	sock_peer_free(&s);
	free(buf);
}

static uint64_t elapsed_ms(uint64_t t0)
{
	return pqx_now_ms() - t0;
}

static void test_timeouts(void)
{
	int fds[2];
	uint64_t t0;

	/* A silent server: the client waits 200 ms for message 0. */
	{
		struct sock_peer c;

		sockets(fds);
		sock_peer_init(&c, fds[1], 0, seed_c);
		c.sio.timeout_ms = 200;
		t0 = pqx_now_ms();
		sock_peer_main(&c);
		CHECK_RC(c.rc, PQX_ERR_TIMEOUT);
		CHECK(elapsed_ms(t0) >= 150 && elapsed_ms(t0) < 3000, "waited %llu ms",
		    (unsigned long long)elapsed_ms(t0));
		sock_peer_free(&c);
		close(fds[0]);
	}
	/* A silent client: the server sends message 0, then waits for message 1. */
	{
		struct sock_peer s;

		sockets(fds);
		sock_peer_init(&s, fds[0], 1, seed_s);
		s.sio.timeout_ms = 200;
		sock_peer_main(&s);
		CHECK_RC(s.rc, PQX_ERR_TIMEOUT);
		CHECK(s.sio.bytes_out == FRAME0_BYTES);
		sock_peer_free(&s);
		close(fds[1]);
	}
	/* The handshake deadline holds with no per-read timeout. */
	{
		struct sock_peer s;

		sockets(fds);
		sock_peer_init(&s, fds[0], 1, seed_s);
		s.sio.timeout_ms = 0;
		s.sio.deadline_ms = pqx_now_ms() + 300;
		t0 = pqx_now_ms();
		sock_peer_main(&s);
		CHECK_RC(s.rc, PQX_ERR_TIMEOUT);
		CHECK(elapsed_ms(t0) >= 250 && elapsed_ms(t0) < 3000, "waited %llu ms",
		    (unsigned long long)elapsed_ms(t0));
		sock_peer_free(&s);
		close(fds[1]);
	}
	/* After the handshake: a silent peer on recv, and one that stops reading on send. */
	{
		struct sock_peer c, s;
		const uint8_t *d;
		size_t n;
		uint8_t *big = calloc(1, MAX_REC);
		int r = 0;

		if (big == NULL)
			abort();
		sock_pair(&c, &s, seed_s);
		sock_peer_start(&s);
		sock_peer_main(&c);
		sock_peer_join(&s);
		CHECK(c.rc == 0 && s.rc == 0);
		if (c.rc == 0 && s.rc == 0) {
			c.sio.timeout_ms = 200;
			t0 = pqx_now_ms();
			r = pqx_channel_recv(c.ch, &d, &n);
			CHECK_RC(r, PQX_ERR_TIMEOUT);
			r = pqx_channel_send(c.ch, PQX_RECORD_DATA, big, 1);
			CHECK(r == PQX_ERR_TIMEOUT, "send on a timed-out channel: %d", r);

			/* The server never reads: its 1 MiB records must time out too. */
			s.sio.timeout_ms = 200;
			t0 = pqx_now_ms();
			for (int i = 0; i < 64 && (r = pqx_channel_send(s.ch, PQX_RECORD_DATA, big,
							MAX_REC)) == 0; i++)
				;
			CHECK_RC(r, PQX_ERR_TIMEOUT);
			CHECK(elapsed_ms(t0) < 3000, "send took %llu ms",
			    (unsigned long long)elapsed_ms(t0));
		}
		sock_peer_free(&c);
		sock_peer_free(&s);
		free(big);
	}
}

/* A peer gone away: a write fails with an error, not a SIGPIPE that kills the process. */
static void test_peer_gone(void)
{
	struct sock_peer c, s;
	int fds[2], r;

	sock_pair(&c, &s, seed_s);
	sock_peer_start(&s);
	sock_peer_main(&c);
	sock_peer_join(&s);
	CHECK(c.rc == 0 && s.rc == 0);
	if (c.rc == 0 && s.rc == 0) {
		const uint8_t *d;
		size_t n;

		close(s.fd);
		s.fd = -1;
		r = pqx_channel_send(c.ch, PQX_RECORD_DATA, (const uint8_t *)"hello", 5);
		CHECK_RC(r, PQX_ERR_IO);
		/* Nothing was sent before the peer went: reading finds its end. */
		r = pqx_channel_recv(c.ch, &d, &n);
		CHECK(r == PQX_ERR_IO || r == PQX_ERR_TRUNCATED, "a dead channel reports %d (%s)", r,
		    pqx_strerror(r));
		r = pqx_channel_send(c.ch, PQX_RECORD_DATA, (const uint8_t *)"hello", 5);
		CHECK(r == PQX_ERR_IO || r == PQX_ERR_TRUNCATED, "send after that gives %d", r);
	}
	/* And the end of the stream in the middle of a handshake. */
	sock_peer_free(&c);
	sock_peer_free(&s);
	sockets(fds);
	sock_peer_init(&c, fds[1], 0, seed_c);
	close(fds[0]);
	sock_peer_main(&c);
	CHECK_RC(c.rc, PQX_ERR_TRUNCATED);
	sock_peer_free(&c);
}

/* ---- tests: injected faults ------------------------------------------- */

static long alloc_at, alloc_count;

static int alloc_hook(void)
{
	return ++alloc_count == alloc_at;
}

static void test_faults(void)
{
	struct side c, s;
	struct lockstep ls;
	struct queue in = { 0 }, out = { 0 };
	struct mem m;
	pqx_channel *ch;
	int r;

	memset(&ls, 0, sizeof(ls));
	side_init(&c, seed_c, "fault client", chacha_only);
	side_init(&s, seed_s, "fault server", chacha_only);
	ls.c = &c;
	ls.s = &s;
	lockstep_run(&ls, NULL, 0);
	CHECK(ls.rc_c == 0 && ls.rc_s == 0);

	/* The random generator failing at each draw of each side. */
	for (int k = 1; k <= 3; k++) {
		c.rnd.fail_at = k <= 2 ? k : 0;
		s.rnd.fail_at = k <= 2 ? k : 0;
		q_clear(&in);
		q_put(&in, ls.f[0].p, ls.f[0].len);
		r = side_run(&c, 0, &in, &out, &m, NULL);
		CHECK(r == (k <= 2 ? PQX_ERR_RANDOM : PQX_ERR_TRUNCATED), "client draw %d: %d", k, r);
		CHECK(k > 2 || out.len == 0, "client draw %d: sent", k);
		q_clear(&in);
		q_put(&in, ls.f[1].p, ls.f[1].len);
		r = side_run(&s, 1, &in, &out, &m, NULL);
		CHECK(r == (k <= 2 ? PQX_ERR_RANDOM : PQX_ERR_TRUNCATED), "server draw %d: %d", k, r);
		CHECK(k > 2 || out.len == FRAME0_BYTES, "server draw %d: sent message 2", k);
	}
	c.rnd.fail_at = s.rnd.fail_at = 0;

	/* Each write failing in turn. */
	for (int side = 0; side < 2; side++) {
		for (long k = 0;; k++) {
			struct side *sd = side == 0 ? &c : &s;
			pqx_channel_io io;
			struct queue copy = { 0 };

			q_clear(&in);
			if (side == 0) {
				q_put(&in, ls.f[0].p, ls.f[0].len);
				q_put(&in, ls.f[2].p, ls.f[2].len);
			} else {
				q_put(&in, ls.f[1].p, ls.f[1].len);
				q_put(&in, ls.f[3].p, ls.f[3].len);
			}
			q_put(&copy, in.p, in.len);
			q_clear(&out);
			frand_reset(&sd->rnd);
			mem_io(&io, &m, &copy, &out);
			m.writes_left = k;
			ch = NULL;
			r = side == 0 ? pqx_channel_client(&ch, &io, sd->seed, &sd->opts) :
					pqx_channel_server(&ch, &io, sd->seed, &sd->opts);
			q_free(&copy);
			pqx_channel_free(ch);
			if (r == 0) {
				/* Two frames each, one write a frame. */
				CHECK(k == 2, "side %d: %ld writes", side, k);
				break;
			}
			CHECK(r == PQX_ERR_IO && ch == NULL, "side %d write %ld: %d", side, k, r);
			if (k > 10)
				break;
		}
	}

	/* Each allocation (ours and the wrappers') failing in turn. */
	pqx_test_set_alloc_fault(alloc_hook);
	for (int side = 0; side < 2; side++) {
		for (alloc_at = 1; alloc_at < 1000; alloc_at++) {
			struct side *sd = side == 0 ? &c : &s;

			q_clear(&in);
			if (side == 0) {
				q_put(&in, ls.f[0].p, ls.f[0].len);
				q_put(&in, ls.f[2].p, ls.f[2].len);
			} else {
				q_put(&in, ls.f[1].p, ls.f[1].len);
				q_put(&in, ls.f[3].p, ls.f[3].len);
			}
			alloc_count = 0;
			ch = NULL;
			r = side_run(sd, side, &in, &out, &m, &ch);
			pqx_channel_free(ch);
			if (alloc_count < alloc_at) {
				CHECK_RC(r, 0);
				break;
			}
			/* NOMEM, or INTERNAL from a wrapper whose libcrypto call "failed". */
			CHECK((r == PQX_ERR_NOMEM || r == PQX_ERR_INTERNAL) && ch == NULL,
			    "side %d allocation %ld: %d", side, alloc_at, r);
		}
	}
	pqx_test_set_alloc_fault(NULL);

	/* An allocation failing at the rekey: the channel dies with the error. */
	{
		struct pair p;
		const uint8_t *d;
		size_t n;

		if (pair_open(&p, chacha_only, chacha_only) == 0) {
			for (long i = 0; i < PQX_CHANNEL_REKEY_INTERVAL; i++)
				if (pqx_channel_send(p.c_ch, PQX_RECORD_DATA, NULL, 0) != 0 ||
				    pqx_channel_recv(p.s_ch, &d, &n) != 0) {
					CHECK(0, "record %ld", i);
					break;
				}
			pqx_test_set_alloc_fault(alloc_hook);
			alloc_at = 1;
			alloc_count = 0;
			r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, NULL, 0);
			CHECK_RC(r, PQX_ERR_NOMEM);
			alloc_count = 0;
			r = pqx_channel_recv(p.s_ch, &d, &n);
			CHECK_RC(r, PQX_ERR_NOMEM);
			pqx_test_set_alloc_fault(NULL);
			r = pqx_channel_send(p.c_ch, PQX_RECORD_DATA, NULL, 0);
			CHECK_RC(r, PQX_ERR_NOMEM);
		} else {
			CHECK(0, "handshake");
		}
		pair_close(&p);
	}
	lockstep_free(&ls);
	q_free(&in);
	q_free(&out);
}

static void test_fingerprint(void)
{
	char fp[52];
	uint8_t h[32];

	pqx_key_fingerprint(fp, pk_s, PK);
	CHECK(strncmp(fp, "SHA256:", 7) == 0 && strlen(fp) == 50, "%s", fp);
	CHECK(pqx_sha256(h, pk_s, PK) == 0);
	/* The first base64 character is the top 6 bits of the hash. */
	CHECK(fp[7] == "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[h[0] >> 2]);
}

/*
 * Both ends write 4 MiB before they read: over a socket pair whose buffers
 * hold far less, each write has to wait on the other end, which only reads
 * once its own write is done. The transport's writes read what arrives
 * meanwhile, so both finish (without that: a timeout).
 */
struct both {
	int fd, r;
	uint8_t *out, *in;
};

#define BOTH_BYTES (4u << 20)

static void *both_ends(void *arg)
{
	struct both *b = arg;
	pqx_socket_io sio;
	pqx_channel_io io;

	memset(&sio, 0, sizeof(sio));
	sio.fd = b->fd;
	sio.timeout_ms = 5000;
	pqx_channel_io_socket(&io, &sio);
	if ((b->r = io.write(io.ctx, b->out, BOTH_BYTES)) == 0)
		b->r = io.read(io.ctx, b->in, BOTH_BYTES);
	pqx_socket_io_release(&sio);
	return NULL;
}

static void test_socket_both_write(void)
{
	struct both b[2];
	pthread_t th[2];
	int sv[2], small = 65536;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	for (int i = 0; i < 2; i++) {
		(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		(void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		b[i].fd = sv[i];
		b[i].out = malloc(BOTH_BYTES);
		b[i].in = malloc(BOTH_BYTES);
		CHECK(b[i].out != NULL && b[i].in != NULL);
		for (size_t j = 0; j < BOTH_BYTES; j++)
			b[i].out[j] = (uint8_t)(j * 7 + (size_t)i * 13 + (j >> 12));
	}
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, both_ends, &b[i]) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		CHECK(b[i].r == 0, "end %d: %s", i, pqx_strerror(b[i].r));
		CHECK(memcmp(b[i].in, b[1 - i].out, BOTH_BYTES) == 0, "end %d read what the other wrote", i);
	}
	for (int i = 0; i < 2; i++) {
		free(b[i].out);
		free(b[i].in);
		close(sv[i]);
	}
}

int main(void)
{
	keys_init();
	/* Measured once, before any thread. */
	CHECK(pqx_channel_default_ciphers()[0] != 0);
	t_run("channel: handshake over sockets, each cipher, ids, keys", test_handshake_sockets);
	t_run("channel: socket transport: both ends write ahead of their reads", test_socket_both_write);
	t_run("channel: handshake in memory, deterministic", test_handshake_memory);
	t_run("channel: a close after a receive keeps the record received", test_close_keeps_received);
	t_run("channel: refused by authorize", test_refused_by_authorize);
	t_run("channel: check_server refuses before sending", test_check_server_refuses);
	t_run("channel: a pinned key sends message 1 before message 0", test_pinned_in_advance);
	t_run("channel: a pinned key over sockets, and servers with other keys", test_pinned_sockets);
	t_run("channel: no cipher in common", test_no_common_cipher);
	t_run("channel: impostor server fails at T_S", test_impostor_server);
	t_run("channel: real server with another seed, key rewritten", test_impostor_real_server);
	t_run("channel: impostor client fails at T_C", test_impostor_client);
	t_run("channel: malformed messages 0 and 2", test_malformed_handshake);
	t_run("channel: one bit flipped at every handshake byte", test_tamper_handshake);
	t_run("channel: record sizes 0 to max, max+1 refused", test_record_sizes);
	t_run("channel: many records each way across the rekey", test_rekey_many_records);
	t_run("channel: flipped, dropped, duplicated, reordered records", test_record_tamper);
	t_run("channel: record length header out of range", test_record_length_header);
	t_run("channel: close, error records, truncation", test_close_and_error);
	t_run("channel: echo of large records over sockets", test_echo_sockets);
	t_run("channel: timeouts", test_timeouts);
	t_run("channel: peer gone", test_peer_gone);
	t_run("channel: injected faults", test_faults);
	t_run("channel: fingerprint", test_fingerprint);
	return t_done();
}
