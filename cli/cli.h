/* pqx CLI: helpers shared by the subcommands (errors, files, passphrases, progress). */
#ifndef PQX_CLI_H
#define PQX_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <pqx.h>

/* Prints "pqx: error: ..." (and "pqx: hint: ..." when hint != NULL). */
void cli_error(const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An output: stdout, or a temporary file renamed into place on commit. */
struct cli_out {
	int fd;
	char *path; /* final path, or NULL for stdout */
	char *tmp;  /* temporary path while open */
	int force;
	int direct; /* an existing device or pipe, written in place */
};

/*
 * Opens path ("-" or NULL for stdout). Refuses an existing file unless
 * force, and binary output to a terminal when binary is set. mode is the
 * final file mode (before umask for 0666; exact for 0600). Returns 0 or -1
 * after printing an error.
 */
int cli_out_open(struct cli_out *o, const char *path, int force, int binary,
    unsigned int mode);
/* fsyncs and renames the temporary file into place; -1 after an error. */
int cli_out_commit(struct cli_out *o);
/* Removes the temporary file, if any. */
void cli_out_abort(struct cli_out *o);

/* Opens an input ("-" or NULL for stdin); -1 after an error. */
int cli_in_open(const char *path);
/* Reads a whole small file (at most max bytes); NULL after an error. */
uint8_t *cli_read_file(const char *path, size_t max, size_t *len);

/*
 * Reads a passphrase: from fd if fd >= 0 (its first line), else from the
 * terminal without echo, asking twice when confirm is set. Returns a
 * malloc'd NUL-terminated buffer (free with cli_secret_free) or NULL.
 */
char *cli_passphrase(int fd, const char *prompt, int confirm);
void cli_secret_free(char *s);

/* Progress on stderr when it is a terminal: bytes, rate, ETA. */
struct cli_progress {
	const char *verb;
	uint64_t total; /* 0 if unknown */
	double start, last;
	int shown, enabled;
};
void cli_progress_init(struct cli_progress *p, const char *verb, int in_fd, int quiet);
void cli_progress_cb(void *ctx, uint64_t done);
void cli_progress_end(struct cli_progress *p);

/* Reports a getopt failure (c is '?' or ':'); call with opterr = 0 and a leading ':'. */
void cli_bad_option(const char *cmd, int c, int argc, char **argv);

/* Reports a library error with a message and hint for its class. */
void cli_age_error(int err, const char *what);

int cmd_keygen(int argc, char **argv);
int cmd_encrypt(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_get(int argc, char **argv);

#endif

/* Options shared by encrypt and decrypt. */
struct cli_stream_opts {
	const char *in, *out;
	int force, quiet, armor;
	unsigned int threads;
	/* Reports a library error itself if it can say more (returns 1), or 0. */
	int (*report)(void *ctx, int err);
};

/*
 * Runs the age operation from opts->in to opts->out with an atomic output
 * file: op is pqx_age_encrypt or pqx_age_decrypt's shape bound in ctx.
 * Returns the exit status after printing any error.
 */
typedef int (*cli_age_op)(void *ctx, pqx_reader *in, pqx_writer *out,
    const pqx_age_options *opt);
int cli_run_stream(const struct cli_stream_opts *o, int decrypt, cli_age_op op, void *ctx);

/* Parses a positive decimal number no larger than max; -1 if invalid. */
long cli_parse_num(const char *s, long max);
/* --passphrase-fd and --threads values; -1 after printing an error. */
int cli_parse_fd(const char *s, int *fd);
int cli_parse_threads(const char *s, unsigned int *threads);
