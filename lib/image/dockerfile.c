/*
 * dockerfile: the Dockerfile parser and Docker's word expansion.  The
 * rules follow BuildKit's frontend (parser.go, line_parsers.go, lex.go);
 * the comments name Docker's quirks where we keep them on purpose.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "image/dockerfile.h"
#include "core/json.h"

#define MAX_LINE_BYTES (4u << 20)	/* one logical instruction */

static const struct {
	const char *name;
	enum df_kind kind;
} keywords[] = {
	{ "add", DF_ADD }, { "arg", DF_ARG }, { "cmd", DF_CMD }, { "copy", DF_COPY },
	{ "entrypoint", DF_ENTRYPOINT }, { "env", DF_ENV }, { "expose", DF_EXPOSE },
	{ "from", DF_FROM }, { "healthcheck", DF_HEALTHCHECK }, { "label", DF_LABEL },
	{ "maintainer", DF_MAINTAINER }, { "onbuild", DF_ONBUILD }, { "run", DF_RUN },
	{ "shell", DF_SHELL }, { "stopsignal", DF_STOPSIGNAL }, { "user", DF_USER },
	{ "volume", DF_VOLUME }, { "workdir", DF_WORKDIR },
};

/* The flags each instruction accepts: 's' takes a value, 'm' a value and may
 * be given more than once (RUN --mount), 'b' is a boolean. */
static const struct {
	enum df_kind kind;
	const char *name;
	char type;
} known_flags[] = {
	{ DF_FROM, "platform", 's' },
	{ DF_COPY, "from", 's' }, { DF_COPY, "chown", 's' }, { DF_COPY, "chmod", 's' },
	{ DF_COPY, "link", 'b' }, { DF_COPY, "parents", 'b' }, { DF_COPY, "exclude", 's' },
	{ DF_ADD, "chown", 's' }, { DF_ADD, "chmod", 's' }, { DF_ADD, "link", 'b' },
	{ DF_ADD, "keep-git-dir", 'b' }, { DF_ADD, "checksum", 's' },
	{ DF_ADD, "exclude", 's' },
	{ DF_RUN, "mount", 'm' }, { DF_RUN, "network", 's' }, { DF_RUN, "security", 's' },
	{ DF_HEALTHCHECK, "interval", 's' }, { DF_HEALTHCHECK, "timeout", 's' },
	{ DF_HEALTHCHECK, "start-period", 's' }, { DF_HEALTHCHECK, "start-interval", 's' },
	{ DF_HEALTHCHECK, "retries", 's' },
};

const char *
df_kind_name(enum df_kind k)
{
	size_t i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (keywords[i].kind == k) {
			static char up[sizeof(keywords) / sizeof(keywords[0])][16];

			if (!up[i][0]) {
				size_t j;

				for (j = 0; keywords[i].name[j] && j < 15; j++)
					up[i][j] = (char)toupper((unsigned char)keywords[i].name[j]);
				up[i][j] = '\0';
			}
			return up[i];
		}
	return "?";
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

char **
df_split_words(const char *s, size_t *n)
{
	char **v = NULL;
	const char *p = s, *q;

	*n = 0;
	for (;;) {
		while (*p && is_space((unsigned char)*p))
			p++;
		if (!*p)
			break;
		for (q = p; *q && !is_space((unsigned char)*q); q++)
			;
		{
			char *word = xstrndup(p, (size_t)(q - p));

			v = strv_push(v, word);
			(*n)++;
			free(word);
		}
		p = q;
	}
	if (!v)
		v = xcalloc(1, sizeof(*v));
	return v;
}

void
df_inst_free(struct df_inst *in)
{
	size_t i;

	if (!in)
		return;
	free(in->text);
	for (i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	strv_free(in->args);
	free(in->rest);
	for (i = 0; i < in->nkvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	for (i = 0; i < in->nheredocs; i++) {
		free(in->heredocs[i].word);
		free(in->heredocs[i].name);
		free(in->heredocs[i].body);
	}
	free(in->heredocs);
	if (in->trigger) {
		df_inst_free(in->trigger);
		free(in->trigger);
	}
	memset(in, 0, sizeof(*in));
}

void
dockerfile_free(struct dockerfile *df)
{
	size_t i;

	if (!df)
		return;
	for (i = 0; i < df->n; i++)
		df_inst_free(&df->v[i]);
	free(df->v);
	free(df->name);
	free(df->syntax);
	memset(df, 0, sizeof(*df));
}

const char *
df_flag(const struct df_inst *in, const char *name)
{
	size_t i;

	for (i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, name))
			return in->flags[i].value ? in->flags[i].value : "";
	return NULL;
}

int
df_has_flag(const struct df_inst *in, const char *name)
{
	return df_flag(in, name) != NULL;
}

/* ---- the pieces of one instruction ------------------------------------ */

struct pctx {
	const char *name;
	int line;
	int escape;
	struct err *e;
};

static int
perr(const struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
perr(const struct pctx *c, const char *fmt, ...)
{
	char msg[800];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(c->e, EX_USAGE_, "%s:%d: %s", c->name, c->line, msg);
}

/*
 * Docker's extractBuilderFlags(): leading words that start with "--",
 * quotes removed, backslash escapes; "--" alone ends the flags.  Returns
 * the rest of the line.
 */
static const char *
extract_flags(const char *line, char ***words, size_t *nwords)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	struct buf w = BUF_INIT;
	size_t len = strlen(line), pos;
	int quote = 0, blank_ok = 0;

	for (pos = 0; pos <= len; pos++) {
		int ch = pos < len ? (unsigned char)line[pos] : 0;

		if (phase == IN_SPACES) {
			if (pos == len)
				break;
			if (is_space(ch))
				continue;
			if (ch != '-' || pos + 1 == len || line[pos + 1] != '-') {
				buf_free(&w);
				return line + pos;
			}
			phase = IN_WORD;
		}
		if (pos == len) {
			if (strcmp(buf_str(&w), "--") != 0 && (blank_ok || w.len)) {
				*words = strv_push(*words, buf_str(&w));
				(*nwords)++;
			}
			break;
		}
		if (phase == IN_WORD) {
			if (is_space(ch)) {
				phase = IN_SPACES;
				if (!strcmp(buf_str(&w), "--")) {
					buf_free(&w);
					return line + pos;
				}
				if (blank_ok || w.len) {
					*words = strv_push(*words, buf_str(&w));
					(*nwords)++;
				}
				buf_reset(&w);
				blank_ok = 0;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = 1;
				phase = IN_QUOTE;
				continue;
			}
			if (ch == '\\') {
				if (pos + 1 == len)
					continue;
				ch = (unsigned char)line[++pos];
			}
			buf_addc(&w, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote) {
			phase = IN_WORD;
			continue;
		}
		if (ch == '\\') {
			if (pos + 1 == len) {
				phase = IN_WORD;
				continue;
			}
			ch = (unsigned char)line[++pos];
		}
		buf_addc(&w, ch);
	}
	buf_free(&w);
	return line + len;
}

static int
parse_flags(const struct pctx *c, struct df_inst *in, char **words, size_t nwords)
{
	size_t i, k;

	for (i = 0; i < nwords; i++) {
		const char *w = words[i] + 2, *eq = strchr(w, '=');
		char *name = eq ? xstrndup(w, (size_t)(eq - w)) : xstrdup(w);
		char type = 0;

		for (k = 0; k < sizeof(known_flags) / sizeof(known_flags[0]); k++)
			if (known_flags[k].kind == in->kind && !strcmp(known_flags[k].name, name))
				type = known_flags[k].type;
		if (!type) {
			perr(c, "unknown flag --%s for %s", name, df_kind_name(in->kind));
			free(name);
			return -1;
		}
		if (type != 'm' && df_has_flag(in, name)) {
			perr(c, "%s: --%s given twice", df_kind_name(in->kind), name);
			free(name);
			return -1;
		}
		if (type != 'b' && !eq) {
			perr(c, "%s: --%s needs a value (--%s=VALUE)", df_kind_name(in->kind), name, name);
			free(name);
			return -1;
		}
		if (type == 'b' && eq && strcmp(eq + 1, "true") && strcmp(eq + 1, "false")) {
			perr(c, "%s: --%s takes true or false, not '%s'", df_kind_name(in->kind),
			    name, eq + 1);
			free(name);
			return -1;
		}
		in->flags = xrealloc(in->flags, (in->nflags + 1) * sizeof(*in->flags));
		in->flags[in->nflags].name = name;
		in->flags[in->nflags].value = type == 'b' ? NULL : xstrdup(eq + 1);
		if (type == 'b' && eq && !strcmp(eq + 1, "false")) {
			/* --link=false is no flag at all. */
			free(name);
			continue;
		}
		in->nflags++;
	}
	return 0;
}

/*
 * Docker's parseJSON(): 1 when s is a JSON array of strings (args set),
 * 0 when it is not JSON at all (shell form), -1 when it is an array of
 * something else (an error, as in Docker).
 */
static int
parse_json_array(const char *s, char ***args, size_t *nargs)
{
	struct json_opts o = { "args", 0, 0 };
	struct err e = { 0, "" };
	cJSON *j, *it;

	if (*s != '[')
		return 0;
	j = json_parse(s, strlen(s), &o, NULL, &e);
	if (!j)
		return 0;
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return 0;
	}
	cJSON_ArrayForEach(it, j)
		if (!cJSON_IsString(it)) {
			cJSON_Delete(j);
			return -1;
		}
	*args = xcalloc(1, sizeof(**args));
	*nargs = 0;
	cJSON_ArrayForEach(it, j) {
		*args = strv_push(*args, it->valuestring);
		(*nargs)++;
	}
	cJSON_Delete(j);
	return 1;
}

/*
 * Docker's parseWords(): split on whitespace, but not inside quotes;
 * quotes and escapes are kept in the words (expansion removes them).
 */
static char **
parse_words(const char *rest, int escape, size_t *n)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	struct buf w = BUF_INIT;
	char **v = xcalloc(1, sizeof(*v));
	size_t len = strlen(rest), pos;
	int quote = 0, blank_ok = 0;

	*n = 0;
	for (pos = 0; pos <= len; pos++) {
		int ch = pos < len ? (unsigned char)rest[pos] : 0;

		if (phase == IN_SPACES) {
			if (pos == len)
				break;
			if (is_space(ch))
				continue;
			phase = IN_WORD;
		}
		if (pos == len) {
			if (blank_ok || w.len) {
				v = strv_push(v, buf_str(&w));
				(*n)++;
			}
			break;
		}
		if (phase == IN_WORD) {
			if (is_space(ch)) {
				phase = IN_SPACES;
				if (blank_ok || w.len) {
					v = strv_push(v, buf_str(&w));
					(*n)++;
				}
				buf_reset(&w);
				blank_ok = 0;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = 1;
				phase = IN_QUOTE;
			}
			if (ch == escape) {
				if (pos + 1 == len)
					continue;
				buf_addc(&w, ch);
				ch = (unsigned char)rest[++pos];
			}
			buf_addc(&w, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote)
			phase = IN_WORD;
		else if (ch == escape && quote != '\'') {
			if (pos + 1 == len) {
				phase = IN_WORD;
				continue;
			}
			buf_addc(&w, ch);
			ch = (unsigned char)rest[++pos];
		}
		buf_addc(&w, ch);
	}
	buf_free(&w);
	return v;
}

static void
kv_push(struct df_inst *in, char *key, char *value)
{
	in->kvs = xrealloc(in->kvs, (in->nkvs + 1) * sizeof(*in->kvs));
	in->kvs[in->nkvs].key = key;
	in->kvs[in->nkvs].value = value;
	in->nkvs++;
}

/* ENV and LABEL: "KEY=VALUE ..." or the legacy "KEY VALUE WITH SPACES". */
static int
parse_name_val(const struct pctx *c, struct df_inst *in, const char *rest)
{
	size_t n, i;
	char **words = parse_words(rest, c->escape, &n);
	const char *kw = df_kind_name(in->kind);

	if (n == 0) {
		strv_free(words);
		return perr(c, "%s needs at least one NAME=VALUE", kw);
	}
	if (!strchr(words[0], '=')) {
		const char *p = rest, *q;

		strv_free(words);
		for (q = p; *q && !is_space((unsigned char)*q); q++)
			;
		if (!*q)
			return perr(c, "%s %s needs a value: %s NAME=VALUE or %s NAME VALUE",
			    kw, rest, kw, kw);
		{
			const char *v = q;

			while (*v && is_space((unsigned char)*v))
				v++;
			kv_push(in, xstrndup(p, (size_t)(q - p)), xstrdup(v));
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		char *eq = strchr(words[i], '=');

		if (!eq) {
			perr(c, "%s: no '=' in '%s' (write NAME=VALUE, quoting values "
			    "that hold spaces)", kw, words[i]);
			strv_free(words);
			return -1;
		}
		if (eq == words[i]) {
			perr(c, "%s: a name cannot be empty ('%s')", kw, words[i]);
			strv_free(words);
			return -1;
		}
		kv_push(in, xstrndup(words[i], (size_t)(eq - words[i])), xstrdup(eq + 1));
	}
	strv_free(words);
	return 0;
}

static int
valid_arg_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (is_space((unsigned char)*s) || *s == '=' || *s == '$' || *s == '"' ||
		    *s == '\'')
			return 0;
	return 1;
}

static int
parse_arg(const struct pctx *c, struct df_inst *in, const char *rest)
{
	size_t n, i;
	char **words = parse_words(rest, c->escape, &n);

	if (n == 0) {
		strv_free(words);
		return perr(c, "ARG needs a name: ARG NAME or ARG NAME=DEFAULT");
	}
	for (i = 0; i < n; i++) {
		char *eq = strchr(words[i], '=');
		char *key = eq ? xstrndup(words[i], (size_t)(eq - words[i])) : xstrdup(words[i]);

		if (!valid_arg_name(key)) {
			perr(c, "ARG: bad name '%s'", key);
			free(key);
			strv_free(words);
			return -1;
		}
		kv_push(in, key, eq ? xstrdup(eq + 1) : NULL);
	}
	strv_free(words);
	return 0;
}

/*
 * A heredoc marker as BuildKit reads one: the whole word is "<<NAME" or
 * "<<-NAME" (RUN also "N<<NAME"), NAME not empty and without '<' (so
 * "<<<" is a here-string, left to the shell), quotes in it removed.
 * 1 with *name (fresh), *expand and *chomp set; 0 when it is no marker.
 */
static int
heredoc_word(const char *w, int with_fd, char **name, int *expand, int *chomp)
{
	struct buf b = BUF_INIT;
	const char *p = w;
	int quote = 0;

	if (with_fd)
		while (isdigit((unsigned char)*p))
			p++;
	if (strncmp(p, "<<", 2) != 0)
		return 0;
	p += 2;
	*chomp = *p == '-';
	if (*chomp)
		p++;
	if (!*p || strchr(p, '<'))
		return 0;
	*expand = 1;
	for (; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			else
				buf_addc(&b, *p);
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
			*expand = 0;
		} else if (*p == '\\' && p[1]) {
			*expand = 0;
			buf_addc(&b, *++p);
		} else {
			buf_addc(&b, *p);
		}
	}
	if (quote || !b.len) {
		buf_free(&b);
		return 0;
	}
	*name = buf_detach(&b, NULL);
	return 1;
}

const struct df_heredoc *
df_heredoc_of(const struct df_inst *in, const char *word)
{
	size_t i;

	for (i = 0; i < in->nheredocs; i++)
		if (!strcmp(in->heredocs[i].word, word))
			return &in->heredocs[i];
	return NULL;
}

/* Heredocs in one instruction: BuildKit files use a few; each source is
 * looked up among them, so thousands would cost their square. */
#define DF_HEREDOCS_MAX 64

/* The heredoc markers among the words of rest, into in->heredocs (bodies
 * still empty). */
static int
find_heredocs(const struct pctx *c, struct df_inst *in, const char *rest)
{
	size_t n, i;
	char **w = parse_words(rest, c->escape, &n);

	for (i = 0; i < n; i++) {
		char *name;
		int expand, chomp;

		if (!heredoc_word(w[i], in->kind == DF_RUN, &name, &expand, &chomp))
			continue;
		if (in->nheredocs == DF_HEREDOCS_MAX) {
			free(name);
			strv_free(w);
			return perr(c, "more than %d heredocs in one instruction",
			    DF_HEREDOCS_MAX);
		}
		in->heredocs = xrealloc(in->heredocs, (in->nheredocs + 1) * sizeof(*in->heredocs));
		in->heredocs[in->nheredocs].word = xstrdup(w[i]);
		in->heredocs[in->nheredocs].name = name;
		in->heredocs[in->nheredocs].body = NULL;
		in->heredocs[in->nheredocs].expand = expand;
		in->heredocs[in->nheredocs].chomp = chomp;
		in->nheredocs++;
	}
	strv_free(w);
	return 0;
}

int
df_is_git_url(const char *s)
{
	const char *hash, *end;

	if (!strncmp(s, "git@", 4) || !strncmp(s, "git://", 6) || !strncmp(s, "ssh://", 6))
		return 1;
	if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
		return 0;
	hash = strchr(s, '#');
	end = hash ? hash : s + strlen(s);
	return end - s > 4 && !strncmp(end - 4, ".git", 4);
}

static int
is_http_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

int
df_checksum_ok(const char *v)
{
	size_t i;

	if (strncmp(v, "sha256:", 7) != 0 || strlen(v) != 7 + 64)
		return 0;
	for (i = 7; v[i]; i++)
		if (!isxdigit((unsigned char)v[i]))
			return 0;
	return 1;
}

/* Exec form (JSON) or shell form, for RUN, CMD, ENTRYPOINT, SHELL and
 * HEALTHCHECK CMD. */
static int
parse_maybe_json(const struct pctx *c, struct df_inst *in, const char *rest,
    const char *what)
{
	int r = parse_json_array(rest, &in->args, &in->nargs);

	if (r < 0)
		return perr(c, "%s: the JSON array may hold only strings", what);
	if (r > 0) {
		in->exec_form = 1;
		return 0;
	}
	if (!*rest)
		return perr(c, "%s needs a command", what);
	return 0;
}

/* COPY, ADD and VOLUME: a JSON array or whitespace-separated words. */
static int
parse_maybe_json_list(const struct pctx *c, struct df_inst *in, const char *rest)
{
	int r = parse_json_array(rest, &in->args, &in->nargs);

	if (r < 0)
		return perr(c, "%s: the JSON array may hold only strings", df_kind_name(in->kind));
	if (r > 0) {
		in->exec_form = 1;
		return 0;
	}
	in->args = df_split_words(rest, &in->nargs);
	return 0;
}

static int
check_healthcheck_flags(const struct pctx *c, const struct df_inst *in)
{
	static const char *const durs[] = { "interval", "timeout", "start-period",
		"start-interval" };
	size_t i;
	const char *v;

	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		long long ns;

		if ((v = df_flag(in, durs[i])) && (df_parse_duration(v, &ns) < 0 ||
		    (ns != 0 && ns < 1000000)))
			return perr(c, "HEALTHCHECK --%s: '%s' is not a duration of at least "
			    "1ms (such as 30s or 1m30s)", durs[i], v);
	}
	if ((v = df_flag(in, "retries"))) {
		char *end;
		long r;

		errno = 0;
		r = strtol(v, &end, 10);
		if (errno || end == v || *end || r < 0 || r > 1000000)
			return perr(c, "HEALTHCHECK --retries: '%s' is not a number of retries", v);
	}
	return 0;
}

static int
parse_body(const struct pctx *c, struct df_inst *in, const char *rest)
{
	const char *kw = df_kind_name(in->kind);
	size_t i;

	switch (in->kind) {
	case DF_FROM:
		in->args = df_split_words(rest, &in->nargs);
		if (in->nargs == 1 || (in->nargs == 3 && !strcasecmp(in->args[1], "as")))
			return 0;
		if (in->nargs == 0)
			return perr(c, "FROM needs an image: FROM IMAGE [AS NAME]");
		return perr(c, "FROM takes an image and optionally AS NAME, not '%s'", rest);
	case DF_COPY:
	case DF_ADD: {
		const char *sum = df_flag(in, "checksum");
		size_t nurl = 0;

		if (in->kind == DF_ADD && df_has_flag(in, "keep-git-dir"))
			return perr(c, "ADD --keep-git-dir: ADD of a git repository is not "
			    "supported; clone it before the build and COPY the files");
		if (in->kind == DF_COPY && df_has_flag(in, "parents"))
			return perr(c, "COPY --parents is not supported; COPY each directory "
			    "to its place instead");
		if (parse_maybe_json_list(c, in, rest) < 0)
			return -1;
		if (!in->exec_form && find_heredocs(c, in, rest) < 0)
			return -1;
		if (in->nargs < 2)
			return perr(c, "%s needs at least one source and a destination", kw);
		if (df_heredoc_of(in, in->args[in->nargs - 1]))
			return perr(c, "%s: the destination '%s' cannot be a heredoc", kw,
			    in->args[in->nargs - 1]);
		for (i = 0; i < in->nheredocs; i++) {
			const char *hn = in->heredocs[i].name;

			if (strpbrk(hn, "/ \t") || !strcmp(hn, ".") || !strcmp(hn, ".."))
				return perr(c, "%s: the heredoc %s cannot name a file ('%s' is not "
				    "a file name): name it as a file, such as <<index.html", kw,
				    in->heredocs[i].word, hn);
		}
		if (in->nheredocs && df_has_flag(in, "from"))
			return perr(c, "%s --from with a heredoc source: a heredoc comes from "
			    "the Dockerfile, not from '%s'", kw, df_flag(in, "from"));
		for (i = 0; i + 1 < in->nargs; i++) {
			if (in->kind == DF_ADD && df_is_git_url(in->args[i]))
				return perr(c, "ADD of a git repository is not supported ('%s'); "
				    "clone it before the build and COPY the files", in->args[i]);
			/* "$URL" may expand to one: copy_do checks it then */
			if (in->kind == DF_ADD && (is_http_url(in->args[i]) ||
			    strchr(in->args[i], '$')))
				nurl++;
		}
		if (sum && strchr(sum, '$') == NULL && !df_checksum_ok(sum))
			return perr(c, "ADD --checksum='%s': expected sha256: and 64 hex digits", sum);
		if (sum && (in->nargs != 2 || nurl != 1))
			return perr(c, "ADD --checksum applies to one source that is a URL "
			    "(http:// or https://)");
		return 0;
	}
	case DF_RUN:
		if (df_has_flag(in, "security"))
			return perr(c, "RUN --security is not supported: ci-build runs every step "
			    "without new privileges");
		if (parse_maybe_json(c, in, rest, kw) < 0)
			return -1;
		if (!in->exec_form && find_heredocs(c, in, rest) < 0)
			return -1;
		return 0;
	case DF_CMD:
	case DF_ENTRYPOINT:
		return parse_maybe_json(c, in, rest, kw);
	case DF_SHELL:
		if (parse_maybe_json(c, in, rest, kw) < 0)
			return -1;
		if (!in->exec_form || in->nargs == 0)
			return perr(c, "SHELL needs a JSON array of strings, such as "
			    "SHELL [\"/bin/sh\", \"-c\"]");
		return 0;
	case DF_HEALTHCHECK: {
		const char *p = rest, *q;
		char word[8];
		size_t n;

		for (q = p; *q && !is_space((unsigned char)*q); q++)
			;
		n = (size_t)(q - p);
		if (n >= sizeof(word))
			n = sizeof(word) - 1;
		memcpy(word, p, n);
		word[n] = '\0';
		while (*q && is_space((unsigned char)*q))
			q++;
		if (!strcasecmp(word, "none")) {
			if (*q)
				return perr(c, "HEALTHCHECK NONE takes no arguments");
			if (in->nflags)
				return perr(c, "HEALTHCHECK NONE takes no options");
			in->hc_none = 1;
			return 0;
		}
		if (strcasecmp(word, "cmd") != 0)
			return perr(c, "HEALTHCHECK needs NONE or CMD COMMAND");
		if (check_healthcheck_flags(c, in) < 0)
			return -1;
		{
			char *cmd = xstrdup(q);

			free(in->rest);
			in->rest = cmd;
		}
		return parse_maybe_json(c, in, in->rest, "HEALTHCHECK CMD");
	}
	case DF_ENV:
	case DF_LABEL:
		return parse_name_val(c, in, rest);
	case DF_ARG:
		return parse_arg(c, in, rest);
	case DF_EXPOSE:
		in->args = df_split_words(rest, &in->nargs);
		if (!in->nargs)
			return perr(c, "EXPOSE needs at least one port");
		return 0;
	case DF_VOLUME:
		if (parse_maybe_json_list(c, in, rest) < 0)
			return -1;
		if (!in->nargs)
			return perr(c, "VOLUME needs at least one path");
		for (i = 0; i < in->nargs; i++)
			if (!*in->args[i])
				return perr(c, "VOLUME: a path cannot be empty");
		return 0;
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
		if (!*rest)
			return perr(c, "%s needs an argument", kw);
		return 0;
	case DF_ONBUILD:
		/* Handled by the caller. */
		return 0;
	}
	return perr(c, "internal error: unhandled instruction");
}

static int
parse_inst(const char *line, const struct pctx *c, int end_line, struct df_inst *in)
{
	const char *p = line, *q, *rest;
	char kw[16], **fw = NULL;
	size_t n, i, nfw = 0;
	char *after;
	int found = 0, rc;

	memset(in, 0, sizeof(*in));
	in->line = c->line;
	in->end_line = end_line;
	while (*p && is_space((unsigned char)*p))
		p++;
	for (q = p; *q && !is_space((unsigned char)*q); q++)
		;
	n = (size_t)(q - p);
	for (i = 0; i < n && i < sizeof(kw) - 1; i++)
		kw[i] = (char)tolower((unsigned char)p[i]);
	kw[i] = '\0';
	for (i = 0; n < sizeof(kw) && i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (!strcmp(keywords[i].name, kw)) {
			in->kind = keywords[i].kind;
			found = 1;
		}
	if (!found)
		return perr(c, "unknown instruction '%.*s'", (int)(n > 40 ? 40 : n), p);
	while (*q && is_space((unsigned char)*q))
		q++;
	/* The text after the keyword, trailing space trimmed. */
	after = xstrdup(q);
	for (n = strlen(after); n > 0 && is_space((unsigned char)after[n - 1]); n--)
		after[n - 1] = '\0';
	in->text = *after ? xasprintf("%s %s", df_kind_name(in->kind), after) :
	    xstrdup(df_kind_name(in->kind));

	if (in->kind == DF_ONBUILD) {
		struct pctx sub = *c;
		int k;

		if (!*after) {
			free(after);
			return perr(c, "ONBUILD needs an instruction");
		}
		in->trigger = xcalloc(1, sizeof(*in->trigger));
		rc = parse_inst(after, &sub, end_line, in->trigger);
		k = in->trigger->kind;
		in->rest = after;
		if (rc < 0)
			return -1;
		if (k == DF_ONBUILD || k == DF_FROM || k == DF_MAINTAINER)
			return perr(c, "%s is not allowed as an ONBUILD trigger", df_kind_name(k));
		if (in->trigger->nheredocs)
			return perr(c, "ONBUILD %s with a heredoc is not supported", df_kind_name(k));
		return 0;
	}
	rest = extract_flags(after, &fw, &nfw);
	rc = parse_flags(c, in, fw, nfw);
	strv_free(fw);
	if (rc == 0) {
		in->rest = xstrdup(rest);
		rc = parse_body(c, in, in->rest);
	}
	free(after);
	return rc;
}

int
dockerfile_parse_line(const char *line, int escape, const char *name, int lineno,
    struct df_inst *out, struct err *e)
{
	struct pctx c;
	int rc;

	c.name = name;
	c.line = lineno;
	c.escape = escape;
	c.e = e;
	rc = parse_inst(line, &c, lineno, out);
	/* One line has no room for a heredoc's body (an ONBUILD trigger of
	 * a base image is one line). */
	if (rc == 0 && out->nheredocs)
		rc = perr(&c, "a heredoc (%s) in a one-line instruction, such as an ONBUILD "
		    "trigger, is not supported", out->heredocs[0].word);
	if (rc < 0)
		df_inst_free(out);
	return rc;
}

/* ---- lines, directives, continuations ---------------------------------- */

/* Strip "ESC[ \t]*" at the end; 1 when it was there (the line goes on). */
static int
trim_continuation(char *s, int escape)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > 0 && s[n - 1] == escape) {
		s[n - 1] = '\0';
		return 1;
	}
	return 0;
}

static int
is_comment_line(const char *s)
{
	while (*s && is_space((unsigned char)*s))
		s++;
	return *s == '#';
}

static int
is_blank(const char *s)
{
	while (*s && is_space((unsigned char)*s))
		s++;
	return !*s;
}

/* One physical line from *p (its "\r\n" or "\n" dropped), fresh; NULL at the end. */
static char *
next_line(const char **p, const char *end, int *lineno)
{
	const char *nl;
	size_t n;
	char *line;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	line = xstrndup(*p, n);
	*p += n + (nl ? 1 : 0);
	(*lineno)++;
	if (n && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

/*
 * The bodies of in's heredocs, from the lines after the instruction; the
 * instruction's text gets them too (the image's history shows them, as
 * BuildKit's does).
 */
static int
read_heredocs(const char **p, const char *end, int *lineno, struct df_inst *in,
    const struct pctx *c)
{
	struct buf text = BUF_INIT;
	size_t i;

	buf_init(&text, MAX_LINE_BYTES);
	buf_adds(&text, in->text);
	for (i = 0; i < in->nheredocs; i++) {
		struct df_heredoc *h = &in->heredocs[i];
		struct buf body = BUF_INIT;
		char *line;
		int done = 0;

		buf_init(&body, MAX_LINE_BYTES);
		while (!done && (line = next_line(p, end, lineno))) {
			const char *l = line;

			if (h->chomp)
				while (*l == '\t')
					l++;
			if (!strcmp(l, h->name)) {
				done = 1;
			} else {
				buf_adds(&body, l);
				buf_addc(&body, '\n');
			}
			free(line);
		}
		if (!done || body.failed) {
			buf_free(&body);
			buf_free(&text);
			if (!done)
				return perr(c, "unterminated heredoc: no line '%s' ends the "
				    "heredoc %s opens", h->name, h->word);
			return perr(c, "heredoc %s longer than %u bytes", h->word, MAX_LINE_BYTES);
		}
		buf_addf(&text, "\n%s%s", buf_str(&body), h->name);
		h->body = buf_detach(&body, NULL);
	}
	if (text.failed) {
		buf_free(&text);
		return perr(c, "instruction longer than %u bytes", MAX_LINE_BYTES);
	}
	free(in->text);
	in->text = buf_detach(&text, NULL);
	in->end_line = *lineno;
	return 0;
}

/*
 * "# key=value" at the top of the file; 1 when line is a directive (and
 * it was applied), 0 when it is not (directives end), -1 on error.
 */
static int
directive(struct dockerfile *df, const char *line, int lineno, int *seen_escape,
    int *seen_syntax, struct err *e)
{
	const char *p = line, *k, *v;
	size_t klen, vlen;
	char key[32];

	if (*p != '#')
		return 0;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!isalpha((unsigned char)*p))
		return 0;
	for (k = p; isalnum((unsigned char)*p); p++)
		;
	klen = (size_t)(p - k);
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '=')
		return 0;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	v = p;
	vlen = strlen(v);
	while (vlen > 0 && is_space((unsigned char)v[vlen - 1]))
		vlen--;
	if (!vlen || klen >= sizeof(key))
		return 0;
	for (size_t i = 0; i < klen; i++)
		key[i] = (char)tolower((unsigned char)k[i]);
	key[klen] = '\0';
	if (!strcmp(key, "escape")) {
		if (*seen_escape)
			return err_set(e, EX_USAGE_, "%s:%d: only one escape directive may be "
			    "given", df->name, lineno);
		*seen_escape = 1;
		if (vlen != 1 || (*v != '\\' && *v != '`'))
			return err_set(e, EX_USAGE_, "%s:%d: the escape directive takes '\\' "
			    "or '`', not '%.*s'", df->name, lineno, (int)vlen, v);
		df->escape = *v;
		return 1;
	}
	if (!strcmp(key, "syntax")) {
		if (*seen_syntax)
			return err_set(e, EX_USAGE_, "%s:%d: only one syntax directive may be "
			    "given", df->name, lineno);
		*seen_syntax = 1;
		df->syntax = xstrndup(v, vlen);
		return 1;
	}
	if (!strcmp(key, "check"))
		return 1;
	/* An unknown key is an ordinary comment, and ends the directives. */
	return 0;
}

int
dockerfile_parse(const char *text, size_t len, const char *name,
    struct dockerfile *df, struct err *e)
{
	const char *p = text, *end = text + len;
	int lineno = 0, directives = 1, seen_escape = 0, seen_syntax = 0;
	struct buf logical = BUF_INIT;
	char *line = NULL;

	memset(df, 0, sizeof(*df));
	df->name = xstrdup(name);
	df->escape = '\\';
	if (memchr(text, '\0', len)) {
		dockerfile_free(df);
		return err_set(e, EX_USAGE_, "%s: holds a NUL byte: not a Dockerfile", name);
	}
	/* A UTF-8 byte order mark is skipped, as Docker does. */
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	buf_init(&logical, MAX_LINE_BYTES);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int start, cont;

		free(line);
		line = xstrndup(p, n);
		p += n + (nl ? 1 : 0);
		lineno++;
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';

		if (directives) {
			int r = directive(df, line, lineno, &seen_escape, &seen_syntax, e);

			if (r < 0)
				goto fail;
			if (r > 0)
				continue;
			directives = 0;
		}
		if (is_comment_line(line) || is_blank(line))
			continue;
		start = lineno;
		buf_reset(&logical);
		cont = trim_continuation(line, df->escape);
		{
			const char *l = line;

			while (*l && is_space((unsigned char)*l))
				l++;
			buf_adds(&logical, l);
		}
		while (cont && p < end) {
			nl = memchr(p, '\n', (size_t)(end - p));
			n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			free(line);
			line = xstrndup(p, n);
			p += n + (nl ? 1 : 0);
			lineno++;
			if (n && line[n - 1] == '\r')
				line[n - 1] = '\0';
			/* Comment and empty lines inside an instruction are skipped. */
			if (is_comment_line(line) || is_blank(line))
				continue;
			cont = trim_continuation(line, df->escape);
			buf_adds(&logical, line);
		}
		if (logical.failed) {
			err_set(e, EX_USAGE_, "%s:%d: instruction longer than %u bytes", name,
			    start, MAX_LINE_BYTES);
			goto fail;
		}
		if (is_blank(buf_str(&logical)))
			continue;
		{
			struct pctx c;
			struct df_inst in;

			c.name = name;
			c.line = start;
			c.escape = df->escape;
			c.e = e;
			if (parse_inst(buf_str(&logical), &c, lineno, &in) < 0 ||
			    (in.nheredocs && read_heredocs(&p, end, &lineno, &in, &c) < 0)) {
				df_inst_free(&in);
				goto fail;
			}
			df->v = xrealloc(df->v, (df->n + 1) * sizeof(*df->v));
			df->v[df->n++] = in;
		}
	}
	free(line);
	buf_free(&logical);
	return 0;
fail:
	free(line);
	buf_free(&logical);
	dockerfile_free(df);
	return -1;
}

/* ---- expansion --------------------------------------------------------- */

struct lexer {
	const char *s;
	size_t pos, len;
	int escape;
	df_lookup_fn lookup;
	void *arg;
	struct err *e;
	int depth;
};

static int
peek(const struct lexer *l)
{
	return l->pos < l->len ? (unsigned char)l->s[l->pos] : -1;
}

static int
next(struct lexer *l)
{
	return l->pos < l->len ? (unsigned char)l->s[l->pos++] : -1;
}

static int process_stop_on(struct lexer *l, int stop, struct buf *out);

static int
is_name_char(int c)
{
	return c == '_' || isalnum(c) || c >= 0x80;
}

static void
process_name(struct lexer *l, struct buf *name)
{
	int c = peek(l);

	if (c >= 0 && isdigit(c)) {
		while ((c = peek(l)) >= 0 && isdigit(c))
			buf_addc(name, next(l));
		return;
	}
	if (c >= 0 && strchr("@*#?-$!0", c)) {
		buf_addc(name, next(l));
		return;
	}
	while ((c = peek(l)) >= 0 && is_name_char(c))
		buf_addc(name, next(l));
}

static int
process_dollar(struct lexer *l, struct buf *out)
{
	struct buf name = BUF_INIT, word = BUF_INIT;
	const char *val;
	int c, mod, colon = 0, rc = 0;

	next(l);	/* '$' */
	if (peek(l) != '{') {
		process_name(l, &name);
		if (!name.len) {
			buf_addc(out, '$');
			return 0;
		}
		val = l->lookup(buf_str(&name), l->arg);
		if (val)
			buf_adds(out, val);
		buf_free(&name);
		return 0;
	}
	next(l);	/* '{' */
	c = peek(l);
	if (c < 0)
		return err_set(l->e, EX_USAGE_, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return err_set(l->e, EX_USAGE_, "syntax error: bad substitution");
	process_name(l, &name);
	c = next(l);
	if (c == '}') {
		val = l->lookup(buf_str(&name), l->arg);
		if (val)
			buf_adds(out, val);
		buf_free(&name);
		return 0;
	}
	if (c == ':') {
		colon = 1;
		c = next(l);
	}
	mod = c;
	if (mod != '-' && mod != '+' && mod != '?') {
		buf_free(&name);
		if (mod < 0)
			return err_set(l->e, EX_USAGE_, "syntax error: missing '}'");
		return err_set(l->e, EX_USAGE_, "unsupported modifier '%c' in substitution "
		    "(supported: ${V:-x}, ${V-x}, ${V:+x}, ${V+x}, ${V:?x}, ${V?x})", mod);
	}
	if (process_stop_on(l, '}', &word) < 0) {
		buf_free(&name);
		buf_free(&word);
		return -1;
	}
	val = l->lookup(buf_str(&name), l->arg);
	switch (mod) {
	case '-':
		if (colon ? !val || !*val : !val)
			buf_adds(out, buf_str(&word));
		else
			buf_adds(out, val);
		break;
	case '+':
		if (colon ? val && *val : val != NULL)
			buf_adds(out, buf_str(&word));
		break;
	case '?':
		if (colon ? !val || !*val : !val)
			rc = err_set(l->e, EX_USAGE_, "%s: %s", buf_str(&name),
			    word.len ? buf_str(&word) : "is not set");
		else
			buf_adds(out, val);
		break;
	}
	buf_free(&name);
	buf_free(&word);
	return rc;
}

static int
process_single_quote(struct lexer *l, struct buf *out)
{
	int c;

	next(l);
	for (;;) {
		c = next(l);
		if (c < 0)
			return err_set(l->e, EX_USAGE_, "unexpected end of statement while "
			    "looking for the matching single quote");
		if (c == '\'')
			return 0;
		buf_addc(out, c);
	}
}

static int
process_double_quote(struct lexer *l, struct buf *out)
{
	int c;

	next(l);
	for (;;) {
		c = peek(l);
		if (c < 0)
			return err_set(l->e, EX_USAGE_, "unexpected end of statement while "
			    "looking for the matching double quote");
		if (c == '"') {
			next(l);
			return 0;
		}
		if (c == '$') {
			if (process_dollar(l, out) < 0)
				return -1;
			continue;
		}
		c = next(l);
		if (c == l->escape) {
			int d = peek(l);

			if (d < 0)
				continue;
			if (d == '"' || d == '$' || d == l->escape)
				c = next(l);
		}
		buf_addc(out, c);
	}
}

static int
process_stop_on(struct lexer *l, int stop, struct buf *out)
{
	int c;

	if (++l->depth > 64)
		return err_set(l->e, EX_USAGE_, "substitutions nested too deeply");
	while ((c = peek(l)) >= 0) {
		if (stop >= 0 && c == stop) {
			next(l);
			l->depth--;
			return 0;
		}
		if (c == '\'') {
			if (process_single_quote(l, out) < 0)
				return -1;
		} else if (c == '"') {
			if (process_double_quote(l, out) < 0)
				return -1;
		} else if (c == '$') {
			if (process_dollar(l, out) < 0)
				return -1;
		} else {
			c = next(l);
			if (c == l->escape) {
				c = next(l);
				if (c < 0)
					break;
			}
			buf_addc(out, c);
		}
	}
	l->depth--;
	if (stop >= 0)
		return err_set(l->e, EX_USAGE_, "syntax error: missing '%c'", stop);
	return 0;
}

static void
lexer_init(struct lexer *l, const char *s, int escape, df_lookup_fn lookup, void *arg,
    struct err *e, struct buf *out)
{
	l->s = s;
	l->pos = 0;
	l->len = strlen(s);
	l->escape = escape;
	l->lookup = lookup;
	l->arg = arg;
	l->e = e;
	l->depth = 0;
	buf_init(out, MAX_LINE_BYTES);
}

int
df_expand(const char *word, int escape, df_lookup_fn lookup, void *arg,
    char **out, struct err *e)
{
	struct lexer l;
	struct buf b = BUF_INIT;

	lexer_init(&l, word, escape, lookup, arg, e, &b);
	*out = NULL;
	if (process_stop_on(&l, -1, &b) < 0) {
		buf_free(&b);
		return -1;
	}
	if (b.failed)
		return err_set(e, EX_USAGE_, "expansion longer than %u bytes", MAX_LINE_BYTES);
	*out = buf_detach(&b, NULL);
	return 0;
}

int
df_expand_heredoc(const char *body, int escape, df_lookup_fn lookup, void *arg,
    char **out, struct err *e)
{
	struct lexer l;
	struct buf b = BUF_INIT;
	int c;

	lexer_init(&l, body, escape, lookup, arg, e, &b);
	*out = NULL;
	while ((c = peek(&l)) >= 0) {
		if (c == '$') {
			if (process_dollar(&l, &b) < 0) {
				buf_free(&b);
				return -1;
			}
			continue;
		}
		next(&l);
		if (c == escape && (peek(&l) == '$' || peek(&l) == escape || peek(&l) == '\n')) {
			c = next(&l);
			if (c == '\n')
				continue;
		}
		buf_addc(&b, c);
	}
	if (b.failed)
		return err_set(e, EX_USAGE_, "expansion longer than %u bytes", MAX_LINE_BYTES);
	*out = buf_detach(&b, NULL);
	return 0;
}

/* ---- durations ----------------------------------------------------------- */

int
df_parse_duration(const char *s, long long *ns)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 },
		{ "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
	};
	double total = 0;
	const char *p = s;

	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*p)
		return -1;
	while (*p) {
		char *end;
		double v;
		size_t i, best = 0, bestlen = 0;

		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		errno = 0;
		v = strtod(p, &end);
		if (errno || end == p)
			return -1;
		p = end;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);

			if (!strncmp(p, units[i].unit, n) && n > bestlen) {
				best = i;
				bestlen = n;
			}
		}
		if (!bestlen)
			return -1;
		/* "ms" must not be read as "m" followed by "s". */
		total += v * units[best].mult;
		p += bestlen;
	}
	if (total > 9.2e18)
		return -1;
	*ns = (long long)(total + 0.5);
	return 0;
}
