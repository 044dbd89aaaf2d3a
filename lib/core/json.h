/*
 * json: reading, looking up and writing JSON on top of cJSON.
 *
 * We parse with our own strict parser (RFC 8259, plus optional // and
 * block comments for spec files) and build a cJSON tree, so that errors carry
 * "name:line:col", NUL bytes, duplicate keys and runaway nesting are refused,
 * and integers that a double cannot hold exactly are kept as cJSON_Raw nodes
 * holding their literal text: they print back unchanged and json_get_i64()
 * reads them exactly.  Trees returned are owned by the caller (cJSON_Delete);
 * strings returned by lookups are borrowed from the tree.
 */
#ifndef CI_JSON_H
#define CI_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <cJSON.h>

#include "core/log.h"

#define JSON_MAX_DEPTH 256

/* Where each value of a parsed text came from, for messages. */
struct json_loc {
	const cJSON *item;
	int line, col;
};

struct json_src {
	char *name;		/* file name, "<stdin>", ... */
	struct json_loc *locs;
	size_t n, alloc;
};

struct json_opts {
	const char *name;	/* for messages; "<input>" when NULL */
	int comments;		/* allow // and slash-star comments */
	/*
	 * The tree lasts until the process exits (the pipeline document):
	 * build it from an arena that is never given back, which spares a
	 * page fault per few small allocations.  cJSON_Delete() of it is
	 * still right: it frees what was added to the tree later.  Only
	 * for one tree parsed at start-up, from one thread.
	 */
	int lasting;
};

/*
 * Parse len bytes of text.  On error return NULL and set e (code EX_USAGE_)
 * to "name:line:col: what".  When src is non-NULL it records positions of
 * every value (free with json_src_free()).  Trailing whitespace (and
 * comments, when allowed) after the value is fine; anything else is not.
 */
cJSON *json_parse(const char *text, size_t len, const struct json_opts *o,
    struct json_src *src, struct err *e);

/*
 * Read all of fd or path ("-" means stdin) into a fresh NUL-terminated
 * buffer, refusing more than cap bytes (code EX_IOERR_ for read errors,
 * EX_USAGE_ for the cap).
 */
char *json_slurp_fd(int fd, const char *name, size_t cap, size_t *len, struct err *e);
char *json_slurp(const char *path, size_t cap, size_t *len, struct err *e);

/*
 * The whole of fd (from where it stands to its end), for parsing once:
 * data is NOT NUL-terminated (use len); a large regular file is mapped,
 * anything else read as json_slurp_fd() does.  Returns 0, or -1 with e set
 * as json_slurp_fd() sets it.  Release with json_text_release(), also
 * after a failure: it returns 1 when the mapped file was truncated by
 * someone else meanwhile (what was gone read as NULs, not a SIGBUS; what
 * was parsed is not the document), else 0.  One text at a time.
 */
struct json_text {
	const char *data;
	size_t len;
	void *map;		/* when mapped */
	size_t maplen;
	char *heap;		/* when read */
};

int json_text_read(struct json_text *t, int fd, const char *name, size_t cap, struct err *e);
int json_text_release(struct json_text *t);

/* json_slurp() then json_parse(). */
cJSON *json_load(const char *path, size_t cap, int comments,
    struct json_src *src, struct err *e);

/* "name:line:col" of item, or just "name" when unknown. */
void json_where(const struct json_src *src, const cJSON *item, char *out, size_t outsz);
void json_src_free(struct json_src *src);

/*
 * Look up a dotted path: "run.source.commit", "stages[0].name",
 * "jobs['a.b'].run".  Returns the borrowed item or NULL.
 */
cJSON *json_path(const cJSON *root, const char *path);
/* Borrowed string value of obj[key], or NULL when missing or not a string. */
const char *json_str(const cJSON *obj, const char *key);

/* Exact integer from a number (no fraction, in range), a Raw literal or a
 * decimal string.  Returns 0, or -1 when item is not such an integer. */
int json_get_i64(const cJSON *item, long long *out);
/* Add obj[key] = v exactly (a Raw literal when |v| > 2^53). */
cJSON *json_add_i64(cJSON *obj, const char *key, long long v);
/* Replace obj[key] keeping its position, or append it; takes val. */
void json_set(cJSON *obj, const char *key, cJSON *val);

/* A spec error at item: "FILE:LINE:COL: PATH: what" (EX_USAGE_); -1. */
int json_error_at(struct err *e, const struct json_src *src, const cJSON *at, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Refuse a value of a spec: *bad (when bad is set) points at the offending
 * item, so that the caller can say where it is; e gets the message as a
 * usage error.  Returns -1.
 */
int json_refuse(const cJSON **bad, const cJSON *at, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Compact one-line text, owned by the caller: what cJSON_PrintUnformatted()
 * gives, except that every number reads back exactly (see json.c).
 */
char *json_print(const cJSON *item);
/*
 * The same text written to f through a 64 KiB window (no string of the
 * whole tree).  Returns 0, or -1 when a write failed (errno set by stdio)
 * or the tree is corrupt; f is not flushed.
 */
int json_write(FILE *f, const cJSON *item);

#endif
