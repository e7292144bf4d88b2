/* pqx ct: Bech32 encoding and decoding of secret keys, with the key marked undefined, so valgrind flags any branch or index on it. */
#include <string.h>

#include "ct.h"

/*
 * Built here with PQX_CTGRIND, so that the decoder's verdicts (the one
 * thing about the data that may be known: valid or not) are declassified
 * where bech32.c says so, and everything else it computes from the secret
 * characters stays checked. The library's own bech32.o is not linked: this
 * object defines its symbols first.
 */
#define PQX_CTGRIND 1
#include "../../src/age/bech32.c"

/* An age identity's 32 secret bytes, encoded in upper case and decoded back. */
static void test_identity(void)
{
	unsigned long before = ct_errors();

	for (int run = 0; run < 20; run++) {
		uint8_t key[32], *data = NULL;
		char *s = NULL, *hrp = NULL;
		size_t len = 0, slen;
		int r;

		t_rand(key, sizeof(key));
		SECRET(key, sizeof(key));
		r = pqx_bech32_encode(&s, "AGE-SECRET-KEY-", key, sizeof(key), 1);
		CHECK(r == 0, "encode: %d", r);
		if (r != 0)
			break;
		slen = 15 + 1 + (sizeof(key) * 8 + 4) / 5 + 6; /* public: strlen would branch on the characters */
		r = pqx_bech32_decode(&hrp, &data, &len, s, slen);
		CHECK(r == 0 && len == sizeof(key), "decode: %d", r);
		if (r == 0) {
			PUBLIC(data, len);
			PUBLIC(key, sizeof(key));
			CHECK(memcmp(data, key, sizeof(key)) == 0, "round trip");
		}
		/* A corrupted secret string: refused, on the verdict alone. */
		s[slen - 10] = s[slen - 10] == 'Q' ? 'P' : 'Q';
		pqx_free(hrp);
		pqx_free_wipe(data, len);
		hrp = NULL, data = NULL;
		r = pqx_bech32_decode(&hrp, &data, &len, s, slen);
		CHECK(r == PQX_ERR_FORMAT, "a corrupted string decoded: %d", r);
		pqx_free_wipe(s, slen + 1);
		pqx_free(hrp);
		pqx_free_wipe(data, len);
	}
	ct_errors_check(before);
}

int main(void)
{
	if (!RUNNING_ON_VALGRIND)
		printf("# not under valgrind: this only checks results, not timing\n");
	t_run("ct bech32: a secret key encoded and decoded", test_identity);
	return t_done();
}
