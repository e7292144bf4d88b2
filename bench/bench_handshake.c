/* pqx bench: channel handshakes per second, in process over a socketpair; server CPU per handshake. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pqx.h>
#include <pqx/channel.h>

/*
 * Usage: bench_handshake [N]   (default 2000)
 *
 * A server thread and a client thread run N complete handshakes of
 * docs/PROTOCOL.md (messages 0-3, X-Wing, HKDF, the negotiated record
 * cipher set up) one after another over one AF_UNIX socketpair, with fixed
 * static identities and the CSPRNG for ephemerals, as `pqx serve` and
 * `pqx send` would. Each side's CPU time comes from
 * CLOCK_THREAD_CPUTIME_ID, so the other side's work does not count;
 * handshakes/s per core = 1 / (server CPU per handshake). The authorize
 * callback is a constant-time key comparison (serve.c also reads its
 * authorized file, which this leaves out).
 */

#define WARMUP 20

static uint8_t server_seed[32], client_seed[32], client_pk[PQX_XWING_PUBLIC_KEY_BYTES];
static pqx_xwing_key server_key;
static int n_hs;

struct side {
	int fd;
	double cpu_s;
	int err;
	uint8_t last_id[32];
	enum pqx_channel_cipher cipher;
};

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int authorize(void *ctx, const uint8_t key[PQX_XWING_PUBLIC_KEY_BYTES])
{
	uint8_t d = 0;

	(void)ctx;
	for (size_t i = 0; i < PQX_XWING_PUBLIC_KEY_BYTES; i++)
		d |= (uint8_t)(key[i] ^ client_pk[i]);
	return d == 0 ? 0 : PQX_ERR_REFUSED;
}

/* count handshakes on one side; timed unless warmup. */
static void run_side(struct side *s, int server, int count, int timed)
{
	pqx_socket_io sio;
	pqx_channel_io io;
	pqx_channel_opts o;
	double t0 = 0;

	memset(&sio, 0, sizeof(sio));
	sio.fd = s->fd;
	sio.timeout_ms = 10000;
	pqx_channel_io_socket(&io, &sio);
	memset(&o, 0, sizeof(o));
	o.authorize = authorize;
	if (server) /* as pqx serve does: its key expanded once */
		o.key = &server_key;
	if (timed)
		t0 = thread_cpu();
	for (int i = 0; i < count && s->err == 0; i++) {
		pqx_channel *ch = NULL;

		s->err = server ? pqx_channel_server(&ch, &io, server_seed, &o)
				: pqx_channel_client(&ch, &io, client_seed, &o);
		if (s->err == 0) {
			memcpy(s->last_id, pqx_channel_session_id(ch), 32);
			s->cipher = pqx_channel_cipher(ch);
		}
		pqx_channel_free(ch);
	}
	if (timed)
		s->cpu_s = thread_cpu() - t0;
}

static void *server_main(void *arg)
{
	struct side *s = arg;

	run_side(s, 1, WARMUP, 0);
	run_side(s, 1, n_hs, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct side srv, cli;
	pthread_t t;
	int sv[2];
	double w0, wall;

	n_hs = argc > 1 ? atoi(argv[1]) : 2000;
	if (n_hs < 1 || n_hs > 10000000) {
		fprintf(stderr, "usage: bench_handshake [N]\n");
		return 2;
	}
	for (int i = 0; i < 32; i++) {
		server_seed[i] = (uint8_t)(0x11 * i + 1);
		client_seed[i] = (uint8_t)(0x07 * i + 3);
	}
	if (pqx_xwing_public_key(client_pk, client_seed) != 0 || pqx_xwing_key_expand(&server_key, server_seed) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		fprintf(stderr, "bench_handshake: setup failed\n");
		return 1;
	}
	(void)pqx_channel_default_ciphers(); /* measured once, as serve does before accepting */
	memset(&srv, 0, sizeof(srv));
	memset(&cli, 0, sizeof(cli));
	srv.fd = sv[0];
	cli.fd = sv[1];
	if (pthread_create(&t, NULL, server_main, &srv) != 0) {
		fprintf(stderr, "bench_handshake: no thread\n");
		return 1;
	}
	run_side(&cli, 0, WARMUP, 0);
	w0 = mono();
	run_side(&cli, 0, n_hs, 1);
	if (cli.err != 0)
		close(sv[1]); /* unblock the server */
	pthread_join(t, NULL);
	wall = mono() - w0;
	if (srv.err != 0 || cli.err != 0 || memcmp(srv.last_id, cli.last_id, 32) != 0) {
		fprintf(stderr, "bench_handshake: handshake failed: server %s, client %s\n",
		    pqx_strerror(srv.err), pqx_strerror(cli.err));
		return 1;
	}
	printf("handshakes: %d in process over a socketpair (after %d warm-up), %.2f s wall, "
	       "client and server threads on %ld cores\n",
	    n_hs, WARMUP, wall, sysconf(_SC_NPROCESSORS_ONLN));
	printf("server CPU per handshake: %8.1f us  -> %7.0f handshakes/s per core (target >= 1000)\n",
	    srv.cpu_s / n_hs * 1e6, n_hs / srv.cpu_s);
	printf("client CPU per handshake: %8.1f us  -> %7.0f handshakes/s per core\n",
	    cli.cpu_s / n_hs * 1e6, n_hs / cli.cpu_s);
	printf("wall per handshake (both sides, serial): %.1f us; record cipher chosen: %s\n",
	    wall / n_hs * 1e6, srv.cipher == PQX_CHANNEL_AES_256_GCM ? "AES-256-GCM" : "ChaCha20-Poly1305");
	close(sv[0]);
	close(sv[1]);
	return 0;
}
