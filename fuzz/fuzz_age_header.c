/* pqx fuzz: the age header parser; an accepted header must encode back to exactly its input. */
#include "fuzz.h"

#include "age/age_int.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct age_header h;
	pqx_buf *out;
	size_t mac_len;

	if (age_header_parse(&h, data, size, &mac_len) != 0)
		return 0;
	/* Parsing is strict and canonical: one encoding per header. */
	if ((out = pqx_buf_new(PQX_AGE_MAX_HEADER_BYTES)) == NULL ||
	    age_header_encode(&h, out, 1) != 0) {
		fprintf(stderr, "accepted header failed to encode\n");
		abort();
	}
	if (pqx_buf_len(out) != size || memcmp(pqx_buf_ptr(out), data, size) != 0 ||
	    mac_len > size || memcmp(data + mac_len - 3, "---", 3) != 0) {
		fprintf(stderr, "parse-then-encode differs from the input\n");
		abort();
	}
	pqx_buf_free(out);
	age_header_free(&h);
	return 0;
}
