/*
 * The registry client's option parsing, offline.
 *
 * Run with arguments, this program is also the shell tests' door to the
 * parts of net/registry that no tool exposes yet (t02NN-push-*.sh):
 *   registry.t pull REF LAYOUT [PLATFORM] [TAG]  pull into LAYOUT, print the digest
 *   registry.t resolve REF                      print digest and media type
 *   registry.t tag SRC TAG                      retag, print the digest
 * Registry options (--insecure-registry, --ca-file, ...) may come first.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/oci.h"
#include "net/registry.h"
#include "tap.h"

static int
tool(int argc, char **argv)
{
	static const struct option longopts[] = { REGISTRY_LONG_OPTIONS, { NULL, 0, NULL, 0 } };
	struct registry_opts o;
	struct registry *r;
	struct err e = { 0, "" };
	int c, rc = 0;

	log_init("registry.t");
	registry_opts_init(&o);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (registry_opts_arg(&o, c, optarg, &e) <= 0) {
			registry_opts_free(&o);
			return e.code ? err_report(&e) : 2;
		}
	if (registry_opts_finish(&o, &e) < 0 || optind >= argc) {
		registry_opts_free(&o);
		return e.code ? err_report(&e) : 2;
	}
	argc -= optind;
	argv += optind;
	r = registry_new(&o);
	if (!strcmp(argv[0], "pull") && argc >= 3) {
		struct oci_layout l;
		struct oci_desc d;
		char idx[OCI_DIGEST_SIZE];

		o.platform = argc >= 4 && *argv[3] ? argv[3] : NULL;
		if (oci_layout_create(&l, argv[2], &e) < 0) {
			rc = err_report(&e);
		} else {
			if (registry_pull(r, argv[1], &l, &d, idx, &e) < 0) {
				rc = err_report(&e);
			} else {
				printf("%s %s %lld%s%s\n", d.digest, d.media_type, d.size,
				    idx[0] ? " index " : "", idx);
				if (argc >= 5) {
					oci_index_add(&l, &d, argv[4]);
					if (oci_index_write(&l, &e) < 0)
						rc = err_report(&e);
				}
				oci_desc_free(&d);
			}
			oci_layout_close(&l);
		}
	} else if (!strcmp(argv[0], "resolve") && argc == 2) {
		struct oci_desc d;

		if (registry_resolve(r, argv[1], &d, &e) < 0) {
			rc = err_report(&e);
		} else {
			printf("%s %s\n", d.digest, d.media_type ? d.media_type : "-");
			oci_desc_free(&d);
		}
	} else if (!strcmp(argv[0], "tag") && argc == 3) {
		char dg[OCI_DIGEST_SIZE];

		if (registry_tag(r, argv[1], argv[2], dg, &e) < 0)
			rc = err_report(&e);
		else
			printf("%s\n", dg);
	} else {
		fprintf(stderr, "registry.t: unknown command\n");
		rc = 2;
	}
	registry_free(r);
	registry_opts_free(&o);
	return rc;
}

static int
arg(struct registry_opts *o, int opt, const char *val, struct err *e)
{
	memset(e, 0, sizeof(*e));
	return registry_opts_arg(o, opt, val, e);
}

int
main(int argc, char **argv)
{
	struct registry_opts o;
	struct err e;
	char dir[256], path[300];
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	if (argc > 1)
		return tool(argc, argv);

	registry_opts_init(&o);
	is_int(arg(&o, REGOPT_CHUNK_SIZE, "16M", &e), 1, "--chunk-size 16M");
	is_int(o.chunk_size, 16LL << 20, "... is 16 MiB");
	arg(&o, REGOPT_CHUNK_SIZE, "512k", &e);
	is_int(o.chunk_size, 512 << 10, "512k");
	arg(&o, REGOPT_CHUNK_SIZE, "1GiB", &e);
	is_int(o.chunk_size, 1LL << 30, "1GiB");
	arg(&o, REGOPT_CHUNK_SIZE, "1000", &e);
	is_int(o.chunk_size, 1000, "plain bytes");
	arg(&o, REGOPT_CHUNK_SIZE, "8MiB", &e);
	is_int(o.chunk_size, 8LL << 20, "8MiB");
	arg(&o, REGOPT_CHUNK_SIZE, "1G", &e);
	is_int(o.chunk_size, 1LL << 30, "1G");
	is_int(arg(&o, REGOPT_CHUNK_SIZE, "1.5M", &e), 1, "1.5M (core/size syntax)");
	is_int(o.chunk_size, 3LL << 19, "... is 1.5 MiB");
	ok(arg(&o, REGOPT_CHUNK_SIZE, "0.3", &e) < 0, "a fraction of a byte refused");
	ok(arg(&o, REGOPT_CHUNK_SIZE, "12X", &e) < 0 && e.code == EX_USAGE_, "12X refused");
	like(e.msg, "--chunk-size '12X'", "... naming option and value");
	ok(arg(&o, REGOPT_CHUNK_SIZE, "0", &e) < 0, "0 refused");
	ok(arg(&o, REGOPT_CHUNK_SIZE, "-5", &e) < 0, "negative refused");
	ok(arg(&o, REGOPT_CHUNK_SIZE, "99999999999G", &e) < 0, "overflow refused");
	is_int(arg(&o, REGOPT_PARALLEL, "8", &e), 1, "--parallel 8");
	is_int(o.parallel, 8, "... set");
	ok(arg(&o, REGOPT_PARALLEL, "0", &e) < 0, "--parallel 0 refused");
	ok(arg(&o, REGOPT_PARALLEL, "65", &e) < 0, "--parallel 65 refused");
	is_int(arg(&o, REGOPT_RETRIES, "1", &e), 1, "--retries 1");
	ok(arg(&o, REGOPT_RETRIES, "x", &e) < 0, "--retries x refused");
	is_int(arg(&o, REGOPT_RETRY_TIME, "1m30s", &e), 1, "--retry-time 1m30s");
	is_int(o.retry_time_ms, 90000, "... is 90 s");
	ok(arg(&o, REGOPT_RETRY_TIME, "soon", &e) < 0, "--retry-time soon refused");
	is_int(arg(&o, REGOPT_INSECURE, "reg.example:5000", &e), 1, "--insecure-registry");
	is_int(arg(&o, REGOPT_INSECURE, "other.example", &e), 1, "... twice");
	is_str(o.insecure[1], "other.example", "... kept in order");
	ok(o.insecure[2] == NULL, "... NULL-terminated");
	ok(arg(&o, REGOPT_INSECURE, "http://x/", &e) < 0, "a URL is not a host");
	is_int(arg(&o, REGOPT_NO_CACHE, NULL, &e), 1, "--no-blob-cache");
	is_int(o.no_cache, 1, "... set");
	is_int(arg(&o, 'x', "y", &e), 0, "other options are not ours");

	/* Passwords */
	arg(&o, REGOPT_PASSWORD_STDIN, NULL, &e);
	memset(&e, 0, sizeof(e));
	ok(registry_opts_finish(&o, &e) < 0 && e.code == EX_USAGE_, "--password-stdin needs --username");
	like(e.msg, "needs --username", "... saying so");
	o.password_stdin = 0;
	snprintf(dir, sizeof(dir), "%s/registry-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/pw", dir);
	f = fopen(path, "w");
	fputs("hunter2\nsecond line\n", f);
	fclose(f);
	arg(&o, REGOPT_USERNAME, "alice", &e);
	arg(&o, REGOPT_PASSWORD_FILE, path, &e);
	memset(&e, 0, sizeof(e));
	is_int(registry_opts_finish(&o, &e), 0, "--password-file");
	is_str(o.password, "hunter2", "... first line, no newline");
	ok(arg(&o, REGOPT_CA_FILE, "/nonexistent/ca.pem", &e) < 0 && e.code == EX_USAGE_ &&
	    strstr(e.msg, "--ca-file") && strstr(e.msg, "/nonexistent/ca.pem"),
	    "a missing --ca-file is refused where it is given");
	o.ca_file = NULL;
	f = fopen(path, "w");
	fputs("\n", f);
	fclose(f);
	memset(&e, 0, sizeof(e));
	ok(registry_opts_finish(&o, &e) < 0 && strstr(e.msg, "empty"), "an empty password is refused");
	unlink(path);
	rmdir(dir);
	registry_opts_free(&o);
	ok(o.password == NULL && o.username == NULL && o.insecure == NULL, "registry_opts_free");
	return done_testing();
}
