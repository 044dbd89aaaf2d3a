/*
 * job: one run of ci-build (see job.h).  Owns what surrounds the build:
 * the source facts (commit, repository, version, source date epoch) from
 * the document or git, the tags, the temporary layout beside the output
 * and its swap into place, index.json, the archives, and the build
 * section of the document.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/crypto-load.h"
#include "core/fsutil.h"
#include "core/git.h"
#include "core/json.h"
#include "image/archive.h"
#include "image/build.h"
#include "image/job.h"
#include "net/registry.h"
#include "oci/oci.h"
#include "oci/ref.h"

#define EPOCH_MAX 253402300799LL	/* 9999-12-31T23:59:59Z */

int
build_parse_epoch(const char *s, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > EPOCH_MAX)
		return -1;
	*out = v;
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
 * beside the output, whose process is gone, go.  So does the previous
 * image such a build had set aside (".NAME.tmp-PID.old-PID"), unless it
 * was killed before the new one took its place: then it goes back. */
static void
clean_stale(const char *parent, const char *name)
{
	DIR *d = opendir(parent);
	struct dirent *de;
	char *prefix = xasprintf(".%s.tmp-", name), *out = xasprintf("%s/%s", parent, name);
	size_t pl = strlen(prefix);

	if (!d) {
		free(prefix);
		free(out);
		return;
	}
	while ((de = readdir(d))) {
		char *end, *p;
		long pid;

		if (strncmp(de->d_name, prefix, pl) != 0)
			continue;
		pid = strtol(de->d_name + pl, &end, 10);
		if ((*end && strncmp(end, ".old-", 5) != 0) || pid <= 0 ||
		    pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		p = xasprintf("%s/%s", parent, de->d_name);
		if (*end && !path_exists(out) && rename(p, out) == 0)
			log_warn("'%s': put back the image a killed build had moved to '%s'", out,
			    p);
		else
			rm_rf(p);
		free(p);
	}
	closedir(d);
	free(prefix);
	free(out);
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

/* vVERSION-<short commit>, when there is a version. */
static int
version_tag(const char *version, const char *commit, char **out, struct err *e)
{
	const char *ver = (version[0] == 'v' || version[0] == 'V') ? version + 1 : version;
	char *vtag;

	if (commit && strlen(commit) >= 7) {
		vtag = xasprintf("v%s-%.7s", ver, commit);
	} else {
		vtag = xasprintf("v%s", ver);
		log_warn("no commit is known (not in git?): the version tag is '%s'", vtag);
	}
	if (!ref_tag_valid(vtag)) {
		err_set(e, EX_USAGE_, "--version-tag '%s': '%s' is not a valid tag", version, vtag);
		free(vtag);
		return -1;
	}
	*out = vtag;
	return 0;
}

/* Every -t name with its tag, the version tag, or "latest"; no repeats. */
static int
make_tags(const struct build_job *j, const char *commit, const char *version,
    struct tag **out, size_t *nout, struct err *e)
{
	struct tag *v = NULL;
	size_t n = 0, i;
	char *vtag = NULL;

	*out = NULL;
	*nout = 0;
	if (version && version_tag(version, commit, &vtag, e) < 0)
		return -1;
	for (i = 0; j->tags && j->tags[i]; i++) {
		struct image_ref r;
		const char *tagv[2];
		size_t k, nt = 0;

		if (ref_parse(j->tags[i], &r, e) < 0) {
			err_prefix(e, "-t");
			goto fail;
		}
		if (r.digest) {
			err_set(e, EX_USAGE_, "-t '%s': a tag cannot name a digest", j->tags[i]);
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
	tags_free(v, n);
	free(vtag);
	return -1;
}

/* ---- the section ---------------------------------------------------------- */

static cJSON *
build_section(const struct build_job *j, const char *dockerfile, const struct build_result *r,
    const struct tag *tags, size_t ntags, long long sde)
{
	cJSON *sec = cJSON_CreateObject(), *img, *arr, *base;
	long long total = r->manifest.size + r->config.size;
	size_t i;

	cJSON_AddStringToObject(sec, "status", "passed");
	img = cJSON_AddObjectToObject(sec, "image");
	cJSON_AddStringToObject(img, "layout", j->out);
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
	cJSON_AddStringToObject(sec, "context", j->context);
	cJSON_AddStringToObject(sec, "target", r->target);
	json_add_i64(sec, "layers_built", r->layers_built);
	json_add_i64(sec, "layers_cached", r->layers_cached);
	if (j->oci_archive)
		cJSON_AddStringToObject(sec, "oci_archive", j->oci_archive);
	if (j->docker_archive)
		cJSON_AddStringToObject(sec, "docker_archive", j->docker_archive);
	/* What the build fetched unpinned: the same inputs may not give the
	 * same image again. */
	if (r->unpinned) {
		arr = cJSON_AddArrayToObject(sec, "unpinned_urls");
		for (i = 0; r->unpinned[i]; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(r->unpinned[i]));
	}
	if (r->warnings) {
		arr = cJSON_AddArrayToObject(sec, "warnings");
		for (i = 0; r->warnings[i]; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(r->warnings[i]));
	}
	return sec;
}

static cJSON *
error_section(const struct err *e)
{
	cJSON *sec = cJSON_CreateObject();

	cJSON_AddStringToObject(sec, "status", "error");
	cJSON_AddStringToObject(sec, "reason", e->msg);
	json_add_i64(sec, "exit_code", e->code);
	return sec;
}

/* ---- the run -------------------------------------------------------------- */

/* What one run holds, freed by run_free(). */
struct run {
	const struct build_job *j;
	const cJSON *src;		/* run.source of the document */
	const char *commit, *repo, *version;
	long long sde;
	struct git_source gs;
	char *dockerfile;
	char *parent, *name;		/* of the output */
	char *tmp, *work, *cache;
	struct oci_layout layout;
	int have_layout;
	struct tag *tags;
	size_t ntags;
	struct build_result r;
	char *excl[3];
};

static void
run_free(struct run *u)
{
	if (u->have_layout)
		oci_layout_close(&u->layout);
	if (u->tmp)
		rm_rf(u->tmp);
	free(u->tmp);
	free(u->work);
	free(u->cache);
	free(u->dockerfile);
	free(u->parent);
	free(u->name);
	build_result_free(&u->r);
	tags_free(u->tags, u->ntags);
	git_source_free(&u->gs);
	free(u->excl[0]);
	free(u->excl[1]);
	free(u->excl[2]);
}

static char *
dockerfile_path(const struct build_job *j)
{
	size_t n = strlen(j->context);

	if (j->file)
		return xstrdup(j->file);
	if (!strcmp(j->context, "."))
		return xstrdup("Dockerfile");
	return xasprintf("%.*s/Dockerfile", (int)(n > 1 && j->context[n - 1] == '/' ? n - 1 : n),
	    j->context);
}

/* The commit and its time come from the document, else from git; the
 * epoch from the option, SOURCE_DATE_EPOCH, that time, or 0. */
static int
source_facts(struct run *u, struct err *e)
{
	const char *doc_commit = json_str(u->src, "commit");
	struct err ge = { 0, "" };
	int have_git = 0;
	long long ct;
	const char *env;

	u->commit = doc_commit;
	u->repo = json_str(u->src, "repository");
	u->version = u->j->version ? u->j->version : json_str(u->src, "version");
	u->sde = u->j->sde;
	env = getenv("SOURCE_DATE_EPOCH");
	/* git is asked only for what the document and the environment do
	 * not say (each question is a process: a warm build notices). */
	if ((!u->commit || u->sde < 0) && !(u->commit && u->repo && ((env && *env) ||
	    (json_get_i64(cJSON_GetObjectItemCaseSensitive(u->src, "commit_time"), &ct) == 0 &&
	    ct >= 0)))) {
		if (git_source_read(&u->gs, &ge) == 0)
			have_git = 1;
		if (!u->commit && have_git)
			u->commit = u->gs.commit;
		if (!u->repo && have_git)
			u->repo = u->gs.repository;
	}
	if (u->sde >= 0)
		return 0;
	if (env && *env) {
		if (build_parse_epoch(env, &u->sde) < 0)
			return err_set(e, EX_USAGE_, "SOURCE_DATE_EPOCH '%s': expected seconds since "
			    "1970", env);
	} else if (json_get_i64(cJSON_GetObjectItemCaseSensitive(u->src, "commit_time"),
	    &ct) == 0 && ct >= 0 && u->commit && doc_commit && !strcmp(u->commit, doc_commit)) {
		u->sde = ct;
	} else if (have_git && u->gs.commit_time >= 0) {
		u->sde = u->gs.commit_time;
	} else {
		u->sde = 0;
	}
	return 0;
}

/* Build beside the output, then swap it in: a failed build leaves the
 * output as it was.  Makes the temporary layout. */
static int
prepare_output(struct run *u, struct err *e)
{
	const char *out = u->j->out;
	struct stat st;
	char *lay;
	int bad;

	u->parent = dir_name_of(out);
	u->name = base_name_of(out);
	if (mkdir_p(u->parent, 0755, e) < 0)
		return -1;
	clean_stale(u->parent, u->name);
	lay = xasprintf("%s/oci-layout", out);
	bad = stat(out, &st) == 0 && (!S_ISDIR(st.st_mode) || (!path_exists(lay) &&
	    !dir_is_empty(out)));
	free(lay);
	if (bad)
		return err_set(e, EX_USAGE_, "'%s' exists and is not an OCI image layout; not "
		    "replacing it (remove it or choose another -o)", out);
	u->tmp = xasprintf("%s/.%s.tmp-%ld", u->parent, u->name, (long)getpid());
	rm_rf(u->tmp);
	if (oci_layout_create_staged(&u->layout, u->tmp, e) < 0)
		return -1;
	u->have_layout = 1;
	u->work = xasprintf("%s/.work", u->tmp);
	return 0;
}

/* Never copy our own output into the image; nor ci-out/, where every
 * tool of ci-tools writes (logs, reports, layouts). */
static void
excludes(struct run *u)
{
	char *rp = realpath(u->parent, NULL), *cp = realpath(u->j->context, NULL);

	if (rp) {
		u->excl[0] = xasprintf("%s/%s", rp, u->name);
		u->excl[1] = xasprintf("%s/.%s.tmp-*", rp, u->name);
		free(rp);
	}
	if (cp) {
		u->excl[2] = xasprintf("%s/ci-out", strcmp(cp, "/") ? cp : "");
		free(cp);
	}
}

/* What a build and a dry run take from the job alike. */
static void
opts_from_job(const struct build_job *j, const char *dockerfile, struct build_opts *bo)
{
	memset(bo, 0, sizeof(*bo));
	bo->dockerfile = dockerfile;
	bo->context = j->context;
	bo->build_args = j->build_args;
	bo->nbuild_args = strv_len(j->build_args);
	bo->target = j->target;
	bo->platform = j->platform;
	bo->layer = j->layer;
}

static int
build(struct run *u, struct err *e)
{
	const struct build_job *j = u->j;
	struct build_opts bo;

	opts_from_job(j, u->dockerfile, &bo);
	bo.runtime = j->runtime;
	bo.sde = u->sde;
	bo.layer.stop = j->stop;
	bo.stop = j->stop;
	if (!j->no_cache)
		u->cache = j->cache_dir ? xstrdup(j->cache_dir) : default_cache_dir();
	bo.cache_dir = u->cache;
	bo.work_dir = u->work;
	bo.regopts = j->ro;
	bo.revision = u->commit;
	bo.source = u->repo && is_url(u->repo) ? u->repo : NULL;
	bo.version = u->version;
	excludes(u);
	bo.exclude = u->excl;
	bo.nexclude = 3;
	if (build_run(&bo, &u->layout, &u->r, e) < 0)
		return -1;
	rm_rf(u->work);
	return 0;
}

/* index.json, one entry per tag named by the tag alone; the archives. */
static int
write_outputs(struct run *u, struct err *e)
{
	const struct build_job *j = u->j;
	size_t i, k;

	if (u->ntags == 0)
		oci_index_add(&u->layout, &u->r.manifest, NULL);
	for (i = 0; i < u->ntags; i++) {
		for (k = 0; k < i; k++)
			if (!strcmp(u->tags[k].tag, u->tags[i].tag))
				break;
		if (k == i)
			oci_index_add(&u->layout, &u->r.manifest, u->tags[i].tag);
	}
	if (oci_index_write(&u->layout, e) < 0)
		return -1;
	if (j->oci_archive && imgarchive_oci(&u->layout, j->oci_archive, u->sde, e) < 0)
		return -1;
	if (j->docker_archive) {
		char **full = xcalloc(u->ntags + 1, sizeof(*full));
		int ar;

		for (i = 0; i < u->ntags; i++)
			full[i] = u->tags[i].full;
		if (mkdir_p(u->work, 0700, e) < 0) {
			free(full);
			return -1;
		}
		ar = imgarchive_docker(&u->layout, &u->r.manifest, full, u->ntags, j->docker_archive,
		    u->work, u->sde, e);
		free(full);
		rm_rf(u->work);
		if (ar < 0)
			return -1;
	}
	return 0;
}

/*
 * Make the renames in dir durable.  Some file systems cannot fsync a
 * directory (EINVAL, ENOTSUP, EROFS): the renames stand.  (core/fsutil
 * does this inside atomic_write() but has no helper of its own.)
 */
static int
sync_dir(const char *dir, struct err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), saved;

	if (fd < 0)
		return err_set(e, EX_IOERR_, "cannot open '%s': %s", dir, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP && errno != EROFS) {
		saved = errno;
		close(fd);
		return err_set(e, EX_IOERR_, "cannot sync '%s': %s", dir, strerror(saved));
	}
	close(fd);
	return 0;
}

/* Whether the file b holds what a does: the same file (a blob linked
 * from the cache into both), or a small one with the same bytes. */
static int
same_file(const char *a, const char *b, const struct stat *sa, const struct stat *sb)
{
	char *ta, *tb;
	size_t la, lb;
	int same;

	if (sa->st_size != sb->st_size || (sa->st_mode & 07777) != (sb->st_mode & 07777))
		return 0;
	if (sa->st_dev == sb->st_dev && sa->st_ino == sb->st_ino)
		return 1;
	if (sa->st_size > (1 << 20))
		return 0;	/* a big one is not read to save a rename */
	ta = read_file(a, 1 << 20, &la, NULL);
	tb = read_file(b, 1 << 20, &lb, NULL);
	same = ta && tb && la == lb && !memcmp(ta, tb, la);
	free(ta);
	free(tb);
	return same;
}

/* Whether the tree at b is the tree at a: the same names, directories
 * and files (same_file), nothing more. */
static int
same_tree(const char *a, const char *b, int depth)
{
	struct stat sa, sb;
	struct dirent *de;
	size_t na = 0, nb = 0;
	char *pa, *pb;
	int same = 1;
	DIR *d;

	if (lstat(a, &sa) != 0 || lstat(b, &sb) != 0 || (sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
		return 0;
	if (S_ISREG(sa.st_mode))
		return same_file(a, b, &sa, &sb);
	if (!S_ISDIR(sa.st_mode) || depth > 4 || !(d = opendir(a)))
		return 0;
	while (same && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		na++;
		pa = xasprintf("%s/%s", a, de->d_name);
		pb = xasprintf("%s/%s", b, de->d_name);
		same = same_tree(pa, pb, depth + 1);
		free(pa);
		free(pb);
	}
	closedir(d);
	if (!same || !(d = opendir(b)))
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			nb++;
	closedir(d);
	return na == nb;
}

/*
 * Swap the new layout in: the old one aside, the new one in its place,
 * the directory synced, the old one removed.  When the new one cannot be
 * put in place, the old one goes back, or the message says where it is.
 */
static int
swap_in(struct run *u, struct err *e)
{
	const char *out = u->j->out;
	struct stat st;
	char *old = NULL;
	int saved;

	if (stat(out, &st) == 0) {
		old = xasprintf("%s.old-%ld", u->tmp, (long)getpid());
		if (rename(out, old) != 0) {
			err_set(e, EX_IOERR_, "cannot move '%s' aside to '%s': %s", out, old,
			    strerror(errno));
			free(old);
			return -1;
		}
	}
	if (rename(u->tmp, out) != 0) {
		saved = errno;
		if (old && rename(old, out) != 0)
			err_set(e, EX_IOERR_, "cannot rename '%s' to '%s': %s; the previous "
			    "image is left in '%s' (%s)", u->tmp, out, strerror(saved), old,
			    strerror(errno));
		else
			err_set(e, EX_IOERR_, "cannot rename '%s' to '%s': %s", u->tmp, out,
			    strerror(saved));
		free(old);
		return -1;
	}
	free(u->tmp);
	u->tmp = NULL;
	if (old) {
		rm_rf(old);
		free(old);
	}
	return sync_dir(u->parent, e);
}

/*
 * The new layout, put together unsynced beside the output, made durable
 * and swapped in; or, when the output already holds the same files (an
 * unchanged context built again), thrown away: the output is left as it
 * is, nothing rewritten and nothing synced again.
 */
static int
put_in_place(struct run *u, struct err *e)
{
	if (same_tree(u->tmp, u->j->out, 0)) {
		rm_rf(u->tmp);
		free(u->tmp);
		u->tmp = NULL;
		return 0;
	}
	if (oci_layout_sync(&u->layout, e) < 0)
		return -1;
	return swap_in(u, e);
}

int
build_job_plan(const struct build_job *j, struct buf *out, struct err *e)
{
	struct build_opts bo;
	char *dockerfile = dockerfile_path(j), *cache = NULL;
	int rc;

	if (crypto_load(e) < 0) {
		free(dockerfile);
		return -1;
	}
	opts_from_job(j, dockerfile, &bo);
	if (!j->no_cache)
		cache = j->cache_dir ? xstrdup(j->cache_dir) : default_cache_dir();
	bo.cache_dir = cache;
	rc = build_plan(&bo, out, e);
	free(cache);
	free(dockerfile);
	return rc;
}

int
build_job_run(const struct build_job *j, const cJSON *doc, cJSON **section, struct err *e)
{
	struct run u;
	size_t i;
	int rc = -1;

	memset(&u, 0, sizeof(u));
	u.j = j;
	u.src = json_path(doc, "run.source");
	*section = NULL;
	/* Layers and blobs are digested: libcrypto before the first. */
	if (crypto_load(e) < 0)
		return -1;
	u.dockerfile = dockerfile_path(j);
	if (source_facts(&u, e) < 0 || make_tags(j, u.commit, u.version, &u.tags, &u.ntags, e) < 0)
		goto out;
	if (prepare_output(&u, e) < 0 || build(&u, e) < 0 || write_outputs(&u, e) < 0)
		goto out;
	/* A signal that came while a long step ran (one big COPY) is
	 * honoured here, before anything the user sees changes. */
	if (j->stop && *j->stop)
		goto out;
	if (put_in_place(&u, e) < 0)
		goto out;
	*section = build_section(j, u.dockerfile, &u.r, u.tags, u.ntags, u.sde);
	log_info("built %s %s: %zu layer%s (%d new, %d cached)%s%s", j->out, u.r.manifest.digest,
	    u.r.nlayers, u.r.nlayers == 1 ? "" : "s", u.r.layers_built, u.r.layers_cached,
	    u.ntags ? ", tagged " : "", u.ntags ? u.tags[0].full : "");
	for (i = 1; i < u.ntags; i++)
		log_info("  also tagged %s", u.tags[i].full);
	rc = 0;
out:
	if (rc < 0) {
		if (j->stop && *j->stop)
			err_set(e, EX_TEMP, "interrupted by signal %d; nothing was changed",
			    (int)*j->stop);
		*section = error_section(e);
	}
	run_free(&u);
	return rc;
}
