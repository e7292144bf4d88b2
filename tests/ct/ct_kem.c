/* pqx ct: ML-KEM and X-Wing run on secrets marked undefined, so valgrind flags any branch or index on them. */
#include <string.h>

#include <pqx/mlkem.h>
#include <pqx/xwing.h>

#include "ct.h"

/*
 * The ctgrind method (Adam Langley; Monocypher's tests/ctgrind.c,
 * mlkem-native's CT tests): memcheck reports a conditional jump or a
 * memory address that depends on undefined bytes. Marking the secret
 * inputs undefined makes every secret-dependent branch or table index an
 * error; tests/ct/run.sh runs this under valgrind --error-exitcode=1.
 * Results are marked defined again (declassified) only where they are
 * public anyway (ek, ct) or just before the test compares them.
 *
 * Data that is public by the spec but computed from secrets is declassified
 * by tests/ct/public.supp, never here: see that file for each entry.
 *
 * Usage: ct_kem [secret|whole-dk]. "secret" (the default) marks the secret
 * parts of dk undefined (s-hat and z); "whole-dk" marks all of dk, which
 * also makes the public ek and H(ek) stored in it undefined (run.sh then
 * adds tests/ct/whole-dk.supp for the key check on them).
 */

static int whole_dk;

static unsigned long errors_before;

static void errors_mark(void)
{
	errors_before = ct_errors();
}

static void errors_check(void)
{
	ct_errors_check(errors_before);
}

typedef int (*keygen_fn)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
typedef int (*encaps_fn)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
typedef int (*decaps_fn)(uint8_t *, const uint8_t *, const uint8_t *);

struct kem {
	const char *name;
	unsigned int k;
	size_t ek_bytes, dk_bytes, ct_bytes;
	keygen_fn keygen;
	encaps_fn encaps;
	decaps_fn decaps;
};

static const struct kem kems[] = {
	{ "mlkem512", 2, PQX_MLKEM512_EK_BYTES, PQX_MLKEM512_DK_BYTES, PQX_MLKEM512_CT_BYTES,
	    pqx_mlkem512_keypair_derand, pqx_mlkem512_encaps_derand, pqx_mlkem512_decaps },
	{ "mlkem768", 3, PQX_MLKEM768_EK_BYTES, PQX_MLKEM768_DK_BYTES, PQX_MLKEM768_CT_BYTES,
	    pqx_mlkem768_keypair_derand, pqx_mlkem768_encaps_derand, pqx_mlkem768_decaps },
	{ "mlkem1024", 4, PQX_MLKEM1024_EK_BYTES, PQX_MLKEM1024_DK_BYTES,
	    PQX_MLKEM1024_CT_BYTES, pqx_mlkem1024_keypair_derand, pqx_mlkem1024_encaps_derand,
	    pqx_mlkem1024_decaps },
};

/* A few runs each, so that both outcomes of any data-dependent branch show up. */
#define RUNS 3

static void check_mlkem(const struct kem *k)
{
	uint8_t d[32], z[32], m[32], ss[32], ss2[32], ss3[32];
	uint8_t ek[PQX_MLKEM1024_EK_BYTES], dk[PQX_MLKEM1024_DK_BYTES];
	uint8_t ct[PQX_MLKEM1024_CT_BYTES];
	const size_t pke = k->k * 384;
	int r;

	for (int run = 0; run < RUNS; run++) {
		t_rand(d, sizeof(d));
		t_rand(z, sizeof(z));
		t_rand(m, sizeof(m));

		/* KeyGen: d and z secret; ek is public output. */
		SECRET(d, sizeof(d));
		SECRET(z, sizeof(z));
		r = k->keygen(ek, dk, d, z);
		PUBLIC(&r, sizeof(r));
		PUBLIC(ek, k->ek_bytes);
		CHECK(r == 0, "%s keygen: %d", k->name, r);

		/* Encaps: m secret, ek public; ct is public output. */
		SECRET(m, sizeof(m));
		r = k->encaps(ct, ss, ek, m);
		PUBLIC(&r, sizeof(r));
		PUBLIC(ct, k->ct_bytes);
		CHECK(r == 0, "%s encaps: %d", k->name, r);

		/* Decaps: dk secret (its s-hat and z, or all of it); ct public. */
		if (whole_dk) {
			SECRET(dk, k->dk_bytes);
		} else {
			PUBLIC(dk + pke, k->ek_bytes + 32); /* ek || H(ek) */
			SECRET(dk, pke);
			SECRET(dk + pke + k->ek_bytes + 32, 32);
		}
		r = k->decaps(ss2, ct, dk);
		PUBLIC(&r, sizeof(r));
		CHECK(r == 0, "%s decaps: %d", k->name, r);

		/* The implicit rejection path: an invalid ct, same dk. */
		ct[(size_t)run * 97 % k->ct_bytes] ^= 0x10;
		r = k->decaps(ss3, ct, dk);
		PUBLIC(&r, sizeof(r));
		CHECK(r == 0, "%s decaps (invalid ct): %d", k->name, r);

		PUBLIC(ss, sizeof(ss));
		PUBLIC(ss2, sizeof(ss2));
		PUBLIC(ss3, sizeof(ss3));
		CHECK(memcmp(ss, ss2, 32) == 0, "%s: decaps gives another key", k->name);
		CHECK(memcmp(ss, ss3, 32) != 0, "%s: an invalid ct gives the real key", k->name);
	}
}

static void check_all_mlkem(void)
{
	for (size_t i = 0; i < sizeof(kems) / sizeof(kems[0]); i++)
		check_mlkem(&kems[i]);
}

static void test_mlkem_portable(void)
{
	errors_mark();
	pqx_mlkem_force_portable(1);
	check_all_mlkem();
	pqx_mlkem_force_portable(0);
	errors_check();
}

static void test_mlkem_selected(void)
{
	pqx_mlkem_force_portable(0);
	if (strcmp(pqx_mlkem_impl(), "portable") == 0) {
		t_skip("no AVX2 on this CPU or build; the portable test covers it");
		return;
	}
	errors_mark();
	check_all_mlkem();
	errors_check();
}

/*
 * X-Wing: the seed and eseed are secret. Its X25519 is OpenSSL's; where
 * valgrind flags OpenSSL's internals, public.supp says so.
 */
static void test_xwing(void)
{
	uint8_t seed[32], eseed[64], pk[PQX_XWING_PUBLIC_KEY_BYTES];
	uint8_t ct[PQX_XWING_CIPHERTEXT_BYTES], ss[32], ss2[32], ss3[32], ss4[32];
	pqx_xwing_key k;
	int r;

	errors_mark();
	for (int run = 0; run < RUNS; run++) {
		t_rand(seed, sizeof(seed));
		t_rand(eseed, sizeof(eseed));

		SECRET(seed, sizeof(seed));
		r = pqx_xwing_public_key(pk, seed);
		PUBLIC(&r, sizeof(r));
		PUBLIC(pk, sizeof(pk));
		CHECK(r == 0, "xwing public key: %d", r);

		SECRET(eseed, sizeof(eseed));
		r = pqx_xwing_encaps_derand(ct, ss, pk, eseed);
		PUBLIC(&r, sizeof(r));
		PUBLIC(ct, sizeof(ct));
		CHECK(r == 0, "xwing encaps: %d", r);

		SECRET(seed, sizeof(seed));
		r = pqx_xwing_decaps(ss2, ct, seed);
		PUBLIC(&r, sizeof(r));
		CHECK(r == 0, "xwing decaps: %d", r);

		/* An invalid ML-KEM part: implicit rejection inside X-Wing. */
		ct[(size_t)run * 131 % PQX_MLKEM768_CT_BYTES] ^= 0x01;
		r = pqx_xwing_decaps(ss3, ct, seed);
		PUBLIC(&r, sizeof(r));
		CHECK(r == 0, "xwing decaps (invalid ct): %d", r);

		/* The same through the key expanded once (its public part is public). */
		SECRET(seed, sizeof(seed));
		r = pqx_xwing_key_expand(&k, seed);
		PUBLIC(&r, sizeof(r));
		PUBLIC(k.pk, sizeof(k.pk));
		CHECK(r == 0, "xwing key expand: %d", r);
		r = pqx_xwing_decaps_key(ss4, ct, &k);
		PUBLIC(&r, sizeof(r));
		CHECK(r == 0, "xwing decaps_key (invalid ct): %d", r);
		pqx_xwing_key_wipe(&k);

		PUBLIC(ss, sizeof(ss));
		PUBLIC(ss2, sizeof(ss2));
		PUBLIC(ss3, sizeof(ss3));
		PUBLIC(ss4, sizeof(ss4));
		CHECK(memcmp(ss3, ss4, 32) == 0, "xwing: decaps_key differs from decaps");
		CHECK(memcmp(ss, ss2, 32) == 0, "xwing: decaps gives another key");
		CHECK(memcmp(ss, ss3, 32) != 0, "xwing: an invalid ct gives the real key");
	}
	errors_check();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "secret";

	if (strcmp(mode, "whole-dk") == 0) {
		whole_dk = 1;
	} else if (strcmp(mode, "secret") != 0) {
		fprintf(stderr, "usage: ct_kem [secret|whole-dk]\n");
		return 2;
	}
	if (!RUNNING_ON_VALGRIND)
		printf("# not under valgrind: this only checks results, not timing\n");
	if (whole_dk) {
		t_run("ct mlkem portable: keygen, encaps, decaps (whole dk secret)",
		    test_mlkem_portable);
		t_run("ct mlkem selected impl: keygen, encaps, decaps (whole dk secret)",
		    test_mlkem_selected);
	} else {
		t_run("ct mlkem portable: keygen, encaps, decaps, implicit rejection",
		    test_mlkem_portable);
		t_run("ct mlkem selected impl: keygen, encaps, decaps, implicit rejection",
		    test_mlkem_selected);
		t_run("ct xwing: public key, encaps, decaps, implicit rejection, the key expanded once", test_xwing);
	}
	return t_done();
}
