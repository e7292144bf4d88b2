/* pqx: K-PKE, the CPA-secure encryption inside ML-KEM (FIPS 203 Algorithms 13, 14, 15). */
#include <string.h>

#include <pqx/sha3.h>

#include "mlkem.h"
#include "util/util.h"

static void polyvec_ntt(polyvec *v, unsigned int k)
{
	for (unsigned int i = 0; i < k; i++)
		mlkem_poly_ntt(&v->v[i]);
}

/* K-PKE.KeyGen(d) (Algorithm 13): ek = t-hat || rho, dk_pke = s-hat. */
void mlkem_indcpa_keypair_derand(const struct mlkem_params *p, uint8_t *ek,
    uint8_t *dk_pke, const uint8_t d[MLKEM_SYMBYTES])
{
	const unsigned int k = p->k;
	uint8_t in[MLKEM_SYMBYTES + 1], rho_sigma[2 * MLKEM_SYMBYTES];
	const uint8_t *rho = rho_sigma, *sigma = rho_sigma + MLKEM_SYMBYTES;
	polyvec a[MLKEM_MAX_K], s, e, t;

	/* (rho, sigma) = G(d || k): the k byte separates the parameter sets. */
	memcpy(in, d, MLKEM_SYMBYTES);
	in[MLKEM_SYMBYTES] = (uint8_t)k;
	pqx_sha3_512(rho_sigma, in, sizeof(in));

	mlkem_gen_matrix(a, rho, 0, k);
	mlkem_polys_getnoise(s.v, k, sigma, 0, p->eta1);
	mlkem_polys_getnoise(e.v, k, sigma, (uint8_t)k, p->eta1);
	polyvec_ntt(&s, k);
	polyvec_ntt(&e, k);

	for (unsigned int i = 0; i < k; i++) {
		/* basemul leaves 2^-16; tomont puts it back before adding e-hat. */
		mlkem_poly_basemul_acc(&t.v[i], a[i].v, s.v, k);
		mlkem_poly_tomont(&t.v[i]);
		mlkem_poly_add(&t.v[i], &t.v[i], &e.v[i]);
		mlkem_poly_reduce(&t.v[i]);
	}
	for (unsigned int i = 0; i < k; i++) {
		mlkem_poly_tobytes(ek + i * MLKEM_POLYBYTES, &t.v[i]);
		mlkem_poly_tobytes(dk_pke + i * MLKEM_POLYBYTES, &s.v[i]);
	}
	memcpy(ek + k * MLKEM_POLYBYTES, rho, MLKEM_SYMBYTES);

	pqx_wipe(in, sizeof(in));
	pqx_wipe(rho_sigma, sizeof(rho_sigma));
	pqx_wipe(&s, sizeof(s));
	pqx_wipe(&e, sizeof(e));
	pqx_wipe(&t, sizeof(t)); /* t-hat = A s + e is public, but cheap to wipe */
}

/*
 * K-PKE.Encrypt(ek, m, r) (Algorithm 14). The caller has checked ek's
 * modulus, so its coefficients are below q.
 */
void mlkem_indcpa_enc(const struct mlkem_params *p, uint8_t *ct, const uint8_t *ek,
    const uint8_t m[MLKEM_SYMBYTES], const uint8_t r[MLKEM_SYMBYTES])
{
	const unsigned int k = p->k;
	const uint8_t *rho = ek + k * MLKEM_POLYBYTES;
	const size_t du_bytes = 32 * p->du;
	polyvec at[MLKEM_MAX_K], that, y, u;
	/* e1 (k polys) and e2 together: consecutive nonces, one batched call. */
	poly e[MLKEM_MAX_K + 1], v, mu;
	poly *e2 = &e[k];

	for (unsigned int i = 0; i < k; i++)
		mlkem_poly_frombytes(&that.v[i], ek + i * MLKEM_POLYBYTES);
	mlkem_gen_matrix(at, rho, 1, k);

	mlkem_polys_getnoise(y.v, k, r, 0, p->eta1);
	mlkem_polys_getnoise(e, k + 1, r, (uint8_t)k, 2);
	polyvec_ntt(&y, k);

	for (unsigned int i = 0; i < k; i++) {
		mlkem_poly_basemul_acc(&u.v[i], at[i].v, y.v, k);
		mlkem_poly_invntt_tomont(&u.v[i]);
		mlkem_poly_add(&u.v[i], &u.v[i], &e[i]);
		mlkem_poly_reduce(&u.v[i]);
	}
	mlkem_poly_basemul_acc(&v, that.v, y.v, k);
	mlkem_poly_invntt_tomont(&v);
	mlkem_poly_frommsg(&mu, m);
	mlkem_poly_add(&v, &v, e2);
	mlkem_poly_add(&v, &v, &mu);
	mlkem_poly_reduce(&v);

	for (unsigned int i = 0; i < k; i++)
		mlkem_poly_compress(ct + i * du_bytes, &u.v[i], p->du);
	mlkem_poly_compress(ct + k * du_bytes, &v, p->dv);

	pqx_wipe(&y, sizeof(y));
	pqx_wipe(e, sizeof(e));
	pqx_wipe(&mu, sizeof(mu));
	pqx_wipe(&u, sizeof(u));
	pqx_wipe(&v, sizeof(v));
}

/* K-PKE.Decrypt(dk_pke, c) (Algorithm 15). */
void mlkem_indcpa_dec(const struct mlkem_params *p, uint8_t m[MLKEM_SYMBYTES],
    const uint8_t *ct, const uint8_t *dk_pke)
{
	const unsigned int k = p->k;
	const size_t du_bytes = 32 * p->du;
	polyvec u, s;
	poly v, w;

	for (unsigned int i = 0; i < k; i++) {
		mlkem_poly_decompress(&u.v[i], ct + i * du_bytes, p->du);
		mlkem_poly_frombytes(&s.v[i], dk_pke + i * MLKEM_POLYBYTES);
	}
	mlkem_poly_decompress(&v, ct + k * du_bytes, p->dv);
	polyvec_ntt(&u, k);

	mlkem_poly_basemul_acc(&w, s.v, u.v, k);
	mlkem_poly_invntt_tomont(&w);
	mlkem_poly_sub(&w, &v, &w);
	mlkem_poly_reduce(&w);
	mlkem_poly_tomsg(m, &w);

	pqx_wipe(&s, sizeof(s));
	pqx_wipe(&w, sizeof(w));
	pqx_wipe(&u, sizeof(u));
	pqx_wipe(&v, sizeof(v));
}
