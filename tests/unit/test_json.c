/* pqx tests: the strict JSON reader of tests/lib, which the vector tests trust. */
#include <string.h>

#include "harness.h"
#include "json.h"

static struct json *parse(const char *s)
{
	char err[128];

	return json_parse(s, strlen(s), err, sizeof(err));
}

static void test_accept(void)
{
	struct json *v;
	const struct json *a;

	v = parse(" {\"tcId\": 26, \"ok\": true, \"no\": false, \"nil\": null,"
	    " \"s\": \"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000x\","
	    " \"a\": [1, -0, 2.5e3, -1E-2, [], {}], \"big\": 123456789012345678901,"
	    " \"u\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\r\n");
	CHECK(v != NULL && json_type(v) == JSON_OBJECT && json_len(v) == 8);
	CHECK(json_int(json_get(v, "tcId"), -1) == 26);
	CHECK(json_bool(json_get(v, "ok")) == 1 && json_bool(json_get(v, "no")) == 0);
	CHECK(json_is_null(json_get(v, "nil")) && json_get(v, "missing") == NULL);
	CHECK(json_str_len(json_get(v, "s")) == 19 &&
	    memcmp(json_get_str(v, "s"),
	    "a\"b\\c/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\0x", 20) == 0,
	    "string escapes");
	CHECK(strcmp(json_get_str(v, "u"), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == 0);
	a = json_get(v, "a");
	CHECK(json_len(a) == 6 && json_int(json_at(a, 0), -1) == 1 &&
	    json_int(json_at(a, 1), -1) == 0);
	CHECK(json_int(json_at(a, 2), -1) == -1 && json_num(json_at(a, 2)) == 2500.0,
	    "2.5e3 is a number but not an integer literal");
	CHECK(json_type(json_at(a, 4)) == JSON_ARRAY && json_type(json_at(a, 5)) == JSON_OBJECT);
	CHECK(json_at(a, 6) == NULL && json_at(NULL, 0) == NULL);
	CHECK(json_int(json_get(v, "big"), -7) == -7, "out of range integer");
	CHECK(strcmp(json_key_at(v, 0), "tcId") == 0 && json_key_at(v, 8) == NULL);
	CHECK(json_str(json_get(v, "tcId")) == NULL && json_get(json_get(v, "a"), "x") == NULL);
	json_free(v);
	json_free(NULL);

	CHECK((v = parse("\"\"")) != NULL && json_str_len(v) == 0);
	json_free(v);
	CHECK((v = parse("-0.0e+0")) != NULL && json_type(v) == JSON_NUMBER);
	json_free(v);
}

static void test_reject(void)
{
	static const char *bad[] = {
		"", " ", "{", "[", "[1,]", "{\"a\":1,}", "{,}", "[,1]", "{\"a\" 1}", "{\"a\":}",
		"{a:1}", "{'a':1}", "[1 2]", "01", "-", "1.", ".5", "1e", "1e+", "+1", "NaN",
		"Infinity", "tru", "nulll", "True", "\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\u12g4\"",
		"\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"tab\there\"", "\"nl\n\"",
		"\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\x80\"", "\"\xe2\x82\"",
		"{\"a\":1,\"a\":2}", "1 2", "[] x", "// c\n1", "/* c */ 1", "[1]\x00",
		"{\"a\\u0000b\":1}",
	};
	char deep[2 * JSON_MAX_DEPTH + 8];
	char err[128];
	struct json *v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i]) + (strcmp(bad[i], "[1]") == 0); /* keep the NUL */

		v = json_parse(bad[i], len, err, sizeof(err));
		CHECK(v == NULL && err[0] != '\0', "accepted bad JSON #%zu: %s", i, bad[i]);
		json_free(v);
	}
	/* Nesting at the limit parses; one deeper does not. */
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = (size_t)JSON_MAX_DEPTH + (size_t)extra;

		memset(deep, '[', n);
		memset(deep + n, ']', n);
		v = json_parse(deep, 2 * n, err, sizeof(err));
		CHECK((v != NULL) == !extra, "nesting depth %zu", n);
		json_free(v);
	}
	CHECK(json_parse_file("/nonexistent/x.json", err, sizeof(err)) == NULL &&
	    strstr(err, "nonexistent") != NULL);
}

int main(void)
{
	t_run("json: accepts RFC 8259 documents", test_accept);
	t_run("json: rejects malformed and non-strict input", test_reject);
	return t_done();
}
