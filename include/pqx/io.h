/* pqx: byte streams: the reader and writer interfaces the age format and the CLI stream through. */
#ifndef PQX_IO_H
#define PQX_IO_H

#include <pqx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A reader returns up to n bytes in *got; *got == 0 with a 0 return means
 * end of input, and only then. A negative return is a PQX_ERR_* code.
 */
typedef struct pqx_reader {
	int (*read)(void *ctx, uint8_t *buf, size_t n, size_t *got);
	void *ctx;
} pqx_reader;

/* A writer takes all n bytes or fails with a negative PQX_ERR_* code. */
typedef struct pqx_writer {
	int (*write)(void *ctx, const uint8_t *buf, size_t n);
	void *ctx;
} pqx_writer;

/* Reads until n bytes or end of input; *got < n means the input ended. */
PQX_MUST_CHECK int pqx_read_full(pqx_reader *r, uint8_t *buf, size_t n, size_t *got);

/* Readers and writers over a file descriptor (retrying EINTR and short
 * writes; PQX_ERR_IO with errno kept). ctx points at the int fd. */
void pqx_reader_fd(pqx_reader *r, int *fd);
void pqx_writer_fd(pqx_writer *w, int *fd);

/*
 * A buffered reader over another reader, for parsers that need lines or a
 * look ahead (the age header, armor detection, the STREAM end). It is itself
 * a reader (pqx_breader_as_reader) serving whatever it has buffered first.
 */
typedef struct pqx_breader pqx_breader;
/* NULL if out of memory; cap is the buffer size and the longest line. */
pqx_breader *pqx_breader_new(pqx_reader *under, size_t cap);
void pqx_breader_free(pqx_breader *b);
void pqx_breader_as_reader(pqx_breader *b, pqx_reader *out);
/*
 * Reads one line including its '\n' into *line (valid until the next call)
 * and its length into *len. PQX_ERR_TRUNCATED if the input ends first
 * (a partial line is not returned), PQX_ERR_LIMIT past cap bytes.
 */
PQX_MUST_CHECK int pqx_breader_line(pqx_breader *b, const uint8_t **line, size_t *len);
/* Makes up to n (<= cap) bytes available without consuming them;
 * *avail < n only at end of input. */
PQX_MUST_CHECK int pqx_breader_peek(pqx_breader *b, size_t n, const uint8_t **p,
    size_t *avail);

#ifdef __cplusplus
}
#endif
#endif
