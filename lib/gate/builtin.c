/*
 * builtin: the built-in jobs and their child protocol.  See builtin.h.
 */
#include <string.h>

#include "gate/builtin.h"
#include "gate/review.h"
#include "gate/secrets.h"

int
gate_builtin_known(const char *name)
{
	return name && (!strcmp(name, "secrets") || !strcmp(name, "review"));
}

int
gate_builtin_check(const char *builtin, const cJSON *opts, const char *const *ignore,
    const cJSON **bad, struct err *e)
{
	int rc;

	if (!strcmp(builtin, "secrets")) {
		struct secrets_opts so;

		secrets_opts_init(&so);
		rc = secrets_opts_parse(&so, opts, ignore, bad, e);
		secrets_opts_free(&so);
	} else {
		struct review_opts ro;

		review_opts_init(&ro);
		rc = review_opts_parse(&ro, opts, ignore, bad, e);
		review_opts_free(&ro);
	}
	return rc;
}
