/* pqx: file contents, what both sides share: window levels, messages, I/O helpers. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "crypto/ossl.h"
#include "transfer/content.h"
#include "util/util.h"


void xc_lvl_free(struct lvl *l)
{
	pqx_free(l->v);
	pqx_free(l->st);
	pqx_free(l->nch);
	memset(l, 0, sizeof(*l));
}

int xc_lvl_push(struct lvl *l, const struct xfer_node *n)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct xfer_node *v = realloc(l->v, cap * sizeof(*v));
		uint8_t *st;
		uint32_t *nch;

		if (v == NULL)
			return PQX_ERR_NOMEM;
		l->v = v;
		if ((st = realloc(l->st, cap)) == NULL)
			return PQX_ERR_NOMEM;
		l->st = st;
		if ((nch = realloc(l->nch, cap * sizeof(*nch))) == NULL)
			return PQX_ERR_NOMEM;
		l->nch = nch;
		l->cap = cap;
	}
	l->v[l->n] = *n;
	l->st[l->n] = ST_NEED;
	l->nch[l->n] = 0;
	l->n++;
	return 0;
}

double xc_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads exactly n bytes at off (0) or fails (a short file is PQX_ERR_TRUNCATED). */
int xc_pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pread(fd, p, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 ? PQX_ERR_TRUNCATED : PQX_ERR_IO;
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

int xc_pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = ENOSPC;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

int xc_mac_file(pqx_hmac *h, int fd, uint64_t size, uint8_t *buf)
{
	int r = 0;

	for (uint64_t off = 0; r == 0 && off < size;) {
		size_t n = size - off < IO_BYTES ? (size_t)(size - off) : IO_BYTES;

		if ((r = xc_pread_all(fd, buf, n, off)) == 0)
			r = pqx_hmac_update(h, buf, n);
		off += n;
	}
	return r;
}

/* SHA-256 of a whole file (the shared base's identity). */
static int hash_file(int fd, uint64_t size, uint8_t out[32], uint8_t *buf)
{
	pqx_hmac *h = NULL;
	int r;

	/* HMAC-SHA256 under a fixed label: an incremental hash, as good an identity as SHA-256. */
	if ((h = pqx_hmac_new((const uint8_t *)"pqx base", 8)) == NULL)
		return PQX_ERR_NOMEM;
	if ((r = pqx_hmac_init(h)) == 0 && (r = xc_mac_file(h, fd, size, buf)) == 0)
		r = pqx_hmac_final(h, out);
	pqx_hmac_free(h);
	return r;
}


int xc_base_id(struct idcache *c, int fd, uint8_t out[32], uint8_t *buf)
{
	struct stat sb;
	int r;

	if (fstat(fd, &sb) != 0)
		return PQX_ERR_IO;
	for (int i = 0; i < IDCACHE; i++)
		if (c->e[i].used && c->e[i].dev == sb.st_dev && c->e[i].ino == sb.st_ino &&
		    c->e[i].size == sb.st_size && c->e[i].mtime.tv_sec == sb.st_mtim.tv_sec &&
		    c->e[i].mtime.tv_nsec == sb.st_mtim.tv_nsec &&
		    c->e[i].ctime.tv_sec == sb.st_ctim.tv_sec &&
		    c->e[i].ctime.tv_nsec == sb.st_ctim.tv_nsec) {
			memcpy(out, c->e[i].id, 32);
			return 0;
		}
	if ((r = hash_file(fd, (uint64_t)sb.st_size, out, buf)) != 0)
		return r;
	{
		unsigned int i = c->next++ % IDCACHE;

		c->e[i].dev = sb.st_dev;
		c->e[i].ino = sb.st_ino;
		c->e[i].size = sb.st_size;
		c->e[i].mtime = sb.st_mtim;
		c->e[i].ctime = sb.st_ctim;
		memcpy(c->e[i].id, out, 32);
		c->e[i].used = 1;
	}
	return 0;
}

/* ---- the window walk, the same on both sides ---- */


void xc_win_reset(struct win *w)
{
	for (int l = 0; l < XFER_TREE_LEVELS; l++)
		w->x[l].n = 0;
}

void xc_win_free(struct win *w)
{
	for (int l = 0; l < XFER_TREE_LEVELS; l++)
		xc_lvl_free(&w->x[l]);
}

/* Calls fn for every node whose bytes must cross, in file order. */
int xc_win_items(struct win *w, int (*fn)(void *ctx, const struct xfer_node *n), void *ctx)
{
	size_t c1 = 0, c0 = 0;
	int r;

	for (size_t i = 0; i < w->x[2].n; i++) {
		if (w->x[2].st[i] == ST_WHOLE && (r = fn(ctx, &w->x[2].v[i])) != 0)
			return r;
		for (size_t j = c1; j < c1 + w->x[2].nch[i]; j++) {
			if (w->x[1].st[j] == ST_WHOLE && (r = fn(ctx, &w->x[1].v[j])) != 0)
				return r;
			for (size_t k = c0; k < c0 + w->x[1].nch[j]; k++)
				if (w->x[0].st[k] == ST_NEED && (r = fn(ctx, &w->x[0].v[k])) != 0)
					return r;
			c0 += w->x[1].nch[j];
		}
		c1 += w->x[2].nch[i];
	}
	return 0;
}

void xc_win_flat(struct win *w)
{
	for (int l = XFER_TREE_LEVELS - 1; l > 0; l--) {
		const struct lvl *below = &w->x[l - 1];
		size_t c = 0;

		for (size_t i = 0; i < w->x[l].n; i++) {
			const struct xfer_node *p = &w->x[l].v[i];
			uint32_t k = 0;

			for (; c < below->n && below->v[c].off < p->off + p->len; c++)
				k++;
			w->x[l].st[i] = ST_NEED;
			w->x[l].nch[i] = k;
		}
	}
}

int xc_put_list(pqx_buf *b, const struct lvl *parents, const struct lvl *l, int level)
{
	int r;

	if ((r = pqx_buf_put_u8(b, K_LIST)) != 0 || (r = pqx_buf_put_u8(b, (uint8_t)level)) != 0)
		return r;
	if (level < 2) {
		size_t np = 0;

		for (size_t i = 0; parents != NULL && i < parents->n; i++)
			np += parents->st[i] == ST_NEED;
		if ((r = pqx_buf_put_u32(b, (uint32_t)np)) != 0)
			return r;
		for (size_t i = 0; parents != NULL && i < parents->n; i++)
			if (parents->st[i] == ST_NEED &&
			    (r = pqx_buf_put_u8(b, (uint8_t)parents->nch[i])) != 0)
				return r;
	}
	if ((r = pqx_buf_put_u32(b, (uint32_t)l->n)) != 0)
		return r;
	for (size_t i = 0; i < l->n; i++)
		if ((r = pqx_buf_put(b, l->v[i].id, XFER_ID_BYTES)) != 0 ||
		    (r = pqx_buf_put_u32(b, (uint32_t)l->v[i].len)) != 0)
			return r;
	return 0;
}

int xc_put_bitmap(pqx_buf *b, const struct lvl *l)
{
	int r;

	if ((r = pqx_buf_put_u8(b, K_BITMAP)) != 0 || (r = pqx_buf_put_u32(b, (uint32_t)l->n)) != 0 ||
	    (r = pqx_buf_put(b, l->st, l->n)) != 0)
		return r;
	return 0;
}

/* The receiver's answer for the nodes of l (the sender's side): v, after the kind BITMAP. */
int xc_get_bitmap(pqx_buf *v, struct lvl *l, int level, struct xfer_stats *st)
{
	uint32_t n;

	if (pqx_buf_get_u32(v, &n) != 0 || n != l->n || pqx_buf_get(v, l->st, n) != 0 ||
	    pqx_buf_expect_end(v) != 0)
		return PQX_ERR_FORMAT;
	for (size_t i = 0; i < n; i++) {
		if (l->st[i] > (level == 0 ? ST_HAVE : ST_WHOLE))
			return PQX_ERR_FORMAT;
		if (l->st[i] == ST_HAVE)
			st->bytes_reused += l->v[i].len;
	}
	return 0;
}


int xc_file_hash(struct xfer_tree *t, pqx_hmac **h)
{
	static const uint8_t label = 4;

	if ((*h = xfer_tree_idh(t)) == NULL)
		return PQX_ERR_NOMEM;
	if (pqx_hmac_init(*h) != 0 || pqx_hmac_update(*h, &label, 1) != 0) {
		pqx_hmac_free(*h);
		*h = NULL;
		return PQX_ERR_INTERNAL;
	}
	return 0;
}
