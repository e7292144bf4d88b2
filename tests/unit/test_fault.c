/* pqx tests: injected failures of the random generator and of every allocation (ours and OpenSSL's). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <pqx/hpke.h>
#include <pqx/mlkem.h>
#include <pqx/xwing.h>

#include "crypto/ossl.h"
#include "harness.h"
#include "util/util.h"

/*
 * Each operation runs once with no fault to get its reference outputs,
 * then again with the Nth fault point failing, for N = 1, 2, ... until a
 * run meets no fault. A faulted run must either succeed with the reference
 * outputs (the failure was absorbed) or return a negative PQX_ERR_* code
 * with every output zeroed; outputs are filled with 0xAA first so that
 * "zeroed" means written. Each loop also runs with every fault point from
 * N on failing (memory that stays exhausted).
 *
 * Fault points: pqx_randombytes (pqx_test_set_random_fault); our own
 * allocations and the wrappers' stand-in for libcrypto allocation
 * (pqx_test_set_alloc_fault); and libcrypto's real allocations, through
 * CRYPTO_set_mem_functions, installed before anything touches OpenSSL.
 * Under the normal build the test counts libcrypto's live allocations
 * around each faulted run to find leaks; the ASan build (build/asan)
 * runs the same test under LeakSanitizer, which sees both allocators.
 */

#define FILL 0xAA
#define MAX_FAULTS 20000 /* a loop still failing here is a bug */
#define MAX_OUT 8192

/* The fault injector shared by the three fault points. */
static struct {
	long at;       /* the fault point (1-based) to fail; 0 disarms */
	int sticky;    /* fail every point from `at` on */
	long count;    /* fault points met since arming */
	long injected; /* failures injected since arming */
} fault;

static int fault_hit(void)
{
	if (fault.at == 0)
		return 0;
	fault.count++;
	if (fault.count == fault.at || (fault.sticky && fault.count > fault.at)) {
		fault.injected++;
		return 1;
	}
	return 0;
}

static void fault_arm(long at, int sticky)
{
	fault.at = at;
	fault.sticky = sticky;
	fault.count = 0;
	fault.injected = 0;
}

static void fault_disarm(void)
{
	fault.at = 0;
}

/* libcrypto's allocator: counted, failing on demand, and tracking live blocks. */
static int ossl_faults; /* whether the libcrypto hooks inject faults */
static long ossl_live;

static void *t_crypto_malloc(size_t n, const char *file, int line)
{
	void *p;

	(void)file;
	(void)line;
	if (ossl_faults && fault_hit())
		return NULL;
	if ((p = malloc(n == 0 ? 1 : n)) != NULL)
		ossl_live++;
	return p;
}

static void *t_crypto_realloc(void *old, size_t n, const char *file, int line)
{
	void *p;

	if (old == NULL)
		return t_crypto_malloc(n, file, line);
	if (n == 0) {
		free(old);
		ossl_live--;
		return NULL;
	}
	if (ossl_faults && fault_hit())
		return NULL;
	p = realloc(old, n);
	return p;
}

static void t_crypto_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p != NULL) {
		free(p);
		ossl_live--;
	}
}

static int mem_functions_installed;

/* Whether n bytes at p are all zero. */
static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* A few fixed keys and messages, made once with no faults armed. */
static struct {
	uint8_t ek512[PQX_MLKEM512_EK_BYTES], dk512[PQX_MLKEM512_DK_BYTES];
	uint8_t ek768[PQX_MLKEM768_EK_BYTES], dk768[PQX_MLKEM768_DK_BYTES];
	uint8_t ek1024[PQX_MLKEM1024_EK_BYTES], dk1024[PQX_MLKEM1024_DK_BYTES];
	uint8_t seed[PQX_XWING_SEED_BYTES], pk[PQX_XWING_PUBLIC_KEY_BYTES];
	uint8_t eseed[PQX_XWING_ESEED_BYTES], ct[PQX_XWING_CIPHERTEXT_BYTES];
	uint8_t key[32], nonce[12], ikm[40], salt[13], info[300], msg[100], aad[20];
	uint8_t sealed[100 + 16]; /* msg under key, nonce (ChaCha20-Poly1305) */
	pqx_hpke_ctx hs, hr;      /* HPKE sender and receiver, seq 0 */
	uint8_t enc[PQX_XWING_CIPHERTEXT_BYTES], hsealed[100 + 16];
} k;

/*
 * An operation under test. run() calls the library with out (pre-filled
 * with FILL by the caller) holding every output that must be zeroed on
 * error, sets n to their total size and returns the library's code.
 * Invariants other than zeroing (HPKE's seq) it checks itself.
 */
struct op {
	const char *name;
	int (*run)(uint8_t *out, size_t *n);
	int random; /* the output is random: a success is checked for being written */
};

static int op_mlkem512_keypair(uint8_t *out, size_t *n)
{
	*n = PQX_MLKEM512_EK_BYTES + PQX_MLKEM512_DK_BYTES;
	return pqx_mlkem512_keypair(out, out + PQX_MLKEM512_EK_BYTES);
}
static int op_mlkem768_keypair(uint8_t *out, size_t *n)
{
	*n = PQX_MLKEM768_EK_BYTES + PQX_MLKEM768_DK_BYTES;
	return pqx_mlkem768_keypair(out, out + PQX_MLKEM768_EK_BYTES);
}
static int op_mlkem1024_keypair(uint8_t *out, size_t *n)
{
	*n = PQX_MLKEM1024_EK_BYTES + PQX_MLKEM1024_DK_BYTES;
	return pqx_mlkem1024_keypair(out, out + PQX_MLKEM1024_EK_BYTES);
}
static int op_mlkem512_encaps(uint8_t *out, size_t *n)
{
	*n = PQX_MLKEM512_CT_BYTES + 32;
	return pqx_mlkem512_encaps(out, out + PQX_MLKEM512_CT_BYTES, k.ek512);
}
static int op_mlkem768_encaps(uint8_t *out, size_t *n)
{
	*n = PQX_MLKEM768_CT_BYTES + 32;
	return pqx_mlkem768_encaps(out, out + PQX_MLKEM768_CT_BYTES, k.ek768);
}
static int op_mlkem1024_encaps(uint8_t *out, size_t *n)
{
	*n = PQX_MLKEM1024_CT_BYTES + 32;
	return pqx_mlkem1024_encaps(out, out + PQX_MLKEM1024_CT_BYTES, k.ek1024);
}
static int op_xwing_keypair(uint8_t *out, size_t *n)
{
	*n = PQX_XWING_PUBLIC_KEY_BYTES + PQX_XWING_SEED_BYTES;
	return pqx_xwing_keypair(out, out + PQX_XWING_PUBLIC_KEY_BYTES);
}
static int op_xwing_public_key(uint8_t *out, size_t *n)
{
	*n = PQX_XWING_PUBLIC_KEY_BYTES;
	return pqx_xwing_public_key(out, k.seed);
}
static int op_xwing_encaps(uint8_t *out, size_t *n)
{
	*n = PQX_XWING_CIPHERTEXT_BYTES + PQX_XWING_SS_BYTES;
	return pqx_xwing_encaps(out, out + PQX_XWING_CIPHERTEXT_BYTES, k.pk);
}
static int op_xwing_encaps_derand(uint8_t *out, size_t *n)
{
	*n = PQX_XWING_CIPHERTEXT_BYTES + PQX_XWING_SS_BYTES;
	return pqx_xwing_encaps_derand(out, out + PQX_XWING_CIPHERTEXT_BYTES, k.pk, k.eseed);
}
static int op_xwing_decaps(uint8_t *out, size_t *n)
{
	*n = PQX_XWING_SS_BYTES;
	return pqx_xwing_decaps(out, k.ct, k.seed);
}

/* HPKE setup: ctx and enc must both be zero on error. */
static int op_hpke_setup_s(uint8_t *out, size_t *n)
{
	pqx_hpke_ctx ctx;
	int r;

	memset(&ctx, FILL, sizeof(ctx));
	r = pqx_hpke_setup_base_s(&ctx, out + sizeof(ctx), PQX_HPKE_KEM_XWING,
	    PQX_HPKE_KDF_HKDF_SHA256, PQX_HPKE_AEAD_CHACHA20_POLY1305, k.pk, sizeof(k.pk),
	    k.info, sizeof(k.info));
	memcpy(out, &ctx, sizeof(ctx));
	*n = sizeof(ctx) + PQX_XWING_CIPHERTEXT_BYTES;
	pqx_hpke_ctx_wipe(&ctx);
	return r;
}
static int op_hpke_setup_s_derand(uint8_t *out, size_t *n)
{
	pqx_hpke_ctx ctx;
	int r;

	memset(&ctx, FILL, sizeof(ctx));
	r = pqx_hpke_setup_base_s_derand(&ctx, out + sizeof(ctx), PQX_HPKE_KEM_XWING,
	    PQX_HPKE_KDF_HKDF_SHA256, PQX_HPKE_AEAD_CHACHA20_POLY1305, k.pk, sizeof(k.pk),
	    k.info, sizeof(k.info), k.eseed, sizeof(k.eseed));
	memcpy(out, &ctx, sizeof(ctx));
	*n = sizeof(ctx) + PQX_XWING_CIPHERTEXT_BYTES;
	pqx_hpke_ctx_wipe(&ctx);
	return r;
}
static int op_hpke_setup_r(uint8_t *out, size_t *n)
{
	pqx_hpke_ctx ctx;
	int r;

	memset(&ctx, FILL, sizeof(ctx));
	r = pqx_hpke_setup_base_r(&ctx, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256,
	    PQX_HPKE_AEAD_CHACHA20_POLY1305, k.enc, sizeof(k.enc), k.seed, sizeof(k.seed),
	    k.info, sizeof(k.info));
	memcpy(out, &ctx, sizeof(ctx));
	*n = sizeof(ctx);
	pqx_hpke_ctx_wipe(&ctx);
	return r;
}

/* Seal and open: the output is zeroed on error and seq advances only on success. */
static int op_hpke_seal(uint8_t *out, size_t *n)
{
	pqx_hpke_ctx ctx = k.hs;
	int r = pqx_hpke_seal(&ctx, out, k.aad, sizeof(k.aad), k.msg, sizeof(k.msg));

	*n = sizeof(k.msg) + PQX_HPKE_TAG_BYTES;
	CHECK(ctx.seq == (r == 0 ? 1u : 0u), "hpke seal: seq %llu after %d",
	    (unsigned long long)ctx.seq, r);
	pqx_hpke_ctx_wipe(&ctx);
	return r;
}
static int op_hpke_open(uint8_t *out, size_t *n)
{
	pqx_hpke_ctx ctx = k.hr;
	int r = pqx_hpke_open(&ctx, out, k.aad, sizeof(k.aad), k.hsealed, sizeof(k.hsealed));

	*n = sizeof(k.msg);
	CHECK(ctx.seq == (r == 0 ? 1u : 0u), "hpke open: seq %llu after %d",
	    (unsigned long long)ctx.seq, r);
	pqx_hpke_ctx_wipe(&ctx);
	return r;
}
static int op_hpke_export(uint8_t *out, size_t *n)
{
	*n = 77;
	return pqx_hpke_export(&k.hr, out, 77, k.info, sizeof(k.info));
}

/* The libcrypto wrappers. */
static int op_aead_seal_chacha(uint8_t *out, size_t *n)
{
	*n = sizeof(k.msg) + 16;
	return pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, k.key, out, k.nonce, k.aad,
	    sizeof(k.aad), k.msg, sizeof(k.msg));
}
static int op_aead_seal_gcm(uint8_t *out, size_t *n)
{
	*n = sizeof(k.msg) + 16;
	return pqx_aead_seal_once(PQX_AEAD_AES_256_GCM, k.key, out, k.nonce, k.aad,
	    sizeof(k.aad), k.msg, sizeof(k.msg));
}
static int op_aead_open_chacha(uint8_t *out, size_t *n)
{
	*n = sizeof(k.msg);
	return pqx_aead_open_once(PQX_AEAD_CHACHA20_POLY1305, k.key, out, k.nonce, k.aad,
	    sizeof(k.aad), k.sealed, sizeof(k.sealed));
}
/* The reusable AEAD object: new, seal, open, free. */
static int op_aead_object(uint8_t *out, size_t *n)
{
	pqx_aead *a = pqx_aead_new(PQX_AEAD_AES_256_GCM, k.key);
	int r = PQX_ERR_NOMEM;

	*n = 2 * sizeof(k.msg) + 16;
	if (a == NULL) {
		memset(out, 0, *n); /* pqx_aead_new's contract: NULL, nothing else */
		return r;
	}
	if ((r = pqx_aead_seal(a, out, k.nonce, NULL, 0, k.msg, sizeof(k.msg))) == 0)
		r = pqx_aead_open(a, out + sizeof(k.msg) + 16, k.nonce, NULL, 0, out,
		    sizeof(k.msg) + 16);
	else
		memset(out + sizeof(k.msg) + 16, 0, sizeof(k.msg)); /* open never ran */
	pqx_aead_free(a);
	return r;
}
static int op_hkdf_extract(uint8_t *out, size_t *n)
{
	*n = 32;
	return pqx_hkdf_sha256_extract(out, k.salt, sizeof(k.salt), k.ikm, sizeof(k.ikm));
}
static int op_hkdf_expand(uint8_t *out, size_t *n)
{
	*n = 100;
	return pqx_hkdf_sha256_expand(out, 100, k.key, k.info, sizeof(k.info));
}
static int op_hkdf(uint8_t *out, size_t *n)
{
	*n = 42;
	return pqx_hkdf_sha256(out, 42, k.salt, sizeof(k.salt), k.ikm, sizeof(k.ikm), k.info,
	    sizeof(k.info));
}
static int op_hmac(uint8_t *out, size_t *n)
{
	*n = 32;
	return pqx_hmac_sha256(out, k.key, sizeof(k.key), k.msg, sizeof(k.msg));
}
static int op_sha256(uint8_t *out, size_t *n)
{
	*n = 32;
	return pqx_sha256(out, k.msg, sizeof(k.msg));
}
static int op_x25519(uint8_t *out, size_t *n)
{
	*n = 32;
	return pqx_x25519(out, k.key, k.pk + PQX_MLKEM768_EK_BYTES);
}
static int op_x25519_base(uint8_t *out, size_t *n)
{
	*n = 32;
	return pqx_x25519_base(out, k.key);
}
static int op_x25519_known(uint8_t *out, size_t *n)
{
	uint8_t pub[32];
	int r;

	*n = 32;
	if ((r = pqx_x25519_base(pub, k.key)) != 0) {
		memset(out, 0, 32);
		return r;
	}
	return pqx_x25519_known(out, k.key, pub, k.pk + PQX_MLKEM768_EK_BYTES);
}
static int op_scrypt(uint8_t *out, size_t *n)
{
	*n = 32;
	return pqx_scrypt(out, 32, k.msg, 10, k.salt, sizeof(k.salt), 4, 8, 1);
}
static int op_randombytes(uint8_t *out, size_t *n)
{
	*n = 48;
	return pqx_randombytes(out, 48);
}

static const struct op random_ops[] = {
	{ "pqx_randombytes", op_randombytes, 1 },
	{ "pqx_mlkem512_keypair", op_mlkem512_keypair, 1 },
	{ "pqx_mlkem768_keypair", op_mlkem768_keypair, 1 },
	{ "pqx_mlkem1024_keypair", op_mlkem1024_keypair, 1 },
	{ "pqx_mlkem512_encaps", op_mlkem512_encaps, 1 },
	{ "pqx_mlkem768_encaps", op_mlkem768_encaps, 1 },
	{ "pqx_mlkem1024_encaps", op_mlkem1024_encaps, 1 },
	{ "pqx_xwing_keypair", op_xwing_keypair, 1 },
	{ "pqx_xwing_encaps", op_xwing_encaps, 1 },
	{ "pqx_hpke_setup_base_s", op_hpke_setup_s, 1 },
};

static const struct op alloc_ops[] = {
	{ "pqx_xwing_public_key", op_xwing_public_key, 0 },
	{ "pqx_xwing_encaps", op_xwing_encaps, 1 },
	{ "pqx_xwing_encaps_derand", op_xwing_encaps_derand, 0 },
	{ "pqx_xwing_decaps", op_xwing_decaps, 0 },
	{ "pqx_hpke_setup_base_s", op_hpke_setup_s, 1 },
	{ "pqx_hpke_setup_base_s_derand", op_hpke_setup_s_derand, 0 },
	{ "pqx_hpke_setup_base_r", op_hpke_setup_r, 0 },
	{ "pqx_hpke_seal", op_hpke_seal, 0 },
	{ "pqx_hpke_open", op_hpke_open, 0 },
	{ "pqx_hpke_export", op_hpke_export, 0 },
	{ "pqx_aead_seal_once chacha20-poly1305", op_aead_seal_chacha, 0 },
	{ "pqx_aead_seal_once aes-256-gcm", op_aead_seal_gcm, 0 },
	{ "pqx_aead_open_once chacha20-poly1305", op_aead_open_chacha, 0 },
	{ "pqx_aead_new/seal/open/free", op_aead_object, 0 },
	{ "pqx_hkdf_sha256_extract", op_hkdf_extract, 0 },
	{ "pqx_hkdf_sha256_expand", op_hkdf_expand, 0 },
	{ "pqx_hkdf_sha256", op_hkdf, 0 },
	{ "pqx_hmac_sha256", op_hmac, 0 },
	{ "pqx_sha256", op_sha256, 0 },
	{ "pqx_x25519", op_x25519, 0 },
	{ "pqx_x25519_base", op_x25519_base, 0 },
	{ "pqx_x25519_known", op_x25519_known, 0 },
	{ "pqx_scrypt", op_scrypt, 0 },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Which fault point a loop drives. */
enum point { POINT_RANDOM, POINT_PQX_ALLOC, POINT_OSSL_ALLOC };

static const char *point_name[] = { "random generator", "pqx allocation",
	"libcrypto allocation" };

/*
 * Per fault point, for the summary line: runs with a fault injected, those
 * that succeeded anyway, and the codes the others returned.
 */
static long faulted_runs, absorbed_runs;
static int seen_codes[32];

static void set_point(enum point pt, int on)
{
	pqx_test_set_random_fault(on && pt == POINT_RANDOM ? fault_hit : NULL);
	pqx_test_set_alloc_fault(on && pt == POINT_PQX_ALLOC ? fault_hit : NULL);
	ossl_faults = on && pt == POINT_OSSL_ALLOC;
}

/* Runs op at every fault point in turn; returns the number of fault points it met. */
static long fault_loop(const struct op *op, enum point pt, int sticky)
{
	static uint8_t ref[MAX_OUT], out[MAX_OUT];
	size_t ref_n = 0, n = 0;
	const int failures = t_case_failures();
	long at;
	int r;

	memset(ref, FILL, sizeof(ref));
	r = op->run(ref, &ref_n);
	CHECK(r == 0, "%s: %s without faults", op->name, pqx_strerror(r));
	if (r != 0)
		return 0;
	for (at = 1; at <= MAX_FAULTS; at++) {
		long live = ossl_live;

		ERR_clear_error();
		memset(out, FILL, sizeof(out));
		fault_arm(at, sticky);
		set_point(pt, 1);
		r = op->run(out, &n);
		set_point(pt, 0);
		fault_disarm();
		ERR_clear_error();
		if (fault.injected > 0) {
			faulted_runs++;
			absorbed_runs += r == 0;
		}

		if (r == 0) {
			if (op->random)
				CHECK(memcmp(out, ref, n) != 0 && !all_zero(out, n),
				    "%s: fault %ld: success without fresh output", op->name, at);
			else
				CHECK(n == ref_n && memcmp(out, ref, n) == 0,
				    "%s: fault %ld: success with wrong output", op->name, at);
		} else {
			CHECK(r < 0 && strcmp(pqx_strerror(r), "unknown error") != 0,
			    "%s: fault %ld: returned %d", op->name, at, r);
			CHECK(all_zero(out, n), "%s: fault %ld: %s with outputs not zeroed",
			    op->name, at, pqx_strerror(r));
			if (pt == POINT_RANDOM)
				CHECK(r == PQX_ERR_RANDOM, "%s: random fault %ld gave %s",
				    op->name, at, pqx_strerror(r));
			if (-r > 0 && -r < (int)NELEM(seen_codes))
				seen_codes[-r]++;
		}
		CHECK(fault.injected > 0 || r == 0, "%s: %s with no fault injected", op->name,
		    pqx_strerror(r));
		if (mem_functions_installed)
			CHECK(ossl_live == live, "%s: fault %ld: %ld libcrypto blocks leaked",
			    op->name, at, ossl_live - live);
		/* One report per operation and fault point is enough. */
		if (t_case_failures() > failures || fault.injected == 0)
			break;
	}
	CHECK(at <= MAX_FAULTS, "%s: still failing after %d faults", op->name, MAX_FAULTS);
	return at - 1;
}

static void run_ops(const struct op *ops, size_t n_ops, enum point pt)
{
	faulted_runs = absorbed_runs = 0;
	memset(seen_codes, 0, sizeof(seen_codes));
	for (int sticky = 0; sticky <= 1; sticky++)
		for (size_t i = 0; i < n_ops; i++) {
			long p = fault_loop(&ops[i], pt, sticky);

			if (getenv("PQX_FAULT_VERBOSE") != NULL)
				printf("# %s %s%s: %ld fault points\n", ops[i].name,
				    point_name[pt], sticky ? " (sticky)" : "", p);
		}
	printf("# %s: %ld faulted runs, %ld of them succeeded anyway; the others:",
	    point_name[pt], faulted_runs, absorbed_runs);
	for (int c = 1; c < (int)NELEM(seen_codes); c++)
		if (seen_codes[c] > 0)
			printf(" %s x%d", pqx_strerror(-c), seen_codes[c]);
	printf("\n");
}

static void test_random_faults(void)
{
	run_ops(random_ops, NELEM(random_ops), POINT_RANDOM);
}

static void test_pqx_alloc_faults(void)
{
	run_ops(alloc_ops, NELEM(alloc_ops), POINT_PQX_ALLOC);
}

static void test_ossl_alloc_faults(void)
{
	if (!mem_functions_installed) {
		t_skip("CRYPTO_set_mem_functions refused (libcrypto allocated before main)");
		return;
	}
	run_ops(alloc_ops, NELEM(alloc_ops), POINT_OSSL_ALLOC);
}

/* Keys and messages for the operations, made with no fault armed. */
static int setup(void)
{
	uint8_t d[64];

	t_rand(d, sizeof(d));
	t_rand(k.seed, sizeof(k.seed));
	t_rand(k.eseed, sizeof(k.eseed));
	t_rand(k.key, sizeof(k.key));
	t_rand(k.nonce, sizeof(k.nonce));
	t_rand(k.ikm, sizeof(k.ikm));
	t_rand(k.salt, sizeof(k.salt));
	t_rand(k.info, sizeof(k.info));
	t_rand(k.msg, sizeof(k.msg));
	t_rand(k.aad, sizeof(k.aad));
	return pqx_mlkem512_keypair_derand(k.ek512, k.dk512, d, d + 32) ||
	    pqx_mlkem768_keypair_derand(k.ek768, k.dk768, d, d + 32) ||
	    pqx_mlkem1024_keypair_derand(k.ek1024, k.dk1024, d, d + 32) ||
	    pqx_xwing_public_key(k.pk, k.seed) ||
	    pqx_xwing_encaps_derand(k.ct, d, k.pk, k.eseed) ||
	    pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, k.key, k.sealed, k.nonce, k.aad,
		sizeof(k.aad), k.msg, sizeof(k.msg)) ||
	    pqx_hpke_setup_base_s_derand(&k.hs, k.enc, PQX_HPKE_KEM_XWING,
		PQX_HPKE_KDF_HKDF_SHA256, PQX_HPKE_AEAD_CHACHA20_POLY1305, k.pk, sizeof(k.pk),
		k.info, sizeof(k.info), k.eseed, sizeof(k.eseed)) ||
	    pqx_hpke_setup_base_r(&k.hr, PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256,
		PQX_HPKE_AEAD_CHACHA20_POLY1305, k.enc, sizeof(k.enc), k.seed, sizeof(k.seed),
		k.info, sizeof(k.info)) ||
	    pqx_hpke_seal(&k.hs, k.hsealed, k.aad, sizeof(k.aad), k.msg, sizeof(k.msg));
}

int main(void)
{
	/* Before any libcrypto call: it refuses once it has allocated. */
	mem_functions_installed =
	    CRYPTO_set_mem_functions(t_crypto_malloc, t_crypto_realloc, t_crypto_free);

	if (setup() != 0) {
		printf("FAIL fault: setting up keys without faults\n");
		return 1;
	}
	k.hs.seq = 0; /* the sender seals the same first message again */
	/* Once through everything, so that libcrypto's lazy setup is done. */
	for (size_t i = 0; i < NELEM(alloc_ops); i++) {
		static uint8_t out[MAX_OUT];
		size_t n;

		if (alloc_ops[i].run(out, &n) != 0) {
			printf("FAIL fault: %s fails without faults\n", alloc_ops[i].name);
			return 1;
		}
	}
	t_run("fault: random generator failure zeroes outputs", test_random_faults);
	t_run("fault: pqx allocation failures (every point, then sticky)",
	    test_pqx_alloc_faults);
	t_run("fault: libcrypto allocation failures (every point, then sticky)",
	    test_ossl_alloc_faults);
	return t_done();
}
