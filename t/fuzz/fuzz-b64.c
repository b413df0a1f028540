/* fuzz-b64.c - the strict decoders (base64, base64url, hex) on arbitrary input: whatever
 * decodes must re-encode to exactly the input (one encoding per byte string), and the
 * input itself must survive encode + decode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

struct codec {
	int (*enc)(const void *, size_t, char **);
	int (*dec)(const char *, size_t, unsigned char **, size_t *);
};

static const struct codec codecs[] = {
    {farm_b64_encode, farm_b64_decode},
    {farm_b64url_encode, farm_b64url_decode},
    {farm_hex_encode, farm_hex_decode},
};

static void check(const struct codec *c, const uint8_t *data, size_t size)
{
	unsigned char *bin = NULL;
	size_t binlen = 0;
	char *text = NULL;
	int rc;

	rc = c->dec((const char *)data, size, &bin, &binlen);
	if (rc == FARM_OK) {
		if (!bin || bin[binlen] != '\0' || c->enc(bin, binlen, &text) != FARM_OK)
			abort();
		/* hex accepts upper case: compare case-blind there */
		if (strlen(text) != size ||
		    (c->dec == farm_hex_decode ? strncasecmp(text, (const char *)data, size)
					       : memcmp(text, data, size)))
			abort();
		free(text);
		free(bin);
		text = NULL;
		bin = NULL;
	} else if (rc != FARM_E_INVAL || bin || binlen) {
		abort();
	}

	if (c->enc(data, size, &text) != FARM_OK)
		abort();
	if (c->dec(text, strlen(text), &bin, &binlen) != FARM_OK || binlen != size ||
	    memcmp(bin, data, size))
		abort();
	free(text);
	free(bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		check(&codecs[i], data, size);
	return 0;
}
