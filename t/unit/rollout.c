/* Unit tests for lib/rollout: the spec's steps, Prometheus answers, the
 * state's snapshot and journal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "rollout/metrics.h"
#include "rollout/spec.h"
#include "rollout/state.h"

static void
test_steps(void)
{
	static const struct {
		const char *list;
		int ok;
		const char *msg;
	} cases[] = {
		{ "5,25,50,100", 1, NULL },
		{ "100", 1, NULL },
		{ "1,2,3,100", 1, NULL },
		{ "", 0, "the last weight must be 100" },
		{ "5,50", 0, "the last weight must be 100" },
		{ "5,5,100", 0, "weights must increase: 5 after 5" },
		{ "50,25,100", 0, "weights must increase: 25 after 50" },
		{ "0,100", 0, "expected increasing weights" },
		{ "5,101", 0, "expected increasing weights" },
		{ "5,,100", 0, "expected increasing weights" },
		{ "5;100", 0, "expected increasing weights" },
		{ "-5,100", 0, "expected increasing weights" },
		{ "99999999999999999999,100", 0, "expected increasing weights" },
		{ "5,100,", 0, "expected increasing weights" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rollout_spec s;
		struct err e = { 0, "" };
		int rc;

		rollout_spec_init(&s);
		rc = rollout_spec_set_steps(&s, cases[i].list, 60000, &e);
		if (cases[i].ok) {
			ok(rc == 0 && s.steps[s.nsteps - 1].weight == 100 &&
			    s.steps[s.nsteps - 1].pause_ms == 0 &&
			    (s.nsteps == 1 || s.steps[0].pause_ms == 60000),
			    "--steps '%s' is taken, the last step without a pause", cases[i].list);
		} else {
			ok(rc < 0 && e.code == EX_USAGE_, "--steps '%s' is refused", cases[i].list);
			like(e.msg, cases[i].msg, "... saying why");
			is_int(s.nsteps, 4, "... and the seed's steps stay");
		}
		rollout_spec_free(&s);
	}
}

static void
test_defaults(void)
{
	struct rollout_spec s;

	rollout_spec_init(&s);
	ok(s.nsteps == 4 && s.steps[0].weight == 5 && s.steps[0].pause_ms == 600000 &&
	    s.steps[1].weight == 25 && s.steps[1].pause_ms == 600000 &&
	    s.steps[2].weight == 50 && s.steps[2].pause_ms == 300000 &&
	    s.steps[3].weight == 100 && s.steps[3].pause_ms == 0,
	    "the seed's steps: 5 (10m), 25 (10m), 50 (5m), 100");
	ok(s.interval_ms == 60000 && s.failure_limit == 3, "analysis every 60s, failure limit 3");
	ok(s.nmetrics == 2 && s.metrics[0].source == METRIC_HAPROXY && s.metrics[0].has_max &&
	    s.metrics[0].max == 5 && s.metrics[1].source == METRIC_HEALTH && s.metrics[1].critical,
	    "error rate under 5%%, and the health check as a critical metric");
	rollout_spec_set_max(&s, METRIC_HAPROXY, "error-rate", 2.5);
	ok(s.nmetrics == 2 && s.metrics[0].max == 2.5, "--max-error-rate sets the haproxy metric's max");
	rollout_spec_set_max(&s, METRIC_EXEC, "x", 1);
	ok(s.nmetrics == 3 && s.metrics[2].source == METRIC_EXEC, "... or adds the metric");
	rollout_spec_free(&s);
}

static void
test_prometheus(void)
{
	static const struct {
		const char *body;
		int rc;
		double v;
		const char *msg;
	} cases[] = {
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
		  "[{\"metric\":{\"server\":\"green\"},\"value\":[1733390000.123,\"0.25\"]}]}}", 1, 0.25, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1733390000,\"4\"]}}",
		  1, 4, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", 0, 0, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
		  "[{\"metric\":{},\"value\":[1,\"NaN\"]}]}}", 0, 0, NULL },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
		  "[{\"metric\":{},\"value\":[1,\"+Inf\"]}]}}", 1, 1.0 / 0.0, NULL },
		{ "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}", -1, 0,
		  "not a successful Prometheus query answer" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", -1, 0,
		  "a 'matrix' result; the query must give a vector or a scalar" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
		  "[{\"metric\":{},\"value\":[1,\"abc\"]}]}}", -1, 0, "the sample 'abc' is not a number" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
		  "[{\"metric\":{},\"value\":[1,2]}]}}", -1, 0, "a sample is not [time, \"value\"]" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":{}}}", -1, 0,
		  "data.result is not an array" },
		{ "<html>502 Bad Gateway</html>", -1, 0, "not a Prometheus answer" },
		{ "", -1, 0, "not a Prometheus answer" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", -1, 0, "not a Prometheus answer" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = { 0, "" };
		double v = -1;
		int rc = prometheus_parse(cases[i].body, strlen(cases[i].body), "answer", &v, &e);

		is_int(rc, cases[i].rc, "prometheus answer %zu: %s", i,
		    rc == 1 ? "a value" : rc == 0 ? "no data" : "refused");
		if (cases[i].rc == 1)
			ok(v == cases[i].v, "... the value %g", cases[i].v);
		if (cases[i].rc < 0) {
			like(e.msg, cases[i].msg, "... naming what is wrong");
			is_int(e.code, EX_SERVICE, "... as a service problem");
		}
	}
}

static void
test_state(void)
{
	struct rollout_state st, st2;

	memset(&st2, 0, sizeof(st2));
	struct err e = { 0, "" };
	char dir[] = "/tmp/rollout-unit.XXXXXX", path[256], *text;
	FILE *fp;
	int lines = 0, c;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	ok(rollout_state_open(&st, dir, "shop", 1, &e) == 0, "open and lock the state of 'shop'");
	/* fcntl locks belong to a process: ask from another one. */
	fflush(stdout);
	{
		pid_t pid = fork();
		int status = 0;

		if (pid == 0) {
			int rc = rollout_state_open(&st2, dir, "shop", 1, &e) < 0 && e.code == EX_TEMP &&
			    strstr(e.msg, "another rollout of 'shop' is running") ? 0 : 1;

			_exit(rc);
		}
		ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0,
		    "a second rollout of 'shop' is refused while the first holds the lock, saying so");
	}
	is_int(rollout_state_load(&st, &e), 0, "no snapshot yet");
	rollout_state_reset(&st, "reg/shop:v2");
	st.stable_slot = xstrdup("blue");
	st.canary_slot = xstrdup("green");
	st.step = 2;
	st.step_started_ms = 1733390000123LL;
	st.step_deadline_ms = 9007199254740993LL;	/* past 2^53: kept exactly */
	st.failures = 2;
	st.section = cJSON_CreateObject();
	cJSON_AddStringToObject(st.section, "status", "running");
	ok(rollout_state_save(&st, &e) == 0, "save the snapshot");
	ok(rollout_state_event(&st, "weight", NULL, &e) == 0 &&
	    rollout_state_event(&st, "measure", cJSON_CreateObject(), &e) == 0,
	    "append two events");
	rollout_state_free(&st);

	ok(rollout_state_open(&st, dir, "shop", 0, &e) == 0 && rollout_state_load(&st, &e) == 1,
	    "load it back");
	ok(st.step == 2 && st.failures == 2 && st.step_started_ms == 1733390000123LL &&
	    st.step_deadline_ms == 9007199254740993LL, "steps, times and counts survive");
	ok(st.image && !strcmp(st.image, "reg/shop:v2") && st.stable_slot &&
	    !strcmp(st.stable_slot, "blue") && st.section &&
	    !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(st.section, "status")), "running"),
	    "the image, the slots and the section survive");
	rollout_state_free(&st);

	snprintf(path, sizeof(path), "%s/canary/shop.events.jsonl", dir);
	fp = fopen(path, "r");
	while (fp && (c = fgetc(fp)) != EOF)
		lines += c == '\n';
	if (fp)
		fclose(fp);
	is_int(lines, 2, "the journal has one line per event");
	text = read_file(path, 1 << 20, NULL, &e);
	like(text, "{\"at\":\"", "an event starts with its time");
	like(text, "\"event\":\"measure\"", "... and names itself");
	free(text);

	/* A damaged snapshot is an error, never a fresh start. */
	snprintf(path, sizeof(path), "%s/canary/shop.json", dir);
	fp = fopen(path, "w");
	if (fp) {
		fputs("{\"app\": \"shop\", \"sta", fp);
		fclose(fp);
	}
	ok(rollout_state_open(&st, dir, "shop", 0, &e) == 0 && rollout_state_load(&st, &e) < 0 &&
	    e.code == EX_IOERR_, "a torn snapshot is refused with exit 74");
	like(e.msg, "the rollout state is damaged", "... saying so");
	rollout_state_free(&st);
	fp = fopen(path, "w");
	if (fp) {
		fputs("[1, 2]", fp);
		fclose(fp);
	}
	ok(rollout_state_open(&st, dir, "shop", 0, &e) == 0 && rollout_state_load(&st, &e) < 0,
	    "a snapshot that is not one is refused");
	rollout_state_free(&st);

	ok(rollout_state_open(&st, dir, "../x", 0, &e) < 0 && e.code == EX_USAGE_,
	    "an app name with a slash is refused");
	rollout_state_free(&st);
	ok(rollout_state_open(&st, dir, ".hidden", 0, &e) < 0, "... and one starting with a dot");
	rollout_state_free(&st);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		printf("# could not remove %s\n", dir);
}

static void
test_log(void)
{
	static const struct {
		const char *line;
		int ok;
		const char *be, *sv;
		long status;
		long long ta;
	} cases[] = {
		/* What HAProxy 2.6 sends with "option httplog" over syslog. */
		{ "<134>Dec  5 07:40:00 haproxy[4321]: 127.0.0.1:54321 [05/Dec/2026:07:40:00.123] "
		  "fe app/green 0/0/0/12/13 200 123 - - ---- 1/1/0/0/0 0/0 \"GET /search HTTP/1.1\"",
		  1, "app", "green", 200, 13 },
		{ "<134>Dec  5 07:40:00 haproxy[4321]: 127.0.0.1:54321 [05/Dec/2026:07:40:00.123] "
		  "fe app/blue 0/0/1/-1/502 502 204 - - SH-- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"",
		  1, "app", "blue", 502, 502 },
		/* logasap: the total time is prefixed with '+'. */
		{ "127.0.0.1:1 [05/Dec/2026:07:40:00.123] fe app/blue 0/0/0/5/+7 200 1 - - ---- "
		  "1/1/0/0/0 0/0 \"GET / HTTP/1.1\"", 1, "app", "blue", 200, 7 },
		/* A request HAProxy answered itself: no server. */
		{ "<134>Dec  5 07:40:00 haproxy[1]: 127.0.0.1:1 [05/Dec/2026:07:40:00.123] fe "
		  "fe/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 \"GET / HTTP/1.1\"",
		  1, "fe", "<NOSRV>", 503, 0 },
		{ "<134>Dec  5 07:40:00 haproxy[1]: Proxy fe started.", 0, NULL, NULL, 0, 0 },
		{ "<134>Dec  5 07:40:00 haproxy[1]: Server app/green is DOWN, reason: Layer4 "
		  "connection problem", 0, NULL, NULL, 0, 0 },
		{ "app/green 1/2/3/4 200", 0, NULL, NULL, 0, 0 },
		{ "app/green 1/2/3/4/5/6 200", 0, NULL, NULL, 0, 0 },
		{ "app/green 1/2/3/4/x 200", 0, NULL, NULL, 0, 0 },
		{ "app/green 1/2/3/4/5 2000", 0, NULL, NULL, 0, 0 },
		{ "/green 1/2/3/4/5 200", 0, NULL, NULL, 0, 0 },
		{ "app/ 1/2/3/4/5 200", 0, NULL, NULL, 0, 0 },
		{ "app/green 1/2/3/4/99999999999999999999 200", 0, NULL, NULL, 0, 0 },
		{ "", 0, NULL, NULL, 0, 0 },
		{ "\"app/green 1/2/3/4/5 200\"", 0, NULL, NULL, 0, 0 },
	};
	char big[70000];
	char be[128], sv[128];
	long status;
	long long ta;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = haproxy_log_parse(cases[i].line, strlen(cases[i].line), be, sv, &status, &ta);

		is_int(rc, cases[i].ok, "log line %zu: %s", i, cases[i].ok ? "a record" : "not one");
		if (cases[i].ok && rc == 1)
			ok(!strcmp(be, cases[i].be) && !strcmp(sv, cases[i].sv) &&
			    status == cases[i].status && ta == cases[i].ta,
			    "... %s/%s %ld in %lldms", cases[i].be, cases[i].sv, cases[i].status,
			    cases[i].ta);
	}
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 30, " app/green 1/2/3/4/5 200 ", 25);
	ok(haproxy_log_parse(big, sizeof(big), be, sv, &status, &ta) == 1 && !strcmp(sv, "green"),
	    "a 70 KB first field: the record after it is still found, nothing overrun");
	memset(big, ' ', sizeof(big));
	ok(haproxy_log_parse(big, sizeof(big), be, sv, &status, &ta) == 0, "nothing but spaces");
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7919 % 251);
	ok(haproxy_log_parse(big, sizeof(big), be, sv, &status, &ta) >= 0, "random bytes");
}

int
main(void)
{
	log_init("rollout.t");
	test_defaults();
	test_steps();
	test_prometheus();
	test_state();
	test_log();
	return done_testing();
}
