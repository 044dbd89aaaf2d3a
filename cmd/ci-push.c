/*
 * ci-push: push the image ci-build made (an OCI layout) to any registry
 * that speaks the OCI Distribution API, and add the push section to the
 * pipeline document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "core/size.h"
#include "core/stage.h"
#include "core/timeutil.h"
#include "format/html.h"
#include "net/curl-load.h"
#include "net/registry.h"
#include "oci/oci.h"
#include "oci/ref.h"

#define PROGRESS_LINE_MS 5000

struct options {
	const char *layout;
	const char *manifest;
	char **tags;			/* -t values (strv) */
	char **args;			/* REF arguments */
	int nargs;
	struct registry_opts ro;
};

struct view {
	int tty;
	int quiet;
	long long t0;
	long long last_line;
	int drawn;
};

enum {
	OPT_LAYOUT = STAGE_KEY,
	OPT_MANIFEST
};

static const struct stage_opt opts[] = {
	{ "layout", OPT_LAYOUT, required_argument, "DIR", "push the image in the OCI layout DIR" },
	{ "manifest", OPT_MANIFEST, required_argument, "REF",
	  "which image of DIR's index.json (tag or digest)" },
	{ "tag", 't', required_argument, "TAG", "also push as TAG (a tag, or a full HOST/REPO:TAG)" },
	STAGE_OPT_END
};

static const struct option registry_longopts[] = {
	REGISTRY_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 }
};

static int
parse_args(struct stage *st, int argc, char **argv, struct options *o)
{
	struct err e = { 0, "" };
	int c;

	st->synopsis = "ci-push [-hqv] [--layout DIR] [--manifest TAG|DIGEST] [-t TAG]...\n"
	    "               [--html FILE] [--new] [registry options] [REF...]\n"
	    "       ci-push --version";
	st->about = "Push an OCI image layout to a registry: by default the image the build\n"
	    "section of the document on stdin names, to its tags.";
	st->opts = opts;
	st->more_opts = registry_longopts;
	st->more_help = REGISTRY_OPTIONS_HELP;
	while ((c = stage_getopt(st, argc, argv)) != -1) {
		if (c >= REGOPT_FIRST && c < REGOPT_LAST) {
			if (registry_opts_arg(&o->ro, c, optarg, &e) < 0)
				return err_report(&e);
			continue;
		}
		switch (c) {
		case 't':
			o->tags = strv_push(o->tags, optarg);
			break;
		case OPT_LAYOUT:
			o->layout = optarg;
			break;
		case OPT_MANIFEST:
			o->manifest = optarg;
			break;
		}
	}
	if (st->exit >= 0)
		return st->exit;
	if (registry_opts_finish(&o->ro, &e) < 0)
		return err_report(&e);
	/* stdin carries the password: it cannot carry a document too. */
	st->no_stdin = o->ro.password_stdin;
	o->args = argv + optind;
	o->nargs = argc - optind;
	return -1;
}

/* ---- progress on stderr --------------------------------------------------- */

static void
on_progress(const struct registry_progress *p, void *arg)
{
	struct view *v = arg;
	long long now = mono_ms(), el = now - v->t0;
	double rate = el > 0 ? p->bytes_done * 1000.0 / (double)el : 0;
	char done[32], total[32], rs[32];

	if (v->quiet)
		return;
	format_size(p->bytes_done, done, sizeof(done));
	format_size(p->bytes_total, total, sizeof(total));
	format_size((long long)rate, rs, sizeof(rs));
	if (v->tty) {
		char bar[31];
		int i, fill = p->bytes_total > 0 ?
		    (int)(30.0 * (double)p->bytes_done / (double)p->bytes_total) : 0;
		long long eta = rate > 0 ? (long long)((p->bytes_total - p->bytes_done) / rate) : -1;

		if (p->final) {
			if (v->drawn)
				fputs("\r\033[K", stderr);
			v->drawn = 0;
			return;
		}
		for (i = 0; i < 30; i++)
			bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
		bar[30] = '\0';
		fprintf(stderr, "\r\033[K%s [%s] %s / %s  %s/s", p->op, bar, done, total, rs);
		if (eta >= 0 && p->bytes_done < p->bytes_total)
			fprintf(stderr, "  ETA %llds", eta);
		fprintf(stderr, "  %d/%d blobs", p->blobs_done, p->blobs_total);
		v->drawn = 1;
		return;
	}
	if (p->final || now - v->last_line < PROGRESS_LINE_MS)
		return;
	v->last_line = now;
	log_info("%s: %s of %s, %s/s, %d of %d blobs", p->op, done, total, rs, p->blobs_done,
	    p->blobs_total);
}

/* ---- what to push ------------------------------------------------------------ */

/* Append s unless the vector holds it already. */
static char **
strv_add_unique(char **v, const char *s)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		if (!strcmp(v[i], s))
			return v;
	return strv_push(v, s);
}

/*
 * The references to push to: REF arguments, else the build section's
 * tags; then -t, a full reference or a tag for each repository there.
 */
static int
collect_refs(const struct options *o, const cJSON *doc, char ***out, struct err *e)
{
	char **refs = NULL, **repos = NULL;
	size_t i;
	int k;
	const cJSON *tags = json_path(doc, "build.image.tags"), *it;

	for (k = 0; k < o->nargs; k++)
		refs = strv_add_unique(refs, o->args[k]);
	if (!o->nargs && cJSON_IsArray(tags)) {
		cJSON_ArrayForEach(it, tags) {
			if (!cJSON_IsString(it)) {
				strv_free(refs);
				return err_set(e, EX_DOC, "build.image.tags: expected an array of "
				    "strings");
			}
			refs = strv_add_unique(refs, it->valuestring);
		}
	}
	for (i = 0; refs && refs[i]; i++) {
		struct image_ref r;
		char *name;

		if (ref_parse(refs[i], &r, e) < 0)
			goto fail;
		name = ref_name(&r);
		repos = strv_add_unique(repos, name);
		free(name);
		ref_free(&r);
	}
	for (i = 0; o->tags && o->tags[i]; i++) {
		const char *t = o->tags[i];
		size_t j;

		if (strchr(t, '/')) {
			refs = strv_add_unique(refs, t);
			continue;
		}
		if (!ref_tag_valid(t)) {
			err_set(e, EX_USAGE_, "-t '%s': not a valid tag ([A-Za-z0-9_.-], at most "
			    "128, not starting with '.' or '-')", t);
			goto fail;
		}
		if (!repos) {
			err_set(e, EX_USAGE_, "-t '%s': no repository to tag in: give HOST/REPO as "
			    "an argument or -t HOST/REPO:TAG", t);
			goto fail;
		}
		for (j = 0; repos[j]; j++) {
			char *full = xasprintf("%s:%s", repos[j], t);

			refs = strv_add_unique(refs, full);
			free(full);
		}
	}
	strv_free(repos);
	if (!refs)
		return err_set(e, EX_USAGE_, "nothing to push to: the document names no tags "
		    "(build.image.tags) and no REF was given");
	*out = refs;
	return 0;
fail:
	strv_free(refs);
	strv_free(repos);
	return -1;
}

static cJSON *
section_json(const struct registry_push_result *res, int ok, const char *reason)
{
	cJSON *sec = cJSON_CreateObject(), *b, *a;
	size_t i;

	cJSON_AddStringToObject(sec, "status", ok ? "passed" : "failed");
	if (reason)
		cJSON_AddStringToObject(sec, "reason", reason);
	if (ok) {
		cJSON_AddStringToObject(sec, "registry", res->registry);
		cJSON_AddStringToObject(sec, "repository", res->repository);
		cJSON_AddStringToObject(sec, "digest", res->digest);
		cJSON_AddStringToObject(sec, "reference", res->reference);
		a = cJSON_AddArrayToObject(sec, "references");
		for (i = 0; res->references && res->references[i]; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(res->references[i]));
		a = cJSON_AddArrayToObject(sec, "tags");
		for (i = 0; res->tags && res->tags[i]; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(res->tags[i]));
		cJSON_AddBoolToObject(sec, "already_there", res->already);
	}
	b = cJSON_AddObjectToObject(sec, "blobs");
	json_add_i64(b, "uploaded", res->uploaded);
	json_add_i64(b, "skipped", res->skipped);
	json_add_i64(b, "mounted", res->mounted);
	json_add_i64(sec, "bytes_sent", res->bytes_sent);
	json_add_i64(sec, "duration_ms", res->duration_ms);
	return sec;
}

/* Layout problems are bad input (65), unless the disk itself failed. */
static int
layout_error(struct err *e)
{
	if (e->code != EX_IOERR_ || (!strstr(e->msg, "cannot read") && !strstr(e->msg, "cannot open")))
		e->code = EX_DOC;
	return -1;
}

static int
do_push(struct options *o, const cJSON *doc, struct registry_push_result *res, struct err *e)
{
	const char *dir = o->layout, *want = o->manifest;
	struct oci_layout l;
	struct oci_desc d;
	struct registry *r;
	char **refs = NULL;
	int rc;

	memset(&l, 0, sizeof(l));
	memset(&d, 0, sizeof(d));
	if (!dir) {
		dir = json_str(json_path(doc, "build.image"), "layout");
		if (!dir)
			return err_set(e, EX_USAGE_, "no image to push: the document has no "
			    "build.image.layout; give --layout DIR");
		if (!want)
			want = json_str(json_path(doc, "build.image"), "digest");
	}
	if (collect_refs(o, o->layout ? NULL : doc, &refs, e) < 0) {
		/* With --layout, the build's tags still count when no REF is given. */
		if (!(o->layout && !o->nargs && e->code == EX_USAGE_ &&
		    json_path(doc, "build.image.tags")))
			return -1;
		if (collect_refs(o, doc, &refs, e) < 0)
			return -1;
	}
	if (oci_layout_open(&l, dir, e) < 0) {
		strv_free(refs);
		return layout_error(e);
	}
	if (oci_layout_find(&l, want, &d, e) < 0) {
		oci_layout_close(&l);
		strv_free(refs);
		return layout_error(e);
	}
	r = registry_new(&o->ro);
	rc = registry_push(r, &l, &d, refs, strv_len(refs), res, e);
	registry_free(r);
	oci_desc_free(&d);
	oci_layout_close(&l);
	strv_free(refs);
	return rc;
}

static int
push(struct stage *st, void *arg, cJSON **section, struct err *e)
{
	struct options *o = arg;
	struct registry_push_result res;
	struct view v;
	char sent[32];
	int rc;

	memset(&res, 0, sizeof(res));
	memset(&v, 0, sizeof(v));
	o->ro.stop = &stage_signal;
	v.quiet = log_level() < LOG_NORMAL;
	v.tty = isatty(2) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
	v.t0 = v.last_line = mono_ms();
	o->ro.progress = on_progress;
	o->ro.progress_arg = &v;

	/* libcrypto is loaded where a blob goes up (push.c): a push that
	 * finds its image there hashes only a manifest and a config, which
	 * oci's own sha256 does. */
	rc = do_push(o, st->p.doc, &res, e);
	/* A usage error leaves the document alone (no section). */
	if (rc < 0 && e->code == EX_USAGE_) {
		registry_push_result_free(&res);
		return -1;
	}
	if (rc < 0 && stage_signal)
		err_set(e, EX_TEMP, "interrupted by signal %d; nothing was tagged",
		    (int)stage_signal);
	res.duration_ms = mono_ms() - st->t0;
	*section = section_json(&res, rc == 0, rc == 0 ? NULL : e->msg);
	if (rc == 0 && res.already) {
		log_info("%s was already there (%lld ms)", res.reference, res.duration_ms);
	} else if (rc == 0) {
		format_size(res.bytes_sent, sent, sizeof(sent));
		log_info("pushed %s (%d uploaded, %d mounted, %d skipped; %s sent in %lld ms)",
		    res.reference, res.uploaded, res.mounted, res.skipped, sent, res.duration_ms);
	}
	registry_push_result_free(&res);
	return rc < 0 ? -1 : EX_PASS;
}

int
main(int argc, char **argv)
{
	struct stage st;
	struct options o;
	int rc;

	stage_init(&st, "ci-push", "push", "pushing");
	st.html = html_report_write;
	memset(&o, 0, sizeof(o));
	registry_opts_init(&o.ro);
	rc = parse_args(&st, argc, argv, &o);
	if (rc < 0) {
		rc = stage_run(&st, push, &o);
		curl_global_cleanup();
	}
	stage_free(&st);
	registry_opts_free(&o.ro);
	strv_free(o.tags);
	return rc;
}
