/*
 * traffic: the one interface ci-canary has to the load balancer, whatever
 * drives it: set the canary's share, read the shares back, take the
 * canary out at once (abort), hand it all traffic (promote), and ask
 * the load balancer's health check about a server.
 *
 *   haproxy  the runtime API (rollout/haproxy.h): weights out of 100 on
 *            the two slots of one backend; abort puts the canary in maint
 *            and shuts its sessions, so users pinned to it by a cookie or
 *            a hash land on stable at once; after every change "show
 *            servers state" goes to the server-state file when the spec
 *            names one, so a reload keeps the weights.
 *   nginx    the upstream block in a file of its own, checked with the
 *            spec's "nginx -t" and reloaded (rollout/nginx.h): a weight
 *            of 0 is "down", and a file nginx refuses is put back as it
 *            was; a route is a map in that file and an upstream of the
 *            canary alone; no health check to ask, so every server is up.
 *   exec     the user's commands, as sh -c TEXT with {{stable_weight}},
 *            {{canary_weight}}, {{image}}, {{stable}} and {{canary}}
 *            turned into "$1".."$5": the values travel as arguments, never
 *            spliced into the text.
 *
 * Weights are percents of traffic to the canary (0..100); the stable slot
 * gets the rest.  With a baseline (every driver), the baseline gets as
 * much as the canary while the canary has at most half, and the stable
 * slot the rest: 5 -> 90/5/5, 50 -> 0/50/50, 100 -> 0/100/0.  A route
 * (haproxy, nginx) sends the requests whose header has the route's value
 * to the canary whenever it has traffic: HAProxy's map maps that value to
 * the canary's name, and the entry goes when the canary has none; nginx's
 * map leads it to the canary's upstream, and to the main one at 0 and 100.
 */
#ifndef CI_ROLLOUT_TRAFFIC_H
#define CI_ROLLOUT_TRAFFIC_H

#include "core/log.h"
#include "rollout/haproxy.h"
#include "rollout/spec.h"

struct traffic {
	const struct rollout_traffic *cfg;
	struct haproxy hap;
	const char *image;	/* the release, for {{image}} */
	const char *stable;	/* slot names */
	const char *canary;
	const char *baseline;	/* the spec's third server, or NULL */
};

/* What the canary is compared with: the baseline when there is one. */
#define traffic_compare(t) ((t)->baseline ? (t)->baseline : (t)->stable)

void traffic_init(struct traffic *t, const struct rollout_traffic *cfg, const char *image);

/* The canary gets weight percent (0..100), stable the rest. */
int traffic_set(struct traffic *t, int weight, struct err *e);

/* The canary's share as the load balancer has it (nginx: as the file
 * has it): 1 with *weight set, 0 when the driver cannot tell (exec
 * without a get command). */
int traffic_get(struct traffic *t, int *weight, struct err *e);

/* All traffic to stable now, the canary drained of its users. */
int traffic_abort(struct traffic *t, struct err *e);

/* The canary takes all traffic (exec: then the promote command). */
int traffic_promote(struct traffic *t, struct err *e);

/* HAProxy's view of a slot: *up 1 (UP or no check), 0 (DOWN, MAINT...);
 * status (may be NULL) gets its words.  exec and nginx: always up. */
int traffic_health(struct traffic *t, const char *slot, int *up, char *status, size_t statussz,
    struct err *e);

/*
 * Check that the load balancer does what the spec says before anything
 * changes: the backend and its servers exist; stickiness is configured
 * as traffic.sticky says (HAProxy: the backend's cookie and each
 * server's, or the balance algorithm "hdr" or "source", read back from
 * "show stat"); HAProxy loaded the route's map.  EX_USAGE_ with what to
 * add to the configuration when it does not.
 */
int traffic_check(struct traffic *t, struct err *e);

/* The two slots' weights straight from HAProxy (discovery of the stable
 * slot before any state exists). */
int traffic_slot_weights(struct traffic *t, int *w0, int *w1, struct err *e);

/* text with each {{names[i]}} replaced by values[i] (not for a shell:
 * rollout_sh() is); owned. */
char *rollout_subst(const char *text, const char *const *names, const char *const *values,
    int n);

/*
 * Run the user's text as sh -c with each {{names[i]}} replaced by "$N",
 * values[i] passed as that argument; stdout captured (1 MiB), 60 s at
 * most.  Returns 0 when the command exited 0 (*out, owned, is its stdout),
 * else -1 with e naming what (EX_SERVICE) and the tail of its stderr.
 */
int rollout_sh(const char *what, const char *text, const char *const *names,
    const char *const *values, int n, char **out, struct err *e);

#endif
