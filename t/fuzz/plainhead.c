/*
 * The answer to ci-push's HEAD over a plain socket (net/registry's
 * reg_plain_answer()): the input is what the server sent, a status line
 * and header lines.  Only a registry's 200 or 404 is taken; the status
 * and the digest it gives must agree with what the bytes say.
 */
#include "net/registry_int.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *digest;
	int status, ok;

	fuzz_init();
	buf = fuzz_str(data, size);
	ok = reg_plain_answer(buf, size, &status, &digest);
	if (ok) {
		/* Taken: a status line of a 200 or a 404, whole headers. */
		if ((status != 200 && status != 404) || strncmp(buf, "HTTP/1.", 7) != 0 ||
		    !strstr(buf, "\r\n\r\n") || (digest && status != 200))
			abort();
		if (digest && !strstr(buf, digest))
			abort();
	} else if (status != 0 || digest) {
		abort();
	}
	free(digest);
	free(buf);
	return 0;
}
