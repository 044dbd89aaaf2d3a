/* The rollback block: gate/block's block_read() of the input as the
 * state directory's blocked.json. */
#include "gate/block.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct block b;
	struct err e = { 0, "" };

	fuzz_init();
	fuzz_file(BLOCK_FILE, data, size);
	block_read(fuzz_dir(), &b, &e);
	block_free(&b);
	return 0;
}
