/* pqx tests: the age testkit (C2SP CCTV age/testdata): every vector's expected outcome and payload. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <pqx.h>

#include "crypto/ossl.h"
#include "harness.h"

struct vec {
	char expect[32];
	uint8_t payload[32];
	int has_payload, armored, compressed;
	char *ids[8];
	int nids;
	char *pass[8];
	int npass;
	uint8_t *body;
	size_t body_len;
};

struct sink {
	uint8_t *p;
	size_t len, cap;
};

static int sink_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct sink *s = ctx;

	if (s->len + n > s->cap) {
		size_t ncap = (s->len + n) * 2;
		uint8_t *np = realloc(s->p, ncap);

		if (np == NULL)
			return PQX_ERR_NOMEM;
		s->p = np;
		s->cap = ncap;
	}
	memcpy(s->p + s->len, buf, n);
	s->len += n;
	return 0;
}

struct src {
	const uint8_t *p;
	size_t len, off, step;
};

/* Serves the input in uneven pieces, to exercise every buffering path. */
static int src_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	struct src *s = ctx;

	if (s->step > 0 && n > s->step)
		n = s->step;
	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	*got = n;
	return 0;
}

static uint8_t *inflate_all(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = len * 4 + 1024;
	uint8_t *out = malloc(cap);
	int r;

	memset(&z, 0, sizeof(z));
	if (out == NULL || inflateInit(&z) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (uint8_t *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	for (;;) {
		z.next_out = out + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		r = inflate(&z, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			break;
		if (r != Z_OK && r != Z_BUF_ERROR) {
			free(out);
			inflateEnd(&z);
			return NULL;
		}
		if (z.avail_out == 0) {
			uint8_t *n = realloc(out, cap * 2);

			if (n == NULL) {
				free(out);
				inflateEnd(&z);
				return NULL;
			}
			out = n;
			cap *= 2;
		}
	}
	*out_len = z.total_out;
	inflateEnd(&z);
	return out;
}

static int parse_vector(struct vec *v, uint8_t *data, size_t len)
{
	char *p = (char *)data, *end = (char *)data + len;

	memset(v, 0, sizeof(*v));
	while (p < end && *p != '\n') {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *val;

		if (nl == NULL)
			return -1;
		*nl = '\0';
		if ((val = strstr(p, ": ")) == NULL)
			return -1;
		*val = '\0';
		val += 2;
		if (strcmp(p, "expect") == 0)
			snprintf(v->expect, sizeof(v->expect), "%s", val);
		else if (strcmp(p, "payload") == 0)
			v->has_payload = t_unhex(v->payload, 32, val) == 0;
		else if (strcmp(p, "identity") == 0 && v->nids < 8)
			v->ids[v->nids++] = val;
		else if (strcmp(p, "passphrase") == 0 && v->npass < 8)
			v->pass[v->npass++] = val;
		else if (strcmp(p, "armored") == 0)
			v->armored = strcmp(val, "yes") == 0;
		else if (strcmp(p, "compressed") == 0)
			v->compressed = strcmp(val, "zlib") == 0;
		p = nl + 1;
	}
	if (p >= end)
		return -1;
	p++; /* the empty line */
	v->body = (uint8_t *)p;
	v->body_len = (size_t)(end - p);
	return 0;
}

/* The testkit's outcome classes from our error codes. */
static const char *classify(int r)
{
	const char *detail = pqx_age_error_detail();

	switch (r) {
	case 0: return "success";
	case PQX_ERR_NO_MATCH: return "no match";
	case PQX_ERR_ARMOR: return "armor failure";
	case PQX_ERR_HEADER:
	case PQX_ERR_UNSUPPORTED:
	case PQX_ERR_WORK_FACTOR: return "header failure";
	case PQX_ERR_AUTH: return strncmp(detail, "header", 6) == 0 ? "HMAC failure" : "payload failure";
	case PQX_ERR_TRUNCATED:
	case PQX_ERR_TRAILING:
	case PQX_ERR_FORMAT: return "payload failure";
	default: return "other error";
	}
}

static int run_vector(const char *name, const struct vec *v, unsigned int threads, size_t step)
{
	pqx_age_identity *ids[16];
	size_t n = 0;
	struct sink out = { NULL, 0, 0 };
	struct src in = { v->body, v->body_len, 0, step };
	pqx_reader rd = { src_read, &in };
	pqx_writer wr = { sink_write, &out };
	pqx_age_options opt;
	uint8_t hash[32];
	const char *got;
	int r, ok = 1;

	for (int i = 0; i < v->nids; i++)
		if (pqx_age_identity_parse(&ids[n], v->ids[i]) == 0)
			n++;
	for (int i = 0; i < v->npass; i++)
		if (pqx_age_identity_scrypt(&ids[n], (const uint8_t *)v->pass[i],
			strlen(v->pass[i]), 0) == 0)
			n++;
	memset(&opt, 0, sizeof(opt));
	opt.threads = threads;
	opt.armor = v->armored;
	r = pqx_age_decrypt(ids, n, &rd, &wr, &opt);
	got = classify(r);
	if (strcmp(got, v->expect) != 0) {
		t_fail(__FILE__, __LINE__, "%s (threads %u): expected %s, got %s (%s: %s)", name,
		    threads, v->expect, got, pqx_strerror(r), pqx_age_error_detail());
		ok = 0;
	} else if (v->has_payload && (r == 0 || strcmp(got, "payload failure") == 0)) {
		/* Exactly the authenticated prefix, and nothing more, was released. */
		if (pqx_sha256(hash, out.p ? out.p : (const uint8_t *)"", out.len) != 0 ||
		    memcmp(hash, v->payload, 32) != 0) {
			t_fail(__FILE__, __LINE__, "%s (threads %u): released payload (%zu bytes) "
			    "does not match the expected hash", name, threads, out.len);
			ok = 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		pqx_age_identity_free(ids[i]);
	free(out.p);
	return ok;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_testkit(void)
{
	char *dir = t_shared_path("cctv-age/testdata");
	DIR *d;
	struct dirent *e;
	char *names[512];
	size_t count = 0, passed = 0;

	if (dir == NULL || (d = opendir(dir)) == NULL) {
		t_skip("../shared/cctv-age/testdata is absent");
		free(dir);
		return;
	}
	while ((e = readdir(d)) != NULL && count < 512)
		if (e->d_name[0] != '.')
			names[count++] = strdup(e->d_name);
	closedir(d);
	qsort(names, count, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < count; i++) {
		char path[1024];
		uint8_t *raw, *plain = NULL;
		size_t len, plen;
		struct vec v;
		int ok = 1;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((raw = t_read_file(path, &len)) == NULL || parse_vector(&v, raw, len) != 0) {
			t_fail(__FILE__, __LINE__, "%s: unreadable vector", names[i]);
			free(raw);
			continue;
		}
		if (v.compressed) {
			if ((plain = inflate_all(v.body, v.body_len, &plen)) == NULL) {
				t_fail(__FILE__, __LINE__, "%s: bad zlib data", names[i]);
				free(raw);
				continue;
			}
			v.body = plain;
			v.body_len = plen;
		}
		/* One worker, several workers, and an input trickling in odd pieces. */
		ok &= run_vector(names[i], &v, 1, 0);
		ok &= run_vector(names[i], &v, 4, 0);
		ok &= run_vector(names[i], &v, 3, 4093);
		passed += (size_t)ok;
		free(plain);
		free(raw);
	}
	printf("  testkit: %zu of %zu vectors as expected\n", passed, count);
	CHECK(count >= 143, "expected at least 143 vectors, found %zu", count);
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(dir);
}

int main(void)
{
	t_run("age testkit (C2SP CCTV), all vectors, 1/3/4 threads", test_testkit);
	return t_done();
}
