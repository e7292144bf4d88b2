/* pqx tests: known answers for the channel: handshake frames, session ids and records with fixed randomness, re-derived from docs/PROTOCOL.md. */
#include <stdlib.h>
#include <string.h>

#include <pqx/channel.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>

#include "crypto/ossl.h"
#include "harness.h"
#include "util/util.h"

/*
 * The vectors below fix, for each record cipher, a whole session between
 * two fixed identities with fixed randomness:
 *
 *   server seed = SHAKE128("pqx channel kat server")[0..32]
 *   client seed = SHAKE128("pqx channel kat client")[0..32]
 *   opts.random = SHAKE128("pqx channel kat client random") for the client,
 *                 SHAKE128("pqx channel kat server random") for the server,
 *                 one stream per side, squeezed in the order of the calls:
 *                 client: 32 bytes ephemeral seed, 64 bytes Encaps(S)
 *                 randomness; server: 64 bytes for CT2, 64 bytes for CT3
 *   opts.ciphers = { cipher } on both sides
 *
 * and record: SHA-256 of each handshake frame (u32be length || body, as on
 * the wire), the session id, the first two data records each way (the
 * whole record, header included: payloads "pqx kat c2s 0", "pqx kat c2s 1",
 * "pqx kat s2c 0", "pqx kat s2c 1"), and SHA-256 of client record 65536,
 * the first under the ratcheted key (records 2..65536 are empty data).
 *
 * They were generated once from the implementation (PQX_CHANNEL_KAT_PRINT=1
 * prints them) after derive() below, a straight-line re-derivation of every
 * byte from docs/PROTOCOL.md with only SHA-256, HMAC-SHA256 (HKDF is
 * written out from RFC 5869 here), X-Wing and the AEAD wrappers, agreed
 * with the channel's bytes. The test checks both: the channel against
 * derive(), and both against the constants, so neither a change of the
 * implementation nor one of the re-derivation goes unnoticed.
 */

#define PK PQX_XWING_PUBLIC_KEY_BYTES
#define CT PQX_XWING_CIPHERTEXT_BYTES
#define TAG 16
#define REKEY PQX_CHANNEL_REKEY_INTERVAL

struct kat {
	uint8_t cipher;
	const char *frame_sha256[4];
	const char *session_id;
	const char *c2s[2], *s2c[2];
	const char *rekey_sha256;
};

static const struct kat kats[2] = {
	{
	    PQX_CHANNEL_CHACHA20_POLY1305,
	    { "604c03ae0baba6a0a60894ef332138b82eccfe2d6348afc42284f21faaf91e96",
	        "04b6b3fb0c67af3d887e68cb1daaed6889d36b743fdadd088fe62fb42219503b",
	        "f7a983b6c7066e18ac149b4692ce67181e42de98840ed99b66ee66c3bd57e686",
	        "a5aac66d92b6e1ba1bd36056f28a700a2db0a3fac0b7fbb8767023dd490e8ad1" },
	    "ca13514a773dbbfaaa472786747884fe26ab2caa8c02c293f35230b276199c8c",
	    { "0000001e420360743cc8108b3731f77bf9ecd01dd609363ea75ecbfb02a0fbc645b8",
	        "0000001eed8160c5661a2efcd821364255bd1a3e1e9671af9da5d1354fd6dd4a5d3a" },
	    { "0000001e4271c0c48a5662448004797e08a684efaa7c3d0145f6c1f15b1d912b2e0e",
	        "0000001e49c1002e2de24d67adf989fdf2797d13dd20d075903b932e5552df7cf310" },
	    "43275b4a232d3eef93563fe0846fb69ac2ae76dbdd4f67497c7f9ed57059ce47",
	},
	{
	    PQX_CHANNEL_AES_256_GCM,
	    { "604c03ae0baba6a0a60894ef332138b82eccfe2d6348afc42284f21faaf91e96",
	        "3b16eaa9c578855d185afcc03ec12076529359a8f6f7dd43420bc152d2ae9e16",
	        "2d5e01c51654a1de4eb1f3a2523eefac67563f6b672058f5fe20c2cb4dcc1d50",
	        "a9e86f518d914453fc8fa787395d26bdbe8d13868e2b6ca0f30c96a5bc1e1396" },
	    "1eebb007c5b86fe01bedc111075f9940662ebbee6c49a861afea42bdf715fc71",
	    { "0000001e5adb6042f9472cd0ad42ab5564a951a7d729caa6121920f2d178370222bb",
	        "0000001e7bc6cd129d26ee0ac75bc00a3c489ef4b6b136f3e9ee18c0e4060267a3b4" },
	    { "0000001ee234c9e80421cfe37065b30655b71da63e96d67d5ff48c4e4da4516a7747",
	        "0000001ec5c4a243bee03035479d1ff528ffd14ac359368ecdac15006c94294be78c" },
	    "f829da4179721a80796c4745ca0fdf49922acfb3a7faf87d667174cabfa9ef59",
	},
};

static const char *payloads[2][2] = { { "pqx kat c2s 0", "pqx kat c2s 1" },
	{ "pqx kat s2c 0", "pqx kat s2c 1" } };

static uint8_t seed_s[32], seed_c[32];

static void shake_label(uint8_t *out, size_t n, const char *label)
{
	pqx_shake128(out, n, (const uint8_t *)label, strlen(label));
}

/* ---- the channel's side: a memory transport and a lockstep handshake --- */

struct queue {
	uint8_t *p;
	size_t len, off, cap;
};

static void q_put(struct queue *q, const uint8_t *d, size_t n)
{
	if (q->len + n > q->cap) {
		q->cap = (q->len + n) * 2 + 4096;
		if ((q->p = realloc(q->p, q->cap)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(q->p + q->len, d, n);
	q->len += n;
}

static int q_read(void *ctx, uint8_t *buf, size_t n)
{
	struct queue **qs = ctx, *q = qs[0];

	if (q->len - q->off < n)
		return PQX_ERR_TRUNCATED;
	memcpy(buf, q->p + q->off, n);
	q->off += n;
	return 0;
}

static int q_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct queue **qs = ctx;

	q_put(qs[1], buf, n);
	return 0;
}

struct stream {
	pqx_keccak_ctx k;
};

static int stream_cb(void *ctx, uint8_t *out, size_t n)
{
	pqx_keccak_squeeze(&((struct stream *)ctx)->k, out, n);
	return 0;
}

/*
 * Runs one side from the start with input in (a fresh copy) and a fresh
 * random stream; what it writes goes to out (cleared). qs must live as long
 * as the channel.
 */
static int given_keys; /* each side gets its static key expanded (opts.key), not only its seed */

static int run_side(int server, uint8_t cipher, const struct queue *in, struct queue *out,
    struct queue *qs[2], pqx_channel **ch)
{
	static pqx_xwing_key k;
	static struct stream rs;
	const uint8_t ciphers[2] = { cipher, 0 };
	const char *label = server ? "pqx channel kat server random" :
				     "pqx channel kat client random";
	pqx_channel_opts o;
	pqx_channel_io io;
	pqx_channel *tmp = NULL;
	int r;

	pqx_shake128_init(&rs.k);
	pqx_keccak_absorb(&rs.k, (const uint8_t *)label, strlen(label));
	memset(&o, 0, sizeof(o));
	o.ciphers = ciphers;
	o.random = stream_cb;
	o.random_ctx = &rs;
	if (given_keys) {
		if (pqx_xwing_key_expand(&k, server ? seed_s : seed_c) != 0)
			return PQX_ERR_INTERNAL;
		o.key = &k;
	}
	qs[0]->len = qs[0]->off = 0;
	q_put(qs[0], in->p, in->len);
	qs[1] = out;
	out->len = out->off = 0;
	io.read = q_read;
	io.write = q_write;
	io.ctx = qs;
	r = server ? pqx_channel_server(&tmp, &io, seed_s, &o) :
		     pqx_channel_client(&tmp, &io, seed_c, &o);
	if (ch != NULL)
		*ch = tmp;
	else
		pqx_channel_free(tmp);
	return r;
}

struct session {
	struct queue f[4];       /* the frames */
	struct queue cin, sin;   /* the inputs of the final runs (then the record streams) */
	struct queue c2s, s2c;
	struct queue *cq[2], *sq[2];
	pqx_channel *c, *s;
};

static size_t frame_at(const struct queue *q, size_t off)
{
	if (q->len - off < 4)
		return 0;
	return 4 + (size_t)pqx_load32_be(q->p + off);
}

static int session_open(struct session *ss, uint8_t cipher)
{
	struct queue empty = { 0 }, out = { 0 }, in = { 0 };
	size_t n;
	int r, ok = 0;

	memset(ss, 0, sizeof(*ss));
	ss->cq[0] = &ss->cin;
	ss->sq[0] = &ss->sin;
	/* Message 0; then 1; then 2; then the client's 3 and the server's end. */
	r = run_side(1, cipher, &empty, &out, ss->sq, NULL);
	if (r != PQX_ERR_TRUNCATED || (n = frame_at(&out, 0)) != out.len)
		goto out;
	q_put(&ss->f[0], out.p, n);
	r = run_side(0, cipher, &ss->f[0], &out, ss->cq, NULL);
	if (r != PQX_ERR_TRUNCATED || (n = frame_at(&out, 0)) != out.len)
		goto out;
	q_put(&ss->f[1], out.p, n);
	r = run_side(1, cipher, &ss->f[1], &out, ss->sq, NULL);
	if (r != PQX_ERR_TRUNCATED || out.len <= ss->f[0].len ||
	    memcmp(out.p, ss->f[0].p, ss->f[0].len) != 0 ||
	    ss->f[0].len + frame_at(&out, ss->f[0].len) != out.len)
		goto out;
	q_put(&ss->f[2], out.p + ss->f[0].len, out.len - ss->f[0].len);
	q_put(&in, ss->f[0].p, ss->f[0].len);
	q_put(&in, ss->f[2].p, ss->f[2].len);
	if (run_side(0, cipher, &in, &ss->c2s, ss->cq, &ss->c) != 0 ||
	    ss->c2s.len != ss->f[1].len + frame_at(&ss->c2s, ss->f[1].len))
		goto out;
	q_put(&ss->f[3], ss->c2s.p + ss->f[1].len, ss->c2s.len - ss->f[1].len);
	in.len = 0;
	q_put(&in, ss->f[1].p, ss->f[1].len);
	q_put(&in, ss->f[3].p, ss->f[3].len);
	if (run_side(1, cipher, &in, &ss->s2c, ss->sq, &ss->s) != 0)
		goto out;
	/* From here on: client writes c2s and reads s2c, and the other way round. */
	ss->c2s.len = ss->c2s.off = ss->s2c.len = ss->s2c.off = 0;
	ss->cq[0] = &ss->s2c;
	ss->cq[1] = &ss->c2s;
	ss->sq[0] = &ss->c2s;
	ss->sq[1] = &ss->s2c;
	ok = 1;
out:
	free(empty.p);
	free(out.p);
	free(in.p);
	return ok ? 0 : -1;
}

static void session_close(struct session *ss)
{
	pqx_channel_free(ss->c);
	pqx_channel_free(ss->s);
	for (int i = 0; i < 4; i++)
		free(ss->f[i].p);
	free(ss->cin.p);
	free(ss->sin.p);
	free(ss->c2s.p);
	free(ss->s2c.p);
}

/* ---- the re-derivation, from docs/PROTOCOL.md ---------------------------- */

/* HMAC-SHA256 over the concatenation of up to three parts. */
static void hmac3(uint8_t out[32], const uint8_t *key, size_t klen, const uint8_t *a,
    size_t an, const uint8_t *b, size_t bn, const uint8_t *c, size_t cn)
{
	uint8_t *m = malloc(an + bn + cn + 1);

	if (m == NULL)
		abort();
	if (an > 0)
		memcpy(m, a, an);
	if (bn > 0)
		memcpy(m + an, b, bn);
	if (cn > 0)
		memcpy(m + an + bn, c, cn);
	if (pqx_hmac_sha256(out, key, klen, m, an + bn + cn) != 0)
		abort();
	free(m);
}

/* RFC 5869 with L = 64: PRK = HMAC(salt, ikm); T1 = HMAC(PRK, info||1); T2 = HMAC(PRK, T1||info||2). */
static void hkdf64(uint8_t out[64], const uint8_t salt[32], const uint8_t *ikm, size_t ikm_len,
    const char *info)
{
	uint8_t prk[32], one = 1, two = 2;
	size_t il = strlen(info);

	hmac3(prk, salt, 32, ikm, ikm_len, NULL, 0, NULL, 0);
	hmac3(out, prk, 32, (const uint8_t *)info, il, &one, 1, NULL, 0);
	hmac3(out + 32, prk, 32, out, 32, (const uint8_t *)info, il, &two, 1);
}

/* h = SHA-256(h || d) */
static void absorb(uint8_t h[32], const uint8_t *d, size_t n)
{
	uint8_t *m = malloc(32 + n);

	if (m == NULL)
		abort();
	memcpy(m, h, 32);
	if (n > 0)
		memcpy(m + 32, d, n);
	if (pqx_sha256(h, m, 32 + n) != 0)
		abort();
	free(m);
}

static void nonce_of(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	pqx_store64_be(nonce + 4, n);
}

static enum pqx_aead_alg alg_of(uint8_t cipher)
{
	return cipher == PQX_CHANNEL_AES_256_GCM ? PQX_AEAD_AES_256_GCM :
						   PQX_AEAD_CHACHA20_POLY1305;
}

/* A record: u32be(1 + len + 16) || AEAD(key, nonce(counter), ad = the 4 bytes, type || payload). */
static size_t seal_record(uint8_t *out, uint8_t cipher, const uint8_t key[32], uint64_t counter,
    uint8_t type, const uint8_t *payload, size_t len)
{
	uint8_t nonce[12], *pt = malloc(1 + len);

	if (pt == NULL)
		abort();
	pt[0] = type;
	if (len > 0)
		memcpy(pt + 1, payload, len);
	pqx_store32_be(out, (uint32_t)(1 + len + TAG));
	nonce_of(nonce, counter);
	if (pqx_aead_seal_once(alg_of(cipher), key, out + 4, nonce, out, 4, pt, 1 + len) != 0)
		abort();
	free(pt);
	return 4 + 1 + len + TAG;
}

struct derived {
	uint8_t frame[4][4 + 3 + 1 + PK + CT + PK + TAG];
	size_t frame_len[4];
	uint8_t session_id[32];
	uint8_t k_c2s[32], k_s2c[32];
};

/* Every byte of the handshake, in the order of docs/PROTOCOL.md. */
static void derive(struct derived *d, uint8_t cipher)
{
	static const char name[] = "pqx-channel-v1 X-Wing HKDF-SHA256";
	uint8_t S[PK], Cs[PK], E[PK], eseed[32], r1[64], r2[64], r3[64];
	uint8_t ct1[CT], ct2[CT], ct3[CT], ss1[32], ss2[32], ss3[32], chk[32];
	uint8_t h[32], ck[32], k[32], okm[64], nonce[12], c[PK + TAG], ts[TAG], tc[TAG];
	uint8_t m0[2 + PK], hdr1[4] = { 1, 1, 1, cipher }, hdr2[3] = { 2, 0, cipher }, t3 = 3;
	pqx_keccak_ctx cr, sr;
	uint8_t *f;

	memset(d, 0, sizeof(*d));
	CHECK(pqx_xwing_public_key(S, seed_s) == 0 && pqx_xwing_public_key(Cs, seed_c) == 0);
	pqx_shake128_init(&cr);
	pqx_keccak_absorb(&cr, (const uint8_t *)"pqx channel kat client random", 29);
	pqx_shake128_init(&sr);
	pqx_keccak_absorb(&sr, (const uint8_t *)"pqx channel kat server random", 29);

	/* Start: h = SHA-256(name), ck = h; MixHash(message 0). */
	CHECK(pqx_sha256(h, (const uint8_t *)name, sizeof(name) - 1) == 0);
	memcpy(ck, h, 32);
	m0[0] = 0;
	m0[1] = 1;
	memcpy(m0 + 2, S, PK);
	absorb(h, m0, sizeof(m0));
	f = d->frame[0];
	pqx_store32_be(f, (uint32_t)sizeof(m0));
	memcpy(f + 4, m0, sizeof(m0));
	d->frame_len[0] = 4 + sizeof(m0);

	/* Message 1: MixHash(hdr), MixHash(E), MixHash(CT1), MixKey(ss1), EncryptAndHash(Cs). */
	pqx_keccak_squeeze(&cr, eseed, 32);
	pqx_keccak_squeeze(&cr, r1, 64);
	CHECK(pqx_xwing_public_key(E, eseed) == 0);
	CHECK(pqx_xwing_encaps_derand(ct1, ss1, S, r1) == 0);
	absorb(h, hdr1, 4);
	absorb(h, E, PK);
	absorb(h, ct1, CT);
	hkdf64(okm, ck, ss1, 32, "pqx mix");
	memcpy(ck, okm, 32);
	memcpy(k, okm + 32, 32);
	nonce_of(nonce, 0);
	CHECK(pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, k, c, nonce, h, 32, Cs, PK) == 0);
	absorb(h, c, sizeof(c));
	f = d->frame[1];
	pqx_store32_be(f, 4 + PK + CT + PK + TAG);
	memcpy(f + 4, hdr1, 4);
	memcpy(f + 8, E, PK);
	memcpy(f + 8 + PK, ct1, CT);
	memcpy(f + 8 + PK + CT, c, sizeof(c));
	d->frame_len[1] = 8 + PK + CT + sizeof(c);

	/* Message 2: MixHash(hdr), MixHash(CT2), MixKey(ss2), MixHash(CT3), MixKey(ss3), T_S. */
	pqx_keccak_squeeze(&sr, r2, 64);
	pqx_keccak_squeeze(&sr, r3, 64);
	CHECK(pqx_xwing_encaps_derand(ct2, ss2, E, r2) == 0);
	CHECK(pqx_xwing_encaps_derand(ct3, ss3, Cs, r3) == 0);
	absorb(h, hdr2, 3);
	absorb(h, ct2, CT);
	hkdf64(okm, ck, ss2, 32, "pqx mix");
	memcpy(ck, okm, 32);
	memcpy(k, okm + 32, 32);
	absorb(h, ct3, CT);
	hkdf64(okm, ck, ss3, 32, "pqx mix");
	memcpy(ck, okm, 32);
	memcpy(k, okm + 32, 32);
	nonce_of(nonce, 0);
	CHECK(pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, k, ts, nonce, h, 32, NULL, 0) == 0);
	absorb(h, ts, TAG);
	f = d->frame[2];
	pqx_store32_be(f, 3 + 2 * CT + TAG);
	memcpy(f + 4, hdr2, 3);
	memcpy(f + 7, ct2, CT);
	memcpy(f + 7 + CT, ct3, CT);
	memcpy(f + 7 + 2 * CT, ts, TAG);
	d->frame_len[2] = 7 + 2 * CT + TAG;

	/* Message 3: MixHash(type), T_C = EncryptAndHash(""). */
	absorb(h, &t3, 1);
	nonce_of(nonce, 1);
	CHECK(pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, k, tc, nonce, h, 32, NULL, 0) == 0);
	absorb(h, tc, TAG);
	f = d->frame[3];
	pqx_store32_be(f, 1 + TAG);
	f[4] = 3;
	memcpy(f + 5, tc, TAG);
	d->frame_len[3] = 5 + TAG;

	/* Split: k_c2s || k_s2c = HKDF(salt = ck, ikm = "", info = "pqx split", 64). */
	memcpy(d->session_id, h, 32);
	hkdf64(okm, ck, NULL, 0, "pqx split");
	memcpy(d->k_c2s, okm, 32);
	memcpy(d->k_s2c, okm + 32, 32);

	/* The receivers decapsulate the same secrets. */
	CHECK(pqx_xwing_decaps(chk, ct1, seed_s) == 0 && memcmp(chk, ss1, 32) == 0, "ss1");
	CHECK(pqx_xwing_decaps(chk, ct2, eseed) == 0 && memcmp(chk, ss2, 32) == 0, "ss2");
	CHECK(pqx_xwing_decaps(chk, ct3, seed_c) == 0 && memcmp(chk, ss3, 32) == 0, "ss3");
	pqx_keccak_wipe(&cr);
	pqx_keccak_wipe(&sr);
}

/* HKDF-Expand(key, "pqx rekey", 32) = HMAC(key, "pqx rekey" || 1). */
static void rekey(uint8_t key[32])
{
	uint8_t one = 1, next[32];

	hmac3(next, key, 32, (const uint8_t *)"pqx rekey", 9, &one, 1, NULL, 0);
	memcpy(key, next, 32);
}

/* ---- checks ------------------------------------------------------------ */

static int print_mode;

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

/* Compares bytes with an expected hex constant, or prints it in print mode. */
static void expect_hex(const char *what, const uint8_t *p, size_t n, const char *want)
{
	char *got = malloc(2 * n + 1);

	if (got == NULL)
		abort();
	hex(got, p, n);
	if (print_mode)
		printf("\t    /* %s */ \"%s\",\n", what, got);
	else
		CHECK(strcmp(got, want) == 0, "%s: got %s", what, got);
	free(got);
}

static void sha_hex(const char *what, const uint8_t *p, size_t n, const char *want)
{
	uint8_t h[32];

	CHECK(pqx_sha256(h, p, n) == 0);
	expect_hex(what, h, 32, want);
}

/* The channel's bytes against derive(), then both against the constants. */
static void run_kat(const struct kat *kt)
{
	struct session ss;
	struct derived d;
	uint8_t rec[64], k0[32];
	const uint8_t *data;
	size_t n;
	char what[64];
	int r;

	derive(&d, kt->cipher);
	if (session_open(&ss, kt->cipher) != 0) {
		CHECK(0, "cipher %d: handshake failed", kt->cipher);
		session_close(&ss);
		return;
	}
	for (int i = 0; i < 4; i++) {
		CHECK(ss.f[i].len == d.frame_len[i] && memcmp(ss.f[i].p, d.frame[i], d.frame_len[i]) == 0,
		    "cipher %d: frame %d differs from the re-derivation", kt->cipher, i);
		snprintf(what, sizeof(what), "SHA-256 of frame %d", i);
		sha_hex(what, ss.f[i].p, ss.f[i].len, kt->frame_sha256[i]);
	}
	CHECK_EQ_MEM(pqx_channel_session_id(ss.c), d.session_id, 32, "session id (client)");
	CHECK_EQ_MEM(pqx_channel_session_id(ss.s), d.session_id, 32, "session id (server)");
	expect_hex("session id", pqx_channel_session_id(ss.c), 32, kt->session_id);

	/* Two records each way. */
	for (int dir = 0; dir < 2; dir++) {
		pqx_channel *tx = dir == 0 ? ss.c : ss.s, *rx = dir == 0 ? ss.s : ss.c;
		struct queue *q = dir == 0 ? &ss.c2s : &ss.s2c;

		for (int i = 0; i < 2; i++) {
			const char *pl = payloads[dir][i];
			size_t len = strlen(pl), rl;

			q->len = q->off = 0;
			r = pqx_channel_send(tx, PQX_RECORD_DATA, (const uint8_t *)pl, len);
			CHECK(r == 0);
			rl = seal_record(rec, kt->cipher, dir == 0 ? d.k_c2s : d.k_s2c, (uint64_t)i,
			    PQX_RECORD_DATA, (const uint8_t *)pl, len);
			CHECK(q->len == rl && memcmp(q->p, rec, rl) == 0,
			    "cipher %d: %s record %d differs from the re-derivation", kt->cipher,
			    dir == 0 ? "c2s" : "s2c", i);
			snprintf(what, sizeof(what), "%s record %d", dir == 0 ? "c2s" : "s2c", i);
			expect_hex(what, q->p, q->len, dir == 0 ? kt->c2s[i] : kt->s2c[i]);
			r = pqx_channel_recv(rx, &data, &n);
			CHECK(r == 0 && n == len && memcmp(data, pl, len) == 0);
		}
	}

	/*
	 * The rekey: client records 2..2*REKEY (empty data). Record REKEY - 1 is
	 * the last under k_c2s, REKEY the first under HKDF-Expand(k_c2s, "pqx
	 * rekey", 32), 2*REKEY the first under the next key. The server reads
	 * them all.
	 */
	memcpy(k0, d.k_c2s, 32);
	for (uint64_t i = 2; i <= 2 * REKEY && t_case_failures() == 0; i++) {
		ss.c2s.len = ss.c2s.off = 0;
		r = pqx_channel_send(ss.c, PQX_RECORD_DATA, NULL, 0);
		CHECK(r == 0 && ss.c2s.len == 4 + 1 + TAG);
		if (i == REKEY - 1 || i == REKEY || i == 2 * REKEY) {
			uint8_t key[32];

			memcpy(key, k0, 32);
			if (i >= REKEY)
				rekey(key);
			if (i >= 2 * REKEY)
				rekey(key);
			seal_record(rec, kt->cipher, key, i, PQX_RECORD_DATA, NULL, 0);
			CHECK(memcmp(ss.c2s.p, rec, 4 + 1 + TAG) == 0,
			    "cipher %d: record %llu is not under the expected key", kt->cipher,
			    (unsigned long long)i);
			if (i >= REKEY) {
				/* ...and not under the key before. */
				uint8_t prev[32];

				memcpy(prev, k0, 32);
				if (i >= 2 * REKEY)
					rekey(prev);
				seal_record(rec, kt->cipher, prev, i, PQX_RECORD_DATA, NULL, 0);
				CHECK(memcmp(ss.c2s.p, rec, 4 + 1 + TAG) != 0, "record %llu: no rekey",
				    (unsigned long long)i);
			}
			if (i == REKEY)
				sha_hex("SHA-256 of c2s record 65536", ss.c2s.p, ss.c2s.len,
				    kt->rekey_sha256);
		}
		r = pqx_channel_recv(ss.s, &data, &n);
		CHECK(r == 0 && n == 0, "record %llu: %d", (unsigned long long)i, r);
	}
	/* The other direction keeps its key: server record 2 is still under k_s2c. */
	ss.s2c.len = ss.s2c.off = 0;
	r = pqx_channel_send(ss.s, PQX_RECORD_DATA, (const uint8_t *)"x", 1);
	CHECK(r == 0);
	seal_record(rec, kt->cipher, d.k_s2c, 2, PQX_RECORD_DATA, (const uint8_t *)"x", 1);
	CHECK(ss.s2c.len == 4 + 2 + TAG && memcmp(ss.s2c.p, rec, ss.s2c.len) == 0,
	    "s2c record 2 after the c2s rekey");
	r = pqx_channel_recv(ss.c, &data, &n);
	CHECK(r == 0 && n == 1);
	session_close(&ss);
}

static void test_kat_chacha(void)
{
	run_kat(&kats[0]);
}

static void test_kat_aes(void)
{
	run_kat(&kats[1]);
}

/* The same bytes when each side's key comes expanded (as pqx serve passes its own). */
static void test_kat_given_keys(void)
{
	given_keys = 1;
	run_kat(&kats[0]);
	given_keys = 0;
}

/*
 * Records made here under the derived keys, for what the channel cannot
 * be made to send: unknown types, a close with a payload, an error record
 * at the largest size; and the boundary of the length header.
 */
static void test_crafted_records(void)
{
	static const struct {
		const char *name;
		uint8_t type;
		size_t len;
		int want;
	} cases[] = {
		{ "data, empty", 0, 0, 0 },
		{ "data, largest", 0, PQX_CHANNEL_MAX_RECORD, 0 },
		{ "data, one over", 0, PQX_CHANNEL_MAX_RECORD + 1, PQX_ERR_AUTH },
		{ "close", 1, 0, PQX_ERR_CLOSED },
		{ "close with a payload", 1, 1, PQX_ERR_FORMAT },
		{ "error, largest", 2, PQX_CHANNEL_MAX_RECORD, PQX_ERR_PEER_ERROR },
		{ "type 3", 3, 0, PQX_ERR_FORMAT },
		{ "type 255", 255, 5, PQX_ERR_FORMAT },
	};
	uint8_t *payload = calloc(1, PQX_CHANNEL_MAX_RECORD + 1);
	uint8_t *rec = malloc(PQX_CHANNEL_MAX_RECORD + 64);

	if (payload == NULL || rec == NULL)
		abort();
	memset(payload, 'p', PQX_CHANNEL_MAX_RECORD + 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct session ss;
		struct derived d;
		const uint8_t *data;
		size_t n, rl;
		int r;

		derive(&d, PQX_CHANNEL_AES_256_GCM);
		if (session_open(&ss, PQX_CHANNEL_AES_256_GCM) != 0) {
			CHECK(0, "handshake");
			session_close(&ss);
			break;
		}
		rl = seal_record(rec, PQX_CHANNEL_AES_256_GCM, d.k_c2s, 0, cases[i].type, payload,
		    cases[i].len);
		q_put(&ss.c2s, rec, rl);
		r = pqx_channel_recv(ss.s, &data, &n);
		CHECK(r == cases[i].want, "%s: %d, want %d", cases[i].name, r, cases[i].want);
		if (r == 0)
			CHECK(n == cases[i].len && (n == 0 || memcmp(data, payload, n) == 0), "%s",
			    cases[i].name);
		if (cases[i].want == PQX_ERR_PEER_ERROR)
			CHECK(strlen(pqx_channel_peer_error(ss.s)) == 255, "%s", cases[i].name);
		session_close(&ss);
	}
	free(payload);
	free(rec);
}

int main(void)
{
	print_mode = getenv("PQX_CHANNEL_KAT_PRINT") != NULL;
	shake_label(seed_s, 32, "pqx channel kat server");
	shake_label(seed_c, 32, "pqx channel kat client");
	t_run("channel KAT: ChaCha20-Poly1305 session", test_kat_chacha);
	t_run("channel KAT: AES-256-GCM session", test_kat_aes);
	t_run("channel KAT: ChaCha20-Poly1305 session, static keys expanded by the caller", test_kat_given_keys);
	t_run("channel KAT: crafted records under the derived key", test_crafted_records);
	return t_done();
}
