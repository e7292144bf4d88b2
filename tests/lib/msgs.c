/* pqx tests: transfer messages in records, for test peers that write messages by hand. */
#include <stdlib.h>
#include <string.h>

#include "msgs.h"
#include "transfer/xfer_int.h"

int tmsg_send(pqx_channel *ch, const uint8_t *m, size_t n)
{
	uint8_t *rec = malloc(3 + n);
	size_t h;
	int r;

	if (rec == NULL || n == 0 || n > PQX_CHANNEL_MAX_RECORD - 3) {
		free(rec);
		return PQX_ERR_INVALID_ARG;
	}
	h = xfer_frame_put(rec, n);
	memcpy(rec + h, m, n);
	r = pqx_channel_send(ch, PQX_RECORD_DATA, rec, h + n);
	free(rec);
	return r;
}

int tmsg_recv(struct tmsg *t, pqx_channel *ch, const uint8_t **d, size_t *n)
{
	for (;;) {
		size_t m, h;

		if (xfer_frame_get(t->rec + t->off, t->len - t->off, &h, &m) != 0)
			return PQX_ERR_FORMAT;
		if (m != 0) {
			*d = t->rec + t->off + h;
			*n = m;
			t->off += h + m;
			return 0;
		}
		/* The rest is padding (or nothing): the next record. */
		{
			const uint8_t *rec;
			size_t len;
			int r = pqx_channel_recv(ch, &rec, &len);

			if (r != 0)
				return r;
			if (len < 2)
				return PQX_ERR_FORMAT;
			memcpy(t->rec, rec, len);
			t->len = len;
			t->off = 0;
		}
	}
}
