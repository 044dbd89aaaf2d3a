#include <archive.h>
#include <archive_entry.h>

#include "core/dynlib.h"
#include "image/archive-load.h"

typedef struct archive_entry ae_t;

/* The libarchive functions the image files call (core/dynlib.h). */
#define ARCHIVE_FNS(F, P) \
	F(struct archive *, archive_read_new, (void), (), NULL) \
	F(int, archive_read_support_format_tar, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_format_raw, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_filter_gzip, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_filter_bzip2, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_filter_xz, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_support_filter_zstd, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_read_open_fd, (struct archive *a, int fd, size_t block), \
	    (a, fd, block), ARCHIVE_FATAL) \
	F(int, archive_read_open_filename, (struct archive *a, const char *path, \
	    size_t block), (a, path, block), ARCHIVE_FATAL) \
	F(int, archive_read_next_header, (struct archive *a, ae_t **ae), (a, ae), ARCHIVE_FATAL) \
	F(la_ssize_t, archive_read_data, (struct archive *a, void *p, size_t n), (a, p, n), -1) \
	F(int, archive_read_free, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(struct archive *, archive_write_new, (void), (), NULL) \
	F(int, archive_write_set_format_pax_restricted, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_set_format_raw, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_add_filter_zstd, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_set_options, (struct archive *a, const char *opts), (a, opts), \
	    ARCHIVE_FATAL) \
	F(int, archive_write_set_bytes_per_block, (struct archive *a, int n), (a, n), \
	    ARCHIVE_FATAL) \
	F(int, archive_write_open2, (struct archive *a, void *arg, archive_open_callback *o, \
	    archive_write_callback *w, archive_close_callback *c, archive_free_callback *f), \
	    (a, arg, o, w, c, f), ARCHIVE_FATAL) \
	F(int, archive_write_header, (struct archive *a, ae_t *ae), (a, ae), ARCHIVE_FATAL) \
	F(la_ssize_t, archive_write_data, (struct archive *a, const void *p, size_t n), \
	    (a, p, n), -1) \
	F(int, archive_write_close, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(int, archive_write_free, (struct archive *a), (a), ARCHIVE_FATAL) \
	F(const char *, archive_error_string, (struct archive *a), (a), lib.why) \
	F(ae_t *, archive_entry_new, (void), (), NULL) \
	F(ae_t *, archive_entry_clear, (ae_t *ae), (ae), NULL) \
	P(archive_entry_free, (ae_t *ae), (ae)) \
	F(const char *, archive_entry_pathname, (ae_t *ae), (ae), NULL) \
	F(const char *, archive_entry_hardlink, (ae_t *ae), (ae), NULL) \
	F(const char *, archive_entry_symlink, (ae_t *ae), (ae), NULL) \
	F(__LA_MODE_T, archive_entry_filetype, (ae_t *ae), (ae), 0) \
	F(__LA_MODE_T, archive_entry_perm, (ae_t *ae), (ae), 0) \
	F(la_int64_t, archive_entry_uid, (ae_t *ae), (ae), 0) \
	F(la_int64_t, archive_entry_gid, (ae_t *ae), (ae), 0) \
	F(la_int64_t, archive_entry_size, (ae_t *ae), (ae), 0) \
	F(time_t, archive_entry_mtime, (ae_t *ae), (ae), 0) \
	F(dev_t, archive_entry_rdevmajor, (ae_t *ae), (ae), 0) \
	F(dev_t, archive_entry_rdevminor, (ae_t *ae), (ae), 0) \
	P(archive_entry_copy_pathname, (ae_t *ae, const char *s), (ae, s)) \
	P(archive_entry_copy_hardlink, (ae_t *ae, const char *s), (ae, s)) \
	P(archive_entry_copy_symlink, (ae_t *ae, const char *s), (ae, s)) \
	P(archive_entry_copy_uname, (ae_t *ae, const char *s), (ae, s)) \
	P(archive_entry_copy_gname, (ae_t *ae, const char *s), (ae, s)) \
	P(archive_entry_set_pathname, (ae_t *ae, const char *s), (ae, s)) \
	P(archive_entry_set_filetype, (ae_t *ae, unsigned int t), (ae, t)) \
	P(archive_entry_set_perm, (ae_t *ae, __LA_MODE_T m), (ae, m)) \
	P(archive_entry_set_uid, (ae_t *ae, la_int64_t n), (ae, n)) \
	P(archive_entry_set_gid, (ae_t *ae, la_int64_t n), (ae, n)) \
	P(archive_entry_set_size, (ae_t *ae, la_int64_t n), (ae, n)) \
	P(archive_entry_set_mtime, (ae_t *ae, time_t t, long ns), (ae, t, ns)) \
	P(archive_entry_set_rdevmajor, (ae_t *ae, dev_t d), (ae, d)) \
	P(archive_entry_set_rdevminor, (ae_t *ae, dev_t d), (ae, d))

struct dynlib_fns {
	ARCHIVE_FNS(DYNLIB_FIELD, DYNLIB_FIELD_VOID)
};

static const struct dynlib_sym syms[] = {
	ARCHIVE_FNS(DYNLIB_SYM, DYNLIB_SYM_VOID)
};

static struct dynlib_fns fn;
static struct dynlib lib = DYNLIB_INIT(ARCHIVE_LOAD_SONAME, "libarchive", ARCHIVE_LOAD_PACKAGE,
    NULL, syms, fn);
DYNLIB_READY(ready, lib)

int
archive_load(struct err *e)
{
	return ready() ? 0 : dynlib_err(&lib, e);
}

ARCHIVE_FNS(DYNLIB_FORWARD, DYNLIB_FORWARD_VOID)
