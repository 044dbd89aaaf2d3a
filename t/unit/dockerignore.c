/* Unit tests of lib/dockerignore: Docker's .dockerignore semantics. */
#include <stdlib.h>
#include <string.h>

#include "image/dockerignore.h"
#include "tap.h"

static const struct {
	const char *patterns;	/* the .dockerignore text */
	const char *path;
	int excluded;
} cases[] = {
	/* A pattern matches at the root only, and takes what is below it. */
	{ "*.md\n", "README.md", 1 },
	{ "*.md\n", "docs/README.md", 0 },
	{ "**/*.md\n", "README.md", 1 },
	{ "**/*.md\n", "docs/a/README.md", 1 },
	{ "docs\n", "docs", 1 },
	{ "docs\n", "docs/x/y.txt", 1 },
	{ "docs/\n", "docs/x", 1 },
	{ "/docs\n", "docs/x", 1 },
	{ "./docs\n", "docs/x", 1 },
	{ "docs\n", "src/docs", 0 },
	{ "docs\n", "docsx", 0 },
	{ "node_modules\n", "node_modules/a/b.js", 1 },
	{ "node_modules\n", "src/node_modules/a.js", 0 },
	{ "**/node_modules\n", "src/node_modules/a.js", 1 },
	{ "**/node_modules\n", "node_modules", 1 },
	/* Wildcards. */
	{ "temp?\n", "temp1", 1 },
	{ "temp?\n", "temp12", 0 },
	{ "temp?\n", "temp/", 0 },
	{ "[a-c].txt\n", "b.txt", 1 },
	{ "[a-c].txt\n", "d.txt", 0 },
	{ "[^a-c].txt\n", "d.txt", 1 },
	{ "*/temp*\n", "sub/temporary.txt", 1 },
	{ "*/temp*\n", "temp", 0 },
	{ "*/*/x\n", "a/b/x", 1 },
	{ "*/*/x\n", "a/x", 0 },
	{ "a/**/b\n", "a/b", 1 },
	{ "a/**/b\n", "a/x/b", 1 },
	{ "a/**/b\n", "a/x/y/b", 1 },
	{ "a/**/b\n", "a/x/y/bc", 0 },
	{ "a/**\n", "a/x/y", 1 },
	{ "a/**\n", "a", 0 },
	{ "**\n", "anything/at/all", 1 },
	{ "*\n", "x", 1 },
	{ "*\n", "dir/deep/file", 1 },
	{ "\\*\n", "*", 1 },
	{ "\\*\n", "x", 0 },
	{ "a.b\n", "axb", 0 },
	{ ".git\n", ".git/config", 1 },
	/* A path is refused by a pattern's literal ends before the matcher
	 * runs: each end checked, overlapping ends, escapes as literals. */
	{ "ab*yz\n", "abyz", 1 },
	{ "ab*yz\n", "abxyz", 1 },
	{ "ab*yz\n", "aby", 0 },
	{ "ab*yz\n", "xbcyz", 0 },
	{ "ab*yz\n", "abcyx", 0 },
	{ "ab*yz\n", "abcxz", 0 },
	{ "a*a\n", "a", 0 },
	{ "a*a\n", "aa", 1 },
	{ "*.log\n", ".log", 1 },
	{ "*.log\n", "a.lox", 0 },
	{ "**/*.log\n", "a/b/c.log", 1 },
	{ "x\\*y\n", "x*y", 1 },
	{ "x\\*y\n", "xay", 0 },
	{ "abc\n", "ab", 0 },
	{ "abc\n", "abd", 0 },
	{ "abc\n", "abc/d", 1 },
	{ "a/b\n", "a/b/c/d", 1 },
	{ "a/b\n", "a/bc/d", 0 },
	/* Exceptions: the last pattern that matches wins. */
	{ "*.md\n!README.md\n", "README.md", 0 },
	{ "*.md\n!README.md\n", "CHANGES.md", 1 },
	{ "!README.md\n*.md\n", "README.md", 1 },
	{ "docs\n!docs/keep.md\n", "docs/keep.md", 0 },
	{ "docs\n!docs/keep.md\n", "docs/other.md", 1 },
	{ "*\n!src\n", "src/a/b.c", 0 },
	{ "*\n!src\n", "build/x", 1 },
	{ "*\n!src\nsrc/*.tmp\n", "src/a.tmp", 1 },
	{ "**/*.log\n!keep/**\n", "keep/a.log", 0 },
	/* Comments, blanks, spaces. */
	{ "# comment\n\n  *.tmp  \n", "a.tmp", 1 },
	{ "# *.tmp\n", "a.tmp", 0 },
	{ " #x\n", "#x", 1 },
	{ "a//b/../c\n", "a/c", 1 },
};

static const struct {
	const char *in, *out;
} cleans[] = {
	{ "a//b/./c/../d/", "a/b/d" },
	{ "", "." },
	{ "./", "." },
	{ "/", "/" },
	{ "/..", "/" },
	{ "../a", "../a" },
	{ "a/../..", ".." },
	{ "/a/b/../", "/a" },
	{ "a/./b/.", "a/b" },
	{ "..//../x", "../../x" },
};

int
main(void)
{
	struct dockerignore d;
	struct err e;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[160];
		const char *p;

		snprintf(name, sizeof(name), "%s %s '%s'", cases[i].excluded ? "excludes" : "keeps",
		    cases[i].path, cases[i].patterns);
		for (p = name; *p; p++)
			if (*p == '\n')
				*(char *)p = '|';
		memset(&e, 0, sizeof(e));
		if (dockerignore_parse(&d, cases[i].patterns, strlen(cases[i].patterns),
		    ".dockerignore", &e) < 0) {
			ok(0, "%s: %s", name, e.msg);
			continue;
		}
		is_int(dockerignore_excluded(&d, cases[i].path), cases[i].excluded, "%s", name);
		dockerignore_free(&d);
	}

	/* Whether a walk must go into an excluded directory. */
	memset(&e, 0, sizeof(e));
	ok(dockerignore_parse(&d, "docs\n!docs/keep/a.md\n", 21, "x", &e) == 0, "exceptions parse");
	ok(d.exclusions, "... it has exceptions");
	ok(dockerignore_may_include_under(&d, "docs"), "... docs must be walked");
	ok(dockerignore_may_include_under(&d, "docs/keep"), "... so must docs/keep");
	ok(!dockerignore_may_include_under(&d, "other"), "... not other");
	dockerignore_free(&d);
	ok(dockerignore_parse(&d, "docs\n", 5, "x", &e) == 0 &&
	    !dockerignore_may_include_under(&d, "docs"), "no exceptions: nothing to walk");
	dockerignore_free(&d);
	ok(dockerignore_parse(&d, "*\n!**/*.c\n", 10, "x", &e) == 0 &&
	    dockerignore_may_include_under(&d, "any"), "a wild exception: walk everything");
	dockerignore_free(&d);

	/* Errors name the line. */
	memset(&e, 0, sizeof(e));
	ok(dockerignore_parse(&d, "a\n!\n", 4, ".dockerignore", &e) < 0 &&
	    strstr(e.msg, ".dockerignore:2:") != NULL, "'!' alone is refused with its line");
	memset(&e, 0, sizeof(e));
	ok(dockerignore_parse(&d, "[abc\n", 5, ".dockerignore", &e) < 0 &&
	    strstr(e.msg, "unterminated character class") != NULL, "an open class is refused");

	/* Many stars against a long path: each (token, offset) is tried
	 * once, so this ends (backtracking alone tries 2^40 splits; found
	 * by make fuzz). */
	{
		char pat[256], path[256];
		size_t k, n = 0;

		for (k = 0; k < 40; k++) {
			pat[n++] = '*';
			pat[n++] = 'a';
		}
		strcpy(pat + n, "*b\n");
		memset(path, 'a', 120);
		path[120] = '\0';
		memset(&e, 0, sizeof(e));
		ok(dockerignore_parse(&d, pat, strlen(pat), "x", &e) == 0, "40 stars parse");
		ok(!dockerignore_excluded(&d, path), "... and fail on 120 a's without backtracking forever");
		path[119] = 'b';
		ok(dockerignore_excluded(&d, path), "... and match when the path ends in b");
		dockerignore_free(&d);
		n = 0;
		for (k = 0; k < 30; k++) {
			memcpy(pat + n, "**/", 3);
			n += 3;
		}
		strcpy(pat + n, "z\n");
		for (k = 0; k < 60; k++) {
			path[2 * k] = 'a';
			path[2 * k + 1] = '/';
		}
		strcpy(path + 120, "y");
		ok(dockerignore_parse(&d, pat, strlen(pat), "x", &e) == 0 &&
		    !dockerignore_excluded(&d, path), "30 '**/' against 60 directories end");
		dockerignore_free(&d);
	}
	{
		char *big = malloc(5000);

		memset(big, 'a', 4999);
		big[4999] = '\n';
		memset(&e, 0, sizeof(e));
		ok(dockerignore_parse(&d, big, 5000, ".dockerignore", &e) < 0 &&
		    strstr(e.msg, ".dockerignore:1: pattern longer than 4096 bytes") != NULL,
		    "a pattern longer than any path is refused: %s", e.msg);
		free(big);
	}

	/* A missing file is an empty list. */
	memset(&e, 0, sizeof(e));
	ok(dockerignore_load(&d, "/nonexistent/.dockerignore", &e) == 0 && d.n == 0,
	    "a missing .dockerignore excludes nothing");
	dockerignore_free(&d);

	for (i = 0; i < sizeof(cleans) / sizeof(cleans[0]); i++) {
		char *c = path_clean(cleans[i].in);

		is_str(c, cleans[i].out, "path_clean('%s')", cleans[i].in);
		free(c);
	}
	return done_testing();
}
