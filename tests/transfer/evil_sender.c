/* pqx transfer tests: a hostile peer built from libpqx: a path-traversal sender as client or server, and idle connections. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqx.h>

#include "crypto/ossl.h"
#include "msgs.h"
#include "transfer/tree.h"
#include "util/util.h"

/*
 * Usage:
 *   evil_sender client PORT IDFILE CASE CANARY
 *       an authorized client of pqx serve on 127.0.0.1:PORT: the handshake,
 *       a request (send into the root, unless the case makes its own), then
 *       the case's entries, spoken by hand
 *   evil_sender server PORT IDFILE CASE CANARY
 *       a one-shot server on 127.0.0.1:PORT for `pqx get`: prints "ready",
 *       takes one client, accepts its request and sends the case's entries
 *   evil_sender idle PORT COUNT SECONDS
 *       COUNT silent TCP connections to 127.0.0.1:PORT held for SECONDS;
 *       prints "closed K of COUNT" (how many the server dropped by then)
 *
 * CANARY is an absolute directory outside the target, which the cases aim at.
 * The outcome is one line on stdout: "refused: MSG" (the peer's error
 * record), "completed" (the peer took the whole session), "dropped: ERR" (the
 * connection ended) or "error: ..."; the exit status is 0 unless the tool
 * itself failed.
 */

enum {
	K_REQUEST = 1, K_ACCEPT = 2, K_FILE = 3, K_DIR = 4, K_SYMLINK = 5, K_END = 6,
	K_NEED = 7, K_LIST = 8, K_BITMAP = 9, K_DATA = 10, K_FILE_END = 11, K_FILE_OK = 12, K_AGAIN = 16,
	K_DONE = 13, K_SIGS = 14, K_BLOCKS = 15,
};
enum {
	BAD_HASH = 1, BAD_BLOCK = 2, BAD_RUN = 4, BAD_ZSTD = 8, NO_AGAIN = 16, SAID_AGAIN = 32,
	EAGER = 64,       /* its contents follow its entry at once (FILE flag 16) */
	EAGER_NEXT = 128, /* the next entry (eager) goes before this file's contents */
};

struct ent {
	uint8_t kind;
	char path[8192];
	size_t plen;
	const char *data; /* FILE: contents; SYMLINK: target */
	uint32_t mode;
	int flags;
};

static struct ent ents[8];
static int nents;
static int req_op = 1; /* 1 send, 2 get; client mode */
static char req_path[8192];
static size_t req_len;
static char canary_target[4200], canary_file[4200];
static uint8_t pair_key[32]; /* the chunking key of the session */

static struct ent *add(uint8_t kind, const char *path, const char *data)
{
	struct ent *e = &ents[nents++];

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->plen = strlen(e->path);
	e->data = data;
	e->mode = kind == K_DIR ? 0755 : 0644;
	return e;
}

/* The cases: each is a short list of entries a hostile sender might try. */
static int build_case(const char *name, const char *canary)
{
	static char longname[400], longpath[4200];
	struct ent *e;

	snprintf(canary_target, sizeof(canary_target), "%s", canary);
	snprintf(canary_file, sizeof(canary_file), "%s/abs", canary);
	nents = 0;
	if (strcmp(name, "dotdot") == 0) {
		add(K_FILE, "../canary/x", "escaped\n");
	} else if (strcmp(name, "abs") == 0) {
		add(K_FILE, canary_file, "escaped\n");
	} else if (strcmp(name, "inner-dotdot") == 0) {
		add(K_FILE, "a/../../canary/x", "escaped\n");
	} else if (strcmp(name, "dotdot-dir") == 0) {
		add(K_DIR, "..", NULL);
		add(K_FILE, "../canary/x", "escaped\n");
	} else if (strcmp(name, "double-slash") == 0) {
		add(K_FILE, "a//b", "x\n");
	} else if (strcmp(name, "empty") == 0) {
		add(K_FILE, "", "x\n");
	} else if (strcmp(name, "dot") == 0) {
		add(K_FILE, ".", "x\n");
	} else if (strcmp(name, "nul") == 0) {
		e = add(K_FILE, "a", "x\n");
		memcpy(e->path, "a\0b", 3);
		e->plen = 3;
	} else if (strcmp(name, "long-component") == 0) {
		memset(longname, 'a', 300);
		longname[300] = '\0';
		add(K_FILE, longname, "x\n");
	} else if (strcmp(name, "long-path") == 0) {
		for (size_t i = 0; i < 41; i++) {
			memset(longpath + i * 101, 'c', 100);
			longpath[i * 101 + 100] = '/';
		}
		longpath[41 * 101 - 1] = '\0'; /* 4140 bytes */
		add(K_FILE, longpath, "x\n");
	} else if (strcmp(name, "link-abs") == 0) {
		add(K_SYMLINK, "l", canary_target);
		add(K_FILE, "l/passwd", "escaped\n");
	} else if (strcmp(name, "link-up") == 0) {
		add(K_SYMLINK, "l", "../../..");
		add(K_FILE, "l/passwd", "escaped\n");
	} else if (strcmp(name, "link-canary") == 0) {
		add(K_SYMLINK, "l", "../canary");
		add(K_FILE, "l/passwd", "escaped\n");
	} else if (strcmp(name, "link-chain") == 0) {
		/* Each target alone stays inside; together "m" is the parent of the root. */
		add(K_DIR, "d", NULL);
		add(K_SYMLINK, "d/l", "..");
		add(K_SYMLINK, "m", "d/l/..");
		add(K_SYMLINK, "n", "d/l/../canary");
	} else if (strcmp(name, "existing-link-dir") == 0) {
		add(K_DIR, "esc", NULL);
		add(K_FILE, "esc/x", "escaped\n");
	} else if (strcmp(name, "existing-link-parent") == 0) {
		add(K_FILE, "esc/y", "escaped\n");
	} else if (strcmp(name, "existing-link-file") == 0) {
		add(K_FILE, "escf", "replaced the link, not its target\n");
	} else if (strcmp(name, "existing-link-part") == 0) {
		add(K_FILE, "p", "escaped\n");
	} else if (strcmp(name, "link-then-dir") == 0) {
		add(K_SYMLINK, "s", ".");
		add(K_DIR, "s", NULL);
		add(K_FILE, "s/x", "escaped\n");
	} else if (strcmp(name, "setuid") == 0) {
		e = add(K_FILE, "suid", "#!/bin/sh\n");
		e->mode = 06755;
	} else if (strcmp(name, "bad-hash") == 0) {
		e = add(K_FILE, "badhash", "contents\n");
		e->flags = BAD_HASH;
	} else if (strcmp(name, "bad-block") == 0) {
		e = add(K_FILE, "badblock", "contents\n");
		e->flags = BAD_BLOCK;
	} else if (strcmp(name, "reserved") == 0) {
		add(K_FILE, ".x.pqx-part", "a name pqx keeps for its own\n");
	} else if (strcmp(name, "eager-ok") == 0) {
		add(K_FILE, "eager", "contents that did not wait for the answer\n")->flags = EAGER;
	} else if (strcmp(name, "eager-big") == 0) {
		/* Eager is for files under 4096 bytes only. */
		static char big[5001];

		memset(big, 'e', 5000);
		add(K_FILE, "eagerbig", big)->flags = EAGER;
	} else if (strcmp(name, "eager-behind") == 0) {
		/* Eager contents while another file's are awaited: whose would they be? */
		add(K_FILE, "first", "the first file\n")->flags = EAGER_NEXT;
		add(K_FILE, "second", "eager behind the first\n")->flags = EAGER;
	} else if (strcmp(name, "again-unasked") == 0) {
		add(K_FILE, "again", "sent again, never asked for\n")->flags = SAID_AGAIN;
	} else if (strcmp(name, "bad-zstd") == 0) {
		e = add(K_FILE, "badzstd", "contents, not a zstd stream\n");
		e->flags = BAD_ZSTD;
	} else if (strncmp(name, "blocks-", 7) == 0) {
		/*
		 * The target holds blk, 8192 'a' then 50 'x' (tests/transfer/run.sh),
		 * so the receiver matches blocks: the new version is 8192 'a' or
		 * 'b', then "tail\n".
		 */
		static char va[8198], vb[8198];

		memset(va, 'a', 8192);
		memset(vb, 'b', 8192);
		memcpy(va + 8192, "tail\n", 6);
		memcpy(vb + 8192, "tail\n", 6);
		if (strcmp(name, "blocks-ok") == 0)
			add(K_FILE, "blk", va);
		else if (strcmp(name, "blocks-lie") == 0)
			add(K_FILE, "blk", vb)->flags = BAD_BLOCK;
		else if (strcmp(name, "blocks-lie-gone") == 0) /* and never sends it again */
			add(K_FILE, "blk", vb)->flags = BAD_BLOCK | NO_AGAIN;
		else if (strcmp(name, "blocks-bad-run") == 0)
			add(K_FILE, "blk", va)->flags = BAD_RUN;
		else
			return -1;
	} else if (strcmp(name, "req-get-dotdot") == 0) {
		req_op = 2;
		snprintf(req_path, sizeof(req_path), "../secret");
	} else if (strcmp(name, "req-get-abs") == 0) {
		req_op = 2;
		snprintf(req_path, sizeof(req_path), "%s", canary);
	} else if (strcmp(name, "req-send-dotdot") == 0) {
		snprintf(req_path, sizeof(req_path), "../canary");
		add(K_FILE, "x", "escaped\n");
	} else {
		return -1;
	}
	req_len = strlen(req_path);
	return 0;
}

/* ---- wire helpers ---- */

static uint8_t msg[1 << 21];
static size_t mlen;

static void put8(uint8_t v) { msg[mlen++] = v; }
static void put16(uint16_t v) { msg[mlen++] = (uint8_t)(v >> 8); msg[mlen++] = (uint8_t)v; }
static void put32(uint32_t v) { pqx_store32_be(msg + mlen, v); mlen += 4; }
static void put64(uint64_t v) { pqx_store64_be(msg + mlen, v); mlen += 8; }
static void putstr(const char *s, size_t n)
{
	msg[mlen++] = (uint8_t)(n >> 8);
	msg[mlen++] = (uint8_t)n;
	memcpy(msg + mlen, s, n);
	mlen += n;
}

/* After a failed exchange: the peer's error record if it sent one. */
static int report(pqx_channel *ch, int r)
{
	const uint8_t *d;
	size_t n;

	if (r != PQX_ERR_PEER_ERROR && r != PQX_ERR_CLOSED) {
		/* A failed write: the peer's error record may still be waiting. */
		for (int i = 0; i < 4 && r != PQX_ERR_PEER_ERROR; i++) {
			int e = pqx_channel_recv(ch, &d, &n);

			if (e == PQX_ERR_PEER_ERROR)
				r = e;
			else if (e != 0)
				break;
		}
	}
	if (r == PQX_ERR_PEER_ERROR)
		printf("refused: %s\n", pqx_channel_peer_error(ch));
	else
		printf("dropped: %s\n", pqx_strerror(r));
	return 0;
}

static struct tmsg tm;

static int xsend(pqx_channel *ch)
{
	int r = tmsg_send(ch, msg, mlen);

	mlen = 0;
	return r;
}

static int recv_kind(pqx_channel *ch, const uint8_t **d, size_t *n, uint8_t want)
{
	int r = tmsg_recv(&tm, ch, d, n);

	if (r != 0)
		return r;
	return (*d)[0] == want ? 0 : PQX_ERR_FORMAT;
}

static int collect(void *ctx, const struct xfer_node *n)
{
	struct xfer_node *v = ctx;

	v[n->level] = *n;
	return 0;
}

/* One LIST of a single node (for levels 1 and 0: the one child of one parent). */
static int list1(pqx_channel *ch, const struct xfer_node *nd, int level, uint8_t *state)
{
	const uint8_t *d;
	size_t n;
	int r;

	put8(K_LIST);
	put8((uint8_t)level);
	if (level < 2) {
		put32(1);
		put8(1);
	}
	put32(1);
	memcpy(msg + mlen, nd->id, 32);
	mlen += 32;
	put32((uint32_t)nd->len);
	if ((r = xsend(ch)) != 0 || (r = recv_kind(ch, &d, &n, K_BITMAP)) != 0)
		return r;
	if (n < 6 || pqx_load32_be(d + 1) != 1)
		return PQX_ERR_FORMAT;
	*state = d[5];
	return 0;
}

/*
 * The contents of a file of at most one chunk, spoken by hand from the
 * chunk tree: lists down to where the receiver wants bytes, the bytes (one
 * changed with BAD_BLOCK), the file id (wrong with BAD_HASH).
 */
static int send_contents(pqx_channel *ch, const struct ent *e)
{
	struct xfer_tree *t = xfer_tree_new(pair_key, 2);
	struct xfer_node nd[3];
	size_t dl = e->data ? strlen(e->data) : 0;
	uint8_t root[32], state = 0;
	pqx_hmac *h = NULL;
	int r = PQX_ERR_NOMEM;

	memset(nd, 0, sizeof(nd));
	if (t == NULL)
		return r;
	xfer_tree_size(t, dl);
	xfer_tree_start(t, 0, 2, collect, nd);
	if ((r = xfer_tree_update(t, (const uint8_t *)e->data, dl)) != 0 || (r = xfer_tree_finish(t)) != 0 ||
	    (r = xfer_tree_root_init(t, &h)) != 0)
		goto out;
	if (dl > 0) {
		int level = 2;

		if ((r = pqx_hmac_update(h, nd[2].id, 32)) != 0)
			goto out;
		/* Down while the receiver asks for a node's children. */
		for (;;) {
			if ((r = list1(ch, &nd[level], level, &state)) != 0)
				goto out;
			if (state != 0 || level == 0)
				break;
			level--;
		}
		if (state != 1) { /* the receiver wants the bytes */
			put8(K_DATA);
			put8(0);
			put32((uint32_t)dl);
			memcpy(msg + mlen, e->data, dl);
			if (e->flags & BAD_BLOCK)
				msg[mlen] ^= 1;
			mlen += dl;
			if ((r = xsend(ch)) != 0)
				goto out;
		}
	}
	if ((r = pqx_hmac_final(h, root)) != 0)
		goto out;
	if (e->flags & BAD_HASH)
		root[0] ^= 1;
	put8(K_FILE_END);
	memcpy(msg + mlen, root, 32);
	mlen += 32;
	r = xsend(ch);
out:
	pqx_hmac_free(h);
	xfer_tree_free(t);
	return r;
}

/*
 * The receiver asked for the file whole (it has nothing to compare with):
 * DATA then a bare FILE_END. A streamed file carries no ids, so the bad
 * cases break the framing instead: BAD_BLOCK sends a byte more than the
 * file has, BAD_HASH a FILE_END with a file id after it, BAD_ZSTD the bytes
 * as they are but marked as part of the session's zstd stream (codec 1).
 */
static int send_stream(pqx_channel *ch, const struct ent *e)
{
	size_t dl = e->data ? strlen(e->data) : 0, sent = dl + (e->flags & BAD_BLOCK ? 1 : 0);
	int r;

	if (sent > 0) {
		put8(K_DATA);
		put8(e->flags & BAD_ZSTD ? 1 : 0);
		put32((uint32_t)sent);
		memcpy(msg + mlen, e->data, dl);
		mlen += dl;
		if (e->flags & BAD_BLOCK)
			msg[mlen++] = 'x';
		if ((r = xsend(ch)) != 0)
			return r;
	}
	put8(K_FILE_END);
	if (e->flags & BAD_HASH) {
		memset(msg + mlen, 0, 32);
		mlen += 32;
	}
	return xsend(ch);
}

/*
 * The receiver matches blocks of its old version (NEED state 3): after its
 * SIGS, a run of the leading blocks that are all 'a' in the data (the old
 * version starts with 8192 'a'), the rest as DATA, then the file's hash.
 * BAD_BLOCK names block 0 though the data differs (the receiver finds the
 * hash wrong and asks for the file whole: run_entries streams it); BAD_RUN
 * names a block past the ones signed.
 */
static int send_blocks(pqx_channel *ch, const struct ent *e)
{
	static const uint8_t label = 4;
	struct xfer_tree *t = xfer_tree_new(pair_key, 2);
	size_t dl = strlen(e->data), lit;
	uint32_t L, count, nb = 0, first = 0;
	uint8_t hash[32];
	const uint8_t *d;
	pqx_hmac *h = NULL;
	size_t n;
	int r;

	if (t == NULL || (h = xfer_tree_idh(t)) == NULL) {
		r = PQX_ERR_NOMEM;
		goto out;
	}
	if ((r = recv_kind(ch, &d, &n, K_SIGS)) != 0)
		goto out;
	if (n < 7) {
		r = PQX_ERR_FORMAT;
		goto out;
	}
	/* u16 block_len / 64, u8 weak_len, u8 strong_len, u16 count */
	L = 64u * ((uint32_t)d[1] << 8 | d[2]);
	count = (uint32_t)d[5] << 8 | d[6];
	while (nb < count && (size_t)(nb + 1) * L <= dl && e->data[(size_t)nb * L] == 'a' &&
	       e->data[(size_t)(nb + 1) * L - 1] == 'a')
		nb++;
	if (e->flags & BAD_BLOCK)
		nb = 1;
	if (e->flags & BAD_RUN)
		first = count + 1; /* past the tail's index too */
	put8(K_BLOCKS);
	put16(nb > 0 ? 1 : 0);
	if (nb > 0) {
		put8(0); /* u24 lit */
		put16(0);
		put16((uint16_t)first);
		put16((uint16_t)nb);
	}
	if ((r = xsend(ch)) != 0)
		goto out;
	lit = dl - (size_t)nb * L;
	put8(K_DATA);
	put8(0);
	put32((uint32_t)lit);
	memcpy(msg + mlen, e->data + (size_t)nb * L, lit);
	mlen += lit;
	if ((r = xsend(ch)) != 0)
		goto out;
	if ((r = pqx_hmac_init(h)) != 0 || (r = pqx_hmac_update(h, &label, 1)) != 0 ||
	    (r = pqx_hmac_update(h, (const uint8_t *)e->data, dl)) != 0 || (r = pqx_hmac_final(h, hash)) != 0)
		goto out;
	put8(K_FILE_END);
	memcpy(msg + mlen, hash, 16); /* the first 16 bytes */
	mlen += 16;
	r = xsend(ch);
out:
	pqx_hmac_free(h);
	xfer_tree_free(t);
	return r;
}

/* again: the entry of a file asked for again (AGAIN). */
static int send_entry(pqx_channel *ch, const struct ent *e, int again)
{
	size_t dl = e->data ? strlen(e->data) : 0;

	/* Nothing kept of the previous entry: all of the path, mode and time. */
	put8(e->kind);
	put8(0);
	putstr(e->path, e->plen);
	put8(0);
	put16((uint16_t)e->mode);
	put64(1700000000);
	put32(0);
	if (e->kind == K_FILE) {
		put64(dl);
		put8(again ? 2 : (e->flags & EAGER) ? 16 : 0); /* no shared base; sent again; eager */
	} else if (e->kind == K_SYMLINK)
		putstr(e->data, dl);
	return xsend(ch);
}

/* The sender's half of a session, with the case's entries. */
static int run_entries(pqx_channel *ch, int client)
{
	const uint8_t *d;
	size_t n;
	uint64_t files = 0, bytes = 0;
	int again[8] = { 0 }, r;

	for (int i = 0; i < nents; i++) {
		struct ent *e = &ents[i];
		size_t dl = e->data ? strlen(e->data) : 0;

		if ((r = send_entry(ch, e, (e->flags & SAID_AGAIN) != 0)) != 0 ||
		    ((e->flags & EAGER) && (r = send_stream(ch, e)) != 0))
			return report(ch, r);
		if ((e->flags & EAGER_NEXT) && i + 1 < nents &&
		    ((r = send_entry(ch, &ents[i + 1], 0)) != 0 || (r = send_stream(ch, &ents[i + 1])) != 0))
			return report(ch, r);
		if (e->kind != K_FILE)
			continue;
		files++;
		bytes += dl;
		/* NEED, then the contents: one chunk at most (the files are tiny). */
		if ((r = recv_kind(ch, &d, &n, K_NEED)) != 0)
			return report(ch, r);
		if (n >= 2 && d[1] == 1)
			continue; /* already there */
		if (n >= 2 && d[1] == 3)
			printf("matching blocks\n");
		if ((e->flags & EAGER) && (n < 2 || d[1] != 2))
			return report(ch, PQX_ERR_FORMAT); /* an eager file streams or is skipped */
		if ((r = (e->flags & EAGER)    ? 0
			 : n >= 2 && d[1] == 2 ? send_stream(ch, e)
			 : n >= 2 && d[1] == 3 ? send_blocks(ch, e)
					       : send_contents(ch, e)) != 0)
			return report(ch, r);
		if ((r = tmsg_recv(&tm, ch, &d, &n)) != 0)
			return report(ch, r);
		if (n == 1 && d[0] == K_AGAIN) {
			/* The blocks did not make the file: once more, whole (and honest), after the last entry. */
			printf("asked again, whole\n");
			again[i] = !(e->flags & NO_AGAIN);
			e->flags = 0;
		} else if (n < 1 || d[0] != K_FILE_OK) {
			return report(ch, PQX_ERR_FORMAT);
		}
	}
	for (int i = 0; i < nents; i++) {
		if (!again[i])
			continue;
		if ((r = send_entry(ch, &ents[i], 1)) != 0 || (r = recv_kind(ch, &d, &n, K_NEED)) != 0)
			return report(ch, r);
		if (n != 3 || d[1] != 2)
			return report(ch, PQX_ERR_FORMAT);
		if ((r = send_stream(ch, &ents[i])) != 0 || (r = recv_kind(ch, &d, &n, K_FILE_OK)) != 0)
			return report(ch, r);
	}
	put8(K_END);
	if ((r = xsend(ch)) != 0)
		return report(ch, r);
	put8(K_DONE);
	put64(files);
	put64(bytes);
	if ((r = xsend(ch)) != 0)
		return report(ch, r);
	if (client) {
		/* Our close; an error record from the server may still come back. */
		if ((r = pqx_channel_send(ch, PQX_RECORD_CLOSE, NULL, 0)) != 0)
			return report(ch, r);
	}
	r = pqx_channel_recv(ch, &d, &n);
	if (r == PQX_ERR_CLOSED || (client && r == PQX_ERR_TRUNCATED)) {
		if (!client)
			(void)!pqx_channel_send(ch, PQX_RECORD_CLOSE, NULL, 0);
		printf("completed\n");
		return 0;
	}
	return report(ch, r);
}

static int load_seed(const char *path, uint8_t seed[32])
{
	static uint8_t text[1 << 16];
	pqx_age_identity **ids = NULL;
	size_t count = 0, bad = 0, len;
	FILE *f = fopen(path, "rb");
	int ok = -1;

	if (f == NULL)
		return -1;
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (pqx_age_identities_parse(&ids, &count, text, len, &bad) != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (ok != 0 && pqx_age_identity_seed(ids[i], seed) == 0)
			ok = 0;
		pqx_age_identity_free(ids[i]);
	}
	free(ids);
	return ok;
}

static int tcp_connect(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int idle(int port, int count, int seconds)
{
	int fds[256], closed = 0;

	if (count < 1 || count > 256)
		return 2;
	for (int i = 0; i < count; i++)
		if ((fds[i] = tcp_connect(port)) < 0) {
			printf("error: connect: %s\n", strerror(errno));
			return 1;
		}
	printf("connected %d\n", count);
	fflush(stdout);
	sleep((unsigned)seconds);
	for (int i = 0; i < count; i++) {
		char buf[4096];
		ssize_t k;

		while ((k = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
		if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			closed++;
		close(fds[i]);
	}
	printf("closed %d of %d\n", closed, count);
	return 0;
}

static int accept_all(void *ctx, const uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES])
{
	(void)ctx;
	(void)key;
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t seed[32];
	pqx_socket_io sio;
	pqx_channel_io io;
	pqx_channel_opts co;
	pqx_channel *ch = NULL;
	const uint8_t *d;
	size_t n;
	int fd, r, is_client;

	signal(SIGPIPE, SIG_IGN);
	alarm(60); /* never hang a test run */
	if (argc == 5 && strcmp(argv[1], "idle") == 0)
		return idle(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc != 6 || (strcmp(argv[1], "client") != 0 && strcmp(argv[1], "server") != 0)) {
		fprintf(stderr, "usage: evil_sender client|server PORT IDFILE CASE CANARY\n"
				"       evil_sender idle PORT COUNT SECONDS\n");
		return 2;
	}
	is_client = strcmp(argv[1], "client") == 0;
	if (load_seed(argv[3], seed) != 0) {
		fprintf(stderr, "evil_sender: can't load %s\n", argv[3]);
		return 2;
	}
	if (build_case(argv[4], argv[5]) != 0) {
		fprintf(stderr, "evil_sender: unknown case %s\n", argv[4]);
		return 2;
	}
	if (is_client) {
		if ((fd = tcp_connect(atoi(argv[2]))) < 0) {
			printf("error: connect: %s\n", strerror(errno));
			return 1;
		}
	} else {
		struct sockaddr_in sa;
		int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)atoi(argv[2]));
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4) != 0) {
			printf("error: listen: %s\n", strerror(errno));
			return 1;
		}
		printf("ready\n");
		fflush(stdout);
		if ((fd = accept(lfd, NULL, NULL)) < 0) {
			printf("error: accept: %s\n", strerror(errno));
			return 1;
		}
		close(lfd);
	}
	memset(&sio, 0, sizeof(sio));
	sio.fd = fd;
	sio.timeout_ms = 10000;
	pqx_channel_io_socket(&io, &sio);
	memset(&co, 0, sizeof(co));
	co.authorize = accept_all;
	r = is_client ? pqx_channel_client(&ch, &io, seed, &co) : pqx_channel_server(&ch, &io, seed, &co);
	pqx_wipe(seed, sizeof(seed));
	if (r != 0) {
		printf("error: handshake: %s\n", pqx_strerror(r));
		return 1;
	}
	if (is_client) {
		put8(K_REQUEST);
		put8((uint8_t)req_op);
		putstr(req_path, req_len);
		if ((r = xsend(ch)) != 0 || (r = recv_kind(ch, &d, &n, K_ACCEPT)) != 0) {
			r = report(ch, r);
			goto out;
		}
		if (n != 33) {
			printf("error: ACCEPT without a key\n");
			r = 1;
			goto out;
		}
		memcpy(pair_key, d + 1, 32);
		if (req_op == 2) {
			printf("completed\n"); /* the server accepted a get it should not have */
			goto out;
		}
	} else {
		if ((r = recv_kind(ch, &d, &n, K_REQUEST)) != 0) {
			r = report(ch, r);
			goto out;
		}
		put8(K_ACCEPT);
		memset(pair_key, 7, sizeof(pair_key));
		memcpy(msg + mlen, pair_key, 32);
		mlen += 32;
		if ((r = xsend(ch)) != 0) {
			r = report(ch, r);
			goto out;
		}
	}
	r = run_entries(ch, is_client);
out:
	fflush(stdout);
	pqx_channel_free(ch);
	close(fd);
	return r;
}
