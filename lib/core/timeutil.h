/*
 * timeutil: durations and times.
 *
 * Durations are written as a sequence of number+unit: "500ms", "10s", "5m",
 * "1h30m", "1.5s" (units ms, s, m, h; a bare "0" is allowed).  Times are
 * RFC 3339 in UTC with a Z ("2026-11-26T09:00:00Z").
 */
#ifndef CI_TIMEUTIL_H
#define CI_TIMEUTIL_H

#include <signal.h>
#include <stddef.h>
#include <time.h>

/* Parse a duration into milliseconds; -1 on bad input (*why says what). */
int parse_duration(const char *s, long long *ms, const char **why);
/* Shortest exact form: 1500 -> "1.5s", 5400000 -> "1h30m", 250 -> "250ms". */
void format_duration(long long ms, char *out, size_t outsz);

/* Wall-clock milliseconds since the epoch, and monotonic milliseconds. */
long long now_ms(void);
long long mono_ms(void);

/*
 * Sleep ms milliseconds, resuming after signals, unless stop is non-NULL
 * and set by a signal handler: then return -1 at once (a tool that was
 * told to stop does not sit out a backoff).  Returns 0 after the full time.
 */
int sleep_ms(long long ms, const volatile sig_atomic_t *stop);

/* "2026-11-26T09:00:00Z" (millis are dropped); out needs 21 bytes. */
void format_rfc3339(time_t t, char *out, size_t outsz);
/* The same with milliseconds, from wall-clock ms since the epoch:
 * "2026-11-26T09:00:00.123Z"; out needs 25 bytes. */
void format_rfc3339_ms(long long ms, char *out, size_t outsz);
/* Accepts Z or +hh:mm offsets and fractional seconds; -1 on bad input. */
int parse_rfc3339(const char *s, time_t *t);

#endif
