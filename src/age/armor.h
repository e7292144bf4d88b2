/* pqx: age's ASCII armor (strict PEM, "AGE ENCRYPTED FILE"): a streaming decoder and encoder. */
#ifndef PQX_AGE_ARMOR_H
#define PQX_AGE_ARMOR_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>
#include <pqx/io.h>

/*
 * The armor is RFC 7468's strict encoding (its Figure 3) with the label
 * "AGE ENCRYPTED FILE", as the age spec and testkit define it:
 *
 *   -----BEGIN AGE ENCRYPTED FILE-----
 *   64 columns of padded, canonical standard base64 (48 bytes) per line
 *   ...
 *   a last line of 1..64 columns (it may be a full one)
 *   -----END AGE ENCRYPTED FILE-----
 *
 * Lines end in LF or CRLF. Nothing else is allowed between BEGIN and END: no
 * headers, no PGP checksum, no empty lines, no spaces, no lines shorter than
 * 64 columns before the last. Zero data lines (BEGIN then END) is well-formed
 * armor of an empty file. Before BEGIN only whole lines of whitespace (space,
 * tab, CR, LF) may appear, and after the END line only whitespace; the
 * newline after END is optional. Like age, at most PQX_ARMOR_MAX_WHITESPACE
 * bytes of whitespace are accepted before BEGIN (a CRLF counts as one) and
 * fewer than that after END, so that everything pqx accepts, age accepts.
 *
 * Armor carries an age file, which is ciphertext, so nothing here is secret
 * and the buffers are not wiped.
 */

#define PQX_ARMOR_BEGIN "-----BEGIN AGE ENCRYPTED FILE-----"
#define PQX_ARMOR_END "-----END AGE ENCRYPTED FILE-----"
#define PQX_ARMOR_COLUMNS 64
#define PQX_ARMOR_LINE_BYTES 48
#define PQX_ARMOR_MAX_WHITESPACE 1024
/* Bytes to peek at so that pqx_armor_is_armored sees past any leading
 * whitespace the decoder accepts. */
#define PQX_ARMOR_PEEK_BYTES (2 * PQX_ARMOR_MAX_WHITESPACE + sizeof(PQX_ARMOR_BEGIN) - 1)

/*
 * The decoder. It reads the armored text from under as it is asked for
 * decoded bytes, holding at most one input block and one line: memory is
 * constant whatever the input size. under must outlive it.
 */
typedef struct pqx_armor_reader pqx_armor_reader;

/* A new decoder over under; NULL if out of memory. */
pqx_armor_reader *pqx_armor_reader_new(pqx_reader *under);
/* Frees a decoder; NULL is a no-op. Does not touch under. */
void pqx_armor_reader_free(pqx_armor_reader *a);
/*
 * Makes *out a reader of the decoded bytes. Each well-formed full line's 48
 * bytes are given out once the line's newline is read; the bytes of a
 * shorter last line only once the END line and the whitespace after it
 * have been checked. The end of input (*got == 0, return 0) comes only after
 * the whole armor, trailing whitespace included, was found well-formed.
 * Malformed armor gives PQX_ERR_FORMAT (a truncated input too), and an
 * error of under is passed on; every later read gives the same error.
 */
void pqx_armor_reader_as_reader(pqx_armor_reader *a, pqx_reader *out);

/*
 * The encoder: writes the BEGIN line, 64-column lines with LF endings, the
 * last line, and the END line followed by LF. A write passes every complete
 * line on to under before returning; the last partial line waits for
 * pqx_armor_writer_finish. under must outlive it.
 */
typedef struct pqx_armor_writer pqx_armor_writer;

/* A new encoder over under; NULL if out of memory. Writes nothing yet. */
pqx_armor_writer *pqx_armor_writer_new(pqx_writer *under);
/*
 * Makes *out a writer that armors what it is given. A failure of under is
 * returned and is sticky; a write after finish gives PQX_ERR_INVALID_ARG.
 */
void pqx_armor_writer_as_writer(pqx_armor_writer *a, pqx_writer *out);
/*
 * Writes the BEGIN line if nothing was written yet, the last line and the
 * END line. Returns 0 or the error of under; PQX_ERR_INVALID_ARG if called
 * twice. The armor is complete only after it returns 0.
 */
PQX_MUST_CHECK int pqx_armor_writer_finish(pqx_armor_writer *a);
/* Frees an encoder (without finishing it); NULL is a no-op. */
void pqx_armor_writer_free(pqx_armor_writer *a);

/*
 * Returns 1 if the n bytes at peek start, after any spaces, tabs, CRs and
 * LFs, with the BEGIN line's text, else 0 (also when n is too short to
 * tell). For choosing between the armored and the binary format; the
 * decoder applies the exact rules.
 */
int pqx_armor_is_armored(const uint8_t *peek, size_t n);

#endif
