/* pqx: the age header: strict parsing, canonical encoding and the header MAC. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "age/age_int.h"
#include "crypto/ossl.h"
#include "util/base64.h"
#include "util/util.h"

#define AGE_COLUMNS 64 /* base64 characters per full body line */

static _Thread_local char age_detail[160];

int age_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(age_detail, sizeof(age_detail), fmt, ap);
	va_end(ap);
	return err;
}

const char *pqx_age_error_detail(void)
{
	return age_detail;
}

static char *str_dup(const char *s, size_t n)
{
	char *d = pqx_malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void stanza_free(struct age_stanza *s)
{
	if (s->type != NULL)
		pqx_free_wipe(s->type, strlen(s->type));
	for (size_t i = 0; i < s->nargs; i++)
		pqx_free_wipe(s->args[i], strlen(s->args[i]));
	pqx_free(s->args);
	pqx_free_wipe(s->body, s->body_len);
	memset(s, 0, sizeof(*s));
}

void age_header_free(struct age_header *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		stanza_free(&h->stanzas[i]);
	pqx_free(h->stanzas);
	memset(h, 0, sizeof(*h));
}

/* Appends an empty stanza and returns it, or NULL. */
static struct age_stanza *header_push(struct age_header *h)
{
	if (h->n == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 4;
		struct age_stanza *ns;

		if (ncap > PQX_AGE_MAX_STANZAS)
			ncap = PQX_AGE_MAX_STANZAS;
		if (h->n == ncap || (ns = pqx_calloc(ncap, sizeof(*ns))) == NULL)
			return NULL;
		if (h->n > 0)
			memcpy(ns, h->stanzas, h->n * sizeof(*ns));
		pqx_free(h->stanzas);
		h->stanzas = ns;
		h->cap = ncap;
	}
	memset(&h->stanzas[h->n], 0, sizeof(h->stanzas[h->n]));
	return &h->stanzas[h->n++];
}

int age_header_add(struct age_header *h, const char *type, const char *const *args,
    size_t nargs, const uint8_t *body, size_t body_len)
{
	struct age_stanza *s;

	if ((s = header_push(h)) == NULL)
		return PQX_ERR_NOMEM;
	if ((s->type = str_dup(type, strlen(type))) == NULL ||
	    (s->args = pqx_calloc(nargs, sizeof(char *))) == NULL ||
	    (s->body = pqx_malloc(body_len)) == NULL)
		goto fail;
	for (; s->nargs < nargs; s->nargs++)
		if ((s->args[s->nargs] = str_dup(args[s->nargs], strlen(args[s->nargs]))) == NULL)
			goto fail;
	if (body_len > 0)
		memcpy(s->body, body, body_len);
	s->body_len = body_len;
	return 0;
fail:
	stanza_free(s);
	h->n--;
	return PQX_ERR_NOMEM;
}

/* Takes the next '\n'-terminated line from b, without the '\n'. */
static int next_line(pqx_buf *b, const char **line, size_t *len)
{
	size_t pos;

	if (pqx_buf_find(b, '\n', &pos) != 0)
		return age_fail(PQX_ERR_HEADER, "header: unexpected end of header");
	*line = (const char *)pqx_buf_ptr(b);
	*len = pos;
	return pqx_buf_skip(b, pos + 1);
}

static int is_vchar(char c)
{
	return c >= 33 && c <= 126;
}

/* Parses "-> type arg...": arguments are non-empty runs of VCHARs split by one space. */
static int parse_stanza_line(struct age_stanza *s, const char *line, size_t len)
{
	size_t i, start, count = 0;

	if (len < 3 || memcmp(line, "-> ", 3) != 0)
		return age_fail(PQX_ERR_HEADER, "header: a stanza must start with \"-> \"");
	for (i = 3; i <= len; i++)
		if (i == len || line[i] == ' ')
			count++;
	if ((s->args = pqx_calloc(count, sizeof(char *))) == NULL)
		return PQX_ERR_NOMEM;
	for (start = i = 3; i <= len; i++) {
		char *arg;

		if (i < len && line[i] != ' ') {
			if (!is_vchar(line[i]))
				return age_fail(PQX_ERR_HEADER,
				    "header: invalid character in a stanza argument");
			continue;
		}
		if (i == start)
			return age_fail(PQX_ERR_HEADER, "header: empty stanza argument");
		if ((arg = str_dup(line + start, i - start)) == NULL)
			return PQX_ERR_NOMEM;
		if (s->type == NULL)
			s->type = arg;
		else
			s->args[s->nargs++] = arg;
		start = i + 1;
	}
	return 0;
}

/* Body lines: full 64-column lines, then exactly one shorter (maybe empty) line. */
static int parse_stanza_body(struct age_stanza *s, pqx_buf *b)
{
	pqx_buf *body = NULL;
	uint8_t dec[AGE_COLUMNS / 4 * 3];
	const char *line = NULL;
	size_t len = 0, n;
	int r;

	if ((body = pqx_buf_new(PQX_AGE_MAX_HEADER_BYTES)) == NULL)
		return PQX_ERR_NOMEM;
	for (;;) {
		if ((r = next_line(b, &line, &len)) != 0)
			goto out;
		if (len > AGE_COLUMNS) {
			r = age_fail(PQX_ERR_HEADER, "header: stanza body line longer than 64 columns");
			goto out;
		}
		if (pqx_base64_decode(dec, &n, line, len, 0) != 0) {
			r = age_fail(PQX_ERR_HEADER, "header: invalid base64 in a stanza body");
			goto out;
		}
		if ((r = pqx_buf_put(body, dec, n)) != 0)
			goto out;
		if (len < AGE_COLUMNS)
			break;
	}
	s->body_len = pqx_buf_len(body);
	if ((s->body = pqx_malloc(s->body_len)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if (s->body_len > 0)
		memcpy(s->body, pqx_buf_ptr(body), s->body_len);
	r = 0;
out:
	pqx_buf_free(body);
	return r;
}

int age_header_parse(struct age_header *h, const uint8_t *p, size_t n, size_t *mac_len)
{
	pqx_buf b;
	const char *line = NULL;
	size_t len = 0, mlen;
	int r;

	memset(h, 0, sizeof(*h));
	pqx_buf_view(&b, p, n);
	if ((r = next_line(&b, &line, &len)) != 0)
		goto out;
	if (len + 1 != strlen(AGE_INTRO) || memcmp(line, AGE_INTRO, len) != 0) {
		int vers = len > 19 && memcmp(line, "age-encryption.org/", 19) == 0;

		for (size_t i = 19; vers && i < len; i++)
			vers = is_vchar(line[i]);
		r = vers ? age_fail(PQX_ERR_UNSUPPORTED, "header: unsupported age version")
			 : age_fail(PQX_ERR_HEADER, "header: not an age file (bad first line)");
		goto out;
	}
	for (;;) {
		struct age_stanza *s;

		if (pqx_buf_len(&b) >= 3 && memcmp(pqx_buf_ptr(&b), "---", 3) == 0)
			break;
		if ((s = header_push(h)) == NULL) {
			r = h->n >= PQX_AGE_MAX_STANZAS ?
			    age_fail(PQX_ERR_HEADER, "header: more than %d stanzas", PQX_AGE_MAX_STANZAS) :
			    PQX_ERR_NOMEM;
			goto out;
		}
		if ((r = next_line(&b, &line, &len)) != 0 ||
		    (r = parse_stanza_line(s, line, len)) != 0 ||
		    (r = parse_stanza_body(s, &b)) != 0)
			goto out;
	}
	*mac_len = n - pqx_buf_len(&b) + 3;
	/* The footer: "--- " and the canonical unpadded base64 of 32 bytes. */
	if ((r = next_line(&b, &line, &len)) != 0)
		goto out;
	if (len != 4 + 43 || memcmp(line, "--- ", 4) != 0 ||
	    pqx_base64_decode(h->mac, &mlen, line + 4, 43, 0) != 0 || mlen != AGE_MAC_BYTES) {
		r = age_fail(PQX_ERR_HEADER, "header: malformed MAC line");
		goto out;
	}
	if (pqx_buf_expect_end(&b) != 0) {
		r = age_fail(PQX_ERR_HEADER, "header: data after the MAC line");
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		age_header_free(h);
	return r;
}

int age_header_encode(const struct age_header *h, pqx_buf *out, int with_mac)
{
	char line[AGE_COLUMNS + 1], mac[44];
	int r;

	if ((r = pqx_buf_put(out, AGE_INTRO, strlen(AGE_INTRO))) != 0)
		return r;
	for (size_t i = 0; i < h->n; i++) {
		const struct age_stanza *s = &h->stanzas[i];
		size_t off = 0;

		if ((r = pqx_buf_put(out, "-> ", 3)) != 0 ||
		    (r = pqx_buf_put(out, s->type, strlen(s->type))) != 0)
			return r;
		for (size_t j = 0; j < s->nargs; j++)
			if ((r = pqx_buf_put_u8(out, ' ')) != 0 ||
			    (r = pqx_buf_put(out, s->args[j], strlen(s->args[j]))) != 0)
				return r;
		if ((r = pqx_buf_put_u8(out, '\n')) != 0)
			return r;
		/* Full lines, then a final short line, empty if need be. */
		for (;;) {
			size_t k = s->body_len - off > 48 ? 48 : s->body_len - off;

			pqx_base64_encode(line, s->body + off, k, 0);
			if ((r = pqx_buf_put(out, line, strlen(line))) != 0 ||
			    (r = pqx_buf_put_u8(out, '\n')) != 0)
				return r;
			off += k;
			if (k < 48)
				break;
		}
	}
	if ((r = pqx_buf_put(out, "---", 3)) != 0)
		return r;
	if (with_mac) {
		pqx_base64_encode(mac, h->mac, AGE_MAC_BYTES, 0);
		if ((r = pqx_buf_put_u8(out, ' ')) != 0 ||
		    (r = pqx_buf_put(out, mac, strlen(mac))) != 0 ||
		    (r = pqx_buf_put_u8(out, '\n')) != 0)
			return r;
	}
	return 0;
}

int age_header_read(pqx_breader *r, pqx_buf *raw)
{
	const uint8_t *line;
	size_t len;
	int ret;

	for (;;) {
		ret = pqx_breader_line(r, &line, &len);
		if (pqx_buf_len(raw) == 0 && (ret == PQX_ERR_TRUNCATED || ret == PQX_ERR_LIMIT))
			return age_fail(PQX_ERR_HEADER, "header: not an age file");
		if (ret == PQX_ERR_TRUNCATED)
			return age_fail(PQX_ERR_HEADER, "header: the file ends inside the header");
		if (ret == PQX_ERR_LIMIT)
			return age_fail(PQX_ERR_HEADER, "header: a line is longer than %u bytes",
			    PQX_AGE_MAX_LINE_BYTES);
		if (ret != 0)
			return ret;
		/* Reject a file that does not start like age before reading on. */
		if (pqx_buf_len(raw) == 0 && (len < 4 || memcmp(line, "age-", 4) != 0))
			return age_fail(PQX_ERR_HEADER, "header: not an age file (bad first line)");
		ret = pqx_buf_put(raw, line, len);
		if (ret == PQX_ERR_LIMIT)
			return age_fail(PQX_ERR_HEADER, "header: larger than %u bytes",
			    PQX_AGE_MAX_HEADER_BYTES);
		if (ret != 0)
			return ret;
		if (len >= 3 && memcmp(line, "---", 3) == 0)
			return 0;
	}
}

int age_header_mac(uint8_t mac[AGE_MAC_BYTES], const uint8_t file_key[16],
    const uint8_t *p, size_t n)
{
	static const uint8_t info[] = "header";
	uint8_t key[32];
	int r;

	if ((r = pqx_hkdf_sha256(key, sizeof(key), NULL, 0, file_key, 16, info,
		 sizeof(info) - 1)) == 0)
		r = pqx_hmac_sha256(mac, key, sizeof(key), p, n);
	pqx_wipe(key, sizeof(key));
	return r;
}
