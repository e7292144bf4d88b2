/* pqx: the command-line tool: a table of subcommands, like wg(8). */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

#include <pqx.h>

#include "cli.h"

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("pqx %s (ML-KEM: %s)\n", pqx_version(), pqx_mlkem_impl());
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{ "keygen", cmd_keygen, "generate an identity (post-quantum hybrid by default)" },
	{ "encrypt", cmd_encrypt, "encrypt a file to recipients or a passphrase (age format)" },
	{ "decrypt", cmd_decrypt, "decrypt an age file" },
	{ "serve", cmd_serve, "serve a directory to authorized identities" },
	{ "send", cmd_send, "send files and trees to a pqx server" },
	{ "get", cmd_get, "get files and trees from a pqx server" },
	{ "version", cmd_version, "print the version and the selected implementation" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: pqx COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
	/*
	 * Freeing OpenSSL's tables at exit only costs time (0.3 ms a run), and
	 * so does loading its error strings (0.2 ms), which pqx never prints.
	 */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	/*
	 * A transfer keeps a few descriptors open per file it has in flight
	 * (entries go ahead of contents), and pqx serve that for each client:
	 * the soft limit (often 1024) goes up to the hard one, as servers do.
	 */
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
			rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pqx: error: unknown command \"%s\"\n", argv[1]);
	fprintf(stderr, "pqx: hint: run \"pqx help\" for the list of commands\n");
	return 1;
}
