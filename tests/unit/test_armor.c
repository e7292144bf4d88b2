/* pqx tests: age's ASCII armor (src/age/armor.c) against the age testkit's armor_* vectors and round trips. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "age/armor.h"
#include "harness.h"
#include "util/buf.h"
#include "util/util.h"

#define INTRO "age-encryption.org/v1"

/* A reader over memory that returns at most step bytes a call, and can fail at an offset. */
struct mem_reader {
	const uint8_t *p;
	size_t n, off, step;
	size_t fail_at; /* SIZE_MAX: never */
};

static int mem_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	struct mem_reader *m = ctx;
	size_t k = m->n - m->off;

	*got = 0;
	if (m->off >= m->fail_at)
		return PQX_ERR_IO;
	if (k > n)
		k = n;
	if (k > m->step)
		k = m->step;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	*got = k;
	return 0;
}

/* A writer into a pqx_buf that can fail once it holds fail_at bytes. */
struct mem_writer {
	pqx_buf *b;
	size_t fail_at;
};

static int mem_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct mem_writer *m = ctx;

	if (pqx_buf_len(m->b) + n > m->fail_at)
		return PQX_ERR_IO;
	return pqx_buf_put(m->b, buf, n);
}

/*
 * Decodes n armored bytes, reading step bytes at a time from below and
 * asking for out_step at a time from above. Returns the first error (or 0);
 * *out holds the bytes given out before it.
 */
static int decode_steps(const uint8_t *in, size_t n, size_t step, size_t out_step, pqx_buf **out)
{
	struct mem_reader m = { in, n, 0, step, SIZE_MAX };
	pqx_reader under = { mem_read, &m }, r;
	pqx_armor_reader *a = pqx_armor_reader_new(&under);
	uint8_t buf[200];
	size_t got;
	int ret = PQX_ERR_NOMEM;

	*out = pqx_buf_new(PQX_BUF_MAX_DEFAULT);
	if (a == NULL || *out == NULL || out_step > sizeof(buf))
		goto out;
	pqx_armor_reader_as_reader(a, &r);
	for (;;) {
		if ((ret = r.read(r.ctx, buf, out_step, &got)) != 0)
			break;
		if (got > out_step) {
			ret = PQX_ERR_INTERNAL;
			break;
		}
		if (got == 0)
			break;
		if ((ret = pqx_buf_put(*out, buf, got)) != 0)
			break;
	}
	/* The verdict is sticky. */
	if (ret != 0 && r.read(r.ctx, buf, sizeof(buf), &got) != ret)
		ret = PQX_ERR_INTERNAL;
out:
	pqx_armor_reader_free(a);
	return ret;
}

static int decode(const uint8_t *in, size_t n, pqx_buf **out)
{
	return decode_steps(in, n, SIZE_MAX, 200, out);
}

/* Encodes n bytes handed to the encoder in pieces of at most chunk bytes. */
static pqx_buf *encode(const uint8_t *d, size_t n, size_t chunk)
{
	struct mem_writer m = { pqx_buf_new(PQX_BUF_MAX_DEFAULT), SIZE_MAX };
	pqx_writer under = { mem_write, &m }, w;
	pqx_armor_writer *a = pqx_armor_writer_new(&under);
	int ok = m.b != NULL && a != NULL;

	if (ok) {
		pqx_armor_writer_as_writer(a, &w);
		for (size_t off = 0; off < n && ok; off += chunk)
			ok = w.write(w.ctx, d + off, n - off < chunk ? n - off : chunk) == 0;
		ok = ok && pqx_armor_writer_finish(a) == 0;
	}
	pqx_armor_writer_free(a);
	if (!ok) {
		pqx_buf_free(m.b);
		return NULL;
	}
	return m.b;
}

/* Whether b holds exactly the n bytes at p (an empty buffer may have no pointer). */
static int buf_eq(const pqx_buf *b, const uint8_t *p, size_t n)
{
	return pqx_buf_len(b) == n && (n == 0 || memcmp(pqx_buf_ptr(b), p, n) == 0);
}

static int starts_with(const pqx_buf *b, const char *s)
{
	return pqx_buf_len(b) >= strlen(s) && memcmp(pqx_buf_ptr(b), s, strlen(s)) == 0;
}

/* The encoder's canonical form: LF only, nothing before BEGIN, END then one LF. */
static int is_canonical_form(const uint8_t *p, size_t n)
{
	static const char end[] = PQX_ARMOR_END "\n";

	return n > strlen(end) && p[0] == '-' && memchr(p, '\r', n) == NULL &&
	    memcmp(p + n - strlen(end), end, strlen(end)) == 0;
}

/*
 * Inflates a zlib stream with python3 or perl through popen (the library
 * does not link zlib). Returns a malloc'd buffer, or NULL with *why set.
 */
static uint8_t *inflate_external(const uint8_t *z, size_t zn, size_t *n, const char **why)
{
	static const char *const cmds[] = {
		"python3 -c 'import sys,zlib; sys.stdout.buffer.write(zlib.decompress("
		"open(sys.argv[1],\"rb\").read()))'",
		"perl -MCompress::Zlib -e 'local $/; open(F, \"<\", $ARGV[0]) or exit 1; "
		"binmode F; binmode STDOUT; my $d = uncompress(<F>); defined $d or exit 1; "
		"print $d'",
	};
	char path[] = "/tmp/pqx-test-armor-XXXXXX", cmd[512];
	uint8_t *out = NULL;
	size_t cap = 0, len = 0, k;
	FILE *f = NULL, *p;
	int fd;

	*why = "cannot write a temporary file";
	if ((fd = mkstemp(path)) < 0)
		return NULL;
	if ((f = fdopen(fd, "wb")) == NULL || fwrite(z, 1, zn, f) != zn) {
		if (f != NULL)
			fclose(f);
		else
			close(fd);
		unlink(path);
		return NULL;
	}
	fclose(f);
	*why = "neither python3 nor perl with Compress::Zlib can inflate zlib here";
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && out == NULL; i++) {
		snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", cmds[i], path);
		if ((p = popen(cmd, "r")) == NULL)
			continue;
		len = 0;
		for (;;) {
			if (len + 4096 > cap) {
				uint8_t *nb = realloc(out, cap = 2 * cap + 4096);

				if (nb == NULL)
					break;
				out = nb;
			}
			if ((k = fread(out + len, 1, cap - len, p)) == 0)
				break;
			len += k;
		}
		if (pclose(p) != 0 || len == 0) {
			free(out);
			out = NULL;
			cap = 0;
		}
	}
	unlink(path);
	*n = len;
	return out;
}

/* The value of a "key: value" line of a testkit header, or NULL. */
static const char *header_value(const char *hdr, const char *key, char *val, size_t vsize)
{
	size_t kl = strlen(key);

	for (const char *l = hdr; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		const char *e = strchr(l, '\n');
		size_t ll = e ? (size_t)(e - l) : strlen(l);

		if (ll > kl + 2 && memcmp(l, key, kl) == 0 && l[kl] == ':' && l[kl + 1] == ' ') {
			snprintf(val, vsize, "%.*s", (int)(ll - kl - 2), l + kl + 2);
			return val;
		}
	}
	return NULL;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The age testkit (C2SP/CCTV age, testdata/armor_*): each file is a header
 * of "key: value" lines, an empty line, and the file. "expect: armor
 * failure" must fail in the armor decoder; every other must decode. Those
 * expected to get past the header decode to an age header; the two
 * "header failure" ones (armor_empty: nothing; armor_header_crlf: a CRLF
 * version line) fail in the header parser, which is not tested here.
 */
static void test_testkit(void)
{
	char *dir = t_shared_path("cctv-age/testdata"), *names[256], val[256];
	size_t nnames = 0, nfail = 0, nok = 0, ncanon = 0, nskip = 0;
	struct dirent *e;
	DIR *d;

	if (dir == NULL || (d = opendir(dir)) == NULL) {
		t_skip("../shared/cctv-age/testdata is absent");
		free(dir);
		return;
	}
	while ((e = readdir(d)) != NULL && nnames < 256)
		if (strncmp(e->d_name, "armor_", 6) == 0)
			names[nnames++] = strdup(e->d_name);
	closedir(d);
	qsort(names, nnames, sizeof(names[0]), name_cmp);
	CHECK(nnames >= 30, "found %zu armor_* vectors", nnames);
	for (size_t i = 0; i < nnames; i++) {
		char path[1024], *hdr;
		uint8_t *file, *body, *inflated = NULL;
		size_t flen = 0, blen, hlen;
		pqx_buf *out = NULL, *out1 = NULL, *re = NULL, *back = NULL;
		const char *expect, *why;
		int r, r1;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((file = t_read_file(path, &flen)) == NULL) {
			CHECK(0, "%s: cannot read", names[i]);
			continue;
		}
		body = (uint8_t *)strstr((char *)file, "\n\n");
		CHECK(body != NULL, "%s: no end of header", names[i]);
		if (body == NULL) {
			free(file);
			continue;
		}
		hlen = (size_t)(body - file) + 1;
		body += 2;
		blen = flen - (size_t)(body - file);
		hdr = strndup((char *)file, hlen);
		expect = header_value(hdr, "expect", val, sizeof(val));
		CHECK(expect != NULL, "%s: no expect line", names[i]);
		expect = expect ? strdup(expect) : strdup("?");
		if (header_value(hdr, "compressed", val, sizeof(val)) != NULL) {
			CHECK(strcmp(val, "zlib") == 0, "%s: compressed: %s", names[i], val);
			inflated = inflate_external(body, blen, &blen, &why);
			if (inflated == NULL) {
				printf("  note: %s skipped: compressed, and %s\n", names[i], why);
				nskip++;
				goto next;
			}
			body = inflated;
		}
		r = decode(body, blen, &out);
		r1 = decode_steps(body, blen, 1, 1, &out1);
		CHECK(r == r1 && out != NULL && out1 != NULL && pqx_buf_len(out) == pqx_buf_len(out1) &&
		    buf_eq(out, pqx_buf_ptr(out1), pqx_buf_len(out1)),
		    "%s: a 1-byte reader gives the same result", names[i]);
		if (strcmp(expect, "armor failure") == 0) {
			CHECK(r == PQX_ERR_FORMAT, "%s: expect armor failure, got %d", names[i], r);
			nfail++;
			goto next;
		}
		nok++;
		CHECK(r == 0, "%s: expect %s, armor decoding gives %d", names[i], expect, r);
		if (r != 0)
			goto next;
		if (strcmp(expect, "header failure") == 0)
			CHECK(pqx_buf_len(out) == 0 || starts_with(out, INTRO),
			    "%s: decodes to something else", names[i]);
		else
			CHECK(starts_with(out, INTRO "\n"), "%s: does not decode to an age file",
			    names[i]);
		/* Re-encoding decodes to the same bytes, and gives the input if it was canonical. */
		re = encode(pqx_buf_ptr(out), pqx_buf_len(out), 1000);
		CHECK(re != NULL && decode(pqx_buf_ptr(re), pqx_buf_len(re), &back) == 0 &&
		    buf_eq(back, pqx_buf_ptr(out), pqx_buf_len(out)),
		    "%s: re-encoding round trip", names[i]);
		if (is_canonical_form(body, blen)) {
			ncanon++;
			CHECK(re != NULL && buf_eq(re, body, blen),
			    "%s: canonical input re-encodes to itself", names[i]);
		}
next:
		pqx_buf_free(out);
		pqx_buf_free(out1);
		pqx_buf_free(re);
		pqx_buf_free(back);
		free(inflated);
		free((void *)expect);
		free(hdr);
		free(file);
		free(names[i]);
	}
	printf("  note: %zu armor_* vectors: %zu armor failures, %zu decoded (%zu canonical "
	       "re-encoded byte for byte), %zu skipped\n",
	    nnames, nfail, nok, ncanon, nskip);
	free(dir);
}

/* Checks an encoding line by line against OpenSSL's base64 of each 48-byte block. */
static void check_layout(const uint8_t *d, size_t n, const pqx_buf *arm)
{
	const char *p = (const char *)pqx_buf_ptr(arm);
	size_t len = pqx_buf_len(arm), off = 0, lines = (n + 47) / 48;
	unsigned char want[66];

	CHECK(len > 0 && memcmp(p, PQX_ARMOR_BEGIN "\n", strlen(PQX_ARMOR_BEGIN) + 1) == 0,
	    "%zu: BEGIN", n);
	off = strlen(PQX_ARMOR_BEGIN) + 1;
	for (size_t i = 0; i < lines; i++) {
		size_t k = n - i * 48 < 48 ? n - i * 48 : 48;
		int wl = EVP_EncodeBlock(want, d + i * 48, (int)k);

		want[wl] = '\n';
		CHECK(wl >= 4 && wl <= 64 && (i + 1 == lines || wl == 64), "%zu: line %zu", n, i);
		if (off + (size_t)wl + 1 > len || memcmp(p + off, want, (size_t)wl + 1) != 0) {
			CHECK(0, "%zu: line %zu differs from OpenSSL's base64", n, i);
			return;
		}
		off += (size_t)wl + 1;
	}
	CHECK(len - off == strlen(PQX_ARMOR_END) + 1 &&
	    memcmp(p + off, PQX_ARMOR_END "\n", len - off) == 0, "%zu: END", n);
}

static void round_trip(const uint8_t *d, size_t n, size_t chunk, int one_byte)
{
	pqx_buf *arm = encode(d, n, chunk), *out = NULL;
	int r;

	CHECK(arm != NULL, "%zu: encodes", n);
	if (arm == NULL)
		return;
	check_layout(d, n, arm);
	r = one_byte ? decode_steps(pqx_buf_ptr(arm), pqx_buf_len(arm), 1, 1, &out) :
		       decode(pqx_buf_ptr(arm), pqx_buf_len(arm), &out);
	CHECK(r == 0 && buf_eq(out, d, n),
	    "%zu bytes (chunks of %zu, 1-byte reads %d): round trip gives %d", n, chunk, one_byte,
	    r);
	pqx_buf_free(arm);
	pqx_buf_free(out);
}

/* Encoder -> decoder over sizes 0..200000, around every multiple of 48 that matters. */
static void test_round_trip(void)
{
	static uint8_t d[200001];
	static const size_t ks[] = { 1, 2, 3, 10, 21, 100, 1000, 4000, 4166 };
	uint8_t rnd[4];

	t_rand(d, sizeof(d));
	for (size_t n = 0; n <= 300 && t_case_failures() == 0; n++)
		round_trip(d, n, n % 7 + 1, n % 5 == 0);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
		for (size_t n = ks[i] * 48 - 1; n <= ks[i] * 48 + 1; n++)
			round_trip(d, n, 4096, 0);
	for (int i = 0; i < 40 && t_case_failures() == 0; i++) {
		t_rand(rnd, sizeof(rnd));
		round_trip(d, ((size_t)rnd[0] << 16 | (size_t)rnd[1] << 8 | rnd[2]) % 200001,
		    (size_t)rnd[3] * 97 + 1, i % 8 == 0);
	}
	round_trip(d, 200000, 65536, 0);
	round_trip(d, 200000, 1, 1);
}

/* Builds "BEGIN\n" + lines + "END\n" for 100 bytes: two full lines and an 8-column one. */
static pqx_buf *sample(uint8_t d[100])
{
	for (int i = 0; i < 100; i++)
		d[i] = (uint8_t)(i * 7 + 3);
	return encode(d, 100, 100);
}

static int decode_str(const char *s, size_t n, size_t *outlen)
{
	pqx_buf *out = NULL;
	int r = decode((const uint8_t *)s, n, &out), r1;

	*outlen = out ? pqx_buf_len(out) : 0;
	pqx_buf_free(out);
	r1 = decode_steps((const uint8_t *)s, n, 1, 1, &out);
	if (r1 != r || (out ? pqx_buf_len(out) : 0) != *outlen)
		r = PQX_ERR_INTERNAL;
	pqx_buf_free(out);
	return r;
}

/* Wraps the sample's text with a prefix and a suffix, and replaces its tail. */
static int decode_variant(const char *prefix, const char *body, const char *suffix,
    size_t *outlen)
{
	size_t n = strlen(prefix) + strlen(body) + strlen(suffix) + 1;
	char *s = malloc(n);
	int r;

	snprintf(s, n, "%s%s%s", prefix, body, suffix);
	r = decode_str(s, n - 1, outlen);
	free(s);
	return r;
}

/* The rules the testkit does not cover one by one. */
static void test_rules(void)
{
	uint8_t d[100];
	pqx_buf *b = sample(d);
	char *arm = b ? strndup((const char *)pqx_buf_ptr(b), pqx_buf_len(b)) : NULL;
	char *noend, *crlf, *big;
	size_t got, n;

	CHECK(arm != NULL);
	if (arm == NULL)
		goto out;
	n = strlen(arm);
	noend = strndup(arm, n - 1); /* without the final LF */
	CHECK(decode_variant("", arm, "", &got) == 0 && got == 100, "the sample");
	CHECK(decode_variant("", noend, "", &got) == 0 && got == 100, "no LF after END");
	CHECK(decode_variant("", noend, "\r", &got) == 0 && got == 100, "CR then EOF after END");
	CHECK(decode_variant("", noend, "\r\n", &got) == 0 && got == 100, "CRLF after END");
	CHECK(decode_variant("\n \t\r\n", arm, " \t\r\n\n", &got) == 0 && got == 100,
	    "whitespace lines around");
	CHECK(decode_variant("  ", arm, "", &got) == PQX_ERR_FORMAT, "spaces before BEGIN on its line");
	CHECK(decode_variant("\r", arm, "", &got) == PQX_ERR_FORMAT, "a bare CR before BEGIN");
	CHECK(decode_variant("x\n", arm, "", &got) == PQX_ERR_FORMAT, "a line before BEGIN");
	CHECK(decode_variant("", noend, " \n", &got) == PQX_ERR_FORMAT && got == 96,
	    "space after END on its line; only the full lines came out");
	CHECK(decode_variant("", noend, "\r\r\n", &got) == PQX_ERR_FORMAT, "CRCRLF after END");
	CHECK(decode_variant("", arm, "\n\nx", &got) == PQX_ERR_FORMAT && got == 96,
	    "garbage after END: the short last line is held back");
	CHECK(decode_variant("", arm, "\v", &got) == PQX_ERR_FORMAT, "vertical tab is not whitespace here");
	CHECK(decode_variant("", arm, arm, &got) == PQX_ERR_FORMAT, "two armors");

	/* Whitespace limits, as age's: 1024 before (a CRLF counts once), 1023 after. */
	big = malloc(4096);
	memset(big, '\n', 1024);
	big[1024] = '\0';
	CHECK(decode_variant(big, arm, "", &got) == 0, "1024 LFs before");
	CHECK(decode_variant("\n", arm, big + 1, &got) == 0, "1023 LFs after");
	CHECK(decode_variant("", arm, big, &got) == PQX_ERR_FORMAT && got == 96, "1024 LFs after");
	big[1023] = ' ';
	CHECK(decode_variant(big, arm, "", &got) == PQX_ERR_FORMAT, "BEGIN after a space");
	memset(big, '\n', 1025);
	big[1025] = '\0';
	CHECK(decode_variant(big, arm, "", &got) == PQX_ERR_FORMAT, "1025 LFs before");
	for (int i = 0; i < 1024; i++)
		memcpy(big + 2 * i, "\r\n", 2);
	big[2048] = '\0';
	CHECK(decode_variant(big, arm, "", &got) == 0, "1024 CRLFs before");
	memcpy(big + 2048, "\r\n", 3);
	CHECK(decode_variant(big, arm, "", &got) == PQX_ERR_FORMAT, "1025 CRLFs before");
	free(big);

	/* CRLF everywhere, and LF and CRLF mixed line by line. */
	crlf = malloc(2 * n + 1);
	{
		size_t o = 0;

		for (size_t i = 0; i < n; i++) {
			if (arm[i] == '\n')
				crlf[o++] = '\r';
			crlf[o++] = arm[i];
		}
		crlf[o] = '\0';
		CHECK(decode_variant("", crlf, "", &got) == 0 && got == 100, "CRLF");
		CHECK(decode_variant("\r\n\r\n", crlf, "\r\n", &got) == 0 && got == 100,
		    "CRLF and CRLF whitespace");
		crlf[strlen(PQX_ARMOR_BEGIN)] = '\n';
		crlf[strlen(PQX_ARMOR_BEGIN) + 1] = '\n';
		CHECK(decode_variant("", crlf, "", &got) == PQX_ERR_FORMAT, "LF LF is an empty line");
		memmove(crlf + strlen(PQX_ARMOR_BEGIN) + 1, crlf + strlen(PQX_ARMOR_BEGIN) + 2,
		    strlen(crlf + strlen(PQX_ARMOR_BEGIN) + 2) + 1);
		CHECK(decode_variant("", crlf, "", &got) == 0 && got == 100, "mixed LF and CRLF");
	}
	free(crlf);

	/* Line-level damage. BEGIN line 35 bytes, then lines of 65, 65, 9. */
	{
		char *s = malloc(n + 2); /* room for one inserted character */
		size_t l1 = strlen(PQX_ARMOR_BEGIN) + 1, l3 = l1 + 130;

		strcpy(s, arm);
		/* The last line is "xxxxxx==" (4 bytes). */
		CHECK(s[l3 + 6] == '=' && s[l3 + 7] == '=' && s[l3 + 8] == '\n', "sample layout");
		s[l3 + 5] = '=';
		CHECK(decode_variant("", s, "", &got) == PQX_ERR_FORMAT, "three padding characters");
		strcpy(s, arm);
		s[l3 + 2] = '=';
		CHECK(decode_variant("", s, "", &got) == PQX_ERR_FORMAT, "padding in the middle");
		strcpy(s, arm);
		s[l3 + 5] = (char)(s[l3 + 5] == 'B' ? 'C' : 'B'); /* low 4 bits not zero */
		CHECK(decode_variant("", s, "", &got) == PQX_ERR_FORMAT, "non-canonical last line");
		strcpy(s, arm);
		s[l1 + 10] = '=';
		CHECK(decode_variant("", s, "", &got) == PQX_ERR_FORMAT && got == 0,
		    "'=' inside a full line");
		strcpy(s, arm);
		memmove(s + l3 + 4, s + l3 + 5, strlen(s + l3 + 5) + 1);
		CHECK(decode_variant("", s, "", &got) == PQX_ERR_FORMAT, "7 columns");
		strcpy(s, arm);
		memmove(s + l3 + 3, s + l3 + 2, strlen(s + l3 + 2) + 1);
		s[l3 + 2] = '\r';
		CHECK(decode_variant("", s, "", &got) == PQX_ERR_FORMAT, "a CR inside the last line");
		strcpy(s, arm);
		s[l1 + 64] = '\0';
		CHECK(decode_variant("", s, "", &got) == PQX_ERR_FORMAT && got == 0,
		    "input ends after a full line without LF");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\n", "", &got) == PQX_ERR_FORMAT,
		    "BEGIN and nothing");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN, "", &got) == PQX_ERR_FORMAT,
		    "BEGIN without LF");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\n" PQX_ARMOR_END, "", &got) == 0 &&
		    got == 0, "empty armor");
		CHECK(decode_variant("", "", "", &got) == PQX_ERR_FORMAT, "empty input");
		CHECK(decode_variant(" \n\t\r\n", "", "", &got) == PQX_ERR_FORMAT, "only whitespace");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\nQQ==\nQQ==\n" PQX_ARMOR_END, "", &got) ==
		    PQX_ERR_FORMAT && got == 0, "a line after a short line");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\nQQ==\n" PQX_ARMOR_END, "", &got) == 0 &&
		    got == 1, "one byte");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\nQR==\n" PQX_ARMOR_END, "", &got) ==
		    PQX_ERR_FORMAT, "non-canonical unused bits");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\nQUF=\n" PQX_ARMOR_END, "", &got) ==
		    PQX_ERR_FORMAT, "non-canonical unused bits, one '='");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\nQUE=\n" PQX_ARMOR_END, "", &got) == 0 &&
		    got == 2, "two bytes");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\nQUFB\n" PQX_ARMOR_END, "", &got) == 0 &&
		    got == 3, "three bytes");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\n====\n" PQX_ARMOR_END, "", &got) ==
		    PQX_ERR_FORMAT, "only padding");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\nQUFB-_==\n" PQX_ARMOR_END, "", &got) ==
		    PQX_ERR_FORMAT, "base64url characters");
		CHECK(decode_variant("", PQX_ARMOR_BEGIN "\r\n\r\n" PQX_ARMOR_END, "", &got) ==
		    PQX_ERR_FORMAT, "an empty CRLF line");
		free(s);
	}
	/* A 64-column last line with padding (46 and 47 bytes) is well-formed. */
	{
		char line[200];

		memset(line, 'A', 64);
		memcpy(line + 62, "==", 2);
		snprintf(line + 64, sizeof(line) - 64, "\n%s\n", PQX_ARMOR_END);
		CHECK(decode_variant(PQX_ARMOR_BEGIN "\n", line, "", &got) == 0 && got == 46,
		    "64 columns, 46 bytes");
		memset(line, 'A', 64);
		snprintf(line + 64, sizeof(line) - 64, "A\n%s\n", PQX_ARMOR_END);
		CHECK(decode_variant(PQX_ARMOR_BEGIN "\n", line, "", &got) == PQX_ERR_FORMAT,
		    "65 columns");
		memset(line, 'A', 64);
		snprintf(line + 64, sizeof(line) - 64, "AAA\n%s\n", PQX_ARMOR_END);
		CHECK(decode_variant(PQX_ARMOR_BEGIN "\n", line, "", &got) == PQX_ERR_FORMAT,
		    "67 columns");
	}
	free(noend);
out:
	free(arm);
	pqx_buf_free(b);
}

/* Bytes come out line by line, before later damage is seen; errors from below pass through. */
static void test_streaming(void)
{
	uint8_t d[480], buf[1000];
	pqx_buf *arm;
	struct mem_reader m;
	pqx_reader under = { mem_read, &m }, r;
	pqx_armor_reader *a;
	size_t got = 0, total = 0;
	int ret;

	t_rand(d, sizeof(d));
	arm = encode(d, sizeof(d), 480);
	CHECK(arm != NULL);
	if (arm == NULL)
		return;
	/* Fail the input in the middle of the fifth line: four lines come out, then the error. */
	m = (struct mem_reader){ pqx_buf_ptr(arm), pqx_buf_len(arm), 0, 7, 35 + 4 * 65 + 10 };
	a = pqx_armor_reader_new(&under);
	pqx_armor_reader_as_reader(a, &r);
	while ((ret = r.read(r.ctx, buf, sizeof(buf), &got)) == 0 && got > 0) {
		CHECK(memcmp(buf, d + total, got) == 0);
		total += got;
	}
	CHECK(ret == PQX_ERR_IO && total == 4 * 48, "IO error after %zu bytes: %d", total, ret);
	CHECK(r.read(r.ctx, buf, sizeof(buf), &got) == PQX_ERR_IO && got == 0, "sticky");
	pqx_armor_reader_free(a);
	pqx_armor_reader_free(NULL);
	pqx_buf_free(arm);
}

static void test_writer_errors(void)
{
	uint8_t d[1000];
	struct mem_writer m = { pqx_buf_new(1 << 20), SIZE_MAX };
	pqx_writer under = { mem_write, &m }, w;
	pqx_armor_writer *a = pqx_armor_writer_new(&under);

	t_rand(d, sizeof(d));
	/* Nothing written: a complete empty armor. */
	CHECK(a != NULL && pqx_armor_writer_finish(a) == 0);
	CHECK(pqx_buf_len(m.b) == strlen(PQX_ARMOR_BEGIN "\n" PQX_ARMOR_END "\n") &&
	    memcmp(pqx_buf_ptr(m.b), PQX_ARMOR_BEGIN "\n" PQX_ARMOR_END "\n", pqx_buf_len(m.b)) == 0,
	    "empty armor");
	CHECK(pqx_armor_writer_finish(a) == PQX_ERR_INVALID_ARG, "finish twice");
	pqx_armor_writer_as_writer(a, &w);
	CHECK(w.write(w.ctx, d, 1) == PQX_ERR_INVALID_ARG, "write after finish");
	pqx_armor_writer_free(a);

	/* A failing writer below: the error comes back and stays. */
	pqx_buf_reset(m.b);
	m.fail_at = 500;
	a = pqx_armor_writer_new(&under);
	pqx_armor_writer_as_writer(a, &w);
	CHECK(w.write(w.ctx, d, 100) == 0, "two lines pass");
	CHECK(w.write(w.ctx, d, 1000) == PQX_ERR_IO, "the failure is returned");
	CHECK(w.write(w.ctx, d, 1) == PQX_ERR_IO, "and sticky");
	CHECK(pqx_armor_writer_finish(a) == PQX_ERR_IO, "finish too");
	pqx_armor_writer_free(a);

	/* A failure at the very end (the END line). */
	pqx_buf_reset(m.b);
	m.fail_at = 35 + 65 + 10;
	a = pqx_armor_writer_new(&under);
	pqx_armor_writer_as_writer(a, &w);
	CHECK(w.write(w.ctx, d, 50) == 0);
	CHECK(pqx_armor_writer_finish(a) == PQX_ERR_IO, "END line write fails");
	pqx_armor_writer_free(a);
	pqx_armor_writer_free(NULL);
	pqx_buf_free(m.b);
}

static int fail_always(void)
{
	return 1;
}

static void test_alloc_failure(void)
{
	pqx_reader r = { mem_read, NULL };
	pqx_writer w = { mem_write, NULL };

	pqx_test_set_alloc_fault(fail_always);
	CHECK(pqx_armor_reader_new(&r) == NULL);
	CHECK(pqx_armor_writer_new(&w) == NULL);
	pqx_test_set_alloc_fault(NULL);
}

static void test_is_armored(void)
{
	const char *yes[] = {
		PQX_ARMOR_BEGIN "\n",
		PQX_ARMOR_BEGIN,
		" \t\r\n\r\n" PQX_ARMOR_BEGIN "\r\nYWdl",
	};
	const char *no[] = {
		"",
		"age-encryption.org/v1\n-> X25519 ",
		"-----BEGIN AGE ENCRYPTED FIL",
		"-----BEGIN age ENCRYPTED FILE-----\n",
		"\v" PQX_ARMOR_BEGIN,
		"x" PQX_ARMOR_BEGIN,
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		CHECK(pqx_armor_is_armored((const uint8_t *)yes[i], strlen(yes[i])) == 1, "yes %zu", i);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(pqx_armor_is_armored((const uint8_t *)no[i], strlen(no[i])) == 0, "no %zu", i);
	CHECK(pqx_armor_is_armored(NULL, 0) == 0);
	CHECK(PQX_ARMOR_PEEK_BYTES >= 2 * PQX_ARMOR_MAX_WHITESPACE + strlen(PQX_ARMOR_BEGIN));
}

int main(void)
{
	t_run("armor testkit vectors (cctv-age armor_*)", test_testkit);
	t_run("armor round trips 0..200000 bytes", test_round_trip);
	t_run("armor strict rules", test_rules);
	t_run("armor streaming and reader errors", test_streaming);
	t_run("armor writer errors", test_writer_errors);
	t_run("armor allocation failures", test_alloc_failure);
	t_run("armor detection", test_is_armored);
	return t_done();
}
