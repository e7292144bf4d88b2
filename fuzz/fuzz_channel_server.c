/* pqx fuzz: a channel server facing arbitrary client bytes: message 1, message 3 and records. */
#include <pqx/channel.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>

#include "fuzz.h"

/*
 * Input: a selector byte, then bytes as the mode says.
 *   bits 0-1, the mode:
 *     0  raw: the rest is everything the client says (frames, then records)
 *     1  a real message 1 (made once by a real client with fixed
 *        randomness), then the rest (message 3 and records): this reaches
 *        past the decryption of the client's key
 *     2  the real messages 1 and 3 (the handshake completes when
 *        authorized), then the rest as records
 *     3  the real messages 1 and 3 with the rest XORed over them
 *   bit 2: authorize accepts the real client's key (else refuses everyone)
 *   bit 3: the server runs ChaCha20-Poly1305 then AES-256-GCM (the client's
 *          first choice, ChaCha, is taken), or AES-256-GCM only
 *
 * The server's seed and random stream are fixed, so its message 2 is the
 * same in every run and the real message 3 answers it. Properties: no
 * crash or leak; every error is one the handshake may return; REFUSED
 * only when authorize refused; a completed handshake is the real session
 * with the real client's key (no other bytes carry a valid T_C); in mode 3
 * it completes exactly when the mask is zero and the client is authorized;
 * the server writes message 0 and at most one more frame, never records;
 * records from the input are never delivered and fail with PQX_ERR_AUTH or
 * PQX_ERR_TRUNCATED; a dead channel repeats its error.
 */

#define PK PQX_XWING_PUBLIC_KEY_BYTES
#define MAX_STREAM (1u << 16)

static const uint8_t client_ciphers[] = { PQX_CHANNEL_CHACHA20_POLY1305,
	PQX_CHANNEL_AES_256_GCM, 0 };
static const uint8_t server_ciphers[2][3] = {
	{ PQX_CHANNEL_CHACHA20_POLY1305, PQX_CHANNEL_AES_256_GCM, 0 },
	{ PQX_CHANNEL_AES_256_GCM, 0, 0 },
};
static uint8_t seed_s[32], seed_c[32], pk_c[PK];
static uint8_t frame1[8196], frame3[2][64], frame0[8196];
static size_t frame1_len, frame3_len[2], frame0_len;
static uint8_t real_id[2][32];

static pqx_keccak_ctx stream;

static int stream_cb(void *ctx, uint8_t *out, size_t n)
{
	(void)ctx;
	pqx_keccak_squeeze(&stream, out, n);
	return 0;
}

static int authorize(void *ctx, const uint8_t key[PK])
{
	return *(int *)ctx && memcmp(key, pk_c, PK) == 0 ? 0 : PQX_ERR_REFUSED;
}

/* One side, from the start, with its fixed random stream; out gets what it writes. */
static int run(int server, int variant, int allow, const uint8_t *in, size_t in_len,
    struct mem *m, uint8_t *out, size_t out_cap, pqx_channel **ch)
{
	static const char *labels[2] = { "fuzz channel client random", "fuzz channel server random" };
	pqx_channel_opts o;
	pqx_channel_io io;
	pqx_channel *tmp = NULL;
	int r;

	memset(m, 0, sizeof(*m));
	m->in = in;
	m->in_len = in_len;
	m->out = out;
	m->out_cap = out_cap;
	memset(&o, 0, sizeof(o));
	o.ciphers = server ? server_ciphers[variant] : client_ciphers;
	o.random = stream_cb;
	o.authorize = authorize;
	o.ctx = &allow;
	pqx_shake128_init(&stream);
	pqx_keccak_absorb(&stream, (const uint8_t *)labels[server], strlen(labels[server]));
	io.read = mem_read;
	io.write = mem_write;
	io.ctx = m;
	r = server ? pqx_channel_server(&tmp, &io, seed_s, &o) :
		     pqx_channel_client(&tmp, &io, seed_c, &o);
	FUZZ_ASSERT((r == 0) == (tmp != NULL));
	if (ch != NULL)
		*ch = tmp;
	else
		pqx_channel_free(tmp);
	return r;
}

/* A real message 1 and, for each server variant, the real message 3 and session id. */
static void init(void)
{
	static uint8_t a[2 * 8196], b[2 * 8196];
	static int done;
	struct mem m;
	pqx_channel *ch;

	if (done)
		return;
	pqx_shake128(seed_s, 32, (const uint8_t *)"fuzz channel server", 19);
	pqx_shake128(seed_c, 32, (const uint8_t *)"fuzz channel client", 19);
	FUZZ_ASSERT(pqx_xwing_public_key(pk_c, seed_c) == 0);
	FUZZ_ASSERT(run(1, 0, 1, NULL, 0, &m, frame0, sizeof(frame0), NULL) == PQX_ERR_TRUNCATED);
	frame0_len = m.out_len;
	FUZZ_ASSERT(run(0, 0, 1, frame0, frame0_len, &m, frame1, sizeof(frame1), NULL) ==
	    PQX_ERR_TRUNCATED);
	frame1_len = m.out_len;
	for (int v = 0; v < 2; v++) {
		size_t n;

		FUZZ_ASSERT(run(1, v, 1, frame1, frame1_len, &m, a, sizeof(a), NULL) ==
		    PQX_ERR_TRUNCATED);
		n = m.out_len;
		FUZZ_ASSERT(run(0, v, 1, a, n, &m, b, sizeof(b), &ch) == 0);
		FUZZ_ASSERT(m.out_len > frame1_len && m.out_len - frame1_len <= sizeof(frame3[v]));
		frame3_len[v] = m.out_len - frame1_len;
		memcpy(frame3[v], b + frame1_len, frame3_len[v]);
		memcpy(real_id[v], pqx_channel_session_id(ch), 32);
		pqx_channel_free(ch);
	}
	done = 1;
}

static uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int handshake_error(int r)
{
	return r == PQX_ERR_FORMAT || r == PQX_ERR_UNSUPPORTED || r == PQX_ERR_TRUNCATED ||
	    r == PQX_ERR_AUTH || r == PQX_ERR_REFUSED || r == PQX_ERR_INVALID_KEY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[MAX_STREAM], out[2 * 8196];
	struct reader rd = { data, size };
	uint8_t sel = take_u8(&rd);
	int mode = sel & 3, allow = (sel >> 2) & 1, variant = (sel >> 3) & 1, changed = 0, r;
	size_t n = 0, rest = rd.left, second;
	pqx_channel *ch = NULL;
	struct mem m;

	init();
	if (rest > MAX_STREAM - sizeof(frame1) - sizeof(frame3[0]))
		rest = MAX_STREAM - sizeof(frame1) - sizeof(frame3[0]);
	if (mode >= 1) {
		memcpy(in, frame1, frame1_len);
		n = frame1_len;
	}
	if (mode >= 2) {
		memcpy(in + n, frame3[variant], frame3_len[variant]);
		n += frame3_len[variant];
	}
	if (mode == 3) {
		for (size_t i = 0; i < n && rd.left > 0; i++) {
			uint8_t mask = take_u8(&rd);

			changed |= mask;
			in[i] ^= mask;
		}
	} else {
		take(&rd, in + n, rest);
		n += rest;
	}

	r = run(1, variant, allow, in, n, &m, out, sizeof(out), &ch);
	FUZZ_ASSERT(r == 0 || handshake_error(r));
	if (r == PQX_ERR_REFUSED)
		FUZZ_ASSERT(!allow);
	if (mode == 3)
		FUZZ_ASSERT((r == 0) == (!changed && allow));
	if (mode == 2)
		FUZZ_ASSERT(r == (allow ? 0 : PQX_ERR_REFUSED));
	/* Message 0, then at most message 2. */
	FUZZ_ASSERT(m.out_len >= frame0_len && memcmp(out, frame0, frame0_len) == 0);
	second = m.out_len - frame0_len;
	if (second > 0)
		FUZZ_ASSERT(second >= 4 && 4 + (size_t)load32(out + frame0_len) == second);
	if (r != 0)
		return 0;
	FUZZ_ASSERT(allow);
	FUZZ_ASSERT(memcmp(pqx_channel_session_id(ch), real_id[variant], 32) == 0);
	FUZZ_ASSERT(memcmp(pqx_channel_peer_key(ch), pk_c, PK) == 0);

	/* Records from the input: never delivered. */
	{
		const uint8_t *d;
		size_t len;

		r = pqx_channel_recv(ch, &d, &len);
		FUZZ_ASSERT(r == PQX_ERR_AUTH || r == PQX_ERR_TRUNCATED);
		FUZZ_ASSERT(d == NULL && len == 0);
		FUZZ_ASSERT(pqx_channel_recv(ch, &d, &len) == r);
		FUZZ_ASSERT(pqx_channel_send(ch, PQX_RECORD_DATA, (const uint8_t *)"x", 1) == r);
	}
	pqx_channel_free(ch);
	return 0;
}
