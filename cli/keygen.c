/* pqx CLI: "pqx keygen": new identities (post-quantum hybrid by default), and -y to list recipients. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "net.h"

static const char keygen_usage[] =
    "Usage: pqx keygen [-o FILE] [--classic]\n"
    "       pqx keygen -y [FILE]\n"
    "\n"
    "Generates a new identity: by default a post-quantum hybrid one\n"
    "(ML-KEM-768 + X25519, recipients start with age1pq1), or with --classic an\n"
    "X25519 one (age1...). The identity goes to FILE (created with mode 0600, never\n"
    "overwritten) or to standard output; the recipient is printed on standard error.\n"
    "For the default identity of pqx send and get (~/.config/pqx/identity) the\n"
    "missing folders are made, mode 0700.\n"
    "\n"
    "  -o, --output FILE   write the identity to FILE\n"
    "      --classic       generate an X25519 identity (not post-quantum)\n"
    "  -y                  print the recipients of the identities in FILE (or stdin)\n"
    "\n"
    "Example:\n"
    "  $ pqx keygen -o key.txt\n"
    "  Public key: age1pq1...\n"
    "  $ pqx keygen -y key.txt\n";

#define MAX_IDENTITY_FILE (1u << 20)

static int print_recipients(const char *path)
{
	uint8_t *text;
	size_t len, count = 0, bad = 0;
	pqx_age_identity **ids = NULL;
	int r, ret = 1;

	if ((text = cli_read_file(path, MAX_IDENTITY_FILE, &len)) == NULL)
		return 1;
	r = pqx_age_identities_parse(&ids, &count, text, len, &bad);
	pqx_wipe(text, len);
	free(text);
	if (r != 0) {
		cli_error("an identity file holds AGE-SECRET-KEY-... lines and # comments",
		    "%s line %zu: %s", path ? path : "standard input", bad,
		    pqx_age_error_detail());
		goto out;
	}
	if (count == 0) {
		cli_error(NULL, "no identities in %s", path ? path : "standard input");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		char *rcpt;

		if (pqx_age_identity_recipient(&rcpt, ids[i]) != 0) {
			cli_error(NULL, "out of memory");
			goto out;
		}
		printf("%s\n", rcpt);
		pqx_age_string_free(rcpt);
	}
	ret = fflush(stdout) == 0 ? 0 : 1;
out:
	for (size_t i = 0; i < count; i++)
		pqx_age_identity_free(ids[i]);
	free(ids);
	return ret;
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "classic", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	int classic = 0, list = 0, c, fd = STDOUT_FILENO, ret = 1;
	pqx_age_identity *id = NULL;
	char *secret = NULL, *rcpt = NULL, created[64], *text = NULL;
	time_t now = time(NULL);
	int len;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:yh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'c': classic = 1; break;
		case 'y': list = 1; break;
		case 'h': fputs(keygen_usage, stdout); return 0;
		default: cli_bad_option("keygen", c, argc, argv); return 1;
		}
	}
	if (list) {
		if (out != NULL || classic || argc - optind > 1) {
			cli_error("pqx keygen -y [FILE]", "-y takes only an identity file");
			return 1;
		}
		return print_recipients(optind < argc ? argv[optind] : NULL);
	}
	if (optind != argc) {
		cli_error("see pqx keygen --help", "unexpected argument \"%s\"", argv[optind]);
		return 1;
	}
	if (out != NULL && strcmp(out, "-") != 0) {
		char def[4096], dir[4096];

		/* The default identity's folder is made, as ssh-keygen makes ~/.ssh. */
		if (cli_config_path(def, sizeof(def), "identity") == 0 && strcmp(out, def) == 0)
			(void)cli_config_dir(dir, sizeof(dir));
		/* Secret keys: 0600 from the first byte, and never over a file. */
		if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
			cli_error(errno == EEXIST ? "pick another name; keys are never overwritten" : NULL,
			    "can't create \"%s\": %s", out, strerror(errno));
			return 1;
		}
	}
	if (pqx_age_identity_generate(&id, classic ? PQX_AGE_X25519 : PQX_AGE_MLKEM768X25519) != 0 ||
	    pqx_age_identity_encode(&secret, id) != 0 ||
	    pqx_age_identity_recipient(&rcpt, id) != 0) {
		cli_error(NULL, "key generation failed");
		goto out;
	}
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	len = asprintf(&text, "# created: %s\n# public key: %s\n%s\n", created, rcpt, secret);
	if (len < 0) {
		text = NULL;
		cli_error(NULL, "out of memory");
		goto out;
	}
	if (write(fd, text, (size_t)len) != len || (fd != STDOUT_FILENO && fsync(fd) != 0)) {
		cli_error(NULL, "can't write the identity: %s", strerror(errno));
		goto out;
	}
	if (fd != STDOUT_FILENO || !isatty(STDOUT_FILENO))
		fprintf(stderr, "Public key: %s\n", rcpt);
	ret = 0;
out:
	if (fd != STDOUT_FILENO) {
		close(fd);
		if (ret != 0)
			unlink(out);
	}
	if (text != NULL) {
		pqx_wipe(text, strlen(text));
		free(text);
	}
	pqx_age_string_free(secret);
	pqx_age_string_free(rcpt);
	pqx_age_identity_free(id);
	return ret;
}
