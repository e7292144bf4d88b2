/* pqx CLI: what serve, send and get share: addresses, identities, pinned keys, config files. */
#ifndef PQX_CLI_NET_H
#define PQX_CLI_NET_H

#include <pqx.h>

#include "transfer/transfer.h"

#define PQX_DEFAULT_PORT "7392"

struct pqx_url {
	char host[256], port[16];
	char path[XFER_MAX_PATH + 1]; /* without the leading '/' */
};

/* Parses pqx://HOST[:PORT]/[PATH] (IPv6 as [::1]); -1 after an error. */
int cli_parse_url(struct pqx_url *u, const char *s);
/* Parses ADDR:PORT for listening ("" host: all addresses). */
int cli_parse_listen(struct pqx_url *u, const char *s);
/* The config directory: $PQX_CONFIG_DIR, else $XDG_CONFIG_HOME/pqx, else ~/.config/pqx. */
int cli_config_path(char *out, size_t cap, const char *file);
/* The config directory's path with a trailing '/', made (0700) with any missing parent; -1 if it can't be. */
int cli_config_dir(char *out, size_t cap);
/* Loads the first post-quantum identity of an identity file (default: config/identity). */
int cli_load_seed(const char *path, uint8_t seed[32], uint8_t pub[PQX_XWING_PUBLIC_KEY_BYTES]);
/* Parses an age1pq1 recipient into an X-Wing public key. */
int cli_parse_pq_recipient(const char *s, uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES]);
/* Connects to host:port (TCP, no delay, see cli_tune_socket); -1 after an error. */
int cli_connect(const char *host, const char *port);
/* Listens on host:port; -1 after an error. */
int cli_listen(const char *host, const char *port);
/* Sets TCP_NODELAY, and 4 MiB socket buffers where Linux would not grow them further itself. */
void cli_tune_socket(int fd);
/*
 * The receiver's chunk index for the directory dirfd under the pair's key:
 * config/index/HEX.db, HEX naming (key, the directory's real path); the
 * folders are created (0700). -1 if there is no place for it.
 */
int cli_index_path(char *out, size_t cap, const uint8_t key[XFER_KEY_BYTES], int dirfd);
/*
 * The options serve, send and get share about file contents: --dict DIR,
 * --compress auto|off|LEVEL, --bwlimit RATE. cli_xfer_option handles one
 * (c is its getopt_long value) and returns 1 if it was one of them, 0 if
 * not, -1 after an error.
 */
#define CLI_XFER_OPTIONS                                         \
	{ "dict", required_argument, NULL, 1001 },               \
	{ "compress", required_argument, NULL, 1002 },           \
	{ "bwlimit", required_argument, NULL, 1003 }
int cli_xfer_option(struct xfer_opts *xo, int c, const char *arg);
/* The usage lines of --dict, and of --compress and --bwlimit (the sending side's). */
extern const char cli_dict_usage[];
extern const char cli_send_usage[];
/* A human description of a channel or transfer error. */
const char *cli_net_strerror(int err, const pqx_channel *ch);

#endif
