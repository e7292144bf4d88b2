/* pqx fuzz: writes seed inputs for each fuzz target, made with the library itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zstd.h>

#include <pqx/hpke.h>
#include <pqx/mlkem.h>
#include <pqx/sha3.h>
#include <pqx/xwing.h>

#include "crypto/ossl.h"
#include "transfer/blocks.h"
#include "transfer/tree.h"
#include <pqx/age.h>

/*
 * Usage: gen_seeds DIR. Writes DIR/<target>/<name> for the targets
 * mlkem_decaps, mlkem_encaps, xwing, chachapoly, aesgcm and hpke_open (and the others below,
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
static uint8_t buf[1u << 20];
static size_t len;
static int failed;

static void put(const void *p, size_t n)
{
	if (len + n > sizeof(buf)) {
		fprintf(stderr, "gen_seeds: seed too long\n");
		failed = 1;
		return;
	}
	memcpy(buf + len, p, n);
	len += n;
}

static void put_u8(uint8_t b)
{
	put(&b, 1);
}

/*
 * The previous entry of the seed's session, whose path, mode and time the
 * next entry may keep (docs/PROTOCOL.md, "Entries"); emit() forgets it.
 */
static struct {
	char path[4097];
	size_t len;
	uint32_t mode;
	uint64_t sec;
	int have;
} prev;

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
	prev.have = 0;
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

/* fuzz_chachapoly and fuzz_aesgcm: key, nonce, ad_len, ad, message (of msg_len bytes, at most 1000). */
static void aead_seeds(const char *dir, const char *target, size_t msg_len)
{
	uint8_t key[32], nonce[12], ad[32], msg[1000];

	rnd(key, sizeof(key));
	rnd(nonce, sizeof(nonce));
	rnd(ad, sizeof(ad));
	rnd(msg, msg_len);
	put(key, sizeof(key));
	put(nonce, sizeof(nonce));
	put_u8(32);
	put(ad, sizeof(ad));
	put(msg, msg_len);
	emit(dir, target, "ad-and-message");
	put(key, sizeof(key));
	put(nonce, sizeof(nonce));
	put_u8(0);
	put(msg, 16);
	emit(dir, target, "a-tag-alone");
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

/*
 * One message of fuzz_chan.h: u16be length || bytes, from the bytes in msg,
 * which the harness frames alone in a record. The lengths 0xfffe and 0xffff
 * say other things, so a message holds at most 65533 bytes.
 */
static uint8_t msg[65533];
static size_t msg_len;
static int msg_over;

static void m_u8(uint8_t b)
{
	if (msg_len < sizeof(msg))
		msg[msg_len++] = b;
	else
		msg_over = 1;
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

	if (msg_over) {
		fprintf(stderr, "gen_seeds: transfer message too long\n");
		failed = 1;
	}
	put(l, 2);
	put(msg, msg_len);
	msg_len = 0;
	msg_over = 0;
}

/*
 * The seed so far, its messages packed as a sender packs them: several to
 * a record (each length || bytes), the record padded with zeros to a
 * multiple of 256, each record one raw item of fuzz_chan.h (0xfffe).
 */
static void put_record(uint8_t *rec, size_t *rl)
{
	uint8_t h[4] = { 0xff, 0xfe, 0, 0 };

	while (*rl % 256 != 0)
		rec[(*rl)++] = 0;
	h[2] = (uint8_t)(*rl >> 8);
	h[3] = (uint8_t)*rl;
	put(h, 4);
	put(rec, *rl);
	*rl = 0;
}

static void m_batch(void)
{
	static uint8_t in[sizeof(buf)], rec[65280];
	size_t n = len, off = 0, rl = 0;

	memcpy(in, buf, n);
	len = 0;
	while (off + 2 <= n) {
		size_t ml = (size_t)in[off] << 8 | in[off + 1];

		if (ml == 0 || ml >= 0x4000 || off + 2 + ml > n || 2 + ml > sizeof(rec)) {
			if (rl > 0)
				put_record(rec, &rl);
			put(in + off, n - off); /* a close, an empty record or a long message: as it is */
			return;
		}
		if (rl + 2 + ml > sizeof(rec))
			put_record(rec, &rl);
		if (ml >= 0x80) /* the length: 0xxxxxxx, or 10xxxxxx x8 below 2^14 */
			rec[rl++] = (uint8_t)(0x80 | ml >> 8);
		rec[rl++] = (uint8_t)ml;
		memcpy(rec + rl, in + off + 2, ml);
		rl += ml;
		off += 2 + ml;
	}
	if (rl > 0)
		put_record(rec, &rl);
}

/* Message kinds and states (docs/PROTOCOL.md, "Transfer"; src/transfer/xfer_int.h). */
enum { K_REQUEST = 1, K_ACCEPT = 2, K_FILE = 3, K_DIR = 4, K_SYMLINK = 5, K_END = 6, K_NEED = 7, K_LIST = 8,
	K_BITMAP = 9, K_DATA = 10, K_FILE_END = 11, K_FILE_OK = 12, K_DONE = 13, K_SIGS = 14,
	K_BLOCKS = 15, K_AGAIN = 16 };
enum { ST_NEED = 0, ST_HAVE = 1, ST_WHOLE = 2, ST_UNLISTED = 0xff };
/* A file of at most this many chunks is listed flat (src/transfer/content.h). */
#define FLAT_MAX 128u
enum { CODEC_RAW = 0, CODEC_ZSTD = 1, CODEC_ZSTD_BASE = 2 };

/* The keys of the targets' struct xfer_opts: zeros (receiver, sender), fuzz_key (server). */
static const uint8_t key_zero[XFER_ID_BYTES];
static const uint8_t key_server[XFER_ID_BYTES] = { 1 };

/* A file's chunk tree as the library builds it under a key: each level's nodes in file order. */
struct ftree {
	struct xfer_node *v[XFER_TREE_LEVELS];
	size_t n[XFER_TREE_LEVELS];
	uint8_t *st[XFER_TREE_LEVELS]; /* per node: the receiver's answer, or ST_UNLISTED */
	uint8_t id[XFER_ID_BYTES];     /* the file id of FILE_END */
};

static int ft_push(void *ctx, const struct xfer_node *n)
{
	struct ftree *f = ctx;
	struct xfer_node *v = realloc(f->v[n->level], (f->n[n->level] + 1) * sizeof(*v));

	if (v == NULL)
		return PQX_ERR_NOMEM;
	v[f->n[n->level]++] = *n;
	f->v[n->level] = v;
	return 0;
}

static void ft_free(struct ftree *f)
{
	for (int l = 0; l < XFER_TREE_LEVELS; l++) {
		free(f->v[l]);
		free(f->st[l]);
	}
	memset(f, 0, sizeof(*f));
}

/*
 * The tree of p[0..n) cut in the chunk size class of a file of cls bytes
 * (tree.h xfer_tree_size): a file's own size, except where the receiver
 * indexes an old version for an incoming file (r_sources).
 */
static void ft_build_as(struct ftree *f, const uint8_t key[XFER_ID_BYTES], const uint8_t *p,
    size_t n, uint64_t cls)
{
	struct xfer_tree *t = xfer_tree_new(key, 2);
	pqx_hmac *h = NULL;

	memset(f, 0, sizeof(*f));
	if (t == NULL) {
		failed = 1;
		return;
	}
	xfer_tree_size(t, cls);
	xfer_tree_start(t, 0, 2, ft_push, f);
	CHECK0(xfer_tree_update(t, p, n));
	CHECK0(xfer_tree_finish(t));
	CHECK0(xfer_tree_root_init(t, &h));
	for (size_t i = 0; h != NULL && i < f->n[2]; i++)
		CHECK0(pqx_hmac_update(h, f->v[2][i].id, XFER_ID_BYTES));
	if (h != NULL)
		CHECK0(pqx_hmac_final(h, f->id));
	pqx_hmac_free(h);
	xfer_tree_free(t);
	for (int l = 0; l < XFER_TREE_LEVELS; l++) {
		if ((f->st[l] = malloc(f->n[l] + 1)) == NULL)
			failed = 1;
		else
			memset(f->st[l], ST_UNLISTED, f->n[l] + 1);
	}
}

static void ft_build(struct ftree *f, const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n)
{
	ft_build_as(f, key, p, n, n);
}

/* The children of node i of level l (l >= 1): their first index in level l - 1, and count. */
static size_t ft_kids(const struct ftree *f, int l, size_t i, size_t *first)
{
	const struct xfer_node *p = &f->v[l][i];
	size_t c = 0, k = 0;

	while (c < f->n[l - 1] && f->v[l - 1][c].off < p->off)
		c++;
	*first = c;
	while (c + k < f->n[l - 1] && f->v[l - 1][c + k].off < p->off + p->len)
		k++;
	return k;
}

/*
 * Marks the nodes listed at level l: every level-2 node, or the children
 * of the level l + 1 nodes whose state is NEED (ST_NEED until answered).
 * Returns how many.
 */
static size_t ft_mark(struct ftree *f, int l)
{
	size_t count = 0, first, k;

	if (l == 2) {
		memset(f->st[2], ST_NEED, f->n[2]);
		return f->n[2];
	}
	for (size_t i = 0; i < f->n[l + 1]; i++) {
		if (f->st[l + 1][i] != ST_NEED)
			continue;
		k = ft_kids(f, l + 1, i, &first);
		memset(f->st[l] + first, ST_NEED, k);
		count += k;
	}
	return count;
}

/*
 * The level the sender lists this file at first: 0 or 1 when the file has
 * at most FLAT_MAX nodes there (listed flat, no parents: every node of
 * that level is marked listed, NEED, and every node above expanded, NEED),
 * else 2 (nothing marked).
 */
static int ft_top(struct ftree *f)
{
	int top = f->n[0] == 0 ? 2 : f->n[0] <= FLAT_MAX ? 0 : f->n[1] <= FLAT_MAX ? 1 : 2;

	for (int l = top; top < 2 && l < XFER_TREE_LEVELS; l++)
		memset(f->st[l], ST_NEED, f->n[l]);
	return top;
}

/* The flat LIST: every node of level l of the file. */
static void m_list_flat(const struct ftree *f, int l)
{
	m_u8(K_LIST);
	m_u8((uint8_t)l);
	m_u32(0);
	m_u32((uint32_t)f->n[l]);
	for (size_t i = 0; i < f->n[l]; i++) {
		m_bytes(f->v[l][i].id, XFER_ID_BYTES);
		m_u32((uint32_t)f->v[l][i].len);
	}
	m_end();
}

/* LIST of level l, of the nodes ft_mark listed (the sender's message). */
static void m_list(const struct ftree *f, int l)
{
	size_t count = 0, first;

	m_u8(K_LIST);
	m_u8((uint8_t)l);
	if (l < 2) {
		size_t np = 0;

		for (size_t i = 0; i < f->n[l + 1]; i++)
			np += f->st[l + 1][i] == ST_NEED;
		m_u32((uint32_t)np);
		for (size_t i = 0; i < f->n[l + 1]; i++)
			if (f->st[l + 1][i] == ST_NEED)
				m_u8((uint8_t)ft_kids(f, l + 1, i, &first));
	}
	for (size_t i = 0; i < f->n[l]; i++)
		count += f->st[l][i] != ST_UNLISTED;
	m_u32((uint32_t)count);
	for (size_t i = 0; i < f->n[l]; i++) {
		if (f->st[l][i] == ST_UNLISTED)
			continue;
		m_bytes(f->v[l][i].id, XFER_ID_BYTES);
		m_u32((uint32_t)f->v[l][i].len);
	}
	m_end();
}

/* BITMAP of the listed nodes of level l (the receiver's answer, in the sender seeds). */
static void m_bitmap(const struct ftree *f, int l)
{
	size_t count = 0;

	for (size_t i = 0; i < f->n[l]; i++)
		count += f->st[l][i] != ST_UNLISTED;
	m_u8(K_BITMAP);
	m_u32((uint32_t)count);
	for (size_t i = 0; i < f->n[l]; i++)
		if (f->st[l][i] != ST_UNLISTED)
			m_u8(f->st[l][i]);
	m_end();
}

/* The bytes that must cross, in file order: WHOLE level-2 nodes and NEED chunks. */
static uint8_t stream[1u << 20], zbody[1u << 16];
static size_t stream_len;

static void ft_items(const struct ftree *f, const uint8_t *p)
{
	size_t f1, f0, k1, k0;

	stream_len = 0;
	for (size_t i = 0; i < f->n[2]; i++) {
		const struct xfer_node *n = &f->v[2][i];

		if (f->st[2][i] == ST_WHOLE) {
			memcpy(stream + stream_len, p + n->off, n->len);
			stream_len += n->len;
		}
		if (f->st[2][i] != ST_NEED)
			continue;
		k1 = ft_kids(f, 2, i, &f1);
		for (size_t j = f1; j < f1 + k1; j++) {
			n = &f->v[1][j];
			if (f->st[1][j] == ST_WHOLE) {
				memcpy(stream + stream_len, p + n->off, n->len);
				stream_len += n->len;
			}
			if (f->st[1][j] != ST_NEED)
				continue;
			k0 = ft_kids(f, 1, j, &f0);
			for (size_t c = f0; c < f0 + k0; c++) {
				n = &f->v[0][c];
				if (f->st[0][c] == ST_NEED) {
					memcpy(stream + stream_len, p + n->off, n->len);
					stream_len += n->len;
				}
			}
		}
	}
}

/*
 * Codec 1: the session's one zstd stream (docs/PROTOCOL.md, "Compression"),
 * as a sender keeps it: started afresh with each seed session (rs_init),
 * flushed at the end of every message, its frame ended where a sender
 * changes level.
 */
static ZSTD_CCtx *zcs;

static void z_session(void)
{
	if (zcs == NULL && (zcs = ZSTD_createCCtx()) == NULL) {
		failed = 1;
		return;
	}
	ZSTD_CCtx_reset(zcs, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(zcs, ZSTD_c_compressionLevel, 3)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(zcs, ZSTD_c_windowLog, 22)))
		failed = 1;
}

/* The next part of the stream: p[0..n) flushed (or the frame ended) into zbody. */
static size_t z_part(const uint8_t *p, size_t n, int end)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_outBuffer out = { zbody, sizeof(zbody), 0 };
	size_t left;

	if (zcs == NULL)
		z_session();
	do {
		left = ZSTD_compressStream2(zcs, &out, &in, end ? ZSTD_e_end : ZSTD_e_flush);
		if (ZSTD_isError(left)) {
			fprintf(stderr, "gen_seeds: zstd: %s\n", ZSTD_getErrorName(left));
			failed = 1;
			return 0;
		}
	} while (left != 0 && out.pos < out.size);
	if (left != 0 || in.pos != in.size) {
		fprintf(stderr, "gen_seeds: zstd part too large\n");
		failed = 1;
	}
	return out.pos;
}

/*
 * The stream as DATA messages of at most cut raw bytes each (cuts fall
 * anywhere, as the sender's do), codecs[i % strlen] for message i: 'r' raw,
 * 'z' the next part of the session's zstd stream, 'e' that part and the end
 * of its frame (the next 'z' or 'e' starts a new one).
 */
static void m_data(const char *codecs, size_t cut)
{
	size_t nc = strlen(codecs);

	for (size_t off = 0, i = 0; off < stream_len; off += cut, i++) {
		size_t raw = stream_len - off < cut ? stream_len - off : cut, body = raw;
		int z = codecs[i % nc] != 'r';

		if (z)
			body = z_part(stream + off, raw, codecs[i % nc] == 'e');
		m_u8(K_DATA);
		m_u8(z ? CODEC_ZSTD : CODEC_RAW);
		m_u32((uint32_t)raw);
		m_bytes(z ? zbody : stream + off, body); /* the rest of the message */
		m_end();
	}
}

static void m_head(uint8_t kind, const char *path, uint32_t mode, uint64_t sec)
{
	size_t len = strlen(path), keep = 0;
	uint8_t same = 0;

	if (prev.have) {
		while (keep < 255 && keep < len && keep < prev.len && path[keep] == prev.path[keep])
			keep++;
		same = (uint8_t)((mode == prev.mode ? 1 : 0) | (sec == prev.sec ? 2 : 0));
	}
	m_u8(kind);
	m_u8((uint8_t)keep);
	m_u16((uint16_t)(len - keep));
	m_bytes(path + keep, len - keep);
	m_u8(same);
	if (!(same & 1))
		m_u16((uint16_t)mode);
	if (!(same & 2)) {
		m_u64(sec);
		m_u32(0);
	}
	if (len < sizeof(prev.path)) {
		memcpy(prev.path, path, len + 1);
		prev.len = len;
		prev.mode = mode;
		prev.sec = sec;
		prev.have = 1;
	}
}

/*
 * Blocks (docs/PROTOCOL.md, "Blocks"): a file under XB_FILE_MAX with an
 * old version at the receiver is matched against that version's whole
 * blocks of xb_block_len(old size) bytes. The seeds name blocks by
 * comparing bytes (they know both versions); a sender finds the same by
 * weak and strong sums.
 */
#define BLK_RUNS 4096

static struct {
	uint32_t lit, first, n;
} runs[BLK_RUNS];
static size_t nruns;

/* The receiver's block length and count of signed blocks for an old version of old_n bytes. */
static uint32_t blk_geometry(size_t old_n, uint32_t *count)
{
	uint32_t L = xb_block_len(old_n, 0); /* the seeds' FILE entries never say "raw" */
	size_t c = old_n / L;

	*count = c < XB_SIGS_MAX ? (uint32_t)c : XB_SIGS_MAX;
	return L;
}

/* HMAC-SHA256(IK, u8 4 || p[0..n)): the hash in FILE_END after blocks (IK as the tree's). */
static void blk_hash(const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n, uint8_t out[32])
{
	static const uint8_t label = 4;
	struct xfer_tree *t = xfer_tree_new(key, 2);
	pqx_hmac *h = t != NULL ? xfer_tree_idh(t) : NULL;

	memset(out, 0, 32);
	if (h == NULL) {
		failed = 1;
	} else {
		CHECK0(pqx_hmac_init(h));
		CHECK0(pqx_hmac_update(h, &label, 1));
		CHECK0(pqx_hmac_update(h, p, n));
		CHECK0(pqx_hmac_final(h, out));
	}
	pqx_hmac_free(h);
	xfer_tree_free(t);
}

/*
 * The runs of p[0..n) over the count whole blocks of L bytes of old, as a
 * sender's scan takes them: at each offset, the block after the last one
 * taken if it matches, else the first that matches, else one byte on. The
 * bytes no run covers go to stream, in order (what DATA carries).
 */
static void blk_match(const uint8_t *old, uint32_t L, uint32_t count, uint32_t tail, const uint8_t *p,
    size_t n)
{
	size_t pos = 0, end = 0;
	uint32_t want = 0;

	nruns = 0;
	stream_len = 0;
	while (pos + L <= n) {
		int64_t found = -1;

		if (want < count && memcmp(p + pos, old + (size_t)want * L, L) == 0)
			found = want;
		for (uint32_t b = 0; found < 0 && b < count; b++)
			if (p[pos] == old[(size_t)b * L] && memcmp(p + pos, old + (size_t)b * L, L) == 0)
				found = b;
		if (found < 0) {
			pos++;
			continue;
		}
		if (nruns > 0 && pos == end && (uint32_t)found == runs[nruns - 1].first + runs[nruns - 1].n) {
			runs[nruns - 1].n++;
		} else if (nruns == BLK_RUNS) {
			fprintf(stderr, "gen_seeds: too many runs\n");
			failed = 1;
			return;
		} else {
			runs[nruns].lit = (uint32_t)(pos - end);
			runs[nruns].first = (uint32_t)found;
			runs[nruns].n = 1;
			nruns++;
			memcpy(stream + stream_len, p + end, pos - end);
			stream_len += pos - end;
		}
		pos += L;
		end = pos;
		want = (uint32_t)found + 1;
	}
	/* The old version's tail (block count), where the file ends with it and no block covers it. */
	if (tail > 0 && n >= tail && end <= n - tail && nruns < BLK_RUNS &&
	    memcmp(p + n - tail, old + (size_t)count * L, tail) == 0) {
		if (nruns > 0 && end == n - tail && runs[nruns - 1].first + runs[nruns - 1].n == count) {
			runs[nruns - 1].n++;
		} else {
			runs[nruns].lit = (uint32_t)(n - tail - end);
			runs[nruns].first = count;
			runs[nruns].n = 1;
			nruns++;
		}
		memcpy(stream + stream_len, p + end, n - tail - end);
		stream_len += n - tail - end;
		end = n;
	}
	memcpy(stream + stream_len, p + end, n - end);
	stream_len += n - end;
}

/* BLOCKS: the runs blk_match found (the sender's message). */
static void m_blocks(void)
{
	m_u8(K_BLOCKS);
	m_u16((uint16_t)nruns);
	for (size_t i = 0; i < nruns; i++) {
		m_u8((uint8_t)(runs[i].lit >> 16));
		m_u16((uint16_t)runs[i].lit);
		m_u16((uint16_t)runs[i].first);
		m_u16((uint16_t)runs[i].n);
	}
	m_end();
}

/* One block's sums in SIGS: the weak key (wlen bytes) and the strong sum (slen). */
static void m_sig(pqx_hmac *h, const uint8_t *b, size_t len, uint32_t wlen, uint32_t slen)
{
	uint32_t a = 0, s = 0, w;
	uint8_t mac[32];

	for (size_t j = 0; j < len; j++) {
		a += b[j];
		s += a;
	}
	w = ((a & 0xffff) | s << 16) * 0x9e3779b1u;
	for (uint32_t i = 0; i < wlen; i++)
		m_u8((uint8_t)(w >> (24 - 8 * i)));
	CHECK0(pqx_hmac_mac(h, mac, b, len));
	m_bytes(mac, slen);
}

/*
 * SIGS of an old version of old_n bytes for a new file of n bytes (the
 * receiver's message): u16 block_len / 64, u8 weak_len, u8 strong_len,
 * u16 count, count x (weak key, strong), u16 tail, the tail's sums.
 */
static void m_sigs(const uint8_t key[XFER_ID_BYTES], const uint8_t *old, size_t old_n, size_t n)
{
	struct xfer_tree *t = xfer_tree_new(key, 2);
	pqx_hmac *h = t != NULL ? xfer_tree_idh(t) : NULL;
	uint32_t count, L = blk_geometry(old_n, &count), tail = (uint32_t)(old_n - (size_t)count * L);
	uint32_t wlen, slen;

	xb_sig_lens(n, old_n, count + (tail > 0), &wlen, &slen);
	if (h == NULL)
		failed = 1;
	m_u8(K_SIGS);
	m_u16((uint16_t)(L / 64));
	m_u8((uint8_t)wlen);
	m_u8((uint8_t)slen);
	m_u16((uint16_t)count);
	for (uint32_t i = 0; h != NULL && i < count; i++)
		m_sig(h, old + (size_t)i * L, L, wlen, slen);
	m_u16((uint16_t)tail);
	if (h != NULL && tail > 0)
		m_sig(h, old + (size_t)count * L, tail, wlen, slen);
	m_end();
	pqx_hmac_free(h);
	xfer_tree_free(t);
}

/*
 * The receiver under test, as a seed session (playing its sender) leaves
 * it: the regular files it holds (those its target plants, then those the
 * session lands) and which of them its chunk index has rows for. From this
 * the seed predicts every answer the receiver gives; r_need(), r_sources(),
 * r_node() and r_land() are the one copy of its rules (content_recv.c
 * xfer_crecv_file, index_sources, look_up): change them there when content_recv.c
 * changes. The targets have no --dict (no base is ever shared) and no
 * session here leaves a .NAME.pqx-part behind (no .pqx-prev).
 */
enum { NEED_TREE = 0, NEED_SKIP = 1, NEED_STREAM = 2, NEED_BLOCKS = 3, NEED_LISTED = 4 };

/*
 * content.h TINY: a file below it (without a shared base) always streams and
 * is never indexed (landing it forgets the rows of an older version at its
 * path). 0 where every file may be compared as a tree.
 */
#define R_TINY 4096u /* content.h TINY */
#define R_FILES 32

struct rfile {
	char path[64];
	const uint8_t *p; /* its bytes: static or literal, they outlive the session */
	size_t n;
	uint64_t sec;     /* its mtime (nanoseconds 0); 0 for planted files of unknown time */
	int indexed;      /* the index has its rows (then t is its tree) */
	struct ftree t;
};

struct rside {
	const uint8_t *key;    /* the chunking key */
	struct rfile f[R_FILES];
	size_t n;
	uint64_t files, bytes; /* FILE entries so far (skipped ones too) and their sizes: DONE */
};

static void rs_init(struct rside *rs, const uint8_t key[XFER_ID_BYTES])
{
	memset(rs, 0, sizeof(*rs));
	rs->key = key;
	z_session(); /* a new session: a new zstd stream */
}

static void rs_free(struct rside *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		ft_free(&rs->f[i].t);
	memset(rs, 0, sizeof(*rs));
}

static struct rfile *rs_find(struct rside *rs, const char *path)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->f[i].path, path) == 0)
			return &rs->f[i];
	return NULL;
}

/* A file the target plants before the session (not indexed: nothing has read it yet). */
static struct rfile *rs_plant(struct rside *rs, const char *path, const uint8_t *p, size_t n,
    uint64_t sec)
{
	struct rfile *f = rs_find(rs, path);

	if (f == NULL) {
		if (rs->n == R_FILES || strlen(path) >= sizeof(f->path)) {
			fprintf(stderr, "gen_seeds: receiver model full\n");
			failed = 1;
			return NULL;
		}
		f = &rs->f[rs->n++];
		snprintf(f->path, sizeof(f->path), "%s", path);
	}
	ft_free(&f->t);
	f->p = p;
	f->n = n;
	f->sec = sec;
	f->indexed = 0;
	return f;
}

/* The index learns f, cut in the size class of a file of cls bytes (kept if it knows f already). */
static void rs_index(struct rside *rs, struct rfile *f, uint64_t cls)
{
	if (f->indexed)
		return;
	ft_build_as(&f->t, rs->key, f->p, f->n, cls);
	f->indexed = 1;
}

/* Whether the index has no span (files of 0 bytes have none). */
static int rs_index_empty(const struct rside *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->f[i].indexed && rs->f[i].n > 0)
			return 0;
	return 1;
}

/* Whether the index holds bytes for the node id of level l (the receiver verifies them: they do). */
static int rs_known(const struct rside *rs, int l, const uint8_t id[XFER_ID_BYTES])
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct rfile *f = &rs->f[i];

		for (size_t j = 0; f->indexed && j < f->t.n[l]; j++)
			if (memcmp(f->t.v[l][j].id, id, XFER_ID_BYTES) == 0)
				return 1;
	}
	return 0;
}

/*
 * The shortest old version matched in blocks (content_recv.c open_old): one
 * byte; from the receiver that answers a poor match with trees (blocks.h
 * XB_TREES) on, one whole block.
 */
#ifdef XB_TREES
#define R_OLD_MIN(old_n) ((size_t)xb_block_len(old_n, 0))
#else
#define R_OLD_MIN(old_n) ((size_t)1)
#endif

/*
 * The NEED state for a FILE entry of n bytes, mtime sec: skip when a file
 * of that size and time is at path (the quick check); stream when the file
 * is tiny, or when there is nothing to compare with (no old version with
 * bytes at path, an empty index); match blocks when the file is under
 * XB_FILE_MAX and the old version at path is R_OLD_MIN to XB_OLD_MAX
 * bytes (no base is ever shared here); compare trees otherwise.
 */
static int r_need(struct rside *rs, const char *path, size_t n, uint64_t sec)
{
	const struct rfile *old = rs_find(rs, path);

	if (old != NULL && old->n == n && old->sec == sec)
		return NEED_SKIP;
	if (n < R_TINY)
		return NEED_STREAM;
	if ((old == NULL || old->n == 0) && rs_index_empty(rs))
		return NEED_STREAM;
	if (old != NULL && old->n >= R_OLD_MIN(old->n) && old->n <= XB_OLD_MAX && n < XB_FILE_MAX)
		return NEED_BLOCKS;
	return NEED_TREE;
}

/*
 * Before the windows of a compared file of n bytes: the old version at path
 * is indexed, cut as the incoming file will be, unless the index knows it
 * already as it is (then its rows stay as they were cut).
 */
static void r_sources(struct rside *rs, const char *path, size_t n)
{
	struct rfile *old = rs_find(rs, path);

	if (old != NULL && old->n > 0)
		rs_index(rs, old, n);
}

/* The answer for a listed node of level l: HAVE if indexed, else WHOLE (level 2, empty index) or NEED. */
static uint8_t r_node(const struct rside *rs, int l, const uint8_t id[XFER_ID_BYTES], int empty)
{
	if (rs_known(rs, l, id))
		return ST_HAVE;
	return l == 2 && empty ? ST_WHOLE : ST_NEED;
}

/*
 * A file landed at path (either way): it replaces what was there, and the
 * index learns every node of it (the received and copied ones as they were
 * verified, the expanded ones after their window) unless it is tiny.
 */
static void r_land(struct rside *rs, const char *path, const uint8_t *p, size_t n, uint64_t sec)
{
	struct rfile *f = rs_plant(rs, path, p, n, sec);

	if (f != NULL && n >= R_TINY)
		rs_index(rs, f, n);
}

/*
 * The sender's side of one file for the receiver rs: FILE, then as r_need
 * says: nothing more (skip); the whole file in DATA messages and a bare
 * FILE_END (stream); or the window walk with the answers r_node predicts,
 * the DATA of what is still missing and FILE_END with the file id (trees).
 * DATA: see m_data. has_base: the entry names a shared base (the receiver
 * declines it). The file fits one window (well under 32 MiB) and the
 * stream buffer.
 */
static int r_wrong_hash; /* the next file matched in blocks ends with a wrong hash */
static int r_flat;       /* the next file compared by trees is listed flat, if it can be */
static int r_listed;     /* the next file's chunks go with its entry, if they can */
static int r_eager;      /* the next file's contents go with its entry (flag 16), if it is tiny */

static void r_file(struct rside *rs, const char *path, uint64_t sec, const uint8_t *p, size_t n,
    int has_base, const char *codecs, size_t cut)
{
	static const char *const names[4] = { "trees", "skip", "stream", "blocks" };
	struct ftree f;
	int need = r_need(rs, path, n, sec), empty, top, listed, eager;

	ft_build(&f, rs->key, p, n);
	/* Listed: u8 count - 1, count x (id, u16 len - 1) after the flags (8). */
	listed = r_listed && !has_base && n >= R_TINY && f.n[0] > 0 && f.n[0] <= FLAT_MAX;
	eager = r_eager && !has_base && n < R_TINY;
	r_listed = r_eager = 0;
	m_head(K_FILE, path, 0644, sec);
	m_u64(n);
	m_u8((uint8_t)(has_base | (listed ? 8 : 0) | (eager ? 16 : 0)));
	if (has_base) {
		m_str(path);
		m_u64(n);
		m_bytes(f.id, 32); /* any 32 bytes: no dictionary holds it */
	}
	if (listed) {
		m_u8((uint8_t)(f.n[0] - 1));
		for (size_t i = 0; i < f.n[0]; i++) {
			m_bytes(f.v[0][i].id, XFER_ID_BYTES);
			m_u16((uint16_t)(f.v[0][i].len - 1));
		}
	}
	m_end();
	rs->files++;
	rs->bytes += n;
	stream_len = 0;
	/* Eager: its contents follow whatever the answer (skipped: they are dropped). */
	if (need == NEED_STREAM || eager) {
		if (n > sizeof(stream)) {
			failed = 1;
			n = 0;
		}
		if (n > 0)
			memcpy(stream, p, n);
		stream_len = n;
		m_data(codecs, cut);
		m_u8(K_FILE_END);
		m_end();
	} else if (need == NEED_TREE) {
		r_sources(rs, path, n);
		empty = rs_index_empty(rs);
		/* Flat from top; a listed file's chunks were answered with NEED: no LIST. */
		top = listed || r_flat ? ft_top(&f) : 2;
		for (int l = top; l >= 0 && f.n[2] > 0; l--) {
			if (l == top && top < 2) {
				if (!listed)
					m_list_flat(&f, l);
			} else if (ft_mark(&f, l) == 0) {
				continue;
			} else {
				m_list(&f, l);
			}
			for (size_t i = 0; i < f.n[l]; i++)
				if (f.st[l][i] != ST_UNLISTED)
					f.st[l][i] = r_node(rs, l, f.v[l][i].id, empty);
		}
		r_flat = 0;
		ft_items(&f, p);
		m_data(codecs, cut);
		m_u8(K_FILE_END);
		m_bytes(f.id, XFER_ID_BYTES);
		m_end();
	} else if (need == NEED_BLOCKS) {
		/*
		 * SIGS of the old version at path (the receiver's), then BLOCKS,
		 * the literal bytes as DATA and FILE_END with the whole file's
		 * hash. A wrong hash: the receiver answers AGAIN and the file
		 * comes again after the last entry, to stream whole (here at
		 * once: such a file must be the seed's last).
		 */
		const struct rfile *old = rs_find(rs, path);
		uint32_t count, L = blk_geometry(old->n, &count);
		uint8_t hash[32];

		blk_match(old->p, L, count, (uint32_t)(old->n - (size_t)count * L), p, n);
		m_blocks();
		m_data(codecs, cut);
		blk_hash(rs->key, p, n, hash);
		hash[0] ^= (uint8_t)r_wrong_hash;
		m_u8(K_FILE_END);
		m_bytes(hash, XB_HASH_BYTES);
		m_end();
		fprintf(stderr, "gen_seeds: %s: %u blocks of %u, %zu runs%s\n", path, count, L, nruns,
		    r_wrong_hash ? ", wrong hash" : "");
		if (r_wrong_hash) {
			m_head(K_FILE, path, 0644, sec);
			m_u64(n);
			m_u8(2); /* sent again */
			m_end();
			memcpy(stream, p, n);
			stream_len = n;
			m_data(codecs, cut);
			m_u8(K_FILE_END);
			m_end();
		}
		r_wrong_hash = 0;
	}
	fprintf(stderr, "gen_seeds: %s: %s, %zu bytes, nodes %zu/%zu/%zu, %zu bytes of data", path,
	    names[need], n, f.n[2], f.n[1], f.n[0], stream_len);
	for (int l = 2; need == NEED_TREE && l >= 0; l--) {
		size_t c[3] = { 0, 0, 0 };

		for (size_t i = 0; i < f.n[l]; i++)
			if (f.st[l][i] <= ST_WHOLE)
				c[f.st[l][i]]++;
		fprintf(stderr, "%s level %d: %zu NEED %zu HAVE %zu WHOLE", l == 2 ? ";" : ",", l, c[ST_NEED],
		    c[ST_HAVE], c[ST_WHOLE]);
	}
	fprintf(stderr, "\n");
	if (need != NEED_SKIP)
		r_land(rs, path, p, n, sec);
	ft_free(&f);
}

/* A small text file. */
static void r_text(struct rside *rs, const char *path, uint64_t sec, const char *text)
{
	r_file(rs, path, sec, (const uint8_t *)text, strlen(text), 0, "r", 60000);
}

static void m_link(const char *path, const char *target)
{
	m_head(K_SYMLINK, path, 0777, 1700000000);
	m_str(target);
	m_end();
}

/* END, then DONE with the counts the receiver kept. */
static void m_finish(const struct rside *rs)
{
	m_u8(K_END);
	m_end();
	m_u8(K_DONE);
	m_u64(rs->files);
	m_u64(rs->bytes);
	m_end();
}

/* The length 0xffff: a close record (fuzz_chan.h). */
static void m_close(void)
{
	uint8_t l[2] = { 0xff, 0xff };

	put(l, 2);
}

/*
 * Compressible bytes that still cut into distinct chunks: 1 KiB blocks,
 * each a rotation of one random block (so cut points vary) stamped with its
 * number (so no two chunks are equal).
 */
static void gen_blocks(uint8_t *p, size_t n, uint32_t salt)
{
	uint8_t base[1024], s[4] = { (uint8_t)salt, (uint8_t)(salt >> 8), (uint8_t)(salt >> 16), 0 };
	pqx_keccak_ctx k;

	pqx_shake128_init(&k);
	pqx_keccak_absorb(&k, (const uint8_t *)"pqx fuzz blocks", 15);
	pqx_keccak_absorb(&k, s, sizeof(s));
	pqx_keccak_squeeze(&k, base, sizeof(base));
	for (size_t i = 0; i < n; i++) {
		size_t b = i / 1024, o = i % 1024;

		p[i] = o < 4 ? (uint8_t)(b >> (8 * o)) : base[(o + b * 397 + salt) % 1024];
	}
}

/*
 * deep1: a file for the deep walk under key, with at least two level-2
 * nodes, one of them with two level-1 children, one of those with two
 * chunks (the salt of gen_blocks is searched for one). deep2: deep1 with
 * 16 bytes changed in the middle of the second of those chunks. deep3:
 * deep1 with 16 bytes changed in its first chunk. deep4: deep1 with 16
 * bytes changed in its last chunk. deep1 + deep_skip: deep1 without its
 * first chunk.
 */
#define DEEP_BYTES (160u << 10)
static uint8_t deep1[DEEP_BYTES], deep2[DEEP_BYTES], deep3[DEEP_BYTES], deep4[DEEP_BYTES];
static size_t deep_skip;

static void gen_deep(const uint8_t key[XFER_ID_BYTES])
{
	for (uint32_t salt = 0; salt < 4096; salt++) {
		struct ftree f;
		size_t f1, k1, f0, k0, at;

		gen_blocks(deep1, DEEP_BYTES, salt);
		ft_build(&f, key, deep1, DEEP_BYTES);
		for (size_t i = 0; f.n[2] >= 2 && i < f.n[2]; i++) {
			k1 = ft_kids(&f, 2, i, &f1);
			for (size_t j = f1; k1 >= 2 && j < f1 + k1; j++) {
				if ((k0 = ft_kids(&f, 1, j, &f0)) < 2)
					continue;
				at = f.v[0][f0 + 1].off + f.v[0][f0 + 1].len / 2;
				deep_skip = f.v[0][0].len;
				fprintf(stderr, "gen_seeds: deep file: salt %u, nodes %zu/%zu/%zu\n", salt,
				    f.n[2], f.n[1], f.n[0]);
				ft_free(&f);
				memcpy(deep2, deep1, DEEP_BYTES);
				memcpy(deep3, deep1, DEEP_BYTES);
				memcpy(deep4, deep1, DEEP_BYTES);
				for (size_t b = 0; b < 16; b++) {
					deep2[at + b] ^= 0x5a;
					deep3[deep_skip / 2 + b] ^= 0xa5;
					deep4[DEEP_BYTES - 100 + b] ^= 0x3c;
				}
				return;
			}
		}
		ft_free(&f);
	}
	fprintf(stderr, "gen_seeds: no deep file found\n");
	failed = 1;
}

/*
 * The deep session of the receiver and server seeds (rs: the receiver, with
 * an empty index): v1 (nothing to compare with: it streams, in DATA
 * messages of 40000 bytes, zstd and raw in turn; the index learns it),
 * v2 = v1 with 16 bytes changed (trees: NEED down to the chunks around the
 * change, the rest HAVE; raw DATA cut every 6000 bytes), v3 = v1 (every
 * level-2 node HAVE, no DATA), v4 = v1 without its first chunk (new level-2
 * and level-1 nodes over chunks that are all HAVE: no DATA), v5 = v1 with
 * its first chunk changed, its chunks listed flat (that chunk NEED, the rest
 * HAVE), v6 = v1 with its last chunk changed, its chunks listed with its
 * entry (that chunk NEED, the rest HAVE: answered with NEED), v1 again with
 * its first chunk changed (an old version at the path under 4 MiB: matched
 * in blocks, the one block around the change as zstd DATA), then
 * x.txt with a base the receiver declines, a link, keep.txt (skipped where
 * the receiver holds it), an empty file (a bare FILE_END).
 */
static void m_deep(struct rside *rs)
{
	gen_deep(rs->key);
	m_head(K_DIR, "a", 0755, 1600000000);
	m_end();
	r_file(rs, "a/v1.bin", 1600000003, deep1, DEEP_BYTES, 0, "zr", 40000);
	r_file(rs, "a/v2.bin", 1600000004, deep2, DEEP_BYTES, 0, "r", 6000);
	r_file(rs, "a/v3.bin", 1600000005, deep1, DEEP_BYTES, 0, "z", 60000);
	r_file(rs, "a/v4.bin", 1600000006, deep1 + deep_skip, DEEP_BYTES - deep_skip, 0, "z", 60000);
	r_flat = 1;
	r_file(rs, "a/v5.bin", 1600000008, deep3, DEEP_BYTES, 0, "z", 60000);
	r_listed = 1;
	r_file(rs, "a/v6.bin", 1600000009, deep4, DEEP_BYTES, 0, "z", 60000);
	r_file(rs, "a/v1.bin", 1600000007, deep3, DEEP_BYTES, 0, "z", 60000);
	r_file(rs, "a/x.txt", 1600000001, (const uint8_t *)"hello world", 11, 1, "r", 60000);
	m_link("a/l", "x.txt");
	r_text(rs, "keep.txt", 1700000000, "hello");
	r_text(rs, "a/e", 1600000002, "");
	m_finish(rs);
}

/* A small tree: a directory, a file (tiny: it streams), links, keep.txt, an empty file. */
static void m_tree(struct rside *rs)
{
	m_head(K_DIR, "a", 0755, 1600000000);
	m_end();
	r_file(rs, "a/x.txt", 1600000001, (const uint8_t *)"hello world", 11, 1, "r", 60000);
	m_link("a/l", "x.txt");
	m_link("a/up", "../keep.txt");
	r_text(rs, "keep.txt", 1700000000, "hello");
	r_text(rs, "a/e", 1600000002, "");
	m_finish(rs);
}

/* fuzz_transfer_sender.c's file bytes, and the sizes of its files mid and wide. */
#define MID_BYTES ((12u << 10) + 77)
#define WIDE_BYTES ((5u << 20) + 7)
static uint8_t sender_pattern(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 8) * 7u + 3u);
}

static uint8_t wide_pattern(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;

	x ^= x >> 15;
	x *= 2246822519u;
	x ^= x >> 13;
	return (uint8_t)(x >> 24);
}

/*
 * The receiver's answers to one file (bytes p, tree under key) of the
 * sender under test: NEED, a BITMAP for each LIST the sender will send,
 * FILE_OK. how: 's' stream it whole (no LIST: DATA and a bare FILE_END
 * follow), 'w' every level-2 node WHOLE, 'h' every one HAVE, 'n' every
 * node NEED down to the chunks, 'm' the listed nodes of each level cycle
 * through NEED, WHOLE, HAVE (chunks: NEED, HAVE), so each level has some.
 */
static void s_answers(const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n, char how);

static void s_file(const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n, char how)
{
	m_u8(K_NEED);
	m_u8(how == 's' ? NEED_STREAM : NEED_TREE);
	m_u8(0);
	m_end();
	s_answers(key, p, n, how);
}

/* The answers after NEED: the BITMAPs of a tree compare (unless 's'), then FILE_OK. */
static void s_answers(const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n, char how)
{
	static const uint8_t mix[2][3] = { { ST_NEED, ST_WHOLE, ST_HAVE }, { ST_NEED, ST_HAVE, 0 } };
	struct ftree f;
	int top;

	ft_build(&f, key, p, n);
	/* The sender lists flat from top (chunks: HAVE or NEED, never WHOLE). */
	top = how == 's' ? 2 : ft_top(&f);
	for (int l = top; how != 's' && l >= 0 && f.n[2] > 0; l--) {
		size_t c = 0;

		if ((l < top || top == 2) && ft_mark(&f, l) == 0)
			continue;
		for (size_t i = 0; i < f.n[l]; i++) {
			if (f.st[l][i] == ST_UNLISTED)
				continue;
			if (how == 'm')
				f.st[l][i] = mix[l == 0][c++ % (l == 0 ? 2 : 3)];
			else
				f.st[l][i] = how == 'h' ? ST_HAVE : how == 'w' && l > 0 ? ST_WHOLE : ST_NEED;
		}
		m_bitmap(&f, l);
	}
	fprintf(stderr, "gen_seeds: answers '%c' (first list level %d): %zu bytes, nodes %zu/%zu/%zu\n", how, top,
	    n, f.n[2], f.n[1], f.n[0]);
	m_u8(K_FILE_OK);
	m_end();
	ft_free(&f);
}

/*
 * The receiver's answers to a file of n bytes it matches in blocks against
 * its old version old[0..old_n) (the sender under test holds the new one):
 * NEED 3, SIGS, and after the sender's FILE_END either FILE_OK or (retry:
 * the hash did not match) AGAIN, and for the file sent again after the
 * last entry NEED 2 (it streams whole), then FILE_OK.
 * With no block signed the sender finds too little and goes on with chunk
 * trees: then the answers of a tree compare (how), for p[0..n).
 */
static void s_blocks(const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n, const uint8_t *old,
    size_t old_n, int retry, char how)
{
	uint32_t count, L = blk_geometry(old_n, &count);

	m_u8(K_NEED);
	m_u8(NEED_BLOCKS);
	m_u8(0);
	m_end();
	m_sigs(key, old, old_n, n);
	if (count == 0) {
		s_answers(key, p, n, how);
		return;
	}
	if (retry) {
		m_u8(K_AGAIN);
		m_end();
		m_u8(K_NEED);
		m_u8(NEED_STREAM);
		m_u8(0);
		m_end();
	}
	m_u8(K_FILE_OK);
	m_end();
	fprintf(stderr, "gen_seeds: answers 'b': %zu bytes, old %zu bytes, %u blocks of %u%s\n", n, old_n,
	    count, L, retry ? ", then whole" : "");
}

/*
 * The receiver's answers to a file whose chunks came with its entry (the
 * sender lists them once an earlier answer came): NEED 4 and the BITMAP of
 * its chunks (all NEED, or NEED and HAVE in turn), then FILE_OK.
 */
static void s_listed(const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n, int mix)
{
	struct ftree f;

	ft_build(&f, key, p, n);
	if (ft_top(&f) != 0)
		failed = 1;
	m_u8(K_NEED);
	m_u8(NEED_LISTED);
	m_u8(0);
	m_end();
	for (size_t i = 0; i < f.n[0]; i++)
		f.st[0][i] = mix && i % 2 ? ST_HAVE : ST_NEED;
	m_bitmap(&f, 0);
	fprintf(stderr, "gen_seeds: answers listed%s: %zu bytes, %zu chunks\n", mix ? " (mixed)" : "", n,
	    f.n[0]);
	m_u8(K_FILE_OK);
	m_end();
	ft_free(&f);
}

/* The receiver's answer for a file it already has. */
static void s_skip(void)
{
	m_u8(K_NEED);
	m_u8(NEED_SKIP);
	m_u8(0);
	m_end();
}

/* ACCEPT with the key of the sender's seeds (zero). */
static void s_accept(void)
{
	m_u8(K_ACCEPT);
	m_bytes(key_zero, sizeof(key_zero));
	m_end();
}

static void m_request(uint8_t op, const char *path)
{
	m_u8(K_REQUEST);
	m_u8(op);
	m_str(path);
	m_end();
}

/* fuzz_transfer_receiver.c's blk.bin: BLK_BYTES bytes of blk_pattern, mtime 1700000100 (8 blocks and a tail). */
#define BLK_BYTES (8192u + 300u)
static uint8_t blk_old[BLK_BYTES];

static uint8_t blk_pattern(size_t i)
{
	return (uint8_t)(i * 167u + (i >> 9) * 13u + 11u);
}

/* fuzz_transfer_receiver.c's BASE/in before a session: keep.txt, "hello"; blk.bin. */
static void rs_receiver(struct rside *rs)
{
	for (size_t i = 0; i < BLK_BYTES; i++)
		blk_old[i] = blk_pattern(i);
	rs_init(rs, key_zero);
	rs_plant(rs, "keep.txt", (const uint8_t *)"hello", 5, 1700000000);
	rs_plant(rs, "blk.bin", blk_old, BLK_BYTES, 1700000100);
}

/*
 * New versions of blk.bin. blk1: blk.bin with 300 bytes changed in its
 * third block, 500 new bytes inserted at 5000 and 700 appended (blocks
 * 0-1, 3 and 5-7 found, the last three shifted). blk2: blk1 with 100 bytes
 * changed at 6000 and its first 3000 bytes appended again (a block named
 * twice). blk_same: blk.bin's own bytes (every block, no DATA).
 */
static uint8_t blk1[BLK_BYTES + 1200], blk2[BLK_BYTES + 1200 + 3000], blk_same[BLK_BYTES];

static void gen_blk(void)
{
	size_t n = 0;

	memcpy(blk1, blk_old, 5000);
	for (size_t i = 2100; i < 2400; i++)
		blk1[i] ^= 0x33;
	n = 5000;
	for (size_t i = 0; i < 500; i++)
		blk1[n++] = (uint8_t)(blk_pattern(i + 100000) ^ 0x5a);
	memcpy(blk1 + n, blk_old + 5000, BLK_BYTES - 5000);
	n += BLK_BYTES - 5000;
	for (size_t i = 0; i < 700; i++)
		blk1[n++] = (uint8_t)(i * 7u);
	memcpy(blk2, blk1, sizeof(blk1));
	for (size_t i = 6000; i < 6100; i++)
		blk2[i] ^= 0xc3;
	memcpy(blk2 + sizeof(blk1), blk1, 3000);
	memcpy(blk_same, blk_old, BLK_BYTES);
}

static void transfer_seeds(const char *dir)
{
	static uint8_t two[(1u << 20) + 17], split[40u << 10], big[96u << 10], old[64u << 10];
	uint8_t small[100], df[10];
	struct rside rs;

	/* Receiver (key zero; BASE/in holds keep.txt, "hello", and blk.bin): the seed plays the sender. */
	rs_receiver(&rs);
	m_tree(&rs);
	emit(dir, "transfer_receiver", "tree");
	rs_free(&rs);
	rs_receiver(&rs);
	m_deep(&rs);
	emit(dir, "transfer_receiver", "deep");
	rs_free(&rs);
	rs_receiver(&rs);
	m_deep(&rs);
	m_batch();
	emit(dir, "transfer_receiver", "deep-batched");
	rs_free(&rs);
	/* One tiny file streamed in DATA messages of 7000 bytes, zstd and raw in turn. */
	rs_receiver(&rs);
	gen_blocks(split, sizeof(split), 7);
	r_file(&rs, "s.bin", 1, split, sizeof(split), 0, "zr", 7000);
	m_finish(&rs);
	emit(dir, "transfer_receiver", "split");
	rs_free(&rs);
	/* An empty file alone: NEED 2, then a bare FILE_END. */
	rs_receiver(&rs);
	r_text(&rs, "e", 1, "");
	m_finish(&rs);
	emit(dir, "transfer_receiver", "empty");
	rs_free(&rs);
	/*
	 * A new keep.txt too large to stream, under 4 MiB: matched in blocks
	 * against the old one, too short for a whole block (SIGS of none, all
	 * of it DATA, raw and zstd in turn).
	 */
	rs_receiver(&rs);
	gen_blocks(big, sizeof(big), 9);
	r_file(&rs, "keep.txt", 1, big, sizeof(big), 0, "rz", 30000);
	m_finish(&rs);
	emit(dir, "transfer_receiver", "replace");
	rs_free(&rs);
	/* Escapes through the planted links; a link chain. */
	rs_receiver(&rs);
	r_text(&rs, "up/evil", 1, "x");
	m_head(K_DIR, "abs/d", 0755, 1);
	m_end();
	m_finish(&rs);
	emit(dir, "transfer_receiver", "escape");
	rs_free(&rs);
	rs_receiver(&rs);
	m_link("s", ".");
	m_link("e", "s/..");
	m_link("f", "s/../outside");
	m_finish(&rs);
	emit(dir, "transfer_receiver", "link-chain");
	rs_free(&rs);
	/*
	 * Blocks: blk.bin against the planted one (DATA raw and zstd in turn),
	 * then against the version just landed (zstd, a frame ended midway).
	 */
	rs_receiver(&rs);
	gen_blk();
	r_file(&rs, "blk.bin", 1700000300, blk1, sizeof(blk1), 0, "rz", 700);
	r_file(&rs, "blk.bin", 1700000301, blk2, sizeof(blk2), 0, "zez", 1500);
	m_finish(&rs);
	emit(dir, "transfer_receiver", "blocks");
	rs_free(&rs);
	/*
	 * Blocks: the same bytes under a new mtime (every block, no DATA), then
	 * blk1 with a wrong hash: NEED 2, and it streams whole (zstd, raw).
	 */
	rs_receiver(&rs);
	r_file(&rs, "blk.bin", 1700000300, blk_same, sizeof(blk_same), 0, "r", 60000);
	r_wrong_hash = 1;
	r_file(&rs, "blk.bin", 1700000301, blk1, sizeof(blk1), 0, "zr", 4000);
	m_finish(&rs);
	emit(dir, "transfer_receiver", "blocks-retry");
	rs_free(&rs);

	/* Eager (flag 16): a new tiny file, raw; the one there already, zstd, dropped; then one more. */
	rs_receiver(&rs);
	r_eager = 1;
	r_file(&rs, "new.txt", 1700000400, (const uint8_t *)"eager contents\n", 15, 0, "r", 4000);
	m_finish(&rs);
	emit(dir, "transfer_receiver", "eager");
	rs_free(&rs);
	rs_receiver(&rs);
	r_eager = 1;
	r_file(&rs, "keep.txt", 1700000000, (const uint8_t *)"hello", 5, 0, "z", 4000);
	r_file(&rs, "more.txt", 1700000401, (const uint8_t *)"after the dropped ones", 22, 0, "z", 4000);
	m_finish(&rs);
	emit(dir, "transfer_receiver", "eager-skip-zstd");
	rs_free(&rs);

	/*
	 * Sender (key zero): the selector (bit 0 confined, bits 1-3 the set
	 * mod 7, bit 4 zstd), then the receiver's answers.
	 */
	for (size_t i = 0; i < sizeof(two); i++)
		two[i] = sender_pattern(i);
	memcpy(small, two, sizeof(small));
	memcpy(df, two, sizeof(df));
	/*
	 * A tiny file with no file ahead of it (small alone, d/f alone, the
	 * empty file first) goes with its entry: its answer must be skip or
	 * stream. Compared by trees, small comes after the empty file (set 3).
	 */
	put_u8(0); /* small, eager: a trees answer is refused */
	s_file(key_zero, small, sizeof(small), 'w');
	emit(dir, "transfer_sender", "small-eager-trees");
	put_u8(0x17); /* everything, confined, zstd: the empty file, then small with NEED at every level */
	s_file(key_zero, NULL, 0, 's');
	s_file(key_zero, small, sizeof(small), 'n');
	s_skip(); /* two, d/f, d/f */
	s_skip();
	s_skip();
	emit(dir, "transfer_sender", "small-deep");
	put_u8(1); /* small, confined, already there */
	s_skip();
	emit(dir, "transfer_sender", "small-skip");
	put_u8(0); /* small, streamed: one raw DATA message */
	s_file(key_zero, small, sizeof(small), 's');
	emit(dir, "transfer_sender", "small-stream");
	put_u8(2); /* two: the receiver has every level-2 node */
	s_file(key_zero, two, sizeof(two), 'h');
	emit(dir, "transfer_sender", "two-have");
	put_u8(0x12); /* two, zstd: every level-2 node WHOLE */
	s_file(key_zero, two, sizeof(two), 'w');
	emit(dir, "transfer_sender", "two-whole");
	put_u8(0x13); /* two, confined, zstd: every state at every level */
	s_file(key_zero, two, sizeof(two), 'm');
	emit(dir, "transfer_sender", "two-mix");
	put_u8(2); /* two, streamed: two raw DATA messages */
	s_file(key_zero, two, sizeof(two), 's');
	emit(dir, "transfer_sender", "two-stream");
	put_u8(0x12); /* two, streamed, zstd */
	s_file(key_zero, two, sizeof(two), 's');
	emit(dir, "transfer_sender", "two-stream-zstd");
	put_u8(4); /* d: d/f, eager */
	s_file(key_zero, df, sizeof(df), 's');
	emit(dir, "transfer_sender", "dir");
	/* ACCEPT first (bit 6: the request went without waiting), then as above. */
	put_u8(0x40 | 0x12);
	s_accept();
	s_file(key_zero, two, sizeof(two), 'm');
	emit(dir, "transfer_sender", "accept-two-mix");
	put_u8(0x40 | 4);
	s_accept();
	s_skip();
	emit(dir, "transfer_sender", "accept-dir-skip");
	put_u8(0x40 | 0x0e); /* set 7, with two's answers before ACCEPT: refused */
	s_file(key_zero, two, sizeof(two), 's');
	emit(dir, "transfer_sender", "accept-missing");
	put_u8(0x16); /* everything, zstd: empty (eager), small, two, d/f (skipped), d/f */
	s_file(key_zero, NULL, 0, 's');
	s_file(key_zero, small, sizeof(small), 'w');
	s_file(key_zero, two, sizeof(two), 'm');
	s_skip();
	s_file(key_zero, df, sizeof(df), 'h');
	emit(dir, "transfer_sender", "all");
	put_u8(6); /* everything streamed (the empty file: a bare FILE_END), d/f skipped once */
	s_file(key_zero, NULL, 0, 's');
	s_file(key_zero, small, sizeof(small), 's');
	s_file(key_zero, two, sizeof(two), 's');
	s_file(key_zero, df, sizeof(df), 's');
	s_skip();
	emit(dir, "transfer_sender", "all-stream");
	put_u8(0x0e); /* set 7: two streamed, then mid listed with its entry */
	s_file(key_zero, two, sizeof(two), 's');
	s_listed(key_zero, two, MID_BYTES, 0);
	emit(dir, "transfer_sender", "two-mid-listed");
	put_u8(0x0f); /* confined: two compared, mid listed, half its chunks there */
	s_file(key_zero, two, sizeof(two), 'm');
	s_listed(key_zero, two, MID_BYTES, 1);
	emit(dir, "transfer_sender", "two-mid-listed-mix");
	put_u8(0x1e); /* zstd */
	s_file(key_zero, two, sizeof(two), 's');
	s_listed(key_zero, two, MID_BYTES, 1);
	emit(dir, "transfer_sender", "two-mid-listed-zstd");
	{
		/* Set 8 (bit 5): wide, its first LIST level 2, then level 1 and the chunks. */
		uint8_t *wide = malloc(WIDE_BYTES);

		if (wide == NULL) {
			failed = 1;
		} else {
			for (size_t i = 0; i < WIDE_BYTES; i++)
				wide[i] = wide_pattern(i);
			put_u8(0x20);
			s_file(key_zero, wide, WIDE_BYTES, 'm');
			emit(dir, "transfer_sender", "wide-mix");
			put_u8(0x21); /* confined: every level NEED down to the chunks */
			s_file(key_zero, wide, WIDE_BYTES, 'n');
			emit(dir, "transfer_sender", "wide-need");
			free(wide);
		}
	}
	put_u8(8); /* up/secret: refused */
	emit(dir, "transfer_sender", "escape");
	/*
	 * Blocks (NEED 3): mid (set 6, fuzz_pattern) against an old version
	 * with 300 bytes inserted at 3000 and 50 changed at 8000 (in the new
	 * file's terms), its end cut: blocks 0-1 found in place, later ones
	 * shifted.
	 */
	{
		size_t on = 0;

		memcpy(old, two, 3000);
		on = 3000;
		for (size_t i = 0; i < 300; i++)
			old[on++] = (uint8_t)(two[i + 5000] ^ 0xa5);
		memcpy(old + on, two + 3000, 5000);
		on += 5000;
		for (size_t i = 8000; i < 8050; i++)
			old[on++] = (uint8_t)~two[i];
		memcpy(old + on, two + 8050, 3950);
		on += 3950;
		put_u8(0x0c); /* mid */
		s_blocks(key_zero, NULL, MID_BYTES, old, on, 0, 0);
		emit(dir, "transfer_sender", "mid-blocks");
		put_u8(0x1d); /* mid, confined, zstd */
		s_blocks(key_zero, NULL, MID_BYTES, old, on, 0, 0);
		emit(dir, "transfer_sender", "mid-blocks-zstd");
		put_u8(0x0c); /* mid: the hash does not match, it streams whole */
		s_blocks(key_zero, NULL, MID_BYTES, old, on, 1, 0);
		emit(dir, "transfer_sender", "mid-blocks-retry");
		/* mid against itself less 100 bytes at 5000: its end is the old tail (1001 bytes). */
		memcpy(old, two, 5000);
		memcpy(old + 5000, two + 5100, MID_BYTES - 5100);
		put_u8(0x0c);
		s_blocks(key_zero, NULL, MID_BYTES, old, MID_BYTES - 100, 0, 0);
		emit(dir, "transfer_sender", "mid-blocks-tail");
		put_u8(6); /* the empty file (eager), then small against 500 bytes: no whole block to sign, so chunk trees */
		s_file(key_zero, NULL, 0, 's');
		s_blocks(key_zero, small, sizeof(small), old, 500, 0, 'n');
		s_skip(); /* two, d/f, d/f */
		s_skip();
		s_skip();
		emit(dir, "transfer_sender", "small-blocks");
		/* two, zstd, against 32 KiB of its start and 32 KiB from 600000 */
		memcpy(old, two, 32u << 10);
		memcpy(old + (32u << 10), two + 600000, 32u << 10);
		put_u8(0x12);
		s_blocks(key_zero, NULL, sizeof(two), old, 64u << 10, 0, 0);
		emit(dir, "transfer_sender", "two-blocks");
	}

	/*
	 * Server (fuzz_key): the selector (bit 0 send-only, 1 get-only, 2
	 * dir=home, 3 zstd), then the client's messages. A push lands in
	 * root/inbox (made by the push) or, with dir=home, in home (h.txt).
	 */
	put_u8(0);
	m_request(1, "inbox");
	rs_init(&rs, key_server);
	m_deep(&rs);
	rs_free(&rs);
	m_close();
	emit(dir, "server", "push");
	put_u8(0);
	m_request(1, "inbox");
	rs_init(&rs, key_server);
	m_tree(&rs);
	rs_free(&rs);
	m_close();
	emit(dir, "server", "push-tree");
	/*
	 * A new file (tiny: streamed), and h.txt replaced by one too large to
	 * stream (blocks, against an old version shorter than a block).
	 */
	put_u8(4);
	m_request(1, "");
	rs_init(&rs, key_server);
	rs_plant(&rs, "h.txt", (const uint8_t *)"home\n", 5, 0);
	r_text(&rs, "h2.txt", 1, "more");
	gen_blocks(big, sizeof(big), 11);
	r_file(&rs, "h.txt", 2, big, sizeof(big), 0, "zr", 50000);
	m_finish(&rs);
	rs_free(&rs);
	m_close();
	emit(dir, "server", "push-home");
	put_u8(8);
	m_request(2, "pub/a.txt");
	s_file(key_server, (const uint8_t *)"a public file\n", 14, 'n');
	m_close();
	emit(dir, "server", "pull-file");
	put_u8(8);
	m_request(2, "pub/a.txt");
	s_file(key_server, (const uint8_t *)"a public file\n", 14, 's');
	m_close();
	emit(dir, "server", "pull-file-stream");
	put_u8(0);
	m_request(2, "pub");
	/* a.txt and sub/b.bin, in readdir order: one node each, so either answer fits. */
	s_file(key_server, (const uint8_t *)"a public file\n", 14, 'w');
	s_file(key_server, (const uint8_t *)"\x01\x02\x03", 3, 'w');
	m_close();
	emit(dir, "server", "pull-dir");
	put_u8(0);
	m_request(2, "pub");
	s_file(key_server, (const uint8_t *)"a public file\n", 14, 's');
	s_file(key_server, (const uint8_t *)"\x01\x02\x03", 3, 's');
	m_close();
	emit(dir, "server", "pull-dir-stream");
	put_u8(8);
	m_request(2, "pub/a.txt");
	/* Nothing signed (an old version shorter than a block): chunk trees after all. */
	s_blocks(key_server, (const uint8_t *)"a public file\n", 14, (const uint8_t *)"a public", 8, 0, 'n');
	m_close();
	emit(dir, "server", "pull-file-blocks");
	put_u8(0);
	m_request(2, "pub/a.txt");
	s_blocks(key_server, (const uint8_t *)"a public file\n", 14, (const uint8_t *)"a public", 8, 0, 'w');
	m_close();
	emit(dir, "server", "pull-file-blocks-trees");
	put_u8(0);
	m_request(2, "up/secret");
	emit(dir, "server", "pull-escape");
	put_u8(1);
	m_request(2, "pub/a.txt");
	emit(dir, "server", "pull-send-only");
	put_u8(0);
	m_request(1, "up");
	rs_init(&rs, key_server);
	r_text(&rs, "evil", 1, "x");
	m_finish(&rs);
	rs_free(&rs);
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
	/* The key in advance (bit 3): nothing to read, the real handshake, another key. */
	put_u8(8 | 4);
	emit(dir, "channel_client", "advance-empty");
	put_u8(8 | 4 | 3);
	emit(dir, "channel_client", "advance-mask-none");
	put_u8(8 | 4 | 3);
	put_zeros(10);
	put_u8(0x01);
	emit(dir, "channel_client", "advance-other-key");
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
	aead_seeds(argv[1], "chachapoly", 300);
	hpke_seeds(argv[1]);
	age_seeds(argv[1]);
	transfer_seeds(argv[1]);
	channel_seeds(argv[1]);
	/* Last, so that the seeds above stay as they were. */
	aead_seeds(argv[1], "aesgcm", 1000); /* three 256-byte steps and a tail */
	return failed;
}
