/*
 * nginx: the nginx traffic driver.  ci-canary owns one file, the spec's
 * traffic.file, that holds the upstream block and nothing else; the
 * user's nginx.conf includes it where an upstream block may stand (in
 * "http"):
 *
 *   upstream app {
 *       server 127.0.0.1:8001 weight=90;
 *       server 127.0.0.1:8002 weight=10;
 *   }
 *
 * Weights are the servers' percents; 0 is written "down", since nginx's
 * weights start at 1.  With a baseline the block has a third server, in
 * the order of traffic.servers.  Setting weights writes the file
 * atomically, runs the spec's check ("nginx -t") and, when it passes, the
 * reload ("nginx -s reload"), each as sh -c TEXT with 30 s at most.  When
 * the check fails the previous file (or its absence) is put back before
 * returning, so that no later reload picks up what nginx refused.  A
 * failed reload leaves the new file, which passed the check, for nginx's
 * next reload.  nginx reloads as it does: the master starts new workers
 * and lets the old ones finish their requests, so the new weights take
 * over moments after the reload command returns.
 *
 * A route cannot pick one server of an upstream, so the file has a map
 * from the route's header to an upstream name, $ci_route_UPSTREAM (what
 * a variable name cannot hold as '_'), which the user's proxy_pass uses
 * ("proxy_pass http://$ci_route_app;"), and an upstream of the canary
 * alone, UPSTREAM_canary, while the route leads there:
 *
 *   map $http_x_canary $ci_route_app {
 *       "1" app_canary;
 *       default app;
 *   }
 *   upstream app { ...the weighted servers... }
 *   upstream app_canary {
 *       server 127.0.0.1:8002;
 *   }
 *
 * The route leads to the canary's upstream while the canary has part of
 * the traffic (it is up and so is another server); when it has none
 * (abort) or all (promotion) the line reads '"1" app;' and there is no
 * UPSTREAM_canary block.  The map is always there, so that the
 * variable nginx.conf names always exists.
 *
 * The weights are read back from the file; a file of any other form
 * (another upstream, other servers, other directives, a route line that
 * does not go with the weights) is refused with its line, for ci-canary
 * would be overwriting someone else's work.
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

/* Refuse (EX_USAGE_) a header name nginx's $http_NAME cannot read (1 to
 * 100 letters, digits, '-' and '_'), and a route value that would not
 * stay one string of the map matched as itself: 1 to 100 printable ASCII
 * bytes but blanks, '"', '\\', '$', '{', '}' and ';'; not starting with '~'
 * (a regular expression); not "default" nor "include", the map's words. */
int nginx_check_header(const char *name, struct err *e);
int nginx_check_route_value(const char *value, struct err *e);

/* What the file holds besides the weights, the same for every rendering
 * of one rollout; strings borrowed. */
struct nginx_file {
	const char *upstream;
	int sticky;			/* enum sticky */
	const char *sticky_name;	/* its cookie or header, or NULL */
	const char *route_header;	/* NULL: no route */
	const char *route_value;
	/* The servers in the order of traffic.servers: the two slots and
	 * the baseline's, or NULL after the last. */
	const char *addr[TRAFFIC_SERVERS_MAX];
	int canary;			/* which of addr is the canary's, for the route */
};

/* The file for weight w[i] (0..100; 0 is "down") of server f->addr[i];
 * owned by the caller.  sticky adds a "hash KEY consistent;" line to the
 * block: $remote_addr for source; for a cookie or header, a map before
 * the block that takes its value, or the client's address while it has
 * none:
 *
 *   map $cookie_session $ci_sticky_app {
 *       "" $remote_addr;
 *       default $cookie_session;
 *   }
 *   upstream app {
 *       hash $ci_sticky_app consistent;
 *       ...
 *
 * A route adds its map after the sticky one and, while it leads to the
 * canary, the canary's upstream after the block (see above).
 */
char *nginx_render(const struct nginx_file *f, const int w[TRAFFIC_SERVERS_MAX]);

/*
 * Read text, the file at path (named in messages), back: w[i] the weight
 * of f->addr[i], 0 when it is down.  Anything but what nginx_render()
 * writes for f and some weights (whitespace and blank lines aside) is
 * refused: -1, EX_USAGE_, "PATH:LINE: what".
 */
int nginx_parse(const char *path, const char *text, const struct nginx_file *f,
    int w[TRAFFIC_SERVERS_MAX], struct err *e);

/*
 * The slot canary gets weight percent (0..100) of the traffic, the
 * baseline (cfg->baseline) baseline_weight, the slot stable the rest:
 * render, write, check, reload (see above).  Servers are looked up in
 * cfg's.  Errors: EX_SERVICE when nginx refused the file (the message
 * names it, with the tail of the check's output) or did not reload;
 * EX_IOERR_ when the file cannot be written; EX_USAGE_ for a slot
 * without a server, or a file that is a link or no file.
 */
int nginx_set(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    int weight, int baseline_weight, struct err *e);

/* The canary's share (0..100) of the weights the file has. */
int nginx_get(const struct rollout_traffic *cfg, const char *stable, const char *canary,
    int *weight, struct err *e);

#endif
