/* pqx: age's ASCII armor: a strict streaming PEM decoder and encoder in constant memory. */
#include <stdint.h>
#include <string.h>

#include "age/armor.h"
#include "util/util.h"

#define BEGIN_LEN (sizeof(PQX_ARMOR_BEGIN) - 1)
#define END_LEN (sizeof(PQX_ARMOR_END) - 1)
#define IN_BLOCK 4096
/* A line as stored: 64 columns and the CR of a CRLF. */
#define ARMOR_LINE_MAX (PQX_ARMOR_COLUMNS + 1)
/* The encoder batches this many lines (65 bytes each) per write to under. */
#define OUT_LINES 32

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

enum armor_state {
	ST_LEAD,  /* whitespace before BEGIN, then the BEGIN line */
	ST_BODY,  /* after BEGIN or a full line: a data line or END */
	ST_LAST,  /* after a short line: END must follow */
	ST_TAIL,  /* after the END line: whitespace to the end of input */
	ST_DONE,  /* the armor was well-formed to the end of input */
};

struct pqx_armor_reader {
	pqx_reader *under;
	uint8_t in[IN_BLOCK];   /* not secret: armor carries ciphertext */
	size_t in_off, in_len;
	int in_eof;
	uint8_t line[ARMOR_LINE_MAX];
	uint8_t out[PQX_ARMOR_LINE_BYTES];
	size_t out_off, out_len;
	enum armor_state state;
	int err;
};

struct pqx_armor_writer {
	pqx_writer *under;
	uint8_t part[PQX_ARMOR_LINE_BYTES]; /* not secret: ciphertext */
	size_t part_len;
	uint8_t obuf[BEGIN_LEN + 1 + OUT_LINES * (PQX_ARMOR_COLUMNS + 1)];
	size_t olen;
	int started, finished, err;
};

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Peeks at the next input byte: 1 with *c set, 0 at the end of input, or
 * the error of under.
 */
static int peek_byte(pqx_armor_reader *a, uint8_t *c)
{
	size_t got = 0;
	int r;

	while (a->in_off == a->in_len) {
		if (a->in_eof)
			return 0;
		if ((r = a->under->read(a->under->ctx, a->in, sizeof(a->in), &got)) != 0)
			return r;
		if (got > sizeof(a->in))
			return PQX_ERR_INTERNAL;
		a->in_off = 0;
		a->in_len = got;
		if (got == 0)
			a->in_eof = 1;
	}
	*c = a->in[a->in_off];
	return 1;
}

/*
 * Reads one line into a->line without its LF and without one CR before
 * the LF (or before the end of input), as age does. *lf is 1 if an LF ended
 * it, 0 if the end of input did. More than 64 columns and a CR, or no
 * line at all at the end of input, is PQX_ERR_FORMAT; the caller checks
 * the rest.
 */
static int get_line(pqx_armor_reader *a, size_t *len, int *lf)
{
	size_t n = 0;
	uint8_t c = 0;
	int r;

	*len = 0;
	*lf = 0;
	for (;;) {
		if ((r = peek_byte(a, &c)) < 0)
			return r;
		if (r == 0) {
			if (n == 0)
				return PQX_ERR_FORMAT;
			break;
		}
		a->in_off++;
		if (c == '\n') {
			*lf = 1;
			break;
		}
		if (n == sizeof(a->line))
			return PQX_ERR_FORMAT;
		a->line[n++] = c;
	}
	if (n > 0 && a->line[n - 1] == '\r')
		n--;
	*len = n;
	return 0;
}

static int line_is(const pqx_armor_reader *a, size_t len, const char *text, size_t tlen)
{
	return len == tlen && memcmp(a->line, text, tlen) == 0;
}

/* The value of a base64 character, or -1. Not secret, so branches are fine. */
static int b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes one data line of 1..64 columns into a->out: whole groups of four,
 * '=' padding only at the end of the line, and zero unused bits (canonical
 * base64, RFC 4648 section 3.5), so that each byte string has exactly one
 * armored form.
 */
static int decode_line(pqx_armor_reader *a, size_t len)
{
	const uint8_t *p = a->line;
	size_t o = 0, pad = 0;
	int v[4];
	uint32_t w;

	if (len == 0 || len > PQX_ARMOR_COLUMNS || len % 4 != 0)
		return PQX_ERR_FORMAT;
	if (p[len - 1] == '=')
		pad = p[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len; i += 4) {
		size_t ndig = i + 4 == len ? 4 - pad : 4;

		for (size_t j = 0; j < 4; j++) {
			v[j] = j < ndig ? b64_value(p[i + j]) : 0;
			if (v[j] < 0)
				return PQX_ERR_FORMAT;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		    (uint32_t)v[3];
		/* The bits past the last byte of a padded group must be zero. */
		if ((ndig == 2 && (w & 0xffff) != 0) || (ndig == 3 && (w & 0xff) != 0))
			return PQX_ERR_FORMAT;
		a->out[o++] = (uint8_t)(w >> 16);
		if (ndig > 2)
			a->out[o++] = (uint8_t)(w >> 8);
		if (ndig > 3)
			a->out[o++] = (uint8_t)w;
	}
	a->out_off = 0;
	a->out_len = o;
	return 0;
}

/*
 * Whitespace before BEGIN: whole lines only, so BEGIN starts a line, and at
 * most PQX_ARMOR_MAX_WHITESPACE bytes counting a CRLF as one, as age counts.
 */
static int skip_leading(pqx_armor_reader *a)
{
	size_t count = 0;
	uint8_t c = 0, prev = '\n';
	int r;

	for (;;) {
		if ((r = peek_byte(a, &c)) < 0)
			return r;
		if (r == 0 || !is_space(c))
			break;
		a->in_off++;
		if (!(c == '\n' && prev == '\r') && ++count > PQX_ARMOR_MAX_WHITESPACE)
			return PQX_ERR_FORMAT;
		prev = c;
	}
	return prev == '\n' ? 0 : PQX_ERR_FORMAT;
}

/* After the END line: only whitespace, fewer than PQX_ARMOR_MAX_WHITESPACE bytes, to the end. */
static int check_trailing(pqx_armor_reader *a)
{
	size_t count = 0;
	uint8_t c = 0;
	int r;

	for (;;) {
		if ((r = peek_byte(a, &c)) < 0)
			return r;
		if (r == 0)
			return 0;
		if (!is_space(c) || ++count >= PQX_ARMOR_MAX_WHITESPACE)
			return PQX_ERR_FORMAT;
		a->in_off++;
	}
}

/* Advances the parse by one line (or by the leading or trailing whitespace). */
static int armor_step(pqx_armor_reader *a)
{
	size_t len;
	int lf, r;

	switch (a->state) {
	case ST_LEAD:
		if ((r = skip_leading(a)) != 0 || (r = get_line(a, &len, &lf)) != 0)
			return r;
		if (!lf || !line_is(a, len, PQX_ARMOR_BEGIN, BEGIN_LEN))
			return PQX_ERR_FORMAT;
		a->state = ST_BODY;
		return 0;
	case ST_BODY:
		if ((r = get_line(a, &len, &lf)) != 0)
			return r;
		if (line_is(a, len, PQX_ARMOR_END, END_LEN)) {
			a->state = lf ? ST_TAIL : ST_DONE;
			return 0;
		}
		/* A data line must be complete: END has to follow it. */
		if (!lf)
			return PQX_ERR_FORMAT;
		if ((r = decode_line(a, len)) != 0)
			return r;
		if (a->out_len < PQX_ARMOR_LINE_BYTES)
			a->state = ST_LAST;
		return 0;
	case ST_LAST:
		if ((r = get_line(a, &len, &lf)) != 0)
			return r;
		if (!line_is(a, len, PQX_ARMOR_END, END_LEN))
			return PQX_ERR_FORMAT;
		a->state = lf ? ST_TAIL : ST_DONE;
		return 0;
	case ST_TAIL:
		if ((r = check_trailing(a)) != 0)
			return r;
		a->state = ST_DONE;
		return 0;
	case ST_DONE:
		return 0;
	}
	return PQX_ERR_INTERNAL;
}

static int armor_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	pqx_armor_reader *a = ctx;
	size_t k;
	int r;

	*got = 0;
	for (;;) {
		if (a->err != 0)
			return a->err;
		/* A short line's bytes wait in ST_LAST and ST_TAIL until the end checks out. */
		if (a->out_off < a->out_len && (a->state == ST_BODY || a->state == ST_DONE)) {
			k = a->out_len - a->out_off;
			if (k > n)
				k = n;
			memcpy(buf, a->out + a->out_off, k);
			a->out_off += k;
			*got = k;
			return 0;
		}
		if (a->state == ST_DONE || n == 0)
			return 0;
		if ((r = armor_step(a)) != 0) {
			a->err = r;
			a->out_off = a->out_len = 0;
		}
	}
}

pqx_armor_reader *pqx_armor_reader_new(pqx_reader *under)
{
	pqx_armor_reader *a;

	if (under == NULL || (a = pqx_calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->under = under;
	a->state = ST_LEAD;
	return a;
}

void pqx_armor_reader_free(pqx_armor_reader *a)
{
	pqx_free(a); /* not secret */
}

void pqx_armor_reader_as_reader(pqx_armor_reader *a, pqx_reader *out)
{
	out->read = armor_read;
	out->ctx = a;
}

static int writer_flush(pqx_armor_writer *a)
{
	int r;

	if (a->olen == 0)
		return 0;
	if ((r = a->under->write(a->under->ctx, a->obuf, a->olen)) != 0)
		return r;
	a->olen = 0;
	return 0;
}

/* Appends one line of base64 (with padding) of the n <= 48 bytes at p, and an LF. */
static void encode_line(pqx_armor_writer *a, const uint8_t *p, size_t n)
{
	uint8_t *o = a->obuf + a->olen;
	uint32_t w;

	for (size_t i = 0; i < n; i += 3) {
		size_t k = n - i < 3 ? n - i : 3;

		w = (uint32_t)p[i] << 16;
		if (k > 1)
			w |= (uint32_t)p[i + 1] << 8;
		if (k > 2)
			w |= p[i + 2];
		*o++ = (uint8_t)b64_alphabet[(w >> 18) & 63];
		*o++ = (uint8_t)b64_alphabet[(w >> 12) & 63];
		*o++ = k > 1 ? (uint8_t)b64_alphabet[(w >> 6) & 63] : '=';
		*o++ = k > 2 ? (uint8_t)b64_alphabet[w & 63] : '=';
	}
	*o++ = '\n';
	a->olen = (size_t)(o - a->obuf);
}

static void writer_start(pqx_armor_writer *a)
{
	if (a->started)
		return;
	memcpy(a->obuf + a->olen, PQX_ARMOR_BEGIN "\n", BEGIN_LEN + 1);
	a->olen += BEGIN_LEN + 1;
	a->started = 1;
}

static int armor_write(void *ctx, const uint8_t *buf, size_t n)
{
	pqx_armor_writer *a = ctx;
	size_t k;
	int r = PQX_ERR_INVALID_ARG;

	if (a->err != 0)
		return a->err;
	if (a->finished || (buf == NULL && n > 0))
		return r;
	writer_start(a);
	while (n > 0) {
		k = sizeof(a->part) - a->part_len;
		if (k > n)
			k = n;
		memcpy(a->part + a->part_len, buf, k);
		a->part_len += k;
		buf += k;
		n -= k;
		if (a->part_len < sizeof(a->part))
			break;
		if (sizeof(a->obuf) - a->olen < PQX_ARMOR_COLUMNS + 1 &&
		    (r = writer_flush(a)) != 0)
			goto fail;
		encode_line(a, a->part, a->part_len);
		a->part_len = 0;
	}
	if ((r = writer_flush(a)) != 0)
		goto fail;
	return 0;
fail:
	a->err = r;
	return r;
}

pqx_armor_writer *pqx_armor_writer_new(pqx_writer *under)
{
	pqx_armor_writer *a;

	if (under == NULL || (a = pqx_calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->under = under;
	return a;
}

void pqx_armor_writer_as_writer(pqx_armor_writer *a, pqx_writer *out)
{
	out->write = armor_write;
	out->ctx = a;
}

int pqx_armor_writer_finish(pqx_armor_writer *a)
{
	int r = PQX_ERR_INVALID_ARG;

	if (a == NULL || a->finished)
		return r;
	if (a->err != 0)
		return a->err;
	a->finished = 1;
	writer_start(a);
	/* The obuf holds at most the BEGIN line here: every write flushes. */
	if (a->part_len > 0)
		encode_line(a, a->part, a->part_len);
	a->part_len = 0;
	memcpy(a->obuf + a->olen, PQX_ARMOR_END "\n", END_LEN + 1);
	a->olen += END_LEN + 1;
	if ((r = writer_flush(a)) != 0)
		a->err = r;
	return r;
}

void pqx_armor_writer_free(pqx_armor_writer *a)
{
	pqx_free(a); /* not secret */
}

int pqx_armor_is_armored(const uint8_t *peek, size_t n)
{
	size_t i = 0;

	if (peek == NULL)
		return 0;
	while (i < n && is_space(peek[i]))
		i++;
	return n - i >= BEGIN_LEN && memcmp(peek + i, PQX_ARMOR_BEGIN, BEGIN_LEN) == 0;
}
