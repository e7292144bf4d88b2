/* pqx: HPKE base mode (RFC 9180) over post-quantum KEMs (draft-ietf-hpke-pq): setup, seal, open, export. */
#include <string.h>

#include <pqx/hpke.h>
#include <pqx/xwing.h>

#include "crypto/ossl.h"
#include "util/util.h"

#define HPKE_MODE_BASE 0x00
#define HPKE_SUITE_ID_BYTES 10 /* "HPKE" || kem_id || kdf_id || aead_id */
#define HPKE_MAX_SECRET 32     /* the largest KEM shared secret */
#define HPKE_MAX_NH 32         /* the largest KDF output; the ctx holds 32 */
#define HPKE_MAX_ESEED 64      /* the largest encapsulation randomness */
#define HPKE_MAX_NN 12

/* Every row's sizes must fit the fixed buffers above and in pqx_hpke_ctx. */
_Static_assert(PQX_XWING_SS_BYTES <= HPKE_MAX_SECRET, "KEM shared secret too long");
_Static_assert(PQX_XWING_ESEED_BYTES <= HPKE_MAX_ESEED, "KEM randomness too long");
_Static_assert(PQX_XWING_CIPHERTEXT_BYTES <= PQX_HPKE_MAX_ENC, "KEM enc too long");
_Static_assert(PQX_SHA256_BYTES <= HPKE_MAX_NH, "KDF output too long");

static const uint8_t hpke_version[7] = { 'H', 'P', 'K', 'E', '-', 'v', '1' };

/*
 * A KEM as HPKE sees it. encap is the KEM's deterministic encapsulation,
 * fed nseed bytes of randomness; a real encapsulation draws them from the
 * CSPRNG, so adding a KEM is adding a row.
 */
struct hpke_kem {
	uint16_t id;
	size_t nsecret, nenc, npk, nsk, nseed;
	int (*encap)(uint8_t *enc, uint8_t *ss, const uint8_t *pk, const uint8_t *seed);
	int (*decap)(uint8_t *ss, const uint8_t *enc, const uint8_t *sk);
};

struct hpke_kdf {
	uint16_t id;
	size_t nh;
	int (*extract)(uint8_t *prk, const uint8_t *salt, size_t salt_len,
	    const uint8_t *ikm, size_t ikm_len);
	int (*expand)(uint8_t *out, size_t out_len, const uint8_t *prk,
	    const uint8_t *info, size_t info_len);
};

/* alg 0 with nk = nn = 0 is the export-only AEAD: no seal, no open. */
struct hpke_aead {
	uint16_t id;
	size_t nk, nn;
	int alg;
};

static const struct hpke_kem hpke_kems[] = {
	/* draft-ietf-hpke-pq: X-Wing is the HPKE KEM as it is; enc is its ciphertext. */
	{ PQX_HPKE_KEM_XWING, PQX_XWING_SS_BYTES, PQX_XWING_CIPHERTEXT_BYTES,
	    PQX_XWING_PUBLIC_KEY_BYTES, PQX_XWING_SEED_BYTES, PQX_XWING_ESEED_BYTES,
	    pqx_xwing_encaps_derand, pqx_xwing_decaps },
};

static const struct hpke_kdf hpke_kdfs[] = {
	{ PQX_HPKE_KDF_HKDF_SHA256, PQX_SHA256_BYTES, pqx_hkdf_sha256_extract,
	    pqx_hkdf_sha256_expand },
};

static const struct hpke_aead hpke_aeads[] = {
	{ PQX_HPKE_AEAD_AES_256_GCM, 32, 12, PQX_AEAD_AES_256_GCM },
	{ PQX_HPKE_AEAD_CHACHA20_POLY1305, 32, 12, PQX_AEAD_CHACHA20_POLY1305 },
	{ PQX_HPKE_AEAD_EXPORT_ONLY, 0, 0, 0 },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct hpke_kem *kem_find(uint16_t id)
{
	for (size_t i = 0; i < NELEM(hpke_kems); i++)
		if (hpke_kems[i].id == id)
			return &hpke_kems[i];
	return NULL;
}

static const struct hpke_kdf *kdf_find(uint16_t id)
{
	for (size_t i = 0; i < NELEM(hpke_kdfs); i++)
		if (hpke_kdfs[i].id == id)
			return &hpke_kdfs[i];
	return NULL;
}

static const struct hpke_aead *aead_find(uint16_t id)
{
	for (size_t i = 0; i < NELEM(hpke_aeads); i++)
		if (hpke_aeads[i].id == id)
			return &hpke_aeads[i];
	return NULL;
}

/* One ciphersuite and its suite_id, the domain separator of every label. */
struct hpke_suite {
	const struct hpke_kem *kem;
	const struct hpke_kdf *kdf;
	const struct hpke_aead *aead;
	uint8_t id[HPKE_SUITE_ID_BYTES];
};

static int suite_init(struct hpke_suite *s, uint16_t kem_id, uint16_t kdf_id,
    uint16_t aead_id)
{
	if ((s->kem = kem_find(kem_id)) == NULL || (s->kdf = kdf_find(kdf_id)) == NULL ||
	    (s->aead = aead_find(aead_id)) == NULL)
		return PQX_ERR_UNSUPPORTED;
	memcpy(s->id, "HPKE", 4);
	pqx_store16_be(s->id + 4, kem_id);
	pqx_store16_be(s->id + 6, kdf_id);
	pqx_store16_be(s->id + 8, aead_id);
	return 0;
}

size_t pqx_hpke_enc_bytes(uint16_t kem_id)
{
	const struct hpke_kem *kem = kem_find(kem_id);

	return kem == NULL ? 0 : kem->nenc;
}

size_t pqx_hpke_pk_bytes(uint16_t kem_id)
{
	const struct hpke_kem *kem = kem_find(kem_id);

	return kem == NULL ? 0 : kem->npk;
}

size_t pqx_hpke_sk_bytes(uint16_t kem_id)
{
	const struct hpke_kem *kem = kem_find(kem_id);

	return kem == NULL ? 0 : kem->nsk;
}

/* Writes "HPKE-v1" || suite_id || label at p; returns the end. */
static uint8_t *put_label(uint8_t *p, const struct hpke_suite *s, const char *label,
    size_t label_len)
{
	memcpy(p, hpke_version, sizeof(hpke_version));
	p += sizeof(hpke_version);
	memcpy(p, s->id, sizeof(s->id));
	p += sizeof(s->id);
	memcpy(p, label, label_len);
	return p + label_len;
}

/* LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm). */
static int labeled_extract(const struct hpke_suite *s, uint8_t *prk, const uint8_t *salt,
    size_t salt_len, const char *label, const uint8_t *ikm, size_t ikm_len)
{
	size_t label_len = strlen(label);
	size_t n = sizeof(hpke_version) + sizeof(s->id) + label_len + ikm_len;
	uint8_t *buf = NULL, *p;
	int r = PQX_ERR_INTERNAL;

	/* Callers cap ikm at PQX_HPKE_MAX_INFO, so n cannot overflow. */
	if ((buf = pqx_malloc(n)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	p = put_label(buf, s, label, label_len);
	if (ikm_len > 0)
		memcpy(p, ikm, ikm_len);
	r = s->kdf->extract(prk, salt, salt_len, buf, n);
out:
	if (r != 0)
		pqx_wipe(prk, s->kdf->nh);
	pqx_free_wipe(buf, n);
	return r;
}

/*
 * LabeledExpand(prk, label, info, L) =
 * Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L).
 */
static int labeled_expand(const struct hpke_suite *s, uint8_t *out, size_t out_len,
    const uint8_t *prk, const char *label, const uint8_t *info, size_t info_len)
{
	size_t label_len = strlen(label);
	size_t n = 2 + sizeof(hpke_version) + sizeof(s->id) + label_len + info_len;
	uint8_t *buf = NULL, *p;
	int r = PQX_ERR_INTERNAL;

	if (out_len == 0 || out_len > 255 * s->kdf->nh) {
		r = PQX_ERR_INVALID_ARG;
		goto out;
	}
	if ((buf = pqx_malloc(n)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	pqx_store16_be(buf, (uint16_t)out_len);
	p = put_label(buf + 2, s, label, label_len);
	if (info_len > 0)
		memcpy(p, info, info_len);
	r = s->kdf->expand(out, out_len, prk, buf, n);
out:
	if (r != 0)
		pqx_wipe(out, out_len);
	pqx_free_wipe(buf, n);
	return r;
}

/* KeySchedule (RFC 9180 section 5.1) for mode_base: no PSK, empty psk_id. */
static int key_schedule(pqx_hpke_ctx *ctx, const struct hpke_suite *s,
    const uint8_t *shared_secret, const uint8_t *info, size_t info_len)
{
	uint8_t ksc[1 + 2 * HPKE_MAX_NH], secret[HPKE_MAX_NH];
	const size_t nh = s->kdf->nh, ksc_len = 1 + 2 * nh;
	int r = PQX_ERR_INTERNAL;

	ksc[0] = HPKE_MODE_BASE;
	if ((r = labeled_extract(s, ksc + 1, NULL, 0, "psk_id_hash", NULL, 0)) != 0 ||
	    (r = labeled_extract(s, ksc + 1 + nh, NULL, 0, "info_hash", info, info_len)) != 0)
		goto out;
	if ((r = labeled_extract(s, secret, shared_secret, s->kem->nsecret, "secret",
	    NULL, 0)) != 0)
		goto out;
	/* The export-only AEAD has Nk = Nn = 0: nothing to derive for it. */
	if (s->aead->nk > 0 &&
	    ((r = labeled_expand(s, ctx->key, s->aead->nk, secret, "key", ksc, ksc_len)) != 0 ||
	    (r = labeled_expand(s, ctx->base_nonce, s->aead->nn, secret, "base_nonce", ksc,
	    ksc_len)) != 0))
		goto out;
	if ((r = labeled_expand(s, ctx->exporter_secret, nh, secret, "exp", ksc,
	    ksc_len)) != 0)
		goto out;
	ctx->kem_id = pqx_load16_be(s->id + 4);
	ctx->kdf_id = pqx_load16_be(s->id + 6);
	ctx->aead_id = pqx_load16_be(s->id + 8);
	ctx->seq = 0;
	ctx->nk = s->aead->nk;
	ctx->nn = s->aead->nn;
	ctx->nh = nh;
	r = 0;
out:
	pqx_wipe(ksc, sizeof(ksc)); /* not secret, but cheap */
	pqx_wipe(secret, sizeof(secret));
	return r;
}

int pqx_hpke_setup_base_s_derand(pqx_hpke_ctx *ctx, uint8_t *enc, uint16_t kem_id,
    uint16_t kdf_id, uint16_t aead_id, const uint8_t *pk, size_t pk_len,
    const uint8_t *info, size_t info_len, const uint8_t *eseed, size_t eseed_len)
{
	struct hpke_suite s;
	uint8_t ss[HPKE_MAX_SECRET];
	int r = PQX_ERR_INTERNAL;

	memset(&s, 0, sizeof(s));
	pqx_wipe(ctx, sizeof(*ctx));
	if ((r = suite_init(&s, kem_id, kdf_id, aead_id)) != 0)
		goto out;
	if (pk_len != s.kem->npk || eseed_len != s.kem->nseed ||
	    (info == NULL && info_len > 0)) {
		r = PQX_ERR_INVALID_ARG;
		goto out;
	}
	if (info_len > PQX_HPKE_MAX_INFO) {
		r = PQX_ERR_LIMIT;
		goto out;
	}
	if ((r = s.kem->encap(enc, ss, pk, eseed)) != 0)
		goto out;
	if ((r = key_schedule(ctx, &s, ss, info, info_len)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		pqx_wipe(ctx, sizeof(*ctx));
		/* An unknown KEM has no known enc size: there is nothing to zero. */
		if (s.kem != NULL)
			memset(enc, 0, s.kem->nenc);
	}
	pqx_wipe(ss, sizeof(ss));
	return r;
}

int pqx_hpke_setup_base_s(pqx_hpke_ctx *ctx, uint8_t *enc, uint16_t kem_id,
    uint16_t kdf_id, uint16_t aead_id, const uint8_t *pk, size_t pk_len,
    const uint8_t *info, size_t info_len)
{
	const struct hpke_kem *kem = kem_find(kem_id);
	uint8_t eseed[HPKE_MAX_ESEED];
	int r = PQX_ERR_INTERNAL;

	pqx_wipe(ctx, sizeof(*ctx));
	if (kem == NULL) {
		r = PQX_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = pqx_randombytes(eseed, kem->nseed)) != 0)
		goto out;
	r = pqx_hpke_setup_base_s_derand(ctx, enc, kem_id, kdf_id, aead_id, pk, pk_len,
	    info, info_len, eseed, kem->nseed);
out:
	if (r != 0 && kem != NULL)
		memset(enc, 0, kem->nenc);
	pqx_wipe(eseed, sizeof(eseed));
	return r;
}

int pqx_hpke_setup_base_r(pqx_hpke_ctx *ctx, uint16_t kem_id, uint16_t kdf_id,
    uint16_t aead_id, const uint8_t *enc, size_t enc_len, const uint8_t *sk, size_t sk_len,
    const uint8_t *info, size_t info_len)
{
	struct hpke_suite s;
	uint8_t ss[HPKE_MAX_SECRET];
	int r = PQX_ERR_INTERNAL;

	pqx_wipe(ctx, sizeof(*ctx));
	if ((r = suite_init(&s, kem_id, kdf_id, aead_id)) != 0)
		goto out;
	if (enc_len != s.kem->nenc || sk_len != s.kem->nsk || (info == NULL && info_len > 0)) {
		r = PQX_ERR_INVALID_ARG;
		goto out;
	}
	if (info_len > PQX_HPKE_MAX_INFO) {
		r = PQX_ERR_LIMIT;
		goto out;
	}
	if ((r = s.kem->decap(ss, enc, sk)) != 0)
		goto out;
	if ((r = key_schedule(ctx, &s, ss, info, info_len)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		pqx_wipe(ctx, sizeof(*ctx));
	pqx_wipe(ss, sizeof(ss));
	return r;
}

/*
 * The checks seal and open share: a sealing AEAD, an aad within the cap, and
 * a sequence number that has not run out. RFC 9180 refuses at
 * 2^(8*Nn) - 1; our counter is 64 bits, so it refuses at 2^64 - 1.
 */
static int aead_prepare(const pqx_hpke_ctx *ctx, const struct hpke_aead **aeadp,
    uint8_t nonce[HPKE_MAX_NN], size_t aad_len)
{
	const struct hpke_aead *aead = aead_find(ctx->aead_id);
	uint8_t seq[HPKE_MAX_NN];

	if (aead == NULL || aead->nk == 0)
		return PQX_ERR_UNSUPPORTED;
	if (aad_len > PQX_HPKE_MAX_INFO || ctx->seq == UINT64_MAX)
		return PQX_ERR_LIMIT;
	/* nonce = base_nonce XOR I2OSP(seq, Nn); every sealing AEAD has Nn = 12. */
	memset(seq, 0, sizeof(seq));
	pqx_store64_be(seq + aead->nn - 8, ctx->seq);
	for (size_t i = 0; i < aead->nn; i++)
		nonce[i] = (uint8_t)(ctx->base_nonce[i] ^ seq[i]);
	*aeadp = aead;
	return 0;
}

int pqx_hpke_seal(pqx_hpke_ctx *ctx, uint8_t *ct, const uint8_t *aad, size_t aad_len,
    const uint8_t *pt, size_t pt_len)
{
	const struct hpke_aead *aead = NULL;
	uint8_t nonce[HPKE_MAX_NN];
	int r = PQX_ERR_INTERNAL;

	/* Too long to have a ciphertext length: leave ct alone. */
	if (pt_len > SIZE_MAX - PQX_HPKE_TAG_BYTES)
		return PQX_ERR_INVALID_ARG;
	if ((r = aead_prepare(ctx, &aead, nonce, aad_len)) != 0)
		goto out;
	if ((r = pqx_aead_seal_once((enum pqx_aead_alg)aead->alg, ctx->key, ct, nonce, aad,
	    aad_len, pt, pt_len)) != 0)
		goto out;
	ctx->seq++;
	r = 0;
out:
	if (r != 0)
		memset(ct, 0, pt_len + PQX_HPKE_TAG_BYTES);
	pqx_wipe(nonce, sizeof(nonce));
	return r;
}

int pqx_hpke_open(pqx_hpke_ctx *ctx, uint8_t *pt, const uint8_t *aad, size_t aad_len,
    const uint8_t *ct, size_t ct_len)
{
	const struct hpke_aead *aead = NULL;
	uint8_t nonce[HPKE_MAX_NN];
	int r = PQX_ERR_INTERNAL;

	/* Shorter than a tag: no plaintext length, nothing to zero. */
	if (ct_len < PQX_HPKE_TAG_BYTES)
		return PQX_ERR_AUTH;
	if ((r = aead_prepare(ctx, &aead, nonce, aad_len)) != 0)
		goto out;
	if ((r = pqx_aead_open_once((enum pqx_aead_alg)aead->alg, ctx->key, pt, nonce, aad,
	    aad_len, ct, ct_len)) != 0)
		goto out;
	/* Only a verified message advances seq, so a forgery cannot desynchronise us. */
	ctx->seq++;
	r = 0;
out:
	if (r != 0)
		pqx_wipe(pt, ct_len - PQX_HPKE_TAG_BYTES);
	pqx_wipe(nonce, sizeof(nonce));
	return r;
}

/* Export (RFC 9180 section 5.3): LabeledExpand(exporter_secret, "sec", context, L). */
int pqx_hpke_export(const pqx_hpke_ctx *ctx, uint8_t *out, size_t out_len,
    const uint8_t *exporter_context, size_t context_len)
{
	struct hpke_suite s;
	int r = PQX_ERR_INTERNAL;

	if ((r = suite_init(&s, ctx->kem_id, ctx->kdf_id, ctx->aead_id)) != 0)
		goto out;
	if (out_len == 0 || out_len > 255 * s.kdf->nh ||
	    (exporter_context == NULL && context_len > 0)) {
		r = PQX_ERR_INVALID_ARG;
		goto out;
	}
	if (context_len > PQX_HPKE_MAX_INFO) {
		r = PQX_ERR_LIMIT;
		goto out;
	}
	r = labeled_expand(&s, out, out_len, ctx->exporter_secret, "sec", exporter_context,
	    context_len);
out:
	if (r != 0)
		pqx_wipe(out, out_len);
	return r;
}

void pqx_hpke_ctx_wipe(pqx_hpke_ctx *ctx)
{
	if (ctx != NULL)
		pqx_wipe(ctx, sizeof(*ctx));
}
