/* pqx fuzz: writes seed inputs for each fuzz target, made with the library itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <pqx/hpke.h>
#include <pqx/mlkem.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>
#include <pqx/age.h>

/*
 * Usage: gen_seeds DIR. Writes DIR/<target>/<name> for the targets
 * mlkem_decaps, mlkem_encaps, xwing and hpke_open, in the input layout each
 * target's comment describes. The bytes are derived from a fixed SHAKE128
 * stream, so the seeds are the same on every run; nothing is read from
 * ../shared.
 */

static pqx_keccak_ctx rng;

static void rnd(uint8_t *out, size_t n)
{
	pqx_keccak_squeeze(&rng, out, n);
}

/* One seed input, built up field by field. */
static uint8_t buf[16384];
static size_t len;

static void put(const void *p, size_t n)
{
	if (len + n > sizeof(buf)) {
		fprintf(stderr, "gen_seeds: seed too long\n");
		return;
	}
	memcpy(buf + len, p, n);
	len += n;
}

static void put_u8(uint8_t b)
{
	put(&b, 1);
}

static int failed;

static void emit(const char *dir, const char *target, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0777) != 0 && errno != EEXIST)
		failed = 1;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, len, f) != len ||
	    fclose(f) != 0) {
		fprintf(stderr, "gen_seeds: cannot write %s\n", path);
		failed = 1;
	}
	len = 0;
}

#define CHECK0(x)                                                         \
	do {                                                              \
		if ((x) != 0) {                                           \
			fprintf(stderr, "gen_seeds: %s failed\n", #x);    \
			failed = 1;                                       \
		}                                                         \
	} while (0)

struct set {
	const char *name;
	size_t ek_bytes, dk_bytes, ct_bytes;
	int (*keygen)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
	int (*encaps)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
};

static const struct set sets[3] = {
	{ "512", 800, 1632, 768, pqx_mlkem512_keypair_derand, pqx_mlkem512_encaps_derand },
	{ "768", 1184, 2400, 1088, pqx_mlkem768_keypair_derand, pqx_mlkem768_encaps_derand },
	{ "1024", 1568, 3168, 1568, pqx_mlkem1024_keypair_derand,
	    pqx_mlkem1024_encaps_derand },
};

static void mlkem_seeds(const char *dir)
{
	static uint8_t ek[1568], dk[3168], ct[1568];
	uint8_t dz[64], m[32], ss[32];
	char name[64];

	for (uint8_t s = 0; s < 3; s++) {
		const struct set *p = &sets[s];

		rnd(dz, sizeof(dz));
		rnd(m, sizeof(m));
		CHECK0(p->keygen(ek, dk, dz, dz + 32));
		CHECK0(p->encaps(ct, ss, ek, m));

		/* decaps: key from d || z with a valid ct, then a corrupted one. */
		put_u8((uint8_t)(s | 4));
		put(dz, sizeof(dz));
		put(ct, p->ct_bytes);
		snprintf(name, sizeof(name), "seed-%s-valid", p->name);
		emit(dir, "mlkem_decaps", name);
		put_u8((uint8_t)(s | 4));
		put(dz, sizeof(dz));
		ct[7] ^= 1;
		put(ct, p->ct_bytes);
		ct[7] ^= 1;
		snprintf(name, sizeof(name), "seed-%s-rejected", p->name);
		emit(dir, "mlkem_decaps", name);
		/* decaps: the raw dk bytes. */
		put_u8(s);
		put(dk, p->dk_bytes);
		put(ct, p->ct_bytes);
		snprintf(name, sizeof(name), "dk-%s-valid", p->name);
		emit(dir, "mlkem_decaps", name);

		/* encaps: a raw ek, a key pair from d || z, an ek failing the check. */
		put_u8(s);
		put(ek, p->ek_bytes);
		put(m, sizeof(m));
		snprintf(name, sizeof(name), "ek-%s-valid", p->name);
		emit(dir, "mlkem_encaps", name);
		put_u8((uint8_t)(s | 4));
		put(dz, sizeof(dz));
		put(m, sizeof(m));
		snprintf(name, sizeof(name), "seed-%s", p->name);
		emit(dir, "mlkem_encaps", name);
		put_u8(s);
		ek[0] = 0xff;
		ek[1] |= 0x0f; /* the first coefficient becomes 4095 */
		put(ek, p->ek_bytes);
		put(m, sizeof(m));
		snprintf(name, sizeof(name), "ek-%s-modulus", p->name);
		emit(dir, "mlkem_encaps", name);
	}
}

static void xwing_seeds(const char *dir)
{
	static uint8_t pk[1216], ct[1120], delta[1120];
	uint8_t seed[32], eseed[64], ss[32];

	rnd(seed, sizeof(seed));
	rnd(eseed, sizeof(eseed));
	CHECK0(pqx_xwing_public_key(pk, seed));
	CHECK0(pqx_xwing_encaps_derand(ct, ss, pk, eseed));

	put_u8(0);
	put(seed, sizeof(seed));
	put(eseed, sizeof(eseed));
	emit(dir, "xwing", "round-trip");
	memset(delta, 0, sizeof(delta));
	delta[100] = 0x40;
	delta[1100] = 0x01;
	put_u8(0);
	put(seed, sizeof(seed));
	put(eseed, sizeof(eseed));
	put(delta, sizeof(delta));
	emit(dir, "xwing", "round-trip-changed");
	put_u8(1);
	put(pk, sizeof(pk));
	put(eseed, sizeof(eseed));
	emit(dir, "xwing", "pk-valid");
	put_u8(1);
	put(pk, 1184);
	put_u8(1); /* pk_X = 1, a low-order point */
	emit(dir, "xwing", "pk-low-order");
	put_u8(2);
	put(seed, sizeof(seed));
	put(ct, sizeof(ct));
	emit(dir, "xwing", "ct-valid");
}

/* A length field of fuzz_hpke_open: two bytes, little-endian. */
static void put_len(size_t n)
{
	put_u8((uint8_t)n);
	put_u8((uint8_t)(n >> 8));
}

static void hpke_seeds(const char *dir)
{
	static const uint16_t aeads[3] = { PQX_HPKE_AEAD_AES_256_GCM,
		PQX_HPKE_AEAD_CHACHA20_POLY1305, PQX_HPKE_AEAD_EXPORT_ONLY };
	static uint8_t pk[1216], enc[1120], ct[116];
	uint8_t seed[32], eseed[64], info[40], aad[20], msg[100];
	char name[64];

	for (uint8_t a = 0; a < 3; a++) {
		pqx_hpke_ctx ctx;

		rnd(seed, sizeof(seed));
		rnd(eseed, sizeof(eseed));
		rnd(info, sizeof(info));
		rnd(aad, sizeof(aad));
		rnd(msg, sizeof(msg));

		/* Sender mode, no tampering (no mask bytes). */
		put_u8(a);
		put_len(sizeof(info));
		put_len(sizeof(aad));
		put_len(sizeof(msg));
		put_u8(3); /* where: the ciphertext */
		put(seed, sizeof(seed));
		put(eseed, sizeof(eseed));
		put(info, sizeof(info));
		put(aad, sizeof(aad));
		put(msg, sizeof(msg));
		snprintf(name, sizeof(name), "sender-aead%u", a);
		emit(dir, "hpke_open", name);

		/* Arbitrary mode with a real enc and ciphertext. */
		CHECK0(pqx_xwing_public_key(pk, seed));
		CHECK0(pqx_hpke_setup_base_s_derand(&ctx, enc, PQX_HPKE_KEM_XWING,
		    PQX_HPKE_KDF_HKDF_SHA256, aeads[a], pk, sizeof(pk), info, sizeof(info),
		    eseed, sizeof(eseed)));
		memset(ct, 0, sizeof(ct));
		if (aeads[a] != PQX_HPKE_AEAD_EXPORT_ONLY)
			CHECK0(pqx_hpke_seal(&ctx, ct, aad, sizeof(aad), msg, sizeof(msg)));
		pqx_hpke_ctx_wipe(&ctx);
		put_u8((uint8_t)(a | 4));
		put_len(sizeof(info));
		put_len(sizeof(aad));
		put_len(sizeof(msg) + 16);
		put_len(64); /* the export length */
		put(seed, sizeof(seed));
		put(enc, sizeof(enc));
		put(info, sizeof(info));
		put(aad, sizeof(aad));
		put(ct, sizeof(msg) + 16);
		snprintf(name, sizeof(name), "arbitrary-aead%u", a);
		emit(dir, "hpke_open", name);
	}
}

/* Writes into buf through the age API. */
static int buf_write(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	if (len + n > sizeof(buf))
		return PQX_ERR_LIMIT;
	put(p, n);
	return 0;
}

struct msrc {
	const uint8_t *p;
	size_t left;
};

static int msrc_read(void *ctx, uint8_t *out, size_t n, size_t *got)
{
	struct msrc *m = ctx;

	if (n > m->left)
		n = m->left;
	memcpy(out, m->p, n);
	m->p += n;
	m->left -= n;
	*got = n;
	return 0;
}

/*
 * Age files to the fuzz targets' fixed identities (fuzz_age_decrypt.c), in
 * binary and armor, their headers alone, identity files and key strings.
 */
static void age_seeds(const char *dir)
{
	static const char *ids[2] = {
		"AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0",
		"AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG",
	};
	uint8_t plain[200];
	char name[32];

	rnd(plain, sizeof(plain));
	for (int i = 0; i < 2; i++) {
		pqx_age_identity *id = NULL;
		pqx_age_recipient *r = NULL;
		char *rs = NULL;

		CHECK0(pqx_age_identity_parse(&id, ids[i]));
		CHECK0(pqx_age_identity_recipient(&rs, id));
		CHECK0(pqx_age_recipient_parse(&r, rs));
		for (int armor = 0; armor < 2 && r != NULL; armor++) {
			const char *targets[3] = { "age_decrypt", armor ? "armor" : "age_header", NULL };

			snprintf(name, sizeof(name), "file-%d-%d", i, armor);
			for (int t = 0; targets[t] != NULL; t++) {
				struct msrc m = { plain, (size_t)(40 * (i + 1) * (armor + 1)) };
				pqx_reader in = { msrc_read, &m };
				pqx_writer out = { buf_write, NULL };
				pqx_age_options opt;
				const uint8_t *end, *nl;

				memset(&opt, 0, sizeof(opt));
				opt.armor = armor;
				opt.threads = 1;
				len = 0;
				CHECK0(pqx_age_encrypt(&r, 1, &in, &out, &opt));
				if (strcmp(targets[t], "age_header") == 0) {
					/* The header alone: through the MAC line. */
					end = memmem(buf, len, "\n---", 4);
					nl = end ? memchr(end + 1, '\n', len - (size_t)(end + 1 - buf)) : NULL;
					if (nl != NULL)
						len = (size_t)(nl + 1 - buf);
				}
				emit(dir, targets[t], name);
			}
		}
		put("# a comment\n", 12);
		put(ids[i], strlen(ids[i]));
		put("\n", 1);
		emit(dir, "age_identity", i ? "pq" : "x25519");
		put(ids[i], strlen(ids[i]));
		emit(dir, "bech32", i ? "pq-identity" : "identity");
		put(rs, strlen(rs));
		emit(dir, "bech32", i ? "pq-recipient" : "recipient");
		pqx_age_string_free(rs);
		pqx_age_recipient_free(r);
		pqx_age_identity_free(id);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	pqx_shake128_init(&rng);
	pqx_keccak_absorb(&rng, (const uint8_t *)"pqx fuzz seeds", 14);
	mlkem_seeds(argv[1]);
	xwing_seeds(argv[1]);
	hpke_seeds(argv[1]);
	age_seeds(argv[1]);
	return failed;
}
