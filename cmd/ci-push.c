/*
 * ci-push: push the image ci-build made (an OCI layout) to any registry
 * that speaks the OCI Distribution API, and add the push section to the
 * pipeline document.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"
#include "oci/oci.h"
#include "core/pipeline.h"
#include "oci/ref.h"
#include "net/registry.h"
#include "core/timeutil.h"

#define VERSION "0.1.0"
#define PROGRESS_LINE_MS 5000

struct options {
	const char *layout;
	const char *manifest;
	char **tags;			/* -t values */
	size_t ntags;
	int new_doc;
	struct registry_opts ro;
};

struct view {
	int tty;
	int quiet;
	long long t0;
	long long last_line;
	int drawn;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ci-push [-hqv] [--layout DIR] [--manifest TAG|DIGEST] [-t TAG]...\n"
	    "               [--new] [registry options] [REF...]\n"
	    "       ci-push --version\n"
	    "\n"
	    "Push an OCI image layout to a registry: by default the image the build\n"
	    "section of the document on stdin names, to its tags.\n"
	    "\n"
	    "      --layout DIR       push the image in the OCI layout DIR\n"
	    "      --manifest REF     which image of DIR's index.json (tag or digest)\n"
	    "  -t, --tag TAG          also push as TAG (a tag, or a full HOST/REPO:TAG)\n"
	    "      --new              start a new document; do not read stdin\n"
	    "  -q, --quiet            only errors on stderr, no progress\n"
	    "  -v, --verbose          more detail on stderr\n"
	    "  -h, --help             this text\n"
	    "      --version          print the version\n"
	    "\n"
	    "%s", REGISTRY_OPTIONS_HELP);
}

enum {
	OPT_LAYOUT = 0x200,
	OPT_MANIFEST,
	OPT_NEW,
	OPT_VERSION
};

static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "layout", required_argument, NULL, OPT_LAYOUT },
		{ "manifest", required_argument, NULL, OPT_MANIFEST },
		{ "new", no_argument, NULL, OPT_NEW },
		{ "quiet", no_argument, NULL, 'q' },
		{ "tag", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, OPT_VERSION },
		REGISTRY_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct err e = { 0, "" };
	int c;

	while ((c = getopt_long(argc, argv, "hqt:v", longopts, NULL)) != -1) {
		int rc;

		if (c >= REGOPT_FIRST && c < REGOPT_LAST) {
			if ((rc = registry_opts_arg(&o->ro, c, optarg, &e)) < 0) {
				err_report(&e);
				return -1;
			}
			continue;
		}
		switch (c) {
		case 'h':
			usage(stdout);
			exit(fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : 0);
		case 'q':
			log_set_level(LOG_QUIET);
			break;
		case 't':
			o->tags = xrealloc(o->tags, (o->ntags + 1) * sizeof(*o->tags));
			o->tags[o->ntags++] = optarg;
			break;
		case 'v':
			log_set_level(log_level() + 1);
			break;
		case OPT_LAYOUT:
			o->layout = optarg;
			break;
		case OPT_MANIFEST:
			o->manifest = optarg;
			break;
		case OPT_NEW:
			o->new_doc = 1;
			break;
		case OPT_VERSION:
			printf("ci-push %s\n", VERSION);
			exit(fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : 0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (registry_opts_finish(&o->ro, &e) < 0) {
		err_report(&e);
		return -1;
	}
	return 0;
}

/* ---- progress on stderr --------------------------------------------------- */

static void
human(long long n, char *out, size_t outsz)
{
	if (n < 1000)
		snprintf(out, outsz, "%lld B", n);
	else if (n < 1000 * 1000)
		snprintf(out, outsz, "%.1f kB", n / 1e3);
	else if (n < 1000LL * 1000 * 1000)
		snprintf(out, outsz, "%.1f MB", n / 1e6);
	else
		snprintf(out, outsz, "%.2f GB", n / 1e9);
}

static void
on_progress(const struct registry_progress *p, void *arg)
{
	struct view *v = arg;
	long long now = mono_ms(), el = now - v->t0;
	double rate = el > 0 ? p->bytes_done * 1000.0 / (double)el : 0;
	char done[32], total[32], rs[32];

	if (v->quiet)
		return;
	human(p->bytes_done, done, sizeof(done));
	human(p->bytes_total, total, sizeof(total));
	human((long long)rate, rs, sizeof(rs));
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

static char **
vec_push(char **v, size_t *n, const char *s)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp(v[i], s))
			return v;
	v = xrealloc(v, (*n + 1) * sizeof(*v));
	v[(*n)++] = xstrdup(s);
	return v;
}

static void
vec_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * The references to push to: REF arguments, else the build section's
 * tags; then -t, a full reference or a tag for each repository there.
 */
static int
collect_refs(const struct options *o, char **args, int nargs, const cJSON *doc,
    char ***out, size_t *nout, struct err *e)
{
	char **refs = NULL, **repos = NULL;
	size_t n = 0, nrepos = 0, i;
	int k;
	const cJSON *tags = json_path(doc, "build.image.tags"), *it;

	for (k = 0; k < nargs; k++)
		refs = vec_push(refs, &n, args[k]);
	if (!nargs && cJSON_IsArray(tags)) {
		cJSON_ArrayForEach(it, tags) {
			if (!cJSON_IsString(it)) {
				vec_free(refs, n);
				return err_set(e, EX_DOC, "build.image.tags: expected an array of "
				    "strings");
			}
			refs = vec_push(refs, &n, it->valuestring);
		}
	}
	for (i = 0; i < n; i++) {
		struct image_ref r;
		char *name;

		if (ref_parse(refs[i], &r, e) < 0) {
			vec_free(refs, n);
			vec_free(repos, nrepos);
			return -1;
		}
		name = ref_name(&r);
		repos = vec_push(repos, &nrepos, name);
		free(name);
		ref_free(&r);
	}
	for (i = 0; i < o->ntags; i++) {
		const char *t = o->tags[i];
		size_t j;

		if (strchr(t, '/')) {
			refs = vec_push(refs, &n, t);
			continue;
		}
		if (!ref_tag_valid(t)) {
			err_set(e, EX_USAGE_, "-t '%s': not a valid tag ([A-Za-z0-9_.-], at most "
			    "128, not starting with '.' or '-')", t);
			goto fail;
		}
		if (!nrepos) {
			err_set(e, EX_USAGE_, "-t '%s': no repository to tag in: give HOST/REPO as "
			    "an argument or -t HOST/REPO:TAG", t);
			goto fail;
		}
		for (j = 0; j < nrepos; j++) {
			char *full = xasprintf("%s:%s", repos[j], t);

			refs = vec_push(refs, &n, full);
			free(full);
		}
	}
	vec_free(repos, nrepos);
	if (!n) {
		vec_free(refs, n);
		return err_set(e, EX_USAGE_, "nothing to push to: the document names no tags "
		    "(build.image.tags) and no REF was given");
	}
	*out = refs;
	*nout = n;
	return 0;
fail:
	vec_free(refs, n);
	vec_free(repos, nrepos);
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
do_push(struct options *o, char **args, int nargs, struct pipeline *p,
    struct registry_push_result *res, struct err *e)
{
	const cJSON *doc = p->doc;
	const char *dir = o->layout, *want = o->manifest;
	struct oci_layout l;
	struct oci_desc d;
	struct registry *r;
	char **refs = NULL;
	size_t nrefs = 0;
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
	if (collect_refs(o, args, nargs, o->layout ? NULL : doc, &refs, &nrefs, e) < 0) {
		/* With --layout, the build's tags still count when no REF is given. */
		if (!(o->layout && !nargs && e->code == EX_USAGE_ && json_path(doc, "build.image.tags")))
			return -1;
		if (collect_refs(o, args, nargs, doc, &refs, &nrefs, e) < 0)
			return -1;
	}
	if (oci_layout_open(&l, dir, e) < 0) {
		vec_free(refs, nrefs);
		return layout_error(e);
	}
	if (oci_layout_find(&l, want, &d, e) < 0) {
		oci_layout_close(&l);
		vec_free(refs, nrefs);
		return layout_error(e);
	}
	r = registry_new(&o->ro);
	rc = registry_push(r, &l, &d, refs, nrefs, res, e);
	registry_free(r);
	oci_desc_free(&d);
	oci_layout_close(&l);
	vec_free(refs, nrefs);
	return rc;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct pipeline p = { NULL, 0 };
	struct err e = { 0, "" };
	struct registry_push_result res;
	struct view v;
	struct sigaction sa;
	long long started, t0;
	int rc, ok;
	cJSON *sec;

	log_init("ci-push");
	memset(&o, 0, sizeof(o));
	memset(&v, 0, sizeof(v));
	memset(&res, 0, sizeof(res));
	registry_opts_init(&o.ro);
	if (parse_args(argc, argv, &o) < 0) {
		registry_opts_free(&o.ro);
		free(o.tags);
		return EX_USAGE_;
	}
	signal(SIGPIPE, SIG_IGN);

	/* The document: from stdin unless it is a terminal, --new says not
	 * to, or stdin carried the password. */
	if (pipeline_open(&p, !o.new_doc && !o.ro.password_stdin, 0, NULL, &e) < 0) {
		registry_opts_free(&o.ro);
		free(o.tags);
		return err_report(&e);
	}
	if (pipeline_skip_upstream(&p, "push", "pushing")) {
		rc = pipeline_write(&p, stdout, &e) < 0 ? err_report(&e) : EX_FAIL;
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.ro.stop = &interrupted;
	v.quiet = log_level() < LOG_NORMAL;
	v.tty = isatty(2) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
	v.t0 = v.last_line = mono_ms();
	o.ro.progress = on_progress;
	o.ro.progress_arg = &v;

	started = now_ms();
	t0 = mono_ms();
	ok = do_push(&o, argv + optind, argc - optind, &p, &res, &e) == 0;
	if (!ok && interrupted)
		err_set(&e, EX_TEMP, "interrupted by signal %d; nothing was tagged", (int)interrupted);
	res.duration_ms = mono_ms() - t0;
	sec = section_json(&res, ok, ok ? NULL : e.msg);
	pipeline_set_section(&p, "push", sec, started, res.duration_ms);
	if (ok) {
		char sent[32];

		human(res.bytes_sent, sent, sizeof(sent));
		log_info("pushed %s (%d uploaded, %d mounted, %d skipped; %s sent in %lld ms)",
		    res.reference, res.uploaded, res.mounted, res.skipped, sent, res.duration_ms);
		rc = EX_PASS;
	} else {
		rc = err_report(&e);
	}
	if (pipeline_write(&p, stdout, &e) < 0)
		rc = err_report(&e);
out:
	registry_push_result_free(&res);
	pipeline_free(&p);
	registry_opts_free(&o.ro);
	free(o.tags);
	return rc;
}
