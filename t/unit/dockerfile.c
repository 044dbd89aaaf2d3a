/* Unit tests of lib/dockerfile: the parser, expansion and durations. */
#include <stdlib.h>
#include <string.h>

#include "image/dockerfile.h"
#include "tap.h"

static int
parse(const char *text, struct dockerfile *df, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return dockerfile_parse(text, strlen(text), "Dockerfile", df, e);
}

/* Parse text that must fail; check the message. */
static void
refused(const char *text, const char *want, const char *name)
{
	struct dockerfile df;
	struct err e;
	int rc = parse(text, &df, &e);

	ok(rc < 0 && e.code == EX_USAGE_, "refused: %s", name);
	like(e.msg, want, "... message: %s", name);
	if (rc == 0)
		dockerfile_free(&df);
}

static const char *
lookup(const char *name, void *arg)
{
	static const char *const vars[][2] = {
		{ "A", "alpha" }, { "EMPTY", "" }, { "SP", "a b" }, { "B", "beta" },
		{ "X_1", "x1" }, { NULL, NULL }
	};
	size_t i;

	(void)arg;
	for (i = 0; vars[i][0]; i++)
		if (!strcmp(vars[i][0], name))
			return vars[i][1];
	return NULL;
}

static void
expands(const char *word, int escape, const char *want)
{
	struct err e = { 0, "" };
	char *out = NULL;

	if (df_expand(word, escape, lookup, NULL, &out, &e) < 0) {
		ok(0, "expand %s: %s", word, e.msg);
		return;
	}
	is_str(out, want, "expand %s", word);
	free(out);
}

static void
expand_fails(const char *word, const char *want)
{
	struct err e = { 0, "" };
	char *out = NULL;
	int rc = df_expand(word, '\\', lookup, NULL, &out, &e);

	ok(rc < 0 && !out, "expand %s fails", word);
	like(e.msg, want, "... with: %s", want);
	free(out);
}

int
main(void)
{
	struct dockerfile df;
	struct err e;
	long long ns;

	/* The seed's Dockerfile, as written. */
	ok(parse("# Dockerfile - Production optimized\n"
	    "# Stage 1: Build\n"
	    "FROM node:18-alpine AS builder\n"
	    "WORKDIR /app\n"
	    "COPY package*.json ./\n"
	    "RUN npm ci --production # Clean install, production only!\n"
	    "COPY . .\n"
	    "# Stage 2: Production image (smaller!)\n"
	    "FROM node:18-alpine\n"
	    "WORKDIR /app\n"
	    "# Don't run as root!\n"
	    "RUN addgroup -S appgroup && adduser -S appuser -G appgroup\n"
	    "COPY --from=builder /app/node_modules ./node_modules\n"
	    "USER appuser\n"
	    "EXPOSE 3000\n"
	    "HEALTHCHECK --interval=30s --timeout=3s \\\n"
	    "CMD wget -qO- http://localhost:3000/health || exit 1\n"
	    "CMD [\"node\", \"src/index.js\"]\n", &df, &e) == 0, "the seed's Dockerfile parses");
	is_int(df.n, 13, "13 instructions");
	is_int(df.v[0].kind, DF_FROM, "FROM first");
	is_int(df.v[0].line, 3, "... on line 3");
	is_int(df.v[0].nargs, 3, "... FROM x AS y: 3 words");
	is_str(df.v[0].args[2], "builder", "... the stage name");
	is_int(df.v[2].kind, DF_COPY, "COPY");
	is_str(df.v[2].args[0], "package*.json", "... source kept with its wildcard");
	is_str(df.v[2].args[1], "./", "... destination");
	is_str(df.v[3].rest, "npm ci --production # Clean install, production only!",
	    "RUN keeps a # after the start of a line");
	is_str(df_flag(&df.v[8], "from"), "builder", "COPY --from=builder");
	is_str(df.v[8].args[0], "/app/node_modules", "... its source");
	is_int(df.v[11].kind, DF_HEALTHCHECK, "HEALTHCHECK");
	is_int(df.v[11].line, 16, "... starts on line 16");
	is_int(df.v[11].end_line, 17, "... ends on line 17");
	is_str(df_flag(&df.v[11], "interval"), "30s", "... --interval");
	is_str(df.v[11].rest, "wget -qO- http://localhost:3000/health || exit 1",
	    "... the shell form command");
	ok(!df.v[11].exec_form, "... shell form");
	ok(df.v[12].exec_form && df.v[12].nargs == 2, "CMD in exec form");
	is_str(df.v[12].args[1], "src/index.js", "... its second word");
	is_str(df.v[11].text, "HEALTHCHECK --interval=30s --timeout=3s CMD wget -qO- "
	    "http://localhost:3000/health || exit 1", "text joins the continuation");
	dockerfile_free(&df);

	/* Continuations, comments inside them, blank lines, CRLF, BOM. */
	ok(parse("\xef\xbb\xbf" "from scratch\r\n"
	    "copy a \\\n"
	    "# a comment inside\n"
	    "\n"
	    "     b \\   \n"
	    "  /c/\n"
	    "\n"
	    "   # indented comment\n"
	    "Env A=1\n", &df, &e) == 0, "continuations, comments, CRLF and a BOM");
	is_int(df.n, 3, "... three instructions");
	is_int(df.v[1].kind, DF_COPY, "... lowercase keywords");
	is_int(df.v[1].nargs, 3, "... COPY a b /c/");
	is_str(df.v[1].args[2], "/c/", "... the last word");
	is_int(df.v[2].line, 9, "... ENV on line 9");
	dockerfile_free(&df);

	/* The escape directive. */
	ok(parse("# escape=`\n"
	    "FROM scratch\n"
	    "COPY a `\n"
	    "  c:\\dir\\\n"
	    "ENV P=c:\\x\n", &df, &e) == 0, "escape=`");
	is_int(df.escape, '`', "... backtick");
	is_str(df.v[1].args[1], "c:\\dir\\", "... backslashes are literal");
	dockerfile_free(&df);
	ok(parse("# syntax=docker/dockerfile:1\n"
	    "# escape=\\\n"
	    "FROM scratch\n", &df, &e) == 0, "syntax then escape directives");
	is_str(df.syntax, "docker/dockerfile:1", "... syntax kept");
	dockerfile_free(&df);
	ok(parse("# a comment\n"
	    "# escape=`\n"
	    "FROM scratch\n", &df, &e) == 0, "a directive after a comment is a comment");
	is_int(df.escape, '\\', "... escape stays backslash");
	dockerfile_free(&df);
	refused("# escape=x\nFROM scratch\n", "Dockerfile:1: the escape directive takes", "escape=x");
	refused("# escape=`\n# escape=`\nFROM scratch\n", "Dockerfile:2: only one escape",
	    "two escape directives");

	/* Forms. */
	ok(parse("FROM scratch\n"
	    "CMD [\"a\", \"b c\"]\n"
	    "CMD [bad json\n"
	    "ENTRYPOINT exec /app --flag\n"
	    "SHELL [\"/bin/bash\", \"-c\"]\n"
	    "CMD []\n", &df, &e) == 0, "exec and shell forms");
	ok(df.v[1].exec_form && df.v[1].nargs == 2, "... JSON array: exec form");
	is_str(df.v[1].args[1], "b c", "... strings kept whole");
	ok(!df.v[2].exec_form, "... invalid JSON: shell form, as Docker does");
	is_str(df.v[2].rest, "[bad json", "... the text as written");
	is_str(df.v[3].rest, "exec /app --flag", "... ENTRYPOINT shell form");
	ok(df.v[5].exec_form && df.v[5].nargs == 0, "... CMD [] is an empty exec form");
	dockerfile_free(&df);

	/* ENV, LABEL, ARG. */
	ok(parse("ARG A=1 B\n"
	    "FROM scratch\n"
	    "ENV K1=v1 K2=\"two words\" K3='$x'\n"
	    "ENV OLD value with  spaces\n"
	    "LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0\n", &df, &e) == 0,
	    "ENV, LABEL and ARG forms");
	is_int(df.v[0].nkvs, 2, "ARG A=1 B: two names");
	is_str(df.v[0].kvs[0].value, "1", "... A's default");
	ok(df.v[0].kvs[1].value == NULL, "... B without one");
	is_int(df.v[2].nkvs, 3, "ENV with three pairs");
	is_str(df.v[2].kvs[1].value, "\"two words\"", "... quotes kept until expansion");
	is_str(df.v[2].kvs[2].value, "'$x'", "... single quotes kept");
	is_int(df.v[3].nkvs, 1, "legacy ENV KEY VALUE");
	is_str(df.v[3].kvs[0].value, "value with  spaces", "... the rest of the line");
	is_str(df.v[4].kvs[0].key, "\"com.example.vendor\"", "LABEL quoted key");
	dockerfile_free(&df);

	/* HEALTHCHECK, ONBUILD, flags. */
	ok(parse("FROM scratch\n"
	    "HEALTHCHECK NONE\n"
	    "HEALTHCHECK --retries=3 --start-period=1m30s CMD [\"/bin/check\"]\n"
	    "ONBUILD COPY . /src\n"
	    "COPY --chown=app:app --chmod=0755 --link a /b\n"
	    "COPY --from=\"build stage\" x y\n", &df, &e) == 0, "HEALTHCHECK, ONBUILD, flags");
	ok(df.v[1].hc_none, "HEALTHCHECK NONE");
	ok(df.v[2].exec_form && !strcmp(df.v[2].args[0], "/bin/check"), "HEALTHCHECK CMD exec form");
	is_str(df_flag(&df.v[2], "retries"), "3", "... --retries");
	ok(df.v[3].trigger && df.v[3].trigger->kind == DF_COPY, "ONBUILD holds a COPY");
	is_str(df.v[3].rest, "COPY . /src", "... its text");
	is_str(df_flag(&df.v[4], "chown"), "app:app", "--chown");
	is_str(df_flag(&df.v[4], "chmod"), "0755", "--chmod");
	ok(df_has_flag(&df.v[4], "link"), "--link, a boolean");
	is_str(df_flag(&df.v[5], "from"), "build stage", "flag quotes removed");
	dockerfile_free(&df);

	/* Refusals, each with FILE:LINE and what to do instead. */
	refused("FROM scratch\nFOO bar\n", "Dockerfile:2: unknown instruction 'FOO'", "unknown instruction");
	refused("FROM scratch\nCOPY --nope=1 a b\n", "Dockerfile:2: unknown flag --nope for COPY",
	    "unknown flag");
	refused("FROM scratch\nCOPY --chown a b\n", "--chown needs a value", "flag without a value");
	refused("FROM scratch\nCOPY --from=a --from=b a b\n", "--from given twice", "flag twice");
	/* Heredocs, BuildKit's: bodies after the instruction, in order. */
	ok(parse("FROM scratch\n"
	    "COPY <<a.txt <<-\"b.txt\" /dst/\n"
	    "one $X\n"
	    "a.txt\n"
	    "\t\ttwo\n"
	    "\tb.txt\n"
	    "RUN <<EOF\n"
	    "# not a comment of the Dockerfile\n"
	    "\n"
	    "echo hi \\\n"
	    "EOF\n"
	    "RUN 3<<'A' cat <&3 > /x && <<B cat\n"
	    "B\n"
	    "A\n"
	    "x\n"
	    "B\n"
	    "RUN echo $((1<<2)) <<<here\n"
	    "ADD <<EOF /empty\n"
	    "EOF\n"
	    "LABEL after=1\n", &df, &e) == 0, "heredocs parse: %s", e.msg);
	if (df.n == 7) {
		is_int(df.v[1].nheredocs, 2, "COPY: two heredocs");
		is_str(df.v[1].heredocs[0].name, "a.txt", "... the first named a.txt");
		is_str(df.v[1].heredocs[0].body, "one $X\n", "... its body, unexpanded");
		ok(df.v[1].heredocs[0].expand && !df.v[1].heredocs[0].chomp, "... to expand");
		is_str(df.v[1].heredocs[1].name, "b.txt", "... the second: quotes removed");
		is_str(df.v[1].heredocs[1].body, "two\n", "... <<- strips leading tabs");
		ok(!df.v[1].heredocs[1].expand && df.v[1].heredocs[1].chomp, "... quoted: no expansion");
		is_int(df.v[2].line, 7, "RUN after the COPY's bodies: line 7");
		is_str(df.v[2].heredocs[0].body, "# not a comment of the Dockerfile\n\necho hi \\\n",
		    "RUN <<EOF: comments, blank lines and a trailing escape kept");
		is_int(df.v[3].nheredocs, 2, "RUN 3<<'A' ... <<B: two heredocs");
		is_str(df.v[3].heredocs[0].body, "B\n", "... A's body holds a line 'B'");
		is_str(df.v[3].heredocs[1].body, "x\n", "... then B's");
		is_int(df.v[4].nheredocs, 0, "$((1<<2)) and <<<here are no heredocs");
		is_str(df.v[5].heredocs[0].body, "", "an empty heredoc");
		is_int(df.v[6].line, 20, "LABEL on line 20");
		dockerfile_free(&df);
	} else {
		ok(0, "7 instructions, not %zu", df.n);
	}
	refused("FROM scratch\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc: no line "
	    "'EOF' ends the heredoc <<EOF opens", "unterminated heredoc");
	refused("FROM scratch\nCOPY <<A <<B /x/\na\nA\n",
	    "Dockerfile:2: unterminated heredoc: no line 'B'", "second heredoc unterminated");
	refused("FROM scratch\nRUN <<-EOF\n  EOF\n", "unterminated heredoc",
	    "<<- strips tabs only, not spaces");
	refused("FROM scratch\nCOPY <<../x /d/\nx\n../x\n", "Dockerfile:2: COPY: the heredoc "
	    "<<../x cannot name a file", "heredoc named as a path");
	refused("FROM scratch\nCOPY --from=b <<EOF /x\nEOF\n", "COPY --from with a heredoc",
	    "COPY --from with a heredoc");
	refused("FROM scratch\nCOPY a <<EOF\nEOF\n", "the destination '<<EOF' cannot be a heredoc",
	    "heredoc destination");
	refused("FROM scratch\nONBUILD RUN <<EOF\nEOF\n", "ONBUILD RUN with a heredoc is not "
	    "supported", "ONBUILD heredoc");
	/* As BuildKit: a heredoc is a word of its own; "cat<<EOF" is not one. */
	refused("FROM scratch\nRUN cat<<-'EOF'\nx\nEOF\n", "Dockerfile:3: unknown instruction 'x'",
	    "RUN cat<<-'EOF'");
	ok(parse("FROM scratch\nADD --checksum=sha256:" "0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef https://example.com/x.tgz /x\n", &df, &e) == 0,
	    "ADD https://... with --checksum parses");
	if (e.code == 0)
		dockerfile_free(&df);
	refused("FROM scratch\nADD git@github.com:a/b.git /src\n",
	    "Dockerfile:2: ADD of a git repository is not supported", "ADD git@");
	refused("FROM scratch\nADD https://github.com/a/b.git#main /src\n",
	    "ADD of a git repository is not supported", "ADD https://...git");
	refused("FROM scratch\nADD git://example.com/a /src\n",
	    "ADD of a git repository is not supported", "ADD git://");
	refused("FROM scratch\nADD --keep-git-dir https://example.com/a.git /src\n",
	    "ADD --keep-git-dir: ADD of a git repository is not supported", "ADD --keep-git-dir");
	refused("FROM scratch\nADD --checksum=md5:abc https://example.com/x /y\n",
	    "Dockerfile:2: ADD --checksum='md5:abc': expected sha256: and 64 hex digits",
	    "bad checksum syntax");
	refused("FROM scratch\nRUN --network=none --network=host true\n",
	    "Dockerfile:2: RUN: --network given twice", "RUN --network twice");
	refused("FROM scratch\nRUN --mount true\n", "RUN: --mount needs a value",
	    "RUN --mount without a value");
	{
		/* Several mounts on one RUN, as BuildKit files have them. */
		if (parse("FROM scratch\nRUN --mount=type=cache,target=/a "
		    "--mount=type=bind,from=b,target=/b make\n", &df, &e) < 0) {
			ok(0, "two --mount flags: %s", e.msg);
		} else {
			ok(df.v[1].nflags == 2 && !strcmp(df.v[1].flags[0].value,
			    "type=cache,target=/a") && !strcmp(df.v[1].flags[1].value,
			    "type=bind,from=b,target=/b") && !strcmp(df.v[1].rest, "make"),
			    "two --mount flags on one RUN");
			dockerfile_free(&df);
		}
	}
	refused("FROM scratch\nADD --checksum=sha256:0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef x /y\n", "ADD --checksum applies to one source "
	    "that is a URL", "ADD --checksum of a local file");
	refused("FROM scratch\nCOPY --parents a/b /x/\n", "COPY --parents is not supported",
	    "COPY --parents");
	refused("FROM scratch\nCOPY onlyone\n", "needs at least one source and a destination",
	    "COPY with one word");
	refused("FROM\n", "FROM needs an image", "FROM without an image");
	refused("FROM a b\n", "FROM takes an image and optionally AS NAME", "FROM a b");
	refused("FROM scratch\nCMD [\"a\", 1]\n", "the JSON array may hold only strings",
	    "exec form with a number");
	refused("FROM scratch\nSHELL /bin/bash -c\n", "SHELL needs a JSON array", "SHELL shell form");
	refused("FROM scratch\nENV\n", "ENV needs at least one NAME=VALUE", "empty ENV");
	refused("FROM scratch\nENV A=1 B\n", "no '=' in 'B'", "ENV mixing forms");
	refused("FROM scratch\nENV ONLYKEY\n", "needs a value", "ENV KEY alone");
	refused("FROM scratch\nHEALTHCHECK --interval=soon CMD x\n",
	    "HEALTHCHECK --interval: 'soon' is not a duration", "bad healthcheck duration");
	refused("FROM scratch\nHEALTHCHECK --retries=3 NONE\n", "HEALTHCHECK NONE takes no options",
	    "NONE with options");
	refused("FROM scratch\nHEALTHCHECK wget x\n", "HEALTHCHECK needs NONE or CMD", "HEALTHCHECK x");
	refused("FROM scratch\nONBUILD ONBUILD COPY a b\n", "ONBUILD is not allowed as an ONBUILD",
	    "ONBUILD ONBUILD");
	refused("FROM scratch\nONBUILD FROM x\n", "FROM is not allowed as an ONBUILD", "ONBUILD FROM");
	refused("FROM scratch\nWORKDIR\n", "WORKDIR needs an argument", "WORKDIR alone");
	refused("FROM scratch\nEXPOSE\n", "EXPOSE needs at least one port", "EXPOSE alone");
	refused("FROM scratch\nVOLUME [\"\"]\n", "VOLUME: a path cannot be empty", "VOLUME empty");
	refused("FROM scratch\nARG =x\n", "ARG: bad name", "ARG =x");
	{
		const char bad[] = "FROM scratch\nCOPY a\0b /\n";

		memset(&e, 0, sizeof(e));
		ok(dockerfile_parse(bad, sizeof(bad) - 1, "Dockerfile", &df, &e) < 0 &&
		    strstr(e.msg, "NUL"), "a NUL byte is refused");
	}

	/* One line of an ONBUILD trigger. */
	{
		struct df_inst in;

		memset(&e, 0, sizeof(e));
		ok(dockerfile_parse_line("COPY . /app", '\\', "Dockerfile", 4, &in, &e) == 0 &&
		    in.kind == DF_COPY && in.line == 4, "dockerfile_parse_line");
		df_inst_free(&in);
		/* fuzz: a heredoc's body was left NULL on one line */
		memset(&e, 0, sizeof(e));
		ok(dockerfile_parse_line("COPY <<a.txt /a", '\\', "base", 1, &in, &e) < 0 &&
		    strstr(e.msg, "base:1: a heredoc (<<a.txt) in a one-line instruction") != NULL,
		    "dockerfile_parse_line: a heredoc is refused (%s)", e.msg);
	}

	/* Expansion, as Docker's shell lexer does it. */
	expands("$A", '\\', "alpha");
	expands("${A}", '\\', "alpha");
	expands("x${A}y", '\\', "xalphay");
	expands("$A.txt", '\\', "alpha.txt");
	expands("$X_1-2", '\\', "x1-2");
	expands("$UNSET", '\\', "");
	expands("${UNSET:-def}", '\\', "def");
	expands("${EMPTY:-def}", '\\', "def");
	expands("${EMPTY-def}", '\\', "");
	expands("${UNSET-def}", '\\', "def");
	expands("${A:-def}", '\\', "alpha");
	expands("${A:+alt}", '\\', "alt");
	expands("${EMPTY:+alt}", '\\', "");
	expands("${EMPTY+alt}", '\\', "alt");
	expands("${UNSET:+alt}", '\\', "");
	expands("${UNSET:-${A}}", '\\', "alpha");
	expands("${UNSET:-$B-x}", '\\', "beta-x");
	expands("'$A'", '\\', "$A");
	expands("\"$A b\"", '\\', "alpha b");
	expands("\"\\$A\"", '\\', "$A");
	expands("\\$A", '\\', "$A");
	expands("a\\ b", '\\', "a b");
	expands("\"a\\b\"", '\\', "a\\b");
	expands("`$A", '`', "$A");
	expands("c:\\x", '`', "c:\\x");
	expands("$", '\\', "$");
	expands("a$", '\\', "a$");
	expands("$1x", '\\', "x");
	expands("${SP}", '\\', "a b");
	expands("\"it's\"", '\\', "it's");
	{
		char *out = NULL;

		memset(&e, 0, sizeof(e));
		ok(df_expand_heredoc("'$A' \"${B}\" \\$A \\\\ \\x a\\\nb ${UNSET:-d}\n", '\\',
		    lookup, NULL, &out, &e) == 0, "heredoc expansion");
		is_str(out, "'alpha' \"beta\" $A \\ \\x ab d\n",
		    "... quotes kept, \\$ and \\\\ taken, \\x kept, \\newline gone");
		free(out);
		ok(df_expand_heredoc("${A", '\\', lookup, NULL, &out, &e) < 0 && !out,
		    "heredoc expansion: ${A fails");
	}
	expand_fails("${A", "missing '}'");
	expand_fails("${}", "bad substitution");
	expand_fails("${A:%x}", "unsupported modifier '%'");
	expand_fails("${UNSET:?must be set}", "UNSET: must be set");
	expand_fails("'open", "single quote");
	expand_fails("\"open", "double quote");

	/* Durations, Go style. */
	ok(df_parse_duration("30s", &ns) == 0 && ns == 30000000000LL, "30s");
	ok(df_parse_duration("1m30s", &ns) == 0 && ns == 90000000000LL, "1m30s");
	ok(df_parse_duration("1.5s", &ns) == 0 && ns == 1500000000LL, "1.5s");
	ok(df_parse_duration("250ms", &ns) == 0 && ns == 250000000LL, "250ms");
	ok(df_parse_duration("1h", &ns) == 0 && ns == 3600000000000LL, "1h");
	ok(df_parse_duration("0", &ns) == 0 && ns == 0, "0");
	ok(df_parse_duration("10", &ns) < 0, "a number without a unit is refused");
	ok(df_parse_duration("", &ns) < 0, "empty is refused");
	ok(df_parse_duration("5x", &ns) < 0, "unknown unit is refused");
	return done_testing();
}
