/* pqx fuzz: a channel client facing arbitrary server bytes: message 0, message 2 and records. */
#include <pqx/channel.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>

#include "fuzz.h"

/*
 * Input: a selector byte, then bytes as the mode says.
 *   bits 0-1, the mode:
 *     0  raw: the rest is everything the server says (frames, then records)
 *     1  the real message 0, then the rest (message 2 and records)
 *     2  the real messages 0 and 2 (the handshake completes), then the rest
 *        as records
 *     3  the real messages 0 and 2 with the rest XORed over them
 *   bit 2: the client pins the real server key (else it accepts any key)
 *   bit 3: the client has that key in advance (opts.server_key): message 1
 *          goes out before message 0 is read, the same bytes
 *
 * The client's seed and random stream are fixed, so its message 1 is the
 * same in every run and "the real message 2" (made once by a real server
 * with fixed randomness) answers it. Properties: no crash or leak; every
 * error is one the handshake may return; a completed handshake is the real
 * session (same session id), since no other bytes can carry a valid T_S; in
 * mode 3 the handshake completes exactly when the mask is zero; records
 * from the input are never delivered (each would be a forgery) and fail
 * with PQX_ERR_AUTH or PQX_ERR_TRUNCATED; a dead channel repeats its error.
 */

#define PK PQX_XWING_PUBLIC_KEY_BYTES
#define MAX_STREAM (1u << 16)

static const uint8_t ciphers[] = { PQX_CHANNEL_CHACHA20_POLY1305, PQX_CHANNEL_AES_256_GCM, 0 };
static uint8_t seed_s[32], seed_c[32], pk_s[PK];
static uint8_t frames[2][8192 + 4]; /* the real messages 0 and 2 */
static size_t frame_len[2];
static uint8_t real_id[32];
static uint8_t msg1[8192 + 4]; /* the client's message 1 (the same in every run) */
static size_t msg1_len;

static pqx_keccak_ctx stream;

static int stream_cb(void *ctx, uint8_t *out, size_t n)
{
	(void)ctx;
	pqx_keccak_squeeze(&stream, out, n);
	return 0;
}

static int check_pin(void *ctx, const uint8_t key[PK])
{
	(void)ctx;
	return memcmp(key, pk_s, PK) == 0 ? 0 : PQX_ERR_PEER_KEY;
}

/* One side, from the start, with its fixed random stream. */
static int run(int server, const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap,
    size_t *out_len, int pin, pqx_channel **ch, struct mem *m)
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
	o.ciphers = ciphers;
	o.random = stream_cb;
	o.check_server = pin ? check_pin : NULL;
	o.server_key = pin & 2 ? pk_s : NULL;
	pqx_shake128_init(&stream);
	pqx_keccak_absorb(&stream, (const uint8_t *)labels[server], strlen(labels[server]));
	io.read = mem_read;
	io.write = mem_write;
	io.ctx = m;
	r = server ? pqx_channel_server(&tmp, &io, seed_s, &o) :
		     pqx_channel_client(&tmp, &io, seed_c, &o);
	FUZZ_ASSERT((r == 0) == (tmp != NULL));
	if (out_len != NULL)
		*out_len = m->out_len;
	if (ch != NULL)
		*ch = tmp;
	else
		pqx_channel_free(tmp);
	return r;
}

/* The real messages 0 and 2, from a lockstep run of a real server and this client. */
static void init(void)
{
	static uint8_t buf[3][2 * 8196];
	static int done;
	struct mem m;
	pqx_channel *ch;
	size_t n0, n1, n;

	if (done)
		return;
	pqx_shake128(seed_s, 32, (const uint8_t *)"fuzz channel server", 19);
	pqx_shake128(seed_c, 32, (const uint8_t *)"fuzz channel client", 19);
	FUZZ_ASSERT(pqx_xwing_public_key(pk_s, seed_s) == 0);
	FUZZ_ASSERT(run(1, NULL, 0, buf[0], sizeof(buf[0]), &n0, 0, NULL, &m) ==
	    PQX_ERR_TRUNCATED);
	FUZZ_ASSERT(run(0, buf[0], n0, buf[1], sizeof(buf[1]), &n1, 1, NULL, &m) ==
	    PQX_ERR_TRUNCATED);
	FUZZ_ASSERT(run(1, buf[1], n1, buf[2], sizeof(buf[2]), &n, 0, NULL, &m) ==
	    PQX_ERR_TRUNCATED);
	FUZZ_ASSERT(n > n0 && memcmp(buf[2], buf[0], n0) == 0);
	FUZZ_ASSERT(n1 <= sizeof(msg1));
	memcpy(msg1, buf[1], n1);
	msg1_len = n1;
	frame_len[0] = n0;
	memcpy(frames[0], buf[0], n0);
	frame_len[1] = n - n0;
	memcpy(frames[1], buf[2] + n0, n - n0);
	memcpy(buf[0] + n0, frames[1], frame_len[1]);
	FUZZ_ASSERT(run(0, buf[0], n, NULL, 0, NULL, 1, &ch, &m) == 0);
	memcpy(real_id, pqx_channel_session_id(ch), 32);
	pqx_channel_free(ch);
	done = 1;
}

static int handshake_error(int r)
{
	return r == PQX_ERR_FORMAT || r == PQX_ERR_UNSUPPORTED || r == PQX_ERR_TRUNCATED ||
	    r == PQX_ERR_AUTH || r == PQX_ERR_PEER_KEY || r == PQX_ERR_REFUSED ||
	    r == PQX_ERR_INVALID_KEY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[MAX_STREAM], out[2 * 8196];
	struct reader rd = { data, size };
	uint8_t sel = take_u8(&rd);
	int mode = sel & 3, pin = (sel >> 2) & 3, changed = 0, r;
	size_t n = 0, rest = rd.left, out_len = 0;
	pqx_channel *ch = NULL;
	struct mem m;

	init();
	if (rest > MAX_STREAM - 2 * sizeof(frames[0]))
		rest = MAX_STREAM - 2 * sizeof(frames[0]);
	if (mode >= 1) {
		memcpy(in, frames[0], frame_len[0]);
		n = frame_len[0];
	}
	if (mode >= 2) {
		memcpy(in + n, frames[1], frame_len[1]);
		n += frame_len[1];
	}
	if (mode == 3) {
		uint8_t mask;

		for (size_t i = 0; i < n && rd.left > 0; i++) {
			mask = take_u8(&rd);
			changed |= mask;
			in[i] ^= mask;
		}
	} else {
		take(&rd, in + n, rest);
		n += rest;
	}

	r = run(0, in, n, out, sizeof(out), &out_len, pin, &ch, &m);
	FUZZ_ASSERT(r == 0 || handshake_error(r));
	/* With the key in advance, message 1 left whatever came. */
	if (pin & 2)
		FUZZ_ASSERT(out_len >= msg1_len && memcmp(out, msg1, msg1_len) == 0);
	if (mode == 3)
		FUZZ_ASSERT((r == 0) == !changed);
	if (mode == 2)
		FUZZ_ASSERT(r == 0);
	if (r != 0)
		return 0;
	/* Only the real server's bytes complete a handshake. */
	FUZZ_ASSERT(memcmp(pqx_channel_session_id(ch), real_id, 32) == 0);
	FUZZ_ASSERT(memcmp(pqx_channel_peer_key(ch), pk_s, PK) == 0);

	/* Records from the input: never delivered. */
	{
		const uint8_t *d;
		size_t len;

		r = pqx_channel_recv(ch, &d, &len);
		FUZZ_ASSERT(r == PQX_ERR_AUTH || r == PQX_ERR_TRUNCATED);
		FUZZ_ASSERT(d == NULL && len == 0);
		/* Dead: the same error again, both ways. */
		FUZZ_ASSERT(pqx_channel_recv(ch, &d, &len) == r);
		FUZZ_ASSERT(pqx_channel_send(ch, PQX_RECORD_DATA, (const uint8_t *)"x", 1) == r);
	}
	pqx_channel_free(ch);
	return 0;
}
