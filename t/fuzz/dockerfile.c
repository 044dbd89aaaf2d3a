/*
 * Dockerfiles: image/dockerfile's dockerfile_parse(), then df_expand() of
 * every word, flag and key=value it kept (with a few variables set and
 * the rest unset), and of every heredoc body, as the build stage does later; flag values through
 * df_parse_duration(); the first line through dockerfile_parse_line().
 */
#include "core/buf.h"
#include "image/dockerfile.h"
#include "fuzz.h"

static const char *
lookup(const char *name, void *arg)
{
	(void)arg;
	if (!strcmp(name, "A"))
		return "a b";
	if (!strcmp(name, "EMPTY"))
		return "";
	if (!strcmp(name, "VERSION"))
		return "1.2.3";
	return NULL;
}

static void
expand(const char *word, int escape)
{
	struct err e = { 0, "" };
	char *out = NULL;

	if (word && df_expand(word, escape, lookup, NULL, &out, &e) == 0)
		free(out);
}

static void
expand_inst(const struct df_inst *in, int escape)
{
	size_t i;

	for (i = 0; i < in->nflags; i++) {
		long long ns;

		expand(in->flags[i].value, escape);
		if (in->flags[i].value)
			df_parse_duration(in->flags[i].value, &ns);
	}
	for (i = 0; i < in->nargs; i++)
		expand(in->args[i], escape);
	for (i = 0; i < in->nkvs; i++) {
		expand(in->kvs[i].key, escape);
		expand(in->kvs[i].value, escape);
	}
	expand(in->rest, escape);
	if (in->rest) {
		size_t n;
		char **w = df_split_words(in->rest, &n);

		strv_free(w);
	}
	for (i = 0; i < in->nheredocs; i++) {
		struct err e = { 0, "" };
		char *out = NULL;

		if (df_expand_heredoc(in->heredocs[i].body, escape, lookup, NULL, &out, &e) == 0)
			free(out);
		if (!df_heredoc_of(in, in->heredocs[i].word))
			abort();
	}
	for (i = 0; i + 1 < in->nargs; i++)
		if (df_is_git_url(in->args[i]) < 0)
			abort();
	if (in->trigger)
		expand_inst(in->trigger, escape);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dockerfile df;
	struct err e = { 0, "" };
	size_t i;

	fuzz_init();
	if (dockerfile_parse((const char *)data, size, "Dockerfile", &df, &e) == 0)
		for (i = 0; i < df.n; i++)
			expand_inst(&df.v[i], df.escape);
	dockerfile_free(&df);
	/* The first line alone, as an ONBUILD trigger of a base image. */
	{
		char *line = fuzz_str(data, size), *nl = strchr(line, '\n');
		struct df_inst in;

		if (nl)
			*nl = '\0';
		memset(&in, 0, sizeof(in));
		if (dockerfile_parse_line(line, '\\', "base", 1, &in, &e) == 0) {
			expand_inst(&in, '\\');
			df_inst_free(&in);
		}
		free(line);
	}
	return 0;
}
