/* pqx: the age X25519 recipient type (classic; C2SP age, "X25519" stanzas). */
#include <string.h>

#include "age/age_int.h"
#include "crypto/ossl.h"
#include "util/base64.h"
#include "util/util.h"

static const uint8_t x25519_label[] = "age-encryption.org/v1/X25519";

/* wrap_key = HKDF-SHA256(ikm = shared, salt = share || recipient, info = label) */
static int x25519_wrap_key(uint8_t key[32], const uint8_t shared[32],
    const uint8_t share[32], const uint8_t recipient[32])
{
	uint8_t salt[64];

	memcpy(salt, share, 32);
	memcpy(salt + 32, recipient, 32);
	return pqx_hkdf_sha256(key, 32, salt, sizeof(salt), shared, 32, x25519_label,
	    sizeof(x25519_label) - 1);
}

static int x25519_public_key(uint8_t *pub, const uint8_t secret[32])
{
	return pqx_x25519_base(pub, secret);
}

static int x25519_wrap(const pqx_age_recipient *r, const uint8_t file_key[16],
    struct age_header *h)
{
	uint8_t eph[32], share[32], shared[32], key[32], body[AGE_WRAPPED_KEY_BYTES];
	char arg[45];
	const char *args[1] = { arg };
	int ret;

	if ((ret = pqx_randombytes(eph, sizeof(eph))) != 0 ||
	    (ret = pqx_x25519_base(share, eph)) != 0 ||
	    (ret = pqx_x25519(shared, eph, r->pub)) != 0 ||
	    (ret = x25519_wrap_key(key, shared, share, r->pub)) != 0 ||
	    (ret = age_wrap_key(body, key, file_key)) != 0)
		goto out;
	pqx_base64_encode(arg, share, sizeof(share), 0);
	ret = age_header_add(h, "X25519", args, 1, body, sizeof(body));
out:
	pqx_wipe(eph, sizeof(eph));
	pqx_wipe(shared, sizeof(shared));
	pqx_wipe(key, sizeof(key));
	return ret;
}

static int x25519_unwrap(const pqx_age_identity *id, const struct age_stanza *s,
    uint8_t file_key[16])
{
	uint8_t share[32], shared[32], key[32];
	int r;

	if (strcmp(s->type, "X25519") != 0)
		return PQX_ERR_NO_MATCH;
	if (s->nargs != 1)
		return age_fail(PQX_ERR_HEADER, "header: X25519 stanza with %zu arguments",
		    s->nargs);
	if (age_arg_decode(share, sizeof(share), s->args[0]) != 0)
		return age_fail(PQX_ERR_HEADER, "header: invalid X25519 share");
	if (s->body_len != AGE_WRAPPED_KEY_BYTES)
		return age_fail(PQX_ERR_HEADER, "header: X25519 stanza body of wrong size");
	r = pqx_x25519(shared, id->secret, share);
	if (r == PQX_ERR_INVALID_KEY) {
		r = age_fail(PQX_ERR_HEADER, "header: X25519 share is a low-order point");
		goto out;
	}
	if (r != 0 || (r = x25519_wrap_key(key, shared, share, id->pub)) != 0)
		goto out;
	r = age_unwrap_key(file_key, key, s);
out:
	pqx_wipe(shared, sizeof(shared));
	pqx_wipe(key, sizeof(key));
	return r;
}

const struct age_type pqx_age_x25519_type = {
	.kind = PQX_AGE_X25519,
	.stanza = "X25519",
	.recipient_hrp = "age",
	.identity_hrp = "age-secret-key-",
	.pub_bytes = 32,
	.post_quantum = 0,
	.public_key = x25519_public_key,
	.wrap = x25519_wrap,
	.unwrap = x25519_unwrap,
};
