/* pqx: X-Wing, the ML-KEM-768 + X25519 hybrid KEM (draft-connolly-cfrg-xwing-kem, HPKE KEM 0x647a). */
#ifndef PQX_XWING_H
#define PQX_XWING_H

#include <pqx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PQX_XWING_SEED_BYTES 32
#define PQX_XWING_PUBLIC_KEY_BYTES 1216 /* ML-KEM-768 ek || X25519 pk */
#define PQX_XWING_CIPHERTEXT_BYTES 1120 /* ML-KEM-768 ct || X25519 share */
#define PQX_XWING_ESEED_BYTES 64        /* m || X25519 ephemeral secret */
#define PQX_XWING_SS_BYTES 32

/*
 * The private key is the 32-byte seed; SHAKE256(seed, 96) expands it to the
 * ML-KEM-768 d and z and the X25519 secret. The shared secret is
 * SHA3-256(ss_M || ss_X || ct_X || pk_X || "\.//^\").
 *
 * Each returns 0, or PQX_ERR_INVALID_KEY (an ML-KEM key failing its check, or
 * an X25519 result of all zeros from a low-order point), or PQX_ERR_RANDOM;
 * on error every output is zeroed. An invalid ML-KEM ciphertext is not an
 * error (implicit rejection).
 *
 * Encapsulation runs FIPS 203's encapsulation key check on pk_M, as the draft
 * requires. Refusing an all-zero X25519 result (low-order pk_X or ct_X) goes
 * beyond the draft, which does not check; RFC 7748 section 6.1 allows it.
 * pqx_xwing_encaps_derand takes eseed = m || ek_X, for known-answer tests.
 * A failure inside libcrypto gives PQX_ERR_NOMEM or PQX_ERR_INTERNAL.
 */
PQX_MUST_CHECK int pqx_xwing_public_key(uint8_t pk[1216], const uint8_t seed[32]);
PQX_MUST_CHECK int pqx_xwing_keypair(uint8_t pk[1216], uint8_t seed[32]);
PQX_MUST_CHECK int pqx_xwing_encaps_derand(uint8_t ct[1120], uint8_t ss[32],
    const uint8_t pk[1216], const uint8_t eseed[64]);
PQX_MUST_CHECK int pqx_xwing_encaps(uint8_t ct[1120], uint8_t ss[32], const uint8_t pk[1216]);
PQX_MUST_CHECK int pqx_xwing_decaps(uint8_t ss[32], const uint8_t ct[1120], const uint8_t seed[32]);

/*
 * A decapsulation key expanded from its seed once (expandDecapsulationKey:
 * ML-KEM's decapsulation key, X25519's secret, and the public key), for a
 * party that uses it more than once: a server for every connection, a
 * handshake that needs its public key and then decapsulates. Secret: wipe
 * it with pqx_xwing_key_wipe.
 */
typedef struct {
	uint8_t dk_m[2400];
	uint8_t pk[PQX_XWING_PUBLIC_KEY_BYTES];
	uint8_t sk_x[32];
} pqx_xwing_key;
PQX_MUST_CHECK int pqx_xwing_key_expand(pqx_xwing_key *k, const uint8_t seed[32]);
/* Decapsulate with an expanded key: the same result as pqx_xwing_decaps with its seed. */
PQX_MUST_CHECK int pqx_xwing_decaps_key(uint8_t ss[32], const uint8_t ct[1120], const pqx_xwing_key *k);
void pqx_xwing_key_wipe(pqx_xwing_key *k);

#ifdef __cplusplus
}
#endif
#endif
