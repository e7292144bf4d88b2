/* pqx: strict, canonical base64 (RFC 4648 standard alphabet), padded or not. */
#ifndef PQX_BASE64_H
#define PQX_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/common.h>

/* Characters needed to encode n bytes (without the NUL). */
size_t pqx_base64_encoded_len(size_t n, int pad);
/* Encodes n bytes into out, which has room for the encoded length + 1. */
void pqx_base64_encode(char *out, const uint8_t *in, size_t n, int pad);
/*
 * Decodes exactly len characters into out (room for len * 3 / 4 bytes),
 * setting *n. Strict: only the alphabet, '=' only as required padding (and
 * required when pad is set, forbidden when not), unused bits zero, so each
 * byte string has exactly one accepted encoding. PQX_ERR_FORMAT otherwise.
 */
PQX_MUST_CHECK int pqx_base64_decode(uint8_t *out, size_t *n, const char *in, size_t len,
    int pad);

#endif
