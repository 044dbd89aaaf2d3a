/* Test and coverage reports: format/report's junit_parse_text() and
 * coverage_parse_text() for lcov, Cobertura and Istanbul, each on the
 * whole input (a wrong format is refused early, a right one goes deep). */
#include "format/report.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int formats[] = { COV_LCOV, COV_COBERTURA, COV_ISTANBUL };
	struct junit_result jr;
	struct coverage c;
	struct err e = { 0, "" };
	size_t i;

	fuzz_init();
	memset(&jr, 0, sizeof(jr));
	junit_parse_text((const char *)data, size, "junit.xml", &jr, &e);
	junit_result_free(&jr);
	for (i = 0; i < sizeof(formats) / sizeof(*formats); i++) {
		coverage_parse_text((const char *)data, size, "coverage", formats[i], &c, &e);
		coverage_free(&c);
	}
	return 0;
}
