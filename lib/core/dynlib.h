/*
 * dynlib: a shared library opened the first time a tool needs it, not at
 * start-up.
 *
 * Each library a tool links costs every start: the loader maps it and its
 * own libraries and relocates them all, for --version and for a stage
 * skipped after an upstream failure too.  A library that only part of the
 * work needs (libcurl for a request, libxml2 for an XPath query,
 * libarchive for a tar) is not linked; its loader (net/curl-load,
 * smoke/xml-load, image/archive-load) defines each function of it that the
 * code calls, under the library's own name, as a forwarder to the one
 * dlsym() finds.  The code calls the library as usual and compiles
 * against its headers; a function new to the code needs its line in the
 * loader's list, or the link fails (the library is not on the command
 * line).
 *
 * struct dynlib names the library, its Debian package and the symbols to
 * resolve; dynlib_open() opens it once (the loader calls it through
 * pthread_once()) and either fills the table and sets loaded, or leaves
 * loaded 0 and says in why what is missing, as a whole message naming the
 * package.  dynlib_err() reports that message as EX_SERVICE (69).
 *
 * The list of a loader's functions is an X-macro: one
 * F(ret, name, (params), (args), fail) for a function that returns a
 * value (fail when the library cannot be loaded), one
 * P(name, (params), (args)) for a function without one.  DYNLIB_FIELD*
 * make the table (struct dynlib_fns, local to the loader), DYNLIB_SYM* the
 * symbols, DYNLIB_FORWARD* the forwarders; these call the loader's own
 * static int ready(void) (1 once the library is loaded, loading it on
 * the first call) and read its static struct dynlib_fns fn.
 */
#ifndef CI_DYNLIB_H
#define CI_DYNLIB_H

#include <pthread.h>
#include <stddef.h>

#include "core/log.h"

struct dynlib_sym {
	const char *name;
	size_t off;		/* of its pointer in the loader's table */
};

struct dynlib {
	const char *soname;	/* "libxml2.so.2": what dlopen() is given */
	const char *name;	/* "libxml2": what messages call it */
	const char *package;	/* "libxml2": the Debian package that has it */
	const char *needs;	/* "libcurl 7.85 or later" when a missing symbol
				 * means too old a library, or NULL */
	const struct dynlib_sym *syms;
	size_t nsyms;
	void *fns;		/* the table syms[i].off point into */
	int loaded;		/* set by dynlib_open(): every symbol resolved */
	char why[512];		/* when not loaded: why, as a whole message */
};

/* Open d->soname and resolve each symbol into d->fns.  Once per d. */
void dynlib_open(struct dynlib *d);

/* -1 with e set (EX_SERVICE) to d->why: "cannot load libxml2:
 * libxml2.so.2: cannot open shared object file: ... (install the Debian
 * package libxml2)". */
int dynlib_err(const struct dynlib *d, struct err *e);

/* static struct dynlib lib = DYNLIB_INIT(...): syms an array, fns the table. */
#define DYNLIB_INIT(soname, name, package, needs, syms, fns) \
	{ soname, name, package, needs, syms, sizeof(syms) / sizeof(syms[0]), &fns, 0, "" }

#define DYNLIB_READY(ready, lib) \
static pthread_once_t lib##_once = PTHREAD_ONCE_INIT; \
static void lib##_open(void) { dynlib_open(&lib); } \
static int ready(void) { pthread_once(&lib##_once, lib##_open); return lib.loaded; }

#define DYNLIB_FIELD(ret, name, params, args, fail) ret (*name) params;
#define DYNLIB_FIELD_VOID(name, params, args) void (*name) params;
#define DYNLIB_SYM(ret, name, params, args, fail) { #name, offsetof(struct dynlib_fns, name) },
#define DYNLIB_SYM_VOID(name, params, args) { #name, offsetof(struct dynlib_fns, name) },
#define DYNLIB_FORWARD(ret, name, params, args, fail) \
ret name params { return ready() ? fn.name args : fail; }
#define DYNLIB_FORWARD_VOID(name, params, args) \
void name params { if (ready()) fn.name args; }

#endif
