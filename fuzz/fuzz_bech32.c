/* pqx fuzz: the Bech32 decoder; accepted strings must re-encode to themselves, and a reference must agree. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "age/bech32.h"
#include "util/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *why)
{
	fprintf(stderr, "%s\n", why);
	abort();
}

static const char ref_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t ref_polymod(uint32_t chk, uint32_t v)
{
	static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
		0x2a1462b3 };
	uint32_t top = chk >> 25;

	chk = (chk & 0x1ffffff) << 5 ^ v;
	for (int i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

static int ref_value(uint8_t c)
{
	const char *p;

	if (c >= 'A' && c <= 'Z')
		c = (uint8_t)(c + 32);
	if (c == 0 || (p = strchr(ref_charset, c)) == NULL)
		return -1;
	return (int)(p - ref_charset);
}

/*
 * Decodes s and checks the verdict and the bytes against a plain,
 * variable-time reading of BIP 173 (with age's unlimited length), then
 * checks that an accepted string re-encodes to itself.
 */
static void check(const uint8_t *s, size_t n)
{
	char *hrp = NULL, *again = NULL;
	uint8_t *bytes = NULL, want[4096];
	size_t len = 0, pos = 0, nw = 0;
	int upper = 0, lower = 0, ok = 1, found = 0, r, bits = 0;
	uint32_t chk = 1, acc = 0;

	for (size_t i = 0; i < n; i++) {
		upper |= s[i] >= 'A' && s[i] <= 'Z';
		lower |= s[i] >= 'a' && s[i] <= 'z';
		if (s[i] == '1') {
			pos = i;
			found = 1;
		}
	}
	ok = !(upper && lower) && found && pos >= 1 && pos <= 83 && n - pos - 1 >= 6 &&
	    n - pos - 1 - 6 <= sizeof(want) * 8 / 5;
	for (size_t i = 0; ok && i < pos; i++)
		ok = s[i] >= 33 && s[i] <= 126;
	if (ok) {
		for (size_t i = 0; i < pos; i++)
			chk = ref_polymod(chk, (uint32_t)(s[i] | (upper ? 0x20 * (s[i] >= 'A' && s[i] <= 'Z') : 0)) >> 5);
		chk = ref_polymod(chk, 0);
		for (size_t i = 0; i < pos; i++)
			chk = ref_polymod(chk, (uint32_t)(s[i] | (upper ? 0x20 * (s[i] >= 'A' && s[i] <= 'Z') : 0)) & 31);
		for (size_t i = pos + 1; ok && i < n; i++) {
			int v = ref_value(s[i]);

			if (v < 0) {
				ok = 0;
				break;
			}
			chk = ref_polymod(chk, (uint32_t)v);
			if (i < n - 6) {
				acc = (acc << 5 | (uint32_t)v) & 0xfff;
				bits += 5;
				if (bits >= 8) {
					bits -= 8;
					want[nw++] = (uint8_t)(acc >> bits);
				}
			}
		}
		ok = ok && chk == 1 && bits <= 4 && (acc & ((1u << bits) - 1)) == 0;
	}

	r = pqx_bech32_decode(&hrp, &bytes, &len, (const char *)s, n);
	if (r != 0 && (r != PQX_ERR_FORMAT || hrp != NULL || bytes != NULL || len != 0))
		die("a rejection left outputs set or gave the wrong code");
	if ((r == 0) != ok)
		die(ok ? "the reference accepts what the decoder rejects" :
			 "the decoder accepts what the reference rejects");
	if (r != 0)
		return;
	if (len != nw || (len > 0 && memcmp(bytes, want, len) != 0))
		die("the decoder and the reference disagree on the bytes");
	/* Decoding is strict, so there is one encoding per (hrp, bytes, case). */
	if (pqx_bech32_encode(&again, hrp, bytes, len, upper) != 0)
		die("accepted string failed to encode");
	if (strlen(again) != n || memcmp(again, s, n) != 0)
		die("decode-then-encode differs from the input");
	pqx_free(hrp);
	pqx_free(bytes);
	pqx_free(again);
}

/*
 * Replaces the last 6 characters with the right checksum, so that inputs
 * get past it and reach the HRP, case and padding rules.
 */
static void check_repaired(const uint8_t *s, size_t n)
{
	uint8_t *t;
	size_t pos = 0;
	int found = 0, upper = 0;
	uint32_t chk = 1;

	for (size_t i = 0; i < n; i++) {
		upper |= s[i] >= 'A' && s[i] <= 'Z';
		if (s[i] == '1') {
			pos = i;
			found = 1;
		}
	}
	if (!found || n - pos - 1 < 6 || (t = malloc(n)) == NULL)
		return;
	memcpy(t, s, n);
	for (size_t i = 0; i < pos; i++) {
		uint8_t c = t[i] >= 'A' && t[i] <= 'Z' ? (uint8_t)(t[i] + 32) : t[i];

		chk = ref_polymod(chk, (uint32_t)c >> 5);
	}
	chk = ref_polymod(chk, 0);
	for (size_t i = 0; i < pos; i++) {
		uint8_t c = t[i] >= 'A' && t[i] <= 'Z' ? (uint8_t)(t[i] + 32) : t[i];

		chk = ref_polymod(chk, (uint32_t)c & 31);
	}
	for (size_t i = pos + 1; i < n - 6; i++) {
		int v = ref_value(t[i]);

		chk = ref_polymod(chk, v < 0 ? 0 : (uint32_t)v);
	}
	for (int i = 0; i < 6; i++)
		chk = ref_polymod(chk, 0);
	chk ^= 1;
	for (size_t i = 0; i < 6; i++) {
		char c = ref_charset[(chk >> (5 * (5 - i))) & 31];

		t[n - 6 + i] = (uint8_t)(upper && c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	check(t, n);
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = NULL;

	check(data, size);
	check_repaired(data, size);
	/* The input as key bytes (up to age's largest, 1216): both cases encode and decode back. */
	if (size > 1300)
		size = 1300;
	for (int upper = 0; upper < 2; upper++) {
		char *hrp = NULL;
		uint8_t *bytes = NULL;
		size_t len = 0;

		if (pqx_bech32_encode(&s, upper ? "AGE-SECRET-KEY-PQ-" : "age1pq", data, size,
			upper) != 0)
			die("encoding failed");
		if (pqx_bech32_decode(&hrp, &bytes, &len, s, strlen(s)) != 0 || len != size ||
		    (size > 0 && memcmp(bytes, data, size) != 0) ||
		    strcmp(hrp, upper ? "age-secret-key-pq-" : "age1pq") != 0)
			die("encode-then-decode differs");
		check((const uint8_t *)s, strlen(s));
		pqx_free(hrp);
		pqx_free(bytes);
		pqx_free(s);
	}
	return 0;
}
