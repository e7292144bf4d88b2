/* pqx CLI: errors, atomic output files, inputs, passphrases and the progress line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void cli_error(const char *hint, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "pqx: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	if (hint != NULL)
		fprintf(stderr, "pqx: hint: %s\n", hint);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pqx: warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

/*
 * The temporary file being written, removed if a signal ends us, so that an
 * interrupted run leaves nothing behind (only async-signal-safe calls here).
 */
static volatile sig_atomic_t tmp_active;
static char tmp_path[4096];

static void on_signal(int sig)
{
	if (tmp_active)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void track_tmp(const char *path)
{
	static int installed;

	if (!installed) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGPIPE, &sa, NULL);
		installed = 1;
	}
	tmp_active = 0;
	if (path != NULL && strlen(path) < sizeof(tmp_path)) {
		memcpy(tmp_path, path, strlen(path) + 1);
		tmp_active = 1;
	}
}

void cli_bad_option(const char *cmd, int c, int argc, char **argv)
{
	char hint[64], word[64];

	/* getopt_long leaves a long option just before optind; a short one in optopt. */
	if (optopt != 0)
		snprintf(word, sizeof(word), "-%c", optopt);
	else
		snprintf(word, sizeof(word), "%.60s",
		    optind > 0 && optind <= argc ? argv[optind - 1] : "?");
	snprintf(hint, sizeof(hint), "see pqx %s --help", cmd);
	if (c == ':')
		cli_error(hint, "option \"%s\" needs a value", word);
	else
		cli_error(hint, "unknown option \"%s\"", word);
}

int cli_out_open(struct cli_out *o, const char *path, int force, int binary,
    unsigned int mode)
{
	char *dir = NULL, *base = NULL, *d, *b;
	struct stat st;
	mode_t um;
	int fd;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->force = force;
	if (path == NULL || strcmp(path, "-") == 0) {
		if (binary && isatty(STDOUT_FILENO)) {
			cli_error("use -o FILE to write to a file, or -a for ASCII armor",
			    "refusing to write binary output to a terminal");
			return -1;
		}
		o->fd = STDOUT_FILENO;
		return 0;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/*
		 * A device, pipe or socket (/dev/null, a FIFO) is written in place:
		 * renaming a file over it would replace the device node itself.
		 */
		if (S_ISDIR(st.st_mode)) {
			cli_error(NULL, "output \"%s\" is a directory", path);
			return -1;
		}
		if ((o->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
			cli_error(NULL, "can't open \"%s\": %s", path, strerror(errno));
			return -1;
		}
		if (binary && isatty(o->fd)) {
			close(o->fd);
			o->fd = -1;
			cli_error("use -a for ASCII armor",
			    "refusing to write binary output to a terminal");
			return -1;
		}
		o->direct = 1;
		return 0;
	}
	if (!force && access(path, F_OK) == 0) {
		cli_error("use -f to overwrite it", "output file \"%s\" already exists", path);
		return -1;
	}
	if ((o->path = strdup(path)) == NULL || (dir = strdup(path)) == NULL ||
	    (base = strdup(path)) == NULL)
		goto nomem;
	d = dirname(dir);
	b = basename(base);
	if (asprintf(&o->tmp, "%s/.%s.pqx-XXXXXX", d, b) < 0) {
		o->tmp = NULL;
		goto nomem;
	}
	/* The temporary file is in the target directory, so rename is atomic. */
	if ((fd = mkstemp(o->tmp)) < 0) {
		cli_error("check that the directory exists and is writable",
		    "can't create a file in \"%s\": %s", d, strerror(errno));
		free(o->tmp);
		o->tmp = NULL;
		goto fail;
	}
	track_tmp(o->tmp);
	um = umask(0);
	umask(um);
	if (fchmod(fd, mode == 0600 ? 0600 : (mode_t)(mode & ~um)) != 0) {
		cli_error(NULL, "can't set the mode of \"%s\": %s", o->tmp, strerror(errno));
		close(fd);
		cli_out_abort(o);
		goto fail;
	}
	o->fd = fd;
	free(dir);
	free(base);
	return 0;
nomem:
	cli_error(NULL, "out of memory");
fail:
	free(dir);
	free(base);
	free(o->path);
	o->path = NULL;
	return -1;
}

int cli_out_commit(struct cli_out *o)
{
	int r = -1;

	if (o->direct) {
		r = close(o->fd) == 0 ? 0 : -1;
		o->fd = -1;
		if (r != 0)
			cli_error(NULL, "can't write the output: %s", strerror(errno));
		return r;
	}
	if (o->path == NULL)
		return 0;
	if (fsync(o->fd) != 0) {
		cli_error(NULL, "can't write \"%s\": %s", o->path, strerror(errno));
		goto out;
	}
	if (close(o->fd) != 0) {
		o->fd = -1;
		cli_error(NULL, "can't write \"%s\": %s", o->path, strerror(errno));
		goto out;
	}
	o->fd = -1;
	if (o->force) {
		if (rename(o->tmp, o->path) != 0) {
			cli_error(NULL, "can't rename into \"%s\": %s", o->path, strerror(errno));
			goto out;
		}
	} else {
		/*
		 * Never replace: a file that appeared meanwhile is kept. rename
		 * with RENAME_NOREPLACE where the filesystem has it, else link(),
		 * which never replaces either.
		 */
		int e = renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, RENAME_NOREPLACE) == 0 ? 0 : errno;

		if (e == EINVAL || e == ENOSYS || e == ENOTSUP) {
			e = link(o->tmp, o->path) == 0 ? 0 : errno;
			if (e == 0)
				unlink(o->tmp);
		}
		if (e != 0) {
			if (e == EEXIST)
				cli_error("use -f to overwrite it",
				    "output file \"%s\" already exists", o->path);
			else
				cli_error(NULL, "can't create \"%s\": %s", o->path, strerror(e));
			goto out;
		}
	}
	r = 0;
out:
	if (r != 0)
		cli_out_abort(o);
	track_tmp(NULL);
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	return r;
}

void cli_out_abort(struct cli_out *o)
{
	if (o->fd >= 0 && o->fd != STDOUT_FILENO)
		close(o->fd);
	o->fd = -1;
	if (o->tmp != NULL) {
		unlink(o->tmp);
		track_tmp(NULL);
		free(o->tmp);
		o->tmp = NULL;
	}
	free(o->path);
	o->path = NULL;
}

int cli_in_open(const char *path)
{
	int fd;

	if (path == NULL || strcmp(path, "-") == 0)
		return STDIN_FILENO;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		cli_error(NULL, "can't open \"%s\": %s", path, strerror(errno));
		return -1;
	}
	return fd;
}

uint8_t *cli_read_file(const char *path, size_t max, size_t *len)
{
	int fd = cli_in_open(path);
	uint8_t *buf;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	if ((buf = malloc(max + 1)) == NULL) {
		cli_error(NULL, "out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, max + 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			cli_error(NULL, "can't read \"%s\": %s", path ? path : "standard input",
			    strerror(errno));
			goto fail;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max) {
			cli_error(NULL, "\"%s\" is larger than %zu bytes", path ? path : "-", max);
			goto fail;
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	if (fd != STDIN_FILENO)
		close(fd);
	if (buf != NULL) {
		pqx_wipe(buf, max + 1);
		free(buf);
	}
	return NULL;
}

void cli_secret_free(char *s)
{
	if (s != NULL) {
		pqx_wipe(s, strlen(s));
		free(s);
	}
}

#define PASS_MAX 1024

/* Reads one line from fd into buf (without the newline); -1 if too long or on error. */
static int read_line_fd(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t k = read(fd, &c, 1);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0 || c == '\n')
			break;
		if (n + 1 >= cap)
			return -1;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return 0;
}

static char *read_tty(int tty, const char *prompt)
{
	struct termios old, noecho;
	char *buf;
	int r;

	if ((buf = calloc(1, PASS_MAX)) == NULL)
		return NULL;
	if (write(tty, prompt, strlen(prompt)) < 0) {
		free(buf);
		return NULL;
	}
	if (tcgetattr(tty, &old) != 0) {
		free(buf);
		return NULL;
	}
	noecho = old;
	noecho.c_lflag &= (tcflag_t)~ECHO;
	tcsetattr(tty, TCSAFLUSH, &noecho);
	r = read_line_fd(tty, buf, PASS_MAX);
	tcsetattr(tty, TCSAFLUSH, &old);
	if (write(tty, "\n", 1) < 0)
		r = -1;
	if (r != 0) {
		cli_secret_free(buf);
		return NULL;
	}
	return buf;
}

char *cli_passphrase(int fd, const char *prompt, int confirm)
{
	char *p = NULL, *again = NULL;
	int tty;

	if (fd >= 0) {
		if ((p = calloc(1, PASS_MAX)) == NULL || read_line_fd(fd, p, PASS_MAX) != 0) {
			cli_error(NULL, "can't read the passphrase from file descriptor %d", fd);
			cli_secret_free(p);
			return NULL;
		}
		goto check;
	}
	if ((tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0) {
		cli_error("pass it on a file descriptor with --passphrase-fd N",
		    "a passphrase is needed, and there is no terminal to ask for it");
		return NULL;
	}
	if ((p = read_tty(tty, prompt)) == NULL)
		cli_error(NULL, "can't read the passphrase from the terminal");
	if (p != NULL && confirm) {
		again = read_tty(tty, "Confirm passphrase: ");
		if (again == NULL) {
			cli_error(NULL, "can't read the passphrase from the terminal");
			cli_secret_free(p);
			p = NULL;
		} else if (strcmp(p, again) != 0) {
			cli_error(NULL, "the passphrases do not match");
			cli_secret_free(p);
			p = NULL;
		}
		cli_secret_free(again);
	}
	close(tty);
	if (p == NULL)
		return NULL;
check:
	if (p[0] == '\0') {
		cli_error(NULL, "the passphrase is empty");
		cli_secret_free(p);
		return NULL;
	}
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, const char *verb, int in_fd, int quiet)
{
	struct stat st;

	memset(p, 0, sizeof(*p));
	p->verb = verb;
	p->enabled = !quiet && isatty(STDERR_FILENO);
	if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
		p->total = (uint64_t)st.st_size;
	p->start = p->last = now();
}

static void human(char *out, size_t n, double v)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

void cli_progress_cb(void *ctx, uint64_t done)
{
	struct cli_progress *p = ctx;
	double t = now(), rate;
	char d[32], tot[32], r[32];

	/* Only for runs long enough to matter, a few times a second. */
	if (!p->enabled || t - p->start < 1.0 || t - p->last < 0.25)
		return;
	p->last = t;
	rate = (double)done / (t - p->start);
	human(d, sizeof(d), (double)done);
	human(r, sizeof(r), rate);
	if (p->total > 0 && done <= p->total) {
		double eta = rate > 0 ? (double)(p->total - done) / rate : 0;

		human(tot, sizeof(tot), (double)p->total);
		fprintf(stderr, "\rpqx: %s %s / %s (%3.0f%%), %s/s, %.0f s left   ", p->verb, d,
		    tot, 100.0 * (double)done / (double)p->total, r, eta);
	} else {
		fprintf(stderr, "\rpqx: %s %s, %s/s   ", p->verb, d, r);
	}
	p->shown = 1;
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->shown)
		fprintf(stderr, "\r\033[K");
}

void cli_age_error(int err, const char *what)
{
	const char *detail = pqx_age_error_detail();

	switch (err) {
	case PQX_ERR_NO_PASSPHRASE:
		break; /* cli_passphrase has said why */
	case PQX_ERR_NO_MATCH:
		cli_error("check that you are using the right identity file (-i)",
		    "no identity matched: the file was not encrypted to any of these keys");
		break;
	case PQX_ERR_AUTH:
		cli_error("the file was modified or corrupted; do not trust any output",
		    "%s failed: authentication failed (%s)", what, detail);
		break;
	case PQX_ERR_TRUNCATED:
		cli_error("the file is incomplete; get a full copy",
		    "%s failed: the file is truncated (%s)", what, detail);
		break;
	case PQX_ERR_TRAILING:
		cli_error(NULL, "%s failed: unexpected data after the end of the file", what);
		break;
	case PQX_ERR_HEADER:
		cli_error("is this an age file?", "%s failed: invalid header (%s)", what, detail);
		break;
	case PQX_ERR_UNSUPPORTED:
		cli_error("the file may need a newer version of pqx or age",
		    "%s failed: unsupported format version", what);
		break;
	case PQX_ERR_ARMOR:
		cli_error(NULL, "%s failed: invalid ASCII armor", what);
		break;
	case PQX_ERR_WORK_FACTOR:
		cli_error("the file asks for more scrypt work than pqx allows (2^22)",
		    "%s failed: %s", what, detail);
		break;
	case PQX_ERR_IO:
		cli_error(NULL, "%s failed: %s", what, strerror(errno));
		break;
	default:
		cli_error(NULL, "%s failed: %s%s%s", what, pqx_strerror(err),
		    *detail ? ": " : "", detail);
	}
}
