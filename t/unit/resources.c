/*
 * Unit tests for lib/rollout/resources.c: fake cgroup trees (v2, v1 with
 * one hierarchy per controller, v1 with "cpu,cpuacct") and fake /proc in a
 * temp dir, with exact numbers and the messages of bad input; a fake runc
 * on PATH; then this machine's own cgroups: a read of this process, and
 * (as root, with writable cgroups) a busy child in cgroups of 0.5 core and
 * 256 MiB.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "tap.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "rollout/resources.h"

#define MiB (1024ULL * 1024)
#define MEMTOTAL (8000000ULL * 1024)	/* the fake meminfo's */

static char tmp[256];	/* short, so that paths under it fit in PATH_MAX */

/* Write tmp/rel (parents created); fmt NULL removes it. */
static void __attribute__((format(printf, 2, 3)))
put(const char *rel, const char *fmt, ...)
{
	char path[PATH_MAX], *p;
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	if (!fmt) {
		unlink(path);
		return;
	}
	for (p = path + strlen(tmp) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	if (!(f = fopen(path, "w"))) {
		printf("# cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static void
roots(const char *tree)
{
	char sys[PATH_MAX], proc[PATH_MAX];

	snprintf(sys, sizeof(sys), "%s/%s/sys", tmp, tree);
	snprintf(proc, sizeof(proc), "%s/%s/proc", tmp, tree);
	resources_set_root(sys, proc);
}

static void
fake_proc(const char *tree)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/proc/stat", tree);
	put(p, "cpu  10 0 10 100\ncpu0 1 0 1 10\ncpu1 1 0 1 10\ncpu2 1 0 1 10\n"
	    "cpu3 1 0 1 10\nintr 12 0 1\nctxt 99\n");
	snprintf(p, sizeof(p), "%s/proc/meminfo", tree);
	put(p, "MemTotal:        8000000 kB\nMemFree:         1000000 kB\n");
}

/* Read where; expect success. */
static int
rd(const char *where, struct res_sample *s, const char *name)
{
	struct err e;

	err_clear(&e);
	if (!ok(resources_read(where, NULL, s, &e) == 0, "%s: read '%s'", name, where)) {
		printf("#   error: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* Read where; expect failure with code and a message containing each of
 * the needles (NULL-terminated). */
static void
fails(const char *where, const char *runc_root, int code, const char *name, ...)
{
	struct res_sample s;
	struct err e;
	const char *n;
	va_list ap;

	err_clear(&e);
	s.has_cpu = 7;
	ok(resources_read(where, runc_root, &s, &e) == -1, "%s: '%s' fails", name, where);
	printf("# %s\n", e.msg);
	is_int(e.code, code, "%s: exit code", name);
	ok(s.has_cpu == 0 && s.has_mem == 0, "%s: sample zeroed", name);
	like(e.msg, "resources of '", "%s: message names the place", name);
	va_start(ap, name);
	while ((n = va_arg(ap, const char *)))
		like(e.msg, n, "%s: message says '%s'", name, n);
	va_end(ap);
}

static void
test_v2(void)
{
	struct res_sample s, a, b;
	char where[PATH_MAX];
	const char *w = "v2/sys/app.slice/web.service";

	fake_proc("v2");
	put("v2/sys/cgroup.controllers", "cpuset cpu io memory pids\n");
	put("v2/sys/app.slice/cpu.max", "max 100000\n");
	put("v2/sys/app.slice/memory.max", "1073741824\n");
	put("v2/sys/app.slice/web.service/cgroup.controllers", "cpuset cpu memory pids\n");
	put("v2/sys/app.slice/web.service/cpu.stat",
	    "usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\n");
	put("v2/sys/app.slice/web.service/cpu.max", "150000 100000\n");
	put("v2/sys/app.slice/web.service/cpuset.cpus.effective", "0-3\n");
	put("v2/sys/app.slice/web.service/memory.current", "314572800\n");
	put("v2/sys/app.slice/web.service/memory.stat",
	    "anon 1000\nfile 2000\nactive_file 5\ninactive_file 104857600\n");
	put("v2/sys/app.slice/web.service/memory.max", "max\n");
	put("v2/proc/4242/cgroup", "0::/app.slice/web.service\n");
	roots("v2");

	if (rd("pid:4242", &s, "v2") == 0) {
		ok(s.has_cpu && s.has_mem, "v2: cpu and memory");
		is_int(s.cpu_usec, 5000000, "v2: usage_usec");
		ok(s.cpu_limit == 1.5 && s.cpu_limited, "v2: cpu.max 150000/100000 is 1.5 cores "
		    "(got %g)", s.cpu_limit);
		is_int(s.mem_bytes, 200 * MiB, "v2: memory.current minus inactive_file");
		is_int(s.mem_limit, 1024 * MiB, "v2: memory.max 'max' under a 1 GiB parent");
		ok(s.mem_limited, "v2: memory limited");
		ok(resources_mem_percent(&s) == 19.53125, "v2: memory percent %g",
		    resources_mem_percent(&s));
		ok(s.at_ms > 0, "v2: at_ms set");
	}
	snprintf(where, sizeof(where), "cgroup:%s/%s", tmp, w);
	if (rd("cgroup:/app.slice/web.service/", &a, "v2 cgroup path") == 0)
		is_int(a.mem_limit, 1024 * MiB, "v2 cgroup path: same limit");
	if (rd(where, &a, "v2 directory") == 0)
		ok(a.cpu_usec == 5000000 && a.cpu_limit == 1.5, "v2 directory: same numbers");

	/* Two samples a second apart: 0.75 s of CPU over 1.5 cores. */
	put("v2/sys/app.slice/web.service/cpu.stat", "usage_usec 5750000\nuser_usec 1\n");
	if (rd("pid:4242", &b, "v2 again") == 0) {
		a.at_ms = 1000;
		b.at_ms = 2000;
		ok(resources_cpu_percent(&a, &b) == 50.0, "cpu percent 50 (got %g)",
		    resources_cpu_percent(&a, &b));
		ok(resources_cpu_percent(&b, &a) == -1, "cpu percent: samples swapped is -1");
		b.at_ms = 1000;
		ok(resources_cpu_percent(&a, &b) == -1, "cpu percent: no time between is -1");
		b.at_ms = 2000;
		b.cpu_usec = 1;
		ok(resources_cpu_percent(&a, &b) == -1, "cpu percent: counter went back is -1");
		b.has_cpu = 0;
		ok(resources_cpu_percent(&a, &b) == -1, "cpu percent: no cpu is -1");
		b.has_mem = 0;
		ok(resources_mem_percent(&b) == -1, "mem percent: no memory is -1");
	}

	/* No limits: the host's size, not limited. */
	put("v2/sys/app.slice/web.service/cpu.max", "max 100000\n");
	put("v2/sys/app.slice/memory.max", "max\n");
	if (rd("pid:4242", &s, "v2 unlimited") == 0) {
		ok(s.cpu_limit == 4 && !s.cpu_limited, "v2 unlimited: 4 host CPUs (got %g)",
		    s.cpu_limit);
		ok(s.mem_limit == MEMTOTAL && !s.mem_limited, "v2 unlimited: MemTotal (got %llu)",
		    s.mem_limit);
	}
	put("v2/sys/app.slice/web.service/cpuset.cpus.effective", "1,3\n");
	if (rd("pid:4242", &s, "v2 cpuset") == 0)
		ok(s.cpu_limit == 2 && s.cpu_limited, "v2 cpuset '1,3' is 2 cores (got %g)",
		    s.cpu_limit);
	put("v2/sys/app.slice/web.service/cpuset.cpus.effective", "0-1,3-5\n");
	put("v2/sys/app.slice/cpu.max", "300000 100000\n");
	if (rd("pid:4242", &s, "v2 big cpuset") == 0)
		ok(s.cpu_limit == 3 && s.cpu_limited, "v2: parent quota 3 under a 5-CPU cpuset "
		    "on 4 CPUs (got %g)", s.cpu_limit);

	/* Without the memory controller: cpu only. */
	put("v2/sys/app.slice/web.service/cgroup.controllers", "cpu\n");
	if (rd("pid:4242", &s, "v2 no memory controller") == 0)
		ok(s.has_cpu && !s.has_mem && s.cpu_limit == 3,
		    "v2 no memory controller: cpu only, no cpuset");
	put("v2/sys/app.slice/web.service/cgroup.controllers", "cpuset cpu memory\n");

	/* Bad cases, each naming the file. */
	put("v2/sys/app.slice/web.service/cpu.stat", "garbage\n");
	fails("pid:4242", NULL, EX_SERVICE, "cpu.stat garbage", "web.service/cpu.stat'",
	    "no 'usage_usec' line", NULL);
	put("v2/sys/app.slice/web.service/cpu.stat", "usage_usec 12x\n");
	fails("pid:4242", NULL, EX_SERVICE, "cpu.stat bad number", "web.service/cpu.stat'",
	    "got 'usage_usec 12x'", NULL);
	put("v2/sys/app.slice/web.service/cpu.stat", "usage_usec 1\n");
	put("v2/sys/app.slice/web.service/cpu.max", "banana\n");
	fails("pid:4242", NULL, EX_SERVICE, "cpu.max garbage", "web.service/cpu.max'",
	    "'QUOTA PERIOD' or 'max PERIOD', got 'banana'", NULL);
	put("v2/sys/app.slice/web.service/cpu.max", "max 100000\n");
	put("v2/sys/app.slice/web.service/memory.max", "-5\n");
	fails("pid:4242", NULL, EX_SERVICE, "memory.max negative", "web.service/memory.max'",
	    "a number or 'max', got '-5'", NULL);
	put("v2/sys/app.slice/web.service/memory.max", "max\n");
	put("v2/sys/app.slice/web.service/cpuset.cpus.effective", "0-x\n");
	fails("pid:4242", NULL, EX_SERVICE, "cpuset garbage", "cpuset.cpus.effective'",
	    "CPU list", NULL);
	put("v2/sys/app.slice/web.service/cpuset.cpus.effective", "0-1,\n");
	fails("pid:4242", NULL, EX_SERVICE, "cpuset trailing comma", "got '0-1,'", NULL);
	put("v2/sys/app.slice/web.service/cpuset.cpus.effective", "3-1\n");
	fails("pid:4242", NULL, EX_SERVICE, "cpuset backwards", "got '3-1'", NULL);
	put("v2/sys/app.slice/web.service/cpuset.cpus.effective", "0-3\n");
	put("v2/sys/app.slice/web.service/memory.current", NULL);
	fails("pid:4242", NULL, EX_SERVICE, "memory.current missing",
	    "cannot open '", "web.service/memory.current'", NULL);
	put("v2/sys/app.slice/web.service/memory.current", "1\n");
	put("v2/sys/app.slice/web.service/memory.stat", "anon 1\n");
	fails("pid:4242", NULL, EX_SERVICE, "inactive_file missing", "memory.stat'",
	    "no 'inactive_file' line", NULL);
	put("v2/sys/app.slice/web.service/memory.stat", "inactive_file 4096\n");
	if (rd("pid:4242", &s, "v2 usage below inactive_file") == 0)
		is_int(s.mem_bytes, 0, "v2: usage below inactive_file counts as 0, not negative");
	put("v2/proc/4243/cgroup", "1:name=systemd:/x\n");
	fails("pid:4243", NULL, EX_SERVICE, "no 0:: line", "4243/cgroup'", "no '0::' line", NULL);
	put("v2/proc/4244/cgroup", "0::/gone.service\n");
	fails("pid:4244", NULL, EX_SERVICE, "cgroup gone", "gone.service/cgroup.controllers'",
	    NULL);
	put("v2/proc/4245/cgroup", "garbage\n");
	fails("pid:4245", NULL, EX_SERVICE, "garbage /proc/N/cgroup", "4245/cgroup'",
	    "'ID:CONTROLLERS:PATH' lines, got 'garbage'", NULL);
	put("v2/proc/4246/cgroup", "0::/a/./b\n");
	fails("pid:4246", NULL, EX_SERVICE, "dot in /proc/N/cgroup", "4246/cgroup': cgroup path "
	    "'/a/./b' has a '.' or '..' part", NULL);
	fails("pid:999999", NULL, EX_SERVICE, "no such pid", "no process 999999", NULL);
	put("v2/proc/meminfo", "MemFree: 1 kB\n");
	fails("pid:4242", NULL, EX_SERVICE, "meminfo", "meminfo'", "no 'MemTotal:' line", NULL);
	put("v2/proc/stat", "intr 1\n");
	fails("pid:4242", NULL, EX_SERVICE, "proc stat", "stat'", "no 'cpuN' line", NULL);
	fake_proc("v2");
	put("v2/sys/app.slice/web.service/cpu.stat", "usage_usec 5000000\n");
}

static void
test_v1(void)
{
	struct res_sample s;
	char where[PATH_MAX];

	fake_proc("v1");
	put("v1/sys/unified/cgroup.controllers", "\n");
	put("v1/sys/cpu/cpu.cfs_quota_us", "-1\n");
	put("v1/sys/cpu/cpu.cfs_period_us", "100000\n");
	put("v1/sys/cpu/docker/cpu.cfs_quota_us", "-1\n");
	put("v1/sys/cpu/docker/cpu.cfs_period_us", "100000\n");
	put("v1/sys/cpu/docker/abc/cpu.cfs_quota_us", "50000\n");
	put("v1/sys/cpu/docker/abc/cpu.cfs_period_us", "100000\n");
	put("v1/sys/cpuacct/docker/abc/cpuacct.usage", "2500000000\n");
	put("v1/sys/cpuset/docker/abc/cpuset.cpus", "0-3\n");
	put("v1/sys/memory/memory.limit_in_bytes", "9223372036854771712\n");
	put("v1/sys/memory/docker/memory.limit_in_bytes", "9223372036854771712\n");
	put("v1/sys/memory/docker/abc/memory.limit_in_bytes", "268435456\n");
	put("v1/sys/memory/docker/abc/memory.usage_in_bytes", "104857600\n");
	put("v1/sys/memory/docker/abc/memory.stat",
	    "cache 8192\ninactive_file 1\ntotal_cache 8192\ntotal_inactive_file 4194304\n");
	put("v1/proc/77/cgroup", "12:memory:/docker/abc\n4:cpuset:/docker/abc\n"
	    "3:cpu:/docker/abc\n2:cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n");
	roots("v1");

	if (rd("pid:77", &s, "v1") == 0) {
		ok(s.has_cpu && s.has_mem, "v1: cpu and memory");
		is_int(s.cpu_usec, 2500000, "v1: cpuacct.usage ns as usec");
		ok(s.cpu_limit == 0.5 && s.cpu_limited, "v1: quota 50000/100000 is 0.5 core "
		    "(got %g)", s.cpu_limit);
		is_int(s.mem_bytes, 96 * MiB, "v1: usage_in_bytes minus total_inactive_file");
		is_int(s.mem_limit, 256 * MiB, "v1: limit_in_bytes");
		ok(s.mem_limited, "v1: memory limited");
		ok(resources_mem_percent(&s) == 37.5, "v1: memory percent %g",
		    resources_mem_percent(&s));
	}
	if (rd("cgroup:/docker/abc", &s, "v1 cgroup path") == 0)
		ok(s.cpu_usec == 2500000 && s.mem_limit == 256 * MiB, "v1 cgroup path: same numbers");
	snprintf(where, sizeof(where), "cgroup:%s/v1/sys/memory/docker/abc", tmp);
	if (rd(where, &s, "v1 directory") == 0)
		ok(s.cpu_usec == 2500000 && s.mem_limit == 256 * MiB && s.cpu_limit == 0.5,
		    "v1 directory: the controller's directory names the cgroup");

	/* No limits: the huge v1 value and -1 give the host's size. */
	put("v1/sys/cpu/docker/abc/cpu.cfs_quota_us", "-1\n");
	put("v1/sys/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
	put("v1/sys/cpuset/docker/abc/cpuset.cpus", "\n");
	if (rd("pid:77", &s, "v1 unlimited") == 0) {
		ok(s.cpu_limit == 4 && !s.cpu_limited, "v1 unlimited: 4 host CPUs, an empty cpuset "
		    "is none (got %g)", s.cpu_limit);
		ok(s.mem_limit == MEMTOTAL && !s.mem_limited, "v1 unlimited: MemTotal (got %llu)",
		    s.mem_limit);
	}
	put("v1/sys/cpu/docker/cpu.cfs_quota_us", "25000\n");
	put("v1/sys/cpuset/docker/abc/cpuset.effective_cpus", "2\n");
	if (rd("pid:77", &s, "v1 parent quota") == 0)
		ok(s.cpu_limit == 0.25 && s.cpu_limited, "v1: the parent's 0.25 core wins over "
		    "effective_cpus 1 (got %g)", s.cpu_limit);
	put("v1/sys/cpu/docker/cpu.cfs_quota_us", "-1\n");
	if (rd("pid:77", &s, "v1 effective_cpus") == 0)
		ok(s.cpu_limit == 1 && s.cpu_limited, "v1: cpuset.effective_cpus '2' is 1 core");
	put("v1/sys/cpu/docker/abc/cpu.cfs_quota_us", "50000\n");

	/* No memory line: cpu only; no hierarchy at all: an error. */
	put("v1/proc/78/cgroup", "3:cpu:/docker/abc\n2:cpuacct:/docker/abc\n");
	if (rd("pid:78", &s, "v1 no memory line") == 0)
		ok(s.has_cpu && !s.has_mem && s.cpu_limit == 0.5, "v1 no memory line: cpu only");
	put("v1/proc/79/cgroup", "1:name=systemd:/x\n0::/x\n");
	fails("pid:79", NULL, EX_SERVICE, "v1 no hierarchy", "no cpuacct or memory hierarchy",
	    NULL);

	put("v1/sys/cpuacct/docker/abc/cpuacct.usage", "12 34\n");
	fails("pid:77", NULL, EX_SERVICE, "cpuacct.usage garbage", "abc/cpuacct.usage'",
	    "expected a number, got '12 34'", NULL);
	put("v1/sys/cpuacct/docker/abc/cpuacct.usage", "1\n");
	put("v1/sys/cpu/docker/abc/cpu.cfs_period_us", NULL);
	fails("pid:77", NULL, EX_SERVICE, "period missing", "abc/cpu.cfs_period_us'", NULL);
	put("v1/sys/cpu/docker/abc/cpu.cfs_period_us", "0\n");
	fails("pid:77", NULL, EX_SERVICE, "period zero", "abc/cpu.cfs_period_us'",
	    "a positive number", NULL);
	put("v1/sys/cpu/docker/abc/cpu.cfs_period_us", "100000\n");
	put("v1/sys/memory/docker/abc/memory.stat", "cache 1\n");
	fails("pid:77", NULL, EX_SERVICE, "v1 memory.stat", "no 'total_inactive_file' line",
	    NULL);
	put("v1/sys/memory/docker/abc/memory.stat", "total_inactive_file 0\n");
	fails("cgroup:/docker/nope", NULL, EX_SERVICE, "v1 no such cgroup",
	    "docker/nope/cpuacct.usage'", NULL);
}

/* One "cpu,cpuacct" hierarchy, no cpuset, as many v1 hosts have. */
static void
test_v1_combined(void)
{
	struct res_sample s;
	char where[PATH_MAX];

	fake_proc("v1c");
	put("v1c/sys/cpu,cpuacct/kubepods/pod1/ctr/cpuacct.usage", "7000000\n");
	put("v1c/sys/cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_quota_us", "-1\n");
	put("v1c/sys/cpu,cpuacct/kubepods/pod1/ctr/cpu.cfs_period_us", "100000\n");
	put("v1c/sys/cpu,cpuacct/kubepods/pod1/cpu.cfs_quota_us", "200000\n");
	put("v1c/sys/cpu,cpuacct/kubepods/pod1/cpu.cfs_period_us", "100000\n");
	put("v1c/sys/memory/kubepods/pod1/ctr/memory.usage_in_bytes", "1048576\n");
	put("v1c/sys/memory/kubepods/pod1/ctr/memory.limit_in_bytes", "4194304\n");
	put("v1c/sys/memory/kubepods/pod1/ctr/memory.stat", "total_inactive_file 0\n");
	put("v1c/sys/memory/kubepods/pod1/memory.limit_in_bytes", "2097152\n");
	put("v1c/proc/90/cgroup", "11:memory:/kubepods/pod1/ctr\n"
	    "5:cpu,cpuacct:/kubepods/pod1/ctr\n");
	roots("v1c");
	if (rd("pid:90", &s, "v1 combined") == 0) {
		is_int(s.cpu_usec, 7000, "v1 combined: cpuacct.usage from 'cpu,cpuacct'");
		ok(s.cpu_limit == 2 && s.cpu_limited, "v1 combined: the pod's quota (got %g)",
		    s.cpu_limit);
		is_int(s.mem_limit, 2 * MiB, "v1 combined: the pod's memory limit is tighter");
		ok(resources_mem_percent(&s) == 50.0, "v1 combined: memory percent");
	}
	snprintf(where, sizeof(where), "cgroup:%s/v1c/sys/cpu,cpuacct/kubepods/pod1/ctr", tmp);
	if (rd(where, &s, "v1 combined directory") == 0)
		ok(s.cpu_usec == 7000 && s.mem_bytes == MiB, "v1 combined directory: same numbers");
}

static void
test_where(void)
{
	struct res_sample s;
	char where[PATH_MAX], bin[PATH_MAX], path[PATH_MAX * 2];
	const char *old = getenv("PATH");
	char *saved = old ? xstrdup(old) : NULL;

	roots("v2");
	fails("foo:bar", NULL, EX_USAGE_, "unknown prefix", "'foo:bar'",
	    "expected cgroup:PATH, pid:N, pidfile:FILE or runc:ID", NULL);
	fails("", NULL, EX_USAGE_, "empty", "expected cgroup:PATH", NULL);
	fails("pid:abc", NULL, EX_USAGE_, "pid garbage", "'abc' is not a process id", NULL);
	fails("pid:0", NULL, EX_USAGE_, "pid 0", "'0' is not a process id", NULL);
	fails("pid:-1", NULL, EX_USAGE_, "pid negative", "'-1' is not a process id", NULL);
	fails("pid:12a", NULL, EX_USAGE_, "pid trailing", "'12a' is not a process id", NULL);
	fails("pid:99999999999", NULL, EX_USAGE_, "pid huge", "is not a process id", NULL);
	fails("cgroup:app.slice", NULL, EX_USAGE_, "relative cgroup", ": cgroup path 'app.slice' does not start",
	    NULL);
	fails("cgroup:/app.slice/../etc", NULL, EX_USAGE_, "dotdot cgroup", "'..' part", NULL);

	put("garbage.pid", "hello world\n");
	put("empty.pid", "\n");
	put("good.pid", " 4242\n");
	snprintf(where, sizeof(where), "pidfile:%s/garbage.pid", tmp);
	fails(where, NULL, EX_SERVICE, "pidfile garbage", "garbage.pid'",
	    "expected a process id, got 'hello world'", NULL);
	snprintf(where, sizeof(where), "pidfile:%s/empty.pid", tmp);
	fails(where, NULL, EX_SERVICE, "pidfile empty", "empty.pid'", "got '(empty)'", NULL);
	snprintf(where, sizeof(where), "pidfile:%s/none.pid", tmp);
	fails(where, NULL, EX_SERVICE, "pidfile missing", "cannot open '", "none.pid'", NULL);
	snprintf(where, sizeof(where), "pidfile:%s/good.pid", tmp);
	if (rd(where, &s, "pidfile") == 0)
		is_int(s.cpu_usec, 5000000, "pidfile: the process's cgroup");

	/* A fake runc that checks its arguments. */
	put("bin/runc", "#!/bin/sh\n"
	    "[ \"$1 $2 $3\" = \"--root /run/fake state\" ] || { echo \"bad args: $*\" >&2; exit 2; }\n"
	    "case $4 in\n"
	    "web) echo '{\"ociVersion\":\"1.0.2\",\"id\":\"web\",\"pid\":4242,\"status\":\"running\"}';;\n"
	    "gone) echo '{\"id\":\"gone\",\"pid\":0,\"status\":\"stopped\"}';;\n"
	    "junk) echo 'not json';;\n"
	    "*) echo 'time=\"x\" level=error msg=\"container does not exist\"' >&2; exit 1;;\n"
	    "esac\n");
	snprintf(bin, sizeof(bin), "%s/bin", tmp);
	snprintf(path, sizeof(path), "%s/runc", bin);
	chmod(path, 0755);
	snprintf(path, sizeof(path), "%s:%s", bin, saved ? saved : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	{
		struct err e;

		err_clear(&e);
		ok(resources_read("runc:web", "/run/fake", &s, &e) == 0 && s.cpu_usec == 5000000,
		    "runc: the container's pid from 'runc --root DIR state ID'");
		if (e.msg[0])
			printf("#   error: %s\n", e.msg);
	}
	fails("runc:gone", "/run/fake", EX_SERVICE, "runc stopped",
	    "container 'gone' is not running (status 'stopped')", NULL);
	fails("runc:nope", "/run/fake", EX_SERVICE, "runc missing", "'runc state nope'",
	    "exited with status 1", "msg=\"container does not exist\"", NULL);
	fails("runc:junk", "/run/fake", EX_SERVICE, "runc junk", "runc state", NULL);
	fails("runc:web", NULL, EX_SERVICE, "runc without root", "bad args: state web", NULL);
	fails("runc:-h", NULL, EX_USAGE_, "runc option", "'-h' is not a container id", NULL);
	setenv("PATH", tmp, 1);
	fails("runc:web", NULL, EX_SERVICE, "runc not installed", "runc", NULL);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
}

/* This machine: a read of ourselves. */
static void
test_self(void)
{
	struct res_sample s;
	char where[64];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	resources_set_root(NULL, NULL);
	snprintf(where, sizeof(where), "pid:%ld", (long)getpid());
	if (access("/sys/fs/cgroup", R_OK) != 0) {
		ok(1, "# skip no /sys/fs/cgroup here");
		return;
	}
	if (rd(where, &s, "this process") == 0) {
		ok(s.has_cpu && s.has_mem, "this process: cpu and memory");
		ok(s.cpu_limit > 0 && s.cpu_limit <= (double)ncpu, "this process: cpu limit %g of %ld "
		    "online", s.cpu_limit, ncpu);
		ok(s.cpu_limited || s.cpu_limit == (double)ncpu, "this process: unlimited is all CPUs");
		ok(s.mem_limit > 0 && s.mem_bytes > 0, "this process: memory %llu of %llu",
		    s.mem_bytes, s.mem_limit);
	}
}

/* The cgroups of a busy child: v1 directories, or one v2 directory. */
struct real {
	char dir[4][PATH_MAX];
	int cpu[4], mem[4];	/* the directory has the cpu, memory controller */
	int n;
};

/* 1 when the comma-separated list names ctl. */
static int
names(const char *list, const char *ctl)
{
	size_t n = strlen(ctl);
	const char *p;

	for (p = list; (p = strstr(p, ctl)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

static int
write_to(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX * 2];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "w")))
		return -1;
	rc = fputs(text, f) < 0;
	rc |= fclose(f) != 0;
	return rc ? -1 : 0;
}

static void
real_remove(struct real *r)
{
	int i, tries;

	for (i = 0; i < r->n; i++)
		for (tries = 0; rmdir(r->dir[i]) != 0 && errno == EBUSY && tries < 50; tries++)
			sleep_ms(20, NULL);
}

/* Make the cgroups (0.5 core, 256 MiB): on v1 under our own cgroup of
 * each hierarchy, on v2 beside the root (ours may hold processes).
 * NULL, or why not. */
static const char *
real_make(struct real *r)
{
	static char why[PATH_MAX + 64];
	char line[1024], *ctl, *cg, *nl;
	int v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0, i, bad = 0;
	FILE *f;

	memset(r, 0, sizeof(*r));
	if (!(f = fopen("/proc/self/cgroup", "r")))
		return "cannot read /proc/self/cgroup";
	while (r->n < 4 && fgets(line, sizeof(line), f)) {
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		if (!(ctl = strchr(line, ':')) || !(cg = strchr(++ctl, ':')))
			continue;
		*cg++ = '\0';
		if (v2 ? strcmp(line, "0:") != 0 :
		    !names(ctl, "memory") && !names(ctl, "cpu") && !names(ctl, "cpuacct"))
			continue;
		if (v2)
			snprintf(r->dir[r->n], PATH_MAX, "/sys/fs/cgroup/citest-%ld", (long)getpid());
		else
			snprintf(r->dir[r->n], PATH_MAX, "/sys/fs/cgroup/%s%s/citest-%ld", ctl,
			    strcmp(cg, "/") ? cg : "", (long)getpid());
		r->cpu[r->n] = v2 || names(ctl, "cpu");
		r->mem[r->n] = v2 || names(ctl, "memory");
		if (mkdir(r->dir[r->n], 0755) != 0) {
			snprintf(why, sizeof(why), "cannot create %s: %s", r->dir[r->n],
			    strerror(errno));
			fclose(f);
			real_remove(r);
			return why;
		}
		r->n++;
	}
	fclose(f);
	for (i = 0; i < r->n && !bad; i++) {
		if (r->cpu[i])
			bad = v2 ? write_to(r->dir[i], "cpu.max", "50000 100000") :
			    write_to(r->dir[i], "cpu.cfs_period_us", "100000") ||
			    write_to(r->dir[i], "cpu.cfs_quota_us", "50000");
		if (r->mem[i] && !bad)
			bad = write_to(r->dir[i], v2 ? "memory.max" : "memory.limit_in_bytes",
			    "268435456");
	}
	if (bad) {
		snprintf(why, sizeof(why), "cannot set the limits in %s: %s", r->dir[i - 1],
		    strerror(errno));
		real_remove(r);
		return why;
	}
	return r->n ? NULL : "no cpu or memory cgroup in /proc/self/cgroup";
}

static void
test_real(void)
{
	struct res_sample a, b;
	struct real r;
	char where[64], pid[32];
	const char *why;
	pid_t child;
	int i, moved = 1;

	if (geteuid() != 0) {
		ok(1, "# skip busy child in a cgroup: not root");
		return;
	}
	if ((why = real_make(&r))) {
		ok(1, "# skip busy child in a cgroup: %s", why);
		return;
	}
	if ((child = fork()) == 0) {
		volatile unsigned long n = 0;

		for (;;)
			n++;
	}
	snprintf(pid, sizeof(pid), "%ld", (long)child);
	for (i = 0; i < r.n; i++)
		if (write_to(r.dir[i], "cgroup.procs", pid) < 0) {
			moved = 0;
			printf("# cannot move %s into %s: %s\n", pid, r.dir[i], strerror(errno));
		}
	snprintf(where, sizeof(where), "pid:%s", pid);
	if (ok(moved, "busy child in %d cgroup(s)", r.n)) {
		sleep_ms(100, NULL);
		if (rd(where, &a, "busy child") == 0) {
			sleep_ms(300, NULL);
			if (rd(where, &b, "busy child again") == 0) {
				double pct = resources_cpu_percent(&a, &b);

				ok(b.cpu_limit == 0.5 && b.cpu_limited, "busy child: 0.5 core limit "
				    "(got %g)", b.cpu_limit);
				is_int(b.mem_limit, 256 * MiB, "busy child: 256 MiB limit");
				ok(b.mem_limited, "busy child: memory limited");
				ok(pct > 50 && pct < 1000, "busy child: %.1f%% of its 0.5 core "
				    "(%llu usec in %lld ms)", pct, b.cpu_usec - a.cpu_usec,
				    b.at_ms - a.at_ms);
			}
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	real_remove(&r);
	for (i = 0; i < r.n; i++)
		ok(access(r.dir[i], F_OK) != 0, "removed %s", r.dir[i]);
}

int
main(void)
{
	char cmd[PATH_MAX + 16];

	const char *t = getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 200 ? getenv("TMPDIR") : "/tmp";

	snprintf(tmp, sizeof(tmp), "%s/resources.XXXXXX", t);
	if (!mkdtemp(tmp)) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	test_v2();
	test_v1();
	test_v1_combined();
	test_where();
	test_self();
	test_real();
	resources_set_root(NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", tmp);
	return done_testing();
}
