/* pqx: error codes, secret wiping and the conventions every public function follows. */
#ifndef PQX_COMMON_H
#define PQX_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PQX_MUST_CHECK __attribute__((warn_unused_result))
#else
#define PQX_MUST_CHECK
#endif

/*
 * Conventions.
 * - Functions that can fail return 0 on success or a negative PQX_ERR_* code.
 * - On failure, fixed-size outputs (keys, shared secrets, ciphertexts) are
 *   zeroed, so a caller that ignores the code never uses a half-made secret.
 * - Every authentication failure (AEAD tag, MAC, confirmation) is the single
 *   code PQX_ERR_AUTH: no error tells an attacker which check failed.
 * - An invalid ML-KEM or X-Wing ciphertext is not an error: decapsulation
 *   returns a pseudo-random shared secret (implicit rejection).
 */
enum {
	PQX_OK = 0,
	PQX_ERR_INTERNAL = -1,     /* a bug or an unexpected library failure */
	PQX_ERR_NOMEM = -2,        /* allocation failed */
	PQX_ERR_RANDOM = -3,       /* the random generator failed */
	PQX_ERR_INVALID_ARG = -4,  /* a caller passed an impossible argument */
	PQX_ERR_INVALID_KEY = -5,  /* a key failed its validity check */
	PQX_ERR_AUTH = -6,         /* authentication failed */
	PQX_ERR_FORMAT = -7,       /* malformed or non-canonical input */
	PQX_ERR_TRUNCATED = -8,    /* input ended early */
	PQX_ERR_TRAILING = -9,     /* unexpected data after the end */
	PQX_ERR_LIMIT = -10,       /* a size or count limit was exceeded */
	PQX_ERR_IO = -11,          /* a read or write failed (errno is kept) */
	PQX_ERR_UNSUPPORTED = -12, /* a version, type or suite we do not implement */
};

/* Returns a static, human-readable description of a PQX_ERR_* code. */
const char *pqx_strerror(int err);

/* Overwrites n bytes at p with zeros in a way the compiler cannot elide. */
void pqx_wipe(void *p, size_t n);

/* Fills out with n bytes from the operating system's CSPRNG. */
PQX_MUST_CHECK int pqx_randombytes(uint8_t *out, size_t n);

/* The library version, "MAJOR.MINOR.PATCH". */
const char *pqx_version(void);

#ifdef __cplusplus
}
#endif
#endif
