/* pqx fuzz: the transfer receiver (xfer_receive) fed arbitrary messages over a real channel. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transfer/transfer.h"

#include "fuzz_chan.h"

/*
 * Input: transfer messages, each u16be length || bytes (see fuzz_chan.h),
 * sent by the peer over a channel keyed once per process; the side under
 * test is xfer_receive, as in `pqx get` and in `pqx serve` for a push,
 * with the chunking key all zeros and a chunk index (fresh for each input,
 * see fuzz_index_fresh), without which every level-2 node is WHOLE and the
 * LISTs of levels 1 and 0 are never read.
 *
 * Each input gets a fresh directory BASE/in holding a file keep.txt ("hello",
 * mtime 1700000000: a FILE entry of size 5 with that mtime is skipped), a
 * file blk.bin (BLK_BYTES bytes following blk_pattern() below, mtime
 * 1700000100: the old version a FILE entry for blk.bin of 4096 bytes up to
 * 4 MiB is matched against in blocks, NEED state 3, SIGS; gen_seeds.c makes
 * its seeds from the same formula) and two planted links leading out:
 * up -> ../outside and abs -> BASE/outside.
 * xfer_receive writes into BASE/in; afterwards:
 * - nothing in BASE/outside was opened, read, written or created, and
 *   nothing was made in BASE beside in/ (inotify);
 * - everything under in/ is a regular file, directory or link, without
 *   set-id bits, and, the planted links removed, every link that still
 *   resolves lands in in/ (a peer link through a planted one leads out
 *   only as far as the local link itself does);
 * - the result is 0 or a negative error, and the channel stays in step.
 * Then in/ is removed.
 */

#define BLK_BYTES (8192u + 300u) /* 8 blocks of 1 KiB and a tail */

static uint8_t blk_pattern(size_t i)
{
	return (uint8_t)(i * 167u + (i >> 9) * 13u + 11u);
}

static void warn_quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[PATH_MAX + 8], p[PATH_MAX + 16], root[PATH_MAX];
	struct xfer_opts xo;
	struct xfer_stats st;
	struct timespec times[2] = { { 1700000000, 0 }, { 1700000000, 0 } };
	struct timespec btimes[2] = { { 1700000100, 0 }, { 1700000100, 0 } };
	static uint8_t blk[BLK_BYTES];
	int dfd, fd, r;

	fuzz_fs_init("recv");
	snprintf(in, sizeof(in), "%s/in", fzfs.base);
	FUZZ_ASSERT(mkdir(in, 0755) == 0);
	snprintf(p, sizeof(p), "%s/keep.txt", in);
	FUZZ_ASSERT((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	FUZZ_ASSERT(write(fd, "hello", 5) == 5 && futimens(fd, times) == 0 && close(fd) == 0);
	for (size_t i = 0; i < BLK_BYTES; i++)
		blk[i] = blk_pattern(i);
	snprintf(p, sizeof(p), "%s/blk.bin", in);
	FUZZ_ASSERT((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	FUZZ_ASSERT(write(fd, blk, BLK_BYTES) == (ssize_t)BLK_BYTES && futimens(fd, btimes) == 0 &&
	    close(fd) == 0);
	snprintf(p, sizeof(p), "%s/up", in);
	FUZZ_ASSERT(symlink("../outside", p) == 0);
	snprintf(p, sizeof(p), "%s/abs", in);
	FUZZ_ASSERT(symlink(fzfs.outside, p) == 0);
	FUZZ_ASSERT(realpath(in, root) != NULL);
	FUZZ_ASSERT((dfd = open(in, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
	fuzz_fs_events("in", 0);

	fuzz_chan_begin(0, data, size);
	memset(&xo, 0, sizeof(xo));
	memset(&st, 0, sizeof(st));
	xo.warn = warn_quiet;
	xo.index_path = fuzz_index_fresh("recv");
	r = xfer_receive(fc.near, dfd, &xo, &st);
	fuzz_report("xfer_receive", r, st.files, st.bytes_moved);
	FUZZ_ASSERT(r <= 0);
	FUZZ_ASSERT(st.skipped <= st.files);
	fuzz_chan_end();

	fuzz_fs_events("in", 1);
	fuzz_fs_unplant(in, "up", "../outside");
	fuzz_fs_unplant(in, "abs", fzfs.outside);
	fuzz_fs_walk(root, in, 0, NULL);
	close(dfd);
	fuzz_rm_rf(in);
	fuzz_fs_events("in", 0);
	return 0;
}
