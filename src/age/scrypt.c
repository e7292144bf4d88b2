/* pqx: the age scrypt recipient type (passphrases; must be the only stanza). */
#include <stdio.h>
#include <string.h>

#include "age/age_int.h"
#include "crypto/ossl.h"
#include "util/base64.h"
#include "util/util.h"

static const uint8_t scrypt_label[] = "age-encryption.org/v1/scrypt";

#define SCRYPT_SALT_BYTES 16

static int scrypt_key(uint8_t key[32], const uint8_t *pass, size_t pass_len,
    const uint8_t salt[SCRYPT_SALT_BYTES], unsigned int log_n)
{
	uint8_t s[sizeof(scrypt_label) - 1 + SCRYPT_SALT_BYTES];

	memcpy(s, scrypt_label, sizeof(scrypt_label) - 1);
	memcpy(s + sizeof(scrypt_label) - 1, salt, SCRYPT_SALT_BYTES);
	return pqx_scrypt(key, 32, pass, pass_len, s, sizeof(s), log_n, 8, 1);
}

static int scrypt_wrap(const pqx_age_recipient *r, const uint8_t file_key[16],
    struct age_header *h)
{
	uint8_t salt[SCRYPT_SALT_BYTES], key[32], body[AGE_WRAPPED_KEY_BYTES];
	char salt_arg[32], n_arg[8];
	const char *args[2] = { salt_arg, n_arg };
	int ret;

	if ((ret = pqx_randombytes(salt, sizeof(salt))) != 0 ||
	    (ret = scrypt_key(key, r->pass, r->pass_len, salt, r->log_n)) != 0 ||
	    (ret = age_wrap_key(body, key, file_key)) != 0)
		goto out;
	pqx_base64_encode(salt_arg, salt, sizeof(salt), 0);
	snprintf(n_arg, sizeof(n_arg), "%u", r->log_n);
	ret = age_header_add(h, "scrypt", args, 2, body, sizeof(body));
out:
	pqx_wipe(key, sizeof(key));
	return ret;
}

/* The work factor is decimal with no sign and no leading zero. */
static int parse_log_n(const char *s, unsigned int *log_n)
{
	unsigned int v = 0;
	size_t i;

	if (s[0] < '1' || s[0] > '9')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 2)
			return -1;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	*log_n = v;
	return 0;
}

static int scrypt_unwrap(const pqx_age_identity *id, const struct age_stanza *s,
    uint8_t file_key[16])
{
	uint8_t salt[SCRYPT_SALT_BYTES], key[32];
	unsigned int log_n;
	int r;

	if (strcmp(s->type, "scrypt") != 0)
		return PQX_ERR_NO_MATCH;
	if (s->nargs != 2)
		return age_fail(PQX_ERR_HEADER, "header: scrypt stanza with %zu arguments",
		    s->nargs);
	if (age_arg_decode(salt, sizeof(salt), s->args[0]) != 0)
		return age_fail(PQX_ERR_HEADER, "header: invalid scrypt salt");
	if (parse_log_n(s->args[1], &log_n) != 0)
		return age_fail(PQX_ERR_HEADER, "header: invalid scrypt work factor");
	if (log_n > id->max_log_n)
		return age_fail(PQX_ERR_WORK_FACTOR,
		    "header: scrypt work factor 2^%u is above the limit 2^%u", log_n,
		    id->max_log_n);
	if (s->body_len != AGE_WRAPPED_KEY_BYTES)
		return age_fail(PQX_ERR_HEADER, "header: scrypt stanza body of wrong size");
	if (id->pass == NULL) {
		/* A lazy identity asks for its passphrase now, once. */
		pqx_age_identity *mid = (pqx_age_identity *)(uintptr_t)id;

		if (id->get_pass == NULL)
			return age_fail(PQX_ERR_NO_PASSPHRASE, "no passphrase");
		if ((r = id->get_pass(id->get_pass_ctx, &mid->pass, &mid->pass_len)) != 0)
			return r;
	}
	if ((r = scrypt_key(key, id->pass, id->pass_len, salt, log_n)) == 0)
		r = age_unwrap_key(file_key, key, s);
	pqx_wipe(key, sizeof(key));
	return r;
}

const struct age_type pqx_age_scrypt_type = {
	.kind = PQX_AGE_SCRYPT,
	.stanza = "scrypt",
	.recipient_hrp = NULL,
	.identity_hrp = NULL,
	.pub_bytes = 0,
	.post_quantum = 0,
	.public_key = NULL,
	.wrap = scrypt_wrap,
	.unwrap = scrypt_unwrap,
};
