/*
 * driver: a main() for a fuzz target built without libFuzzer
 * (t/fuzz/NAME.run), so that make check replays inputs through the normal
 * build, sanitizers and all with SANITIZE=1.
 *
 *   NAME.run FILE|DIR...
 *
 * Feeds each file (each file of each directory, sorted, dot files
 * skipped) to LLVMFuzzerTestOneInput() and prints "NAME: N inputs".  An
 * input that crashes ends the process as it would under libFuzzer; an
 * unreadable file is exit status 2.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "driver: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *p;

			cap = cap ? 2 * cap : 65536;
			if (!(p = realloc(data, cap))) {
				fprintf(stderr, "driver: '%s': out of memory\n", path);
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "driver: cannot read '%s': %s\n", path, strerror(errno));
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* An exact-size copy, so that ASan sees a read past the input. */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact) {
			free(data);
			return -1;
		}
		memcpy(exact, data, len);
		free(data);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file of dir, sorted; the count in *count. */
static int
run_dir(const char *dir, long *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "driver: cannot open '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		char **p;
		size_t sz = strlen(dir) + strlen(de->d_name) + 2;

		if (de->d_name[0] == '.')
			continue;
		if (!(p = realloc(names, (n + 1) * sizeof(*names))) || !(p[n] = malloc(sz))) {
			fprintf(stderr, "driver: out of memory\n");
			names = p ? p : names;
			rc = -1;
			break;
		}
		names = p;
		snprintf(names[n], sz, "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		if (rc == 0 && run_file(names[i]) < 0)
			rc = -1;
		else if (rc == 0)
			(*count)++;
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	long count = 0;
	int i;

	for (i = 1; i < argc; i++) {
		struct stat st;
		int rc;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "driver: cannot open '%s': %s\n", argv[i], strerror(errno));
			return 2;
		}
		rc = S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i]);
		if (rc < 0)
			return 2;
		if (!S_ISDIR(st.st_mode))
			count++;
	}
	printf("%s: %ld inputs\n", prog, count);
	return 0;
}
