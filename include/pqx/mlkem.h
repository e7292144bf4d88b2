/* pqx: ML-KEM-512, ML-KEM-768 and ML-KEM-1024 (FIPS 203). */
#ifndef PQX_MLKEM_H
#define PQX_MLKEM_H

#include <pqx/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PQX_MLKEM_SEED_BYTES 32 /* d, z and m are each 32 bytes */
#define PQX_MLKEM_SS_BYTES 32

#define PQX_MLKEM512_EK_BYTES 800
#define PQX_MLKEM512_DK_BYTES 1632
#define PQX_MLKEM512_CT_BYTES 768
#define PQX_MLKEM768_EK_BYTES 1184
#define PQX_MLKEM768_DK_BYTES 2400
#define PQX_MLKEM768_CT_BYTES 1088
#define PQX_MLKEM1024_EK_BYTES 1568
#define PQX_MLKEM1024_DK_BYTES 3168
#define PQX_MLKEM1024_CT_BYTES 1568

/*
 * For each parameter set:
 *
 * _keypair_derand: ML-KEM.KeyGen_internal(d, z) (FIPS 203 Algorithm 16).
 * _keypair: the same with d and z from the CSPRNG (Algorithm 19).
 * _encaps_derand: ML-KEM.Encaps_internal(ek, m) (Algorithm 17), after the
 *   encapsulation key check of section 7.2 (every coefficient below q).
 * _encaps: the same with m from the CSPRNG (Algorithm 20).
 * _decaps: ML-KEM.Decaps (Algorithm 21) after the decapsulation key check of
 *   section 7.3 (the stored H(ek) matches). An invalid ciphertext is not an
 *   error: ss is then J(z || ct), the implicit rejection.
 *
 * All return 0, or PQX_ERR_INVALID_KEY for a key that fails its check, or
 * PQX_ERR_RANDOM if the CSPRNG failed; on error every output is zeroed.
 * Outputs may not overlap inputs. Timing does not depend on secret data.
 */
#define PQX_MLKEM_DECLARE(name, ekb, dkb, ctb)                                      \
	PQX_MUST_CHECK int pqx_##name##_keypair_derand(uint8_t ek[ekb], uint8_t dk[dkb], \
	    const uint8_t d[32], const uint8_t z[32]);                                  \
	PQX_MUST_CHECK int pqx_##name##_keypair(uint8_t ek[ekb], uint8_t dk[dkb]);       \
	PQX_MUST_CHECK int pqx_##name##_encaps_derand(uint8_t ct[ctb], uint8_t ss[32],   \
	    const uint8_t ek[ekb], const uint8_t m[32]);                                \
	PQX_MUST_CHECK int pqx_##name##_encaps(uint8_t ct[ctb], uint8_t ss[32],          \
	    const uint8_t ek[ekb]);                                                     \
	PQX_MUST_CHECK int pqx_##name##_decaps(uint8_t ss[32], const uint8_t ct[ctb],    \
	    const uint8_t dk[dkb]);

PQX_MLKEM_DECLARE(mlkem512, 800, 1632, 768)
PQX_MLKEM_DECLARE(mlkem768, 1184, 2400, 1088)
PQX_MLKEM_DECLARE(mlkem1024, 1568, 3168, 1568)

/*
 * Which implementation runs: "avx2" where the CPU has AVX2 and the library
 * was built with it, else "portable". pqx_mlkem_force_portable(1) pins the
 * portable code (tests and benchmarks run both); it is not thread-safe.
 */
const char *pqx_mlkem_impl(void);
void pqx_mlkem_force_portable(int on);

#ifdef __cplusplus
}
#endif
#endif
