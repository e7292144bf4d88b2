/* pqx fuzz: identity and recipient files; every accepted key encodes back to a string that parses to it. */
#include "fuzz.h"

#include <pqx/age.h>

static void check_identity(pqx_age_identity *id)
{
	pqx_age_identity *again = NULL;
	char *s = NULL, *r1 = NULL, *r2 = NULL;

	if (pqx_age_identity_encode(&s, id) != 0 || pqx_age_identity_parse(&again, s) != 0 ||
	    pqx_age_identity_recipient(&r1, id) != 0 ||
	    pqx_age_identity_recipient(&r2, again) != 0 || strcmp(r1, r2) != 0) {
		fprintf(stderr, "identity does not round-trip\n");
		abort();
	}
	pqx_age_string_free(s);
	pqx_age_string_free(r1);
	pqx_age_string_free(r2);
	pqx_age_identity_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pqx_age_identity **ids = NULL;
	pqx_age_recipient **rs = NULL;
	size_t n = 0, m = 0, bad;

	if (pqx_age_identities_parse(&ids, &n, data, size, &bad) == 0)
		for (size_t i = 0; i < n; i++)
			check_identity(ids[i]);
	for (size_t i = 0; i < n; i++)
		pqx_age_identity_free(ids[i]);
	free(ids);
	(void)pqx_age_recipients_parse(&rs, &m, data, size, &bad);
	for (size_t i = 0; i < m; i++)
		pqx_age_recipient_free(rs[i]);
	free(rs);
	return 0;
}
