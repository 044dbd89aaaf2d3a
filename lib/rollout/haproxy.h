/*
 * haproxy: HAProxy's runtime API over its stats socket ("stats socket
 * PATH level admin" or "stats socket ipv4@127.0.0.1:PORT level admin").
 * One command per connection, as HAProxy's non-interactive mode does.
 *
 *   haproxy_cmd()        send one command, read the whole answer
 *   haproxy_show_stat()  "show stat" parsed: one row per proxy/server,
 *                        fields found by their header name, not position
 *   haproxy_info()       Pid and Uptime_sec from "show info" (to detect
 *                        a reload or restart: counters start again)
 *   get/set weight, set state (ready/drain/maint), shutdown sessions,
 *   save "show servers state" to the server-state file.
 *
 * Errors name the socket and the command: "haproxy at 'ADDR': 'set
 * weight app/green 5': No such server."  An unreachable socket is
 * EX_SERVICE (69, sysexits' EX_UNAVAILABLE); an answer we cannot parse is
 * EX_SERVICE with the line and column.  A command HAProxy refuses is
 * EX_USAGE_ when it names something the spec gave (no such backend or
 * server), EX_AUTH when the socket's level is too low ("Permission
 * denied": it needs "level admin"), else EX_SERVICE.  Names and commands
 * that could smuggle a second command into the runtime API (';', a
 * newline) are refused with EX_USAGE_ before anything is sent.
 * Strings in the structs are owned by them; *_free() releases them.
 */
#ifndef CI_ROLLOUT_HAPROXY_H
#define CI_ROLLOUT_HAPROXY_H

#include <stddef.h>

#include "core/log.h"

/* The largest answer haproxy_cmd() accepts ("show stat" of a big site is
 * a few MiB); a longer one is an error, never a truncated answer. */
#define HAPROXY_ANSWER_MAX (16 * 1024 * 1024)
/* The longest backend or server name haproxy_check_name() accepts. */
#define HAPROXY_NAME_MAX 100

struct haproxy {
	const char *addr;	/* a socket path, or "HOST:PORT", "[V6]:PORT",
				 * "ipv4@HOST:PORT", "ipv6@HOST:PORT", "unix@PATH" */
	long long timeout_ms;	/* per command: connect, send and read (0: 5000) */
};

/* One row of "show stat". */
struct hap_row {
	char *px;		/* pxname */
	char *sv;		/* svname: a server, FRONTEND or BACKEND */
	long long stot;		/* cumulative sessions (-1 when the column is empty) */
	long long req_tot;	/* HTTP requests (-1: empty, or no such column) */
	long long hrsp[6];	/* hrsp_other, hrsp_1xx .. hrsp_5xx (-1: empty) */
	long long econ, eresp;	/* connection and response errors (-1: empty) */
	long long weight;	/* current weight (-1: empty) */
	char *status;		/* "UP", "DOWN", "MAINT", "no check", "UP 1/3"... */
	char *check_status;	/* "L7OK", "L4CON"... or "" */
	long long rtime;	/* average response time, ms, last 1024 (-1: empty) */
	char *cookie;		/* a server's cookie value; a backend's cookie name, or "" */
	char *algo;		/* a backend's balance algorithm ("roundrobin", "hdr", "source"...) */
	char *addr;		/* a server's HOST:PORT, or "" */
};

struct hap_stat {
	struct hap_row *rows;
	size_t n;
};

/* Send cmd (no newline needed); *out is the answer (owned, NUL-ended).
 * A successful "set ..." command answers "" or "\n"; anything else is
 * HAProxy's complaint, which the callers below turn into an error. */
int haproxy_cmd(const struct haproxy *h, const char *cmd, char **out, struct err *e);

/* 0 when name is a usable backend or server name: 1 to HAPROXY_NAME_MAX
 * of [A-Za-z0-9._:-]; else -1, EX_USAGE_, naming it ("backend 'a;b'").
 * what is "backend" or "server", for the message. */
int haproxy_check_name(const char *what, const char *name, struct err *e);

/* Parse the CSV of "show stat" (the "# pxname,svname,..." header first).
 * name is used in error messages ("show stat:3:17: ...").  On error *st
 * is left empty. */
int hap_stat_parse(const char *csv, const char *name, struct hap_stat *st, struct err *e);
void hap_stat_free(struct hap_stat *st);
/* The row of backend px, server sv, or NULL. Borrowed. */
const struct hap_row *hap_stat_find(const struct hap_stat *st, const char *px, const char *sv);

int haproxy_show_stat(const struct haproxy *h, struct hap_stat *st, struct err *e);
/* pid or uptime_sec may be NULL. */
int haproxy_info(const struct haproxy *h, long long *pid, long long *uptime_sec, struct err *e);

/* "get weight B/S": the current and initial weight. */
int haproxy_get_weight(const struct haproxy *h, const char *px, const char *sv,
    int *cur, int *init, struct err *e);
/* "set weight B/S N" (0..256). */
int haproxy_set_weight(const struct haproxy *h, const char *px, const char *sv, int w,
    struct err *e);
/* "set server B/S state ready|drain|maint". */
int haproxy_set_state(const struct haproxy *h, const char *px, const char *sv,
    const char *state, struct err *e);
/* "shutdown sessions server B/S": users pinned to it move at once. */
int haproxy_shutdown_sessions(const struct haproxy *h, const char *px, const char *sv,
    struct err *e);
/* "show servers state [B]" (every backend when px is NULL) written
 * atomically to path (HAProxy's server-state-file), so that a reload
 * keeps the weights and the admin states. */
int haproxy_save_state(const struct haproxy *h, const char *px, const char *path, struct err *e);

/* "show map MAP": the value of key (owned) into *value: 1, or 0 when the
 * map has no such key.  A map HAProxy did not load is EX_USAGE_. */
int haproxy_map_get(const struct haproxy *h, const char *map, const char *key, char **value,
    struct err *e);
/* Make key map to value in MAP ("add map" or "set map"); value NULL
 * removes the key ("del map").  Nothing is sent when it already holds. */
int haproxy_map_set(const struct haproxy *h, const char *map, const char *key, const char *value,
    struct err *e);

#endif
