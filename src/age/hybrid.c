/* pqx: the age mlkem768x25519 recipient type: X-Wing (ML-KEM-768 + X25519) inside HPKE. */
#include <string.h>

#include <pqx/hpke.h>
#include <pqx/xwing.h>

#include "age/age_int.h"
#include "util/base64.h"
#include "util/util.h"

static const uint8_t hybrid_info[] = "age-encryption.org/mlkem768x25519";

#define HPKE_SUITE PQX_HPKE_KEM_XWING, PQX_HPKE_KDF_HKDF_SHA256, PQX_HPKE_AEAD_CHACHA20_POLY1305

static int hybrid_public_key(uint8_t *pub, const uint8_t secret[32])
{
	return pqx_xwing_public_key(pub, secret);
}

static int hybrid_wrap(const pqx_age_recipient *r, const uint8_t file_key[16],
    struct age_header *h)
{
	pqx_hpke_ctx ctx;
	uint8_t enc[PQX_XWING_CIPHERTEXT_BYTES], body[AGE_WRAPPED_KEY_BYTES];
	char arg[1500];
	const char *args[1] = { arg };
	int ret;

	if ((ret = pqx_hpke_setup_base_s(&ctx, enc, HPKE_SUITE, r->pub,
		 PQX_XWING_PUBLIC_KEY_BYTES, hybrid_info, sizeof(hybrid_info) - 1)) != 0 ||
	    (ret = pqx_hpke_seal(&ctx, body, NULL, 0, file_key, 16)) != 0)
		goto out;
	pqx_base64_encode(arg, enc, sizeof(enc), 0);
	ret = age_header_add(h, "mlkem768x25519", args, 1, body, sizeof(body));
out:
	pqx_hpke_ctx_wipe(&ctx);
	return ret;
}

static int hybrid_unwrap(const pqx_age_identity *id, const struct age_stanza *s,
    uint8_t file_key[16])
{
	pqx_hpke_ctx ctx;
	uint8_t enc[PQX_XWING_CIPHERTEXT_BYTES];
	int r;

	memset(&ctx, 0, sizeof(ctx));
	if (strcmp(s->type, "mlkem768x25519") != 0)
		return PQX_ERR_NO_MATCH;
	if (s->nargs != 1)
		return age_fail(PQX_ERR_HEADER,
		    "header: mlkem768x25519 stanza with %zu arguments", s->nargs);
	if (age_arg_decode(enc, sizeof(enc), s->args[0]) != 0)
		return age_fail(PQX_ERR_HEADER, "header: invalid mlkem768x25519 encapsulation");
	if (s->body_len != AGE_WRAPPED_KEY_BYTES)
		return age_fail(PQX_ERR_HEADER,
		    "header: mlkem768x25519 stanza body of wrong size");
	r = pqx_hpke_setup_base_r(&ctx, HPKE_SUITE, enc, sizeof(enc), id->secret, 32,
	    hybrid_info, sizeof(hybrid_info) - 1);
	if (r == PQX_ERR_INVALID_KEY) {
		r = age_fail(PQX_ERR_HEADER,
		    "header: mlkem768x25519 X25519 share is a low-order point");
		goto out;
	}
	if (r != 0)
		goto out;
	/* A wrong key shows here: implicit rejection made a different context. */
	if (pqx_hpke_open(&ctx, file_key, NULL, 0, s->body, s->body_len) != 0)
		r = PQX_ERR_NO_MATCH;
out:
	pqx_hpke_ctx_wipe(&ctx);
	return r;
}

const struct age_type pqx_age_hybrid_type = {
	.kind = PQX_AGE_MLKEM768X25519,
	.stanza = "mlkem768x25519",
	.recipient_hrp = "age1pq",
	.identity_hrp = "age-secret-key-pq-",
	.pub_bytes = PQX_XWING_PUBLIC_KEY_BYTES,
	.post_quantum = 1,
	.public_key = hybrid_public_key,
	.wrap = hybrid_wrap,
	.unwrap = hybrid_unwrap,
};
