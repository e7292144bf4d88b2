/* pqx: the secure channel of docs/PROTOCOL.md: handshake (messages 0-3) and the record layer. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pqx/channel.h>
#include <pqx/sha3.h>

#include "crypto/chachapoly.h"
#include "crypto/ossl.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/util.h"

#define PROTOCOL_NAME "pqx-channel-v1 X-Wing HKDF-SHA256"
#define PROTOCOL_VERSION 1
#define HS_MAX_FRAME 8192
#define MAX_CIPHERS 8
#define PK PQX_XWING_PUBLIC_KEY_BYTES
#define CT PQX_XWING_CIPHERTEXT_BYTES
#define TAG PQX_AEAD_TAG_BYTES
#define RECORD_MAX_LEN (PQX_CHANNEL_MAX_RECORD + 1 + TAG)

enum { MSG0 = 0, MSG1 = 1, MSG2 = 2, MSG3 = 3 };
enum { STATUS_OK = 0, STATUS_REFUSED = 1 };

/* The symmetric state of the handshake (Noise's SymmetricState). */
struct hs {
	uint8_t h[32], ck[32], k[32];
	uint64_t n;
};

struct direction {
	pqx_aead *aead;
	uint8_t key[32];
	uint64_t counter;
};

struct pqx_channel {
	pqx_channel_io io;
	struct direction tx, rx;
	enum pqx_aead_alg alg;
	uint8_t cipher;
	uint8_t peer[PK];
	uint8_t session_id[32];
	uint8_t *buf; /* one record: header, type, payload, tag */
	size_t buf_used; /* how much of buf any record has touched: what free wipes */
	char peer_error[256];
	int err;       /* 0, or the error that ended the channel: later calls return it */
	int rx_closed; /* the peer sent close or error: we may still send */
	int tx_err;    /* a write failed: we may still read what the peer sent */
};

static int rnd(const pqx_channel_opts *o, uint8_t *out, size_t n)
{
	if (o != NULL && o->random != NULL)
		return o->random(o->random_ctx, out, n) == 0 ? 0 : PQX_ERR_RANDOM;
	return pqx_randombytes(out, n);
}

static int mix_hash(struct hs *s, const uint8_t *d, size_t n)
{
	uint8_t in[32 + HS_MAX_FRAME];

	if (n > HS_MAX_FRAME)
		return PQX_ERR_INTERNAL;
	memcpy(in, s->h, 32);
	memcpy(in + 32, d, n);
	return pqx_sha256(s->h, in, 32 + n);
}

static int mix_key(struct hs *s, const uint8_t ss[32])
{
	static const uint8_t info[] = "pqx mix";
	uint8_t out[64];
	int r;

	if ((r = pqx_hkdf_sha256(out, sizeof(out), s->ck, 32, ss, 32, info,
		 sizeof(info) - 1)) == 0) {
		memcpy(s->ck, out, 32);
		memcpy(s->k, out + 32, 32);
		s->n = 0;
	}
	pqx_wipe(out, sizeof(out));
	return r;
}

static void record_nonce(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	pqx_store64_be(nonce + 4, n);
}

/* EncryptAndHash: c (n + 16 bytes) = AEAD(k, n, ad = h, p), then MixHash(c). */
static int encrypt_and_hash(struct hs *s, uint8_t *c, const uint8_t *p, size_t n)
{
	uint8_t nonce[12];
	int r;

	record_nonce(nonce, s->n++);
	if ((r = pqx_chachapoly_seal(c, s->k, nonce, s->h, 32, p, n)) != 0)
		return r;
	return mix_hash(s, c, n + TAG);
}

static int decrypt_and_hash(struct hs *s, uint8_t *p, const uint8_t *c, size_t n)
{
	uint8_t nonce[12];
	int r;

	record_nonce(nonce, s->n++);
	if ((r = pqx_chachapoly_open(p, s->k, nonce, s->h, 32, c, n)) != 0)
		return r;
	return mix_hash(s, c, n);
}

static int hs_init(struct hs *s)
{
	static const char name[] = PROTOCOL_NAME;
	int r;

	memset(s, 0, sizeof(*s));
	r = pqx_sha256(s->h, (const uint8_t *)name, sizeof(name) - 1);
	memcpy(s->ck, s->h, 32);
	return r;
}

/* A handshake frame: u32be length || body, in one write (one segment for the peer to wake up to). */
static int frame_send(const pqx_channel_io *io, const uint8_t *body, size_t n)
{
	uint8_t f[4 + HS_MAX_FRAME];

	if (n > HS_MAX_FRAME)
		return PQX_ERR_INTERNAL;
	pqx_store32_be(f, (uint32_t)n);
	memcpy(f + 4, body, n);
	return io->write(io->ctx, f, 4 + n);
}

static int frame_recv(const pqx_channel_io *io, uint8_t *body, size_t *n)
{
	uint8_t hdr[4];
	uint32_t len;
	int r;

	if ((r = io->read(io->ctx, hdr, 4)) != 0)
		return r;
	len = pqx_load32_be(hdr);
	if (len == 0 || len > HS_MAX_FRAME)
		return PQX_ERR_FORMAT;
	if ((r = io->read(io->ctx, body, len)) != 0)
		return r;
	*n = len;
	return 0;
}

static int cipher_alg(uint8_t id, enum pqx_aead_alg *alg)
{
	switch (id) {
	case PQX_CHANNEL_CHACHA20_POLY1305: *alg = PQX_AEAD_CHACHA20_POLY1305; return 0;
	case PQX_CHANNEL_AES_256_GCM: *alg = PQX_AEAD_AES_256_GCM; return 0;
	}
	return PQX_ERR_UNSUPPORTED;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Whether AES-256-GCM seals about as fast as ChaCha20-Poly1305 on this
 * machine, or faster (AES_MARGIN below). A server measures this once, when
 * it starts, and picks the record cipher by it (clients offer what their
 * CPU runs, unmeasured: message 1 can't wait). It must be cheap all the
 * same: each cipher seals two 16 KiB records per round, the two take turns
 * for 20 timed rounds after a warm-up, and the best round of each counts
 * (about 0.5 ms in all, besides libcrypto's set-up of the ciphers; an
 * interruption spoils a round, not the answer). 16 KiB is already bulk
 * work for both: here ChaCha20-Poly1305 took 1.23 times OpenSSL's AES-GCM's
 * time (1.21 with 64 KiB records), and 2.3 times ours (crypto/aesgcm.c).
 * Five rounds of 8 KiB, enough while every client measured for itself,
 * chose ChaCha20-Poly1305 in 3 of 20 starts of a server on this busy host;
 * its choice now holds for all its sessions.
 *
 * Where the two are that close, a busy machine could still tip the
 * answer (a `make bench` run here once chose ChaCha20-Poly1305), so
 * AES-GCM keeps its place unless ChaCha20-Poly1305 is more than
 * AES_MARGIN faster: a CPU with slow AES instructions is slower by far more.
 */
#define MEASURE_RECORD (16u << 10)
#define MEASURE_ROUNDS 20
#define AES_MARGIN 1.15

static double seal_time(pqx_aead *a, uint8_t *buf)
{
	uint8_t nonce[12] = { 0 };
	double t0 = now_s();

	for (int i = 0; i < 2; i++)
		if (pqx_aead_seal(a, buf, nonce, NULL, 0, buf, MEASURE_RECORD) != 0)
			return 1e9;
	return now_s() - t0;
}

static int aes_is_faster(void)
{
	static uint8_t buf[MEASURE_RECORD + TAG];
	uint8_t key[32] = { 1 };
	pqx_aead *aes = pqx_aead_new(PQX_AEAD_AES_256_GCM, key);
	pqx_aead *chacha = pqx_aead_new(PQX_AEAD_CHACHA20_POLY1305, key);
	double ta = 1e9, tc = 1e9, t;

	if (aes != NULL && chacha != NULL) {
		(void)seal_time(aes, buf);
		(void)seal_time(chacha, buf);
		for (int round = 0; round < MEASURE_ROUNDS; round++) {
			if ((t = seal_time(aes, buf)) < ta)
				ta = t;
			if ((t = seal_time(chacha, buf)) < tc)
				tc = t;
		}
	}
	pqx_aead_free(aes);
	pqx_aead_free(chacha);
	return ta < tc * AES_MARGIN;
}

static uint8_t default_ciphers[3];
static pthread_once_t default_ciphers_once = PTHREAD_ONCE_INIT;

/* AES-GCM only with AES instructions; then the faster one first. */
static void measure_ciphers(void)
{
	if (pqx_cpu_has_aes() && aes_is_faster()) {
		default_ciphers[0] = PQX_CHANNEL_AES_256_GCM;
		default_ciphers[1] = PQX_CHANNEL_CHACHA20_POLY1305;
	} else if (pqx_cpu_has_aes()) {
		default_ciphers[0] = PQX_CHANNEL_CHACHA20_POLY1305;
		default_ciphers[1] = PQX_CHANNEL_AES_256_GCM;
	} else {
		default_ciphers[0] = PQX_CHANNEL_CHACHA20_POLY1305;
	}
}

const uint8_t *pqx_channel_default_ciphers(void)
{
	/* Measured once per process, whichever thread handshakes first. */
	pthread_once(&default_ciphers_once, measure_ciphers);
	return default_ciphers;
}

/* A server's ciphers, its first choice first. */
static const uint8_t *opt_ciphers(const pqx_channel_opts *o)
{
	return o != NULL && o->ciphers != NULL ? o->ciphers : pqx_channel_default_ciphers();
}

/*
 * What a client offers: AES-256-GCM where its CPU has AES instructions, and
 * ChaCha20-Poly1305. Not measured: that would build OpenSSL's cipher table
 * (0.4-0.5 ms) before message 1 could leave; the server, which measured,
 * picks, and the table is built while message 2 is on its way.
 */
static const uint8_t *offer_ciphers(const pqx_channel_opts *o)
{
	static const uint8_t with_aes[3] = { PQX_CHANNEL_AES_256_GCM, PQX_CHANNEL_CHACHA20_POLY1305, 0 };
	static const uint8_t without[2] = { PQX_CHANNEL_CHACHA20_POLY1305, 0 };

	if (o != NULL && o->ciphers != NULL)
		return o->ciphers;
	return pqx_cpu_has_aes() ? with_aes : without;
}

static int dir_init(struct direction *d, enum pqx_aead_alg alg, const uint8_t key[32])
{
	memcpy(d->key, key, 32);
	d->counter = 0;
	if ((d->aead = pqx_aead_new(alg, key)) == NULL)
		return PQX_ERR_NOMEM;
	return 0;
}

/* The fixed rekey schedule: a new key every PQX_CHANNEL_REKEY_INTERVAL records. */
static int dir_ratchet(struct direction *d, enum pqx_aead_alg alg)
{
	static const uint8_t info[] = "pqx rekey";
	uint8_t next[32];
	int r;

	if (d->counter == 0 || d->counter % PQX_CHANNEL_REKEY_INTERVAL != 0)
		return 0;
	uint64_t counter = d->counter;

	if ((r = pqx_hkdf_sha256_expand(next, 32, d->key, info, sizeof(info) - 1)) != 0)
		return r;
	pqx_aead_free(d->aead);
	r = dir_init(d, alg, next);
	d->counter = counter; /* the counter continues across keys */
	pqx_wipe(next, sizeof(next));
	return r;
}

static int channel_new(pqx_channel **out, const pqx_channel_io *io, struct hs *s,
    uint8_t cipher, const uint8_t peer[PK], int is_client)
{
	static const uint8_t info[] = "pqx split";
	pqx_channel *ch;
	uint8_t keys[64];
	int r;

	if ((ch = pqx_calloc(1, sizeof(*ch))) == NULL)
		return PQX_ERR_NOMEM;
	ch->io = *io;
	ch->cipher = cipher;
	memcpy(ch->peer, peer, PK);
	memcpy(ch->session_id, s->h, 32);
	if ((r = cipher_alg(cipher, &ch->alg)) != 0 ||
	    (r = pqx_hkdf_sha256(keys, 64, s->ck, 32, NULL, 0, info, sizeof(info) - 1)) != 0)
		goto out;
	/* k_c2s || k_s2c */
	if ((r = dir_init(&ch->tx, ch->alg, is_client ? keys : keys + 32)) != 0 ||
	    (r = dir_init(&ch->rx, ch->alg, is_client ? keys + 32 : keys)) != 0)
		goto out;
	if ((ch->buf = pqx_malloc(4 + RECORD_MAX_LEN)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	*out = ch;
	ch = NULL;
	r = 0;
out:
	pqx_wipe(keys, sizeof(keys));
	pqx_channel_free(ch);
	return r;
}

/* Our static key, expanded from seed, or the caller's copy of it (opts->key). */
static int static_key(const pqx_channel_opts *o, const uint8_t seed[PQX_XWING_SEED_BYTES], pqx_xwing_key *k)
{
	if (o != NULL && o->key != NULL) {
		memcpy(k, o->key, sizeof(*k));
		return 0;
	}
	return pqx_xwing_key_expand(k, seed);
}

/* Message 0: the server's key (PQX_ERR_UNSUPPORTED for another version's). */
static int msg0_recv(const pqx_channel_io *io, uint8_t server[PK])
{
	uint8_t body[HS_MAX_FRAME], type, ver;
	size_t n;
	pqx_buf b;
	int r;

	if ((r = frame_recv(io, body, &n)) != 0)
		return r;
	pqx_buf_view(&b, body, n);
	if (pqx_buf_get_u8(&b, &type) != 0 || type != MSG0 || pqx_buf_get_u8(&b, &ver) != 0)
		return PQX_ERR_FORMAT;
	/* Another version's message 0 may have another length: say which. */
	if (ver != PROTOCOL_VERSION)
		return PQX_ERR_UNSUPPORTED;
	if (pqx_buf_get(&b, server, PK) != 0 || pqx_buf_expect_end(&b) != 0)
		return PQX_ERR_FORMAT;
	return 0;
}

int pqx_channel_client(pqx_channel **out, const pqx_channel_io *io,
    const uint8_t seed[PQX_XWING_SEED_BYTES], const pqx_channel_opts *opts)
{
	struct hs s;
	uint8_t body[HS_MAX_FRAME], server[PK], eseed[32], rand64[64], ss[32], empty[1];
	pqx_xwing_key ks, ke; /* ours and the ephemeral, each expanded once */
	const uint8_t *ciphers = offer_ciphers(opts);
	const uint8_t *pinned = opts != NULL ? opts->server_key : NULL;
	size_t n, count, off, clen;
	uint8_t status, cipher;
	int r;

	memset(&ks, 0, sizeof(ks));
	memset(&ke, 0, sizeof(ke));

	*out = NULL;
	/*
	 * Message 0: the server's key. A key pinned in advance is taken as the
	 * message (its bytes are mixed in) and message 1 goes out at once, as
	 * in Noise IK: only the pinned key's holder can read what it hides.
	 * The message, when it comes, must then carry that key. Otherwise the
	 * key is checked before anything is sent.
	 */
	if ((r = hs_init(&s)) != 0)
		goto out;
	if (pinned != NULL)
		memcpy(server, pinned, PK);
	else if ((r = msg0_recv(io, server)) != 0 ||
		 (opts != NULL && opts->check_server != NULL &&
		     (r = opts->check_server(opts->ctx, server)) != 0))
		goto out;
	body[0] = MSG0;
	body[1] = PROTOCOL_VERSION;
	memcpy(body + 2, server, PK);
	if ((r = mix_hash(&s, body, 2 + PK)) != 0 || (r = static_key(opts, seed, &ks)) != 0)
		goto out;

	/* Message 1: version, ciphers, E, CT1, enc(C). */
	for (count = 0; count < MAX_CIPHERS && ciphers[count] != 0; count++)
		;
	off = 0;
	body[off++] = MSG1;
	body[off++] = PROTOCOL_VERSION;
	body[off++] = (uint8_t)count;
	memcpy(body + off, ciphers, count);
	off += count;
	if ((r = mix_hash(&s, body, off)) != 0 || (r = rnd(opts, eseed, 32)) != 0 ||
	    (r = pqx_xwing_key_expand(&ke, eseed)) != 0)
		goto out;
	memcpy(body + off, ke.pk, PK);
	if ((r = mix_hash(&s, ke.pk, PK)) != 0 || (r = rnd(opts, rand64, 64)) != 0 ||
	    (r = pqx_xwing_encaps_derand(body + off + PK, ss, server, rand64)) != 0)
		goto out;
	off += PK;
	if ((r = mix_hash(&s, body + off, CT)) != 0 || (r = mix_key(&s, ss)) != 0)
		goto out;
	off += CT;
	if ((r = encrypt_and_hash(&s, body + off, ks.pk, PK)) != 0)
		goto out;
	off += PK + TAG;
	if ((r = frame_send(io, body, off)) != 0)
		goto out;
	pqx_aead_warm(); /* while the server works on message 2 */
	if (pinned != NULL && (r = msg0_recv(io, server)) != 0)
		goto out;
	if (pinned != NULL && memcmp(server, pinned, PK) != 0) {
		/* Another key: check_server names both; we go no further either way. */
		if (opts->check_server != NULL)
			(void)opts->check_server(opts->ctx, server);
		r = PQX_ERR_PEER_KEY;
		goto out;
	}

	/* Message 2: status, cipher, CT2, CT3, T_S. */
	if ((r = frame_recv(io, body, &n)) != 0)
		goto out;
	if (n < 3 + TAG || body[0] != MSG2) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	status = body[1];
	cipher = body[2];
	clen = status == STATUS_OK ? 2 * CT : 0;
	if ((status != STATUS_OK && status != STATUS_REFUSED) || n != 3 + clen + TAG) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	if ((r = mix_hash(&s, body, 3)) != 0)
		goto out;
	if (status == STATUS_OK) {
		if ((r = mix_hash(&s, body + 3, CT)) != 0 ||
		    (r = pqx_xwing_decaps_key(ss, body + 3, &ke)) != 0 || (r = mix_key(&s, ss)) != 0 ||
		    (r = mix_hash(&s, body + 3 + CT, CT)) != 0 ||
		    (r = pqx_xwing_decaps_key(ss, body + 3 + CT, &ks)) != 0 ||
		    (r = mix_key(&s, ss)) != 0)
			goto out;
	}
	/* T_S proves the server holds S's secret (it is under a key from ss1). */
	if ((r = decrypt_and_hash(&s, empty, body + 3 + clen, TAG)) != 0)
		goto out;
	if (status == STATUS_REFUSED) {
		r = PQX_ERR_REFUSED;
		goto out;
	}
	{
		enum pqx_aead_alg alg;
		int offered = 0;

		for (size_t i = 0; i < count; i++)
			offered |= ciphers[i] == cipher;
		if (!offered || cipher_alg(cipher, &alg) != 0) {
			r = PQX_ERR_UNSUPPORTED;
			goto out;
		}
	}

	/* Message 3: T_C proves we hold C's secret (it is under a key from ss3). */
	body[0] = MSG3;
	if ((r = mix_hash(&s, body, 1)) != 0 || (r = encrypt_and_hash(&s, body + 1, empty, 0)) != 0 ||
	    (r = frame_send(io, body, 1 + TAG)) != 0)
		goto out;
	r = channel_new(out, io, &s, cipher, server, 1);
out:
	pqx_wipe(&s, sizeof(s));
	pqx_wipe(eseed, sizeof(eseed));
	pqx_wipe(rand64, sizeof(rand64));
	pqx_wipe(ss, sizeof(ss));
	pqx_xwing_key_wipe(&ks);
	pqx_xwing_key_wipe(&ke);
	return r;
}

int pqx_channel_server(pqx_channel **out, const pqx_channel_io *io,
    const uint8_t seed[PQX_XWING_SEED_BYTES], const pqx_channel_opts *opts)
{
	struct hs s;
	uint8_t body[HS_MAX_FRAME], client[PK], epk[PK], rand64[64], ss[32], empty[1];
	pqx_xwing_key kbuf;
	const pqx_xwing_key *ks = opts != NULL && opts->key != NULL ? opts->key : &kbuf;
	const uint8_t *mine = opt_ciphers(opts), *offered;
	size_t n, off, count;
	uint8_t status = STATUS_OK, cipher = 0;
	int r, refusal = 0;

	*out = NULL;
	memset(&kbuf, 0, sizeof(kbuf));
	/* Message 0: our key. */
	if ((r = hs_init(&s)) != 0 || (ks == &kbuf && (r = pqx_xwing_key_expand(&kbuf, seed)) != 0))
		goto out;
	body[0] = MSG0;
	body[1] = PROTOCOL_VERSION;
	memcpy(body + 2, ks->pk, PK);
	if ((r = mix_hash(&s, body, 2 + PK)) != 0 || (r = frame_send(io, body, 2 + PK)) != 0)
		goto out;

	/* Message 1. */
	if ((r = frame_recv(io, body, &n)) != 0)
		goto out;
	if (n < 3 || body[0] != MSG1) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	if (body[1] != PROTOCOL_VERSION) {
		r = PQX_ERR_UNSUPPORTED;
		goto out;
	}
	/* Any u8 count: an empty or unknown list is refused below, with cipher 0. */
	count = body[2];
	if (n != 3 + count + PK + CT + PK + TAG) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	offered = body + 3;
	off = 3 + count;
	if ((r = mix_hash(&s, body, off)) != 0)
		goto out;
	memcpy(epk, body + off, PK);
	if ((r = mix_hash(&s, epk, PK)) != 0 || (r = mix_hash(&s, body + off + PK, CT)) != 0 ||
	    (r = pqx_xwing_decaps_key(ss, body + off + PK, ks)) != 0 || (r = mix_key(&s, ss)) != 0)
		goto out;
	off += PK + CT;
	/* A wrong CT1 (not for our key) fails here: drop without a word. */
	if ((r = decrypt_and_hash(&s, client, body + off, PK + TAG)) != 0)
		goto out;

	/* Our first choice that the client offered. */
	for (size_t j = 0; mine[j] != 0 && cipher == 0; j++)
		for (size_t i = 0; i < count && cipher == 0; i++)
			if (offered[i] == mine[j])
				cipher = mine[j];
	if (cipher == 0)
		refusal = PQX_ERR_UNSUPPORTED;
	else if (opts != NULL && opts->authorize != NULL && opts->authorize(opts->ctx, client) != 0)
		refusal = PQX_ERR_REFUSED;
	if (refusal != 0) {
		status = STATUS_REFUSED;
		cipher = 0;
	}

	/* Message 2. */
	off = 0;
	body[off++] = MSG2;
	body[off++] = status;
	body[off++] = cipher;
	if ((r = mix_hash(&s, body, 3)) != 0)
		goto out;
	if (status == STATUS_OK) {
		if ((r = rnd(opts, rand64, 64)) != 0 ||
		    (r = pqx_xwing_encaps_derand(body + off, ss, epk, rand64)) != 0 ||
		    (r = mix_hash(&s, body + off, CT)) != 0 || (r = mix_key(&s, ss)) != 0)
			goto out;
		off += CT;
		if ((r = rnd(opts, rand64, 64)) != 0 ||
		    (r = pqx_xwing_encaps_derand(body + off, ss, client, rand64)) != 0 ||
		    (r = mix_hash(&s, body + off, CT)) != 0 || (r = mix_key(&s, ss)) != 0)
			goto out;
		off += CT;
	}
	if ((r = encrypt_and_hash(&s, body + off, empty, 0)) != 0 ||
	    (r = frame_send(io, body, off + TAG)) != 0)
		goto out;
	if (refusal != 0) {
		r = refusal;
		goto out;
	}

	/* Message 3: the client proves its key. */
	if ((r = frame_recv(io, body, &n)) != 0)
		goto out;
	if (n != 1 + TAG || body[0] != MSG3) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	if ((r = mix_hash(&s, body, 1)) != 0 || (r = decrypt_and_hash(&s, empty, body + 1, TAG)) != 0)
		goto out;
	r = channel_new(out, io, &s, cipher, client, 0);
out:
	pqx_wipe(&s, sizeof(s));
	pqx_wipe(rand64, sizeof(rand64));
	pqx_wipe(ss, sizeof(ss));
	pqx_xwing_key_wipe(&kbuf);
	return r;
}

/* Seals the record at p (its payload of len bytes at p + 5, room for the tag after it) in place and writes it. */
static int seal_send(pqx_channel *ch, uint8_t *p, enum pqx_record_type type, size_t len)
{
	uint8_t nonce[12];
	size_t clen = 1 + len + TAG;
	int r;

	if ((r = dir_ratchet(&ch->tx, ch->alg)) != 0)
		goto fail;
	pqx_store32_be(p, (uint32_t)clen);
	p[4] = (uint8_t)type;
	record_nonce(nonce, ch->tx.counter);
	if ((r = pqx_aead_seal(ch->tx.aead, p + 4, nonce, p, 4, p + 4, 1 + len)) != 0 ||
	    (r = ch->io.write(ch->io.ctx, p, 4 + clen)) != 0)
		goto fail;
	ch->tx.counter++;
	return 0;
fail:
	/*
	 * A failed write ends sending, but records the peer sent before it went
	 * away (an error record saying why) can still be read.
	 */
	if (r == PQX_ERR_IO)
		ch->tx_err = r;
	else
		ch->err = r;
	return r;
}

int pqx_channel_send(pqx_channel *ch, enum pqx_record_type type, const uint8_t *data,
    size_t len)
{
	if (ch->err != 0)
		return ch->err;
	if (ch->tx_err != 0)
		return ch->tx_err;
	if (len > PQX_CHANNEL_MAX_RECORD ||
	    (type != PQX_RECORD_DATA && type != PQX_RECORD_CLOSE && type != PQX_RECORD_ERROR) ||
	    (type == PQX_RECORD_CLOSE && len != 0))
		return PQX_ERR_INVALID_ARG;
	if (len == 0) {
		/* Sealed apart: a record just received stays readable (a close after a read). */
		uint8_t rec[4 + 1 + TAG];

		return seal_send(ch, rec, type, 0);
	}
	if (4 + 1 + len + TAG > ch->buf_used)
		ch->buf_used = 4 + 1 + len + TAG;
	/* data may point into buf: a record just received, passed on. */
	if (len > 0)
		memmove(ch->buf + 5, data, len);
	return seal_send(ch, ch->buf, type, len);
}

int pqx_channel_send_inplace(pqx_channel *ch, uint8_t *rec, size_t len)
{
	if (ch->err != 0)
		return ch->err;
	if (ch->tx_err != 0)
		return ch->tx_err;
	if (len > PQX_CHANNEL_MAX_RECORD)
		return PQX_ERR_INVALID_ARG;
	return seal_send(ch, rec, PQX_RECORD_DATA, len);
}

int pqx_channel_readable(const pqx_channel *ch)
{
	return ch->io.ready != NULL && ch->io.ready(ch->io.ctx);
}

int pqx_channel_recv(pqx_channel *ch, const uint8_t **data, size_t *len)
{
	uint8_t nonce[12], *p = ch->buf;
	uint32_t clen;
	int r;

	*data = NULL;
	*len = 0;
	if (ch->err != 0)
		return ch->err;
	if (ch->rx_closed)
		return PQX_ERR_CLOSED;
	if ((r = dir_ratchet(&ch->rx, ch->alg)) != 0 || (r = ch->io.read(ch->io.ctx, p, 4)) != 0)
		goto fail;
	clen = pqx_load32_be(p);
	if (clen < 1 + TAG || clen > RECORD_MAX_LEN) {
		r = PQX_ERR_AUTH;
		goto fail;
	}
	if (4 + (size_t)clen > ch->buf_used)
		ch->buf_used = 4 + (size_t)clen;
	if ((r = ch->io.read(ch->io.ctx, p + 4, clen)) != 0)
		goto fail;
	record_nonce(nonce, ch->rx.counter);
	if ((r = pqx_aead_open(ch->rx.aead, p + 4, nonce, p, 4, p + 4, clen)) != 0)
		goto fail;
	ch->rx.counter++;
	switch (p[4]) {
	case PQX_RECORD_DATA:
		*data = p + 5;
		*len = clen - 1 - TAG;
		return 0;
	case PQX_RECORD_CLOSE:
		/* A close is empty (docs/PROTOCOL.md). */
		if (clen != 1 + TAG) {
			r = PQX_ERR_FORMAT;
			goto fail;
		}
		r = PQX_ERR_CLOSED;
		break;
	case PQX_RECORD_ERROR: {
		size_t n = clen - 1 - TAG;

		if (n >= sizeof(ch->peer_error))
			n = sizeof(ch->peer_error) - 1;
		/* Shown to a user: keep printable ASCII only. */
		for (size_t i = 0; i < n; i++)
			ch->peer_error[i] = (p[5 + i] >= 32 && p[5 + i] < 127) ? (char)p[5 + i] : '?';
		ch->peer_error[n] = '\0';
		r = PQX_ERR_PEER_ERROR;
		break;
	}
	default:
		r = PQX_ERR_FORMAT;
		goto fail;
	}
	/* The peer is done talking; we may still send (our close, say). */
	ch->rx_closed = 1;
	return r;
fail:
	ch->err = r;
	return r;
}

int pqx_channel_write_failed(const pqx_channel *ch)
{
	return ch->tx_err != 0;
}

const uint8_t *pqx_channel_peer_key(const pqx_channel *ch)
{
	return ch->peer;
}

const uint8_t *pqx_channel_session_id(const pqx_channel *ch)
{
	return ch->session_id;
}

enum pqx_channel_cipher pqx_channel_cipher(const pqx_channel *ch)
{
	return (enum pqx_channel_cipher)ch->cipher;
}

const char *pqx_channel_peer_error(const pqx_channel *ch)
{
	return ch->peer_error;
}

void pqx_channel_free(pqx_channel *ch)
{
	if (ch == NULL)
		return;
	pqx_aead_free(ch->tx.aead);
	pqx_aead_free(ch->rx.aead);
	if (ch->buf != NULL)
		pqx_free_wipe(ch->buf, ch->buf_used < 4 ? 4 : ch->buf_used);
	pqx_free_wipe(ch, sizeof(*ch));
}

void pqx_key_fingerprint(char out[52], const uint8_t *key, size_t len)
{
	uint8_t h[32];

	memcpy(out, "SHA256:", 7);
	if (pqx_sha256(h, key, len) != 0)
		memset(h, 0, sizeof(h));
	pqx_base64_encode(out + 7, h, sizeof(h), 0);
}

uint64_t pqx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Socket transport: exact reads and writes, each bounded by timeout_ms and
 * all by the deadline, so a slow peer cannot hold a connection forever.
 */
static int sock_wait(const pqx_socket_io *s, short ev, short *revents)
{
	struct pollfd p = { s->fd, ev, 0 };
	int timeout_ms = s->timeout_ms > 0 ? s->timeout_ms : -1, r;

	if (s->deadline_ms != 0) {
		uint64_t now = pqx_now_ms();

		if (now >= s->deadline_ms)
			return PQX_ERR_TIMEOUT;
		if (timeout_ms < 0 || s->deadline_ms - now < (uint64_t)timeout_ms)
			timeout_ms = (int)(s->deadline_ms - now);
	}
	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return PQX_ERR_TIMEOUT;
	if (revents != NULL)
		*revents = p.revents;
	return r < 0 ? PQX_ERR_IO : 0;
}

static int sock_read(void *ctx, uint8_t *buf, size_t n)
{
	pqx_socket_io *s = ctx;
	int r;

	/* First what a waiting write read. */
	if (s->stash_len > 0) {
		size_t k = n < s->stash_len ? n : s->stash_len;

		memcpy(buf, s->stash + s->stash_off, k);
		s->stash_off += k;
		s->stash_len -= k;
		if (s->stash_len == 0)
			s->stash_off = 0;
		buf += k;
		n -= k;
	}
	if (n > 0 && s->stash_eof)
		return PQX_ERR_TRUNCATED;
	while (n > 0) {
		ssize_t k;

		if ((r = sock_wait(s, POLLIN, NULL)) != 0)
			return r;
		k = read(s->fd, buf, n);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0)
			return PQX_ERR_IO;
		if (k == 0)
			return PQX_ERR_TRUNCATED;
		buf += k;
		n -= (size_t)k;
		s->bytes_in += (uint64_t)k;
	}
	return 0;
}

/*
 * The socket is not writable but readable: what the peer sent goes to the
 * stash, so that a peer that waits to write before it reads gets on.
 */
static int sock_stash(pqx_socket_io *s)
{
	ssize_t k;

	if (s->stash_off > 0) {
		memmove(s->stash, s->stash + s->stash_off, s->stash_len);
		s->stash_off = 0;
	}
	if (s->stash_cap - s->stash_len < 65536 && s->stash_cap < PQX_SOCKET_STASH_MAX) {
		size_t cap = s->stash_cap ? s->stash_cap * 2 : 262144;
		uint8_t *p;

		if (cap > PQX_SOCKET_STASH_MAX)
			cap = PQX_SOCKET_STASH_MAX;
		if ((p = realloc(s->stash, cap)) == NULL)
			return PQX_ERR_NOMEM;
		s->stash = p;
		s->stash_cap = cap;
	}
	k = read(s->fd, s->stash + s->stash_len, s->stash_cap - s->stash_len);
	if (k < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (k < 0)
		return PQX_ERR_IO;
	if (k == 0)
		s->stash_eof = 1;
	s->stash_len += (size_t)k;
	s->bytes_in += (uint64_t)k;
	return 0;
}

static int sock_write(void *ctx, const uint8_t *buf, size_t n)
{
	pqx_socket_io *s = ctx;
	int r;

	while (n > 0) {
		ssize_t k;
		int in = !s->stash_eof && s->stash_len < PQX_SOCKET_STASH_MAX;
		short rev = 0;

		if ((r = sock_wait(s, (short)(POLLOUT | (in ? POLLIN : 0)), &rev)) != 0)
			return r;
		if (in && (rev & POLLIN) && !(rev & (POLLOUT | POLLERR | POLLHUP))) {
			if ((r = sock_stash(s)) != 0)
				return r;
			continue;
		}
		/*
		 * Without waiting: a blocking write of a whole record would wait
		 * on a peer that stops reading past every timeout. Without
		 * SIGPIPE: a peer gone away is an error, not the end of the process.
		 */
		k = send(s->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL | (s->more ? MSG_MORE : 0));
		if (k < 0 && errno == ENOTSOCK)
			k = write(s->fd, buf, n);
		if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (k <= 0)
			return PQX_ERR_IO;
		buf += k;
		n -= (size_t)k;
		s->bytes_out += (uint64_t)k;
	}
	s->more = 0;
	return 0;
}

static int sock_ready(void *ctx)
{
	const pqx_socket_io *s = ctx;
	struct pollfd p = { s->fd, POLLIN, 0 };

	if (s->stash_len > 0 || s->stash_eof)
		return 1;
	return poll(&p, 1, 0) > 0;
}

void pqx_socket_io_release(pqx_socket_io *s)
{
	free(s->stash);
	s->stash = NULL;
	s->stash_off = s->stash_len = s->stash_cap = 0;
}

void pqx_channel_io_socket(pqx_channel_io *io, pqx_socket_io *s)
{
	io->read = sock_read;
	io->write = sock_write;
	io->ready = sock_ready;
	io->ctx = s;
}
