/* pqx: the transfer protocol: request, entries, paths; file contents are in content*.c. */
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
#include "transfer/xfer_int.h"
#include "util/buf.h"
#include "util/util.h"

/* ---- messages ---- */

int xfer_put_str(pqx_buf *b, const char *s, size_t n)
{
	int r;

	if (n > 65535)
		return PQX_ERR_LIMIT;
	if ((r = pqx_buf_put_u16(b, (uint16_t)n)) != 0)
		return r;
	return pqx_buf_put(b, s, n);
}

/* Reads a string field into out (NUL-terminated, at most max bytes). */
int xfer_get_str(pqx_buf *b, char *out, size_t max, size_t *len)
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

/*
 * REQUEST and ACCEPT: each alone in its record (the session's link begins
 * after them).
 */
static int send_one(pqx_channel *ch, const uint8_t *m, size_t n)
{
	uint8_t rec[3 + 4 + XFER_MAX_PATH];
	size_t hdr;
	int r;

	if (n == 0 || n > sizeof(rec) - 3)
		return PQX_ERR_INTERNAL;
	hdr = xfer_frame_put(rec, n);
	memcpy(rec + hdr, m, n);
	r = pqx_channel_send(ch, PQX_RECORD_DATA, rec, hdr + n);
	pqx_wipe(rec, hdr + n);
	return r;
}

static int recv_one(pqx_channel *ch, pqx_buf *v, uint8_t want)
{
	const uint8_t *d;
	size_t n, hdr, m;
	uint8_t kind;
	int r;

	if ((r = pqx_channel_recv(ch, &d, &n)) != 0)
		return r;
	if (xfer_frame_get(d, n, &hdr, &m) != 0 || m == 0 || hdr + m != n)
		return PQX_ERR_FORMAT;
	pqx_buf_view(v, d + hdr, m);
	return pqx_buf_get_u8(v, &kind) == 0 && kind == want ? 0 : PQX_ERR_FORMAT;
}

int xfer_request_only(pqx_channel *ch, enum xfer_op op, const char *path)
{
	pqx_buf *b = pqx_buf_new(4 + XFER_MAX_PATH);
	int r;

	if (b == NULL)
		return PQX_ERR_NOMEM;
	if ((r = pqx_buf_put_u8(b, K_REQUEST)) == 0 && (r = pqx_buf_put_u8(b, (uint8_t)op)) == 0 &&
	    (r = xfer_put_str(b, path, strlen(path))) == 0)
		r = send_one(ch, pqx_buf_ptr(b), pqx_buf_len(b));
	pqx_buf_free(b);
	return r;
}

int xfer_request(pqx_channel *ch, enum xfer_op op, const char *path, uint8_t key[XFER_KEY_BYTES])
{
	pqx_buf v;
	int r;

	if ((r = xfer_request_only(ch, op, path)) == 0 && (r = recv_one(ch, &v, K_ACCEPT)) == 0)
		r = pqx_buf_get(&v, key, XFER_KEY_BYTES) == 0 && pqx_buf_expect_end(&v) == 0 ? 0
											: PQX_ERR_FORMAT;
	return r;
}

int xfer_read_request(pqx_channel *ch, enum xfer_op *op, char path[XFER_MAX_PATH + 1])
{
	pqx_buf v;
	uint8_t o;
	size_t len;
	int r;

	if ((r = recv_one(ch, &v, K_REQUEST)) != 0)
		return r;
	if (pqx_buf_get_u8(&v, &o) != 0 || (o != XFER_SEND && o != XFER_GET) ||
	    xfer_get_str(&v, path, XFER_MAX_PATH, &len) != 0 || pqx_buf_expect_end(&v) != 0 ||
	    memchr(path, '\0', len) != NULL)
		return PQX_ERR_FORMAT;
	*op = (enum xfer_op)o;
	return 0;
}

int xfer_accept(pqx_channel *ch, const uint8_t key[XFER_KEY_BYTES])
{
	uint8_t m[1 + XFER_KEY_BYTES];
	int r;

	m[0] = K_ACCEPT;
	memcpy(m + 1, key, XFER_KEY_BYTES);
	r = send_one(ch, m, sizeof(m));
	pqx_wipe(m, sizeof(m));
	return r;
}

int xfer_pair_key(uint8_t key[XFER_KEY_BYTES], const uint8_t *server_seed, size_t seed_len,
    const uint8_t *client_pub, size_t pub_len)
{
	static const char label[] = "pqx chunking key";
	uint8_t k[32];
	int r;

	if ((r = pqx_hkdf_sha256(k, sizeof(k), NULL, 0, server_seed, seed_len,
		 (const uint8_t *)label, sizeof(label) - 1)) == 0)
		r = pqx_hmac_sha256(key, k, sizeof(k), client_pub, pub_len);
	pqx_wipe(k, sizeof(k));
	return r;
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

int xfer_name_reserved(const char *name)
{
	static const char *const suffix[] = { ".pqx-part", ".pqx-prev", ".pqx-link" };
	size_t n = strlen(name);

	for (size_t i = 0; name[0] == '.' && i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		size_t k = strlen(suffix[i]);

		if (n > k + 1 && memcmp(name + n - k, suffix[i], k) == 0)
			return 1;
	}
	return 0;
}

/* xfer_open_dir; *made (if not NULL): whether it made the last directory itself. */
static int open_dir(int dirfd, const char *rel, int create, int *made)
{
	char comp[XFER_MAX_NAME + 1];
	const char *p = rel;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (made != NULL)
		*made = 0;
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
		if (made != NULL)
			*made = 0;
		if (next < 0 && errno == ENOENT && create) {
			int ok = mkdirat(fd, comp, 0755) == 0;

			if (ok || errno == EEXIST)
				next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (made != NULL)
				*made = ok && next >= 0;
		}
		close(fd);
		fd = next;
		p += n;
		if (*p == '/')
			p++;
	}
	return fd;
}

int xfer_open_dir(int dirfd, const char *rel, int create)
{
	return open_dir(dirfd, rel, create, NULL);
}

int xfer_open_file(int dirfd, const char *rel)
{
	char parent[XFER_MAX_PATH + 1];
	const char *last;
	struct stat sb;
	int dfd, fd;

	if (xfer_split_path(rel, parent, sizeof(parent), &last) != 0 ||
	    (dfd = xfer_open_dir(dirfd, parent, 0)) < 0)
		return -1;
	fd = openat(dfd, last, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
	if (fd >= 0 && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Splits a valid peer path into its parent directory and last component. */
int xfer_split_path(const char *path, char *parent, size_t cap, const char **last)
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

/*
 * An entry's path, mode and time, as the next entry is told them: it keeps
 * up to 255 bytes of this path and says when the mode or time is the same.
 */
struct prev_entry {
	char path[XFER_MAX_PATH + 1];
	size_t len;
	uint32_t mode;
	struct timespec mt;
	int have;
};

/* Entry head bits: the mode, the mtime are the previous entry's. */
enum { SAME_MODE = 1, SAME_TIME = 2 };
#define KEEP_MAX 255u

struct sender {
	struct xfer_link *ln;
	struct prev_entry prev;
	pqx_buf *b;
	struct xfer_csend *cs;
	const struct xfer_opts *o;
	struct xfer_stats *st;
	int confined;
};

/* Tells the user about an entry left out: "PATH: REASON". */
void xfer_warn(const struct xfer_opts *o, const char *reason, const char *path)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "%.500s: %s", path, reason);
	if (o != NULL && o->warn != NULL)
		o->warn(o->warn_ctx, msg);
}

static int put_entry_head(struct sender *s, uint8_t kind, const char *path, const struct stat *sb)
{
	struct prev_entry *p = &s->prev;
	pqx_buf *b = s->b;
	size_t len = strlen(path), keep = 0;
	uint32_t mode = (uint32_t)(sb->st_mode & 07777);
	uint8_t same = 0;
	int r;

	if (len > XFER_MAX_PATH)
		return PQX_ERR_LIMIT;
	if (p->have) {
		while (keep < KEEP_MAX && keep < len && keep < p->len && path[keep] == p->path[keep])
			keep++;
		if (mode == p->mode)
			same |= SAME_MODE;
		if (sb->st_mtim.tv_sec == p->mt.tv_sec && sb->st_mtim.tv_nsec == p->mt.tv_nsec)
			same |= SAME_TIME;
	}
	if ((r = pqx_buf_put_u8(b, kind)) != 0 || (r = pqx_buf_put_u8(b, (uint8_t)keep)) != 0 ||
	    (r = xfer_put_str(b, path + keep, len - keep)) != 0 || (r = pqx_buf_put_u8(b, same)) != 0 ||
	    (!(same & SAME_MODE) && (r = pqx_buf_put_u16(b, (uint16_t)mode)) != 0) ||
	    (!(same & SAME_TIME) && ((r = pqx_buf_put_u64(b, (uint64_t)sb->st_mtim.tv_sec)) != 0 ||
					(r = pqx_buf_put_u32(b, (uint32_t)sb->st_mtim.tv_nsec)) != 0)))
		return r;
	memcpy(p->path, path, len + 1);
	p->len = len;
	p->mode = mode;
	p->mt = sb->st_mtim;
	p->have = 1;
	return 0;
}

/* again: a file the receiver asked for again (its blocks did not make it), counted already. */
static int send_file(struct sender *s, int fd, const char *path, const struct stat *sb, int again)
{
	int r;

	if ((r = put_entry_head(s, K_FILE, path, sb)) != 0 ||
	    (r = pqx_buf_put_u64(s->b, (uint64_t)sb->st_size)) != 0)
		return r;
	return xfer_csend_offer(s->cs, s->b, fd, path, sb, again);
}

/* Every file sent and answered, then those asked for again, whole. */
static int send_again(struct sender *s)
{
	struct stat sb;
	char *path;
	int fd, r = xfer_csend_finish(s->cs);

	while (r == 0 && xfer_csend_take_redo(s->cs, &fd, &path, &sb)) {
		if ((r = send_file(s, fd, path, &sb, 1)) == 0)
			r = xfer_csend_finish(s->cs);
		close(fd);
		free(path);
	}
	return r;
}

static int send_entry(struct sender *s, int dirfd, const char *name, const char *path, int depth);

/*
 * A directory's entries: its files and links first, then its directories
 * (as readdir tells them; one it can't tell goes with the files), so that
 * the receiver gets each directory's files in one run.
 */
static int send_dir(struct sender *s, int fd, const char *path, int depth)
{
	DIR *d;
	struct dirent *e;
	char **names = NULL, child[XFER_MAX_PATH + 2];
	uint8_t *isdir = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if ((d = fdopendir(dup(fd))) == NULL)
		return PQX_ERR_IO;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));
			uint8_t *nd = nn != NULL ? realloc(isdir, cap) : NULL;

			if (nn != NULL)
				names = nn;
			if (nd == NULL) {
				r = PQX_ERR_NOMEM;
				break;
			}
			isdir = nd;
		}
		if ((names[n] = strdup(e->d_name)) == NULL) {
			r = PQX_ERR_NOMEM;
			break;
		}
		isdir[n++] = e->d_type == DT_DIR;
	}
	closedir(d);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; r == 0 && i < n; i++) {
			if (isdir[i] != pass)
				continue;
			if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, names[i]) >= sizeof(child)) {
				xfer_warn(s->o, "skipped: path too long", names[i]);
				continue;
			}
			r = send_entry(s, fd, names[i], child, depth + 1);
		}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(isdir);
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
	if (xfer_name_reserved(name)) {
		xfer_warn(s->o, "skipped: pqx keeps this name for a file while it lands", path);
		return 0;
	}
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		xfer_warn(s->o, "skipped: can't stat it", path);
		return 0;
	}
	if (S_ISREG(sb.st_mode)) {
		if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			xfer_warn(s->o, "skipped: can't open it", path);
			return 0;
		}
		r = send_file(s, fd, path, &sb, 0);
		close(fd);
		return r;
	}
	if (S_ISDIR(sb.st_mode)) {
		if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			xfer_warn(s->o, "skipped: can't open the directory", path);
			return 0;
		}
		s->st->dirs++;
		if ((r = put_entry_head(s, K_DIR, path, &sb)) == 0 && (r = xfer_send_buf(s->ln, s->b)) == 0)
			r = send_dir(s, fd, path, depth);
		close(fd);
		return r;
	}
	if (S_ISLNK(sb.st_mode)) {
		if ((tl = readlinkat(dirfd, name, target, sizeof(target) - 1)) <= 0) {
			xfer_warn(s->o, "skipped: can't read the link", path);
			return 0;
		}
		target[tl] = '\0';
		s->st->links++;
		if ((r = put_entry_head(s, K_SYMLINK, path, &sb)) != 0 ||
		    (r = xfer_put_str(s->b, target, (size_t)tl)) != 0)
			return r;
		return xfer_send_buf(s->ln, s->b);
	}
	xfer_warn(s->o, "skipped: not a regular file, directory or symbolic link", path);
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
	int r = 0, closed = 0; /* our close went: no error record may follow it */

	memset(&s, 0, sizeof(s));
	s.o = o;
	s.st = st;
	s.confined = confined;
	if ((s.b = pqx_buf_new(MSG_MAX)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if ((r = xfer_link_new(&s.ln, ch)) != 0 || (r = xfer_csend_new(&s.cs, s.ln, o, st)) != 0)
		goto out;
	/* Two arguments of one name would land on one path (as cp, refuse). */
	for (size_t i = 0; i < n; i++) {
		char other[XFER_MAX_NAME + 1];

		for (size_t j = 0; j < i; j++)
			if (entry_name(names[i], name, sizeof(name)) == 0 &&
			    entry_name(names[j], other, sizeof(other)) == 0 && strcmp(name, other) == 0) {
				xfer_warn(o, "two of the paths to send have this name", name);
				r = PQX_ERR_INVALID_ARG;
				goto out;
			}
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
	if (r == 0)
		r = send_again(&s);
	if (r == 0 && (r = pqx_buf_put_u8(s.b, K_END)) == 0 && (r = xfer_send_buf(s.ln, s.b)) == 0 &&
	    (r = pqx_buf_put_u8(s.b, K_DONE)) == 0 && (r = pqx_buf_put_u64(s.b, st->files)) == 0 &&
	    (r = pqx_buf_put_u64(s.b, st->bytes)) == 0 && (r = xfer_send_buf(s.ln, s.b)) == 0)
		r = xfer_flush(s.ln);
	if (r == 0 && o->close != NULL && (r = o->close(ch)) == 0)
		closed = 1;
	if (r == 0 && (r = xfer_csend_drain(s.cs)) == 0)
		r = xfer_link_end(s.ln);
	if (r == PQX_ERR_IO && pqx_channel_write_failed(ch)) {
		/*
		 * The receiver hung up: its error record, if it sent one, says
		 * why. Answers to entries sent ahead may come before it.
		 */
		const uint8_t *d;
		size_t dlen;
		int e = 0;

		for (int i = 0; i < 65536 && e == 0; i++)
			e = pqx_channel_recv(ch, &d, &dlen);
		if (e == PQX_ERR_PEER_ERROR)
			r = PQX_ERR_PEER_ERROR;
	}
	/*
	 * Any other failure here (a malformed answer, a file that can't be
	 * read, no memory) gets a word to the receiver, a generic one (no
	 * secrets); not one the receiver sent, nor a change already reported.
	 */
	if (r != 0 && r != PQX_ERR_PEER_ERROR && r != PQX_ERR_CLOSED && r != PQX_ERR_CHANGED &&
	    !closed && !pqx_channel_write_failed(ch))
		(void)xfer_fail(s.ln, r, pqx_strerror(r));
out:
	pqx_buf_free(s.b);
	xfer_csend_free(s.cs);
	xfer_link_free(s.ln);
	return r;
}

/* ---- receiver ---- */

struct dirmeta {
	char *path;
	uint32_t mode;
	struct timespec mtime;
};

/*
 * The directory the last entry went into, kept open: a tree's files come
 * directory by directory. fresh: this session made it, so the receiver
 * does not look in it for old versions of a file (xfer_crecv_offer).
 */
struct dir_cache {
	char path[XFER_MAX_PATH + 1];
	int fd, fresh;
};

struct receiver {
	struct xfer_link *ln;
	struct prev_entry prev;
	struct dir_cache dc;
	int root;
	struct xfer_crecv *cr;
	struct dirmeta *dirs;
	size_t ndirs, capdirs;
	const struct xfer_opts *o;
	struct xfer_stats *st;
	char *error; /* what to tell the peer */
};

static int fail_peer(struct receiver *rv, int code, const char *msg)
{
	return xfer_fail(rv->ln, code, msg);
}

static int read_entry_head(struct receiver *rv, pqx_buf *v, char *path, uint32_t *mode,
    struct timespec *mt)
{
	struct prev_entry *p = &rv->prev;
	uint8_t keep, same;
	uint16_t m = 0;
	uint64_t sec = 0;
	uint32_t nsec = 0;
	size_t len;

	if (pqx_buf_get_u8(v, &keep) != 0 || keep > p->len ||
	    xfer_get_str(v, path + keep, XFER_MAX_PATH - keep, &len) != 0 ||
	    pqx_buf_get_u8(v, &same) != 0 || (same & ~(SAME_MODE | SAME_TIME)) != 0 ||
	    (same != 0 && !p->have) || (!(same & SAME_MODE) && pqx_buf_get_u16(v, &m) != 0) ||
	    (!(same & SAME_TIME) && (pqx_buf_get_u64(v, &sec) != 0 || pqx_buf_get_u32(v, &nsec) != 0 ||
					nsec >= 1000000000u || sec > (uint64_t)INT64_MAX)))
		return PQX_ERR_FORMAT;
	memcpy(path, p->path, keep);
	len += keep;
	if (!xfer_path_ok(path, len) || xfer_name_reserved(strrchr(path, '/') ? strrchr(path, '/') + 1 : path))
		return PQX_ERR_INVALID_ARG;
	memcpy(p->path, path, len + 1);
	p->len = len;
	if (!(same & SAME_MODE))
		p->mode = m & 07777u;
	if (!(same & SAME_TIME)) {
		p->mt.tv_sec = (time_t)sec;
		p->mt.tv_nsec = (long)nsec;
	}
	p->have = 1;
	/* never take set-id bits from a peer */
	*mode = p->mode & (uint32_t)~(S_ISUID | S_ISGID);
	*mt = p->mt;
	return 0;
}

/* The directory rel under the root, made if missing; the receiver's to close. */
static int rv_dir(struct receiver *rv, const char *rel, int *fresh)
{
	int fd, made;

	if (rv->dc.fd < 0 || strcmp(rv->dc.path, rel) != 0) {
		if ((fd = open_dir(rv->root, rel, 1, &made)) < 0)
			return -1;
		if (rv->dc.fd >= 0)
			close(rv->dc.fd);
		rv->dc.fd = fd;
		rv->dc.fresh = made;
		snprintf(rv->dc.path, sizeof(rv->dc.path), "%s", rel);
	}
	if (fresh != NULL)
		*fresh = rv->dc.fresh;
	return rv->dc.fd;
}

static int recv_file(struct receiver *rv, pqx_buf *v)
{
	char path[XFER_MAX_PATH + 1], parent[XFER_MAX_PATH + 1];
	const char *last;
	uint32_t mode;
	struct timespec mt;
	uint64_t size;
	int dfd, fresh, r;

	if ((r = read_entry_head(rv, v, path, &mode, &mt)) != 0 || (r = pqx_buf_get_u64(v, &size)) != 0)
		return fail_peer(rv, r ? r : PQX_ERR_FORMAT, "invalid file entry");
	if (size > (uint64_t)INT64_MAX || xfer_split_path(path, parent, sizeof(parent), &last) != 0)
		return fail_peer(rv, PQX_ERR_LIMIT, "file too large");
	if ((dfd = rv_dir(rv, parent, &fresh)) < 0)
		return fail_peer(rv, PQX_ERR_IO, "can't open the target directory");
	return xfer_crecv_offer(rv->cr, v, path, dfd, path + (last - path), fresh, size, mode, &mt);
}

static int recv_dir(struct receiver *rv, pqx_buf *v)
{
	char path[XFER_MAX_PATH + 1];
	uint32_t mode;
	struct timespec mt;
	int r;

	if ((r = read_entry_head(rv, v, path, &mode, &mt)) != 0 || pqx_buf_expect_end(v) != 0)
		return fail_peer(rv, r ? r : PQX_ERR_FORMAT, "invalid directory entry");
	if (rv_dir(rv, path, NULL) < 0)
		return fail_peer(rv, PQX_ERR_IO, "can't create the directory");
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

	if ((r = read_entry_head(rv, v, path, &mode, &mt)) != 0 ||
	    xfer_get_str(v, target, XFER_MAX_PATH, &tl) != 0 || pqx_buf_expect_end(v) != 0 ||
	    memchr(target, '\0', tl) != NULL)
		return fail_peer(rv, r ? r : PQX_ERR_FORMAT, "invalid link entry");
	if (!link_target_ok(path, target)) {
		xfer_warn(rv->o, "symbolic link refused: its target leaves the transfer", path);
		return 0;
	}
	if (xfer_split_path(path, parent, sizeof(parent), &last) != 0 ||
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
	rv.dc.fd = -1;
	rv.root = dirfd;
	rv.o = o;
	rv.st = st;
	if ((r = xfer_link_new(&rv.ln, ch)) != 0 || (r = xfer_crecv_new(&rv.cr, rv.ln, dirfd, o, st)) != 0)
		goto out;
	for (;;) {
		if ((r = xfer_recv_msg(rv.ln, &v, &kind)) != 0)
			goto out;
		if (kind == K_LIST || kind == K_BLOCKS || kind == K_DATA || kind == K_FILE_END) {
			/* The contents of the oldest file answered. */
			if ((r = xfer_crecv_body(rv.cr, &v)) != 0)
				goto out;
			continue;
		}
		/* Landed files go in place before a link or the end (a directory needs none of them). */
		if (kind != K_FILE && kind != K_DIR && (r = xfer_crecv_settle(rv.cr)) != 0)
			goto out;
		if (kind == K_FILE)
			r = recv_file(&rv, &v);
		else if (kind == K_DIR)
			r = recv_dir(&rv, &v);
		else if (kind == K_SYMLINK)
			r = recv_link(&rv, &v);
		else if (kind == K_END && xfer_crecv_left(rv.cr) > 0)
			r = fail_peer(&rv, PQX_ERR_FORMAT, "a file the receiver asked for did not come");
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
	if ((r = xfer_expect(rv.ln, &v, K_DONE)) != 0)
		goto out;
	if (pqx_buf_get_u64(&v, &files) != 0 || pqx_buf_get_u64(&v, &bytes) != 0 ||
	    pqx_buf_expect_end(&v) != 0 || files != st->files || bytes != st->bytes) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	if ((r = xfer_link_end(rv.ln)) == 0)
		r = o->close != NULL ? o->close(ch) : 0;
out:
	for (size_t i = 0; i < rv.ndirs; i++)
		free(rv.dirs[i].path);
	free(rv.dirs);
	if (rv.dc.fd >= 0)
		close(rv.dc.fd);
	xfer_crecv_free(rv.cr);
	xfer_link_free(rv.ln);
	return r;
}
