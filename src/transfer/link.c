/*
 * pqx: transfer messages in channel records (docs/PROTOCOL.md, "Messages"):
 * several to a record, each length-prefixed, the record padded as its
 * messages ask; a record goes out when it is full, before we would wait,
 * or once its first message has waited 10 ms.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transfer/content.h"
#include "transfer/xfer_int.h"
#include "util/util.h"

#define HEAD PQX_CHANNEL_HEADROOM
#define FRAME_MAX 3u /* the most a message's length takes */

struct xfer_link {
	pqx_channel *ch;
	uint8_t *tx;      /* HEAD, the record's payload, then room for the tag */
	size_t tx_len;    /* payload bytes queued: framed messages */
	size_t tx_pad;    /* the queued record's padding unit (1: none) */
	size_t tx_used;   /* how much of tx was ever written: what free wipes */
	const uint8_t *rx; /* the rest of the record being read (in the channel's buffer) */
	size_t rx_len;
	int rx_fresh;     /* no message taken from it yet */
	double wire;      /* seconds per byte to write a record (EWMA), 0 until known */
	double tx_t0;     /* when the first message queued went in */
	size_t room;      /* a message being written in place (xfer_put_room): its most bytes, 0 none */
};

/*
 * A message waits at most this long for others to share its record: the
 * peer may be waiting for it while we work (an answer whose SIGS took
 * reading an old version, a file being written).
 */
#ifndef LINK_HOLD
#define LINK_HOLD 0.01
#endif

/* Records smaller than this say little about the wire (they fit any socket buffer). */
#define WIRE_SAMPLE_MIN 16384u

size_t xfer_frame_put(uint8_t *p, size_t n)
{
	if (n < 0x80) {
		p[0] = (uint8_t)n;
		return 1;
	}
	if (n < 0x4000) {
		p[0] = (uint8_t)(0x80 | n >> 8);
		p[1] = (uint8_t)n;
		return 2;
	}
	p[0] = (uint8_t)(0xc0 | n >> 16);
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	return 3;
}

int xfer_frame_get(const uint8_t *p, size_t avail, size_t *hdr, size_t *n)
{
	*hdr = 0;
	*n = 0;
	if (avail == 0 || p[0] == 0) {
		/* Padding: zeros to the end. */
		uint8_t acc = 0;

		for (size_t i = 0; i < avail; i++)
			acc |= p[i];
		return acc == 0 ? 0 : PQX_ERR_FORMAT;
	}
	*hdr = p[0] < 0x80 ? 1 : p[0] < 0xc0 ? 2 : 3;
	if (*hdr > avail)
		return PQX_ERR_FORMAT;
	if (*hdr == 1)
		*n = p[0];
	else if (*hdr == 2)
		*n = (size_t)(p[0] & 0x3f) << 8 | p[1];
	else
		*n = (size_t)(p[0] & 0x3f) << 16 | (size_t)p[1] << 8 | p[2];
	/* One length, one encoding: the shortest. */
	if ((*hdr == 2 && *n < 0x80) || (*hdr == 3 && *n < 0x4000))
		return PQX_ERR_FORMAT;
	return *n <= avail - *hdr ? 0 : PQX_ERR_FORMAT;
}

int xfer_link_new(struct xfer_link **out, pqx_channel *ch)
{
	struct xfer_link *ln;

	*out = NULL;
	if ((ln = pqx_calloc(1, sizeof(*ln))) == NULL)
		return PQX_ERR_NOMEM;
	if ((ln->tx = pqx_malloc(HEAD + PQX_CHANNEL_MAX_RECORD + PQX_CHANNEL_TAILROOM)) == NULL) {
		pqx_free(ln);
		return PQX_ERR_NOMEM;
	}
	ln->ch = ch;
	ln->tx_pad = 1;
	*out = ln;
	return 0;
}

/* A room given up (an error between xfer_put_room and xfer_put_end): all of it counts as used. */
static void room_wiped(struct xfer_link *ln)
{
	if (ln->room != 0 && HEAD + ln->tx_len + FRAME_MAX + ln->room > ln->tx_used)
		ln->tx_used = HEAD + ln->tx_len + FRAME_MAX + ln->room;
	ln->room = 0;
}

void xfer_link_free(struct xfer_link *ln)
{
	if (ln == NULL)
		return;
	room_wiped(ln);
	pqx_free_wipe(ln->tx, ln->tx_used);
	pqx_free_wipe(ln, sizeof(*ln));
}

pqx_channel *xfer_link_channel(const struct xfer_link *ln)
{
	return ln->ch;
}

double xfer_link_wire(const struct xfer_link *ln)
{
	return ln->wire;
}

int xfer_flush(struct xfer_link *ln)
{
	size_t n = ln->tx_len, want;
	double t;
	int r;

	if (ln->room != 0)
		return PQX_ERR_INTERNAL; /* a message is half written in the record */
	if (n == 0)
		return 0;
	/* PQX_CHANNEL_MAX_RECORD is a multiple of every unit (at most PAD). */
	want = (n + ln->tx_pad - 1) / ln->tx_pad * ln->tx_pad;
	if (want > PQX_CHANNEL_MAX_RECORD)
		want = PQX_CHANNEL_MAX_RECORD;
	memset(ln->tx + HEAD + n, 0, want - n);
	if (HEAD + want + PQX_CHANNEL_TAILROOM > ln->tx_used)
		ln->tx_used = HEAD + want + PQX_CHANNEL_TAILROOM;
	ln->tx_len = 0;
	ln->tx_pad = 1;
	t = xc_mono();
	r = pqx_channel_send_inplace(ln->ch, ln->tx, want);
	if (r == 0 && want >= WIRE_SAMPLE_MIN) {
		double x = (xc_mono() - t) / (double)want;

		ln->wire = ln->wire != 0 ? ln->wire * 0.75 + x * 0.25 : x;
	}
	return r;
}

/* Room for a message of n bytes in the record being filled (sent first if it has too little). */
static int make_room(struct xfer_link *ln, size_t n)
{
	if (n == 0 || n > MSG_MAX || ln->room != 0)
		return PQX_ERR_INTERNAL;
	if (ln->tx_len + FRAME_MAX + n > PQX_CHANNEL_MAX_RECORD)
		return xfer_flush(ln);
	return 0;
}

/* The n bytes just framed at the end of the record join it. */
static int queued(struct xfer_link *ln, size_t n, size_t pad)
{
	if (ln->tx_len == 0)
		ln->tx_t0 = xc_mono();
	ln->tx_len += n;
	if (HEAD + ln->tx_len > ln->tx_used)
		ln->tx_used = HEAD + ln->tx_len; /* queued and never sent: wiped all the same */
	if (pad > ln->tx_pad)
		ln->tx_pad = pad;
	return xfer_link_due(ln);
}

int xfer_put(struct xfer_link *ln, const uint8_t *m, size_t n, size_t pad)
{
	uint8_t *p;
	size_t hdr;
	int r;

	if (pad == 0 || pad > PAD)
		return PQX_ERR_INTERNAL;
	if ((r = make_room(ln, n)) != 0)
		return r;
	p = ln->tx + HEAD + ln->tx_len;
	hdr = xfer_frame_put(p, n);
	memcpy(p + hdr, m, n);
	return queued(ln, hdr + n, pad);
}

size_t xfer_link_room(const struct xfer_link *ln)
{
	if (ln->room != 0 || ln->tx_len + FRAME_MAX >= PQX_CHANNEL_MAX_RECORD)
		return 0;
	return PQX_CHANNEL_MAX_RECORD - ln->tx_len - FRAME_MAX;
}

uint8_t *xfer_put_room(struct xfer_link *ln, size_t n, int *err)
{
	if ((*err = make_room(ln, n)) != 0)
		return NULL;
	/*
	 * What the message leaves written counts as used (xfer_put_end), and an
	 * open room as a whole (room_wiped): not here, where counting the whole
	 * room would have free wipe, and so fault in, a record's pages for a
	 * small message.
	 */
	ln->room = n;
	return ln->tx + HEAD + ln->tx_len + FRAME_MAX;
}

int xfer_put_end(struct xfer_link *ln, size_t n, size_t pad)
{
	uint8_t *p = ln->tx + HEAD + ln->tx_len;
	uint8_t frame[FRAME_MAX];
	size_t hdr;

	if (n == 0 || n > ln->room || pad == 0 || pad > PAD)
		return PQX_ERR_INTERNAL;
	ln->room = 0;
	if (HEAD + ln->tx_len + FRAME_MAX + n > ln->tx_used)
		ln->tx_used = HEAD + ln->tx_len + FRAME_MAX + n; /* the bytes a move down leaves behind too */
	hdr = xfer_frame_put(frame, n);
	if (hdr < FRAME_MAX)
		memmove(p + hdr, p + FRAME_MAX, n); /* short enough for a shorter length */
	memcpy(p, frame, hdr);
	return queued(ln, hdr + n, pad);
}

int xfer_link_due(struct xfer_link *ln)
{
	if (ln->tx_len > 0 && xc_mono() - ln->tx_t0 >= LINK_HOLD)
		return xfer_flush(ln);
	return 0;
}

int xfer_send_buf(struct xfer_link *ln, pqx_buf *b)
{
	return xfer_send_padded(ln, b, 1);
}

int xfer_send_padded(struct xfer_link *ln, pqx_buf *b, size_t pad)
{
	int r = xfer_put(ln, pqx_buf_ptr(b), pqx_buf_len(b), pad);

	pqx_buf_reset(b);
	return r;
}

int xfer_link_ready(struct xfer_link *ln)
{
	/* A zero where a length would begin is padding: the record holds no more. */
	return (ln->rx_len > 0 && ln->rx[0] != 0) || pqx_channel_readable(ln->ch);
}

/* Receives one message as a read-only buffer view and its kind. */
int xfer_recv_msg(struct xfer_link *ln, pqx_buf *v, uint8_t *kind)
{
	for (;;) {
		size_t hdr, n;
		int r;

		if (ln->rx_len == 0) {
			const uint8_t *d;

			/* Before we wait, the peer gets all we have for it. */
			if (ln->tx_len > 0 && !pqx_channel_readable(ln->ch) && (r = xfer_flush(ln)) != 0)
				return r;
			if ((r = pqx_channel_recv(ln->ch, &d, &n)) != 0)
				return r;
			ln->rx = d;
			ln->rx_len = n;
			ln->rx_fresh = 1;
		}
		if ((r = xfer_frame_get(ln->rx, ln->rx_len, &hdr, &n)) != 0)
			return r;
		if (n == 0) {
			/* Padding, after at least one message. */
			if (ln->rx_fresh)
				return PQX_ERR_FORMAT;
			ln->rx_len = 0;
			continue;
		}
		pqx_buf_view(v, ln->rx + hdr, n);
		ln->rx += hdr + n;
		ln->rx_len -= hdr + n;
		ln->rx_fresh = 0;
		if (pqx_buf_get_u8(v, kind) != 0)
			return PQX_ERR_FORMAT;
		return xfer_link_due(ln);
	}
}

int xfer_link_end(struct xfer_link *ln)
{
	size_t hdr, n;
	int r;

	if ((r = xfer_flush(ln)) != 0)
		return r;
	/* What is left of the last record must be padding. */
	if ((r = xfer_frame_get(ln->rx, ln->rx_len, &hdr, &n)) != 0)
		return r;
	return n == 0 ? 0 : PQX_ERR_FORMAT;
}

int xfer_fail(struct xfer_link *ln, int code, const char *msg)
{
	int e = errno; /* why, for our own report (sending may change errno) */

	room_wiped(ln);
	ln->tx_len = 0;
	ln->tx_pad = 1;
	/* The error record is built in the channel's buffer, over the record being read: drop the rest. */
	ln->rx_len = 0;
	xfer_refuse(ln->ch, msg);
	errno = e;
	return code;
}

int xfer_expect(struct xfer_link *ln, pqx_buf *v, uint8_t want)
{
	uint8_t kind;
	int r;

	if ((r = xfer_recv_msg(ln, v, &kind)) != 0)
		return r;
	return kind == want ? 0 : PQX_ERR_FORMAT;
}
