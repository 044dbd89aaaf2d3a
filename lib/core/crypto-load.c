#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "core/crypto-load.h"
#include "core/dynlib.h"

/* The libcrypto functions the code calls (core/dynlib.h); fail is unused
 * by all but RAND_bytes (see core/crypto-load.h). */
#define CRYPTO_FNS(F, P) \
	F(EVP_MD_CTX *, EVP_MD_CTX_new, (void), (), NULL) \
	P(EVP_MD_CTX_free, (EVP_MD_CTX *ctx), (ctx)) \
	F(int, EVP_DigestInit_ex, (EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl), \
	    (ctx, type, impl), 0) \
	F(int, EVP_DigestUpdate, (EVP_MD_CTX *ctx, const void *d, size_t cnt), \
	    (ctx, d, cnt), 0) \
	F(int, EVP_DigestFinal_ex, (EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s), \
	    (ctx, md, s), 0) \
	F(int, EVP_Digest, (const void *data, size_t count, unsigned char *md, \
	    unsigned int *size, const EVP_MD *type, ENGINE *impl), \
	    (data, count, md, size, type, impl), 0) \
	F(const EVP_MD *, EVP_sha256, (void), (), NULL) \
	F(const EVP_MD *, EVP_md5, (void), (), NULL) \
	F(BIO *, BIO_new_file, (const char *filename, const char *mode), (filename, mode), \
	    NULL) \
	F(int, BIO_free, (BIO *a), (a), 0) \
	F(X509 *, PEM_read_bio_X509, (BIO *out, X509 **x, pem_password_cb *cb, void *u), \
	    (out, x, cb, u), NULL) \
	F(int, X509_STORE_add_cert, (X509_STORE *xs, X509 *x), (xs, x), 0) \
	P(X509_free, (X509 *a), (a)) \
	P(ERR_clear_error, (void), ())

struct dynlib_fns {
	CRYPTO_FNS(DYNLIB_FIELD, DYNLIB_FIELD_VOID)
	int (*RAND_bytes)(unsigned char *buf, int num);
};

static const struct dynlib_sym syms[] = {
	CRYPTO_FNS(DYNLIB_SYM, DYNLIB_SYM_VOID)
	{ "RAND_bytes", offsetof(struct dynlib_fns, RAND_bytes) },
};

static struct dynlib_fns fn;
static struct dynlib lib = DYNLIB_INIT(CRYPTO_LOAD_SONAME, "libcrypto", CRYPTO_LOAD_PACKAGE,
    NULL, syms, fn);
DYNLIB_READY(ready, lib)

int
crypto_load(struct err *e)
{
	return ready() ? 0 : dynlib_err(&lib, e);
}

int
crypto_loaded(void)
{
	return lib.loaded;
}

/* A libcrypto function called before crypto_load() succeeded: the work
 * that called it did not load the library first. */
static void
unloaded(const char *name)
{
	if (lib.loaded)
		return;
	log_error("internal error: %s called before crypto_load()", name);
	abort();
}

#define FORWARD(ret, name, params, args, fail) \
ret name params { unloaded(#name); return fn.name args; }
#define FORWARD_VOID(name, params, args) \
void name params { unloaded(#name); fn.name args; }

CRYPTO_FNS(FORWARD, FORWARD_VOID)

/* The one that may run before any work: core/encode's fallback. */
int
RAND_bytes(unsigned char *buf, int num)
{
	return ready() ? fn.RAND_bytes(buf, num) : 0;
}
