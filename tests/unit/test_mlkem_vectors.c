/* pqx tests: ML-KEM known answers (NIST ACVP, Wycheproof, C2SP CCTV), portable, AVX2. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pqx/mlkem.h>
#include <pqx/sha3.h>

#include "harness.h"
#include "json.h"

/*
 * Every vector is read in place from ../shared/crypto-vectors (see its
 * README.md for the provenance and format of each file); nothing is copied
 * into the repository. A missing folder or file skips its case.
 */
#define VEC(rel) ("crypto-vectors/" rel)

#define MAX_EK 1568
#define MAX_DK 3168
#define MAX_CT 1568

/* One parameter set, named as ACVP and Wycheproof spell it. */
struct kem {
	const char *name;
	size_t ek_bytes, dk_bytes, ct_bytes;
	int (*keypair_derand)(uint8_t *ek, uint8_t *dk, const uint8_t *d, const uint8_t *z);
	int (*encaps_derand)(uint8_t *ct, uint8_t *ss, const uint8_t *ek, const uint8_t *m);
	int (*decaps)(uint8_t *ss, const uint8_t *ct, const uint8_t *dk);
};

static const struct kem kems[] = {
	{ "ML-KEM-512", PQX_MLKEM512_EK_BYTES, PQX_MLKEM512_DK_BYTES, PQX_MLKEM512_CT_BYTES,
	    pqx_mlkem512_keypair_derand, pqx_mlkem512_encaps_derand, pqx_mlkem512_decaps },
	{ "ML-KEM-768", PQX_MLKEM768_EK_BYTES, PQX_MLKEM768_DK_BYTES, PQX_MLKEM768_CT_BYTES,
	    pqx_mlkem768_keypair_derand, pqx_mlkem768_encaps_derand, pqx_mlkem768_decaps },
	{ "ML-KEM-1024", PQX_MLKEM1024_EK_BYTES, PQX_MLKEM1024_DK_BYTES, PQX_MLKEM1024_CT_BYTES,
	    pqx_mlkem1024_keypair_derand, pqx_mlkem1024_encaps_derand, pqx_mlkem1024_decaps },
};
static const struct kem *const mlkem768 = &kems[1];

static const struct kem *kem_by_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(kems) / sizeof(kems[0]); i++)
		if (strcmp(kems[i].name, name) == 0)
			return &kems[i];
	return NULL;
}

/* Scratch space for one test; static because the keys are large. */
static uint8_t ek[MAX_EK], dk[MAX_DK], ct[MAX_CT], ss[32];
static uint8_t want_ek[MAX_EK], want_dk[MAX_DK], want_ct[MAX_CT], want_ss[32];
static uint8_t d[32], z[32], m[32];

/*
 * Vector files.
 */

/* A malloc'd path to a vector file, or NULL after skipping the case. */
static char *vec_path(const char *rel)
{
	char *path = t_shared_path(rel);

	if (path == NULL) {
		t_skip("../shared (or $PQX_SHARED) absent");
		return NULL;
	}
	if (access(path, R_OK) != 0) {
		t_skip("%s absent", rel);
		free(path);
		return NULL;
	}
	return path;
}

/*
 * The JSON files are parsed once and shared by the cases (and by both
 * implementations) that read them.
 */
static struct {
	const char *rel;
	struct json *doc;
	int tried;
	char err[256]; /* why it did not parse */
} docs[] = {
#define DOC_ACVP_KEYGEN 0
	{ VEC("acvp-mlkem/ML-KEM-keyGen-FIPS203/internalProjection.json"), NULL, 0, "" },
#define DOC_ACVP_ENCAPDECAP 1
	{ VEC("acvp-mlkem/ML-KEM-encapDecap-FIPS203/internalProjection.json"), NULL, 0, "" },
#define DOC_WP_KEYGEN 2
	{ VEC("wycheproof/mlkem_768_keygen_seed_test.json"), NULL, 0, "" },
#define DOC_WP_ENCAPS 3
	{ VEC("wycheproof/mlkem_768_encaps_test.json"), NULL, 0, "" },
#define DOC_WP_DECAPS 4
	{ VEC("wycheproof/mlkem_768_test.json"), NULL, 0, "" },
#define DOC_WP_SEMI 5
	{ VEC("wycheproof/mlkem_768_semi_expanded_decaps_test.json"), NULL, 0, "" },
};

/* The parsed document, or NULL after skipping or failing the case. */
static const struct json *doc_get(int i)
{
	char *path;

	if ((path = vec_path(docs[i].rel)) == NULL)
		return NULL;
	if (!docs[i].tried) {
		docs[i].tried = 1;
		docs[i].doc = json_parse_file(path, docs[i].err, sizeof(docs[i].err));
	}
	free(path);
	if (docs[i].doc == NULL)
		t_fail(__FILE__, __LINE__, "%s: %s", docs[i].rel, docs[i].err);
	return docs[i].doc;
}

/* Decodes the hex string member key of t into exactly n bytes; 0 or -1. */
static int hex_field(const struct json *t, const char *key, uint8_t *out, size_t n)
{
	const char *hex = json_get_str(t, key);

	return hex != NULL ? t_unhex(out, n, hex) : -1;
}

/* The decoded length of a hex string member, or (size_t)-1 if absent or not hex. */
static size_t hex_len(const struct json *t, const char *key)
{
	const char *hex = json_get_str(t, key);
	size_t n = hex != NULL ? strlen(hex) : 1;

	for (size_t i = 0; hex != NULL && i < n; i++)
		if (strchr("0123456789abcdefABCDEF", hex[i]) == NULL)
			return (size_t)-1;
	return n % 2 == 0 ? n / 2 : (size_t)-1;
}

/* Calls fn(group, kem, test) for each test of the groups whose "function" is func. */
static size_t for_each_test(const struct json *doc, const char *func,
    void (*fn)(const struct json *g, const struct kem *k, const struct json *t))
{
	const struct json *groups = json_get(doc, "testGroups");
	size_t count = 0;

	CHECK(json_len(groups) > 0, "no testGroups");
	for (size_t i = 0; i < json_len(groups); i++) {
		const struct json *g = json_at(groups, i), *tests = json_get(g, "tests");
		const char *f = json_get_str(g, "function");
		const struct kem *k = kem_by_name(json_get_str(g, "parameterSet"));

		if (func != NULL && (f == NULL || strcmp(f, func) != 0))
			continue;
		if (k == NULL) {
			t_fail(__FILE__, __LINE__, "tgId %lld: unknown parameterSet",
			    json_int(json_get(g, "tgId"), -1));
			continue;
		}
		for (size_t j = 0; j < json_len(tests); j++) {
			fn(g, k, json_at(tests, j));
			count++;
		}
	}
	return count;
}

#define TCID(t) json_int(json_get((t), "tcId"), -1)

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/*
 * NIST ACVP (ACVP-Server gen-val/json-files, internalProjection.json: the
 * prompts with the expected results folded in).
 */

static void acvp_keygen_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	(void)g;
	if (hex_field(t, "d", d, 32) || hex_field(t, "z", z, 32) ||
	    hex_field(t, "ek", want_ek, k->ek_bytes) ||
	    hex_field(t, "dk", want_dk, k->dk_bytes)) {
		t_fail(__FILE__, __LINE__, "keyGen tcId %lld: malformed test", TCID(t));
		return;
	}
	CHECK(k->keypair_derand(ek, dk, d, z) == 0, "keyGen tcId %lld: error", TCID(t));
	CHECK_EQ_MEM(ek, want_ek, k->ek_bytes, "keyGen tcId %lld (%s): ek differs", TCID(t),
	    k->name);
	CHECK_EQ_MEM(dk, want_dk, k->dk_bytes, "keyGen tcId %lld (%s): dk differs", TCID(t),
	    k->name);
}

static void acvp_keygen(void)
{
	const struct json *doc = doc_get(DOC_ACVP_KEYGEN);
	size_t n;

	if (doc == NULL)
		return;
	n = for_each_test(doc, NULL, acvp_keygen_one);
	CHECK(n == 75, "ran %zu keyGen tests, want 3 x 25", n);
}

/* Encapsulation (ek, m -> c, k); the projection also holds dk, so decapsulate c too. */
static void acvp_encaps_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	(void)g;
	if (hex_field(t, "ek", want_ek, k->ek_bytes) ||
	    hex_field(t, "dk", want_dk, k->dk_bytes) || hex_field(t, "m", m, 32) ||
	    hex_field(t, "c", want_ct, k->ct_bytes) || hex_field(t, "k", want_ss, 32)) {
		t_fail(__FILE__, __LINE__, "encapsulation tcId %lld: malformed test", TCID(t));
		return;
	}
	CHECK(k->encaps_derand(ct, ss, want_ek, m) == 0, "encapsulation tcId %lld: error",
	    TCID(t));
	CHECK_EQ_MEM(ct, want_ct, k->ct_bytes, "encapsulation tcId %lld (%s): c differs",
	    TCID(t), k->name);
	CHECK_EQ_MEM(ss, want_ss, 32, "encapsulation tcId %lld (%s): k differs", TCID(t),
	    k->name);
	CHECK(k->decaps(ss, want_ct, want_dk) == 0, "encapsulation tcId %lld: decaps error",
	    TCID(t));
	CHECK_EQ_MEM(ss, want_ss, 32, "encapsulation tcId %lld (%s): decaps(c) differs", TCID(t),
	    k->name);
}

static void acvp_encaps(void)
{
	const struct json *doc = doc_get(DOC_ACVP_ENCAPDECAP);
	size_t n;

	if (doc == NULL)
		return;
	n = for_each_test(doc, "encapsulation", acvp_encaps_one);
	CHECK(n == 75, "ran %zu encapsulation tests, want 3 x 25", n);
}

/*
 * Decapsulation (dk, c -> k), valid and modified ciphertexts, with dk given
 * either expanded or as the seed (d, z) it is generated from.
 */
static void acvp_decaps_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	const char *format = json_get_str(g, "keyFormat");

	if (hex_field(t, "c", want_ct, k->ct_bytes) || hex_field(t, "k", want_ss, 32) ||
	    format == NULL) {
		t_fail(__FILE__, __LINE__, "decapsulation tcId %lld: malformed test", TCID(t));
		return;
	}
	if (strcmp(format, "seed") == 0) {
		if (hex_field(t, "d", d, 32) || hex_field(t, "z", z, 32)) {
			t_fail(__FILE__, __LINE__, "decapsulation tcId %lld: no seed", TCID(t));
			return;
		}
		CHECK(k->keypair_derand(ek, dk, d, z) == 0, "decapsulation tcId %lld: keygen", TCID(t));
		/* The projection carries the expanded key too: it must be the same key. */
		if (hex_field(t, "dk", want_dk, k->dk_bytes) == 0)
			CHECK_EQ_MEM(dk, want_dk, k->dk_bytes, "decapsulation tcId %lld: dk from seed",
			    TCID(t));
	} else if (strcmp(format, "expanded") == 0) {
		if (hex_field(t, "dk", dk, k->dk_bytes)) {
			t_fail(__FILE__, __LINE__, "decapsulation tcId %lld: no dk", TCID(t));
			return;
		}
	} else {
		t_fail(__FILE__, __LINE__, "decapsulation tcId %lld: keyFormat %s", TCID(t), format);
		return;
	}
	CHECK(k->decaps(ss, want_ct, dk) == 0, "decapsulation tcId %lld: error", TCID(t));
	CHECK_EQ_MEM(ss, want_ss, 32, "decapsulation tcId %lld (%s, %s key, %s): k differs",
	    TCID(t), k->name, format, json_get_str(t, "reason"));
}

static void acvp_decaps(void)
{
	const struct json *doc = doc_get(DOC_ACVP_ENCAPDECAP);
	size_t n;

	if (doc == NULL)
		return;
	n = for_each_test(doc, "decapsulation", acvp_decaps_one);
	CHECK(n == 60, "ran %zu decapsulation tests, want 3 x 2 x 10", n);
}

/*
 * decapsulationKeyCheck (FIPS 203 section 7.3, the stored H(ek)): decaps
 * must fail with PQX_ERR_INVALID_KEY exactly when testPassed is false. Any
 * ciphertext of the right length will do; this one is all zeros.
 */
static void acvp_dkcheck_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	int passed = json_bool(json_get(t, "testPassed")), r;

	(void)g;
	if (hex_field(t, "dk", dk, k->dk_bytes) || passed < 0) {
		t_fail(__FILE__, __LINE__, "decapsulationKeyCheck tcId %lld: malformed test", TCID(t));
		return;
	}
	memset(ct, 0, sizeof(ct));
	r = k->decaps(ss, ct, dk);
	CHECK(r == (passed ? 0 : PQX_ERR_INVALID_KEY),
	    "decapsulationKeyCheck tcId %lld (%s, %s): decaps returned %d", TCID(t), k->name,
	    json_get_str(t, "reason"), r);
	if (!passed)
		CHECK(all_zero(ss, 32), "decapsulationKeyCheck tcId %lld: ss not zeroed", TCID(t));
}

static void acvp_dkcheck(void)
{
	const struct json *doc = doc_get(DOC_ACVP_ENCAPDECAP);
	size_t n;

	if (doc == NULL)
		return;
	n = for_each_test(doc, "decapsulationKeyCheck", acvp_dkcheck_one);
	CHECK(n == 30, "ran %zu decapsulationKeyCheck tests, want 3 x 10", n);
}

/*
 * encapsulationKeyCheck (FIPS 203 section 7.2, the modulus check): encaps
 * must fail with PQX_ERR_INVALID_KEY exactly when testPassed is false.
 *
 * In this ACVP release (v1.1.0.43) every failing ek is 384 * (k + 1) + 64
 * bytes, not 384 * k + 32: the valid key followed by 384 more bytes and rho
 * again, with no coefficient of its first 384 * k bytes at or above q
 * (usnistgov/ACVP-Server issue #460, fixed in later releases). Our API
 * takes ek as a fixed-size array, so a key of the wrong length cannot be
 * passed at all: the type rejects it, which we count as a correct
 * rejection. So these vectors never reach the modulus check; the CCTV
 * modulus and Wycheproof encaps cases below do. A valid key of the wrong
 * length would be a broken vector.
 */
static size_t ekcheck_by_length;

static void acvp_ekcheck_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	int passed = json_bool(json_get(t, "testPassed")), r;
	size_t len = hex_len(t, "ek");

	(void)g;
	if (len == (size_t)-1 || passed < 0) {
		t_fail(__FILE__, __LINE__, "encapsulationKeyCheck tcId %lld: malformed test", TCID(t));
		return;
	}
	if (len != k->ek_bytes) {
		CHECK(!passed, "encapsulationKeyCheck tcId %lld: valid key of %zu bytes", TCID(t), len);
		ekcheck_by_length++;
		return;
	}
	CHECK(hex_field(t, "ek", ek, k->ek_bytes) == 0);
	memset(m, 0x5a, sizeof(m));
	r = k->encaps_derand(ct, ss, ek, m);
	CHECK(r == (passed ? 0 : PQX_ERR_INVALID_KEY),
	    "encapsulationKeyCheck tcId %lld (%s, %s): encaps returned %d", TCID(t), k->name,
	    json_get_str(t, "reason"), r);
	if (r != 0)
		CHECK(all_zero(ct, k->ct_bytes) && all_zero(ss, 32),
		    "encapsulationKeyCheck tcId %lld: outputs not zeroed", TCID(t));
}

static void acvp_ekcheck(void)
{
	const struct json *doc = doc_get(DOC_ACVP_ENCAPDECAP);
	size_t n;

	if (doc == NULL)
		return;
	ekcheck_by_length = 0;
	n = for_each_test(doc, "encapsulationKeyCheck", acvp_ekcheck_one);
	CHECK(n == 30, "ran %zu encapsulationKeyCheck tests, want 3 x 10", n);
	printf("  # encapsulationKeyCheck: %zu tests, %zu invalid keys rejected by their "
	    "length\n", n, ekcheck_by_length);
}

/*
 * Wycheproof (C2SP/wycheproof testvectors_v1, ML-KEM-768). Each test is
 * "valid", "invalid" or "acceptable" and carries flags naming the weakness
 * it probes; the file's "notes" describe them.
 */
enum outcome {
	ACCEPTED,        /* no error and every output matches */
	WRONG_OUTPUT,    /* no error, but an output differs */
	REJECTED_KEY,    /* PQX_ERR_INVALID_KEY */
	REJECTED_LENGTH, /* an input of the wrong length: see below */
	OTHER_ERROR,     /* any other error */
};

static const char *const outcome_name[] = {
	"accepted", "wrong output", "key rejected", "rejected by length", "other error",
};

/*
 * Our API takes keys and ciphertexts as fixed-size arrays, so an input of
 * the wrong length cannot be passed at all: the type rejects it, before
 * any of our code runs. Such tests count as correctly rejected.
 */

/* What each flag we know demands, beyond its test's result. */
static const struct {
	const char *flag;
	enum outcome want;
} wp_flags[] = {
	{ "ModulusOverflow", REJECTED_KEY },            /* FIPS 203 s7.2 modulus check */
	{ "InvalidDecapsulationKey", REJECTED_KEY },    /* FIPS 203 s7.3 hash check */
	{ "IncorrectCiphertextLength", REJECTED_LENGTH },
	{ "IncorrectDecapsulationKeyLength", REJECTED_LENGTH },
	{ "Strcmp", ACCEPTED },                         /* implicit rejection taken */
	{ "MalleableCiphertext", ACCEPTED },            /* whole re-encryption compared */
};

struct tally {
	size_t n, by[OTHER_ERROR + 1];
};

static void wp_judge(const char *what, const struct json *t, enum outcome o,
    struct tally *ty)
{
	const char *result = json_get_str(t, "result"), *comment = json_get_str(t, "comment");
	const struct json *flags = json_get(t, "flags");
	char flagstr[256] = "";
	int ok = 0;

	ty->n++;
	ty->by[o]++;
	if (result == NULL)
		result = "(none)";
	if (strcmp(result, "valid") == 0)
		ok = o == ACCEPTED;
	else if (strcmp(result, "invalid") == 0)
		ok = o == REJECTED_KEY || o == REJECTED_LENGTH;
	else if (strcmp(result, "acceptable") == 0)
		ok = o == ACCEPTED || o == REJECTED_KEY || o == REJECTED_LENGTH;
	for (size_t i = 0; i < json_len(flags); i++) {
		const char *f = json_str(json_at(flags, i));
		size_t j, n = sizeof(wp_flags) / sizeof(wp_flags[0]);

		for (j = 0; j < n && (f == NULL || strcmp(wp_flags[j].flag, f) != 0); j++)
			;
		if (j == n) {
			t_fail(__FILE__, __LINE__, "%s tcId %lld: unknown flag %s: review it and add "
			    "it to wp_flags", what, TCID(t), f ? f : "(not a string)");
			ok = 0;
		} else if (o != wp_flags[j].want)
			ok = 0;
		snprintf(flagstr + strlen(flagstr), sizeof(flagstr) - strlen(flagstr), "%s%s",
		    i ? "," : "", f ? f : "?");
	}
	CHECK(ok, "%s tcId %lld (%s, \"%s\", flags [%s]): %s", what, TCID(t), result,
	    comment ? comment : "", flagstr, outcome_name[o]);
}

static void wp_report(const char *what, const struct tally *ty)
{
	printf("  # %s: %zu tests: %zu accepted, %zu rejected by the key check, "
	    "%zu rejected by length\n", what, ty->n, ty->by[ACCEPTED], ty->by[REJECTED_KEY],
	    ty->by[REJECTED_LENGTH]);
}

static struct tally wp_tally;

/*
 * Invalid tests leave their outputs empty or out; valid ones must have
 * them (a valid test without outputs then fails the comparison).
 */
static int has_outputs(const struct json *t, const char *a, const char *b)
{
	const char *result = json_get_str(t, "result");

	if (result != NULL && strcmp(result, "valid") == 0)
		return 1;
	return hex_len(t, a) > 0 && hex_len(t, a) != (size_t)-1 &&
	    (b == NULL || (hex_len(t, b) > 0 && hex_len(t, b) != (size_t)-1));
}

/* mlkem_768_keygen_seed_test.json: seed (d || z) -> ek, dk. */
static void wp_keygen_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	uint8_t seed[64];
	enum outcome o = ACCEPTED;

	(void)g;
	if (hex_len(t, "seed") != sizeof(seed))
		o = REJECTED_LENGTH;
	else if (hex_field(t, "seed", seed, sizeof(seed)) ||
	    hex_field(t, "ek", want_ek, k->ek_bytes) || hex_field(t, "dk", want_dk, k->dk_bytes))
		o = WRONG_OUTPUT; /* nothing to compare with */
	else if (k->keypair_derand(ek, dk, seed, seed + 32) != 0)
		o = OTHER_ERROR;
	else if (memcmp(ek, want_ek, k->ek_bytes) != 0 || memcmp(dk, want_dk, k->dk_bytes) != 0)
		o = WRONG_OUTPUT;
	wp_judge("wycheproof keygen", t, o, &wp_tally);
}

static void wp_keygen(void)
{
	const struct json *doc = doc_get(DOC_WP_KEYGEN);

	if (doc == NULL)
		return;
	memset(&wp_tally, 0, sizeof(wp_tally));
	for_each_test(doc, NULL, wp_keygen_one);
	CHECK(wp_tally.n == 100, "ran %zu tests", wp_tally.n);
	wp_report("wycheproof keygen", &wp_tally);
}

/* mlkem_768_encaps_test.json: ek, m -> c, K; invalid keys must be refused. */
static void wp_encaps_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	enum outcome o;
	int r;

	(void)g;
	if (hex_len(t, "ek") != k->ek_bytes) {
		o = REJECTED_LENGTH;
	} else if (hex_field(t, "ek", ek, k->ek_bytes) || hex_field(t, "m", m, 32)) {
		t_fail(__FILE__, __LINE__, "wycheproof encaps tcId %lld: malformed test", TCID(t));
		return;
	} else if ((r = k->encaps_derand(ct, ss, ek, m)) == PQX_ERR_INVALID_KEY) {
		o = REJECTED_KEY;
		CHECK(all_zero(ct, k->ct_bytes) && all_zero(ss, 32),
		    "wycheproof encaps tcId %lld: outputs not zeroed on error", TCID(t));
	} else if (r != 0) {
		o = OTHER_ERROR;
	} else if (!has_outputs(t, "c", "K")) {
		o = ACCEPTED; /* an invalid test: nothing to compare with */
	} else if (hex_field(t, "c", want_ct, k->ct_bytes) || hex_field(t, "K", want_ss, 32) ||
	    memcmp(ct, want_ct, k->ct_bytes) != 0 || memcmp(ss, want_ss, 32) != 0) {
		o = WRONG_OUTPUT;
	} else {
		o = ACCEPTED;
	}
	wp_judge("wycheproof encaps", t, o, &wp_tally);
}

static void wp_encaps(void)
{
	const struct json *doc = doc_get(DOC_WP_ENCAPS);

	if (doc == NULL)
		return;
	memset(&wp_tally, 0, sizeof(wp_tally));
	for_each_test(doc, NULL, wp_encaps_one);
	CHECK(wp_tally.n == 265, "ran %zu tests", wp_tally.n);
	wp_report("wycheproof encaps", &wp_tally);
}

/* Decapsulates c with the dk now in dk and compares with K. */
static enum outcome decaps_outcome(const struct kem *k, const struct json *t)
{
	int r;

	if (hex_field(t, "c", ct, k->ct_bytes) != 0)
		return REJECTED_LENGTH;
	if ((r = k->decaps(ss, ct, dk)) == PQX_ERR_INVALID_KEY)
		return all_zero(ss, 32) ? REJECTED_KEY : WRONG_OUTPUT;
	if (r != 0)
		return OTHER_ERROR;
	if (!has_outputs(t, "K", NULL))
		return ACCEPTED; /* an invalid test: nothing to compare with */
	if (hex_field(t, "K", want_ss, 32) != 0 || memcmp(ss, want_ss, 32) != 0)
		return WRONG_OUTPUT;
	return ACCEPTED;
}

/* mlkem_768_test.json: seed (d || z), c -> K (and ek where given). */
static void wp_decaps_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	uint8_t seed[64];
	enum outcome o;

	(void)g;
	if (hex_len(t, "seed") == (size_t)-1 || hex_len(t, "c") == (size_t)-1) {
		t_fail(__FILE__, __LINE__, "wycheproof decaps tcId %lld: malformed test", TCID(t));
		return;
	}
	if (hex_len(t, "seed") != sizeof(seed) || hex_len(t, "c") != k->ct_bytes)
		o = REJECTED_LENGTH;
	else if (hex_field(t, "seed", seed, sizeof(seed)) != 0 ||
	    k->keypair_derand(ek, dk, seed, seed + 32) != 0)
		o = OTHER_ERROR;
	else if (json_get(t, "ek") != NULL && (hex_field(t, "ek", want_ek, k->ek_bytes) != 0 ||
	    memcmp(ek, want_ek, k->ek_bytes) != 0))
		o = WRONG_OUTPUT;
	else
		o = decaps_outcome(k, t);
	wp_judge("wycheproof decaps", t, o, &wp_tally);
}

static void wp_decaps(void)
{
	const struct json *doc = doc_get(DOC_WP_DECAPS);

	if (doc == NULL)
		return;
	memset(&wp_tally, 0, sizeof(wp_tally));
	for_each_test(doc, NULL, wp_decaps_one);
	CHECK(wp_tally.n == 193, "ran %zu tests", wp_tally.n);
	wp_report("wycheproof decaps", &wp_tally);
}

/* mlkem_768_semi_expanded_decaps_test.json: expanded dk, c -> K. */
static void wp_semi_one(const struct json *g, const struct kem *k,
    const struct json *t)
{
	enum outcome o;

	(void)g;
	if (hex_len(t, "dk") == (size_t)-1 || hex_len(t, "c") == (size_t)-1) {
		t_fail(__FILE__, __LINE__, "wycheproof semi-expanded tcId %lld: malformed test",
		    TCID(t));
		return;
	}
	if (hex_len(t, "dk") != k->dk_bytes || hex_len(t, "c") != k->ct_bytes)
		o = REJECTED_LENGTH;
	else if (hex_field(t, "dk", dk, k->dk_bytes) != 0)
		o = OTHER_ERROR;
	else
		o = decaps_outcome(k, t);
	wp_judge("wycheproof semi-expanded decaps", t, o, &wp_tally);
}

static void wp_semi(void)
{
	const struct json *doc = doc_get(DOC_WP_SEMI);

	if (doc == NULL)
		return;
	memset(&wp_tally, 0, sizeof(wp_tally));
	for_each_test(doc, NULL, wp_semi_one);
	CHECK(wp_tally.n == 9, "ran %zu tests", wp_tally.n);
	wp_report("wycheproof semi-expanded decaps", &wp_tally);
}

/*
 * C2SP CCTV (c2sp.org/CCTV/ML-KEM), ML-KEM-768.
 */

/* A "name = HEX" record file: one record, '#' comments. */
struct kv {
	char *buf;
	size_t n;
	char *name[16], *value[16];
};

static int kv_load(struct kv *kv, const char *rel)
{
	char *path, *line, *next, *eq;
	size_t len;

	memset(kv, 0, sizeof(*kv));
	if ((path = vec_path(rel)) == NULL)
		return -1;
	kv->buf = (char *)t_read_file(path, &len);
	free(path);
	if (kv->buf == NULL) {
		t_fail(__FILE__, __LINE__, "%s: cannot read", rel);
		return -1;
	}
	for (line = kv->buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strstr(line, " = ")) == NULL || kv->n == 16) {
			t_fail(__FILE__, __LINE__, "%s: bad line \"%.40s\"", rel, line);
			free(kv->buf);
			return -1;
		}
		*eq = '\0';
		kv->name[kv->n] = line;
		kv->value[kv->n++] = eq + 3;
	}
	return 0;
}

static int kv_hex(const struct kv *kv, const char *name, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->name[i], name) == 0)
			return t_unhex(out, n, kv->value[i]);
	return -1;
}

/* modulus: 780 encapsulation keys, each with one coefficient in [q, 2^12). */
static void cctv_modulus(void)
{
	static char line[4096];
	const struct kem *k = mlkem768;
	char *path, *cmd, *c;
	size_t lines = 0, cap;
	FILE *f;
	int r, st;

	if ((path = vec_path(VEC("cctv-mlkem/modulus-ML-KEM-768.txt.gz"))) == NULL)
		return;
	/* gzip reads the file: no zlib dependency. Quote the path for sh. */
	cap = 4 * strlen(path) + 32;
	if ((cmd = malloc(cap)) == NULL) {
		free(path);
		t_fail(__FILE__, __LINE__, "out of memory");
		return;
	}
	strcpy(cmd, "gzip -dc < '");
	c = cmd + strlen(cmd);
	for (const char *p = path; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(c, "'\\''", 4);
			c += 4;
		} else
			*c++ = *p;
	}
	strcpy(c, "'");
	free(path);
	if ((f = popen(cmd, "r")) == NULL) {
		free(cmd);
		t_fail(__FILE__, __LINE__, "popen gzip failed");
		return;
	}
	memset(m, 0, sizeof(m));
	while (fgets(line, sizeof(line), f) != NULL) {
		lines++;
		line[strcspn(line, "\r\n")] = '\0';
		if (t_unhex(ek, k->ek_bytes, line) != 0) {
			t_fail(__FILE__, __LINE__, "modulus line %zu: not %zu bytes of hex", lines,
			    k->ek_bytes);
			continue;
		}
		r = k->encaps_derand(ct, ss, ek, m);
		CHECK(r == PQX_ERR_INVALID_KEY, "modulus line %zu: encaps returned %d", lines, r);
	}
	st = pclose(f);
	CHECK(st == 0, "%s: exit status %d", cmd, st);
	CHECK(lines == 780, "read %zu keys, want 780", lines);
	free(cmd);
}

/* strcmp: a ciphertext starting with 0x00, which strcmp() would wrongly accept. */
static void cctv_strcmp(void)
{
	const struct kem *k = mlkem768;
	struct kv kv;

	if (kv_load(&kv, VEC("cctv-mlkem/strcmp-ML-KEM-768.txt")) != 0)
		return;
	if (kv_hex(&kv, "dk", dk, k->dk_bytes) || kv_hex(&kv, "c", ct, k->ct_bytes) ||
	    kv_hex(&kv, "K", want_ss, 32))
		t_fail(__FILE__, __LINE__, "strcmp: malformed file");
	else {
		CHECK(ct[0] == 0x00, "strcmp: c does not start with 0x00");
		CHECK(k->decaps(ss, ct, dk) == 0, "strcmp: decaps error");
		CHECK_EQ_MEM(ss, want_ss, 32, "strcmp: K differs");
	}
	free(kv.buf);
}

/* unluckysample: SampleNTT needs 582 XOF bytes for this d (final FIPS 203). */
static void cctv_unlucky(void)
{
	const struct kem *k = mlkem768;
	struct kv kv;

	if (kv_load(&kv, VEC("cctv-mlkem/unluckysample-ML-KEM-768.final-fips203.txt")) != 0)
		return;
	if (kv_hex(&kv, "d", d, 32) || kv_hex(&kv, "z", z, 32) ||
	    kv_hex(&kv, "ek", want_ek, k->ek_bytes) || kv_hex(&kv, "dk", want_dk, k->dk_bytes) ||
	    kv_hex(&kv, "m", m, 32) || kv_hex(&kv, "K", want_ss, 32) ||
	    kv_hex(&kv, "c", want_ct, k->ct_bytes)) {
		t_fail(__FILE__, __LINE__, "unluckysample: malformed file");
		free(kv.buf);
		return;
	}
	CHECK(k->keypair_derand(ek, dk, d, z) == 0, "unluckysample: keygen error");
	CHECK_EQ_MEM(ek, want_ek, k->ek_bytes, "unluckysample: ek differs");
	CHECK_EQ_MEM(dk, want_dk, k->dk_bytes, "unluckysample: dk differs");
	CHECK(k->encaps_derand(ct, ss, want_ek, m) == 0, "unluckysample: encaps error");
	CHECK_EQ_MEM(ct, want_ct, k->ct_bytes, "unluckysample: c differs");
	CHECK_EQ_MEM(ss, want_ss, 32, "unluckysample: K differs");
	CHECK(k->decaps(ss, want_ct, want_dk) == 0, "unluckysample: decaps error");
	CHECK_EQ_MEM(ss, want_ss, 32, "unluckysample: decaps K differs");
	free(kv.buf);
}

/*
 * The accumulated test (CCTV ML-KEM README, "Accumulated pq-crystals
 * vectors", final FIPS 203 values). The RNG is one SHAKE-128 instance on
 * the empty input. Each iteration draws d, z, m (32 bytes each) and a
 * random 1088-byte ciphertext, in that order; then runs KeyGen(d, z),
 * Encaps(ek, m) -> ct, k, checks Decaps(ct) == k, and Decaps(random ct)
 * -> k_rej; and writes ek || dk || ct || k || k_rej to a second running
 * SHAKE-128 instance. The expected value is its first 32 output bytes
 * after the given number of iterations.
 */
static const struct {
	unsigned long n;
	const char *hex;
} accumulated_768[] = {
	{ 100, "8d65b902f28edc683cebee2872962fd165a4d197c9e24ec74caa4470270df0b7" },
	{ 10000, "f959d18d3d1180121433bf0e05f11e7908cf9d03edc150b2b07cb90bef5bc1c1" },
	/* c2sp.org/CCTV/ML-KEM README, ML-KEM-768, final FIPS 203. */
	{ 1000000, "3b108396a277f2952ff3243a985c9709bcb95788c39b7b36a2c4e19d1a41e51e" },
};

static void accumulated(unsigned long iterations)
{
	const struct kem *k = mlkem768;
	pqx_keccak_ctx rng, acc, fin;
	uint8_t rct[PQX_MLKEM768_CT_BYTES], k_rej[32], got[32], want[32];
	size_t next = 0;
	int r;

	pqx_shake128_init(&rng);
	pqx_shake128_init(&acc);
	for (unsigned long i = 1; i <= iterations; i++) {
		pqx_keccak_squeeze(&rng, d, 32);
		pqx_keccak_squeeze(&rng, z, 32);
		pqx_keccak_squeeze(&rng, m, 32);
		pqx_keccak_squeeze(&rng, rct, sizeof(rct));
		if ((r = k->keypair_derand(ek, dk, d, z)) != 0 ||
		    (r = k->encaps_derand(ct, ss, ek, m)) != 0 ||
		    (r = k->decaps(want_ss, ct, dk)) != 0 || (r = k->decaps(k_rej, rct, dk)) != 0) {
			t_fail(__FILE__, __LINE__, "accumulated iteration %lu: error %d", i, r);
			return;
		}
		if (memcmp(ss, want_ss, 32) != 0) {
			t_fail(__FILE__, __LINE__, "accumulated iteration %lu: Decaps(ct) != k", i);
			return;
		}
		pqx_keccak_absorb(&acc, ek, k->ek_bytes);
		pqx_keccak_absorb(&acc, dk, k->dk_bytes);
		pqx_keccak_absorb(&acc, ct, k->ct_bytes);
		pqx_keccak_absorb(&acc, ss, 32);
		pqx_keccak_absorb(&acc, k_rej, 32);
		if (next < sizeof(accumulated_768) / sizeof(accumulated_768[0]) &&
		    accumulated_768[next].n == i) {
			fin = acc; /* a copy: the stream goes on */
			pqx_keccak_squeeze(&fin, got, sizeof(got));
			CHECK(t_unhex(want, 32, accumulated_768[next].hex) == 0);
			CHECK_EQ_MEM(got, want, 32, "accumulated hash after %lu iterations", i);
			if (t_case_failures())
				return;
			next++;
		}
	}
	CHECK(next > 0 && accumulated_768[next - 1].n == iterations, "no expected value for %lu",
	    iterations);
}

static void cctv_accumulated(void)
{
	accumulated(10000);
}

static void cctv_accumulated_million(void)
{
	const char *slow = getenv("PQX_SLOW");

	if (slow == NULL || strcmp(slow, "1") != 0) {
		t_skip("1,000,000 iterations take minutes; set PQX_SLOW=1 to run them");
		return;
	}
	accumulated(1000000);
}

/*
 * Each family runs twice: on the portable code, then on the code the
 * library selects (AVX2 where the CPU and the build have it).
 */
static const struct family {
	const char *name;
	void (*fn)(void);
} families[] = {
	{ "ACVP keyGen ML-KEM-512/768/1024", acvp_keygen },
	{ "ACVP encapsulation ML-KEM-512/768/1024", acvp_encaps },
	{ "ACVP decapsulation (seed and expanded keys)", acvp_decaps },
	{ "ACVP decapsulationKeyCheck", acvp_dkcheck },
	{ "ACVP encapsulationKeyCheck", acvp_ekcheck },
	{ "Wycheproof ML-KEM-768 keygen from seed", wp_keygen },
	{ "Wycheproof ML-KEM-768 encaps", wp_encaps },
	{ "Wycheproof ML-KEM-768 decaps", wp_decaps },
	{ "Wycheproof ML-KEM-768 semi-expanded decaps", wp_semi },
	{ "CCTV ML-KEM-768 modulus (780 bad keys)", cctv_modulus },
	{ "CCTV ML-KEM-768 strcmp", cctv_strcmp },
	{ "CCTV ML-KEM-768 unluckysample", cctv_unlucky },
	{ "CCTV ML-KEM-768 accumulated 100 and 10,000", cctv_accumulated },
	{ "CCTV ML-KEM-768 accumulated 1,000,000", cctv_accumulated_million },
};

static const struct family *cur_family;
static int cur_portable;

static void run_variant(void)
{
	pqx_mlkem_force_portable(cur_portable);
	if (!cur_portable && strcmp(pqx_mlkem_impl(), "portable") == 0) {
		t_skip("no AVX2 on this CPU or in this build; the portable run covers it");
		return;
	}
	cur_family->fn();
}

int main(void)
{
	char name[128];

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		for (cur_portable = 1; cur_portable >= 0; cur_portable--) {
			cur_family = &families[i];
			snprintf(name, sizeof(name), "mlkem vectors: %s [%s]", cur_family->name,
			    cur_portable ? "portable" : "avx2");
			t_run(name, run_variant);
		}
	}
	pqx_mlkem_force_portable(0);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		json_free(docs[i].doc);
	return t_done();
}
