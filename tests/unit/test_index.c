/* pqx tests: the receiver's chunk index in src/transfer/index.c (SQLite, WAL). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "transfer/index.h"
#include "util/util.h"

#define ROOT XFER_SRC_ROOT
#define DICT XFER_SRC_DICT

/* Each case works in its own directory under /tmp, removed at the end. */
static char dir[64];
static char dbpath[128];

static int tmp_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/pqx-index-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		t_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/index.db", dir);
	return 0;
}

/* The case directories are flat: remove every entry, then the directory. */
static void tmp_cleanup(void)
{
	char p[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* A span id made from two numbers (distinct for distinct pairs). */
static void mkid(uint8_t id[XFER_INDEX_ID_BYTES], uint64_t a, uint64_t b)
{
	uint64_t z = a * 0x9e3779b97f4a7c15ULL ^ b;

	for (int i = 0; i < 4; i++) {
		z += 0x9e3779b97f4a7c15ULL;
		uint64_t x = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
		pqx_store64_le(id + 8 * i, x ^ (x >> 31));
	}
	/* (a, b) readable at the end; the index keys on the first 8 bytes, random as in real ids */
	pqx_store64_le(id + 16, a);
	pqx_store64_le(id + 24, b);
}

/* A made-up stat, distinct per n. */
static struct stat fake_stat(uint64_t n)
{
	struct stat sb;

	memset(&sb, 0, sizeof(sb));
	sb.st_size = (off_t)(1000 + n);
	sb.st_mtim.tv_sec = (time_t)(1700000000 + n);
	sb.st_mtim.tv_nsec = (long)(n % 1000000000);
	sb.st_ctim.tv_sec = (time_t)(1700000001 + n);
	sb.st_ctim.tv_nsec = 7;
	sb.st_ino = (ino_t)(5000 + n);
	sb.st_dev = (dev_t)42;
	return sb;
}

/* Indexes path with spans (a, 0..count-1) of 100 bytes each, in one transaction. */
static int put_file(xfer_index *ix, int src, const char *path, uint64_t a, int count)
{
	struct stat sb = fake_stat(a);
	uint8_t id[XFER_INDEX_ID_BYTES];
	int r;

	if ((r = xfer_index_begin(ix)) != 0)
		return r;
	if ((r = xfer_index_add_file(ix, src, path, &sb)) != 0)
		goto fail;
	for (int j = 0; j < count; j++) {
		mkid(id, a, (uint64_t)j);
		if ((r = xfer_index_add(ix, id, 100 * (uint64_t)j, 100)) != 0)
			goto fail;
	}
	return xfer_index_commit(ix);
fail:
	xfer_index_rollback(ix);
	return r;
}

/* Number of candidates for id (a, b); -1 on error. */
static int count_of(xfer_index *ix, uint64_t a, uint64_t b)
{
	struct xfer_span sp[4];
	uint8_t id[XFER_INDEX_ID_BYTES];
	size_t n;

	mkid(id, a, b);
	if (xfer_index_lookup(ix, id, sp, 4, &n) != 0)
		return -1;
	return (int)n;
}

/* Checks that id (a, b) has exactly the one candidate (src, path, off, len). */
static void check_one(xfer_index *ix, uint64_t a, uint64_t b, int src, const char *path,
    uint64_t off, uint64_t len)
{
	struct xfer_span sp[4];
	uint8_t id[XFER_INDEX_ID_BYTES];
	size_t n = 99;
	int r;

	mkid(id, a, b);
	r = xfer_index_lookup(ix, id, sp, 4, &n);
	CHECK(r == 0 && n == 1, "(%llu, %llu): r %d, %zu candidates", (unsigned long long)a,
	    (unsigned long long)b, r, n);
	if (r != 0 || n != 1)
		return;
	CHECK(sp[0].src == src && strcmp(sp[0].path, path) == 0 && sp[0].off == off &&
	        sp[0].len == len,
	    "(%llu, %llu): got %d %s %llu+%llu", (unsigned long long)a,
	    (unsigned long long)b, sp[0].src, sp[0].path, (unsigned long long)sp[0].off,
	    (unsigned long long)sp[0].len);
}

/* PRAGMA integrity_check through a connection of our own: 1 if "ok". */
static int integrity_ok(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int ok = 0, rows = 0;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		rows++;
		ok = rows == 1 && t != NULL && strcmp((const char *)t, "ok") == 0;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

static void test_add_lookup(void)
{
	xfer_index *ix = NULL;
	struct xfer_span sp[8];
	struct stat sb = fake_stat(1);
	uint8_t id[XFER_INDEX_ID_BYTES], shared[XFER_INDEX_ID_BYTES];
	size_t n;

	if (tmp_setup() != 0)
		return;
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	CHECK(xfer_index_empty(ix) == 1);
	CHECK(put_file(ix, ROOT, "a/b.bin", 1, 3) == 0);
	CHECK(xfer_index_empty(ix) == 0);
	CHECK(put_file(ix, DICT, "dict/x", 2, 2) == 0);
	check_one(ix, 1, 0, ROOT, "a/b.bin", 0, 100);
	check_one(ix, 1, 2, ROOT, "a/b.bin", 200, 100);
	check_one(ix, 2, 1, DICT, "dict/x", 100, 100);
	CHECK(count_of(ix, 1, 3) == 0, "unknown id");
	CHECK(count_of(ix, 3, 0) == 0, "unknown id");
	/* The same (src, path) in the other source is another file. */
	CHECK(xfer_index_file_current(ix, ROOT, "a/b.bin", &sb) == 1);
	CHECK(xfer_index_file_current(ix, DICT, "a/b.bin", &sb) == 0);
	CHECK(xfer_index_file_current(ix, ROOT, "a/b", &sb) == 0);
	/* A run id spanning the chunks at the same offset as the first one. */
	mkid(shared, 77, 77);
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, "run", &sb) == 0);
	mkid(id, 78, 0);
	CHECK(xfer_index_add(ix, id, 0, 100) == 0);
	CHECK(xfer_index_add(ix, shared, 0, 300) == 0);
	CHECK(xfer_index_add(ix, shared, 0, 300) == 0, "a duplicate is no error");
	CHECK(xfer_index_add(ix, shared, 1000, 300) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(xfer_index_lookup(ix, shared, sp, 8, &n) == 0 && n == 2);
	CHECK(n == 2 && sp[0].off == 1000 && sp[1].off == 0 && sp[1].len == 300);
	CHECK(xfer_index_lookup(ix, shared, sp, 1, &n) == 0 && n == 1, "max is kept");
	n = 5;
	CHECK(xfer_index_lookup(ix, shared, NULL, 0, &n) == 0 && n == 0);
	/* Everything survives closing and reopening. */
	xfer_index_close(ix);
	ix = NULL;
	CHECK(integrity_ok(dbpath));
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	check_one(ix, 1, 1, ROOT, "a/b.bin", 100, 100);
	check_one(ix, 2, 0, DICT, "dict/x", 0, 100);
	check_one(ix, 78, 0, ROOT, "run", 0, 100);
	CHECK(xfer_index_file_current(ix, ROOT, "a/b.bin", &sb) == 1);
	CHECK(xfer_index_empty(ix) == 0);
	CHECK(xfer_index_forget(ix, ROOT, "a/b.bin") == 0);
	CHECK(xfer_index_forget(ix, DICT, "dict/x") == 0);
	CHECK(xfer_index_forget(ix, ROOT, "run") == 0);
	CHECK(xfer_index_empty(ix) == 1, "all forgotten");
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

static void test_most_recent_first(void)
{
	static const char *const names[] = {"f1", "f2", "f3", "f4"};
	xfer_index *ix = NULL;
	struct xfer_span sp[8];
	struct stat sb = fake_stat(9);
	uint8_t id[XFER_INDEX_ID_BYTES];
	size_t n;

	if (tmp_setup() != 0)
		return;
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	mkid(id, 500, 500);
	for (int i = 0; i < 4; i++) {
		CHECK(xfer_index_begin(ix) == 0);
		CHECK(xfer_index_add_file(ix, i == 2 ? DICT : ROOT, names[i], &sb) == 0);
		CHECK(xfer_index_add(ix, id, 10 * (uint64_t)i, 5) == 0);
		CHECK(xfer_index_commit(ix) == 0);
	}
	CHECK(xfer_index_lookup(ix, id, sp, 8, &n) == 0 && n == 4);
	for (size_t i = 0; i < n && n == 4; i++)
		CHECK(strcmp(sp[i].path, names[3 - i]) == 0 && sp[i].off == 10 * (3 - i),
		    "%zu: %s", i, sp[i].path);
	CHECK(sp[1].src == DICT && sp[0].src == ROOT);
	/* Re-indexing f1 makes it the newest; forgetting the newest (whose id is
	 * the highest) must not let a later file take over its id. */
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, "f1", &sb) == 0);
	CHECK(xfer_index_add(ix, id, 1, 5) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(xfer_index_lookup(ix, id, sp, 8, &n) == 0 && n == 4);
	CHECK(n == 4 && strcmp(sp[0].path, "f1") == 0 && sp[0].off == 1 &&
	      strcmp(sp[1].path, "f4") == 0 && strcmp(sp[3].path, "f2") == 0);
	CHECK(xfer_index_forget(ix, ROOT, "f1") == 0);
	CHECK(put_file(ix, ROOT, "f5", 501, 1) == 0);
	CHECK(xfer_index_lookup(ix, id, sp, 8, &n) == 0 && n == 3);
	CHECK(n == 3 && strcmp(sp[0].path, "f4") == 0);
	CHECK(count_of(ix, 501, 0) == 1);
	/* Two spans of one id in one file are both candidates. */
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, "f6", &sb) == 0);
	CHECK(xfer_index_add(ix, id, 0, 5) == 0);
	CHECK(xfer_index_add(ix, id, 5, 5) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(xfer_index_lookup(ix, id, sp, 8, &n) == 0 && n == 5);
	CHECK(n == 5 && strcmp(sp[0].path, "f6") == 0 && strcmp(sp[1].path, "f6") == 0 &&
	      strcmp(sp[2].path, "f4") == 0);
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

static void test_forget_rename(void)
{
	xfer_index *ix = NULL;
	struct stat sb = fake_stat(30);
	uint8_t id[XFER_INDEX_ID_BYTES];

	if (tmp_setup() != 0)
		return;
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	CHECK(put_file(ix, ROOT, "a", 10, 5) == 0);
	CHECK(put_file(ix, ROOT, "b", 11, 5) == 0);
	CHECK(put_file(ix, DICT, "a", 12, 5) == 0);
	/* forget */
	CHECK(xfer_index_forget(ix, ROOT, "a") == 0);
	CHECK(count_of(ix, 10, 0) == 0 && count_of(ix, 10, 4) == 0);
	check_one(ix, 12, 0, DICT, "a", 0, 100);
	CHECK(xfer_index_forget(ix, ROOT, "a") == 0, "unknown: no error");
	CHECK(xfer_index_forget(ix, ROOT, "nothing/here") == 0);
	{
		struct stat s10 = fake_stat(10);

		CHECK(xfer_index_file_current(ix, ROOT, "a", &s10) == 0);
	}
	/* rename to a new name, recording a new stat */
	CHECK(xfer_index_rename(ix, ROOT, "b", "c/d", &sb) == 0);
	check_one(ix, 11, 3, ROOT, "c/d", 300, 100);
	CHECK(xfer_index_file_current(ix, ROOT, "c/d", &sb) == 1);
	CHECK(xfer_index_file_current(ix, ROOT, "b", &sb) == 0);
	/* rename over an indexed file replaces its rows */
	CHECK(put_file(ix, ROOT, "e", 13, 5) == 0);
	CHECK(xfer_index_rename(ix, ROOT, "c/d", "e", &sb) == 0);
	check_one(ix, 11, 0, ROOT, "e", 0, 100);
	CHECK(count_of(ix, 13, 0) == 0 && count_of(ix, 13, 4) == 0);
	/* rename of an unknown file over an indexed one drops the old rows */
	CHECK(put_file(ix, ROOT, "f", 14, 2) == 0);
	CHECK(xfer_index_rename(ix, ROOT, "ghost", "f", &sb) == 0);
	CHECK(count_of(ix, 14, 0) == 0 && count_of(ix, 14, 1) == 0);
	CHECK(xfer_index_file_current(ix, ROOT, "f", &sb) == 0);
	/* rename onto itself records the stat */
	CHECK(xfer_index_rename(ix, ROOT, "e", "e", &sb) == 0);
	check_one(ix, 11, 4, ROOT, "e", 400, 100);
	/* the source of a rename is its own namespace */
	CHECK(xfer_index_rename(ix, ROOT, "a", "x", &sb) == 0);
	check_one(ix, 12, 1, DICT, "a", 100, 100);
	/* forgetting the file being added stops its spans */
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, "g", &sb) == 0);
	mkid(id, 15, 0);
	CHECK(xfer_index_add(ix, id, 0, 1) == 0);
	CHECK(xfer_index_forget(ix, ROOT, "g") == 0);
	CHECK(xfer_index_add(ix, id, 1, 1) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(count_of(ix, 15, 0) == 0);
	/* a file renamed while being added keeps its spans under the new name */
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, "h.part", &sb) == 0);
	CHECK(xfer_index_add(ix, id, 0, 1) == 0);
	CHECK(xfer_index_rename(ix, ROOT, "h.part", "h", &sb) == 0);
	CHECK(xfer_index_add(ix, id, 1, 1) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(count_of(ix, 15, 0) == 2);
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

/* Writes n bytes of c to path (created or truncated). */
static int write_file(const char *path, int c, size_t n)
{
	char buf[256];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	memset(buf, c, sizeof(buf));
	ok = n <= sizeof(buf) && write(fd, buf, n) == (ssize_t)n;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* Indexes (ROOT, name) with the file's current stat. */
static void reindex(xfer_index *ix, const char *name, const char *path)
{
	struct stat sb;

	CHECK(stat(path, &sb) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, name, &sb) == 0);
	CHECK(xfer_index_file_current(ix, ROOT, name, &sb) == 1, "%s after indexing", name);
}

static void test_file_current(void)
{
	xfer_index *ix = NULL;
	struct stat sb, old, t;
	struct timespec ts[2], nap = {0, 2000000};
	char path[160], repl[160];

	if (tmp_setup() != 0)
		return;
	snprintf(path, sizeof(path), "%s/data", dir);
	snprintf(repl, sizeof(repl), "%s/data.new", dir);
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL || write_file(path, 'a', 100) != 0)
		goto out;
	CHECK(stat(path, &sb) == 0);
	CHECK(xfer_index_file_current(ix, ROOT, "data", &sb) == 0, "not indexed");
	reindex(ix, "data", path);

	/* Each field alone makes the file stale. */
	old = sb;
	t = old, t.st_size++;
	CHECK(xfer_index_file_current(ix, ROOT, "data", &t) == 0, "size");
	t = old, t.st_mtim.tv_nsec ^= 1;
	CHECK(xfer_index_file_current(ix, ROOT, "data", &t) == 0, "mtime ns");
	t = old, t.st_mtim.tv_sec++;
	CHECK(xfer_index_file_current(ix, ROOT, "data", &t) == 0, "mtime s");
	t = old, t.st_ctim.tv_nsec ^= 1;
	CHECK(xfer_index_file_current(ix, ROOT, "data", &t) == 0, "ctime");
	t = old, t.st_ino++;
	CHECK(xfer_index_file_current(ix, ROOT, "data", &t) == 0, "inode");
	t = old, t.st_dev++;
	CHECK(xfer_index_file_current(ix, ROOT, "data", &t) == 0, "device");
	t = old, t.st_atim.tv_sec++;
	CHECK(xfer_index_file_current(ix, ROOT, "data", &t) == 1, "atime is no change");

	/* The same through the file system. Size: */
	CHECK(write_file(path, 'b', 101) == 0);
	CHECK(stat(path, &sb) == 0);
	CHECK(xfer_index_file_current(ix, ROOT, "data", &sb) == 0, "grown");
	reindex(ix, "data", path);
	/* mtime, set explicitly, nothing else but ctime changing: */
	CHECK(stat(path, &old) == 0);
	ts[0].tv_sec = 0, ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = old.st_mtim;
	ts[1].tv_sec -= 1000;
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
	CHECK(stat(path, &sb) == 0);
	CHECK(xfer_index_file_current(ix, ROOT, "data", &sb) == 0, "touched mtime");
	reindex(ix, "data", path);
	/* ctime alone, by touching the metadata (the clock may be coarse, so
	 * try until it moves): */
	CHECK(stat(path, &old) == 0);
	for (int i = 0; i < 500; i++) {
		CHECK(chmod(path, i % 2 ? 0600 : 0644) == 0);
		CHECK(stat(path, &sb) == 0);
		if (sb.st_ctim.tv_sec != old.st_ctim.tv_sec ||
		    sb.st_ctim.tv_nsec != old.st_ctim.tv_nsec)
			break;
		nanosleep(&nap, NULL);
	}
	CHECK(sb.st_ctim.tv_nsec != old.st_ctim.tv_nsec ||
	    sb.st_ctim.tv_sec != old.st_ctim.tv_sec, "ctime did not move");
	CHECK(sb.st_size == old.st_size && sb.st_mtim.tv_sec == old.st_mtim.tv_sec &&
	    sb.st_mtim.tv_nsec == old.st_mtim.tv_nsec && sb.st_ino == old.st_ino);
	CHECK(xfer_index_file_current(ix, ROOT, "data", &sb) == 0, "chmod");
	reindex(ix, "data", path);
	/* inode: a file of the same size and mtime renamed over it */
	CHECK(stat(path, &old) == 0);
	CHECK(write_file(repl, 'b', 101) == 0);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = old.st_mtim;
	CHECK(utimensat(AT_FDCWD, repl, ts, 0) == 0);
	CHECK(rename(repl, path) == 0);
	CHECK(stat(path, &sb) == 0);
	CHECK(sb.st_ino != old.st_ino && sb.st_size == old.st_size &&
	    sb.st_mtim.tv_nsec == old.st_mtim.tv_nsec);
	CHECK(xfer_index_file_current(ix, ROOT, "data", &sb) == 0, "replaced");
	reindex(ix, "data", path);
	/* and a forgotten file is not current */
	CHECK(xfer_index_forget(ix, ROOT, "data") == 0);
	CHECK(xfer_index_file_current(ix, ROOT, "data", &sb) == 0, "forgotten");
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

static void test_rollback(void)
{
	xfer_index *ix = NULL;
	struct stat sb = fake_stat(20), s21 = fake_stat(21);
	uint8_t id[XFER_INDEX_ID_BYTES];

	if (tmp_setup() != 0)
		return;
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	CHECK(put_file(ix, ROOT, "kept", 21, 3) == 0);
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_begin(ix) == PQX_ERR_INVALID_ARG, "nested");
	CHECK(xfer_index_add_file(ix, ROOT, "new", &sb) == 0);
	for (uint64_t j = 0; j < 50; j++) {
		mkid(id, 20, j);
		CHECK(xfer_index_add(ix, id, j, 1) == 0);
	}
	CHECK(xfer_index_add_file(ix, ROOT, "kept", &sb) == 0, "re-index drops spans");
	CHECK(xfer_index_forget(ix, ROOT, "kept") == 0);
	CHECK(count_of(ix, 20, 7) == 0, "spans wait for the commit (sorted in at once)");
	CHECK(count_of(ix, 21, 0) == 0);
	xfer_index_rollback(ix);
	CHECK(count_of(ix, 20, 0) == 0 && count_of(ix, 20, 49) == 0);
	check_one(ix, 21, 2, ROOT, "kept", 200, 100);
	CHECK(xfer_index_file_current(ix, ROOT, "kept", &s21) == 1);
	CHECK(xfer_index_file_current(ix, ROOT, "new", &sb) == 0);
	/* The file of the rolled-back transaction is no more: add_file again. */
	CHECK(xfer_index_add(ix, id, 0, 1) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_commit(ix) == PQX_ERR_INVALID_ARG, "no transaction");
	xfer_index_rollback(ix); /* no transaction: a no-op */
	/* A file added in a committed transaction stays current across later
	 * transactions, rolled back or not (a receiver adds spans per window). */
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, "part", &sb) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(xfer_index_begin(ix) == 0);
	mkid(id, 22, 0);
	CHECK(xfer_index_add(ix, id, 0, 10) == 0);
	xfer_index_rollback(ix);
	CHECK(xfer_index_begin(ix) == 0);
	mkid(id, 22, 1);
	CHECK(xfer_index_add(ix, id, 10, 10) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	CHECK(count_of(ix, 22, 0) == 0);
	check_one(ix, 22, 1, ROOT, "part", 10, 10);
	/* After a reopen, too. */
	xfer_index_close(ix);
	ix = NULL;
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	CHECK(count_of(ix, 20, 0) == 0);
	check_one(ix, 21, 0, ROOT, "kept", 0, 100);
	/* Closing with a transaction open rolls it back. */
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_forget(ix, ROOT, "kept") == 0);
	xfer_index_close(ix);
	ix = NULL;
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	check_one(ix, 21, 1, ROOT, "kept", 100, 100);
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

static void test_args(void)
{
	xfer_index *ix = NULL;
	struct xfer_span *sp = NULL;
	struct stat sb = fake_stat(40);
	uint8_t id[XFER_INDEX_ID_BYTES] = {1};
	char *longp = NULL;
	size_t n;

	if (tmp_setup() != 0)
		return;
	CHECK(xfer_index_open(NULL, dbpath) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_open(&ix, NULL) == PQX_ERR_INVALID_ARG && ix == NULL);
	CHECK(xfer_index_open(&ix, "") == PQX_ERR_INVALID_ARG && ix == NULL);
	CHECK(xfer_index_open(&ix, "/nonexistent-dir-pqx/index.db") == PQX_ERR_IO &&
	    ix == NULL);
	CHECK(xfer_index_open(&ix, dir) == PQX_ERR_IO && ix == NULL, "a directory");
	/* A symlink is not followed (nor deleted). */
	CHECK(symlink("index.db", dbpath) == 0);
	CHECK(xfer_index_open(&ix, dbpath) == PQX_ERR_IO && ix == NULL, "a symlink");
	{
		struct stat ls;

		CHECK(lstat(dbpath, &ls) == 0 && S_ISLNK(ls.st_mode));
	}
	unlink(dbpath);
	xfer_index_close(NULL);
	xfer_index_rollback(NULL);
	CHECK(xfer_index_begin(NULL) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_lookup(NULL, id, NULL, 0, &n) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	longp = malloc(4098);
	sp = malloc(2 * sizeof(*sp));
	if (ix == NULL || longp == NULL || sp == NULL)
		goto out;
	CHECK(xfer_index_add(ix, id, 0, 1) == PQX_ERR_INVALID_ARG, "no file");
	CHECK(xfer_index_add_file(ix, 2, "a", &sb) == PQX_ERR_INVALID_ARG, "src");
	CHECK(xfer_index_add_file(ix, -1, "a", &sb) == PQX_ERR_INVALID_ARG, "src");
	CHECK(xfer_index_add_file(ix, ROOT, "", &sb) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_add_file(ix, ROOT, NULL, &sb) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_add_file(ix, ROOT, "a", NULL) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_file_current(ix, 5, "a", &sb) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_lookup(ix, id, NULL, 1, &n) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_lookup(ix, NULL, sp, 1, &n) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_lookup(ix, id, sp, 1, NULL) == PQX_ERR_INVALID_ARG);
	/* 4096 bytes is the longest path, and it comes back whole. */
	memset(longp, 'p', 4097);
	longp[4097] = '\0';
	CHECK(xfer_index_add_file(ix, ROOT, longp, &sb) == PQX_ERR_LIMIT);
	CHECK(xfer_index_file_current(ix, ROOT, longp, &sb) == PQX_ERR_LIMIT);
	CHECK(xfer_index_forget(ix, ROOT, longp) == PQX_ERR_LIMIT);
	CHECK(xfer_index_rename(ix, ROOT, "a", longp, &sb) == PQX_ERR_LIMIT);
	CHECK(xfer_index_rename(ix, ROOT, longp, "a", &sb) == PQX_ERR_LIMIT);
	longp[4096] = '\0';
	CHECK(xfer_index_add_file(ix, ROOT, longp, &sb) == 0);
	CHECK(xfer_index_add(ix, id, 0, 0) == PQX_ERR_INVALID_ARG, "empty span");
	CHECK(xfer_index_add(ix, NULL, 0, 1) == PQX_ERR_INVALID_ARG);
	CHECK(xfer_index_add(ix, id, (uint64_t)INT64_MAX + 1, 1) == PQX_ERR_LIMIT);
	CHECK(xfer_index_add(ix, id, (uint64_t)INT64_MAX, 1) == PQX_ERR_LIMIT);
	CHECK(xfer_index_add(ix, id, (uint64_t)INT64_MAX - 5, 5) == 0);
	CHECK(xfer_index_lookup(ix, id, sp, 2, &n) == 0 && n == 1);
	CHECK(n == 1 && strlen(sp[0].path) == 4096 && memcmp(sp[0].path, longp, 4096) == 0 &&
	    sp[0].off == (uint64_t)INT64_MAX - 5 && sp[0].len == 5);
	/* Bytes that are not UTF-8 are a path like any other. */
	CHECK(xfer_index_add_file(ix, DICT, "\xff\xfe/\x80", &sb) == 0);
	CHECK(xfer_index_add(ix, id, 3, 4) == 0);
	CHECK(xfer_index_lookup(ix, id, sp, 2, &n) == 0 && n == 2);
	CHECK(n == 2 && strcmp(sp[0].path, "\xff\xfe/\x80") == 0 && sp[0].src == DICT);
out:
	free(longp);
	free(sp);
	xfer_index_close(ix);
	tmp_cleanup();
}

/* Makes an index of 2000 spans in 20 files (several pages), closed. */
static int make_populated(void)
{
	xfer_index *ix = NULL;
	char name[32];
	int r;

	if ((r = xfer_index_open(&ix, dbpath)) != 0)
		return r;
	for (int i = 0; i < 20 && r == 0; i++) {
		snprintf(name, sizeof(name), "file%d", i);
		r = put_file(ix, ROOT, name, 100 + (uint64_t)i, 100);
	}
	xfer_index_close(ix);
	return r;
}

static off_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Overwrites [off, off + n) of path with bytes from t_rand, or with c >= 0. */
static int scribble(const char *path, off_t off, size_t n, int c)
{
	uint8_t *buf = malloc(n);
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok = 0;

	if (buf != NULL && fd >= 0) {
		if (c >= 0)
			memset(buf, c, n);
		else
			t_rand(buf, n);
		ok = pwrite(fd, buf, n, off) == (ssize_t)n;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return ok ? 0 : -1;
}

/* The index at dbpath opens, holds none of the old rows, and works. */
static void check_fresh(const char *what)
{
	xfer_index *ix = NULL;
	int r;

	r = xfer_index_open(&ix, dbpath);
	CHECK(r == 0, "%s: open: %d", what, r);
	if (ix == NULL)
		return;
	for (uint64_t i = 0; i < 20; i += 7)
		CHECK(count_of(ix, 100 + i, 5) == 0, "%s: old rows served", what);
	CHECK(put_file(ix, DICT, "after", 999, 10) == 0, "%s", what);
	check_one(ix, 999, 9, DICT, "after", 900, 100);
	xfer_index_close(ix);
	CHECK(integrity_ok(dbpath), "%s: integrity", what);
}

static void test_corrupt_on_open(void)
{
	off_t size;
	int fd;

	if (tmp_setup() != 0)
		return;
	/* Garbage from the first byte. */
	CHECK(make_populated() == 0);
	size = file_size(dbpath);
	CHECK(size > 8 * 4096, "the test needs several pages, has %lld",
	    (long long)size);
	CHECK(scribble(dbpath, 0, (size_t)size, -1) == 0);
	check_fresh("garbage");
	/* Garbage in the header only. */
	CHECK(make_populated() == 0);
	CHECK(scribble(dbpath, 16, 84, 0xa5) == 0);
	check_fresh("garbage header");
	/* Not a database at all. */
	unlink(dbpath);
	CHECK(write_file(dbpath, 'x', 200) == 0);
	check_fresh("a text file");
	unlink(dbpath);
	CHECK(write_file(dbpath, 'y', 7) == 0);
	check_fresh("a short file");
	/* Truncated: inside the header, after a page, mid-page, half. */
	static const off_t cut[] = {50, 4096, 4096 + 1000, -1};
	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		char what[48];

		CHECK(make_populated() == 0);
		size = file_size(dbpath);
		snprintf(what, sizeof(what), "truncated to %lld",
		    (long long)(cut[i] < 0 ? size / 2 : cut[i]));
		CHECK(truncate(dbpath, cut[i] < 0 ? size / 2 / 4096 * 4096 : cut[i]) == 0);
		check_fresh(what);
	}
	/* A stray -wal of garbage next to a good database. */
	CHECK(make_populated() == 0);
	{
		char wal[160];

		snprintf(wal, sizeof(wal), "%s-wal", dbpath);
		fd = open(wal, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		CHECK(scribble(wal, 0, 8192, -1) == 0);
	}
	{
		xfer_index *ix = NULL;

		CHECK(xfer_index_open(&ix, dbpath) == 0, "garbage wal is ignored");
		if (ix != NULL)
			check_one(ix, 105, 5, ROOT, "file5", 500, 100);
		xfer_index_close(ix);
	}
	tmp_cleanup();
}

/* Sets the schema version or adds a foreign table through our own connection. */
static int sql_exec(const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

static void test_wrong_version(void)
{
	if (tmp_setup() != 0)
		return;
	CHECK(make_populated() == 0);
	CHECK(sql_exec("PRAGMA user_version = 99") == 0);
	check_fresh("user_version 99");
	CHECK(make_populated() == 0);
	CHECK(sql_exec("PRAGMA user_version = 0") == 0);
	check_fresh("user_version 0 with tables");
	unlink(dbpath);
	CHECK(sql_exec("CREATE TABLE other (x); INSERT INTO other VALUES (1)") == 0);
	check_fresh("a foreign database");
	unlink(dbpath);
	CHECK(sql_exec("CREATE TABLE other (x); PRAGMA user_version = 1") == 0);
	check_fresh("our version, not our tables");
	CHECK(make_populated() == 0);
	CHECK(sql_exec("DROP TABLE spans") == 0);
	check_fresh("a table missing");
	tmp_cleanup();
}

/*
 * Corruption that only a later statement finds (the schema in page 1 is
 * intact, the b-trees are not): the call fails with PQX_ERR_FORMAT, the
 * index is rebuilt in place and works, and no old row is served.
 */
static void test_corrupt_later(void)
{
	xfer_index *ix = NULL;
	struct stat sb = fake_stat(50);
	uint8_t id[XFER_INDEX_ID_BYTES];
	off_t size;
	int r;

	if (tmp_setup() != 0)
		return;
	CHECK(make_populated() == 0);
	size = file_size(dbpath);
	CHECK(scribble(dbpath, 4096, (size_t)(size - 4096), 0xff) == 0);
	CHECK(xfer_index_open(&ix, dbpath) == 0, "the schema is readable");
	if (ix == NULL)
		goto out;
	mkid(id, 105, 5);
	{
		struct xfer_span sp[2];
		size_t n = 7;

		r = xfer_index_lookup(ix, id, sp, 2, &n);
		CHECK(r == PQX_ERR_FORMAT && n == 0, "lookup: %d, %zu", r, n);
	}
	CHECK(count_of(ix, 105, 5) == 0, "rebuilt, and empty");
	CHECK(put_file(ix, ROOT, "new", 60, 10) == 0);
	check_one(ix, 60, 3, ROOT, "new", 300, 100);
	xfer_index_close(ix);
	ix = NULL;
	CHECK(integrity_ok(dbpath));

	/* Found inside a transaction: the transaction is lost, updates fail
	 * until the rollback, and then everything works. */
	CHECK(make_populated() == 0);
	size = file_size(dbpath);
	CHECK(scribble(dbpath, 4096, (size_t)(size - 4096), 0xff) == 0);
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	CHECK(xfer_index_begin(ix) == 0);
	r = xfer_index_add_file(ix, ROOT, "file3", &sb);
	CHECK(r == PQX_ERR_FORMAT, "add_file: %d", r);
	CHECK(xfer_index_add_file(ix, ROOT, "x", &sb) == PQX_ERR_FORMAT, "tx lost");
	CHECK(xfer_index_forget(ix, ROOT, "x") == PQX_ERR_FORMAT, "tx lost");
	CHECK(xfer_index_commit(ix) == PQX_ERR_FORMAT, "commit reports it");
	CHECK(xfer_index_begin(ix) == 0);
	CHECK(xfer_index_add_file(ix, ROOT, "y", &sb) == 0);
	CHECK(xfer_index_add(ix, id, 0, 1) == 0);
	CHECK(xfer_index_commit(ix) == 0);
	check_one(ix, 105, 5, ROOT, "y", 0, 1);
	xfer_index_close(ix);
	ix = NULL;
	CHECK(integrity_ok(dbpath));
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

/*
 * kill -9 during updates. A child adds files of KILL_SPANS spans, one
 * transaction each (some also re-index an earlier file), and writes the
 * number of each file to a pipe once it committed; it is killed at a random
 * moment. Afterwards the database must be intact, hold every file the child
 * reported (and at most the one it committed but had no time to report),
 * each with all its spans, and no partial file nor stray span.
 */
#define KILL_SPANS 200
#define KILL_ROUNDS 6

static void kill_child(int round, int fd)
{
	xfer_index *ix = NULL;
	uint8_t id[XFER_INDEX_ID_BYTES];
	char path[32];

	if (xfer_index_open(&ix, dbpath) != 0)
		_exit(2);
	for (uint32_t k = 0;; k++) {
		uint32_t again = k / 2;
		struct stat sb = fake_stat(k);

		if (xfer_index_begin(ix) != 0)
			_exit(3);
		for (int pass = 0; pass < (k % 5 == 4 ? 2 : 1); pass++) {
			uint32_t f = pass == 0 ? k : again;

			snprintf(path, sizeof(path), "r%d/f%u", round, f);
			if (xfer_index_add_file(ix, ROOT, path, &sb) != 0)
				_exit(4);
			for (uint64_t j = 0; j < KILL_SPANS; j++) {
				mkid(id, (uint64_t)round << 32 | f, j);
				if (xfer_index_add(ix, id, j * 8192, 8192) != 0)
					_exit(5);
			}
		}
		if (xfer_index_commit(ix) != 0)
			_exit(6);
		if (write(fd, &k, sizeof(k)) != (ssize_t)sizeof(k))
			_exit(7);
	}
}

/* Checks the database after round `round`, where reported[r] files of round r
 * were reported committed. */
static void kill_verify(int round, const uint32_t *reported)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint32_t seen[KILL_ROUNDS] = {0};
	uint32_t maxk[KILL_ROUNDS] = {0};
	xfer_index *ix = NULL;
	int r, rows = 0;

	/* The index's own open first (it recovers from the WAL), then a look. */
	r = xfer_index_open(&ix, dbpath);
	CHECK(r == 0, "round %d: open: %d", round, r);
	if (ix == NULL)
		return;
	for (int rr = 0; rr <= round; rr++) {
		char path[32];

		if (reported[rr] == 0)
			continue;
		snprintf(path, sizeof(path), "r%d/f%u", rr, reported[rr] - 1);
		check_one(ix, (uint64_t)rr << 32 | (reported[rr] - 1), KILL_SPANS - 1, ROOT,
		    path, (KILL_SPANS - 1) * 8192, 8192);
		snprintf(path, sizeof(path), "r%d/f0", rr);
		check_one(ix, (uint64_t)rr << 32, 0, ROOT, path, 0, 8192);
	}
	xfer_index_close(ix);
	CHECK(integrity_ok(dbpath), "round %d: integrity_check", round);
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	        "SELECT f.path, (SELECT count(*) FROM spans AS s WHERE s.file = f.id)"
	        " FROM files AS f",
	        -1, &st, NULL) != SQLITE_OK) {
		CHECK(0, "round %d: sqlite3: %s", round, sqlite3_errmsg(db));
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *p = sqlite3_column_blob(st, 0);
		int plen = sqlite3_column_bytes(st, 0);
		char name[32];
		int rr;
		unsigned int k;

		snprintf(name, sizeof(name), "%.*s", plen, p != NULL ? p : "");
		rows++;
		CHECK(sscanf(name, "r%d/f%u", &rr, &k) == 2 && rr >= 0 && rr <= round,
		    "stray file %s", name);
		if (rr < 0 || rr > round)
			continue;
		CHECK(sqlite3_column_int64(st, 1) == KILL_SPANS,
		    "round %d: %s has %lld spans", round, name,
		    (long long)sqlite3_column_int64(st, 1));
		seen[rr]++;
		if (k + 1 > maxk[rr])
			maxk[rr] = k + 1;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (int rr = 0; rr <= round; rr++) {
		/* Files 0..seen-1, all there: reported, or one more. */
		CHECK(seen[rr] == maxk[rr], "round %d: gaps in r%d", round, rr);
		CHECK(seen[rr] == reported[rr] || seen[rr] == reported[rr] + 1,
		    "round %d: r%d has %u files, %u reported", round, rr, seen[rr],
		    reported[rr]);
	}
	if (sqlite3_prepare_v2(db,
	        "SELECT count(*) FROM spans WHERE file NOT IN (SELECT id FROM files)", -1,
	        &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		CHECK(sqlite3_column_int64(st, 0) == 0, "round %d: stray spans", round);
	else
		CHECK(0, "round %d: stray span count", round);
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (round == KILL_ROUNDS - 1)
		printf("# kill -9: %d files at the end\n", rows);
}

static void test_kill9(void)
{
	uint32_t reported[KILL_ROUNDS] = {0};

	if (tmp_setup() != 0)
		return;
	for (int round = 0; round < KILL_ROUNDS && t_case_failures() == 0; round++) {
		uint8_t rnd[2];
		uint32_t k, want, got = 0;
		struct timespec nap;
		int p[2], status = 0;
		pid_t pid;
		ssize_t m;

		t_rand(rnd, sizeof(rnd));
		want = 1 + rnd[0] % 30u;
		nap.tv_sec = 0;
		nap.tv_nsec = (long)(rnd[1] % 40u) * 1000000L;
		if (pipe(p) != 0) {
			CHECK(0, "pipe");
			break;
		}
		fflush(stdout);
		if ((pid = fork()) < 0) {
			CHECK(0, "fork");
			close(p[0]);
			close(p[1]);
			break;
		}
		if (pid == 0) {
			close(p[0]);
			kill_child(round, p[1]);
			_exit(1);
		}
		close(p[1]);
		/* Wait for `want` commits, then a few more milliseconds. */
		while (got < want && (m = read(p[0], &k, sizeof(k))) == (ssize_t)sizeof(k))
			got = k + 1;
		nanosleep(&nap, NULL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		/* What the child reported before it died. */
		while ((m = read(p[0], &k, sizeof(k))) == (ssize_t)sizeof(k))
			got = k + 1;
		close(p[0]);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "round %d: the child ended by itself (status %d)", round, status);
		CHECK(got >= want, "round %d: %u commits, wanted %u", round, got, want);
		reported[round] = got;
		kill_verify(round, reported);
	}
	tmp_cleanup();
}

/*
 * Several processes open one fresh index at the same moment (racing to
 * create it) and write to it in turns: none fails, nothing is lost.
 */
#define PROCS 4

static void test_processes(void)
{
	pid_t pids[PROCS];
	int gate[2], status;
	xfer_index *ix = NULL;
	char path[32];
	struct stat sb;

	if (tmp_setup() != 0)
		return;
	if (pipe(gate) != 0) {
		CHECK(0, "pipe");
		goto out;
	}
	fflush(stdout);
	for (int c = 0; c < PROCS; c++) {
		if ((pids[c] = fork()) == 0) {
			char b;
			int r = 0;

			close(gate[1]);
			if (read(gate[0], &b, 1) != 0)
				_exit(2);
			if ((r = xfer_index_open(&ix, dbpath)) != 0)
				_exit(10 - r); /* 10 + the error's number */
			for (int f = 0; f < 20 && r == 0; f++) {
				snprintf(path, sizeof(path), "p%d/f%d", c, f);
				r = put_file(ix, c % 2 ? DICT : ROOT, path,
				    (uint64_t)(c << 8 | f), 20);
			}
			xfer_index_close(ix);
			_exit(r == 0 ? 0 : 4);
		}
		CHECK(pids[c] > 0, "fork");
	}
	close(gate[0]);
	close(gate[1]); /* all go */
	for (int c = 0; c < PROCS; c++) {
		if (pids[c] <= 0)
			continue;
		while (waitpid(pids[c], &status, 0) < 0 && errno == EINTR)
			;
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "process %d: status %d", c, status);
	}
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	for (int c = 0; c < PROCS; c++)
		for (int f = 0; f < 20; f += 19) {
			snprintf(path, sizeof(path), "p%d/f%d", c, f);
			check_one(ix, (uint64_t)(c << 8 | f), 19, c % 2 ? DICT : ROOT, path,
			    1900, 100);
		}
	xfer_index_close(ix);
	ix = NULL;
	CHECK(integrity_ok(dbpath));
	/* Only its owner reads the list of the user's files. */
	CHECK(stat(dbpath, &sb) == 0 && (sb.st_mode & 0077) == 0, "mode %o",
	    (unsigned)sb.st_mode);
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

/*
 * By hand: test_index --bench [rows] [dir]. Inserts rows spans (files of
 * 256 spans, a transaction per 16 files), then looks up as many known ids
 * and as many unknown ones, in random order; prints the rates.
 */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(uint64_t rows, const char *where)
{
	xfer_index *ix = NULL;
	struct xfer_span *sp = malloc(8 * sizeof(*sp));
	uint8_t id[XFER_INDEX_ID_BYTES];
	uint64_t files = (rows + 255) / 256, hits = 0, x = 12345;
	char path[64];
	double t0, t1, t2, t3;
	size_t n;
	int r = 1;

	snprintf(dir, sizeof(dir), "%s/pqx-index-bench-XXXXXX", where);
	if (sp == NULL || mkdtemp(dir) == NULL)
		goto out;
	snprintf(dbpath, sizeof(dbpath), "%s/index.db", dir);
	if (xfer_index_open(&ix, dbpath) != 0)
		goto out;
	t0 = now();
	for (uint64_t f = 0, done = 0; f < files; f++) {
		struct stat sb = fake_stat(f);

		snprintf(path, sizeof(path), "dir%llu/file%llu", (unsigned long long)(f / 100),
		    (unsigned long long)f);
		if ((f % 16 == 0 && xfer_index_begin(ix) != 0) ||
		    xfer_index_add_file(ix, ROOT, path, &sb) != 0)
			goto out;
		for (uint64_t j = 0; j < 256 && done < rows; j++, done++) {
			mkid(id, f, j);
			if (xfer_index_add(ix, id, j * 8192, 8192) != 0)
				goto out;
		}
		if ((f % 16 == 15 || f + 1 == files) && xfer_index_commit(ix) != 0)
			goto out;
	}
	t1 = now();
	for (uint64_t i = 0; i < rows; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t v = (x >> 11) % rows;

		mkid(id, v / 256, v % 256);
		if (xfer_index_lookup(ix, id, sp, 8, &n) != 0)
			goto out;
		hits += n;
	}
	t2 = now();
	for (uint64_t i = 0; i < rows; i++) {
		mkid(id, (uint64_t)1 << 40 | i, 0);
		if (xfer_index_lookup(ix, id, sp, 8, &n) != 0 || n != 0)
			goto out;
	}
	t3 = now();
	printf("# index bench: %llu spans in %llu files: %.0f inserts/s (%.2f s)\n",
	    (unsigned long long)rows, (unsigned long long)files, (double)rows / (t1 - t0),
	    t1 - t0);
	printf("# lookups of known ids: %.0f/s (%.2f s, %llu found)\n",
	    (double)rows / (t2 - t1), t2 - t1, (unsigned long long)hits);
	printf("# lookups of unknown ids: %.0f/s (%.2f s)\n", (double)rows / (t3 - t2),
	    t3 - t2);
	xfer_index_close(ix);
	ix = NULL;
	printf("# database: %lld bytes (%.1f per span)\n", (long long)file_size(dbpath),
	    (double)file_size(dbpath) / (double)rows);
	r = hits == rows ? 0 : 1;
out:
	xfer_index_close(ix);
	free(sp);
	tmp_cleanup();
	return r;
}

/*
 * One transaction with the spans of a 3.8 GiB file (8 KiB chunks): what
 * waits for the commit must not be held in memory, or the receiver's
 * memory grows with the size of the file it streams. SQLite's allocations
 * peak at 19 MB here, within its page caches and sorter, for 300,000 or
 * 1,000,000 spans alike; with the staged spans in memory they took 35 MB
 * for these (68 MB for 1,000,000), and pqx serve grew by 11 MB a GiB.
 */
#define BIG_SPANS 500000
#define BIG_MEM_MAX (24u << 20)

static void test_big_transaction(void)
{
	xfer_index *ix = NULL;
	sqlite3_int64 high;

	/* Debian's SQLite counts its memory only when asked to, before it starts. */
	CHECK(sqlite3_shutdown() == SQLITE_OK &&
	    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 1) == SQLITE_OK &&
	    sqlite3_initialize() == SQLITE_OK);
	if (tmp_setup() != 0)
		return;
	CHECK(xfer_index_open(&ix, dbpath) == 0);
	if (ix == NULL)
		goto out;
	(void)sqlite3_memory_highwater(1);
	CHECK(put_file(ix, ROOT, "big", 9, BIG_SPANS) == 0);
	high = sqlite3_memory_highwater(1);
	CHECK(high < BIG_MEM_MAX, "SQLite's memory peaked at %lld bytes", (long long)high);
	CHECK(count_of(ix, 9, 0) == 1 && count_of(ix, 9, BIG_SPANS - 1) == 1 &&
	    count_of(ix, 9, BIG_SPANS / 2) == 1, "every span is there");
out:
	xfer_index_close(ix);
	tmp_cleanup();
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--bench") == 0)
		return bench(argc >= 3 ? strtoull(argv[2], NULL, 10) : 1000000,
		    argc >= 4 ? argv[3] : "/tmp");
	t_run("index add, lookup, reopen", test_add_lookup);
	t_run("index candidates most recently indexed first", test_most_recent_first);
	t_run("index forget and rename", test_forget_rename);
	t_run("index file_current: size, mtime, ctime, inode", test_file_current);
	t_run("index begin/rollback leaves nothing", test_rollback);
	t_run("index argument checks and the path limit", test_args);
	t_run("index corrupt or foreign file rebuilt on open", test_corrupt_on_open);
	t_run("index wrong schema version rebuilt on open", test_wrong_version);
	t_run("index corruption found later: rebuilt in place", test_corrupt_later);
	t_run("index kill -9 during updates keeps exactly the commits", test_kill9);
	t_run("index shared by several processes at once", test_processes);
	t_run("index transaction of 500,000 spans in bounded memory", test_big_transaction);
	return t_done();
}
