/* pqx: the post-quantum secure channel: a KEM-only, Noise-IK-shaped handshake and AEAD records. */
#ifndef PQX_CHANNEL_H
#define PQX_CHANNEL_H

#include <pqx/common.h>
#include <pqx/xwing.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes of the channel layer, beside those in common.h. */
enum {
	PQX_ERR_PEER_KEY = -30,     /* the server's key is not the pinned one */
	PQX_ERR_REFUSED = -31,      /* the server does not authorize this client */
	PQX_ERR_TIMEOUT = -32,      /* the peer was silent too long */
	PQX_ERR_CLOSED = -33,       /* the peer closed the channel cleanly */
	PQX_ERR_PEER_ERROR = -34,   /* the peer sent an error record */
	PQX_ERR_CHANGED = -35,      /* a file changed while it was being sent */
};

#define PQX_CHANNEL_MAX_RECORD ((1u << 20) + 256) /* payload bytes per record */
#define PQX_CHANNEL_REKEY_INTERVAL 65536  /* records per key and direction */

enum pqx_channel_cipher {
	PQX_CHANNEL_CHACHA20_POLY1305 = 1,
	PQX_CHANNEL_AES_256_GCM = 2,
};

enum pqx_record_type {
	PQX_RECORD_DATA = 0,
	PQX_RECORD_CLOSE = 1,
	PQX_RECORD_ERROR = 2,
};

/*
 * The byte transport under a channel. read fills exactly n bytes or fails
 * (PQX_ERR_TRUNCATED at end of stream, PQX_ERR_TIMEOUT, PQX_ERR_IO); write
 * sends all n bytes or fails. ready (may be NULL: never) says whether a
 * read would find bytes without waiting (1) or not (0).
 */
typedef struct {
	int (*read)(void *ctx, uint8_t *buf, size_t n);
	int (*write)(void *ctx, const uint8_t *buf, size_t n);
	void *ctx;
	int (*ready)(void *ctx);
} pqx_channel_io;

/*
 * A transport over a connected socket, with a per-read/write timeout. A
 * write that has to wait reads what the peer sends meanwhile (up to
 * PQX_SOCKET_STASH_MAX bytes, 8 MiB), for the next reads: two ends that both write
 * ahead of what they read can't block each other. Zero it, set fd and the
 * limits; pqx_socket_io_release frees what it kept.
 */
typedef struct {
	int fd;
	int timeout_ms;       /* each read or write; 0: none */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC milliseconds for everything; 0: none */
	uint64_t bytes_in, bytes_out;
	int more;       /* the next write may wait for the one after it (MSG_MORE): both leave together */
	uint8_t *stash; /* read while a write waited, not yet taken */
	size_t stash_off, stash_len, stash_cap;
	int stash_eof;
} pqx_socket_io;
#define PQX_SOCKET_STASH_MAX (8u << 20)
void pqx_socket_io_release(pqx_socket_io *s);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
uint64_t pqx_now_ms(void);
void pqx_channel_io_socket(pqx_channel_io *io, pqx_socket_io *s);

typedef struct {
	/* Client: decides on the server's key (message 0); returns 0 to go on
	 * or an error (PQX_ERR_PEER_KEY) to stop. Without server_key it runs
	 * before anything is sent; with it, only for a key that differs (and
	 * the handshake stops whatever it returns). */
	int (*check_server)(void *ctx, const uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES]);
	/* Client: the server's key when it is pinned in advance, or NULL.
	 * Message 1 then goes out without waiting for message 0 (one round
	 * trip less); a message 0 with another key ends the handshake with
	 * PQX_ERR_PEER_KEY, after check_server (if set) has seen that key. */
	const uint8_t *server_key;
	/* Server: 0 if the (not yet proven) client key is authorized, else an
	 * error; the channel then refuses with an authenticated message 2. */
	int (*authorize)(void *ctx, const uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES]);
	void *ctx;
	/* Record ciphers (0-terminated). Server: in its order of preference;
	 * NULL: measured (pqx_channel_default_ciphers). Client: those it offers
	 * (the server picks); NULL: AES-256-GCM where the CPU has AES
	 * instructions, and ChaCha20-Poly1305. */
	const uint8_t *ciphers;
	/* Randomness for known-answer tests; NULL: the CSPRNG. */
	int (*random)(void *ctx, uint8_t *out, size_t n);
	void *random_ctx;
	/* The static key already expanded from seed (pqx_xwing_key_expand: a
	 * server's, once for all its connections); NULL: expanded here. */
	const pqx_xwing_key *key;
} pqx_channel_opts;

typedef struct pqx_channel pqx_channel;

/*
 * Runs the client or server handshake of docs/PROTOCOL.md over io with the
 * static identity seed. On success *out is an open channel (free it with
 * pqx_channel_free). Errors: PQX_ERR_PEER_KEY (from check_server),
 * PQX_ERR_REFUSED (the server said not authorized, which is also how it
 * answers a client with no cipher in common), PQX_ERR_AUTH (a peer that
 * cannot prove its key, or a tampered handshake), PQX_ERR_FORMAT,
 * PQX_ERR_UNSUPPORTED (another version; the server: no cipher in common;
 * the client: a cipher it did not offer), PQX_ERR_INVALID_KEY (a key or
 * encapsulation X-Wing refuses), transport errors.
 */
PQX_MUST_CHECK int pqx_channel_client(pqx_channel **out, const pqx_channel_io *io,
    const uint8_t seed[PQX_XWING_SEED_BYTES], const pqx_channel_opts *opts);
PQX_MUST_CHECK int pqx_channel_server(pqx_channel **out, const pqx_channel_io *io,
    const uint8_t seed[PQX_XWING_SEED_BYTES], const pqx_channel_opts *opts);

/*
 * Sends one record of the type (payload at most PQX_CHANNEL_MAX_RECORD; a
 * close has none; data may point into the channel's buffer, as a record
 * just received does). A record with a payload is sealed in that buffer,
 * so the record last received is gone; one without (a close) leaves it be.
 * PQX_ERR_INVALID_ARG, sending nothing, for a payload
 * too large, a close with a payload or a type not in pqx_record_type. After
 * a failed write (PQX_ERR_IO) send keeps failing, but recv may still return
 * what the peer sent before it went away, such as an error record saying why.
 */
PQX_MUST_CHECK int pqx_channel_send(pqx_channel *ch, enum pqx_record_type type,
    const uint8_t *data, size_t len);
/*
 * Sends a data record of len payload bytes that the caller wrote at rec +
 * PQX_CHANNEL_HEADROOM, with PQX_CHANNEL_TAILROOM bytes of room after them:
 * sealed in place (rec then holds the record as sent), with no copy.
 */
#define PQX_CHANNEL_HEADROOM 5
#define PQX_CHANNEL_TAILROOM 16
PQX_MUST_CHECK int pqx_channel_send_inplace(pqx_channel *ch, uint8_t *rec, size_t len);
/* 1 if the transport says a record (or part of one) waits to be read, else 0. */
int pqx_channel_readable(const pqx_channel *ch);
/*
 * Receives one data record: *data points into the channel's buffer (valid
 * until the next call), *len its length. A close record gives
 * PQX_ERR_CLOSED, an error record PQX_ERR_PEER_ERROR (its text then in
 * pqx_channel_peer_error); later recvs give PQX_ERR_CLOSED, and send still
 * works (for our own close). A bad record gives PQX_ERR_AUTH (PQX_ERR_FORMAT
 * for an unknown type or a close with a payload). After such an error, or
 * one of the transport, the channel is dead: send and recv return that same
 * error again, never PQX_ERR_CLOSED.
 */
PQX_MUST_CHECK int pqx_channel_recv(pqx_channel *ch, const uint8_t **data, size_t *len);
/* 1 if a write to the transport failed (the peer went away), else 0. */
int pqx_channel_write_failed(const pqx_channel *ch);
/* The peer's static public key, proven by the handshake. */
const uint8_t *pqx_channel_peer_key(const pqx_channel *ch);
/* The transcript hash: a unique, secret-free id of the session. */
const uint8_t *pqx_channel_session_id(const pqx_channel *ch);
enum pqx_channel_cipher pqx_channel_cipher(const pqx_channel *ch);
const char *pqx_channel_peer_error(const pqx_channel *ch);
/* Wipes the keys and frees; NULL is a no-op. Does not close the transport. */
void pqx_channel_free(pqx_channel *ch);

/* The record ciphers this machine runs, fastest first (measured once): a server's choice. */
const uint8_t *pqx_channel_default_ciphers(void);
/* "SHA256:<base64>" of a public key into out (at least 51 bytes). */
void pqx_key_fingerprint(char out[52], const uint8_t *key, size_t len);

#ifdef __cplusplus
}
#endif
#endif
