/*
 * run: RUN, in the stage's file system through an OCI runtime (builder.h).
 *
 * The stage's view is written out to a directory of its own under the
 * build's scratch directory (files copied, never linked: a RUN that edits
 * a file in place must not edit the build context or a cached blob),
 * with /proc, /dev, /sys and the working directory made beforehand so
 * that what the runtime creates is not the command's change.  The
 * directory is snapshotted, the command runs (image/runtime.h), and what
 * it changed (image/fsdiff.h) becomes the layer, whiteouts included.
 * The view then takes the changes, their content in that directory,
 * which lives until the build ends.
 *
 * Not built yet, refused by name where the Dockerfile is parsed: RUN
 * --mount, --security, heredocs.  Every RUN runs: its layer may come from
 * the content-keyed layer cache, but the command is not skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/json.h"
#include "core/log.h"
#include "image/builder.h"
#include "image/config.h"
#include "image/fsdiff.h"
#include "image/runtime.h"

/* Copy src to dst (created with mode). */
static int
copy_content(const char *src, const char *dst, unsigned mode, struct err *e)
{
	char buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, EX_IOERR_, "cannot read '%s': %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode & 0777);
	if (out < 0) {
		close(in);
		return err_set(e, EX_IOERR_, "cannot create '%s': %s", dst, strerror(errno));
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", dst, strerror(errno));
			break;
		}
	if (n < 0 && rc == 0)
		rc = err_set(e, EX_IOERR_, "cannot read '%s': %s", src, strerror(errno));
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = err_set(e, EX_IOERR_, "cannot write '%s': %s", dst, strerror(errno));
	return rc;
}

static void
set_meta(const char *path, const struct layer_entry *le)
{
	struct timespec ts[2];

	if (lchown(path, (uid_t)le->uid, (gid_t)le->gid) < 0)
		log_verbose("chown '%s': %s", path, strerror(errno));
	if (le->type != LE_SYMLINK && chmod(path, le->mode & 07777) < 0)
		log_verbose("chmod '%s': %s", path, strerror(errno));
	ts[0].tv_sec = ts[1].tv_sec = (time_t)le->mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

/* The view written out under dir. */
static int
write_tree(struct builder *b, struct rootfs *fs, const char *dir, struct err *e)
{
	struct rootfs_node **nodes;
	size_t n, i;
	int rc = 0;

	nodes = rootfs_list(fs, ".", &n);
	if (rootfs_materialize(fs, nodes, n, b->scratch, e) < 0) {
		free(nodes);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		const struct layer_entry *le = &nodes[i]->ent;
		char *path = xasprintf("%s/%s", dir, le->path);

		switch (le->type) {
		case LE_DIR:
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				rc = err_set(e, EX_IOERR_, "cannot create '%s': %s", path, strerror(errno));
			break;
		case LE_FILE:
			rc = le->size == 0 && !le->src ? copy_content("/dev/null", path, 0600, e) :
			    copy_content(le->src, path, 0600, e);
			break;
		case LE_SYMLINK:
			if (symlink(le->link ? le->link : "", path) < 0)
				rc = err_set(e, EX_IOERR_, "cannot create '%s': %s", path, strerror(errno));
			break;
		case LE_HARDLINK: {
			char *target = xasprintf("%s/%s", dir, le->link ? le->link : "");

			if (link(target, path) < 0)
				rc = err_set(e, EX_IOERR_, "cannot link '%s': %s", path, strerror(errno));
			free(target);
			break;
		}
		default:
			/* Device nodes and FIFOs: the runtime makes /dev. */
			break;
		}
		if (rc == 0 && le->type != LE_DIR && le->type != LE_HARDLINK &&
		    le->type <= LE_SYMLINK)
			set_meta(path, le);
		free(path);
	}
	/* Directories last, deepest first: their mtime would move with
	 * every entry made in them. */
	for (i = n; rc == 0 && i-- > 0; )
		if (nodes[i]->ent.type == LE_DIR) {
			char *path = xasprintf("%s/%s", dir, nodes[i]->ent.path);

			set_meta(path, &nodes[i]->ent);
			free(path);
		}
	free(nodes);
	return rc;
}

/* The process: the exec form, or SHELL (default /bin/sh -c) and text. */
static char **
run_argv(struct build_stage *s, const struct df_inst *in)
{
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(imgconfig_rt(s->cfg), "Shell"), *it;
	char **argv = NULL;
	size_t i;

	if (in->exec_form) {
		for (i = 0; i < in->nargs; i++)
			argv = strv_push(argv, in->args[i]);
		return argv;
	}
	if (cJSON_IsArray(sh) && cJSON_GetArraySize(sh) > 0) {
		cJSON_ArrayForEach(it, sh)
			if (cJSON_IsString(it))
				argv = strv_push(argv, it->valuestring);
	} else {
		argv = strv_push(argv, "/bin/sh");
		argv = strv_push(argv, "-c");
	}
	return strv_push(argv, in->rest ? in->rest : "");
}

/* The environment: the image's Env, then the build args the stage uses
 * that Env does not set (as BuildKit gives them to RUN). */
static char **
run_env(struct build_stage *s)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(imgconfig_rt(s->cfg), "Env"), *it;
	char **v = NULL;
	size_t i;

	cJSON_ArrayForEach(it, env)
		if (cJSON_IsString(it))
			v = strv_push(v, it->valuestring);
	for (i = 0; i < s->args.n; i++) {
		char *kv;

		if (!s->args.v[i].value || imgconfig_env_get(s->cfg, s->args.v[i].name))
			continue;
		kv = xasprintf("%s=%s", s->args.v[i].name, s->args.v[i].value);
		v = strv_push(v, kv);
		free(kv);
	}
	return v;
}

int
run_do(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	struct rootfs *fs = base_stage_fs(b, s);
	const char *user = json_str(imgconfig_rt(s->cfg), "User");
	const char *wd = json_str(imgconfig_rt(s->cfg), "WorkingDir");
	const char *net = df_flag(in, "network");
	char *dir = NULL, *bundle = NULL, *prefix = NULL, **argv = NULL, **env = NULL;
	struct fs_snapshot *snap = NULL;
	struct fs_delta *delta = NULL;
	struct layer_entry *ents = NULL;
	size_t ndelta = 0, nents = 0, i;
	struct run_spec rs;
	struct run_result rr;
	struct lb lb;
	long long uid = 0, gid = 0;
	int rc = -1;

	memset(&lb, 0, sizeof(lb));
	if (!fs)
		return builder_prefix(b, in);
	if (net && strcmp(net, "none") && strcmp(net, "host") && strcmp(net, "default"))
		return builder_err(b, in, EX_USAGE_, "RUN --network=%s: expected none, host or "
		    "default", net);
	if (user && *user && copy_user(b, s, in, user, &uid, &gid) < 0)
		return -1;
	dir = xasprintf("%s/run-%d", b->scratch, ++b->seq);
	bundle = xasprintf("%s.bundle", dir);
	if (mkdir_p(dir, 0755, b->e) < 0 || write_tree(b, fs, dir, b->e) < 0)
		goto prefixed;
	/* What the runtime makes is not the command's change. */
	{
		const char *made[] = { "proc", "dev", "sys", NULL };
		char *p;

		for (i = 0; made[i]; i++) {
			p = xasprintf("%s/%s", dir, made[i]);
			if (mkdir(p, 0755) < 0 && errno != EEXIST) {
				err_set(b->e, EX_IOERR_, "cannot create '%s': %s", p, strerror(errno));
				free(p);
				goto prefixed;
			}
			free(p);
		}
		if (wd && *wd) {
			p = xasprintf("%s/%s", dir, wd);
			if (mkdir_p(p, 0755, b->e) < 0) {
				free(p);
				goto prefixed;
			}
			free(p);
		}
	}
	if (!(snap = fs_snapshot_take(dir, b->e)))
		goto prefixed;
	argv = run_argv(s, in);
	env = run_env(s);
	prefix = xasprintf("#%d RUN", in->line);
	memset(&rs, 0, sizeof(rs));
	rs.runtime = b->o->runtime;
	rs.rootfs = dir;
	rs.bundle_dir = bundle;
	rs.argv = argv;
	rs.env = env;
	rs.cwd = wd && *wd ? wd : "/";
	rs.uid = (unsigned)uid;
	rs.gid = (unsigned)gid;
	rs.network_host = net && !strcmp(net, "host");
	rs.log_prefix = log_level() >= LOG_NORMAL ? prefix : NULL;
	memset(&rr, 0, sizeof(rr));
	if (runtime_run(&rs, &rr, b->e) < 0)
		goto prefixed;
	if (rr.status != 0) {
		builder_err(b, in, EX_FAIL, "RUN %s with status %d%s%s", rr.timed_out ?
		    "was stopped at its timeout" : "exited", rr.status, *rr.tail ? "; its last "
		    "lines:\n" : "", rr.tail);
		goto out;
	}
	if (fs_diff(snap, dir, &delta, &ndelta, b->e) < 0 ||
	    fs_delta_entries(delta, ndelta, dir, b->o->sde >= 0 ? b->o->sde : -1, &ents, &nents,
	    b->e) < 0)
		goto prefixed;
	/* The layer, through the cache like COPY's. */
	lb.v = xcalloc(nents + 1, sizeof(*lb.v));
	for (i = 0; i < nents; i++)
		lb.v[i].ent = ents[i];
	lb.n = nents;
	if (s->chain && cache_layer(b, s, &lb, ents, in) < 0)
		goto out;
	imgconfig_add_history(s->cfg, b->created, in->text, HISTORY_COMMENT, !s->chain);
	/* Later instructions see the changes. */
	for (i = 0; i < ndelta; i++)
		if (delta[i].change == FS_DELETED || delta[i].opaque)
			rootfs_remove(fs, delta[i].path, 1);
	for (i = 0; i < nents; i++) {
		const char *base = strrchr(ents[i].path, '/');

		base = base ? base + 1 : ents[i].path;
		if (!strncmp(base, ".wh.", 4))
			continue;
		rootfs_put(fs, &ents[i], -1);
	}
	rc = 0;
	goto out;
prefixed:
	builder_prefix(b, in);
out:
	free(lb.v);
	for (i = 0; i < nents; i++)
		layer_entry_free(&ents[i]);
	free(ents);
	fs_delta_free(delta, ndelta);
	fs_snapshot_free(snap);
	strv_free(argv);
	strv_free(env);
	free(prefix);
	free(bundle);
	free(dir);
	return rc;
}
