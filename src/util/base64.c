/* pqx: strict, canonical base64 encoding and decoding. */
#include "util/base64.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t pqx_base64_encoded_len(size_t n, int pad)
{
	return pad ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

void pqx_base64_encode(char *out, const uint8_t *in, size_t n, int pad)
{
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		*out++ = b64_alphabet[v >> 18];
		*out++ = b64_alphabet[(v >> 12) & 63];
		*out++ = b64_alphabet[(v >> 6) & 63];
		*out++ = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		*out++ = b64_alphabet[in[i] >> 2];
		*out++ = b64_alphabet[(in[i] & 3) << 4];
		if (pad) {
			*out++ = '=';
			*out++ = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		*out++ = b64_alphabet[v >> 10];
		*out++ = b64_alphabet[(v >> 4) & 63];
		*out++ = b64_alphabet[(v & 15) << 2];
		if (pad)
			*out++ = '=';
	}
	*out = '\0';
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int pqx_base64_decode(uint8_t *out, size_t *n, const char *in, size_t len, int pad)
{
	size_t i, o = 0, tail;
	uint32_t acc = 0;

	*n = 0;
	if (pad) {
		if (len % 4 != 0)
			return PQX_ERR_FORMAT;
		if (len >= 1 && in[len - 1] == '=')
			len -= (len >= 2 && in[len - 2] == '=') ? 2 : 1;
	}
	if (len % 4 == 1)
		return PQX_ERR_FORMAT;
	for (i = 0; i < len; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return PQX_ERR_FORMAT;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	tail = len % 4;
	/* The unused low bits of the last character must be zero (canonical). */
	if (tail == 2) {
		if (acc & 0xf)
			return PQX_ERR_FORMAT;
		out[o++] = (uint8_t)(acc >> 4);
	} else if (tail == 3) {
		if (acc & 0x3)
			return PQX_ERR_FORMAT;
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	*n = o;
	return 0;
}
