/*
 * dockerfile: parse a Dockerfile the way Docker (BuildKit) does, and
 * expand variables in its words.
 *
 * The parser handles the parser directives at the top (escape, syntax,
 * check), comments, line continuations (the escape character at the end
 * of a line, comment and empty lines inside an instruction skipped),
 * builder flags (--name=value), the exec (JSON) and shell forms, the
 * key=value and legacy "key value" forms of ENV and LABEL, ARG with and
 * without defaults, HEALTHCHECK and ONBUILD.  It keeps words as written
 * (quotes and variables unexpanded): what is expanded, and with which
 * variables, depends on the build stage, so df_expand() does it later.
 *
 * Heredocs (BuildKit's, for RUN, COPY and ADD in the shell form): every
 * word of the instruction that starts with "<<" (RUN: optionally after a
 * file descriptor number, "3<<EOF") opens one, read after the
 * instruction's last line in the order of the words, up to a line that is
 * the delimiter alone; "<<-" strips leading tabs from the body and from
 * the delimiter's line; a delimiter with quotes ("<<'EOF'", "<<\"EOF\"")
 * has them removed and marks the body as not to be expanded.
 *
 * Refused while parsing, with "FILE:LINE: what, and what to do instead":
 * unknown instructions and flags, missing arguments, unterminated
 * heredocs, ADD of a git repository, ADD --checksum that is not
 * sha256:<64 hex digits> or with a source that is not a URL, RUN
 * --security, COPY --parents.  RUN itself parses: whether it can run is
 * the builder's decision.
 *
 * Ownership: struct dockerfile owns every instruction and string in it.
 */
#ifndef CI_DOCKERFILE_H
#define CI_DOCKERFILE_H

#include <stddef.h>

#include "core/log.h"

enum df_kind {
	DF_ADD, DF_ARG, DF_CMD, DF_COPY, DF_ENTRYPOINT, DF_ENV, DF_EXPOSE,
	DF_FROM, DF_HEALTHCHECK, DF_LABEL, DF_MAINTAINER, DF_ONBUILD, DF_RUN,
	DF_SHELL, DF_STOPSIGNAL, DF_USER, DF_VOLUME, DF_WORKDIR
};

struct df_flag {
	char *name;		/* "chown" for --chown=... */
	char *value;		/* quotes removed; NULL for a bare --link */
};

/* A heredoc of RUN, COPY or ADD. */
struct df_heredoc {
	char *word;		/* the word that opened it, as written ("<<-'EOF'") */
	char *name;		/* the delimiter, quotes removed ("EOF") */
	char *body;		/* its lines, each ending in "\n"; tabs stripped for <<- */
	int expand;		/* the delimiter had no quotes: COPY and ADD expand
				 * variables in the body (RUN leaves it to the shell) */
	int chomp;		/* "<<-" */
};

struct df_kv {
	char *key;		/* as written (quotes kept, unexpanded) */
	char *value;		/* as written; NULL for "ARG NAME" */
};

struct df_inst {
	enum df_kind kind;
	int line, end_line;	/* first and last physical line */
	char *text;		/* "COPY --chown=app . /app": keyword in capitals,
				 * continuations joined, for history and messages */
	struct df_flag *flags;
	size_t nflags;
	int exec_form;		/* the arguments were a JSON array of strings */
	char **args;		/* a strv (core/buf.h): exec form, the strings;
				 * else whitespace-split words (FROM, COPY, ADD,
				 * EXPOSE, VOLUME, and the command of HEALTHCHECK CMD) */
	size_t nargs;		/* strv_len(args) */
	char *rest;		/* the text after the flags, trimmed: the shell
				 * form of RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK CMD,
				 * the argument of USER/WORKDIR/STOPSIGNAL/MAINTAINER */
	struct df_kv *kvs;	/* ENV, LABEL, ARG */
	size_t nkvs;
	int hc_none;		/* HEALTHCHECK NONE */
	struct df_heredoc *heredocs;	/* RUN, COPY, ADD: in the order of their words */
	size_t nheredocs;
	struct df_inst *trigger;	/* ONBUILD: the instruction it holds */
};

struct dockerfile {
	char *name;		/* for messages */
	int escape;		/* '\\' or '`' */
	char *syntax;		/* the syntax directive, or NULL */
	struct df_inst *v;
	size_t n;
};

/* Parse len bytes (NUL bytes refused); errors are EX_USAGE_ "NAME:LINE: ...". */
int dockerfile_parse(const char *text, size_t len, const char *name,
    struct dockerfile *df, struct err *e);
/* Parse one instruction line (an ONBUILD trigger from a base image). */
int dockerfile_parse_line(const char *line, int escape, const char *name, int lineno,
    struct df_inst *out, struct err *e);
void dockerfile_free(struct dockerfile *df);
void df_inst_free(struct df_inst *in);

const char *df_kind_name(enum df_kind k);
/* The value of flag name (NULL when absent; "" for a bare flag). */
const char *df_flag(const struct df_inst *in, const char *name);
int df_has_flag(const struct df_inst *in, const char *name);

/*
 * Variable expansion as Docker's shell lexer does it for one word: single
 * quotes keep everything, double quotes keep all but $ and escapes of
 * '"', '$' and the escape character; outside quotes the escape character
 * takes the next character literally.  $V, ${V}, ${V:-x}, ${V-x},
 * ${V:+x}, ${V+x}, ${V:?x}, ${V?x}.  lookup returns a variable's value or
 * NULL when unset.  On error *out is NULL and e says what (no place: the
 * caller adds FILE:LINE).
 */
typedef const char *(*df_lookup_fn)(const char *name, void *arg);

int df_expand(const char *word, int escape, df_lookup_fn lookup, void *arg,
    char **out, struct err *e);

/*
 * Expand an unquoted heredoc's body as a shell does: $V and ${V...} as in
 * df_expand(); the escape character before '$', itself or a newline takes
 * it literally (the newline vanishes); quotes are ordinary characters.
 */
int df_expand_heredoc(const char *body, int escape, df_lookup_fn lookup, void *arg,
    char **out, struct err *e);

/* 1 when ADD would read s as a git repository: git@..., git://...,
 * ssh://..., or an http(s) URL whose path ends in ".git". */
int df_is_git_url(const char *s);
/* 1 when v is "sha256:" and 64 hex digits (ADD --checksum). */
int df_checksum_ok(const char *v);

/* The heredoc a word opens ("<<EOF" and the like), or NULL. */
const struct df_heredoc *df_heredoc_of(const struct df_inst *in, const char *word);

/* Split on whitespace as Docker does for FROM, COPY and EXPOSE words: a
 * strv (core/buf.h) of *n words. */
char **df_split_words(const char *s, size_t *n);

/*
 * Parse a Go duration ("30s", "1m30s", "1.5s", "250ms", "0"); -1 on a
 * bad one.  Nanoseconds.
 */
int df_parse_duration(const char *s, long long *ns);

#endif
