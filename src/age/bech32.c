/* pqx: Bech32 (BIP 173) encoding and decoding in constant time over the data part. */
#include <stdint.h>
#include <string.h>

#include "age/bech32.h"
#include "util/util.h"

/*
 * Values computed from secret characters that are public by construction
 * are declassified for the valgrind constant-time check (built with
 * -DPQX_CTGRIND, the ctgrind method; BoringSSL's CONSTTIME_DECLASSIFY is the
 * same idea). Elsewhere this is a no-op.
 */
#ifdef PQX_CTGRIND
#include <valgrind/memcheck.h>
#define CT_DECLASSIFY(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#else
#define CT_DECLASSIFY(p, n) ((void)0)
#endif

static const char bech32_charset[32] = {
	'q', 'p', 'z', 'r', 'y', '9', 'x', '8', 'g', 'f', '2', 't', 'v', 'd', 'w', '0',
	's', '3', 'j', 'n', '5', '4', 'k', 'h', 'c', 'e', '6', 'm', 'u', 'a', '7', 'l',
};

/* The BCH code's generator, one word per bit shifted out of the checksum. */
static const uint32_t bech32_gen[5] = {
	0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3,
};

/* All ones if a == b, else zero (a, b < 2^32), without a branch. */
static uint32_t ct_mask_eq(uint32_t a, uint32_t b)
{
	uint64_t x = (uint64_t)(a ^ b);

	return (uint32_t)0 - (uint32_t)pqx_ct_barrier_u64((x - 1) >> 63);
}

/* All ones if lo <= c <= hi, else zero (all below 2^31), without a branch. */
static uint32_t ct_mask_range(uint32_t c, uint32_t lo, uint32_t hi)
{
	uint32_t t = (c - lo) | (hi - c);

	/* Either difference wraps (sets bit 31) exactly when c is outside. */
	return (uint32_t)pqx_ct_barrier_u64(t >> 31) - 1;
}

/*
 * One step of BIP 173's polymod. The five conditional XORs are masked with
 * -(bit) instead of branching on the bits shifted out, which depend on the key.
 */
static uint32_t polymod_step(uint32_t chk, uint32_t v)
{
	uint32_t top = chk >> 25;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (unsigned int i = 0; i < 5; i++)
		chk ^= bech32_gen[i] & ((uint32_t)0 - ((top >> i) & 1));
	return chk;
}

/* The checksum state after the expanded HRP (high bits, 0, low bits). */
static uint32_t polymod_hrp(const char *hrp, size_t hrplen)
{
	uint32_t chk = 1;

	for (size_t i = 0; i < hrplen; i++)
		chk = polymod_step(chk, (uint32_t)(uint8_t)hrp[i] >> 5);
	chk = polymod_step(chk, 0);
	for (size_t i = 0; i < hrplen; i++)
		chk = polymod_step(chk, (uint32_t)(uint8_t)hrp[i] & 31);
	return chk;
}

/*
 * The lookups read all four 8-byte words of the charset, always, and work
 * on each word with masks, shifts and multiplications: no index and no
 * branch depends on the character or the value.
 */

/* Word j of the charset: its characters 8j .. 8j + 7, little-endian. */
static uint64_t charset_word(uint32_t j)
{
	return pqx_load64_le((const uint8_t *)bech32_charset + 8 * j);
}

/* The charset character of a 5-bit value: byte v & 7 of word v >> 3. */
static char ct_value_to_char(uint32_t v)
{
	uint64_t w = 0;

	for (uint32_t j = 0; j < 4; j++)
		w |= charset_word(j) & ((uint64_t)0 - (ct_mask_eq(v >> 3, j) & 1));
	return (char)(w >> ((v & 7) * 8));
}

/*
 * The 5-bit value of a lower-case character; sets *bad to 1 if it is not
 * in the charset. Each word is compared with c in all 8 bytes at once: the
 * zero-byte test marks the equal byte (at most one: the characters are
 * distinct) with its top bit, and a multiplication turns that bit's
 * position into the byte's index.
 */
static uint32_t ct_char_to_value(uint32_t c, uint32_t *bad)
{
	const uint64_t lo7 = 0x7f7f7f7f7f7f7f7f, ones = 0x0101010101010101;
	uint64_t v = 0, found = 0, x, z, m;

	for (uint32_t j = 0; j < 4; j++) {
		x = charset_word(j) ^ ((uint64_t)(c & 0xff) * ones);
		z = ~(((x & lo7) + lo7) | x | lo7); /* 0x80 << 8k for an equal byte k, else 0 */
		m = (uint64_t)0 - ((z | ((uint64_t)0 - z)) >> 63);
		v |= ((((z >> 7) * 0x0001020304050607) >> 56) + 8 * j) & m;
		found |= m;
	}
	*bad |= (uint32_t)(~found & 1);
	return (uint32_t)v;
}

static uint32_t ct_to_lower(uint32_t c)
{
	return c | (0x20 & ct_mask_range(c, 'A', 'Z'));
}

static uint32_t ct_to_upper(uint32_t c)
{
	return c & ~(0x20 & ct_mask_range(c, 'a', 'z'));
}

/* Checks an HRP's characters and case (public data: branches are fine). */
static int hrp_valid(const char *hrp, size_t hrplen)
{
	int lower = 0, upper = 0;

	if (hrplen < 1 || hrplen > PQX_BECH32_HRP_MAX)
		return 0;
	for (size_t i = 0; i < hrplen; i++) {
		uint8_t c = (uint8_t)hrp[i];

		if (c < 33 || c > 126)
			return 0;
		lower |= c >= 'a' && c <= 'z';
		upper |= c >= 'A' && c <= 'Z';
	}
	return !(lower && upper);
}

int pqx_bech32_encode(char **out, const char *hrp, const uint8_t *data, size_t len, int upper)
{
	char *s = NULL;
	char lhrp[PQX_BECH32_HRP_MAX];
	size_t hrplen, nv, total = 0, o = 0;
	uint32_t chk = 0, acc = 0, v;
	unsigned int bits = 0;
	int r = PQX_ERR_INVALID_ARG;

	if (out == NULL)
		return PQX_ERR_INVALID_ARG;
	*out = NULL;
	if (hrp == NULL || (data == NULL && len > 0))
		goto out;
	hrplen = strnlen(hrp, PQX_BECH32_HRP_MAX + 1);
	if (!hrp_valid(hrp, hrplen))
		goto out;
	/* Keeps len * 8 and the total below from overflowing. */
	if (len > SIZE_MAX / 16)
		goto out;
	nv = (len * 8 + 4) / 5;
	total = hrplen + 1 + nv + 6;
	r = PQX_ERR_NOMEM;
	if ((s = pqx_malloc(total + 1)) == NULL)
		goto out;

	for (size_t i = 0; i < hrplen; i++)
		lhrp[i] = (char)ct_to_lower((uint8_t)hrp[i]);
	chk = polymod_hrp(lhrp, hrplen);
	for (size_t i = 0; i < hrplen; i++)
		s[o++] = upper ? (char)ct_to_upper((uint8_t)hrp[i]) : lhrp[i];
	s[o++] = '1';

	/* 8 -> 5 bits, zero-padded at the end; acc keeps only the unread bits. */
	for (size_t i = 0; i <= len; i++) {
		if (i < len) {
			acc = ((acc << 8) | data[i]) & 0xfff;
			bits += 8;
		} else if (bits > 0) {
			acc = (acc << (5 - bits)) & 0x1f;
			bits = 5;
		}
		while (bits >= 5) {
			bits -= 5;
			v = (acc >> bits) & 31;
			chk = polymod_step(chk, v);
			s[o++] = ct_value_to_char(v);
		}
	}
	for (int i = 0; i < 6; i++)
		chk = polymod_step(chk, 0);
	chk ^= 1;
	for (unsigned int i = 0; i < 6; i++)
		s[o++] = ct_value_to_char((chk >> (5 * (5 - i))) & 31);
	if (upper) {
		for (size_t i = hrplen + 1; i < o; i++)
			s[i] = (char)ct_to_upper((uint8_t)s[i]);
	}
	s[o] = '\0';
	if (o != total) {
		r = PQX_ERR_INTERNAL;
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	pqx_free_wipe(s, total + 1);
	pqx_wipe(&acc, sizeof(acc));
	pqx_wipe(&chk, sizeof(chk));
	return r;
}

int pqx_bech32_decode(char **hrp_out, uint8_t **data_out, size_t *len_out, const char *s,
    size_t slen)
{
	char *hrp = NULL;
	uint8_t *v = NULL, *data = NULL;
	size_t pos = 0, found = 0, hrplen = 0, vlen = 0, nv, nbytes = 0, o = 0;
	uint32_t has_lower = 0, has_upper = 0, bad = 0, chk = 0, acc = 0, c;
	unsigned int bits = 0, padbits;
	int r = PQX_ERR_INVALID_ARG;

	if (hrp_out == NULL || data_out == NULL || len_out == NULL)
		return PQX_ERR_INVALID_ARG;
	*hrp_out = NULL;
	*data_out = NULL;
	*len_out = 0;
	if (s == NULL && slen > 0)
		goto out;
	r = PQX_ERR_FORMAT;
	/* Keeps the bit counts below from overflowing. */
	if (slen > SIZE_MAX / 16)
		goto out;

	/*
	 * The separator is the last '1'. No valid data part contains a '1', so
	 * its position is the public HRP length; the scan still uses masks so
	 * that it does not branch on every data character.
	 */
	for (size_t i = 0; i < slen; i++) {
		size_t m = (size_t)0 - (size_t)(ct_mask_eq((uint8_t)s[i], '1') & 1);

		pos = (i & m) | (pos & ~m);
		found |= m;
	}
	/* Public for every valid string: it is the HRP's length. */
	CT_DECLASSIFY(&pos, sizeof(pos));
	CT_DECLASSIFY(&found, sizeof(found));
	if (!found || pos < 1 || pos > PQX_BECH32_HRP_MAX || slen - pos - 1 < 6)
		goto out;
	hrplen = pos;
	vlen = slen - pos - 1;

	r = PQX_ERR_NOMEM;
	if ((hrp = pqx_malloc(hrplen + 1)) == NULL || (v = pqx_malloc(vlen)) == NULL)
		goto out;
	r = PQX_ERR_FORMAT;
	if (!hrp_valid(s, hrplen))
		goto out;
	for (size_t i = 0; i < hrplen; i++) {
		c = (uint8_t)s[i];
		has_lower |= ct_mask_range(c, 'a', 'z') & 1;
		has_upper |= ct_mask_range(c, 'A', 'Z') & 1;
		hrp[i] = (char)ct_to_lower(c);
	}
	hrp[hrplen] = '\0';

	/* The checksum is over the lower-case string (BIP 173). */
	chk = polymod_hrp(hrp, hrplen);
	for (size_t i = 0; i < vlen; i++) {
		c = (uint8_t)s[pos + 1 + i];
		has_lower |= ct_mask_range(c, 'a', 'z') & 1;
		has_upper |= ct_mask_range(c, 'A', 'Z') & 1;
		v[i] = (uint8_t)ct_char_to_value(ct_to_lower(c), &bad);
		chk = polymod_step(chk, v[i]);
	}
	/* Every data character was looked at before the first verdict. */
	bad |= has_lower & has_upper;
	bad |= (uint32_t)pqx_ct_barrier_u64(ct_mask_eq(chk, 1) & 1) ^ 1;
	/* The verdict is the one thing about the data that may be known. */
	CT_DECLASSIFY(&bad, sizeof(bad));
	if (bad)
		goto out;

	/* 5 -> 8 bits strictly: at most 4 padding bits (a length rule), all zero. */
	nv = vlen - 6;
	nbytes = nv * 5 / 8;
	padbits = (unsigned int)(nv * 5 - nbytes * 8);
	if (padbits > 4)
		goto out;
	r = PQX_ERR_NOMEM;
	if ((data = pqx_malloc(nbytes)) == NULL)
		goto out;
	r = PQX_ERR_FORMAT;
	for (size_t i = 0; i < nv; i++) {
		acc = ((acc << 5) | v[i]) & 0x1fff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			data[o++] = (uint8_t)(acc >> bits);
		}
	}
	bad |= (ct_mask_eq(acc & ((1u << bits) - 1), 0) & 1) ^ 1;
	CT_DECLASSIFY(&bad, sizeof(bad));
	if (bad || o != nbytes)
		goto out;
	*hrp_out = hrp;
	*data_out = data;
	*len_out = nbytes;
	hrp = NULL;
	data = NULL;
	r = 0;
out:
	pqx_free(hrp);
	pqx_free_wipe(data, nbytes);
	pqx_free_wipe(v, vlen);
	pqx_wipe(&acc, sizeof(acc));
	pqx_wipe(&chk, sizeof(chk));
	return r;
}
