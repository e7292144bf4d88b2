/* pqx tests: a small, strict JSON reader (RFC 8259) building a tree, for vector files. */
#ifndef PQX_TEST_JSON_H
#define PQX_TEST_JSON_H

#include <stddef.h>

/*
 * Strict means: exactly one value with only JSON whitespace around it; no
 * comments, trailing commas, single quotes, leading zeros, NaN/Infinity,
 * control characters in strings, unknown escapes, lone surrogates, invalid
 * UTF-8 or duplicate object keys. Nesting is limited to JSON_MAX_DEPTH.
 * Only test code uses this: it trusts its input to be small enough to hold
 * in memory, and it reports the first error with its byte offset.
 */
#define JSON_MAX_DEPTH 128

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json;

/*
 * Parses len bytes of text. Returns the tree (free it with json_free) or
 * NULL, with a message "offset N: what" in err (errlen bytes, may be NULL).
 */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses a whole file; NULL with a message in err on any error. */
struct json *json_parse_file(const char *path, char *err, size_t errlen);
/* Frees a tree; NULL is a no-op. */
void json_free(struct json *v);

/*
 * Accessors. Each accepts NULL or a value of the wrong type and then
 * returns the "absent" answer, so lookups chain without checks:
 * json_str(json_get(json_at(tests, i), "ek")) is NULL if anything is missing.
 */
enum json_type json_type(const struct json *v);
/* The member named key of an object, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);
/* The number of items of an array or members of an object; 0 otherwise. */
size_t json_len(const struct json *v);
/* Item i of an array, or the value of member i of an object; NULL if out of range. */
const struct json *json_at(const struct json *v, size_t i);
/* The name of member i of an object; NULL if out of range. */
const char *json_key_at(const struct json *v, size_t i);
/* A string's decoded UTF-8 (NUL-terminated), or NULL. */
const char *json_str(const struct json *v);
/* A string's length in bytes (it may hold "\u0000"); 0 for a non-string. */
size_t json_str_len(const struct json *v);
/* The string member key of obj, or NULL. */
const char *json_get_str(const struct json *obj, const char *key);
/*
 * An integral number (no fraction or exponent) in the range of long long;
 * otherwise def.
 */
long long json_int(const struct json *v, long long def);
/* Any number as a double; 0 for a non-number. */
double json_num(const struct json *v);
/* 1 for true, 0 for false, -1 for anything else. */
int json_bool(const struct json *v);
/* 1 if v is the literal null. */
int json_is_null(const struct json *v);

#endif
