/* The pipeline document: core/pipeline's pipeline_read() (parse and
 * validate) from a file descriptor, as a tool reads stdin, and
 * pipeline_write() of what it accepted. */
#include "core/pipeline.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pipeline p;
	struct err e = { 0, "" };
	int fd;

	fuzz_init();
	fd = open(fuzz_file("doc.json", data, size), O_RDONLY);
	if (fd < 0)
		abort();
	/* Read, then written back as the next stage would. */
	if (pipeline_read(&p, fd, "<stdin>", &e) > 0) {
		static FILE *null;

		if (!null && !(null = fopen("/dev/null", "w")))
			abort();
		pipeline_failed_stage(&p);
		pipeline_write(&p, null, &e);
	}
	close(fd);
	pipeline_free(&p);
	return 0;
}
