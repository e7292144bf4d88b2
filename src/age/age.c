/* pqx: age encryption and decryption of whole streams: header, recipients, payload, armor. */
#include <string.h>

#include "age/age_int.h"
#include "age/armor.h"
#include "crypto/ossl.h"
#include "util/util.h"

/* payload_key = HKDF-SHA256(ikm = file_key, salt = nonce, info = "payload") */
static int payload_key(uint8_t key[32], const uint8_t file_key[16],
    const uint8_t nonce[AGE_NONCE_BYTES])
{
	static const uint8_t info[] = "payload";

	return pqx_hkdf_sha256(key, 32, nonce, AGE_NONCE_BYTES, file_key, 16, info,
	    sizeof(info) - 1);
}

static int check_recipients(pqx_age_recipient *const *rcpts, size_t n)
{
	int pq = 0, classic = 0;

	if (n == 0)
		return age_fail(PQX_ERR_INVALID_ARG, "no recipients");
	for (size_t i = 0; i < n; i++) {
		if (rcpts[i]->type->kind == PQX_AGE_SCRYPT && n > 1)
			return age_fail(PQX_ERR_INVALID_ARG,
			    "a passphrase can't be combined with other recipients");
		if (rcpts[i]->type->post_quantum)
			pq = 1;
		else if (rcpts[i]->type->kind != PQX_AGE_SCRYPT)
			classic = 1;
	}
	/* One classic recipient would make the whole file no safer than X25519. */
	if (pq && classic)
		return age_fail(PQX_ERR_INVALID_ARG,
		    "post-quantum and classic (X25519) recipients can't be mixed");
	return 0;
}

int pqx_age_encrypt(pqx_age_recipient *const *rcpts, size_t n, pqx_reader *in,
    pqx_writer *out, const pqx_age_options *opt)
{
	struct age_header h;
	pqx_buf *hdr = NULL;
	pqx_armor_writer *aw = NULL;
	pqx_writer w = *out;
	uint8_t file_key[16], nonce[AGE_NONCE_BYTES], key[32];
	int r;

	memset(&h, 0, sizeof(h));
	if ((r = check_recipients(rcpts, n)) != 0)
		return r;
	if ((r = pqx_randombytes(file_key, sizeof(file_key))) != 0 ||
	    (r = pqx_randombytes(nonce, sizeof(nonce))) != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((r = rcpts[i]->type->wrap(rcpts[i], file_key, &h)) != 0)
			goto out;
	if ((hdr = pqx_buf_new(PQX_AGE_MAX_HEADER_BYTES)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if ((r = age_header_encode(&h, hdr, 0)) != 0 ||
	    (r = age_header_mac(h.mac, file_key, pqx_buf_ptr(hdr), pqx_buf_len(hdr))) != 0)
		goto out;
	pqx_buf_reset(hdr);
	if ((r = age_header_encode(&h, hdr, 1)) != 0 ||
	    (r = payload_key(key, file_key, nonce)) != 0)
		goto out;
	if (opt != NULL && opt->armor) {
		if ((aw = pqx_armor_writer_new(out)) == NULL) {
			r = PQX_ERR_NOMEM;
			goto out;
		}
		pqx_armor_writer_as_writer(aw, &w);
	}
	if ((r = w.write(w.ctx, pqx_buf_ptr(hdr), pqx_buf_len(hdr))) != 0 ||
	    (r = w.write(w.ctx, nonce, sizeof(nonce))) != 0 ||
	    (r = age_stream_encrypt(key, in, &w, opt)) != 0)
		goto out;
	if (aw != NULL && (r = pqx_armor_writer_finish(aw)) != 0)
		goto out;
	r = 0;
out:
	pqx_armor_writer_free(aw);
	pqx_buf_free(hdr);
	age_header_free(&h);
	pqx_wipe(file_key, sizeof(file_key));
	pqx_wipe(key, sizeof(key));
	return r;
}

/* Finds the file key: the first identity that unwraps any stanza. */
static int unwrap_file_key(pqx_age_identity *const *ids, size_t n,
    const struct age_header *h, uint8_t file_key[16])
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->stanzas[i].type, "scrypt") == 0 && h->n != 1)
			return age_fail(PQX_ERR_HEADER,
			    "header: an scrypt stanza must be the only one");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < h->n; j++) {
			int r = ids[i]->type->unwrap(ids[i], &h->stanzas[j], file_key);

			if (r != PQX_ERR_NO_MATCH)
				return r;
		}
	return age_fail(PQX_ERR_NO_MATCH, "no identity matched any of the recipients");
}



/*
 * Binary age files start with "age-"; anything starting with dashes after
 * whitespace is taken as armor, so that a damaged armor line is reported
 * as an armor failure, not as a strange header.
 */
static int looks_armored(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return n - i >= 5 && memcmp(p + i, "-----", 5) == 0;
}

int pqx_age_decrypt(pqx_age_identity *const *ids, size_t n, pqx_reader *in,
    pqx_writer *out, const pqx_age_options *opt)
{
	struct age_header h;
	pqx_breader *br = NULL, *hbr = NULL;
	pqx_armor_reader *ar = NULL;
	pqx_buf *raw = NULL;
	pqx_reader r0, rarm, payload;
	const uint8_t *peek;
	uint8_t file_key[16], mac[AGE_MAC_BYTES], nonce[AGE_NONCE_BYTES], key[32];
	size_t avail, mac_len = 0, got;
	int r;

	memset(&h, 0, sizeof(h));
	if ((br = pqx_breader_new(in, PQX_AGE_MAX_LINE_BYTES)) == NULL ||
	    (raw = pqx_buf_new(PQX_AGE_MAX_HEADER_BYTES)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	pqx_breader_as_reader(br, &r0);
	if ((r = pqx_breader_peek(br, PQX_ARMOR_PEEK_BYTES, &peek, &avail)) != 0)
		goto out;
	hbr = br;
	if ((opt != NULL && opt->armor) || looks_armored(peek, avail)) {
		if ((ar = pqx_armor_reader_new(&r0)) == NULL) {
			r = PQX_ERR_NOMEM;
			goto out;
		}
		pqx_armor_reader_as_reader(ar, &rarm);
		if ((hbr = pqx_breader_new(&rarm, PQX_AGE_MAX_LINE_BYTES)) == NULL) {
			r = PQX_ERR_NOMEM;
			goto out;
		}
	}
	if ((r = age_header_read(hbr, raw)) != 0 ||
	    (r = age_header_parse(&h, pqx_buf_ptr(raw), pqx_buf_len(raw), &mac_len)) != 0 ||
	    (r = unwrap_file_key(ids, n, &h, file_key)) != 0)
		goto armor_check;
	if ((r = age_header_mac(mac, file_key, pqx_buf_ptr(raw), mac_len)) != 0)
		goto out;
	if (!pqx_ct_memeq(mac, h.mac, sizeof(mac))) {
		r = age_fail(PQX_ERR_AUTH, "header: the MAC does not match (the file was modified)");
		goto out;
	}
	pqx_breader_as_reader(hbr, &payload);
	if ((r = pqx_read_full(&payload, nonce, sizeof(nonce), &got)) != 0)
		goto armor_check;
	if (got < sizeof(nonce)) {
		r = age_fail(PQX_ERR_HEADER, "header: the payload nonce is missing or short");
		goto out;
	}
	if ((r = payload_key(key, file_key, nonce)) != 0)
		goto out;
	r = age_stream_decrypt(key, &payload, out, opt);
armor_check:
	/* A malformed armor surfaces as a format error of the armor reader. */
	if (ar != NULL && r == PQX_ERR_FORMAT && strncmp(pqx_age_error_detail(), "payload", 7) != 0)
		r = age_fail(PQX_ERR_ARMOR, "armor: malformed ASCII armor");
out:
	if (hbr != br)
		pqx_breader_free(hbr);
	pqx_armor_reader_free(ar);
	pqx_breader_free(br);
	pqx_buf_free(raw);
	age_header_free(&h);
	pqx_wipe(file_key, sizeof(file_key));
	pqx_wipe(key, sizeof(key));
	return r;
}
