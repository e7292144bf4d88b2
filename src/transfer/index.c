/* pqx: the receiver's persistent chunk index in SQLite (WAL): id -> spans of held files. */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "transfer/index.h"
#include "util/util.h"

/*
 * SQLite is loaded when the first index opens, not at every start: only a
 * receiver (pqx serve, pqx get) keeps an index, and the library, linked
 * with BIND_NOW, cost every other command 0.25 ms to load here, a twentieth
 * of a small file's whole send. The soname is SQLite 3's everywhere.
 */
#define SQ_SONAME "libsqlite3.so.0"
#define SQ_FUNCS(X) \
	X(bind_blob) X(bind_int) X(bind_int64) X(busy_timeout) X(clear_bindings) \
	X(close_v2) X(column_blob) X(column_bytes) X(column_int64) X(column_text) \
	X(column_type) X(config) X(db_config) X(exec) X(extended_result_codes) \
	X(finalize) X(get_autocommit) X(last_insert_rowid) X(open_v2) X(prepare_v2) \
	X(prepare_v3) X(reset) X(sleep) X(step)
#define SQ_FIELD(f) __typeof__(sqlite3_##f) *f;
static struct {
	SQ_FUNCS(SQ_FIELD)
} sq;
static int sq_loaded;
static char sq_why[256];

/*
 * The schema. Bump IX_SCHEMA_VERSION (PRAGMA user_version) with any change:
 * a database of another version is deleted and created afresh.
 *
 * files.id is AUTOINCREMENT, so an id is never reused, not even after the
 * file with the highest id is forgotten: a span row can only ever belong to
 * the file it was added for, and "most recently indexed" is "highest file
 * id" (xfer_index_add_file gives a re-indexed file a new id).
 *
 * spans is WITHOUT ROWID with the id first in its key: a lookup is one
 * range scan of the table itself, walked backwards for the newest files
 * first, with no sort and no second b-tree to visit. spans_file serves the
 * deletes of a file's spans. Paths are BLOBs, so no byte of a path is ever
 * interpreted as text.
 *
 * A span's id column holds the first 8 bytes of the 32-byte id (ix_key):
 * rows a third the size make the sorted merge of a commit, which rewrites
 * the pages the new ids fall into, that much cheaper. A lookup may then
 * return spans of another id with the same prefix (by chance one in 2^64
 * per pair; ids are keyed, so no one can aim for it): the caller verifies
 * every span anyway and moves on to the next candidate.
 */
#define IX_SCHEMA_VERSION 3

static const char ix_schema[] =
    "CREATE TABLE files ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " src INTEGER NOT NULL,"
    " path BLOB NOT NULL,"
    " size INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL,"
    " ctime_ns INTEGER NOT NULL,"
    " ino INTEGER NOT NULL,"
    " dev INTEGER NOT NULL,"
    " cut INTEGER NOT NULL,"
    " UNIQUE (src, path));"
    "CREATE TABLE spans ("
    " id INTEGER NOT NULL,"
    " file INTEGER NOT NULL,"
    " off INTEGER NOT NULL,"
    " len INTEGER NOT NULL,"
    " PRIMARY KEY (id, file, off, len)) WITHOUT ROWID;"
    "CREATE INDEX spans_file ON spans (file);"
    "PRAGMA user_version = 3;";

#define IX_PATH_MAX 4096
#define IX_BUSY_MS 10000
/* Page cache per connection, KiB: the id b-tree is written at random. */
#define IX_CACHE_KIB 8192
#define IX_STR_(x) #x
#define IX_STR(x) IX_STR_(x)

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_FILE_STAT,
	ST_FILE_ID,
	ST_FILE_DEL,
	ST_SPANS_DEL,
	ST_FILE_INS,
	ST_FILE_MOVE,
	ST_SPAN_INS,
	ST_STAGE_INS,
	ST_STAGE_MERGE,
	ST_STAGE_CLEAR,
	ST_STAGE_DEL,
	ST_LOOKUP,
	ST_ANY_SPAN,
	ST_COUNT
};

static const char *const ix_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT ix_op",
    [ST_RELEASE] = "RELEASE ix_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO ix_op",
    [ST_FILE_STAT] = "SELECT size, mtime_ns, ctime_ns, ino, dev, cut FROM files"
                     " WHERE src = ?1 AND path = ?2",
    [ST_FILE_ID] = "SELECT id FROM files WHERE src = ?1 AND path = ?2",
    [ST_FILE_DEL] = "DELETE FROM files WHERE id = ?1",
    [ST_SPANS_DEL] = "DELETE FROM spans WHERE file = ?1",
    [ST_FILE_INS] = "INSERT INTO files (src, path, size, mtime_ns, ctime_ns, ino, dev, cut)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_FILE_MOVE] = "UPDATE files SET path = ?2, size = ?3, mtime_ns = ?4,"
                     " ctime_ns = ?5, ino = ?6, dev = ?7 WHERE id = ?1",
    [ST_SPAN_INS] = "INSERT OR IGNORE INTO spans (id, file, off, len)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [ST_STAGE_INS] = "INSERT INTO temp.stage (id, file, off, len) VALUES (?1, ?2, ?3, ?4)",
    [ST_STAGE_MERGE] = "INSERT OR IGNORE INTO spans (id, file, off, len)"
                       " SELECT id, file, off, len FROM temp.stage ORDER BY id, file, off, len",
    [ST_STAGE_CLEAR] = "DELETE FROM temp.stage",
    [ST_STAGE_DEL] = "DELETE FROM temp.stage WHERE file = ?1",
    [ST_LOOKUP] = "SELECT f.src, f.path, s.off, s.len FROM spans AS s"
                  " JOIN files AS f ON f.id = s.file WHERE s.id = ?1"
                  " ORDER BY s.file DESC, s.off DESC LIMIT ?2",
    [ST_ANY_SPAN] = "SELECT 1 FROM spans LIMIT 1",
};

/* Nothing here is secret: ids are keyed hashes, paths are the user's names. */
struct xfer_index {
	sqlite3 *db; /* NULL after a rebuild that failed: every call fails */
	sqlite3_stmt *st[ST_COUNT];
	char *path;    /* the database file */
	char *aux;     /* room for path + "-journal" */
	dev_t dev;     /* the file this connection opened: a rebuild */
	ino_t ino;     /* deletes only that one */
	int have_id;
	int in_tx;          /* between xfer_index_begin and commit/rollback */
	int tx_err;         /* the error that lost the caller's transaction */
	sqlite3_int64 cur;  /* the file of xfer_index_add_file; 0: none */
	int cut;            /* xfer_index_set_cut */
	int cur_in_tx;      /* cur was added in the caller's open transaction */
};

/*
 * The caller's transaction is over without committing: a file it added is
 * gone (and its id may come back: AUTOINCREMENT's counter rolls back too).
 */
static void ix_tx_lost(xfer_index *ix)
{
	if (ix->cur_in_tx)
		ix->cur = 0;
	ix->cur_in_tx = 0;
}

/* The first 8 bytes of an id, as SQLite's signed 64-bit integer. */
static sqlite3_int64 ix_key(const uint8_t id[XFER_INDEX_ID_BYTES])
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | id[i];
	return (sqlite3_int64)v; /* two's complement, as every target of this code */
}

static int ix_map(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_NOMEM:
		return PQX_ERR_NOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return PQX_ERR_FORMAT;
	case SQLITE_TOOBIG:
		return PQX_ERR_LIMIT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_PROTOCOL:
	case SQLITE_AUTH:
		return PQX_ERR_IO;
	default:
		return PQX_ERR_INTERNAL;
	}
}

static int ix_is_corrupt(int rc)
{
	return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

static void ix_disconnect(xfer_index *ix)
{
	if (!sq_loaded) /* then nothing was opened */
		return;
	for (size_t i = 0; i < ST_COUNT; i++) {
		sq.finalize(ix->st[i]);
		ix->st[i] = NULL;
	}
	sq.close_v2(ix->db);
	ix->db = NULL;
}

static void ix_unlink_suffix(xfer_index *ix, const char *suffix)
{
	snprintf(ix->aux, strlen(ix->path) + sizeof("-journal"), "%s%s", ix->path, suffix);
	/* A failure shows in the open that follows. */
	(void)unlink(ix->aux);
}

/*
 * Deletes the database and its -wal, -shm and -journal files, unless the
 * name now leads to another file than the one we opened: then another
 * process has rebuilt it already, and what is there is its fresh index.
 * The database goes last: a crash half-way must not leave an old log that
 * SQLite would replay into the next, fresh, database.
 */
static void ix_delete_files(xfer_index *ix)
{
	struct stat sb;

	if (ix->have_id && lstat(ix->path, &sb) == 0 &&
	    (sb.st_dev != ix->dev || sb.st_ino != ix->ino))
		return;
	ix_unlink_suffix(ix, "-wal");
	ix_unlink_suffix(ix, "-journal");
	ix_unlink_suffix(ix, "-shm");
	ix_unlink_suffix(ix, "");
	ix->have_id = 0;
}

/*
 * The schema version and the number of schema objects, read in one
 * statement, so in one read transaction: read apart, another process
 * creating the schema in between would make a fresh index look foreign.
 */
static int ix_read_version(sqlite3 *db, sqlite3_int64 *version, sqlite3_int64 *objects)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*version = *objects = 0;
	if ((rc = sq.prepare_v2(db,
	         "SELECT (SELECT user_version FROM pragma_user_version),"
	         " (SELECT count(*) FROM sqlite_schema)",
	         -1, &st, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sq.step(st)) == SQLITE_ROW) {
		*version = sq.column_int64(st, 0);
		*objects = sq.column_int64(st, 1);
		rc = SQLITE_OK;
	}
	sq.finalize(st);
	return rc;
}

/* Sets WAL mode, which is a property of the file and survives reopening. */
static int ix_set_wal(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int rc;

	if ((rc = sq.prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL)) !=
	    SQLITE_OK)
		return rc;
	/*
	 * On a fresh file two processes switching at once both hold a read
	 * lock and want the exclusive one: SQLite fails one at once, without
	 * the busy handler, to break the deadlock. It lets go of its read lock
	 * in doing so; wait a little and try again, for the busy timeout.
	 */
	for (int waited = 0;; waited += 10) {
		if ((rc = sq.step(st)) == SQLITE_ROW) {
			mode = sq.column_text(st, 0);
			/* A file system without shared memory refuses WAL. */
			rc = mode != NULL && strcmp((const char *)mode, "wal") == 0
			         ? SQLITE_OK
			         : SQLITE_CANTOPEN;
		}
		sq.reset(st);
		if ((rc & 0xff) != SQLITE_BUSY || waited >= IX_BUSY_MS)
			break;
		sq.sleep(10);
	}
	sq.finalize(st);
	return rc;
}

/*
 * One attempt at opening the database as it is. *bad is set when what is
 * there is not a usable index of this version (corrupt, not a database, a
 * foreign schema), i.e. when deleting it is the cure.
 */
/*
 * Loads SQLite, once a process. Its memory statistics take one process-wide
 * mutex on every allocation; a receiver's indexing thread runs at idle
 * priority and must not hold a lock that other sessions' threads wait for.
 * They can be turned off only before SQLite initializes (else
 * SQLITE_MISUSE, and they stay on).
 */
static void ix_configure(void)
{
	void *h = dlopen(SQ_SONAME, RTLD_NOW | RTLD_LOCAL);
	void *p;

	if (h == NULL) {
		snprintf(sq_why, sizeof(sq_why), "%s", dlerror());
		return;
	}
#define SQ_LOAD(f)                                                                       \
	if ((p = dlsym(h, "sqlite3_" #f)) == NULL) {                                     \
		snprintf(sq_why, sizeof(sq_why), "%s has no sqlite3_" #f, SQ_SONAME); \
		dlclose(h);                                                              \
		return;                                                                  \
	}                                                                                \
	memcpy(&sq.f, &p, sizeof(p));
	SQ_FUNCS(SQ_LOAD)
	(void)sq.config(SQLITE_CONFIG_MEMSTATUS, 0);
	sq_loaded = 1;
}

const char *xfer_index_unavailable(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, ix_configure);
	return sq_loaded ? NULL : sq_why;
}

static int ix_try_connect(xfer_index *ix, int *bad)
{
	sqlite3_int64 version, objects;
	struct stat sb;
	int rc, fd;

	*bad = 0;
	if (xfer_index_unavailable() != NULL)
		return PQX_ERR_UNSUPPORTED;
	/*
	 * Not secret, but the names of the user's files: created 0600 (SQLite
	 * would make it 0644), and its -wal and -shm files take its mode.
	 */
	if ((fd = open(ix->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	rc = sq.open_v2(ix->path, &ix->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
	        SQLITE_OPEN_NOFOLLOW,
	    NULL);
	if (rc != SQLITE_OK)
		goto fail;
	if (lstat(ix->path, &sb) == 0) {
		ix->dev = sb.st_dev;
		ix->ino = sb.st_ino;
		ix->have_id = 1;
	}
	sq.extended_result_codes(ix->db, 1);
	if ((rc = sq.busy_timeout(ix->db, IX_BUSY_MS)) != SQLITE_OK)
		goto fail;
	/* Reading a file someone else may have written: no schema tricks. */
	if ((rc = sq.db_config(ix->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL)) !=
	        SQLITE_OK ||
	    (rc = sq.db_config(ix->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL)) !=
	        SQLITE_OK)
		goto fail;
	/*
	 * Spans staged for a commit (temp.stage, below) and the sort that
	 * merges them go to an unlinked temporary file once they outgrow
	 * 2 MiB (SQLite's directory: $SQLITE_TMPDIR, $TMPDIR, else /var/tmp),
	 * so that a streamed file of any size is indexed in bounded memory.
	 * In memory they grew the receiver by 11 MB a GiB.
	 */
	if ((rc = sq.exec(ix->db,
	         "PRAGMA synchronous = NORMAL;"
	         "PRAGMA cell_size_check = ON;"
	         "PRAGMA temp_store = FILE;"
	         "PRAGMA cache_size = -" IX_STR(IX_CACHE_KIB) ";"
	         "PRAGMA temp.cache_size = -2048;",
	         NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	/* The first read of the file: garbage shows up here as NOTADB. */
	if ((rc = ix_read_version(ix->db, &version, &objects)) != SQLITE_OK)
		goto fail;
	if (version != IX_SCHEMA_VERSION && (version != 0 || objects != 0)) {
		*bad = 1;
		return PQX_ERR_FORMAT;
	}
	if ((rc = ix_set_wal(ix->db)) != SQLITE_OK)
		goto fail;
	if (version == 0) {
		/* Another process may be creating it too: look again under the lock. */
		if ((rc = sq.exec(ix->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
		        SQLITE_OK ||
		    (rc = ix_read_version(ix->db, &version, &objects)) != SQLITE_OK)
			goto fail;
		if (version == 0 && objects == 0)
			rc = sq.exec(ix->db, ix_schema, NULL, NULL, NULL);
		else if (version != IX_SCHEMA_VERSION)
			*bad = 1;
		if (rc != SQLITE_OK || *bad) {
			sq.exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
			goto fail;
		}
		if ((rc = sq.exec(ix->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
			goto fail;
	}
	/*
	 * Spans added in a transaction wait in a temporary table and go into
	 * the id b-tree at commit, sorted: random ids inserted one by one
	 * would rewrite most of the tree's pages at every commit.
	 */
	if ((rc = sq.exec(ix->db, "CREATE TEMP TABLE IF NOT EXISTS stage (id INTEGER, file INTEGER,"
				       " off INTEGER, len INTEGER)",
		 NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < ST_COUNT; i++) {
		rc = sq.prepare_v3(ix->db, ix_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &ix->st[i], NULL);
		if (rc != SQLITE_OK) {
			/* The right version but not our tables. */
			if ((rc & 0xff) == SQLITE_ERROR)
				*bad = 1;
			goto fail;
		}
	}
	return 0;
fail:
	if (ix_is_corrupt(rc))
		*bad = 1;
	return *bad ? PQX_ERR_FORMAT : ix_map(rc) != 0 ? ix_map(rc) : PQX_ERR_INTERNAL;
}

/* Opens the database, deleting and recreating it once if it is bad. */
static int ix_connect(xfer_index *ix)
{
	int r = PQX_ERR_INTERNAL, bad = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((r = ix_try_connect(ix, &bad)) == 0)
			return 0;
		ix_disconnect(ix);
		if (!bad)
			break;
		ix_delete_files(ix);
	}
	return r;
}

/*
 * Called with the SQLite code of a failed step. Corruption: the database is
 * deleted and created afresh in place (the handle stays usable, empty).
 * Either that or SQLite rolling back by itself (disk full, I/O error) loses
 * the caller's transaction: updates then fail until commit or rollback.
 */
static int ix_error(xfer_index *ix, int rc)
{
	int r = ix_map(rc);

	if (r == 0)
		r = PQX_ERR_INTERNAL;
	if (ix_is_corrupt(rc)) {
		ix_disconnect(ix);
		ix_delete_files(ix);
		(void)ix_connect(ix); /* if it fails, db stays NULL: PQX_ERR_IO hence */
		ix->cur = 0;
		ix->cur_in_tx = 0;
		if (ix->in_tx && ix->tx_err == 0)
			ix->tx_err = r;
		return r;
	}
	if (ix->in_tx && ix->tx_err == 0 && ix->db != NULL &&
	    sq.get_autocommit(ix->db)) {
		ix->tx_err = r;
		ix_tx_lost(ix);
	}
	return r;
}

/* Steps a statement to its end, resets it, returns 0 or a PQX_ERR code. */
static int ix_exec(xfer_index *ix, sqlite3_stmt *st)
{
	int rc;

	while ((rc = sq.step(st)) == SQLITE_ROW)
		;
	sq.reset(st);
	sq.clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : ix_error(ix, rc);
}

/* For a failed bind: resets the statement and reports. */
static int ix_bind_error(xfer_index *ix, sqlite3_stmt *st, int rc)
{
	sq.reset(st);
	sq.clear_bindings(st);
	return ix_error(ix, rc);
}

static int ix_usable(const xfer_index *ix)
{
	if (ix == NULL)
		return PQX_ERR_INVALID_ARG;
	return ix->db != NULL ? 0 : PQX_ERR_IO;
}

static int ix_writable(const xfer_index *ix)
{
	int r;

	if ((r = ix_usable(ix)) != 0)
		return r;
	return ix->in_tx ? ix->tx_err : 0;
}

static int ix_check_path(const char *path, size_t *len)
{
	size_t n;

	if (path == NULL || *path == '\0')
		return PQX_ERR_INVALID_ARG;
	if ((n = strnlen(path, IX_PATH_MAX + 1)) > IX_PATH_MAX)
		return PQX_ERR_LIMIT;
	*len = n;
	return 0;
}

static int ix_check_src(int src)
{
	return src == XFER_SRC_ROOT || src == XFER_SRC_DICT ? 0 : PQX_ERR_INVALID_ARG;
}

/*
 * Times as nanoseconds since the epoch; the unsigned arithmetic wraps for
 * absurd times rather than overflow, which at worst makes a changed file
 * look unchanged, and its spans are verified on use anyway.
 */
static sqlite3_int64 ix_ns(const struct timespec *ts)
{
	return (sqlite3_int64)((uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec);
}

struct ix_stat {
	sqlite3_int64 v[5]; /* size, mtime_ns, ctime_ns, ino, dev */
};

static void ix_stat_of(struct ix_stat *s, const struct stat *sb)
{
	s->v[0] = (sqlite3_int64)sb->st_size;
	s->v[1] = ix_ns(&sb->st_mtim);
	s->v[2] = ix_ns(&sb->st_ctim);
	s->v[3] = (sqlite3_int64)sb->st_ino;
	s->v[4] = (sqlite3_int64)sb->st_dev;
}

/* Binds the stat to parameters first..first+4. */
static int ix_bind_stat(sqlite3_stmt *st, int first, const struct stat *sb)
{
	struct ix_stat s;
	int rc = SQLITE_OK;

	ix_stat_of(&s, sb);
	for (int i = 0; i < 5 && rc == SQLITE_OK; i++)
		rc = sq.bind_int64(st, first + i, s.v[i]);
	return rc;
}

static int ix_bind_name(sqlite3_stmt *st, int src, const char *path, size_t len)
{
	int rc;

	if ((rc = sq.bind_int(st, 1, src)) != SQLITE_OK)
		return rc;
	return sq.bind_blob(st, 2, path, (int)len, SQLITE_STATIC);
}

/* The id of (src, path) in *id, 0 if it is not indexed. */
static int ix_file_id(xfer_index *ix, int src, const char *path, size_t len,
    sqlite3_int64 *id)
{
	sqlite3_stmt *st = ix->st[ST_FILE_ID];
	int rc;

	*id = 0;
	if ((rc = ix_bind_name(st, src, path, len)) != SQLITE_OK)
		return ix_bind_error(ix, st, rc);
	if ((rc = sq.step(st)) == SQLITE_ROW) {
		*id = sq.column_int64(st, 0);
		rc = *id > 0 ? SQLITE_DONE : SQLITE_CORRUPT;
	}
	sq.reset(st);
	sq.clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : ix_error(ix, rc);
}

/* Deletes a file row and its spans. */
static int ix_drop(xfer_index *ix, sqlite3_int64 id)
{
	int r, rc;

	if ((rc = sq.bind_int64(ix->st[ST_SPANS_DEL], 1, id)) != SQLITE_OK)
		return ix_bind_error(ix, ix->st[ST_SPANS_DEL], rc);
	if ((r = ix_exec(ix, ix->st[ST_SPANS_DEL])) != 0)
		return r;
	if ((rc = sq.bind_int64(ix->st[ST_STAGE_DEL], 1, id)) != SQLITE_OK)
		return ix_bind_error(ix, ix->st[ST_STAGE_DEL], rc);
	if ((r = ix_exec(ix, ix->st[ST_STAGE_DEL])) != 0)
		return r;
	if ((rc = sq.bind_int64(ix->st[ST_FILE_DEL], 1, id)) != SQLITE_OK)
		return ix_bind_error(ix, ix->st[ST_FILE_DEL], rc);
	if ((r = ix_exec(ix, ix->st[ST_FILE_DEL])) != 0)
		return r;
	if (ix->cur == id) {
		ix->cur = 0;
		ix->cur_in_tx = 0;
	}
	return 0;
}

/*
 * An update of several statements is atomic on its own: a transaction of
 * its own outside the caller's, a savepoint inside it (so that a failed
 * update leaves the caller's transaction as it was).
 */
static int ix_op_begin(xfer_index *ix)
{
	return ix_exec(ix, ix->st[ix->in_tx ? ST_SAVEPOINT : ST_BEGIN]);
}

static void ix_step_quiet(sqlite3_stmt *st)
{
	while (sq.step(st) == SQLITE_ROW)
		;
	sq.reset(st);
}

static int ix_op_end(xfer_index *ix, int r)
{
	if (r == 0 && (r = ix_exec(ix, ix->st[ix->in_tx ? ST_RELEASE : ST_COMMIT])) == 0)
		return 0;
	/* After a rebuild or SQLite's own rollback there is nothing to undo. */
	if (ix->db != NULL && !sq.get_autocommit(ix->db)) {
		if (ix->in_tx) {
			ix_step_quiet(ix->st[ST_ROLLBACK_TO]);
			ix_step_quiet(ix->st[ST_RELEASE]);
		} else {
			ix_step_quiet(ix->st[ST_ROLLBACK]);
		}
	}
	return r;
}

int xfer_index_open(xfer_index **out, const char *path)
{
	xfer_index *ix = NULL;
	size_t n;
	int r = PQX_ERR_INVALID_ARG;

	if (out == NULL)
		return PQX_ERR_INVALID_ARG;
	*out = NULL;
	if (path == NULL || *path == '\0')
		goto out;
	n = strlen(path);
	r = PQX_ERR_NOMEM;
	if (n > SIZE_MAX / 2 || (ix = pqx_calloc(1, sizeof(*ix))) == NULL ||
	    (ix->path = pqx_malloc(n + 1)) == NULL ||
	    (ix->aux = pqx_malloc(n + sizeof("-journal"))) == NULL)
		goto out;
	memcpy(ix->path, path, n + 1);
	if ((r = ix_connect(ix)) != 0)
		goto out;
	*out = ix;
	ix = NULL;
out:
	xfer_index_close(ix);
	return r;
}

void xfer_index_close(xfer_index *ix)
{
	if (ix == NULL)
		return;
	if (ix->db != NULL && !sq.get_autocommit(ix->db))
		ix_step_quiet(ix->st[ST_ROLLBACK]);
	ix_disconnect(ix);
	pqx_free(ix->path);
	pqx_free(ix->aux);
	pqx_free(ix);
}

int xfer_index_begin(xfer_index *ix)
{
	int r;

	if ((r = ix_usable(ix)) != 0)
		return r;
	if (ix->in_tx)
		return PQX_ERR_INVALID_ARG;
	if ((r = ix_exec(ix, ix->st[ST_BEGIN])) != 0)
		return r;
	ix->in_tx = 1;
	ix->tx_err = 0;
	return 0;
}

int xfer_index_commit(xfer_index *ix)
{
	int r;

	if ((r = ix_usable(ix)) != 0) {
		if (ix != NULL)
			ix->in_tx = ix->tx_err = ix->cur_in_tx = 0;
		return r;
	}
	if (!ix->in_tx)
		return PQX_ERR_INVALID_ARG;
	if ((r = ix->tx_err) == 0 && (r = ix_exec(ix, ix->st[ST_STAGE_MERGE])) == 0 &&
	    (r = ix_exec(ix, ix->st[ST_STAGE_CLEAR])) == 0)
		r = ix_exec(ix, ix->st[ST_COMMIT]);
	if (r != 0) {
		if (ix->db != NULL && !sq.get_autocommit(ix->db))
			ix_step_quiet(ix->st[ST_ROLLBACK]);
		ix_tx_lost(ix);
	}
	ix->cur_in_tx = 0;
	ix->in_tx = 0;
	ix->tx_err = 0;
	return r;
}

void xfer_index_rollback(xfer_index *ix)
{
	if (ix == NULL || !ix->in_tx)
		return;
	if (ix->db != NULL && !sq.get_autocommit(ix->db))
		ix_step_quiet(ix->st[ST_ROLLBACK]);
	ix_tx_lost(ix);
	ix->in_tx = 0;
	ix->tx_err = 0;
}

int xfer_index_file_current(xfer_index *ix, int src, const char *path, const struct stat *sb)
{
	sqlite3_stmt *st;
	struct ix_stat want;
	size_t len;
	int r, rc, same = 1;

	if ((r = ix_usable(ix)) != 0 || (r = ix_check_src(src)) != 0 ||
	    (r = ix_check_path(path, &len)) != 0)
		return r;
	if (sb == NULL)
		return PQX_ERR_INVALID_ARG;
	ix_stat_of(&want, sb);
	st = ix->st[ST_FILE_STAT];
	if ((rc = ix_bind_name(st, src, path, len)) != SQLITE_OK)
		return ix_bind_error(ix, st, rc);
	if ((rc = sq.step(st)) == SQLITE_ROW) {
		for (int i = 0; i < 5; i++)
			same &= sq.column_int64(st, i) == want.v[i];
		same &= sq.column_int64(st, 5) == ix->cut;
		rc = SQLITE_DONE;
	} else {
		same = 0;
	}
	sq.reset(st);
	sq.clear_bindings(st);
	if (rc != SQLITE_DONE)
		return ix_error(ix, rc);
	return same;
}

int xfer_index_add_file(xfer_index *ix, int src, const char *path, const struct stat *sb)
{
	sqlite3_stmt *st;
	sqlite3_int64 old, id = 0;
	size_t len;
	int r, rc;

	if ((r = ix_writable(ix)) != 0 || (r = ix_check_src(src)) != 0 ||
	    (r = ix_check_path(path, &len)) != 0)
		return r;
	if (sb == NULL)
		return PQX_ERR_INVALID_ARG;
	ix->cur = 0;
	ix->cur_in_tx = 0;
	if ((r = ix_op_begin(ix)) != 0)
		return r;
	if ((r = ix_file_id(ix, src, path, len, &old)) != 0 ||
	    (old != 0 && (r = ix_drop(ix, old)) != 0))
		goto out;
	/* A new row, not an update: the highest id is the newest file. */
	st = ix->st[ST_FILE_INS];
	if ((rc = ix_bind_name(st, src, path, len)) != SQLITE_OK ||
	    (rc = ix_bind_stat(st, 3, sb)) != SQLITE_OK ||
	    (rc = sq.bind_int64(st, 8, ix->cut)) != SQLITE_OK) {
		r = ix_bind_error(ix, st, rc);
		goto out;
	}
	if ((r = ix_exec(ix, st)) != 0)
		goto out;
	id = sq.last_insert_rowid(ix->db);
out:
	if ((r = ix_op_end(ix, r)) == 0) {
		ix->cur = id;
		ix->cur_in_tx = ix->in_tx;
	}
	return r;
}

int xfer_index_add(xfer_index *ix, const uint8_t id[XFER_INDEX_ID_BYTES], uint64_t off,
    uint64_t len)
{
	sqlite3_stmt *st;
	int r, rc;

	if ((r = ix_writable(ix)) != 0)
		return r;
	if (id == NULL || len == 0 || ix->cur == 0)
		return PQX_ERR_INVALID_ARG;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return PQX_ERR_LIMIT;
	st = ix->st[ix->in_tx ? ST_STAGE_INS : ST_SPAN_INS];
	if ((rc = sq.bind_int64(st, 1, ix_key(id))) !=
	        SQLITE_OK ||
	    (rc = sq.bind_int64(st, 2, ix->cur)) != SQLITE_OK ||
	    (rc = sq.bind_int64(st, 3, (sqlite3_int64)off)) != SQLITE_OK ||
	    (rc = sq.bind_int64(st, 4, (sqlite3_int64)len)) != SQLITE_OK)
		return ix_bind_error(ix, st, rc);
	return ix_exec(ix, st);
}

int xfer_index_forget(xfer_index *ix, int src, const char *path)
{
	sqlite3_int64 id;
	size_t len;
	int r;

	if ((r = ix_writable(ix)) != 0 || (r = ix_check_src(src)) != 0 ||
	    (r = ix_check_path(path, &len)) != 0)
		return r;
	if ((r = ix_op_begin(ix)) != 0)
		return r;
	if ((r = ix_file_id(ix, src, path, len, &id)) == 0 && id != 0)
		r = ix_drop(ix, id);
	return ix_op_end(ix, r);
}

int xfer_index_rename(xfer_index *ix, int src, const char *from, const char *to,
    const struct stat *sb)
{
	sqlite3_stmt *st;
	sqlite3_int64 fid, tid;
	size_t flen, tlen;
	int r, rc;

	if ((r = ix_writable(ix)) != 0 || (r = ix_check_src(src)) != 0 ||
	    (r = ix_check_path(from, &flen)) != 0 || (r = ix_check_path(to, &tlen)) != 0)
		return r;
	if (sb == NULL)
		return PQX_ERR_INVALID_ARG;
	if ((r = ix_op_begin(ix)) != 0)
		return r;
	if ((r = ix_file_id(ix, src, from, flen, &fid)) != 0 ||
	    (r = ix_file_id(ix, src, to, tlen, &tid)) != 0)
		goto out;
	/* Whatever was indexed under "to" is gone, even if "from" is unknown. */
	if (tid != 0 && tid != fid && (r = ix_drop(ix, tid)) != 0)
		goto out;
	if (fid == 0)
		goto out;
	st = ix->st[ST_FILE_MOVE];
	if ((rc = sq.bind_int64(st, 1, fid)) != SQLITE_OK ||
	    (rc = sq.bind_blob(st, 2, to, (int)tlen, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = ix_bind_stat(st, 3, sb)) != SQLITE_OK) {
		r = ix_bind_error(ix, st, rc);
		goto out;
	}
	r = ix_exec(ix, st);
out:
	return ix_op_end(ix, r);
}

/* Copies a row of ST_LOOKUP out; -1 if it is not a row this code writes. */
static int ix_row_span(sqlite3_stmt *st, struct xfer_span *sp)
{
	sqlite3_int64 src, off, len;
	const void *p;
	int n;

	for (int i = 0; i < 4; i++)
		if (sq.column_type(st, i) != (i == 1 ? SQLITE_BLOB : SQLITE_INTEGER))
			return -1;
	src = sq.column_int64(st, 0);
	p = sq.column_blob(st, 1);
	n = sq.column_bytes(st, 1);
	off = sq.column_int64(st, 2);
	len = sq.column_int64(st, 3);
	if ((src != XFER_SRC_ROOT && src != XFER_SRC_DICT) || p == NULL || n <= 0 ||
	    n > IX_PATH_MAX || memchr(p, '\0', (size_t)n) != NULL || off < 0 || len <= 0 ||
	    off > INT64_MAX - len)
		return -1;
	sp->src = (int)src;
	memcpy(sp->path, p, (size_t)n);
	sp->path[n] = '\0';
	sp->off = (uint64_t)off;
	sp->len = (uint64_t)len;
	return 0;
}

int xfer_index_lookup(xfer_index *ix, const uint8_t id[XFER_INDEX_ID_BYTES],
    struct xfer_span *out, size_t max, size_t *n)
{
	sqlite3_stmt *st;
	size_t k = 0;
	int r, rc = SQLITE_DONE;

	if (n == NULL)
		return PQX_ERR_INVALID_ARG;
	*n = 0;
	if ((r = ix_usable(ix)) != 0)
		return r;
	if (id == NULL || (out == NULL && max > 0))
		return PQX_ERR_INVALID_ARG;
	if (max == 0)
		return 0;
	st = ix->st[ST_LOOKUP];
	if ((rc = sq.bind_int64(st, 1, ix_key(id))) !=
	        SQLITE_OK ||
	    (rc = sq.bind_int64(st, 2,
	         max > INT64_MAX ? INT64_MAX : (sqlite3_int64)max)) != SQLITE_OK)
		return ix_bind_error(ix, st, rc);
	while (k < max && (rc = sq.step(st)) == SQLITE_ROW) {
		/* A row we could not have written: the file is not ours to trust. */
		if (ix_row_span(st, &out[k]) != 0) {
			rc = SQLITE_CORRUPT;
			break;
		}
		k++;
	}
	sq.reset(st);
	sq.clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ix_error(ix, rc);
	*n = k;
	return 0;
}

int xfer_index_empty(xfer_index *ix)
{
	sqlite3_stmt *st;
	int r, rc, empty;

	if ((r = ix_usable(ix)) != 0)
		return r;
	st = ix->st[ST_ANY_SPAN];
	empty = (rc = sq.step(st)) != SQLITE_ROW;
	sq.reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return ix_error(ix, rc);
	return empty;
}

int xfer_index_prune(xfer_index *ix, int (*keep)(void *ctx, int src, const char *path),
    void *ctx)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 *drop = NULL;
	size_t n = 0, cap = 0;
	int r, rc;

	if ((r = ix_writable(ix)) != 0)
		return r;
	if (ix->in_tx)
		return PQX_ERR_INVALID_ARG;
	if ((rc = sq.prepare_v2(ix->db, "SELECT id, src, path FROM files", -1, &st, NULL)) !=
	    SQLITE_OK)
		return ix_error(ix, rc);
	while ((rc = sq.step(st)) == SQLITE_ROW) {
		char path[IX_PATH_MAX + 1];
		const void *p = sq.column_blob(st, 2);
		int len = sq.column_bytes(st, 2);

		if (p == NULL || len <= 0 || len > IX_PATH_MAX)
			continue;
		memcpy(path, p, (size_t)len);
		path[len] = '\0';
		if (keep(ctx, (int)sq.column_int64(st, 1), path))
			continue;
		if (n == cap) {
			sqlite3_int64 *d = realloc(drop, (cap = cap ? cap * 2 : 64) * sizeof(*d));

			if (d == NULL) {
				r = PQX_ERR_NOMEM;
				break;
			}
			drop = d;
		}
		drop[n++] = sq.column_int64(st, 0);
	}
	sq.finalize(st);
	if (r == 0 && rc != SQLITE_DONE)
		r = ix_error(ix, rc);
	if (r == 0 && n > 0 && (r = xfer_index_begin(ix)) == 0) {
		for (size_t i = 0; r == 0 && i < n; i++)
			r = ix_drop(ix, drop[i]);
		if (r == 0)
			r = xfer_index_commit(ix);
		else
			xfer_index_rollback(ix);
	}
	free(drop);
	return r;
}

void xfer_index_set_cut(xfer_index *ix, int cut)
{
	if (ix != NULL)
		ix->cut = cut;
}
