/*
 * archive-load: libarchive, opened the first time ci-build writes or reads
 * a tar (see core/dynlib.h for the pattern).
 *
 * libarchive pulls in thirteen libraries (ICU's through libxml2, nettle,
 * the compressors, libstdc++): most of ci-build's start-up, while
 * --version, a skipped stage and a build whose layers are all cached read
 * and write no tar.  archive-load.c defines each libarchive function the
 * image files call; the first call of any of them, or of archive_load(),
 * opens ARCHIVE_LOAD_SONAME.  When it cannot be loaded each fails as
 * libarchive does (NULL, ARCHIVE_FATAL, -1), archive_error_string() says
 * why, and the rest do nothing; call archive_load() before the first one,
 * where the error can be reported.
 */
#ifndef CI_ARCHIVE_LOAD_H
#define CI_ARCHIVE_LOAD_H

#include "core/log.h"

#define ARCHIVE_LOAD_SONAME "libarchive.so.13"
#define ARCHIVE_LOAD_PACKAGE "libarchive13"

/* 0 when libarchive is loaded (now or before); -1 with e set
 * (EX_SERVICE): "cannot load libarchive: libarchive.so.13: ... (install
 * the Debian package libarchive13)". */
int archive_load(struct err *e);

#endif
