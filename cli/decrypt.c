/* pqx CLI: "pqx decrypt": age decryption with identity files or a passphrase. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char decrypt_usage[] =
    "Usage: pqx decrypt [-i FILE]... [-o OUT] [IN]\n"
    "\n"
    "Decrypts the age file IN (or standard input), binary or ASCII-armored. Only\n"
    "authenticated data is written: to OUT through a temporary file renamed into\n"
    "place after the last chunk verifies (an existing file is kept unless -f), or\n"
    "to standard output chunk by chunk as each one verifies.\n"
    "\n"
    "  -i, --identity FILE   an identity file (from pqx keygen or age-keygen), plain or\n"
    "                        passphrase-encrypted; may repeat. Without -i the file is\n"
    "                        expected to be passphrase-encrypted.\n"
    "      --passphrase-fd N read a passphrase from file descriptor N instead of the\n"
    "                        terminal (for scripts: --passphrase-fd 3 3<pass.txt)\n"
    "  -o, --output OUT      write to OUT instead of standard output\n"
    "  -f, --force           replace OUT if it exists\n"
    "  -q, --quiet           no progress line\n"
    "  -j, --threads N       worker threads (default: all cores)\n"
    "\n"
    "Example:\n"
    "  $ pqx decrypt -i key.txt -o model.bin model.bin.age\n";

#define MAX_IDENTITY_FILE (1u << 20)

struct dec_ctx {
	pqx_age_identity **ids;
	size_t n;
	int pass_fd, asked, files;
	const char *prompt_for;
};

static int do_decrypt(void *vctx, pqx_reader *in, pqx_writer *out, const pqx_age_options *opt)
{
	struct dec_ctx *c = vctx;

	return pqx_age_decrypt(c->ids, c->n, in, out, opt);
}

/* The passphrase, asked only once the file shows it needs one. */
static int get_pass(void *vctx, uint8_t **pass, size_t *len)
{
	struct dec_ctx *c = vctx;
	char prompt[512], *p;

	if (c->prompt_for != NULL)
		snprintf(prompt, sizeof(prompt), "Enter passphrase for identity file \"%s\": ",
		    c->prompt_for);
	else
		snprintf(prompt, sizeof(prompt), "Enter passphrase: ");
	c->asked = 1;
	if ((p = cli_passphrase(c->pass_fd, prompt, 0)) == NULL)
		return PQX_ERR_NO_PASSPHRASE;
	*pass = (uint8_t *)p;
	*len = strlen(p);
	return 0;
}

/* A no-match means something different when a passphrase was (or wasn't) asked. */
static int report(void *vctx, int err)
{
	struct dec_ctx *c = vctx;

	if (err != PQX_ERR_NO_MATCH)
		return 0;
	if (c->asked)
		cli_error(NULL, "wrong passphrase");
	else if (c->files == 0)
		cli_error("pass the identity file that goes with it: pqx decrypt -i FILE",
		    "the file is not passphrase-encrypted, and no identity was given");
	else
		return 0;
	return 1;
}

struct membuf {
	uint8_t *p;
	size_t len, cap;
};

static int mem_write(void *ctx, const uint8_t *buf, size_t n)
{
	struct membuf *m = ctx;

	if (n > MAX_IDENTITY_FILE - m->len)
		return PQX_ERR_LIMIT;
	if (m->len + n > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 4096;
		uint8_t *np;

		while (ncap < m->len + n)
			ncap *= 2;
		if ((np = malloc(ncap)) == NULL)
			return PQX_ERR_NOMEM;
		if (m->len > 0)
			memcpy(np, m->p, m->len);
		if (m->p != NULL) {
			pqx_wipe(m->p, m->cap);
			free(m->p);
		}
		m->p = np;
		m->cap = ncap;
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return 0;
}

struct mem_src {
	const uint8_t *p;
	size_t len, off;
};

static int mem_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	struct mem_src *s = ctx;

	if (n > s->len - s->off)
		n = s->len - s->off;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	*got = n;
	return 0;
}

/* An age-encrypted identity file (binary or armored) needs a passphrase first. */
static int is_encrypted(const uint8_t *text, size_t len)
{
	static const char intro[] = "age-encryption.org/";
	static const char armor[] = "-----BEGIN AGE ENCRYPTED FILE-----";
	size_t i = 0;

	if (len >= sizeof(intro) - 1 && memcmp(text, intro, sizeof(intro) - 1) == 0)
		return 1;
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
		i++;
	return len - i >= sizeof(armor) - 1 && memcmp(text + i, armor, sizeof(armor) - 1) == 0;
}

static int load_identities(struct dec_ctx *c, const char *path)
{
	uint8_t *text;
	size_t len, count = 0, bad = 0;
	pqx_age_identity **list = NULL, *pid = NULL;
	struct membuf plain = { NULL, 0, 0 };
	int r, ret = -1;

	if ((text = cli_read_file(path, MAX_IDENTITY_FILE, &len)) == NULL)
		return -1;
	if (is_encrypted(text, len)) {
		struct mem_src src = { text, len, 0 };
		pqx_reader in = { mem_read, &src };
		pqx_writer out = { mem_write, &plain };
		pqx_age_options opt;

		memset(&opt, 0, sizeof(opt));
		opt.threads = 1;
		c->prompt_for = path;
		if ((r = pqx_age_identity_scrypt_lazy(&pid, get_pass, c, 0)) != 0 ||
		    (r = pqx_age_decrypt(&pid, 1, &in, &out, &opt)) != 0) {
			if (r == PQX_ERR_NO_MATCH)
				cli_error(NULL, "identity file \"%s\": wrong passphrase", path);
			else if (r != PQX_ERR_NO_PASSPHRASE)
				cli_age_error(r, "decrypting the identity file");
			goto out;
		}
		pqx_wipe(text, len);
		free(text);
		text = plain.p;
		len = plain.len;
		plain.p = NULL;
	}
	r = pqx_age_identities_parse(&list, &count, text, len, &bad);
	if (r != 0) {
		cli_error("an identity file holds AGE-SECRET-KEY-... lines and # comments",
		    "identity file \"%s\" line %zu: %s", path, bad, pqx_age_error_detail());
		goto out;
	}
	if (count == 0) {
		cli_error(NULL, "no identities in \"%s\"", path);
		goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; i < count; i++) {
		pqx_age_identity **nl;

		if (ret == 0 && (nl = realloc(c->ids, (c->n + 1) * sizeof(*nl))) != NULL) {
			c->ids = nl;
			c->ids[c->n++] = list[i];
		} else {
			pqx_age_identity_free(list[i]);
			ret = -1;
		}
	}
	free(list);
	pqx_age_identity_free(pid);
	if (text != NULL) {
		pqx_wipe(text, len);
		free(text);
	}
	if (plain.p != NULL) {
		pqx_wipe(plain.p, plain.cap);
		free(plain.p);
	}
	c->prompt_for = NULL;
	return ret;
}

int cmd_decrypt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "identity", required_argument, NULL, 'i' },
		{ "passphrase-fd", required_argument, NULL, 'P' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "threads", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_stream_opts so;
	struct dec_ctx ctx = { NULL, 0, -1, 0, 0, NULL };
	const char **files = NULL;
	size_t nfiles = 0;
	int c, ret = 1;

	memset(&so, 0, sizeof(so));
	opterr = 0;
	if ((files = calloc((size_t)argc + 1, sizeof(*files))) == NULL)
		return 1;
	while ((c = getopt_long(argc, argv, ":i:o:fqj:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': files[nfiles++] = optarg; break;
		case 'P':
			if (cli_parse_fd(optarg, &ctx.pass_fd) != 0)
				goto out;
			break;
		case 'o': so.out = optarg; break;
		case 'f': so.force = 1; break;
		case 'q': so.quiet = 1; break;
		case 'j':
			if (cli_parse_threads(optarg, &so.threads) != 0)
				goto out;
			break;
		case 'h': fputs(decrypt_usage, stdout); ret = 0; goto out;
		default: cli_bad_option("decrypt", c, argc, argv); goto out;
		}
	}
	if (argc - optind > 1) {
		cli_error("give one input file, or none for standard input", "too many arguments");
		goto out;
	}
	so.in = optind < argc ? argv[optind] : NULL;
	for (size_t i = 0; i < nfiles; i++)
		if (load_identities(&ctx, files[i]) != 0)
			goto out;
	if (nfiles == 0) {
		pqx_age_identity *pid;

		/* No identity: the file must be passphrase-encrypted; ask when we know. */
		if (pqx_age_identity_scrypt_lazy(&pid, get_pass, &ctx, 0) != 0 ||
		    (ctx.ids = calloc(1, sizeof(*ctx.ids))) == NULL) {
			cli_error(NULL, "out of memory");
			goto out;
		}
		ctx.ids[ctx.n++] = pid;
	}
	ctx.files = (int)nfiles;
	ctx.asked = 0;
	so.report = report;
	ret = cli_run_stream(&so, 1, do_decrypt, &ctx);
out:
	for (size_t i = 0; i < ctx.n; i++)
		pqx_age_identity_free(ctx.ids[i]);
	free(ctx.ids);
	free(files);
	return ret;
}
