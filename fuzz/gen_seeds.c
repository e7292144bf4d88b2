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
#include "transfer/tree.h"
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

/*
 * One message of fuzz_chan.h: u16be length || bytes, from the bytes in msg.
 * A length of 0xffff is a close record, so a message holds at most 65534
 * bytes. LIST, BITMAP and DATA messages go unpadded: a receiver only
 * requires what follows the fields to be zeros, and short seeds mutate better.
 */
static uint8_t msg[65534];
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

/* Message kinds and states (docs/PROTOCOL.md, "Transfer"; src/transfer/xfer_int.h). */
enum { K_REQUEST = 1, K_FILE = 3, K_DIR = 4, K_SYMLINK = 5, K_END = 6, K_NEED = 7, K_LIST = 8,
	K_BITMAP = 9, K_DATA = 10, K_FILE_END = 11, K_FILE_OK = 12, K_DONE = 13 };
enum { ST_NEED = 0, ST_HAVE = 1, ST_WHOLE = 2, ST_UNLISTED = 0xff };
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

static void ft_build(struct ftree *f, const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n)
{
	struct xfer_tree *t = xfer_tree_new(key, 2);
	pqx_hmac *h = NULL;

	memset(f, 0, sizeof(*f));
	if (t == NULL) {
		failed = 1;
		return;
	}
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
 * The stream as DATA messages of at most cut raw bytes each (cuts fall
 * anywhere, as the sender's do), codecs[i % strlen] for message i: 'r' raw,
 * 'z' zstd.
 */
static void m_data(const char *codecs, size_t cut)
{
	size_t nc = strlen(codecs);

	for (size_t off = 0, i = 0; off < stream_len; off += cut, i++) {
		size_t raw = stream_len - off < cut ? stream_len - off : cut, body = raw;
		int z = codecs[i % nc] == 'z';

		if (z) {
			body = ZSTD_compress(zbody, sizeof(zbody), stream + off, raw, 3);
			if (ZSTD_isError(body)) {
				fprintf(stderr, "gen_seeds: zstd: %s\n", ZSTD_getErrorName(body));
				failed = 1;
				return;
			}
		}
		m_u8(K_DATA);
		m_u8(z ? CODEC_ZSTD : CODEC_RAW);
		m_u32((uint32_t)raw);
		m_u32((uint32_t)body);
		m_bytes(z ? zbody : stream + off, body);
		m_end();
	}
}

static void m_head(uint8_t kind, const char *path, uint32_t mode, uint64_t sec)
{
	m_u8(kind);
	m_str(path);
	m_u32(mode);
	m_u64(sec);
	m_u32(0);
}

/* The ids the receiver under test has indexed, to predict its answers. */
struct known {
	uint8_t (*id)[XFER_ID_BYTES];
	size_t n;
};

static int known_has(const struct known *k, const uint8_t id[XFER_ID_BYTES])
{
	for (size_t i = 0; i < k->n; i++)
		if (memcmp(k->id[i], id, XFER_ID_BYTES) == 0)
			return 1;
	return 0;
}

static void known_add(struct known *k, const uint8_t id[XFER_ID_BYTES])
{
	uint8_t (*v)[XFER_ID_BYTES];

	if (known_has(k, id))
		return;
	if ((v = realloc(k->id, (k->n + 1) * sizeof(*v))) == NULL) {
		failed = 1;
		return;
	}
	memcpy(v[k->n++], id, XFER_ID_BYTES);
	k->id = v;
}

/* Node i of level l and everything below it (the rows a verified node leaves in the index). */
static void known_add_tree(struct known *k, const struct ftree *f, int l, size_t i)
{
	size_t first, n;

	known_add(k, f->v[l][i].id);
	if (l == 0)
		return;
	n = ft_kids(f, l, i, &first);
	for (size_t j = first; j < first + n; j++)
		known_add_tree(k, f, l - 1, j);
}

/* A file the receiver held before: it indexes it first (every node). */
static void known_file(struct known *k, const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n)
{
	struct ftree f;

	ft_build(&f, key, p, n);
	for (size_t i = 0; i < f.n[2]; i++)
		known_add_tree(k, &f, 2, i);
	ft_free(&f);
}

/*
 * The sender's side of one file, for a receiver with a chunk index:
 * FILE, then the window walk with the answers the receiver will give
 * (content.c look_up): a node whose id it has indexed is HAVE; else, at
 * level 2, WHOLE while its index is empty, NEED otherwise; chunks HAVE or
 * NEED. Then DATA (see m_data) and FILE_END. has_base: the FILE entry names
 * a shared base (the targets have no --dict: the receiver declines it).
 * Updates k with the rows the receiver adds (verified nodes, NEED chunks).
 * The file fits one window (well under 32 MiB).
 */
static void r_file(struct known *k, const uint8_t key[XFER_ID_BYTES], const char *path,
    uint64_t sec, const uint8_t *p, size_t n, int has_base, const char *codecs, size_t cut)
{
	struct ftree f;
	int empty = k->n == 0;

	ft_build(&f, key, p, n);
	m_head(K_FILE, path, 0644, sec);
	m_u64(n);
	m_u8((uint8_t)has_base);
	if (has_base) {
		m_str(path);
		m_u64(n);
		m_bytes(f.id, 32); /* any 32 bytes: no dictionary holds it */
	}
	m_end();
	for (int l = 2; l >= 0 && f.n[2] > 0; l--) {
		if (ft_mark(&f, l) == 0)
			continue;
		m_list(&f, l);
		for (size_t i = 0; i < f.n[l]; i++) {
			if (f.st[l][i] == ST_UNLISTED)
				continue;
			if (known_has(k, f.v[l][i].id))
				f.st[l][i] = ST_HAVE;
			else
				f.st[l][i] = l == 2 && empty ? ST_WHOLE : ST_NEED;
		}
	}
	ft_items(&f, p);
	m_data(codecs, cut);
	for (size_t i = 0; i < f.n[2]; i++)
		if (f.st[2][i] == ST_WHOLE || f.st[2][i] == ST_HAVE)
			known_add_tree(k, &f, 2, i);
	for (size_t i = 0; i < f.n[1]; i++)
		if (f.st[1][i] == ST_HAVE)
			known_add_tree(k, &f, 1, i);
	for (size_t i = 0; i < f.n[0]; i++)
		if (f.st[0][i] == ST_HAVE || f.st[0][i] == ST_NEED)
			known_add(k, f.v[0][i].id);
	fprintf(stderr, "gen_seeds: %s: %zu bytes, nodes %zu/%zu/%zu, %zu bytes of data\n", path, n,
	    f.n[2], f.n[1], f.n[0], stream_len);
	m_u8(K_FILE_END);
	m_bytes(f.id, XFER_ID_BYTES);
	m_end();
	ft_free(&f);
}

/* A small text file. */
static void r_text(struct known *k, const uint8_t key[XFER_ID_BYTES], const char *path,
    uint64_t sec, const char *text)
{
	r_file(k, key, path, sec, (const uint8_t *)text, strlen(text), 0, "r", 1u << 20);
}

/* A FILE entry the receiver skips: it has the same size and time (NEED state 1). */
static void r_skipped(const char *path, uint64_t size, uint64_t sec)
{
	m_head(K_FILE, path, 0644, sec);
	m_u64(size);
	m_u8(0);
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
 * 16 bytes changed in the middle of the second of those chunks.
 */
#define DEEP_BYTES (160u << 10)
static uint8_t deep1[DEEP_BYTES], deep2[DEEP_BYTES];

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
				fprintf(stderr, "gen_seeds: deep file: salt %u, nodes %zu/%zu/%zu\n", salt,
				    f.n[2], f.n[1], f.n[0]);
				ft_free(&f);
				memcpy(deep2, deep1, DEEP_BYTES);
				for (size_t b = 0; b < 16; b++)
					deep2[at + b] ^= 0x5a;
				return;
			}
		}
		ft_free(&f);
	}
	fprintf(stderr, "gen_seeds: no deep file found\n");
	failed = 1;
}

/*
 * The deep session of the receiver and server seeds, under key, into an
 * empty index: v1 (the first file, so WHOLE: one zstd DATA message), v2 =
 * v1 with 16 bytes changed (NEED down to the chunks around the change, the
 * rest HAVE; raw DATA cut every 6000 bytes), v3 = v1 (every level-2 node
 * HAVE, no DATA), v4 = v2 (the level-1 and level-2 nodes of v2 that were
 * expanded are not indexed: NEED down to the chunks, which are all HAVE),
 * then x.txt with a base the receiver declines (NEED at every level: one
 * node each), keep.txt (skipped if the receiver has it: keep), an empty file.
 */
static void m_deep(const uint8_t key[XFER_ID_BYTES], int keep)
{
	struct known k = { NULL, 0 };

	gen_deep(key);
	m_head(K_DIR, "a", 0755, 1600000000);
	m_end();
	r_file(&k, key, "a/v1.bin", 1600000003, deep1, DEEP_BYTES, 0, "z", 1u << 20);
	r_file(&k, key, "a/v2.bin", 1600000004, deep2, DEEP_BYTES, 0, "r", 6000);
	r_file(&k, key, "a/v3.bin", 1600000005, deep1, DEEP_BYTES, 0, "z", 1u << 20);
	r_file(&k, key, "a/v4.bin", 1600000006, deep2, DEEP_BYTES, 0, "z", 1u << 20);
	r_file(&k, key, "a/x.txt", 1600000001, (const uint8_t *)"hello world", 11, 1, "r", 1u << 20);
	m_link("a/l", "x.txt");
	if (keep)
		r_skipped("keep.txt", 5, 1700000000);
	else
		r_text(&k, key, "keep.txt", 1700000000, "hello");
	r_text(&k, key, "a/e", 1600000002, "");
	m_finish(7, 4 * (uint64_t)DEEP_BYTES + 11 + 5);
	free(k.id);
}

/* A small tree: a directory, a file (WHOLE, raw), links, keep.txt, an empty file. */
static void m_tree(const uint8_t key[XFER_ID_BYTES], int keep)
{
	struct known k = { NULL, 0 };

	m_head(K_DIR, "a", 0755, 1600000000);
	m_end();
	r_file(&k, key, "a/x.txt", 1600000001, (const uint8_t *)"hello world", 11, 1, "r", 1u << 20);
	m_link("a/l", "x.txt");
	m_link("a/up", "../keep.txt");
	if (keep)
		r_skipped("keep.txt", 5, 1700000000);
	else
		r_text(&k, key, "keep.txt", 1700000000, "hello");
	r_text(&k, key, "a/e", 1600000002, "");
	m_finish(3, 16);
	free(k.id);
}

/* fuzz_transfer_sender.c's file bytes. */
static uint8_t sender_pattern(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 8) * 7u + 3u);
}

/*
 * The receiver's answers to one file (bytes p, tree under key) of the
 * sender under test: NEED, a BITMAP for each LIST the sender will send,
 * FILE_OK. how: 'w' every level-2 node WHOLE, 'h' every one HAVE, 'n' every
 * node NEED down to the chunks, 'm' the listed nodes of each level cycle
 * through NEED, WHOLE, HAVE (chunks: NEED, HAVE), so each level has some.
 */
static void s_file(const uint8_t key[XFER_ID_BYTES], const uint8_t *p, size_t n, char how)
{
	static const uint8_t mix[2][3] = { { ST_NEED, ST_WHOLE, ST_HAVE }, { ST_NEED, ST_HAVE, 0 } };
	struct ftree f;

	ft_build(&f, key, p, n);
	m_u8(K_NEED);
	m_u8(0);
	m_u8(0);
	m_end();
	for (int l = 2; l >= 0 && f.n[2] > 0; l--) {
		size_t c = 0;

		if (ft_mark(&f, l) == 0)
			continue;
		for (size_t i = 0; i < f.n[l]; i++) {
			if (f.st[l][i] == ST_UNLISTED)
				continue;
			if (how == 'm')
				f.st[l][i] = mix[l == 0][c++ % (l == 0 ? 2 : 3)];
			else
				f.st[l][i] = how == 'w' ? ST_WHOLE : how == 'h' ? ST_HAVE : ST_NEED;
		}
		m_bitmap(&f, l);
	}
	fprintf(stderr, "gen_seeds: answers '%c': %zu bytes, nodes %zu/%zu/%zu\n", how, n, f.n[2], f.n[1],
	    f.n[0]);
	m_u8(K_FILE_OK);
	m_end();
	ft_free(&f);
}

/* The receiver's answer for a file it already has. */
static void s_skip(void)
{
	m_u8(K_NEED);
	m_u8(1);
	m_u8(0);
	m_end();
}

static void m_request(uint8_t op, const char *path)
{
	m_u8(K_REQUEST);
	m_u8(op);
	m_str(path);
	m_end();
}

static void transfer_seeds(const char *dir)
{
	static uint8_t two[(1u << 20) + 17], split[40u << 10];
	static const char hello_again[] = "hello, again\n";
	uint8_t small[100], df[10];
	struct known k = { NULL, 0 };

	/* Receiver (key zero; BASE/in holds keep.txt, "hello"): the seed plays the sender. */
	m_tree(key_zero, 1);
	emit(dir, "transfer_receiver", "tree");
	m_deep(key_zero, 1);
	emit(dir, "transfer_receiver", "deep");
	/* One file in DATA messages of 7000 bytes, zstd and raw in turn. */
	gen_blocks(split, sizeof(split), 7);
	r_file(&k, key_zero, "s.bin", 1, split, sizeof(split), 0, "zr", 7000);
	m_finish(1, sizeof(split));
	emit(dir, "transfer_receiver", "split");
	/* A new keep.txt: the old one is indexed first, so nothing is WHOLE. */
	k.n = 0;
	known_file(&k, key_zero, (const uint8_t *)"hello", 5);
	r_text(&k, key_zero, "keep.txt", 1, hello_again);
	m_finish(1, sizeof(hello_again) - 1);
	emit(dir, "transfer_receiver", "replace");
	/* Escapes through the planted links; a link chain. */
	k.n = 0;
	r_text(&k, key_zero, "up/evil", 1, "x");
	m_head(K_DIR, "abs/d", 0755, 1);
	m_end();
	m_finish(1, 1);
	emit(dir, "transfer_receiver", "escape");
	m_link("s", ".");
	m_link("e", "s/..");
	m_link("f", "s/../outside");
	m_finish(0, 0);
	emit(dir, "transfer_receiver", "link-chain");

	/*
	 * Sender (key zero): the selector (bit 0 confined, bits 1-3 the set,
	 * bit 4 zstd), then the receiver's answers.
	 */
	for (size_t i = 0; i < sizeof(two); i++)
		two[i] = sender_pattern(i);
	memcpy(small, two, sizeof(small));
	memcpy(df, two, sizeof(df));
	put_u8(0); /* small */
	s_file(key_zero, small, sizeof(small), 'w');
	emit(dir, "transfer_sender", "small");
	put_u8(0x11); /* small, confined, zstd: NEED at every level */
	s_file(key_zero, small, sizeof(small), 'n');
	emit(dir, "transfer_sender", "small-deep");
	put_u8(1); /* small, confined, already there */
	s_skip();
	emit(dir, "transfer_sender", "small-skip");
	put_u8(2); /* two: the receiver has every level-2 node */
	s_file(key_zero, two, sizeof(two), 'h');
	emit(dir, "transfer_sender", "two-have");
	put_u8(0x12); /* two, zstd: every level-2 node WHOLE */
	s_file(key_zero, two, sizeof(two), 'w');
	emit(dir, "transfer_sender", "two-whole");
	put_u8(0x13); /* two, confined, zstd: every state at every level */
	s_file(key_zero, two, sizeof(two), 'm');
	emit(dir, "transfer_sender", "two-mix");
	put_u8(4); /* d: d/f */
	s_file(key_zero, df, sizeof(df), 'n');
	emit(dir, "transfer_sender", "dir");
	put_u8(0x16); /* everything, zstd: empty, small, two, d/f (skipped), f */
	s_file(key_zero, NULL, 0, 'w');
	s_file(key_zero, small, sizeof(small), 'w');
	s_file(key_zero, two, sizeof(two), 'm');
	s_skip();
	s_file(key_zero, df, sizeof(df), 'h');
	emit(dir, "transfer_sender", "all");
	put_u8(8); /* up/secret: refused */
	emit(dir, "transfer_sender", "escape");

	/*
	 * Server (fuzz_key): the selector (bit 0 send-only, 1 get-only, 2
	 * dir=home, 3 zstd), then the client's messages.
	 */
	put_u8(0);
	m_request(1, "inbox");
	m_deep(key_server, 0);
	m_close();
	emit(dir, "server", "push");
	put_u8(0);
	m_request(1, "inbox");
	m_tree(key_server, 0);
	m_close();
	emit(dir, "server", "push-tree");
	put_u8(4);
	m_request(1, "");
	k.n = 0;
	r_text(&k, key_server, "h2.txt", 1, "more");
	m_finish(1, 4);
	m_close();
	emit(dir, "server", "push-home");
	put_u8(8);
	m_request(2, "pub/a.txt");
	s_file(key_server, (const uint8_t *)"a public file\n", 14, 'n');
	m_close();
	emit(dir, "server", "pull-file");
	put_u8(0);
	m_request(2, "pub");
	/* a.txt and sub/b.bin, in readdir order: one node each, so either answer fits. */
	s_file(key_server, (const uint8_t *)"a public file\n", 14, 'w');
	s_file(key_server, (const uint8_t *)"\x01\x02\x03", 3, 'w');
	m_close();
	emit(dir, "server", "pull-dir");
	put_u8(0);
	m_request(2, "up/secret");
	emit(dir, "server", "pull-escape");
	put_u8(1);
	m_request(2, "pub/a.txt");
	emit(dir, "server", "pull-send-only");
	put_u8(0);
	m_request(1, "up");
	k.n = 0;
	r_text(&k, key_server, "evil", 1, "x");
	m_finish(1, 1);
	emit(dir, "server", "push-escape");
	free(k.id);
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
