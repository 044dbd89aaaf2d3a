/* The release ledger: release/ledger's ledger_read() of the input as the
 * file backend's releases.jsonl, then the lookups ci-rollback makes. */
#include "release/ledger.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger l;
	struct release_list list = { NULL, 0 };
	struct err e = { 0, "" };
	size_t i;

	fuzz_init();
	fuzz_file(LEDGER_FILE, data, size);
	if (ledger_open(&l, fuzz_dir(), NULL, "shop", &e) < 0)
		abort();
	if (ledger_read(&l, &list, &e) == 0) {
		ledger_stable(&list);
		ledger_previous(&list);
		ledger_find(&list, "2.4.1");
		for (i = 0; i < list.n; i++)
			free(release_line(&list.v[i]));
	}
	release_list_free(&list);
	ledger_close(&l);
	return 0;
}
