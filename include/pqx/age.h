/* pqx: the age v1 file format (C2SP age): recipients, identities, encrypt and decrypt. */
#ifndef PQX_AGE_H
#define PQX_AGE_H

#include <pqx/common.h>
#include <pqx/io.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes of the age layer, beside those in common.h. */
enum {
	PQX_ERR_NO_MATCH = -20,     /* no identity unwraps any recipient stanza */
	PQX_ERR_HEADER = -21,       /* the header is malformed or breaks a rule */
	PQX_ERR_ARMOR = -22,        /* the ASCII armor is malformed */
	PQX_ERR_WORK_FACTOR = -23,  /* an scrypt work factor above the limit */
	PQX_ERR_NO_PASSPHRASE = -24 /* a passphrase is needed and none was given */
};

#define PQX_AGE_CHUNK_BYTES 65536
#define PQX_AGE_FILE_KEY_BYTES 16
#define PQX_AGE_MAX_HEADER_BYTES (8u << 20)
#define PQX_AGE_MAX_LINE_BYTES (64u << 10)
#define PQX_AGE_MAX_STANZAS 4096
#define PQX_AGE_SCRYPT_DEFAULT_LOG_N 18
#define PQX_AGE_SCRYPT_MAX_LOG_N 22

/*
 * A recipient encrypts; an identity decrypts. Kinds: X25519 ("age1..."),
 * the post-quantum hybrid mlkem768x25519 ("age1pq1...", X-Wing inside
 * HPKE) and scrypt (a passphrase). Objects wipe their secrets when freed.
 */
typedef struct pqx_age_recipient pqx_age_recipient;
typedef struct pqx_age_identity pqx_age_identity;

enum pqx_age_kind {
	PQX_AGE_X25519 = 1,
	PQX_AGE_MLKEM768X25519 = 2,
	PQX_AGE_SCRYPT = 3,
};

/* Parses "age1..." or "age1pq1..."; PQX_ERR_FORMAT if it is neither. */
PQX_MUST_CHECK int pqx_age_recipient_parse(pqx_age_recipient **out, const char *s);
/* A passphrase recipient with work factor 2^log_n (0 means the default). */
PQX_MUST_CHECK int pqx_age_recipient_scrypt(pqx_age_recipient **out, const uint8_t *pass,
    size_t pass_len, unsigned int log_n);
void pqx_age_recipient_free(pqx_age_recipient *r);
enum pqx_age_kind pqx_age_recipient_kind(const pqx_age_recipient *r);

/* Parses "AGE-SECRET-KEY-1..." or "AGE-SECRET-KEY-PQ-1...". */
PQX_MUST_CHECK int pqx_age_identity_parse(pqx_age_identity **out, const char *s);
/* A new random identity of the kind (X25519 or MLKEM768X25519). */
PQX_MUST_CHECK int pqx_age_identity_generate(pqx_age_identity **out, enum pqx_age_kind kind);
/* A passphrase identity accepting work factors up to 2^max_log_n (0: default cap 22). */
PQX_MUST_CHECK int pqx_age_identity_scrypt(pqx_age_identity **out, const uint8_t *pass,
    size_t pass_len, unsigned int max_log_n);
/*
 * The same, asking get_pass for the passphrase only when a file turns out
 * to be passphrase-encrypted (the first scrypt stanza). get_pass returns 0
 * and a malloc'd passphrase (taken over and wiped by the identity), or an
 * error that decryption returns.
 */
PQX_MUST_CHECK int pqx_age_identity_scrypt_lazy(pqx_age_identity **out,
    int (*get_pass)(void *ctx, uint8_t **pass, size_t *len), void *ctx,
    unsigned int max_log_n);
void pqx_age_identity_free(pqx_age_identity *id);
enum pqx_age_kind pqx_age_identity_kind(const pqx_age_identity *id);
/* The identity's secret key string (*out malloc'd; free with pqx_age_string_free). */
PQX_MUST_CHECK int pqx_age_identity_encode(char **out, const pqx_age_identity *id);
/* The identity's recipient string ("age1..." / "age1pq1..."). */
PQX_MUST_CHECK int pqx_age_identity_recipient(char **out, const pqx_age_identity *id);
/* The 32-byte seed of a post-quantum identity (PQX_ERR_INVALID_ARG otherwise). */
PQX_MUST_CHECK int pqx_age_identity_seed(const pqx_age_identity *id, uint8_t seed[32]);
/* An identity's public key: *len bytes at the returned pointer (owned by id). */
const uint8_t *pqx_age_identity_key(const pqx_age_identity *id, size_t *len);
/* A recipient's public key: *len bytes at the returned pointer (owned by r). */
const uint8_t *pqx_age_recipient_key(const pqx_age_recipient *r, size_t *len);
/* The "age1pq1..." string of an X-Wing public key (*out as above). */
PQX_MUST_CHECK int pqx_age_pq_recipient_string(char **out, const uint8_t key[1216]);
/* Wipes and frees a string returned by this API. */
void pqx_age_string_free(char *s);

/*
 * Identity files: lines of identities, '#' comments and blank lines (as
 * age-keygen writes them). Recipients files: recipient lines, comments and
 * blank lines. The parse functions append to a growing array (*list,
 * *count); a bad line gives PQX_ERR_FORMAT and *bad_line its 1-based number.
 */
PQX_MUST_CHECK int pqx_age_identities_parse(pqx_age_identity ***list, size_t *count,
    const uint8_t *text, size_t len, size_t *bad_line);
PQX_MUST_CHECK int pqx_age_recipients_parse(pqx_age_recipient ***list, size_t *count,
    const uint8_t *text, size_t len, size_t *bad_line);

/* Options for a whole-stream operation. */
typedef struct {
	int armor;            /* encrypt: write ASCII armor; decrypt: require armor
	                         (0: detect binary or armored input) */
	unsigned int threads; /* worker threads; 0 means one per online CPU */
	/* Called now and then with the plaintext bytes done so far. */
	void (*progress)(void *ctx, uint64_t done);
	void *progress_ctx;
} pqx_age_options;

/*
 * Encrypts everything in to out for the n recipients. An scrypt recipient
 * must be the only one; mixing post-quantum and classic recipients is
 * refused (PQX_ERR_INVALID_ARG), since the file would be no safer than its
 * weakest recipient. Returns 0 or a PQX_ERR_* code; on error out holds a
 * prefix that must be discarded.
 */
PQX_MUST_CHECK int pqx_age_encrypt(pqx_age_recipient *const *rcpts, size_t n,
    pqx_reader *in, pqx_writer *out, const pqx_age_options *opt);

/*
 * Decrypts in (binary or armored) with the first identity that unwraps a
 * stanza. Only authenticated plaintext reaches out, in order; on a payload
 * error out has received exactly the chunks that authenticated before it.
 * Errors: PQX_ERR_HEADER, PQX_ERR_UNSUPPORTED (version), PQX_ERR_ARMOR,
 * PQX_ERR_NO_MATCH, PQX_ERR_WORK_FACTOR, PQX_ERR_AUTH (header MAC or a
 * payload chunk), PQX_ERR_TRUNCATED (the payload ends before its final
 * chunk), PQX_ERR_TRAILING (data after the final chunk), PQX_ERR_IO.
 */
PQX_MUST_CHECK int pqx_age_decrypt(pqx_age_identity *const *ids, size_t n,
    pqx_reader *in, pqx_writer *out, const pqx_age_options *opt);

/*
 * A short, non-secret description of the last age error in this thread
 * (for example "header: stanza body line longer than 64 columns"), or "".
 */
const char *pqx_age_error_detail(void);

#ifdef __cplusplus
}
#endif
#endif
