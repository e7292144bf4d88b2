/* pqx tests: X-Wing against the draft's vectors, round trips, low-order shares, implicit rejection, faults. */
#include <stdlib.h>
#include <string.h>

#include <pqx/age.h>
#include <pqx/xwing.h>

#include "harness.h"
#include "util/util.h"

/*
 * The vectors are draft-connolly-cfrg-xwing-kem spec/test-vectors.txt, read
 * in place: records split by blank lines, "name  hex" with the hex going on
 * over indented lines.
 */
#define XWING_VECTORS "crypto-vectors/xwing/xwing-test-vectors.txt"

enum { F_SEED, F_SK, F_PK, F_ESEED, F_CT, F_SS, F_COUNT };
static const char *field_names[F_COUNT] = { "seed", "sk", "pk", "eseed", "ct", "ss" };
static const size_t field_sizes[F_COUNT] = { 32, 32, 1216, 64, 1120, 32 };

struct xwing_vec {
	char hex[F_COUNT][2 * 1216 + 1];
	size_t len[F_COUNT];
};

/* Appends the hex digits of s to the field; returns -1 if it overflows. */
static int vec_append(struct xwing_vec *v, int f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')
			continue;
		if (v->len[f] + 1 >= sizeof(v->hex[f]))
			return -1;
		v->hex[f][v->len[f]++] = s[i];
		v->hex[f][v->len[f]] = '\0';
	}
	return 0;
}

/*
 * Parses the whole file into at most max records; returns the count, or -1
 * on a malformed line.
 */
static int parse_vectors(const char *text, struct xwing_vec *vs, int max)
{
	const char *line = text;
	int n = 0, cur = -1, open = 0;

	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len == 0 || (len == 1 && line[0] == '\r')) {
			open = 0;
		} else if (line[0] == ' ' || line[0] == '\t') {
			if (!open || cur < 0 || vec_append(&vs[n - 1], cur, line, len) != 0)
				return -1;
		} else {
			size_t nl = strcspn(line, " \t\r\n");

			if (!open) {
				if (n == max)
					return -1;
				memset(&vs[n++], 0, sizeof(vs[0]));
				open = 1;
			}
			cur = -1;
			for (int f = 0; f < F_COUNT; f++)
				if (strlen(field_names[f]) == nl && memcmp(line, field_names[f], nl) == 0)
					cur = f;
			if (cur < 0 || vec_append(&vs[n - 1], cur, line + nl, len - nl) != 0)
				return -1;
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	return n;
}

static void test_vectors(void)
{
	char *path = t_shared_path(XWING_VECTORS);
	uint8_t *text = NULL;
	size_t text_len;
	struct xwing_vec *vs = NULL;
	pqx_xwing_key k;
	int n;

	if (path == NULL) {
		t_skip("../shared is absent (set PQX_SHARED)");
		goto out;
	}
	if ((text = t_read_file(path, &text_len)) == NULL) {
		t_skip("cannot read %s", path);
		goto out;
	}
	vs = calloc(8, sizeof(*vs));
	CHECK(vs != NULL);
	if (vs == NULL)
		goto out;
	n = parse_vectors((const char *)text, vs, 8);
	CHECK(n == 3, "%s: parsed %d records, want 3", path, n);
	for (int i = 0; i < n; i++) {
		uint8_t b[F_COUNT][1216], pk[1216], ct[1120], ss[32];
		int bad = 0;

		for (int f = 0; f < F_COUNT; f++)
			if (t_unhex(b[f], field_sizes[f], vs[i].hex[f]) != 0)
				bad = 1;
		CHECK(!bad, "vector %d: a field is missing or has the wrong size", i);
		if (bad)
			continue;
		/* The private key is the seed itself in the final draft. */
		CHECK_EQ_MEM(b[F_SK], b[F_SEED], 32, "vector %d: sk != seed", i);
		CHECK(pqx_xwing_public_key(pk, b[F_SEED]) == 0, "vector %d: public_key", i);
		CHECK_EQ_MEM(pk, b[F_PK], 1216, "vector %d: pk", i);
		CHECK(pqx_xwing_encaps_derand(ct, ss, b[F_PK], b[F_ESEED]) == 0, "vector %d: encaps", i);
		CHECK_EQ_MEM(ct, b[F_CT], 1120, "vector %d: ct", i);
		CHECK_EQ_MEM(ss, b[F_SS], 32, "vector %d: encaps ss", i);
		memset(ss, 0xaa, sizeof(ss));
		CHECK(pqx_xwing_decaps(ss, b[F_CT], b[F_SK]) == 0, "vector %d: decaps", i);
		CHECK_EQ_MEM(ss, b[F_SS], 32, "vector %d: decaps ss", i);
		memset(ss, 0xaa, sizeof(ss));
		CHECK(pqx_xwing_key_expand(&k, b[F_SEED]) == 0 && pqx_xwing_decaps_key(ss, b[F_CT], &k) == 0,
		    "vector %d: expanded", i);
		CHECK_EQ_MEM(k.pk, b[F_PK], 1216, "vector %d: expanded pk", i);
		CHECK_EQ_MEM(ss, b[F_SS], 32, "vector %d: decaps_key ss", i);
		pqx_xwing_key_wipe(&k);
	}
out:
	free(vs);
	free(text);
	free(path);
}

static void test_round_trip(void)
{
	uint8_t pk[1216], pk2[1216], seed[32], ct[1120], ss1[32], ss2[32], ct2[1120], ss3[32];
	pqx_xwing_key k;

	for (int i = 0; i < 25; i++) {
		CHECK(pqx_xwing_keypair(pk, seed) == 0, "keypair");
		CHECK(pqx_xwing_public_key(pk2, seed) == 0 && memcmp(pk, pk2, 1216) == 0,
		    "public_key(seed) == keypair's pk");
		CHECK(pqx_xwing_encaps(ct, ss1, pk) == 0, "encaps");
		CHECK(pqx_xwing_decaps(ss2, ct, seed) == 0, "decaps");
		CHECK_EQ_MEM(ss1, ss2, 32, "round trip %d", i);
		/* The expanded key: the same public key and shared secret. */
		CHECK(pqx_xwing_key_expand(&k, seed) == 0 && memcmp(k.pk, pk, 1216) == 0, "expanded pk");
		CHECK(pqx_xwing_decaps_key(ss3, ct, &k) == 0 && memcmp(ss3, ss1, 32) == 0, "decaps_key");
		pqx_xwing_key_wipe(&k);
		/* Fresh randomness each time: a second encapsulation differs. */
		CHECK(pqx_xwing_encaps(ct2, ss3, pk) == 0, "encaps again");
		CHECK(memcmp(ct, ct2, 1120) != 0 && memcmp(ss1, ss3, 32) != 0, "encaps repeats");
		if (t_case_failures())
			return;
	}
}

/*
 * Points whose X25519 with any scalar is zero (RFC 7748 section 7 lists the
 * low-order points; these are the ones from libsodium/Wycheproof): 0, 1, the
 * two of order 8, p - 1, p, p + 1.
 */
static const char *low_order_points[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_low_order(void)
{
	uint8_t pk[1216], seed[32], ct[1120], ss[32], bad_pk[1216], bad_ct[1120], eseed[64];

	CHECK(pqx_xwing_keypair(pk, seed) == 0);
	CHECK(pqx_xwing_encaps(ct, ss, pk) == 0);
	t_rand(eseed, sizeof(eseed));
	for (size_t i = 0; i < sizeof(low_order_points) / sizeof(low_order_points[0]); i++) {
		uint8_t point[32];

		CHECK(t_unhex(point, 32, low_order_points[i]) == 0);
		/* Decapsulating a ciphertext whose ct_X is low order. */
		memcpy(bad_ct, ct, sizeof(ct));
		memcpy(bad_ct + 1088, point, 32);
		memset(ss, 0xaa, sizeof(ss));
		CHECK(pqx_xwing_decaps(ss, bad_ct, seed) == PQX_ERR_INVALID_KEY,
		    "decaps accepted low-order ct_X %zu", i);
		CHECK(pqx_ct_is_zero(ss, sizeof(ss)), "decaps left ss set (point %zu)", i);
		/* Encapsulating to a public key whose pk_X is low order. */
		memcpy(bad_pk, pk, sizeof(pk));
		memcpy(bad_pk + 1184, point, 32);
		memset(ss, 0xaa, sizeof(ss));
		memset(bad_ct, 0xaa, sizeof(bad_ct));
		CHECK(pqx_xwing_encaps_derand(bad_ct, ss, bad_pk, eseed) == PQX_ERR_INVALID_KEY,
		    "encaps accepted low-order pk_X %zu", i);
		CHECK(pqx_ct_is_zero(ss, sizeof(ss)) && pqx_ct_is_zero(bad_ct, sizeof(bad_ct)),
		    "encaps left outputs set (point %zu)", i);
	}
}

/* A corrupted ct_M decapsulates, without error, to an unrelated secret. */
static void test_implicit_rejection(void)
{
	uint8_t pk[1216], seed[32], ct[1120], ss[32], ss2[32], ss3[32];

	CHECK(pqx_xwing_keypair(pk, seed) == 0);
	CHECK(pqx_xwing_encaps(ct, ss, pk) == 0);
	ct[17] ^= 0x04;
	CHECK(pqx_xwing_decaps(ss2, ct, seed) == 0, "a corrupted ct_M is not an error");
	CHECK(memcmp(ss, ss2, 32) != 0, "corrupted ct_M gave the same ss");
	CHECK(!pqx_ct_is_zero(ss2, 32), "implicit rejection gave zeros");
	/* Deterministic: the same bad ciphertext gives the same rejection key. */
	CHECK(pqx_xwing_decaps(ss3, ct, seed) == 0 && memcmp(ss2, ss3, 32) == 0);
	ct[17] ^= 0x04;
	ct[1100] ^= 0x01; /* a different ct_X is a different X25519 share */
	CHECK(pqx_xwing_decaps(ss2, ct, seed) == 0 && memcmp(ss, ss2, 32) != 0);
}

/* An ML-KEM encapsulation key with a coefficient >= q fails FIPS 203's check. */
static void test_bad_ek(void)
{
	uint8_t pk[1216], seed[32], ct[1120], ss[32], eseed[64];

	CHECK(pqx_xwing_keypair(pk, seed) == 0);
	t_rand(eseed, sizeof(eseed));
	pk[0] = 0xff;
	pk[1] |= 0x0f; /* the first 12-bit coefficient is now 4095 */
	memset(ct, 0xaa, sizeof(ct));
	memset(ss, 0xaa, sizeof(ss));
	CHECK(pqx_xwing_encaps_derand(ct, ss, pk, eseed) == PQX_ERR_INVALID_KEY);
	CHECK(pqx_ct_is_zero(ct, sizeof(ct)) && pqx_ct_is_zero(ss, sizeof(ss)));
}

static int fail_always(void)
{
	return 1;
}

/* A failing CSPRNG or allocator leaves every output zeroed. */
static void test_faults(void)
{
	uint8_t pk[1216], seed[32], ct[1120], ss[32], good_pk[1216], good_seed[32];

	CHECK(pqx_xwing_keypair(good_pk, good_seed) == 0);
	CHECK(pqx_xwing_encaps(ct, ss, good_pk) == 0);

	pqx_test_set_random_fault(fail_always);
	memset(pk, 0xaa, sizeof(pk));
	memset(seed, 0xaa, sizeof(seed));
	CHECK(pqx_xwing_keypair(pk, seed) == PQX_ERR_RANDOM);
	CHECK(pqx_ct_is_zero(pk, sizeof(pk)) && pqx_ct_is_zero(seed, sizeof(seed)));
	memset(ct, 0xaa, sizeof(ct));
	memset(ss, 0xaa, sizeof(ss));
	CHECK(pqx_xwing_encaps(ct, ss, good_pk) == PQX_ERR_RANDOM);
	CHECK(pqx_ct_is_zero(ct, sizeof(ct)) && pqx_ct_is_zero(ss, sizeof(ss)));
	pqx_test_set_random_fault(NULL);

	/* The X25519 wrappers allocate: their failure must reach the caller. */
	CHECK(pqx_xwing_encaps(ct, ss, good_pk) == 0);
	pqx_test_set_alloc_fault(fail_always);
	memset(pk, 0xaa, sizeof(pk));
	CHECK(pqx_xwing_public_key(pk, good_seed) == PQX_ERR_NOMEM);
	CHECK(pqx_ct_is_zero(pk, sizeof(pk)));
	memset(ss, 0xaa, sizeof(ss));
	CHECK(pqx_xwing_decaps(ss, ct, good_seed) == PQX_ERR_NOMEM);
	CHECK(pqx_ct_is_zero(ss, sizeof(ss)));
	memset(ss, 0xaa, sizeof(ss));
	CHECK(pqx_xwing_encaps(ct, ss, good_pk) == PQX_ERR_NOMEM);
	CHECK(pqx_ct_is_zero(ct, sizeof(ct)) && pqx_ct_is_zero(ss, sizeof(ss)));
	pqx_test_set_alloc_fault(NULL);
}

/* pqx_age_identity_key gives the key parsing derived: the same as the seed's and the recipient's. */
static void test_identity_key(void)
{
	pqx_age_identity *id = NULL;
	pqx_age_recipient *r = NULL;
	uint8_t seed[32], pk[PQX_XWING_PUBLIC_KEY_BYTES];
	const uint8_t *k, *rk;
	char *rs = NULL;
	size_t kl = 0, rl = 0;

	CHECK(pqx_age_identity_generate(&id, PQX_AGE_MLKEM768X25519) == 0);
	if (id == NULL)
		return;
	k = pqx_age_identity_key(id, &kl);
	CHECK(kl == sizeof(pk) && pqx_age_identity_seed(id, seed) == 0 && pqx_xwing_public_key(pk, seed) == 0 &&
	    memcmp(k, pk, sizeof(pk)) == 0, "the seed's key");
	CHECK(pqx_age_identity_recipient(&rs, id) == 0 && pqx_age_recipient_parse(&r, rs) == 0);
	rk = r != NULL ? pqx_age_recipient_key(r, &rl) : NULL;
	CHECK(rk != NULL && rl == kl && memcmp(rk, k, kl) == 0, "the recipient's key");
	pqx_age_recipient_free(r);
	pqx_age_string_free(rs);
	pqx_age_identity_free(id);
	pqx_wipe(seed, sizeof(seed));
}

int main(void)
{
	t_run("age PQ identity: its key is its seed's X-Wing key and its recipient's", test_identity_key);
	t_run("xwing draft vectors (seed, pk, encaps_derand, decaps)", test_vectors);
	t_run("xwing random round trips (and with the key expanded once)", test_round_trip);
	t_run("xwing low-order X25519 shares rejected, outputs zeroed", test_low_order);
	t_run("xwing corrupted ciphertext: implicit rejection", test_implicit_rejection);
	t_run("xwing ML-KEM encapsulation key check", test_bad_ek);
	t_run("xwing random and allocation faults", test_faults);
	return t_done();
}
