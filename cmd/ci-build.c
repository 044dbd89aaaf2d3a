/*
 * ci-build: build an OCI image from a Dockerfile, without a daemon and
 * reproducibly, and add it to the pipeline document.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/build.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "image/archive.h"
#include "core/json.h"
#include "core/log.h"
#include "oci/oci.h"
#include "core/pipeline.h"
#include "oci/ref.h"
#include "net/registry.h"
#include "core/timeutil.h"

#define VERSION "0.1.0"

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

struct options {
	const char *file;
	const char *context;
	char **tags;
	size_t ntags;
	const char *version;
	char **build_args;
	size_t nbuild_args;
	const char *target;
	const char *platform;
	const char *out;
	const char *oci_archive;
	const char *docker_archive;
	const char *cache_dir;
	int no_cache;
	long long sde;		/* -1: unset */
	int new_doc;
	struct layer_opts layer;
	struct registry_opts ro;
};

enum {
	OPT_BUILD_ARG = 0x100, OPT_TARGET, OPT_PLATFORM, OPT_OCI_ARCHIVE, OPT_DOCKER_ARCHIVE,
	OPT_COMPRESSION, OPT_LEVEL, OPT_CACHE_DIR, OPT_NO_CACHE, OPT_SDE, OPT_NEW, OPT_VERSION
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ci-build [-hqv] [-f FILE] [-t NAME[:TAG]]... [--version VERSION]\n"
	    "                [--build-arg KEY[=VALUE]]... [--target STAGE]\n"
	    "                [--platform OS/ARCH[/VARIANT]] [-o DIR] [--oci-archive FILE]\n"
	    "                [--docker-archive FILE] [--compression gzip|zstd|none]\n"
	    "                [--compression-level N] [-j N] [--cache-dir DIR] [--no-cache]\n"
	    "                [--source-date-epoch SECONDS] [--new] [registry options]\n"
	    "                [CONTEXT]\n"
	    "       ci-build --version\n"
	    "\n"
	    "  -f, --file FILE          the Dockerfile (default CONTEXT/Dockerfile)\n"
	    "  -t, --tag NAME[:TAG]     tag the image (repeatable)\n"
	    "      --version VERSION    also tag vVERSION-<short commit>\n"
	    "      --build-arg K[=V]    set a build argument (V from the environment if absent)\n"
	    "      --target STAGE       build this stage (default: the last)\n"
	    "      --platform P         os/arch[/variant] (default: the base's, else this host's)\n"
	    "  -o, --output DIR         the OCI image layout to write (default ci-out/image)\n"
	    "      --oci-archive FILE   also write the layout as a tar file\n"
	    "      --docker-archive F   also write a 'docker save' tar file\n"
	    "      --compression C      gzip (default), zstd or none\n"
	    "      --compression-level N  gzip 1-9 (default 1), zstd 1-19 (default 3)\n"
	    "  -j, --jobs N             compression threads (default: CPUs)\n"
	    "      --cache-dir DIR      layer and base image cache\n"
	    "                           (default $XDG_CACHE_HOME/ci-tools/build)\n"
	    "      --no-cache           neither read nor write the cache\n"
	    "      --source-date-epoch S  timestamp of the image (default $SOURCE_DATE_EPOCH,\n"
	    "                           else the commit time of HEAD, else 0)\n"
	    "      --new                start a new document; do not read stdin\n"
	    "  -q, --quiet              only errors on stderr\n"
	    "  -v, --verbose            more detail on stderr\n"
	    "  -h, --help               this text\n"
	    "\n"
	    REGISTRY_OPTIONS_HELP);
}

static int
parse_ll(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "tag", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", required_argument, NULL, OPT_VERSION },
		{ "build-arg", required_argument, NULL, OPT_BUILD_ARG },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ "oci-archive", required_argument, NULL, OPT_OCI_ARCHIVE },
		{ "docker-archive", required_argument, NULL, OPT_DOCKER_ARCHIVE },
		{ "compression", required_argument, NULL, OPT_COMPRESSION },
		{ "compression-level", required_argument, NULL, OPT_LEVEL },
		{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
		{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
		{ "source-date-epoch", required_argument, NULL, OPT_SDE },
		{ "new", no_argument, NULL, OPT_NEW },
		REGISTRY_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct err e = { 0, "" };
	long long v;
	int c, r;

	while ((c = getopt_long(argc, argv, "f:hj:o:qt:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'j':
			if (parse_ll(optarg, 1, 64, &v) < 0) {
				log_error("-j '%s': expected a number of threads from 1 to 64", optarg);
				return -1;
			}
			o->layer.threads = (int)v;
			break;
		case 'o':
			o->out = optarg;
			break;
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
		case OPT_BUILD_ARG:
			o->build_args = xrealloc(o->build_args, (o->nbuild_args + 1) * sizeof(char *));
			o->build_args[o->nbuild_args++] = optarg;
			break;
		case OPT_CACHE_DIR:
			o->cache_dir = optarg;
			break;
		case OPT_COMPRESSION:
			if (!strcmp(optarg, "gzip"))
				o->layer.compression = LAYER_GZIP;
			else if (!strcmp(optarg, "zstd"))
				o->layer.compression = LAYER_ZSTD;
			else if (!strcmp(optarg, "none"))
				o->layer.compression = LAYER_NONE;
			else {
				log_error("--compression '%s': expected gzip, zstd or none", optarg);
				return -1;
			}
			break;
		case OPT_DOCKER_ARCHIVE:
			o->docker_archive = optarg;
			break;
		case OPT_LEVEL:
			if (parse_ll(optarg, 0, 22, &v) < 0) {
				log_error("--compression-level '%s': expected a number", optarg);
				return -1;
			}
			o->layer.level = (int)v;
			break;
		case OPT_NEW:
			o->new_doc = 1;
			break;
		case OPT_NO_CACHE:
			o->no_cache = 1;
			break;
		case OPT_OCI_ARCHIVE:
			o->oci_archive = optarg;
			break;
		case OPT_PLATFORM:
			o->platform = optarg;
			break;
		case OPT_SDE:
			if (parse_ll(optarg, 0, 253402300799LL, &o->sde) < 0) {
				log_error("--source-date-epoch '%s': expected seconds since 1970", optarg);
				return -1;
			}
			break;
		case OPT_TARGET:
			o->target = optarg;
			break;
		case OPT_VERSION:
			o->version = optarg;
			break;
		default:
			if (c >= REGOPT_FIRST && c < REGOPT_LAST) {
				r = registry_opts_arg(&o->ro, c, optarg, &e);
				if (r < 0) {
					err_report(&e);
					return -1;
				}
				if (r > 0)
					break;
			}
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc)
		o->context = argv[optind++];
	if (optind < argc) {
		log_error("unexpected argument '%s' (one build context only)", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (o->layer.level > 0 && o->layer.compression == LAYER_GZIP && o->layer.level > 9) {
		log_error("--compression-level %d: gzip levels go from 1 to 9", o->layer.level);
		return -1;
	}
	if (o->layer.level == 0 && o->layer.compression != LAYER_NONE) {
		log_error("--compression-level 0: use --compression none for no compression");
		return -1;
	}
	if (o->layer.level > 19 && o->layer.compression == LAYER_ZSTD) {
		log_error("--compression-level %d: zstd levels go from 1 to 19", o->layer.level);
		return -1;
	}
	if (registry_opts_finish(&o->ro, &e) < 0) {
		err_report(&e);
		return -1;
	}
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

/* "a/b/" -> "a" and "b"; "b" -> "." and "b". */
static char *
dir_name_of(const char *p)
{
	char *c = xstrdup(p), *s;
	size_t n = strlen(c);

	while (n > 1 && c[n - 1] == '/')
		c[--n] = '\0';
	s = strrchr(c, '/');
	if (!s) {
		free(c);
		return xstrdup(".");
	}
	if (s == c)
		s[1] = '\0';
	else
		*s = '\0';
	return c;
}

static char *
base_name_of(const char *p)
{
	char *c = xstrdup(p), *s, *r;
	size_t n = strlen(c);

	while (n > 1 && c[n - 1] == '/')
		c[--n] = '\0';
	s = strrchr(c, '/');
	r = xstrdup(s ? s + 1 : c);
	free(c);
	return r;
}

static int
rm_rf(const char *path)
{
	struct stat st;
	int rc = 0;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;

		if (!d)
			return -1;
		while ((de = readdir(d))) {
			char *p;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			p = xasprintf("%s/%s", path, de->d_name);
			if (rm_rf(p) < 0)
				rc = -1;
			free(p);
		}
		closedir(d);
		if (rmdir(path) != 0)
			rc = -1;
	} else if (unlink(path) != 0) {
		rc = -1;
	}
	return rc;
}

static int
dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

/* The temporary directories of builds that were killed: ".NAME.tmp-PID"
 * beside the output, whose process is gone. */
static void
clean_stale(const char *parent, const char *name)
{
	DIR *d = opendir(parent);
	struct dirent *de;
	char *prefix = xasprintf(".%s.tmp-", name);
	size_t pl = strlen(prefix);

	if (!d) {
		free(prefix);
		return;
	}
	while ((de = readdir(d))) {
		char *end, *p;
		long pid;

		if (strncmp(de->d_name, prefix, pl) != 0)
			continue;
		pid = strtol(de->d_name + pl, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		p = xasprintf("%s/%s", parent, de->d_name);
		rm_rf(p);
		free(p);
	}
	closedir(d);
	free(prefix);
}

static char *
default_cache_dir(void)
{
	const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");

	if (x && *x == '/')
		return xasprintf("%s/ci-tools/build", x);
	if (h && *h == '/')
		return xasprintf("%s/.cache/ci-tools/build", h);
	return NULL;
}

/* A repository URL fit for an annotation: a remote, never a local path. */
static int
is_url(const char *s)
{
	const char *at, *colon;

	if (strstr(s, "://"))
		return strncmp(s, "file://", 7) != 0;
	/* scp-like git@host:path */
	at = strchr(s, '@');
	colon = strchr(s, ':');
	return at && colon && at < colon && s[0] != '/';
}

/* ---- tags ----------------------------------------------------------------- */

struct tag {
	char *full;		/* "registry.example/app:v1" */
	char *tag;		/* "v1" */
};

static int
make_tags(const struct options *o, const char *commit, const char *version,
    struct tag **out, size_t *nout, struct err *e)
{
	struct tag *v = NULL;
	size_t n = 0, i;
	char *vtag = NULL;

	*out = NULL;
	*nout = 0;
	if (version) {
		const char *ver = (version[0] == 'v' || version[0] == 'V') ? version + 1 : version;

		if (commit && strlen(commit) >= 7)
			vtag = xasprintf("v%s-%.7s", ver, commit);
		else {
			vtag = xasprintf("v%s", ver);
			log_warn("no commit is known (not in git?): the version tag is '%s'", vtag);
		}
		if (!ref_tag_valid(vtag)) {
			err_set(e, EX_USAGE_, "--version '%s': '%s' is not a valid tag", version, vtag);
			free(vtag);
			return -1;
		}
	}
	for (i = 0; i < o->ntags; i++) {
		struct image_ref r;
		const char *tagv[2];
		size_t k, nt = 0;

		if (ref_parse(o->tags[i], &r, e) < 0) {
			err_prefix(e, "-t");
			goto fail;
		}
		if (r.digest) {
			err_set(e, EX_USAGE_, "-t '%s': a tag cannot name a digest", o->tags[i]);
			ref_free(&r);
			goto fail;
		}
		if (r.tag)
			tagv[nt++] = r.tag;
		if (vtag)
			tagv[nt++] = vtag;
		if (!nt)
			tagv[nt++] = "latest";
		for (k = 0; k < nt; k++) {
			struct image_ref t2;
			size_t q;
			char *full;

			ref_copy(&t2, &r);
			free(t2.tag);
			t2.tag = xstrdup(tagv[k]);
			full = ref_string(&t2);
			ref_free(&t2);
			for (q = 0; q < n; q++)
				if (!strcmp(v[q].full, full))
					break;
			if (q < n) {
				free(full);
				continue;
			}
			v = xrealloc(v, (n + 1) * sizeof(*v));
			v[n].full = full;
			v[n++].tag = xstrdup(tagv[k]);
		}
		ref_free(&r);
	}
	free(vtag);
	*out = v;
	*nout = n;
	return 0;
fail:
	for (i = 0; i < n; i++) {
		free(v[i].full);
		free(v[i].tag);
	}
	free(v);
	free(vtag);
	return -1;
}

static void
tags_free(struct tag *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].full);
		free(v[i].tag);
	}
	free(v);
}

/* ---- the document -------------------------------------------------------- */

static cJSON *
build_section(const struct options *o, const char *dockerfile, const char *context,
    const struct build_result *r, const struct tag *tags, size_t ntags, long long sde)
{
	cJSON *sec = cJSON_CreateObject(), *img, *arr, *base;
	long long total = r->manifest.size + r->config.size;
	size_t i;

	cJSON_AddStringToObject(sec, "status", "passed");
	img = cJSON_AddObjectToObject(sec, "image");
	cJSON_AddStringToObject(img, "layout", o->out);
	cJSON_AddStringToObject(img, "digest", r->manifest.digest);
	cJSON_AddStringToObject(img, "media_type", r->manifest.media_type);
	cJSON_AddStringToObject(img, "config_digest", r->config.digest);
	cJSON_AddStringToObject(img, "platform", r->platform);
	arr = cJSON_AddArrayToObject(img, "tags");
	for (i = 0; i < ntags; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(tags[i].full));
	arr = cJSON_AddArrayToObject(img, "layers");
	for (i = 0; i < r->nlayers; i++) {
		cJSON *l = cJSON_CreateObject();

		cJSON_AddStringToObject(l, "digest", r->layers[i].digest);
		cJSON_AddStringToObject(l, "diff_id", r->layers[i].diff_id);
		json_add_i64(l, "size", r->layers[i].size);
		cJSON_AddItemToArray(arr, l);
		total += r->layers[i].size;
	}
	json_add_i64(img, "size", total);
	base = cJSON_AddObjectToObject(img, "base");
	cJSON_AddStringToObject(base, "name", r->base_name ? r->base_name : "scratch");
	if (r->base_digest[0])
		cJSON_AddStringToObject(base, "digest", r->base_digest);
	json_add_i64(img, "source_date_epoch", sde);
	cJSON_AddStringToObject(sec, "dockerfile", dockerfile);
	cJSON_AddStringToObject(sec, "context", context);
	cJSON_AddStringToObject(sec, "target", r->target);
	json_add_i64(sec, "layers_built", r->layers_built);
	json_add_i64(sec, "layers_cached", r->layers_cached);
	if (o->oci_archive)
		cJSON_AddStringToObject(sec, "oci_archive", o->oci_archive);
	if (o->docker_archive)
		cJSON_AddStringToObject(sec, "docker_archive", o->docker_archive);
	if (r->warnings) {
		arr = cJSON_AddArrayToObject(sec, "warnings");
		for (i = 0; r->warnings[i]; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(r->warnings[i]));
	}
	return sec;
}

static void
error_section(struct pipeline *p, const struct err *e, long long started, long long t0)
{
	cJSON *sec = cJSON_CreateObject();

	cJSON_AddStringToObject(sec, "status", "error");
	cJSON_AddStringToObject(sec, "reason", e->msg);
	json_add_i64(sec, "exit_code", e->code);
	pipeline_set_section(p, "build", sec, started, mono_ms() - t0);
}

/* ---- main -------------------------------------------------------------------- */

static int
run(struct options *o, struct pipeline *p, struct err *e)
{
	const cJSON *src = json_path(p->doc, "run.source");
	const char *commit = json_str(src, "commit"), *repo = json_str(src, "repository");
	const char *version = o->version ? o->version : json_str(src, "version");
	struct git_source gs;
	struct err ge = { 0, "" };
	char *dockerfile, *parent, *name, *tmp = NULL, *work = NULL, *cache = NULL;
	struct oci_layout layout;
	struct build_opts bo;
	struct build_result r;
	struct tag *tags = NULL;
	size_t ntags = 0, i;
	long long started = now_ms(), t0 = mono_ms(), sde = o->sde;
	int rc = -1, have_layout = 0, have_git = 0;
	struct registry *reg = NULL;
	char *oparent = NULL, *oname = NULL, *excl[3] = { NULL, NULL, NULL };

	memset(&gs, 0, sizeof(gs));
	memset(&r, 0, sizeof(r));
	if (o->file)
		dockerfile = xstrdup(o->file);
	else if (!strcmp(o->context, "."))
		dockerfile = xstrdup("Dockerfile");
	else {
		size_t n = strlen(o->context);

		dockerfile = xasprintf("%.*s/Dockerfile", (int)(n > 1 && o->context[n - 1] == '/' ?
		    n - 1 : n), o->context);
	}
	/* The commit and its time come from the document, else from git. */
	if (!commit || sde < 0) {
		if (git_source_read(&gs, &ge) == 0)
			have_git = 1;
		if (!commit && have_git)
			commit = gs.commit;
		if (!repo && have_git)
			repo = gs.repository;
	}
	if (sde < 0) {
		const char *env = getenv("SOURCE_DATE_EPOCH");
		long long ct;

		if (env && *env) {
			if (parse_ll(env, 0, 253402300799LL, &sde) < 0) {
				err_set(e, EX_USAGE_, "SOURCE_DATE_EPOCH '%s': expected seconds since 1970",
				    env);
				goto out;
			}
		} else if (json_get_i64(cJSON_GetObjectItemCaseSensitive(src, "commit_time"),
		    &ct) == 0 && ct >= 0 && commit && json_str(src, "commit") &&
		    !strcmp(commit, json_str(src, "commit"))) {
			sde = ct;
		} else if (have_git && gs.commit_time >= 0) {
			sde = gs.commit_time;
		} else {
			sde = 0;
		}
	}
	if (make_tags(o, commit, version, &tags, &ntags, e) < 0)
		goto out;

	/* Build beside the output, then swap it in: a failed build leaves
	 * the output as it was. */
	parent = dir_name_of(o->out);
	name = base_name_of(o->out);
	oparent = xstrdup(parent);
	oname = xstrdup(name);
	if (mkdir_p(parent, 0755, e) < 0) {
		free(parent);
		free(name);
		goto out;
	}
	clean_stale(parent, name);
	{
		struct stat st;
		char *lay = xasprintf("%s/oci-layout", o->out);

		if (stat(o->out, &st) == 0 && (!S_ISDIR(st.st_mode) ||
		    (!path_exists(lay) && !dir_is_empty(o->out)))) {
			err_set(e, EX_USAGE_, "'%s' exists and is not an OCI image layout; not "
			    "replacing it (remove it or choose another -o)", o->out);
			free(lay);
			free(parent);
			free(name);
			goto out;
		}
		free(lay);
	}
	tmp = xasprintf("%s/.%s.tmp-%ld", parent, name, (long)getpid());
	free(parent);
	free(name);
	rm_rf(tmp);
	if (oci_layout_create(&layout, tmp, e) < 0)
		goto out;
	have_layout = 1;
	work = xasprintf("%s/.work", tmp);

	memset(&bo, 0, sizeof(bo));
	bo.dockerfile = dockerfile;
	bo.context = o->context;
	bo.build_args = o->build_args;
	bo.nbuild_args = o->nbuild_args;
	bo.target = o->target;
	bo.platform = o->platform;
	bo.sde = sde;
	bo.layer = o->layer;
	bo.layer.stop = &interrupted;
	bo.stop = &interrupted;
	if (!o->no_cache)
		cache = o->cache_dir ? xstrdup(o->cache_dir) : default_cache_dir();
	bo.cache_dir = cache;
	bo.work_dir = work;
	reg = registry_new(&o->ro);
	bo.reg = reg;
	bo.regopts = &o->ro;
	bo.revision = commit;
	bo.source = repo && is_url(repo) ? repo : NULL;
	bo.version = version;
	{
		/* Never copy our own output into the image. */
		char *rp = realpath(oparent, NULL);

		char *cp = realpath(o->context, NULL);

		if (rp) {
			excl[0] = xasprintf("%s/%s", rp, oname);
			excl[1] = xasprintf("%s/.%s.tmp-*", rp, oname);
			free(rp);
		}
		/* ci-out/ is where every tool of ci-tools writes (logs, reports,
		 * layouts): it is never part of the image. */
		if (cp) {
			excl[2] = xasprintf("%s/ci-out", strcmp(cp, "/") ? cp : "");
			free(cp);
		}
		bo.exclude = excl;
		bo.nexclude = 3;
	}
	if (build_run(&bo, &layout, &r, e) < 0)
		goto out;
	rm_rf(work);

	/* One index entry per tag, named by the tag alone. */
	if (ntags == 0)
		oci_index_add(&layout, &r.manifest, NULL);
	for (i = 0; i < ntags; i++) {
		size_t k;

		for (k = 0; k < i; k++)
			if (!strcmp(tags[k].tag, tags[i].tag))
				break;
		if (k == i)
			oci_index_add(&layout, &r.manifest, tags[i].tag);
	}
	if (oci_index_write(&layout, e) < 0)
		goto out;
	if (o->oci_archive && imgarchive_oci(&layout, o->oci_archive, sde, e) < 0)
		goto out;
	if (o->docker_archive) {
		char **full = xcalloc(ntags + 1, sizeof(*full));
		int ar;

		for (i = 0; i < ntags; i++)
			full[i] = tags[i].full;
		if (mkdir_p(work, 0700, e) < 0) {
			free(full);
			goto out;
		}
		ar = imgarchive_docker(&layout, &r.manifest, full, ntags, o->docker_archive, work,
		    sde, e);
		free(full);
		rm_rf(work);
		if (ar < 0)
			goto out;
	}
	/* A signal that came while a long step ran (one big COPY) is
	 * honoured here, before anything the user sees changes. */
	if (interrupted) {
		err_set(e, EX_TEMP, "interrupted by signal %d; nothing was changed",
		    (int)interrupted);
		goto out;
	}
	/* Swap the new layout in. */
	{
		struct stat st;
		char *old = NULL;

		if (stat(o->out, &st) == 0) {
			old = xasprintf("%s.old-%ld", tmp, (long)getpid());
			if (rename(o->out, old) != 0) {
				err_set(e, EX_IOERR_, "cannot move '%s' aside: %s", o->out,
				    strerror(errno));
				free(old);
				goto out;
			}
		}
		if (rename(tmp, o->out) != 0) {
			err_set(e, EX_IOERR_, "cannot rename '%s' to '%s': %s", tmp, o->out,
			    strerror(errno));
			if (old)
				rename(old, o->out);
			free(old);
			goto out;
		}
		if (old) {
			rm_rf(old);
			free(old);
		}
	}
	free(tmp);
	tmp = NULL;

	pipeline_set_section(p, "build", build_section(o, dockerfile, o->context, &r, tags,
	    ntags, sde), started, mono_ms() - t0);
	log_info("built %s %s: %zu layer%s (%d new, %d cached)%s%s", o->out, r.manifest.digest,
	    r.nlayers, r.nlayers == 1 ? "" : "s", r.layers_built, r.layers_cached, ntags ? ", tagged " : "",
	    ntags ? tags[0].full : "");
	for (i = 1; i < ntags; i++)
		log_info("  also tagged %s", tags[i].full);
	rc = 0;
out:
	if (rc < 0)
		error_section(p, e, started, t0);
	if (have_layout)
		oci_layout_close(&layout);
	if (tmp)
		rm_rf(tmp);
	free(tmp);
	free(work);
	free(cache);
	free(dockerfile);
	build_result_free(&r);
	tags_free(tags, ntags);
	registry_free(reg);
	git_source_free(&gs);
	free(oparent);
	free(oname);
	free(excl[0]);
	free(excl[1]);
	free(excl[2]);
	return rc;
}

int
main(int argc, char **argv)
{
	struct options o;
	struct pipeline p = { NULL, 0 };
	struct err e = { 0, "" };
	int rc;

	log_init("ci-build");
	/* "--version" alone prints ours; with a value it is the image's. */
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("ci-build %s\n", VERSION);
		return fflush(stdout) == EOF || ferror(stdout) ? EX_IOERR_ : 0;
	}
	memset(&o, 0, sizeof(o));
	o.context = ".";
	o.out = "ci-out/image";
	o.sde = -1;
	o.layer.compression = LAYER_GZIP;
	o.layer.level = -1;
	registry_opts_init(&o.ro);
	if (parse_args(argc, argv, &o) < 0) {
		registry_opts_free(&o.ro);
		free(o.tags);
		free(o.build_args);
		return EX_USAGE_;
	}
	signal(SIGPIPE, SIG_IGN);

	/* The document: from stdin unless it is a terminal, --new says not
	 * to, or stdin carried the password. */
	if (pipeline_open(&p, !o.new_doc && !o.ro.password_stdin, 0, o.version, &e) < 0) {
		rc = err_report(&e);
		goto out;
	}
	if (pipeline_skip_upstream(&p, "build", "building")) {
		rc = pipeline_write(&p, stdout, &e) < 0 ? err_report(&e) : EX_FAIL;
		goto out;
	}
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	rc = 0;
	if (run(&o, &p, &e) < 0) {
		if (interrupted)
			err_set(&e, EX_TEMP, "interrupted by signal %d; nothing was changed",
			    (int)interrupted);
		rc = err_report(&e);
	}
	if (pipeline_write(&p, stdout, &e) < 0)
		rc = err_report(&e);
out:
	pipeline_free(&p);
	registry_opts_free(&o.ro);
	free(o.tags);
	free(o.build_args);
	return rc;
}
