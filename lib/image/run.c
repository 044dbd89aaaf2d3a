/*
 * run: RUN, in the stage's file system through an OCI runtime (builder.h).
 *
 * A step is keyed before it runs: the stage's state (its base and every
 * change since, cache_fold()), the command, its environment (Env and the
 * build args the stage has), user, working directory, network, the layer
 * options and the mounts (a bind's source by its stage's state or image
 * digest, or by its files' digest when it is the build context; a cache
 * mount by its id, never its content).  A key the cache
 * holds costs nothing: the layer is taken from the cache, the command is
 * not run.
 *
 * Otherwise the stage's view is written out to a directory of its own
 * under the build's scratch directory (files copied, never linked: a RUN
 * that edits a file in place must not edit the build context or a cached
 * blob), with /proc, /dev, /sys, the working directory and the mount
 * points made beforehand, inside the view (a symlink to / stays inside),
 * so that what the runtime creates is not the command's change.  The
 * directory is snapshotted, the command runs (image/runtime.h), and what
 * it changed (image/fsdiff.h) becomes the layer, whiteouts included.  The
 * view takes the changes, their content in that directory, which the
 * next RUN of the stage reuses as long as nothing else changed the view.
 *
 * Mounts (BuildKit's): type=cache (a directory under the build cache,
 * kept between builds, never in the image; sharing=locked and private
 * hold a lock while the step runs) and type=bind from a stage, an image
 * or, without from=, the build context (.dockerignore honoured, keyed by
 * a digest of the bound files' names, modes and contents): its files
 * written out, read-only unless rw, writes thrown away.  tmpfs, secret
 * and ssh are refused by name, as is RUN --security where the Dockerfile
 * is parsed.
 *
 * Heredocs: "RUN <<EOF" alone runs the body as a script file bound
 * read-only at /dev/pipes/EOF (in the runtime's /dev, never in the
 * layer), through SHELL, as BuildKit does; otherwise the bodies follow
 * the command for the shell.  Either way the step's key holds them.
 */
#include <ctype.h>
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

/* What the view holds below top ("." for all) written out under dir. */
static int
write_tree(struct builder *b, struct rootfs *fs, const char *top, const char *dir,
    struct err *e)
{
	struct rootfs_node **nodes;
	size_t n, i, skip = strcmp(top, ".") ? strlen(top) + 1 : 0;
	int rc = 0;

	nodes = rootfs_list(fs, top, &n);
	if (rootfs_materialize(fs, nodes, n, b->scratch, e) < 0) {
		free(nodes);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		const struct layer_entry *le = &nodes[i]->ent;
		char *path = xasprintf("%s/%s", dir, le->path + skip);

		switch (le->type) {
		case LE_DIR:
			if (mkdir(path, 0755) < 0 && errno != EEXIST)
				rc = err_set(e, EX_IOERR_, "cannot create '%s': %s", path, strerror(errno));
			break;
		case LE_FILE:
			rc = file_copy(le->size == 0 && !le->src ? "/dev/null" : le->src, path, 0600, 0, e);
			break;
		case LE_SYMLINK:
			if (symlink(le->link ? le->link : "", path) < 0)
				rc = err_set(e, EX_IOERR_, "cannot create '%s': %s", path, strerror(errno));
			break;
		case LE_HARDLINK: {
			const char *to = le->link ? le->link : "";
			char *target;

			if (skip && (strncmp(to, top, skip - 1) || to[skip - 1] != '/')) {
				/* Linked to a file outside the tree: a copy. */
				struct rootfs_node *t = rootfs_get(fs, to);

				if (!t || t->ent.type != LE_FILE)
					rc = err_set(e, EX_IOERR_, "'%s' links to '%s', not a "
					    "file", le->path, to);
				else if (rootfs_materialize(fs, &t, 1, b->scratch, e) < 0)
					rc = -1;
				else if ((rc = file_copy(t->ent.src ? t->ent.src : "/dev/null",
				    path, 0600, 0, e)) == 0)
					set_meta(path, &t->ent);
				free(path);
				continue;
			}
			target = xasprintf("%s/%s", dir, to + skip);
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
			char *path = xasprintf("%s/%s", dir, nodes[i]->ent.path + skip);

			set_meta(path, &nodes[i]->ent);
			free(path);
		}
	free(nodes);
	return rc;
}

/* SHELL, or /bin/sh -c. */
static char **
shell_argv(struct build_stage *s)
{
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(imgconfig_rt(s->cfg), "Shell"), *it;
	char **argv = NULL;

	if (cJSON_IsArray(sh) && cJSON_GetArraySize(sh) > 0) {
		cJSON_ArrayForEach(it, sh)
			if (cJSON_IsString(it))
				argv = strv_push(argv, it->valuestring);
	} else {
		argv = strv_push(argv, "/bin/sh");
		argv = strv_push(argv, "-c");
	}
	return argv;
}

/* "RUN <<EOF" alone: the heredoc is the script (BuildKit's rule). */
static const struct df_heredoc *
run_script(const struct df_inst *in)
{
	if (in->exec_form || in->nheredocs != 1 || strcmp(in->rest, in->heredocs[0].word))
		return NULL;
	return &in->heredocs[0];
}

/* Where a script heredoc is bound in the container: /dev is the
 * runtime's tmpfs, so nothing of it reaches the layer. */
static char *
script_path(const struct df_heredoc *h)
{
	const char *n = h->name;
	int plain = *n && strcmp(n, ".") && strcmp(n, "..");

	/* a name fit for a file and a bind ("a:b" would split it) */
	for (; plain && *n; n++)
		if (!isalnum((unsigned char)*n) && !strchr("._-", *n))
			plain = 0;
	return xasprintf("/dev/pipes/%s", plain ? h->name : "script");
}

/*
 * The process: the exec form, or SHELL (default /bin/sh -c) and text.
 * With heredocs, as BuildKit does: a script heredoc is a file the shell
 * runs (its "#!" line, when it has one, picks the interpreter); others
 * follow the command's text, each body and its delimiter, for the shell
 * to read as here-documents (and expand, when unquoted).
 */
static char **
run_argv(struct build_stage *s, const struct df_inst *in)
{
	const struct df_heredoc *script = run_script(in);
	char **argv = NULL;
	size_t i;

	if (in->exec_form) {
		for (i = 0; i < in->nargs; i++)
			argv = strv_push(argv, in->args[i]);
		return argv;
	}
	argv = shell_argv(s);
	if (script) {
		char *path = script_path(script);

		argv = strv_push(argv, path);
		free(path);
	} else if (in->nheredocs) {
		struct buf t = BUF_INIT;

		buf_adds(&t, in->rest);
		for (i = 0; i < in->nheredocs; i++)
			buf_addf(&t, "\n%s%s", in->heredocs[i].body, in->heredocs[i].name);
		buf_addc(&t, '\n');
		argv = strv_push(argv, buf_str(&t));
		buf_free(&t);
	} else {
		argv = strv_push(argv, in->rest ? in->rest : "");
	}
	return argv;
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

/* ---- mounts ------------------------------------------------------------- */

void
run_mount_free(struct run_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->host);
	free(m->res);
	rootfs_free(m->ctx);
	memset(m, 0, sizeof(*m));
}

/* A path of a mount option, cleaned; ".." refused. */
static int
mount_path(const char *key, const char *v, const char *cwd, char **out, struct err *e)
{
	const char *p;
	char *joined;

	for (p = v; (p = strstr(p, "..")); p += 2)
		if ((p == v || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return err_set(e, EX_USAGE_, "--mount: %s='%s' has a '..': a mount "
			    "stays inside the file system it names", key, v);
	joined = *v == '/' || !cwd ? xstrdup(v) : xasprintf("%s/%s", cwd, v);
	*out = path_clean(joined);
	free(joined);
	return 0;
}

int
run_mount_parse(const char *spec, const char *cwd, struct run_mount *m, struct err *e)
{
	char *copy = xstrdup(spec), *item, *save = NULL, *type = NULL;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->uid = m->gid = 0;
	m->mode = 0755;
	for (item = strtok_r(copy, ",", &save); item && rc == 0;
	    item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '='), *v = eq ? eq + 1 : NULL;
		char *end;

		if (eq)
			*eq = '\0';
		if (!strcmp(item, "type")) {
			free(type);
			type = xstrdup(v ? v : "");
		} else if (!strcmp(item, "target") || !strcmp(item, "dst") ||
		    !strcmp(item, "destination")) {
			free(m->target);
			m->target = NULL;
			if (!v || !*v)
				rc = err_set(e, EX_USAGE_, "--mount: %s needs a path", item);
			else
				rc = mount_path(item, v, cwd, &m->target, e);
		} else if (!strcmp(item, "source") || !strcmp(item, "src")) {
			free(m->source);
			m->source = NULL;
			rc = mount_path(item, v ? v : "", "/", &m->source, e);
		} else if (!strcmp(item, "from")) {
			free(m->from);
			m->from = xstrdup(v ? v : "");
		} else if (!strcmp(item, "id")) {
			free(m->id);
			m->id = xstrdup(v ? v : "");
		} else if (!strcmp(item, "ro") || !strcmp(item, "readonly") ||
		    !strcmp(item, "rw") || !strcmp(item, "readwrite")) {
			int on = !v || !strcmp(v, "true");

			if (v && strcmp(v, "true") && strcmp(v, "false"))
				rc = err_set(e, EX_USAGE_, "--mount: %s takes true or false, "
				    "not '%s'", item, v);
			m->rw = item[1] == 'w' || item[1] == 'e' ? on : !on;
		} else if (!strcmp(item, "sharing")) {
			if (!v || (strcmp(v, "shared") && strcmp(v, "private") &&
			    strcmp(v, "locked")))
				rc = err_set(e, EX_USAGE_, "--mount: sharing='%s': expected "
				    "shared, private or locked", v ? v : "");
			else
				m->locked = strcmp(v, "shared") != 0;
		} else if (!strcmp(item, "mode")) {
			unsigned long mode = v ? strtoul(v, &end, 8) : 0;

			if (!v || !*v || *end || mode > 07777)
				rc = err_set(e, EX_USAGE_, "--mount: mode='%s': expected an "
				    "octal mode such as 0755", v ? v : "");
			m->mode = (unsigned)mode;
		} else if (!strcmp(item, "uid") || !strcmp(item, "gid")) {
			long long id = v && *v ? strtoll(v, &end, 10) : -1;

			if (!v || !*v || *end || id < 0 || id > 0xfffffffeLL)
				rc = err_set(e, EX_USAGE_, "--mount: %s='%s': expected a "
				    "number", item, v ? v : "");
			else if (item[0] == 'u')
				m->uid = id;
			else
				m->gid = id;
		} else {
			rc = err_set(e, EX_USAGE_, "--mount: unknown option '%s' (ci-build "
			    "knows type, target, source, from, id, sharing, mode, uid, gid, ro, "
			    "rw)", item);
		}
	}
	free(copy);
	if (rc == 0) {
		if (!type || !strcmp(type, "bind"))
			m->type = RM_BIND;
		else if (!strcmp(type, "cache"))
			m->type = RM_CACHE;
		else if (!strcmp(type, "tmpfs") || !strcmp(type, "secret") ||
		    !strcmp(type, "ssh"))
			rc = err_set(e, EX_USAGE_, "--mount=type=%s is not supported by "
			    "ci-build (type=cache and type=bind are)", type);
		else
			rc = err_set(e, EX_USAGE_, "--mount: unknown type '%s' (expected "
			    "cache or bind)", type);
	}
	if (rc == 0 && !m->target)
		rc = err_set(e, EX_USAGE_, "--mount: target= is missing");
	if (rc == 0 && m->type == RM_CACHE && m->from)
		rc = err_set(e, EX_USAGE_, "--mount=type=cache,from= is not supported by "
		    "ci-build: the cache starts empty");
	if (rc == 0 && m->type == RM_BIND && (m->locked || m->id))
		rc = err_set(e, EX_USAGE_, "--mount: %s is for type=cache", m->id ? "id" :
		    "sharing");
	if (rc == 0 && !m->source)
		m->source = xstrdup("/");
	if (rc == 0 && !m->id)
		m->id = xstrdup(m->target);
	free(type);
	if (rc < 0)
		run_mount_free(m);
	return rc;
}

/* The stage's mounts of this RUN, expanded and parsed. */
static int
mounts_parse(struct builder *b, struct build_stage *s, const struct df_inst *in,
    const char *cwd, struct run_mount **out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	for (i = 0; i < in->nflags; i++) {
		char *spec;

		if (strcmp(in->flags[i].name, "mount"))
			continue;
		if (plan_expand(b, s, in, in->flags[i].value, &spec) < 0)
			return -1;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		if (run_mount_parse(spec, cwd, &(*out)[*n], b->e) < 0) {
			free(spec);
			return builder_prefix(b, in);
		}
		free(spec);
		(*n)++;
	}
	return 0;
}

/* A bind's source, m->res in m->view: there, and a file or a directory. */
static int
bind_check(struct builder *b, const struct df_inst *in, struct run_mount *m)
{
	const char *name = m->from ? m->from : "the build context";
	struct rootfs_node *node = strcmp(m->res, ".") ? rootfs_get(m->view, m->res) : NULL;

	if (strcmp(m->res, ".") && !node)
		return builder_err(b, in, EX_USAGE_, "RUN --mount: source='%s' is not in "
		    "'%s'", m->source, name);
	if (node && node->ent.type != LE_FILE && node->ent.type != LE_DIR)
		return builder_err(b, in, EX_USAGE_, "RUN --mount: source='%s' in '%s' is "
		    "neither a file nor a directory", m->source, name);
	m->is_file = node && node->ent.type == LE_FILE;
	return 0;
}

/*
 * What the step's key takes of m (ident), before anything is written
 * out: a cache mount's directory is made; a bind's source is found and
 * checked, and written out only when the step runs (mount_write()), so
 * that a cached step copies nothing.
 */
static int
mount_ident(struct builder *b, struct build_stage *s, const struct df_inst *in,
    struct run_mount *m, char *ident)
{
	if (m->type == RM_CACHE) {
		char d[OCI_DIGEST_SIZE];

		sha256_digest(m->id, strlen(m->id), d);
		m->host = b->have_cache ? xasprintf("%s/mounts/%.32s", b->o->cache_dir, d + 7) :
		    xasprintf("%s/cache-%.32s", b->scratch, d + 7);
		if (!path_exists(m->host)) {
			if (mkdir_p(m->host, 0755, b->e) < 0)
				return builder_prefix(b, in);
			if (chmod(m->host, m->mode) < 0 ||
			    chown(m->host, (uid_t)m->uid, (gid_t)m->gid) < 0)
				log_verbose("cache mount '%s': %s", m->host, strerror(errno));
		}
		snprintf(ident, OCI_DIGEST_SIZE, "cache");
		return 0;
	}
	if (!m->from) {
		/* The build context: its own view, dropped with m. */
		if (!(m->ctx = copy_ctx_fs(b, in, m->source, &m->res, ident)))
			return -1;
		m->view = m->ctx;
	} else {
		if (!(m->view = copy_from_fs(b, s, in, "RUN --mount", m->from, ident)))
			return -1;
		if (rootfs_resolve(m->view, m->source, 1, &m->res, b->e) < 0)
			return builder_prefix(b, in);
	}
	return bind_check(b, in, m);
}

/* m->host: a bind's source written out; then absolute, as the runtime's
 * binds want it (a cache mount's too). */
static int
mount_write(struct builder *b, const struct df_inst *in, struct run_mount *m)
{
	char *abs;

	if (m->type == RM_BIND) {
		struct rootfs_node *node = m->is_file ? rootfs_get(m->view, m->res) : NULL;

		m->host = xasprintf("%s/bind-%d", b->scratch, ++b->seq);
		if (node) {
			if (rootfs_materialize(m->view, &node, 1, b->scratch, b->e) < 0 ||
			    file_copy(node->ent.src ? node->ent.src : "/dev/null", m->host,
			    node->ent.mode & 0777, 0, b->e) < 0)
				return builder_prefix(b, in);
		} else if (mkdir_p(m->host, 0755, b->e) < 0 ||
		    write_tree(b, m->view, m->res, m->host, b->e) < 0) {
			return builder_prefix(b, in);
		}
		rootfs_free(m->ctx);
		m->ctx = NULL;
		m->view = NULL;
	}
	if (!(abs = realpath(m->host, NULL)))
		return builder_err(b, in, EX_IOERR_, "'%s': %s", m->host, strerror(errno));
	free(m->host);
	m->host = abs;
	return 0;
}

/* ---- the step ----------------------------------------------------------- */

/* What makes the step's result: its key. */
static void
run_key(struct builder *b, struct build_stage *s, const struct df_heredoc *script,
    char **argv, char **env, long long uid,
    long long gid, const char *cwd, const char *net, const struct run_mount *m,
    char (*idents)[OCI_DIGEST_SIZE], size_t nm, char key[OCI_DIGEST_SIZE])
{
	char opts[OCI_DIGEST_SIZE];
	struct buf k;
	size_t i;

	buf_init(&k, 0);
	layer_cache_key(NULL, 0, &b->o->layer, opts);
	buf_addf(&k, "ci-build RUN 1\nstate %s\nlayer %s\nsde %lld\nuser %lld:%lld\n"
	    "cwd %s\nnetwork %s\n", s->state, opts, b->o->sde, uid, gid, cwd, net);
	for (i = 0; argv[i]; i++) {
		buf_adds(&k, "argv ");
		buf_add(&k, argv[i], strlen(argv[i]) + 1);
	}
	if (script) {
		buf_adds(&k, "script ");
		buf_add(&k, script->body, strlen(script->body) + 1);
	}
	for (i = 0; env && env[i]; i++) {
		buf_adds(&k, "env ");
		buf_add(&k, env[i], strlen(env[i]) + 1);
	}
	for (i = 0; i < nm; i++) {
		buf_addf(&k, "mount %s %s", m[i].type == RM_CACHE ? "cache" : "bind",
		    idents[i]);
		buf_add(&k, m[i].target, strlen(m[i].target) + 1);
		buf_add(&k, m[i].source, strlen(m[i].source) + 1);
		buf_add(&k, m[i].id, strlen(m[i].id) + 1);
		buf_addf(&k, "%d %o %lld %lld\n", m[i].rw, m[i].mode, m[i].uid, m[i].gid);
	}
	sha256_digest(k.data, k.len, key);
	buf_free(&k);
}

/* Make path (absolute in the container) inside the view written out in
 * dir, resolved in the view; as a file with file.  What was missing and
 * made is pushed to made (parents first) when made is non-NULL. */
static int
make_point(struct builder *b, struct rootfs *fs, const char *dir, const char *path, int file,
    char ***made)
{
	char *res = NULL, *host, *p;
	int rc = 0;

	if (rootfs_resolve(fs, path, 1, &res, b->e) < 0)
		return -1;
	host = xasprintf("%s/%s", dir, res);
	for (p = host + strlen(dir) + 1; rc == 0 && strcmp(res, "."); p++) {
		int last = !(p = strchr(p, '/'));

		if (!last)
			*p = '\0';
		if (!path_exists(host)) {
			if (last && file) {
				int fd = open(host, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC, 0644);

				if (fd < 0)
					rc = -1;
				else
					close(fd);
			} else if (mkdir(host, 0755) < 0) {
				rc = -1;
			}
			if (rc < 0)
				err_set(b->e, EX_IOERR_, "cannot create '%s': %s", host,
				    strerror(errno));
			else if (made)
				*made = strv_push(*made, host);
		}
		if (last)
			break;
		*p = '/';
	}
	free(host);
	free(res);
	return rc;
}

int
run_do(struct builder *b, struct build_stage *s, const struct df_inst *in)
{
	struct rootfs *fs = base_stage_fs(b, s);
	const char *user = json_str(imgconfig_rt(s->cfg), "User");
	const char *wd = json_str(imgconfig_rt(s->cfg), "WorkingDir");
	const char *net = df_flag(in, "network");
	const char *cwd = wd && *wd ? wd : "/";
	char *dir = NULL, *bundle = NULL, *prefix = NULL, **argv = NULL, **env = NULL;
	char **made = NULL, **points = NULL, **ro = NULL, **rw = NULL, *blob;
	char key[OCI_DIGEST_SIZE], (*idents)[OCI_DIGEST_SIZE] = NULL;
	struct fs_snapshot *snap = NULL;
	struct fs_delta *delta = NULL;
	struct layer_entry *ents = NULL;
	struct run_mount *mounts = NULL;
	size_t ndelta = 0, nents = 0, nmounts = 0, i;
	struct run_spec rs;
	struct run_result rr;
	struct lb lb;
	long long uid = 0, gid = 0;
	int rc = -1, *locks = NULL;

	memset(&lb, 0, sizeof(lb));
	if (!fs)
		return builder_prefix(b, in);
	if (!net)
		net = "default";
	if (strcmp(net, "none") && strcmp(net, "host") && strcmp(net, "default"))
		return builder_err(b, in, EX_USAGE_, "RUN --network=%s: expected none, host or "
		    "default", net);
	if (user && *user && copy_user(b, s, in, user, &uid, &gid) < 0)
		return -1;
	if (mounts_parse(b, s, in, cwd, &mounts, &nmounts) < 0)
		goto out;
	idents = xcalloc(nmounts + 1, sizeof(*idents));
	locks = xcalloc(nmounts + 1, sizeof(*locks));
	for (i = 0; i < nmounts; i++) {
		locks[i] = -1;
		if (mount_ident(b, s, in, &mounts[i], idents[i]) < 0)
			goto out;
	}
	argv = run_argv(s, in);
	env = run_env(s);
	run_key(b, s, run_script(in), argv, env, uid, gid, cwd, net, mounts, idents, nmounts, key);

	/* An unchanged step costs nothing. */
	if ((blob = cache_run_get(b, s, key, in))) {
		const char *digest = strrchr(blob, '/') + 1;
		char *listing = xasprintf("%s/views/%s", b->o->cache_dir, digest);

		rc = rootfs_apply_layer(fs, s->chain ? s->layers[s->nlayers - 1].path : blob,
		    listing, b->e);
		free(listing);
		free(blob);
		if (rc < 0) {
			builder_prefix(b, in);
			goto out;
		}
		imgconfig_add_history(s->cfg, b->created, in->text, HISTORY_COMMENT, !s->chain);
		cache_fold(s, key);
		log_info("#%d RUN: cached", in->line);
		goto out;
	}

	/* The view written out, or the last RUN's directory when nothing
	 * else changed the view since. */
	if (s->run_dir && s->run_gen == fs->generation) {
		dir = xstrdup(s->run_dir);
	} else {
		dir = xasprintf("%s/run-%d", b->scratch, ++b->seq);
		if (mkdir_p(dir, 0755, b->e) < 0 || write_tree(b, fs, ".", dir, b->e) < 0)
			goto prefixed;
	}
	bundle = xasprintf("%s/run-%d.bundle", b->scratch, ++b->seq);
	/* What the runtime makes is not the command's change. */
	if (make_point(b, fs, dir, "/proc", 0, &points) < 0 ||
	    make_point(b, fs, dir, "/dev", 0, &points) < 0 ||
	    make_point(b, fs, dir, "/sys", 0, &points) < 0 ||
	    make_point(b, fs, dir, cwd, 0, &points) < 0)
		goto prefixed;
	for (i = 0; i < nmounts; i++) {
		char *bind;

		if (mount_write(b, in, &mounts[i]) < 0)
			goto out;
		bind = xasprintf("%s:%s", mounts[i].host, mounts[i].target);
		if (make_point(b, fs, dir, mounts[i].target, mounts[i].is_file, &made) < 0) {
			free(bind);
			goto prefixed;
		}
		if (mounts[i].rw || mounts[i].type == RM_CACHE)
			rw = strv_push(rw, bind);
		else
			ro = strv_push(ro, bind);
		free(bind);
		if (mounts[i].type == RM_CACHE && mounts[i].locked) {
			char *lock = xasprintf("%s.lock", mounts[i].host);

			locks[i] = lock_file(lock, 1, b->e);
			free(lock);
			if (locks[i] < 0)
				goto prefixed;
		}
	}
	if (run_script(in)) {
		char *host = xasprintf("%s/script-%d", b->scratch, ++b->seq), *abs, *ctr, *bind;
		const char *body = run_script(in)->body;

		if (atomic_write(host, body, strlen(body), 0755, b->e) < 0) {
			free(host);
			goto prefixed;
		}
		abs = realpath(host, NULL);
		free(host);
		if (!abs) {
			builder_err(b, in, EX_IOERR_, "the script of the heredoc: %s", strerror(errno));
			goto out;
		}
		ctr = script_path(run_script(in));
		bind = xasprintf("%s:%s", abs, ctr);
		ro = strv_push(ro, bind);
		free(bind);
		free(ctr);
		free(abs);
	}
	if (!(snap = fs_snapshot_take(dir, b->e)))
		goto prefixed;
	prefix = xasprintf("#%d RUN", in->line);
	memset(&rs, 0, sizeof(rs));
	rs.runtime = b->o->runtime;
	rs.rootfs = dir;
	rs.bundle_dir = bundle;
	rs.argv = argv;
	rs.env = env;
	rs.cwd = cwd;
	rs.uid = (unsigned)uid;
	rs.gid = (unsigned)gid;
	rs.network_host = !strcmp(net, "host");
	rs.ro_binds = (const char *const *)ro;
	rs.rw_binds = (const char *const *)rw;
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
	if (fs_diff(snap, dir, &delta, &ndelta, b->e) < 0)
		goto prefixed;
	/* The points made for the runtime are not the command's change,
	 * whatever their times say. */
	{
		size_t np = strv_len(points), nm = strv_len(made), skip = strlen(dir) + 1;
		const char **rel = xcalloc(np + nm + 1, sizeof(*rel));

		for (i = 0; i < np; i++)
			rel[i] = points[i] + skip;
		for (i = 0; i < nm; i++)
			rel[np + i] = made[i] + skip;
		fs_delta_drop_points(snap, dir, delta, &ndelta, rel, np + nm);
		free(rel);
	}
	if (fs_delta_entries(delta, ndelta, dir, b->o->sde >= 0 ? b->o->sde : -1, &ents, &nents,
	    b->e) < 0)
		goto prefixed;
	/* The layer, through the cache like COPY's, kept under the key. */
	lb.v = xcalloc(nents + 1, sizeof(*lb.v));
	for (i = 0; i < nents; i++)
		lb.v[i].ent = ents[i];
	lb.n = nents;
	if (cache_run_put(b, s, key, &lb, ents, in) < 0)
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
	cache_fold(s, key);
	/* The mount points made go, deepest first: not in the view. */
	for (i = strv_len(made); i-- > 0; )
		if (remove(made[i]) < 0)
			log_verbose("cannot remove '%s': %s", made[i], strerror(errno));
	free(s->run_dir);
	s->run_dir = dir;
	dir = NULL;
	s->run_gen = fs->generation;
	rc = 0;
	goto out;
prefixed:
	builder_prefix(b, in);
out:
	for (i = 0; locks && i < nmounts; i++)
		if (locks[i] >= 0)
			unlock_file(locks[i]);
	free(locks);
	for (i = 0; i < nmounts; i++)
		run_mount_free(&mounts[i]);
	free(mounts);
	free(idents);
	free(lb.v);
	for (i = 0; i < nents; i++)
		layer_entry_free(&ents[i]);
	free(ents);
	fs_delta_free(delta, ndelta);
	fs_snapshot_free(snap);
	strv_free(argv);
	strv_free(env);
	strv_free(made);
	strv_free(points);
	strv_free(ro);
	strv_free(rw);
	free(prefix);
	free(bundle);
	free(dir);
	return rc;
}
