/* pqx: readers and writers over file descriptors, and full reads. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <pqx/io.h>

#include "util/util.h"

int pqx_read_full(pqx_reader *r, uint8_t *buf, size_t n, size_t *got)
{
	size_t off = 0, k;
	int ret;

	while (off < n) {
		if ((ret = r->read(r->ctx, buf + off, n - off, &k)) != 0) {
			*got = off;
			return ret;
		}
		if (k == 0)
			break;
		off += k;
	}
	*got = off;
	return 0;
}

static int fd_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	int fd = *(int *)ctx;
	ssize_t k;

	do {
		k = read(fd, buf, n);
	} while (k < 0 && errno == EINTR);
	if (k < 0) {
		*got = 0;
		return PQX_ERR_IO;
	}
	*got = (size_t)k;
	return 0;
}

static int fd_write(void *ctx, const uint8_t *buf, size_t n)
{
	int fd = *(int *)ctx;

	while (n > 0) {
		ssize_t k = write(fd, buf, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return PQX_ERR_IO;
		buf += k;
		n -= (size_t)k;
	}
	return 0;
}

void pqx_reader_fd(pqx_reader *r, int *fd)
{
	r->read = fd_read;
	r->ctx = fd;
}

void pqx_writer_fd(pqx_writer *w, int *fd)
{
	w->write = fd_write;
	w->ctx = fd;
}

struct pqx_breader {
	pqx_reader under;
	uint8_t *buf;
	size_t cap, off, len; /* buffered bytes are buf[off, off + len) */
	int eof;
};

pqx_breader *pqx_breader_new(pqx_reader *under, size_t cap)
{
	pqx_breader *b;

	if ((b = pqx_calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->buf = pqx_malloc(cap)) == NULL) {
		pqx_free(b);
		return NULL;
	}
	b->under = *under;
	b->cap = cap;
	return b;
}

void pqx_breader_free(pqx_breader *b)
{
	if (b == NULL)
		return;
	pqx_free_wipe(b->buf, b->cap);
	pqx_free(b);
}

/* Reads more input until at least n bytes are buffered or the input ends. */
static int breader_fill(pqx_breader *b, size_t n)
{
	size_t got;
	int r;

	if (b->off > 0 && b->off + n > b->cap) {
		memmove(b->buf, b->buf + b->off, b->len);
		b->off = 0;
	}
	while (b->len < n && !b->eof) {
		size_t end = b->off + b->len;

		if ((r = b->under.read(b->under.ctx, b->buf + end, b->cap - end, &got)) != 0)
			return r;
		if (got == 0)
			b->eof = 1;
		b->len += got;
	}
	return 0;
}

int pqx_breader_peek(pqx_breader *b, size_t n, const uint8_t **p, size_t *avail)
{
	int r;

	if (n > b->cap)
		return PQX_ERR_LIMIT;
	if ((r = breader_fill(b, n)) != 0)
		return r;
	*p = b->buf + b->off;
	*avail = b->len < n ? b->len : n;
	return 0;
}

int pqx_breader_line(pqx_breader *b, const uint8_t **line, size_t *len)
{
	size_t scanned = 0;
	const uint8_t *nl;
	int r;

	for (;;) {
		nl = memchr(b->buf + b->off + scanned, '\n', b->len - scanned);
		if (nl != NULL)
			break;
		scanned = b->len;
		if (b->len == b->cap)
			return PQX_ERR_LIMIT;
		if (b->eof)
			return PQX_ERR_TRUNCATED;
		if ((r = breader_fill(b, b->len + 1)) != 0)
			return r;
	}
	*line = b->buf + b->off;
	*len = (size_t)(nl - *line) + 1;
	b->off += *len;
	b->len -= *len;
	return 0;
}

static int breader_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	pqx_breader *b = ctx;

	/* Serve buffered bytes first; large reads then go straight through. */
	if (b->len == 0) {
		if (b->eof) {
			*got = 0;
			return 0;
		}
		return b->under.read(b->under.ctx, buf, n, got);
	}
	if (n > b->len)
		n = b->len;
	memcpy(buf, b->buf + b->off, n);
	b->off += n;
	b->len -= n;
	*got = n;
	return 0;
}

void pqx_breader_as_reader(pqx_breader *b, pqx_reader *out)
{
	out->read = breader_read;
	out->ctx = b;
}
