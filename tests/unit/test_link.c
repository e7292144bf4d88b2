/* pqx tests: transfer messages in records (src/transfer/link.c): lengths, batching, padding, refusals. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqx.h>

#include "harness.h"
#include "transfer/content.h"
#include "transfer/xfer_int.h"

/* Each length in its shortest form, and the limits of each form. */
static void test_frames(void)
{
	static const struct {
		size_t n, hdr;
	} v[] = { { 1, 1 }, { 127, 1 }, { 128, 2 }, { 16383, 2 }, { 16384, 3 }, { MSG_MAX, 3 } };
	static uint8_t p[3 + MSG_MAX];
	size_t hdr, n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK(xfer_frame_put(p, v[i].n) == v[i].hdr, "%zu bytes: a %zu-byte length", v[i].n, v[i].hdr);
		CHECK(xfer_frame_get(p, v[i].hdr + v[i].n, &hdr, &n) == 0 && hdr == v[i].hdr && n == v[i].n,
		    "%zu bytes read back", v[i].n);
		CHECK(xfer_frame_get(p, v[i].hdr + v[i].n - 1, &hdr, &n) == PQX_ERR_FORMAT,
		    "%zu bytes: one short of the record's end", v[i].n);
	}
	{
		static const uint8_t long2[] = { 0x80, 0x05, 1, 2, 3, 4, 5 }, long3[] = { 0xc0, 0x00, 0x10 };
		static const uint8_t pad[] = { 0, 0, 0, 0 }, dirty[] = { 0, 0, 1 }, cut[] = { 0x81 };

		CHECK(xfer_frame_get(long2, sizeof(long2), &hdr, &n) == PQX_ERR_FORMAT, "5 in two bytes");
		CHECK(xfer_frame_get(long3, sizeof(long3), &hdr, &n) == PQX_ERR_FORMAT, "16 in three bytes");
		CHECK(xfer_frame_get(pad, sizeof(pad), &hdr, &n) == 0 && n == 0, "zeros: padding");
		CHECK(xfer_frame_get(pad, 0, &hdr, &n) == 0 && n == 0, "nothing left: padding");
		CHECK(xfer_frame_get(dirty, sizeof(dirty), &hdr, &n) == PQX_ERR_FORMAT, "padding that is not zeros");
		CHECK(xfer_frame_get(cut, sizeof(cut), &hdr, &n) == PQX_ERR_FORMAT, "a length cut by the end");
	}
}

/* A channel pair over a socketpair: the server's handshake in a thread. */
struct pair {
	int fd[2];
	pqx_socket_io sio[2];
	pqx_channel_io io[2];
	pqx_channel *ch[2]; /* [0] client, [1] server */
	int r;
};

static const uint8_t seed_c[32] = { 1 }, seed_s[32] = { 2 };

static void *server_hs(void *arg)
{
	struct pair *p = arg;

	p->r = pqx_channel_server(&p->ch[1], &p->io[1], seed_s, NULL);
	return NULL;
}

static int pair_open(struct pair *p)
{
	pthread_t t;
	int r;

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		p->sio[i].fd = p->fd[i];
		p->sio[i].timeout_ms = 10000;
		pqx_channel_io_socket(&p->io[i], &p->sio[i]);
	}
	if (pthread_create(&t, NULL, server_hs, p) != 0)
		return -1;
	r = pqx_channel_client(&p->ch[0], &p->io[0], seed_c, NULL);
	pthread_join(t, NULL);
	return r == 0 && p->r == 0 ? 0 : -1;
}

static void pair_close(struct pair *p)
{
	for (int i = 0; i < 2; i++) {
		pqx_channel_free(p->ch[i]);
		pqx_socket_io_release(&p->sio[i]);
		close(p->fd[i]);
	}
}

/*
 * Many small messages share a few records (not one each); a record with a
 * message that asks for padding is padded to that unit with zeros; the
 * peer reads every message back in order, and the session's end finds
 * nothing left.
 */
static void test_batches(void)
{
	enum { MSGS = 1000 };
	struct pair p;
	struct xfer_link *tx = NULL;
	uint64_t before;
	size_t records = 0, last_len = 0;
	int ok = 1;

	if (pair_open(&p) != 0 || xfer_link_new(&tx, p.ch[0]) != 0) {
		CHECK(0, "setup");
		goto out;
	}
	before = p.sio[0].bytes_out;
	for (uint32_t i = 0; i < MSGS; i++) {
		uint8_t m[5] = { K_FILE_OK, (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };

		ok &= xfer_put(tx, m, sizeof(m), i == MSGS - 1 ? PAD : 1) == 0;
	}
	CHECK(ok && xfer_link_end(tx) == 0, "queued and sent");
	/* The wire: records of 4 + 1 + payload + 16 bytes; read them raw on the other side. */
	{
		uint64_t sent = p.sio[0].bytes_out - before, seen = 0;

		while (seen < sent) {
			const uint8_t *d;
			size_t n;

			if (pqx_channel_recv(p.ch[1], &d, &n) != 0)
				break;
			records++;
			last_len = n;
			seen += 4 + 1 + n + 16;
			for (size_t off = 0; off < n;) {
				size_t hdr, len;

				if (xfer_frame_get(d + off, n - off, &hdr, &len) != 0) {
					ok = 0;
					break;
				}
				if (len == 0)
					break;
				ok &= len == 5 && d[off + hdr] == K_FILE_OK;
				off += hdr + len;
			}
		}
	}
	CHECK(ok, "every message read back");
	CHECK(records >= 1 && records <= 8, "%d messages in %zu records", MSGS, records);
	CHECK(last_len % PAD == 0, "the record with a padded message: %zu bytes", last_len);
out:
	xfer_link_free(tx);
	pair_close(&p);
}

/*
 * Messages written in place (xfer_put_room, xfer_put_end) between ordinary
 * ones, of lengths that take a 1-, 2- and 3-byte length (moved down when
 * the room was asked for more than they took), read back in order; while a
 * room is open, nothing else may be queued or sent; a room larger than the
 * record has left sends the record first.
 */
static void test_room(void)
{
	static const size_t lens[] = { 1, 100, 0x3fff, 0x4000, 0x4001, 50000 };
	struct pair p;
	struct xfer_link *tx = NULL, *rx = NULL;
	uint8_t one[1] = { K_FILE_OK };
	int ok = 1, r;

	if (pair_open(&p) != 0 || xfer_link_new(&tx, p.ch[0]) != 0 || xfer_link_new(&rx, p.ch[1]) != 0) {
		CHECK(0, "setup");
		goto out;
	}
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t *m = xfer_put_room(tx, 60000, &r);

		CHECK(m != NULL && r == 0, "room %zu", i);
		if (m == NULL)
			goto out;
		m[0] = K_DATA;
		for (size_t j = 1; j < lens[i]; j++)
			m[j] = (uint8_t)(i + j);
		CHECK(xfer_put(tx, one, 1, 1) == PQX_ERR_INTERNAL && xfer_flush(tx) == PQX_ERR_INTERNAL &&
		    xfer_put_room(tx, 10, &r) == NULL && r == PQX_ERR_INTERNAL, "%zu: nothing else while a room is open", i);
		CHECK(xfer_put_end(tx, 60001, 1) == PQX_ERR_INTERNAL, "%zu: more than the room", i);
		CHECK(xfer_put_end(tx, lens[i], i % 2 ? PAD : 1) == 0 && xfer_put(tx, one, 1, 1) == 0, "%zu: queued", i);
	}
	CHECK(xfer_link_end(tx) == 0, "sent");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]) && ok; i++) {
		pqx_buf v;
		uint8_t kind;

		ok &= xfer_recv_msg(rx, &v, &kind) == 0 && kind == K_DATA && pqx_buf_len(&v) == lens[i] - 1;
		for (size_t j = 1; ok && j < lens[i]; j++)
			ok &= pqx_buf_ptr(&v)[j - 1] == (uint8_t)(i + j);
		ok &= xfer_recv_msg(rx, &v, &kind) == 0 && kind == K_FILE_OK && pqx_buf_len(&v) == 0;
	}
	{
		/* A room larger than the record has left: the record goes first, then the room is whole. */
		uint64_t before;
		size_t left;
		uint8_t *m;

		CHECK(xfer_put(tx, one, 1, 1) == 0, "one queued");
		before = p.sio[0].bytes_out;
		left = xfer_link_room(tx);
		m = xfer_put_room(tx, left + 1, &r);
		CHECK(left > 0 && m != NULL && p.sio[0].bytes_out > before && xfer_link_room(tx) == 0,
		    "a room past the record's end sent the record first");
		CHECK(xfer_put_end(tx, 0, 1) == PQX_ERR_INTERNAL, "an empty message");
		if (m != NULL)
			m[0] = K_FILE_OK;
		CHECK(m != NULL && xfer_put_room(tx, 1, &r) == NULL && xfer_put_end(tx, 1, 1) == 0, "queued");
		CHECK(xfer_link_end(tx) == 0, "sent");
	}
	{
		pqx_buf v;
		uint8_t kind;

		for (int i = 0; i < 2; i++)
			ok &= xfer_recv_msg(rx, &v, &kind) == 0 && kind == K_FILE_OK && pqx_buf_len(&v) == 0;
	}
	CHECK(ok, "every message read back, in order");
out:
	xfer_link_free(tx);
	xfer_link_free(rx);
	pair_close(&p);
}

/*
 * A message does not wait for company for long: one queued stays (no
 * write), and queuing another 30 ms later sends both in one record (the
 * check runs as messages are queued or read).
 */
static void test_hold(void)
{
	struct pair p;
	struct xfer_link *tx = NULL;
	uint8_t m[1] = { K_FILE_OK };
	struct timespec ts = { 0, 30 * 1000 * 1000 };
	uint64_t before;

	if (pair_open(&p) != 0 || xfer_link_new(&tx, p.ch[0]) != 0) {
		CHECK(0, "setup");
		goto out;
	}
	before = p.sio[0].bytes_out;
	CHECK(xfer_put(tx, m, 1, 1) == 0 && p.sio[0].bytes_out == before, "the first message waits");
	nanosleep(&ts, NULL);
	CHECK(xfer_put(tx, m, 1, 1) == 0, "queued");
	CHECK(p.sio[0].bytes_out == before + 4 + 1 + 2 * 2 + 16, "after 30 ms both went, in one record: %llu bytes",
	    (unsigned long long)(p.sio[0].bytes_out - before));
out:
	xfer_link_free(tx);
	pair_close(&p);
}

/* Records that break the framing are refused; so is a message left unread at the end. */
static void test_refusals(void)
{
	static const struct {
		const char *what;
		uint8_t rec[6];
		size_t len;
		int end; /* 1: read one message, then the end must refuse what is left */
	} v[] = {
		{ "a record with no message", { 0 }, 0, 0 },
		{ "a record that begins with padding", { 0, 0, 0 }, 3, 0 },
		{ "padding that is not zeros", { 1, K_FILE_OK, 0, 7 }, 4, 2 },
		{ "a length past the record", { 5, K_FILE_OK, 0 }, 3, 0 },
		{ "a message left unread at the end", { 1, K_FILE_OK, 1, K_FILE_OK }, 4, 1 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct pair p;
		struct xfer_link *rx = NULL;
		pqx_buf b;
		uint8_t kind;
		int r;

		if (pair_open(&p) != 0 || xfer_link_new(&rx, p.ch[1]) != 0 ||
		    pqx_channel_send(p.ch[0], PQX_RECORD_DATA, v[i].rec, v[i].len) != 0) {
			CHECK(0, "setup");
			xfer_link_free(rx);
			pair_close(&p);
			continue;
		}
		if (v[i].end == 0) {
			CHECK(xfer_recv_msg(rx, &b, &kind) == PQX_ERR_FORMAT, "%s", v[i].what);
		} else {
			r = xfer_recv_msg(rx, &b, &kind);
			CHECK(r == 0 && kind == K_FILE_OK, "%s: the first message", v[i].what);
			r = v[i].end == 1 ? xfer_link_end(rx) : xfer_recv_msg(rx, &b, &kind);
			CHECK(r == PQX_ERR_FORMAT, "%s: %d", v[i].what, r);
		}
		xfer_link_free(rx);
		pair_close(&p);
	}
}

int main(void)
{
	t_run("link: message lengths", test_frames);
	t_run("link: small messages share records, padded as asked", test_batches);
	t_run("link: messages written in place, between others", test_room);
	t_run("link: a message waits at most about 10 ms for others", test_hold);
	t_run("link: broken framing is refused", test_refusals);
	return t_done();
}
