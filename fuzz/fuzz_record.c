/* pqx fuzz: the record layer under a known key: length headers, types, payloads, counters, the rekey and tampered ciphertexts. */
/*
 * The channel's own code, included: a channel is opened straight from a
 * fixed handshake state (channel_new), without the KEM work of a
 * handshake, so each input costs little and may start just before the
 * rekey boundary (as wireguard-tools' fuzzers include the code they test).
 * The library's channel.o is then not linked: this file defines its symbols.
 */
#include "channel/channel.c"

#include "fuzz.h"

/*
 * Input: a selector byte (bit 0: ChaCha20-Poly1305 or AES-256-GCM; bit 1:
 * the receiver's counter starts at PQX_CHANNEL_REKEY_INTERVAL - 2, so that
 * the third record is the first under the ratcheted key), then operations,
 * each adding one element to the stream of records that a server channel
 * receives. Elements are sealed here under the client-to-server key,
 * derived here from the fixed chaining key as docs/PROTOCOL.md says (split,
 * then HKDF-Expand(key, "pqx rekey", 32) per interval) and checked once
 * against records that a client channel sends (one of them sealed in
 * place, as transfer messages are). An operation byte, mod 5:
 *   0  a good record: u8 type, u16le length (mod 2049), the payload
 *   1  a record sealed for a later counter: u8 type, u8 length, u8 skip
 *      (1..256 records ahead), the payload
 *   2  a good record (u8 type, u8 length, payload) with one bit flipped:
 *      u16le position (mod the record's size), u8 bit
 *   3  raw bytes: a u32be length header as given, then up to 2048 bytes
 *   4  a good data record of PQX_CHANNEL_MAX_RECORD - 1 + (u8 % 3) payload
 *      bytes: the largest, and one over (its header is out of range)
 * The target predicts every result: good records in order are delivered
 * exactly (data), or end the channel (close: CLOSED if empty, else
 * FORMAT; error: PEER_ERROR with the text shown as printable ASCII; other
 * types: FORMAT); the first bad element fails with PQX_ERR_AUTH, or
 * PQX_ERR_TRUNCATED when its header promises more than the stream holds;
 * the end of the stream is PQX_ERR_TRUNCATED. Afterwards a dead channel
 * repeats its error for recv and send; after a close or an error record,
 * recv says CLOSED and send still works.
 */

#define MAX_REC PQX_CHANNEL_MAX_RECORD
#define MAX_LEN RECORD_MAX_LEN /* the largest length header */
#define MAX_STREAM (4u << 20)
#define MAX_ELEMS 64
#define REKEY PQX_CHANNEL_REKEY_INTERVAL

static const uint8_t ciphers[2] = { PQX_CHANNEL_CHACHA20_POLY1305, PQX_CHANNEL_AES_256_GCM };
static struct hs state;               /* the end of a handshake: h and ck fixed */
static uint8_t keys[2][32];           /* the c2s key before and after one rekey */
static uint8_t peer_key[PK];
static uint8_t fill[MAX_REC + 2]; /* 0xa5: the payload of the largest records */

static pqx_channel *open_channel(int v, int is_client, struct mem *m)
{
	pqx_channel_io io = { mem_read, mem_write, m, NULL };
	struct hs s = state;
	pqx_channel *ch = NULL;

	FUZZ_ASSERT(channel_new(&ch, &io, &s, ciphers[v], peer_key, is_client) == 0);
	return ch;
}

static uint32_t load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static enum pqx_aead_alg alg_of(int v)
{
	return v == 1 ? PQX_AEAD_AES_256_GCM : PQX_AEAD_CHACHA20_POLY1305;
}

/* u32be(1 + len + 16) || AEAD(key for counter, 0^4 || u64be(counter), the 4 bytes, type || payload) */
static size_t seal(uint8_t *out, int v, uint64_t counter, uint8_t type, const uint8_t *payload,
    size_t len)
{
	uint8_t nonce[12] = { 0 };

	FUZZ_ASSERT(counter < 2 * REKEY);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
	store32(out, (uint32_t)(1 + len + TAG));
	out[4] = type;
	if (len > 0)
		memmove(out + 5, payload, len);
	FUZZ_ASSERT(pqx_aead_seal_once(alg_of(v), keys[counter >= REKEY], out + 4, nonce, out, 4,
			out + 4, 1 + len) == 0);
	return 4 + 1 + len + TAG;
}

static void init(void)
{
	static uint8_t out[256];
	static int done;
	uint8_t okm[64], rec[64];
	struct mem m;

	if (done)
		return;
	memset(fill, 0xa5, sizeof(fill));
	pqx_shake128(state.h, 32, (const uint8_t *)"fuzz record h", 13);
	pqx_shake128(state.ck, 32, (const uint8_t *)"fuzz record ck", 14);
	pqx_shake128(peer_key, PK, (const uint8_t *)"fuzz record peer", 16);
	/* k_c2s || k_s2c = HKDF(salt = ck, ikm = "", "pqx split"); then the rekey. */
	FUZZ_ASSERT(pqx_hkdf_sha256(okm, 64, state.ck, 32, NULL, 0, (const uint8_t *)"pqx split",
			9) == 0);
	memcpy(keys[0], okm, 32);
	FUZZ_ASSERT(pqx_hkdf_sha256_expand(keys[1], 32, keys[0], (const uint8_t *)"pqx rekey", 9) ==
	    0);
	/* A client channel's records are ours, before and after the rekey. */
	for (int v = 0; v < 2; v++) {
		pqx_channel *ch;

		memset(&m, 0, sizeof(m));
		m.out = out;
		m.out_cap = sizeof(out);
		ch = open_channel(v, 1, &m);
		FUZZ_ASSERT(pqx_channel_send(ch, PQX_RECORD_DATA, (const uint8_t *)"probe", 5) == 0);
		FUZZ_ASSERT(m.out_len == seal(rec, v, 0, 0, (const uint8_t *)"probe", 5));
		FUZZ_ASSERT(memcmp(out, rec, m.out_len) == 0);
		/* The same record sealed in place (how transfer messages go): the same bytes. */
		{
			uint8_t in[PQX_CHANNEL_HEADROOM + 5 + PQX_CHANNEL_TAILROOM];

			memcpy(in + PQX_CHANNEL_HEADROOM, "probe", 5);
			m.out_len = 0;
			FUZZ_ASSERT(pqx_channel_send_inplace(ch, in, 5) == 0);
			FUZZ_ASSERT(m.out_len == seal(rec, v, 1, 0, (const uint8_t *)"probe", 5));
			FUZZ_ASSERT(memcmp(out, rec, m.out_len) == 0 && memcmp(in, rec, m.out_len) == 0);
		}
		ch->tx.counter = REKEY;
		m.out_len = 0;
		FUZZ_ASSERT(pqx_channel_send(ch, PQX_RECORD_DATA, (const uint8_t *)"probe", 5) == 0);
		FUZZ_ASSERT(m.out_len == seal(rec, v, REKEY, 0, (const uint8_t *)"probe", 5));
		FUZZ_ASSERT(memcmp(out, rec, m.out_len) == 0);
		pqx_channel_free(ch);
	}
	done = 1;
}

/* What the receiver must do with each element. */
enum { DELIVER, END_CLOSED, END_ERROR, BAD };

struct elem {
	size_t off, len;   /* in the stream */
	int kind;          /* DELIVER, END_CLOSED, END_ERROR, BAD */
	int err;           /* for BAD (computed at the end) */
	uint8_t type;
	size_t plen;       /* payload */
	int fill;          /* the payload is 0xa5 bytes (else in plain[]) */
};

static uint8_t plain[MAX_ELEMS][2049];

static size_t take_len16(struct reader *rd, size_t mod)
{
	uint8_t b[2];

	take(rd, b, 2);
	return ((size_t)b[0] | (size_t)b[1] << 8) % mod;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[MAX_STREAM], payload[MAX_REC + 2];
	static struct elem el[MAX_ELEMS];
	struct reader rd = { data, size };
	uint8_t sel = take_u8(&rd);
	int v = sel & 1, n_el = 0, r, big = 0;
	size_t len = 0;
	uint64_t start = (sel & 2) ? REKEY - 2 : 0, counter = start;
	pqx_channel *ch = NULL;
	struct mem m;

	init();
	/* The stream. */
	while (rd.left > 0 && n_el < MAX_ELEMS && len + MAX_LEN + 4 <= MAX_STREAM) {
		uint8_t op = take_u8(&rd) % 5, type = 0;
		struct elem *e = &el[n_el];
		size_t plen;
		uint64_t skip;

		memset(e, 0, sizeof(*e));
		e->off = len;
		switch (op) {
		case 0:
		case 1:
		case 2:
			type = take_u8(&rd);
			plen = op == 0 ? take_len16(&rd, 2049) : take_u8(&rd);
			skip = op == 1 ? 1 + (uint64_t)take_u8(&rd) : 0;
			take(&rd, payload, plen);
			if (op == 0) {
				memcpy(plain[n_el], payload, plen);
				e->len = seal(buf + len, v, counter, type, payload, plen);
			} else if (op == 1) {
				e->len = seal(buf + len, v, counter + skip, type, payload, plen);
			} else {
				size_t pos;
				uint8_t bit;

				e->len = seal(buf + len, v, counter, type, payload, plen);
				pos = take_len16(&rd, 65536) % e->len;
				bit = take_u8(&rd) & 7;
				buf[len + pos] ^= (uint8_t)(1u << bit);
			}
			break;
		case 3: {
			uint8_t h[4];
			size_t want;

			take(&rd, h, 4);
			want = load32(h);
			if (want > 2048)
				want = 2048;
			if (want > rd.left)
				want = rd.left;
			memcpy(buf + len, h, 4);
			take(&rd, buf + len + 4, want);
			e->len = 4 + want;
			break;
		}
		default:
			if (big++ >= 2)
				continue;
			plen = MAX_REC - 1 + take_u8(&rd) % 3;
			e->len = seal(buf + len, v, counter, 0, fill, plen);
			e->fill = 1;
			type = 0;
			break;
		}
		e->type = type;
		e->plen = e->len >= 4 + 1 + TAG ? e->len - 4 - 1 - TAG : 0;
		if ((op == 0 || op == 4) && e->len - 4 <= MAX_LEN) {
			e->kind = type == PQX_RECORD_DATA ? DELIVER :
				  type == PQX_RECORD_CLOSE ? (e->plen == 0 ? END_CLOSED : BAD) :
				  type == PQX_RECORD_ERROR ? END_ERROR : BAD;
			e->err = e->kind == BAD ? PQX_ERR_FORMAT : 0;
			counter++;
		} else {
			e->kind = BAD;
			e->err = -1; /* from the header, below */
		}
		len += e->len;
		n_el++;
	}
	/* A bad element's error depends on the header as read and what follows it. */
	for (int i = 0; i < n_el; i++) {
		if (el[i].err == -1) {
			size_t l = load32(buf + el[i].off);

			if (l < 1 + TAG || l > MAX_LEN)
				el[i].err = PQX_ERR_AUTH;
			else if (l > len - el[i].off - 4)
				el[i].err = PQX_ERR_TRUNCATED;
			else
				el[i].err = PQX_ERR_AUTH;
		}
	}

	/* A fresh server channel, then the stream. */
	memset(&m, 0, sizeof(m));
	ch = open_channel(v, 0, &m);
	ch->rx.counter = start;
	m.in = buf;
	m.in_len = len;
	m.in_off = 0;
	for (int i = 0;; i++) {
		const uint8_t *d;
		size_t dn;
		int want, end;

		r = pqx_channel_recv(ch, &d, &dn);
		if (i == n_el) {
			FUZZ_ASSERT(r == PQX_ERR_TRUNCATED);
			want = r;
			end = 0;
		} else if (el[i].kind == DELIVER) {
			FUZZ_ASSERT(r == 0 && dn == el[i].plen);
			FUZZ_ASSERT(dn == 0 || memcmp(d, el[i].fill ? fill : plain[i], dn) == 0);
			continue;
		} else if (el[i].kind == END_CLOSED || el[i].kind == END_ERROR) {
			want = el[i].kind == END_CLOSED ? PQX_ERR_CLOSED : PQX_ERR_PEER_ERROR;
			FUZZ_ASSERT(r == want);
			if (el[i].kind == END_ERROR) {
				const char *t = pqx_channel_peer_error(ch);
				size_t tn = el[i].plen < 255 ? el[i].plen : 255;

				FUZZ_ASSERT(strlen(t) == tn);
				for (size_t k = 0; k < tn; k++)
					FUZZ_ASSERT(t[k] == (plain[i][k] >= 32 && plain[i][k] < 127 ?
								    (char)plain[i][k] : '?'));
			}
			end = 1;
		} else {
			want = el[i].err;
			FUZZ_ASSERT(r == want);
			end = 0;
		}
		FUZZ_ASSERT(d == NULL && dn == 0);
		if (end) {
			/* The peer is done; we may still send. */
			FUZZ_ASSERT(pqx_channel_recv(ch, &d, &dn) == PQX_ERR_CLOSED);
			FUZZ_ASSERT(pqx_channel_send(ch, PQX_RECORD_CLOSE, NULL, 0) == 0);
		} else {
			FUZZ_ASSERT(pqx_channel_recv(ch, &d, &dn) == want);
			FUZZ_ASSERT(pqx_channel_send(ch, PQX_RECORD_DATA, (const uint8_t *)"x", 1) == want);
		}
		break;
	}
	pqx_channel_free(ch);
	return 0;
}
