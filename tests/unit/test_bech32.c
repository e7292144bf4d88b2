/* pqx tests: Bech32 (src/age/bech32.c) against BIP 173's vectors, age's keys and a reference encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "age/bech32.h"
#include "harness.h"
#include "util/util.h"

/* The age1pq1 recipient example of the age spec (C2SP age.md), 1216 bytes. */
static const char spec_pq_recipient[] =
	"age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzdx"
	"z95paef6caq5aapdmwjjqpjfdyxnzr2zampc3uxy0dg4z2n2gm9su72p0pc3u0jvev55l694"
	"v78snxg3yzvcl7yda0eyytqj6a0ec477lnhcy5hzpz4zq3pxanve4cn62gqj3pjy5lqj9c6k"
	"yj4v2z8alktn8zh99970x79gjkv7522hv9kfz35zsnxhsx8wwtmu9cy3ftzjgwcp4sshn3ll"
	"nylnpdsyz5jm72vefv4x5vfwytrefxg4wq3mv42wcrvkj742479zrxzpvp2p3e9fed9f0739"
	"vcu80r7ma28qfhnvlv4gfzel9q654dj3zmuvvz893azhxdvs9fxd0r7jzchzcfcs5mkyyjxh"
	"w0n2z6dvp9yn9qfdp29h0azxqyjw6v7fhyuzj7zel0uq6j9rd7wgrpz7mf5dnj43jwsgvrc8"
	"qcnhy7tu6dkdujuxzkp9xj43xe8h92ktre2a3u3s8mm5mrp9nr9pwkgtz4mdlq9hgn4fps4k"
	"57ff6wddn2fy23t47sm20r8km8sd2pcyyafnet8f0dajsrlyjeah4n3mssr6aseevuuskdvq"
	"5lzguyvpgwpta742c6698vgutzqgny8usfg0w2he7kq5vyxjd0f9hqg8xk26y9e4th0gezq9"
	"2q4cpp5p2y9hf5f2cje5l0c3sa3a2qxmm38pxxvhxh99yzmfz0zk7r2s64nnwjhkfgfr3gf8"
	"xnmppcgmaykvh5sh6g7vk9790rf8ws0axmr2t7z8aae5fq2029uvcn2ghgt4fu4wgwdc0k0c"
	"z52qkvwmuzj8p8k5jgf3xzk5zmrkavjekjrpeq408xz3zxazwkc6tyfmhayrkfpjhwtz5mp8"
	"j8guqe43k2q6m2kte03vrw27y3wmqyu5etmt9dnkwcnnpmu9gz9dekfhdevf42ucshphnrk3"
	"8ra6hx8w5f8q5ru0xdhrjxmwqf6cused7zc5xvq43r0zscjglpwlptpwydhqw64xz7ptjdye"
	"yzpq2zkxtmzg29gzjpvzva4d3l0cenn9xs297wf4y4ukwrunf57xj6pm7nvrkwvtrt8hwcmg"
	"v8x7ajw7258ugf9wvkmk4052ekg87tw5vnx8nq2swyzv77v8yqlwsenvamr0zssknwts8rrh"
	"fuwj7ykysnq9jxy0uv3kuyt22djszjdtvpz6d0s0kwh8ryynddzud92emeyvvyqktd0jtj7r"
	"vvg5gch25v8smlvny3kvn5gagyz475ze2y6q466xqmz2n3hs77lddeqyta2nch5k2u5yacuk"
	"9ywnwfdzvyejnucz724hj77hrrmakm7pr3kxsrxq22ejexlud9fy2kdqmkg5yncz7jm5wv2q"
	"jk5w5kvcpqsry2yqffh2la52dxfjkjq5rzhjzeyn6dupn0qwtyv7s4lwg3xdarsdlwe2y3tu"
	"jy480y7z39q259fzx6jhd2j0f5hagqpcpees7hzc2yrk5cy788uk3s7qvp5cpepx24gvws3m"
	"2g433exgwppnkjscec8qu4y9z9r7vccexjcjaen42245lmgmxmuavg9alej92322gvvyy2t6"
	"267v09ch64y0m53jff0vjj96s0ypk60hr3jw4myd6m5hpn3xjstx7tl2szhpr5qe8jj08ydj"
	"c4wy2rch2fhuy3pdfjax5awe9j99ly5hkntzz9fe5zatgjvzdd0kgtxs25njnajyf6ssekp7"
	"gelxquusn4pt25czh3scj68kq79wdn5tgm6yvm9nzavrg043x3msnygf8dweknw5jmqd0uvn"
	"y6ttsn09508k0c55zfnegrm9efhxpfqdkmhh6gjtqmwze9pyyzk3tlhl53k2ykx3qheyty7s"
	"aeq0d3fzv49zc0k";

/*
 * A plain, variable-time Bech32 encoder of 5-bit values, written straight
 * from BIP 173, to build strings the library's encoder cannot (bad padding)
 * and to cross-check it. Returns a malloc'd lower-case string.
 */
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

static char *ref_encode5(const char *hrp, const uint8_t *v, size_t n)
{
	size_t hl = strlen(hrp), o = 0;
	char *s = malloc(hl + 1 + n + 6 + 1);
	uint32_t chk = 1;

	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < hl; i++)
		chk = ref_polymod(chk, (uint8_t)hrp[i] >> 5);
	chk = ref_polymod(chk, 0);
	for (size_t i = 0; i < hl; i++)
		chk = ref_polymod(chk, (uint8_t)hrp[i] & 31);
	memcpy(s, hrp, hl);
	o = hl;
	s[o++] = '1';
	for (size_t i = 0; i < n; i++) {
		chk = ref_polymod(chk, v[i]);
		s[o++] = ref_charset[v[i]];
	}
	for (int i = 0; i < 6; i++)
		chk = ref_polymod(chk, 0);
	chk ^= 1;
	for (int i = 0; i < 6; i++)
		s[o++] = ref_charset[(chk >> (5 * (5 - i))) & 31];
	s[o] = '\0';
	return s;
}

/* Bytes to 5-bit values, zero-padded; *n gets the count. */
static uint8_t *ref_to5(const uint8_t *d, size_t len, size_t *n)
{
	uint8_t *v = malloc(len * 8 / 5 + 2);
	uint32_t acc = 0;
	int bits = 0;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8 | d[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			v[(*n)++] = (uint8_t)((acc >> bits) & 31);
		}
	}
	if (bits > 0)
		v[(*n)++] = (uint8_t)((acc << (5 - bits)) & 31);
	return v;
}

static void upcase(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 32);
}

static int has_upper(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 1;
	return 0;
}

/* BIP 173, "Test vectors": the valid Bech32 strings. */
static void test_bip173_valid(void)
{
	char q82[91];
	const char *valid[] = {
		"A12UEL5L",
		"a12uel5l",
		"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
		"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
		q82,
		"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
		"?1ezyfcl",
	};

	/* "11qqqq...qqqqc8247j": HRP "1", 82 q's, checksum; 90 characters. */
	memcpy(q82, "11", 2);
	memset(q82 + 2, 'q', 82);
	memcpy(q82 + 84, "c8247j", 7);
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		const char *s = valid[i];
		char *hrp = NULL, *again = NULL;
		uint8_t *data = NULL;
		size_t len = 99;
		int r = pqx_bech32_decode(&hrp, &data, &len, s, strlen(s));

		CHECK(r == 0, "vector %zu (%s): decode gives %d", i, s, r);
		if (r != 0)
			continue;
		CHECK(strlen(hrp) == (size_t)(strrchr(s, '1') - s), "vector %zu: hrp length", i);
		for (const char *p = hrp; *p; p++)
			CHECK(!(*p >= 'A' && *p <= 'Z'), "vector %zu: hrp is lower-cased", i);
		/* Decoding is canonical: re-encoding in the same case gives the input. */
		CHECK(pqx_bech32_encode(&again, hrp, data, len, has_upper(s)) == 0);
		CHECK(again != NULL && strcmp(again, s) == 0, "vector %zu re-encodes to %s", i,
		    again ? again : "(null)");
		pqx_free(hrp);
		pqx_free(data);
		pqx_free(again);
	}
}

static void expect_invalid(const char *what, const char *s, size_t n)
{
	char *hrp = (char *)1;
	uint8_t *data = (uint8_t *)1;
	size_t len = 99;
	int r = pqx_bech32_decode(&hrp, &data, &len, s, n);

	CHECK(r == PQX_ERR_FORMAT, "%s: decode gives %d, want PQX_ERR_FORMAT", what, r);
	CHECK(hrp == NULL && data == NULL && len == 0, "%s: outputs cleared on failure", what);
	if (r == 0) {
		pqx_free(hrp);
		pqx_free(data);
	}
}

/* BIP 173, "Test vectors": the invalid Bech32 strings, with the reasons it gives. */
static void test_bip173_invalid(void)
{
	static const struct {
		const char *s;
		size_t n;
		const char *why;
	} inv[] = {
		{ "\x20" "1nwldj5", 8, "HRP character out of range (0x20)" },
		{ "\x7f" "1axkwrx", 8, "HRP character out of range (0x7f)" },
		{ "\x80" "1eym55h", 8, "HRP character out of range (0x80)" },
		/* BIP 173 rejects it for its 91 characters; we for its 84-character HRP. */
		{ "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
		    91, "HRP longer than 83" },
		{ "pzry9x0s0muk", 12, "no separator character" },
		{ "1pzry9x0s0muk", 13, "empty HRP" },
		{ "x1b4n0q5v", 9, "invalid data character" },
		{ "li1dgmt3", 8, "too short checksum" },
		{ "de1lg7wt" "\xff", 9, "invalid character in checksum" },
		{ "A1G7SGD8", 8, "checksum calculated with upper-case HRP" },
		{ "10a06t8", 7, "empty HRP" },
		{ "1qzzfhee", 8, "empty HRP" },
	};

	for (size_t i = 0; i < sizeof(inv) / sizeof(inv[0]); i++)
		expect_invalid(inv[i].why, inv[i].s, inv[i].n);
	expect_invalid("empty string", "", 0);
	expect_invalid("mixed case", "A12uEL5L", 8);
	expect_invalid("mixed case in the data part only", "a12uEl5l", 8);
	expect_invalid("NUL inside", "a12u\0l5l", 8);
	expect_invalid("bech32m checksum is not bech32", "a1lqfn3a", 8);
}

/* Every single-character substitution in an age key breaks the checksum (a BCH code property). */
static void test_substitutions(void)
{
	const char *key = "age-secret-key-1egtzvffv20835nwyv6270lxyvk2vknx2mmdkwyklmgr48uawx40q2p2lm0";
	size_t n = strlen(key), pos = strlen("age-secret-key-1");
	char s[128];

	memcpy(s, key, n + 1);
	for (size_t i = pos; i < n && t_case_failures() == 0; i++) {
		for (int j = 0; j < 32; j++) {
			if (ref_charset[j] == key[i])
				continue;
			s[i] = ref_charset[j];
			expect_invalid("substituted character", s, n);
		}
		s[i] = key[i];
	}
	/* Also a swap of two adjacent different characters. */
	for (size_t i = pos; i + 1 < n; i++) {
		if (s[i] == s[i + 1])
			continue;
		s[i] = key[i + 1];
		s[i + 1] = key[i];
		expect_invalid("swapped characters", s, n);
		s[i] = key[i];
		s[i + 1] = key[i + 1];
	}
}

/* The 8 <-> 5 bit conversion is strict: at most 4 padding bits, all zero. */
static void test_padding(void)
{
	uint8_t v[16] = { 0 };
	char *s;

	/* One 5-bit value: 5 padding bits and no byte. */
	v[0] = 0;
	s = ref_encode5("age", v, 1);
	expect_invalid("5 padding bits", s, strlen(s));
	free(s);
	/* 13 values = 65 bits: 8 bytes and 1 bit, fine if zero... */
	s = ref_encode5("age", v, 13);
	{
		char *hrp = NULL;
		uint8_t *data = NULL;
		size_t len = 0;

		CHECK(pqx_bech32_decode(&hrp, &data, &len, s, strlen(s)) == 0 && len == 8,
		    "zero padding bit");
		pqx_free(hrp);
		pqx_free(data);
	}
	free(s);
	/* ...and not if that bit is one. */
	v[12] = 1;
	s = ref_encode5("age", v, 13);
	expect_invalid("non-zero padding bit", s, strlen(s));
	free(s);
	/* 2 values = 10 bits: 1 byte and 2 padding bits, each must be zero. */
	memset(v, 0, sizeof(v));
	for (uint8_t low = 1; low < 4; low++) {
		v[1] = low;
		s = ref_encode5("age", v, 2);
		expect_invalid("non-zero padding bits", s, strlen(s));
		free(s);
	}
	/* 7 values = 35 bits: 4 bytes and 3 padding bits; 6 values: 3 bytes and 6 bits. */
	memset(v, 0, sizeof(v));
	s = ref_encode5("age", v, 6);
	expect_invalid("6 padding bits", s, strlen(s));
	free(s);
	s = ref_encode5("age", v, 7);
	{
		char *hrp = NULL;
		uint8_t *data = NULL;
		size_t len = 0;

		CHECK(pqx_bech32_decode(&hrp, &data, &len, s, strlen(s)) == 0 && len == 4,
		    "3 zero padding bits");
		pqx_free(hrp);
		pqx_free(data);
	}
	free(s);
}

static void check_key(const char *s, const char *want_hrp, size_t want_len, const char *want_hex)
{
	char *hrp = NULL, *again = NULL;
	uint8_t *data = NULL, want[2048];
	size_t len = 0;
	int r = pqx_bech32_decode(&hrp, &data, &len, s, strlen(s));

	CHECK(r == 0, "%.40s...: decode gives %d", s, r);
	if (r != 0)
		return;
	CHECK(strcmp(hrp, want_hrp) == 0, "%.40s...: hrp %s", s, hrp);
	CHECK(len == want_len, "%.40s...: %zu bytes", s, len);
	if (want_hex != NULL && len == want_len && t_unhex(want, want_len, want_hex) == 0)
		CHECK_EQ_MEM(data, want, len, "%.40s...: bytes", s);
	CHECK(pqx_bech32_encode(&again, want_hrp, data, len, has_upper(s)) == 0);
	CHECK(again != NULL && strcmp(again, s) == 0, "%.40s...: re-encodes", s);
	pqx_free(hrp);
	pqx_free_wipe(data, len);
	if (again != NULL)
		pqx_free_wipe(again, strlen(again) + 1);
}

/* age's keys: the testkit identities and the examples in the age spec (C2SP age.md). */
static void test_age_keys(void)
{
	check_key("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0",
	    "age-secret-key-", 32, NULL);
	check_key("AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG",
	    "age-secret-key-pq-", 32, NULL);
	check_key("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX",
	    "age-secret-key-", 32,
	    "4242424242424242424242424242424242424242424242424242424242424242");
	check_key("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj", "age", 32,
	    NULL);
	check_key("AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR",
	    "age-secret-key-pq-", 32, NULL);
	/* Longer than BIP 173's 90 characters: age lifts that limit. */
	check_key(spec_pq_recipient, "age1pq", 1216, NULL);
	/* The upper-case HRP spelling encodes the same string. */
	{
		uint8_t k[32];
		char *a = NULL, *b = NULL;

		t_rand(k, sizeof(k));
		CHECK(pqx_bech32_encode(&a, "AGE-SECRET-KEY-", k, sizeof(k), 1) == 0);
		CHECK(pqx_bech32_encode(&b, "age-secret-key-", k, sizeof(k), 1) == 0);
		CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
		pqx_free(a);
		pqx_free(b);
	}
}

/* Random data of every length 0..1300 in both cases, against the reference encoder. */
static void test_round_trip(void)
{
	static uint8_t d[1300];

	t_rand(d, sizeof(d));
	for (size_t len = 0; len <= sizeof(d) && t_case_failures() == 0; len++) {
		for (int upper = 0; upper < 2; upper++) {
			char *s = NULL, *hrp = NULL, *ref;
			uint8_t *back = NULL, *v;
			size_t n5 = 0, blen = 0;

			CHECK(pqx_bech32_encode(&s, "age1pq", d, len, upper) == 0, "len %zu", len);
			v = ref_to5(d, len, &n5);
			ref = v ? ref_encode5("age1pq", v, n5) : NULL;
			if (ref != NULL && upper)
				upcase(ref);
			CHECK(s != NULL && ref != NULL && strcmp(s, ref) == 0,
			    "len %zu upper %d: matches the reference", len, upper);
			CHECK(s != NULL && pqx_bech32_decode(&hrp, &back, &blen, s, strlen(s)) == 0,
			    "len %zu upper %d: decodes", len, upper);
			CHECK(hrp != NULL && strcmp(hrp, "age1pq") == 0);
			CHECK(blen == len && (len == 0 || memcmp(back, d, len) == 0),
			    "len %zu upper %d: same bytes", len, upper);
			free(v);
			free(ref);
			pqx_free(s);
			pqx_free(hrp);
			pqx_free(back);
		}
	}
}

static void test_encode_args(void)
{
	uint8_t k[4] = { 1, 2, 3, 4 };
	char hrp84[85], *s = (char *)1;

	memset(hrp84, 'a', 84);
	hrp84[84] = '\0';
	CHECK(pqx_bech32_encode(&s, "", k, 4, 0) == PQX_ERR_INVALID_ARG && s == NULL, "empty hrp");
	CHECK(pqx_bech32_encode(&s, hrp84, k, 4, 0) == PQX_ERR_INVALID_ARG, "84-char hrp");
	hrp84[83] = '\0';
	CHECK(pqx_bech32_encode(&s, hrp84, k, 4, 0) == 0, "83-char hrp");
	pqx_free(s);
	CHECK(pqx_bech32_encode(&s, "Age", k, 4, 0) == PQX_ERR_INVALID_ARG, "mixed-case hrp");
	CHECK(pqx_bech32_encode(&s, "a ge", k, 4, 0) == PQX_ERR_INVALID_ARG, "space in hrp");
	CHECK(pqx_bech32_encode(&s, "a\x7fge", k, 4, 0) == PQX_ERR_INVALID_ARG, "DEL in hrp");
	CHECK(pqx_bech32_encode(&s, "age", NULL, 4, 0) == PQX_ERR_INVALID_ARG, "NULL data");
	CHECK(pqx_bech32_encode(&s, "age", NULL, 0, 0) == 0 && s != NULL && strlen(s) == 10 &&
	    strncmp(s, "age1", 4) == 0, "empty data");
	pqx_free(s);
	CHECK(pqx_bech32_encode(&s, "age", k, SIZE_MAX / 8, 0) == PQX_ERR_INVALID_ARG,
	    "overflowing length");
}

static int fail_always(void)
{
	return 1;
}

/* Fails the allocation number fail_at (counting from 1), once. */
static int alloc_count, fail_at;
static int fail_nth(void)
{
	return ++alloc_count == fail_at;
}

static void test_alloc_failure(void)
{
	const char *key = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0";
	char *s = (char *)1, *hrp = (char *)1;
	uint8_t k[32] = { 0 }, *data = (uint8_t *)1;
	size_t len = 7;

	pqx_test_set_alloc_fault(fail_always);
	CHECK(pqx_bech32_encode(&s, "age", k, 32, 0) == PQX_ERR_NOMEM && s == NULL);
	CHECK(pqx_bech32_decode(&hrp, &data, &len, key, strlen(key)) == PQX_ERR_NOMEM);
	CHECK(hrp == NULL && data == NULL && len == 0);
	/* Decoding allocates the HRP, the 5-bit values, then the bytes. */
	for (int i = 2; i <= 3; i++) {
		alloc_count = 0;
		fail_at = i;
		hrp = (char *)1;
		pqx_test_set_alloc_fault(fail_nth);
		CHECK(pqx_bech32_decode(&hrp, &data, &len, key, strlen(key)) == PQX_ERR_NOMEM,
		    "allocation %d fails", i);
		CHECK(hrp == NULL && data == NULL && len == 0);
	}
	pqx_test_set_alloc_fault(NULL);
}

int main(void)
{
	t_run("bech32 BIP 173 valid strings", test_bip173_valid);
	t_run("bech32 BIP 173 invalid strings", test_bip173_invalid);
	t_run("bech32 single substitutions and swaps are caught", test_substitutions);
	t_run("bech32 strict padding", test_padding);
	t_run("bech32 age keys and spec examples", test_age_keys);
	t_run("bech32 round trips 0..1300 bytes, both cases", test_round_trip);
	t_run("bech32 encoder argument checks", test_encode_args);
	t_run("bech32 allocation failures", test_alloc_failure);
	return t_done();
}
