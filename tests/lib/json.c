/* pqx tests: the strict JSON reader behind json.h (recursive descent into a tree). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct json {
	enum json_type type;
	int boolean;
	char *str;          /* string: decoded UTF-8; number: its literal text */
	size_t len;         /* bytes in str, without the terminating NUL */
	struct json **item; /* array items, or object member values */
	char **key;         /* object member names */
	size_t n, cap;
};

struct parser {
	const char *start, *p, *end;
	int depth;
	char *err;
	size_t errlen;
	int failed;
};

static struct json *parse_value(struct parser *ps);

static void perr(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first error only: later ones are consequences. */
static void perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return;
	ps->failed = 1;
	if (ps->err == NULL || ps->errlen == 0)
		return;
	n = snprintf(ps->err, ps->errlen, "offset %zu: ", (size_t)(ps->p - ps->start));
	if (n < 0 || (size_t)n >= ps->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static struct json *node_new(struct parser *ps, enum json_type type)
{
	struct json *v = calloc(1, sizeof(*v));

	if (v == NULL)
		perr(ps, "out of memory");
	else
		v->type = type;
	return v;
}

void json_free(struct json *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		json_free(v->item[i]);
		if (v->key != NULL)
			free(v->key[i]);
	}
	free(v->item);
	free(v->key);
	free(v->str);
	free(v);
}

/* Appends an item (and for objects its key); takes ownership of both. */
static int node_push(struct parser *ps, struct json *v, char *key, struct json *item)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct json **ni;
		char **nk;

		if ((ni = realloc(v->item, cap * sizeof(*ni))) == NULL)
			goto oom;
		v->item = ni;
		if (v->type == JSON_OBJECT) {
			if ((nk = realloc(v->key, cap * sizeof(*nk))) == NULL)
				goto oom;
			v->key = nk;
		}
		v->cap = cap;
	}
	v->item[v->n] = item;
	if (v->type == JSON_OBJECT)
		v->key[v->n] = key;
	v->n++;
	return 0;
oom:
	perr(ps, "out of memory");
	json_free(item);
	free(key);
	return -1;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	    (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int peek(struct parser *ps)
{
	return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most avail bytes), or
 * 0 if it is not one: no overlong forms, no surrogates, nothing past U+10FFFF
 * (the table of Unicode 15, section 3.9, D92).
 */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
	unsigned c = s[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Parses a string at ps->p (on the opening quote) into a malloc'd buffer. */
static char *parse_string_raw(struct parser *ps, size_t *lenp)
{
	const char *q;
	char *out, *o;

	ps->p++;
	/* Find the closing quote first: decoding never grows the text. */
	for (q = ps->p; q < ps->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < ps->end)
			q++;
	if (q >= ps->end) {
		perr(ps, "unterminated string");
		return NULL;
	}
	if ((out = malloc((size_t)(q - ps->p) + 1)) == NULL) {
		perr(ps, "out of memory");
		return NULL;
	}
	o = out;
	while (ps->p < q) {
		unsigned char c = (unsigned char)*ps->p;
		unsigned cp, lo;
		size_t n;

		if (c < 0x20) {
			perr(ps, "control character 0x%02x in string", c);
			goto fail;
		}
		if (c >= 0x80) {
			if ((n = utf8_len((const unsigned char *)ps->p, (size_t)(q - ps->p))) == 0) {
				perr(ps, "invalid UTF-8 in string");
				goto fail;
			}
			memcpy(o, ps->p, n);
			o += n;
			ps->p += n;
			continue;
		}
		if (c != '\\') {
			*o++ = (char)c;
			ps->p++;
			continue;
		}
		/* An escape; q is past every escaped character, so ps->p + 1 < q. */
		switch (ps->p[1]) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (q - ps->p < 6 || hex4(ps->p + 2, &cp) != 0) {
				perr(ps, "bad \\u escape");
				goto fail;
			}
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				perr(ps, "lone low surrogate");
				goto fail;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (q - ps->p < 12 || ps->p[6] != '\\' || ps->p[7] != 'u' ||
				    hex4(ps->p + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
					perr(ps, "high surrogate without a low surrogate");
					goto fail;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				ps->p += 6;
			}
			o += put_utf8(o, cp);
			ps->p += 6;
			continue;
		default:
			perr(ps, "unknown escape");
			goto fail;
		}
		ps->p += 2;
	}
	ps->p = q + 1;
	*o = '\0';
	*lenp = (size_t)(o - out);
	return out;
fail:
	free(out);
	return NULL;
}

static struct json *parse_number(struct parser *ps)
{
	const char *s = ps->p;
	struct json *v;
	size_t n;

	if (peek(ps) == '-')
		ps->p++;
	if (peek(ps) == '0') {
		ps->p++;
		if (is_digit(peek(ps))) {
			perr(ps, "leading zero in number");
			return NULL;
		}
	} else if (is_digit(peek(ps))) {
		while (is_digit(peek(ps)))
			ps->p++;
	} else {
		perr(ps, "bad number");
		return NULL;
	}
	if (peek(ps) == '.') {
		ps->p++;
		if (!is_digit(peek(ps))) {
			perr(ps, "no digits after the decimal point");
			return NULL;
		}
		while (is_digit(peek(ps)))
			ps->p++;
	}
	if (peek(ps) == 'e' || peek(ps) == 'E') {
		ps->p++;
		if (peek(ps) == '+' || peek(ps) == '-')
			ps->p++;
		if (!is_digit(peek(ps))) {
			perr(ps, "no digits in the exponent");
			return NULL;
		}
		while (is_digit(peek(ps)))
			ps->p++;
	}
	if ((v = node_new(ps, JSON_NUMBER)) == NULL)
		return NULL;
	n = (size_t)(ps->p - s);
	if ((v->str = malloc(n + 1)) == NULL) {
		perr(ps, "out of memory");
		free(v);
		return NULL;
	}
	memcpy(v->str, s, n);
	v->str[n] = '\0';
	v->len = n;
	return v;
}

static struct json *parse_array(struct parser *ps)
{
	struct json *v, *item;

	if ((v = node_new(ps, JSON_ARRAY)) == NULL)
		return NULL;
	ps->p++;
	skip_ws(ps);
	if (peek(ps) == ']') {
		ps->p++;
		return v;
	}
	for (;;) {
		if ((item = parse_value(ps)) == NULL || node_push(ps, v, NULL, item) != 0)
			goto fail;
		skip_ws(ps);
		if (peek(ps) == ']') {
			ps->p++;
			return v;
		}
		if (peek(ps) != ',') {
			perr(ps, "expected ',' or ']' in array");
			goto fail;
		}
		ps->p++;
	}
fail:
	json_free(v);
	return NULL;
}

static struct json *parse_object(struct parser *ps)
{
	struct json *v, *item;
	char *key;
	size_t klen;

	if ((v = node_new(ps, JSON_OBJECT)) == NULL)
		return NULL;
	ps->p++;
	skip_ws(ps);
	if (peek(ps) == '}') {
		ps->p++;
		return v;
	}
	for (;;) {
		skip_ws(ps);
		if (peek(ps) != '"') {
			perr(ps, "expected a member name");
			goto fail;
		}
		if ((key = parse_string_raw(ps, &klen)) == NULL)
			goto fail;
		if (strlen(key) != klen) {
			perr(ps, "member name holds \\u0000");
			free(key);
			goto fail;
		}
		if (json_get(v, key) != NULL) {
			perr(ps, "duplicate member name \"%s\"", key);
			free(key);
			goto fail;
		}
		skip_ws(ps);
		if (peek(ps) != ':') {
			perr(ps, "expected ':' after member name");
			free(key);
			goto fail;
		}
		ps->p++;
		if ((item = parse_value(ps)) == NULL) {
			free(key);
			goto fail;
		}
		if (node_push(ps, v, key, item) != 0)
			goto fail;
		skip_ws(ps);
		if (peek(ps) == '}') {
			ps->p++;
			return v;
		}
		if (peek(ps) != ',') {
			perr(ps, "expected ',' or '}' in object");
			goto fail;
		}
		ps->p++;
	}
fail:
	json_free(v);
	return NULL;
}

static struct json *parse_literal(struct parser *ps, const char *word,
    enum json_type type, int boolean)
{
	size_t n = strlen(word);
	struct json *v;

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		perr(ps, "unexpected character");
		return NULL;
	}
	ps->p += n;
	if ((v = node_new(ps, type)) != NULL)
		v->boolean = boolean;
	return v;
}

static struct json *parse_value(struct parser *ps)
{
	struct json *v = NULL;
	int c;

	skip_ws(ps);
	if (++ps->depth > JSON_MAX_DEPTH) {
		perr(ps, "nested deeper than %d", JSON_MAX_DEPTH);
		return NULL;
	}
	switch ((c = peek(ps))) {
	case -1:
		perr(ps, "unexpected end of input");
		break;
	case '{':
		v = parse_object(ps);
		break;
	case '[':
		v = parse_array(ps);
		break;
	case '"':
		if ((v = node_new(ps, JSON_STRING)) == NULL)
			break;
		if ((v->str = parse_string_raw(ps, &v->len)) == NULL) {
			free(v);
			v = NULL;
		}
		break;
	case 't':
		v = parse_literal(ps, "true", JSON_BOOL, 1);
		break;
	case 'f':
		v = parse_literal(ps, "false", JSON_BOOL, 0);
		break;
	case 'n':
		v = parse_literal(ps, "null", JSON_NULL, 0);
		break;
	default:
		if (c == '-' || is_digit(c))
			v = parse_number(ps);
		else
			perr(ps, "unexpected character 0x%02x", (unsigned)c);
		break;
	}
	ps->depth--;
	return v;
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps = { text, text, text + len, 0, err, errlen, 0 };
	struct json *v;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((v = parse_value(&ps)) == NULL)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		perr(&ps, "trailing data after the value");
		json_free(v);
		return NULL;
	}
	return v;
}

struct json *json_parse_file(const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;
	struct json *v = NULL;

	if ((f = fopen(path, "rb")) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			if ((nb = realloc(buf, cap)) == NULL) {
				if (err != NULL && errlen > 0)
					snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		if ((r = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	if (ferror(f)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	v = json_parse(buf, n, err, errlen);
out:
	free(buf);
	fclose(f);
	return v;
}

enum json_type json_type(const struct json *v)
{
	return v == NULL ? JSON_NULL : v->type;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT || key == NULL)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (strcmp(obj->key[i], key) == 0)
			return obj->item[i];
	return NULL;
}

size_t json_len(const struct json *v)
{
	if (v == NULL || (v->type != JSON_ARRAY && v->type != JSON_OBJECT))
		return 0;
	return v->n;
}

const struct json *json_at(const struct json *v, size_t i)
{
	if (i >= json_len(v))
		return NULL;
	return v->item[i];
}

const char *json_key_at(const struct json *v, size_t i)
{
	if (v == NULL || v->type != JSON_OBJECT || i >= v->n)
		return NULL;
	return v->key[i];
}

const char *json_str(const struct json *v)
{
	return v != NULL && v->type == JSON_STRING ? v->str : NULL;
}

size_t json_str_len(const struct json *v)
{
	return v != NULL && v->type == JSON_STRING ? v->len : 0;
}

const char *json_get_str(const struct json *obj, const char *key)
{
	return json_str(json_get(obj, key));
}

long long json_int(const struct json *v, long long def)
{
	char *end;
	long long x;

	if (v == NULL || v->type != JSON_NUMBER || strpbrk(v->str, ".eE") != NULL)
		return def;
	errno = 0;
	x = strtoll(v->str, &end, 10);
	if (errno != 0 || *end != '\0')
		return def;
	return x;
}

double json_num(const struct json *v)
{
	if (v == NULL || v->type != JSON_NUMBER)
		return 0;
	return strtod(v->str, NULL);
}

int json_bool(const struct json *v)
{
	if (v == NULL || v->type != JSON_BOOL)
		return -1;
	return v->boolean;
}

int json_is_null(const struct json *v)
{
	return v != NULL && v->type == JSON_NULL;
}
