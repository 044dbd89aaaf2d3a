/*
 * secrets-scan: the secret scanner's matching, as its sources use it.
 *
 * secrets-scan.c owns struct secrets (the compiled rules and allowlists,
 * the loaded baseline, the keyword automaton and the scratch buffers
 * reused from file to file), reading a file with the size cap, matching
 * its lines, the checks that keep false positives out (entropy,
 * placeholders, private key bodies, JWT headers, key names), and the
 * findings: their place, fingerprint and redacted form, and their JSON.
 * secrets-source.c (the files git tracks, a tree, a diff) calls the
 * pieces below and secrets_scan_text().
 *
 * Internal to lib/gate: other code includes gate/secrets.h.  A struct
 * secrets is used by one thread at a time (its scratch is its own); more
 * threads scan with forks of it (secrets_fork).
 */
#ifndef CI_SECRETS_SCAN_H
#define CI_SECRETS_SCAN_H

#include <stddef.h>

#include "gate/secrets.h"

/* Bytes checked for a NUL to call a file binary, as git does. */
#define SECRETS_BINARY_PROBE 8000

/* 1 when the first SECRETS_BINARY_PROBE of the n bytes at p hold a NUL. */
int secrets_binary(const char *p, size_t n);

/*
 * Scan the file at path (relative to the directory scanned from) when it
 * is a regular file (not followed through a symlink), no larger than the
 * options' max_file_size, not allowlisted and not binary; otherwise count
 * why it was skipped in r->st.  It is opened as name in the directory
 * dirfd (AT_FDCWD: name is path), which spares the kernel a walk of the
 * whole path.  regular: its directory listed it as a regular file
 * (d_type), so it is opened without a look first.
 */
void secrets_scan_file(struct secrets *s, int dirfd, const char *name, const char *path,
    int regular, struct secrets_result *r);

/*
 * A scanner for another thread: s's rules, prefilter, allowlists and
 * baseline (shared, read only while both live), its own compiled
 * expressions and scratch.  Free it with secrets_free() before s.
 */
struct secrets *secrets_fork(const struct secrets *s);

/* -1 with e set when one of the rules s ran did not compile (each is
 * compiled when first needed; a built-in rule always does). */
int secrets_failed(const struct secrets *s, struct err *e);

/* The options s was made with (borrowed: the caller of secrets_new()'s). */
const struct secrets_opts *secrets_options(const struct secrets *s);

#endif
