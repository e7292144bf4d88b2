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
/* Loads the first post-quantum identity of an identity file (default: config/identity). */
int cli_load_seed(const char *path, uint8_t seed[32], uint8_t pub[PQX_XWING_PUBLIC_KEY_BYTES]);
/* Parses an age1pq1 recipient into an X-Wing public key. */
int cli_parse_pq_recipient(const char *s, uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES]);
/* Connects to host:port (TCP, no delay, large buffers); -1 after an error. */
int cli_connect(const char *host, const char *port);
/* Listens on host:port; -1 after an error. */
int cli_listen(const char *host, const char *port);
/* Sets large socket buffers and TCP_NODELAY. */
void cli_tune_socket(int fd);
/* A human description of a channel or transfer error. */
const char *cli_net_strerror(int err, const pqx_channel *ch);

#endif
