/* pqx: the transfer protocol: request, entries, HAVE lists, blocks, atomic placement. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "crypto/ossl.h"
#include "transfer/transfer.h"
#include "util/buf.h"
#include "util/util.h"

enum {
	K_REQUEST = 1, K_ACCEPT = 2, K_FILE = 3, K_DIR = 4, K_SYMLINK = 5, K_END = 6,
	K_HAVE = 7, K_BLOCK = 8, K_FILE_END = 9, K_FILE_OK = 10, K_DONE = 11,
};

#define HAVE_PER_MSG 16384
#define MSG_MAX PQX_CHANNEL_MAX_RECORD
/* The receiver starts writeback after every this many bytes written. */
#define WRITEBEHIND_BYTES (8u << 20)

/* ---- messages ---- */

static int send_buf(pqx_channel *ch, pqx_buf *b)
{
	int r = pqx_channel_send(ch, PQX_RECORD_DATA, pqx_buf_ptr(b), pqx_buf_len(b));

	pqx_buf_reset(b);
	return r;
}

static int put_str(pqx_buf *b, const char *s, size_t n)
{
	int r;

	if (n > 65535)
		return PQX_ERR_LIMIT;
	if ((r = pqx_buf_put_u16(b, (uint16_t)n)) != 0)
		return r;
	return pqx_buf_put(b, s, n);
}

/* Reads a string field into out (NUL-terminated, at most max bytes). */
static int get_str(pqx_buf *b, char *out, size_t max, size_t *len)
{
	uint16_t n;
	int r;

	if ((r = pqx_buf_get_u16(b, &n)) != 0)
		return r;
	if (n > max)
		return PQX_ERR_LIMIT;
	if ((r = pqx_buf_get(b, out, n)) != 0)
		return r;
	out[n] = '\0';
	*len = n;
	return 0;
}

/* Receives one message as a read-only buffer view and its kind. */
static int recv_msg(pqx_channel *ch, pqx_buf *v, uint8_t *kind)
{
	const uint8_t *d;
	size_t n;
	int r;

	if ((r = pqx_channel_recv(ch, &d, &n)) != 0)
		return r;
	pqx_buf_view(v, d, n);
	if (pqx_buf_get_u8(v, kind) != 0)
		return PQX_ERR_FORMAT;
	return 0;
}

static int expect(pqx_channel *ch, pqx_buf *v, uint8_t want)
{
	uint8_t kind;
	int r;

	if ((r = recv_msg(ch, v, &kind)) != 0)
		return r;
	return kind == want ? 0 : PQX_ERR_FORMAT;
}

int xfer_request(pqx_channel *ch, enum xfer_op op, const char *path)
{
	pqx_buf *b = pqx_buf_new(MSG_MAX), v;
	int r;

	if (b == NULL)
		return PQX_ERR_NOMEM;
	if ((r = pqx_buf_put_u8(b, K_REQUEST)) == 0 && (r = pqx_buf_put_u8(b, (uint8_t)op)) == 0 &&
	    (r = put_str(b, path, strlen(path))) == 0 && (r = send_buf(ch, b)) == 0 &&
	    (r = expect(ch, &v, K_ACCEPT)) == 0)
		r = pqx_buf_expect_end(&v) == 0 ? 0 : PQX_ERR_FORMAT;
	pqx_buf_free(b);
	return r;
}

int xfer_read_request(pqx_channel *ch, enum xfer_op *op, char path[XFER_MAX_PATH + 1])
{
	pqx_buf v;
	uint8_t o;
	size_t len;
	int r;

	if ((r = expect(ch, &v, K_REQUEST)) != 0)
		return r;
	if (pqx_buf_get_u8(&v, &o) != 0 || (o != XFER_SEND && o != XFER_GET) ||
	    get_str(&v, path, XFER_MAX_PATH, &len) != 0 || pqx_buf_expect_end(&v) != 0 ||
	    memchr(path, '\0', len) != NULL)
		return PQX_ERR_FORMAT;
	*op = (enum xfer_op)o;
	return 0;
}

int xfer_accept(pqx_channel *ch)
{
	uint8_t k = K_ACCEPT;

	return pqx_channel_send(ch, PQX_RECORD_DATA, &k, 1);
}

void xfer_refuse(pqx_channel *ch, const char *msg)
{
	(void)!pqx_channel_send(ch, PQX_RECORD_ERROR, (const uint8_t *)msg, strlen(msg));
}

/* ---- paths ---- */

int xfer_path_ok(const char *path, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > XFER_MAX_PATH || path[0] == '/' || memchr(path, '\0', len) != NULL)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		size_t n = i - start;

		if (n == 0 || n > XFER_MAX_NAME || (n == 1 && path[start] == '.') ||
		    (n == 2 && path[start] == '.' && path[start + 1] == '.'))
			return 0;
		start = i + 1;
	}
	return 1;
}

int xfer_open_dir(int dirfd, const char *rel, int create)
{
	char comp[XFER_MAX_NAME + 1];
	const char *p = rel;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	while (fd >= 0 && *p != '\0') {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int next;

		if (n == 0 || n > XFER_MAX_NAME) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0755) == 0 || errno == EEXIST)
				next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		close(fd);
		fd = next;
		p += n;
		if (*p == '/')
			p++;
	}
	return fd;
}

/* Splits a valid peer path into its parent directory and last component. */
static int split_path(const char *path, char *parent, size_t cap, const char **last)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= cap)
		return -1;
	memcpy(parent, path, n);
	parent[n] = '\0';
	*last = slash ? slash + 1 : path;
	return 0;
}

/* ---- sender ---- */

struct sender {
	pqx_channel *ch;
	pqx_buf *b;
	uint8_t *block;
	uint8_t *have;     /* receiver's hashes, 32 bytes per block, or NULL */
	uint8_t *have_set; /* 1 per block where have holds a hash */
	const struct xfer_opts *o;
	struct xfer_stats *st;
	int confined;
};

/* Tells the user about an entry left out: "PATH: REASON". */
static void warn(const struct xfer_opts *o, const char *reason, const char *path)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "%.500s: %s", path, reason);
	if (o != NULL && o->warn != NULL)
		o->warn(o->warn_ctx, msg);
}

static int put_entry_head(pqx_buf *b, uint8_t kind, const char *path, const struct stat *sb)
{
	int r;

	if ((r = pqx_buf_put_u8(b, kind)) != 0 || (r = put_str(b, path, strlen(path))) != 0 ||
	    (r = pqx_buf_put_u32(b, (uint32_t)(sb->st_mode & 07777))) != 0 ||
	    (r = pqx_buf_put_u64(b, (uint64_t)sb->st_mtim.tv_sec)) != 0)
		return r;
	return pqx_buf_put_u32(b, (uint32_t)sb->st_mtim.tv_nsec);
}

/* Reads the receiver's HAVE messages for a file of nblocks blocks. */
static int read_have(struct sender *s, uint64_t nblocks, int *skip)
{
	pqx_buf v;
	uint8_t state, more = 1;
	uint32_t count, blk;
	int r;

	*skip = 0;
	memset(s->have_set, 0, nblocks);
	while (more) {
		if ((r = expect(s->ch, &v, K_HAVE)) != 0)
			return r;
		if (pqx_buf_get_u8(&v, &state) != 0 || pqx_buf_get_u8(&v, &more) != 0 ||
		    pqx_buf_get_u32(&v, &count) != 0 || count > HAVE_PER_MSG || state > 1 || more > 1)
			return PQX_ERR_FORMAT;
		for (uint32_t i = 0; i < count; i++) {
			if (pqx_buf_get_u32(&v, &blk) != 0 || blk >= nblocks)
				return PQX_ERR_FORMAT;
			if (pqx_buf_get(&v, s->have + (size_t)blk * 32, 32) != 0)
				return PQX_ERR_FORMAT;
			s->have_set[blk] = 1;
		}
		if (pqx_buf_expect_end(&v) != 0)
			return PQX_ERR_FORMAT;
		*skip = state == 1;
	}
	return 0;
}

static int send_file(struct sender *s, int fd, const char *path, const struct stat *sb)
{
	uint64_t size = (uint64_t)sb->st_size, nblocks = (size + XFER_BLOCK_BYTES - 1) / XFER_BLOCK_BYTES;
	uint8_t *hashes = NULL, file_hash[32];
	pqx_buf v;
	int skip, r;

	if (nblocks > UINT32_MAX)
		return PQX_ERR_LIMIT;
	if ((r = put_entry_head(s->b, K_FILE, path, sb)) != 0 ||
	    (r = pqx_buf_put_u64(s->b, size)) != 0 || (r = send_buf(s->ch, s->b)) != 0)
		return r;
	/* HAVE arrays for this file (grown as needed). */
	pqx_free(s->have);
	pqx_free(s->have_set);
	s->have = pqx_malloc((size_t)(nblocks ? nblocks : 1) * 32);
	s->have_set = pqx_malloc((size_t)(nblocks ? nblocks : 1));
	hashes = pqx_malloc((size_t)(nblocks ? nblocks : 1) * 32);
	if (s->have == NULL || s->have_set == NULL || hashes == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if ((r = read_have(s, nblocks, &skip)) != 0)
		goto out;
	s->st->files++;
	s->st->bytes += size;
	if (skip) {
		s->st->skipped++;
		goto out;
	}
	for (uint64_t i = 0; i < nblocks; i++) {
		size_t want = (size_t)(i + 1 < nblocks ? XFER_BLOCK_BYTES : size - i * XFER_BLOCK_BYTES);
		size_t got = 0;

		while (got < want) {
			ssize_t k = pread(fd, s->block + 5 + got, want - got, (off_t)(i * XFER_BLOCK_BYTES + got));

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r = k == 0 ? PQX_ERR_TRUNCATED : PQX_ERR_IO;
				goto out;
			}
			got += (size_t)k;
		}
		if ((r = pqx_sha256(hashes + i * 32, s->block + 5, want)) != 0)
			goto out;
		if (s->have_set[i] && memcmp(s->have + i * 32, hashes + i * 32, 32) == 0) {
			s->st->blocks_reused++;
		} else {
			s->block[0] = K_BLOCK;
			pqx_store32_be(s->block + 1, (uint32_t)i);
			if ((r = pqx_channel_send(s->ch, PQX_RECORD_DATA, s->block, 5 + want)) != 0)
				goto out;
			s->st->bytes_moved += want;
		}
		if (s->o != NULL && s->o->progress != NULL)
			s->o->progress(s->o->progress_ctx, s->st->bytes - size + i * XFER_BLOCK_BYTES + want,
			    s->st->bytes_moved);
	}
	/* The file hash: SHA-256 over the block hashes, so nothing is read twice. */
	if ((r = pqx_sha256(file_hash, hashes, (size_t)nblocks * 32)) != 0 ||
	    (r = pqx_buf_put_u8(s->b, K_FILE_END)) != 0 || (r = pqx_buf_put(s->b, file_hash, 32)) != 0 ||
	    (r = send_buf(s->ch, s->b)) != 0 || (r = expect(s->ch, &v, K_FILE_OK)) != 0)
		goto out;
	r = 0;
out:
	pqx_free(hashes);
	return r;
}

static int send_entry(struct sender *s, int dirfd, const char *name, const char *path, int depth);

static int send_dir(struct sender *s, int fd, const char *path, int depth)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL, child[XFER_MAX_PATH + 2];
	size_t n = 0, cap = 0;
	int r = 0;

	if ((d = fdopendir(dup(fd))) == NULL)
		return PQX_ERR_IO;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));

			if (nn == NULL) {
				r = PQX_ERR_NOMEM;
				break;
			}
			names = nn;
		}
		if ((names[n] = strdup(e->d_name)) == NULL) {
			r = PQX_ERR_NOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, names[i]) >= sizeof(child)) {
			warn(s->o, "skipped: path too long", names[i]);
			continue;
		}
		r = send_entry(s, fd, names[i], child, depth + 1);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

static int send_entry(struct sender *s, int dirfd, const char *name, const char *path, int depth)
{
	struct stat sb;
	char target[XFER_MAX_PATH + 1];
	ssize_t tl;
	int fd, r;

	if (depth > 256)
		return PQX_ERR_LIMIT;
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		warn(s->o, "skipped: can't stat it", path);
		return 0;
	}
	if (S_ISREG(sb.st_mode)) {
		if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			warn(s->o, "skipped: can't open it", path);
			return 0;
		}
		r = send_file(s, fd, path, &sb);
		close(fd);
		return r;
	}
	if (S_ISDIR(sb.st_mode)) {
		if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			warn(s->o, "skipped: can't open the directory", path);
			return 0;
		}
		s->st->dirs++;
		if ((r = put_entry_head(s->b, K_DIR, path, &sb)) == 0 && (r = send_buf(s->ch, s->b)) == 0)
			r = send_dir(s, fd, path, depth);
		close(fd);
		return r;
	}
	if (S_ISLNK(sb.st_mode)) {
		if ((tl = readlinkat(dirfd, name, target, sizeof(target) - 1)) <= 0) {
			warn(s->o, "skipped: can't read the link", path);
			return 0;
		}
		target[tl] = '\0';
		s->st->links++;
		if ((r = put_entry_head(s->b, K_SYMLINK, path, &sb)) != 0 ||
		    (r = put_str(s->b, target, (size_t)tl)) != 0)
			return r;
		return send_buf(s->ch, s->b);
	}
	warn(s->o, "skipped: not a regular file, directory or symbolic link", path);
	return 0;
}

/* The name an argument travels under: its last component ("a/b/" -> "b"). */
static int entry_name(const char *arg, char *out, size_t cap)
{
	size_t n = strlen(arg);
	const char *p;

	while (n > 1 && arg[n - 1] == '/')
		n--;
	for (p = arg + n; p > arg && p[-1] != '/'; p--)
		;
	n = (size_t)(arg + n - p);
	if (n == 0 || n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return xfer_path_ok(out, n) ? 0 : -1;
}

int xfer_send(pqx_channel *ch, int basefd, const char *const *names, size_t n, int confined,
    const struct xfer_opts *o, struct xfer_stats *st)
{
	struct sender s;
	char name[XFER_MAX_NAME + 1];
	int r = 0;

	memset(&s, 0, sizeof(s));
	s.ch = ch;
	s.o = o;
	s.st = st;
	s.confined = confined;
	if ((s.b = pqx_buf_new(MSG_MAX)) == NULL || (s.block = pqx_malloc(5 + XFER_BLOCK_BYTES)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		char parent[XFER_MAX_PATH + 1];
		const char *slash;
		int pfd = basefd;

		if (entry_name(names[i], name, sizeof(name)) != 0) {
			r = PQX_ERR_INVALID_ARG;
			break;
		}
		/* Resolve the parent ("a/b/" -> "a"): confined senders walk it without following links. */
		{
			size_t e = strlen(names[i]);

			while (e > 1 && names[i][e - 1] == '/')
				e--;
			slash = memrchr(names[i], '/', e);
		}
		if (slash != NULL && slash != names[i]) {
			size_t pn = (size_t)(slash - names[i]);

			if (pn >= sizeof(parent)) {
				r = PQX_ERR_LIMIT;
				break;
			}
			memcpy(parent, names[i], pn);
			parent[pn] = '\0';
			pfd = confined ? xfer_open_dir(basefd, parent, 0)
				       : openat(basefd, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		} else if (slash == names[i]) {
			pfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		}
		if (pfd < 0 && pfd != basefd) {
			r = PQX_ERR_IO;
			break;
		}
		if (strcmp(names[i], name) != 0 && strchr(names[i], '/') == NULL)
			r = PQX_ERR_INVALID_ARG;
		else
			r = send_entry(&s, pfd, name, name, 0);
		if (pfd != basefd)
			close(pfd);
	}
	if (r == 0 && (r = pqx_buf_put_u8(s.b, K_END)) == 0 && (r = send_buf(ch, s.b)) == 0 &&
	    (r = pqx_buf_put_u8(s.b, K_DONE)) == 0 && (r = pqx_buf_put_u64(s.b, st->files)) == 0 &&
	    (r = pqx_buf_put_u64(s.b, st->bytes)) == 0)
		r = send_buf(ch, s.b);
	if (r == PQX_ERR_IO && pqx_channel_write_failed(ch)) {
		/* The receiver hung up: its error record, if it sent one, says why. */
		const uint8_t *d;
		size_t dlen;

		if (pqx_channel_recv(ch, &d, &dlen) == PQX_ERR_PEER_ERROR)
			r = PQX_ERR_PEER_ERROR;
	}
out:
	pqx_buf_free(s.b);
	pqx_free(s.block);
	pqx_free(s.have);
	pqx_free(s.have_set);
	return r;
}

/* ---- receiver ---- */

struct dirmeta {
	char *path;
	uint32_t mode;
	struct timespec mtime;
};

struct receiver {
	pqx_channel *ch;
	int root;
	pqx_buf *b;
	struct dirmeta *dirs;
	size_t ndirs, capdirs;
	const struct xfer_opts *o;
	struct xfer_stats *st;
	char *error; /* what to tell the peer */
};

static int fail_peer(struct receiver *rv, int code, const char *msg)
{
	int e = errno; /* why, for our own report (sending may change errno) */

	xfer_refuse(rv->ch, msg);
	errno = e;
	return code;
}

/* Writes all n bytes at off, or -1 with errno (a short write is a full disk). */
static int pwrite_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = ENOSPC;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		off += (off_t)k;
	}
	return 0;
}

static int have_send(struct receiver *rv, uint8_t state, const uint8_t *hashes,
    const uint8_t *held, uint64_t nblocks)
{
	uint64_t i = 0;
	int r;

	do {
		uint32_t count = 0;
		uint64_t j;
		size_t pos;

		if ((r = pqx_buf_put_u8(rv->b, K_HAVE)) != 0 || (r = pqx_buf_put_u8(rv->b, state)) != 0 ||
		    (r = pqx_buf_put_u8(rv->b, 0)) != 0)
			return r;
		pos = pqx_buf_len(rv->b) - 1; /* the "more" byte */
		if ((r = pqx_buf_put_u32(rv->b, 0)) != 0)
			return r;
		for (j = i; j < nblocks && count < HAVE_PER_MSG; j++) {
			if (!held[j])
				continue;
			if ((r = pqx_buf_put_u32(rv->b, (uint32_t)j)) != 0 ||
			    (r = pqx_buf_put(rv->b, hashes + j * 32, 32)) != 0)
				return r;
			count++;
		}
		i = j;
		/* Patch "more" and the count in place. */
		{
			uint8_t *p = (uint8_t *)(uintptr_t)pqx_buf_ptr(rv->b);

			p[pos] = (uint8_t)(i < nblocks ? 1 : 0);
			pqx_store32_be(p + pos + 1, count);
		}
		if ((r = send_buf(rv->ch, rv->b)) != 0)
			return r;
	} while (i < nblocks);
	return 0;
}

static int read_entry_head(pqx_buf *v, char *path, uint32_t *mode, struct timespec *mt)
{
	size_t len;
	uint64_t sec;
	uint32_t nsec;

	if (get_str(v, path, XFER_MAX_PATH, &len) != 0 || pqx_buf_get_u32(v, mode) != 0 ||
	    pqx_buf_get_u64(v, &sec) != 0 || pqx_buf_get_u32(v, &nsec) != 0 || nsec >= 1000000000u ||
	    sec > (uint64_t)INT64_MAX)
		return PQX_ERR_FORMAT;
	if (!xfer_path_ok(path, len))
		return PQX_ERR_INVALID_ARG;
	*mode &= 07777;
	*mode &= (uint32_t)~(S_ISUID | S_ISGID); /* never take set-id bits from a peer */
	mt->tv_sec = (time_t)sec;
	mt->tv_nsec = (long)nsec;
	return 0;
}

/*
 * Starts (does not wait for) the writeback of a file's dirty pages, so that
 * the disk writes while blocks are still arriving and the fsync before the
 * rename finds little left to do. Errors show up in that fsync.
 */
static void writebehind(int fd)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;
#endif
}

static int recv_file(struct receiver *rv, pqx_buf *v)
{
	char path[XFER_MAX_PATH + 1], parent[XFER_MAX_PATH + 1], part[XFER_MAX_NAME + 16];
	const char *last;
	uint32_t mode;
	struct timespec mt, times[2];
	uint64_t size, nblocks, psize, got_blocks = 0, unsynced = 0;
	uint8_t *hashes = NULL, *held = NULL, *block = NULL, file_hash[32], want[32], kind;
	struct stat sb;
	int dfd = -1, fd = -1, r;

	if ((r = read_entry_head(v, path, &mode, &mt)) != 0 || (r = pqx_buf_get_u64(v, &size)) != 0 ||
	    pqx_buf_expect_end(v) != 0)
		return fail_peer(rv, r ? r : PQX_ERR_FORMAT, "invalid file entry");
	nblocks = (size + XFER_BLOCK_BYTES - 1) / XFER_BLOCK_BYTES;
	if (nblocks > UINT32_MAX || split_path(path, parent, sizeof(parent), &last) != 0)
		return fail_peer(rv, PQX_ERR_LIMIT, "file too large");
	if ((dfd = xfer_open_dir(rv->root, parent, 1)) < 0)
		return fail_peer(rv, PQX_ERR_IO, "can't open the target directory");
	if ((size_t)snprintf(part, sizeof(part), ".%.255s.pqx-part", last) >= sizeof(part)) {
		r = fail_peer(rv, PQX_ERR_LIMIT, "file name too long");
		goto out;
	}
	rv->st->files++;
	rv->st->bytes += size;
	/* The quick check: same size and modification time means the same file. */
	if (fstatat(dfd, last, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
	    (uint64_t)sb.st_size == size && sb.st_mtim.tv_sec == mt.tv_sec &&
	    sb.st_mtim.tv_nsec == mt.tv_nsec) {
		rv->st->skipped++;
		r = have_send(rv, 1, NULL, NULL, 0);
		goto out;
	}
	if ((fd = openat(dfd, part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	    fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		r = fail_peer(rv, PQX_ERR_IO, "can't create the file");
		goto out;
	}
	psize = (uint64_t)sb.st_size;
	/*
	 * A file that can't fit is refused now, while the sender listens for
	 * HAVE: once it streams blocks, a receiver that gives up is only a
	 * connection reset to it.
	 */
	{
		struct statvfs vs;
		uint64_t need = size > psize ? size - psize : 0;

		if (fstatvfs(fd, &vs) == 0 && vs.f_frsize > 0 &&
		    need / (uint64_t)vs.f_frsize > (uint64_t)vs.f_bavail) {
			errno = ENOSPC;
			r = fail_peer(rv, PQX_ERR_IO, "no space left on the receiver");
			goto out;
		}
	}
	/*
	 * Only now the per-block state, which the declared size decides: the
	 * check above bounds it by the free space (a peer declaring an
	 * exabyte file gets an error, not a huge allocation).
	 */
	hashes = pqx_calloc((size_t)(nblocks ? nblocks : 1), 32);
	held = pqx_calloc((size_t)(nblocks ? nblocks : 1), 1);
	block = pqx_malloc(XFER_BLOCK_BYTES);
	if (hashes == NULL || held == NULL || block == NULL) {
		r = fail_peer(rv, PQX_ERR_NOMEM, "out of memory on the receiver");
		goto out;
	}
	/* What an interrupted run left: hash every whole block already there. */
	for (uint64_t i = 0; i < nblocks; i++) {
		size_t bl = (size_t)(i + 1 < nblocks ? XFER_BLOCK_BYTES : size - i * XFER_BLOCK_BYTES);

		if ((i * XFER_BLOCK_BYTES) + bl > psize)
			break;
		if (pread(fd, block, bl, (off_t)(i * XFER_BLOCK_BYTES)) != (ssize_t)bl)
			break;
		if ((r = pqx_sha256(hashes + i * 32, block, bl)) != 0)
			goto out;
		held[i] = 1;
	}
	if ((r = have_send(rv, 0, hashes, held, nblocks)) != 0)
		goto out;
	for (;;) {
		uint32_t blk;
		size_t bl;

		if ((r = recv_msg(rv->ch, v, &kind)) != 0)
			goto out;
		if (kind == K_FILE_END)
			break;
		if (kind != K_BLOCK || pqx_buf_get_u32(v, &blk) != 0 || blk >= nblocks) {
			r = fail_peer(rv, PQX_ERR_FORMAT, "invalid block");
			goto out;
		}
		bl = (size_t)(blk + 1 < nblocks ? XFER_BLOCK_BYTES : size - (uint64_t)blk * XFER_BLOCK_BYTES);
		if (pqx_buf_len(v) != bl) {
			r = fail_peer(rv, PQX_ERR_FORMAT, "block of the wrong size");
			goto out;
		}
		if (pwrite_all(fd, pqx_buf_ptr(v), bl, (off_t)((uint64_t)blk * XFER_BLOCK_BYTES)) != 0) {
			r = fail_peer(rv, PQX_ERR_IO, errno == ENOSPC ? "no space left on the receiver"
								      : "write failed on the receiver");
			goto out;
		}
		if ((unsynced += bl) >= WRITEBEHIND_BYTES) {
			writebehind(fd);
			unsynced = 0;
		}
		if ((r = pqx_sha256(hashes + (size_t)blk * 32, pqx_buf_ptr(v), bl)) != 0)
			goto out;
		held[blk] = 1;
		got_blocks++;
		rv->st->bytes_moved += bl;
		if (rv->o != NULL && rv->o->progress != NULL)
			rv->o->progress(rv->o->progress_ctx, rv->st->bytes, rv->st->bytes_moved);
	}
	if (pqx_buf_get(v, want, 32) != 0 || pqx_buf_expect_end(v) != 0) {
		r = fail_peer(rv, PQX_ERR_FORMAT, "invalid file end");
		goto out;
	}
	for (uint64_t i = 0; i < nblocks; i++)
		if (!held[i]) {
			r = fail_peer(rv, PQX_ERR_FORMAT, "missing blocks");
			goto out;
		}
	rv->st->blocks_reused += nblocks - got_blocks;
	/* The whole file must be exactly what the sender hashed. */
	if ((r = pqx_sha256(file_hash, hashes, (size_t)nblocks * 32)) != 0)
		goto out;
	if (!pqx_ct_memeq(file_hash, want, 32)) {
		r = fail_peer(rv, PQX_ERR_AUTH, "file hash mismatch");
		goto out;
	}
	times[0] = mt;
	times[1] = mt;
	if (ftruncate(fd, (off_t)size) != 0 || fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0 ||
	    futimens(fd, times) != 0) {
		r = fail_peer(rv, PQX_ERR_IO, errno == ENOSPC ? "no space left on the receiver"
							      : "can't finish the file on the receiver");
		goto out;
	}
	if (fstatat(dfd, last, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
		r = fail_peer(rv, PQX_ERR_IO, "a directory is in the way");
		goto out;
	}
	if (renameat(dfd, part, dfd, last) != 0 || fsync(dfd) != 0) {
		r = fail_peer(rv, PQX_ERR_IO, "can't rename the file into place");
		goto out;
	}
	kind = K_FILE_OK;
	r = pqx_channel_send(rv->ch, PQX_RECORD_DATA, &kind, 1);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	pqx_free(hashes);
	pqx_free(held);
	pqx_free(block);
	return r;
}

static int recv_dir(struct receiver *rv, pqx_buf *v)
{
	char path[XFER_MAX_PATH + 1];
	uint32_t mode;
	struct timespec mt;
	int fd, r;

	if ((r = read_entry_head(v, path, &mode, &mt)) != 0 || pqx_buf_expect_end(v) != 0)
		return fail_peer(rv, r ? r : PQX_ERR_FORMAT, "invalid directory entry");
	if ((fd = xfer_open_dir(rv->root, path, 1)) < 0)
		return fail_peer(rv, PQX_ERR_IO, "can't create the directory");
	close(fd);
	if (rv->ndirs == rv->capdirs) {
		struct dirmeta *nd = realloc(rv->dirs, (rv->capdirs = rv->capdirs ? rv->capdirs * 2 : 16) * sizeof(*nd));

		if (nd == NULL)
			return PQX_ERR_NOMEM;
		rv->dirs = nd;
	}
	if ((rv->dirs[rv->ndirs].path = strdup(path)) == NULL)
		return PQX_ERR_NOMEM;
	rv->dirs[rv->ndirs].mode = mode;
	rv->dirs[rv->ndirs].mtime = mt;
	rv->ndirs++;
	rv->st->dirs++;
	return 0;
}

/*
 * A link target is kept only if, resolved from the link's directory, it
 * stays inside: relative, with its ".." components all at the start, each
 * leaving one of the real directories above the link (never the root of
 * the transfer). A ".." after a name leaves whatever that name is, and the
 * name may be a link: with s -> ".", "s/.." is the parent of the root.
 */
static int link_target_ok(const char *path, const char *target)
{
	int depth = 0, named = 0;
	const char *p;
	size_t n = strlen(target);

	if (n == 0 || target[0] == '/')
		return 0;
	for (p = path; *p != '\0'; p++)
		depth += *p == '/';
	for (p = target; *p != '\0';) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (named || --depth < 0)
				return 0;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			named = 1;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return 1;
}

static int recv_link(struct receiver *rv, pqx_buf *v)
{
	char path[XFER_MAX_PATH + 1], target[XFER_MAX_PATH + 1], parent[XFER_MAX_PATH + 1],
	    tmp[XFER_MAX_NAME + 16];
	const char *last;
	uint32_t mode;
	struct timespec mt, times[2];
	size_t tl;
	int dfd, r;

	if ((r = read_entry_head(v, path, &mode, &mt)) != 0 ||
	    get_str(v, target, XFER_MAX_PATH, &tl) != 0 || pqx_buf_expect_end(v) != 0 ||
	    memchr(target, '\0', tl) != NULL)
		return fail_peer(rv, r ? r : PQX_ERR_FORMAT, "invalid link entry");
	if (!link_target_ok(path, target)) {
		warn(rv->o, "symbolic link refused: its target leaves the transfer", path);
		return 0;
	}
	if (split_path(path, parent, sizeof(parent), &last) != 0 ||
	    (dfd = xfer_open_dir(rv->root, parent, 1)) < 0)
		return fail_peer(rv, PQX_ERR_IO, "can't open the target directory");
	snprintf(tmp, sizeof(tmp), ".%.255s.pqx-link", last);
	unlinkat(dfd, tmp, 0);
	if (symlinkat(target, dfd, tmp) != 0 || renameat(dfd, tmp, dfd, last) != 0) {
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return fail_peer(rv, PQX_ERR_IO, "can't create the symbolic link");
	}
	times[0] = mt;
	times[1] = mt;
	(void)utimensat(dfd, last, times, AT_SYMLINK_NOFOLLOW);
	close(dfd);
	rv->st->links++;
	return 0;
}

int xfer_receive(pqx_channel *ch, int dirfd, const struct xfer_opts *o, struct xfer_stats *st)
{
	struct receiver rv;
	pqx_buf v;
	uint8_t kind;
	uint64_t files, bytes;
	int r;

	memset(&rv, 0, sizeof(rv));
	rv.ch = ch;
	rv.root = dirfd;
	rv.o = o;
	rv.st = st;
	if ((rv.b = pqx_buf_new(MSG_MAX)) == NULL)
		return PQX_ERR_NOMEM;
	for (;;) {
		if ((r = recv_msg(ch, &v, &kind)) != 0)
			goto out;
		if (kind == K_FILE)
			r = recv_file(&rv, &v);
		else if (kind == K_DIR)
			r = recv_dir(&rv, &v);
		else if (kind == K_SYMLINK)
			r = recv_link(&rv, &v);
		else if (kind == K_END)
			break;
		else
			r = fail_peer(&rv, PQX_ERR_FORMAT, "unexpected message");
		if (r != 0)
			goto out;
	}
	/* Directory modes and times last, deepest first, once their contents are in. */
	for (size_t i = rv.ndirs; i-- > 0;) {
		struct timespec times[2] = { rv.dirs[i].mtime, rv.dirs[i].mtime };
		int fd = xfer_open_dir(dirfd, rv.dirs[i].path, 0);

		if (fd >= 0) {
			(void)fchmod(fd, (mode_t)(rv.dirs[i].mode | S_IRWXU));
			(void)futimens(fd, times);
			close(fd);
		}
	}
	if ((r = expect(ch, &v, K_DONE)) != 0)
		goto out;
	if (pqx_buf_get_u64(&v, &files) != 0 || pqx_buf_get_u64(&v, &bytes) != 0 ||
	    pqx_buf_expect_end(&v) != 0 || files != st->files || bytes != st->bytes) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	r = 0;
out:
	for (size_t i = 0; i < rv.ndirs; i++)
		free(rv.dirs[i].path);
	free(rv.dirs);
	pqx_buf_free(rv.b);
	return r;
}
