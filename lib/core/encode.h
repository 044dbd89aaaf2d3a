/*
 * encode: base64 (standard and URL-safe alphabets), hex, and random bytes.
 *
 * One decoder serves every caller: Docker's config "auth" fields, Hurl's
 * base64 bodies and filters, JWT segments the secret scanner peeks into.
 * Decoding is strict about the alphabet and lenient where real inputs are
 * (padding optional, blanks and newlines skipped); a character outside the
 * alphabet is an error, never a silent stop.
 *
 * Random bytes come from OpenSSL's RAND_bytes only: when it fails there is
 * no weaker fallback, the call fails (random ids, upload names and jitter
 * must not be predictable).
 *
 * Returned buffers belong to the caller; decoded data is NUL-terminated
 * (one byte beyond *len) so text can be used as a string.
 */
#ifndef CI_ENCODE_H
#define CI_ENCODE_H

#include <stddef.h>

enum b64_alphabet {
	B64_STD,	/* RFC 4648 section 4: '+' '/' */
	B64_URL,	/* RFC 4648 section 5: '-' '_' */
	B64_ANY		/* decoding only: either alphabet (JWTs in the wild) */
};

/* Encode n bytes; pad adds '=' to a multiple of 4 (STD normally does, URL
 * in JWTs does not). */
char *b64_encode(const void *p, size_t n, enum b64_alphabet a, int pad);

/*
 * Decode s (n bytes).  Blanks and newlines are skipped, '=' padding is
 * optional but nothing may follow it.  Returns 0 with *out (caller frees)
 * and *len, or -1 on a character outside the alphabet or a dangling
 * 6-bit group.
 */
int b64_decode(const char *s, size_t n, enum b64_alphabet a, unsigned char **out,
    size_t *len);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const void *p, size_t n, char *out);
/* Decode 2n hex digits (either case, blanks skipped); -1 on anything else. */
int hex_decode(const char *s, size_t n, unsigned char **out, size_t *len);

/* Fill p with n cryptographically random bytes (the kernel's getrandom,
 * else OpenSSL's); -1 when the generator fails. */
int random_bytes(void *p, size_t n);
/* n random lowercase hex digits into out (n+1 bytes); -1 as above. */
int random_hex(char *out, size_t n);
/* A uniformly random integer in [0, n); 0 when n <= 1 or on failure. */
unsigned long long random_below(unsigned long long n);

/*
 * s with the userinfo of every URL in it ("scheme://user:pw@host...")
 * shown as "***@": what may be printed or stored of a URL that may carry
 * credentials, or of a message quoting one (libcurl's, git's).  The one
 * redaction of URLs: every URL a tool prints, or writes into the
 * document, a report, state or a log goes through it.  An authority ends
 * at '/', '?', '#' or a blank; its last '@' ends the userinfo.  Text
 * without one comes back unchanged.  Fresh string.
 */
char *url_redact(const char *s);

#endif
