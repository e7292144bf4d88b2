/* pqx: the registry of age recipient types, key strings, and recipient/identity objects. */
#include <ctype.h>
#include <string.h>

#include "age/age_int.h"
#include "age/bech32.h"
#include "crypto/ossl.h"
#include "util/base64.h"
#include "util/util.h"

/* The types with key strings, tried in order when parsing a key. */
static const struct age_type *const age_key_types[] = {
	&pqx_age_x25519_type,
	&pqx_age_hybrid_type,
};
#define N_KEY_TYPES (sizeof(age_key_types) / sizeof(age_key_types[0]))

int age_arg_decode(uint8_t *out, size_t n, const char *arg)
{
	size_t len = strlen(arg), got;
	uint8_t tmp[PQX_XWING_CIPHERTEXT_BYTES + 3];

	/* Only the exact encoded length of n bytes can decode to n bytes. */
	if (len != pqx_base64_encoded_len(n, 0) || n > PQX_XWING_CIPHERTEXT_BYTES ||
	    pqx_base64_decode(tmp, &got, arg, len, 0) != 0 || got != n)
		return PQX_ERR_FORMAT;
	memcpy(out, tmp, n);
	return 0;
}

int age_wrap_key(uint8_t body[AGE_WRAPPED_KEY_BYTES], const uint8_t key[32],
    const uint8_t file_key[16])
{
	static const uint8_t zero_nonce[PQX_AEAD_NONCE_BYTES];

	return pqx_aead_seal_once(PQX_AEAD_CHACHA20_POLY1305, key, body, zero_nonce, NULL, 0,
	    file_key, PQX_AGE_FILE_KEY_BYTES);
}

int age_unwrap_key(uint8_t file_key[16], const uint8_t key[32], const struct age_stanza *s)
{
	static const uint8_t zero_nonce[PQX_AEAD_NONCE_BYTES];
	int r;

	r = pqx_aead_open_once(PQX_AEAD_CHACHA20_POLY1305, key, file_key, zero_nonce, NULL, 0,
	    s->body, s->body_len);
	return r == PQX_ERR_AUTH ? PQX_ERR_NO_MATCH : r;
}

void pqx_age_string_free(char *s)
{
	if (s != NULL)
		pqx_free_wipe(s, strlen(s) + 1);
}

void pqx_age_recipient_free(pqx_age_recipient *r)
{
	if (r == NULL)
		return;
	pqx_free_wipe(r->pass, r->pass_len);
	pqx_free_wipe(r, sizeof(*r));
}

void pqx_age_identity_free(pqx_age_identity *id)
{
	if (id == NULL)
		return;
	pqx_free_wipe(id->pass, id->pass_len);
	pqx_free_wipe(id, sizeof(*id));
}

enum pqx_age_kind pqx_age_recipient_kind(const pqx_age_recipient *r)
{
	return r->type->kind;
}

enum pqx_age_kind pqx_age_identity_kind(const pqx_age_identity *id)
{
	return id->type->kind;
}

int pqx_age_recipient_parse(pqx_age_recipient **out, const char *s)
{
	pqx_age_recipient *r = NULL;
	char *hrp = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret = PQX_ERR_FORMAT;

	*out = NULL;
	/* Recipients are lower case (identities are the upper-case ones). */
	for (const char *p = s; *p != '\0'; p++)
		if (isupper((unsigned char)*p))
			return age_fail(PQX_ERR_FORMAT, "recipient: must be lower case");
	if ((ret = pqx_bech32_decode(&hrp, &data, &len, s, strlen(s))) != 0) {
		ret = age_fail(PQX_ERR_FORMAT, "recipient: not a valid bech32 string");
		goto out;
	}
	ret = age_fail(PQX_ERR_FORMAT, "recipient: unknown type \"%.20s\"", hrp);
	for (size_t i = 0; i < N_KEY_TYPES; i++) {
		const struct age_type *t = age_key_types[i];

		if (strcmp(hrp, t->recipient_hrp) != 0)
			continue;
		if (len != t->pub_bytes) {
			ret = age_fail(PQX_ERR_FORMAT, "recipient: wrong key length");
			goto out;
		}
		if ((r = pqx_calloc(1, sizeof(*r))) == NULL) {
			ret = PQX_ERR_NOMEM;
			goto out;
		}
		r->type = t;
		memcpy(r->pub, data, len);
		*out = r;
		ret = 0;
		break;
	}
out:
	pqx_free(hrp);
	pqx_free(data);
	return ret;
}

int pqx_age_recipient_scrypt(pqx_age_recipient **out, const uint8_t *pass, size_t pass_len,
    unsigned int log_n)
{
	pqx_age_recipient *r;

	*out = NULL;
	if (log_n == 0)
		log_n = PQX_AGE_SCRYPT_DEFAULT_LOG_N;
	if (log_n > 30)
		return PQX_ERR_INVALID_ARG;
	if ((r = pqx_calloc(1, sizeof(*r))) == NULL ||
	    (r->pass = pqx_malloc(pass_len)) == NULL) {
		pqx_free(r);
		return PQX_ERR_NOMEM;
	}
	memcpy(r->pass, pass, pass_len);
	r->pass_len = pass_len;
	r->log_n = log_n;
	r->type = &pqx_age_scrypt_type;
	*out = r;
	return 0;
}

static int identity_new(pqx_age_identity **out, const struct age_type *t,
    const uint8_t secret[32])
{
	pqx_age_identity *id;
	int r;

	if ((id = pqx_calloc(1, sizeof(*id))) == NULL)
		return PQX_ERR_NOMEM;
	id->type = t;
	memcpy(id->secret, secret, 32);
	if ((r = t->public_key(id->pub, secret)) != 0) {
		pqx_age_identity_free(id);
		return r;
	}
	*out = id;
	return 0;
}

int pqx_age_identity_parse(pqx_age_identity **out, const char *s)
{
	char *hrp = NULL;
	uint8_t *data = NULL;
	size_t len = 0, slen = strlen(s);
	int ret;

	*out = NULL;
	/* Identities are upper case; the bech32 decoder runs in constant time. */
	for (size_t i = 0; i < slen; i++)
		if (islower((unsigned char)s[i]))
			return age_fail(PQX_ERR_FORMAT, "identity: must be upper case");
	if (pqx_bech32_decode(&hrp, &data, &len, s, slen) != 0) {
		ret = age_fail(PQX_ERR_FORMAT, "identity: not a valid secret key string");
		goto out;
	}
	ret = age_fail(PQX_ERR_FORMAT, "identity: unknown secret key type");
	for (size_t i = 0; i < N_KEY_TYPES; i++) {
		const struct age_type *t = age_key_types[i];

		if (strcmp(hrp, t->identity_hrp) != 0)
			continue;
		ret = len != 32 ? age_fail(PQX_ERR_FORMAT, "identity: wrong key length")
				: identity_new(out, t, data);
		break;
	}
out:
	pqx_free(hrp);
	if (data != NULL)
		pqx_free_wipe(data, len);
	return ret;
}

int pqx_age_identity_generate(pqx_age_identity **out, enum pqx_age_kind kind)
{
	uint8_t secret[32];
	const struct age_type *t = NULL;
	int r;

	*out = NULL;
	for (size_t i = 0; i < N_KEY_TYPES; i++)
		if (age_key_types[i]->kind == kind)
			t = age_key_types[i];
	if (t == NULL)
		return PQX_ERR_INVALID_ARG;
	if ((r = pqx_randombytes(secret, sizeof(secret))) == 0)
		r = identity_new(out, t, secret);
	pqx_wipe(secret, sizeof(secret));
	return r;
}

int pqx_age_identity_scrypt(pqx_age_identity **out, const uint8_t *pass, size_t pass_len,
    unsigned int max_log_n)
{
	pqx_age_identity *id;

	*out = NULL;
	if ((id = pqx_calloc(1, sizeof(*id))) == NULL ||
	    (id->pass = pqx_malloc(pass_len)) == NULL) {
		pqx_free(id);
		return PQX_ERR_NOMEM;
	}
	memcpy(id->pass, pass, pass_len);
	id->pass_len = pass_len;
	id->max_log_n = max_log_n ? max_log_n : PQX_AGE_SCRYPT_MAX_LOG_N;
	id->type = &pqx_age_scrypt_type;
	*out = id;
	return 0;
}

int pqx_age_identity_scrypt_lazy(pqx_age_identity **out,
    int (*get_pass)(void *ctx, uint8_t **pass, size_t *len), void *ctx,
    unsigned int max_log_n)
{
	pqx_age_identity *id;

	*out = NULL;
	if ((id = pqx_calloc(1, sizeof(*id))) == NULL)
		return PQX_ERR_NOMEM;
	id->get_pass = get_pass;
	id->get_pass_ctx = ctx;
	id->max_log_n = max_log_n ? max_log_n : PQX_AGE_SCRYPT_MAX_LOG_N;
	id->type = &pqx_age_scrypt_type;
	*out = id;
	return 0;
}

int pqx_age_identity_encode(char **out, const pqx_age_identity *id)
{
	*out = NULL;
	if (id->type->identity_hrp == NULL)
		return PQX_ERR_INVALID_ARG;
	return pqx_bech32_encode(out, id->type->identity_hrp, id->secret, 32, 1);
}

int pqx_age_identity_recipient(char **out, const pqx_age_identity *id)
{
	*out = NULL;
	if (id->type->recipient_hrp == NULL)
		return PQX_ERR_INVALID_ARG;
	return pqx_bech32_encode(out, id->type->recipient_hrp, id->pub, id->type->pub_bytes, 0);
}

/* Splits text into lines, skipping blank lines and '#' comments; calls fn on each. */
static int for_each_key_line(const uint8_t *text, size_t len, size_t *bad_line,
    int (*fn)(void *ctx, const char *line), void *ctx)
{
	size_t start = 0, lineno = 0;
	char *line = NULL;
	int r = 0;

	*bad_line = 0;
	while (start < len) {
		size_t end = start, n;

		while (end < len && text[end] != '\n')
			end++;
		n = end - start;
		lineno++;
		if (n > 0 && text[start + n - 1] == '\r')
			n--;
		if (n > 0 && text[start] != '#') {
			if ((line = pqx_malloc(n + 1)) == NULL)
				return PQX_ERR_NOMEM;
			memcpy(line, text + start, n);
			line[n] = '\0';
			/* Trailing and leading blanks are tolerated, as age does. */
			r = fn(ctx, line);
			pqx_free_wipe(line, n + 1);
			if (r != 0) {
				*bad_line = lineno;
				return r;
			}
		}
		start = end + 1;
	}
	return 0;
}

struct list_ctx {
	void ***list;
	size_t *count;
	int identities;
};

static int add_key(void *vctx, const char *line)
{
	struct list_ctx *c = vctx;
	void *obj = NULL, **nl;
	int r;

	while (*line == ' ' || *line == '\t')
		line++;
	if (c->identities)
		r = pqx_age_identity_parse((pqx_age_identity **)&obj, line);
	else
		r = pqx_age_recipient_parse((pqx_age_recipient **)&obj, line);
	if (r != 0)
		return r;
	if ((nl = pqx_calloc(*c->count + 1, sizeof(void *))) == NULL) {
		if (c->identities)
			pqx_age_identity_free(obj);
		else
			pqx_age_recipient_free(obj);
		return PQX_ERR_NOMEM;
	}
	if (*c->count > 0)
		memcpy(nl, *c->list, *c->count * sizeof(void *));
	nl[(*c->count)++] = obj;
	pqx_free(*c->list);
	*c->list = nl;
	return 0;
}

int pqx_age_identities_parse(pqx_age_identity ***list, size_t *count, const uint8_t *text,
    size_t len, size_t *bad_line)
{
	struct list_ctx c = { (void ***)list, count, 1 };

	return for_each_key_line(text, len, bad_line, add_key, &c);
}

int pqx_age_recipients_parse(pqx_age_recipient ***list, size_t *count,
    const uint8_t *text, size_t len, size_t *bad_line)
{
	struct list_ctx c = { (void ***)list, count, 0 };

	return for_each_key_line(text, len, bad_line, add_key, &c);
}

int pqx_age_identity_seed(const pqx_age_identity *id, uint8_t seed[32])
{
	if (id->type->kind != PQX_AGE_MLKEM768X25519)
		return PQX_ERR_INVALID_ARG;
	memcpy(seed, id->secret, 32);
	return 0;
}

const uint8_t *pqx_age_identity_key(const pqx_age_identity *id, size_t *len)
{
	*len = id->type->pub_bytes;
	return id->pub;
}

const uint8_t *pqx_age_recipient_key(const pqx_age_recipient *r, size_t *len)
{
	*len = r->type->pub_bytes;
	return r->pub;
}

int pqx_age_pq_recipient_string(char **out, const uint8_t key[1216])
{
	return pqx_bech32_encode(out, pqx_age_hybrid_type.recipient_hrp, key,
	    pqx_age_hybrid_type.pub_bytes, 0);
}
