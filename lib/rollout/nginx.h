/*
 * nginx: the nginx traffic driver.  ci-canary owns one file, the spec's
 * traffic.file, that holds one upstream block and nothing else; the
 * user's nginx.conf includes it where an upstream block may stand (in
 * "http"):
 *
 *   upstream app {
 *       server 127.0.0.1:8001 weight=90;
 *       server 127.0.0.1:8002 weight=10;
 *   }
 *
 * Weights are the slots' percents; 0 is written "down", since nginx's
 * weights start at 1.  Setting weights writes the file atomically, runs
 * the spec's check ("nginx -t") and, when it passes, the reload ("nginx
 * -s reload"), each as sh -c TEXT with 30 s at most.  When the check
 * fails the previous file (or its absence) is put back before returning,
 * so that no later reload picks up what nginx refused.  A failed reload
 * leaves the new file, which passed the check, for nginx's next reload.
 * nginx reloads as it does: the master starts new workers and lets the
 * old ones finish their requests, so the new weights take over moments
 * after the reload command returns.
 *
 * The weights are read back from the file; a file of any other form
 * (another upstream, other servers, other directives) is refused with
 * its line, for ci-canary would be overwriting someone else's work.
 *
 * nginx (without nginx Plus) has no active health check, so the driver
 * has no health to report: traffic.h calls every server up, and a canary
 * that fails requests must show in the metrics.
 */
#ifndef CI_ROLLOUT_NGINX_H
#define CI_ROLLOUT_NGINX_H

#include "core/log.h"
#include "rollout/spec.h"

/* Refuse (EX_USAGE_) an upstream name or a server address that would
 * not stay one word of the file: letters, digits and '._-' for a name;
 * and ':/[]' too for an address (HOST:PORT, [V6]:PORT, unix:PATH). */
int nginx_check_upstream(const char *name, struct err *e);
int nginx_check_server(const char *addr, struct err *e);

/* The file for weight w[i] (0..100; 0 is "down") of server addr[i], in
 * that order; owned by the caller.  sticky (enum sticky) adds a "hash
 * KEY consistent;" line to the block: $remote_addr for source; for a
 * cookie or header, a map before the block that takes its value, or the
 * client's address while it has none:
 *
 *   map $cookie_session $ci_sticky_app {
 *       "" $remote_addr;
 *       default $cookie_session;
 *   }
 *   upstream app {
 *       hash $ci_sticky_app consistent;
 *       ...
 */
char *nginx_render(const char *upstream, int sticky, const char *sticky_name,
    const char *const addr[2], const int w[2]);

/*
 * Read text, the file at path (named in messages), back: w[i] the weight
 * of addr[i], 0 when it is down.  Anything but what nginx_render() writes
 * for this upstream and these two servers (whitespace and blank lines
 * aside) is refused: -1, EX_USAGE_, "PATH:LINE: what".
 */
int nginx_parse(const char *path, const char *text, const char *upstream, int sticky,
    const char *sticky_name, const char *const addr[2], int w[2], struct err *e);

/*
 * The slot canary gets weight percent (0..100) of the traffic, the slot
 * stable the rest: render, write, check, reload (see above).  Slots are
 * looked up in cfg's servers.  Errors: EX_SERVICE when nginx refused the
 * file (the message names it, with the tail of the check's output) or
 * did not reload; EX_IOERR_ when the file cannot be written; EX_USAGE_
 * for a slot without a server, or a file that is a link or no file.
 */
int nginx_set(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    int weight, struct err *e);

/* The canary's share (0..100) as the file has it. */
int nginx_get(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    int *weight, struct err *e);

#endif
