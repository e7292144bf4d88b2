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

#include "crypto/ossl.h"
#include <pqx/age.h>

/*
 * Usage: gen_seeds DIR. Writes DIR/<target>/<name> for the targets
 * mlkem_decaps, mlkem_encaps, xwing and hpke_open (and the others below,
 * transfer_receiver, transfer_sender and server included), in the input
 * layout each target's comment describes. The bytes are derived from a fixed SHAKE128
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

/* ---- transfer_receiver, transfer_sender, server: transfer messages ---- */

/* One message of fuzz_chan.h: u16be length || bytes, from the bytes in msg. */
static uint8_t msg[4096];
static size_t msg_len;

static void m_u8(uint8_t b)
{
	if (msg_len < sizeof(msg))
		msg[msg_len++] = b;
}

static void m_u16(uint16_t v)
{
	m_u8((uint8_t)(v >> 8));
	m_u8((uint8_t)v);
}

static void m_u32(uint32_t v)
{
	m_u16((uint16_t)(v >> 16));
	m_u16((uint16_t)v);
}

static void m_u64(uint64_t v)
{
	m_u32((uint32_t)(v >> 32));
	m_u32((uint32_t)v);
}

static void m_bytes(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m_u8(((const uint8_t *)p)[i]);
}

static void m_str(const char *s)
{
	m_u16((uint16_t)strlen(s));
	m_bytes(s, strlen(s));
}

static void m_end(void)
{
	uint8_t l[2] = { (uint8_t)(msg_len >> 8), (uint8_t)msg_len };

	put(l, 2);
	put(msg, msg_len);
	msg_len = 0;
}

enum { K_REQUEST = 1, K_FILE = 3, K_DIR = 4, K_SYMLINK = 5, K_END = 6, K_HAVE = 7,
	K_BLOCK = 8, K_FILE_END = 9, K_FILE_OK = 10, K_DONE = 11 };

static void m_head(uint8_t kind, const char *path, uint32_t mode, uint64_t sec)
{
	m_u8(kind);
	m_str(path);
	m_u32(mode);
	m_u64(sec);
	m_u32(0);
}

/* FILE path with content, as one block, and its FILE_END. */
static void m_file(const char *path, const char *content, uint64_t sec)
{
	uint8_t h[32], fh[32];
	size_t n = strlen(content);

	m_head(K_FILE, path, 0644, sec);
	m_u64(n);
	m_end();
	if (n > 0) {
		m_u8(K_BLOCK);
		m_u32(0);
		m_bytes(content, n);
		m_end();
		CHECK0(pqx_sha256(h, (const uint8_t *)content, n));
		CHECK0(pqx_sha256(fh, h, 32));
	} else {
		CHECK0(pqx_sha256(fh, NULL, 0));
	}
	m_u8(K_FILE_END);
	m_bytes(fh, 32);
	m_end();
}

static void m_link(const char *path, const char *target)
{
	m_head(K_SYMLINK, path, 0777, 1700000000);
	m_str(target);
	m_end();
}

static void m_finish(uint64_t files, uint64_t bytes)
{
	m_u8(K_END);
	m_end();
	m_u8(K_DONE);
	m_u64(files);
	m_u64(bytes);
	m_end();
}

/* A HAVE message with count (block, hash) pairs. */
static void m_have(uint8_t state, uint8_t more, uint32_t count, const uint32_t *blk,
    const uint8_t (*hash)[32])
{
	m_u8(K_HAVE);
	m_u8(state);
	m_u8(more);
	m_u32(count);
	for (uint32_t i = 0; i < count; i++) {
		m_u32(blk[i]);
		m_bytes(hash[i], 32);
	}
	m_end();
}

static void m_ok(void)
{
	m_u8(K_FILE_OK);
	m_end();
}

/* The length 0xffff: a close record (fuzz_chan.h). */
static void m_close(void)
{
	uint8_t l[2] = { 0xff, 0xff };

	put(l, 2);
}

/* The pushed tree of the receiver and server seeds; keep: the receiver has keep.txt. */
static void m_tree(int keep)
{
	m_head(K_DIR, "a", 0755, 1600000000);
	m_end();
	m_file("a/x.txt", "hello world", 1600000001);
	m_link("a/l", "x.txt");
	m_link("a/up", "../keep.txt");
	/* keep.txt: if the receiver has it (same size and time), no blocks follow. */
	if (keep) {
		m_head(K_FILE, "keep.txt", 0644, 1700000000);
		m_u64(5);
		m_end();
	} else {
		m_file("keep.txt", "hello", 1700000000);
	}
	m_file("a/e", "", 1600000002);
	m_finish(3, 16);
}

/* fuzz_transfer_sender.c's file bytes. */
static uint8_t sender_pattern(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 8) * 7u + 3u);
}

static void transfer_seeds(const char *dir)
{
	static uint8_t two[(1u << 20) + 17];
	uint8_t h[2][32];
	uint32_t blk[2] = { 0, 1 };

	/* Receiver: a tree; escapes through the planted links; a link chain. */
	m_tree(1);
	emit(dir, "transfer_receiver", "tree");
	m_file("up/evil", "x", 1);
	m_head(K_DIR, "abs/d", 0755, 1);
	m_end();
	m_finish(1, 1);
	emit(dir, "transfer_receiver", "escape");
	m_link("s", ".");
	m_link("e", "s/..");
	m_link("f", "s/../outside");
	m_finish(0, 0);
	emit(dir, "transfer_receiver", "link-chain");

	/* Sender: the selector, then answers. */
	for (size_t i = 0; i < sizeof(two); i++)
		two[i] = sender_pattern(i);
	CHECK0(pqx_sha256(h[0], two, 1u << 20));
	CHECK0(pqx_sha256(h[1], two + (1u << 20), 17));
	put_u8(0); /* small */
	m_have(0, 0, 0, NULL, NULL);
	m_ok();
	emit(dir, "transfer_sender", "small");
	put_u8(1); /* small, confined, already there */
	m_have(1, 0, 0, NULL, NULL);
	emit(dir, "transfer_sender", "small-skip");
	put_u8(2); /* two: the receiver holds both blocks */
	m_have(0, 0, 2, blk, h);
	m_ok();
	emit(dir, "transfer_sender", "two-held");
	put_u8(3); /* two, confined: block 1 in a second HAVE message */
	m_have(0, 1, 1, blk, h);
	m_have(0, 0, 1, blk + 1, h + 1);
	m_ok();
	emit(dir, "transfer_sender", "two-more");
	put_u8(4); /* d */
	m_have(0, 0, 0, NULL, NULL);
	m_ok();
	emit(dir, "transfer_sender", "dir");
	put_u8(6); /* everything: five files */
	for (int i = 0; i < 5; i++) {
		m_have(0, 0, 0, NULL, NULL);
		m_ok();
	}
	emit(dir, "transfer_sender", "all");
	put_u8(8); /* up/secret: refused */
	emit(dir, "transfer_sender", "escape");

	/* Server: the selector (bit 0 send-only, 1 get-only, 2 dir=home), then requests. */
	put_u8(0);
	m_u8(K_REQUEST);
	m_u8(1);
	m_str("inbox");
	m_end();
	m_tree(0);
	m_close();
	emit(dir, "server", "push");
	put_u8(4);
	m_u8(K_REQUEST);
	m_u8(1);
	m_str("");
	m_end();
	m_file("h2.txt", "more", 1);
	m_finish(1, 4);
	m_close();
	emit(dir, "server", "push-home");
	put_u8(0);
	m_u8(K_REQUEST);
	m_u8(2);
	m_str("pub/a.txt");
	m_end();
	m_have(0, 0, 0, NULL, NULL);
	m_ok();
	m_close();
	emit(dir, "server", "pull-file");
	put_u8(0);
	m_u8(K_REQUEST);
	m_u8(2);
	m_str("pub");
	m_end();
	for (int i = 0; i < 2; i++) {
		m_have(0, 0, 0, NULL, NULL);
		m_ok();
	}
	m_close();
	emit(dir, "server", "pull-dir");
	put_u8(0);
	m_u8(K_REQUEST);
	m_u8(2);
	m_str("up/secret");
	m_end();
	emit(dir, "server", "pull-escape");
	put_u8(1);
	m_u8(K_REQUEST);
	m_u8(2);
	m_str("pub/a.txt");
	m_end();
	emit(dir, "server", "pull-send-only");
	put_u8(0);
	m_u8(K_REQUEST);
	m_u8(1);
	m_str("up");
	m_end();
	m_file("evil", "x", 1);
	m_finish(1, 1);
	emit(dir, "server", "push-escape");
}

/* ---- channel_client, channel_server, record: the channel ---- */

static void put_u32be(uint32_t v)
{
	put_u8((uint8_t)(v >> 24));
	put_u8((uint8_t)(v >> 16));
	put_u8((uint8_t)(v >> 8));
	put_u8((uint8_t)v);
}

static void put_zeros(size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_u8(0);
}

/*
 * The selector bytes and operations of fuzz_channel_client.c,
 * fuzz_channel_server.c and fuzz_record.c; the keys are the targets' own
 * (SHAKE128 of their labels), so a raw message 0 here is the real one.
 */
static void channel_seeds(const char *dir)
{
	static uint8_t pk[1216];
	uint8_t seed[32];

	pqx_shake128(seed, 32, (const uint8_t *)"fuzz channel server", 19);
	CHECK0(pqx_xwing_public_key(pk, seed));
	/* Client: raw (message 0 alone, pinned), after message 0, records, masks. */
	put_u8(0);
	emit(dir, "channel_client", "raw-empty");
	put_u8(4);
	put_u32be(2 + 1216);
	put_u8(0);
	put_u8(1);
	put(pk, sizeof(pk));
	emit(dir, "channel_client", "raw-message0-pinned");
	put_u8(1);
	put_u32be(3 + 2 * 1120 + 16);
	put_u8(2);
	put_u8(0);
	put_u8(1);
	put_zeros(2 * 1120 + 16);
	emit(dir, "channel_client", "message2-zeros");
	put_u8(1);
	put_u32be(3 + 16);
	put_u8(2);
	put_u8(1);
	put_u8(0);
	put_zeros(16);
	emit(dir, "channel_client", "message2-refusal");
	put_u8(2);
	put_u32be(17);
	put_zeros(17);
	emit(dir, "channel_client", "record-zeros");
	put_u8(3);
	emit(dir, "channel_client", "mask-none");
	put_u8(3);
	put_zeros(2000);
	put_u8(0x80);
	emit(dir, "channel_client", "mask-message2");

	/* Server: raw message 1 shape, after message 1, records, masks. */
	put_u8(4);
	put_u32be(3 + 2 + 1216 + 1120 + 1216 + 16);
	put_u8(1);
	put_u8(1);
	put_u8(2);
	put_u8(1);
	put_u8(2);
	put_zeros(1216 + 1120 + 1216 + 16);
	emit(dir, "channel_server", "raw-message1-zeros");
	put_u8(5);
	put_u32be(17);
	put_u8(3);
	put_zeros(16);
	emit(dir, "channel_server", "message3-zeros");
	put_u8(6);
	put_u32be(20);
	put_zeros(20);
	emit(dir, "channel_server", "record-zeros");
	put_u8(7);
	emit(dir, "channel_server", "mask-none");
	put_u8(15);
	emit(dir, "channel_server", "mask-none-aes");
	put_u8(7);
	put_zeros(3560);
	put_u8(1);
	emit(dir, "channel_server", "mask-message3");
	put_u8(3);
	emit(dir, "channel_server", "refused");

	/* Record: good records of each type, then each kind of bad one. */
	put_u8(0);
	put_u8(0); /* data "hello" */
	put_u8(0);
	put_u8(5);
	put_u8(0);
	put("hello", 5);
	put_u8(0); /* close */
	put_u8(1);
	put_zeros(2);
	emit(dir, "record", "data-close");
	put_u8(1);
	put_u8(0); /* error "disk full" */
	put_u8(2);
	put_u8(9);
	put_u8(0);
	put("disk full", 9);
	emit(dir, "record", "error");
	put_u8(0);
	put_u8(0);
	put_u8(7); /* type 7 */
	put_zeros(2);
	emit(dir, "record", "unknown-type");
	put_u8(0);
	put_u8(1); /* sealed two records ahead */
	put_u8(0);
	put_u8(3);
	put_u8(1);
	put("abc", 3);
	emit(dir, "record", "skipped");
	put_u8(1);
	put_u8(2); /* a flipped bit in the tag */
	put_u8(0);
	put_u8(4);
	put("data", 4);
	put_u8(20);
	put_u8(0);
	put_u8(3);
	emit(dir, "record", "flipped");
	put_u8(0);
	put_u8(3); /* raw, a length out of range */
	put_u32be(0x00200000);
	put_zeros(8);
	emit(dir, "record", "raw-long");
	put_u8(1);
	put_u8(4); /* the largest record, then one over */
	put_u8(1);
	put_u8(4);
	put_u8(2);
	emit(dir, "record", "largest");
	put_u8(2); /* from just before the rekey: three records across it */
	for (int i = 0; i < 3; i++) {
		put_u8(0);
		put_u8(0);
		put_u8(1);
		put_u8(0);
		put_u8((uint8_t)('a' + i));
	}
	emit(dir, "record", "rekey");
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
	transfer_seeds(argv[1]);
	channel_seeds(argv[1]);
	return failed;
}
