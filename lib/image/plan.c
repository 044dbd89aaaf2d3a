/*
 * plan: what the build does and with which words.  Owns the split of the
 * Dockerfile into stages (FROM, stage names and indexes, which stages the
 * target needs, RUN refused before any work), the instruction walk
 * (plan_dispatch(): every instruction but FROM, the config-only ones done
 * here, COPY/ADD/WORKDIR handed to copy.c), variables (ARG, --build-arg,
 * the automatic platform ARGs) and their expansion, where ENV wins over
 * ARG as in Docker.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/encode.h"
#include "core/json.h"
#include "image/builder.h"
#include "image/config.h"

/* ---- variables ------------------------------------------------------------ */

static struct var *
vars_find(const struct vars *vs, const char *name)
{
	size_t i;

	for (i = vs->n; i > 0; i--)
		if (!strcmp(vs->v[i - 1].name, name))
			return &vs->v[i - 1];
	return NULL;
}

static void
vars_set(struct vars *vs, const char *name, const char *value)
{
	struct var *x = vars_find(vs, name);

	if (x) {
		free(x->value);
		x->value = value ? xstrdup(value) : NULL;
		return;
	}
	vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	vs->v[vs->n].name = xstrdup(name);
	vs->v[vs->n].value = value ? xstrdup(value) : NULL;
	vs->n++;
}

static void
vars_free(struct vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].value);
	}
	free(vs->v);
	memset(vs, 0, sizeof(*vs));
}

/* Automatic platform ARGs (BuildKit's TARGETPLATFORM and friends). */
static const char *
platform_arg(struct builder *b, const char *name)
{
	static char val[8][128];
	struct platform t, h;
	const char *tp = b->platform ? b->platform : build_host_platform();

	if (base_platform_parse(tp, &t) < 0 || base_platform_parse(build_host_platform(), &h) < 0)
		return NULL;
	if (!strcmp(name, "TARGETPLATFORM"))
		return snprintf(val[0], sizeof(val[0]), "%s", tp), val[0];
	if (!strcmp(name, "TARGETOS"))
		return snprintf(val[1], sizeof(val[1]), "%s", t.os), val[1];
	if (!strcmp(name, "TARGETARCH"))
		return snprintf(val[2], sizeof(val[2]), "%s", t.arch), val[2];
	if (!strcmp(name, "TARGETVARIANT"))
		return snprintf(val[3], sizeof(val[3]), "%s", t.variant), val[3];
	if (!strcmp(name, "BUILDPLATFORM"))
		return snprintf(val[4], sizeof(val[4]), "%s", build_host_platform()), val[4];
	if (!strcmp(name, "BUILDOS"))
		return snprintf(val[5], sizeof(val[5]), "%s", h.os), val[5];
	if (!strcmp(name, "BUILDARCH"))
		return snprintf(val[6], sizeof(val[6]), "%s", h.arch), val[6];
	if (!strcmp(name, "BUILDVARIANT"))
		return snprintf(val[7], sizeof(val[7]), "%s", h.variant), val[7];
	return NULL;
}

/* ---- expansion -------------------------------------------------------------- */

struct scope {
	struct builder *b;
	struct build_stage *s;	/* NULL: the global scope (FROM lines) */
};

static const char *
scope_lookup(const char *name, void *arg)
{
	struct scope *sc = arg;
	struct var *x;

	if (!sc->s) {
		if ((x = vars_find(&sc->b->global, name)))
			return x->value;
		return platform_arg(sc->b, name);
	}
	/* ENV wins over ARG, as in Docker. */
	{
		const char *v = imgconfig_env_get(sc->s->cfg, name);

		if (v)
			return v;
	}
	if ((x = vars_find(&sc->s->args, name)))
		return x->value;
	return NULL;
}

static int
expand_with(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const char *text, char **out,
    int (*fn)(const char *, int, df_lookup_fn, void *, char **, struct err *))
{
	struct scope sc;

	sc.b = b;
	sc.s = s;
	if (fn(text, b->df.escape, scope_lookup, &sc, out, b->e) < 0)
		return builder_prefix(b, in);
	return 0;
}

int
plan_expand(struct builder *b, struct build_stage *s, const struct df_inst *in, const char *word,
    char **out)
{
	return expand_with(b, s, in, word, out, df_expand);
}

int
plan_expand_heredoc(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const char *body, char **out)
{
	return expand_with(b, s, in, body, out, df_expand_heredoc);
}

/* A --build-arg value, marking it used. */
static const char *
build_arg(struct builder *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->bargs.n; i++)
		if (!strcmp(b->bargs.v[i].name, name)) {
			b->consumed[i] = 1;
			return b->bargs.v[i].value;
		}
	return NULL;
}

/* ---- the instructions -------------------------------------------------- */

/* CMD, ENTRYPOINT and SHELL arguments as a JSON array. */
static cJSON *
command_json(struct build_stage *s, const struct df_inst *in)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	if (in->exec_form) {
		for (i = 0; i < in->nargs; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(in->args[i]));
		return arr;
	}
	{
		const cJSON *sh = cJSON_GetObjectItemCaseSensitive(imgconfig_rt(s->cfg), "Shell"),
		    *it;

		if (cJSON_IsArray(sh) && cJSON_GetArraySize(sh) > 0) {
			cJSON_ArrayForEach(it, sh)
				if (cJSON_IsString(it))
					cJSON_AddItemToArray(arr,
					    cJSON_CreateString(it->valuestring));
		} else {
			cJSON_AddItemToArray(arr, cJSON_CreateString("/bin/sh"));
			cJSON_AddItemToArray(arr, cJSON_CreateString("-c"));
		}
	}
	cJSON_AddItemToArray(arr, cJSON_CreateString(in->rest));
	return arr;
}

static int
do_healthcheck(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	cJSON *hc = cJSON_CreateObject(), *test = cJSON_CreateArray();
	static const struct {
		const char *flag, *key;
	} durs[] = { { "interval", "Interval" }, { "timeout", "Timeout" },
		{ "start-period", "StartPeriod" }, { "start-interval", "StartInterval" } };
	size_t i;
	const char *v;

	(void)b;
	if (in->hc_none) {
		cJSON_AddItemToArray(test, cJSON_CreateString("NONE"));
		cJSON_AddItemToObject(hc, "Test", test);
		json_set(imgconfig_rt(s->cfg), "Healthcheck", hc);
		return 0;
	}
	if (in->exec_form) {
		cJSON_AddItemToArray(test, cJSON_CreateString("CMD"));
		for (i = 0; i < in->nargs; i++)
			cJSON_AddItemToArray(test, cJSON_CreateString(in->args[i]));
	} else {
		cJSON_AddItemToArray(test, cJSON_CreateString("CMD-SHELL"));
		cJSON_AddItemToArray(test, cJSON_CreateString(in->rest));
	}
	cJSON_AddItemToObject(hc, "Test", test);
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		long long ns;

		if ((v = df_flag(in, durs[i].flag)) && df_parse_duration(v, &ns) == 0 && ns > 0)
			json_add_i64(hc, durs[i].key, ns);
	}
	if ((v = df_flag(in, "retries")) && strtol(v, NULL, 10) > 0)
		json_add_i64(hc, "Retries", strtol(v, NULL, 10));
	json_set(imgconfig_rt(s->cfg), "Healthcheck", hc);
	return 0;
}

/* "80", "80/tcp", "53/udp", "8000-8002/tcp". */
static int
do_expose(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	size_t i;

	for (i = 0; i < in->nargs; i++) {
		char *w, **parts;
		size_t np, k;

		if (plan_expand(b, s, in, in->args[i], &w) < 0)
			return -1;
		parts = df_split_words(w, &np);
		free(w);
		for (k = 0; k < np; k++) {
			char *p = parts[k], *slash = strchr(p, '/'), *dash, *end;
			const char *proto = "tcp";
			long lo, hi, port;

			if (slash) {
				*slash = '\0';
				proto = slash + 1;
				for (char *c = slash + 1; *c; c++)
					*c = (char)tolower((unsigned char)*c);
				if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto,
				    "sctp")) {
					builder_err(b, in, EX_USAGE_,
					    "EXPOSE: unknown protocol '%s' (tcp, udp "
					    "or sctp)", proto);
					strv_free(parts);
					return -1;
				}
			}
			dash = strchr(p, '-');
			errno = 0;
			lo = strtol(p, &end, 10);
			if (end == p || (dash ? end != dash : *end != '\0'))
				goto bad;
			hi = lo;
			if (dash) {
				hi = strtol(dash + 1, &end, 10);
				if (end == dash + 1 || *end)
					goto bad;
			}
			if (errno || lo < 1 || hi > 65535 || hi < lo)
				goto bad;
			for (port = lo; port <= hi; port++) {
				char key[32];

				snprintf(key, sizeof(key), "%ld/%s", port, proto);
				imgconfig_set_add(s->cfg, "ExposedPorts", key);
			}
			continue;
bad:
			builder_err(b, in, EX_USAGE_, "EXPOSE: '%s' is not a port or port range",
			    parts[k]);
			strv_free(parts);
			return -1;
		}
		strv_free(parts);
	}
	return 0;
}

static int
do_arg(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	size_t i;

	for (i = 0; i < in->nkvs; i++) {
		const char *name = in->kvs[i].key, *ba = build_arg(b, name);
		char *val = NULL;

		if (ba) {
			val = xstrdup(ba);
		} else if (in->kvs[i].value) {
			if (plan_expand(b, s, in, in->kvs[i].value, &val) < 0)
				return -1;
		} else if (s) {
			struct var *g = vars_find(&b->global, name);
			const char *pa = platform_arg(b, name);

			if (g && g->value)
				val = xstrdup(g->value);
			else if (pa)
				val = xstrdup(pa);
		} else {
			const char *pa = platform_arg(b, name);

			if (pa)
				val = xstrdup(pa);
		}
		vars_set(s ? &s->args : &b->global, name, val);
		free(val);
	}
	return 0;
}

static int
do_kv(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	char **keys = xcalloc(in->nkvs + 1, sizeof(*keys));
	char **vals = xcalloc(in->nkvs + 1, sizeof(*vals));
	size_t i;
	int rc = -1;

	/* Every value is expanded before any is set: ENV A=1 B=$A sees the old A. */
	for (i = 0; i < in->nkvs; i++) {
		if (plan_expand(b, s, in, in->kvs[i].key, &keys[i]) < 0 ||
		    plan_expand(b, s, in, in->kvs[i].value, &vals[i]) < 0)
			goto out;
		if (!*keys[i]) {
			builder_err(b, in, EX_USAGE_, "%s: a name cannot be empty",
			    df_kind_name(in->kind));
			goto out;
		}
		if (in->kind == DF_ENV && strchr(keys[i], '=')) {
			builder_err(b, in, EX_USAGE_, "ENV: bad name '%s'", keys[i]);
			goto out;
		}
	}
	for (i = 0; i < in->nkvs; i++) {
		if (in->kind == DF_ENV) {
			imgconfig_env_set(s->cfg, keys[i], vals[i]);
		} else {
			imgconfig_label(s->cfg, keys[i], vals[i]);
			s->labels = strv_push(s->labels, keys[i]);
		}
	}
	rc = 0;
out:
	for (i = 0; i < in->nkvs; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	free(keys);
	free(vals);
	return rc;
}

static int
is_signal(const char *s)
{
	const char *p = s;

	if (!*s)
		return 0;
	if (isdigit((unsigned char)*s)) {
		long v = strtol(s, NULL, 10);

		for (; *p; p++)
			if (!isdigit((unsigned char)*p))
				return 0;
		return v >= 1 && v <= 64;
	}
	for (; *p; p++)
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '+' &&
		    *p != '-')
			return 0;
	return 1;
}

int
plan_dispatch(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	char *v = NULL;
	size_t i;
	int rc = 0;

	s->cur = in;
	switch (in->kind) {
	case DF_FROM:
		return builder_err(b, in, EX_INTERNAL, "FROM in the middle of a stage");
	case DF_RUN:
		return run_do(b, s, in);
	case DF_COPY:
	case DF_ADD:
		return copy_do(b, s, in);
	case DF_WORKDIR:
		return copy_workdir(b, s, in);
	case DF_ARG:
		rc = do_arg(b, s, in);
		break;
	case DF_ENV:
	case DF_LABEL:
		rc = do_kv(b, s, in);
		break;
	case DF_EXPOSE:
		rc = do_expose(b, s, in);
		break;
	case DF_VOLUME:
		for (i = 0; i < in->nargs && rc == 0; i++) {
			if ((rc = plan_expand(b, s, in, in->args[i], &v)) == 0) {
				if (!*v)
					rc = builder_err(b, in, EX_USAGE_,
					    "VOLUME: a path cannot be empty");
				else
					imgconfig_set_add(s->cfg, "Volumes", v);
			}
			free(v);
			v = NULL;
		}
		break;
	case DF_USER:
		if ((rc = plan_expand(b, s, in, in->rest, &v)) == 0)
			imgconfig_set_str(s->cfg, "User", v);
		break;
	case DF_STOPSIGNAL:
		if ((rc = plan_expand(b, s, in, in->rest, &v)) == 0) {
			if (!is_signal(v))
				rc = builder_err(b, in, EX_USAGE_,
				    "STOPSIGNAL: '%s' is not a signal "
				    "(SIGTERM, SIGQUIT, 9, ...)", v);
			else
				imgconfig_set_str(s->cfg, "StopSignal", v);
		}
		break;
	case DF_CMD:
		imgconfig_set_array(s->cfg, "Cmd", command_json(s, in));
		s->cmd_set = 1;
		break;
	case DF_ENTRYPOINT:
		imgconfig_set_array(s->cfg, "Entrypoint", command_json(s, in));
		/* An inherited CMD does not outlive a new ENTRYPOINT. */
		if (!s->cmd_set)
			imgconfig_set_array(s->cfg, "Cmd", NULL);
		break;
	case DF_SHELL:
		imgconfig_set_array(s->cfg, "Shell", command_json(s, in));
		break;
	case DF_HEALTHCHECK:
		rc = do_healthcheck(b, s, in);
		break;
	case DF_MAINTAINER:
		json_set(s->cfg, "author", cJSON_CreateString(in->rest));
		break;
	case DF_ONBUILD: {
		cJSON *rt = imgconfig_rt(s->cfg), *ob = cJSON_GetObjectItemCaseSensitive(rt,
		    "OnBuild");

		if (!cJSON_IsArray(ob)) {
			ob = cJSON_CreateArray();
			json_set(rt, "OnBuild", ob);
		}
		cJSON_AddItemToArray(ob, cJSON_CreateString(in->rest));
		break;
	}
	}
	free(v);
	if (rc == 0)
		imgconfig_add_history(s->cfg, b->created, in->text, HISTORY_COMMENT, 1);
	return rc;
}

/* ---- stages ------------------------------------------------------------------- */

static int
valid_stage_name(const char *s)
{
	if (!islower((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("-_.",
		    *s))
			return 0;
	return 1;
}

/* A stage by name or index, among the first `before` stages. */
struct build_stage *
plan_find_stage(struct builder *b, const char *name, size_t before)
{
	size_t i;
	char *end;
	long idx;

	for (i = 0; i < before && i < b->nst; i++)
		if (b->st[i].name && !strcasecmp(b->st[i].name, name))
			return &b->st[i];
	errno = 0;
	idx = strtol(name, &end, 10);
	if (!errno && end != name && !*end && idx >= 0 && (size_t)idx < before && (size_t)idx < b->nst)
		return &b->st[idx];
	return NULL;
}

static void
build_stage_free(struct build_stage *s)
{
	size_t i;

	free(s->name);
	free(s->base_ref);
	free(s->platform);
	cJSON_Delete(s->cfg);
	rootfs_free(s->fs);
	for (i = 0; i < s->nlayers; i++)
		free(s->layers[i].path);
	free(s->layers);
	vars_free(&s->args);
	strv_free(s->labels);
	free(s->base_name);
	free(s->run_dir);
}

/* A RUN in a stage the target needs: the stages its mounts name are
 * needed too, and the build keeps the stages' states for RUN's cache.
 * A mount that does not parse is said when the step runs. */
static void
plan_run_needs(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	struct err e = { 0, "" };
	struct run_mount m;
	size_t i;

	b->has_run = 1;
	for (i = 0; i < in->nflags; i++) {
		struct build_stage *p;

		if (strcmp(in->flags[i].name, "mount") ||
		    run_mount_parse(in->flags[i].value, "/", &m, &e) < 0)
			continue;
		if (m.from && (p = plan_find_stage(b, m.from, (size_t)s->idx)))
			p->needed = 1;
		run_mount_free(&m);
	}
}

/* Split the Dockerfile into stages, expand FROM, and find what the
 * target needs. */
int
plan_stages(struct builder *b)
{
	size_t i, k;
	struct build_stage *t;

	for (i = 0; i < b->df.n; i++) {
		const struct df_inst *in = &b->df.v[i];

		if (in->kind == DF_FROM) {
			struct build_stage s;
			char *img, *plat = NULL;
			const char *pf;

			memset(&s, 0, sizeof(s));
			s.idx = (int)b->nst;
			s.first = i;
			s.base_stage = -1;
			if (plan_expand(b, NULL, in, in->args[0], &img) < 0)
				return -1;
			if (!*img) {
				free(img);
				return builder_err(b, in, EX_USAGE_,
				    "FROM: the image name is empty (is "
				    "'%s' set with ARG before FROM?)", in->args[0]);
			}
			if ((pf = df_flag(in, "platform"))) {
				struct platform p;

				if (plan_expand(b, NULL, in, pf, &plat) < 0) {
					free(img);
					return -1;
				}
				if (base_platform_parse(plat, &p) < 0) {
					builder_err(b, in, EX_USAGE_,
					    "FROM --platform '%s': expected "
					    "OS/ARCH[/VARIANT]", plat);
					free(img);
					free(plat);
					return -1;
				}
			}
			s.base_ref = img;
			s.platform = plat;
			if (in->nargs == 3) {
				char *lc = xstrdup(in->args[2]);

				for (k = 0; lc[k]; k++)
					lc[k] = (char)tolower((unsigned char)lc[k]);
				if (!valid_stage_name(lc)) {
					builder_err(b, in, EX_USAGE_,
					    "FROM: bad stage name '%s' (a letter, "
					    "then letters, digits, '-', '_' or '.')", in->args[2]);
					free(lc);
					build_stage_free(&s);
					return -1;
				}
				if (plan_find_stage(b, lc,
				    b->nst) && !isdigit((unsigned char)*lc)) {
					builder_err(b, in, EX_USAGE_,
					    "FROM: stage name '%s' is used twice", lc);
					free(lc);
					build_stage_free(&s);
					return -1;
				}
				s.name = lc;
			}
			{
				struct build_stage *p = plan_find_stage(b, img, b->nst);

				/* A name wins over an image; an index does not. */
				if (p && p->name && !strcasecmp(p->name, img))
					s.base_stage = p->idx;
			}
			if (b->nst)
				b->st[b->nst - 1].end = i;
			b->st = xrealloc(b->st, (b->nst + 1) * sizeof(*b->st));
			b->st[b->nst++] = s;
			continue;
		}
		if (!b->nst) {
			if (in->kind != DF_ARG)
				return builder_err(b, in, EX_USAGE_,
				    "%s before the first FROM: only ARG may "
				    "come before FROM", df_kind_name(in->kind));
			if (do_arg(b, NULL, in) < 0)
				return -1;
		}
	}
	if (!b->nst)
		return err_set(b->e, EX_USAGE_,
		    "%s: no FROM: a Dockerfile needs at least one stage",
		    b->df.name);
	b->st[b->nst - 1].end = b->df.n;

	/* The target, and the stages it needs. */
	if (b->o->target) {
		t = plan_find_stage(b, b->o->target, b->nst);
		if (!t) {
			struct buf names = BUF_INIT;

			for (i = 0; i < b->nst; i++)
				if (b->st[i].name)
					buf_addf(&names, "%s%s", names.len ? ", " : "",
					    b->st[i].name);
			err_set(b->e, EX_USAGE_, "%s: no stage '%s' to build (stages: %s)",
			    b->df.name,
			    b->o->target, names.len ? buf_str(&names) : "none named");
			buf_free(&names);
			return -1;
		}
	} else {
		t = &b->st[b->nst - 1];
	}
	b->target = (size_t)t->idx;
	t->needed = 1;
	for (t->chain = 1,
	    k = (size_t)t->idx; b->st[k].base_stage >= 0; k = (size_t)b->st[k].base_stage)
		b->st[b->st[k].base_stage].chain = 1;
	/* Walk backwards: a stage needed marks what it builds on. */
	for (i = (size_t)t->idx + 1; i-- > 0;) {
		struct build_stage *s = &b->st[i];

		if (s->chain)
			s->needed = 1;
		if (!s->needed)
			continue;
		if (s->base_stage >= 0)
			b->st[s->base_stage].needed = 1;
		for (k = s->first + 1; k < s->end; k++) {
			const struct df_inst *in = &b->df.v[k];
			const char *f;

			if (in->kind == DF_COPY && (f = df_flag(in, "from"))) {
				struct build_stage *p = plan_find_stage(b, f, (size_t)s->idx);

				if (p)
					p->needed = 1;
			}
			if (in->kind == DF_RUN)
				plan_run_needs(b, s, in);
		}
	}
	return 0;
}

int
plan_build_args(struct builder *b)
{
	size_t i;

	for (i = 0; i < b->o->nbuild_args; i++) {
		const char *a = b->o->build_args[i], *eq = strchr(a, '=');

		if (eq == a)
			return err_set(b->e, EX_USAGE_,
			    "--build-arg '%s': expected KEY=VALUE or KEY", a);
		if (eq) {
			char *k = xstrndup(a, (size_t)(eq - a));

			vars_set(&b->bargs, k, eq + 1);
			free(k);
		} else if (getenv(a)) {
			vars_set(&b->bargs, a, getenv(a));
		}
	}
	b->consumed = xcalloc(b->bargs.n + 1, sizeof(*b->consumed));
	return 0;
}

void
plan_free(struct builder *b)
{
	size_t i;

	vars_free(&b->bargs);
	vars_free(&b->global);
	free(b->consumed);
	for (i = 0; i < b->nst; i++)
		build_stage_free(&b->st[i]);
	free(b->st);
	b->st = NULL;
	b->nst = 0;
}

/* ---- the dry run ------------------------------------------------------------ */

/* The first line of an instruction's text, cut to a readable length. */
static void
add_step_text(struct buf *out, const struct df_inst *in)
{
	size_t n = strcspn(in->text, "\n");

	if (n > 72)
		buf_addf(out, "%.69s...", in->text);
	else
		buf_addf(out, "%.*s", (int)n, in->text);
}

static void
add_stage_label(struct buf *out, const struct build_stage *s)
{
	if (s->name)
		buf_addf(out, "stage %d '%s'", s->idx, s->name);
	else
		buf_addf(out, "stage %d", s->idx);
}

/* Where a stage starts, in words. */
static void
add_base(struct builder *b, const struct build_stage *s, struct buf *out)
{
	if (s->base_stage >= 0) {
		buf_adds(out, "on ");
		add_stage_label(out, &b->st[s->base_stage]);
	} else if (!strcmp(s->base_ref, "scratch")) {
		buf_adds(out, "from scratch");
	} else if (!strncmp(s->base_ref, "oci:", 4)) {
		buf_addf(out, "on the OCI layout '%s' (read when built)", s->base_ref + 4);
	} else {
		buf_addf(out, "on the registry image '%s' (pulled when built, not in a dry "
		    "run)", s->base_ref);
	}
	if (s->platform)
		buf_addf(out, ", platform %s", s->platform);
}

/* What a layer of stage s becomes. */
static const char *
layer_fate(struct builder *b, const struct build_stage *s)
{
	if (!s->chain)
		return "no layer of the image (feeds a later --from)";
	return b->o->cache_dir ? "a layer (kept in the cache, reused when its key is there)" :
	    "a layer (--no-cache: built, not kept)";
}

/* --from=WHAT of COPY or a bind mount: an earlier stage or an image. */
static int
dry_from(struct builder *b, struct build_stage *s, const struct df_inst *in, const char *what,
    const char *from, struct buf *out)
{
	struct build_stage *p = plan_find_stage(b, from, (size_t)s->idx);
	const char *d;

	if (p) {
		buf_adds(out, "; from ");
		add_stage_label(out, p);
		return 0;
	}
	for (d = from; *d >= '0' && *d <= '9'; d++)
		;
	if (plan_find_stage(b, from, b->nst) || (!*d && d != from))
		return builder_err(b, in, EX_USAGE_, "%s --from='%s': %s", what, from,
		    plan_find_stage(b, from, b->nst) ? "that stage is not defined before this one" :
		    "there is no stage with that index before this one");
	buf_addf(out, "; from the image '%s' (pulled when built)", from);
	return 0;
}

static int
dry_run_step(struct builder *b, struct build_stage *s, const struct df_inst *in, struct buf *out)
{
	struct err me = { 0, "" };
	struct run_mount m;
	const char *f;
	char *v = NULL;
	size_t i;
	int chmod_mode;

	for (i = 0; i < in->nflags; i++) {
		if (strcmp(in->flags[i].name, "mount"))
			continue;
		if (plan_expand(b, s, in, in->flags[i].value, &v) < 0)
			return -1;
		if (run_mount_parse(v, "/", &m, &me) < 0) {
			free(v);
			err_set(b->e, me.code, "%s", me.msg);
			return builder_prefix(b, in);
		}
		free(v);
		v = NULL;
		if (m.type == RM_CACHE) {
			buf_addf(out, "; cache mount %s (kept in the build cache, not in the image)",
			    m.target);
		} else {
			buf_addf(out, "; bind mount %s", m.target);
			if (!m.from)
				buf_addf(out, "; from the build context '%s'%s", m.source,
				    m.rw ? " (writes thrown away)" : " (read-only)");
			else if (dry_from(b, s, in, "RUN --mount", m.from, out) < 0) {
				run_mount_free(&m);
				return -1;
			}
		}
		run_mount_free(&m);
	}
	if ((f = df_flag(in, "chmod"))) {
		if (plan_expand(b, s, in, f, &v) < 0)
			return -1;
		if (copy_parse_chmod(v, &chmod_mode) < 0) {
			builder_err(b, in, EX_USAGE_, "%s --chmod '%s': expected an octal mode such "
			    "as 0755 (symbolic modes are not supported)", df_kind_name(in->kind), v);
			free(v);
			return -1;
		}
		free(v);
		v = NULL;
	}
	if (in->kind == DF_COPY && (f = df_flag(in, "from"))) {
		if (plan_expand(b, s, in, f, &v) < 0)
			return -1;
		i = (size_t)dry_from(b, s, in, "COPY", v, out);
		free(v);
		v = NULL;
		if ((int)i < 0)
			return -1;
	}
	if (in->kind == DF_ADD && (f = df_flag(in, "checksum"))) {
		if (plan_expand(b, s, in, f, &v) < 0)
			return -1;
		if (!df_checksum_ok(v)) {
			builder_err(b, in, EX_USAGE_, "ADD --checksum='%s': expected sha256: and 64 "
			    "hex digits", v);
			free(v);
			return -1;
		}
		free(v);
		v = NULL;
		/* the parser let a "$VAR" source through: expanded, it must be a URL */
		if (in->nargs == 2) {
			if (plan_expand(b, s, in, in->args[0], &v) < 0)
				return -1;
		}
		if (!v || (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))) {
			free(v);
			builder_err(b, in, EX_USAGE_, "ADD --checksum applies to one source that "
			    "is a URL (http:// or https://)");
			return -1;
		}
		free(v);
		v = NULL;
	}
	for (i = 0; (in->kind == DF_COPY || in->kind == DF_ADD) && i + 1 < in->nargs; i++) {
		const struct df_heredoc *h = df_heredoc_of(in, in->args[i]);

		if (h) {
			if (h->expand && plan_expand_heredoc(b, s, in, h->body, &v) < 0)
				return -1;
			buf_addf(out, "; heredoc %s", h->name);
		} else {
			if (plan_expand(b, s, in, in->args[i], &v) < 0)
				return -1;
			char *shown = url_redact(v);

			if (in->kind == DF_ADD && df_is_git_url(v)) {
				builder_err(b, in, EX_USAGE_, "ADD of a git repository is not "
				    "supported ('%s'); clone it before the build and COPY the "
				    "files", shown);
				free(shown);
				free(v);
				return -1;
			}
			if (in->kind == DF_ADD && (!strncmp(v, "http://", 7) ||
			    !strncmp(v, "https://", 8)))
				buf_addf(out, "; fetches %s (%s)", shown, df_has_flag(in, "checksum") ?
				    "pinned by --checksum" : "no --checksum: not reproducible");
			free(shown);
		}
		free(v);
		v = NULL;
	}
	if (in->kind == DF_RUN && in->nheredocs)
		buf_addf(out, "; %zu heredoc%s", in->nheredocs, in->nheredocs == 1 ? "" : "s");
	return 0;
}

/*
 * The dry run: the stages and their steps, one line each, into out.  The
 * config-only instructions run as they would (on an empty config for an
 * image's stage: its ENV is not known without pulling it), so their
 * errors show; COPY, ADD, RUN and WORKDIR are checked (expansion, flags,
 * mounts, --from) but do nothing.
 */
int
plan_dry_run(struct builder *b, struct buf *out)
{
	size_t i, k;
	int layers = 0;

	if (b->df.syntax)
		buf_addf(out, "# syntax=%s: noted, not fetched (ci-build reads the Dockerfile "
		    "itself)\n", b->df.syntax);
	for (i = 0; i < b->nst; i++) {
		struct build_stage *s = &b->st[i];
		const struct df_inst *from = &b->df.v[s->first];
		struct platform p;

		buf_addf(out, "%s:%d: ", b->df.name, from->line);
		add_step_text(out, from);
		buf_adds(out, ": ");
		add_stage_label(out, s);
		if (!s->needed) {
			buf_adds(out, ", skipped: the target does not need it\n");
			continue;
		}
		buf_adds(out, " ");
		add_base(b, s, out);
		buf_addc(out, '\n');
		if (s->base_stage >= 0) {
			s->cfg = cJSON_Duplicate(b->st[s->base_stage].cfg, 1);
		} else {
			base_platform_parse(s->platform ? s->platform : b->platform, &p);
			s->cfg = imgconfig_new(p.os, p.arch, p.variant);
		}
		for (k = s->first + 1; k < s->end; k++) {
			const struct df_inst *in = &b->df.v[k];
			struct buf line = BUF_INIT;
			int rc = 0;

			s->cur = in;
			buf_addf(&line, "%s:%d: ", b->df.name, in->line);
			add_step_text(&line, in);
			buf_adds(&line, ": ");
			switch (in->kind) {
			case DF_RUN:
				buf_addf(&line, "runs in the OCI runtime; %s", layer_fate(b, s));
				rc = dry_run_step(b, s, in, &line);
				layers += s->chain;
				break;
			case DF_COPY:
			case DF_ADD:
				buf_adds(&line, layer_fate(b, s));
				rc = dry_run_step(b, s, in, &line);
				layers += s->chain;
				break;
			case DF_WORKDIR: {
				char *w = NULL;

				if ((rc = plan_expand(b, s, in, in->rest, &w)) == 0) {
					const char *wd = json_str(imgconfig_rt(s->cfg), "WorkingDir");
					char *abs = *w == '/' ? xstrdup(w) : xasprintf("%s/%s",
					    wd && *wd ? wd : "", w);

					imgconfig_set_str(s->cfg, "WorkingDir", abs);
					buf_addf(&line, "config; the directory, when missing: %s",
					    layer_fate(b, s));
					free(abs);
				}
				free(w);
				break;
			}
			default:
				buf_adds(&line, "config");
				rc = plan_dispatch(b, s, in);
				break;
			}
			if (rc < 0) {
				buf_free(&line);
				return -1;
			}
			buf_addf(out, "%s\n", buf_str(&line));
			buf_free(&line);
		}
		s->built = 1;
	}
	buf_addf(out, "target: ");
	add_stage_label(out, &b->st[b->target]);
	buf_addf(out, ", platform %s; %d layer step%s; nothing fetched, nothing built\n",
	    b->st[b->target].platform ? b->st[b->target].platform : b->platform, layers,
	    layers == 1 ? "" : "s");
	return 0;
}
