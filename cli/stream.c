/* pqx CLI: the shared path of encrypt and decrypt: input, atomic output, progress, errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* A writer that remembers why a write failed, to tell it from a read error. */
struct sink {
	int fd, err, file;
	uint64_t written, flushed;
};

#define WRITE_BEHIND (8u << 20)

static int sink_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct sink *s = ctx;

	while (n > 0) {
		ssize_t k = write(s->fd, buf, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			s->err = k < 0 ? errno : EIO;
			return PQX_ERR_IO;
		}
		buf += k;
		n -= (size_t)k;
		s->written += (uint64_t)k;
	}
	/*
	 * Start writing a file's pages to disk as they come, so that the fsync
	 * before the rename finds little left to do.
	 */
	if (s->file && s->written - s->flushed >= WRITE_BEHIND) {
		(void)sync_file_range(s->fd, (off_t)s->flushed, (off_t)(s->written - s->flushed),
		    SYNC_FILE_RANGE_WRITE);
		s->flushed = s->written;
	}
	return 0;
}

long cli_parse_num(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
		return -1;
	return v;
}

int cli_parse_fd(const char *s, int *fd)
{
	long v = strcmp(s, "0") == 0 ? 0 : cli_parse_num(s, 1 << 20);

	if (v < 0) {
		cli_error(NULL, "invalid file descriptor \"%.20s\"", s);
		return -1;
	}
	*fd = (int)v;
	return 0;
}

int cli_parse_threads(const char *s, unsigned int *threads)
{
	long v = cli_parse_num(s, 64);

	if (v < 0) {
		cli_error(NULL, "--threads takes a number from 1 to 64");
		return -1;
	}
	*threads = (unsigned int)v;
	return 0;
}

int cli_run_stream(const struct cli_stream_opts *o, int decrypt, cli_age_op op, void *ctx)
{
	struct cli_out out;
	struct cli_progress prog;
	struct sink sink = { -1, 0, 0, 0, 0 };
	pqx_reader in;
	pqx_writer w;
	pqx_age_options ao;
	int fd, r;

	if ((fd = cli_in_open(o->in)) < 0)
		return 1;
	if (!decrypt && fd == STDIN_FILENO && isatty(fd) && !o->quiet)
		fprintf(stderr, "pqx: reading the plaintext from the terminal (end with Ctrl-D)\n");
	if (cli_out_open(&out, o->out, o->force, !decrypt && !o->armor, 0666) != 0) {
		if (fd != STDIN_FILENO)
			close(fd);
		return 1;
	}
	sink.fd = out.fd;
	sink.file = out.tmp != NULL;
	pqx_reader_fd(&in, &fd);
	w.write = sink_write;
	w.ctx = &sink;
	cli_progress_init(&prog, decrypt ? "decrypting" : "encrypting", fd, o->quiet);
	memset(&ao, 0, sizeof(ao));
	ao.armor = o->armor;
	ao.threads = o->threads;
	ao.progress = cli_progress_cb;
	ao.progress_ctx = &prog;
	errno = 0;
	r = op(ctx, &in, &w, &ao);
	cli_progress_end(&prog);
	if (fd != STDIN_FILENO)
		close(fd);
	if (r != 0) {
		/* Nothing is left under the final name; stdout got only verified chunks. */
		cli_out_abort(&out);
		if (r == PQX_ERR_IO && sink.err != 0) {
			errno = sink.err;
			cli_error(sink.err == ENOSPC ? "free some space and run it again" : NULL,
			    "can't write the output: %s", strerror(sink.err));
		} else if (r == PQX_ERR_IO) {
			cli_error(NULL, "can't read the input: %s", strerror(errno));
		} else if (o->report == NULL || !o->report(ctx, r)) {
			cli_age_error(r, decrypt ? "decryption" : "encryption");
		}
		return 1;
	}
	return cli_out_commit(&out) == 0 ? 0 : 1;
}
