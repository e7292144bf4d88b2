/* pqx: the file transfer protocol over a channel (docs/PROTOCOL.md, "Transfer"). */
#ifndef PQX_TRANSFER_H
#define PQX_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include <pqx/channel.h>

#define XFER_KEY_BYTES 32
#define XFER_MAX_PATH 4096
#define XFER_MAX_NAME 255

enum xfer_op { XFER_SEND = 1, XFER_GET = 2 };

struct xfer_stats {
	uint64_t files, dirs, links, skipped; /* skipped: already identical */
	uint64_t bytes;                       /* file bytes in the transfer */
	uint64_t bytes_moved;                 /* file bytes that had to cross (before zstd) */
	uint64_t bytes_reused;                /* file bytes the receiver found it had */
	uint64_t bytes_data;                  /* DATA messages as sent (compressed, padded) */
	uint64_t lists;                       /* sender: LISTs sent, each a round trip */
	uint64_t bytes_cloned; /* receiver: bytes cloned from old versions (each read back and verified) */
};

struct xfer_opts {
	void (*progress)(void *ctx, uint64_t done, uint64_t moved);
	void *progress_ctx;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
	uint8_t key[XFER_KEY_BYTES]; /* the pair's chunking key (ACCEPT) */
	const char *index_path;      /* receiver: the chunk index database, NULL: none */
	const char *dict_dir;        /* both: a dictionary directory (--dict), or NULL */
	int compress;                /* sender: -1 auto, 0 never, 1..19 a zstd level */
	uint64_t bwlimit;            /* sender: bytes per second, 0: no limit */
	int accept_pending;          /* sender: ACCEPT not read yet (xfer_request_only):
					read with the first answer; key unused */
	/*
	 * Receiver: ends the session (the close records) once every entry is
	 * in place and checked. The index learns the last file after it, so
	 * that the peer does not wait for that. Sender: sends its close once
	 * END and DONE are out, before the last FILE_OKs are read, so that the
	 * receiver's close need not wait for another round trip. NULL: nothing
	 * to do (the caller closes).
	 */
	int (*close)(pqx_channel *ch);
};

/*
 * Client: sends the request and waits for ACCEPT (an error record:
 * PQX_ERR_PEER_ERROR), which carries the pair's chunking key.
 */
PQX_MUST_CHECK int xfer_request(pqx_channel *ch, enum xfer_op op, const char *path,
    uint8_t key[XFER_KEY_BYTES]);
/*
 * Client: sends the request only. A sender (XFER_SEND) may go on at once
 * with accept_pending set: it reads ACCEPT before the first answer, so its
 * first entries cross with the server's ACCEPT (a round trip less).
 */
PQX_MUST_CHECK int xfer_request_only(pqx_channel *ch, enum xfer_op op, const char *path);
/* Server: reads the request (path NUL-terminated, at most XFER_MAX_PATH). */
PQX_MUST_CHECK int xfer_read_request(pqx_channel *ch, enum xfer_op *op,
    char path[XFER_MAX_PATH + 1]);
PQX_MUST_CHECK int xfer_accept(pqx_channel *ch, const uint8_t key[XFER_KEY_BYTES]);
/*
 * The chunking key of a server and one client: HMAC(HKDF(server seed,
 * "pqx chunking key"), client public key). Stable for the pair, so the
 * receiver's index stays useful between sessions; secret to the pair, so
 * chunk sizes and ids mean nothing to anyone else.
 */
PQX_MUST_CHECK int xfer_pair_key(uint8_t key[XFER_KEY_BYTES], const uint8_t *server_seed,
    size_t seed_len, const uint8_t *client_pub, size_t pub_len);
/* Sends an error record with msg (no secrets) and marks the end. */
void xfer_refuse(pqx_channel *ch, const char *msg);

/*
 * The sender: each names[i] is resolved against basefd (openat) and sent
 * under its last component; directories recursively. confined: names must
 * not climb out of basefd or pass through symbolic links (the server).
 */
PQX_MUST_CHECK int xfer_send(pqx_channel *ch, int basefd, const char *const *names,
    size_t n, int confined, const struct xfer_opts *o, struct xfer_stats *st);
/* The receiver: writes entries below dirfd, trusting no path from the peer. */
PQX_MUST_CHECK int xfer_receive(pqx_channel *ch, int dirfd, const struct xfer_opts *o,
    struct xfer_stats *st);

/* A peer path: relative, '/'-separated, no empty, "." or ".." component. */
int xfer_path_ok(const char *path, size_t len);
/*
 * A name pqx gives files beside one that lands (".NAME.pqx-part",
 * ".NAME.pqx-prev", ".NAME.pqx-link"): a file of that name would meet one
 * of them, so none is sent or taken.
 */
int xfer_name_reserved(const char *name);
/*
 * Opens the directory at rel below dirfd one component at a time with
 * O_NOFOLLOW (creating missing ones when create), so no symlink can lead
 * outside. rel may be "" for dirfd itself. Returns an fd or -1 (errno).
 */
int xfer_open_dir(int dirfd, const char *rel, int create);

#endif
