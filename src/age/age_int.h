/* pqx: age format internals: stanzas, the header, recipient types and the STREAM payload. */
#ifndef PQX_AGE_INT_H
#define PQX_AGE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/age.h>
#include <pqx/io.h>
#include <pqx/xwing.h>

#include "util/buf.h"

#define AGE_INTRO "age-encryption.org/v1\n"
#define AGE_MAC_BYTES 32
#define AGE_NONCE_BYTES 16
#define AGE_TAG_BYTES 16
#define AGE_ENC_CHUNK_BYTES (PQX_AGE_CHUNK_BYTES + AGE_TAG_BYTES)
#define AGE_WRAPPED_KEY_BYTES (PQX_AGE_FILE_KEY_BYTES + AGE_TAG_BYTES)

/* One recipient stanza: "-> type args...\n" and a base64 body. */
struct age_stanza {
	char *type;
	char **args; /* the arguments after the type */
	size_t nargs;
	uint8_t *body;
	size_t body_len;
};

struct age_header {
	struct age_stanza *stanzas;
	size_t n, cap;
	uint8_t mac[AGE_MAC_BYTES];
};

/* Header (header.c). */
void age_header_free(struct age_header *h);
/* Appends a stanza with a copy of type, args and body. */
PQX_MUST_CHECK int age_header_add(struct age_header *h, const char *type,
    const char *const *args, size_t nargs, const uint8_t *body, size_t body_len);
/*
 * Strict, canonical parse of a whole header (intro through the MAC line,
 * nothing after it). PQX_ERR_HEADER or PQX_ERR_UNSUPPORTED with a detail.
 * *mac_len receives the length of the MAC'd prefix (through "---").
 */
PQX_MUST_CHECK int age_header_parse(struct age_header *h, const uint8_t *p, size_t n,
    size_t *mac_len);
/* Canonical encoding; with_mac adds " <mac>\n" after "---". */
PQX_MUST_CHECK int age_header_encode(const struct age_header *h, pqx_buf *out,
    int with_mac);
/* Reads header lines from r into raw, through the first "---" line. */
PQX_MUST_CHECK int age_header_read(pqx_breader *r, pqx_buf *raw);
/* HMAC-SHA256 under HKDF(file_key, "header") over the MAC'd prefix. */
PQX_MUST_CHECK int age_header_mac(uint8_t mac[AGE_MAC_BYTES],
    const uint8_t file_key[PQX_AGE_FILE_KEY_BYTES], const uint8_t *p, size_t n);

/*
 * A recipient type: one row of the registry (recipient.c), one file each.
 * unwrap returns 0 with the file key, PQX_ERR_NO_MATCH if the stanza is
 * not for this identity, or another error for a malformed stanza, which
 * stops decryption (a header failure, as age does).
 */
struct age_type {
	enum pqx_age_kind kind;
	const char *stanza;        /* stanza type */
	const char *recipient_hrp; /* bech32 prefix of recipients, or NULL */
	const char *identity_hrp;  /* bech32 prefix of identities (lower case), or NULL */
	size_t pub_bytes;
	int post_quantum;
	int (*public_key)(uint8_t *pub, const uint8_t secret[32]);
	int (*wrap)(const pqx_age_recipient *r, const uint8_t file_key[16],
	    struct age_header *h);
	int (*unwrap)(const pqx_age_identity *id, const struct age_stanza *s,
	    uint8_t file_key[16]);
};

struct pqx_age_recipient {
	const struct age_type *type;
	uint8_t pub[PQX_XWING_PUBLIC_KEY_BYTES];
	uint8_t *pass; /* scrypt */
	size_t pass_len;
	unsigned int log_n;
};

struct pqx_age_identity {
	const struct age_type *type;
	uint8_t secret[32];
	uint8_t pub[PQX_XWING_PUBLIC_KEY_BYTES];
	uint8_t *pass; /* scrypt */
	size_t pass_len;
	unsigned int max_log_n;
	int (*get_pass)(void *ctx, uint8_t **pass, size_t *len); /* lazy scrypt */
	void *get_pass_ctx;
};

extern const struct age_type pqx_age_x25519_type, pqx_age_hybrid_type,
    pqx_age_scrypt_type;

/* Shared by the types: decode one base64 argument of exactly n bytes. */
PQX_MUST_CHECK int age_arg_decode(uint8_t *out, size_t n, const char *arg);
/* ChaCha20-Poly1305 with a zero nonce, as every age type wraps the file key. */
PQX_MUST_CHECK int age_wrap_key(uint8_t body[AGE_WRAPPED_KEY_BYTES],
    const uint8_t key[32], const uint8_t file_key[16]);
PQX_MUST_CHECK int age_unwrap_key(uint8_t file_key[16], const uint8_t key[32],
    const struct age_stanza *s);

/* The STREAM payload (stream.c), from after the nonce to the end. */
PQX_MUST_CHECK int age_stream_encrypt(const uint8_t key[32], pqx_reader *in,
    pqx_writer *out, const pqx_age_options *opt);
PQX_MUST_CHECK int age_stream_decrypt(const uint8_t key[32], pqx_reader *in,
    pqx_writer *out, const pqx_age_options *opt);

/* Records a non-secret detail for pqx_age_error_detail and returns err. */
int age_fail(int err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
