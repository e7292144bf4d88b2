/* pqx interop: a line-command driver over libpqx's KEMs, for independent peers to talk to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pqx/mlkem.h>
#include <pqx/xwing.h>

#include "harness.h"

/*
 * One command per line on stdin, one answer line per command on stdout:
 *
 *   mlkemN-keygen D Z        -> EK DK       (N is 512, 768 or 1024)
 *   mlkemN-encaps EK M       -> CT SS
 *   mlkemN-decaps DK CT      -> SS
 *   xwing-pub SEED           -> PK
 *   xwing-encaps PK ESEED    -> CT SS
 *   xwing-decaps SEED CT     -> SS
 *   impl portable|auto       -> the ML-KEM implementation now selected
 *
 * Arguments and results are lowercase hex. A call that fails answers
 * "ERR <code>" with the PQX_ERR_* value; a malformed line answers
 * "ERR usage". Blank lines and lines starting with '#' get no answer.
 */

typedef int (*keygen_fn)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
typedef int (*encaps_fn)(uint8_t *, uint8_t *, const uint8_t *, const uint8_t *);
typedef int (*decaps_fn)(uint8_t *, const uint8_t *, const uint8_t *);

struct kem {
	const char *name;
	size_t ek_bytes, dk_bytes, ct_bytes;
	keygen_fn keygen;
	encaps_fn encaps;
	decaps_fn decaps;
};

static const struct kem kems[] = {
	{ "mlkem512", PQX_MLKEM512_EK_BYTES, PQX_MLKEM512_DK_BYTES, PQX_MLKEM512_CT_BYTES,
	    pqx_mlkem512_keypair_derand, pqx_mlkem512_encaps_derand, pqx_mlkem512_decaps },
	{ "mlkem768", PQX_MLKEM768_EK_BYTES, PQX_MLKEM768_DK_BYTES, PQX_MLKEM768_CT_BYTES,
	    pqx_mlkem768_keypair_derand, pqx_mlkem768_encaps_derand, pqx_mlkem768_decaps },
	{ "mlkem1024", PQX_MLKEM1024_EK_BYTES, PQX_MLKEM1024_DK_BYTES, PQX_MLKEM1024_CT_BYTES,
	    pqx_mlkem1024_keypair_derand, pqx_mlkem1024_encaps_derand, pqx_mlkem1024_decaps },
};

/* The largest buffer any command needs: an ML-KEM-1024 dk. */
#define MAX_ARG 3168

static void put_hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		putchar(digits[p[i] >> 4]);
		putchar(digits[p[i] & 15]);
	}
}

/* Decodes the next space-separated argument into out, exactly n bytes. */
static int get_arg(char **save, uint8_t *out, size_t n)
{
	const char *tok = strtok_r(NULL, " \t\r\n", save);

	return tok != NULL && t_unhex(out, n, tok) == 0 ? 0 : -1;
}

static int no_more_args(char **save)
{
	return strtok_r(NULL, " \t\r\n", save) == NULL ? 0 : -1;
}

/* Runs one ML-KEM command (op is "keygen", "encaps" or "decaps"). */
static void run_mlkem(const struct kem *k, const char *op, char **save)
{
	static uint8_t a[MAX_ARG], b[MAX_ARG], o1[MAX_ARG], o2[MAX_ARG];
	int r;

	if (strcmp(op, "keygen") == 0) {
		if (get_arg(save, a, 32) || get_arg(save, b, 32) || no_more_args(save))
			goto usage;
		if ((r = k->keygen(o1, o2, a, b)) != 0)
			goto err;
		put_hex(o1, k->ek_bytes);
		putchar(' ');
		put_hex(o2, k->dk_bytes);
	} else if (strcmp(op, "encaps") == 0) {
		if (get_arg(save, a, k->ek_bytes) || get_arg(save, b, 32) || no_more_args(save))
			goto usage;
		if ((r = k->encaps(o1, o2, a, b)) != 0)
			goto err;
		put_hex(o1, k->ct_bytes);
		putchar(' ');
		put_hex(o2, 32);
	} else if (strcmp(op, "decaps") == 0) {
		if (get_arg(save, a, k->dk_bytes) || get_arg(save, b, k->ct_bytes) ||
		    no_more_args(save))
			goto usage;
		if ((r = k->decaps(o1, b, a)) != 0)
			goto err;
		put_hex(o1, 32);
	} else {
		goto usage;
	}
	putchar('\n');
	return;
err:
	printf("ERR %d\n", r);
	return;
usage:
	printf("ERR usage\n");
}

static void run_xwing(const char *op, char **save)
{
	static uint8_t a[PQX_XWING_PUBLIC_KEY_BYTES], b[PQX_XWING_CIPHERTEXT_BYTES];
	static uint8_t o1[PQX_XWING_PUBLIC_KEY_BYTES], o2[PQX_XWING_SS_BYTES];
	int r;

	if (strcmp(op, "pub") == 0) {
		if (get_arg(save, a, PQX_XWING_SEED_BYTES) || no_more_args(save))
			goto usage;
		if ((r = pqx_xwing_public_key(o1, a)) != 0)
			goto err;
		put_hex(o1, PQX_XWING_PUBLIC_KEY_BYTES);
	} else if (strcmp(op, "encaps") == 0) {
		if (get_arg(save, a, PQX_XWING_PUBLIC_KEY_BYTES) ||
		    get_arg(save, b, PQX_XWING_ESEED_BYTES) || no_more_args(save))
			goto usage;
		if ((r = pqx_xwing_encaps_derand(o1, o2, a, b)) != 0)
			goto err;
		put_hex(o1, PQX_XWING_CIPHERTEXT_BYTES);
		putchar(' ');
		put_hex(o2, PQX_XWING_SS_BYTES);
	} else if (strcmp(op, "decaps") == 0) {
		if (get_arg(save, a, PQX_XWING_SEED_BYTES) ||
		    get_arg(save, b, PQX_XWING_CIPHERTEXT_BYTES) || no_more_args(save))
			goto usage;
		if ((r = pqx_xwing_decaps(o2, b, a)) != 0)
			goto err;
		put_hex(o2, PQX_XWING_SS_BYTES);
	} else {
		goto usage;
	}
	putchar('\n');
	return;
err:
	printf("ERR %d\n", r);
	return;
usage:
	printf("ERR usage\n");
}

static void run_line(char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " \t\r\n", &save), *op;

	if (cmd == NULL || cmd[0] == '#')
		return;
	if (strcmp(cmd, "impl") == 0) {
		const char *arg = strtok_r(NULL, " \t\r\n", &save);

		if (arg == NULL || no_more_args(&save) != 0 ||
		    (strcmp(arg, "portable") != 0 && strcmp(arg, "auto") != 0)) {
			printf("ERR usage\n");
			return;
		}
		pqx_mlkem_force_portable(strcmp(arg, "portable") == 0);
		printf("%s\n", pqx_mlkem_impl());
		return;
	}
	if ((op = strchr(cmd, '-')) == NULL) {
		printf("ERR usage\n");
		return;
	}
	*op++ = '\0';
	if (strcmp(cmd, "xwing") == 0) {
		run_xwing(op, &save);
		return;
	}
	for (size_t i = 0; i < sizeof(kems) / sizeof(kems[0]); i++)
		if (strcmp(cmd, kems[i].name) == 0) {
			run_mlkem(&kems[i], op, &save);
			return;
		}
	printf("ERR usage\n");
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, stdin) > 0) {
		run_line(line);
		if (fflush(stdout) != 0)
			break;
	}
	free(line);
	return ferror(stdout) ? 1 : 0;
}
