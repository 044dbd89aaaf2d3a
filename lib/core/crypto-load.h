/*
 * crypto-load: libcrypto (OpenSSL), opened when a stage's work first needs
 * it (see core/dynlib.h for the pattern).
 *
 * libcrypto is the biggest library the tools linked and its constructors
 * ran at every start, for --version and a skipped stage too, while only
 * the work takes a digest (image layers and blobs, secret fingerprints,
 * SARIF fingerprints, Hurl's sha256 and md5 queries) or reads a CA file.
 * crypto-load.c defines each libcrypto function the code calls, under its
 * own name.  libcurl links libcrypto itself: once libcurl is loaded,
 * crypto_load() finds it there and costs a lookup of each symbol.
 *
 * The digest functions cannot report that the library is missing (their
 * callers ignore what they return, or cannot return an error): call
 * crypto_load() where the work begins, after the skip decision, where a
 * missing library is an error of the stage (exit 69 naming the Debian
 * package).  A digest, BIO, PEM, X509 or ERR function called before a
 * crypto_load() that succeeded is a programming error: it says so and
 * aborts.  RAND_bytes() alone (core/encode's fallback when getrandom()
 * is missing) loads libcrypto itself and returns 0 when it cannot.  And
 * oci's one-shot sha256_digest() and sha256_file() work without it, in
 * plain C (crypto_loaded() tells them): ci-push hashes a manifest and a
 * config before it knows whether anything must go up.
 *
 * A libcrypto call new to the code needs its forwarder in crypto-load.c:
 * the link fails without one, as -lcrypto is not on the command line.
 */
#ifndef CI_CRYPTO_LOAD_H
#define CI_CRYPTO_LOAD_H

#include "core/log.h"

#define CRYPTO_LOAD_SONAME "libcrypto.so.3"
#define CRYPTO_LOAD_PACKAGE "libssl3"

/* 0 when libcrypto is loaded (now or before); -1 with e set
 * (EX_SERVICE): "cannot load libcrypto: libcrypto.so.3: ... (install the
 * Debian package libssl3)". */
int crypto_load(struct err *e);
/* 1 when crypto_load() has succeeded (it loads nothing itself). */
int crypto_loaded(void);

#endif
