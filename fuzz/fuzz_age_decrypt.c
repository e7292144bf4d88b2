/* pqx fuzz: whole-file age decryption (armor detection, header, stanzas, STREAM) of arbitrary input. */
#include "fuzz.h"

#include <pqx/age.h>

static pqx_age_identity *ids[3];

/* Fixed identities, so that inputs derived from seeds can reach the payload. */
static void init_ids(void)
{
	static const uint8_t pass[] = "fuzz";

	if (ids[0] != NULL)
		return;
	if (pqx_age_identity_parse(&ids[0],
		"AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0") != 0 ||
	    pqx_age_identity_parse(&ids[1],
		"AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG") != 0 ||
	    /* A low work-factor cap keeps each input fast. */
	    pqx_age_identity_scrypt(&ids[2], pass, sizeof(pass) - 1, 4) != 0)
		abort();
}

struct src {
	const uint8_t *p;
	size_t left;
};

static int src_read(void *ctx, uint8_t *buf, size_t n, size_t *got)
{
	struct src *s = ctx;

	if (n > s->left)
		n = s->left;
	memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	*got = n;
	return 0;
}

static int sink_write(void *ctx, const uint8_t *buf, size_t n)
{
	(void)ctx;
	(void)buf;
	(void)n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src s = { data, size };
	pqx_reader in = { src_read, &s };
	pqx_writer out = { sink_write, NULL };
	pqx_age_options opt;

	init_ids();
	memset(&opt, 0, sizeof(opt));
	opt.threads = 1;
	(void)pqx_age_decrypt(ids, 3, &in, &out, &opt);
	return 0;
}
