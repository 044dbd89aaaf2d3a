#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "core/dynlib.h"

void
dynlib_open(struct dynlib *d)
{
	void *h = dlopen(d->soname, RTLD_LAZY | RTLD_LOCAL);
	size_t i;

	if (!h) {
		const char *dl = dlerror();

		snprintf(d->why, sizeof(d->why), "cannot load %s: %s (install the Debian "
		    "package %s)", d->name, dl ? dl : d->soname, d->package);
		return;
	}
	for (i = 0; i < d->nsyms; i++) {
		void *p = dlsym(h, d->syms[i].name);

		if (!p) {
			snprintf(d->why, sizeof(d->why), "cannot use %s: %s has no %s (%s is "
			    "needed: the Debian package %s)", d->name, d->soname,
			    d->syms[i].name, d->needs ? d->needs : d->name, d->package);
			dlclose(h);
			return;
		}
		/* POSIX: a data pointer from dlsym() holds the function's address. */
		memcpy((char *)d->fns + d->syms[i].off, &p, sizeof(p));
	}
	d->loaded = 1;
}

int
dynlib_err(const struct dynlib *d, struct err *e)
{
	return err_set(e, EX_SERVICE, "%s", d->why);
}
