/* pqx fuzz: the transfer sender (xfer_send) facing arbitrary NEED, BITMAP and FILE_OK answers. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transfer/transfer.h"

#include "fuzz_chan.h"

/*
 * Input: a selector byte, then the receiver's answers as messages, each
 * u16be length || bytes (see fuzz_chan.h): NEED, a BITMAP for each LIST
 * the sender sends (or, after NEED state 3, SIGS and perhaps NEED state 2
 * after FILE_END), FILE_OK, or anything else. The chunking key is all
 * zeros.
 *
 * The sender sends, from a tree made once (BASE/tree), the names of the
 * set that the selector's bits 1-3 and 5 pick (bits 1-3, plus 8 for bit 5,
 * mod 9); bit 0 makes it confined as in `pqx serve`
 * (names may not climb out or pass through links); bit 4 makes it compress
 * its DATA with zstd level 1 (--compress 1: the automatic choice depends on
 * timing, so a run would not depend on its input alone); bit 6 makes its
 * request go without waiting (accept_pending, as pqx send): the answers
 * must then begin with ACCEPT and the key. The tree:
 *   empty (0 bytes), small (100 bytes), two (1 MiB + 17 bytes: 721 chunks,
 *   17 level-1 nodes, 1 level-2 node: listed flat at level 1), mid
 *   (MID_BYTES: a file for block matching, several blocks of 1 KiB and a
 *   partial one, set 6), wide (WIDE_BYTES of wide_pattern(): over 128
 *   level-1 nodes, so its first LIST is level 2, set 8), d/f
 *   (10 bytes), d/l -> f, d/p (a FIFO: skipped with a warning),
 *   up -> ../outside and abs -> BASE/outside (links out).
 * File bytes follow fuzz_pattern() below, wide's wide_pattern() (gen_seeds.c
 * makes answers with the right node counts from the same formulas). Sets 4 and 5 name
 * up/secret and abs/secret, always confined: they must fail without
 * touching BASE/outside.
 *
 * Checks: the result is 0 or a negative error; nothing outside the tree is
 * touched (inotify); the tree is unchanged (sizes); a successful send
 * counted the files it named, and moved at most twice their bytes (a
 * retry after blocks); the channel stays in step.
 */

#define TWO_BYTES ((1u << 20) + 17)
#define WIDE_BYTES ((5u << 20) + 7)
#define MID_BYTES ((12u << 10) + 77)

static uint8_t fuzz_pattern(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 8) * 7u + 3u);
}

/* wide's bytes: no period, so chunks of every size and many level-1 nodes. */
static uint8_t wide_pattern(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	x ^= x >> 15;
	x *= 2246822519u;
	x ^= x >> 13;
	return (uint8_t)(x >> 24);
}

#define NSETS 9

static const char *const sets[NSETS][6] = {
	{ "small", NULL },
	{ "two", NULL },
	{ "d", NULL },
	{ "empty", "small", "two", "d", "d/f", NULL },
	{ "up/secret", NULL },
	{ "abs/secret", NULL },
	{ "mid", NULL },
	{ "two", "mid", NULL }, /* mid listed with its entry once two's answer came */
	{ "wide", NULL },       /* over 128 level-1 nodes: its first LIST is level 2 */
};
/* Regular files each set sends on success. */
static const uint64_t set_files[NSETS] = { 1, 1, 1, 5, 0, 0, 1, 2, 1 };
/* The sets that name a way out: always confined, and they must fail. */
#define ESCAPE(set) ((set) == 4 || (set) == 5)

static char tree[PATH_MAX + 8];
static int treefd = -1;

static void put_file(const char *name, size_t n, uint8_t (*pattern)(size_t))
{
	char p[PATH_MAX + 32];
	uint8_t *b = malloc(n ? n : 1);
	int fd;

	FUZZ_ASSERT(b != NULL);
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i);
	snprintf(p, sizeof(p), "%s/%s", tree, name);
	FUZZ_ASSERT((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	FUZZ_ASSERT(write(fd, b, n) == (ssize_t)n && close(fd) == 0);
	free(b);
}

static void make_tree(void)
{
	char p[PATH_MAX + 32];

	snprintf(tree, sizeof(tree), "%s/tree", fzfs.base);
	FUZZ_ASSERT(mkdir(tree, 0755) == 0);
	put_file("empty", 0, fuzz_pattern);
	put_file("small", 100, fuzz_pattern);
	put_file("two", TWO_BYTES, fuzz_pattern);
	put_file("mid", MID_BYTES, fuzz_pattern);
	put_file("wide", WIDE_BYTES, wide_pattern);
	snprintf(p, sizeof(p), "%s/d", tree);
	FUZZ_ASSERT(mkdir(p, 0755) == 0);
	put_file("d/f", 10, fuzz_pattern);
	snprintf(p, sizeof(p), "%s/d/l", tree);
	FUZZ_ASSERT(symlink("f", p) == 0);
	snprintf(p, sizeof(p), "%s/d/p", tree);
	FUZZ_ASSERT(mkfifo(p, 0644) == 0);
	snprintf(p, sizeof(p), "%s/up", tree);
	FUZZ_ASSERT(symlink("../outside", p) == 0);
	snprintf(p, sizeof(p), "%s/abs", tree);
	FUZZ_ASSERT(symlink(fzfs.outside, p) == 0);
	FUZZ_ASSERT((treefd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
}

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xfer_opts xo;
	struct xfer_stats st;
	struct stat sb;
	uint8_t sel = size > 0 ? data[0] : 0;
	unsigned set = (((unsigned)sel >> 1 & 7) | ((unsigned)sel >> 2 & 8)) % NSETS;
	int confined = (sel & 1) || ESCAPE(set), r;
	size_t n = 0;

	if (treefd < 0) {
		fuzz_fs_init("send");
		make_tree();
	}
	fuzz_fs_events("tree", 0);
	while (sets[set][n] != NULL)
		n++;

	fuzz_chan_begin(0, size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0);
	memset(&xo, 0, sizeof(xo));
	memset(&st, 0, sizeof(st));
	xo.warn = quiet;
	xo.compress = (sel & 0x10) ? 1 : 0;
	xo.accept_pending = (sel & 0x40) != 0;
	r = xfer_send(fc.near, treefd, sets[set], n, confined, &xo, &st);
	fuzz_report("xfer_send", r, st.files, st.bytes_moved);
	FUZZ_ASSERT(r <= 0);
	if (ESCAPE(set))
		FUZZ_ASSERT(r != 0 && st.files == 0);
	/*
	 * A file matched in blocks whose hash then differs crosses again whole
	 * (NEED 2 after FILE_END): its literal bytes, then all of it.
	 */
	if (r == 0)
		FUZZ_ASSERT(st.files == set_files[set] && st.skipped <= st.files &&
		    st.bytes_moved <= 2 * st.bytes);
	fuzz_chan_end();

	fuzz_fs_events("tree", 1);
	FUZZ_ASSERT(fstatat(treefd, "two", &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_size == TWO_BYTES);
	FUZZ_ASSERT(fstatat(treefd, "mid", &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_size == MID_BYTES);
	FUZZ_ASSERT(fstatat(treefd, "wide", &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_size == WIDE_BYTES);
	FUZZ_ASSERT(fstatat(treefd, "d/f", &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_size == 10);
	return 0;
}
