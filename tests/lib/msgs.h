/* pqx tests: transfer messages in records, for peers that write them by hand. */
#ifndef PQX_TEST_MSGS_H
#define PQX_TEST_MSGS_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/channel.h>

/*
 * A record's payload is messages, each length || bytes (1, 2 or 3 bytes
 * of length: 0xxxxxxx, 10xxxxxx x8, 11xxxxxx x16), then zero padding
 * (docs/PROTOCOL.md, "Messages"). A peer may put several messages
 * in one record: tmsg_recv keeps a copy of the record and hands them out
 * one at a time.
 */
struct tmsg {
	uint8_t rec[PQX_CHANNEL_MAX_RECORD];
	size_t len, off;
};

/* Sends the n bytes at m as a record holding that one message. */
int tmsg_send(pqx_channel *ch, const uint8_t *m, size_t n);
/*
 * The next message: *d its first byte (the kind), *n its length; a record
 * that breaks the framing gives PQX_ERR_FORMAT, other errors are the
 * channel's.
 */
int tmsg_recv(struct tmsg *t, pqx_channel *ch, const uint8_t **d, size_t *n);

#endif
