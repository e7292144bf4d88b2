/* pqx CLI: "pqx encrypt": age encryption to recipients or a passphrase. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const char encrypt_usage[] =
    "Usage: pqx encrypt [-a] [-r RECIPIENT]... [-R FILE]... [-o OUT] [IN]\n"
    "       pqx encrypt -p [-a] [-o OUT] [IN]\n"
    "\n"
    "Encrypts IN (or standard input) to age format, readable by age, rage and typage.\n"
    "Output goes to OUT (written to a temporary file and renamed into place when\n"
    "complete; an existing file is kept unless -f) or to standard output.\n"
    "\n"
    "  -r, --recipient R     encrypt to R (age1pq1... post-quantum, or age1... X25519);\n"
    "                        may repeat\n"
    "  -R, --recipients-file FILE  encrypt to each recipient listed in FILE; may repeat\n"
    "  -p, --passphrase      encrypt with a passphrase (scrypt), asked on the terminal\n"
    "      --passphrase-fd N read the passphrase from file descriptor N instead\n"
    "                        (for scripts: pqx encrypt -p --passphrase-fd 3 3<pass.txt)\n"
    "      --work-factor N   scrypt work factor log2(N), default 18\n"
    "  -a, --armor           write ASCII armor (PEM) instead of binary\n"
    "  -o, --output OUT      write to OUT instead of standard output\n"
    "  -f, --force           replace OUT if it exists\n"
    "  -q, --quiet           no progress line\n"
    "  -j, --threads N       worker threads (default: all cores)\n"
    "\n"
    "Post-quantum and X25519 recipients can't be mixed in one file: the file would\n"
    "be only as strong as its classic recipient.\n"
    "\n"
    "Example:\n"
    "  $ pqx keygen -o key.txt\n"
    "  $ pqx encrypt -r age1pq1... -o model.bin.age model.bin\n"
    "  $ pqx decrypt -i key.txt -o model.bin model.bin.age\n";

#define MAX_RECIPIENTS_FILE (16u << 20)

struct enc_ctx {
	pqx_age_recipient **r;
	size_t n;
};

static int do_encrypt(void *vctx, pqx_reader *in, pqx_writer *out, const pqx_age_options *opt)
{
	struct enc_ctx *c = vctx;

	return pqx_age_encrypt(c->r, c->n, in, out, opt);
}

static int add_recipient(struct enc_ctx *c, pqx_age_recipient *r)
{
	pqx_age_recipient **nl = realloc(c->r, (c->n + 1) * sizeof(*nl));

	if (nl == NULL) {
		pqx_age_recipient_free(r);
		cli_error(NULL, "out of memory");
		return -1;
	}
	c->r = nl;
	c->r[c->n++] = r;
	return 0;
}

static int add_recipients_file(struct enc_ctx *c, const char *path)
{
	uint8_t *text;
	size_t len, count = 0, bad = 0;
	pqx_age_recipient **list = NULL;
	int r, ret = 0;

	if ((text = cli_read_file(path, MAX_RECIPIENTS_FILE, &len)) == NULL)
		return -1;
	r = pqx_age_recipients_parse(&list, &count, text, len, &bad);
	free(text);
	if (r != 0) {
		cli_error("a recipients file holds one age1... or age1pq1... per line",
		    "%s line %zu: %s", path, bad, pqx_age_error_detail());
		ret = -1;
	} else if (count == 0) {
		cli_error(NULL, "no recipients in %s", path);
		ret = -1;
	}
	for (size_t i = 0; i < count; i++) {
		if (ret == 0)
			ret = add_recipient(c, list[i]);
		else
			pqx_age_recipient_free(list[i]);
	}
	free(list);
	return ret;
}

int cmd_encrypt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recipient", required_argument, NULL, 'r' },
		{ "recipients-file", required_argument, NULL, 'R' },
		{ "passphrase", no_argument, NULL, 'p' },
		{ "passphrase-fd", required_argument, NULL, 'P' },
		{ "work-factor", required_argument, NULL, 'W' },
		{ "armor", no_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "threads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_stream_opts so;
	struct enc_ctx ctx = { NULL, 0 };
	int c, pass = 0, pass_fd = -1, ret = 1, keys = 0;
	long work = 0;
	char *pw = NULL;

	memset(&so, 0, sizeof(so));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:R:pao:fqj:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': {
			pqx_age_recipient *r;

			keys = 1;
			if (strncasecmp(optarg, "AGE-SECRET-KEY-", 15) == 0) {
				/* Never echo a secret key, not even part of it. */
				cli_error("get its recipient with: pqx keygen -y IDENTITY_FILE",
				    "-r was given a secret key (identity), not a recipient");
				goto out;
			}
			if (pqx_age_recipient_parse(&r, optarg) != 0) {
				cli_error("recipients look like age1pq1... or age1...",
				    "invalid recipient \"%.40s\": %s", optarg, pqx_age_error_detail());
				goto out;
			}
			if (add_recipient(&ctx, r) != 0)
				goto out;
			break;
		}
		case 'R':
			keys = 1;
			if (add_recipients_file(&ctx, optarg) != 0)
				goto out;
			break;
		case 'p': pass = 1; break;
		case 'P':
			if (cli_parse_fd(optarg, &pass_fd) != 0)
				goto out;
			break;
		case 'W':
			if ((work = cli_parse_num(optarg, 30)) < 0) {
				cli_error(NULL, "the work factor is a number from 1 to 30");
				goto out;
			}
			break;
		case 'a': so.armor = 1; break;
		case 'o': so.out = optarg; break;
		case 'f': so.force = 1; break;
		case 'q': so.quiet = 1; break;
		case 'j':
			if (cli_parse_threads(optarg, &so.threads) != 0)
				goto out;
			break;
		case 'h': fputs(encrypt_usage, stdout); ret = 0; goto out;
		default: cli_bad_option("encrypt", c, argc, argv); goto out;
		}
	}
	if (argc - optind > 1) {
		cli_error("give one input file, or none for standard input",
		    "too many arguments");
		goto out;
	}
	so.in = optind < argc ? argv[optind] : NULL;
	if (pass && keys) {
		cli_error("encrypt to recipients, or with a passphrase, not both",
		    "-p can't be combined with -r or -R");
		goto out;
	}
	if (!pass && !keys) {
		cli_error("use -r RECIPIENT, -R FILE or -p; see pqx encrypt --help",
		    "missing recipients");
		goto out;
	}
	if (pass) {
		pqx_age_recipient *r;

		if ((pw = cli_passphrase(pass_fd, "Enter passphrase: ", 1)) == NULL)
			goto out;
		if (pqx_age_recipient_scrypt(&r, (const uint8_t *)pw, strlen(pw),
			(unsigned int)work) != 0) {
			cli_error(NULL, "out of memory");
			goto out;
		}
		if (add_recipient(&ctx, r) != 0)
			goto out;
	}
	ret = cli_run_stream(&so, 0, do_encrypt, &ctx);
out:
	cli_secret_free(pw);
	for (size_t i = 0; i < ctx.n; i++)
		pqx_age_recipient_free(ctx.r[i]);
	free(ctx.r);
	return ret;
}
